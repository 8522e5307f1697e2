//! The JavaScript example (`examples/js-json-exporter`, built with
//! `sdk/js`) in the real runtime, against a JSON server on loopback: its
//! fields mapped to series, a broken answer reported (`json_up 0` and the
//! reason as the last collect error) and recovered from, the grant to add
//! when the server's address is not granted, configs refused at open by
//! the schema the metadata declares, and a thousand collects on one
//! instance without its memory or its handles growing.

use super::{Grants, Instance, Plugin, example_wasm};
use crate::exporters::compare::value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmetheus_config::{Config, PluginInstanceConfig};

/// An HTTP server on loopback answering every request with the current
/// `(status, body)`, which a test changes between collects.
struct JsonServer {
    address: SocketAddr,
    answer: Arc<Mutex<(u16, Vec<u8>)>>,
}

impl JsonServer {
    fn start(body: &str) -> JsonServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let answer = Arc::new(Mutex::new((200, body.as_bytes().to_vec())));
        let shared = answer.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let (status, body) = shared.lock().unwrap().clone();
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    // Read the request's head (a GET has no body).
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                        match stream.read(&mut byte) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&byte[..n]),
                        }
                    }
                    let mut response = format!(
                        "HTTP/1.1 {status} Whatever\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    response.extend_from_slice(&body);
                    let _ = stream.write_all(&response);
                });
            }
        });
        JsonServer { address, answer }
    }

    fn url(&self) -> String {
        format!("http://{}/status.json", self.address)
    }

    fn answer(&self, status: u16, body: &str) {
        *self.answer.lock().unwrap() = (status, body.as_bytes().to_vec());
    }
}

const GOOD: &str = r#"{
  "requests": 1234,
  "version": "2.4.1",
  "queues": [
    {"name": "mail", "length": 3, "paused": false},
    {"name": "jobs", "length": "17", "paused": true}
  ]
}"#;

fn config(url: &str) -> serde_json::Value {
    serde_json::json!({
        "url": url,
        "metrics": [
            {"name": "app_requests", "help": "Requests served.", "type": "counter", "path": "$.requests"},
            {"name": "app_queue", "help": "Queues.", "path": "$.queues[*]",
             "labels": {"queue": "{.name}", "env": "test"},
             "values": {"length": "@.length", "paused": "@.paused"}},
            {"name": "app_build", "type": "info", "path": "$", "labels": {"version": "$.version"}}
        ]
    })
}

fn start(name: &str, url: &str, grants: Grants) -> Plugin {
    let wasm = example_wasm("js-json-exporter");
    Plugin::start(
        wasm.to_str().unwrap(),
        "js-json-exporter",
        vec![Instance::new(name, config(url), grants)],
    )
}

fn tcp_grant(address: &str) -> Grants {
    Grants {
        tcp_connect: vec![address.to_owned()],
        ..Grants::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn js_json_exporter_maps_fields_and_recovers_from_a_broken_answer() {
    let server = JsonServer::start(GOOD);
    let plugin = start(
        "json",
        &server.url(),
        tcp_grant(&server.address.to_string()),
    );

    let (text, exposition) = plugin.collect_text("json").await;
    let sample = |name: &str, labels: &[(&str, &str)]| value(&exposition, name, labels);
    assert_eq!(sample("json_up", &[]), Some(1.0), "{text}");
    assert_eq!(sample("app_requests_total", &[]), Some(1234.0), "{text}");
    assert_eq!(
        sample("app_queue_length", &[("queue", "mail"), ("env", "test")]),
        Some(3.0)
    );
    assert_eq!(sample("app_queue_length", &[("queue", "jobs")]), Some(17.0));
    assert_eq!(sample("app_queue_paused", &[("queue", "jobs")]), Some(1.0));
    assert_eq!(
        sample("app_build_info", &[("version", "2.4.1")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(sample("json_skipped_values", &[]), Some(0.0));
    assert_eq!(plugin.last_collect_error("json"), None);

    // Not JSON: no mapped series, json_up 0, and why.
    server.answer(200, "<html>maintenance</html>");
    let exposition = plugin.collect("json").await;
    assert_eq!(value(&exposition, "json_up", &[]), Some(0.0));
    assert_eq!(value(&exposition, "app_requests_total", &[]), None);
    let error = plugin.last_collect_error("json").expect("a collect error");
    assert!(error.contains("is not JSON"), "{error}");
    assert!(error.contains("<html>maintenance"), "{error}");

    // Nested past any sensible depth: refused before parsing.
    server.answer(
        200,
        &format!("{}{}", "[".repeat(50_000), "]".repeat(50_000)),
    );
    let exposition = plugin.collect("json").await;
    assert_eq!(value(&exposition, "json_up", &[]), Some(0.0));
    let error = plugin.last_collect_error("json").expect("a collect error");
    assert!(error.contains("nested more than 200 levels"), "{error}");

    // A server error.
    server.answer(503, "{}");
    plugin.collect("json").await;
    let error = plugin.last_collect_error("json").expect("a collect error");
    assert!(error.contains("answered HTTP 503"), "{error}");

    // Over the body cap (4 MiB by default): left unread, reported.
    server.answer(200, &format!("[{}0]", "0,".repeat(3 << 20)));
    plugin.collect("json").await;
    let error = plugin.last_collect_error("json").expect("a collect error");
    assert!(error.contains("raise max_body_bytes"), "{error}");

    server.answer(200, GOOD);
    let exposition = plugin
        .assert_recovers("json", "json_up", Duration::from_secs(10))
        .await;
    assert_eq!(value(&exposition, "app_requests_total", &[]), Some(1234.0));
}

/// The URL may carry a password (it becomes basic auth): the metadata
/// declares it secret, so the API shows the whole setting as `<secret>`.
#[tokio::test(flavor = "multi_thread")]
async fn js_json_exporter_declares_its_url_secret() {
    let server = JsonServer::start(GOOD);
    let plugin = start(
        "secret",
        &server.url(),
        tcp_grant(&server.address.to_string()),
    );
    let metadata = plugin.runtime.metadata("js-json-exporter").unwrap();
    let mut settings = serde_json::json!({"url": "http://admin:hunter2@127.0.0.1:1/x"});
    metadata.declared_secrets.redact(&mut settings);
    assert!(!settings.to_string().contains("hunter2"), "{settings}");
}

#[tokio::test(flavor = "multi_thread")]
async fn js_json_exporter_names_the_address_to_grant() {
    let server = JsonServer::start(GOOD);
    let plugin = start("ungranted", &server.url(), tcp_grant("127.0.0.1:1"));
    let exposition = plugin.collect("ungranted").await;
    assert_eq!(value(&exposition, "json_up", &[]), Some(0.0));
    assert_eq!(value(&exposition, "app_requests_total", &[]), None);
    let error = plugin
        .last_collect_error("ungranted")
        .expect("a collect error");
    let wanted = format!(
        "denied: tcp connect {0}: not granted (add \"{0}\" under grants.tcp_connect)",
        server.address
    );
    assert!(error.contains(&wanted), "{error}");
}

/// The SDK checks the config against the plugin's JSON Schema inside the
/// component (QuickJS) as natively: an instance with a bad setting does not
/// open and its status says which setting, while a good one runs.
#[tokio::test(flavor = "multi_thread")]
async fn js_json_exporter_refuses_bad_configs_naming_the_setting() {
    let server = JsonServer::start(GOOD);
    let address = server.address.to_string();
    let plugin = start("good", &server.url(), tcp_grant(&address));
    let mut zero_timeout = config(&server.url());
    zero_timeout["timeout_ms"] = serde_json::json!(0);
    let mut misspelt = config(&server.url());
    misspelt["metrics"][0]["pth"] = serde_json::json!("$.x");
    let mut no_url = config(&server.url());
    no_url.as_object_mut().unwrap().remove("url");
    let cases = [
        (
            "zero-timeout",
            zero_timeout,
            "invalid config: config.timeout_ms: 0 is less than the minimum 1",
        ),
        (
            "misspelt",
            misspelt,
            "invalid config: config.metrics[0]: unknown setting `pth` (known settings: name, help, \
             type, path, labels, values)",
        ),
        (
            "no-url",
            no_url,
            "invalid config: config: missing setting `url` (string)",
        ),
    ];
    let mut all = Config::default();
    let instances = [("good", config(&server.url()))]
        .into_iter()
        .chain(cases.iter().map(|(name, c, _)| (*name, c.clone())));
    for (name, config) in instances {
        all.plugins.instances.push(PluginInstanceConfig {
            name: name.into(),
            plugin: "js-json-exporter".into(),
            job: None,
            scrape_interval: None,
            scrape_timeout: None,
            memory_limit: None,
            config: Some(config),
            grants: tcp_grant(&address),
            labels: BTreeMap::new(),
        });
    }
    plugin.runtime.apply_config(&all);
    let status: Vec<_> = plugin
        .runtime
        .status()
        .into_iter()
        .flat_map(|p| p.instances)
        .collect();
    for (name, _, wanted) in &cases {
        let instance = status
            .iter()
            .find(|i| i.name == *name)
            .unwrap_or_else(|| panic!("{name} is not listed: {status:#?}"));
        assert!(!instance.running, "{instance:#?}");
        let error = instance.error.clone().unwrap_or_default();
        assert!(error.contains(wanted), "{name}: {error}");
    }
    let exposition = plugin.collect("good").await;
    assert_eq!(value(&exposition, "json_up", &[]), Some(1.0));
}

/// Each collect makes an HTTP request (a socket, its streams, pollables): any
/// one kept would fill the instance's table of 4096 handles long before
/// the end; memory must settle once the engine's heap has grown.
#[tokio::test(flavor = "multi_thread")]
async fn js_json_exporter_runs_a_thousand_collects_without_growing() {
    let server = JsonServer::start(GOOD);
    let plugin = start(
        "long",
        &server.url(),
        tcp_grant(&server.address.to_string()),
    );
    super::assert_memory_settles(&plugin, "long", 1_000, 1048576.0, |families| {
        assert!(families.iter().any(|f| f.name == "app_queue_length"));
    })
    .await;
    assert_eq!(plugin.last_collect_error("long"), None);
}
