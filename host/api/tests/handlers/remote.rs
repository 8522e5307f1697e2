//! `/api/v1/write` and `/api/v1/read` through the router, on a backend
//! whose storage is the TSDB's head: every status code, 2.0's headers,
//! hostile bodies, and that a refused write stores nothing.

use axum::body::Body;
use axum::http::{Request, header};
use std::sync::Arc;
use tower::ServiceExt;
use wasmetheus_api::{Backend, ReloadFuture, types};
use wasmetheus_model::storage::{MatchType, Matcher, Queryable, Storage};
use wasmetheus_model::{Label, MetricFamily};
use wasmetheus_prompb::remote::{
    ChunkedReadResponse, Query, ReadRequest, ReadResponse, ResponseType, WriteRequest,
};
use wasmetheus_prompb::types::{LabelMatcher, Sample, TimeSeries};
use wasmetheus_prompb::{Message, codec, write_v2};
use wasmetheus_remote::read::{ReadOptions, ReadServer};
use wasmetheus_remote::receiver::{Receiver, ReceiverOptions};
use wasmetheus_tsdb::chunk::XorChunk;
use wasmetheus_tsdb::{Head, HeadLimits};

/// A series' samples.
type Samples = Vec<(i64, f64)>;

struct Remote {
    head: Arc<Head>,
    /// What queries read: another store than `head`, standing for the
    /// local one with `remote_read` sources merged in.
    merged: Arc<Head>,
    receiver: Option<Arc<Receiver>>,
    read: Arc<ReadServer>,
}

impl Remote {
    fn new(enabled: bool) -> Arc<Self> {
        let encoder: wasmetheus_remote::read::ChunkEncoder = Arc::new(|s: &[(i64, f64)]| {
            let mut c = XorChunk::new();
            for &(t, v) in s {
                c.append(t, v).unwrap();
            }
            c.bytes().to_vec()
        });
        Arc::new(Remote {
            head: Arc::new(Head::new(HeadLimits::default())),
            merged: Arc::new(Head::new(HeadLimits::default())),
            receiver: enabled.then(|| Arc::new(Receiver::new(ReceiverOptions::default()))),
            read: Arc::new(ReadServer::new(
                ReadOptions {
                    sample_limit: 1000,
                    ..ReadOptions::default()
                },
                Some(encoder),
            )),
        })
    }

    fn stored(&self) -> Vec<(Vec<Label>, Samples)> {
        let m = Matcher::new(MatchType::Regex, "__name__", ".+").unwrap();
        self.head
            .select(&[m], i64::MIN, i64::MAX)
            .unwrap()
            .into_iter()
            .map(|s| (s.labels, s.samples))
            .collect()
    }
}

impl Backend for Remote {
    fn self_metrics(&self) -> Vec<MetricFamily> {
        Vec::new()
    }
    fn instance_metrics(&self, _: &str) -> Option<Result<Arc<Vec<MetricFamily>>, String>> {
        None
    }
    fn plugins_status(&self) -> Vec<types::PluginStatus> {
        Vec::new()
    }
    fn reload(&self) -> ReloadFuture<'_> {
        Box::pin(async { Ok(()) })
    }
    fn runtime_info(&self) -> types::RuntimeInfo {
        crate::data::runtime_info()
    }
    fn queryable(&self) -> Option<Arc<dyn Queryable>> {
        Some(Arc::clone(&self.merged) as Arc<dyn Queryable>)
    }
    fn storage(&self) -> Option<Arc<dyn Storage>> {
        Some(Arc::clone(&self.head) as Arc<dyn Storage>)
    }
    fn external_labels(&self) -> Vec<Label> {
        vec![Label::new("cluster", "c1")]
    }
    fn remote_write_receiver(&self) -> Option<Arc<Receiver>> {
        self.receiver.clone()
    }
    fn remote_read_server(&self) -> Option<Arc<ReadServer>> {
        Some(Arc::clone(&self.read))
    }
}

struct Reply {
    status: u16,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn post(backend: &Arc<Remote>, uri: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
    let mut request = Request::builder().method("POST").uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let backend: Arc<dyn Backend> = Arc::clone(backend) as Arc<dyn Backend>;
    let response = wasmetheus_api::router(backend)
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

fn v1_body(name: &str, samples: &[(i64, f64)]) -> Vec<u8> {
    let req = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![wasmetheus_prompb::types::Label {
                name: "__name__".into(),
                value: name.into(),
            }],
            samples: samples
                .iter()
                .map(|&(timestamp, value)| Sample { value, timestamp })
                .collect(),
            ..TimeSeries::default()
        }],
        metadata: Vec::new(),
    };
    codec::snappy_compress(&req.encode_to_vec())
}

const V1: (&str, &str) = ("content-type", "application/x-protobuf");

#[tokio::test]
async fn write_is_404_unless_enabled() {
    let backend = Remote::new(false);
    let r = post(&backend, "/api/v1/write", &[V1], v1_body("up", &[(1, 1.0)])).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.text(),
        "remote write receiver needs to be enabled with --web.enable-remote-write-receiver\n"
    );
    assert!(backend.stored().is_empty());
}

#[tokio::test]
async fn write_status_codes() {
    let backend = Remote::new(true);
    let ok = post(
        &backend,
        "/api/v1/write",
        &[V1, ("content-encoding", "snappy")],
        v1_body("up", &[(1000, 1.0)]),
    )
    .await;
    assert_eq!(ok.status, 204, "{}", ok.text());
    assert!(
        ok.headers
            .get("X-Prometheus-Remote-Write-Samples-Written")
            .is_none(),
        "1.0 has no statistics"
    );
    // No content type: 1.0.
    let r = post(
        &backend,
        "/api/v1/write",
        &[],
        v1_body("up", &[(2000, 1.0)]),
    )
    .await;
    assert_eq!(r.status, 204);
    // Other media types and encodings: 415.
    for headers in [
        vec![("content-type", "application/json")],
        vec![V1, ("content-encoding", "gzip")],
        vec![("content-type", "application/x-protobuf;proto=nope")],
    ] {
        let r = post(
            &backend,
            "/api/v1/write",
            &headers,
            v1_body("up", &[(3000, 1.0)]),
        )
        .await;
        assert_eq!(r.status, 415, "{headers:?}: {}", r.text());
    }
    // Garbage: 400 with the decode error.
    let r = post(&backend, "/api/v1/write", &[V1], b"\x00garbage".to_vec()).await;
    assert_eq!(r.status, 400);
    assert!(r.text().starts_with("snappy"), "{}", r.text());
    let r = post(
        &backend,
        "/api/v1/write",
        &[V1],
        codec::snappy_compress(b"\x0a\xff"),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.text().starts_with("protobuf"), "{}", r.text());
    // Out of order: 400, and the request's other samples are not stored.
    let mut req = WriteRequest::decode(
        &*codec::snappy_decompress(&v1_body("fresh", &[(5000, 5.0)]), 1 << 20).unwrap(),
    )
    .unwrap();
    req.timeseries.extend(
        WriteRequest::decode(
            &*codec::snappy_decompress(&v1_body("up", &[(500, 9.0)]), 1 << 20).unwrap(),
        )
        .unwrap()
        .timeseries,
    );
    let r = post(
        &backend,
        "/api/v1/write",
        &[V1],
        codec::snappy_compress(&req.encode_to_vec()),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("out of order"), "{}", r.text());
    let stored = backend.stored();
    assert_eq!(stored.len(), 1, "`fresh` was rolled back: {stored:?}");
    assert_eq!(stored[0].1, vec![(1000, 1.0), (2000, 1.0)]);
}

#[tokio::test]
async fn write_v2_carries_the_written_headers() {
    let backend = Remote::new(true);
    let req = write_v2::Request {
        symbols: vec!["".into(), "__name__".into(), "up".into()],
        timeseries: vec![write_v2::TimeSeries {
            labels_refs: vec![1, 2],
            samples: vec![
                write_v2::Sample {
                    value: 1.0,
                    timestamp: 1000,
                },
                write_v2::Sample {
                    value: 2.0,
                    timestamp: 2000,
                },
            ],
            ..write_v2::TimeSeries::default()
        }],
    };
    let v2 = ("content-type", wasmetheus_prompb::CONTENT_TYPE_V2);
    let r = post(
        &backend,
        "/api/v1/write",
        &[v2, ("content-encoding", "snappy")],
        codec::snappy_compress(&req.encode_to_vec()),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let header = |r: &Reply, name: &str| r.headers.get(name).unwrap().to_str().unwrap().to_owned();
    assert_eq!(header(&r, "X-Prometheus-Remote-Write-Samples-Written"), "2");
    assert_eq!(
        header(&r, "X-Prometheus-Remote-Write-Histograms-Written"),
        "0"
    );
    assert_eq!(
        header(&r, "X-Prometheus-Remote-Write-Exemplars-Written"),
        "0"
    );
    // A bad symbol reference: 400, nothing written.
    let mut bad = req.clone();
    bad.timeseries[0].labels_refs = vec![1, 7];
    bad.timeseries[0].samples[0].timestamp = 3000;
    let r = post(
        &backend,
        "/api/v1/write",
        &[v2],
        codec::snappy_compress(&bad.encode_to_vec()),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(header(&r, "X-Prometheus-Remote-Write-Samples-Written"), "0");
    assert_eq!(backend.stored()[0].1.len(), 2);
}

#[tokio::test]
async fn oversize_bodies_are_413_or_400() {
    let backend = Remote::new(true);
    // Over the compressed limit.
    let r = post(
        &backend,
        "/api/v1/write",
        &[V1],
        vec![0; wasmetheus_api::MAX_WRITE_BODY + 1],
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.text().contains("larger than 32 MiB"), "{}", r.text());
    // Small compressed, over the decoded limit.
    let bomb = codec::snappy_compress(&vec![0; 40 << 20]);
    assert!(bomb.len() < 4 << 20);
    let r = post(&backend, "/api/v1/write", &[V1], bomb).await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("exceeds the limit"), "{}", r.text());
    let r = post(
        &backend,
        "/api/v1/read",
        &[],
        vec![0; wasmetheus_api::MAX_READ_BODY + 1],
    )
    .await;
    assert_eq!(r.status, 413);
    assert!(backend.stored().is_empty());
}

fn read_body(types: &[ResponseType], matchers: Vec<LabelMatcher>) -> Vec<u8> {
    let req = ReadRequest {
        queries: vec![Query {
            start_timestamp_ms: 0,
            end_timestamp_ms: 10_000,
            matchers,
            hints: None,
        }],
        accepted_response_types: types.iter().map(|&t| t as i32).collect(),
    };
    codec::snappy_compress(&req.encode_to_vec())
}

fn name_is(value: &str) -> LabelMatcher {
    LabelMatcher {
        r#type: 0,
        name: "__name__".into(),
        value: value.into(),
    }
}

#[tokio::test]
async fn read_answers_sampled_and_streamed() {
    let backend = Remote::new(true);
    let ok = post(
        &backend,
        "/api/v1/write",
        &[V1],
        v1_body("up", &[(1000, 1.0), (2000, 2.0)]),
    )
    .await;
    assert_eq!(ok.status, 204);
    let r = post(
        &backend,
        "/api/v1/read",
        &[],
        read_body(&[], vec![name_is("up")]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/x-protobuf");
    assert_eq!(r.headers[header::CONTENT_ENCODING], "snappy");
    let resp = ReadResponse::decode(&*codec::snappy_decompress(&r.body, 1 << 20).unwrap()).unwrap();
    let series = &resp.results[0].timeseries[0];
    let labels: Vec<_> = series
        .labels
        .iter()
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect();
    assert_eq!(
        labels,
        vec![("__name__", "up"), ("cluster", "c1")],
        "external labels added"
    );
    assert_eq!(series.samples.len(), 2);

    let r = post(
        &backend,
        "/api/v1/read",
        &[],
        read_body(&[ResponseType::StreamedXorChunks], vec![name_is("up")]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.headers[header::CONTENT_TYPE],
        wasmetheus_prompb::CONTENT_TYPE_STREAMED
    );
    let (frame, used) = codec::take_chunked_frame(&r.body, 1 << 20)
        .unwrap()
        .unwrap();
    assert_eq!(used, r.body.len(), "one frame");
    let frame = ChunkedReadResponse::decode(frame).unwrap();
    assert_eq!(frame.chunked_series[0].chunks[0].min_time_ms, 1000);
    assert_eq!(frame.chunked_series[0].chunks[0].max_time_ms, 2000);
    // Nothing matches: an empty stream.
    let r = post(
        &backend,
        "/api/v1/read",
        &[],
        read_body(&[ResponseType::StreamedXorChunks], vec![name_is("none")]),
    )
    .await;
    assert_eq!((r.status, r.body.len()), (200, 0));
}

#[tokio::test]
async fn read_refuses_bad_requests_with_400() {
    let backend = Remote::new(true);
    let many: Vec<(i64, f64)> = (0..1001).map(|i| (i, 1.0)).collect();
    assert_eq!(
        post(&backend, "/api/v1/write", &[V1], v1_body("many", &many))
            .await
            .status,
        204
    );
    for types in [vec![], vec![ResponseType::StreamedXorChunks]] {
        let r = post(
            &backend,
            "/api/v1/read",
            &[],
            read_body(&types, vec![name_is("many")]),
        )
        .await;
        assert_eq!(r.status, 400, "{types:?}");
        assert_eq!(r.text(), "exceeded sample limit (1000)\n");
    }
    let r = post(&backend, "/api/v1/read", &[], b"garbage".to_vec()).await;
    assert_eq!(r.status, 400);
    let bomb = LabelMatcher {
        r#type: 2,
        name: "__name__".into(),
        value: "((a{1000}){1000}){1000}".into(),
    };
    let r = post(&backend, "/api/v1/read", &[], read_body(&[], vec![bomb])).await;
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains("invalid regular expression"),
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn read_and_federate_serve_local_storage_only() {
    let backend = Remote::new(true);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let r = post(
        &backend,
        "/api/v1/write",
        &[V1],
        v1_body("local_only", &[(now, 1.0)]),
    )
    .await;
    assert_eq!(r.status, 204);
    let mut app = Storage::appender(&*backend.merged);
    app.append(&[Label::new("__name__", "remote_only")], now, 2.0)
        .unwrap();
    app.commit().unwrap();
    drop(app);
    // Remote read answers from the local storage, not what queries see.
    let req = ReadRequest {
        queries: vec![Query {
            start_timestamp_ms: now - 60_000,
            end_timestamp_ms: now + 60_000,
            matchers: vec![LabelMatcher {
                r#type: 2,
                name: "__name__".into(),
                value: ".+".into(),
            }],
            hints: None,
        }],
        accepted_response_types: Vec::new(),
    };
    let r = post(
        &backend,
        "/api/v1/read",
        &[],
        codec::snappy_compress(&req.encode_to_vec()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let resp = ReadResponse::decode(&*codec::snappy_decompress(&r.body, 1 << 20).unwrap()).unwrap();
    let names: Vec<_> = resp.results[0]
        .timeseries
        .iter()
        .map(|t| t.labels[0].value.clone())
        .collect();
    assert_eq!(names, vec!["local_only"]);
    // So does federation, as Prometheus' (its remote_read sources are
    // not federated).
    let request = Request::builder()
        .uri("/federate?match[]=%7B__name__%3D~%22.%2B%22%7D")
        .body(Body::empty())
        .unwrap();
    let response = wasmetheus_api::router(Arc::clone(&backend) as Arc<dyn Backend>)
        .oneshot(request)
        .await
        .unwrap();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("local_only"), "{text}");
    assert!(!text.contains("remote_only"), "{text}");
}
