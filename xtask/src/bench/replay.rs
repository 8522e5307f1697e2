//! `cargo xtask bench replay`: start-up on a WAL of wasmetheus next to
//! Prometheus. Each server in turn gets the same history through its
//! remote write receiver (remote write 1.0, encoded here: the few fields
//! of a `WriteRequest`, in a snappy block of literals), is stopped with
//! SIGTERM and started again on the same data; the bench times the start
//! until `/-/ready` answers 200 and until a count query finds every
//! series, and reads the RSS after replay and the WAL's size on disk.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::dataset::rfc3339;
use super::peers::{Kind, Peer, Running, find_peers, start_with};
use super::report::{Report, ServerReport};
use super::support::{
    TempDir, bytes, common_flag, count, du, flag_value, get, metric_sum, mix, parse_duration,
    proc_stats, ratio, request, urlencode,
};
use crate::{Result, root};

pub const USAGE: &str = "\
usage: cargo xtask bench replay [--series 1000000] [--duration 1h] [--interval 60s]
                                [--batch 10000] [--servers wasmetheus,prometheus]
                                [--no-build] [--keep]

  Pushes the same history into wasmetheus and Prometheus in turn, each
  started on a fresh data directory with its remote write receiver on
  (--web.enable-remote-write-receiver): --series series (10 metric names ×
  100 ids per instance, 1,000 series an instance), one sample each every
  --interval over the last --duration, in time order, --batch series per
  remote write 1.0 request. Then stops the server (SIGTERM, waits for it to
  exit), starts it again on the same data and times the start until
  /-/ready answers 200 and until `count({job=\"replay\"})` finds every
  series; reads its RSS then (and its peak), the WAL's size on disk (wal/
  in both data directories) and checks every sample came back. Both
  servers keep the hour in their head (Prometheus and wasmetheus compact
  once the head spans 3 h); the compactions counter shows it. Results:
  target/bench-replay/report.txt and report.json; logs beside them.
  The default (1M series × 1 h at 60 s, 60M samples) needs several GB of
  RAM and minutes of CPU per server; try --series 10000 first.
  --no-build uses target/release/wasmetheus as it is; --keep keeps the data.";

struct Options {
    series: usize,
    duration_ms: i64,
    interval_ms: i64,
    batch: usize,
    servers: Vec<Kind>,
    build: bool,
    keep: bool,
}

fn parse_options(args: &[String]) -> Result<Options> {
    let mut o = Options {
        series: 1_000_000,
        duration_ms: 3_600_000,
        interval_ms: 60_000,
        batch: 10_000,
        servers: vec![Kind::Wasmetheus, Kind::Prometheus],
        build: true,
        keep: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| flag_value(&mut args, name, USAGE);
        let number = |s: String| count(arg, &s);
        match arg.as_str() {
            "--series" => o.series = number(value(arg)?)?,
            "--duration" => o.duration_ms = parse_duration(&value(arg)?)?,
            "--interval" => o.interval_ms = parse_duration(&value(arg)?)?,
            "--batch" => o.batch = number(value(arg)?)?,
            "--servers" => o.servers = Kind::parse_list(&value(arg)?)?,
            other => common_flag(other, &mut o.build, &mut o.keep, USAGE)?,
        }
    }
    if o.series == 0 || o.batch == 0 || o.interval_ms <= 0 || o.duration_ms < o.interval_ms {
        return Err(format!(
            "--series and --batch must be positive, --duration at least one --interval\n{USAGE}"
        ));
    }
    // Past 1.5 block ranges (3 h) both servers move the oldest block out
    // of the head: the bench would then time something else.
    if o.duration_ms > 3 * 3_600_000 {
        return Err("--duration at most 3h: a longer head is compacted into blocks".into());
    }
    if o.servers.is_empty() || o.servers.contains(&Kind::VictoriaMetrics) {
        return Err(format!(
            "--servers: wasmetheus and/or prometheus (VictoriaMetrics has no WAL)\n{USAGE}"
        ));
    }
    Ok(o)
}

/// The history every server gets: `steps` timestamps `interval_ms` apart,
/// the last one `last_ms`.
#[derive(Clone, Copy)]
struct History {
    series: usize,
    steps: usize,
    interval_ms: i64,
    last_ms: i64,
}

impl History {
    fn new(o: &Options, now_ms: i64) -> History {
        let steps = (o.duration_ms / o.interval_ms) as usize;
        History {
            series: o.series,
            steps,
            interval_ms: o.interval_ms,
            last_ms: now_ms - now_ms % o.interval_ms,
        }
    }

    fn first_ms(&self) -> i64 {
        self.last_ms - (self.steps as i64 - 1) * self.interval_ms
    }

    fn samples(&self) -> u64 {
        self.series as u64 * self.steps as u64
    }
}

/// Metric names of the history; each holds a tenth of the series, so a
/// per-name sample count stays under Prometheus' 50M samples a query.
const NAMES: usize = 10;
const JOB: &str = "replay";

pub fn run(args: &[String]) -> Result {
    let o = parse_options(args)?;
    let (peers, skipped) = find_peers(&o.servers, o.build)?;
    let out = root().join("target/bench-replay");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let work = TempDir::new(out.join(format!("work-{}", std::process::id())), o.keep)?;
    let config = work.path.join("prometheus.yml");
    std::fs::write(
        &config,
        "# Written by `cargo xtask bench replay`.\nglobal:\n  scrape_interval: 15s\nscrape_configs: []\n",
    )
    .map_err(|e| format!("{}: {e}", config.display()))?;

    let now_ms = jiff::Timestamp::now().as_millisecond();
    let history = History::new(&o, now_ms);
    eprintln!(
        "history: {} series × {} samples ({} to {}, every {} s): {} samples",
        history.series,
        history.steps,
        rfc3339(history.first_ms()),
        rfc3339(history.last_ms),
        o.interval_ms / 1000,
        history.samples()
    );
    let mut columns = Vec::new();
    for peer in &peers {
        let dir = work.path.join(peer.kind.name());
        eprintln!("\n== {} ({}) ==", peer.kind.name(), peer.version);
        let column = measure(&o, peer, &history, &config, &dir, &out);
        if let Err(e) = &column {
            eprintln!("{}: NOT MEASURED: {e}", peer.kind.name());
        }
        if !o.keep {
            let _ = std::fs::remove_dir_all(&dir);
        }
        columns.push((peer, column));
    }
    let text = render(&o, &history, &columns, &skipped);
    println!("{text}");
    report(&o, &history, &columns, &skipped).write(&out, &text)
}

// ---------------------------------------------------------------------------
// Measurement

/// One server's figures.
struct Column {
    /// Pushing the history.
    push: Duration,
    push_cpu_s: f64,
    rss_after_push: u64,
    /// Compactions the server reports after the push (0 expected).
    compactions: Option<f64>,
    head_series: Option<f64>,
    /// SIGTERM to exit.
    stop: Duration,
    /// `wal/` after the stop: (allocated, apparent) bytes.
    wal: (u64, u64),
    /// The whole data directory after the stop, and by top-level entry.
    data: (u64, u64),
    parts: Vec<(String, u64)>,
    /// From the restart to `/-/ready` answering 200.
    ready: Duration,
    /// From the restart to the count query finding every series.
    all_series: Duration,
    /// How long that count query took, and how many were asked.
    count_query: Duration,
    count_attempts: usize,
    replay_cpu_s: f64,
    rss_after_replay: u64,
    peak_rss: u64,
    /// Samples the server counts after the restart.
    samples_after: std::result::Result<u64, String>,
    notes: Vec<String>,
}

fn measure(
    o: &Options,
    peer: &Peer,
    history: &History,
    config: &Path,
    dir: &Path,
    out: &Path,
) -> Result<Column> {
    let name = peer.kind.name();
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let flags = ["--web.enable-remote-write-receiver"];
    let mut notes = Vec::new();

    let log = out.join(format!("{name}.log"));
    let mut server = start_with(peer, config, false, dir, &log, &flags, WAIT)?;
    let cpu_before = proc_stats(server.pid)?.cpu_s;
    let pushing = Instant::now();
    push(server.addr, history, o.batch, &mut server)?;
    let push = pushing.elapsed();
    let after_push = proc_stats(server.pid)?;
    eprintln!(
        "{name}: pushed {} samples in {:.1} s ({:.0} samples/s), RSS {}",
        history.samples(),
        push.as_secs_f64(),
        history.samples() as f64 / push.as_secs_f64(),
        bytes(after_push.rss as f64)
    );
    let seen = count_series(server.addr, history)?;
    if seen != history.series as u64 {
        return Err(format!(
            "after the push the server counts {seen} series of {}",
            history.series
        ));
    }
    let metrics = get(server.addr, "/metrics").unwrap_or_default();
    let compactions = metric_sum(&metrics, "prometheus_tsdb_compactions_total");
    let head_series = metric_sum(&metrics, "prometheus_tsdb_head_series");
    if compactions.is_some_and(|c| c > 0.0) {
        notes.push(format!(
            "compacted {compactions:?} time(s) during the push: part of the history is in blocks"
        ));
    }
    let stop = server.stop()?;
    eprintln!("{name}: stopped in {:.2} s", stop.as_secs_f64());

    let wal = du(&dir.join("wal"));
    let data = du(dir);
    let parts = top_level_sizes(dir);

    let log = out.join(format!("{name}-restart.log"));
    let restarted = Instant::now();
    let server = start_with(peer, config, false, dir, &log, &flags, WAIT)?;
    let ready = restarted.elapsed();
    let mut count_attempts = 0;
    let (all_series, count_query) = loop {
        count_attempts += 1;
        let asked = Instant::now();
        match count_series(server.addr, history) {
            Ok(n) if n == history.series as u64 => break (restarted.elapsed(), asked.elapsed()),
            _ if restarted.elapsed() > WAIT => {
                return Err(format!(
                    "the count query did not find the {} series within {} s",
                    history.series,
                    WAIT.as_secs()
                ));
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let replayed = proc_stats(server.pid)?;
    eprintln!(
        "{name}: ready after {:.2} s, every series after {:.2} s (count query {count_attempts}, \
         answered in {:.2} s), RSS {}",
        ready.as_secs_f64(),
        all_series.as_secs_f64(),
        count_query.as_secs_f64(),
        bytes(replayed.rss as f64)
    );
    // Not timed: every sample is back.
    let samples_after = count_samples(server.addr, history);
    match &samples_after {
        Ok(n) if *n != history.samples() => notes.push(format!(
            "{n} samples after the restart, {} pushed",
            history.samples()
        )),
        Ok(_) => {}
        Err(e) => notes.push(format!("sample count failed: {e}")),
    }
    let metrics = get(server.addr, "/metrics").unwrap_or_default();
    if let Some(blocks) = metric_sum(&metrics, "prometheus_tsdb_blocks_loaded") {
        notes.push(format!("{blocks} block(s) loaded after the restart"));
    }
    server.stop()?;
    Ok(Column {
        push,
        push_cpu_s: after_push.cpu_s - cpu_before,
        rss_after_push: after_push.rss,
        compactions,
        head_series,
        stop,
        wal,
        data,
        parts,
        ready,
        all_series,
        count_query,
        count_attempts,
        replay_cpu_s: replayed.cpu_s,
        rss_after_replay: replayed.rss,
        peak_rss: replayed.hwm,
        samples_after,
        notes,
    })
}

/// How long a start may take to be ready, and to show every series.
const WAIT: Duration = Duration::from_secs(1800);

/// Apparent bytes under each top-level entry of `dir`.
fn top_level_sizes(dir: &Path) -> Vec<(String, u64)> {
    let mut parts: Vec<(String, u64)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let path = e.path();
                    let size = if path.is_dir() {
                        du(&path).1
                    } else {
                        e.metadata().map_or(0, |m| m.len())
                    };
                    (e.file_name().to_string_lossy().into_owned(), size)
                })
                .collect()
        })
        .unwrap_or_default();
    parts.sort();
    parts
}

/// `count({job="replay"})` at the last timestamp of the history.
fn count_series(addr: SocketAddr, history: &History) -> Result<u64> {
    let expr = format!("count({{job=\"{JOB}\"}})");
    instant_value(addr, &expr, history.last_ms)
}

/// Every sample of the history, a metric name at a time.
fn count_samples(addr: SocketAddr, history: &History) -> Result<u64> {
    let range_s = history.steps as i64 * history.interval_ms / 1000;
    let mut total = 0;
    for n in 0..NAMES.min(history.series.div_ceil(100)) {
        let expr = format!("sum(count_over_time({}[{range_s}s]))", metric_name(n));
        total += instant_value(addr, &expr, history.last_ms)?;
    }
    Ok(total)
}

/// The single value of an instant query's answer.
fn instant_value(addr: SocketAddr, expr: &str, at_ms: i64) -> Result<u64> {
    let path = format!(
        "/api/v1/query?query={}&time={}",
        urlencode(expr),
        at_ms as f64 / 1000.0
    );
    let body = get(addr, &path)?;
    body.rsplit_once("\"value\":[")
        .and_then(|(_, v)| v.split('"').nth(1))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{expr}: unexpected answer {body:.200}"))
}

// ---------------------------------------------------------------------------
// The history, through remote write 1.0

fn metric_name(n: usize) -> String {
    format!("replay_metric_{n}")
}

/// Series `i`'s labels, sorted by name: `instance` a thousand series
/// each, then the name and an `id` of 100.
fn labels(i: usize) -> [(&'static str, String); 4] {
    [
        ("__name__", metric_name((i / 100) % NAMES)),
        ("id", (i % 100).to_string()),
        ("instance", format!("host-{}:9100", i / 1000)),
        ("job", JOB.to_owned()),
    ]
}

/// Series `i`'s value at step `k`: eight names in ten are counters rising
/// by 1–100 per step, the rest gauges around a per-series level.
fn value(i: usize, k: usize) -> f64 {
    let id = mix(i as u64);
    let noise = mix(id ^ k as u64);
    if (i / 100) % NAMES < 8 {
        let rate = 1 + id % 100;
        (id % 1_000_000 + k as u64 * rate + noise % rate) as f64
    } else {
        (id % 1000) as f64 + (noise % 1000) as f64 / 1000.0
    }
}

/// Sends the history in time order: two senders, each with every other
/// batch of series, step by step (a barrier between steps keeps every
/// series' samples in order across both).
fn push(addr: SocketAddr, history: &History, batch: usize, server: &mut Running) -> Result {
    const SENDERS: usize = 2;
    let barrier = Barrier::new(SENDERS);
    let failed = AtomicBool::new(false);
    let sent = AtomicU64::new(0);
    let started = Instant::now();
    let errors: Vec<Option<String>> = std::thread::scope(|scope| {
        let senders: Vec<_> = (0..SENDERS)
            .map(|w| {
                let (barrier, failed, sent) = (&barrier, &failed, &sent);
                scope.spawn(move || {
                    let mut error = None;
                    let mut body = Vec::new();
                    for k in 0..history.steps {
                        let t = history.first_ms() + k as i64 * history.interval_ms;
                        let mut from = w * batch;
                        while error.is_none() && !failed.load(Ordering::Relaxed) {
                            if from >= history.series {
                                break;
                            }
                            let to = (from + batch).min(history.series);
                            encode_write_request(&mut body, from..to, k, t);
                            if let Err(e) = post_write(addr, &body) {
                                error = Some(e);
                                failed.store(true, Ordering::Relaxed);
                            }
                            sent.fetch_add((to - from) as u64, Ordering::Relaxed);
                            from += SENDERS * batch;
                        }
                        barrier.wait();
                        if w == 0 && (k + 1) % 10 == 0 {
                            let n = sent.load(Ordering::Relaxed);
                            eprintln!(
                                "  step {}/{}: {n} samples, {:.0} samples/s",
                                k + 1,
                                history.steps,
                                n as f64 / started.elapsed().as_secs_f64()
                            );
                        }
                    }
                    error
                })
            })
            .collect();
        senders
            .into_iter()
            .map(|s| s.join().unwrap_or(Some("a sender panicked".into())))
            .collect()
    });
    server.check_alive()?;
    match errors.into_iter().flatten().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn post_write(addr: SocketAddr, body: &[u8]) -> Result {
    let headers = [
        ("Content-Type", "application/x-protobuf"),
        ("Content-Encoding", "snappy"),
        ("X-Prometheus-Remote-Write-Version", "0.1.0"),
    ];
    let write = |w: &mut dyn std::io::Write| w.write_all(body);
    match request(addr, "POST", "/api/v1/write", &headers, Some(&write))? {
        (code, _) if code / 100 == 2 => Ok(()),
        (code, text) => Err(format!("remote write: HTTP {code}: {:.300}", text.trim())),
    }
}

/// Replaces `out` with the snappy-framed `WriteRequest` of series
/// `range` at step `k` (timestamp `t`): `timeseries` (1) of `labels`
/// (1: `name` 1, `value` 2) and one `samples` (2: `value` 1 as a double,
/// `timestamp` 2 as a varint).
fn encode_write_request(out: &mut Vec<u8>, range: std::ops::Range<usize>, k: usize, t: i64) {
    let mut request = Vec::with_capacity(range.len() * 100);
    let mut series = Vec::with_capacity(128);
    let mut field = Vec::with_capacity(64);
    for i in range {
        series.clear();
        for (name, value) in labels(i) {
            field.clear();
            put_bytes(&mut field, 1, name.as_bytes());
            put_bytes(&mut field, 2, value.as_bytes());
            put_bytes(&mut series, 1, &field);
        }
        field.clear();
        field.push(1 << 3 | 1);
        field.extend_from_slice(&value(i, k).to_le_bytes());
        field.push(2 << 3);
        put_varint(&mut field, t as u64);
        put_bytes(&mut series, 2, &field);
        put_bytes(&mut request, 1, &series);
    }
    out.clear();
    snappy_literals(&request, out);
}

/// A length-delimited field (wire type 2).
fn put_bytes(out: &mut Vec<u8>, field: u8, bytes: &[u8]) {
    out.push(field << 3 | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// `data` as a snappy block of literals only: valid snappy that every
/// decoder takes, without a compressor (the bench's bodies travel over
/// loopback, where their size does not matter). The length, then
/// literals of at most 64 KiB, each tagged 61 << 2 and its length − 1 in
/// two little-endian bytes.
fn snappy_literals(data: &[u8], out: &mut Vec<u8>) {
    put_varint(out, data.len() as u64);
    for chunk in data.chunks(1 << 16) {
        out.push(61 << 2);
        out.extend_from_slice(&((chunk.len() - 1) as u16).to_le_bytes());
        out.extend_from_slice(chunk);
    }
}

// ---------------------------------------------------------------------------
// Report

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn render(
    o: &Options,
    history: &History,
    columns: &[(&Peer, Result<Column>)],
    skipped: &[String],
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n== bench replay: {} series × {} samples every {} s ({} samples, {} to {}), \
         pushed by remote write 1.0 in batches of {}; stop, restart on the same data ==",
        history.series,
        history.steps,
        o.interval_ms / 1000,
        history.samples(),
        rfc3339(history.first_ms()),
        rfc3339(history.last_ms),
        o.batch
    );
    let _ = writeln!(
        s,
        "{:<11} {:>8} {:>9} {:>10} {:>8} {:>10} {:>10} {:>9} {:>10} {:>10} {:>10}",
        "server",
        "ready s",
        "series s",
        "replay CPU",
        "stop s",
        "WAL",
        "data dir",
        "RSS",
        "peak RSS",
        "push s",
        "push RSS"
    );
    for (peer, c) in columns {
        let name = peer.kind.name();
        match c {
            Ok(c) => {
                let _ = writeln!(
                    s,
                    "{name:<11} {:>8.2} {:>9.2} {:>9.1}s {:>8.2} {:>10} {:>10} {:>9} {:>10} {:>10.1} {:>10}",
                    secs(c.ready),
                    secs(c.all_series),
                    c.replay_cpu_s,
                    secs(c.stop),
                    bytes(c.wal.1 as f64),
                    bytes(c.data.1 as f64),
                    bytes(c.rss_after_replay as f64),
                    bytes(c.peak_rss as f64),
                    secs(c.push),
                    bytes(c.rss_after_push as f64),
                );
            }
            Err(e) => {
                let _ = writeln!(s, "{name:<11} NOT MEASURED: {e}");
            }
        }
    }
    for skip in skipped {
        let _ = writeln!(s, "{skip}");
    }
    let _ = writeln!(
        s,
        "ready s: restart to /-/ready answering 200; series s: restart to count({{job=\"{JOB}\"}}) \
         finding every series; replay CPU: the restarted server's CPU time by then; stop s: \
         SIGTERM to exit after the push; WAL, data dir: file lengths after that stop; RSS: \
         VmRSS when every series was found, peak RSS: VmHWM by then; push: the history sent \
         and the RSS after it."
    );
    for (peer, c) in columns {
        let Ok(c) = c else { continue };
        let samples = match &c.samples_after {
            Ok(n) => format!("{n} samples after the restart"),
            Err(e) => format!("sample count failed: {e}"),
        };
        let parts: Vec<String> = c
            .parts
            .iter()
            .map(|(p, n)| format!("{p} {}", bytes(*n as f64)))
            .collect();
        let _ = writeln!(
            s,
            "  {} [{}]: {samples}; every series found by count query {} (it took {:.2} s); \
             head series {} and compactions {} after the push; push {:.0} samples/s, {:.1} CPU \
             s; WAL allocated {}; data dir: {}{}",
            peer.kind.name(),
            peer.version,
            c.count_attempts,
            secs(c.count_query),
            c.head_series.map_or("?".into(), |n| format!("{n:.0}")),
            c.compactions.map_or("?".into(), |n| format!("{n:.0}")),
            history.samples() as f64 / secs(c.push),
            c.push_cpu_s,
            bytes(c.wal.0 as f64),
            parts.join(", "),
            c.notes.iter().map(|n| format!("; {n}")).collect::<String>()
        );
    }
    let fig = |k: Kind| {
        columns
            .iter()
            .find(|(p, _)| p.kind == k)
            .and_then(|(_, c)| c.as_ref().ok())
    };
    if let (Some(ours), Some(theirs)) = (fig(Kind::Wasmetheus), fig(Kind::Prometheus)) {
        let _ = writeln!(
            s,
            "wasmetheus / prometheus: ready {}   every series {}   replay CPU {}   RSS after replay {}   WAL {}   stop {}",
            ratio(Some(secs(ours.ready)), Some(secs(theirs.ready))),
            ratio(Some(secs(ours.all_series)), Some(secs(theirs.all_series))),
            ratio(Some(ours.replay_cpu_s), Some(theirs.replay_cpu_s)),
            ratio(
                Some(ours.rss_after_replay as f64),
                Some(theirs.rss_after_replay as f64)
            ),
            ratio(Some(ours.wal.1 as f64), Some(theirs.wal.1 as f64)),
            ratio(Some(secs(ours.stop)), Some(secs(theirs.stop))),
        );
        let _ = writeln!(
            s,
            "goal: every series back faster than Prometheus — {}",
            if ours.all_series < theirs.all_series {
                "met"
            } else {
                "NOT met"
            }
        );
    }
    s
}

fn report(
    o: &Options,
    history: &History,
    columns: &[(&Peer, Result<Column>)],
    skipped: &[String],
) -> Report {
    let mut r = Report::new("replay");
    r.parameter("series", history.series);
    r.parameter("samples_per_series", history.steps);
    r.parameter("interval_s", o.interval_ms as f64 / 1000.0);
    r.parameter("duration_s", o.duration_ms as f64 / 1000.0);
    r.parameter("samples", history.samples());
    r.parameter("first_sample", rfc3339(history.first_ms()));
    r.parameter("last_sample", rfc3339(history.last_ms));
    r.parameter("batch", o.batch);
    for (peer, c) in columns {
        let mut s = ServerReport::new(peer.kind.name(), &peer.version);
        match c {
            Ok(c) => {
                s.measure("ready", "s", secs(c.ready));
                s.measure("all_series", "s", secs(c.all_series));
                s.measure("replay_cpu", "s", c.replay_cpu_s);
                s.measure("rss_after_replay", "bytes", c.rss_after_replay as f64);
                s.measure("peak_rss", "bytes", c.peak_rss as f64);
                s.measure("wal", "bytes", c.wal.1 as f64);
                s.measure("data_dir", "bytes", c.data.1 as f64);
                s.measure("stop", "s", secs(c.stop));
                s.measure("push", "s", secs(c.push));
                s.measure("push_cpu", "s", c.push_cpu_s);
                s.measure("rss_after_push", "bytes", c.rss_after_push as f64);
                s.detail("wal_allocated_bytes", c.wal.0);
                s.detail("data_dir_allocated_bytes", c.data.0);
                s.detail(
                    "data_dir_parts",
                    super::report::Json::obj(c.parts.iter().map(|(p, n)| (p.clone(), (*n).into()))),
                );
                s.detail("count_query_s", secs(c.count_query));
                s.detail("count_attempts", c.count_attempts);
                s.detail("head_series_after_push", c.head_series);
                s.detail("compactions_after_push", c.compactions);
                match &c.samples_after {
                    Ok(n) => s.detail("samples_after_restart", *n),
                    Err(e) => s.notes.push(format!("sample count failed: {e}")),
                }
                s.notes.extend(c.notes.iter().cloned());
            }
            Err(e) => s.error = Some(e.clone()),
        }
        r.servers.push(s);
    }
    r.notes.extend(skipped.iter().cloned());
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One series with one label and one sample, byte by byte.
    #[test]
    fn write_request_fields() {
        let mut series = Vec::new();
        let mut label = Vec::new();
        put_bytes(&mut label, 1, b"a");
        put_bytes(&mut label, 2, b"b");
        assert_eq!(label, [0x0a, 1, b'a', 0x12, 1, b'b']);
        put_bytes(&mut series, 1, &label);
        assert_eq!(series[..2], [0x0a, 6]);
        let mut v = Vec::new();
        put_varint(&mut v, 300);
        assert_eq!(v, [0xac, 0x02]);
        v.clear();
        put_varint(&mut v, -1i64 as u64);
        assert_eq!(v.len(), 10);
    }

    /// The request of two series decodes to their labels and samples: a
    /// small protobuf walk over what `encode_write_request` wrote, after
    /// the snappy literals are taken apart.
    #[test]
    fn write_requests_decode() {
        let mut framed = Vec::new();
        encode_write_request(&mut framed, 1000..1002, 3, 1_700_000_000_000);
        let raw = unsnappy_literals(&framed);
        let mut series = Vec::new();
        let mut rest = &raw[..];
        while !rest.is_empty() {
            let (tag, body, after) = take_field(rest);
            assert_eq!(tag, 0x0a);
            series.push(body.to_vec());
            rest = after;
        }
        assert_eq!(series.len(), 2);
        let (mut names, mut sample) = (Vec::new(), None);
        let mut rest = &series[1][..];
        while !rest.is_empty() {
            let (tag, body, after) = take_field(rest);
            match tag {
                0x0a => {
                    let (_, name, after_name) = take_field(body);
                    let (_, value, _) = take_field(after_name);
                    names.push(format!(
                        "{}={}",
                        String::from_utf8_lossy(name),
                        String::from_utf8_lossy(value)
                    ));
                }
                0x12 => sample = Some(body.to_vec()),
                other => panic!("unexpected field tag {other:#x}"),
            }
            rest = after;
        }
        assert_eq!(
            names,
            [
                "__name__=replay_metric_0",
                "id=1",
                "instance=host-1:9100",
                "job=replay"
            ]
        );
        let sample = sample.expect("a sample");
        assert_eq!(sample[0], 0x09);
        let v = f64::from_le_bytes(sample[1..9].try_into().unwrap());
        assert_eq!(v, value(1001, 3));
        assert_eq!(sample[9], 0x10);
        let (t, _) = varint(&sample[10..]);
        assert_eq!(t, 1_700_000_000_000);
    }

    #[test]
    fn snappy_literals_split_at_64_kib() {
        let data: Vec<u8> = (0..150_000u32).map(|i| (i % 251) as u8).collect();
        let mut framed = Vec::new();
        snappy_literals(&data, &mut framed);
        // Three literals, three bytes of tag and length each.
        assert_eq!(framed.len(), 3 + data.len() + 3 * 3);
        assert_eq!(unsnappy_literals(&framed), data);
    }

    #[test]
    fn history_ends_on_the_interval() {
        let o = parse_options(&["--series".into(), "10_000".into()]).unwrap();
        let h = History::new(&o, 1_700_000_012_345);
        assert_eq!(h.steps, 60);
        assert_eq!(h.last_ms % 60_000, 0);
        assert_eq!(h.last_ms - h.first_ms(), 59 * 60_000);
        assert_eq!(h.samples(), 600_000);
        assert!(parse_options(&["--duration".into(), "4h".into()]).is_err());
        assert!(parse_options(&["--servers".into(), "vm".into()]).is_err());
    }

    /// Labels are sorted by name and unique per series.
    #[test]
    fn series_labels() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..3000 {
            let l = labels(i);
            assert!(l.windows(2).all(|w| w[0].0 < w[1].0));
            assert!(seen.insert(format!("{l:?}")));
        }
        assert!((0..60).all(|k| value(5, k + 1) > value(5, k)));
    }

    fn varint(b: &[u8]) -> (u64, usize) {
        let (mut v, mut shift) = (0u64, 0);
        for (i, &byte) in b.iter().enumerate() {
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return (v, i + 1);
            }
            shift += 7;
        }
        panic!("truncated varint");
    }

    fn take_field(b: &[u8]) -> (u8, &[u8], &[u8]) {
        let tag = b[0];
        assert_eq!(tag & 7, 2, "length-delimited");
        let (len, n) = varint(&b[1..]);
        let start = 1 + n;
        let end = start + len as usize;
        (tag, &b[start..end], &b[end..])
    }

    fn unsnappy_literals(b: &[u8]) -> Vec<u8> {
        let (len, mut i) = varint(b);
        let mut out = Vec::new();
        while i < b.len() {
            assert_eq!(b[i], 61 << 2);
            let n = u16::from_le_bytes([b[i + 1], b[i + 2]]) as usize + 1;
            out.extend_from_slice(&b[i + 3..i + 3 + n]);
            i += 3 + n;
        }
        assert_eq!(out.len() as u64, len);
        out
    }
}
