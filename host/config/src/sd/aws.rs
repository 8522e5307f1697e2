//! `aws_sd_configs`: AWS discovery by role (`ec2`, `ecs`, `lightsail`,
//! `msk`), as Prometheus' `discovery/aws.SDConfig` reads it (refresh every
//! 60s by default; the HTTP client settings inlined). `filters` apply to
//! the `ec2` role, `clusters` to `ecs` and `msk`.
//!
//! An empty `region` is taken from the AWS SDK's environment, as for
//! `ec2_sd_configs` (see [`super::ec2`]); one still empty is left for the
//! discovery to ask the instance metadata when it runs.

use serde::{Deserialize, Deserializer, Serialize};

use super::ec2::Ec2Filter;
use crate::go_yaml::null_as_default;
use crate::{PromDuration, Secret};

/// The roles Prometheus knows.
pub const AWS_ROLES: &[&str] = &["ec2", "ecs", "lightsail", "msk"];

crate::http_client::with_http_client! {
    /// One `aws_sd_configs` entry.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct AwsSdConfig {
        #[serde(default, deserialize_with = "role")]
        pub role: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub region: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub endpoint: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub access_key: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Secret::is_empty")]
        pub secret_key: Secret,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub profile: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub role_arn: String,
        #[serde(default = "super::docker::sixty_seconds", deserialize_with = "null_as_default")]
        pub refresh_interval: PromDuration,
        /// 0: the role's default port.
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "is_zero")]
        pub port: i64,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
        pub filters: Vec<Ec2Filter>,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
        pub clusters: Vec<String>,
    }
}

/// The role, checked as it is read (Prometheus' `Role.UnmarshalYAML`).
fn role<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let role: String = null_as_default(deserializer)?;
    if AWS_ROLES.contains(&role.as_str()) {
        Ok(role)
    } else {
        Err(serde::de::Error::custom(format!(
            "unknown AWS SD role {role:?}"
        )))
    }
}

impl AwsSdConfig {
    /// Prometheus' `UnmarshalYAML` checks, in its order.
    pub fn validate(&mut self) -> Result<(), String> {
        self.validate_http_nested()?;
        super::ec2::fill_region(&mut self.region, |name| std::env::var(name).ok());
        if !AWS_ROLES.contains(&self.role.as_str()) {
            return Err(format!("unknown AWS SD role {:?}", self.role));
        }
        self.validate_http_client()
    }
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}
