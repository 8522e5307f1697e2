//! The servers the live benchmarks compare: wasmetheus (built in release),
//! Prometheus and VictoriaMetrics (Debian's packages) found with their
//! versions, started on a free port and stopped one after the other, and
//! VictoriaMetrics' import API, through which it is loaded with the data set.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::dataset::{Dataset, Format, months};
use super::support::{expect_ok, free_port, http, run_quiet};
use crate::{Result, cargo, describe, root, status};

/// The wasmetheus binary the benchmarks run, relative to the workspace;
/// also its version in reports.
pub(crate) const WASMETHEUS_BIN: &str = "target/release/wasmetheus";

/// The servers compared, in the order they run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Wasmetheus,
    Prometheus,
    VictoriaMetrics,
}

pub(crate) const ALL: [Kind; 3] = [Kind::Wasmetheus, Kind::Prometheus, Kind::VictoriaMetrics];

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Wasmetheus => "wasmetheus",
            Kind::Prometheus => "prometheus",
            Kind::VictoriaMetrics => "victoria-metrics",
        }
    }

    /// Parses a comma-separated `--servers` list.
    pub(crate) fn parse_list(s: &str) -> Result<Vec<Kind>> {
        s.split(',')
            .filter(|p| !p.is_empty())
            .map(|p| {
                ALL.into_iter()
                    .find(|k| k.name() == p || (p == "vm" && *k == Kind::VictoriaMetrics))
                    .ok_or_else(|| {
                        format!(
                            "unknown server {p:?}; want wasmetheus, prometheus, victoria-metrics"
                        )
                    })
            })
            .collect()
    }

    /// The path answering 200 once the server serves queries.
    fn ready_path(self) -> &'static str {
        match self {
            Kind::VictoriaMetrics => "/health",
            _ => "/-/ready",
        }
    }
}

/// A server binary found (and for wasmetheus, built) and its version.
pub(crate) struct Peer {
    pub(crate) kind: Kind,
    pub(crate) bin: PathBuf,
    pub(crate) version: String,
}

/// The servers asked for that can run here. A missing Debian peer is
/// reported and skipped (the comparison is then partial) rather than
/// failing the run; wasmetheus failing to build is an error.
pub(crate) fn find_peers(kinds: &[Kind], build: bool) -> Result<(Vec<Peer>, Vec<String>)> {
    let mut peers = Vec::new();
    let mut skipped = Vec::new();
    for &kind in kinds {
        let version = match kind {
            Kind::Wasmetheus => {
                if build {
                    build_wasmetheus()?;
                }
                peers.push(Peer {
                    kind,
                    bin: wasmetheus_bin()?,
                    version: WASMETHEUS_BIN.into(),
                });
                continue;
            }
            Kind::Prometheus => prometheus_version("prometheus"),
            Kind::VictoriaMetrics => victoria_metrics_version(),
        };
        match version {
            Ok(version) => peers.push(Peer {
                kind,
                bin: kind.name().into(),
                version,
            }),
            Err(e) => skipped.push(format!("{} SKIPPED: {e}", kind.name())),
        }
    }
    for s in &skipped {
        eprintln!("WARNING: {s}");
    }
    Ok((peers, skipped))
}

/// `cargo build --release` of the wasmetheus binary.
pub(crate) fn build_wasmetheus() -> Result {
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--release",
        "-p",
        "wasmetheus",
        "--bin",
        "wasmetheus",
    ]);
    status(cmd)
}

/// The release binary, which must exist (built or not by this run).
pub(crate) fn wasmetheus_bin() -> Result<PathBuf> {
    let bin = root().join(WASMETHEUS_BIN);
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!("{} does not exist", bin.display()))
    }
}

/// The first line of `cmd --version` for Prometheus' `prometheus` and
/// `promtool`.
pub(crate) fn prometheus_version(cmd: &str) -> Result<String> {
    let v = peer_version(cmd, &["--version"], "prometheus")?;
    Ok(v.lines().next().unwrap_or_default().to_owned())
}

pub(crate) fn victoria_metrics_version() -> Result<String> {
    let v = peer_version("victoria-metrics", &["-version"], "victoria-metrics")?;
    Ok(if v.is_empty() {
        // Debian's build leaves the version string empty; ask dpkg instead.
        dpkg_version("victoria-metrics").unwrap_or_else(|| "unknown version".into())
    } else {
        v
    })
}

/// `cmd args` output, or an error naming the Debian package to install.
fn peer_version(cmd: &str, args: &[&str], package: &str) -> Result<String> {
    let out = Command::new(cmd).args(args).output().map_err(|e| {
        format!("{cmd} not found ({e}); install the Debian package: apt-get install {package}")
    })?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Ok(text.trim().to_owned())
}

fn dpkg_version(package: &str) -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", package])
        .output()
        .ok()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !v.is_empty()).then(|| format!("{package} {v} (Debian)"))
}

// ---------------------------------------------------------------------------
// Running servers

/// A started server: killed when dropped so an error never leaves it
/// behind, stopped cleanly with `stop`.
pub(crate) struct Running {
    child: Child,
    pub(crate) addr: SocketAddr,
    pub(crate) pid: u32,
    pub(crate) log: PathBuf,
}

impl Running {
    /// SIGTERM and wait, so every server shuts down the way it would in
    /// production (flushing and writing what it keeps on disk) before the
    /// next one starts; SIGKILL if it has not exited within 60 s. Returns
    /// the graceful stop's time, from the signal to the exit.
    pub(crate) fn stop(mut self) -> Result<Duration> {
        let timeout = Duration::from_secs(60);
        let pid = self.pid.to_string();
        // From before `kill` runs: a few ms too long at worst.
        let signaled = Instant::now();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        while signaled.elapsed() < timeout {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Ok(signaled.elapsed());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Err(format!("pid {pid} did not stop within {timeout:?}; killed"))
    }

    /// Whether the process is still alive (a crash shows as an error
    /// rather than as suspiciously low figures).
    pub(crate) fn check_alive(&mut self) -> Result {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(st)) => Err(format!("exited ({st}); see {}", self.log.display())),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Starts `peer` on `data` with `config` (VictoriaMetrics reads it only
/// when `scrape`), logging to `log_path`, and waits until it is ready.
pub(crate) fn start(
    peer: &Peer,
    config: &Path,
    scrape: bool,
    data: &Path,
    log_path: &Path,
) -> Result<Running> {
    start_with(peer, config, scrape, data, log_path, &[], READY_WITHIN)
}

/// How long `start` waits for a server to be ready.
pub(crate) const READY_WITHIN: Duration = Duration::from_secs(120);

/// `start` with `extra` flags after the usual ones, waiting at most
/// `ready_within` (a server replaying a large WAL takes minutes).
pub(crate) fn start_with(
    peer: &Peer,
    config: &Path,
    scrape: bool,
    data: &Path,
    log_path: &Path,
    extra: &[&str],
    ready_within: Duration,
) -> Result<Running> {
    let addr = free_port()?;
    let log =
        std::fs::File::create(log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let mut cmd = Command::new(&peer.bin);
    match peer.kind {
        Kind::Wasmetheus => {
            // An empty plugins directory: only the configured targets (and
            // wasmetheus' own metrics) are scraped.
            let plugins = data.with_extension("empty-plugins");
            std::fs::create_dir_all(&plugins).map_err(|e| e.to_string())?;
            cmd.arg("serve")
                .arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.tsdb.path={}", data.display()))
                .arg(format!("--web.listen-address={addr}"))
                .arg(format!("--plugins.dir={}", plugins.display()));
        }
        Kind::Prometheus => {
            cmd.arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.tsdb.path={}", data.display()))
                .arg(format!("--web.listen-address={addr}"));
        }
        Kind::VictoriaMetrics => {
            cmd.arg(format!("-storageDataPath={}", data.display()))
                .arg(format!("-httpListenAddr={addr}"))
                // Backfilled data is hours old; retention must not touch it.
                .arg("-retentionPeriod=100y")
                // The rollup result cache would answer repeated range
                // queries from memory; neither other server has one.
                .arg("-search.disableCache");
            if scrape {
                cmd.arg(format!("-promscrape.config={}", config.display()));
            }
        }
    }
    cmd.args(extra);
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log);
    eprintln!("$ {}", describe(&cmd));
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", peer.bin.display()))?;
    let pid = child.id();
    let mut running = Running {
        child,
        addr,
        pid,
        log: log_path.to_owned(),
    };
    let started = Instant::now();
    loop {
        running.check_alive()?;
        if let Ok((200, _)) = http(addr, "GET", peer.kind.ready_path(), None) {
            break;
        }
        if started.elapsed() > ready_within {
            return Err(format!(
                "{} not ready within {} s; see {}",
                peer.kind.name(),
                ready_within.as_secs(),
                running.log.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "{} ready on {addr} (pid {pid}) after {:.1} s",
        peer.kind.name(),
        started.elapsed().as_secs_f64()
    );
    Ok(running)
}

/// Backfills the OpenMetrics file `om` into blocks under `dir` with
/// `bin tsdb create-blocks-from openmetrics` (wasmetheus or promtool),
/// `flags` after the subcommand.
pub(crate) fn create_blocks(bin: &Path, flags: &[&str], om: &Path, dir: &Path) -> Result {
    let mut cmd = Command::new(bin);
    cmd.args(["tsdb", "create-blocks-from", "openmetrics"])
        .args(flags)
        .arg(om)
        .arg(dir);
    run_quiet(cmd)
}

// ---------------------------------------------------------------------------
// VictoriaMetrics' import API

/// Posts the data set to `/api/v1/import/prometheus` and flushes it to
/// storage.
pub(crate) fn vm_import(addr: SocketAddr, data: &Dataset) -> Result {
    let body = |w: &mut dyn Write| data.write(w, Format::PrometheusMillis);
    let (code, text) = http(addr, "POST", "/api/v1/import/prometheus", Some(&body))?;
    if code / 100 != 2 {
        return Err(format!("import: HTTP {code}: {}", text.trim()));
    }
    expect_ok(
        http(addr, "GET", "/internal/force_flush", None)?,
        "force_flush",
    )
}

/// (series, samples) exported by VictoriaMetrics for the dataset's range:
/// counted rather than trusting the import, since a rejected import would
/// otherwise show as a tiny, flattering size or a fast query.
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

/// An error unless the export count is the whole data set.
pub(crate) fn vm_complete(data: &Dataset, (series, samples): (u64, u64)) -> Result {
    if series != data.num_series() as u64 || samples != data.samples {
        return Err(format!(
            "import incomplete: exported {series} series / {samples} samples, generated {} / {}",
            data.num_series(),
            data.samples
        ));
    }
    Ok(())
}

/// Asks VictoriaMetrics to merge each month's partition of the data set
/// into as few parts as possible, as the background merges would do
/// eventually. The merge runs asynchronously: callers wait for it.
pub(crate) fn vm_force_merge(addr: SocketAddr, data: &Dataset) -> Result {
    for month in months(data.start_ms, data.end_ms - 1) {
        let path = format!("/internal/force_merge?partition_prefix={month}");
        expect_ok(http(addr, "GET", &path, None)?, "force_merge")?;
    }
    Ok(())
}
