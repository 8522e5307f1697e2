//! Prometheus' HTTP API v1 end to end, on backfilled data with known
//! answers: JSON shapes, values, errors and annotations as Prometheus
//! answers them; promtool (Debian `prometheus`) querying our server; and
//! the request sequence Grafana's Prometheus data source sends.

use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use wasmetheus_tests::{
    DATA_SPAN as SPAN, DATA_T0 as T0, PluginsDir, TestServer, eventually, http, http_with_body,
    sample_data, serve_backfilled, url_encode,
};

/// Two counters (1/s and 0.1/s) and a gauge, backfilled into a fresh data
/// directory, served with only the self-scrape running.
async fn served() -> (TestServer, PluginsDir) {
    served_with(|_| {}).await
}

async fn served_with(
    adjust: impl FnOnce(&mut wasmetheus::serve::ServeArgs),
) -> (TestServer, PluginsDir) {
    let config = "global:\n  scrape_interval: 1s\n  external_labels: {cluster: c1}\n";
    serve_backfilled(config, &format!("{}# EOF\n", sample_data()), adjust).await
}

/// GETs `path`, expecting `status`; the JSON answer.
async fn get(address: SocketAddr, path: &str, status: u16) -> Value {
    let (got, body) = http(address, "GET", path, &[]).await;
    assert_eq!(got, status, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

async fn post_form(address: SocketAddr, path: &str, form: &str, status: u16) -> Value {
    let headers = [("Content-Type", "application/x-www-form-urlencoded")];
    let (got, body) = http_with_body(address, "POST", path, &headers, form).await;
    assert_eq!(got, status, "POST {path} {form}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("POST {path}: {e}: {body}"))
}

/// `(labels as JSON text, value)` of each vector element, sorted.
fn vector(answer: &Value) -> Vec<(String, String)> {
    assert_eq!(answer["status"], "success", "{answer}");
    assert_eq!(answer["data"]["resultType"], "vector", "{answer}");
    let mut out: Vec<(String, String)> = answer["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["metric"].to_string(),
                s["value"][1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn error_of(answer: &Value) -> (&str, &str) {
    assert_eq!(answer["status"], "error", "{answer}");
    (
        answer["errorType"].as_str().unwrap(),
        answer["error"].as_str().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn queries_answer_like_prometheus() {
    let (server, _plugins) = served().await;
    let a = server.address;
    let at = T0 + 300;

    // An instant query: values as strings, timestamps as seconds.
    let q = url_encode("sum by (code) (rate(http_requests_total[1m]))");
    let answer = get(a, &format!("/api/v1/query?query={q}&time={at}"), 200).await;
    // Prometheus' extrapolation, `45 × ((45 + 15) / 45 / 60)`, is not
    // exactly 1: the text is what Prometheus answers too.
    assert_eq!(
        vector(&answer),
        vec![
            (
                r#"{"code":"200"}"#.to_owned(),
                "0.9999999999999999".to_owned()
            ),
            (
                r#"{"code":"500"}"#.to_owned(),
                "0.09999999999999999".to_owned()
            ),
        ]
    );
    assert_eq!(
        answer["data"]["result"][0]["value"][0],
        serde_json::json!(at)
    );

    // RFC 3339 times and a POSTed form give the same answer.
    let answer = post_form(
        a,
        "/api/v1/query",
        &format!("query={q}&time=2023-11-14T22:18:20Z"),
        200,
    )
    .await;
    assert_eq!(vector(&answer).len(), 2);

    // A range query: one series per label set, one point per step.
    let q = url_encode("rate(http_requests_total{code=\"200\"}[1m])");
    let answer = post_form(
        a,
        "/api/v1/query_range",
        &format!("query={q}&start={at}&end={}&step=60", at + 300),
        200,
    )
    .await;
    assert_eq!(answer["data"]["resultType"], "matrix", "{answer}");
    let series = answer["data"]["result"].as_array().unwrap();
    assert_eq!(series.len(), 1, "{answer}");
    assert_eq!(
        series[0]["metric"],
        serde_json::json!({"code": "200", "job": "api"})
    );
    let values = series[0]["values"].as_array().unwrap();
    assert_eq!(values.len(), 6, "{answer}");
    assert_eq!(values[0], serde_json::json!([at, "0.9999999999999999"]));
    assert_eq!(
        values[5],
        serde_json::json!([at + 300, "0.9999999999999999"])
    );
    // Steps and times in Prometheus duration syntax and with fractions.
    let answer = get(
        a,
        &format!(
            "/api/v1/query_range?query={q}&start={at}.5&end={}&step=1m",
            at + 60
        ),
        200,
    )
    .await;
    assert_eq!(
        answer["data"]["result"][0]["values"][0][0],
        serde_json::json!(at as f64 + 0.5)
    );

    // Scalars and strings.
    let answer = get(a, "/api/v1/query?query=1%2B1&time=10", 200).await;
    assert_eq!(
        answer["data"],
        serde_json::json!({"resultType": "scalar", "result": [10, "2"]})
    );
    let answer = get(a, "/api/v1/query?query=%22hi%22&time=10.25", 200).await;
    assert_eq!(
        answer["data"],
        serde_json::json!({"resultType": "string", "result": [10.25, "hi"]})
    );
    let answer = get(a, "/api/v1/query?query=1e-7%2B0&time=10", 200).await;
    assert_eq!(answer["data"]["result"][1], "1e-07");
    let answer = get(a, "/api/v1/query?query=-Inf&time=10", 200).await;
    assert_eq!(answer["data"]["result"][1], "-Inf");

    // Annotations travel beside the data.
    let q = url_encode("rate(temperature[1m])");
    let answer = get(a, &format!("/api/v1/query?query={q}&time={at}"), 200).await;
    assert_eq!(
        answer["infos"],
        serde_json::json!([
            "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"temperature\" (1:6)"
        ]),
        "{answer}"
    );
    assert!(answer.get("warnings").is_none(), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn query_errors_have_prometheus_types_and_texts() {
    let (server, _plugins) = served().await;
    let a = server.address;
    let cases: &[(&str, u16, &str, &str)] = &[
        (
            "/api/v1/query?query=rate(",
            400,
            "bad_data",
            "invalid parameter \"query\": 1:6: parse error",
        ),
        (
            "/api/v1/query?query=up&time=yesterday",
            400,
            "bad_data",
            "invalid parameter \"time\": cannot parse \"yesterday\" to a valid timestamp",
        ),
        (
            "/api/v1/query_range?query=up&start=100&end=50&step=1",
            400,
            "bad_data",
            "invalid parameter \"end\": end timestamp must not be before start time",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=50&step=0",
            400,
            "bad_data",
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=50&step=x",
            400,
            "bad_data",
            "invalid parameter \"step\": cannot parse \"x\" to a valid duration",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=100000&step=1",
            400,
            "bad_data",
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ),
        (
            "/api/v1/query_range?query=up&end=50&step=1",
            400,
            "bad_data",
            "invalid parameter \"start\": cannot parse \"\" to a valid timestamp",
        ),
        (
            // Both counters match the one `job` series: many-to-many.
            "/api/v1/query?query=http_requests_total%20%2B%20on(job)%20http_requests_total&time=1700000300",
            422,
            "execution",
            "found duplicate series for the match group {job=\"api\"} on the right hand-side of the operation",
        ),
        (
            "/api/v1/query?query=sum_over_time(http_requests_total[1h:1ms])&time=1700000300&timeout=0.000000001",
            503,
            "timeout",
            "query timed out in query execution",
        ),
        (
            "/api/v1/series",
            400,
            "bad_data",
            "no match[] parameter provided",
        ),
        (
            "/api/v1/series?match[]=sum(up)",
            400,
            "bad_data",
            "invalid parameter \"match[]\"",
        ),
    ];
    for &(path, status, kind, text) in cases {
        let answer = get(a, path, status).await;
        let (got_kind, got_text) = error_of(&answer);
        assert_eq!(got_kind, kind, "{path}: {answer}");
        assert!(
            got_text.starts_with(text),
            "{path}: {got_text:?} is not {text:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn series_labels_and_metadata_endpoints() {
    let (server, _plugins) = served().await;
    let a = server.address;
    let m = url_encode("http_requests_total");
    let answer = get(
        a,
        &format!("/api/v1/series?match[]={m}&start={T0}&end={}", T0 + SPAN),
        200,
    )
    .await;
    assert_eq!(
        answer["data"],
        serde_json::json!([
            {"__name__": "http_requests_total", "code": "200", "job": "api"},
            {"__name__": "http_requests_total", "code": "500", "job": "api"},
        ])
    );
    // A limit truncates with Prometheus' warning.
    let answer = get(a, &format!("/api/v1/series?match[]={m}&limit=1"), 200).await;
    assert_eq!(answer["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        answer["warnings"],
        serde_json::json!(["results truncated due to limit"])
    );

    let answer = get(a, &format!("/api/v1/labels?match[]={m}"), 200).await;
    assert_eq!(
        answer["data"],
        serde_json::json!(["__name__", "code", "job"])
    );
    let answer = get(a, &format!("/api/v1/label/code/values?match[]={m}"), 200).await;
    assert_eq!(answer["data"], serde_json::json!(["200", "500"]));
    let answer = get(
        a,
        &format!("/api/v1/label/__name__/values?start={T0}&end={}", T0 + SPAN),
        200,
    )
    .await;
    let names = answer["data"].as_array().unwrap();
    assert!(
        names.contains(&serde_json::json!("temperature")),
        "{answer}"
    );
    // Prometheus 3's escaping of UTF-8 names in the path.
    let answer = get(a, "/api/v1/label/U__r_6f_om/values", 200).await;
    assert_eq!(answer["data"], serde_json::json!(["a"]));

    // format_query prints canonical PromQL.
    let q = url_encode("sum(rate(x[5m]))by(job)");
    let answer = get(a, &format!("/api/v1/format_query?query={q}"), 200).await;
    assert_eq!(answer["data"], "sum by (job) (rate(x[5m]))");

    // Metadata comes from the targets' latest scrape (here the self-scrape).
    let metadata = eventually(Duration::from_secs(10), "the first self-scrape", || async {
        let answer = get(a, "/api/v1/metadata", 200).await;
        answer["data"].get("prometheus_tsdb_head_series").cloned()
    })
    .await;
    assert_eq!(metadata[0]["type"], "gauge", "{metadata}");
    // Filtered by name, and limited in number.
    let one = get(
        a,
        "/api/v1/metadata?metric=prometheus_tsdb_head_series",
        200,
    )
    .await;
    assert_eq!(one["data"].as_object().unwrap().len(), 1, "{one}");
    let two = get(a, "/api/v1/metadata?limit=2&limit_per_metric=1", 200).await;
    assert_eq!(two["data"].as_object().unwrap().len(), 2, "{two}");
    let answer = get(a, "/api/v1/metadata?limit=x", 400).await;
    assert_eq!(error_of(&answer).0, "bad_data");

    // Federation: the newest sample of each series, external labels added.
    let federated = eventually(
        Duration::from_secs(10),
        "a federated self-scrape",
        || async {
            let path = format!("/federate?match[]={}", url_encode("up{job=\"wasmetheus\"}"));
            let (status, body) = http(a, "GET", &path, &[]).await;
            assert_eq!(status, 200, "{body}");
            (!body.is_empty()).then_some(body)
        },
    )
    .await;
    let lines: Vec<&str> = federated.lines().collect();
    assert_eq!(lines[0], "# TYPE up untyped", "{federated}");
    assert!(
        lines[1].starts_with(&format!(
            "up{{instance=\"{a}\",job=\"wasmetheus\",cluster=\"c1\"}} 1 "
        )),
        "{federated}"
    );
    // The head's statistics.
    let tsdb = get(a, "/api/v1/status/tsdb", 200).await;
    assert!(
        tsdb["data"]["headStats"]["numSeries"].as_u64().unwrap() > 0,
        "{tsdb}"
    );
    assert!(
        tsdb["data"]["seriesCountByLabelValuePair"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "job=wasmetheus"
                && e["value"] == tsdb["data"]["headStats"]["numSeries"]),
        "{tsdb}"
    );

    // Status and the rest of the read API in Prometheus' shapes.
    let flags = get(a, "/api/v1/status/flags", 200).await;
    assert_eq!(flags["data"]["query.timeout"], "2m", "{flags}");
    assert_eq!(flags["data"]["query.lookback-delta"], "5m", "{flags}");
    let build = get(a, "/api/v1/status/buildinfo", 200).await;
    assert!(
        build["data"]["version"].as_str().unwrap().starts_with("3."),
        "{build}"
    );
    let runtime = get(a, "/api/v1/status/runtimeinfo", 200).await;
    assert_eq!(runtime["data"]["reloadConfigSuccess"], true, "{runtime}");
    let config = get(a, "/api/v1/status/config", 200).await;
    assert!(
        config["data"]["yaml"]
            .as_str()
            .unwrap()
            .contains("scrape_interval: 1s")
    );
    assert_eq!(
        get(a, "/api/v1/rules", 200).await["data"],
        serde_json::json!({"groups": []})
    );
    assert_eq!(
        get(a, "/api/v1/alerts", 200).await["data"],
        serde_json::json!({"alerts": []})
    );
    let targets = get(a, "/api/v1/targets", 200).await;
    assert_eq!(
        targets["data"]["activeTargets"][0]["labels"]["job"], "wasmetheus",
        "{targets}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_needs_the_lifecycle_flag() {
    let (server, _plugins) = served_with(|args| args.enable_lifecycle = false).await;
    let (status, body) = http(server.address, "POST", "/-/reload", &[]).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body, "Lifecycle API is not enabled.\n");
}

/// The requests Grafana's Prometheus data source sends when it is added,
/// when the query editor opens and when a panel runs (Grafana 10/11).
#[tokio::test(flavor = "multi_thread")]
async fn grafana_request_sequence_gets_valid_answers() {
    let (server, _plugins) = served().await;
    let a = server.address;
    let (start, end) = (T0, T0 + SPAN);
    // "Save & test", then feature detection.
    let answer = get(a, &format!("/api/v1/query?query=1%2B1&time={end}"), 200).await;
    assert_eq!(answer["data"]["result"][1], "2");
    let build = get(a, "/api/v1/status/buildinfo", 200).await;
    assert!(build["data"]["version"].is_string());
    // The metrics browser.
    let names = post_form(
        a,
        "/api/v1/labels",
        &format!("start={start}&end={end}"),
        200,
    )
    .await;
    assert!(
        names["data"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("job"))
    );
    let values = get(
        a,
        &format!("/api/v1/label/__name__/values?start={start}&end={end}"),
        200,
    )
    .await;
    assert!(
        values["data"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("http_requests_total"))
    );
    let m = url_encode("http_requests_total");
    let series = post_form(
        a,
        "/api/v1/series",
        &format!("match%5B%5D={m}&start={start}&end={end}"),
        200,
    )
    .await;
    assert_eq!(series["data"].as_array().unwrap().len(), 2);
    let metadata = get(a, "/api/v1/metadata", 200).await;
    assert!(metadata["data"].is_object());
    // A panel: query_range by POST with Grafana's aligned start and end.
    let q = url_encode("sum by (code) (rate(http_requests_total[$__rate_interval]))")
        .replace("%24__rate_interval", "1m");
    let step = 30;
    let panel = post_form(
        a,
        "/api/v1/query_range",
        &format!(
            "query={q}&start={}&end={}&step={step}",
            start / step * step,
            end / step * step
        ),
        200,
    )
    .await;
    assert_eq!(panel["data"]["resultType"], "matrix");
    assert_eq!(
        panel["data"]["result"].as_array().unwrap().len(),
        2,
        "{panel}"
    );
    // Exemplars for the same panel: none stored, an empty list.
    let exemplars = post_form(
        a,
        "/api/v1/query_exemplars",
        &format!("query={q}&start={start}&end={end}"),
        200,
    )
    .await;
    assert_eq!(exemplars["data"], serde_json::json!([]));
}

/// promtool is the reference client: its `query` subcommands must work
/// against our server and print what our API answers.
#[tokio::test(flavor = "multi_thread")]
async fn promtool_queries_our_server() {
    let promtool = which("promtool").expect(
        "promtool not found: install the Debian package `prometheus` (apt-get install prometheus)",
    );
    let (server, _plugins) = served().await;
    let url = format!("http://{}", server.address);
    let at = (T0 + 300).to_string();
    let run = |args: Vec<String>| {
        let promtool = promtool.clone();
        async move {
            let out = tokio::task::spawn_blocking(move || {
                std::process::Command::new(&promtool)
                    .args(&args)
                    .output()
                    .unwrap()
            })
            .await
            .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "promtool failed: {}{stdout}",
                String::from_utf8_lossy(&out.stderr)
            );
            stdout
        }
    };
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let instant = run(s(&[
        "query",
        "instant",
        "--time",
        &at,
        &url,
        "sum by (code) (rate(http_requests_total[1m]))",
    ]))
    .await;
    assert_eq!(
        instant,
        format!(
            "{{code=\"200\"}} => 0.9999999999999999 @[{at}]\n\
             {{code=\"500\"}} => 0.09999999999999999 @[{at}]\n"
        )
    );
    let range = run(s(&[
        "query",
        "range",
        "--start",
        &at,
        "--end",
        &(T0 + 360).to_string(),
        "--step",
        "30s",
        &url,
        "temperature",
    ]))
    .await;
    assert_eq!(
        range,
        format!(
            "temperature{{room=\"a\"}} =>\n21.5 @[{at}]\n21.5 @[{}]\n21.5 @[{}]\n",
            T0 + 330,
            T0 + 360
        )
    );
    // promtool's default range is ±9999 h around now; the data is older.
    let (start, end) = (T0.to_string(), (T0 + SPAN).to_string());
    let series = run(s(&[
        "query",
        "series",
        "--match",
        "http_requests_total",
        "--start",
        &start,
        "--end",
        &end,
        &url,
    ]))
    .await;
    assert_eq!(
        series,
        "{__name__=\"http_requests_total\", code=\"200\", job=\"api\"}\n\
         {__name__=\"http_requests_total\", code=\"500\", job=\"api\"}\n"
    );
    let labels = run(s(&[
        "query", "labels", "--start", &start, "--end", &end, &url, "code",
    ]))
    .await;
    assert_eq!(labels, "200\n500\n");
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| Path::new(p).is_file())
    })
}

/// `/api/v1/parse_query` answers with Prometheus' `translateAST` tree: Go
/// maps, so keys sorted, strings HTML-escaped by jsoniter. The expected
/// texts are written from `web/api/v1/translate_ast.go` and the parser's
/// rules (matchers in written order with the outside name last; unary
/// minus folded into numbers; `matching` only between two vectors).
#[tokio::test(flavor = "multi_thread")]
async fn parse_query_answers_prometheus_syntax_trees() {
    let (server, _plugins) = served().await;
    let a = server.address;
    let hrt = r#"{"anchored":false,"matchers":[{"name":"__name__","type":"=","value":"http_requests_total"}],"name":"http_requests_total","offset":0,"offsetExpr":null,"smoothed":false,"startOrEnd":null,"timestamp":null,"type":"vectorSelector"}"#;
    let rate_5m = r#"{"args":[{"anchored":false,"matchers":[{"name":"__name__","type":"=","value":"http_requests_total"}],"name":"http_requests_total","offset":0,"offsetExpr":null,"range":300000,"rangeExpr":null,"smoothed":false,"startOrEnd":null,"timestamp":null,"type":"matrixSelector"}],"func":{"argTypes":["matrix"],"name":"rate","returnType":"vector","variadic":0},"type":"call"}"#;
    let cases: Vec<(&str, String)> = vec![
        (
            r#"up{job="api",code=~"2.."} offset 1m"#,
            r#"{"anchored":false,"matchers":[{"name":"job","type":"=","value":"api"},{"name":"code","type":"=~","value":"2.."},{"name":"__name__","type":"=","value":"up"}],"name":"up","offset":60000,"offsetExpr":null,"smoothed":false,"startOrEnd":null,"timestamp":null,"type":"vectorSelector"}"#.to_owned(),
        ),
        ("rate(http_requests_total[5m])", rate_5m.to_owned()),
        (
            "sum by (code) (http_requests_total) * 2",
            format!(
                r#"{{"bool":false,"lhs":{{"expr":{hrt},"grouping":["code"],"op":"sum","param":null,"type":"aggregation","without":false}},"matching":null,"op":"*","rhs":{{"type":"numberLiteral","val":"2"}},"type":"binaryExpr"}}"#
            ),
        ),
        (
            "sum by (code) (http_requests_total) / on (code) group_left (job) http_requests_total",
            format!(
                r#"{{"bool":false,"lhs":{{"expr":{hrt},"grouping":["code"],"op":"sum","param":null,"type":"aggregation","without":false}},"matching":{{"card":"many-to-one","fillValues":{{"lhs":null,"rhs":null}},"include":["job"],"labels":["code"],"on":true}},"op":"/","rhs":{hrt},"type":"binaryExpr"}}"#
            ),
        ),
        (
            "rate(http_requests_total[5m])[30m:1m] @ end()",
            format!(
                r#"{{"expr":{rate_5m},"offset":0,"offsetExpr":null,"range":1800000,"rangeExpr":null,"startOrEnd":"end","step":60000,"stepExpr":null,"timestamp":null,"type":"subquery"}}"#
            ),
        ),
        (
            "topk(3, -http_requests_total) > bool 1",
            format!(
                r#"{{"bool":true,"lhs":{{"expr":{{"expr":{hrt},"op":"-","type":"unaryExpr"}},"grouping":[],"op":"topk","param":{{"type":"numberLiteral","val":"3"}},"type":"aggregation","without":false}},"matching":null,"op":"\u003e","rhs":{{"type":"numberLiteral","val":"1"}},"type":"binaryExpr"}}"#
            ),
        ),
        (
            "-1.5e3",
            r#"{"type":"numberLiteral","val":"-1500"}"#.to_owned(),
        ),
        (
            r#"("a<b")"#,
            r#"{"expr":{"type":"stringLiteral","val":"a\u003cb"},"type":"parenExpr"}"#.to_owned(),
        ),
    ];
    for (query, data) in cases {
        let path = format!("/api/v1/parse_query?query={}", url_encode(query));
        let (status, body) = http(a, "GET", &path, &[]).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(
            body,
            format!(r#"{{"status":"success","data":{data}}}"#),
            "{query}"
        );
    }

    // POSTed as a form, the same answer.
    let headers = [("Content-Type", "application/x-www-form-urlencoded")];
    let (status, body) =
        http_with_body(a, "POST", "/api/v1/parse_query", &headers, "query=-1.5e3").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        r#"{"status":"success","data":{"type":"numberLiteral","val":"-1500"}}"#
    );

    // A syntax error is bad data about the parameter, as for every query.
    let answer = get(a, "/api/v1/parse_query?query=rate(", 400).await;
    let (kind, text) = error_of(&answer);
    assert_eq!(kind, "bad_data");
    assert!(
        text.starts_with("invalid parameter \"query\": 1:6: parse error"),
        "{text}"
    );
}

/// `/api/v1/targets/metadata` over two scraped fixture targets: one entry
/// per metric with TYPE/HELP lines, the target's labels beside it (no
/// `__` labels), `metric` left out when one was asked for, `limit`
/// counted before each target; errors as Prometheus words them.
#[tokio::test(flavor = "multi_thread")]
async fn targets_metadata_lists_what_each_target_exposed() {
    let target = wasmetheus_tests::fixture_target().await;
    let dir = PluginsDir::new();
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(
        &config_path,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  \
             - job_name: fixture\n    static_configs:\n      \
             - targets: ['{target}']\n        labels: {{env: test}}\n  \
             - job_name: om\n    metrics_path: /om\n    \
             static_configs: [{{targets: ['{target}']}}]\n"
        ),
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let args = wasmetheus_tests::test_args(dir.path(), Some(&config_path), data.path());
    let server = TestServer::start(args, data).await;
    let a = server.address;
    let both = url_encode(r#"{job=~"fixture|om"}"#);
    let fixture_entry = format!(
        r#"{{"target":{{"env":"test","instance":"{target}","job":"fixture"}},"metric":"fixture_requests_total","type":"counter","help":"Requests.","unit":""}}"#
    );
    let om_entry = format!(
        r#"{{"target":{{"instance":"{target}","job":"om"}},"metric":"om_events","type":"counter","help":"","unit":""}}"#
    );
    let body = eventually(Duration::from_secs(20), "both targets scraped", || {
        let path = format!("/api/v1/targets/metadata?match_target={both}");
        async move {
            let (status, body) = http(a, "GET", &path, &[]).await;
            assert_eq!(status, 200, "{body}");
            (body.matches("\"target\"").count() == 2).then_some(body)
        }
    })
    .await;
    assert_eq!(
        body,
        format!(r#"{{"status":"success","data":[{fixture_entry},{om_entry}]}}"#)
    );

    let cases = [
        // One metric: its entry without `metric`.
        (
            format!(
                "/api/v1/targets/metadata?metric=om_events&match_target={}",
                url_encode(r#"{job="om"}"#)
            ),
            format!(
                r#"[{{"target":{{"instance":"{target}","job":"om"}},"type":"counter","help":"","unit":""}}]"#
            ),
        ),
        // Not exposed by the matching targets.
        (
            format!("/api/v1/targets/metadata?metric=nonexistent&match_target={both}"),
            "[]".to_owned(),
        ),
        // The limit is reached after the first target's entries.
        (
            format!("/api/v1/targets/metadata?limit=1&match_target={both}"),
            format!("[{fixture_entry}]"),
        ),
        (
            format!("/api/v1/targets/metadata?limit=0&match_target={both}"),
            "[]".to_owned(),
        ),
    ];
    for (path, data) in cases {
        let (status, body) = http(a, "GET", &path, &[]).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(
            body,
            format!(r#"{{"status":"success","data":{data}}}"#),
            "{path}"
        );
    }

    // Without `match_target` every target counts, this server's own too.
    let all = get(a, "/api/v1/targets/metadata", 200).await;
    let jobs: std::collections::BTreeSet<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target"]["job"].as_str().unwrap())
        .collect();
    assert!(jobs.contains("fixture") && jobs.contains("om"), "{all}");

    for (path, text) in [
        ("/api/v1/targets/metadata?limit=x", "limit must be a number"),
        (
            "/api/v1/targets/metadata?match_target=%7Bjob%3D",
            "invalid parameter \"match_target\": ",
        ),
    ] {
        let answer = get(a, path, 400).await;
        let (kind, got) = error_of(&answer);
        assert_eq!(kind, "bad_data", "{path}");
        assert!(got.starts_with(text), "{path}: {got}");
    }
}
