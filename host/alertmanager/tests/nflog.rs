//! The notification log (`nflog/nflog_test.go`): log, query, expiry,
//! collection and the bound on entries.

mod common;

use common::{MockClock, min};
use jiff::SignedDuration;
use wasmetheus_alertmanager::{NflogError, NflogReceiver, NotificationLog, state_key};

fn recv(name: &str, integration: &str, idx: u32) -> NflogReceiver {
    NflogReceiver {
        group_name: name.into(),
        integration: integration.into(),
        idx,
    }
}

#[test]
fn keys_as_upstream() {
    assert_eq!(recv("team-X", "webhook", 2).key(), "team-X/webhook/2");
    assert_eq!(
        state_key("{}:{alertname=\"x\"}", &recv("r", "email", 0)),
        "{}:{alertname=\"x\"}:r/email/0"
    );
}

#[test]
fn log_query_and_gc() {
    let clock = MockClock::start();
    let log = NotificationLog::new(SignedDuration::from_hours(1), 0, clock.clock());
    let r = recv("r", "webhook", 0);
    assert!(matches!(log.query(&r, "g"), Err(NflogError::NotFound)));
    log.log(&r, "g", vec![1, 2, 3], vec![4], SignedDuration::ZERO)
        .unwrap();
    let e = log.query(&r, "g").unwrap();
    assert_eq!(
        (e.firing_alerts.clone(), e.resolved_alerts.clone()),
        (vec![1, 2, 3], vec![4])
    );
    assert_eq!(e.timestamp, clock.now());
    assert_eq!(e.expires_at, clock.now() + min(60));
    assert!(e.is_firing_subset(&[1, 3]) && !e.is_firing_subset(&[1, 5]));
    assert!(e.is_resolved_subset(&[4]) && !e.is_resolved_subset(&[1]));
    // Another receiver integration or group is a separate entry.
    assert!(log.query(&recv("r", "webhook", 1), "g").is_err());
    assert!(log.query(&r, "h").is_err());
    // A shorter positive expiry wins over the retention; a longer one not.
    log.log(&recv("r", "email", 0), "g", vec![], vec![], min(10))
        .unwrap();
    assert_eq!(
        log.query(&recv("r", "email", 0), "g").unwrap().expires_at,
        clock.now() + min(10)
    );
    log.log(&recv("r", "slack", 0), "g", vec![], vec![], min(600))
        .unwrap();
    assert_eq!(
        log.query(&recv("r", "slack", 0), "g").unwrap().expires_at,
        clock.now() + min(60)
    );
    // A new log replaces the entry.
    clock.advance(min(5));
    log.log(&r, "g", vec![2], vec![], SignedDuration::ZERO)
        .unwrap();
    let e = log.query(&r, "g").unwrap();
    assert_eq!((e.firing_alerts, e.timestamp), (vec![2], clock.now()));
    // Collection at `expires_at` (inclusive).
    clock.advance(min(5));
    assert_eq!(log.gc().unwrap(), 1);
    assert!(log.query(&recv("r", "email", 0), "g").is_err());
    clock.advance(min(55));
    assert_eq!(log.gc().unwrap(), 2);
    assert!(log.is_empty());
}

#[test]
fn newer_entry_is_kept() {
    let clock = MockClock::start();
    let log = NotificationLog::new(SignedDuration::from_hours(1), 0, clock.clock());
    let r = recv("r", "webhook", 0);
    clock.advance(min(1));
    log.log(&r, "g", vec![1], vec![], SignedDuration::ZERO)
        .unwrap();
    // The clock going back (skew) does not overwrite a newer entry.
    clock.advance(min(-1));
    log.log(&r, "g", vec![9], vec![], SignedDuration::ZERO)
        .unwrap();
    assert_eq!(log.query(&r, "g").unwrap().firing_alerts, vec![1]);
}

/// Beyond the bound, entries without firing alerts go first, then the
/// oldest.
#[test]
fn bound_evicts_resolved_then_oldest() {
    let clock = MockClock::start();
    let log = NotificationLog::new(SignedDuration::from_hours(1), 3, clock.clock());
    let r = recv("r", "webhook", 0);
    let steps: [(&str, Vec<u64>); 3] = [
        ("old-firing", vec![1]),
        ("resolved", vec![]),
        ("new-firing", vec![2]),
    ];
    for (g, firing) in steps {
        log.log(&r, g, firing, vec![7], SignedDuration::ZERO)
            .unwrap();
        clock.advance(min(1));
    }
    log.log(&r, "newest", vec![3], vec![], SignedDuration::ZERO)
        .unwrap();
    assert!(log.query(&r, "resolved").is_err());
    assert_eq!(log.len(), 3);
    clock.advance(min(1));
    log.log(&r, "newer", vec![4], vec![], SignedDuration::ZERO)
        .unwrap();
    assert!(log.query(&r, "old-firing").is_err());
    for g in ["new-firing", "newest", "newer"] {
        assert!(log.query(&r, g).is_ok(), "{g}");
    }
}
