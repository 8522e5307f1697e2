//! `gce_sd_configs`: Google Compute Engine instances, as Prometheus'
//! `discovery/gce.SDConfig` reads them (defaults: port 80, tag separator
//! `,`, refresh every 60s). Credentials come from the environment (Google's
//! application default credentials), not from the file.

use serde::{Deserialize, Serialize};

use crate::PromDuration;
use crate::go_yaml::null_as_default;

/// One `gce_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GceSdConfig {
    #[serde(default, deserialize_with = "null_as_default")]
    pub project: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub zone: String,
    /// A GCE API filter expression.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub filter: String,
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
    #[serde(default = "default_separator", deserialize_with = "null_as_default")]
    pub tag_separator: String,
}

impl GceSdConfig {
    /// Prometheus' `UnmarshalYAML` checks, in its order.
    pub fn validate(&mut self) -> Result<(), String> {
        if self.project.is_empty() {
            return Err("GCE SD configuration requires a project".into());
        }
        if self.zone.is_empty() {
            return Err("GCE SD configuration requires a zone".into());
        }
        Ok(())
    }
}

fn default_separator() -> String {
    ",".into()
}
