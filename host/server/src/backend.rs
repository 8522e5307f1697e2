//! The glue between the HTTP API, the scrape manager and the plugin runtime.

use crate::alertmanager_builtin::BUILTIN_RELOAD_ERROR;
use crate::config_source::ConfigSource;
use crate::discovery::{Discovered, Discovery};
use crate::scrape_targets::{TargetGroup, populate_all, scrape_options};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use wasmetheus_api::types::{
    ActiveTarget, CapabilityStatus, DroppedTarget, HeadStats, Metadata, MetricMetadata,
    PluginInstanceStatus, PluginStatus, RuntimeInfo, TargetHealth, TargetsStatus, TsdbStat,
    TsdbStatus,
};
use wasmetheus_api::{Backend, ReloadFuture};
use wasmetheus_config::Config;
use wasmetheus_model::storage::Queryable;
use wasmetheus_model::{Label, Metric, MetricFamily, MetricKind, MetricValue};
use wasmetheus_plugin_runtime::PluginRuntime;
use wasmetheus_scrape::{LatestStore, Target, Transport, TransportFuture};

/// The instance name of wasmetheus' own target.
const SELF_JOB: &str = "wasmetheus";

pub struct ServerBackend {
    runtime: PluginRuntime,
    db: Arc<wasmetheus_tsdb::Db>,
    source: ConfigSource,
    config: Mutex<Config>,
    self_instance: String,
    store: OnceLock<LatestStore>,
    /// Whether the last reload attempt succeeded, and failures since start.
    reloads: Mutex<(bool, u64)>,
    self_changes: Arc<tokio::sync::watch::Sender<u64>>,
    /// Target groups from service discovery, and the sources finding them.
    discovered: Discovered,
    discovery: Mutex<Option<Discovery>>,
    /// Targets `relabel_configs` dropped, by job, with the labels they
    /// were discovered with (for `/api/v1/targets`).
    dropped: Mutex<BTreeMap<String, Vec<Vec<Label>>>>,
    /// Serializes reloads (SIGHUP and HTTP may race).
    reload_lock: tokio::sync::Mutex<()>,
    /// `--web.enable-admin-api`.
    admin_api: std::sync::atomic::AtomicBool,
    /// The `--query.*` engine, `--` flags and `--web.enable-lifecycle`.
    query: Mutex<QuerySettings>,
    /// `--query.max-concurrency`.
    query_gate: Mutex<Arc<wasmetheus_api::QueryGate>>,
    started: std::time::SystemTime,
    /// The rule manager and the notifier, once started.
    alerting: OnceLock<Arc<crate::alerting::Alerting>>,
    /// The built-in Pushgateway (`--web.enable-pushgateway`), scraped
    /// in-process as job `pushgateway` with `honor_labels`.
    pushgateway: OnceLock<wasmetheus_pushgateway::Gateway>,
    /// The remote write receiver and remote read server, and what
    /// queries read (the TSDB with the `remote_read` entries).
    remote_endpoints: OnceLock<(
        crate::remote_storage::RemoteEndpoints,
        Arc<crate::remote_storage::RemoteReaders>,
    )>,
    /// The remote write queues, once started.
    remote_write: OnceLock<Arc<wasmetheus_remote_write::RemoteWrite>>,
}

#[derive(Default)]
struct QuerySettings {
    engine: wasmetheus_promql::engine::Engine,
    flags: BTreeMap<String, String>,
    lifecycle: bool,
    /// When the configuration in force was loaded.
    config_loaded: Option<std::time::SystemTime>,
}

impl ServerBackend {
    pub fn new(
        runtime: PluginRuntime,
        source: ConfigSource,
        config: Config,
        self_instance: String,
        db: Arc<wasmetheus_tsdb::Db>,
    ) -> Self {
        let (self_changes, _) = tokio::sync::watch::channel(0);
        let self_changes = Arc::new(self_changes);
        ServerBackend {
            runtime,
            db,
            source,
            config: Mutex::new(config),
            self_instance,
            store: OnceLock::new(),
            reloads: Mutex::new((true, 0)),
            self_changes,
            discovered: Discovered::default(),
            discovery: Mutex::new(None),
            dropped: Mutex::new(BTreeMap::new()),
            reload_lock: tokio::sync::Mutex::new(()),
            admin_api: std::sync::atomic::AtomicBool::new(false),
            query: Mutex::new(QuerySettings {
                config_loaded: Some(std::time::SystemTime::now()),
                ..QuerySettings::default()
            }),
            // Prometheus' default `--query.max-concurrency`.
            query_gate: Mutex::new(Arc::new(wasmetheus_api::QueryGate::new(20))),
            started: std::time::SystemTime::now(),
            alerting: OnceLock::new(),
            pushgateway: OnceLock::new(),
            remote_endpoints: OnceLock::new(),
            remote_write: OnceLock::new(),
        }
    }

    /// Attaches the remote write queues (once, at start, after the
    /// configuration was applied to them); reloads apply to them too.
    pub fn attach_remote_write(&self, remote_write: Arc<wasmetheus_remote_write::RemoteWrite>) {
        let _ = self.remote_write.set(remote_write);
    }

    /// The metric metadata of the scraped targets, as remote write sends
    /// it: per family name its first type, help and unit.
    pub fn remote_write_metadata(&self) -> Vec<wasmetheus_remote_write::MetricMetadata> {
        Backend::metadata(self)
            .into_iter()
            .filter_map(|(name, entries)| {
                let first = entries.into_iter().next()?;
                Some(wasmetheus_remote_write::MetricMetadata {
                    r#type: wasmetheus_remote_write::MetricType::from_word(&first.kind) as i32,
                    metric_family_name: name,
                    help: first.help,
                    unit: first.unit,
                })
            })
            .collect()
    }

    /// Attaches the remote write receiver, the remote read server and the
    /// `remote_read` readers (once, at start).
    pub fn attach_remote_endpoints(
        &self,
        endpoints: crate::remote_storage::RemoteEndpoints,
        readers: Arc<crate::remote_storage::RemoteReaders>,
    ) {
        let _ = self.remote_endpoints.set((endpoints, readers));
    }

    /// Attaches the built-in Pushgateway: its groups become a target.
    pub fn attach_pushgateway(&self, gateway: wasmetheus_pushgateway::Gateway) {
        let _ = self.pushgateway.set(gateway);
        self.self_changes.send_modify(|g| *g += 1);
    }

    /// The built-in Pushgateway's target: its instance is the server's
    /// address with `/pushgateway` (no plugin instance or HTTP target has
    /// a `/`), and pushed `job`/`instance` labels win over the target's.
    fn pushgateway_instance(&self) -> String {
        format!("{}/pushgateway", self.self_instance)
    }

    /// Attaches the rule manager and the notifier (once, at start, after
    /// the configuration was applied to them).
    pub fn attach_alerting(&self, alerting: Arc<crate::alerting::Alerting>) {
        let _ = self.alerting.set(alerting);
    }

    pub fn set_query_settings(
        &self,
        engine: wasmetheus_promql::engine::Engine,
        flags: BTreeMap<String, String>,
        lifecycle: bool,
    ) {
        let mut query = self.query.lock();
        query.engine = engine;
        query.flags = flags;
        query.lifecycle = lifecycle;
    }

    /// At most `max` queries evaluate at once; the others queue.
    pub fn set_query_concurrency(&self, max: usize) {
        *self.query_gate.lock() = Arc::new(wasmetheus_api::QueryGate::new(max));
    }

    pub fn enable_admin_api(&self, enabled: bool) {
        self.admin_api
            .store(enabled, std::sync::atomic::Ordering::Relaxed);
    }

    /// (Re)starts service discovery for the configuration in force.
    pub fn start_discovery(&self) {
        let config = self.config.lock().clone();
        let changes = Arc::clone(&self.self_changes);
        let changed: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            changes.send_modify(|g| *g += 1);
        });
        // The old sources stop before the new ones start.
        *self.discovery.lock() = None;
        let discovery = Discovery::start(&config, &self.discovered, changed);
        *self.discovery.lock() = Some(discovery);
    }

    /// The HTTP targets of every scrape config, relabeled, with the
    /// discovered ones; errors (a bad interval label, no address) are
    /// logged and the target skipped, as Prometheus does.
    fn scrape_config_targets(&self, config: &Config) -> Vec<Target> {
        let mut targets = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut all_dropped = BTreeMap::new();
        for scrape in &config.scrape_configs {
            let options = Arc::new(scrape_options(scrape));
            let mut groups: Vec<TargetGroup> = scrape
                .static_configs
                .iter()
                .enumerate()
                .map(|(i, s)| TargetGroup {
                    targets: s.targets.clone(),
                    labels: s.labels.clone(),
                    source: i.to_string(),
                })
                .collect();
            groups.extend(self.discovered.groups(&scrape.job_name));
            let (active, dropped, errors) = populate_all(scrape, &options, &groups);
            all_dropped.insert(scrape.job_name.clone(), dropped);
            for e in errors {
                tracing::warn!("skipping target: {e}");
            }
            // A target found twice (two groups, two files) is scraped once.
            targets.extend(active.into_iter().filter(|t| seen.insert(t.key())));
        }
        *self.dropped.lock() = all_dropped;
        targets
    }

    pub fn attach_store(&self, store: LatestStore) {
        let _ = self.store.set(store);
    }

    /// Reads the configuration again and applies it: the plugins, then the
    /// rules and the notifier, then discovery. A configuration that does
    /// not load is not applied at all; a part that cannot apply it (a
    /// rule file that does not load, Alertmanager settings the notifier
    /// refuses) keeps its previous state and the reload fails, as in
    /// Prometheus.
    pub async fn reload_config(&self) -> Result<(), String> {
        let _serialized = self.reload_lock.lock().await;
        let source = self.source.clone();
        let loaded = tokio::task::spawn_blocking(move || source.load())
            .await
            .map_err(|e| e.to_string())?;
        let config = match loaded {
            Ok(config) => config,
            Err(e) => {
                let mut reloads = self.reloads.lock();
                reloads.0 = false;
                reloads.1 += 1;
                return Err(e.to_string());
            }
        };
        for warning in &config.warnings {
            tracing::warn!("{warning}");
        }
        let runtime = self.runtime.clone();
        let applied = config.clone();
        tokio::task::spawn_blocking(move || runtime.apply_config(&applied))
            .await
            .map_err(|e| e.to_string())?;
        // Then the rules and the notifier, as Prometheus' reloaders: what
        // fails keeps its previous state, the rest of the configuration
        // is in force, and the reload counts as failed.
        let mut errors = match self.alerting.get() {
            Some(alerting) => {
                // Rule files are read and parsed off the async workers.
                let (alerting, applied) = (Arc::clone(alerting), config.clone());
                tokio::task::spawn_blocking(move || alerting.apply(&applied))
                    .await
                    .map_err(|e| e.to_string())?
            }
            None => Vec::new(),
        };
        // Remote read: new clients, or the previous ones on an error.
        if let Some((_, readers)) = self.remote_endpoints.get()
            && let Err(e) = readers.apply(&config).await
        {
            tracing::error!("applying remote_read: {e}");
            errors.push(e);
        }
        // Remote write: unchanged queues go on, changed ones restart.
        if let Some(remote_write) = self.remote_write.get()
            && let Err(e) = remote_write
                .apply(&config.remote_write, &config.global.external_labels)
                .await
        {
            tracing::error!("applying remote_write: {e}");
            errors.push(e);
        }
        let failed = !errors.is_empty();
        *self.config.lock() = config;
        self.query.lock().config_loaded = Some(std::time::SystemTime::now());
        self.self_changes.send_modify(|g| *g += 1);
        self.start_discovery();
        if failed {
            let mut reloads = self.reloads.lock();
            reloads.0 = false;
            reloads.1 += 1;
            // Prometheus' text; the built-in Alertmanager's own error (which
            // Prometheus has no counterpart of) is added to it.
            let mut text = self.source.apply_error();
            for e in errors
                .iter()
                .filter(|e| e.starts_with(BUILTIN_RELOAD_ERROR))
            {
                text.push_str(": ");
                text.push_str(e);
            }
            return Err(text);
        }
        self.reloads.lock().0 = true;
        tracing::info!("configuration reloaded");
        Ok(())
    }

    fn host_families(&self) -> Vec<MetricFamily> {
        let (last_successful, failed) = *self.reloads.lock();
        let gauge = |name: &str, help: &str, value: f64| {
            MetricFamily::single(name, MetricKind::Gauge, help, value)
        };
        let mut families = vec![
            MetricFamily {
                name: "wasmetheus_build_info".into(),
                kind: MetricKind::Gauge,
                help: "A metric with a constant '1' value labeled by version.".into(),
                unit: String::new(),
                metrics: vec![Metric {
                    labels: vec![Label::new("version", env!("CARGO_PKG_VERSION"))],
                    value: MetricValue::Number(1.0),
                    timestamp_ms: None,
                }],
            },
            gauge(
                "prometheus_config_last_reload_successful",
                "Whether the last configuration reload attempt was successful.",
                if last_successful { 1.0 } else { 0.0 },
            ),
            gauge(
                "wasmetheus_config_reloads_failed",
                "Configuration reloads that failed since start.",
                failed as f64,
            ),
        ];
        let gate = Arc::clone(&self.query_gate.lock());
        families.extend([
            gauge(
                "prometheus_engine_queries",
                "The current number of queries being executed or waiting.",
                (gate.running() + gate.waiting()) as f64,
            ),
            gauge(
                "prometheus_engine_queries_concurrent_max",
                "The max number of concurrent queries.",
                gate.max() as f64,
            ),
            gauge(
                "wasmetheus_engine_queries_waiting",
                "Queries waiting for a --query.max-concurrency slot.",
                gate.waiting() as f64,
            ),
        ]);
        let (dns_lookups, dns_failures) = crate::discovery::dns_sd_lookup_counts();
        families.extend([
            MetricFamily::single(
                "prometheus_sd_dns_lookups_total",
                MetricKind::Counter,
                "The number of DNS-SD lookups.",
                dns_lookups as f64,
            ),
            MetricFamily::single(
                "prometheus_sd_dns_lookup_failures_total",
                MetricKind::Counter,
                "The number of DNS-SD lookup failures.",
                dns_failures as f64,
            ),
        ]);
        families.extend(self.discovery_families());
        families.extend(self.db.metrics());
        families.extend(self.runtime.metrics());
        families
    }

    /// Prometheus' `prometheus_sd_discovered_targets` (targets found per
    /// scrape config, static ones included) and `prometheus_sd_failed_configs`
    /// (here: the discovery entries that do not run or failed to start), and one
    /// `wasmetheus_sd_discovery_not_running` series per such entry naming
    /// the mechanism and the reason.
    fn discovery_families(&self) -> Vec<MetricFamily> {
        let config = self.config.lock().clone();
        let statuses = self
            .discovery
            .lock()
            .as_ref()
            .map(|d| d.statuses().to_vec())
            .unwrap_or_default();
        let gauge = |name: &str, help: &str, metrics: Vec<Metric>| MetricFamily {
            name: name.into(),
            kind: MetricKind::Gauge,
            help: help.into(),
            unit: String::new(),
            metrics,
        };
        let metric = |labels: Vec<Label>, value: f64| Metric {
            labels,
            value: MetricValue::Number(value),
            timestamp_ms: None,
        };
        let discovered = config
            .scrape_configs
            .iter()
            .map(|scrape| {
                let statics: usize = scrape.static_configs.iter().map(|s| s.targets.len()).sum();
                let found: usize = self
                    .discovered
                    .groups(&scrape.job_name)
                    .iter()
                    .map(|g| g.targets.len())
                    .sum();
                metric(
                    vec![
                        Label::new("config", &scrape.job_name),
                        Label::new("name", "scrape"),
                    ],
                    (statics + found) as f64,
                )
            })
            .collect();
        let idle: Vec<&crate::discovery::DiscoveryStatus> = statuses
            .iter()
            .filter(|s| s.state == crate::discovery::DiscoveryState::NotRunning)
            .collect();
        // Not run, or failed to start: no targets from either.
        let failed = statuses
            .iter()
            .filter(|s| s.state != crate::discovery::DiscoveryState::Running)
            .count();
        let not_running = idle
            .iter()
            .map(|s| {
                metric(
                    vec![
                        Label::new("config", &s.job),
                        Label::new("index", s.index.to_string()),
                        Label::new("mechanism", &s.mechanism),
                        Label::new("reason", &s.reason),
                    ],
                    1.0,
                )
            })
            .collect();
        vec![
            gauge(
                "prometheus_sd_discovered_targets",
                "Current number of discovered targets.",
                discovered,
            ),
            gauge(
                "prometheus_sd_failed_configs",
                "Current number of service discovery configurations that failed to load.",
                vec![metric(vec![Label::new("name", "scrape")], failed as f64)],
            ),
            gauge(
                "wasmetheus_sd_discovery_not_running",
                "Service discovery entries that are parsed and validated but not run by this \
                 version, so produce no targets (1 per entry, with the mechanism and the reason).",
                not_running,
            ),
        ]
    }
}

impl Transport for ServerBackend {
    fn targets(&self) -> Vec<Target> {
        let config = self.config.lock().clone();
        let mut targets: Vec<Target> = self
            .runtime
            .targets()
            .into_iter()
            .map(|t| Target {
                instance: t.instance,
                job: t.job,
                interval: t.interval,
                timeout: t.timeout,
                labels: t.labels,
                http: None,
                options: Arc::default(),
            })
            .collect();
        targets.push(Target {
            instance: self.self_instance.clone(),
            job: SELF_JOB.to_owned(),
            interval: config.global.scrape_interval.0,
            timeout: config.global.scrape_timeout.0,
            labels: BTreeMap::new(),
            http: None,
            options: Arc::default(),
        });
        if self.pushgateway.get().is_some() {
            targets.push(Target {
                instance: self.pushgateway_instance(),
                job: "pushgateway".to_owned(),
                interval: config.global.scrape_interval.0,
                timeout: config.global.scrape_timeout.0,
                labels: BTreeMap::new(),
                http: None,
                options: Arc::new(wasmetheus_scrape::ScrapeOptions {
                    honor_labels: true,
                    ..wasmetheus_scrape::ScrapeOptions::default()
                }),
            });
        }
        targets.extend(self.scrape_config_targets(&config));
        targets
    }

    fn collect<'a>(&'a self, instance: &'a str) -> TransportFuture<'a> {
        Box::pin(async move {
            if instance == self.self_instance {
                return Ok(self.host_families());
            }
            if let Some(gateway) = self.pushgateway.get()
                && instance == self.pushgateway_instance()
            {
                let gateway = gateway.clone();
                return tokio::task::spawn_blocking(move || gateway.families())
                    .await
                    .map_err(|e| e.to_string());
            }
            self.runtime
                .collect(instance)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        // Either the runtime's targets or the global config changed.
        let (tx, rx) = tokio::sync::watch::channel(0u64);
        let mut runtime = self.runtime.subscribe();
        let mut own = self.self_changes.subscribe();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    r = runtime.changed() => if r.is_err() { return },
                    r = own.changed() => if r.is_err() { return },
                }
                if tx.send(0).is_err() {
                    return;
                }
            }
        });
        rx
    }
}

/// A snapshot's name as Prometheus forms it: UTC time
/// (`20060102T150405Z`, RFC 3339 without its separators), then random hex.
fn snapshot_name() -> String {
    let now = std::time::SystemTime::now();
    let nanos = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let time: String = wasmetheus_api::types::rfc3339_seconds(now)
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(&(nanos, std::process::id()), &mut hasher);
    format!("{time}-{:016x}", std::hash::Hasher::finish(&hasher))
}

/// The API's health of a target.
fn health(health: wasmetheus_scrape::TargetHealth) -> TargetHealth {
    match health {
        wasmetheus_scrape::TargetHealth::Unknown => TargetHealth::Unknown,
        wasmetheus_scrape::TargetHealth::Up => TargetHealth::Up,
        wasmetheus_scrape::TargetHealth::Down => TargetHealth::Down,
    }
}

/// The runtime's report of a plugin as the API shows it, with the health
/// of each instance's last scrape from `store`.
fn plugin_status(
    plugin: wasmetheus_plugin_runtime::PluginStatus,
    store: Option<&LatestStore>,
) -> PluginStatus {
    let instances = plugin
        .instances
        .into_iter()
        .map(|instance| {
            let state = store.and_then(|s| s.get(&instance.name));
            let state = state.as_ref();
            PluginInstanceStatus {
                capabilities: (instance.capabilities.into_iter())
                    .map(|c| CapabilityStatus {
                        capability: c.capability,
                        grant_with: c.grant_with,
                        granted: c.granted,
                        optional: c.optional,
                        reason: c.reason,
                    })
                    .collect(),
                // The scrape's error, if it failed, else the runtime's.
                error: state.and_then(|s| s.last_error.clone()).or(instance.error),
                health: state.map_or(TargetHealth::Unknown, |s| health(s.health)),
                job: instance.job,
                last_scrape: state.map(|s| s.last_scrape),
                last_scrape_duration: state.map(|s| s.last_duration_seconds),
                last_collect_error: instance.last_collect_error,
                name: instance.name,
                running: instance.running,
                samples: state.map(|s| s.series),
                up: state.map(|s| u8::from(s.health == wasmetheus_scrape::TargetHealth::Up)),
            }
        })
        .collect();
    PluginStatus {
        description: plugin.description,
        file: plugin.file,
        health: plugin.health.to_owned(),
        instances,
        last_error: plugin.last_error,
        load_duration_seconds: plugin.load_duration_seconds,
        loaded_at: plugin.loaded_at,
        loaded_from_cache: plugin.loaded_from_cache,
        name: plugin.name,
        plugin: plugin.plugin,
        version: plugin.version,
    }
}

impl Backend for ServerBackend {
    fn admin_enabled(&self) -> bool {
        self.admin_api.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn tsdb_snapshot(&self, skip_head: bool) -> wasmetheus_api::AdminFuture<'_, String> {
        let db = Arc::clone(&self.db);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let name = snapshot_name();
                let dir = db.dir().join("snapshots").join(&name);
                db.snapshot(&dir, skip_head).map_err(|e| e.to_string())?;
                tracing::info!(snapshot = %dir.display(), skip_head, "snapshot written");
                Ok(name)
            })
            .await
            .map_err(|e| e.to_string())?
        })
    }

    fn tsdb_delete_series(
        &self,
        selectors: Vec<Vec<wasmetheus_model::storage::Matcher>>,
        start: i64,
        end: i64,
    ) -> wasmetheus_api::AdminFuture<'_, ()> {
        let db = Arc::clone(&self.db);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                for matchers in &selectors {
                    let n = db.delete(matchers, start, end).map_err(|e| e.to_string())?;
                    tracing::info!(series = n, start, end, "deleted series data");
                }
                Ok(())
            })
            .await
            .map_err(|e| e.to_string())?
        })
    }

    fn tsdb_clean_tombstones(&self) -> wasmetheus_api::AdminFuture<'_, ()> {
        let db = Arc::clone(&self.db);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                db.clean_tombstones().map(drop).map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| e.to_string())?
        })
    }

    fn self_metrics(&self) -> Vec<MetricFamily> {
        let mut families = self.host_families();
        if let Some((endpoints, readers)) = self.remote_endpoints.get() {
            families.extend(endpoints.families());
            families.extend(readers.families());
        }
        if let Some(remote_write) = self.remote_write.get() {
            families.extend(remote_write.metrics());
        }
        if let Some(alerting) = self.alerting.get() {
            families.extend(alerting.metrics());
        }
        families
    }

    fn rule_groups(&self) -> Vec<wasmetheus_api::types::RuleGroup> {
        self.alerting
            .get()
            .map(|alerting| alerting.rule_groups())
            .unwrap_or_default()
    }

    fn alertmanagers_status(&self) -> wasmetheus_api::types::AlertmanagersStatus {
        self.alerting
            .get()
            .map(|alerting| alerting.alertmanagers_status())
            .unwrap_or_default()
    }

    fn instance_metrics(&self, instance: &str) -> Option<Result<Arc<Vec<MetricFamily>>, String>> {
        let state = self.store.get()?.get(instance)?;
        Some(match state.last_error {
            Some(e) => Err(e),
            None => Ok(state.families),
        })
    }

    fn plugins_status(&self) -> Vec<PluginStatus> {
        let store = self.store.get();
        (self.runtime.status().into_iter())
            .map(|plugin| plugin_status(plugin, store))
            .collect()
    }

    fn reload(&self) -> ReloadFuture<'_> {
        Box::pin(self.reload_config())
    }

    fn lifecycle_enabled(&self) -> bool {
        self.query.lock().lifecycle
    }

    fn remote_write_receiver(&self) -> Option<Arc<wasmetheus_remote::receiver::Receiver>> {
        self.remote_endpoints.get()?.0.receiver.clone()
    }

    fn storage(&self) -> Option<Arc<dyn wasmetheus_model::storage::Storage>> {
        Some(Arc::clone(&self.db) as Arc<dyn wasmetheus_model::storage::Storage>)
    }

    fn remote_read_server(&self) -> Option<Arc<wasmetheus_remote::read::ReadServer>> {
        Some(Arc::clone(&self.remote_endpoints.get()?.0.read))
    }

    fn queryable(&self) -> Option<Arc<dyn Queryable>> {
        if let Some((_, readers)) = self.remote_endpoints.get() {
            return Some(readers.queryable());
        }
        Some(Arc::clone(&self.db) as Arc<dyn Queryable>)
    }

    fn engine(&self) -> wasmetheus_promql::engine::Engine {
        self.query.lock().engine.clone()
    }

    fn query_gate(&self) -> Option<Arc<wasmetheus_api::QueryGate>> {
        Some(Arc::clone(&self.query_gate.lock()))
    }

    fn flags(&self) -> BTreeMap<String, String> {
        self.query.lock().flags.clone()
    }

    /// The configuration in force (not the file as it is now on disk),
    /// secrets redacted: those named like secrets, and the plugin settings
    /// each loaded plugin's config schema declares secret.
    fn config_text(&self) -> String {
        // The plugins first, so that the runtime is not asked under the
        // configuration's lock.
        let plugins: std::collections::BTreeSet<String> = (self.config.lock().plugins.instances)
            .iter()
            .filter(|instance| instance.config.is_some())
            .map(|instance| instance.plugin.clone())
            .collect();
        let declared = plugins
            .into_iter()
            .filter_map(|plugin| {
                let secrets = self.runtime.metadata(&plugin)?.declared_secrets;
                Some((plugin, secrets))
            })
            .collect();
        self.config.lock().to_yaml_with_declared_secrets(&declared)
    }

    fn runtime_info(&self) -> RuntimeInfo {
        let query = self.query.lock();
        let (reload_ok, _) = *self.reloads.lock();
        RuntimeInfo {
            cwd: (std::env::current_dir())
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
            go_debug: String::new(),
            go_gc: String::new(),
            go_max_procs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            go_mem_limit: 0,
            corruption_count: 0,
            goroutine_count: 0,
            last_config_time: query.config_loaded,
            reload_config_success: reload_ok,
            start_time: self.started,
            storage_retention: (query.flags.get("storage.tsdb.retention.time"))
                .cloned()
                .unwrap_or_default(),
        }
    }

    fn metadata(&self) -> Metadata {
        let mut out = Metadata::new();
        if let Some(store) = self.store.get() {
            for target in store.all() {
                for family in target.families.iter() {
                    let entry = MetricMetadata {
                        help: family.help.clone(),
                        kind: family.kind.as_str(false).to_owned(),
                        unit: family.unit.clone(),
                    };
                    let list = out.entry(family.name.clone()).or_default();
                    if !list.contains(&entry) {
                        list.push(entry);
                    }
                }
            }
        }
        out
    }

    fn targets_metadata(&self) -> Vec<wasmetheus_api::TargetMetadata> {
        let Some(store) = self.store.get() else {
            return Vec::new();
        };
        let mut out: Vec<(String, wasmetheus_api::TargetMetadata)> = Transport::targets(self)
            .iter()
            .filter_map(|t| {
                // A target not scraped yet has no metadata to show.
                let state = store.get(&t.key())?;
                let mut labels: BTreeMap<&str, &str> = t
                    .labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                labels.insert("job", &t.job);
                labels.insert("instance", &t.instance);
                let labels = labels.into_iter().map(|(k, v)| Label::new(k, v)).collect();
                let metadata = wasmetheus_api::TargetMetadata {
                    labels,
                    families: state.families,
                };
                Some((t.job.clone(), metadata))
            })
            .collect();
        out.sort_by(|a, b| (&a.0, &a.1.labels).cmp(&(&b.0, &b.1.labels)));
        out.into_iter().map(|(_, m)| m).collect()
    }

    fn external_labels(&self) -> Vec<Label> {
        self.config
            .lock()
            .global
            .external_labels
            .iter()
            .map(|(k, v)| Label::new(k.clone(), v.clone()))
            .collect()
    }

    fn tsdb_status(&self) -> TsdbStatus {
        use std::collections::HashMap;
        use wasmetheus_model::storage::{MatchType, Matcher, SelectHints};
        let families = self.db.metrics();
        let gauge = |name: &str| {
            families
                .iter()
                .find(|f| f.name == name)
                .and_then(|f| f.metrics.first())
                .and_then(|m| match m.value {
                    MetricValue::Number(v) => Some(v),
                    _ => None,
                })
                .unwrap_or(0.0)
        };
        let (min_time, max_time) = (
            gauge("prometheus_tsdb_head_min_time") as i64,
            gauge("prometheus_tsdb_head_max_time") as i64,
        );
        let everything = Matcher::new(MatchType::Regex, "__name__", ".+").expect("valid regex");
        let series = self
            .db
            .select_series(&[everything], &SelectHints::range(min_time, max_time))
            .unwrap_or_default();
        let (mut by_name, mut values, mut bytes, mut pairs) = (
            HashMap::<String, u64>::new(),
            HashMap::<String, std::collections::HashSet<String>>::new(),
            HashMap::<String, u64>::new(),
            HashMap::<String, u64>::new(),
        );
        for s in &series {
            for l in &s.labels {
                if l.name == "__name__" {
                    *by_name.entry(l.value.clone()).or_default() += 1;
                }
                values
                    .entry(l.name.clone())
                    .or_default()
                    .insert(l.value.clone());
                *bytes.entry(l.name.clone()).or_default() += l.value.len() as u64;
                *pairs.entry(format!("{}={}", l.name, l.value)).or_default() += 1;
            }
        }
        // The ten largest, as Prometheus lists them.
        let top = |counts: HashMap<String, u64>| {
            let mut all: Vec<(String, u64)> = counts.into_iter().collect();
            all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            all.truncate(10);
            all.into_iter()
                .map(|(name, value)| TsdbStat { name, value })
                .collect::<Vec<_>>()
        };
        let label_pairs = values.values().map(|v| v.len() as u64).sum::<u64>();
        TsdbStatus {
            head_stats: HeadStats {
                chunk_count: 0,
                max_time,
                min_time,
                num_label_pairs: label_pairs,
                num_series: series.len() as u64,
            },
            label_value_count_by_label_name: top(values
                .into_iter()
                .map(|(k, v)| (k, v.len() as u64))
                .collect()),
            memory_in_bytes_by_label_name: top(bytes),
            series_count_by_label_value_pair: top(pairs),
            series_count_by_metric_name: top(by_name),
        }
    }

    fn targets_status(&self) -> TargetsStatus {
        let targets = Transport::targets(self);
        let store = self.store.get();
        let active_targets = targets
            .iter()
            .map(|t| {
                let state = store.and_then(|s| s.get(&t.key()));
                let url = t
                    .http
                    .as_ref()
                    .map_or_else(|| format!("wasmetheus://{}", t.instance), |h| h.url.clone());
                let mut labels: BTreeMap<String, String> = t.labels.clone().into_iter().collect();
                labels.insert("job".to_owned(), t.job.clone());
                labels.insert("instance".to_owned(), t.instance.clone());
                let duration = |d: std::time::Duration| {
                    wasmetheus_promql::printer::format_duration(d.as_millis() as i64)
                };
                ActiveTarget {
                    discovered_labels: labels.clone(),
                    global_url: url.clone(),
                    health: state
                        .as_ref()
                        .map_or(TargetHealth::Unknown, |s| health(s.health)),
                    labels,
                    last_error: (state.as_ref())
                        .and_then(|s| s.last_error.clone())
                        .unwrap_or_default(),
                    last_scrape: state.as_ref().and_then(|s| s.last_scrape),
                    last_scrape_duration: state.as_ref().map_or(0.0, |s| s.last_duration_seconds),
                    scrape_interval: duration(t.interval),
                    scrape_pool: t.job.clone(),
                    scrape_timeout: duration(t.timeout),
                    scrape_url: url,
                }
            })
            .collect();
        let dropped = self.dropped.lock();
        let dropped_targets = (dropped.values().flatten())
            .map(|labels| DroppedTarget {
                discovered_labels: (labels.iter())
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect(),
            })
            .collect();
        let dropped_target_counts = (dropped.iter())
            .map(|(job, targets)| (job.clone(), targets.len()))
            .collect();
        // Ours, beside Prometheus' fields (clients ignore it): every
        // discovery entry and whether it runs, so a mechanism that produces
        // no targets yet is named with its reason.
        let discoveries = self
            .discovery
            .lock()
            .as_ref()
            .map(|d| d.statuses().to_vec())
            .unwrap_or_default();
        TargetsStatus {
            active_targets,
            discoveries,
            dropped_target_counts,
            dropped_targets,
        }
    }
}
