//! From Kubernetes objects to target groups, label for label as
//! Prometheus' `discovery/kubernetes` builds them (`pod.go`, `service.go`,
//! `endpoints.go`, `endpointslice.go`, `node.go`, `ingress.go`): the same
//! `__address__` rules, the same `__meta_kubernetes_*` labels and the same
//! group sources (`pod/<ns>/<name>`, `svc/<ns>/<name>`,
//! `endpoints/<ns>/<name>`, `endpointslice/<ns>/<name>`, `node/<name>`,
//! `ingress/<ns>/<name>`).
//!
//! Pure functions of the objects and a [`Lookup`] of the related objects
//! (services, pods, nodes, namespaces, replica sets, jobs) the watchers keep.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
#[allow(deprecated)]
use k8s_openapi::api::core::v1::Endpoints;
use k8s_openapi::api::core::v1::{Container, Namespace, Node, ObjectReference, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::Group;

pub(crate) type Labels = BTreeMap<String, String>;

const PREFIX: &str = "__meta_kubernetes_";
const NAMESPACE: &str = "__meta_kubernetes_namespace";
const ADDRESS: &str = "__address__";

/// What building a group may look up: the related objects the discovery
/// watches, and which metadata to attach.
pub(crate) trait Lookup {
    fn service(&self, namespace: &str, name: &str) -> Option<&Service>;
    fn pod(&self, namespace: &str, name: &str) -> Option<&Pod>;
    fn node(&self, name: &str) -> Option<&Node>;
    fn namespace(&self, name: &str) -> Option<&Namespace>;
    fn replica_set(&self, namespace: &str, name: &str) -> Option<&ReplicaSet>;
    fn job(&self, namespace: &str, name: &str) -> Option<&Job>;
    fn attach(&self) -> &wasmetheus_config::sd::kubernetes::AttachMetadataConfig;
}

/// Prometheus' `strutil.SanitizeLabelName`: every character outside
/// `[a-zA-Z0-9_]` becomes `_`.
pub(crate) fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Go's `net.JoinHostPort`: IPv6 addresses in brackets.
fn join_host_port(host: &str, port: impl std::fmt::Display) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn s(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn name_of(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or("")
}

fn namespace_of(meta: &ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or("")
}

/// Prometheus' `addObjectMetaLabels`: `<role>_name` and every label and
/// annotation with its `present` marker.
fn add_object_meta_labels(labels: &mut Labels, meta: &ObjectMeta, role: &str) {
    labels.insert(format!("{PREFIX}{role}_name"), name_of(meta).to_owned());
    add_labels_and_annotations(labels, meta, role);
}

fn add_labels_and_annotations(labels: &mut Labels, meta: &ObjectMeta, role: &str) {
    for (k, v) in meta.labels.iter().flatten() {
        let ln = sanitize(k);
        labels.insert(format!("{PREFIX}{role}_label_{ln}"), v.clone());
        labels.insert(format!("{PREFIX}{role}_labelpresent_{ln}"), "true".into());
    }
    for (k, v) in meta.annotations.iter().flatten() {
        let ln = sanitize(k);
        labels.insert(format!("{PREFIX}{role}_annotation_{ln}"), v.clone());
        labels.insert(
            format!("{PREFIX}{role}_annotationpresent_{ln}"),
            "true".into(),
        );
    }
}

/// The namespace's labels and annotations (`attach_metadata.namespace`).
fn add_namespace_labels(labels: &mut Labels, lookup: &dyn Lookup, namespace: &str) {
    if !lookup.attach().namespace {
        return;
    }
    if let Some(ns) = lookup.namespace(namespace) {
        add_labels_and_annotations(labels, &ns.metadata, "namespace");
    }
}

/// The node's name, labels and annotations (`attach_metadata.node`).
fn add_node_labels(labels: &mut Labels, lookup: &dyn Lookup, node_name: Option<&str>) {
    let Some(name) = node_name else { return };
    if let Some(node) = lookup.node(name) {
        add_object_meta_labels(labels, &node.metadata, "node");
    }
}

fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
}

/// Prometheus' `podLabels`: what every target of a pod carries.
fn pod_labels(pod: &Pod, lookup: &dyn Lookup) -> Labels {
    let status = pod.status.as_ref();
    let spec = pod.spec.as_ref();
    let mut ls = Labels::new();
    ls.insert(
        format!("{PREFIX}pod_ip"),
        status.map(|st| s(&st.pod_ip)).unwrap_or_default(),
    );
    ls.insert(format!("{PREFIX}pod_ready"), pod_ready(pod));
    ls.insert(
        format!("{PREFIX}pod_phase"),
        status.map(|st| s(&st.phase)).unwrap_or_default(),
    );
    ls.insert(
        format!("{PREFIX}pod_node_name"),
        spec.map(|sp| s(&sp.node_name)).unwrap_or_default(),
    );
    ls.insert(
        format!("{PREFIX}pod_host_ip"),
        status.map(|st| s(&st.host_ip)).unwrap_or_default(),
    );
    ls.insert(format!("{PREFIX}pod_uid"), s(&pod.metadata.uid));
    add_object_meta_labels(&mut ls, &pod.metadata, "pod");
    if let Some(controller) = controller_of(&pod.metadata) {
        if !controller.kind.is_empty() {
            ls.insert(
                format!("{PREFIX}pod_controller_kind"),
                controller.kind.clone(),
            );
        }
        if !controller.name.is_empty() {
            ls.insert(
                format!("{PREFIX}pod_controller_name"),
                controller.name.clone(),
            );
        }
        add_controller_names(&mut ls, pod, controller, lookup);
    }
    ls
}

/// `__meta_kubernetes_pod_deployment_name`, `_job_name` and
/// `_cronjob_name` for the controllers `attach_metadata` asks for.
fn add_controller_names(
    ls: &mut Labels,
    pod: &Pod,
    controller: &OwnerReference,
    lookup: &dyn Lookup,
) {
    let attach = lookup.attach();
    let ns = namespace_of(&pod.metadata);
    match controller.kind.as_str() {
        "ReplicaSet" if attach.deployment => {
            if let Some(owner) = lookup
                .replica_set(ns, &controller.name)
                .and_then(|rs| controller_of(&rs.metadata))
                .filter(|o| o.kind == "Deployment")
            {
                ls.insert(format!("{PREFIX}pod_deployment_name"), owner.name.clone());
            }
        }
        "Job" => {
            if attach.job {
                ls.insert(format!("{PREFIX}pod_job_name"), controller.name.clone());
            }
            if attach.cronjob
                && let Some(owner) = lookup
                    .job(ns, &controller.name)
                    .and_then(|job| controller_of(&job.metadata))
                    .filter(|o| o.kind == "CronJob")
            {
                ls.insert(format!("{PREFIX}pod_cronjob_name"), owner.name.clone());
            }
        }
        _ => {}
    }
}

fn pod_ready(pod: &Pod) -> String {
    pod.status
        .as_ref()
        .and_then(|st| st.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status.to_lowercase())
        .unwrap_or_else(|| "unknown".into())
}

pub(crate) fn pod_source(namespace: &str, name: &str) -> String {
    format!("pod/{namespace}/{name}")
}

/// The containers then the init containers, each with whether it is one.
fn all_containers(pod: &Pod) -> Vec<(&Container, bool)> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    spec.containers
        .iter()
        .map(|c| (c, false))
        .chain(spec.init_containers.iter().flatten().map(|c| (c, true)))
        .collect()
}

/// Init containers that keep running beside the others (sidecars:
/// `restartPolicy: Always`), the only init containers endpoints count.
fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

fn container_id(pod: &Pod, name: &str, init: bool) -> String {
    let status = pod.status.as_ref();
    let statuses = if init {
        status.and_then(|st| st.init_container_statuses.as_ref())
    } else {
        status.and_then(|st| st.container_statuses.as_ref())
    };
    statuses
        .into_iter()
        .flatten()
        .find(|st| st.name == name)
        .map(|st| s(&st.container_id))
        .unwrap_or_default()
}

/// The pod role: one target per declared container port, one port-less
/// target per container without ports (init containers included).
pub(crate) fn build_pod(pod: &Pod, lookup: &dyn Lookup) -> Group {
    let ns = namespace_of(&pod.metadata);
    let mut group = Group::empty(pod_source(ns, name_of(&pod.metadata)));
    let ip = pod
        .status
        .as_ref()
        .map(|st| s(&st.pod_ip))
        .unwrap_or_default();
    // The IP is empty while a pod starts and after it was evicted.
    if ip.is_empty() {
        return group;
    }
    let mut labels = pod_labels(pod, lookup);
    labels.insert(NAMESPACE.into(), ns.to_owned());
    if lookup.attach().node {
        let node = pod.spec.as_ref().and_then(|sp| sp.node_name.as_deref());
        add_node_labels(&mut labels, lookup, node);
    }
    add_namespace_labels(&mut labels, lookup, ns);
    group.labels = labels;
    for (c, init) in all_containers(pod) {
        let id = container_id(pod, &c.name, init);
        let base = |address: String| {
            let mut t = Labels::new();
            t.insert(ADDRESS.into(), address);
            t.insert(format!("{PREFIX}pod_container_name"), c.name.clone());
            t.insert(format!("{PREFIX}pod_container_id"), id.clone());
            t.insert(format!("{PREFIX}pod_container_image"), s(&c.image));
            t.insert(format!("{PREFIX}pod_container_init"), init.to_string());
            t
        };
        let ports = c.ports.as_deref().unwrap_or_default();
        if ports.is_empty() {
            group.targets.push(base(ip.clone()));
            continue;
        }
        for port in ports {
            let number = port.container_port.to_string();
            let mut t = base(join_host_port(&ip, &number));
            t.insert(format!("{PREFIX}pod_container_port_number"), number);
            t.insert(format!("{PREFIX}pod_container_port_name"), s(&port.name));
            t.insert(
                format!("{PREFIX}pod_container_port_protocol"),
                s(&port.protocol),
            );
            group.targets.push(t);
        }
    }
    group
}

pub(crate) fn service_source(namespace: &str, name: &str) -> String {
    format!("svc/{namespace}/{name}")
}

/// Prometheus' `serviceLabels`: namespace, name, labels, annotations.
fn service_labels(svc: &Service) -> Labels {
    let mut ls = Labels::new();
    ls.insert(NAMESPACE.into(), namespace_of(&svc.metadata).to_owned());
    add_object_meta_labels(&mut ls, &svc.metadata, "service");
    ls
}

/// The service role: one target per service port, addressed by the
/// service's DNS name.
pub(crate) fn build_service(svc: &Service, lookup: &dyn Lookup) -> Group {
    let ns = namespace_of(&svc.metadata);
    let name = name_of(&svc.metadata);
    let mut group = Group::empty(service_source(ns, name));
    group.labels = service_labels(svc);
    add_namespace_labels(&mut group.labels, lookup, ns);
    let Some(spec) = svc.spec.as_ref() else {
        return group;
    };
    let kind = s(&spec.type_);
    for port in spec.ports.iter().flatten() {
        let number = port.port.to_string();
        let mut t = Labels::new();
        t.insert(
            ADDRESS.into(),
            join_host_port(&format!("{name}.{ns}.svc"), &number),
        );
        t.insert(format!("{PREFIX}service_port_name"), s(&port.name));
        t.insert(format!("{PREFIX}service_port_number"), number);
        t.insert(format!("{PREFIX}service_port_protocol"), s(&port.protocol));
        t.insert(format!("{PREFIX}service_type"), kind.clone());
        if kind == "ExternalName" {
            t.insert(
                format!("{PREFIX}service_external_name"),
                s(&spec.external_name),
            );
        } else {
            t.insert(format!("{PREFIX}service_cluster_ip"), s(&spec.cluster_ip));
        }
        if kind == "LoadBalancer" {
            t.insert(
                format!("{PREFIX}service_loadbalancer_ip"),
                s(&spec.load_balancer_ip),
            );
        }
        group.targets.push(t);
    }
    group
}

pub(crate) fn endpoints_source(namespace: &str, name: &str) -> String {
    format!("endpoints/{namespace}/{name}")
}

fn resolve_pod<'a>(lookup: &'a dyn Lookup, reference: Option<&ObjectReference>) -> Option<&'a Pod> {
    let r = reference?;
    if r.kind.as_deref() != Some("Pod") {
        return None;
    }
    lookup.pod(
        r.namespace.as_deref().unwrap_or(""),
        r.name.as_deref().unwrap_or(""),
    )
}

/// Pods seen behind an endpoints or endpoint slice object, with the ports
/// the object already made targets for, in the order first seen.
#[derive(Default)]
struct SeenPods<'a> {
    pods: Vec<(&'a Pod, Vec<i32>)>,
}

impl<'a> SeenPods<'a> {
    fn record(&mut self, pod: &'a Pod, port: i32) {
        let key = (namespace_of(&pod.metadata), name_of(&pod.metadata));
        if let Some(entry) = self
            .pods
            .iter_mut()
            .find(|(p, _)| (namespace_of(&p.metadata), name_of(&p.metadata)) == key)
        {
            entry.1.push(port);
        } else {
            self.pods.push((pod, vec![port]));
        }
    }

    /// Targets for the container ports no endpoint port covered.
    fn remaining_targets(&self, lookup: &dyn Lookup) -> Vec<Labels> {
        let mut out = Vec::new();
        for (pod, ports) in &self.pods {
            let ip = pod
                .status
                .as_ref()
                .map(|st| s(&st.pod_ip))
                .unwrap_or_default();
            if ip.is_empty() {
                continue;
            }
            for (c, init) in all_containers(pod) {
                if init && !is_sidecar(c) {
                    continue;
                }
                for cport in c.ports.iter().flatten() {
                    if ports.contains(&cport.container_port) {
                        continue;
                    }
                    let number = cport.container_port.to_string();
                    let mut t = pod_labels(pod, lookup);
                    t.insert(ADDRESS.into(), join_host_port(&ip, &number));
                    t.insert(format!("{PREFIX}pod_container_name"), c.name.clone());
                    t.insert(format!("{PREFIX}pod_container_image"), s(&c.image));
                    t.insert(format!("{PREFIX}pod_container_port_name"), s(&cport.name));
                    t.insert(format!("{PREFIX}pod_container_port_number"), number);
                    t.insert(
                        format!("{PREFIX}pod_container_port_protocol"),
                        s(&cport.protocol),
                    );
                    t.insert(format!("{PREFIX}pod_container_init"), init.to_string());
                    out.push(t);
                }
            }
        }
        out
    }
}

/// The pod labels and the matching container's port labels of an
/// endpoint that points at `pod`.
fn add_pod_port_labels(t: &mut Labels, pod: &Pod, port: i32, protocol: &str, lookup: &dyn Lookup) {
    t.extend(pod_labels(pod, lookup));
    for (c, init) in all_containers(pod) {
        if init && !is_sidecar(c) {
            continue;
        }
        if let Some(cport) = c.ports.iter().flatten().find(|p| p.container_port == port) {
            t.insert(format!("{PREFIX}pod_container_name"), c.name.clone());
            t.insert(format!("{PREFIX}pod_container_image"), s(&c.image));
            t.insert(format!("{PREFIX}pod_container_port_name"), s(&cport.name));
            t.insert(
                format!("{PREFIX}pod_container_port_number"),
                port.to_string(),
            );
            t.insert(
                format!("{PREFIX}pod_container_port_protocol"),
                protocol.to_owned(),
            );
            t.insert(format!("{PREFIX}pod_container_init"), init.to_string());
            break;
        }
    }
}

/// The endpoints role: one target per address and port, with the pod's
/// labels where the address is a pod, and targets for the pods' other
/// container ports.
#[allow(deprecated)]
pub(crate) fn build_endpoints(eps: &Endpoints, lookup: &dyn Lookup) -> Group {
    let ns = namespace_of(&eps.metadata);
    let name = name_of(&eps.metadata);
    let mut group = Group::empty(endpoints_source(ns, name));
    let mut labels = Labels::new();
    labels.insert(NAMESPACE.into(), ns.to_owned());
    add_object_meta_labels(&mut labels, &eps.metadata, "endpoints");
    if let Some(svc) = lookup.service(ns, name) {
        labels.extend(service_labels(svc));
    }
    add_namespace_labels(&mut labels, lookup, ns);
    group.labels = labels;
    let mut seen = SeenPods::default();
    for subset in eps.subsets.iter().flatten() {
        for port in subset.ports.iter().flatten() {
            let ready = subset.addresses.iter().flatten().map(|a| (a, "true"));
            let not_ready = subset
                .not_ready_addresses
                .iter()
                .flatten()
                .map(|a| (a, "false"));
            for (addr, ready) in ready.chain(not_ready) {
                let protocol = s(&port.protocol);
                let mut t = Labels::new();
                t.insert(ADDRESS.into(), join_host_port(&addr.ip, port.port));
                t.insert(format!("{PREFIX}endpoint_port_name"), s(&port.name));
                t.insert(format!("{PREFIX}endpoint_port_protocol"), protocol.clone());
                t.insert(format!("{PREFIX}endpoint_ready"), ready.into());
                if let Some(app) = &port.app_protocol {
                    t.insert(format!("{PREFIX}endpoint_port_app_protocol"), app.clone());
                }
                if let Some(r) = &addr.target_ref {
                    t.insert(format!("{PREFIX}endpoint_address_target_kind"), s(&r.kind));
                    t.insert(format!("{PREFIX}endpoint_address_target_name"), s(&r.name));
                }
                if let Some(node) = &addr.node_name {
                    t.insert(format!("{PREFIX}endpoint_node_name"), node.clone());
                }
                if let Some(host) = addr.hostname.as_ref().filter(|h| !h.is_empty()) {
                    t.insert(format!("{PREFIX}endpoint_hostname"), host.clone());
                }
                if lookup.attach().node {
                    let node = addr.node_name.as_deref().or_else(|| {
                        addr.target_ref
                            .as_ref()
                            .filter(|r| r.kind.as_deref() == Some("Node"))
                            .and_then(|r| r.name.as_deref())
                    });
                    add_node_labels(&mut t, lookup, node);
                }
                if let Some(pod) = resolve_pod(lookup, addr.target_ref.as_ref()) {
                    add_pod_port_labels(&mut t, pod, port.port, &protocol, lookup);
                    seen.record(pod, port.port);
                }
                group.targets.push(t);
            }
        }
    }
    group.targets.extend(seen.remaining_targets(lookup));
    group
}

pub(crate) fn endpointslice_source(namespace: &str, name: &str) -> String {
    format!("endpointslice/{namespace}/{name}")
}

/// The service an endpoint slice belongs to (its
/// `kubernetes.io/service-name` label).
pub(crate) fn slice_service(slice: &EndpointSlice) -> Option<&str> {
    slice
        .metadata
        .labels
        .as_ref()?
        .get("kubernetes.io/service-name")
        .map(String::as_str)
}

/// The endpointslice role: one target per endpoint and port, with the
/// pod's labels where the endpoint is a pod, and targets for the pods'
/// other container ports.
pub(crate) fn build_endpointslice(slice: &EndpointSlice, lookup: &dyn Lookup) -> Group {
    let ns = namespace_of(&slice.metadata);
    let name = name_of(&slice.metadata);
    let mut group = Group::empty(endpointslice_source(ns, name));
    let mut labels = Labels::new();
    labels.insert(NAMESPACE.into(), ns.to_owned());
    labels.insert(
        format!("{PREFIX}endpointslice_address_type"),
        slice.address_type.clone(),
    );
    add_object_meta_labels(&mut labels, &slice.metadata, "endpointslice");
    let service = slice_service(slice).and_then(|svc| lookup.service(ns, svc));
    if let Some(svc) = service {
        labels.extend(service_labels(svc));
        // A dual-stack service has one slice per IP family for the same
        // endpoints: only its primary family's slices make targets (as
        // Prometheus 3.11 and later), so nothing is scraped twice.
        if let Some(spec) = &svc.spec
            && spec
                .ip_family_policy
                .as_deref()
                .is_some_and(|p| p.ends_with("DualStack"))
            && let Some(primary) = spec.ip_families.as_ref().and_then(|f| f.first())
            && *primary != slice.address_type
        {
            return group;
        }
    }
    add_namespace_labels(&mut labels, lookup, ns);
    group.labels = labels;
    let mut seen = SeenPods::default();
    let ports = slice.ports.as_deref().unwrap_or_default();
    for ep in &slice.endpoints {
        let Some(address) = ep.addresses.first() else {
            continue;
        };
        for port in ports {
            let mut t = Labels::new();
            let addr = match port.port {
                Some(p) => join_host_port(address, p),
                None => address.clone(),
            };
            t.insert(ADDRESS.into(), addr);
            if let Some(n) = &port.name {
                t.insert(format!("{PREFIX}endpointslice_port_name"), n.clone());
            }
            if let Some(p) = &port.protocol {
                t.insert(format!("{PREFIX}endpointslice_port_protocol"), p.clone());
            }
            if let Some(p) = port.port {
                t.insert(format!("{PREFIX}endpointslice_port"), p.to_string());
            }
            if let Some(a) = &port.app_protocol {
                t.insert(
                    format!("{PREFIX}endpointslice_port_app_protocol"),
                    a.clone(),
                );
            }
            if let Some(c) = &ep.conditions {
                for (label, value) in [
                    ("ready", c.ready),
                    ("serving", c.serving),
                    ("terminating", c.terminating),
                ] {
                    if let Some(v) = value {
                        t.insert(
                            format!("{PREFIX}endpointslice_endpoint_conditions_{label}"),
                            v.to_string(),
                        );
                    }
                }
            }
            if let Some(h) = &ep.hostname {
                t.insert(
                    format!("{PREFIX}endpointslice_endpoint_hostname"),
                    h.clone(),
                );
            }
            if let Some(r) = &ep.target_ref {
                t.insert(
                    format!("{PREFIX}endpointslice_address_target_kind"),
                    s(&r.kind),
                );
                t.insert(
                    format!("{PREFIX}endpointslice_address_target_name"),
                    s(&r.name),
                );
            }
            if let Some(n) = &ep.node_name {
                t.insert(
                    format!("{PREFIX}endpointslice_endpoint_node_name"),
                    n.clone(),
                );
            }
            if let Some(z) = &ep.zone {
                t.insert(format!("{PREFIX}endpointslice_endpoint_zone"), z.clone());
            }
            for (k, v) in ep.deprecated_topology.iter().flatten() {
                let ln = sanitize(k);
                t.insert(
                    format!("{PREFIX}endpointslice_endpoint_topology_{ln}"),
                    v.clone(),
                );
                t.insert(
                    format!("{PREFIX}endpointslice_endpoint_topology_present_{ln}"),
                    "true".into(),
                );
            }
            if lookup.attach().node {
                let node = ep.node_name.as_deref().or_else(|| {
                    ep.target_ref
                        .as_ref()
                        .filter(|r| r.kind.as_deref() == Some("Node"))
                        .and_then(|r| r.name.as_deref())
                });
                add_node_labels(&mut t, lookup, node);
            }
            if let Some(pod) = resolve_pod(lookup, ep.target_ref.as_ref()) {
                if let Some(p) = port.port {
                    add_pod_port_labels(&mut t, pod, p, &s(&port.protocol), lookup);
                    seen.record(pod, p);
                } else {
                    t.extend(pod_labels(pod, lookup));
                }
            }
            group.targets.push(t);
        }
    }
    group.targets.extend(seen.remaining_targets(lookup));
    group
}

pub(crate) fn node_source(name: &str) -> String {
    format!("node/{name}")
}

/// The address Prometheus picks for a node: the first of its
/// InternalIP, InternalDNS, ExternalIP, ExternalDNS, LegacyHostIP,
/// Hostname addresses; and every type's first address.
fn node_address(node: &Node) -> (Option<String>, BTreeMap<String, String>) {
    let mut first: BTreeMap<String, String> = BTreeMap::new();
    for a in node
        .status
        .as_ref()
        .and_then(|st| st.addresses.as_ref())
        .into_iter()
        .flatten()
    {
        first
            .entry(a.type_.clone())
            .or_insert_with(|| a.address.clone());
    }
    let chosen = [
        "InternalIP",
        "InternalDNS",
        "ExternalIP",
        "ExternalDNS",
        "LegacyHostIP",
        "Hostname",
    ]
    .iter()
    .find_map(|t| first.get(*t).cloned());
    (chosen, first)
}

/// The node role: one target per node, at its kubelet port. `None` for a
/// node without a known address (Prometheus sends nothing for it).
pub(crate) fn build_node(node: &Node) -> Option<Group> {
    let name = name_of(&node.metadata);
    let mut group = Group::empty(node_source(name));
    let mut labels = Labels::new();
    add_object_meta_labels(&mut labels, &node.metadata, "node");
    labels.insert(
        format!("{PREFIX}node_provider_id"),
        node.spec
            .as_ref()
            .map(|sp| s(&sp.provider_id))
            .unwrap_or_default(),
    );
    group.labels = labels;
    let (address, by_type) = node_address(node);
    let address = address?;
    let port = node
        .status
        .as_ref()
        .and_then(|st| st.daemon_endpoints.as_ref())
        .and_then(|d| d.kubelet_endpoint.as_ref())
        .map(|k| k.port)
        .unwrap_or(0);
    let mut t = Labels::new();
    t.insert(ADDRESS.into(), join_host_port(&address, port));
    t.insert("instance".into(), name.to_owned());
    for (kind, a) in by_type {
        t.insert(sanitize(&format!("{PREFIX}node_address_{kind}")), a);
    }
    group.targets.push(t);
    Some(group)
}

pub(crate) fn ingress_source(namespace: &str, name: &str) -> String {
    format!("ingress/{namespace}/{name}")
}

/// Whether `host` is covered by a TLS host pattern (`*.example.com`
/// covers one label).
fn matches_host(patterns: &[String], host: &str) -> bool {
    patterns.iter().any(|pattern| {
        if pattern == host {
            return true;
        }
        let p: Vec<&str> = pattern.split('.').collect();
        let h: Vec<&str> = host.split('.').collect();
        p.len() == h.len() && p.len() > 1 && p[0] == "*" && p[1..] == h[1..]
    })
}

/// The ingress role: one target per rule host and path, `https` where a
/// TLS entry covers the host.
pub(crate) fn build_ingress(ingress: &Ingress, lookup: &dyn Lookup) -> Group {
    let ns = namespace_of(&ingress.metadata);
    let mut group = Group::empty(ingress_source(ns, name_of(&ingress.metadata)));
    let mut labels = Labels::new();
    labels.insert(NAMESPACE.into(), ns.to_owned());
    add_object_meta_labels(&mut labels, &ingress.metadata, "ingress");
    let spec = ingress.spec.as_ref();
    if let Some(class) = spec.and_then(|sp| sp.ingress_class_name.as_ref()) {
        labels.insert(format!("{PREFIX}ingress_class_name"), class.clone());
    }
    add_namespace_labels(&mut labels, lookup, ns);
    group.labels = labels;
    let Some(spec) = spec else { return group };
    let tls_hosts: Vec<String> = spec
        .tls
        .iter()
        .flatten()
        .flat_map(|t| t.hosts.iter().flatten().cloned())
        .collect();
    for rule in spec.rules.iter().flatten() {
        let host = s(&rule.host);
        let scheme = if matches_host(&tls_hosts, &host) {
            "https"
        } else {
            "http"
        };
        let paths: Vec<String> = match &rule.http {
            None => vec!["/".into()],
            Some(http) => http
                .paths
                .iter()
                .map(|p| match p.path.as_deref() {
                    None | Some("") => "/".to_owned(),
                    Some(path) => path.to_owned(),
                })
                .collect(),
        };
        for path in paths {
            let mut t = Labels::new();
            t.insert(ADDRESS.into(), host.clone());
            t.insert(format!("{PREFIX}ingress_scheme"), scheme.into());
            t.insert(format!("{PREFIX}ingress_host"), host.clone());
            t.insert(format!("{PREFIX}ingress_path"), path);
            group.targets.push(t);
        }
    }
    group
}
