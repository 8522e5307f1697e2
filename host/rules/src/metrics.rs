//! The rule manager's self-metrics, with Prometheus' names, types, help
//! texts and `rule_group` label (`FILE;NAME`). The two summaries carry
//! their count and sum (no quantiles), over the groups loaded now.

use wasmetheus_model::{Label, Metric, MetricFamily, MetricKind, MetricValue, Summary};

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

/// The families for `groups`.
pub fn families(groups: &[GroupSnapshot]) -> Vec<MetricFamily> {
    use MetricKind::{Counter, Gauge};
    let c = |g: &GroupSnapshot| g.counters.clone();
    vec![
        summary(
            "prometheus_rule_evaluation_duration_seconds",
            "The duration for a rule to execute.",
            groups.iter().map(|g| g.counters.rule_duration_count).sum(),
            groups.iter().map(|g| g.counters.rule_duration_sum).sum(),
        ),
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
