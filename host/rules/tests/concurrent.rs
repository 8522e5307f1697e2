//! Concurrent rule evaluation (Prometheus' `concurrent-rule-eval`):
//! independent rules of a group run at once within the shared slots (the
//! concurrency is observed by the storage: the most selects in flight at
//! once), a group's own thread runs a rule when no slot is free (as
//! upstream: `n` slots let `n + 1` rules of a group run at once, none let
//! the group run in order), the slots are shared by all groups, and the
//! results (series, stale markers, `ALERTS`, health, errors, counters)
//! are those of evaluation in order.

mod common;

use std::fmt::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wasmetheus_model::Label;
use wasmetheus_model::storage::{Matcher, Queryable, SelectHints, Series, Storage, StorageError};
use wasmetheus_promql::engine::Engine;
use wasmetheus_promqltest::MemStore;

use wasmetheus_rules::{
    ConcurrencyLimit, EvalContext, Group, LoadOptions, Manager, ManagerOptions, Rule, load_groups,
};

use common::{HookedStore, SelectHook};

/// Selects that take `delay`, counting how many run at once.
#[derive(Default)]
struct Counting {
    delay: Duration,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    calls: AtomicUsize,
}

impl SelectHook for Counting {
    fn select(
        &self,
        inner: &MemStore,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<Series>, StorageError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(self.delay);
        let result = inner.select_series(matchers, hints);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

/// A store whose selects take `delay` and which counts how many run at
/// once.
type CountingStore = HookedStore<Counting>;

impl CountingStore {
    fn slow(delay: Duration) -> Self {
        HookedStore::new(Counting {
            delay,
            ..Counting::default()
        })
    }

    fn max(&self) -> usize {
        self.hook.max_in_flight.load(Ordering::SeqCst)
    }
}

fn rule_file(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("rules.yml");
    std::fs::write(&path, text).expect("writing the rule file");
    path
}

fn groups_of(text: &str) -> Vec<Group> {
    let dir = tempfile::tempdir().expect("temp dir");
    load_groups(&[rule_file(&dir, text)], &LoadOptions::default()).expect("the rules load")
}

/// A group of `n` rules, each reading a metric of its own.
fn independent_rules(name: &str, n: usize) -> String {
    let mut text = format!("groups:\n  - name: {name}\n    rules:\n");
    for i in 0..n {
        let _ = write!(text, "      - record: r{i}\n        expr: sum(m{i})\n");
    }
    text
}

/// Labels (name, value), time, value.
type Sample<'a> = (&'a [(&'a str, &'a str)], i64, f64);

fn add(store: &dyn Storage, samples: &[Sample<'_>]) {
    let mut app = store.appender();
    for (labels, t, v) in samples {
        let mut labels: Vec<Label> = labels.iter().map(|(n, v)| Label::new(*n, *v)).collect();
        labels.sort();
        app.append(&labels, *t, *v).expect("appends");
    }
    app.commit().expect("commits");
}

fn eval(group: &mut Group, store: &dyn Storage, engine: &Engine, t: i64) {
    let ctx = EvalContext {
        engine,
        storage: store,
        notify: None,
    };
    group.eval(t, &ctx);
}

/// The most rules of one group running at once, by slots: `None` is the
/// default (in order); as upstream, a rule that finds no free slot runs
/// on the group's own thread, so `n` slots let `n + 1` run.
#[test]
fn independent_rules_run_at_once_within_the_slots() {
    let cases: &[(Option<usize>, usize)] = &[
        (None, 1),
        (Some(0), 1),
        (Some(1), 2),
        (Some(2), 3),
        (Some(5), 6),
        (Some(16), 6),
    ];
    let engine = Engine::default();
    for &(slots, want) in cases {
        let store = CountingStore::slow(Duration::from_millis(60));
        let samples: Vec<(String, f64)> = (0..6).map(|i| (format!("m{i}"), i as f64)).collect();
        for (name, v) in &samples {
            add(&store, &[(&[("__name__", name.as_str())], 0, *v)]);
        }
        let mut group = groups_of(&independent_rules("g", 6)).remove(0);
        let limit = slots.map(ConcurrencyLimit::new);
        group.set_concurrency(limit.clone());
        eval(&mut group, &store, &engine, 1000);
        assert_eq!(store.max(), want, "slots {slots:?}");
        if let Some(limit) = limit {
            assert_eq!(limit.in_use(), 0, "slots {slots:?}: all given back");
        }
        // Every rule ran and recorded its metric's sum.
        for i in 0..6 {
            let labels = vec![Label::new("__name__", format!("r{i}"))];
            let data = store.inner.get(&labels).expect("recorded");
            assert_eq!(data.floats.as_slice(), &[(1000, i as f64)], "r{i}");
        }
        assert_eq!(group.counters().evaluations, 6);
        assert_eq!(group.counters().last_samples, 6);
        // The rules' durations add up to more than the group's when they
        // ran at once (`prometheus_rule_group_last_rule_duration_sum_seconds`
        // over `…_last_duration_seconds`), never more in order.
        let rules: Duration = group
            .rules()
            .iter()
            .map(|r| r.status().evaluation_time)
            .sum();
        if want > 1 {
            assert!(rules > group.evaluation_time(), "slots {slots:?}");
        } else {
            assert!(rules <= group.evaluation_time(), "slots {slots:?}");
        }
    }
}

/// Groups evaluated at the same time share the slots: two groups of
/// four slow rules with two slots run at most four rules at once (the
/// two slots and each group's own thread), and more than one group's.
#[test]
fn the_slots_are_shared_by_all_groups() {
    let engine = Engine::default();
    let store = CountingStore::slow(Duration::from_millis(80));
    let limit = ConcurrencyLimit::new(2);
    let mut groups = groups_of(&format!(
        "{}{}",
        independent_rules("a", 4),
        independent_rules("b", 4).replace("groups:\n", "")
    ));
    assert_eq!(groups.len(), 2);
    for group in &mut groups {
        group.set_concurrency(Some(limit.clone()));
    }
    std::thread::scope(|scope| {
        for group in &mut groups {
            let (store, engine) = (&store, &engine);
            scope.spawn(move || eval(group, store, engine, 1000));
        }
    });
    let max = store.max();
    assert!((3..=4).contains(&max), "at most 2 slots + 2 groups: {max}");
    assert_eq!(limit.in_use(), 0);
}

/// Everything an evaluation leaves: every series (stale markers as
/// `stale`), each rule's health and error, alerts, the group's counters.
fn transcript(group: &Group, store: &MemStore) -> String {
    let mut out = String::new();
    for labels in store.label_sets() {
        let text: Vec<String> = labels
            .iter()
            .map(|l| format!("{}={}", l.name, l.value))
            .collect();
        let data = store.get(&labels).expect("listed");
        let samples: Vec<String> = data
            .floats
            .iter()
            .map(|(t, v)| {
                if wasmetheus_model::storage::is_stale_marker(*v) {
                    format!("{t}:stale")
                } else {
                    format!("{t}:{v}")
                }
            })
            .collect();
        let _ = writeln!(out, "{} {}", text.join(","), samples.join(" "));
    }
    for rule in group.rules() {
        let _ = writeln!(
            out,
            "{} {} {:?}",
            rule.name(),
            rule.health().as_str(),
            rule.last_error()
        );
        if let Rule::Alerting(a) = rule {
            for alert in a.active_alerts() {
                let _ = writeln!(
                    out,
                    "  {:?} {} {}",
                    alert.labels,
                    alert.state.as_str(),
                    alert.active_at_ms
                );
            }
        }
    }
    let c = group.counters();
    let _ = writeln!(
        out,
        "evaluations {} failures {} samples {}",
        c.evaluations, c.failures, c.last_samples
    );
    out
}

/// Groups whose rules read each other (earlier and later ones), read
/// `ALERTS`, fail, write the same series twice and stop producing series:
/// evaluated concurrently they leave what they leave evaluated in order.
#[test]
fn concurrent_evaluation_gives_the_results_of_evaluation_in_order() {
    let groups = [
        (
            "chains, later rules, alerts",
            &[
                "__name__=c 60000:3 120000:3",
                "__name__=reads_later 120000:40 ",
                "__name__=flappy 60000:1 120000:stale",
                "__name__=high_count 60000:2 120000:2",
            ][..],
            r#"groups:
  - name: g
    rules:
      - record: a
        expr: sum(base)
      - record: b
        expr: vector(2)
      - record: reads_later
        expr: later * 10
      - record: c
        expr: a + b
      - record: other
        expr: sum(base) * 3
      - record: later
        expr: c + 1
      - alert: High
        expr: c > 2
      - alert: Pending
        expr: c > 2
        for: 2m
      - record: high_count
        expr: count(ALERTS{alertname=~"High|Pending"})
      - record: flappy
        expr: vector(1) and on() (vector(time()) < 100)
"#,
        ),
        (
            "failures and duplicate series",
            &[
                "dup err Some(\"vector contains metrics with the same labelset",
                "limited err Some(\"exceeded limit of 1 with 2 series\")",
                "x err Some(",
                "__name__=x 60000:1 ",
            ][..],
            r#"groups:
  - name: g
    limit: 1
    rules:
      - record: dup
        expr: m
        labels:
          a: x
      - record: x
        expr: vector(1)
      - record: y
        expr: sum(m)
      - record: x
        expr: vector(2)
      - record: z
        expr: count(m)
      - record: limited
        expr: m
"#,
        ),
    ];
    let engine = Engine::default();
    let base: &[Sample<'_>] = &[
        (&[("__name__", "base")], 0, 1.0),
        (&[("__name__", "m"), ("a", "1")], 0, 1.0),
        (&[("__name__", "m"), ("a", "2")], 0, 2.0),
    ];
    for (name, expected, text) in groups {
        let results: Vec<String> = [None, Some(4)]
            .into_iter()
            .map(|slots| {
                let store = MemStore::new();
                add(&store, base);
                let mut group = groups_of(text).remove(0);
                group.set_concurrency(slots.map(ConcurrencyLimit::new));
                if slots.is_some() {
                    let batches = group.batches().expect("concurrent");
                    assert!(
                        batches.iter().any(|b| b.len() > 1),
                        "{name}: some rules run at once: {batches:?}"
                    );
                }
                let mut out = String::new();
                for t in [60_000, 120_000, 180_000, 240_000] {
                    eval(&mut group, &store, &engine, t);
                    let _ = writeln!(out, "at {t}:\n{}", transcript(&group, &store));
                }
                out
            })
            .collect();
        assert_eq!(results[0], results[1], "{name}");
        // The cases do what they are meant to: rules read the rules before
        // them in the same evaluation (and after them, the last one's),
        // alerts, fail.
        for want in expected {
            assert!(
                results[0].contains(want),
                "{name}: {want} in\n{}",
                results[0]
            );
        }
    }
}

/// The manager with concurrent evaluation on: groups share its slots and
/// record what they record in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manager_evaluates_concurrently_when_asked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = rule_file(
        &dir,
        "groups:\n  - name: g\n    interval: 20ms\n    rules:\n      - record: a\n        expr: vector(1)\n      - record: b\n        expr: vector(2)\n      - record: c\n        expr: a + b\n",
    );
    let store = Arc::new(MemStore::new());
    let mut opts = ManagerOptions::new(Arc::new(Engine::default()), store.clone());
    opts.concurrent_evals = Some(4);
    let m = Manager::new(opts);
    m.update(&[file], Duration::from_secs(60), Vec::new(), "")
        .expect("rules load");
    let c = vec![Label::new("__name__", "c")];
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store.get(&c).is_none_or(|d| d.floats.len() < 2) {
        assert!(std::time::Instant::now() < deadline, "c was not recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let data = store.get(&c).expect("recorded");
    assert!(data.floats.iter().all(|(_, v)| *v == 3.0), "{data:?}");
    // `c` ran after `a` and `b` within the first evaluation already (had it
    // run beside them, it would have found nothing to add then).
    let a = store
        .get(&[Label::new("__name__", "a")])
        .expect("a recorded");
    assert_eq!(
        data.floats.first().map(|s| s.0),
        a.floats.first().map(|s| s.0)
    );
    m.stop();
}

/// `shutdown` returns only once the evaluation in progress has ended (no
/// rule reads or appends after it, as Prometheus waits for its groups
/// before the storage closes), while `stop` alone returns at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_the_evaluation_in_progress() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = rule_file(
        &dir,
        "groups:\n  - name: g\n    interval: 10ms\n    rules:\n      - record: a\n        expr: up\n      - record: b\n        expr: up\n      - record: c\n        expr: up\n",
    );
    let store = Arc::new(CountingStore::slow(Duration::from_millis(150)));
    let m = Manager::new(ManagerOptions::new(
        Arc::new(Engine::default()),
        store.clone(),
    ));
    m.update(&[file], Duration::from_secs(60), Vec::new(), "")
        .expect("rules load");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store.hook.in_flight.load(Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no evaluation started"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    m.shutdown().await;
    assert_eq!(store.hook.in_flight.load(Ordering::SeqCst), 0);
    // Nothing starts afterwards either, not even through a late reload.
    let before = store.hook.calls.load(Ordering::SeqCst);
    let other = dir.path().join("other.yml");
    std::fs::write(
        &other,
        "groups:\n  - name: h\n    interval: 10ms\n    rules:\n      - record: d\n        expr: up\n",
    )
    .expect("writing the rule file");
    m.update(&[other], Duration::from_secs(60), Vec::new(), "")
        .expect("a reload after the shutdown is refused quietly");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(store.hook.in_flight.load(Ordering::SeqCst), 0);
    assert_eq!(store.hook.calls.load(Ordering::SeqCst), before);
}
