//! `cargo xtask bench remote-write`: what remote write costs wasmetheus
//! and Prometheus on the same scrape load. Each server in turn scrapes the
//! same synthetic targets (served by this process) and remote-writes into
//! a VictoriaMetrics of its own; over a fixed window the bench reads the
//! senders' `prometheus_remote_storage_*` counters, VictoriaMetrics'
//! count of rows received by remote write, and the server's CPU time from
//! /proc, and prints both rows with their ratios (also written to
//! `target/bench/remote-write/results.json`).

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::peers::{Kind, Peer, Running, find_peers, start};
use super::support::{
    TempDir, common_flag, count, flag_value, get, listen_targets, metric_sum, mix, parse_duration,
    proc_stats, ratio, serve_scrapes,
};
use crate::{Result, root};

pub const USAGE: &str = "\
usage: cargo xtask bench remote-write [--targets 10] [--series 2000] [--interval 1s]
                                      [--warmup 20s] [--duration 60s] [--no-baseline]
                                      [--max-samples-per-send 2000]
                                      [--servers wasmetheus,prometheus]
                                      [--wasmetheus-bin PATH] [--no-build] [--keep]

  Serves --targets synthetic targets of --series series each (every value
  changing every scrape) from this process. wasmetheus, then Debian's
  Prometheus, scrape them every --interval and remote-write everything
  into a fresh VictoriaMetrics each (its /api/v1/write). After --warmup,
  over --duration: samples sent per second (the sender's
  prometheus_remote_storage_samples_total, and the rows VictoriaMetrics
  received by remote write), the server's CPU seconds (utime+stime) per
  million samples sent, bytes sent per sample
  (prometheus_remote_storage_bytes_total, compressed), failed and retried
  samples, and the samples pending at the end. Both senders get the same
  queue_config max_samples_per_send (default 2000, Prometheus 3.x's
  default; Debian's 2.42 defaults to 500, which makes smaller, less
  compressible batches); 0 leaves each server its own default.
  Unless --no-baseline, each server first runs the same window without
  remote_write, and the CPU per million samples is also given net of
  that baseline. Results: a table with ratios on stdout and in
  target/bench/remote-write/report.txt, figures in
  target/bench/remote-write/results.json; logs beside them.
  --wasmetheus-bin runs that binary instead of building the release one
  (e.g. target/debug/wasmetheus for a dry run of the harness).";

struct Options {
    targets: usize,
    series: usize,
    interval_ms: i64,
    warmup_ms: i64,
    duration_ms: i64,
    baseline: bool,
    max_samples_per_send: usize,
    servers: Vec<Kind>,
    wasmetheus_bin: Option<String>,
    build: bool,
    keep: bool,
}

fn parse_options(args: &[String]) -> Result<Options> {
    let mut o = Options {
        targets: 10,
        series: 2000,
        interval_ms: 1000,
        warmup_ms: 20_000,
        duration_ms: 60_000,
        baseline: true,
        max_samples_per_send: 2000,
        servers: vec![Kind::Wasmetheus, Kind::Prometheus],
        wasmetheus_bin: None,
        build: true,
        keep: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| flag_value(&mut args, name, USAGE);
        let number = |s: String| count(arg, &s);
        match arg.as_str() {
            "--targets" => o.targets = number(value(arg)?)?,
            "--series" => o.series = number(value(arg)?)?,
            "--interval" => o.interval_ms = parse_duration(&value(arg)?)?,
            "--warmup" => o.warmup_ms = parse_duration(&value(arg)?)?,
            "--duration" => o.duration_ms = parse_duration(&value(arg)?)?,
            "--no-baseline" => o.baseline = false,
            "--max-samples-per-send" => o.max_samples_per_send = number(value(arg)?)?,
            "--servers" => o.servers = Kind::parse_list(&value(arg)?)?,
            "--wasmetheus-bin" => o.wasmetheus_bin = Some(value(arg)?),
            other => common_flag(other, &mut o.build, &mut o.keep, USAGE)?,
        }
    }
    if o.targets == 0 || o.series == 0 || o.interval_ms <= 0 || o.duration_ms <= 0 {
        return Err("--targets, --series, --interval and --duration must be positive".into());
    }
    if o.servers.is_empty() || o.servers.contains(&Kind::VictoriaMetrics) {
        return Err(format!(
            "--servers: wasmetheus and/or prometheus (VictoriaMetrics is the receiver)\n{USAGE}"
        ));
    }
    Ok(o)
}

pub fn run(args: &[String]) -> Result {
    let o = parse_options(args)?;
    let out = root().join("target/bench/remote-write");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let (mut peers, skipped) = match &o.wasmetheus_bin {
        Some(bin) => {
            let others: Vec<Kind> = o
                .servers
                .iter()
                .copied()
                .filter(|k| *k != Kind::Wasmetheus)
                .collect();
            let (mut peers, skipped) = find_peers(&others, false)?;
            if o.servers.contains(&Kind::Wasmetheus) {
                let bin = std::path::absolute(bin).map_err(|e| format!("{bin}: {e}"))?;
                if !bin.is_file() {
                    return Err(format!("--wasmetheus-bin {}: no such file", bin.display()));
                }
                peers.insert(
                    0,
                    Peer {
                        kind: Kind::Wasmetheus,
                        version: bin.display().to_string(),
                        bin,
                    },
                );
            }
            (peers, skipped)
        }
        None => find_peers(&o.servers, o.build)?,
    };
    let (receiver, vm_skipped) = find_peers(&[Kind::VictoriaMetrics], false)?;
    let Some(receiver) = receiver.into_iter().next() else {
        return Err(format!(
            "no receiver: {}",
            vm_skipped.join("; ").replace(" SKIPPED", "")
        ));
    };
    let work = TempDir::new(out.join(format!("work-{}", std::process::id())), o.keep)?;
    let targets = Targets::start(o.targets, o.series)?;
    eprintln!(
        "serving {} synthetic targets × {} series on 127.0.0.1",
        o.targets, o.series
    );

    let mut rows = Vec::new();
    for peer in peers.drain(..) {
        let result = measure(&o, &peer, &receiver, &targets, &work.path, &out);
        if let Err(e) = &result {
            eprintln!("{}: NOT MEASURED: {e}", peer.kind.name());
        }
        rows.push((peer, result));
    }
    let table = render(&o, &rows, &skipped, &receiver.version);
    println!("{table}");
    let report = out.join("report.txt");
    std::fs::write(&report, &table).map_err(|e| format!("{}: {e}", report.display()))?;
    let json = out.join("results.json");
    std::fs::write(&json, results_json(&o, &rows, &receiver.version))
        .map_err(|e| format!("{}: {e}", json.display()))?;
    eprintln!("wrote {} and {}", report.display(), json.display());
    Ok(())
}

/// The server's configuration: the targets, and remote write to `url`
/// (none for the baseline) with `max_samples_per_send` (0: the server's
/// default). The external label names the server.
fn config(
    kind: Kind,
    addrs: &[SocketAddr],
    interval_ms: i64,
    url: Option<&str>,
    max_samples_per_send: usize,
) -> String {
    let interval = format!("{interval_ms}ms");
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Written by `cargo xtask bench remote-write`.\nglobal:\n  scrape_interval: {interval}\n  \
         scrape_timeout: {interval}\n  external_labels: {{bench_server: {}}}",
        kind.name()
    );
    if let Some(url) = url {
        let _ = writeln!(s, "remote_write:\n  - url: {url}");
        if max_samples_per_send > 0 {
            let _ = writeln!(
                s,
                "    queue_config:\n      max_samples_per_send: {max_samples_per_send}"
            );
        }
    }
    let _ = writeln!(
        s,
        "scrape_configs:\n  - job_name: bench\n    static_configs:\n      - targets:"
    );
    for a in addrs {
        let _ = writeln!(s, "          - '{a}'");
    }
    s
}

// ---------------------------------------------------------------------------
// Measurement

/// The sender's counters (summed over its queues) and VictoriaMetrics'.
#[derive(Clone, Copy, Default, Debug)]
struct Counters {
    at_s: f64,
    cpu_s: f64,
    served: u64,
    sent: Option<f64>,
    bytes: Option<f64>,
    failed: Option<f64>,
    retried: Option<f64>,
    pending: Option<f64>,
    /// `highest_timestamp_in_seconds - queue_highest_sent_timestamp_seconds`.
    lag_s: Option<f64>,
    received: Option<f64>,
}

const SENT: &str = "prometheus_remote_storage_samples_total";
const BYTES: &str = "prometheus_remote_storage_bytes_total";
const FAILED: &str = "prometheus_remote_storage_samples_failed_total";
const RETRIED: &str = "prometheus_remote_storage_samples_retried_total";
const PENDING: &str = "prometheus_remote_storage_samples_pending";
const HIGHEST: &str = "prometheus_remote_storage_highest_timestamp_in_seconds";
const HIGHEST_SENT: &str = "prometheus_remote_storage_queue_highest_sent_timestamp_seconds";
/// VictoriaMetrics 1.79's count of rows received through remote write.
const RECEIVED: &str = "vm_rows_inserted_total{type=\"promremotewrite\"}";

fn counters(
    base: Instant,
    server: &Running,
    vm: Option<&Running>,
    targets: &Targets,
) -> Result<Counters> {
    let metrics = get(server.addr, "/metrics").unwrap_or_default();
    let vm_metrics = vm.map(|vm| get(vm.addr, "/metrics").unwrap_or_default());
    let highest = metric_sum(&metrics, HIGHEST);
    let highest_sent = metric_sum(&metrics, HIGHEST_SENT);
    Ok(Counters {
        at_s: base.elapsed().as_secs_f64(),
        cpu_s: proc_stats(server.pid)?.cpu_s,
        served: targets.served(),
        sent: metric_sum(&metrics, SENT),
        bytes: metric_sum(&metrics, BYTES),
        failed: metric_sum(&metrics, FAILED),
        retried: metric_sum(&metrics, RETRIED),
        pending: metric_sum(&metrics, PENDING),
        lag_s: highest.zip(highest_sent).map(|(h, s)| h - s),
        received: vm_metrics.and_then(|m| metric_sum(&m, RECEIVED)),
    })
}

/// One window: the difference of two readings (gauges as at the end).
#[derive(Clone, Copy, Debug)]
struct Window {
    seconds: f64,
    cpu_s: f64,
    served: u64,
    sent: Option<f64>,
    bytes: Option<f64>,
    failed: Option<f64>,
    retried: Option<f64>,
    pending: Option<f64>,
    lag_s: Option<f64>,
    received: Option<f64>,
}

impl Window {
    fn between(a: &Counters, b: &Counters) -> Window {
        let delta = |a: Option<f64>, b: Option<f64>| b.zip(a).map(|(b, a)| b - a);
        Window {
            seconds: b.at_s - a.at_s,
            cpu_s: b.cpu_s - a.cpu_s,
            served: b.served - a.served,
            sent: delta(a.sent, b.sent),
            bytes: delta(a.bytes, b.bytes),
            failed: delta(a.failed, b.failed),
            retried: delta(a.retried, b.retried),
            pending: b.pending,
            lag_s: b.lag_s,
            received: delta(a.received, b.received),
        }
    }

    /// Samples sent in the window, when any were.
    fn sent_samples(&self) -> Option<f64> {
        self.sent.filter(|&n| n > 0.0)
    }

    fn sent_per_s(&self) -> Option<f64> {
        self.sent.map(|n| n / self.seconds)
    }

    fn received_per_s(&self) -> Option<f64> {
        self.received.map(|n| n / self.seconds)
    }

    fn cpu_per_million(&self) -> Option<f64> {
        self.sent_samples().map(|n| self.cpu_s / n * 1e6)
    }

    fn bytes_per_sample(&self) -> Option<f64> {
        self.bytes.zip(self.sent_samples()).map(|(b, n)| b / n)
    }
}

/// A server's figures: with remote write, and the baseline without.
struct Figures {
    with: Window,
    baseline: Option<Window>,
}

impl Figures {
    /// CPU seconds per million samples sent, net of the baseline's CPU
    /// over as long a window.
    fn net_cpu_per_million(&self) -> Option<f64> {
        let base = self.baseline?;
        let n = self.with.sent_samples()?;
        let base_cpu = base.cpu_s / base.seconds * self.with.seconds;
        Some((self.with.cpu_s - base_cpu) / n * 1e6)
    }

    /// Why the row has no rates, if it has none: the sender's counter is
    /// missing or did not move.
    fn nothing_sent(&self, kind: Kind) -> Option<String> {
        match self.with.sent {
            None => Some(format!(
                "{} sent nothing: its /metrics has no {SENT} (is remote write running?)",
                kind.name()
            )),
            Some(n) if n <= 0.0 => Some(format!(
                "{} sent nothing during the window ({SENT} did not move)",
                kind.name()
            )),
            Some(_) => None,
        }
    }
}

fn measure(
    o: &Options,
    peer: &Peer,
    receiver: &Peer,
    targets: &Targets,
    work: &Path,
    out: &Path,
) -> Result<Figures> {
    let name = peer.kind.name();
    eprintln!("\n== {name} ({}) ==", peer.version);
    let base = Instant::now();
    let baseline = if o.baseline {
        let data = work.join(format!("{name}-baseline"));
        std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
        let config = work.join(format!("{name}-baseline.yml"));
        write(&config, &config_for(o, peer.kind, targets, None))?;
        let log = out.join(format!("{name}-baseline.log"));
        let mut server = start(peer, &config, true, &data, &log)?;
        std::thread::sleep(Duration::from_millis(o.warmup_ms as u64));
        server.check_alive()?;
        let a = counters(base, &server, None, targets)?;
        std::thread::sleep(Duration::from_millis(o.duration_ms as u64));
        server.check_alive()?;
        let b = counters(base, &server, None, targets)?;
        server.stop()?;
        let w = Window::between(&a, &b);
        eprintln!(
            "{name} without remote write: {:.2} CPU s over {:.0} s, {} samples scraped",
            w.cpu_s, w.seconds, w.served
        );
        Some(w)
    } else {
        None
    };

    let vm_data = work.join(format!("{name}-victoria-metrics"));
    std::fs::create_dir_all(&vm_data).map_err(|e| format!("{}: {e}", vm_data.display()))?;
    let vm_log = out.join(format!("{name}-victoria-metrics.log"));
    let vm = start(receiver, Path::new("/dev/null"), false, &vm_data, &vm_log)?;
    let url = format!("http://{}/api/v1/write", vm.addr);
    let data = work.join(name);
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    let config = work.join(format!("{name}.yml"));
    write(&config, &config_for(o, peer.kind, targets, Some(&url)))?;
    let log = out.join(format!("{name}.log"));
    let mut server = start(peer, &config, true, &data, &log)?;
    std::thread::sleep(Duration::from_millis(o.warmup_ms as u64));
    server.check_alive()?;
    let a = counters(base, &server, Some(&vm), targets)?;
    std::thread::sleep(Duration::from_millis(o.duration_ms as u64));
    server.check_alive()?;
    let b = counters(base, &server, Some(&vm), targets)?;
    server.stop()?;
    vm.stop()?;
    let f = Figures {
        with: Window::between(&a, &b),
        baseline,
    };
    let w = &f.with;
    match f.nothing_sent(peer.kind) {
        Some(why) => eprintln!("{why}"),
        None => eprintln!(
            "{name}: {:.0} samples/s sent, {:.0} rows/s received, {:.2} CPU s over {:.0} s, {} pending at the end",
            w.sent_per_s().unwrap_or(0.0),
            w.received_per_s().unwrap_or(0.0),
            w.cpu_s,
            w.seconds,
            w.pending.map_or("?".into(), |p| format!("{p:.0}"))
        ),
    }
    if !o.keep {
        let _ = std::fs::remove_dir_all(work.join(name));
        let _ = std::fs::remove_dir_all(&vm_data);
    }
    Ok(f)
}

fn config_for(o: &Options, kind: Kind, targets: &Targets, url: Option<&str>) -> String {
    config(
        kind,
        &targets.addrs,
        o.interval_ms,
        url,
        o.max_samples_per_send,
    )
}

fn write(path: &Path, text: &str) -> Result {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------
// Report

fn or_dash(v: Option<f64>, decimals: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.decimals$}"))
}

fn render(
    o: &Options,
    rows: &[(Peer, Result<Figures>)],
    skipped: &[String],
    receiver: &str,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n== bench remote-write: {} targets × {} series every {} ms into {receiver}; \
         {:.0} s window after {:.0} s warm-up; max_samples_per_send {} ==",
        o.targets,
        o.series,
        o.interval_ms,
        o.duration_ms as f64 / 1000.0,
        o.warmup_ms as f64 / 1000.0,
        match o.max_samples_per_send {
            0 => "each server's default".to_owned(),
            n => n.to_string(),
        }
    );
    let _ = writeln!(
        s,
        "{:<11} {:>10} {:>10} {:>10} {:>7} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>6}",
        "server",
        "scraped/s",
        "sent/s",
        "VM rows/s",
        "CPU s",
        "CPU s/1M",
        "net s/1M",
        "B/sample",
        "failed",
        "retried",
        "pending",
        "lag s"
    );
    let mut notes = Vec::new();
    for (peer, r) in rows {
        let name = peer.kind.name();
        match r {
            Ok(f) => {
                let w = &f.with;
                let _ = writeln!(
                    s,
                    "{name:<11} {:>10.0} {:>10} {:>10} {:>7.2} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>6}",
                    w.served as f64 / w.seconds,
                    or_dash(w.sent_per_s(), 0),
                    or_dash(w.received_per_s(), 0),
                    w.cpu_s,
                    or_dash(w.cpu_per_million(), 3),
                    or_dash(f.net_cpu_per_million(), 3),
                    or_dash(w.bytes_per_sample(), 2),
                    or_dash(w.failed, 0),
                    or_dash(w.retried, 0),
                    or_dash(w.pending, 0),
                    or_dash(w.lag_s, 1),
                );
                notes.extend(f.nothing_sent(peer.kind));
                if let Some(b) = f.baseline {
                    notes.push(format!(
                        "{name} without remote write: {:.2} CPU s over {:.0} s ({:.3} CPU s per million samples scraped)",
                        b.cpu_s,
                        b.seconds,
                        b.cpu_s / b.served.max(1) as f64 * 1e6
                    ));
                }
            }
            Err(e) => {
                let _ = writeln!(s, "{name:<11} NOT MEASURED: {e}");
            }
        }
    }
    for note in notes.iter().chain(skipped) {
        let _ = writeln!(s, "{note}");
    }
    let _ = writeln!(
        s,
        "scraped/s: samples the synthetic targets served; sent/s: the sender's {SENT}; \
         VM rows/s: {RECEIVED} of the server's own VictoriaMetrics.\n\
         CPU s/1M: the server's CPU seconds (utime+stime, scraping and storing included) per \
         million samples sent; net s/1M: the same minus the CPU of the run without remote \
         write over as long a window.\n\
         B/sample: {BYTES} (snappy-compressed bodies) per sample sent; failed, retried: samples \
         in the window; pending: {PENDING} at the end; lag: highest appended minus highest sent \
         timestamp at the end."
    );
    let fig = |k: Kind| {
        rows.iter()
            .find(|(p, _)| p.kind == k)
            .and_then(|(_, r)| r.as_ref().ok())
    };
    if let (Some(ours), Some(theirs)) = (fig(Kind::Wasmetheus), fig(Kind::Prometheus)) {
        let _ = writeln!(
            s,
            "wasmetheus / prometheus: sent/s {}   CPU per sample {}   net CPU per sample {}   bytes per sample {}",
            ratio(ours.with.sent_per_s(), theirs.with.sent_per_s()),
            ratio(ours.with.cpu_per_million(), theirs.with.cpu_per_million()),
            ratio(ours.net_cpu_per_million(), theirs.net_cpu_per_million()),
            ratio(ours.with.bytes_per_sample(), theirs.with.bytes_per_sample()),
        );
    }
    s
}

/// A number as JSON (`null` when missing or not finite).
fn json_number(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v}"),
        _ => "null".into(),
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn results_json(o: &Options, rows: &[(Peer, Result<Figures>)], receiver: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "{{\n  \"targets\": {},\n  \"series_per_target\": {},\n  \"interval_ms\": {},\n  \
         \"warmup_ms\": {},\n  \"window_ms\": {},\n  \"max_samples_per_send\": {},\n  \
         \"receiver\": {},\n  \"servers\": [",
        o.targets,
        o.series,
        o.interval_ms,
        o.warmup_ms,
        o.duration_ms,
        o.max_samples_per_send,
        json_string(receiver)
    );
    for (i, (peer, r)) in rows.iter().enumerate() {
        let _ = write!(
            s,
            "{}\n    {{\"server\": {}, \"version\": {}, ",
            if i > 0 { "," } else { "" },
            json_string(peer.kind.name()),
            json_string(&peer.version)
        );
        match r {
            Ok(f) => {
                let w = &f.with;
                let _ = write!(
                    s,
                    "\"window_s\": {}, \"scraped_per_s\": {}, \"sent_per_s\": {}, \
                     \"received_per_s\": {}, \"cpu_s\": {}, \"cpu_s_per_million_sent\": {}, \
                     \"net_cpu_s_per_million_sent\": {}, \"baseline_cpu_s\": {}, \
                     \"bytes_per_sample\": {}, \"failed\": {}, \"retried\": {}, \
                     \"pending_at_end\": {}, \"lag_s_at_end\": {}, \"note\": {}}}",
                    json_number(Some(w.seconds)),
                    json_number(Some(w.served as f64 / w.seconds)),
                    json_number(w.sent_per_s()),
                    json_number(w.received_per_s()),
                    json_number(Some(w.cpu_s)),
                    json_number(w.cpu_per_million()),
                    json_number(f.net_cpu_per_million()),
                    json_number(f.baseline.map(|b| b.cpu_s)),
                    json_number(w.bytes_per_sample()),
                    json_number(w.failed),
                    json_number(w.retried),
                    json_number(w.pending),
                    json_number(w.lag_s),
                    f.nothing_sent(peer.kind)
                        .map_or("null".into(), |n| json_string(&n)),
                );
            }
            Err(e) => {
                let _ = write!(s, "\"error\": {}}}", json_string(e));
            }
        }
    }
    s.push_str("\n  ]\n}\n");
    s
}

// ---------------------------------------------------------------------------
// Synthetic targets

/// Targets of `series` series each: 100-series families, four in five
/// counters rising every scrape, the rest gauges changing every scrape.
struct Targets {
    addrs: Vec<SocketAddr>,
    served: Arc<AtomicU64>,
}

impl Targets {
    fn start(targets: usize, series: usize) -> Result<Targets> {
        let served = Arc::new(AtomicU64::new(0));
        let addrs = listen_targets(targets, |t| {
            let served = Arc::clone(&served);
            let scrapes = AtomicU64::new(0);
            move |stream: TcpStream| {
                serve_scrapes(
                    stream,
                    series * 80,
                    |body| {
                        let n = scrapes.fetch_add(1, Ordering::Relaxed);
                        render_target(body, t, n, series);
                    },
                    || {
                        served.fetch_add(series as u64, Ordering::Relaxed);
                    },
                )
            }
        })?;
        Ok(Targets { addrs, served })
    }

    fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
}

/// Scrape `n` of target `target`.
fn render_target(w: &mut Vec<u8>, target: usize, n: u64, series: usize) {
    use std::io::Write as _;
    for i in 0..series {
        let family = i / 100;
        let counter = family % 5 != 4;
        let id = mix(((target as u64) << 32) ^ i as u64);
        if counter {
            let rate = 1 + id % 20;
            let _ = writeln!(
                w,
                "bench_requests_{family}_total{{handler=\"/h{}\",code=\"{}\"}} {}",
                i % 10,
                200 + (i / 10) % 10,
                id % 1_000_000 + n * rate
            );
        } else {
            let _ = writeln!(
                w,
                "bench_inflight_{family}{{handler=\"/h{}\",code=\"{}\"}} {}.{}",
                i % 10,
                200 + (i / 10) % 10,
                id % 1000,
                mix(id ^ n) % 10
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(sent: Option<f64>) -> Window {
        Window {
            seconds: 10.0,
            cpu_s: 2.0,
            served: 100_000,
            sent,
            bytes: sent.map(|n| n * 1.5),
            failed: Some(0.0),
            retried: Some(0.0),
            pending: Some(12.0),
            lag_s: Some(0.5),
            received: sent,
        }
    }

    fn peer(kind: Kind) -> Peer {
        Peer {
            kind,
            bin: kind.name().into(),
            version: "v".into(),
        }
    }

    #[test]
    fn figures_per_sample_and_net_of_the_baseline() {
        let f = Figures {
            with: window(Some(1_000_000.0)),
            baseline: Some(Window {
                seconds: 20.0,
                cpu_s: 2.0,
                ..window(None)
            }),
        };
        assert_eq!(f.with.sent_per_s(), Some(100_000.0));
        assert_eq!(f.with.cpu_per_million(), Some(2.0));
        assert_eq!(f.with.bytes_per_sample(), Some(1.5));
        // The baseline's 2 s over 20 s is 1 s over the 10 s window.
        assert_eq!(f.net_cpu_per_million(), Some(1.0));
        assert_eq!(f.nothing_sent(Kind::Wasmetheus), None);
    }

    /// A server whose sender is missing or idle is reported as having sent
    /// nothing, with no per-sample figures; the other row and the JSON
    /// still come out.
    #[test]
    fn a_server_that_sent_nothing_says_so() {
        let o = parse_options(&[]).unwrap();
        let rows = vec![
            (
                peer(Kind::Wasmetheus),
                Ok(Figures {
                    with: window(None),
                    baseline: None,
                }),
            ),
            (
                peer(Kind::Prometheus),
                Ok(Figures {
                    with: window(Some(0.0)),
                    baseline: None,
                }),
            ),
        ];
        let table = render(&o, &rows, &[], "vm");
        assert!(
            table.contains(
                "wasmetheus sent nothing: its /metrics has no prometheus_remote_storage_samples_total"
            ),
            "{table}"
        );
        assert!(
            table.contains("prometheus sent nothing during the window"),
            "{table}"
        );
        assert!(table.contains("CPU per sample -"), "{table}");
        let json = results_json(&o, &rows, "vm");
        assert!(
            json.contains("\"max_samples_per_send\": 2000,\n  \"receiver\": \"vm\",\n"),
            "{json}"
        );
        assert!(json.contains("\"sent_per_s\": null"), "{json}");
        assert!(json.contains("\"cpu_s_per_million_sent\": null"), "{json}");
        assert!(
            json.contains("\"note\": \"wasmetheus sent nothing"),
            "{json}"
        );
    }

    #[test]
    fn config_with_and_without_remote_write() {
        let addrs = ["127.0.0.1:1".parse().unwrap()];
        let with = config(
            Kind::Prometheus,
            &addrs,
            1000,
            Some("http://x/api/v1/write"),
            2000,
        );
        assert!(with.contains(
            "remote_write:\n  - url: http://x/api/v1/write\n    queue_config:\n      max_samples_per_send: 2000\n"
        ));
        assert!(with.contains("external_labels: {bench_server: prometheus}"));
        assert!(with.contains("          - '127.0.0.1:1'\n"));
        let without = config(Kind::Prometheus, &addrs, 1000, None, 2000);
        assert!(!without.contains("remote_write"));
    }

    #[test]
    fn targets_render_their_series() {
        let mut w = Vec::new();
        render_target(&mut w, 1, 3, 500);
        let text = String::from_utf8(w).unwrap();
        assert_eq!(text.lines().count(), 500);
        assert_eq!(text.matches("bench_inflight_4{").count(), 100);
    }

    #[test]
    fn options_refuse_victoria_metrics_as_a_sender() {
        let args = ["--servers".to_owned(), "vm".to_owned()];
        assert!(parse_options(&args).is_err());
    }
}
