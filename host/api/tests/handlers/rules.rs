//! `/api/v1/rules`, `/api/v1/alerts` and `/api/v1/alertmanagers`: the
//! bytes of a real Prometheus' answers for the same rule state, each
//! filter and the paging of `/api/v1/rules`, and the errors for hostile or
//! malformed parameters, with Prometheus 3's texts.

use crate::fake::Fake;
use crate::{enc, send};
use expect_test::expect;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wasmetheus_api::types::{
    Alert, AlertState, AlertingRule, AlertmanagersStatus, RecordingRule, Rule, RuleGroup,
    RuleHealth,
};

/// 2026-12-06T22:22:00Z plus `secs` seconds and `nanos`.
fn at(secs: u64, nanos: u32) -> SystemTime {
    UNIX_EPOCH + Duration::new(1_796_595_720 + secs, nanos)
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn recording(name: &str, query: &str, labels: &[(&str, &str)], nanos: u64, last: u32) -> Rule {
    Rule::Recording(RecordingRule {
        name: name.into(),
        query: query.into(),
        labels: map(labels),
        health: RuleHealth::Ok,
        last_error: None,
        evaluation_time: Duration::from_nanos(nanos),
        last_evaluation: Some(at(42, last)),
    })
}

/// The rule state a Prometheus 2.42 reported for this rule file (five
/// seconds after it started, `interval: 1s`), `never` never evaluated:
///
/// ```yaml
/// groups:
///   - name: example
///     interval: 1s
///     rules:
///       - alert: AlwaysFiring
///         expr: vector(42) > 0.5
///         labels: {severity: page}
///         annotations: {summary: "value <{{ $value }}> & more"}
///       - alert: Pending
///         expr: vector(1.5e-7)
///         for: 10m
///         keep_firing_for: 90s
///       - record: job:up:sum
///         expr: sum by (job) (up)
///       - record: with_labels
///         expr: vector(1)
///         labels: {team: "a&b"}
///       - record: broken
///         expr: label_replace(vector(1), "x", "$1", "y", "(")
///   - name: never
///     interval: 1h
///     limit: 3
///     rules:
///       - alert: Never
///         expr: absent(nothing)
/// ```
///
/// The groups come in the wrong order (the API sorts them), and
/// `AlwaysFiring` also has a resolved alert (kept for resending, never
/// shown).
fn reported_groups() -> Vec<RuleGroup> {
    let never = RuleGroup {
        name: "never".into(),
        file: "rules.yml".into(),
        rules: vec![Rule::Alerting(AlertingRule {
            // Prometheus 3: a rule not evaluated yet is `unknown`.
            state: AlertState::Unknown,
            name: "Never".into(),
            query: "absent(nothing)".into(),
            duration: Duration::ZERO,
            keep_firing_for: Duration::ZERO,
            labels: map(&[]),
            annotations: map(&[]),
            alerts: vec![],
            health: RuleHealth::Unknown,
            last_error: None,
            evaluation_time: Duration::ZERO,
            last_evaluation: None,
        })],
        interval: Duration::from_secs(3600),
        limit: 3,
        evaluation_time: Duration::ZERO,
        last_evaluation: None,
    };
    let active_at = at(37, 456_891_295);
    let example = RuleGroup {
        name: "example".into(),
        file: "rules.yml".into(),
        rules: vec![
            Rule::Alerting(AlertingRule {
                state: AlertState::Firing,
                name: "AlwaysFiring".into(),
                query: "vector(42) > 0.5".into(),
                duration: Duration::ZERO,
                keep_firing_for: Duration::ZERO,
                labels: map(&[("severity", "page")]),
                annotations: map(&[("summary", "value <{{ $value }}> & more")]),
                alerts: vec![
                    Alert {
                        labels: map(&[("alertname", "AlwaysFiring"), ("severity", "page")]),
                        annotations: map(&[("summary", "value <42> & more")]),
                        state: AlertState::Firing,
                        active_at,
                        keep_firing_since: None,
                        value: 42.0,
                    },
                    Alert {
                        labels: map(&[("alertname", "AlwaysFiring"), ("severity", "old")]),
                        annotations: map(&[]),
                        state: AlertState::Inactive,
                        active_at: at(1, 0),
                        keep_firing_since: None,
                        value: 1.0,
                    },
                ],
                health: RuleHealth::Ok,
                last_error: None,
                evaluation_time: Duration::from_nanos(461_518),
                last_evaluation: Some(at(42, 457_083_904)),
            }),
            Rule::Alerting(AlertingRule {
                state: AlertState::Pending,
                name: "Pending".into(),
                query: "vector(1.5e-07)".into(),
                duration: Duration::from_secs(600),
                keep_firing_for: Duration::from_secs(90),
                labels: map(&[]),
                annotations: map(&[]),
                alerts: vec![Alert {
                    labels: map(&[("alertname", "Pending")]),
                    annotations: map(&[]),
                    state: AlertState::Pending,
                    active_at,
                    keep_firing_since: None,
                    value: 1.5e-7,
                }],
                health: RuleHealth::Ok,
                last_error: None,
                evaluation_time: Duration::from_nanos(65_558),
                last_evaluation: Some(at(42, 457_548_747)),
            }),
            recording("job:up:sum", "sum by (job) (up)", &[], 109_213, 457_615_446),
            recording(
                "with_labels",
                "vector(1)",
                &[("team", "a&b")],
                58_217,
                457_725_861,
            ),
            Rule::Recording(RecordingRule {
                name: "broken".into(),
                query: r#"label_replace(vector(1), "x", "$1", "y", "(")"#.into(),
                labels: map(&[]),
                health: RuleHealth::Err,
                last_error: Some("invalid regular expression in label_replace(): (".into()),
                evaluation_time: Duration::from_nanos(160_920),
                last_evaluation: Some(at(42, 457_784_879)),
            }),
        ],
        interval: Duration::from_secs(1),
        limit: 0,
        evaluation_time: Duration::from_nanos(878_749),
        last_evaluation: Some(at(42, 457_069_152)),
    };
    vec![never, example]
}

/// What Prometheus 2.42 answered on `/api/v1/rules` for that state.
const PROMETHEUS_2_42_RULES: &str = r#"{"status":"success","data":{"groups":[{"name":"example","file":"rules.yml","rules":[{"state":"firing","name":"AlwaysFiring","query":"vector(42) \u003e 0.5","duration":0,"keepFiringFor":0,"labels":{"severity":"page"},"annotations":{"summary":"value \u003c{{ $value }}\u003e \u0026 more"},"alerts":[{"labels":{"alertname":"AlwaysFiring","severity":"page"},"annotations":{"summary":"value \u003c42\u003e \u0026 more"},"state":"firing","activeAt":"2026-12-06T22:22:37.456891295Z","value":"4.2e+01"}],"health":"ok","evaluationTime":0.000461518,"lastEvaluation":"2026-12-06T22:22:42.457083904Z","type":"alerting"},{"state":"pending","name":"Pending","query":"vector(1.5e-07)","duration":600,"keepFiringFor":90,"labels":{},"annotations":{},"alerts":[{"labels":{"alertname":"Pending"},"annotations":{},"state":"pending","activeAt":"2026-12-06T22:22:37.456891295Z","value":"1.5e-07"}],"health":"ok","evaluationTime":0.000065558,"lastEvaluation":"2026-12-06T22:22:42.457548747Z","type":"alerting"},{"name":"job:up:sum","query":"sum by (job) (up)","health":"ok","evaluationTime":0.000109213,"lastEvaluation":"2026-12-06T22:22:42.457615446Z","type":"recording"},{"name":"with_labels","query":"vector(1)","labels":{"team":"a\u0026b"},"health":"ok","evaluationTime":0.000058217,"lastEvaluation":"2026-12-06T22:22:42.457725861Z","type":"recording"},{"name":"broken","query":"label_replace(vector(1), \"x\", \"$1\", \"y\", \"(\")","health":"err","lastError":"invalid regular expression in label_replace(): (","evaluationTime":0.00016092,"lastEvaluation":"2026-12-06T22:22:42.457784879Z","type":"recording"}],"interval":1,"limit":0,"evaluationTime":0.000878749,"lastEvaluation":"2026-12-06T22:22:42.457069152Z"},{"name":"never","file":"rules.yml","rules":[{"state":"inactive","name":"Never","query":"absent(nothing)","duration":0,"keepFiringFor":0,"labels":{},"annotations":{},"alerts":[],"health":"unknown","evaluationTime":0,"lastEvaluation":"0001-01-01T00:00:00Z","type":"alerting"}],"interval":3600,"limit":3,"evaluationTime":0,"lastEvaluation":"0001-01-01T00:00:00Z"}]}}"#;

/// What Prometheus 2.42 answered on `/api/v1/alerts`.
const PROMETHEUS_2_42_ALERTS: &str = r#"{"status":"success","data":{"alerts":[{"labels":{"alertname":"AlwaysFiring","severity":"page"},"annotations":{"summary":"value \u003c42\u003e \u0026 more"},"state":"firing","activeAt":"2026-12-06T22:22:37.456891295Z","value":"4.2e+01"},{"labels":{"alertname":"Pending"},"annotations":{},"state":"pending","activeAt":"2026-12-06T22:22:37.456891295Z","value":"1.5e-07"}]}}"#;

fn with_rules() -> Fake {
    Fake {
        rule_groups: reported_groups(),
        ..Fake::default()
    }
}

async fn rules(query: &str) -> crate::Answer {
    send(
        with_rules(),
        "GET",
        &format!("/api/v1/rules{query}"),
        &[],
        "",
    )
    .await
}

/// The names of the groups and rules of an answer, for the filter tests.
fn shown(answer: &crate::Answer) -> String {
    assert_eq!(answer.status, 200, "{answer}");
    let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    let groups = body["data"]["groups"].as_array().unwrap();
    let mut out: Vec<String> = groups
        .iter()
        .map(|g| {
            let rules: Vec<&str> = g["rules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap())
                .collect();
            format!("{}: {}", g["name"].as_str().unwrap(), rules.join(" "))
        })
        .collect();
    if let Some(token) = body["data"]["groupNextToken"].as_str() {
        out.push(format!("next {token}"));
    }
    out.join("; ")
}

#[tokio::test]
async fn rules_are_what_prometheus_writes() {
    let answer = rules("").await;
    assert_eq!(
        (answer.status, answer.content_type.as_str()),
        (200, "application/json")
    );
    // Prometheus 3 differs from 2.42 where it was asked to: a recording
    // rule without labels shows `"labels":{}` (3.x's labels are a struct,
    // never empty to `omitempty`), and the rule never evaluated is in
    // state `unknown` (3.x), not `inactive`.
    let want = PROMETHEUS_2_42_RULES
        .replace(
            r#"{"name":"job:up:sum","query":"sum by (job) (up)","#,
            r#"{"name":"job:up:sum","query":"sum by (job) (up)","labels":{},"#,
        )
        .replace(r#""(\")","#, r#""(\")","labels":{},"#)
        .replace(
            r#"{"state":"inactive","name":"Never""#,
            r#"{"state":"unknown","name":"Never""#,
        );
    assert_eq!(answer.body, want);
}

#[tokio::test]
async fn alerts_are_what_prometheus_writes() {
    let answer = send(with_rules(), "GET", "/api/v1/alerts", &[], "").await;
    assert_eq!(
        (answer.status, answer.content_type.as_str()),
        (200, "application/json")
    );
    assert_eq!(answer.body, PROMETHEUS_2_42_ALERTS);
}

#[tokio::test]
async fn keep_firing_since_is_shown_when_set() {
    let mut groups = reported_groups();
    let Rule::Alerting(rule) = &mut groups[1].rules[1] else {
        panic!("the second rule of `example` alerts");
    };
    rule.alerts[0].state = AlertState::Firing;
    rule.alerts[0].keep_firing_since = Some(at(50, 0));
    rule.alerts[0].value = f64::NAN;
    let fake = Fake {
        rule_groups: groups,
        ..Fake::default()
    };
    let answer = send(fake, "GET", "/api/v1/alerts", &[], "").await;
    expect![[r#"
        200 application/json
        {"status":"success","data":{"alerts":[{"labels":{"alertname":"AlwaysFiring","severity":"page"},"annotations":{"summary":"value \u003c42\u003e \u0026 more"},"state":"firing","activeAt":"2026-12-06T22:22:37.456891295Z","value":"4.2e+01"},{"labels":{"alertname":"Pending"},"annotations":{},"state":"firing","activeAt":"2026-12-06T22:22:37.456891295Z","keepFiringSince":"2026-12-06T22:22:50Z","value":"NaN"}]}}"#]]
    .assert_eq(&answer.to_string());
}

#[tokio::test]
async fn nothing_loaded_is_empty_lists() {
    let answer = crate::get("/api/v1/rules").await;
    assert_eq!(
        answer.to_string(),
        "200 application/json\n{\"status\":\"success\",\"data\":{\"groups\":[]}}"
    );
    let answer = crate::get("/api/v1/alerts").await;
    assert_eq!(
        answer.to_string(),
        "200 application/json\n{\"status\":\"success\",\"data\":{\"alerts\":[]}}"
    );
    let answer = crate::get("/api/v1/alertmanagers").await;
    assert_eq!(
        answer.to_string(),
        "200 application/json\n{\"status\":\"success\",\"data\":{\"activeAlertmanagers\":[],\"droppedAlertmanagers\":[]}}"
    );
}

#[tokio::test]
async fn alertmanagers_are_what_prometheus_writes() {
    let fake = Fake {
        alertmanagers: AlertmanagersStatus {
            active: vec!["http://127.0.0.1:19093/api/v2/alerts".into()],
            dropped: vec!["http://127.0.0.1:19094/api/v2/alerts".into()],
        },
        ..Fake::default()
    };
    let answer = send(fake, "GET", "/api/v1/alertmanagers", &[], "").await;
    // Prometheus 2.42's answer for the same Alertmanagers (the second
    // dropped by `relabel_configs`).
    assert_eq!(
        answer.body,
        r#"{"status":"success","data":{"activeAlertmanagers":[{"url":"http://127.0.0.1:19093/api/v2/alerts"}],"droppedAlertmanagers":[{"url":"http://127.0.0.1:19094/api/v2/alerts"}]}}"#
    );
}

#[tokio::test]
async fn rules_are_filtered() {
    let all = "example: AlwaysFiring Pending job:up:sum with_labels broken; never: Never";
    for (query, want) in [
        ("", all),
        ("?type=alert", "example: AlwaysFiring Pending; never: Never"),
        // Case does not matter.
        ("?type=ALERT", "example: AlwaysFiring Pending; never: Never"),
        ("?type=Record", "example: job:up:sum with_labels broken"),
        // The first `type` counts.
        (
            "?type=record&type=alert",
            "example: job:up:sum with_labels broken",
        ),
        ("?type=", all),
        ("?rule_name[]=Never", "never: Never"),
        (
            "?rule_name[]=Never&rule_name[]=broken&rule_name[]=nothing",
            "example: broken; never: Never",
        ),
        ("?rule_name[]=Never&type=record", ""),
        ("?rule_group[]=never", "never: Never"),
        ("?rule_group[]=never&rule_group[]=example", all),
        ("?file[]=rules.yml", all),
        ("?file[]=other.yml", ""),
        (
            "?file[]=rules.yml&rule_group[]=example&rule_name[]=Pending",
            "example: Pending",
        ),
        // `match[]` selects on the rules' own labels.
        ("?match[]={severity=\"page\"}", "example: AlwaysFiring"),
        ("?match[]={team=~\"a.*\"}", "example: with_labels"),
        (
            "?match[]={severity=\"page\"}&match[]={team=\"a%26b\"}",
            "example: AlwaysFiring with_labels",
        ),
        ("?match[]={severity=~\"pa.*\"}", "example: AlwaysFiring"),
        // The matchers of a set all hold (an absent label is empty).
        (
            "?match[]={severity=\"page\",x=\"\"}",
            "example: AlwaysFiring",
        ),
        ("?match[]={severity=\"page\",x=\"1\"}", ""),
        // A metric name: rules have no `__name__` label.
        ("?match[]=up", ""),
        ("?match[]={severity=\"page\"}&type=record", ""),
    ] {
        let query = query
            .replace('{', "%7B")
            .replace('}', "%7D")
            .replace('"', "%22");
        assert_eq!(shown(&rules(&query).await), want, "{query}");
    }
}

#[tokio::test]
async fn alerts_can_be_left_out() {
    for (query, alerts) in [
        ("?exclude_alerts=true", "null"),
        ("?exclude_alerts=TRUE", "null"),
        ("?exclude_alerts=1", "null"),
        ("?exclude_alerts=t", "null"),
        ("?exclude_alerts=false", "list"),
        ("?exclude_alerts=0", "list"),
        ("?exclude_alerts=", "list"),
    ] {
        let answer = rules(&format!("{query}&rule_name[]=AlwaysFiring")).await;
        assert_eq!(answer.status, 200, "{query}: {answer}");
        let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        let rule = &body["data"]["groups"][0]["rules"][0];
        assert_eq!(rule["state"], "firing", "{query}");
        let got = match &rule["alerts"] {
            serde_json::Value::Null => "null",
            serde_json::Value::Array(list) if list.len() == 1 => "list",
            other => panic!("{query}: alerts {other}"),
        };
        assert_eq!(got, alerts, "{query}");
        // Written as Prometheus writes its unset slice.
        assert_eq!(answer.body.contains(r#""alerts":null"#), alerts == "null");
    }
}

/// Groups `g00`…`g{n-1}` in files `a.yml` (even) and `b.yml` (odd), one
/// recording rule each: `r<i>` (`r<i>`, `odd` on the odd ones).
fn many_groups(n: usize) -> Vec<RuleGroup> {
    (0..n)
        .rev()
        .map(|i| RuleGroup {
            name: format!("g{i:02}"),
            file: if i % 2 == 0 { "a.yml" } else { "b.yml" }.into(),
            rules: vec![recording(
                &format!("r{i}"),
                "vector(1)",
                if i % 2 == 1 { &[("odd", "yes")] } else { &[] },
                0,
                0,
            )],
            interval: Duration::from_secs(60),
            ..RuleGroup::default()
        })
        .collect()
}

async fn paged(groups: Vec<RuleGroup>, query: &str) -> crate::Answer {
    let fake = Fake {
        rule_groups: groups,
        ..Fake::default()
    };
    send(fake, "GET", &format!("/api/v1/rules{query}"), &[], "").await
}

#[tokio::test]
async fn rules_are_paged() {
    // Sorted by file, then name: the even groups (a.yml), then the odd.
    let answer = paged(many_groups(5), "?group_limit=2").await;
    // The token of the first group of the next page: sha1("a.yml;g04").
    let token = "513e93f2d58adc0cd03a719f243efcbd2093ddfd";
    assert_eq!(shown(&answer), format!("g00: r0; g02: r2; next {token}"));
    let answer = paged(
        many_groups(5),
        &format!("?group_limit=2&group_next_token={token}"),
    )
    .await;
    let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    let next = body["data"]["groupNextToken"].as_str().unwrap().to_owned();
    assert_eq!(shown(&answer), format!("g04: r4; g01: r1; next {next}"));
    let answer = paged(
        many_groups(5),
        &format!("?group_limit=2&group_next_token={next}"),
    )
    .await;
    assert_eq!(shown(&answer), "g03: r3");
    // A page as large as what is left: no next token.
    assert_eq!(
        shown(&paged(many_groups(4), "?group_limit=4").await),
        "g00: r0; g02: r2; g01: r1; g03: r3"
    );
    // The largest limit Go's 32-bit parse takes.
    assert_eq!(
        shown(&paged(many_groups(3), "?group_limit=2147483647").await),
        "g00: r0; g02: r2; g01: r1"
    );
}

#[tokio::test]
async fn pages_count_groups_left_after_filters() {
    // Only the odd groups match; the next token names the first group of
    // the next page that has rules left.
    let answer = paged(
        many_groups(8),
        "?group_limit=2&match[]=%7Bodd%3D%22yes%22%7D",
    )
    .await;
    let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    let next = body["data"]["groupNextToken"].as_str().unwrap().to_owned();
    assert_eq!(shown(&answer), format!("g01: r1; g03: r3; next {next}"));
    let answer = paged(
        many_groups(8),
        &format!("?group_limit=2&match[]=%7Bodd%3D%22yes%22%7D&group_next_token={next}"),
    )
    .await;
    assert_eq!(shown(&answer), "g05: r5; g07: r7");
}

#[tokio::test]
async fn every_page_together_is_every_group() {
    for limit in 1..=7 {
        let mut seen = Vec::new();
        let mut query = format!("?group_limit={limit}");
        for _ in 0..20 {
            let answer = paged(many_groups(13), &query).await;
            assert_eq!(answer.status, 200, "{answer}");
            let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
            let groups = body["data"]["groups"].as_array().unwrap();
            assert!(groups.len() <= limit);
            seen.extend(
                groups
                    .iter()
                    .map(|g| g["name"].as_str().unwrap().to_owned()),
            );
            match body["data"]["groupNextToken"].as_str() {
                Some(next) => query = format!("?group_limit={limit}&group_next_token={next}"),
                None => break,
            }
        }
        let unpaged = paged(many_groups(13), "").await;
        let body: serde_json::Value = serde_json::from_str(&unpaged.body).unwrap();
        let all: Vec<String> = body["data"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(seen, all, "limit {limit}");
    }
}

#[tokio::test]
async fn bad_parameters_are_refused_as_prometheus_refuses_them() {
    // Near the longest URI the HTTP layer takes (64 KiB).
    let long_name = "x".repeat(60_000);
    let cases: Vec<(String, &str)> = vec![
        (
            "?type=foo".into(),
            r#"invalid parameter \"type\": not supported value \"foo\""#,
        ),
        (
            "?type=%E2%80%8B".into(),
            r#"invalid parameter \"type\": not supported value \"\\u200b\""#,
        ),
        (
            "?type=Al%C4%B0".into(),
            r#"invalid parameter \"type\": not supported value \"ali\""#,
        ),
        (
            "?exclude_alerts=maybe".into(),
            r#"invalid parameter \"exclude_alerts\": error converting exclude_alerts: strconv.ParseBool: parsing \"maybe\": invalid syntax"#,
        ),
        (
            "?exclude_alerts=YES".into(),
            r#"invalid parameter \"exclude_alerts\": error converting exclude_alerts: strconv.ParseBool: parsing \"yes\": invalid syntax"#,
        ),
        (
            "?group_next_token=abc".into(),
            r#"invalid parameter \"group_next_token\": group_limit needs to be present in order to paginate over the groups"#,
        ),
        (
            "?group_limit=abc".into(),
            r#"invalid parameter \"group_limit\": group_limit needs to be a valid number: strconv.ParseInt: parsing \"abc\": invalid syntax"#,
        ),
        (
            "?group_limit=2147483648".into(),
            r#"invalid parameter \"group_limit\": group_limit needs to be a valid number: strconv.ParseInt: parsing \"2147483648\": value out of range"#,
        ),
        (format!("?group_limit={}", "9".repeat(10_000)), ""),
        (
            "?group_limit=0".into(),
            r#"invalid parameter \"group_limit\": group_limit needs to be greater than 0"#,
        ),
        (
            "?group_limit=-5".into(),
            r#"invalid parameter \"group_limit\": group_limit needs to be greater than 0"#,
        ),
        (
            "?group_limit=1&group_next_token=garbage".into(),
            r#"invalid parameter \"group_next_token\": invalid group_next_token 'garbage'. were rule groups changed?"#,
        ),
        (
            "?group_limit=1&group_next_token=%27%3Cscript%3E".into(),
            r#"invalid parameter \"group_next_token\": invalid group_next_token ''\u003cscript\u003e'. were rule groups changed?"#,
        ),
        (format!("?group_limit=1&group_next_token={long_name}"), ""),
        // `match[]`: the parser's error, not wrapped.
        (
            "?match[]=%7B".into(),
            "1:2: parse error: unexpected end of input inside braces",
        ),
        (
            "?match[]=up&match[]=%7Bfoo%3D%22%22%7D".into(),
            "match[] must contain at least one non-empty matcher",
        ),
        ("?match[]=%7Ba%3D~%22(%22%7D".into(), ""),
        // A regex too large to compile.
        (
            "?match[]=%7Ba%3D~%22(a%7B1000%7D)%7B1000%7D%22%7D".into(),
            "",
        ),
        // Go's `ParseForm`: malformed query strings are refused (Prometheus
        // 2.42 ignored them here).
        (
            "?a=%zz".into(),
            r#"error parsing form values: invalid URL escape \"%zz\""#,
        ),
        (
            "?rule_name[]=%".into(),
            r#"error parsing form values: invalid URL escape \"%\""#,
        ),
        (
            "?a=1;b=2".into(),
            "error parsing form values: invalid semicolon separator in query",
        ),
    ];
    for (query, want) in cases {
        let answer = rules(&query).await;
        assert_eq!(
            (answer.status, answer.content_type.as_str()),
            (400, "application/json"),
            "{query:.80}: {answer}"
        );
        let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(body["status"], "error");
        assert_eq!(body["errorType"], "bad_data");
        let error = body["error"].as_str().unwrap();
        if want.is_empty() {
            // Only its start is checked; the rest repeats the input.
            assert!(!error.is_empty(), "{query:.80}");
        } else {
            let want: String = serde_json::from_str(&format!("\"{want}\"")).unwrap();
            assert_eq!(error, want, "{query:.80}");
        }
    }
}

#[tokio::test]
async fn errors_come_in_prometheus_order() {
    // `match[]` is checked first, then `type`, `exclude_alerts`, paging.
    for (query, starts) in [
        ("?type=x&match[]=%7B&group_limit=0", "1:2: parse error"),
        (
            "?type=x&exclude_alerts=x&group_limit=0",
            "invalid parameter \"type\"",
        ),
        (
            "?exclude_alerts=x&group_limit=0",
            "invalid parameter \"exclude_alerts\"",
        ),
        ("?a=%zz&type=x", "error parsing form values"),
    ] {
        let answer = rules(query).await;
        let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        let error = body["error"].as_str().unwrap();
        assert!(error.starts_with(starts), "{query}: {error}");
    }
}

#[tokio::test]
async fn many_parameters_are_answered() {
    // As many `rule_name[]` as a URI holds (64 KiB: the HTTP layer refuses
    // longer ones; the handler's own test takes 10,000), one of them a
    // rule's name.
    let mut query = String::from("?");
    for i in 0..3_000 {
        query.push_str(&format!("rule_name[]=r{i}&"));
    }
    query.push_str("rule_name[]=broken");
    let started = std::time::Instant::now();
    assert_eq!(shown(&rules(&query).await), "example: broken");
    // 1,000 `match[]` sets, none matching.
    let mut query = String::from("?");
    for i in 0..1_000 {
        query.push_str(&format!(
            "match[]={}&",
            enc(&format!("{{severity=\"s{i}\"}}"))
        ));
    }
    assert_eq!(shown(&rules(&query).await), "");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test]
async fn rules_answer_get_only() {
    let answer = send(with_rules(), "POST", "/api/v1/rules", &[], "").await;
    assert_eq!(answer.status, 405);
}
