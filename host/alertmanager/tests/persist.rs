//! Persistence through sled: a restart restores alerts, silences and the
//! notification log; collection removes from disk; an unreadable record
//! is skipped; a database that cannot be opened names its path.

mod common;

use common::{MockClock, labels, m, min};
use jiff::SignedDuration;
use wasmetheus_alertmanager::{
    Alert, NflogReceiver, Silence, SilenceQuery, SilenceState, State, StateOptions,
};

fn options(clock: &MockClock) -> StateOptions {
    StateOptions {
        retention: SignedDuration::from_hours(1),
        clock: clock.clock(),
        ..Default::default()
    }
}

fn recv() -> NflogReceiver {
    NflogReceiver {
        group_name: "team".into(),
        integration: "webhook".into(),
        idx: 0,
    }
}

#[test]
fn restart_restores_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state");
    let clock = MockClock::start();
    let now = clock.now();
    let (alert, sil_id, expired_id) = {
        let st = State::open(&path, options(&clock)).unwrap();
        let mut a = Alert::new(labels(&[("alertname", "Down"), ("job", "api")]));
        a.annotations = labels(&[("summary", "it is down ✓")]);
        a.generator_url = "http://prom/graph".into();
        a.prepare(now, SignedDuration::from_mins(5));
        st.alerts.put(a.clone()).unwrap();
        let sil = Silence {
            id: String::new(),
            matchers: vec![m("job", "=~", "api|web")],
            starts_at: None,
            ends_at: Some(now + min(30)),
            updated_at: None,
            created_by: "bob".into(),
            comment: "deploy".into(),
            annotations: Default::default(),
        };
        let id = st.silences.set(sil.clone()).unwrap();
        let other = st
            .silences
            .set(Silence {
                matchers: vec![m("x", "=", "y")],
                ..sil
            })
            .unwrap();
        st.silences.expire(&other).unwrap();
        st.nflog
            .log(
                &recv(),
                "{}:{alertname=\"Down\"}",
                vec![a.fingerprint().0],
                vec![],
                SignedDuration::ZERO,
            )
            .unwrap();
        st.db.flush().unwrap();
        (a, id, other)
    };
    // An expired silence ends now; it is expired once the clock moves on
    // (upstream's `getState`: after the end).
    clock.advance(SignedDuration::from_secs(1));
    let st = State::open(&path, options(&clock)).unwrap();
    assert_eq!(st.alerts.list(), vec![alert.clone()]);
    let sil = st.silences.get(&sil_id).unwrap();
    assert_eq!(
        (sil.created_by.as_str(), sil.comment.as_str(), sil.starts_at),
        ("bob", "deploy", Some(now))
    );
    assert_eq!(st.silences.mutes(&alert.labels), vec![sil_id.clone()]);
    assert_eq!(
        st.silences
            .query(&SilenceQuery {
                states: Some(vec![SilenceState::Expired]),
                ..Default::default()
            })
            .into_iter()
            .map(|s| s.id)
            .collect::<Vec<_>>(),
        vec![expired_id.clone()]
    );
    let e = st.nflog.query(&recv(), "{}:{alertname=\"Down\"}").unwrap();
    assert_eq!(e.firing_alerts, vec![alert.fingerprint().0]);
    assert_eq!(e.timestamp, now);

    // Collection removes from disk: after a restart they stay gone.
    clock.advance(min(31 + 60));
    st.gc().unwrap();
    assert!(st.alerts.is_empty() && st.silences.is_empty() && st.nflog.is_empty());
    st.db.flush().unwrap();
    drop(st);
    let st = State::open(&path, options(&clock)).unwrap();
    assert!(st.alerts.is_empty() && st.silences.is_empty() && st.nflog.is_empty());
}

#[test]
fn unreadable_records_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state");
    let clock = MockClock::start();
    let id = {
        let st = State::open(&path, options(&clock)).unwrap();
        let id = st
            .silences
            .set(Silence {
                id: String::new(),
                matchers: vec![m("a", "=", "b")],
                starts_at: None,
                ends_at: Some(clock.now() + min(5)),
                updated_at: None,
                created_by: String::new(),
                comment: String::new(),
                annotations: Default::default(),
            })
            .unwrap();
        st.db.flush().unwrap();
        id
    };
    {
        // The state's database lets go of its lock shortly after it is
        // dropped.
        let db = (0..100)
            .find_map(|_| {
                sled::open(&path)
                    .inspect_err(|_| std::thread::sleep(std::time::Duration::from_millis(20)))
                    .ok()
            })
            .unwrap();
        for tree in ["alerts", "silences", "nflog"] {
            let t = db.open_tree(tree).unwrap();
            t.insert(b"garbage", &b"\xff{not json"[..]).unwrap();
            t.insert(b"wrong-shape", &b"{\"labels\": 3}"[..]).unwrap();
        }
        // A silence record that parses but is invalid (no matchers).
        db.open_tree("silences")
            .unwrap()
            .insert(
                b"invalid",
                &br#"{"silence":{"id":"invalid","matchers":[],"starts_at":0,"ends_at":1,"updated_at":0,"created_by":"","comment":""},"expires_at":9}"#[..],
            )
            .unwrap();
        // A time out of range.
        db.open_tree("nflog")
            .unwrap()
            .insert(
                b"far",
                &br#"{"group_key":"g","receiver":{"group_name":"r","integration":"w","idx":0},"timestamp":999999999999999999999999999999,"firing_alerts":[],"resolved_alerts":[],"expires_at":0}"#[..],
            )
            .unwrap();
        db.flush().unwrap();
    }
    let st = State::open(&path, options(&clock)).unwrap();
    assert!(st.alerts.is_empty());
    assert!(st.nflog.is_empty());
    assert_eq!(
        st.silences
            .query(&SilenceQuery::default())
            .into_iter()
            .map(|s| s.id)
            .collect::<Vec<_>>(),
        vec![id]
    );
}

#[test]
fn unopenable_database_names_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-a-dir");
    std::fs::write(&path, b"a file").unwrap();
    let err = State::open(&path, StateOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!(
            "opening the Alertmanager state at {}: ",
            path.display()
        )),
        "{err}"
    );
}

/// Damaged database files: opening either fails with an error naming the
/// path or recovers what is readable; it never panics.
#[test]
fn damaged_database_files_do_not_panic() {
    // (file to damage, damage, whether the open must fail)
    type Damage = fn(&mut Vec<u8>);
    let flip: Damage = |b| b.iter_mut().skip(16).for_each(|x| *x ^= 0x5A);
    let garbage: Damage = |b| *b = vec![0xAB; 4096];
    let truncate: Damage = |b| b.truncate(b.len() / 2);
    let cases: [(&str, Damage, bool); 4] = [
        ("conf", garbage, true),
        ("db", flip, false),
        ("db", garbage, false),
        ("db", truncate, false),
    ];
    for (file, damage, must_fail) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let clock = MockClock::start();
        {
            let st = State::open(&path, options(&clock)).unwrap();
            let mut a = Alert::new(labels(&[("alertname", "x")]));
            a.prepare(clock.now(), SignedDuration::from_mins(5));
            st.alerts.put(a).unwrap();
            st.db.flush().unwrap();
        }
        let target = path.join(file);
        // The database lets go of its files shortly after it is dropped.
        std::thread::sleep(std::time::Duration::from_millis(200));
        let mut bytes = std::fs::read(&target).unwrap();
        damage(&mut bytes);
        std::fs::write(&target, bytes).unwrap();
        match State::open(&path, options(&clock)) {
            Ok(st) => {
                assert!(!must_fail, "{file}: opened");
                assert!(st.alerts.len() <= 1);
            }
            Err(err) => {
                let text = err.to_string();
                assert!(
                    text.starts_with(&format!(
                        "opening the Alertmanager state at {}: ",
                        path.display()
                    )),
                    "{text}"
                );
            }
        }
    }
}
