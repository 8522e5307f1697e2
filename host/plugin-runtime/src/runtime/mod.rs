//! The plugin runtime: the set of loaded plugins, their running instances,
//! loading/replacing/removing plugin files, and applying configuration.
//!
//! Split by job, each part using only the ones after it:
//!
//! - this file: building a runtime (engine, linker, executor, cache);
//! - [`load`]: reading, compiling and swapping in plugin files, removing
//!   them;
//! - [`reconcile`]: applying configuration to the running instances,
//!   opening and stopping them;
//! - [`desired`]: the instances a configuration asks of a plugin;
//! - [`status`]: the status report, metadata and self-metrics;
//! - [`state`]: what the runtime holds, and the accessors all parts share;
//! - [`options`] and [`slots`]: the runtime's settings and its cap on
//!   compilations running at once.

mod desired;
mod load;
mod options;
mod reconcile;
mod slots;
mod state;
mod status;

pub use options::RuntimeOptions;
pub use state::{PluginRuntime, TargetSpec, plugin_name_of};
pub use status::{InstanceStatus, PluginStatus};

use crate::bindings::Exporter;
use crate::cache::CompileCache;
use crate::engine;
use crate::sandbox::InstanceState;
use parking_lot::Mutex;
use slots::CompileSlots;
use state::{Inner, State};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use wasmetheus_config::Config;
use wasmtime::component::{HasSelf, Linker};

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
}
