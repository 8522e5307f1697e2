//! Prometheus' TSDB admin endpoints, enabled by `--web.enable-admin-api`:
//! `snapshot`, `delete_series` and `clean_tombstones` under
//! `/api/v1/admin/tsdb/`, with Prometheus' parameters and answers.

use crate::Backend;
use crate::params::{error, param, params, time_param};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The `data` of a snapshot's answer.
#[derive(serde::Serialize)]
struct Snapshot {
    /// The directory under `<storage.tsdb.path>/snapshots`.
    name: String,
}

fn disabled() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "admin APIs disabled",
    )
}

pub(crate) async fn snapshot(
    State(backend): State<Arc<dyn Backend>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    if !backend.admin_enabled() {
        return disabled();
    }
    let params = match params(query, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let skip_head = match param(&params, "skip_head") {
        None | Some("") => false,
        Some(v) => match wasmetheus_model::go::parse_bool(v) {
            Ok(b) => b,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "bad_data",
                    format!("invalid parameter \"skip_head\": unable to parse boolean: {e}"),
                );
            }
        },
    };
    match backend.tsdb_snapshot(skip_head).await {
        Ok(name) => crate::DataFirst::success(Snapshot { name }).into_response(),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("create snapshot: {e}"),
        ),
    }
}

pub(crate) async fn delete_series(
    State(backend): State<Arc<dyn Backend>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    if !backend.admin_enabled() {
        return disabled();
    }
    let params = match params(query, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    // Prometheus' order: presence, `start`, `end`, then each selector
    // (parsed only: unlike the read endpoints, one matching everything is
    // allowed here).
    let texts: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "match[]")
        .map(|(_, v)| v.as_str())
        .collect();
    if texts.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_data",
            "no match[] parameter provided",
        );
    }
    let (start, end) = match (
        time_param(&params, "start", i64::MIN),
        time_param(&params, "end", i64::MAX),
    ) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(r), _) | (_, Err(r)) => return *r,
    };
    let mut selectors = Vec::new();
    for text in texts {
        match crate::v1::selector_param("match[]", text) {
            Ok(m) => selectors.push(m),
            Err(r) => return *r,
        }
    }
    match backend.tsdb_delete_series(selectors, start, end).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e),
    }
}

pub(crate) async fn clean_tombstones(State(backend): State<Arc<dyn Backend>>) -> Response {
    if !backend.admin_enabled() {
        return disabled();
    }
    match backend.tsdb_clean_tombstones().await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e),
    }
}
