//! The notification log (`nflog/nflog.go`): for each aggregation group
//! and receiver integration, when it was last notified and which alerts
//! (by hash) were firing and resolved then, so a notification is not
//! sent twice. Entries are collected at `expires_at`.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::persist::{self, Clock, Db, OpenError, WriteError};

/// A receiver integration: the receiver's name, the integration
/// (`webhook`, `email`, …) and its index in the receiver's list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NflogReceiver {
    pub group_name: String,
    pub integration: String,
    pub idx: u32,
}

impl NflogReceiver {
    /// `receiverKey`: `name/integration/idx`.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.group_name, self.integration, self.idx)
    }
}

/// One log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NflogEntry {
    pub group_key: String,
    pub receiver: NflogReceiver,
    #[serde(with = "ts")]
    pub timestamp: Timestamp,
    pub firing_alerts: Vec<u64>,
    pub resolved_alerts: Vec<u64>,
    #[serde(with = "ts")]
    pub expires_at: Timestamp,
}

mod ts {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        t.as_nanosecond().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        Timestamp::from_nanosecond(i128::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl NflogEntry {
    /// Whether the entry's firing alerts include every one of `alerts`.
    pub fn is_firing_subset(&self, alerts: &[u64]) -> bool {
        alerts.iter().all(|a| self.firing_alerts.contains(a))
    }

    /// Whether the entry's resolved alerts include every one of `alerts`.
    pub fn is_resolved_subset(&self, alerts: &[u64]) -> bool {
        alerts.iter().all(|a| self.resolved_alerts.contains(a))
    }
}

/// Why a log operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NflogError {
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// `stateKey`: `groupKey:receiverKey`.
pub fn state_key(group_key: &str, r: &NflogReceiver) -> String {
    format!("{group_key}:{}", r.key())
}

/// The notification log.
pub struct NotificationLog {
    st: RwLock<HashMap<String, NflogEntry>>,
    retention: SignedDuration,
    max_entries: usize,
    tree: Option<sled::Tree>,
    /// Whether each entry is on disk before `log` returns (a lost entry
    /// means a repeated notification after a crash).
    pub(crate) sync: bool,
    clock: Clock,
}

impl std::fmt::Debug for NotificationLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationLog")
            .field("len", &self.st.read().len())
            .field("retention", &self.retention)
            .finish()
    }
}

impl NotificationLog {
    /// An empty log in memory only; `max_entries` 0 is no limit, beyond
    /// it entries are evicted.
    pub fn new(retention: SignedDuration, max_entries: usize, clock: Clock) -> NotificationLog {
        NotificationLog {
            st: RwLock::new(HashMap::new()),
            retention,
            max_entries,
            tree: None,
            sync: false,
            clock,
        }
    }

    /// The log of `db`, written through to it.
    pub fn open(
        db: &Db,
        retention: SignedDuration,
        max_entries: usize,
        clock: Clock,
    ) -> Result<NotificationLog, OpenError> {
        let tree = db.tree(persist::NFLOG)?;
        let st = persist::load::<NflogEntry>(&tree, "notification log entry")
            .into_iter()
            .map(|e| (state_key(&e.group_key, &e.receiver), e))
            .collect();
        Ok(NotificationLog {
            st: RwLock::new(st),
            retention,
            max_entries,
            tree: Some(tree),
            sync: false,
            clock,
        })
    }

    pub fn len(&self) -> usize {
        self.st.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `Log`: records a notification of `group_key` to `r` now. The entry
    /// expires after the retention, or after `expiry` when that is
    /// positive and shorter. An entry newer than now (clock skew) is kept.
    pub fn log(
        &self,
        r: &NflogReceiver,
        group_key: &str,
        firing_alerts: Vec<u64>,
        resolved_alerts: Vec<u64>,
        expiry: SignedDuration,
    ) -> Result<(), NflogError> {
        let now = (self.clock)();
        let key = state_key(group_key, r);
        let mut st = self.st.write();
        if st.get(&key).is_some_and(|prev| prev.timestamp > now) {
            return Ok(());
        }
        let keep = if expiry.is_positive() && self.retention > expiry {
            expiry
        } else {
            self.retention
        };
        let entry = NflogEntry {
            group_key: group_key.to_owned(),
            receiver: r.clone(),
            timestamp: now,
            firing_alerts,
            resolved_alerts,
            expires_at: now.saturating_add(keep).unwrap_or(now),
        };
        if let Some(tree) = &self.tree {
            persist::put(tree, key.as_bytes(), &entry)?;
            if self.sync {
                persist::sync(tree)?;
            }
        }
        st.insert(key, entry);
        self.evict(&mut st)?;
        Ok(())
    }

    /// Keeps at most `max_entries`, dropping first entries without firing
    /// alerts (at worst a repeated resolved notification), then the
    /// oldest (as upstream's size limit does).
    fn evict(&self, st: &mut HashMap<String, NflogEntry>) -> Result<(), WriteError> {
        while self.max_entries > 0 && st.len() > self.max_entries {
            let Some(victim) = st
                .iter()
                .min_by_key(|(_, e)| (!e.firing_alerts.is_empty(), e.timestamp))
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(tree) = &self.tree {
                persist::remove(tree, victim.as_bytes())?;
            }
            st.remove(&victim);
            tracing::debug!(key = %victim, "notification log entry evicted at the limit");
        }
        Ok(())
    }

    /// `Query(QReceiver(r), QGroupKey(k))`: the entry of the group and
    /// receiver.
    pub fn query(&self, r: &NflogReceiver, group_key: &str) -> Result<NflogEntry, NflogError> {
        self.st
            .read()
            .get(&state_key(group_key, r))
            .cloned()
            .ok_or(NflogError::NotFound)
    }

    /// Removes the entries expired by now, from memory and disk; how many.
    pub fn gc(&self) -> Result<usize, WriteError> {
        let now = (self.clock)();
        let mut st = self.st.write();
        let old: Vec<String> = st
            .iter()
            .filter(|(_, e)| e.expires_at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &old {
            if let Some(tree) = &self.tree {
                persist::remove(tree, k.as_bytes())?;
            }
            st.remove(k);
        }
        Ok(old.len())
    }
}
