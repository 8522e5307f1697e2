//! Service discovery mechanisms that are parsed but not run yet (Consul,
//! EC2, Docker, …): a configuration using them loads, the server runs, and
//! each entry is reported as producing no targets, with the reason, in
//! `/api/v1/targets` (`data.discoveries`, beside Prometheus' fields) and on
//! `/metrics` (`prometheus_sd_failed_configs`,
//! `wasmetheus_sd_discovery_not_running`), so no target goes missing
//! silently; the targets that are discovered are counted as Prometheus
//! counts them (`prometheus_sd_discovered_targets`).

use wasmetheus_tests::{PluginsDir, TestServer, eventually, http};

async fn get_json(address: std::net::SocketAddr, path: &str) -> serde_json::Value {
    let (status, body) = http(address, "GET", path, &[]).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

const CONFIG: &str = "global:
  scrape_interval: 1h
scrape_configs:
  - job_name: mixed
    static_configs:
      - targets: ['127.0.0.1:1', '127.0.0.1:2']
    consul_sd_configs:
      - server: 127.0.0.1:8500
      - server: 127.0.0.1:8501
    ec2_sd_configs:
      - region: eu-west-1
  - job_name: docker
    docker_sd_configs:
      - host: unix:///var/run/docker.sock
    file_sd_configs:
      - files: [targets.json]
";

#[tokio::test(flavor = "multi_thread")]
async fn discoveries_that_do_not_run_are_listed_with_their_reason() {
    let dir = PluginsDir::new();
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, CONFIG).unwrap();
    std::fs::write(
        dir.path().join("targets.json"),
        r#"[{"targets": ["127.0.0.1:3", "127.0.0.1:4", "127.0.0.1:5"]}]"#,
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let args = wasmetheus_tests::test_args(dir.path(), Some(&config_path), data.path());
    let server = TestServer::start(args, data).await;
    let a = server.address;

    let targets = get_json(a, "/api/v1/targets").await;
    // Prometheus' shape is kept.
    assert!(targets["data"]["activeTargets"].is_array(), "{targets}");
    assert!(targets["data"]["droppedTargets"].is_array(), "{targets}");
    let discoveries = targets["data"]["discoveries"].as_array().unwrap();
    let listed: Vec<(&str, &str, u64, &str)> = discoveries
        .iter()
        .map(|d| {
            (
                d["job"].as_str().unwrap(),
                d["mechanism"].as_str().unwrap(),
                d["index"].as_u64().unwrap(),
                d["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("mixed", "static_configs", 0, "running"),
            ("mixed", "consul_sd_configs", 0, "not_running"),
            ("mixed", "consul_sd_configs", 1, "not_running"),
            ("mixed", "ec2_sd_configs", 0, "not_running"),
            ("docker", "file_sd_configs", 0, "running"),
            ("docker", "docker_sd_configs", 0, "not_running"),
        ],
        "{targets}"
    );
    for d in discoveries {
        if d["state"] == "running" {
            assert!(d.get("reason").is_none(), "{d}");
        } else {
            let reason = d["reason"].as_str().unwrap();
            assert!(
                reason.contains(d["mechanism"].as_str().unwrap())
                    && reason.contains("produces no targets"),
                "{d}"
            );
        }
    }

    // The self-metrics: discovered targets per scrape config (the file's
    // three once read), the entries that do not run, each named.
    let metrics = eventually(
        std::time::Duration::from_secs(10),
        "file SD targets",
        || async {
            let (status, body) = http(a, "GET", "/metrics", &[]).await;
            assert_eq!(status, 200);
            body.contains("prometheus_sd_discovered_targets{config=\"docker\",name=\"scrape\"} 3")
                .then_some(body)
        },
    )
    .await;
    assert!(
        metrics.contains("prometheus_sd_discovered_targets{config=\"mixed\",name=\"scrape\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("prometheus_sd_failed_configs{name=\"scrape\"} 4"),
        "{metrics}"
    );
    let not_running: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("wasmetheus_sd_discovery_not_running{"))
        .collect();
    assert_eq!(not_running.len(), 4, "{metrics}");
    for (job, mechanism, index) in [
        ("mixed", "consul_sd_configs", 0),
        ("mixed", "consul_sd_configs", 1),
        ("mixed", "ec2_sd_configs", 0),
        ("docker", "docker_sd_configs", 0),
    ] {
        let head = format!(
            "wasmetheus_sd_discovery_not_running{{config=\"{job}\",index=\"{index}\",mechanism=\"{mechanism}\",reason=\"{mechanism} is parsed"
        );
        assert!(
            not_running
                .iter()
                .any(|l| l.starts_with(&head) && l.ends_with("} 1")),
            "{head}: {not_running:?}"
        );
    }

    // A reload to a configuration without them clears the report.
    std::fs::write(
        &config_path,
        "scrape_configs:\n  - job_name: only\n    static_configs: [{targets: ['127.0.0.1:1']}]\n",
    )
    .unwrap();
    let (status, body) = http(a, "POST", "/-/reload", &[]).await;
    assert_eq!(status, 200, "{body}");
    let targets = get_json(a, "/api/v1/targets").await;
    assert_eq!(
        targets["data"]["discoveries"],
        serde_json::json!([{"job": "only", "mechanism": "static_configs", "index": 0, "state": "running"}]),
        "{targets}"
    );
    let (_, metrics) = http(a, "GET", "/metrics", &[]).await;
    assert!(
        metrics.contains("prometheus_sd_failed_configs{name=\"scrape\"} 0"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("wasmetheus_sd_discovery_not_running{"),
        "{metrics}"
    );
    server.stop().await;
}
