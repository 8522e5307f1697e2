//! How the discovery reaches the API server: kubeconfig files, in-cluster
//! service accounts, `api_server` with basic auth or authorization, and
//! the errors that tell what is missing.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Collector, Fake, sd_config};
use wasmetheus_kubernetes_sd::{Error, InCluster, KubernetesDiscovery};

async fn authorization_seen(fake: &Fake) -> Vec<Option<String>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let seen: Vec<Option<String>> = fake.requests().into_iter().map(|(_, a)| a).collect();
        if !seen.is_empty() || tokio::time::Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn kubeconfig_file_relative_to_the_config_directory() {
    let fake = Fake::start().await;
    fake.put_fixture("nodes.json");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("kubeconfig"),
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: tester\ncurrent-context: test\nusers:\n- name: tester\n  user:\n    token: kc-token-123\n",
            fake.url()
        ),
    )
    .unwrap();
    let config = sd_config("role: node\nkubeconfig_file: kubeconfig\n");
    let discovery = KubernetesDiscovery::new(&config, dir.path()).await.unwrap();
    let mut c = Collector::run(discovery);
    c.until("the nodes", |g| g.len() == 2).await;
    let seen = authorization_seen(&fake).await;
    assert!(
        seen.iter()
            .all(|a| a.as_deref() == Some("Bearer kc-token-123")),
        "{seen:?}"
    );
}

#[tokio::test]
async fn missing_kubeconfig_file_is_named() {
    let config = sd_config("role: node\nkubeconfig_file: nowhere/kubeconfig\n");
    let err = KubernetesDiscovery::new(&config, Path::new("/tmp/k8s-sd-test-none"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Kubeconfig { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("/tmp/k8s-sd-test-none/nowhere/kubeconfig"),
        "{err}"
    );
}

#[tokio::test]
async fn basic_auth_with_a_password_file() {
    let fake = Fake::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("password"), "s3cret\n").unwrap();
    let config = sd_config(&format!(
        "role: pod\napi_server: {}\nbasic_auth:\n  username: prom\n  password_file: password\n",
        fake.url()
    ));
    let discovery = KubernetesDiscovery::new(&config, dir.path()).await.unwrap();
    let _c = Collector::run(discovery);
    let seen = authorization_seen(&fake).await;
    // base64("prom:s3cret")
    assert_eq!(seen[0].as_deref(), Some("Basic cHJvbTpzM2NyZXQ="));
}

#[tokio::test]
async fn bearer_credentials_file_and_custom_types() {
    let fake = Fake::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "file-token\n").unwrap();
    let config = sd_config(&format!(
        "role: pod\napi_server: {}\nauthorization:\n  credentials_file: token\n",
        fake.url()
    ));
    let _c = Collector::run(KubernetesDiscovery::new(&config, dir.path()).await.unwrap());
    assert_eq!(
        authorization_seen(&fake).await[0].as_deref(),
        Some("Bearer file-token")
    );

    let fake = Fake::start().await;
    let config = sd_config(&format!(
        "role: pod\napi_server: {}\nauthorization:\n  type: Token\n  credentials: abc\n",
        fake.url()
    ));
    let _c = Collector::run(KubernetesDiscovery::new(&config, dir.path()).await.unwrap());
    assert_eq!(
        authorization_seen(&fake).await[0].as_deref(),
        Some("Token abc")
    );

    // The deprecated bearer_token ends up as the same header.
    let fake = Fake::start().await;
    let config = sd_config(&format!(
        "role: pod\napi_server: {}\nbearer_token: legacy\n",
        fake.url()
    ));
    let _c = Collector::run(KubernetesDiscovery::new(&config, dir.path()).await.unwrap());
    assert_eq!(
        authorization_seen(&fake).await[0].as_deref(),
        Some("Bearer legacy")
    );
}

#[tokio::test]
async fn unsupported_settings_are_refused_with_a_reason() {
    let config = sd_config(
        "role: pod\napi_server: https://k8s.example:6443\noauth2:\n  client_id: id\n  client_secret: s\n  token_url: https://auth.example/token\n",
    );
    let err = KubernetesDiscovery::new(&config, Path::new("/"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("oauth2 is not supported"), "{err}");
    for (settings, reason) in [
        ("proxy_url: http://proxy:3128\n", "a proxy"),
        ("tls_config:\n  min_version: TLS13\n", "min_version TLS13"),
        (
            "tls_config:\n  max_version: TLS12\n",
            "max_version below TLS13",
        ),
        (
            "authorization:\n  credentials_ref: k8s-token\n",
            "secret reference",
        ),
    ] {
        let config = sd_config(&format!(
            "role: pod\napi_server: https://k8s.example:6443\n{settings}"
        ));
        let err = KubernetesDiscovery::new(&config, Path::new("/"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unsupported(_)), "{settings}: {err:?}");
        assert!(err.to_string().contains(reason), "{settings}: {err}");
    }
    let config = sd_config("role: pod\napi_server: k8s.example:6443\n");
    let err = KubernetesDiscovery::new(&config, Path::new("/"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid api_server URL"), "{err}");
}

fn service_account(token: &str, namespace: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), token).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ca.crt"),
        dir.path().join("ca.crt"),
    )
    .unwrap();
    if let Some(ns) = namespace {
        std::fs::write(dir.path().join("namespace"), ns).unwrap();
    }
    dir
}

#[tokio::test]
async fn in_cluster_needs_the_service_environment() {
    let config = sd_config("role: pod\n");
    let dir = service_account("t", None);
    let env = InCluster {
        dir: dir.path().to_owned(),
        host: None,
        port: None,
    };
    let err = KubernetesDiscovery::with_in_cluster(&config, Path::new("/"), &env)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotInCluster), "{err:?}");
    assert!(
        err.to_string()
            .contains("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined"),
        "{err}"
    );
}

#[tokio::test]
async fn in_cluster_reads_token_ca_and_own_namespace() {
    let config = sd_config("role: pod\nnamespaces:\n  own_namespace: true\n  names: [shared]\n");
    let dir = service_account("sa-token", Some("monitoring\n"));
    let env = InCluster {
        dir: dir.path().to_owned(),
        host: Some("10.96.0.1".into()),
        port: Some("443".into()),
    };
    let discovery = KubernetesDiscovery::with_in_cluster(&config, Path::new("/"), &env)
        .await
        .unwrap();
    let shown = format!("{discovery:?}");
    assert!(shown.contains("[\"shared\", \"monitoring\"]"), "{shown}");

    // No token: the path is named.
    std::fs::remove_file(dir.path().join("token")).unwrap();
    let err = KubernetesDiscovery::with_in_cluster(&config, Path::new("/"), &env)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("service account token")
            && err
                .to_string()
                .contains(&*dir.path().join("token").to_string_lossy()),
        "{err}"
    );

    // An empty namespace file.
    let dir = service_account("sa-token", Some(""));
    let env = InCluster {
        dir: dir.path().to_owned(),
        ..env
    };
    let err = KubernetesDiscovery::with_in_cluster(&config, Path::new("/"), &env)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::EmptyNamespace(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("could not read own namespace name (empty file"),
        "{err}"
    );
}
