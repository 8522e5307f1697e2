//! Helpers for the end-to-end tests: paths of the guest programs built by
//! `build.rs`, and a plugins directory to run them from.

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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut request =
        format!("{method} {path} HTTP/1.0\r\nHost: {address}\r\nContent-Length: 0\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
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
