//! Tests of the gateway through its routes: Pushgateway 1.5's semantics
//! as the Debian build answers them, persistence and hostile input.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;
use wasmetheus_model::MetricValue;
use wasmetheus_prompb::client::{Gauge, Metric, MetricFamily, MetricType};
use wasmetheus_prompb::codec;

use crate::{Gateway, Limits, Options};

const PROTOBUF: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

async fn send(
    gateway: &Gateway,
    method: &str,
    path: &str,
    content_type: &str,
    body: impl Into<Body>,
) -> (StatusCode, String) {
    let mut request = Request::builder().method(method).uri(path);
    if !content_type.is_empty() {
        request = request.header("content-type", content_type);
    }
    let response = gateway
        .router()
        .oneshot(request.body(body.into()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn push(gateway: &Gateway, method: &str, path: &str, body: &str) -> (StatusCode, String) {
    send(gateway, method, path, "", body.to_owned()).await
}

/// Every exposed series as `name{labels} value`, sorted, push times as `T`
/// (non-zero) or `0`.
fn series(gateway: &Gateway) -> Vec<String> {
    let mut out = Vec::new();
    for sample in wasmetheus_model::flatten(&gateway.families()) {
        let labels: Vec<String> = (sample.labels.iter())
            .map(|l| format!("{}={:?}", l.name, l.value))
            .collect();
        let value = if sample.name.starts_with("push_") && sample.value != 0.0 {
            "T".to_owned()
        } else {
            sample.value.to_string()
        };
        out.push(format!("{}{{{}}} {value}", sample.name, labels.join(",")));
    }
    out.sort();
    out
}

#[tokio::test]
async fn put_post_and_delete_as_pushgateway() {
    let g = Gateway::open(Options::default());
    let (status, body) = push(
        &g,
        "POST",
        "/metrics/job/j/instance/i",
        "# TYPE a gauge\na{job=\"other\"} 1\nb 2\n",
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    // POST replaces the families it names only.
    push(&g, "POST", "/metrics/job/j/instance/i", "a 3\n").await;
    // A family's type changes with the push that replaces it in its only group.
    expect_test::expect![[r#"
        [
            "a{instance=\"i\",job=\"j\"} 3",
            "b{instance=\"i\",job=\"j\"} 2",
            "push_failure_time_seconds{instance=\"i\",job=\"j\"} 0",
            "push_time_seconds{instance=\"i\",job=\"j\"} T",
        ]
    "#]]
    .assert_debug_eq(&series(&g));
    // PUT replaces the group, keeping the push times.
    push(&g, "PUT", "/metrics/job/j/instance/i", "c 4\n").await;
    // Another group; no instance in the key: an empty one.
    push(&g, "PUT", "/metrics/job@base64/ajI/x/", "c{y=\"1\"} 5\n").await;
    expect_test::expect![[r#"
        [
            "c{instance=\"\",job=\"j2\",x=\"\",y=\"1\"} 5",
            "c{instance=\"i\",job=\"j\"} 4",
            "push_failure_time_seconds{instance=\"\",job=\"j2\",x=\"\"} 0",
            "push_failure_time_seconds{instance=\"i\",job=\"j\"} 0",
            "push_time_seconds{instance=\"\",job=\"j2\",x=\"\"} T",
            "push_time_seconds{instance=\"i\",job=\"j\"} T",
        ]
    "#]]
    .assert_debug_eq(&series(&g));
    // PUT with an empty body empties the group but keeps it.
    push(&g, "PUT", "/metrics/job/j/instance/i", "").await;
    let (status, _) = push(&g, "DELETE", "/metrics/job/j2/x@base64/=", "").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    expect_test::expect![[r#"
        [
            "push_failure_time_seconds{instance=\"i\",job=\"j\"} 0",
            "push_time_seconds{instance=\"i\",job=\"j\"} T",
        ]
    "#]]
    .assert_debug_eq(&series(&g));
    // Deleting what is not there is accepted too.
    assert_eq!(
        push(&g, "DELETE", "/metrics/job/none", "").await.0,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn inconsistent_and_invalid_pushes_are_refused_and_recorded() {
    let g = Gateway::open(Options::default());
    push(&g, "PUT", "/metrics/job/a", "# TYPE m gauge\nm 1\n").await;
    let cases = [
        (
            "m{x=\"1\"} 2 1234\n",
            "pushed metrics must not have timestamps",
        ),
        ("# TYPE m counter\nm 2\n", " is not a GAUGE"),
        (
            "# TYPE n gauge\nn 1\nn 2\n",
            "was collected before with the same name and label values",
        ),
        (
            "# TYPE n gauge\nn{__x=\"1\"} 1\n",
            "has a label with an invalid name: __x",
        ),
        ("bad line\n", "text format parsing error in line 1: "),
    ];
    for (body, wanted) in cases {
        let (status, text) = push(&g, "POST", "/metrics/job/b", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {text}");
        assert!(text.contains(wanted), "{body}: {text}");
    }
    push(
        &g,
        "POST",
        "/metrics/job/q1",
        "# TYPE q summary\nq_sum 1\nq_count 1\n",
    )
    .await;
    let (status, text) = push(
        &g,
        "POST",
        "/metrics/job/q2",
        "# TYPE q_count gauge\nq_count 1\n",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.ends_with("collected metric named \"q_count\" collides with previously collected summary named \"q\"\n"), "{text}");
    // A family declared without samples is not stored.
    assert_eq!(
        push(&g, "POST", "/metrics/job/q3", "# TYPE e gauge\n")
            .await
            .0,
        StatusCode::OK
    );
    assert!(!series(&g).iter().any(|s| s.starts_with("e{")));
    let (_, text) = push(&g, "POST", "/metrics/job/b", "# TYPE m counter\nm 2\n").await;
    assert!(text.starts_with("pushed metrics are invalid or inconsistent with existing metrics: collected metric \"m\" { label:<name:\"instance\" value:\"\" > label:<name:\"job\" value:\"b\" > counter:<value:2 > } is not a GAUGE"), "{text}");
    // The failures are recorded on group b; group a is untouched.
    let all = series(&g);
    assert!(
        all.contains(&"push_failure_time_seconds{instance=\"\",job=\"b\"} T".to_owned()),
        "{all:?}"
    );
    assert!(
        all.contains(&"push_time_seconds{instance=\"\",job=\"b\"} 0".to_owned()),
        "{all:?}"
    );
    assert!(
        all.contains(&"m{instance=\"\",job=\"a\"} 1".to_owned()),
        "{all:?}"
    );
    // Labels in the body lose to the grouping key; a duplicate across
    // groups (job a's m, pushed again with the same labels) is refused.
    let (status, text) = push(
        &g,
        "POST",
        "/metrics/job/a/x/1",
        "# TYPE m gauge\nm{x=\"2\",job=\"a\",instance=\"\"} 1\n",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(series(&g).contains(&"m{instance=\"\",job=\"a\",x=\"1\"} 1".to_owned()));
    // Two series that the key's value makes one.
    let (status, text) = push(
        &g,
        "POST",
        "/metrics/job/a/y/1",
        "# TYPE m gauge\nm{y=\"1\"} 1\nm{y=\"2\"} 1\n",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("was collected before"), "{text}");
    let (status, text) = push(
        &g,
        "POST",
        "/metrics/job/c",
        "# TYPE m gauge\nm{job=\"x\",instance=\"\"} 1\n",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
}

#[tokio::test]
async fn bad_paths_and_methods() {
    let g = Gateway::open(Options::default());
    for (method, path, status, text) in [
        (
            "POST",
            "/metrics/job/j/x",
            400,
            "odd number of components in label string \"/x\"\n",
        ),
        (
            "POST",
            "/metrics/job/j/__x/y",
            400,
            "improper label name \"__x\"\n",
        ),
        (
            "PUT",
            "/metrics/job@base64/%21%21",
            400,
            "invalid base64 encoding in job name \"\": illegal base64 data at input byte 0\n",
        ),
        ("DELETE", "/metrics/job/j/x", 400, "odd number"),
        ("GET", "/metrics/job/j", 405, "Method Not Allowed\n"),
        ("POST", "/metrics/other/j", 404, "404 page not found\n"),
        ("PUT", "/api/v1/admin/wipe", 404, ""),
    ] {
        let (got, body) = push(&g, method, path, "").await;
        assert_eq!(got.as_u16(), status, "{method} {path}: {body}");
        assert!(body.starts_with(text), "{method} {path}: {body}");
    }
    assert_eq!(g.group_count(), 0);
}

#[tokio::test]
async fn protobuf_pushes() {
    let g = Gateway::open(Options::default());
    let family = MetricFamily {
        name: Some("p".into()),
        help: Some("A gauge.".into()),
        r#type: Some(MetricType::Gauge as i32),
        metric: vec![Metric {
            gauge: Some(Gauge { value: Some(1.5) }),
            ..Metric::default()
        }],
        unit: None,
    };
    let mut body = Vec::new();
    codec::put_delimited(&family, &mut body);
    let (status, text) = send(&g, "PUT", "/metrics/job/pb", PROTOBUF, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(series(&g).contains(&"p{instance=\"\",job=\"pb\"} 1.5".to_owned()));
    // Truncated, and garbage: 400, nothing stored.
    let (status, text) = send(
        &g,
        "PUT",
        "/metrics/job/pb2",
        PROTOBUF,
        body[..body.len() - 2].to_vec(),
    )
    .await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::BAD_REQUEST, "unexpected EOF\n")
    );
    let (status, _) = send(
        &g,
        "PUT",
        "/metrics/job/pb2",
        PROTOBUF,
        vec![0x05, 0xff, 0xff, 0xff, 0xff, 0xff],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A declared length far beyond the body.
    let (status, _) = send(
        &g,
        "PUT",
        "/metrics/job/pb2",
        PROTOBUF,
        vec![0xff, 0xff, 0xff, 0xff, 0x0f],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(g.group_count(), 1);
    // No type is a counter (Go's GetType()): an untyped value does not fit.
    let untyped = MetricFamily {
        name: Some("nt".into()),
        metric: vec![Metric {
            untyped: Some(wasmetheus_prompb::client::Untyped { value: Some(1.0) }),
            ..Metric::default()
        }],
        ..MetricFamily::default()
    };
    let mut body = Vec::new();
    codec::put_delimited(&untyped, &mut body);
    let (status, text) = send(&g, "PUT", "/metrics/job/nt", PROTOBUF, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        text.ends_with("untyped:<value:1 > } is not a COUNTER\n"),
        "{text}"
    );
    // Names the text format cannot carry are refused (Pushgateway 1.5
    // takes them and then exposes what no scraper parses).
    for name in ["bad-name", ""] {
        let family = MetricFamily {
            name: Some(name.into()),
            ..family.clone()
        };
        let mut body = Vec::new();
        codec::put_delimited(&family, &mut body);
        let (status, text) = send(&g, "PUT", "/metrics/job/names", PROTOBUF, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
        assert!(text.contains("has an invalid name"), "{text}");
    }
}

#[tokio::test]
async fn limits_are_clear_errors() {
    let g = Gateway::open(Options {
        max_body_bytes: 1024,
        limits: Limits {
            max_groups: 2,
            max_metrics: 10,
            max_label_value_length: 8,
            max_push_samples: 20,
            max_push_decoded_bytes: 4096,
        },
        ..Options::default()
    });
    let (status, _) = push(&g, "PUT", "/metrics/job/big", &"a 1\n".repeat(1000)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, text) = push(&g, "PUT", "/metrics/job/long", "a{x=\"123456789\"} 1\n").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("more than the limit of 8"), "{text}");
    let many: String = (0..10).map(|i| format!("m{i} 1\n")).collect();
    let (status, text) = push(&g, "PUT", "/metrics/job/many", &many).await;
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE, "{text}");
    assert!(text.contains("limit of 10"), "{text}");
    // One push too large: 413, text by samples, protobuf by decoded size.
    let (status, text) = push(&g, "PUT", "/metrics/job/many", &many.repeat(3)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
    assert!(
        text.contains("30 samples, more than the limit of 20"),
        "{text}"
    );
    let empty_metrics = MetricFamily {
        name: Some("e".into()),
        metric: vec![Metric::default(); 100],
        ..MetricFamily::default()
    };
    let mut body = Vec::new();
    codec::put_delimited(&empty_metrics, &mut body);
    assert!(body.len() < 300);
    let (status, text) = send(&g, "PUT", "/metrics/job/many", PROTOBUF, body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
    assert!(text.contains("4096 bytes of memory decoded"), "{text}");
    push(&g, "PUT", "/metrics/job/one", "").await;
    let (status, text) = push(&g, "PUT", "/metrics/job/three", "").await;
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE, "{text}");
    assert!(text.contains("groups"), "{text}");
}

#[tokio::test]
async fn json_of_the_groups_and_wipe() {
    let g = Gateway::open(Options {
        admin_api: true,
        ..Options::default()
    });
    let body = "# HELP h Some help.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\n# TYPE c counter\nc 5\n";
    push(&g, "PUT", "/metrics/job/j1/instance/i1", body).await;
    let (status, text) = push(&g, "GET", "/api/v1/metrics", "").await;
    assert_eq!(status, StatusCode::OK);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["status"], "success");
    let group = &value["data"][0];
    assert_eq!(group["labels"]["instance"], "i1");
    assert_eq!(group["last_push_successful"], true);
    assert_eq!(group["h"]["type"], "HISTOGRAM");
    assert_eq!(group["h"]["help"], "Some help.");
    assert_eq!(group["h"]["metrics"][0]["buckets"]["+Inf"], "2");
    assert_eq!(group["h"]["metrics"][0]["count"], "2");
    assert_eq!(group["s"]["metrics"][0]["quantiles"]["0.5"], "1");
    assert_eq!(group["c"]["metrics"][0]["value"], "5");
    assert!(group["c"].get("help").is_none());
    assert!(group["c"]["time_stamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        group["push_time_seconds"]["metrics"][0]["labels"]["job"],
        "j1"
    );
    let (status, _) = push(&g, "PUT", "/api/v1/admin/wipe", "").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(g.group_count(), 0);
}

#[tokio::test]
async fn exposition_keeps_pushed_names_and_types() {
    let g = Gateway::open(Options::default());
    push(&g, "PUT", "/metrics/job/j", "# TYPE c counter\nc 5\n# TYPE d_total counter\nd_total 1\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 3\nh_count 2\n").await;
    let families = g.families();
    let kinds: BTreeMap<String, String> = families
        .iter()
        .map(|f| (f.name.clone(), format!("{:?}", f.kind)))
        .collect();
    // A counter without `_total` is exposed untyped, keeping its name.
    assert_eq!(kinds["c"], "Untyped");
    assert_eq!(kinds["d_total"], "Counter");
    let h = families.iter().find(|f| f.name == "h").unwrap();
    assert!(matches!(&h.metrics[0].value, MetricValue::Histogram(h) if h.count == 2.0));
    expect_test::expect![[r#"
        [
            "c{instance=\"\",job=\"j\"} 5",
            "d_total{instance=\"\",job=\"j\"} 1",
            "h_bucket{instance=\"\",job=\"j\",le=\"+Inf\"} 2",
            "h_bucket{instance=\"\",job=\"j\",le=\"1\"} 1",
            "h_count{instance=\"\",job=\"j\"} 2",
            "h_sum{instance=\"\",job=\"j\"} 3",
            "push_failure_time_seconds{instance=\"\",job=\"j\"} 0",
            "push_time_seconds{instance=\"\",job=\"j\"} T",
        ]
    "#]]
    .assert_debug_eq(&series(&g));
}

#[tokio::test]
async fn groups_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pushgateway");
    let options = Options {
        persistence_file: Some(file.clone()),
        persist_delay: std::time::Duration::from_millis(10),
        ..Options::default()
    };
    let g = Gateway::open(options.clone());
    g.start_persistence();
    push(
        &g,
        "PUT",
        "/metrics/job/j/instance/i",
        "# HELP a A.\n# TYPE a gauge\na 1\n",
    )
    .await;
    push(
        &g,
        "PUT",
        "/metrics/job@base64/YS9i/x/",
        "# TYPE s summary\ns{quantile=\"0.9\"} 1\ns_sum 1\ns_count 1\n",
    )
    .await;
    push(&g, "POST", "/metrics/job/bad", "m 1 1000\n").await;
    // The debounced write lands without a shutdown.
    let mut written = false;
    for _ in 0..200 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        if file.exists() {
            let reopened = Gateway::open(Options {
                persistence_file: Some(file.clone()),
                ..Options::default()
            });
            if reopened.group_count() == 3 {
                written = true;
                break;
            }
        }
    }
    assert!(written, "the groups were not persisted");
    let before = g.inner.store.lock().clone();
    g.shutdown().unwrap();
    let again = Gateway::open(options);
    let after = again.inner.store.lock().clone();
    assert_eq!(after.groups, before.groups);
    assert!(
        !after
            .groups
            .values()
            .find(|g| g.labels["job"] == "bad")
            .unwrap()
            .last_push_successful()
    );
}

#[tokio::test]
async fn a_corrupt_file_is_set_aside_and_the_store_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pushgateway");
    for bytes in [
        b"garbage".to_vec(),
        b"wasmetheus-pushgateway 1\n\xff\xff\xff".to_vec(),
        b"wasmetheus-pushgateway 1\n\x03\x0a\x01\x00".to_vec(),
    ] {
        std::fs::write(&file, &bytes).unwrap();
        let g = Gateway::open(Options {
            persistence_file: Some(file.clone()),
            ..Options::default()
        });
        assert_eq!(g.group_count(), 0);
        assert!(dir.path().join("pushgateway.corrupt").exists());
        // And it works: a push, then a good file.
        push(&g, "PUT", "/metrics/job/j", "a 1\n").await;
        g.shutdown().unwrap();
        let g = Gateway::open(Options {
            persistence_file: Some(file.clone()),
            ..Options::default()
        });
        assert_eq!(g.group_count(), 1);
    }
}

#[tokio::test]
async fn hostile_text_bodies_are_refused_without_harm() {
    let g = Gateway::open(Options::default());
    push(&g, "PUT", "/metrics/job/keep", "a 1\n").await;
    let nested = format!("a{{{}}} 1\n", "x=\"{".repeat(10_000));
    for body in [
        nested.as_str(),
        "a{x=\"1\",x=\"2\"} 1\n",
        "\u{0}\u{0}\n",
        "# TYPE a gauge\n# TYPE a counter\n",
        "a NaNx\n",
    ] {
        let (status, _) = push(&g, "POST", "/metrics/job/keep", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:.40}");
    }
    let (status, _) = send(
        &g,
        "POST",
        "/metrics/job/keep",
        "text/plain",
        vec![0xff, 0xfe, b'\n'],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(series(&g).contains(&"a{instance=\"\",job=\"keep\"} 1".to_owned()));
}

#[tokio::test]
async fn the_store_stays_consistent_as_a_whole() {
    // Pushes checked against the names they touch keep the whole
    // exposition consistent.
    let g = Gateway::open(Options::default());
    let pushes = [
        (
            "/metrics/job/a",
            "# TYPE m gauge\nm 1\n# TYPE q summary\nq_sum 1\nq_count 1\n",
        ),
        ("/metrics/job/b", "# TYPE m counter\nm 1\n"),
        ("/metrics/job/b", "# TYPE q_count gauge\nq_count 1\n"),
        ("/metrics/job/b", "# TYPE q_sum gauge\nq_sum 1\n"),
        (
            "/metrics/job/c",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
        ),
        ("/metrics/job/d", "h_bucket 1\n"),
        ("/metrics/job/d", "m{instance=\"\",job=\"a\"} 1\n"),
        ("/metrics/job/a/instance/x", "# TYPE m gauge\nm 2\n"),
        ("/metrics/job/e", "# TYPE m gauge\nm{instance=\"x\"} 3\n"),
        (
            "/metrics/job/a",
            "# TYPE q summary\nq{quantile=\"0.5\"} 1\n",
        ),
    ];
    for (path, body) in pushes {
        for method in ["POST", "PUT"] {
            push(&g, method, path, body).await;
            let store = g.inner.store.lock();
            let all = store.exposition();
            let errors = crate::check::check(all.iter());
            assert!(errors.is_empty(), "{method} {path}: {errors:?}");
        }
    }
    assert!(series(&g).contains(&"m{instance=\"x\",job=\"a\"} 2".to_owned()));
}
