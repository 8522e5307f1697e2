//! `linode_sd_configs`: Linode instances as targets, as Prometheus'
//! `discovery/linode.SDConfig` reads them (defaults: port 80, refresh every
//! 60s, tags joined with `,`, every region; the HTTP client settings
//! inlined, which carry the API token as `authorization`).

use serde::{Deserialize, Serialize};

use crate::PromDuration;
use crate::go_yaml::null_as_default;

crate::http_client::with_http_client! {
    /// One `linode_sd_configs` entry.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct LinodeSdConfig {
        #[serde(default = "sixty_seconds", deserialize_with = "null_as_default")]
        pub refresh_interval: PromDuration,
        #[serde(default = "port_80", deserialize_with = "null_as_default")]
        pub port: i64,
        /// Surrounds and separates the values of `__meta_linode_tags`,
        /// `__meta_linode_extra_ips` and `__meta_linode_ipv6_ranges`.
        #[serde(default = "comma", deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub tag_separator: String,
        /// Only instances in this region (empty: all).
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub region: String,
    }
}

impl LinodeSdConfig {
    /// Prometheus' `UnmarshalYAML` checks: the HTTP client settings.
    pub fn validate(&mut self) -> Result<(), String> {
        self.validate_http_client()
    }
}

fn comma() -> String {
    ",".into()
}
fn sixty_seconds() -> PromDuration {
    PromDuration(std::time::Duration::from_secs(60))
}
fn port_80() -> i64 {
    80
}
