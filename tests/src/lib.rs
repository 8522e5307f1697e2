//! Helpers for the end-to-end tests: paths of the guest programs built by
//! `build.rs`, a plugins directory to run them from, an in-process server
//! on a loopback port, and a minimal HTTP client.

pub mod guests {
    //! One constant per guest under `tests/guests/`, holding its `.wasm` path.
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

use std::path::{Path, PathBuf};

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
pub async fn eventually<T, F, Fut>(timeout: std::time::Duration, what: &str, mut check: F) -> T
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
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// `wasmetheus serve` arguments for a test: loopback on a free port, the
/// admin and lifecycle APIs on, Prometheus' query defaults.
pub fn test_args(
    plugins: &Path,
    config: Option<&Path>,
    data: &Path,
) -> wasmetheus::serve::ServeArgs {
    use std::time::Duration;
    wasmetheus::serve::ServeArgs {
        config_file: config.map(Path::to_owned),
        listen_address: "127.0.0.1:0".into(),
        plugins_dir: plugins.to_owned(),
        plugins_cache_dir: None,
        plugins_max_instances: 20,
        storage_path: data.to_owned(),
        retention_time: Duration::from_secs(15 * 86400),
        retention_size: 0,
        block_duration: Duration::from_secs(2 * 3600),
        enable_admin_api: true,
        enable_lifecycle: true,
        query_lookback_delta: Duration::from_secs(300),
        query_max_samples: 50_000_000,
        query_timeout: Duration::from_secs(120),
        log_level: "warn".into(),
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
