//! A rule group (Prometheus' `rules/group.go`): its rules evaluated in
//! order at one timestamp, each rule's results appended and committed
//! before the next rule runs (so it sees them) by
//! [`evaluate`](crate::evaluate), or batches of independent rules at once
//! by [`concurrency`](crate::concurrency); stale markers for the series of
//! rules that went away, the for-state restored from `ALERTS_FOR_STATE`,
//! and the group's own counters for the self-metrics.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmetheus_model::Label;
use wasmetheus_model::storage::{Matcher, STALE_NAN_BITS, is_stale_marker};

use crate::concurrency::{ConcurrencyLimit, eval_batch};
use crate::evaluate::{Rule, RuleEnv, eval_rule};
use crate::rule::{EvalContext, duration_ms, now_ms};

/// The group's counters, read by the self-metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupCounters {
    /// `prometheus_rule_evaluations_total`.
    pub evaluations: u64,
    /// `prometheus_rule_evaluation_failures_total`.
    pub failures: u64,
    /// `prometheus_rule_group_iterations_total` (scheduled iterations).
    pub iterations: u64,
    /// `prometheus_rule_group_iterations_missed_total`.
    pub missed: u64,
    /// `prometheus_rule_group_last_evaluation_samples`.
    pub last_samples: u64,
    /// Sum and count of rule evaluation durations (seconds).
    pub rule_duration_sum: f64,
    pub rule_duration_count: u64,
    /// Sum and count of iteration durations (seconds).
    pub iteration_duration_sum: f64,
    pub iteration_duration_count: u64,
    /// `prometheus_rule_group_last_restore_duration_seconds`.
    pub last_restore_duration: Duration,
}

/// What the API shows of a group.
#[derive(Debug, Clone)]
pub struct GroupSnapshot {
    pub name: String,
    pub file: PathBuf,
    pub interval: Duration,
    pub limit: i64,
    /// The offset in force (the group's or the global one).
    pub query_offset: Duration,
    pub evaluation_time: Duration,
    pub last_evaluation_ms: Option<i64>,
    /// The rules with their state (health, errors, alerts).
    pub rules: Vec<Rule>,
    pub counters: GroupCounters,
}

/// A group of rules evaluated together.
#[derive(Debug, Clone)]
pub struct Group {
    pub(crate) name: String,
    pub(crate) file: PathBuf,
    pub(crate) interval: Duration,
    pub(crate) limit: i64,
    pub(crate) query_offset: Option<Duration>,
    pub(crate) default_query_offset: Duration,
    pub(crate) rules: Vec<Rule>,
    pub(crate) resend_delay: Duration,
    /// Per rule: the series its last successful evaluation wrote.
    series_in_previous_eval: Vec<HashSet<Vec<Label>>>,
    /// Series of rules no longer in the group, marked stale at the next
    /// evaluation.
    stale_series: Vec<Vec<Label>>,
    evaluation_time: Duration,
    last_evaluation_ms: Option<i64>,
    last_eval_timestamp_ms: Option<i64>,
    pub(crate) counters: GroupCounters,
    /// The shared slots and the group's batches, when rules may be
    /// evaluated concurrently.
    concurrency: Option<(Arc<ConcurrencyLimit>, Vec<Range<usize>>)>,
}

impl Group {
    /// A group of `rules`; `query_offset` `None` takes
    /// `default_query_offset`.
    pub fn new(
        name: &str,
        file: &Path,
        interval: Duration,
        limit: i64,
        query_offset: Option<Duration>,
        default_query_offset: Duration,
        rules: Vec<Rule>,
    ) -> Self {
        let n = rules.len();
        Group {
            name: name.to_owned(),
            file: file.to_owned(),
            interval,
            limit,
            query_offset,
            default_query_offset,
            rules,
            resend_delay: Duration::from_secs(60),
            series_in_previous_eval: vec![HashSet::new(); n],
            stale_series: Vec::new(),
            evaluation_time: Duration::ZERO,
            last_evaluation_ms: None,
            last_eval_timestamp_ms: None,
            counters: GroupCounters::default(),
            concurrency: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    pub fn limit(&self) -> i64 {
        self.limit
    }

    /// The offset queries run at: the group's, else the default.
    pub fn query_offset(&self) -> Duration {
        self.query_offset.unwrap_or(self.default_query_offset)
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// `--rules.alert.resend-delay` (default 1m).
    pub fn set_resend_delay(&mut self, delay: Duration) {
        self.resend_delay = delay;
    }

    /// How long the last evaluation took.
    pub fn evaluation_time(&self) -> Duration {
        self.evaluation_time
    }

    /// When the last evaluation started (wall clock, ms).
    pub fn last_evaluation_ms(&self) -> Option<i64> {
        self.last_evaluation_ms
    }

    /// The timestamp the last evaluation evaluated at (ms).
    pub fn last_eval_timestamp_ms(&self) -> Option<i64> {
        self.last_eval_timestamp_ms
    }

    pub fn counters(&self) -> &GroupCounters {
        &self.counters
    }

    /// What the API and the self-metrics show of the group.
    pub fn snapshot(&self) -> GroupSnapshot {
        GroupSnapshot {
            name: self.name.clone(),
            file: self.file.clone(),
            interval: self.interval,
            limit: self.limit,
            query_offset: self.query_offset(),
            evaluation_time: self.evaluation_time,
            last_evaluation_ms: self.last_evaluation_ms,
            rules: self.rules.clone(),
            counters: self.counters.clone(),
        }
    }

    /// Every alerting rule's alerts that are pending or firing.
    pub fn active_alerts(&self) -> Vec<crate::rule::Alert> {
        self.rules
            .iter()
            .filter_map(|r| match r {
                Rule::Alerting(a) => Some(a.active_alerts()),
                Rule::Recording(_) => None,
            })
            .flatten()
            .collect()
    }

    /// Evaluates every rule at `ts_ms` (queries at `ts_ms -
    /// query_offset`), writing results, `ALERTS`/`ALERTS_FOR_STATE` and
    /// stale markers to `ctx.storage`, and notifying alerts. Rules run in
    /// order, each seeing the results of those before it; with a
    /// [`ConcurrencyLimit`] set, consecutive rules with no relation among
    /// them run at once, with the same results.
    pub fn eval(&mut self, ts_ms: i64, ctx: &EvalContext) {
        let start = Instant::now();
        let wall = now_ms();
        let offset = self.query_offset();
        let env = RuleEnv {
            group: &self.name,
            ts_ms,
            offset,
            stale_t: ts_ms.saturating_sub(duration_ms(offset)),
            limit: self.limit,
            resend_delay: self.resend_delay,
            interval: self.interval,
            ctx,
        };
        let mut outcomes = Vec::with_capacity(self.rules.len());
        match &self.concurrency {
            Some((limit, batches)) => {
                for batch in batches {
                    let (Some(rules), Some(previous)) = (
                        self.rules.get_mut(batch.clone()),
                        self.series_in_previous_eval.get_mut(batch.clone()),
                    ) else {
                        continue;
                    };
                    outcomes.extend(eval_batch(rules, previous, &env, limit));
                }
            }
            None => {
                for (rule, previous) in self
                    .rules
                    .iter_mut()
                    .zip(self.series_in_previous_eval.iter_mut())
                {
                    outcomes.push(eval_rule(rule, previous, &env));
                }
            }
        }
        let stale_t = env.stale_t;
        let mut samples_total = 0u64;
        for outcome in outcomes {
            self.counters.evaluations += 1;
            self.counters.failures += outcome.failures;
            self.counters.rule_duration_sum += outcome.duration.as_secs_f64();
            self.counters.rule_duration_count += 1;
            samples_total += outcome.samples;
        }
        self.counters.last_samples = samples_total;
        self.cleanup_stale_series(stale_t, ctx);
        self.evaluation_time = start.elapsed();
        self.last_evaluation_ms = Some(wall);
        self.last_eval_timestamp_ms = Some(ts_ms);
    }

    /// Evaluates independent rules at once within `limit`'s slots
    /// (`Some`, the `concurrent-rule-eval` feature) or every rule in order
    /// (`None`, the default).
    pub fn set_concurrency(&mut self, limit: Option<Arc<ConcurrencyLimit>>) {
        self.concurrency = limit.map(|limit| (limit, crate::deps::batches(&self.rules)));
    }

    /// The runs of rules evaluated at once when concurrency is set.
    pub fn batches(&self) -> Option<&[Range<usize>]> {
        self.concurrency.as_ref().map(|(_, b)| b.as_slice())
    }

    /// Marks the series of removed rules stale.
    fn cleanup_stale_series(&mut self, t: i64, ctx: &EvalContext) {
        if self.stale_series.is_empty() {
            return;
        }
        let mut app = ctx.storage.appender();
        let stale = f64::from_bits(STALE_NAN_BITS);
        for series in &self.stale_series {
            let _ = app.append(series, t, stale);
        }
        if let Err(e) = app.commit() {
            tracing::warn!(err = %e, "Stale sample appending failed");
            return;
        }
        self.stale_series.clear();
    }

    /// Marks every series this group wrote stale at `ts_ms` (a group that
    /// was removed).
    pub fn mark_all_stale(&mut self, ts_ms: i64, ctx: &EvalContext) {
        for series in std::mem::take(&mut self.series_in_previous_eval) {
            self.stale_series.extend(series);
        }
        let t = ts_ms.saturating_sub(duration_ms(self.query_offset()));
        self.cleanup_stale_series(t, ctx);
        self.series_in_previous_eval = vec![HashSet::new(); self.rules.len()];
    }

    /// Whether `other` is the same group (Prometheus' `Group.Equals`).
    pub fn same_definition(&self, other: &Group) -> bool {
        self.name == other.name
            && self.file == other.file
            && self.interval == other.interval
            && self.limit == other.limit
            && self.query_offset == other.query_offset
            && self.default_query_offset == other.default_query_offset
            && self.rules.len() == other.rules.len()
            && self
                .rules
                .iter()
                .zip(&other.rules)
                .all(|(a, b)| a.same_definition(b))
    }

    /// Prometheus' `CopyState`: evaluation times, each rule's written
    /// series and alerts from the rule of `from` with the same name and
    /// labels; the series of `from`'s unmatched rules become stale.
    pub fn copy_state(&mut self, from: &Group) {
        self.evaluation_time = from.evaluation_time;
        self.last_evaluation_ms = from.last_evaluation_ms;
        self.last_eval_timestamp_ms = from.last_eval_timestamp_ms;
        let mut by_key: BTreeMap<(String, Vec<Label>), Vec<usize>> = BTreeMap::new();
        for (fi, rule) in from.rules.iter().enumerate() {
            by_key.entry(rule.name_and_labels()).or_default().push(fi);
        }
        for i in 0..self.rules.len() {
            let key = self.rules[i].name_and_labels();
            let Some(indexes) = by_key.get_mut(&key) else {
                continue;
            };
            if indexes.is_empty() {
                continue;
            }
            let fi = indexes.remove(0);
            if let Some(series) = from.series_in_previous_eval.get(fi) {
                self.series_in_previous_eval[i] = series.clone();
            }
            if let (Rule::Alerting(to), Some(Rule::Alerting(src))) =
                (&mut self.rules[i], from.rules.get(fi))
            {
                for (k, a) in &src.active {
                    to.active.insert(k.clone(), a.clone());
                }
            }
        }
        self.stale_series = from.stale_series.clone();
        for (fi, rule) in from.rules.iter().enumerate() {
            let left = by_key
                .get(&rule.name_and_labels())
                .is_some_and(|l| l.contains(&fi));
            if left && let Some(series) = from.series_in_previous_eval.get(fi) {
                self.stale_series.extend(series.iter().cloned());
            }
        }
        self.counters = from.counters.clone();
    }

    /// Prometheus' `RestoreForState` at `ts_ms`: each alert's `active_at`
    /// from its last `ALERTS_FOR_STATE` sample within `outage_tolerance`,
    /// shifted by the downtime, or to fire no earlier than `grace_period`
    /// from now; every alerting rule is restored afterwards.
    pub fn restore_for_state(
        &mut self,
        ts_ms: i64,
        ctx: &EvalContext,
        outage_tolerance: Duration,
        grace_period: Duration,
    ) {
        let start = Instant::now();
        let mint = ts_ms.saturating_sub(duration_ms(outage_tolerance));
        let grace = duration_ms(grace_period);
        for rule in &mut self.rules {
            let Rule::Alerting(rule) = rule else {
                continue;
            };
            let hold = duration_ms(rule.hold);
            if hold < grace {
                rule.restored = true;
                continue;
            }
            let matchers = [
                Matcher::equal("__name__", "ALERTS_FOR_STATE"),
                Matcher::equal("alertname", rule.name.clone()),
            ];
            let series = match ctx.storage.select(&matchers, mint, ts_ms) {
                Ok(series) => series,
                Err(e) => {
                    tracing::error!(err = %e, "Failed to restore 'for' state");
                    return;
                }
            };
            for s in series {
                let mut labels = s.labels;
                labels.retain(|l| l.name != "__name__");
                let Some(alert) = rule.active.get_mut(&labels) else {
                    continue;
                };
                let Some(&(t, v)) = s.samples.last() else {
                    continue;
                };
                if is_stale_marker(v) || !v.is_finite() {
                    continue;
                }
                let down_at = t.div_euclid(1000) * 1000;
                let mut restored_active_at = (v as i64).saturating_mul(1000);
                // Saturating, as Go's Time.Sub saturates: a stored value
                // far outside the time range cannot overflow.
                let remaining = hold.saturating_sub(down_at.saturating_sub(restored_active_at));
                if remaining <= 0 {
                    // Was firing; the next evaluation decides.
                } else if remaining < grace {
                    restored_active_at = ts_ms.saturating_add(grace).saturating_sub(hold);
                } else {
                    restored_active_at =
                        restored_active_at.saturating_add(ts_ms.saturating_sub(down_at));
                }
                alert.active_at_ms = restored_active_at;
            }
            rule.restored = true;
        }
        self.counters.last_restore_duration = start.elapsed();
    }
}
