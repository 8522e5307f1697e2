//! Graceful stop of `wasmetheus serve` as a process (a child of this test
//! binary, so that it gets a real SIGTERM and exits as the binary does):
//! scraping targets every 250 ms (one answering at once, one slowly, so
//! that a scrape is in flight, one never), with a client holding a
//! kept-alive connection, it exits successfully, closing that connection,
//! and a restart on the same storage finds every sample the API answered
//! just before the stop.

use crate::api_limits::{read_response, read_until_closed};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wasmetheus_tests::{ChildDaemon, PluginsDir, child_payload, free_port, test_args, url_encode};

/// Set in a child process: the server's plugins directory, configuration
/// file, storage directory and listen address (JSON).
const CHILD_FLAGS: &str = "WASMETHEUS_TEST_SHUTDOWN_SERVE";
const TEST: &str = "shutdown::a_stop_under_load_exits_and_keeps_every_answered_sample";
/// Generous bounds: the machine may be busy. The stop's own goal (1 s) is
/// measured by `cargo xtask bench ingest`, not here.
const READY_WAIT: Duration = Duration::from_secs(60);
const EXIT_WAIT: Duration = Duration::from_secs(20);

/// In a child process started by [`Serve::start`]: runs `wasmetheus
/// serve` until SIGTERM and returns true (an error fails the child with it
/// on its output).
fn serve_child() -> bool {
    let Some(flags) = child_payload(CHILD_FLAGS) else {
        return false;
    };
    let [plugins, config, data, listen]: [PathBuf; 4] = serde_json::from_str(&flags).unwrap();
    let mut args = test_args(&plugins, Some(&config), &data);
    args.listen_address = listen.display().to_string();
    // The shutdown's steps, timed, in the child's log.
    args.log_level = "info,wasmetheus::serve=debug".into();
    if let Err(e) = wasmetheus::serve::run(args) {
        panic!("error: {e:#}");
    }
    true
}

/// The files of the server under test.
struct Files {
    dir: tempfile::TempDir,
    plugins: PluginsDir,
}

impl Files {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// `wasmetheus serve`, a child process of this test binary.
struct Serve(ChildDaemon);

impl Serve {
    /// Starts the server of `files` (logging to `<name>.log`) and waits
    /// until it is ready.
    async fn start(files: &Files, name: &str) -> Serve {
        let address = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let flags = [
            files.plugins.path().to_owned(),
            files.path("prometheus.yml"),
            files.path("data"),
            PathBuf::from(address.to_string()),
        ];
        let mut daemon = ChildDaemon::spawn(
            TEST,
            CHILD_FLAGS,
            &serde_json::to_string(&flags).unwrap(),
            address,
            files.path(&format!("{name}.log")),
        );
        daemon.wait_ready("the server", READY_WAIT).await;
        Serve(daemon)
    }

    fn log(&self) -> String {
        self.0.log()
    }

    /// SIGTERM, and the exit it leads to: successful, within
    /// [`EXIT_WAIT`].
    async fn stop(self) {
        self.0.stop(EXIT_WAIT).await;
    }
}

/// Scrape targets on loopback: `/fast` answers at once, `/slow` after
/// 150 ms, `/hang` never; every answer's counter is one more than the
/// previous answer's.
async fn counting_target() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let answers = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let answers = Arc::clone(&answers);
            tokio::spawn(async move {
                let mut request = vec![0u8; 4096];
                let n = stream.read(&mut request).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&request[..n]).into_owned();
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
                match path.as_str() {
                    "/slow" => tokio::time::sleep(Duration::from_millis(150)).await,
                    "/hang" => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    }
                    _ => {}
                }
                let n = answers.fetch_add(1, Ordering::Relaxed);
                let body = format!(
                    "# TYPE shutdown_answers_total counter\n\
                     shutdown_answers_total{{path=\"{path}\"}} {n}\n\
                     shutdown_gauge{{path=\"{path}\"}} {}\n",
                    n as f64 / 7.0
                );
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    address
}

/// The samples of a matrix answer: series (labels as JSON text) to their
/// `(time, value)` pairs.
type Samples = BTreeMap<String, BTreeSet<(String, String)>>;

fn samples_of(body: &str) -> Samples {
    let answer: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(answer["status"], "success", "{body}");
    let result = answer["data"]["result"]
        .as_array()
        .unwrap_or_else(|| panic!("no result: {body}"));
    result
        .iter()
        .map(|series| {
            let values = series["values"].as_array().unwrap();
            let values = values
                .iter()
                .map(|pair| (pair[0].to_string(), pair[1].to_string()))
                .collect();
            (series["metric"].to_string(), values)
        })
        .collect()
}

/// The samples a server answers for `query`, asked on `stream` (kept
/// alive).
async fn ask(stream: &mut tokio::net::TcpStream, address: SocketAddr, query: &str) -> Samples {
    let request = format!("GET {query} HTTP/1.1\r\nHost: {address}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let (status, body) = read_response(stream).await;
    assert_eq!(status, 200, "{body}");
    samples_of(&body)
}

/// Samples of the series whose labels contain `needle`.
fn count(samples: &Samples, needle: &str) -> usize {
    samples
        .iter()
        .filter(|(labels, _)| labels.contains(needle))
        .map(|(_, values)| values.len())
        .sum()
}

#[test]
fn a_stop_under_load_exits_and_keeps_every_answered_sample() {
    if serve_child() {
        return;
    }
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let target = counting_target().await;
        let files = Files {
            dir: tempfile::tempdir().unwrap(),
            plugins: PluginsDir::new(),
        };
        let jobs: String = ["fast", "slow", "hang"]
            .iter()
            .map(|job| {
                format!(
                    "  - job_name: {job}\n    metrics_path: /{job}\n    static_configs:\n      \
                     - targets: ['{target}']\n"
                )
            })
            .collect();
        std::fs::write(
            files.path("prometheus.yml"),
            format!(
                "global:\n  scrape_interval: 250ms\n  scrape_timeout: 250ms\nscrape_configs:\n{jobs}"
            ),
        )
        .unwrap();
        // Every sample of the three jobs, up to ten minutes from now.
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 600;
        let query = format!(
            "/api/v1/query?query={}&time={at}",
            url_encode(r#"{job=~"fast|slow|hang"}[1h]"#)
        );

        let first = Serve::start(&files, "first").await;
        let address = first.0.address;
        let mut kept = tokio::net::TcpStream::connect(address).await.unwrap();
        let deadline = std::time::Instant::now() + READY_WAIT;
        loop {
            let answered = ask(&mut kept, address, &query).await;
            let scraped = |path: &str| count(&answered, &format!(r#""path":"/{path}""#));
            if scraped("fast") >= 8 && scraped("slow") >= 8 && count(&answered, r#""job":"hang""#) >= 4 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the targets were not scraped within {READY_WAIT:?}: {answered:?}\n{}",
                first.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The last answer, then at once the stop: scrapes are running and
        // the connection it came on stays open.
        let answered = ask(&mut kept, address, &query).await;
        let log = first.0.log.clone();
        first.stop().await;
        let log = std::fs::read_to_string(log).unwrap_or_default();
        assert!(log.contains("stopped in"), "{log}");
        // Nothing held the TSDB past its close (shutdown would wait for
        // it).
        assert!(!log.contains("still referenced"), "{log}");
        // The server closed the kept-alive connection.
        let rest = read_until_closed(&mut kept, "the kept-alive connection").await;
        assert!(rest.is_empty(), "{rest}");

        // A restart on the same storage has every sample answered before
        // the stop (and those it scrapes since, later ones).
        let second = Serve::start(&files, "second").await;
        let mut stream = tokio::net::TcpStream::connect(second.0.address)
            .await
            .unwrap();
        let replayed = ask(&mut stream, second.0.address, &query).await;
        for (series, values) in &answered {
            let after = replayed
                .get(series)
                .unwrap_or_else(|| panic!("{series} not replayed:\n{}", second.log()));
            let lost: Vec<_> = values.difference(after).collect();
            assert!(
                lost.is_empty(),
                "{series}: {} of {} samples lost: {lost:?}\n{log}",
                lost.len(),
                values.len()
            );
        }
        second.stop().await;
    });
}
