//! `wasmetheus-plugin-runtime`: loads exporter plugins (WebAssembly
//! components), runs each configured instance in its own sandbox under memory
//! and time limits, and hot-reloads the plugins directory.
//!
//! This is the only crate that depends on wasmtime. It knows nothing of HTTP
//! serving or scraping schedules: callers ask an instance to collect and get
//! metric families (or an error) back.

mod bindings;
mod cache;
mod compiler;
mod convert;
mod engine;
mod fs_guard;
mod instance;
mod metrics;
mod runtime;
mod sandbox;
pub mod schema;
mod socket_cap;
mod watch;

pub use compiler::{
    COMPILE_SUBCOMMAND, CompilerCommand, CompilerError, DEFAULT_COMPILE_MEMORY_LIMIT, compiler_main,
};
pub use instance::CollectError;
pub use metrics::PluginMetrics;
pub use runtime::rfc3339;
pub use runtime::{
    InstanceStatus, LoadError, PluginRuntime, PluginStatus, RuntimeOptions, TargetSpec,
};
pub use sandbox::{CapabilityStatus, capability_text, grants_for_requests};
pub use watch::{PluginsWatcher, watch_plugins_dir};

/// Metadata a plugin reports about itself, converted from WIT.
pub use convert::{Capability, CapabilityRequest, PluginMetadata};
