//! Each alert's status for the API (`types.MemMarker`): unprocessed,
//! active or suppressed, with the silences and alerts that suppress it;
//! and the silencer (`silence.Silencer`) that keeps the silences part
//! current, looking again at all silences only when a new one was stored.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::alert::Labels;
use crate::fingerprint::{Fingerprint, fingerprint};
use crate::inhibit::Inhibitor;
use crate::silence::{SilenceQuery, SilenceState, Silences};

/// An alert's state in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertState {
    Unprocessed,
    Active,
    Suppressed,
}

impl AlertState {
    /// `unprocessed`, `active` or `suppressed`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Unprocessed => "unprocessed",
            AlertState::Active => "active",
            AlertState::Suppressed => "suppressed",
        }
    }
}

/// An alert's status: its state and what suppresses it (ids sorted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertStatus {
    pub state: AlertState,
    pub silenced_by: Vec<String>,
    pub inhibited_by: Vec<String>,
    /// Pending silences that match (internal, not in the API).
    pub pending_silences: Vec<String>,
    /// The silences' version the lists are based on.
    pub silences_version: u64,
}

impl AlertStatus {
    fn unprocessed() -> AlertStatus {
        AlertStatus {
            state: AlertState::Unprocessed,
            silenced_by: Vec::new(),
            inhibited_by: Vec::new(),
            pending_silences: Vec::new(),
            silences_version: 0,
        }
    }

    fn settle(&mut self) {
        self.state = if self.silenced_by.is_empty() && self.inhibited_by.is_empty() {
            AlertState::Active
        } else {
            AlertState::Suppressed
        };
    }
}

/// The statuses of all alerts.
#[derive(Debug, Default)]
pub struct Marker {
    alerts: RwLock<HashMap<Fingerprint, AlertStatus>>,
}

impl Marker {
    pub fn new() -> Marker {
        Marker::default()
    }

    /// The alert's status (unprocessed when never marked).
    pub fn status(&self, fp: Fingerprint) -> AlertStatus {
        self.alerts
            .read()
            .get(&fp)
            .cloned()
            .unwrap_or_else(AlertStatus::unprocessed)
    }

    /// `SetActiveOrSilenced`.
    pub fn set_active_or_silenced(
        &self,
        fp: Fingerprint,
        version: u64,
        active: Vec<String>,
        pending: Vec<String>,
    ) {
        let mut alerts = self.alerts.write();
        let s = alerts.entry(fp).or_insert_with(AlertStatus::unprocessed);
        s.silenced_by = active;
        s.pending_silences = pending;
        s.silences_version = version;
        s.settle();
    }

    /// `SetInhibited`.
    pub fn set_inhibited(&self, fp: Fingerprint, ids: Vec<String>) {
        let mut alerts = self.alerts.write();
        let s = alerts.entry(fp).or_insert_with(AlertStatus::unprocessed);
        s.inhibited_by = ids;
        s.settle();
    }

    /// Forgets an alert (after collection).
    pub fn delete(&self, fp: Fingerprint) {
        self.alerts.write().remove(&fp);
    }

    /// How many marked alerts are in one of `states` (all when empty).
    pub fn count(&self, states: &[AlertState]) -> usize {
        self.alerts
            .read()
            .values()
            .filter(|s| states.is_empty() || states.contains(&s.state))
            .count()
    }
}

/// Mutes alerts by silences, recording why in the marker.
#[derive(Debug, Clone)]
pub struct Silencer {
    silences: Arc<Silences>,
    marker: Arc<Marker>,
}

impl Silencer {
    pub fn new(silences: Arc<Silences>, marker: Arc<Marker>) -> Silencer {
        Silencer { silences, marker }
    }

    /// `Silencer.Mutes`: whether an active silence mutes `labels`. When
    /// no silence was added since the alert was last looked at, only the
    /// silences that matched it then are checked again.
    pub fn mutes(&self, labels: &Labels) -> bool {
        let fp = fingerprint(labels);
        let old = self.marker.status(fp);
        let current = self.silences.version();
        let live = vec![SilenceState::Active, SilenceState::Pending];
        let (found, version) =
            if old.state != AlertState::Unprocessed && old.silences_version == current {
                let ids: Vec<String> = old
                    .silenced_by
                    .iter()
                    .chain(&old.pending_silences)
                    .cloned()
                    .collect();
                if ids.is_empty() {
                    return false;
                }
                let q = SilenceQuery {
                    ids: Some(ids),
                    states: Some(live),
                    ..Default::default()
                };
                (self.silences.query(&q), old.silences_version)
            } else {
                let q = SilenceQuery {
                    matches: Some(labels.clone()),
                    states: Some(live),
                    ..Default::default()
                };
                (self.silences.query(&q), current)
            };
        let now = self.silences.now();
        let (mut active, mut pending) = (Vec::new(), Vec::new());
        for s in found {
            match s.state_at(now) {
                SilenceState::Active => active.push(s.id),
                SilenceState::Pending => pending.push(s.id),
                SilenceState::Expired => {}
            }
        }
        active.sort();
        pending.sort();
        let muted = !active.is_empty();
        self.marker
            .set_active_or_silenced(fp, version, active, pending);
        muted
    }
}

impl Inhibitor {
    /// `Inhibitor.Mutes` with the marker: whether `labels` are inhibited
    /// at `now`, recording the inhibiting alert's fingerprint.
    pub fn mutes_marking(&self, labels: &Labels, marker: &Marker, now: jiff::Timestamp) -> bool {
        let fp = fingerprint(labels);
        match self.inhibited_by(labels, now) {
            Some(by) => {
                marker.set_inhibited(fp, vec![by.to_string()]);
                true
            }
            None => {
                marker.set_inhibited(fp, Vec::new());
                false
            }
        }
    }
}
