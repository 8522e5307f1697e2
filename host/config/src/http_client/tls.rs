//! The `tls_config` block (`common/config.TLSConfig`): CA, client
//! certificate and key (inline, as files or as secret references), server
//! name, versions; its checks and its relative files.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::paths::join_opt;
use super::{count, set, set_opt};
use crate::go_yaml::null_as_default;
use crate::secret::Secret;

/// `tls_config`. The file fields and `server_name` stay optional (an empty
/// one counts as unset, as in Prometheus).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM text of the CA certificate.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub ca: String,
    /// PEM text of the client certificate.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub cert: String,
    /// PEM text of the client key.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Secret::is_empty"
    )]
    pub key: Secret,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub ca_ref: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub cert_ref: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub key_ref: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub insecure_skip_verify: bool,
    /// `TLS10` … `TLS13`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
    /// `TLS10` … `TLS13`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_version: Option<String>,
    /// Extra ALPN protocols.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub next_protos: Vec<String>,
}

/// A TLS protocol version as Prometheus and the exporter toolkit name it
/// (`TLS10` … `TLS13`): the clients' `tls_config` and the web
/// configuration's `tls_server_config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

impl TlsVersion {
    /// Every version, oldest first.
    pub const ALL: [TlsVersion; 4] = [
        TlsVersion::Tls10,
        TlsVersion::Tls11,
        TlsVersion::Tls12,
        TlsVersion::Tls13,
    ];

    /// The name the configuration uses.
    pub fn name(self) -> &'static str {
        match self {
            TlsVersion::Tls10 => "TLS10",
            TlsVersion::Tls11 => "TLS11",
            TlsVersion::Tls12 => "TLS12",
            TlsVersion::Tls13 => "TLS13",
        }
    }

    /// The version `name` names, if any.
    pub fn parse(name: &str) -> Option<TlsVersion> {
        TlsVersion::ALL.into_iter().find(|v| v.name() == name)
    }
}

impl<'de> Deserialize<'de> for TlsVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        TlsVersion::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown TLS version: {name}")))
    }
}

impl TlsConfig {
    /// `TLSConfig.Validate` and the version names' parsing.
    pub fn validate(&self) -> Result<(), String> {
        for version in [&self.min_version, &self.max_version].into_iter().flatten() {
            if TlsVersion::parse(version).is_none() {
                let names: Vec<&str> = TlsVersion::ALL.iter().map(|v| v.name()).collect();
                return Err(format!(
                    "unknown TLS version: {version} (use one of {})",
                    names.join(", ")
                ));
            }
        }
        if count(&[set(&self.ca), set_opt(&self.ca_file), set(&self.ca_ref)]) > 1 {
            return Err("at most one of ca, ca_file & ca_ref must be configured".into());
        }
        if count(&[
            set(&self.cert),
            set_opt(&self.cert_file),
            set(&self.cert_ref),
        ]) > 1
        {
            return Err("at most one of cert, cert_file & cert_ref must be configured".into());
        }
        if count(&[
            !self.key.is_empty(),
            set_opt(&self.key_file),
            set(&self.key_ref),
        ]) > 1
        {
            return Err("at most one of key and key_file must be configured".into());
        }
        let cert = self.using_client_cert();
        let key = self.using_client_key();
        if cert && !key {
            return Err(
                "exactly one of key or key_file must be configured when a client certificate is configured"
                    .into(),
            );
        }
        if key && !cert {
            return Err(
                "exactly one of cert or cert_file must be configured when a client key is configured"
                    .into(),
            );
        }
        Ok(())
    }

    fn using_client_cert(&self) -> bool {
        set(&self.cert) || set_opt(&self.cert_file) || set(&self.cert_ref)
    }

    fn using_client_key(&self) -> bool {
        !self.key.is_empty() || set_opt(&self.key_file) || set(&self.key_ref)
    }
}

impl TlsConfig {
    /// Joins its relative file paths with `dir`, as Prometheus'
    /// `SetDirectory` does.
    pub fn set_directory(&mut self, dir: &Path) {
        join_opt(dir, &mut self.ca_file);
        join_opt(dir, &mut self.cert_file);
        join_opt(dir, &mut self.key_file);
    }
}

/// For `skip_serializing_if`: Prometheus leaves out a `tls_config` with
/// nothing set (Go's `omitempty` on a struct value).
pub(crate) fn no_tls_config(tls: &Option<TlsConfig>) -> bool {
    tls.as_ref().is_none_or(|tls| *tls == TlsConfig::default())
}

#[cfg(test)]
mod tests {
    use crate::http_client::tests::{error, parse};

    #[test]
    fn tls_config_checks() {
        let cases = [
            (
                "tls_config: {ca: x, ca_file: y}\n",
                "at most one of ca, ca_file & ca_ref must be configured",
            ),
            (
                "tls_config: {cert: x, cert_ref: y, key: k}\n",
                "at most one of cert, cert_file & cert_ref must be configured",
            ),
            (
                "tls_config: {cert: x, key: k, key_file: f}\n",
                "at most one of key and key_file must be configured",
            ),
            (
                "tls_config: {cert_file: c}\n",
                "exactly one of key or key_file must be configured when a client certificate is configured",
            ),
            (
                "tls_config: {key_file: k}\n",
                "exactly one of cert or cert_file must be configured when a client key is configured",
            ),
            (
                "tls_config: {min_version: TLS14}\n",
                "unknown TLS version: TLS14",
            ),
            (
                "oauth2: {client_id: i, token_url: http://t, tls_config: {key_file: k}}\n",
                "exactly one of cert or cert_file must be configured when a client key is configured",
            ),
        ];
        for (yaml, want) in cases {
            let got = error(yaml);
            assert!(got.contains(want), "for {yaml}: {got}");
        }
        parse("tls_config: {cert_file: c, key_file: k, min_version: TLS12, max_version: TLS13}\n")
            .unwrap();
    }
}
