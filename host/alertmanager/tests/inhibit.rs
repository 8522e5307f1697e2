//! The inhibitor, with upstream's cases (`inhibit/inhibit_test.go`).

mod common;

use std::collections::BTreeMap;

use common::{MockClock, labels, min};
use jiff::Timestamp;
use wasmetheus_alertmanager::{Alert, Inhibitor, Labels};
use wasmetheus_alertmanager_config::{InhibitRule, parse_matchers};

fn alert(l: &[(&str, &str)], start: Timestamp, end: Timestamp) -> Alert {
    let mut a = Alert::new(labels(l));
    a.starts_at = Some(start);
    a.ends_at = Some(end);
    a
}

fn old_rule(source: (&str, &str), target: (&str, &str), equal: &[&str]) -> InhibitRule {
    InhibitRule {
        source_match: BTreeMap::from([(source.0.to_string(), source.1.to_string())]),
        target_match: BTreeMap::from([(target.0.to_string(), target.1.to_string())]),
        equal: equal.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

/// `TestInhibitRuleHasEqual`, through a rule whose source side is a
/// `src="1"` label added to every source alert and whose target side
/// matches every input (so no two-sided exclusion applies, as upstream
/// calls `hasEqual(input, false)`).
#[test]
fn has_equal() {
    let now = MockClock::start().now();
    let past = now - min(1);
    let gone = now - jiff::SignedDuration::from_secs(1);
    let hour = now + min(60);
    type Case<'a> = (Vec<Alert>, &'a [&'a str], Labels, bool);
    let cases: Vec<Case> = vec![
        (vec![], &[], labels(&[("a", "b")]), false),
        (
            vec![alert(&[("x", "y")], past, hour)],
            &[],
            labels(&[("a", "b")]),
            true,
        ),
        (
            vec![
                alert(&[("a", "b"), ("b", "f")], past, gone),
                alert(&[("a", "b"), ("b", "c")], past, gone),
            ],
            &["a", "b"],
            labels(&[("a", "b"), ("b", "c")]),
            false,
        ),
        (
            vec![
                alert(&[("a", "b"), ("c", "d")], past, gone),
                alert(&[("a", "b"), ("c", "f")], past, hour),
            ],
            &["a"],
            labels(&[("a", "b")]),
            true,
        ),
        (
            vec![
                alert(&[("a", "c"), ("c", "d")], past, gone),
                alert(&[("a", "c"), ("c", "f")], past, gone),
            ],
            &["a"],
            labels(&[("a", "b")]),
            false,
        ),
        // A missing label equals the empty value.
        (
            vec![alert(&[("x", "y")], past, hour)],
            &["zone"],
            labels(&[("a", "b"), ("zone", "")]),
            true,
        ),
        (
            vec![alert(&[("x", "y")], past, hour)],
            &["zone"],
            labels(&[("zone", "eu")]),
            false,
        ),
    ];
    for (i, (sources, equal, input, want)) in cases.into_iter().enumerate() {
        let rule = InhibitRule {
            source_matchers: parse_matchers("{src=\"1\"}").unwrap(),
            target_matchers: parse_matchers("{x!=\"y\"}").unwrap(),
            equal: equal.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let ih = Inhibitor::new(&[rule]);
        for a in &sources {
            let mut a = a.clone();
            a.labels.insert("src".into(), "1".into());
            ih.observe(&a);
        }
        assert_eq!(ih.inhibited_by(&input, now).is_some(), want, "case {i}");
    }
}

/// `TestInhibitRuleMatches` (old `match` forms) and
/// `TestInhibitRuleMatchers` (`matchers`).
#[test]
fn rule_matches_and_matchers() {
    let now = MockClock::start().now();
    let source1 = alert(
        &[("s1", "1"), ("t1", "2"), ("e", "1")],
        now - min(1),
        now + min(60),
    );
    let source2 = alert(
        &[("s2", "1"), ("t2", "1"), ("e", "1")],
        now - min(1),
        now + min(60),
    );
    let targets: [&[(&str, &str)]; 8] = [
        &[("t1", "1"), ("e", "1")],
        &[("t2", "1"), ("e", "1")],
        &[("t1", "1"), ("t3", "1"), ("e", "1")],
        &[("t1", "1"), ("t2", "1"), ("e", "1")],
        &[("t1", "0"), ("e", "1")],
        &[("s1", "1"), ("t1", "1"), ("e", "1")],
        &[("s2", "1"), ("t2", "1"), ("e", "1")],
        &[("t1", "1"), ("e", "0")],
    ];
    let old = [
        old_rule(("s1", "1"), ("t1", "1"), &["e"]),
        old_rule(("s2", "1"), ("t2", "1"), &["e"]),
    ];
    let new = [
        InhibitRule {
            source_matchers: parse_matchers("s1=\"1\"").unwrap(),
            target_matchers: parse_matchers("t1!=\"1\"").unwrap(),
            equal: vec!["e".into()],
            ..Default::default()
        },
        InhibitRule {
            source_matchers: parse_matchers("s2=\"1\"").unwrap(),
            target_matchers: parse_matchers("t2=\"1\"").unwrap(),
            equal: vec!["e".into()],
            ..Default::default()
        },
    ];
    let expect_old = [true, true, true, true, false, true, false, false];
    let expect_new = [false, true, false, true, true, false, true, false];
    for (rules, expect) in [(&old, expect_old), (&new, expect_new)] {
        let ih = Inhibitor::new(rules);
        ih.observe(&source1);
        ih.observe(&source2);
        for (target, want) in targets.iter().zip(expect) {
            assert_eq!(
                ih.inhibited_by(&labels(target), now).is_some(),
                want,
                "{target:?}"
            );
        }
    }
}

/// `TestInhibit`: only a firing source inhibits; an alert never inhibits
/// itself; the source is reported.
#[test]
fn inhibit_sequence() {
    let now = MockClock::start().now();
    let rule = old_rule(("s", "1"), ("t", "1"), &["e"]);
    let one = alert(&[("t", "1"), ("e", "f")], now - min(1), now + min(60));
    let two = |resolved: bool| {
        let end = if resolved {
            now - jiff::SignedDuration::from_secs(1)
        } else {
            now + min(60)
        };
        alert(&[("s", "1"), ("e", "f")], now - min(1), end)
    };
    let cases: Vec<(Vec<Alert>, bool)> = vec![
        (vec![one.clone()], false),
        (vec![one.clone(), two(false)], true),
        (vec![one.clone(), two(false), two(true)], false),
    ];
    for (alerts, muted) in cases {
        let ih = Inhibitor::new(std::slice::from_ref(&rule));
        for a in &alerts {
            ih.observe(a);
        }
        let got = ih.inhibited_by(&one.labels, now);
        assert_eq!(got.is_some(), muted, "{alerts:?}");
        if muted {
            assert_eq!(got, Some(two(false).fingerprint()));
        }
        assert!(ih.inhibited_by(&two(false).labels, now).is_none());
    }
    // An alert matching both sides does not inhibit itself.
    let both = alert(
        &[("s", "1"), ("t", "1"), ("e", "f")],
        now - min(1),
        now + min(60),
    );
    let ih = Inhibitor::new(std::slice::from_ref(&rule));
    ih.observe(&both);
    assert!(ih.inhibited_by(&both.labels, now).is_none());
    // Collection forgets resolved sources.
    ih.observe(&two(false));
    assert!(ih.inhibited_by(&one.labels, now).is_some());
    ih.gc(now + min(61));
    assert!(ih.inhibited_by(&one.labels, now).is_none());
}

/// Many sources: a lookup only visits the sources with the same `equal`
/// values.
#[test]
fn many_sources_stay_fast() {
    let now = MockClock::start().now();
    let ih = Inhibitor::new(&[old_rule(
        ("severity", "critical"),
        ("severity", "warning"),
        &["instance"],
    )]);
    for i in 0..50_000 {
        let instance = format!("host-{i}");
        ih.observe(&alert(
            &[("severity", "critical"), ("instance", &instance)],
            now - min(1),
            now + min(60),
        ));
    }
    let start = std::time::Instant::now();
    for i in 0..50_000 {
        let instance = format!("host-{i}");
        let target = labels(&[("severity", "warning"), ("instance", &instance)]);
        assert!(ih.inhibited_by(&target, now).is_some());
    }
    let other = labels(&[("severity", "warning"), ("instance", "elsewhere")]);
    assert!(ih.inhibited_by(&other, now).is_none());
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
}
