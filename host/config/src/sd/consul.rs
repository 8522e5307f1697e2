//! `consul_sd_configs`: services registered in Consul, as Prometheus'
//! `discovery/consul.SDConfig` reads them (defaults: server
//! `localhost:8500`, scheme `http`, tag separator `,`, stale reads allowed,
//! refresh every 30s; the HTTP client settings inlined). `username` and
//! `password` become the client's basic auth, as Prometheus does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::go_yaml::null_as_default;
use crate::http_client::BasicAuth;
use crate::{PromDuration, Secret};

crate::http_client::with_http_client! {
    /// One `consul_sd_configs` entry.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct ConsulSdConfig {
        #[serde(default = "default_server", deserialize_with = "null_as_default")]
        pub server: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub path_prefix: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Secret::is_empty")]
        pub token: Secret,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub datacenter: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub namespace: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub partition: String,
        #[serde(default = "default_separator", deserialize_with = "null_as_default")]
        pub tag_separator: String,
        #[serde(default = "default_scheme", deserialize_with = "null_as_default")]
        pub scheme: String,
        /// Moved into `basic_auth` by [`ConsulSdConfig::validate`].
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub username: String,
        /// Moved into `basic_auth` by [`ConsulSdConfig::validate`].
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Secret::is_empty")]
        pub password: Secret,
        #[serde(default = "crate::http_client::yes", deserialize_with = "null_as_default")]
        pub allow_stale: bool,
        #[serde(default = "thirty_seconds", deserialize_with = "null_as_default")]
        pub refresh_interval: PromDuration,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
        pub services: Vec<String>,
        /// A Consul filter expression for the catalog's services.
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub filter: String,
        /// A Consul filter expression for the health endpoint's nodes.
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub health_filter: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
        pub tags: Vec<String>,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "BTreeMap::is_empty")]
        pub node_meta: BTreeMap<String, String>,
    }
}

impl ConsulSdConfig {
    /// Prometheus' `UnmarshalYAML` checks, in its order.
    pub fn validate(&mut self) -> Result<(), String> {
        self.validate_http_nested()?;
        if self.server.trim().is_empty() {
            return Err("consul SD configuration requires a server address".into());
        }
        if !self.username.is_empty() || !self.password.is_empty() {
            if self.basic_auth.is_some() {
                return Err(
                    "at most one of consul SD configuration username and password and basic auth can be configured"
                        .into(),
                );
            }
            let password = std::mem::take(&mut self.password);
            self.basic_auth = Some(BasicAuth {
                username: std::mem::take(&mut self.username),
                password: (!password.is_empty()).then_some(password),
                ..BasicAuth::default()
            });
        }
        if !self.token.is_empty() && (self.authorization.is_some() || self.oauth2.is_some()) {
            return Err(
                "at most one of consul SD token, authorization, or oauth2 can be configured".into(),
            );
        }
        self.validate_http_client()
    }
}

fn default_server() -> String {
    "localhost:8500".into()
}
fn default_separator() -> String {
    ",".into()
}
fn default_scheme() -> String {
    "http".into()
}
fn thirty_seconds() -> PromDuration {
    super::seconds(30)
}
