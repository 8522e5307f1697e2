//! Helpers shared by the live benchmarks (`bench storage`, `ingest`,
//! `query`): work directories, quiet commands, /proc sampling of CPU and
//! RSS, disk usage, a small HTTP client, command-line flags and the
//! figures' formatting in reports.

use std::fs::Metadata;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::{Result, describe};

// ---------------------------------------------------------------------------
// Work directories and commands

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

// ---------------------------------------------------------------------------
// Processes and disks

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

/// CPU time and memory of one process (all its threads).
#[derive(Clone, Copy, Default)]
pub(crate) struct ProcStats {
    /// utime + stime, in seconds.
    pub(crate) cpu_s: f64,
    /// VmRSS, bytes.
    pub(crate) rss: u64,
    /// VmHWM (peak RSS), bytes.
    pub(crate) hwm: u64,
    /// RssAnon (the heap, stacks, anonymous mappings), bytes.
    pub(crate) rss_anon: u64,
    /// RssFile + RssShmem (pages of mapped files: the binary, mapped
    /// data), bytes.
    pub(crate) rss_file: u64,
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
        rss_anon: kb("RssAnon:"),
        rss_file: kb("RssFile:") + kb("RssShmem:"),
    })
}

/// Calls `f` with every file under `dir` (its path relative to `dir`)
/// and its metadata. Fails only if `dir` itself cannot be read: files and
/// directories vanishing while listed (merges, compactions) are skipped.
pub(crate) fn walk(dir: &Path, f: &mut dyn FnMut(&Path, &Metadata)) -> Result {
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(entries) => entries,
            Err(e) if d == dir => return Err(format!("{}: {e}", dir.display())),
            Err(_) => continue,
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            let path = entry.path();
            if meta.is_dir() {
                stack.push(path);
            } else {
                f(path.strip_prefix(dir).unwrap_or(&path), &meta);
            }
        }
    }
    Ok(())
}

/// Bytes under `dir` as `du` counts them (allocated blocks) and as file
/// lengths; files vanishing while listed are skipped.
pub(crate) fn du(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let (mut allocated, mut apparent) = (0, 0);
    let _ = walk(dir, &mut |_, meta| {
        allocated += meta.blocks() * 512;
        apparent += meta.len();
    });
    (allocated, apparent)
}

// ---------------------------------------------------------------------------
// HTTP

/// An address on 127.0.0.1 free for a server to listen on.
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
    request(addr, method, path, &[], body)
}

/// `http` with extra request headers (`name`, `value`).
pub(crate) fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
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
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {len}\r\n"
    )
    .map_err(fail)?;
    for (name, value) in headers {
        write!(w, "{name}: {value}\r\n").map_err(fail)?;
    }
    w.write_all(b"\r\n").map_err(fail)?;
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

pub(crate) fn expect_ok((code, text): (u16, String), what: &str) -> Result {
    if code / 100 == 2 {
        Ok(())
    } else {
        Err(format!("{what}: HTTP {code}: {}", text.trim()))
    }
}

// ---------------------------------------------------------------------------
// Synthetic scrape targets

/// Listens for `targets` synthetic scrape targets on local ports, each
/// connection on its own thread, answered by the handler `handler(t)` made
/// for target `t`; the targets' addresses in order.
pub(crate) fn listen_targets<H>(
    targets: usize,
    mut handler: impl FnMut(usize) -> H,
) -> Result<Vec<SocketAddr>>
where
    H: Fn(TcpStream) + Send + Sync + 'static,
{
    let mut addrs = Vec::new();
    for t in 0..targets {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| format!("cannot listen for target {t}: {e}"))?;
        addrs.push(listener.local_addr().map_err(|e| e.to_string())?);
        let handler = Arc::new(handler(t));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let handler = Arc::clone(&handler);
                std::thread::spawn(move || handler(stream));
            }
        });
    }
    Ok(addrs)
}

/// Answers GETs on a kept-alive connection until the client closes it (or
/// asks to): each answer is the exposition `render` writes into the body
/// (cleared first, `capacity` bytes reserved once); `served` runs after
/// each answer is sent.
pub(crate) fn serve_scrapes(
    stream: TcpStream,
    capacity: usize,
    mut render: impl FnMut(&mut Vec<u8>),
    mut served: impl FnMut(),
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(&stream);
    let mut body = Vec::with_capacity(capacity);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut close = line.trim_end().ends_with("HTTP/1.0");
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
            if l.starts_with("connection:") && l.contains("close") {
                close = true;
            }
        }
        body.clear();
        render(&mut body);
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
             Content-Length: {}\r\n{}\r\n",
            body.len(),
            if close { "Connection: close\r\n" } else { "" }
        );
        if (&stream).write_all(head.as_bytes()).is_err() || (&stream).write_all(&body).is_err() {
            return;
        }
        served();
        if close {
            return;
        }
    }
}

/// splitmix64: cheap, stateless pseudo-randomness for values.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

// ---------------------------------------------------------------------------
// Flags and reports

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

/// The flags every bench takes after its own: `--no-build` (clears
/// `build`), `--keep` (sets `keep`) and `-h`/`--help` (`usage` as the
/// error); anything else is an unknown option.
pub(crate) fn common_flag(arg: &str, build: &mut bool, keep: &mut bool, usage: &str) -> Result {
    match arg {
        "--no-build" => *build = false,
        "--keep" => *keep = true,
        "-h" | "--help" => return Err(usage.into()),
        other => return Err(format!("unknown option {other:?}\n{usage}")),
    }
    Ok(())
}

/// A count given to `flag`, `_` separators allowed (`100_000`).
pub(crate) fn count(flag: &str, text: &str) -> Result<usize> {
    text.replace('_', "")
        .parse::<usize>()
        .map_err(|_| format!("{flag} {text:?}: not a number"))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic target (here the second of two) answers each request of
    /// a kept-alive connection with the next rendering of its own, and ends
    /// the connection when asked to.
    #[test]
    fn scrape_targets_answer_until_asked_to_close() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let served = Arc::new(AtomicUsize::new(0));
        let addrs = listen_targets(2, |t| {
            let served = Arc::clone(&served);
            let n = AtomicUsize::new(0);
            move |stream| {
                serve_scrapes(
                    stream,
                    16,
                    |body| {
                        let n = n.fetch_add(1, Ordering::SeqCst);
                        body.extend_from_slice(format!("t{t} {n}\n").as_bytes());
                    },
                    || {
                        served.fetch_add(1, Ordering::SeqCst);
                    },
                )
            }
        })
        .expect("listening");
        assert_eq!(addrs.len(), 2);
        let addr = addrs[1];
        let mut client = TcpStream::connect(addr).expect("connect");
        client
            .write_all(
                b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n\
                  GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n",
            )
            .expect("write");
        let mut response = String::new();
        client.read_to_string(&mut response).expect("read");
        assert_eq!(served.load(Ordering::SeqCst), 2);
        let bodies: Vec<&str> = response
            .split("HTTP/1.1 200 OK\r\n")
            .filter(|r| !r.is_empty())
            .map(|r| r.split_once("\r\n\r\n").map_or("", |(_, body)| body))
            .collect();
        assert_eq!(bodies, ["t1 0\n", "t1 1\n"]);
        assert!(response.contains("Content-Length: 5\r\nConnection: close\r\n\r\nt1 1"));
    }

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
