//! `scrape_configs`: what to scrape, how, and how its targets are found,
//! as Prometheus' `config.ScrapeConfig` reads it (defaults, limits, HTTP
//! client settings, service discovery), with its validation texts.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use wasmetheus_relabel::RelabelConfig;

use crate::global::{
    DEFAULT_SCRAPE_PROTOCOLS, ESCAPING_SCHEMES, GlobalConfig, PROTO_FIRST_SCRAPE_PROTOCOLS,
    ValidationScheme, validate_scrape_protocol, validate_scrape_protocols,
};
use crate::go_yaml::{go_quote, null_as_default};
use crate::secret::serialize_url;
use crate::{Base2Bytes, PromDuration};

crate::http_client::with_http_client! {
    @then crate::sd::with_service_discovery;
    /// One `scrape_configs` entry, as Prometheus' `config.ScrapeConfig`
    /// reads it; [`ScrapeConfig::complete`] fills in the global defaults.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct ScrapeConfig {
        #[serde(default, deserialize_with = "null_as_default")]
        pub job_name: String,
        /// Unset: the global interval (filled in by [`Config::parse`]).
        ///
        /// [`Config::parse`]: crate::Config::parse
        #[serde(default, deserialize_with = "null_as_default")]
        pub scrape_interval: PromDuration,
        /// Unset: the global timeout, capped at the interval.
        #[serde(default, deserialize_with = "null_as_default")]
        pub scrape_timeout: PromDuration,
        /// Unset: the global list, or Prometheus' default for whether native
        /// histograms are scraped.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub scrape_protocols: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub fallback_scrape_protocol: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub scrape_native_histograms: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub always_scrape_classic_histograms: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub convert_classic_histograms_to_nhcb: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub extra_scrape_metrics: Option<bool>,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub scrape_failure_log_file: String,
        #[serde(default = "default_metrics_path", deserialize_with = "default_if_empty_metrics_path")]
        pub metrics_path: String,
        #[serde(default = "default_scheme", deserialize_with = "default_if_empty_scheme")]
        pub scheme: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "BTreeMap::is_empty")]
        pub params: BTreeMap<String, Vec<String>>,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "is_false")]
        pub honor_labels: bool,
        #[serde(default = "yes", deserialize_with = "null_as_default")]
        pub honor_timestamps: bool,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "is_false")]
        pub track_timestamps_staleness: bool,
        #[serde(default = "yes", deserialize_with = "null_as_default")]
        pub enable_compression: bool,
        #[serde(default, deserialize_with = "static_configs", skip_serializing_if = "Vec::is_empty")]
        pub static_configs: Vec<StaticConfig>,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
        pub file_sd_configs: Vec<FileSdConfig>,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
        pub http_sd_configs: Vec<HttpSdConfig>,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
        pub dns_sd_configs: Vec<DnsSdConfig>,
        #[serde(
            default,
            deserialize_with = "target_relabel_rules",
            skip_serializing_if = "Vec::is_empty",
            serialize_with = "serialize_relabel_configs"
        )]
        pub relabel_configs: Vec<RelabelConfig>,
        #[serde(
            default,
            deserialize_with = "metric_relabel_rules",
            skip_serializing_if = "Vec::is_empty",
            serialize_with = "serialize_relabel_configs"
        )]
        pub metric_relabel_configs: Vec<RelabelConfig>,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "is_zero")]
        pub sample_limit: u64,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "is_zero")]
        pub label_limit: u64,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "is_zero")]
        pub label_name_length_limit: u64,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "is_zero")]
        pub label_value_length_limit: u64,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Base2Bytes::is_zero")]
        pub body_size_limit: Base2Bytes,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "is_zero")]
        pub target_limit: u64,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "is_zero")]
        pub keep_dropped_targets: u64,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "is_zero")]
        pub native_histogram_bucket_limit: u64,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "is_zero_f64")]
        pub native_histogram_min_bucket_factor: f64,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "ValidationScheme::is_unset")]
        pub metric_name_validation_scheme: ValidationScheme,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub metric_name_escaping_scheme: String,
    }
}

/// `static_configs`: targets written out, with labels for all of them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub targets: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
}

/// `file_sd_configs`: target groups read from JSON or YAML files, re-read
/// when they change.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    #[serde(default, deserialize_with = "null_as_default")]
    pub files: Vec<String>,
    #[serde(
        default = "five_minutes",
        deserialize_with = "default_if_zero_five_minutes"
    )]
    pub refresh_interval: PromDuration,
}

crate::http_client::with_http_client! {
    /// `http_sd_configs`: target groups fetched as JSON from a URL.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct HttpSdConfig {
        #[serde(default, deserialize_with = "null_as_default", serialize_with = "serialize_url")]
        pub url: String,
        #[serde(default = "one_minute", deserialize_with = "default_if_zero_one_minute")]
        pub refresh_interval: PromDuration,
    }
}

/// `dns_sd_configs`: targets from SRV, A or AAAA records.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DnsSdConfig {
    #[serde(default, deserialize_with = "null_as_default")]
    pub names: Vec<String>,
    #[serde(
        default = "srv",
        rename = "type",
        deserialize_with = "default_if_empty_srv"
    )]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(
        default = "thirty_seconds",
        deserialize_with = "default_if_zero_thirty_seconds"
    )]
    pub refresh_interval: PromDuration,
}

/// A list of Go pointers whose null entries Prometheus rejects.
fn no_null_entries<'de, D, T>(d: D, message: &'static str) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    let list: Vec<Option<T>> = null_as_default(d)?;
    list.into_iter()
        .map(|entry| entry.ok_or_else(|| serde::de::Error::custom(message)))
        .collect()
}

fn static_configs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<StaticConfig>, D::Error> {
    no_null_entries(d, "empty or null section in static_configs")
}

fn target_relabel_rules<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<RelabelConfig>, D::Error> {
    no_null_entries(d, "empty or null target relabeling rule in scrape config")
}

fn metric_relabel_rules<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<RelabelConfig>, D::Error> {
    no_null_entries(d, "empty or null metric relabeling rule in scrape config")
}

/// Go's zero value (empty, null, `0s`) replaced by a default, as the
/// `UnmarshalYAML` of the type that holds the field does.
macro_rules! default_if_zero {
    ($name:ident, $ty:ty, $default:expr, $is_zero:expr) => {
        fn $name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
            let value: $ty = null_as_default(d)?;
            Ok(if $is_zero(&value) { $default } else { value })
        }
    };
}
default_if_zero!(
    default_if_empty_metrics_path,
    String,
    default_metrics_path(),
    String::is_empty
);
default_if_zero!(
    default_if_empty_scheme,
    String,
    default_scheme(),
    String::is_empty
);
default_if_zero!(default_if_empty_srv, String, srv(), String::is_empty);
default_if_zero!(
    default_if_zero_five_minutes,
    PromDuration,
    five_minutes(),
    PromDuration::is_zero
);
default_if_zero!(
    default_if_zero_one_minute,
    PromDuration,
    one_minute(),
    PromDuration::is_zero
);
default_if_zero!(
    default_if_zero_thirty_seconds,
    PromDuration,
    thirty_seconds(),
    PromDuration::is_zero
);

fn is_zero_f64(n: &f64) -> bool {
    *n == 0.0
}
fn is_zero(n: &u64) -> bool {
    *n == 0
}
fn is_false(b: &bool) -> bool {
    !*b
}

/// Relabeling rules as Prometheus shows them (`RelabelConfig` lives in
/// the scrape crate, which knows nothing of serialization).
pub(crate) fn serialize_relabel_configs<S: serde::Serializer>(
    configs: &[RelabelConfig],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::{SerializeMap, SerializeSeq};
    struct Rule<'a>(&'a RelabelConfig);
    impl Serialize for Rule<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let r = self.0;
            let mut map = s.serialize_map(None)?;
            if !r.source_labels.is_empty() {
                map.serialize_entry("source_labels", &r.source_labels)?;
            }
            // Defaults are left out: a rule that must not set them
            // (`keepequal`, `labeldrop`, …) then reads back as written.
            if r.separator != ";" {
                map.serialize_entry("separator", &r.separator)?;
            }
            if r.regex.as_str() != "(.*)" {
                map.serialize_entry("regex", r.regex.as_str())?;
            }
            if r.modulus != 0 {
                map.serialize_entry("modulus", &r.modulus)?;
            }
            if !r.target_label.is_empty() {
                map.serialize_entry("target_label", &r.target_label)?;
            }
            if r.replacement != "$1" {
                map.serialize_entry("replacement", &r.replacement)?;
            }
            map.serialize_entry("action", r.action.as_str())?;
            map.end()
        }
    }
    let mut seq = s.serialize_seq(Some(configs.len()))?;
    for config in configs {
        seq.serialize_element(&Rule(config))?;
    }
    seq.end()
}

fn five_minutes() -> PromDuration {
    PromDuration(Duration::from_secs(300))
}
fn one_minute() -> PromDuration {
    PromDuration(Duration::from_secs(60))
}
fn thirty_seconds() -> PromDuration {
    PromDuration(Duration::from_secs(30))
}
fn default_metrics_path() -> String {
    "/metrics".into()
}
fn default_scheme() -> String {
    "http".into()
}
fn yes() -> bool {
    true
}
fn srv() -> String {
    "SRV".into()
}

impl ScrapeConfig {
    /// Checks what Prometheus checks when it reads a scrape config
    /// (`UnmarshalYAML`) and then fills in the global defaults and checks
    /// the result (`Validate`); errors are Prometheus' texts.
    pub(crate) fn complete(&mut self, global: &GlobalConfig) -> Result<(), String> {
        // Discovery configs check themselves as they are read.
        validate_discovery(
            &mut self.file_sd_configs,
            &mut self.http_sd_configs,
            &self.dns_sd_configs,
        )?;
        self.validate_service_discovery()?;
        if self.job_name.is_empty() {
            return Err("job_name is empty".into());
        }
        self.validate_http_client()?;
        check_static_labels(&self.static_configs)?;
        if self.relabel_configs.is_empty() {
            check_static_targets(&self.static_configs)?;
        }
        self.apply_global(global)?;
        let job = &self.job_name;
        if !matches!(self.scheme.as_str(), "http" | "https") {
            return Err(format!(
                "unknown scheme {:?} for scrape config with job name {job:?}: use http or https",
                self.scheme
            ));
        }
        Ok(())
    }

    /// Prometheus' `ScrapeConfig.Validate`: the global defaults, protocols,
    /// name validation and escaping, relabeling rules under the scheme.
    fn apply_global(&mut self, global: &GlobalConfig) -> Result<(), String> {
        let job = go_quote(&self.job_name);
        if self.scrape_interval.is_zero() {
            self.scrape_interval = global.scrape_interval;
        }
        if self.scrape_timeout > self.scrape_interval {
            return Err(format!(
                "scrape timeout greater than scrape interval for scrape config with job name {job}"
            ));
        }
        if self.scrape_timeout.is_zero() {
            self.scrape_timeout = global.scrape_timeout.min(self.scrape_interval);
        }
        if self.body_size_limit.is_zero() {
            self.body_size_limit = global.body_size_limit;
        }
        for (local, global) in [
            (&mut self.sample_limit, global.sample_limit),
            (&mut self.target_limit, global.target_limit),
            (&mut self.label_limit, global.label_limit),
            (
                &mut self.label_name_length_limit,
                global.label_name_length_limit,
            ),
            (
                &mut self.label_value_length_limit,
                global.label_value_length_limit,
            ),
            (&mut self.keep_dropped_targets, global.keep_dropped_targets),
        ] {
            if *local == 0 {
                *local = global;
            }
        }
        if self.scrape_failure_log_file.is_empty() {
            self.scrape_failure_log_file = global.scrape_failure_log_file.clone();
        }
        let native = *self
            .scrape_native_histograms
            .get_or_insert(global.scrape_native_histograms);
        self.extra_scrape_metrics
            .get_or_insert(global.extra_scrape_metrics);
        let protocols = self.scrape_protocols.get_or_insert_with(|| {
            let defaults: &[&str] = if native {
                &PROTO_FIRST_SCRAPE_PROTOCOLS
            } else {
                &DEFAULT_SCRAPE_PROTOCOLS
            };
            global
                .scrape_protocols
                .clone()
                .unwrap_or_else(|| defaults.iter().map(|p| p.to_string()).collect())
        });
        validate_scrape_protocols(protocols)
            .map_err(|e| format!("{e} for scrape config with job name {job}"))?;
        if let Some(fallback) = &self.fallback_scrape_protocol {
            validate_scrape_protocol(fallback).map_err(|e| {
                format!(
                    "invalid fallback_scrape_protocol for scrape config with job name {job}: {e}"
                )
            })?;
        }
        let local_unset = self.metric_name_validation_scheme.is_unset();
        if local_unset {
            self.metric_name_validation_scheme = global.metric_name_validation_scheme;
        }
        let mut global_escaping = global.metric_name_escaping_scheme.clone();
        if global_escaping.is_empty() {
            global_escaping = if global.metric_name_validation_scheme == ValidationScheme::Legacy {
                "underscores".into()
            } else {
                "allow-utf-8".into()
            };
        } else if !ESCAPING_SCHEMES.contains(&global_escaping.as_str()) {
            return Err(format!(
                "unknown global name escaping method specified, must be one of 'allow-utf-8', \
                 'underscores', 'dots', or 'values', got {}",
                go_quote(&global_escaping)
            ));
        }
        if self.metric_name_escaping_scheme.is_empty() {
            self.metric_name_escaping_scheme = if local_unset {
                global_escaping
            } else if self.metric_name_validation_scheme == ValidationScheme::Legacy {
                "underscores".into()
            } else {
                "allow-utf-8".into()
            };
        }
        match self.metric_name_escaping_scheme.as_str() {
            "allow-utf-8" if self.metric_name_validation_scheme != ValidationScheme::Utf8 => {
                return Err(
                    "utf8 metric names requested but validation scheme is not set to UTF8".into(),
                );
            }
            "allow-utf-8" | "underscores" | "dots" | "values" => {}
            other => {
                return Err(format!(
                    "unknown scrape config name escaping method specified, must be one of \
                     'allow-utf-8', 'underscores', 'dots', or 'values', got {}",
                    go_quote(other)
                ));
            }
        }
        self.convert_classic_histograms_to_nhcb
            .get_or_insert(global.convert_classic_histograms_to_nhcb);
        self.always_scrape_classic_histograms
            .get_or_insert(global.always_scrape_classic_histograms);
        let scheme = self.metric_name_validation_scheme.relabel_scheme();
        for rule in self
            .relabel_configs
            .iter_mut()
            .chain(&mut self.metric_relabel_configs)
        {
            rule.name_validation_scheme = scheme;
            rule.validate()?;
        }
        Ok(())
    }
}

/// `model.LabelSet`'s check of target group labels as they are read: a
/// name must not be empty (under UTF-8 names, which apply here).
pub(crate) fn check_static_labels(static_configs: &[StaticConfig]) -> Result<(), String> {
    for static_config in static_configs {
        if static_config.labels.contains_key("") {
            return Err(format!("{} is not a valid label name", go_quote("")));
        }
    }
    Ok(())
}

/// `checkStaticTargets`: a URL written as a target is a mistake (unless
/// relabeling turns it into an address).
pub(crate) fn check_static_targets(static_configs: &[StaticConfig]) -> Result<(), String> {
    for static_config in static_configs {
        for target in &static_config.targets {
            if target.contains('/') {
                return Err(format!("{} is not a valid hostname", go_quote(target)));
            }
        }
    }
    Ok(())
}

/// Checks file, HTTP and DNS service discovery settings as Prometheus'
/// discovery configs do when they are read.
pub(crate) fn validate_discovery(
    file_sd_configs: &mut [FileSdConfig],
    http_sd_configs: &mut [HttpSdConfig],
    dns_sd_configs: &[DnsSdConfig],
) -> Result<(), String> {
    for sd in dns_sd_configs {
        if sd.names.is_empty() {
            return Err("DNS-SD config must contain at least one SRV record name".into());
        }
        match sd.kind.to_ascii_uppercase().as_str() {
            "SRV" => {}
            "A" | "AAAA" | "MX" | "NS" if sd.port.is_none() => {
                return Err(
                    "a port is required in DNS-SD configs for all record types except SRV".into(),
                );
            }
            "A" | "AAAA" | "MX" | "NS" => {}
            _ => return Err(format!("invalid DNS-SD records type {}", sd.kind)),
        }
    }
    for fsd in file_sd_configs.iter() {
        // Prometheus' `file.SDConfig.UnmarshalYAML` and `patFileSDName`,
        // `^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$`.
        if fsd.files.is_empty() {
            return Err("file service discovery config must contain at least one path name".into());
        }
        for pattern in &fsd.files {
            let extension = [".json", ".yml", ".yaml", ".JSON", ".YML", ".YAML"]
                .iter()
                .any(|ext| pattern.ends_with(ext));
            let one_directory_glob = match pattern.find('*') {
                None => true,
                Some(star) => !pattern[star + 1..].contains('/'),
            };
            if !extension || !one_directory_glob {
                return Err(format!(
                    "path name {pattern:?} is not valid for file discovery: use a .json, .yml or .yaml file"
                ));
            }
        }
    }
    for sd in http_sd_configs.iter_mut() {
        // Prometheus' `http.SDConfig.UnmarshalYAML`.
        if sd.url.is_empty() {
            return Err("URL is missing".into());
        }
        crate::http_client::parse_go_url(&sd.url)?;
        let (scheme, rest) = sd.url.split_once("://").unwrap_or(("", &sd.url));
        if scheme != "http" && scheme != "https" {
            return Err("URL scheme must be 'http' or 'https'".into());
        }
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = host.rsplit('@').next().unwrap_or_default();
        if host.is_empty() {
            return Err("host is missing in URL".into());
        }
        sd.validate_http_client()?;
    }
    Ok(())
}
