//! `ec2_sd_configs`: AWS EC2 instances as targets, as Prometheus'
//! `discovery/aws.EC2SDConfig` reads them (defaults: port 80, refresh every
//! 60s; the HTTP client settings inlined).
//!
//! Prometheus fills an empty `region` from the AWS SDK's environment
//! (`AWS_REGION`, `AWS_DEFAULT_REGION`) and, failing that, asks the
//! instance metadata service. Reading a configuration does no network
//! work here, so only the environment is consulted; a region still empty
//! after that is left for the discovery to take from the instance metadata
//! when it runs.

use serde::{Deserialize, Serialize};

use crate::go_yaml::null_as_default;
use crate::{PromDuration, Secret};

crate::http_client::with_http_client! {
    /// One `ec2_sd_configs` entry.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct Ec2SdConfig {
        #[serde(default, deserialize_with = "null_as_default")]
        pub endpoint: String,
        #[serde(default, deserialize_with = "null_as_default")]
        pub region: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub access_key: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Secret::is_empty")]
        pub secret_key: Secret,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub profile: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub role_arn: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub external_id: String,
        #[serde(default = "sixty_seconds", deserialize_with = "null_as_default")]
        pub refresh_interval: PromDuration,
        #[serde(default = "port_80", deserialize_with = "null_as_default")]
        pub port: i64,
        #[serde(default, deserialize_with = "null_as_default")]
        pub filters: Vec<Ec2Filter>,
    }
}

/// One `filters` entry: an EC2 `DescribeInstances` filter.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Ec2Filter {
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub values: Vec<String>,
}

impl Ec2SdConfig {
    /// Prometheus' checks, in its order: the nested `tls_config` and
    /// `oauth2` blocks as they are read, then `UnmarshalYAML`'s.
    pub fn validate(&mut self) -> Result<(), String> {
        self.validate_http_nested()?;
        fill_region(&mut self.region, |name| std::env::var(name).ok());
        if self.filters.iter().any(|f| f.values.is_empty()) {
            return Err("EC2 SD configuration filter values cannot be empty".into());
        }
        self.validate_http_client()
    }
}

/// An empty region from the AWS SDK's environment variables, in the SDK's
/// order (`AWS_REGION` first). Shared with Lightsail, which reads its
/// region the same way.
pub(crate) fn fill_region(region: &mut String, env: impl Fn(&str) -> Option<String>) {
    if !region.is_empty() {
        return;
    }
    if let Some(found) = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .filter_map(|name| env(name))
        .find(|value| !value.is_empty())
    {
        *region = found;
    }
}

fn sixty_seconds() -> PromDuration {
    PromDuration(std::time::Duration::from_secs(60))
}
fn port_80() -> i64 {
    80
}

#[cfg(test)]
mod tests {
    use super::fill_region;

    #[test]
    fn an_empty_region_comes_from_the_environment_in_the_sdks_order() {
        let env = |name: &str| match name {
            "AWS_REGION" => Some("eu-west-1".to_string()),
            "AWS_DEFAULT_REGION" => Some("us-east-2".to_string()),
            _ => None,
        };
        let mut region = String::new();
        fill_region(&mut region, env);
        assert_eq!(region, "eu-west-1");

        let mut region = String::new();
        fill_region(&mut region, |name| {
            (name == "AWS_DEFAULT_REGION").then(|| "us-east-2".to_string())
        });
        assert_eq!(region, "us-east-2");

        // A region written in the file wins over the environment.
        let mut region = "ap-south-1".to_string();
        fill_region(&mut region, env);
        assert_eq!(region, "ap-south-1");

        // Neither set (or set empty): left for the instance metadata.
        let mut region = String::new();
        fill_region(&mut region, |_| Some(String::new()));
        assert_eq!(region, "");
    }
}
