//! Helpers shared by the live benchmarks (`bench ingest`, `bench query`):
//! the three servers started and stopped one after the other, /proc
//! sampling of CPU and RSS, disk usage, and small HTTP utilities.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::storage::{Server, dpkg_version, free_port, http, peer_version};
use crate::{Result, cargo, describe, root, status};

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
        match kind {
            Kind::Wasmetheus => {
                if build {
                    let mut cmd = cargo();
                    cmd.args([
                        "build",
                        "--release",
                        "-p",
                        "wasmetheus",
                        "--bin",
                        "wasmetheus",
                    ]);
                    status(cmd)?;
                }
                let bin = root().join("target/release/wasmetheus");
                if !bin.is_file() {
                    return Err(format!("{} does not exist", bin.display()));
                }
                peers.push(Peer {
                    kind,
                    bin,
                    version: "target/release/wasmetheus".into(),
                });
            }
            Kind::Prometheus => match peer_version("prometheus", &["--version"], "prometheus") {
                Ok(v) => peers.push(Peer {
                    kind,
                    bin: "prometheus".into(),
                    version: v.lines().next().unwrap_or_default().to_owned(),
                }),
                Err(e) => skipped.push(format!("prometheus SKIPPED: {e}")),
            },
            Kind::VictoriaMetrics => {
                match peer_version("victoria-metrics", &["-version"], "victoria-metrics") {
                    Ok(v) => {
                        // Debian's build leaves the version string empty.
                        let v = if v.is_empty() {
                            dpkg_version("victoria-metrics")
                                .unwrap_or_else(|| "unknown version".into())
                        } else {
                            v
                        };
                        peers.push(Peer {
                            kind,
                            bin: "victoria-metrics".into(),
                            version: v,
                        });
                    }
                    Err(e) => skipped.push(format!("victoria-metrics SKIPPED: {e}")),
                }
            }
        }
    }
    for s in &skipped {
        eprintln!("WARNING: {s}");
    }
    Ok((peers, skipped))
}

/// A started server: killed when dropped (through `Server`), stopped
/// cleanly with `stop`.
pub(crate) struct Running {
    server: Server,
    pub(crate) addr: SocketAddr,
    pub(crate) pid: u32,
    pub(crate) log: PathBuf,
}

impl Running {
    /// SIGTERM and wait, so every server shuts down the way it would in
    /// production before the next one starts.
    pub(crate) fn stop(self) -> Result {
        self.server.stop(Duration::from_secs(60))
    }

    /// Whether the process is still alive (a crash shows as an error
    /// rather than as suspiciously low figures).
    pub(crate) fn check_alive(&mut self) -> Result {
        match self.server.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(st)) => Err(format!("exited ({st}); see {}", self.log.display())),
            Err(e) => Err(e.to_string()),
        }
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
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log);
    eprintln!("$ {}", describe(&cmd));
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", peer.bin.display()))?;
    let pid = child.id();
    let mut running = Running {
        server: Server { child },
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
        if started.elapsed() > Duration::from_secs(120) {
            return Err(format!(
                "{} not ready within 120 s; see {}",
                peer.kind.name(),
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

/// Waits until the process has used under 2 % of a core for three
/// seconds in a row (start-up work, merges and compactions done), at most
/// `max`. Returns how long that took, or None if it never settled.
pub(crate) fn wait_idle(pid: u32, max: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut quiet = 0;
    let mut last = proc_stats(pid).ok()?.cpu_s;
    while started.elapsed() < max {
        std::thread::sleep(Duration::from_secs(1));
        let now = proc_stats(pid).ok()?.cpu_s;
        quiet = if now - last < 0.02 { quiet + 1 } else { 0 };
        last = now;
        if quiet >= 3 {
            return Some(started.elapsed());
        }
    }
    None
}

// ---------------------------------------------------------------------------
// /proc

/// CPU time and memory of one process (all its threads).
#[derive(Clone, Copy, Default)]
pub(crate) struct ProcStats {
    /// utime + stime, in seconds.
    pub(crate) cpu_s: f64,
    /// VmRSS, bytes.
    pub(crate) rss: u64,
    /// VmHWM (peak RSS), bytes.
    pub(crate) hwm: u64,
}

fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .filter(|&t: &f64| t > 0.0)
            .unwrap_or(100.0)
    })
}

pub(crate) fn proc_stats(pid: u32) -> Result<ProcStats> {
    let stat_path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&stat_path).map_err(|e| format!("{stat_path}: {e}"))?;
    // The command name may hold spaces and parentheses: fields are counted
    // from the last ')'. After it come state (field 3) … utime (14), stime (15).
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| format!("{stat_path}: malformed"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .map(|t| t as f64)
            .ok_or_else(|| format!("{stat_path}: malformed"))
    };
    let cpu_s = (ticks(11)? + ticks(12)?) / clock_ticks();
    let status_path = format!("/proc/{pid}/status");
    let status =
        std::fs::read_to_string(&status_path).map_err(|e| format!("{status_path}: {e}"))?;
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |k| k * 1024)
    };
    Ok(ProcStats {
        cpu_s,
        rss: kb("VmRSS:"),
        hwm: kb("VmHWM:"),
    })
}

/// Bytes under `dir` as `du` counts them (allocated blocks) and as file
/// lengths; files vanishing while listed are skipped.
pub(crate) fn du(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let (mut allocated, mut apparent) = (0, 0);
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                allocated += meta.blocks() * 512;
                apparent += meta.len();
            }
        }
    }
    (allocated, apparent)
}

// ---------------------------------------------------------------------------
// HTTP

/// GET `path`, failing on anything but 200.
pub(crate) fn get(addr: SocketAddr, path: &str) -> Result<String> {
    match http(addr, "GET", path, None)? {
        (200, body) => Ok(body),
        (code, body) => Err(format!("GET {path}: HTTP {code}: {:.300}", body.trim())),
    }
}

/// Sum of the values of every sample in a text exposition whose series is
/// `series`: a bare name matches the name with any labels, a name with
/// labels matches that series exactly. None if there is no such sample.
pub(crate) fn metric_sum(text: &str, series: &str) -> Option<f64> {
    let mut sum = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((key, value)) = line.rsplit_once(' ') else {
            continue;
        };
        // A trailing timestamp: the value is the field before it.
        let (key, value) = match key.rsplit_once(' ') {
            Some((k, v)) if !key.ends_with('}') && v.parse::<f64>().is_ok() => (k, v),
            _ => (key, value),
        };
        let matches = if series.contains('{') {
            key == series
        } else {
            key == series || key.strip_prefix(series).is_some_and(|r| r.starts_with('{'))
        };
        if matches && let Ok(v) = value.parse::<f64>() {
            *sum.get_or_insert(0.0) += v;
        }
    }
    sum
}

/// Percent-encodes a query parameter value.
pub(crate) fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `1.5 MiB`-style sizes.
pub(crate) fn bytes(n: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB"];
    let mut v = n;
    let mut u = 0;
    while v.abs() >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// `a / b` as a ratio, or `-` when either is missing or b is zero.
pub(crate) fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => format!("{:.2}×", a / b),
        _ => "-".into(),
    }
}

/// The value after the flag `name` on a command line, or an error showing
/// `usage`.
pub(crate) fn flag_value(
    args: &mut std::slice::Iter<'_, String>,
    name: &str,
    usage: &str,
) -> Result<String> {
    args.next()
        .cloned()
        .ok_or_else(|| format!("{name} needs a value\n{usage}"))
}

/// A count given to `flag`, `_` separators allowed (`100_000`).
pub(crate) fn count(flag: &str, text: &str) -> Result<usize> {
    text.replace('_', "")
        .parse::<usize>()
        .map_err(|_| format!("{flag} {text:?}: not a number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_sums() {
        let text = "# HELP x y\n\
                    prometheus_tsdb_head_series 95100\n\
                    prometheus_tsdb_head_samples_appended_total{type=\"float\"} 1e+06\n\
                    prometheus_tsdb_head_samples_appended_total{type=\"histogram\"} 5\n\
                    vm_cache_entries{type=\"storage/hour_metric_ids\"} 42 1700000000000\n\
                    vm_cache_entries{type=\"other\"} 1\n";
        assert_eq!(
            metric_sum(text, "prometheus_tsdb_head_samples_appended_total"),
            Some(1_000_005.0)
        );
        assert_eq!(
            metric_sum(text, "prometheus_tsdb_head_series"),
            Some(95_100.0)
        );
        assert_eq!(
            metric_sum(text, "vm_cache_entries{type=\"storage/hour_metric_ids\"}"),
            Some(42.0)
        );
        assert_eq!(metric_sum(text, "prometheus_tsdb_head"), None);
    }

    #[test]
    fn encodes() {
        assert_eq!(
            urlencode("a{b=~\"x|y\"}[5m]"),
            "a%7Bb%3D~%22x%7Cy%22%7D%5B5m%5D"
        );
    }
}
