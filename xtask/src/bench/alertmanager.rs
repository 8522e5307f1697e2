//! `cargo xtask bench alertmanager`: how fast our standalone Alertmanager
//! (`wasmetheus alertmanager`, webhook through the webhook-receiver
//! plugin) and Debian's `prometheus-alertmanager` deliver a burst of
//! alerts, one after the other in the same run: N alerts in G groups are
//! POSTed to `/api/v2/alerts` in batches, and a webhook server in this
//! process counts the alerts each delivers. Reported: the time to accept
//! the alerts, the time until the last one was delivered, alerts/s
//! delivered, CPU seconds and peak RSS of each process, and the ratios.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::peers::{build_wasmetheus, wasmetheus_bin};
use super::support::{
    TempDir, bytes, common_flag, count, flag_value, free_port, http, parse_duration, proc_stats,
    ratio,
};
use crate::{Result, build_plugins, describe, root};

pub const USAGE: &str = "\
usage: cargo xtask bench alertmanager [--alerts 20000] [--groups 2000]
                                      [--group-wait 0s,1s] [--group-interval 1s]
                                      [--batch 500] [--timeout 300s]
                                      [--wasmetheus PATH]
                                      [--no-build] [--keep]

  Runs our standalone Alertmanager (target/release/wasmetheus
  alertmanager, built unless --no-build, with the webhook-receiver plugin
  of `cargo xtask build-plugins`) and Debian's prometheus-alertmanager one
  after the other, once per --group-wait value. Each gets --alerts firing
  alerts in --groups groups (group_by: [group], --group-interval,
  repeat_interval 10h), POSTed to /api/v2/alerts in batches of --batch
  (alert i in group i mod --groups, so each batch adds to every group); a
  webhook server in this process counts the distinct alerts delivered
  (by fingerprint: a group's later notifications repeat its earlier
  alerts). Reports the time to POST every alert, the time until the last
  alert was first delivered, alerts/s delivered, notifications, CPU
  seconds and peak RSS (VmHWM) of each process, and ours ÷ Debian's.
  Results go to target/bench-alertmanager/report.txt and results.json;
  the processes' logs stay in target/bench-alertmanager/.
  --no-build uses target/release/wasmetheus and plugins/webhook-receiver.wasm
  as they are; --wasmetheus PATH runs that binary instead of the release
  build (which is then not built); --keep keeps the data directories.";

/// Debian's Alertmanager.
const DEBIAN: &str = "prometheus-alertmanager";

struct Options {
    alerts: usize,
    groups: usize,
    group_waits_ms: Vec<i64>,
    group_interval_ms: i64,
    batch: usize,
    timeout_ms: i64,
    bin: Option<PathBuf>,
    build: bool,
    keep: bool,
}

fn parse_options(args: &[String]) -> Result<Options> {
    let mut o = Options {
        alerts: 20_000,
        groups: 2_000,
        group_waits_ms: vec![0, 1000],
        group_interval_ms: 1000,
        batch: 500,
        timeout_ms: 300_000,
        bin: None,
        build: true,
        keep: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| flag_value(&mut args, name, USAGE);
        match arg.as_str() {
            "--alerts" => o.alerts = count(arg, &value(arg)?)?,
            "--groups" => o.groups = count(arg, &value(arg)?)?,
            "--batch" => o.batch = count(arg, &value(arg)?)?,
            "--group-interval" => o.group_interval_ms = parse_duration(&value(arg)?)?,
            "--timeout" => o.timeout_ms = parse_duration(&value(arg)?)?,
            "--wasmetheus" => o.bin = Some(PathBuf::from(value(arg)?)),
            "--group-wait" => {
                o.group_waits_ms = value(arg)?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| if s == "0" { Ok(0) } else { parse_duration(s) })
                    .collect::<Result<_>>()?;
            }
            other => common_flag(other, &mut o.build, &mut o.keep, USAGE)?,
        }
    }
    if o.alerts == 0
        || o.groups == 0
        || o.batch == 0
        || o.timeout_ms <= 0
        || o.group_interval_ms <= 0
    {
        return Err(
            "--alerts, --groups, --batch, --group-interval and --timeout must be positive".into(),
        );
    }
    if o.groups > o.alerts {
        return Err("--groups must not exceed --alerts".into());
    }
    if o.group_waits_ms.is_empty() || o.group_waits_ms.iter().any(|&w| w < 0) {
        return Err("--group-wait wants a list of durations, e.g. 0s,1s".into());
    }
    Ok(o)
}

/// The Alertmanagers compared, in the order they run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Wasmetheus,
    Debian,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Wasmetheus => "wasmetheus",
            Kind::Debian => "alertmanager",
        }
    }
}

struct Peer {
    kind: Kind,
    bin: PathBuf,
    version: String,
}

pub fn run(args: &[String]) -> Result {
    let o = parse_options(args)?;
    let out = root().join("target/bench-alertmanager");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let work = TempDir::new(out.join(format!("work-{}", std::process::id())), o.keep)?;

    let plugins = work.path.join("plugins");
    std::fs::create_dir_all(&plugins).map_err(|e| e.to_string())?;
    let webhook = if o.build {
        if o.bin.is_none() {
            build_wasmetheus()?;
        }
        build_plugins()?
            .into_iter()
            .find(|p| p.ends_with("webhook-receiver.wasm"))
            .ok_or("the webhook-receiver plugin was not built")?
    } else {
        root().join("plugins/webhook-receiver.wasm")
    };
    std::fs::copy(&webhook, plugins.join("webhook-receiver.wasm")).map_err(|e| {
        format!(
            "{}: {e}; run `cargo xtask build-plugins`",
            webhook.display()
        )
    })?;
    let mut peers = vec![match &o.bin {
        Some(bin) if bin.is_file() => Peer {
            kind: Kind::Wasmetheus,
            bin: bin.clone(),
            version: bin.display().to_string(),
        },
        Some(bin) => return Err(format!("{} does not exist", bin.display())),
        None => Peer {
            kind: Kind::Wasmetheus,
            bin: wasmetheus_bin()?,
            version: super::peers::WASMETHEUS_BIN.into(),
        },
    }];
    let mut skipped = Vec::new();
    match debian_version() {
        Ok(version) => peers.push(Peer {
            kind: Kind::Debian,
            bin: DEBIAN.into(),
            version,
        }),
        Err(e) => {
            eprintln!("WARNING: {e}");
            skipped.push(format!("{DEBIAN} SKIPPED: {e}"));
        }
    }

    let hook = Webhook::start()?;
    let mut rows = Vec::new();
    for &wait in &o.group_waits_ms {
        for peer in &peers {
            let dir = work.path.join(format!("{}-{wait}", peer.kind.name()));
            let log = out.join(format!("{}-gw{wait}ms.log", peer.kind.name()));
            let result = measure(&o, wait, peer, &plugins, &hook, &dir, &log);
            if let Err(e) = &result {
                eprintln!(
                    "{} (group_wait {wait} ms): NOT MEASURED: {e}",
                    peer.kind.name()
                );
            }
            if !o.keep {
                let _ = std::fs::remove_dir_all(&dir);
            }
            rows.push((wait, peer, result));
        }
    }
    let report = render(&o, &rows, &skipped);
    println!("{report}");
    let path = out.join("report.txt");
    std::fs::write(&path, &report).map_err(|e| format!("{}: {e}", path.display()))?;
    let json_path = out.join("results.json");
    std::fs::write(&json_path, render_json(&o, &rows))
        .map_err(|e| format!("{}: {e}", json_path.display()))?;
    eprintln!("wrote {} and {}", path.display(), json_path.display());
    Ok(())
}

fn debian_version() -> Result<String> {
    let out = Command::new(DEBIAN)
        .arg("--version")
        .output()
        .map_err(|e| {
            format!(
                "{DEBIAN} not found ({e}); install the Debian package: apt-get install {DEBIAN}"
            )
        })?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Ok(text.lines().next().unwrap_or_default().trim().to_owned())
}

// ---------------------------------------------------------------------------
// The webhook

/// A webhook server on 127.0.0.1 counting the alerts in the notifications
/// POSTed to it, per path (each run has its own), with the time of the
/// last one.
struct Webhook {
    addr: SocketAddr,
    counts: Arc<Counts>,
}

/// What one path received: distinct alerts, alerts in all notifications,
/// notifications, and when the last new alert arrived.
#[derive(Clone, Copy, Default)]
struct Delivered {
    distinct: u64,
    alerts: u64,
    notifications: u64,
    last_new: Option<Instant>,
}

/// What a path received, with the fingerprints seen.
type PathCounts = (Delivered, HashSet<Vec<u8>>);

/// Delivered alerts by path.
#[derive(Default)]
struct Counts {
    inner: std::sync::Mutex<std::collections::HashMap<String, PathCounts>>,
}

impl Counts {
    /// Adds a notification of the alerts `fingerprints` to `path`.
    fn add(&self, path: &str, fingerprints: Vec<&[u8]>) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (d, seen) = inner.entry(path.to_owned()).or_default();
        d.alerts += fingerprints.len() as u64;
        d.notifications += 1;
        let before = seen.len();
        seen.extend(fingerprints.into_iter().map(<[u8]>::to_vec));
        if seen.len() > before {
            d.distinct = seen.len() as u64;
            d.last_new = Some(Instant::now());
        }
    }

    fn get(&self, path: &str) -> Delivered {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.get(path).map(|(d, _)| *d).unwrap_or_default()
    }
}

/// The values of the `"fingerprint"` keys of a v4 payload (one per alert).
fn fingerprints(body: &[u8]) -> Vec<&[u8]> {
    const KEY: &[u8] = b"\"fingerprint\":\"";
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.windows(KEY.len()).position(|w| w == KEY) {
        rest = &rest[at + KEY.len()..];
        let end = rest.iter().position(|&b| b == b'"').unwrap_or(rest.len());
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    out
}

impl Webhook {
    fn start() -> Result<Webhook> {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(|e| format!("webhook listener: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let counts = Arc::new(Counts::default());
        let shared = Arc::clone(&counts);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counts = Arc::clone(&shared);
                std::thread::spawn(move || serve_webhook(stream, &counts));
            }
        });
        Ok(Webhook { addr, counts })
    }
}

/// Answers POSTs on a kept-alive connection with 200, counting the alerts
/// of each body by fingerprint.
fn serve_webhook(stream: TcpStream, counts: &Counts) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(600)));
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    let mut body = Vec::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
        let mut close = line.trim_end().ends_with("HTTP/1.0");
        let mut length = 0usize;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" || line == "\n" {
                break;
            }
            let l = line.to_ascii_lowercase();
            if let Some(v) = l.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            } else if l.starts_with("connection:") && l.contains("close") {
                close = true;
            }
        }
        body.clear();
        body.resize(length, 0);
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        counts.add(&path, fingerprints(&body));
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n{}\r\n",
            if close { "Connection: close\r\n" } else { "" }
        );
        if (&stream).write_all(head.as_bytes()).is_err() || close {
            return;
        }
    }
}

// ---------------------------------------------------------------------------
// Processes

/// A started Alertmanager, killed when dropped.
struct Proc {
    child: Child,
    addr: SocketAddr,
    pid: u32,
    log: PathBuf,
}

impl Proc {
    fn check_alive(&mut self) -> Result {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(st)) => Err(format!("exited ({st}); see {}", self.log.display())),
            Err(e) => Err(e.to_string()),
        }
    }

    /// SIGTERM and wait (at most 60 s).
    fn stop(mut self) -> Result {
        let pid = self.pid.to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("pid {pid} did not stop within 60 s; killed"))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn start(peer: &Peer, config: &Path, plugins: &Path, data: &Path, log_path: &Path) -> Result<Proc> {
    let addr = free_port()?;
    let log =
        std::fs::File::create(log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let mut cmd = Command::new(&peer.bin);
    if peer.kind == Kind::Wasmetheus {
        cmd.arg("alertmanager")
            .arg(format!("--plugins.dir={}", plugins.display()));
    }
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", data.display()))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--cluster.listen-address=")
        .arg("--log.level=warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log);
    eprintln!("$ {}", describe(&cmd));
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", peer.bin.display()))?;
    let pid = child.id();
    let mut proc = Proc {
        child,
        addr,
        pid,
        log: log_path.to_owned(),
    };
    let started = Instant::now();
    loop {
        proc.check_alive()?;
        if let Ok((200, _)) = http(addr, "GET", "/-/ready", None) {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            return Err(format!(
                "{} not ready within 120 s; see {}",
                peer.kind.name(),
                log_path.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "{} ready on {addr} (pid {pid}) after {:.1} s",
        peer.kind.name(),
        started.elapsed().as_secs_f64()
    );
    Ok(proc)
}

// ---------------------------------------------------------------------------
// Measurement

/// What one run measured.
struct Measured {
    /// Seconds to POST every alert (all answered 200).
    post_s: f64,
    /// Seconds from the first POST to the last alert delivered.
    deliver_s: f64,
    /// Distinct alerts delivered.
    delivered: u64,
    /// Alerts in all notifications (repeats of an alert in a group's
    /// later notifications counted again).
    sent: u64,
    notifications: u64,
    /// CPU seconds of the process from the first POST to the end.
    cpu_s: f64,
    /// Peak RSS of the process, bytes.
    hwm: u64,
}

impl Measured {
    fn rate(&self) -> f64 {
        if self.deliver_s > 0.0 {
            self.delivered as f64 / self.deliver_s
        } else {
            0.0
        }
    }
}

fn config_text(hook: &str, wait_ms: i64, interval_ms: i64) -> String {
    format!(
        "route:\n  receiver: hook\n  group_by: [group]\n  group_wait: {wait_ms}ms\n  \
         group_interval: {interval_ms}ms\n  repeat_interval: 10h\nreceivers:\n  - name: hook\n    \
         webhook_configs: [{{url: '{hook}'}}]\n"
    )
}

/// A POST body of alerts `from..to` (alert `i` in group `i % groups`),
/// started at `starts_at`.
fn alerts_body(from: usize, to: usize, groups: usize, starts_at: &str) -> String {
    let mut body = String::from("[");
    for i in from..to {
        if i > from {
            body.push(',');
        }
        let _ = write!(
            body,
            "{{\"labels\":{{\"alertname\":\"BenchAlert\",\"group\":\"g{}\",\"instance\":\
             \"host-{i}:9100\",\"severity\":\"warning\"}},\"annotations\":{{\"summary\":\
             \"host-{i} is down\"}},\"startsAt\":\"{starts_at}\",\"generatorURL\":\
             \"http://prometheus:9090/graph?g0.expr=up%3D%3D0\"}}",
            i % groups
        );
    }
    body.push(']');
    body
}

/// POSTs a JSON body (Alertmanager wants the content type): (status,
/// answer).
fn post_json(addr: SocketAddr, path: &str, body: &str) -> Result<(u16, String)> {
    let what = format!("POST http://{addr}{path}");
    let fail = |e: std::io::Error| format!("{what}: {e}");
    let mut stream = TcpStream::connect(addr).map_err(fail)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(600)))
        .map_err(fail)?;
    let head = format!(
        "POST {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).map_err(fail)?;
    stream.write_all(body.as_bytes()).map_err(fail)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(fail)?;
    let response = String::from_utf8_lossy(&response);
    let (head, answer) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("{what}: malformed response {head:?}"))?;
    Ok((code, answer.to_owned()))
}

fn measure(
    o: &Options,
    wait_ms: i64,
    peer: &Peer,
    plugins: &Path,
    hook: &Webhook,
    dir: &Path,
    log: &Path,
) -> Result<Measured> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = format!("/{}-{wait_ms}", peer.kind.name());
    let config = dir.join("alertmanager.yml");
    std::fs::write(
        &config,
        config_text(
            &format!("http://{}{path}", hook.addr),
            wait_ms,
            o.group_interval_ms,
        ),
    )
    .map_err(|e| format!("{}: {e}", config.display()))?;
    let mut proc = start(peer, &config, plugins, &dir.join("data"), log)?;
    let before = proc_stats(proc.pid)?;
    let starts_at = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let started = Instant::now();
    let mut from = 0;
    while from < o.alerts {
        let to = (from + o.batch).min(o.alerts);
        let body = alerts_body(from, to, o.groups, &starts_at);
        match post_json(proc.addr, "/api/v2/alerts", &body)? {
            (200, _) => {}
            (code, text) => {
                return Err(format!(
                    "POST /api/v2/alerts: HTTP {code}: {:.300}",
                    text.trim()
                ));
            }
        }
        from = to;
    }
    let post_s = started.elapsed().as_secs_f64();
    let deadline = started + Duration::from_millis(o.timeout_ms as u64);
    let want = o.alerts as u64;
    loop {
        proc.check_alive()?;
        let delivered = hook.counts.get(&path).distinct;
        if delivered >= want {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{delivered} of {want} alerts delivered within {} ms",
                o.timeout_ms
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let after = proc_stats(proc.pid)?;
    let Delivered {
        distinct: delivered,
        alerts: sent,
        notifications,
        last_new,
    } = hook.counts.get(&path);
    let deliver_s = last_new.map_or(0.0, |t| t.saturating_duration_since(started).as_secs_f64());
    let measured = Measured {
        post_s,
        deliver_s,
        delivered,
        sent,
        notifications,
        cpu_s: after.cpu_s - before.cpu_s,
        hwm: after.hwm,
    };
    eprintln!(
        "{} (group_wait {wait_ms} ms): {delivered} alerts in {notifications} notifications, \
         posted in {post_s:.2} s, delivered in {deliver_s:.2} s ({:.0}/s), {:.2} CPU s, peak RSS {}",
        peer.kind.name(),
        measured.rate(),
        measured.cpu_s,
        bytes(measured.hwm as f64)
    );
    if let Err(e) = proc.stop() {
        eprintln!("{}: {e}", peer.kind.name());
    }
    Ok(measured)
}

// ---------------------------------------------------------------------------
// Reports

type Row<'a> = (i64, &'a Peer, Result<Measured>);

fn find<'a>(rows: &'a [Row<'_>], wait: i64, kind: Kind) -> Option<&'a Measured> {
    rows.iter()
        .find(|(w, p, _)| *w == wait && p.kind == kind)
        .and_then(|(_, _, r)| r.as_ref().ok())
}

fn render(o: &Options, rows: &[Row<'_>], skipped: &[String]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "bench alertmanager: {} alerts in {} groups, POSTed in batches of {}; \
         group_interval {} ms, repeat_interval 10h",
        o.alerts, o.groups, o.batch, o.group_interval_ms
    );
    let mut seen = Vec::new();
    for (_, peer, _) in rows {
        if !seen.contains(&peer.kind) {
            seen.push(peer.kind);
            let _ = writeln!(s, "  {}: {}", peer.kind.name(), peer.version);
        }
    }
    for line in skipped {
        let _ = writeln!(s, "  {line}");
    }
    let _ = writeln!(
        s,
        "\n{:<13} {:>10} {:>8} {:>9} {:>10} {:>7} {:>7} {:>8} {:>10}",
        "server",
        "group_wait",
        "post s",
        "deliver s",
        "alerts/s",
        "notifs",
        "sent",
        "CPU s",
        "peak RSS"
    );
    for (wait, peer, result) in rows {
        match result {
            Ok(m) => {
                let _ = writeln!(
                    s,
                    "{:<13} {:>8}ms {:>8.2} {:>9.2} {:>10.0} {:>7} {:>7} {:>8.2} {:>10}",
                    peer.kind.name(),
                    wait,
                    m.post_s,
                    m.deliver_s,
                    m.rate(),
                    m.notifications,
                    m.sent,
                    m.cpu_s,
                    bytes(m.hwm as f64)
                );
            }
            Err(e) => {
                let _ = writeln!(
                    s,
                    "{:<13} {:>8}ms NOT MEASURED: {e}",
                    peer.kind.name(),
                    wait
                );
            }
        }
    }
    let _ = writeln!(s, "\nwasmetheus ÷ alertmanager:");
    for &wait in &o.group_waits_ms {
        let ours = find(rows, wait, Kind::Wasmetheus);
        let theirs = find(rows, wait, Kind::Debian);
        let _ = writeln!(
            s,
            "  group_wait {wait} ms: alerts/s {}, CPU s {}, peak RSS {}, post time {}",
            ratio(ours.map(Measured::rate), theirs.map(Measured::rate)),
            ratio(ours.map(|m| m.cpu_s), theirs.map(|m| m.cpu_s)),
            ratio(ours.map(|m| m.hwm as f64), theirs.map(|m| m.hwm as f64)),
            ratio(ours.map(|m| m.post_s), theirs.map(|m| m.post_s)),
        );
    }
    s
}

fn render_json(o: &Options, rows: &[Row<'_>]) -> String {
    let mut s = format!(
        "{{\"bench\":\"alertmanager\",\"alerts\":{},\"groups\":{},\"batch\":{},\
         \"group_interval_ms\":{},\"runs\":[",
        o.alerts, o.groups, o.batch, o.group_interval_ms
    );
    for (i, (wait, peer, result)) in rows.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(
            s,
            "{{\"server\":\"{}\",\"version\":{:?},\"group_wait_ms\":{wait},",
            peer.kind.name(),
            peer.version
        );
        match result {
            Ok(m) => {
                let _ = write!(
                    s,
                    "\"post_s\":{:.3},\"deliver_s\":{:.3},\"alerts_per_s\":{:.1},\
                     \"delivered\":{},\"sent\":{},\"notifications\":{},\"cpu_s\":{:.3},\
                     \"peak_rss_bytes\":{}}}",
                    m.post_s,
                    m.deliver_s,
                    m.rate(),
                    m.delivered,
                    m.sent,
                    m.notifications,
                    m.cpu_s,
                    m.hwm
                );
            }
            Err(e) => {
                let _ = write!(s, "\"error\":{e:?}}}");
            }
        }
    }
    s.push_str("]}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The webhook counts each notification's alerts per path, over a
    /// kept-alive connection.
    #[test]
    fn webhook_counts_alerts_per_path() {
        let hook = Webhook::start().expect("webhook");
        let mut client = TcpStream::connect(hook.addr).expect("connect");
        let one = r#"{"alerts":[{"fingerprint":"a"},{"fingerprint":"b"}]}"#;
        let again = r#"{"alerts":[{"fingerprint":"b"},{"fingerprint":"d"}]}"#;
        let two = r#"{"alerts":[{"fingerprint":"c"}]}"#;
        let request = format!(
            "POST /x HTTP/1.1\r\nContent-Length: {}\r\n\r\n{one}\
             POST /x HTTP/1.1\r\nContent-Length: {}\r\n\r\n{again}\
             POST /y HTTP/1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{two}",
            one.len(),
            again.len(),
            two.len()
        );
        client.write_all(request.as_bytes()).expect("write");
        let mut response = String::new();
        client.read_to_string(&mut response).expect("read");
        assert_eq!(response.matches("HTTP/1.1 200 OK").count(), 3);
        let x = hook.counts.get("/x");
        assert_eq!((x.distinct, x.alerts, x.notifications), (3, 4, 2));
        assert_eq!(hook.counts.get("/y").distinct, 1);
        assert_eq!(hook.counts.get("/z").notifications, 0);
    }

    #[test]
    fn alert_bodies_spread_alerts_over_groups() {
        let body = alerts_body(3, 6, 2, "2026-01-01T00:00:00Z");
        assert!(body.starts_with("[{") && body.ends_with("}]"), "{body}");
        assert_eq!(body.matches("\"labels\"").count(), 3);
        assert_eq!(body.matches("\"group\":\"g1\"").count(), 2);
        assert_eq!(body.matches("\"group\":\"g0\"").count(), 1);
        assert!(body.contains("host-5:9100"));
    }

    #[test]
    fn options() {
        let args: Vec<String> = [
            "--alerts",
            "1_000",
            "--groups",
            "100",
            "--group-wait",
            "0s,2s",
            "--no-build",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let o = parse_options(&args).expect("options");
        assert_eq!(o.alerts, 1000);
        assert_eq!(o.group_waits_ms, [0, 2000]);
        assert!(!o.build);
        let bad: Vec<String> = ["--groups", "10", "--alerts", "5"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(parse_options(&bad).is_err());
    }
}
