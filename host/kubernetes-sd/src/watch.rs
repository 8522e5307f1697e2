//! Listing and watching: one `kube` watcher per kind of object and
//! namespace (with the configured selectors, back-off on errors, re-list
//! when the server asks), merged into one loop that keeps every object in
//! memory and rebuilds the groups an event touches.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
#[allow(deprecated)]
use k8s_openapi::api::core::v1::Endpoints;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use wasmetheus_config::sd::kubernetes::{AttachMetadataConfig, KubernetesRole, KubernetesSdConfig};

use crate::Group;
use crate::targets::{self, Lookup};

type Key = (String, String);

const ADD: usize = 0;
const UPDATE: usize = 1;
const DELETE: usize = 2;

/// Prometheus' `prometheus_sd_kubernetes_events_total{role, event}`: the
/// objects added, updated and deleted, by kind, since start.
static EVENTS: [[AtomicU64; 3]; 6] = [const { [const { AtomicU64::new(0) }; 3] }; 6];

/// The roles and events of [`EVENTS`], in its order.
pub(crate) const EVENT_ROLES: [&str; 6] = [
    "endpointslice",
    "endpoints",
    "node",
    "pod",
    "service",
    "ingress",
];
pub(crate) const EVENT_NAMES: [&str; 3] = ["add", "update", "delete"];

pub(crate) fn events_total() -> Vec<(&'static str, &'static str, u64)> {
    let mut out = Vec::new();
    for (r, role) in EVENT_ROLES.iter().enumerate() {
        for (e, event) in EVENT_NAMES.iter().enumerate() {
            out.push((*role, *event, EVENTS[r][e].load(Ordering::Relaxed)));
        }
    }
    out
}

fn count(kind: Kind, counts: &[u64; 3]) {
    let role = match kind {
        Kind::Slice => 0,
        Kind::Endpoints => 1,
        Kind::Node => 2,
        Kind::Pod => 3,
        Kind::Service => 4,
        Kind::Ingress => 5,
        _ => return,
    };
    for (e, n) in counts.iter().enumerate() {
        if *n > 0 {
            EVENTS[role][e].fetch_add(*n, Ordering::Relaxed);
        }
    }
}
type WatchResult<K> = Result<Event<K>, watcher::Error>;

/// One watcher's output, by kind.
#[allow(deprecated)]
enum Update {
    Pod(Box<WatchResult<Pod>>),
    Service(Box<WatchResult<Service>>),
    Endpoints(Box<WatchResult<Endpoints>>),
    Slice(Box<WatchResult<EndpointSlice>>),
    Node(Box<WatchResult<Node>>),
    Ingress(Box<WatchResult<Ingress>>),
    Namespace(Box<WatchResult<Namespace>>),
    ReplicaSet(Box<WatchResult<ReplicaSet>>),
    Job(Box<WatchResult<Job>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pod,
    Service,
    Endpoints,
    Slice,
    Node,
    Ingress,
    Namespace,
    ReplicaSet,
    Job,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Pod => "pods",
            Kind::Service => "services",
            Kind::Endpoints => "endpoints",
            Kind::Slice => "endpointslices",
            Kind::Node => "nodes",
            Kind::Ingress => "ingresses",
            Kind::Namespace => "namespaces",
            Kind::ReplicaSet => "replicasets",
            Kind::Job => "jobs",
        }
    }
}

/// Every object of one kind, each with the watcher it came from.
struct Store<K> {
    objects: BTreeMap<Key, (usize, K)>,
    /// Objects of a list in progress, by watcher.
    pending: HashMap<usize, BTreeMap<Key, K>>,
}

impl<K> Default for Store<K> {
    fn default() -> Self {
        Store {
            objects: BTreeMap::new(),
            pending: HashMap::new(),
        }
    }
}

fn key_of<K: ResourceExt>(obj: &K) -> Key {
    (obj.namespace().unwrap_or_default(), obj.name_any())
}

impl<K: ResourceExt> Store<K> {
    fn get(&self, namespace: &str, name: &str) -> Option<&K> {
        self.objects
            .get(&(namespace.to_owned(), name.to_owned()))
            .map(|(_, k)| k)
    }

    /// Applies one event from watcher `id`; the keys it changed, and
    /// whether it ended a list. Counts the adds, updates and deletes.
    fn apply(&mut self, id: usize, event: Event<K>, counts: &mut [u64; 3]) -> (Vec<Key>, bool) {
        match event {
            Event::Init => {
                self.pending.insert(id, BTreeMap::new());
                (Vec::new(), false)
            }
            Event::InitApply(obj) => {
                self.pending
                    .entry(id)
                    .or_default()
                    .insert(key_of(&obj), obj);
                (Vec::new(), false)
            }
            Event::InitDone => {
                let listed = self.pending.remove(&id).unwrap_or_default();
                let mut touched: Vec<Key> = self
                    .objects
                    .iter()
                    .filter(|(k, (owner, _))| *owner == id && !listed.contains_key(*k))
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in &touched {
                    self.objects.remove(k);
                }
                counts[DELETE] += touched.len() as u64;
                for (k, obj) in listed {
                    touched.push(k.clone());
                    let before = self.objects.insert(k, (id, obj));
                    counts[if before.is_some() { UPDATE } else { ADD }] += 1;
                }
                (touched, true)
            }
            Event::Apply(obj) => {
                let k = key_of(&obj);
                let before = self.objects.insert(k.clone(), (id, obj));
                counts[if before.is_some() { UPDATE } else { ADD }] += 1;
                (vec![k], false)
            }
            Event::Delete(obj) => {
                let k = key_of(&obj);
                self.objects.remove(&k);
                counts[DELETE] += 1;
                (vec![k], false)
            }
        }
    }

    fn keys_where(&self, f: impl Fn(&Key, &K) -> bool) -> Vec<Key> {
        self.objects
            .iter()
            .filter(|(k, (_, o))| f(k, o))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// Everything watched, and what to attach.
#[derive(Default)]
#[allow(deprecated)]
struct State {
    attach: AttachMetadataConfig,
    pods: Store<Pod>,
    services: Store<Service>,
    endpoints: Store<Endpoints>,
    slices: Store<EndpointSlice>,
    nodes: Store<Node>,
    ingresses: Store<Ingress>,
    namespaces: Store<Namespace>,
    replica_sets: Store<ReplicaSet>,
    jobs: Store<Job>,
}

impl Lookup for State {
    fn service(&self, namespace: &str, name: &str) -> Option<&Service> {
        self.services.get(namespace, name)
    }
    fn pod(&self, namespace: &str, name: &str) -> Option<&Pod> {
        self.pods.get(namespace, name)
    }
    fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.get("", name)
    }
    fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.namespaces.get("", name)
    }
    fn replica_set(&self, namespace: &str, name: &str) -> Option<&ReplicaSet> {
        self.replica_sets.get(namespace, name)
    }
    fn job(&self, namespace: &str, name: &str) -> Option<&Job> {
        self.jobs.get(namespace, name)
    }
    fn attach(&self) -> &AttachMetadataConfig {
        &self.attach
    }
}

/// The kinds a role watches besides its own: related objects whose
/// labels go into its groups.
fn kinds_for(config: &KubernetesSdConfig) -> Vec<Kind> {
    let attach = &config.attach_metadata;
    let mut kinds = match config.role() {
        KubernetesRole::Pod => vec![Kind::Pod],
        KubernetesRole::Service => vec![Kind::Service],
        KubernetesRole::Endpoints => vec![Kind::Endpoints, Kind::Service, Kind::Pod],
        KubernetesRole::EndpointSlice => vec![Kind::Slice, Kind::Service, Kind::Pod],
        KubernetesRole::Node => return vec![Kind::Node],
        KubernetesRole::Ingress => vec![Kind::Ingress],
    };
    let with_pods = kinds.contains(&Kind::Pod);
    if attach.node && with_pods {
        kinds.push(Kind::Node);
    }
    if attach.namespace {
        kinds.push(Kind::Namespace);
    }
    if attach.deployment && with_pods {
        kinds.push(Kind::ReplicaSet);
    }
    if attach.cronjob && with_pods {
        kinds.push(Kind::Job);
    }
    kinds
}

fn selector_role(kind: Kind) -> Option<KubernetesRole> {
    Some(match kind {
        Kind::Pod => KubernetesRole::Pod,
        Kind::Service => KubernetesRole::Service,
        Kind::Endpoints => KubernetesRole::Endpoints,
        Kind::Slice => KubernetesRole::EndpointSlice,
        Kind::Node => KubernetesRole::Node,
        Kind::Ingress => KubernetesRole::Ingress,
        _ => return None,
    })
}

fn watch_stream<K>(
    api: Api<K>,
    (label, field): (&str, &str),
    id: usize,
    wrap: fn(WatchResult<K>) -> Update,
) -> BoxStream<'static, (usize, Update)>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let mut config = watcher::Config::default();
    if !label.is_empty() {
        config = config.labels(label);
    }
    if !field.is_empty() {
        config = config.fields(field);
    }
    watcher::watcher(api, config)
        .default_backoff()
        .map(move |r| (id, wrap(r)))
        .boxed()
}

fn namespaced<K>(client: &kube::Client, namespaces: &[String]) -> Vec<Api<K>>
where
    K: Resource<Scope = NamespaceResourceScope>,
    K::DynamicType: Default,
{
    if namespaces.is_empty() {
        vec![Api::all(client.clone())]
    } else {
        namespaces
            .iter()
            .map(|ns| Api::namespaced(client.clone(), ns))
            .collect()
    }
}

#[allow(deprecated)]
fn streams(
    client: &kube::Client,
    config: &KubernetesSdConfig,
    namespaces: &[String],
) -> Vec<(Kind, BoxStream<'static, (usize, Update)>)> {
    let mut out = Vec::new();
    for kind in kinds_for(config) {
        let sel = selector_role(kind)
            .map(|r| config.selector(r))
            .unwrap_or(("", ""));
        let mut add = |s: BoxStream<'static, (usize, Update)>| out.push((kind, s));
        macro_rules! per_namespace {
            ($t:ty, $wrap:expr) => {
                for api in namespaced::<$t>(client, namespaces) {
                    let id = next_id();
                    add(watch_stream(api, sel, id, $wrap));
                }
            };
        }
        match kind {
            Kind::Pod => per_namespace!(Pod, |r| Update::Pod(Box::new(r))),
            Kind::Service => per_namespace!(Service, |r| Update::Service(Box::new(r))),
            Kind::Endpoints => per_namespace!(Endpoints, |r| Update::Endpoints(Box::new(r))),
            Kind::Slice => per_namespace!(EndpointSlice, |r| Update::Slice(Box::new(r))),
            Kind::Ingress => per_namespace!(Ingress, |r| Update::Ingress(Box::new(r))),
            Kind::ReplicaSet => per_namespace!(ReplicaSet, |r| Update::ReplicaSet(Box::new(r))),
            Kind::Job => per_namespace!(Job, |r| Update::Job(Box::new(r))),
            Kind::Node => {
                let id = next_id();
                add(watch_stream(Api::all(client.clone()), sel, id, |r| {
                    Update::Node(Box::new(r))
                }));
            }
            Kind::Namespace => {
                let id = next_id();
                add(watch_stream(Api::all(client.clone()), sel, id, |r| {
                    Update::Namespace(Box::new(r))
                }));
            }
        }
    }
    out
}

fn next_id() -> usize {
    use std::sync::atomic::AtomicUsize;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The primary objects (those of the role) whose groups a change of
/// `kind` objects `keys` touches.
fn affected(state: &State, role: KubernetesRole, kind: Kind, keys: &[Key]) -> BTreeSet<Key> {
    let primary = match role {
        KubernetesRole::Pod => Kind::Pod,
        KubernetesRole::Service => Kind::Service,
        KubernetesRole::Endpoints => Kind::Endpoints,
        KubernetesRole::EndpointSlice => Kind::Slice,
        KubernetesRole::Node => Kind::Node,
        KubernetesRole::Ingress => Kind::Ingress,
    };
    if kind == primary {
        return keys.iter().cloned().collect();
    }
    let namespaces: HashSet<&str> = keys.iter().map(|(ns, _)| ns.as_str()).collect();
    let names: HashSet<&str> = keys.iter().map(|(_, n)| n.as_str()).collect();
    let in_namespaces = |k: &Key| namespaces.contains(k.0.as_str());
    // Namespace objects are keyed by their name.
    let in_named_namespaces = |k: &Key| names.contains(k.0.as_str());
    let all = |_: &Key| true;
    let select = |f: &dyn Fn(&Key) -> bool| -> Vec<Key> {
        match primary {
            Kind::Pod => state.pods.keys_where(|k, _| f(k)),
            Kind::Service => state.services.keys_where(|k, _| f(k)),
            Kind::Endpoints => state.endpoints.keys_where(|k, _| f(k)),
            Kind::Slice => state.slices.keys_where(|k, _| f(k)),
            Kind::Ingress => state.ingresses.keys_where(|k, _| f(k)),
            _ => Vec::new(),
        }
    };
    let out = match kind {
        Kind::Namespace => select(&in_named_namespaces),
        Kind::ReplicaSet | Kind::Job => select(&in_namespaces),
        Kind::Node if primary == Kind::Pod => state.pods.keys_where(|_, p| {
            p.spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .is_some_and(|n| names.contains(n))
        }),
        Kind::Node => select(&all),
        Kind::Service if primary == Kind::Endpoints => keys
            .iter()
            .filter(|k| state.endpoints.objects.contains_key(*k))
            .cloned()
            .collect(),
        Kind::Service if primary == Kind::Slice => state.slices.keys_where(|k, s| {
            targets::slice_service(s)
                .is_some_and(|svc| keys.contains(&(k.0.clone(), svc.to_owned())))
        }),
        Kind::Pod if primary == Kind::Endpoints =>
        {
            #[allow(deprecated)]
            state.endpoints.keys_where(|k, e| {
                e.subsets.iter().flatten().any(|s| {
                    s.addresses
                        .iter()
                        .flatten()
                        .chain(s.not_ready_addresses.iter().flatten())
                        .any(|a| refers_to_pod(a.target_ref.as_ref(), &k.0, keys))
                })
            })
        }
        Kind::Pod if primary == Kind::Slice => state.slices.keys_where(|k, s| {
            s.endpoints
                .iter()
                .any(|e| refers_to_pod(e.target_ref.as_ref(), &k.0, keys))
        }),
        _ => Vec::new(),
    };
    out.into_iter().collect()
}

fn refers_to_pod(
    r: Option<&k8s_openapi::api::core::v1::ObjectReference>,
    default_ns: &str,
    pods: &[Key],
) -> bool {
    let Some(r) = r else { return false };
    if r.kind.as_deref() != Some("Pod") {
        return false;
    }
    let ns = r.namespace.as_deref().unwrap_or(default_ns);
    let name = r.name.as_deref().unwrap_or("");
    pods.iter().any(|(pns, pname)| pns == ns && pname == name)
}

/// The group of primary object `key` as it stands (`None`: send nothing).
fn build(state: &State, role: KubernetesRole, key: &Key) -> Option<Group> {
    let (ns, name) = (key.0.as_str(), key.1.as_str());
    Some(match role {
        KubernetesRole::Pod => match state.pods.get(ns, name) {
            Some(p) => targets::build_pod(p, state),
            None => Group::empty(targets::pod_source(ns, name)),
        },
        KubernetesRole::Service => match state.services.get(ns, name) {
            Some(s) => targets::build_service(s, state),
            None => Group::empty(targets::service_source(ns, name)),
        },
        KubernetesRole::Endpoints => match state.endpoints.get(ns, name) {
            Some(e) => targets::build_endpoints(e, state),
            None => Group::empty(targets::endpoints_source(ns, name)),
        },
        KubernetesRole::EndpointSlice => match state.slices.get(ns, name) {
            Some(s) => targets::build_endpointslice(s, state),
            None => Group::empty(targets::endpointslice_source(ns, name)),
        },
        KubernetesRole::Node => match state.nodes.get(ns, name) {
            Some(n) => targets::build_node(n)?,
            None => Group::empty(targets::node_source(name)),
        },
        KubernetesRole::Ingress => match state.ingresses.get(ns, name) {
            Some(i) => targets::build_ingress(i, state),
            None => Group::empty(targets::ingress_source(ns, name)),
        },
    })
}

fn primary_keys(state: &State, role: KubernetesRole) -> Vec<Key> {
    match role {
        KubernetesRole::Pod => state.pods.objects.keys().cloned().collect(),
        KubernetesRole::Service => state.services.objects.keys().cloned().collect(),
        KubernetesRole::Endpoints => state.endpoints.objects.keys().cloned().collect(),
        KubernetesRole::EndpointSlice => state.slices.objects.keys().cloned().collect(),
        KubernetesRole::Node => state.nodes.objects.keys().cloned().collect(),
        KubernetesRole::Ingress => state.ingresses.objects.keys().cloned().collect(),
    }
}

/// Applies a watcher's update; the kind and keys it changed (empty while
/// a list is in progress) and whether it finished a list.
fn apply(
    state: &mut State,
    id: usize,
    update: Update,
    role: KubernetesRole,
) -> Option<(Kind, Vec<Key>, bool)> {
    macro_rules! on {
        ($kind:expr, $store:ident, $r:expr) => {
            match *$r {
                Ok(event) => {
                    let mut counts = [0; 3];
                    let (keys, done) = state.$store.apply(id, event, &mut counts);
                    count($kind, &counts);
                    Some(($kind, keys, done))
                }
                Err(e) => {
                    tracing::warn!(
                        role = role.as_str(),
                        kind = $kind.name(),
                        error = %e,
                        "kubernetes_sd: listing or watching failed; retrying, the last targets stay"
                    );
                    None
                }
            }
        };
    }
    match update {
        Update::Pod(r) => on!(Kind::Pod, pods, r),
        Update::Service(r) => on!(Kind::Service, services, r),
        Update::Endpoints(r) => on!(Kind::Endpoints, endpoints, r),
        Update::Slice(r) => on!(Kind::Slice, slices, r),
        Update::Node(r) => on!(Kind::Node, nodes, r),
        Update::Ingress(r) => on!(Kind::Ingress, ingresses, r),
        Update::Namespace(r) => on!(Kind::Namespace, namespaces, r),
        Update::ReplicaSet(r) => on!(Kind::ReplicaSet, replica_sets, r),
        Update::Job(r) => on!(Kind::Job, jobs, r),
    }
}

pub(crate) async fn run(
    client: kube::Client,
    config: KubernetesSdConfig,
    namespaces: Vec<String>,
    updates: mpsc::Sender<Vec<Group>>,
) {
    let role = config.role();
    let mut state = State {
        attach: config.attach_metadata.clone(),
        ..State::default()
    };
    let all = streams(&client, &config, &namespaces);
    // Nothing is sent before every watcher has listed once (Prometheus
    // waits for its informers' caches the same way).
    let total = all.len();
    let mut merged = futures::stream::select_all(all.into_iter().map(|(_, s)| s));
    let mut listed: HashSet<usize> = HashSet::new();
    let mut synced = false;
    let mut sent: HashMap<String, Group> = HashMap::new();
    loop {
        let next = tokio::select! {
            next = merged.next() => next,
            () = updates.closed() => return,
        };
        let Some((id, update)) = next else { return };
        let Some((kind, keys, done)) = apply(&mut state, id, update, role) else {
            continue;
        };
        if done {
            listed.insert(id);
        }
        let keys: BTreeSet<Key> = if !synced {
            if listed.len() < total {
                continue;
            }
            synced = true;
            primary_keys(&state, role).into_iter().collect()
        } else {
            affected(&state, role, kind, &keys)
        };
        let mut batch = Vec::new();
        for key in &keys {
            let Some(group) = build(&state, role, key) else {
                continue;
            };
            if group.targets.is_empty() {
                if sent.remove(&group.source).is_some() {
                    batch.push(group);
                }
            } else if sent.get(&group.source) != Some(&group) {
                sent.insert(group.source.clone(), group.clone());
                batch.push(group);
            }
        }
        if batch.is_empty() {
            continue;
        }
        if updates.send(batch).await.is_err() {
            return;
        }
    }
}
