//! `puppetdb_sd_configs`: resources from PuppetDB queries, as Prometheus'
//! `discovery/puppetdb.SDConfig` reads them (defaults: port 80, refresh
//! every 60s; the HTTP client settings inlined).

use serde::{Deserialize, Serialize};

use crate::PromDuration;
use crate::go_yaml::null_as_default;

crate::http_client::with_http_client! {
    /// One `puppetdb_sd_configs` entry.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct PuppetdbSdConfig {
        #[serde(default, deserialize_with = "null_as_default", serialize_with = "crate::secret::serialize_url")]
        pub url: String,
        /// A PQL query returning resources.
        #[serde(default, deserialize_with = "null_as_default")]
        pub query: String,
        #[serde(default, deserialize_with = "null_as_default")]
        pub include_parameters: bool,
        #[serde(default = "super::docker::port_80", deserialize_with = "null_as_default")]
        pub port: i64,
        #[serde(default = "super::docker::sixty_seconds", deserialize_with = "null_as_default")]
        pub refresh_interval: PromDuration,
    }
}

impl PuppetdbSdConfig {
    /// Prometheus' `UnmarshalYAML` checks, in its order.
    pub fn validate(&mut self) -> Result<(), String> {
        self.validate_http_nested()?;
        if self.url.is_empty() {
            return Err("URL is missing".into());
        }
        let url = super::parse_go_url(&self.url)?;
        if url.scheme != "http" && url.scheme != "https" {
            return Err("URL scheme must be 'http' or 'https'".into());
        }
        if url.host.is_empty() {
            return Err("host is missing in URL".into());
        }
        if self.query.is_empty() {
            return Err("query missing".into());
        }
        self.validate_http_client()
    }
}
