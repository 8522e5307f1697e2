//! Range-query throughput of the PromQL engine on synthetic counters read through the storage traits.
//!
//! Issue 3, item 6: 3,000 series × 241 steps (1 h at 15 s) per query, for
//! `sum`, `rate(x[1m])`, `sum by (pod) (rate(x[5m]))`, a
//! `histogram_quantile` over 300 pods × 10 buckets and a `group_left`
//! join against a one-per-pod info series. Throughput is counted as
//! series × steps (the points the query evaluates over, Prometheus'
//! convention for "points per second"), so criterion's `thrpt` line reads
//! as points/s. Per-series work runs on every core available to the
//! process (`engine/parallel.rs`): run it under `taskset -c 0` for the
//! figure per core.

use std::hint::black_box;

/// The server's allocator (`host/server/src/main.rs`), so the figures are
/// the ones it gets.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wasmetheus_model::Label;
use wasmetheus_model::storage::Storage;
use wasmetheus_promql::engine::Engine;
use wasmetheus_promql::value::Value;
use wasmetheus_promqltest::MemStore;

const SERIES: usize = 3_000;
const PODS_WITH_BUCKETS: usize = 300;
const BUCKETS: [&str; 10] = [
    "0.005", "0.01", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "10", "+Inf",
];
const STEP: i64 = 15_000;
const STEPS: i64 = 241;
/// Query start; data begins 5 m earlier so the 5 m windows of the first
/// step are full, as they would be on a long-running server.
const START: i64 = 1_700_000_000_000;
const END: i64 = START + (STEPS - 1) * STEP;
const DATA_START: i64 = START - 300_000;

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn labels(pairs: &[(&str, String)]) -> Vec<Label> {
    let mut l: Vec<Label> = pairs
        .iter()
        .map(|(n, v)| Label::new(*n, v.as_str()))
        .collect();
    l.sort();
    l
}

/// Timestamps of every sample: 15 s apart over the data range.
fn timestamps() -> impl Iterator<Item = i64> {
    (DATA_START..=END).step_by(STEP as usize)
}

/// Loads one series through the `Appender` trait, one commit per series:
/// the test store checks each append against its whole pending batch, so
/// one commit for everything would make loading quadratic.
fn load(store: &MemStore, labels: &[Label], samples: impl Iterator<Item = (i64, f64)>) {
    let mut app = store.appender();
    for (t, v) in samples {
        app.append(labels, t, v).unwrap();
    }
    app.commit().unwrap();
}

fn store() -> MemStore {
    let store = MemStore::new();
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    for i in 0..SERIES {
        let l = labels(&[
            ("__name__", "x".into()),
            ("pod", format!("p{i}")),
            ("job", format!("j{}", i % 10)),
        ]);
        // Random increments rather than constant ones, so no arithmetic
        // shortcut (or value compression in a future store) flatters the
        // figures.
        let mut v = (xorshift(&mut rng) % 1_000) as f64;
        let samples: Vec<(i64, f64)> = timestamps()
            .map(|t| {
                v += (xorshift(&mut rng) % 100) as f64;
                (t, v)
            })
            .collect();
        load(&store, &l, samples.into_iter());
        // One info series per pod for the join; constant, like real `*_info`.
        let info = labels(&[
            ("__name__", "info_metric".into()),
            ("pod", format!("p{i}")),
            ("node", format!("n{}", i % 50)),
        ]);
        load(&store, &info, timestamps().map(|t| (t, 1.0)));
    }
    for pod in 0..PODS_WITH_BUCKETS {
        // Cumulative buckets: at every step each bucket grows by at least
        // as much as the one below it, so the quantile sees a valid
        // (monotonic) distribution.
        let mut counts = vec![Vec::new(); BUCKETS.len()];
        let mut totals = vec![0.0; BUCKETS.len()];
        for t in timestamps() {
            let mut below = 0.0;
            for (b, total) in totals.iter_mut().enumerate() {
                below += (xorshift(&mut rng) % 10) as f64;
                *total += below;
                counts[b].push((t, *total));
            }
        }
        for (le, samples) in BUCKETS.iter().zip(counts) {
            let l = labels(&[
                ("__name__", "x_bucket".into()),
                ("pod", format!("p{pod}")),
                ("le", (*le).into()),
            ]);
            load(&store, &l, samples.into_iter());
        }
    }
    store
}

/// The number of output series, to check each query does what it claims
/// before timing it (an empty result would be very fast).
fn series_count(v: &Value) -> usize {
    match v {
        Value::Matrix(series) => series.len(),
        other => panic!("expected a matrix, got {other:?}"),
    }
}

fn bench_engine(c: &mut Criterion) {
    let store = store();
    let engine = Engine::default();
    // (name, query, output series expected)
    let queries: [(&str, &str, usize); 5] = [
        ("sum", "sum(x)", 1),
        ("rate_1m", "rate(x[1m])", SERIES),
        ("sum_by_pod_rate_5m", "sum by (pod) (rate(x[5m]))", SERIES),
        (
            "histogram_quantile",
            "histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))",
            1,
        ),
        (
            "group_left_join",
            "x * on(pod) group_left(node) info_metric",
            SERIES,
        ),
    ];
    let mut group = c.benchmark_group("engine");
    // Each iteration takes tens to hundreds of ms: fewer samples keep a
    // run within minutes on a shared 2-core machine.
    group.sample_size(10);
    group.throughput(Throughput::Elements(SERIES as u64 * STEPS as u64));
    for (name, query, expected) in queries {
        // Checked inside, so a filtered run (`-- rate_1m`) checks only
        // what it times.
        let mut checked = false;
        group.bench_function(name, |b| {
            if !checked {
                let (v, _) = engine
                    .query_range(&store, query, START, END, STEP)
                    .unwrap_or_else(|e| panic!("{query}: {e}"));
                assert_eq!(series_count(&v), expected, "{query}");
                checked = true;
            }
            b.iter(|| {
                black_box(
                    engine
                        .query_range(&store, black_box(query), START, END, STEP)
                        .unwrap(),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_engine);
criterion_main!(benches);
