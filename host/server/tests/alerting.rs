//! Rules and alerts in a running server: a recording rule's series and an
//! alert's `ALERTS` land in the TSDB, the alert reaches a capturing
//! Alertmanager (API v2, Prometheus' generator URL), `/api/v1/rules`,
//! `/api/v1/alerts` and `/api/v1/alertmanagers` report them, `/metrics`
//! has the rule and notification families and `status/flags` the flags; a
//! reload with a broken rule file fails with Prometheus' text and keeps
//! the groups; a start with a broken rule file fails.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: wasmetheus::serve::ServeArgs,
}

fn serve_args(dir: &Path, config: &Path) -> wasmetheus::serve::ServeArgs {
    let dir = dir.display();
    Cli::parse_from([
        "wasmetheus".to_owned(),
        format!("--config.file={}", config.display()),
        "--web.listen-address=127.0.0.1:0".to_owned(),
        format!("--plugins.dir={dir}/plugins"),
        format!("--storage.tsdb.path={dir}/data"),
        "--web.enable-lifecycle".to_owned(),
        "--web.external-url=http://prom.example:9090/base".to_owned(),
        "--web.route-prefix=/".to_owned(),
        "--rules.alert.resend-delay=1s".to_owned(),
        "--log.level=warn".to_owned(),
    ])
    .serve
}

/// One HTTP/1.0 request; the status and body.
async fn http(addr: std::net::SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("{method} {path} HTTP/1.0\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// An Alertmanager that records each request's path and body.
async fn capture() -> (std::net::SocketAddr, Arc<Mutex<Vec<(String, String)>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&got);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    let Some((head, body)) = text.split_once("\r\n\r\n") else {
                        continue;
                    };
                    let length = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() < length {
                        continue;
                    }
                    let path = head.split(' ').nth(1).unwrap_or_default().to_owned();
                    seen.lock().push((path, body.to_owned()));
                    let _ = stream
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                        .await;
                    buf.clear();
                }
            });
        }
    });
    (addr, got)
}

async fn wait_for(addr: std::net::SocketAddr, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        if Instant::now() > deadline {
            let (_, rules) = http(addr, "GET", "/api/v1/rules").await;
            panic!("timed out waiting for {what}; rules: {rules}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const RULES: &str = "groups:
- name: g
  interval: 1s
  rules:
  - record: job:one:sum
    expr: vector(1)
    labels:
      source: rule
  - alert: AlwaysOn
    expr: vector(1) > 0
    labels:
      severity: page
    annotations:
      summary: 'value {{ $value }}'
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_record_alert_and_notify() {
    let dir = tempfile::tempdir().unwrap();
    let (am, received) = capture().await;
    std::fs::write(dir.path().join("rules.yml"), RULES).unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  evaluation_interval: 1s\n  external_labels:\n    site: here\n\
             rule_files: ['rules.yml']\n\
             alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['{am}']\n\
             scrape_configs: []\n"
        ),
    )
    .unwrap();
    let server = wasmetheus::serve::start(serve_args(dir.path(), &config))
        .await
        .unwrap();
    let addr = server.address;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve_until(async {
        let _ = stopped.await;
    }));

    // The recorded series, with the rule's label.
    wait_for(addr, "the recorded series", async || {
        let (_, body) = http(addr, "GET", "/api/v1/query?query=job:one:sum").await;
        body.contains("\"source\":\"rule\"") && body.contains("\"1\"")
    })
    .await;
    // The alert fires at once (no `for`), in ALERTS and at the Alertmanager.
    wait_for(addr, "ALERTS", async || {
        let (_, body) = http(addr, "GET", "/api/v1/query?query=ALERTS").await;
        body.contains("\"alertstate\":\"firing\"") && body.contains("\"severity\":\"page\"")
    })
    .await;
    wait_for(addr, "a notification", async || !received.lock().is_empty()).await;
    let (path, body) = received.lock()[0].clone();
    assert_eq!(path, "/api/v2/alerts");
    let alerts: serde_json::Value = serde_json::from_str(&body).unwrap();
    let alert = &alerts[0];
    assert_eq!(alert["labels"]["alertname"], "AlwaysOn");
    assert_eq!(alert["labels"]["site"], "here", "external labels: {body}");
    assert_eq!(alert["annotations"]["summary"], "value 1");
    assert_eq!(
        alert["generatorURL"],
        "http://prom.example:9090/base/graph?g0.expr=vector%281%29+%3E+0&g0.tab=1"
    );
    assert!(
        alert["endsAt"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );

    let (status, rules) = http(addr, "GET", "/api/v1/rules").await;
    assert_eq!(status, 200);
    let rules: serde_json::Value = serde_json::from_str(&rules).unwrap();
    let group = &rules["data"]["groups"][0];
    assert_eq!(group["name"], "g");
    assert_eq!(group["interval"], 1.0);
    assert_eq!(group["rules"][0]["type"], "recording");
    assert_eq!(group["rules"][0]["health"], "ok");
    assert_eq!(group["rules"][1]["state"], "firing");
    assert_eq!(group["rules"][1]["alerts"][0]["labels"]["severity"], "page");
    let (_, alerts) = http(addr, "GET", "/api/v1/alerts").await;
    assert!(alerts.contains("\"alertname\":\"AlwaysOn\""), "{alerts}");
    let (_, ams) = http(addr, "GET", "/api/v1/alertmanagers").await;
    assert!(ams.contains(&format!("http://{am}/api/v2/alerts")), "{ams}");

    let (_, metrics) = http(addr, "GET", "/metrics").await;
    for family in [
        "prometheus_rule_evaluations_total",
        "prometheus_rule_group_interval_seconds",
        "prometheus_notifications_sent_total",
        "prometheus_notifications_queue_capacity",
    ] {
        assert!(metrics.contains(family), "{family} missing from /metrics");
    }
    let (_, flags) = http(addr, "GET", "/api/v1/status/flags").await;
    assert!(
        flags.contains("\"rules.alert.resend-delay\":\"1s\""),
        "{flags}"
    );
    assert!(
        flags.contains("\"alertmanager.notification-queue-capacity\":\"10000\""),
        "{flags}"
    );
    for (flag, value) in [
        ("rules.alert.for-outage-tolerance", "1h"),
        ("rules.alert.for-grace-period", "10m"),
        ("rules.max-concurrent-evals", "4"),
        ("alertmanager.notification-batch-size", "256"),
        ("alertmanager.drain-notification-queue-on-shutdown", "true"),
    ] {
        let shown = format!("\"{flag}\":\"{value}\"");
        assert!(flags.contains(&shown), "{flag}: {flags}");
    }

    // A broken rule file: the reload fails with Prometheus' text, the
    // groups stay.
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n- name: g\n  rules:\n  - record: x\n    expr: 'up('\n",
    )
    .unwrap();
    let (status, body) = http(addr, "POST", "/-/reload").await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("one or more errors occurred while applying the new configuration"),
        "{body}"
    );
    let (_, rules) = http(addr, "GET", "/api/v1/rules").await;
    assert!(rules.contains("job:one:sum"), "{rules}");
    let (_, metrics) = http(addr, "GET", "/metrics").await;
    assert!(
        metrics.contains("prometheus_config_last_reload_successful 0"),
        "{metrics}"
    );

    // A good one again: the new groups replace the old.
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n- name: h\n  rules:\n  - record: two\n    expr: vector(2)\n",
    )
    .unwrap();
    let (status, body) = http(addr, "POST", "/-/reload").await;
    assert_eq!(status, 200, "{body}");
    let (_, rules) = http(addr, "GET", "/api/v1/rules").await;
    assert!(
        rules.contains("\"name\":\"h\"") && !rules.contains("job:one:sum"),
        "{rules}"
    );

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(30), serving)
        .await
        .expect("shutdown within its bound")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_rule_file_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: 'up =='\n",
    )
    .unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "rule_files: ['rules.yml']\nscrape_configs: []\n").unwrap();
    let error = match wasmetheus::serve::start(serve_args(dir.path(), &config)).await {
        Ok(_) => panic!("started with a broken rule file"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        error.contains("one or more errors occurred while applying the new configuration"),
        "{error}"
    );
    assert!(error.contains("rules.yml"), "{error}");
}

/// Features Prometheus refuses together stop the start with its text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incompatible_features_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "scrape_configs: []\n").unwrap();
    let mut args = serve_args(dir.path(), &config);
    args.rules.enable_feature =
        vec!["otlp-deltatocumulative,otlp-native-delta-ingestion".to_owned()];
    let error = match wasmetheus::serve::start(args).await {
        Ok(_) => panic!("started with incompatible features"),
        Err(e) => format!("{e:#}"),
    };
    assert_eq!(
        error,
        "Error parsing feature list: cannot enable otlp-deltatocumulative and \
         otlp-native-delta-ingestion features at the same time"
    );
}

/// Alertmanagers found by file discovery: listed once the file names
/// them, sent to, gone once the file drops them; the batch size flag is
/// in force and listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanagers_from_file_discovery() {
    let dir = tempfile::tempdir().unwrap();
    let (am, received) = capture().await;
    std::fs::write(dir.path().join("rules.yml"), RULES).unwrap();
    std::fs::write(dir.path().join("am.json"), "[]").unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        "global:\n  evaluation_interval: 1s\nrule_files: ['rules.yml']\n\
         alerting:\n  alertmanagers:\n  - path_prefix: /am\n    file_sd_configs:\n    - files: ['am.json']\n      refresh_interval: 1s\n\
         scrape_configs: []\n",
    )
    .unwrap();
    let mut args = serve_args(dir.path(), &config);
    args.rules.notification_batch_size = 7;
    let server = wasmetheus::serve::start(args).await.unwrap();
    let addr = server.address;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve_until(async {
        let _ = stopped.await;
    }));
    let (_, flags) = http(addr, "GET", "/api/v1/status/flags").await;
    assert!(
        flags.contains("\"alertmanager.notification-batch-size\":\"7\""),
        "{flags}"
    );
    let (_, ams) = http(addr, "GET", "/api/v1/alertmanagers").await;
    assert!(!ams.contains("/api/v2/alerts"), "{ams}");

    std::fs::write(
        dir.path().join("am.json"),
        format!("[{{\"targets\": [\"{am}\"]}}]"),
    )
    .unwrap();
    let url = format!("http://{am}/am/api/v2/alerts");
    wait_for(addr, "the discovered Alertmanager", async || {
        let (_, ams) = http(addr, "GET", "/api/v1/alertmanagers").await;
        ams.contains(&url)
    })
    .await;
    wait_for(addr, "a notification", async || {
        received
            .lock()
            .iter()
            .any(|(path, body)| path == "/am/api/v2/alerts" && body.contains("AlwaysOn"))
    })
    .await;

    // A reload that changes the entry's settings but not its discovery:
    // the same file finds the same Alertmanager, which stays listed.
    std::fs::write(
        &config,
        "global:\n  evaluation_interval: 1s\nrule_files: ['rules.yml']\n\
         alerting:\n  alertmanagers:\n  - path_prefix: /am\n    timeout: 5s\n    file_sd_configs:\n    - files: ['am.json']\n      refresh_interval: 1s\n\
         scrape_configs: []\n",
    )
    .unwrap();
    let (status, body) = http(addr, "POST", "/-/reload").await;
    assert_eq!(status, 200, "{body}");
    wait_for(
        addr,
        "the discovered Alertmanager after the reload",
        async || {
            let (_, ams) = http(addr, "GET", "/api/v1/alertmanagers").await;
            ams.contains(&url)
        },
    )
    .await;

    std::fs::write(dir.path().join("am.json"), "[]").unwrap();
    wait_for(addr, "the Alertmanager to go", async || {
        let (_, ams) = http(addr, "GET", "/api/v1/alertmanagers").await;
        !ams.contains(&url)
    })
    .await;

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(30), serving)
        .await
        .expect("shutdown within its bound")
        .unwrap()
        .unwrap();
}

/// Alertmanager settings the notifier does not implement stop the start
/// with its error (never a crash, never alerts silently not sent).
/// An Alertmanager setting the notifier does not implement yet (oauth2)
/// does not stop the start, as Prometheus would run the configuration:
/// the field is named as not in effect, that entry sends nothing, and
/// the rules run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_settings_not_implemented_yet_do_not_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        "alerting:\n  alertmanagers:\n  - oauth2:\n      client_id: c\n      client_secret: s\n      token_url: http://127.0.0.1:1/token\n    static_configs:\n    - targets: ['127.0.0.1:9093']\nscrape_configs: []\n",
    )
    .unwrap();
    let loaded = wasmetheus_config::Config::load(&config).unwrap();
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.ends_with("parsed, not in effect yet: alerting.alertmanagers.oauth2")),
        "{:?}",
        loaded.warnings
    );
    let server = wasmetheus::serve::start(serve_args(dir.path(), &config))
        .await
        .expect("a configuration Prometheus runs starts");
    let addr = server.address;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve_until(async {
        let _ = stopped.await;
    }));
    let (status, _) = http(addr, "GET", "/api/v1/alertmanagers").await;
    assert_eq!(status, 200);
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}

/// The value of the one series `query` returns, if there is one.
async fn single_value(addr: std::net::SocketAddr, query: &str) -> Option<f64> {
    let (_, body) = http(addr, "GET", &format!("/api/v1/query?query={query}")).await;
    let answer: serde_json::Value = serde_json::from_str(&body).ok()?;
    answer["data"]["result"][0]["value"][1]
        .as_str()?
        .parse()
        .ok()
}

/// A pending alert's `for` state survives a restart: after it, the alert
/// is active since before the restart (Prometheus' restore), not since
/// its first evaluation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn for_state_is_restored_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n- name: g\n  interval: 1s\n  rules:\n  - alert: Slow\n    expr: vector(1)\n    for: 1h\n",
    )
    .unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "rule_files: ['rules.yml']\nscrape_configs: []\n").unwrap();
    let args = || {
        let mut args = serve_args(dir.path(), &config);
        args.rules.for_grace_period = Duration::from_secs(1);
        args
    };

    let server = wasmetheus::serve::start(args()).await.unwrap();
    let addr = server.address;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve_until(async {
        let _ = stopped.await;
    }));
    // Pending, with its for-state written at least twice.
    let mut first_written = None;
    wait_for(addr, "two for-state samples", async || {
        let Some(t) = single_value(addr, "timestamp(ALERTS_FOR_STATE)").await else {
            return false;
        };
        let first = *first_written.get_or_insert(t);
        t > first
    })
    .await;
    let active_since = single_value(addr, "ALERTS_FOR_STATE").await.unwrap();
    let _ = stop.send(());
    serving.await.unwrap().unwrap();

    let restarted_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let server = wasmetheus::serve::start(args()).await.unwrap();
    let addr = server.address;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve_until(async {
        let _ = stopped.await;
    }));
    wait_for(addr, "a for-state sample after the restart", async || {
        single_value(addr, "timestamp(ALERTS_FOR_STATE)")
            .await
            .is_some_and(|t| t > restarted_at + 1.0)
    })
    .await;
    let restored = single_value(addr, "ALERTS_FOR_STATE").await.unwrap();
    // Shifted by the time the server was down, as Prometheus does, but
    // from before the restart.
    assert!(restored >= active_since, "{restored} < {active_since}");
    assert!(
        restored < restarted_at,
        "{restored} is not restored (restart at {restarted_at})"
    );
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}

/// A server answering every request with `body` as JSON.
async fn json_server(body: String) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    addr
}

/// Alertmanagers from HTTP discovery, through the entry's
/// `relabel_configs`: the kept one is active, the dropped one listed as
/// dropped by `/api/v1/alertmanagers`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanagers_from_http_discovery_with_relabeling() {
    let dir = tempfile::tempdir().unwrap();
    let sd = json_server(
        r#"[{"targets": ["127.0.0.1:1111"], "labels": {"keep": "yes"}}, {"targets": ["127.0.0.1:2222"], "labels": {"keep": "no"}}]"#.to_owned(),
    )
    .await;
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "alerting:\n  alertmanagers:\n  - http_sd_configs:\n    - url: http://{sd}/sd\n      refresh_interval: 1s\n    relabel_configs:\n    - source_labels: [keep]\n      regex: 'yes'\n      action: keep\n\
             scrape_configs: []\n"
        ),
    )
    .unwrap();
    let server = wasmetheus::serve::start(serve_args(dir.path(), &config))
        .await
        .unwrap();
    let addr = server.address;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve_until(async {
        let _ = stopped.await;
    }));
    wait_for(addr, "the discovered Alertmanagers", async || {
        let (_, body) = http(addr, "GET", "/api/v1/alertmanagers").await;
        let Ok(answer) = serde_json::from_str::<serde_json::Value>(&body) else {
            return false;
        };
        answer["data"]["activeAlertmanagers"][0]["url"] == "http://127.0.0.1:1111/api/v2/alerts"
            && answer["data"]["droppedAlertmanagers"][0]["url"]
                == "http://127.0.0.1:2222/api/v2/alerts"
    })
    .await;
    let (_, metrics) = http(addr, "GET", "/metrics").await;
    assert!(
        metrics.contains("prometheus_notifications_alertmanagers_discovered 1"),
        "{metrics}"
    );
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}

/// The `wasmetheus serve` process: SIGHUP reloads the rules; SIGTERM
/// stops it (rules, then the notifier) with exit status 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_rules_of_the_process() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), RULES).unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "rule_files: ['rules.yml']\nscrape_configs: []\n").unwrap();
    let log = dir.path().join("server.log");
    let log_file = std::fs::File::create(&log).unwrap();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_wasmetheus"))
        .arg("serve")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--plugins.dir={}",
            dir.path().join("plugins").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .args(["--web.listen-address=127.0.0.1:0", "--log.level=info"])
        .env("NO_COLOR", "1")
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .unwrap();
    // The address from the ready line.
    let started = Instant::now();
    let addr: std::net::SocketAddr = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let found = text.lines().find(|l| l.contains("ready")).and_then(|line| {
            let at = line.find("127.0.0.1:")?;
            let rest = &line[at..];
            let end = rest
                .char_indices()
                .skip("127.0.0.1:".len())
                .find(|(_, c)| !c.is_ascii_digit())
                .map_or(rest.len(), |(i, _)| i);
            rest[..end].parse().ok()
        });
        if let Some(addr) = found {
            break addr;
        }
        assert!(
            server.try_wait().unwrap().is_none(),
            "the server stopped: {text}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no ready line: {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (_, rules) = http(addr, "GET", "/api/v1/rules").await;
    assert!(rules.contains("\"name\":\"g\""), "{rules}");

    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n- name: reloaded\n  rules:\n  - record: r\n    expr: vector(3)\n",
    )
    .unwrap();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    wait_for(addr, "the reloaded group", async || {
        let (_, rules) = http(addr, "GET", "/api/v1/rules").await;
        rules.contains("\"name\":\"reloaded\"") && !rules.contains("\"name\":\"g\"")
    })
    .await;

    let term = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = server.kill();
            panic!("no exit within 30s of SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
}

/// `--enable-feature=concurrent-rule-eval`: the server evaluates a group
/// of independent and dependent rules concurrently with the results of
/// evaluation in order; `status/flags` lists the features, and unknown
/// names do not stop the start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rule_evaluation_when_enabled() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:
- name: g
  interval: 1s
  rules:
  - record: a
    expr: vector(1)
  - record: b
    expr: vector(2)
  - record: c
    expr: a + b
  - record: d
    expr: c * 10
",
    )
    .unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        "global:\n  evaluation_interval: 1s\nrule_files: ['rules.yml']\nscrape_configs: []\n",
    )
    .unwrap();
    let mut args = serve_args(dir.path(), &config);
    args.rules.enable_feature = vec![
        "concurrent-rule-eval,no-such-feature".to_owned(),
        "exemplar-storage".to_owned(),
    ];
    args.rules.max_concurrent_evals = 2;
    let server = wasmetheus::serve::start(args).await.unwrap();
    let addr = server.address;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve_until(async {
        let _ = stopped.await;
    }));
    wait_for(addr, "d = (a + b) * 10", async || {
        single_value(addr, "d").await == Some(30.0)
    })
    .await;
    assert_eq!(single_value(addr, "c").await, Some(3.0));
    let (_, flags) = http(addr, "GET", "/api/v1/status/flags").await;
    assert!(
        flags.contains(
            "\"enable-feature\":\"concurrent-rule-eval,no-such-feature,exemplar-storage\""
        ),
        "{flags}"
    );
    assert!(
        flags.contains("\"rules.max-concurrent-evals\":\"2\""),
        "{flags}"
    );
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}
