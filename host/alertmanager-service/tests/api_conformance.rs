//! Our API v2 answers beside Debian's Alertmanager 0.25 for the same
//! configuration, alerts and silence: `/api/v2/alerts` (statuses,
//! silenced and inhibited, receivers), `/api/v2/alerts/groups` (order,
//! labels, receivers, alerts), `/api/v2/silences` and
//! `/api/v2/receivers`, compared as JSON once what must differ (update
//! times, silence ids, 0.34's `mutedBy`) is set aside.

mod common;

use std::time::Duration;

use common::{Api, Setup, plugins};
use serde_json::{Value, json};

const CONFIG: &str = r#"route:
  receiver: team
  group_by: [alertname]
  group_wait: 1h
  routes:
  - receiver: db
    matchers: [service="db"]
    group_by: [alertname, cluster]
    continue: true
  - receiver: pager
    matchers: [severity="critical"]
receivers:
- name: team
  webhook_configs:
  - url: http://127.0.0.1:1/team
- name: db
  webhook_configs:
  - url: http://127.0.0.1:1/db
- name: pager
inhibit_rules:
- source_matchers: [severity="critical"]
  target_matchers: [severity="warning"]
  equal: [cluster]
"#;

/// Sends one request to `port`; `(status, body)`.
async fn call(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return (0, String::new());
    };
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(request.as_bytes()).await.is_err() {
        return (0, String::new());
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Drops what differs by design: update times, silence ids (each pair of
/// `ids`, upstream's then ours, becomes one name), `mutedBy` (0.34 only).
fn normalize(v: &mut Value, ids: &[String]) {
    match v {
        Value::Object(map) => {
            map.remove("updatedAt");
            map.remove("mutedBy");
            for (k, x) in map.iter_mut() {
                if k == "id" || k == "silencedBy" {
                    rename_ids(x, ids);
                }
                normalize(x, ids);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|x| normalize(x, ids)),
        _ => {}
    }
}

fn rename_ids(v: &mut Value, ids: &[String]) {
    match v {
        Value::String(s) => {
            if let Some(i) = ids.iter().position(|id| id == s) {
                *s = format!("silence-{}", i / 2);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|x| rename_ids(x, ids)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_match_alertmanager_0_25() {
    let setup = Setup::new();
    setup.install(&plugins().webhook, "webhook");
    setup.write_config(CONFIG);
    let (mut child, port) =
        common::start_debian_alertmanager(&setup.config_file(), &setup.dir.path().join("upstream"));
    let mut ready = false;
    for _ in 0..100 {
        if call(port, "GET", "/-/ready", "").await.0 == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "Debian's Alertmanager did not become ready");
    let service = setup.start().await.unwrap();
    let ours = Api::serve(&service).await;

    let alerts = json!([
        {"labels": {"alertname": "Up", "service": "db", "cluster": "eu", "severity": "warning"},
         "annotations": {"summary": "down"}, "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z",
         "generatorURL": "http://prom/graph"},
        {"labels": {"alertname": "Up", "service": "db", "cluster": "us", "severity": "warning"},
         "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z"},
        {"labels": {"alertname": "Disk", "cluster": "eu", "severity": "critical"},
         "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z"},
        // In the groups of two receivers (db, continuing, then pager).
        {"labels": {"alertname": "Both", "service": "db", "cluster": "asia", "severity": "critical"},
         "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z"},
        {"labels": {"alertname": "Quiet", "job": "node"},
         "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z"},
        {"labels": {"alertname": "Gone", "job": "node"},
         "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2026-01-01T00:01:00Z"},
    ])
    .to_string();
    let silence = json!({
        "matchers": [{"name": "alertname", "value": "Quiet", "isRegex": false, "isEqual": true}],
        "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z",
        "createdBy": "ops", "comment": "quiet"
    })
    .to_string();
    let mut ids = Vec::new();
    for p in [port, ours.addr.port()] {
        let (code, text) = call(p, "POST", "/api/v2/silences", &silence).await;
        assert_eq!(code, 200, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        ids.push(v["silenceID"].as_str().unwrap().to_owned());
        let (code, text) = call(p, "POST", "/api/v2/alerts", &alerts).await;
        assert_eq!(code, 200, "{text}");
    }
    // The inhibitor sees the alerts shortly after they are stored.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for path in [
        "/api/v2/alerts",
        "/api/v2/alerts?silenced=false&inhibited=false",
        "/api/v2/alerts?receiver=db",
        "/api/v2/alerts/groups",
        "/api/v2/alerts/groups?receiver=pager",
        "/api/v2/alerts/groups?receiver=db",
        "/api/v2/silences",
        "/api/v2/receivers",
    ] {
        let mut answers = Vec::new();
        for p in [port, ours.addr.port()] {
            let (code, text) = call(p, "GET", path, "").await;
            assert_eq!(code, 200, "{path}: {text}");
            let mut v: Value = serde_json::from_str(&text).unwrap();
            normalize(&mut v, &ids);
            if path == "/api/v2/silences" {
                // A start in the past becomes the time it was stored.
                for s in v.as_array_mut().unwrap() {
                    s.as_object_mut().unwrap().remove("startsAt");
                }
            }
            answers.push(v);
        }
        assert_eq!(
            answers[1],
            answers[0],
            "{path}: ours (left) and Alertmanager 0.25's (right)\nours: {}\nupstream: {}",
            serde_json::to_string_pretty(&answers[1]).unwrap(),
            serde_json::to_string_pretty(&answers[0]).unwrap()
        );
    }
    // Filters that do not parse: the same status and text (a filter in
    // braces is refused with 0.34's text, `unexpected open or close
    // brace`, where 0.25 says `bad matcher format`; and 0.34 takes UTF-8
    // label names such as `1a`, which 0.25 refuses).
    for path in [
        "/api/v2/alerts?filter=foo",
        "/api/v2/alerts/groups?filter=a%3D~%22(%22",
        "/api/v2/silences?filter=a%3D~%22(%22",
    ] {
        let upstream = call(port, "GET", path, "").await;
        let answer = call(ours.addr.port(), "GET", path, "").await;
        assert_eq!(answer, upstream, "{path}: ours (left) and 0.25's (right)");
    }
    // Silences refused or not found: the same status and text. (An
    // invalid silence is `invalid silence: …` in 0.34, `silence invalid:
    // …` in 0.25: only the status is compared there. Expiring an unknown
    // silence is 404 in 0.34, 500 in 0.25: not compared.)
    let silence_with = |matchers: Value, id: Option<&str>| {
        let mut s = json!({
            "matchers": matchers,
            "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z",
            "createdBy": "ops", "comment": "c"
        });
        if let Some(id) = id {
            s["id"] = json!(id);
        }
        s.to_string()
    };
    let unknown = "00000000-0000-4000-8000-000000000000";
    let m = |value: &str, is_regex: bool| json!([{"name": "a", "value": value, "isRegex": is_regex, "isEqual": true}]);
    let cases = [
        (
            false,
            "POST",
            "/api/v2/silences".to_owned(),
            silence_with(m("(", true), None),
        ),
        (
            false,
            "POST",
            "/api/v2/silences".to_owned(),
            silence_with(m("", false), None),
        ),
        (
            true,
            "POST",
            "/api/v2/silences".to_owned(),
            silence_with(m("b", false), Some(unknown)),
        ),
        (
            true,
            "GET",
            format!("/api/v2/silence/{unknown}"),
            String::new(),
        ),
    ];
    for (same_text, method, path, body) in cases {
        let upstream = call(port, method, &path, &body).await;
        let answer = call(ours.addr.port(), method, &path, &body).await;
        let what = format!("{method} {path} {body}: ours (left) and 0.25's (right)");
        if same_text {
            assert_eq!(answer, upstream, "{what}");
        } else {
            assert_eq!(answer.0, upstream.0, "{what}: {answer:?} {upstream:?}");
            assert!(answer.1.contains("invalid silence: "), "{what}: {answer:?}");
        }
    }
    let _ = child.kill().await;
    service.shutdown().await;
}
