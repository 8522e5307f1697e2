//! Append throughput of the head through the `Appender` trait: 10,000
//! series with 8 labels, one commit per "scrape" of all of them, in memory
//! and with the write-ahead log; and selection plus decoding of every
//! sample through the lazy iterators.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use wasmetheus_model::Label;
use wasmetheus_model::storage::{Appender, Matcher, Queryable, SelectHints};
use wasmetheus_tsdb::{Head, HeadLimits};

const SERIES: usize = 10_000;
const SCRAPES: usize = 20;

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

fn scrape(head: &Head, sets: &[Vec<Label>], round: usize) {
    let mut app = head.appender();
    let t = 1_700_000_000_000 + round as i64 * 15_000;
    for (i, labels) in sets.iter().enumerate() {
        app.append(labels, t, (round * i) as f64).unwrap();
    }
    app.commit().unwrap();
}

fn bench(c: &mut Criterion) {
    let sets = label_sets();
    let mut group = c.benchmark_group("head");
    group.sample_size(10);
    group.throughput(Throughput::Elements((SERIES * SCRAPES) as u64));
    group.bench_function("append_in_memory", |b| {
        b.iter_batched(
            || Head::new(HeadLimits::default()),
            |head| {
                for round in 0..SCRAPES {
                    scrape(&head, &sets, round);
                }
                head
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("append_with_wal", |b| {
        b.iter_batched(
            || {
                let dir = std::env::temp_dir().join(format!("head-bench-{}", std::process::id()));
                let _ = std::fs::remove_dir_all(&dir);
                (Head::open(&dir, HeadLimits::default(), false).unwrap(), dir)
            },
            |(head, dir)| {
                for round in 0..SCRAPES {
                    scrape(&head, &sets, round);
                }
                drop(head);
                let _ = std::fs::remove_dir_all(&dir);
            },
            BatchSize::PerIteration,
        )
    });
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
