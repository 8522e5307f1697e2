//! `uyuni_sd_configs`: systems managed by Uyuni (SUSE Manager), as
//! Prometheus' `discovery/uyuni.SDConfig` reads them (defaults: entitlement
//! `monitoring_entitled`, separator `,`, refresh every 60s; the HTTP client
//! settings inlined).

use serde::{Deserialize, Serialize};

use crate::go_yaml::null_as_default;
use crate::{PromDuration, Secret};

crate::http_client::with_http_client! {
    /// One `uyuni_sd_configs` entry.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct UyuniSdConfig {
        #[serde(default, deserialize_with = "null_as_default", serialize_with = "crate::secret::serialize_url")]
        pub server: String,
        #[serde(default, deserialize_with = "null_as_default")]
        pub username: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Secret::is_empty")]
        pub password: Secret,
        #[serde(default = "default_entitlement", deserialize_with = "null_as_default")]
        pub entitlement: String,
        #[serde(default = "default_separator", deserialize_with = "null_as_default")]
        pub separator: String,
        #[serde(default = "super::docker::sixty_seconds", deserialize_with = "null_as_default")]
        pub refresh_interval: PromDuration,
    }
}

impl UyuniSdConfig {
    /// Prometheus' `UnmarshalYAML` checks, in its order.
    pub fn validate(&mut self) -> Result<(), String> {
        self.validate_http_nested()?;
        if self.server.is_empty() {
            return Err("Uyuni SD configuration requires server host".into());
        }
        super::parse_go_url(&self.server)
            .map_err(|e| format!("Uyuni Server URL is not valid: {e}"))?;
        if self.username.is_empty() {
            return Err("Uyuni SD configuration requires a username".into());
        }
        if self.password.is_empty() {
            return Err("Uyuni SD configuration requires a password".into());
        }
        self.validate_http_client()
    }
}

fn default_entitlement() -> String {
    "monitoring_entitled".into()
}
fn default_separator() -> String {
    ",".into()
}
