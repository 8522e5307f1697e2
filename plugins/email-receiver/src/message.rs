//! The email Alertmanager sends for a notification: the template data of
//! the notification, the configured headers rendered and Q-encoded
//! (`Subject`, `To`, `From` and any others, by name), `Message-Id`, the
//! threading headers when enabled, `Date`, and a `multipart/alternative`
//! body with the text part (when `text` is set) and the HTML part (when
//! `html` renders from a non-empty template), both quoted-printable.
//!
//! Go writes the headers in its map's random order; here they are sorted
//! by name.

use crate::config::{Settings, ThreadBy};
use crate::mime::{Multipart, q_encode, quoted_printable};
use std::collections::BTreeMap;
use wasmetheus_sdk::receiver::Notification;
use wasmetheus_template::Value;
use wasmetheus_template::alertmanager::{Alert, AlertStatus, Data, ZERO_TIME_NS};

/// What the message depends on besides the notification: the time, random
/// numbers (Message-Id, boundary) and the host name in the Message-Id.
pub struct Env<'a> {
    pub now: jiff::Timestamp,
    pub random: &'a mut dyn FnMut() -> u64,
    pub hostname: &'a str,
}

/// A time of the notification (RFC 3339) in nanoseconds; an empty or
/// unreadable time is Go's zero time, which is what Alertmanager shows for
/// an unknown end.
fn nanos(rfc3339: &str) -> i128 {
    rfc3339
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_nanosecond())
        .unwrap_or(ZERO_TIME_NS)
}

fn map(pairs: &[(String, String)]) -> BTreeMap<String, String> {
    pairs.iter().cloned().collect()
}

/// The template data of a notification (Alertmanager's
/// `notify.GetTemplateData`), as the host computed it: the receiver's name
/// quoted, the status, the common labels and annotations.
pub fn template_data(n: &Notification) -> Value {
    let alerts = n
        .alerts
        .iter()
        .map(|a| Alert {
            status: if a.status == "resolved" {
                AlertStatus::Resolved
            } else {
                AlertStatus::Firing
            },
            labels: map(&a.labels),
            annotations: map(&a.annotations),
            starts_at: nanos(&a.starts_at),
            ends_at: nanos(&a.ends_at),
            generator_url: a.generator_url.clone(),
            fingerprint: a.fingerprint.clone(),
        })
        .collect();
    Data {
        // Already quoted as a regular expression by the host, as
        // Alertmanager's data and webhook payload carry it.
        receiver: n.receiver.clone(),
        status: n.status.clone(),
        alerts,
        group_labels: map(&n.group_labels),
        common_labels: map(&n.common_labels),
        common_annotations: map(&n.common_annotations),
        external_url: n.external_url.clone(),
    }
    .to_value()
}

/// Why a message could not be built: a template failed (Alertmanager's
/// texts; not retried).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError(pub String);

/// Hex of `bytes` random bytes.
fn random_hex(random: &mut dyn FnMut() -> u64, bytes: usize) -> String {
    let mut out = String::with_capacity(bytes * 2);
    while out.len() < bytes * 2 {
        for b in random().to_le_bytes() {
            if out.len() < bytes * 2 {
                out.push_str(&format!("{b:02x}"));
            }
        }
    }
    out
}

/// Alertmanager's `Key.Hash()`: the SHA-256 of the group key, hex.
fn group_key_hash(key: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The message's header and body, before dot-stuffing.
pub fn build(
    s: &Settings,
    n: &Notification,
    data: &Value,
    env: &mut Env<'_>,
) -> Result<Vec<u8>, BuildError> {
    let mut head = String::new();
    for (name, template) in &s.headers {
        let value = s
            .templates
            .execute_text(template, data)
            .map_err(|e| BuildError(format!("execute \"{name}\" header template: {e}")))?;
        head.push_str(&format!("{name}: {}\r\n", q_encode(&value)));
    }
    if !s.headers.contains_key("Message-Id") {
        let nanos = env.now.as_nanosecond();
        let r = (env.random)();
        head.push_str(&format!("Message-Id: <{nanos}.{r}@{}>\r\n", env.hostname));
    }
    if let Some(by) = s.threading {
        let by = match by {
            ThreadBy::Daily => env.now.strftime("%Y-%m-%d").to_string(),
            ThreadBy::None => String::new(),
        };
        let hash = group_key_hash(&n.group_key);
        let root = format!("<alert-{}-{by}@alertmanager>", &hash[..16]);
        head.push_str(&format!("References: {root}\r\nIn-Reply-To: {root}\r\n"));
    }
    let boundary = random_hex(env.random, 30);
    head.push_str(&format!(
        "Date: {}\r\n",
        env.now.strftime("%a, %d %b %Y %H:%M:%S +0000")
    ));
    head.push_str(&format!(
        "Content-Type: multipart/alternative;  boundary={boundary}\r\n"
    ));
    head.push_str("MIME-Version: 1.0\r\n\r\n");

    let mut parts = Multipart::new(boundary);
    if !s.text.is_empty() {
        let body = s
            .templates
            .execute_text(&s.text, data)
            .map_err(|e| BuildError(format!("execute text template: {e}")))?;
        parts.part(
            &[
                ("Content-Transfer-Encoding", "quoted-printable"),
                ("Content-Type", "text/plain; charset=UTF-8"),
            ],
            &quoted_printable(body.as_bytes()),
        );
    }
    if !s.html.is_empty() {
        let body = s
            .templates
            .execute_html(&s.html, data)
            .map_err(|e| BuildError(format!("execute html template: {e}")))?;
        parts.part(
            &[
                ("Content-Transfer-Encoding", "quoted-printable"),
                ("Content-Type", "text/html; charset=UTF-8"),
            ],
            &quoted_printable(body.as_bytes()),
        );
    }
    let mut out = head.into_bytes();
    out.extend_from_slice(&parts.finish());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use wasmetheus_sdk::receiver::Alert as SdkAlert;

    fn settings(config: serde_json::Value) -> Settings {
        let c: Config = wasmetheus_sdk::config::parse(&config.to_string()).unwrap();
        c.settings().unwrap()
    }

    pub fn notification() -> Notification {
        Notification {
            receiver: "team-x".into(),
            status: "firing".into(),
            alerts: vec![SdkAlert {
                status: "firing".into(),
                labels: vec![
                    ("alertname".into(), "HostDown".into()),
                    ("instance".into(), "db-1".into()),
                ],
                annotations: vec![("summary".into(), "db-1 <down> & out".into())],
                starts_at: "2026-01-02T03:04:05Z".into(),
                ends_at: String::new(),
                generator_url: "http://prom/graph?g0.expr=up".into(),
                fingerprint: "0123456789abcdef".into(),
            }],
            group_labels: vec![("alertname".into(), "HostDown".into())],
            common_labels: vec![
                ("alertname".into(), "HostDown".into()),
                ("instance".into(), "db-1".into()),
            ],
            common_annotations: vec![("summary".into(), "db-1 <down> & out".into())],
            external_url: "http://am:9093".into(),
            group_key: "{}:{alertname=\"HostDown\"}".into(),
            truncated_alerts: 0,
        }
    }

    fn build_with(config: serde_json::Value) -> String {
        let s = settings(config);
        let n = notification();
        let mut counter = 0u64;
        let mut random = || {
            counter += 1;
            counter
        };
        let mut env = Env {
            now: "2026-01-02T03:05:00.5Z".parse().unwrap(),
            random: &mut random,
            hostname: "localhost.localdomain",
        };
        let out = build(&s, &n, &template_data(&n), &mut env).unwrap();
        String::from_utf8(out).unwrap().replace("\r\n", "\n")
    }

    #[test]
    fn message_with_text_and_custom_headers() {
        let out = build_with(serde_json::json!({"config": {
            "to": "ops@example.com, Bob <b@example.com>", "from": "Alertmanager <am@example.com>",
            "smarthost": "mail:25",
            "headers": {"x-team": "{{ .GroupLabels.alertname }} ünïcode", "subject": "[{{ .Status }}] {{ .CommonLabels.alertname }}"},
            "text": "{{ range .Alerts }}{{ .Labels.instance }}: {{ .Annotations.summary }}\n{{ end }}. a line opening with a dot",
            "html": "<b>{{ .CommonAnnotations.summary }}</b>{{ (index .Alerts 0).Annotations.summary }}"
        }}));
        expect_test::expect![[r#"
            From: Alertmanager <am@example.com>
            Subject: [firing] HostDown
            To: ops@example.com, Bob <b@example.com>
            X-Team: =?utf-8?q?HostDown_=C3=BCn=C3=AFcode?=
            Message-Id: <1767323100500000000.1@localhost.localdomain>
            Date: Fri, 02 Jan 2026 03:05:00 +0000
            Content-Type: multipart/alternative;  boundary=020000000000000003000000000000000400000000000000050000000000
            MIME-Version: 1.0

            --020000000000000003000000000000000400000000000000050000000000
            Content-Transfer-Encoding: quoted-printable
            Content-Type: text/plain; charset=UTF-8

            db-1: db-1 <down> & out
            . a line opening with a dot
            --020000000000000003000000000000000400000000000000050000000000
            Content-Transfer-Encoding: quoted-printable
            Content-Type: text/html; charset=UTF-8

            <b>db-1 &lt;down&gt; &amp; out</b>db-1 &lt;down&gt; &amp; out
            --020000000000000003000000000000000400000000000000050000000000--
        "#]]
        .assert_eq(&out);
    }

    #[test]
    fn default_message_renders_alertmanagers_templates() {
        let out = build_with(serde_json::json!({"config": {
            "to": "ops@example.com", "from": "am@example.com", "smarthost": "mail:25",
            "threading": {"enabled": true}
        }}));
        let (head, body) = out.split_once("\n\n").unwrap();
        let head: Vec<&str> = head.lines().collect();
        assert_eq!(
            head[..3],
            [
                "From: am@example.com",
                "Subject: [FIRING:1] HostDown (db-1)",
                "To: ops@example.com"
            ]
        );
        assert!(
            head.contains(&"References: <alert-1f016a4e0ffa3ecc-2026-01-02@alertmanager>"),
            "{head:?}"
        );
        assert!(
            head.contains(&"In-Reply-To: <alert-1f016a4e0ffa3ecc-2026-01-02@alertmanager>"),
            "{head:?}"
        );
        // Only the HTML part, from email.default.html, quoted-printable.
        assert_eq!(
            body.matches("Content-Type: text/html; charset=UTF-8")
                .count(),
            1
        );
        assert!(!body.contains("text/plain"));
        assert!(body.contains("<!DOCTYPE html"), "{body}");
        assert!(body.contains("View in Alertmanager"), "{body}");
        for line in body.lines() {
            assert!(line.len() <= 76, "{line}");
        }
    }

    #[test]
    fn hostile_templates_fail_within_bounds() {
        let recursive = r#"{{ define "loop" }}x{{ template "loop" . }}{{ end }}"#;
        let cases = [
            (
                serde_json::json!({"text": "{{ template \"loop\" . }}"}),
                "execute text template: ",
            ),
            (
                serde_json::json!({"html": "{{ range .Alerts }}{{ range .Labels.SortedPairs }}{{ template \"loop\" . }}{{ end }}{{ end }}"}),
                "execute html template: ",
            ),
        ];
        for (extra, want) in cases {
            let mut config = serde_json::json!({
                "to": "a@b", "from": "c@d", "smarthost": "mail:25", "html": ""
            });
            for (k, v) in extra.as_object().unwrap() {
                config[k] = v.clone();
            }
            let s = settings(serde_json::json!({
                "config": config,
                "templates": [{"name": "loop.tmpl", "text": recursive}]
            }));
            let n = notification();
            let mut random = || 7;
            let mut env = Env {
                now: jiff::Timestamp::UNIX_EPOCH,
                random: &mut random,
                hostname: "h",
            };
            let started = std::time::Instant::now();
            let e = build(&s, &n, &template_data(&n), &mut env).unwrap_err();
            assert!(e.0.starts_with(want), "{e:?}");
            assert!(e.0.len() < 4096, "{e:?}");
            assert!(started.elapsed() < std::time::Duration::from_secs(10));
        }
    }

    #[test]
    fn a_failing_template_names_the_header() {
        let s = settings(serde_json::json!({"config": {
            "to": "a@b", "from": "c@d", "smarthost": "mail:25",
            "headers": {"X-Bad": "{{ template \"nope\" . }}"}
        }}));
        let n = notification();
        let mut random = || 7;
        let mut env = Env {
            now: jiff::Timestamp::UNIX_EPOCH,
            random: &mut random,
            hostname: "h",
        };
        let e = build(&s, &n, &template_data(&n), &mut env).unwrap_err();
        assert!(
            e.0.starts_with("execute \"X-Bad\" header template: "),
            "{e:?}"
        );
    }
}
