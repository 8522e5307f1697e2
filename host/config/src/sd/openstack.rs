//! `openstack_sd_configs`: hypervisors, instances or load balancers of an
//! OpenStack cloud, as Prometheus' `discovery/openstack.SDConfig` reads
//! them (defaults: port 80, refresh every 60s, availability `public`; TLS
//! settings, no other HTTP client settings).

use serde::{Deserialize, Deserializer, Serialize};

use crate::go_yaml::null_as_default;
use crate::http_client::TlsConfig;
use crate::{PromDuration, Secret};

/// One `openstack_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OpenstackSdConfig {
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub identity_endpoint: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub username: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub userid: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Secret::is_empty"
    )]
    pub password: Secret,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub project_name: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub project_id: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub domain_name: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub domain_id: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub application_credential_name: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub application_credential_id: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Secret::is_empty"
    )]
    pub application_credential_secret: Secret,
    /// `hypervisor`, `instance` or `loadbalancer`.
    #[serde(default, deserialize_with = "role")]
    pub role: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub region: String,
    #[serde(
        default = "super::docker::sixty_seconds",
        deserialize_with = "null_as_default"
    )]
    pub refresh_interval: PromDuration,
    #[serde(
        default = "super::docker::port_80",
        deserialize_with = "null_as_default"
    )]
    pub port: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub all_tenants: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// `public`, `internal` or `admin`.
    #[serde(default = "default_availability", deserialize_with = "null_as_default")]
    pub availability: String,
}

/// The role, checked as it is read (Prometheus' `Role.UnmarshalYAML`).
fn role<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let role: String = null_as_default(deserializer)?;
    match role.as_str() {
        "hypervisor" | "instance" | "loadbalancer" => Ok(role),
        _ => Err(serde::de::Error::custom(format!(
            "unknown OpenStack SD role {role:?}"
        ))),
    }
}

impl OpenstackSdConfig {
    /// Prometheus' `UnmarshalYAML` checks, in its order.
    pub fn validate(&mut self) -> Result<(), String> {
        if let Some(tls) = &self.tls_config {
            tls.validate()?;
        }
        match self.availability.as_str() {
            "public" | "internal" | "admin" => {}
            other => {
                return Err(format!(
                    "unknown availability {other}, must be one of admin, internal or public"
                ));
            }
        }
        if self.role.is_empty() {
            return Err("role missing (one of: instance, hypervisor, loadbalancer)".into());
        }
        if self.region.is_empty() {
            return Err("openstack SD configuration requires a region".into());
        }
        Ok(())
    }
}

fn default_availability() -> String {
    "public".into()
}
