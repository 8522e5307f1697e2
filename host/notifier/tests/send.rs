//! What reaches an Alertmanager: the exact JSON body and headers, batches,
//! external labels and relabeling (global and per `alertmanagers` entry),
//! the URL's scheme and path from config and labels, authentication and
//! extra headers, and failures (error statuses, timeouts) in the metrics.

mod common;

use std::time::{Duration, Instant};

use common::{Answer, alert, alerts, labels, manager, metric, serve};
use expect_test::expect;
use wasmetheus_model::Label;
use wasmetheus_notifier::{Alert, Manager, Options, TargetGroup};

fn one_target(address: &str) -> String {
    format!(
        "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{address}']\n"
    )
}

#[tokio::test]
async fn the_body_is_prometheus_json() {
    let am = serve(Answer::Status(200)).await;
    let manager = manager(Options::default(), &one_target(&am.address()));
    let firing = Alert {
        labels: labels(&[
            ("alertname", "HighLatency"),
            ("job", "api"),
            ("path", "/a<b>&c"),
        ]),
        annotations: vec![
            Label::new("summary", "Latency is \"high\"\n"),
            Label::new("description", "ünïcode ✓"),
        ],
        starts_at_ms: 1_700_000_000_123,
        ends_at_ms: Some(1_700_000_240_000),
        generator_url: "http://prom:9090/graph?g0.expr=up&g0.tab=1".into(),
    };
    let resolved = Alert {
        labels: labels(&[("alertname", "Gone")]),
        annotations: Vec::new(),
        starts_at_ms: 0,
        ends_at_ms: None,
        generator_url: String::new(),
    };
    manager.send(&[firing, resolved]);
    let requests = am.wait_for(1).await;
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/api/v2/alerts");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert!(
        request
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("wasmetheus/")),
        "{:?}",
        request.headers
    );
    expect![[r#"[{"annotations":{"description":"ünïcode ✓","summary":"Latency is \"high\"\n"},"endsAt":"2023-11-14T22:17:20.000Z","startsAt":"2023-11-14T22:13:20.123Z","generatorURL":"http://prom:9090/graph?g0.expr=up\u0026g0.tab=1","labels":{"alertname":"HighLatency","job":"api","path":"/a\u003cb\u003e\u0026c"}},{"endsAt":"0001-01-01T00:00:00.000Z","startsAt":"1970-01-01T00:00:00.000Z","labels":{"alertname":"Gone"}}]"#]]
        .assert_eq(&request.body);
    manager.stop().await;
}

/// The body Prometheus 2.42 sent for an always-firing rule (captured from
/// `/usr/bin/prometheus` with `TZ=UTC`; the API v2 body is the same in 3.x),
/// rebuilt from the same alert.
#[tokio::test]
async fn the_body_matches_what_prometheus_sent() {
    let am = serve(Answer::Status(200)).await;
    let yaml = format!(
        "global:\n  external_labels: {{cluster: c1}}\nalerting:\n  alertmanagers:\n    - path_prefix: /pre\n      static_configs: [{{targets: ['{}']}}]\n",
        am.address()
    );
    let manager = manager(Options::default(), &yaml);
    manager.send(&[Alert {
        labels: labels(&[("alertname", "Always"), ("severity", "page<&>")]),
        annotations: vec![
            Label::new("description", ""),
            Label::new("summary", "value 1"),
        ],
        starts_at_ms: 1_796_595_965_632,
        ends_at_ms: Some(1_796_596_266_632),
        generator_url: "http://vm:19090/graph?g0.expr=vector%281%29+%3E+0&g0.tab=1".into(),
    }]);
    let request = &am.wait_for(1).await[0];
    assert_eq!(request.path, "/pre/api/v2/alerts");
    assert_eq!(
        request.body,
        r#"[{"annotations":{"description":"","summary":"value 1"},"endsAt":"2026-12-06T22:31:06.632Z","startsAt":"2026-12-06T22:26:05.632Z","generatorURL":"http://vm:19090/graph?g0.expr=vector%281%29+%3E+0\u0026g0.tab=1","labels":{"alertname":"Always","cluster":"c1","severity":"page\u003c\u0026\u003e"}}]"#
    );
    manager.stop().await;
}

#[tokio::test]
async fn six_hundred_alerts_go_in_batches_of_256() {
    let am = serve(Answer::Status(200)).await;
    let manager = Manager::new(Options::default());
    manager
        .apply_config(&common::config(&one_target(&am.address())))
        .unwrap();
    manager.send(&alerts(600));
    assert_eq!(manager.queue_len(), 600);
    manager.run();
    let requests = am.wait_for(3).await;
    let sizes: Vec<usize> = requests.iter().map(|r| r.alerts().len()).collect();
    assert_eq!(sizes, [256, 256, 88]);
    let names: Vec<String> = requests
        .iter()
        .flat_map(|r| r.alerts())
        .map(|a| a["labels"]["alertname"].as_str().unwrap().to_owned())
        .collect();
    let want: Vec<String> = (0..600).map(|i| format!("a{i}")).collect();
    assert_eq!(names, want, "in the order they were queued");
    let url = format!("http://{}/api/v2/alerts", am.address());
    common::eventually("600 counted as sent", || {
        metric(
            &manager.metrics(),
            "prometheus_notifications_sent_total",
            &url,
        ) == Some(600.0)
    })
    .await;
    let families = manager.metrics();
    assert_eq!(
        metric(&families, "prometheus_notifications_errors_total", &url),
        Some(0.0)
    );
    assert_eq!(
        metric(&families, "prometheus_notifications_latency_seconds", &url),
        Some(3.0)
    );
    assert_eq!(
        metric(&families, "prometheus_notifications_queue_length", ""),
        Some(0.0)
    );
    assert_eq!(
        metric(&families, "prometheus_notifications_queue_capacity", ""),
        Some(10_000.0)
    );
    assert_eq!(
        metric(
            &families,
            "prometheus_notifications_alertmanagers_discovered",
            ""
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(&families, "prometheus_notifications_dropped_total", ""),
        Some(0.0)
    );
    manager.stop().await;
}

#[tokio::test]
async fn external_labels_and_alert_relabeling() {
    let am = serve(Answer::Status(200)).await;
    let yaml = format!(
        "global:\n  external_labels:\n    cluster: eu1\n    severity: default\n\
         alerting:\n  alert_relabel_configs:\n    - source_labels: [severity]\n      regex: none\n      action: drop\n\
         \x20   - replacement: ops\n      target_label: team\n{}",
        &one_target(&am.address())["alerting:\n".len()..]
    );
    let manager = manager(Options::default(), &yaml);
    let mut paged = alert("Paged");
    paged.labels = labels(&[("alertname", "Paged"), ("severity", "page")]);
    let mut silent = alert("Silent");
    silent.labels = labels(&[("alertname", "Silent"), ("severity", "none")]);
    let plain = alert("Plain");
    manager.send(&[paged, silent, plain]);
    let requests = am.wait_for(1).await;
    let got: Vec<serde_json::Value> = requests[0]
        .alerts()
        .into_iter()
        .map(|a| a["labels"].clone())
        .collect();
    assert_eq!(
        got,
        [
            serde_json::json!({"alertname": "Paged", "cluster": "eu1", "severity": "page", "team": "ops"}),
            serde_json::json!({"alertname": "Plain", "cluster": "eu1", "severity": "default", "team": "ops"}),
        ],
        "external labels do not override; dropped alerts are not sent"
    );
    manager.stop().await;
}

#[tokio::test]
async fn each_alertmanagers_entry_has_its_own_alert_relabeling() {
    let all = serve(Answer::Status(200)).await;
    let pages = serve(Answer::Status(200)).await;
    let nothing = serve(Answer::Status(200)).await;
    let yaml = format!(
        "alerting:\n  alertmanagers:\n\
         \x20   - static_configs: [{{targets: ['{}']}}]\n\
         \x20   - static_configs: [{{targets: ['{}']}}]\n      alert_relabel_configs:\n        - {{source_labels: [severity], regex: page, action: keep}}\n\
         \x20   - static_configs: [{{targets: ['{}']}}]\n      alert_relabel_configs:\n        - {{action: drop, regex: .*, source_labels: [alertname]}}\n",
        all.address(),
        pages.address(),
        nothing.address()
    );
    let manager = manager(Options::default(), &yaml);
    assert_eq!(manager.config_names(), ["config-0", "config-1", "config-2"]);
    let mut page = alert("P");
    page.labels = labels(&[("alertname", "P"), ("severity", "page")]);
    manager.send(&[page, alert("T")]);
    let to_all = all.wait_for(1).await;
    let to_pages = pages.wait_for(1).await;
    assert_eq!(to_all[0].alerts().len(), 2);
    let paged = to_pages[0].alerts();
    assert_eq!(paged.len(), 1);
    assert_eq!(paged[0]["labels"]["alertname"], "P");
    let url = format!("http://{}/api/v2/alerts", pages.address());
    common::eventually("the relabeled count is the one sent", || {
        metric(
            &manager.metrics(),
            "prometheus_notifications_sent_total",
            &url,
        ) == Some(1.0)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(nothing.requests().is_empty(), "all its alerts were dropped");
    assert_eq!(
        metric(
            &manager.metrics(),
            "prometheus_notifications_dropped_total",
            ""
        ),
        Some(0.0)
    );
    manager.stop().await;
}

#[tokio::test]
async fn scheme_and_path_come_from_config_and_labels() {
    let am = serve(Answer::Status(200)).await;
    let yaml = format!(
        "alerting:\n  alertmanagers:\n    - path_prefix: /prefix/\n      static_configs: [{{targets: ['{}']}}]\n",
        am.address()
    );
    let manager = manager(Options::default(), &yaml);
    assert_eq!(
        manager.alertmanagers(),
        [format!("http://{}/prefix/api/v2/alerts", am.address())]
    );
    manager.send(&[alert("A")]);
    assert_eq!(am.wait_for(1).await[0].path, "/prefix/api/v2/alerts");

    // Group labels apply where the target has none of that name.
    let mut group = TargetGroup::from_addresses("file.json", &[am.address()]);
    group.labels = vec![
        Label::new("__alerts_path__", "/custom/path"),
        Label::new("__meta_x", "y"),
    ];
    let mut https = vec![
        Label::new("__address__", "am.example:9093"),
        Label::new("__scheme__", "https"),
    ];
    https.sort_by(|a, b| a.name.cmp(&b.name));
    group.targets.push(https);
    manager
        .set_target_groups("config-0", vec![group.clone(), group])
        .unwrap();
    assert_eq!(
        manager.alertmanagers(),
        [
            format!("http://{}/custom/path", am.address()),
            // The config's scheme is set over a target's own `__scheme__`.
            "http://am.example:9093/custom/path".to_owned(),
        ],
        "deduplicated"
    );
    let mut single = TargetGroup::from_addresses("g", &[am.address()]);
    single.labels = vec![
        Label::new("__alerts_path__", "/custom/path"),
        Label::new("__scheme__", "https"),
    ];
    manager
        .set_target_groups("config-0", vec![single.clone()])
        .unwrap();
    assert_eq!(
        manager.alertmanagers(),
        [format!("https://{}/custom/path", am.address())],
        "a group's __scheme__ applies where the target has none"
    );
    // Relabeling may set the scheme and the path; the entry's config
    // changed, so it starts again from its static targets.
    let yaml = format!(
        "alerting:\n  alertmanagers:\n    - scheme: https\n      static_configs: [{{targets: ['{}']}}]\n      relabel_configs:\n        - {{target_label: __scheme__, replacement: http}}\n        - {{target_label: __alerts_path__, replacement: /other}}\n",
        am.address()
    );
    manager.apply_config(&common::config(&yaml)).unwrap();
    assert_eq!(
        manager.alertmanagers(),
        [format!("http://{}/other", am.address())]
    );
    manager.send(&[alert("B")]);
    let requests = am.wait_for(2).await;
    assert_eq!(requests[1].path, "/other");
    manager.stop().await;
}

#[tokio::test]
async fn basic_auth_bearer_and_headers() {
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, "s3cret\n").unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "tok-1").unwrap();
    let header_file = dir.path().join("header");
    std::fs::write(&header_file, "from-file").unwrap();
    let basic = serve(Answer::Status(200)).await;
    let bearer = serve(Answer::Status(200)).await;
    let inline = serve(Answer::Status(200)).await;
    let yaml = format!(
        "alerting:\n  alertmanagers:\n\
         \x20   - static_configs: [{{targets: ['{}']}}]\n      basic_auth: {{username: alice, password_file: '{}'}}\n\
         \x20     http_headers:\n        X-Scope: {{values: [a, b], files: ['{}']}}\n\
         \x20   - static_configs: [{{targets: ['{}']}}]\n      authorization: {{credentials_file: '{}'}}\n\
         \x20   - static_configs: [{{targets: ['{}']}}]\n      bearer_token: inline-token\n",
        basic.address(),
        password.display(),
        header_file.display(),
        bearer.address(),
        token.display(),
        inline.address(),
    );
    let manager = manager(Options::default(), &yaml);
    manager.send(&[alert("A")]);
    let basic_request = &basic.wait_for(1).await[0];
    // base64("alice:s3cret"): the file's trailing newline is trimmed.
    assert_eq!(
        basic_request.header("authorization"),
        Some("Basic YWxpY2U6czNjcmV0")
    );
    let scope: Vec<&str> = basic_request
        .headers
        .get_all("x-scope")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(scope, ["a", "b", "from-file"]);
    assert_eq!(
        bearer.wait_for(1).await[0].header("authorization"),
        Some("Bearer tok-1")
    );
    assert_eq!(
        inline.wait_for(1).await[0].header("authorization"),
        Some("Bearer inline-token")
    );
    // A rotated secret file is read again.
    std::fs::write(&token, "tok-2").unwrap();
    manager.send(&[alert("B")]);
    assert_eq!(
        bearer.wait_for(2).await[1].header("authorization"),
        Some("Bearer tok-2")
    );
    manager.stop().await;
}

#[tokio::test]
async fn error_statuses_count_as_errors() {
    let failing = serve(Answer::Status(500)).await;
    let missing = serve(Answer::Status(404)).await;
    let good = serve(Answer::Status(202)).await;
    let yaml = format!(
        "alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['{}', '{}', '{}']}}]\n",
        failing.address(),
        missing.address(),
        good.address()
    );
    let manager = manager(Options::default(), &yaml);
    manager.send(&alerts(5));
    let url = |c: &common::Capture| format!("http://{}/api/v2/alerts", c.address());
    common::eventually("all three answered", || {
        let families = manager.metrics();
        [&failing, &missing, &good]
            .iter()
            .all(|c| metric(&families, "prometheus_notifications_sent_total", &url(c)) == Some(5.0))
    })
    .await;
    let families = manager.metrics();
    let errors = |c| metric(&families, "prometheus_notifications_errors_total", &url(c));
    assert_eq!(errors(&failing), Some(5.0));
    assert_eq!(errors(&missing), Some(5.0));
    assert_eq!(errors(&good), Some(0.0));
    assert_eq!(
        metric(&families, "prometheus_notifications_dropped_total", ""),
        Some(0.0),
        "one Alertmanager of the entry took them"
    );
    manager.stop().await;

    // No Alertmanager of the entry took them: dropped.
    let yaml = format!(
        "alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['{}']}}]\n    - static_configs: [{{targets: ['{}']}}]\n",
        failing.address(),
        good.address()
    );
    let manager = common::manager(Options::default(), &yaml);
    manager.send(&alerts(3));
    common::eventually("the batch is dropped", || {
        metric(
            &manager.metrics(),
            "prometheus_notifications_dropped_total",
            "",
        ) == Some(3.0)
    })
    .await;
    manager.stop().await;
}

#[tokio::test]
async fn a_silent_alertmanager_times_out_and_others_still_get_theirs() {
    let silent = serve(Answer::Hang).await;
    let good = serve(Answer::Status(200)).await;
    let yaml = format!(
        "alerting:\n  alertmanagers:\n    - timeout: 300ms\n      static_configs: [{{targets: ['{}', '{}']}}]\n",
        silent.address(),
        good.address()
    );
    let manager = manager(Options::default(), &yaml);
    let start = Instant::now();
    manager.send(&alerts(4));
    assert_eq!(good.wait_for(1).await[0].alerts().len(), 4);
    let url = format!("http://{}/api/v2/alerts", silent.address());
    common::eventually("the timeout counted as an error", || {
        metric(
            &manager.metrics(),
            "prometheus_notifications_errors_total",
            &url,
        ) == Some(4.0)
    })
    .await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(silent.requests().len(), 1);
    manager.stop().await;
}

/// A credentials file larger than any credential (1 MiB) is not read
/// whole: the request fails with the reason and is counted as an error;
/// the alerts go to the entry's other Alertmanager.
#[tokio::test]
async fn an_oversized_credentials_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("password");
    std::fs::write(&huge, vec![b'p'; (1 << 20) + 1]).unwrap();
    let secured = serve(Answer::Status(200)).await;
    let open = serve(Answer::Status(200)).await;
    let yaml = format!(
        "alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['{}']}}]\n      basic_auth: {{username: u, password_file: '{}'}}\n    - static_configs: [{{targets: ['{}']}}]\n",
        secured.address(),
        huge.display(),
        open.address()
    );
    let manager = manager(Options::default(), &yaml);
    manager.send(&alerts(2));
    assert_eq!(open.wait_for(1).await.len(), 1);
    let url = format!("http://{}/api/v2/alerts", secured.address());
    common::eventually("the error counted", || {
        metric(
            &manager.metrics(),
            "prometheus_notifications_errors_total",
            &url,
        ) == Some(2.0)
    })
    .await;
    manager.stop().await;
    assert!(secured.requests().is_empty());
}
