//! The running Alertmanager end to end on a temporary directory: alerts
//! posted through API v2 reach a real webhook receiver plugin grouped
//! after group_wait; silences and inhibition mute; a restart keeps alerts
//! and silences and sends nothing the notification log recorded; a broken
//! reload keeps the old configuration; a missing plugin is named; secrets
//! stay out of the status; a hanging receiver stalls neither other
//! receivers nor shutdown.

mod common;

use std::time::{Duration, Instant};

use common::{Api, Capture, Setup, alert_names, plugins, webhook_config};
use serde_json::json;
use wasmetheus_alertmanager_service::ServiceError;

const WAIT: Duration = Duration::from_secs(10);

fn metric(
    service: &wasmetheus_alertmanager_service::Service,
    name: &str,
    label: Option<(&str, &str)>,
) -> f64 {
    let families = service.metrics();
    let family = families
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no family {name}"));
    let m = family
        .metrics
        .iter()
        .find(|m| label.is_none_or(|(k, v)| m.labels.iter().any(|l| l.name == k && l.value == v)))
        .unwrap_or_else(|| panic!("no series of {name} with {label:?}"));
    match m.value {
        wasmetheus_model::MetricValue::Number(v) => v,
        _ => panic!("{name} is not a number"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn alerts_are_grouped_and_sent_after_group_wait() {
    let setup = Setup::new();
    setup.install(&plugins().webhook, "webhook");
    let mut capture = Capture::start().await;
    setup.write_config(&webhook_config(&capture.url("/hook"), ""));
    let service = setup.start().await.unwrap();
    let api = Api::serve(&service).await;
    let posted = Instant::now();
    api.post_alerts(json!([
        {"labels": {"alertname": "Down", "instance": "a"}, "annotations": {"summary": "x"}},
        {"labels": {"alertname": "Down", "instance": "b"}, "annotations": {"summary": "x"}},
        {"labels": {"alertname": "Other", "instance": "c"}},
    ]))
    .await;
    let mut got = [
        capture.next(WAIT).await.expect("a first notification"),
        capture.next(WAIT).await.expect("a second notification"),
    ];
    let waited = posted.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "sent before group_wait: {waited:?}"
    );
    got.sort_by_key(|r| alert_names(&r.body));
    let down = &got[0].body;
    assert_eq!(got[0].path, "/hook");
    assert_eq!(alert_names(down), ["Down/a", "Down/b"]);
    assert_eq!(down["status"], "firing");
    assert_eq!(down["receiver"], "team");
    assert_eq!(down["groupLabels"], json!({"alertname": "Down"}));
    assert_eq!(down["commonLabels"], json!({"alertname": "Down"}));
    assert_eq!(down["commonAnnotations"], json!({"summary": "x"}));
    assert_eq!(down["groupKey"], "{}:{alertname=\"Down\"}");
    assert_eq!(down["externalURL"], "http://am.example:9093");
    assert_eq!(down["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    let fp = down["alerts"][0]["fingerprint"].as_str().unwrap();
    assert_eq!(fp.len(), 16, "{fp}");
    assert_eq!(alert_names(&got[1].body), ["Other/c"]);
    // Nothing more: the groups were notified once.
    assert!(capture.drain(Duration::from_millis(2500)).await.is_empty());

    // The API shows the groups and the alerts' receivers.
    let groups = api.json("GET", "/api/v2/alerts/groups", "").await;
    assert_eq!(groups.as_array().unwrap().len(), 2, "{groups}");
    assert_eq!(groups[0]["labels"], json!({"alertname": "Down"}));
    assert_eq!(groups[0]["receiver"]["name"], "team");
    let alerts = api.json("GET", "/api/v2/alerts", "").await;
    assert_eq!(alerts.as_array().unwrap().len(), 3);
    assert_eq!(alerts[0]["receivers"], json!([{"name": "team"}]));
    assert_eq!(alerts[0]["status"]["state"], "active");

    assert_eq!(
        metric(
            &service,
            "alertmanager_notifications_total",
            Some(("integration", "webhook"))
        ),
        2.0
    );
    assert_eq!(
        metric(
            &service,
            "alertmanager_notifications_failed_total",
            Some(("integration", "webhook"))
        ),
        0.0
    );
    assert_eq!(
        metric(
            &service,
            "alertmanager_notifications_total",
            Some(("integration", "email"))
        ),
        0.0
    );
    assert_eq!(
        metric(
            &service,
            "alertmanager_alerts_received_total",
            Some(("status", "firing"))
        ),
        3.0
    );
    assert_eq!(
        metric(&service, "alertmanager_alerts", Some(("state", "active"))),
        3.0
    );
    assert_eq!(
        metric(&service, "alertmanager_dispatcher_aggregation_groups", None),
        2.0
    );
    assert_eq!(
        metric(&service, "alertmanager_config_last_reload_successful", None),
        1.0
    );
    assert_eq!(metric(&service, "alertmanager_integrations", None), 1.0);

    // Resolving sends the resolved notification (send_resolved).
    api.post_alerts(json!([
        {"labels": {"alertname": "Other", "instance": "c"}, "endsAt": "2020-01-01T00:00:00Z", "startsAt": "2019-01-01T00:00:00Z"},
    ]))
    .await;
    let resolved = capture.next(WAIT).await.expect("the resolved notification");
    assert_eq!(resolved.body["status"], "resolved");
    assert_eq!(resolved.body["alerts"][0]["endsAt"], "2020-01-01T00:00:00Z");
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn silences_and_inhibition_mute() {
    let setup = Setup::new();
    setup.install(&plugins().webhook, "webhook");
    let mut capture = Capture::start().await;
    setup.write_config(&webhook_config(
        &capture.url("/hook"),
        r#"inhibit_rules:
- source_matchers: [severity="critical"]
  target_matchers: [severity="warning"]
  equal: [cluster]
"#,
    ));
    let service = setup.start().await.unwrap();
    let api = Api::serve(&service).await;
    let silence = json!({
        "matchers": [{"name": "alertname", "value": "Quiet", "isRegex": false, "isEqual": true}],
        "startsAt": "2020-01-01T00:00:00Z",
        "endsAt": "2999-01-01T00:00:00Z",
        "createdBy": "ops",
        "comment": "maintenance",
    });
    let created = api
        .json("POST", "/api/v2/silences", &silence.to_string())
        .await;
    let id = created["silenceID"].as_str().unwrap().to_owned();
    api.post_alerts(json!([
        {"labels": {"alertname": "Quiet", "instance": "a"}},
        {"labels": {"alertname": "Big", "severity": "critical", "cluster": "eu"}},
        {"labels": {"alertname": "Small", "severity": "warning", "cluster": "eu"}},
        {"labels": {"alertname": "Elsewhere", "severity": "warning", "cluster": "us"}},
    ]))
    .await;
    let got = capture.drain(Duration::from_secs(4)).await;
    let mut names: Vec<Vec<String>> = got.iter().map(|r| alert_names(&r.body)).collect();
    names.sort();
    assert_eq!(names, [vec!["Big/"], vec!["Elsewhere/"]], "{got:?}");

    let alerts = api.json("GET", "/api/v2/alerts", "").await;
    let status = |name: &str| {
        alerts
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["labels"]["alertname"] == name)
            .map(|a| a["status"].clone())
            .unwrap()
    };
    assert_eq!(status("Quiet")["state"], "suppressed");
    assert_eq!(status("Quiet")["silencedBy"], json!([id]));
    let big = alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["alertname"] == "Big")
        .unwrap();
    assert_eq!(status("Small")["state"], "suppressed");
    assert_eq!(status("Small")["inhibitedBy"], json!([big["fingerprint"]]));
    assert_eq!(status("Elsewhere")["state"], "active");
    // Filters of the API see the status.
    let active = api
        .json("GET", "/api/v2/alerts?silenced=false&inhibited=false", "")
        .await;
    assert_eq!(active.as_array().unwrap().len(), 2, "{active}");
    assert_eq!(
        metric(
            &service,
            "alertmanager_alerts",
            Some(("state", "suppressed"))
        ),
        2.0
    );
    assert_eq!(
        metric(&service, "alertmanager_silences", Some(("state", "active"))),
        1.0
    );

    // Expiring the silence lets the next flush through.
    let (code, text) = api
        .call("DELETE", &format!("/api/v2/silence/{id}"), "")
        .await;
    assert_eq!(code, 200, "{text}");
    let next = capture.next(WAIT).await.expect("the unsilenced alert");
    assert_eq!(alert_names(&next.body), ["Quiet/a"]);
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_keeps_alerts_silences_and_what_was_sent() {
    let setup = Setup::new();
    setup.install(&plugins().webhook, "webhook");
    let mut capture = Capture::start().await;
    setup.write_config(&webhook_config(&capture.url("/hook"), ""));
    let service = setup.start().await.unwrap();
    let api = Api::serve(&service).await;
    api.post_alerts(json!([{"labels": {"alertname": "Down", "instance": "a"}}]))
        .await;
    let first = capture.next(WAIT).await.expect("the first notification");
    assert_eq!(alert_names(&first.body), ["Down/a"]);
    let silence = json!({
        "matchers": [{"name": "alertname", "value": "Q.*", "isRegex": true, "isEqual": true}],
        "startsAt": "2020-01-01T00:00:00Z",
        "endsAt": "2999-01-01T00:00:00Z",
        "createdBy": "ops",
        "comment": "kept",
    });
    let id = api
        .json("POST", "/api/v2/silences", &silence.to_string())
        .await["silenceID"]
        .as_str()
        .unwrap()
        .to_owned();
    let started = Instant::now();
    service.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(api);
    drop(service);

    let service = setup.start().await.unwrap();
    let api = Api::serve(&service).await;
    let alerts = api.json("GET", "/api/v2/alerts", "").await;
    assert_eq!(alerts.as_array().unwrap().len(), 1, "{alerts}");
    assert_eq!(alerts[0]["labels"]["alertname"], "Down");
    let silences = api.json("GET", "/api/v2/silences", "").await;
    assert_eq!(silences[0]["id"], id.as_str());
    assert_eq!(silences[0]["comment"], "kept");
    // The group is rebuilt and flushed, but the log says it was sent.
    assert!(
        capture.drain(Duration::from_secs(3)).await.is_empty(),
        "re-sent after a restart"
    );
    // A change of the group is sent, with the alert held from before.
    api.post_alerts(json!([{"labels": {"alertname": "Down", "instance": "b"}}]))
        .await;
    let next = capture.next(WAIT).await.expect("the changed group");
    assert_eq!(alert_names(&next.body), ["Down/a", "Down/b"]);
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_reload_keeps_the_old_configuration() {
    let setup = Setup::new();
    setup.install(&plugins().webhook, "webhook");
    let mut capture = Capture::start().await;
    let good = webhook_config(&capture.url("/hook"), "");
    setup.write_config(&good);
    let service = setup.start().await.unwrap();
    let api = Api::serve(&service).await;
    let before = metric(&service, "alertmanager_config_hash", None);

    setup.write_config("route:\n  receiver: nobody\nreceivers:\n- name: team\n");
    let e = service.reload().await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, ServiceError::Config(_)), "{e:?}");
    assert!(text.contains("alertmanager.yml:"), "{text}");
    assert!(text.contains("nobody"), "{text}");
    assert_eq!(
        metric(&service, "alertmanager_config_last_reload_successful", None),
        0.0
    );
    assert_eq!(metric(&service, "alertmanager_config_hash", None), before);
    // The old configuration still notifies.
    api.post_alerts(json!([{"labels": {"alertname": "Still", "instance": "a"}}]))
        .await;
    let got = capture
        .next(WAIT)
        .await
        .expect("a notification after the failed reload");
    assert_eq!(alert_names(&got.body), ["Still/a"]);
    assert_eq!(got.path, "/hook");

    // A good reload takes effect; alerts are kept and their group is not
    // sent again (the log is kept too).
    setup.write_config(&good.replace("/hook", "/hook2"));
    service.reload().await.unwrap();
    assert_eq!(
        metric(&service, "alertmanager_config_last_reload_successful", None),
        1.0
    );
    assert_ne!(metric(&service, "alertmanager_config_hash", None), before);
    let status = api.json("GET", "/api/v2/status", "").await;
    assert!(
        status["config"]["original"]
            .as_str()
            .unwrap()
            .contains("group_wait: 1s"),
        "{status}"
    );
    api.post_alerts(json!([{"labels": {"alertname": "New", "instance": "b"}}]))
        .await;
    let got = capture
        .next(WAIT)
        .await
        .expect("a notification after the reload");
    assert_eq!(got.path, "/hook2");
    assert_eq!(alert_names(&got.body), ["New/b"]);
    assert_eq!(
        api.json("GET", "/api/v2/alerts", "")
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_integration_without_its_plugin_is_named() {
    let setup = Setup::new();
    setup.install(&plugins().webhook, "webhook");
    setup.write_config(
        "route:\n  receiver: chat\nreceivers:\n- name: chat\n  slack_configs:\n  - api_url: 'http://127.0.0.1:1/x'\n    channel: '#a'\n",
    );
    let e = setup.start().await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, ServiceError::MissingPlugin { .. }), "{e:?}");
    let path = setup.plugins_dir().join("slack-receiver.wasm");
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("\"chat\""), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_stay_out_of_the_status() {
    let setup = Setup::new();
    setup.install(&plugins().webhook, "webhook");
    let mut capture = Capture::start().await;
    let secret_file = setup.dir.path().join("password");
    std::fs::write(&secret_file, "filepass-123\n").unwrap();
    let config = format!(
        r#"route:
  receiver: team
  group_wait: 1s
receivers:
- name: team
  webhook_configs:
  - url: '{}'
    http_config:
      basic_auth:
        username: alice
        password_file: '{}'
"#,
        capture.url("/hook?token=tok-s3cr3t"),
        secret_file.display()
    );
    setup.write_config(&config);
    let service = setup.start().await.unwrap();
    let api = Api::serve(&service).await;
    let (code, status) = api.call("GET", "/api/v2/status", "").await;
    assert_eq!(code, 200);
    assert!(!status.contains("tok-s3cr3t"), "{status}");
    assert!(status.contains("<secret>"), "{status}");
    api.post_alerts(json!([{"labels": {"alertname": "A"}}]))
        .await;
    // The plugin got the secrets: the URL's query and the password file.
    let got = capture.next(WAIT).await.expect("a notification");
    assert_eq!(alert_names(&got.body), ["A/"]);
    assert_eq!(got.query, "token=tok-s3cr3t");
    // base64("alice:filepass-123"): the file's content, trimmed.
    assert_eq!(got.authorization, "Basic YWxpY2U6ZmlsZXBhc3MtMTIz");
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_receiver_stalls_neither_others_nor_shutdown() {
    let setup = Setup::new();
    setup.install(&plugins().webhook, "webhook");
    setup.install(&plugins().hang, "hang");
    let mut capture = Capture::start().await;
    // The guest sleeps forever when the receiver is named `sleep`.
    let config = webhook_config(
        &capture.url("/hook"),
        r#"- name: sleep
  hang_configs:
  - {}
"#,
    )
    .replace(
        "  repeat_interval: 1h\n",
        "  repeat_interval: 1h\n  routes:\n  - receiver: sleep\n    matchers: [team=\"sleep\"]\n    continue: true\n  - receiver: team\n",
    );
    setup.write_config(&config);
    let service = setup.start().await.unwrap();
    let api = Api::serve(&service).await;
    api.post_alerts(json!([
        {"labels": {"alertname": "Hung", "team": "sleep"}},
        {"labels": {"alertname": "Fine", "instance": "a"}},
    ]))
    .await;
    let mut got: Vec<Vec<String>> = Vec::new();
    for _ in 0..2 {
        let r = capture.next(WAIT).await.expect("the webhook notifications");
        got.push(alert_names(&r.body));
    }
    got.sort();
    // `Hung` continues past the hanging route to the webhook as well.
    assert_eq!(got, [vec!["Fine/a"], vec!["Hung/"]]);
    // The hanging notification is in progress; shutdown cuts it in time.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let hang = Some(("integration", "hang"));
    assert_eq!(
        metric(&service, "alertmanager_notifications_total", hang),
        1.0
    );
    assert_eq!(
        metric(&service, "alertmanager_notification_requests_total", hang),
        0.0
    );
    let started = Instant::now();
    service.shutdown().await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "shutdown took {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn plugins_hanging_in_open_fail_the_start_within_one_deadline() {
    let setup = Setup::new();
    setup.install(&plugins().hang, "hang");
    // Three senders whose open never returns, each cut after 2s; opened
    // together the start fails after about one deadline, not three.
    setup.write_config(
        r#"route:
  receiver: stuck
receivers:
- name: stuck
  hang_configs:
  - {hang_in_open: true, timeout: 2s}
  - {hang_in_open: true, timeout: 2s}
  - {hang_in_open: true, timeout: 2s}
"#,
    );
    let started = Instant::now();
    let e = setup.start().await.unwrap_err();
    let took = started.elapsed();
    let text = e.to_string();
    assert!(matches!(e, ServiceError::Receiver { .. }), "{e:?}");
    assert!(text.contains("hang_configs[0]"), "{text}");
    assert!(text.contains("open() did not return"), "{text}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_does_not_wait_for_a_reload_stuck_in_open() {
    let setup = Setup::new();
    setup.install(&plugins().hang, "hang");
    setup.write_config("route: {receiver: none}\nreceivers: [{name: none}]\n");
    let service = setup.start().await.expect("started");
    // A reload whose plugin never returns from open holds for 15s.
    setup.write_config(
        r#"route:
  receiver: stuck
receivers:
- name: stuck
  hang_configs:
  - {hang_in_open: true, timeout: 15s}
"#,
    );
    let reload = tokio::spawn({
        let service = std::sync::Arc::clone(&service);
        async move { service.reload().await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    service.shutdown().await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "shutdown took {took:?}");
    let reloaded = reload.await.expect("the reload task");
    assert!(reloaded.is_err(), "a reload finishing after shutdown");
    assert_eq!(service.backend().receivers(), ["none"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_inside_group_wait_sends_exactly_once() {
    let setup = Setup::new();
    setup.install(&plugins().webhook, "webhook");
    let mut capture = Capture::start().await;
    setup.write_config(
        &webhook_config(&capture.url("/hook"), "").replace("group_wait: 1s", "group_wait: 2s"),
    );
    let service = setup.start().await.unwrap();
    let api = Api::serve(&service).await;
    api.post_alerts(json!([{"labels": {"alertname": "Early", "instance": "a"}}]))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    service.shutdown().await;
    drop(api);
    drop(service);
    assert!(capture.drain(Duration::from_millis(100)).await.is_empty());

    let service = setup.start().await.unwrap();
    let got = capture.drain(Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(alert_names(&got[0].body), ["Early/a"]);
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_reaches_what_its_config_names_plus_explicit_grants() {
    // A guest that posts to its `url`, then to the external URL: only the
    // first is named by the configuration.
    let mut named = Capture::start().await;
    let mut other = Capture::start().await;
    for explicit in [false, true] {
        let setup = Setup::new();
        setup.install(&plugins().escape, "webhook");
        setup.write_config(&webhook_config(&named.url("/hook"), ""));
        let mut options = setup.options();
        options.external_url = other.url("/am");
        if explicit {
            options.plugin_grants.insert(
                "webhook-receiver".to_owned(),
                wasmetheus_config::Grants {
                    http_origins: vec![format!("http://{}", other.addr)],
                    ..Default::default()
                },
            );
        }
        let service = wasmetheus_alertmanager_service::Service::start(options)
            .await
            .unwrap();
        let api = Api::serve(&service).await;
        api.post_alerts(json!([{"labels": {"alertname": "Out"}}]))
            .await;
        assert!(named.next(WAIT).await.is_some(), "the configured URL");
        let reached = other.next(Duration::from_secs(3)).await;
        assert_eq!(reached.is_some(), explicit, "explicit grant: {explicit}");
        let failed = metric(
            &service,
            "alertmanager_notifications_failed_total",
            Some(("integration", "webhook")),
        );
        // Refused, the notification fails (and is tried again each flush).
        assert_eq!(failed > 0.0, !explicit, "failed {failed}");
        service.shutdown().await;
        named.drain(Duration::from_millis(200)).await;
        other.drain(Duration::from_millis(200)).await;
    }
}

/// Explicit grants changed while running (the server's `plugins.grants`
/// reloaded) reach the receivers at the next reload.
#[tokio::test(flavor = "multi_thread")]
async fn explicit_grants_set_while_running_apply_at_reload() {
    let mut named = Capture::start().await;
    let mut other = Capture::start().await;
    let setup = Setup::new();
    setup.install(&plugins().escape, "webhook");
    // A new group each time: `extra` only changes what the file holds.
    setup.write_config(&webhook_config(&named.url("/hook"), ""));
    let mut options = setup.options();
    options.external_url = other.url("/am");
    let service = wasmetheus_alertmanager_service::Service::start(options)
        .await
        .unwrap();
    let api = Api::serve(&service).await;
    api.post_alerts(json!([{"labels": {"alertname": "Before"}}]))
        .await;
    assert!(named.next(WAIT).await.is_some(), "the configured URL");
    assert!(other.next(Duration::from_secs(3)).await.is_none());
    service.set_plugin_grants(
        [(
            "webhook-receiver".to_owned(),
            wasmetheus_config::Grants {
                http_origins: vec![format!("http://{}", other.addr)],
                ..Default::default()
            },
        )]
        .into(),
    );
    service.reload().await.unwrap();
    named.drain(Duration::from_millis(200)).await;
    api.post_alerts(json!([{"labels": {"alertname": "After"}}]))
        .await;
    let reached = other.next(WAIT).await.expect("the granted origin");
    assert_eq!(reached.path, "/am");
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_reads_the_receiver_plugins_again() {
    let setup = Setup::new();
    setup.install(&plugins().webhook, "webhook");
    let mut capture = Capture::start().await;
    setup.write_config(&webhook_config(&capture.url("/hook"), ""));
    let service = setup.start().await.unwrap();
    // A Slack receiver without its plugin: refused, the old config kept.
    let slack = webhook_config(
        &capture.url("/hook"),
        &format!(
            "- name: chat\n  slack_configs:\n  - api_url: '{}'\n",
            capture.url("/slack")
        ),
    )
    .replace("receiver: team", "receiver: chat");
    setup.write_config(&slack);
    let e = service.reload().await.unwrap_err();
    assert!(e.to_string().contains("slack-receiver.wasm"), "{e}");
    let api = Api::serve(&service).await;
    let receivers = api.json("GET", "/api/v2/receivers", "").await;
    assert_eq!(receivers, json!([{"name": "team"}]));
    // Once the plugin is there, the same file loads.
    setup.install(&plugins().slack, "slack");
    service.reload().await.unwrap();
    let receivers = api.json("GET", "/api/v2/receivers", "").await;
    assert_eq!(receivers, json!([{"name": "team"}, {"name": "chat"}]));
    api.post_alerts(json!([{"labels": {"alertname": "Chat"}}]))
        .await;
    let got = capture.next(WAIT).await.expect("a Slack message");
    assert_eq!(got.path, "/slack");
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_integration_name_cannot_reach_outside_the_plugins_directory() {
    let setup = Setup::new();
    // A plugin file outside the plugins directory, named by the key.
    std::fs::copy(
        &plugins().webhook,
        setup.dir.path().join("outside-receiver.wasm"),
    )
    .unwrap();
    setup.write_config(
        "route:\n  receiver: x\nreceivers:\n- name: x\n  ../outside_configs:\n  - {}\n",
    );
    let e = setup.start().await.unwrap_err();
    assert!(e.to_string().contains("not an integration name"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn time_intervals_mute_groups_and_say_so() {
    let setup = Setup::new();
    setup.install(&plugins().webhook, "webhook");
    let mut capture = Capture::start().await;
    let config = webhook_config(
        &capture.url("/hook"),
        r#"time_intervals:
- name: always
  time_intervals:
  - weekdays: ['sunday:saturday']
- name: never
  time_intervals:
  - years: ['1999']
"#,
    )
    .replace(
        "  repeat_interval: 1h\n",
        r#"  repeat_interval: 1h
  routes:
  - matchers: [kind="muted"]
    mute_time_intervals: [always]
  - matchers: [kind="inactive"]
    active_time_intervals: [never]
    mute_time_intervals: [always]
  - matchers: [kind="open"]
    active_time_intervals: [never, always]
"#,
    );
    setup.write_config(&config);
    let service = setup.start().await.unwrap();
    let api = Api::serve(&service).await;
    api.post_alerts(json!([
        {"labels": {"alertname": "M", "kind": "muted"}},
        {"labels": {"alertname": "I", "kind": "inactive"}},
        {"labels": {"alertname": "O", "kind": "open"}},
        {"labels": {"alertname": "P", "kind": "plain"}},
    ]))
    .await;
    let mut got: Vec<Vec<String>> = capture
        .drain(Duration::from_secs(3))
        .await
        .iter()
        .map(|r| alert_names(&r.body))
        .collect();
    got.sort();
    assert_eq!(got, [vec!["O/"], vec!["P/"]]);

    let groups = api.json("GET", "/api/v2/alerts/groups", "").await;
    let muted_by = |name: &str| {
        groups
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["labels"]["alertname"] == name)
            .map(|g| {
                let s = &g["alerts"][0]["status"];
                (s["state"].clone(), s["mutedBy"].clone())
            })
            .unwrap()
    };
    assert_eq!(muted_by("M"), (json!("suppressed"), json!(["always"])));
    // Outside its active intervals: muted by them, not by its mute ones.
    assert_eq!(muted_by("I"), (json!("suppressed"), json!(["never"])));
    assert_eq!(muted_by("O"), (json!("active"), json!([])));
    assert_eq!(muted_by("P"), (json!("active"), json!([])));
    let unmuted = api
        .json("GET", "/api/v2/alerts/groups?muted=false", "")
        .await;
    assert_eq!(unmuted.as_array().unwrap().len(), 2, "{unmuted}");
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn trapping_and_garbage_receivers_fail_alone() {
    let setup = Setup::new();
    setup.install(&plugins().webhook, "webhook");
    setup.install(&plugins().trap, "trap");
    setup.install(&plugins().garbage, "garbage");
    let mut capture = Capture::start().await;
    // The guests misbehave by receiver name: `trap` traps, `huge-error`
    // fails with a 48 MiB text. Every alert also goes to the webhook.
    let config = webhook_config(
        &capture.url("/hook"),
        "- name: trap\n  trap_configs:\n  - {}\n- name: huge-error\n  garbage_configs:\n  - {}\n",
    )
    .replace(
        "  repeat_interval: 1h\n",
        r#"  repeat_interval: 1h
  routes:
  - receiver: trap
    matchers: [to="trap"]
    continue: true
  - receiver: huge-error
    matchers: [to="garbage"]
    continue: true
  - receiver: team
"#,
    );
    setup.write_config(&config);
    let service = setup.start().await.unwrap();
    let api = Api::serve(&service).await;
    api.post_alerts(json!([
        {"labels": {"alertname": "T", "to": "trap"}},
        {"labels": {"alertname": "G", "to": "garbage"}},
    ]))
    .await;
    let mut got: Vec<Vec<String>> = Vec::new();
    for _ in 0..2 {
        let r = capture.next(WAIT).await.expect("the webhook notifications");
        got.push(alert_names(&r.body));
    }
    got.sort();
    assert_eq!(got, [vec!["G/"], vec!["T/"]]);
    // Both failed (each flush tries again), and nothing else did.
    let mut waited = Duration::ZERO;
    loop {
        // A plugin integration's series appears with its first failure,
        // which may come after the webhook's notifications: none yet is 0.
        let failed = |kind: &str| {
            service
                .metrics()
                .iter()
                .filter(|f| f.name == "alertmanager_notifications_failed_total")
                .flat_map(|f| f.metrics.iter())
                .find(|m| {
                    m.labels
                        .iter()
                        .any(|l| l.name == "integration" && l.value == kind)
                })
                .map_or(0.0, |m| match m.value {
                    wasmetheus_model::MetricValue::Number(v) => v,
                    _ => panic!("alertmanager_notifications_failed_total is not a number"),
                })
        };
        if failed("trap") >= 1.0 && failed("garbage") >= 1.0 {
            assert_eq!(failed("webhook"), 0.0);
            break;
        }
        assert!(
            waited < WAIT,
            "trap {} garbage {}",
            failed("trap"),
            failed("garbage")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        waited += Duration::from_millis(200);
    }
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_takes_over_unchanged_senders() {
    // Room for four plugin instances: three integrations run, and a
    // reload may open one more beside them, not three.
    let setup = Setup::with_max_instances(4);
    setup.install(&plugins().webhook, "webhook");
    let mut capture = Capture::start().await;
    let base = capture.url("");
    let config = |third: &str| {
        let url = |path: &str| format!("{base}{path}");
        format!(
            "route:\n  receiver: a\n  group_wait: 1s\nreceivers:\n- name: a\n  webhook_configs:\n  - url: '{}'\n  - url: '{}'\n- name: b\n  webhook_configs:\n  - url: '{}'\n",
            url("/a0"),
            url("/a1"),
            url(third)
        )
    };
    setup.write_config(&config("/b"));
    let service = setup.start().await.unwrap();
    service.reload().await.unwrap();
    service.reload().await.unwrap();
    // One changed integration: one new instance, the old one let go.
    setup.write_config(&config("/b2"));
    service.reload().await.unwrap();
    // The replaced sender's slot is given back once its task ends.
    tokio::time::sleep(Duration::from_millis(500)).await;
    setup.write_config(&config("/b3"));
    service.reload().await.unwrap();
    // The taken-over senders still deliver.
    let api = Api::serve(&service).await;
    api.post_alerts(json!([{"labels": {"alertname": "A"}}]))
        .await;
    let mut paths: Vec<String> = Vec::new();
    for _ in 0..2 {
        paths.push(capture.next(WAIT).await.expect("a notification").path);
    }
    paths.sort();
    assert_eq!(paths, ["/a0", "/a1"]);
    // All changed at once needs more room than there is; the old
    // configuration keeps running.
    setup.write_config(&config("/b4").replace("/a0", "/c0").replace("/a1", "/c1"));
    let e = service.reload().await.unwrap_err();
    assert!(e.to_string().contains("instance slot"), "{e}");
    service.shutdown().await;
}

/// Many groups flushing at once to one receiver wait their turn for its
/// plugin (one call at a time) rather than failing: each group is
/// notified once, and no request failed.
#[tokio::test(flavor = "multi_thread")]
async fn many_groups_flushing_at_once_wait_for_the_receiver() {
    let setup = Setup::new();
    setup.install(&plugins().webhook, "webhook");
    let mut capture = Capture::start().await;
    setup.write_config(&webhook_config(&capture.url("/hook"), ""));
    let service = setup.start().await.unwrap();
    let api = Api::serve(&service).await;
    const GROUPS: usize = 60;
    let alerts: Vec<serde_json::Value> = (0..GROUPS)
        .map(|i| json!({"labels": {"alertname": format!("G{i}"), "instance": "x"}}))
        .collect();
    api.post_alerts(serde_json::Value::Array(alerts)).await;
    let mut names = std::collections::BTreeSet::new();
    while names.len() < GROUPS {
        let Some(got) = capture.next(WAIT).await else {
            break;
        };
        for name in alert_names(&got.body) {
            assert!(names.insert(name.clone()), "{name} notified twice");
        }
    }
    assert_eq!(names.len(), GROUPS, "groups notified: {names:?}");
    let webhook = Some(("integration", "webhook"));
    assert_eq!(
        metric(
            &service,
            "alertmanager_notification_requests_failed_total",
            webhook
        ),
        0.0
    );
    assert_eq!(
        metric(&service, "alertmanager_notifications_total", webhook),
        GROUPS as f64
    );
    service.shutdown().await;
}
