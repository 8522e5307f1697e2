//! `azure_sd_configs`: Azure virtual machines (and scale set instances) as
//! targets, as Prometheus' `discovery/azure.SDConfig` reads them (defaults:
//! port 80, refresh every 5m, environment `AzurePublicCloud`,
//! authentication `OAuth`; the HTTP client settings inlined).

use serde::{Deserialize, Serialize};

use crate::go_yaml::null_as_default;
use crate::{PromDuration, Secret};

/// The authentication methods Prometheus knows, in the order its error
/// message names them.
pub const AZURE_AUTHENTICATION_METHODS: [&str; 4] =
    ["OAuth", "ManagedIdentity", "SDK", "WorkloadIdentity"];

crate::http_client::with_http_client! {
    /// One `azure_sd_configs` entry.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct AzureSdConfig {
        #[serde(default = "public_cloud", deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub environment: String,
        #[serde(default = "port_80", deserialize_with = "null_as_default")]
        pub port: i64,
        #[serde(default, deserialize_with = "null_as_default")]
        pub subscription_id: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub tenant_id: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub client_id: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Secret::is_empty")]
        pub client_secret: Secret,
        #[serde(default = "five_minutes", deserialize_with = "null_as_default")]
        pub refresh_interval: PromDuration,
        #[serde(default = "oauth", deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub authentication_method: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub resource_group: String,
    }
}

impl AzureSdConfig {
    /// Prometheus' checks, in its order: the nested `tls_config` and
    /// `oauth2` blocks as they are read, then `UnmarshalYAML`'s.
    pub fn validate(&mut self) -> Result<(), String> {
        self.validate_http_nested()?;
        require(&self.subscription_id, "subscription_id")?;
        if self.authentication_method == "OAuth" {
            require(&self.tenant_id, "tenant_id")?;
            require(&self.client_id, "client_id")?;
            require(self.client_secret.expose(), "client_secret")?;
        }
        if !AZURE_AUTHENTICATION_METHODS.contains(&self.authentication_method.as_str()) {
            let [a, b, c, d] = AZURE_AUTHENTICATION_METHODS;
            return Err(format!(
                "unknown authentication_type {:?}. Supported types are {a:?}, {b:?}, {c:?} or {d:?}",
                self.authentication_method
            ));
        }
        self.validate_http_client()
    }
}

fn require(value: &str, name: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("azure SD configuration requires a {name}"));
    }
    Ok(())
}

fn public_cloud() -> String {
    "AzurePublicCloud".into()
}
fn oauth() -> String {
    "OAuth".into()
}
fn five_minutes() -> PromDuration {
    PromDuration(std::time::Duration::from_secs(300))
}
fn port_80() -> i64 {
    80
}
