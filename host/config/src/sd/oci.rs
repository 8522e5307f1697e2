//! `oci_sd_configs`: Oracle Cloud Infrastructure compute instances, as
//! Prometheus' `discovery/oci.SDConfig` reads them (defaults: auth
//! `api_key`, port 9100, refresh every 60s; the HTTP client settings
//! inlined). With `api_key` the tenancy, user, fingerprint and key file are
//! required; with `instance_principal` none of them may be set. Without
//! `compartments`, every compartment of the tenancy is discovered.

use serde::{Deserialize, Serialize};

use crate::go_yaml::null_as_default;
use crate::{PromDuration, Secret};

crate::http_client::with_http_client! {
    /// One `oci_sd_configs` entry.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct OciSdConfig {
        /// `api_key` or `instance_principal`.
        #[serde(default = "default_auth", deserialize_with = "null_as_default")]
        pub auth: String,
        #[serde(default, deserialize_with = "null_as_default")]
        pub region: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub tenancy: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub user: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub fingerprint: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub key_file: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Secret::is_empty")]
        pub key_passphrase: Secret,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub key_passphrase_file: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
        pub compartments: Vec<String>,
        #[serde(default = "default_port", deserialize_with = "null_as_default")]
        pub port: i64,
        #[serde(default = "super::docker::sixty_seconds", deserialize_with = "null_as_default")]
        pub refresh_interval: PromDuration,
    }
}

impl OciSdConfig {
    /// Prometheus' checks, in its order.
    pub fn validate(&mut self) -> Result<(), String> {
        self.validate_http_nested()?;
        if self.region.is_empty() {
            return Err("oci_sd: configuration requires a region".into());
        }
        match self.auth.as_str() {
            "api_key" => {
                let required = [
                    ("tenancy", &self.tenancy),
                    ("user", &self.user),
                    ("fingerprint", &self.fingerprint),
                    ("key_file", &self.key_file),
                ];
                if let Some((name, _)) = required.iter().find(|(_, value)| value.is_empty()) {
                    return Err(format!("oci_sd: auth \"api_key\" requires {name}"));
                }
                if !self.key_passphrase.is_empty() && !self.key_passphrase_file.is_empty() {
                    return Err(
                        "oci_sd: at most one of key_passphrase and key_passphrase_file must be configured"
                            .into(),
                    );
                }
            }
            "instance_principal" => {
                let forbidden = [
                    ("tenancy", !self.tenancy.is_empty()),
                    ("user", !self.user.is_empty()),
                    ("fingerprint", !self.fingerprint.is_empty()),
                    ("key_file", !self.key_file.is_empty()),
                    ("key_passphrase", !self.key_passphrase.is_empty()),
                    ("key_passphrase_file", !self.key_passphrase_file.is_empty()),
                ];
                if let Some((name, _)) = forbidden.iter().find(|(_, set)| *set) {
                    return Err(format!(
                        "oci_sd: auth \"instance_principal\" must not have {name} set"
                    ));
                }
            }
            other => {
                return Err(format!(
                    "oci_sd: unknown auth method {other:?}, expected \"api_key\" or \"instance_principal\""
                ));
            }
        }
        if let Some(i) = self.compartments.iter().position(String::is_empty) {
            return Err(format!("oci_sd: compartments[{i}] must not be empty"));
        }
        if self.refresh_interval.0.is_zero() {
            return Err("oci_sd: refresh_interval must be positive".into());
        }
        self.validate_http_client()
    }
}

fn default_auth() -> String {
    "api_key".into()
}
fn default_port() -> i64 {
    9100
}
