//! `https` Alertmanagers: a CA made with the `openssl` command for each
//! test; the server certificate is verified against `ca_file` (for the
//! target's IP address or `server_name`), refused without it, accepted
//! with `insecure_skip_verify`, and a client certificate is presented for
//! mutual TLS.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use common::{Answer, alerts, config, metric, serve_with};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use wasmetheus_notifier::{Manager, Options};

/// A CA, a server certificate for `alertmanager.test` and 127.0.0.1, and
/// a client certificate, in a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki { dir };
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(pki.dir.path())
                .output()
                .expect("the openssl command");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        run(&[
            &[
                "req",
                "-x509",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=Test CA",
            ][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.pem"],
        ]
        .concat());
        for (name, usage, san) in [
            (
                "server",
                "serverAuth",
                "subjectAltName=DNS:alertmanager.test,IP:127.0.0.1",
            ),
            ("client", "clientAuth", "subjectAltName=DNS:client.test"),
        ] {
            std::fs::write(
                pki.path(&format!("{name}.ext")),
                format!("{san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage={usage}\n"),
            )
            .unwrap();
            run(&[
                &["req", "-nodes", "-subj", &format!("/CN={name}")][..],
                &ec,
                &[
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.csr"),
                ],
            ]
            .concat());
            run(&[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
                "-out",
                &format!("{name}.pem"),
            ]);
        }
        pki
    }

    /// The server's TLS settings; client certificates from the CA
    /// required when `mutual`.
    fn server(&self, mutual: bool) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(self.path("server.pem"))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
        let key = PrivateKeyDer::from_pem_file(self.path("server.key")).unwrap();
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if mutual {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(self.path("ca.pem")).unwrap() {
                roots.add(cert.unwrap()).unwrap();
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        Arc::new(builder.with_single_cert(chain, key).unwrap())
    }
}

fn file(path: &Path) -> String {
    path.display().to_string()
}

/// A running manager with one `alertmanagers` entry: `https`, `target`,
/// and `tls` as its `tls_config` (YAML flow mapping).
fn https_manager(target: &str, tls: &str) -> Manager {
    let yaml = format!(
        "alerting:\n  alertmanagers:\n    - scheme: https\n      timeout: 5s\n      tls_config: {tls}\n      static_configs: [{{targets: ['{target}']}}]\n"
    );
    let manager = Manager::new(Options::default());
    manager.apply_config(&config(&yaml)).unwrap();
    manager.run();
    manager
}

#[tokio::test]
async fn the_server_is_verified_against_the_configured_ca() {
    let pki = Pki::new();
    let am = serve_with(Answer::Status(200), Some(pki.server(false))).await;
    let ca = file(&pki.path("ca.pem"));
    let manager = https_manager(&am.address(), &format!("{{ca_file: '{ca}'}}"));
    manager.send(&alerts(2));
    assert_eq!(am.wait_for(1).await[0].alerts().len(), 2);
    manager.stop().await;

    // By name: the certificate is for alertmanager.test, not `localhost`.
    let target = format!("localhost:{}", am.addr.port());
    let manager = https_manager(
        &target,
        &format!("{{ca_file: '{ca}', server_name: alertmanager.test}}"),
    );
    manager.send(&alerts(1));
    am.wait_for(2).await;
    manager.stop().await;
}

#[tokio::test]
async fn an_unknown_ca_is_refused_unless_verification_is_skipped() {
    let pki = Pki::new();
    let am = serve_with(Answer::Status(200), Some(pki.server(false))).await;
    let manager = https_manager(&am.address(), "{}");
    manager.send(&alerts(3));
    let url = format!("https://{}/api/v2/alerts", am.address());
    common::eventually("the handshake failure counted", || {
        metric(
            &manager.metrics(),
            "prometheus_notifications_errors_total",
            &url,
        ) == Some(3.0)
    })
    .await;
    assert!(am.requests().is_empty());
    manager.stop().await;

    let manager = https_manager(&am.address(), "{insecure_skip_verify: true}");
    manager.send(&alerts(1));
    am.wait_for(1).await;
    manager.stop().await;
}

#[tokio::test]
async fn a_client_certificate_is_presented() {
    let pki = Pki::new();
    let am = serve_with(Answer::Status(200), Some(pki.server(true))).await;
    let ca = file(&pki.path("ca.pem"));
    let url = format!("https://{}/api/v2/alerts", am.address());

    let without = https_manager(&am.address(), &format!("{{ca_file: '{ca}'}}"));
    without.send(&alerts(1));
    common::eventually("refused without a client certificate", || {
        metric(
            &without.metrics(),
            "prometheus_notifications_errors_total",
            &url,
        ) == Some(1.0)
    })
    .await;
    without.stop().await;
    assert!(am.requests().is_empty());

    let manager = https_manager(
        &am.address(),
        &format!(
            "{{ca_file: '{ca}', cert_file: '{}', key_file: '{}'}}",
            file(&pki.path("client.pem")),
            file(&pki.path("client.key"))
        ),
    );
    manager.send(&alerts(2));
    assert_eq!(am.wait_for(1).await[0].alerts().len(), 2);
    manager.stop().await;
}
