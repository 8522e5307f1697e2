//! Applying configuration: which instances to keep, (re)open or stop, and
//! opening and stopping them on the plugin executor.

use super::desired::{desired_instances, previous_instance};
use super::state::{LoadedPlugin, PluginRuntime, RunningInstance, TargetSpec};
use crate::engine;
use crate::error::CollectError;
use crate::instance::{InstanceHandle, InstanceSpec};
use crate::metrics::PluginMetrics;
use crate::sandbox::{
    CapabilityStatus, capability_statuses, capability_text, grant_hint, is_granted,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use wasmetheus_config::{Config, PluginInstanceConfig};

/// A configured instance ready to be opened.
pub(super) struct Prepared {
    spec: InstanceSpec,
    target: TargetSpec,
    capabilities: Vec<CapabilityStatus>,
}

impl PluginRuntime {
    /// Applies a new configuration: instances whose settings changed are
    /// reopened, new ones started, removed ones stopped. Instances that
    /// fail to open are reported in the status and retried on next apply.
    pub fn apply_config(&self, config: &Config) {
        let (previous, plugins) = {
            let mut state = self.inner.state.lock();
            let previous = std::mem::replace(&mut state.config, config.clone());
            let plugins: Vec<(String, Arc<LoadedPlugin>)> = state
                .plugins
                .iter()
                .filter_map(|(n, s)| s.loaded.clone().map(|p| (n.clone(), p)))
                .collect();
            (previous, plugins)
        };
        let mut keep = BTreeMap::new();
        let mut failed = BTreeMap::new();
        let mut to_start = Vec::new();
        for (name, plugin) in &plugins {
            let metrics = self.plugin_metrics(name);
            let grants_unchanged =
                previous.plugins.grants.get(name) == config.plugins.grants.get(name);
            for (instance_config, target) in desired_instances(name, &plugin.metadata, config) {
                let reusable = {
                    let state = self.inner.state.lock();
                    state.instances.get(&target.instance).and_then(|running| {
                        let unchanged = grants_unchanged
                            && running.target == target
                            && previous_instance(&previous, &target.instance)
                                == instance_config.as_ref();
                        unchanged.then(|| RunningInstance {
                            handle: Arc::clone(&running.handle),
                            target: target.clone(),
                            capabilities: running.capabilities.clone(),
                        })
                    })
                };
                match reusable {
                    Some(running) => {
                        keep.insert(running.target.instance.clone(), running);
                    }
                    None => to_start.push(self.prepare_instance(
                        plugin,
                        name,
                        instance_config.as_ref(),
                        config,
                        target,
                        &metrics,
                    )),
                }
            }
        }
        for started in self.start_all(to_start) {
            match started {
                Ok(running) => {
                    keep.insert(running.target.instance.clone(), running);
                }
                Err((instance, e)) => {
                    let plugin = config
                        .plugins
                        .instances
                        .iter()
                        .find(|i| i.name == instance)
                        .map_or_else(|| instance.clone(), |i| i.plugin.clone());
                    tracing::error!(plugin = %plugin, instance = %instance, "instance not started: {e}");
                    failed.insert(instance, (plugin, e.to_string()));
                }
            }
        }
        for instance in &config.plugins.instances {
            if !plugins.iter().any(|(n, _)| *n == instance.plugin) {
                failed.insert(
                    instance.name.clone(),
                    (
                        instance.plugin.clone(),
                        format!(
                            "plugin {:?} is not loaded: no {}.wasm in {}",
                            instance.plugin,
                            instance.plugin,
                            self.inner.options.plugins_dir.display()
                        ),
                    ),
                );
            }
        }
        let mut state = self.inner.state.lock();
        let old_instances = std::mem::replace(&mut state.instances, keep);
        let replaced: Vec<Arc<InstanceHandle>> = old_instances
            .into_values()
            .filter(|old| {
                !state
                    .instances
                    .values()
                    .any(|new| Arc::ptr_eq(&new.handle, &old.handle))
            })
            .map(|old| old.handle)
            .collect();
        state.failed_instances = failed;
        drop(state);
        self.bump();
        self.stop_all(replaced);
    }

    pub(super) fn plugin_metrics(&self, name: &str) -> Arc<PluginMetrics> {
        let mut state = self.inner.state.lock();
        Arc::clone(&state.plugins.entry(name.to_owned()).or_default().metrics)
    }

    pub(super) fn prepare_instance(
        &self,
        plugin: &LoadedPlugin,
        plugin_name: &str,
        instance: Option<&PluginInstanceConfig>,
        config: &Config,
        target: TargetSpec,
        metrics: &Arc<PluginMetrics>,
    ) -> Prepared {
        let grants = config.plugins.grants_for(plugin_name, instance);
        let capabilities = capability_statuses(plugin_name, &plugin.metadata.capabilities, &grants);
        for request in &plugin.metadata.capabilities {
            if !is_granted(&request.capability, &grants) {
                tracing::warn!(
                    plugin = %plugin_name,
                    instance = %target.instance,
                    "capability requested but not granted: {} ({}){}; to grant it:\n{}",
                    capability_text(&request.capability),
                    request.reason,
                    if request.optional { ", optional" } else { "" },
                    grant_hint(plugin_name, &request.capability)
                );
            }
        }
        let memory_limit = instance
            .and_then(|i| i.memory_limit)
            .or(config.plugins.memory_limit)
            .map_or(self.inner.options.default_memory_limit, |b| b.0 as usize)
            .min(engine::MAX_MEMORY_BYTES);
        let config_json = instance
            .and_then(|i| i.config.as_ref())
            .map_or_else(|| "{}".to_owned(), |c| c.to_string());
        let spec = InstanceSpec {
            plugin: plugin_name.into(),
            name: target.instance.as_str().into(),
            pre: plugin.pre.clone(),
            grants: Arc::new(grants),
            config_json,
            memory_limit,
            copy_budget: memory_limit.saturating_mul(self.inner.options.copy_factor.max(1)),
            timeout: target.timeout,
            output_limits: self.inner.options.output_limits,
            metrics: Arc::clone(metrics),
        };
        Prepared {
            spec,
            target,
            capabilities,
        }
    }

    /// Opens `prepared` instances concurrently, so one whose `open` hangs
    /// delays the others by no more than its deadline.
    pub(super) fn start_all(
        &self,
        prepared: Vec<Prepared>,
    ) -> Vec<Result<RunningInstance, (String, CollectError)>> {
        if prepared.is_empty() {
            return Vec::new();
        }
        let names: Vec<String> = prepared.iter().map(|p| p.target.instance.clone()).collect();
        let started = self.run(async move {
            let opening: Vec<_> = prepared
                .into_iter()
                .map(|p| {
                    let start = tokio::spawn(InstanceHandle::start(p.spec));
                    (p.target, p.capabilities, start)
                })
                .collect();
            let mut out = Vec::with_capacity(opening.len());
            for (target, capabilities, start) in opening {
                out.push(match start.await {
                    Ok(Ok(handle)) => Ok(RunningInstance {
                        handle: Arc::new(handle),
                        target,
                        capabilities,
                    }),
                    Ok(Err(e)) => Err((target.instance, e)),
                    Err(_) => Err((target.instance, CollectError::Stopped)),
                });
            }
            out
        });
        started.unwrap_or_else(|| {
            names
                .into_iter()
                .map(|n| Err((n, CollectError::Stopped)))
                .collect()
        })
    }

    /// Stops replaced or removed instances and waits until their stores
    /// are gone (so their pool slots are free for the next change), at most
    /// the deadline of a call they are in.
    pub(super) fn stop_all(&self, stopped: Vec<Arc<InstanceHandle>>) {
        if stopped.is_empty() {
            return;
        }
        self.run(async move {
            let stopping: Vec<_> = stopped
                .into_iter()
                .map(|handle| tokio::spawn(async move { handle.stop().await }))
                .collect();
            for stop in stopping {
                let _ = stop.await;
            }
        });
    }
}
