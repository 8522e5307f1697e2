//! TLS for `STARTTLS` and implicit TLS (port 465, `force_implicit_tls`):
//! rustls with the pure-Rust RustCrypto provider (the guest has no C
//! crypto), configured from the email config's `tls_config` as Prometheus'
//! `common/config.NewTLSConfig` reads it: `ca` (PEM; Mozilla's roots from
//! `webpki-roots` when empty, the sandbox having no system store),
//! `cert`/`key` for a client certificate, `server_name` (the smarthost's
//! host by default), `insecure_skip_verify`, `min_version`/`max_version`
//! (TLS 1.2 and 1.3; rustls has no older version). `*_file` settings are
//! read by the host into `ca`, `cert` and `key`; one left unread is read
//! here, which works only where the sandbox grants its path.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};
use serde::Deserialize;
use std::io::{Read, Write};
use std::sync::Arc;

/// `tls_config` as the host passes it (Prometheus common's `TLSConfig`).
#[derive(Clone, Default, Deserialize)]
#[serde(default)]
pub struct TlsConfig {
    pub ca: String,
    pub cert: String,
    pub key: String,
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub server_name: Option<String>,
    pub insecure_skip_verify: bool,
    pub min_version: Option<String>,
    pub max_version: Option<String>,
}

/// What a TLS connection to the smarthost is made with.
#[derive(Clone)]
pub struct Tls {
    pub config: Arc<ClientConfig>,
    pub server_name: ServerName<'static>,
}

/// A TLS stream over `S`.
pub type TlsStream<S> = StreamOwned<ClientConnection, S>;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls_rustcrypto::provider())
}

/// The PEM text of a setting, or of its file when the host left it unread.
fn pem(inline: &str, file: &Option<String>, what: &str) -> Result<String, String> {
    if !inline.is_empty() {
        return Ok(inline.to_owned());
    }
    match file.as_deref().filter(|f| !f.is_empty()) {
        None => Ok(String::new()),
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            format!(
                "unable to read {what} file {path}: {e} (the host passes its contents as {what})"
            )
        }),
    }
}

fn version(name: &Option<String>) -> Result<Option<u16>, String> {
    match name.as_deref().unwrap_or("") {
        "" => Ok(None),
        "TLS10" | "TLS11" | "TLS12" => Ok(Some(12)),
        "TLS13" => Ok(Some(13)),
        other => Err(format!("unknown TLS version: {other}")),
    }
}

/// Accepts any server certificate (`insecure_skip_verify`), still
/// checking the handshake's signatures.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
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
            &self.0.signature_verification_algorithms,
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
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

impl TlsConfig {
    /// The client configuration for the smarthost `host`.
    pub fn build(&self, host: &str) -> Result<Tls, String> {
        let provider = provider();
        let min = version(&self.min_version)?.unwrap_or(12);
        let max = version(&self.max_version)?.unwrap_or(13);
        let versions: Vec<&'static rustls::SupportedProtocolVersion> =
            [(12, &rustls::version::TLS12), (13, &rustls::version::TLS13)]
                .into_iter()
                .filter(|(v, _)| (min..=max).contains(v))
                .map(|(_, v)| v)
                .collect();
        if versions.is_empty() {
            return Err("min_version is above max_version".into());
        }
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&versions)
            .map_err(|e| e.to_string())?;
        let builder = if self.insecure_skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
        } else {
            let mut roots = rustls::RootCertStore::empty();
            let ca = pem(&self.ca, &self.ca_file, "ca")?;
            if ca.is_empty() {
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            } else {
                let mut added = 0;
                for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                    let cert =
                        cert.map_err(|e| format!("unable to parse the CA certificate: {e}"))?;
                    roots
                        .add(cert)
                        .map_err(|e| format!("unable to use the CA certificate: {e}"))?;
                    added += 1;
                }
                if added == 0 {
                    return Err("unable to use specified CA cert: no certificate in it".into());
                }
            }
            builder.with_root_certificates(roots)
        };
        let cert = pem(&self.cert, &self.cert_file, "cert")?;
        let key = pem(&self.key, &self.key_file, "key")?;
        let config = match (cert.is_empty(), key.is_empty()) {
            (true, true) => builder.with_no_client_auth(),
            (false, false) => {
                let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("unable to parse the client certificate: {e}"))?;
                // The key's parse error never quotes the key.
                let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
                    .map_err(|_| "unable to parse the client key".to_owned())?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| format!("unable to use the client certificate: {e}"))?
            }
            (false, true) => return Err("client cert specified without client key".into()),
            (true, false) => return Err("client key specified without client cert".into()),
        };
        let name = self
            .server_name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| host.to_owned());
        let server_name = ServerName::try_from(name.clone())
            .map_err(|e| format!("invalid server name {name:?}: {e}"))?;
        Ok(Tls {
            config: Arc::new(config),
            server_name,
        })
    }
}

impl Tls {
    /// Runs the handshake over `stream`.
    pub fn connect<S: Read + Write>(&self, stream: S) -> Result<TlsStream<S>, String> {
        let conn = ClientConnection::new(Arc::clone(&self.config), self.server_name.clone())
            .map_err(|e| e.to_string())?;
        let mut tls = StreamOwned::new(conn, stream);
        while tls.conn.is_handshaking() {
            tls.conn
                .complete_io(&mut tls.sock)
                .map_err(|e| format!("TLS handshake: {e}"))?;
        }
        Ok(tls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_checked() {
        let ok = TlsConfig::default().build("mail.example.com").unwrap();
        assert_eq!(
            ok.server_name,
            ServerName::try_from("mail.example.com").unwrap()
        );
        let ip = TlsConfig::default().build("127.0.0.1").unwrap();
        assert!(matches!(ip.server_name, ServerName::IpAddress(_)));
        let cases = [
            (
                TlsConfig {
                    ca: "not pem".into(),
                    ..TlsConfig::default()
                },
                "no certificate",
            ),
            (
                TlsConfig {
                    min_version: Some("TLS13".into()),
                    max_version: Some("TLS12".into()),
                    ..TlsConfig::default()
                },
                "min_version is above max_version",
            ),
            (
                TlsConfig {
                    min_version: Some("SSL3".into()),
                    ..TlsConfig::default()
                },
                "unknown TLS version: SSL3",
            ),
            (
                TlsConfig {
                    cert: "x".into(),
                    ..TlsConfig::default()
                },
                "client cert specified without client key",
            ),
            (
                TlsConfig {
                    ca_file: Some("/nonexistent/ca.pem".into()),
                    ..TlsConfig::default()
                },
                "unable to read ca file /nonexistent/ca.pem",
            ),
            (
                TlsConfig {
                    cert: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into(),
                    key:
                        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleQ==\n-----END PRIVATE KEY-----\n"
                            .into(),
                    ..TlsConfig::default()
                },
                "unable to",
            ),
        ];
        for (config, want) in cases {
            let e = config.build("h").err().unwrap_or_default();
            assert!(e.contains(want), "{e}");
            assert!(!e.contains("c2VjcmV0LWtleQ"), "{e}");
        }
        assert!(
            TlsConfig {
                insecure_skip_verify: true,
                ..TlsConfig::default()
            }
            .build("h")
            .is_ok()
        );
    }
}
