//! The rule manager on a real tokio runtime with short intervals: groups
//! evaluate on their own, reloads keep unchanged groups' state and keep
//! the old groups when a file is broken, removed groups' series go stale,
//! a group slower than its interval counts missed iterations without
//! piling up, and `stop` returns at once.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmetheus_model::Label;
use wasmetheus_model::storage::{Matcher, Queryable, SelectHints, Storage, is_stale_marker};
use wasmetheus_promql::engine::Engine;
use wasmetheus_promqltest::MemStore;

use wasmetheus_rules::{Manager, ManagerOptions, Rule};

use common::{HookedStore, SelectHook};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("writing a rule file");
    path
}

fn manager(storage: Arc<dyn Storage>) -> Manager {
    Manager::new(ManagerOptions::new(Arc::new(Engine::default()), storage))
}

fn counter(m: &Manager, family: &str) -> f64 {
    m.metrics()
        .iter()
        .filter(|f| f.name == family)
        .flat_map(|f| &f.metrics)
        .map(|m| match m.value {
            wasmetheus_model::MetricValue::Number(v) => v,
            _ => 0.0,
        })
        .sum()
}

fn floats(store: &MemStore, name: &str) -> Vec<f64> {
    store
        .label_sets()
        .into_iter()
        .filter(|l| l.iter().any(|l| l.name == "__name__" && l.value == name))
        .flat_map(|l| {
            store
                .get(&l)
                .map(|d| d.floats.iter().map(|p| p.1).collect::<Vec<_>>())
        })
        .flatten()
        .collect()
}

async fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const RULES: &str = r#"
groups:
  - name: fast
    interval: 50ms
    rules:
      - record: one
        expr: vector(1)
      - alert: Always
        expr: vector(1)
        for: 1h
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_run_reload_keeps_state_and_survives_a_broken_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(dir.path(), "rules.yml", RULES);
    let store = Arc::new(MemStore::new());
    let m = manager(store.clone());
    m.update(
        std::slice::from_ref(&file),
        Duration::from_secs(60),
        Vec::new(),
        "",
    )
    .expect("rules load");
    wait_until("evaluations", || floats(&store, "one").len() >= 3).await;
    let groups = m.groups();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].interval, Duration::from_millis(50));
    let Rule::Alerting(alert) = &groups[0].rules[1] else {
        panic!("the second rule alerts");
    };
    let active_at = alert.active_alerts()[0].active_at_ms;
    assert_eq!(m.alerts().len(), 1);
    let families = m.metrics();
    for (name, kind) in [
        ("prometheus_rule_evaluations_total", "counter"),
        ("prometheus_rule_evaluation_failures_total", "counter"),
        ("prometheus_rule_group_iterations_total", "counter"),
        ("prometheus_rule_group_iterations_missed_total", "counter"),
        ("prometheus_rule_group_interval_seconds", "gauge"),
        ("prometheus_rule_group_last_duration_seconds", "gauge"),
        (
            "prometheus_rule_group_last_evaluation_timestamp_seconds",
            "gauge",
        ),
        ("prometheus_rule_group_last_evaluation_samples", "gauge"),
        ("prometheus_rule_group_rules", "gauge"),
        (
            "prometheus_rule_group_last_restore_duration_seconds",
            "gauge",
        ),
        ("prometheus_rule_evaluation_duration_seconds", "summary"),
        ("prometheus_rule_group_duration_seconds", "summary"),
    ] {
        let family = families
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(family.kind.as_str(false), kind, "{name}");
    }
    let rules = families
        .iter()
        .find(|f| f.name == "prometheus_rule_group_rules")
        .expect("rules gauge");
    assert_eq!(
        rules.metrics[0].labels,
        [Label::new("rule_group", format!("{};fast", file.display()))]
    );
    assert_eq!(counter(&m, "prometheus_rule_group_rules"), 2.0);
    assert_eq!(counter(&m, "prometheus_rule_group_interval_seconds"), 0.05);

    // Reload, unchanged: the alert keeps its start.
    m.update(
        std::slice::from_ref(&file),
        Duration::from_secs(60),
        Vec::new(),
        "",
    )
    .expect("rules load");
    let before = counter(&m, "prometheus_rule_evaluations_total");
    wait_until("more evaluations", || {
        counter(&m, "prometheus_rule_evaluations_total") > before + 4.0
    })
    .await;
    assert_eq!(m.alerts()[0].active_at_ms, active_at);

    // A changed group (a new rule) carries the alert over.
    let changed = RULES.replace(
        "for: 1h",
        "for: 1h\n      - record: two\n        expr: vector(2)",
    );
    write(dir.path(), "rules.yml", &changed);
    m.update(
        std::slice::from_ref(&file),
        Duration::from_secs(60),
        Vec::new(),
        "",
    )
    .expect("rules load");
    assert_eq!(m.groups()[0].rules.len(), 3);
    assert_eq!(m.alerts()[0].active_at_ms, active_at);
    wait_until("the new rule", || !floats(&store, "two").is_empty()).await;

    // A broken file: an error, and the old groups keep running.
    write(
        dir.path(),
        "rules.yml",
        "groups:\n  - name: fast\n    rules:\n      - record: x\n        expr: sum(\n",
    );
    let err = m
        .update(
            std::slice::from_ref(&file),
            Duration::from_secs(60),
            Vec::new(),
            "",
        )
        .expect_err("a broken file");
    assert!(
        err.to_string().contains("could not parse expression"),
        "{err}"
    );
    let before = floats(&store, "two").len();
    wait_until("evaluations after the failed reload", || {
        floats(&store, "two").len() > before + 2
    })
    .await;
    assert_eq!(m.groups()[0].rules.len(), 3);
    m.stop();
}

/// A file listed twice runs its groups once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_listed_twice_runs_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(dir.path(), "rules.yml", RULES);
    let store = Arc::new(MemStore::new());
    let m = manager(store.clone());
    m.update(
        &[file.clone(), file],
        Duration::from_secs(60),
        Vec::new(),
        "",
    )
    .expect("rules load");
    assert_eq!(m.groups().len(), 1);
    wait_until("evaluations", || floats(&store, "one").len() >= 6).await;
    // One task: one sample per evaluation time, no duplicates.
    let data = store
        .get(&[Label::new("__name__", "one")])
        .expect("recorded series");
    assert!(
        data.floats.windows(2).all(|w| w[1].0 - w[0].0 >= 50),
        "{:?}",
        data.floats
    );
    m.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_group_marks_its_series_stale() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(dir.path(), "rules.yml", RULES);
    let store = Arc::new(MemStore::new());
    let m = manager(store.clone());
    m.update(&[file], Duration::from_secs(60), Vec::new(), "")
        .expect("rules load");
    wait_until("evaluations", || !floats(&store, "one").is_empty()).await;
    m.update(&[], Duration::from_secs(60), Vec::new(), "")
        .expect("no rules");
    assert!(m.groups().is_empty());
    wait_until("stale markers", || {
        floats(&store, "one")
            .last()
            .is_some_and(|v| is_stale_marker(*v))
    })
    .await;
    m.stop();
}

/// A store whose every select takes `delay`.
fn slow_store(delay: Duration) -> HookedStore<impl SelectHook> {
    HookedStore::new(
        move |inner: &MemStore, matchers: &[Matcher], hints: &SelectHints| {
            std::thread::sleep(delay);
            inner.select_series(matchers, hints)
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_group_counts_missed_iterations_and_stop_does_not_wait() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "rules.yml",
        "groups:\n  - name: slow\n    interval: 50ms\n    rules:\n      - record: r\n        expr: up\n",
    );
    let store = Arc::new(slow_store(Duration::from_millis(220)));
    {
        let mut app = store.appender();
        app.append(&[Label::new("__name__", "up")], 0, 1.0)
            .expect("append");
        app.commit().expect("commit");
    }
    let m = manager(store.clone());
    m.update(&[file], Duration::from_secs(60), Vec::new(), "")
        .expect("rules load");
    let started = Instant::now();
    wait_until("missed iterations", || {
        counter(&m, "prometheus_rule_group_iterations_missed_total") >= 3.0
    })
    .await;
    // No pile-up: evaluations run one after the other, each taking the
    // store's delay.
    let evaluations = counter(&m, "prometheus_rule_evaluations_total");
    let bound = started.elapsed().as_millis() as f64 / 220.0 + 1.0;
    assert!(
        evaluations <= bound,
        "{evaluations} evaluations in {:?}",
        started.elapsed()
    );
    let iterations = counter(&m, "prometheus_rule_group_iterations_total");
    assert!(
        iterations >= evaluations + 3.0,
        "{iterations} iterations, {evaluations} evaluations"
    );
    // Readers do not wait for the evaluation in progress.
    for _ in 0..5 {
        let reading = Instant::now();
        assert_eq!(m.groups().len(), 1);
        assert!(m.alerts().is_empty());
        assert!(
            reading.elapsed() < Duration::from_millis(100),
            "{:?}",
            reading.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let stopping = Instant::now();
    m.stop();
    assert!(stopping.elapsed() < Duration::from_millis(100));
}

/// A reload that changes a group whose evaluation is in progress waits
/// for that evaluation (to copy its state), but readers of the groups and
/// alerts do not wait for the reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_do_not_wait_for_a_reload_waiting_on_an_evaluation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = |expr: &str| {
        format!(
            "groups:\n  - name: slow\n    interval: 50ms\n    rules:\n      - record: r\n        expr: {expr}\n"
        )
    };
    let file = write(dir.path(), "rules.yml", &rules("up"));
    let store = Arc::new(slow_store(Duration::from_millis(800)));
    let m = Arc::new(manager(store.clone()));
    m.update(
        std::slice::from_ref(&file),
        Duration::from_secs(60),
        Vec::new(),
        "",
    )
    .expect("rules load");
    // An evaluation is under way once the first iteration has started.
    wait_until("an evaluation in progress", || {
        counter(&m, "prometheus_rule_group_iterations_total") >= 1.0
    })
    .await;
    write(dir.path(), "rules.yml", &rules("up * 2"));
    let reloading = {
        let m = m.clone();
        let file = file.clone();
        tokio::task::spawn_blocking(move || {
            m.update(&[file], Duration::from_secs(60), Vec::new(), "")
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..3 {
        let reading = Instant::now();
        assert_eq!(m.groups().len(), 1);
        assert!(m.alerts().is_empty());
        assert!(
            reading.elapsed() < Duration::from_millis(300),
            "a read waited {:?}",
            reading.elapsed()
        );
    }
    reloading.await.expect("joins").expect("reloads");
    m.stop();
}

/// Extreme intervals (the longest Prometheus duration, the shortest)
/// neither panic nor spin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extreme_intervals() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "rules.yml",
        "groups:\n  - name: long\n    interval: 292y\n    rules:\n      - record: a\n        expr: vector(1)\n  - name: short\n    interval: 1ms\n    rules:\n      - record: b\n        expr: vector(1)\n",
    );
    let store = Arc::new(MemStore::new());
    let m = manager(store.clone());
    m.update(&[file], Duration::from_secs(60), Vec::new(), "")
        .expect("rules load");
    wait_until("the short group", || floats(&store, "b").len() >= 5).await;
    assert!(floats(&store, "a").is_empty());
    assert_eq!(
        m.groups()[0].interval,
        Duration::from_secs(292 * 365 * 24 * 3600)
    );
    m.stop();
}

/// What the notify callback heard: evaluation time, expression, number of
/// labels, `endsAt`.
type Sent = (i64, String, usize, Option<i64>);

/// The notify callback hears firing alerts from the group tasks, valid
/// for four resend delays, and not again before the resend delay passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firing_alerts_reach_the_notify_callback() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "rules.yml",
        "groups:\n  - name: n\n    interval: 20ms\n    rules:\n      - alert: Now\n        expr: vector(1)\n",
    );
    let store = Arc::new(MemStore::new());
    let sent: Arc<std::sync::Mutex<Vec<Sent>>> = Arc::default();
    let sink = sent.clone();
    let mut opts = ManagerOptions::new(Arc::new(Engine::default()), store.clone());
    opts.notify = Some(Arc::new(move |ts, expr, alerts| {
        for a in alerts {
            sink.lock()
                .unwrap()
                .push((ts, expr.to_owned(), a.labels.len(), a.ends_at_ms()));
        }
    }));
    let m = Manager::new(opts);
    m.update(&[file], Duration::from_secs(60), Vec::new(), "")
        .expect("rules load");
    // Restored after the second evaluation; evaluations go on.
    wait_until("ALERTS", || floats(&store, "ALERTS").len() >= 3).await;
    let sent = sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "sent once within the resend delay: {sent:?}");
    let (ts, expr, labels, ends_at) = &sent[0];
    assert_eq!(expr, "vector(1)");
    assert_eq!(*labels, 1, "alertname only");
    assert_eq!(*ends_at, Some(ts + 4 * 60_000));
    m.stop();
}
