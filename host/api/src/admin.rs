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
use wasmetheus_model::selector::parse_selector;

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
        None | Some("" | "false" | "0") => false,
        Some("true" | "1") => true,
        Some(v) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_data",
                format!("unable to parse boolean 'skip_head' argument: {v:?}"),
            );
        }
    };
    match backend.tsdb_snapshot(skip_head).await {
        Ok(name) => axum::Json(serde_json::json!({
            "status": "success",
            "data": { "name": name },
        }))
        .into_response(),
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
    let mut selectors = Vec::new();
    for (_, text) in params.iter().filter(|(k, _)| k == "match[]") {
        match parse_selector(text) {
            Ok(m) => selectors.push(m),
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "bad_data",
                    format!("invalid parameter \"match[]\": {e}"),
                );
            }
        }
    }
    if selectors.is_empty() {
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
