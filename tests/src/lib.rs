//! Helpers for the end-to-end tests: paths of the guest programs built by
//! `build.rs`, a plugins directory to run them from, an in-process server
//! on a loopback port, and a minimal HTTP client.

pub mod guests {
    //! One constant per guest under `tests/guests/`, holding its `.wasm` path.
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

use std::path::{Path, PathBuf};
use std::time::Duration;

/// A temporary plugins directory.
pub struct PluginsDir {
    dir: tempfile::TempDir,
}

impl PluginsDir {
    pub fn new() -> Self {
        PluginsDir {
            dir: tempfile::tempdir().expect("creating a temporary directory"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Copies guest `wasm` into the directory as `<name>.wasm`, atomically.
    pub fn install(&self, wasm: &str, name: &str) -> PathBuf {
        let dest = self.dir.path().join(format!("{name}.wasm"));
        let tmp = self.dir.path().join(format!(".{name}.tmp"));
        std::fs::copy(wasm, &tmp).expect("copying a guest");
        std::fs::rename(&tmp, &dest).expect("renaming a guest into place");
        dest
    }
}

impl Default for PluginsDir {
    fn default() -> Self {
        Self::new()
    }
}

/// Percent-encodes `s` for a query string (every byte but RFC 3986's
/// unreserved ones).
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A minimal HTTP/1.0 client for the tests: `(status, body)`.
pub async fn http(
    address: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    http_with_body(address, method, path, headers, "").await
}

/// [`http`] with a request body (for POSTed forms).
pub async fn http_with_body(
    address: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.0\r\nHost: {address}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

/// Polls `check` every 50 ms until it returns `Some`, or panics after
/// `timeout` with `what`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `wasmetheus serve` arguments for a test: loopback on a free port, the
/// admin and lifecycle APIs on, Prometheus' query defaults.
pub fn test_args(
    plugins: &Path,
    config: Option<&Path>,
    data: &Path,
) -> wasmetheus::serve::ServeArgs {
    wasmetheus::serve::ServeArgs {
        config_file: config.map(Path::to_owned),
        listen_address: "127.0.0.1:0".into(),
        plugins_dir: plugins.to_owned(),
        plugins_cache_dir: None,
        plugins_max_instances: 20,
        plugins_max_size: 64 << 20,
        plugins_compile_timeout: Duration::from_secs(30),
        plugins_compile_memory_limit: 2 << 30,
        plugins_max_concurrent_compiles: 0,
        plugins_compiler: None,
        storage_path: data.to_owned(),
        retention_time: Duration::from_secs(15 * 86400),
        retention_size: 0,
        block_duration: Duration::from_secs(2 * 3600),
        wal_compression: true,
        wal_compression_type: "zstd".into(),
        enable_admin_api: true,
        enable_lifecycle: true,
        query_lookback_delta: Duration::from_secs(300),
        query_max_samples: 50_000_000,
        query_timeout: Duration::from_secs(120),
        query_max_concurrency: 20,
        web_max_connections: 512,
        web_read_timeout: Duration::from_secs(300),
        log_level: "warn".into(),
        web: Default::default(),
        rules: Default::default(),
        remote: Default::default(),
    }
}

/// A server running in this process until dropped or stopped.
pub struct TestServer {
    pub address: std::net::SocketAddr,
    data: Option<tempfile::TempDir>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    serving: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl TestServer {
    /// Starts `wasmetheus serve` with `args`, keeping `data` (its storage
    /// directory) alive as long as the server.
    pub async fn start(args: wasmetheus::serve::ServeArgs, data: tempfile::TempDir) -> Self {
        let running = wasmetheus::serve::start(args).await.unwrap();
        let address = running.address;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let serving = tokio::spawn(running.serve_until(async {
            let _ = rx.await;
        }));
        TestServer {
            address,
            data: Some(data),
            shutdown: Some(tx),
            serving: Some(serving),
        }
    }

    /// Stops the server and waits until it has released everything;
    /// returns its data directory.
    pub async fn stop(mut self) -> tempfile::TempDir {
        let _ = self.shutdown.take().unwrap().send(());
        self.serving.take().unwrap().await.unwrap().unwrap();
        self.data.take().unwrap()
    }
}

/// A child process killed (and reaped) when dropped, so a failing test
/// leaves no daemon behind.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A daemon that must get real signals (`wasmetheus serve`, the
/// standalone Alertmanager), run as a child process of this very test
/// binary: it runs one test again, with `env` set to a payload (the
/// daemon's flags), and that test, finding the payload with
/// [`child_payload`], runs the daemon instead of its body. Its output goes
/// to `log`; it is killed if the test fails.
pub struct ChildDaemon {
    pub child: KillOnDrop,
    pub address: std::net::SocketAddr,
    pub log: PathBuf,
}

/// In a child started by [`ChildDaemon::spawn`]: the payload it was given.
pub fn child_payload(env: &str) -> Option<String> {
    std::env::var(env).ok()
}

impl ChildDaemon {
    /// Runs test `test` (its full path) in a child with `env=payload`; the
    /// daemon is to listen on `address`.
    pub fn spawn(
        test: &str,
        env: &str,
        payload: &str,
        address: std::net::SocketAddr,
        log: PathBuf,
    ) -> ChildDaemon {
        let out = std::fs::File::create(&log).unwrap();
        // This very binary, even once a rebuild has replaced its file.
        let child = std::process::Command::new("/proc/self/exe")
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env(env, payload)
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        ChildDaemon {
            child: KillOnDrop(child),
            address,
            log,
        }
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `GET /-/ready` answers 200 and returns that answer's
    /// body; fails the test, with the log, if it exits or is not ready
    /// within `wait`.
    pub async fn wait_ready(&mut self, what: &str, wait: Duration) -> String {
        let deadline = std::time::Instant::now() + wait;
        loop {
            if let Some(status) = self.child.0.try_wait().unwrap() {
                panic!("{what} exited ({status}):\n{}", self.log());
            }
            if tokio::net::TcpStream::connect(self.address).await.is_ok() {
                let (status, body) = http(self.address, "GET", "/-/ready", &[]).await;
                if status == 200 {
                    return body;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{what} was not ready within {wait:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends it `signal` (as `kill` spells it: `-TERM`, `-HUP`).
    pub fn signal(&self, signal: &str) {
        let pid = self.child.0.id().to_string();
        let status = std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// SIGTERM, and the exit it leads to: successful, within `wait`.
    pub async fn stop(mut self, wait: Duration) {
        self.signal("-TERM");
        let deadline = std::time::Instant::now() + wait;
        loop {
            if let Some(status) = self.child.0.try_wait().unwrap() {
                assert!(status.success(), "exit {status}:\n{}", self.log());
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no exit within {wait:?} of SIGTERM:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Starts a peer from a Debian package, its output discarded; a missing
/// program fails the test naming the package to install.
pub fn start_peer(program: &str, package: &str, args: &[String]) -> KillOnDrop {
    assert!(
        Path::new(program).exists(),
        "{program} not found: install the Debian package {package}"
    );
    KillOnDrop(
        std::process::Command::new(program)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {program}: {e}")),
    )
}

/// Debian's Prometheus (`/usr/bin/prometheus`) on `127.0.0.1:port` with
/// `config` and its own `data` directory, plus `extra` flags.
pub fn start_prometheus(config: &Path, data: &Path, port: u16, extra: &[&str]) -> KillOnDrop {
    let mut args = vec![
        format!("--config.file={}", config.display()),
        format!("--storage.tsdb.path={}", data.display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    start_peer("/usr/bin/prometheus", "prometheus", &args)
}

/// A loopback port free right now, for a peer process to listen on.
///
/// The port is below the kernel's ephemeral range, so no listener or
/// outgoing connection bound to port 0 (every in-process server and
/// fixture of the tests) can take it before the peer binds it; each call
/// in this process answers a different port, so concurrent tests never
/// hand the same one to two peers. The starting point depends on the
/// process id to keep concurrent test processes apart.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768);
    const LOW: u32 = 10_000;
    let span = ephemeral_low.saturating_sub(LOW).max(1);
    let start = (std::process::id().wrapping_mul(7919)) % span;
    for _ in 0..span {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = LOW + (start + offset) % span;
        let Ok(port) = u16::try_from(port) else {
            continue;
        };
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port below the ephemeral range ({ephemeral_low})");
}

/// The text-format body the fixture target serves at `/metrics`: a
/// counter whose `job` label clashes with the target's, and a gauge with
/// an explicit (old) timestamp.
pub const FIXTURE_TEXT: &str = "# HELP fixture_requests_total Requests.\n\
# TYPE fixture_requests_total counter\n\
fixture_requests_total{code=\"200\",job=\"inner\"} 42\n\
fixture_requests_total{code=\"500\",job=\"inner\"} 1\n\
fixture_temperature 21.5 1700000000000\n";

/// The OpenMetrics body the fixture target serves at `/om`.
pub const FIXTURE_OPENMETRICS: &str = "# TYPE om_events counter\n\
om_events_total{kind=\"a\"} 3\n\
# EOF\n";

/// A scrape target on loopback answering by path: `/metrics` (text),
/// `/om` (OpenMetrics), `/gzip` (the text gzipped), `/garbage` (a valid
/// line, then a malformed one), `/hang` (never answers), `/big` (an
/// endless body announced as 1 GB), `/sd` (HTTP service discovery naming
/// this target with the label `sd="http"`); anything else is a 404.
pub async fn fixture_target() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut request = vec![0u8; 4096];
                let n = stream.read(&mut request).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&request[..n]).into_owned();
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let respond = |headers: &str, body: &[u8]| {
                    let mut out = format!(
                        "HTTP/1.1 200 OK\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    out.extend_from_slice(body);
                    out
                };
                let text = "Content-Type: text/plain; version=0.0.4\r\n";
                let response = match path.as_str() {
                    "/metrics" => respond(text, FIXTURE_TEXT.as_bytes()),
                    "/om" => respond(
                        "Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n",
                        FIXTURE_OPENMETRICS.as_bytes(),
                    ),
                    "/gzip" => {
                        use std::io::Write;
                        let mut encoder = flate2::write::GzEncoder::new(
                            Vec::new(),
                            flate2::Compression::default(),
                        );
                        encoder.write_all(FIXTURE_TEXT.as_bytes()).unwrap();
                        let body = encoder.finish().unwrap();
                        respond(&format!("{text}Content-Encoding: gzip\r\n"), &body)
                    }
                    "/garbage" => respond(text, b"garbage_ok 1\nthis is { not a metric\n"),
                    "/sd" => respond(
                        "Content-Type: application/json\r\n",
                        format!(r#"[{{"targets": ["{address}"], "labels": {{"sd": "http"}}}}]"#)
                            .as_bytes(),
                    ),
                    "/hang" => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    }
                    "/big" => {
                        let head = format!(
                            "HTTP/1.1 200 OK\r\n{text}Content-Length: 1073741824\r\nConnection: close\r\n\r\n"
                        );
                        if stream.write_all(head.as_bytes()).await.is_err() {
                            return;
                        }
                        let line =
                            format!("big_series{{i=\"{}\"}} 1\n", "x".repeat(60)).repeat(1000);
                        for _ in 0..20_000 {
                            if stream.write_all(line.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                        return;
                    }
                    _ => {
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec()
                    }
                };
                let _ = stream.write_all(&response).await;
            });
        }
    });
    address
}

/// Where [`sample_data`] starts (Unix seconds), and its span: 10 minutes
/// at 15 s.
pub const DATA_T0: i64 = 1_700_000_000;
pub const DATA_SPAN: i64 = 600;

/// OpenMetrics lines (without `# EOF`) of two counters, `code` 200 at 1/s
/// and 500 at 0.1/s, and a constant gauge, over [`DATA_T0`] + [`DATA_SPAN`].
pub fn sample_data() -> String {
    let mut text = String::from("# TYPE http_requests counter\n# HELP http_requests Requests.\n");
    // OpenMetrics wants each series' samples together.
    for (code, per_second) in [("200", 1.0), ("500", 0.1)] {
        for t in (DATA_T0..=DATA_T0 + DATA_SPAN).step_by(15) {
            let v = (t - DATA_T0) as f64 * per_second;
            text.push_str(&format!(
                "http_requests_total{{job=\"api\",code=\"{code}\"}} {v} {t}\n"
            ));
        }
    }
    text.push_str("# TYPE temperature gauge\n");
    for t in (DATA_T0..=DATA_T0 + DATA_SPAN).step_by(15) {
        text.push_str(&format!("temperature{{room=\"a\"}} 21.5 {t}\n"));
    }
    text
}

/// A server with `config` whose data directory was backfilled from the
/// OpenMetrics text `openmetrics`; `adjust` changes its arguments.
pub async fn serve_backfilled(
    config: &str,
    openmetrics: &str,
    adjust: impl FnOnce(&mut wasmetheus::serve::ServeArgs),
) -> (TestServer, PluginsDir) {
    let plugins = PluginsDir::new();
    let config_path = plugins.path().join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let input = plugins.path().join("data.om");
    std::fs::write(&input, openmetrics).unwrap();
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_owned();
    tokio::task::spawn_blocking(move || {
        wasmetheus::backfill::run(&input, &dir, Duration::from_secs(2 * 3600))
    })
    .await
    .unwrap()
    .unwrap();
    let mut args = test_args(plugins.path(), Some(&config_path), data.path());
    adjust(&mut args);
    (TestServer::start(args, data).await, plugins)
}

pub mod wasm;
