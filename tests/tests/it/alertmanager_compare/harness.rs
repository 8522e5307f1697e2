//! The comparison harness: one Alertmanager process per flavour (Debian's
//! 0.25, and our standalone Alertmanager run as `wasmetheus alertmanager`
//! runs it, in a child process of this test binary), each with its own
//! capture webhook server, driven through the same timed sequence of API
//! calls; then Debian's notifications are checked against the scenario's
//! expectations and ours against Debian's, payload by payload, and the
//! alerts each holds at the end against each other.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wasmetheus_tests::{KillOnDrop, PluginsDir, free_port, guests, http, http_with_body};

/// Debian's Alertmanager (package `prometheus-alertmanager`).
pub(super) const DEBIAN: &str = "/usr/bin/prometheus-alertmanager";

/// How far a notification may arrive from its nominal time, and ours from
/// Debian's.
const TOLERANCE: f64 = 1.0;

/// One alert of a POST: its labels (each alert carries an `id` label that
/// names it in summaries), firing or resolved at the time of the POST.
#[derive(Clone, Debug)]
pub(super) struct AlertSpec {
    labels: Vec<(&'static str, &'static str)>,
    resolved: bool,
    /// Started an hour before its first POST rather than at it.
    old: bool,
    /// Posted with an end this many milliseconds after the POST.
    ends_in_ms: Option<i64>,
    /// The `summary` annotation instead of the usual one.
    summary: Option<&'static str>,
}

pub(super) fn fire(labels: &[(&'static str, &'static str)]) -> AlertSpec {
    AlertSpec {
        labels: labels.to_vec(),
        resolved: false,
        old: false,
        ends_in_ms: None,
        summary: None,
    }
}

/// A firing alert whose `summary` annotation is `summary`.
pub(super) fn fire_saying(
    labels: &[(&'static str, &'static str)],
    summary: &'static str,
) -> AlertSpec {
    AlertSpec {
        summary: Some(summary),
        ..fire(labels)
    }
}

/// A firing alert posted with an end `ms` milliseconds later.
pub(super) fn fire_until(labels: &[(&'static str, &'static str)], ms: i64) -> AlertSpec {
    AlertSpec {
        ends_in_ms: Some(ms),
        ..fire(labels)
    }
}

/// A firing alert that started an hour before it is first posted.
pub(super) fn fire_old(labels: &[(&'static str, &'static str)]) -> AlertSpec {
    AlertSpec {
        old: true,
        ..fire(labels)
    }
}

pub(super) fn resolve(labels: &[(&'static str, &'static str)]) -> AlertSpec {
    AlertSpec {
        resolved: true,
        ..fire(labels)
    }
}

/// What a step does, to both Alertmanagers at once.
#[derive(Clone, Debug)]
pub(super) enum Action {
    /// POST /api/v2/alerts.
    Post(Vec<AlertSpec>),
    /// POST /api/v2/silences, remembered as `key`, with matchers
    /// `name=value`, `name!=value`, `name=~regex` or `name!~regex`.
    Silence(&'static str, Vec<&'static str>),
    /// [`Action::Silence`] ending this many milliseconds after it starts
    /// (the others last an hour).
    SilenceFor(&'static str, Vec<&'static str>, i64),
    /// DELETE /api/v2/silence/{id} of the silence remembered as `key`.
    Expire(&'static str),
    /// Rewrites alertmanager.yml (`{hook}` replaced as at the start) and
    /// POSTs /-/reload.
    Reload(String),
}

/// A sequence: an alertmanager.yml (`{hook}` stands for the capture
/// server's base URL), steps at offsets, how long to watch, and the
/// notifications Debian's Alertmanager sends: nominal seconds after the
/// start and a summary line (see [`Notification::summary`]).
pub(super) struct Scenario {
    /// The test function's name in `alertmanager_compare` (our
    /// Alertmanager runs in a child process running that test).
    pub name: &'static str,
    pub config: String,
    pub steps: Vec<(u64, Action)>,
    pub watch_ms: u64,
    pub expected: Vec<(f64, &'static str)>,
    /// Where 0.25 and the Alertmanager we follow (0.34) differ: our
    /// notifications, as `expected` (checked the same way, and payloads
    /// still compared with Debian's pairwise, but not times).
    pub ours_expected: Option<Vec<(f64, &'static str)>>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Flavor {
    Debian,
    Ours,
}

/// One request the capture server received.
#[derive(Clone, Debug)]
struct Received {
    at: Instant,
    path: String,
    body: Vec<u8>,
}

/// The status the capture server answers a request to `path` with when
/// it has had `before` requests to it: 400 on paths starting `/fail4`,
/// 500 to the first request on paths starting `/once5`, else 200.
fn status_for(path: &str, before: usize) -> u16 {
    if path.starts_with("/fail4") {
        400
    } else if path.starts_with("/once5") && before == 0 {
        500
    } else {
        200
    }
}

/// An HTTP server on 127.0.0.1 recording each request and answering as
/// [`status_for`] says.
struct Capture {
    base: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Capture {
    async fn start() -> Capture {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let record = Arc::clone(&received);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let record = Arc::clone(&record);
                tokio::spawn(async move {
                    while let Some((path, body, close)) = read_request(&mut stream).await {
                        let status = {
                            let mut record = record.lock().unwrap();
                            let before = record.iter().filter(|r| r.path == path).count();
                            record.push(Received {
                                at: Instant::now(),
                                path: path.clone(),
                                body,
                            });
                            status_for(&path, before)
                        };
                        let answer = format!(
                            "HTTP/1.1 {status} X\r\ncontent-length: 0\r\n{}\r\n",
                            if close { "connection: close\r\n" } else { "" }
                        );
                        if stream.write_all(answer.as_bytes()).await.is_err() || close {
                            return;
                        }
                    }
                });
            }
        });
        Capture { base, received }
    }
}

/// Reads one request: its path, body and whether the client asked to
/// close; None at the end of the connection.
async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<(String, Vec<u8>, bool)> {
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buffer.len() > 1 << 20 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let first = lines.next()?;
    let path = first.split(' ').nth(1)?.to_owned();
    let mut length = 0;
    let mut close = first.ends_with("HTTP/1.0");
    for (name, value) in lines.filter_map(|l| l.split_once(':')) {
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "connection" => close |= value.trim().eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = [0; 65536];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Some((path, body, close))
}

/// Set in a child process: our standalone Alertmanager's flags (JSON).
const CHILD_FLAGS: &str = "WASMETHEUS_TEST_COMPARE_FLAGS";

/// In a child process started by [`Instance::start`]: runs our standalone
/// Alertmanager (as `wasmetheus alertmanager FLAGS…` would) until killed
/// and returns true; false in the test itself.
fn child() -> bool {
    let Some(flags) = std::env::var_os(CHILD_FLAGS) else {
        return false;
    };
    let flags: Vec<String> = serde_json::from_str(flags.to_str().unwrap()).unwrap();
    let args = wasmetheus::serve::alertmanager::parse_args(&flags).unwrap();
    if let Err(e) = wasmetheus::serve::alertmanager::run_until_signal(args) {
        panic!("error: {e:#}");
    }
    true
}

/// The body of test `scenario.name` (a function of
/// `alertmanager_compare`): runs the scenario, or in the child process
/// the test started for it, our Alertmanager.
pub(super) fn compare(scenario: impl FnOnce() -> Scenario) {
    if child() {
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(scenario()));
}

/// A running Alertmanager with its capture server.
struct Instance {
    flavor: Flavor,
    address: SocketAddr,
    capture: Capture,
    silences: BTreeMap<&'static str, String>,
    config_path: PathBuf,
    log: PathBuf,
    child: KillOnDrop,
    _plugins: Option<PluginsDir>,
    _dir: tempfile::TempDir,
}

impl Instance {
    async fn start(flavor: Flavor, config: &str, test: &str) -> Instance {
        let capture = Capture::start().await;
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("alertmanager.yml");
        std::fs::write(&config_path, config.replace("{hook}", &capture.base)).unwrap();
        let storage = dir.path().join("data");
        let port = free_port();
        // Debian's flags, which ours takes too (plus its plugins).
        let flags = |plugins: Option<&std::path::Path>| {
            let mut flags = vec![
                format!("--config.file={}", config_path.display()),
                format!("--storage.path={}", storage.display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
                "--cluster.listen-address=".to_owned(),
                "--log.level=debug".to_owned(),
            ];
            if let Some(plugins) = plugins {
                flags.push(format!("--plugins.dir={}", plugins.display()));
            }
            flags
        };
        let (mut command, plugins) = match flavor {
            Flavor::Debian => {
                assert!(
                    std::path::Path::new(DEBIAN).exists(),
                    "{DEBIAN} not found: install the Debian package `prometheus-alertmanager`"
                );
                let mut command = std::process::Command::new(DEBIAN);
                command.args(flags(None));
                (command, None)
            }
            Flavor::Ours => {
                let plugins = PluginsDir::new();
                plugins.install(guests::PLUGIN_WEBHOOK_RECEIVER, "webhook-receiver");
                // This test again, in a child process, as
                // `wasmetheus alertmanager` with the same flags. Through
                // /proc/self/exe: the binary this process runs even if a
                // concurrent build has replaced the file meanwhile.
                let mut command = std::process::Command::new("/proc/self/exe");
                command
                    .args([
                        &format!("alertmanager_compare::{test}"),
                        "--exact",
                        "--nocapture",
                        "--test-threads=1",
                    ])
                    .env(
                        CHILD_FLAGS,
                        serde_json::to_string(&flags(Some(plugins.path()))).unwrap(),
                    );
                (command, Some(plugins))
            }
        };
        let log = dir.path().join("log");
        command
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let child = KillOnDrop(
            command
                .spawn()
                .unwrap_or_else(|e| panic!("starting {flavor:?} Alertmanager: {e}")),
        );
        let mut instance = Instance {
            flavor,
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            capture,
            silences: BTreeMap::new(),
            config_path: config_path.clone(),
            log,
            child,
            _plugins: plugins,
            _dir: dir,
        };
        instance.wait_ready().await;
        instance
    }

    async fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.0.try_wait() {
                panic!(
                    "{:?} Alertmanager exited ({status}):\n{}",
                    self.flavor,
                    self.log_text()
                );
            }
            let ready = tokio::time::timeout(
                Duration::from_secs(2),
                connect_get(self.address, "/-/ready"),
            )
            .await;
            if let Ok(Some(200)) = ready {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "{:?} Alertmanager not ready after 90 s:\n{}",
                self.flavor,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET /api/v2/alerts (all: silenced and inhibited ones too), sorted
    /// by fingerprint, with what differs by nature between two processes
    /// normalised: `updatedAt` dropped, silence IDs replaced by the
    /// scenario's keys.
    async fn alerts(&self) -> Vec<serde_json::Value> {
        self.alerts_at("/api/v2/alerts").await
    }

    /// GET `path` (a list of alerts, or of groups with their alerts
    /// when it is /api/v2/alerts/groups), normalised as [`Self::alerts`].
    async fn alerts_at(&self, path: &str) -> Vec<serde_json::Value> {
        let (status, body) = http(self.address, "GET", path, &[]).await;
        assert_eq!(status, 200, "{:?} GET alerts: {body}", self.flavor);
        let value: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{:?} GET alerts ({e}): {body}", self.flavor));
        let mut alerts = value.as_array().cloned().unwrap_or_default();
        if path.ends_with("/groups") {
            // Each group's alerts, each with its group's labels and
            // receiver.
            alerts = alerts
                .iter()
                .flat_map(|g| {
                    let group = serde_json::json!({
                        "labels": g["labels"],
                        "receiver": g["receiver"]["name"],
                    });
                    g["alerts"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .into_iter()
                        .map(move |mut a| {
                            a["group"] = group.clone();
                            a
                        })
                })
                .collect();
        }
        for alert in &mut alerts {
            if let Some(a) = alert.as_object_mut() {
                a.remove("updatedAt");
            }
            if let Some(ids) = alert["status"]["silencedBy"].as_array_mut() {
                for id in ids.iter_mut() {
                    if let Some((key, _)) = self
                        .silences
                        .iter()
                        .find(|(_, v)| Some(v.as_str()) == id.as_str())
                    {
                        *id = (*key).into();
                    }
                }
            }
        }
        alerts.sort_by_key(|a| {
            (
                a["fingerprint"].as_str().map(str::to_owned),
                a["group"].to_string(),
            )
        });
        alerts
    }

    /// GET /api/v2/silences, each silence's ID replaced by the
    /// scenario's key and `updatedAt` dropped, sorted by key.
    async fn silences(&self) -> Vec<serde_json::Value> {
        let (status, body) = http(self.address, "GET", "/api/v2/silences", &[]).await;
        assert_eq!(status, 200, "{:?} GET silences: {body}", self.flavor);
        let value: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{:?} GET silences ({e}): {body}", self.flavor));
        let mut silences = value.as_array().cloned().unwrap_or_default();
        for silence in &mut silences {
            let key = self
                .silences
                .iter()
                .find(|(_, id)| Some(id.as_str()) == silence["id"].as_str())
                .map_or("?", |(key, _)| key);
            silence["id"] = key.into();
            if let Some(s) = silence.as_object_mut() {
                s.remove("updatedAt");
            }
        }
        silences.sort_by_key(|s| s["id"].to_string());
        silences
    }

    async fn act(&mut self, action: &Action, body: &str) {
        match action {
            Action::Post(_) => {
                let (status, answer) = http_with_body(
                    self.address,
                    "POST",
                    "/api/v2/alerts",
                    &[("Content-Type", "application/json")],
                    body,
                )
                .await;
                assert_eq!(status, 200, "{:?} POST alerts: {answer}", self.flavor);
            }
            Action::Silence(key, _) | Action::SilenceFor(key, _, _) => {
                let (status, answer) = http_with_body(
                    self.address,
                    "POST",
                    "/api/v2/silences",
                    &[("Content-Type", "application/json")],
                    body,
                )
                .await;
                assert_eq!(status, 200, "{:?} POST silence: {answer}", self.flavor);
                let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
                let id = answer["silenceID"].as_str().unwrap().to_owned();
                self.silences.insert(key, id);
            }
            Action::Expire(key) => {
                let id = &self.silences[key];
                let (status, answer) = http(
                    self.address,
                    "DELETE",
                    &format!("/api/v2/silence/{id}"),
                    &[],
                )
                .await;
                assert_eq!(status, 200, "{:?} DELETE silence: {answer}", self.flavor);
            }
            Action::Reload(config) => {
                std::fs::write(
                    &self.config_path,
                    config.replace("{hook}", &self.capture.base),
                )
                .unwrap();
                let (status, answer) = http(self.address, "POST", "/-/reload", &[]).await;
                assert_eq!(status, 200, "{:?} reload: {answer}", self.flavor);
            }
        }
    }
}

async fn connect_get(address: SocketAddr, path: &str) -> Option<u16> {
    tokio::net::TcpStream::connect(address).await.ok()?;
    Some(http(address, "GET", path, &[]).await.0)
}

/// RFC 3339 with milliseconds, UTC.
fn rfc3339(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The request body of `action` at wall-clock time `now`; `first_seen`
/// keeps each alert's start (by its label set) across POSTs.
fn body_of(
    action: &Action,
    now: jiff::Timestamp,
    first_seen: &mut BTreeMap<String, jiff::Timestamp>,
) -> String {
    match action {
        Action::Post(alerts) => serde_json::Value::Array(
            alerts
                .iter()
                .map(|a| {
                    let labels: serde_json::Map<String, serde_json::Value> = a
                        .labels
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).into()))
                        .collect();
                    let key = serde_json::Value::Object(labels.clone()).to_string();
                    let first = if a.old {
                        now - jiff::SignedDuration::from_hours(1)
                    } else {
                        now
                    };
                    let starts = *first_seen.entry(key).or_insert(first);
                    let mut alert = serde_json::json!({
                        "labels": labels,
                        "annotations": {
                            "summary": a.summary.unwrap_or("it is <down> & \"out\""),
                            "runbook": "http://r/?a=1&b=2",
                        },
                        "startsAt": rfc3339(starts),
                        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up%3D%3D0",
                    });
                    if a.resolved {
                        alert["endsAt"] = rfc3339(now).into();
                    } else if let Some(ms) = a.ends_in_ms {
                        alert["endsAt"] =
                            rfc3339(now + jiff::SignedDuration::from_millis(ms)).into();
                    }
                    alert
                })
                .collect(),
        )
        .to_string(),
        Action::Silence(_, matchers) | Action::SilenceFor(_, matchers, _) => serde_json::json!({
            "matchers": matchers.iter().map(|m| matcher(m)).collect::<Vec<_>>(),
            "startsAt": rfc3339(now),
            "endsAt": rfc3339(now + match action {
                Action::SilenceFor(_, _, ms) => jiff::SignedDuration::from_millis(*ms),
                _ => jiff::SignedDuration::from_hours(1),
            }),
            "createdBy": "compare",
            "comment": "comparison test",
        })
        .to_string(),
        Action::Expire(_) | Action::Reload(_) => String::new(),
    }
}

/// A silence matcher of API v2 from `name=value`, `name!=value`,
/// `name=~regex` or `name!~regex`.
fn matcher(text: &str) -> serde_json::Value {
    let (name, op, value) = ["!~", "=~", "!=", "="]
        .iter()
        .find_map(|op| {
            let (name, value) = text.split_once(op)?;
            Some((name, *op, value))
        })
        .unwrap_or_else(|| panic!("matcher {text:?}"));
    serde_json::json!({
        "name": name,
        "value": value,
        "isRegex": op.ends_with('~'),
        "isEqual": !op.starts_with('!'),
    })
}

/// A notification as captured: seconds after the start, the path it was
/// POSTed to and its payload.
#[derive(Debug)]
struct Notification {
    at: f64,
    path: String,
    payload: serde_json::Value,
}

impl Notification {
    /// `<path> <group labels> <status> <id:status,…> [truncated=N]`.
    fn summary(&self) -> String {
        let p = &self.payload;
        let group: Vec<String> = p["groupLabels"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("?")))
                    .collect()
            })
            .unwrap_or_default();
        let alerts: Vec<String> = p["alerts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|a| {
                        format!(
                            "{}:{}",
                            a["labels"]["id"].as_str().unwrap_or("?"),
                            a["status"].as_str().unwrap_or("?")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut line = format!(
            "{} {{{}}} {} {}",
            self.path,
            group.join(","),
            p["status"].as_str().unwrap_or("?"),
            alerts.join(",")
        );
        match p["truncatedAlerts"].as_u64() {
            Some(0) => {}
            n => line.push_str(&format!(" truncated={n:?}")),
        }
        line
    }
}

/// Sort key: the receiver path and group (the summary's first two words),
/// then time; groups flush independently, so only the order within one is
/// meaningful.
fn group_of(summary: &str) -> String {
    summary.split(' ').take(2).collect::<Vec<_>>().join(" ")
}

fn notifications(instance: &Instance, t0: Instant) -> Vec<Notification> {
    let mut out: Vec<Notification> = instance
        .capture
        .received
        .lock()
        .unwrap()
        .iter()
        .map(|r| {
            let mut payload: serde_json::Value =
                serde_json::from_slice(&r.body).unwrap_or_else(|e| {
                    panic!(
                        "{:?}: a notification that is not JSON ({e}): {}",
                        instance.flavor,
                        String::from_utf8_lossy(&r.body)
                    )
                });
            // Each process names itself after its own port.
            payload["externalURL"] = "<external>".into();
            Notification {
                at: r.at.saturating_duration_since(t0).as_secs_f64(),
                path: r.path.clone(),
                payload,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (group_of(&a.summary()), a.at)
            .partial_cmp(&(group_of(&b.summary()), b.at))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    out
}

/// Alert times each Alertmanager sets itself (`endsAt` of an alert posted
/// without one: the time it was received plus resolve_timeout) differ by
/// the moments the two received the POST: where ours is within
/// [`TOLERANCE`] of Debian's, it is replaced by Debian's.
fn align_times(ours: &mut serde_json::Value, theirs: &serde_json::Value) {
    let (Some(ours), Some(theirs)) = (ours["alerts"].as_array_mut(), theirs["alerts"].as_array())
    else {
        return;
    };
    for (a, b) in ours.iter_mut().zip(theirs) {
        for key in ["startsAt", "endsAt"] {
            let parse = |v: &serde_json::Value| v.as_str()?.parse::<jiff::Timestamp>().ok();
            if let (Some(x), Some(y)) = (parse(&a[key]), parse(&b[key]))
                && x != y
                && (x - y).abs().total(jiff::Unit::Second).unwrap_or(f64::MAX) <= TOLERANCE
            {
                a[key] = b[key].clone();
            }
        }
    }
}

/// Checks `who`'s notifications against `expected` (summaries in order
/// within each group, times within [`TOLERANCE`] of the nominal ones);
/// returns the summaries.
fn check_expected(
    name: &str,
    who: &str,
    sent: &[Notification],
    expected: &[(f64, &'static str)],
    instance: &Instance,
) -> Vec<String> {
    let show = sent
        .iter()
        .map(|n| format!("{:5.2}s {}", n.at, n.summary()))
        .collect::<Vec<_>>()
        .join("\n");
    let mut expected = expected.to_vec();
    expected.sort_by(|a, b| {
        (group_of(a.1), a.0)
            .partial_cmp(&(group_of(b.1), b.0))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let wanted: Vec<&str> = expected.iter().map(|(_, s)| *s).collect();
    let got: Vec<String> = sent.iter().map(Notification::summary).collect();
    assert_eq!(
        got,
        wanted,
        "{name}: {who}'s notifications:\n{show}\nlog:\n{}",
        instance.log_text()
    );
    for (n, (nominal, _)) in sent.iter().zip(&expected) {
        assert!(
            (n.at - nominal).abs() <= TOLERANCE,
            "{name}: {who} sent `{}` at {:.2}s, not about {nominal}s:\n{show}",
            n.summary(),
            n.at,
        );
    }
    got
}

/// Our alerts at the end of a sequence (`path`: /api/v2/alerts, or
/// /api/v2/alerts/groups flattened) against Debian's, alert by alert
/// (times each sets itself within [`TOLERANCE`]).
fn compare_alerts(
    name: &str,
    path: &str,
    mut ours: Vec<serde_json::Value>,
    theirs: &[serde_json::Value],
) {
    let fingerprints = |list: &[serde_json::Value]| -> Vec<String> {
        list.iter()
            .map(|a| a["fingerprint"].as_str().unwrap_or("?").to_owned())
            .collect()
    };
    assert_eq!(
        fingerprints(&ours),
        fingerprints(theirs),
        "{name}: {path}, ours then Debian's:\n{ours:#?}\n{theirs:#?}"
    );
    for (m, t) in ours.iter_mut().zip(theirs) {
        // 0.34's alert status has `mutedBy` (the time intervals muting the
        // alert's groups), 0.25's has not.
        let muted_by = m["status"]
            .as_object_mut()
            .and_then(|status| status.remove("mutedBy"));
        assert!(
            muted_by.as_ref().is_some_and(serde_json::Value::is_array),
            "{name}: our alert lacks status.mutedBy: {m}"
        );
        // 0.34 shows an alert whose group a time interval mutes as
        // suppressed (mutedBy naming the intervals); 0.25 as active.
        if muted_by
            .as_ref()
            .and_then(serde_json::Value::as_array)
            .is_some_and(|names| !names.is_empty())
        {
            assert_eq!(
                (&m["status"]["state"], &t["status"]["state"]),
                (&"suppressed".into(), &"active".into()),
                "{name}: an alert muted by {muted_by:?}: {m}"
            );
            m["status"]["state"] = "active".into();
        }
        let mut wrapped = serde_json::json!({"alerts": [m.clone()]});
        align_times(&mut wrapped, &serde_json::json!({"alerts": [t]}));
        *m = wrapped["alerts"][0].take();
        assert_eq!(m, t, "{name}: an alert of {path}, ours then Debian's");
    }
}

/// Runs `scenario` against Debian's Alertmanager and ours side by side,
/// then checks Debian's notifications against the expectations and ours
/// against Debian's.
pub(super) async fn run(scenario: Scenario) {
    let (mut debian, mut ours) = tokio::join!(
        Instance::start(Flavor::Debian, &scenario.config, scenario.name),
        Instance::start(Flavor::Ours, &scenario.config, scenario.name),
    );
    let t0 = Instant::now();
    let mut first_seen = BTreeMap::new();
    for (at, action) in &scenario.steps {
        tokio::time::sleep_until((t0 + Duration::from_millis(*at)).into()).await;
        let body = body_of(action, jiff::Timestamp::now(), &mut first_seen);
        tokio::join!(debian.act(action, &body), ours.act(action, &body));
    }
    tokio::time::sleep_until((t0 + Duration::from_millis(scenario.watch_ms)).into()).await;
    let (their_alerts, our_alerts) = tokio::join!(debian.alerts(), ours.alerts());
    let (their_silences, our_silences) = tokio::join!(debian.silences(), ours.silences());
    let (their_groups, our_groups) = tokio::join!(
        debian.alerts_at("/api/v2/alerts/groups"),
        ours.alerts_at("/api/v2/alerts/groups")
    );

    let theirs = notifications(&debian, t0);
    let mut mine = notifications(&ours, t0);
    let name = scenario.name;
    let show = |list: &[Notification]| {
        list.iter()
            .map(|n| format!("{:5.2}s {}", n.at, n.summary()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let got = check_expected(name, "Debian", &theirs, &scenario.expected, &debian);
    if let Some(ours_expected) = &scenario.ours_expected {
        check_expected(name, "ours", &mine, ours_expected, &ours);
        assert_eq!(
            mine.len(),
            theirs.len(),
            "{name}: ours sent\n{}\nDebian's sent\n{}",
            show(&mine),
            show(&theirs)
        );
        for (m, t) in mine.iter_mut().zip(&theirs) {
            align_times(&mut m.payload, &t.payload);
            assert_eq!(
                m.payload,
                t.payload,
                "{name}: `{}`: our payload differs from Debian's",
                t.summary()
            );
        }
        return;
    }
    let mine_summaries: Vec<String> = mine.iter().map(Notification::summary).collect();
    assert_eq!(
        mine_summaries,
        got,
        "{name}: ours sent\n{}\nDebian's sent\n{}\nour log:\n{}",
        show(&mine),
        show(&theirs),
        ours.log_text()
    );
    let shown = show(&mine);
    for (m, t) in mine.iter_mut().zip(&theirs) {
        align_times(&mut m.payload, &t.payload);
        assert_eq!(
            m.payload,
            t.payload,
            "{name}: `{}`: our payload differs from Debian's",
            t.summary()
        );
        assert!(
            (m.at - t.at).abs() <= TOLERANCE,
            "{name}: `{}` at {:.2}s, Debian's at {:.2}s:\nours\n{}\nDebian's\n{}",
            t.summary(),
            m.at,
            t.at,
            shown,
            show(&theirs)
        );
    }
    compare_alerts(scenario.name, "/api/v2/alerts", our_alerts, &their_alerts);
    compare_alerts(
        scenario.name,
        "/api/v2/alerts/groups",
        our_groups,
        &their_groups,
    );
    // Silences: the times each sets itself (a start in the past becomes
    // now, an expiry's end is now) within the tolerance.
    let mut ours_wrapped = serde_json::json!({ "alerts": our_silences });
    align_times(
        &mut ours_wrapped,
        &serde_json::json!({ "alerts": their_silences }),
    );
    assert_eq!(
        ours_wrapped["alerts"],
        serde_json::Value::from(their_silences),
        "{}: /api/v2/silences, ours then Debian's",
        scenario.name
    );
}
