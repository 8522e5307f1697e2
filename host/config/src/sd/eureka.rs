//! `eureka_sd_configs`: applications registered in Netflix Eureka, as
//! Prometheus' `discovery/eureka.SDConfig` reads them (refresh every 30s
//! by default; the HTTP client settings inlined).

use serde::{Deserialize, Serialize};

use crate::PromDuration;
use crate::go_yaml::null_as_default;

crate::http_client::with_http_client! {
    /// One `eureka_sd_configs` entry.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct EurekaSdConfig {
        /// The Eureka server's URL, e.g. `http://localhost:8761/eureka`.
        #[serde(default, deserialize_with = "null_as_default", serialize_with = "crate::secret::serialize_url")]
        pub server: String,
        #[serde(default = "thirty_seconds", deserialize_with = "null_as_default")]
        pub refresh_interval: PromDuration,
    }
}

impl EurekaSdConfig {
    /// Prometheus' `UnmarshalYAML` checks, in its order.
    pub fn validate(&mut self) -> Result<(), String> {
        self.validate_http_nested()?;
        if self.server.is_empty() {
            return Err("eureka_sd: empty or null eureka server".into());
        }
        let url = super::parse_go_url(&self.server)?;
        if url.scheme.is_empty() || url.host.is_empty() {
            return Err("eureka_sd: invalid eureka server URL".into());
        }
        self.validate_http_client()
    }
}

fn thirty_seconds() -> PromDuration {
    super::seconds(30)
}
