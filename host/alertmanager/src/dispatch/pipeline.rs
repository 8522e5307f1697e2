//! What a flushed aggregation group sends (`notify/notify.go`): the
//! receiver's stages — inhibition, the route's active and mute time
//! intervals, silences — then for each integration of the receiver
//! `DedupStage` (the notification log decides whether anything changed
//! or the repeat interval passed), `RetryStage` and `SetNotifiesStage`
//! (the log updated after a success). How a notification is delivered is
//! the [`Integration`]'s business.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::time::Instant;
use wasmetheus_alertmanager_config::NamedTimeInterval;

use super::integration::{Integration, NotifyError, NotifyMetrics, NotifyRequest};
use super::retry::{Backoff, notify_with_retry};
use crate::alert::{Alert, Labels};
use crate::inhibit::Inhibitor;
use crate::marker::{Marker, Silencer};
use crate::nflog::{NflogEntry, NflogError, NflogReceiver, NotificationLog};

/// What the flush of one aggregation group carries into the pipeline.
#[derive(Debug, Clone)]
pub struct FlushContext {
    pub receiver: String,
    pub group_key: String,
    pub group_labels: Labels,
    pub repeat_interval: Duration,
    pub mute_time_intervals: Vec<String>,
    pub active_time_intervals: Vec<String>,
    pub now: Timestamp,
    /// When the flush gives up (retries included).
    pub deadline: Instant,
}

/// What happened to one integration in a flush (for tests and logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntegrationOutcome {
    /// Nothing changed since the last notification.
    Deduplicated,
    /// Only resolved alerts, not sent (`send_resolved: false`); logged.
    NothingToSend,
    Sent {
        attempts: u32,
    },
    Failed {
        attempts: u32,
        error: NotifyError,
    },
}

/// What a flush did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlushOutcome {
    /// Every alert muted (inhibited, silenced, outside the active or
    /// inside a mute time interval): nothing sent or logged.
    Muted,
    Integrations(Vec<(String, IntegrationOutcome)>),
}

impl FlushOutcome {
    /// Whether the flush succeeded (its resolved alerts may be dropped).
    pub fn succeeded(&self) -> bool {
        match self {
            FlushOutcome::Muted => true,
            FlushOutcome::Integrations(list) => list
                .iter()
                .all(|(_, o)| !matches!(o, IntegrationOutcome::Failed { .. })),
        }
    }
}

/// The notification pipeline of every receiver.
pub struct Pipeline {
    receivers: HashMap<String, Vec<Arc<dyn Integration>>>,
    inhibitor: Option<Arc<Inhibitor>>,
    silencer: Option<Silencer>,
    marker: Arc<Marker>,
    time_intervals: HashMap<String, NamedTimeInterval>,
    nflog: Arc<NotificationLog>,
    backoff: Backoff,
    metrics: Arc<NotifyMetrics>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("receivers", &self.receivers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// `hashAlert`: an alert's identity in the notification log (here its
/// label set's fingerprint).
pub fn hash_alert(a: &Alert) -> u64 {
    a.fingerprint().0
}

/// `DedupStage.needsUpdate`: whether a notification is due, given the
/// last log entry, the hashes of the firing and resolved alerts now, and
/// the repeat interval.
pub fn needs_update(
    entry: Option<&NflogEntry>,
    firing: &[u64],
    resolved: &[u64],
    send_resolved: bool,
    repeat: Duration,
    now: Timestamp,
) -> bool {
    let Some(entry) = entry else {
        return !firing.is_empty();
    };
    if !entry.is_firing_subset(firing) {
        return true;
    }
    // All resolved: notified regardless of send_resolved so the log's
    // firing set is cleared; not when the receiver never saw them firing.
    if firing.is_empty() {
        return !entry.firing_alerts.is_empty();
    }
    if send_resolved && !entry.is_resolved_subset(resolved) {
        return true;
    }
    let repeat = SignedDuration::try_from(repeat).unwrap_or(SignedDuration::MAX);
    match now.checked_sub(repeat) {
        Ok(limit) => entry.timestamp < limit,
        Err(_) => false,
    }
}

impl Pipeline {
    pub fn new(nflog: Arc<NotificationLog>, marker: Arc<Marker>) -> Pipeline {
        Pipeline {
            receivers: HashMap::new(),
            inhibitor: None,
            silencer: None,
            marker,
            time_intervals: HashMap::new(),
            nflog,
            backoff: Backoff::default(),
            metrics: Arc::new(NotifyMetrics::default()),
        }
    }

    /// Adds (or replaces) a receiver's integrations.
    pub fn with_receiver(mut self, name: &str, integrations: Vec<Arc<dyn Integration>>) -> Self {
        self.receivers.insert(name.to_owned(), integrations);
        self
    }

    pub fn with_inhibitor(mut self, inhibitor: Arc<Inhibitor>) -> Self {
        self.inhibitor = Some(inhibitor);
        self
    }

    pub fn with_silencer(mut self, silencer: Silencer) -> Self {
        self.silencer = Some(silencer);
        self
    }

    /// The configuration's `time_intervals` and `mute_time_intervals`.
    pub fn with_time_intervals(mut self, intervals: Vec<NamedTimeInterval>) -> Self {
        for i in intervals {
            self.time_intervals.insert(i.name.clone(), i);
        }
        self
    }

    /// The notification metrics (`alertmanager_notifications_total`, …).
    pub fn metrics(&self) -> Arc<NotifyMetrics> {
        Arc::clone(&self.metrics)
    }

    /// Counts into `metrics` (kept by the caller across pipelines, as
    /// upstream registers its notification metrics once).
    pub fn with_metrics(mut self, metrics: Arc<NotifyMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// `TimeMuteStage`: inside any of the route's mute intervals.
    fn time_muted(&self, names: &[String], now: Timestamp) -> bool {
        names
            .iter()
            .filter_map(|n| self.time_intervals.get(n))
            .any(|i| i.contains(now))
    }

    /// `TimeActiveStage`: the route has active intervals and none holds.
    fn time_inactive(&self, names: &[String], now: Timestamp) -> bool {
        !names.is_empty()
            && !names
                .iter()
                .filter_map(|n| self.time_intervals.get(n))
                .any(|i| i.contains(now))
    }

    /// Runs the receiver's stages over a flushed group's alerts.
    pub async fn exec(&self, ctx: &FlushContext, alerts: Vec<Alert>) -> FlushOutcome {
        let now = ctx.now;
        let mut alerts = alerts;
        if let Some(inhibitor) = &self.inhibitor {
            alerts.retain(|a| !inhibitor.mutes_marking(&a.labels, &self.marker, now));
        }
        if alerts.is_empty()
            || self.time_inactive(&ctx.active_time_intervals, now)
            || self.time_muted(&ctx.mute_time_intervals, now)
        {
            return FlushOutcome::Muted;
        }
        if let Some(silencer) = &self.silencer {
            alerts.retain(|a| !silencer.mutes(&a.labels));
        }
        if alerts.is_empty() {
            return FlushOutcome::Muted;
        }
        let Some(integrations) = self.receivers.get(&ctx.receiver) else {
            return FlushOutcome::Integrations(Vec::new());
        };
        let mut firing = Vec::new();
        let mut resolved = Vec::new();
        for a in &alerts {
            if a.resolved_at(now) {
                resolved.push(hash_alert(a));
            } else {
                firing.push(hash_alert(a));
            }
        }
        let seed = crate::fingerprint::fingerprint(&ctx.group_labels).0;
        let runs = integrations
            .iter()
            .map(|i| self.integration(ctx, i.as_ref(), &alerts, &firing, &resolved, seed));
        let outcomes = join_all(runs).await;
        FlushOutcome::Integrations(
            integrations
                .iter()
                .map(|i| format!("{}/{}/{}", ctx.receiver, i.name(), i.index()))
                .zip(outcomes)
                .collect(),
        )
    }

    async fn integration(
        &self,
        ctx: &FlushContext,
        integration: &dyn Integration,
        alerts: &[Alert],
        firing: &[u64],
        resolved: &[u64],
        seed: u64,
    ) -> IntegrationOutcome {
        let r = NflogReceiver {
            group_name: ctx.receiver.clone(),
            integration: integration.name().to_owned(),
            idx: integration.index(),
        };
        let entry = match self.nflog.query(&r, &ctx.group_key) {
            Ok(e) => Some(e),
            Err(NflogError::NotFound) => None,
            Err(e) => {
                return IntegrationOutcome::Failed {
                    attempts: 0,
                    error: NotifyError {
                        retryable: false,
                        message: e.to_string(),
                    },
                };
            }
        };
        if !needs_update(
            entry.as_ref(),
            firing,
            resolved,
            integration.send_resolved(),
            ctx.repeat_interval,
            ctx.now,
        ) {
            return IntegrationOutcome::Deduplicated;
        }
        let sent: Vec<Alert> = if integration.send_resolved() {
            alerts.to_vec()
        } else {
            alerts
                .iter()
                .filter(|a| !a.resolved_at(ctx.now))
                .cloned()
                .collect()
        };
        let outcome = if sent.is_empty() {
            IntegrationOutcome::NothingToSend
        } else {
            let req = NotifyRequest {
                receiver: &ctx.receiver,
                group_key: &ctx.group_key,
                group_labels: &ctx.group_labels,
                alerts: &sent,
                now: ctx.now,
            };
            // Counted when attempted, as upstream's RetryStage.
            self.metrics
                .update(integration.name(), |c| c.notifications += 1);
            let out = notify_with_retry(
                integration,
                &req,
                &self.backoff,
                ctx.deadline,
                seed ^ u64::from(integration.index()),
                &self.metrics,
            )
            .await;
            if out.result.is_err() {
                self.metrics
                    .update(integration.name(), |c| c.notifications_failed += 1);
            }
            match out.result {
                Ok(()) => IntegrationOutcome::Sent {
                    attempts: out.attempts,
                },
                Err(error) => {
                    tracing::warn!(
                        receiver = %ctx.receiver,
                        integration = integration.name(),
                        attempts = out.attempts,
                        %error,
                        "notify failed"
                    );
                    return IntegrationOutcome::Failed {
                        attempts: out.attempts,
                        error,
                    };
                }
            }
        };
        // SetNotifiesStage: entries expire after twice the repeat interval.
        let expiry = SignedDuration::try_from(ctx.repeat_interval.saturating_mul(2))
            .unwrap_or(SignedDuration::MAX);
        if let Err(e) = self.nflog.log(
            &r,
            &ctx.group_key,
            firing.to_vec(),
            resolved.to_vec(),
            expiry,
        ) {
            tracing::warn!(error = %e, "notification log update failed");
        }
        outcome
    }
}

/// Polls the futures together (a fan-out without a task per integration).
async fn join_all<F: Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set: Vec<Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(move |cx| {
        let mut pending = false;
        for (f, slot) in set.iter_mut().zip(done.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(done.iter_mut().filter_map(Option::take).collect())
        }
    })
    .await
}
