//! Starting, reloading and stopping the Alertmanager.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wasmetheus_model::MetricFamily;
use wasmetheus_plugin_runtime::PluginRuntime;

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
            .finish_non_exhaustive()
    }
}

/// Why the Alertmanager could not start or reload.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// alertmanager.yml is unreadable or invalid (positioned).
    #[error(transparent)]
    Config(#[from] wasmetheus_alertmanager_config::Error),
    /// The state directory cannot be opened.
    #[error(transparent)]
    State(#[from] wasmetheus_alertmanager::OpenError),
    /// A configured integration has no receiver plugin file.
    #[error("receiver {receiver:?}: integration {integration:?} needs the receiver plugin {}, which does not exist", path.display())]
    MissingPlugin {
        receiver: String,
        integration: String,
        path: PathBuf,
    },
    /// A receiver plugin could not be loaded or refused its configuration.
    #[error("receiver {receiver:?}: {message}")]
    Receiver { receiver: String, message: String },
    /// A template file could not be read.
    #[error("{0}")]
    Templates(String),
}

/// The running Alertmanager.
pub struct Service {
    _private: (),
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").finish_non_exhaustive()
    }
}

impl Service {
    /// Loads the config, opens the state, loads receiver plugins, starts
    /// the dispatcher, the inhibitor's feed and maintenance.
    pub async fn start(options: ServiceOptions) -> Result<Arc<Service>, ServiceError> {
        let _ = options;
        todo!()
    }

    /// The API v2 backend.
    pub fn backend(self: &Arc<Self>) -> Arc<dyn wasmetheus_api::AlertmanagerBackend> {
        todo!()
    }

    /// Re-reads the configuration file and the receiver plugins; on error
    /// the old configuration keeps running.
    pub async fn reload(&self) -> Result<(), ServiceError> {
        todo!()
    }

    /// In-process alerts (the rule engine's).
    pub fn put_alerts(
        &self,
        alerts: Vec<wasmetheus_api::types::alertmanager::PostableAlert>,
    ) -> Result<(), String> {
        let _ = alerts;
        todo!()
    }

    /// The `alertmanager_*` metric families.
    pub fn metrics(&self) -> Vec<MetricFamily> {
        todo!()
    }

    /// Stops the dispatcher (in-flight notifications finish, bounded) and
    /// flushes the state.
    pub async fn shutdown(&self) {
        todo!()
    }
}
