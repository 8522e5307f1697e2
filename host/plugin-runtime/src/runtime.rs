//! The plugin runtime: the set of loaded plugins, their running instances,
//! loading/replacing/removing plugin files, and applying configuration.

use crate::bindings::{Exporter, ExporterPre};
use crate::cache::{CompileCache, Origin};
use crate::convert::PluginMetadata;
use crate::engine;
use crate::instance::{CollectError, InstanceHandle, InstanceSpec, read_metadata};
use crate::metrics::{PluginFacts, PluginMetrics};
use crate::sandbox::{
    CapabilityStatus, InstanceState, capability_statuses, grant_hint, is_granted,
};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};
use wasmetheus_config::{Config, PluginInstanceConfig};
use wasmetheus_model::MetricFamily;
use wasmetheus_model::validate::Limits;
use wasmtime::Engine;
use wasmtime::component::{Component, HasSelf, Linker};

/// Settings of the runtime itself (not of individual plugins).
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Where `*.wasm` plugins are loaded from.
    pub plugins_dir: PathBuf,
    /// Where compiled components are cached; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Most component instances alive at once (pooling allocator slots).
    pub max_instances: u32,
    /// Memory limit of an instance when the config sets none.
    pub default_memory_limit: usize,
    /// Limits on what one collect may return.
    pub output_limits: Limits,
    /// Largest `.wasm` file that is compiled; bigger ones are refused.
    pub max_plugin_size: u64,
    /// How long a load waits for compilation before it is reported failed
    /// (the compiler thread runs on, but nothing waits for it). Counted from
    /// when the load was requested: the wait for a compile slot counts.
    pub compile_timeout: Duration,
    /// Most compilations running at once, runtime-wide (abandoned ones
    /// included; a load from the cache needs none). Further loads wait for
    /// a slot, within their compile timeout. At least 1.
    pub max_concurrent_compiles: usize,
    /// Deadline of a plugin's `metadata` call (with its instantiation).
    pub metadata_timeout: Duration,
    /// What one guest call may hand to the host (results, error texts, log
    /// lines), as a multiple of the instance's memory limit.
    pub copy_factor: usize,
    /// Compiles in a child process started with this command (the
    /// server's own executable), under its memory limit and killed at the
    /// compile timeout; `None` compiles on a thread of this process.
    pub compiler: Option<crate::compiler::CompilerCommand>,
}

impl RuntimeOptions {
    pub fn new(plugins_dir: impl Into<PathBuf>) -> Self {
        RuntimeOptions {
            plugins_dir: plugins_dir.into(),
            cache_dir: None,
            max_instances: 100,
            default_memory_limit: 128 << 20,
            output_limits: Limits::default(),
            max_plugin_size: 64 << 20,
            compile_timeout: Duration::from_secs(30),
            // wasmtime compiles a component's functions in parallel.
            max_concurrent_compiles: std::thread::available_parallelism()
                .map_or(1, |n| (n.get() / 2).max(1)),
            metadata_timeout: Duration::from_secs(5),
            copy_factor: 2,
            compiler: None,
        }
    }
}

/// Why a plugin file could not be loaded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error(
        "{path} is {size} bytes, more than the plugin size limit of {limit} bytes; \
         build the plugin smaller (release profile, stripped) or raise the limit"
    )]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("{path} is not a valid exporter component: {message}")]
    Compile { path: PathBuf, message: String },
    #[error("{path} was not compiled: {message}")]
    Busy { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Metadata { path: PathBuf, message: String },
    #[error("{path}: instance {instance:?} of the new version failed to open: {message}")]
    Open {
        path: PathBuf,
        instance: String,
        message: String,
    },
}

/// A plugin file that loaded.
struct LoadedPlugin {
    path: PathBuf,
    pre: ExporterPre<InstanceState>,
    metadata: PluginMetadata,
    load_duration: Duration,
    origin: Origin,
    loaded_at: SystemTime,
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

struct RunningInstance {
    handle: Arc<InstanceHandle>,
    target: TargetSpec,
    capabilities: Vec<CapabilityStatus>,
}

#[derive(Default)]
struct PluginSlot {
    loaded: Option<Arc<LoadedPlugin>>,
    last_error: Option<String>,
    load_failures: u64,
    metrics: Arc<PluginMetrics>,
}

struct State {
    config: Config,
    plugins: BTreeMap<String, PluginSlot>,
    instances: BTreeMap<String, RunningInstance>,
    /// Configured instances that are not running, with the reason.
    failed_instances: BTreeMap<String, (String, String)>,
}

struct Inner {
    engine: Engine,
    linker: Linker<InstanceState>,
    cache: CompileCache,
    options: RuntimeOptions,
    state: Mutex<State>,
    /// Bumped whenever the set of targets changes.
    generation: tokio::sync::watch::Sender<u64>,
    /// The executor every guest call runs on, apart from the caller's: a
    /// guest blocking a worker cannot stall the server. `None` only while
    /// dropping.
    tasks: Option<tokio::runtime::Runtime>,
    /// Plugins with a compilation in flight, abandoned or not: a file is
    /// never compiled twice at once.
    compiling: Arc<Mutex<HashSet<String>>>,
    /// The runtime-wide cap on compilations running at once.
    compile_slots: Arc<CompileSlots>,
}

/// Compilations running and waiting to run.
#[derive(Debug, Default, Clone, Copy)]
struct SlotCounts {
    running: usize,
    queued: usize,
}

/// The runtime-wide cap on compilations running at once. A compiler thread
/// takes a slot just before compiling (a cache hit takes none) and gives it
/// back when the compilation has ended, whether its load still waits for it
/// or was abandoned at the compile timeout: an abandoned compilation keeps
/// its core busy, so it keeps its slot.
struct CompileSlots {
    limit: usize,
    counts: Mutex<SlotCounts>,
    freed: parking_lot::Condvar,
}

/// One slot, given back on drop.
struct CompileSlot(Arc<CompileSlots>);

impl Drop for CompileSlot {
    fn drop(&mut self) {
        self.0.counts.lock().running -= 1;
        // Every waiter checks again; one whose load gave up leaves the slot
        // to the next.
        self.0.freed.notify_all();
    }
}

impl CompileSlots {
    fn new(limit: usize) -> Self {
        CompileSlots {
            limit: limit.max(1),
            counts: Mutex::default(),
            freed: parking_lot::Condvar::new(),
        }
    }

    /// Waits until `deadline` for a free slot, then takes it if `claim`
    /// (called with the counts locked) still wants it.
    fn acquire(
        self: &Arc<Self>,
        deadline: Instant,
        claim: impl Fn() -> bool,
    ) -> Option<CompileSlot> {
        let mut counts = self.counts.lock();
        counts.queued += 1;
        while counts.running >= self.limit {
            if self.freed.wait_until(&mut counts, deadline).timed_out()
                && counts.running >= self.limit
            {
                break;
            }
        }
        counts.queued -= 1;
        if counts.running >= self.limit || !claim() {
            return None;
        }
        counts.running += 1;
        Some(CompileSlot(Arc::clone(self)))
    }

    fn counts(&self) -> SlotCounts {
        *self.counts.lock()
    }
}

/// Where a load's compilation is: waiting for a slot, under way (or read
/// from the cache), or given up by the load before it got a slot.
const WAITING: u8 = 0;
const COMPILING: u8 = 1;
const GAVE_UP: u8 = 2;

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

/// A configured instance ready to be opened.
struct Prepared {
    spec: InstanceSpec,
    target: TargetSpec,
    capabilities: Vec<CapabilityStatus>,
}

/// Loads and runs plugins; cheap to clone.
#[derive(Clone)]
pub struct PluginRuntime {
    inner: Arc<Inner>,
}

/// One instance as the API shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstanceStatus {
    pub name: String,
    pub job: String,
    pub running: bool,
    pub error: Option<String>,
    /// Why the last collect of a running instance failed (a timeout, a
    /// trap, output over its budget…); absent after a good one.
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

/// The plugin name of a file: its stem, for top-level `*.wasm` files only.
pub fn plugin_name_of(path: &Path) -> Option<String> {
    if path.extension()? != "wasm" {
        return None;
    }
    let stem = path.file_stem()?.to_str()?;
    (!stem.starts_with('.')).then(|| stem.to_owned())
}

impl PluginRuntime {
    pub fn new(options: RuntimeOptions) -> anyhow::Result<Self> {
        let engine = engine::build(options.max_instances)
            .map_err(|e| anyhow::anyhow!("creating the WebAssembly engine: {e}"))?;
        engine::start_epoch_ticker(&engine);
        let mut linker = Linker::new(&engine);
        // Async WASI: a guest waiting in a sleep, a poll or a socket read
        // suspends its fiber instead of blocking a thread, so its deadline
        // can end the call.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| anyhow::anyhow!("linking WASI: {e}"))?;
        // Filesystem calls that reach a path are checked so a grant never
        // leads back to the server's own process.
        crate::fs_guard::add_to_linker_async(&mut linker)
            .map_err(|e| anyhow::anyhow!("linking the filesystem guard: {e}"))?;
        crate::socket_cap::add_to_linker_async(&mut linker)
            .map_err(|e| anyhow::anyhow!("linking the socket cap: {e}"))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(|e| anyhow::anyhow!("linking WASI HTTP: {e}"))?;
        Exporter::add_to_linker::<_, HasSelf<InstanceState>>(&mut linker, |s| s)
            .map_err(|e| anyhow::anyhow!("linking the host interface: {e}"))?;
        let cache = CompileCache::new(&engine, options.cache_dir.clone())
            .with_compiler(options.compiler.clone(), options.compile_timeout);
        let (generation, _) = tokio::sync::watch::channel(0);
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4));
        let tasks = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("plugin-worker")
            .max_blocking_threads(64)
            .thread_keep_alive(Duration::from_secs(2))
            .enable_all()
            .build()
            .map_err(|e| anyhow::anyhow!("starting the plugin executor: {e}"))?;
        let compile_slots = Arc::new(CompileSlots::new(options.max_concurrent_compiles));
        Ok(PluginRuntime {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache,
                options,
                state: Mutex::new(State {
                    config: Config::default(),
                    plugins: BTreeMap::new(),
                    instances: BTreeMap::new(),
                    failed_instances: BTreeMap::new(),
                }),
                generation,
                tasks: Some(tasks),
                compiling: Arc::default(),
                compile_slots,
            }),
        })
    }

    /// Runs `task` on the plugin executor and waits for its result from
    /// any thread (async or not). `None` when the task panicked or the
    /// executor is shutting down.
    fn run<F>(&self, task: F) -> Option<F::Output>
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

    /// Opens `prepared` instances concurrently, so one whose `open` hangs
    /// delays the others by no more than its deadline.
    fn start_all(
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

    pub fn plugins_dir(&self) -> &Path {
        &self.inner.options.plugins_dir
    }

    /// Notified (with a new number) whenever targets are added or removed.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.generation.subscribe()
    }

    fn bump(&self) {
        self.inner.generation.send_modify(|g| *g += 1);
    }

    /// Loads every top-level `*.wasm` in the plugins directory, a few at a
    /// time, logging progress. Failures are logged and kept in the plugin's
    /// status. Each load is bounded by the compile timeout and its calls'
    /// deadlines, so a hostile file delays the others by no more than that.
    pub fn load_all(&self) -> usize {
        let dir = &self.inner.options.plugins_dir;
        let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && plugin_name_of(p).is_some())
                .collect(),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot read the plugins directory");
                return 0;
            }
        };
        files.sort();
        let started = Instant::now();
        let total = files.len();
        let (next, processed, loaded) = (
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        );
        let loaders = total.clamp(1, 4);
        std::thread::scope(|scope| {
            for _ in 0..loaders {
                scope.spawn(|| {
                    while let Some(path) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                        match self.load_file(path) {
                            Ok(()) => _ = loaded.fetch_add(1, Ordering::Relaxed),
                            Err(e) => tracing::error!("{e}"),
                        }
                        let done = processed.fetch_add(1, Ordering::Relaxed) + 1;
                        tracing::info!(
                            "plugins: {done}/{total} processed, {} loaded, {:.1}/s",
                            loaded.load(Ordering::Relaxed),
                            done as f64 / started.elapsed().as_secs_f64().max(1e-9)
                        );
                    }
                });
            }
        });
        loaded.into_inner()
    }

    /// Reads `path`, refusing files over the size limit before reading them.
    fn read_plugin(&self, path: &Path) -> Result<Vec<u8>, LoadError> {
        let limit = self.inner.options.max_plugin_size;
        let read_error = |e: std::io::Error| LoadError::Read {
            path: path.to_owned(),
            message: e.to_string(),
        };
        let too_large = |size| LoadError::TooLarge {
            path: path.to_owned(),
            size,
            limit,
        };
        let file = std::fs::File::open(path).map_err(read_error)?;
        let size = file.metadata().map_err(read_error)?.len();
        if size > limit {
            return Err(too_large(size));
        }
        // The file may grow while being read: read one byte past the limit.
        let mut bytes = Vec::with_capacity(size as usize);
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        if bytes.len() as u64 > limit {
            return Err(too_large(bytes.len() as u64));
        }
        Ok(bytes)
    }

    /// Compiles `bytes` (or reads them from the cache) on a thread of its
    /// own, waiting at most until the compile timeout after `requested`:
    /// for a compile slot (see [`CompileSlots`]), then for the compilation.
    /// Compilation cannot be cancelled: a late one finishes unobserved, and
    /// the plugin cannot start another until it has.
    fn compile(
        &self,
        name: &str,
        path: &Path,
        bytes: Vec<u8>,
        requested: Instant,
    ) -> Result<(Component, Origin), LoadError> {
        let compile_error = |message: String| LoadError::Compile {
            path: path.to_owned(),
            message,
        };
        let timeout = self.inner.options.compile_timeout;
        let slots = Arc::clone(&self.inner.compile_slots);
        let busy = || LoadError::Busy {
            path: path.to_owned(),
            message: format!(
                "no compile slot came free within the compile timeout of {timeout:?} (all {} \
                 are taken by other plugins' compilations); it is retried on the next change \
                 of the file, or raise the compile timeout",
                slots.limit
            ),
        };
        if !self.inner.compiling.lock().insert(name.to_owned()) {
            return Err(compile_error(
                "an earlier version of this plugin is still compiling (it was abandoned after the \
                 compile timeout); it is retried on the next change of the file"
                    .into(),
            ));
        }
        let deadline = requested + timeout;
        let phase = Arc::new(AtomicU8::new(WAITING));
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let (engine, cache) = (self.inner.engine.clone(), self.inner.cache.clone());
        let compiling = Arc::clone(&self.inner.compiling);
        let plugin = name.to_owned();
        let spawned = {
            let (slots, phase) = (Arc::clone(&slots), Arc::clone(&phase));
            std::thread::Builder::new()
                .name(format!("compile-{name}"))
                .spawn(move || {
                    let result = cache.load_or_compile(&engine, &bytes, deadline, || {
                        // Taken only if the load still waits for it.
                        let claim = || {
                            phase
                                .compare_exchange(
                                    WAITING,
                                    COMPILING,
                                    Ordering::AcqRel,
                                    Ordering::Acquire,
                                )
                                .is_ok()
                        };
                        slots
                            .acquire(deadline, claim)
                            .ok_or_else(|| wasmtime::format_err!("no compile slot"))
                    });
                    compiling.lock().remove(&plugin);
                    let _ = tx.send(result);
                })
        };
        if let Err(e) = spawned {
            self.inner.compiling.lock().remove(name);
            return Err(compile_error(format!(
                "cannot start a compiler thread: {e}"
            )));
        }
        let waited = rx.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        match waited {
            Ok(Ok(compiled)) => Ok(compiled),
            // No compilation started: the wait for a slot ran out.
            Ok(Err(_)) if phase.load(Ordering::Acquire) != COMPILING => Err(busy()),
            Ok(Err(e)) => Err(compile_error(error_chain(&e))),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                let gave_up = phase
                    .compare_exchange(WAITING, GAVE_UP, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok();
                if gave_up {
                    return Err(busy());
                }
                Err(compile_error(format!(
                    "compilation did not finish within {timeout:?} and was abandoned; the component \
                     is too large or too complex (split it, or build it with optimisations)"
                )))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                Err(compile_error("the compiler thread failed".into()))
            }
        }
    }

    /// Compiles (or reads from cache) and validates the plugin at `path`,
    /// then swaps it in: its instances are opened on the new version first,
    /// and only when all open does the new version replace the old. On any
    /// failure the old version keeps serving and the error is recorded.
    /// This blocks; call it off the async executor. The compile timeout
    /// counts from this call, the wait for a compile slot included.
    ///
    /// A file removed while it loaded is removed once the load ends (its
    /// instances stopped, its entry gone): the removal may have been seen,
    /// and acted on, before the load installed it. A load that fails leaves
    /// its error in the status only while its file is there.
    pub fn load_file(&self, path: &Path) -> Result<(), LoadError> {
        let Some(name) = plugin_name_of(path) else {
            return Ok(());
        };
        let had_version = self
            .inner
            .state
            .lock()
            .plugins
            .get(&name)
            .is_some_and(|s| s.loaded.is_some());
        let result = self.load_and_swap(&name, path);
        let mut state = self.inner.state.lock();
        let slot = state.plugins.entry(name.clone()).or_default();
        match &result {
            Ok(()) => slot.last_error = None,
            Err(e) => {
                slot.last_error = Some(e.to_string());
                slot.load_failures += 1;
                if had_version {
                    tracing::error!(plugin = %name, "new version rejected, the previous version keeps serving: {e}");
                } else {
                    tracing::error!(plugin = %name, "{e}");
                }
            }
        }
        // Checked after the install: a removal after this check reaches
        // the watcher after the install too, and it removes the plugin.
        let gone = !path.is_file();
        drop(state);
        if gone {
            self.remove_file(path);
        }
        result
    }

    fn load_and_swap(&self, name: &str, path: &Path) -> Result<(), LoadError> {
        let started = Instant::now();
        let bytes = self.read_plugin(path)?;
        let compile_error = |message: String| LoadError::Compile {
            path: path.to_owned(),
            message,
        };
        let (component, origin) = self.compile(name, path, bytes, started)?;
        let pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(|e| compile_error(error_chain(&e)))?;
        let pre = ExporterPre::new(pre).map_err(|e| compile_error(error_chain(&e)))?;
        let timeout = self.inner.options.metadata_timeout;
        let metadata = {
            let pre = pre.clone();
            self.run(async move { read_metadata(&pre, timeout).await })
                .unwrap_or_else(|| Err("the plugin executor is shutting down".into()))
        }
        .map_err(|message| LoadError::Metadata {
            path: path.to_owned(),
            message,
        })?;
        let plugin = Arc::new(LoadedPlugin {
            path: path.to_owned(),
            pre,
            metadata,
            load_duration: started.elapsed(),
            origin,
            loaded_at: SystemTime::now(),
        });

        // Open the new version's instances before touching the old ones.
        let (config, replacing) = {
            let state = self.inner.state.lock();
            let replacing = state.plugins.get(name).is_some_and(|s| s.loaded.is_some());
            (state.config.clone(), replacing)
        };
        let metrics = self.plugin_metrics(name);
        let mut fresh = BTreeMap::new();
        let mut failed = BTreeMap::new();
        let prepared = desired_instances(name, &plugin.metadata, &config)
            .into_iter()
            .map(|(instance_config, target)| {
                self.prepare_instance(
                    &plugin,
                    name,
                    instance_config.as_ref(),
                    &config,
                    target,
                    &metrics,
                )
            })
            .collect();
        for started in self.start_all(prepared) {
            match started {
                Ok(running) => {
                    fresh.insert(running.target.instance.clone(), running);
                }
                // A replacement must open everything the old version ran.
                Err((instance, e)) if replacing => {
                    return Err(LoadError::Open {
                        path: path.to_owned(),
                        instance,
                        message: e.to_string(),
                    });
                }
                Err((instance, e)) => {
                    failed.insert(instance, (name.to_owned(), e.to_string()));
                }
            }
        }
        tracing::info!(
            plugin = %name,
            version = %plugin.metadata.version,
            from_cache = origin == Origin::Cached,
            instances = fresh.len(),
            "loaded plugin in {:.1} ms",
            plugin.load_duration.as_secs_f64() * 1e3
        );
        let first_failure = failed
            .iter()
            .next()
            .map(|(instance, (_, message))| LoadError::Open {
                path: path.to_owned(),
                instance: instance.clone(),
                message: message.clone(),
            });
        let mut state = self.inner.state.lock();
        let mut replaced = Vec::new();
        state.instances.retain(|_, i| {
            let keep = &*i.handle.plugin != name;
            if !keep {
                replaced.push(Arc::clone(&i.handle));
            }
            keep
        });
        state
            .failed_instances
            .retain(|_, (plugin, _)| plugin != name);
        state.instances.extend(fresh);
        state.failed_instances.extend(failed);
        state.plugins.entry(name.to_owned()).or_default().loaded = Some(plugin);
        drop(state);
        self.bump();
        self.stop_all(replaced);
        // Loaded, but an instance could not open: report it.
        match first_failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn plugin_metrics(&self, name: &str) -> Arc<PluginMetrics> {
        let mut state = self.inner.state.lock();
        Arc::clone(&state.plugins.entry(name.to_owned()).or_default().metrics)
    }

    fn prepare_instance(
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
                    crate::sandbox::capability_text(&request.capability),
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

    /// Stops a removed plugin's instances; their targets disappear, which
    /// makes their series stale.
    pub fn remove_file(&self, path: &Path) {
        let Some(name) = plugin_name_of(path) else {
            return;
        };
        let mut state = self.inner.state.lock();
        let Some(slot) = state.plugins.get_mut(&name) else {
            return;
        };
        // A different file may have been loaded under this name meanwhile.
        if slot.loaded.as_ref().is_some_and(|p| p.path != path) {
            return;
        }
        let metrics = Arc::clone(&slot.metrics);
        state.plugins.remove(&name);
        let removed: Vec<String> = state
            .instances
            .iter()
            .filter(|(_, i)| *i.handle.plugin == name)
            .map(|(n, _)| n.clone())
            .collect();
        for instance in &removed {
            if let Some(running) = state.instances.remove(instance) {
                // Not waited for: this may run on an async thread.
                running.handle.request_stop();
            }
            metrics.forget_instance(instance);
        }
        state
            .failed_instances
            .retain(|_, (plugin, _)| *plugin != name);
        drop(state);
        tracing::info!(plugin = %name, instances = removed.len(), "plugin removed; its instances stopped");
        self.bump();
    }

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

    /// Stops replaced or removed instances and waits until their stores
    /// are gone (so their pool slots are free for the next change), at most
    /// the deadline of a call they are in.
    fn stop_all(&self, stopped: Vec<Arc<InstanceHandle>>) {
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
        let mut families = crate::metrics::families(&facts);
        let slots = &self.inner.compile_slots;
        let counts = slots.counts();
        families.extend(crate::metrics::compile_families(
            counts.running,
            counts.queued,
            slots.limit,
        ));
        families
    }
}

fn previous_instance<'a>(config: &'a Config, instance: &str) -> Option<&'a PluginInstanceConfig> {
    config.plugins.instances.iter().find(|i| i.name == instance)
}

/// The instances a plugin should run under `config`: its configured ones,
/// or, when none is configured and it needs no grant, one default instance
/// named after the plugin.
fn desired_instances(
    plugin: &str,
    metadata: &PluginMetadata,
    config: &Config,
) -> Vec<(Option<PluginInstanceConfig>, TargetSpec)> {
    let global = &config.global;
    let configured: Vec<&PluginInstanceConfig> = config
        .plugins
        .instances
        .iter()
        .filter(|i| i.plugin == plugin)
        .collect();
    if configured.is_empty() {
        let needs_grant = metadata.capabilities.iter().any(|r| !r.optional);
        let has_plugin_grants = config.plugins.grants.contains_key(plugin);
        if needs_grant && !has_plugin_grants {
            tracing::info!(
                plugin,
                "no instance configured and the plugin needs grants; add one under plugins.instances"
            );
            return Vec::new();
        }
        return vec![(
            None,
            TargetSpec {
                instance: plugin.to_owned(),
                plugin: plugin.to_owned(),
                job: plugin.to_owned(),
                interval: global.scrape_interval.0,
                timeout: global.scrape_timeout.0.min(global.scrape_interval.0),
                labels: BTreeMap::new(),
            },
        )];
    }
    configured
        .into_iter()
        .map(|i| {
            let interval = i.scrape_interval.unwrap_or(global.scrape_interval).0;
            let timeout = i
                .scrape_timeout
                .map_or(global.scrape_timeout.0.min(interval), |t| t.0);
            (
                Some(i.clone()),
                TargetSpec {
                    instance: i.name.clone(),
                    plugin: plugin.to_owned(),
                    job: i.job.clone().unwrap_or_else(|| plugin.to_owned()),
                    interval,
                    timeout,
                    labels: i.labels.clone(),
                },
            )
        })
        .collect()
}

fn error_chain(error: &wasmtime::Error) -> String {
    error
        .chain()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

/// Formats a time as RFC 3339 in UTC without pulling in a date library.
pub fn rfc3339(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
