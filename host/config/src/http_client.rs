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
//! ```ignore
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

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::go_yaml::null_as_default;
use crate::secret::{Secret, no_secret, serialize_optional_url};

/// Prometheus' `common/config.HTTPClientConfig`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpClientConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2>,
    /// Deprecated: moved into `authorization` by [`HttpClientConfig::validate`].
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Secret::is_empty"
    )]
    pub bearer_token: Secret,
    /// Deprecated: moved into `authorization` by [`HttpClientConfig::validate`].
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub bearer_token_file: String,
    #[serde(default, skip_serializing_if = "no_tls_config")]
    pub tls_config: Option<TlsConfig>,
    #[serde(default = "yes", deserialize_with = "null_as_default")]
    pub follow_redirects: bool,
    #[serde(default = "yes", deserialize_with = "null_as_default")]
    pub enable_http2: bool,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_optional_url"
    )]
    pub proxy_url: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub no_proxy: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub proxy_from_environment: bool,
    /// Headers sent to the proxy on CONNECT; values are secret.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_headers: Option<BTreeMap<String, HttpHeader>>,
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

/// `oauth2`: the client credentials (or JWT bearer) grant.
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
    // The inlined proxy settings for reaching the token URL.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_optional_url"
    )]
    pub proxy_url: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub no_proxy: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub proxy_from_environment: bool,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
}

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

/// The TLS versions Prometheus names.
pub const TLS_VERSIONS: &[&str] = &["TLS10", "TLS11", "TLS12", "TLS13"];

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

fn set(value: &str) -> bool {
    !value.is_empty()
}
fn set_opt(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(set)
}
fn set_secret(value: &Option<Secret>) -> bool {
    value.as_ref().is_some_and(|s| !s.is_empty())
}
fn count(flags: &[bool]) -> usize {
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

impl TlsConfig {
    /// `TLSConfig.Validate` and the version names' parsing.
    pub fn validate(&self) -> Result<(), String> {
        for version in [&self.min_version, &self.max_version].into_iter().flatten() {
            if !TLS_VERSIONS.contains(&version.as_str()) {
                return Err(format!(
                    "unknown TLS version: {version} (use one of {})",
                    TLS_VERSIONS.join(", ")
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

/// `ProxyConfig.Validate`, shared by the client and its `oauth2` block.
fn validate_proxy(
    proxy_url: &Option<String>,
    no_proxy: &str,
    proxy_from_environment: bool,
    proxy_connect_header: &BTreeMap<String, Vec<Secret>>,
) -> Result<(), String> {
    if !proxy_connect_header.is_empty() && !proxy_from_environment && !set_opt(proxy_url) {
        return Err(
            "if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured"
                .into(),
        );
    }
    if proxy_from_environment && set_opt(proxy_url) {
        return Err(
            "if proxy_from_environment is configured, proxy_url must not be configured".into(),
        );
    }
    if proxy_from_environment && set(no_proxy) {
        return Err(
            "if proxy_from_environment is configured, no_proxy must not be configured".into(),
        );
    }
    if proxy_url.is_none() && set(no_proxy) {
        return Err("if no_proxy is configured, proxy_url must also be configured".into());
    }
    if let Some(url) = proxy_url {
        crate::sd::parse_go_url(url)?;
    }
    Ok(())
}

/// The little that Go's `url.Parse` rejects: control characters and a
/// malformed scheme.
pub(crate) fn validate_url(url: &str) -> Result<(), String> {
    if url.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(format!(
            "parse {:?}: net/url: invalid control character in URL",
            crate::secret::redact_url(url)
        ));
    }
    if let Some(colon) = url.find(':') {
        let scheme = &url[..colon];
        if !scheme.contains('/') && !scheme.contains('?') && !scheme.contains('#') {
            if scheme.is_empty() {
                return Err(format!(
                    "parse {:?}: missing protocol scheme",
                    crate::secret::redact_url(url)
                ));
            }
            let valid = scheme.as_bytes()[0].is_ascii_alphabetic()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
            if !valid {
                return Err(format!(
                    "parse {:?}: first path segment in URL cannot contain colon",
                    crate::secret::redact_url(url)
                ));
            }
        }
    }
    Ok(())
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

impl HttpClientConfig {
    /// The checks Prometheus makes while it reads the nested `tls_config`
    /// and `oauth2` blocks, before the checks of the struct they are
    /// inlined in.
    pub fn validate_nested(&self) -> Result<(), String> {
        if let Some(tls) = &self.tls_config {
            tls.validate()?;
        }
        if let Some(oauth2) = &self.oauth2 {
            oauth2.validate()?;
        }
        Ok(())
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

/// For `skip_serializing_if`: Prometheus leaves out a `tls_config` with
/// nothing set (Go's `omitempty` on a struct value).
pub(crate) fn no_tls_config(tls: &Option<TlsConfig>) -> bool {
    tls.as_ref().is_none_or(|tls| *tls == TlsConfig::default())
}

/// Prometheus' `config.JoinDir`: a relative path joined to `dir` (the
/// directory of the file it was read from) and cleaned as Go's
/// `filepath.Join` does; an empty or absolute path as it is.
pub fn join_dir(dir: &Path, path: &str) -> String {
    if path.is_empty() || Path::new(path).is_absolute() {
        return path.to_owned();
    }
    let dir = dir.to_string_lossy();
    if dir.is_empty() {
        return go_clean(path);
    }
    go_clean(&format!("{dir}/{path}"))
}

/// Go's `filepath.Clean` on a `/`-separated path: the shortest equivalent
/// path, lexically.
fn go_clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            part => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

fn join_opt(dir: &Path, path: &mut Option<String>) {
    if let Some(path) = path {
        *path = join_dir(dir, path);
    }
}

fn join(dir: &Path, path: &mut String) {
    *path = join_dir(dir, path);
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

/// Writes Prometheus' inlined HTTP client fields into a struct definition
/// and implements `http()`, `set_http()` and `validate_http_client()` on it
/// (see the module documentation).
macro_rules! with_http_client {
    (
        @then $($next:ident)::+ ;
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* $fvis:vis $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $($next)::+ ! {
            $(#[$meta])*
            $vis struct $name {
                $( $(#[$fmeta])* $fvis $field : $ty, )*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub basic_auth: Option<$crate::http_client::BasicAuth>,
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub authorization: Option<$crate::http_client::Authorization>,
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub oauth2: Option<$crate::http_client::OAuth2>,
                #[serde(
                    default,
                    deserialize_with = "crate::go_yaml::null_as_default",
                    skip_serializing_if = "crate::Secret::is_empty"
                )]
                pub bearer_token: $crate::Secret,
                #[serde(
                    default,
                    deserialize_with = "crate::go_yaml::null_as_default",
                    skip_serializing_if = "String::is_empty"
                )]
                pub bearer_token_file: String,
                #[serde(
                    default,
                    skip_serializing_if = "crate::http_client::no_tls_config"
                )]
                pub tls_config: Option<$crate::http_client::TlsConfig>,
                #[serde(
                    default = "crate::http_client::yes",
                    deserialize_with = "crate::go_yaml::null_as_default"
                )]
                pub follow_redirects: bool,
                #[serde(
                    default = "crate::http_client::yes",
                    deserialize_with = "crate::go_yaml::null_as_default"
                )]
                pub enable_http2: bool,
                #[serde(
                    default,
                    skip_serializing_if = "Option::is_none",
                    serialize_with = "crate::secret::serialize_optional_url"
                )]
                pub proxy_url: Option<String>,
                #[serde(
                    default,
                    deserialize_with = "crate::go_yaml::null_as_default",
                    skip_serializing_if = "String::is_empty"
                )]
                pub no_proxy: String,
                #[serde(
                    default,
                    deserialize_with = "crate::go_yaml::null_as_default",
                    skip_serializing_if = "crate::http_client::is_false"
                )]
                pub proxy_from_environment: bool,
                #[serde(
                    default,
                    deserialize_with = "crate::go_yaml::null_as_default",
                    skip_serializing_if = "std::collections::BTreeMap::is_empty"
                )]
                pub proxy_connect_header:
                    std::collections::BTreeMap<String, Vec<$crate::Secret>>,
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub http_headers: Option<
                    std::collections::BTreeMap<String, $crate::http_client::HttpHeader>,
                >,
            }
        }

        impl $name {
            /// Its HTTP client settings.
            #[allow(dead_code)]
            pub fn http(&self) -> $crate::http_client::HttpClientConfig {
                $crate::http_client::HttpClientConfig {
                    basic_auth: self.basic_auth.clone(),
                    authorization: self.authorization.clone(),
                    oauth2: self.oauth2.clone(),
                    bearer_token: self.bearer_token.clone(),
                    bearer_token_file: self.bearer_token_file.clone(),
                    tls_config: self.tls_config.clone(),
                    follow_redirects: self.follow_redirects,
                    enable_http2: self.enable_http2,
                    proxy_url: self.proxy_url.clone(),
                    no_proxy: self.no_proxy.clone(),
                    proxy_from_environment: self.proxy_from_environment,
                    proxy_connect_header: self.proxy_connect_header.clone(),
                    http_headers: self.http_headers.clone(),
                }
            }

            /// Replaces its HTTP client settings.
            #[allow(dead_code)]
            pub fn set_http(&mut self, http: $crate::http_client::HttpClientConfig) {
                let $crate::http_client::HttpClientConfig {
                    basic_auth,
                    authorization,
                    oauth2,
                    bearer_token,
                    bearer_token_file,
                    tls_config,
                    follow_redirects,
                    enable_http2,
                    proxy_url,
                    no_proxy,
                    proxy_from_environment,
                    proxy_connect_header,
                    http_headers,
                } = http;
                self.basic_auth = basic_auth;
                self.authorization = authorization;
                self.oauth2 = oauth2;
                self.bearer_token = bearer_token;
                self.bearer_token_file = bearer_token_file;
                self.tls_config = tls_config;
                self.follow_redirects = follow_redirects;
                self.enable_http2 = enable_http2;
                self.proxy_url = proxy_url;
                self.no_proxy = no_proxy;
                self.proxy_from_environment = proxy_from_environment;
                self.proxy_connect_header = proxy_connect_header;
                self.http_headers = http_headers;
            }

            /// Joins the relative file paths of its HTTP client settings
            /// with `dir` (see [`HttpClientConfig::set_directory`]).
            ///
            /// [`HttpClientConfig::set_directory`]: crate::http_client::HttpClientConfig::set_directory
            #[allow(dead_code)]
            pub fn set_http_directory(&mut self, dir: &std::path::Path) {
                let mut http = self.http();
                http.set_directory(dir);
                self.set_http(http);
            }

            /// [`HttpClientConfig::validate_nested`] on its HTTP client
            /// settings: what Prometheus checks before the struct's own
            /// checks.
            ///
            /// [`HttpClientConfig::validate_nested`]: crate::http_client::HttpClientConfig::validate_nested
            #[allow(dead_code)]
            pub fn validate_http_nested(&self) -> Result<(), String> {
                if let Some(tls) = &self.tls_config {
                    tls.validate()?;
                }
                if let Some(oauth2) = &self.oauth2 {
                    oauth2.validate()?;
                }
                Ok(())
            }

            /// [`HttpClientConfig::validate`] on its HTTP client settings,
            /// keeping the normalised result (`bearer_token` moved into
            /// `authorization`).
            ///
            /// [`HttpClientConfig::validate`]: crate::http_client::HttpClientConfig::validate
            #[allow(dead_code)]
            pub fn validate_http_client(&mut self) -> Result<(), String> {
                let mut http = self.http();
                http.validate()?;
                self.set_http(http);
                Ok(())
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* $fvis:vis $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $crate::http_client::with_http_client! {
            @then $crate::http_client::plain_struct;
            $(#[$meta])*
            $vis struct $name {
                $( $(#[$fmeta])* $fvis $field : $ty, )*
            }
        }
    };
}
pub(crate) use with_http_client;

/// The identity continuation: writes the struct definition as it is.
macro_rules! plain_struct {
    ($($item:tt)*) => {
        $($item)*
    };
}
pub(crate) use plain_struct;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<HttpClientConfig, String> {
        let mut config: HttpClientConfig =
            serde_saphyr::from_str(yaml).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    fn error(yaml: &str) -> String {
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

    #[test]
    fn proxy_checks() {
        let cases = [
            (
                "proxy_connect_header: {X: [a]}\n",
                "if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured",
            ),
            (
                "proxy_from_environment: true\nproxy_url: http://p\n",
                "if proxy_from_environment is configured, proxy_url must not be configured",
            ),
            (
                "proxy_from_environment: true\nno_proxy: localhost\n",
                "if proxy_from_environment is configured, no_proxy must not be configured",
            ),
            (
                "no_proxy: localhost\n",
                "if no_proxy is configured, proxy_url must also be configured",
            ),
            (
                "oauth2: {client_id: i, token_url: http://t, no_proxy: x}\n",
                "if no_proxy is configured, proxy_url must also be configured",
            ),
            (
                "proxy_url: \"http://p\\x01\"\n",
                "invalid control character in URL",
            ),
            (
                "proxy_url: http://p:port\n",
                "invalid port \":port\" after host",
            ),
        ];
        for (yaml, want) in cases {
            let got = error(yaml);
            assert!(got.contains(want), "for {yaml}: {got}");
        }
        parse("proxy_url: http://p\nno_proxy: localhost\nproxy_connect_header: {X: [a]}\n")
            .unwrap();
        parse("proxy_from_environment: true\nproxy_connect_header: {X: [a]}\n").unwrap();
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
        assert_eq!(join_dir(Path::new("conf"), "../x"), "x");
        assert_eq!(join_dir(Path::new("."), "a"), "a");
        assert_eq!(join_dir(Path::new(""), "a"), "a");
        assert_eq!(join_dir(Path::new("conf"), ""), "");
        assert_eq!(join_dir(Path::new("a"), "../../b"), "../b");
    }

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

    #[test]
    fn canonical_header_keys() {
        assert_eq!(canonical_header_key("x-foo-BAR"), "X-Foo-Bar");
        assert_eq!(canonical_header_key("bad header"), "bad header");
    }

    with_http_client! {
        #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
        #[serde(deny_unknown_fields)]
        struct Inlined {
            /// A field of its own.
            #[serde(default)]
            name: String,
        }
    }

    #[test]
    fn inlined_fields_read_validate_and_normalise() {
        let mut inlined: Inlined =
            serde_saphyr::from_str("name: n\nbearer_token: t\nfollow_redirects: false\n").unwrap();
        assert!(!inlined.follow_redirects && inlined.enable_http2);
        inlined.validate_http_client().unwrap();
        inlined.set_http_directory(Path::new("/d"));
        assert_eq!(
            inlined.authorization.as_ref().unwrap().credentials,
            Some(Secret::new("t"))
        );
        assert!(inlined.bearer_token.is_empty());
        let mut bad: Inlined =
            serde_saphyr::from_str("bearer_token: t\nbearer_token_file: f\n").unwrap();
        assert_eq!(
            bad.validate_http_client().unwrap_err(),
            "at most one of bearer_token & bearer_token_file must be configured"
        );
        assert!(serde_saphyr::from_str::<Inlined>("nme: n\n").is_err());
    }
}
