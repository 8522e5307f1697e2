//! `wasmetheus-config`: the configuration file (prometheus.yml plus a
//! `plugins` section for plugin instances and their grants).
//!
//! Parsing only: this crate reads text and returns typed values or errors
//! positioned as `file:line:col`; it does no network or plugin work. Every
//! section and field of Prometheus 3.14's file is read as Prometheus reads
//! it (Go's YAML nulls, defaults, validation texts; see `go_yaml.rs`), so a
//! file that loads there loads here and one refused there is refused here
//! with the same words. Fields wasmetheus does not act on yet are named in
//! [`Config::warnings`] (`parsed, not in effect yet: <key>`), never dropped
//! silently; [`NOT_IN_EFFECT`] lists them.
//!
//! Sections: `global.rs` (and `runtime`), `scrape.rs` (with the shared HTTP
//! client of `http_client/` and the discovery configs of `sd/`),
//! `scrape_files.rs` (`scrape_config_files`), `rule_files.rs`,
//! `alerting.rs`, `remote.rs`, `storage.rs`, `otlp.rs`, `tracing.rs`,
//! `plugins.rs`; `file.rs` ties them together.

mod alerting;
mod duration;
mod file;
pub mod glob;
mod global;
mod go_yaml;
pub use go_yaml::bare_message as yaml_error_message;
mod http_client;
pub mod limited;
mod not_in_effect;
mod otlp;
mod plugins;
mod remote;
mod rule_files;
mod scrape;
mod scrape_files;
pub mod sd;
mod secret;
mod source;
mod storage;
mod tracing;

pub use alerting::{AlertingConfig, AlertmanagerApiVersion, AlertmanagerConfig};

pub use duration::{Base2Bytes, ByteSize, PromDuration};
pub use file::Config;
pub use global::{
    DEFAULT_SCRAPE_PROTOCOLS, ESCAPING_SCHEMES, GlobalConfig, PROTO_FIRST_SCRAPE_PROTOCOLS,
    RuntimeConfig, SCRAPE_PROTOCOLS, ValidationScheme,
};
pub use http_client::{
    Authorization, BasicAuth, HttpClientConfig, HttpHeader, OAuth2, TlsConfig, TlsVersion,
    canonical_header_key,
};
pub use not_in_effect::NOT_IN_EFFECT;
pub use otlp::OtlpConfig;
pub use plugins::{Grants, PluginInstanceConfig, PluginsConfig};
pub use remote::{MetadataConfig, QueueConfig, RemoteReadConfig, RemoteWriteConfig, WriteMessage};
pub use rule_files::RuleFilePattern;
pub use scrape::{DnsSdConfig, FileSdConfig, HttpSdConfig, ScrapeConfig, StaticConfig};
pub use secret::{
    DeclaredSecrets, OpaqueSettings, SECRET_TOKEN, Secret, SettingStep, is_secret_key,
    redact_plugin_settings, redact_url, to_json_with_secrets,
};
pub use source::{ConfigError, parse_yaml};
pub use storage::{
    ChunkEncodingConfig, ExemplarsConfig, RetentionConfig, StorageConfig, TsdbConfig,
};
pub use tracing::TracingConfig;
