//! `scrape_configs`: what to scrape, how, and how its targets are found,
//! as Prometheus' `config.ScrapeConfig` reads it (defaults, limits, HTTP
//! client settings, service discovery), with its validation texts.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use wasmetheus_scrape::relabel::RelabelConfig;

use crate::secret::{Secret, no_secret, serialize_optional_url, serialize_url};
use crate::{ByteSize, PromDuration};

/// One `scrape_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeConfig {
    pub job_name: String,
    /// Unset: the global interval (filled in by [`Config::parse`]).
    ///
    /// [`Config::parse`]: crate::Config::parse
    #[serde(default = "zero")]
    pub scrape_interval: PromDuration,
    /// Unset: the global timeout, capped at the interval.
    #[serde(default = "zero")]
    pub scrape_timeout: PromDuration,
    #[serde(default = "default_metrics_path")]
    pub metrics_path: String,
    #[serde(default = "default_scheme")]
    pub scheme: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub honor_labels: bool,
    #[serde(default = "yes")]
    pub honor_timestamps: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub static_configs: Vec<StaticConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_sd_configs: Vec<FileSdConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http_sd_configs: Vec<HttpSdConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_sd_configs: Vec<DnsSdConfig>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "serialize_relabel_configs"
    )]
    pub relabel_configs: Vec<RelabelConfig>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "serialize_relabel_configs"
    )]
    pub metric_relabel_configs: Vec<RelabelConfig>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sample_limit: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub label_limit: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub label_name_length_limit: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub label_value_length_limit: u64,
    #[serde(default, skip_serializing_if = "ByteSize::is_zero")]
    pub body_size_limit: ByteSize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub target_limit: u64,
    // The HTTP client (Prometheus' `HTTPClientConfig`, inlined).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_http2: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_optional_url"
    )]
    pub proxy_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_from_environment: Option<bool>,
    // Accepted so existing files load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_protocols: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_scrape_protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_timestamps_staleness: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_compression: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_name_validation_scheme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_name_escaping_scheme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_classic_histograms: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub always_scrape_classic_histograms: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_histogram_bucket_limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_histogram_min_bucket_factor: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convert_classic_histograms_to_nhcb: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_dropped_targets: Option<u64>,
}

/// The HTTP client settings a scrape config or HTTP SD shares
/// (Prometheus' `common/config.HTTPClientConfig`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HttpClientConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_http2: Option<bool>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_optional_url"
    )]
    pub proxy_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_from_environment: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    #[serde(default, skip_serializing_if = "no_secret")]
    pub password: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    #[serde(default = "bearer", rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "no_secret")]
    pub credentials: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure_skip_verify: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
}

/// `static_configs`: targets written out, with labels for all of them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// `file_sd_configs`: target groups read from JSON or YAML files, re-read
/// when they change.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    pub files: Vec<String>,
    #[serde(default = "five_minutes")]
    pub refresh_interval: PromDuration,
}

/// `http_sd_configs`: target groups fetched as JSON from a URL.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSdConfig {
    #[serde(serialize_with = "serialize_url")]
    pub url: String,
    #[serde(default = "one_minute")]
    pub refresh_interval: PromDuration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_http2: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_optional_url"
    )]
    pub proxy_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_from_environment: Option<bool>,
}

/// `dns_sd_configs`: targets from SRV, A or AAAA records.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DnsSdConfig {
    pub names: Vec<String>,
    #[serde(default = "srv", rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default = "thirty_seconds")]
    pub refresh_interval: PromDuration,
}

macro_rules! http_client {
    ($t:ty) => {
        impl $t {
            /// Its HTTP client settings.
            pub fn http(&self) -> HttpClientConfig {
                HttpClientConfig {
                    basic_auth: self.basic_auth.clone(),
                    authorization: self.authorization.clone(),
                    tls_config: self.tls_config.clone(),
                    follow_redirects: self.follow_redirects,
                    enable_http2: self.enable_http2,
                    proxy_url: self.proxy_url.clone(),
                    no_proxy: self.no_proxy.clone(),
                    proxy_from_environment: self.proxy_from_environment,
                }
            }
        }
    };
}
pub(crate) use http_client;
http_client!(ScrapeConfig);
http_client!(HttpSdConfig);

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
            map.serialize_entry("separator", &r.separator)?;
            map.serialize_entry("regex", r.regex.as_str())?;
            if r.modulus != 0 {
                map.serialize_entry("modulus", &r.modulus)?;
            }
            if !r.target_label.is_empty() {
                map.serialize_entry("target_label", &r.target_label)?;
            }
            map.serialize_entry("replacement", &r.replacement)?;
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

fn zero() -> PromDuration {
    PromDuration(Duration::ZERO)
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
fn bearer() -> String {
    "Bearer".into()
}
fn srv() -> String {
    "SRV".into()
}

impl ScrapeConfig {
    /// Fills in the global defaults and checks what Prometheus checks;
    /// errors are Prometheus' texts.
    pub(crate) fn complete(
        &mut self,
        global_interval: PromDuration,
        global_timeout: PromDuration,
    ) -> Result<(), String> {
        let job = &self.job_name;
        if job.is_empty() {
            return Err("job_name is empty".into());
        }
        if self.scrape_interval.0.is_zero() {
            self.scrape_interval = global_interval;
        }
        if self.scrape_timeout > self.scrape_interval {
            return Err(format!(
                "scrape timeout greater than scrape interval for scrape config with job name {job:?}"
            ));
        }
        if self.scrape_timeout.0.is_zero() {
            self.scrape_timeout = global_timeout.min(self.scrape_interval);
        }
        if !matches!(self.scheme.as_str(), "http" | "https") {
            return Err(format!(
                "unknown scheme {:?} for scrape config with job name {job:?}: use http or https",
                self.scheme
            ));
        }
        if !self.metrics_path.starts_with('/') {
            return Err(format!(
                "metrics_path {:?} must start with `/` (job {job:?})",
                self.metrics_path
            ));
        }
        self.http().validate()?;
        validate_discovery(
            &self.file_sd_configs,
            &self.http_sd_configs,
            &self.dns_sd_configs,
        )?;
        for static_config in &self.static_configs {
            for target in &static_config.targets {
                if target.is_empty() || target.contains('/') {
                    return Err(format!("{target:?} is not a valid hostname"));
                }
            }
        }
        for relabel in self
            .relabel_configs
            .iter()
            .chain(&self.metric_relabel_configs)
        {
            relabel.validate()?;
        }
        Ok(())
    }
}

/// Checks file, HTTP and DNS service discovery settings as Prometheus'
/// discovery configs do when they are read.
pub(crate) fn validate_discovery(
    file_sd_configs: &[FileSdConfig],
    http_sd_configs: &[HttpSdConfig],
    dns_sd_configs: &[DnsSdConfig],
) -> Result<(), String> {
    for sd in http_sd_configs {
        sd.http().validate()?;
        if !(sd.url.starts_with("http://") || sd.url.starts_with("https://")) {
            return Err(format!(
                "URL scheme must be 'http' or 'https': {:?}",
                sd.url
            ));
        }
    }
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
            other => return Err(format!("invalid DNS-SD records type {other}")),
        }
    }
    for fsd in file_sd_configs {
        for pattern in &fsd.files {
            let ok = [".json", ".yml", ".yaml"]
                .iter()
                .any(|ext| pattern.ends_with(ext));
            if !ok {
                return Err(format!(
                    "path name {pattern:?} is not valid for file discovery: use a .json, .yml or .yaml file"
                ));
            }
        }
    }
    Ok(())
}

impl HttpClientConfig {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if let Some(basic) = &self.basic_auth {
            if basic.password.is_some() && basic.password_file.is_some() {
                return Err(
                    "at most one of basic_auth password & password_file must be configured".into(),
                );
            }
            if self.authorization.is_some() {
                return Err(
                    "at most one of basic_auth, oauth2 & authorization must be configured".into(),
                );
            }
        }
        if let Some(auth) = &self.authorization {
            if auth.kind.eq_ignore_ascii_case("basic") {
                return Err(
                    "authorization type cannot be set to \"basic\", use \"basic_auth\" instead"
                        .into(),
                );
            }
            if auth.credentials.is_some() && auth.credentials_file.is_some() {
                return Err(
                    "at most one of authorization credentials & credentials_file must be configured"
                        .into(),
                );
            }
        }
        Ok(())
    }
}
