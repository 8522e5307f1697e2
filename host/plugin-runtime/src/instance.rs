//! One running plugin instance: a task that owns the instance's store and
//! serves collect requests one at a time under a wall-clock deadline.
//!
//! Every guest call (instantiation, `metadata`, `open`, `collect`, dropping
//! the collector) runs on a wasmtime fiber inside `tokio::time::timeout`.
//! Guest code yields at every epoch tick and WASI host calls are async, so
//! the deadline holds even while the guest sleeps, polls or waits on a
//! socket: the call's future is dropped and its store with it (a component
//! instance must not be re-entered after an abandoned call), which frees
//! its pooling-allocator slot. The next collect opens a fresh store, so a
//! plugin that crashed once recovers on its own.
//!
//! What a guest hands to the host (results, error texts, log lines) is
//! copied under wasmtime's per-call "hostcall fuel", set to a multiple of
//! the instance's memory limit: a guest cannot make the host allocate more
//! than that, however its output aliases its own memory.

use crate::bindings::ExporterPre;
use crate::convert;
use crate::error::CollectError;
use crate::limits::{MEMORY_LIMIT_MARKER, MemoryLimiter};
use crate::metrics::PluginMetrics;
use crate::sandbox::InstanceState;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use wasmetheus_config::Grants;
use wasmetheus_model::MetricFamily;
use wasmetheus_model::validate::{Limits, validate};
use wasmtime::component::ResourceAny;
use wasmtime::{Engine, Store, UpdateDeadline};

/// Everything needed to (re)open an instance.
pub struct InstanceSpec {
    pub plugin: Arc<str>,
    pub name: Arc<str>,
    pub pre: ExporterPre<InstanceState>,
    pub grants: Arc<Grants>,
    pub config_json: String,
    pub memory_limit: usize,
    /// Bytes one call may pass to the host (results, errors, log lines).
    pub copy_budget: usize,
    pub timeout: Duration,
    pub output_limits: Limits,
    pub metrics: Arc<PluginMetrics>,
}

/// What wasmtime says when a call copies more than the store's hostcall fuel.
const HOSTCALL_FUEL_MARKER: &str = "fuel allocated for hostcalls has been exhausted";

/// A store set up for guest calls (exporter instances and receivers
/// alike): memory capped, copies to the host capped at `copy_budget` bytes
/// per call, and guest code yielding to the executor at every epoch tick so
/// that a deadline can end the call.
pub(crate) fn new_store(
    engine: &Engine,
    state: InstanceState,
    copy_budget: usize,
) -> Store<InstanceState> {
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limiter);
    store.set_hostcall_fuel(copy_budget);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Yield(1)));
    store
}

/// The sandbox of a plugin's store, built under `deadline`: building it
/// opens preopens and resolves `tcp_connect` grants (DNS), blocking work
/// done off the executor. `Err(())` when the deadline passed; callers word
/// the failures.
pub(crate) async fn sandbox_state(
    plugin: &Arc<str>,
    name: &Arc<str>,
    grants: &Arc<Grants>,
    memory_limit: usize,
    deadline: Instant,
) -> Result<Result<Result<InstanceState, String>, tokio::task::JoinError>, ()> {
    let (plugin, name, grants) = (Arc::clone(plugin), Arc::clone(name), Arc::clone(grants));
    within(
        deadline,
        tokio::task::spawn_blocking(move || {
            InstanceState::new(plugin, name, grants, MemoryLimiter::new(memory_limit))
        }),
    )
    .await
}

/// Lets the plugin release `resource` (its collector or sender) within
/// `timeout`, then drops the store; `false` when the plugin did not return
/// in time and the store was discarded.
pub(crate) async fn release(
    mut store: Store<InstanceState>,
    resource: ResourceAny,
    timeout: Duration,
) -> bool {
    within(
        Instant::now() + timeout,
        resource.resource_drop_async(&mut store),
    )
    .await
    .is_ok()
}

/// A live store with an opened collector resource.
struct Live {
    store: Store<InstanceState>,
    bindings: crate::bindings::Exporter,
    collector: ResourceAny,
}

/// Describes a wasmtime error, telling traps, timeouts, memory and oversized
/// copies apart.
pub(crate) fn classify(
    error: &wasmtime::Error,
    timeout: Duration,
    copy_budget: usize,
) -> CollectError {
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
    if text.contains(HOSTCALL_FUEL_MARKER) {
        CollectError::TooMuchData(copy_budget)
    } else if text.contains(MEMORY_LIMIT_MARKER) {
        CollectError::Memory(text)
    } else if let Some(hint) = crate::sandbox::resource_cap_hint(&text) {
        CollectError::Trap(format!("{hint}: {text}"))
    } else {
        CollectError::Trap(text)
    }
}

/// Runs one guest call under `deadline`. `Err(())` means the deadline
/// passed: the call's future (and the fiber under it) has been dropped, and
/// the store it used must not be called again.
pub(crate) async fn within<T>(deadline: Instant, call: impl Future<Output = T>) -> Result<T, ()> {
    tokio::time::timeout_at(deadline, call)
        .await
        .map_err(|_| ())
}

async fn open(spec: &InstanceSpec, deadline: Instant) -> Result<Live, CollectError> {
    let state = sandbox_state(
        &spec.plugin,
        &spec.name,
        &spec.grants,
        spec.memory_limit,
        deadline,
    )
    .await
    .map_err(|()| {
        CollectError::Open(format!(
            "setting up the sandbox (opening granted paths, resolving granted addresses) \
             took longer than the deadline of {:?}",
            spec.timeout
        ))
    })?
    .map_err(|e| CollectError::Open(format!("setting up the sandbox failed: {e}")))?
    .map_err(CollectError::Open)?;
    let mut store = new_store(spec.pre.engine(), state, spec.copy_budget);
    let opened = within(deadline, async {
        let bindings = spec.pre.instantiate_async(&mut store).await?;
        let collector = bindings
            .wasmetheus_plugin_metrics()
            .collector()
            .call_open(&mut store, &spec.config_json)
            .await?;
        wasmtime::Result::Ok((bindings, collector))
    })
    .await;
    match opened {
        Err(()) => Err(CollectError::Open(format!(
            "open() did not return within its deadline of {:?} and was interrupted",
            spec.timeout
        ))),
        Ok(Err(e)) => Err(match classify(&e, spec.timeout, spec.copy_budget) {
            CollectError::Trap(t) => CollectError::Open(format!("plugin trapped: {t}")),
            other => other,
        }),
        Ok(Ok((_, Err(e)))) => Err(CollectError::Open(convert::error_text(&e))),
        Ok(Ok((bindings, Ok(collector)))) => Ok(Live {
            store,
            bindings,
            collector,
        }),
    }
}

async fn collect_once(
    live: &mut Live,
    spec: &InstanceSpec,
    deadline: Instant,
) -> Result<Vec<MetricFamily>, CollectError> {
    let Live {
        store,
        bindings,
        collector,
    } = live;
    store.data_mut().logged_error = None;
    let called = within(
        deadline,
        bindings
            .wasmetheus_plugin_metrics()
            .collector()
            .call_collect(&mut *store, *collector),
    )
    .await
    .map_err(|()| CollectError::Timeout(spec.timeout))?;
    let families = called
        .map_err(|e| classify(&e, spec.timeout, spec.copy_budget))?
        .map_err(|e| CollectError::Plugin(convert::error_text(&e)))?;
    let families = convert::families(families);
    validate(&families, &spec.output_limits)
        .map_err(|e| CollectError::InvalidOutput(e.to_string()))?;
    Ok(families)
}

enum Command {
    Collect(oneshot::Sender<Result<Vec<MetricFamily>, CollectError>>),
}

/// Handle to an instance task. [`InstanceHandle::stop`] or dropping the
/// last handle stops the task (after a call in progress ends, which the
/// deadline bounds); it then drops the collector under the same deadline
/// and frees the store.
pub struct InstanceHandle {
    commands: mpsc::Sender<Command>,
    busy: Arc<AtomicBool>,
    timeout: Duration,
    stop: watch::Sender<bool>,
    /// Closed once the task has dropped its store.
    ended: watch::Receiver<()>,
    /// The error of the last collect, or the last error it logged; `None`
    /// after a good one.
    last_error: Arc<parking_lot::Mutex<Option<String>>>,
    pub plugin: Arc<str>,
}

/// How long past its deadline a caller waits for an instance's answer
/// before giving up on it (the instance task enforces the deadline itself;
/// this covers a worker thread stuck in a blocking operation).
const REPLY_GRACE: Duration = Duration::from_secs(1);

impl InstanceHandle {
    /// Opens the instance and starts its task on the current runtime; fails
    /// when the plugin cannot be instantiated, its `open` rejects the
    /// configuration, or `open` does not return within the deadline.
    pub async fn start(spec: InstanceSpec) -> Result<InstanceHandle, CollectError> {
        let live = open(&spec, Instant::now() + spec.timeout).await?;
        let (commands, receiver) = mpsc::channel(1);
        let (stop, stopping) = watch::channel(false);
        let (ending, ended) = watch::channel(());
        let busy = Arc::new(AtomicBool::new(false));
        let last_error = Arc::default();
        let handle = InstanceHandle {
            commands,
            busy: Arc::clone(&busy),
            timeout: spec.timeout,
            stop,
            ended,
            last_error: Arc::clone(&last_error),
            plugin: Arc::clone(&spec.plugin),
        };
        let task = Task {
            spec,
            commands: receiver,
            stopping,
            busy,
            last_error,
            _ending: ending,
        };
        tokio::spawn(task.serve(Some(live)));
        Ok(handle)
    }

    /// Why the last collect failed, if it did.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().clone()
    }

    /// Tells the task to stop once the call in progress (if any) returns.
    pub fn request_stop(&self) {
        self.stop.send_replace(true);
    }

    /// Stops the task and waits until it has released the collector and
    /// dropped its store (freeing its pool slot), at most the deadline of
    /// the call in progress plus the dropping of the collector.
    pub async fn stop(&self) {
        self.request_stop();
        let mut ended = self.ended.clone();
        let _ = tokio::time::timeout(2 * self.timeout + REPLY_GRACE, async {
            while ended.changed().await.is_ok() {}
        })
        .await;
    }

    /// Collects once. Returns [`CollectError::Busy`] at once while the
    /// previous collect still runs.
    pub async fn collect(&self) -> Result<Vec<MetricFamily>, CollectError> {
        if self.busy.swap(true, Ordering::AcqRel) {
            return Err(CollectError::Busy);
        }
        let (reply, response) = oneshot::channel();
        if let Err(e) = self.commands.try_send(Command::Collect(reply)) {
            self.busy.store(false, Ordering::Release);
            return Err(match e {
                mpsc::error::TrySendError::Full(_) => CollectError::Busy,
                mpsc::error::TrySendError::Closed(_) => CollectError::Stopped,
            });
        }
        match tokio::time::timeout(self.timeout + REPLY_GRACE, response).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(CollectError::Stopped),
            Err(_) => Err(CollectError::Timeout(self.timeout)),
        }
    }
}

/// What an instance task owns besides its store.
struct Task {
    spec: InstanceSpec,
    commands: mpsc::Receiver<Command>,
    stopping: watch::Receiver<bool>,
    busy: Arc<AtomicBool>,
    last_error: Arc<parking_lot::Mutex<Option<String>>>,
    /// Dropped last, which tells [`InstanceHandle::stop`] the task ended.
    _ending: watch::Sender<()>,
}

impl Task {
    async fn serve(mut self, mut live: Option<Live>) {
        let spec = &self.spec;
        loop {
            let reply = tokio::select! {
                biased;
                // Asked to stop, or every handle is gone.
                _ = self.stopping.wait_for(|stop| *stop) => break,
                command = self.commands.recv() => match command {
                    Some(Command::Collect(reply)) => reply,
                    None => break,
                },
            };
            let started = Instant::now();
            // Reopening after a failure and collecting share one deadline.
            let deadline = started + spec.timeout;
            let result = match live.as_mut() {
                Some(l) => collect_once(l, spec, deadline).await,
                None => match open(spec, deadline).await {
                    Ok(l) => collect_once(live.insert(l), spec, deadline).await,
                    Err(e) => Err(e),
                },
            };
            let memory = live.as_ref().map_or(0, |l| l.store.data().limiter.used());
            spec.metrics.record_collect(
                &spec.name,
                started.elapsed(),
                memory,
                result.as_ref().err(),
            );
            if let Err(e) = &result {
                if e.poisons_store() {
                    // Dropping the store frees its instance slot.
                    live = None;
                }
                tracing::warn!(plugin = %spec.plugin, instance = %spec.name, error = %e, "collect failed");
            }
            // A good collect that logged an error (the exporter could not
            // reach what it observes and said so in its metrics) shows that
            // error; a failed one, its failure.
            let logged = live
                .as_mut()
                .and_then(|l| l.store.data_mut().logged_error.take());
            *self.last_error.lock() = match &result {
                Err(e) => Some(e.to_string()),
                Ok(_) => logged,
            };
            self.busy.store(false, Ordering::Release);
            let _ = reply.send(result);
        }
        if let Some(Live {
            store, collector, ..
        }) = live
            && !release(store, collector, spec.timeout).await
        {
            tracing::warn!(plugin = %spec.plugin, instance = %spec.name, "dropping the collector exceeded the deadline; the store was discarded");
        }
    }
}

/// The most a plugin's metadata may pass to the host.
const METADATA_COPY_BUDGET: usize = 4 << 20;

/// A guest call that failed, and what it was (`instantiating`, `metadata()`).
pub(crate) type Failed = (&'static str, wasmtime::Error);

/// Runs a plugin's `metadata` in a throwaway store on `engine`: `call`
/// instantiates the component and calls its `metadata`, the two together
/// bounded by `timeout`.
pub(crate) async fn metadata_in_throwaway_store<M>(
    engine: &Engine,
    timeout: Duration,
    call: impl for<'a> FnOnce(
        &'a mut Store<InstanceState>,
    ) -> Pin<Box<dyn Future<Output = Result<M, Failed>> + Send + 'a>>,
) -> Result<M, String> {
    let state = InstanceState::new(
        "loading".into(),
        "loading".into(),
        Arc::new(Grants::default()),
        MemoryLimiter::new(64 << 20),
    )?;
    let mut store = new_store(engine, state, METADATA_COPY_BUDGET);
    match within(Instant::now() + timeout, call(&mut store)).await {
        Err(()) => Err(format!(
            "metadata() did not return within its deadline of {timeout:?} and was interrupted"
        )),
        Ok(Err((what, e))) => Err(format!(
            "{what}: {}",
            classify(&e, timeout, METADATA_COPY_BUDGET)
        )),
        Ok(Ok(metadata)) => Ok(metadata),
    }
}

/// Runs `metadata` in a throwaway store to learn what a plugin is; the
/// instantiation and the call together are bounded by `timeout`.
pub async fn read_metadata(
    pre: &ExporterPre<InstanceState>,
    timeout: Duration,
) -> Result<convert::PluginMetadata, String> {
    let owned = pre.clone();
    let metadata = metadata_in_throwaway_store(pre.engine(), timeout, move |store| {
        Box::pin(async move {
            let bindings = owned
                .instantiate_async(&mut *store)
                .await
                .map_err(|e| ("instantiating", e))?;
            bindings
                .wasmetheus_plugin_metrics()
                .call_metadata(store)
                .await
                .map_err(|e| ("metadata()", e))
        })
    })
    .await?;
    Ok(convert::metadata(metadata))
}
