//! The HTTP client of one `alertmanagers` entry: its `tls_config`,
//! `basic_auth`, `authorization` (and `bearer_token*`, which the config
//! turns into one) and `http_headers`, and the `POST` of a batch, with
//! hyper and rustls as `host/scrape` uses them. Secret files are read at
//! every request (trimmed, as Prometheus' round trippers do), so rotated
//! secrets are picked up; certificates are read when the configuration is
//! applied.
//!
//! Not supported yet: `oauth2`, `sigv4`, proxies, secret references
//! (`*_ref`). An entry using one is not sent to (rather than sent to
//! without it), and says why (`Manager::disabled_configs`, the log).
//! Redirects are not followed.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue};
use wasmetheus_config::{AlertmanagerConfig, TlsConfig};

use crate::NotifierError;

/// Sent with every request.
const USER_AGENT: &str = concat!("wasmetheus/", env!("CARGO_PKG_VERSION"));

/// How requests to the Alertmanagers of one config are made.
#[derive(Clone)]
pub(crate) struct Client {
    tls: Arc<rustls::ClientConfig>,
    server_name: Option<String>,
    auth: Option<Auth>,
    headers: Vec<(HeaderName, HeaderSource)>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server_name", &self.server_name)
            .field("headers", &self.headers.len())
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
enum Secret {
    Text(String),
    File(String),
}

/// The largest secret or header file read (a credential is a line).
const MAX_SECRET_FILE_BYTES: u64 = 1 << 20;

impl Secret {
    /// The secret; a file is read whole (up to [`MAX_SECRET_FILE_BYTES`])
    /// and trimmed. Blocking: called on the blocking pool.
    fn read(&self) -> Result<String, String> {
        use std::io::Read;
        match self {
            Secret::Text(text) => Ok(text.clone()),
            Secret::File(path) => {
                let mut text = String::new();
                std::fs::File::open(path)
                    .and_then(|file| {
                        file.take(MAX_SECRET_FILE_BYTES + 1)
                            .read_to_string(&mut text)
                    })
                    .map_err(|e| format!("unable to read file {path}: {e}"))?;
                if text.len() as u64 > MAX_SECRET_FILE_BYTES {
                    return Err(format!(
                        "unable to read file {path}: larger than {MAX_SECRET_FILE_BYTES} bytes"
                    ));
                }
                Ok(text.trim().to_owned())
            }
        }
    }
}

#[derive(Clone)]
enum Auth {
    Basic { username: Secret, password: Secret },
    Token { kind: String, credentials: Secret },
}

#[derive(Clone)]
enum HeaderSource {
    Value(HeaderValue),
    File(String),
}

fn text_or_file(text: Option<&str>, file: Option<&str>) -> Secret {
    match file.filter(|f| !f.is_empty()) {
        Some(file) => Secret::File(file.to_owned()),
        None => Secret::Text(text.unwrap_or_default().to_owned()),
    }
}

fn unsupported(what: &str) -> NotifierError {
    NotifierError::Unsupported(what.to_owned())
}

impl Client {
    /// The client `config`'s HTTP settings describe.
    pub(crate) fn new(config: &AlertmanagerConfig) -> Result<Client, NotifierError> {
        let http = config.http();
        if http.oauth2.is_some() {
            return Err(unsupported("oauth2"));
        }
        if config.sigv4.is_some() {
            return Err(unsupported("sigv4"));
        }
        if http.proxy_url.is_some() || http.proxy_from_environment {
            return Err(unsupported("proxies"));
        }
        let auth = if let Some(basic) = &http.basic_auth {
            if !basic.username_ref.is_empty() || !basic.password_ref.is_empty() {
                return Err(unsupported("secret references"));
            }
            Some(Auth::Basic {
                username: text_or_file(Some(&basic.username), Some(&basic.username_file)),
                password: text_or_file(
                    basic.password.as_ref().map(|s| s.expose()),
                    basic.password_file.as_deref(),
                ),
            })
        } else if let Some(token) = &http.authorization {
            if !token.credentials_ref.is_empty() {
                return Err(unsupported("secret references"));
            }
            Some(Auth::Token {
                kind: token.kind.clone(),
                credentials: text_or_file(
                    token.credentials.as_ref().map(|s| s.expose()),
                    token.credentials_file.as_deref(),
                ),
            })
        } else if !http.bearer_token.is_empty() || !http.bearer_token_file.is_empty() {
            // Not yet moved into `authorization` by validation.
            Some(Auth::Token {
                kind: "Bearer".into(),
                credentials: text_or_file(
                    Some(http.bearer_token.expose()),
                    Some(&http.bearer_token_file),
                ),
            })
        } else {
            None
        };
        let mut headers = Vec::new();
        for (name, header) in http.http_headers.iter().flatten() {
            let name = HeaderName::try_from(name.as_str())
                .map_err(|e| NotifierError::Config(format!("header {name:?}: {e}")))?;
            let value = |v: &str| {
                HeaderValue::try_from(v)
                    .map(HeaderSource::Value)
                    .map_err(|e| NotifierError::Config(format!("header {name}: {e}")))
            };
            for v in &header.values {
                headers.push((name.clone(), value(v)?));
            }
            for v in &header.secrets {
                headers.push((name.clone(), value(v.expose())?));
            }
            for file in &header.files {
                headers.push((name.clone(), HeaderSource::File(file.clone())));
            }
        }
        let tls = http.tls_config.clone().unwrap_or_default();
        Ok(Client {
            tls: Arc::new(tls_client_config(&tls)?),
            server_name: tls.server_name.clone().filter(|s| !s.is_empty()),
            auth,
            headers,
        })
    }

    /// `POST`s `body` (JSON) to `url`; any 2xx answer is success, as in
    /// Prometheus. The caller bounds the time it takes.
    pub(crate) async fn post(&self, url: &str, body: Bytes) -> Result<(), String> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("invalid URL: {e}"))?;
        let host = uri.host().ok_or("no Host in request URL")?;
        let bare_host = host.trim_start_matches('[').trim_end_matches(']');
        let https = uri.scheme_str() == Some("https");
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let mut request = hyper::Request::post(uri.path_and_query().map_or("/", |p| p.as_str()))
            .header(
                hyper::header::HOST,
                uri.authority().map_or("", |a| a.as_str()),
            )
            .header(hyper::header::USER_AGENT, USER_AGENT)
            .header(hyper::header::CONTENT_TYPE, "application/json");
        let (headers, authorization) = self.credentials().await?;
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if let Some(authorization) = authorization {
            request = request.header(hyper::header::AUTHORIZATION, authorization);
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| format!("building the request: {e}"))?;
        let tcp = tokio::net::TcpStream::connect((bare_host, port))
            .await
            .map_err(|e| format!("dial tcp {host}:{port}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let response = if https {
            let name = self
                .server_name
                .clone()
                .unwrap_or_else(|| bare_host.to_owned());
            let server_name = rustls::pki_types::ServerName::try_from(name)
                .map_err(|e| format!("TLS: invalid server name: {e}"))?;
            let tls = tokio_rustls::TlsConnector::from(Arc::clone(&self.tls))
                .connect(server_name, tcp)
                .await
                .map_err(|e| format!("TLS handshake: {e}"))?;
            send(hyper_util::rt::TokioIo::new(tls), request).await?
        } else {
            send(hyper_util::rt::TokioIo::new(tcp), request).await?
        };
        let status = response.status();
        if !status.is_success() {
            return Err(format!("bad response status {status}"));
        }
        Ok(())
    }
}

impl Client {
    /// The configured headers and the `Authorization` header, their files
    /// read on the blocking pool (a file on a hung filesystem holds no
    /// runtime thread; the caller's timeout still ends the request).
    async fn credentials(
        &self,
    ) -> Result<(Vec<(HeaderName, HeaderValue)>, Option<String>), String> {
        let headers = self.headers.clone();
        let auth = self.auth.clone();
        tokio::task::spawn_blocking(move || {
            let mut values = Vec::with_capacity(headers.len());
            for (name, source) in headers {
                let value = match source {
                    HeaderSource::Value(v) => v,
                    HeaderSource::File(path) => {
                        let text = Secret::File(path).read()?;
                        HeaderValue::try_from(text).map_err(|e| format!("header {name}: {e}"))?
                    }
                };
                values.push((name, value));
            }
            let authorization = auth.map(|auth| auth.header()).transpose()?;
            Ok((values, authorization))
        })
        .await
        .map_err(|e| format!("reading credentials: {e}"))?
    }
}

/// One request on a fresh HTTP/1.1 connection, driven here rather than in
/// a task of its own: when the caller gives up (timeout, shutdown), the
/// connection goes with it.
async fn send<T>(
    io: T,
    request: hyper::Request<Full<Bytes>>,
) -> Result<hyper::Response<hyper::body::Incoming>, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    let sent = sender.send_request(request);
    tokio::pin!(sent, connection);
    let response = tokio::select! {
        biased;
        response = &mut sent => response,
        closed = &mut connection => match closed {
            Err(e) => return Err(format!("connection: {e}")),
            Ok(()) => sent.await,
        },
    };
    response.map_err(|e| format!("sending the request: {e}"))
}

impl Auth {
    fn header(&self) -> Result<String, String> {
        match self {
            Auth::Basic { username, password } => {
                use base64::Engine;
                let pair = format!("{}:{}", username.read()?, password.read()?);
                Ok(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ))
            }
            Auth::Token { kind, credentials } => Ok(format!("{kind} {}", credentials.read()?)),
        }
    }
}

/// rustls' client configuration for a `tls_config`: CA (file or inline
/// PEM) or the Mozilla roots, client certificate and key, TLS 1.3 only
/// when `min_version` asks for it, `insecure_skip_verify`.
fn tls_client_config(tls: &TlsConfig) -> Result<rustls::ClientConfig, NotifierError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let err = |m: String| NotifierError::Tls(m);
    if !tls.ca_ref.is_empty() || !tls.cert_ref.is_empty() || !tls.key_ref.is_empty() {
        return Err(unsupported("secret references"));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider));
    let builder = if tls.min_version.as_deref() == Some("TLS13") {
        builder.with_protocol_versions(&[&rustls::version::TLS13])
    } else {
        builder.with_safe_default_protocol_versions()
    }
    .map_err(|e| err(e.to_string()))?;
    let builder = if tls.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        let pem = match tls.ca_file.as_deref().filter(|f| !f.is_empty()) {
            Some(file) => Some(
                std::fs::read(file)
                    .map_err(|e| err(format!("unable to load specified CA cert {file}: {e}")))?,
            ),
            None if !tls.ca.is_empty() => Some(tls.ca.as_bytes().to_vec()),
            None => None,
        };
        match pem {
            Some(pem) => {
                let mut any = false;
                for cert in CertificateDer::pem_slice_iter(&pem) {
                    let cert = cert.map_err(|e| err(format!("unable to load CA cert: {e}")))?;
                    roots
                        .add(cert)
                        .map_err(|e| err(format!("unable to use CA cert: {e}")))?;
                    any = true;
                }
                if !any {
                    return Err(err("unable to use specified CA cert: no certificate".into()));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots)
    };
    let cert = match tls.cert_file.as_deref().filter(|f| !f.is_empty()) {
        Some(file) => Some(
            std::fs::read(file)
                .map_err(|e| err(format!("unable to load client cert {file}: {e}")))?,
        ),
        None if !tls.cert.is_empty() => Some(tls.cert.as_bytes().to_vec()),
        None => None,
    };
    let key = match tls.key_file.as_deref().filter(|f| !f.is_empty()) {
        Some(file) => Some(
            std::fs::read(file)
                .map_err(|e| err(format!("unable to load client key {file}: {e}")))?,
        ),
        None if !tls.key.is_empty() => Some(tls.key.expose().as_bytes().to_vec()),
        None => None,
    };
    match (cert, key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_slice_iter(&cert)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(format!("unable to load client cert: {e}")))?;
            let key = PrivateKeyDer::from_pem_slice(&key)
                .map_err(|e| err(format!("unable to load client key: {e}")))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| err(format!("unable to use client cert: {e}")))
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        _ => Err(err("cert and key must be given together".into())),
    }
}

/// `insecure_skip_verify`: any certificate is accepted; the handshake's
/// signatures are still checked.
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
