//! `ionos_sd_configs`: servers of an IONOS Cloud data center as targets, as
//! Prometheus' `discovery/ionos.SDConfig` reads them (defaults: port 80,
//! refresh every 60s; the HTTP client settings inlined, which carry the
//! credentials as `basic_auth` or `authorization`).

use serde::{Deserialize, Serialize};

use crate::PromDuration;
use crate::go_yaml::null_as_default;

crate::http_client::with_http_client! {
    /// One `ionos_sd_configs` entry.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct IonosSdConfig {
        #[serde(default, deserialize_with = "null_as_default")]
        pub datacenter_id: String,
        #[serde(default = "sixty_seconds", deserialize_with = "null_as_default")]
        pub refresh_interval: PromDuration,
        #[serde(default = "port_80", deserialize_with = "null_as_default")]
        pub port: i64,
    }
}

impl IonosSdConfig {
    /// Prometheus' checks, in its order: the nested `tls_config` and
    /// `oauth2` blocks as they are read, then `UnmarshalYAML`'s.
    pub fn validate(&mut self) -> Result<(), String> {
        self.validate_http_nested()?;
        if self.datacenter_id.is_empty() {
            return Err("datacenter id can't be empty".into());
        }
        self.validate_http_client()
    }
}

fn sixty_seconds() -> PromDuration {
    PromDuration(std::time::Duration::from_secs(60))
}
fn port_80() -> i64 {
    80
}
