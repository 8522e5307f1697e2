//! The Slack receiver plugin in the real runtime: beside Debian's Alertmanager (0.25), the
//! message it POSTs for a firing and then resolved group, with custom title, text, fields and
//! actions templates and a user template file, equals Alertmanager's field by field; and on its
//! own, `app_token` sent as a Bearer token, the schema's secrets, errors that show the URL
//! without its token path, hostile user templates stopped by the template limits in the guest.

use super::{Captured, DebianAlertmanager, Receivers, open, read_request, spec};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use wasmetheus_config::Grants;
use wasmetheus_plugin_runtime::{Alert, Notification, receiver_grants};
use wasmetheus_tests::{eventually, free_port, guests};

/// An HTTP server on 127.0.0.1 answering every request with `status` and `body` (Slack's
/// incoming webhooks answer `200 ok`), recording the requests.
struct SlackServer {
    url: String,
    requests: Arc<Mutex<Vec<Captured>>>,
}

impl SlackServer {
    async fn start(status: u16, body: &'static str) -> SlackServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests: Arc<Mutex<Vec<Captured>>> = Arc::default();
        let recorded = Arc::clone(&requests);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let recorded = Arc::clone(&recorded);
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut stream).await else {
                        return;
                    };
                    recorded.lock().unwrap().push(request);
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\
                         connection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        SlackServer { url, requests }
    }

    fn requests(&self) -> Vec<Captured> {
        self.requests.lock().unwrap().clone()
    }
}

const USER_TEMPLATE: &str = r#"{{ define "custom.title" }}[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} <{{ len .Alerts.Firing }} firing>{{ end }}
{{ define "custom.text" }}{{ range .Alerts }}*{{ .Labels.instance }}* {{ .Annotations.summary }} since {{ .StartsAt.Format "2006-01-02 15:04:05" }}
{{ end }}{{ end }}
"#;

/// The `slack_configs` entry both sides use, as alertmanager.yml's YAML (JSON is YAML).
fn slack_config(api_url: &str) -> serde_json::Value {
    serde_json::json!({
        "api_url": api_url,
        "channel": "#alerts",
        "send_resolved": true,
        "title": "{{ template \"custom.title\" . }}",
        "text": "{{ template \"custom.text\" . }}",
        "fields": [
            {"title": "Severity", "value": "{{ .CommonLabels.severity }}"},
            {"title": "Hosts", "value": "{{ range .Alerts }}{{ .Labels.instance }} {{ end }}", "short": false},
        ],
        "short_fields": true,
        "actions": [
            {"type": "button", "text": "Runbook {{ .CommonLabels.alertname }}",
             "url": "http://runbooks/{{ .CommonLabels.alertname }}"},
        ],
    })
}

fn alerts_json(ends_at: Option<&str>) -> String {
    let mut alerts = serde_json::json!([
        {
            "labels": {"alertname": "Down", "instance": "a:9100", "severity": "page"},
            "annotations": {"summary": "host <a> & \"b\" é"},
            "startsAt": "2026-12-07T01:02:03.456Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        },
        {
            "labels": {"alertname": "Down", "instance": "b:9100", "severity": "page"},
            "annotations": {"summary": "host b"},
            "startsAt": "2026-12-07T01:02:04Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        },
    ]);
    if let Some(t) = ends_at {
        for a in alerts.as_array_mut().unwrap() {
            a["endsAt"] = t.into();
        }
    }
    alerts.to_string()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The notification Alertmanager rendered its message from (its template data): the
/// receiver `team.slack`'s name as `template.Data` holds it, quoted as a regular expression.
fn notification_of(ends_at: Option<&str>) -> Notification {
    let alert = |instance: &str, summary: &str, starts_at: &str| Alert {
        status: if ends_at.is_some() {
            "resolved"
        } else {
            "firing"
        }
        .into(),
        labels: map(&[
            ("alertname", "Down"),
            ("instance", instance),
            ("severity", "page"),
        ]),
        annotations: map(&[("summary", summary)]),
        starts_at: starts_at.into(),
        ends_at: ends_at.unwrap_or_default().into(),
        generator_url: "http://prometheus:9090/graph?g0.expr=up".into(),
        fingerprint: String::new(),
    };
    Notification {
        receiver: r"team\.slack".into(),
        status: if ends_at.is_some() {
            "resolved"
        } else {
            "firing"
        }
        .into(),
        alerts: vec![
            alert("a:9100", "host <a> & \"b\" é", "2026-12-07T01:02:03.456Z"),
            alert("b:9100", "host b", "2026-12-07T01:02:04Z"),
        ],
        group_labels: map(&[("alertname", "Down")]),
        common_labels: map(&[("alertname", "Down"), ("severity", "page")]),
        common_annotations: BTreeMap::new(),
        external_url: "http://am.example:9093".into(),
        group_key: "{}:{alertname=\"Down\"}".into(),
        truncated_alerts: 0,
    }
}

/// Every leaf of a JSON document by path (`attachments.0.fields.1.short`).
fn leaves(v: &serde_json::Value, path: String, out: &mut BTreeMap<String, serde_json::Value>) {
    match v {
        serde_json::Value::Object(o) => {
            for (k, v) in o {
                leaves(v, format!("{path}{k}."), out);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                leaves(v, format!("{path}{i}."), out);
            }
        }
        leaf => {
            out.insert(path.trim_end_matches('.').to_owned(), leaf.clone());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_message_matches_alertmanagers() {
    let theirs = SlackServer::start(200, "ok").await;
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    let template_file = templates.join("custom.tmpl");
    std::fs::write(&template_file, USER_TEMPLATE).unwrap();
    let secret_path = "/services/T000/B000/SECRET";
    let config = serde_json::json!({
        // Long enough that both alerts of one POST are in the first
        // notification (see receivers/email.rs).
        "route": {"receiver": "team.slack", "group_by": ["alertname"], "group_wait": "1s",
                  "group_interval": "1s"},
        "receivers": [{"name": "team.slack",
                       "slack_configs": [slack_config(&format!("{}{secret_path}", theirs.url))]}],
        "templates": [format!("{}/*.tmpl", templates.display())],
    });
    let config_file = dir.path().join("alertmanager.yml");
    std::fs::write(&config_file, config.to_string()).unwrap();
    let alertmanager = DebianAlertmanager::start(
        &config_file,
        &dir.path().join("data"),
        Some("http://am.example:9093"),
    )
    .await;
    let resolved_at = "2026-12-07T01:10:00Z";
    let mut messages = Vec::new();
    for (step, ends_at) in [None, Some(resolved_at)].into_iter().enumerate() {
        let alerts = alerts_json(ends_at);
        alertmanager.post_alerts(&alerts).await;
        let captured = eventually(
            Duration::from_secs(20),
            "Alertmanager's Slack message",
            || {
                let requests = theirs.requests();
                async move { requests.into_iter().nth(step) }
            },
        )
        .await;
        assert_eq!(captured.target, secret_path);
        messages.push((ends_at, captured));
    }

    let ours = SlackServer::start(200, "ok").await;
    let receivers = Receivers::new();
    let plugin = receivers
        .load(guests::PLUGIN_SLACK_RECEIVER, "slack-receiver")
        .await;
    assert_eq!(plugin.metadata().name, "slack-receiver");
    let url = format!("{}{secret_path}", ours.url);
    let grants = receiver_grants(&Grants::default(), [url.as_str()]).unwrap();
    let plugin_config = serde_json::json!({
        "config": slack_config(&url),
        "templates": [{"name": template_file.display().to_string(), "text": USER_TEMPLATE}],
    });
    let sender = open(&plugin, spec("team.slack", plugin_config, grants)).await;
    for (i, (ends_at, theirs)) in messages.iter().enumerate() {
        sender.notify(notification_of(*ends_at)).await.unwrap();
        let sent = &ours.requests()[i];
        assert_eq!(sent.method, "POST");
        assert_eq!(sent.target, secret_path);
        assert_eq!(sent.headers["content-type"], theirs.headers["content-type"]);
        // A documented difference: the User-Agent names the product (Alertmanager sends
        // `Alertmanager/0.25.0`).
        assert!(
            theirs.headers["user-agent"].starts_with("Alertmanager/"),
            "{:?}",
            theirs.headers
        );
        assert!(sent.headers["user-agent"].starts_with("wasmetheus-slack/"));
        let (mut ours_fields, mut theirs_fields) = (BTreeMap::new(), BTreeMap::new());
        let ours_json: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
        let theirs_json: serde_json::Value = serde_json::from_slice(&theirs.body).unwrap();
        leaves(&ours_json, String::new(), &mut ours_fields);
        leaves(&theirs_json, String::new(), &mut theirs_fields);
        // No 0.25↔0.34 difference shows in this message: 0.34's additions (the title cut to
        // 1024 runes, `{"ok":false}` answers refused, `update_message`'s `ts`) are not
        // exercised by it, and the defaults used (`username`, `title_link` and `fallback` with
        // the quoted receiver name URL-escaped, `color`) render the same from both versions'
        // default.tmpl.
        assert_eq!(
            ours_fields, theirs_fields,
            "step {i}: {ours_json} vs {theirs_json}"
        );
        assert!(theirs_fields.len() > 15, "{theirs_fields:?}");
        // Go's encoder: the same bytes (HTML-safe escapes, field order, final newline).
        assert_eq!(
            String::from_utf8_lossy(&sent.body),
            String::from_utf8_lossy(&theirs.body)
        );
    }
    let colors: Vec<_> = messages
        .iter()
        .map(|(_, c)| serde_json::from_slice::<serde_json::Value>(&c.body).unwrap())
        .map(|m| m["attachments"][0]["color"].clone())
        .collect();
    assert_eq!(colors, ["danger", "good"]);
    let first: serde_json::Value = serde_json::from_slice(&messages[0].1.body).unwrap();
    assert_eq!(
        first["attachments"][0]["title_link"],
        "http://am.example:9093/#/alerts?receiver=team%5C.slack"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_sends_the_app_token_and_hides_the_url_token_in_errors() {
    let server = SlackServer::start(200, r#"{"ok":true,"ts":"1700000000.0001"}"#).await;
    let receivers = Receivers::new();
    let plugin = receivers
        .load(guests::PLUGIN_SLACK_RECEIVER, "slack-receiver")
        .await;
    // The schema declares the URL, the token and the credentials secret.
    let mut shown = serde_json::json!({"config": {
        "api_url": "https://hooks.slack.com/services/T/B/SECRET",
        "app_token": "xoxb-secret",
        "channel": "#a",
        "http_config": {"basic_auth": {"username": "u", "password": "p"}},
    }});
    plugin.metadata().declared_secrets.redact(&mut shown);
    assert_ne!(
        shown["config"]["api_url"],
        "https://hooks.slack.com/services/T/B/SECRET"
    );
    assert_ne!(shown["config"]["app_token"], "xoxb-secret");
    assert_ne!(
        shown["config"]["http_config"]["basic_auth"]["password"],
        "p"
    );
    assert_eq!(shown["config"]["channel"], "#a");

    let url = format!("{}/api/chat.postMessage", server.url);
    let config = serde_json::json!({"config": {
        "api_url": url, "app_token": "xoxb-123", "channel": "#ops",
    }});
    let grants = receiver_grants(&Grants::default(), [url.as_str()]).unwrap();
    let sender = open(&plugin, spec("slack", config, grants)).await;
    sender.notify(notification_of(None)).await.unwrap();
    let sent = &server.requests()[0];
    assert_eq!(sent.headers["authorization"], "Bearer xoxb-123");
    let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["channel"], "#ops");
    assert_eq!(
        body["attachments"][0]["title"], "[FIRING:2] Down (page)",
        "the built-in default title"
    );

    // Slack's error answers: 5xx may be retried, `{"ok":false}` may not.
    for (status, answer, retryable, text) in [
        (503, "down", true, "unexpected status code 503: down"),
        (
            200,
            r#"{"ok":false,"error":"channel_not_found"}"#,
            false,
            "channel_not_found",
        ),
        (
            200,
            "invalid_token",
            false,
            "received an error response from Slack",
        ),
    ] {
        let server = SlackServer::start(status, answer).await;
        let url = format!("{}/services/T000/B000/SECRET", server.url);
        let grants = receiver_grants(&Grants::default(), [url.as_str()]).unwrap();
        let config = serde_json::json!({"config": {"api_url": url, "channel": "#c"}});
        let sender = open(&plugin, spec("slack", config, grants)).await;
        let e = sender.notify(notification_of(None)).await.unwrap_err();
        assert_eq!(e.retryable, retryable, "{e:?}");
        assert!(e.message.contains(text), "{e:?}");
        assert!(e.message.contains("channel \"#c\""), "{e:?}");
        assert!(!e.message.contains("SECRET"), "{e:?}");
    }

    // No answer at all: retryable, and the error shows the origin only.
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/services/T000/B000/SECRET");
    let grants = receiver_grants(&Grants::default(), [url.as_str()]).unwrap();
    let config = serde_json::json!({"config": {"api_url": url}});
    let sender = open(&plugin, spec("slack", config, grants)).await;
    let e = sender.notify(notification_of(None)).await.unwrap_err();
    assert!(e.retryable, "{e:?}");
    assert!(!e.message.contains("SECRET"), "{e:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_contains_hostile_templates() {
    let server = SlackServer::start(200, "ok").await;
    let receivers = Receivers::new();
    let plugin = receivers
        .load(guests::PLUGIN_SLACK_RECEIVER, "slack-receiver")
        .await;
    let url = format!("{}/services/T000/B000/SECRET", server.url);
    // Ten million bytes of output; ten billion steps.
    let mut bombs = String::from(r#"{{ define "a" }}"#);
    bombs.push_str(&"x".repeat(1000));
    bombs.push_str("{{ end }}\n");
    for (name, inner) in [("b", "a"), ("c", "b"), ("d", "c"), ("e", "d")] {
        bombs.push_str(&format!(r#"{{{{ define "{name}" }}}}"#));
        bombs.push_str(&format!(r#"{{{{ template "{inner}" . }}}}"#).repeat(10));
        bombs.push_str("{{ end }}\n");
    }
    bombs.push_str(r#"{{ define "steps" }}"#);
    bombs.push_str(
        &r#"{{ range (stringSlice "0" "1" "2" "3" "4" "5" "6" "7" "8" "9") }}"#.repeat(10),
    );
    bombs.push_str(&"{{ end }}".repeat(11));
    for (field, call, limit) in [
        ("text", "{{ template \"e\" . }}", "output exceeds the limit"),
        ("title", "{{ template \"steps\" . }}", "steps"),
    ] {
        let grants = receiver_grants(&Grants::default(), [url.as_str()]).unwrap();
        let config = serde_json::json!({
            "config": {"api_url": url, field: call},
            "templates": [{"name": "/etc/am/bombs.tmpl", "text": bombs}],
        });
        let sender = open(&plugin, spec("slack", config, grants)).await;
        let started = std::time::Instant::now();
        let e = sender.notify(notification_of(None)).await.unwrap_err();
        assert!(!e.retryable, "{e:?}");
        assert!(e.message.starts_with(&format!("{field}: ")), "{e:?}");
        assert!(e.message.contains(limit), "{e:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        // Nothing was sent.
        assert!(server.requests().is_empty());
    }
}
