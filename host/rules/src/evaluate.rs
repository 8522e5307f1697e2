//! A rule of either kind ([`Rule`]) and one rule's evaluation within its
//! group (the body of Prometheus' `Group.Eval` loop): the expression
//! evaluated, alerts handed to the notify callback, the results appended
//! with stale markers for the series the rule no longer produces
//! (`seriesInPreviousEval`) and committed, the rule's health set. It
//! touches only the rule and its own previous series, so independent
//! rules of a group can be evaluated at once.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use wasmetheus_model::Label;
use wasmetheus_model::storage::STALE_NAN_BITS;

use crate::alerting::AlertingRule;
use crate::recording::RecordingRule;
use crate::rule::{EvalContext, Health, OutSample, RuleStatus};

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

    pub(crate) fn status_mut(&mut self) -> &mut RuleStatus {
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
    pub(crate) fn name_and_labels(&self) -> (String, Vec<Label>) {
        (self.name().to_owned(), self.labels().to_vec())
    }

    /// Same definition (what Prometheus compares through the rule's YAML).
    pub(crate) fn same_definition(&self, other: &Rule) -> bool {
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

/// What every rule of one group evaluation shares.
pub(crate) struct RuleEnv<'a> {
    /// The group's name, for the log lines.
    pub group: &'a str,
    /// The evaluation timestamp (ms).
    pub ts_ms: i64,
    /// The group's query offset.
    pub offset: Duration,
    /// Where stale markers go: `ts_ms - offset`.
    pub stale_t: i64,
    pub limit: i64,
    pub resend_delay: Duration,
    pub interval: Duration,
    pub ctx: &'a EvalContext<'a>,
}

/// What one rule's evaluation adds to its group's counters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RuleOutcome {
    /// Samples the expression returned.
    pub samples: u64,
    /// Failures: the evaluation's, or the commit's.
    pub failures: u64,
    pub duration: Duration,
}

/// Evaluates `rule` (whose last successful evaluation wrote `previous`):
/// its samples and stale markers appended and committed, alerts sent, its
/// status set; `previous` becomes what it wrote now.
pub(crate) fn eval_rule(
    rule: &mut Rule,
    previous: &mut HashSet<Vec<Label>>,
    env: &RuleEnv<'_>,
) -> RuleOutcome {
    let start = Instant::now();
    let wall = crate::rule::now_ms();
    let result = match &mut *rule {
        Rule::Recording(r) => r.eval(env.ts_ms, env.offset, env.ctx, env.limit),
        Rule::Alerting(r) => r.eval(env.ts_ms, env.offset, env.ctx, env.limit),
    };
    let vector = match result {
        Ok(vector) => vector,
        Err(e) => {
            tracing::warn!(group = %env.group, rule = %rule.name(), err = %e, "Evaluating rule failed");
            return finish(rule, start, wall, Health::Bad, Some(e), 0, 1);
        }
    };
    let samples = vector.len() as u64;
    let (mut health, mut last_error) = (Health::Good, None);
    if let Rule::Alerting(r) = &mut *rule {
        r.send_alerts(env.ts_ms, env.resend_delay, env.interval, env.ctx.notify);
    }
    let mut failures = 0;
    match append(&vector, previous, env, &mut health, &mut last_error) {
        Some(returned) => *previous = returned,
        None => failures = 1,
    }
    finish(rule, start, wall, health, last_error, samples, failures)
}

/// Sets the rule's status after an evaluation that started at `start`
/// (`wall` on the wall clock).
fn finish(
    rule: &mut Rule,
    start: Instant,
    wall: i64,
    health: Health,
    last_error: Option<String>,
    samples: u64,
    failures: u64,
) -> RuleOutcome {
    let duration = start.elapsed();
    let status = rule.status_mut();
    status.health = health;
    status.last_error = last_error;
    status.evaluation_time = duration;
    status.last_evaluation_ms = Some(wall);
    RuleOutcome {
        samples,
        failures,
        duration,
    }
}

/// Appends a rule's samples and stale markers for its series that
/// vanished since `previous`, then commits: the series written, or `None`
/// when the commit failed.
fn append(
    vector: &[OutSample],
    previous: &HashSet<Vec<Label>>,
    env: &RuleEnv<'_>,
    health: &mut Health,
    last_error: &mut Option<String>,
) -> Option<HashSet<Vec<Label>>> {
    let mut app = env.ctx.storage.appender();
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
    for series in previous {
        if !returned.contains(series) {
            // Errors are expected when another rule writes the series.
            let _ = app.append(series, env.stale_t, stale);
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
