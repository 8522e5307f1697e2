//! The notification manager, as Prometheus' `notifier.Manager`: alerts are
//! relabeled and queued (bounded; the oldest dropped and counted when
//! full), one send loop takes batches of at most `max_batch_size` and sends
//! each to every Alertmanager of every `alertmanagers` entry concurrently
//! (with that entry's `alert_relabel_configs`, timeout and HTTP client). A
//! batch that reaches no Alertmanager of some entry that was tried counts
//! as dropped. On stop the queue is drained, within a bound.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use wasmetheus_config::{AlertingConfig, AlertmanagerConfig, Config};
use wasmetheus_model::{Label, MetricFamily};
use wasmetheus_relabel::RelabelConfig;

use crate::NotifierError;
use crate::alert::{Alert, encode_alerts, relabel_alerts};
use crate::client::Client;
use crate::discovery::{Discovered, RejectedAlertmanager, TargetGroup, discover};
use crate::metrics::{Gauges, Metrics};

/// Prometheus' `DefaultMaxBatchSize`.
pub const DEFAULT_MAX_BATCH_SIZE: usize = 256;
/// Prometheus' default `--alertmanager.notification-queue-capacity`.
pub const DEFAULT_QUEUE_CAPACITY: usize = 10_000;

/// How the manager queues and sends.
#[derive(Debug, Clone)]
pub struct Options {
    /// Alerts waiting to be sent at most; beyond it the oldest are dropped.
    pub queue_capacity: usize,
    /// `global.external_labels`, added to alerts that lack them (sorted
    /// or not).
    pub external_labels: Vec<Label>,
    /// `alerting.alert_relabel_configs`.
    pub alert_relabel_configs: Vec<RelabelConfig>,
    /// Send what is queued when stopping (`--alertmanager.drain-notification-queue-on-shutdown`).
    pub drain_on_shutdown: bool,
    /// Alerts per request at most (0: the default).
    pub max_batch_size: usize,
    /// How long [`Manager::stop`] may spend sending what is left; `None`:
    /// the longest `timeout` of the configured Alertmanagers.
    pub drain_timeout: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            external_labels: Vec::new(),
            alert_relabel_configs: Vec::new(),
            drain_on_shutdown: true,
            max_batch_size: DEFAULT_MAX_BATCH_SIZE,
            drain_timeout: None,
        }
    }
}

/// One `alertmanagers` entry: its config, client and what was discovered.
#[derive(Debug)]
struct AlertmanagerSet {
    name: String,
    config: AlertmanagerConfig,
    /// The entry's HTTP client, or why the entry sends nothing: a setting
    /// the notifier does not implement yet (Prometheus would use it; we
    /// neither refuse the configuration nor send without it).
    client: Result<Client, String>,
    groups: Mutex<Vec<TargetGroup>>,
    discovered: Mutex<Discovered>,
}

/// The alert relabeling, replaced by a reload.
#[derive(Debug, Clone)]
struct Relabeling {
    external_labels: Vec<Label>,
    configs: Vec<RelabelConfig>,
}

#[derive(Debug)]
struct Shared {
    capacity: usize,
    max_batch: usize,
    drain_on_shutdown: bool,
    drain_timeout: Option<Duration>,
    relabeling: Mutex<Relabeling>,
    queue: Mutex<VecDeque<Alert>>,
    sets: Mutex<Vec<Arc<AlertmanagerSet>>>,
    more: Notify,
    /// `Some(deadline)` once stopping: sends are cut at the deadline.
    stop: watch::Sender<Option<Instant>>,
    metrics: Metrics,
}

/// Sends alerts to Alertmanagers (see the module documentation).
#[derive(Debug)]
pub struct Manager {
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Manager {
    /// A manager with no Alertmanager yet; nothing is sent before
    /// [`Manager::run`].
    pub fn new(options: Options) -> Manager {
        let mut external_labels = options.external_labels;
        external_labels.sort_by(|a, b| a.name.cmp(&b.name));
        Manager {
            shared: Arc::new(Shared {
                capacity: options.queue_capacity,
                max_batch: if options.max_batch_size == 0 {
                    DEFAULT_MAX_BATCH_SIZE
                } else {
                    options.max_batch_size
                },
                drain_on_shutdown: options.drain_on_shutdown,
                drain_timeout: options.drain_timeout,
                relabeling: Mutex::new(Relabeling {
                    external_labels,
                    configs: options.alert_relabel_configs,
                }),
                queue: Mutex::new(VecDeque::new()),
                sets: Mutex::new(Vec::new()),
                more: Notify::new(),
                stop: watch::Sender::new(None),
                metrics: Metrics::default(),
            }),
            task: Mutex::new(None),
        }
    }

    /// Starts the send loop on the current Tokio runtime (once; later calls
    /// do nothing). Must be called within a runtime. Until then alerts
    /// only queue up.
    pub fn run(&self) {
        let mut task = self.task.lock();
        if task.is_none() {
            let shared = Arc::clone(&self.shared);
            *task = Some(tokio::spawn(shared.send_loop()));
        }
    }

    /// Stops the send loop: when draining, what is queued is sent until
    /// the queue is empty or the drain bound has passed (a stalled
    /// Alertmanager's request is cut at that bound); what is left is
    /// counted as dropped. Returns once the loop has ended; safe to call
    /// more than once.
    pub async fn stop(&self) {
        let bound = self.shared.drain_timeout.unwrap_or_else(|| {
            self.shared
                .sets
                .lock()
                .iter()
                .map(|set| set.config.timeout.0)
                .max()
                .unwrap_or(Duration::ZERO)
        });
        self.shared.stop.send_if_modified(|deadline| {
            if deadline.is_none() {
                *deadline = Some(Instant::now() + bound);
                true
            } else {
                false
            }
        });
        let task = self.task.lock().take();
        if let Some(task) = task {
            let _ = task.await;
        } else {
            // Never run: nothing will be sent.
            self.shared.drop_queue();
        }
    }

    /// Queues `alerts` (Prometheus' `Send`): external labels the alert
    /// lacks are added, `alert_relabel_configs` applied (an alert relabeled
    /// to nothing is left out); when the queue would overflow, the oldest
    /// alerts are dropped and counted.
    pub fn send(&self, alerts: &[Alert]) {
        let relabeling = self.shared.relabeling.lock().clone();
        let mut alerts = relabel_alerts(&relabeling.configs, &relabeling.external_labels, alerts);
        if alerts.is_empty() {
            return;
        }
        let capacity = self.shared.capacity;
        if alerts.len() > capacity {
            let excess = alerts.len() - capacity;
            alerts.drain(..excess);
            tracing::warn!(
                num_dropped = excess,
                "Alert batch larger than queue capacity, dropping alerts"
            );
            self.shared.metrics.dropped(excess);
        }
        {
            let mut queue = self.shared.queue.lock();
            let overflow = (queue.len() + alerts.len()).saturating_sub(capacity);
            if overflow > 0 {
                queue.drain(..overflow);
                tracing::warn!(
                    num_dropped = overflow,
                    "Alert notification queue full, dropping alerts"
                );
                self.shared.metrics.dropped(overflow);
            }
            queue.extend(alerts);
        }
        self.shared.more.notify_one();
    }

    /// Applies a (re)loaded configuration: external labels, alert
    /// relabeling and the `alertmanagers` entries (named `config-0`,
    /// `config-1`, … by position, as Prometheus names them). An entry whose
    /// config is unchanged keeps what was discovered for it; a new one
    /// starts with its `static_configs`. The queue is kept. On error
    /// nothing changes.
    pub fn apply_config(&self, config: &Config) -> Result<(), NotifierError> {
        let external_labels = config
            .global
            .external_labels
            .iter()
            .map(|(name, value)| Label::new(name.as_str(), value.as_str()))
            .collect();
        self.apply_alerting(external_labels, &config.alerting)
    }

    /// [`Manager::apply_config`] from its parts.
    pub fn apply_alerting(
        &self,
        mut external_labels: Vec<Label>,
        alerting: &AlertingConfig,
    ) -> Result<(), NotifierError> {
        let old = self.shared.sets.lock().clone();
        let mut sets = Vec::with_capacity(alerting.alertmanagers.len());
        for (i, config) in alerting.alertmanagers.iter().enumerate() {
            let name = format!("config-{i}");
            let client = match Client::new(config) {
                Ok(client) => Ok(client),
                Err(NotifierError::Unsupported(what)) => {
                    let reason = format!("{what} not supported for Alertmanagers yet");
                    tracing::warn!(
                        config = %name,
                        "Alertmanager config {name}: {reason}: its Alertmanagers get no alerts"
                    );
                    Err(reason)
                }
                Err(e) => {
                    return Err(NotifierError::Alertmanagers {
                        name: name.clone(),
                        source: Box::new(e),
                    });
                }
            };
            let (groups, discovered) = match old.iter().find(|set| set.config == *config) {
                Some(set) => {
                    let groups = set.groups.lock().clone();
                    (groups, set.discovered.lock().clone())
                }
                None => {
                    // A changed entry with discovery keeps the groups found
                    // for it until its sources send theirs (at once after a
                    // reload), so what disappears then is synced away.
                    let groups = match old.get(i) {
                        Some(before) if has_discovery(config) => before.groups.lock().clone(),
                        _ => static_target_groups(config),
                    };
                    let discovered = discover(&groups, config);
                    log_rejected(&discovered);
                    self.shared.metrics.sync(&discovered.active, &[]);
                    (groups, discovered)
                }
            };
            sets.push(Arc::new(AlertmanagerSet {
                name,
                config: config.clone(),
                client,
                groups: Mutex::new(groups),
                discovered: Mutex::new(discovered),
            }));
        }
        // The Alertmanagers of entries that went away lose their series,
        // and so do those a changed entry without discovery no longer
        // lists, unless an entry in force has the same URL. A changed entry
        // with discovery is synced by its first discovered groups (which
        // the server sends at once after a reload), so that the counters of
        // Alertmanagers it finds again keep counting.
        let kept: HashSet<String> = sets
            .iter()
            .flat_map(|set| set.discovered.lock().active.clone())
            .collect();
        let mut gone: Vec<String> = Vec::new();
        for (i, before) in old.iter().enumerate() {
            let static_only = match sets.get(i) {
                None => true,
                Some(now) if now.config == before.config => continue,
                Some(now) => !has_discovery(&now.config),
            };
            if static_only {
                gone.extend(
                    before
                        .discovered
                        .lock()
                        .active
                        .iter()
                        .filter(|url| !kept.contains(*url))
                        .cloned(),
                );
            }
        }
        self.shared.metrics.sync(&[], &gone);
        external_labels.sort_by(|a, b| a.name.cmp(&b.name));
        *self.shared.relabeling.lock() = Relabeling {
            external_labels,
            configs: alerting.alert_relabel_configs.clone(),
        };
        *self.shared.sets.lock() = sets;
        Ok(())
    }

    /// Replaces every target group of the `alertmanagers` entry named
    /// `config_name` (`config-N`) by `groups`: all of its discovered groups
    /// together, static ones included.
    pub fn set_target_groups(
        &self,
        config_name: &str,
        groups: Vec<TargetGroup>,
    ) -> Result<(), NotifierError> {
        let set = self
            .shared
            .sets
            .lock()
            .iter()
            .find(|set| set.name == config_name)
            .cloned()
            .ok_or_else(|| NotifierError::UnknownConfig(config_name.to_owned()))?;
        let discovered = discover(&groups, &set.config);
        log_rejected(&discovered);
        let mut current = set.discovered.lock();
        let now: HashSet<&String> = discovered.active.iter().collect();
        let before: HashSet<&String> = current.active.iter().collect();
        let added: Vec<String> = discovered
            .active
            .iter()
            .filter(|u| !before.contains(u))
            .cloned()
            .collect();
        let removed: Vec<String> = current
            .active
            .iter()
            .filter(|u| !now.contains(u))
            .cloned()
            .collect();
        self.shared.metrics.sync(&added, &removed);
        *current = discovered;
        drop(current);
        // Taken one at a time, never one while holding the other.
        *set.groups.lock() = groups;
        Ok(())
    }

    /// The names of the `alertmanagers` entries, in order.
    pub fn config_names(&self) -> Vec<String> {
        self.shared
            .sets
            .lock()
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }

    /// The URLs alerts are sent to, per entry in order
    /// (`/api/v1/alertmanagers`' `activeAlertmanagers`).
    pub fn alertmanagers(&self) -> Vec<String> {
        // An entry that sends nothing (a setting not implemented yet, see
        // `disabled_configs`) has no active Alertmanager.
        let sets = self.shared.sets.lock().clone();
        sets.iter()
            .filter(|set| set.client.is_ok())
            .flat_map(|set| set.discovered.lock().active.clone())
            .collect()
    }

    /// The URLs relabeling dropped (`droppedAlertmanagers`).
    pub fn dropped_alertmanagers(&self) -> Vec<String> {
        self.collect(|d| d.dropped.clone())
    }

    /// The `alertmanagers` entries that send nothing because of a setting
    /// the notifier does not implement yet: (`config-N`, reason).
    pub fn disabled_configs(&self) -> Vec<(String, String)> {
        self.shared
            .sets
            .lock()
            .iter()
            .filter_map(|set| {
                set.client
                    .as_ref()
                    .err()
                    .map(|reason| (set.name.clone(), reason.clone()))
            })
            .collect()
    }

    /// Alertmanagers whose URL is unusable, with the reason.
    pub fn rejected_alertmanagers(&self) -> Vec<RejectedAlertmanager> {
        self.collect(|d| d.rejected.clone())
    }

    fn collect<T>(&self, part: impl Fn(&Discovered) -> Vec<T>) -> Vec<T> {
        let sets = self.shared.sets.lock().clone();
        sets.iter()
            .flat_map(|set| part(&set.discovered.lock()))
            .collect()
    }

    /// Alerts waiting to be sent.
    pub fn queue_len(&self) -> usize {
        self.shared.queue.lock().len()
    }

    /// The `prometheus_notifications_*` families.
    pub fn metrics(&self) -> Vec<MetricFamily> {
        let discovered = self.alertmanagers().len();
        self.shared.metrics.families(Gauges {
            queue_length: self.queue_len(),
            queue_capacity: self.shared.capacity,
            discovered,
        })
    }
}

impl Drop for Manager {
    /// A manager dropped without [`Manager::stop`] ends its send loop
    /// at once (nothing is drained).
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().take() {
            task.abort();
        }
    }
}

fn log_rejected(discovered: &Discovered) {
    for rejected in &discovered.rejected {
        tracing::warn!(
            alertmanager = %rejected.url,
            reason = %rejected.reason,
            "Alertmanager not used"
        );
    }
}

/// Whether an entry finds Alertmanagers other than its static ones.
fn has_discovery(config: &AlertmanagerConfig) -> bool {
    !config.file_sd_configs.is_empty()
        || !config.http_sd_configs.is_empty()
        || !config.dns_sd_configs.is_empty()
        || !config.service_discoveries().is_empty()
}

/// The target groups of `config`'s `static_configs`, one per entry, its
/// position as source (as Prometheus' static discovery gives them).
pub fn static_target_groups(config: &AlertmanagerConfig) -> Vec<TargetGroup> {
    config
        .static_configs
        .iter()
        .enumerate()
        .map(|(i, sc)| TargetGroup {
            labels: sc
                .labels
                .iter()
                .map(|(n, v)| Label::new(n.as_str(), v.as_str()))
                .collect(),
            ..TargetGroup::from_addresses(&i.to_string(), &sc.targets)
        })
        .collect()
}

impl Shared {
    async fn send_loop(self: Arc<Self>) {
        let mut stop = self.stop.subscribe();
        loop {
            if stop.borrow_and_update().is_some() {
                break;
            }
            tokio::select! {
                biased;
                _ = stop.changed() => break,
                _ = self.more.notified() => {
                    self.send_one_batch().await;
                    if !self.queue.lock().is_empty() {
                        self.more.notify_one();
                    }
                }
            }
        }
        self.drain().await;
        tracing::info!("Notification manager stopped");
    }

    async fn drain(&self) {
        if !self.drain_on_shutdown {
            let left = self.drop_queue();
            if left > 0 {
                tracing::warn!(
                    count = left,
                    "Draining remaining notifications on shutdown is disabled, and some notifications have been dropped"
                );
            }
            return;
        }
        let deadline = (*self.stop.borrow()).unwrap_or_else(Instant::now);
        while !self.queue.lock().is_empty() {
            if Instant::now() >= deadline {
                let left = self.drop_queue();
                tracing::warn!(
                    count = left,
                    "Notifications left after the shutdown deadline were dropped"
                );
                return;
            }
            self.send_one_batch().await;
        }
    }

    /// Empties the queue, counting its alerts as dropped.
    fn drop_queue(&self) -> usize {
        let left = {
            let mut queue = self.queue.lock();
            let left = queue.len();
            queue.clear();
            left
        };
        self.metrics.dropped(left);
        left
    }

    async fn send_one_batch(&self) {
        let batch: Vec<Alert> = {
            let mut queue = self.queue.lock();
            let n = queue.len().min(self.max_batch);
            queue.drain(..n).collect()
        };
        if !self.send_all(&batch).await {
            self.metrics.dropped(batch.len());
        }
    }

    /// Prometheus' `sendAll`: true when every entry that was tried (one
    /// with Alertmanagers and alerts left after its relabeling) reached at
    /// least one of its Alertmanagers.
    async fn send_all(&self, alerts: &[Alert]) -> bool {
        if alerts.is_empty() {
            return true;
        }
        let begin = Instant::now();
        let sets = self.sets.lock().clone();
        let mut cached: Option<Bytes> = None;
        let mut requests = tokio::task::JoinSet::new();
        // Per entry: the alerts sent to each of its Alertmanagers, and
        // whether one of them took them; `None` when the entry was not tried.
        let mut tried: Vec<Option<(usize, bool)>> = vec![None; sets.len()];
        for (index, set) in sets.iter().enumerate() {
            let Ok(client) = &set.client else {
                continue;
            };
            let urls = set.discovered.lock().active.clone();
            if urls.is_empty() {
                continue;
            }
            let (payload, count) = if set.config.alert_relabel_configs.is_empty() {
                let payload = cached
                    .get_or_insert_with(|| Bytes::from(encode_alerts(alerts)))
                    .clone();
                (payload, alerts.len())
            } else {
                let relabeled = relabel_alerts(&set.config.alert_relabel_configs, &[], alerts);
                if relabeled.is_empty() {
                    continue;
                }
                (Bytes::from(encode_alerts(&relabeled)), relabeled.len())
            };
            tried[index] = Some((count, false));
            for url in urls {
                let client = client.clone();
                let timeout = set.config.timeout.0;
                let payload = payload.clone();
                let stop = self.stop.subscribe();
                requests.spawn(async move {
                    let result = tokio::select! {
                        biased;
                        () = shutdown_deadline(stop) => {
                            Err("the notifier was stopped before the request ended".to_owned())
                        }
                        result = tokio::time::timeout(timeout, client.post(&url, payload)) => {
                            result.unwrap_or_else(|_| Err("context deadline exceeded".to_owned()))
                        }
                    };
                    (index, url, result)
                });
            }
        }
        while let Some(joined) = requests.join_next().await {
            let Ok((index, url, result)) = joined else {
                continue;
            };
            let Some(Some((count, covered))) = tried.get_mut(index) else {
                continue;
            };
            match &result {
                Ok(()) => *covered = true,
                Err(error) => tracing::error!(
                    alertmanager = %url,
                    count = *count,
                    err = %error,
                    "Error sending alerts"
                ),
            }
            self.metrics
                .observe(&url, *count, begin.elapsed(), result.is_err());
        }
        tried.iter().flatten().all(|(_, covered)| *covered)
    }
}

/// Resolves at the shutdown deadline (never before a stop).
async fn shutdown_deadline(mut stop: watch::Receiver<Option<Instant>>) {
    loop {
        let deadline = *stop.borrow_and_update();
        if let Some(deadline) = deadline {
            tokio::time::sleep_until(deadline.into()).await;
            return;
        }
        if stop.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
