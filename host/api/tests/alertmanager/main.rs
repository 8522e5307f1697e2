//! Alertmanager's API v2 (`router_v2`) on a fake backend: every
//! endpoint's parameters, errors and answers (status, content type and
//! body bytes), as transcripts of requests and answers; `peer.rs`
//! compares the answers' shapes with Debian's Alertmanager 0.25.

mod amtool;
mod fake;
mod peer;

use axum::body::Body;
use axum::http::{Request, header};
use expect_test::expect;
use fake::Fake;
use std::sync::Arc;
use tower::ServiceExt;
use wasmetheus_api::AlertmanagerBackend;

/// An answer as the client sees it.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// Sends one request through `router_v2` on `backend`.
pub async fn send(
    backend: Arc<dyn AlertmanagerBackend>,
    method: &str,
    uri: &str,
    body: &str,
) -> Answer {
    send_typed(backend, method, uri, "application/json", body).await
}

/// [`send`] with another `Content-Type`.
pub async fn send_typed(
    backend: Arc<dyn AlertmanagerBackend>,
    method: &str,
    uri: &str,
    content_type: &str,
    body: &str,
) -> Answer {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body.to_owned()))
        .expect("a request");
    let response = wasmetheus_api::router_v2(backend)
        .oneshot(request)
        .await
        .expect("an answer");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map_or("-", |v| v.to_str().expect("ASCII"))
        .to_owned();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a body");
    Answer {
        status,
        content_type,
        body: String::from_utf8(body.to_vec()).expect("UTF-8"),
    }
}

/// Each request (`METHOD uri [body]`) and its answer, in order, on one
/// backend.
async fn transcript(
    backend: Arc<dyn AlertmanagerBackend>,
    requests: &[(&str, &str, &str)],
) -> String {
    let mut out = String::new();
    for (method, uri, body) in requests {
        let answer = send(Arc::clone(&backend), method, uri, body).await;
        out.push_str(&format!("{method} {uri}"));
        if !body.is_empty() {
            out.push_str(&format!(" {body}"));
        }
        out.push_str(&format!(
            "\n=> {} {}\n{}\n",
            answer.status,
            answer.content_type,
            answer.body.trim_end_matches('\n')
        ));
        if answer.body.ends_with('\n') {
            out.push_str("(newline)\n");
        }
    }
    out
}

fn fake() -> Arc<Fake> {
    Arc::new(Fake::default())
}

#[tokio::test]
async fn status_and_receivers() {
    let got = transcript(
        fake(),
        &[
            ("GET", "/api/v2/status", ""),
            ("GET", "/api/v2/receivers", ""),
        ],
    )
    .await;
    expect![[r#"
        GET /api/v2/status
        => 200 application/json
        {"cluster":{"peers":[],"status":"disabled"},"config":{"original":"global:\n  smtp_auth_password: <secret>\nroute:\n  receiver: team\n"},"uptime":"2025-12-31T23:00:00.250Z","versionInfo":{"branch":"main","buildDate":"20260101-00:00:00","buildUser":"builder","goVersion":"n/a","revision":"abc","version":"0.1.0"}}
        (newline)
        GET /api/v2/receivers
        => 200 application/json
        [{"name":"team"},{"name":"pager"}]
        (newline)
    "#]].assert_eq(&got);
}

#[tokio::test]
async fn alerts_filters() {
    let got = transcript(
        fake(),
        &[
            ("GET", "/api/v2/alerts", ""),
            (
                "GET",
                "/api/v2/alerts?active=false&silenced=no&inhibited=0",
                "",
            ),
            (
                "GET",
                "/api/v2/alerts?silenced=false&inhibited=false&unprocessed=false",
                "",
            ),
            (
                "GET",
                "/api/v2/alerts?filter=alertname%3DUp&filter=job!%3D%22node%22",
                "",
            ),
            ("GET", "/api/v2/alerts?filter=alertname%3D~%22D.*%22", ""),
            (
                "GET",
                "/api/v2/alerts?filter=nolabel%3D%22%22&filter=alertname!~%22Up%7CNew%22",
                "",
            ),
            ("GET", "/api/v2/alerts?receiver=pag", ""),
            ("GET", "/api/v2/alerts?receiver=pag.*", ""),
            ("GET", "/api/v2/alerts?filter=foo", ""),
            ("GET", "/api/v2/alerts?filter=a%3D~%22(%22", ""),
            ("GET", "/api/v2/alerts?receiver=(", ""),
        ],
    )
    .await;
    expect![[r#"
        GET /api/v2/alerts
        => 200 application/json
        [{"annotations":{"summary":"<b>&</b>"},"endsAt":"2026-01-01T00:05:00.000Z","fingerprint":"a000000000000001","receivers":[{"name":"team"}],"startsAt":"2025-12-31T23:00:00.123Z","status":{"inhibitedBy":[],"mutedBy":[],"silencedBy":["11111111-1111-4111-8111-111111111111"],"state":"suppressed"},"updatedAt":"2025-12-31T23:59:00.000Z","generatorURL":"http://prometheus/graph?g0.expr=up","labels":{"alertname":"Up","job":"node"}},{"annotations":{"summary":"<b>&</b>"},"endsAt":"2026-01-01T00:05:00.000Z","fingerprint":"c000000000000003","receivers":[{"name":"team"}],"startsAt":"2025-12-31T23:00:00.123Z","status":{"inhibitedBy":["f000000000000002"],"mutedBy":[],"silencedBy":[],"state":"suppressed"},"updatedAt":"2025-12-31T23:59:00.000Z","labels":{"alertname":"Up","job":"db"}},{"annotations":{"summary":"<b>&</b>"},"endsAt":"2026-01-01T00:05:00.000Z","fingerprint":"d000000000000004","receivers":[{"name":"team"}],"startsAt":"2025-12-31T23:00:00.123Z","status":{"inhibitedBy":[],"mutedBy":[],"silencedBy":[],"state":"unprocessed"},"updatedAt":"2025-12-31T23:59:00.000Z","labels":{"alertname":"New"}},{"annotations":{"summary":"<b>&</b>"},"endsAt":"2026-01-01T00:05:00.000Z","fingerprint":"f000000000000002","receivers":[{"name":"pager"},{"name":"team"}],"startsAt":"2025-12-31T23:00:00.123Z","status":{"inhibitedBy":[],"mutedBy":[],"silencedBy":[],"state":"active"},"updatedAt":"2025-12-31T23:59:00.000Z","labels":{"alertname":"Disk","severity":"page"}}]
        (newline)
        GET /api/v2/alerts?active=false&silenced=no&inhibited=0
        => 200 application/json
        [{"annotations":{"summary":"<b>&</b>"},"endsAt":"2026-01-01T00:05:00.000Z","fingerprint":"d000000000000004","receivers":[{"name":"team"}],"startsAt":"2025-12-31T23:00:00.123Z","status":{"inhibitedBy":[],"mutedBy":[],"silencedBy":[],"state":"unprocessed"},"updatedAt":"2025-12-31T23:59:00.000Z","labels":{"alertname":"New"}}]
        (newline)
        GET /api/v2/alerts?silenced=false&inhibited=false&unprocessed=false
        => 200 application/json
        [{"annotations":{"summary":"<b>&</b>"},"endsAt":"2026-01-01T00:05:00.000Z","fingerprint":"d000000000000004","receivers":[{"name":"team"}],"startsAt":"2025-12-31T23:00:00.123Z","status":{"inhibitedBy":[],"mutedBy":[],"silencedBy":[],"state":"unprocessed"},"updatedAt":"2025-12-31T23:59:00.000Z","labels":{"alertname":"New"}},{"annotations":{"summary":"<b>&</b>"},"endsAt":"2026-01-01T00:05:00.000Z","fingerprint":"f000000000000002","receivers":[{"name":"pager"},{"name":"team"}],"startsAt":"2025-12-31T23:00:00.123Z","status":{"inhibitedBy":[],"mutedBy":[],"silencedBy":[],"state":"active"},"updatedAt":"2025-12-31T23:59:00.000Z","labels":{"alertname":"Disk","severity":"page"}}]
        (newline)
        GET /api/v2/alerts?filter=alertname%3DUp&filter=job!%3D%22node%22
        => 200 application/json
        [{"annotations":{"summary":"<b>&</b>"},"endsAt":"2026-01-01T00:05:00.000Z","fingerprint":"c000000000000003","receivers":[{"name":"team"}],"startsAt":"2025-12-31T23:00:00.123Z","status":{"inhibitedBy":["f000000000000002"],"mutedBy":[],"silencedBy":[],"state":"suppressed"},"updatedAt":"2025-12-31T23:59:00.000Z","labels":{"alertname":"Up","job":"db"}}]
        (newline)
        GET /api/v2/alerts?filter=alertname%3D~%22D.*%22
        => 200 application/json
        [{"annotations":{"summary":"<b>&</b>"},"endsAt":"2026-01-01T00:05:00.000Z","fingerprint":"f000000000000002","receivers":[{"name":"pager"},{"name":"team"}],"startsAt":"2025-12-31T23:00:00.123Z","status":{"inhibitedBy":[],"mutedBy":[],"silencedBy":[],"state":"active"},"updatedAt":"2025-12-31T23:59:00.000Z","labels":{"alertname":"Disk","severity":"page"}}]
        (newline)
        GET /api/v2/alerts?filter=nolabel%3D%22%22&filter=alertname!~%22Up%7CNew%22
        => 200 application/json
        [{"annotations":{"summary":"<b>&</b>"},"endsAt":"2026-01-01T00:05:00.000Z","fingerprint":"f000000000000002","receivers":[{"name":"pager"},{"name":"team"}],"startsAt":"2025-12-31T23:00:00.123Z","status":{"inhibitedBy":[],"mutedBy":[],"silencedBy":[],"state":"active"},"updatedAt":"2025-12-31T23:59:00.000Z","labels":{"alertname":"Disk","severity":"page"}}]
        (newline)
        GET /api/v2/alerts?receiver=pag
        => 200 application/json
        []
        (newline)
        GET /api/v2/alerts?receiver=pag.*
        => 200 application/json
        [{"annotations":{"summary":"<b>&</b>"},"endsAt":"2026-01-01T00:05:00.000Z","fingerprint":"f000000000000002","receivers":[{"name":"pager"},{"name":"team"}],"startsAt":"2025-12-31T23:00:00.123Z","status":{"inhibitedBy":[],"mutedBy":[],"silencedBy":[],"state":"active"},"updatedAt":"2025-12-31T23:59:00.000Z","labels":{"alertname":"Disk","severity":"page"}}]
        (newline)
        GET /api/v2/alerts?filter=foo
        => 400 application/json
        "bad matcher format: foo"
        (newline)
        GET /api/v2/alerts?filter=a%3D~%22(%22
        => 400 application/json
        "invalid regular expression \"(\": regex parse error:\n    ^(?:()$\n     ^\nerror: unclosed group"
        (newline)
        GET /api/v2/alerts?receiver=(
        => 400 application/json
        "failed to parse receiver param: error parsing regexp: unclosed group: `^(?:()$`"
        (newline)
    "#]].assert_eq(&got);
}

#[tokio::test]
async fn alert_groups() {
    let got = transcript(
        fake(),
        &[
            ("GET", "/api/v2/alerts/groups", ""),
            ("GET", "/api/v2/alerts/groups?muted=false", ""),
            (
                "GET",
                "/api/v2/alerts/groups?receiver=team&inhibited=false",
                "",
            ),
            ("GET", "/api/v2/alerts/groups?receiver=pager", ""),
            ("GET", "/api/v2/alerts/groups?filter=bad", ""),
        ],
    )
    .await;
    expect![[r#"
        GET /api/v2/alerts/groups
        => 200 application/json
        [{"alerts":[{"annotations":{"summary":"<b>&</b>"},"endsAt":"2026-01-01T00:05:00.000Z","fingerprint":"a000000000000001","receivers":[{"name":"team"}],"startsAt":"2025-12-31T23:00:00.123Z","status":{"inhibitedBy":[],"mutedBy":["weekends"],"silencedBy":["11111111-1111-4111-8111-111111111111"],"state":"suppressed"},"updatedAt":"2025-12-31T23:59:00.000Z","generatorURL":"http://prometheus/graph?g0.expr=up","labels":{"alertname":"Up","job":"node"}},{"annotations":{"summary":"<b>&</b>"},"endsAt":"2026-01-01T00:05:00.000Z","fingerprint":"c000000000000003","receivers":[{"name":"team"}],"startsAt":"2025-12-31T23:00:00.123Z","status":{"inhibitedBy":["f000000000000002"],"mutedBy":["weekends"],"silencedBy":[],"state":"suppressed"},"updatedAt":"2025-12-31T23:59:00.000Z","labels":{"alertname":"Up","job":"db"}}],"labels":{"alertname":"Up"},"receiver":{"name":"team"}},{"alerts":[{"annotations":{"summary":"<b>&</b>"},"endsAt":"2026-01-01T00:05:00.000Z","fingerprint":"f000000000000002","receivers":[{"name":"pager"},{"name":"team"}],"startsAt":"2025-12-31T23:00:00.123Z","status":{"inhibitedBy":[],"mutedBy":[],"silencedBy":[],"state":"active"},"updatedAt":"2025-12-31T23:59:00.000Z","labels":{"alertname":"Disk","severity":"page"}}],"labels":{"alertname":"Disk"},"receiver":{"name":"pager"}}]
        (newline)
        GET /api/v2/alerts/groups?muted=false
        => 200 application/json
        [{"alerts":[{"annotations":{"summary":"<b>&</b>"},"endsAt":"2026-01-01T00:05:00.000Z","fingerprint":"f000000000000002","receivers":[{"name":"pager"},{"name":"team"}],"startsAt":"2025-12-31T23:00:00.123Z","status":{"inhibitedBy":[],"mutedBy":[],"silencedBy":[],"state":"active"},"updatedAt":"2025-12-31T23:59:00.000Z","labels":{"alertname":"Disk","severity":"page"}}],"labels":{"alertname":"Disk"},"receiver":{"name":"pager"}}]
        (newline)
        GET /api/v2/alerts/groups?receiver=team&inhibited=false
        => 200 application/json
        [{"alerts":[{"annotations":{"summary":"<b>&</b>"},"endsAt":"2026-01-01T00:05:00.000Z","fingerprint":"a000000000000001","receivers":[{"name":"team"}],"startsAt":"2025-12-31T23:00:00.123Z","status":{"inhibitedBy":[],"mutedBy":["weekends"],"silencedBy":["11111111-1111-4111-8111-111111111111"],"state":"suppressed"},"updatedAt":"2025-12-31T23:59:00.000Z","generatorURL":"http://prometheus/graph?g0.expr=up","labels":{"alertname":"Up","job":"node"}}],"labels":{"alertname":"Up"},"receiver":{"name":"team"}}]
        (newline)
        GET /api/v2/alerts/groups?receiver=pager
        => 200 application/json
        [{"alerts":[{"annotations":{"summary":"<b>&</b>"},"endsAt":"2026-01-01T00:05:00.000Z","fingerprint":"f000000000000002","receivers":[{"name":"pager"}],"startsAt":"2025-12-31T23:00:00.123Z","status":{"inhibitedBy":[],"mutedBy":[],"silencedBy":[],"state":"active"},"updatedAt":"2025-12-31T23:59:00.000Z","labels":{"alertname":"Disk","severity":"page"}}],"labels":{"alertname":"Disk"},"receiver":{"name":"pager"}}]
        (newline)
        GET /api/v2/alerts/groups?filter=bad
        => 400 application/json
        "bad matcher format: bad"
        (newline)
    "#]].assert_eq(&got);
}

#[tokio::test]
async fn post_alerts_defaults_and_validation() {
    let backend = fake();
    let got = transcript(
        backend.clone(),
        &[
            (
                "POST",
                "/api/v2/alerts",
                r#"[{"labels":{"alertname":"A","empty":""},"annotations":{"x":"y"},"extra":1},{"labels":{"alertname":"B"},"endsAt":"2025-01-01T00:00:00Z","generatorURL":"http://g/"},{"labels":{"alertname":"C"},"startsAt":"0001-01-01T00:00:00Z","endsAt":"2027-01-01T00:00:00+01:00"}]"#,
            ),
            (
                "POST",
                "/api/v2/alerts",
                r#"[{"labels":{}},{"labels":{"a":"b"},"startsAt":"2020-01-02T00:00:00Z","endsAt":"2020-01-01T00:00:00Z"},{"labels":{"":"x"}},{"labels":{"ok":"1"}}]"#,
            ),
            ("POST", "/api/v2/alerts", r#"[{"labels":{"a":"b"}},{"annotations":{}}]"#),
            ("POST", "/api/v2/alerts", r#"[{"labels":{"a":1}}]"#),
            ("POST", "/api/v2/alerts", r#"[{"labels":{"a":"b"},"startsAt":"yesterday"}]"#),
            ("POST", "/api/v2/alerts", "{"),
            ("POST", "/api/v2/alerts", "[]"),
        ],
    )
    .await;
    expect![[r#"
        POST /api/v2/alerts [{"labels":{"alertname":"A","empty":""},"annotations":{"x":"y"},"extra":1},{"labels":{"alertname":"B"},"endsAt":"2025-01-01T00:00:00Z","generatorURL":"http://g/"},{"labels":{"alertname":"C"},"startsAt":"0001-01-01T00:00:00Z","endsAt":"2027-01-01T00:00:00+01:00"}]
        => 200 -

        POST /api/v2/alerts [{"labels":{}},{"labels":{"a":"b"},"startsAt":"2020-01-02T00:00:00Z","endsAt":"2020-01-01T00:00:00Z"},{"labels":{"":"x"}},{"labels":{"ok":"1"}}]
        => 400 application/json
        "at least one label pair required; start time must be before end time; invalid label set: invalid name \"\""
        (newline)
        POST /api/v2/alerts [{"labels":{"a":"b"}},{"annotations":{}}]
        => 422 application/json
        {"code":602,"message":"1.labels in body is required"}
        POST /api/v2/alerts [{"labels":{"a":1}}]
        => 400 application/json
        {"code":400,"message":"parsing alerts body from \"\" failed, because invalid type: integer `1`, expected a string at line 1 column 17"}
        POST /api/v2/alerts [{"labels":{"a":"b"},"startsAt":"yesterday"}]
        => 400 application/json
        {"code":400,"message":"parsing alerts body from \"\" failed, because parsing time \"yesterday\" failed: failed to parse four digit integer as year: invalid digit, expected 0-9 but got y"}
        POST /api/v2/alerts {
        => 400 application/json
        {"code":400,"message":"parsing alerts body from \"\" failed, because invalid type: map, expected a sequence at line 1 column 0"}
        POST /api/v2/alerts []
        => 200 -

    "#]].assert_eq(&got);
    let posted: Vec<String> = backend
        .posted
        .lock()
        .expect("lock")
        .iter()
        .map(|a| format!("{a:?}"))
        .collect();
    expect![[r#"
        PostableAlert { labels: {"alertname": "A"}, annotations: {"x": "y"}, starts_at: 2026-01-01T00:00:00.5Z, ends_at: 2026-01-01T00:05:00.5Z, timeout: true, updated_at: 2026-01-01T00:00:00.5Z, generator_url: "" }
        PostableAlert { labels: {"alertname": "B"}, annotations: {}, starts_at: 2025-01-01T00:00:00Z, ends_at: 2025-01-01T00:00:00Z, timeout: false, updated_at: 2026-01-01T00:00:00.5Z, generator_url: "http://g/" }
        PostableAlert { labels: {"alertname": "C"}, annotations: {}, starts_at: 2026-12-31T23:00:00Z, ends_at: 2026-12-31T23:00:00Z, timeout: false, updated_at: 2026-01-01T00:00:00.5Z, generator_url: "" }
        PostableAlert { labels: {"ok": "1"}, annotations: {}, starts_at: 2026-01-01T00:00:00.5Z, ends_at: 2026-01-01T00:05:00.5Z, timeout: true, updated_at: 2026-01-01T00:00:00.5Z, generator_url: "" }"#]].assert_eq(&posted.join("\n"));
}

#[tokio::test]
async fn hostile_alert_bodies() {
    let backend = fake();
    // Deep nesting in an ignored field is skipped without recursion (Go's
    // decoder would refuse past 10,000 levels): the alert is stored.
    let deep = format!(
        r#"[{{"labels":{{"a":"b"}},"x":{}{}}}]"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let answer = send(backend.clone(), "POST", "/api/v2/alerts", &deep).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, ""));
    // Deep nesting where a value is expected: a 400, no stack overflow.
    let deep = format!(
        r#"[{{"labels":{}{}}}]"#,
        "{\"a\":".repeat(100_000),
        "}".repeat(100_000)
    );
    let answer = send(backend.clone(), "POST", "/api/v2/alerts", &deep).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(backend.posted.lock().expect("lock").len(), 1);
    backend.posted.lock().expect("lock").clear();
    // Over the body limit: 413 before it is read.
    let huge = " ".repeat(wasmetheus_api::MAX_V2_BODY + 1);
    let answer = send(backend.clone(), "POST", "/api/v2/alerts", &huge).await;
    expect![[r#"413 {"code":413,"message":"request body larger than 32 MiB; send fewer alerts per request"}"#]].assert_eq(&format!("{} {}", answer.status, answer.body));
    // 100k alerts in one POST fit and are all stored.
    let many: Vec<String> = (0..100_000)
        .map(|i| format!(r#"{{"labels":{{"alertname":"A","i":"{i}"}}}}"#))
        .collect();
    let body = format!("[{}]", many.join(","));
    assert!(body.len() < wasmetheus_api::MAX_V2_BODY);
    let answer = send(backend.clone(), "POST", "/api/v2/alerts", &body).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, ""));
    assert_eq!(backend.posted.lock().expect("lock").len(), 100_000);
    // A hostile receiver pattern is refused, not compiled without bound.
    let answer = send(
        backend,
        "GET",
        "/api/v2/alerts?receiver=(a%7B1000%7D)%7B1000%7D",
        "",
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        answer
            .body
            .starts_with("\"failed to parse receiver param: "),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn silences() {
    let backend = fake();
    let got = transcript(
        backend.clone(),
        &[
            ("GET", "/api/v2/silences", ""),
            ("GET", "/api/v2/silences?filter=job%3Dnode", ""),
            (
                "GET",
                "/api/v2/silences?filter=alertname!~%22Disk%7CUp%22",
                "",
            ),
            (
                "GET",
                "/api/v2/silences?filter=alertname%3D~%22Disk%7CUp%22",
                "",
            ),
            ("GET", "/api/v2/silences?filter=bad", ""),
            ("GET", &format!("/api/v2/silence/{}", fake::SIL_PENDING), ""),
            (
                "GET",
                "/api/v2/silence/00000000-0000-0000-0000-000000000000",
                "",
            ),
            ("GET", "/api/v2/silence/xyz", ""),
            (
                "DELETE",
                &format!("/api/v2/silence/{}", fake::SIL_ACTIVE),
                "",
            ),
            ("GET", &format!("/api/v2/silence/{}", fake::SIL_ACTIVE), ""),
            (
                "DELETE",
                "/api/v2/silence/00000000-0000-0000-0000-000000000000",
                "",
            ),
            ("DELETE", "/api/v2/silence/not-a-uuid", ""),
        ],
    )
    .await;
    expect![[r#"
        GET /api/v2/silences
        => 200 application/json
        [{"id":"11111111-1111-4111-8111-111111111111","status":{"state":"active"},"updatedAt":"2025-12-31T12:00:00.000Z","comment":"maintenance","createdBy":"ops","endsAt":"2026-01-02T00:00:00.000Z","matchers":[{"isEqual":true,"isRegex":false,"name":"job","value":"node"}],"startsAt":"2025-12-31T00:00:00.000Z"},{"id":"22222222-2222-4222-8222-222222222222","status":{"state":"pending"},"updatedAt":"2025-12-31T12:00:00.000Z","comment":"maintenance","createdBy":"ops","endsAt":"2026-03-01T00:00:00.000Z","matchers":[{"isEqual":false,"isRegex":true,"name":"alertname","value":"Disk|Up"}],"startsAt":"2026-02-01T00:00:00.000Z"},{"id":"33333333-3333-4333-8333-333333333333","status":{"state":"expired"},"updatedAt":"2025-12-31T12:00:00.000Z","comment":"maintenance","createdBy":"ops","endsAt":"2025-12-02T00:00:00.000Z","matchers":[{"isEqual":true,"isRegex":false,"name":"job","value":"node"}],"startsAt":"2025-12-01T00:00:00.000Z"}]
        (newline)
        GET /api/v2/silences?filter=job%3Dnode
        => 200 application/json
        [{"id":"11111111-1111-4111-8111-111111111111","status":{"state":"active"},"updatedAt":"2025-12-31T12:00:00.000Z","comment":"maintenance","createdBy":"ops","endsAt":"2026-01-02T00:00:00.000Z","matchers":[{"isEqual":true,"isRegex":false,"name":"job","value":"node"}],"startsAt":"2025-12-31T00:00:00.000Z"},{"id":"33333333-3333-4333-8333-333333333333","status":{"state":"expired"},"updatedAt":"2025-12-31T12:00:00.000Z","comment":"maintenance","createdBy":"ops","endsAt":"2025-12-02T00:00:00.000Z","matchers":[{"isEqual":true,"isRegex":false,"name":"job","value":"node"}],"startsAt":"2025-12-01T00:00:00.000Z"}]
        (newline)
        GET /api/v2/silences?filter=alertname!~%22Disk%7CUp%22
        => 200 application/json
        [{"id":"22222222-2222-4222-8222-222222222222","status":{"state":"pending"},"updatedAt":"2025-12-31T12:00:00.000Z","comment":"maintenance","createdBy":"ops","endsAt":"2026-03-01T00:00:00.000Z","matchers":[{"isEqual":false,"isRegex":true,"name":"alertname","value":"Disk|Up"}],"startsAt":"2026-02-01T00:00:00.000Z"}]
        (newline)
        GET /api/v2/silences?filter=alertname%3D~%22Disk%7CUp%22
        => 200 application/json
        []
        (newline)
        GET /api/v2/silences?filter=bad
        => 400 application/json
        "bad matcher format: bad"
        (newline)
        GET /api/v2/silence/22222222-2222-4222-8222-222222222222
        => 200 application/json
        {"id":"22222222-2222-4222-8222-222222222222","status":{"state":"pending"},"updatedAt":"2025-12-31T12:00:00.000Z","comment":"maintenance","createdBy":"ops","endsAt":"2026-03-01T00:00:00.000Z","matchers":[{"isEqual":false,"isRegex":true,"name":"alertname","value":"Disk|Up"}],"startsAt":"2026-02-01T00:00:00.000Z"}
        (newline)
        GET /api/v2/silence/00000000-0000-0000-0000-000000000000
        => 404 -

        GET /api/v2/silence/xyz
        => 422 application/json
        {"code":601,"message":"silenceID in path must be of type uuid: \"xyz\""}
        DELETE /api/v2/silence/11111111-1111-4111-8111-111111111111
        => 200 -

        GET /api/v2/silence/11111111-1111-4111-8111-111111111111
        => 200 application/json
        {"id":"11111111-1111-4111-8111-111111111111","status":{"state":"expired"},"updatedAt":"2025-12-31T12:00:00.000Z","comment":"maintenance","createdBy":"ops","endsAt":"2026-01-01T00:00:00.500Z","matchers":[{"isEqual":true,"isRegex":false,"name":"job","value":"node"}],"startsAt":"2025-12-31T00:00:00.000Z"}
        (newline)
        DELETE /api/v2/silence/00000000-0000-0000-0000-000000000000
        => 404 -

        DELETE /api/v2/silence/not-a-uuid
        => 422 application/json
        {"code":601,"message":"silenceID in path must be of type uuid: \"not-a-uuid\""}
    "#]].assert_eq(&got);
}

#[tokio::test]
async fn post_silences() {
    let backend = fake();
    let ok = r#""startsAt":"2026-01-01T00:00:00Z","endsAt":"2026-01-02T00:00:00.123456Z","createdBy":"me","comment":"c""#;
    let with = |rest: &str| format!("{{{rest},{ok}}}");
    let requests = [
        with(r#""matchers":[{"name":"alertname","value":"A","isRegex":false}]"#),
        with(r#""matchers":[{"name":"a","value":"b.*","isRegex":true,"isEqual":false}]"#),
        with(r#""id":"99999999-9999-4999-8999-999999999999","matchers":[{"name":"a","value":"b","isRegex":false}]"#),
        with(r#""matchers":[{"name":"a","value":"","isRegex":false}]"#),
        with(r#""matchers":[]"#),
        with(r#""matchers":[{"name":"a","value":"b"}]"#),
        r#"{"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"2026-01-01T00:00:00Z","endsAt":"2026-01-02T00:00:00Z","comment":"c"}"#.to_owned(),
        r#"{"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"2026-01-02T00:00:00Z","endsAt":"2026-01-02T00:00:00Z","createdBy":"x","comment":"c"}"#.to_owned(),
        r#"{"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"2025-01-01T00:00:00Z","endsAt":"2025-01-02T00:00:00Z","createdBy":"x","comment":"c"}"#.to_owned(),
        r#"{"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"bad","endsAt":"2027-01-02T00:00:00Z","createdBy":"x","comment":"c"}"#.to_owned(),
        "[1]".to_owned(),
    ];
    let requests: Vec<(&str, &str, &str)> = requests
        .iter()
        .map(|b| ("POST", "/api/v2/silences", b.as_str()))
        .collect();
    let got = transcript(backend.clone(), &requests).await;
    expect![[r#"
        POST /api/v2/silences {"matchers":[{"name":"alertname","value":"A","isRegex":false}],"startsAt":"2026-01-01T00:00:00Z","endsAt":"2026-01-02T00:00:00.123456Z","createdBy":"me","comment":"c"}
        => 200 application/json
        {"silenceID":"44444444-4444-4444-8444-000000000003"}
        (newline)
        POST /api/v2/silences {"matchers":[{"name":"a","value":"b.*","isRegex":true,"isEqual":false}],"startsAt":"2026-01-01T00:00:00Z","endsAt":"2026-01-02T00:00:00.123456Z","createdBy":"me","comment":"c"}
        => 200 application/json
        {"silenceID":"44444444-4444-4444-8444-000000000004"}
        (newline)
        POST /api/v2/silences {"id":"99999999-9999-4999-8999-999999999999","matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"2026-01-01T00:00:00Z","endsAt":"2026-01-02T00:00:00.123456Z","createdBy":"me","comment":"c"}
        => 404 application/json
        "silence not found"
        (newline)
        POST /api/v2/silences {"matchers":[{"name":"a","value":"","isRegex":false}],"startsAt":"2026-01-01T00:00:00Z","endsAt":"2026-01-02T00:00:00.123456Z","createdBy":"me","comment":"c"}
        => 400 application/json
        "silence invalid: at least one matcher must not match the empty string"
        (newline)
        POST /api/v2/silences {"matchers":[],"startsAt":"2026-01-01T00:00:00Z","endsAt":"2026-01-02T00:00:00.123456Z","createdBy":"me","comment":"c"}
        => 422 application/json
        {"code":612,"message":"matchers in body should have at least 1 items"}
        POST /api/v2/silences {"matchers":[{"name":"a","value":"b"}],"startsAt":"2026-01-01T00:00:00Z","endsAt":"2026-01-02T00:00:00.123456Z","createdBy":"me","comment":"c"}
        => 422 application/json
        {"code":602,"message":"matchers.0.isRegex in body is required"}
        POST /api/v2/silences {"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"2026-01-01T00:00:00Z","endsAt":"2026-01-02T00:00:00Z","comment":"c"}
        => 422 application/json
        {"code":602,"message":"createdBy in body is required"}
        POST /api/v2/silences {"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"2026-01-02T00:00:00Z","endsAt":"2026-01-02T00:00:00Z","createdBy":"x","comment":"c"}
        => 400 application/json
        "Failed to create silence: start time must be before end time"
        (newline)
        POST /api/v2/silences {"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"2025-01-01T00:00:00Z","endsAt":"2025-01-02T00:00:00Z","createdBy":"x","comment":"c"}
        => 400 application/json
        "Failed to create silence: end time can't be in the past"
        (newline)
        POST /api/v2/silences {"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"bad","endsAt":"2027-01-02T00:00:00Z","createdBy":"x","comment":"c"}
        => 400 application/json
        {"code":400,"message":"parsing silence body from \"\" failed, because parsing time \"bad\" failed: expected four digit year (or leading sign for six digit year), but found end of input"}
        POST /api/v2/silences [1]
        => 400 application/json
        {"code":400,"message":"parsing silence body from \"\" failed, because invalid type: integer `1`, expected a string at line 1 column 2"}
    "#]].assert_eq(&got);
    let set: Vec<String> = backend
        .set
        .lock()
        .expect("lock")
        .iter()
        .map(|s| format!("{s:?}"))
        .collect();
    expect![[r#"
        PostableSilence { id: None, matchers: [Matcher { is_equal: true, is_regex: false, name: "alertname", value: "A" }], starts_at: 2026-01-01T00:00:00Z, ends_at: 2026-01-02T00:00:00.123456Z, created_by: "me", comment: "c" }
        PostableSilence { id: None, matchers: [Matcher { is_equal: false, is_regex: true, name: "a", value: "b.*" }], starts_at: 2026-01-01T00:00:00Z, ends_at: 2026-01-02T00:00:00.123456Z, created_by: "me", comment: "c" }"#]].assert_eq(&set.join("\n"));
}

#[tokio::test]
async fn bodies_media_types_paths_and_methods() {
    let backend = fake();
    let mut got = String::new();
    for (method, uri, content_type, body) in [
        (
            "POST",
            "/api/v2/alerts",
            "application/x-www-form-urlencoded",
            "[]",
        ),
        ("POST", "/api/v2/silences", "text/plain", "{}"),
        (
            "POST",
            "/api/v2/alerts",
            "Application/JSON; charset=utf-8",
            "null",
        ),
        ("POST", "/api/v2/alerts", "", ""),
        ("POST", "/api/v2/silences", "application/json", ""),
        ("POST", "/api/v2/silences", "application/json", "null"),
        (
            "POST",
            "/api/v2/alerts",
            "application/json",
            r#"[{"labels":{"a":"b"},"startsAt":"2026-01-01T00:00:00","endsAt":"2026-01-01T01:00:00.25"}]"#,
        ),
        ("PUT", "/api/v2/alerts", "application/json", ""),
        ("PATCH", "/api/v2/silence/x", "application/json", ""),
        ("DELETE", "/api/v2/status", "application/json", ""),
        ("GET", "/api/v2/foo/bar", "application/json", ""),
    ] {
        let answer = send_typed(backend.clone(), method, uri, content_type, body).await;
        got.push_str(&format!(
            "{method} {uri} ({content_type}) {body}\n=> {} {}\n",
            answer.status, answer.body
        ));
    }
    expect![[r#"
        POST /api/v2/alerts (application/x-www-form-urlencoded) []
        => 415 {"code":415,"message":"unsupported media type \"application/x-www-form-urlencoded\", only [application/json] are allowed"}
        POST /api/v2/silences (text/plain) {}
        => 415 {"code":415,"message":"unsupported media type \"text/plain\", only [application/json] are allowed"}
        POST /api/v2/alerts (Application/JSON; charset=utf-8) null
        => 200 
        POST /api/v2/alerts () 
        => 422 {"code":602,"message":"alerts in body is required"}
        POST /api/v2/silences (application/json) 
        => 422 {"code":602,"message":"silence in body is required"}
        POST /api/v2/silences (application/json) null
        => 422 {"code":602,"message":"comment in body is required"}
        POST /api/v2/alerts (application/json) [{"labels":{"a":"b"},"startsAt":"2026-01-01T00:00:00","endsAt":"2026-01-01T01:00:00.25"}]
        => 200 
        PUT /api/v2/alerts (application/json) 
        => 405 {"code":405,"message":"method PUT is not allowed, but [POST,GET] are"}
        PATCH /api/v2/silence/x (application/json) 
        => 405 {"code":405,"message":"method PATCH is not allowed, but [GET,DELETE] are"}
        DELETE /api/v2/status (application/json) 
        => 405 {"code":405,"message":"method DELETE is not allowed, but [GET] are"}
        GET /api/v2/foo/bar (application/json) 
        => 404 {"code":404,"message":"path /api/v2/foo/bar was not found"}
    "#]].assert_eq(&got);
    let posted: Vec<String> = backend
        .posted
        .lock()
        .expect("lock")
        .iter()
        .map(|a| format!("{} {}", a.starts_at, a.ends_at))
        .collect();
    expect!["2026-01-01T00:00:00Z 2026-01-01T01:00:00.25Z"].assert_eq(&posted.join("\n"));
}
