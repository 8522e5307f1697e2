//! The python example (`examples/python-textfile-exporter`, node_exporter's
//! textfile collector written with `sdk/python`) in the real runtime: it
//! re-exports the `*.prom` files of a granted directory with their mtimes,
//! flags a malformed file with `node_textfile_scrape_error 1` while keeping
//! the good files' series, and refuses to open on a directory that is not
//! granted, saying which grant to add.

use super::{Grants, Instance, Plugin, example_wasm};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wasmetheus_config::{Config, PluginInstanceConfig};
use wasmetheus_model::text::Exposition;

const PLUGIN: &str = "python-textfile-exporter";

const GOOD: &str = r#"# HELP backup_last_success_timestamp_seconds When the last backup succeeded.
# TYPE backup_last_success_timestamp_seconds gauge
backup_last_success_timestamp_seconds{job="db",path="C:\\backups\\db"} 1.7e9
backup_last_success_timestamp_seconds{job="web",note="line\nbreak \"quoted\""} 1.6e9
# TYPE backup_runs_total counter
backup_runs_total 42
# HELP backup_duration_seconds How long backups take.
# TYPE backup_duration_seconds histogram
backup_duration_seconds_bucket{job="db",le="1"} 2
backup_duration_seconds_bucket{job="db",le="10"} 5
backup_duration_seconds_bucket{job="db",le="+Inf"} 6
backup_duration_seconds_sum{job="db"} 31.5
backup_duration_seconds_count{job="db"} 6
# TYPE backup_size_bytes summary
backup_size_bytes{quantile="0.5"} 1024
backup_size_bytes_sum 10240
backup_size_bytes_count 7
"#;

const OTHER: &str = r#"# TYPE backup_last_success_timestamp_seconds gauge
backup_last_success_timestamp_seconds{job="mail"} 1.5e9
"#;

/// The value of the series `name` with exactly `labels`.
fn value(exposition: &Exposition, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut wanted: Vec<(&str, &str)> = labels.to_vec();
    wanted.sort();
    exposition
        .samples
        .iter()
        .find(|s| {
            let mut have: Vec<(&str, &str)> = s
                .labels
                .iter()
                .map(|l| (l.name.as_str(), l.value.as_str()))
                .collect();
            have.sort();
            s.name == name && have == wanted
        })
        .map(|s| s.value)
}

/// A file of `dir` with `contents` and the modification time `mtime`.
fn write(dir: &Path, name: &str, contents: &[u8], mtime: u64) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(time)
        .unwrap();
    path
}

fn instance(name: &str, directory: &Path, granted: &Path) -> Instance {
    Instance::new(
        name,
        json!({ "directory": directory }),
        Grants {
            read_paths: vec![granted.to_owned()],
            ..Grants::default()
        },
    )
}

fn start(instances: Vec<Instance>) -> Plugin {
    let wasm = example_wasm(PLUGIN);
    Plugin::start(wasm.to_str().expect("a UTF-8 path"), PLUGIN, instances)
}

#[tokio::test(flavor = "multi_thread")]
async fn reexports_textfiles_and_flags_a_malformed_one() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.prom", GOOD.as_bytes(), 1_700_000_000);
    let other = write(dir.path(), "other.prom", OTHER.as_bytes(), 1_600_000_000);
    write(dir.path(), "ignored.txt", b"not_read 1\n", 1);
    let plugin = start(vec![instance("textfile", dir.path(), dir.path())]);

    let (text, out) = plugin.collect_text("textfile").await;
    let good_name = good.to_str().unwrap();
    let other_name = other.to_str().unwrap();
    assert_eq!(
        value(&out, "node_textfile_scrape_error", &[]),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        value(&out, "node_textfile_mtime_seconds", &[("file", good_name)]),
        Some(1_700_000_000.0),
        "{text}"
    );
    assert_eq!(
        value(&out, "node_textfile_mtime_seconds", &[("file", other_name)]),
        Some(1_600_000_000.0),
        "{text}"
    );
    let ts = "backup_last_success_timestamp_seconds";
    assert_eq!(
        value(&out, ts, &[("job", "db"), ("path", "C:\\backups\\db")]),
        Some(1.7e9),
        "{text}"
    );
    assert_eq!(
        value(
            &out,
            ts,
            &[("job", "web"), ("note", "line\nbreak \"quoted\"")]
        ),
        Some(1.6e9),
        "{text}"
    );
    assert_eq!(value(&out, ts, &[("job", "mail")]), Some(1.5e9), "{text}");
    assert_eq!(value(&out, "backup_runs_total", &[]), Some(42.0), "{text}");
    assert_eq!(
        value(
            &out,
            "backup_duration_seconds_bucket",
            &[("job", "db"), ("le", "10")]
        ),
        Some(5.0),
        "{text}"
    );
    assert_eq!(
        value(&out, "backup_duration_seconds_count", &[("job", "db")]),
        Some(6.0),
        "{text}"
    );
    assert_eq!(
        value(&out, "backup_size_bytes", &[("quantile", "0.5")]),
        Some(1024.0),
        "{text}"
    );
    assert_eq!(value(&out, "not_read", &[]), None, "{text}");
    let help: BTreeMap<&str, &str> = out
        .metadata
        .iter()
        .map(|m| (m.name.as_str(), m.help.as_str()))
        .collect();
    assert_eq!(help.get(ts), Some(&"When the last backup succeeded."));
    let runs_help = format!("Metric read from {good_name}");
    assert_eq!(help.get("backup_runs_total"), Some(&runs_help.as_str()));
    assert_eq!(plugin.last_collect_error("textfile"), None);

    // A malformed file, one with timestamps and binary junk: skipped whole,
    // flagged, logged; the good files' series stay.
    write(dir.path(), "bad.prom", b"fine 1\nbroken{ 1\n", 1);
    write(dir.path(), "stamped.prom", b"stamped 1 1700000000000\n", 1);
    write(dir.path(), "junk.prom", b"\x89PNG\r\n\x1a\n\x00\xff\xfe", 1);
    let (text, out) = plugin.collect_text("textfile").await;
    assert_eq!(
        value(&out, "node_textfile_scrape_error", &[]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(value(&out, "backup_runs_total", &[]), Some(42.0), "{text}");
    assert_eq!(value(&out, ts, &[("job", "mail")]), Some(1.5e9), "{text}");
    assert_eq!(value(&out, "fine", &[]), None, "{text}");
    assert_eq!(value(&out, "stamped", &[]), None, "{text}");
    let mtimes = out
        .samples
        .iter()
        .filter(|s| s.name == "node_textfile_mtime_seconds")
        .count();
    assert_eq!(mtimes, 2, "{text}");
    let error = plugin.last_collect_error("textfile").unwrap_or_default();
    assert!(
        error.contains("failed to collect textfile data from"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_directory_not_granted_is_refused_naming_the_grant() {
    let granted = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    write(elsewhere.path(), "a.prom", b"a 1\n", 1);
    // The plugin loads with one good instance, then one whose directory
    // lies outside its grant is added.
    let plugin = start(vec![instance("good", granted.path(), granted.path())]);
    let mut config = Config::default();
    for (name, directory) in [("good", granted.path()), ("outside", elsewhere.path())] {
        let instance = instance(name, directory, granted.path());
        config.plugins.instances.push(PluginInstanceConfig {
            name: instance.name,
            plugin: PLUGIN.into(),
            job: None,
            scrape_interval: None,
            scrape_timeout: None,
            memory_limit: None,
            config: Some(instance.config),
            grants: instance.grants,
            labels: BTreeMap::new(),
        });
    }
    plugin.runtime.apply_config(&config);
    let status = plugin
        .runtime
        .status()
        .into_iter()
        .flat_map(|p| p.instances)
        .find(|i| i.name == "outside")
        .expect("the instance is listed");
    assert!(!status.running, "{status:#?}");
    let error = status.error.unwrap_or_default();
    let expected = format!(
        "read path {}: not granted (add a read_paths grant of it or of a directory that holds it",
        elsewhere.path().display()
    );
    assert!(error.contains(&expected), "{error}");
    assert!(error.contains("denied: read path"), "{error}");

    // The granted instance still works: an empty directory, no error.
    let (text, out) = plugin.collect_text("good").await;
    assert_eq!(
        value(&out, "node_textfile_scrape_error", &[]),
        Some(0.0),
        "{text}"
    );
}
