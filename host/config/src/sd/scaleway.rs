//! `scaleway_sd_configs`: Scaleway instances (role `instance`) or bare
//! metal servers (role `baremetal`) as targets, as Prometheus'
//! `discovery/scaleway.SDConfig` reads them (defaults: port 80, refresh
//! every 60s, zone `fr-par-1`, API `https://api.scaleway.com`; the HTTP
//! client settings inlined).
//!
//! Besides its own checks, Prometheus builds a Scaleway SDK client from the
//! settings when it reads them, and the SDK rejects malformed access keys,
//! secret keys, project IDs, zones and API URLs; those checks are here too,
//! with the SDK's texts, except that a malformed secret key is not quoted
//! back.

use serde::{Deserialize, Serialize};

use crate::go_yaml::null_as_default;
use crate::{PromDuration, Secret};

/// The roles Prometheus knows.
pub const SCALEWAY_ROLES: [&str; 2] = ["instance", "baremetal"];

/// The zones the Scaleway SDK lists when a zone is malformed.
const KNOWN_ZONES: &str = "fr-par-1, fr-par-2, fr-par-3, nl-ams-1, nl-ams-2, nl-ams-3, \
                           pl-waw-1, pl-waw-2, pl-waw-3";

crate::http_client::with_http_client! {
    /// One `scaleway_sd_configs` entry.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct ScalewaySdConfig {
        #[serde(rename = "project_id", default, deserialize_with = "null_as_default")]
        pub project: String,
        #[serde(default = "scaleway_api", deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub api_url: String,
        #[serde(default = "fr_par_1", deserialize_with = "null_as_default")]
        pub zone: String,
        #[serde(default, deserialize_with = "null_as_default")]
        pub access_key: String,
        #[serde(default, deserialize_with = "null_as_default")]
        pub secret_key: Secret,
        #[serde(default, deserialize_with = "null_as_default")]
        pub secret_key_file: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "String::is_empty")]
        pub name_filter: String,
        #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
        pub tags_filter: Vec<String>,
        #[serde(default = "sixty_seconds", deserialize_with = "null_as_default")]
        pub refresh_interval: PromDuration,
        #[serde(default = "port_80", deserialize_with = "null_as_default")]
        pub port: i64,
        /// `instance` or `baremetal`.
        #[serde(default, deserialize_with = "null_as_default")]
        pub role: String,
    }
}

impl ScalewaySdConfig {
    /// Prometheus' checks, in its order: the role and the nested
    /// `tls_config` and `oauth2` blocks as they are read, then its own, then
    /// the SDK's (when it builds a client), then the HTTP client settings.
    pub fn validate(&mut self) -> Result<(), String> {
        if !self.role.is_empty() && !SCALEWAY_ROLES.contains(&self.role.as_str()) {
            return Err(format!("unknown role {:?}", self.role));
        }
        self.validate_http_nested()?;
        if self.role.is_empty() {
            return Err("role missing (one of: instance, baremetal)".into());
        }
        if self.project.is_empty() {
            return Err("project_id is mandatory".into());
        }
        let has_secret = !self.secret_key.is_empty();
        let has_file = !self.secret_key_file.is_empty();
        if !has_secret && !has_file {
            return Err("one of secret_key & secret_key_file must be configured".into());
        }
        if has_secret && has_file {
            return Err("at most one of secret_key & secret_key_file must be configured".into());
        }
        if self.access_key.is_empty() {
            return Err("access_key is mandatory".into());
        }
        self.check_sdk_settings()?;
        self.validate_http_client()
    }

    /// What the Scaleway SDK's client constructor checks. A secret read
    /// from a file stands in as a well-formed one, as in Prometheus.
    fn check_sdk_settings(&self) -> Result<(), String> {
        let sdk = |message: String| Err(format!("scaleway-sdk-go: {message}"));
        if !is_access_key(&self.access_key) {
            return sdk(format!(
                "invalid access key format '{}', expected SCWXXXXXXXXXXXXXXXXX format",
                self.access_key
            ));
        }
        if self.secret_key_file.is_empty() && !contains_uuid(self.secret_key.expose()) {
            return sdk(
                "invalid secret key format, expected a UUID: xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
                    .into(),
            );
        }
        if !contains_uuid(&self.project) {
            return sdk(format!(
                "invalid project ID format '{}', expected a UUID: xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
                self.project
            ));
        }
        if self.zone.is_empty() {
            return sdk("default zone cannot be empty".into());
        }
        if !is_zone(&self.zone) {
            return sdk(format!(
                "invalid default zone format '{}', available zones are: {KNOWN_ZONES}",
                self.zone
            ));
        }
        if self.api_url.is_empty() || crate::http_client::parse_go_url(&self.api_url).is_err() {
            return sdk(format!("invalid API url '{}'", self.api_url));
        }
        if self.api_url.ends_with('/') {
            return sdk(format!(
                "invalid API url '{}' it should not have a trailing slash",
                self.api_url
            ));
        }
        Ok(())
    }
}

/// `^SCW[A-Z0-9]{17}$`.
fn is_access_key(key: &str) -> bool {
    key.len() == 20
        && key.starts_with("SCW")
        && key[3..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The SDK's (unanchored) UUID pattern: 8-4-4-4-12 hex digits somewhere in
/// the text.
fn contains_uuid(text: &str) -> bool {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    const LEN: usize = 36;
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(LEN - 1)).any(|start| {
        let mut at = start;
        GROUPS.iter().enumerate().all(|(i, &n)| {
            if i > 0 {
                if bytes[at] != b'-' {
                    return false;
                }
                at += 1;
            }
            let ok = bytes[at..at + n].iter().all(u8::is_ascii_hexdigit);
            at += n;
            ok
        })
    })
}

/// `^[a-z]{2}-[a-z]{3}-[1-9]$`.
fn is_zone(zone: &str) -> bool {
    let b = zone.as_bytes();
    b.len() == 8
        && b[..2].iter().all(u8::is_ascii_lowercase)
        && b[2] == b'-'
        && b[3..6].iter().all(u8::is_ascii_lowercase)
        && b[6] == b'-'
        && (b'1'..=b'9').contains(&b[7])
}

fn scaleway_api() -> String {
    "https://api.scaleway.com".into()
}
fn fr_par_1() -> String {
    "fr-par-1".into()
}
fn sixty_seconds() -> PromDuration {
    PromDuration(std::time::Duration::from_secs(60))
}
fn port_80() -> i64 {
    80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_the_sdk_matches_them() {
        assert!(is_access_key("SCWXXXXXXXXXXXXXXXXX"));
        assert!(is_access_key("SCW0123456789ABCDEFG"));
        assert!(!is_access_key("SCWxxxxxxxxxxxxxxxxx"));
        assert!(!is_access_key("SCWXXXXXXXXXXXXXXXX"));
        assert!(!is_access_key("XXXXXXXXXXXXXXXXXXXX"));
        assert!(!is_access_key("SCWÉXXXXXXXXXXXXXXX"));

        assert!(contains_uuid("11111111-1111-1111-1111-111111111111"));
        assert!(contains_uuid(
            "prefix aBcDeF01-2345-6789-abcd-ef0123456789 suffix"
        ));
        assert!(!contains_uuid("11111111-1111-1111-1111-11111111111"));
        assert!(!contains_uuid("11111111_1111-1111-1111-111111111111"));
        assert!(!contains_uuid(""));
        assert!(!contains_uuid("é1111111-1111-1111-1111-11111111111é"));

        assert!(is_zone("fr-par-1"));
        assert!(is_zone("xx-yyy-9"));
        assert!(!is_zone("fr-par-0"));
        assert!(!is_zone("fr-par"));
        assert!(!is_zone("FR-PAR-1"));
        assert!(!is_zone("fr-paré1"));
    }
}
