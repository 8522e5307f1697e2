//! Alerts: `Merge` (upstream's `types_test.go` cases), validation and
//! defaulting, fingerprints, and the store (merge on overlap, subscribers,
//! collection, bounds, use from several tasks).

mod common;

use std::sync::Arc;

use common::{MockClock, labels, min};
use jiff::{SignedDuration, Timestamp};
use wasmetheus_alertmanager::{Alert, Alerts, AlertsError, AlertsLimits, Fingerprint};

fn at(
    l: &[(&str, &str)],
    start: Timestamp,
    end: Timestamp,
    updated: Timestamp,
    timeout: bool,
) -> Alert {
    let mut a = Alert::new(labels(l));
    a.starts_at = Some(start);
    a.ends_at = Some(end);
    a.updated_at = Some(updated);
    a.timeout = timeout;
    a
}

/// `TestAlertMerge` (upstream's table): A is older than B; the result
/// is the same both ways round. Times are minutes from now: (start, end,
/// updated, timeout).
#[test]
fn merge_as_upstream() {
    let now = MockClock::start().now();
    let t = |m: i64| now + min(m);
    type Side = (i64, i64, i64, bool);
    let cases: [(Side, Side, Side); 8] = [
        // Both with the timeout flag: start from A, end from B.
        ((-2, 2, 0, true), (-1, 3, 1, true), (-2, 3, 1, true)),
        // A with the timeout flag, B without: end from B.
        ((-1, 3, 0, true), (0, 2, 1, false), (-1, 2, 1, false)),
        // A without, B with: end from A (an explicit end wins).
        ((-1, 3, 0, false), (0, 2, 1, true), (-1, 3, 1, true)),
        // Neither, not resolved: end from A (the later one).
        ((-1, 3, 0, false), (0, 2, 1, false), (-1, 3, 1, false)),
        // Neither, not resolved: end from B (the later one).
        ((-1, 3, 0, false), (-1, 4, 1, false), (-1, 4, 1, false)),
        // A resolved, B not: end from B.
        ((-3, -1, 0, false), (-2, 1, 1, false), (-3, 1, 1, false)),
        // B resolved (its end is now), A not: end from B.
        ((-2, 3, 0, false), (-2, 0, 1, false), (-2, 0, 1, false)),
        // Both resolved: start from B (earlier), end from A (later).
        ((-3, -1, -1, false), (-4, -2, 1, false), (-4, -1, 1, false)),
    ];
    let l = [("alertname", "x")];
    for (i, (a, b, want)) in cases.into_iter().enumerate() {
        let mk = |(s, e, u, to): Side| at(&l, t(s), t(e), t(u), to);
        let (a, b, want) = (mk(a), mk(b), mk(want));
        assert_eq!(a.merge_at(&b, now), want, "case {i}: A.Merge(B)");
        assert_eq!(b.merge_at(&a, now), want, "case {i}: B.Merge(A)");
    }
}

#[test]
fn resolved_and_status() {
    let now = MockClock::start().now();
    let mut a = Alert::new(labels(&[("a", "b")]));
    assert!(!a.resolved_at(now), "no end: firing");
    a.ends_at = Some(now);
    assert!(a.resolved_at(now), "an end equal to now is resolved");
    assert_eq!(a.status_at(now), "resolved");
    a.ends_at = Some(now + SignedDuration::from_nanos(1));
    assert_eq!(a.status_at(now), "firing");
}

#[test]
fn prepare_defaults_and_validate() {
    let now = MockClock::start().now();
    let rt = SignedDuration::from_mins(5);
    // Neither time: starts now, times out after resolve_timeout.
    let mut a = Alert::new(labels(&[("alertname", "x")]));
    a.prepare(now, rt);
    assert_eq!(
        (a.starts_at, a.ends_at, a.updated_at, a.timeout),
        (Some(now), Some(now + rt), Some(now), true)
    );
    assert_eq!(a.validate(), Ok(()));
    // Only an end: starts at the end, no timeout.
    let mut b = Alert::new(labels(&[("alertname", "x")]));
    b.ends_at = Some(now - min(1));
    b.prepare(now, rt);
    assert_eq!((b.starts_at, b.timeout), (Some(now - min(1)), false));
    // Validation texts.
    let mut c = Alert::new(labels(&[("alertname", "x")]));
    assert_eq!(c.validate().unwrap_err().to_string(), "start time missing");
    c.starts_at = Some(now);
    c.ends_at = Some(now - min(1));
    assert_eq!(
        c.validate().unwrap_err().to_string(),
        "start time must be before end time"
    );
    let mut d = Alert::new(labels(&[]));
    d.starts_at = Some(now);
    assert_eq!(
        d.validate().unwrap_err().to_string(),
        "at least one label pair required"
    );
    // 0.34 validates names as UTF-8 by default (0.25 refused "0bad").
    d.labels = labels(&[("0bad", "x"), ("ü", "y")]);
    assert_eq!(d.validate(), Ok(()));
    d.labels = labels(&[("", "x")]);
    assert_eq!(
        d.validate().unwrap_err().to_string(),
        "invalid label set: invalid name \"\""
    );
    d.labels = labels(&[("ok", "x")]);
    d.annotations = labels(&[("", "x")]);
    assert_eq!(
        d.validate().unwrap_err().to_string(),
        "invalid annotations: invalid name \"\""
    );
    assert!(wasmetheus_alertmanager::is_valid_classic_label_name("a_1"));
    assert!(!wasmetheus_alertmanager::is_valid_classic_label_name(
        "0bad"
    ));
    assert!(!wasmetheus_alertmanager::is_valid_classic_label_name("a-b"));
}

#[test]
fn fingerprint_is_prometheus_label_set_fingerprint() {
    let a = Alert::new(labels(&[
        ("name", "garland, briggs"),
        ("fear", "love is not enough"),
    ]));
    assert_eq!(a.fingerprint(), Fingerprint(5799056148416392346));
    assert_eq!(
        Alert::new(labels(&[])).fingerprint(),
        Fingerprint(14695981039346656037)
    );
}

fn store(clock: &MockClock, limits: AlertsLimits) -> Alerts {
    Alerts::new(limits, clock.clock())
}

#[test]
fn put_merges_overlapping_and_replaces_others() {
    let clock = MockClock::start();
    let s = store(&clock, AlertsLimits::default());
    let now = clock.now();
    let l = [("alertname", "x")];
    s.put(at(&l, now - min(10), now + min(5), now, true))
        .unwrap();
    // Overlapping (starts inside the held alert's activity): merged, the
    // earliest start kept.
    s.put(at(&l, now - min(1), now + min(6), now + min(1), true))
        .unwrap();
    let got = s.get(Alert::new(labels(&l)).fingerprint()).unwrap();
    assert_eq!(
        (got.starts_at, got.ends_at),
        (Some(now - min(10)), Some(now + min(6)))
    );
    // Not overlapping (a new firing after the old one ended): replaced.
    s.put(at(&l, now + min(20), now + min(30), now + min(2), true))
        .unwrap();
    let got = s.get(Alert::new(labels(&l)).fingerprint()).unwrap();
    assert_eq!(got.starts_at, Some(now + min(20)));
    assert_eq!(s.len(), 1);
}

#[tokio::test]
async fn subscribers_see_current_alerts_then_changes() {
    let clock = MockClock::start();
    let s = store(&clock, AlertsLimits::default());
    let now = clock.now();
    s.put(at(&[("alertname", "a")], now, now + min(5), now, true))
        .unwrap();
    let (initial, mut rx) = s.subscribe();
    assert_eq!(initial.len(), 1);
    s.put(at(&[("alertname", "b")], now, now + min(5), now, true))
        .unwrap();
    let next = rx.recv().await.unwrap();
    assert_eq!(next.name(), "b");
}

#[test]
fn gc_removes_resolved_only() {
    let clock = MockClock::start();
    let s = store(&clock, AlertsLimits::default());
    let now = clock.now();
    s.put(at(&[("alertname", "a")], now, now + min(5), now, true))
        .unwrap();
    s.put(at(&[("alertname", "b")], now, now + min(50), now, false))
        .unwrap();
    assert!(s.gc().unwrap().is_empty());
    clock.advance(min(5));
    let removed = s.gc().unwrap();
    assert_eq!(
        removed.iter().map(Alert::name).collect::<Vec<_>>(),
        vec!["a"]
    );
    assert_eq!(
        s.list().iter().map(Alert::name).collect::<Vec<_>>(),
        vec!["b"]
    );
}

#[test]
fn bounds_refuse_with_clear_errors() {
    let clock = MockClock::start();
    let s = store(
        &clock,
        AlertsLimits {
            max_alerts: 2,
            max_alert_bytes: 1000,
        },
    );
    let now = clock.now();
    let mk = |n: &str| at(&[("alertname", n)], now, now + min(5), now, true);
    s.put(mk("a")).unwrap();
    s.put(mk("b")).unwrap();
    let err = s.put(mk("c")).unwrap_err();
    assert!(matches!(err, AlertsError::TooMany { held: 2, limit: 2 }));
    assert_eq!(err.to_string(), "too many alerts: 2 held (limit: 2)");
    // An update of a held alert is not a new one.
    s.put(at(
        &[("alertname", "a")],
        now,
        now + min(9),
        now + min(1),
        true,
    ))
    .unwrap();
    let mut huge = mk("a");
    huge.annotations
        .insert("description".into(), "x".repeat(10 << 20));
    let err = s.put(huge).unwrap_err().to_string();
    assert!(
        err.starts_with("alert exceeded maximum size: ") && err.ends_with("(limit: 1000 bytes)"),
        "{err}"
    );
    let refused = s.put_all(vec![mk("d"), mk("b")]);
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].0, mk("d").fingerprint());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn used_from_several_tasks() {
    // Enough puts from 8 tasks to overrun a subscriber that reads none.
    const PUTS: i64 = 600;
    assert!(8 * PUTS as usize > wasmetheus_alertmanager::SUBSCRIBER_CAPACITY);
    let clock = MockClock::start();
    let s = Arc::new(store(&clock, AlertsLimits::default()));
    let now = clock.now();
    let (_, mut rx) = s.subscribe();
    let mut tasks = Vec::new();
    for t in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..PUTS {
                let name = format!("a{}", i % 100);
                let task = t.to_string();
                s.put(at(
                    &[("alertname", &name), ("task", &task)],
                    now,
                    now + min(5),
                    now + min(i),
                    true,
                ))
                .unwrap();
                if i % 50 == 0 {
                    tokio::task::yield_now().await;
                    let _ = s.list();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(s.len(), 800);
    // The subscriber lagged (4800 changes, more than it holds) and is
    // told so.
    assert!(matches!(
        rx.recv().await,
        Err(tokio::sync::broadcast::error::RecvError::Lagged(_))
    ));
    for a in s.list() {
        // The last put of `a{k}` was at i = PUTS - 100 + k; the younger
        // wins.
        let k: i64 = a.name()[1..].parse().unwrap();
        assert_eq!(a.updated_at, Some(now + min(PUTS - 100 + k)));
    }
}

/// `TestAlertSliceSort` (upstream's table).
#[test]
fn alert_order_as_upstream() {
    let a1 = Alert::new(labels(&[
        ("job", "j1"),
        ("instance", "i1"),
        ("alertname", "an1"),
    ]));
    let a2 = Alert::new(labels(&[
        ("job", "j1"),
        ("instance", "i1"),
        ("alertname", "an2"),
    ]));
    let a3 = Alert::new(labels(&[
        ("job", "j2"),
        ("instance", "i1"),
        ("alertname", "an1"),
    ]));
    let a4 = Alert::new(labels(&[("alertname", "an1")]));
    let a5 = Alert::new(labels(&[("alertname", "an2")]));
    let cases = [
        (vec![&a2, &a1], vec![&a1, &a2]),
        (vec![&a3, &a2, &a1], vec![&a1, &a2, &a3]),
        (vec![&a4, &a2, &a4], vec![&a2, &a4, &a4]),
        (vec![&a5, &a4], vec![&a4, &a5]),
    ];
    for (input, want) in cases {
        let mut got: Vec<Alert> = input.into_iter().cloned().collect();
        wasmetheus_alertmanager::sort_alerts(&mut got);
        let want: Vec<Alert> = want.into_iter().cloned().collect();
        assert_eq!(got, want);
    }
    // LabelSet.Before: fewer labels first; a missing name sorts first.
    use wasmetheus_alertmanager::label_set_before;
    assert!(label_set_before(
        &labels(&[("a", "1")]),
        &labels(&[("a", "0"), ("b", "0")])
    ));
    assert!(!label_set_before(
        &labels(&[("a", "1")]),
        &labels(&[("b", "0")])
    ));
    assert!(label_set_before(
        &labels(&[("b", "0")]),
        &labels(&[("a", "1")])
    ));
    assert!(label_set_before(
        &labels(&[("a", "0")]),
        &labels(&[("a", "1")])
    ));
    assert!(!label_set_before(
        &labels(&[("a", "0")]),
        &labels(&[("a", "0")])
    ));
}
