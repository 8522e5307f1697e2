//! Select-hints pushdown: a selection whose hints carry step windows
//! (`SelectHints::window`, a query whose step is longer than its range)
//! reads every sample inside those windows, from the store and the head
//! alike, and leaves the chunks between them undecoded, which
//! `wasmetheus_tsdb_query_chunks_skipped_total` counts.

use wasmetheus_model::storage::{Appender, Matcher, Queryable, SelectHints, Series};
use wasmetheus_model::{Label, MetricValue};
use wasmetheus_tsdb::{Db, DbOptions};

const HOUR: i64 = 3_600_000;
const INTERVAL: i64 = 15_000;

fn skipped(db: &Db) -> f64 {
    let family = db
        .metrics()
        .into_iter()
        .find(|f| f.name == "wasmetheus_tsdb_query_chunks_skipped_total")
        .expect("the counter is exported");
    match family.metrics[0].value {
        MetricValue::Number(v) => v,
        ref other => panic!("a counter, not {other:?}"),
    }
}

/// Series by labels, with their samples.
type Selected = Vec<(Vec<Label>, Vec<(i64, f64)>)>;

fn decode(series: Vec<Series>) -> Selected {
    series
        .into_iter()
        .map(|s| {
            let s = s.collect();
            (s.labels, s.samples)
        })
        .collect()
}

/// `samples` within the windows `[start + k·step, start + k·step + window − 1]`
/// that end by `end`.
fn in_windows(samples: &[(i64, f64)], h: &SelectHints) -> Vec<(i64, f64)> {
    samples
        .iter()
        .copied()
        .filter(|&(t, _)| {
            let mut first = h.start;
            while first + h.window - 1 <= h.end {
                if (first..first + h.window).contains(&t) {
                    return true;
                }
                first += h.step;
            }
            false
        })
        .collect()
}

#[test]
fn a_long_step_leaves_the_chunks_between_its_windows_undecoded() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(
        tmp.path(),
        DbOptions {
            block_range_ms: 2 * HOUR,
            retention_time_ms: None,
            ..DbOptions::default()
        },
    )
    .unwrap();
    let labels = vec![Label::new("__name__", "c_total"), Label::new("job", "a")];
    let mut app = db.appender();
    for i in 0..=(12 * HOUR / INTERVAL) {
        app.append(&labels, i * INTERVAL, (i * 3 + i % 5) as f64)
            .unwrap();
    }
    app.commit().unwrap();
    drop(app);
    let moved = db.compact().unwrap();
    assert!(moved.blocks > 0, "some of the data is in the store");

    let everything = [Matcher::equal("__name__", "c_total")];
    let (start, end) = (HOUR + 1, 12 * HOUR);
    let whole = decode(
        db.select_series(&everything, &SelectHints::range(start, end))
            .unwrap(),
    );
    assert_eq!(whole.len(), 1);
    assert_eq!(skipped(&db), 0.0, "no windows, nothing skipped");

    // `increase(c_total[5m])` every 4 h from 1:05 to 12:00 reads
    // (1:00, 1:05], (5:00, 5:05] and (9:00, 9:05]: of the store's 2 h
    // chunks every other one, of the head's only one or two.
    let hints = SelectHints {
        start,
        end,
        step: 4 * HOUR,
        range: 5 * 60_000,
        window: 5 * 60_000,
        ..SelectHints::default()
    };
    let windowed = decode(db.select_series(&everything, &hints).unwrap());
    assert_eq!(windowed.len(), 1);
    let want = in_windows(&whole[0].1, &hints);
    assert_eq!(want.len(), 3 * 20, "three windows of 20 samples");
    assert_eq!(in_windows(&windowed[0].1, &hints), want);
    // What is read besides the windows is whole chunks that touch one
    // (1,199 of 2,640 samples as written).
    assert!(windowed[0].1.len() < whole[0].1.len() / 2);
    let skipped_now = skipped(&db);
    assert!(skipped_now > 0.0, "chunks between the windows are skipped");

    // Windows as long as the step cover everything: nothing skipped.
    let touching = SelectHints {
        window: 4 * HOUR,
        ..hints.clone()
    };
    let all = decode(db.select_series(&everything, &touching).unwrap());
    assert_eq!(all, whole);
    assert_eq!(skipped(&db), skipped_now);
}
