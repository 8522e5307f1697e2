//! `query`, `query_range`, `format_query`, `parse_query` and
//! `query_exemplars`: parameters, errors and answers.

use crate::fake::{Fake, FakeStore};
use crate::{enc, get, post_form, send};
use expect_test::expect;
use std::sync::Arc;
use wasmetheus_api::QueryGate;

#[tokio::test]
async fn instant_query_answers_a_vector_at_time() {
    let q = enc("sum by (code) (rate(http_requests_total[1m]))");
    let answer = get(&format!("/api/v1/query?query={q}&time=1700000300")).await;
    expect![[r#"
        200 application/json
        {"status":"success","data":{"resultType":"vector","result":[{"metric":{"code":"200"},"value":[1700000300,"0.9999999999999999"]},{"metric":{"code":"500"},"value":[1700000300,"0.09999999999999999"]}]}}"#]]
    .assert_eq(&answer.to_string());
    // RFC 3339 and fractional seconds name the same time.
    let rfc = get(&format!(
        "/api/v1/query?query={q}&time=2023-11-14T22:18:20.000Z"
    ))
    .await;
    assert_eq!(rfc.body, answer.body);
    let fraction = get(&format!("/api/v1/query?query={q}&time=1700000300.0001")).await;
    assert_eq!(fraction.body, answer.body);
    // The same by POST.
    let posted = post_form("/api/v1/query", &format!("query={q}&time=1700000300")).await;
    assert_eq!(posted.to_string(), answer.to_string());
}

#[tokio::test]
async fn instant_query_scalars_strings_and_annotations() {
    let answer = get("/api/v1/query?query=1%2B1&time=1700000300.5").await;
    expect![[r#"
        200 application/json
        {"status":"success","data":{"resultType":"scalar","result":[1700000300.500,"2"]}}"#]]
    .assert_eq(&answer.to_string());
    let answer = get("/api/v1/query?query=%22a%22&time=-1.5").await;
    expect![[r#"
        200 application/json
        {"status":"success","data":{"resultType":"string","result":[-1.500,"a"]}}"#]]
    .assert_eq(&answer.to_string());
    // `rate` of a gauge: Prometheus' info annotation.
    let q = enc("rate(temperature[1m])");
    let answer = get(&format!("/api/v1/query?query={q}&time=1700000300")).await;
    expect![[r#"
        200 application/json
        {"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"home","room":"hall"},"value":[1700000300,"0.4666666666666666"]}]},"infos":["PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"temperature\" (1:6)"]}"#]]
    .assert_eq(&answer.to_string());
    // No time: now.
    let answer = get("/api/v1/query?query=time()").await;
    assert_eq!(answer.status, 200, "{answer}");
    assert!(answer.body.contains(r#""resultType":"scalar""#), "{answer}");
    let answer = get("/api/v1/query?query=time()&time=").await;
    assert_eq!(answer.status, 200, "{answer}");
}

#[tokio::test]
async fn instant_query_errors() {
    let cases = [
        "/api/v1/query?query=up&time=yesterday",
        "/api/v1/query?query=up&time=NaN",
        "/api/v1/query?query=up&time=2025-02-30T00:00:00Z&time=1",
        "/api/v1/query?query=up&timeout=soon",
        "/api/v1/query?query=sum(",
        "/api/v1/query",
        "/api/v1/query?query=up&time=1&x=%zz",
    ];
    let mut out = String::new();
    for uri in cases {
        out.push_str(&format!("{uri}\n{}\n", get(uri).await));
    }
    expect![[r#"
        /api/v1/query?query=up&time=yesterday
        400 application/json
        {"error":"invalid parameter \"time\": cannot parse \"yesterday\" to a valid timestamp","errorType":"bad_data","status":"error"}
        /api/v1/query?query=up&time=NaN
        400 application/json
        {"error":"invalid parameter \"time\": cannot parse \"NaN\" to a valid timestamp","errorType":"bad_data","status":"error"}
        /api/v1/query?query=up&time=2025-02-30T00:00:00Z&time=1
        200 application/json
        {"status":"success","data":{"resultType":"vector","result":[]}}
        /api/v1/query?query=up&timeout=soon
        400 application/json
        {"error":"invalid parameter \"timeout\": cannot parse \"soon\" to a valid duration","errorType":"bad_data","status":"error"}
        /api/v1/query?query=sum(
        400 application/json
        {"error":"invalid parameter \"query\": 1:5: parse error: unclosed left parenthesis","errorType":"bad_data","status":"error"}
        /api/v1/query
        400 application/json
        {"error":"invalid parameter \"query\": 1:1: parse error: no expression found in input","errorType":"bad_data","status":"error"}
        /api/v1/query?query=up&time=1&x=%zz
        200 application/json
        {"status":"success","data":{"resultType":"vector","result":[]}}
    "#]]
    .assert_eq(&out);
}

#[tokio::test]
async fn queries_without_storage_or_slot_are_unavailable() {
    let answer = send(
        Fake {
            store: None,
            ..Fake::default()
        },
        "GET",
        "/api/v1/query?query=1",
        &[],
        "",
    )
    .await;
    expect![[r#"
        503 application/json
        {"error":"this server has no storage to query","errorType":"unavailable","status":"error"}"#]]
    .assert_eq(&answer.to_string());
    // Every slot taken: the query waits its timeout out in the queue.
    let gate = Arc::new(QueryGate::new(1));
    let _held = gate.enter(std::time::Duration::from_secs(1)).await.unwrap();
    let answer = send(
        Fake {
            gate: Some(Arc::clone(&gate)),
            ..Fake::default()
        },
        "GET",
        "/api/v1/query?query=1&timeout=0.05",
        &[],
        "",
    )
    .await;
    expect![[r#"
        503 application/json
        {"error":"query timed out in query queue","errorType":"timeout","status":"error"}"#]]
    .assert_eq(&answer.to_string());
    assert_eq!(gate.waiting(), 0);
}

#[tokio::test]
async fn storage_errors_are_internal() {
    let store = FakeStore {
        fail: Some("disk on fire".into()),
        ..FakeStore::fixture()
    };
    let answer = send(
        Fake {
            store: Some(Arc::new(store)),
            ..Fake::default()
        },
        "GET",
        "/api/v1/query?query=up&time=1",
        &[],
        "",
    )
    .await;
    expect![[r#"
        500 application/json
        {"error":"disk on fire","errorType":"internal","status":"error"}"#]]
    .assert_eq(&answer.to_string());
}

#[tokio::test]
async fn range_query_answers_a_matrix() {
    let q = enc("sum(rate(http_requests_total[1m]))");
    let answer = get(&format!(
        "/api/v1/query_range?query={q}&start=1700000240&end=2023-11-14T22:18:20Z&step=30s"
    ))
    .await;
    expect![[r#"
        200 application/json
        {"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1700000240,"1.0999999999999999"],[1700000270,"1.0999999999999999"],[1700000300,"1.0999999999999999"]]}]}}"#]]
    .assert_eq(&answer.to_string());
    let posted = post_form(
        "/api/v1/query_range",
        &format!("query={q}&start=1700000240&end=1700000300&step=30"),
    )
    .await;
    assert_eq!(posted.body, answer.body);
}

#[tokio::test]
async fn range_query_errors() {
    let cases = [
        "/api/v1/query_range?query=up&end=10&step=1",
        "/api/v1/query_range?query=up&start=10&step=1",
        "/api/v1/query_range?query=up&start=x&end=10&step=1",
        "/api/v1/query_range?query=up&start=10&end=5&step=1",
        "/api/v1/query_range?query=up&start=0&end=10",
        "/api/v1/query_range?query=up&start=0&end=10&step=0",
        "/api/v1/query_range?query=up&start=0&end=10&step=-1",
        "/api/v1/query_range?query=up&start=0&end=10&step=1x",
        "/api/v1/query_range?query=up&start=0&end=11001&step=1",
        "/api/v1/query_range?query=up&start=0&end=11000&step=1&timeout=x",
        "/api/v1/query_range?query=rate(up)&start=0&end=10&step=1",
    ];
    let mut out = String::new();
    for uri in cases {
        out.push_str(&format!("{uri}\n{}\n", get(uri).await));
    }
    expect![[r#"
        /api/v1/query_range?query=up&end=10&step=1
        400 application/json
        {"error":"invalid parameter \"start\": cannot parse \"\" to a valid timestamp","errorType":"bad_data","status":"error"}
        /api/v1/query_range?query=up&start=10&step=1
        400 application/json
        {"error":"invalid parameter \"end\": cannot parse \"\" to a valid timestamp","errorType":"bad_data","status":"error"}
        /api/v1/query_range?query=up&start=x&end=10&step=1
        400 application/json
        {"error":"invalid parameter \"start\": cannot parse \"x\" to a valid timestamp","errorType":"bad_data","status":"error"}
        /api/v1/query_range?query=up&start=10&end=5&step=1
        400 application/json
        {"error":"invalid parameter \"end\": end timestamp must not be before start time","errorType":"bad_data","status":"error"}
        /api/v1/query_range?query=up&start=0&end=10
        400 application/json
        {"error":"invalid parameter \"step\": cannot parse \"\" to a valid duration","errorType":"bad_data","status":"error"}
        /api/v1/query_range?query=up&start=0&end=10&step=0
        400 application/json
        {"error":"invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer","errorType":"bad_data","status":"error"}
        /api/v1/query_range?query=up&start=0&end=10&step=-1
        400 application/json
        {"error":"invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer","errorType":"bad_data","status":"error"}
        /api/v1/query_range?query=up&start=0&end=10&step=1x
        400 application/json
        {"error":"invalid parameter \"step\": cannot parse \"1x\" to a valid duration","errorType":"bad_data","status":"error"}
        /api/v1/query_range?query=up&start=0&end=11001&step=1
        400 application/json
        {"error":"exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)","errorType":"bad_data","status":"error"}
        /api/v1/query_range?query=up&start=0&end=11000&step=1&timeout=x
        400 application/json
        {"error":"invalid parameter \"timeout\": cannot parse \"x\" to a valid duration","errorType":"bad_data","status":"error"}
        /api/v1/query_range?query=rate(up)&start=0&end=10&step=1
        400 application/json
        {"error":"invalid parameter \"query\": 1:6: parse error: expected type range vector in call to function \"rate\", got instant vector","errorType":"bad_data","status":"error"}
    "#]]
    .assert_eq(&out);
}

#[tokio::test]
async fn format_parse_and_exemplar_queries() {
    let cases = [
        format!(
            "/api/v1/format_query?query={}",
            enc("sum(rate(x[5m]))by(job)")
        ),
        "/api/v1/format_query?query=sum(".to_owned(),
        format!("/api/v1/parse_query?query={}", enc("a<1")),
        "/api/v1/parse_query?query=)".to_owned(),
        "/api/v1/query_exemplars?query=up&start=0&end=10".to_owned(),
        "/api/v1/query_exemplars?query=up&start=10&end=0".to_owned(),
        "/api/v1/query_exemplars?query=up&start=x".to_owned(),
        "/api/v1/query_exemplars?query=(".to_owned(),
    ];
    let mut out = String::new();
    for uri in &cases {
        out.push_str(&format!("{uri}\n{}\n", get(uri).await));
    }
    expect![[r#"
        /api/v1/format_query?query=sum%28rate%28x%5B5m%5D%29%29by%28job%29
        200 application/json
        {"status":"success","data":"sum by (job) (rate(x[5m]))"}
        /api/v1/format_query?query=sum(
        400 application/json
        {"error":"invalid parameter \"query\": 1:5: parse error: unclosed left parenthesis","errorType":"bad_data","status":"error"}
        /api/v1/parse_query?query=a%3C1
        200 application/json
        {"status":"success","data":{"bool":false,"lhs":{"anchored":false,"matchers":[{"name":"__name__","type":"=","value":"a"}],"name":"a","offset":0,"offsetExpr":null,"smoothed":false,"startOrEnd":null,"timestamp":null,"type":"vectorSelector"},"matching":null,"op":"\u003c","rhs":{"type":"numberLiteral","val":"1"},"type":"binaryExpr"}}
        /api/v1/parse_query?query=)
        400 application/json
        {"error":"invalid parameter \"query\": 1:2: parse error: unexpected right parenthesis ')'","errorType":"bad_data","status":"error"}
        /api/v1/query_exemplars?query=up&start=0&end=10
        200 application/json
        {"status":"success","data":[]}
        /api/v1/query_exemplars?query=up&start=10&end=0
        400 application/json
        {"error":"end timestamp must not be before start timestamp","errorType":"bad_data","status":"error"}
        /api/v1/query_exemplars?query=up&start=x
        400 application/json
        {"error":"invalid parameter \"start\": cannot parse \"x\" to a valid timestamp","errorType":"bad_data","status":"error"}
        /api/v1/query_exemplars?query=(
        400 application/json
        {"error":"1:2: parse error: unclosed left parenthesis","errorType":"bad_data","status":"error"}
    "#]]
    .assert_eq(&out);
}
