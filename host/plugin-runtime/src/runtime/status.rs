//! The runtime as the API and `/metrics` show it: the status of every
//! plugin and instance, each plugin's metadata, and the self-metrics.

use super::state::PluginRuntime;
use crate::cache::Origin;
use crate::convert::PluginMetadata;
use crate::metrics::{PluginFacts, compile_families, families};
use crate::sandbox::CapabilityStatus;
use crate::time::rfc3339;
use wasmetheus_model::MetricFamily;

/// One instance as the API shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstanceStatus {
    pub name: String,
    pub job: String,
    pub running: bool,
    pub error: Option<String>,
    /// Why the last collect of a running instance failed (a timeout, a
    /// trap, output over its budget…), or else the last line it logged at
    /// `error` level (an exporter that reports `mysql_up 0` and says why);
    /// absent after a good one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_collect_error: Option<String>,
    pub capabilities: Vec<CapabilityStatus>,
}

/// One plugin as the API shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PluginStatus {
    pub plugin: String,
    pub file: String,
    pub name: Option<String>,
    pub version: Option<String>,
    pub description: Option<String>,
    pub loaded_from_cache: bool,
    pub load_duration_seconds: f64,
    pub loaded_at: Option<String>,
    pub health: &'static str,
    pub last_error: Option<String>,
    pub instances: Vec<InstanceStatus>,
}

impl PluginRuntime {
    /// Status of every plugin file and configured instance.
    pub fn status(&self) -> Vec<PluginStatus> {
        let state = self.inner.state.lock();
        let mut out: Vec<PluginStatus> = state
            .plugins
            .iter()
            .map(|(name, slot)| {
                let loaded = slot.loaded.as_ref();
                let mut instances: Vec<InstanceStatus> = state
                    .instances
                    .values()
                    .filter(|i| &*i.handle.plugin == name.as_str())
                    .map(|i| InstanceStatus {
                        name: i.target.instance.clone(),
                        job: i.target.job.clone(),
                        running: true,
                        error: None,
                        last_collect_error: i.handle.last_error(),
                        capabilities: i.capabilities.clone(),
                    })
                    .collect();
                instances.extend(
                    state
                        .failed_instances
                        .iter()
                        .filter(|(_, (plugin, _))| plugin == name)
                        .map(|(instance, (_, error))| InstanceStatus {
                            name: instance.clone(),
                            job: name.clone(),
                            running: false,
                            error: Some(error.clone()),
                            last_collect_error: None,
                            capabilities: Vec::new(),
                        }),
                );
                PluginStatus {
                    plugin: name.clone(),
                    file: loaded
                        .map_or_else(
                            || self.inner.options.plugins_dir.join(format!("{name}.wasm")),
                            |p| p.path.clone(),
                        )
                        .display()
                        .to_string(),
                    name: loaded.map(|p| p.metadata.name.clone()),
                    version: loaded.map(|p| p.metadata.version.clone()),
                    description: loaded.map(|p| p.metadata.description.clone()),
                    loaded_from_cache: loaded.is_some_and(|p| p.origin == Origin::Cached),
                    load_duration_seconds: loaded.map_or(0.0, |p| p.load_duration.as_secs_f64()),
                    loaded_at: loaded.map(|p| rfc3339(p.loaded_at)),
                    health: match (loaded.is_some(), slot.last_error.is_some()) {
                        (true, false) => "ok",
                        (true, true) => "degraded",
                        (false, _) => "failed",
                    },
                    last_error: slot.last_error.clone(),
                    instances,
                }
            })
            .collect();
        // Configured instances of plugins that have no file at all.
        for (instance, (plugin, error)) in &state.failed_instances {
            if state.plugins.contains_key(plugin) {
                continue;
            }
            out.push(PluginStatus {
                plugin: plugin.clone(),
                file: self
                    .inner
                    .options
                    .plugins_dir
                    .join(format!("{plugin}.wasm"))
                    .display()
                    .to_string(),
                name: None,
                version: None,
                description: None,
                loaded_from_cache: false,
                load_duration_seconds: 0.0,
                loaded_at: None,
                health: "missing",
                last_error: Some(error.clone()),
                instances: vec![InstanceStatus {
                    name: instance.clone(),
                    job: plugin.clone(),
                    running: false,
                    error: Some(error.clone()),
                    last_collect_error: None,
                    capabilities: Vec::new(),
                }],
            });
        }
        out
    }

    /// What a loaded plugin says about itself.
    pub fn metadata(&self, plugin: &str) -> Option<PluginMetadata> {
        let state = self.inner.state.lock();
        Some(state.plugins.get(plugin)?.loaded.as_ref()?.metadata.clone())
    }

    /// The linear memory of `instance` after its last collect (what
    /// `wasmetheus_plugin_memory_bytes` shows); `None` before its first.
    pub fn instance_memory(&self, instance: &str) -> Option<u64> {
        let state = self.inner.state.lock();
        state
            .plugins
            .values()
            .find_map(|slot| slot.metrics.memory_bytes(instance))
    }

    /// The runtime's self-metrics.
    pub fn metrics(&self) -> Vec<MetricFamily> {
        let state = self.inner.state.lock();
        let facts: Vec<PluginFacts<'_>> = state
            .plugins
            .iter()
            .map(|(name, slot)| PluginFacts {
                plugin: name,
                version: slot
                    .loaded
                    .as_ref()
                    .map_or("", |p| p.metadata.version.as_str()),
                load_seconds: slot
                    .loaded
                    .as_ref()
                    .map_or(0.0, |p| p.load_duration.as_secs_f64()),
                loaded_from_cache: slot
                    .loaded
                    .as_ref()
                    .is_some_and(|p| p.origin == Origin::Cached),
                load_failures: slot.load_failures,
                metrics: &slot.metrics,
            })
            .collect();
        let mut families = families(&facts);
        let slots = &self.inner.compile_slots;
        let counts = slots.counts();
        families.extend(compile_families(counts.running, counts.queued, slots.limit));
        families
    }
}
