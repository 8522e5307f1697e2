//! The webhook receiver beside Debian's Alertmanager: the message
//! Alertmanager POSTs for an alert, turned back into a notification and
//! sent by the plugin, comes out byte for byte the same.

use super::{Capture, DebianAlertmanager, Receivers, open, spec};
use std::collections::BTreeMap;
use std::time::Duration;
use wasmetheus_config::Grants;
use wasmetheus_plugin_runtime::{Alert, Notification, receiver_grants};
use wasmetheus_tests::{eventually, guests};

fn map(value: &serde_json::Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

fn text(value: &serde_json::Value) -> String {
    value.as_str().unwrap().to_owned()
}

/// The notification an Alertmanager message describes (WIT's conventions:
/// an empty `ends-at` while firing).
fn notification_of(message: &serde_json::Value) -> Notification {
    Notification {
        receiver: text(&message["receiver"]),
        status: text(&message["status"]),
        alerts: message["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| Alert {
                status: text(&a["status"]),
                labels: map(&a["labels"]),
                annotations: map(&a["annotations"]),
                starts_at: text(&a["startsAt"]),
                ends_at: match a["endsAt"].as_str().unwrap() {
                    "0001-01-01T00:00:00Z" => String::new(),
                    t => t.to_owned(),
                },
                generator_url: text(&a["generatorURL"]),
                fingerprint: text(&a["fingerprint"]),
            })
            .collect(),
        group_labels: map(&message["groupLabels"]),
        common_labels: map(&message["commonLabels"]),
        common_annotations: map(&message["commonAnnotations"]),
        external_url: text(&message["externalURL"]),
        group_key: text(&message["groupKey"]),
        truncated_alerts: 0,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_message_matches_alertmanagers() {
    let theirs = Capture::start("/am").await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("alertmanager.yml");
    // A group_wait long enough that both alerts of the one POST are in the
    // first notification (with 0s a loaded machine may flush the first alone).
    std::fs::write(
        &config,
        format!(
            "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  \
             group_interval: 1s\nreceivers:\n  - name: hook\n    webhook_configs:\n      \
             - url: {}\n",
            theirs.url
        ),
    )
    .unwrap();
    let alertmanager = DebianAlertmanager::start(&config, dir.path(), None).await;
    let alerts = serde_json::json!([
        {
            "labels": {"alertname": "Down", "instance": "a:9100", "severity": "page"},
            "annotations": {"summary": "host <a> & \"b\" \u{2028} é", "runbook": "http://x/?a=1&b=2"},
            "startsAt": "2026-12-07T01:02:03.456789Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up%3D%3D0",
        },
        {
            "labels": {"alertname": "Down", "instance": "b:9100", "severity": "page"},
            "annotations": {"summary": "host <a> & \"b\" \u{2028} é"},
            "startsAt": "2026-12-07T01:02:04Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up%3D%3D0",
        },
    ])
    .to_string();
    alertmanager.post_alerts(&alerts).await;
    let captured = eventually(Duration::from_secs(20), "Alertmanager's webhook", || {
        let requests = theirs.requests();
        async move { requests.into_iter().next() }
    })
    .await;
    let message: serde_json::Value = serde_json::from_slice(&captured.body).unwrap();
    assert_eq!(message["alerts"].as_array().unwrap().len(), 2, "{message}");

    let ours = Capture::start("/am").await;
    let receivers = Receivers::new();
    let plugin = receivers
        .load(guests::PLUGIN_WEBHOOK_RECEIVER, "webhook")
        .await;
    let grants = receiver_grants(&Grants::default(), [ours.url.as_str()]).unwrap();
    let sender = open(
        &plugin,
        spec("hook", serde_json::json!({"url": ours.url}), grants),
    )
    .await;
    sender.notify(notification_of(&message)).await.unwrap();
    let sent = ours.requests();
    assert_eq!(
        String::from_utf8_lossy(&sent[0].body),
        String::from_utf8_lossy(&captured.body)
    );
    assert_eq!(
        sent[0].headers["content-type"],
        captured.headers["content-type"]
    );
}
