//! `alerting`: alert relabeling and the Alertmanagers to send to, typed
//! and validated like Prometheus' `AlertingConfig` and
//! `AlertmanagerConfig`, though no alert is sent yet.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use wasmetheus_scrape::relabel::RelabelConfig;

use crate::PromDuration;
use crate::remote::{Present, check_http_client, no_nulls, opaque_sections};
use crate::scrape::{
    Authorization, BasicAuth, DnsSdConfig, FileSdConfig, HttpClientConfig, HttpSdConfig,
    StaticConfig, TlsConfig, serialize_relabel_configs, validate_discovery,
};
use crate::secret::OpaqueSettings;
use std::collections::BTreeMap;

/// The `alerting` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "RawAlerting")]
pub struct AlertingConfig {
    /// Applied to every alert before it is sent to any Alertmanager.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "serialize_relabel_configs"
    )]
    pub alert_relabel_configs: Vec<RelabelConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alertmanagers: Vec<AlertmanagerConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlerting {
    #[serde(default)]
    alert_relabel_configs: Vec<Option<RelabelConfig>>,
    #[serde(default)]
    alertmanagers: Vec<Option<AlertmanagerConfig>>,
}

impl AlertingConfig {
    /// No alert relabeling and no Alertmanager.
    pub fn is_empty(&self) -> bool {
        self.alert_relabel_configs.is_empty() && self.alertmanagers.is_empty()
    }
}

impl TryFrom<RawAlerting> for AlertingConfig {
    type Error = String;

    fn try_from(raw: RawAlerting) -> Result<Self, String> {
        Ok(AlertingConfig {
            alert_relabel_configs: no_nulls(
                raw.alert_relabel_configs,
                "empty or null alert relabeling rule",
            )?,
            // Go leaves a null entry as a nil pointer that nothing checks
            // (and that crashes later); refusing it is the safe reading.
            alertmanagers: no_nulls(raw.alertmanagers, "empty or null Alertmanager config")?,
        })
    }
}

/// The Alertmanager API to speak. Prometheus 3 removed v1, so v2 is the
/// only version accepted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AlertmanagerApiVersion {
    #[default]
    V2,
}

impl Serialize for AlertmanagerApiVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("v2")
    }
}

impl<'de> Deserialize<'de> for AlertmanagerApiVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Option::<String>::deserialize(d)?.unwrap_or_default();
        match text.as_str() {
            "v2" => Ok(AlertmanagerApiVersion::V2),
            // Go prints the supported list with `%v`: `[v2]`.
            other => Err(serde::de::Error::custom(format!(
                "expected Alertmanager api version to be one of [v2] but got {other}"
            ))),
        }
    }
}

/// One `alertmanagers` entry: how Alertmanagers are found and talked to.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "RawAlertmanager")]
pub struct AlertmanagerConfig {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub static_configs: Vec<StaticConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub file_sd_configs: Vec<FileSdConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http_sd_configs: Vec<HttpSdConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_sd_configs: Vec<DnsSdConfig>,
    #[serde(flatten)]
    pub http: HttpClientConfig,
    /// `http` unless set.
    pub scheme: String,
    /// Put in front of the API path (`/api/v2/alerts`).
    pub path_prefix: String,
    /// Per request to an Alertmanager; 10s unless set.
    pub timeout: PromDuration,
    pub api_version: AlertmanagerApiVersion,
    /// Applied to discovered Alertmanagers.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "serialize_relabel_configs"
    )]
    pub relabel_configs: Vec<RelabelConfig>,
    /// Applied to alerts sent to these Alertmanagers only.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "serialize_relabel_configs"
    )]
    pub alert_relabel_configs: Vec<RelabelConfig>,
    /// `oauth2` and `sigv4`, if given: accepted, not interpreted yet.
    #[serde(skip)]
    pub other_auth: Vec<&'static str>,
    /// Their content, shown with secrets redacted.
    #[serde(flatten)]
    pub other_auth_settings: BTreeMap<&'static str, OpaqueSettings>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlertmanager {
    #[serde(default)]
    static_configs: Vec<StaticConfig>,
    #[serde(default)]
    file_sd_configs: Vec<FileSdConfig>,
    #[serde(default)]
    http_sd_configs: Vec<HttpSdConfig>,
    #[serde(default)]
    dns_sd_configs: Vec<DnsSdConfig>,
    #[serde(default = "http")]
    scheme: String,
    #[serde(default)]
    path_prefix: String,
    #[serde(default = "ten_seconds")]
    timeout: PromDuration,
    #[serde(default)]
    api_version: AlertmanagerApiVersion,
    #[serde(default)]
    relabel_configs: Vec<Option<RelabelConfig>>,
    #[serde(default)]
    alert_relabel_configs: Vec<Option<RelabelConfig>>,
    #[serde(default)]
    sigv4: Option<Present>,
    #[serde(default)]
    oauth2: Option<Present>,
    #[serde(default)]
    basic_auth: Option<BasicAuth>,
    #[serde(default)]
    authorization: Option<Authorization>,
    #[serde(default)]
    tls_config: Option<TlsConfig>,
    #[serde(default)]
    follow_redirects: Option<bool>,
    #[serde(default)]
    enable_http2: Option<bool>,
    #[serde(default)]
    proxy_url: Option<String>,
    #[serde(default)]
    no_proxy: Option<String>,
    #[serde(default)]
    proxy_from_environment: Option<bool>,
}

crate::scrape::http_client!(RawAlertmanager);

impl TryFrom<RawAlertmanager> for AlertmanagerConfig {
    type Error = String;

    /// Prometheus' `AlertmanagerConfig.UnmarshalYAML`, checks in its order.
    fn try_from(raw: RawAlertmanager) -> Result<Self, String> {
        let http = raw.http();
        check_http_client(&http, raw.oauth2.is_some())?;
        let http_auth =
            http.basic_auth.is_some() || http.authorization.is_some() || raw.oauth2.is_some();
        if http_auth && raw.sigv4.is_some() {
            return Err(
                "at most one of basic_auth, authorization, oauth2, & sigv4 must be configured"
                    .into(),
            );
        }
        // Relabeling may turn a URL into an address; without it a URL
        // written as a target is a mistake.
        if raw.relabel_configs.is_empty() {
            for static_config in &raw.static_configs {
                for target in &static_config.targets {
                    if target.contains('/') {
                        return Err(format!("{target:?} is not a valid hostname"));
                    }
                }
            }
        }
        let relabel_configs = no_nulls(
            raw.relabel_configs,
            "empty or null Alertmanager target relabeling rule",
        )?;
        let alert_relabel_configs = no_nulls(
            raw.alert_relabel_configs,
            "empty or null Alertmanager alert relabeling rule",
        )?;
        validate_discovery(
            &raw.file_sd_configs,
            &raw.http_sd_configs,
            &raw.dns_sd_configs,
        )?;
        let other_auth_settings = opaque_sections([
            ("oauth2", &raw.oauth2),
            ("sigv4", &raw.sigv4),
            ("azuread", &None),
            ("google_iam", &None),
        ]);
        let mut other_auth = Vec::new();
        if raw.oauth2.is_some() {
            other_auth.push("oauth2");
        }
        if raw.sigv4.is_some() {
            other_auth.push("sigv4");
        }
        Ok(AlertmanagerConfig {
            static_configs: raw.static_configs,
            file_sd_configs: raw.file_sd_configs,
            http_sd_configs: raw.http_sd_configs,
            dns_sd_configs: raw.dns_sd_configs,
            http,
            scheme: raw.scheme,
            path_prefix: raw.path_prefix,
            timeout: raw.timeout,
            api_version: raw.api_version,
            relabel_configs,
            alert_relabel_configs,
            other_auth,
            other_auth_settings,
        })
    }
}

fn http() -> String {
    "http".into()
}
fn ten_seconds() -> PromDuration {
    PromDuration(Duration::from_secs(10))
}
