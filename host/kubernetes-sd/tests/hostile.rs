//! An API server that misbehaves: garbage, huge objects, silence. No
//! panic, errors retried, the targets already found kept, and a discovery
//! that stops when asked.

mod common;

use std::time::{Duration, Instant};

use common::{Collector, Fake, Mode};
use serde_json::{Value, json};

fn pod(name: &str, ip: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "main", "image": "app:1", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]},
        "status": {"phase": "Running", "podIP": ip}
    })
}

#[tokio::test]
async fn malformed_answers_keep_the_last_targets_and_recover() {
    let fake = Fake::start().await;
    fake.put(pod("a", "10.0.0.1"));
    let mut c = Collector::start(&fake, "role: pod\n").await;
    c.until("pod a", |g| g.contains_key("pod/default/a")).await;

    fake.set_mode("pods", Mode::Malformed);
    fake.drop_watches();
    let seen = c.drain(Duration::from_secs(3)).await;
    assert!(seen.is_empty(), "garbage changed the groups: {seen:?}");
    assert!(c.groups.contains_key("pod/default/a"));
    // It kept asking (with back-off), and recovers once answers are good.
    let asked = fake.requests().len();
    assert!(asked >= 3, "{asked} requests");
    fake.set_mode("pods", Mode::Normal);
    fake.put(pod("b", "10.0.0.2"));
    c.until("pod b after the server recovered", |g| {
        g.contains_key("pod/default/b") && g.contains_key("pod/default/a")
    })
    .await;
}

#[tokio::test]
async fn malformed_objects_in_a_list_are_an_error_not_a_panic() {
    let fake = Fake::start().await;
    // Wrong types where Kubernetes has numbers and lists.
    fake.put(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "bad", "namespace": "default"},
        "spec": {"containers": "not a list"},
        "status": {"podIP": 17}
    }));
    let mut c = Collector::start(&fake, "role: pod\n").await;
    let seen = c.drain(Duration::from_secs(2)).await;
    assert!(seen.is_empty(), "{seen:?}");
    // Replacing the bad object lets the list through.
    fake.delete("Pod", "default", "bad");
    fake.put(pod("good", "10.0.0.3"));
    c.until("the good pod", |g| g.contains_key("pod/default/good"))
        .await;
}

#[tokio::test]
async fn huge_objects_are_handled() {
    let fake = Fake::start().await;
    let containers: Vec<Value> = (0..2000)
        .map(|i| {
            json!({"name": format!("c{i}"), "image": "app:1", "ports": [{"name": format!("p{i}"), "containerPort": 10000 + i, "protocol": "TCP"}]})
        })
        .collect();
    let annotation = "x".repeat(1 << 20);
    fake.put(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "big", "namespace": "default", "annotations": {"big": annotation}},
        "spec": {"containers": containers},
        "status": {"phase": "Running", "podIP": "10.0.0.1"}
    }));
    for i in 0..500 {
        fake.put(pod(
            &format!("p{i}"),
            &format!("10.1.{}.{}", i / 250, i % 250),
        ));
    }
    let mut c = Collector::start(&fake, "role: pod\n").await;
    c.until("all pods", |g| g.len() == 501).await;
    let big = &c.groups["pod/default/big"];
    assert_eq!(big.targets.len(), 2000);
    assert_eq!(
        big.labels["__meta_kubernetes_pod_annotation_big"].len(),
        1 << 20
    );
    assert_eq!(big.targets[1999]["__address__"], "10.0.0.1:11999");
}

#[tokio::test]
async fn a_silent_server_sends_nothing_and_the_discovery_stops_when_asked() {
    let fake = Fake::start().await;
    fake.put(pod("a", "10.0.0.1"));
    fake.set_mode("pods", Mode::Hang);
    let config = common::sd_config(&format!("api_server: {}\nrole: pod\n", fake.url()));
    let discovery =
        wasmetheus_kubernetes_sd::KubernetesDiscovery::new(&config, std::path::Path::new("/"))
            .await
            .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let task = tokio::spawn(discovery.run(tx));
    assert!(
        tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .is_err(),
        "something was sent by a server that never answered"
    );
    assert!(!fake.requests().is_empty());
    // Dropping the receiver ends the discovery, though the list hangs.
    let started = Instant::now();
    drop(rx);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the discovery did not stop")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn an_absent_server_sends_nothing() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let config = common::sd_config(&format!("api_server: http://{addr}\nrole: node\n"));
    let discovery =
        wasmetheus_kubernetes_sd::KubernetesDiscovery::new(&config, std::path::Path::new("/"))
            .await
            .unwrap();
    let mut c = Collector::run(discovery);
    let seen = c.drain(Duration::from_secs(2)).await;
    assert!(seen.is_empty());
}

#[tokio::test]
async fn a_list_that_never_ends_is_cut_at_the_response_cap() {
    let fake = Fake::start().await;
    fake.set_mode("pods", Mode::Endless);
    let config = common::sd_config(&format!("api_server: {}\nrole: pod\n", fake.url()));
    let discovery =
        wasmetheus_kubernetes_sd::KubernetesDiscovery::new(&config, std::path::Path::new("/"))
            .await
            .unwrap()
            .with_max_response_bytes(1 << 20)
            .unwrap();
    let mut c = Collector::run(discovery);
    assert!(c.drain(Duration::from_secs(3)).await.is_empty());
    // Each endless answer was given up on and the list asked again.
    let asked = fake.requests().len();
    assert!(asked >= 2, "{asked} requests");
    fake.set_mode("pods", Mode::Normal);
    fake.put(pod("a", "10.0.0.1"));
    c.until("pod a once the server behaves", |g| {
        g.contains_key("pod/default/a")
    })
    .await;
}
