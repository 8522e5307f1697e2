//! The plugin runtime through its public API: plugins built here from
//! WebAssembly text ([`component`]), loaded, configured, collected and
//! reported on; the compile cache; errors of bad plugin files; the
//! schema's declared secrets; hot reload through the watcher.
//!
//! No test sleeps to assert: a wait is for an event (a generation change,
//! a status), under a generous deadline that only a failure reaches.

mod cache;
mod component;
mod load_errors;
mod reconcile;
mod schema;
mod status;
mod watch;

use component::Exporter;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wasmetheus_config::{Config, PluginInstanceConfig};
use wasmetheus_model::{MetricFamily, MetricValue};
use wasmetheus_plugin_runtime::{PluginRuntime, RuntimeOptions};

/// A plugins directory, a cache directory and a runtime over both.
pub struct Fixture {
    pub plugins: tempfile::TempDir,
    pub cache: tempfile::TempDir,
    pub runtime: PluginRuntime,
}

impl Fixture {
    fn new() -> Self {
        let plugins = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let runtime = runtime_over(plugins.path(), Some(cache.path()));
        Fixture {
            plugins,
            cache,
            runtime,
        }
    }

    pub fn dir(&self) -> &Path {
        self.plugins.path()
    }

    /// Installs `exporter` as `<file>.wasm` and loads it.
    pub fn load(&self, exporter: &Exporter, file: &str) -> PathBuf {
        let path = exporter.install(self.dir(), file);
        self.runtime.load_file(&path).unwrap();
        path
    }
}

/// A runtime over `plugins`, caching in `cache`, with the empty
/// configuration applied.
pub fn runtime_over(plugins: &Path, cache: Option<&Path>) -> PluginRuntime {
    let mut options = RuntimeOptions::new(plugins);
    options.cache_dir = cache.map(Path::to_owned);
    let runtime = PluginRuntime::new(options).unwrap();
    runtime.apply_config(&Config::default());
    runtime
}

/// An instance from its configuration as JSON (as YAML would give it).
pub fn instance(json: serde_json::Value) -> PluginInstanceConfig {
    serde_json::from_value(json).unwrap()
}

/// A configuration with `instances`.
pub fn config(instances: Vec<PluginInstanceConfig>) -> Config {
    let mut config = Config::default();
    config.plugins.instances = instances;
    config
}

/// The value of `test_collects` in what a test exporter returned.
pub fn collects(families: &[MetricFamily]) -> f64 {
    let family = families
        .iter()
        .find(|f| f.name == "test_collects")
        .expect("test_collects family");
    match family.metrics[0].value {
        MetricValue::Number(n) => n,
        ref other => panic!("test_collects is {other:?}"),
    }
}

/// Collects instance `name` on a throwaway executor.
pub fn collect(
    runtime: &PluginRuntime,
    name: &str,
) -> Result<Vec<MetricFamily>, wasmetheus_plugin_runtime::CollectError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(runtime.collect(name))
}

/// Waits until `done` holds, checking at every generation change of
/// `runtime` (and now and then, for changes that bump none), failing after
/// a deadline no healthy run comes near.
pub async fn wait_until(runtime: &PluginRuntime, what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut generation = runtime.subscribe();
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        let _ = tokio::time::timeout(Duration::from_millis(50), generation.changed()).await;
    }
}

#[test]
fn a_test_exporter_loads_and_collects() {
    let fixture = Fixture::new();
    fixture.load(&Exporter::new("counter"), "counter");
    assert_eq!(
        collects(&collect(&fixture.runtime, "counter").unwrap()),
        1.0
    );
    assert_eq!(
        collects(&collect(&fixture.runtime, "counter").unwrap()),
        2.0
    );
}
