//! Receiver plugins in the real runtime: the webhook receiver against a
//! capturing HTTP server on 127.0.0.1 (`webhook.rs`) and beside Debian's
//! Alertmanager (`peer.rs`), the Slack receiver alone and beside
//! Debian's Alertmanager (`slack.rs`), the email receiver against a real
//! SMTP server and beside Debian's Alertmanager (`email.rs`), and the hostile
//! receiver guests contained (`hostile.rs`, whose tests `guests.rs` names).

mod email;
mod hostile;
mod peer;
mod slack;
mod webhook;

pub(crate) use hostile::{receiver_escape, receiver_garbage, receiver_hang, receiver_trap};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wasmetheus_config::Grants;
use wasmetheus_plugin_runtime::{
    Alert, Notification, PluginRuntime, ReceiverPlugin, ReceiverRuntime, RuntimeOptions, SendError,
    Sender, SenderSpec,
};
use wasmetheus_tests::PluginsDir;

/// A plugin runtime, its receiver side, and the directory its files are in.
pub(crate) struct Receivers {
    pub runtime: ReceiverRuntime,
    _plugins: PluginRuntime,
    dir: PluginsDir,
}

impl Receivers {
    pub fn new() -> Self {
        Self::with_options(|_| {})
    }

    pub fn with_options(adjust: impl FnOnce(&mut RuntimeOptions)) -> Self {
        let dir = PluginsDir::new();
        let mut options = RuntimeOptions::new(dir.path());
        options.default_memory_limit = 32 << 20;
        adjust(&mut options);
        let plugins = PluginRuntime::new(options).unwrap();
        Receivers {
            runtime: ReceiverRuntime::new(&plugins),
            _plugins: plugins,
            dir,
        }
    }

    /// Installs `wasm` as `<name>.wasm` and loads it (off the executor).
    pub async fn load(&self, wasm: &str, name: &str) -> ReceiverPlugin {
        let path = self.dir.install(wasm, name);
        let runtime = self.runtime.clone();
        tokio::task::spawn_blocking(move || runtime.load(&path))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("loading {name}: {e}"))
    }
}

pub(crate) fn spec(name: &str, config: serde_json::Value, grants: Grants) -> SenderSpec {
    SenderSpec {
        name: name.into(),
        config_json: config.to_string(),
        grants,
        memory_limit: None,
        timeout: Duration::from_secs(5),
    }
}

pub(crate) async fn open(plugin: &ReceiverPlugin, spec: SenderSpec) -> Sender {
    plugin
        .open(spec)
        .await
        .unwrap_or_else(|e| panic!("opening: {e:?}"))
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A notification for receiver `receiver` with `alerts` alerts, the first
/// firing and the others resolved.
pub(crate) fn notification(receiver: &str, alerts: usize) -> Notification {
    Notification {
        receiver: receiver.into(),
        status: "firing".into(),
        alerts: (0..alerts)
            .map(|i| Alert {
                status: if i == 0 { "firing" } else { "resolved" }.into(),
                labels: map(&[("alertname", "Down"), ("instance", &format!("h{i}"))]),
                annotations: map(&[("summary", "host <down> & out")]),
                starts_at: "2026-12-07T01:02:03.456Z".into(),
                ends_at: if i == 0 {
                    String::new()
                } else {
                    "2026-12-07T02:00:00Z".into()
                },
                generator_url: "http://prometheus:9090/graph?g0.expr=up".into(),
                fingerprint: format!("{i:016x}"),
            })
            .collect(),
        group_labels: map(&[("alertname", "Down")]),
        common_labels: map(&[("alertname", "Down")]),
        common_annotations: map(&[("summary", "host <down> & out")]),
        external_url: String::new(),
        group_key: "{}:{alertname=\"Down\"}".into(),
        truncated_alerts: 0,
    }
}

/// One request a [`Capture`] server received.
#[derive(Debug, Clone)]
pub(crate) struct Captured {
    pub method: String,
    pub target: String,
    /// Header names lower-cased.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

/// An HTTP/1.1 server on 127.0.0.1 that records each request and answers
/// with `status` (or not at all while `silent`).
pub(crate) struct Capture {
    pub url: String,
    pub requests: Arc<std::sync::Mutex<Vec<Captured>>>,
    pub status: Arc<std::sync::atomic::AtomicU16>,
    pub silent: Arc<std::sync::atomic::AtomicBool>,
    /// Connections accepted, complete requests or not.
    pub connections: Arc<std::sync::atomic::AtomicUsize>,
}

impl Capture {
    pub async fn start(path: &str) -> Capture {
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let capture = Capture {
            url: format!("http://{address}{path}"),
            requests: Arc::default(),
            status: Arc::new(200.into()),
            silent: Arc::default(),
            connections: Arc::default(),
        };
        let (requests, status, silent, connections) = (
            Arc::clone(&capture.requests),
            Arc::clone(&capture.status),
            Arc::clone(&capture.silent),
            Arc::clone(&capture.connections),
        );
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                connections.fetch_add(1, Ordering::SeqCst);
                let (requests, status, silent) = (
                    Arc::clone(&requests),
                    Arc::clone(&status),
                    Arc::clone(&silent),
                );
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut stream).await else {
                        return;
                    };
                    requests.lock().unwrap().push(request);
                    if silent.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        return;
                    }
                    let status = status.load(Ordering::SeqCst);
                    let body = format!("answer {status}\n");
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        capture
    }

    pub fn requests(&self) -> Vec<Captured> {
        self.requests.lock().unwrap().clone()
    }

    pub fn answer(&self, status: u16) {
        self.status
            .store(status, std::sync::atomic::Ordering::SeqCst);
    }
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Captured> {
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buffer.len() > 1 << 20 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target) = (first.next()?.to_owned(), first.next()?.to_owned());
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = [0; 65536];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Captured {
        method,
        target,
        headers,
        body,
    })
}

/// Asserts `result` failed with an error `retryable` or not, whose text
/// contains `text`.
#[track_caller]
pub(crate) fn assert_failed(
    result: Result<(), SendError>,
    retryable: bool,
    text: &str,
) -> SendError {
    let e = result.expect_err("the notification should have failed");
    assert_eq!(e.retryable, retryable, "{e:?}");
    assert!(e.message.contains(text), "{:?} lacks {text:?}", e.message);
    e
}

/// Debian's Alertmanager (`prometheus-alertmanager`) on a loopback port,
/// killed when dropped: the reference the receiver plugins' messages are
/// compared with.
pub(crate) struct DebianAlertmanager {
    _process: wasmetheus_tests::KillOnDrop,
    pub address: std::net::SocketAddr,
}

impl DebianAlertmanager {
    const BINARY: &str = "/usr/bin/prometheus-alertmanager";

    /// Starts it on `config_file` with its state under `storage` and, when
    /// given, `--web.external-url`; returns once it listens.
    pub async fn start(
        config_file: &std::path::Path,
        storage: &std::path::Path,
        external_url: Option<&str>,
    ) -> DebianAlertmanager {
        assert!(
            std::path::Path::new(Self::BINARY).exists(),
            "{} is needed (apt-get install prometheus-alertmanager)",
            Self::BINARY
        );
        let port = wasmetheus_tests::free_port();
        let mut command = std::process::Command::new(Self::BINARY);
        command
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!("--storage.path={}", storage.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Some(url) = external_url {
            command.arg(format!("--web.external-url={url}"));
        }
        let process = wasmetheus_tests::KillOnDrop(command.spawn().unwrap());
        let address: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        wasmetheus_tests::eventually(
            Duration::from_secs(20),
            "Alertmanager to listen",
            || async move { tokio::net::TcpStream::connect(address).await.ok().map(drop) },
        )
        .await;
        DebianAlertmanager {
            _process: process,
            address,
        }
    }

    /// POSTs `alerts` (a JSON array) to `/api/v2/alerts` until it takes
    /// them.
    pub async fn post_alerts(&self, alerts: &str) {
        let address = self.address;
        wasmetheus_tests::eventually(
            Duration::from_secs(20),
            "Alertmanager to take alerts",
            || {
                let alerts = alerts.to_owned();
                async move {
                    let posted = tokio::time::timeout(
                        Duration::from_secs(2),
                        wasmetheus_tests::http_with_body(
                            address,
                            "POST",
                            "/api/v2/alerts",
                            &[("Content-Type", "application/json")],
                            &alerts,
                        ),
                    )
                    .await;
                    matches!(posted, Ok((200, _))).then_some(())
                }
            },
        )
        .await;
    }
}
