//! `nerve_sd_configs`: AirBnB Nerve registrations in ZooKeeper, as Prometheus'
//! `discovery/zookeeper.NerveSDConfig` reads them (timeout 10s by
//! default).

use serde::{Deserialize, Serialize};

use crate::PromDuration;
use crate::go_yaml::null_as_default;

/// One `nerve_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NerveSdConfig {
    /// ZooKeeper servers (`host:port`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub servers: Vec<String>,
    /// ZooKeeper paths, each starting with `/`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub paths: Vec<String>,
    #[serde(default = "ten_seconds", deserialize_with = "null_as_default")]
    pub timeout: PromDuration,
}

impl NerveSdConfig {
    /// Prometheus' `UnmarshalYAML` checks, in its order.
    pub fn validate(&mut self) -> Result<(), String> {
        if self.servers.is_empty() {
            return Err("nerve SD config must contain at least one Zookeeper server".into());
        }
        if self.paths.is_empty() {
            return Err("nerve SD config must contain at least one path".into());
        }
        if let Some(path) = self.paths.iter().find(|p| !p.starts_with('/')) {
            return Err(format!("nerve SD config paths must begin with '/': {path}"));
        }
        Ok(())
    }
}

fn ten_seconds() -> PromDuration {
    super::seconds(10)
}
