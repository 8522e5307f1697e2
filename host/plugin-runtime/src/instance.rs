//! One running plugin instance: a thread that owns the instance's store and
//! serves collect requests one at a time under a wall-clock deadline.
//!
//! A store whose call trapped or timed out is discarded (a component
//! instance must not be re-entered after a trap); the next collect opens a
//! fresh one, so a plugin that crashed once recovers on its own.

use crate::bindings::ExporterPre;
use crate::convert;
use crate::engine::EPOCH_TICK;
use crate::metrics::PluginMetrics;
use crate::sandbox::InstanceState;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use wasmetheus_config::Grants;
use wasmetheus_model::MetricFamily;
use wasmetheus_model::validate::{Limits, validate};
use wasmtime::component::ResourceAny;
use wasmtime::{ResourceLimiter, Store};

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
            CollectError::Open(_) => "open",
            CollectError::Busy => "busy",
            CollectError::Stopped => "stopped",
        }
    }
}

/// Everything needed to (re)open an instance.
pub struct InstanceSpec {
    pub plugin: Arc<str>,
    pub name: Arc<str>,
    pub pre: ExporterPre<InstanceState>,
    pub grants: Arc<Grants>,
    pub config_json: String,
    pub memory_limit: usize,
    pub timeout: Duration,
    pub output_limits: Limits,
    pub metrics: Arc<PluginMetrics>,
}

/// Caps linear memory and records its size for the self-metrics. Exceeding
/// the cap is an error (a trap naming the limit), not a failed `grow`, so a
/// memory bomb ends at once with a clear message.
pub struct MemoryLimiter {
    limit: usize,
    used: usize,
}

impl MemoryLimiter {
    pub fn new(limit: usize) -> Self {
        MemoryLimiter { limit, used: 0 }
    }

    pub fn used(&self) -> usize {
        self.used
    }
}

const MEMORY_LIMIT_MARKER: &str = "memory limit of";

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let after = self.used - current.min(self.used) + desired;
        if after > self.limit {
            return Err(wasmtime::format_err!(
                "{MEMORY_LIMIT_MARKER} {} bytes reached: the plugin asked to grow a memory to {desired} bytes",
                self.limit
            ));
        }
        self.used = after;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// A live store with an opened collector resource.
struct Live {
    store: Store<InstanceState>,
    bindings: crate::bindings::Exporter,
    collector: ResourceAny,
}

fn ticks(timeout: Duration) -> u64 {
    (timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
}

/// Describes a wasmtime error, telling traps, timeouts and memory apart.
fn classify(error: &wasmtime::Error, timeout: Duration) -> CollectError {
    if let Some(trap) = error.downcast_ref::<wasmtime::Trap>()
        && *trap == wasmtime::Trap::Interrupt
    {
        return CollectError::Timeout(timeout);
    }
    let text = error
        .chain()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(": ");
    if text.contains(MEMORY_LIMIT_MARKER) {
        CollectError::Memory(text)
    } else {
        CollectError::Trap(text)
    }
}

fn open(spec: &InstanceSpec) -> Result<Live, CollectError> {
    let state = InstanceState::new(
        Arc::clone(&spec.plugin),
        Arc::clone(&spec.name),
        Arc::clone(&spec.grants),
        MemoryLimiter::new(spec.memory_limit),
    )
    .map_err(CollectError::Open)?;
    let mut store = Store::new(spec.pre.engine(), state);
    store.limiter(|state| &mut state.limiter);
    store.epoch_deadline_trap();
    store.set_epoch_deadline(ticks(spec.timeout));
    let open_error = |e: CollectError| match e {
        CollectError::Trap(t) => CollectError::Open(format!("plugin trapped: {t}")),
        other => other,
    };
    let bindings = spec
        .pre
        .instantiate(&mut store)
        .map_err(|e| open_error(classify(&e, spec.timeout)))?;
    let collector = bindings
        .wasmetheus_plugin_metrics()
        .collector()
        .call_open(&mut store, &spec.config_json)
        .map_err(|e| open_error(classify(&e, spec.timeout)))?
        .map_err(|e| CollectError::Open(convert::error_text(&e)))?;
    Ok(Live {
        store,
        bindings,
        collector,
    })
}

fn collect_once(live: &mut Live, spec: &InstanceSpec) -> Result<Vec<MetricFamily>, CollectError> {
    live.store.set_epoch_deadline(ticks(spec.timeout));
    let families = live
        .bindings
        .wasmetheus_plugin_metrics()
        .collector()
        .call_collect(&mut live.store, live.collector)
        .map_err(|e| classify(&e, spec.timeout))?
        .map_err(|e| CollectError::Plugin(convert::error_text(&e)))?;
    let families = convert::families(families);
    validate(&families, &spec.output_limits)
        .map_err(|e| CollectError::InvalidOutput(e.to_string()))?;
    Ok(families)
}

enum Command {
    Collect(oneshot::Sender<Result<Vec<MetricFamily>, CollectError>>),
}

/// Handle to an instance thread. Dropping the last handle stops the thread
/// (after a call in progress ends, which the deadline bounds).
pub struct InstanceHandle {
    commands: mpsc::Sender<Command>,
    busy: Arc<AtomicBool>,
    timeout: Duration,
    pub plugin: Arc<str>,
}

impl InstanceHandle {
    /// Starts the instance thread and opens the instance on it; fails (and
    /// stops the thread) when the plugin cannot be instantiated or its
    /// `open` rejects the configuration.
    pub fn start(spec: InstanceSpec) -> Result<InstanceHandle, CollectError> {
        let (commands, receiver) = mpsc::channel::<Command>();
        let (opened_tx, opened_rx) = mpsc::channel();
        let busy = Arc::new(AtomicBool::new(false));
        let handle = InstanceHandle {
            commands,
            busy: Arc::clone(&busy),
            timeout: spec.timeout,
            plugin: Arc::clone(&spec.plugin),
        };
        std::thread::Builder::new()
            .name(format!("plugin-{}", spec.name))
            .spawn(move || {
                let mut live = match open(&spec) {
                    Ok(live) => {
                        let _ = opened_tx.send(Ok(()));
                        Some(live)
                    }
                    Err(e) => {
                        let _ = opened_tx.send(Err(e));
                        return;
                    }
                };
                drop(opened_tx);
                serve(&spec, &mut live, receiver, &busy);
            })
            .map_err(|e| CollectError::Open(format!("cannot start instance thread: {e}")))?;
        match opened_rx.recv() {
            Ok(Ok(())) => Ok(handle),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(CollectError::Open(
                "instance thread ended while opening".into(),
            )),
        }
    }

    /// Collects once. Returns [`CollectError::Busy`] at once while the
    /// previous collect still runs (a stuck host call, for example).
    pub async fn collect(&self) -> Result<Vec<MetricFamily>, CollectError> {
        if self.busy.swap(true, Ordering::AcqRel) {
            return Err(CollectError::Busy);
        }
        let (reply, response) = oneshot::channel();
        if self.commands.send(Command::Collect(reply)).is_err() {
            self.busy.store(false, Ordering::Release);
            return Err(CollectError::Stopped);
        }
        // The epoch deadline interrupts guest code; the extra second covers
        // a host call (e.g. a socket) that outlives it.
        match tokio::time::timeout(self.timeout + Duration::from_secs(1), response).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(CollectError::Stopped),
            Err(_) => Err(CollectError::Timeout(self.timeout)),
        }
    }
}

fn serve(
    spec: &InstanceSpec,
    live: &mut Option<Live>,
    commands: mpsc::Receiver<Command>,
    busy: &AtomicBool,
) {
    while let Ok(Command::Collect(reply)) = commands.recv() {
        let started = Instant::now();
        let result = match live {
            Some(l) => collect_once(l, spec),
            None => open(spec).and_then(|mut l| {
                let result = collect_once(&mut l, spec);
                *live = Some(l);
                result
            }),
        };
        let memory = live.as_ref().map_or(0, |l| l.store.data().limiter.used());
        spec.metrics
            .record_collect(&spec.name, started.elapsed(), memory, result.as_ref().err());
        if let Err(e) = &result {
            match e {
                // The store may be mid-call or poisoned: start afresh.
                CollectError::Trap(_) | CollectError::Timeout(_) | CollectError::Memory(_) => {
                    *live = None;
                }
                _ => {}
            }
            tracing::warn!(plugin = %spec.plugin, instance = %spec.name, error = %e, "collect failed");
        }
        busy.store(false, Ordering::Release);
        let _ = reply.send(result);
    }
}

/// Runs `metadata` in a throwaway store to learn what a plugin is.
pub fn read_metadata(
    pre: &ExporterPre<InstanceState>,
    timeout: Duration,
) -> Result<convert::PluginMetadata, String> {
    let state = InstanceState::new(
        "loading".into(),
        "loading".into(),
        Arc::new(Grants::default()),
        MemoryLimiter::new(64 << 20),
    )?;
    let mut store = Store::new(pre.engine(), state);
    store.limiter(|state| &mut state.limiter);
    store.epoch_deadline_trap();
    store.set_epoch_deadline(ticks(timeout));
    let bindings = pre
        .instantiate(&mut store)
        .map_err(|e| format!("instantiating: {}", classify(&e, timeout)))?;
    let metadata = bindings
        .wasmetheus_plugin_metrics()
        .call_metadata(&mut store)
        .map_err(|e| format!("metadata(): {}", classify(&e, timeout)))?;
    Ok(convert::metadata(metadata))
}
