//! Test helpers: an Alertmanager stand-in on 127.0.0.1 that records every
//! request (plain HTTP or TLS) and answers as told, configurations from
//! YAML, alerts, and waiting for requests.

#![allow(dead_code)]

pub mod pki;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use parking_lot::Mutex;
use wasmetheus_model::{Label, MetricFamily, MetricValue};
use wasmetheus_notifier::{Alert, Manager, Options};

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Captured {
    pub method: String,
    pub path: String,
    pub headers: hyper::HeaderMap,
    pub body: String,
}

impl Captured {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The alerts of the body.
    pub fn alerts(&self) -> Vec<serde_json::Value> {
        match serde_json::from_str(&self.body) {
            Ok(serde_json::Value::Array(alerts)) => alerts,
            other => panic!("not a JSON array: {other:?}: {}", self.body),
        }
    }
}

/// How the stand-in answers.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    Status(u16),
    /// Never answers (the request is still recorded).
    Hang,
}

/// A running stand-in.
pub struct Capture {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Captured>>>,
}

impl Capture {
    /// `host:port`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    pub fn requests(&self) -> Vec<Captured> {
        self.requests.lock().clone()
    }

    /// Waits until `n` requests arrived (at most 10 s) and returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<Captured> {
        let start = Instant::now();
        loop {
            let got = self.requests();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "waited for {n} requests, got {}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A plain HTTP stand-in.
pub async fn serve(answer: Answer) -> Capture {
    serve_with(answer, None).await
}

/// A stand-in, over TLS when `tls` is given.
pub async fn serve_with(answer: Answer, tls: Option<Arc<rustls::ServerConfig>>) -> Capture {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&requests);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let recorded = Arc::clone(&recorded);
            let tls = tls.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let recorded = Arc::clone(&recorded);
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        recorded.lock().push(Captured {
                            method: parts.method.to_string(),
                            path: parts.uri.to_string(),
                            headers: parts.headers,
                            body: String::from_utf8_lossy(&body).into_owned(),
                        });
                        match answer {
                            Answer::Status(code) => Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .status(code)
                                    .body(Full::new(Bytes::from_static(b"")))
                                    .unwrap(),
                            ),
                            Answer::Hang => std::future::pending().await,
                        }
                    }
                });
                let http = hyper::server::conn::http1::Builder::new();
                match tls {
                    Some(config) => {
                        let Ok(stream) = tokio_rustls::TlsAcceptor::from(config).accept(tcp).await
                        else {
                            return;
                        };
                        let _ = http
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    }
                    None => {
                        let _ = http
                            .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                            .await;
                    }
                }
            });
        }
    });
    Capture { addr, requests }
}

/// A configuration read from YAML (relative files against `/`).
pub fn config(yaml: &str) -> wasmetheus_config::Config {
    match wasmetheus_config::Config::parse(yaml, Path::new("/prometheus.yml")) {
        Ok(config) => config,
        Err(e) => panic!("{e}\n{yaml}"),
    }
}

/// A manager with `options` and the configuration `yaml`, running.
pub fn manager(options: Options, yaml: &str) -> Manager {
    let manager = Manager::new(options);
    manager.apply_config(&config(yaml)).unwrap();
    manager.run();
    manager
}

pub fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
    let mut labels: Vec<Label> = pairs.iter().map(|(n, v)| Label::new(*n, *v)).collect();
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    labels
}

/// A firing alert named `name`.
pub fn alert(name: &str) -> Alert {
    Alert {
        labels: labels(&[("alertname", name)]),
        annotations: Vec::new(),
        starts_at_ms: 1_700_000_000_000,
        ends_at_ms: Some(1_700_000_060_000),
        generator_url: String::new(),
    }
}

/// `n` alerts named `a0`, `a1`, ….
pub fn alerts(n: usize) -> Vec<Alert> {
    (0..n).map(|i| alert(&format!("a{i}"))).collect()
}

/// The value of the series of family `name` with label `alertmanager` =
/// `url` (any series when `url` is empty); `None` if absent.
pub fn metric(families: &[MetricFamily], name: &str, url: &str) -> Option<f64> {
    let family = families.iter().find(|f| f.name == name)?;
    let metric = family.metrics.iter().find(|m| {
        url.is_empty()
            || m.labels
                .iter()
                .any(|l| l.name == "alertmanager" && l.value == url)
    })?;
    match &metric.value {
        MetricValue::Number(v) => Some(*v),
        MetricValue::Summary(s) => Some(s.count),
        MetricValue::Histogram(h) => Some(h.count),
    }
}

/// Waits (at most 10 s) until `check` holds.
pub async fn eventually(what: &str, check: impl Fn() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(10), "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
