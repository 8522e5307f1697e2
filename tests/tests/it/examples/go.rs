//! The Go example (`examples/go-exporter`, built with `sdk/go`) in the real
//! runtime: its figures from a granted fake `/proc` and from the real one,
//! the "not granted" error naming the grant to add, a config over 1 MiB or
//! with an unknown key refused at open saying why, a huge path, and 10,000
//! collects on one instance without its memory growing.

use super::{Grants, Instance, Plugin, example_wasm};
use crate::exporters::compare::value;
use std::collections::BTreeMap;
use std::path::Path;
use wasmetheus_config::{Config, PluginInstanceConfig};

fn start(name: &str, proc_path: &Path, grants: Grants) -> Plugin {
    let wasm = example_wasm("go-exporter");
    Plugin::start(
        wasm.to_str().unwrap(),
        "go-exporter",
        vec![Instance::new(
            name,
            serde_json::json!({ "proc_path": proc_path }),
            grants,
        )],
    )
}

fn read_grant(path: &Path) -> Grants {
    Grants {
        read_paths: vec![path.to_owned()],
        ..Grants::default()
    }
}

fn fake_proc() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("loadavg"), "0.42 0.30 0.25 1/123 4567\n").unwrap();
    std::fs::write(
        dir.path().join("meminfo"),
        "MemTotal:       16314156 kB\nMemFree:  1024 kB\nActive(anon): 2 kB\nHugePages_Total: 0\n",
    )
    .unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn go_exporter_reads_a_granted_proc() {
    let proc = fake_proc();
    let plugin = start("fake", proc.path(), read_grant(proc.path()));
    let exposition = plugin.collect("fake").await;
    assert_eq!(value(&exposition, "node_load1", &[]), Some(0.42));
    assert_eq!(value(&exposition, "node_load15", &[]), Some(0.25));
    assert_eq!(
        value(&exposition, "node_memory_MemTotal_bytes", &[]),
        Some(16314156.0 * 1024.0)
    );
    assert_eq!(
        value(&exposition, "node_memory_Active_anon_bytes", &[]),
        Some(2048.0)
    );
    assert_eq!(plugin.last_collect_error("fake"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn go_exporter_matches_the_real_proc() {
    let plugin = start("real", Path::new("/proc"), read_grant(Path::new("/proc")));
    let exposition = plugin.collect("real").await;
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let total_kb: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert_eq!(
        value(&exposition, "node_memory_MemTotal_bytes", &[]),
        Some(total_kb * 1024.0)
    );
    let load1 = value(&exposition, "node_load1", &[]).expect("node_load1");
    assert!(load1 >= 0.0, "{load1}");
}

#[tokio::test(flavor = "multi_thread")]
async fn go_exporter_says_which_grant_is_missing() {
    let proc = fake_proc();
    let plugin = start("ungranted", proc.path(), Grants::default());
    let err = plugin
        .runtime
        .collect("ungranted")
        .await
        .expect_err("collecting without the grant must fail")
        .to_string();
    let wanted = format!(
        "denied: read path {p}/loadavg: not granted (add a read_paths grant of a directory that \
         holds it, e.g. {p})",
        p = proc.path().display()
    );
    assert!(err.contains(&wanted), "{err}");
    // The SDK refuses before opening: no WASI wording after the hint.
    assert!(err.trim_end().ends_with(')'), "{err}");
    assert!(!err.contains("Bad file") && !err.contains("open "), "{err}");
}

/// Starts the plugin with a good instance, then adds `name` with `config`
/// (which must fail to open) and returns the error its status shows.
fn refused_at_open(name: &str, config: serde_json::Value) -> String {
    let proc = fake_proc();
    let plugin = start("good", proc.path(), read_grant(proc.path()));
    let mut all = Config::default();
    for (instance, config) in [
        ("good", serde_json::json!({ "proc_path": proc.path() })),
        (name, config),
    ] {
        all.plugins.instances.push(PluginInstanceConfig {
            name: instance.into(),
            plugin: "go-exporter".into(),
            job: None,
            scrape_interval: None,
            scrape_timeout: None,
            memory_limit: None,
            config: Some(config),
            grants: read_grant(proc.path()),
            labels: BTreeMap::new(),
        });
    }
    plugin.runtime.apply_config(&all);
    let status = plugin
        .runtime
        .status()
        .into_iter()
        .flat_map(|p| p.instances)
        .find(|i| i.name == name)
        .expect("the instance is listed");
    assert!(!status.running, "{status:#?}");
    status.error.unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn go_exporter_refuses_a_bad_config_saying_why() {
    // 8 MiB of path: over the SDK's 1 MiB limit for a config, and more
    // than its scratch memory for host values.
    let huge = format!("/{}", "p".repeat(8 << 20));
    let err = refused_at_open("huge", serde_json::json!({ "proc_path": huge }));
    assert!(
        err.contains("over the limit of 1 MiB"),
        "{}",
        &err[..err.len().min(2000)]
    );
    assert!(err.len() < 4096, "{} bytes", err.len());

    let err = refused_at_open("unknown", serde_json::json!({ "procpath": "/proc" }));
    assert!(err.contains(r#"unknown field "procpath""#), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn go_exporter_survives_a_huge_path() {
    // Just under the 1 MiB config limit: the error does not repeat it all.
    let huge = format!("/{}", "p".repeat(1_000_000));
    let plugin = start("huge", Path::new(&huge), Grants::default());
    let err = plugin
        .runtime
        .collect("huge")
        .await
        .expect_err("there is no such /proc")
        .to_string();
    assert!(
        err.contains("not granted"),
        "{}",
        &err[..err.len().min(2000)]
    );
    assert!(
        err.len() < 4096,
        "the error repeats the whole path: {} bytes",
        err.len()
    );
    // Again: the instance did not trap.
    let again = plugin
        .runtime
        .collect("huge")
        .await
        .expect_err("still none");
    assert_eq!(again.to_string(), err);
}

/// With the slack `check plugins --collects` allows (1 MiB), which the Go
/// GC's pacing needs.
#[tokio::test(flavor = "multi_thread")]
async fn go_exporter_runs_ten_thousand_collects_without_growing() {
    let proc = fake_proc();
    let plugin = start("long", proc.path(), read_grant(proc.path()));
    super::assert_memory_settles(&plugin, "long", 10_000, 1048576.0, |families| {
        assert!(families.iter().any(|f| f.name == "node_load1"));
    })
    .await;
}
