//! `POST /api/v1/write` (the remote write receiver) and `POST
//! /api/v1/read` (the remote read server): content negotiation, bounded
//! body reading and the answers' headers. The protocols themselves are
//! `wasmetheus_remote`'s; the storage comes from the [`Backend`].
//!
//! Bodies are read here, not by axum's extractors, so the 2 MiB limit of
//! the other endpoints does not apply: a write body may be
//! [`MAX_WRITE_BODY`] compressed, a read request [`MAX_READ_BODY`].

use crate::Backend;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use wasmetheus_prompb::remote::ResponseType;
use wasmetheus_remote::read::ReadError;

/// Largest compressed remote write body read: 32 MiB (the decoded bound
/// is the receiver's).
pub const MAX_WRITE_BODY: usize = 32 << 20;
/// Largest compressed remote read request read.
pub const MAX_READ_BODY: usize = 32 << 20;

/// Prometheus' answer without `--web.enable-remote-write-receiver`.
pub const RECEIVER_DISABLED: &str =
    "remote write receiver needs to be enabled with --web.enable-remote-write-receiver";

/// A plain-text answer, as Go's `http.Error` writes it.
fn text(status: u16, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

/// Reads at most `limit` bytes of `body`; a larger one is 413.
async fn read_body(body: Body, limit: usize, what: &str) -> Result<axum::body::Bytes, Response> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large {
            text(
                413,
                &format!(
                    "{what} body larger than {} MiB; send smaller requests",
                    limit >> 20
                ),
            )
        } else {
            text(400, &format!("reading the {what} body: {e}"))
        }
    })
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `POST /api/v1/write`.
pub(crate) async fn write(
    State(backend): State<Arc<dyn Backend>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (Some(receiver), Some(storage)) = (backend.remote_write_receiver(), backend.storage())
    else {
        return text(404, RECEIVER_DISABLED);
    };
    let kind = match receiver.negotiate(
        header_str(&headers, header::CONTENT_TYPE),
        header_str(&headers, header::CONTENT_ENCODING),
    ) {
        Ok(kind) => kind,
        Err(e) => return text(415, &e.0),
    };
    // The body is read, decoded and appended under the receiver's gate:
    // a few writes at once, the others waiting.
    let slot = receiver.enter().await;
    let body = match read_body(body, MAX_WRITE_BODY, "remote write").await {
        Ok(b) => b,
        Err(response) => return response,
    };
    let outcome = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        receiver.write(&*storage, kind, &body)
    })
    .await
    .unwrap_or_else(|e| wasmetheus_remote::receiver::WriteOutcome {
        status: 500,
        message: format!("the write failed: {e}"),
        written: None,
    });
    let mut response = if outcome.status == 204 {
        StatusCode::NO_CONTENT.into_response()
    } else {
        text(outcome.status, &outcome.message)
    };
    if let Some(written) = outcome.written {
        for (name, value) in written.headers() {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
    }
    response
}

/// `POST /api/v1/read`.
pub(crate) async fn read(State(backend): State<Arc<dyn Backend>>, body: Body) -> Response {
    // Local storage only (Prometheus also serves its own remote_read
    // sources here, which lets two servers reading each other loop).
    let (Some(server), Some(storage)) = (backend.remote_read_server(), backend.storage()) else {
        return text(404, "remote read is not served by this server");
    };
    let body = match read_body(body, MAX_READ_BODY, "remote read").await {
        Ok(b) => b,
        Err(response) => return response,
    };
    let (request, kind) = match server.decode(&body) {
        Ok(r) => r,
        Err(e) => return text(e.status, &e.message),
    };
    drop(body);
    let slot = server.enter().await;
    let external = backend.external_labels();
    if kind == ResponseType::Samples {
        let answer = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            server.sampled(&*storage, &request, &external)
        })
        .await
        .unwrap_or_else(|e| {
            Err(ReadError {
                status: 500,
                message: e.to_string(),
            })
        });
        return match answer {
            Ok(body) => (
                [
                    (header::CONTENT_TYPE, "application/x-protobuf"),
                    (header::CONTENT_ENCODING, "snappy"),
                ],
                body,
            )
                .into_response(),
            Err(e) => text(e.status, &e.message),
        };
    }
    // Streamed: frames go out as they are made, a few in flight; an error
    // before the first frame is still a proper status.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, ReadError>>(4);
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let result = server.streamed(&*storage, &request, &external, &mut |frame| {
            tx.blocking_send(Ok(frame)).is_ok()
        });
        if let Err(e) = result {
            let _ = tx.blocking_send(Err(e));
        }
    });
    let first = match rx.recv().await {
        Some(Err(e)) => return text(e.status, &e.message),
        Some(Ok(frame)) => Some(frame),
        None => None,
    };
    let stream = futures_util::stream::unfold((first, rx), |(first, mut rx)| async move {
        if let Some(frame) = first {
            return Some((Ok::<_, std::io::Error>(frame), (None, rx)));
        }
        match rx.recv().await? {
            Ok(frame) => Some((Ok(frame), (None, rx))),
            // Past the first frame the status is sent: the stream ends
            // with an error, which the client sees as a broken answer.
            Err(e) => Some((Err(std::io::Error::other(e.message)), (None, rx))),
        }
    });
    (
        [(
            header::CONTENT_TYPE,
            wasmetheus_prompb::CONTENT_TYPE_STREAMED,
        )],
        Body::from_stream(stream),
    )
        .into_response()
}
