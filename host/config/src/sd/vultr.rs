//! `vultr_sd_configs`: Vultr instances as targets, as Prometheus'
//! `discovery/vultr.SDConfig` reads them (defaults: port 80, refresh every
//! 60s; the HTTP client settings inlined, which carry the API key as
//! `authorization`).

use serde::{Deserialize, Serialize};

use crate::PromDuration;
use crate::go_yaml::null_as_default;

crate::http_client::with_http_client! {
    /// One `vultr_sd_configs` entry.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct VultrSdConfig {
        #[serde(default = "sixty_seconds", deserialize_with = "null_as_default")]
        pub refresh_interval: PromDuration,
        #[serde(default = "port_80", deserialize_with = "null_as_default")]
        pub port: i64,
    }
}

impl VultrSdConfig {
    /// Prometheus' `UnmarshalYAML` checks: the HTTP client settings.
    pub fn validate(&mut self) -> Result<(), String> {
        self.validate_http_client()
    }
}

fn sixty_seconds() -> PromDuration {
    PromDuration(std::time::Duration::from_secs(60))
}
fn port_80() -> i64 {
    80
}
