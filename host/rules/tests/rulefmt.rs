//! `rulefmt` details `check config` and `check rules` print: unknown
//! fields in Go's words (refused, or ignored on request), and promtool's
//! `duplicate-rules` lint with group labels merged under rule labels.

use std::path::Path;

use wasmetheus_rules::rulefmt::{self, ParseOptions};

const EXTENDED: &str = "groups:\n  - name: g\n    owner: team-a\n    rules:\n      - record: x\n        expr: up\n        runbook: http://wiki\n";

#[test]
fn unknown_fields_are_refused_in_go_words_unless_ignored() {
    let errors = rulefmt::parse(EXTENDED, Path::new("x.yml"), &ParseOptions::default())
        .expect_err("unknown fields");
    let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    // Every unknown field, as Go's decoder reports them all (2.42:
    // `yaml: unmarshal errors:` and a line per field, in `RuleNode`).
    assert_eq!(
        texts,
        [
            "x.yml: 3:5: field owner not found in type rulefmt.RuleGroup",
            "x.yml: 7:9: field runbook not found in type rulefmt.Rule"
        ]
    );
    let rule_level = EXTENDED.replace("    owner: team-a\n", "");
    let errors = rulefmt::parse(&rule_level, Path::new("x.yml"), &ParseOptions::default())
        .expect_err("an unknown rule field");
    assert_eq!(
        errors[0].to_string(),
        "x.yml: 6:9: field runbook not found in type rulefmt.Rule"
    );
    let top = "groups: []\nnamespace: x\n";
    let errors = rulefmt::parse(top, Path::new("x.yml"), &ParseOptions::default())
        .expect_err("an unknown top-level field");
    assert!(
        errors[0]
            .to_string()
            .ends_with("field namespace not found in type rulefmt.RuleGroups"),
        "{}",
        errors[0]
    );
    let ignoring = ParseOptions {
        ignore_unknown_fields: true,
    };
    let parsed = rulefmt::parse(EXTENDED, Path::new("x.yml"), &ignoring).expect("ignored");
    assert_eq!(parsed.groups[0].rules[0].record, "x");
}

#[test]
fn duplicate_rules_merge_group_labels() {
    let text = "groups:\n  - name: g\n    labels: {team: a}\n    rules:\n      - record: x\n        expr: up\n      - record: x\n        expr: up\n        labels: {team: a}\n      - record: x\n        expr: up\n        labels: {team: b}\n  - name: h\n    rules:\n      - record: x\n        expr: up\n        labels: {team: a}\n";
    let parsed = rulefmt::parse(text, Path::new("x.yml"), &ParseOptions::default()).expect("loads");
    let duplicates = rulefmt::duplicate_rules(&parsed);
    assert_eq!(
        rulefmt::duplicate_rules_message(&duplicates),
        "1 duplicate rule(s) found.\nMetric: x\nLabel(s):\n\tteam: a\nMight cause inconsistency while recording expressions"
    );
    let unique = text
        .replace("labels: {team: b}", "labels: {team: c}")
        .replace(
            "      - record: x\n        expr: up\n        labels: {team: a}\n",
            "",
        );
    let parsed =
        rulefmt::parse(&unique, Path::new("x.yml"), &ParseOptions::default()).expect("loads");
    assert!(rulefmt::duplicate_rules(&parsed).is_empty());
}

/// `rule_files` patterns into files: each pattern's matches sorted,
/// patterns in order, nothing for a pattern without matches.
#[test]
fn rule_file_patterns_expand_as_go_globs() {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["b.yml", "a.yml", "c.yaml"] {
        std::fs::write(dir.path().join(name), "groups: []\n").expect("write");
    }
    let pattern =
        |p: &str| wasmetheus_config::RuleFilePattern(format!("{}/{p}", dir.path().display()));
    let files =
        wasmetheus_rules::rule_files(&[pattern("*.yml"), pattern("absent.yml"), pattern("c.yaml")])
            .expect("globs");
    let names: Vec<String> = files
        .iter()
        .map(|f| {
            f.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(names, ["a.yml", "b.yml", "c.yaml"]);
    let err = wasmetheus_rules::rule_files(&[pattern("[")]).expect_err("a bad pattern");
    assert!(err.ends_with("syntax error in pattern"), "{err}");
}

/// A key given twice in one mapping is an error in Go's words (promtool
/// 2.42 prints the same after `yaml: unmarshal errors:` and `line N:`).
#[test]
fn repeated_keys_are_errors() {
    for (text, want) in [
        (
            "groups:\n  - name: a\n    name: b\n    rules: []\n",
            "x.yml: 3:5: mapping key \"name\" already defined at line 2",
        ),
        (
            "groups:\n  - name: a\n    rules:\n      - record: x\n        expr: up\n        expr: down\n",
            "x.yml: 6:9: mapping key \"expr\" already defined at line 5",
        ),
    ] {
        let errors = rulefmt::parse(text, Path::new("x.yml"), &ParseOptions::default())
            .expect_err("a repeated key");
        assert_eq!(errors[0].to_string(), want);
    }
}

/// Positions of block, quoted and folded scalars are where Go's YAML puts
/// them (the indicator or the opening quote), as promtool 2.42 prints.
#[test]
fn positions_of_scalar_styles() {
    let text = "groups:\n  - name: a\n    rules:\n      - record: x\n        expr: |\n          sum(\n      - record: \"y\"\n        expr: \"sum(\"\n      - alert: z\n        expr: >-\n          up ==\n";
    let errors = rulefmt::parse(text, Path::new("blk.yml"), &ParseOptions::default())
        .expect_err("bad expressions");
    let positions: Vec<String> = errors
        .iter()
        .map(|e| {
            e.message
                .split(": group")
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(positions, ["5:15", "8:15", "10:15"]);
}

/// Only the first document counts, even when a later one is not YAML; a
/// `---` inside a block scalar is text.
#[test]
fn only_the_first_document_is_read() {
    let text = "---\ngroups:\n  - name: a\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n          d: |\n            ---\n            text\n---\n: [ not yaml\n";
    let parsed = rulefmt::parse(text, Path::new("x.yml"), &ParseOptions::default())
        .expect("the first document");
    assert_eq!(
        parsed.groups[0].rules[0].annotations[0].value,
        "---\ntext\n"
    );
}

/// Unknown fields at every level, in several groups and rules, all
/// reported in file order; a file without any loads.
#[test]
fn every_unknown_field_is_reported() {
    let text = "groups:\n  - name: a\n    rules:\n      - record: x\n        expr: up\n        one: 1\n        two: 2\n  - name: b\n    three: 3\n    rules:\n      - alert: A\n        expr: up\n        four: {nested: [1, 2]}\nfive: 5\n";
    let errors = rulefmt::parse(text, Path::new("f.yml"), &ParseOptions::default())
        .expect_err("unknown fields");
    let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        texts,
        [
            "f.yml: 6:9: field one not found in type rulefmt.Rule",
            "f.yml: 7:9: field two not found in type rulefmt.Rule",
            "f.yml: 9:5: field three not found in type rulefmt.RuleGroup",
            "f.yml: 13:9: field four not found in type rulefmt.Rule",
            "f.yml: 14:1: field five not found in type rulefmt.RuleGroups",
        ]
    );
    let known = "groups:\n  - name: a\n    interval: 1m\n    query_offset: 1s\n    limit: 2\n    labels: {a: b}\n    rules:\n      - record: x\n        expr: up\n        labels: {c: d}\n      - alert: A\n        expr: up\n        for: 1m\n        keep_firing_for: 1m\n        annotations: {s: t}\n";
    let parsed = rulefmt::parse(known, Path::new("f.yml"), &ParseOptions::default())
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(parsed.groups[0].rules.len(), 2);
}
