//! What every rule shares: its health and last error, the alert types
//! (`Alert`, `AlertState`), the evaluation context, the notify callback,
//! and the query function (Prometheus' `EngineQueryFunc`): an instant
//! query whose result must be a vector or a scalar.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wasmetheus_model::Label;
use wasmetheus_model::storage::Storage;
use wasmetheus_promql::engine::Engine;
use wasmetheus_promql::value::{SampleValue, Value};
use wasmetheus_template::{QueryBackend, QuerySample};

/// Called after each evaluation of an alerting rule with the alerts to
/// send: the group's evaluation time (ms), the rule's expression, and
/// the alerts (Prometheus' `NotifyFunc`).
pub type NotifyFunc = Arc<dyn Fn(i64, &str, &[Alert]) + Send + Sync>;

/// What a group's evaluation reads, writes and tells.
#[derive(Clone, Copy)]
pub struct EvalContext<'a> {
    pub engine: &'a Engine,
    pub storage: &'a dyn Storage,
    pub notify: Option<&'a NotifyFunc>,
}

/// A rule's health after its last evaluation (`ok`, `err`, `unknown` in
/// the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Health {
    #[default]
    Unknown,
    Good,
    Bad,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Good => "ok",
            Health::Bad => "err",
        }
    }
}

/// The state of one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum AlertState {
    #[default]
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One instance of an alerting rule (Prometheus' `rules.Alert`); times in
/// milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The result's labels without `__name__`, the rule's labels (expanded)
    /// over them, and `alertname`; sorted.
    pub labels: Vec<Label>,
    /// Expanded; sorted by name.
    pub annotations: Vec<Label>,
    pub state: AlertState,
    /// The expression's value at the last evaluation.
    pub value: f64,
    pub active_at_ms: i64,
    pub fired_at_ms: Option<i64>,
    pub resolved_at_ms: Option<i64>,
    pub last_sent_at_ms: Option<i64>,
    pub valid_until_ms: Option<i64>,
    pub keep_firing_since_ms: Option<i64>,
}

impl Alert {
    /// The `endsAt` Prometheus sends: the resolution time of a resolved
    /// alert, else `valid_until`.
    pub fn ends_at_ms(&self) -> Option<i64> {
        self.resolved_at_ms.or(self.valid_until_ms)
    }

    /// The `startsAt` Prometheus sends: when the alert fired (its
    /// `ActiveAt` for an alert that never fired).
    pub fn starts_at_ms(&self) -> i64 {
        self.fired_at_ms.unwrap_or(self.active_at_ms)
    }

    /// Prometheus' `needsSending`.
    pub(crate) fn needs_sending(&self, ts: i64, resend_delay: Duration) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        // Resolved since the last send: send again.
        if let Some(resolved) = self.resolved_at_ms
            && self.last_sent_at_ms.is_none_or(|sent| resolved > sent)
        {
            return true;
        }
        match self.last_sent_at_ms {
            None => true,
            Some(sent) => sent.saturating_add(duration_ms(resend_delay)) < ts,
        }
    }
}

/// What every rule reports about its last evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleStatus {
    pub health: Health,
    pub last_error: Option<String>,
    /// How long the last evaluation took.
    pub evaluation_time: Duration,
    /// When it started (ms since the epoch), if it ran.
    pub last_evaluation_ms: Option<i64>,
}

/// One sample a rule produced.
#[derive(Debug, Clone, PartialEq)]
pub struct OutSample {
    /// Sorted by name, `__name__` included.
    pub labels: Vec<Label>,
    pub t: i64,
    pub v: f64,
}

/// A duration in whole milliseconds (saturating).
pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Prometheus' `EngineQueryFunc`: the instant query `expr` at `t` as a
/// vector (a scalar is one sample without labels). Native histograms are
/// left out: rules record floats.
pub(crate) fn query_vector(
    ctx: &EvalContext,
    expr: &str,
    t: i64,
) -> Result<Vec<(Vec<Label>, f64)>, String> {
    let (value, _) = ctx
        .engine
        .query_instant(ctx.storage, expr, t)
        .map_err(|e| e.to_string())?;
    match value {
        Value::Vector(samples) => Ok(samples
            .into_iter()
            .filter_map(|s| match s.value {
                SampleValue::Float(v) => Some((s.labels, v)),
                SampleValue::Histogram(_) => None,
            })
            .collect()),
        Value::Scalar(_, v) => Ok(vec![(Vec::new(), v)]),
        _ => Err("rule result is not a vector or scalar".to_owned()),
    }
}

/// The template `query` function over the rule's engine and storage.
pub(crate) struct TemplateQuery<'a> {
    pub engine: &'a Engine,
    pub storage: &'a dyn Storage,
}

impl QueryBackend for TemplateQuery<'_> {
    fn query(&self, expr: &str, timestamp_ms: i64) -> Result<Vec<QuerySample>, String> {
        let ctx = EvalContext {
            engine: self.engine,
            storage: self.storage,
            notify: None,
        };
        Ok(query_vector(&ctx, expr, timestamp_ms)?
            .into_iter()
            .map(|(labels, value)| QuerySample {
                labels: labels.into_iter().map(|l| (l.name, l.value)).collect(),
                value,
            })
            .collect())
    }
}

/// Sets `name` to `value` in sorted `labels`; an empty value removes it
/// (Prometheus' `labels.Builder.Set`).
pub(crate) fn set_label(labels: &mut Vec<Label>, name: &str, value: &str) {
    match labels.binary_search_by(|l| l.name.as_str().cmp(name)) {
        Ok(i) if value.is_empty() => {
            labels.remove(i);
        }
        Ok(i) => labels[i].value = value.to_owned(),
        Err(_) if value.is_empty() => {}
        Err(i) => labels.insert(i, Label::new(name, value)),
    }
}

/// Rule labels over group labels (Prometheus' `FromMaps`), sorted.
pub(crate) fn merge_labels(group: &[Label], rule: &[Label]) -> Vec<Label> {
    let mut out: Vec<Label> = group.to_vec();
    out.sort();
    for l in rule {
        match out.binary_search_by(|o| o.name.cmp(&l.name)) {
            Ok(i) => out[i].value = l.value.clone(),
            Err(i) => out.insert(i, l.clone()),
        }
    }
    out
}

/// The wall clock in ms since the epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
