//! HTTPS API servers: the in-cluster service account end to end (token
//! and CA from the service account directory, the service host and port),
//! `api_server` with `tls_config`, and a server whose certificate the
//! configured CA did not sign.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{Collector, Fake, sd_config};
use wasmetheus_kubernetes_sd::{InCluster, KubernetesDiscovery};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`<name>-ca.crt`) and a server certificate for 127.0.0.1 it
/// signed (`<name>.crt`, `<name>.key`).
fn certificates(dir: &Path, name: &str) {
    let ca_key = format!("{name}-ca.key");
    let ca_crt = format!("{name}-ca.crt");
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    let crt = format!("{name}.crt");
    let ext = format!("{name}.ext");
    let subject = format!("/CN={name} test CA");
    openssl(
        dir,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", &ca_key, "-out", &ca_crt,
            "-days", "2", "-subj", &subject,
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join(&ext),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_crt,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            &ext,
        ],
    );
}

#[tokio::test]
async fn in_cluster_service_account_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path(), "api");
    let fake = Fake::start_tls(&dir.path().join("api.crt"), &dir.path().join("api.key")).await;
    fake.put_fixture("pods.json");

    let sa = tempfile::tempdir().unwrap();
    std::fs::write(sa.path().join("token"), "sa-token-abc").unwrap();
    std::fs::copy(dir.path().join("api-ca.crt"), sa.path().join("ca.crt")).unwrap();
    std::fs::write(sa.path().join("namespace"), "kube-system").unwrap();
    let env = InCluster {
        dir: sa.path().to_owned(),
        host: Some("127.0.0.1".into()),
        port: Some(fake.addr.port().to_string()),
    };
    let config = sd_config("role: pod\nnamespaces:\n  own_namespace: true\n");
    let discovery = KubernetesDiscovery::with_in_cluster(&config, Path::new("/"), &env)
        .await
        .unwrap();
    let mut c = Collector::run(discovery);
    // Only the pod's own namespace.
    c.until("the kube-system pod", |g| {
        g.contains_key("pod/kube-system/coredns-5d78c9869d-x2k9j")
    })
    .await;
    assert_eq!(c.groups.len(), 1, "{:?}", c.groups.keys());
    let requests = fake.requests();
    assert!(
        requests.iter().all(|(path, auth)| {
            path.starts_with("/api/v1/namespaces/kube-system/pods")
                && auth.as_deref() == Some("Bearer sa-token-abc")
        }),
        "{requests:?}"
    );
}

#[tokio::test]
async fn api_server_with_a_ca_file_and_a_wrong_ca() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path(), "api");
    certificates(dir.path(), "other");
    let fake = Fake::start_tls(&dir.path().join("api.crt"), &dir.path().join("api.key")).await;
    fake.put_fixture("nodes.json");

    let config = sd_config(&format!(
        "role: node\napi_server: {}\ntls_config:\n  ca_file: api-ca.crt\n",
        fake.url()
    ));
    let mut c = Collector::run(KubernetesDiscovery::new(&config, dir.path()).await.unwrap());
    c.until("the nodes over TLS", |g| g.len() == 2).await;

    // A CA that did not sign the server's certificate: no connection, no
    // targets, no panic.
    let fake = Fake::start_tls(&dir.path().join("api.crt"), &dir.path().join("api.key")).await;
    fake.put_fixture("nodes.json");
    let config = sd_config(&format!(
        "role: node\napi_server: {}\ntls_config:\n  ca_file: other-ca.crt\n",
        fake.url()
    ));
    let mut c = Collector::run(KubernetesDiscovery::new(&config, dir.path()).await.unwrap());
    assert!(c.drain(Duration::from_secs(2)).await.is_empty());
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());

    // insecure_skip_verify accepts it.
    let config = sd_config(&format!(
        "role: node\napi_server: {}\ntls_config:\n  insecure_skip_verify: true\n",
        fake.url()
    ));
    let mut c = Collector::run(KubernetesDiscovery::new(&config, dir.path()).await.unwrap());
    c.until("the nodes without verification", |g| g.len() == 2)
        .await;
}
