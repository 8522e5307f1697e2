//! The dispatcher (`dispatch/dispatch.go`) and the notification pipeline
//! (`notify/notify.go`) of Alertmanager 0.34: alerts followed from
//! [`Alerts::subscribe`](crate::Alerts::subscribe), routed through the
//! routing tree, collected in aggregation groups ([`groups`]) whose
//! timers flush them through the receiver's [`Pipeline`] (inhibition,
//! time intervals, silences, deduplication by the notification log) to
//! its [`Integration`]s with retries ([`retry`]).
//!
//! Timers run on tokio's clock; the wall clock given as [`Clock`] decides
//! which alerts are resolved and stamps the notification log, so tests
//! pause tokio's time and derive the clock from it.

pub mod groups;
pub mod integration;
pub mod pipeline;
pub mod retry;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::AbortHandle;
use wasmetheus_alertmanager_config::Route;

pub use groups::{
    AggrGroup, FlushHook, MIN_FLUSH_TIMEOUT, group_key, group_labels, label_set_string,
};
pub use integration::{
    Integration, IntegrationCounters, LATENCY_BUCKETS, NotifyError, NotifyFuture, NotifyMetrics,
    NotifyRequest,
};
pub use pipeline::{
    FlushContext, FlushOutcome, IntegrationOutcome, Pipeline, hash_alert, needs_update,
};
pub use retry::{Backoff, RetryOutcome, notify_with_retry};

use crate::alert::{Alert, Labels};
use crate::alerts::Alerts;
use crate::fingerprint::{Fingerprint, fingerprint};
use crate::persist::Clock;

type GroupMap = HashMap<(String, Fingerprint), (Arc<AggrGroup>, Option<AbortHandle>)>;

/// One aggregation group as the API lists it (`/api/v2/alerts/groups`).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSnapshot {
    pub key: String,
    pub route_id: String,
    pub receiver: String,
    pub labels: Labels,
    pub alerts: Vec<Alert>,
}

struct Inner {
    route: Route,
    pipeline: Arc<Pipeline>,
    alerts: Arc<Alerts>,
    clock: Clock,
    max_groups: usize,
    groups: Mutex<GroupMap>,
    stop: Arc<AtomicBool>,
    stopped: tokio::sync::Notify,
    on_flush: Option<FlushHook>,
}

/// Routes alerts into aggregation groups and runs their timers.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("groups", &self.inner.groups.lock().len())
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher over the routing tree; `max_groups` bounds the
    /// aggregation groups (0: no bound; alerts for a new group beyond it
    /// are dropped with an error logged, as upstream's limit).
    pub fn new(
        route: Route,
        pipeline: Pipeline,
        alerts: Arc<Alerts>,
        clock: Clock,
        max_groups: usize,
        on_flush: Option<FlushHook>,
    ) -> Dispatcher {
        Dispatcher {
            inner: Arc::new(Inner {
                route,
                pipeline: Arc::new(pipeline),
                alerts,
                clock,
                max_groups,
                groups: Mutex::new(HashMap::new()),
                stop: Arc::new(AtomicBool::new(false)),
                stopped: tokio::sync::Notify::new(),
                on_flush,
            }),
        }
    }

    /// Follows the alert store until [`Dispatcher::stop`]: the alerts held
    /// now, then every change. Must run inside a tokio runtime.
    pub async fn run(&self) {
        while !self.inner.stop.load(Ordering::Acquire) {
            let (current, mut rx) = self.inner.alerts.subscribe();
            for a in current {
                self.process_alert(a);
            }
            loop {
                tokio::select! {
                    () = self.inner.stopped.notified() => return,
                    r = rx.recv() => match r {
                        Ok(a) => self.process_alert(a),
                        Err(RecvError::Lagged(n)) => {
                            tracing::warn!(missed = n, "dispatcher lagged behind the alerts; resubscribing");
                            break;
                        }
                        Err(RecvError::Closed) => return,
                    },
                }
            }
        }
    }

    /// Stops following alerts and ends every group's timer.
    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::Release);
        self.inner.stopped.notify_waiters();
        self.inner.stopped.notify_one();
        let mut groups = self.inner.groups.lock();
        for (_, (_, handle)) in groups.drain() {
            if let Some(h) = handle {
                h.abort();
            }
        }
    }

    /// `processAlert`: puts the alert into the group of each route it
    /// matches, creating groups as needed.
    pub fn process_alert(&self, alert: Alert) {
        if self.inner.stop.load(Ordering::Acquire) {
            return;
        }
        let routes = self.inner.route.match_labels(&alert.labels);
        for route in routes {
            let labels = group_labels(&alert.labels, &route.opts);
            let key = (route.id().to_owned(), fingerprint(&labels));
            let mut map = self.inner.groups.lock();
            if let Some((g, _)) = map.get(&key)
                && g.insert(alert.clone())
            {
                continue;
            }
            if self.inner.max_groups > 0 && map.len() >= self.inner.max_groups {
                tracing::error!(
                    limit = self.inner.max_groups,
                    "too many aggregation groups, cannot create a new one for the alert"
                );
                continue;
            }
            let group = Arc::new(AggrGroup::new(
                labels,
                route.key(),
                route.id(),
                route.opts.clone(),
                self.inner.clock.clone(),
            ));
            group.insert(alert.clone());
            let weak = Arc::downgrade(&self.inner);
            let map_key = key.clone();
            let task = Arc::clone(&group).run(
                Arc::clone(&self.inner.pipeline),
                Arc::clone(&self.inner.stop),
                self.inner.on_flush.clone(),
                move |g: &AggrGroup| {
                    let Some(inner) = weak.upgrade() else {
                        return true;
                    };
                    let mut map = inner.groups.lock();
                    let mut st = g.state.lock();
                    if !st.alerts.is_empty() {
                        return false;
                    }
                    st.done = true;
                    if map
                        .get(&map_key)
                        .is_some_and(|(cur, _)| std::ptr::eq(cur.as_ref(), g))
                    {
                        map.remove(&map_key);
                    }
                    true
                },
            );
            let handle = tokio::spawn(task).abort_handle();
            map.insert(key, (group, Some(handle)));
        }
    }

    /// The groups now, sorted by key.
    pub fn groups(&self) -> Vec<GroupSnapshot> {
        let groups: Vec<Arc<AggrGroup>> = self
            .inner
            .groups
            .lock()
            .values()
            .map(|(g, _)| Arc::clone(g))
            .collect();
        let mut out: Vec<GroupSnapshot> = groups
            .iter()
            .map(|g| GroupSnapshot {
                key: g.key.clone(),
                route_id: g.route_id.clone(),
                receiver: g.opts.receiver.clone(),
                labels: g.labels.clone(),
                alerts: g.alerts(),
            })
            .collect();
        out.sort_by(|a, b| (&a.key, &a.route_id).cmp(&(&b.key, &b.route_id)));
        out
    }

    /// The notification metrics of the pipeline.
    pub fn metrics(&self) -> Arc<NotifyMetrics> {
        self.inner.pipeline.metrics()
    }

    /// How many aggregation groups exist.
    pub fn group_count(&self) -> usize {
        self.inner.groups.lock().len()
    }
}
