//! `dockerswarm_sd_configs`: services, tasks or nodes of a Docker Swarm,
//! as Prometheus' `discovery/moby.DockerSwarmSDConfig` reads them
//! (defaults: port 80, refresh every 60s; the HTTP client settings
//! inlined).

use serde::{Deserialize, Serialize};

use super::docker::{DockerFilter, port_80, sixty_seconds};
use crate::PromDuration;
use crate::go_yaml::null_as_default;

crate::http_client::with_http_client! {
    /// One `dockerswarm_sd_configs` entry.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct DockerswarmSdConfig {
        #[serde(default, deserialize_with = "null_as_default")]
        pub host: String,
        /// `services`, `tasks` or `nodes`.
        #[serde(default, deserialize_with = "null_as_default")]
        pub role: String,
        #[serde(default = "port_80", deserialize_with = "null_as_default")]
        pub port: i64,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
        pub filters: Vec<DockerFilter>,
        #[serde(default = "sixty_seconds", deserialize_with = "null_as_default")]
        pub refresh_interval: PromDuration,
    }
}

impl DockerswarmSdConfig {
    /// Prometheus' `UnmarshalYAML` checks, in its order.
    pub fn validate(&mut self) -> Result<(), String> {
        self.validate_http_nested()?;
        if self.host.is_empty() {
            return Err("host missing".into());
        }
        super::parse_go_url(&self.host)?;
        match self.role.as_str() {
            "services" | "nodes" | "tasks" => {}
            "" => return Err("role missing (one of: tasks, services, nodes)".into()),
            role => {
                return Err(format!(
                    "invalid role {role}, expected tasks, services, or nodes"
                ));
            }
        }
        self.validate_http_client()
    }
}
