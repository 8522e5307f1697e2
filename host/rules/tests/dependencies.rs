//! Which rules of a group read which others (Prometheus' `dependencyMap`,
//! the cases of upstream's `TestDependencyMap`, `TestNoDependency`,
//! `TestDependenciesEdgeCases` and the fixtures `rules/manager_test.go`
//! loads), and the batches concurrent evaluation runs them in.
//!
//! Each case lists, per rule, the rules it reads (`None` for a group whose
//! relations cannot be known) and the batches. Where our batches differ
//! from Prometheus 3.14's `SplitGroupIntoBatches` (which puts every rule
//! without dependencies first, then the others), the case says so: ours
//! are runs of consecutive rules, so a rule reading one defined after it
//! still sees that rule's previous value, as in order.

#![allow(
    clippy::single_range_in_vec_init,
    reason = "a group's batches are a list of ranges, some of one"
)]

use std::ops::Range;
use std::path::{Path, PathBuf};

use wasmetheus_rules::{ConcurrencyLimit, DependencyMap, Group, LoadOptions, load_groups};

fn corpus() -> PathBuf {
    let base = std::env::var_os("WASMETHEUS_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        });
    let fixtures = base.join("rules/fixtures");
    assert!(
        fixtures.is_dir(),
        "the conformance corpus is missing: no {}. Set WASMETHEUS_CONFORMANCE to the \
         directory that holds rules/",
        fixtures.display()
    );
    fixtures
}

/// The groups of a rule file's text.
fn groups_of(text: &str) -> Vec<Group> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rules.yml");
    std::fs::write(&path, text).expect("writing the rule file");
    load_groups(&[path], &LoadOptions::default()).expect("the rules load")
}

/// One group of the given rules (YAML list items, indented by six).
fn group_of(rules: &str) -> Group {
    let text = format!("groups:\n  - name: g\n    rules:\n{rules}");
    groups_of(&text).remove(0)
}

/// What a group's relations must be: per rule, the rules it reads
/// (`None`: cannot be known), and the batches.
struct Case {
    name: &'static str,
    rules: &'static str,
    dependencies: Option<&'static [&'static [usize]]>,
    batches: &'static [Range<usize>],
}

fn check(name: &str, group: &mut Group, want: Option<&[&[usize]]>, batches: &[Range<usize>]) {
    let map = DependencyMap::build(group.rules());
    match (&map, want) {
        (None, None) => {}
        (Some(map), Some(want)) => {
            assert_eq!(map.len(), want.len(), "{name}: rules");
            for (i, deps) in want.iter().enumerate() {
                assert_eq!(
                    map.dependencies(i),
                    *deps,
                    "{name}: dependencies of rule {i}"
                );
                // The dependents are the same relation, the other way.
                let dependents: Vec<usize> =
                    (0..want.len()).filter(|&j| want[j].contains(&i)).collect();
                assert_eq!(
                    map.dependents(i),
                    dependents,
                    "{name}: dependents of rule {i}"
                );
                assert_eq!(
                    map.is_independent(i),
                    deps.is_empty() && dependents.is_empty(),
                    "{name}: rule {i} independent"
                );
            }
        }
        (map, want) => panic!("{name}: got {map:?}, want {want:?}"),
    }
    group.set_concurrency(Some(ConcurrencyLimit::new(4)));
    assert_eq!(group.batches(), Some(batches), "{name}: batches");
    group.set_concurrency(None);
    assert_eq!(group.batches(), None, "{name}: sequential");
}

const CASES: &[Case] = &[
    Case {
        // TestDependencyMap: a rule read by a recording and an alerting
        // rule, a rule read by an alerting rule.
        name: "dependency map",
        rules: r#"      - record: user:requests:rate1m
        expr: sum by (user) (rate(requests[1m]))
      - record: user:requests:increase1h
        expr: user:requests:rate1m{status="500"} * 3600
      - record: user:requests:rate5m
        expr: sum by (user) (rate(requests[5m]))
      - alert: ZeroRequests1m
        expr: user:requests:rate1m <= 0
      - alert: ZeroRequests5m
        expr: user:requests:rate5m <= 0
"#,
        dependencies: Some(&[&[], &[0], &[], &[0], &[2]]),
        // Upstream: {0, 2}, then {1, 3, 4}.
        batches: &[0..1, 1..4, 4..5],
    },
    Case {
        // TestNoDependency: one rule has no relations.
        name: "one rule",
        rules: "      - record: user:requests:rate1m\n        expr: sum by (user) (rate(requests[1m]))\n",
        dependencies: Some(&[&[]]),
        batches: &[0..1],
    },
    Case {
        name: "rules which reference no series",
        rules: "      - record: \"1\"\n        expr: one\n      - record: \"2\"\n        expr: two\n",
        dependencies: Some(&[&[], &[]]),
        batches: &[0..2],
    },
    Case {
        // A name regex is matched against the rules' names.
        name: "regexp matcher on the metric name",
        rules: r#"      - record: first
        expr: sum(requests)
      - record: second
        expr: sum({__name__=~"fir.*"})
"#,
        dependencies: Some(&[&[], &[0]]),
        batches: &[0..1, 1..2],
    },
    Case {
        // `.+`, `!=` and `!~` name matchers also match `ALERTS`, and
        // without an `alertname` matcher which alerts cannot be known.
        name: "regexp matcher matching every name",
        rules: r#"      - record: first
        expr: sum(requests)
      - record: second
        expr: sum({__name__=~".+"})
"#,
        dependencies: None,
        batches: &[0..1, 1..2],
    },
    Case {
        name: "not-equal matcher on the metric name",
        rules: r#"      - record: first
        expr: sum(requests)
      - record: second
        expr: sum({__name__!="requests", service="app"})
"#,
        dependencies: None,
        batches: &[0..1, 1..2],
    },
    Case {
        name: "not-regexp matcher on the metric name",
        rules: r#"      - record: first
        expr: sum(requests)
      - record: second
        expr: sum({__name__!~"requests.+", service="app"})
"#,
        dependencies: None,
        batches: &[0..1, 1..2],
    },
    Case {
        // With an `alertname` matcher the alerts read are known; the name
        // matcher still reads `first`.
        name: "not-equal matcher on the metric name with alertname",
        rules: r#"      - record: first
        expr: sum(requests)
      - record: second
        expr: sum({__name__!="requests", alertname="Nope"})
"#,
        dependencies: Some(&[&[], &[0]]),
        batches: &[0..1, 1..2],
    },
    Case {
        name: "a name matcher that matches no rule",
        rules: r#"      - record: first
        expr: sum(requests)
      - record: second
        expr: sum({__name__=~"requests.+"})
"#,
        dependencies: Some(&[&[], &[]]),
        batches: &[0..2],
    },
    Case {
        // A selector without a metric name could read any rule.
        name: "selector without a metric name",
        rules: r#"      - record: first
        expr: sum(requests)
      - record: matcher
        expr: '{job="job1"}'
"#,
        dependencies: None,
        batches: &[0..1, 1..2],
    },
    Case {
        name: "ALERTS without alertname",
        rules: r#"      - record: first
        expr: sum(requests)
      - record: alerts
        expr: sum(ALERTS)
"#,
        dependencies: None,
        batches: &[0..1, 1..2],
    },
    Case {
        name: "ALERTS_FOR_STATE without alertname",
        rules: r#"      - record: first
        expr: sum(requests)
      - record: alerts
        expr: sum(ALERTS_FOR_STATE)
"#,
        dependencies: None,
        batches: &[0..1, 1..2],
    },
    Case {
        // `ALERTS{alertname=…}` reads the alerting rules it names, not a
        // recording rule of that name, nor alerts of other groups.
        name: "ALERTS with alertname",
        rules: r#"      - alert: Down
        expr: up == 0
      - record: Up
        expr: up == 1
      - record: down_count
        expr: count(ALERTS{alertname="Down"})
      - record: up_count
        expr: count(ALERTS_FOR_STATE{alertname="Up"})
      - record: elsewhere
        expr: count(ALERTS{alertname=~"Other|Another"})
      - record: any_down
        expr: count(ALERTS{alertname=~"Do.*"})
"#,
        dependencies: Some(&[&[], &[], &[0], &[], &[], &[0]]),
        batches: &[0..2, 2..6],
    },
    Case {
        // Selectors in ranges, subqueries, function arguments and
        // aggregation parameters count.
        name: "selectors everywhere",
        rules: r#"      - record: a
        expr: vector(1)
      - record: b
        expr: vector(2)
      - record: c
        expr: vector(3)
      - record: d
        expr: vector(4)
      - record: ranged
        expr: rate(a[5m])
      - record: subquery
        expr: max_over_time((b * 2)[5m:1m])
      - record: argument
        expr: clamp_max(up, scalar(c))
      - record: parameter
        expr: topk(scalar(d), up)
"#,
        dependencies: Some(&[&[], &[], &[], &[], &[0], &[1], &[2], &[3]]),
        batches: &[0..4, 4..8],
    },
    Case {
        // A rule reading one defined after it sees that rule's previous
        // value in order; the batches keep it so (upstream would run the
        // later rule first, it has no dependencies).
        name: "reading a later rule",
        rules: r#"      - record: reads_later
        expr: later + 1
      - record: later
        expr: vector(5)
"#,
        dependencies: Some(&[&[1], &[]]),
        batches: &[0..1, 1..2],
    },
    Case {
        // A rule reading its own output is no relation.
        name: "reading itself",
        rules: r#"      - record: x
        expr: x + 1
      - record: y
        expr: vector(1)
"#,
        dependencies: Some(&[&[], &[]]),
        batches: &[0..2],
    },
    Case {
        // Two rules writing the same name stay in order (which of their
        // samples a series keeps is decided by it).
        name: "same name",
        rules: r#"      - record: x
        expr: vector(1)
      - record: x
        expr: vector(2)
"#,
        dependencies: Some(&[&[], &[]]),
        batches: &[0..1, 1..2],
    },
    Case {
        // Queries in templates are not looked at.
        name: "queries in templates",
        rules: r#"      - record: first
        expr: vector(1)
      - alert: Templated
        expr: vector(1)
        annotations:
          all: '{{ query "ALERTS" }}{{ query "{job=\"x\"}" }}'
"#,
        dependencies: Some(&[&[], &[]]),
        batches: &[0..2],
    },
];

#[test]
fn dependency_cases() {
    for case in CASES {
        let mut group = group_of(case.rules);
        check(case.name, &mut group, case.dependencies, case.batches);
    }
}

/// A group without rules has no relations and no batches.
#[test]
fn empty_group() {
    let map = DependencyMap::build(&[]).expect("known");
    assert!(map.is_empty());
    assert!(map.is_independent(0), "a rule not in the group");
    assert!(map.batches().is_empty());
    // Lists of different lengths are no group.
    let names = vec!["a".to_owned()];
    assert!(DependencyMap::from_parts(&names, &[], &["a", "b"]).is_none());
}

/// The fixtures of upstream's rule manager tests, per group.
#[test]
fn upstream_fixtures() {
    type Want = (
        &'static str,
        &'static [(Option<&'static [&'static [usize]]>, &'static [Range<usize>])],
    );
    let fixtures: &[Want] = &[
        (
            "rules_dependencies.yaml",
            &[(Some(&[&[], &[0]]), &[0..1, 1..2])],
        ),
        (
            // Upstream: {0, 1, 2, 4}, then {3, 5}.
            "rules_multiple.yaml",
            &[(Some(&[&[], &[], &[], &[2], &[], &[4]]), &[0..3, 3..5, 5..6])],
        ),
        (
            "rules_multiple_independent.yaml",
            &[(Some(&[&[], &[], &[], &[], &[], &[], &[], &[]]), &[0..8])],
        ),
        (
            "rules_indeterminates.yaml",
            &[(None, &[0..1, 1..2, 2..3, 3..4, 4..5, 5..6, 6..7])],
        ),
        (
            // As upstream's: {0, 1}, {2}, {3, 4}, {5, 6}.
            "rules_chain.yaml",
            &[(
                Some(&[&[], &[], &[0], &[2], &[2], &[3], &[3]]),
                &[0..2, 2..3, 3..5, 5..7],
            )],
        ),
        (
            // Upstream: {0, 4}, then {1, 2, 3, 5, 6, 7}.
            "rules_multiple_dependents_on_base.yaml",
            &[(
                Some(&[&[], &[0], &[0], &[0], &[], &[4], &[4], &[4]]),
                &[0..1, 1..5, 5..8],
            )],
        ),
        (
            "rules_multiple_groups.yaml",
            &[
                (Some(&[&[], &[], &[], &[], &[3]]), &[0..4, 4..5]),
                (Some(&[&[], &[], &[], &[], &[3]]), &[0..4, 4..5]),
            ],
        ),
    ];
    let dir = corpus();
    for (file, want) in fixtures {
        let mut groups = load_groups(&[dir.join(file)], &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(groups.len(), want.len(), "{file}: groups");
        for (group, (deps, batches)) in groups.iter_mut().zip(want.iter()) {
            let name = format!("{file} {}", group.name());
            check(&name, group, *deps, batches);
        }
    }
}

/// Large groups: thousands of rules reading their own metrics are mapped
/// quickly (one batch); thousands of rules whose name regexes match each
/// other stop the analysis early (run in order) instead of holding
/// millions of relations.
#[test]
fn large_groups_are_analysed_in_bounded_time_and_memory() {
    let started = std::time::Instant::now();
    let n = 20_000;
    let names: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
    let alerting = vec![false; n];
    let own: Vec<String> = (0..n).map(|i| format!("sum(m{i})")).collect();
    let queries: Vec<&str> = own.iter().map(String::as_str).collect();
    let map = DependencyMap::from_parts(&names, &alerting, &queries).expect("known");
    assert_eq!(map.batches(), vec![0..n]);
    let regexes: Vec<String> = (0..n)
        .map(|_| r#"sum({__name__=~"r.*", alertname="x"})"#.to_owned())
        .collect();
    let queries: Vec<&str> = regexes.iter().map(String::as_str).collect();
    assert!(DependencyMap::from_parts(&names, &alerting, &queries).is_none());
    // Under the limits a regex reading every other rule is mapped.
    let few = 500;
    let queries: Vec<&str> = queries[..few].to_vec();
    let map = DependencyMap::from_parts(&names[..few], &alerting[..few], &queries)
        .expect("within the limits");
    assert_eq!(map.dependents(0).len(), few - 1);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}
