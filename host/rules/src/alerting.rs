//! Alerting rules (Prometheus' `rules/alerting.go`): each result of the
//! expression is an alert, identified by its labels (the result's without
//! `__name__`, the rule's expanded labels over them, `alertname`); alerts
//! go pending → firing after `for`, stay firing `keep_firing_for` after
//! their result vanishes, and resolved ones are kept 15 minutes so the
//! Alertmanager hears of the resolution. Each evaluation writes `ALERTS`
//! and `ALERTS_FOR_STATE` for the pending and firing alerts.

use std::collections::BTreeMap;
use std::time::Duration;

use wasmetheus_model::Label;
use wasmetheus_template::{AlertData, expand_alert};

use crate::rule::{
    Alert, AlertState, EvalContext, NotifyFunc, OutSample, RuleStatus, TemplateQuery, duration_ms,
    query_vector, set_label,
};

/// How long a resolved alert is kept (and sent as resolved).
pub const RESOLVED_RETENTION: Duration = Duration::from_secs(15 * 60);

/// An alerting rule.
#[derive(Debug, Clone)]
pub struct AlertingRule {
    pub(crate) name: String,
    /// The expression in canonical PromQL.
    pub(crate) query: String,
    pub(crate) hold: Duration,
    pub(crate) keep_firing_for: Duration,
    /// Group labels under rule labels, sorted (templates unexpanded).
    pub(crate) labels: Vec<Label>,
    pub(crate) annotations: Vec<Label>,
    pub(crate) external_labels: Vec<(String, String)>,
    pub(crate) external_url: String,
    /// Whether the for-state was restored (or needs none): `ALERTS` and
    /// `ALERTS_FOR_STATE` are written only then.
    pub(crate) restored: bool,
    /// Alerts by their labels.
    pub(crate) active: BTreeMap<Vec<Label>, Alert>,
    pub(crate) status: RuleStatus,
}

/// How an alerting rule is built.
#[derive(Debug, Clone, Default)]
pub struct AlertingRuleSpec {
    pub name: String,
    pub query: String,
    pub hold: Duration,
    pub keep_firing_for: Duration,
    pub labels: Vec<Label>,
    pub annotations: Vec<Label>,
    pub external_labels: Vec<Label>,
    pub external_url: String,
    pub restored: bool,
}

impl AlertingRule {
    pub fn new(spec: AlertingRuleSpec) -> Self {
        AlertingRule {
            name: spec.name,
            query: spec.query,
            hold: spec.hold,
            keep_firing_for: spec.keep_firing_for,
            labels: spec.labels,
            annotations: spec.annotations,
            external_labels: spec
                .external_labels
                .into_iter()
                .map(|l| (l.name, l.value))
                .collect(),
            external_url: spec.external_url,
            restored: spec.restored,
            active: BTreeMap::new(),
            status: RuleStatus::default(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn query(&self) -> &str {
        &self.query
    }

    /// `for`.
    pub fn hold_duration(&self) -> Duration {
        self.hold
    }

    pub fn keep_firing_for(&self) -> Duration {
        self.keep_firing_for
    }

    pub fn labels(&self) -> &[Label] {
        &self.labels
    }

    pub fn annotations(&self) -> &[Label] {
        &self.annotations
    }

    pub fn status(&self) -> &RuleStatus {
        &self.status
    }

    pub fn is_restored(&self) -> bool {
        self.restored
    }

    /// The highest state of its alerts.
    pub fn state(&self) -> AlertState {
        self.active
            .values()
            .map(|a| a.state)
            .max()
            .unwrap_or(AlertState::Inactive)
    }

    /// The alerts not resolved (pending or firing), by labels.
    pub fn active_alerts(&self) -> Vec<Alert> {
        self.active
            .values()
            .filter(|a| a.resolved_at_ms.is_none())
            .cloned()
            .collect()
    }

    /// Every alert held, resolved ones included.
    pub fn current_alerts(&self) -> Vec<Alert> {
        self.active.values().cloned().collect()
    }

    /// Evaluates at `ts` (the query at `ts - query_offset`): the `ALERTS`
    /// and `ALERTS_FOR_STATE` samples to write, or Prometheus' error text.
    pub(crate) fn eval(
        &mut self,
        ts: i64,
        query_offset: Duration,
        ctx: &EvalContext,
        limit: i64,
    ) -> Result<Vec<OutSample>, String> {
        let query_ts = ts.saturating_sub(duration_ms(query_offset));
        let result = query_vector(ctx, &self.query, query_ts)?;
        let backend = TemplateQuery {
            engine: ctx.engine,
            storage: ctx.storage,
        };
        let mut alerts: BTreeMap<Vec<Label>, Alert> = BTreeMap::new();
        for (metric, value) in result {
            let pairs: Vec<(String, String)> = metric
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect();
            let data = AlertData {
                labels: &pairs,
                external_labels: &self.external_labels,
                external_url: &self.external_url,
                value,
            };
            let expand = |text: &str| -> String {
                match expand_alert(&self.name, text, &data, ts, &backend, &self.external_url) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(alert = %self.name, err = %e, "Expanding alert template failed");
                        format!("<error expanding template: {e}>")
                    }
                }
            };
            let mut labels = metric.clone();
            set_label(&mut labels, "__name__", "");
            for l in &self.labels {
                set_label(&mut labels, &l.name, &expand(&l.value));
            }
            set_label(&mut labels, "alertname", &self.name);
            let annotations: Vec<Label> = self
                .annotations
                .iter()
                .map(|a| Label::new(a.name.clone(), expand(&a.value)))
                .collect();
            if alerts.contains_key(&labels) {
                return Err(
                    "vector contains metrics with the same labelset after applying alert labels"
                        .to_owned(),
                );
            }
            alerts.insert(
                labels.clone(),
                Alert {
                    labels,
                    annotations,
                    state: AlertState::Pending,
                    value,
                    active_at_ms: ts,
                    fired_at_ms: None,
                    resolved_at_ms: None,
                    last_sent_at_ms: None,
                    valid_until_ms: None,
                    keep_firing_since_ms: None,
                },
            );
        }
        for (key, alert) in &alerts {
            match self.active.get_mut(key) {
                Some(held) if held.state != AlertState::Inactive => {
                    held.value = alert.value;
                    held.annotations = alert.annotations.clone();
                }
                _ => {
                    self.active.insert(key.clone(), alert.clone());
                }
            }
        }
        let hold = duration_ms(self.hold);
        let keep_firing_for = duration_ms(self.keep_firing_for);
        let retention = duration_ms(RESOLVED_RETENTION);
        let mut vec = Vec::new();
        let mut active_pending = 0i64;
        let mut remove = Vec::new();
        for (key, a) in self.active.iter_mut() {
            if !alerts.contains_key(key) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && keep_firing_for > 0 {
                    let since = *a.keep_firing_since_ms.get_or_insert(ts);
                    keep_firing = ts - since < keep_firing_for;
                }
                if a.state == AlertState::Pending
                    || a.resolved_at_ms.is_some_and(|r| ts - r > retention)
                {
                    remove.push(key.clone());
                }
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at_ms = Some(ts);
                }
                if !keep_firing {
                    continue;
                }
            } else {
                a.keep_firing_since_ms = None;
            }
            active_pending += 1;
            if a.state == AlertState::Pending && ts.saturating_sub(a.active_at_ms) >= hold {
                a.state = AlertState::Firing;
                a.fired_at_ms = Some(ts);
            }
            if self.restored {
                let (name, labels) = (&self.name, &self.labels);
                vec.push(series_sample(
                    name,
                    labels,
                    a,
                    query_ts,
                    "ALERTS",
                    Some(a.state),
                    1.0,
                ));
                let since = a.active_at_ms.div_euclid(1000) as f64;
                vec.push(series_sample(
                    name,
                    labels,
                    a,
                    query_ts,
                    "ALERTS_FOR_STATE",
                    None,
                    since,
                ));
            }
        }
        for key in remove {
            self.active.remove(&key);
        }
        if limit > 0 && active_pending > limit {
            self.active.clear();
            return Err(format!(
                "exceeded limit of {limit} with {active_pending} alerts"
            ));
        }
        Ok(vec)
    }

    /// Prometheus' `sendAlerts`: the alerts due (firing ones every
    /// `resend_delay`, resolved ones once more), each valid for four
    /// times the larger of the resend delay and the group interval.
    pub(crate) fn send_alerts(
        &mut self,
        ts: i64,
        resend_delay: Duration,
        interval: Duration,
        notify: Option<&NotifyFunc>,
    ) {
        let delta = duration_ms(resend_delay.max(interval));
        let mut due = Vec::new();
        for alert in self.active.values_mut() {
            if alert.needs_sending(ts, resend_delay) {
                alert.last_sent_at_ms = Some(ts);
                alert.valid_until_ms = Some(ts.saturating_add(delta.saturating_mul(4)));
                due.push(alert.clone());
            }
        }
        if let Some(notify) = notify {
            notify(ts, &self.query, &due);
        }
    }
}

/// `ALERTS`/`ALERTS_FOR_STATE` of an alert: the rule's labels, the
/// alert's over them, then the name, `alertname` and `alertstate`.
fn series_sample(
    rule: &str,
    rule_labels: &[Label],
    alert: &Alert,
    t: i64,
    metric: &str,
    state: Option<AlertState>,
    v: f64,
) -> OutSample {
    let mut labels = rule_labels.to_vec();
    for l in &alert.labels {
        set_label(&mut labels, &l.name, &l.value);
    }
    set_label(&mut labels, "__name__", metric);
    set_label(&mut labels, "alertname", rule);
    if let Some(state) = state {
        set_label(&mut labels, "alertstate", state.as_str());
    }
    OutSample { labels, t, v }
}
