//! One opened receiver: a task that owns the sender's store and delivers
//! notifications one at a time, each under a wall-clock deadline.
//!
//! As for exporter instances (`instance.rs`), every guest call runs on a
//! fiber inside the deadline, host calls (HTTP, sleeps, polls) included; a
//! call past it is abandoned and its store dropped, as is the store of a
//! call that trapped, ran out of memory or passed too much to the host.
//! The next notification opens a fresh store, so a sender that crashed once
//! recovers on its own, and other senders never notice.

use super::SendError;
use super::notification::{Notification, to_wit};
use crate::bindings::receiver::{Receiver, ReceiverPre};
use crate::bindings::types as w;
use crate::error::CollectError;
use crate::instance::{
    classify, metadata_in_throwaway_store, new_store, release, sandbox_state, within,
};
use crate::sandbox::InstanceState;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use wasmetheus_config::Grants;
use wasmtime::Store;
use wasmtime::component::ResourceAny;

/// Everything needed to (re)open a sender.
pub(crate) struct Spec {
    pub plugin: Arc<str>,
    pub name: Arc<str>,
    pub pre: ReceiverPre<InstanceState>,
    pub grants: Arc<Grants>,
    pub config_json: String,
    pub memory_limit: usize,
    /// Bytes one call may pass between host and guest, each way.
    pub copy_budget: usize,
    pub timeout: Duration,
}

/// The longest error text kept from a receiver; longer ones are cut.
pub(crate) const MAX_ERROR_TEXT: usize = 4096;

/// `text` cut at [`MAX_ERROR_TEXT`] bytes, on a character boundary.
pub(crate) fn cut(mut text: String) -> String {
    if text.len() > MAX_ERROR_TEXT {
        let mut end = MAX_ERROR_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let dropped = text.len() - end;
        text.truncate(end);
        text.push_str(&format!("… ({dropped} more bytes)"));
    }
    text
}

/// A live store with an opened sender resource.
struct Live {
    store: Store<InstanceState>,
    bindings: Receiver,
    sender: ResourceAny,
}

/// What wasmtime's pooling allocator says when every slot is taken.
const POOL_FULL: &str = "maximum concurrent limit of";

/// A failed guest call as the caller sees it, and whether the store must go.
fn failure(error: &wasmtime::Error, spec: &Spec, what: &str) -> (SendError, bool) {
    let text = error
        .chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ");
    // Every instance slot of the pool taken: a later call may find one.
    if text.contains(POOL_FULL) {
        return (
            SendError {
                retryable: true,
                message: cut(format!(
                    "no free plugin instance slot for {what}: {text} (exporter instances and \
                     receivers share the runtime's limit)"
                )),
            },
            true,
        );
    }
    let error = match classify(error, spec.timeout, spec.copy_budget) {
        // Every `classify` result but these is one it never returns.
        CollectError::Timeout(t) => SendError {
            retryable: true,
            message: format!("{what} exceeded its deadline of {t:?} and was interrupted"),
        },
        CollectError::Memory(m) => SendError {
            retryable: false,
            message: format!("receiver plugin exceeded its memory limit in {what}: {m}"),
        },
        CollectError::TooMuchData(budget) => SendError {
            retryable: false,
            message: format!(
                "receiver plugin passed more than {budget} bytes to the host in {what} (its \
                 budget, a multiple of its memory limit); raise the receiver's memory limit"
            ),
        },
        other => SendError {
            retryable: false,
            message: format!("receiver plugin failed in {what}: {other}"),
        },
    };
    (
        SendError {
            message: cut(error.message),
            ..error
        },
        true,
    )
}

/// Opens a store and the sender in it under `deadline`.
async fn open(spec: &Spec, deadline: Instant) -> Result<Live, SendError> {
    let not_open = |message: String| SendError {
        retryable: false,
        message: cut(message),
    };
    // Resolving `tcp_connect` grants and opening preopens block.
    let state = sandbox_state(
        &spec.plugin,
        &spec.name,
        &spec.grants,
        spec.memory_limit,
        deadline,
    )
    .await
    .map_err(|()| SendError {
        retryable: true,
        message: format!(
            "setting up the receiver's sandbox took longer than its deadline of {:?}",
            spec.timeout
        ),
    })?
    .map_err(|e| not_open(format!("setting up the receiver's sandbox failed: {e}")))?
    .map_err(|e| not_open(format!("setting up the receiver's sandbox failed: {e}")))?;
    let mut store = new_store(spec.pre.engine(), state, spec.copy_budget);
    let opened = within(deadline, async {
        let bindings = spec.pre.instantiate_async(&mut store).await?;
        let sender = bindings
            .wasmetheus_plugin_alerts()
            .sender()
            .call_open(&mut store, &spec.config_json)
            .await?;
        wasmtime::Result::Ok((bindings, sender))
    })
    .await;
    match opened {
        Err(()) => Err(SendError {
            retryable: true,
            message: format!(
                "open() did not return within its deadline of {:?} and was interrupted",
                spec.timeout
            ),
        }),
        Ok(Err(e)) => Err(failure(&e, spec, "open()").0),
        Ok(Ok((_, Err(e)))) => Err(not_open(format!(
            "opening the receiver failed: {}",
            crate::convert::error_text(&e)
        ))),
        Ok(Ok((bindings, Ok(sender)))) => Ok(Live {
            store,
            bindings,
            sender,
        }),
    }
}

/// One `notify` call; `Err((error, true))` when the store must be dropped.
async fn notify_once(
    live: &mut Live,
    spec: &Spec,
    deadline: Instant,
    notification: &w::Notification,
) -> Result<(), (SendError, bool)> {
    let Live {
        store,
        bindings,
        sender,
    } = live;
    let called = within(
        deadline,
        bindings.wasmetheus_plugin_alerts().sender().call_notify(
            &mut *store,
            *sender,
            notification,
        ),
    )
    .await
    .map_err(|()| {
        (
            SendError {
                retryable: true,
                message: format!(
                    "notify() exceeded its deadline of {:?} and was interrupted",
                    spec.timeout
                ),
            },
            true,
        )
    })?;
    match called {
        Err(e) => Err(failure(&e, spec, "notify()")),
        Ok(Err(e)) => Err((
            SendError {
                retryable: e.retryable,
                message: cut(e.message),
            },
            false,
        )),
        Ok(Ok(())) => Ok(()),
    }
}

pub(crate) type Reply = oneshot::Sender<Result<(), SendError>>;

/// Notifications waiting for a sender beyond the one in progress; one more
/// is refused at once (retryable) rather than queued without bound.
pub(crate) const QUEUE: usize = 16;

/// A running sender's task.
struct Task {
    spec: Spec,
    commands: mpsc::Receiver<(Notification, Reply)>,
    stopping: watch::Receiver<bool>,
    /// Dropped last, which tells the handle the task ended.
    ending: watch::Sender<()>,
}

/// The handle's ends of a started sender task.
pub(crate) struct Started {
    pub commands: mpsc::Sender<(Notification, Reply)>,
    pub stop: watch::Sender<bool>,
    pub ended: watch::Receiver<()>,
}

/// Opens the sender (a bad configuration is reported to whoever opens it,
/// not to the first notification) and starts its task on the current
/// runtime.
pub(crate) async fn start(spec: Spec) -> Result<Started, SendError> {
    let live = open(&spec, Instant::now() + spec.timeout).await?;
    let (commands, receiver) = mpsc::channel(QUEUE);
    let (stop, stopping) = watch::channel(false);
    let (ending, ended) = watch::channel(());
    let task = Task {
        spec,
        commands: receiver,
        stopping,
        ending,
    };
    tokio::spawn(task.serve(Some(live)));
    Ok(Started {
        commands,
        stop,
        ended,
    })
}

impl Task {
    async fn serve(mut self, mut live: Option<Live>) {
        let spec = &self.spec;
        loop {
            let (notification, reply) = tokio::select! {
                biased;
                _ = self.stopping.wait_for(|stop| *stop) => break,
                command = self.commands.recv() => match command {
                    Some(command) => command,
                    None => break,
                },
            };
            // A caller that gave up waiting gets nothing sent on its behalf.
            if reply.is_closed() {
                continue;
            }
            // Reopening after a failure and notifying share one deadline.
            let deadline = Instant::now() + spec.timeout;
            let result = async {
                let size = notification.size();
                if size > spec.copy_budget {
                    return Err(SendError {
                        retryable: false,
                        message: format!(
                            "the notification is about {size} bytes, more than the receiver's \
                             limit of {} bytes (a multiple of its memory limit); lower \
                             max_alerts or raise the receiver's memory limit",
                            spec.copy_budget
                        ),
                    });
                }
                let l = match live.as_mut() {
                    Some(l) => l,
                    None => live.insert(open(spec, deadline).await?),
                };
                notify_once(l, spec, deadline, &to_wit(&notification))
                    .await
                    .map_err(|(e, poisoned)| {
                        if poisoned {
                            // Dropping the store frees its instance slot.
                            live = None;
                        }
                        e
                    })
            }
            .await;
            if let Err(e) = &result {
                tracing::warn!(plugin = %spec.plugin, receiver = %spec.name, retryable = e.retryable, error = %e.message, "notify failed");
            }
            let _ = reply.send(result);
        }
        if let Some(live) = live {
            release_sender(live, spec).await;
        }
        drop(self.ending);
    }
}

/// Lets the plugin release the sender, within the deadline, then drops the
/// store.
async fn release_sender(live: Live, spec: &Spec) {
    let Live { store, sender, .. } = live;
    if !release(store, sender, spec.timeout).await {
        tracing::warn!(plugin = %spec.plugin, receiver = %spec.name, "dropping the sender exceeded the deadline; the store was discarded");
    }
}

/// Runs `metadata` in a throwaway store, bounded by `timeout`.
pub(crate) async fn read_metadata(
    pre: &ReceiverPre<InstanceState>,
    timeout: Duration,
) -> Result<crate::convert::PluginMetadata, String> {
    let owned = pre.clone();
    let metadata = metadata_in_throwaway_store(pre.engine(), timeout, move |store| {
        Box::pin(async move {
            let bindings = owned
                .instantiate_async(&mut *store)
                .await
                .map_err(|e| ("instantiating", e))?;
            bindings
                .wasmetheus_plugin_alerts()
                .call_metadata(store)
                .await
                .map_err(|e| ("metadata()", e))
        })
    })
    .await?;
    Ok(crate::convert::metadata(metadata))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_error_texts_are_cut_on_a_character_boundary() {
        assert_eq!(cut("short".into()), "short");
        let long = "é".repeat(MAX_ERROR_TEXT);
        let got = cut(long.clone());
        assert!(got.len() < MAX_ERROR_TEXT + 40, "{}", got.len());
        assert!(got.starts_with(&long[..MAX_ERROR_TEXT]));
        assert!(got.ends_with(&format!("({} more bytes)", long.len() - MAX_ERROR_TEXT)));
    }
}
