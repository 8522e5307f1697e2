//! Receiver plugins: components of the `receiver` world that deliver alert
//! notifications (webhook, chat, mail), run in the same sandbox and under
//! the same limits as exporters.
//!
//! [`ReceiverRuntime`] shares a [`PluginRuntime`]'s engine (its pool of
//! instance slots), linker, compile cache and executor. It loads a plugin
//! file into a [`ReceiverPlugin`]; each configured receiver is a [`Sender`]
//! opened from that plugin with its JSON configuration and grants, whose
//! [`Sender::notify`] delivers one [`Notification`] under a deadline and
//! reports failures as a [`SendError`] saying whether a retry may help.
//!
//! Split by job: this file the public API and loading; `task` a sender's
//! task (deadlines, recreating a failed store); `notification` the host's
//! notification and its WIT form; `grants` a receiver's network reach.

mod grants;
mod notification;
mod task;

pub use grants::{OriginError, origin_of_url, receiver_grants};
pub use notification::{Alert, Notification};

use crate::bindings::receiver::ReceiverPre;
use crate::convert::PluginMetadata;
use crate::error::LoadError;
use crate::runtime::{PluginRuntime, plugin_name_of};
use crate::sandbox::InstanceState;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use wasmetheus_config::Grants;

/// Why a notification was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// Whether sending the same notification again may succeed (a timeout,
    /// a 5xx answer) or not (a rejected payload, a plugin bug).
    pub retryable: bool,
    pub message: String,
}

/// Loads receiver plugins on a [`PluginRuntime`]; cheap to clone.
#[derive(Clone)]
pub struct ReceiverRuntime {
    runtime: PluginRuntime,
}

/// A loaded receiver plugin: compiled, linked, its metadata read.
#[derive(Clone)]
pub struct ReceiverPlugin {
    name: Arc<str>,
    path: PathBuf,
    pre: ReceiverPre<InstanceState>,
    metadata: Arc<PluginMetadata>,
    runtime: PluginRuntime,
}

/// How to open one receiver.
#[derive(Debug, Clone)]
pub struct SenderSpec {
    /// The receiver's name (in logs and the plugin's `instance-name`).
    pub name: String,
    /// The plugin's configuration, a JSON object.
    pub config_json: String,
    /// What the sandbox allows: see [`receiver_grants`].
    pub grants: Grants,
    /// Memory limit; `None` takes the runtime's default.
    pub memory_limit: Option<usize>,
    /// Deadline of each call (`open`, `notify`), host calls included.
    pub timeout: Duration,
}

impl ReceiverRuntime {
    pub fn new(runtime: &PluginRuntime) -> Self {
        ReceiverRuntime {
            runtime: runtime.clone(),
        }
    }

    /// Reads, compiles (or takes from the compile cache) and links the
    /// receiver plugin at `path`, then reads its metadata. Blocks: call it
    /// off the async executor. The plugin's name is the file's stem.
    pub fn load(&self, path: &Path) -> Result<ReceiverPlugin, LoadError> {
        let started = std::time::Instant::now();
        let not_receiver = |message: String| LoadError::ReceiverCompile {
            path: path.to_owned(),
            message,
        };
        let name = plugin_name_of(path)
            .ok_or_else(|| not_receiver("a plugin file is named `<name>.wasm`".into()))?;
        let bytes = self.runtime.read_plugin(path)?;
        // Keyed apart from an exporter of the same name compiling at once.
        let (component, _) = self
            .runtime
            .compile(&format!("receiver:{name}"), path, bytes, started)
            .map_err(|e| match e {
                LoadError::Compile { message, .. } => not_receiver(message),
                other => other,
            })?;
        let (linker, options) = self.runtime.linker_and_options();
        let chain = |e: wasmtime::Error| {
            e.chain()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(": ")
        };
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| not_receiver(chain(e)))?;
        let pre = ReceiverPre::new(pre).map_err(|e| not_receiver(chain(e)))?;
        let timeout = options.metadata_timeout;
        let metadata = {
            let pre = pre.clone();
            self.runtime
                .run(async move { task::read_metadata(&pre, timeout).await })
                .unwrap_or_else(|| Err("the plugin executor is shutting down".into()))
        }
        .map_err(|message| LoadError::Metadata {
            path: path.to_owned(),
            message,
        })?;
        Ok(ReceiverPlugin {
            name: name.into(),
            path: path.to_owned(),
            pre,
            metadata: Arc::new(metadata),
            runtime: self.runtime.clone(),
        })
    }
}

impl ReceiverPlugin {
    /// The plugin's name (its file's stem).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the plugin says about itself.
    pub fn metadata(&self) -> &PluginMetadata {
        &self.metadata
    }

    /// Opens one receiver: instantiates the plugin in a sandbox built from
    /// `spec.grants` and calls `open` with its configuration, within
    /// `spec.timeout`. A rejected configuration is not retryable.
    pub async fn open(&self, spec: SenderSpec) -> Result<Sender, SendError> {
        let (_, options) = self.runtime.linker_and_options();
        let memory_limit = spec
            .memory_limit
            .unwrap_or(options.default_memory_limit)
            .min(crate::engine::MAX_MEMORY_BYTES);
        let name: Arc<str> = spec.name.into();
        let task_spec = task::Spec {
            plugin: Arc::clone(&self.name),
            name: Arc::clone(&name),
            pre: self.pre.clone(),
            grants: Arc::new(spec.grants),
            config_json: spec.config_json,
            memory_limit,
            copy_budget: memory_limit.saturating_mul(options.copy_factor.max(1)),
            timeout: spec.timeout,
        };
        let shutting_down = || SendError {
            retryable: true,
            message: "the plugin executor is shutting down".into(),
        };
        let executor = self.runtime.executor().ok_or_else(shutting_down)?;
        let started = executor
            .spawn(task::start(task_spec))
            .await
            .map_err(|_| shutting_down())??;
        Ok(Sender {
            plugin: Arc::clone(&self.name),
            name,
            timeout: spec.timeout,
            commands: started.commands,
            stop: started.stop,
            ended: started.ended,
            _runtime: self.runtime.clone(),
        })
    }
}

/// How long past the deadlines of the calls ahead of it a caller waits
/// for an answer before giving up (the task enforces each deadline; this
/// covers a worker thread stuck in a blocking operation).
const REPLY_GRACE: Duration = Duration::from_secs(1);

/// One opened receiver. Dropping it (or [`Sender::stop`]) ends its task
/// once the call in progress returns; the plugin then releases its sender.
pub struct Sender {
    plugin: Arc<str>,
    name: Arc<str>,
    timeout: Duration,
    commands: mpsc::Sender<(Notification, task::Reply)>,
    stop: watch::Sender<bool>,
    ended: watch::Receiver<()>,
    /// Keeps the executor the task runs on alive.
    _runtime: PluginRuntime,
}

impl Sender {
    /// The receiver's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plugin it runs.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// Delivers `notification`. Calls of one sender run one at a time, in
    /// order; while [`task::QUEUE`] more wait, another is refused at once
    /// (retryable). A call that traps, runs out of memory or past its
    /// deadline discards the plugin's instance: the next one starts afresh.
    ///
    /// Whether an error is retryable: the plugin's own `send-error` says
    /// so itself; a deadline passed, every instance slot taken, a full
    /// queue or a stopped sender are retryable; a trap, the memory limit,
    /// more data than the copy budget, a notification over the input limit
    /// and a configuration the plugin rejects are not (the same
    /// notification would fail the same way). Texts are cut at 4 KiB.
    pub async fn notify(&self, notification: Notification) -> Result<(), SendError> {
        let stopped = || SendError {
            retryable: true,
            message: format!("receiver {:?} was stopped", self.name),
        };
        let (reply, answer) = oneshot::channel();
        self.commands
            .try_send((notification, reply))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => SendError {
                    retryable: true,
                    message: format!(
                        "receiver {:?} has {} notifications waiting already",
                        self.name,
                        task::QUEUE
                    ),
                },
                mpsc::error::TrySendError::Closed(_) => stopped(),
            })?;
        // Each call ahead of this one, and this one, may take a reopen and
        // a notify under one deadline.
        let wait = self.timeout * (task::QUEUE as u32 + 1) + REPLY_GRACE;
        match tokio::time::timeout(wait, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(stopped()),
            Err(_) => Err(SendError {
                retryable: true,
                message: format!("receiver {:?} did not answer within {wait:?}", self.name),
            }),
        }
    }

    /// Stops the task and waits until it has released the sender and
    /// dropped its store, at most the deadline of the call in progress
    /// plus that of the release.
    pub async fn stop(&self) {
        self.stop.send_replace(true);
        let mut ended = self.ended.clone();
        let _ = tokio::time::timeout(2 * self.timeout + REPLY_GRACE, async {
            while ended.changed().await.is_ok() {}
        })
        .await;
    }
}
