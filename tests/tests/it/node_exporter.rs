//! The node-exporter plugin, run in the real runtime with the grants of the
//! default config, against Debian's `prometheus-node-exporter` started on a
//! loopback port with the same collectors: every family we emit exists there
//! with the same type, help and label names, and stable values agree.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::Duration;
use wasmetheus_config::{Config, Grants, PluginInstanceConfig};
use wasmetheus_model::text::{self, Exposition};
use wasmetheus_model::{MetricKind, Sample};
use wasmetheus_plugin_runtime::{PluginRuntime, RuntimeOptions};
use wasmetheus_tests::{KillOnDrop, PluginsDir, eventually, free_port, guests, http};

const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";
const COLLECTORS: [&str; 11] = [
    "cpu",
    "meminfo",
    "loadavg",
    "filesystem",
    "netdev",
    "diskstats",
    "stat",
    "uname",
    "time",
    "vmstat",
    "netstat",
];

async fn native_metrics() -> (KillOnDrop, String) {
    assert!(
        std::path::Path::new(NODE_EXPORTER).exists(),
        "{NODE_EXPORTER} not found: install the Debian package prometheus-node-exporter"
    );
    let port = free_port();
    let mut cmd = Command::new(NODE_EXPORTER);
    cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--collector.disable-defaults")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for c in COLLECTORS {
        cmd.arg(format!("--collector.{c}"));
    }
    let child = KillOnDrop(cmd.spawn().expect("starting prometheus-node-exporter"));
    let address = format!("127.0.0.1:{port}").parse().unwrap();
    let body = eventually(
        Duration::from_secs(10),
        "the native node exporter",
        || async move {
            if std::net::TcpStream::connect(address).is_err() {
                return None;
            }
            let (status, body) = http(address, "GET", "/metrics", &[]).await;
            (status == 200).then_some(body)
        },
    )
    .await;
    (child, body)
}

async fn plugin_metrics() -> String {
    let dir = PluginsDir::new();
    dir.install(guests::PLUGIN_NODE_EXPORTER, "node-exporter");
    let runtime = PluginRuntime::new(RuntimeOptions::new(dir.path())).unwrap();
    let mut config = Config::default();
    config.plugins.instances.push(PluginInstanceConfig {
        name: "node".into(),
        plugin: "node-exporter".into(),
        job: None,
        scrape_interval: None,
        scrape_timeout: None,
        memory_limit: None,
        config: None,
        grants: Grants {
            read_paths: vec!["/proc".into(), "/sys".into()],
            filesystem_usage: vec!["/".into()],
            ..Grants::default()
        },
        labels: BTreeMap::new(),
    });
    runtime.apply_config(&config);
    assert_eq!(runtime.load_all(), 1, "{:?}", runtime.status());
    let families = runtime.collect("node").await.unwrap();
    let mut out = String::new();
    text::encode(&families, &mut out);
    out
}

fn by_name(samples: &[Sample], name: &str) -> Vec<Sample> {
    samples.iter().filter(|s| s.name == name).cloned().collect()
}

fn value(exposition: &Exposition, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    exposition
        .samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(n, v)| s.labels.iter().any(|l| l.name == *n && l.value == *v))
        })
        .map(|s| s.value)
}

/// Label names per series name (without `le`/`quantile` handling: node
/// exporter's families here are counters, gauges and untyped).
fn label_names(exposition: &Exposition) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in &exposition.samples {
        out.entry(s.name.clone())
            .or_default()
            .extend(s.labels.iter().map(|l| l.name.clone()));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn plugin_matches_the_native_node_exporter() {
    let (_child, native_text) = native_metrics().await;
    let plugin_text = plugin_metrics().await;
    let native = text::parse(&native_text).unwrap();
    let ours = text::parse(&plugin_text).unwrap();

    let native_meta: BTreeMap<&str, (MetricKind, &str)> = native
        .metadata
        .iter()
        .map(|m| (m.name.as_str(), (m.kind, m.help.as_str())))
        .collect();
    let mut problems = Vec::new();
    for family in &ours.metadata {
        match native_meta.get(family.name.as_str()) {
            None => problems.push(format!("{}: not emitted by node_exporter", family.name)),
            Some((kind, help)) => {
                if *kind != family.kind {
                    problems.push(format!(
                        "{}: type {:?}, node_exporter {kind:?}",
                        family.name, family.kind
                    ));
                }
                if *help != family.help {
                    problems.push(format!(
                        "{}: help {:?}, node_exporter {help:?}",
                        family.name, family.help
                    ));
                }
            }
        }
    }
    let native_labels = label_names(&native);
    for (name, labels) in label_names(&ours) {
        if let Some(theirs) = native_labels.get(&name)
            && *theirs != labels
        {
            problems.push(format!(
                "{name}: labels {labels:?}, node_exporter {theirs:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Stable values agree.
    let mem = |e: &Exposition| value(e, "node_memory_MemTotal_bytes", &[]);
    assert_eq!(mem(&ours), mem(&native));
    let cpus = |e: &Exposition| {
        by_name(&e.samples, "node_cpu_seconds_total")
            .iter()
            .filter_map(|s| {
                s.labels
                    .iter()
                    .find(|l| l.name == "cpu")
                    .map(|l| l.value.clone())
            })
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(cpus(&ours), cpus(&native));
    assert!(!cpus(&ours).is_empty());
    let boot = |e: &Exposition| value(e, "node_boot_time_seconds", &[]).unwrap();
    assert!((boot(&ours) - boot(&native)).abs() <= 1.0);
    // File-system sizes, through the host's capability-checked statvfs.
    let root_size = |e: &Exposition| value(e, "node_filesystem_size_bytes", &[("mountpoint", "/")]);
    assert!(
        root_size(&native).is_some(),
        "node_exporter reports no / file system"
    );
    assert_eq!(root_size(&ours), root_size(&native));
}
