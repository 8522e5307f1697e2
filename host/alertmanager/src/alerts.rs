//! The alerts store (`provider/mem/mem.go`): alerts by fingerprint, a
//! received alert merged with the one held when their activity overlaps,
//! subscribers told of every change, resolved alerts garbage-collected
//! (`--alerts.gc-interval`, 30m). Beyond Alertmanager, the alerts are
//! written through to disk and come back after a restart.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::alert::{Alert, Labels, after, before};
use crate::fingerprint::Fingerprint;
use crate::persist::{self, Clock, Db, OpenError, WriteError};

/// How many changes a subscriber may fall behind before it is told it
/// lagged. Upstream's listeners hold 200 (`alertChannelLength`) but make
/// the writer wait when full; ours never block a writer, so the buffer
/// holds a burst (POSTs of hundreds of alerts arriving together): a
/// subscriber that lags re-reads the whole store, which under a burst
/// cost more than the buffer (measured with `cargo xtask bench
/// alertmanager`: 34 re-reads of 20,000 alerts at 200).
pub const SUBSCRIBER_CAPACITY: usize = 4096;

/// Bounds on what the store holds.
#[derive(Debug, Clone)]
pub struct AlertsLimits {
    /// The most alerts held (0: no limit); a new alert beyond it is refused.
    pub max_alerts: usize,
    /// The largest alert (labels, annotations and generator URL, in bytes;
    /// 0: no limit).
    pub max_alert_bytes: usize,
}

impl Default for AlertsLimits {
    fn default() -> Self {
        AlertsLimits {
            max_alerts: 100_000,
            max_alert_bytes: 1 << 20,
        }
    }
}

/// Why an alert was not stored.
#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    #[error("too many alerts: {held} held (limit: {limit})")]
    TooMany { held: usize, limit: usize },
    #[error("alert exceeded maximum size: {size} bytes (limit: {limit} bytes)")]
    TooLarge { size: usize, limit: usize },
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// The alerts held.
pub struct Alerts {
    alerts: RwLock<HashMap<Fingerprint, Alert>>,
    changes: broadcast::Sender<Alert>,
    limits: AlertsLimits,
    tree: Option<sled::Tree>,
    clock: Clock,
}

impl std::fmt::Debug for Alerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerts")
            .field("len", &self.len())
            .field("limits", &self.limits)
            .finish()
    }
}

/// An alert as written to disk.
#[derive(Serialize, Deserialize)]
struct Record {
    labels: Labels,
    #[serde(default)]
    annotations: Labels,
    starts_at: Option<i128>,
    ends_at: Option<i128>,
    #[serde(default)]
    generator_url: String,
    updated_at: Option<i128>,
    #[serde(default)]
    timeout: bool,
}

impl Record {
    fn of(a: &Alert) -> Record {
        Record {
            labels: a.labels.clone(),
            annotations: a.annotations.clone(),
            starts_at: persist::nanos(a.starts_at),
            ends_at: persist::nanos(a.ends_at),
            generator_url: a.generator_url.clone(),
            updated_at: persist::nanos(a.updated_at),
            timeout: a.timeout,
        }
    }

    fn into_alert(self) -> Result<Alert, String> {
        Ok(Alert {
            labels: self.labels,
            annotations: self.annotations,
            starts_at: persist::from_nanos(self.starts_at)?,
            ends_at: persist::from_nanos(self.ends_at)?,
            generator_url: self.generator_url,
            updated_at: persist::from_nanos(self.updated_at)?,
            timeout: self.timeout,
        })
    }
}

fn alert_bytes(a: &Alert) -> usize {
    let set = |s: &Labels| s.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
    set(&a.labels) + set(&a.annotations) + a.generator_url.len()
}

impl Alerts {
    /// An empty store kept in memory only.
    pub fn new(limits: AlertsLimits, clock: Clock) -> Alerts {
        let (changes, _) = broadcast::channel(SUBSCRIBER_CAPACITY);
        Alerts {
            alerts: RwLock::new(HashMap::new()),
            changes,
            limits,
            tree: None,
            clock,
        }
    }

    /// The store written through to `db`, with the alerts it holds.
    pub fn open(db: &Db, limits: AlertsLimits, clock: Clock) -> Result<Alerts, OpenError> {
        let tree = db.tree(persist::ALERTS)?;
        let mut store = Alerts::new(limits, clock);
        let mut map = HashMap::new();
        for record in persist::load::<Record>(&tree, "alert") {
            match record
                .into_alert()
                .and_then(|a| a.validate().map(|()| a).map_err(|e| e.to_string()))
            {
                Ok(alert) => {
                    map.insert(alert.fingerprint(), alert);
                }
                Err(err) => tracing::warn!(%err, "skipping an unreadable alert"),
            }
        }
        store.alerts = RwLock::new(map);
        store.tree = Some(tree);
        Ok(store)
    }

    /// The limits in force.
    pub fn limits(&self) -> &AlertsLimits {
        &self.limits
    }

    /// Stores an alert (prepared by [`Alert::prepare`]), merged with the
    /// alert of the same fingerprint when their activity overlaps, and
    /// tells subscribers.
    pub fn put(&self, alert: Alert) -> Result<(), AlertsError> {
        let size = alert_bytes(&alert);
        if self.limits.max_alert_bytes > 0 && size > self.limits.max_alert_bytes {
            return Err(AlertsError::TooLarge {
                size,
                limit: self.limits.max_alert_bytes,
            });
        }
        let fp = alert.fingerprint();
        let mut alerts = self.alerts.write();
        let mut alert = alert;
        match alerts.get(&fp) {
            Some(old) => {
                let overlaps = (after(alert.ends_at, old.starts_at)
                    && before(alert.ends_at, old.ends_at))
                    || (after(alert.starts_at, old.starts_at)
                        && before(alert.starts_at, old.ends_at));
                if overlaps {
                    alert = old.merge_at(&alert, (self.clock)());
                }
            }
            None => {
                let limit = self.limits.max_alerts;
                if limit > 0 && alerts.len() >= limit {
                    return Err(AlertsError::TooMany {
                        held: alerts.len(),
                        limit,
                    });
                }
            }
        }
        if let Some(tree) = &self.tree {
            persist::put(tree, &fp.0.to_be_bytes(), &Record::of(&alert))?;
        }
        alerts.insert(fp, alert.clone());
        // Sent under the lock, so subscribers see changes in order; no
        // subscriber is not an error.
        let _ = self.changes.send(alert);
        Ok(())
    }

    /// Stores several alerts; the ones refused, with why.
    pub fn put_all(&self, alerts: Vec<Alert>) -> Vec<(Fingerprint, AlertsError)> {
        let mut refused = Vec::new();
        for alert in alerts {
            let fp = alert.fingerprint();
            if let Err(err) = self.put(alert) {
                refused.push((fp, err));
            }
        }
        refused
    }

    /// The alert with this fingerprint.
    pub fn get(&self, fp: Fingerprint) -> Option<Alert> {
        self.alerts.read().get(&fp).cloned()
    }

    /// Every alert held (resolved ones too, until collected), in
    /// fingerprint order.
    pub fn list(&self) -> Vec<Alert> {
        let alerts = self.alerts.read();
        let mut list: Vec<(Fingerprint, Alert)> =
            alerts.iter().map(|(fp, a)| (*fp, a.clone())).collect();
        list.sort_by_key(|(fp, _)| *fp);
        list.into_iter().map(|(_, a)| a).collect()
    }

    /// How many alerts are held.
    pub fn len(&self) -> usize {
        self.alerts.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The alerts held now and every change from then on (taken together,
    /// so no change is missed). A receiver that lags more than
    /// [`SUBSCRIBER_CAPACITY`] changes gets `Lagged` and should subscribe
    /// again.
    pub fn subscribe(&self) -> (Vec<Alert>, broadcast::Receiver<Alert>) {
        let alerts = self.alerts.read();
        let rx = self.changes.subscribe();
        let mut list: Vec<(Fingerprint, Alert)> =
            alerts.iter().map(|(fp, a)| (*fp, a.clone())).collect();
        list.sort_by_key(|(fp, _)| *fp);
        (list.into_iter().map(|(_, a)| a).collect(), rx)
    }

    /// Removes the alerts resolved by now, from memory and disk; returns
    /// them.
    pub fn gc(&self) -> Result<Vec<Alert>, WriteError> {
        let now = (self.clock)();
        self.gc_at(now)
    }

    fn gc_at(&self, now: Timestamp) -> Result<Vec<Alert>, WriteError> {
        let mut alerts = self.alerts.write();
        let resolved: Vec<Fingerprint> = alerts
            .iter()
            .filter(|(_, a)| a.resolved_at(now))
            .map(|(fp, _)| *fp)
            .collect();
        let mut removed = Vec::with_capacity(resolved.len());
        for fp in resolved {
            if let Some(tree) = &self.tree {
                persist::remove(tree, &fp.0.to_be_bytes())?;
            }
            if let Some(a) = alerts.remove(&fp) {
                removed.push(a);
            }
        }
        Ok(removed)
    }

    /// Runs [`Alerts::gc`] every `interval` until the task is dropped.
    pub async fn run_gc(self: Arc<Self>, interval: std::time::Duration) {
        let mut tick = tokio::time::interval(interval);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(err) = self.gc() {
                tracing::warn!(%err, "collecting resolved alerts failed");
            }
        }
    }
}
