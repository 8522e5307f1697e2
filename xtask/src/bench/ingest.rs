//! `cargo xtask bench ingest`: what scraping and storing costs wasmetheus,
//! Prometheus and VictoriaMetrics, one after the other, all scraping the
//! same synthetic targets served by this process: CPU seconds per million
//! samples, resident memory per series, disk growth and the graceful stop
//! (SIGTERM to exit, under the load), as ratios.

use std::fmt::Write as _;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::peers::{ALL, Kind, Peer, READY_WITHIN, find_peers, start_with};
use super::report::{Report, ServerReport};
use super::support::{
    ProcStats, TempDir, bytes, common_flag, count, du, flag_value, get, listen_targets, metric_sum,
    mix, parse_duration, proc_stats, ratio, serve_scrapes,
};
use crate::{Result, root};

pub const USAGE: &str = "\
usage: cargo xtask bench ingest [--targets 20] [--series 5000] [--interval 1s]
                                [--warmup 20s] [--duration 120s] [--churn 0[,10…]]
                                [--servers wasmetheus,prometheus,victoria-metrics]
                                [--wasmetheus-flag FLAG]… [--no-build] [--keep]

  Serves --targets synthetic targets of --series series each (80 % counters,
  20 % gauges, every value changing every scrape) from this process, and has
  wasmetheus, Prometheus and VictoriaMetrics scrape them every --interval,
  one server after the other. After --warmup, measures over --duration the
  server's CPU time (utime+stime), its RSS at the end and the growth of its
  data directory, and prints them per sample and per series with ratios,
  then times its graceful stop (SIGTERM to exit, the targets still served).
  Each server is first run 10 s without targets: its RSS then is the fixed
  cost, and RSS above it per series is reported beside RSS per series.
  --churn P gives P % of each target's series a new `pod` label value per
  minute (a list runs each variant). --wasmetheus-flag passes FLAG to
  wasmetheus serve (e.g. --storage.tsdb.wal-compression-type=snappy).
  Results also go to
  target/bench-ingest/report.txt and report.json; server logs stay in
  target/bench-ingest/.
  --no-build uses target/release/wasmetheus as it is; --keep keeps the data.";

struct Options {
    targets: usize,
    series: usize,
    interval_ms: i64,
    warmup_ms: i64,
    duration_ms: i64,
    churn: Vec<f64>,
    servers: Vec<Kind>,
    wasmetheus_flags: Vec<String>,
    build: bool,
    keep: bool,
}

fn parse_options(args: &[String]) -> Result<Options> {
    let mut o = Options {
        targets: 20,
        series: 5000,
        interval_ms: 1000,
        warmup_ms: 20_000,
        // A full chunk cycle: at 1 s both Prometheus and wasmetheus cut a
        // head chunk every 120 samples, and the window must include that.
        duration_ms: 120_000,
        churn: vec![0.0],
        servers: ALL.to_vec(),
        wasmetheus_flags: Vec::new(),
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
            "--churn" => {
                o.churn = value(arg)?
                    .split(',')
                    .map(|c| {
                        c.trim_end_matches('%')
                            .parse::<f64>()
                            .ok()
                            .filter(|c| (0.0..=100.0).contains(c))
                            .ok_or_else(|| format!("--churn {c:?}: want a percentage per minute"))
                    })
                    .collect::<Result<_>>()?;
            }
            "--servers" => o.servers = Kind::parse_list(&value(arg)?)?,
            "--wasmetheus-flag" => o.wasmetheus_flags.push(value(arg)?),
            other => common_flag(other, &mut o.build, &mut o.keep, USAGE)?,
        }
    }
    if o.targets == 0 || o.series == 0 || o.interval_ms <= 0 || o.duration_ms <= 0 {
        return Err("--targets, --series, --interval and --duration must be positive".into());
    }
    if o.churn.is_empty() || o.servers.is_empty() {
        return Err("--churn and --servers need at least one value".into());
    }
    Ok(o)
}

pub fn run(args: &[String]) -> Result {
    let o = parse_options(args)?;
    let (peers, skipped) = find_peers(&o.servers, o.build)?;
    let out = root().join("target/bench-ingest");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let work = TempDir::new(out.join(format!("work-{}", std::process::id())), o.keep)?;

    let targets = Targets::start(o.targets, o.series)?;
    let config = work.path.join("prometheus.yml");
    std::fs::write(&config, scrape_config(&targets.addrs, o.interval_ms))
        .map_err(|e| format!("{}: {e}", config.display()))?;
    // The same server without targets: its RSS is the fixed cost (code,
    // runtime, buffers) that the load's series come on top of.
    let idle_config = work.path.join("idle.yml");
    std::fs::write(&idle_config, scrape_config(&[], o.interval_ms))
        .map_err(|e| format!("{}: {e}", idle_config.display()))?;
    eprintln!(
        "serving {} synthetic targets × {} series on 127.0.0.1; config {}",
        o.targets,
        o.series,
        config.display()
    );

    let mut report = String::new();
    let mut runs = Vec::new();
    for &churn in &o.churn {
        let mut rows = Vec::new();
        for peer in &peers {
            let data = work
                .path
                .join(format!("churn-{churn}/{}", peer.kind.name()));
            let log = out.join(format!("{}-churn-{churn}.log", peer.kind.name()));
            let configs = [config.as_path(), idle_config.as_path()];
            let result = measure(&o, peer, churn, &targets, configs, &data, &log);
            if let Err(e) = &result {
                eprintln!("{}: NOT MEASURED: {e}", peer.kind.name());
            }
            if !o.keep {
                let _ = std::fs::remove_dir_all(&data);
            }
            rows.push((peer, result));
        }
        let table = render(&o, churn, &rows, &skipped);
        println!("{table}");
        report.push_str(&table);
        runs.push((churn, rows));
    }
    json_report(&o, &runs, &skipped).write(&out, &report)
}

/// One churn's servers and their figures.
type Run<'a> = (f64, Vec<(&'a Peer, Result<Figures>)>);

/// The runs' figures for `report.json`, a variant per churn.
fn json_report(o: &Options, runs: &[Run<'_>], skipped: &[String]) -> Report {
    let mut r = Report::new("ingest");
    r.parameter("targets", o.targets);
    r.parameter("series_per_target", o.series);
    r.parameter("interval_ms", o.interval_ms);
    r.parameter("warmup_ms", o.warmup_ms);
    r.parameter("window_ms", o.duration_ms);
    r.parameter("churn_pct_per_min", o.churn.clone());
    r.parameter("wasmetheus_flags", o.wasmetheus_flags.clone());
    for (churn, rows) in runs {
        for (peer, result) in rows {
            let mut s = ServerReport::new(peer.kind.name(), &peer.version);
            s.variant = Some(format!("churn {churn} %/min"));
            match result {
                Ok(f) => {
                    s.measure("cpu_per_million_samples", "s", f.cpu_per_million());
                    s.measure("rss_per_series", "bytes/series", f.rss_per_series());
                    s.measure(
                        "rss_above_idle_per_series",
                        "bytes/series",
                        f.rss_above_idle_per_series(),
                    );
                    s.measure("idle_rss", "bytes", f.idle.rss as f64);
                    let per_sample = f.disk_growth() / f.served.max(1) as f64;
                    s.measure("disk_growth_per_sample", "bytes/sample", per_sample);
                    s.measure("stop", "s", f.stop_s);
                    s.measure("cpu", "s", f.cpu_s);
                    s.measure("rss", "bytes", f.end.rss as f64);
                    s.measure("peak_rss", "bytes", f.end.hwm as f64);
                    s.measure("rss_anon", "bytes", f.end.rss_anon as f64);
                    s.measure("rss_file", "bytes", f.end.rss_file as f64);
                    s.measure("disk_growth", "bytes", f.disk_growth());
                    s.measure("samples_served", "samples", f.served as f64);
                    s.measure("series", "series", f.series as f64);
                    s.detail("window_s", f.window_s);
                    s.detail("scrapes", f.scrapes);
                    s.detail("targets_cpu_s", f.targets_cpu_s);
                    s.detail(f.reported_name, f.reported);
                    s.detail(f.series_reported_name, f.series_reported);
                }
                Err(e) => s.error = Some(e.clone()),
            }
            r.servers.push(s);
        }
    }
    r.notes.extend(skipped.iter().cloned());
    r
}

fn scrape_config(addrs: &[SocketAddr], interval_ms: i64) -> String {
    let mut s = String::new();
    let interval = format!("{}ms", interval_ms);
    // scrape_timeout equal to the interval: Prometheus rejects a timeout
    // longer than the interval, and the default (10 s) would be.
    let _ = writeln!(
        s,
        "# Written by `cargo xtask bench ingest`.\nglobal:\n  scrape_interval: {interval}\n  \
         scrape_timeout: {interval}"
    );
    if addrs.is_empty() {
        s.push_str("scrape_configs: []\n");
        return s;
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

/// How long the server runs without targets before its idle RSS is read.
const IDLE_FOR: Duration = Duration::from_secs(10);

/// One server's figures over the measurement window.
struct Figures {
    window_s: f64,
    cpu_s: f64,
    targets_cpu_s: f64,
    /// Samples the synthetic targets served during the window: the same
    /// definition for every server.
    served: u64,
    scrapes: u64,
    /// The server's own count of samples appended during the window.
    reported: Option<f64>,
    reported_name: &'static str,
    end: ProcStats,
    /// The same server started without targets, after [`IDLE_FOR`].
    idle: ProcStats,
    /// Distinct series the targets exposed since the server started.
    series: u64,
    series_reported: Option<f64>,
    series_reported_name: &'static str,
    disk_before: (u64, u64),
    disk_after: (u64, u64),
    /// SIGTERM to exit after the window, still scraping the targets.
    stop_s: f64,
}

impl Figures {
    fn cpu_per_million(&self) -> f64 {
        self.cpu_s / self.served.max(1) as f64 * 1e6
    }
    fn rss_per_series(&self) -> f64 {
        self.end.rss as f64 / self.series.max(1) as f64
    }
    /// RSS above the idle server's, per series: what a series costs
    /// without the fixed part.
    fn rss_above_idle_per_series(&self) -> f64 {
        (self.end.rss as f64 - self.idle.rss as f64) / self.series.max(1) as f64
    }
    /// Allocated bytes (as du counts them) added during the window.
    fn disk_growth(&self) -> f64 {
        self.disk_after.0 as f64 - self.disk_before.0 as f64
    }
}

/// The server's own counters of appended samples and of series in memory.
fn server_metric_names(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Wasmetheus | Kind::Prometheus => (
            "prometheus_tsdb_head_samples_appended_total",
            "prometheus_tsdb_head_series",
        ),
        Kind::VictoriaMetrics => (
            "vm_rows_added_to_storage_total",
            "vm_cache_entries{type=\"storage/hour_metric_ids\"}",
        ),
    }
}

struct Snapshot {
    at: Instant,
    proc: ProcStats,
    /// This process (the synthetic targets), to show what they took from
    /// the two cores the server shares with them.
    own_cpu_s: f64,
    disk: (u64, u64),
    served: u64,
    scrapes: u64,
    samples: Option<f64>,
    series: Option<f64>,
}

fn snapshot(peer: &Peer, pid: u32, addr: SocketAddr, data: &Path, t: &Targets) -> Result<Snapshot> {
    let (samples_name, series_name) = server_metric_names(peer.kind);
    let metrics = get(addr, "/metrics").unwrap_or_default();
    Ok(Snapshot {
        at: Instant::now(),
        proc: proc_stats(pid)?,
        own_cpu_s: proc_stats(std::process::id())?.cpu_s,
        disk: du(data),
        served: t.shared.served_samples.load(Ordering::Relaxed),
        scrapes: t.shared.served_scrapes.load(Ordering::Relaxed),
        samples: metric_sum(&metrics, samples_name),
        series: metric_sum(&metrics, series_name),
    })
}

fn measure(
    o: &Options,
    peer: &Peer,
    churn: f64,
    targets: &Targets,
    [config, idle_config]: [&Path; 2],
    data: &Path,
    log: &Path,
) -> Result<Figures> {
    std::fs::create_dir_all(data).map_err(|e| format!("{}: {e}", data.display()))?;
    eprintln!(
        "\n== {} ({}), churn {churn} %/min ==",
        peer.kind.name(),
        peer.version
    );
    let extra: Vec<&str> = match peer.kind {
        Kind::Wasmetheus => o.wasmetheus_flags.iter().map(String::as_str).collect(),
        _ => Vec::new(),
    };
    let idle = {
        let data = data.with_extension("idle");
        std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
        let log = log.with_extension("idle.log");
        let mut running = start_with(peer, idle_config, true, &data, &log, &extra, READY_WITHIN)?;
        std::thread::sleep(IDLE_FOR);
        running.check_alive()?;
        let idle = proc_stats(running.pid)?;
        running.stop()?;
        let _ = std::fs::remove_dir_all(&data);
        eprintln!(
            "{} without targets: RSS {}",
            peer.kind.name(),
            bytes(idle.rss as f64)
        );
        idle
    };
    // Every server sees the same churn history: the clock starts with it.
    targets.reset(churn);
    let mut running = start_with(peer, config, true, data, log, &extra, READY_WITHIN)?;
    let pid = running.pid;
    sleep_with_progress(peer, pid, targets, o.warmup_ms, "warm-up")?;
    running.check_alive()?;
    let a = snapshot(peer, pid, running.addr, data, targets)?;
    sleep_with_progress(peer, pid, targets, o.duration_ms, "measuring")?;
    running.check_alive()?;
    let b = snapshot(peer, pid, running.addr, data, targets)?;
    let exposed_since_start = targets.series_exposed();
    // The graceful stop under the same load: the targets are still served.
    let stop_s = running.stop()?.as_secs_f64();
    let (reported_name, series_reported_name) = server_metric_names(peer.kind);
    let f = Figures {
        window_s: (b.at - a.at).as_secs_f64(),
        cpu_s: b.proc.cpu_s - a.proc.cpu_s,
        targets_cpu_s: b.own_cpu_s - a.own_cpu_s,
        served: b.served - a.served,
        scrapes: b.scrapes - a.scrapes,
        reported: b.samples.zip(a.samples).map(|(b, a)| b - a),
        reported_name,
        end: b.proc,
        idle,
        series: exposed_since_start,
        series_reported: b.series,
        series_reported_name,
        disk_before: a.disk,
        disk_after: b.disk,
        stop_s,
    };
    eprintln!(
        "{}: {:.2} CPU s over {:.0} s, {} samples served ({} scrapes), RSS {}, {:.2} CPU s/1M, {:.0} B RSS/series, stopped in {:.2} s",
        peer.kind.name(),
        f.cpu_s,
        f.window_s,
        f.served,
        f.scrapes,
        bytes(f.end.rss as f64),
        f.cpu_per_million(),
        f.rss_per_series(),
        f.stop_s
    );
    Ok(f)
}

/// Sleeps `ms`, printing CPU use and RSS every 30 s so a long run shows
/// it is alive and a struggling server is visible early.
fn sleep_with_progress(peer: &Peer, pid: u32, t: &Targets, ms: i64, what: &str) -> Result {
    let started = Instant::now();
    let total = Duration::from_millis(ms as u64);
    let mut last = (Instant::now(), proc_stats(pid)?.cpu_s, t.served_scrapes());
    while started.elapsed() < total {
        let left = total.saturating_sub(started.elapsed());
        std::thread::sleep(left.min(Duration::from_secs(30)));
        let now = (Instant::now(), proc_stats(pid)?, t.served_scrapes());
        let secs = (now.0 - last.0).as_secs_f64().max(1e-9);
        eprintln!(
            "  {} {what} {:>4.0}/{:.0} s: {:.2} cores, RSS {}, {:.1} scrapes/s",
            peer.kind.name(),
            started.elapsed().as_secs_f64(),
            total.as_secs_f64(),
            (now.1.cpu_s - last.1) / secs,
            bytes(now.1.rss as f64),
            (now.2 - last.2) as f64 / secs
        );
        last = (now.0, now.1.cpu_s, now.2);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Report

fn render(
    o: &Options,
    churn: f64,
    rows: &[(&Peer, Result<Figures>)],
    skipped: &[String],
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n== bench ingest: {} targets × {} series every {} ms, churn {churn} %/min; \
         {:.0} s window after {:.0} s warm-up ==",
        o.targets,
        o.series,
        o.interval_ms,
        o.duration_ms as f64 / 1000.0,
        o.warmup_ms as f64 / 1000.0
    );
    if !o.wasmetheus_flags.is_empty() {
        let _ = writeln!(s, "wasmetheus serve {}", o.wasmetheus_flags.join(" "));
    }
    let _ = writeln!(
        s,
        "{:<17} {:>7} {:>10} {:>9} {:>10} {:>9} {:>10} {:>10} {:>8} {:>9} {:>7}",
        "server",
        "CPU s",
        "samples",
        "CPU s/1M",
        "RSS",
        "series",
        "RSS/series",
        "disk Δ",
        "B/sample",
        "scrapes",
        "stop"
    );
    for (peer, r) in rows {
        match r {
            Ok(f) => {
                let expected = o.targets as f64 * f.window_s * 1000.0 / o.interval_ms as f64;
                let _ = writeln!(
                    s,
                    "{:<17} {:>7.2} {:>10} {:>9.3} {:>10} {:>9} {:>10} {:>10} {:>8.3} {:>8.0}% {:>6.2}s",
                    peer.kind.name(),
                    f.cpu_s,
                    f.served,
                    f.cpu_per_million(),
                    bytes(f.end.rss as f64),
                    f.series,
                    format!("{:.0} B", f.rss_per_series()),
                    bytes(f.disk_growth()),
                    f.disk_growth() / f.served.max(1) as f64,
                    100.0 * f.scrapes as f64 / expected,
                    f.stop_s
                );
            }
            Err(e) => {
                let _ = writeln!(s, "{:<17} NOT MEASURED: {e}", peer.kind.name());
            }
        }
    }
    for skip in skipped {
        let _ = writeln!(s, "{skip}");
    }
    let _ = writeln!(
        s,
        "samples: served by the synthetic targets during the window (same for every server); \
         scrapes: served ÷ expected at the interval.\n\
         series: distinct series the targets exposed since the server started; RSS: VmRSS at \
         the end (anon: RssAnon, the heap; file: RssFile + RssShmem, mapped files); disk Δ: growth of the data directory's allocated blocks over the window; \
         stop: SIGTERM to exit after the window, the targets still served."
    );
    for (peer, r) in rows {
        if let Ok(f) = r {
            let _ = writeln!(
                s,
                "  {} [{}]: own count {} samples ({}), {} series ({}); peak RSS {}; \
                 RSS anon {} ({:.0} B/series), file {}; idle RSS {} ({:.0} B/series above it); \
                 data dir {} → {} (apparent {} → {}); the targets took {:.2} CPU s",
                peer.kind.name(),
                peer.version,
                f.reported.map_or("?".into(), |n| format!("{n:.0}")),
                f.reported_name,
                f.series_reported.map_or("?".into(), |n| format!("{n:.0}")),
                f.series_reported_name,
                bytes(f.end.hwm as f64),
                bytes(f.end.rss_anon as f64),
                f.end.rss_anon as f64 / f.series.max(1) as f64,
                bytes(f.end.rss_file as f64),
                bytes(f.idle.rss as f64),
                f.rss_above_idle_per_series(),
                bytes(f.disk_before.0 as f64),
                bytes(f.disk_after.0 as f64),
                bytes(f.disk_before.1 as f64),
                bytes(f.disk_after.1 as f64),
                f.targets_cpu_s,
            );
        }
    }
    let fig = |k: Kind| {
        rows.iter()
            .find(|(p, _)| p.kind == k)
            .and_then(|(_, r)| r.as_ref().ok())
    };
    let ours = fig(Kind::Wasmetheus);
    for peer in [Kind::Prometheus, Kind::VictoriaMetrics] {
        let theirs = fig(peer);
        if ours.is_none() || theirs.is_none() {
            continue;
        }
        let _ = writeln!(
            s,
            "wasmetheus / {:<17} CPU per sample {:>7}   RSS per series {:>7} (above idle {:>7})   disk growth per sample {:>7}   stop {:>7}",
            peer.name(),
            ratio(
                ours.map(Figures::cpu_per_million),
                theirs.map(Figures::cpu_per_million)
            ),
            ratio(
                ours.map(Figures::rss_per_series),
                theirs.map(Figures::rss_per_series)
            ),
            ratio(
                ours.map(Figures::rss_above_idle_per_series),
                theirs.map(Figures::rss_above_idle_per_series)
            ),
            ratio(
                ours.map(|f| f.disk_growth() / f.served.max(1) as f64),
                theirs.map(|f| f.disk_growth() / f.served.max(1) as f64)
            ),
            ratio(ours.map(|f| f.stop_s), theirs.map(|f| f.stop_s)),
        );
    }
    if let Some(ours) = ours {
        let cpu_goal = fig(Kind::Prometheus).map_or("no Prometheus figure".into(), |p| {
            let r = ours.cpu_per_million() / p.cpu_per_million();
            format!("{r:.2}× — {}", if r <= 0.5 { "met" } else { "NOT met" })
        });
        let rss = ours.rss_per_series();
        let _ = writeln!(
            s,
            "goals: CPU per sample ≤ 0.5× Prometheus: {cpu_goal}; RSS per series ≤ 1 KiB: {:.0} B — {} \
             ({:.0} B above the idle server's); graceful stop ≤ 1 s: {:.2} s — {}",
            rss,
            if rss <= 1024.0 { "met" } else { "NOT met" },
            ours.rss_above_idle_per_series(),
            ours.stop_s,
            if ours.stop_s <= 1.0 { "met" } else { "NOT met" }
        );
    }
    s
}

// ---------------------------------------------------------------------------
// Synthetic targets

/// Status codes of the synthetic series (10 × 10 handlers = 100 series
/// per metric family).
const CODES: [&str; 10] = [
    "200", "201", "204", "301", "304", "400", "401", "404", "500", "503",
];
const FAMILY_SIZE: usize = 100;
/// Synthetic series per target beyond what the targets serve: what every
/// scraper adds per target (`up`, `scrape_duration_seconds`,
/// `scrape_samples_scraped`, `scrape_samples_post_metric_relabeling`,
/// `scrape_series_added`).
const SCRAPER_SERIES: u64 = 5;

/// State shared by every target and the benchmark.
struct Shared {
    series: usize,
    targets: usize,
    base: Instant,
    /// When the churn clock (re)started, in ms after `base`.
    epoch_ms: AtomicU64,
    /// Series replaced per second per target, as f64 bits.
    churn_per_s: AtomicU64,
    served_samples: AtomicU64,
    served_scrapes: AtomicU64,
}

struct Targets {
    shared: Arc<Shared>,
    addrs: Vec<SocketAddr>,
}

impl Targets {
    /// One listener per target on 127.0.0.1, each on its own thread, with
    /// a thread per connection (a scraper keeps its connection alive; a
    /// previous server's connections may linger).
    fn start(targets: usize, series: usize) -> Result<Targets> {
        let shared = Arc::new(Shared {
            series,
            targets,
            base: Instant::now(),
            epoch_ms: AtomicU64::new(0),
            churn_per_s: AtomicU64::new(0f64.to_bits()),
            served_samples: AtomicU64::new(0),
            served_scrapes: AtomicU64::new(0),
        });
        let addrs = listen_targets(targets, |t| {
            let shared = Arc::clone(&shared);
            let scrapes = AtomicU64::new(0);
            move |stream| serve_connection(stream, t, &shared, &scrapes)
        })?;
        Ok(Targets { shared, addrs })
    }

    /// Restarts the churn clock at `pct` % of each target's series per
    /// minute.
    fn reset(&self, pct: f64) {
        let s = &self.shared;
        let per_s = pct / 100.0 * s.series as f64 / 60.0;
        s.churn_per_s.store(per_s.to_bits(), Ordering::Relaxed);
        s.epoch_ms
            .store(s.base.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn served_scrapes(&self) -> u64 {
        self.shared.served_scrapes.load(Ordering::Relaxed)
    }

    /// Distinct series exposed since `reset`, over all targets, with the
    /// scrapers' own per-target series.
    fn series_exposed(&self) -> u64 {
        let s = &self.shared;
        (s.series as u64 + replacements(s) + SCRAPER_SERIES) * s.targets as u64
    }
}

/// Series replaced so far (per target) since the churn clock started.
fn replacements(s: &Shared) -> u64 {
    let since = s
        .base
        .elapsed()
        .as_millis()
        .saturating_sub(u128::from(s.epoch_ms.load(Ordering::Relaxed)));
    let per_s = f64::from_bits(s.churn_per_s.load(Ordering::Relaxed));
    (since as f64 / 1000.0 * per_s) as u64
}

/// Answers GETs on a kept-alive connection until the client closes it.
fn serve_connection(stream: TcpStream, target: usize, s: &Shared, scrapes: &AtomicU64) {
    serve_scrapes(
        stream,
        1 << 20,
        |body| {
            let n = scrapes.fetch_add(1, Ordering::Relaxed);
            render_target(body, target, n, s.series, replacements(s));
        },
        || {
            s.served_samples
                .fetch_add(s.series as u64, Ordering::Relaxed);
            s.served_scrapes.fetch_add(1, Ordering::Relaxed);
        },
    );
}

/// Scrape `n` of a target: families of 100 series, four in five counters
/// (rising by 1–20 per scrape, never falling) and one in five gauges
/// (noise around a per-series level). `replaced` series have churned:
/// replacement k gives series k mod `series` the next `pod` value.
fn render_target(w: &mut Vec<u8>, target: usize, n: u64, series: usize, replaced: u64) {
    let mut name = String::new();
    for i in 0..series {
        let family = i / FAMILY_SIZE;
        let j = i % FAMILY_SIZE;
        let counter = family % 5 != 4;
        if j == 0 {
            name = if counter {
                format!("bench_requests_{family}_total")
            } else {
                format!("bench_inflight_{family}")
            };
            let (help, kind) = if counter {
                ("Synthetic requests.", "counter")
            } else {
                ("Synthetic in-flight work.", "gauge")
            };
            let _ = write!(w, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
        }
        let generation = if replaced > i as u64 {
            (replaced - 1 - i as u64) / series as u64 + 1
        } else {
            0
        };
        let id = mix(((target as u64) << 32) ^ i as u64);
        let noise = mix(id ^ n);
        let _ = write!(
            w,
            "{name}{{handler=\"/api/v1/h{}\",code=\"{}\",pod=\"web-{generation}\"}} ",
            j % 10,
            CODES[j / 10]
        );
        if counter {
            let rate = 1 + id % 20;
            let _ = writeln!(w, "{}", id % 1_000_000 + n * rate + noise % rate);
        } else {
            let _ = writeln!(w, "{}.{}", id % 1000, noise % 10);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn churn_renames_series_in_turn() {
        let text = |replaced| {
            let mut w = Vec::new();
            render_target(&mut w, 0, 7, 200, replaced);
            String::from_utf8(w).unwrap()
        };
        let lines = |t: &str| t.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(lines(&text(0)), 200);
        assert!(!text(0).contains("web-1"));
        // 250 replacements over 200 series: all renamed once, 50 twice.
        let t = text(250);
        assert_eq!(t.matches("pod=\"web-1\"").count(), 150);
        assert_eq!(t.matches("pod=\"web-2\"").count(), 50);
        assert_eq!(t.matches("# TYPE").count(), 2);
    }

    #[test]
    fn counters_rise() {
        let value = |n| {
            let mut w = Vec::new();
            render_target(&mut w, 3, n, 100, 0);
            let text = String::from_utf8(w).unwrap();
            let line = text.lines().find(|l| !l.starts_with('#')).unwrap();
            line.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap()
        };
        assert!((0..50).all(|n| value(n + 1) > value(n)));
    }
}
