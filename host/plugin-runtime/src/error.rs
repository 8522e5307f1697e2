//! The runtime's error types: why a plugin file did not load
//! ([`LoadError`]) and why a collection produced no metrics
//! ([`CollectError`]). They depend on nothing else in the crate, so every
//! module may name them.

use std::path::PathBuf;
use std::time::Duration;

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
    #[error(
        "{path} is a receiver plugin (world `receiver`), which alert receivers open; only \
         exporters run as plugin instances"
    )]
    Receiver { path: PathBuf },
    #[error("{path} is not a valid receiver component: {message}")]
    ReceiverCompile { path: PathBuf, message: String },
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

/// Why a collection produced no metrics. Shown as the target's last error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CollectError {
    #[error("plugin trapped: {0}")]
    Trap(String),
    #[error("collect exceeded its deadline of {0:?} and was interrupted")]
    Timeout(Duration),
    #[error("plugin exceeded its memory limit: {0}")]
    Memory(String),
    #[error("plugin returned an error: {0}")]
    Plugin(String),
    #[error("plugin output rejected: {0}")]
    InvalidOutput(String),
    #[error(
        "plugin passed more than {0} bytes to the host in one call (its budget, a multiple of its \
         memory limit); return fewer or smaller series or shorter texts, or raise the instance's memory_limit"
    )]
    TooMuchData(usize),
    #[error("opening the instance failed: {0}")]
    Open(String),
    #[error("the previous collect of this instance is still running")]
    Busy,
    #[error("the instance was stopped")]
    Stopped,
}

impl CollectError {
    /// A short reason for per-plugin error counters.
    pub fn kind(&self) -> &'static str {
        match self {
            CollectError::Trap(_) => "trap",
            CollectError::Timeout(_) => "timeout",
            CollectError::Memory(_) => "memory",
            CollectError::Plugin(_) => "plugin_error",
            CollectError::InvalidOutput(_) => "invalid_output",
            CollectError::TooMuchData(_) => "too_much_data",
            CollectError::Open(_) => "open",
            CollectError::Busy => "busy",
            CollectError::Stopped => "stopped",
        }
    }

    /// Whether the store may be mid-call or poisoned and must be dropped.
    pub(crate) fn poisons_store(&self) -> bool {
        matches!(
            self,
            CollectError::Trap(_)
                | CollectError::Timeout(_)
                | CollectError::Memory(_)
                | CollectError::TooMuchData(_)
        )
    }
}
