//! Loading the configuration file: YAML to typed values, positioned errors.

use crate::remote::no_nulls;
use crate::scrape::ScrapeConfig;
use crate::{
    AlertingConfig, PluginsConfig, PromDuration, RemoteReadConfig, RemoteWriteConfig,
    RuleFilePattern,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What went wrong loading a configuration file. Every variant that concerns
/// the file's content carries `file:line:col` in its message.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: PathBuf,
        line: u64,
        column: u64,
        message: String,
    },
}

/// The `global` section.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    pub scrape_interval: PromDuration,
    /// Unset (or `0s`) means 10s, or the scrape interval if that is
    /// shorter, as in Prometheus.
    #[serde(default = "unset_duration")]
    pub scrape_timeout: PromDuration,
    pub evaluation_interval: PromDuration,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub external_labels: BTreeMap<String, String>,
    // Accepted so existing files load; reported as not acted upon.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_protocols: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_log_file: Option<String>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        // Prometheus' defaults.
        GlobalConfig {
            scrape_interval: PromDuration(Duration::from_secs(60)),
            scrape_timeout: PromDuration(Duration::from_secs(10)),
            evaluation_interval: PromDuration(Duration::from_secs(60)),
            external_labels: BTreeMap::new(),
            scrape_protocols: None,
            query_log_file: None,
        }
    }
}

fn unset_duration() -> PromDuration {
    PromDuration(Duration::ZERO)
}

/// The `storage` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub tsdb: TsdbConfig,
    /// Accepted so existing files load; exemplars are not stored yet.
    #[serde(skip_serializing)]
    pub exemplars: Option<serde::de::IgnoredAny>,
}

/// `storage.tsdb`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TsdbConfig {
    /// How far behind the newest sample an out-of-order sample is still
    /// accepted; zero (the default) rejects them, as in Prometheus.
    pub out_of_order_time_window: PromDuration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    global: GlobalConfig,
    #[serde(default)]
    plugins: PluginsConfig,
    // Prometheus sections that later parts of wasmetheus act on. They must
    // not make an existing prometheus.yml fail to load.
    #[serde(default)]
    scrape_configs: Option<Vec<ScrapeConfig>>,
    #[serde(default)]
    rule_files: Option<Vec<RuleFilePattern>>,
    #[serde(default)]
    alerting: Option<AlertingConfig>,
    #[serde(default)]
    remote_write: Option<Vec<Option<RemoteWriteConfig>>>,
    #[serde(default)]
    remote_read: Option<Vec<Option<RemoteReadConfig>>>,
    #[serde(default)]
    storage: StorageConfig,
    #[serde(default)]
    tracing: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    scrape_config_files: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    runtime: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    otlp: Option<serde::de::IgnoredAny>,
}

/// A loaded, validated configuration.
///
/// Serialized, it is the configuration as `/api/v1/status/config` shows
/// it (sections in Prometheus' order, defaults filled in, the `plugins`
/// section last): secrets print as `<secret>` and URL passwords as
/// `xxxxx`, so the result is safe to show.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Config {
    pub global: GlobalConfig,
    /// Rule file globs, relative to the configuration file's directory
    /// unless absolute. Parsed now; no rule is evaluated yet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rule_files: Vec<RuleFilePattern>,
    /// What to scrape, with global defaults filled in.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scrape_configs: Vec<ScrapeConfig>,
    /// Parsed now; no alert is sent yet.
    #[serde(skip_serializing_if = "AlertingConfig::is_empty")]
    pub alerting: AlertingConfig,
    /// Parsed now; nothing is written remotely yet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remote_write: Vec<RemoteWriteConfig>,
    /// Parsed now; nothing is read remotely yet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remote_read: Vec<RemoteReadConfig>,
    pub storage: StorageConfig,
    #[serde(skip_serializing_if = "PluginsConfig::is_empty")]
    pub plugins: PluginsConfig,
    /// Things the operator should know: sections accepted but not acted on.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

impl Config {
    /// The configuration as YAML, secrets redacted: what
    /// `/api/v1/status/config` shows.
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self)
            .unwrap_or_else(|e| format!("# the configuration cannot be shown: {e}\n"))
    }

    /// [`Config::to_yaml`], with the settings each plugin's schema declares
    /// secret (`declared`, by plugin name) also shown as `<secret>` in
    /// every instance of that plugin.
    pub fn to_yaml_with_declared_secrets(
        &self,
        declared: &BTreeMap<String, crate::DeclaredSecrets>,
    ) -> String {
        let declares = |plugin: &str| declared.get(plugin).filter(|d| !d.is_empty());
        let concerned = self
            .plugins
            .instances
            .iter()
            .any(|i| i.config.is_some() && declares(&i.plugin).is_some());
        if !concerned {
            return self.to_yaml();
        }
        let mut shown = self.clone();
        for instance in &mut shown.plugins.instances {
            if let (Some(settings), Some(secrets)) =
                (instance.config.as_mut(), declares(&instance.plugin))
            {
                secrets.redact(settings);
            }
        }
        shown.to_yaml()
    }

    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses `text`; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = if text.trim().is_empty() {
            serde_saphyr::from_str("{}")
        } else {
            serde_saphyr::from_str(text)
        }
        .map_err(|e| {
            let location = e.location();
            ConfigError::Invalid {
                path: path.to_owned(),
                line: location.map_or(1, |l| l.line()),
                column: location.map_or(1, |l| l.column()),
                message: bare_message(&e),
            }
        })?;
        let invalid = |needle: &str, message: String| {
            let (line, column) = locate(text, needle);
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                message,
            }
        };
        let mut warnings = Vec::new();
        for (key, present) in [
            ("exemplars", raw.storage.exemplars.is_some()),
            ("tracing", raw.tracing.is_some()),
            ("scrape_config_files", raw.scrape_config_files.is_some()),
            ("runtime", raw.runtime.is_some()),
            ("otlp", raw.otlp.is_some()),
            (
                "global.scrape_protocols",
                raw.global.scrape_protocols.is_some(),
            ),
            ("global.query_log_file", raw.global.query_log_file.is_some()),
        ] {
            if present {
                let (line, column) = locate(text, key.rsplit('.').next().unwrap_or(key));
                warnings.push(format!(
                    "{}:{line}:{column}: `{key}` is valid Prometheus configuration that this \
                     version of wasmetheus does not act on yet; it is ignored",
                    path.display()
                ));
            }
        }
        let mut global = raw.global;
        if global.scrape_interval.0.is_zero() {
            global.scrape_interval = GlobalConfig::default().scrape_interval;
        }
        if global.scrape_timeout > global.scrape_interval {
            return Err(invalid(
                "scrape_timeout",
                format!(
                    "global scrape_timeout {} is greater than scrape_interval {}",
                    global.scrape_timeout, global.scrape_interval
                ),
            ));
        }
        if global.scrape_timeout.0.is_zero() {
            global.scrape_timeout = GlobalConfig::default()
                .scrape_timeout
                .min(global.scrape_interval);
        }
        let mut names = HashSet::new();
        for instance in &raw.plugins.instances {
            let needle = format!("name: {}", instance.name);
            if !is_valid_instance_name(&instance.name) {
                return Err(invalid(
                    &needle,
                    format!(
                        "plugin instance name {:?} is invalid: use letters, digits, `-`, `_` and `.`",
                        instance.name
                    ),
                ));
            }
            if !names.insert(instance.name.as_str()) {
                return Err(invalid(
                    &needle,
                    format!(
                        "plugin instance name {:?} is used twice; instance names must be unique",
                        instance.name
                    ),
                ));
            }
            if let (Some(interval), Some(timeout)) =
                (instance.scrape_interval, instance.scrape_timeout)
                && timeout > interval
            {
                return Err(invalid(
                    &needle,
                    format!(
                        "plugin instance {:?}: scrape_timeout {timeout} is greater than scrape_interval {interval}",
                        instance.name
                    ),
                ));
            }
            if let Some(config) = &instance.config
                && !config.is_object()
            {
                return Err(invalid(
                    &needle,
                    format!(
                        "plugin instance {:?}: `config` must be a mapping of the plugin's settings",
                        instance.name
                    ),
                ));
            }
        }
        let mut scrape_configs = raw.scrape_configs.unwrap_or_default();
        let mut jobs = HashSet::new();
        for scrape in &mut scrape_configs {
            let needle = format!("job_name: {}", scrape.job_name);
            if !jobs.insert(scrape.job_name.clone()) {
                return Err(invalid(
                    &needle,
                    format!(
                        "found multiple scrape configs with job name {:?}",
                        scrape.job_name
                    ),
                ));
            }
            scrape
                .complete(global.scrape_interval, global.scrape_timeout)
                .map_err(|message| invalid(&needle, message))?;
        }
        let remote_write = no_nulls(
            raw.remote_write.unwrap_or_default(),
            "empty or null remote write config section",
        )
        .map_err(|message| invalid("remote_write", message))?;
        let remote_read = no_nulls(
            raw.remote_read.unwrap_or_default(),
            "empty or null remote read config section",
        )
        .map_err(|message| invalid("remote_read", message))?;
        // An empty name is fine: Prometheus names such a queue by its hash.
        for (kind, names) in [
            (
                "write",
                remote_write.iter().map(|r| &r.name).collect::<Vec<_>>(),
            ),
            ("read", remote_read.iter().map(|r| &r.name).collect()),
        ] {
            let mut seen = HashSet::new();
            for name in names.into_iter().filter(|n| !n.is_empty()) {
                if !seen.insert(name) {
                    return Err(invalid(
                        &format!("name: {name}"),
                        format!("found multiple remote {kind} configs with job name {name:?}"),
                    ));
                }
            }
        }
        Ok(Config {
            global,
            plugins: raw.plugins,
            storage: raw.storage,
            scrape_configs,
            rule_files: raw.rule_files.unwrap_or_default(),
            alerting: raw.alerting.unwrap_or_default(),
            remote_write,
            remote_read,
            warnings,
        })
    }
}

/// Instance names end up in URLs and label values: keep them plain.
fn is_valid_instance_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The 1-based line and column of the first occurrence of `needle`, for
/// checks made after deserialization (the YAML positions are gone by then).
fn locate(text: &str, needle: &str) -> (u64, u64) {
    match text.find(needle) {
        Some(offset) => {
            let before = &text[..offset];
            let line = before.matches('\n').count() + 1;
            let column = offset - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            (line as u64, column as u64)
        }
        None => (1, 1),
    }
}

/// The error's message without the location prefix the YAML library
/// renders (`error: line N column M: `), since `ConfigError` prints
/// `file:line:col` itself.
fn bare_message(error: &serde_saphyr::Error) -> String {
    let rendered = error.to_string();
    let first = rendered.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    match first
        .strip_prefix("line ")
        .and_then(|rest| rest.split_once(": "))
    {
        Some((_, message)) => message.to_owned(),
        None => first.to_owned(),
    }
}
