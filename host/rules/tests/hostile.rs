//! Hostile input: huge rule files (over the size limit: an error, the
//! manager keeps its groups), deeply nested YAML, a rule whose
//! result is far over its group's limit, odd rule names, templates that
//! fail at load. Each gives a result or a clear error, never a panic, in
//! bounded time.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use wasmetheus_model::Label;
use wasmetheus_model::storage::{Matcher, Queryable, SelectHints, Series, VecSampleIterator};
use wasmetheus_promql::engine::Engine;
use wasmetheus_promqltest::MemStore;

use wasmetheus_rules::rulefmt::{self, ParseOptions};
use wasmetheus_rules::{EvalContext, Group, Rule, load_groups};

use common::{HookedStore, SelectHook};

fn parse(text: &str) -> Result<rulefmt::RuleFile, Vec<String>> {
    rulefmt::parse(text, Path::new("f.yml"), &ParseOptions::default())
        .map_err(|e| e.iter().map(ToString::to_string).collect())
}

#[test]
fn ten_thousand_groups_load_quickly() {
    let mut text = String::from("groups:\n");
    for i in 0..10_000 {
        text.push_str(&format!(
            "  - name: g{i}\n    rules:\n      - record: r{i}\n        expr: sum(up{{job=\"{i}\"}})\n"
        ));
    }
    let start = Instant::now();
    let parsed = parse(&text).expect("a large file loads");
    assert_eq!(parsed.groups.len(), 10_000);
    assert!(start.elapsed() < Duration::from_secs(60));
    // Repeated names are all reported.
    let doubled = format!("{text}{}", text.trim_start_matches("groups:\n"));
    let errors = parse(&doubled).expect_err("repeated group names");
    assert_eq!(errors.len(), 10_000);
    assert!(
        errors[0].contains("groupname: \"g0\" is repeated in the same file"),
        "{}",
        errors[0]
    );
}

#[test]
fn deeply_nested_yaml_is_an_error_not_a_crash() {
    for depth in [1_000, 100_000] {
        let text = format!("groups: {}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(parse(&text).is_err());
        let text = format!(
            "groups:\n  - name: {}{}",
            "{a: ".repeat(depth),
            "}".repeat(depth)
        );
        assert!(parse(&text).is_err());
    }
}

#[test]
fn odd_documents_and_values() {
    // Empty file, null groups, null rules: no groups or rules, as Go reads them.
    for text in ["", "groups:", "groups: ~", "# only a comment\n"] {
        assert_eq!(parse(text).expect(text).groups.len(), 0, "{text:?}");
    }
    let parsed = parse("groups:\n  - name: g\n    rules:\n").expect("null rules");
    assert!(parsed.groups[0].rules.is_empty());
    // Not a mapping, wrong types: errors with positions.
    for text in [
        "- a\n- b\n",
        "groups: 3\n",
        "groups:\n  - name: g\n    limit: many\n",
    ] {
        let errors = parse(text).expect_err(text);
        assert!(errors[0].starts_with("f.yml: "), "{errors:?}");
    }
    // A bad `for`.
    let errors = parse(
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: soon\n",
    )
    .expect_err("bad duration");
    assert!(
        errors[0].contains("not a valid duration string"),
        "{errors:?}"
    );
}

/// Rule names with quotes, braces, spaces and non-ASCII letters: alert
/// names may hold anything; recording names with braces are refused.
#[test]
fn odd_rule_names() {
    let errors =
        parse("groups:\n  - name: g\n    rules:\n      - record: 'a{b=\"c\"}'\n        expr: up\n")
            .expect_err("braces");
    assert!(
        errors[0].contains(
            "braces present in the recording rule name; should it be in expr?: a{b=\"c\"}"
        ),
        "{errors:?}"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("r.yml");
    std::fs::write(
        &file,
        "groups:\n  - name: \"g \\\"q\\\" ✓\"\n    rules:\n      - alert: \"Odd \\\"name\\\" ✓ {x}\"\n        expr: vector(1)\n      - record: \"rec.ord ✓\"\n        expr: vector(2)\n",
    )
    .expect("write");
    let mut groups = load_groups(&[file], &Default::default()).expect("odd names load");
    let store = MemStore::new();
    let engine = Engine::default();
    let ctx = EvalContext {
        engine: &engine,
        storage: &store,
        notify: None,
    };
    groups[0].eval(0, &ctx);
    let sets = store.label_sets();
    assert!(sets.contains(&vec![
        Label::new("__name__", "ALERTS"),
        Label::new("alertname", "Odd \"name\" ✓ {x}"),
        Label::new("alertstate", "firing"),
    ]));
    assert!(sets.contains(&vec![Label::new("__name__", "rec.ord ✓")]));
    assert_eq!(groups[0].name(), "g \"q\" ✓");
}

/// A template that does not parse is a load error naming the rule and
/// the annotation.
#[test]
fn bad_templates_fail_at_load() {
    let errors = parse(
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n          x: '{{ .Labels.job'\n",
    )
    .expect_err("a bad template");
    assert!(
        errors[0].starts_with(
            "f.yml: group \"g\", rule 1, \"A\": annotation \"x\": template: __alert_A:"
        ),
        "{errors:?}"
    );
}

/// A store that holds `n` series `m{i="…"}` with one sample at 0,
/// made up when read (the in-memory test store fills slowly at this
/// size), and takes writes into a [`MemStore`].
fn many_series(n: usize) -> HookedStore<impl SelectHook> {
    HookedStore::new(
        move |written: &MemStore, matchers: &[Matcher], hints: &SelectHints| {
            if !matchers
                .iter()
                .any(|m| m.name == "__name__" && m.matches("m"))
            {
                return written.select_series(matchers, hints);
            }
            Ok((0..n)
                .map(|i| Series {
                    labels: vec![Label::new("__name__", "m"), Label::new("i", i.to_string())],
                    samples: Box::new(VecSampleIterator::new(vec![(0, 1.0)])),
                })
                .collect())
        },
    )
}

/// A rule whose result is far over the limit: an error, nothing written,
/// the alert state dropped, in bounded time. (200,000 results keep this
/// debug-build test to seconds; the work is linear in the result.)
#[test]
fn a_huge_result_over_the_limit_writes_nothing() {
    const SERIES: usize = 200_000;
    let store = many_series(SERIES);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("r.yml");
    std::fs::write(
        &file,
        "groups:\n  - name: g\n    limit: 10\n    rules:\n      - record: r\n        expr: m\n      - alert: A\n        expr: m\n",
    )
    .expect("write");
    let mut groups: Vec<Group> = load_groups(&[file], &Default::default()).expect("loads");
    let engine = Engine::default();
    let ctx = EvalContext {
        engine: &engine,
        storage: &store,
        notify: None,
    };
    let start = Instant::now();
    groups[0].eval(0, &ctx);
    assert!(start.elapsed() < Duration::from_secs(120));
    assert!(store.inner.label_sets().is_empty());
    let rules = groups[0].rules();
    assert_eq!(
        rules[0].last_error(),
        Some(format!("exceeded limit of 10 with {SERIES} series").as_str())
    );
    assert_eq!(
        rules[1].last_error(),
        Some(format!("exceeded limit of 10 with {SERIES} alerts").as_str())
    );
    let Rule::Alerting(alert) = &rules[1] else {
        panic!("an alerting rule");
    };
    assert!(alert.active_alerts().is_empty());
}

/// Scalars Go reads into strings: numbers and booleans as label values
/// and expressions, `null` values as empty.
#[test]
fn scalars_read_as_go_reads_them() {
    let parsed = parse(
        "groups:\n  - name: 1\n    labels: {a: 1, b: true, c: ~, d: }\n    rules:\n      - record: r\n        expr: 1\n        labels: {x: 2.5}\n",
    )
    .expect("scalars as strings");
    let g = &parsed.groups[0];
    assert_eq!(g.name, "1");
    let labels: Vec<(&str, &str)> = g
        .labels
        .iter()
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect();
    assert_eq!(labels, [("a", "1"), ("b", "true"), ("c", ""), ("d", "")]);
    assert_eq!(g.rules[0].expr, "1");
    assert_eq!(g.rules[0].labels[0].value, "2.5");
}

/// Every problem of a file at once, in upstream's order and words, with
/// its positions. Debian's promtool 2.42 prints the same lines for this
/// file except where 3.x differs: `0:0: 0:0:` for a rule without
/// `record` and `alert` (3.x reports both nodes), and the braces check
/// where 2.42 refused the name as a legacy metric name.
#[test]
fn every_problem_is_reported_as_upstream() {
    let text = "groups:\n  - name: g\n    rules:\n      - record: a\n        alert: b\n        expr: up\n      - expr: up\n      - record: c\n      - record: \"d{x}\"\n        expr: sum(\n        annotations: {a: b}\n        for: 1m\n  - name: g\n    rules:\n      - alert: T\n        expr: up\n        labels: {__name__: y}\n        annotations: {s: \"{{ $label.x }}\"}\n  - name: \"\"\n    rules: []\n";
    let errors = parse(text).expect_err("a bad file");
    expect_test::expect![[r#"
        f.yml: 4:17: 5:16: group "g", rule 1, "b": only one of 'record' and 'alert' must be set
        f.yml: 0:0: 0:0: group "g", rule 2, "": one of 'record' or 'alert' must be set
        f.yml: 0:0: group "g", rule 3, "c": field 'expr' must be set in rule
        f.yml: 10:15: group "g", rule 4, "d{x}": could not parse expression: 1:5: parse error: unclosed left parenthesis
        f.yml: 9:17: group "g", rule 4, "d{x}": invalid field 'annotations' in recording rule
        f.yml: 9:17: group "g", rule 4, "d{x}": invalid field 'for' in recording rule
        f.yml: 9:17: group "g", rule 4, "d{x}": braces present in the recording rule name; should it be in expr?: d{x}
        f.yml: 13:5: groupname: "g" is repeated in the same file
        f.yml: group "g", rule 1, "T": invalid label name: __name__
        f.yml: group "g", rule 1, "T": annotation "s": template: __alert_T:1: undefined variable "$label"
        f.yml: 19:5: Groupname must not be empty"#]].assert_eq(&errors.join("\n"));
}

/// A rule file over the size limit is an error naming the file and the
/// limit, read no further than the limit; the manager keeps its groups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_over_large_rule_file_is_an_error_and_the_old_groups_stay() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rules.yml");
    let small = "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: vector(1)\n";
    std::fs::write(&path, small).expect("writes");
    let store = std::sync::Arc::new(MemStore::new());
    let manager = wasmetheus_rules::Manager::new(wasmetheus_rules::ManagerOptions::new(
        std::sync::Arc::new(Engine::default()),
        store,
    ));
    manager
        .update(
            std::slice::from_ref(&path),
            Duration::from_secs(60),
            Vec::new(),
            "",
        )
        .expect("the small file loads");
    // A valid file (a comment after the rules) one byte over the limit.
    let limit = rulefmt::MAX_RULE_FILE_BYTES as usize;
    let mut file = std::fs::File::create(&path).expect("creates");
    file.write_all(small.as_bytes()).expect("writes");
    let mut padding = vec![b' '; limit + 1 - small.len()];
    padding[0] = b'#';
    file.write_all(&padding).expect("writes");
    drop(file);
    let started = Instant::now();
    let errors = rulefmt::parse_file(&path, &ParseOptions::default()).expect_err("too large");
    let text = errors[0].to_string();
    assert!(
        text.contains(&path.display().to_string()) && text.contains("32MiB"),
        "{text}"
    );
    let error = manager
        .update(
            std::slice::from_ref(&path),
            Duration::from_secs(60),
            Vec::new(),
            "",
        )
        .expect_err("too large");
    assert!(error.to_string().contains("larger than 32MiB"), "{error}");
    assert_eq!(manager.groups().len(), 1, "the old group stays");
    assert_eq!(manager.groups()[0].rules[0].query(), "vector(1)");
    assert!(started.elapsed() < Duration::from_secs(10));
    // At the limit the file loads.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("opens");
    file.set_len(limit as u64).expect("truncates");
    rulefmt::parse_file(&path, &ParseOptions::default()).expect("at the limit");
    manager.stop();
}
