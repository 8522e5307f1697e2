//! With no `ca_file`, an `https` Alertmanager is verified against the
//! system's trust store, as Go's `x509.SystemCertPool` does: here a store
//! named by `SSL_CERT_FILE` holding the test CA (its own test binary: the
//! store is read once per process).

mod common;

use common::pki::Pki;
use common::{Answer, alerts, config, serve_with};
use wasmetheus_notifier::{Manager, Options};

#[tokio::test]
async fn the_system_trust_store_verifies_the_server() {
    let pki = Pki::new();
    // SAFETY: the only test of this binary; no other thread reads the
    // environment yet.
    unsafe { std::env::set_var("SSL_CERT_FILE", pki.path("ca.pem")) };
    let am = serve_with(Answer::Status(200), Some(pki.server(false))).await;
    let yaml = format!(
        "alerting:\n  alertmanagers:\n    - scheme: https\n      timeout: 5s\n      static_configs: [{{targets: ['{}']}}]\n",
        am.address()
    );
    let manager = Manager::new(Options::default());
    manager.apply_config(&config(&yaml)).unwrap();
    manager.run();
    manager.send(&alerts(2));
    assert_eq!(am.wait_for(1).await[0].alerts().len(), 2);
    manager.stop().await;
}
