//! `wasmetheus-config`: the configuration file (prometheus.yml plus a
//! `plugins` section for plugin instances and their grants).
//!
//! Parsing only: this crate reads text and returns typed values or errors
//! positioned as `file:line:col`; it does no network or plugin work.
//! Keys that Prometheus knows but wasmetheus does not act on yet are kept as
//! warnings naming them, never dropped silently.

mod duration;
mod file;
mod plugins;
mod scrape;

pub use duration::{ByteSize, PromDuration};
pub use file::{Config, ConfigError, GlobalConfig, StorageConfig, TsdbConfig};
pub use plugins::{Grants, PluginInstanceConfig, PluginsConfig};
pub use scrape::{
    Authorization, BasicAuth, DnsSdConfig, FileSdConfig, HttpClientConfig, HttpSdConfig,
    ScrapeConfig, StaticConfig, TlsConfig,
};
