//! `kubernetes_sd_configs` in the running server: pods listed by an API
//! server on 127.0.0.1 become targets through `relabel_configs` as in
//! Prometheus (annotations select, meta labels become target labels, the
//! rest are dropped targets with their discovered labels), and the
//! discovery is reported as running; pods found for an `alertmanagers`
//! entry become its Alertmanagers through its `relabel_configs`.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wasmetheus_tests::{PluginsDir, TestServer, eventually, http};

const PODS: &str = r#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"7"},"items":[
 {"metadata":{"name":"web-1","namespace":"shop","uid":"u1","resourceVersion":"5","annotations":{"prometheus.io/scrape":"true"},"labels":{"app":"web"}},
  "spec":{"nodeName":"node-1","containers":[{"name":"web","image":"nginx","ports":[{"name":"metrics","containerPort":9113,"protocol":"TCP"}]}]},
  "status":{"phase":"Running","podIP":"127.0.0.1","conditions":[{"type":"Ready","status":"True"}]}},
 {"metadata":{"name":"db-1","namespace":"shop","uid":"u2","resourceVersion":"6","labels":{"app":"db"}},
  "spec":{"containers":[{"name":"db","image":"postgres","ports":[{"containerPort":5432,"protocol":"TCP"}]}]},
  "status":{"phase":"Running","podIP":"127.0.0.2"}}
]}"#;

/// An API server that lists [`PODS`] and holds watches open without
/// events.
async fn api_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&request);
                let path = head.split_whitespace().nth(1).unwrap_or("");
                if !path.starts_with("/api/v1/pods") {
                    let _ = conn
                        .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                        .await;
                } else if path.contains("watch=") {
                    let _ = conn
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
                        )
                        .await;
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                } else {
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{PODS}",
                        PODS.len()
                    );
                    let _ = conn.write_all(reply.as_bytes()).await;
                }
            });
        }
    });
    addr
}

/// The targets of the `pods` scrape pool (the server scrapes itself too).
fn pool(targets: &serde_json::Value) -> Vec<&serde_json::Value> {
    targets
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["scrapePool"] == "pods")
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn pods_become_targets_through_relabeling() {
    let api = api_server().await;
    let dir = PluginsDir::new();
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(
        &config_path,
        format!(
            "global:
  scrape_interval: 1h
scrape_configs:
  - job_name: pods
    kubernetes_sd_configs:
      - role: pod
        api_server: http://{api}
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
        regex: 'true'
        action: keep
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
      - source_labels: [__meta_kubernetes_namespace]
        target_label: namespace
"
        ),
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let args = wasmetheus_tests::test_args(dir.path(), Some(&config_path), data.path());
    let server = TestServer::start(args, data).await;
    let a = server.address;

    let targets = eventually(Duration::from_secs(20), "the pod targets", || async {
        let (status, body) = http(a, "GET", "/api/v1/targets", &[]).await;
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        (pool(&v["data"]["activeTargets"]).len() == 1
            && v["data"]["droppedTargets"]
                .as_array()
                .is_some_and(|t| t.len() == 1))
        .then_some(v)
    })
    .await;
    let active = pool(&targets["data"]["activeTargets"])[0];
    assert_eq!(active["labels"]["instance"], "127.0.0.1:9113", "{active}");
    assert_eq!(active["labels"]["pod"], "web-1", "{active}");
    assert_eq!(active["labels"]["namespace"], "shop", "{active}");
    assert_eq!(active["labels"]["job"], "pods", "{active}");
    assert_eq!(
        active["scrapeUrl"], "http://127.0.0.1:9113/metrics",
        "{active}"
    );
    let dropped = &targets["data"]["droppedTargets"][0];
    assert_eq!(
        dropped["discoveredLabels"]["__meta_kubernetes_pod_name"], "db-1",
        "{dropped}"
    );
    assert_eq!(
        dropped["discoveredLabels"]["__address__"], "127.0.0.2:5432",
        "{dropped}"
    );
    let discoveries = targets["data"]["discoveries"].as_array().unwrap();
    assert!(
        discoveries
            .iter()
            .any(|d| d["mechanism"] == "kubernetes_sd_configs" && d["state"] == "running"),
        "{targets}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pods_become_alertmanagers_through_relabeling() {
    let api = api_server().await;
    let dir = PluginsDir::new();
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(
        &config_path,
        format!(
            "alerting:
  alertmanagers:
    - path_prefix: /am
      kubernetes_sd_configs:
        - role: pod
          api_server: http://{api}
      relabel_configs:
        - source_labels: [__meta_kubernetes_pod_label_app]
          regex: web
          action: keep
"
        ),
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let args = wasmetheus_tests::test_args(dir.path(), Some(&config_path), data.path());
    let server = TestServer::start(args, data).await;
    let a = server.address;
    let found = eventually(Duration::from_secs(20), "the pod Alertmanagers", || async {
        let (status, body) = http(a, "GET", "/api/v1/alertmanagers", &[]).await;
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let active = v["data"]["activeAlertmanagers"].as_array()?.len();
        let dropped = v["data"]["droppedAlertmanagers"].as_array()?.len();
        (active == 1 && dropped == 1).then_some(v)
    })
    .await;
    assert_eq!(
        found["data"]["activeAlertmanagers"][0]["url"], "http://127.0.0.1:9113/am/api/v2/alerts",
        "{found}"
    );
    assert_eq!(
        found["data"]["droppedAlertmanagers"][0]["url"], "http://127.0.0.2:5432/am/api/v2/alerts",
        "{found}"
    );
    server.stop().await;
}
