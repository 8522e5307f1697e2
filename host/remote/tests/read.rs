//! The remote read server against the TSDB's head: sampled and streamed
//! answers, negotiation, external labels, the sample limit and hostile
//! requests.

use std::sync::Arc;
use wasmetheus_model::Label;
use wasmetheus_model::storage::Storage;
use wasmetheus_prompb::remote::{
    ChunkedReadResponse, Query, ReadRequest, ReadResponse, ResponseType,
};
use wasmetheus_prompb::types::{LabelMatcher, MatcherType};
use wasmetheus_prompb::{Message, codec};
use wasmetheus_remote::read::{ChunkEncoder, ReadOptions, ReadServer};
use wasmetheus_tsdb::chunk::{ChunkIter, XorChunk};
use wasmetheus_tsdb::{Head, HeadLimits};

fn encoder() -> ChunkEncoder {
    Arc::new(|samples: &[(i64, f64)]| {
        let mut c = XorChunk::new();
        for &(t, v) in samples {
            c.append(t, v).unwrap();
        }
        c.bytes().to_vec()
    })
}

/// `up{job="a"}` with 300 samples, `up{job="b"}` with 2, `other` with 1.
fn head() -> Head {
    let head = Head::new(HeadLimits::default());
    let mut app = Storage::appender(&head);
    let up = |job: &str| vec![Label::new("__name__", "up"), Label::new("job", job)];
    for i in 0..300 {
        app.append(&up("a"), i * 1000, i as f64).unwrap();
    }
    app.append(&up("b"), 0, 1.0).unwrap();
    app.append(&up("b"), 1000, 2.0).unwrap();
    app.append(&[Label::new("__name__", "other")], 0, 7.0)
        .unwrap();
    app.commit().unwrap();
    drop(app);
    head
}

fn matcher(kind: MatcherType, name: &str, value: &str) -> LabelMatcher {
    LabelMatcher {
        r#type: kind as i32,
        name: name.into(),
        value: value.into(),
    }
}

fn request(queries: Vec<Query>, types: &[ResponseType]) -> Vec<u8> {
    let req = ReadRequest {
        queries,
        accepted_response_types: types.iter().map(|&t| t as i32).collect(),
    };
    codec::snappy_compress(&req.encode_to_vec())
}

fn query(start: i64, end: i64, matchers: Vec<LabelMatcher>) -> Query {
    Query {
        start_timestamp_ms: start,
        end_timestamp_ms: end,
        matchers,
        hints: None,
    }
}

fn labels_of(ls: &[wasmetheus_prompb::types::Label]) -> Vec<(String, String)> {
    ls.iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect()
}

#[test]
fn sampled_answer_with_external_labels() {
    let head = head();
    let server = ReadServer::new(ReadOptions::default(), Some(encoder()));
    let external = vec![Label::new("job", "ignored"), Label::new("region", "eu")];
    let body = request(
        vec![
            query(0, 1000, vec![matcher(MatcherType::Eq, "__name__", "up")]),
            // An equality matcher on an external label with its value is
            // dropped before selecting; other external matchers stay.
            query(
                0,
                0,
                vec![
                    matcher(MatcherType::Re, "__name__", "oth.*"),
                    matcher(MatcherType::Eq, "region", "eu"),
                ],
            ),
            query(0, 0, vec![matcher(MatcherType::Eq, "region", "us")]),
        ],
        &[],
    );
    let (req, kind) = server.decode(&body).unwrap();
    assert_eq!(kind, ResponseType::Samples);
    let answer = server.sampled(&head, &req, &external).unwrap();
    let resp: ReadResponse =
        codec::decode(&codec::snappy_decompress(&answer, 1 << 30).unwrap()).unwrap();
    assert_eq!(resp.results.len(), 3);
    let first = &resp.results[0].timeseries;
    assert_eq!(first.len(), 2);
    // The series' own job wins over the external one.
    assert_eq!(
        labels_of(&first[0].labels),
        vec![
            ("__name__".into(), "up".into()),
            ("job".into(), "a".into()),
            ("region".into(), "eu".into())
        ]
    );
    assert_eq!(first[0].samples.len(), 2);
    assert_eq!(
        first[1].samples.iter().map(|s| s.value).collect::<Vec<_>>(),
        vec![1.0, 2.0]
    );
    assert_eq!(resp.results[1].timeseries.len(), 1);
    assert!(resp.results[2].timeseries.is_empty());
}

#[test]
fn streamed_frames_hold_xor_chunks_of_at_most_120_samples() {
    let head = head();
    let server = ReadServer::new(
        ReadOptions {
            // Small frames: one chunk per frame.
            max_bytes_in_frame: 64,
            ..ReadOptions::default()
        },
        Some(encoder()),
    );
    let body = request(
        vec![query(
            0,
            299_000,
            vec![matcher(MatcherType::Eq, "job", "a")],
        )],
        &[ResponseType::StreamedXorChunks, ResponseType::Samples],
    );
    let (req, kind) = server.decode(&body).unwrap();
    assert_eq!(kind, ResponseType::StreamedXorChunks);
    let mut stream = Vec::new();
    server
        .streamed(&head, &req, &[], &mut |frame| {
            stream.extend_from_slice(&frame);
            true
        })
        .unwrap();
    let mut rest = &stream[..];
    let mut samples = Vec::new();
    let mut frames = 0;
    while let Some((frame, used)) = codec::take_chunked_frame(rest, 1 << 20).unwrap() {
        let resp: ChunkedReadResponse = codec::decode(frame).unwrap();
        assert_eq!(resp.query_index, 0);
        for series in &resp.chunked_series {
            assert_eq!(labels_of(&series.labels)[1], ("job".into(), "a".into()));
            for chunk in &series.chunks {
                let n = u16::from_be_bytes([chunk.data[0], chunk.data[1]]) as usize;
                assert!(n <= 120);
                let decoded: Vec<_> = ChunkIter::new(&chunk.data, n).unwrap().collect();
                assert_eq!(decoded.first().unwrap().0, chunk.min_time_ms);
                assert_eq!(decoded.last().unwrap().0, chunk.max_time_ms);
                samples.extend(decoded);
            }
        }
        frames += 1;
        rest = &rest[used..];
    }
    assert!(rest.is_empty());
    assert_eq!(frames, 3, "120 + 120 + 60 samples, one chunk per frame");
    assert_eq!(samples.len(), 300);
    assert_eq!(samples[299], (299_000, 299.0));
    // With the default frame size, one frame holds all three chunks.
    let server = ReadServer::new(ReadOptions::default(), Some(encoder()));
    let mut n = 0;
    server
        .streamed(&head, &req, &[], &mut |_| {
            n += 1;
            true
        })
        .unwrap();
    assert_eq!(n, 1);
    // A client gone away ends the read.
    let mut n = 0;
    let server = ReadServer::new(
        ReadOptions {
            max_bytes_in_frame: 64,
            ..ReadOptions::default()
        },
        Some(encoder()),
    );
    server
        .streamed(&head, &req, &[], &mut |_| {
            n += 1;
            false
        })
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn negotiation_and_hostile_requests_are_400() {
    let head = head();
    let server = ReadServer::new(
        ReadOptions {
            max_fields: 10_000,
            ..ReadOptions::default()
        },
        Some(encoder()),
    );
    let e = server.decode(b"garbage").unwrap_err();
    assert_eq!(e.status, 400);
    assert!(e.message.contains("snappy"), "{e}");
    let e = server
        .decode(&codec::snappy_compress(b"\xff\xff"))
        .unwrap_err();
    assert!(e.message.contains("protobuf"), "{e}");
    let e = server.decode(
        &request(vec![], &[])
            .iter()
            .copied()
            .chain([])
            .collect::<Vec<_>>(),
    );
    assert!(e.is_ok());
    // Only an unknown response type.
    let req = ReadRequest {
        queries: vec![],
        accepted_response_types: vec![7],
    };
    let e = server
        .decode(&codec::snappy_compress(&req.encode_to_vec()))
        .unwrap_err();
    assert!(
        e.message
            .contains("does not support any of the requested response types"),
        "{e}"
    );
    // Without an encoder, streamed is not offered.
    let plain = ReadServer::new(ReadOptions::default(), None);
    let body = request(vec![], &[ResponseType::StreamedXorChunks]);
    assert_eq!(plain.decode(&body).unwrap_err().status, 400);
    // A million queries: refused by the field budget before decoding.
    let many = request(
        vec![query(0, 1, vec![matcher(MatcherType::Eq, "a", "b")]); 100_000],
        &[],
    );
    let e = server.decode(&many).unwrap_err();
    assert!(e.message.contains("protobuf fields"), "{e}");
    // A regex that does not compile, and a regex bomb (bounded by the
    // regex engine's size limit).
    for bad in ["(", "((a{1000}){1000}){1000}"] {
        let body = request(
            vec![query(0, 1, vec![matcher(MatcherType::Re, "__name__", bad)])],
            &[],
        );
        let (req, _) = server.decode(&body).unwrap();
        let e = server.sampled(&head, &req, &[]).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("invalid regular expression"), "{e}");
    }
    let body = request(
        vec![query(0, 1, vec![matcher(MatcherType::Eq, "a", "b")])],
        &[],
    );
    let mut req = server.decode(&body).unwrap().0;
    req.queries[0].matchers[0].r#type = 9;
    assert!(
        server
            .sampled(&head, &req, &[])
            .unwrap_err()
            .message
            .contains("invalid matcher type")
    );
}

#[test]
fn sample_limit_counts_the_whole_request() {
    let head = head();
    let server = ReadServer::new(
        ReadOptions {
            sample_limit: 301,
            ..ReadOptions::default()
        },
        Some(encoder()),
    );
    let huge = query(
        i64::MIN,
        i64::MAX,
        vec![matcher(MatcherType::Re, "__name__", ".+")],
    );
    let (req, _) = server.decode(&request(vec![huge.clone()], &[])).unwrap();
    let e = server.sampled(&head, &req, &[]).unwrap_err();
    assert_eq!(
        (e.status, e.message.as_str()),
        (400, "exceeded sample limit (301)")
    );
    let e = server
        .streamed(&head, &req, &[], &mut |_| true)
        .unwrap_err();
    assert_eq!(e.status, 400);
    let (req, _) = server
        .decode(&request(
            vec![query(0, 1000, vec![matcher(MatcherType::Eq, "job", "a")]); 2],
            &[],
        ))
        .unwrap();
    assert!(server.sampled(&head, &req, &[]).is_ok());
    let unlimited = ReadServer::new(
        ReadOptions {
            sample_limit: 0,
            ..ReadOptions::default()
        },
        None,
    );
    let (req, _) = unlimited.decode(&request(vec![huge], &[])).unwrap();
    assert!(unlimited.sampled(&head, &req, &[]).is_ok());
}

#[tokio::test]
async fn the_gate_counts_waiting_reads() {
    let server = Arc::new(ReadServer::new(
        ReadOptions {
            concurrent_limit: 1,
            ..ReadOptions::default()
        },
        None,
    ));
    let value = |s: &ReadServer| s.families()[0].metrics[0].value.clone();
    let slot = server.enter().await;
    assert_eq!(value(&server), wasmetheus_model::MetricValue::Number(1.0));
    let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), server.enter()).await;
    assert!(waiting.is_err(), "the second read waits for the first");
    drop(slot);
    let _again = server.enter().await;
    assert_eq!(value(&server), wasmetheus_model::MetricValue::Number(1.0));
}
