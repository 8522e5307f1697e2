//! The state as a whole: maintenance on intervals, use from several
//! tasks, and a large restart.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{MockClock, labels, m, min};
use jiff::SignedDuration;
use wasmetheus_alertmanager::{Alert, NflogReceiver, Silence, State, StateOptions};

fn options(clock: &MockClock) -> StateOptions {
    StateOptions {
        retention: SignedDuration::from_hours(1),
        clock: clock.clock(),
        ..Default::default()
    }
}

fn silence(name: &str, end: jiff::Timestamp) -> Silence {
    Silence {
        id: String::new(),
        matchers: vec![m("instance", "=", name)],
        starts_at: None,
        ends_at: Some(end),
        updated_at: None,
        created_by: "ops".into(),
        comment: String::new(),
        annotations: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_collects_on_its_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let clock = MockClock::start();
    let st = Arc::new(State::open(&dir.path().join("db"), options(&clock)).unwrap());
    let now = clock.now();
    let mut a = Alert::new(labels(&[("alertname", "x")]));
    a.prepare(now, SignedDuration::from_mins(5));
    st.alerts.put(a).unwrap();
    st.silences.set(silence("a", now + min(1))).unwrap();
    let r = NflogReceiver {
        group_name: "r".into(),
        integration: "webhook".into(),
        idx: 0,
    };
    st.nflog
        .log(&r, "g", vec![1], vec![], SignedDuration::ZERO)
        .unwrap();
    clock.advance(min(120));
    let task = tokio::spawn(
        st.clone()
            .run_maintenance(Duration::from_millis(10), Duration::from_millis(15)),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !(st.alerts.is_empty() && st.silences.is_empty() && st.nflog.is_empty()) {
        assert!(
            std::time::Instant::now() < deadline,
            "maintenance did not collect"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silences_and_log_from_several_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let clock = MockClock::start();
    let st = Arc::new(State::open(&dir.path().join("db"), options(&clock)).unwrap());
    let end = clock.now() + min(30);
    let v0 = st.silences.version();
    let mut tasks = Vec::new();
    for t in 0..4 {
        let st = st.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..250 {
                let name = format!("{t}-{i}");
                let id = st.silences.set(silence(&name, end)).unwrap();
                assert_eq!(
                    st.silences.mutes(&labels(&[("instance", &name)])),
                    vec![id.clone()]
                );
                if i % 2 == 0 {
                    st.silences.expire(&id).unwrap();
                }
                let r = NflogReceiver {
                    group_name: name.clone(),
                    integration: "webhook".into(),
                    idx: t,
                };
                st.nflog
                    .log(&r, "g", vec![i], vec![], SignedDuration::ZERO)
                    .unwrap();
                assert_eq!(st.nflog.query(&r, "g").unwrap().firing_alerts, vec![i]);
                tokio::task::yield_now().await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(st.silences.len(), 1000);
    assert_eq!(st.silences.version() - v0, 1000);
    assert_eq!(st.nflog.len(), 1000);
}

#[test]
fn many_silences_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let clock = MockClock::start();
    let end = clock.now() + min(30);
    {
        // Written in the background (a disk sync per silence would take
        // minutes), then flushed once.
        let st = State::open(
            &path,
            StateOptions {
                sync_writes: false,
                ..options(&clock)
            },
        )
        .unwrap();
        for i in 0..100_000 {
            st.silences.set(silence(&format!("host-{i}"), end)).unwrap();
        }
        st.db.flush().unwrap();
    }
    let start = std::time::Instant::now();
    let st = State::open(&path, options(&clock)).unwrap();
    assert_eq!(st.silences.len(), 100_000);
    assert_eq!(
        st.silences
            .mutes(&labels(&[("instance", "host-4242")]))
            .len(),
        1
    );
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
}
