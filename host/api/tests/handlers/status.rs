//! `status/*`, `rules`, `alerts`, `alertmanagers`, `/api/v1/plugins`, the
//! exposition endpoints, health and readiness, and the body limit.

use crate::fake::Fake;
use crate::{get, send};
use expect_test::expect;

#[tokio::test]
async fn status_endpoints() {
    let mut out = String::new();
    for uri in [
        "/api/v1/status/config",
        "/api/v1/status/flags",
        "/api/v1/status/runtimeinfo",
        "/api/v1/status/tsdb",
        "/api/v1/rules",
        "/api/v1/alerts",
        "/api/v1/alertmanagers",
    ] {
        out.push_str(&format!("{uri}\n{}\n", get(uri).await));
    }
    expect![[r#"
        /api/v1/status/config
        200 application/json
        {"status":"success","data":{"yaml":"global:\n  scrape_interval: 15s\n  external_labels:\n    cluster: c1\n"}}
        /api/v1/status/flags
        200 application/json
        {"status":"success","data":{"query.lookback-delta":"5m","query.timeout":"2m","web.enable-lifecycle":"false"}}
        /api/v1/status/runtimeinfo
        200 application/json
        {"status":"success","data":{"CWD":"/srv/wasmetheus","GODEBUG":"","GOGC":"","GOMAXPROCS":2,"GOMEMLIMIT":0,"corruptionCount":0,"goroutineCount":0,"lastConfigTime":"2023-11-14T22:13:21Z","reloadConfigSuccess":true,"startTime":"2023-11-14T22:13:20Z","storageRetention":"15d"}}
        /api/v1/status/tsdb
        200 application/json
        {"status":"success","data":{"headStats":{"chunkCount":0,"maxTime":1700000600000,"minTime":1700000000000,"numLabelPairs":7,"numSeries":3},"labelValueCountByLabelName":[{"name":"__name__","value":2},{"name":"code","value":2},{"name":"job","value":2}],"memoryInBytesByLabelName":[{"name":"__name__","value":49},{"name":"job","value":10}],"seriesCountByLabelValuePair":[{"name":"job=api","value":2},{"name":"code=200","value":1}],"seriesCountByMetricName":[{"name":"http_requests_total","value":2},{"name":"temperature","value":1}]}}
        /api/v1/rules
        200 application/json
        {"status":"success","data":{"groups":[]}}
        /api/v1/alerts
        200 application/json
        {"status":"success","data":{"alerts":[]}}
        /api/v1/alertmanagers
        200 application/json
        {"status":"success","data":{"activeAlertmanagers":[],"droppedAlertmanagers":[]}}
    "#]]
    .assert_eq(&out);
    let build = get("/api/v1/status/buildinfo").await;
    let expected = format!(
        "200 application/json\n{{\"status\":\"success\",\"data\":{{\"branch\":\"\",\"buildDate\":\"\",\"buildUser\":\"\",\"goVersion\":\"\",\"revision\":\"\",\"version\":\"3.5.0+wasmetheus.{}\"}}}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(build.to_string(), expected);
}

#[tokio::test]
async fn plugins_status() {
    let answer = get("/api/v1/plugins").await;
    expect![[r#"
        200 application/json
        {"data":[{"description":"Host metrics","file":"/plugins/node-exporter.wasm","health":"ok","instances":[{"capabilities":[{"capability":"read-path /proc","granted":true,"optional":false,"reason":"CPU times"},{"capability":"env-var HOSTNAME","grant_with":"grants:\n  env_vars: [HOSTNAME]","granted":false,"optional":true,"reason":"the host name"}],"error":null,"health":"up","job":"node","lastScrape":"2023-11-14T22:14:20Z","lastScrapeDuration":0.0125,"name":"node","running":true,"samples":2,"up":1},{"capabilities":[],"error":"collect timed out after 5s","health":"down","job":"node","lastScrape":null,"lastScrapeDuration":5.0,"last_collect_error":"collect timed out after 5s","name":"node-slow","running":true,"samples":0,"up":0},{"capabilities":[],"error":null,"health":"unknown","job":"node","name":"node-new","running":true,"up":null}],"last_error":null,"load_duration_seconds":0.25,"loaded_at":"2023-11-14T22:13:20Z","loaded_from_cache":true,"name":"node-exporter","plugin":"node-exporter","version":"1.2.3"},{"description":null,"file":"/plugins/broken.wasm","health":"failed","instances":[{"capabilities":[],"error":"plugin \"broken\" is not loaded","health":"unknown","job":"broken","name":"broken","running":false,"up":null}],"last_error":"not a WebAssembly component","load_duration_seconds":0.0,"loaded_at":null,"loaded_from_cache":false,"name":null,"plugin":"broken","version":null}],"status":"success"}"#]]
    .assert_eq(&answer.to_string());
}

#[tokio::test]
async fn exposition_in_the_format_asked_for() {
    let openmetrics = [("accept", "application/openmetrics-text; version=1.0.0")];
    let mut out = String::new();
    for (uri, headers) in [
        ("/metrics", &[][..]),
        ("/plugins/node/metrics", &[][..]),
        ("/plugins/node/metrics", &openmetrics[..]),
        ("/plugins/broken/metrics", &[][..]),
        ("/plugins/missing/metrics", &[][..]),
        ("/-/healthy", &[][..]),
        ("/-/ready", &[][..]),
    ] {
        let answer = send(Fake::default(), "GET", uri, headers, "").await;
        out.push_str(&format!("{uri} {headers:?}\n{answer}\n"));
    }
    expect![[r#"
        /metrics []
        200 text/plain; version=0.0.4; charset=utf-8
        # HELP wasmetheus_build_info A metric with a constant '1' value labeled by version.
        # TYPE wasmetheus_build_info gauge
        wasmetheus_build_info{version="0.0.0"} 1

        /plugins/node/metrics []
        200 text/plain; version=0.0.4; charset=utf-8
        # HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
        # TYPE node_cpu_seconds_total counter
        node_cpu_seconds_total{cpu="0",mode="idle"} 12.5
        # HELP node_load1 1m load average.
        # TYPE node_load1 gauge
        node_load1 0.25

        /plugins/node/metrics [("accept", "application/openmetrics-text; version=1.0.0")]
        200 application/openmetrics-text; version=1.0.0; charset=utf-8
        # TYPE node_cpu_seconds counter
        # UNIT node_cpu_seconds seconds
        # HELP node_cpu_seconds Seconds the CPUs spent in each mode.
        node_cpu_seconds_total{cpu="0",mode="idle"} 12.5
        # TYPE node_load1 gauge
        # HELP node_load1 1m load average.
        node_load1 0.25
        # EOF

        /plugins/broken/metrics []
        503 text/plain; charset=utf-8
        the last collection of "broken" failed: collect timed out after 5s

        /plugins/missing/metrics []
        404 text/plain; charset=utf-8
        no plugin instance named "missing"; GET /api/v1/plugins lists them

        /-/healthy []
        200 text/plain; charset=utf-8
        wasmetheus Server is Healthy.

        /-/ready []
        200 text/plain; charset=utf-8
        wasmetheus Server is Ready.

    "#]]
    .assert_eq(&out);
}

#[tokio::test]
async fn reload_needs_the_lifecycle_flag() {
    let mut out = String::new();
    for (name, fake) in [
        ("off", Fake::default()),
        (
            "on",
            Fake {
                lifecycle: true,
                ..Fake::default()
            },
        ),
        (
            "on, bad config",
            Fake {
                lifecycle: true,
                reload: Err("parsing YAML file prometheus.yml: bad".into()),
                ..Fake::default()
            },
        ),
    ] {
        let answer = send(fake, "POST", "/-/reload", &[], "").await;
        out.push_str(&format!("{name}: {answer}\n"));
    }
    expect![[r#"
        off: 403 text/plain; charset=utf-8
        Lifecycle API is not enabled.

        on: 200 text/plain; charset=utf-8

        on, bad config: 500 text/plain; charset=utf-8
        failed to reload config: parsing YAML file prometheus.yml: bad

    "#]]
    .assert_eq(&out);
    let answer = send(Fake::default(), "GET", "/-/reload", &[], "").await;
    assert_eq!(answer.status, 405, "{answer}");
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_in_the_api_shape() {
    let body = format!("query={}", "1".repeat(wasmetheus_api::MAX_REQUEST_BODY));
    let answer = send(
        Fake::default(),
        "POST",
        "/api/v1/query",
        &[("content-type", "application/x-www-form-urlencoded")],
        &body,
    )
    .await;
    expect![[r#"
        413 application/json
        {"error":"request body larger than 2 MiB; send fewer or shorter parameters","errorType":"bad_data","status":"error"}"#]]
    .assert_eq(&answer.to_string());
}
