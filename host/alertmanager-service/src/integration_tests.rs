//! Tests of what integrations hand to receiver plugins: the notification
//! (statuses, common labels, times as Go writes them) and each kind's
//! configuration, grants, deadline and secrets.

use super::*;
use wasmetheus_alertmanager::Alert;
use wasmetheus_alertmanager::dispatch::NotifyRequest;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn alert(l: &[(&str, &str)], a: &[(&str, &str)], end: Option<&str>) -> Alert {
    Alert {
        labels: labels(l),
        annotations: labels(a),
        starts_at: Some(ts("2026-01-02T03:04:05.120Z")),
        ends_at: end.map(ts),
        generator_url: "http://prom/graph".to_owned(),
        updated_at: None,
        timeout: false,
    }
}

#[test]
fn notifications_as_template_data() {
    let alerts = vec![
        alert(
            &[("alertname", "Down"), ("instance", "a"), ("job", "n")],
            &[("summary", "s"), ("runbook", "r1")],
            None,
        ),
        alert(
            &[("alertname", "Down"), ("instance", "b"), ("job", "n")],
            &[("summary", "s"), ("runbook", "r2")],
            Some("2026-01-02T04:00:00Z"),
        ),
    ];
    let group = labels(&[("alertname", "Down")]);
    let req = NotifyRequest {
        receiver: "team.a+b",
        group_key: "{}:{alertname=\"Down\"}",
        group_labels: &group,
        alerts: &alerts,
        now: ts("2026-01-02T05:00:00Z"),
    };
    let n = notification(&req, "http://am:9093");
    assert_eq!(n.status, "firing");
    assert_eq!(n.receiver, r"team\.a\+b");
    assert_eq!(n.external_url, "http://am:9093");
    assert_eq!(n.group_labels, group);
    assert_eq!(
        n.common_labels,
        labels(&[("alertname", "Down"), ("job", "n")])
    );
    assert_eq!(n.common_annotations, labels(&[("summary", "s")]));
    let a = &n.alerts;
    assert_eq!(
        (a[0].status.as_str(), a[1].status.as_str()),
        ("firing", "resolved")
    );
    assert_eq!(a[0].starts_at, "2026-01-02T03:04:05.12Z");
    assert_eq!(a[0].ends_at, "");
    assert_eq!(a[1].ends_at, "2026-01-02T04:00:00Z");
    assert_eq!(a[0].fingerprint, alerts[0].fingerprint().to_string());
    assert_eq!(a[0].fingerprint.len(), 16);

    // All resolved: the notification is resolved.
    let req = NotifyRequest {
        alerts: &alerts[1..],
        ..req
    };
    let n = notification(&req, "");
    assert_eq!(n.status, "resolved");
    assert_eq!(
        n.common_annotations,
        labels(&[("summary", "s"), ("runbook", "r2")])
    );
}

#[test]
fn go_times() {
    for (t, want) in [
        (Some("2026-01-02T03:04:05Z"), "2026-01-02T03:04:05Z"),
        (Some("2026-01-02T03:04:05.5Z"), "2026-01-02T03:04:05.5Z"),
        (
            Some("2026-01-02T03:04:05.123456789Z"),
            "2026-01-02T03:04:05.123456789Z",
        ),
        (None, "0001-01-01T00:00:00Z"),
    ] {
        assert_eq!(go_time(t.map(ts)), want, "{t:?}");
    }
}

fn secret_file(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn plugin_configurations_grants_and_deadlines() {
    let dir = tempfile::tempdir().unwrap();
    let ca_file = secret_file(dir.path(), "ca.pem", "-----BEGIN CERTIFICATE-----\n");
    let url_file = secret_file(
        dir.path(),
        "url",
        "https://hooks.slack.com/services/T/B/x\n",
    );
    let pass_file = secret_file(dir.path(), "pass", " hunter2 \n");
    let templates = vec![json!({"name": "a.tmpl", "text": "{{ define \"x\" }}{{ end }}"})];
    struct Case {
        kind: &'static str,
        raw: Value,
        config: Value,
        origins: &'static [&'static str],
        tcp: &'static [&'static str],
        timeout: Duration,
        send_resolved: bool,
    }
    let cases = [
        Case {
            kind: "slack",
            raw: json!({"api_url_file": url_file, "channel": "#a", "timeout": "10s"}),
            config: json!({"api_url": "https://hooks.slack.com/services/T/B/x", "channel": "#a", "timeout": "10s"}),
            origins: &["https://hooks.slack.com:443"],
            tcp: &[],
            timeout: Duration::from_secs(10),
            send_resolved: false,
        },
        Case {
            kind: "slack",
            raw: json!({"api_url": "http://127.0.0.1:1/x", "app_url": "https://slack.com/api/chat.postMessage", "send_resolved": true}),
            config: json!({"api_url": "http://127.0.0.1:1/x", "app_url": "https://slack.com/api/chat.postMessage", "send_resolved": true}),
            // Without an app token the app URL is not used.
            origins: &["http://127.0.0.1:1"],
            tcp: &[],
            timeout: DEFAULT_TIMEOUT,
            send_resolved: true,
        },
        Case {
            kind: "email",
            raw: json!({"to": "a@b", "smarthost": "127.0.0.1:587", "auth_password_file": pass_file,
                        "tls_config": {"ca_file": ca_file, "server_name": "mail"}}),
            config: json!({"to": "a@b", "smarthost": "127.0.0.1:587", "auth_password": "hunter2",
                           "tls_config": {"ca": "-----BEGIN CERTIFICATE-----", "server_name": "mail"}}),
            origins: &[],
            tcp: &["127.0.0.1:587"],
            timeout: DEFAULT_TIMEOUT,
            send_resolved: false,
        },
        Case {
            kind: "pagerduty",
            raw: json!({"url": "https://events.pagerduty.com/v2/enqueue",
                        "http_config": {"authorization": {"type": "Bearer", "credentials_file": pass_file}}}),
            config: json!({"url": "https://events.pagerduty.com/v2/enqueue",
                           "http_config": {"authorization": {"type": "Bearer", "credentials": "hunter2"}}}),
            origins: &["https://events.pagerduty.com:443"],
            tcp: &[],
            timeout: DEFAULT_TIMEOUT,
            send_resolved: true,
        },
    ];
    let long = plugin_spec("x", &json!({"timeout": "1000h"}), None, &[]).unwrap();
    assert_eq!(long.timeout, MAX_TIMEOUT);
    for c in cases {
        let opened = plugin_spec(c.kind, &c.raw, None, &templates).unwrap();
        let sent: Value = serde_json::from_str(&opened.config_json).unwrap();
        assert_eq!(sent["config"], c.config, "{}", c.kind);
        assert_eq!(sent["templates"], json!(templates), "{}", c.kind);
        assert_eq!(opened.grants.http_origins, c.origins, "{}", c.kind);
        assert_eq!(opened.grants.tcp_connect, c.tcp, "{}", c.kind);
        assert!(!opened.grants.dns && opened.grants.read_paths.is_empty());
        assert_eq!(opened.timeout, c.timeout, "{}", c.kind);
        assert_eq!(opened.send_resolved, c.send_resolved, "{}", c.kind);
    }
    // A named smarthost needs the plugin to resolve it: DNS is granted,
    // connections stay limited to the smarthost.
    for (smarthost, dns) in [
        ("mail.example:587", true),
        ("[::1]:25", false),
        ("10.0.0.1:25", false),
    ] {
        let opened = plugin_spec(
            "email",
            &json!({"to": "a@b", "smarthost": smarthost}),
            None,
            &[],
        )
        .unwrap();
        assert_eq!(opened.grants.dns, dns, "{smarthost}");
        assert_eq!(opened.grants.tcp_connect, [smarthost]);
    }
    // Only a plugin that speaks TLS itself gets certificate contents.
    let opened = plugin_spec(
        "pagerduty",
        &json!({"http_config": {"tls_config": {"ca_file": ca_file}}}),
        None,
        &[],
    )
    .unwrap();
    let sent: Value = serde_json::from_str(&opened.config_json).unwrap();
    assert_eq!(
        sent["config"]["http_config"]["tls_config"]["ca_file"],
        json!(ca_file)
    );
}

#[test]
fn plugin_configuration_errors_name_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope").display().to_string();
    for (kind, raw, want) in [
        (
            "slack",
            json!({"api_url_file": missing}),
            format!("unable to read {missing}"),
        ),
        (
            "slack",
            json!({"api_url": "ftp://tok-s3cr3t@example.com/"}),
            "api_url: not an http or https URL".to_owned(),
        ),
    ] {
        let e = plugin_spec(kind, &raw, None, &[]).unwrap_err();
        assert!(e.contains(&want), "{kind}: {e}");
        assert!(!e.contains("s3cr3t"), "{e}");
    }
    let big = dir.path().join("big");
    std::fs::write(&big, vec![b'a'; (MAX_SECRET_BYTES + 1) as usize]).unwrap();
    let e = read_secret(&big.display().to_string()).unwrap_err();
    assert!(e.contains("larger than"), "{e}");
}

#[test]
fn webhook_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let pass_file = secret_file(dir.path(), "pass", "pw\n");
    let mut w = WebhookConfig {
        send_resolved: true,
        http_config: HttpClientConfig::default(),
        url: Some(wasmetheus_config::Secret::new(
            "http://hook.example:5001/x?token=t",
        )),
        url_file: None,
        max_alerts: 3,
        timeout_ns: 2_500_000_000,
    };
    w.http_config.basic_auth = Some(wasmetheus_config::BasicAuth {
        username: "u".to_owned(),
        password_file: Some(pass_file),
        ..Default::default()
    });
    let opened = webhook_spec(&w).unwrap();
    let sent: Value = serde_json::from_str(&opened.config_json).unwrap();
    assert_eq!(
        sent,
        json!({"url": "http://hook.example:5001/x?token=t", "max_alerts": 3, "timeout_ms": 2500,
               "http_config": {"basic_auth": {"username": "u", "password": "pw"}}})
    );
    assert_eq!(opened.grants.http_origins, ["http://hook.example:5001"]);
    assert_eq!(opened.timeout, Duration::from_millis(2500));
    assert!(opened.send_resolved);

    w.url = Some(wasmetheus_config::Secret::new("gopher://tok-s3cr3t@x/"));
    let e = webhook_spec(&w).unwrap_err();
    assert!(
        e.contains("only http and https") && !e.contains("s3cr3t"),
        "{e}"
    );
}

#[test]
fn templates_are_read_by_glob_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.tmpl"), "A").unwrap();
    std::fs::write(dir.path().join("b.tmpl"), "B").unwrap();
    std::fs::write(dir.path().join("c.txt"), "C").unwrap();
    let pattern = dir.path().join("*.tmpl").display().to_string();
    let none = dir.path().join("none/*.tmpl").display().to_string();
    let got = read_templates(&[pattern, none]).unwrap();
    let texts: Vec<&str> = got.iter().map(|t| t["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["A", "B"]);
    assert!(got[0]["name"].as_str().unwrap().ends_with("a.tmpl"));
    for i in 0..MAX_TEMPLATE_FILES {
        std::fs::write(dir.path().join(format!("many{i}.t")), "x").unwrap();
    }
    let many = dir.path().join("*.t").display().to_string();
    assert_eq!(
        read_templates(std::slice::from_ref(&many)).unwrap().len(),
        MAX_TEMPLATE_FILES
    );
    std::fs::write(dir.path().join("one-more.t"), "x").unwrap();
    let e = read_templates(&[many]).unwrap_err();
    assert!(
        e.to_string().contains("more than 256 template files"),
        "{e}"
    );
    let huge = dir.path().join("huge.tmpl");
    std::fs::write(&huge, vec![b'a'; MAX_TEMPLATE_BYTES as usize + 1]).unwrap();
    let e = read_templates(&[huge.display().to_string()]).unwrap_err();
    assert!(e.to_string().contains("larger than"), "{e}");
    let e = read_templates(&["[".to_owned()]).unwrap_err();
    assert!(e.to_string().contains("syntax error in pattern"), "{e}");
}

#[test]
fn kinds_in_upstream_order() {
    let kinds: Vec<String> = ["slack", "zulip", "email", "webhook", "aaa"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(
        ordered_kinds(kinds.iter()),
        ["webhook", "email", "slack", "aaa", "zulip"]
    );
}

/// A secret or template "file" that is a FIFO is refused at once rather
/// than read (which would hold the (re)load until a writer came).
#[test]
fn fifos_are_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo (Debian package coreutils)");
    assert!(made.success());
    let path = fifo.display().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let secret = read_secret(&path);
        let templates = read_templates(&[path]).map_err(|e| e.to_string());
        let _ = tx.send((secret, templates));
    });
    let Ok((secret, templates)) = rx.recv_timeout(Duration::from_secs(5)) else {
        // Let the reader go before failing.
        let _ = std::fs::OpenOptions::new().write(true).open(&fifo);
        panic!("reading a FIFO waited for a writer");
    };
    let e = secret.unwrap_err();
    assert!(e.contains("not a regular file"), "{e}");
    let e = templates.unwrap_err();
    assert!(e.contains("not a regular file"), "{e}");
}
