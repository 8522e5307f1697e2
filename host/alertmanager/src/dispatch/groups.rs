//! Aggregation groups (`dispatch/dispatch.go`'s `aggrGroup`): the alerts
//! of one route with the same values of the route's `group_by` labels,
//! flushed first after `group_wait` (at once when the first alert is
//! older than that) and then every `group_interval`; resolved alerts
//! leave the group after a successful flush, and an empty group ends.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;
use wasmetheus_alertmanager_config::RouteOpts;

use super::pipeline::{FlushContext, FlushOutcome, Pipeline};
use crate::alert::{Alert, Labels, sort_alerts};
use crate::fingerprint::Fingerprint;
use crate::persist::Clock;

/// Called after each flush of a group (metrics, tests).
pub type FlushHook = Arc<dyn Fn(&AggrGroup, &FlushOutcome) + Send + Sync>;

/// `notify.MinTimeout`: the shortest a flush may take, retries included.
pub const MIN_FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// `getGroupLabels`: the alert's labels named by the route's `group_by`
/// (all of them for `['...']`).
pub fn group_labels(alert_labels: &Labels, opts: &RouteOpts) -> Labels {
    alert_labels
        .iter()
        .filter(|(k, _)| opts.group_by_all || opts.group_by.contains(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A label set as Go's `LabelSet.String` prints it: `{a="1", b="2"}`.
pub fn label_set_string(labels: &Labels) -> String {
    let parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", wasmetheus_model::go::quote(v)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// `aggrGroup.GroupKey`: `routeKey:labels`.
pub fn group_key(route_key: &str, labels: &Labels) -> String {
    format!("{route_key}:{}", label_set_string(labels))
}

fn ms(v: i64) -> Duration {
    Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

/// The mutable part of a group.
#[derive(Debug, Default)]
pub(crate) struct GroupState {
    pub alerts: HashMap<Fingerprint, Alert>,
    pub has_flushed: bool,
    /// Set when the group ended; later inserts go to a new group.
    pub done: bool,
}

/// One aggregation group.
pub struct AggrGroup {
    pub labels: Labels,
    pub key: String,
    pub route_id: String,
    pub opts: RouteOpts,
    pub(crate) state: Mutex<GroupState>,
    /// Woken to flush at once (an old alert arrived before the first
    /// flush) or to stop.
    pub(crate) wake: Notify,
    clock: Clock,
}

impl std::fmt::Debug for AggrGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AggrGroup")
            .field("key", &self.key)
            .field("route_id", &self.route_id)
            .finish_non_exhaustive()
    }
}

impl AggrGroup {
    pub(crate) fn new(
        labels: Labels,
        route_key: &str,
        route_id: &str,
        opts: RouteOpts,
        clock: Clock,
    ) -> AggrGroup {
        AggrGroup {
            key: group_key(route_key, &labels),
            labels,
            route_id: route_id.to_owned(),
            opts,
            state: Mutex::new(GroupState::default()),
            wake: Notify::new(),
            clock,
        }
    }

    /// The alerts held now, sorted as upstream sorts them.
    pub fn alerts(&self) -> Vec<Alert> {
        let mut list: Vec<Alert> = self.state.lock().alerts.values().cloned().collect();
        sort_alerts(&mut list);
        list
    }

    /// `aggrGroup.insert`: adds or replaces the alert; false when the
    /// group has ended. Before the first flush, an alert older than
    /// `group_wait` makes the group flush at once.
    pub(crate) fn insert(&self, alert: Alert) -> bool {
        let now = (self.clock)();
        let mut st = self.state.lock();
        if st.done {
            return false;
        }
        let old = alert.starts_at.is_some_and(|s| {
            jiff::SignedDuration::try_from(ms(self.opts.group_wait_ms))
                .ok()
                .and_then(|w| s.checked_add(w).ok())
                .is_some_and(|t| t < now)
        });
        let flush_now = !st.has_flushed && old;
        st.alerts.insert(alert.fingerprint(), alert);
        drop(st);
        if flush_now {
            self.wake.notify_one();
        }
        true
    }

    /// Takes the snapshot to flush: firing alerts lose their end so they
    /// do not resolve while the notification is sent; the resolved ones
    /// are returned too, to be removed after a success.
    fn snapshot(&self, now: jiff::Timestamp) -> (Vec<Alert>, Vec<Alert>) {
        let st = self.state.lock();
        let mut all = Vec::with_capacity(st.alerts.len());
        let mut resolved = Vec::new();
        for a in st.alerts.values() {
            let mut a = a.clone();
            if a.resolved_at(now) {
                resolved.push(a.clone());
            } else {
                a.ends_at = None;
            }
            all.push(a);
        }
        drop(st);
        sort_alerts(&mut all);
        (all, resolved)
    }

    /// `DeleteIfNotModified`: drops the resolved alerts still as they
    /// were flushed; whether the group is now empty.
    fn delete_resolved(&self, resolved: &[Alert]) -> bool {
        let mut st = self.state.lock();
        for r in resolved {
            let fp = r.fingerprint();
            if st
                .alerts
                .get(&fp)
                .is_some_and(|cur| cur.updated_at == r.updated_at && cur.ends_at == r.ends_at)
            {
                st.alerts.remove(&fp);
            }
        }
        st.alerts.is_empty()
    }

    /// Flushes once through the pipeline.
    pub(crate) async fn flush(&self, pipeline: &Pipeline) -> (FlushOutcome, bool) {
        let now = (self.clock)();
        let (alerts, resolved) = self.snapshot(now);
        let timeout = ms(self.opts.group_interval_ms).max(MIN_FLUSH_TIMEOUT);
        let ctx = FlushContext {
            receiver: self.opts.receiver.clone(),
            group_key: self.key.clone(),
            group_labels: self.labels.clone(),
            repeat_interval: ms(self.opts.repeat_interval_ms),
            mute_time_intervals: self.opts.mute_time_intervals.clone(),
            active_time_intervals: self.opts.active_time_intervals.clone(),
            now,
            deadline: Instant::now() + timeout,
        };
        let outcome = pipeline.exec(&ctx, alerts).await;
        let empty = if outcome.succeeded() {
            self.delete_resolved(&resolved)
        } else {
            self.state.lock().alerts.is_empty()
        };
        (outcome, empty)
    }

    /// The group's timer loop: `group_wait`, then `group_interval` ticks
    /// (the next tick is set before flushing, as upstream). Returns when
    /// the group is empty after a flush (`on_empty` decides, under the
    /// dispatcher's lock, whether it ends) or `stop` is set.
    pub(crate) async fn run<F>(
        self: Arc<Self>,
        pipeline: Arc<Pipeline>,
        stop: Arc<std::sync::atomic::AtomicBool>,
        on_flush: Option<FlushHook>,
        on_empty: F,
    ) where
        F: Fn(&AggrGroup) -> bool,
    {
        let mut next = Instant::now() + ms(self.opts.group_wait_ms);
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(next) => {}
                () = self.wake.notified() => {}
            }
            if stop.load(std::sync::atomic::Ordering::Acquire) {
                return;
            }
            next = Instant::now() + ms(self.opts.group_interval_ms).max(Duration::from_millis(1));
            self.state.lock().has_flushed = true;
            let (outcome, empty) = self.flush(&pipeline).await;
            if let Some(cb) = &on_flush {
                cb(&self, &outcome);
            }
            if empty && on_empty(&self) {
                return;
            }
        }
    }
}
