//! The dispatcher's grouping and timers with tokio's paused clock
//! (upstream's `TestAggrGroup`, `TestGroupLabels`, `TestGroups` and
//! `TestDedupStageNeedsUpdate`, as scenarios).

mod dispatch_support;

use std::time::Duration;

use dispatch_support::{Behaviour, Parts, Recorder, Sent, at, labels, tokio_clock};
use jiff::Timestamp;
use tokio::time::Instant;
use wasmetheus_alertmanager::NflogEntry;
use wasmetheus_alertmanager::NflogReceiver;
use wasmetheus_alertmanager::dispatch::{group_key, group_labels, needs_update};
use wasmetheus_alertmanager_config::RouteOpts;

const TIMERS: &str = "
route:
  receiver: r
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
receivers:
- name: r
";

/// One event: at `secs`, the alert `A/instance` fires or resolves.
type Event = (f64, &'static str, bool);

async fn run_scenario(yaml: &str, send_resolved: bool, events: &[Event], until: f64) -> Vec<Sent> {
    let start = Instant::now();
    let parts = Parts::in_memory(yaml, tokio_clock(start));
    let rec = Recorder::new(start, send_resolved, Behaviour::Ok);
    let d = parts.dispatcher(rec.clone(), 0);
    for (secs, instance, resolved) in events {
        at(start, *secs).await;
        parts.put(&[("alertname", "A"), ("instance", instance)], *resolved);
    }
    at(start, until).await;
    d.stop();
    rec.sent()
}

fn sent(at_s: u64, key: &str, alerts: &[&str]) -> Sent {
    Sent {
        at_ms: at_s * 1000,
        group_key: key.to_owned(),
        alerts: alerts.iter().map(|s| s.to_string()).collect(),
    }
}

const KEY_A: &str = r#"{}:{alertname="A"}"#;

#[tokio::test(start_paused = true)]
async fn group_wait_interval_resolve_and_repeat_with_send_resolved() {
    let got = run_scenario(
        TIMERS,
        true,
        &[(0.0, "1", false), (60.0, "2", false), (700.0, "1", true)],
        5000.0,
    )
    .await;
    assert_eq!(
        got,
        vec![
            // group_wait after the first alert.
            sent(30, KEY_A, &["1:firing"]),
            // The next group_interval tick: the new alert.
            sent(330, KEY_A, &["1:firing", "2:firing"]),
            // 630: nothing changed. 930: a resolved alert is news.
            sent(930, KEY_A, &["1:resolved", "2:firing"]),
            // The repeat interval (1h after 930) is checked at ticks only:
            // 4530 is not yet past it (strictly), 4830 is.
            sent(4830, KEY_A, &["2:firing"]),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn without_send_resolved_resolved_alerts_are_not_news() {
    let got = run_scenario(
        TIMERS,
        false,
        &[
            (0.0, "1", false),
            (60.0, "2", false),
            (700.0, "1", true),
            (4300.0, "2", true),
        ],
        6000.0,
    )
    .await;
    assert_eq!(
        got,
        vec![
            sent(30, KEY_A, &["1:firing"]),
            sent(330, KEY_A, &["1:firing", "2:firing"]),
            // 930: only a resolution, deduplicated; repeat after 330+3600
            // at the first tick strictly past it.
            sent(4230, KEY_A, &["2:firing"]),
            // 4530: all resolved, nothing sent without send_resolved.
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_group_resolved_entirely_ends_and_a_new_one_waits_again() {
    let got = run_scenario(
        TIMERS,
        true,
        &[(0.0, "1", false), (100.0, "1", true), (1000.0, "1", false)],
        1100.0,
    )
    .await;
    assert_eq!(
        got,
        vec![
            sent(30, KEY_A, &["1:firing"]),
            sent(330, KEY_A, &["1:resolved"]),
            // The group ended after 330; the alert firing again at 1000
            // (a new start) opens a new group waiting group_wait.
            sent(1030, KEY_A, &["1:firing"]),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn alerts_fired_and_resolved_between_notifications_are_not_sent() {
    // All resolved, and the receiver never saw them firing.
    let got = run_scenario(
        "
route:
  receiver: r
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
receivers:
- name: r
",
        true,
        &[(0.0, "1", false), (5.0, "1", true)],
        400.0,
    )
    .await;
    assert_eq!(got, vec![]);
}

#[test]
fn group_labels_by_route_options() {
    let alert = labels(&[("a", "v1"), ("b", "v2"), ("c", "v3")]);
    let by = |names: &[&str], all: bool| RouteOpts {
        group_by: names.iter().map(|s| s.to_string()).collect(),
        group_by_all: all,
        ..RouteOpts::default()
    };
    let cases: &[(RouteOpts, &[(&str, &str)])] = &[
        (by(&[], false), &[]),
        (by(&["a"], false), &[("a", "v1")]),
        (
            by(&["a", "c", "missing"], false),
            &[("a", "v1"), ("c", "v3")],
        ),
        (by(&[], true), &[("a", "v1"), ("b", "v2"), ("c", "v3")]),
    ];
    for (opts, want) in cases {
        assert_eq!(group_labels(&alert, opts), labels(want), "{opts:?}");
    }
    assert_eq!(
        group_key("{}/{a=\"b\"}", &labels(&[("x", "a\"b"), ("a", "1")])),
        r#"{}/{a="b"}:{a="1", x="a\"b"}"#
    );
}

#[tokio::test(start_paused = true)]
async fn groups_per_route_with_continue_and_group_by_all() {
    let start = Instant::now();
    let parts = Parts::in_memory(
        r#"
route:
  receiver: r
  group_by: [alertname]
  group_wait: 10s
  group_interval: 1m
  routes:
  - matchers: [team="x"]
    group_by: ['...']
    continue: true
  - matchers: ['team=~"x|y"']
    receiver: r2
receivers:
- name: r
- name: r2
"#,
        tokio_clock(start),
    );
    let rec = Recorder::new(start, true, Behaviour::Ok);
    let d = parts.dispatcher(rec.clone(), 0);
    parts.put(
        &[("alertname", "A"), ("team", "x"), ("instance", "1")],
        false,
    );
    parts.put(
        &[("alertname", "A"), ("team", "y"), ("instance", "2")],
        false,
    );
    parts.put(&[("alertname", "B"), ("instance", "3")], false);
    at(start, 1.0).await;
    let groups: Vec<(String, String, Vec<String>)> = d
        .groups()
        .into_iter()
        .map(|g| {
            let names = g
                .alerts
                .iter()
                .map(|a| a.labels["instance"].clone())
                .collect();
            (g.key, g.receiver, names)
        })
        .collect();
    let want = [
        (
            r#"{}/{team="x"}:{alertname="A", instance="1", team="x"}"#,
            "r",
            vec!["1"],
        ),
        (r#"{}/{team=~"x|y"}:{alertname="A"}"#, "r2", vec!["1", "2"]),
        (r#"{}:{alertname="B"}"#, "r", vec!["3"]),
    ];
    let want: Vec<(String, String, Vec<String>)> = want
        .iter()
        .map(|(k, r, n)| {
            (
                k.to_string(),
                r.to_string(),
                n.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(groups, want);
    at(start, 11.0).await;
    assert_eq!(rec.sent().len(), 3);
    d.stop();
}

/// (last entry, firing, resolved, send_resolved, notification due).
type NeedsUpdateCase = (Option<NflogEntry>, Vec<u64>, Vec<u64>, bool, bool);

#[test]
fn dedup_needs_update_as_upstream() {
    let now: Timestamp = "2026-07-28T12:00:00Z".parse().unwrap();
    let entry = |firing: &[u64], resolved: &[u64], ago_min: i64| NflogEntry {
        group_key: "g".into(),
        receiver: NflogReceiver {
            group_name: "r".into(),
            integration: "webhook".into(),
            idx: 0,
        },
        timestamp: now - jiff::SignedDuration::from_mins(ago_min),
        firing_alerts: firing.to_vec(),
        resolved_alerts: resolved.to_vec(),
        expires_at: now,
    };
    let repeat = Duration::from_secs(3600);
    // (entry, firing, resolved, send_resolved, want) — TestDedupStageNeedsUpdate.
    let cases: Vec<NeedsUpdateCase> = vec![
        (None, vec![], vec![], false, false),
        (None, vec![1, 2], vec![], false, true),
        (None, vec![], vec![3], true, false),
        (
            Some(entry(&[1, 2, 3], &[], 1)),
            vec![1, 2],
            vec![],
            false,
            false,
        ),
        (
            Some(entry(&[1, 2], &[], 1)),
            vec![1, 2, 3],
            vec![],
            false,
            true,
        ),
        (
            Some(entry(&[1, 2], &[], 1)),
            vec![1, 2],
            vec![],
            false,
            false,
        ),
        (
            Some(entry(&[1, 2], &[], 61)),
            vec![1, 2],
            vec![],
            false,
            true,
        ),
        (
            Some(entry(&[1, 2], &[3], 1)),
            vec![1, 2],
            vec![3],
            true,
            false,
        ),
        (Some(entry(&[1, 2], &[], 1)), vec![1], vec![2], true, true),
        (Some(entry(&[1, 2], &[], 1)), vec![1], vec![2], false, false),
        (
            Some(entry(&[1, 2], &[], 1)),
            vec![],
            vec![1, 2],
            false,
            true,
        ),
        (
            Some(entry(&[], &[1, 2], 1)),
            vec![],
            vec![1, 2],
            true,
            false,
        ),
        (Some(entry(&[1], &[2], 1)), vec![1], vec![], true, false),
    ];
    for (i, (e, firing, resolved, send_resolved, want)) in cases.iter().enumerate() {
        assert_eq!(
            needs_update(e.as_ref(), firing, resolved, *send_resolved, repeat, now),
            *want,
            "case {i}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn an_alert_older_than_group_wait_flushes_a_new_group_at_once() {
    let start = Instant::now();
    let clock = tokio_clock(start);
    let parts = Parts::in_memory(TIMERS, clock.clone());
    let rec = Recorder::new(start, true, Behaviour::Ok);
    let d = parts.dispatcher(rec.clone(), 0);
    at(start, 100.0).await;
    let now = clock();
    // Started 31s ago: past group_wait (30s), so no waiting.
    let mut old =
        wasmetheus_alertmanager::Alert::new(labels(&[("alertname", "A"), ("instance", "1")]));
    old.starts_at = Some(now - jiff::SignedDuration::from_secs(31));
    old.updated_at = Some(now);
    parts.alerts.put(old).unwrap();
    // Started 29s ago: this one waits the rest of group_wait from the
    // group's creation (30s), as upstream's timer does.
    let mut young =
        wasmetheus_alertmanager::Alert::new(labels(&[("alertname", "B"), ("instance", "2")]));
    young.starts_at = Some(now - jiff::SignedDuration::from_secs(29));
    young.updated_at = Some(now);
    parts.alerts.put(young).unwrap();
    at(start, 200.0).await;
    assert_eq!(
        rec.sent(),
        vec![
            sent(100, KEY_A, &["1:firing"]),
            sent(130, r#"{}:{alertname="B"}"#, &["2:firing"]),
        ]
    );
    d.stop();
}
