//! Rules and alerts in the server: the rule manager (`wasmetheus-rules`)
//! evaluating the groups of `rule_files` against the TSDB and writing
//! recorded series, `ALERTS` and `ALERTS_FOR_STATE` through its appender,
//! and the notifier (`wasmetheus-notifier`) sending the alerts to the
//! Alertmanagers of `alerting.alertmanagers`, found by their static, file,
//! HTTP and DNS discovery.
//!
//! [`Alerting::apply`] applies a configuration as Prometheus' reloaders do:
//! the rules (a file that does not load fails the reload and keeps the old
//! groups), then the notifier, then the Alertmanagers' discovery, then
//! the built-in Alertmanager's configuration. Rule alerts become notifier
//! alerts as Prometheus' `sendAlerts` makes them, and also reach the
//! built-in Alertmanager (`crate::alertmanager_builtin`) in process when
//! `--alertmanager.config.file` runs one.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use wasmetheus_api::types::{self as api};
use wasmetheus_config::Config;
use wasmetheus_model::storage::Storage;
use wasmetheus_model::{Label, MetricFamily};
use wasmetheus_promql::engine::Engine;
use wasmetheus_rules::{
    AlertState, GroupSnapshot, Health, LoadOptions, ManagerOptions, NotifyFunc,
};

use crate::alertmanager_builtin::{Builtin, BuiltinArgs};
use crate::discovery::{Discovered, Discovery, start_alertmanagers};

/// The rule manager and the notifier of a running server.
pub struct Alerting {
    rules: wasmetheus_rules::Manager,
    notifier: Arc<wasmetheus_notifier::Manager>,
    external_url: String,
    /// What the Alertmanagers' file, HTTP and DNS discovery found, by
    /// `config-N`.
    discovered: Discovered,
    discovery: Mutex<Option<Discovery>>,
    /// The built-in Alertmanager, when one runs.
    builtin: Option<Arc<Builtin>>,
}

impl Alerting {
    /// Creates both managers (nothing is loaded yet: see
    /// [`Alerting::apply`]) and starts the notifier's send loop; alerts
    /// also go to `builtin` when given. Must be called within a Tokio
    /// runtime.
    pub fn new(
        args: &RulesArgs,
        engine: Engine,
        storage: Arc<dyn Storage>,
        external_url: &str,
        builtin: Option<Arc<Builtin>>,
    ) -> Alerting {
        let notifier = Arc::new(wasmetheus_notifier::Manager::new(
            wasmetheus_notifier::Options {
                queue_capacity: args.notification_queue_capacity,
                drain_on_shutdown: args.drain_notification_queue_on_shutdown,
                max_batch_size: args.notification_batch_size as usize,
                ..wasmetheus_notifier::Options::default()
            },
        ));
        notifier.run();
        let features = match args.features() {
            Ok(features) => {
                features.log();
                features
            }
            Err(e) => {
                tracing::error!("Error parsing feature list: {e}");
                Features::default()
            }
        };
        let mut options = ManagerOptions::new(Arc::new(engine), storage);
        options.notify = Some(send_alerts(
            Arc::clone(&notifier),
            builtin.clone(),
            external_url,
        ));
        options.resend_delay = args.resend_delay;
        options.outage_tolerance = args.for_outage_tolerance;
        options.grace_period = args.for_grace_period;
        options.concurrent_evals = features
            .concurrent_rule_eval
            .then_some(args.max_concurrent_evals as usize);
        Alerting {
            rules: wasmetheus_rules::Manager::new(options),
            notifier,
            external_url: external_url.to_owned(),
            discovered: Discovered::default(),
            discovery: Mutex::new(None),
            builtin,
        }
    }

    /// The built-in Alertmanager, when one runs.
    pub fn builtin(&self) -> Option<&Arc<Builtin>> {
        self.builtin.as_ref()
    }

    /// Applies `config`: rules, then the notifier, then the Alertmanagers'
    /// discovery, then (but at start) the built-in Alertmanager reads its
    /// file again. Each error (Prometheus' texts) is returned; what failed
    /// keeps its previous state, the rest is applied. Runs on a blocking
    /// thread.
    pub fn apply(&self, config: &Config) -> Vec<String> {
        let mut errors = Vec::new();
        if let Err(e) = self.apply_rules(config) {
            tracing::error!("loading groups failed: {e}");
            errors.push(e);
        }
        match self.notifier.apply_config(config) {
            Ok(()) => self.restart_discovery(config),
            Err(e) => {
                let e = format!("error applying the alerting configuration: {e}");
                tracing::error!("{e}");
                errors.push(e);
            }
        }
        if let Some(builtin) = &self.builtin
            && let Err(e) = builtin.apply(config)
        {
            tracing::error!("{e}");
            errors.push(e);
        }
        errors
    }

    /// Prometheus' rule reloader: every `rule_files` pattern globbed, the
    /// groups loaded with the global interval, query offset, external
    /// labels and URL.
    fn apply_rules(&self, config: &Config) -> Result<(), String> {
        let mut files: Vec<PathBuf> = Vec::new();
        for pattern in &config.rule_files {
            let found = wasmetheus_config::glob::glob(&pattern.0)
                .map_err(|e| format!("error retrieving rule files for {}: {e}", pattern.0))?;
            files.extend(found);
        }
        let options = LoadOptions {
            default_interval: config.global.evaluation_interval.0,
            default_query_offset: config.global.rule_query_offset.0,
            external_labels: external_labels(config),
            external_url: self.external_url.clone(),
            ignore_unknown_fields: false,
        };
        self.rules
            .update_with_options(&files, &options)
            .map_err(|e| {
                e.errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
    }

    /// Starts the file, HTTP and DNS discovery of every `alertmanagers`
    /// entry; each change hands the entry's groups (its static ones and
    /// every discovered one) to the notifier.
    fn restart_discovery(&self, config: &Config) {
        // The old sources stop before the new ones start.
        *self.discovery.lock() = None;
        let alertmanagers = config.alerting.alertmanagers.clone();
        let notifier = Arc::clone(&self.notifier);
        let discovered = self.discovered.clone();
        let changed: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            for (i, am) in alertmanagers.iter().enumerate() {
                let name = format!("config-{i}");
                let mut groups = wasmetheus_notifier::static_target_groups(am);
                groups.extend(discovered.groups(&name).into_iter().map(notifier_group));
                if let Err(e) = notifier.set_target_groups(&name, groups) {
                    tracing::warn!("alertmanager discovery: {e}");
                }
            }
        });
        *self.discovery.lock() = Some(start_alertmanagers(config, &self.discovered, changed));
    }

    /// Stops the rules at once, then the notifier (sending what is queued
    /// when draining, bounded by the Alertmanagers' timeout), then the
    /// built-in Alertmanager.
    pub async fn stop(&self) {
        // Evaluations in progress end before the storage closes.
        self.rules.shutdown().await;
        *self.discovery.lock() = None;
        self.notifier.stop().await;
        if let Some(builtin) = &self.builtin {
            builtin.stop().await;
        }
    }

    /// The `prometheus_rule_*` and `prometheus_notifications_*` families,
    /// and the built-in Alertmanager's `alertmanager_*` ones.
    pub fn metrics(&self) -> Vec<MetricFamily> {
        let mut families = self.rules.metrics();
        families.extend(self.notifier.metrics());
        if let Some(builtin) = &self.builtin {
            families.extend(builtin.metrics());
        }
        families
    }

    /// The groups as `/api/v1/rules` and `/api/v1/alerts` show them.
    pub fn rule_groups(&self) -> Vec<api::RuleGroup> {
        self.rules.groups().iter().map(api_group).collect()
    }

    /// The Alertmanagers as `/api/v1/alertmanagers` shows them.
    pub fn alertmanagers_status(&self) -> api::AlertmanagersStatus {
        api::AlertmanagersStatus {
            active: self.notifier.alertmanagers(),
            dropped: self.notifier.dropped_alertmanagers(),
        }
    }
}

fn external_labels(config: &Config) -> Vec<Label> {
    config
        .global
        .external_labels
        .iter()
        .map(|(name, value)| Label::new(name.as_str(), value.as_str()))
        .collect()
}

/// A discovered group of the server's discovery as the notifier takes it.
fn notifier_group(group: crate::scrape_targets::TargetGroup) -> wasmetheus_notifier::TargetGroup {
    wasmetheus_notifier::TargetGroup {
        labels: group
            .labels
            .iter()
            .map(|(name, value)| Label::new(name.as_str(), value.as_str()))
            .collect(),
        ..wasmetheus_notifier::TargetGroup::from_addresses(&group.source, &group.targets)
    }
}

/// Prometheus' `sendAlerts`: each alert starts at the time it fired, ends
/// when it resolved or else at its `valid_until`, and links to its
/// expression in the external URL's graph page. The built-in Alertmanager
/// gets them too, queued without waiting.
fn send_alerts(
    notifier: Arc<wasmetheus_notifier::Manager>,
    builtin: Option<Arc<Builtin>>,
    external_url: &str,
) -> NotifyFunc {
    let external_url = external_url.to_owned();
    Arc::new(
        move |_ts: i64, expr: &str, alerts: &[wasmetheus_rules::Alert]| {
            if alerts.is_empty() {
                return;
            }
            let generator_url = format!("{external_url}{}", table_link_for_expression(expr));
            if let Some(builtin) = &builtin {
                builtin.deliver(alerts, &generator_url);
            }
            let converted: Vec<wasmetheus_notifier::Alert> = alerts
                .iter()
                .map(|alert| notifier_alert(alert, &generator_url))
                .collect();
            notifier.send(&converted);
        },
    )
}

fn notifier_alert(
    alert: &wasmetheus_rules::Alert,
    generator_url: &str,
) -> wasmetheus_notifier::Alert {
    wasmetheus_notifier::Alert {
        labels: alert.labels.clone(),
        annotations: alert.annotations.clone(),
        // Only firing and resolved alerts are sent: both have fired. Go's
        // zero time would be sent otherwise; the activation is closer.
        starts_at_ms: alert.fired_at_ms.unwrap_or(alert.active_at_ms),
        ends_at_ms: alert.resolved_at_ms.or(alert.valid_until_ms),
        generator_url: generator_url.to_owned(),
    }
}

/// Prometheus' `strutil.TableLinkForExpression`.
fn table_link_for_expression(expr: &str) -> String {
    format!("/graph?g0.expr={}&g0.tab=1", query_escape(expr))
}

use wasmetheus_model::go::query_escape;

fn system_time(ms: i64) -> SystemTime {
    let d = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        SystemTime::UNIX_EPOCH + d
    } else {
        SystemTime::UNIX_EPOCH - d
    }
}

fn label_map(labels: &[Label]) -> std::collections::BTreeMap<String, String> {
    labels
        .iter()
        .map(|l| (l.name.to_string(), l.value.to_string()))
        .collect()
}

fn api_health(health: Health) -> api::RuleHealth {
    match health {
        Health::Unknown => api::RuleHealth::Unknown,
        Health::Good => api::RuleHealth::Ok,
        Health::Bad => api::RuleHealth::Err,
    }
}

fn api_state(state: AlertState) -> api::AlertState {
    match state {
        AlertState::Inactive => api::AlertState::Inactive,
        AlertState::Pending => api::AlertState::Pending,
        AlertState::Firing => api::AlertState::Firing,
    }
}

fn api_group(group: &GroupSnapshot) -> api::RuleGroup {
    api::RuleGroup {
        name: group.name.clone(),
        file: group.file.display().to_string(),
        rules: group.rules.iter().map(api_rule).collect(),
        interval: group.interval,
        limit: group.limit,
        evaluation_time: group.evaluation_time,
        last_evaluation: group.last_evaluation_ms.map(system_time),
    }
}

fn api_rule(rule: &wasmetheus_rules::Rule) -> api::Rule {
    let status = rule.status();
    let last_evaluation = status.last_evaluation_ms.map(system_time);
    let last_error = status.last_error.clone();
    match rule {
        wasmetheus_rules::Rule::Recording(r) => api::Rule::Recording(api::RecordingRule {
            name: r.name().to_owned(),
            query: r.query().to_owned(),
            labels: label_map(r.labels()),
            health: api_health(status.health),
            last_error,
            evaluation_time: status.evaluation_time,
            last_evaluation,
        }),
        wasmetheus_rules::Rule::Alerting(r) => api::Rule::Alerting(api::AlertingRule {
            state: if last_evaluation.is_none() {
                api::AlertState::Unknown
            } else {
                api_state(r.state())
            },
            name: r.name().to_owned(),
            query: r.query().to_owned(),
            duration: r.hold_duration(),
            keep_firing_for: r.keep_firing_for(),
            labels: label_map(r.labels()),
            annotations: label_map(r.annotations()),
            alerts: r
                .active_alerts()
                .iter()
                .map(|a| api::Alert {
                    labels: label_map(&a.labels),
                    annotations: label_map(&a.annotations),
                    state: api_state(a.state),
                    active_at: system_time(a.active_at_ms),
                    keep_firing_since: a.keep_firing_since_ms.map(system_time),
                    value: a.value,
                })
                .collect(),
            health: api_health(status.health),
            last_error,
            evaluation_time: status.evaluation_time,
            last_evaluation,
        }),
    }
}

/// The flags of the rule manager and the notifier, with Prometheus' names
/// and defaults ([`Default`] gives those defaults).
#[derive(Debug, Clone, clap::Args)]
pub struct RulesArgs {
    /// Max time to tolerate prometheus outage for restoring "for" state of
    /// alert.
    #[arg(long = "rules.alert.for-outage-tolerance", default_value = "1h", value_parser = wasmetheus_config::PromDuration::parse_std)]
    pub for_outage_tolerance: Duration,
    /// Minimum duration between alert and restored "for" state. This is
    /// maintained only for alerts with configured "for" time greater than
    /// grace period.
    #[arg(long = "rules.alert.for-grace-period", default_value = "10m", value_parser = wasmetheus_config::PromDuration::parse_std)]
    pub for_grace_period: Duration,
    /// Minimum amount of time to wait before resending an alert to
    /// Alertmanager.
    #[arg(long = "rules.alert.resend-delay", default_value = "1m", value_parser = wasmetheus_config::PromDuration::parse_std)]
    pub resend_delay: Duration,
    /// Global concurrency limit for independent rules that can run
    /// concurrently. When set, "query.max-concurrency" may need to be
    /// adjusted accordingly. Used with --enable-feature=concurrent-rule-eval
    /// (without it rules are evaluated one after the other).
    #[arg(long = "rules.max-concurrent-evals", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_evals: u32,
    /// Comma separated feature names to enable, as Prometheus 3's (may be
    /// repeated). Implemented: concurrent-rule-eval. Prometheus' other
    /// feature names are accepted with a line in the log saying what they
    /// do here; unknown names are logged and ignored.
    #[arg(long = "enable-feature", action = clap::ArgAction::Append)]
    pub enable_feature: Vec<String>,
    /// The capacity of the queue for pending Alertmanager notifications.
    #[arg(
        long = "alertmanager.notification-queue-capacity",
        default_value_t = 10_000
    )]
    pub notification_queue_capacity: usize,
    /// The maximum number of notifications per batch to send to the
    /// Alertmanager.
    #[arg(long = "alertmanager.notification-batch-size", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub notification_batch_size: u32,
    /// Send any outstanding Alertmanager notifications when shutting down.
    /// If false, any outstanding Alertmanager notifications will be
    /// dropped when shutting down.
    #[arg(
        long = "alertmanager.drain-notification-queue-on-shutdown",
        default_value_t = true,
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub drain_notification_queue_on_shutdown: bool,
    /// The built-in Alertmanager's flags.
    #[command(flatten)]
    pub alertmanager: BuiltinArgs,
}

impl Default for RulesArgs {
    fn default() -> Self {
        RulesArgs {
            for_outage_tolerance: Duration::from_secs(3600),
            for_grace_period: Duration::from_secs(600),
            resend_delay: Duration::from_secs(60),
            max_concurrent_evals: 4,
            enable_feature: Vec::new(),
            notification_queue_capacity: 10_000,
            notification_batch_size: 256,
            drain_notification_queue_on_shutdown: true,
            alertmanager: BuiltinArgs::default(),
        }
    }
}

impl RulesArgs {
    /// What `--enable-feature` asks for; an error for a combination
    /// Prometheus refuses to start with.
    pub fn features(&self) -> Result<Features, String> {
        Features::parse(&self.enable_feature)
    }
}

/// What happens to one `--enable-feature` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureEffect {
    /// Implemented: Prometheus' log line.
    Enabled(&'static str),
    /// Always on in wasmetheus, so the option changes nothing.
    AlwaysOn,
    /// A Prometheus feature wasmetheus does not have.
    NotImplemented,
    /// A no-op in Prometheus too: its warning.
    NoOp(&'static str),
}

/// Prometheus 3.14's `--enable-feature` names (`setFeatureListOptions` in
/// `cmd/prometheus/main.go`) and what each does here.
pub const FEATURES: &[(&str, FeatureEffect)] = {
    use FeatureEffect::{AlwaysOn, Enabled, NoOp, NotImplemented};
    &[
        ("exemplar-storage", NotImplemented),
        ("memory-snapshot-on-shutdown", NotImplemented),
        ("extra-scrape-metrics", NotImplemented),
        ("metadata-wal-records", NotImplemented),
        ("promql-per-step-stats", NotImplemented),
        ("auto-reload-config", NotImplemented),
        (
            "concurrent-rule-eval",
            Enabled("Experimental concurrent rule evaluation enabled."),
        ),
        ("promql-experimental-functions", AlwaysOn),
        ("promql-duration-expr", AlwaysOn),
        (
            "native-histograms",
            NoOp(
                "This option for --enable-feature is a no-op. To scrape native histograms, set the scrape_native_histograms scrape config setting to true.",
            ),
        ),
        (
            "ooo-native-histograms",
            NoOp(
                "This option for --enable-feature is now permanently enabled and therefore a no-op.",
            ),
        ),
        ("created-timestamp-zero-ingestion", NotImplemented),
        ("delayed-compaction", NotImplemented),
        ("promql-delayed-name-removal", AlwaysOn),
        ("promql-extended-range-selectors", AlwaysOn),
        ("promql-binop-fill-modifiers", AlwaysOn),
        ("old-ui", NotImplemented),
        ("otlp-deltatocumulative", NotImplemented),
        ("otlp-native-delta-ingestion", NotImplemented),
        ("type-and-unit-labels", NotImplemented),
        ("use-uncached-io", NotImplemented),
    ]
};

/// `--enable-feature` read as Prometheus reads it: every value split at
/// commas, empty names skipped, each name once per mention.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    /// `concurrent-rule-eval`: independent rules of a group evaluated at
    /// once, within `--rules.max-concurrent-evals`.
    pub concurrent_rule_eval: bool,
    /// Each name given, with its effect (`None`: unknown).
    pub names: Vec<(String, Option<FeatureEffect>)>,
}

impl Features {
    /// Reads the values of `--enable-feature`. Enabling both OTLP delta
    /// options is Prometheus' error.
    pub fn parse(values: &[String]) -> Result<Features, String> {
        let mut features = Features::default();
        for name in values.iter().flat_map(|v| v.split(',')) {
            if name.is_empty() {
                continue;
            }
            let effect = FEATURES
                .iter()
                .find(|(known, _)| *known == name)
                .map(|(_, effect)| *effect);
            if name == "concurrent-rule-eval" {
                features.concurrent_rule_eval = true;
            }
            features.names.push((name.to_owned(), effect));
        }
        let named = |n: &str| features.names.iter().any(|(name, _)| name == n);
        if named("otlp-deltatocumulative") && named("otlp-native-delta-ingestion") {
            return Err("cannot enable otlp-deltatocumulative and otlp-native-delta-ingestion features at the same time".to_owned());
        }
        Ok(features)
    }

    /// One log line per name: Prometheus' for what is implemented or a
    /// no-op there, a warning for what wasmetheus does not have, and
    /// Prometheus' warning for unknown names.
    pub fn log(&self) {
        for (option, effect) in &self.names {
            match effect {
                Some(FeatureEffect::Enabled(message)) => tracing::info!("{message}"),
                Some(FeatureEffect::AlwaysOn) => tracing::info!(
                    option = %option,
                    "This option for --enable-feature is always enabled in wasmetheus and therefore a no-op."
                ),
                Some(FeatureEffect::NotImplemented) => tracing::warn!(
                    option = %option,
                    "This option for --enable-feature is not implemented by wasmetheus and has no effect."
                ),
                Some(FeatureEffect::NoOp(message)) => tracing::warn!(option = %option, "{message}"),
                None => tracing::warn!(option = %option, "Unknown option for --enable-feature"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One log line per feature name: Prometheus' own for what is
    /// implemented, a no-op there, or unknown; ours for what is always on
    /// or missing here.
    #[test]
    fn feature_names_are_logged_once_each() {
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .without_time()
            .finish();
        let features = Features::parse(&[
            "concurrent-rule-eval,ooo-native-histograms".to_owned(),
            "promql-duration-expr,exemplar-storage,nope".to_owned(),
        ])
        .unwrap();
        tracing::subscriber::with_default(subscriber, || features.log());
        let text = String::from_utf8(buffer.0.lock().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let want = [
            "INFO wasmetheus::alerting: Experimental concurrent rule evaluation enabled.",
            "WARN wasmetheus::alerting: This option for --enable-feature is now permanently enabled and therefore a no-op. option=ooo-native-histograms",
            "INFO wasmetheus::alerting: This option for --enable-feature is always enabled in wasmetheus and therefore a no-op. option=promql-duration-expr",
            "WARN wasmetheus::alerting: This option for --enable-feature is not implemented by wasmetheus and has no effect. option=exemplar-storage",
            "WARN wasmetheus::alerting: Unknown option for --enable-feature option=nope",
        ];
        assert_eq!(lines.len(), want.len(), "{text}");
        for (line, want) in lines.iter().zip(want) {
            assert_eq!(line.trim(), want);
        }
    }

    /// Go's `url.QueryEscape` of PromQL texts, as Prometheus' generator
    /// URLs carry them.
    #[test]
    fn generator_urls_escape_as_go() {
        let cases = [
            ("up == 0", "/graph?g0.expr=up+%3D%3D+0&g0.tab=1"),
            (
                "rate(http_requests_total{job=\"api\",path=~\"/a.*\"}[5m]) > 0.5",
                "/graph?g0.expr=rate%28http_requests_total%7Bjob%3D%22api%22%2Cpath%3D~%22%2Fa.%2A%22%7D%5B5m%5D%29+%3E+0.5&g0.tab=1",
            ),
            ("a_b-c.d~e", "/graph?g0.expr=a_b-c.d~e&g0.tab=1"),
            (
                "x{l=\"é\"}",
                "/graph?g0.expr=x%7Bl%3D%22%C3%A9%22%7D&g0.tab=1",
            ),
        ];
        for (expr, want) in cases {
            assert_eq!(table_link_for_expression(expr), want, "{expr}");
        }
    }

    fn alert(
        state: AlertState,
        fired: Option<i64>,
        resolved: Option<i64>,
    ) -> wasmetheus_rules::Alert {
        wasmetheus_rules::Alert {
            labels: vec![Label::new("alertname", "A"), Label::new("job", "j")],
            annotations: vec![Label::new("summary", "s")],
            state,
            value: 1.0,
            active_at_ms: 1_000,
            fired_at_ms: fired,
            resolved_at_ms: resolved,
            last_sent_at_ms: None,
            valid_until_ms: Some(9_000),
            keep_firing_since_ms: None,
        }
    }

    /// `sendAlerts`: startsAt is when the alert fired, endsAt its
    /// resolution or else `valid_until`.
    #[test]
    fn rule_alerts_become_notifier_alerts_as_prometheus_sends_them() {
        let firing = notifier_alert(&alert(AlertState::Firing, Some(2_000), None), "u");
        assert_eq!(
            (
                firing.starts_at_ms,
                firing.ends_at_ms,
                firing.generator_url.as_str()
            ),
            (2_000, Some(9_000), "u")
        );
        let resolved = notifier_alert(&alert(AlertState::Inactive, Some(2_000), Some(5_000)), "u");
        assert_eq!(
            (resolved.starts_at_ms, resolved.ends_at_ms),
            (2_000, Some(5_000))
        );
        assert_eq!(
            resolved.labels,
            alert(AlertState::Inactive, None, None).labels
        );
        assert_eq!(resolved.annotations, vec![Label::new("summary", "s")]);
    }

    /// Groups as the API shows them before their first evaluation: every
    /// field from the file (group labels merged into the rules'),
    /// health and alert state unknown, no evaluation time.
    #[test]
    fn groups_convert_for_the_api() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.yml");
        std::fs::write(
            &file,
            "groups:\n- name: g\n  interval: 30s\n  limit: 5\n  labels: {team: a}\n  rules:\n  - record: r\n    expr: sum(up)\n  - alert: A\n    expr: up == 0\n    for: 5m\n    keep_firing_for: 1m\n    labels: {severity: page}\n    annotations: {summary: 'down {{ $labels.job }}'}\n",
        )
        .unwrap();
        let groups =
            wasmetheus_rules::load_groups(std::slice::from_ref(&file), &LoadOptions::default())
                .unwrap();
        let got = api_group(&groups[0].snapshot());
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        let want = api::RuleGroup {
            name: "g".into(),
            file: file.display().to_string(),
            rules: vec![
                api::Rule::Recording(api::RecordingRule {
                    name: "r".into(),
                    query: "sum(up)".into(),
                    labels: map(&[("team", "a")]),
                    health: api::RuleHealth::Unknown,
                    last_error: None,
                    evaluation_time: Duration::ZERO,
                    last_evaluation: None,
                }),
                api::Rule::Alerting(api::AlertingRule {
                    state: api::AlertState::Unknown,
                    name: "A".into(),
                    query: "up == 0".into(),
                    duration: Duration::from_secs(300),
                    keep_firing_for: Duration::from_secs(60),
                    labels: map(&[("severity", "page"), ("team", "a")]),
                    annotations: map(&[("summary", "down {{ $labels.job }}")]),
                    alerts: Vec::new(),
                    health: api::RuleHealth::Unknown,
                    last_error: None,
                    evaluation_time: Duration::ZERO,
                    last_evaluation: None,
                }),
            ],
            interval: Duration::from_secs(30),
            limit: 5,
            evaluation_time: Duration::ZERO,
            last_evaluation: None,
        };
        assert_eq!(got, want);
    }

    /// A discovered group keeps its addresses, labels and source.
    #[test]
    fn discovered_groups_convert_for_the_notifier() {
        let group = crate::scrape_targets::TargetGroup {
            targets: vec!["a:9093".into(), "b:9093".into()],
            labels: [("__meta_filepath".to_string(), "am.json".to_string())].into(),
            source: "am.json:0".into(),
        };
        let got = notifier_group(group);
        assert_eq!(got.source, "am.json:0");
        assert_eq!(
            got.targets,
            vec![
                vec![Label::new("__address__", "a:9093")],
                vec![Label::new("__address__", "b:9093")]
            ]
        );
        assert_eq!(got.labels, vec![Label::new("__meta_filepath", "am.json")]);
    }

    #[test]
    fn negative_and_positive_times_convert() {
        assert_eq!(
            system_time(1_500),
            SystemTime::UNIX_EPOCH + Duration::from_millis(1_500)
        );
        assert_eq!(
            system_time(-1_500),
            SystemTime::UNIX_EPOCH - Duration::from_millis(1_500)
        );
    }
}
