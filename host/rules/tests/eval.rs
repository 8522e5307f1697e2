//! Group evaluation, data-driven: each case is a rule file, input series
//! in the scripted tests' notation (one value per minute from 0), and the
//! times to evaluate at; the transcript (per evaluation: each rule's
//! health and error, each alert's state; then every series the rules
//! wrote, stale markers included) is compared with the case's snapshot.

use std::fmt::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use expect_test::{Expect, expect};
use wasmetheus_model::Label;
use wasmetheus_model::storage::{Storage, is_stale_marker};
use wasmetheus_promql::engine::Engine;
use wasmetheus_promqltest::MemStore;
use wasmetheus_promqltest::series::parse_series;
use wasmetheus_rules::{Alert, EvalContext, LoadOptions, NotifyFunc, Rule, load_groups};

const MINUTE: i64 = 60_000;

fn labels_text(labels: &[Label]) -> String {
    let (name, rest): (Vec<&Label>, Vec<&Label>) =
        labels.iter().partition(|l| l.name == "__name__");
    let inner: Vec<String> = rest
        .iter()
        .map(|l| format!("{}={:?}", l.name, l.value))
        .collect();
    format!(
        "{}{{{}}}",
        name.first().map_or("", |l| l.value.as_str()),
        inner.join(",")
    )
}

fn alert_text(a: &Alert) -> String {
    let annotations: Vec<String> = a
        .annotations
        .iter()
        .map(|l| format!("{}={:?}", l.name, l.value))
        .collect();
    format!(
        "{} {} value={} active={}m fired={:?} resolved={:?}{}",
        labels_text(&a.labels),
        a.state.as_str(),
        a.value,
        a.active_at_ms / MINUTE,
        a.fired_at_ms.map(|t| t / MINUTE),
        a.resolved_at_ms.map(|t| t / MINUTE),
        if annotations.is_empty() {
            String::new()
        } else {
            format!(" annotations={}", annotations.join(","))
        }
    )
}

/// Runs one case: the transcript.
fn run(rules: &str, input: &[&str], evals: &[i64]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let file: PathBuf = dir.path().join("rules.yml");
    std::fs::write(&file, rules).expect("writing rules");
    let mut groups = load_groups(&[file], &LoadOptions::default()).expect("rules load");
    let store = MemStore::new();
    {
        let mut app = store.appender();
        for line in input {
            let series = parse_series(line).expect("series notation");
            for (i, v) in series.values.iter().enumerate() {
                if let Some(wasmetheus_promql::value::SampleValue::Float(v)) = v {
                    app.append(&series.labels, i as i64 * MINUTE, *v)
                        .expect("append");
                }
            }
        }
        app.commit().expect("commit");
    }
    let input_sets = store.label_sets();
    let engine = Engine::default();
    let sent: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = sent.clone();
    let notify: NotifyFunc = Arc::new(move |ts, expr, alerts| {
        for a in alerts {
            sink.lock().unwrap().push(format!(
                "  sent@{}m {expr}: {} {} valid_until={:?} ends_at={:?}",
                ts / MINUTE,
                labels_text(&a.labels),
                a.state.as_str(),
                a.valid_until_ms.map(|t| t / MINUTE),
                a.ends_at_ms().map(|t| t / MINUTE)
            ));
        }
    });
    let ctx = EvalContext {
        engine: &engine,
        storage: &store,
        notify: Some(&notify),
    };
    let mut out = String::new();
    for &minute in evals {
        let ts = minute * MINUTE;
        let _ = writeln!(out, "@{minute}m");
        for group in &mut groups {
            group.eval(ts, &ctx);
            for rule in group.rules() {
                let _ = write!(out, "  {} {}", rule.name(), rule.health().as_str());
                if let Some(e) = rule.last_error() {
                    let _ = write!(out, " {e}");
                }
                let _ = writeln!(out);
                if let Rule::Alerting(a) = rule {
                    for alert in a.current_alerts() {
                        let _ = writeln!(out, "    {}", alert_text(&alert));
                    }
                }
            }
        }
        for line in sent.lock().unwrap().drain(..) {
            let _ = writeln!(out, "{line}");
        }
    }
    let _ = writeln!(out, "written:");
    for labels in store.label_sets() {
        if input_sets.contains(&labels) {
            continue;
        }
        let data = store.get(&labels).expect("series");
        let values: Vec<String> = data
            .floats
            .iter()
            .map(|&(t, v)| {
                let v = if is_stale_marker(v) {
                    "stale".to_owned()
                } else {
                    v.to_string()
                };
                format!("{}m:{v}", t / MINUTE)
            })
            .collect();
        let _ = writeln!(out, "  {} {}", labels_text(&labels), values.join(" "));
    }
    out
}

fn check(rules: &str, input: &[&str], evals: &[i64], expect: Expect) {
    expect.assert_eq(&run(rules, input, evals));
}

/// A recording rule renames, adds its labels, and the next rule of the
/// group sees what it recorded at the same evaluation; a series that
/// vanishes gets a stale marker.
#[test]
fn recording_rules_chain_and_go_stale() {
    check(
        r#"
groups:
  - name: g
    labels: {team: a}
    rules:
      - record: job:m:double
        expr: m * 2
        labels: {team: b, x: y}
      - record: job:m:quad
        expr: job:m:double * 2
"#,
        &["m{job=\"a\"} 1 2 _ _ _ _ _ _ _", "m{job=\"b\"} 10 20 30"],
        &[0, 1, 2, 8],
        expect![[r#"
            @0m
              job:m:double ok
              job:m:quad ok
            @1m
              job:m:double ok
              job:m:quad ok
            @2m
              job:m:double ok
              job:m:quad ok
            @8m
              job:m:double ok
              job:m:quad ok
            written:
              job:m:double{job="a",team="b",x="y"} 0m:2 1m:4 2m:4 8m:stale
              job:m:double{job="b",team="b",x="y"} 0m:20 1m:40 2m:60 8m:stale
              job:m:quad{job="a",team="a",x="y"} 0m:4 1m:8 2m:8 8m:stale
              job:m:quad{job="b",team="a",x="y"} 0m:40 1m:80 2m:120 8m:stale
        "#]],
    );
}

/// Two results that become one series after the rule's labels: an error,
/// nothing written; over the limit: an error, nothing written.
#[test]
fn recording_rule_errors_write_nothing() {
    check(
        r#"
groups:
  - name: dup
    rules:
      - record: r
        expr: m
        labels: {job: same}
  - name: limited
    limit: 1
    rules:
      - record: r2
        expr: m
"#,
        &["m{job=\"a\"} 1", "m{job=\"b\"} 2"],
        &[0],
        expect![[r#"
            @0m
              r err vector contains metrics with the same labelset after applying rule labels
              r2 err exceeded limit of 1 with 2 series
            written:
        "#]],
    );
}

/// pending → firing after `for`, resolved when the result vanishes; ALERTS
/// and ALERTS_FOR_STATE written while pending or firing, then stale; the
/// notify callback hears firing and resolved alerts.
#[test]
fn alert_goes_pending_firing_resolved() {
    check(
        r#"
groups:
  - name: g
    rules:
      - alert: Down
        expr: up == 0
        for: 2m
        labels: {severity: page}
        annotations:
          summary: "{{ $labels.job }} is down ({{ $value }})"
"#,
        &["up{job=\"a\"} 0 0 0 0 1 1"],
        &[0, 1, 2, 3, 4, 5],
        expect![[r#"
            @0m
              Down ok
                {alertname="Down",job="a",severity="page"} pending value=0 active=0m fired=None resolved=None annotations=summary="a is down (0)"
            @1m
              Down ok
                {alertname="Down",job="a",severity="page"} pending value=0 active=0m fired=None resolved=None annotations=summary="a is down (0)"
            @2m
              Down ok
                {alertname="Down",job="a",severity="page"} firing value=0 active=0m fired=Some(2) resolved=None annotations=summary="a is down (0)"
              sent@2m up == 0: {alertname="Down",job="a",severity="page"} firing valid_until=Some(6) ends_at=Some(6)
            @3m
              Down ok
                {alertname="Down",job="a",severity="page"} firing value=0 active=0m fired=Some(2) resolved=None annotations=summary="a is down (0)"
            @4m
              Down ok
                {alertname="Down",job="a",severity="page"} inactive value=0 active=0m fired=Some(2) resolved=Some(4) annotations=summary="a is down (0)"
              sent@4m up == 0: {alertname="Down",job="a",severity="page"} inactive valid_until=Some(8) ends_at=Some(4)
            @5m
              Down ok
                {alertname="Down",job="a",severity="page"} inactive value=0 active=0m fired=Some(2) resolved=Some(4) annotations=summary="a is down (0)"
            written:
              ALERTS{alertname="Down",alertstate="firing",job="a",severity="page"} 2m:1 3m:1 4m:stale
              ALERTS{alertname="Down",alertstate="pending",job="a",severity="page"} 0m:1 1m:1 2m:stale
              ALERTS_FOR_STATE{alertname="Down",job="a",severity="page"} 0m:0 1m:0 2m:0 3m:0 4m:stale
        "#]],
    );
}

/// `keep_firing_for` keeps a firing alert firing after its result is
/// gone, then it resolves.
#[test]
fn keep_firing_for_holds_a_firing_alert() {
    check(
        r#"
groups:
  - name: g
    rules:
      - alert: Hot
        expr: t > 10
        keep_firing_for: 2m
"#,
        &["t 20 20 0 0 0 0"],
        &[0, 1, 2, 3, 4, 5],
        expect![[r#"
            @0m
              Hot ok
                {alertname="Hot"} firing value=20 active=0m fired=Some(0) resolved=None
              sent@0m t > 10: {alertname="Hot"} firing valid_until=Some(4) ends_at=Some(4)
            @1m
              Hot ok
                {alertname="Hot"} firing value=20 active=0m fired=Some(0) resolved=None
            @2m
              Hot ok
                {alertname="Hot"} firing value=20 active=0m fired=Some(0) resolved=None
              sent@2m t > 10: {alertname="Hot"} firing valid_until=Some(6) ends_at=Some(6)
            @3m
              Hot ok
                {alertname="Hot"} firing value=20 active=0m fired=Some(0) resolved=None
            @4m
              Hot ok
                {alertname="Hot"} inactive value=20 active=0m fired=Some(0) resolved=Some(4)
              sent@4m t > 10: {alertname="Hot"} inactive valid_until=Some(8) ends_at=Some(4)
            @5m
              Hot ok
                {alertname="Hot"} inactive value=20 active=0m fired=Some(0) resolved=Some(4)
            written:
              ALERTS{alertname="Hot",alertstate="firing"} 0m:1 1m:1 2m:1 3m:1 4m:stale
              ALERTS_FOR_STATE{alertname="Hot"} 0m:0 1m:0 2m:0 3m:0 4m:stale
        "#]],
    );
}

/// Alert labels that collide after the rule's labels, and a template that
/// fails (the text says so; the alert still fires).
#[test]
fn alert_label_collisions_and_template_errors() {
    check(
        r#"
groups:
  - name: g
    rules:
      - alert: Collide
        expr: m
        labels: {job: x}
      - alert: BadTemplate
        expr: m{job="a"}
        annotations:
          a: '{{ query "nope(" }}'
"#,
        &["m{job=\"a\"} 1", "m{job=\"b\"} 1"],
        &[0],
        expect![[r#"
            @0m
              Collide err vector contains metrics with the same labelset after applying alert labels
              BadTemplate ok
                {alertname="BadTemplate",job="a"} firing value=1 active=0m fired=Some(0) resolved=None annotations=a="<error expanding template: error executing template __alert_BadTemplate: template: __alert_BadTemplate:1:115: executing \"__alert_BadTemplate\" at <query \"nope(\">: error calling query: 1:6: parse error: unclosed left parenthesis>"
              sent@0m m{job="a"}: {alertname="BadTemplate",job="a"} firing valid_until=Some(4) ends_at=Some(4)
            written:
              ALERTS{alertname="BadTemplate",alertstate="firing",job="a"} 0m:1
              ALERTS_FOR_STATE{alertname="BadTemplate",job="a"} 0m:0
        "#]],
    );
}

/// `query_offset` shifts the query time and the written timestamps.
#[test]
fn query_offset_shifts_the_query() {
    check(
        r#"
groups:
  - name: g
    query_offset: 1m
    rules:
      - record: r
        expr: m
"#,
        &["m 1 2 3"],
        &[1, 2],
        expect![[r#"
            @1m
              r ok
            @2m
              r ok
            written:
              r{} 0m:1 1m:2
        "#]],
    );
}

/// A changed group takes over the old one's state (Prometheus'
/// `CopyState`): a kept rule's alert keeps its start, and the series of a
/// rule that went away are marked stale at the new group's next
/// evaluation.
#[test]
fn a_changed_group_copies_state_and_stales_removed_rules() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file: PathBuf = dir.path().join("rules.yml");
    let v1 = "groups:\n  - name: g\n    rules:\n      - record: gone\n        expr: vector(1)\n      - alert: Kept\n        expr: vector(1)\n        for: 10m\n";
    std::fs::write(&file, v1).expect("write");
    let mut old = load_groups(std::slice::from_ref(&file), &LoadOptions::default()).expect("v1");
    let store = MemStore::new();
    let engine = Engine::default();
    let ctx = EvalContext {
        engine: &engine,
        storage: &store,
        notify: None,
    };
    old[0].eval(0, &ctx);
    let v2 = v1.replace("      - record: gone\n        expr: vector(1)\n", "");
    std::fs::write(&file, v2).expect("write");
    let mut new = load_groups(std::slice::from_ref(&file), &LoadOptions::default()).expect("v2");
    assert!(!new[0].same_definition(&old[0]));
    new[0].copy_state(&old[0]);
    new[0].eval(MINUTE, &ctx);
    let Rule::Alerting(kept) = &new[0].rules()[0] else {
        panic!("an alerting rule");
    };
    assert_eq!(kept.active_alerts()[0].active_at_ms, 0);
    let gone = store
        .get(&[Label::new("__name__", "gone")])
        .expect("the removed rule's series");
    let last = gone.floats.last().copied().expect("samples");
    assert_eq!(last.0, MINUTE);
    assert!(is_stale_marker(last.1));
    // An unchanged reload is the same group.
    let again = load_groups(std::slice::from_ref(&file), &LoadOptions::default()).expect("v2");
    assert!(again[0].same_definition(&new[0]));
}
