//! `alerting`: alert relabeling and the Alertmanagers to send to, typed
//! and validated like Prometheus' `AlertingConfig` and
//! `AlertmanagerConfig`, though no alert is sent yet.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use wasmetheus_relabel::RelabelConfig;

use crate::PromDuration;
use crate::global::ValidationScheme;
use crate::go_yaml::no_nulls;
use crate::go_yaml::null_as_default;
use crate::remote::Present;
use crate::scrape::{
    DnsSdConfig, FileSdConfig, HttpSdConfig, StaticConfig, check_static_labels,
    check_static_targets, serialize_relabel_configs, validate_discovery,
};

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
    #[serde(default, deserialize_with = "null_as_default")]
    alert_relabel_configs: Vec<Option<RelabelConfig>>,
    #[serde(default, deserialize_with = "null_as_default")]
    alertmanagers: Vec<Option<AlertmanagerConfig>>,
}

impl AlertingConfig {
    /// `AlertingConfig.Validate`: the rules and Alertmanagers under the
    /// global name validation scheme.
    pub(crate) fn validate(&mut self, scheme: ValidationScheme) -> Result<(), String> {
        for rule in &mut self.alert_relabel_configs {
            rule.name_validation_scheme = scheme.relabel_scheme();
            rule.validate()?;
        }
        for am in &mut self.alertmanagers {
            am.validate(scheme)?;
        }
        Ok(())
    }

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

crate::http_client::with_http_client! {
    @then crate::sd::with_service_discovery;
    /// One `alertmanagers` entry: how Alertmanagers are found and talked to.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct AlertmanagerConfig {
        #[serde(default, deserialize_with = "static_configs", skip_serializing_if = "Vec::is_empty")]
        pub static_configs: Vec<StaticConfig>,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
        pub file_sd_configs: Vec<FileSdConfig>,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
        pub http_sd_configs: Vec<HttpSdConfig>,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
        pub dns_sd_configs: Vec<DnsSdConfig>,
        /// `http` unless set.
        #[serde(default = "http", deserialize_with = "http_if_empty")]
        pub scheme: String,
        /// Put in front of the API path (`/api/v2/alerts`).
        #[serde(default, deserialize_with = "null_as_default")]
        pub path_prefix: String,
        /// Per request to an Alertmanager; 10s unless set.
        #[serde(default = "ten_seconds", deserialize_with = "ten_seconds_if_zero")]
        pub timeout: PromDuration,
        #[serde(default)]
        pub api_version: AlertmanagerApiVersion,
        /// Applied to discovered Alertmanagers.
        #[serde(
            default,
            deserialize_with = "target_rules",
            skip_serializing_if = "Vec::is_empty",
            serialize_with = "serialize_relabel_configs"
        )]
        pub relabel_configs: Vec<RelabelConfig>,
        /// Applied to alerts sent to these Alertmanagers only.
        #[serde(
            default,
            deserialize_with = "alert_rules",
            skip_serializing_if = "Vec::is_empty",
            serialize_with = "serialize_relabel_configs"
        )]
        pub alert_relabel_configs: Vec<RelabelConfig>,
        /// AWS Signature Version 4 (accepted, not interpreted yet; shown with
        /// secrets redacted).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub sigv4: Option<Present>,
    }
}

fn static_configs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<StaticConfig>, D::Error> {
    no_null_entries(d, "empty or null section in static_configs")
}

fn target_rules<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<RelabelConfig>, D::Error> {
    no_null_entries(d, "empty or null Alertmanager target relabeling rule")
}

fn alert_rules<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<RelabelConfig>, D::Error> {
    no_null_entries(d, "empty or null Alertmanager alert relabeling rule")
}

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

fn http_if_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let scheme: String = null_as_default(d)?;
    Ok(if scheme.is_empty() { http() } else { scheme })
}

fn ten_seconds_if_zero<'de, D: serde::Deserializer<'de>>(d: D) -> Result<PromDuration, D::Error> {
    let timeout: PromDuration = null_as_default(d)?;
    Ok(if timeout.is_zero() {
        ten_seconds()
    } else {
        timeout
    })
}

impl AlertmanagerConfig {
    /// Authentication sections accepted but not interpreted yet.
    pub fn other_auth(&self) -> Vec<&'static str> {
        let mut other = Vec::new();
        if self.oauth2.is_some() {
            other.push("oauth2");
        }
        if self.sigv4.is_some() {
            other.push("sigv4");
        }
        other
    }

    /// Prometheus' `AlertmanagerConfig.UnmarshalYAML` and `Validate`, checks
    /// in their order.
    pub(crate) fn validate(&mut self, scheme: ValidationScheme) -> Result<(), String> {
        validate_discovery(
            &mut self.file_sd_configs,
            &mut self.http_sd_configs,
            &self.dns_sd_configs,
        )?;
        self.validate_service_discovery()?;
        self.validate_http_client()?;
        let http_auth =
            self.basic_auth.is_some() || self.authorization.is_some() || self.oauth2.is_some();
        if http_auth && self.sigv4.is_some() {
            return Err(
                "at most one of basic_auth, authorization, oauth2, & sigv4 must be configured"
                    .into(),
            );
        }
        check_static_labels(&self.static_configs)?;
        if self.relabel_configs.is_empty() {
            check_static_targets(&self.static_configs)?;
        }
        let scheme = scheme.relabel_scheme();
        for rule in self
            .alert_relabel_configs
            .iter_mut()
            .chain(&mut self.relabel_configs)
        {
            rule.name_validation_scheme = scheme;
            rule.validate()?;
        }
        Ok(())
    }
}

fn http() -> String {
    "http".into()
}
fn ten_seconds() -> PromDuration {
    PromDuration(Duration::from_secs(10))
}
