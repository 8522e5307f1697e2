//! The one rustls client configuration builder, from a `tls_config`: the
//! CA (file or inline PEM; when neither is given, the system's trust store
//! as Go's `x509.SystemCertPool` reads it, or the Mozilla roots when the
//! system has none), the
//! client certificate and key (files or inline PEM), `server_name`,
//! `insecure_skip_verify` and `min_version`/`max_version` (rustls speaks
//! TLS 1.2 and 1.3). Files are read when the configuration is built, each
//! at most [`MAX_CERT_FILE_BYTES`]; error texts start with Prometheus'.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub use wasmetheus_config::TlsVersion;

use crate::Error;
use crate::file::{FileError, MAX_CERT_FILE_BYTES, read_limited};

/// The system's CA certificates, read once per process (`SSL_CERT_FILE`
/// and `SSL_CERT_DIR` are honoured as by Go and OpenSSL); `None` when the
/// system has none.
fn system_roots() -> Option<&'static [CertificateDer<'static>]> {
    static ROOTS: std::sync::OnceLock<Vec<CertificateDer<'static>>> = std::sync::OnceLock::new();
    let roots = ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::warn!("reading the system's CA certificates: {error}");
        }
        found.certs
    });
    (!roots.is_empty()).then_some(roots.as_slice())
}

/// PEM text written in the configuration or a file holding it. `Debug`
/// does not show inline text (a key is a secret).
#[derive(Clone, PartialEq, Eq)]
pub enum Pem {
    Inline(String),
    File(String),
}

impl std::fmt::Debug for Pem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pem::Inline(_) => f.write_str("Inline(..)"),
            Pem::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

impl Pem {
    /// The file when one is named (non-empty), else the inline text when
    /// there is some.
    pub fn file_or_inline(file: Option<&str>, inline: &str) -> Option<Pem> {
        match file.filter(|f| !f.is_empty()) {
            Some(file) => Some(Pem::File(file.to_owned())),
            None if !inline.is_empty() => Some(Pem::Inline(inline.to_owned())),
            None => None,
        }
    }

    fn bytes(&self) -> Result<Vec<u8>, FileError> {
        match self {
            Pem::Inline(text) => Ok(text.as_bytes().to_vec()),
            Pem::File(path) => read_limited(path, MAX_CERT_FILE_BYTES),
        }
    }

    /// How an error names it: the file, or `inline`.
    fn shown(&self) -> &str {
        match self {
            Pem::Inline(_) => "(inline)",
            Pem::File(path) => path,
        }
    }
}

/// The settings of a `tls_config` a client uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// CA certificates to trust instead of the built-in (Mozilla) roots.
    pub ca: Option<Pem>,
    /// A client certificate and its key, for mutual TLS.
    pub cert: Option<Pem>,
    pub key: Option<Pem>,
    /// The name to verify the server's certificate against (and to send
    /// as SNI) instead of the URL's host.
    pub server_name: Option<String>,
    pub insecure_skip_verify: bool,
    pub min_version: Option<TlsVersion>,
    pub max_version: Option<TlsVersion>,
}

impl TlsSettings {
    /// From a `tls_config`; `*_ref` fields are not used (see
    /// [`crate::unsupported`]).
    pub fn from_config(tls: &wasmetheus_config::TlsConfig) -> TlsSettings {
        TlsSettings {
            ca: Pem::file_or_inline(tls.ca_file.as_deref(), &tls.ca),
            cert: Pem::file_or_inline(tls.cert_file.as_deref(), &tls.cert),
            key: Pem::file_or_inline(tls.key_file.as_deref(), tls.key.expose()),
            server_name: tls.server_name.clone().filter(|s| !s.is_empty()),
            insecure_skip_verify: tls.insecure_skip_verify,
            min_version: tls.min_version.as_deref().and_then(TlsVersion::parse),
            max_version: tls.max_version.as_deref().and_then(TlsVersion::parse),
        }
    }

    /// rustls' client configuration; files are read now. Blocking.
    pub fn client_config(&self) -> Result<rustls::ClientConfig, Error> {
        let tls = |m: String| Error::Tls(m);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&self.versions()?)
            .map_err(|e| tls(e.to_string()))?;
        let builder = if self.insecure_skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
        } else {
            let mut roots = rustls::RootCertStore::empty();
            match &self.ca {
                Some(ca) => {
                    let pem = ca.bytes().map_err(|e| {
                        tls(format!(
                            "unable to load specified CA cert {}: {e}",
                            ca.shown()
                        ))
                    })?;
                    let mut any = false;
                    for cert in CertificateDer::pem_slice_iter(&pem) {
                        let cert = cert.map_err(|e| {
                            tls(format!(
                                "unable to use specified CA cert {}: {e}",
                                ca.shown()
                            ))
                        })?;
                        roots.add(cert).map_err(|e| {
                            tls(format!(
                                "unable to use specified CA cert {}: {e}",
                                ca.shown()
                            ))
                        })?;
                        any = true;
                    }
                    if !any {
                        return Err(tls(format!(
                            "unable to use specified CA cert {}: no PEM certificate in it",
                            ca.shown()
                        )));
                    }
                }
                None => match system_roots() {
                    Some(system) => {
                        for cert in system {
                            // A certificate rustls cannot use is skipped, as
                            // Go skips what it cannot parse.
                            let _ = roots.add(cert.clone());
                        }
                    }
                    None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
                },
            }
            builder.with_root_certificates(roots)
        };
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                let pair = format!("({}) & key ({})", cert.shown(), key.shown());
                let read = |pem: &Pem| {
                    pem.bytes().map_err(|e| {
                        tls(format!("unable to read specified client cert {pair}: {e}"))
                    })
                };
                let (cert_pem, key_pem) = (read(cert)?, read(key)?);
                let chain = CertificateDer::pem_slice_iter(&cert_pem)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| tls(format!("unable to use specified client cert {pair}: {e}")))?;
                if chain.is_empty() {
                    return Err(tls(format!(
                        "unable to use specified client cert {pair}: no PEM certificate in it"
                    )));
                }
                let key = PrivateKeyDer::from_pem_slice(&key_pem)
                    .map_err(|e| tls(format!("unable to use specified client cert {pair}: {e}")))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| tls(format!("unable to use specified client cert {pair}: {e}")))
            }
            (None, None) => Ok(builder.with_no_client_auth()),
            _ => Err(tls(
                "client cert and key must both be given (cert_file and key_file, or cert and key)"
                    .into(),
            )),
        }
    }

    /// The versions between `min_version` and `max_version` that rustls
    /// speaks (Prometheus' default minimum is TLS 1.2).
    fn versions(&self) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, Error> {
        let min = self.min_version.unwrap_or(TlsVersion::Tls12);
        let max = self.max_version.unwrap_or(TlsVersion::Tls13);
        let versions: Vec<_> = [
            (TlsVersion::Tls12, &rustls::version::TLS12),
            (TlsVersion::Tls13, &rustls::version::TLS13),
        ]
        .into_iter()
        .filter(|(v, _)| (min..=max).contains(v))
        .map(|(_, v)| v)
        .collect();
        if versions.is_empty() {
            return Err(Error::Tls(format!(
                "no TLS version between min_version {} and max_version {} is available: \
                 only TLS 1.2 and 1.3 are supported; raise max_version to TLS12 or TLS13",
                min.name(),
                max.name()
            )));
        }
        Ok(versions)
    }
}

/// `insecure_skip_verify`: any certificate is accepted; the handshake's
/// signatures are still checked.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
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
        cert: &CertificateDer<'_>,
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
