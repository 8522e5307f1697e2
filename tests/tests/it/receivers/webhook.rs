//! The webhook receiver plugin against a capturing server: the payload
//! field by field, authentication, `max_alerts`, and which failures may be
//! retried.

use super::{Capture, Receivers, assert_failed, notification, open, spec};
use std::time::{Duration, Instant};
use wasmetheus_config::Grants;
use wasmetheus_plugin_runtime::receiver_grants;
use wasmetheus_tests::guests;

/// The grants of a webhook receiver sending to `url`: its origin only.
fn grants(url: &str) -> Grants {
    receiver_grants(&Grants::default(), [url]).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_posts_alertmanagers_message_field_by_field() {
    let capture = Capture::start("/hook?team=x").await;
    let receivers = Receivers::new();
    let plugin = receivers
        .load(guests::PLUGIN_WEBHOOK_RECEIVER, "webhook")
        .await;
    assert_eq!(plugin.metadata().name, "webhook-receiver");
    // The schema declares the URL and the credentials secret.
    let mut shown = serde_json::json!({
        "url": "http://h/?token=x",
        "max_alerts": 1,
        "http_config": {"basic_auth": {"username": "u", "password": "p"}},
    });
    plugin.metadata().declared_secrets.redact(&mut shown);
    assert_ne!(shown["url"], "http://h/?token=x");
    assert_ne!(shown["http_config"]["basic_auth"]["password"], "p");
    assert_eq!(shown["http_config"]["basic_auth"]["username"], "u");
    assert_eq!(shown["max_alerts"], 1);
    let config = serde_json::json!({
        "url": capture.url,
        "max_alerts": 2,
        "http_config": {"basic_auth": {"username": "alice", "password": "s3cret"}},
    });
    let sender = open(&plugin, spec("team-x", config, grants(&capture.url))).await;
    let mut sent = notification("team-x", 3);
    sent.external_url = "http://alertmanager:9093".into();
    sender.notify(sent).await.unwrap();
    let requests = capture.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/hook?team=x");
    assert_eq!(request.headers["content-type"], "application/json");
    assert_eq!(request.headers["authorization"], "Basic YWxpY2U6czNjcmV0");
    assert!(
        request.headers["user-agent"].starts_with("wasmetheus-webhook/"),
        "{:?}",
        request.headers
    );
    // Go's encoder ends the body with a newline and escapes HTML.
    assert_eq!(request.body.last(), Some(&b'\n'));
    let text = String::from_utf8(request.body.clone()).unwrap();
    assert!(
        text.contains(r#""summary":"host \u003cdown\u003e \u0026 out""#),
        "{text}"
    );
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let mut want = [
        "receiver",
        "status",
        "alerts",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "version",
        "groupKey",
        "truncatedAlerts",
    ];
    want.sort_unstable();
    assert_eq!(keys, want);
    // Byte for byte what Alertmanager's `json.NewEncoder(...).Encode(msg)`
    // writes: Message's field order, maps sorted by key.
    let want = concat!(
        r#"{"receiver":"team-x","status":"firing","alerts":["#,
        r#"{"status":"firing","labels":{"alertname":"Down","instance":"h0"},"#,
        r#""annotations":{"summary":"host \u003cdown\u003e \u0026 out"},"#,
        r#""startsAt":"2026-12-07T01:02:03.456Z","endsAt":"0001-01-01T00:00:00Z","#,
        r#""generatorURL":"http://prometheus:9090/graph?g0.expr=up","fingerprint":"0000000000000000"},"#,
        r#"{"status":"resolved","labels":{"alertname":"Down","instance":"h1"},"#,
        r#""annotations":{"summary":"host \u003cdown\u003e \u0026 out"},"#,
        r#""startsAt":"2026-12-07T01:02:03.456Z","endsAt":"2026-12-07T02:00:00Z","#,
        r#""generatorURL":"http://prometheus:9090/graph?g0.expr=up","fingerprint":"0000000000000001"}],"#,
        r#""groupLabels":{"alertname":"Down"},"commonLabels":{"alertname":"Down"},"#,
        r#""commonAnnotations":{"summary":"host \u003cdown\u003e \u0026 out"},"#,
        r#""externalURL":"http://alertmanager:9093","version":"4","#,
        r#""groupKey":"{}:{alertname=\"Down\"}","truncatedAlerts":1}"#,
        "\n"
    );
    assert_eq!(text, want);
    assert_eq!(body["receiver"], "team-x");
    assert_eq!(body["status"], "firing");
    assert_eq!(body["version"], "4");
    assert_eq!(body["groupKey"], "{}:{alertname=\"Down\"}");
    assert_eq!(body["externalURL"], "http://alertmanager:9093");
    assert_eq!(
        body["groupLabels"],
        serde_json::json!({"alertname": "Down"})
    );
    assert_eq!(
        body["commonLabels"],
        serde_json::json!({"alertname": "Down"})
    );
    assert_eq!(
        body["commonAnnotations"],
        serde_json::json!({"summary": "host <down> & out"})
    );
    // max_alerts 2 of 3.
    assert_eq!(body["truncatedAlerts"], 1);
    let alerts = body["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2);
    assert_eq!(
        alerts[0],
        serde_json::json!({
            "status": "firing",
            "labels": {"alertname": "Down", "instance": "h0"},
            "annotations": {"summary": "host <down> & out"},
            "startsAt": "2026-12-07T01:02:03.456Z",
            // Go's zero time.Time while firing.
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
            "fingerprint": "0000000000000000",
        })
    );
    assert_eq!(alerts[1]["status"], "resolved");
    assert_eq!(alerts[1]["endsAt"], "2026-12-07T02:00:00Z");
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_sends_bearer_and_authorization_credentials() {
    let capture = Capture::start("/").await;
    let receivers = Receivers::new();
    let plugin = receivers
        .load(guests::PLUGIN_WEBHOOK_RECEIVER, "webhook")
        .await;
    let cases = [
        (serde_json::json!({"bearer_token": "tok1"}), "Bearer tok1"),
        (
            serde_json::json!({"authorization": {"credentials": "tok2"}}),
            "Bearer tok2",
        ),
        (
            serde_json::json!({"authorization": {"type": "Token", "credentials": "tok3"}}),
            "Token tok3",
        ),
    ];
    for (i, (http_config, want)) in cases.iter().enumerate() {
        let config = serde_json::json!({"url": capture.url, "http_config": http_config});
        let sender = open(&plugin, spec("r", config, grants(&capture.url))).await;
        sender.notify(notification("r", 1)).await.unwrap();
        let requests = capture.requests();
        assert_eq!(requests.len(), i + 1);
        assert_eq!(requests[i].headers["authorization"], *want);
    }
    // Two methods at once is a configuration error, reported on open.
    let config = serde_json::json!({
        "url": capture.url,
        "http_config": {"bearer_token": "a", "basic_auth": {"username": "u"}},
    });
    let e = plugin
        .open(spec("r", config, grants(&capture.url)))
        .await
        .err()
        .unwrap();
    assert!(!e.retryable);
    assert!(e.message.contains("at most one of basic_auth"), "{e:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_retries_5xx_and_network_errors_but_no_4xx() {
    let capture = Capture::start("/hook").await;
    let receivers = Receivers::new();
    let plugin = receivers
        .load(guests::PLUGIN_WEBHOOK_RECEIVER, "webhook")
        .await;
    let config = serde_json::json!({"url": capture.url});
    let sender = open(&plugin, spec("r", config, grants(&capture.url))).await;
    // Alertmanager 0.34's webhook retries 5xx only; 429 is not retried.
    let cases = [
        (200, None),
        (202, None),
        (500, Some(true)),
        (503, Some(true)),
        (400, Some(false)),
        (404, Some(false)),
        (429, Some(false)),
    ];
    for (status, want) in cases {
        capture.answer(status);
        let got = sender.notify(notification("r", 1)).await;
        match want {
            None => got.unwrap(),
            Some(retryable) => {
                let e = assert_failed(got, retryable, &format!("unexpected status code {status}"));
                // The answer's body is quoted.
                assert!(e.message.contains(&format!("answer {status}")), "{e:?}");
            }
        }
    }
    assert_eq!(capture.requests().len(), cases.len());

    // Nobody listening: retryable.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/", listener.local_addr().unwrap())
    };
    let sender = open(
        &plugin,
        spec("r", serde_json::json!({"url": closed}), grants(&closed)),
    )
    .await;
    assert_failed(sender.notify(notification("r", 1)).await, true, "");

    // No answer within timeout_ms: retryable, and cut then.
    capture
        .silent
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let config = serde_json::json!({"url": capture.url, "timeout_ms": 300});
    let sender = open(&plugin, spec("r", config, grants(&capture.url))).await;
    let started = Instant::now();
    let e = assert_failed(sender.notify(notification("r", 1)).await, true, "");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(4),
        "{took:?}: {e:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_reaches_only_the_origin_of_its_url() {
    let capture = Capture::start("/hook").await;
    let other = Capture::start("/hook").await;
    let receivers = Receivers::new();
    let plugin = receivers
        .load(guests::PLUGIN_WEBHOOK_RECEIVER, "webhook")
        .await;
    // Granted the other server's origin, configured to send to this one.
    let config = serde_json::json!({"url": capture.url});
    let sender = open(&plugin, spec("r", config, grants(&other.url))).await;
    let e = assert_failed(sender.notify(notification("r", 1)).await, false, "denied");
    assert!(e.message.contains("request denied by the host"), "{e:?}");
    assert_eq!(
        capture
            .connections
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    assert!(other.requests().is_empty());
}
