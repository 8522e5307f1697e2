//! `outscale_sd_configs`: OUTSCALE virtual machines as targets, as
//! Prometheus' `discovery/outscale.SDConfig` reads them (defaults: region
//! `eu-west-2`, port 80, refresh every 60s, endpoint
//! `https://api.<region>.outscale.com/api/v1`; the HTTP client settings
//! inlined).

use serde::{Deserialize, Serialize};

use crate::go_yaml::null_as_default;
use crate::{PromDuration, Secret};

crate::http_client::with_http_client! {
    /// One `outscale_sd_configs` entry.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct OutscaleSdConfig {
        /// Empty: the region's API (filled in by [`OutscaleSdConfig::validate`]).
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub endpoint: String,
        #[serde(default = "eu_west_2", deserialize_with = "null_as_default")]
        pub region: String,
        #[serde(default, deserialize_with = "null_as_default")]
        pub access_key: String,
        #[serde(default, deserialize_with = "null_as_default")]
        pub secret_key: Secret,
        #[serde(default, deserialize_with = "null_as_default")]
        pub secret_key_file: String,
        #[serde(default = "sixty_seconds", deserialize_with = "null_as_default")]
        pub refresh_interval: PromDuration,
        #[serde(default = "port_80", deserialize_with = "null_as_default")]
        pub port: i64,
    }
}

impl OutscaleSdConfig {
    /// Prometheus' checks, in its order (the nested `tls_config` and
    /// `oauth2` blocks as they are read, then `UnmarshalYAML`'s); an empty
    /// endpoint becomes the region's.
    pub fn validate(&mut self) -> Result<(), String> {
        self.validate_http_nested()?;
        if self.region.is_empty() {
            return Err("outscale SD configuration requires a region".into());
        }
        if self.access_key.is_empty() {
            return Err("outscale SD configuration requires access_key".into());
        }
        let has_secret = !self.secret_key.is_empty();
        let has_file = !self.secret_key_file.is_empty();
        if !has_secret && !has_file {
            return Err("one of secret_key & secret_key_file must be configured".into());
        }
        if has_secret && has_file {
            return Err("at most one of secret_key & secret_key_file must be configured".into());
        }
        if self.endpoint.is_empty() {
            self.endpoint = format!("https://api.{}.outscale.com/api/v1", self.region);
        }
        self.validate_http_client()
    }
}

fn eu_west_2() -> String {
    "eu-west-2".into()
}
fn sixty_seconds() -> PromDuration {
    PromDuration(std::time::Duration::from_secs(60))
}
fn port_80() -> i64 {
    80
}
