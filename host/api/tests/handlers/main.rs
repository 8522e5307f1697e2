//! The API's handlers on a fake backend: every endpoint's parameters,
//! errors and answers (status, content type and body bytes), through the
//! router as the server mounts it, without a server.
//!
//! `fake.rs` is the backend, `data.rs` its status reports; the other files
//! are the tests, by endpoint group.

mod admin;
mod data;
mod fake;
mod query;
mod remote;
mod rules;
mod series;
mod status;

use axum::body::Body;
use axum::http::{Request, header};
use std::sync::Arc;
use tower::ServiceExt;
use wasmetheus_api::Backend;

/// An answer as the client sees it.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl std::fmt::Display for Answer {
    /// `<status> <content type>` then the body, for snapshots.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}\n{}", self.status, self.content_type, self.body)
    }
}

/// Sends one request through the router on `backend`.
pub async fn send(
    backend: impl Backend,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    send_to(Arc::new(backend), method, uri, headers, body).await
}

/// [`send`] on a backend the test keeps a handle to.
pub async fn send_to(
    backend: Arc<dyn Backend>,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Body::from(body.to_owned())).unwrap();
    let response = wasmetheus_api::router(backend)
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map_or("-", |v| v.to_str().unwrap())
        .to_owned();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Answer {
        status,
        content_type,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

/// A GET on the default fake.
pub async fn get(uri: &str) -> Answer {
    send(fake::Fake::default(), "GET", uri, &[], "").await
}

/// A form POST on the default fake.
pub async fn post_form(uri: &str, form: &str) -> Answer {
    send(
        fake::Fake::default(),
        "POST",
        uri,
        &[("content-type", "application/x-www-form-urlencoded")],
        form,
    )
    .await
}

/// Percent-encodes a query parameter value.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
