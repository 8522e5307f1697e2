//! The `oauth2` block (`common/config.OAuth2`): the client credentials and
//! JWT bearer grants, with their own TLS and proxy settings; its checks
//! and its relative files.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::paths::join;
use super::proxy::validate_proxy;
use super::tls::{TlsConfig, no_tls_config};
use super::{count, set};
use crate::go_yaml::null_as_default;
use crate::secret::Secret;

super::proxy_fields! {
    @then super::plain_struct;
    /// `oauth2`: the client credentials (or JWT bearer) grant, with the
    /// proxy settings for reaching the token URL.
    #[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct OAuth2 {
        #[serde(default, deserialize_with = "null_as_default")]
        pub client_id: String,
        #[serde(
            default,
            deserialize_with = "null_as_default",
            skip_serializing_if = "Secret::is_empty"
        )]
        pub client_secret: Secret,
        #[serde(
            default,
            deserialize_with = "null_as_default",
            skip_serializing_if = "String::is_empty"
        )]
        pub client_secret_file: String,
        #[serde(
            default,
            deserialize_with = "null_as_default",
            skip_serializing_if = "String::is_empty"
        )]
        pub client_secret_ref: String,
        #[serde(
            default,
            deserialize_with = "null_as_default",
            skip_serializing_if = "Vec::is_empty"
        )]
        pub scopes: Vec<String>,
        #[serde(default, deserialize_with = "null_as_default")]
        pub token_url: String,
        #[serde(
            default,
            deserialize_with = "null_as_default",
            skip_serializing_if = "BTreeMap::is_empty"
        )]
        pub endpoint_params: BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "no_tls_config")]
        pub tls_config: Option<TlsConfig>,
        // The JWT bearer grant (RFC 7523).
        #[serde(
            default,
            deserialize_with = "null_as_default",
            skip_serializing_if = "String::is_empty"
        )]
        pub grant_type: String,
        #[serde(
            default,
            deserialize_with = "null_as_default",
            skip_serializing_if = "String::is_empty"
        )]
        pub signature_algorithm: String,
        #[serde(
            default,
            deserialize_with = "null_as_default",
            skip_serializing_if = "Secret::is_empty"
        )]
        pub client_certificate_key: Secret,
        #[serde(
            default,
            deserialize_with = "null_as_default",
            skip_serializing_if = "String::is_empty"
        )]
        pub client_certificate_key_file: String,
        #[serde(
            default,
            deserialize_with = "null_as_default",
            skip_serializing_if = "String::is_empty"
        )]
        pub client_certificate_key_ref: String,
        #[serde(
            default,
            deserialize_with = "null_as_default",
            skip_serializing_if = "String::is_empty"
        )]
        pub client_certificate_key_id: String,
        #[serde(
            default,
            deserialize_with = "null_as_default",
            skip_serializing_if = "String::is_empty"
        )]
        pub iss: String,
        #[serde(
            default,
            deserialize_with = "null_as_default",
            skip_serializing_if = "String::is_empty"
        )]
        pub audience: String,
        /// Extra JWT claims (any YAML value; kept as JSON).
        #[serde(
            default,
            deserialize_with = "null_as_default",
            skip_serializing_if = "BTreeMap::is_empty"
        )]
        pub claims: BTreeMap<String, serde_json::Value>,
    }
}

impl OAuth2 {
    /// `OAuth2.UnmarshalYAML`'s checks.
    pub fn validate(&self) -> Result<(), String> {
        if self.client_id.is_empty() {
            return Err("oauth2 client_id must be configured".into());
        }
        if self.token_url.is_empty() {
            return Err("oauth2 token_url must be configured".into());
        }
        if count(&[
            !self.client_secret.is_empty(),
            set(&self.client_secret_file),
            set(&self.client_secret_ref),
        ]) > 1
        {
            return Err(
                "at most one of oauth2 client_secret, client_secret_file & client_secret_ref must be configured"
                    .into(),
            );
        }
        if count(&[
            !self.client_certificate_key.is_empty(),
            set(&self.client_certificate_key_file),
            set(&self.client_certificate_key_ref),
        ]) > 1
        {
            return Err(
                "at most one of oauth2 client_certificate_key, client_certificate_key_file & client_certificate_key_ref must be configured"
                    .into(),
            );
        }
        if let Some(tls) = &self.tls_config {
            tls.validate()?;
        }
        validate_proxy(
            &self.proxy_url,
            &self.no_proxy,
            self.proxy_from_environment,
            &self.proxy_connect_header,
        )
    }
}

impl OAuth2 {
    /// Joins its relative file paths with `dir`.
    pub fn set_directory(&mut self, dir: &Path) {
        join(dir, &mut self.client_secret_file);
        join(dir, &mut self.client_certificate_key_file);
        if let Some(tls) = &mut self.tls_config {
            tls.set_directory(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::http_client::tests::{error, parse};

    #[test]
    fn oauth2_jwt_bearer_fields_are_read() {
        let config = parse(
            "oauth2:\n  client_id: i\n  token_url: https://t/token\n  \
             grant_type: urn:ietf:params:oauth:grant-type:jwt-bearer\n  \
             client_certificate_key: pem-1\n  client_certificate_key_id: kid\n  \
             signature_algorithm: RS512\n  iss: me\n  audience: you\n  \
             claims: {a: 1, b: [x, {c: true}]}\n  scopes: [s]\n  endpoint_params: {p: v}\n",
        )
        .unwrap();
        let oauth2 = config.oauth2.as_ref().unwrap();
        assert_eq!(oauth2.claims["b"], serde_json::json!(["x", {"c": true}]));
        assert_eq!(oauth2.signature_algorithm, "RS512");
        let shown = serde_json::to_string(&config).unwrap() + &format!("{config:?}");
        assert!(!shown.contains("pem-1"), "{shown}");
        assert_eq!(
            error(
                "oauth2: {client_id: i, token_url: t, client_certificate_key: k, client_certificate_key_file: f}\n"
            ),
            "at most one of oauth2 client_certificate_key, client_certificate_key_file & client_certificate_key_ref must be configured"
        );
    }
}
