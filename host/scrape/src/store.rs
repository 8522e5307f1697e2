//! The latest collection of every target, kept in memory.

use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;
use wasmetheus_model::{MetricFamily, Sample};

/// Health of a target after its last scrape, as Prometheus reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetHealth {
    Unknown,
    Up,
    Down,
}

/// What the last scrape of a target produced.
#[derive(Debug, Clone)]
pub struct TargetState {
    /// [`Target::key`](crate::Target::key).
    pub key: String,
    pub job: String,
    pub instance: String,
    pub health: TargetHealth,
    pub last_error: Option<String>,
    pub last_scrape: Option<SystemTime>,
    pub last_duration_seconds: f64,
    /// The families exactly as the target returned them.
    pub families: Arc<Vec<MetricFamily>>,
    /// Series the last scrape stored (after metric relabeling).
    pub series: usize,
    /// The last scrape's `up` and `scrape_*` samples.
    pub samples: Arc<Vec<Sample>>,
}

/// Latest state per target, keyed by [`Target::key`](crate::Target::key).
#[derive(Debug, Default, Clone)]
pub struct LatestStore {
    targets: Arc<RwLock<BTreeMap<String, TargetState>>>,
}

impl LatestStore {
    pub fn get(&self, instance: &str) -> Option<TargetState> {
        self.targets.read().get(instance).cloned()
    }

    pub fn all(&self) -> Vec<TargetState> {
        self.targets.read().values().cloned().collect()
    }

    pub(crate) fn put(&self, state: TargetState) {
        self.targets.write().insert(state.key.clone(), state);
    }

    /// Forgets a target that went away; its series are stale from now on.
    pub(crate) fn remove(&self, key: &str) {
        self.targets.write().remove(key);
    }
}
