//! Loading the configuration file: YAML to typed values, positioned errors.

use crate::glob::go_dir;
use crate::global::RuntimeConfig;
use crate::go_yaml::no_nulls;
use crate::go_yaml::{go_quote, null_as_default};
use crate::http_client::join_dir;
use crate::otlp::OtlpConfig;
use crate::scrape::ScrapeConfig;
use crate::source::{ConfigError, job_needle, locate, locate_again, parse_yaml};
use crate::storage::StorageConfig;
use crate::tracing::TracingConfig;
use crate::{
    AlertingConfig, GlobalConfig, PluginsConfig, RemoteReadConfig, RemoteWriteConfig,
    RuleFilePattern,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default, deserialize_with = "null_as_default")]
    global: GlobalConfig,
    #[serde(default, deserialize_with = "null_as_default")]
    runtime: RuntimeConfig,
    #[serde(default)]
    plugins: PluginsConfig,
    #[serde(default, deserialize_with = "null_as_default")]
    scrape_configs: Vec<Option<ScrapeConfig>>,
    #[serde(default, deserialize_with = "null_as_default")]
    scrape_config_files: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    rule_files: Vec<RuleFilePattern>,
    #[serde(default, deserialize_with = "null_as_default")]
    alerting: AlertingConfig,
    #[serde(default, deserialize_with = "null_as_default")]
    remote_write: Vec<Option<RemoteWriteConfig>>,
    #[serde(default, deserialize_with = "null_as_default")]
    remote_read: Vec<Option<RemoteReadConfig>>,
    #[serde(default, deserialize_with = "null_as_default")]
    storage: StorageConfig,
    #[serde(default)]
    tracing: Option<TracingConfig>,
    #[serde(default, deserialize_with = "null_as_default")]
    otlp: OtlpConfig,
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
    /// Parsed now; Go's runtime settings have no Rust counterpart.
    pub runtime: RuntimeConfig,
    /// Parsed now; no alert is sent yet.
    #[serde(skip_serializing_if = "AlertingConfig::is_empty")]
    pub alerting: AlertingConfig,
    /// Rule file globs, relative to the configuration file's directory
    /// unless absolute. Parsed now; no rule is evaluated yet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rule_files: Vec<RuleFilePattern>,
    /// `scrape_config_files` as written (globs, relative to the file's
    /// directory); their scrape configs are in `scrape_configs`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scrape_config_files: Vec<String>,
    /// What to scrape, with global defaults filled in.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scrape_configs: Vec<ScrapeConfig>,
    pub storage: StorageConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracing: Option<TracingConfig>,
    /// Parsed now; nothing is written remotely yet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remote_write: Vec<RemoteWriteConfig>,
    /// Parsed now; nothing is read remotely yet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remote_read: Vec<RemoteReadConfig>,
    /// Parsed now; nothing is received over OTLP yet.
    pub otlp: OtlpConfig,
    #[serde(skip_serializing_if = "PluginsConfig::is_empty")]
    pub plugins: PluginsConfig,
    /// Things the operator should know: one `file:line:col: parsed, not in
    /// effect yet: <key>` per field wasmetheus reads but does not act on
    /// (see [`crate::NOT_IN_EFFECT`]), and empty environment variables in
    /// external labels.
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

    /// Reads and validates the file at `path`, and the files its
    /// `scrape_config_files` name (relative to its directory).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Config::parse(&text, path)?;
        config.set_directory(&go_dir(path));
        let (included, warnings) = crate::scrape_files::load_scrape_config_files(&config, path)?;
        config.warnings.extend(warnings);
        config.scrape_configs.extend(included);
        Ok(config)
    }

    /// Joins every relative file path with `dir` (the directory of the file
    /// the configuration was read from), as Prometheus' `SetDirectory` does
    /// when it loads a file: the global log files, `rule_files`,
    /// `scrape_config_files`, each scrape config's and Alertmanager's HTTP
    /// client and discovery files, remote write and read clients and the
    /// tracing TLS files. [`Config::load`] calls it once; a path joined
    /// twice would be wrong for a relative directory.
    pub fn set_directory(&mut self, dir: &Path) {
        let join = |path: &mut String| *path = join_dir(dir, path);
        join(&mut self.global.query_log_file);
        join(&mut self.global.scrape_failure_log_file);
        for pattern in &mut self.rule_files {
            join(&mut pattern.0);
        }
        for pattern in &mut self.scrape_config_files {
            join(pattern);
        }
        for scrape in &mut self.scrape_configs {
            scrape.set_directory(dir);
        }
        for am in &mut self.alerting.alertmanagers {
            am.set_http_directory(dir);
            am.set_service_discovery_directory(dir);
            for sd in &mut am.file_sd_configs {
                sd.files.iter_mut().for_each(join);
            }
            for sd in &mut am.http_sd_configs {
                sd.set_http_directory(dir);
            }
        }
        for rw in &mut self.remote_write {
            rw.http.set_directory(dir);
        }
        for rr in &mut self.remote_read {
            rr.http.set_directory(dir);
        }
        if let Some(tracing) = &mut self.tracing {
            tracing.tls_config.set_directory(dir);
        }
    }

    /// Parses `text`; `path` is only used in error messages. Files named by
    /// `scrape_config_files` are not read (see [`Config::load`]).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        Config::parse_with_env(text, path, |name| std::env::var(name).ok())
    }

    /// [`Config::parse`] with `env` as the environment external labels are
    /// expanded from.
    pub fn parse_with_env(
        text: &str,
        path: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let raw: RawConfig = parse_yaml(text, path)?;
        let invalid = |needle: &str, message: String| {
            let (line, column) = locate(text, needle);
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                message,
            }
        };
        let mut warnings = crate::not_in_effect::warnings(text, path);
        let mut global = raw.global;
        for name in global.expand_external_labels(env) {
            let (line, column) = locate(text, "external_labels");
            warnings.push(format!(
                "{}:{line}:{column}: external label value: environment variable {name} is empty",
                path.display()
            ));
        }
        let mut runtime = raw.runtime;
        if runtime.gogc == 0 {
            runtime = RuntimeConfig::default();
        }
        for pattern in &raw.scrape_config_files {
            crate::scrape_files::check_pattern(pattern)
                .map_err(|message| invalid("scrape_config_files", message))?;
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
        let mut scrape_configs = Vec::with_capacity(raw.scrape_configs.len());
        let mut jobs = HashSet::new();
        for scrape in raw.scrape_configs {
            let Some(mut scrape) = scrape else {
                return Err(invalid(
                    "scrape_configs",
                    "empty or null scrape config section".into(),
                ));
            };
            // Positions are looked up only for an error: a search per job
            // would make a file of many jobs quadratic to load.
            if let Err(message) = scrape.complete(&global) {
                return Err(invalid(&job_needle(text, &scrape.job_name), message));
            }
            if !jobs.insert(scrape.job_name.clone()) {
                let (line, column) = locate_again(text, &job_needle(text, &scrape.job_name));
                return Err(ConfigError::Invalid {
                    path: path.to_owned(),
                    line,
                    column,
                    message: format!(
                        "found multiple scrape configs with job name {}",
                        go_quote(&scrape.job_name)
                    ),
                });
            }
            scrape_configs.push(scrape);
        }
        let mut alerting = raw.alerting;
        alerting
            .validate(global.metric_name_validation_scheme)
            .map_err(|message| invalid("alertmanagers:", message))?;
        let remote_write = no_nulls(
            raw.remote_write,
            "empty or null remote write config section",
        )
        .map_err(|message| invalid("remote_write", message))?;
        let remote_read = no_nulls(raw.remote_read, "empty or null remote read config section")
            .map_err(|message| invalid("remote_read", message))?;
        let scheme = global.metric_name_validation_scheme.relabel_scheme();
        let mut remote_write = remote_write;
        if !remote_write.is_empty() {
            let http2 = crate::remote::remote_write_http2(text, path);
            for (i, rw) in remote_write.iter_mut().enumerate() {
                rw.http.enable_http2 = http2.get(i).copied().unwrap_or(false);
            }
        }
        for rw in &mut remote_write {
            for rule in &mut rw.write_relabel_configs {
                rule.name_validation_scheme = scheme;
                rule.validate()
                    .map_err(|message| invalid("write_relabel_configs", message))?;
            }
        }
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
                        format!(
                            "found multiple remote {kind} configs with job name {}",
                            go_quote(name)
                        ),
                    ));
                }
            }
        }
        raw.otlp
            .check_strategy(global.metric_name_validation_scheme)
            .map_err(|message| invalid("otlp", message))?;
        Ok(Config {
            global,
            plugins: raw.plugins,
            storage: raw.storage,
            scrape_configs,
            rule_files: raw.rule_files,
            alerting,
            remote_write,
            remote_read,
            tracing: raw.tracing,
            otlp: raw.otlp,
            runtime,
            scrape_config_files: raw.scrape_config_files,
            warnings,
        })
    }
}

impl ScrapeConfig {
    /// Prometheus' `ScrapeConfig.SetDirectory`: its HTTP client files,
    /// every discovery config's files and `scrape_failure_log_file` joined
    /// with `dir`.
    pub fn set_directory(&mut self, dir: &Path) {
        self.set_http_directory(dir);
        self.set_service_discovery_directory(dir);
        for sd in &mut self.file_sd_configs {
            for file in &mut sd.files {
                *file = join_dir(dir, file);
            }
        }
        for sd in &mut self.http_sd_configs {
            sd.set_http_directory(dir);
        }
        self.scrape_failure_log_file = join_dir(dir, &self.scrape_failure_log_file);
    }
}

/// Instance names end up in URLs and label values: keep them plain.
fn is_valid_instance_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
