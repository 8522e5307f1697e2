//! The `alertmanager_*` metric families, with Alertmanager's names, types
//! and help texts: alerts by state, alerts received, notifications per
//! integration (upstream's integrations listed even before their first
//! notification), silences by state, the configuration's hash and reload
//! status, aggregation groups, configured receivers and integrations,
//! marked alerts, build information; and (ours) the notification log's
//! entries.

use std::sync::atomic::Ordering;

use jiff::Timestamp;
use wasmetheus_alertmanager::dispatch::{IntegrationCounters, LATENCY_BUCKETS};
use wasmetheus_alertmanager::{AlertState, SilenceState};
use wasmetheus_model::{Histogram, Label, Metric, MetricFamily, MetricKind, MetricValue};

use crate::integration::known_integrations;
use crate::service::Service;

fn number(labels: Vec<Label>, value: f64) -> Metric {
    Metric {
        labels,
        value: MetricValue::Number(value),
        timestamp_ms: None,
    }
}

fn family(name: &str, kind: MetricKind, help: &str, metrics: Vec<Metric>) -> MetricFamily {
    MetricFamily {
        name: name.to_owned(),
        kind,
        help: help.to_owned(),
        unit: String::new(),
        metrics,
    }
}

fn gauge(name: &str, help: &str, value: f64) -> MetricFamily {
    MetricFamily::single(name, MetricKind::Gauge, help, value)
}

impl Service {
    /// The `alertmanager_*` metric families, in name order.
    pub fn metrics(&self) -> Vec<MetricFamily> {
        families(self)
    }
}

fn families(s: &Service) -> Vec<MetricFamily> {
    let running = s.running();
    let now = Timestamp::now();
    let mut out = Vec::new();

    // Alerts held and not resolved, by their marked state
    // (`alertmanager_alerts`).
    let (mut active, mut suppressed, mut unprocessed) = (0u64, 0u64, 0u64);
    for a in s.state.alerts.list() {
        if a.resolved_at(now) {
            continue;
        }
        match s.marker.status(a.fingerprint()).state {
            AlertState::Active => active += 1,
            AlertState::Suppressed => suppressed += 1,
            AlertState::Unprocessed => unprocessed += 1,
        }
    }
    out.push(family(
        "alertmanager_alerts",
        MetricKind::Gauge,
        "How many alerts by state.",
        [
            ("active", active),
            ("suppressed", suppressed),
            ("unprocessed", unprocessed),
        ]
        .into_iter()
        .map(|(state, n)| number(vec![Label::new("state", state)], n as f64))
        .collect(),
    ));

    let v2 = || Label::new("version", "v2");
    out.push(family(
        "alertmanager_alerts_invalid_total",
        MetricKind::Counter,
        "The total number of received alerts that were invalid.",
        vec![number(
            vec![v2()],
            s.received.invalid.load(Ordering::Relaxed) as f64,
        )],
    ));
    out.push(family(
        "alertmanager_alerts_received_total",
        MetricKind::Counter,
        "The total number of received alerts.",
        [
            ("firing", &s.received.firing),
            ("resolved", &s.received.resolved),
        ]
        .into_iter()
        .map(|(status, n)| {
            number(
                vec![Label::new("status", status), v2()],
                n.load(Ordering::Relaxed) as f64,
            )
        })
        .collect(),
    ));

    out.push(family(
        "alertmanager_build_info",
        MetricKind::Gauge,
        "A metric with a constant '1' value labeled by version, revision, branch, goversion from which alertmanager was built, and the goos and goarch for the build.",
        vec![number(
            vec![
                Label::new("branch", ""),
                Label::new("goarch", std::env::consts::ARCH),
                Label::new("goos", std::env::consts::OS),
                Label::new("goversion", ""),
                Label::new("revision", ""),
                Label::new("version", env!("CARGO_PKG_VERSION")),
            ],
            1.0,
        )],
    ));

    out.push(gauge(
        "alertmanager_cluster_enabled",
        "Indicates whether the clustering is enabled or not.",
        0.0,
    ));

    let reload = *s.reload_status.lock();
    out.push(gauge(
        "alertmanager_config_hash",
        "Hash of the currently loaded alertmanager configuration.",
        running.hash,
    ));
    out.push(gauge(
        "alertmanager_config_last_reload_success_timestamp_seconds",
        "Timestamp of the last successful configuration reload.",
        reload.success_time.as_second() as f64,
    ));
    out.push(gauge(
        "alertmanager_config_last_reload_successful",
        "Whether the last configuration reload attempt was successful.",
        if reload.successful { 1.0 } else { 0.0 },
    ));
    out.push(gauge(
        "alertmanager_dispatcher_aggregation_groups",
        "Number of active aggregation groups",
        running.dispatcher.group_count() as f64,
    ));
    out.push(gauge(
        "alertmanager_integrations",
        "Number of configured integrations.",
        running.integrations as f64,
    ));
    out.push(family(
        "alertmanager_marked_alerts",
        MetricKind::Gauge,
        "How many alerts by state are currently marked in the Alertmanager regardless of their expiry.",
        [
            ("active", AlertState::Active),
            ("suppressed", AlertState::Suppressed),
            ("unprocessed", AlertState::Unprocessed),
        ]
        .into_iter()
        .map(|(name, state)| {
            number(
                vec![Label::new("state", name)],
                s.marker.count(&[state]) as f64,
            )
        })
        .collect(),
    ));

    // Notifications per integration kind: upstream's kinds pre-registered,
    // plus any a plugin adds.
    let mut counters = s.notify_metrics.snapshot();
    for kind in known_integrations() {
        counters.entry(kind.to_owned()).or_default();
    }
    let per = |f: &dyn Fn(&IntegrationCounters) -> u64| -> Vec<Metric> {
        counters
            .iter()
            .map(|(kind, c)| number(vec![Label::new("integration", kind)], f(c) as f64))
            .collect()
    };
    out.push(family(
        "alertmanager_notification_latency_seconds",
        MetricKind::Histogram,
        "The latency of notifications in seconds.",
        counters
            .iter()
            .map(|(kind, c)| Metric {
                labels: vec![Label::new("integration", kind)],
                value: MetricValue::Histogram(Histogram::from_cumulative(
                    &LATENCY_BUCKETS,
                    &c.latency_buckets,
                    c.latency_count,
                    c.latency_sum,
                )),
                timestamp_ms: None,
            })
            .collect(),
    ));
    out.push(family(
        "alertmanager_notification_requests_failed_total",
        MetricKind::Counter,
        "The total number of failed notification requests.",
        per(&|c| c.requests_failed),
    ));
    out.push(family(
        "alertmanager_notification_requests_total",
        MetricKind::Counter,
        "The total number of attempted notification requests.",
        per(&|c| c.requests),
    ));
    out.push(family(
        "alertmanager_notifications_failed_total",
        MetricKind::Counter,
        "The total number of failed notifications.",
        per(&|c| c.notifications_failed),
    ));
    out.push(family(
        "alertmanager_notifications_total",
        MetricKind::Counter,
        "The total number of attempted notifications.",
        per(&|c| c.notifications),
    ));

    out.push(gauge(
        "alertmanager_receivers",
        "Number of configured receivers.",
        running.config.receivers.len() as f64,
    ));

    let silence_now = s.state.silences.now();
    let (mut sa, mut sp, mut se) = (0u64, 0u64, 0u64);
    for sil in s.state.silences.query(&Default::default()) {
        match sil.state_at(silence_now) {
            SilenceState::Active => sa += 1,
            SilenceState::Pending => sp += 1,
            SilenceState::Expired => se += 1,
        }
    }
    out.push(family(
        "alertmanager_silences",
        MetricKind::Gauge,
        "How many silences by state.",
        [("active", sa), ("expired", se), ("pending", sp)]
            .into_iter()
            .map(|(state, n)| number(vec![Label::new("state", state)], n as f64))
            .collect(),
    ));
    // Ours: the notification log is kept in sled, not in snapshots.
    out.push(gauge(
        "wasmetheus_alertmanager_nflog_entries",
        "Entries in the notification log.",
        s.state.nflog.len() as f64,
    ));
    out
}
