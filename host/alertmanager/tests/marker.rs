//! Alert statuses (`types.MemMarker`) and the silencer's cached muting
//! (`silence.Silencer`).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{MockClock, labels, m, min};
use jiff::SignedDuration;
use wasmetheus_alertmanager::{
    Alert, AlertState, Inhibitor, Marker, Silence, SilenceLimits, Silencer, Silences, fingerprint,
};
use wasmetheus_alertmanager_config::InhibitRule;

fn silence(job: &str, start: jiff::Timestamp, end: jiff::Timestamp) -> Silence {
    Silence {
        id: String::new(),
        matchers: vec![m("job", "=", job)],
        starts_at: Some(start),
        ends_at: Some(end),
        updated_at: None,
        created_by: String::new(),
        comment: String::new(),
        annotations: Default::default(),
    }
}

#[test]
fn statuses_as_mem_marker() {
    let marker = Marker::new();
    let fp = fingerprint(&labels(&[("a", "b")]));
    let s = marker.status(fp);
    assert_eq!(
        (s.state, s.silenced_by.len(), s.inhibited_by.len()),
        (AlertState::Unprocessed, 0, 0)
    );
    marker.set_active_or_silenced(fp, 1, vec![], vec!["p".into()]);
    assert_eq!(marker.status(fp).state, AlertState::Active);
    marker.set_inhibited(fp, vec!["0000000000000001".into()]);
    assert_eq!(marker.status(fp).state, AlertState::Suppressed);
    marker.set_active_or_silenced(fp, 2, vec!["s".into()], vec![]);
    marker.set_inhibited(fp, vec![]);
    let s = marker.status(fp);
    assert_eq!(
        (s.state, s.silenced_by.clone()),
        (AlertState::Suppressed, vec!["s".to_string()])
    );
    marker.set_active_or_silenced(fp, 2, vec![], vec![]);
    assert_eq!(marker.status(fp).state, AlertState::Active);
    assert_eq!(marker.count(&[AlertState::Active]), 1);
    assert_eq!(marker.count(&[AlertState::Suppressed]), 0);
    marker.delete(fp);
    assert_eq!(marker.status(fp).state, AlertState::Unprocessed);
    assert_eq!(marker.count(&[]), 0);
}

#[test]
fn silencer_follows_new_expired_and_starting_silences() {
    let clock = MockClock::start();
    let silences = Arc::new(Silences::new(
        SignedDuration::from_hours(1),
        SilenceLimits::default(),
        clock.clock(),
    ));
    let marker = Arc::new(Marker::new());
    let silencer = Silencer::new(silences.clone(), marker.clone());
    let api = labels(&[("job", "api")]);
    let fp = fingerprint(&api);
    let t = clock.now();

    assert!(!silencer.mutes(&api));
    assert_eq!(marker.status(fp).state, AlertState::Active);

    // A new silence changes the version: found by a full look.
    let id = silences.set(silence("api", t, t + min(10))).unwrap();
    assert!(silencer.mutes(&api));
    let s = marker.status(fp);
    assert_eq!(
        (s.state, s.silenced_by.clone()),
        (AlertState::Suppressed, vec![id.clone()])
    );
    assert_eq!(s.silences_version, silences.version());

    // Expiring it does not change the version: the known ids are checked.
    silences.expire(&id).unwrap();
    clock.advance(SignedDuration::from_secs(1));
    assert!(!silencer.mutes(&api));
    assert_eq!(marker.status(fp).state, AlertState::Active);

    // A pending silence is remembered and mutes once it starts.
    let t = clock.now();
    let pending = silences
        .set(silence("api", t + min(5), t + min(10)))
        .unwrap();
    assert!(!silencer.mutes(&api));
    assert_eq!(marker.status(fp).pending_silences, vec![pending.clone()]);
    clock.advance(min(6));
    assert!(silencer.mutes(&api));
    assert_eq!(marker.status(fp).silenced_by, vec![pending]);

    // A silence for other alerts does not mute this one.
    let other = labels(&[("job", "db")]);
    assert!(!silencer.mutes(&other));
}

#[test]
fn inhibition_is_marked_with_the_source() {
    let now = MockClock::start().now();
    let rule = InhibitRule {
        source_match: BTreeMap::from([("severity".to_string(), "critical".to_string())]),
        target_match: BTreeMap::from([("severity".to_string(), "warning".to_string())]),
        equal: vec!["instance".into()],
        ..Default::default()
    };
    let ih = Inhibitor::new(&[rule]);
    let mut source = Alert::new(labels(&[("severity", "critical"), ("instance", "a")]));
    source.starts_at = Some(now - min(1));
    source.ends_at = Some(now + min(5));
    ih.observe(&source);
    let marker = Marker::new();
    let target = labels(&[("severity", "warning"), ("instance", "a")]);
    assert!(ih.mutes_marking(&target, &marker, now));
    let s = marker.status(fingerprint(&target));
    assert_eq!(
        (s.state, s.inhibited_by.clone()),
        (
            AlertState::Suppressed,
            vec![source.fingerprint().to_string()]
        )
    );
    // Once the source resolves, the target is active again.
    assert!(!ih.mutes_marking(&target, &marker, now + min(5)));
    assert_eq!(
        marker.status(fingerprint(&target)).state,
        AlertState::Active
    );
}

/// `TestSilencer`, including issue #2426 (a silence that becomes active
/// without a new silence being added).
#[test]
fn silencer_as_upstream() {
    let clock = MockClock::start();
    let ss = Arc::new(Silences::new(
        SignedDuration::from_hours(1),
        SilenceLimits::default(),
        clock.clock(),
    ));
    let s = Silencer::new(ss.clone(), Arc::new(Marker::new()));
    let foo_bar = labels(&[("foo", "bar")]);
    let sil = |matcher, start, end| Silence {
        id: String::new(),
        matchers: vec![matcher],
        starts_at: Some(start),
        ends_at: Some(end),
        updated_at: None,
        created_by: String::new(),
        comment: String::new(),
        annotations: Default::default(),
    };
    let now = clock.now();
    assert!(!s.mutes(&foo_bar), "not silenced without any silences");
    ss.set(sil(m("foo", "=", "baz"), now - min(60), now + min(5)))
        .unwrap();
    assert!(!s.mutes(&foo_bar), "not silenced by a non-matching silence");
    let id = ss
        .set(sil(m("foo", "=", "bar"), now - min(60), now + min(5)))
        .unwrap();
    assert!(s.mutes(&foo_bar), "silenced by a matching silence");
    clock.advance(min(60));
    let now = clock.now();
    assert!(!s.mutes(&foo_bar), "not silenced by an expired silence");
    // Updating the expired silence to start in the future makes a new one.
    let mut upd = sil(m("foo", "=", "bar"), now + min(60), now + min(180));
    upd.id = id;
    ss.set(upd).unwrap();
    assert!(!s.mutes(&foo_bar), "not silenced by a future silence");
    clock.advance(min(120));
    let now = clock.now();
    assert!(
        s.mutes(&foo_bar),
        "silenced by the silence once active (#2426)"
    );
    ss.set(sil(m("foo", "=~", "b.."), now + min(60), now + min(180)))
        .unwrap();
    assert!(s.mutes(&foo_bar), "still silenced by the active silence");
    clock.advance(min(120));
    assert!(
        s.mutes(&foo_bar),
        "silenced by the overlapping second silence"
    );
}
