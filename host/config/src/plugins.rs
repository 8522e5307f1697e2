//! The `plugins` section: plugin instances, their configs, limits and grants.

use crate::{ByteSize, PromDuration};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Capabilities granted to a plugin instance. Everything not listed here is
/// denied: no file, socket, HTTP origin, environment variable or DNS.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Grants {
    /// Directories the instance may read (preopened read-only at the same
    /// path inside the sandbox).
    pub read_paths: Vec<PathBuf>,
    /// `host:port` addresses the instance may open TCP connections to.
    pub tcp_connect: Vec<String>,
    /// Origins (`scheme://host[:port]`) the instance may send HTTP requests to.
    pub http_origins: Vec<String>,
    /// Environment variables passed through from the host.
    pub env: Vec<String>,
    /// Whether the instance may resolve names through DNS.
    pub dns: bool,
    /// Mount points under these paths may be queried for usage (statvfs).
    pub filesystem_usage: Vec<PathBuf>,
}

impl Grants {
    /// Nothing granted.
    pub fn is_empty(&self) -> bool {
        *self == Grants::default()
    }

    /// The union of two grant sets (plugin-wide plus instance-specific).
    pub fn merged(&self, other: &Grants) -> Grants {
        fn union<T: Clone + PartialEq>(a: &[T], b: &[T]) -> Vec<T> {
            let mut out = a.to_vec();
            for item in b {
                if !out.contains(item) {
                    out.push(item.clone());
                }
            }
            out
        }
        Grants {
            read_paths: union(&self.read_paths, &other.read_paths),
            tcp_connect: union(&self.tcp_connect, &other.tcp_connect),
            http_origins: union(&self.http_origins, &other.http_origins),
            env: union(&self.env, &other.env),
            dns: self.dns || other.dns,
            filesystem_usage: union(&self.filesystem_usage, &other.filesystem_usage),
        }
    }
}

/// One configured instance of a plugin: a scrape target of its own.
/// `Debug` shows `config` redacted as `status/config` does (by key name),
/// so a log line cannot leak a plugin's secret.
#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PluginInstanceConfig {
    /// The instance name: the `instance` label and the path in
    /// `/plugins/<name>/metrics`.
    pub name: String,
    /// The plugin it runs: the file stem of `<plugins dir>/<plugin>.wasm`.
    pub plugin: String,
    /// The `job` label; defaults to the plugin name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_interval: Option<PromDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_timeout: Option<PromDuration>,
    /// Linear-memory limit of the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit: Option<ByteSize>,
    /// The plugin's own configuration, handed to it as JSON. Shown with
    /// its secrets redacted: those named like secrets
    /// ([`redact_plugin_settings`]) and, in `/api/v1/status/config`, those
    /// the plugin's schema declares ([`Config::to_yaml_with_declared_secrets`]).
    ///
    /// [`redact_plugin_settings`]: crate::redact_plugin_settings
    /// [`Config::to_yaml_with_declared_secrets`]: crate::Config::to_yaml_with_declared_secrets
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::secret::serialize_plugin_settings"
    )]
    pub config: Option<serde_json::Value>,
    /// Capabilities granted to this instance on top of the plugin's grants.
    #[serde(default, skip_serializing_if = "Grants::is_empty")]
    pub grants: Grants,
    /// Extra target labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl std::fmt::Debug for PluginInstanceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginInstanceConfig")
            .field("name", &self.name)
            .field("plugin", &self.plugin)
            .field("job", &self.job)
            .field("scrape_interval", &self.scrape_interval)
            .field("scrape_timeout", &self.scrape_timeout)
            .field("memory_limit", &self.memory_limit)
            .field(
                "config",
                &self.config.as_ref().map(crate::redact_plugin_settings),
            )
            .field("grants", &self.grants)
            .field("labels", &self.labels)
            .finish()
    }
}

/// The `plugins` section of the configuration file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsConfig {
    /// Grants applying to every instance of a plugin, keyed by plugin name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub grants: BTreeMap<String, Grants>,
    /// Explicit instances. A plugin that requests no mandatory capability
    /// and has no instance here gets one default instance named after it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<PluginInstanceConfig>,
    /// Default linear-memory limit per instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_limit: Option<ByteSize>,
}

impl PluginsConfig {
    /// No grants, instances or memory limit.
    pub fn is_empty(&self) -> bool {
        *self == PluginsConfig::default()
    }

    /// The grants an instance ends up with: its plugin's plus its own.
    pub fn grants_for(&self, plugin: &str, instance: Option<&PluginInstanceConfig>) -> Grants {
        let plugin_wide = self.grants.get(plugin).cloned().unwrap_or_default();
        match instance {
            Some(instance) => plugin_wide.merged(&instance.grants),
            None => plugin_wide,
        }
    }
}
