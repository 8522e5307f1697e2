//! The Alertmanager in both its modes, end to end, driven by Debian's
//! `amtool` (0.25): standalone (`wasmetheus alertmanager`, run in a child
//! process of this test binary so that it gets real signals) and built
//! into `serve` (`--alertmanager.config.file`, in process), each with a
//! webhook receiver pointing at a capture server. Alerts added with amtool
//! reach the webhook grouped; alerts and silences are queried, added,
//! updated, expired and imported; the configuration shows with secrets
//! hidden; restarting on the same storage keeps silences, alerts and the
//! notification log (no second notification); a broken configuration
//! fails the reload and the old one keeps running; hostile bodies are
//! refused. In the built-in mode a rule's alert reaches the webhook in
//! process; Debian's Prometheus 2.42 sends its alerts to the standalone
//! one. A receiver plugin missing stops either start with a clear error.

use crate::receivers::Capture;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use wasmetheus_tests::{
    ChildDaemon, PluginsDir, TestServer, child_payload, eventually, free_port, guests, http,
    http_with_body, start_prometheus, test_args,
};

const AMTOOL: &str = "/usr/bin/amtool";
const PROMETHEUS: &str = "/usr/bin/prometheus";
/// Set in a child process: the standalone Alertmanager's flags (JSON).
const CHILD_FLAGS: &str = "WASMETHEUS_TEST_ALERTMANAGER_FLAGS";
const WAIT: Duration = Duration::from_secs(60);

/// In a child process started by [`Standalone::spawn`]: runs the
/// standalone Alertmanager with the flags of [`CHILD_FLAGS`] until SIGTERM
/// and returns true (an error fails the child with it on its output).
fn standalone_child() -> bool {
    let Some(flags) = child_payload(CHILD_FLAGS) else {
        return false;
    };
    let flags: Vec<String> = serde_json::from_str(&flags).unwrap();
    let args = wasmetheus::serve::alertmanager::parse_args(&flags).unwrap();
    if let Err(e) = wasmetheus::serve::alertmanager::run_until_signal(args) {
        panic!("error: {e:#}");
    }
    true
}

/// The files of one Alertmanager under test.
struct Files {
    dir: tempfile::TempDir,
    plugins: PluginsDir,
}

impl Files {
    /// A directory with `am.yml` (`config`) and a plugins directory with
    /// the webhook receiver (unless `webhook` is false).
    fn new(config: &str, webhook: bool) -> Files {
        let files = Files {
            dir: tempfile::tempdir().unwrap(),
            plugins: PluginsDir::new(),
        };
        if webhook {
            files
                .plugins
                .install(guests::PLUGIN_WEBHOOK_RECEIVER, "webhook-receiver");
        }
        files.write("am.yml", config);
        files
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).unwrap();
    }
}

/// alertmanager.yml: everything to the webhook at `url` (with a basic
/// auth password that must never show), grouped by alert name, fast.
fn am_config(url: &str, extra_receiver: bool) -> String {
    let extra = if extra_receiver {
        format!("  - name: second\n    webhook_configs: [{{url: '{url}/second'}}]\n")
    } else {
        String::new()
    };
    format!(
        "global:\n  resolve_timeout: 5m\nroute:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: '{url}/hook'\n        send_resolved: true\n        http_config:\n          basic_auth: {{username: u, password: topsecret}}\n{extra}"
    )
}

/// The standalone Alertmanager, a child process of this test binary.
struct Standalone(ChildDaemon);

impl std::ops::Deref for Standalone {
    type Target = ChildDaemon;
    fn deref(&self) -> &ChildDaemon {
        &self.0
    }
}

impl std::ops::DerefMut for Standalone {
    fn deref_mut(&mut self) -> &mut ChildDaemon {
        &mut self.0
    }
}

impl Standalone {
    /// Runs test `test` of this binary in a child process as the
    /// standalone Alertmanager of `files` on `port`.
    fn spawn(test: &str, files: &Files, port: u16) -> Standalone {
        let flags = vec![
            format!("--config.file={}", files.path("am.yml").display()),
            format!("--storage.path={}", files.path("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            format!("--plugins.dir={}", files.plugins.path().display()),
            "--cluster.listen-address=".to_owned(),
            "--log.level=info".to_owned(),
        ];
        Standalone(ChildDaemon::spawn(
            test,
            CHILD_FLAGS,
            &serde_json::to_string(&flags).unwrap(),
            SocketAddr::from(([127, 0, 0, 1], port)),
            files.path(&format!("am-{port}.log")),
        ))
    }

    /// [`Standalone::spawn`], then waits until it is ready.
    async fn start(test: &str, files: &Files) -> Standalone {
        let mut am = Standalone::spawn(test, files, free_port());
        let body = am.wait_ready("the Alertmanager", WAIT).await;
        assert_eq!(body, "OK");
        am
    }

    /// SIGTERM, and the exit it leads to: gracefully, successfully.
    async fn stop(self) {
        self.0.stop(WAIT).await;
    }
}

/// A running Alertmanager of either mode.
enum Running {
    Standalone(Standalone),
    Builtin(TestServer, Box<wasmetheus::serve::ServeArgs>),
}

impl Running {
    fn address(&self) -> SocketAddr {
        match self {
            Running::Standalone(am) => am.address,
            Running::Builtin(server, _) => server.address,
        }
    }

    /// Stops it and starts it again on the same storage.
    async fn restart(self, test: &str, files: &Files) -> Running {
        match self {
            Running::Standalone(am) => {
                am.stop().await;
                Running::Standalone(Standalone::start(test, files).await)
            }
            Running::Builtin(server, args) => {
                let data = server.stop().await;
                Running::Builtin(TestServer::start((*args).clone(), data).await, args)
            }
        }
    }
}

/// The serve arguments of a built-in Alertmanager on `files`, with
/// prometheus.yml `prometheus` (written beside).
fn builtin_args(files: &Files, prometheus: &str, data: &Path) -> wasmetheus::serve::ServeArgs {
    files.write("prometheus.yml", prometheus);
    let mut args = test_args(
        files.plugins.path(),
        Some(&files.path("prometheus.yml")),
        data,
    );
    args.rules.alertmanager.config_file = Some(files.path("am.yml"));
    args.rules.alertmanager.storage_path = Some(files.path("am-data"));
    args
}

/// `amtool --alertmanager.url=http://<address> <args>`: its status,
/// stdout and stderr.
async fn amtool(address: SocketAddr, args: &[&str]) -> (bool, String, String) {
    amtool_at(&format!("http://{address}"), args).await
}

/// [`amtool`] on the Alertmanager at `url`.
async fn amtool_at(url: &str, args: &[&str]) -> (bool, String, String) {
    assert!(
        Path::new(AMTOOL).exists(),
        "{AMTOOL} not found: install the Debian package `prometheus-alertmanager`"
    );
    let out = tokio::process::Command::new(AMTOOL)
        .arg(format!("--alertmanager.url={url}"))
        .args(args)
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`amtool`], which must succeed: its stdout.
async fn amtool_ok(address: SocketAddr, args: &[&str]) -> String {
    let (ok, out, err) = amtool(address, args).await;
    assert!(ok, "amtool {args:?} failed:\n{out}\n{err}");
    out
}

async fn amtool_json(address: SocketAddr, args: &[&str]) -> Vec<Value> {
    let mut args = args.to_vec();
    args.extend(["-o", "json"]);
    let out = amtool_ok(address, &args).await;
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("amtool {args:?}: {e}: {out}"))
}

/// The notifications the webhook got at `path`, as JSON.
fn notifications(capture: &Capture, path: &str) -> Vec<Value> {
    capture
        .requests()
        .iter()
        .filter(|r| r.target == path)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

/// The `instance` labels of a notification's alerts.
fn instances(notification: &Value) -> BTreeSet<String> {
    notification["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["labels"]["instance"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// Waits until the webhook has had no request for 2.5 s: the group's
/// notifications settled.
async fn settle(capture: &Capture) -> usize {
    loop {
        let seen = capture.requests().len();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        if capture.requests().len() == seen {
            return seen;
        }
    }
}

/// The alerts the API holds with this alert name: their instances.
async fn held_instances(address: SocketAddr, alertname: &str) -> BTreeSet<String> {
    let filter = wasmetheus_tests::url_encode(&format!("alertname=\"{alertname}\""));
    let (status, body) = http(
        address,
        "GET",
        &format!("/api/v2/alerts?filter={filter}"),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let alerts: Vec<Value> = serde_json::from_str(&body).unwrap();
    alerts
        .iter()
        .map(|a| a["labels"]["instance"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// The active silences: (id, comment).
async fn active_silences(address: SocketAddr) -> Vec<(String, String)> {
    amtool_json(address, &["silence", "query"])
        .await
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["comment"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// What both modes do alike, up to (not including) the restart: alerts
/// through amtool to the webhook, queries, the silences' life cycle, the
/// configuration shown, routes tested, the file checked. Returns the
/// active silence's id.
async fn amtool_session(address: SocketAddr, capture: &Capture, files: &Files) -> String {
    for instance in ["a", "b"] {
        amtool_ok(
            address,
            &[
                "alert",
                "add",
                "alertname=ModeTest",
                &format!("instance={instance}"),
                "--annotation=summary=modes",
            ],
        )
        .await;
    }
    // Grouped by alert name: one notification carries both.
    let grouped = eventually(WAIT, "both alerts in one notification", || async {
        notifications(capture, "/hook")
            .into_iter()
            .find(|n| instances(n).len() == 2)
    })
    .await;
    assert_eq!(grouped["receiver"], "hook");
    assert_eq!(grouped["status"], "firing");
    assert_eq!(grouped["groupLabels"], json!({"alertname": "ModeTest"}));
    assert_eq!(grouped["commonAnnotations"], json!({"summary": "modes"}));
    let request = capture
        .requests()
        .into_iter()
        .find(|r| r.target == "/hook")
        .unwrap();
    // base64("u:topsecret")
    assert_eq!(
        request.headers.get("authorization").map(String::as_str),
        Some("Basic dTp0b3BzZWNyZXQ=")
    );

    let queried = amtool_json(address, &["alert", "query", "alertname=ModeTest"]).await;
    let queried: BTreeSet<&str> = queried
        .iter()
        .map(|a| a["labels"]["instance"].as_str().unwrap())
        .collect();
    assert_eq!(queried, BTreeSet::from(["a", "b"]));

    // Silences: add, query, update, expire, import.
    let id = amtool_ok(
        address,
        &[
            "silence",
            "add",
            "alertname=ModeTest",
            "instance=b",
            "--author=tester",
            "--comment=first",
            "--duration=1h",
        ],
    )
    .await
    .trim()
    .to_owned();
    assert_eq!(
        active_silences(address).await,
        [(id.clone(), "first".into())]
    );
    let listed = amtool_json(address, &["silence", "query"]).await;
    assert_eq!(listed[0]["createdBy"], "tester");
    assert_eq!(
        listed[0]["matchers"],
        json!([
            {"name": "alertname", "value": "ModeTest", "isRegex": false, "isEqual": true},
            {"name": "instance", "value": "b", "isRegex": false, "isEqual": true}
        ])
    );
    amtool_ok(address, &["silence", "update", &id, "--comment=second"]).await;
    let active = active_silences(address).await;
    assert_eq!(active.len(), 1, "{active:?}");
    assert_eq!(active[0].1, "second");
    let exported = amtool_ok(address, &["silence", "query", "-o", "json"]).await;
    files.write("silences.json", &exported);
    let updated_id = active[0].0.clone();
    amtool_ok(address, &["silence", "expire", &updated_id]).await;
    assert_eq!(active_silences(address).await, []);
    let expired = amtool_ok(address, &["silence", "query", "--expired", "-q"]).await;
    assert!(expired.contains(&updated_id), "{expired}");
    amtool_ok(
        address,
        &[
            "silence",
            "import",
            files.path("silences.json").to_str().unwrap(),
        ],
    )
    .await;
    let active = active_silences(address).await;
    assert_eq!(active.len(), 1, "{active:?}");
    assert_eq!(active[0].1, "second");
    // The silenced alert is muted: the API marks it.
    let (_, body) = http(address, "GET", "/api/v2/alerts?silenced=false", &[]).await;
    let unsilenced: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert!(
        unsilenced
            .iter()
            .all(|a| a["labels"]["instance"] != "b" || a["labels"]["alertname"] != "ModeTest"),
        "{body}"
    );

    // The configuration, its secret hidden.
    let shown = amtool_ok(address, &["config", "show"]).await;
    assert!(shown.contains("password: <secret>"), "{shown}");
    assert!(!shown.contains("topsecret"), "{shown}");
    assert!(shown.contains("receiver: hook"), "{shown}");
    let config = files.path("am.yml");
    let routed = amtool_ok(
        address,
        &[
            "config",
            "routes",
            "test",
            &format!("--config.file={}", config.display()),
            "alertname=ModeTest",
        ],
    )
    .await;
    assert_eq!(routed.trim(), "hook");
    let (ok, out, err) = amtool(address, &["check-config", config.to_str().unwrap()]).await;
    assert!(ok && out.contains("SUCCESS"), "{out}{err}");
    active[0].0.clone()
}

/// After a restart on the same storage: the silence and the alerts are
/// back, and the notification log keeps the group from being notified
/// again.
async fn check_restored(address: SocketAddr, capture: &Capture, silence: &str, sent: usize) {
    let active = active_silences(address).await;
    assert_eq!(active, [(silence.to_owned(), "second".to_owned())]);
    assert_eq!(
        held_instances(address, "ModeTest").await,
        BTreeSet::from(["a".to_owned(), "b".to_owned()])
    );
    // group_wait and two group_intervals pass: nothing new is sent.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(
        capture.requests().len(),
        sent,
        "notified again after the restart: {:?}",
        notifications(capture, "/hook").last()
    );
}

/// The receivers the running configuration names.
async fn receivers(address: SocketAddr) -> Vec<String> {
    let (status, body) = http(address, "GET", "/api/v2/receivers", &[]).await;
    assert_eq!(status, 200, "{body}");
    let list: Vec<Value> = serde_json::from_str(&body).unwrap();
    list.iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Oversize and malformed posts are refused and store nothing.
async fn hostile_posts(address: SocketAddr) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // Alerts named Oversize, 1 MiB over the API's 32 MiB limit, written
    // while the answer is read (the server may answer before the end).
    let alert = "{\"labels\":{\"alertname\":\"Oversize\"}},";
    let count = (33 << 20) / alert.len();
    let body = format!("[{}{{}}]", alert.repeat(count));
    let head = format!(
        "POST /api/v2/alerts HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(head.as_bytes()).await;
        let _ = writer.write_all(body.as_bytes()).await;
        writer
    });
    let mut response = Vec::new();
    let mut chunk = [0; 4096];
    let deadline = tokio::time::Instant::now() + WAIT;
    while !response.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout_at(deadline, reader.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => response.extend_from_slice(&chunk[..n]),
            _ => break,
        }
    }
    writing.abort();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    let (status, body) = http_with_body(
        address,
        "POST",
        "/api/v2/alerts",
        &[("Content-Type", "application/json")],
        "[{\"labels\": {\"alertname\": \"Malformed\"}",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(held_instances(address, "Oversize").await.is_empty());
    assert!(held_instances(address, "Malformed").await.is_empty());
}

#[test]
fn standalone_alertmanager_end_to_end() {
    const TEST: &str = "alertmanager_modes::standalone_alertmanager_end_to_end";
    if standalone_child() {
        return;
    }
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let capture = Capture::start("").await;
        let files = Files::new(&am_config(&capture.url, false), true);
        let am = Standalone::start(TEST, &files).await;
        let address = am.address;
        let (status, body) = http(address, "GET", "/-/healthy", &[]).await;
        assert_eq!((status, body.as_str()), (200, "OK"));
        let silence = amtool_session(address, &capture, &files).await;
        hostile_posts(address).await;
        let sent = settle(&capture).await;

        let running = Running::Standalone(am).restart(TEST, &files).await;
        let address = running.address();
        check_restored(address, &capture, &silence, sent).await;

        // A broken file fails the reload with its error; the old
        // configuration runs on.
        files.write("am.yml", "route: [\n");
        let (status, body) = http(address, "POST", "/-/reload", &[]).await;
        assert_eq!(status, 500, "{body}");
        assert!(body.starts_with("failed to reload config: "), "{body}");
        assert_eq!(receivers(address).await, ["hook"]);
        let (_, metrics) = http(address, "GET", "/metrics", &[]).await;
        assert!(
            metrics.contains("\nalertmanager_config_last_reload_successful 0\n"),
            "{metrics}"
        );
        // SIGHUP reloads a good one.
        files.write("am.yml", &am_config(&capture.url, true));
        let Running::Standalone(am) = running else {
            unreachable!()
        };
        am.signal("-HUP");
        eventually(WAIT, "the second receiver after SIGHUP", || async {
            (receivers(address).await == ["hook", "second"]).then_some(())
        })
        .await;
        let (status, body) = http(address, "POST", "/-/reload", &[]).await;
        assert_eq!((status, body.as_str()), (200, ""));
        let (status, metrics) = http(address, "GET", "/metrics", &[]).await;
        assert_eq!(status, 200);
        for series in [
            "\nalertmanager_config_last_reload_successful 1\n",
            "\nalertmanager_receivers 2\n",
        ] {
            assert!(metrics.contains(series), "{series:?} in {metrics}");
        }
        assert!(
            metrics.contains("\nprocess_resident_memory_bytes "),
            "{metrics}"
        );
        am.stop().await;
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn builtin_alertmanager_end_to_end() {
    const TEST: &str = "alertmanager_modes::builtin_alertmanager_end_to_end";
    let capture = Capture::start("").await;
    let files = Files::new(&am_config(&capture.url, false), true);
    let data = tempfile::tempdir().unwrap();
    let args = builtin_args(&files, "global: {}\n", data.path());
    let server = TestServer::start(args.clone(), data).await;
    let address = server.address;
    let silence = amtool_session(address, &capture, &files).await;
    hostile_posts(address).await;
    let sent = settle(&capture).await;

    let running = Running::Builtin(server, Box::new(args))
        .restart(TEST, &files)
        .await;
    let address = running.address();
    check_restored(address, &capture, &silence, sent).await;

    // A broken alertmanager.yml fails the reload of the whole server; the
    // old Alertmanager configuration runs on.
    files.write("am.yml", "route: [\n");
    let (status, body) = http(address, "POST", "/-/reload", &[]).await;
    assert_eq!(status, 500, "{body}");
    // Prometheus' text, then the Alertmanager's own error with its place.
    assert!(
        body.contains("one or more errors occurred while applying the new configuration")
            && body.contains("reloading the built-in Alertmanager's configuration: ")
            && body.contains("am.yml:"),
        "{body}"
    );
    assert_eq!(receivers(address).await, ["hook"]);
    files.write("am.yml", &am_config(&capture.url, true));
    let (status, body) = http(address, "POST", "/-/reload", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(receivers(address).await, ["hook", "second"]);
    // Prometheus' API and the Alertmanager's share the listener.
    let (status, _) = http(address, "GET", "/api/v1/status/flags", &[]).await;
    assert_eq!(status, 200);
    let (status, metrics) = http(address, "GET", "/metrics", &[]).await;
    assert_eq!(status, 200);
    for series in [
        "\nalertmanager_config_last_reload_successful 1\n",
        "\nalertmanager_receivers 2\n",
    ] {
        assert!(metrics.contains(series), "{series:?} in {metrics}");
    }
    let Running::Builtin(server, _) = running else {
        unreachable!()
    };
    server.stop().await;
}

const ALWAYS_ON_RULES: &str = "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: AlwaysOn\n        expr: vector(1)\n        for: 0s\n        labels: {severity: page}\n        annotations: {summary: 'always {{ $value }}'}\n";

/// The notification of `AlwaysOn` the webhook got.
async fn always_on(capture: &Capture) -> Value {
    eventually(WAIT, "the rule's alert at the webhook", || async {
        notifications(capture, "/hook").into_iter().find(|n| {
            n["alerts"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a["labels"]["alertname"] == "AlwaysOn"))
        })
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn builtin_alertmanager_gets_rule_alerts_in_process() {
    let capture = Capture::start("").await;
    let files = Files::new(&am_config(&capture.url, false), true);
    files.write("rules.yml", ALWAYS_ON_RULES);
    let data = tempfile::tempdir().unwrap();
    let prometheus = format!(
        "global:\n  evaluation_interval: 1s\n  external_labels: {{site: here}}\nrule_files: ['{}']\n",
        files.path("rules.yml").display()
    );
    let mut args = builtin_args(&files, &prometheus, data.path());
    // Its state in the TSDB's directory, by default.
    args.rules.alertmanager.storage_path = None;
    let state = data.path().join("alertmanager");
    let server = TestServer::start(args.clone(), data).await;
    assert!(state.is_dir());
    let notification = always_on(&capture).await;
    let alert = &notification["alerts"][0];
    assert_eq!(
        alert["labels"],
        json!({"alertname": "AlwaysOn", "severity": "page", "site": "here"})
    );
    assert_eq!(alert["annotations"], json!({"summary": "always 1"}));
    assert_eq!(alert["status"], "firing");
    let generator = alert["generatorURL"].as_str().unwrap();
    assert!(
        generator.ends_with("/graph?g0.expr=vector%281%29&g0.tab=1"),
        "{generator}"
    );
    // No alerting.alertmanagers: only the in-process path was used.
    let (_, body) = http(server.address, "GET", "/api/v1/alertmanagers", &[]).await;
    let status: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["data"]["activeAlertmanagers"], json!([]));
    // The TSDB opens again beside the Alertmanager's state.
    let data = server.stop().await;
    let server = TestServer::start(args, data).await;
    assert_eq!(
        held_instances(server.address, "AlwaysOn").await,
        BTreeSet::from([String::new()])
    );
    server.stop().await;
}

#[test]
fn prometheus_sends_to_standalone_alertmanager() {
    const TEST: &str = "alertmanager_modes::prometheus_sends_to_standalone_alertmanager";
    if standalone_child() {
        return;
    }
    assert!(
        Path::new(PROMETHEUS).exists(),
        "{PROMETHEUS} not found: install the Debian package `prometheus`"
    );
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let capture = Capture::start("").await;
        let files = Files::new(&am_config(&capture.url, false), true);
        let am = Standalone::start(TEST, &files).await;
        files.write("rules.yml", ALWAYS_ON_RULES);
        files.write(
            "prometheus.yml",
            &format!(
                "global:\n  evaluation_interval: 1s\nrule_files: ['{}']\nalerting:\n  alertmanagers:\n    - api_version: v2\n      static_configs: [{{targets: ['{}']}}]\n",
                files.path("rules.yml").display(),
                am.address
            ),
        );
        let port = free_port();
        let _prometheus = start_prometheus(
            &files.path("prometheus.yml"),
            &files.path("prom-data"),
            port,
            &["--rules.alert.resend-delay=1s"],
        );
        let notification = always_on(&capture).await;
        assert_eq!(notification["alerts"][0]["labels"]["severity"], "page");
        let queried = amtool_json(am.address, &["alert", "query", "alertname=AlwaysOn"]).await;
        assert_eq!(queried.len(), 1, "{queried:?}");
        let generator = queried[0]["generatorURL"].as_str().unwrap();
        assert!(generator.contains(&format!(":{port}/graph?g0.expr=")), "{generator}");
        am.stop().await;
    });
}

#[test]
fn a_missing_receiver_plugin_stops_either_start() {
    const TEST: &str = "alertmanager_modes::a_missing_receiver_plugin_stops_either_start";
    if standalone_child() {
        return;
    }
    let files = Files::new(&am_config("http://127.0.0.1:9", false), false);
    let mut am = Standalone::spawn(TEST, &files, free_port());
    let deadline = std::time::Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = am.child.0.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "still running");
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = am.log();
    assert!(!status.success(), "{log}");
    assert!(log.contains("webhook-receiver.wasm"), "{log}");

    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let data = tempfile::tempdir().unwrap();
        let args = builtin_args(&files, "global: {}\n", data.path());
        let error = match wasmetheus::serve::start(args).await {
            Ok(_) => panic!("started without the webhook receiver plugin"),
            Err(e) => format!("{e:#}"),
        };
        assert!(error.contains("webhook-receiver.wasm"), "{error}");
    });
}

/// The standalone Alertmanager in process under an external URL with a
/// path and behind `--web.config.file`'s basic authentication: every
/// endpoint under that prefix and refused without the password, `/`
/// redirecting to the prefix, amtool working through both.
#[tokio::test(flavor = "multi_thread")]
async fn standalone_alertmanager_serves_under_its_path_behind_authentication() {
    // The exporter toolkit's dummy hash: bcrypt of `fakepassword`.
    const HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";
    // base64("admin:fakepassword")
    const AUTH: (&str, &str) = ("Authorization", "Basic YWRtaW46ZmFrZXBhc3N3b3Jk");
    let capture = Capture::start("").await;
    let files = Files::new(&am_config(&capture.url, false), true);
    files.write("web.yml", &format!("basic_auth_users:\n  admin: {HASH}\n"));
    files.write(
        "amtool-http.yml",
        "basic_auth:\n  username: admin\n  password: fakepassword\n",
    );
    let args = wasmetheus::serve::alertmanager::parse_args([
        format!("--config.file={}", files.path("am.yml").display()),
        format!("--storage.path={}", files.path("data").display()),
        "--web.listen-address=127.0.0.1:0".to_owned(),
        "--web.external-url=http://alerts.example:8080/am/".to_owned(),
        format!("--web.config.file={}", files.path("web.yml").display()),
        format!("--plugins.dir={}", files.plugins.path().display()),
        "--cluster.listen-address=".to_owned(),
    ])
    .unwrap();
    let running = wasmetheus::serve::alertmanager::start(args).await.unwrap();
    let address = running.address;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(running.serve_until(async {
        let _ = stopped.await;
    }));
    assert_eq!(http(address, "GET", "/am/-/healthy", &[]).await.0, 401);
    assert_eq!(http(address, "GET", "/am/api/v2/alerts", &[]).await.0, 401);
    assert_eq!(
        http(address, "GET", "/am/-/healthy", &[AUTH]).await,
        (200, "OK".to_owned())
    );
    assert_eq!(http(address, "GET", "/-/healthy", &[AUTH]).await.0, 404);
    let (status, _) = http(address, "GET", "/", &[AUTH]).await;
    assert_eq!(status, 302);
    let (status, body) = http(address, "GET", "/am/api/v2/status", &[AUTH]).await;
    assert_eq!(status, 200, "{body}");
    let status: Value = serde_json::from_str(&body).unwrap();
    assert!(
        status["config"]["original"]
            .as_str()
            .is_some_and(|c| c.contains("receiver: hook")),
        "{status}"
    );
    let url = format!("http://{address}/am");
    let (ok, _, err) = amtool_at(&url, &["alert", "add", "alertname=Prefixed"]).await;
    assert!(!ok && err.contains("401"), "{err}");
    let http_config = format!(
        "--http.config.file={}",
        files.path("amtool-http.yml").display()
    );
    let (ok, out, err) =
        amtool_at(&url, &[&http_config, "alert", "add", "alertname=Prefixed"]).await;
    assert!(ok, "{out}{err}");
    let notification = eventually(WAIT, "the alert at the webhook", || async {
        notifications(&capture, "/hook").into_iter().next()
    })
    .await;
    // The external URL is the notifications' and the alerts' link.
    assert_eq!(notification["externalURL"], "http://alerts.example:8080/am");
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}
