//! `wasmetheus-api`: the HTTP endpoints — Prometheus' API v1 (`query`,
//! `query_range`, `series`, `labels`, `status/*`, …), `/metrics`,
//! `/plugins/<instance>/metrics`, `/api/v1/plugins`, `/api/v1/rules`,
//! `/api/v1/alerts`, `/api/v1/alertmanagers`,
//! `/api/v1/admin/tsdb/*`, `/-/healthy`, `/-/ready`, `/-/reload`, the remote
//! write receiver `/api/v1/write` and remote read `/api/v1/read`; and, on
//! its own router ([`router_v2`] over [`AlertmanagerBackend`]),
//! Alertmanager's API v2 (`/api/v2/*`).
//!
//! It talks to the rest of the server only through [`Backend`], so it knows
//! nothing of wasm, scraping internals or configuration files. What the
//! backend reports (plugins, targets, runtime and TSDB status, metadata,
//! rule groups and alerts, Alertmanagers)
//! comes as the typed data of [`types`], which this crate serialises: every
//! JSON shape of the API is written here.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use wasmetheus_model::storage::{Matcher, Queryable};
use wasmetheus_model::{MetricFamily, openmetrics, text};

mod admin;
mod alertmanager;
mod params;
mod parse_query;
mod remote;
mod rules;
pub mod types;
/// Go's (and jsoniter's) JSON string escaping, for clients that must
/// write what Prometheus' tools write.
mod v1;

pub use alertmanager::{AlertmanagerBackend, MAX_V2_BODY, SilenceError, router_v2};
pub use remote::{MAX_READ_BODY, MAX_WRITE_BODY, RECEIVER_DISABLED};

pub type ReloadFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
/// The outcome of an admin operation, or why it failed.
pub type AdminFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// One active scrape target and the metric families of its last good
/// scrape, for `/api/v1/targets/metadata`.
#[derive(Debug, Clone)]
pub struct TargetMetadata {
    /// The target's labels (`job`, `instance` and the rest), sorted by name.
    pub labels: Vec<wasmetheus_model::Label>,
    /// Its families' names, types, help and units (samples may be empty).
    pub families: Arc<Vec<MetricFamily>>,
}

/// What the HTTP layer needs from the server.
pub trait Backend: Send + Sync + 'static {
    /// The host's own metrics.
    fn self_metrics(&self) -> Vec<MetricFamily>;
    /// The latest collection of a plugin instance; `None` if there is no such
    /// instance, `Some(Err)` if its last collection failed.
    fn instance_metrics(&self, instance: &str) -> Option<Result<Arc<Vec<MetricFamily>>, String>>;
    /// The `data` of `/api/v1/plugins`.
    fn plugins_status(&self) -> Vec<types::PluginStatus>;
    /// Reloads the configuration; an error leaves the old one in force.
    fn reload(&self) -> ReloadFuture<'_>;
    /// Whether the TSDB admin endpoints are on (`--web.enable-admin-api`).
    fn admin_enabled(&self) -> bool {
        false
    }
    /// Writes a snapshot of the TSDB; returns its name (the directory under
    /// `<storage.tsdb.path>/snapshots`).
    fn tsdb_snapshot(&self, _skip_head: bool) -> AdminFuture<'_, String> {
        Box::pin(async { Err("this server has no TSDB".to_owned()) })
    }
    /// Deletes the samples in `[start, end]` of the series matching any
    /// of `selectors`.
    fn tsdb_delete_series(
        &self,
        _selectors: Vec<Vec<Matcher>>,
        _start: i64,
        _end: i64,
    ) -> AdminFuture<'_, ()> {
        Box::pin(async { Err("this server has no TSDB".to_owned()) })
    }
    /// Rewrites stored data without the deleted samples.
    fn tsdb_clean_tombstones(&self) -> AdminFuture<'_, ()> {
        Box::pin(async { Err("this server has no TSDB".to_owned()) })
    }
    /// What queries read.
    fn queryable(&self) -> Option<Arc<dyn Queryable>> {
        None
    }
    /// The PromQL engine with the server's `--query.*` settings.
    fn engine(&self) -> wasmetheus_promql::engine::Engine {
        wasmetheus_promql::engine::Engine::default()
    }
    /// The `--query.max-concurrency` gate queries wait at; `None`: no
    /// limit.
    fn query_gate(&self) -> Option<Arc<QueryGate>> {
        None
    }
    /// The command-line flags, as `status/flags` lists them.
    fn flags(&self) -> std::collections::BTreeMap<String, String> {
        std::collections::BTreeMap::new()
    }
    /// The configuration in force, as `status/config` shows it.
    fn config_text(&self) -> String {
        String::new()
    }
    /// The `data` of `status/runtimeinfo`.
    fn runtime_info(&self) -> types::RuntimeInfo;
    /// The `data` of `/api/v1/metadata`: metric name → its type, help and
    /// unit as the targets expose them.
    fn metadata(&self) -> types::Metadata {
        types::Metadata::new()
    }
    /// The active targets with the metadata they exposed, ordered by job
    /// and then labels.
    fn targets_metadata(&self) -> Vec<TargetMetadata> {
        Vec::new()
    }
    /// Whether `/-/reload` may be used (`--web.enable-lifecycle`).
    fn lifecycle_enabled(&self) -> bool {
        false
    }
    /// `global.external_labels`, added by `/federate`.
    fn external_labels(&self) -> Vec<wasmetheus_model::Label> {
        Vec::new()
    }
    /// The `data` of `/api/v1/status/tsdb`.
    fn tsdb_status(&self) -> types::TsdbStatus {
        types::TsdbStatus::default()
    }
    /// The `data` of `/api/v1/targets`.
    fn targets_status(&self) -> types::TargetsStatus {
        types::TargetsStatus::default()
    }
    /// Every rule group with its rules' state and alerts, for
    /// `/api/v1/rules` and `/api/v1/alerts` (which filter, order by file
    /// and name, and page them). None: no rules are loaded.
    fn rule_groups(&self) -> Vec<types::RuleGroup> {
        Vec::new()
    }
    /// The Alertmanagers alerts are sent to, for `/api/v1/alertmanagers`.
    fn alertmanagers_status(&self) -> types::AlertmanagersStatus {
        types::AlertmanagersStatus::default()
    }
    /// The remote write receiver; `None` unless
    /// `--web.enable-remote-write-receiver` is on (`/api/v1/write` is
    /// then 404, as in Prometheus).
    fn remote_write_receiver(&self) -> Option<Arc<wasmetheus_remote::receiver::Receiver>> {
        None
    }
    /// The local storage: what remote writes append to and remote reads
    /// read (without the `remote_read` sources [`queryable`](Self::queryable)
    /// adds).
    fn storage(&self) -> Option<Arc<dyn wasmetheus_model::storage::Storage>> {
        None
    }
    /// The remote read server (`/api/v1/read`), reading [`storage`](Self::storage).
    fn remote_read_server(&self) -> Option<Arc<wasmetheus_remote::read::ReadServer>> {
        None
    }
}

/// `--query.max-concurrency`: at most this many PromQL queries evaluate
/// at once; the others wait for a slot, in arrival order, for as long as
/// their timeout allows, as Prometheus' `ActiveQueryTracker` gate does
/// (the time spent waiting counts against the query's timeout).
pub struct QueryGate {
    slots: Arc<tokio::sync::Semaphore>,
    max: usize,
    waiting: std::sync::atomic::AtomicUsize,
}

/// A query's slot; given back when dropped.
pub struct QuerySlot {
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl QueryGate {
    /// A gate letting `max` queries (at least one) through at once.
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        QueryGate {
            slots: Arc::new(tokio::sync::Semaphore::new(max)),
            max,
            waiting: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// How many queries may evaluate at once.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Queries evaluating now.
    pub fn running(&self) -> usize {
        self.max.saturating_sub(self.slots.available_permits())
    }

    /// Queries waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits up to `timeout` for a slot; `None` if none freed up in time.
    pub async fn enter(&self, timeout: std::time::Duration) -> Option<QuerySlot> {
        use std::sync::atomic::Ordering;
        if let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() {
            return Some(QuerySlot { _permit: permit });
        }
        /// Counts a waiter for as long as it waits, however the wait ends
        /// (the request may also go away).
        struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.waiting);
        match tokio::time::timeout(timeout, Arc::clone(&self.slots).acquire_owned()).await {
            Ok(Ok(permit)) => Some(QuerySlot { _permit: permit }),
            // Timed out (the semaphore is never closed).
            _ => None,
        }
    }
}

/// Waits at the backend's query gate within `engine`'s timeout, which is
/// then shortened by the wait; the answer, if the wait timed out, is
/// Prometheus' (`query timed out in query queue`, 503 `timeout`).
pub(crate) async fn wait_for_query_slot(
    backend: &dyn Backend,
    engine: &mut wasmetheus_promql::engine::Engine,
) -> Result<Option<QuerySlot>, Response> {
    let Some(gate) = backend.query_gate() else {
        return Ok(None);
    };
    let started = std::time::Instant::now();
    match gate.enter(engine.options.timeout).await {
        Some(slot) => {
            engine.options.timeout = engine.options.timeout.saturating_sub(started.elapsed());
            Ok(Some(slot))
        }
        None => Err(params::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "query timed out in query queue",
        )),
    }
}

/// The largest request body read (POSTed forms, admin parameters), as
/// axum's default: a larger one is refused with 413 before it is
/// buffered, so at most this much is held per connection.
pub const MAX_REQUEST_BODY: usize = 2 << 20;

/// A body refused for [`MAX_REQUEST_BODY`] is answered in the API's error
/// shape, saying what the limit is (axum's own text does not).
async fn explain_body_limit(response: Response) -> Response {
    if response.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return response;
    }
    params::error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "bad_data",
        format!(
            "request body larger than {} MiB; send fewer or shorter parameters",
            MAX_REQUEST_BODY >> 20
        ),
    )
}

/// The router serving every endpoint.
pub fn router(backend: Arc<dyn Backend>) -> Router {
    Router::new()
        .route("/metrics", get(self_metrics))
        .route("/plugins/{instance}/metrics", get(instance_metrics))
        .route("/api/v1/plugins", get(plugins))
        .route("/api/v1/query", get(v1::query).post(v1::query))
        .route(
            "/api/v1/query_range",
            get(v1::query_range).post(v1::query_range),
        )
        .route("/api/v1/series", get(v1::series).post(v1::series))
        .route("/api/v1/labels", get(v1::labels).post(v1::labels))
        .route("/api/v1/label/{name}/values", get(v1::label_values))
        .route(
            "/api/v1/format_query",
            get(v1::format_query).post(v1::format_query),
        )
        .route(
            "/api/v1/parse_query",
            get(v1::parse_query).post(v1::parse_query),
        )
        .route("/api/v1/metadata", get(v1::metadata))
        .route("/api/v1/targets", get(v1::targets))
        .route("/api/v1/targets/metadata", get(v1::targets_metadata))
        .route("/api/v1/rules", get(rules::rules))
        .route("/api/v1/alerts", get(rules::alerts))
        .route("/api/v1/alertmanagers", get(rules::alertmanagers))
        .route(
            "/api/v1/query_exemplars",
            get(v1::query_exemplars).post(v1::query_exemplars),
        )
        .route("/api/v1/status/buildinfo", get(v1::buildinfo))
        .route("/api/v1/status/flags", get(v1::flags))
        .route("/api/v1/status/config", get(v1::config))
        .route("/api/v1/status/runtimeinfo", get(v1::runtimeinfo))
        .route("/api/v1/status/tsdb", get(v1::tsdb_status))
        .route("/federate", get(v1::federate))
        .route(
            "/-/healthy",
            get(|| async { "wasmetheus Server is Healthy.\n" }),
        )
        .route(
            "/-/ready",
            get(|| async { "wasmetheus Server is Ready.\n" }),
        )
        .route("/-/reload", post(reload).put(reload))
        .route(
            "/api/v1/admin/tsdb/snapshot",
            post(admin::snapshot).put(admin::snapshot),
        )
        .route(
            "/api/v1/admin/tsdb/delete_series",
            post(admin::delete_series)
                .put(admin::delete_series)
                .delete(admin::delete_series),
        )
        .route(
            "/api/v1/admin/tsdb/clean_tombstones",
            post(admin::clean_tombstones).put(admin::clean_tombstones),
        )
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BODY))
        .layer(axum::middleware::map_response(explain_body_limit))
        // Remote write and read bound their bodies themselves, larger.
        .merge(
            Router::new()
                .route("/api/v1/write", post(remote::write))
                .route("/api/v1/read", post(remote::read))
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .with_state(backend)
}

const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Encodes families in the format the client asked for: OpenMetrics when the
/// Accept header names it, the 0.0.4 text format otherwise.
fn exposition(headers: &HeaderMap, families: &[MetricFamily]) -> Response {
    let wants_openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let mut body = String::with_capacity(4096);
    let content_type = if wants_openmetrics {
        openmetrics::encode(families, &mut body);
        OPENMETRICS_CONTENT_TYPE
    } else {
        text::encode(families, &mut body);
        TEXT_CONTENT_TYPE
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn self_metrics(State(backend): State<Arc<dyn Backend>>, headers: HeaderMap) -> Response {
    exposition(&headers, &backend.self_metrics())
}

async fn instance_metrics(
    State(backend): State<Arc<dyn Backend>>,
    Path(instance): Path<String>,
    headers: HeaderMap,
) -> Response {
    match backend.instance_metrics(&instance) {
        None => (
            StatusCode::NOT_FOUND,
            format!("no plugin instance named {instance:?}; GET /api/v1/plugins lists them\n"),
        )
            .into_response(),
        Some(Err(error)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the last collection of {instance:?} failed: {error}\n"),
        )
            .into_response(),
        Some(Ok(families)) => exposition(&headers, &families),
    }
}

/// A success answer with `data` first, as `/api/v1/plugins` and the
/// snapshot endpoint have always written it.
#[derive(serde::Serialize)]
pub(crate) struct DataFirst<T> {
    pub(crate) data: T,
    pub(crate) status: &'static str,
}

impl<T> DataFirst<T> {
    pub(crate) fn success(data: T) -> axum::Json<Self> {
        axum::Json(DataFirst {
            data,
            status: "success",
        })
    }
}

async fn plugins(State(backend): State<Arc<dyn Backend>>) -> Response {
    DataFirst::success(backend.plugins_status()).into_response()
}

async fn reload(State(backend): State<Arc<dyn Backend>>) -> Response {
    if !backend.lifecycle_enabled() {
        // Prometheus' answer without `--web.enable-lifecycle`.
        return (
            StatusCode::FORBIDDEN,
            "Lifecycle API is not enabled.\n".to_owned(),
        )
            .into_response();
    }
    match backend.reload().await {
        Ok(()) => (StatusCode::OK, String::new()).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {e}\n"),
        )
            .into_response(),
    }
}
