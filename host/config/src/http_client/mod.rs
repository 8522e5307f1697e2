//! The HTTP client settings Prometheus shares between scrape configs,
//! service discovery, alerting and remote read/write: `common/config`'s
//! `HTTPClientConfig` (basic auth, authorization, OAuth 2.0, the deprecated
//! `bearer_token`/`bearer_token_file`, TLS, redirects, HTTP/2, proxies and
//! extra headers), read as Go's YAML library reads it and validated with
//! its texts.
//!
//! Go inlines these fields into the structs that use them
//! (`yaml:",inline"`); serde's `flatten` cannot be combined with
//! `deny_unknown_fields`, so [`with_http_client!`] writes the fields into a
//! struct definition instead and gives it `http()`, `set_http()` and
//! `validate_http_client()`:
//!
//! ```text
//! crate::http_client::with_http_client! {
//!     #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
//!     #[serde(deny_unknown_fields)]
//!     pub struct ConsulSdConfig {
//!         pub server: String,
//!     }
//! }
//! ```
//!
//! To add further fields from another macro (e.g. the service discovery
//! lists of `crate::sd`), name it first: `with_http_client! { @then
//! crate::sd::with_service_discovery; #[derive(..)] pub struct X { .. } }`.
//! Field lists must be plain `name: Type` fields (attributes and doc
//! comments allowed).
//!
//! Validation happens in the order Prometheus' unmarshalling does it: the
//! nested `tls_config` and `oauth2` blocks first (their own
//! `UnmarshalYAML`), then the client as a whole, which also turns a
//! `bearer_token`/`bearer_token_file` into an `authorization` block of type
//! `Bearer`, as Prometheus does.
//!
//! Secrets (passwords, credentials, tokens, client secrets, keys, secret
//! header values) are [`Secret`]s and serialise as `<secret>`; proxy URLs
//! serialise with their password as `xxxxx`.
//!
//! Files: this one has the client itself (its authentication blocks,
//! headers and checks); `tls.rs` the `tls_config` block, `oauth2.rs` the
//! `oauth2` block, `proxy.rs` the proxy settings both share, `url.rs` what
//! Go's `url.Parse` refuses, `paths.rs` Prometheus' `JoinDir` and
//! `inline.rs` the [`with_http_client!`] macro.

mod inline;
mod oauth2;
mod paths;
mod proxy;
mod tls;
mod url;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::go_yaml::null_as_default;
use crate::secret::{Secret, no_secret};

pub(crate) use inline::{http_client_fields, plain_struct, with_http_client};
pub use oauth2::OAuth2;
pub use paths::join_dir;
pub(crate) use paths::{join, join_opt};
pub(crate) use proxy::proxy_fields;
use proxy::validate_proxy;
pub(crate) use tls::no_tls_config;
pub use tls::{TlsConfig, TlsVersion};
pub(crate) use url::parse_go_url;

http_client_fields! {
    @then plain_struct;
    /// Prometheus' `common/config.HTTPClientConfig`.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct HttpClientConfig {}
}

impl Default for HttpClientConfig {
    /// Prometheus' `DefaultHTTPClientConfig`: redirects followed, HTTP/2 on.
    fn default() -> Self {
        HttpClientConfig {
            basic_auth: None,
            authorization: None,
            oauth2: None,
            bearer_token: Secret::default(),
            bearer_token_file: String::new(),
            tls_config: None,
            follow_redirects: true,
            enable_http2: true,
            proxy_url: None,
            no_proxy: String::new(),
            proxy_from_environment: false,
            proxy_connect_header: BTreeMap::new(),
            http_headers: None,
        }
    }
}

/// `basic_auth`. `password` and `password_file` stay optional (an empty
/// one counts as unset, as in Prometheus).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    #[serde(default, deserialize_with = "null_as_default")]
    pub username: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub username_file: String,
    /// A secret manager reference (Prometheus has no manager configured: it
    /// fails when the client is built).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub username_ref: String,
    #[serde(default, skip_serializing_if = "no_secret")]
    pub password: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub password_ref: String,
}

/// `authorization`: an `Authorization: <type> <credentials>` header.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// Empty (unset) becomes `Bearer` in [`HttpClientConfig::validate`].
    #[serde(
        default = "bearer",
        rename = "type",
        deserialize_with = "null_as_default"
    )]
    pub kind: String,
    #[serde(default, skip_serializing_if = "no_secret")]
    pub credentials: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub credentials_ref: String,
}

impl Default for Authorization {
    fn default() -> Self {
        Authorization {
            kind: bearer(),
            credentials: None,
            credentials_file: None,
            credentials_ref: String::new(),
        }
    }
}

/// One `http_headers` entry: the header's values, written out, secret or
/// read from files.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpHeader {
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub values: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub secrets: Vec<Secret>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub files: Vec<String>,
}

/// Headers Prometheus sets itself or that change the connection: `http_headers`
/// may not set them (compared case-insensitively).
const RESERVED_HEADERS: &[&str] = &[
    "Authorization",
    "Host",
    "Content-Encoding",
    "Content-Length",
    "Content-Type",
    "User-Agent",
    "Connection",
    "Keep-Alive",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Www-Authenticate",
    "Accept-Encoding",
    "X-Prometheus-Remote-Write-Version",
    "X-Prometheus-Remote-Read-Version",
    "X-Prometheus-Scrape-Timeout-Seconds",
    "X-Amz-Date",
    "X-Amz-Security-Token",
    "X-Amz-Content-Sha256",
];

pub(crate) fn set(value: &str) -> bool {
    !value.is_empty()
}
pub(crate) fn set_opt(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(set)
}
fn set_secret(value: &Option<Secret>) -> bool {
    value.as_ref().is_some_and(|s| !s.is_empty())
}
pub(crate) fn count(flags: &[bool]) -> usize {
    flags.iter().filter(|&&f| f).count()
}

/// Go's `textproto.CanonicalMIMEHeaderKey` for ASCII names: each
/// `-`-separated word with an upper-case first letter, the rest lower
/// case. Names with characters outside a token are left as they are.
pub fn canonical_header_key(name: &str) -> String {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if !name.bytes().all(token) {
        return name.to_owned();
    }
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

/// The checks of the nested `tls_config` and `oauth2` blocks, made as
/// Prometheus reads them (their own `UnmarshalYAML`).
pub(crate) fn validate_nested(
    tls_config: &Option<TlsConfig>,
    oauth2: &Option<OAuth2>,
) -> Result<(), String> {
    if let Some(tls) = tls_config {
        tls.validate()?;
    }
    if let Some(oauth2) = oauth2 {
        oauth2.validate()?;
    }
    Ok(())
}

impl HttpClientConfig {
    /// The checks Prometheus makes while it reads the nested `tls_config`
    /// and `oauth2` blocks, before the checks of the struct they are
    /// inlined in.
    pub fn validate_nested(&self) -> Result<(), String> {
        validate_nested(&self.tls_config, &self.oauth2)
    }

    /// Prometheus' checks of `HTTPClientConfig` (nested blocks first, as
    /// its unmarshalling does), with its texts. Moves `bearer_token` and
    /// `bearer_token_file` into `authorization` and fills in its default
    /// type `Bearer`.
    pub fn validate(&mut self) -> Result<(), String> {
        self.validate_nested()?;
        let token = !self.bearer_token.is_empty();
        let token_file = set(&self.bearer_token_file);
        if token && token_file {
            return Err(
                "at most one of bearer_token & bearer_token_file must be configured".into(),
            );
        }
        if (self.basic_auth.is_some() || self.oauth2.is_some()) && (token || token_file) {
            return Err(
                "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"
                    .into(),
            );
        }
        if let Some(basic) = &self.basic_auth {
            if count(&[
                set(&basic.username),
                set(&basic.username_file),
                set(&basic.username_ref),
            ]) > 1
            {
                return Err(
                    "at most one of basic_auth username, username_file & username_ref must be configured"
                        .into(),
                );
            }
            if count(&[
                set_secret(&basic.password),
                set_opt(&basic.password_file),
                set(&basic.password_ref),
            ]) > 1
            {
                return Err(
                    "at most one of basic_auth password, password_file & password_ref must be configured"
                        .into(),
                );
            }
        }
        if let Some(auth) = &mut self.authorization {
            if token || token_file {
                return Err(
                    "authorization is not compatible with bearer_token & bearer_token_file".into(),
                );
            }
            if count(&[
                set_secret(&auth.credentials),
                set_opt(&auth.credentials_file),
                set(&auth.credentials_ref),
            ]) > 1
            {
                return Err(
                    "at most one of authorization credentials & credentials_file must be configured"
                        .into(),
                );
            }
            auth.kind = auth.kind.trim().to_owned();
            if auth.kind.is_empty() {
                auth.kind = bearer();
            }
            if auth.kind.eq_ignore_ascii_case("basic") {
                return Err(
                    "authorization type cannot be set to \"basic\", use \"basic_auth\" instead"
                        .into(),
                );
            }
            if self.basic_auth.is_some() || self.oauth2.is_some() {
                return Err(
                    "at most one of basic_auth, oauth2 & authorization must be configured".into(),
                );
            }
        } else if token {
            self.authorization = Some(Authorization {
                credentials: Some(std::mem::take(&mut self.bearer_token)),
                ..Authorization::default()
            });
        } else if token_file {
            self.authorization = Some(Authorization {
                credentials_file: Some(std::mem::take(&mut self.bearer_token_file)),
                ..Authorization::default()
            });
        }
        if self.oauth2.is_some() && self.basic_auth.is_some() {
            return Err(
                "at most one of basic_auth, oauth2 & authorization must be configured".into(),
            );
        }
        validate_proxy(
            &self.proxy_url,
            &self.no_proxy,
            self.proxy_from_environment,
            &self.proxy_connect_header,
        )?;
        if let Some(headers) = &self.http_headers {
            for name in headers.keys() {
                let canonical = canonical_header_key(name);
                if RESERVED_HEADERS
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(&canonical))
                {
                    return Err(format!("setting header {canonical:?} is not allowed"));
                }
            }
        }
        Ok(())
    }
}

impl HttpClientConfig {
    /// Joins every relative file path (TLS files, password, username,
    /// credentials, bearer token, OAuth 2.0 secret and key, header files)
    /// with `dir`, the directory of the file the settings were read from,
    /// as Prometheus' `SetDirectory` does.
    pub fn set_directory(&mut self, dir: &Path) {
        if let Some(tls) = &mut self.tls_config {
            tls.set_directory(dir);
        }
        if let Some(basic) = &mut self.basic_auth {
            join_opt(dir, &mut basic.password_file);
            join(dir, &mut basic.username_file);
        }
        if let Some(auth) = &mut self.authorization {
            join_opt(dir, &mut auth.credentials_file);
        }
        if let Some(oauth2) = &mut self.oauth2 {
            oauth2.set_directory(dir);
        }
        if let Some(headers) = &mut self.http_headers {
            for header in headers.values_mut() {
                for file in &mut header.files {
                    join(dir, file);
                }
            }
        }
        join(dir, &mut self.bearer_token_file);
    }
}

pub(crate) fn yes() -> bool {
    true
}
fn bearer() -> String {
    "Bearer".into()
}
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads and validates a client config, as the tests of the other
    /// files here do too.
    pub(super) fn parse(yaml: &str) -> Result<HttpClientConfig, String> {
        let mut config: HttpClientConfig =
            serde_saphyr::from_str(yaml).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    /// The error reading `yaml` ends in; panics if it loads.
    pub(super) fn error(yaml: &str) -> String {
        match parse(yaml) {
            Ok(config) => panic!("accepted: {config:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn defaults_follow_redirects_and_enable_http2() {
        let config = parse("{}").unwrap();
        assert_eq!(config, HttpClientConfig::default());
        assert!(config.follow_redirects && config.enable_http2);
        let config = parse("follow_redirects: false\nenable_http2: false\n").unwrap();
        assert!(!config.follow_redirects && !config.enable_http2);
    }

    #[test]
    fn nulls_read_as_zero_values() {
        let config = parse(
            "bearer_token:\nbearer_token_file:\nno_proxy:\nproxy_connect_header:\n\
             tls_config:\n  insecure_skip_verify:\n",
        )
        .unwrap();
        assert!(config.authorization.is_none());
        assert!(config.proxy_connect_header.is_empty());
    }

    #[test]
    fn bearer_token_becomes_authorization() {
        let config = parse("bearer_token: s3cr3t\n").unwrap();
        let auth = config.authorization.unwrap();
        assert_eq!(auth.kind, "Bearer");
        assert_eq!(auth.credentials.unwrap().expose(), "s3cr3t");
        assert!(config.bearer_token.is_empty());

        let config = parse("bearer_token_file: /run/token\n").unwrap();
        let auth = config.authorization.unwrap();
        assert_eq!(auth.credentials_file.as_deref(), Some("/run/token"));
        assert!(config.bearer_token_file.is_empty());
    }

    #[test]
    fn authorization_type_defaults_and_is_trimmed() {
        let config = parse("authorization:\n  credentials: x\n").unwrap();
        assert_eq!(config.authorization.unwrap().kind, "Bearer");
        let config = parse("authorization:\n  type: '  '\n  credentials: x\n").unwrap();
        assert_eq!(config.authorization.unwrap().kind, "Bearer");
        let config = parse("authorization:\n  type: ' Token '\n").unwrap();
        assert_eq!(config.authorization.unwrap().kind, "Token");
    }

    #[test]
    fn authentication_conflicts_have_prometheus_texts() {
        let cases = [
            (
                "bearer_token: a\nbearer_token_file: b\n",
                "at most one of bearer_token & bearer_token_file must be configured",
            ),
            (
                "bearer_token: a\nbasic_auth: {username: u}\n",
                "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
            ),
            (
                "bearer_token_file: a\noauth2: {client_id: i, token_url: http://t}\n",
                "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
            ),
            (
                "basic_auth: {username: u, username_file: f}\n",
                "at most one of basic_auth username, username_file & username_ref must be configured",
            ),
            (
                "basic_auth: {username: u, password: p, password_ref: r}\n",
                "at most one of basic_auth password, password_file & password_ref must be configured",
            ),
            (
                "authorization: {credentials: c}\nbearer_token: t\n",
                "authorization is not compatible with bearer_token & bearer_token_file",
            ),
            (
                "authorization: {credentials: c, credentials_file: f}\n",
                "at most one of authorization credentials & credentials_file must be configured",
            ),
            (
                "authorization: {type: BASIC}\n",
                "authorization type cannot be set to \"basic\", use \"basic_auth\" instead",
            ),
            (
                "authorization: {credentials: c}\nbasic_auth: {username: u}\n",
                "at most one of basic_auth, oauth2 & authorization must be configured",
            ),
            (
                "oauth2: {client_id: i, token_url: http://t}\nbasic_auth: {username: u}\n",
                "at most one of basic_auth, oauth2 & authorization must be configured",
            ),
            (
                "oauth2: {token_url: http://t}\n",
                "oauth2 client_id must be configured",
            ),
            (
                "oauth2: {client_id: i}\n",
                "oauth2 token_url must be configured",
            ),
            (
                "oauth2: {client_id: i, token_url: http://t, client_secret: s, client_secret_file: f}\n",
                "at most one of oauth2 client_secret, client_secret_file & client_secret_ref must be configured",
            ),
        ];
        for (yaml, want) in cases {
            assert_eq!(error(yaml), want, "for {yaml}");
        }
    }

    #[test]
    fn empty_values_count_as_unset() {
        parse("basic_auth: {username: u, password: '', password_file: f}\n").unwrap();
        parse("authorization: {credentials: '', credentials_file: f}\n").unwrap();
        parse("bearer_token: ''\nbasic_auth: {username: u}\n").unwrap();
    }

    #[test]
    fn reserved_headers_are_refused() {
        assert_eq!(
            error("http_headers: {user-agent: {values: [x]}}\n"),
            "setting header \"User-Agent\" is not allowed"
        );
        assert_eq!(
            error("http_headers: {x-prometheus-remote-write-version: {values: ['2']}}\n"),
            "setting header \"X-Prometheus-Remote-Write-Version\" is not allowed"
        );
        let config =
            parse("http_headers: {x-custom: {values: [a], secrets: [b], files: [/f]}}\n").unwrap();
        assert_eq!(config.http_headers.unwrap()["x-custom"].secrets.len(), 1);
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(parse("basic_auth: {user: u}\n").is_err());
        assert!(parse("tls_config: {ca_path: x}\n").is_err());
        assert!(parse("oauth2: {client_id: i, token_url: t, scope: [a]}\n").is_err());
    }

    #[test]
    fn secrets_are_not_serialised() {
        let config = parse(
            "basic_auth: {username: u, password: pw1}\n\
             proxy_url: http://user:pw2@proxy\n\
             proxy_connect_header: {X: [pw3]}\n\
             tls_config: {cert: c, key: pw4}\n\
             http_headers: {X-A: {secrets: [pw5]}}\n",
        )
        .unwrap();
        let json = serde_json::to_string(&config).unwrap();
        for secret in ["pw1", "pw2", "pw3", "pw4", "pw5"] {
            assert!(!json.contains(secret), "{secret} in {json}");
        }
        assert!(json.contains("xxxxx"), "{json}");
        let debug = format!("{config:?}");
        for secret in ["pw1", "pw3", "pw4", "pw5"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
    }

    #[test]
    fn shown_as_prometheus_shows_it() {
        let json = serde_json::to_value(parse("tls_config: {}\n").unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"follow_redirects": true, "enable_http2": true})
        );
        let json = serde_json::to_value(parse("tls_config: {server_name: s}\n").unwrap()).unwrap();
        assert_eq!(
            json["tls_config"],
            serde_json::json!({"server_name": "s", "insecure_skip_verify": false})
        );
    }

    #[test]
    fn relative_files_join_the_config_directory() {
        let dir = Path::new("/etc/prometheus");
        let mut config = parse(
            "basic_auth: {password_file: pw, username_file: ../user}\n\
             tls_config: {ca_file: ./ca.pem, cert_file: /abs/c.pem, key_file: k/./key.pem}\n\
             http_headers: {X-A: {files: [h]}}\n",
        )
        .unwrap();
        config.set_directory(dir);
        let basic = config.basic_auth.as_ref().unwrap();
        assert_eq!(basic.password_file.as_deref(), Some("/etc/prometheus/pw"));
        assert_eq!(basic.username_file, "/etc/user");
        let tls = config.tls_config.as_ref().unwrap();
        assert_eq!(tls.ca_file.as_deref(), Some("/etc/prometheus/ca.pem"));
        assert_eq!(tls.cert_file.as_deref(), Some("/abs/c.pem"));
        assert_eq!(tls.key_file.as_deref(), Some("/etc/prometheus/k/key.pem"));
        assert_eq!(
            config.http_headers.as_ref().unwrap()["X-A"].files,
            ["/etc/prometheus/h"]
        );

        let mut config = parse(
            "oauth2: {client_id: i, token_url: http://t, client_secret_file: s, tls_config: {ca_file: oca}}\n",
        )
        .unwrap();
        config.set_directory(dir);
        let oauth2 = config.oauth2.as_ref().unwrap();
        assert_eq!(oauth2.client_secret_file, "/etc/prometheus/s");
        assert_eq!(
            oauth2.tls_config.as_ref().unwrap().ca_file.as_deref(),
            Some("/etc/prometheus/oca")
        );

        // bearer_token_file became authorization.credentials_file.
        let mut config = parse("bearer_token_file: tok\n").unwrap();
        config.set_directory(dir);
        assert_eq!(
            config
                .authorization
                .as_ref()
                .unwrap()
                .credentials_file
                .as_deref(),
            Some("/etc/prometheus/tok")
        );
    }

    #[test]
    fn canonical_header_keys() {
        assert_eq!(canonical_header_key("x-foo-BAR"), "X-Foo-Bar");
        assert_eq!(canonical_header_key("bad header"), "bad header");
    }
}
