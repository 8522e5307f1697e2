//! The queue and the manager's life: overflow drops the oldest and counts
//! them, reloads keep the queue, stopping drains within a bound even with
//! a stalled Alertmanager, and hostile input (huge values, 100k alerts,
//! unusable Alertmanager URLs) is handled without harm.

mod common;

use std::time::{Duration, Instant};

use common::{Answer, alert, alerts, config, manager, metric, serve};
use wasmetheus_model::Label;
use wasmetheus_notifier::{Manager, Options, RejectedAlertmanager, TargetGroup};

fn one_target(address: &str) -> String {
    format!(
        "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{address}']\n"
    )
}

fn names(requests: &[common::Captured]) -> Vec<String> {
    requests
        .iter()
        .flat_map(|r| r.alerts())
        .map(|a| a["labels"]["alertname"].as_str().unwrap().to_owned())
        .collect()
}

fn dropped(manager: &Manager) -> Option<f64> {
    metric(
        &manager.metrics(),
        "prometheus_notifications_dropped_total",
        "",
    )
}

#[tokio::test]
async fn a_full_queue_drops_the_oldest() {
    let am = serve(Answer::Status(200)).await;
    let manager = Manager::new(Options {
        queue_capacity: 10,
        ..Options::default()
    });
    manager
        .apply_config(&config(&one_target(&am.address())))
        .unwrap();
    let all = alerts(30);
    manager.send(&all[..8]);
    manager.send(&all[8..13]);
    assert_eq!(manager.queue_len(), 10);
    assert_eq!(dropped(&manager), Some(3.0));
    // More than the capacity at once: the first ones go.
    manager.send(&all[13..28]);
    assert_eq!(manager.queue_len(), 10);
    assert_eq!(dropped(&manager), Some(3.0 + 5.0 + 10.0));
    manager.run();
    let requests = am.wait_for(1).await;
    let want: Vec<String> = (18..28).map(|i| format!("a{i}")).collect();
    assert_eq!(names(&requests), want);
    manager.stop().await;
}

#[tokio::test]
async fn a_reload_keeps_the_queue_and_what_was_discovered() {
    let am = serve(Answer::Status(200)).await;
    let other = serve(Answer::Status(200)).await;
    let manager = Manager::new(Options::default());
    manager.send(&alerts(5));
    let yaml = one_target(&am.address());
    manager.apply_config(&config(&yaml)).unwrap();
    assert_eq!(manager.queue_len(), 5);
    manager
        .set_target_groups(
            "config-0",
            vec![TargetGroup::from_addresses("sd", &[other.address()])],
        )
        .unwrap();
    // The same entry: what was discovered for it stays.
    manager.apply_config(&config(&yaml)).unwrap();
    assert_eq!(
        manager.alertmanagers(),
        [format!("http://{}/api/v2/alerts", other.address())]
    );
    manager.run();
    assert_eq!(other.wait_for(1).await[0].alerts().len(), 5);
    assert!(am.requests().is_empty());
    // A changed entry starts again from its static targets.
    let changed = format!(
        "alerting:\n  alertmanagers:\n    - timeout: 5s\n      static_configs: [{{targets: ['{}']}}]\n",
        am.address()
    );
    manager.apply_config(&config(&changed)).unwrap();
    manager.send(&alerts(2));
    assert_eq!(am.wait_for(1).await[0].alerts().len(), 2);
    assert!(matches!(
        manager.set_target_groups("config-1", Vec::new()),
        Err(wasmetheus_notifier::NotifierError::UnknownConfig(name)) if name == "config-1"
    ));
    manager.stop().await;
}

/// The per-Alertmanager series of an entry a reload removed go with it
/// (as Prometheus deletes them when an Alertmanager goes away); a URL that
/// another entry still has keeps its series.
#[tokio::test]
async fn a_removed_entry_takes_its_alertmanagers_series_along() {
    let manager = Manager::new(Options::default());
    let two = "alerting:\n  alertmanagers:\n    - static_configs: [{targets: ['a:9093', 'b:9093']}]\n    - timeout: 3s\n      static_configs: [{targets: ['c:9093']}]\n";
    manager.apply_config(&config(two)).unwrap();
    let sent = |url: &str| {
        metric(
            &manager.metrics(),
            "prometheus_notifications_sent_total",
            &format!("http://{url}/api/v2/alerts"),
        )
    };
    assert_eq!(
        (sent("a:9093"), sent("b:9093"), sent("c:9093")),
        (Some(0.0), Some(0.0), Some(0.0))
    );
    let one = "alerting:\n  alertmanagers:\n    - timeout: 5s\n      static_configs: [{targets: ['a:9093']}]\n";
    manager.apply_config(&config(one)).unwrap();
    assert_eq!(
        (sent("a:9093"), sent("b:9093"), sent("c:9093")),
        (Some(0.0), None, None)
    );
}

/// A changed entry with discovery keeps the series of the Alertmanagers
/// it finds again (their counters go on), and loses those its sources no
/// longer find.
#[tokio::test]
async fn a_changed_entry_with_discovery_keeps_the_counters_it_finds_again() {
    let manager = Manager::new(Options::default());
    let with_timeout = |t: &str| {
        format!(
            "alerting:\n  alertmanagers:\n    - timeout: {t}\n      file_sd_configs: [{{files: [am.json]}}]\n"
        )
    };
    manager.apply_config(&config(&with_timeout("3s"))).unwrap();
    manager
        .set_target_groups(
            "config-0",
            vec![TargetGroup::from_addresses(
                "sd",
                &["a:9093".to_owned(), "b:9093".to_owned()],
            )],
        )
        .unwrap();
    let sent = |url: &str| {
        metric(
            &manager.metrics(),
            "prometheus_notifications_sent_total",
            &format!("http://{url}/api/v2/alerts"),
        )
    };
    assert_eq!((sent("a:9093"), sent("b:9093")), (Some(0.0), Some(0.0)));
    manager.apply_config(&config(&with_timeout("5s"))).unwrap();
    assert_eq!(
        manager.alertmanagers().len(),
        2,
        "kept until the sources report"
    );
    manager
        .set_target_groups(
            "config-0",
            vec![TargetGroup::from_addresses("sd", &["a:9093".to_owned()])],
        )
        .unwrap();
    assert_eq!((sent("a:9093"), sent("b:9093")), (Some(0.0), None));
}

#[tokio::test]
async fn a_failed_reload_changes_nothing() {
    let am = serve(Answer::Status(200)).await;
    let manager = manager(Options::default(), &one_target(&am.address()));
    let bad = format!(
        "alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['{}']}}]\n      tls_config: {{ca_file: /nonexistent/ca.pem}}\n",
        am.address()
    );
    let error = manager.apply_config(&config(&bad)).unwrap_err().to_string();
    assert!(
        error.starts_with(
            "alertmanager config-0: TLS: unable to load specified CA cert /nonexistent/ca.pem"
        ),
        "{error}"
    );
    manager.send(&[alert("A")]);
    assert_eq!(am.wait_for(1).await.len(), 1);
    manager.stop().await;
}

/// An entry with a setting the notifier does not implement yet (oauth2)
/// does not fail the configuration, which Prometheus would run: that entry
/// sends nothing, says why, and the other entries send as usual.
#[tokio::test]
async fn an_entry_with_an_unsupported_setting_sends_nothing() {
    let unsupported = serve(Answer::Status(200)).await;
    let plain = serve(Answer::Status(200)).await;
    let yaml = format!(
        "alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['{}']}}]\n      oauth2: {{client_id: i, token_url: 'http://t'}}\n    - static_configs: [{{targets: ['{}']}}]\n",
        unsupported.address(),
        plain.address()
    );
    let manager = manager(Options::default(), &yaml);
    assert_eq!(
        manager.disabled_configs(),
        [(
            "config-0".to_owned(),
            "oauth2 not supported for Alertmanagers yet".to_owned()
        )]
    );
    assert_eq!(
        manager.alertmanagers(),
        [format!("http://{}/api/v2/alerts", plain.address())]
    );
    manager.send(&[alert("B")]);
    assert_eq!(plain.wait_for(1).await.len(), 1);
    // Stopping waits for every request under way.
    manager.stop().await;
    assert!(unsupported.requests().is_empty());
}

#[tokio::test]
async fn stopping_drains_the_queue() {
    let am = serve(Answer::Status(200)).await;
    let manager = Manager::new(Options::default());
    manager
        .apply_config(&config(&one_target(&am.address())))
        .unwrap();
    manager.send(&alerts(600));
    manager.run();
    manager.stop().await;
    assert_eq!(names(&am.requests()).len(), 600);
    assert_eq!(dropped(&manager), Some(0.0));
    // Stopping twice is fine.
    manager.stop().await;
}

#[tokio::test]
async fn without_draining_what_is_queued_is_dropped() {
    let am = serve(Answer::Status(200)).await;
    let manager = Manager::new(Options {
        drain_on_shutdown: false,
        ..Options::default()
    });
    manager
        .apply_config(&config(&one_target(&am.address())))
        .unwrap();
    manager.send(&alerts(600));
    manager.stop().await;
    assert_eq!(dropped(&manager), Some(600.0));
    assert_eq!(manager.queue_len(), 0);
    assert!(am.requests().is_empty());
}

#[tokio::test]
async fn a_stalled_alertmanager_cannot_stall_shutdown() {
    let stalled = serve(Answer::Hang).await;
    // The request timeout is long; the drain bound cuts it.
    let yaml = format!(
        "alerting:\n  alertmanagers:\n    - timeout: 1m\n      static_configs: [{{targets: ['{}']}}]\n",
        stalled.address()
    );
    let manager = manager(
        Options {
            drain_timeout: Some(Duration::from_millis(500)),
            ..Options::default()
        },
        &yaml,
    );
    manager.send(&alerts(1000));
    stalled.wait_for(1).await;
    let start = Instant::now();
    manager.stop().await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(dropped(&manager), Some(1000.0));
    assert_eq!(manager.queue_len(), 0);
}

#[tokio::test]
async fn the_drain_bound_defaults_to_the_longest_timeout() {
    let stalled = serve(Answer::Hang).await;
    let yaml = format!(
        "alerting:\n  alertmanagers:\n    - timeout: 300ms\n      static_configs: [{{targets: ['{}']}}]\n",
        stalled.address()
    );
    let manager = manager(Options::default(), &yaml);
    manager.send(&alerts(2000));
    stalled.wait_for(1).await;
    let start = Instant::now();
    manager.stop().await;
    let took = start.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(dropped(&manager), Some(2000.0));
}

#[tokio::test]
async fn a_hundred_thousand_alerts() {
    let am = serve(Answer::Status(200)).await;
    let manager = manager(Options::default(), &one_target(&am.address()));
    manager.send(&alerts(100_000));
    assert_eq!(dropped(&manager), Some(90_000.0));
    let requests = am.wait_for(40).await;
    let got = names(&requests);
    assert_eq!(got.len(), 10_000);
    assert_eq!(got[0], "a90000");
    assert_eq!(got[9_999], "a99999");
    assert_eq!(requests.len(), 40, "ceil(10000 / 256) requests");
    manager.stop().await;
}

#[tokio::test]
async fn huge_label_values_are_sent_as_they_are() {
    let am = serve(Answer::Status(200)).await;
    let manager = manager(Options::default(), &one_target(&am.address()));
    let huge = "x\"<".repeat(400_000);
    let mut a = alert("Huge");
    a.labels.push(Label::new("zz", huge.as_str()));
    a.annotations = vec![Label::new("description", huge.as_str())];
    manager.send(&[a]);
    let requests = am.wait_for(1).await;
    let alerts = requests[0].alerts();
    assert_eq!(alerts[0]["labels"]["zz"].as_str(), Some(huge.as_str()));
    assert_eq!(
        alerts[0]["annotations"]["description"].as_str(),
        Some(huge.as_str())
    );
    manager.stop().await;
}

#[tokio::test]
async fn unusable_alertmanager_urls_are_rejected_with_a_reason() {
    let am = serve(Answer::Status(200)).await;
    let yaml = "alerting:\n  alertmanagers:\n    - relabel_configs:\n        - {source_labels: [__meta_drop], regex: 'yes', action: drop}\n";
    let manager = manager(Options::default(), yaml);
    let target = |pairs: &[(&str, &str)]| common::labels(pairs);
    let group = TargetGroup {
        source: "hostile".into(),
        targets: vec![
            target(&[("__address__", &am.address())]),
            target(&[("__address__", "bad host:9093")]),
            target(&[("__address__", "")]),
            target(&[("__address__", "am:9093"), ("__meta_drop", "yes")]),
            target(&[("__address__", "user@am:9093")]),
        ],
        labels: Vec::new(),
    };
    let mut ftp = TargetGroup::from_addresses("ftp", &["am2:9093"]);
    ftp.labels = vec![Label::new("__scheme__", "ftp")];
    let slash = TargetGroup::from_addresses("slash", &["ok:1", "am/x:9093"]);
    manager
        .set_target_groups("config-0", vec![group, ftp, slash])
        .unwrap();
    assert_eq!(
        manager.alertmanagers(),
        [format!("http://{}/api/v2/alerts", am.address())]
    );
    assert_eq!(
        manager.dropped_alertmanagers(),
        ["http://am:9093/api/v2/alerts"]
    );
    let rejected = |url: &str, reason: &str| RejectedAlertmanager {
        url: url.into(),
        reason: reason.into(),
    };
    assert_eq!(
        manager.rejected_alertmanagers(),
        [
            rejected(
                "http://bad%20host:9093/api/v2/alerts",
                "invalid character \" \" in host name"
            ),
            rejected("http:///api/v2/alerts", "no Host in request URL"),
            rejected(
                "http://user%40am:9093/api/v2/alerts",
                "invalid character \"@\" in host name"
            ),
            rejected(
                "ftp://am2:9093/api/v2/alerts",
                "unsupported protocol scheme \"ftp\""
            ),
            rejected(
                "http://am%2Fx:9093/api/v2/alerts",
                "\"am/x:9093\" is not a valid hostname (target group \"slash\" skipped)"
            ),
        ]
    );
    assert_eq!(
        metric(
            &manager.metrics(),
            "prometheus_notifications_alertmanagers_discovered",
            ""
        ),
        Some(1.0)
    );
    manager.send(&alerts(3));
    assert_eq!(am.wait_for(1).await[0].alerts().len(), 3);
    manager.stop().await;
}

#[tokio::test]
async fn metrics_follow_the_discovered_alertmanagers() {
    let am = serve(Answer::Status(200)).await;
    let other = serve(Answer::Status(200)).await;
    let manager = manager(Options::default(), &one_target(&am.address()));
    let url = |c: &common::Capture| format!("http://{}/api/v2/alerts", c.address());
    let sent =
        |m: &Manager, c| metric(&m.metrics(), "prometheus_notifications_sent_total", &url(c));
    assert_eq!(
        sent(&manager, &am),
        Some(0.0),
        "a discovered one starts at 0"
    );
    manager
        .set_target_groups(
            "config-0",
            vec![TargetGroup::from_addresses("sd", &[other.address()])],
        )
        .unwrap();
    assert_eq!(sent(&manager, &am), None, "a gone one's series go");
    assert_eq!(sent(&manager, &other), Some(0.0));
    let families = manager.metrics();
    let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "prometheus_notifications_alertmanagers_discovered",
            "prometheus_notifications_dropped_total",
            "prometheus_notifications_errors_total",
            "prometheus_notifications_latency_seconds",
            "prometheus_notifications_queue_capacity",
            "prometheus_notifications_queue_length",
            "prometheus_notifications_sent_total",
        ]
    );
    manager.stop().await;
}

/// Prometheus 3 (`sendAll` counting the entries tried): a batch with no
/// Alertmanager to go to is not dropped; 2.42 counted it as dropped.
#[tokio::test]
async fn alerts_with_no_alertmanager_are_not_counted_as_dropped() {
    let manager = manager(
        Options::default(),
        "alerting:\n  alertmanagers:\n    - {}\n",
    );
    assert!(manager.alertmanagers().is_empty());
    manager.send(&alerts(3));
    common::eventually("the queue emptied", || manager.queue_len() == 0).await;
    assert_eq!(dropped(&manager), Some(0.0));
    let families = manager.metrics();
    let errors = families
        .iter()
        .find(|f| f.name == "prometheus_notifications_errors_total")
        .unwrap();
    assert_eq!(
        errors.help,
        "Total number of sent alerts affected by errors."
    );
    manager.stop().await;
}
