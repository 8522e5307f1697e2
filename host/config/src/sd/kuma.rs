//! `kuma_sd_configs`: data plane proxies of a Kuma control plane (its
//! MADS API), as Prometheus' `discovery/xds.KumaSDConfig` reads them
//! (defaults: refresh every 15s, fetch timeout 2m; the HTTP client
//! settings inlined).

use serde::{Deserialize, Serialize};

use crate::PromDuration;
use crate::go_yaml::null_as_default;

crate::http_client::with_http_client! {
    /// One `kuma_sd_configs` entry.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct KumaSdConfig {
        #[serde(default, deserialize_with = "null_as_default", serialize_with = "crate::secret::serialize_url")]
        pub server: String,
        /// Empty: the host name, as Prometheus does when it runs.
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub client_id: String,
        #[serde(default = "fifteen_seconds", deserialize_with = "null_as_default")]
        pub refresh_interval: PromDuration,
        #[serde(default = "two_minutes", deserialize_with = "null_as_default")]
        pub fetch_timeout: PromDuration,
    }
}

impl KumaSdConfig {
    /// Prometheus' `UnmarshalYAML` checks, in its order.
    pub fn validate(&mut self) -> Result<(), String> {
        self.validate_http_nested()?;
        if self.server.is_empty() {
            return Err(format!("kuma SD server must not be empty: {}", self.server));
        }
        let url = super::parse_go_url(&self.server)?;
        if url.scheme.is_empty() || url.host.is_empty() {
            return Err(format!(
                "kuma SD server must not be empty and have a scheme: {}",
                crate::secret::redact_url(&self.server)
            ));
        }
        self.validate_http_client()
    }
}

fn fifteen_seconds() -> PromDuration {
    super::seconds(15)
}
fn two_minutes() -> PromDuration {
    super::seconds(120)
}
