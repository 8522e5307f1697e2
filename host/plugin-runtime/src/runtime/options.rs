//! [`RuntimeOptions`]: the settings of the runtime itself (not of
//! individual plugins).

use crate::compiler::CompilerCommand;
use std::path::PathBuf;
use std::time::Duration;
use wasmetheus_model::validate::Limits;

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
    pub compiler: Option<CompilerCommand>,
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
