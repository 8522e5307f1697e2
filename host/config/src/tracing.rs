//! The `tracing` section: where Prometheus sends its own traces (OTLP over
//! gRPC or HTTP), as `TracingConfig` reads it, validation texts included.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::go_yaml::null_as_default;
use crate::{PromDuration, TlsConfig};

/// The `tracing` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawTracing")]
pub struct TracingConfig {
    /// `grpc` (the default) or `http`.
    pub client_type: String,
    pub endpoint: String,
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub sampling_fraction: f64,
    #[serde(skip_serializing_if = "is_false")]
    pub insecure: bool,
    pub tls_config: TlsConfig,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub compression: String,
    #[serde(skip_serializing_if = "PromDuration::is_zero")]
    pub timeout: PromDuration,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawTracing {
    client_type: Option<String>,
    #[serde(deserialize_with = "null_as_default")]
    endpoint: String,
    #[serde(deserialize_with = "null_as_default")]
    sampling_fraction: f64,
    #[serde(deserialize_with = "null_as_default")]
    insecure: bool,
    #[serde(deserialize_with = "null_as_default")]
    tls_config: TlsConfig,
    #[serde(deserialize_with = "null_as_default")]
    headers: BTreeMap<String, String>,
    #[serde(deserialize_with = "null_as_default")]
    compression: String,
    #[serde(deserialize_with = "null_as_default")]
    timeout: PromDuration,
}

impl TryFrom<RawTracing> for TracingConfig {
    type Error = String;

    /// `TracingConfig.UnmarshalYAML`, checks in its order.
    fn try_from(raw: RawTracing) -> Result<Self, String> {
        let client_type = raw.client_type.unwrap_or_else(|| "grpc".to_owned());
        if client_type != "grpc" && client_type != "http" {
            return Err(format!(
                "expected tracing client type to be to be http or grpc, but got {client_type}"
            ));
        }
        for header in raw.headers.keys() {
            let lower = header.to_ascii_lowercase();
            if lower == "authorization" {
                return Err(
                    "custom authorization header configuration is not yet supported".into(),
                );
            }
            if crate::remote::RESERVED_HEADERS.contains(&lower.as_str()) {
                return Err(format!(
                    "{header} is a reserved header. It must not be changed"
                ));
            }
        }
        if raw.endpoint.is_empty() {
            return Err("tracing endpoint must be set".into());
        }
        if !raw.compression.is_empty() && raw.compression != "gzip" {
            return Err(format!(
                "invalid compression type {} provided, valid options: gzip",
                raw.compression
            ));
        }
        Ok(TracingConfig {
            client_type,
            endpoint: raw.endpoint,
            sampling_fraction: raw.sampling_fraction,
            insecure: raw.insecure,
            tls_config: raw.tls_config,
            headers: raw.headers,
            compression: raw.compression,
            timeout: raw.timeout,
        })
    }
}

fn is_zero_f64(n: &f64) -> bool {
    *n == 0.0
}

fn is_false(b: &bool) -> bool {
    !*b
}
