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
mod global;
mod go_yaml;
mod http_client;
mod not_in_effect;
mod otlp;
mod plugins;
mod remote;
mod rule_files;
mod scrape;
mod scrape_files;
pub mod sd;
mod secret;
mod storage;
mod tracing;

pub use alerting::{AlertingConfig, AlertmanagerApiVersion, AlertmanagerConfig};

pub use duration::{Base2Bytes, ByteSize, PromDuration};
pub use file::{Config, ConfigError};
pub use global::{
    DEFAULT_SCRAPE_PROTOCOLS, ESCAPING_SCHEMES, GlobalConfig, PROTO_FIRST_SCRAPE_PROTOCOLS,
    RuntimeConfig, SCRAPE_PROTOCOLS, ValidationScheme,
};
pub use http_client::{Authorization, BasicAuth, HttpClientConfig, HttpHeader, OAuth2, TlsConfig};
pub use not_in_effect::NOT_IN_EFFECT;
pub use otlp::OtlpConfig;
pub use plugins::{Grants, PluginInstanceConfig, PluginsConfig};
pub use remote::{MetadataConfig, QueueConfig, RemoteReadConfig, RemoteWriteConfig, WriteMessage};
pub use rule_files::RuleFilePattern;
pub use scrape::{DnsSdConfig, FileSdConfig, HttpSdConfig, ScrapeConfig, StaticConfig};
pub use secret::{
    DeclaredSecrets, OpaqueSettings, SECRET_TOKEN, Secret, SettingStep, is_secret_key,
    redact_plugin_settings, redact_url,
};
pub use storage::{
    ChunkEncodingConfig, ExemplarsConfig, RetentionConfig, StorageConfig, TsdbConfig,
};
pub use tracing::TracingConfig;
