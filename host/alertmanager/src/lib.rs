//! Alertmanager's state, faithful to Alertmanager 0.34: the alerts
//! received ([`Alerts`], merged by [`Fingerprint`]), [`Silences`], the
//! [`NotificationLog`] that deduplicates notifications, and the
//! [`Inhibitor`]. Beyond Alertmanager (which keeps only silences and the
//! notification log, in snapshot files), everything including the active
//! alerts is written through to one sled database ([`State::open`]) and
//! survives a restart.
//!
//! How the parts fit (what the dispatcher and the API wire up): received
//! alerts are [`Alert::prepare`]d and [`Alert::validate`]d, then
//! [`Alerts::put`]; the dispatcher and the [`Inhibitor`] follow
//! [`Alerts::subscribe`] (the inhibitor by [`Inhibitor::observe`]); the
//! [`Silencer`] and [`Inhibitor::mutes_marking`] record each alert's
//! status in a [`Marker`] for the API; alerts removed by [`Alerts::gc`]
//! are forgotten by [`Marker::delete`] and [`Inhibitor::gc`];
//! [`State::run_maintenance`] collects on `--data.maintenance-interval`
//! and `--alerts.gc-interval`. The [`dispatch`] module routes the alerts
//! into aggregation groups and decides what is sent to each receiver's
//! [`dispatch::Integration`]s.

mod alert;
mod alerts;
pub mod dispatch;
mod fingerprint;
mod inhibit;
mod marker;
mod nflog;
mod persist;
mod silence;

use std::path::Path;
use std::sync::Arc;

use jiff::SignedDuration;

pub use alert::{
    Alert, AlertError, Labels, is_valid_classic_label_name, is_valid_label_name, label_set_before,
    sort_alerts,
};
pub use alerts::{Alerts, AlertsError, AlertsLimits, SUBSCRIBER_CAPACITY};
pub use fingerprint::{Fingerprint, fingerprint};
pub use inhibit::Inhibitor;
pub use marker::{AlertState, AlertStatus, Marker, Silencer};
pub use nflog::{NflogEntry, NflogError, NflogReceiver, NotificationLog, state_key};
pub use persist::{Clock, Db, OpenError, WriteError, system_clock};
pub use silence::{
    DEFAULT_RETENTION, MatchTypeRecord, Silence, SilenceError, SilenceLimits, SilenceMatcher,
    SilenceQuery, SilenceState, Silences, can_update, sort_for_api, validate_silence,
};

/// `--alerts.gc-interval`'s default.
pub const DEFAULT_ALERTS_GC_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// `--data.maintenance-interval`'s default: how often silences and the
/// notification log are collected.
pub const DEFAULT_MAINTENANCE_INTERVAL: std::time::Duration =
    std::time::Duration::from_secs(15 * 60);

/// Options of [`State::open`].
#[derive(Clone)]
pub struct StateOptions {
    /// `--data.retention`: how long silences and notification log entries
    /// are kept after they end.
    pub retention: SignedDuration,
    pub alerts: AlertsLimits,
    pub silences: SilenceLimits,
    /// The most notification log entries (0: no limit); beyond it the
    /// least useful are evicted.
    pub max_nflog_entries: usize,
    /// Whether a silence change or a notification log entry is on disk
    /// before the call returns (otherwise within sled's flush interval,
    /// half a second). Alerts are always written in the background.
    pub sync_writes: bool,
    pub clock: Clock,
}

impl std::fmt::Debug for StateOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateOptions")
            .field("retention", &self.retention)
            .field("alerts", &self.alerts)
            .field("silences", &self.silences)
            .field("max_nflog_entries", &self.max_nflog_entries)
            .field("sync_writes", &self.sync_writes)
            .finish()
    }
}

impl Default for StateOptions {
    fn default() -> Self {
        StateOptions {
            retention: DEFAULT_RETENTION,
            alerts: AlertsLimits::default(),
            silences: SilenceLimits::default(),
            max_nflog_entries: 1_000_000,
            sync_writes: true,
            clock: system_clock(),
        }
    }
}

/// Everything kept on disk, opened together.
#[derive(Debug)]
pub struct State {
    pub db: Db,
    pub alerts: Arc<Alerts>,
    pub silences: Arc<Silences>,
    pub nflog: Arc<NotificationLog>,
}

impl State {
    /// Opens (or creates) the database directory `path` and restores the
    /// alerts, silences and notification log in it.
    pub fn open(path: &Path, options: StateOptions) -> Result<State, OpenError> {
        let db = Db::open(path)?;
        let alerts = Alerts::open(&db, options.alerts, options.clock.clone())?;
        let mut silences = Silences::open(
            &db,
            options.retention,
            options.silences,
            options.clock.clone(),
        )?;
        let mut nflog = NotificationLog::open(
            &db,
            options.retention,
            options.max_nflog_entries,
            options.clock,
        )?;
        silences.sync = options.sync_writes;
        nflog.sync = options.sync_writes;
        Ok(State {
            db,
            alerts: Arc::new(alerts),
            silences: Arc::new(silences),
            nflog: Arc::new(nflog),
        })
    }

    /// Collects silences and log entries past their retention every
    /// `interval`, and resolved alerts every `alerts_interval`, until the
    /// task is dropped.
    pub async fn run_maintenance(
        self: Arc<Self>,
        interval: std::time::Duration,
        alerts_interval: std::time::Duration,
    ) {
        let mut tick = tokio::time::interval(interval);
        let mut alerts_tick = tokio::time::interval(alerts_interval);
        tick.tick().await;
        alerts_tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(err) = self.silences.gc().and_then(|_| self.nflog.gc()) {
                        tracing::warn!(%err, "collecting silences and the notification log failed");
                    }
                }
                _ = alerts_tick.tick() => {
                    if let Err(err) = self.alerts.gc() {
                        tracing::warn!(%err, "collecting resolved alerts failed");
                    }
                }
            }
        }
    }

    /// Collects resolved alerts, and silences and log entries past their
    /// retention, from memory and disk.
    pub fn gc(&self) -> Result<(), WriteError> {
        self.alerts.gc()?;
        self.silences.gc()?;
        self.nflog.gc()?;
        Ok(())
    }
}
