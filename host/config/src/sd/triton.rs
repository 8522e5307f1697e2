//! `triton_sd_configs`: containers or compute nodes of Joyent Triton, as
//! Prometheus' `discovery/triton.SDConfig` reads them (defaults: role
//! `container`, port 9163, refresh every 60s, version 1; TLS settings, no
//! other HTTP client settings).

use serde::{Deserialize, Serialize};

use crate::PromDuration;
use crate::go_yaml::null_as_default;
use crate::http_client::TlsConfig;

/// One `triton_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TritonSdConfig {
    #[serde(default, deserialize_with = "null_as_default")]
    pub account: String,
    /// `container` or `cn`.
    #[serde(default = "default_role", deserialize_with = "null_as_default")]
    pub role: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub dns_suffix: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub endpoint: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub groups: Vec<String>,
    #[serde(default = "default_port", deserialize_with = "null_as_default")]
    pub port: i64,
    #[serde(
        default = "super::docker::sixty_seconds",
        deserialize_with = "null_as_default"
    )]
    pub refresh_interval: PromDuration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    #[serde(default = "default_version", deserialize_with = "null_as_default")]
    pub version: i64,
}

impl TritonSdConfig {
    /// Prometheus' `UnmarshalYAML` checks, in its order.
    pub fn validate(&mut self) -> Result<(), String> {
        if let Some(tls) = &self.tls_config {
            tls.validate()?;
        }
        if self.role != "container" && self.role != "cn" {
            return Err("triton SD configuration requires role to be 'container' or 'cn'".into());
        }
        if self.account.is_empty() {
            return Err("triton SD configuration requires an account".into());
        }
        if self.dns_suffix.is_empty() {
            return Err("triton SD configuration requires a dns_suffix".into());
        }
        if self.endpoint.is_empty() {
            return Err("triton SD configuration requires an endpoint".into());
        }
        if self.refresh_interval.0.is_zero() {
            return Err(
                "triton SD configuration requires RefreshInterval to be a positive integer".into(),
            );
        }
        Ok(())
    }
}

fn default_role() -> String {
    "container".into()
}
fn default_port() -> i64 {
    9163
}
fn default_version() -> i64 {
    1
}
