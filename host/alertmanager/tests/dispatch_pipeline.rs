//! The notification pipeline under the dispatcher: inhibition, silences
//! and time intervals mute (`TestMuteStage*`), retries with backoff
//! bounded by the flush's deadline (`TestRetryStage*`), integrations that
//! fail or hang, deduplication across a restart over persisted state,
//! and hostile volumes.

mod dispatch_support;

use std::sync::Arc;
use std::time::Duration;

use dispatch_support::{Behaviour, Parts, Recorder, Sent, at, tokio_clock};
use tokio::time::Instant;
use wasmetheus_alertmanager::dispatch::{Backoff, Integration};
use wasmetheus_alertmanager::{
    AlertState, Silence, SilenceMatcher, State, StateOptions, fingerprint,
};
use wasmetheus_alertmanager_config::MatchType;

/// Group keys and alerts sent, sorted (groups flush concurrently).
fn keys_and_alerts(sent: &[Sent]) -> Vec<(String, Vec<String>)> {
    let mut list: Vec<(String, Vec<String>)> = sent
        .iter()
        .map(|s| (s.group_key.clone(), s.alerts.clone()))
        .collect();
    list.sort();
    list
}

fn owned(list: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    list.iter()
        .map(|(k, a)| (k.to_string(), a.iter().map(|s| s.to_string()).collect()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn inhibited_alerts_are_muted_and_marked() {
    let start = Instant::now();
    let parts = Parts::in_memory(
        r#"
route:
  receiver: r
  group_by: [severity]
  group_wait: 30s
inhibit_rules:
- source_matchers: [severity="critical"]
  target_matchers: [severity="warning"]
  equal: [alertname]
receivers:
- name: r
"#,
        tokio_clock(start),
    );
    let rec = Recorder::new(start, true, Behaviour::Ok);
    let d = parts.dispatcher(rec.clone(), 0);
    let crit = [
        ("alertname", "A"),
        ("severity", "critical"),
        ("instance", "1"),
    ];
    let warn = [
        ("alertname", "A"),
        ("severity", "warning"),
        ("instance", "2"),
    ];
    // Not inhibited: a different alertname (equal label differs).
    let other = [
        ("alertname", "B"),
        ("severity", "warning"),
        ("instance", "3"),
    ];
    parts.put(&crit, false);
    parts.put(&warn, false);
    parts.put(&other, false);
    at(start, 31.0).await;
    assert_eq!(
        keys_and_alerts(&rec.sent()),
        owned(&[
            (r#"{}:{severity="critical"}"#, &["1:firing"]),
            (r#"{}:{severity="warning"}"#, &["3:firing"]),
        ])
    );
    let status = parts
        .marker
        .status(fingerprint(&dispatch_support::labels(&warn)));
    assert_eq!(status.state, AlertState::Suppressed);
    assert_eq!(
        status.inhibited_by,
        vec![fingerprint(&dispatch_support::labels(&crit)).to_string()]
    );
    d.stop();
}

#[tokio::test(start_paused = true)]
async fn silenced_alerts_are_muted_until_the_silence_expires() {
    let start = Instant::now();
    let clock = tokio_clock(start);
    let parts = Parts::in_memory(
        "
route:
  receiver: r
  group_by: [alertname]
  group_wait: 30s
  group_interval: 1m
receivers:
- name: r
",
        clock.clone(),
    );
    let now = clock();
    parts
        .silences
        .set(Silence {
            id: String::new(),
            matchers: vec![SilenceMatcher::new(MatchType::Equal, "instance", "1")],
            starts_at: Some(now),
            ends_at: Some(now + jiff::SignedDuration::from_secs(100)),
            updated_at: None,
            created_by: "ops".into(),
            comment: "maintenance".into(),
            annotations: Default::default(),
        })
        .unwrap();
    let rec = Recorder::new(start, true, Behaviour::Ok);
    let d = parts.dispatcher(rec.clone(), 0);
    parts.put(&[("alertname", "A"), ("instance", "1")], false);
    parts.put(&[("alertname", "A"), ("instance", "2")], false);
    at(start, 200.0).await;
    let key = r#"{}:{alertname="A"}"#;
    assert_eq!(
        rec.sent(),
        vec![
            Sent {
                at_ms: 30_000,
                group_key: key.into(),
                alerts: vec!["2:firing".into()]
            },
            // The silence ended at 100; the tick at 150 sends the alert.
            Sent {
                at_ms: 150_000,
                group_key: key.into(),
                alerts: vec!["1:firing".into(), "2:firing".into()]
            },
        ]
    );
    d.stop();
}

#[tokio::test(start_paused = true)]
async fn mute_and_active_time_intervals() {
    // The clock starts at 12:00 UTC, inside `days` and outside `nights`.
    let start = Instant::now();
    let parts = Parts::in_memory(
        r#"
time_intervals:
- name: nights
  time_intervals:
  - times: [{start_time: "00:00", end_time: "06:00"}]
- name: days
  time_intervals:
  - times: [{start_time: "09:00", end_time: "17:00"}]
route:
  receiver: r
  group_by: [team]
  group_wait: 10s
  routes:
  - matchers: [team="a"]
    mute_time_intervals: [days]
  - matchers: [team="b"]
    mute_time_intervals: [nights]
  - matchers: [team="c"]
    active_time_intervals: [days]
  - matchers: [team="d"]
    active_time_intervals: [nights]
receivers:
- name: r
"#,
        tokio_clock(start),
    );
    let rec = Recorder::new(start, true, Behaviour::Ok);
    let d = parts.dispatcher(rec.clone(), 0);
    for team in ["a", "b", "c", "d"] {
        parts.put(
            &[("alertname", "A"), ("team", team), ("instance", team)],
            false,
        );
    }
    at(start, 11.0).await;
    let mut got: Vec<Vec<String>> = rec.sent().into_iter().map(|s| s.alerts).collect();
    got.sort();
    assert_eq!(
        got,
        vec![vec!["b:firing".to_string()], vec!["c:firing".to_string()]]
    );
    d.stop();
}

/// The times of the attempts a retrying integration makes from `t0`
/// until `deadline` (both in seconds), by the backoff without jitter.
fn attempt_count(deadline: f64) -> u32 {
    let b = Backoff {
        randomization: 0.0,
        ..Backoff::default()
    };
    let (mut t, mut n) = (0.0, 0u32);
    loop {
        n += 1;
        t += b.wait(n - 1, 0).as_secs_f64();
        if t >= deadline {
            return n;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn retries_with_backoff_until_success() {
    let start = Instant::now();
    let parts = Parts::in_memory(
        "route: {receiver: r, group_wait: 30s}\nreceivers: [{name: r}]\n",
        tokio_clock(start),
    );
    let rec = Recorder::new(start, true, Behaviour::FailTimes(2));
    let d = parts.dispatcher(rec.clone(), 0);
    parts.put(&[("alertname", "A")], false);
    at(start, 40.0).await;
    // Failed at 30 and 30.5, succeeded at 31.25 (500ms, then ×1.5).
    let sent = rec.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].at_ms, 31_250);
    assert_eq!(rec.attempts.load(std::sync::atomic::Ordering::SeqCst), 3);
    let m = &d.metrics().snapshot()["webhook"];
    assert_eq!(
        (
            m.notifications,
            m.notifications_failed,
            m.requests,
            m.requests_failed
        ),
        (1, 0, 3, 2)
    );
    // Paused time: every request took no time.
    assert_eq!((m.latency_count, m.latency_buckets[0]), (3, 3));
    d.stop();
}

#[tokio::test(start_paused = true)]
async fn an_always_failing_integration_stops_retrying_at_the_deadline_and_the_group_continues() {
    let start = Instant::now();
    let parts = Parts::in_memory(
        "route: {receiver: r, group_wait: 30s, group_interval: 1m}\nreceivers: [{name: r}]\n",
        tokio_clock(start),
    );
    let rec = Recorder::new(start, true, Behaviour::AlwaysFail { retryable: true });
    let d = parts.dispatcher(rec.clone(), 0);
    parts.put(&[("alertname", "A")], false);
    let attempts = || rec.attempts.load(std::sync::atomic::Ordering::SeqCst);
    at(start, 89.9).await;
    // The flush at 30 retries within its deadline, group_interval (60s).
    let first = attempt_count(60.0);
    assert_eq!(attempts(), first);
    at(start, 90.1).await;
    // The group goes on: its next tick at 90 tries again.
    assert_eq!(attempts(), first + 1);
    // The alert stays (a failed flush removes nothing).
    assert_eq!(d.groups().len(), 1);
    let m = &d.metrics().snapshot()["webhook"];
    assert_eq!(
        (
            m.notifications,
            m.notifications_failed,
            m.requests,
            m.requests_failed
        ),
        (2, 1, u64::from(first) + 1, u64::from(first) + 1)
    );
    d.stop();
}

#[tokio::test(start_paused = true)]
async fn a_non_retryable_error_is_not_retried() {
    let start = Instant::now();
    let parts = Parts::in_memory(
        "route: {receiver: r, group_wait: 30s, group_interval: 1m}\nreceivers: [{name: r}]\n",
        tokio_clock(start),
    );
    let rec = Recorder::new(start, true, Behaviour::AlwaysFail { retryable: false });
    let d = parts.dispatcher(rec.clone(), 0);
    parts.put(&[("alertname", "A")], false);
    at(start, 89.0).await;
    assert_eq!(rec.attempts.load(std::sync::atomic::Ordering::SeqCst), 1);
    at(start, 151.0).await;
    assert_eq!(rec.attempts.load(std::sync::atomic::Ordering::SeqCst), 3);
    d.stop();
}

#[tokio::test(start_paused = true)]
async fn a_hanging_integration_is_cut_at_the_deadline_and_blocks_no_other_group() {
    let start = Instant::now();
    let parts = Parts::in_memory(
        r#"
route:
  receiver: ok
  group_by: [alertname]
  group_wait: 30s
  group_interval: 1m
  routes:
  - matchers: [alertname="hang"]
    receiver: hang
receivers:
- name: ok
- name: hang
"#,
        tokio_clock(start),
    );
    let hang = Recorder::new(start, true, Behaviour::Hang);
    let ok = Recorder::new(start, true, Behaviour::Ok);
    let d = parts.dispatcher_with(
        &[
            ("hang".to_string(), hang.clone() as Arc<dyn Integration>),
            ("ok".to_string(), ok.clone() as Arc<dyn Integration>),
        ],
        0,
    );
    parts.put(&[("alertname", "hang")], false);
    parts.put(&[("alertname", "fine")], false);
    at(start, 31.0).await;
    assert_eq!(ok.sent().len(), 1);
    let attempts = || hang.attempts.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(attempts(), 1);
    at(start, 89.0).await;
    assert_eq!(attempts(), 1);
    // Cut at 90 (group_interval), tried again at the tick.
    at(start, 91.0).await;
    assert_eq!(attempts(), 2);
    assert!(hang.sent().is_empty());
    d.stop();
}

const RESTART: &str = "
route:
  receiver: r
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
receivers:
- name: r
";

/// Runs a dispatcher over the state in `dir` from `from` to `to` seconds,
/// putting the alert at `put_at` if given; returns what it sent.
async fn run_over_state(
    dir: &std::path::Path,
    start: Instant,
    from: f64,
    to: f64,
    put: bool,
) -> Vec<Sent> {
    at(start, from).await;
    let state = State::open(
        dir,
        StateOptions {
            clock: tokio_clock(start),
            ..StateOptions::default()
        },
    )
    .unwrap();
    let parts = Parts::from_state(RESTART, &state, tokio_clock(start));
    let rec = Recorder::new(start, true, Behaviour::Ok);
    let d = parts.dispatcher(rec.clone(), 0);
    if put {
        parts.put(&[("alertname", "A")], false);
    }
    at(start, to).await;
    d.stop();
    drop(parts);
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    state.db.flush().unwrap();
    drop(state);
    rec.sent()
}

#[tokio::test(start_paused = true)]
async fn a_restart_inside_group_wait_sends_exactly_one_notification() {
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let first = run_over_state(dir.path(), start, 0.0, 10.0, true).await;
    assert_eq!(first, vec![]);
    // The restored alert waits a full group_wait in the new group.
    let second = run_over_state(dir.path(), start, 10.0, 1000.0, false).await;
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].at_ms, 40_000);
}

#[tokio::test(start_paused = true)]
async fn a_restart_after_a_notification_does_not_repeat_it() {
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let first = run_over_state(dir.path(), start, 0.0, 60.0, true).await;
    assert_eq!(first.len(), 1);
    // The restored alert is older than group_wait: the new group flushes
    // at once, and the persisted notification log deduplicates it.
    let second = run_over_state(dir.path(), start, 60.0, 1000.0, false).await;
    assert_eq!(second, vec![]);
}

#[tokio::test(start_paused = true)]
async fn hostile_100k_alerts_into_10k_groups() {
    let start = Instant::now();
    let parts = Parts::in_memory(
        "route: {receiver: r, group_by: [g], group_wait: 30s}\nreceivers: [{name: r}]\n",
        tokio_clock(start),
    );
    let rec = Recorder::new(start, true, Behaviour::Ok);
    let d = parts.dispatcher(rec.clone(), 0);
    let wall = std::time::Instant::now();
    for i in 0..100_000u32 {
        let g = (i % 10_000).to_string();
        let inst = i.to_string();
        parts.put(&[("alertname", "A"), ("g", &g), ("instance", &inst)], false);
        if i % 1000 == 0 {
            tokio::task::yield_now().await;
        }
    }
    at(start, 1.0).await;
    assert_eq!(d.group_count(), 10_000);
    at(start, 31.0).await;
    let sent = rec.sent();
    assert_eq!(sent.len(), 10_000);
    assert!(sent.iter().all(|s| s.alerts.len() == 10));
    assert!(
        wall.elapsed() < Duration::from_secs(120),
        "{:?}",
        wall.elapsed()
    );
    d.stop();
}

#[tokio::test(start_paused = true)]
async fn the_group_limit_drops_alerts_of_new_groups() {
    let start = Instant::now();
    let parts = Parts::in_memory(
        "route: {receiver: r, group_by: [g], group_wait: 30s}\nreceivers: [{name: r}]\n",
        tokio_clock(start),
    );
    let rec = Recorder::new(start, true, Behaviour::Ok);
    let d = parts.dispatcher(rec.clone(), 100);
    for i in 0..1000u32 {
        let g = i.to_string();
        parts.put(&[("alertname", "A"), ("g", &g)], false);
    }
    at(start, 31.0).await;
    assert_eq!(d.group_count(), 100);
    assert_eq!(rec.sent().len(), 100);
    d.stop();
}
