//! `wasmetheus-config`: the configuration file (prometheus.yml plus a
//! `plugins` section for plugin instances and their grants).
//!
//! Parsing only: this crate reads text and returns typed values or errors
//! positioned as `file:line:col`; it does no network or plugin work.
//! Keys that Prometheus knows but wasmetheus does not act on yet are kept as
//! warnings naming them, never dropped silently; `rule_files`, `alerting`,
//! `remote_write` and `remote_read` are typed and validated like
//! Prometheus' (so a file that loads here loads there) for the parts of
//! wasmetheus that will act on them.

mod alerting;
mod duration;
mod file;
mod go_yaml;
mod http_client;
mod plugins;
mod remote;
mod rule_files;
mod scrape;
pub mod sd;
mod secret;

pub use alerting::{AlertingConfig, AlertmanagerApiVersion, AlertmanagerConfig};

pub use duration::{ByteSize, PromDuration};
pub use file::{Config, ConfigError, GlobalConfig, StorageConfig, TsdbConfig};
pub use plugins::{Grants, PluginInstanceConfig, PluginsConfig};
pub use remote::{MetadataConfig, QueueConfig, RemoteReadConfig, RemoteWriteConfig, WriteMessage};
pub use rule_files::RuleFilePattern;
pub use scrape::{
    Authorization, BasicAuth, DnsSdConfig, FileSdConfig, HttpClientConfig, HttpSdConfig,
    ScrapeConfig, StaticConfig, TlsConfig,
};
pub use secret::{
    DeclaredSecrets, OpaqueSettings, SECRET_TOKEN, Secret, SettingStep, is_secret_key,
    redact_plugin_settings, redact_url,
};
