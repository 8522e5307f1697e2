//! What the pipeline sends through: the [`Integration`] trait receivers
//! implement (`notify.Integration`), the request it gets and the error it
//! returns, saying whether a retry may help.

use std::future::Future;
use std::pin::Pin;

use jiff::Timestamp;

use crate::alert::{Alert, Labels};

/// Why a notification failed, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NotifyError {
    pub retryable: bool,
    pub message: String,
}

/// One notification: the group's alerts (firing ones without an end),
/// as the integration gets them.
#[derive(Debug, Clone, Copy)]
pub struct NotifyRequest<'a> {
    pub receiver: &'a str,
    pub group_key: &'a str,
    pub group_labels: &'a Labels,
    pub alerts: &'a [Alert],
    /// The flush's time: an alert is resolved when its end is not after it.
    pub now: Timestamp,
}

/// A boxed future of a notification.
pub type NotifyFuture<'a> = Pin<Box<dyn Future<Output = Result<(), NotifyError>> + Send + 'a>>;

/// One integration of a receiver (`notify.Integration`): a webhook, an
/// email, a receiver plugin's sender.
pub trait Integration: Send + Sync {
    /// The integration's kind (`webhook`, `email`, …).
    fn name(&self) -> &str;
    /// Its index among the receiver's integrations.
    fn index(&self) -> u32;
    /// Whether resolved alerts are sent.
    fn send_resolved(&self) -> bool;
    /// Delivers one notification.
    fn notify<'a>(&'a self, req: &'a NotifyRequest<'a>) -> NotifyFuture<'a>;
}
