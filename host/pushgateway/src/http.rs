//! The routes, with Pushgateway 1.5's status codes and texts: a push
//! answers 200 (empty body), a delete 202, an invalid path, body or push
//! 400 with the reason as plain text, another method 405; beyond the
//! limits, 413 (one push too large) or 507 (the store full).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, put};

use crate::body::BodyError;
use crate::store::PushError;
use crate::{Gateway, body, grouping, json};

pub fn router(gateway: Gateway) -> axum::Router {
    let limit = gateway.inner.options.max_body_bytes;
    let mut router = axum::Router::new()
        .route("/metrics/{*rest}", any(push))
        .route("/api/v1/metrics", get(metrics));
    if gateway.inner.options.admin_api {
        router = router.route("/api/v1/admin/wipe", put(wipe));
    }
    router
        .layer(DefaultBodyLimit::max(limit))
        .with_state(gateway)
}

/// Go's `http.Error`: plain text and a newline.
fn error(status: StatusCode, text: impl std::fmt::Display) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        format!("{text}\n"),
    )
        .into_response()
}

async fn push(
    State(gateway): State<Gateway>,
    method: Method,
    Path(rest): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let replace = match method {
        Method::PUT => true,
        Method::POST => false,
        Method::DELETE => false,
        _ => return error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"),
    };
    let Some(key) = grouping::parse(&rest) else {
        return error(StatusCode::NOT_FOUND, "404 page not found");
    };
    let key = match key {
        Ok(key) => key,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    if method == Method::DELETE {
        gateway.delete(&key);
        return StatusCode::ACCEPTED.into_response();
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let protobuf = body::is_protobuf(content_type);
    let gate = gateway.clone();
    let Ok(_slot) = gate.inner.parsing.acquire().await else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the Pushgateway is shutting down",
        );
    };
    let limits = gateway.inner.options.limits;
    // Parsing and the consistency check are CPU work over the whole store.
    let outcome = tokio::task::spawn_blocking(move || {
        let families = if protobuf {
            body::parse_protobuf(&body, limits.max_push_decoded_bytes)
        } else {
            std::str::from_utf8(&body)
                .map_err(|e| {
                    BodyError::Invalid(format!(
                        "text format parsing error: the body is not UTF-8: {e}"
                    ))
                })
                .and_then(|text| body::parse_text(text, limits.max_push_samples))
        };
        families.map(|families| gateway.push(&key, families, replace))
    })
    .await;
    match outcome {
        Ok(Ok(Ok(()))) => StatusCode::OK.into_response(),
        Ok(Ok(Err(e @ PushError::Invalid(_)))) => error(StatusCode::BAD_REQUEST, e),
        Ok(Ok(Err(e @ PushError::Limit(_)))) => error(StatusCode::INSUFFICIENT_STORAGE, e),
        Ok(Err(e @ BodyError::Invalid(_))) => error(StatusCode::BAD_REQUEST, e),
        Ok(Err(e @ BodyError::TooLarge(_))) => error(StatusCode::PAYLOAD_TOO_LARGE, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn metrics(State(gateway): State<Gateway>) -> Response {
    let data = tokio::task::spawn_blocking(move || gateway.metrics_json()).await;
    match data {
        Ok(data) => axum::Json(json::Answer {
            status: "success",
            data,
        })
        .into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn wipe(State(gateway): State<Gateway>) -> Response {
    gateway.wipe();
    StatusCode::ACCEPTED.into_response()
}
