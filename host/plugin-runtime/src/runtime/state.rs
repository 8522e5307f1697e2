//! What the runtime holds: the loaded plugins, their running and failed
//! instances, the engine and linker, and the executor guest calls run on;
//! with the accessors every part of the runtime shares.

use super::options::RuntimeOptions;
use super::slots::CompileSlots;
use crate::bindings::ExporterPre;
use crate::cache::{CompileCache, Origin};
use crate::convert::PluginMetadata;
use crate::error::CollectError;
use crate::instance::InstanceHandle;
use crate::metrics::PluginMetrics;
use crate::sandbox::{CapabilityStatus, InstanceState};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use wasmetheus_config::Config;
use wasmetheus_model::MetricFamily;
use wasmtime::Engine;
use wasmtime::component::Linker;

/// A plugin file that loaded.
pub(super) struct LoadedPlugin {
    pub(super) path: PathBuf,
    pub(super) pre: ExporterPre<InstanceState>,
    pub(super) metadata: PluginMetadata,
    pub(super) load_duration: Duration,
    pub(super) origin: Origin,
    pub(super) loaded_at: SystemTime,
}

/// What the scrape side needs to schedule one instance.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetSpec {
    pub instance: String,
    pub plugin: String,
    pub job: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub labels: BTreeMap<String, String>,
}

pub(super) struct RunningInstance {
    pub(super) handle: Arc<InstanceHandle>,
    pub(super) target: TargetSpec,
    pub(super) capabilities: Vec<CapabilityStatus>,
}

#[derive(Default)]
pub(super) struct PluginSlot {
    pub(super) loaded: Option<Arc<LoadedPlugin>>,
    pub(super) last_error: Option<String>,
    pub(super) load_failures: u64,
    pub(super) metrics: Arc<PluginMetrics>,
}

pub(super) struct State {
    pub(super) config: Config,
    pub(super) plugins: BTreeMap<String, PluginSlot>,
    pub(super) instances: BTreeMap<String, RunningInstance>,
    /// Configured instances that are not running, with the reason.
    pub(super) failed_instances: BTreeMap<String, (String, String)>,
}

pub(super) struct Inner {
    pub(super) engine: Engine,
    pub(super) linker: Linker<InstanceState>,
    pub(super) cache: CompileCache,
    pub(super) options: RuntimeOptions,
    pub(super) state: Mutex<State>,
    /// Bumped whenever the set of targets changes.
    pub(super) generation: tokio::sync::watch::Sender<u64>,
    /// The executor every guest call runs on, apart from the caller's: a
    /// guest blocking a worker cannot stall the server. `None` only while
    /// dropping.
    pub(super) tasks: Option<tokio::runtime::Runtime>,
    /// Plugins with a compilation in flight, abandoned or not: a file is
    /// never compiled twice at once.
    pub(super) compiling: Arc<Mutex<HashSet<String>>>,
    /// The runtime-wide cap on compilations running at once.
    pub(super) compile_slots: Arc<CompileSlots>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.cache.stop_compilers();
        // Drops every instance task at its next yield, without waiting:
        // this may run on an async thread, and a task stuck in a guest
        // call must not hold up shutdown.
        if let Some(tasks) = self.tasks.take() {
            tasks.shutdown_background();
        }
    }
}

/// Loads and runs plugins; cheap to clone.
#[derive(Clone)]
pub struct PluginRuntime {
    pub(super) inner: Arc<Inner>,
}

/// The plugin name of a file: its stem, for top-level `*.wasm` files only.
pub fn plugin_name_of(path: &Path) -> Option<String> {
    if path.extension()? != "wasm" {
        return None;
    }
    let stem = path.file_stem()?.to_str()?;
    (!stem.starts_with('.')).then(|| stem.to_owned())
}

impl PluginRuntime {
    /// Runs `task` on the plugin executor and waits for its result from
    /// any thread (async or not). `None` when the task panicked or the
    /// executor is shutting down.
    pub(crate) fn run<F>(&self, task: F) -> Option<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.inner.tasks.as_ref()?.spawn(async move {
            let _ = tx.send(task.await);
        });
        rx.recv().ok()
    }

    /// The executor guest calls run on; `None` while shutting down.
    pub(crate) fn executor(&self) -> Option<tokio::runtime::Handle> {
        self.inner.tasks.as_ref().map(|t| t.handle().clone())
    }

    /// The linker every plugin is instantiated through (WASI, the guards,
    /// the `host` interface), and the runtime's settings.
    pub(crate) fn linker_and_options(&self) -> (&Linker<InstanceState>, &RuntimeOptions) {
        (&self.inner.linker, &self.inner.options)
    }

    pub fn plugins_dir(&self) -> &Path {
        &self.inner.options.plugins_dir
    }

    /// Notified (with a new number) whenever targets are added or removed.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.generation.subscribe()
    }

    pub(super) fn bump(&self) {
        self.inner.generation.send_modify(|g| *g += 1);
    }

    /// The targets to scrape: every running instance.
    pub fn targets(&self) -> Vec<TargetSpec> {
        self.inner
            .state
            .lock()
            .instances
            .values()
            .map(|i| i.target.clone())
            .collect()
    }

    /// Collects instance `name` once.
    pub async fn collect(&self, name: &str) -> Result<Vec<MetricFamily>, CollectError> {
        let handle = {
            let state = self.inner.state.lock();
            match state.instances.get(name) {
                Some(running) => Arc::clone(&running.handle),
                None => {
                    return Err(match state.failed_instances.get(name) {
                        Some((_, error)) => CollectError::Open(error.clone()),
                        None => CollectError::Stopped,
                    });
                }
            }
        };
        handle.collect().await
    }
}
