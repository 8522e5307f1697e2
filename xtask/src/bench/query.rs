//! `cargo xtask bench query`: PromQL latency of wasmetheus, Prometheus and
//! VictoriaMetrics over the same backfilled data, one server after the
//! other: a fixed set of instant and range queries, median per query, and
//! the sum of medians as ratios.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::dataset::{Dataset, METRIC_NAMES, rfc3339};
use super::peers::{
    ALL, Kind, Peer, Running, create_blocks, find_peers, start, vm_complete, vm_export_count,
    vm_force_merge, vm_import,
};
use super::report::{Json, Report, ServerReport};
use super::support::{
    TempDir, common_flag, count, flag_value, get, http, metric_sum, parse_duration, proc_stats,
    ratio, urlencode, wait_idle,
};
use crate::{Result, root};

pub const USAGE: &str = "\
usage: cargo xtask bench query [--targets 100] [--duration 6h] [--runs 5]
                               [--servers wasmetheus,prometheus,victoria-metrics]
                               [--no-build] [--keep]

  Generates target/bench-query/openmetrics.txt (the `bench storage` data
  set: 50 series per target — counters, a histogram, gauges, info metrics —
  every 15 s over --duration, ending at the last 2 h boundary), backfills it
  into wasmetheus (`wasmetheus tsdb create-blocks-from`), Prometheus
  (`promtool tsdb create-blocks-from`) and VictoriaMetrics (import API),
  then starts each server on its data in turn and times a fixed set of
  instant and range queries: one warm-up, then --runs timed runs each,
  median per query and the sum of medians, with wasmetheus' ratios to
  each peer. Results also go to target/bench-query/report.txt and
  report.json; server logs stay in target/bench-query/.
  --no-build uses target/release/wasmetheus as it is; --keep keeps the data.";

struct Options {
    targets: usize,
    duration_ms: i64,
    runs: usize,
    servers: Vec<Kind>,
    build: bool,
    keep: bool,
}

fn parse_options(args: &[String]) -> Result<Options> {
    let mut o = Options {
        targets: 100,
        duration_ms: 6 * 3_600_000,
        runs: 5,
        servers: ALL.to_vec(),
        build: true,
        keep: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| flag_value(&mut args, name, USAGE);
        let number = |s: String| count(arg, &s);
        match arg.as_str() {
            "--targets" => o.targets = number(value(arg)?)?,
            "--duration" => o.duration_ms = parse_duration(&value(arg)?)?,
            "--runs" => o.runs = number(value(arg)?)?,
            "--servers" => o.servers = Kind::parse_list(&value(arg)?)?,
            other => common_flag(other, &mut o.build, &mut o.keep, USAGE)?,
        }
    }
    // The queries reach back 3 h from the end (range) and 6 h (one
    // *_over_time); they need at least the 3 h.
    if o.targets == 0 || o.runs == 0 || o.duration_ms < 3 * 3_600_000 {
        return Err("--targets and --runs must be positive, --duration at least 3h".into());
    }
    if o.servers.is_empty() {
        return Err("--servers needs at least one server".into());
    }
    Ok(o)
}

#[derive(Clone, Copy, PartialEq)]
enum QueryKind {
    Instant,
    Range,
}

/// Instant queries run at the end of the data less a minute; range
/// queries over its last 3 h, a step a minute.
const QUERIES: [(QueryKind, &str); 21] = [
    (QueryKind::Instant, "up"),
    (QueryKind::Instant, "sum(rate(http_requests_total[5m]))"),
    (
        QueryKind::Range,
        "sum by (job) (rate(http_requests_total[5m]))",
    ),
    (
        QueryKind::Range,
        r#"sum by (code, region) (rate(http_requests_total{code=~"4..|5.."}[5m]))"#,
    ),
    (
        QueryKind::Instant,
        "histogram_quantile(0.99, sum by (le, job) (rate(http_request_duration_seconds_bucket[5m])))",
    ),
    (
        QueryKind::Range,
        r#"histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket{env="prod"}[5m])))"#,
    ),
    (
        QueryKind::Range,
        "sum by (job) (rate(http_request_duration_seconds_sum[5m])) / sum by (job) (rate(http_request_duration_seconds_count[5m]))",
    ),
    (
        QueryKind::Range,
        r#"topk(5, rate(node_cpu_seconds_total{mode!="idle"}[5m]))"#,
    ),
    (
        QueryKind::Instant,
        "topk(10, sum by (instance) (rate(node_network_receive_bytes_total[5m])))",
    ),
    (
        QueryKind::Range,
        "sum by (mode) (rate(node_cpu_seconds_total[1m]))",
    ),
    (
        QueryKind::Range,
        r#"1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))"#,
    ),
    (
        QueryKind::Instant,
        r#"count(node_hwmon_temp_celsius{instance=~"10\\.0\\.0\\.[1-4][0-9]:9100", sensor=~"temp[12]"})"#,
    ),
    (
        QueryKind::Range,
        r#"max by (region) (node_hwmon_temp_celsius{region=~"eu-.*|us-.*"})"#,
    ),
    (
        QueryKind::Range,
        "sum by (instance, release) (rate(node_network_transmit_bytes_total[5m]) * on (instance) group_left (release) node_uname_info)",
    ),
    (
        QueryKind::Instant,
        "rate(http_requests_total[5m]) * on (job, instance) group_left (version) build_info",
    ),
    (
        QueryKind::Instant,
        "max_over_time(node_hwmon_temp_celsius[3h])",
    ),
    (
        QueryKind::Instant,
        "avg_over_time(node_memory_usage_megabytes[6h])",
    ),
    (
        QueryKind::Range,
        "quantile_over_time(0.95, node_memory_usage_megabytes[1h])",
    ),
    (
        QueryKind::Range,
        "stddev_over_time(node_hwmon_temp_celsius[30m])",
    ),
    (QueryKind::Instant, "increase(http_requests_total[3h])"),
    (QueryKind::Instant, "count by (release) (node_uname_info)"),
];

const RANGE_MS: i64 = 3 * 3_600_000;
const STEP_S: i64 = 60;

pub fn run(args: &[String]) -> Result {
    let o = parse_options(args)?;
    let (peers, skipped) = find_peers(&o.servers, o.build)?;
    let out = root().join("target/bench-query");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let work = TempDir::new(out.join(format!("work-{}", std::process::id())), o.keep)?;

    let started = Instant::now();
    let om_path = out.join("openmetrics.txt");
    let data = Dataset::generate_file(o.targets, o.duration_ms, &om_path)?;
    eprintln!(
        "generated {} ({} series, {} samples, {} to {}) in {:.1} s",
        om_path.display(),
        data.num_series(),
        data.samples,
        rfc3339(data.start_ms),
        rfc3339(data.end_ms),
        started.elapsed().as_secs_f64()
    );
    // No scrape targets: the servers only answer queries.
    let config = work.path.join("prometheus.yml");
    std::fs::write(
        &config,
        "# Written by `cargo xtask bench query`.\nglobal:\n  scrape_interval: 15s\nscrape_configs: []\n",
    )
    .map_err(|e| format!("{}: {e}", config.display()))?;

    let times = Times {
        instant_s: (data.end_ms - 60_000) / 1000,
        range_start_s: (data.end_ms - RANGE_MS) / 1000,
        range_end_s: (data.end_ms - 60_000) / 1000,
    };
    let mut columns = Vec::new();
    for peer in &peers {
        let dir = work.path.join(peer.kind.name());
        let log = out.join(format!("{}.log", peer.kind.name()));
        eprintln!("\n== {} ({}) ==", peer.kind.name(), peer.version);
        let column = measure(&o, peer, &data, &om_path, &config, &dir, &log, &times);
        if let Err(e) = &column {
            eprintln!("{}: NOT MEASURED: {e}", peer.kind.name());
        }
        if !o.keep {
            let _ = std::fs::remove_dir_all(&dir);
        }
        columns.push((peer, column));
    }
    let text = render(&o, &data, &times, &columns, &skipped);
    println!("{text}");
    report(&o, &data, &times, &columns, &skipped).write(&out, &text)
}

struct Times {
    instant_s: i64,
    range_start_s: i64,
    range_end_s: i64,
}

impl Times {
    fn path(&self, kind: QueryKind, expr: &str) -> String {
        let q = urlencode(expr);
        match kind {
            QueryKind::Instant => format!("/api/v1/query?query={q}&time={}", self.instant_s),
            QueryKind::Range => format!(
                "/api/v1/query_range?query={q}&start={}&end={}&step={STEP_S}",
                self.range_start_s, self.range_end_s
            ),
        }
    }
}

/// One query's outcome on one server.
struct Timing {
    median: Duration,
    min: Duration,
    max: Duration,
    /// Series in the answer (`"metric":` objects).
    series: usize,
    bytes: usize,
}

struct Column {
    load: Duration,
    load_what: String,
    settle: String,
    /// Samples the server sees in the data's range, by a count query.
    samples_seen: std::result::Result<f64, String>,
    results: Vec<std::result::Result<Timing, String>>,
    notes: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
fn measure(
    o: &Options,
    peer: &Peer,
    data: &Dataset,
    om: &Path,
    config: &Path,
    dir: &Path,
    log: &Path,
    times: &Times,
) -> Result<Column> {
    let loading = Instant::now();
    let mut notes = Vec::new();
    let (running, load_what) = match peer.kind {
        Kind::Wasmetheus => {
            create_blocks(&peer.bin, &[], om, dir)?;
            let load = loading.elapsed();
            (
                start(peer, config, false, dir, log)?,
                with_time("backfill", load),
            )
        }
        Kind::Prometheus => {
            // Blocks as wide as the data: Prometheus would otherwise
            // compact the 2 h blocks a minute after start, in the middle of
            // the measurements. One or two wide blocks is its best case.
            let flags = ["--quiet", "--max-block-duration=24h"];
            create_blocks(Path::new("promtool"), &flags, om, dir)?;
            let load = loading.elapsed();
            let blocks = std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
            notes.push(format!("{blocks} block(s) from promtool"));
            (
                start(peer, config, false, dir, log)?,
                with_time("backfill", load),
            )
        }
        Kind::VictoriaMetrics => {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            let running = start(peer, config, false, dir, log)?;
            vm_load(running.addr, data)?;
            (running, with_time("import+flush", loading.elapsed()))
        }
    };
    let load = loading.elapsed();
    eprintln!("{}: data loaded: {load_what}", peer.kind.name());
    let settle = match wait_idle(running.pid, Duration::from_secs(300)) {
        Some(d) => format!("idle after {:.0} s", d.as_secs_f64()),
        None => "still busy after 300 s".into(),
    };
    eprintln!("{}: {settle}", peer.kind.name());
    let before = server_state(peer.kind, running.addr);
    let samples_seen = count_samples(running.addr, data);
    if let Ok(n) = &samples_seen {
        eprintln!(
            "{}: {n:.0} samples visible (generated {})",
            peer.kind.name(),
            data.samples
        );
    }
    let results = run_queries(o, peer, &running, times);
    let after = server_state(peer.kind, running.addr);
    if before != after {
        notes.push(format!("changed during the queries: {before} → {after}"));
    } else if !after.is_empty() {
        notes.push(after);
    }
    let cpu = proc_stats(running.pid).map(|p| p.cpu_s).unwrap_or(0.0);
    notes.push(format!("{cpu:.1} CPU s in all"));
    running.stop()?;
    Ok(Column {
        load,
        load_what,
        settle,
        samples_seen,
        results,
        notes,
    })
}

fn with_time(what: &str, d: Duration) -> String {
    format!("{what} {:.1} s", d.as_secs_f64())
}

/// What could change under the queries (Prometheus' blocks and
/// compactions), to show that nothing did.
fn server_state(kind: Kind, addr: SocketAddr) -> String {
    if kind != Kind::Prometheus {
        return String::new();
    }
    let metrics = get(addr, "/metrics").unwrap_or_default();
    let value = |name| metric_sum(&metrics, name).unwrap_or(-1.0);
    format!(
        "{} blocks loaded, {} compactions",
        value("prometheus_tsdb_blocks_loaded"),
        value("prometheus_tsdb_compactions_total")
    )
}

/// VictoriaMetrics: import, flush, check everything arrived, merge.
fn vm_load(addr: SocketAddr, data: &Dataset) -> Result {
    vm_import(addr, data)?;
    vm_complete(data, vm_export_count(addr, data)?)?;
    // Merged parts, as background merges would leave them eventually;
    // the wait for idle CPU afterwards lets the merge finish.
    vm_force_merge(addr, data)
}

/// Samples in the data's range as the server counts them (not timed): a
/// server that lost data would otherwise look fast.
fn count_samples(addr: SocketAddr, data: &Dataset) -> std::result::Result<f64, String> {
    let hours = (data.end_ms - data.start_ms + 3_599_999) / 3_600_000;
    // Name by name: Prometheus 2 drops the name in count_over_time, so
    // one selector over every name would collide.
    let expr = METRIC_NAMES
        .iter()
        .map(|name| format!("sum(count_over_time({name}[{hours}h]))"))
        .collect::<Vec<_>>()
        .join(" + ");
    let path = format!(
        "/api/v1/query?query={}&time={}",
        urlencode(&expr),
        data.end_ms / 1000
    );
    let body = get(addr, &path)?;
    body.rsplit_once("\"value\":[")
        .and_then(|(_, v)| v.split('"').nth(1))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("unexpected answer {:.200}", body))
}

fn run_queries(
    o: &Options,
    peer: &Peer,
    running: &Running,
    times: &Times,
) -> Vec<std::result::Result<Timing, String>> {
    QUERIES
        .iter()
        .enumerate()
        .map(|(i, &(kind, expr))| {
            let path = times.path(kind, expr);
            let result = time_query(running.addr, &path, o.runs);
            match &result {
                Ok(t) => eprintln!(
                    "  {} q{:<2} {:>9.2} ms median ({:.2}–{:.2}), {} series",
                    peer.kind.name(),
                    i + 1,
                    ms(t.median),
                    ms(t.min),
                    ms(t.max),
                    t.series
                ),
                Err(e) => eprintln!("  {} q{:<2} FAILED: {e}", peer.kind.name(), i + 1),
            }
            result
        })
        .collect()
}

/// One warm-up and `runs` timed requests, each on a fresh connection,
/// from sending the request to reading the whole answer.
fn time_query(addr: SocketAddr, path: &str, runs: usize) -> Result<Timing> {
    let check = |code: u16, body: &str| -> Result {
        if code == 200 && body.contains("\"status\":\"success\"") {
            Ok(())
        } else {
            Err(format!("HTTP {code}: {:.300}", body.trim()))
        }
    };
    let (code, body) = http(addr, "GET", path, None)?;
    check(code, &body)?;
    let mut took = Vec::with_capacity(runs);
    let mut last = body;
    for _ in 0..runs {
        let started = Instant::now();
        let (code, body) = http(addr, "GET", path, None)?;
        took.push(started.elapsed());
        check(code, &body)?;
        last = body;
    }
    took.sort();
    Ok(Timing {
        median: median(&took),
        min: took[0],
        max: took[took.len() - 1],
        series: last.matches("\"metric\":").count(),
        bytes: last.len(),
    })
}

fn median(sorted: &[Duration]) -> Duration {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------
// Report

fn render(
    o: &Options,
    data: &Dataset,
    times: &Times,
    columns: &[(&Peer, Result<Column>)],
    skipped: &[String],
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n== bench query: {} targets, {} series, {} samples every 15 s, {} to {}; \
         instant queries at {}, range queries {} to {} step {STEP_S}s; median of {} runs after 1 warm-up ==",
        o.targets,
        data.num_series(),
        data.samples,
        rfc3339(data.start_ms),
        rfc3339(data.end_ms),
        rfc3339(times.instant_s * 1000),
        rfc3339(times.range_start_s * 1000),
        rfc3339(times.range_end_s * 1000),
        o.runs
    );
    let _ = write!(s, "{:<4} {:<5}", "q", "kind");
    for (peer, _) in columns {
        let _ = write!(
            s,
            " {:>17} {:>7}",
            format!("{} ms", short(peer.kind)),
            "series"
        );
    }
    // wasmetheus' median over each peer's, query by query.
    let ours_at = columns
        .iter()
        .position(|(p, c)| p.kind == Kind::Wasmetheus && c.is_ok());
    let peers_at: Vec<usize> = match ours_at {
        Some(_) => (0..columns.len())
            .filter(|&c| columns[c].0.kind != Kind::Wasmetheus && columns[c].1.is_ok())
            .collect(),
        None => Vec::new(),
    };
    for &c in &peers_at {
        let _ = write!(s, " {:>11}", format!("÷{}", short(columns[c].0.kind)));
    }
    s.push('\n');
    let median_ms = |c: usize, i: usize| match &columns[c].1 {
        Ok(col) => col.results[i].as_ref().ok().map(|t| ms(t.median)),
        Err(_) => None,
    };
    let mut sums = vec![0.0; columns.len()];
    let mut failed = vec![0; columns.len()];
    for (i, &(kind, _)) in QUERIES.iter().enumerate() {
        let _ = write!(
            s,
            "{:<4} {:<5}",
            format!("q{}", i + 1),
            if kind == QueryKind::Instant {
                "inst"
            } else {
                "range"
            }
        );
        for (c, (_, column)) in columns.iter().enumerate() {
            match column.as_ref().map(|c| &c.results[i]) {
                Ok(Ok(t)) => {
                    sums[c] += ms(t.median);
                    let _ = write!(s, " {:>17.2} {:>7}", ms(t.median), t.series);
                }
                Ok(Err(_)) => {
                    failed[c] += 1;
                    let _ = write!(s, " {:>17} {:>7}", "FAILED", "-");
                }
                Err(_) => {
                    let _ = write!(s, " {:>17} {:>7}", "-", "-");
                }
            }
        }
        if let Some(ours) = ours_at {
            for &c in &peers_at {
                let _ = write!(s, " {:>11}", ratio(median_ms(ours, i), median_ms(c, i)));
            }
        }
        s.push('\n');
    }
    let _ = write!(s, "{:<10}", "sum");
    for (c, (_, column)) in columns.iter().enumerate() {
        if column.is_ok() {
            let mark = if failed[c] > 0 { "*" } else { "" };
            let _ = write!(s, " {:>16.2}{mark:1} {:>7}", sums[c], "");
        } else {
            let _ = write!(s, " {:>17} {:>7}", "NOT MEASURED", "");
        }
    }
    s.push('\n');
    if failed.iter().any(|&f| f > 0) {
        let _ = writeln!(s, "* sum without the failed queries");
    }

    // Ratios of the sums over the queries both servers answered, so a
    // failure on either side cannot flatter anyone.
    let ours = columns
        .iter()
        .find(|(p, c)| p.kind == Kind::Wasmetheus && c.is_ok());
    let mut faster_than_all = ours.is_some();
    if let Some((_, Ok(ours))) = ours {
        for (peer, column) in columns {
            let Ok(theirs) = column else { continue };
            if peer.kind == Kind::Wasmetheus {
                continue;
            }
            let (a, b, n) = sum_ratio(ours, theirs);
            faster_than_all &= n == QUERIES.len() && a < b;
            let _ = writeln!(
                s,
                "wasmetheus / {:<17} sum of medians {:>7} ({a:.1} ms vs {b:.1} ms over {n} queries answered by both)",
                peer.kind.name(),
                ratio(Some(a), Some(b)),
            );
        }
        let peers_measured = columns
            .iter()
            .filter(|(p, c)| p.kind != Kind::Wasmetheus && c.is_ok())
            .count();
        let _ = writeln!(
            s,
            "goal: faster than both on the sum of medians — {}",
            if peers_measured < 2 {
                "not decidable (a peer was not measured)"
            } else if faster_than_all {
                "met"
            } else {
                "NOT met"
            }
        );
    }
    for skip in skipped {
        let _ = writeln!(s, "{skip}");
    }
    for (peer, column) in columns {
        match column {
            Ok(c) => {
                let seen = match &c.samples_seen {
                    Ok(n) => format!("{n:.0} samples visible"),
                    Err(e) => format!("sample count failed: {e}"),
                };
                let answer_bytes: usize = c
                    .results
                    .iter()
                    .filter_map(|r| r.as_ref().ok())
                    .map(|t| t.bytes)
                    .sum();
                let _ = writeln!(
                    s,
                    "  {} [{}]: {} (loaded in {:.1} s), {}, {seen}, {answer_bytes} answer bytes in all{}",
                    peer.kind.name(),
                    peer.version,
                    c.load_what,
                    c.load.as_secs_f64(),
                    c.settle,
                    c.notes.iter().map(|n| format!(", {n}")).collect::<String>()
                );
                for (i, r) in c.results.iter().enumerate() {
                    if let Err(e) = r {
                        let _ = writeln!(s, "    q{} failed: {e}", i + 1);
                    }
                }
            }
            Err(e) => {
                let _ = writeln!(s, "  {}: NOT MEASURED: {e}", peer.kind.name());
            }
        }
    }
    let _ = writeln!(s, "queries:");
    for (i, (_, expr)) in QUERIES.iter().enumerate() {
        let _ = writeln!(s, "  q{:<3} {expr}", i + 1);
    }
    s
}

/// The sum of wasmetheus' medians over the peer's, over the queries both
/// answered, and how many those are.
fn sum_ratio(ours: &Column, theirs: &Column) -> (f64, f64, usize) {
    let (mut a, mut b, mut n) = (0.0, 0.0, 0);
    for (x, y) in ours.results.iter().zip(&theirs.results) {
        if let (Ok(x), Ok(y)) = (x, y) {
            a += ms(x.median);
            b += ms(y.median);
            n += 1;
        }
    }
    (a, b, n)
}

fn report(
    o: &Options,
    data: &Dataset,
    times: &Times,
    columns: &[(&Peer, Result<Column>)],
    skipped: &[String],
) -> Report {
    let mut r = Report::new("query");
    r.parameter("targets", o.targets);
    r.parameter("duration_s", o.duration_ms / 1000);
    r.parameter("runs", o.runs);
    r.parameter("series", data.num_series());
    r.parameter("samples", data.samples);
    r.parameter("data_start", rfc3339(data.start_ms));
    r.parameter("data_end", rfc3339(data.end_ms));
    r.parameter("instant_time", rfc3339(times.instant_s * 1000));
    r.parameter("range_start", rfc3339(times.range_start_s * 1000));
    r.parameter("range_end", rfc3339(times.range_end_s * 1000));
    r.parameter("step_s", STEP_S);
    let queries = QUERIES.iter().enumerate().map(|(i, (kind, expr))| {
        Json::obj([
            ("id", format!("q{}", i + 1).into()),
            (
                "kind",
                if *kind == QueryKind::Instant {
                    "instant"
                } else {
                    "range"
                }
                .into(),
            ),
            ("expr", (*expr).into()),
        ])
    });
    r.parameter("queries", Json::Arr(queries.collect()));
    let ours = columns
        .iter()
        .find(|(p, c)| p.kind == Kind::Wasmetheus && c.is_ok())
        .and_then(|(_, c)| c.as_ref().ok());
    for (peer, column) in columns {
        let mut s = ServerReport::new(peer.kind.name(), &peer.version);
        match column {
            Ok(c) => {
                let answered = c.results.iter().filter_map(|r| r.as_ref().ok());
                s.measure(
                    "sum_of_medians",
                    "ms",
                    answered.map(|t| ms(t.median)).sum::<f64>(),
                );
                if let (Some(ours), false) = (ours, peer.kind == Kind::Wasmetheus) {
                    let (a, b, _) = sum_ratio(ours, c);
                    s.ratios
                        .push(("sum_of_medians".into(), (b != 0.0).then(|| a / b)));
                }
                for (i, t) in c.results.iter().enumerate() {
                    let t = t.as_ref().ok();
                    s.measure(&format!("q{}", i + 1), "ms", t.map(|t| ms(t.median)));
                }
                s.measure("load", "s", c.load.as_secs_f64());
                s.measure(
                    "samples_visible",
                    "samples",
                    c.samples_seen.as_ref().ok().copied(),
                );
                s.detail("load", c.load_what.as_str());
                s.detail("settle", c.settle.as_str());
                let per_query = c.results.iter().enumerate().map(|(i, t)| {
                    let fields = match t {
                        Ok(t) => vec![
                            ("min_ms", ms(t.min).into()),
                            ("max_ms", ms(t.max).into()),
                            ("series", t.series.into()),
                            ("bytes", t.bytes.into()),
                        ],
                        Err(e) => vec![("error", e.as_str().into())],
                    };
                    (format!("q{}", i + 1), Json::obj(fields))
                });
                s.detail("queries", Json::Obj(per_query.collect()));
                if let Err(e) = &c.samples_seen {
                    s.notes.push(format!("sample count failed: {e}"));
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

fn short(kind: Kind) -> &'static str {
    match kind {
        Kind::Wasmetheus => "wasmetheus",
        Kind::Prometheus => "prometheus",
        Kind::VictoriaMetrics => "vm",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(kind: Kind) -> Peer {
        Peer {
            kind,
            bin: kind.name().into(),
            version: "v".into(),
        }
    }

    /// A column whose query `i` took `ms[i]` (None: failed).
    fn column(ms: &[Option<u64>]) -> Result<Column> {
        let results = (0..QUERIES.len())
            .map(|i| match ms.get(i).copied().unwrap_or(Some(10)) {
                Some(m) => Ok(Timing {
                    median: Duration::from_millis(m),
                    min: Duration::from_millis(m),
                    max: Duration::from_millis(m),
                    series: 1,
                    bytes: 100,
                }),
                None => Err("HTTP 422".into()),
            })
            .collect();
        Ok(Column {
            load: Duration::from_secs(1),
            load_what: "backfill 1.0 s".into(),
            settle: "idle after 3 s".into(),
            samples_seen: Ok(1000.0),
            results,
            notes: Vec::new(),
        })
    }

    /// Per-query ratios in the table, and the sum's ratio over the
    /// queries both answered in both the table and the JSON.
    #[test]
    fn ratios_to_each_peer() {
        let o = parse_options(&[]).unwrap();
        let data = Dataset::generate(1, 0, 3_600_000);
        let times = Times {
            instant_s: 3540,
            range_start_s: 0,
            range_end_s: 3540,
        };
        let (w, p, v) = (
            peer(Kind::Wasmetheus),
            peer(Kind::Prometheus),
            peer(Kind::VictoriaMetrics),
        );
        // wasmetheus: q1 5 ms, q2 failed; Prometheus: q1 20 ms.
        let columns = vec![
            (&w, column(&[Some(5), None])),
            (&p, column(&[Some(20), Some(30)])),
            (&v, Err("not ready".to_owned())),
        ];
        let text = render(&o, &data, &times, &columns, &[]);
        assert!(text.contains("÷prometheus"), "{text}");
        assert!(!text.contains("÷vm"), "{text}");
        let q1 = text.lines().find(|l| l.starts_with("q1 ")).unwrap();
        assert!(q1.ends_with("0.25×"), "{q1}");
        let q2 = text.lines().find(|l| l.starts_with("q2 ")).unwrap();
        assert!(q2.ends_with('-'), "{q2}");
        // 5 + 19 × 10 against 20 + 19 × 10 over the 20 answered by both.
        assert!(
            text.contains("sum of medians   0.93× (195.0 ms vs 210.0 ms over 20 queries"),
            "{text}"
        );
        let r = report(&o, &data, &times, &columns, &[]);
        let prom = &r.servers[1];
        let ratios = r.ratios(prom);
        assert_eq!(ratios[0].0, "sum_of_medians");
        assert!((ratios[0].1.unwrap() - 195.0 / 210.0).abs() < 1e-9);
        assert!(ratios.contains(&("q1".into(), Some(0.25))));
        assert!(ratios.contains(&("q2".into(), None)));
        assert_eq!(prom.find("sum_of_medians").unwrap().value, Some(240.0));
        assert_eq!(r.servers[2].error.as_deref(), Some("not ready"));
        assert!(r.ratios(&r.servers[2]).is_empty());
    }
}
