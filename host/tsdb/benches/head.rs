//! Append throughput of the head through the `Appender` trait, 10,000
//! series with 8 labels, one commit per "scrape" of all of them:
//!
//! - `append_steady_*`: scrapes of series that already exist, the normal
//!   case; the head lives across iterations and time moves on, so chunks
//!   fill and are cut as in production. `_by_labels` looks every sample up
//!   by its labels, `_by_ref` passes the ref the previous scrape returned,
//!   as the scrape loop does; `_with_wal` is `_by_ref` with the log.
//! - `create_series`: the first scrape into an empty head, which creates
//!   every series (counted per series).
//! - `select_and_decode_all`: selection plus decoding of every sample
//!   through the lazy iterators.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wasmetheus_model::Label;
use wasmetheus_model::storage::{Appender, Matcher, Queryable, SelectHints};
use wasmetheus_tsdb::{Head, HeadLimits};

const SERIES: usize = 10_000;
const SCRAPES: usize = 20;
const START: i64 = 1_700_000_000_000;

fn label_sets() -> Vec<Vec<Label>> {
    (0..SERIES)
        .map(|i| {
            let mut labels = vec![
                Label::new("__name__", format!("metric_{}", i % 200)),
                Label::new("job", "node"),
                Label::new("instance", format!("host-{}:9100", i / 200)),
                Label::new("cluster", format!("c{}", i % 3)),
                Label::new("env", "prod"),
                Label::new("pod", format!("pod-{}", i % 997)),
                Label::new("region", format!("r{}", i % 5)),
                Label::new("team", format!("t{}", i % 11)),
            ];
            labels.sort();
            labels
        })
        .collect()
}

fn timestamp(round: usize) -> i64 {
    START + round as i64 * 15_000
}

/// One scrape of every series, looked up by labels.
fn scrape(head: &Head, sets: &[Vec<Label>], round: usize) {
    let mut app = head.appender();
    let t = timestamp(round);
    for (i, labels) in sets.iter().enumerate() {
        app.append(labels, t, (round * i) as f64).unwrap();
    }
    app.commit().unwrap();
}

/// One scrape of every series, passing (and refreshing) each series'
/// cached ref.
fn scrape_by_ref(head: &Head, sets: &[Vec<Label>], refs: &mut [u64], round: usize) {
    let mut app = head.appender();
    let t = timestamp(round);
    for (i, labels) in sets.iter().enumerate() {
        refs[i] = app
            .append_ref(refs[i], labels, t, (round * i) as f64)
            .unwrap();
    }
    app.commit().unwrap();
}

fn bench(c: &mut Criterion) {
    let sets = label_sets();
    let mut group = c.benchmark_group("head");
    group.sample_size(10);

    group.throughput(Throughput::Elements((SERIES * SCRAPES) as u64));
    {
        let head = Head::new(HeadLimits::default());
        scrape(&head, &sets, 0);
        let mut round = 1;
        group.bench_function("append_steady_by_labels", |b| {
            b.iter(|| {
                for _ in 0..SCRAPES {
                    scrape(&head, &sets, round);
                    round += 1;
                }
            })
        });
    }
    {
        let head = Head::new(HeadLimits::default());
        let mut refs = vec![0; SERIES];
        scrape_by_ref(&head, &sets, &mut refs, 0);
        let mut round = 1;
        group.bench_function("append_steady_by_ref", |b| {
            b.iter(|| {
                for _ in 0..SCRAPES {
                    scrape_by_ref(&head, &sets, &mut refs, round);
                    round += 1;
                }
            })
        });
    }
    {
        let dir = std::env::temp_dir().join(format!("head-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let head = Head::open(&dir, HeadLimits::default(), false).unwrap();
        let mut refs = vec![0; SERIES];
        scrape_by_ref(&head, &sets, &mut refs, 0);
        let mut round = 1;
        group.bench_function("append_steady_with_wal", |b| {
            b.iter(|| {
                for _ in 0..SCRAPES {
                    scrape_by_ref(&head, &sets, &mut refs, round);
                    round += 1;
                }
            })
        });
        drop(head);
        let _ = std::fs::remove_dir_all(&dir);
    }

    group.throughput(Throughput::Elements(SERIES as u64));
    group.bench_function("create_series", |b| {
        b.iter_custom(|iters| {
            let heads: Vec<Head> = (0..iters)
                .map(|_| Head::new(HeadLimits::default()))
                .collect();
            // Only the scrapes are timed, not making and dropping heads.
            let start = Instant::now();
            for head in &heads {
                scrape(head, &sets, 0);
            }
            start.elapsed()
        })
    });

    group.throughput(Throughput::Elements((SERIES * SCRAPES) as u64));
    let head = Head::new(HeadLimits::default());
    for round in 0..SCRAPES {
        scrape(&head, &sets, round);
    }
    group.bench_function("select_and_decode_all", |b| {
        let all = [Matcher::equal("job", "node")];
        b.iter(|| {
            let mut n = 0u64;
            for mut series in head
                .select_series(&all, &SelectHints::range(i64::MIN, i64::MAX))
                .unwrap()
            {
                while let Some(s) = series.samples.next() {
                    n += 1;
                    black_box(s);
                }
            }
            assert_eq!(n, (SERIES * SCRAPES) as u64);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
