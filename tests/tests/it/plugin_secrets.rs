//! Plugin settings that a plugin's config schema declares secret
//! (`"writeOnly": true`, `"format": "password"`) are shown as `<secret>` in
//! `/api/v1/status/config` for every instance of that plugin, whatever
//! their key is called; the key-name rule still applies on top.

use serde_json::Value;
use std::time::Duration;
use wasmetheus_tests::{PluginsDir, TestServer, eventually, guests, http, test_args};

/// Two instances of `trivial` (whose schema declares `blob` and
/// `peers[].seed` secret), one of a plugin that is not installed.
const CONFIG: &str = r#"
global:
  scrape_interval: 1h
plugins:
  instances:
    - name: vault-a
      plugin: trivial
      config:
        blob: b10b-aaaa
        region: eu-west-9
        peers:
          - {address: "peer-1:7000", seed: s33d-1}
          - {address: "peer-2:7000", seed: s33d-2}
        api_password: hunter2-named
    - name: vault-b
      plugin: trivial
      config: {blob: b10b-bbbb}
    - name: elsewhere
      plugin: absent
      config: {blob: undeclared-blob, password: hunter2-absent}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn status_config_hides_settings_the_schema_declares_secret() {
    let plugins = PluginsDir::new();
    plugins.install(guests::TRIVIAL, "trivial");
    let config_path = plugins.path().join("prometheus.yml");
    std::fs::write(&config_path, CONFIG).unwrap();
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(
        test_args(plugins.path(), Some(&config_path), data.path()),
        data,
    )
    .await;
    let address = server.address;
    // Both instances of the plugin are open (so its metadata is read).
    eventually(Duration::from_secs(30), "trivial's instances", || async {
        let (_, body) = http(address, "GET", "/api/v1/plugins", &[]).await;
        (body.contains("\"vault-a\"") && body.contains("\"vault-b\"")).then_some(())
    })
    .await;

    let (status, body) = http(address, "GET", "/api/v1/status/config", &[]).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    let yaml = answer["data"]["yaml"].as_str().unwrap();
    for secret in [
        "b10b-aaaa",
        "b10b-bbbb",
        "s33d-1",
        "s33d-2",
        "hunter2-named",
        "hunter2-absent",
    ] {
        assert!(!yaml.contains(secret), "{secret} shown:\n{yaml}");
    }
    assert_eq!(yaml.matches("blob: <secret>").count(), 2, "{yaml}");
    assert_eq!(yaml.matches("seed: <secret>").count(), 2, "{yaml}");
    // What is not declared secret is shown as it is: the other settings of
    // the plugin, and a plugin that is not loaded declares nothing (only
    // the key-name rule hides its settings).
    for shown in ["eu-west-9", "peer-1:7000", "peer-2:7000", "undeclared-blob"] {
        assert!(yaml.contains(shown), "{shown} missing:\n{yaml}");
    }
    // The configuration itself is untouched: the instances still run.
    let (status, body) = http(address, "GET", "/plugins/vault-a/metrics", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("trivial_up"), "{body}");
    server.stop().await;
}
