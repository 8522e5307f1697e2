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

/// `path` relative to the working directory, which the in-process server
/// shares.
fn relative(path: &std::path::Path) -> String {
    let cwd = std::env::current_dir().unwrap();
    let ups = cwd.components().count() - 1;
    let mut relative = "../".repeat(ups);
    relative.push_str(path.strip_prefix("/").unwrap().to_str().unwrap());
    relative
}

fn write(path: &std::path::Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A configuration in a subdirectory named by a relative `--config.file`:
/// its file SD files and password file, and those of a scrape config file
/// in another directory, are found relative to the file that names them
/// (joined once, as Prometheus does), so every target is scraped; a
/// Kubernetes discovery whose relative kubeconfig does not exist is
/// reported as failed, with the joined path in its reason, and counted in
/// `prometheus_sd_failed_configs`.
#[tokio::test(flavor = "multi_thread")]
async fn files_of_a_relatively_named_config_are_found_and_a_failed_discovery_says_why() {
    let target = wasmetheus_tests::fixture_target().await;
    let dir = PluginsDir::new();
    let root = dir.path().canonicalize().unwrap();
    let targets = format!(r#"[{{"targets": ["{target}"]}}]"#);
    write(&root.join("cfg/sd/targets.json"), &targets);
    write(&root.join("cfg/secrets/pw"), "pw\n");
    write(&root.join("inc/own.json"), &targets);
    write(&root.join("inc/token"), "t\n");
    write(
        &root.join("inc/jobs.yml"),
        "scrape_configs:
  - job_name: included
    authorization: {credentials_file: token}
    file_sd_configs: [{files: [own.json]}]
",
    );
    let config_path = root.join("cfg/prometheus.yml");
    write(
        &config_path,
        "global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_config_files: [../inc/*.yml]
scrape_configs:
  - job_name: relative
    basic_auth: {username: u, password_file: secrets/pw}
    file_sd_configs: [{files: [sd/*.json]}]
  - job_name: kube
    kubernetes_sd_configs:
      - role: pod
        kubeconfig_file: kube/absent
",
    );
    let config = relative(&config_path);
    let data = tempfile::tempdir().unwrap();
    let args =
        wasmetheus_tests::test_args(dir.path(), Some(std::path::Path::new(&config)), data.path());
    let server = TestServer::start(args, data).await;
    let a = server.address;

    // Both jobs' targets are discovered and scraped (a password or token
    // file not found would fail the scrape).
    eventually(
        std::time::Duration::from_secs(20),
        "both file SD targets up",
        || async {
            let targets = get_json(a, "/api/v1/targets").await;
            let up: Vec<String> = targets["data"]["activeTargets"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t["health"] == "up")
                .map(|t| t["scrapePool"].as_str().unwrap().to_owned())
                .collect();
            (up.contains(&"relative".to_owned()) && up.contains(&"included".to_owned()))
                .then_some(())
        },
    )
    .await;

    // status/config shows the joined paths.
    let status = get_json(a, "/api/v1/status/config").await;
    let yaml = status["data"]["yaml"].as_str().unwrap();
    let cfg_dir = config.trim_end_matches("/prometheus.yml");
    assert!(yaml.contains(&format!("{cfg_dir}/sd/*.json")), "{yaml}");
    assert!(yaml.contains(&format!("{cfg_dir}/kube/absent")), "{yaml}");

    // The Kubernetes discovery could not start: failed, with the reason.
    let kube = eventually(
        std::time::Duration::from_secs(10),
        "the kubernetes discovery failed",
        || async {
            let targets = get_json(a, "/api/v1/targets").await;
            targets["data"]["discoveries"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["mechanism"] == "kubernetes_sd_configs" && d["state"] == "failed")
                .cloned()
        },
    )
    .await;
    assert_eq!(kube["job"], "kube", "{kube}");
    let reason = kube["reason"].as_str().unwrap();
    assert!(
        reason.contains("kubernetes_sd_configs could not start")
            && reason.contains(&format!("{cfg_dir}/kube/absent")),
        "{kube}"
    );
    let (_, metrics) = http(a, "GET", "/metrics", &[]).await;
    assert!(
        metrics.contains("prometheus_sd_failed_configs{name=\"scrape\"} 1"),
        "{metrics}"
    );
    // It runs here, so it is not among the mechanisms this version lacks.
    assert!(
        !metrics.contains("wasmetheus_sd_discovery_not_running{"),
        "{metrics}"
    );
    server.stop().await;
}
