//! `hetzner_sd_configs`: Hetzner Cloud servers (role `hcloud`) or Hetzner
//! Robot dedicated servers (role `robot`) as targets, as Prometheus'
//! `discovery/hetzner.SDConfig` reads them (defaults: port 80, refresh
//! every 60s; the HTTP client settings inlined, which carry the API token
//! as `authorization` or the Robot credentials as `basic_auth`).

use serde::{Deserialize, Serialize};

use crate::PromDuration;
use crate::go_yaml::null_as_default;

/// The roles Prometheus knows.
pub const HETZNER_ROLES: [&str; 2] = ["robot", "hcloud"];

crate::http_client::with_http_client! {
    /// One `hetzner_sd_configs` entry.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct HetznerSdConfig {
        #[serde(default = "sixty_seconds", deserialize_with = "null_as_default")]
        pub refresh_interval: PromDuration,
        #[serde(default = "port_80", deserialize_with = "null_as_default")]
        pub port: i64,
        /// `robot` or `hcloud`.
        #[serde(default, deserialize_with = "null_as_default")]
        pub role: String,
        /// Only `hcloud` servers matching this label selector.
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub label_selector: String,
    }
}

impl HetznerSdConfig {
    /// Prometheus' checks, in its order: the role and the nested
    /// `tls_config` and `oauth2` blocks are checked as they are read, the
    /// rest afterwards.
    pub fn validate(&mut self) -> Result<(), String> {
        if !self.role.is_empty() && !HETZNER_ROLES.contains(&self.role.as_str()) {
            return Err(format!("unknown role {:?}", self.role));
        }
        self.validate_http_nested()?;
        if self.role.is_empty() {
            return Err("role missing (one of: robot, hcloud)".into());
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
