//! `marathon_sd_configs`: applications of Marathon (Mesos), as Prometheus'
//! `discovery/marathon.SDConfig` reads them (refresh every 30s by default;
//! the HTTP client settings inlined, plus Marathon's own `auth_token` and
//! `auth_token_file`, which exclude the client's other credentials).

use serde::{Deserialize, Serialize};

use crate::go_yaml::null_as_default;
use crate::{PromDuration, Secret};

crate::http_client::with_http_client! {
    /// One `marathon_sd_configs` entry.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct MarathonSdConfig {
        #[serde(default, deserialize_with = "null_as_default")]
        pub servers: Vec<String>,
        #[serde(default = "thirty_seconds", deserialize_with = "null_as_default")]
        pub refresh_interval: PromDuration,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Secret::is_empty")]
        pub auth_token: Secret,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub auth_token_file: String,
    }
}

impl MarathonSdConfig {
    /// Prometheus' `UnmarshalYAML` checks, in its order.
    pub fn validate(&mut self) -> Result<(), String> {
        self.validate_http_nested()?;
        if self.servers.is_empty() {
            return Err("marathon_sd: must contain at least one Marathon server".into());
        }
        let token = !self.auth_token.is_empty();
        let token_file = !self.auth_token_file.is_empty();
        if token && token_file {
            return Err(
                "marathon_sd: at most one of auth_token & auth_token_file must be configured"
                    .into(),
            );
        }
        if token || token_file {
            if self.basic_auth.is_some() {
                return Err(
                    "marathon_sd: at most one of basic_auth, auth_token & auth_token_file must be configured"
                        .into(),
                );
            }
            if !self.bearer_token.is_empty() || !self.bearer_token_file.is_empty() {
                return Err(
                    "marathon_sd: at most one of bearer_token, bearer_token_file, auth_token & auth_token_file must be configured"
                        .into(),
                );
            }
            if self.authorization.is_some() {
                return Err(
                    "marathon_sd: at most one of auth_token, auth_token_file & authorization must be configured"
                        .into(),
                );
            }
        }
        self.validate_http_client()
    }
}

fn thirty_seconds() -> PromDuration {
    super::seconds(30)
}
