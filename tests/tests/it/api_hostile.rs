//! Hostile PromQL and selectors against the running server: queries
//! nested tens of thousands of levels deep or megabytes long get a fast
//! `400 bad_data` from every endpoint that parses PromQL or selectors, and
//! the server stays up (such a query used to overflow a stack and abort
//! the process); queries at the deepest allowed nesting are answered by
//! every query endpoint; and the error of each endpoint has Prometheus'
//! status, `errorType` and text.

use serde_json::Value;
use std::net::SocketAddr;
use wasmetheus_tests::{
    DATA_T0 as T0, PluginsDir, TestServer, http_with_body, sample_data, url_encode,
};

/// `wasmetheus_promql::parser::MAX_DEPTH`, as the error message states it.
const MAX_DEPTH: usize = 500;

async fn served() -> (TestServer, PluginsDir) {
    let config = "global:\n  scrape_interval: 1s\n";
    wasmetheus_tests::serve_backfilled(config, &format!("{}# EOF\n", sample_data()), |_| {}).await
}

/// Sends `method path` with a form `body` (may be empty): status and body.
async fn send(address: SocketAddr, method: &str, path: &str, form: &str) -> (u16, String) {
    let headers = [("Content-Type", "application/x-www-form-urlencoded")];
    http_with_body(address, method, path, &headers, form).await
}

/// The `(errorType, error)` of a JSON error answer.
fn error_of(body: &str) -> (String, String) {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(v["status"], "error", "{body}");
    (
        v["errorType"].as_str().unwrap().to_owned(),
        v["error"].as_str().unwrap().to_owned(),
    )
}

/// The server still answers a query.
async fn alive(address: SocketAddr) {
    let (status, body) = send(address, "GET", "/api/v1/query?query=1%2B1&time=0", "").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""result":[0,"2"]"#), "{body}");
}

fn depth_error(text: &str) -> bool {
    text.contains(&format!(
        "parse error: expression nesting exceeds the maximum depth of {MAX_DEPTH}"
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn deeply_nested_and_huge_queries_are_bad_data_everywhere() {
    let (server, _plugins) = served().await;
    let a = server.address;
    let parens = |n: usize| format!("{}up{}", "(".repeat(n), ")".repeat(n));
    let hostile = [
        ("30,000 parentheses", parens(30_000)),
        (
            "a million unary minus",
            format!("{}1", "-".repeat(1_000_000)),
        ),
        ("a megabyte of -1", format!("1{}", "-1".repeat(500_000))),
        (
            "30,000 nested calls",
            format!("{}up{}", "abs(".repeat(30_000), ")".repeat(30_000)),
        ),
        (
            "30,000 nested aggregations",
            format!("{}up{}", "sum(".repeat(30_000), ")".repeat(30_000)),
        ),
        (
            "10,000 nested subqueries",
            format!(
                "{}up{}",
                "max_over_time(".repeat(10_000),
                "[1m:])".repeat(10_000)
            ),
        ),
    ];
    let range = format!("&start={T0}&end={}&step=15", T0 + 600);
    for (name, query) in &hostile {
        let form = format!("query={}", url_encode(query));
        for (path, form) in [
            ("/api/v1/query".to_owned(), form.clone()),
            (format!("/api/v1/query_range?{}", &range[1..]), form.clone()),
            ("/api/v1/format_query".to_owned(), form.clone()),
            ("/api/v1/parse_query".to_owned(), form.clone()),
        ] {
            let (status, body) = send(a, "POST", &path, &form).await;
            assert_eq!(status, 400, "{name} {path}: {body}");
            let (kind, text) = error_of(&body);
            assert_eq!(kind, "bad_data", "{name} {path}");
            assert!(
                text.starts_with("invalid parameter \"query\": 1:") && depth_error(&text),
                "{name} {path}: {text}"
            );
        }
        // query_exemplars parses the query too (its error is not wrapped).
        let (status, body) = send(a, "POST", "/api/v1/query_exemplars", &form).await;
        assert_eq!(status, 400, "{name}: {body}");
        assert!(depth_error(&error_of(&body).1), "{name}: {body}");
        alive(a).await;
    }
    // A selector never nests: the first parenthesis is the error, at once.
    // (GET URLs stop at 64 KiB in the HTTP layer; forms are larger.)
    let selector = format!("match[]={}", url_encode(&parens(10_000)));
    let refused = r#"invalid parameter "match[]": 1:1: parse error: unexpected "(""#;
    for (method, path) in [
        ("POST", "/api/v1/series"),
        ("POST", "/api/v1/labels"),
        ("GET", "/api/v1/label/job/values"),
        ("POST", "/api/v1/admin/tsdb/delete_series"),
    ] {
        let (status, body) = if method == "GET" {
            send(a, method, &format!("{path}?{selector}"), "").await
        } else {
            send(a, method, path, &selector).await
        };
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(
            error_of(&body),
            ("bad_data".to_owned(), refused.to_owned()),
            "{path}"
        );
    }
    // /federate takes GET only; its errors are plain text.
    let (status, body) = send(
        a,
        "GET",
        &format!("/federate?match[]={}", url_encode(&parens(10_000))),
        "",
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (400, "1:1: parse error: unexpected \"(\"\n")
    );
    let (status, body) = send(
        a,
        "GET",
        &format!(
            "/api/v1/targets/metadata?match_target={}",
            url_encode(&parens(10_000))
        ),
        "",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        error_of(&body).1,
        r#"invalid parameter "match_target": 1:1: parse error: unexpected "(""#
    );
    alive(a).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn megabyte_long_shallow_queries_and_selectors_are_answered() {
    let (server, _plugins) = served().await;
    let a = server.address;
    let value = "v".repeat(1 << 20);
    let query = format!("count(http_requests_total{{job!=\"{value}\"}})");
    let (status, body) = send(
        a,
        "POST",
        "/api/v1/query",
        &format!("query={}&time={}", url_encode(&query), T0 + 600),
    )
    .await;
    assert_eq!(status, 200, "{}", &body[..body.len().min(300)]);
    assert!(body.contains(r#""value":[1700000600,"2"]"#), "{body}");
    let selector = format!("http_requests_total{{job!=\"{value}\"}}");
    let (status, body) = send(
        a,
        "POST",
        "/api/v1/series",
        &format!("match[]={}", url_encode(&selector)),
    )
    .await;
    assert_eq!(status, 200, "{}", &body[..body.len().min(300)]);
    assert_eq!(body.matches("\"__name__\"").count(), 2, "{body}");
}

/// Expressions at the deepest nesting the parser allows, of each shape
/// that nests, on the series `http_requests_total` (two series).
fn deepest_queries() -> Vec<(&'static str, String)> {
    let d = MAX_DEPTH;
    vec![
        (
            "parentheses",
            format!(
                "{}http_requests_total{}",
                "(".repeat(d - 1),
                ")".repeat(d - 1)
            ),
        ),
        (
            "unary minus",
            format!("{}http_requests_total", "-".repeat(d - 1)),
        ),
        (
            "vector chain",
            format!(
                "http_requests_total{}",
                " + http_requests_total".repeat(d - 1)
            ),
        ),
        (
            "scalar chain",
            format!("http_requests_total{}", " * 1".repeat(d - 1)),
        ),
        (
            "calls",
            format!(
                "{}http_requests_total{}",
                "abs(".repeat(d - 1),
                ")".repeat(d - 1)
            ),
        ),
        (
            "aggregations",
            format!(
                "{}http_requests_total{}",
                "sum by (code) (".repeat(d - 1),
                ")".repeat(d - 1)
            ),
        ),
        (
            "subqueries",
            format!(
                "{}http_requests_total{}",
                "max_over_time(".repeat(d / 2 - 1),
                "[1m:1m])".repeat(d / 2 - 1)
            ),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn queries_at_the_deepest_nesting_are_answered_by_every_endpoint() {
    let (server, _plugins) = served().await;
    let a = server.address;
    let t = T0 + 600;
    for (name, query) in deepest_queries() {
        let form = format!("query={}", url_encode(&query));
        let (status, body) = send(a, "POST", "/api/v1/query", &format!("{form}&time={t}")).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert!(body.contains(r#""resultType":"vector""#), "{name}: {body}");
        assert_eq!(body.matches("\"code\"").count(), 2, "{name}: {body}");
        let path = format!("/api/v1/query_range?start={}&end={t}&step=60", t - 300);
        let (status, body) = send(a, "POST", &path, &form).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert!(body.contains(r#""resultType":"matrix""#), "{name}: {body}");
        let (status, body) = send(a, "POST", "/api/v1/format_query", &form).await;
        assert_eq!(status, 200, "{name}: {body}");
        let (status, body) = send(a, "POST", "/api/v1/parse_query", &form).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert!(body.contains(r#""type":"vectorSelector""#), "{name}");
        // One level deeper is refused.
        let deeper = format!("query={}", url_encode(&format!("-{query}")));
        let (status, body) = send(a, "POST", "/api/v1/query", &deeper).await;
        assert_eq!(status, 400, "{name}: {body}");
        assert!(depth_error(&error_of(&body).1), "{name}: {body}");
    }
    alive(a).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_have_prometheus_status_type_and_text() {
    let (server, _plugins) = served().await;
    let a = server.address;
    let e = url_encode;
    let range = format!("start={T0}&end={}&step=15", T0 + 60);
    let cases: Vec<(&str, String, u16, &str, String)> = vec![
        (
            "GET",
            format!("/api/v1/query_range?query={}&{range}", e("http_requests_total[5m]")),
            400,
            "bad_data",
            r#"invalid parameter "query": invalid expression type "range vector" for range query, must be Scalar or instant Vector"#.into(),
        ),
        (
            "GET",
            format!("/api/v1/query_range?query={}&{range}", e("\"a\"")),
            400,
            "bad_data",
            r#"invalid parameter "query": invalid expression type "string" for range query, must be Scalar or instant Vector"#.into(),
        ),
        (
            "GET",
            format!("/api/v1/query_range?query=up&start={}&end={T0}&step=15", T0 + 1),
            400,
            "bad_data",
            r#"invalid parameter "end": end timestamp must not be before start time"#.into(),
        ),
        (
            "GET",
            format!("/api/v1/query_range?query=up&start={T0}&end={T0}&step=0"),
            400,
            "bad_data",
            r#"invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer"#.into(),
        ),
        (
            "GET",
            "/api/v1/query?query=".into(),
            400,
            "bad_data",
            r#"invalid parameter "query": 1:1: parse error: no expression found in input"#
                .into(),
        ),
        (
            "GET",
            format!("/api/v1/format_query?query={}", e("(")),
            400,
            "bad_data",
            r#"invalid parameter "query": 1:2: parse error: unclosed left parenthesis"#.into(),
        ),
        (
            "GET",
            format!("/api/v1/query_exemplars?query={}", e("(")),
            400,
            "bad_data",
            "1:2: parse error: unclosed left parenthesis".into(),
        ),
        (
            "GET",
            format!("/api/v1/series?match[]={}", e("up+up")),
            400,
            "bad_data",
            r#"invalid parameter "match[]": 1:3: parse error: unexpected <op:+>"#.into(),
        ),
        (
            "GET",
            format!("/api/v1/series?match[]={}", e("up offset 5m")),
            400,
            "bad_data",
            r#"invalid parameter "match[]": 1:4: parse error: unexpected <offset>"#.into(),
        ),
        (
            "GET",
            "/api/v1/series?match[]=".into(),
            400,
            "bad_data",
            r#"invalid parameter "match[]": 1:1: parse error: unexpected end of input"#.into(),
        ),
        (
            "GET",
            format!("/api/v1/series?match[]=up&match[]={}", e(r#"{job=~".*"}"#)),
            400,
            "bad_data",
            r#"invalid parameter "match[]": match[] must contain at least one non-empty matcher"#.into(),
        ),
        (
            "GET",
            format!("/api/v1/labels?match[]={}", e(r#"{job=""}"#)),
            400,
            "bad_data",
            r#"invalid parameter "match[]": match[] must contain at least one non-empty matcher"#.into(),
        ),
        (
            "GET",
            format!("/api/v1/label/job/values?match[]={}", e("sum(up)")),
            400,
            "bad_data",
            r#"invalid parameter "match[]": 1:4: parse error: unexpected "(""#.into(),
        ),
        (
            "GET",
            "/api/v1/series?match[]=up&limit=abc".into(),
            400,
            "bad_data",
            r#"invalid parameter "limit": strconv.Atoi: parsing "abc": invalid syntax"#.into(),
        ),
        (
            "GET",
            "/api/v1/labels?limit=-1".into(),
            400,
            "bad_data",
            r#"invalid parameter "limit": limit must be non-negative"#.into(),
        ),
        (
            "GET",
            format!("/api/v1/targets/metadata?match_target={}", e("up+1")),
            400,
            "bad_data",
            r#"invalid parameter "match_target": 1:3: parse error: unexpected <op:+>"#.into(),
        ),
        (
            "POST",
            "/api/v1/admin/tsdb/snapshot?skip_head=x".into(),
            400,
            "bad_data",
            r#"invalid parameter "skip_head": unable to parse boolean: strconv.ParseBool: parsing "x": invalid syntax"#.into(),
        ),
        (
            "POST",
            format!("/api/v1/admin/tsdb/delete_series?match[]={}", e("up+1")),
            400,
            "bad_data",
            r#"invalid parameter "match[]": 1:3: parse error: unexpected <op:+>"#.into(),
        ),
        (
            "POST",
            "/api/v1/admin/tsdb/delete_series".into(),
            400,
            "bad_data",
            "no match[] parameter provided".into(),
        ),
    ];
    for (method, path, status, kind, text) in cases {
        let (got, body) = send(a, method, &path, "").await;
        assert_eq!(got, status, "{method} {path}: {body}");
        assert_eq!(error_of(&body), (kind.to_owned(), text), "{method} {path}");
    }
    // /federate answers in plain text, and takes any selector that parses.
    let (status, body) = send(a, "GET", &format!("/federate?match[]={}", e("up+up")), "").await;
    assert_eq!(
        (status, body.as_str()),
        (400, "1:3: parse error: unexpected <op:+>\n")
    );
    let path = format!("/federate?match[]={}", e(r#"{job=~".*"}"#));
    let (status, _) = send(a, "GET", &path, "").await;
    assert_eq!(status, 200);
    // skip_head takes Go's booleans.
    let (status, body) = send(a, "POST", "/api/v1/admin/tsdb/snapshot?skip_head=T", "").await;
    assert_eq!(status, 200, "{body}");
    // Deleting takes a selector matching everything, as in Prometheus.
    let path = format!(
        "/api/v1/admin/tsdb/delete_series?match[]={}",
        e(r#"{job=~".*"}"#)
    );
    let (status, body) = send(a, "POST", &path, "").await;
    assert_eq!(status, 204, "{body}");
}
