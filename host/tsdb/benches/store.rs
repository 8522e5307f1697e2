//! Reads from the store's part files: selecting series by label and
//! iterating their stored chunks, as a query over persisted data does.
//!
//! 2,000 series (100 hosts × 20 CPUs) over 12 blocks of 2 h, a sample every
//! 15 s: `one_host` selects 20 series over a day, `all_series_one_block`
//! every series over one block, `all_series_day` every series over the
//! day. A query checks that each part's mapped file still has its length
//! (so a truncated part is an error, not SIGBUS) when it selects and again
//! when it decodes its first chunk of the part, not once per chunk.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wasmetheus_model::Label;
use wasmetheus_model::storage::{MatchType, Matcher, Queryable};
use wasmetheus_tsdb::{Db, DbOptions};

const BLOCK: i64 = 2 * 3_600_000;
const T0: i64 = 1_700_006_400_000;

fn store(dir: &std::path::Path) -> Db {
    {
        let store = wasmetheus_tsdb::store::Store::open(&dir.join("db"), BLOCK).unwrap();
        let series = (0..2_000).map(|s| {
            let labels = vec![
                Label::new("__name__", "cpu_seconds_total"),
                Label::new("cpu", (s % 20).to_string()),
                Label::new("host", format!("host{:03}", s / 20)),
            ];
            let samples = (0..12 * 480)
                .map(|i| (T0 + i * 15_000, (i * (s + 1)) as f64 * 0.01))
                .collect();
            (labels, samples)
        });
        store.write_series(series, |_| {}).unwrap();
        store.flush().unwrap();
    }
    Db::open(dir, DbOptions::default()).unwrap()
}

fn read(db: &Db, matchers: &[Matcher], mint: i64, maxt: i64) -> usize {
    let hints = wasmetheus_model::storage::SelectHints::range(mint, maxt);
    let mut n = 0;
    for mut s in db.select_series(matchers, &hints).unwrap() {
        while s.samples.next().is_some() {
            n += 1;
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = store(dir.path());
    let name = Matcher::new(MatchType::Equal, "__name__", "cpu_seconds_total").unwrap();
    let host = Matcher::new(MatchType::Equal, "host", "host042").unwrap();
    let day = (T0, T0 + 12 * BLOCK - 1);
    let mut g = c.benchmark_group("store");
    g.sample_size(10);
    g.bench_function("one_host_day", |b| {
        b.iter(|| black_box(read(&db, &[name.clone(), host.clone()], day.0, day.1)))
    });
    g.bench_function("all_series_one_block", |b| {
        b.iter(|| {
            black_box(read(
                &db,
                std::slice::from_ref(&name),
                T0 + BLOCK,
                T0 + 2 * BLOCK - 1,
            ))
        })
    });
    g.bench_function("all_series_day", |b| {
        b.iter(|| black_box(read(&db, std::slice::from_ref(&name), day.0, day.1)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
