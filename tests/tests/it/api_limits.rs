//! The server's limits and what it shows end to end: secrets in
//! `/api/v1/status/config` print as `<secret>` (and the configuration
//! shown is the one loaded, not the file on disk); `--query.max-concurrency`
//! queues queries within their timeout; `--web.max-connections` caps the
//! connections accepted at once; `--web.read-timeout` closes connections
//! that do not deliver a request (a partial head, a trickled head or body,
//! an idle keep-alive) or do not read their answer, and so frees their
//! slots, but not those waiting for a slow answer; shutdown waits for
//! neither; request bodies are bounded; time, step and duration parameters
//! that would overflow are `bad_data` with Prometheus' texts; an HTTP SD
//! URL's password is relabeling input but not shown by the targets API.

use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wasmetheus_tests::{
    PluginsDir, TestServer, eventually, fixture_target, http, test_args, url_encode as encode,
};

/// A server on `config`, with `adjust` applied to its arguments; the
/// plugins directory (holding the config file) lives as long as it.
async fn serve(
    config: &str,
    adjust: impl FnOnce(&mut wasmetheus::serve::ServeArgs),
) -> (TestServer, PluginsDir) {
    let plugins = PluginsDir::new();
    let config_path = plugins.path().join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut args = test_args(plugins.path(), Some(&config_path), data.path());
    adjust(&mut args);
    (TestServer::start(args, data).await, plugins)
}

/// GETs `path`, expecting `status`; the JSON answer.
async fn get(address: SocketAddr, path: &str, status: u16) -> Value {
    let (got, body) = http(address, "GET", path, &[]).await;
    assert_eq!(got, status, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

fn error_of(answer: &Value) -> (&str, &str) {
    assert_eq!(answer["status"], "error", "{answer}");
    (
        answer["errorType"].as_str().unwrap(),
        answer["error"].as_str().unwrap(),
    )
}

/// The value of the server's own gauge `name`, from `/metrics`.
async fn own_gauge(address: SocketAddr, name: &str) -> f64 {
    let (status, body) = http(address, "GET", "/metrics", &[]).await;
    assert_eq!(status, 200, "{body}");
    body.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{body}"))
}

const SECRET_CONFIG: &str = r#"
global:
  scrape_interval: 1h
scrape_configs:
  - job_name: basic
    basic_auth:
      username: alice
      password: hunter2-basic
    static_configs:
      - targets: ['127.0.0.1:1']
  - job_name: bearer
    authorization:
      credentials: hunter2-bearer
    static_configs:
      - targets: ['127.0.0.1:1']
  - job_name: file
    basic_auth:
      username: carol
      password_file: /run/secrets/scrape-password
    static_configs:
      - targets: ['127.0.0.1:1']
alerting:
  alertmanagers:
    - basic_auth: {username: am, password: hunter2-alertmanager}
      static_configs:
        - targets: ['127.0.0.1:1']
remote_write:
  - url: http://rw:hunter2-url@127.0.0.1:1/write
    authorization:
      credentials: hunter2-remote-write
remote_read:
  - url: http://127.0.0.1:1/read
    basic_auth: {username: rr, password: hunter2-remote-read}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn status_config_shows_secrets_as_prometheus_does() {
    let (server, plugins) = serve(SECRET_CONFIG, |_| {}).await;
    let answer = get(server.address, "/api/v1/status/config", 200).await;
    assert_eq!(answer["status"], "success", "{answer}");
    let yaml = answer["data"]["yaml"].as_str().unwrap().to_owned();
    for secret in [
        "hunter2-basic",
        "hunter2-bearer",
        "hunter2-alertmanager",
        "hunter2-url",
        "hunter2-remote-write",
        "hunter2-remote-read",
    ] {
        assert!(!yaml.contains(secret), "{secret} shown:\n{yaml}");
    }
    assert_eq!(yaml.matches("password: <secret>").count(), 3, "{yaml}");
    assert_eq!(yaml.matches("credentials: <secret>").count(), 2, "{yaml}");
    // `*_file` paths are shown as they are, URL passwords as Go redacts them.
    assert!(
        yaml.contains("password_file: /run/secrets/scrape-password"),
        "{yaml}"
    );
    assert!(
        yaml.contains("url: http://rw:xxxxx@127.0.0.1:1/write"),
        "{yaml}"
    );
    assert!(yaml.contains("username: alice"), "{yaml}");

    // The file changes on disk without a reload: the loaded configuration
    // is still the one shown.
    let config_path = plugins.path().join("prometheus.yml");
    let edited = SECRET_CONFIG.replace("job_name: basic", "job_name: renamed");
    std::fs::write(&config_path, &edited).unwrap();
    let shown = get(server.address, "/api/v1/status/config", 200).await;
    assert_eq!(shown["data"]["yaml"].as_str().unwrap(), yaml);
    // After a reload, the new one is.
    let (status, body) = http(server.address, "POST", "/-/reload", &[]).await;
    assert_eq!(status, 200, "{body}");
    let reloaded = get(server.address, "/api/v1/status/config", 200).await;
    let reloaded = reloaded["data"]["yaml"].as_str().unwrap();
    assert!(reloaded.contains("job_name: renamed"), "{reloaded}");
    assert!(!reloaded.contains("hunter2"), "{reloaded}");
    drop(plugins);
}

/// A query that ends only at its `timeout` (an answer of `503 timeout`),
/// on any machine: 11,000 steps, each a subquery of 600,000 points
/// (6.6 billion in all, far more than any machine evaluates within a few
/// seconds), each step's held in memory only while it is evaluated.
fn endless_query_path(timeout: &str) -> String {
    format!(
        "/api/v1/query_range?query={}&start=0&end=10999000&step=1000&timeout={timeout}",
        encode("count_over_time(vector(1)[10m:1ms])")
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_query_waits_for_the_slot_and_runs_once_it_is_free() {
    let (server, _plugins) = serve("global:\n  scrape_interval: 1h\n", |args| {
        args.query_max_concurrency = 1;
    })
    .await;
    let address = server.address;
    assert_eq!(
        own_gauge(address, "prometheus_engine_queries_concurrent_max").await,
        1.0
    );
    let slow =
        tokio::spawn(async move { http(address, "GET", &endless_query_path("5s"), &[]).await });
    eventually(Duration::from_secs(30), "the slow query to run", || async {
        (own_gauge(address, "prometheus_engine_queries").await >= 1.0).then_some(())
    })
    .await;
    let queued = tokio::spawn(async move {
        http(address, "GET", "/api/v1/query?query=1%2B1&time=100", &[]).await
    });
    // The second query waits while the first holds the only slot.
    eventually(
        Duration::from_secs(30),
        "the second query to queue",
        || async {
            (own_gauge(address, "wasmetheus_engine_queries_waiting").await == 1.0).then_some(())
        },
    )
    .await;
    // The first ends at its timeout, freeing the slot for the second.
    let (status, body) = slow.await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(r#""errorType":"timeout""#), "{body}");
    let (status, body) = queued.await.unwrap();
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["data"]["result"][1], "2", "{answer}");
    assert_eq!(own_gauge(address, "prometheus_engine_queries").await, 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queued_query_times_out_in_the_queue() {
    let (server, _plugins) = serve("global:\n  scrape_interval: 1h\n", |args| {
        args.query_max_concurrency = 1;
    })
    .await;
    let address = server.address;
    let slow =
        tokio::spawn(async move { http(address, "GET", &endless_query_path("5s"), &[]).await });
    eventually(Duration::from_secs(30), "the slow query to run", || async {
        (own_gauge(address, "prometheus_engine_queries").await >= 1.0).then_some(())
    })
    .await;
    let answer = get(
        address,
        "/api/v1/query?query=1%2B1&time=100&timeout=0.2",
        503,
    )
    .await;
    assert_eq!(
        error_of(&answer),
        ("timeout", "query timed out in query queue")
    );
    // The first query is unaffected: it runs to its own timeout.
    let (status, body) = slow.await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(r#""errorType":"timeout""#), "{body}");
    // The slot is free again.
    let answer = get(address, "/api/v1/query?query=1%2B1&time=100", 200).await;
    assert_eq!(answer["data"]["result"][1], "2", "{answer}");
}

/// Sends a keep-alive HTTP/1.1 request on `stream` and reads one response
/// head (the connection stays open).
async fn request_keep_alive(stream: &mut tokio::net::TcpStream, address: SocketAddr) -> String {
    let request = format!("GET /-/healthy HTTP/1.1\r\nHost: {address}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buffer = vec![0u8; 4096];
    let n = stream.read(&mut buffer).await.unwrap();
    String::from_utf8_lossy(&buffer[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_beyond_the_cap_wait_until_others_close() {
    const MAX: usize = 3;
    const EXTRA: usize = 4;
    let (server, _plugins) = serve("global:\n  scrape_interval: 1h\n", |args| {
        args.web_max_connections = MAX as u32;
    })
    .await;
    let address = server.address;
    // MAX + EXTRA clients, each asking on a connection it keeps open.
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut clients = Vec::new();
    for i in 0..MAX + EXTRA {
        let done = done_tx.clone();
        let (close_tx, close_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
            let head = request_keep_alive(&mut stream, address).await;
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            let _ = done.send(i);
            // Idle, keeping the connection, until told to close.
            let _ = close_rx.await;
            drop(stream);
        });
        clients.push((task, close_tx));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Exactly MAX are accepted and answered; the others wait.
    let mut answered = Vec::new();
    while answered.len() < MAX {
        let i = tokio::time::timeout(Duration::from_secs(30), done_rx.recv())
            .await
            .expect("the first connections are answered")
            .unwrap();
        answered.push(i);
    }
    let more = tokio::time::timeout(Duration::from_millis(500), done_rx.recv()).await;
    assert!(
        more.is_err(),
        "a connection beyond the cap of {MAX} was served"
    );
    // Closing the served ones lets the waiting ones in, MAX at a time.
    let mut closers: Vec<Option<tokio::sync::oneshot::Sender<()>>> = clients
        .iter_mut()
        .map(|(_, close)| Some(std::mem::replace(close, tokio::sync::oneshot::channel().0)))
        .collect();
    while answered.len() < MAX + EXTRA {
        for &i in &answered {
            if let Some(close) = closers[i].take() {
                let _ = close.send(());
            }
        }
        let i = tokio::time::timeout(Duration::from_secs(30), done_rx.recv())
            .await
            .expect("a waiting connection is answered once others close")
            .unwrap();
        answered.push(i);
    }
    for close in closers.iter_mut().filter_map(Option::take) {
        let _ = close.send(());
    }
    for (task, _) in clients {
        task.await.unwrap();
    }
    // And the server serves as before.
    let (status, body) = http(address, "GET", "/-/healthy", &[]).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn overflowing_parameters_are_bad_data_with_prometheus_texts() {
    let (server, _plugins) = serve("global:\n  scrape_interval: 1h\n", |_| {}).await;
    let address = server.address;
    let one = encode("1");
    let cases = [
        (
            format!("/api/v1/query_range?query={one}&start=-9e18&end=0&step=1"),
            "invalid parameter \"start\": cannot parse \"-9e18\" to a valid timestamp",
        ),
        (
            format!("/api/v1/query_range?query={one}&start=0&end=1e300&step=1"),
            "invalid parameter \"end\": cannot parse \"1e300\" to a valid timestamp",
        ),
        (
            format!("/api/v1/query_range?query={one}&start=NaN&end=0&step=1"),
            "invalid parameter \"start\": cannot parse \"NaN\" to a valid timestamp",
        ),
        (
            format!("/api/v1/query_range?query={one}&start=0&end=10&step=999999999999y"),
            "invalid parameter \"step\": cannot parse \"999999999999y\" to a valid duration",
        ),
        (
            format!("/api/v1/query_range?query={one}&start=0&end=10&step=1e300"),
            "invalid parameter \"step\": cannot parse \"1e300\" to a valid duration. It overflows int64",
        ),
        (
            // Prometheus' MinTime to MaxTime at 1s: the difference alone
            // overflows 64 bits of milliseconds.
            format!(
                "/api/v1/query_range?query={one}&start=-9223309901257974&end=9223309901257974&step=1"
            ),
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ),
        (
            format!(
                "/api/v1/query_range?query={one}&start=-292273086-05-16T16:47:06Z&end=292277025-08-18T07:12:54.999999999Z&step=292y"
            ),
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ),
        (
            format!("/api/v1/query?query={one}&time=1e300"),
            "invalid parameter \"time\": cannot parse \"1e300\" to a valid timestamp",
        ),
        (
            format!("/api/v1/query?query={one}&time=-Inf"),
            "invalid parameter \"time\": cannot parse \"-Inf\" to a valid timestamp",
        ),
        (
            format!("/api/v1/query?query={one}&time=0&timeout=999999999999y"),
            "invalid parameter \"timeout\": cannot parse \"999999999999y\" to a valid duration",
        ),
        (
            format!("/api/v1/query?query={one}&time=0&timeout=1e300"),
            "invalid parameter \"timeout\": cannot parse \"1e300\" to a valid duration. It overflows int64",
        ),
        (
            "/api/v1/series?match[]=up&start=1e300".to_owned(),
            "invalid parameter \"start\": cannot parse \"1e300\" to a valid timestamp",
        ),
    ];
    for (path, message) in cases {
        let path = path.replace(':', "%3A");
        let answer = get(address, &path, 400).await;
        assert_eq!(error_of(&answer), ("bad_data", message), "{path}");
    }
    // The extremes themselves evaluate, stepping by the largest step.
    for path in [
        format!("/api/v1/query?query={one}&time=9223309901257974"),
        format!("/api/v1/query?query={one}&time=-9223309901257974"),
        format!(
            "/api/v1/query_range?query={one}&start=9223309901257974&end=9223309901257974&step=292y"
        ),
        format!(
            "/api/v1/query_range?query={one}&start=9223300000000000&end=9223309901257974&step=292y"
        ),
    ] {
        let answer = get(address, &path, 200).await;
        assert_eq!(answer["status"], "success", "{path}: {answer}");
    }
    let (status, body) = http(address, "GET", "/-/healthy", &[]).await;
    assert_eq!(status, 200, "{body}");
}

/// How long a test waits for something the read timeout should bring
/// about: far beyond the 1 s timeout, for a loaded machine.
const LIVENESS: Duration = Duration::from_secs(30);

/// Reads `stream` until the server closes it (EOF or a reset), within
/// [`LIVENESS`]; what was read.
pub(crate) async fn read_until_closed(stream: &mut tokio::net::TcpStream, what: &str) -> String {
    let mut got = Vec::new();
    let mut buffer = [0u8; 4096];
    let closing = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(LIVENESS, closing)
        .await
        .unwrap_or_else(|_| panic!("{what}: the server did not close the connection"));
    String::from_utf8_lossy(&got).into_owned()
}

/// Reads one whole response (head and `Content-Length` body) from a
/// connection that stays open; the status and the body.
pub(crate) async fn read_response(stream: &mut tokio::net::TcpStream) -> (u16, String) {
    let mut got = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or_else(|| panic!("no Content-Length in {head}"));
            while got.len() < end + 4 + length {
                let n = stream.read(&mut buffer).await.unwrap();
                assert!(n > 0, "the connection closed mid-body: {head}");
                got.extend_from_slice(&buffer[..n]);
            }
            let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
            let body = String::from_utf8_lossy(&got[end + 4..end + 4 + length]).into_owned();
            return (status, body);
        }
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(n > 0, "the connection closed before a response");
        got.extend_from_slice(&buffer[..n]);
    }
}

/// A server without scrapes taking at most `connections` connections at
/// once, with a read timeout of one second.
async fn serve_with_read_timeout_of_a_second(connections: u32) -> (TestServer, PluginsDir) {
    serve("global:\n  scrape_interval: 1h\n", |args| {
        args.web_max_connections = connections;
        args.web_read_timeout = Duration::from_secs(1);
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn partial_and_trickled_requests_are_closed_after_the_read_timeout() {
    let (server, _plugins) = serve_with_read_timeout_of_a_second(2).await;
    let address = server.address;
    // One client sends part of a request line and then nothing.
    let mut silent = tokio::net::TcpStream::connect(address).await.unwrap();
    silent.write_all(b"GET /api/v1/que").await.unwrap();
    // The other (slowloris) sends a header byte every 200 ms, each well
    // within the timeout, and never finishes its head.
    let mut trickling = tokio::net::TcpStream::connect(address).await.unwrap();
    trickling
        .write_all(format!("GET /-/healthy HTTP/1.1\r\nHost: {address}\r\n").as_bytes())
        .await
        .unwrap();
    let trickler = tokio::spawn(async move {
        let started = std::time::Instant::now();
        // Until the server closes the connection, or long past any timeout.
        while started.elapsed() < LIVENESS {
            if trickling.write_all(b"X").await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            // A closed connection shows as EOF on a read that is ready.
            let mut byte = [0u8; 1];
            if let Ok(Ok(0) | Err(_)) =
                tokio::time::timeout(Duration::from_millis(1), trickling.read(&mut byte)).await
            {
                return true;
            }
        }
        false
    });
    // Both slots are taken; a third client is served once the read timeout
    // has closed them.
    let third = tokio::spawn(async move {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let request =
            format!("GET /-/healthy HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        read_until_closed(&mut stream, "the third client").await
    });
    let answer = third.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.ends_with("wasmetheus Server is Healthy.\n"),
        "{answer}"
    );
    let said = read_until_closed(&mut silent, "the silent client").await;
    assert!(!said.contains("Healthy"), "{said}");
    assert!(
        trickler.await.unwrap(),
        "the trickling client's connection was never closed"
    );
    let (status, body) = http(address, "GET", "/-/healthy", &[]).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_keep_alive_connection_is_closed_after_the_read_timeout() {
    let (server, _plugins) = serve_with_read_timeout_of_a_second(1).await;
    let address = server.address;
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = request_keep_alive(&mut stream, address).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // Idle: closed by the server, and its only slot serves someone else.
    let rest = read_until_closed(&mut stream, "the idle keep-alive connection").await;
    assert_eq!(rest, "");
    let (status, body) = http(address, "GET", "/-/healthy", &[]).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_body_sent_too_slowly_is_answered_408_and_closed() {
    let (server, _plugins) = serve_with_read_timeout_of_a_second(1).await;
    let address = server.address;
    // A whole head promising 100 bytes of form, then a few of them, then
    // nothing.
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST /api/v1/query HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nquery=1"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut stream, "the slow body").await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("--web.read-timeout"), "{answer}");
    let (status, body) = http(address, "GET", "/-/healthy", &[]).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_query_slower_than_the_read_timeout_still_gets_its_answer() {
    const READ_TIMEOUT: Duration = Duration::from_secs(1);
    /// The query's own timeout: its answer comes no sooner.
    const QUERY_TIMEOUT: Duration = Duration::from_secs(2);
    let (server, _plugins) = serve("global:\n  scrape_interval: 1h\n", |args| {
        args.web_read_timeout = READ_TIMEOUT;
    })
    .await;
    let address = server.address;
    let flags = get(address, "/api/v1/status/flags", 200).await;
    assert_eq!(flags["data"]["web.read-timeout"], "1s", "{flags}");
    // One keep-alive connection: a query answered only at its timeout, then
    // a quick one.
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {address}\r\n\r\n",
        endless_query_path("2s")
    );
    let requested = std::time::Instant::now();
    stream.write_all(request.as_bytes()).await.unwrap();
    let (status, body) = read_response(&mut stream).await;
    let took = requested.elapsed();
    assert_eq!(status, 503, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["errorType"], "timeout", "{answer}");
    // Written long after the read timeout had passed since the request.
    assert!(QUERY_TIMEOUT > READ_TIMEOUT);
    assert!(took >= QUERY_TIMEOUT, "answered after {took:?}");
    let request =
        format!("GET /api/v1/query?query=1%2B1&time=100 HTTP/1.1\r\nHost: {address}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let (status, body) = read_response(&mut stream).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""2""#), "{body}");
}

/// A range query whose answer is over 16 MiB (more than the sockets of a
/// connection buffer): 11,000 series, each of one point and a 2,000-byte
/// label.
fn big_answer_path() -> String {
    let query = format!(
        "label_replace(count_values(\"v\", vector(time())), \"pad\", \"{}\", \"\", \"\")",
        "x".repeat(2000)
    );
    format!(
        "/api/v1/query_range?query={}&start=0&end=10999&step=1",
        encode(&query)
    )
}

/// Connects with a small receive buffer, asks for [`big_answer_path`] and
/// reads the first bytes of the answer (so it is being written), never to
/// read more.
async fn request_unread(address: SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(address).await.unwrap();
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {address}\r\n\r\n",
        big_answer_path()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut start = [0u8; 12];
    tokio::time::timeout(LIVENESS, stream.read_exact(&mut start))
        .await
        .expect("the big answer is written")
        .unwrap();
    assert_eq!(&start, b"HTTP/1.1 200");
    stream
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unread_answer_frees_its_slot_and_does_not_hold_shutdown() {
    let (server, _plugins) = serve_with_read_timeout_of_a_second(1).await;
    let address = server.address;
    // The answer is bigger than what the sockets hold.
    let (status, body) = http(address, "GET", &big_answer_path(), &[]).await;
    assert_eq!(status, 200, "{}", &body[..body.len().min(200)]);
    assert!(body.len() > 16 << 20, "{} bytes", body.len());
    // A client holding the only slot, not reading its answer: the next is
    // served once it is closed.
    let stalled = request_unread(address).await;
    let (status, body) = tokio::time::timeout(LIVENESS, http(address, "GET", "/-/healthy", &[]))
        .await
        .expect("the client not reading kept the only connection slot");
    assert_eq!(status, 200, "{body}");
    drop(stalled);
    // Another one at shutdown does not keep the server running.
    let _stalled = request_unread(address).await;
    tokio::time::timeout(LIVENESS, server.stop())
        .await
        .expect("shutdown waited for a client that does not read");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http_sd_password_is_used_for_relabeling_but_not_shown() {
    let target = fixture_target().await;
    let config = format!(
        "global:\n  scrape_interval: 1h\nscrape_configs:\n\
         \x20 - job_name: sd_kept\n    http_sd_configs:\n\
         \x20     - url: http://sd:hunter2@{target}/sd\n\
         \x20   relabel_configs:\n\
         \x20     - source_labels: [__meta_url]\n        regex: 'http://sd:hunter2@.*'\n        action: keep\n\
         \x20 - job_name: sd_dropped\n    http_sd_configs:\n\
         \x20     - url: http://sd:hunter3@{target}/sd\n\
         \x20   relabel_configs:\n\
         \x20     - source_labels: [__meta_url]\n        regex: '.*hunter3.*'\n        action: drop\n"
    );
    let (server, _plugins) = serve(&config, |_| {}).await;
    let address = server.address;
    let answer = eventually(LIVENESS, "both jobs' targets to be discovered", || async {
        let answer = get(address, "/api/v1/targets", 200).await;
        let active = answer["data"]["activeTargets"].as_array()?;
        let dropped = answer["data"]["droppedTargets"].as_array()?;
        (active.iter().any(|t| t["scrapePool"] == "sd_kept") && !dropped.is_empty())
            .then_some(answer)
    })
    .await;
    // Relabeling saw the whole URL: the one kept by its password is
    // active, the other dropped by its password.
    let dropped = &answer["data"]["droppedTargets"][0]["discoveredLabels"];
    assert_eq!(
        dropped["__meta_url"],
        format!("http://sd:xxxxx@{target}/sd"),
        "{answer}"
    );
    assert_eq!(dropped["sd"], "http", "{answer}");
    let shown = answer.to_string();
    assert!(!shown.contains("hunter"), "{shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_body_beyond_the_limit_is_refused() {
    /// `wasmetheus_api::MAX_REQUEST_BODY`, axum's default.
    const BODY_LIMIT: usize = 2 << 20;
    let (server, _plugins) = serve("global:\n  scrape_interval: 1h\n", |_| {}).await;
    let address = server.address;
    let huge = format!("query=1&pad={}", "x".repeat(BODY_LIMIT));
    let (status, body) = wasmetheus_tests::http_with_body(
        address,
        "POST",
        "/api/v1/query",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &huge,
    )
    .await;
    assert_eq!(status, 413, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(
        error_of(&answer),
        (
            "bad_data",
            "request body larger than 2 MiB; send fewer or shorter parameters"
        )
    );
    // Just within it, the same form is read.
    let fits = format!(
        "query=1&pad={}",
        "x".repeat(BODY_LIMIT - "query=1&pad=".len())
    );
    let (status, body) = wasmetheus_tests::http_with_body(
        address,
        "POST",
        "/api/v1/query",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &fits,
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_finishes_answers_but_does_not_wait_for_silent_clients() {
    // Shutdown waits up to the read timeout for answers in flight.
    let (server, _plugins) = serve("global:\n  scrape_interval: 1h\n", |args| {
        args.web_read_timeout = Duration::from_secs(10);
    })
    .await;
    let address = server.address;
    // A query in flight (answered at its timeout, within the read
    // timeout), a client that sent half a request line and an idle
    // keep-alive connection.
    let mut querying = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {address}\r\n\r\n",
        endless_query_path("3s")
    );
    querying.write_all(request.as_bytes()).await.unwrap();
    eventually(LIVENESS, "the slow query to run", || async {
        (own_gauge(address, "prometheus_engine_queries").await >= 1.0).then_some(())
    })
    .await;
    let mut silent = tokio::net::TcpStream::connect(address).await.unwrap();
    silent.write_all(b"GET /-/hea").await.unwrap();
    let mut idle = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = request_keep_alive(&mut idle, address).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    let stopping = tokio::spawn(server.stop());
    // The query in flight is answered; then every connection is closed and
    // the server stops.
    let (status, body) = read_response(&mut querying).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(r#""errorType":"timeout""#), "{body}");
    read_until_closed(&mut querying, "the answered connection").await;
    read_until_closed(&mut silent, "the silent client").await;
    read_until_closed(&mut idle, "the idle connection").await;
    tokio::time::timeout(LIVENESS, stopping)
        .await
        .expect("the server stops")
        .unwrap();
}
