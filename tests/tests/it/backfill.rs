//! Backfill against the reference: one OpenMetrics file imported by
//! Debian's promtool into a Prometheus data directory (served by Debian's
//! Prometheus) and by `wasmetheus tsdb create-blocks-from openmetrics`
//! with `--max-block-duration` 2h, 18h and 3d (served by wasmetheus); the
//! raw samples and instant and range queries inside and across the blocks
//! must answer the same. The file has what promtool accepts and a strict
//! parser would not: histogram bucket series one after another, each series'
//! samples together with time going back between series, and samples that
//! go back in time within a series (which promtool drops).

use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use wasmetheus_tests::{
    KillOnDrop, PluginsDir, TestServer, eventually, free_port, http, test_args, url_encode,
};

const PROMETHEUS: &str = "/usr/bin/prometheus";
const PROMTOOL: &str = "/usr/bin/promtool";
const HOUR: i64 = 3600;
const STEP: i64 = 60;
const SPAN: i64 = 4 * 24 * HOUR;

/// The file and its first timestamp (s): a 54 h block boundary plus an
/// hour, so that every block width starts its first block there.
fn openmetrics() -> (String, i64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let t0 = (now - 6 * 24 * HOUR) / (54 * HOUR) * (54 * HOUR) + HOUR;
    let mut text = String::new();
    // Going back within a series, first in the file (so that promtool's
    // appender drops them within its first batch, as it does silently):
    // a repeated timestamp with another value and an older sample.
    text.push_str(&format!(
        "# TYPE temp gauge\ntemp{{room=\"a\"}} 20 {}\n",
        t0 + 60
    ));
    text.push_str(&format!("temp{{room=\"a\"}} 99 {}\n", t0 + 60));
    text.push_str(&format!("temp{{room=\"a\"}} 98 {}.5\n", t0 + 30));
    for (room, base) in [("a", 20.0), ("b", 17.5), ("c", -3.25)] {
        for i in 2..SPAN / STEP {
            let t = t0 + i * STEP;
            let v = base + ((i % 97) as f64) * 0.125 - ((i % 13) as f64) * 0.3;
            // Milliseconds in the timestamps, truncated the same way.
            text.push_str(&format!(
                "temp{{room=\"{room}\"}} {v} {t}.{:03}\n",
                i % 1000
            ));
        }
    }
    text.push_str("# TYPE rpc histogram\n");
    // Bounds as Prometheus 3 writes them (it would turn `1` into `1.0`;
    // Debian's 2.42 would not).
    let buckets = [("0.1", 0.2), ("1.0", 0.7), ("10.0", 0.95), ("+Inf", 1.0)];
    for (le, share) in buckets {
        for i in 0..SPAN / STEP {
            let v = ((i * 17) as f64 * share).floor();
            text.push_str(&format!(
                "rpc_bucket{{le=\"{le}\"}} {v} {}\n",
                t0 + i * STEP
            ));
        }
    }
    for i in 0..SPAN / STEP {
        text.push_str(&format!("rpc_count {} {}\n", i * 17, t0 + i * STEP));
        text.push_str(&format!("rpc_sum {} {}\n", i as f64 * 5.5, t0 + i * STEP));
    }
    // A sparse counter: one sample every 5 hours.
    text.push_str("# TYPE jobs counter\n");
    for i in 0..SPAN / (5 * HOUR) {
        text.push_str(&format!(
            "jobs_total{{kind=\"x\"}} {} {}\n",
            i * 3,
            t0 + 30 + i * 5 * HOUR
        ));
    }
    text.push_str("# EOF\n");
    (text, t0)
}

/// `GET path`: the answer's `data.result`, series sorted by labels; `None`
/// while the server is not answering.
async fn result(address: SocketAddr, path: &str) -> Option<Value> {
    std::net::TcpStream::connect(address).ok()?;
    let (status, body) = http(address, "GET", path, &[]).await;
    assert!(
        status == 200 || status == 503,
        "{address}{path}: {status} {body}"
    );
    if status != 200 {
        return None;
    }
    let answer: Value = serde_json::from_str(&body).ok()?;
    let mut series = answer["data"]["result"].as_array()?.clone();
    series.sort_by_key(|s| s["metric"].to_string());
    Some(Value::Array(series))
}

/// The queries both must answer alike, as API paths.
fn queries(t0: i64) -> Vec<String> {
    let end = t0 + SPAN;
    let mut paths = vec![
        // Every stored sample.
        format!(
            "/api/v1/query?query={}&time={end}",
            url_encode("{__name__=~\".+\"}[5d]")
        ),
    ];
    // Instant queries across the first block (inside an 18 h or 54 h
    // block's later hours too), near block edges and between samples.
    // Seven seconds off the minute: no sample sits on a window's edge,
    // where Prometheus 3 (left-open windows, as here) and Debian's 2.42
    // (closed) differ.
    for t in [
        t0 + 60,
        t0 + 90,
        t0 + HOUR,
        t0 + 3 * HOUR + 7,
        t0 + 17 * HOUR,
        t0 + 19 * HOUR,
        t0 + 53 * HOUR - 1,
        t0 + 53 * HOUR,
        t0 + 60 * HOUR + 30,
        end - 1,
        end + 200,
    ]
    .map(|t| t + 7)
    {
        for q in [
            "temp",
            "rpc_bucket",
            "jobs_total",
            "count_over_time(temp[3h])",
            "count_over_time(rpc_bucket[3h])",
            "rate(rpc_count[10m])",
        ] {
            paths.push(format!("/api/v1/query?query={}&time={t}", url_encode(q)));
        }
    }
    // Range queries starting inside the first block and spanning blocks.
    for (start, stop, step) in [
        (t0 + 3 * HOUR + 7, t0 + 30 * HOUR, 600),
        (t0 + 7, end, 3600),
        (t0 + 20 * HOUR + 7, t0 + 80 * HOUR, 1800),
    ] {
        for q in ["temp", "sum by (le) (rpc_bucket)", "jobs_total"] {
            paths.push(format!(
                "/api/v1/query_range?query={}&start={start}&end={stop}&step={step}",
                url_encode(q)
            ));
        }
    }
    paths
}

fn run(program: &str, args: &[&str]) {
    assert!(Path::new(program).exists(), "{program} not found");
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn backfilled_data_answers_as_promtools_does_in_prometheus() {
    let (text, t0) = openmetrics();
    let dir = PluginsDir::new();
    let input = dir.path().join("in.om");
    std::fs::write(&input, &text).unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1m\n").unwrap();

    // The reference: promtool's blocks, served by Prometheus.
    let reference_data = tempfile::tempdir().unwrap();
    run(
        PROMTOOL,
        &[
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            input.to_str().unwrap(),
            reference_data.path().to_str().unwrap(),
        ],
    );
    let port = free_port();
    assert!(Path::new(PROMETHEUS).exists(), "{PROMETHEUS} not found");
    let _prometheus = KillOnDrop(
        Command::new(PROMETHEUS)
            .args([
                format!("--config.file={}", config.display()),
                format!("--storage.tsdb.path={}", reference_data.path().display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let prometheus: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let paths = queries(t0);
    eventually(Duration::from_secs(60), "Prometheus to answer", || async {
        result(prometheus, &paths[0]).await
    })
    .await;
    let mut expected = Vec::new();
    for path in &paths {
        expected.push(result(prometheus, path).await.unwrap());
    }
    // Every sample but the two that went back in time.
    let stored: usize = expected[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["values"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        stored,
        text.lines().filter(|l| !l.starts_with('#')).count() - 2
    );

    for duration in ["2h", "18h", "3d"] {
        let data = tempfile::tempdir().unwrap();
        let block = match duration {
            "2h" => 2,
            "18h" => 18,
            _ => 72,
        };
        let (from, into) = (input.clone(), data.path().to_owned());
        tokio::task::spawn_blocking(move || {
            wasmetheus::backfill::run(&from, &into, Duration::from_secs(block * 3600))
        })
        .await
        .unwrap()
        .unwrap();
        let ours = TestServer::start(test_args(dir.path(), Some(&config), data.path()), data).await;
        for (path, want) in paths.iter().zip(&expected) {
            let got = result(ours.address, path).await.unwrap();
            assert!(
                &got == want,
                "--max-block-duration {duration}: {path}\nours: {got}\nPrometheus: {want}"
            );
        }
        ours.stop().await;
    }
}
