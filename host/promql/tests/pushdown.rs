//! Select-hints pushdown: when a range query's step is longer than a
//! selector's window, the engine tells storage which windows it reads
//! (`SelectHints::window`), and a store may skip the chunks between them.
//! A store that cuts its series into chunks and drops every chunk the
//! hints rule out must give exactly the answers of one that drops
//! nothing, for every kind of selector (offsets, `@`, subqueries,
//! instant selectors, instant queries), while skipping chunks where the
//! windows leave gaps.

use std::sync::atomic::{AtomicUsize, Ordering};

use wasmetheus_model::Label;
use wasmetheus_model::storage::{
    Matcher, Queryable, STALE_NAN_BITS, SelectHints, Series, Storage, StorageError,
    VecSampleIterator,
};
use wasmetheus_promql::engine::Engine;
use wasmetheus_promqltest::MemStore;

/// Samples per chunk of [`Chunked`]: 10 minutes at a 15 s interval.
const CHUNK: usize = 40;
const INTERVAL: i64 = 15_000;
const HOUR: i64 = 3_600_000;

/// A store over a [`MemStore`] whose series are read in chunks of
/// [`CHUNK`] samples, keeping only those the hints say may be read, as
/// the TSDB's readers do; it counts what it kept and skipped.
struct Chunked {
    inner: MemStore,
    kept: AtomicUsize,
    skipped: AtomicUsize,
}

impl Queryable for Chunked {
    fn select_series(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<Series>, StorageError> {
        let mut out = Vec::new();
        for s in self.inner.select(matchers, hints.start, hints.end)? {
            let mut samples = Vec::new();
            for chunk in s.samples.chunks(CHUNK) {
                let (first, last) = (chunk[0].0, chunk[chunk.len() - 1].0);
                if hints.overlaps(first, last) {
                    self.kept.fetch_add(1, Ordering::Relaxed);
                    samples.extend_from_slice(chunk);
                } else {
                    self.skipped.fetch_add(1, Ordering::Relaxed);
                }
            }
            // A series with nothing left is not selected, as in the TSDB.
            if !samples.is_empty() {
                out.push(Series {
                    labels: s.labels,
                    samples: Box::new(VecSampleIterator::new(samples)),
                });
            }
        }
        Ok(out)
    }

    fn label_names(
        &self,
        m: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        self.inner.label_names(m, mint, maxt)
    }

    fn label_values(
        &self,
        name: &str,
        m: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        self.inner.label_values(name, m, mint, maxt)
    }
}

fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
    let mut l: Vec<Label> = pairs.iter().map(|(n, v)| Label::new(*n, *v)).collect();
    l.sort();
    l
}

/// A day of data every 15 s: a counter with resets, a gauge with a stale
/// marker and a gap of 3 h, and a series that ends after 2 h.
fn store() -> MemStore {
    let store = MemStore::new();
    let day = 24 * HOUR / INTERVAL;
    let mut app = store.appender();
    let counter = labels(&[("__name__", "c_total"), ("job", "a")]);
    let gauge = labels(&[("__name__", "g"), ("job", "a")]);
    let short = labels(&[("__name__", "g"), ("job", "b")]);
    let mut v = 0.0;
    for i in 0..=day {
        let t = i * INTERVAL;
        v = if i % 1_000 == 999 {
            1.0
        } else {
            v + (i % 7) as f64
        };
        app.append(&counter, t, v).unwrap();
        let hour = t / HOUR;
        if (9..12).contains(&hour) {
            continue;
        }
        let g = if i == 777 {
            f64::from_bits(STALE_NAN_BITS)
        } else {
            ((i * 37) % 101) as f64 - 50.0
        };
        app.append(&gauge, t, g).unwrap();
        if t < 2 * HOUR {
            app.append(&short, t, g * 2.0).unwrap();
        }
    }
    app.commit().unwrap();
    drop(app);
    store
}

fn chunked() -> Chunked {
    Chunked {
        inner: store(),
        kept: AtomicUsize::new(0),
        skipped: AtomicUsize::new(0),
    }
}

#[test]
fn a_long_step_reads_only_its_windows_and_answers_the_same() {
    let plain = store();
    let skipping = chunked();
    let engine = Engine::default();
    // (query, start, end, step, whether chunks can be skipped)
    let cases: &[(&str, i64, i64, i64, bool)] = &[
        ("increase(c_total[1h])", HOUR, 24 * HOUR, 2 * HOUR, true),
        ("rate(c_total[5m])", HOUR, 24 * HOUR, 2 * HOUR, true),
        ("irate(c_total[5m])", 7_000, 23 * HOUR + 7_000, HOUR, true),
        ("delta(g[10m])", 0, 24 * HOUR, 3 * HOUR, true),
        ("max_over_time(g[5m])", 0, 24 * HOUR, HOUR, true),
        ("count_over_time(g[20m])", 0, 24 * HOUR, HOUR, true),
        (
            "quantile_over_time(0.5, g[30m])",
            HOUR,
            24 * HOUR,
            2 * HOUR,
            true,
        ),
        (
            "sum by (job) (rate(c_total[5m]))",
            HOUR,
            24 * HOUR,
            2 * HOUR,
            true,
        ),
        ("g", 0, 24 * HOUR, HOUR, true),
        ("timestamp(g)", 0, 24 * HOUR, HOUR, true),
        ("g offset 17m", 0, 24 * HOUR, HOUR, true),
        ("rate(c_total[5m] offset -1h)", 0, 20 * HOUR, 2 * HOUR, true),
        (
            "g / on(job) rate(c_total[5m])",
            HOUR,
            24 * HOUR,
            2 * HOUR,
            true,
        ),
        ("absent_over_time(g[5m])", 0, 24 * HOUR, HOUR, true),
        // Not a plain window per step: everything in range is read.
        ("rate(c_total[5m] @ 7200)", HOUR, 24 * HOUR, 2 * HOUR, false),
        ("max_over_time(g[5m:1m])", 0, 24 * HOUR, 2 * HOUR, false),
        (
            "increase(c_total[5m] anchored)",
            HOUR,
            24 * HOUR,
            2 * HOUR,
            false,
        ),
        ("g smoothed", 0, 24 * HOUR, HOUR, false),
        ("increase(c_total[2h])", HOUR, 24 * HOUR, 2 * HOUR, false),
    ];
    for &(query, start, end, step, skips) in cases {
        skipping.kept.store(0, Ordering::Relaxed);
        skipping.skipped.store(0, Ordering::Relaxed);
        let want = engine.query_range(&plain, query, start, end, step);
        let got = engine.query_range(&skipping, query, start, end, step);
        assert_eq!(format!("{got:?}"), format!("{want:?}"), "{query}");
        let skipped = skipping.skipped.load(Ordering::Relaxed);
        assert!(skipping.kept.load(Ordering::Relaxed) > 0, "{query}");
        assert_eq!(skipped > 0, skips, "{query}: {skipped} chunks skipped");
        // And every step agrees with an instant query there.
        let instant = engine.query_instant(&skipping, query, end);
        let reference = engine.query_instant(&plain, query, end);
        assert_eq!(format!("{instant:?}"), format!("{reference:?}"), "{query}");
    }
}

#[test]
fn an_instant_query_reads_its_whole_range() {
    let skipping = chunked();
    let engine = Engine::default();
    let (v, _) = engine
        .query_instant(&skipping, "count_over_time(c_total[6h])", 12 * HOUR)
        .unwrap();
    let (want, _) = engine
        .query_instant(&store(), "count_over_time(c_total[6h])", 12 * HOUR)
        .unwrap();
    assert_eq!(format!("{v:?}"), format!("{want:?}"));
    assert_eq!(skipping.skipped.load(Ordering::Relaxed), 0);
}
