//! For-state restore after a restart (Prometheus' `RestoreForState`), as
//! a table: the `ALERTS_FOR_STATE` history the previous run left (one
//! value a minute from 0), the restart time, and the `active_at` the
//! alert gets: shifted by the downtime, moved so it fires no sooner than
//! the grace period, kept when it was already firing, or left at the
//! restart when the history is stale or older than the outage tolerance.

use std::path::PathBuf;
use std::time::Duration;

use wasmetheus_model::storage::Storage;
use wasmetheus_promql::engine::Engine;
use wasmetheus_promql::value::SampleValue;
use wasmetheus_promqltest::MemStore;
use wasmetheus_promqltest::series::parse_series;
use wasmetheus_rules::{EvalContext, LoadOptions, Rule, load_groups_restoring};

const MINUTE: i64 = 60_000;

const RULES: &str = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up{job=\"x\"} == 0\n        for: 30m\n      - alert: Quick\n        expr: up{job=\"x\"} == 0\n        for: 5m\n";

/// (what, history of `ALERTS_FOR_STATE{alertname="A",job="x"}`, restart
/// minute, expected `active_at` minute of A).
const CASES: &[(&str, &str, i64, i64)] = &[
    // Pending 10m, down 10m: 20m left, shifted by the 10m downtime.
    ("shifted by the downtime", "0x10", 20, 10),
    // Pending 25m, 5m left (< 10m grace): fires 10m after the restart.
    ("grace period", "0x25", 30, 10),
    // Already firing when it went down: keeps its start.
    ("was firing", "0x35", 40, 0),
    // Last sample more than the outage tolerance (1h) ago: not restored.
    ("outage too long", "0x10", 80, 80),
    // Resolved before the restart: not restored.
    ("stale", "0x10 stale", 20, 20),
];

#[test]
fn for_state_is_restored_as_upstream() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file: PathBuf = dir.path().join("rules.yml");
    std::fs::write(&file, RULES).expect("write");
    let engine = Engine::default();
    let mut failures = Vec::new();
    for (what, history, restart, want) in CASES {
        let store = MemStore::new();
        {
            let mut app = store.appender();
            let mut write = |line: &str| {
                let series = parse_series(line).expect("series");
                for (i, v) in series.values.iter().enumerate() {
                    if let Some(SampleValue::Float(v)) = v {
                        app.append(&series.labels, i as i64 * MINUTE, *v)
                            .expect("append");
                    }
                }
            };
            write(&format!(
                "ALERTS_FOR_STATE{{alertname=\"A\",job=\"x\"}} {history}"
            ));
            write(&format!("up{{job=\"x\"}} 0x{}", restart + 5));
            app.commit().expect("commit");
        }
        let mut groups =
            load_groups_restoring(std::slice::from_ref(&file), &LoadOptions::default(), true)
                .expect("loads");
        let ctx = EvalContext {
            engine: &engine,
            storage: &store,
            notify: None,
        };
        let ts = restart * MINUTE;
        let g = &mut groups[0];
        g.eval(ts, &ctx);
        // Not restored yet: no ALERTS written.
        if store
            .label_sets()
            .iter()
            .any(|l| l.iter().any(|l| l.value == "ALERTS"))
        {
            failures.push(format!("{what}: ALERTS written before the restore"));
        }
        g.restore_for_state(
            ts,
            &ctx,
            Duration::from_secs(3600),
            Duration::from_secs(600),
        );
        let mut got = None;
        for rule in g.rules() {
            let Rule::Alerting(a) = rule else { continue };
            assert!(a.is_restored(), "{what}: {} restored", a.name());
            if a.name() == "A" {
                got = a.active_alerts().first().map(|a| a.active_at_ms / MINUTE);
            }
        }
        if got != Some(*want) {
            failures.push(format!("{what}: active_at {got:?}, want {want}"));
        }
        // The next evaluation writes ALERTS.
        g.eval(ts + MINUTE, &ctx);
        if !store
            .label_sets()
            .iter()
            .any(|l| l.iter().any(|l| l.value == "ALERTS"))
        {
            failures.push(format!("{what}: no ALERTS after the restore"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Stored for-states far outside the time range (written by a backfill or
/// a remote writer) restore without overflowing: the arithmetic saturates,
/// as Go's `Time.Sub` does, and the alert is still evaluated after it.
#[test]
fn extreme_stored_for_states_do_not_overflow() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file: PathBuf = dir.path().join("rules.yml");
    std::fs::write(&file, RULES).expect("write");
    let engine = Engine::default();
    for value in [1e300, -1e300, f64::MAX, f64::MIN, 9.3e15, -9.3e15] {
        let store = MemStore::new();
        {
            let mut app = store.appender();
            let state = parse_series("ALERTS_FOR_STATE{alertname=\"A\",job=\"x\"} 0")
                .expect("series")
                .labels;
            let up = parse_series("up{job=\"x\"} 0").expect("series").labels;
            for minute in 0..10 {
                app.append(&state, minute * MINUTE, value).expect("append");
            }
            for minute in 0..30 {
                app.append(&up, minute * MINUTE, 0.0).expect("append");
            }
            app.commit().expect("commit");
        }
        let mut groups =
            load_groups_restoring(std::slice::from_ref(&file), &LoadOptions::default(), true)
                .expect("loads");
        let ctx = EvalContext {
            engine: &engine,
            storage: &store,
            notify: None,
        };
        let ts = 20 * MINUTE;
        let g = &mut groups[0];
        g.eval(ts, &ctx);
        g.restore_for_state(
            ts,
            &ctx,
            Duration::from_secs(3600),
            Duration::from_secs(600),
        );
        g.eval(ts + MINUTE, &ctx);
        let active = g
            .rules()
            .iter()
            .filter_map(|r| match r {
                Rule::Alerting(a) if a.name() == "A" => Some(a.active_alerts().len()),
                _ => None,
            })
            .sum::<usize>();
        assert_eq!(active, 1, "{value}: the alert stays active");
    }
}
