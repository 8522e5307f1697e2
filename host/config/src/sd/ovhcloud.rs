//! `ovhcloud_sd_configs`: OVHcloud VPS (service `vps`) or dedicated servers
//! (service `dedicated_server`) as targets, as Prometheus'
//! `discovery/ovhcloud.SDConfig` reads them (defaults: endpoint `ovh-eu`,
//! refresh every 60s). OVHcloud signs its API requests with the
//! application and consumer keys, so there are no HTTP client settings.

use serde::{Deserialize, Serialize};

use crate::go_yaml::null_as_default;
use crate::{PromDuration, Secret};

/// The services Prometheus knows.
pub const OVHCLOUD_SERVICES: [&str; 2] = ["vps", "dedicated_server"];

/// One `ovhcloud_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OvhcloudSdConfig {
    #[serde(default = "ovh_eu", deserialize_with = "null_as_default")]
    pub endpoint: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub application_key: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub application_secret: Secret,
    #[serde(default, deserialize_with = "null_as_default")]
    pub consumer_key: Secret,
    #[serde(default = "sixty_seconds", deserialize_with = "null_as_default")]
    pub refresh_interval: PromDuration,
    /// `vps` or `dedicated_server`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub service: String,
}

impl OvhcloudSdConfig {
    /// Prometheus' `UnmarshalYAML` checks, in its order.
    pub fn validate(&mut self) -> Result<(), String> {
        if self.endpoint.is_empty() {
            return Err("endpoint can not be empty".into());
        }
        if self.application_key.is_empty() {
            return Err("application key can not be empty".into());
        }
        if self.application_secret.is_empty() {
            return Err("application secret can not be empty".into());
        }
        if self.consumer_key.is_empty() {
            return Err("consumer key can not be empty".into());
        }
        if !OVHCLOUD_SERVICES.contains(&self.service.as_str()) {
            return Err(format!("unknown service: {}", self.service));
        }
        Ok(())
    }
}

fn ovh_eu() -> String {
    "ovh-eu".into()
}
fn sixty_seconds() -> PromDuration {
    PromDuration(std::time::Duration::from_secs(60))
}
