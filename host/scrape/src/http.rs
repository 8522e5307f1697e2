//! Scraping a target over HTTP as Prometheus does: content negotiation
//! between OpenMetrics and the text format, gzip, authentication headers,
//! `X-Prometheus-Scrape-Timeout-Seconds`, a body size limit enforced while
//! reading, and a parse that fails the whole scrape on any malformed line.

use std::sync::Arc;
use std::time::Duration;
use wasmetheus_model::redact_url;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use wasmetheus_model::text::Exposition;
use wasmetheus_model::{openmetrics, text};

/// Prometheus 3's `Accept` header for its default scrape protocols
/// (OpenMetrics first, then the text format).
const ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.5,\
application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// The exposition format to assume when a target sends no usable
/// `Content-Type` (Prometheus' `fallback_scrape_protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Fail the scrape, as Prometheus 3 does by default.
    None,
    Text,
    OpenMetrics,
}

/// How one target is fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpTarget {
    /// `scheme://address/path?params`.
    pub url: String,
    /// For `https`: trust and client certificate (Prometheus' `tls_config`).
    pub tls: Tls,
    /// The `Authorization` header, if any (basic or bearer, resolved).
    pub authorization: Option<Credentials>,
    /// 0: no limit.
    pub body_size_limit: u64,
    pub fallback: Fallback,
}

/// `tls_config`: files are read at every scrape, so rotated certificates
/// are picked up, as in Prometheus.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tls {
    /// PEM CA certificates to trust instead of the built-in (Mozilla) roots.
    pub ca_file: Option<String>,
    /// A client certificate and its key (PEM), for mutual TLS.
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    /// The name to verify the server's certificate against (and to send
    /// as SNI) instead of the target's host.
    pub server_name: Option<String>,
    pub insecure_skip_verify: bool,
}

impl Tls {
    fn client_config(&self) -> Result<rustls::ClientConfig, String> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let builder = if self.insecure_skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
        } else {
            let mut roots = rustls::RootCertStore::empty();
            match &self.ca_file {
                Some(file) => {
                    for cert in CertificateDer::pem_file_iter(file)
                        .map_err(|e| format!("unable to load specified CA cert {file}: {e}"))?
                    {
                        let cert = cert
                            .map_err(|e| format!("unable to load specified CA cert {file}: {e}"))?;
                        roots
                            .add(cert)
                            .map_err(|e| format!("unable to use CA cert {file}: {e}"))?;
                    }
                }
                None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            }
            builder.with_root_certificates(roots)
        };
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| format!("unable to load client cert {cert}: {e}"))?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| format!("unable to load client key {key}: {e}"))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| format!("unable to use client cert {cert}: {e}"))
            }
            (None, None) => Ok(builder.with_no_client_auth()),
            _ => Err("TLS: cert_file and key_file must be given together".into()),
        }
    }
}

/// `insecure_skip_verify`: accepts any certificate, still checking the
/// handshake's signatures.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Where the `Authorization` header comes from. Files are read at every
/// scrape, so rotated secrets are picked up, as in Prometheus. `Debug`
/// shows a password or credentials as `<secret>`.
#[derive(Clone, PartialEq)]
pub enum Credentials {
    Basic {
        username: String,
        password: Option<String>,
        password_file: Option<String>,
    },
    Token {
        kind: String,
        credentials: Option<String>,
        credentials_file: Option<String>,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |secret: &Option<String>| secret.as_ref().map(|_| "<secret>");
        match self {
            Credentials::Basic {
                username,
                password,
                password_file,
            } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &shown(password))
                .field("password_file", password_file)
                .finish(),
            Credentials::Token {
                kind,
                credentials,
                credentials_file,
            } => f
                .debug_struct("Token")
                .field("kind", kind)
                .field("credentials", &shown(credentials))
                .field("credentials_file", credentials_file)
                .finish(),
        }
    }
}

impl Credentials {
    fn header(&self) -> Result<String, String> {
        let read = |path: &str| {
            std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
                .map_err(|e| format!("unable to read authorization file {path}: {e}"))
        };
        match self {
            Credentials::Basic {
                username,
                password,
                password_file,
            } => {
                let password = match password_file {
                    Some(file) => read(file)?,
                    None => password.clone().unwrap_or_default(),
                };
                Ok(format!(
                    "Basic {}",
                    base64(format!("{username}:{password}").as_bytes())
                ))
            }
            Credentials::Token {
                kind,
                credentials,
                credentials_file,
            } => {
                let token = match credentials_file {
                    Some(file) => read(file)?,
                    None => credentials.clone().unwrap_or_default(),
                };
                Ok(format!("{kind} {token}"))
            }
        }
    }
}

/// Standard base64, as a Basic authorization header holds it.
fn base64(input: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(input)
}

/// The HTTP client all scrapes share (connection reuse across targets).
#[derive(Clone)]
pub struct Scraper {
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl Default for Scraper {
    fn default() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(30)));
        Scraper {
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(90))
                .build(connector),
        }
    }
}

impl std::fmt::Debug for Scraper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scraper")
    }
}

impl Scraper {
    /// Fetches `target`: its body and the format to parse it as (by
    /// `Content-Type`, else the target's fallback).
    pub async fn fetch_exposition(
        &self,
        target: &HttpTarget,
        timeout: Duration,
    ) -> Result<(Fallback, String), String> {
        let (content_type, body) = self.fetch(target, ACCEPT, timeout).await?;
        Ok((format_of(&content_type, target.fallback)?, body))
    }

    /// GETs `target`: its `Content-Type` and body (decompressed, within
    /// the size limit, UTF-8).
    async fn fetch(
        &self,
        target: &HttpTarget,
        accept: &str,
        timeout: Duration,
    ) -> Result<(String, String), String> {
        let uri: hyper::Uri = target
            .url
            .parse()
            .map_err(|e| format!("invalid target URL {:?}: {e}", redact_url(&target.url)))?;
        let mut request = hyper::Request::get(uri.clone())
            .header(hyper::header::ACCEPT, accept)
            .header(hyper::header::ACCEPT_ENCODING, "gzip")
            .header(
                hyper::header::USER_AGENT,
                concat!("wasmetheus/", env!("CARGO_PKG_VERSION")),
            )
            .header(
                "X-Prometheus-Scrape-Timeout-Seconds",
                format!("{}", timeout.as_secs_f64()),
            );
        if let Some(credentials) = &target.authorization {
            request = request.header(hyper::header::AUTHORIZATION, credentials.header()?);
        }
        let response = if uri.scheme_str() == Some("https") {
            self.send_tls(target, &uri, request).await?
        } else {
            let request = request
                .body(Empty::new())
                .map_err(|e| format!("building the request: {e}"))?;
            self.client
                .request(request)
                .await
                .map_err(|e| connection_error(&e))?
        };
        let status = response.status();
        if !status.is_success() {
            return Err(format!("server returned HTTP status {status}"));
        }
        let headers = response.headers();
        let content_type = headers
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let gzipped = headers
            .get(hyper::header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
        let limit = if target.body_size_limit == 0 {
            u64::MAX
        } else {
            target.body_size_limit
        };
        // Sized once from Content-Length where it is sent (within the
        // limit): growing by doubling copied a large body several times.
        let declared = headers
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .unwrap_or(0)
            .min(limit.saturating_add(1))
            .min(64 << 20);
        let mut body = response.into_body();
        let mut raw = Vec::with_capacity(declared as usize);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("reading the body: {e}"))?;
            if let Ok(data) = frame.into_data() {
                raw.extend_from_slice(&data);
                if raw.len() as u64 > limit {
                    return Err(format!("body size limit exceeded ({limit} bytes)"));
                }
            }
        }
        let bytes = if gzipped { gunzip(&raw, limit)? } else { raw };
        let text = String::from_utf8(bytes).map_err(|e| format!("the body is not UTF-8: {e}"))?;
        Ok((content_type, text))
    }
}

impl Scraper {
    /// Sends `request` to an `https` target over a fresh TLS connection.
    async fn send_tls(
        &self,
        target: &HttpTarget,
        uri: &hyper::Uri,
        request: hyper::http::request::Builder,
    ) -> Result<hyper::Response<hyper::body::Incoming>, String> {
        let host = uri.host().ok_or("the target URL has no host")?;
        let port = uri.port_u16().unwrap_or(443);
        let config = target.tls.client_config()?;
        let name = target.tls.server_name.clone().unwrap_or_else(|| {
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned()
        });
        let server_name = rustls::pki_types::ServerName::try_from(name)
            .map_err(|e| format!("TLS: invalid server name: {e}"))?;
        let tcp = tokio::net::TcpStream::connect((
            host.trim_start_matches('[').trim_end_matches(']'),
            port,
        ))
        .await
        .map_err(|e| format!("dial tcp {host}:{port}: {e}"))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(server_name, tcp)
            .await
            .map_err(|e| format!("TLS handshake: {e}"))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .map_err(|e| format!("HTTP handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        // Origin-form, as HTTP/1.1 expects on a direct connection.
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let request = request
            .uri(path)
            .header(
                hyper::header::HOST,
                uri.authority().map_or("", |a| a.as_str()),
            )
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("building the request: {e}"))?;
        sender
            .send_request(request)
            .await
            .map_err(|e| format!("sending the request: {e}"))
    }

    /// A GET returning the body as text (HTTP service discovery).
    pub async fn get_json(&self, url: &str, timeout: Duration) -> Result<String, String> {
        let target = HttpTarget {
            url: url.to_owned(),
            tls: Tls::default(),
            authorization: None,
            body_size_limit: 64 << 20,
            fallback: Fallback::None,
        };
        let fetch = self.fetch(&target, "application/json", timeout);
        match tokio::time::timeout(timeout, fetch).await {
            Ok(result) => result.map(|(_, body)| body),
            Err(_) => Err(format!("request timed out after {timeout:?}")),
        }
    }
}

/// The root cause of a client error (hyper's own text is "client error").
fn connection_error(e: &hyper_util::client::legacy::Error) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        message = cause.to_string();
        source = cause.source();
    }
    message
}

fn gunzip(raw: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(raw)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| format!("decompressing the body: {e}"))?;
    if out.len() as u64 > limit {
        return Err(format!("body size limit exceeded ({limit} bytes)"));
    }
    Ok(out)
}

/// Parses by `Content-Type`: OpenMetrics or the text format; anything
/// else needs a fallback.
pub fn parse(body: &str, content_type: &str, fallback: Fallback) -> Result<Exposition, String> {
    let parsed = match format_of(content_type, fallback)? {
        Fallback::OpenMetrics => openmetrics::parse_with(
            body,
            openmetrics::Options {
                allow_negative_observations: true,
            },
        ),
        _ => text::parse(body),
    };
    parsed.map_err(|e| format!("{}:{}: {}", e.line, e.column, e.message))
}

/// The format a `Content-Type` names (`Fallback::Text` or
/// `Fallback::OpenMetrics`); anything else needs a fallback.
pub fn format_of(content_type: &str, fallback: Fallback) -> Result<Fallback, String> {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let format = match media.as_str() {
        "application/openmetrics-text" => Fallback::OpenMetrics,
        "text/plain" => Fallback::Text,
        _ => match fallback {
            Fallback::None => {
                return Err(format!(
                    "received unsupported Content-Type {content_type:?} and no fallback_scrape_protocol specified for target"
                ));
            }
            f => f,
        },
    };
    Ok(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_is_base64() {
        assert_eq!(
            base64(b"Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }

    #[tokio::test]
    async fn an_invalid_target_url_is_shown_without_its_password() {
        let target = HttpTarget {
            url: "http://scraper:hunter2@exa mple:9100/metrics".into(),
            tls: Tls::default(),
            authorization: None,
            body_size_limit: 0,
            fallback: Fallback::None,
        };
        let error = Scraper::default()
            .fetch_exposition(&target, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(
            error
                .starts_with("invalid target URL \"http://scraper:xxxxx@exa mple:9100/metrics\": "),
            "{error}"
        );
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn url_passwords_are_redacted_as_go_does() {
        for (url, shown) in [
            (
                "http://u:p@host:1/path?q=a:b@c",
                "http://u:xxxxx@host:1/path?q=a:b@c",
            ),
            ("https://u:p:q@h@host/", "https://u:xxxxx@host/"),
            ("http://user@host:1/", "http://user@host:1/"),
            ("http://host:1/a:b@c", "http://host:1/a:b@c"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn debug_hides_credentials() {
        let basic = Credentials::Basic {
            username: "alice".into(),
            password: Some("hunter2".into()),
            password_file: None,
        };
        let token = Credentials::Token {
            kind: "Bearer".into(),
            credentials: Some("hunter3".into()),
            credentials_file: Some("/token".into()),
        };
        let shown = format!("{basic:?} {token:?}");
        assert!(!shown.contains("hunter"), "{shown}");
        assert!(
            shown.contains("alice") && shown.contains("/token"),
            "{shown}"
        );
        assert_eq!(shown.matches("<secret>").count(), 2, "{shown}");
    }

    #[test]
    fn content_type_picks_the_parser() {
        let om = "# TYPE a counter\na_total 1\n# EOF\n";
        assert!(
            parse(
                om,
                "application/openmetrics-text; version=1.0.0",
                Fallback::None
            )
            .is_ok()
        );
        let text_body = "a 1\n";
        assert!(parse(text_body, "text/plain; version=0.0.4", Fallback::None).is_ok());
        let err = parse(text_body, "", Fallback::None).unwrap_err();
        assert!(err.contains("no fallback_scrape_protocol"), "{err}");
        assert!(parse(text_body, "", Fallback::Text).is_ok());
        // OpenMetrics without `# EOF` is malformed: the scrape fails.
        assert!(
            parse(
                "a_total 1\n",
                "application/openmetrics-text",
                Fallback::None
            )
            .is_err()
        );
    }
}
