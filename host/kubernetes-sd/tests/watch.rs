//! Changes after the first list: watch events, related objects, namespace
//! and selector filtering, dropped watches and expired resource versions.

mod common;

use std::time::Duration;

use common::{Collector, Fake, Mode, fixture};
use serde_json::{Value, json};

fn pod(ns: &str, name: &str, ip: &str, app: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}"), "labels": {"app": app}},
        "spec": {"nodeName": "node-1", "containers": [{"name": "main", "image": "app:1", "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}]},
        "status": {"phase": "Running", "podIP": ip, "hostIP": "192.168.49.2", "conditions": [{"type": "Ready", "status": "True"}]}
    })
}

fn addresses(c: &Collector, source: &str) -> Vec<String> {
    c.groups[source]
        .targets
        .iter()
        .map(|t| t["__address__"].clone())
        .collect()
}

#[tokio::test]
async fn added_modified_and_deleted_objects_update_their_groups() {
    let fake = Fake::start().await;
    fake.put(pod("default", "a", "10.0.0.1", "web"));
    let mut c = Collector::start(&fake, "role: pod\n").await;
    c.until("pod a", |g| g.contains_key("pod/default/a")).await;

    fake.put(pod("default", "b", "10.0.0.2", "web"));
    c.until("pod b", |g| g.contains_key("pod/default/b")).await;

    fake.put(pod("default", "a", "10.0.0.9", "web"));
    c.until("pod a's new IP", |g| {
        g["pod/default/a"].targets[0]["__address__"] == "10.0.0.9:8080"
    })
    .await;

    fake.delete("Pod", "default", "b");
    c.until("pod b gone", |g| !g.contains_key("pod/default/b"))
        .await;
    assert_eq!(addresses(&c, "pod/default/a"), ["10.0.0.9:8080"]);

    // A pod losing its IP (evicted) loses its targets.
    let mut evicted = pod("default", "a", "", "web");
    evicted["status"]["phase"] = "Failed".into();
    fake.put(evicted);
    c.until("pod a without targets", |g| g.is_empty()).await;
}

#[tokio::test]
async fn endpoints_follow_their_service_and_pods() {
    let fake = Fake::start().await;
    fake.put_fixture("pods.json");
    fake.put_fixture("endpoints.json");
    let mut c = Collector::start(&fake, "role: endpoints\n").await;
    c.until("endpoints", |g| g.len() == 2).await;
    assert!(
        !c.groups["endpoints/default/web"]
            .labels
            .contains_key("__meta_kubernetes_service_name")
    );

    // The service appearing later adds its labels to the endpoints.
    fake.put(fixture("services.json").remove(0));
    c.until("service labels on the endpoints", |g| {
        g["endpoints/default/web"]
            .labels
            .get("__meta_kubernetes_service_name")
            .is_some_and(|v| v == "web")
    })
    .await;

    // The pod behind an address changing (now not ready) reaches the
    // endpoints' targets.
    let mut web = fixture("pods.json").remove(0);
    web["status"]["conditions"][2]["status"] = "False".into();
    fake.put(web);
    c.until("the pod's readiness on the endpoint target", |g| {
        g["endpoints/default/web"].targets[0]
            .get("__meta_kubernetes_pod_ready")
            .is_some_and(|v| v == "false")
    })
    .await;
    // The other endpoints were not touched.
    assert_eq!(c.groups["endpoints/kube-system/kube-dns"].targets.len(), 2);
}

#[tokio::test]
async fn endpointslices_follow_their_service() {
    let fake = Fake::start().await;
    fake.put_fixture("endpointslices.json");
    let mut c = Collector::start(&fake, "role: endpointslice\n").await;
    c.until("the slice", |g| g.len() == 1).await;
    let mut svc = fixture("services.json").remove(0);
    svc["metadata"]["labels"]["tier"] = "front".into();
    fake.put(svc);
    c.until("service labels on the slice", |g| {
        g["endpointslice/default/web-x7k2p"]
            .labels
            .get("__meta_kubernetes_service_label_tier")
            .is_some_and(|v| v == "front")
    })
    .await;
}

#[tokio::test]
async fn only_the_configured_namespaces_are_watched() {
    let fake = Fake::start().await;
    fake.put(pod("team-a", "a", "10.0.0.1", "web"));
    fake.put(pod("team-b", "b", "10.0.0.2", "web"));
    fake.put(pod("other", "c", "10.0.0.3", "web"));
    let mut c =
        Collector::start(&fake, "role: pod\nnamespaces:\n  names: [team-a, team-b]\n").await;
    c.until("both namespaces", |g| g.len() == 2).await;
    fake.put(pod("other", "d", "10.0.0.4", "web"));
    fake.put(pod("team-b", "e", "10.0.0.5", "web"));
    c.until("pod e", |g| g.contains_key("pod/team-b/e")).await;
    assert_eq!(
        c.groups.keys().collect::<Vec<_>>(),
        ["pod/team-a/a", "pod/team-b/b", "pod/team-b/e"]
    );
    let paths: Vec<String> = fake.requests().into_iter().map(|(p, _)| p).collect();
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("/api/v1/namespaces/team-a/pods?"))
    );
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("/api/v1/namespaces/team-b/pods?"))
    );
    assert!(
        paths.iter().all(|p| !p.starts_with("/api/v1/pods")),
        "{paths:?}"
    );
}

#[tokio::test]
async fn selectors_go_to_the_server() {
    let fake = Fake::start().await;
    fake.put(pod("default", "web", "10.0.0.1", "web"));
    fake.put(pod("default", "db", "10.0.0.2", "db"));
    let mut c = Collector::start(
        &fake,
        "role: pod\nselectors:\n- role: pod\n  label: app=web\n  field: metadata.namespace=default\n",
    )
    .await;
    c.until("the web pod", |g| g.contains_key("pod/default/web"))
        .await;
    fake.put(pod("default", "web2", "10.0.0.3", "web"));
    fake.put(pod("default", "db2", "10.0.0.4", "db"));
    c.until("web2", |g| g.contains_key("pod/default/web2"))
        .await;
    assert_eq!(c.groups.len(), 2, "{:?}", c.groups.keys());
    let paths: Vec<String> = fake.requests().into_iter().map(|(p, _)| p).collect();
    assert!(
        paths.iter().all(|p| p.contains("labelSelector=app%3Dweb")
            && p.contains("fieldSelector=metadata.namespace%3Ddefault")),
        "{paths:?}"
    );
}

#[tokio::test]
async fn a_dropped_watch_resumes_where_it_stopped() {
    let fake = Fake::start().await;
    fake.put(pod("default", "a", "10.0.0.1", "web"));
    let mut c = Collector::start(&fake, "role: pod\n").await;
    c.until("pod a", |g| g.contains_key("pod/default/a")).await;
    let lists_before = list_requests(&fake);

    fake.set_mode("pods", Mode::Unavailable);
    fake.drop_watches();
    // Changes while the watch is down arrive once it is back.
    fake.put(pod("default", "b", "10.0.0.2", "web"));
    fake.delete("Pod", "default", "a");
    tokio::time::sleep(Duration::from_millis(300)).await;
    fake.set_mode("pods", Mode::Normal);
    c.until("b in, a out", |g| {
        g.contains_key("pod/default/b") && !g.contains_key("pod/default/a")
    })
    .await;
    // Resumed by a watch from the last version, not a new list.
    assert_eq!(list_requests(&fake), lists_before);
}

#[tokio::test]
async fn an_expired_resource_version_lists_again() {
    let fake = Fake::start().await;
    fake.put(pod("default", "a", "10.0.0.1", "web"));
    fake.put(pod("default", "b", "10.0.0.2", "web"));
    let mut c = Collector::start(&fake, "role: pod\n").await;
    c.until("pods a and b", |g| g.len() == 2).await;
    let lists_before = list_requests(&fake);

    fake.set_mode("pods", Mode::Unavailable);
    fake.drop_watches();
    fake.delete("Pod", "default", "a");
    fake.put(pod("default", "c", "10.0.0.3", "web"));
    fake.compact();
    fake.set_mode("pods", Mode::Normal);
    // The deletion was compacted away: only the new list tells.
    c.until("a gone, c in", |g| {
        g.contains_key("pod/default/c") && !g.contains_key("pod/default/a")
    })
    .await;
    assert!(c.groups.contains_key("pod/default/b"));
    assert!(list_requests(&fake) > lists_before);
}

fn list_requests(fake: &Fake) -> usize {
    fake.requests()
        .iter()
        .filter(|(p, _)| !p.contains("watch=true") && !p.contains("watch=1"))
        .count()
}

#[tokio::test]
async fn a_dual_stack_service_makes_targets_from_its_primary_family_only() {
    let fake = Fake::start().await;
    fake.put_fixture("pods.json");
    let mut svc = fixture("services.json").remove(0);
    svc["spec"]["ipFamilyPolicy"] = "PreferDualStack".into();
    svc["spec"]["ipFamilies"] = json!(["IPv4", "IPv6"]);
    svc["spec"]["clusterIPs"] = json!(["10.96.12.34", "fd00:10:96::1234"]);
    fake.put(svc.clone());
    let v4 = fixture("endpointslices.json").remove(0);
    let mut v6 = v4.clone();
    v6["metadata"]["name"] = "web-v6q9z".into();
    v6["addressType"] = "IPv6".into();
    v6["endpoints"][0]["addresses"] = json!(["fd00:10:244:1::f"]);
    v6["endpoints"][1]["addresses"] = json!(["fd00:10:244:3::8"]);
    fake.put(v4);
    fake.put(v6);
    let mut c = Collector::start(&fake, "role: endpointslice\n").await;
    c.until("the IPv4 slice", |g| {
        g.contains_key("endpointslice/default/web-x7k2p")
    })
    .await;
    // The pod's other ports once, not once per family.
    let drained = c.drain(Duration::from_millis(500)).await;
    assert!(drained.is_empty(), "{drained:?}");
    assert_eq!(c.groups.len(), 1, "{:?}", c.groups.keys());
    assert_eq!(
        addresses(&c, "endpointslice/default/web-x7k2p"),
        [
            "10.244.1.15:8080",
            "10.244.3.8:8080",
            "10.244.1.15:9113",
            "10.244.1.15:15090"
        ]
    );

    // IPv6 first: the other slice.
    svc["spec"]["ipFamilies"] = json!(["IPv6", "IPv4"]);
    fake.put(svc);
    c.until("the IPv6 slice instead", |g| {
        g.contains_key("endpointslice/default/web-v6q9z")
            && !g.contains_key("endpointslice/default/web-x7k2p")
    })
    .await;
    assert_eq!(
        addresses(&c, "endpointslice/default/web-v6q9z")[0],
        "[fd00:10:244:1::f]:8080"
    );
}

#[tokio::test]
async fn events_are_counted_by_kind() {
    let count = |role: &str, event: &str| {
        wasmetheus_kubernetes_sd::events_total()
            .into_iter()
            .find(|(r, e, _)| *r == role && *e == event)
            .map(|(_, _, n)| n)
            .unwrap()
    };
    assert_eq!(wasmetheus_kubernetes_sd::events_total().len(), 18);
    let ingress = |e| count("ingress", e);
    let before = (ingress("add"), ingress("update"), ingress("delete"));
    let fake = Fake::start().await;
    fake.put_fixture("ingresses.json");
    let mut c = Collector::start(&fake, "role: ingress\n").await;
    c.until("the ingress", |g| g.len() == 1).await;
    let mut changed = fixture("ingresses.json").remove(0);
    changed["metadata"]["labels"]["v"] = "2".into();
    fake.put(changed);
    c.until("the update", |g| {
        g["ingress/default/shop"]
            .labels
            .contains_key("__meta_kubernetes_ingress_label_v")
    })
    .await;
    fake.delete("Ingress", "default", "shop");
    c.until("the deletion", |g| g.is_empty()).await;
    // No other test of this file watches ingresses.
    assert_eq!(
        (ingress("add"), ingress("update"), ingress("delete")),
        (before.0 + 1, before.1 + 1, before.2 + 1)
    );
}
