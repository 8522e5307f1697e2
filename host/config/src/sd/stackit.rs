//! `stackit_sd_configs`: STACKIT servers of a project as targets, as
//! Prometheus' `discovery/stackit.SDConfig` reads them (defaults: region
//! `eu01`, port 80, refresh every 60s; the HTTP client settings inlined,
//! which may carry the service account's token or OAuth 2.0 settings).
//! The service account key and private key are secrets here (Prometheus
//! shows them in its configuration page; this does not).

use serde::{Deserialize, Serialize};

use crate::go_yaml::null_as_default;
use crate::secret::redact_url;
use crate::{PromDuration, Secret};

crate::http_client::with_http_client! {
    /// One `stackit_sd_configs` entry.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct StackitSdConfig {
        #[serde(default = "sixty_seconds", deserialize_with = "null_as_default")]
        pub refresh_interval: PromDuration,
        #[serde(default = "port_80", deserialize_with = "null_as_default")]
        pub port: i64,
        #[serde(default = "eu01", deserialize_with = "null_as_default")]
        pub region: String,
        #[serde(default, deserialize_with = "null_as_default")]
        pub endpoint: String,
        #[serde(default, deserialize_with = "null_as_default")]
        pub project: String,
        #[serde(default, deserialize_with = "null_as_default")]
        pub service_account_key: Secret,
        #[serde(default, deserialize_with = "null_as_default")]
        pub private_key: Secret,
        #[serde(default, deserialize_with = "null_as_default")]
        pub service_account_key_path: String,
        #[serde(default, deserialize_with = "null_as_default")]
        pub private_key_path: String,
        #[serde(default, deserialize_with = "null_as_default")]
        pub credentials_file_path: String,
    }
}

impl StackitSdConfig {
    /// Prometheus' checks, in its order: the nested `tls_config` and
    /// `oauth2` blocks as they are read, then `UnmarshalYAML`'s.
    pub fn validate(&mut self) -> Result<(), String> {
        self.validate_http_nested()?;
        if self.endpoint.is_empty() && self.region.is_empty() {
            return Err("endpoint or region missing".into());
        }
        crate::http_client::parse_go_url(&self.endpoint)
            .map_err(|e| format!("invalid endpoint {:?}: {e}", redact_url(&self.endpoint)))?;
        self.validate_http_client()
    }
}

fn eu01() -> String {
    "eu01".into()
}
fn sixty_seconds() -> PromDuration {
    PromDuration(std::time::Duration::from_secs(60))
}
fn port_80() -> i64 {
    80
}
