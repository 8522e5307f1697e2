//! `wasmetheus-plugin-runtime`: loads exporter and receiver plugins
//! (WebAssembly components), runs each configured instance in its own sandbox under memory
//! and time limits, and hot-reloads the plugins directory.
//!
//! This is the only crate that depends on wasmtime. It knows nothing of HTTP
//! serving or scraping schedules: callers ask an instance to collect and get
//! metric families (or an error) back.
//!
//! # Modules
//!
//! Each module uses only modules below it in this list (`a → b` reads "a
//! uses b"); there are no cycles:
//!
//! - `watch` → `runtime`: hot reload of the plugins directory.
//! - `receiver` → `runtime`, `instance`, `sandbox`, `limits`, `convert`,
//!   `engine`, `bindings`, `error`: receiver plugins (`mod.rs` loading and
//!   the API → `task` → `notification`; `grants`), sharing the runtime's
//!   engine, linker and executor.
//! - `runtime` → `cache`, `compiler`, `engine`, `instance`, `sandbox`,
//!   `fs_guard`, `socket_cap`, `metrics`, `convert`, `bindings`, `error`,
//!   `time`: the loaded plugins and their instances, loading and applying
//!   configuration. Inside it, `mod.rs` (construction) → `load` →
//!   `reconcile` → `desired` → `state` → `options`, `slots`; `status` →
//!   `state`.
//! - `cache` → `compiler` → `engine`: the compile cache and the
//!   out-of-process compiler.
//! - `instance` → `sandbox`, `metrics`, `limits`, `convert`, `bindings`,
//!   `error`: one running instance and its deadlines.
//! - `sandbox` → `fs_guard`, `socket_cap`, `limits`, `convert`, `bindings`:
//!   an instance's WASI context built from its grants.
//! - `fs_guard` (`mod.rs` → `wasi` → `guard` → `verdict`): the checks that
//!   keep filesystem grants from leading back to the server.
//! - `metrics` → `error`: per-plugin self-metrics.
//! - `convert` → `schema`, `bindings`: WIT values to the host's types.
//! - Leaves: `bindings`, `engine`, `error`, `limits`, `schema`,
//!   `socket_cap`, `time`.

mod bindings;
mod cache;
mod compiler;
mod convert;
mod engine;
mod error;
mod fs_guard;
mod instance;
mod limits;
mod metrics;
mod receiver;
mod runtime;
mod sandbox;
pub mod schema;
mod socket_cap;
mod time;
mod watch;

pub use compiler::{
    COMPILE_SUBCOMMAND, CompilerCommand, CompilerError, DEFAULT_COMPILE_MEMORY_LIMIT, compiler_main,
};
pub use error::{CollectError, LoadError};
pub use metrics::PluginMetrics;
pub use receiver::{
    Alert, Notification, OriginError, ReceiverPlugin, ReceiverRuntime, SendError, Sender,
    SenderSpec, origin_of_url, receiver_grants,
};
pub use runtime::{InstanceStatus, PluginRuntime, PluginStatus, RuntimeOptions, TargetSpec};
pub use sandbox::{CapabilityStatus, capability_text, grants_for_requests};
pub use time::rfc3339;
pub use watch::{PluginsWatcher, watch_plugins_dir};

/// Metadata a plugin reports about itself, converted from WIT.
pub use convert::{Capability, CapabilityRequest, PluginMetadata};
