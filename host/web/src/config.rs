//! The `--web.config.file` format, field for field as Prometheus' exporter
//! toolkit reads it (`web/tls_config.go`, `docs/web-configuration.md`):
//! `tls_server_config`, `http_server_config`, `rate_limit` and
//! `basic_auth_users`, with the toolkit's defaults and validation texts.

use crate::WebConfigError;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wasmetheus_config::Secret;

/// A whole web configuration file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    #[serde(default, deserialize_with = "null_as_default")]
    pub tls_server_config: TlsServerConfig,
    #[serde(default, deserialize_with = "null_as_default")]
    pub http_server_config: HttpServerConfig,
    #[serde(default, deserialize_with = "null_as_default")]
    pub rate_limit: RateLimitConfig,
    /// User name → bcrypt hash of the password.
    #[serde(default, deserialize_with = "null_as_default")]
    pub basic_auth_users: BTreeMap<String, Secret>,
}

/// `tls_server_config`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsServerConfig {
    /// The server's certificate chain, PEM, inline.
    #[serde(default, deserialize_with = "null_as_default")]
    pub cert: String,
    /// The server's private key, PEM, inline.
    #[serde(default, deserialize_with = "null_as_default")]
    pub key: Secret,
    /// CA certificates for client certificates, PEM, inline.
    #[serde(default, deserialize_with = "null_as_default")]
    pub client_ca: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cert_file: PathBuf,
    #[serde(default, deserialize_with = "null_as_default")]
    pub key_file: PathBuf,
    /// `NoClientCert` (also empty), `RequestClientCert`,
    /// `RequireAnyClientCert` (or the old `RequireClientCert`),
    /// `VerifyClientCertIfGiven`, `RequireAndVerifyClientCert`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub client_auth_type: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub client_ca_file: PathBuf,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cipher_suites: Vec<Cipher>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub curve_preferences: Vec<Curve>,
    #[serde(default = "tls12", deserialize_with = "min_version_or")]
    pub min_version: TlsVersion,
    #[serde(default = "tls13", deserialize_with = "max_version_or")]
    pub max_version: TlsVersion,
    #[serde(default = "yes", deserialize_with = "null_as_default")]
    pub prefer_server_cipher_suites: bool,
    /// `None` (absent or null) checks nothing; a list, even empty, requires
    /// one of its entries among the client certificate's SANs.
    #[serde(default)]
    pub client_allowed_sans: Option<Vec<String>>,
}

impl Default for TlsServerConfig {
    fn default() -> Self {
        TlsServerConfig {
            cert: String::new(),
            key: Secret::default(),
            client_ca: String::new(),
            cert_file: PathBuf::new(),
            key_file: PathBuf::new(),
            client_auth_type: String::new(),
            client_ca_file: PathBuf::new(),
            cipher_suites: Vec::new(),
            curve_preferences: Vec::new(),
            min_version: TlsVersion::Tls12,
            max_version: TlsVersion::Tls13,
            prefer_server_cipher_suites: true,
            client_allowed_sans: None,
        }
    }
}

impl TlsServerConfig {
    /// Whether any field that turns TLS on is set (the toolkit's
    /// `IsEnabled`); the others alone leave the server on plain HTTP.
    pub fn is_enabled(&self) -> bool {
        !self.cert_file.as_os_str().is_empty()
            || !self.cert.is_empty()
            || !self.key_file.as_os_str().is_empty()
            || !self.key.is_empty()
            || !self.client_ca_file.as_os_str().is_empty()
            || !self.client_ca.is_empty()
            || !self.client_auth_type.is_empty()
    }

    /// Relative file names are relative to the web config's directory.
    fn set_directory(&mut self, dir: &Path) {
        for path in [
            &mut self.cert_file,
            &mut self.key_file,
            &mut self.client_ca_file,
        ] {
            if !path.as_os_str().is_empty() && path.is_relative() {
                *path = dir.join(&*path);
            }
        }
    }
}

/// `http_server_config`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpServerConfig {
    /// HTTP/2 over TLS (offered by ALPN); plain HTTP is HTTP/1.1 only.
    #[serde(default = "yes", deserialize_with = "null_as_default")]
    pub http2: bool,
    /// Headers added to every answer; only [`ALLOWED_HEADERS`].
    #[serde(default, deserialize_with = "null_as_default")]
    pub headers: BTreeMap<String, String>,
}

impl Default for HttpServerConfig {
    fn default() -> Self {
        HttpServerConfig {
            http2: true,
            headers: BTreeMap::new(),
        }
    }
}

/// `rate_limit`: a token bucket over every request; an `interval` of 0
/// (the default) disables it.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    #[serde(default, deserialize_with = "null_as_default")]
    pub burst: u32,
    #[serde(default, deserialize_with = "go_duration")]
    pub interval: std::time::Duration,
}

/// The headers the toolkit lets a web config set, each with the values it
/// accepts (empty: any).
pub const ALLOWED_HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// A TLS protocol version as the toolkit names it.
pub use wasmetheus_config::TlsVersion;

fn tls12() -> TlsVersion {
    TlsVersion::Tls12
}

fn tls13() -> TlsVersion {
    TlsVersion::Tls13
}

fn yes() -> bool {
    true
}

/// `min_version:` with no value: Go's zero version, which a Go server
/// takes as TLS 1.2.
fn min_version_or<'de, D: Deserializer<'de>>(d: D) -> Result<TlsVersion, D::Error> {
    Ok(Option::<TlsVersion>::deserialize(d)?.unwrap_or(TlsVersion::Tls12))
}

/// `max_version:` with no value: Go's zero version, which means TLS 1.3.
fn max_version_or<'de, D: Deserializer<'de>>(d: D) -> Result<TlsVersion, D::Error> {
    Ok(Option::<TlsVersion>::deserialize(d)?.unwrap_or(TlsVersion::Tls13))
}

/// The cipher suites Go's `tls.CipherSuites()` and
/// `tls.InsecureCipherSuites()` name; the toolkit accepts the former.
/// `true`: rustls implements it.
pub const GO_CIPHER_SUITES: &[(&str, bool)] = &[
    ("TLS_RSA_WITH_AES_128_CBC_SHA", false),
    ("TLS_RSA_WITH_AES_256_CBC_SHA", false),
    ("TLS_RSA_WITH_AES_128_GCM_SHA256", false),
    ("TLS_RSA_WITH_AES_256_GCM_SHA384", false),
    ("TLS_AES_128_GCM_SHA256", true),
    ("TLS_AES_256_GCM_SHA384", true),
    ("TLS_CHACHA20_POLY1305_SHA256", true),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", false),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", false),
    ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", false),
    ("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", false),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", true),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", true),
    ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", true),
    ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", true),
    ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", true),
    ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", true),
];

/// A cipher suite by its Go name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cipher(pub String);

impl<'de> Deserialize<'de> for Cipher {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        if GO_CIPHER_SUITES.iter().any(|(known, _)| *known == name) {
            Ok(Cipher(name))
        } else {
            Err(serde::de::Error::custom(format!("unknown cipher: {name}")))
        }
    }
}

/// An elliptic curve for ECDHE by its Go name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
    P521,
    X25519,
}

impl Curve {
    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "CurveP256",
            Curve::P384 => "CurveP384",
            Curve::P521 => "CurveP521",
            Curve::X25519 => "X25519",
        }
    }
}

impl<'de> Deserialize<'de> for Curve {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Ok(match name.as_str() {
            "CurveP256" => Curve::P256,
            "CurveP384" => Curve::P384,
            "CurveP521" => Curve::P521,
            "X25519" => Curve::X25519,
            _ => return Err(serde::de::Error::custom(format!("unknown curve: {name}"))),
        })
    }
}

/// `null` or an empty value as `T::default()`, as Go's YAML library reads
/// a key with no value.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A Go `time.Duration` as YAML gives it: a string `time.ParseDuration`
/// reads (`1s`, `1.5m`, `1h30m`, `250ms`, `10us`), or an integer of
/// nanoseconds. Negative durations are refused.
fn go_duration<'de, D: Deserializer<'de>>(d: D) -> Result<std::time::Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Nanos(u64),
        Text(String),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(std::time::Duration::ZERO),
        Some(Raw::Nanos(n)) => Ok(std::time::Duration::from_nanos(n)),
        Some(Raw::Text(text)) if text.starts_with('-') => Err(serde::de::Error::custom(
            wasmetheus_model::go::DurationError::Invalid { text },
        )),
        Some(Raw::Text(text)) => wasmetheus_model::go::parse_duration(&text)
            .map(|nanos| std::time::Duration::from_nanos(nanos.unsigned_abs()))
            .map_err(serde::de::Error::custom),
    }
}

impl WebConfig {
    /// Parses a web config's text; relative file names are taken relative
    /// to `path`'s directory. Checks the YAML, the headers and the
    /// password hashes, not the TLS files (see [`crate::tls`]).
    pub fn parse(text: &str, path: &Path) -> Result<WebConfig, WebConfigError> {
        let mut config: WebConfig = if text.trim().is_empty() {
            WebConfig::default()
        } else {
            serde_saphyr::from_str(text).map_err(|e| {
                let location = e.location();
                WebConfigError::Yaml {
                    path: path.to_owned(),
                    line: location.map_or(1, |l| l.line()),
                    column: location.map_or(1, |l| l.column()),
                    message: wasmetheus_config::yaml_error_message(&e),
                }
            })?
        };
        validate_headers(&config.http_server_config.headers)?;
        for hash in config.basic_auth_users.values() {
            crate::auth::bcrypt_cost(hash.expose().as_bytes())?;
        }
        let dir = path.parent().unwrap_or(Path::new(""));
        config.tls_server_config.set_directory(dir);
        Ok(config)
    }

    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let text = std::fs::read(path).map_err(|e| WebConfigError::Read {
            path: path.to_owned(),
            message: crate::go_io_error(&e),
        })?;
        let text = String::from_utf8(text).map_err(|_| WebConfigError::Yaml {
            path: path.to_owned(),
            line: 1,
            column: 1,
            message: "the file is not UTF-8 text".to_owned(),
        })?;
        WebConfig::parse(&text, path)
    }
}

/// The toolkit's `validateHeaderConfig`.
fn validate_headers(headers: &BTreeMap<String, String>) -> Result<(), WebConfigError> {
    for (name, value) in headers {
        let Some((_, allowed)) = ALLOWED_HEADERS.iter().find(|(n, _)| n == name) else {
            return Err(WebConfigError::Invalid(format!(
                "HTTP header {name:?} can not be configured"
            )));
        };
        if !allowed.is_empty() && !allowed.contains(&value.as_str()) {
            let quoted: Vec<String> = allowed.iter().map(|v| format!("{v:?}")).collect();
            return Err(WebConfigError::Invalid(format!(
                "invalid value for {name}. Expected one of: [{}], but got: {value:?}",
                quoted.join(" ")
            )));
        }
        if axum::http::HeaderValue::from_str(value).is_err() {
            return Err(WebConfigError::Invalid(format!(
                "invalid value for {name}: {value:?} cannot be sent in an HTTP header \
                 (control characters or line breaks)"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WebConfig, String> {
        WebConfig::parse(text, Path::new("/etc/web/web.yml")).map_err(|e| e.to_string())
    }

    const HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

    #[test]
    fn defaults_are_the_toolkits() {
        let config = parse("").unwrap();
        assert!(!config.tls_server_config.is_enabled());
        assert_eq!(config.tls_server_config.min_version, TlsVersion::Tls12);
        assert_eq!(config.tls_server_config.max_version, TlsVersion::Tls13);
        assert!(config.tls_server_config.prefer_server_cipher_suites);
        assert!(config.http_server_config.http2);
        // Keys without values are Go's zero values.
        let config = parse(
            "tls_server_config:\nhttp_server_config:\n  headers:\nbasic_auth_users:\nrate_limit:\n",
        )
        .unwrap();
        assert!(config.basic_auth_users.is_empty());
        assert!(config.http_server_config.headers.is_empty());
    }

    #[test]
    fn relative_files_are_relative_to_the_config() {
        let config = parse(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: /abs/server.key\n  client_ca_file: ca/ca.crt\n",
        )
        .unwrap();
        let tls = config.tls_server_config;
        assert!(tls.is_enabled());
        assert_eq!(tls.cert_file, Path::new("/etc/web/server.crt"));
        assert_eq!(tls.key_file, Path::new("/abs/server.key"));
        assert_eq!(tls.client_ca_file, Path::new("/etc/web/ca/ca.crt"));
    }

    #[test]
    fn unknown_fields_and_values_are_refused_with_the_toolkits_words() {
        let error = parse("foo: 1\n").unwrap_err();
        assert!(error.contains("foo"), "{error}");
        assert!(error.starts_with("/etc/web/web.yml:1:"), "{error}");
        let error = parse("tls_server_config:\n  min_version: TLS14\n").unwrap_err();
        assert!(error.contains("unknown TLS version: TLS14"), "{error}");
        let error = parse("tls_server_config:\n  cipher_suites: [TLS_FOO]\n").unwrap_err();
        assert!(error.contains("unknown cipher: TLS_FOO"), "{error}");
        let error = parse("tls_server_config:\n  curve_preferences: [CurveP999]\n").unwrap_err();
        assert!(error.contains("unknown curve: CurveP999"), "{error}");
    }

    #[test]
    fn headers_are_checked_as_the_toolkit_does() {
        let error =
            parse("http_server_config:\n  headers:\n    X-Frame-Options: allow\n").unwrap_err();
        assert_eq!(
            error,
            r#"invalid value for X-Frame-Options. Expected one of: ["deny" "sameorigin"], but got: "allow""#
        );
        let error = parse("http_server_config:\n  headers:\n    Server: x\n").unwrap_err();
        assert_eq!(error, r#"HTTP header "Server" can not be configured"#);
        let config = parse(
            "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Content-Security-Policy: \"default-src 'self'\"\n",
        )
        .unwrap();
        assert_eq!(config.http_server_config.headers.len(), 2);
    }

    #[test]
    fn password_hashes_must_be_bcrypt() {
        let error = parse("basic_auth_users:\n  alice: notahash\n").unwrap_err();
        assert_eq!(
            error,
            "crypto/bcrypt: hashedSecret too short to be a bcrypted password"
        );
        let config = parse(&format!("basic_auth_users:\n  alice: {HASH}\n")).unwrap();
        assert_eq!(config.basic_auth_users["alice"].expose(), HASH);
        // Never shown.
        assert!(!format!("{config:?}").contains("QOauh"));
    }

    #[test]
    fn hostile_files_are_errors_not_crashes() {
        let deep = format!("basic_auth_users: {}", "[".repeat(100_000));
        assert!(parse(&deep).is_err());
        let deep_map = format!("tls_server_config: {}", "{a: ".repeat(100_000));
        assert!(parse(&deep_map).is_err());
        // Many users, each with a hash that is not bcrypt's.
        let many: String = (0..10_000).map(|i| format!("  u{i}: x\n")).collect();
        let error = parse(&format!("basic_auth_users:\n{many}")).unwrap_err();
        assert!(error.contains("crypto/bcrypt"), "{error}");
        assert!(parse("\u{0}\u{1}garbage: [").is_err());
        assert!(parse("basic_auth_users: 5\n").is_err());
        assert!(parse("tls_server_config: [1, 2]\n").is_err());
    }

    #[test]
    fn go_durations() {
        use std::time::Duration;
        let config = parse("rate_limit:\n  interval: 100ms\n  burst: 3\n").unwrap();
        assert_eq!(config.rate_limit.interval, Duration::from_millis(100));
        assert_eq!(config.rate_limit.burst, 3);
    }
}
