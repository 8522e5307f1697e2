//! `consul_sd_configs`: a placeholder until the mechanism's own config is
//! written (it accepts only an empty mapping).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConsulSdConfig {}

impl ConsulSdConfig {
    pub fn validate(&mut self) -> Result<(), String> {
        Ok(())
    }
}
