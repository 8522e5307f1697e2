//! Scraping HTTP targets from `scrape_configs` end to end: a fixture
//! target on loopback serves the text format, OpenMetrics, gzip, garbage,
//! a hang and an endless body; the server's own API shows what was stored,
//! `up` and the errors; a `file_sd_configs` file is followed without a
//! restart; the limits contain what misbehaves.

use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use wasmetheus_tests::{PluginsDir, TestServer, eventually, fixture_target, http, test_args};

fn config(target: SocketAddr, sd_file: &std::path::Path) -> String {
    let simple = |job: &str, extra: &str| {
        format!("  - job_name: {job}\n{extra}    static_configs: [{{targets: ['{target}']}}]\n")
    };
    [
        "global:\n  scrape_interval: 1s\nscrape_configs:\n".to_owned(),
        format!(
            "  - job_name: fixture\n    static_configs:\n      - targets: ['{target}']\n        labels: {{env: test}}\n"
        ),
        simple("honored", "    honor_labels: true\n    honor_timestamps: false\n"),
        simple("om", "    metrics_path: /om\n"),
        simple("gzip", "    metrics_path: /gzip\n"),
        simple("garbage", "    metrics_path: /garbage\n"),
        simple("hang", "    metrics_path: /hang\n    scrape_timeout: 500ms\n"),
        simple("big", "    metrics_path: /big\n    body_size_limit: 1MB\n"),
        simple("limited", "    sample_limit: 2\n"),
        // __name__, code, exported_job, job and instance: five labels.
        simple("label_limited", "    label_limit: 4\n"),
        simple("name_limited", "    label_name_length_limit: 8\n"),
        simple("value_limited", "    label_value_length_limit: 5\n"),
        format!(
            "  - job_name: http_sd\n    http_sd_configs:\n      - url: http://{target}/sd\n        refresh_interval: 1s\n"
        ),
        simple(
            "relabeled",
            "    metric_relabel_configs:\n      - source_labels: [code]\n        regex: '500'\n        action: drop\n      - source_labels: [__name__]\n        regex: fixture_temperature\n        action: drop\n",
        ),
        simple(
            "dropped",
            "    relabel_configs:\n      - source_labels: [__address__]\n        regex: '127.*'\n        action: drop\n",
        ),
        format!(
            "  - job_name: files\n    file_sd_configs:\n      - files: ['{}']\n",
            sd_file.display()
        ),
    ]
    .concat()
}

async fn query(address: SocketAddr, q: &str) -> Vec<(Value, String)> {
    let encoded: String = q
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let (status, body) = http(
        address,
        "GET",
        &format!("/api/v1/query?query={encoded}"),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{q}: {body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    let mut out: Vec<(Value, String)> = answer["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["metric"].clone(),
                s["value"][1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort_by_key(|(m, _)| m.to_string());
    out
}

fn up_of(results: &[(Value, String)], job: &str) -> Option<String> {
    results
        .iter()
        .find(|(m, _)| m["job"] == job)
        .map(|(_, v)| v.clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn http_targets_are_scraped_and_contained() {
    let target = fixture_target().await;
    let dir = PluginsDir::new();
    let sd_file = dir.path().join("targets.json");
    std::fs::write(&sd_file, "[]").unwrap();
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config(target, &sd_file)).unwrap();
    let data = tempfile::tempdir().unwrap();
    let args = test_args(dir.path(), Some(&config_path), data.path());
    let server = TestServer::start(args, data).await;
    let a = server.address;

    // Every job has been scraped once (the hang one after its timeout).
    let up = eventually(Duration::from_secs(20), "every job scraped", || async {
        let up = query(a, "up").await;
        let jobs = [
            "fixture",
            "honored",
            "om",
            "gzip",
            "garbage",
            "hang",
            "big",
            "limited",
            "label_limited",
            "name_limited",
            "value_limited",
            "relabeled",
            "http_sd",
        ];
        jobs.iter().all(|j| up_of(&up, j).is_some()).then_some(up)
    })
    .await;
    for (job, want) in [
        ("fixture", "1"),
        ("honored", "1"),
        ("om", "1"),
        ("gzip", "1"),
        ("relabeled", "1"),
        ("garbage", "0"),
        ("hang", "0"),
        ("big", "0"),
        ("limited", "0"),
        ("label_limited", "0"),
        ("name_limited", "0"),
        ("value_limited", "0"),
        ("http_sd", "1"),
    ] {
        assert_eq!(
            up_of(&up, job).as_deref(),
            Some(want),
            "up of {job}: {up:?}"
        );
    }

    // Target labels win; the exposed `job` is kept as `exported_job`.
    let requests = query(a, "fixture_requests_total{job=\"fixture\"}").await;
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].0["exported_job"], "inner");
    assert_eq!(requests[0].0["env"], "test");
    assert_eq!(requests[0].0["instance"], target.to_string());
    assert_eq!(requests[0].1, "42");
    // honor_labels: the exposed `job` wins.
    let honored = query(a, "fixture_requests_total{job=\"inner\"}").await;
    assert_eq!(honored.len(), 2, "{honored:?}");
    assert!(honored[0].0.get("exported_job").is_none());
    // honor_timestamps: the fixture's 2023 timestamp is kept by `fixture`
    // (too old for an instant query now), replaced by `honored`.
    assert!(
        query(a, "fixture_temperature{job=\"fixture\"}")
            .await
            .is_empty()
    );
    assert_eq!(
        query(a, "fixture_temperature{job=\"honored\"}").await.len(),
        1
    );
    // OpenMetrics and gzip.
    assert_eq!(query(a, "om_events_total").await[0].1, "3");
    assert_eq!(
        query(a, "fixture_requests_total{job=\"gzip\"}").await.len(),
        2
    );
    // Metric relabeling dropped one series and one metric.
    let relabeled = query(a, "{job=\"relabeled\", __name__=~\"fixture_.*\"}").await;
    assert_eq!(relabeled.len(), 1, "{relabeled:?}");
    let post = query(
        a,
        "scrape_samples_post_metric_relabeling{job=\"relabeled\"}",
    )
    .await;
    assert_eq!(post[0].1, "1");
    assert_eq!(
        query(a, "scrape_samples_scraped{job=\"relabeled\"}").await[0].1,
        "3"
    );
    // A malformed body ingests nothing, not even its valid first line.
    assert!(query(a, "garbage_ok").await.is_empty());
    assert!(query(a, "big_series").await.is_empty());
    // The errors are on the targets page.
    let (_, body) = http(a, "GET", "/api/v1/targets", &[]).await;
    let targets: Value = serde_json::from_str(&body).unwrap();
    let error_of = |job: &str| {
        targets["data"]["activeTargets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["labels"]["job"] == job)
            .map(|t| t["lastError"].as_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert!(
        error_of("garbage").contains("2:"),
        "{}",
        error_of("garbage")
    );
    assert!(
        error_of("hang").contains("timed out"),
        "{}",
        error_of("hang")
    );
    assert!(
        error_of("big").contains("body size limit exceeded"),
        "{}",
        error_of("big")
    );
    assert_eq!(error_of("limited"), "sample limit exceeded");
    // Prometheus' texts, over the labels as they would be stored.
    assert_eq!(
        ["label_limited", "name_limited", "value_limited"].map(error_of),
        [
            "label_limit exceeded (metric: fixture_requests_total, number of labels: 5, limit: 4)",
            "label_name_length_limit exceeded (metric: fixture_requests_total, label name: exported_job, length: 12, limit: 8)",
            r#"label_value_length_limit exceeded (metric: fixture_requests_total, label name: __name__, value: "fixture_requests_total", length: 22, limit: 5)"#,
        ]
    );
    // The HTTP service discovery's target, with the labels it gave.
    let sd = query(a, "up{job=\"http_sd\"}").await;
    assert_eq!(sd[0].0["sd"], "http", "{sd:?}");
    // A target that relabeling drops is listed as dropped.
    assert_eq!(
        targets["data"]["droppedTargetCounts"]["dropped"], 1,
        "{targets}"
    );
    assert_eq!(
        targets["data"]["droppedTargets"][0]["discoveredLabels"]["__address__"],
        target.to_string()
    );

    // file_sd: a target added to the file is scraped without a restart.
    std::fs::write(
        &sd_file,
        format!(r#"[{{"targets": ["{target}"], "labels": {{"team": "x"}}}}]"#),
    )
    .unwrap();
    eventually(Duration::from_secs(10), "the file_sd target", || async {
        let up = query(a, "up{job=\"files\", team=\"x\"}").await;
        (up.first().map(|(_, v)| v.as_str()) == Some("1")).then_some(())
    })
    .await;
    // And removed again: its series go stale at once.
    std::fs::write(&sd_file, "[]").unwrap();
    eventually(
        Duration::from_secs(10),
        "the file_sd target gone",
        || async { query(a, "up{job=\"files\"}").await.is_empty().then_some(()) },
    )
    .await;

    // A reload with a new job scrapes it; an invalid file is refused with
    // its position and the running jobs go on.
    let text = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(
        &config_path,
        format!("{text}  - job_name: added\n    static_configs: [{{targets: ['{target}']}}]\n"),
    )
    .unwrap();
    let (status, body) = http(a, "POST", "/-/reload", &[]).await;
    assert_eq!(status, 200, "{body}");
    eventually(Duration::from_secs(10), "the added job", || async {
        (up_of(&query(a, "up").await, "added").as_deref() == Some("1")).then_some(())
    })
    .await;
    std::fs::write(
        &config_path,
        "scrape_configs:\n  - job_name: x\n    scrape_intervall: 1s\n",
    )
    .unwrap();
    let (status, body) = http(a, "POST", "/-/reload", &[]).await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("prometheus.yml:3:5: ")
            && body.contains("field scrape_intervall not found in type config.ScrapeConfig"),
        "{body}"
    );
    // Still scraped: the newest `up` sample keeps moving.
    let newest = || async {
        query(a, "timestamp(up{job=\"added\"})").await[0]
            .1
            .parse::<f64>()
            .unwrap()
    };
    let before = newest().await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(
        newest().await > before,
        "scraping stopped after a bad reload"
    );
    let up = query(a, "up").await;
    assert_eq!(up_of(&up, "added").as_deref(), Some("1"), "{up:?}");
    assert_eq!(up_of(&up, "fixture").as_deref(), Some("1"), "{up:?}");
}

/// An HTTPS target (certificates made with `openssl`, Debian package
/// `openssl`) serving the fixture text, until the test ends.
async fn tls_fixture(dir: &std::path::Path) -> SocketAddr {
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    // A CA, and a server certificate it signs for `fixture.test` (a
    // self-signed certificate is a CA, which TLS refuses as a server's).
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("openssl not found: install the Debian package openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:fixture.test\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=fixture.test",
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "leaf.ext",
        "-out",
        "cert.pem",
    ]);
    use rustls::pki_types::pem::PemObject;
    let chain: Vec<_> = rustls::pki_types::CertificateDer::pem_file_iter(&cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = vec![0u8; 4096];
                let _ = stream.read(&mut request).await;
                let body = wasmetheus_tests::FIXTURE_TEXT;
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    address
}

#[tokio::test(flavor = "multi_thread")]
async fn https_targets_use_tls_config() {
    let dir = PluginsDir::new();
    let target = tls_fixture(dir.path()).await;
    let cert = dir.path().join("ca.pem");
    let job = |name: &str, tls: &str| {
        format!(
            "  - job_name: {name}\n    scheme: https\n    static_configs: [{{targets: ['{target}']}}]\n{tls}"
        )
    };
    let config_text = [
        "global:\n  scrape_interval: 1s\nscrape_configs:\n".to_owned(),
        // Trusting the fixture's certificate, checked against its name.
        job(
            "trusted",
            &format!(
                "    tls_config:\n      ca_file: {}\n      server_name: fixture.test\n",
                cert.display()
            ),
        ),
        // The built-in roots do not know a self-signed certificate.
        job("untrusted", ""),
        job(
            "skipped",
            "    tls_config:\n      insecure_skip_verify: true\n",
        ),
        // Trusted, but not for the name asked.
        job(
            "wrong_name",
            &format!(
                "    tls_config:\n      ca_file: {}\n      server_name: other.test\n",
                cert.display()
            ),
        ),
    ]
    .concat();
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config_text).unwrap();
    let data = tempfile::tempdir().unwrap();
    let server =
        TestServer::start(test_args(dir.path(), Some(&config_path), data.path()), data).await;
    let a = server.address;
    let up = eventually(
        Duration::from_secs(20),
        "every https job scraped",
        || async {
            let up = query(a, "up").await;
            ["trusted", "untrusted", "skipped", "wrong_name"]
                .iter()
                .all(|j| up_of(&up, j).is_some())
                .then_some(up)
        },
    )
    .await;
    for (job, want) in [
        ("trusted", "1"),
        ("skipped", "1"),
        ("untrusted", "0"),
        ("wrong_name", "0"),
    ] {
        assert_eq!(
            up_of(&up, job).as_deref(),
            Some(want),
            "up of {job}: {up:?}"
        );
    }
    let requests = query(a, "fixture_requests_total{job=\"trusted\"}").await;
    assert_eq!(requests.len(), 2, "{requests:?}");
}
