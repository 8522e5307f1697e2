//! Against the reference: Debian's Prometheus (2.42) and wasmetheus scrape
//! the same targets — Debian's native node exporter and the fixture target
//! — with the same prometheus.yml, and both APIs must report the same
//! series and the same fixture values.

use serde_json::Value;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;
use wasmetheus_tests::{
    PluginsDir, TestServer, eventually, fixture_target, free_port, http, start_peer, test_args,
    url_encode,
};

const PROMETHEUS: &str = "/usr/bin/prometheus";
const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

/// `GET path` on a server, the answer's `data` (`None` while it is not up).
async fn data(address: SocketAddr, path: &str) -> Option<Value> {
    std::net::TcpStream::connect(address).ok()?;
    let (status, body) = http(address, "GET", path, &[]).await;
    if status != 200 {
        return None;
    }
    let answer: Value = serde_json::from_str(&body).ok()?;
    Some(answer["data"].clone())
}

/// The label sets of the series matching `selector` in the last minute.
async fn series(address: SocketAddr, selector: &str, now: u64) -> BTreeSet<String> {
    let path = format!(
        "/api/v1/series?match[]={}&start={}&end={now}",
        url_encode(selector),
        now - 60
    );
    data(address, &path)
        .await
        .unwrap_or_else(|| panic!("series from {address}"))
        .as_array()
        .unwrap()
        .iter()
        .map(Value::to_string)
        .collect()
}

/// Instant query: label set → value.
async fn values(address: SocketAddr, q: &str) -> Vec<(String, String)> {
    let answer = data(address, &format!("/api/v1/query?query={}", url_encode(q)))
        .await
        .unwrap_or_else(|| panic!("query from {address}"));
    let mut out: Vec<(String, String)> = answer["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["metric"].to_string(),
                s["value"][1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_and_wasmetheus_report_the_same_series() {
    let fixture = fixture_target().await;
    let node_port = free_port();
    let _node = start_peer(
        NODE_EXPORTER,
        "prometheus-node-exporter",
        &[
            format!("--web.listen-address=127.0.0.1:{node_port}"),
            "--collector.disable-defaults".into(),
            "--collector.loadavg".into(),
            "--collector.uname".into(),
            "--collector.meminfo".into(),
            "--collector.filesystem".into(),
        ],
    );
    let dir = PluginsDir::new();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: node\n    static_configs: [{{targets: ['127.0.0.1:{node_port}']}}]\n  - job_name: fixture\n    static_configs:\n      - targets: ['{fixture}']\n        labels: {{env: test}}\n    metric_relabel_configs:\n      - source_labels: [code]\n        regex: '5..'\n        action: drop\n"
        ),
    )
    .unwrap();
    let prometheus_port = free_port();
    let prometheus_data = tempfile::tempdir().unwrap();
    let _prometheus = start_peer(
        PROMETHEUS,
        "prometheus",
        &[
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", prometheus_data.path().display()),
            format!("--web.listen-address=127.0.0.1:{prometheus_port}"),
        ],
    );
    let prometheus: SocketAddr = format!("127.0.0.1:{prometheus_port}").parse().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let ours = TestServer::start(
        test_args(dir.path(), Some(&config), data_dir.path()),
        data_dir,
    )
    .await;

    // Both have scraped both jobs successfully at least twice.
    for server in [prometheus, ours.address] {
        eventually(Duration::from_secs(30), "both jobs up", || async move {
            let up = data(
                server,
                &format!(
                    "/api/v1/query?query={}",
                    url_encode("sum_over_time(up{job=~\"node|fixture\"}[1m])")
                ),
            )
            .await?;
            let results = up["result"].as_array()?.clone();
            (results.len() == 2
                && results.iter().all(|r| {
                    r["value"][1].as_str().and_then(|v| v.parse::<f64>().ok()) >= Some(2.0)
                }))
            .then_some(())
        })
        .await;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Exactly the same series, synthetic ones included; the instance
    // label of our built-in self-scrape job is excluded by the selector.
    for selector in ["{job=\"fixture\"}", "{job=\"node\"}"] {
        let (theirs, mine) = (
            series(prometheus, selector, now).await,
            series(ours.address, selector, now).await,
        );
        let only_theirs: Vec<&String> = theirs.difference(&mine).collect();
        let only_mine: Vec<&String> = mine.difference(&theirs).collect();
        assert!(
            only_theirs.is_empty() && only_mine.is_empty(),
            "{selector}: only in Prometheus: {only_theirs:#?}\nonly in wasmetheus: {only_mine:#?}"
        );
        assert!(!theirs.is_empty(), "{selector}: no series");
    }
    // The same values for what does not change between scrapes.
    for q in [
        "fixture_requests_total",
        // Our built-in self-scrape job is not in Prometheus' config.
        "scrape_samples_scraped{job!=\"wasmetheus\"}",
        "scrape_samples_post_metric_relabeling{job!=\"wasmetheus\"}",
        "node_uname_info",
        "count by (__name__) ({job=\"node\"})",
    ] {
        assert_eq!(
            values(prometheus, q).await,
            values(ours.address, q).await,
            "{q}"
        );
    }
}
