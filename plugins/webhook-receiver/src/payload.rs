//! Alertmanager's webhook message, version 4, byte for byte as its
//! `json.NewEncoder(...).Encode(msg)` writes it: the fields of
//! `template.Data`, then `version`, `groupKey`, `truncatedAlerts`; maps with
//! sorted keys; `<`, `>`, `&`, U+2028 and U+2029 escaped as Go does; a
//! final newline.

use serde::Serialize;
use std::collections::BTreeMap;
use wasmetheus_sdk::receiver::{Alert, Notification};

/// Go's zero `time.Time`, which a firing alert's `endsAt` holds.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Message<'a> {
    receiver: &'a str,
    status: &'a str,
    alerts: Vec<AlertJson<'a>>,
    group_labels: BTreeMap<&'a str, &'a str>,
    common_labels: BTreeMap<&'a str, &'a str>,
    common_annotations: BTreeMap<&'a str, &'a str>,
    #[serde(rename = "externalURL")]
    external_url: &'a str,
    version: &'a str,
    group_key: &'a str,
    truncated_alerts: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlertJson<'a> {
    status: &'a str,
    labels: BTreeMap<&'a str, &'a str>,
    annotations: BTreeMap<&'a str, &'a str>,
    starts_at: &'a str,
    ends_at: &'a str,
    #[serde(rename = "generatorURL")]
    generator_url: &'a str,
    fingerprint: &'a str,
}

fn map(pairs: &[(String, String)]) -> BTreeMap<&str, &str> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

fn alert(a: &Alert) -> AlertJson<'_> {
    AlertJson {
        status: &a.status,
        labels: map(&a.labels),
        annotations: map(&a.annotations),
        starts_at: &a.starts_at,
        ends_at: if a.ends_at.is_empty() {
            GO_ZERO_TIME
        } else {
            &a.ends_at
        },
        generator_url: &a.generator_url,
        fingerprint: &a.fingerprint,
    }
}

/// serde_json's compact output with Go's HTML-safe string escapes.
struct GoFormatter;

impl serde_json::ser::Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escape = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(escape.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// The body to POST for `notification`, keeping at most `max_alerts`
/// alerts (0: all); the ones left out are added to `truncatedAlerts`.
pub fn body(notification: &Notification, max_alerts: u64) -> Vec<u8> {
    let keep = match usize::try_from(max_alerts) {
        Ok(0) | Err(_) => notification.alerts.len(),
        Ok(n) => n.min(notification.alerts.len()),
    };
    let truncated = (notification.alerts.len() - keep) as u64;
    let message = Message {
        receiver: &notification.receiver,
        status: &notification.status,
        alerts: notification.alerts[..keep].iter().map(alert).collect(),
        group_labels: map(&notification.group_labels),
        common_labels: map(&notification.common_labels),
        common_annotations: map(&notification.common_annotations),
        external_url: &notification.external_url,
        version: "4",
        group_key: &notification.group_key,
        truncated_alerts: u64::from(notification.truncated_alerts) + truncated,
    };
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    // Serialising strings and maps of strings into a Vec cannot fail.
    if message.serialize(&mut serializer).is_err() {
        out.clear();
    }
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn notification(alerts: usize) -> Notification {
        Notification {
            receiver: "team-x".into(),
            status: "firing".into(),
            alerts: (0..alerts)
                .map(|i| Alert {
                    status: if i == 0 { "firing" } else { "resolved" }.into(),
                    labels: pairs(&[("instance", &format!("host{i}")), ("alertname", "Down")]),
                    annotations: pairs(&[("summary", "a <b> & c\u{2028}")]),
                    starts_at: "2026-01-02T03:04:05.123Z".into(),
                    ends_at: if i == 0 {
                        String::new()
                    } else {
                        "2026-01-02T04:00:00Z".into()
                    },
                    generator_url: "http://prom:9090/graph?g0.expr=up".into(),
                    fingerprint: format!("{i:016x}"),
                })
                .collect(),
            group_labels: pairs(&[("alertname", "Down")]),
            common_labels: pairs(&[("alertname", "Down")]),
            common_annotations: Vec::new(),
            external_url: "http://am:9093".into(),
            group_key: "{}:{alertname=\"Down\"}".into(),
            truncated_alerts: 0,
        }
    }

    #[test]
    fn message_as_alertmanager_encodes_it() {
        let body = String::from_utf8(body(&notification(2), 0)).unwrap();
        expect_test::expect![[r#"
            {"receiver":"team-x","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"Down","instance":"host0"},"annotations":{"summary":"a \u003cb\u003e \u0026 c\u2028"},"startsAt":"2026-01-02T03:04:05.123Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prom:9090/graph?g0.expr=up","fingerprint":"0000000000000000"},{"status":"resolved","labels":{"alertname":"Down","instance":"host1"},"annotations":{"summary":"a \u003cb\u003e \u0026 c\u2028"},"startsAt":"2026-01-02T03:04:05.123Z","endsAt":"2026-01-02T04:00:00Z","generatorURL":"http://prom:9090/graph?g0.expr=up","fingerprint":"0000000000000001"}],"groupLabels":{"alertname":"Down"},"commonLabels":{"alertname":"Down"},"commonAnnotations":{},"externalURL":"http://am:9093","version":"4","groupKey":"{}:{alertname=\"Down\"}","truncatedAlerts":0}
        "#]]
        .assert_eq(&body);
    }

    #[test]
    fn max_alerts_truncates_and_counts() {
        let cases = [(0, 5, 0), (3, 3, 2), (5, 5, 0), (9, 5, 0), (1, 1, 4)];
        for (max, kept, truncated) in cases {
            let mut n = notification(5);
            let json: serde_json::Value = serde_json::from_slice(&body(&n, max)).unwrap();
            assert_eq!(json["alerts"].as_array().unwrap().len(), kept, "{max}");
            assert_eq!(json["truncatedAlerts"], truncated, "{max}");
            // Alerts the host left out already add to the count.
            n.truncated_alerts = 7;
            let json: serde_json::Value = serde_json::from_slice(&body(&n, max)).unwrap();
            assert_eq!(json["truncatedAlerts"], truncated + 7, "{max}");
        }
    }
}
