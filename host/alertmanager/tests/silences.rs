//! Silences: upstream's validation table (`silence/silence_test.go`),
//! `Set` in place versus expire-and-replace, `Expire`, queries, muting,
//! retention, limits and hostile input.

mod common;

use common::{MockClock, labels, m, min};
use jiff::{SignedDuration, Timestamp};
use wasmetheus_alertmanager::{
    Silence, SilenceError, SilenceLimits, SilenceMatcher, SilenceQuery, SilenceState, Silences,
    can_update, sort_for_api, validate_silence,
};

fn silence(
    matchers: Vec<SilenceMatcher>,
    start: Option<Timestamp>,
    end: Option<Timestamp>,
) -> Silence {
    Silence {
        id: String::new(),
        matchers,
        starts_at: start,
        ends_at: end,
        updated_at: None,
        created_by: "alice".into(),
        comment: "maintenance".into(),
        annotations: Default::default(),
    }
}

fn store(clock: &MockClock) -> Silences {
    Silences::new(
        SignedDuration::from_hours(1),
        SilenceLimits::default(),
        clock.clock(),
    )
}

#[test]
fn validation_as_upstream() {
    let now = MockClock::start().now();
    let later = now + min(1);
    let earlier = now - SignedDuration::from_secs(1);
    // (matchers, start, end, expected error or "" for valid)
    type Case = (
        Vec<SilenceMatcher>,
        Option<Timestamp>,
        Option<Timestamp>,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (vec![m("a", "=", "b")], Some(now), Some(now), ""),
        (
            vec![],
            Some(now),
            Some(later),
            "at least one matcher required",
        ),
        // Alertmanager 0.34's default (fallback) mode validates names as
        // UTF-8: upstream's classic-mode table refuses "00" and "🙂", 0.25
        // (classic only) refuses them too; 0.34 accepts them
        // (`TestValidateUTF8Matcher`). Only the empty name is invalid.
        (
            vec![m("a", "=", "b"), m("00", "=", "b")],
            Some(now),
            Some(later),
            "",
        ),
        (vec![m("🙂", "=", "a")], Some(now), Some(later), ""),
        (
            vec![m("a", "=", "b"), m("", "=", "b")],
            Some(now),
            Some(later),
            "invalid label matcher 1: invalid label name \"\"",
        ),
        (
            vec![m("a", "=~", "((")],
            Some(now),
            Some(later),
            "invalid label matcher 0: invalid regular expression \"((\"",
        ),
        (
            vec![m("a", "!~", "))")],
            Some(now),
            Some(later),
            "invalid label matcher 0: invalid regular expression \"))\"",
        ),
        (vec![m("a", "=", "🙂")], Some(now), Some(later), ""),
        (
            vec![m("a", "=", ""), m("b", "=~", ".*")],
            Some(now),
            Some(later),
            "at least one matcher must not match the empty string",
        ),
        // Negative matchers never count as matching the empty string.
        (
            vec![m("a", "!=", ""), m("b", "=~", ".*")],
            Some(now),
            Some(later),
            "",
        ),
        (vec![m("a", "!~", "x")], Some(now), Some(later), ""),
        (
            vec![m("a", "=~", "x|")],
            Some(now),
            Some(later),
            "at least one matcher must not match the empty string",
        ),
        (
            vec![m("a", "=", "b")],
            Some(now),
            Some(earlier),
            "end time must not be before start time",
        ),
        (
            vec![m("a", "=", "b")],
            None,
            Some(now),
            "invalid zero start timestamp",
        ),
        (
            vec![m("a", "=", "b")],
            Some(now),
            None,
            "invalid zero end timestamp",
        ),
    ];
    for (matchers, start, end, want) in cases {
        let s = silence(matchers.clone(), start, end);
        match validate_silence(&s) {
            Ok(_) => assert_eq!(want, "", "{matchers:?} was accepted"),
            Err(err) => {
                assert!(!want.is_empty(), "{matchers:?}: unexpected error {err}");
                assert!(
                    err.starts_with(want),
                    "{matchers:?}: got {err:?}, want {want:?}"
                );
            }
        }
    }
}

#[test]
fn set_rejects_invalid_with_prefix_and_unknown_ids() {
    let clock = MockClock::start();
    let s = store(&clock);
    let err = s
        .set(silence(vec![], None, Some(clock.now() + min(5))))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid silence: at least one matcher required"
    );
    let mut unknown = silence(vec![m("a", "=", "b")], None, Some(clock.now() + min(5)));
    unknown.id = "no-such-id".into();
    assert!(matches!(s.set(unknown), Err(SilenceError::NotFound)));
    assert_eq!(s.expire("no-such-id").unwrap_err().to_string(), "not found");
}

#[test]
fn new_silence_gets_uuid_and_start_not_in_the_past() {
    let clock = MockClock::start();
    let s = store(&clock);
    let id = s
        .set(silence(
            vec![m("a", "=", "b")],
            Some(clock.now() - min(10)),
            Some(clock.now() + min(10)),
        ))
        .unwrap();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    let got = s.get(&id).unwrap();
    assert_eq!(got.starts_at, Some(clock.now()));
    assert_eq!(got.updated_at, Some(clock.now()));
    assert_eq!(got.state_at(clock.now()), SilenceState::Active);
    // A missing start is now.
    let id2 = s
        .set(silence(
            vec![m("a", "=", "c")],
            None,
            Some(clock.now() + min(1)),
        ))
        .unwrap();
    assert_eq!(s.get(&id2).unwrap().starts_at, Some(clock.now()));
    assert_ne!(id, id2);
}

/// `TestSilenceSet`'s update paths: what may change in place and what
/// expires the silence and creates a new one.
#[test]
fn set_updates_in_place_or_replaces() {
    let clock = MockClock::start();
    let s = store(&clock);
    let t0 = clock.now();
    // An active silence: extending the end keeps the id.
    let id = s
        .set(silence(
            vec![m("a", "=", "b")],
            Some(t0),
            Some(t0 + min(10)),
        ))
        .unwrap();
    clock.advance(min(1));
    let mut upd = s.get(&id).unwrap();
    upd.ends_at = Some(t0 + min(20));
    upd.comment = "longer".into();
    assert_eq!(s.set(upd).unwrap(), id);
    let got = s.get(&id).unwrap();
    assert_eq!(
        (got.ends_at, got.updated_at, got.comment.as_str()),
        (Some(t0 + min(20)), Some(clock.now()), "longer")
    );
    assert_eq!(s.len(), 1);

    // Changing the matchers of an active silence: the old one expires
    // now, a new one starts now.
    let mut upd = s.get(&id).unwrap();
    upd.matchers = vec![m("a", "=", "c")];
    let new_id = s.set(upd).unwrap();
    assert_ne!(new_id, id);
    let old = s.get(&id).unwrap();
    assert_eq!(old.ends_at, Some(clock.now()));
    clock.advance(SignedDuration::from_nanos(1));
    assert_eq!(old.state_at(clock.now()), SilenceState::Expired);
    let new = s.get(&new_id).unwrap();
    assert_eq!(
        new.starts_at,
        Some(clock.now() - SignedDuration::from_nanos(1))
    );
    assert_eq!(s.len(), 2);

    // Moving the start of an active silence replaces it too.
    let mut upd = s.get(&new_id).unwrap();
    upd.starts_at = Some(clock.now() + min(5));
    let third = s.set(upd).unwrap();
    assert_ne!(third, new_id);
    assert_eq!(s.get(&third).unwrap().starts_at, Some(clock.now() + min(5)));

    // An active silence whose end would be in the past is replaced.
    clock.advance(min(6));
    let mut upd = s.get(&third).unwrap();
    upd.ends_at = Some(clock.now() - min(1));
    upd.starts_at = Some(clock.now() - min(2));
    let fourth = s.set(upd).unwrap();
    assert_ne!(fourth, third);

    // A pending silence may change its times while the start stays in
    // the future.
    let t = clock.now();
    let pending = s
        .set(silence(
            vec![m("x", "=", "y")],
            Some(t + min(10)),
            Some(t + min(20)),
        ))
        .unwrap();
    assert_eq!(s.get(&pending).unwrap().state_at(t), SilenceState::Pending);
    let mut upd = s.get(&pending).unwrap();
    upd.starts_at = Some(t + min(5));
    assert_eq!(s.set(upd).unwrap(), pending);
    // Moving its start into the past replaces it; a pending silence that
    // is replaced expires with start and end now.
    let mut upd = s.get(&pending).unwrap();
    upd.starts_at = Some(t - min(1));
    let replaced = s.set(upd).unwrap();
    assert_ne!(replaced, pending);
    let old = s.get(&pending).unwrap();
    assert_eq!((old.starts_at, old.ends_at), (Some(t), Some(t)));

    // An expired silence is never changed in place.
    clock.advance(min(1));
    let mut upd = s.get(&pending).unwrap();
    upd.ends_at = Some(clock.now() + min(30));
    assert_ne!(s.set(upd).unwrap(), pending);
}

#[test]
fn expire_states() {
    let clock = MockClock::start();
    let s = store(&clock);
    let t = clock.now();
    let active = s
        .set(silence(vec![m("a", "=", "b")], Some(t), Some(t + min(10))))
        .unwrap();
    let pending = s
        .set(silence(
            vec![m("a", "=", "c")],
            Some(t + min(5)),
            Some(t + min(10)),
        ))
        .unwrap();
    clock.advance(min(1));
    s.expire(&active).unwrap();
    s.expire(&pending).unwrap();
    let a = s.get(&active).unwrap();
    assert_eq!((a.starts_at, a.ends_at), (Some(t), Some(clock.now())));
    let p = s.get(&pending).unwrap();
    assert_eq!(
        (p.starts_at, p.ends_at),
        (Some(clock.now()), Some(clock.now()))
    );
    // Idempotent on an expired silence.
    clock.advance(min(1));
    s.expire(&active).unwrap();
    assert_eq!(s.get(&active).unwrap().ends_at, Some(clock.now() - min(1)));
    assert_eq!(
        s.get(&active).unwrap().state_at(clock.now()),
        SilenceState::Expired
    );
}

#[test]
fn query_by_ids_matches_and_states() {
    let clock = MockClock::start();
    let s = store(&clock);
    let t = clock.now();
    let a = s
        .set(silence(
            vec![m("job", "=", "api")],
            Some(t),
            Some(t + min(10)),
        ))
        .unwrap();
    let b = s
        .set(silence(
            vec![m("job", "=~", "api|web")],
            Some(t + min(5)),
            Some(t + min(10)),
        ))
        .unwrap();
    let c = s
        .set(silence(
            vec![m("job", "!=", "api"), m("env", "=", "prod")],
            Some(t),
            Some(t + min(10)),
        ))
        .unwrap();
    let ids = |q: SilenceQuery| {
        let mut v: Vec<String> = s.query(&q).into_iter().map(|s| s.id).collect();
        v.sort();
        v
    };
    let sorted = |mut v: Vec<&String>| {
        v.sort();
        v.into_iter().cloned().collect::<Vec<_>>()
    };
    assert_eq!(ids(SilenceQuery::default()), sorted(vec![&a, &b, &c]));
    assert_eq!(
        ids(SilenceQuery {
            ids: Some(vec![b.clone(), "nope".into()]),
            ..Default::default()
        }),
        vec![b.clone()]
    );
    assert_eq!(
        ids(SilenceQuery {
            matches: Some(labels(&[("job", "api")])),
            ..Default::default()
        }),
        sorted(vec![&a, &b])
    );
    assert_eq!(
        ids(SilenceQuery {
            states: Some(vec![SilenceState::Pending]),
            ..Default::default()
        }),
        vec![b.clone()]
    );
    assert_eq!(
        ids(SilenceQuery {
            matches: Some(labels(&[("job", "web"), ("env", "prod")])),
            states: Some(vec![SilenceState::Active]),
            ..Default::default()
        }),
        vec![c.clone()]
    );
    // Muting: only active silences.
    assert_eq!(s.mutes(&labels(&[("job", "api")])), vec![a.clone()]);
    assert!(s.mutes(&labels(&[("job", "db")])).is_empty());
    clock.advance(min(6));
    assert_eq!(s.mutes(&labels(&[("job", "api")])), sorted(vec![&a, &b]));
    clock.advance(min(10));
    assert!(s.mutes(&labels(&[("job", "api")])).is_empty());
}

#[test]
fn gc_after_retention() {
    let clock = MockClock::start();
    let s = store(&clock);
    let t = clock.now();
    let short = s
        .set(silence(vec![m("a", "=", "b")], Some(t), Some(t + min(1))))
        .unwrap();
    let long = s
        .set(silence(vec![m("a", "=", "c")], Some(t), Some(t + min(30))))
        .unwrap();
    clock.advance(min(60));
    assert_eq!(s.gc().unwrap(), 0, "retention is an hour after the end");
    clock.advance(min(1));
    assert_eq!(s.gc().unwrap(), 1);
    assert!(s.get(&short).is_none());
    assert!(s.get(&long).is_some());
}

#[test]
fn limits_refuse_with_upstream_texts() {
    let clock = MockClock::start();
    let s = Silences::new(
        SignedDuration::from_hours(1),
        SilenceLimits {
            max_silences: 2,
            max_silence_bytes: 600,
        },
        clock.clock(),
    );
    let t = clock.now();
    let a = s
        .set(silence(vec![m("a", "=", "1")], None, Some(t + min(5))))
        .unwrap();
    s.set(silence(vec![m("a", "=", "2")], None, Some(t + min(5))))
        .unwrap();
    let err = s
        .set(silence(vec![m("a", "=", "3")], None, Some(t + min(5))))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "exceeded maximum number of silences: 2 (limit: 2)"
    );
    // Updating in place needs no new slot.
    let mut upd = s.get(&a).unwrap();
    upd.ends_at = Some(t + min(9));
    assert_eq!(s.set(upd).unwrap(), a);
    let mut big = s.get(&a).unwrap();
    big.comment = "x".repeat(1000);
    let err = s.set(big).unwrap_err().to_string();
    assert!(
        err.starts_with("silence exceeded maximum size: ") && err.ends_with("(limit: 600 bytes)"),
        "{err}"
    );
}

#[test]
fn hostile_many_silences_and_huge_values() {
    let clock = MockClock::start();
    let s = store(&clock);
    let t = clock.now();
    for i in 0..100_000 {
        s.set(silence(
            vec![m("instance", "=", &format!("host-{i}"))],
            None,
            Some(t + min(10)),
        ))
        .unwrap();
    }
    assert_eq!(s.len(), 100_000);
    let start = std::time::Instant::now();
    assert_eq!(s.mutes(&labels(&[("instance", "host-99999")])).len(), 1);
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    // A huge value is bounded by the size limit; a regex bomb by the
    // compiled size limit; a pathological-looking regex is linear.
    let huge = "v".repeat(2 << 20);
    assert!(matches!(
        s.set(silence(vec![m("a", "=", &huge)], None, Some(t + min(1)))),
        Err(SilenceError::TooLarge { .. })
    ));
    let err = s
        .set(silence(
            vec![m("a", "=~", "((a{100}){100}){100}")],
            None,
            Some(t + min(1)),
        ))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid silence: invalid label matcher 0: invalid regular expression"),
        "{err}"
    );
    let id = s
        .set(silence(
            vec![m("a", "=~", "(a*)*b")],
            None,
            Some(t + min(1)),
        ))
        .unwrap();
    let start = std::time::Instant::now();
    let long = "a".repeat(200_000);
    assert!(!s.mutes(&labels(&[("a", &long)])).contains(&id));
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}

/// 0.34's silence annotations: changing them alone keeps the silence.
#[test]
fn annotations_update_in_place() {
    let clock = MockClock::start();
    let s = store(&clock);
    let mut sil = silence(
        vec![m("job", "=", "test")],
        None,
        Some(clock.now() + min(60)),
    );
    sil.annotations = labels(&[("ticket", "JIRA-123"), ("type", "planned")]);
    let id = s.set(sil).unwrap();
    clock.advance(min(1));
    let mut upd = s.get(&id).unwrap();
    upd.annotations.insert("type".into(), "emergency".into());
    assert_eq!(s.set(upd).unwrap(), id);
    let got = s.get(&id).unwrap();
    assert_eq!(
        got.annotations,
        labels(&[("ticket", "JIRA-123"), ("type", "emergency")])
    );
    assert_eq!(got.updated_at, Some(clock.now()));
}

/// `SortSilences`: active by end, pending by start, expired most recent
/// first.
#[test]
fn api_order() {
    let clock = MockClock::start();
    let s = store(&clock);
    let t = clock.now();
    let mk = |name: &str, start: i64, end: i64| {
        s.set(silence(
            vec![m("n", "=", name)],
            Some(t + min(start)),
            Some(t + min(end)),
        ))
        .unwrap()
    };
    let a_late = mk("a_late", 0, 50);
    let a_soon = mk("a_soon", 0, 20);
    let p_late = mk("p_late", 40, 60);
    let p_soon = mk("p_soon", 10, 60);
    let e_old = mk("e_old", 0, 1);
    let e_new = mk("e_new", 0, 2);
    clock.advance(min(3));
    let mut all = s.query(&SilenceQuery::default());
    sort_for_api(&mut all, clock.now());
    let got: Vec<String> = all.into_iter().map(|s| s.id).collect();
    assert_eq!(got, vec![a_soon, a_late, p_soon, p_late, e_new, e_old]);
}

/// `TestSilenceCanUpdate` (upstream's table; times in minutes from now,
/// `None` is Go's zero time).
#[test]
fn can_update_as_upstream() {
    let now = MockClock::start().now();
    let t = |m: Option<i64>| m.map(|m| now + min(m));
    type Times = (Option<i64>, Option<i64>);
    let cases: [(Times, Times, bool); 9] = [
        // Bad arguments.
        ((None, None), (Some(0), Some(-1)), false),
        // Expired.
        ((Some(-60), Some(-1)), (Some(0), Some(0)), false),
        // Pending: the start may not move into the past.
        ((Some(60), Some(120)), (Some(-1), Some(60)), false),
        ((Some(60), Some(120)), (Some(1), Some(1)), true),
        ((Some(60), Some(120)), (Some(0), Some(120)), true),
        // Active: the start may not move, the end not into the past.
        ((Some(-60), Some(120)), (Some(-1), Some(120)), false),
        ((Some(-60), Some(120)), (Some(-60), Some(-1)), false),
        ((Some(-60), Some(120)), (Some(-60), Some(0)), true),
        ((Some(-60), Some(120)), (Some(-60), Some(180)), true),
    ];
    for (i, ((a_start, a_end), (b_start, b_end), want)) in cases.into_iter().enumerate() {
        let mut a = silence(vec![m("a", "=", "b")], t(a_start), t(a_end));
        a.updated_at = Some(now - min(60));
        let b = silence(vec![m("a", "=", "b")], t(b_start), t(b_end));
        assert_eq!(can_update(&a, &b, now), want, "case {i}");
    }
    // Different matchers never update in place.
    let a = silence(vec![m("a", "=", "b")], t(Some(-60)), t(Some(120)));
    let b = silence(vec![m("a", "=", "c")], t(Some(-60)), t(Some(180)));
    assert!(!can_update(&a, &b, now));
}

/// A huge regular expression is refused by size before it is compiled.
#[test]
fn huge_patterns_refused_before_compiling() {
    let clock = MockClock::start();
    let s = store(&clock);
    let pattern = "(a|b)*c".repeat(2_000_000);
    let start = std::time::Instant::now();
    let err = s
        .set(silence(
            vec![m("a", "=~", &pattern)],
            None,
            Some(clock.now() + min(1)),
        ))
        .unwrap_err();
    assert!(
        matches!(err, SilenceError::TooLarge { limit: 1048576, .. }),
        "{err}"
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
}
