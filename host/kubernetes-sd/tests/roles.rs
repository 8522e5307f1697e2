//! Each role against an API server serving objects shaped like a real
//! cluster's: the exact groups, sources and labels Prometheus builds.

mod common;

use std::collections::BTreeMap;

use common::{Collector, Fake, labels};
use wasmetheus_kubernetes_sd::Group;

type L = BTreeMap<String, String>;

fn merged(parts: &[&L]) -> L {
    let mut out = L::new();
    for p in parts {
        out.extend(p.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    out
}

/// What every target of the `web` pod carries.
fn web_pod_labels() -> L {
    labels(&[
        ("__meta_kubernetes_pod_name", "web-7d4b9c6f5-abcde"),
        ("__meta_kubernetes_pod_ip", "10.244.1.15"),
        ("__meta_kubernetes_pod_ready", "true"),
        ("__meta_kubernetes_pod_phase", "Running"),
        ("__meta_kubernetes_pod_node_name", "node-1"),
        ("__meta_kubernetes_pod_host_ip", "192.168.49.2"),
        (
            "__meta_kubernetes_pod_uid",
            "5f1c2d3e-8a9b-4c0d-9e1f-2a3b4c5d6e7f",
        ),
        ("__meta_kubernetes_pod_controller_kind", "ReplicaSet"),
        ("__meta_kubernetes_pod_controller_name", "web-7d4b9c6f5"),
        ("__meta_kubernetes_pod_label_app", "web"),
        ("__meta_kubernetes_pod_labelpresent_app", "true"),
        ("__meta_kubernetes_pod_label_app_kubernetes_io_name", "web"),
        (
            "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name",
            "true",
        ),
        ("__meta_kubernetes_pod_label_pod_template_hash", "7d4b9c6f5"),
        (
            "__meta_kubernetes_pod_labelpresent_pod_template_hash",
            "true",
        ),
        (
            "__meta_kubernetes_pod_annotation_prometheus_io_scrape",
            "true",
        ),
        (
            "__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape",
            "true",
        ),
        (
            "__meta_kubernetes_pod_annotation_kubectl_kubernetes_io_restartedAt",
            "2026-11-30T09:13:58Z",
        ),
        (
            "__meta_kubernetes_pod_annotationpresent_kubectl_kubernetes_io_restartedAt",
            "true",
        ),
    ])
}

fn container(name: &str, image: &str, init: bool) -> L {
    labels(&[
        ("__meta_kubernetes_pod_container_name", name),
        ("__meta_kubernetes_pod_container_image", image),
        (
            "__meta_kubernetes_pod_container_init",
            if init { "true" } else { "false" },
        ),
    ])
}

fn port(name: &str, number: &str, protocol: &str) -> L {
    labels(&[
        ("__meta_kubernetes_pod_container_port_name", name),
        ("__meta_kubernetes_pod_container_port_number", number),
        ("__meta_kubernetes_pod_container_port_protocol", protocol),
    ])
}

fn address(a: &str) -> L {
    labels(&[("__address__", a)])
}

fn web_service_labels() -> L {
    labels(&[
        ("__meta_kubernetes_namespace", "default"),
        ("__meta_kubernetes_service_name", "web"),
        ("__meta_kubernetes_service_label_app", "web"),
        ("__meta_kubernetes_service_labelpresent_app", "true"),
        (
            "__meta_kubernetes_service_label_app_kubernetes_io_part_of",
            "shop",
        ),
        (
            "__meta_kubernetes_service_labelpresent_app_kubernetes_io_part_of",
            "true",
        ),
        (
            "__meta_kubernetes_service_annotation_prometheus_io_scrape",
            "true",
        ),
        (
            "__meta_kubernetes_service_annotationpresent_prometheus_io_scrape",
            "true",
        ),
    ])
}

fn group(source: &str, labels: L, targets: Vec<L>) -> Group {
    Group {
        source: source.into(),
        labels,
        targets,
    }
}

#[tokio::test]
async fn pod_role_groups_every_container_and_port() {
    let fake = Fake::start().await;
    fake.put_fixture("pods.json");
    let mut c = Collector::start(&fake, "role: pod\n").await;
    c.until("three pod groups", |g| g.len() == 3).await;

    let id = |s: &str| labels(&[("__meta_kubernetes_pod_container_id", s)]);
    let want = group(
        "pod/default/web-7d4b9c6f5-abcde",
        merged(&[
            &web_pod_labels(),
            &labels(&[("__meta_kubernetes_namespace", "default")]),
        ]),
        vec![
            merged(&[
                &address("10.244.1.15:8080"),
                &container("web", "nginx:1.27.2", false),
                &id("containerd://3333cccc"),
                &port("http", "8080", "TCP"),
            ]),
            merged(&[
                &address("10.244.1.15:9113"),
                &container("web", "nginx:1.27.2", false),
                &id("containerd://3333cccc"),
                &port("metrics", "9113", "TCP"),
            ]),
            merged(&[
                &address("10.244.1.15"),
                &container("log-shipper", "fluent/fluent-bit:3.0.7", false),
                &id("containerd://4444dddd"),
            ]),
            merged(&[
                &address("10.244.1.15"),
                &container("init-config", "busybox:1.36", true),
                &id("containerd://1111aaaa"),
            ]),
            merged(&[
                &address("10.244.1.15:15090"),
                &container("istio-proxy", "docker.io/istio/proxyv2:1.22.3", true),
                &id("containerd://2222bbbb"),
                &port("http-envoy-prom", "15090", "TCP"),
            ]),
        ],
    );
    assert_eq!(c.groups["pod/default/web-7d4b9c6f5-abcde"], want);

    // A pod without an IP has no targets; an IPv6 pod without ports is
    // addressed by its bare IP.
    assert!(!c.groups.contains_key("pod/default/pending-pod"));
    let report = &c.groups["pod/batch/report-28912345-q7w8e"];
    assert_eq!(report.targets.len(), 1);
    assert_eq!(report.targets[0]["__address__"], "fd00:10:244::7");
    assert_eq!(
        report.labels["__meta_kubernetes_pod_controller_kind"],
        "Job"
    );
    let dns = &c.groups["pod/kube-system/coredns-5d78c9869d-x2k9j"];
    assert_eq!(dns.labels["__meta_kubernetes_pod_ready"], "false");
    let addrs: Vec<&str> = dns
        .targets
        .iter()
        .map(|t| t["__address__"].as_str())
        .collect();
    assert_eq!(addrs, ["10.244.0.3:53", "10.244.0.3:53", "10.244.0.3:9153"]);
}

#[tokio::test]
async fn service_role_one_target_per_port() {
    let fake = Fake::start().await;
    fake.put_fixture("services.json");
    let mut c = Collector::start(&fake, "role: service\n").await;
    c.until("four services", |g| g.len() == 4).await;

    let svc_port = |addr: &str, name: &str, number: &str, protocol: &str, kind: &str| {
        labels(&[
            ("__address__", addr),
            ("__meta_kubernetes_service_port_name", name),
            ("__meta_kubernetes_service_port_number", number),
            ("__meta_kubernetes_service_port_protocol", protocol),
            ("__meta_kubernetes_service_type", kind),
        ])
    };
    let cluster_ip = |ip: &str| labels(&[("__meta_kubernetes_service_cluster_ip", ip)]);
    assert_eq!(
        c.groups["svc/default/web"],
        group(
            "svc/default/web",
            web_service_labels(),
            vec![
                merged(&[
                    &svc_port("web.default.svc:80", "http", "80", "TCP", "ClusterIP"),
                    &cluster_ip("10.96.12.34"),
                ]),
                merged(&[
                    &svc_port(
                        "web.default.svc:9113",
                        "metrics",
                        "9113",
                        "TCP",
                        "ClusterIP"
                    ),
                    &cluster_ip("10.96.12.34"),
                ]),
            ],
        )
    );
    assert_eq!(
        c.groups["svc/default/external-db"],
        group(
            "svc/default/external-db",
            labels(&[
                ("__meta_kubernetes_namespace", "default"),
                ("__meta_kubernetes_service_name", "external-db"),
            ]),
            vec![merged(&[
                &svc_port(
                    "external-db.default.svc:5432",
                    "postgres",
                    "5432",
                    "TCP",
                    "ExternalName"
                ),
                &labels(&[("__meta_kubernetes_service_external_name", "db.example.com")]),
            ])],
        )
    );
    assert_eq!(
        c.groups["svc/default/edge"].targets,
        vec![merged(&[
            &svc_port(
                "edge.default.svc:443",
                "https",
                "443",
                "TCP",
                "LoadBalancer"
            ),
            &cluster_ip("10.96.50.1"),
            &labels(&[("__meta_kubernetes_service_loadbalancer_ip", "203.0.113.10")]),
        ])]
    );
    assert_eq!(c.groups["svc/kube-system/kube-dns"].targets.len(), 3);
}

#[tokio::test]
async fn endpoints_role_joins_services_and_pods() {
    let fake = Fake::start().await;
    fake.put_fixture("pods.json");
    fake.put_fixture("services.json");
    fake.put_fixture("endpoints.json");
    let mut c = Collector::start(&fake, "role: endpoints\n").await;
    c.until("two endpoints groups", |g| g.len() == 2).await;

    let endpoint = |addr: &str, ready: &str| {
        labels(&[
            ("__address__", addr),
            ("__meta_kubernetes_endpoint_port_name", "http"),
            ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
            ("__meta_kubernetes_endpoint_port_app_protocol", "http"),
            ("__meta_kubernetes_endpoint_ready", ready),
            ("__meta_kubernetes_endpoint_address_target_kind", "Pod"),
        ])
    };
    let want = group(
        "endpoints/default/web",
        merged(&[
            &web_service_labels(),
            &labels(&[
                ("__meta_kubernetes_endpoints_name", "web"),
                ("__meta_kubernetes_endpoints_label_app", "web"),
                ("__meta_kubernetes_endpoints_labelpresent_app", "true"),
                (
                    "__meta_kubernetes_endpoints_annotation_endpoints_kubernetes_io_last_change_trigger_time",
                    "2026-11-30T09:14:10Z",
                ),
                (
                    "__meta_kubernetes_endpoints_annotationpresent_endpoints_kubernetes_io_last_change_trigger_time",
                    "true",
                ),
            ]),
        ]),
        vec![
            merged(&[
                &endpoint("10.244.1.15:8080", "true"),
                &labels(&[
                    (
                        "__meta_kubernetes_endpoint_address_target_name",
                        "web-7d4b9c6f5-abcde",
                    ),
                    ("__meta_kubernetes_endpoint_node_name", "node-1"),
                ]),
                &web_pod_labels(),
                &container("web", "nginx:1.27.2", false),
                &port("http", "8080", "TCP"),
            ]),
            // Not ready, and its pod is gone: no pod labels.
            merged(&[
                &endpoint("10.244.2.99:8080", "false"),
                &labels(&[
                    (
                        "__meta_kubernetes_endpoint_address_target_name",
                        "web-7d4b9c6f5-gone0",
                    ),
                    ("__meta_kubernetes_endpoint_node_name", "node-2"),
                    ("__meta_kubernetes_endpoint_hostname", "web-old"),
                ]),
            ]),
            // The pod's other ports, a sidecar's included.
            merged(&[
                &address("10.244.1.15:9113"),
                &web_pod_labels(),
                &container("web", "nginx:1.27.2", false),
                &port("metrics", "9113", "TCP"),
            ]),
            merged(&[
                &address("10.244.1.15:15090"),
                &web_pod_labels(),
                &container("istio-proxy", "docker.io/istio/proxyv2:1.22.3", true),
                &port("http-envoy-prom", "15090", "TCP"),
            ]),
        ],
    );
    assert_eq!(c.groups["endpoints/default/web"], want);

    // Ports the endpoints name are matched to the container port with the
    // same number (53/TCP here), the rest become extra targets (53/UDP is
    // a different container port entry with the same number: covered).
    let dns = &c.groups["endpoints/kube-system/kube-dns"];
    let addrs: Vec<(&str, &str)> = dns
        .targets
        .iter()
        .map(|t| {
            (
                t["__address__"].as_str(),
                t["__meta_kubernetes_endpoint_ready"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        addrs,
        [("10.244.0.3:53", "false"), ("10.244.0.3:9153", "false")]
    );
    assert_eq!(
        dns.labels["__meta_kubernetes_service_annotation_prometheus_io_port"],
        "9153"
    );
}

#[tokio::test]
async fn endpointslice_role_conditions_zones_and_pods() {
    let fake = Fake::start().await;
    fake.put_fixture("pods.json");
    fake.put_fixture("services.json");
    fake.put_fixture("endpointslices.json");
    let mut c = Collector::start(&fake, "role: endpointslice\n").await;
    c.until("the slice", |g| g.len() == 1).await;

    let slice_port = |addr: &str| {
        labels(&[
            ("__address__", addr),
            ("__meta_kubernetes_endpointslice_port_name", "http"),
            ("__meta_kubernetes_endpointslice_port_protocol", "TCP"),
            ("__meta_kubernetes_endpointslice_port", "8080"),
            ("__meta_kubernetes_endpointslice_port_app_protocol", "http"),
        ])
    };
    let conditions = |ready: &str, serving: &str, terminating: &str| {
        labels(&[
            (
                "__meta_kubernetes_endpointslice_endpoint_conditions_ready",
                ready,
            ),
            (
                "__meta_kubernetes_endpointslice_endpoint_conditions_serving",
                serving,
            ),
            (
                "__meta_kubernetes_endpointslice_endpoint_conditions_terminating",
                terminating,
            ),
        ])
    };
    let want = group(
        "endpointslice/default/web-x7k2p",
        merged(&[
            &web_service_labels(),
            &labels(&[
                ("__meta_kubernetes_endpointslice_address_type", "IPv4"),
                ("__meta_kubernetes_endpointslice_name", "web-x7k2p"),
                (
                    "__meta_kubernetes_endpointslice_label_endpointslice_kubernetes_io_managed_by",
                    "endpointslice-controller.k8s.io",
                ),
                (
                    "__meta_kubernetes_endpointslice_labelpresent_endpointslice_kubernetes_io_managed_by",
                    "true",
                ),
                (
                    "__meta_kubernetes_endpointslice_label_kubernetes_io_service_name",
                    "web",
                ),
                (
                    "__meta_kubernetes_endpointslice_labelpresent_kubernetes_io_service_name",
                    "true",
                ),
                (
                    "__meta_kubernetes_endpointslice_annotation_endpoints_kubernetes_io_last_change_trigger_time",
                    "2026-11-30T09:14:10Z",
                ),
                (
                    "__meta_kubernetes_endpointslice_annotationpresent_endpoints_kubernetes_io_last_change_trigger_time",
                    "true",
                ),
            ]),
        ]),
        vec![
            merged(&[
                &slice_port("10.244.1.15:8080"),
                &conditions("true", "true", "false"),
                &labels(&[
                    ("__meta_kubernetes_endpointslice_address_target_kind", "Pod"),
                    (
                        "__meta_kubernetes_endpointslice_address_target_name",
                        "web-7d4b9c6f5-abcde",
                    ),
                    (
                        "__meta_kubernetes_endpointslice_endpoint_node_name",
                        "node-1",
                    ),
                    (
                        "__meta_kubernetes_endpointslice_endpoint_zone",
                        "europe-west1-b",
                    ),
                ]),
                &web_pod_labels(),
                &container("web", "nginx:1.27.2", false),
                &port("http", "8080", "TCP"),
            ]),
            merged(&[
                &slice_port("10.244.3.8:8080"),
                &conditions("false", "true", "true"),
                &labels(&[
                    ("__meta_kubernetes_endpointslice_endpoint_hostname", "web-1"),
                    (
                        "__meta_kubernetes_endpointslice_endpoint_node_name",
                        "node-2",
                    ),
                ]),
            ]),
            merged(&[
                &address("10.244.1.15:9113"),
                &web_pod_labels(),
                &container("web", "nginx:1.27.2", false),
                &port("metrics", "9113", "TCP"),
            ]),
            merged(&[
                &address("10.244.1.15:15090"),
                &web_pod_labels(),
                &container("istio-proxy", "docker.io/istio/proxyv2:1.22.3", true),
                &port("http-envoy-prom", "15090", "TCP"),
            ]),
        ],
    );
    assert_eq!(c.groups["endpointslice/default/web-x7k2p"], want);
}

#[tokio::test]
async fn node_role_kubelet_address_by_preference() {
    let fake = Fake::start().await;
    fake.put_fixture("nodes.json");
    let mut c = Collector::start(&fake, "role: node\n").await;
    c.until("two nodes", |g| g.len() == 2).await;

    assert_eq!(
        c.groups["node/node-1"],
        group(
            "node/node-1",
            labels(&[
                ("__meta_kubernetes_node_name", "node-1"),
                (
                    "__meta_kubernetes_node_provider_id",
                    "kind://docker/kind/node-1"
                ),
                (
                    "__meta_kubernetes_node_label_beta_kubernetes_io_arch",
                    "amd64"
                ),
                (
                    "__meta_kubernetes_node_labelpresent_beta_kubernetes_io_arch",
                    "true"
                ),
                (
                    "__meta_kubernetes_node_label_kubernetes_io_hostname",
                    "node-1"
                ),
                (
                    "__meta_kubernetes_node_labelpresent_kubernetes_io_hostname",
                    "true"
                ),
                (
                    "__meta_kubernetes_node_label_node_role_kubernetes_io_control_plane",
                    ""
                ),
                (
                    "__meta_kubernetes_node_labelpresent_node_role_kubernetes_io_control_plane",
                    "true",
                ),
                (
                    "__meta_kubernetes_node_label_topology_kubernetes_io_zone",
                    "europe-west1-b"
                ),
                (
                    "__meta_kubernetes_node_labelpresent_topology_kubernetes_io_zone",
                    "true",
                ),
                (
                    "__meta_kubernetes_node_annotation_node_alpha_kubernetes_io_ttl",
                    "0"
                ),
                (
                    "__meta_kubernetes_node_annotationpresent_node_alpha_kubernetes_io_ttl",
                    "true",
                ),
                (
                    "__meta_kubernetes_node_annotation_volumes_kubernetes_io_controller_managed_attach_detach",
                    "true",
                ),
                (
                    "__meta_kubernetes_node_annotationpresent_volumes_kubernetes_io_controller_managed_attach_detach",
                    "true",
                ),
            ]),
            vec![labels(&[
                ("__address__", "192.168.49.2:10250"),
                ("instance", "node-1"),
                ("__meta_kubernetes_node_address_InternalIP", "192.168.49.2"),
                ("__meta_kubernetes_node_address_Hostname", "node-1"),
            ])],
        )
    );
    // InternalDNS comes before ExternalIP.
    assert_eq!(
        c.groups["node/node-2"].targets,
        vec![labels(&[
            ("__address__", "node-2.internal:10250"),
            ("instance", "node-2"),
            ("__meta_kubernetes_node_address_ExternalIP", "203.0.113.5"),
            (
                "__meta_kubernetes_node_address_InternalDNS",
                "node-2.internal"
            ),
            ("__meta_kubernetes_node_address_Hostname", "node-2"),
        ])]
    );
    assert_eq!(
        c.groups["node/node-2"].labels["__meta_kubernetes_node_provider_id"],
        ""
    );
}

#[tokio::test]
async fn ingress_role_hosts_paths_and_tls() {
    let fake = Fake::start().await;
    fake.put_fixture("ingresses.json");
    let mut c = Collector::start(&fake, "role: ingress\n").await;
    c.until("the ingress", |g| g.len() == 1).await;

    let target = |host: &str, path: &str, scheme: &str| {
        labels(&[
            ("__address__", host),
            ("__meta_kubernetes_ingress_host", host),
            ("__meta_kubernetes_ingress_path", path),
            ("__meta_kubernetes_ingress_scheme", scheme),
        ])
    };
    assert_eq!(
        c.groups["ingress/default/shop"],
        group(
            "ingress/default/shop",
            labels(&[
                ("__meta_kubernetes_namespace", "default"),
                ("__meta_kubernetes_ingress_name", "shop"),
                ("__meta_kubernetes_ingress_class_name", "nginx"),
                ("__meta_kubernetes_ingress_label_app", "shop"),
                ("__meta_kubernetes_ingress_labelpresent_app", "true"),
                (
                    "__meta_kubernetes_ingress_annotation_nginx_ingress_kubernetes_io_rewrite_target",
                    "/",
                ),
                (
                    "__meta_kubernetes_ingress_annotationpresent_nginx_ingress_kubernetes_io_rewrite_target",
                    "true",
                ),
            ]),
            vec![
                target("shop.example.com", "/", "https"),
                target("shop.example.com", "/api", "https"),
                target("status.example.org", "/", "http"),
                // The wildcard covers one label only.
                target("a.b.example.com", "/", "http"),
            ],
        )
    );
}

#[tokio::test]
async fn attach_metadata_adds_node_namespace_and_controllers() {
    let fake = Fake::start().await;
    for f in [
        "pods.json",
        "nodes.json",
        "namespaces.json",
        "replicasets.json",
        "jobs.json",
    ] {
        fake.put_fixture(f);
    }
    let mut c = Collector::start(
        &fake,
        "role: pod\nattach_metadata:\n  node: true\n  namespace: true\n  deployment: true\n  job: true\n  cronjob: true\n",
    )
    .await;
    c.until("three pods", |g| g.len() == 3).await;
    let web = &c.groups["pod/default/web-7d4b9c6f5-abcde"].labels;
    assert_eq!(web["__meta_kubernetes_node_name"], "node-1");
    assert_eq!(
        web["__meta_kubernetes_node_label_kubernetes_io_hostname"],
        "node-1"
    );
    assert_eq!(web["__meta_kubernetes_namespace_label_team"], "platform");
    assert_eq!(web["__meta_kubernetes_namespace_labelpresent_team"], "true");
    assert_eq!(
        web["__meta_kubernetes_namespace_annotation_owner"],
        "sre@example.com"
    );
    assert_eq!(web["__meta_kubernetes_pod_deployment_name"], "web");
    let report = &c.groups["pod/batch/report-28912345-q7w8e"].labels;
    assert_eq!(report["__meta_kubernetes_pod_job_name"], "report-28912345");
    assert_eq!(report["__meta_kubernetes_pod_cronjob_name"], "report");
    assert_eq!(report["__meta_kubernetes_node_name"], "node-2");

    // A node's labels changing reaches the pods on it.
    let mut node = common::fixture("nodes.json").remove(0);
    node["metadata"]["labels"]["rack"] = "r7".into();
    fake.put(node);
    c.until("the node label on the pod", |g| {
        g["pod/default/web-7d4b9c6f5-abcde"]
            .labels
            .get("__meta_kubernetes_node_label_rack")
            .is_some_and(|v| v == "r7")
    })
    .await;
    assert!(
        !c.groups["pod/batch/report-28912345-q7w8e"]
            .labels
            .contains_key("__meta_kubernetes_node_label_rack")
    );
}

#[tokio::test]
async fn without_attach_metadata_no_related_labels() {
    let fake = Fake::start().await;
    for f in [
        "pods.json",
        "nodes.json",
        "namespaces.json",
        "replicasets.json",
    ] {
        fake.put_fixture(f);
    }
    let mut c = Collector::start(&fake, "role: pod\n").await;
    c.until("three pods", |g| g.len() == 3).await;
    let web = &c.groups["pod/default/web-7d4b9c6f5-abcde"].labels;
    assert!(
        web.keys().all(|k| !k.starts_with("__meta_kubernetes_node_")
            && !k.starts_with("__meta_kubernetes_namespace_")),
        "{web:#?}"
    );
    assert!(!web.contains_key("__meta_kubernetes_pod_deployment_name"));
    // Only pods were asked for.
    assert!(
        fake.requests()
            .iter()
            .all(|(path, _)| path.starts_with("/api/v1/pods")),
        "{:?}",
        fake.requests()
    );
}

#[tokio::test]
async fn attach_metadata_on_endpoints_and_services() {
    let fake = Fake::start().await;
    for f in [
        "pods.json",
        "services.json",
        "endpoints.json",
        "nodes.json",
        "namespaces.json",
    ] {
        fake.put_fixture(f);
    }
    let mut c = Collector::start(
        &fake,
        "role: endpoints\nattach_metadata:\n  node: true\n  namespace: true\n",
    )
    .await;
    c.until("the endpoints", |g| g.len() == 2).await;
    let web = &c.groups["endpoints/default/web"];
    assert_eq!(
        web.labels["__meta_kubernetes_namespace_label_team"],
        "platform"
    );
    // Each address with its own node's labels.
    assert_eq!(web.targets[0]["__meta_kubernetes_node_name"], "node-1");
    assert_eq!(
        web.targets[0]["__meta_kubernetes_node_label_topology_kubernetes_io_zone"],
        "europe-west1-b"
    );
    assert_eq!(web.targets[1]["__meta_kubernetes_node_name"], "node-2");
    // The pod's other ports are not endpoint addresses: no node labels.
    assert!(!web.targets[2].contains_key("__meta_kubernetes_node_name"));

    let mut c = Collector::start(
        &fake,
        "role: service\nattach_metadata:\n  namespace: true\n",
    )
    .await;
    c.until("the services", |g| g.len() == 4).await;
    assert_eq!(
        c.groups["svc/default/web"].labels["__meta_kubernetes_namespace_annotation_owner"],
        "sre@example.com"
    );
    assert!(
        c.groups["svc/kube-system/kube-dns"]
            .labels
            .keys()
            .all(|k| !k.starts_with("__meta_kubernetes_namespace_label_team"))
    );
    // A namespace's labels changing reaches its services only.
    let mut ns = common::fixture("namespaces.json").remove(1);
    ns["metadata"]["labels"]["tier"] = "system".into();
    fake.put(ns);
    c.until("the namespace label on kube-dns", |g| {
        g["svc/kube-system/kube-dns"]
            .labels
            .get("__meta_kubernetes_namespace_label_tier")
            .is_some_and(|v| v == "system")
    })
    .await;
    assert!(
        !c.groups["svc/default/web"]
            .labels
            .contains_key("__meta_kubernetes_namespace_label_tier")
    );
}
