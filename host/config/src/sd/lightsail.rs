//! `lightsail_sd_configs`: AWS Lightsail instances as targets, as
//! Prometheus' `discovery/aws.LightsailSDConfig` reads them (defaults:
//! port 80, refresh every 60s; the HTTP client settings inlined). An empty
//! `region` is filled as for EC2 (see [`super::ec2`]).

use serde::{Deserialize, Serialize};

use crate::go_yaml::null_as_default;
use crate::{PromDuration, Secret};

crate::http_client::with_http_client! {
    /// One `lightsail_sd_configs` entry.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct LightsailSdConfig {
        #[serde(default, deserialize_with = "null_as_default")]
        pub endpoint: String,
        #[serde(default, deserialize_with = "null_as_default")]
        pub region: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub access_key: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Secret::is_empty")]
        pub secret_key: Secret,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub profile: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub role_arn: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub external_id: String,
        #[serde(default = "sixty_seconds", deserialize_with = "null_as_default")]
        pub refresh_interval: PromDuration,
        #[serde(default = "port_80", deserialize_with = "null_as_default")]
        pub port: i64,
    }
}

impl LightsailSdConfig {
    /// Prometheus' checks, in its order: the nested `tls_config` and
    /// `oauth2` blocks as they are read, then `UnmarshalYAML`'s.
    pub fn validate(&mut self) -> Result<(), String> {
        self.validate_http_nested()?;
        super::ec2::fill_region(&mut self.region, |name| std::env::var(name).ok());
        self.validate_http_client()
    }
}

fn sixty_seconds() -> PromDuration {
    PromDuration(std::time::Duration::from_secs(60))
}
fn port_80() -> i64 {
    80
}
