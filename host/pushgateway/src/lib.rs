//! The built-in Pushgateway: Prometheus Pushgateway 1.5's push API on the
//! server's own listener (`PUT`/`POST`/`DELETE /metrics/job/<job>{/<label>/<value>}`,
//! `@base64` names, text and delimited protobuf bodies,
//! `GET /api/v1/metrics`, `PUT /api/v1/admin/wipe`), the same consistency
//! checks and `push_time_seconds`/`push_failure_time_seconds`, groups
//! persisted across restarts, and the exposition of every group for the
//! server to scrape in-process ([`Gateway::families`]).
//!
//! - `grouping.rs` grouping keys from paths; `body.rs` push bodies into
//!   client_model families; `store.rs` the groups and the write semantics;
//!   `check.rs` the consistency check; `json.rs` the API's JSON;
//!   `persist.rs` the persistence file; `http.rs` the routes.
//!
//! Limits Pushgateway does not have (see [`Limits`] and
//! [`Options::max_body_bytes`]): a body over 16 MiB, a text push of more
//! than 100,000 samples or a protobuf push taking more than 128 MiB
//! decoded are refused with 413; a push past 10,000 groups or 200,000
//! metrics in all with 507; a label value over 16 KiB with 400. Two
//! pushes are parsed at a time.

mod body;
mod check;
mod grouping;
mod http;
mod json;
mod persist;
mod store;
mod wire;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;

pub use body::{BodyError, is_protobuf, parse_protobuf, parse_text};
pub use grouping::{GroupingKey, KeyError, path as grouping_path};
pub use store::{Limits, PushError};

/// How the gateway runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the groups are kept across restarts; `None`: memory only.
    pub persistence_file: Option<PathBuf>,
    /// How long after a change the file is written (changes in between
    /// are written together).
    pub persist_delay: Duration,
    pub limits: Limits,
    /// The largest push body.
    pub max_body_bytes: usize,
    /// Whether `PUT /api/v1/admin/wipe` is served.
    pub admin_api: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            persistence_file: None,
            persist_delay: Duration::from_secs(1),
            limits: Limits::default(),
            max_body_bytes: 16 << 20,
            admin_api: false,
        }
    }
}

/// The gateway; clones share it.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("groups", &self.inner.store.lock().groups.len())
            .finish()
    }
}

struct Inner {
    store: Mutex<store::Store>,
    options: Options,
    /// Set on every change; the persistence task writes the file.
    dirty: tokio::sync::Notify,
    /// One writer of the file at a time.
    writing: Mutex<()>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Pushes parsed and checked at once (each may take its push limits
    /// in memory; Pushgateway serializes writes too).
    parsing: tokio::sync::Semaphore,
}

impl Gateway {
    /// The gateway with the groups of `options.persistence_file` (a file
    /// that does not read back is set aside with a warning).
    pub fn open(options: Options) -> Gateway {
        let mut store = store::Store::new(options.limits);
        if let Some(file) = &options.persistence_file {
            persist::load(file, &mut store);
            if !store.groups.is_empty() {
                tracing::info!(groups = store.groups.len(), file = %file.display(), "restored the Pushgateway's groups");
            }
        }
        Gateway {
            inner: Arc::new(Inner {
                store: Mutex::new(store),
                options,
                dirty: tokio::sync::Notify::new(),
                writing: Mutex::new(()),
                task: Mutex::new(None),
                parsing: tokio::sync::Semaphore::new(2),
            }),
        }
    }

    /// Starts writing the file shortly after changes (on the current
    /// tokio runtime); [`Gateway::shutdown`] stops it.
    pub fn start_persistence(&self) {
        if self.inner.options.persistence_file.is_none() {
            return;
        }
        let gateway = self.clone();
        let task = tokio::spawn(async move {
            loop {
                gateway.inner.dirty.notified().await;
                tokio::time::sleep(gateway.inner.options.persist_delay).await;
                let g = gateway.clone();
                match tokio::task::spawn_blocking(move || g.persist()).await {
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "could not persist the Pushgateway's groups")
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "persisting the Pushgateway's groups failed")
                    }
                    Ok(Ok(())) => {}
                }
            }
        });
        *self.inner.task.lock() = Some(task);
    }

    /// Stops the persistence task and writes the file a last time.
    pub fn shutdown(&self) -> std::io::Result<()> {
        if let Some(task) = self.inner.task.lock().take() {
            task.abort();
        }
        self.persist()
    }

    /// Writes the file now (no-op without one).
    pub fn persist(&self) -> std::io::Result<()> {
        let Some(file) = &self.inner.options.persistence_file else {
            return Ok(());
        };
        let _one = self.inner.writing.lock();
        let bytes = persist::encode(&self.inner.store.lock());
        persist::write_atomically(file, &bytes)
    }

    /// The routes: `/metrics/{job…}`, `/api/v1/metrics` and (with
    /// `admin_api`) `/api/v1/admin/wipe`.
    pub fn router(&self) -> axum::Router {
        http::router(self.clone())
    }

    /// Every group's families merged by name, for scraping in-process
    /// (`honor_labels` semantics: pushed `job` and `instance` win; an
    /// empty `instance` means none).
    pub fn families(&self) -> Vec<wasmetheus_model::MetricFamily> {
        self.inner.store.lock().model_families()
    }

    /// The number of groups.
    pub fn group_count(&self) -> usize {
        self.inner.store.lock().groups.len()
    }

    /// Applies a push to the group `key` (`replace`: `PUT`).
    pub fn push(
        &self,
        key: &GroupingKey,
        families: body::Families,
        replace: bool,
    ) -> Result<(), PushError> {
        let outcome = self
            .inner
            .store
            .lock()
            .push(key, families, replace, SystemTime::now());
        // A failure is recorded too (push_failure_time_seconds).
        self.changed();
        outcome
    }

    /// Deletes the group `key`.
    pub fn delete(&self, key: &GroupingKey) {
        if self.inner.store.lock().delete(key) {
            self.changed();
        }
    }

    /// Deletes every group.
    pub fn wipe(&self) {
        self.inner.store.lock().wipe();
        self.changed();
    }

    fn changed(&self) {
        self.inner.dirty.notify_one();
    }

    fn metrics_json(&self) -> Vec<std::collections::BTreeMap<String, json::GroupEntry>> {
        json::metrics(&self.inner.store.lock())
    }
}

#[cfg(test)]
mod tests;
