//! The notifier's self-metrics under Prometheus' names, types and help
//! texts (`notifier/metric.go`): per Alertmanager URL the alerts sent, the
//! alerts affected by errors and the latency summary; the alerts dropped;
//! the queue's length and capacity; the Alertmanagers discovered.
//!
//! The latency summary's quantiles (0.5, 0.9, 0.99) are computed exactly
//! over the observations of the last ten minutes (Prometheus' default
//! `MaxAge`), at most [`WINDOW`] of them; count and sum are cumulative.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use wasmetheus_model::{Label, Metric, MetricFamily, MetricKind, MetricValue, Quantile, Summary};

/// Observations kept per Alertmanager for the quantiles.
const WINDOW: usize = 1024;
/// How long an observation counts for the quantiles.
const MAX_AGE: Duration = Duration::from_secs(600);
const QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];

#[derive(Debug, Default)]
struct PerAlertmanager {
    sent: f64,
    errors: f64,
    latency_count: u64,
    latency_sum: f64,
    recent: VecDeque<(Instant, f64)>,
}

#[derive(Debug, Default)]
struct Counters {
    by_url: BTreeMap<String, PerAlertmanager>,
    dropped: f64,
}

/// The counters; the gauges are read from the manager when asked.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    counters: Mutex<Counters>,
}

/// The gauges' values at the time of asking.
pub(crate) struct Gauges {
    pub queue_length: usize,
    pub queue_capacity: usize,
    pub discovered: usize,
}

impl Metrics {
    /// `count` alerts dropped.
    pub(crate) fn dropped(&self, count: usize) {
        self.counters.lock().dropped += count as f64;
    }

    /// A send of `count` alerts to `url` took `latency`, and failed when
    /// `failed`: both count as sent, as in Prometheus.
    pub(crate) fn observe(&self, url: &str, count: usize, latency: Duration, failed: bool) {
        let mut counters = self.counters.lock();
        let am = counters.by_url.entry(url.to_owned()).or_default();
        am.sent += count as f64;
        if failed {
            am.errors += count as f64;
        }
        let seconds = latency.as_secs_f64();
        am.latency_count += 1;
        am.latency_sum += seconds;
        let now = Instant::now();
        am.recent.push_back((now, seconds));
        while am.recent.len() > WINDOW
            || am
                .recent
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) > MAX_AGE)
        {
            am.recent.pop_front();
        }
    }

    /// Series for newly discovered Alertmanagers start at zero; those of
    /// Alertmanagers no longer discovered go (`alertmanagerSet.sync`).
    pub(crate) fn sync(&self, added: &[String], removed: &[String]) {
        let mut counters = self.counters.lock();
        for url in removed {
            counters.by_url.remove(url);
        }
        for url in added {
            counters.by_url.entry(url.clone()).or_default();
        }
    }

    /// The families, sorted by name.
    pub(crate) fn families(&self, gauges: Gauges) -> Vec<MetricFamily> {
        let counters = self.counters.lock();
        let now = Instant::now();
        let by_url = |value: &dyn Fn(&PerAlertmanager) -> MetricValue| -> Vec<Metric> {
            counters
                .by_url
                .iter()
                .map(|(url, am)| Metric {
                    labels: vec![Label::new("alertmanager", url.as_str())],
                    value: value(am),
                    timestamp_ms: None,
                })
                .collect()
        };
        let family = |name: &str, kind, help: &str, metrics| MetricFamily {
            name: name.to_owned(),
            kind,
            help: help.to_owned(),
            unit: String::new(),
            metrics,
        };
        vec![
            MetricFamily::single(
                "prometheus_notifications_alertmanagers_discovered",
                MetricKind::Gauge,
                "The number of alertmanagers discovered and active.",
                gauges.discovered as f64,
            ),
            MetricFamily::single(
                "prometheus_notifications_dropped_total",
                MetricKind::Counter,
                "Total number of alerts dropped due to errors when sending to Alertmanager.",
                counters.dropped,
            ),
            // Prometheus 2.x said "Total number of errors sending alert
            // notifications." and counted requests; 3.x counts the alerts
            // of failed requests, with this text.
            family(
                "prometheus_notifications_errors_total",
                MetricKind::Counter,
                "Total number of sent alerts affected by errors.",
                by_url(&|am| MetricValue::Number(am.errors)),
            ),
            family(
                "prometheus_notifications_latency_seconds",
                MetricKind::Summary,
                "Latency quantiles for sending alert notifications.",
                by_url(&|am| MetricValue::Summary(summary(am, now))),
            ),
            MetricFamily::single(
                "prometheus_notifications_queue_capacity",
                MetricKind::Gauge,
                "The capacity of the alert notifications queue.",
                gauges.queue_capacity as f64,
            ),
            MetricFamily::single(
                "prometheus_notifications_queue_length",
                MetricKind::Gauge,
                "The number of alert notifications in the queue.",
                gauges.queue_length as f64,
            ),
            family(
                "prometheus_notifications_sent_total",
                MetricKind::Counter,
                "Total number of alerts sent.",
                by_url(&|am| MetricValue::Number(am.sent)),
            ),
        ]
    }
}

/// The summary of one Alertmanager's latencies: quantiles over the
/// recent window (NaN when it is empty, as Go's summaries report).
fn summary(am: &PerAlertmanager, now: Instant) -> Summary {
    let mut recent: Vec<f64> = am
        .recent
        .iter()
        .filter(|(at, _)| now.duration_since(*at) <= MAX_AGE)
        .map(|(_, v)| *v)
        .collect();
    recent.sort_by(f64::total_cmp);
    let quantiles = QUANTILES
        .iter()
        .map(|&q| Quantile {
            quantile: q,
            value: rank(&recent, q),
        })
        .collect();
    Summary {
        quantiles,
        count: am.latency_count as f64,
        sum: am.latency_sum,
    }
}

/// The `q`-quantile of sorted `values` (nearest rank), NaN for none.
fn rank(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let index = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1;
    values[index]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(rank(&values, 0.5), 50.0);
        assert_eq!(rank(&values, 0.9), 90.0);
        assert_eq!(rank(&values, 0.99), 99.0);
        assert_eq!(rank(&[3.0], 0.99), 3.0);
        assert!(rank(&[], 0.5).is_nan());
    }

    #[test]
    fn the_window_is_bounded() {
        let metrics = Metrics::default();
        for i in 0..(WINDOW + 10) {
            metrics.observe("u", 1, Duration::from_millis(i as u64), i % 2 == 0);
        }
        let counters = metrics.counters.lock();
        let am = &counters.by_url["u"];
        assert_eq!(am.recent.len(), WINDOW);
        assert_eq!(am.latency_count, (WINDOW + 10) as u64);
        assert_eq!(am.sent, (WINDOW + 10) as f64);
        assert_eq!(am.errors, ((WINDOW + 10) / 2) as f64);
    }
}
