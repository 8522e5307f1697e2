//! `wasmetheus-remote-write`: the remote write sender. [`RemoteWrite`]
//! runs one queue per `remote_write` entry of the configuration
//! (Prometheus' `storage/remote` `WriteStorage` and `QueueManager`): each
//! queue tails the TSDB's write-ahead log, adds the external labels,
//! applies `write_relabel_configs`, shards the samples by series, batches
//! and sends them (remote write 1.0 or 2.0, snappy, with retries), sends
//! the metric metadata the server knows ([`MetadataSource`]), and saves
//! its WAL position so that nothing is lost across receiver outages and
//! restarts.
//!
//! Files: `queue.rs` a queue (the WAL-reading thread, the shards, the
//! saved position, resharding), `send.rs` encoding and sending a batch
//! with Prometheus' retry rules, `metrics.rs` the self-metrics.

mod metrics;
mod queue;
mod send;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use sha2::Digest;
use wasmetheus_config::RemoteWriteConfig;
use wasmetheus_model::MetricFamily;
pub use wasmetheus_prompb::types::{MetricMetadata, MetricType};

use queue::{Queue, QueueOptions};
pub use send::USER_AGENT;

/// The metric metadata (type, help, unit by family name) the server knows,
/// sent to receivers every `metadata_config.send_interval`.
pub trait MetadataSource: Send + Sync + 'static {
    fn metadata(&self) -> Vec<MetricMetadata>;
}

impl<F: Fn() -> Vec<MetricMetadata> + Send + Sync + 'static> MetadataSource for F {
    fn metadata(&self) -> Vec<MetricMetadata> {
        self()
    }
}

/// Where the queues read and keep their state.
#[derive(Debug, Clone)]
pub struct Options {
    /// The TSDB's WAL directory (`<storage.tsdb.path>/wal`).
    pub wal_dir: PathBuf,
    /// Where positions are saved (`<storage.tsdb.path>/remote-write`).
    pub state_dir: PathBuf,
    /// How often a queue at the WAL's end looks for more.
    pub poll_interval: Duration,
    /// How long a stopping queue may still send what it holds.
    pub flush_deadline: Duration,
    /// How often the number of shards is reconsidered (Prometheus'
    /// `shardUpdateDuration`, 10 s).
    pub shard_update_interval: Duration,
}

impl Options {
    /// The options for a TSDB in `storage_path`.
    pub fn for_storage(storage_path: &std::path::Path) -> Options {
        Options {
            wal_dir: storage_path.join("wal"),
            state_dir: storage_path.join("remote-write"),
            poll_interval: Duration::from_millis(100),
            flush_deadline: Duration::from_secs(1),
            shard_update_interval: Duration::from_secs(10),
        }
    }
}

/// The remote write queues of the configuration in force.
pub struct RemoteWrite {
    options: Options,
    metadata: Arc<dyn MetadataSource>,
    queues: tokio::sync::Mutex<Vec<Queue>>,
    /// (name, redacted URL, metrics) of the running queues.
    running: Mutex<Vec<(String, String, Arc<metrics::QueueMetrics>)>>,
    /// Set by [`RemoteWrite::stop`]: a reload racing the shutdown starts
    /// nothing.
    stopped: std::sync::atomic::AtomicBool,
}

/// The queue's name: `name`, or (as Prometheus) the first six hex digits
/// of a hash of the configuration.
pub fn queue_name(config: &RemoteWriteConfig) -> String {
    if !config.name.is_empty() {
        return config.name.clone();
    }
    let text = serde_json::to_string(config).unwrap_or_else(|_| config.url.clone());
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest[..3].iter().map(|b| format!("{b:02x}")).collect()
}

impl RemoteWrite {
    pub fn new(options: Options, metadata: Arc<dyn MetadataSource>) -> RemoteWrite {
        RemoteWrite {
            options,
            metadata,
            queues: tokio::sync::Mutex::new(Vec::new()),
            running: Mutex::new(Vec::new()),
            stopped: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Applies the `remote_write` entries: an unchanged queue keeps
    /// running, a changed one is stopped (flushed within the deadline,
    /// position saved) and started again, a removed one is stopped and its
    /// position file deleted. An entry that cannot start is an error
    /// naming it; the others apply.
    pub async fn apply(
        &self,
        configs: &[RemoteWriteConfig],
        external_labels: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        // Two queues of one name would share a position: refused, with
        // Prometheus' texts, before anything changes.
        let mut names = std::collections::BTreeSet::new();
        for config in configs {
            if !names.insert(queue_name(config)) {
                return Err(if config.name.is_empty() {
                    format!(
                        "duplicate remote write configs are not allowed, found duplicate for URL: {}",
                        wasmetheus_model::redact_url(&config.url)
                    )
                } else {
                    format!(
                        "found multiple remote write configs with job name {:?}",
                        config.name
                    )
                });
            }
        }
        let mut queues = self.queues.lock().await;
        if self.stopped.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        let mut old: Vec<Queue> = std::mem::take(&mut *queues);
        let mut errors = Vec::new();
        for config in configs {
            let name = queue_name(config);
            if let Some(i) = old.iter().position(|q| {
                q.name == name && &q.config == config && &q.external == external_labels
            }) {
                queues.push(old.swap_remove(i));
                continue;
            }
            // A changed queue: the old one stops (saving its position)
            // before the new one reads it.
            if let Some(i) = old.iter().position(|q| q.name == name) {
                old.swap_remove(i).stop().await;
            }
            let options = QueueOptions {
                wal_dir: self.options.wal_dir.clone(),
                position_file: self.options.state_dir.join(format!("{name}.position")),
                poll_interval: self.options.poll_interval,
                flush_deadline: self.options.flush_deadline,
                shard_update_interval: self.options.shard_update_interval,
                handle: tokio::runtime::Handle::current(),
            };
            // Blocking work (the WAL's end found by reading its last
            // segment, certificate files) off the async workers.
            let started = {
                let (config, external, name) =
                    (config.clone(), external_labels.clone(), name.clone());
                let source = Arc::clone(&self.metadata);
                tokio::task::spawn_blocking(move || {
                    Queue::start(&config, &external, &name, options, source)
                })
                .await
                .unwrap_or_else(|e| Err(format!("starting the remote write queue: {e}")))
            };
            match started {
                Ok(queue) => queues.push(queue),
                Err(e) => errors.push(format!(
                    "remote_write {name} ({}): {e}",
                    wasmetheus_model::redact_url(&config.url)
                )),
            }
        }
        // A removed queue: its position goes too, so one added again
        // later starts at the WAL's end instead of sending what was
        // written meanwhile.
        for queue in old {
            let path = self
                .options
                .state_dir
                .join(format!("{}.position", queue.name));
            queue.remove(path).await;
        }
        let mut running: Vec<_> = queues
            .iter()
            .map(|q| (q.name.clone(), q.url.clone(), Arc::clone(&q.metrics)))
            .collect();
        running.sort_by(|a, b| a.0.cmp(&b.0));
        *self.running.lock() = running;
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// Stops every queue: each sends what it holds within the flush
    /// deadline and saves its position.
    pub async fn stop(&self) {
        let mut guard = self.queues.lock().await;
        self.stopped
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let queues = std::mem::take(&mut *guard);
        drop(guard);
        let stops: Vec<_> = queues.into_iter().map(|q| tokio::spawn(q.stop())).collect();
        for stop in stops {
            let _ = stop.await;
        }
        self.running.lock().clear();
    }

    /// The self-metrics of the running queues (none when there are none).
    pub fn metrics(&self) -> Vec<MetricFamily> {
        let running = self.running.lock();
        if running.is_empty() {
            return Vec::new();
        }
        let queues: Vec<_> = running
            .iter()
            .map(|(n, u, m)| (n.clone(), u.clone(), m.as_ref()))
            .collect();
        metrics::families(&queues)
    }
}
