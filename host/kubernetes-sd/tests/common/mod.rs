//! A Kubernetes API server for the tests, on 127.0.0.1: lists (`GET
//! /api/v1/pods`, `/api/v1/namespaces/<ns>/pods`, `/apis/<group>/<version>/…`)
//! and watches (`?watch=true`, newline-delimited JSON events over a chunked
//! body, from the requested resource version on) of the objects the test
//! puts in, with label (`k=v`, `k!=v`, `k`) and field (`metadata.name=`,
//! `metadata.namespace=`, `spec.nodeName=`) selectors, as a real server
//! answers; plus what a real server can also do: drop watches, answer
//! garbage, answer huge objects or never answer.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use wasmetheus_kubernetes_sd::{Group, KubernetesDiscovery};

/// How the server answers lists of one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// `200 OK` with a body that is not JSON.
    Malformed,
    /// Accepts the request and never answers.
    Hang,
    /// `503 Service Unavailable`, as an API server that is restarting.
    Unavailable,
    /// A list that never ends: pods, pods, pods…
    Endless,
}

struct Inner {
    rv: u64,
    /// resource → (namespace, name) → object.
    objects: HashMap<String, BTreeMap<(String, String), Value>>,
    /// Every change: resource version, resource, event type, object.
    events: Vec<(u64, String, &'static str, Value)>,
    modes: HashMap<String, Mode>,
    /// Raised to end every open watch.
    generation: u64,
    requests: Vec<(String, Option<String>)>,
    /// Watches from before this resource version get `410 Gone`.
    oldest: u64,
}

#[derive(Clone)]
pub struct Fake {
    inner: Arc<Mutex<Inner>>,
    wake: broadcast::Sender<()>,
    pub addr: SocketAddr,
    scheme: &'static str,
}

/// TLS connections for `axum::serve` (failed handshakes are skipped).
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

fn resource_of(kind: &str) -> &'static str {
    match kind {
        "Pod" => "pods",
        "Service" => "services",
        "Endpoints" => "endpoints",
        "EndpointSlice" => "endpointslices",
        "Node" => "nodes",
        "Ingress" => "ingresses",
        "Namespace" => "namespaces",
        "ReplicaSet" => "replicasets",
        "Job" => "jobs",
        other => panic!("no resource for kind {other}"),
    }
}

fn list_kind(resource: &str) -> &'static str {
    match resource {
        "pods" => "PodList",
        "services" => "ServiceList",
        "endpoints" => "EndpointsList",
        "endpointslices" => "EndpointSliceList",
        "nodes" => "NodeList",
        "ingresses" => "IngressList",
        "namespaces" => "NamespaceList",
        "replicasets" => "ReplicaSetList",
        "jobs" => "JobList",
        _ => "List",
    }
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj["metadata"][field].as_str().unwrap_or("")
}

/// `k=v`, `k==v`, `k!=v`, `k`, `!k` terms, comma-separated.
fn labels_match(obj: &Value, selector: &str) -> bool {
    let labels = &obj["metadata"]["labels"];
    selector.split(',').filter(|t| !t.is_empty()).all(|term| {
        let term = term.trim();
        if let Some((k, v)) = term.split_once("!=") {
            labels[k.trim()].as_str() != Some(v.trim())
        } else if let Some((k, v)) = term.split_once('=') {
            labels[k.trim()].as_str() == Some(v.trim_start_matches('=').trim())
        } else if let Some(k) = term.strip_prefix('!') {
            labels[k].is_null()
        } else {
            !labels[term].is_null()
        }
    })
}

fn fields_match(obj: &Value, selector: &str) -> bool {
    selector.split(',').filter(|t| !t.is_empty()).all(|term| {
        let (k, v, equal) = match term.split_once("!=") {
            Some((k, v)) => (k, v, false),
            None => {
                let (k, v) = term.split_once('=').expect("field selector term");
                (k, v.trim_start_matches('='), true)
            }
        };
        let actual = match k {
            "metadata.name" => meta_str(obj, "name"),
            "metadata.namespace" => meta_str(obj, "namespace"),
            "spec.nodeName" => obj["spec"]["nodeName"].as_str().unwrap_or(""),
            "status.phase" => obj["status"]["phase"].as_str().unwrap_or(""),
            other => panic!("field selector {other} not known to the test server"),
        };
        (actual == v) == equal
    })
}

struct Query {
    watch: bool,
    rv: u64,
    labels: String,
    fields: String,
}

fn parse_query(q: Option<&str>) -> Query {
    let mut out = Query {
        watch: false,
        rv: 0,
        labels: String::new(),
        fields: String::new(),
    };
    for pair in q.unwrap_or("").split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "watch" => out.watch = v == "true" || v == "1",
            "resourceVersion" => out.rv = v.parse().unwrap_or(0),
            "labelSelector" => out.labels = v,
            "fieldSelector" => out.fields = v,
            _ => {}
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `(namespace, resource)` of an API path.
fn parse_path(path: &str) -> Option<(Option<String>, String)> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match parts.as_slice() {
        ["api", "v1", rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return None,
    };
    match rest {
        [resource] => Some((None, resource.to_string())),
        ["namespaces", ns, resource] => Some((Some(ns.to_string()), resource.to_string())),
        _ => None,
    }
}

fn visible(obj: &Value, ns: &Option<String>, q: &Query) -> bool {
    ns.as_deref()
        .is_none_or(|n| meta_str(obj, "namespace") == n)
        && labels_match(obj, &q.labels)
        && fields_match(obj, &q.fields)
}

async fn handle(State(fake): State<Fake>, headers: HeaderMap, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    fake.inner.lock().unwrap().requests.push((
        format!("{path}?{}", query.clone().unwrap_or_default()),
        auth,
    ));
    let Some((ns, resource)) = parse_path(&path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let q = parse_query(query.as_deref());
    let mode = fake
        .inner
        .lock()
        .unwrap()
        .modes
        .get(&resource)
        .copied()
        .unwrap_or(Mode::Normal);
    match mode {
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return StatusCode::GATEWAY_TIMEOUT.into_response();
        }
        Mode::Malformed => {
            return (
                StatusCode::OK,
                [("content-type", "application/json")],
                "{\"kind\": \"PodList\", \"items\": [{\"metadata\": ",
            )
                .into_response();
        }
        Mode::Endless => {
            let pod = json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": []}}).to_string() + ",";
            let chunk = Bytes::from(pod.repeat(64 * 1024 / pod.len() + 1));
            let head = futures::stream::once(async {
                Ok::<_, std::io::Error>(Bytes::from_static(
                    b"{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{},\"items\":[",
                ))
            });
            let tail = futures::stream::repeat_with(move || Ok(chunk.clone()));
            return Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Body::from_stream(futures::StreamExt::chain(head, tail)))
                .unwrap();
        }
        Mode::Unavailable => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [("content-type", "application/json")],
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "the server is currently unable to handle the request", "reason": "ServiceUnavailable", "code": 503}).to_string(),
            )
                .into_response();
        }
        Mode::Normal => {}
    }
    if q.watch {
        return watch(fake, ns, resource, q).await;
    }
    let inner = fake.inner.lock().unwrap();
    let items: Vec<Value> = inner
        .objects
        .get(&resource)
        .into_iter()
        .flat_map(|m| m.values())
        .filter(|o| visible(o, &ns, &q))
        .map(|o| {
            // Items of a real list carry no kind or apiVersion.
            let mut o = o.clone();
            if let Some(m) = o.as_object_mut() {
                m.remove("kind");
                m.remove("apiVersion");
            }
            o
        })
        .collect();
    let body = json!({
        "kind": list_kind(&resource),
        "apiVersion": "v1",
        "metadata": {"resourceVersion": inner.rv.to_string()},
        "items": items,
    });
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn watch(fake: Fake, ns: Option<String>, resource: String, q: Query) -> Response {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    if q.rv < fake.inner.lock().unwrap().oldest {
        let gone = json!({
            "type": "ERROR",
            "object": {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": format!("too old resource version: {} ({})", q.rv, fake.inner.lock().unwrap().oldest),
                "reason": "Expired",
                "code": 410
            }
        });
        return Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from(gone.to_string() + "\n"))
            .unwrap();
    }
    let mut wake = fake.wake.subscribe();
    let generation = fake.inner.lock().unwrap().generation;
    tokio::spawn(async move {
        let mut from = q.rv;
        loop {
            let (lines, gen_now) = {
                let inner = fake.inner.lock().unwrap();
                let lines: Vec<(u64, String)> = inner
                    .events
                    .iter()
                    .filter(|(rv, r, _, o)| *rv > from && *r == resource && visible(o, &ns, &q))
                    .map(|(rv, _, t, o)| (*rv, json!({"type": t, "object": o}).to_string() + "\n"))
                    .collect();
                (lines, inner.generation)
            };
            if gen_now != generation {
                return; // dropped: the body ends
            }
            for (rv, line) in lines {
                from = rv;
                if tx.send(Ok(Bytes::from(line))).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                r = wake.recv() => if matches!(r, Err(broadcast::error::RecvError::Closed)) { return },
                () = tx.closed() => return,
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap()
}

impl Fake {
    pub async fn start() -> Fake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = Fake::new(listener.local_addr().unwrap(), "http");
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(fake.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        fake
    }

    /// The same server over TLS with the PEM certificate chain and key
    /// given.
    pub async fn start_tls(cert: &std::path::Path, key: &std::path::Path) -> Fake {
        use rustls_pki_types::pem::PemObject;
        let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_file_iter(cert)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = rustls_pki_types::PrivateKeyDer::from_pem_file(key).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = Fake::new(tcp.local_addr().unwrap(), "https");
        let listener = TlsListener {
            tcp,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        };
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(fake.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        fake
    }

    fn new(addr: SocketAddr, scheme: &'static str) -> Fake {
        let (wake, _) = broadcast::channel(1024);
        Fake {
            inner: Arc::new(Mutex::new(Inner {
                rv: 1,
                objects: HashMap::new(),
                events: Vec::new(),
                modes: HashMap::new(),
                generation: 0,
                requests: Vec::new(),
                oldest: 0,
            })),
            wake,
            addr,
            scheme,
        }
    }

    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Adds or replaces an object (ADDED or MODIFIED for watchers).
    pub fn put(&self, mut obj: Value) {
        let resource = resource_of(obj["kind"].as_str().expect("object without kind")).to_owned();
        let mut inner = self.inner.lock().unwrap();
        inner.rv += 1;
        let rv = inner.rv;
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        let key = (
            meta_str(&obj, "namespace").to_owned(),
            meta_str(&obj, "name").to_owned(),
        );
        let existed = inner
            .objects
            .entry(resource.clone())
            .or_default()
            .insert(key, obj.clone())
            .is_some();
        let kind = if existed { "MODIFIED" } else { "ADDED" };
        inner.events.push((rv, resource, kind, obj));
        drop(inner);
        let _ = self.wake.send(());
    }

    /// Every object of a JSON fixture file (a list of objects).
    pub fn put_fixture(&self, name: &str) {
        for obj in fixture(name) {
            self.put(obj);
        }
    }

    pub fn delete(&self, kind: &str, namespace: &str, name: &str) {
        let resource = resource_of(kind).to_owned();
        let mut inner = self.inner.lock().unwrap();
        inner.rv += 1;
        let rv = inner.rv;
        let Some(mut obj) = inner
            .objects
            .get_mut(&resource)
            .and_then(|m| m.remove(&(namespace.to_owned(), name.to_owned())))
        else {
            panic!("no {kind} {namespace}/{name} to delete");
        };
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        inner.events.push((rv, resource, "DELETED", obj));
        drop(inner);
        let _ = self.wake.send(());
    }

    /// Ends every open watch, as an API server restart or a load balancer
    /// does.
    pub fn drop_watches(&self) {
        self.inner.lock().unwrap().generation += 1;
        let _ = self.wake.send(());
    }

    /// Forgets the event history, as etcd compaction does: watches from an
    /// older resource version must list again.
    pub fn compact(&self) {
        let mut inner = self.inner.lock().unwrap();
        inner.oldest = inner.rv;
    }

    pub fn set_mode(&self, resource: &str, mode: Mode) {
        self.inner
            .lock()
            .unwrap()
            .modes
            .insert(resource.to_owned(), mode);
    }

    /// Requests so far: path with query, Authorization header.
    pub fn requests(&self) -> Vec<(String, Option<String>)> {
        self.inner.lock().unwrap().requests.clone()
    }
}

pub fn fixture(name: &str) -> Vec<Value> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A checked `kubernetes_sd_configs` entry from YAML.
pub fn sd_config(yaml: &str) -> wasmetheus_config::sd::kubernetes::KubernetesSdConfig {
    let mut c: wasmetheus_config::sd::kubernetes::KubernetesSdConfig =
        serde_saphyr::from_str(yaml).unwrap();
    c.validate().unwrap();
    c
}

/// The discovery's groups as they stand: each source's last group.
pub struct Collector {
    rx: mpsc::Receiver<Vec<Group>>,
    pub groups: BTreeMap<String, Group>,
    pub batches: usize,
    _task: tokio::task::JoinHandle<()>,
}

impl Collector {
    pub async fn start(fake: &Fake, yaml: &str) -> Collector {
        let config = sd_config(&format!("api_server: {}\n{yaml}", fake.url()));
        let discovery = KubernetesDiscovery::new(&config, std::path::Path::new("/"))
            .await
            .unwrap();
        Collector::run(discovery)
    }

    pub fn run(discovery: KubernetesDiscovery) -> Collector {
        let (tx, rx) = mpsc::channel(64);
        let task = tokio::spawn(discovery.run(tx));
        Collector {
            rx,
            groups: BTreeMap::new(),
            batches: 0,
            _task: task,
        }
    }

    /// Applies updates until `done` holds for the groups (with targets);
    /// panics after 20 s with what was there.
    pub async fn until(&mut self, what: &str, done: impl Fn(&BTreeMap<String, Group>) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !done(&self.groups) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(batch)) => {
                    self.batches += 1;
                    for g in batch {
                        if g.targets.is_empty() {
                            self.groups.remove(&g.source);
                        } else {
                            self.groups.insert(g.source.clone(), g);
                        }
                    }
                }
                Ok(None) => panic!("discovery ended while waiting for {what}"),
                Err(_) => panic!("no {what} within 20 s; groups: {:#?}", self.groups),
            }
        }
    }

    /// Whatever arrives within `wait`.
    pub async fn drain(&mut self, wait: Duration) -> Vec<Vec<Group>> {
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Some(batch)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            for g in &batch {
                if g.targets.is_empty() {
                    self.groups.remove(&g.source);
                } else {
                    self.groups.insert(g.source.clone(), g.clone());
                }
            }
            out.push(batch);
        }
        out
    }
}

/// Labels from `(name, value)` pairs.
pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
