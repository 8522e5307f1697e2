//! Starting, reloading and stopping the Alertmanager: the state opened
//! once; per configuration a [`Running`] set (receiver plugin senders,
//! inhibitor and its feed, pipeline, dispatcher) built whole and swapped
//! in, as upstream's reload stops the old dispatcher and starts a new one
//! whose groups are rebuilt from the alert store (the notification log
//! keeps what was sent from being sent again).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use parking_lot::{Mutex, RwLock};
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;
use wasmetheus_alertmanager::dispatch::{Dispatcher, NotifyMetrics, Pipeline};
use wasmetheus_alertmanager::{
    Alert, Alerts, Inhibitor, Marker, Silencer, State, StateOptions, system_clock,
};
use wasmetheus_alertmanager_config::{Config, NamedTimeInterval, Route};
use wasmetheus_api::types::alertmanager::PostableAlert;
use wasmetheus_config::Grants;
use wasmetheus_plugin_runtime::{PluginRuntime, ReceiverRuntime};

use crate::error::ServiceError;
use crate::integration::{self, BuildContext, Gate};

/// How long [`Service::shutdown`] waits for notifications in progress.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How to run the Alertmanager.
#[derive(Clone)]
pub struct ServiceOptions {
    /// alertmanager.yml.
    pub config_file: PathBuf,
    /// The sled state directory (created when missing).
    pub storage_path: PathBuf,
    /// `--data.retention`.
    pub retention: Duration,
    /// The URL the Alertmanager is reached at (`.ExternalURL`).
    pub external_url: String,
    /// Where `<integration>-receiver.wasm` are found.
    pub plugins_dir: PathBuf,
    /// The shared plugin engine.
    pub runtime: PluginRuntime,
    /// `--alerts.gc-interval`.
    pub alerts_gc_interval: Duration,
    /// `--data.maintenance-interval`.
    pub maintenance_interval: Duration,
    /// Grants added to every sender of a receiver plugin, by plugin name
    /// (`webhook-receiver`), as the server's `plugins.grants`; beyond
    /// what each integration's configuration names.
    pub plugin_grants: BTreeMap<String, Grants>,
}

impl ServiceOptions {
    /// Options with Alertmanager's defaults (retention 120h, external URL
    /// `http://localhost:9093`).
    pub fn new(
        config_file: PathBuf,
        storage_path: PathBuf,
        plugins_dir: PathBuf,
        runtime: PluginRuntime,
    ) -> Self {
        ServiceOptions {
            config_file,
            storage_path,
            retention: Duration::from_secs(120 * 3600),
            external_url: "http://localhost:9093".to_owned(),
            plugins_dir,
            runtime,
            alerts_gc_interval: wasmetheus_alertmanager::DEFAULT_ALERTS_GC_INTERVAL,
            maintenance_interval: wasmetheus_alertmanager::DEFAULT_MAINTENANCE_INTERVAL,
            plugin_grants: BTreeMap::new(),
        }
    }
}

impl std::fmt::Debug for ServiceOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceOptions")
            .field("config_file", &self.config_file)
            .field("storage_path", &self.storage_path)
            .field("retention", &self.retention)
            .field("external_url", &self.external_url)
            .field("plugins_dir", &self.plugins_dir)
            .field("plugin_grants", &self.plugin_grants)
            .finish_non_exhaustive()
    }
}

/// What one configuration runs: built whole, then swapped in.
pub(crate) struct Running {
    pub config: Config,
    pub route: Route,
    pub dispatcher: Dispatcher,
    pub inhibitor: Arc<Inhibitor>,
    pub time_intervals: HashMap<String, NamedTimeInterval>,
    /// `alertmanager_config_hash`.
    pub hash: f64,
    pub integrations: usize,
    /// Its open senders (a reload takes over the unchanged ones).
    senders: integration::Senders,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Running {
    fn stop(&self) {
        self.dispatcher.stop();
        for t in self.tasks.lock().drain(..) {
            t.abort();
        }
    }
}

/// The outcome of the last reload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReloadStatus {
    pub successful: bool,
    /// When the last successful (re)load happened.
    pub success_time: Timestamp,
}

/// `alertmanager_alerts_received_total` and `_invalid_total`.
#[derive(Debug, Default)]
pub(crate) struct Received {
    pub firing: AtomicU64,
    pub resolved: AtomicU64,
    pub invalid: AtomicU64,
}

/// The running Alertmanager.
pub struct Service {
    pub(crate) options: ServiceOptions,
    pub(crate) state: Arc<State>,
    pub(crate) marker: Arc<Marker>,
    pub(crate) silencer: Silencer,
    receivers: ReceiverRuntime,
    gate: Arc<Gate>,
    pub(crate) notify_metrics: Arc<NotifyMetrics>,
    running: RwLock<Arc<Running>>,
    reload_lock: tokio::sync::Mutex<()>,
    pub(crate) started: Timestamp,
    pub(crate) reload_status: Mutex<ReloadStatus>,
    pub(crate) received: Received,
    maintenance: Mutex<Option<JoinHandle<()>>>,
    stopped: AtomicBool,
    /// [`ServiceOptions::plugin_grants`], replaced by
    /// [`Service::set_plugin_grants`].
    plugin_grants: RwLock<BTreeMap<String, Grants>>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// `md5HashAsMetricValue`: the first 48 bits of the file's MD5, little
/// endian, as a float (exact in its mantissa).
fn config_hash(text: &str) -> f64 {
    use md5::Digest;
    let sum = md5::Md5::digest(text.as_bytes());
    let mut bytes = [0u8; 8];
    bytes[..6].copy_from_slice(&sum[..6]);
    u64::from_le_bytes(bytes) as f64
}

async fn load_config(path: PathBuf) -> Result<Config, ServiceError> {
    tokio::task::spawn_blocking(move || Config::load(&path))
        .await
        .map_err(|e| ServiceError::Internal(format!("loading the configuration: {e}")))?
        .map_err(ServiceError::Config)
}

/// Feeds the inhibitor every alert (held now, then each change).
async fn feed_inhibitor(alerts: Arc<Alerts>, inhibitor: Arc<Inhibitor>) {
    loop {
        let (current, mut rx) = alerts.subscribe();
        for a in &current {
            inhibitor.observe(a);
        }
        loop {
            match rx.recv().await {
                Ok(a) => inhibitor.observe(&a),
                Err(RecvError::Lagged(_)) => break,
                Err(RecvError::Closed) => return,
            }
        }
    }
}

impl Service {
    /// Loads the config, opens the state, loads receiver plugins, starts
    /// the dispatcher, the inhibitor's feed and maintenance. Errors are
    /// the user's to read: the config's `file:line:col`, a missing
    /// receiver plugin by path.
    pub async fn start(options: ServiceOptions) -> Result<Arc<Service>, ServiceError> {
        let config = load_config(options.config_file.clone()).await?;
        let path = options.storage_path.clone();
        let state_options = StateOptions {
            retention: SignedDuration::try_from(options.retention)
                .unwrap_or(wasmetheus_alertmanager::DEFAULT_RETENTION),
            ..StateOptions::default()
        };
        let state = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&path).map_err(|e| wasmetheus_alertmanager::OpenError {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            State::open(&path, state_options)
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("opening the state: {e}")))??;
        let state = Arc::new(state);
        let marker = Arc::new(Marker::new());
        let silencer = Silencer::new(Arc::clone(&state.silences), Arc::clone(&marker));
        let receivers = ReceiverRuntime::new(&options.runtime);
        let gate = Arc::new(Gate::default());
        let notify_metrics = Arc::new(NotifyMetrics::default());
        let running = build_running(
            config,
            &options,
            &options.plugin_grants,
            &receivers,
            &gate,
            &state,
            &marker,
            &silencer,
            &notify_metrics,
            &integration::Senders::new(),
        )
        .await?;
        let service = Arc::new(Service {
            plugin_grants: RwLock::new(options.plugin_grants.clone()),
            options,
            state,
            marker,
            silencer,
            receivers,
            gate,
            notify_metrics,
            running: RwLock::new(Arc::new(running)),
            reload_lock: tokio::sync::Mutex::new(()),
            started: Timestamp::now(),
            reload_status: Mutex::new(ReloadStatus {
                successful: true,
                success_time: Timestamp::now(),
            }),
            received: Received::default(),
            maintenance: Mutex::new(None),
            stopped: AtomicBool::new(false),
        });
        service.running().start();
        let weak = Arc::downgrade(&service);
        let (every, alerts_every) = (
            service.options.maintenance_interval,
            service.options.alerts_gc_interval,
        );
        *service.maintenance.lock() = Some(tokio::spawn(maintenance(weak, every, alerts_every)));
        tracing::info!(
            config = %service.options.config_file.display(),
            "Alertmanager started"
        );
        Ok(service)
    }

    /// The configuration running now.
    pub(crate) fn running(&self) -> Arc<Running> {
        Arc::clone(&self.running.read())
    }

    /// The API v2 backend.
    pub fn backend(self: &Arc<Self>) -> Arc<dyn wasmetheus_api::AlertmanagerBackend> {
        Arc::clone(self) as Arc<dyn wasmetheus_api::AlertmanagerBackend>
    }

    /// Re-reads the configuration file and the receiver plugins; on any
    /// error the old configuration keeps running and the error is
    /// returned (`alertmanager_config_last_reload_successful` 0). Alerts,
    /// silences and the notification log are kept.
    pub async fn reload(&self) -> Result<(), ServiceError> {
        let _one_at_a_time = self.reload_lock.lock().await;
        if self.stopped.load(Ordering::Acquire) {
            return Err(ServiceError::ShuttingDown);
        }
        let built = match load_config(self.options.config_file.clone()).await {
            Ok(config) => {
                let explicit_grants = self.plugin_grants.read().clone();
                build_running(
                    config,
                    &self.options,
                    &explicit_grants,
                    &self.receivers,
                    &self.gate,
                    &self.state,
                    &self.marker,
                    &self.silencer,
                    &self.notify_metrics,
                    &self.running().senders,
                )
                .await
            }
            Err(e) => Err(e),
        };
        match built {
            Ok(new) => {
                let new = Arc::new(new);
                let old = {
                    // A shutdown that began while this was built (it does
                    // not wait for a reload for long) keeps what it stopped.
                    let mut running = self.running.write();
                    if self.stopped.load(Ordering::Acquire) {
                        drop(running);
                        new.stop();
                        return Err(ServiceError::ShuttingDown);
                    }
                    let old = std::mem::replace(&mut *running, Arc::clone(&new));
                    new.start();
                    old
                };
                old.stop();
                *self.reload_status.lock() = ReloadStatus {
                    successful: true,
                    success_time: Timestamp::now(),
                };
                tracing::info!(
                    config = %self.options.config_file.display(),
                    "Alertmanager configuration reloaded"
                );
                Ok(())
            }
            Err(e) => {
                self.reload_status.lock().successful = false;
                tracing::error!(error = %e, "reloading the Alertmanager configuration failed");
                Err(e)
            }
        }
    }

    /// Replaces [`ServiceOptions::plugin_grants`] (the server's
    /// `plugins.grants`, which its configuration reload may change); the
    /// next [`Service::reload`] opens the senders with them.
    pub fn set_plugin_grants(&self, grants: BTreeMap<String, Grants>) {
        *self.plugin_grants.write() = grants;
    }

    /// In-process alerts (the rule engine's): the same defaults were
    /// applied as `POST /api/v2/alerts` applies; each is validated and
    /// merged into the store. The error names the invalid alerts.
    pub fn put_alerts(&self, alerts: Vec<PostableAlert>) -> Result<(), String> {
        let now = Timestamp::now();
        let mut valid = Vec::with_capacity(alerts.len());
        let mut errors: Vec<String> = Vec::new();
        for p in alerts {
            let mut labels = p.labels;
            labels.retain(|_, v| !v.is_empty());
            let alert = Alert {
                labels,
                annotations: p.annotations,
                starts_at: Some(p.starts_at),
                ends_at: Some(p.ends_at),
                generator_url: p.generator_url,
                updated_at: Some(p.updated_at),
                timeout: p.timeout,
            };
            let counter = if alert.resolved_at(now) {
                &self.received.resolved
            } else {
                &self.received.firing
            };
            counter.fetch_add(1, Ordering::Relaxed);
            match alert.validate() {
                Ok(()) => valid.push(alert),
                Err(e) => {
                    self.received.invalid.fetch_add(1, Ordering::Relaxed);
                    errors.push(e.to_string());
                }
            }
        }
        // As upstream, an alert the store refuses is logged, not answered.
        for (fp, err) in self.state.alerts.put_all(valid) {
            tracing::error!(alert = %fp, %err, "failed to store the alert");
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// Stops the dispatcher (notifications in progress may finish, for at
    /// most 5 seconds; a reload in progress is waited for as long), the
    /// inhibitor's feed and maintenance, and flushes the state to disk.
    /// Later calls do nothing.
    pub async fn shutdown(&self) {
        if self.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        // A reload in progress (a plugin slow to open holds one for its
        // deadline, up to minutes) is waited for briefly, then left to
        // find the service stopped.
        let _no_reload = tokio::time::timeout(SHUTDOWN_GRACE, self.reload_lock.lock())
            .await
            .ok();
        if !self.gate.close(SHUTDOWN_GRACE).await {
            tracing::warn!("notifications still in progress at shutdown were cut");
        }
        self.running().stop();
        if let Some(t) = self.maintenance.lock().take() {
            t.abort();
        }
        let state = Arc::clone(&self.state);
        let flushed = tokio::task::spawn_blocking(move || state.db.flush()).await;
        match flushed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "flushing the Alertmanager state failed"),
            Err(e) => tracing::error!(error = %e, "flushing the Alertmanager state failed"),
        }
        tracing::info!("Alertmanager stopped");
    }
}

impl Drop for Service {
    /// A service dropped without [`Service::shutdown`] still stops its
    /// tasks (notifications in progress are cut).
    fn drop(&mut self) {
        self.running.read().stop();
        if let Some(t) = self.maintenance.lock().take() {
            t.abort();
        }
    }
}

impl Running {
    /// Starts the dispatcher and the inhibitor's feed.
    fn start(self: &Arc<Self>) {
        let dispatcher = self.dispatcher.clone();
        let run = tokio::spawn(async move { dispatcher.run().await });
        self.tasks.lock().push(run);
    }
}

/// Builds everything one configuration runs (nothing started but the
/// inhibitor's feed, so the inhibitor knows the alerts before the first
/// flush).
#[allow(clippy::too_many_arguments)]
async fn build_running(
    config: Config,
    options: &ServiceOptions,
    explicit_grants: &BTreeMap<String, Grants>,
    receivers: &ReceiverRuntime,
    gate: &Arc<Gate>,
    state: &Arc<State>,
    marker: &Arc<Marker>,
    silencer: &Silencer,
    notify_metrics: &Arc<NotifyMetrics>,
    previous: &integration::Senders,
) -> Result<Running, ServiceError> {
    let ctx = BuildContext {
        plugins_dir: &options.plugins_dir,
        runtime: receivers,
        external_url: options.external_url.as_str().into(),
        gate: Arc::clone(gate),
        explicit_grants,
        previous,
    };
    let (built, senders) = integration::build(&config, &ctx).await?;
    let integrations = built.iter().map(|(_, i)| i.len()).sum();
    let inhibitor = Arc::new(Inhibitor::new(&config.inhibit_rules));
    let mut intervals: Vec<NamedTimeInterval> = config.mute_time_intervals.clone();
    intervals.extend(config.time_intervals.iter().cloned());
    let mut pipeline = Pipeline::new(Arc::clone(&state.nflog), Arc::clone(marker))
        .with_inhibitor(Arc::clone(&inhibitor))
        .with_silencer(silencer.clone())
        .with_time_intervals(intervals.clone())
        .with_metrics(Arc::clone(notify_metrics));
    for (name, list) in built {
        pipeline = pipeline.with_receiver(&name, list);
    }
    let route = Route::new(&config.route);
    let dispatcher = Dispatcher::new(
        route.clone(),
        pipeline,
        Arc::clone(&state.alerts),
        system_clock(),
        0,
        None,
    );
    let feed = tokio::spawn(feed_inhibitor(
        Arc::clone(&state.alerts),
        Arc::clone(&inhibitor),
    ));
    Ok(Running {
        hash: config_hash(&config.original),
        route,
        dispatcher,
        inhibitor,
        time_intervals: intervals.into_iter().map(|i| (i.name.clone(), i)).collect(),
        integrations,
        senders,
        tasks: Mutex::new(vec![feed]),
        config,
    })
}

/// Collects silences and log entries past their retention every
/// `every`, resolved alerts every `alerts_every` (forgetting them in the
/// marker and the inhibitor), until the service is gone.
async fn maintenance(service: std::sync::Weak<Service>, every: Duration, alerts_every: Duration) {
    let mut tick = tokio::time::interval(every);
    let mut alerts_tick = tokio::time::interval(alerts_every);
    tick.tick().await;
    alerts_tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let Some(s) = service.upgrade() else { return };
                // The state's collections write to disk: off the executor.
                let _ = tokio::task::spawn_blocking(move || {
                    if let Err(err) = s.state.silences.gc().and_then(|_| s.state.nflog.gc()) {
                        tracing::warn!(%err, "collecting silences and the notification log failed");
                    }
                })
                .await;
            }
            _ = alerts_tick.tick() => {
                let Some(s) = service.upgrade() else { return };
                let _ = tokio::task::spawn_blocking(move || match s.state.alerts.gc() {
                    Ok(removed) => {
                        for a in &removed {
                            s.marker.delete(a.fingerprint());
                        }
                        s.running().inhibitor.gc(Timestamp::now());
                    }
                    Err(err) => tracing::warn!(%err, "collecting resolved alerts failed"),
                })
                .await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_hash_is_48_bits_of_md5() {
        // md5("") = d41d8cd98f00b204e9800998ecf8427e; bytes d4 1d 8c d9 8f 00
        // read little endian.
        let want = u64::from_le_bytes([0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0, 0]) as f64;
        assert_eq!(config_hash(""), want);
        // What Debian's Alertmanager 0.25 shows for this file.
        assert_eq!(
            config_hash("route:\n  receiver: a\nreceivers:\n- name: a\n"),
            156_439_772_548_116.0
        );
    }
}
