//! Prometheus' notifier: alerts get external labels and
//! `alert_relabel_configs`, wait in a bounded queue, and go in batches to
//! every discovered Alertmanager (API v2), with Prometheus' metrics.
//!
//! The server creates a [`Manager`], applies the configuration
//! ([`Manager::apply_config`]), feeds the target groups service discovery
//! finds for each `alertmanagers` entry ([`Manager::set_target_groups`],
//! by the entry's `config-N` name), starts it ([`Manager::run`]), hands it
//! the rule manager's alerts ([`Manager::send`]) and stops it
//! ([`Manager::stop`]).
//!
//! Files: `alert.rs` the alert, its relabeling and JSON; `discovery.rs`
//! Alertmanager URLs from target groups; `client.rs` the HTTP client of an
//! entry; `manager.rs` the queue and the send loop; `metrics.rs` the
//! `prometheus_notifications_*` families.

mod alert;
mod client;
mod discovery;
mod manager;
mod metrics;

pub use alert::{Alert, encode_alerts};
pub use discovery::{RejectedAlertmanager, TargetGroup};
pub use manager::{
    DEFAULT_MAX_BATCH_SIZE, DEFAULT_QUEUE_CAPACITY, Manager, Options, static_target_groups,
};

/// Why a configuration cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    /// A setting the notifier does not implement.
    #[error("{0} not supported for Alertmanagers")]
    Unsupported(String),
    /// The TLS settings cannot be used (unreadable or invalid files).
    #[error("TLS: {0}")]
    Tls(String),
    /// Another invalid setting.
    #[error("{0}")]
    Config(String),
    /// In one `alertmanagers` entry.
    #[error("alertmanager {name}: {source}")]
    Alertmanagers {
        name: String,
        #[source]
        source: Box<NotifierError>,
    },
    /// No `alertmanagers` entry has that name.
    #[error("unknown Alertmanager config {0:?}")]
    UnknownConfig(String),
}
