//! The alert the notifier sends (Prometheus' `notifier.Alert`), the
//! relabeling every alert goes through (`relabelAlerts`: external labels
//! that do not override, then the rules) and the JSON body of Alertmanager
//! API v2's `POST /api/v2/alerts`, written as Prometheus' generated
//! OpenAPI models marshal it.

use std::fmt::Write;

use wasmetheus_model::Label;
use wasmetheus_model::go::write_json_string;
use wasmetheus_relabel::RelabelConfig;

/// One alert, as the rule manager hands it over (the server converts).
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The identity of the alert, sorted by name; must carry `alertname`.
    pub labels: Vec<Label>,
    /// Extra information that is not part of its identity.
    pub annotations: Vec<Label>,
    /// When it started firing (ms since the epoch).
    pub starts_at_ms: i64,
    /// When it stops (resolved) or is valid until (firing); `None` for
    /// Go's zero time.
    pub ends_at_ms: Option<i64>,
    /// Link back to the expression that produced it; empty for none.
    pub generator_url: String,
}

impl Alert {
    /// The value of its `alertname` label.
    pub fn name(&self) -> &str {
        self.labels
            .iter()
            .find(|l| l.name == "alertname")
            .map_or("", |l| l.value.as_str())
    }

    /// Prometheus' `ResolvedAt`: it has an end and that end is not after
    /// `now_ms`.
    pub fn resolved_at(&self, now_ms: i64) -> bool {
        self.ends_at_ms.is_some_and(|end| end <= now_ms)
    }

    /// [`Alert::resolved_at`] the current time.
    pub fn resolved(&self) -> bool {
        self.resolved_at(now_ms())
    }
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Prometheus' `relabelAlerts`: every external label the alert does not
/// have (or has empty) is added, then `configs` are applied; an alert the
/// rules drop is left out.
pub(crate) fn relabel_alerts(
    configs: &[RelabelConfig],
    external_labels: &[Label],
    alerts: &[Alert],
) -> Vec<Alert> {
    let mut out = Vec::with_capacity(alerts.len());
    for alert in alerts {
        let labels = with_external_labels(&alert.labels, external_labels);
        let Some(labels) = wasmetheus_relabel::relabel(&labels, configs) else {
            continue;
        };
        out.push(Alert {
            labels,
            ..alert.clone()
        });
    }
    out
}

/// `labels` plus each of `external` whose name `labels` lacks (or holds
/// empty), sorted by name.
fn with_external_labels(labels: &[Label], external: &[Label]) -> Vec<Label> {
    let mut merged: Vec<Label> = labels.to_vec();
    for ext in external {
        let present = labels
            .iter()
            .any(|l| l.name == ext.name && !l.value.is_empty());
        if !present {
            merged.retain(|l| l.name != ext.name);
            merged.push(ext.clone());
        }
    }
    merged.sort_by(|a, b| a.name.cmp(&b.name));
    merged
}

/// The body of `POST /api/v2/alerts`: Prometheus' `models.PostableAlerts`
/// as Go marshals it. Each object's keys come in the generated model's
/// order (`annotations`, `endsAt`, `startsAt`, then the embedded `Alert`'s
/// `generatorURL` and `labels`); `annotations` and `generatorURL` are left
/// out when empty, `labels` never; label sets are maps, so names are sorted
/// and a repeated name keeps its last value; times are RFC 3339 with
/// milliseconds in UTC, an absent end being Go's zero time.
pub fn encode_alerts(alerts: &[Alert]) -> String {
    let mut out = String::with_capacity(alerts.len() * 256);
    out.push('[');
    for (i, alert) in alerts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        if !alert.annotations.is_empty() {
            out.push_str("\"annotations\":");
            write_label_set(&mut out, &alert.annotations);
            out.push(',');
        }
        let _ = write!(
            out,
            "\"endsAt\":\"{}\",\"startsAt\":\"{}\",",
            go_time(alert.ends_at_ms),
            go_time(Some(alert.starts_at_ms))
        );
        if !alert.generator_url.is_empty() {
            out.push_str("\"generatorURL\":");
            write_json_string(&mut out, &alert.generator_url);
            out.push(',');
        }
        out.push_str("\"labels\":");
        write_label_set(&mut out, &alert.labels);
        out.push('}');
    }
    out.push(']');
    out
}

/// A label set as a Go `map[string]string` marshals: sorted keys, the last
/// of repeated names.
fn write_label_set(out: &mut String, labels: &[Label]) {
    let mut sorted: Vec<&Label> = labels.iter().collect();
    // Stable: among equal names the last one given stays last.
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    out.push('{');
    let mut first = true;
    for (i, label) in sorted.iter().enumerate() {
        if sorted
            .get(i + 1)
            .is_some_and(|next| next.name == label.name)
        {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        write_json_string(out, &label.name);
        out.push(':');
        write_json_string(out, &label.value);
    }
    out.push('}');
}

/// Go's `strfmt.DateTime` text: `2006-01-02T15:04:05.000Z07:00` in UTC;
/// `None` is Go's zero time. Times before year 1 or after jiff's last
/// instant (9999-12-30T22:00:00Z) are clamped to them.
fn go_time(ms: Option<i64>) -> String {
    let Some(ms) = ms else {
        return "0001-01-01T00:00:00.000Z".to_owned();
    };
    // 0001-01-01T00:00:00Z and jiff's last whole millisecond.
    let ms = ms.clamp(-62_135_596_800_000, 253_402_207_200_000);
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Err(_) => "0001-01-01T00:00:00.000Z".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
        pairs.iter().map(|(n, v)| Label::new(*n, *v)).collect()
    }

    #[test]
    fn times_are_go_rfc3339_millis() {
        assert_eq!(go_time(None), "0001-01-01T00:00:00.000Z");
        assert_eq!(go_time(Some(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(go_time(Some(1_700_000_000_123)), "2023-11-14T22:13:20.123Z");
        assert_eq!(go_time(Some(-1)), "1969-12-31T23:59:59.999Z");
        assert_eq!(go_time(Some(i64::MAX)), "9999-12-30T22:00:00.000Z");
        assert_eq!(go_time(Some(i64::MIN)), "0001-01-01T00:00:00.000Z");
    }

    #[test]
    fn resolved_means_ended_at_or_before_now() {
        let mut alert = Alert {
            labels: labels(&[("alertname", "A")]),
            annotations: vec![],
            starts_at_ms: 0,
            ends_at_ms: None,
            generator_url: String::new(),
        };
        assert!(!alert.resolved_at(100));
        alert.ends_at_ms = Some(100);
        assert!(alert.resolved_at(100));
        assert!(!alert.resolved_at(99));
        assert_eq!(alert.name(), "A");
    }

    #[test]
    fn external_labels_do_not_override() {
        let got = with_external_labels(
            &labels(&[("a", "1"), ("empty", ""), ("z", "2")]),
            &labels(&[("a", "ext"), ("b", "ext"), ("empty", "ext")]),
        );
        assert_eq!(
            got,
            labels(&[("a", "1"), ("b", "ext"), ("empty", "ext"), ("z", "2")])
        );
    }

    #[test]
    fn label_sets_are_maps() {
        let mut out = String::new();
        write_label_set(&mut out, &labels(&[("b", "1"), ("a", "<&>"), ("b", "2")]));
        assert_eq!(out, r#"{"a":"\u003c\u0026\u003e","b":"2"}"#);
    }
}
