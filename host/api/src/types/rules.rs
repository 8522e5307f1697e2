//! `/api/v1/rules`, `/api/v1/alerts` and `/api/v1/alertmanagers`: the rule
//! groups with each rule's state and active alerts, and the Alertmanagers
//! alerts are sent to, as the rule manager and the notifier report them.
//!
//! These answers are written as Prometheus 3 writes them (its
//! `web/api/v1/api.go` structs through jsoniter's standard-library mode):
//! fields in the order of its Go structs (not sorted, unlike the older
//! answers of this crate), label maps with sorted keys, strings with `<`,
//! `>` and `&` escaped, durations as Go's float seconds, times as Go's
//! `time.Time` (RFC 3339 with up to nine fractional digits; never set:
//! `0001-01-01T00:00:00Z`) and alert values as
//! `strconv.FormatFloat(v, 'e', -1, 64)`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::{Duration, SystemTime};
use wasmetheus_model::go::{format_float_e, json_float, write_json_string};

/// A rule group as the rule manager reports it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleGroup {
    pub name: String,
    /// The rule file the group is read from.
    pub file: String,
    /// The group's rules, in the file's order.
    pub rules: Vec<Rule>,
    /// How often the group is evaluated.
    pub interval: Duration,
    /// The group's `limit` (0: none).
    pub limit: i64,
    /// How long the group's last evaluation took.
    pub evaluation_time: Duration,
    /// When the group's last evaluation started; `None` before the first.
    pub last_evaluation: Option<SystemTime>,
}

/// A rule of a group.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    Alerting(AlertingRule),
    Recording(RecordingRule),
}

impl Rule {
    /// The alert's or the recorded series' name.
    pub fn name(&self) -> &str {
        match self {
            Rule::Alerting(r) => &r.name,
            Rule::Recording(r) => &r.name,
        }
    }

    /// The rule's configured labels (what `match[]` selects on).
    pub fn labels(&self) -> &BTreeMap<String, String> {
        match self {
            Rule::Alerting(r) => &r.labels,
            Rule::Recording(r) => &r.labels,
        }
    }
}

/// An alerting rule and its alerts.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertingRule {
    /// The highest state of its alerts; `Unknown` before the first
    /// evaluation, `Inactive` when none is pending or firing.
    pub state: AlertState,
    /// The `alert` name.
    pub name: String,
    /// The expression as Prometheus prints it (`Expr.String()`).
    pub query: String,
    /// `for`.
    pub duration: Duration,
    /// `keep_firing_for`.
    pub keep_firing_for: Duration,
    /// The configured labels (templates unexpanded).
    pub labels: BTreeMap<String, String>,
    /// The configured annotations (templates unexpanded).
    pub annotations: BTreeMap<String, String>,
    /// Its alerts. Only pending and firing ones are shown: an `Inactive`
    /// (resolved, still kept for resending) alert is left out, as
    /// Prometheus' `ActiveAlerts` leaves it out.
    pub alerts: Vec<Alert>,
    pub health: RuleHealth,
    /// The last evaluation's error; `None` (or empty) after a good one.
    pub last_error: Option<String>,
    /// How long its last evaluation took.
    pub evaluation_time: Duration,
    /// The time its last evaluation was for; `None` before the first.
    pub last_evaluation: Option<SystemTime>,
}

/// A recording rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingRule {
    /// The `record` name.
    pub name: String,
    /// The expression as Prometheus prints it (`Expr.String()`).
    pub query: String,
    /// The configured labels.
    pub labels: BTreeMap<String, String>,
    pub health: RuleHealth,
    /// The last evaluation's error; `None` (or empty) after a good one.
    pub last_error: Option<String>,
    /// How long its last evaluation took.
    pub evaluation_time: Duration,
    /// The time its last evaluation was for; `None` before the first.
    pub last_evaluation: Option<SystemTime>,
}

/// One alert of an alerting rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The alert's labels: the series' labels, the rule's labels
    /// (expanded) and `alertname`.
    pub labels: BTreeMap<String, String>,
    /// The rule's annotations, expanded for this alert.
    pub annotations: BTreeMap<String, String>,
    pub state: AlertState,
    /// When the alert became pending.
    pub active_at: SystemTime,
    /// Since when it has been kept firing by `keep_firing_for` after its
    /// condition cleared; `None` while the condition holds.
    pub keep_firing_since: Option<SystemTime>,
    /// The sample value of its last evaluation.
    pub value: f64,
}

/// The state of an alert, or (the highest of its alerts') of an alerting
/// rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum AlertState {
    /// A rule not evaluated yet.
    #[default]
    Unknown,
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    /// Prometheus' name of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Unknown => "unknown",
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// Whether a rule's last evaluation succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuleHealth {
    /// Not evaluated yet.
    #[default]
    Unknown,
    Ok,
    Err,
}

impl RuleHealth {
    /// Prometheus' name of the health.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleHealth::Unknown => "unknown",
            RuleHealth::Ok => "ok",
            RuleHealth::Err => "err",
        }
    }
}

/// The `data` of `/api/v1/alertmanagers`: the URLs alerts are posted to
/// (`…/api/v2/alerts`), and those `alert_relabel_configs`… dropped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlertmanagersStatus {
    pub active: Vec<String>,
    pub dropped: Vec<String>,
}

/// A group as `/api/v1/rules` shows it: the rules left after the
/// request's filters.
pub(crate) struct GroupView<'a> {
    pub(crate) group: &'a RuleGroup,
    pub(crate) rules: Vec<&'a Rule>,
}

/// Writes the `data` of `/api/v1/rules` (Prometheus' `RuleDiscovery`):
/// `groups`, then `groupNextToken` when there is a next page. With
/// `exclude_alerts`, each alerting rule's `alerts` is `null`, as
/// Prometheus writes its unset slice.
pub(crate) fn write_rule_discovery(
    out: &mut String,
    groups: &[GroupView<'_>],
    next_token: Option<&str>,
    exclude_alerts: bool,
) {
    out.push_str("{\"groups\":[");
    for (i, view) in groups.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_group(out, view, exclude_alerts);
    }
    out.push(']');
    if let Some(token) = next_token.filter(|t| !t.is_empty()) {
        out.push_str(",\"groupNextToken\":");
        write_json_string(out, token);
    }
    out.push('}');
}

fn write_group(out: &mut String, view: &GroupView<'_>, exclude_alerts: bool) {
    let group = view.group;
    out.push_str("{\"name\":");
    write_json_string(out, &group.name);
    out.push_str(",\"file\":");
    write_json_string(out, &group.file);
    out.push_str(",\"rules\":[");
    for (i, rule) in view.rules.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match rule {
            Rule::Alerting(rule) => write_alerting_rule(out, rule, exclude_alerts),
            Rule::Recording(rule) => write_recording_rule(out, rule),
        }
    }
    out.push_str("],\"interval\":");
    write_seconds(out, group.interval);
    let _ = write!(out, ",\"limit\":{}", group.limit);
    out.push_str(",\"evaluationTime\":");
    write_seconds(out, group.evaluation_time);
    out.push_str(",\"lastEvaluation\":");
    write_go_time(out, group.last_evaluation);
    out.push('}');
}

fn write_alerting_rule(out: &mut String, rule: &AlertingRule, exclude_alerts: bool) {
    out.push_str("{\"state\":\"");
    out.push_str(rule.state.as_str());
    out.push_str("\",\"name\":");
    write_json_string(out, &rule.name);
    out.push_str(",\"query\":");
    write_json_string(out, &rule.query);
    out.push_str(",\"duration\":");
    write_seconds(out, rule.duration);
    out.push_str(",\"keepFiringFor\":");
    write_seconds(out, rule.keep_firing_for);
    out.push_str(",\"labels\":");
    write_label_map(out, &rule.labels);
    out.push_str(",\"annotations\":");
    write_label_map(out, &rule.annotations);
    out.push_str(",\"alerts\":");
    if exclude_alerts {
        out.push_str("null");
    } else {
        write_alert_list(out, active_alerts([rule]));
    }
    write_evaluation(
        out,
        rule.health,
        rule.last_error.as_deref(),
        rule.evaluation_time,
        rule.last_evaluation,
    );
    out.push_str(",\"type\":\"alerting\"}");
}

/// A recording rule's `labels` are always written, `{}` when it has none:
/// Prometheus 3's labels (`stringlabels`, a struct) are never "empty" to
/// `omitempty`. Prometheus 2.42 (slice labels) leaves the field out.
fn write_recording_rule(out: &mut String, rule: &RecordingRule) {
    out.push_str("{\"name\":");
    write_json_string(out, &rule.name);
    out.push_str(",\"query\":");
    write_json_string(out, &rule.query);
    out.push_str(",\"labels\":");
    write_label_map(out, &rule.labels);
    write_evaluation(
        out,
        rule.health,
        rule.last_error.as_deref(),
        rule.evaluation_time,
        rule.last_evaluation,
    );
    out.push_str(",\"type\":\"recording\"}");
}

/// `health`, `lastError` (left out when empty), `evaluationTime` and
/// `lastEvaluation`, each after a comma.
fn write_evaluation(
    out: &mut String,
    health: RuleHealth,
    last_error: Option<&str>,
    evaluation_time: Duration,
    last_evaluation: Option<SystemTime>,
) {
    out.push_str(",\"health\":\"");
    out.push_str(health.as_str());
    out.push('"');
    if let Some(error) = last_error.filter(|e| !e.is_empty()) {
        out.push_str(",\"lastError\":");
        write_json_string(out, error);
    }
    out.push_str(",\"evaluationTime\":");
    write_seconds(out, evaluation_time);
    out.push_str(",\"lastEvaluation\":");
    write_go_time(out, last_evaluation);
}

/// The active (pending or firing) alerts of `rules`, in order.
pub(crate) fn active_alerts<'a>(
    rules: impl IntoIterator<Item = &'a AlertingRule>,
) -> impl Iterator<Item = &'a Alert> {
    rules
        .into_iter()
        .flat_map(|rule| &rule.alerts)
        .filter(|alert| alert.state > AlertState::Inactive)
}

/// Writes the `data` of `/api/v1/alerts` (Prometheus' `AlertDiscovery`).
pub(crate) fn write_alert_discovery<'a>(out: &mut String, alerts: impl Iterator<Item = &'a Alert>) {
    out.push_str("{\"alerts\":");
    write_alert_list(out, alerts);
    out.push('}');
}

fn write_alert_list<'a>(out: &mut String, alerts: impl Iterator<Item = &'a Alert>) {
    out.push('[');
    for (i, alert) in alerts.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_alert(out, alert);
    }
    out.push(']');
}

fn write_alert(out: &mut String, alert: &Alert) {
    out.push_str("{\"labels\":");
    write_label_map(out, &alert.labels);
    out.push_str(",\"annotations\":");
    write_label_map(out, &alert.annotations);
    out.push_str(",\"state\":\"");
    out.push_str(alert.state.as_str());
    out.push_str("\",\"activeAt\":");
    write_go_time(out, Some(alert.active_at));
    if let Some(since) = alert.keep_firing_since {
        out.push_str(",\"keepFiringSince\":");
        write_go_time(out, Some(since));
    }
    out.push_str(",\"value\":\"");
    out.push_str(&format_float_e(alert.value));
    out.push_str("\"}");
}

/// Writes the `data` of `/api/v1/alertmanagers` (Prometheus'
/// `AlertmanagerDiscovery`).
pub(crate) fn write_alertmanager_discovery(out: &mut String, status: &AlertmanagersStatus) {
    for (i, (key, urls)) in [
        ("activeAlertmanagers", &status.active),
        ("droppedAlertmanagers", &status.dropped),
    ]
    .into_iter()
    .enumerate()
    {
        out.push_str(if i == 0 { "{\"" } else { ",\"" });
        out.push_str(key);
        out.push_str("\":[");
        for (j, url) in urls.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str("{\"url\":");
            write_json_string(out, url);
            out.push('}');
        }
        out.push(']');
    }
    out.push('}');
}

/// A label set as `labels.Labels` marshals it: an object, keys sorted.
fn write_label_map(out: &mut String, labels: &BTreeMap<String, String>) {
    out.push('{');
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_string(out, name);
        out.push(':');
        write_json_string(out, value);
    }
    out.push('}');
}

/// A duration as Go's `Duration.Seconds()` in a JSON number.
fn write_seconds(out: &mut String, d: Duration) {
    out.push_str(&json_float(d.as_secs_f64()));
}

/// Go's zero `time.Time`, which an unset time marshals as.
const GO_ZERO_TIME: &str = "\"0001-01-01T00:00:00Z\"";

/// A time as Go's `time.Time` marshals one in UTC:
/// `2023-11-14T22:13:20.5Z`, the fraction's trailing zeros dropped; `None`
/// (or a time outside what can be printed) as Go's zero time.
fn write_go_time(out: &mut String, time: Option<SystemTime>) {
    let Some(ts) = time.and_then(|t| jiff::Timestamp::try_from(t).ok()) else {
        out.push_str(GO_ZERO_TIME);
        return;
    };
    let _ = write!(out, "\"{ts}\"");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    /// `lastError` is left out when empty (Go's `omitempty`), and a
    /// group's fields follow its rules.
    #[test]
    fn empty_errors_are_left_out() {
        let rule = |error: Option<&str>| {
            Rule::Recording(RecordingRule {
                name: "r".into(),
                query: "vector(1) < 2".into(),
                labels: BTreeMap::new(),
                health: RuleHealth::Err,
                last_error: error.map(str::to_owned),
                evaluation_time: Duration::from_micros(1_500),
                last_evaluation: None,
            })
        };
        let group = RuleGroup {
            name: "g".into(),
            file: "f.yml".into(),
            rules: vec![rule(None), rule(Some("")), rule(Some("a & b"))],
            interval: Duration::from_millis(1_500),
            limit: -1,
            ..RuleGroup::default()
        };
        let view = GroupView {
            group: &group,
            rules: group.rules.iter().collect(),
        };
        let mut out = String::new();
        write_rule_discovery(&mut out, &[view], Some("t"), false);
        let rule = |error: &str| {
            format!(
                r#"{{"name":"r","query":"vector(1) \u003c 2","labels":{{}},"health":"err",{error}"evaluationTime":0.0015,"lastEvaluation":"0001-01-01T00:00:00Z","type":"recording"}}"#
            )
        };
        let want = format!(
            r#"{{"groups":[{{"name":"g","file":"f.yml","rules":[{},{},{}],"interval":1.5,"limit":-1,"evaluationTime":0,"lastEvaluation":"0001-01-01T00:00:00Z"}}],"groupNextToken":"t"}}"#,
            rule(""),
            rule(""),
            rule(r#""lastError":"a \u0026 b","#),
        );
        assert_eq!(out, want);
    }

    #[test]
    fn times_as_go_marshals_them() {
        let at = |secs: u64, nanos: u32| Some(UNIX_EPOCH + Duration::new(secs, nanos));
        for (time, want) in [
            (None, "\"0001-01-01T00:00:00Z\""),
            (at(1_700_000_000, 0), "\"2023-11-14T22:13:20Z\""),
            (at(1_700_000_000, 500_000_000), "\"2023-11-14T22:13:20.5Z\""),
            (
                at(1_700_000_000, 123_456_789),
                "\"2023-11-14T22:13:20.123456789Z\"",
            ),
            (at(1_700_000_000, 1_000), "\"2023-11-14T22:13:20.000001Z\""),
            (Some(UNIX_EPOCH), "\"1970-01-01T00:00:00Z\""),
        ] {
            let mut out = String::new();
            write_go_time(&mut out, time);
            assert_eq!(out, want, "{time:?}");
        }
    }
}
