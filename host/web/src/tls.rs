//! A rustls server configuration from `tls_server_config`, following the
//! exporter toolkit's `ConfigToTLSConfig`: the certificate and key (files
//! or inline PEM) must load and match; `client_auth_type` and the client
//! CAs for mutual TLS; `client_allowed_sans`; versions, cipher suites and
//! curves mapped onto what rustls implements.
//!
//! What rustls does not implement is said plainly: TLS 1.0 and 1.1 (a
//! `min_version` below 1.2 serves 1.2 and up; a `max_version` below 1.2 is
//! an error), the CBC and RSA key-exchange suites and the P-521 curve (left
//! out of the handshake, with a warning; an error if nothing is left).

use crate::WebConfigError;
use crate::config::{Curve, GO_CIPHER_SUITES, TlsServerConfig, TlsVersion};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use std::sync::Arc;

/// The files and inline values a TLS configuration is built from, read
/// once, so that a rebuilt configuration can be skipped when none changed.
#[derive(Clone, PartialEq, Eq)]
pub struct Material {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
}

/// The private key is never shown.
impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Material")
            .field("cert_bytes", &self.cert.len())
            .field("key", &"<secret>")
            .field("client_ca_bytes", &self.client_ca.as_ref().map(Vec::len))
            .finish()
    }
}

impl Drop for Material {
    fn drop(&mut self) {
        // The private key does not linger in freed memory.
        self.key.iter_mut().for_each(|b| *b = 0);
    }
}

/// A built configuration and what it could not honour.
#[derive(Debug)]
pub struct Built {
    pub config: Arc<rustls::ServerConfig>,
    pub warnings: Vec<String>,
}

/// Reads the certificate, key and client CA (`validateTLSPaths` and the
/// reads of `ConfigToTLSConfig`, with the toolkit's messages).
pub fn read_material(tls: &TlsServerConfig) -> Result<Material, WebConfigError> {
    let invalid = |message: String| WebConfigError::Invalid(message);
    if tls.cert_file.as_os_str().is_empty() && tls.cert.is_empty() {
        return Err(invalid("missing one of cert or cert_file".to_owned()));
    }
    if tls.key_file.as_os_str().is_empty() && tls.key.is_empty() {
        return Err(invalid("missing one of key or key_file".to_owned()));
    }
    let read = |what: &str, path: &std::path::Path| {
        std::fs::read(path).map_err(|e| {
            invalid(format!(
                "failed to read {what} ({}): open {}: {}",
                path.display(),
                path.display(),
                crate::go_io_error(&e)
            ))
        })
    };
    let cert = if tls.cert_file.as_os_str().is_empty() {
        tls.cert.as_bytes().to_vec()
    } else {
        read("cert_file", &tls.cert_file)?
    };
    let key = if tls.key_file.as_os_str().is_empty() {
        tls.key.expose().as_bytes().to_vec()
    } else {
        read("key_file", &tls.key_file)?
    };
    let client_ca = if !tls.client_ca_file.as_os_str().is_empty() {
        Some(std::fs::read(&tls.client_ca_file).map_err(|e| {
            invalid(format!(
                "open {}: {}",
                tls.client_ca_file.display(),
                crate::go_io_error(&e)
            ))
        })?)
    } else if !tls.client_ca.is_empty() {
        Some(tls.client_ca.as_bytes().to_vec())
    } else {
        None
    };
    Ok(Material {
        cert,
        key,
        client_ca,
    })
}

/// Reads the files of `tls` and builds the server configuration;
/// `http2` offers HTTP/2 by ALPN.
pub fn build(tls: &TlsServerConfig, http2: bool) -> Result<Built, WebConfigError> {
    let material = read_material(tls)?;
    build_from(tls, &material, http2)
}

/// Builds the server configuration from material already read.
pub fn build_from(
    tls: &TlsServerConfig,
    material: &Material,
    http2: bool,
) -> Result<Built, WebConfigError> {
    let invalid = |message: String| WebConfigError::Invalid(message);
    let mut warnings = Vec::new();
    let (certs, key) = key_pair(material)?;

    let mut provider = rustls::crypto::ring::default_provider();
    if !tls.cipher_suites.is_empty() {
        let mut tls12 = Vec::new();
        for cipher in &tls.cipher_suites {
            // TLS 1.3's suites are not configurable (as in Go).
            if cipher.0.starts_with("TLS_AES_") || cipher.0.starts_with("TLS_CHACHA20_") {
                continue;
            }
            let implemented = GO_CIPHER_SUITES
                .iter()
                .any(|(name, ok)| *name == cipher.0 && *ok);
            match provider
                .cipher_suites
                .iter()
                .find(|s| s.suite().as_str() == Some(cipher.0.as_str()))
            {
                Some(suite) if implemented => {
                    if !tls12.contains(suite) {
                        tls12.push(*suite)
                    }
                }
                _ => warnings.push(format!(
                    "cipher suite {} is not implemented by wasmetheus' TLS library (rustls: \
                     ECDHE with AES-GCM or ChaCha20-Poly1305 only); it is not offered",
                    cipher.0
                )),
            }
        }
        if tls12.is_empty() && tls.min_version <= TlsVersion::Tls12 {
            if tls.max_version < TlsVersion::Tls13 {
                return Err(invalid(
                    "none of cipher_suites can be served: list one of the ECDHE AES-GCM or \
                     ChaCha20-Poly1305 suites, or allow TLS 1.3"
                        .to_owned(),
                ));
            }
            warnings.push(
                "none of cipher_suites is a TLS 1.2 suite wasmetheus implements: only TLS 1.3 \
                 is served"
                    .to_owned(),
            );
        }
        let tls13: Vec<_> = provider
            .cipher_suites
            .iter()
            .filter(|s| matches!(s, rustls::SupportedCipherSuite::Tls13(_)))
            .copied()
            .collect();
        provider.cipher_suites = tls12.into_iter().chain(tls13).collect();
    }
    if !tls.curve_preferences.is_empty() {
        let mut groups = Vec::new();
        for curve in &tls.curve_preferences {
            let wanted = match curve {
                Curve::P256 => rustls::NamedGroup::secp256r1,
                Curve::P384 => rustls::NamedGroup::secp384r1,
                Curve::P521 => rustls::NamedGroup::secp521r1,
                Curve::X25519 => rustls::NamedGroup::X25519,
            };
            match provider.kx_groups.iter().find(|g| g.name() == wanted) {
                Some(group) => groups.push(*group),
                None => warnings.push(format!(
                    "curve {} is not implemented by wasmetheus' TLS library; it is not offered",
                    curve.name()
                )),
            }
        }
        if groups.is_empty() {
            return Err(invalid(
                "none of curve_preferences is implemented by wasmetheus' TLS library: list \
                 X25519, CurveP256 or CurveP384"
                    .to_owned(),
            ));
        }
        provider.kx_groups = groups;
    }

    if tls.max_version < TlsVersion::Tls12 {
        return Err(invalid(format!(
            "max_version {} is not supported: wasmetheus serves TLS 1.2 and 1.3 only",
            tls.max_version.name()
        )));
    }
    if tls.min_version > tls.max_version {
        return Err(invalid(format!(
            "min_version {} is above max_version {}: no TLS version is left to serve",
            tls.min_version.name(),
            tls.max_version.name()
        )));
    }
    if tls.min_version < TlsVersion::Tls12 {
        warnings.push(format!(
            "min_version {}: wasmetheus serves TLS 1.2 and 1.3 only",
            tls.min_version.name()
        ));
    }
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    if tls.min_version <= TlsVersion::Tls12 {
        versions.push(&rustls::version::TLS12);
    }
    if tls.max_version >= TlsVersion::Tls13 {
        versions.push(&rustls::version::TLS13);
    }

    let provider = Arc::new(provider);
    let verifier = client_verifier(tls, material, &provider)?;
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| invalid(format!("TLS settings cannot be served: {e}")))?;
    let builder = match verifier {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => invalid(
            "failed to load X509KeyPair: tls: private key does not match public key".to_owned(),
        ),
        other => invalid(format!(
            "failed to load X509KeyPair: tls: failed to parse private key ({other})"
        )),
    })?;
    config.ignore_client_order = tls.prefer_server_cipher_suites;
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(Built {
        config: Arc::new(config),
        warnings,
    })
}

/// The certificate chain and key, with Go's `X509KeyPair` messages.
fn key_pair(
    material: &Material,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), WebConfigError> {
    let fail = |message: &str| {
        WebConfigError::Invalid(format!("failed to load X509KeyPair: tls: {message}"))
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&material.cert)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(fail("failed to find any PEM data in certificate input"));
    }
    let key = PrivateKeyDer::from_pem_slice(&material.key).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => {
            fail("failed to find any PEM data in key input")
        }
        _ => fail("failed to parse private key"),
    })?;
    Ok((certs, key))
}

/// The client certificate policy of `client_auth_type`, with the client
/// CAs and `client_allowed_sans`; `None`: none asked for.
fn client_verifier(
    tls: &TlsServerConfig,
    material: &Material,
    provider: &Arc<CryptoProvider>,
) -> Result<Option<Arc<dyn ClientCertVerifier>>, WebConfigError> {
    let invalid = |message: String| WebConfigError::Invalid(message);
    enum Policy {
        None,
        Any { mandatory: bool },
        Verify { mandatory: bool },
    }
    let policy = match tls.client_auth_type.as_str() {
        "" | "NoClientCert" => Policy::None,
        "RequestClientCert" => Policy::Any { mandatory: false },
        "RequireAnyClientCert" | "RequireClientCert" => Policy::Any { mandatory: true },
        "VerifyClientCertIfGiven" => Policy::Verify { mandatory: false },
        "RequireAndVerifyClientCert" => Policy::Verify { mandatory: true },
        other => return Err(invalid(format!("invalid ClientAuth: {other}"))),
    };
    if material.client_ca.is_some() && matches!(policy, Policy::None) {
        return Err(invalid(
            "client CA's have been configured without a Client Auth Policy".to_owned(),
        ));
    }
    if tls.client_allowed_sans.is_some()
        && !matches!(
            policy,
            Policy::Any { mandatory: true } | Policy::Verify { mandatory: true }
        )
    {
        return Err(invalid(
            "client_allowed_sans requires client_auth_type to be one of RequireAnyClientCert \
             or RequireAndVerifyClientCert"
                .to_owned(),
        ));
    }
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = &material.client_ca {
        // As Go's AppendCertsFromPEM: what does not parse is skipped.
        for cert in CertificateDer::pem_slice_iter(pem).filter_map(Result::ok) {
            let _ = roots.add(cert);
        }
    }
    let verifier: Arc<dyn ClientCertVerifier> = match policy {
        Policy::None => return Ok(None),
        Policy::Any { mandatory } => Arc::new(AnyClientCert {
            mandatory,
            hints: roots.subjects(),
            provider: Arc::clone(provider),
        }),
        Policy::Verify { mandatory } => {
            if roots.is_empty() {
                return Err(invalid(format!(
                    "client_auth_type {} verifies client certificates against client_ca_file or \
                     client_ca, {}",
                    tls.client_auth_type,
                    if material.client_ca.is_some() {
                        "which holds no PEM certificate"
                    } else {
                        "and neither is set"
                    }
                )));
            }
            let builder = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                Arc::clone(provider),
            );
            let builder = if mandatory {
                builder
            } else {
                builder.allow_unauthenticated()
            };
            builder
                .build()
                .map_err(|e| invalid(format!("client certificate verification: {e}")))?
        }
    };
    Ok(Some(match &tls.client_allowed_sans {
        Some(allowed) => Arc::new(AllowedSans {
            inner: verifier,
            allowed: allowed.clone(),
        }),
        None => verifier,
    }))
}

/// `RequestClientCert` and `RequireAnyClientCert`: a client certificate
/// is asked for (and, for the latter, required) but not checked against
/// any CA; the client must still prove it holds the certificate's key.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    hints: Vec<DistinguishedName>,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `client_allowed_sans`: after the policy's own checks, the client
/// certificate must carry one of the allowed names among its DNS, e-mail,
/// IP or URI subject alternative names.
#[derive(Debug)]
struct AllowedSans {
    inner: Arc<dyn ClientCertVerifier>,
    allowed: Vec<String>,
}

impl ClientCertVerifier for AllowedSans {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let names = subject_alt_names(end_entity).map_err(|e| {
            rustls::Error::General(format!("error parsing client certificate: {e}"))
        })?;
        if names.iter().any(|name| self.allowed.contains(name)) {
            Ok(verified)
        } else {
            Err(rustls::Error::General(format!(
                "could not find allowed SANs in client cert, found: [{}]",
                self.allowed.join(" ")
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A certificate's DNS, e-mail, IP and URI subject alternative names, as
/// Go prints them.
pub fn subject_alt_names(der: &[u8]) -> Result<Vec<String>, String> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| e.to_string())?;
    let Some(san) = cert.subject_alternative_name().map_err(|e| e.to_string())? else {
        return Ok(Vec::new());
    };
    Ok(san
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => {
                Some((*s).to_owned())
            }
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => Some(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*bytes).ok()?).to_string()),
                16 => {
                    let ip = std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*bytes).ok()?);
                    // Go prints an IPv4-mapped address as IPv4.
                    Some(match ip.to_ipv4_mapped() {
                        Some(v4) => v4.to_string(),
                        None => ip.to_string(),
                    })
                }
                _ => None,
            },
            _ => None,
        })
        .collect())
}
