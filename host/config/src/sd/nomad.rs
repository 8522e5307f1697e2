//! `nomad_sd_configs`: services registered in Nomad, as Prometheus'
//! `discovery/nomad.SDConfig` reads them (defaults: server
//! `http://localhost:4646`, stale reads allowed, namespace `default`, region
//! `global`, tag separator `,`, refresh every 60s; the HTTP client settings
//! inlined).

use serde::{Deserialize, Serialize};

use crate::PromDuration;
use crate::go_yaml::null_as_default;

crate::http_client::with_http_client! {
    /// One `nomad_sd_configs` entry.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct NomadSdConfig {
        #[serde(default = "crate::http_client::yes", deserialize_with = "null_as_default")]
        pub allow_stale: bool,
        #[serde(default = "default_namespace", deserialize_with = "null_as_default")]
        pub namespace: String,
        #[serde(default = "super::docker::sixty_seconds", deserialize_with = "null_as_default")]
        pub refresh_interval: PromDuration,
        #[serde(default = "default_region", deserialize_with = "null_as_default")]
        pub region: String,
        #[serde(default = "default_server", deserialize_with = "null_as_default")]
        pub server: String,
        #[serde(default = "default_separator", deserialize_with = "null_as_default")]
        pub tag_separator: String,
    }
}

impl NomadSdConfig {
    /// Prometheus' `UnmarshalYAML` checks, in its order.
    pub fn validate(&mut self) -> Result<(), String> {
        self.validate_http_nested()?;
        if self.server.trim().is_empty() {
            return Err("nomad SD configuration requires a server address".into());
        }
        self.validate_http_client()
    }
}

fn default_server() -> String {
    "http://localhost:4646".into()
}
fn default_namespace() -> String {
    "default".into()
}
fn default_region() -> String {
    "global".into()
}
fn default_separator() -> String {
    ",".into()
}
