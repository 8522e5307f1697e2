//! A rule group (Prometheus' `rules/group.go`): its rules evaluated in
//! order at one timestamp, each rule's results appended and committed
//! before the next rule runs (so it sees them), stale markers for the
//! series a rule no longer produces (`seriesInPreviousEval`) and for the
//! series of rules that went away, alerts handed to the notify callback,
//! the for-state restored from `ALERTS_FOR_STATE`, and the group's own
//! counters for the self-metrics.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wasmetheus_model::Label;
use wasmetheus_model::storage::{Matcher, STALE_NAN_BITS, is_stale_marker};

use crate::alerting::AlertingRule;
use crate::recording::RecordingRule;
use crate::rule::{EvalContext, Health, OutSample, RuleStatus, duration_ms};

/// A recording or an alerting rule.
#[derive(Debug, Clone)]
pub enum Rule {
    Recording(RecordingRule),
    Alerting(AlertingRule),
}

impl Rule {
    /// `alerting` or `recording`, as the API names the kinds.
    pub fn kind(&self) -> &'static str {
        match self {
            Rule::Recording(_) => "recording",
            Rule::Alerting(_) => "alerting",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Rule::Recording(r) => r.name(),
            Rule::Alerting(r) => r.name(),
        }
    }

    /// The expression in canonical PromQL.
    pub fn query(&self) -> &str {
        match self {
            Rule::Recording(r) => r.query(),
            Rule::Alerting(r) => r.query(),
        }
    }

    pub fn labels(&self) -> &[Label] {
        match self {
            Rule::Recording(r) => r.labels(),
            Rule::Alerting(r) => r.labels(),
        }
    }

    pub fn status(&self) -> &RuleStatus {
        match self {
            Rule::Recording(r) => &r.status,
            Rule::Alerting(r) => &r.status,
        }
    }

    fn status_mut(&mut self) -> &mut RuleStatus {
        match self {
            Rule::Recording(r) => &mut r.status,
            Rule::Alerting(r) => &mut r.status,
        }
    }

    pub fn health(&self) -> Health {
        self.status().health
    }

    pub fn last_error(&self) -> Option<&str> {
        self.status().last_error.as_deref()
    }

    /// Prometheus' `nameAndLabels`: how `CopyState` matches rules.
    fn name_and_labels(&self) -> (String, Vec<Label>) {
        (self.name().to_owned(), self.labels().to_vec())
    }

    /// Same definition (what Prometheus compares through the rule's YAML).
    fn same_definition(&self, other: &Rule) -> bool {
        match (self, other) {
            (Rule::Recording(a), Rule::Recording(b)) => {
                a.name == b.name && a.query == b.query && a.labels == b.labels
            }
            (Rule::Alerting(a), Rule::Alerting(b)) => {
                a.name == b.name
                    && a.query == b.query
                    && a.hold == b.hold
                    && a.keep_firing_for == b.keep_firing_for
                    && a.labels == b.labels
                    && a.annotations == b.annotations
            }
            _ => false,
        }
    }
}

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
}

/// The wall clock in ms since the epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
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

    /// Evaluates every rule in order at `ts_ms` (queries at `ts_ms -
    /// query_offset`), writing results, `ALERTS`/`ALERTS_FOR_STATE` and
    /// stale markers to `ctx.storage`, and notifying alerts.
    pub fn eval(&mut self, ts_ms: i64, ctx: &EvalContext) {
        let start = Instant::now();
        let wall = now_ms();
        let offset = self.query_offset();
        let stale_t = ts_ms.saturating_sub(duration_ms(offset));
        let mut samples_total = 0u64;
        for i in 0..self.rules.len() {
            let rule_start = Instant::now();
            let rule_wall = now_ms();
            self.counters.evaluations += 1;
            let result = match &mut self.rules[i] {
                Rule::Recording(r) => r.eval(ts_ms, offset, ctx, self.limit),
                Rule::Alerting(r) => r.eval(ts_ms, offset, ctx, self.limit),
            };
            let vector = match result {
                Ok(vector) => vector,
                Err(e) => {
                    tracing::warn!(group = %self.name, rule = %self.rules[i].name(), err = %e, "Evaluating rule failed");
                    self.set_rule_status(i, rule_start, rule_wall, Health::Bad, Some(e));
                    self.counters.failures += 1;
                    continue;
                }
            };
            samples_total += vector.len() as u64;
            let (mut health, mut last_error) = (Health::Good, None);
            if let Rule::Alerting(r) = &mut self.rules[i] {
                r.send_alerts(ts_ms, self.resend_delay, self.interval, ctx.notify);
            }
            let returned = self.append(i, &vector, stale_t, ctx, &mut health, &mut last_error);
            match returned {
                Some(returned) => self.series_in_previous_eval[i] = returned,
                None => self.counters.failures += 1,
            }
            self.set_rule_status(i, rule_start, rule_wall, health, last_error);
        }
        self.counters.last_samples = samples_total;
        self.cleanup_stale_series(stale_t, ctx);
        self.evaluation_time = start.elapsed();
        self.last_evaluation_ms = Some(wall);
        self.last_eval_timestamp_ms = Some(ts_ms);
    }

    fn set_rule_status(
        &mut self,
        i: usize,
        rule_start: Instant,
        wall: i64,
        health: Health,
        last_error: Option<String>,
    ) {
        let elapsed = rule_start.elapsed();
        self.counters.rule_duration_sum += elapsed.as_secs_f64();
        self.counters.rule_duration_count += 1;
        let status = self.rules[i].status_mut();
        status.health = health;
        status.last_error = last_error;
        status.evaluation_time = elapsed;
        status.last_evaluation_ms = Some(wall);
    }

    /// Appends rule `i`'s samples and stale markers for its series that
    /// vanished, then commits: the series written, or `None` when the
    /// commit failed.
    fn append(
        &self,
        i: usize,
        vector: &[OutSample],
        stale_t: i64,
        ctx: &EvalContext,
        health: &mut Health,
        last_error: &mut Option<String>,
    ) -> Option<HashSet<Vec<Label>>> {
        let mut app = ctx.storage.appender();
        let mut returned = HashSet::with_capacity(vector.len());
        for s in vector {
            match app.append(&s.labels, s.t, s.v) {
                Ok(()) => {
                    returned.insert(s.labels.clone());
                }
                Err(e) => {
                    *health = Health::Bad;
                    *last_error = Some(e.to_string());
                    tracing::debug!(err = %e, "Rule evaluation result discarded");
                }
            }
        }
        let stale = f64::from_bits(STALE_NAN_BITS);
        for series in &self.series_in_previous_eval[i] {
            if !returned.contains(series) {
                // Errors are expected when another rule writes the series.
                let _ = app.append(series, stale_t, stale);
            }
        }
        if let Err(e) = app.commit() {
            *health = Health::Bad;
            *last_error = Some(e.to_string());
            tracing::warn!(err = %e, "Rule sample appending failed");
            return None;
        }
        Some(returned)
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
