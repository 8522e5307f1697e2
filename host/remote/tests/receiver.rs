//! The remote write receiver against the TSDB's head: negotiation, status
//! codes, validation, 2.0's statistics, bounds, and that a refused
//! request stores nothing.

use wasmetheus_model::Label;
use wasmetheus_model::storage::{Matcher, Queryable, SeriesSamples};
use wasmetheus_prompb::remote::WriteRequest;
use wasmetheus_prompb::types::{self, Histogram, Sample, TimeSeries};
use wasmetheus_prompb::{Message, codec, write_v2};
use wasmetheus_remote::receiver::{MessageKind, Receiver, ReceiverOptions, Written};
use wasmetheus_tsdb::{Head, HeadLimits};

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| types::Label {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        samples: samples
            .iter()
            .map(|&(timestamp, value)| Sample { value, timestamp })
            .collect(),
        ..TimeSeries::default()
    }
}

fn v1(timeseries: Vec<TimeSeries>) -> Vec<u8> {
    codec::snappy_compress(
        &WriteRequest {
            timeseries,
            metadata: Vec::new(),
        }
        .encode_to_vec(),
    )
}

fn stored(head: &Head) -> Vec<SeriesSamples> {
    head.select(
        &[Matcher::new(
            wasmetheus_model::storage::MatchType::Regex,
            "__name__",
            ".+",
        )
        .unwrap()],
        i64::MIN,
        i64::MAX,
    )
    .unwrap()
}

#[test]
fn negotiates_like_prometheus() {
    let r = Receiver::default();
    let r = Receiver::new(ReceiverOptions {
        accepted: r.options().accepted.clone(),
        ..ReceiverOptions::default()
    });
    assert_eq!(r.negotiate(None, None), Ok(MessageKind::V1));
    assert_eq!(
        r.negotiate(Some("application/x-protobuf"), Some("snappy")),
        Ok(MessageKind::V1)
    );
    assert_eq!(
        r.negotiate(
            Some("application/x-protobuf;proto=prometheus.WriteRequest"),
            None
        ),
        Ok(MessageKind::V1)
    );
    assert_eq!(
        r.negotiate(Some(wasmetheus_prompb::CONTENT_TYPE_V2), Some("snappy")),
        Ok(MessageKind::V2)
    );
    let e = r.negotiate(Some("application/json"), None).unwrap_err();
    assert!(e.0.contains("expected application/x-protobuf"), "{e}");
    let e = r
        .negotiate(Some("application/x-protobuf;proto=foo.Bar"), None)
        .unwrap_err();
    assert!(
        e.0.contains("unknown type for remote write protobuf message foo.Bar"),
        "{e}"
    );
    let e = r
        .negotiate(Some("application/x-protobuf"), Some("gzip"))
        .unwrap_err();
    assert!(
        e.0.contains("gzip encoding (compression) is not accepted"),
        "{e}"
    );
    let only_v1 = Receiver::new(ReceiverOptions {
        accepted: vec![MessageKind::V1],
        ..ReceiverOptions::default()
    });
    let e = only_v1
        .negotiate(Some(wasmetheus_prompb::CONTENT_TYPE_V2), None)
        .unwrap_err();
    assert!(
        e.0.contains("io.prometheus.write.v2.Request protobuf message is not accepted"),
        "{e}"
    );
}

#[test]
fn v1_round_trip_sorts_labels_and_skips_invalid_series() {
    let head = Head::new(HeadLimits::default());
    let r = Receiver::default();
    let body = v1(vec![
        // Unsorted: sorted as Prometheus' label builder does.
        series(
            &[("job", "a"), ("__name__", "up")],
            &[(1000, 1.0), (2000, 0.0)],
        ),
        // No metric name: skipped and counted.
        series(&[("job", "b")], &[(1000, 5.0)]),
        // Duplicate label name: skipped and counted.
        series(&[("__name__", "x"), ("a", "1"), ("a", "2")], &[(1000, 5.0)]),
    ]);
    let out = r.write(&head, MessageKind::V1, &body);
    assert_eq!((out.status, out.written), (204, None), "{}", out.message);
    let got = stored(&head);
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].labels,
        vec![Label::new("__name__", "up"), Label::new("job", "a")]
    );
    assert_eq!(got[0].samples, vec![(1000, 1.0), (2000, 0.0)]);
    let metrics = r.families();
    let invalid = metrics
        .iter()
        .find(|f| f.name == "prometheus_api_remote_write_invalid_labels_samples_total")
        .unwrap();
    assert_eq!(
        invalid.metrics[0].value,
        wasmetheus_model::MetricValue::Number(2.0)
    );
}

#[test]
fn out_of_order_is_400_and_stores_nothing_of_the_request() {
    let head = Head::new(HeadLimits::default());
    let r = Receiver::default();
    let ok = r.write(
        &head,
        MessageKind::V1,
        &v1(vec![series(&[("__name__", "a")], &[(5000, 1.0)])]),
    );
    assert_eq!(ok.status, 204);
    let body = v1(vec![
        series(&[("__name__", "b")], &[(1000, 1.0), (2000, 2.0)]),
        series(&[("__name__", "a")], &[(6000, 2.0), (4000, 3.0)]),
    ]);
    let out = r.write(&head, MessageKind::V1, &body);
    assert_eq!(out.status, 400, "{}", out.message);
    assert!(out.message.contains("out of order"), "{}", out.message);
    assert!(out.message.contains("nothing of this request was stored"));
    let got = stored(&head);
    assert_eq!(got.len(), 1, "series b was not stored: {got:?}");
    assert_eq!(got[0].samples, vec![(5000, 1.0)], "6000 was rolled back");
    // Duplicate timestamp with another value: also 400.
    let out = r.write(
        &head,
        MessageKind::V1,
        &v1(vec![series(&[("__name__", "a")], &[(5000, 9.0)])]),
    );
    assert_eq!(out.status, 400, "{}", out.message);
}

#[test]
fn malformed_bodies_are_400() {
    let head = Head::new(HeadLimits::default());
    let r = Receiver::default();
    for (body, expected) in [
        (b"not snappy at all".to_vec(), "snappy"),
        (codec::snappy_compress(b"\xff\xff\xff\xff"), "protobuf"),
        (codec::snappy_compress(&[0x0a, 0x05, 0x01]), "protobuf"),
    ] {
        for kind in [MessageKind::V1, MessageKind::V2] {
            let out = r.write(&head, kind, &body);
            assert_eq!(out.status, 400, "{body:?}");
            assert!(out.message.contains(expected), "{}", out.message);
        }
    }
    assert!(stored(&head).is_empty());
}

#[test]
fn bounds_hold_before_decoding() {
    let head = Head::new(HeadLimits::default());
    let r = Receiver::new(ReceiverOptions {
        max_decoded_bytes: 1 << 20,
        max_fields: 10_000,
        max_labels: 4,
        max_label_bytes: 16,
        ..ReceiverOptions::default()
    });
    // Decoded size over the limit.
    let big = codec::snappy_compress(&vec![0u8; 2 << 20]);
    let out = r.write(&head, MessageKind::V1, &big);
    assert_eq!(out.status, 400);
    assert!(out.message.contains("exceeds the limit"), "{}", out.message);
    // Many empty labels: small on the wire, refused by the field budget.
    let mut ts = series(&[("__name__", "x")], &[(1, 1.0)]);
    ts.labels
        .extend(std::iter::repeat_n(types::Label::default(), 20_000));
    let out = r.write(&head, MessageKind::V1, &v1(vec![ts]));
    assert_eq!(out.status, 400);
    assert!(out.message.contains("protobuf fields"), "{}", out.message);
    // Label bounds: in 2.0 a 400.
    let v2 = v2_request(
        &["", "__name__", "x", "a", "b", "c", "d", "e", "f", "g", "h"],
        vec![(vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10], vec![(1, 1.0)])],
    );
    let out = r.write(&head, MessageKind::V2, &v2);
    assert_eq!(out.status, 400);
    assert!(
        out.message.contains("more than the limit of 4"),
        "{}",
        out.message
    );
    assert!(stored(&head).is_empty());
}

/// A 2.0 series: its label references and samples.
type V2Series = (Vec<u32>, Vec<(i64, f64)>);

fn v2_request(symbols: &[&str], series: Vec<V2Series>) -> Vec<u8> {
    let req = write_v2::Request {
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        timeseries: series
            .into_iter()
            .map(|(labels_refs, samples)| write_v2::TimeSeries {
                labels_refs,
                samples: samples
                    .into_iter()
                    .map(|(timestamp, value)| write_v2::Sample { value, timestamp })
                    .collect(),
                ..write_v2::TimeSeries::default()
            })
            .collect(),
    };
    codec::snappy_compress(&req.encode_to_vec())
}

#[test]
fn v2_round_trip_reports_what_was_written() {
    let head = Head::new(HeadLimits::default());
    let r = Receiver::default();
    let body = v2_request(
        &["", "__name__", "up", "job", "node"],
        vec![
            (vec![1, 2, 3, 4], vec![(1000, 1.0), (2000, 1.0)]),
            (vec![3, 4, 1, 2], vec![(3000, 0.0)]),
        ],
    );
    let out = r.write(&head, MessageKind::V2, &body);
    assert_eq!(out.status, 204, "{}", out.message);
    assert_eq!(
        out.written,
        Some(Written {
            samples: 3,
            histograms: 0,
            exemplars: 0
        })
    );
    let got = stored(&head);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].samples, vec![(1000, 1.0), (2000, 1.0), (3000, 0.0)]);
    let requests = r
        .families()
        .into_iter()
        .find(|f| f.name == "wasmetheus_remote_write_stored_requests_total")
        .unwrap();
    let counts: Vec<_> = requests
        .metrics
        .iter()
        .map(|m| (m.labels[0].value.clone(), m.value.clone()))
        .collect();
    assert_eq!(
        counts,
        vec![
            (
                "prometheus.WriteRequest".to_owned(),
                wasmetheus_model::MetricValue::Number(0.0)
            ),
            (
                "io.prometheus.write.v2.Request".to_owned(),
                wasmetheus_model::MetricValue::Number(1.0)
            ),
        ]
    );
    assert_eq!(
        out.written.unwrap().headers()[0],
        ("X-Prometheus-Remote-Write-Samples-Written", "3".to_owned())
    );
}

#[test]
fn v2_refuses_invalid_series_whole() {
    let head = Head::new(HeadLimits::default());
    let r = Receiver::default();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            v2_request(
                &["", "__name__", "up", "job"],
                vec![(vec![1, 2], vec![(1, 1.0)]), (vec![3, 2], vec![(1, 1.0)])],
            ),
            "invalid metric name or labels",
        ),
        (
            v2_request(&["", "__name__", "up"], vec![(vec![1, 9], vec![(1, 1.0)])]),
            "symbol reference 9",
        ),
        (
            v2_request(
                &["", "__name__", "up"],
                vec![(vec![1, 2, 1], vec![(1, 1.0)])],
            ),
            "odd number",
        ),
        (
            v2_request(&["x", "__name__", "up"], vec![(vec![1, 2], vec![(1, 1.0)])]),
            "first entry",
        ),
        (
            v2_request(
                &["", "__name__", "up", "a"],
                vec![(vec![1, 2, 3, 2, 3, 1], vec![(1, 1.0)])],
            ),
            "duplicated label a",
        ),
    ];
    for (body, expected) in cases {
        let out = r.write(&head, MessageKind::V2, &body);
        assert_eq!(out.status, 400, "{expected}");
        assert!(
            out.message.contains(expected),
            "{} vs {expected}",
            out.message
        );
        assert_eq!(out.written, Some(Written::default()));
    }
    assert!(
        stored(&head).is_empty(),
        "the valid first series was not stored either"
    );
}

#[test]
fn native_histograms_are_refused_clearly() {
    let head = Head::new(HeadLimits::default());
    let r = Receiver::default();
    let mut ts = series(&[("__name__", "h")], &[]);
    ts.histograms.push(Histogram::default());
    let out = r.write(
        &head,
        MessageKind::V1,
        &v1(vec![series(&[("__name__", "f")], &[(1, 1.0)]), ts]),
    );
    assert_eq!(out.status, 400);
    assert!(out.message.contains("native histogram"), "{}", out.message);
    assert!(stored(&head).is_empty());
}

#[test]
fn utf8_names_are_taken_as_prometheus_3_does() {
    // Prometheus 2.42 would skip this series (legacy name validation);
    // Prometheus 3.x validates names as UTF-8 and stores it. Empty label
    // values mean "no such label" and are dropped.
    let head = Head::new(HeadLimits::default());
    let r = Receiver::default();
    let body = v1(vec![series(
        &[
            ("__name__", "http.requests"),
            ("zone.name", "ü"),
            ("empty", ""),
        ],
        &[(1000, 1.0)],
    )]);
    let out = r.write(&head, MessageKind::V1, &body);
    assert_eq!(out.status, 204, "{}", out.message);
    assert_eq!(
        stored(&head)[0].labels,
        vec![
            Label::new("__name__", "http.requests"),
            Label::new("zone.name", "ü")
        ]
    );
    // An empty label name is invalid in both: skipped in 1.0.
    let body = v1(vec![series(
        &[("__name__", "x"), ("", "v")],
        &[(1000, 1.0)],
    )]);
    assert_eq!(r.write(&head, MessageKind::V1, &body).status, 204);
    assert_eq!(stored(&head).len(), 1);
}

#[test]
fn v2_symbol_references_cannot_amplify() {
    let head = Head::new(HeadLimits::default());
    let r = Receiver::default();
    // One 1 MiB symbol named by 4 million one-byte references: some 4 MB
    // decoded, a few hundred KB compressed, 4 TiB if every reference were
    // resolved.
    let long = "a".repeat(1 << 20);
    let mut refs = vec![1, 2];
    refs.extend(std::iter::repeat_n(3, 4_000_000));
    let body = v2_request(&["", "__name__", "up", &long], vec![(refs, vec![(1, 1.0)])]);
    assert!(body.len() < 2 << 20, "{}", body.len());
    let started = std::time::Instant::now();
    let out = r.write(&head, MessageKind::V2, &body);
    assert_eq!(out.status, 400);
    assert!(
        out.message
            .contains("2000001 labels, more than the limit of 1000"),
        "{}",
        out.message
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));

    // Within the label count, a symbol over the label length is refused
    // before it is copied.
    let body = v2_request(
        &["", "__name__", "up", &long],
        vec![(vec![1, 2, 3, 3], vec![(1, 1.0)])],
    );
    let out = r.write(&head, MessageKind::V2, &body);
    assert_eq!(out.status, 400);
    assert!(
        out.message
            .contains("(symbol 3) is longer than the limit of 65536 bytes"),
        "{}",
        out.message
    );

    // Many series each within the bounds: the request's total is capped.
    let r = Receiver::new(ReceiverOptions {
        max_request_label_bytes: 1 << 20,
        ..ReceiverOptions::default()
    });
    let value = "v".repeat(60_000);
    let series = (0..100)
        .map(|i| (vec![1, 2, 3, 4], vec![(i, 1.0)]))
        .collect();
    let body = v2_request(&["", "__name__", "up", "l", &value], series);
    let out = r.write(&head, MessageKind::V2, &body);
    assert_eq!(out.status, 400);
    assert!(
        out.message.contains("labels hold more than 1048576 bytes"),
        "{}",
        out.message
    );
    assert!(stored(&head).is_empty());
}

#[tokio::test]
async fn concurrent_writes_wait_at_the_gate() {
    let r = Receiver::new(ReceiverOptions {
        max_concurrent_writes: 2,
        ..ReceiverOptions::default()
    });
    let first = r.enter().await;
    let _second = r.enter().await;
    let wait = std::time::Duration::from_millis(50);
    assert!(tokio::time::timeout(wait, r.enter()).await.is_err());
    drop(first);
    assert!(tokio::time::timeout(wait, r.enter()).await.is_ok());
}
