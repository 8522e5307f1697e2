//! Runtime behaviour that is not about one guest: the compile cache and the
//! capability report.

use wasmetheus_config::Config;
use wasmetheus_plugin_runtime::{PluginRuntime, RuntimeOptions};
use wasmetheus_tests::{PluginsDir, guests};

fn runtime(dir: &PluginsDir, cache: &std::path::Path) -> PluginRuntime {
    let mut options = RuntimeOptions::new(dir.path());
    options.cache_dir = Some(cache.to_owned());
    let runtime = PluginRuntime::new(options).unwrap();
    runtime.apply_config(&Config::default());
    runtime
}

#[tokio::test(flavor = "multi_thread")]
async fn compiled_components_are_cached_across_restarts() {
    let dir = PluginsDir::new();
    dir.install(guests::TRIVIAL, "trivial");
    let cache = tempfile::tempdir().unwrap();

    let first = runtime(&dir, cache.path());
    assert_eq!(first.load_all(), 1);
    assert!(!first.status()[0].loaded_from_cache);
    let entries = std::fs::read_dir(cache.path()).unwrap().count();
    assert_eq!(entries, 1, "one cached component");

    // A "restart": a new runtime over the same cache does not recompile.
    let second = runtime(&dir, cache.path());
    assert_eq!(second.load_all(), 1);
    assert!(second.status()[0].loaded_from_cache);
    second.collect("trivial").await.unwrap();

    // A corrupt cache entry is discarded and the component recompiled.
    for entry in std::fs::read_dir(cache.path()).unwrap() {
        std::fs::write(entry.unwrap().path(), b"garbage").unwrap();
    }
    let third = runtime(&dir, cache.path());
    assert_eq!(third.load_all(), 1);
    assert!(!third.status()[0].loaded_from_cache);
    third.collect("trivial").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn ungranted_requests_are_reported_with_the_lines_that_grant_them() {
    let dir = PluginsDir::new();
    dir.install(guests::PLUGIN_NODE_EXPORTER, "node-exporter");
    let cache = tempfile::tempdir().unwrap();
    let runtime = runtime(&dir, cache.path());
    let mut config = Config::default();
    // Plugin-wide grants of /proc only: /sys stays ungranted.
    config.plugins.grants.insert(
        "node-exporter".into(),
        wasmetheus_config::Grants {
            read_paths: vec!["/proc".into()],
            ..Default::default()
        },
    );
    runtime.apply_config(&config);
    runtime.load_all();
    let status = runtime.status();
    let instance = &status[0].instances[0];
    let sys = instance
        .capabilities
        .iter()
        .find(|c| c.capability == "read-path /sys")
        .unwrap();
    assert!(!sys.granted);
    assert_eq!(
        sys.grant_with.as_deref(),
        Some("plugins:\n  grants:\n    node-exporter:\n      read_paths: [/sys]")
    );
    let proc = instance
        .capabilities
        .iter()
        .find(|c| c.capability == "read-path /proc")
        .unwrap();
    assert!(proc.granted);
    assert_eq!(proc.grant_with, None);
}
