//! `cargo xtask bench storage`: bytes on disk per sample of wasmetheus next
//! to Prometheus (`promtool`) and VictoriaMetrics, all fed the same
//! generated OpenMetrics file, plus the head's resident memory per series.

use std::fmt::Write as _;
use std::io::{self, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::support::{count, flag_value};
use crate::{Result, cargo, describe, root, status};

pub const USAGE: &str = "\
usage: cargo xtask bench storage [--targets N] [--duration 2h] [--head-series N]
                                 [--head-samples K] [--no-head] [--no-build] [--keep]

  Generates target/bench-storage/openmetrics.txt (50 series per target,
  15 s interval, ending at the last 2 h boundary), loads it into Prometheus
  (promtool), VictoriaMetrics and wasmetheus, and prints bytes per sample.
  --head-series (or WASMETHEUS_BENCH_HEAD_SERIES) sizes the head RSS run.
  --no-build uses target/release/wasmetheus as it is; --keep keeps the stores.";

pub(crate) const INTERVAL_MS: i64 = 15_000;
/// Prometheus cuts blocks at 2 h boundaries: data ending on one keeps a
/// 2 h run in a single block.
pub(crate) const BLOCK_MS: i64 = 2 * 3600 * 1000;
const SEED: u64 = 0x5EED_2026_0001;

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
            "--no-build" => o.build = false,
            "--keep" => o.keep = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown option {other:?}\n{USAGE}")),
        }
    }
    if o.targets == 0 || o.duration_ms < INTERVAL_MS {
        return Err("--targets and --duration must be positive (duration ≥ 15s)".into());
    }
    Ok(o)
}

/// `2h`, `90m` or `600s`.
pub(crate) fn parse_duration(s: &str) -> Result<i64> {
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = n
        .parse()
        .map_err(|_| format!("duration {s:?}: want e.g. 2h, 90m"))?;
    let ms = match unit {
        "h" => 3_600_000,
        "m" => 60_000,
        "s" => 1000,
        _ => return Err(format!("duration {s:?}: want e.g. 2h, 90m")),
    };
    Ok(n * ms)
}

pub fn run(args: &[String]) -> Result {
    let o = parse_options(args)?;
    // Check the peers first: no point generating data they cannot load.
    let promtool = peer_version("promtool", &["--version"], "prometheus")?;
    let vm_version = peer_version("victoria-metrics", &["-version"], "victoria-metrics")?;
    let vm_version = if vm_version.is_empty() {
        // Debian's build leaves the version string empty; ask dpkg instead.
        dpkg_version("victoria-metrics").unwrap_or_else(|| "unknown version".into())
    } else {
        vm_version
    };
    let promtool = promtool.lines().next().unwrap_or_default().to_owned();

    let out = root().join("target/bench-storage");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let work = TempDir::new(out.join(format!("work-{}", std::process::id())), o.keep)?;

    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_millis() as i64;
    let end_ms = now_ms / BLOCK_MS * BLOCK_MS;
    let start_ms = end_ms - o.duration_ms / INTERVAL_MS * INTERVAL_MS;
    let started = Instant::now();
    let data = Dataset::generate(o.targets, start_ms, end_ms);
    let om_path = out.join("openmetrics.txt");
    let file =
        std::fs::File::create(&om_path).map_err(|e| format!("{}: {e}", om_path.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    data.write(&mut w, Format::OpenMetrics)
        .and_then(|()| w.flush())
        .map_err(|e| format!("{}: {e}", om_path.display()))?;
    let om_bytes = std::fs::metadata(&om_path).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "generated {} ({:.0} MB, {} series, {} samples, {} to {}) in {:.1} s",
        om_path.display(),
        om_bytes as f64 / 1e6,
        data.num_series(),
        data.samples,
        rfc3339(start_ms),
        rfc3339(end_ms),
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
    let json_path = out.join("results.json");
    std::fs::write(
        &json_path,
        render_json(&data, om_bytes, &rows, head.as_ref()),
    )
    .map_err(|e| format!("{}: {e}", json_path.display()))?;
    eprintln!("wrote {}", json_path.display());
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
// Peers

/// `cmd args` output, or an error naming the Debian package to install.
pub(crate) fn peer_version(cmd: &str, args: &[&str], package: &str) -> Result<String> {
    let out = Command::new(cmd).args(args).output().map_err(|e| {
        format!("{cmd} not found ({e}); install the Debian package: apt-get install {package}")
    })?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Ok(text.trim().to_owned())
}

pub(crate) fn dpkg_version(package: &str) -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", package])
        .output()
        .ok()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !v.is_empty()).then(|| format!("{package} {v} (Debian)"))
}

/// A directory removed when dropped, unless kept for inspection.
pub(crate) struct TempDir {
    pub(crate) path: PathBuf,
    keep: bool,
}

impl TempDir {
    pub(crate) fn new(path: PathBuf, keep: bool) -> Result<Self> {
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(TempDir { path, keep })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("kept {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A running peer, killed when dropped so an error never leaves it behind.
pub(crate) struct Server {
    pub(crate) child: Child,
}

impl Server {
    /// SIGTERM, so the peer flushes and writes what it keeps on disk at
    /// shutdown; SIGKILL if it has not exited within `timeout`.
    pub(crate) fn stop(mut self, timeout: Duration) -> Result {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("pid {pid} did not stop within {timeout:?}; killed"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map_err(|e| e.to_string())
}

/// One HTTP/1.0 exchange: 1.0 so the answer is never chunked and ends when
/// the peer closes the connection. `body` writes the request body, whose
/// length is measured first by writing it to a counter.
pub(crate) fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&BodyWriter>,
) -> Result<(u16, String)> {
    let what = format!("{method} http://{addr}{path}");
    let fail = |e: io::Error| format!("{what}: {e}");
    let len = match body {
        Some(body) => {
            let mut counter = Counter(0);
            body(&mut counter).map_err(fail)?;
            counter.0
        }
        None => 0,
    };
    let stream = TcpStream::connect(addr).map_err(fail)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(600)))
        .map_err(fail)?;
    let mut w = BufWriter::with_capacity(1 << 20, &stream);
    write!(
        w,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {len}\r\n\r\n"
    )
    .map_err(fail)?;
    if let Some(body) = body {
        body(&mut w).map_err(fail)?;
    }
    w.flush().map_err(fail)?;
    drop(w);
    let mut response = Vec::new();
    (&stream).read_to_end(&mut response).map_err(fail)?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("{what}: malformed response {head:?}"))?;
    Ok((code, body.to_owned()))
}

/// Writes a request body; called twice, to measure it and to send it.
pub(crate) type BodyWriter<'a> = dyn Fn(&mut dyn Write) -> io::Result<()> + 'a;

struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))? {
            let entry = entry.map_err(|e| e.to_string())?;
            // A file merged away between listing and stat is not an error.
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                let path = entry.path();
                let rel = path.strip_prefix(dir).unwrap_or(&path);
                sizes.add(classify(rel), meta.len());
            }
        }
    }
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
    let mut row = Row {
        store: "prometheus".into(),
        version: version.into(),
        result: Err(String::new()),
        samples: None,
        import: None,
        notes: Vec::new(),
    };
    let mut cmd = Command::new("promtool");
    cmd.args(["tsdb", "create-blocks-from", "openmetrics", "--quiet"])
        .arg(om)
        .arg(&dir);
    let started = Instant::now();
    row.result = run_quiet(cmd).and_then(|()| {
        row.import = Some(started.elapsed());
        row.samples = block_samples(&dir);
        let blocks = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
        row.notes.push(format!("{blocks} block(s)"));
        dir_sizes(&dir, &classify_blocks)
    });
    row
}

/// Runs `cmd`, keeping its output unless it fails.
pub(crate) fn run_quiet(mut cmd: Command) -> Result {
    eprintln!("$ {}", describe(&cmd));
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {}: {e}", describe(&cmd)))?;
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        // The error is usually last, after any progress lines.
        let msg = stdout
            .lines()
            .chain(stderr.lines())
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("no output");
        Err(format!("{} ({}): {msg}", describe(&cmd), out.status))
    }
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
    let mut row = Row {
        store: "victoria-metrics".into(),
        version: version.into(),
        result: Err(String::new()),
        samples: None,
        import: None,
        notes: Vec::new(),
    };
    row.result = victoria_metrics(data, work, out, &mut row);
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

fn victoria_metrics(data: &Dataset, work: &Path, out: &Path, row: &mut Row) -> Result<Sizes> {
    let dir = work.join("victoria-metrics");
    let addr = free_port()?;
    let log_path = out.join("victoria-metrics.log");
    let log =
        std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let mut cmd = Command::new("victoria-metrics");
    cmd.arg(format!("-storageDataPath={}", dir.display()))
        .arg(format!("-httpListenAddr={addr}"))
        // The data is hours old; the default retention (1 month) would
        // do, but a long one rules retention out entirely.
        .arg("-retentionPeriod=100y")
        .arg("-search.disableCache")
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log);
    eprintln!("$ {}", describe(&cmd));
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start victoria-metrics: {e}"))?;
    let mut server = Server { child };
    let log_hint = || format!("see {}", log_path.display());

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(st)) = server.child.try_wait() {
            return Err(format!(
                "victoria-metrics exited at start-up ({st}); {}",
                log_hint()
            ));
        }
        if let Ok((200, _)) = http(addr, "GET", "/health", None) {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "victoria-metrics not ready within 30 s; {}",
                log_hint()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    let started = Instant::now();
    let body = |w: &mut dyn Write| data.write(w, Format::PrometheusMillis);
    let (code, text) = http(addr, "POST", "/api/v1/import/prometheus", Some(&body))?;
    if code / 100 != 2 {
        return Err(format!("import: HTTP {code}: {}", text.trim()));
    }
    expect_ok(
        http(addr, "GET", "/internal/force_flush", None)?,
        "force_flush",
    )?;
    row.import = Some(started.elapsed());

    // Count what came back rather than trusting the import: a rejected
    // import would otherwise show as a tiny, flattering size.
    let (series, samples) = vm_export_count(addr, data)?;
    row.samples = Some(samples);
    if series != data.num_series() as u64 || samples != data.samples {
        return Err(format!(
            "import incomplete: exported {series} series / {samples} samples, \
             generated {} / {}",
            data.num_series(),
            data.samples
        ));
    }

    // Merge each month's partition into as few parts as possible, as the
    // background merges would do eventually; this runs asynchronously, so
    // wait until the size stops changing.
    let merging = Instant::now();
    for month in months(data.start_ms, data.end_ms - 1) {
        let path = format!("/internal/force_merge?partition_prefix={month}");
        expect_ok(http(addr, "GET", &path, None)?, "force_merge")?;
    }
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
    server.stop(Duration::from_secs(60))?;
    dir_sizes(&dir, &classify_vm)
}

pub(crate) fn expect_ok((code, text): (u16, String), what: &str) -> Result {
    if code / 100 == 2 {
        Ok(())
    } else {
        Err(format!("{what}: HTTP {code}: {}", text.trim()))
    }
}

/// (series, samples) exported by VictoriaMetrics for the dataset's range.
pub(crate) fn vm_export_count(addr: SocketAddr, data: &Dataset) -> Result<(u64, u64)> {
    // match[]={__name__!=""}
    let path = format!(
        "/api/v1/export?match%5B%5D=%7B__name__%21%3D%22%22%7D&start={}&end={}",
        data.start_ms / 1000,
        data.end_ms / 1000 + 1
    );
    let (code, body) = http(addr, "GET", &path, None)?;
    if code != 200 {
        return Err(format!("export: HTTP {code}: {}", body.trim()));
    }
    let (mut series, mut samples) = (0, 0);
    for line in body.lines().filter(|l| !l.is_empty()) {
        series += 1;
        let ts = line
            .split("\"timestamps\":[")
            .nth(1)
            .and_then(|rest| rest.split(']').next())
            .ok_or_else(|| format!("export: unexpected line {:.200}", line))?;
        if !ts.is_empty() {
            samples += ts.split(',').count() as u64;
        }
    }
    Ok((series, samples))
}

/// VictoriaMetrics' monthly partition names (`YYYY_MM`) covering a range.
pub(crate) fn months(from_ms: i64, to_ms: i64) -> Vec<String> {
    let name = |ms: i64| {
        let (y, m, _) = civil(ms.div_euclid(86_400_000));
        format!("{y:04}_{m:02}")
    };
    let mut out = vec![name(from_ms)];
    let mut day = from_ms.div_euclid(86_400_000);
    while day <= to_ms.div_euclid(86_400_000) {
        let n = name(day * 86_400_000);
        if out.last() != Some(&n) {
            out.push(n);
        }
        day += 1;
    }
    out
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's
/// civil_from_days).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

pub(crate) fn rfc3339(ms: i64) -> String {
    let (y, mo, d) = civil(ms.div_euclid(86_400_000));
    let s = ms.rem_euclid(86_400_000) / 1000;
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

fn measure_wasmetheus(o: &Options, om: &Path, work: &Path) -> Row {
    let mut row = Row {
        store: "wasmetheus".into(),
        version: "target/release/wasmetheus".into(),
        result: Err(String::new()),
        samples: None,
        import: None,
        notes: Vec::new(),
    };
    let bin = root().join("target/release/wasmetheus");
    if o.build {
        let mut cmd = cargo();
        cmd.args([
            "build",
            "--release",
            "-p",
            "wasmetheus",
            "--bin",
            "wasmetheus",
        ]);
        if let Err(e) = status(cmd) {
            row.result = Err(format!("build failed: {e}"));
            return row;
        }
    }
    if !bin.is_file() {
        row.result = Err(format!("{} does not exist", bin.display()));
        return row;
    }
    let dir = work.join("wasmetheus");
    let mut cmd = Command::new(&bin);
    cmd.args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(om)
        .arg(&dir);
    let started = Instant::now();
    row.result = run_quiet(cmd).and_then(|()| {
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
        data.targets.len(),
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

fn json_str(s: &str) -> String {
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

fn json_opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or("null".into(), |v| v.to_string())
}

fn render_json(data: &Dataset, om_bytes: u64, rows: &[Row], head: Option<&HeadRss>) -> String {
    let mut s = String::from("{\n");
    let _ = writeln!(
        s,
        "  \"dataset\": {{\"targets\": {}, \"series\": {}, \"samples\": {}, \
         \"interval_s\": 15, \"start\": {}, \"end\": {}, \"openmetrics_bytes\": {om_bytes}}},",
        data.targets.len(),
        data.num_series(),
        data.samples,
        json_str(&rfc3339(data.start_ms)),
        json_str(&rfc3339(data.end_ms)),
    );
    s.push_str("  \"stores\": [\n");
    for (i, r) in rows.iter().enumerate() {
        let _ = write!(
            s,
            "    {{\"store\": {}, \"version\": {}, \"samples_reported\": {}, \"import_s\": {}, ",
            json_str(&r.store),
            json_str(&r.version),
            json_opt(r.samples),
            json_opt(r.import.map(|d| d.as_secs_f64())),
        );
        match &r.result {
            Ok(sizes) => {
                let parts: Vec<String> = sizes
                    .parts
                    .iter()
                    .map(|(p, n)| format!("{}: {n}", json_str(p)))
                    .collect();
                let _ = write!(
                    s,
                    "\"bytes\": {}, \"bytes_per_sample\": {:.4}, \"parts\": {{{}}}, ",
                    sizes.total,
                    sizes.total as f64 / data.samples as f64,
                    parts.join(", ")
                );
            }
            Err(e) => {
                let _ = write!(s, "\"error\": {}, ", json_str(e));
            }
        }
        let notes: Vec<String> = r.notes.iter().map(|n| json_str(n)).collect();
        let comma = if i + 1 < rows.len() { "," } else { "" };
        let _ = writeln!(s, "\"notes\": [{}]}}{comma}", notes.join(", "));
    }
    s.push_str("  ],\n");
    match head {
        Some(h) => {
            let (output, error) = match &h.output {
                Ok(o) => (json_str(o), "null".into()),
                Err(e) => ("null".into(), json_str(e)),
            };
            let _ = writeln!(
                s,
                "  \"head_rss\": {{\"series\": {}, \"samples_per_series\": {}, \
                 \"bytes_per_series\": {}, \"output\": {output}, \"error\": {error}}}",
                h.series,
                h.samples_per_series,
                json_opt(h.bytes_per_series)
            );
        }
        None => s.push_str("  \"head_rss\": null\n"),
    }
    s.push_str("}\n");
    s
}

// ---------------------------------------------------------------------------
// The dataset

/// xorshift64*: deterministic, so every run generates the same values.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // Scramble so nearby seeds give unrelated streams; never zero.
        Rng((seed ^ 0x9E37_79B9_7F4A_7C15).wrapping_mul(0xBF58_476D_1CE4_E5B9) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Target {
    /// `job="…",instance="…",…`, shared by every series of the target.
    labels: String,
    /// Scrape timestamps in milliseconds, shared by every series.
    times: Vec<i64>,
}

/// One OpenMetrics MetricPoint stream: the series written together per
/// timestamp (a histogram's buckets, count and sum; otherwise one series).
struct Metric {
    target: usize,
    series: Vec<Series>,
}

struct Series {
    /// `name{labels}`.
    prefix: String,
    /// Values as integers of their last printed digit, so both formats
    /// print exactly the same text.
    values: Vec<i64>,
    decimals: u8,
}

struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    metrics: Vec<Metric>,
}

pub(crate) struct Dataset {
    targets: Vec<Target>,
    families: Vec<Family>,
    pub(crate) samples: u64,
    pub(crate) start_ms: i64,
    pub(crate) end_ms: i64,
}

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Format {
    /// Seconds with millisecond decimals, `# TYPE`/`# HELP`, `# EOF`.
    OpenMetrics,
    /// Prometheus text with millisecond timestamps, as VictoriaMetrics'
    /// `/api/v1/import/prometheus` takes it.
    PrometheusMillis,
}

const BUCKETS: [(&str, f64); 11] = [
    ("0.005", 0.005),
    ("0.01", 0.01),
    ("0.025", 0.025),
    ("0.05", 0.05),
    ("0.1", 0.1),
    ("0.25", 0.25),
    ("0.5", 0.5),
    ("1", 1.0),
    ("2.5", 2.5),
    ("5", 5.0),
    ("10", 10.0),
];

impl Dataset {
    /// `targets` targets of 50 series each, scraped every 15 s in
    /// [start_ms, end_ms).
    pub(crate) fn generate(targets: usize, start_ms: i64, end_ms: i64) -> Dataset {
        let points = ((end_ms - start_ms) / INTERVAL_MS) as usize;
        let jobs = ["node", "api", "worker", "db"];
        let regions = ["eu-west-1", "us-east-1", "ap-south-1"];
        let targets: Vec<Target> = (0..targets)
            .map(|t| {
                let mut rng = Rng::new(SEED ^ ((t as u64) << 8));
                // Targets are spread over the interval, as Prometheus does;
                // the margins keep jittered samples inside [start, end).
                let offset = 10 + rng.below(INTERVAL_MS as u64 - 20) as i64;
                let jitter = t % 2 == 1;
                let times = (0..points)
                    .map(|i| {
                        let j = if jitter { rng.below(9) as i64 - 4 } else { 0 };
                        start_ms + offset + i as i64 * INTERVAL_MS + j
                    })
                    .collect();
                let labels = format!(
                    "job=\"{}\",instance=\"10.{}.{}.{}:9100\",cluster=\"k8s-{}\",env=\"{}\",region=\"{}\"",
                    jobs[t % jobs.len()],
                    t / 65_536 % 256,
                    t / 256 % 256,
                    t % 256,
                    t % 3,
                    if t % 5 == 0 { "staging" } else { "prod" },
                    regions[t % regions.len()],
                );
                Target { labels, times }
            })
            .collect();

        // (name, kind, help, per-target generator of its metrics)
        type Gen = fn(&mut Rng, &Target, usize, i64) -> Vec<Metric>;
        let specs: [(&str, &str, &str, Gen); 11] = [
            ("http_requests", "counter", "Requests served.", gen_requests),
            (
                "http_request_duration_seconds",
                "histogram",
                "Request latency.",
                gen_latency,
            ),
            ("node_cpu_seconds", "counter", "CPU time per mode.", gen_cpu),
            (
                "node_network_receive_bytes",
                "counter",
                "Bytes received.",
                |r, t, n, s| gen_bytes(r, t, n, s, "node_network_receive_bytes_total", 2e6),
            ),
            (
                "node_network_transmit_bytes",
                "counter",
                "Bytes sent.",
                |r, t, n, s| gen_bytes(r, t, n, s, "node_network_transmit_bytes_total", 8e5),
            ),
            (
                "node_hwmon_temp_celsius",
                "gauge",
                "Sensor temperature.",
                gen_temp,
            ),
            (
                "node_memory_usage_megabytes",
                "gauge",
                "Memory in use.",
                gen_memory,
            ),
            (
                "up",
                "gauge",
                "Whether the scrape succeeded.",
                |_, t, n, _| constant(t, "up", "", n, 1),
            ),
            (
                "node_uname_info",
                "gauge",
                "Kernel identity.",
                |r, t, n, _| {
                    let extra = format!(
                        ",nodename=\"host-{}\",release=\"6.1.0-{}-amd64\"",
                        r.below(10_000),
                        20 + r.below(8)
                    );
                    constant(t, "node_uname_info", &extra, n, 1)
                },
            ),
            ("build_info", "gauge", "Build identity.", |r, t, n, _| {
                let extra = format!(
                    ",version=\"2.{}.0\",revision=\"{:012x}\"",
                    r.below(5) + 40,
                    r.next() >> 16
                );
                constant(t, "build_info", &extra, n, 1)
            }),
            (
                "node_boot_time_seconds",
                "gauge",
                "Boot time.",
                |r, t, n, start| {
                    let boot = start / 1000 - 3600 - r.below(30 * 86_400) as i64;
                    constant(t, "node_boot_time_seconds", "", n, boot)
                },
            ),
        ];
        let families: Vec<Family> = specs
            .iter()
            .enumerate()
            .map(|(f, &(name, kind, help, generate))| Family {
                name,
                kind,
                help,
                metrics: targets
                    .iter()
                    .enumerate()
                    .flat_map(|(t, target)| {
                        let mut rng = Rng::new(SEED ^ ((f as u64) << 32) ^ t as u64);
                        let mut metrics = generate(&mut rng, target, points, start_ms);
                        for m in &mut metrics {
                            m.target = t;
                        }
                        metrics
                    })
                    .collect(),
            })
            .collect();
        let samples = families
            .iter()
            .flat_map(|f| &f.metrics)
            .map(|m| (m.series.len() * points) as u64)
            .sum();
        Dataset {
            targets,
            families,
            samples,
            start_ms,
            end_ms,
        }
    }

    pub(crate) fn num_series(&self) -> usize {
        self.families
            .iter()
            .flat_map(|f| &f.metrics)
            .map(|m| m.series.len())
            .sum()
    }

    /// Family after family, never interleaved; within one, metric after
    /// metric, each a run of MetricPoints in time order, as OpenMetrics
    /// requires and promtool expects (samples of a series in time order).
    pub(crate) fn write(&self, w: &mut dyn Write, format: Format) -> io::Result<()> {
        for family in &self.families {
            if format == Format::OpenMetrics {
                writeln!(w, "# TYPE {} {}", family.name, family.kind)?;
                writeln!(w, "# HELP {} {}", family.name, family.help)?;
            }
            for metric in &family.metrics {
                let times = &self.targets[metric.target].times;
                for (i, &t) in times.iter().enumerate() {
                    for s in &metric.series {
                        w.write_all(s.prefix.as_bytes())?;
                        w.write_all(b" ")?;
                        write_fixed(w, s.values[i], s.decimals)?;
                        match format {
                            Format::OpenMetrics => writeln!(w, " {}.{:03}", t / 1000, t % 1000)?,
                            Format::PrometheusMillis => writeln!(w, " {t}")?,
                        }
                    }
                }
            }
        }
        if format == Format::OpenMetrics {
            writeln!(w, "# EOF")?;
        }
        Ok(())
    }
}

/// `units` × 10^-decimals, printed exactly.
fn write_fixed(w: &mut dyn Write, units: i64, decimals: u8) -> io::Result<()> {
    if decimals == 0 {
        return write!(w, "{units}");
    }
    let scale = 10i64.pow(u32::from(decimals));
    let sign = if units < 0 { "-" } else { "" };
    let a = units.unsigned_abs();
    write!(
        w,
        "{sign}{}.{:0width$}",
        a / scale as u64,
        a % scale as u64,
        width = usize::from(decimals)
    )
}

fn series(target: &Target, name: &str, extra: &str, decimals: u8, values: Vec<i64>) -> Series {
    Series {
        prefix: format!("{name}{{{}{extra}}}", target.labels),
        values,
        decimals,
    }
}

fn single(s: Series) -> Metric {
    Metric {
        target: 0,
        series: vec![s],
    }
}

/// A counter rising by about `mean` per scrape (a Bernoulli trial when the
/// mean is below one, like rare errors), from a random start.
fn counter(rng: &mut Rng, points: usize, start: u64, mean: f64) -> Vec<i64> {
    let mut v = rng.below(start.max(1)) as i64;
    (0..points)
        .map(|_| {
            v += if mean < 1.0 {
                i64::from(rng.unit() < mean)
            } else {
                (mean * (0.5 + rng.unit())).round() as i64
            };
            v
        })
        .collect()
}

/// A gauge walking by up to ±`step` per scrape within [lo, hi].
fn walk(rng: &mut Rng, points: usize, lo: i64, hi: i64, step: i64) -> Vec<i64> {
    let mut v = lo + rng.below((hi - lo) as u64 / 2 + 1) as i64 + (hi - lo) / 4;
    (0..points)
        .map(|_| {
            v = (v + rng.below(2 * step as u64 + 1) as i64 - step).clamp(lo, hi);
            v
        })
        .collect()
}

fn constant(target: &Target, name: &str, extra: &str, points: usize, v: i64) -> Vec<Metric> {
    vec![single(series(target, name, extra, 0, vec![v; points]))]
}

fn gen_requests(rng: &mut Rng, target: &Target, points: usize, _: i64) -> Vec<Metric> {
    let mut out = Vec::new();
    for (method, scale) in [("GET", 1.0), ("POST", 0.15)] {
        for (code, share) in [("200", 400.0), ("404", 3.0), ("500", 0.2)] {
            let extra = format!(",method=\"{method}\",code=\"{code}\"");
            let values = counter(rng, points, 10_000_000, share * scale);
            out.push(single(series(
                target,
                "http_requests_total",
                &extra,
                0,
                values,
            )));
        }
    }
    out
}

/// One histogram: 12 cumulative buckets, `_count`, and `_sum` in seconds
/// with 3 decimals, fed by ~100 log-normal-ish observations per scrape.
fn gen_latency(rng: &mut Rng, target: &Target, points: usize, _: i64) -> Vec<Metric> {
    let name = "http_request_duration_seconds";
    let mut buckets = vec![vec![0i64; points]; BUCKETS.len() + 1];
    let (mut count, mut sum_ms) = (vec![0i64; points], vec![0i64; points]);
    let mut acc = vec![rng.below(100_000) as i64; BUCKETS.len() + 1];
    let mut acc_sum = acc[0] * 40;
    for i in 0..points {
        for _ in 0..50 + rng.below(100) {
            let z = rng.unit() + rng.unit() + rng.unit() + rng.unit() - 2.0;
            let latency = 0.03 * (2.5 * z).exp();
            acc_sum += (latency * 1000.0).round() as i64;
            let first = BUCKETS
                .iter()
                .position(|&(_, le)| latency <= le)
                .unwrap_or(BUCKETS.len());
            for a in &mut acc[first..] {
                *a += 1;
            }
        }
        for (b, a) in buckets.iter_mut().zip(&acc) {
            b[i] = *a;
        }
        count[i] = acc[BUCKETS.len()];
        sum_ms[i] = acc_sum;
    }
    let handler = ",handler=\"/api/v1/query\"";
    let mut series_list: Vec<Series> = BUCKETS
        .iter()
        .map(|&(le, _)| le)
        .chain(["+Inf"])
        .zip(buckets)
        .map(|(le, values)| {
            let extra = format!("{handler},le=\"{le}\"");
            series(target, &format!("{name}_bucket"), &extra, 0, values)
        })
        .collect();
    series_list.push(series(target, &format!("{name}_count"), handler, 0, count));
    series_list.push(series(target, &format!("{name}_sum"), handler, 3, sum_ms));
    vec![Metric {
        target: 0,
        series: series_list,
    }]
}

/// 4 CPUs × 4 modes, in hundredths of a second.
fn gen_cpu(rng: &mut Rng, target: &Target, points: usize, _: i64) -> Vec<Metric> {
    let mut out = Vec::new();
    for cpu in 0..4 {
        for (mode, share) in [
            ("idle", 0.7),
            ("iowait", 0.01),
            ("system", 0.05),
            ("user", 0.2),
        ] {
            let extra = format!(",cpu=\"{cpu}\",mode=\"{mode}\"");
            let values = counter(rng, points, 100_000_000, 1500.0 * share);
            out.push(single(series(
                target,
                "node_cpu_seconds_total",
                &extra,
                2,
                values,
            )));
        }
    }
    out
}

fn gen_bytes(
    rng: &mut Rng,
    target: &Target,
    points: usize,
    _: i64,
    name: &str,
    mean: f64,
) -> Vec<Metric> {
    [("eth0", mean), ("lo", mean / 40.0)]
        .into_iter()
        .map(|(device, mean)| {
            let extra = format!(",device=\"{device}\"");
            single(series(
                target,
                name,
                &extra,
                0,
                counter(rng, points, 1 << 40, mean),
            ))
        })
        .collect()
}

/// Four sensors, 25–95 °C in hundredths.
fn gen_temp(rng: &mut Rng, target: &Target, points: usize, _: i64) -> Vec<Metric> {
    (1..=4)
        .map(|sensor| {
            let extra = format!(",chip=\"platform_coretemp_0\",sensor=\"temp{sensor}\"");
            let values = walk(rng, points, 2500, 9500, 50);
            single(series(target, "node_hwmon_temp_celsius", &extra, 2, values))
        })
        .collect()
}

/// Used and cached memory, 1–16 GB in hundredths of a megabyte.
fn gen_memory(rng: &mut Rng, target: &Target, points: usize, _: i64) -> Vec<Metric> {
    ["used", "cached"]
        .into_iter()
        .map(|kind| {
            let extra = format!(",kind=\"{kind}\"");
            let values = walk(rng, points, 100_000, 1_600_000, 2500);
            single(series(
                target,
                "node_memory_usage_megabytes",
                &extra,
                2,
                values,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(19_723), (2024, 1, 1));
        assert_eq!(rfc3339(1_709_164_800_000), "2024-02-29T00:00:00Z");
        assert_eq!(
            months(1_709_164_800_000, 1_709_251_200_000),
            ["2024_02", "2024_03"]
        );
    }

    #[test]
    fn generated_text_is_ordered_and_deterministic() {
        let start = 1_700_000_000_000 / BLOCK_MS * BLOCK_MS;
        let data = Dataset::generate(3, start, start + 10 * INTERVAL_MS);
        assert_eq!(data.num_series(), 150);
        assert_eq!(data.samples, 1500);
        let mut a = Vec::new();
        data.write(&mut a, Format::OpenMetrics).unwrap();
        let mut b = Vec::new();
        Dataset::generate(3, start, start + 10 * INTERVAL_MS)
            .write(&mut b, Format::OpenMetrics)
            .unwrap();
        assert_eq!(a, b);
        let text = String::from_utf8(a).unwrap();
        assert!(text.ends_with("# EOF\n"));
        // Within a series, time strictly increases.
        let mut last = std::collections::HashMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (series, rest) = line.rsplit_once('}').unwrap();
            let t: f64 = rest.split_whitespace().nth(1).unwrap().parse().unwrap();
            assert!(
                (start as f64 / 1000.0..(start + 10 * INTERVAL_MS) as f64 / 1000.0).contains(&t)
            );
            if let Some(prev) = last.insert(series.to_owned(), t) {
                assert!(t > prev, "{line}");
            }
        }
    }
}
