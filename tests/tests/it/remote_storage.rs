//! Remote write and remote read against Debian's Prometheus (2.42):
//! Prometheus scrapes the fixture target and remote-writes into
//! wasmetheus (`--web.enable-remote-write-receiver`), and reads through
//! `remote_read` from wasmetheus' `/api/v1/read`; hostile bodies against
//! the running receiver get a clear 4xx and store nothing.

use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use wasmetheus_prompb::remote::WriteRequest;
use wasmetheus_prompb::types::{Label, Sample, TimeSeries};
use wasmetheus_prompb::{Message, codec};
use wasmetheus_tests::{
    PluginsDir, TestServer, eventually, fixture_target, free_port, http, start_prometheus,
    test_args, url_encode,
};

/// The result of an instant query as sorted `(labels, value)` pairs;
/// `None` while the server is not up.
async fn query(address: SocketAddr, q: &str) -> Option<Vec<(String, String)>> {
    std::net::TcpStream::connect(address).ok()?;
    let (status, body) = http(
        address,
        "GET",
        &format!("/api/v1/query?query={}", url_encode(q)),
        &[],
    )
    .await;
    if status != 200 {
        return None;
    }
    let answer: Value = serde_json::from_str(&body).ok()?;
    let mut out: Vec<(String, String)> = answer["data"]["result"]
        .as_array()?
        .iter()
        .map(|r| {
            let mut labels: Vec<String> = r["metric"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                .unwrap_or_default();
            labels.sort();
            (
                labels.join(","),
                r["value"][1].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    out.sort();
    Some(out)
}

/// A POST with a binary body: status, headers (lowercased names) and body.
async fn post(
    address: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut head = format!(
        "POST {path} HTTP/1.0\r\nHost: {address}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (413) before reading the whole body.
    let _ = stream.write_all(body).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_lowercase(), body.to_owned())
}

fn write_body(series: Vec<(&str, Vec<(i64, f64)>)>) -> Vec<u8> {
    let req = WriteRequest {
        timeseries: series
            .into_iter()
            .map(|(name, samples)| TimeSeries {
                labels: vec![Label {
                    name: "__name__".into(),
                    value: name.into(),
                }],
                samples: samples
                    .into_iter()
                    .map(|(timestamp, value)| Sample { value, timestamp })
                    .collect(),
                ..TimeSeries::default()
            })
            .collect(),
        metadata: Vec::new(),
    };
    codec::snappy_compress(&req.encode_to_vec())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_writes_into_and_reads_from_wasmetheus() {
    let fixture = fixture_target().await;
    // wasmetheus scrapes the fixture as job `ours`: data Prometheus only
    // sees through remote read.
    let dir = PluginsDir::new();
    let ours_config = dir.path().join("ours.yml");
    std::fs::write(
        &ours_config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: ours\n    static_configs: [{{targets: ['{fixture}']}}]\n"
        ),
    )
    .unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let mut args = test_args(dir.path(), Some(&ours_config), data_dir.path());
    args.remote.enable_remote_write_receiver = true;
    let ours = TestServer::start(args, data_dir).await;

    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: fixture\n    static_configs: [{{targets: ['{fixture}']}}]\n\
             remote_write:\n  - url: http://{ours}/api/v1/write\n    queue_config: {{batch_send_deadline: 1s}}\n\
             remote_read:\n  - url: http://{ours}/api/v1/read\n    read_recent: true\n",
            ours = ours.address
        ),
    )
    .unwrap();
    let prometheus_port = free_port();
    let prometheus_data = tempfile::tempdir().unwrap();
    let _prometheus = start_prometheus(&config, prometheus_data.path(), prometheus_port, &[]);
    let prometheus: SocketAddr = format!("127.0.0.1:{prometheus_port}").parse().unwrap();

    // (a) What Prometheus scraped arrives in wasmetheus: the same series
    // and values.
    let q = "fixture_requests_total{job=\"fixture\"}";
    let theirs = eventually(
        Duration::from_secs(60),
        "Prometheus scraping",
        || async move { query(prometheus, q).await.filter(|r| r.len() == 2) },
    )
    .await;
    let mine = eventually(
        Duration::from_secs(60),
        "remote-written series",
        || async move { query(ours.address, q).await.filter(|r| r.len() == 2) },
    )
    .await;
    assert_eq!(theirs, mine);
    assert!(
        mine[0].0.contains("code=\"200\"") && mine[0].1 == "42",
        "{mine:?}"
    );
    // `up` and the scrape's other synthetic series too, sample for sample
    // over a window both have.
    let count = "count_over_time(up{job=\"fixture\"}[5m] offset 10s)";
    eventually(
        Duration::from_secs(60),
        "the same up samples",
        || async move {
            let (a, b) = (
                query(prometheus, count).await?,
                query(ours.address, count).await?,
            );
            (a == b && !a.is_empty() && a[0].1.parse::<f64>().ok()? >= 2.0).then_some(())
        },
    )
    .await;

    // (b) Prometheus answers over data only wasmetheus has, through
    // remote_read.
    let only_ours = "fixture_requests_total{job=\"ours\"}";
    let mine = eventually(Duration::from_secs(30), "our own scrape", || async move {
        query(ours.address, only_ours)
            .await
            .filter(|r| r.len() == 2)
    })
    .await;
    let theirs = eventually(
        Duration::from_secs(30),
        "Prometheus reading remotely",
        || async move { query(prometheus, only_ours).await.filter(|r| r.len() == 2) },
    )
    .await;
    assert_eq!(theirs, mine);

    // The flags and self-metrics, with Prometheus' names.
    let (_, flags) = http(ours.address, "GET", "/api/v1/status/flags", &[]).await;
    assert!(
        flags.contains("\"web.enable-remote-write-receiver\":\"true\"")
            && flags.contains("\"storage.remote.read-sample-limit\":\"50000000\""),
        "{flags}"
    );
    let (_, metrics) = http(ours.address, "GET", "/metrics", &[]).await;
    assert!(
        metrics.contains("\nprometheus_api_remote_read_queries 0\n"),
        "{metrics}"
    );
    assert!(metrics.contains("\nprometheus_api_remote_write_invalid_labels_samples_total 0\n"));

    // Hostile bodies against the running receiver: a clear 4xx, nothing
    // of them stored.
    let t = now_ms();
    let v1 = ("Content-Type", "application/x-protobuf");
    let (status, _, body) = post(ours.address, "/api/v1/write", &[v1], b"\x00\x01not snappy").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.starts_with("snappy"), "{body}");
    let (status, _, body) = post(
        ours.address,
        "/api/v1/write",
        &[v1],
        &codec::snappy_compress(b"\x0a\x7f\x01"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.starts_with("protobuf"), "{body}");
    let good = write_body(vec![("hostile_marker", vec![(t, 1.0)])]);
    let (status, _, body) = post(
        ours.address,
        "/api/v1/write",
        &[v1, ("Content-Encoding", "gzip")],
        &good,
    )
    .await;
    assert_eq!(status, 415, "{body}");
    let (status, _, body) = post(
        ours.address,
        "/api/v1/write",
        &[("Content-Type", "text/plain")],
        &good,
    )
    .await;
    assert_eq!(status, 415, "{body}");
    let (status, _, body) = post(
        ours.address,
        "/api/v1/write",
        &[v1],
        &vec![0u8; (32 << 20) + 1],
    )
    .await;
    assert_eq!(status, 413, "{body}");
    // A good series with an out-of-order one: 400, and the good one is
    // not stored either.
    let first = write_body(vec![("hostile_ooo", vec![(t, 1.0)])]);
    assert_eq!(
        post(ours.address, "/api/v1/write", &[v1], &first).await.0,
        204
    );
    let mixed = write_body(vec![
        ("hostile_marker", vec![(t, 1.0)]),
        ("hostile_ooo", vec![(t - 60_000, 2.0)]),
    ]);
    let (status, _, body) = post(ours.address, "/api/v1/write", &[v1], &mixed).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("out of order"), "{body}");
    assert_eq!(
        query(ours.address, "hostile_marker").await,
        Some(Vec::new())
    );
    assert_eq!(
        query(ours.address, "hostile_ooo").await.map(|r| r.len()),
        Some(1)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wasmetheus_reads_from_prometheus_merged_with_its_own_data() {
    let fixture = fixture_target().await;
    let dir = PluginsDir::new();
    let prometheus_port = free_port();
    // wasmetheus scrapes the fixture as job `ours` and reads Prometheus
    // through remote_read; Prometheus scrapes it as `theirs` (kept to
    // itself) and `both` (also remote-written into wasmetheus).
    let ours_config = dir.path().join("ours.yml");
    std::fs::write(
        &ours_config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: ours\n    static_configs: [{{targets: ['{fixture}']}}]\n\
             remote_read:\n  - url: http://127.0.0.1:{prometheus_port}/api/v1/read\n    name: prom\n    read_recent: true\n"
        ),
    )
    .unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let mut args = test_args(dir.path(), Some(&ours_config), data_dir.path());
    args.remote.enable_remote_write_receiver = true;
    let ours = TestServer::start(args, data_dir).await;
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: theirs\n    static_configs: [{{targets: ['{fixture}']}}]\n  - job_name: both\n    static_configs: [{{targets: ['{fixture}']}}]\n\
             remote_write:\n  - url: http://{ours}/api/v1/write\n    queue_config: {{batch_send_deadline: 1s}}\n    write_relabel_configs: [{{source_labels: [job], regex: both, action: keep}}]\n",
            ours = ours.address
        ),
    )
    .unwrap();
    let prometheus_data = tempfile::tempdir().unwrap();
    let _prometheus = start_prometheus(&config, prometheus_data.path(), prometheus_port, &[]);
    let prometheus: SocketAddr = format!("127.0.0.1:{prometheus_port}").parse().unwrap();

    // Data only Prometheus has, answered by wasmetheus.
    let q = "fixture_requests_total{job=\"theirs\"}";
    let theirs = eventually(
        Duration::from_secs(60),
        "Prometheus scraping",
        || async move { query(prometheus, q).await.filter(|r| r.len() == 2) },
    )
    .await;
    let mine = eventually(
        Duration::from_secs(30),
        "wasmetheus reading remotely",
        || async move { query(ours.address, q).await.filter(|r| r.len() == 2) },
    )
    .await;
    assert_eq!(theirs, mine);
    // Merged with its own.
    let jobs = "count by (job) (fixture_requests_total)";
    eventually(Duration::from_secs(30), "all three jobs", || async move {
        let r = query(ours.address, jobs).await?;
        (r.len() == 3).then_some(())
    })
    .await;
    // A series both have (scraped by Prometheus, remote-written into
    // wasmetheus): one series, its samples deduplicated by timestamp,
    // the same as Prometheus'.
    let both = "up{job=\"both\"}";
    eventually(
        Duration::from_secs(60),
        "the remote-written series",
        || async move {
            let path = format!("/api/v1/series?match[]={}", url_encode(both));
            let (status, body) = http(ours.address, "GET", &path, &[]).await;
            (status == 200 && body.contains("both")).then_some(())
        },
    )
    .await;
    let count = "count_over_time(up{job=\"both\"}[10m] offset 5s)";
    eventually(Duration::from_secs(60), "the same samples", || async move {
        let (a, b) = (
            query(prometheus, count).await?,
            query(ours.address, count).await?,
        );
        (a == b && a.len() == 1 && a[0].1.parse::<f64>().ok()? >= 3.0).then_some(())
    })
    .await;

    let (_, metrics) = http(ours.address, "GET", "/metrics", &[]).await;
    assert!(
        metrics.contains(&format!(
            "prometheus_remote_storage_remote_read_queries_total{{code=\"200\",remote_name=\"prom\",url=\"http://127.0.0.1:{prometheus_port}/api/v1/read\"}}"
        )),
        "{metrics}"
    );

    // A remote that is down fails the query with its name.
    drop(_prometheus);
    let (status, body) = eventually(Duration::from_secs(30), "the remote gone", || async move {
        let r = http(
            ours.address,
            "GET",
            &format!("/api/v1/query?query={}", url_encode("up")),
            &[],
        )
        .await;
        (r.0 != 200).then_some(r)
    })
    .await;
    assert!(status >= 400, "{status}");
    assert!(body.contains("remote_read: prom"), "{body}");
    // A reload without the entry: queries read local data only again.
    std::fs::write(
        &ours_config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: ours\n    static_configs: [{{targets: ['{fixture}']}}]\n"
        ),
    )
    .unwrap();
    let (status, body) = http(ours.address, "POST", "/-/reload", &[]).await;
    assert_eq!(status, 200, "{body}");
    let local = query(ours.address, "count by (job) (fixture_requests_total)")
        .await
        .expect("queries answer again");
    assert!(local.iter().any(|(l, _)| l.contains("ours")), "{local:?}");
    assert!(
        !local.iter().any(|(l, _)| l.contains("theirs")),
        "{local:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wasmetheus_remote_writes_2_0_into_wasmetheus() {
    // Prometheus 2.42 sends 1.0 only: our own sender speaks 2.0 to our
    // receiver.
    let fixture = fixture_target().await;
    let dir = PluginsDir::new();
    let receiver_config = dir.path().join("receiver.yml");
    std::fs::write(&receiver_config, "scrape_configs: []\n").unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut args = test_args(dir.path(), Some(&receiver_config), data.path());
    args.remote.enable_remote_write_receiver = true;
    let receiver = TestServer::start(args, data).await;
    let sender_config = dir.path().join("sender.yml");
    std::fs::write(
        &sender_config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: fx\n    static_configs: [{{targets: ['{fixture}']}}]\n\
             remote_write:\n  - url: http://{}/api/v1/write\n    protobuf_message: io.prometheus.write.v2.Request\n    queue_config: {{batch_send_deadline: 1s}}\n",
            receiver.address
        ),
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let sender = TestServer::start(
        test_args(dir.path(), Some(&sender_config), data.path()),
        data,
    )
    .await;
    let q = "fixture_requests_total{job=\"fx\"}";
    let sent = eventually(
        Duration::from_secs(60),
        "the sender scraping",
        || async move { query(sender.address, q).await.filter(|r| r.len() == 2) },
    )
    .await;
    let received = eventually(
        Duration::from_secs(60),
        "2.0 writes arriving",
        || async move { query(receiver.address, q).await.filter(|r| r.len() == 2) },
    )
    .await;
    assert_eq!(sent, received);
    // It was 2.0 that arrived, and nothing as 1.0.
    let (_, metrics) = http(receiver.address, "GET", "/metrics", &[]).await;
    assert!(
        metrics.contains("wasmetheus_remote_write_stored_requests_total{proto_msg=\"prometheus.WriteRequest\"} 0\n"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("wasmetheus_remote_write_stored_requests_total{proto_msg=\"io.prometheus.write.v2.Request\"} 0\n"),
        "{metrics}"
    );
    let count = "count_over_time(up{job=\"fx\"}[5m] offset 10s)";
    eventually(
        Duration::from_secs(60),
        "the same up samples",
        || async move {
            let (a, b) = (
                query(sender.address, count).await?,
                query(receiver.address, count).await?,
            );
            (a == b && !a.is_empty() && a[0].1.parse::<f64>().ok()? >= 2.0).then_some(())
        },
    )
    .await;
}
