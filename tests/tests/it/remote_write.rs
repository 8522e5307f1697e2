//! Remote write into real receivers: wasmetheus scrapes the fixture target
//! every second and remote-writes into VictoriaMetrics 1.79
//! (`/usr/bin/victoria-metrics`) and into Prometheus 2.42 with its
//! remote write receiver on. Every sample wasmetheus stored arrives, with
//! the external labels, through a receiver outage longer than the batch
//! deadline and a restart of wasmetheus on the same data directory.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use wasmetheus_tests::{
    KillOnDrop, PluginsDir, TestServer, eventually, fixture_target, free_port, http, test_args,
    url_encode,
};

const VICTORIA_METRICS: &str = "/usr/bin/victoria-metrics";
const PROMETHEUS: &str = "/usr/bin/prometheus";
const SERIES: &str = r#"fixture_requests_total{code="200"}"#;

fn start_victoria_metrics(data: &Path, port: u16) -> KillOnDrop {
    assert!(
        Path::new(VICTORIA_METRICS).exists(),
        "{VICTORIA_METRICS} not found: install the Debian package `victoria-metrics`"
    );
    KillOnDrop(
        Command::new(VICTORIA_METRICS)
            .args([
                format!("-httpListenAddr=127.0.0.1:{port}"),
                format!("-storageDataPath={}", data.display()),
                "-retentionPeriod=100y".to_owned(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting victoria-metrics"),
    )
}

fn start_prometheus(dir: &Path, port: u16) -> KillOnDrop {
    assert!(
        Path::new(PROMETHEUS).exists(),
        "{PROMETHEUS} not found: install the Debian package `prometheus`"
    );
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, "global: {}\n").unwrap();
    KillOnDrop(
        Command::new(PROMETHEUS)
            .args([
                format!("--config.file={}", config.display()),
                format!("--storage.tsdb.path={}", dir.join("data").display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
                "--web.enable-remote-write-receiver".to_owned(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting prometheus"),
    )
}

/// Stops a peer with SIGTERM (so it persists what it acknowledged) and
/// reaps it.
fn stop_gracefully(mut peer: KillOnDrop) {
    let _ = Command::new("kill")
        .args(["-TERM", &peer.0.id().to_string()])
        .status();
    let _ = peer.0.wait();
}

async fn wait_ready(address: SocketAddr, path: &str) {
    eventually(
        Duration::from_secs(30),
        "the peer to be ready",
        || async move {
            let connected = tokio::net::TcpStream::connect(address).await.is_ok();
            if !connected {
                return None;
            }
            (http(address, "GET", path, &[]).await.0 == 200).then_some(())
        },
    )
    .await;
}

fn config(receiver: &str, fixture: SocketAddr, queue: &str) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  external_labels: {{origin: wasmetheus}}\n\
         scrape_configs:\n  - job_name: fixture\n    static_configs: [{{targets: ['{fixture}']}}]\n\
         remote_write:\n  - url: {receiver}\n    name: peer\n\
         \x20   queue_config: {{batch_send_deadline: 500ms, min_backoff: 50ms, max_backoff: 500ms{queue}}}\n\
         \x20   metadata_config: {{send: false}}\n"
    )
}

/// (timestamp ms, value) of every sample of `SERIES` in the last hour,
/// from a Prometheus-compatible query API at `address`.
async fn stored(address: SocketAddr) -> Option<Vec<(i64, String)>> {
    let query = url_encode(&format!("{SERIES}[1h]"));
    let (status, body) = http(address, "GET", &format!("/api/v1/query?query={query}"), &[]).await;
    if status != 200 {
        return None;
    }
    let json: serde_json::Value = serde_json::from_str(&body).ok()?;
    let result = json["data"]["result"].as_array()?;
    let series = result.first()?;
    let mut out: Vec<(i64, String)> = series["values"]
        .as_array()?
        .iter()
        .map(|v| {
            (
                (v[0].as_f64().unwrap() * 1000.0).round() as i64,
                v[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out.dedup();
    Some(out)
}

/// The labels of `SERIES` at a Prometheus-compatible API, as `k=v,…`.
async fn labels(address: SocketAddr) -> Option<String> {
    let query = url_encode(SERIES);
    let (status, body) = http(
        address,
        "GET",
        &format!("/api/v1/series?match[]={query}"),
        &[],
    )
    .await;
    if status != 200 {
        return None;
    }
    let json: serde_json::Value = serde_json::from_str(&body).ok()?;
    let series = json["data"].as_array()?.first()?.as_object()?.clone();
    let mut pairs: Vec<String> = series
        .iter()
        .filter(|(k, _)| k.as_str() != "instance")
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    pairs.sort();
    Some(pairs.join(","))
}

/// (timestamp ms, value) of `SERIES` in VictoriaMetrics, from its export
/// API (raw samples, whatever the query latency offset).
async fn exported(address: SocketAddr) -> Vec<(i64, String)> {
    let query = url_encode(SERIES);
    let (status, body) = http(
        address,
        "GET",
        &format!("/api/v1/export?match[]={query}"),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mut out = Vec::new();
    for line in body.lines().filter(|l| !l.trim().is_empty()) {
        let json: serde_json::Value = serde_json::from_str(line).unwrap();
        let values = json["values"].as_array().unwrap();
        let timestamps = json["timestamps"].as_array().unwrap();
        for (t, v) in timestamps.iter().zip(values) {
            out.push((t.as_i64().unwrap(), v.to_string()));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Waits until every sample of `ours` is among what `theirs` gives.
async fn arrives<F, Fut>(ours: &[(i64, String)], what: &str, mut theirs: F) -> Vec<(i64, String)>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Vec<(i64, String)>>,
{
    let wanted: Vec<i64> = ours.iter().map(|(t, _)| *t).collect();
    eventually(Duration::from_secs(30), what, || {
        let got = theirs();
        let wanted = wanted.clone();
        async move {
            let got = got.await;
            let times: std::collections::BTreeSet<i64> = got.iter().map(|(t, _)| *t).collect();
            wanted.iter().all(|t| times.contains(t)).then_some(got)
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn victoria_metrics_gets_every_sample_through_an_outage_and_a_restart() {
    let fixture = fixture_target().await;
    let vm_dir = tempfile::tempdir().unwrap();
    let vm_port = free_port();
    let vm_address: SocketAddr = format!("127.0.0.1:{vm_port}").parse().unwrap();
    let vm = start_victoria_metrics(vm_dir.path(), vm_port);
    wait_ready(vm_address, "/health").await;
    let plugins = PluginsDir::new();
    let config_path = plugins.path().join("prometheus.yml");
    std::fs::write(
        &config_path,
        config(&format!("http://{vm_address}/api/v1/write"), fixture, ""),
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let args = test_args(plugins.path(), Some(&config_path), data.path());
    let server = TestServer::start(args.clone(), data).await;
    let first = eventually(
        Duration::from_secs(20),
        "samples in VictoriaMetrics",
        || async {
            let got = exported(vm_address).await;
            (got.len() >= 2).then_some(got)
        },
    )
    .await;
    assert!(first.iter().all(|(_, v)| v == "42"), "{first:?}");
    // An outage three times the batch deadline.
    stop_gracefully(vm);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let vm = start_victoria_metrics(vm_dir.path(), vm_port);
    wait_ready(vm_address, "/health").await;
    // And wasmetheus restarted on its data directory mid-stream.
    let data = server.stop().await;
    let server = TestServer::start(args, data).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ours = stored(server.address).await.expect("our samples");
    assert!(ours.len() >= 5, "{ours:?}");
    let theirs = arrives(&ours, "every sample in VictoriaMetrics", || {
        exported(vm_address)
    })
    .await;
    // Nothing else arrived: every sample there is one wasmetheus stored.
    let ours = stored(server.address).await.unwrap();
    let ours_times: std::collections::BTreeSet<i64> = ours.iter().map(|(t, _)| *t).collect();
    for (t, v) in &theirs {
        assert!(ours_times.contains(t), "{t} not stored here");
        assert_eq!(v, "42");
    }
    let vm_labels = labels(vm_address).await;
    // VictoriaMetrics' /api/v1/series hides the newest data by default;
    // the export's labels tell the same.
    let (_, body) = http(
        vm_address,
        "GET",
        &format!("/api/v1/export?match[]={}", url_encode(SERIES)),
        &[],
    )
    .await;
    let line: serde_json::Value = serde_json::from_str(body.lines().next().unwrap()).unwrap();
    let metric = &line["metric"];
    assert_eq!(metric["origin"], "wasmetheus", "{metric} {vm_labels:?}");
    assert_eq!(metric["job"], "fixture");
    assert_eq!(metric["exported_job"], "inner");
    assert_eq!(metric["instance"], fixture.to_string());
    drop(server);
    drop(vm);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_receives_the_same_series_and_values() {
    let fixture = fixture_target().await;
    let prom_dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let prom_address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let _prom = start_prometheus(prom_dir.path(), port);
    wait_ready(prom_address, "/-/ready").await;
    let plugins = PluginsDir::new();
    let config_path = plugins.path().join("prometheus.yml");
    std::fs::write(
        &config_path,
        // The fixture's gauge carries a 2023 timestamp: Prometheus 2.42
        // refuses a whole request with a sample out of its head's bounds
        // (400, so the batch is dropped); sample_age_limit keeps such
        // samples out, as it does in Prometheus 3.
        config(
            &format!("http://{prom_address}/api/v1/write"),
            fixture,
            ", sample_age_limit: 10m",
        ),
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(
        test_args(plugins.path(), Some(&config_path), data.path()),
        data,
    )
    .await;
    let ours = eventually(Duration::from_secs(20), "three scrapes here", || async {
        stored(server.address).await.filter(|s| s.len() >= 3)
    })
    .await;
    let theirs = arrives(&ours, "every sample in Prometheus", || async {
        stored(prom_address).await.unwrap_or_default()
    })
    .await;
    for (t, v) in &ours {
        assert!(theirs.contains(&(*t, v.clone())), "{t} {v}");
    }
    assert_eq!(
        labels(prom_address).await.unwrap(),
        "__name__=fixture_requests_total,code=200,exported_job=inner,job=fixture,origin=wasmetheus"
    );
    // The sender's self-metrics, with the queue's name and URL.
    let (_, metrics) = http(server.address, "GET", "/metrics", &[]).await;
    let line = metrics
        .lines()
        .find(|l| l.starts_with("prometheus_remote_storage_samples_total{"))
        .unwrap_or_else(|| panic!("no samples_total in\n{metrics}"));
    assert!(line.contains(r#"remote_name="peer""#), "{line}");
    let too_old = metrics
        .lines()
        .find(|l| {
            l.starts_with("prometheus_remote_storage_samples_dropped_total{")
                && l.contains(r#"reason="too_old""#)
        })
        .unwrap();
    assert!(!too_old.ends_with(" 0"), "{too_old}");
    let failed = metrics
        .lines()
        .find(|l| l.starts_with("prometheus_remote_storage_samples_failed_total{"))
        .unwrap();
    assert!(failed.ends_with(" 0"), "{failed}");
    assert!(
        line.contains(&format!(r#"url="http://{prom_address}/api/v1/write""#)),
        "{line}"
    );
}
