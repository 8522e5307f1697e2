//! `series`, `labels`, `label/<name>/values`, `metadata`, `targets`,
//! `targets/metadata` and `/federate`: parameters, errors and answers.

use crate::fake::{Fake, FakeStore};
use crate::{enc, get, post_form, send};
use expect_test::expect;
use std::sync::Arc;

/// Each URI and its answer, one after the other.
async fn answers(uris: &[String]) -> String {
    let mut out = String::new();
    for uri in uris {
        out.push_str(&format!("{uri}\n{}\n", get(uri).await));
    }
    out
}

#[tokio::test]
async fn series_by_match_start_end_and_limit() {
    let m = enc("http_requests_total");
    let uris = [
        format!("/api/v1/series?match[]={m}"),
        format!(
            "/api/v1/series?match[]={m}&match[]={}&start=1700000000&end=2023-11-14T22:23:20Z",
            enc("{room=\"hall\"}")
        ),
        format!("/api/v1/series?match[]={m}&limit=1"),
        format!("/api/v1/series?match[]={m}&limit=0"),
        // Before the first sample.
        format!("/api/v1/series?match[]={m}&end=1699999999"),
    ];
    expect![[r#"
        /api/v1/series?match[]=http_requests_total
        200 application/json
        {"status":"success","data":[{"__name__":"http_requests_total","code":"200","job":"api"},{"__name__":"http_requests_total","code":"500","job":"api"}]}
        /api/v1/series?match[]=http_requests_total&match[]=%7Broom%3D%22hall%22%7D&start=1700000000&end=2023-11-14T22:23:20Z
        200 application/json
        {"status":"success","data":[{"__name__":"http_requests_total","code":"200","job":"api"},{"__name__":"http_requests_total","code":"500","job":"api"},{"__name__":"temperature","job":"home","room":"hall"}]}
        /api/v1/series?match[]=http_requests_total&limit=1
        200 application/json
        {"status":"success","data":[{"__name__":"http_requests_total","code":"200","job":"api"}],"warnings":["results truncated due to limit"]}
        /api/v1/series?match[]=http_requests_total&limit=0
        200 application/json
        {"status":"success","data":[{"__name__":"http_requests_total","code":"200","job":"api"},{"__name__":"http_requests_total","code":"500","job":"api"}]}
        /api/v1/series?match[]=http_requests_total&end=1699999999
        200 application/json
        {"status":"success","data":[]}
    "#]]
    .assert_eq(&answers(&uris).await);
    let posted = post_form("/api/v1/series", &format!("match%5B%5D={m}&limit=1")).await;
    assert_eq!(
        posted.body,
        get(&format!("/api/v1/series?match[]={m}&limit=1"))
            .await
            .body
    );
}

#[tokio::test]
async fn series_errors() {
    let uris = [
        "/api/v1/series".to_owned(),
        format!("/api/v1/series?match[]={}", enc("{a=\"\"}")),
        format!("/api/v1/series?match[]={}", enc("up{")),
        format!("/api/v1/series?match[]={}", enc("up + 1")),
        "/api/v1/series?match[]=up&limit=-1".to_owned(),
        "/api/v1/series?match[]=up&limit=x".to_owned(),
        "/api/v1/series?match[]=up&limit=99999999999999999999".to_owned(),
        "/api/v1/series?match[]=up&start=x".to_owned(),
        "/api/v1/series?match[]=up&end=1e300".to_owned(),
        // `limit` is read before the times, the times before `match[]`.
        "/api/v1/series?match[]=%7B&limit=x&start=x".to_owned(),
        "/api/v1/series?match[]=%7B&start=x".to_owned(),
    ];
    expect![[r#"
        /api/v1/series
        400 application/json
        {"error":"no match[] parameter provided","errorType":"bad_data","status":"error"}
        /api/v1/series?match[]=%7Ba%3D%22%22%7D
        400 application/json
        {"error":"invalid parameter \"match[]\": match[] must contain at least one non-empty matcher","errorType":"bad_data","status":"error"}
        /api/v1/series?match[]=up%7B
        400 application/json
        {"error":"invalid parameter \"match[]\": 1:4: parse error: unexpected end of input inside braces","errorType":"bad_data","status":"error"}
        /api/v1/series?match[]=up%20%2B%201
        400 application/json
        {"error":"invalid parameter \"match[]\": 1:4: parse error: unexpected <op:+>","errorType":"bad_data","status":"error"}
        /api/v1/series?match[]=up&limit=-1
        400 application/json
        {"error":"invalid parameter \"limit\": limit must be non-negative","errorType":"bad_data","status":"error"}
        /api/v1/series?match[]=up&limit=x
        400 application/json
        {"error":"invalid parameter \"limit\": strconv.Atoi: parsing \"x\": invalid syntax","errorType":"bad_data","status":"error"}
        /api/v1/series?match[]=up&limit=99999999999999999999
        400 application/json
        {"error":"invalid parameter \"limit\": strconv.Atoi: parsing \"99999999999999999999\": value out of range","errorType":"bad_data","status":"error"}
        /api/v1/series?match[]=up&start=x
        400 application/json
        {"error":"invalid parameter \"start\": cannot parse \"x\" to a valid timestamp","errorType":"bad_data","status":"error"}
        /api/v1/series?match[]=up&end=1e300
        400 application/json
        {"error":"invalid parameter \"end\": cannot parse \"1e300\" to a valid timestamp","errorType":"bad_data","status":"error"}
        /api/v1/series?match[]=%7B&limit=x&start=x
        400 application/json
        {"error":"invalid parameter \"limit\": strconv.Atoi: parsing \"x\": invalid syntax","errorType":"bad_data","status":"error"}
        /api/v1/series?match[]=%7B&start=x
        400 application/json
        {"error":"invalid parameter \"start\": cannot parse \"x\" to a valid timestamp","errorType":"bad_data","status":"error"}
    "#]]
    .assert_eq(&answers(&uris).await);
    let failing = Fake {
        store: Some(Arc::new(FakeStore {
            fail: Some("index unreadable".into()),
            ..FakeStore::fixture()
        })),
        ..Fake::default()
    };
    let answer = send(failing, "GET", "/api/v1/series?match[]=up", &[], "").await;
    expect![[r#"
        422 application/json
        {"error":"index unreadable","errorType":"execution","status":"error"}"#]]
    .assert_eq(&answer.to_string());
}

#[tokio::test]
async fn label_names_and_values() {
    let uris = [
        "/api/v1/labels".to_owned(),
        format!("/api/v1/labels?match[]={}", enc("temperature")),
        "/api/v1/labels?limit=2".to_owned(),
        "/api/v1/labels?start=1800000000".to_owned(),
        "/api/v1/labels?match[]=%7B".to_owned(),
        "/api/v1/labels?match[]=%7Bjob%3D~%22.*%22%7D".to_owned(),
        "/api/v1/label/job/values".to_owned(),
        format!(
            "/api/v1/label/code/values?match[]={}",
            enc("http_requests_total{code!=\"500\"}")
        ),
        "/api/v1/label/job/values?limit=1".to_owned(),
        "/api/v1/label/job/values?end=x".to_owned(),
        // Prometheus 3's escaping of UTF-8 names in the path.
        "/api/v1/label/U__r_6f_om/values".to_owned(),
        "/api/v1/label/U__/values".to_owned(),
        "/api/v1/label/U___zz_/values".to_owned(),
    ];
    expect![[r#"
        /api/v1/labels
        200 application/json
        {"status":"success","data":["__name__","code","job","room"]}
        /api/v1/labels?match[]=temperature
        200 application/json
        {"status":"success","data":["__name__","job","room"]}
        /api/v1/labels?limit=2
        200 application/json
        {"status":"success","data":["__name__","code"],"warnings":["results truncated due to limit"]}
        /api/v1/labels?start=1800000000
        200 application/json
        {"status":"success","data":[]}
        /api/v1/labels?match[]=%7B
        400 application/json
        {"error":"invalid parameter \"match[]\": 1:2: parse error: unexpected end of input inside braces","errorType":"bad_data","status":"error"}
        /api/v1/labels?match[]=%7Bjob%3D~%22.*%22%7D
        400 application/json
        {"error":"invalid parameter \"match[]\": match[] must contain at least one non-empty matcher","errorType":"bad_data","status":"error"}
        /api/v1/label/job/values
        200 application/json
        {"status":"success","data":["api","home"]}
        /api/v1/label/code/values?match[]=http_requests_total%7Bcode%21%3D%22500%22%7D
        200 application/json
        {"status":"success","data":["200"]}
        /api/v1/label/job/values?limit=1
        200 application/json
        {"status":"success","data":["api"],"warnings":["results truncated due to limit"]}
        /api/v1/label/job/values?end=x
        400 application/json
        {"error":"invalid parameter \"end\": cannot parse \"x\" to a valid timestamp","errorType":"bad_data","status":"error"}
        /api/v1/label/U__r_6f_om/values
        200 application/json
        {"status":"success","data":["hall"]}
        /api/v1/label/U__/values
        400 application/json
        {"error":"invalid label name: \"\"","errorType":"bad_data","status":"error"}
        /api/v1/label/U___zz_/values
        200 application/json
        {"status":"success","data":[]}
    "#]]
    .assert_eq(&answers(&uris).await);
    let posted = post_form("/api/v1/labels", "match%5B%5D=temperature").await;
    assert_eq!(
        posted.body,
        get(&format!("/api/v1/labels?match[]={}", enc("temperature")))
            .await
            .body
    );
}

#[tokio::test]
async fn metadata_by_metric_and_limits() {
    let uris = [
        "/api/v1/metadata".to_owned(),
        "/api/v1/metadata?metric=up".to_owned(),
        "/api/v1/metadata?metric=nonexistent".to_owned(),
        "/api/v1/metadata?metric=".to_owned(),
        "/api/v1/metadata?limit=1".to_owned(),
        "/api/v1/metadata?limit=0".to_owned(),
        "/api/v1/metadata?limit=-1&limit_per_metric=1".to_owned(),
        "/api/v1/metadata?limit_per_metric=0".to_owned(),
        "/api/v1/metadata?limit=x".to_owned(),
        "/api/v1/metadata?limit_per_metric=1.5".to_owned(),
    ];
    expect![[r#"
        /api/v1/metadata
        200 application/json
        {"status":"success","data":{"http_requests_total":[{"help":"Requests served.","type":"counter","unit":""},{"help":"Requests served, by code.","type":"counter","unit":""}],"node_cpu_seconds":[{"help":"Seconds the CPUs spent in each mode.","type":"counter","unit":"seconds"}],"up":[{"help":"Whether the target is up.","type":"gauge","unit":""}]}}
        /api/v1/metadata?metric=up
        200 application/json
        {"status":"success","data":{"up":[{"help":"Whether the target is up.","type":"gauge","unit":""}]}}
        /api/v1/metadata?metric=nonexistent
        200 application/json
        {"status":"success","data":{}}
        /api/v1/metadata?metric=
        200 application/json
        {"status":"success","data":{"http_requests_total":[{"help":"Requests served.","type":"counter","unit":""},{"help":"Requests served, by code.","type":"counter","unit":""}],"node_cpu_seconds":[{"help":"Seconds the CPUs spent in each mode.","type":"counter","unit":"seconds"}],"up":[{"help":"Whether the target is up.","type":"gauge","unit":""}]}}
        /api/v1/metadata?limit=1
        200 application/json
        {"status":"success","data":{"http_requests_total":[{"help":"Requests served.","type":"counter","unit":""},{"help":"Requests served, by code.","type":"counter","unit":""}]}}
        /api/v1/metadata?limit=0
        200 application/json
        {"status":"success","data":{"http_requests_total":[{"help":"Requests served.","type":"counter","unit":""},{"help":"Requests served, by code.","type":"counter","unit":""}],"node_cpu_seconds":[{"help":"Seconds the CPUs spent in each mode.","type":"counter","unit":"seconds"}],"up":[{"help":"Whether the target is up.","type":"gauge","unit":""}]}}
        /api/v1/metadata?limit=-1&limit_per_metric=1
        200 application/json
        {"status":"success","data":{"http_requests_total":[{"help":"Requests served.","type":"counter","unit":""}],"node_cpu_seconds":[{"help":"Seconds the CPUs spent in each mode.","type":"counter","unit":"seconds"}],"up":[{"help":"Whether the target is up.","type":"gauge","unit":""}]}}
        /api/v1/metadata?limit_per_metric=0
        200 application/json
        {"status":"success","data":{"http_requests_total":[{"help":"Requests served.","type":"counter","unit":""},{"help":"Requests served, by code.","type":"counter","unit":""}],"node_cpu_seconds":[{"help":"Seconds the CPUs spent in each mode.","type":"counter","unit":"seconds"}],"up":[{"help":"Whether the target is up.","type":"gauge","unit":""}]}}
        /api/v1/metadata?limit=x
        400 application/json
        {"error":"limit must be a number","errorType":"bad_data","status":"error"}
        /api/v1/metadata?limit_per_metric=1.5
        400 application/json
        {"error":"limit_per_metric must be a number","errorType":"bad_data","status":"error"}
    "#]]
    .assert_eq(&answers(&uris).await);
}

#[tokio::test]
async fn targets_with_discovered_passwords_hidden() {
    // `state` is not read: every target is listed, whatever it asks.
    let uris = [
        "/api/v1/targets".to_owned(),
        "/api/v1/targets?state=active".to_owned(),
    ];
    let out = answers(&uris).await;
    expect![[r#"
        /api/v1/targets
        200 application/json
        {"status":"success","data":{"activeTargets":[{"discoveredLabels":{"instance":"localhost:9090","job":"wasmetheus"},"globalUrl":"wasmetheus://localhost:9090","health":"up","labels":{"instance":"localhost:9090","job":"wasmetheus"},"lastError":"","lastScrape":"2023-11-14T22:14:20Z","lastScrapeDuration":0.003,"scrapeInterval":"15s","scrapePool":"wasmetheus","scrapeTimeout":"10s","scrapeUrl":"wasmetheus://localhost:9090"},{"discoveredLabels":{"__meta_url":"http://sd:xxxxx@sd.example/targets","instance":"h:9100","job":"http"},"globalUrl":"http://h:9100/metrics","health":"unknown","labels":{"__meta_url":"http://sd:hunter2@sd.example/targets","instance":"h:9100","job":"http"},"lastError":"","lastScrape":"0001-01-01T00:00:00Z","lastScrapeDuration":0.0,"scrapeInterval":"1m","scrapePool":"http","scrapeTimeout":"10s","scrapeUrl":"http://h:9100/metrics"}],"discoveries":[{"index":0,"job":"http","mechanism":"http_sd_configs","state":"running"},{"index":0,"job":"consul","mechanism":"consul_sd_configs","reason":"consul_sd_configs is parsed and validated, but this version of wasmetheus does not run it yet: it produces no targets","state":"not_running"}],"droppedTargetCounts":{"http":1},"droppedTargets":[{"discoveredLabels":{"__address__":"d:1","__meta_url":"https://u:xxxxx@sd.example:8443/b?c=d:e@f","job":"http"}}]}}
        /api/v1/targets?state=active
        200 application/json
        {"status":"success","data":{"activeTargets":[{"discoveredLabels":{"instance":"localhost:9090","job":"wasmetheus"},"globalUrl":"wasmetheus://localhost:9090","health":"up","labels":{"instance":"localhost:9090","job":"wasmetheus"},"lastError":"","lastScrape":"2023-11-14T22:14:20Z","lastScrapeDuration":0.003,"scrapeInterval":"15s","scrapePool":"wasmetheus","scrapeTimeout":"10s","scrapeUrl":"wasmetheus://localhost:9090"},{"discoveredLabels":{"__meta_url":"http://sd:xxxxx@sd.example/targets","instance":"h:9100","job":"http"},"globalUrl":"http://h:9100/metrics","health":"unknown","labels":{"__meta_url":"http://sd:hunter2@sd.example/targets","instance":"h:9100","job":"http"},"lastError":"","lastScrape":"0001-01-01T00:00:00Z","lastScrapeDuration":0.0,"scrapeInterval":"1m","scrapePool":"http","scrapeTimeout":"10s","scrapeUrl":"http://h:9100/metrics"}],"discoveries":[{"index":0,"job":"http","mechanism":"http_sd_configs","state":"running"},{"index":0,"job":"consul","mechanism":"consul_sd_configs","reason":"consul_sd_configs is parsed and validated, but this version of wasmetheus does not run it yet: it produces no targets","state":"not_running"}],"droppedTargetCounts":{"http":1},"droppedTargets":[{"discoveredLabels":{"__address__":"d:1","__meta_url":"https://u:xxxxx@sd.example:8443/b?c=d:e@f","job":"http"}}]}}
    "#]]
    .assert_eq(&out);
}

#[tokio::test]
async fn targets_metadata_by_target_metric_and_limit() {
    let both = enc("{job=~\"node|wasmetheus\"}");
    let uris = [
        "/api/v1/targets/metadata".to_owned(),
        format!(
            "/api/v1/targets/metadata?match_target={}",
            enc("{job=\"node\"}")
        ),
        format!("/api/v1/targets/metadata?metric=node_load1&match_target={both}"),
        "/api/v1/targets/metadata?metric=nonexistent".to_owned(),
        "/api/v1/targets/metadata?limit=1".to_owned(),
        "/api/v1/targets/metadata?limit=0".to_owned(),
        "/api/v1/targets/metadata?limit=x".to_owned(),
        "/api/v1/targets/metadata?match_target=%7Bjob%3D".to_owned(),
    ];
    expect![[r#"
        /api/v1/targets/metadata
        200 application/json
        {"status":"success","data":[{"target":{"instance":"node","job":"node"},"metric":"node_cpu_seconds","type":"counter","help":"Seconds the CPUs spent in each mode.","unit":"seconds"},{"target":{"instance":"node","job":"node"},"metric":"node_load1","type":"gauge","help":"1m load average.","unit":""},{"target":{"instance":"localhost:9090","job":"wasmetheus"},"metric":"prometheus_tsdb_head_series","type":"gauge","help":"Total number of series in the head block.","unit":""}]}
        /api/v1/targets/metadata?match_target=%7Bjob%3D%22node%22%7D
        200 application/json
        {"status":"success","data":[{"target":{"instance":"node","job":"node"},"metric":"node_cpu_seconds","type":"counter","help":"Seconds the CPUs spent in each mode.","unit":"seconds"},{"target":{"instance":"node","job":"node"},"metric":"node_load1","type":"gauge","help":"1m load average.","unit":""}]}
        /api/v1/targets/metadata?metric=node_load1&match_target=%7Bjob%3D~%22node%7Cwasmetheus%22%7D
        200 application/json
        {"status":"success","data":[{"target":{"instance":"node","job":"node"},"type":"gauge","help":"1m load average.","unit":""}]}
        /api/v1/targets/metadata?metric=nonexistent
        200 application/json
        {"status":"success","data":[]}
        /api/v1/targets/metadata?limit=1
        200 application/json
        {"status":"success","data":[{"target":{"instance":"node","job":"node"},"metric":"node_cpu_seconds","type":"counter","help":"Seconds the CPUs spent in each mode.","unit":"seconds"},{"target":{"instance":"node","job":"node"},"metric":"node_load1","type":"gauge","help":"1m load average.","unit":""}]}
        /api/v1/targets/metadata?limit=0
        200 application/json
        {"status":"success","data":[]}
        /api/v1/targets/metadata?limit=x
        400 application/json
        {"error":"limit must be a number","errorType":"bad_data","status":"error"}
        /api/v1/targets/metadata?match_target=%7Bjob%3D
        400 application/json
        {"error":"invalid parameter \"match_target\": 1:6: parse error: unexpected end of input inside braces","errorType":"bad_data","status":"error"}
    "#]]
    .assert_eq(&answers(&uris).await);
}

#[tokio::test]
async fn federate_the_newest_samples_with_external_labels() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let fake = || Fake {
        store: Some(Arc::new(FakeStore::recent(now))),
        ..Fake::default()
    };
    let answer = send(
        fake(),
        "GET",
        &format!("/federate?match[]={}", enc("{job=~\"a|b\"}")),
        &[],
        "",
    )
    .await;
    // The times are the samples' own.
    let body = answer
        .to_string()
        .replace(&(now - 1_000).to_string(), "<now-1s>")
        .replace(&(now - 2_000).to_string(), "<now-2s>");
    expect![[r#"
        200 text/plain; version=0.0.4; charset=utf-8
        # TYPE up untyped
        up{cluster="own",instance="b:1",job="b"} 1 <now-2s>
        up{instance="a:1",job="a",cluster="c1"} 1 <now-1s>
    "#]]
    .assert_eq(&body);
    let answer = send(fake(), "GET", "/federate", &[], "").await;
    expect![[r#"
        200 text/plain; version=0.0.4; charset=utf-8
    "#]]
    .assert_eq(&answer.to_string());
    let answer = send(fake(), "GET", "/federate?match[]=%7B", &[], "").await;
    expect![[r#"
        400 text/plain; charset=utf-8
        1:2: parse error: unexpected end of input inside braces
    "#]]
    .assert_eq(&answer.to_string());
    let answer = send(
        Fake {
            store: None,
            ..Fake::default()
        },
        "GET",
        "/federate?match[]=up",
        &[],
        "",
    )
    .await;
    expect![[r#"
        503 application/json
        {"error":"this server has no storage to query","errorType":"unavailable","status":"error"}"#]]
    .assert_eq(&answer.to_string());
}
