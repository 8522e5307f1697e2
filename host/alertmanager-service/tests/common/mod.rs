//! Helpers of the service tests: the receiver plugins built for
//! wasm32-wasip2, a capturing webhook endpoint, the API served on a
//! loopback port with a minimal HTTP client, a service on a temporary
//! directory, and Debian's Alertmanager beside it.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use tokio::sync::mpsc;
use wasmetheus_alertmanager_service::{Service, ServiceError, ServiceOptions};
use wasmetheus_plugin_runtime::{PluginRuntime, RuntimeOptions};

/// The built plugin files.
pub struct Built {
    pub webhook: PathBuf,
    pub slack: PathBuf,
    pub email: PathBuf,
    /// The hanging receiver guest.
    pub hang: PathBuf,
    /// The receiver guest posting where it may not.
    pub escape: PathBuf,
    /// The receiver guests trapping and answering garbage.
    pub trap: PathBuf,
    pub garbage: PathBuf,
}

/// Builds the receiver plugins and the hanging receiver guest once (as
/// the tests crate's build script does, in its target directory).
pub fn plugins() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .expect("the workspace directory")
            .to_owned();
        let target = workspace.join("target/guests");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = std::process::Command::new(cargo);
        cmd.current_dir(&workspace)
            .args(["build", "--profile", "plugin", "--target", "wasm32-wasip2"])
            .arg("--target-dir")
            .arg(&target)
            .args(["-p", "webhook-receiver", "-p", "slack-receiver"])
            .args(["-p", "email-receiver", "-p", "guest-receiver-hang"])
            .args(["-p", "guest-receiver-escape", "-p", "guest-receiver-trap"])
            .args(["-p", "guest-receiver-garbage"]);
        for var in [
            "CARGO_ENCODED_RUSTFLAGS",
            "RUSTFLAGS",
            "RUSTC_WORKSPACE_WRAPPER",
            "RUSTC_WRAPPER",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_TARGET",
        ] {
            cmd.env_remove(var);
        }
        let status = cmd
            .status()
            .expect("running cargo to build the receiver plugins");
        assert!(
            status.success(),
            "building the receiver plugins failed; is the wasm32-wasip2 target installed? \
             (`rustup target add wasm32-wasip2`)"
        );
        let out = target.join("wasm32-wasip2/plugin");
        Built {
            webhook: out.join("webhook_receiver.wasm"),
            slack: out.join("slack_receiver.wasm"),
            email: out.join("email_receiver.wasm"),
            hang: out.join("guest_receiver_hang.wasm"),
            escape: out.join("guest_receiver_escape.wasm"),
            trap: out.join("guest_receiver_trap.wasm"),
            garbage: out.join("guest_receiver_garbage.wasm"),
        }
    })
}

/// One POST the capture endpoint received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub query: String,
    pub authorization: String,
    pub body: serde_json::Value,
}

/// A webhook endpoint recording what it is sent.
pub struct Capture {
    pub addr: SocketAddr,
    rx: mpsc::UnboundedReceiver<Received>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(
    State(tx): State<mpsc::UnboundedSender<Received>>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> &'static str {
    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let _ = tx.send(Received {
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        authorization,
        body,
    });
    "ok"
}

impl Capture {
    pub async fn start() -> Capture {
        let (tx, rx) = mpsc::unbounded_channel();
        let app = axum::Router::new()
            .fallback(axum::routing::post(record))
            .with_state(tx);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Capture { addr, rx, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next notification, if one arrives within `within`.
    pub async fn next(&mut self, within: Duration) -> Option<Received> {
        tokio::time::timeout(within, self.rx.recv())
            .await
            .ok()
            .flatten()
    }

    /// Whatever arrives within `within`.
    pub async fn drain(&mut self, within: Duration) -> Vec<Received> {
        let mut out = Vec::new();
        let end = tokio::time::Instant::now() + within;
        while let Ok(Some(r)) = tokio::time::timeout_at(end, self.rx.recv()).await {
            out.push(r);
        }
        out
    }
}

/// The API v2 served on a loopback port.
pub struct Api {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Api {
    pub async fn serve(service: &Arc<Service>) -> Api {
        let app = wasmetheus_api::router_v2(service.backend());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Api { addr, task }
    }

    /// `(status, body)` of one request (HTTP/1.0, JSON body).
    pub async fn call(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let request = format!(
            "{method} {path} HTTP/1.0\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    pub async fn json(&self, method: &str, path: &str, body: &str) -> serde_json::Value {
        let (status, text) = self.call(method, path, body).await;
        assert_eq!(status, 200, "{method} {path}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
    }

    /// Posts alerts given as `[{labels}, …]` (firing, no end).
    pub async fn post_alerts(&self, alerts: serde_json::Value) {
        let (status, text) = self
            .call("POST", "/api/v2/alerts", &alerts.to_string())
            .await;
        assert_eq!(status, 200, "posting alerts: {text}");
    }
}

/// A service's files: a temporary directory with the plugins, the
/// configuration and the state.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub runtime: PluginRuntime,
}

impl Setup {
    pub fn new() -> Setup {
        Setup::with_max_instances(100)
    }

    /// A runtime with at most `n` plugin instances at once.
    pub fn with_max_instances(n: u32) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
        let mut options = RuntimeOptions::new(dir.path().join("plugins"));
        options.default_memory_limit = 32 << 20;
        options.max_instances = n;
        let runtime = PluginRuntime::new(options).unwrap();
        Setup { dir, runtime }
    }

    pub fn plugins_dir(&self) -> PathBuf {
        self.dir.path().join("plugins")
    }

    pub fn config_file(&self) -> PathBuf {
        self.dir.path().join("alertmanager.yml")
    }

    /// Copies a built plugin in as `<kind>-receiver.wasm`.
    pub fn install(&self, wasm: &Path, kind: &str) {
        std::fs::copy(
            wasm,
            self.plugins_dir().join(format!("{kind}-receiver.wasm")),
        )
        .expect("copying a plugin");
    }

    pub fn write_config(&self, text: &str) {
        std::fs::write(self.config_file(), text).unwrap();
    }

    pub fn options(&self) -> ServiceOptions {
        let mut o = ServiceOptions::new(
            self.config_file(),
            self.dir.path().join("data"),
            self.plugins_dir(),
            self.runtime.clone(),
        );
        o.external_url = "http://am.example:9093".to_owned();
        o
    }

    pub async fn start(&self) -> Result<Arc<Service>, ServiceError> {
        Service::start(self.options()).await
    }
}

/// A configuration with one webhook receiver `team` at `url`, grouping by
/// `alertname` with one-second timers, and `extra` appended.
pub fn webhook_config(url: &str, extra: &str) -> String {
    format!(
        r#"route:
  receiver: team
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
- name: team
  webhook_configs:
  - url: '{url}'
    send_resolved: true
{extra}"#
    )
}

/// The alert names in a webhook payload, sorted.
pub fn alert_names(body: &serde_json::Value) -> Vec<String> {
    let mut names: Vec<String> = body["alerts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|a| {
                    let l = &a["labels"];
                    format!(
                        "{}/{}",
                        l["alertname"].as_str().unwrap_or(""),
                        l["instance"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// One mail the SMTP capture received: the envelope and the message.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// A plain SMTP server (no TLS, no AUTH) recording the mails it takes.
pub struct Smtp {
    pub addr: SocketAddr,
    rx: mpsc::UnboundedReceiver<Mail>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn smtp_session(stream: tokio::net::TcpStream, tx: mpsc::UnboundedSender<Mail>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut mail = Mail {
        from: String::new(),
        to: Vec::new(),
        data: String::new(),
    };
    if write.write_all(b"220 capture ESMTP\r\n").await.is_err() {
        return;
    }
    while let Ok(Some(line)) = lines.next_line().await {
        let upper = line.to_ascii_uppercase();
        let answer: &[u8] = if upper.starts_with("EHLO") {
            b"250-capture\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("HELO") {
            b"250 capture\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            mail.from = line[10..].trim().to_owned();
            b"250 ok\r\n"
        } else if upper.starts_with("RCPT TO:") {
            mail.to.push(line[8..].trim().to_owned());
            b"250 ok\r\n"
        } else if upper == "DATA" {
            if write.write_all(b"354 go on\r\n").await.is_err() {
                return;
            }
            while let Ok(Some(l)) = lines.next_line().await {
                if l == "." {
                    break;
                }
                mail.data.push_str(&l);
                mail.data.push('\n');
            }
            let _ = tx.send(std::mem::replace(
                &mut mail,
                Mail {
                    from: String::new(),
                    to: Vec::new(),
                    data: String::new(),
                },
            ));
            b"250 queued\r\n"
        } else if upper == "QUIT" {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"250 ok\r\n"
        };
        if write.write_all(answer).await.is_err() {
            return;
        }
    }
}

impl Smtp {
    pub async fn start() -> Smtp {
        let (tx, rx) = mpsc::unbounded_channel();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(smtp_session(stream, tx.clone()));
            }
        });
        Smtp { addr, rx, task }
    }

    pub async fn next(&mut self, within: Duration) -> Option<Mail> {
        tokio::time::timeout(within, self.rx.recv())
            .await
            .ok()
            .flatten()
    }
}

/// Starts Debian's Alertmanager 0.25 on `config_file` with its state in
/// `storage`, on a free loopback port (killed when the child is dropped);
/// the caller waits for it to answer.
pub fn start_debian_alertmanager(
    config_file: &Path,
    storage: &Path,
) -> (tokio::process::Child, u16) {
    const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";
    assert!(
        Path::new(ALERTMANAGER).exists(),
        "{ALERTMANAGER} is missing: install Debian's prometheus-alertmanager package"
    );
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let child = tokio::process::Command::new(ALERTMANAGER)
        .arg(format!("--config.file={}", config_file.display()))
        .arg(format!("--storage.path={}", storage.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("starting Debian's Alertmanager");
    (child, port)
}
