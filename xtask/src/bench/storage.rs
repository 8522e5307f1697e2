//! `cargo xtask bench storage`: bytes on disk per sample of wasmetheus next
//! to Prometheus (`promtool`) and VictoriaMetrics, all fed the same
//! generated OpenMetrics file, plus the head's resident memory per series.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::dataset::{BLOCK_MS, Dataset, INTERVAL_MS, rfc3339};
use super::peers::{
    Kind, Peer, WASMETHEUS_BIN, build_wasmetheus, create_blocks, prometheus_version, start,
    victoria_metrics_version, vm_complete, vm_export_count, vm_force_merge, vm_import,
    wasmetheus_bin,
};
use super::report::{Json, OURS, Report, ServerReport};
use super::support::{TempDir, common_flag, count, flag_value, parse_duration, walk};
use crate::{Result, cargo, describe, root};

pub const USAGE: &str = "\
usage: cargo xtask bench storage [--targets N] [--duration 2h] [--head-series N]
                                 [--head-samples K] [--no-head] [--no-build] [--keep]

  Generates target/bench-storage/openmetrics.txt (50 series per target,
  15 s interval, ending at the last 2 h boundary), loads it into Prometheus
  (promtool), VictoriaMetrics and wasmetheus, and prints bytes per sample.
  --head-series (or WASMETHEUS_BENCH_HEAD_SERIES) sizes the head RSS run.
  Results also go to target/bench-storage/report.txt and report.json.
  --no-build uses target/release/wasmetheus as it is; --keep keeps the stores.";

struct Options {
    targets: usize,
    duration_ms: i64,
    head_series: usize,
    head_samples: usize,
    head: bool,
    build: bool,
    keep: bool,
}

fn parse_options(args: &[String]) -> Result<Options> {
    let mut o = Options {
        targets: 50,
        duration_ms: BLOCK_MS,
        head_series: match std::env::var("WASMETHEUS_BENCH_HEAD_SERIES") {
            Ok(v) => v
                .parse()
                .map_err(|_| format!("WASMETHEUS_BENCH_HEAD_SERIES={v:?}: not a number"))?,
            Err(_) => 1_000_000,
        },
        head_samples: 2,
        head: true,
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
            "--head-series" => o.head_series = number(value(arg)?)?,
            "--head-samples" => o.head_samples = number(value(arg)?)?,
            "--no-head" => o.head = false,
            other => common_flag(other, &mut o.build, &mut o.keep, USAGE)?,
        }
    }
    if o.targets == 0 || o.duration_ms < INTERVAL_MS {
        return Err("--targets and --duration must be positive (duration ≥ 15s)".into());
    }
    Ok(o)
}

pub fn run(args: &[String]) -> Result {
    let o = parse_options(args)?;
    // Check the peers first: no point generating data they cannot load.
    let promtool = prometheus_version("promtool")?;
    let vm_version = victoria_metrics_version()?;

    let out = root().join("target/bench-storage");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let work = TempDir::new(out.join(format!("work-{}", std::process::id())), o.keep)?;

    let started = Instant::now();
    let om_path = out.join("openmetrics.txt");
    let data = Dataset::generate_file(o.targets, o.duration_ms, &om_path)?;
    let om_bytes = std::fs::metadata(&om_path).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "generated {} ({:.0} MB, {} series, {} samples, {} to {}) in {:.1} s",
        om_path.display(),
        om_bytes as f64 / 1e6,
        data.num_series(),
        data.samples,
        rfc3339(data.start_ms),
        rfc3339(data.end_ms),
        started.elapsed().as_secs_f64()
    );

    let mut rows = Vec::new();
    rows.push(measure_prometheus(&promtool, &om_path, &work.path));
    rows.extend(measure_victoria_metrics(
        &vm_version,
        &data,
        &work.path,
        &out,
    ));
    rows.push(measure_wasmetheus(&o, &om_path, &work.path));
    let head = if o.head {
        Some(head_rss(o.head_series, o.head_samples))
    } else {
        None
    };

    let table = render_table(&data, om_bytes, &rows, head.as_ref());
    println!("{table}");
    report(&o, &data, om_bytes, &rows, head.as_ref()).write(&out, &table)?;
    let failed: Vec<&str> = rows
        .iter()
        .filter(|r| r.result.is_err() && !r.store.starts_with("wasmetheus"))
        .map(|r| r.store.as_str())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        // wasmetheus failing is reported in the table; a peer failing means
        // the comparison itself is broken.
        Err(format!("measuring {} failed", failed.join(", ")))
    }
}

// ---------------------------------------------------------------------------
// Measurements

struct Row {
    store: String,
    version: String,
    /// Bytes on disk, or why there is no figure.
    result: std::result::Result<Sizes, String>,
    /// Samples the store reports holding, when it says.
    samples: Option<u64>,
    import: Option<Duration>,
    notes: Vec<String>,
}

impl Row {
    /// A row with no figures yet.
    fn new(store: &str, version: &str) -> Row {
        Row {
            store: store.into(),
            version: version.into(),
            result: Err(String::new()),
            samples: None,
            import: None,
            notes: Vec::new(),
        }
    }
}

/// Apparent file sizes under a directory, split by what the files hold.
#[derive(Default, Clone)]
struct Sizes {
    total: u64,
    parts: Vec<(String, u64)>,
}

impl Sizes {
    fn add(&mut self, part: &str, n: u64) {
        self.total += n;
        match self.parts.iter_mut().find(|(p, _)| p == part) {
            Some((_, total)) => *total += n,
            None => self.parts.push((part.to_owned(), n)),
        }
    }

    fn part(&self, name: &str) -> u64 {
        self.parts
            .iter()
            .filter(|(p, _)| p == name)
            .map(|(_, n)| n)
            .sum()
    }
}

/// Sums file sizes under `dir`; `classify` names the part a file (given by
/// its path relative to `dir`) belongs to.
fn dir_sizes(dir: &Path, classify: &dyn Fn(&Path) -> &'static str) -> Result<Sizes> {
    let mut sizes = Sizes::default();
    walk(dir, &mut |rel, meta| sizes.add(classify(rel), meta.len()))?;
    sizes.parts.sort();
    Ok(sizes)
}

/// Prometheus' block layout: `<ulid>/chunks/*`, `<ulid>/index`, the rest.
fn classify_blocks(rel: &Path) -> &'static str {
    if rel.components().any(|c| c.as_os_str() == "chunks") {
        "chunks"
    } else if rel.file_name().is_some_and(|n| n == "index") {
        "index"
    } else {
        "other"
    }
}

/// Sum of `"numSamples"` over every block's meta.json, if there are any.
fn block_samples(dir: &Path) -> Option<u64> {
    let mut total = None;
    for block in std::fs::read_dir(dir).ok()?.flatten() {
        let Ok(meta) = std::fs::read_to_string(block.path().join("meta.json")) else {
            continue;
        };
        let n = meta
            .split("\"numSamples\":")
            .nth(1)?
            .trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse::<u64>()
            .ok()?;
        *total.get_or_insert(0) += n;
    }
    total
}

fn measure_prometheus(version: &str, om: &Path, work: &Path) -> Row {
    let dir = work.join("prometheus");
    let mut row = Row::new("prometheus", version);
    let started = Instant::now();
    row.result = create_blocks(Path::new("promtool"), &["--quiet"], om, &dir).and_then(|()| {
        row.import = Some(started.elapsed());
        row.samples = block_samples(&dir);
        let blocks = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
        row.notes.push(format!("{blocks} block(s)"));
        dir_sizes(&dir, &classify_blocks)
    });
    row
}

/// VictoriaMetrics' layout: `data/{small,big}/<month>/<part>`, `indexdb/`,
/// and caches and metadata written at shutdown.
fn classify_vm(rel: &Path) -> &'static str {
    match rel
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy())
    {
        Some(c) if c == "data" => "data",
        Some(c) if c == "indexdb" => "indexdb",
        Some(c) if c == "cache" => "cache",
        _ => "other",
    }
}

/// Two rows: every file VictoriaMetrics leaves, and only its data and
/// index (no caches or metadata).
fn measure_victoria_metrics(version: &str, data: &Dataset, work: &Path, out: &Path) -> Vec<Row> {
    let mut row = Row::new("victoria-metrics", version);
    row.result = victoria_metrics(version, data, work, out, &mut row);
    let mut lean = Row {
        store: "victoria-metrics (data+indexdb)".into(),
        version: version.into(),
        result: row.result.clone().map(|s| {
            let mut lean = Sizes::default();
            lean.add("data", s.part("data"));
            lean.add("indexdb", s.part("indexdb"));
            lean
        }),
        samples: row.samples,
        import: row.import,
        notes: Vec::new(),
    };
    if row.result.is_ok() {
        row.store = "victoria-metrics (all files)".into();
        lean.notes
            .push("excludes cache/, metadata/, flock.lock".into());
    }
    vec![lean, row]
}

fn victoria_metrics(
    version: &str,
    data: &Dataset,
    work: &Path,
    out: &Path,
    row: &mut Row,
) -> Result<Sizes> {
    let dir = work.join("victoria-metrics");
    let peer = Peer {
        kind: Kind::VictoriaMetrics,
        bin: Kind::VictoriaMetrics.name().into(),
        version: version.into(),
    };
    // Not scraping, VictoriaMetrics reads no configuration file.
    let server = start(
        &peer,
        Path::new(""),
        false,
        &dir,
        &out.join("victoria-metrics.log"),
    )?;
    let addr = server.addr;

    let started = Instant::now();
    vm_import(addr, data)?;
    row.import = Some(started.elapsed());
    let counted = vm_export_count(addr, data)?;
    row.samples = Some(counted.1);
    vm_complete(data, counted)?;

    // Merge each month's partition, as the background merges would do
    // eventually; this runs asynchronously, so wait until the size stops
    // changing.
    let merging = Instant::now();
    vm_force_merge(addr, data)?;
    let store_size = || {
        dir_sizes(&dir, &classify_vm)
            .map(|s| s.part("data") + s.part("indexdb"))
            .unwrap_or(0)
    };
    let (mut last, mut stable) = (store_size(), 0);
    while stable < 5 {
        if merging.elapsed() > Duration::from_secs(300) {
            row.notes
                .push("merge still changing the size after 300 s".into());
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
        let now = store_size();
        stable = if now == last { stable + 1 } else { 0 };
        last = now;
    }
    row.notes.push(format!(
        "import {:.1} s + merge settled in {:.1} s",
        row.import.unwrap_or_default().as_secs_f64(),
        merging.elapsed().as_secs_f64()
    ));
    server.stop()?;
    dir_sizes(&dir, &classify_vm)
}

fn measure_wasmetheus(o: &Options, om: &Path, work: &Path) -> Row {
    let mut row = Row::new("wasmetheus", WASMETHEUS_BIN);
    if o.build
        && let Err(e) = build_wasmetheus()
    {
        row.result = Err(format!("build failed: {e}"));
        return row;
    }
    let bin = match wasmetheus_bin() {
        Ok(bin) => bin,
        Err(e) => {
            row.result = Err(e);
            return row;
        }
    };
    let dir = work.join("wasmetheus");
    let started = Instant::now();
    row.result = create_blocks(&bin, &[], om, &dir).and_then(|()| {
        row.import = Some(started.elapsed());
        row.samples = block_samples(&dir);
        dir_sizes(&dir, &classify_blocks)
    });
    row
}

/// Head RSS figures from the `tsdb-head-rss` bin.
struct HeadRss {
    series: usize,
    samples_per_series: usize,
    output: std::result::Result<String, String>,
    bytes_per_series: Option<f64>,
}

fn head_rss(series: usize, samples: usize) -> HeadRss {
    let mut cmd = cargo();
    cmd.args(["run", "--release", "--quiet", "-p", "wasmetheus-tsdb"])
        .args(["--bin", "tsdb-head-rss", "--"])
        .args([series.to_string(), samples.to_string()])
        .stderr(Stdio::inherit());
    eprintln!("$ {}", describe(&cmd));
    let output = match cmd.output() {
        Ok(out) if out.status.success() => {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        }
        Ok(out) => Err(format!("tsdb-head-rss failed ({})", out.status)),
        Err(e) => Err(format!("cannot run cargo: {e}")),
    };
    let bytes_per_series = output.as_ref().ok().and_then(|text| {
        text.split("bytes per series ")
            .nth(1)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    });
    HeadRss {
        series,
        samples_per_series: samples,
        output,
        bytes_per_series,
    }
}

// ---------------------------------------------------------------------------
// Report

fn render_table(data: &Dataset, om_bytes: u64, rows: &[Row], head: Option<&HeadRss>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\ndataset: {} targets, {} series, {} samples at 15 s, {} to {}; \
         OpenMetrics file {:.1} MB",
        data.num_targets(),
        data.num_series(),
        data.samples,
        rfc3339(data.start_ms),
        rfc3339(data.end_ms),
        om_bytes as f64 / 1e6
    );
    let bytes_of = |name: &str| {
        rows.iter()
            .find(|r| r.store == name)
            .and_then(|r| r.result.as_ref().ok())
            .map(|s| s.total as f64)
    };
    let vm = bytes_of("victoria-metrics (data+indexdb)");
    let prom = bytes_of("prometheus");
    let ratio = |bytes: u64, base: Option<f64>| {
        base.map_or("-".into(), |b| format!("{:.2}", bytes as f64 / b))
    };
    let _ = writeln!(
        s,
        "\n{:<32} {:>12} {:>10} {:>12} {:>7} {:>7} {:>9}",
        "store", "bytes", "samples", "bytes/sample", "vs VM", "vs Prom", "import"
    );
    for r in rows {
        let samples = r.samples.map_or("?".into(), |n| n.to_string());
        let import = r
            .import
            .map_or("-".into(), |d| format!("{:.2} s", d.as_secs_f64()));
        match &r.result {
            Ok(sizes) => {
                let _ = writeln!(
                    s,
                    "{:<32} {:>12} {:>10} {:>12.3} {:>7} {:>7} {:>9}",
                    r.store,
                    sizes.total,
                    samples,
                    sizes.total as f64 / data.samples as f64,
                    ratio(sizes.total, vm),
                    ratio(sizes.total, prom),
                    import
                );
            }
            Err(e) => {
                let _ = writeln!(s, "{:<32} NOT MEASURED: {e}", r.store);
            }
        }
    }
    let _ = writeln!(
        s,
        "\nbytes/sample divides by the {} generated samples; \"vs VM\" is against VictoriaMetrics' data+indexdb.",
        data.samples
    );
    for r in rows {
        let mut detail = Vec::new();
        if let Ok(sizes) = &r.result {
            for (part, n) in &sizes.parts {
                detail.push(format!(
                    "{part} {n} ({:.3} B/sample)",
                    *n as f64 / data.samples as f64
                ));
            }
        }
        detail.extend(r.notes.iter().cloned());
        if detail.is_empty() {
            continue;
        }
        let _ = writeln!(s, "  {} [{}]: {}", r.store, r.version, detail.join(", "));
    }
    if let Some(h) = head {
        let _ = writeln!(
            s,
            "\nhead RSS ({} series × {} samples, tsdb-head-rss):",
            h.series, h.samples_per_series
        );
        match &h.output {
            Ok(text) => {
                for line in text.lines() {
                    let _ = writeln!(s, "  {line}");
                }
            }
            Err(e) => {
                let _ = writeln!(s, "  NOT MEASURED: {e}");
            }
        }
    }
    s
}

fn report(
    o: &Options,
    data: &Dataset,
    om_bytes: u64,
    rows: &[Row],
    head: Option<&HeadRss>,
) -> Report {
    let mut r = Report::new("storage");
    r.parameter("targets", data.num_targets());
    r.parameter("series", data.num_series());
    r.parameter("samples", data.samples);
    r.parameter("interval_s", INTERVAL_MS / 1000);
    r.parameter("duration_s", o.duration_ms / 1000);
    r.parameter("start", rfc3339(data.start_ms));
    r.parameter("end", rfc3339(data.end_ms));
    r.parameter("openmetrics_bytes", om_bytes);
    r.parameter("head_series", head.map(|h| h.series));
    r.parameter(
        "head_samples_per_series",
        head.map(|h| h.samples_per_series),
    );
    for row in rows {
        let mut s = ServerReport::new(&row.store, &row.version);
        match &row.result {
            Ok(sizes) => {
                s.measure(
                    "bytes_per_sample",
                    "bytes/sample",
                    sizes.total as f64 / data.samples as f64,
                );
                s.measure("bytes", "bytes", sizes.total as f64);
                s.measure("import", "s", row.import.map(|d| d.as_secs_f64()));
                let parts = sizes.parts.iter().map(|(p, n)| (p.clone(), (*n).into()));
                s.detail("parts_bytes", Json::Obj(parts.collect()));
            }
            Err(e) => s.error = Some(e.clone()),
        }
        s.detail("samples_reported", row.samples);
        if row.store == OURS
            && let Some(h) = head
        {
            s.measure("head_rss_per_series", "bytes/series", h.bytes_per_series);
            match &h.output {
                Ok(text) => s.detail("head_rss_output", text.as_str()),
                Err(e) => s.notes.push(format!("head RSS not measured: {e}")),
            }
        }
        s.notes.extend(row.notes.iter().cloned());
        r.servers.push(s);
    }
    r.notes.push(
        "bytes_per_sample divides by the generated samples; ratios are against every store, \
         VictoriaMetrics' data+indexdb row being its comparable figure"
            .into(),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(store: &str, total: u64) -> Row {
        let mut row = Row::new(store, "v");
        let mut sizes = Sizes::default();
        sizes.add("chunks", total);
        row.result = Ok(sizes);
        row
    }

    /// Every store gets wasmetheus' bytes per sample over its own, and
    /// only wasmetheus carries the head's RSS per series.
    #[test]
    fn report_ratios_and_head() {
        let o = parse_options(&["--targets".into(), "1".into()]).unwrap();
        let data = Dataset::generate(1, 0, 3_600_000);
        let mut failed = Row::new("victoria-metrics (all files)", "v");
        failed.result = Err("import incomplete".into());
        let rows = [
            row("prometheus", 4 * data.samples),
            failed,
            row(OURS, data.samples),
        ];
        let head = HeadRss {
            series: 1000,
            samples_per_series: 2,
            output: Ok("bytes per series 900.0".into()),
            bytes_per_series: Some(900.0),
        };
        let r = report(&o, &data, 10, &rows, Some(&head));
        let prom = r.ratios(&r.servers[0]);
        assert!(
            prom.contains(&("bytes_per_sample".into(), Some(0.25))),
            "{prom:?}"
        );
        assert!(r.ratios(&r.servers[1]).is_empty());
        assert_eq!(r.servers[1].error.as_deref(), Some("import incomplete"));
        let ours = &r.servers[2];
        assert_eq!(ours.find("head_rss_per_series").unwrap().value, Some(900.0));
        assert!(r.servers[0].find("head_rss_per_series").is_none());
    }
}
