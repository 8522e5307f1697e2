//! Requests over a real connection to a server on 127.0.0.1: the
//! configured headers, `Authorization` and `Host` arrive, the body can be
//! read after `send` returns, and unusable URLs are refused with Go's
//! words.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::Request;
use wasmetheus_http_client::{Auth, Client, HeaderSource, SecretSource, Settings};

/// The headers of each request a server saw (sorted `name: value` lines).
type Captured = Arc<std::sync::Mutex<Vec<String>>>;

/// A server answering every request with `body`, recording each
/// request's headers.
async fn serve(body: &'static str) -> (String, Captured) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let seen: Captured = Arc::default();
    let captured = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let captured = Arc::clone(&captured);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<_>| {
                    let mut lines: Vec<String> = request
                        .headers()
                        .iter()
                        .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap_or("?")))
                        .collect();
                    lines.sort();
                    captured.lock().unwrap().push(lines.join("\n"));
                    async move {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::from_static(body.as_bytes()),
                        )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    (address, seen)
}

#[tokio::test]
async fn headers_and_authorization_reach_the_server() {
    let (address, seen) = serve("hello").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("header");
    std::fs::write(&file, "from-file\n").unwrap();
    let client = Client::new(Settings {
        auth: Some(Auth::Token {
            kind: "Custom".into(),
            credentials: SecretSource::Text("token".into()),
        }),
        headers: vec![
            ("X-Multi".into(), HeaderSource::Value("one".into())),
            ("X-Multi".into(), HeaderSource::Value("two".into())),
            (
                "X-File".into(),
                HeaderSource::Secret(SecretSource::File(file.to_str().unwrap().into())),
            ),
        ],
        ..Settings::default()
    })
    .unwrap();
    let request = Request::get(format!("http://{address}/metrics?a=b"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = client.send(request).await.unwrap();
    assert!(response.status().is_success());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"hello");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [format!(
            "authorization: Custom token\nhost: {address}\nx-file: from-file\nx-multi: one\nx-multi: two"
        )]
    );
}

#[tokio::test]
async fn unusable_urls_are_refused() {
    let client = Client::new(Settings::default()).unwrap();
    for (url, expected) in [
        ("ftp://127.0.0.1/", "unsupported protocol scheme \"ftp\""),
        ("/relative", "unsupported protocol scheme \"\""),
        ("http://127.0.0.1:1/", "dial tcp 127.0.0.1:1: "),
    ] {
        let request = Request::get(url).body(Empty::<Bytes>::new()).unwrap();
        let error = client.send(request).await.unwrap_err().to_string();
        assert!(error.starts_with(expected), "{url}: {error}");
    }
}
