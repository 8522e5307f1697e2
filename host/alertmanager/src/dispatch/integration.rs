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

/// `notification_latency_seconds`' buckets.
pub const LATENCY_BUCKETS: [f64; 5] = [1.0, 5.0, 10.0, 15.0, 20.0];

/// One integration kind's counters (`notify.Metrics`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntegrationCounters {
    /// `alertmanager_notifications_total`.
    pub notifications: u64,
    /// `alertmanager_notifications_failed_total`.
    pub notifications_failed: u64,
    /// `alertmanager_notification_requests_total`.
    pub requests: u64,
    /// `alertmanager_notification_requests_failed_total`.
    pub requests_failed: u64,
    /// `alertmanager_notification_latency_seconds`: cumulative counts per
    /// bucket of [`LATENCY_BUCKETS`], sum and count.
    pub latency_buckets: [u64; 5],
    pub latency_sum: f64,
    pub latency_count: u64,
}

/// The pipeline's notification metrics, by integration kind.
#[derive(Debug, Default)]
pub struct NotifyMetrics {
    by_integration: parking_lot::Mutex<std::collections::BTreeMap<String, IntegrationCounters>>,
}

impl NotifyMetrics {
    /// The counters now, by integration kind.
    pub fn snapshot(&self) -> std::collections::BTreeMap<String, IntegrationCounters> {
        self.by_integration.lock().clone()
    }

    pub(crate) fn update(&self, integration: &str, f: impl FnOnce(&mut IntegrationCounters)) {
        let mut map = self.by_integration.lock();
        if let Some(c) = map.get_mut(integration) {
            f(c);
        } else {
            let mut c = IntegrationCounters::default();
            f(&mut c);
            map.insert(integration.to_owned(), c);
        }
    }

    /// One request and how long it took.
    pub(crate) fn request(&self, integration: &str, seconds: f64, failed: bool) {
        self.update(integration, |c| {
            c.requests += 1;
            if failed {
                c.requests_failed += 1;
            }
            for (bound, n) in LATENCY_BUCKETS.iter().zip(c.latency_buckets.iter_mut()) {
                if seconds <= *bound {
                    *n += 1;
                }
            }
            c.latency_sum += seconds;
            c.latency_count += 1;
        });
    }
}
