//! `https` Alertmanagers: a CA made with the `openssl` command for each
//! test; the server certificate is verified against `ca_file` (for the
//! target's IP address or `server_name`), refused without it, accepted
//! with `insecure_skip_verify`, and a client certificate is presented for
//! mutual TLS.

mod common;

use std::path::Path;

use common::pki::Pki;
use common::{Answer, alerts, config, metric, serve_with};
use wasmetheus_notifier::{Manager, Options};

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
