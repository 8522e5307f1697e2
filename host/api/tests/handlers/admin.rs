//! The TSDB admin endpoints: off without `--web.enable-admin-api`, and
//! their parameters, answers and errors when on.

use crate::fake::{AdminCall, Fake};
use crate::{enc, send_to};
use expect_test::expect;
use std::sync::Arc;

fn admin(error: Option<&str>) -> Arc<Fake> {
    Arc::new(Fake {
        admin: true,
        admin_error: error.map(str::to_owned),
        ..Fake::default()
    })
}

/// Each request and its answer.
async fn answers(fake: &Arc<Fake>, requests: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (method, uri) in requests {
        let backend: Arc<dyn wasmetheus_api::Backend> = Arc::clone(fake) as _;
        let answer = send_to(backend, method, uri, &[], "").await;
        out.push_str(&format!("{method} {uri}\n{answer}\n"));
    }
    out
}

#[tokio::test]
async fn admin_endpoints_are_off_by_default() {
    let off = Arc::new(Fake::default());
    let requests = [
        ("POST", "/api/v1/admin/tsdb/snapshot".to_owned()),
        (
            "POST",
            "/api/v1/admin/tsdb/delete_series?match[]=up".to_owned(),
        ),
        ("PUT", "/api/v1/admin/tsdb/clean_tombstones".to_owned()),
    ];
    expect![[r#"
        POST /api/v1/admin/tsdb/snapshot
        503 application/json
        {"error":"admin APIs disabled","errorType":"unavailable","status":"error"}
        POST /api/v1/admin/tsdb/delete_series?match[]=up
        503 application/json
        {"error":"admin APIs disabled","errorType":"unavailable","status":"error"}
        PUT /api/v1/admin/tsdb/clean_tombstones
        503 application/json
        {"error":"admin APIs disabled","errorType":"unavailable","status":"error"}
    "#]]
    .assert_eq(&answers(&off, &requests).await);
    assert!(off.admin_calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn snapshot_with_skip_head() {
    let fake = admin(None);
    let requests = [
        ("POST", "/api/v1/admin/tsdb/snapshot".to_owned()),
        (
            "PUT",
            "/api/v1/admin/tsdb/snapshot?skip_head=true".to_owned(),
        ),
        (
            "POST",
            "/api/v1/admin/tsdb/snapshot?skip_head=yes".to_owned(),
        ),
        ("GET", "/api/v1/admin/tsdb/snapshot".to_owned()),
    ];
    expect![[r#"
        POST /api/v1/admin/tsdb/snapshot
        200 application/json
        {"data":{"name":"20231114T221320Z-00000000000000ff"},"status":"success"}
        PUT /api/v1/admin/tsdb/snapshot?skip_head=true
        200 application/json
        {"data":{"name":"20231114T221320Z-00000000000000ff"},"status":"success"}
        POST /api/v1/admin/tsdb/snapshot?skip_head=yes
        400 application/json
        {"error":"invalid parameter \"skip_head\": unable to parse boolean: strconv.ParseBool: parsing \"yes\": invalid syntax","errorType":"bad_data","status":"error"}
        GET /api/v1/admin/tsdb/snapshot
        405 -

    "#]]
    .assert_eq(&answers(&fake, &requests).await);
    assert_eq!(
        *fake.admin_calls.lock().unwrap(),
        [
            AdminCall::Snapshot { skip_head: false },
            AdminCall::Snapshot { skip_head: true }
        ]
    );
}

#[tokio::test]
async fn delete_series_by_selectors_and_range() {
    let fake = admin(None);
    let requests = [
        (
            "POST",
            format!(
                "/api/v1/admin/tsdb/delete_series?match[]={}&match[]={}&start=1&end=2023-11-14T22:13:20Z",
                enc("up{job=\"a\"}"),
                enc("{__name__=~\".+\"}")
            ),
        ),
        // A selector matching everything is allowed here.
        (
            "DELETE",
            format!(
                "/api/v1/admin/tsdb/delete_series?match[]={}",
                enc("{a=\"\"}")
            ),
        ),
        ("POST", "/api/v1/admin/tsdb/delete_series".to_owned()),
        (
            "POST",
            "/api/v1/admin/tsdb/delete_series?match[]=up&start=x".to_owned(),
        ),
        (
            "POST",
            "/api/v1/admin/tsdb/delete_series?match[]=%7B&end=x".to_owned(),
        ),
        (
            "POST",
            "/api/v1/admin/tsdb/delete_series?match[]=%7B".to_owned(),
        ),
        ("PUT", "/api/v1/admin/tsdb/clean_tombstones".to_owned()),
    ];
    expect![[r#"
        POST /api/v1/admin/tsdb/delete_series?match[]=up%7Bjob%3D%22a%22%7D&match[]=%7B__name__%3D~%22.%2B%22%7D&start=1&end=2023-11-14T22:13:20Z
        204 -

        DELETE /api/v1/admin/tsdb/delete_series?match[]=%7Ba%3D%22%22%7D
        204 -

        POST /api/v1/admin/tsdb/delete_series
        400 application/json
        {"error":"no match[] parameter provided","errorType":"bad_data","status":"error"}
        POST /api/v1/admin/tsdb/delete_series?match[]=up&start=x
        400 application/json
        {"error":"invalid parameter \"start\": cannot parse \"x\" to a valid timestamp","errorType":"bad_data","status":"error"}
        POST /api/v1/admin/tsdb/delete_series?match[]=%7B&end=x
        400 application/json
        {"error":"invalid parameter \"end\": cannot parse \"x\" to a valid timestamp","errorType":"bad_data","status":"error"}
        POST /api/v1/admin/tsdb/delete_series?match[]=%7B
        400 application/json
        {"error":"invalid parameter \"match[]\": 1:2: parse error: unexpected end of input inside braces","errorType":"bad_data","status":"error"}
        PUT /api/v1/admin/tsdb/clean_tombstones
        204 -

    "#]]
    .assert_eq(&answers(&fake, &requests).await);
    expect![[r#"
        [
            Delete {
                selectors: [
                    "job=\"a\",__name__=\"up\"",
                    "__name__=~\".+\"",
                ],
                start: 1000,
                end: 1700000000000,
            },
            Delete {
                selectors: [
                    "a=\"\"",
                ],
                start: -9223372036854775808,
                end: 9223372036854775807,
            },
            CleanTombstones,
        ]
    "#]]
    .assert_debug_eq(&*fake.admin_calls.lock().unwrap());
}

#[tokio::test]
async fn backend_failures_are_internal_errors() {
    let fake = admin(Some("no space left on device"));
    let requests = [
        ("POST", "/api/v1/admin/tsdb/snapshot".to_owned()),
        (
            "POST",
            "/api/v1/admin/tsdb/delete_series?match[]=up".to_owned(),
        ),
        ("POST", "/api/v1/admin/tsdb/clean_tombstones".to_owned()),
    ];
    expect![[r#"
        POST /api/v1/admin/tsdb/snapshot
        500 application/json
        {"error":"create snapshot: no space left on device","errorType":"internal","status":"error"}
        POST /api/v1/admin/tsdb/delete_series?match[]=up
        500 application/json
        {"error":"no space left on device","errorType":"internal","status":"error"}
        POST /api/v1/admin/tsdb/clean_tombstones
        500 application/json
        {"error":"no space left on device","errorType":"internal","status":"error"}
    "#]]
    .assert_eq(&answers(&fake, &requests).await);
}
