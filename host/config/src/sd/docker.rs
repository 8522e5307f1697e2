//! `docker_sd_configs`: containers of a Docker engine, as Prometheus'
//! `discovery/moby.DockerSDConfig` reads them (defaults: port 80, host
//! networking host `localhost`, the first network matched, refresh every
//! 60s; the HTTP client settings inlined).

use serde::{Deserialize, Serialize};

use crate::PromDuration;
use crate::go_yaml::null_as_default;

crate::http_client::with_http_client! {
    /// One `docker_sd_configs` entry.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct DockerSdConfig {
        /// The Docker daemon's address (`unix:///var/run/docker.sock`,
        /// `tcp://…`, `http://…`).
        #[serde(default, deserialize_with = "null_as_default")]
        pub host: String,
        #[serde(default = "port_80", deserialize_with = "null_as_default")]
        pub port: i64,
        #[serde(default = "localhost", deserialize_with = "null_as_default")]
        pub host_networking_host: String,
        #[serde(default = "crate::http_client::yes", deserialize_with = "null_as_default")]
        pub match_first_network: bool,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
        pub filters: Vec<DockerFilter>,
        #[serde(default = "sixty_seconds", deserialize_with = "null_as_default")]
        pub refresh_interval: PromDuration,
    }
}

/// One `filters` entry of Docker and Docker Swarm discovery: a filter of
/// the Docker API's list calls.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DockerFilter {
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub values: Vec<String>,
}

impl DockerSdConfig {
    /// Prometheus' `UnmarshalYAML` checks, in its order.
    pub fn validate(&mut self) -> Result<(), String> {
        self.validate_http_nested()?;
        if self.host.is_empty() {
            return Err("host missing".into());
        }
        super::parse_go_url(&self.host)?;
        self.validate_http_client()
    }
}

pub(crate) fn port_80() -> i64 {
    80
}
fn localhost() -> String {
    "localhost".into()
}
pub(crate) fn sixty_seconds() -> PromDuration {
    super::seconds(60)
}
