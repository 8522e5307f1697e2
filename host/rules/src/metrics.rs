//! The rule manager's self-metrics, with Prometheus' names, types, help
//! texts and `rule_group` label (`FILE;NAME`). The two summaries carry
//! the count and sum over the groups loaded now, and the quantiles
//! Prometheus declares over the observations of the last ten minutes
//! (at most [`Window::CAPACITY`] of them, the latest kept).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use wasmetheus_model::{Label, Metric, MetricFamily, MetricKind, MetricValue, Quantile, Summary};

use crate::group::GroupSnapshot;

/// Prometheus' `GroupKey`.
fn group_key(g: &GroupSnapshot) -> String {
    format!("{};{}", g.file.display(), g.name)
}

fn per_group(
    groups: &[GroupSnapshot],
    name: &str,
    kind: MetricKind,
    help: &str,
    value: impl Fn(&GroupSnapshot) -> f64,
) -> MetricFamily {
    MetricFamily {
        name: name.to_owned(),
        kind,
        help: help.to_owned(),
        unit: String::new(),
        metrics: groups
            .iter()
            .map(|g| Metric {
                labels: vec![Label::new("rule_group", group_key(g))],
                value: MetricValue::Number(value(g)),
                timestamp_ms: None,
            })
            .collect(),
    }
}

/// Recent observations (seconds) of one summary.
#[derive(Debug, Default)]
pub struct Window {
    seen: VecDeque<(Instant, f64)>,
}

impl Window {
    /// The most observations kept.
    pub const CAPACITY: usize = 4096;
    /// How long an observation counts (Prometheus' summary `MaxAge`).
    pub const MAX_AGE: Duration = Duration::from_secs(600);

    pub fn observe(&mut self, seconds: f64) {
        let now = Instant::now();
        self.seen.push_back((now, seconds));
        while self.seen.len() > Self::CAPACITY
            || self
                .seen
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t) > Self::MAX_AGE)
        {
            self.seen.pop_front();
        }
    }

    /// Each quantile of the recent observations (NaN without any, as
    /// Prometheus' summaries report).
    pub fn quantiles(&self, qs: &[f64]) -> Vec<Quantile> {
        let now = Instant::now();
        let mut values: Vec<f64> = self
            .seen
            .iter()
            .filter(|(t, _)| now.duration_since(*t) <= Self::MAX_AGE)
            .map(|(_, v)| *v)
            .collect();
        values.sort_by(f64::total_cmp);
        qs.iter()
            .map(|&q| Quantile {
                quantile: q,
                value: if values.is_empty() {
                    f64::NAN
                } else {
                    let rank = (q * (values.len() - 1) as f64).round() as usize;
                    values[rank.min(values.len() - 1)]
                },
            })
            .collect()
    }
}

/// The windows of the two summaries.
#[derive(Debug, Default)]
pub struct Windows {
    /// `prometheus_rule_evaluation_duration_seconds`.
    pub rule: Window,
    /// `prometheus_rule_group_duration_seconds`.
    pub group: Window,
}

fn summary(name: &str, help: &str, count: u64, sum: f64) -> MetricFamily {
    MetricFamily {
        name: name.to_owned(),
        kind: MetricKind::Summary,
        help: help.to_owned(),
        unit: String::new(),
        metrics: vec![Metric {
            labels: Vec::new(),
            value: MetricValue::Summary(Summary {
                quantiles: Vec::new(),
                count: count as f64,
                sum,
            }),
            timestamp_ms: None,
        }],
    }
}

fn with_quantiles(mut family: MetricFamily, quantiles: Vec<Quantile>) -> MetricFamily {
    for metric in &mut family.metrics {
        if let MetricValue::Summary(s) = &mut metric.value {
            s.quantiles = quantiles.clone();
        }
    }
    family
}

/// The families for `groups`, with the summaries' quantiles from
/// `windows` when given.
pub fn families(groups: &[GroupSnapshot], windows: Option<&Windows>) -> Vec<MetricFamily> {
    use MetricKind::{Counter, Gauge};
    let c = |g: &GroupSnapshot| g.counters.clone();
    let rule_quantiles = windows.map_or_else(Vec::new, |w| w.rule.quantiles(&[0.5, 0.9, 0.99]));
    let group_quantiles = windows.map_or_else(Vec::new, |w| {
        w.group.quantiles(&[0.01, 0.05, 0.5, 0.9, 0.99])
    });
    vec![
        with_quantiles(
            summary(
                "prometheus_rule_evaluation_duration_seconds",
                "The duration for a rule to execute.",
                groups.iter().map(|g| g.counters.rule_duration_count).sum(),
                groups.iter().map(|g| g.counters.rule_duration_sum).sum(),
            ),
            rule_quantiles,
        ),
        with_quantiles(
            summary(
                "prometheus_rule_group_duration_seconds",
                "The duration of rule group evaluations.",
                groups
                    .iter()
                    .map(|g| g.counters.iteration_duration_count)
                    .sum(),
                groups
                    .iter()
                    .map(|g| g.counters.iteration_duration_sum)
                    .sum(),
            ),
            group_quantiles,
        ),
        per_group(
            groups,
            "prometheus_rule_evaluation_failures_total",
            Counter,
            "The total number of rule evaluation failures.",
            |g| c(g).failures as f64,
        ),
        per_group(
            groups,
            "prometheus_rule_evaluations_total",
            Counter,
            "The total number of rule evaluations.",
            |g| c(g).evaluations as f64,
        ),
        per_group(
            groups,
            "prometheus_rule_group_interval_seconds",
            Gauge,
            "The interval of a rule group.",
            |g| g.interval.as_secs_f64(),
        ),
        per_group(
            groups,
            "prometheus_rule_group_iterations_missed_total",
            Counter,
            "The total number of rule group evaluations missed due to slow rule group evaluation.",
            |g| c(g).missed as f64,
        ),
        per_group(
            groups,
            "prometheus_rule_group_iterations_total",
            Counter,
            "The total number of scheduled rule group evaluations, whether executed or missed.",
            |g| c(g).iterations as f64,
        ),
        per_group(
            groups,
            "prometheus_rule_group_last_duration_seconds",
            Gauge,
            "The duration of the last rule group evaluation.",
            |g| g.evaluation_time.as_secs_f64(),
        ),
        per_group(
            groups,
            "prometheus_rule_group_last_evaluation_samples",
            Gauge,
            "The number of samples returned during the last rule group evaluation.",
            |g| c(g).last_samples as f64,
        ),
        per_group(
            groups,
            "prometheus_rule_group_last_evaluation_timestamp_seconds",
            Gauge,
            "The timestamp of the last rule group evaluation in seconds.",
            |g| g.last_evaluation_ms.map_or(0.0, |t| t as f64 / 1000.0),
        ),
        per_group(
            groups,
            "prometheus_rule_group_last_restore_duration_seconds",
            Gauge,
            "The duration of the last alert rules alerts restoration using the `ALERTS_FOR_STATE` series.",
            |g| c(g).last_restore_duration.as_secs_f64(),
        ),
        per_group(
            groups,
            "prometheus_rule_group_last_rule_duration_sum_seconds",
            Gauge,
            "The sum of time in seconds it took to evaluate each rule in the group regardless of concurrency. This should be higher than the group duration if rules are evaluated concurrently.",
            |g| {
                g.rules
                    .iter()
                    .map(|r| r.status().evaluation_time.as_secs_f64())
                    .sum()
            },
        ),
        per_group(
            groups,
            "prometheus_rule_group_rules",
            Gauge,
            "The number of rules.",
            |g| g.rules.len() as f64,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_recent_observations() {
        let mut w = Window::default();
        assert!(w.quantiles(&[0.5])[0].value.is_nan());
        for i in 1..=101 {
            w.observe(f64::from(i));
        }
        let q = w.quantiles(&[0.0, 0.5, 0.9, 1.0]);
        let values: Vec<f64> = q.iter().map(|q| q.value).collect();
        assert_eq!(values, [1.0, 51.0, 91.0, 101.0]);
        for _ in 0..Window::CAPACITY {
            w.observe(0.0);
        }
        assert_eq!(w.quantiles(&[1.0])[0].value, 0.0, "the oldest are dropped");
    }
}
