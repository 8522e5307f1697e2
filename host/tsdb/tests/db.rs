//! The database as a whole: compaction from head to store, series
//! collection, retention by time and size, deletion, snapshots, the
//! out-of-order window, backfill, concurrent use, and label lookups — each
//! checked through queries, and again after reopening the directory.

use std::collections::BTreeMap;
use std::path::Path;
use wasmetheus_model::storage::{
    AppendError, Appender, MatchType, Matcher, Queryable, STALE_NAN_BITS,
};
use wasmetheus_model::{Label, MetricValue};
use wasmetheus_tsdb::backfill::create_blocks_from_openmetrics;
use wasmetheus_tsdb::{CompactionStats, Db, DbOptions, HeadLimits};

/// A small block range keeps the data sets small: compaction starts once
/// the head spans more than 15 s.
const RANGE: i64 = 10_000;

type Samples = Vec<(i64, f64)>;
/// Series by labels, as `select` returns them.
type Data = BTreeMap<Vec<Label>, Samples>;

fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
    let mut l: Vec<Label> = pairs.iter().map(|(n, v)| Label::new(*n, *v)).collect();
    l.sort();
    l
}

fn m(kind: MatchType, name: &str, value: &str) -> Matcher {
    Matcher::new(kind, name, value).unwrap()
}

fn every_series() -> Matcher {
    m(MatchType::Regex, "__name__", ".+")
}

fn options() -> DbOptions {
    DbOptions {
        block_range_ms: RANGE,
        retention_time_ms: None,
        ..DbOptions::default()
    }
}

fn open(dir: &Path, options: DbOptions) -> Db {
    Db::open(dir, options).unwrap()
}

/// Closes the database and drops it, releasing the log and the store.
fn reopen(db: Db, options: DbOptions) -> Db {
    let dir = db.dir().to_owned();
    db.close();
    drop(db);
    open(&dir, options)
}

/// A sample every `step` ms in `[from, to)`, with values that are not
/// round numbers (so a lossy encoding would show).
fn steady(from: i64, to: i64, step: i64) -> Samples {
    (from..to)
        .step_by(step as usize)
        .map(|t| (t, t as f64 / 7.0 + 0.1))
        .collect()
}

/// Appends every sample of `data` in one batch and commits it.
fn append(db: &Db, data: &Data) {
    let mut app = db.appender();
    for (series, samples) in data {
        for &(t, v) in samples {
            app.append(series, t, v)
                .unwrap_or_else(|e| panic!("{series:?} at {t}: {e}"));
        }
    }
    app.commit().unwrap();
}

fn select(db: &impl Queryable, matchers: &[Matcher], mint: i64, maxt: i64) -> Data {
    db.select(matchers, mint, maxt)
        .unwrap()
        .into_iter()
        .map(|s| (s.labels, s.samples))
        .collect()
}

fn everything(db: &impl Queryable) -> Data {
    select(db, &[every_series()], i64::MIN, i64::MAX)
}

/// Values as bits, so NaNs (the stale marker above all) compare exactly.
fn bits(data: &Data) -> BTreeMap<Vec<Label>, Vec<(i64, u64)>> {
    data.iter()
        .map(|(l, s)| {
            (
                l.clone(),
                s.iter().map(|(t, v)| (*t, v.to_bits())).collect(),
            )
        })
        .collect()
}

/// Compares bit-exactly; on a mismatch names the first series and sample
/// that differ rather than printing everything.
#[track_caller]
fn assert_data(got: &Data, want: &Data, context: &str) {
    let (got, want) = (bits(got), bits(want));
    if got == want {
        return;
    }
    let got_series: Vec<_> = got.keys().collect();
    let want_series: Vec<_> = want.keys().collect();
    assert_eq!(got_series, want_series, "{context}: series differ");
    for (series, want) in &want {
        let got = &got[series];
        if got == want {
            continue;
        }
        let at = got.iter().zip(want).position(|(g, w)| g != w);
        let at = at.unwrap_or(got.len().min(want.len()));
        panic!(
            "{context}: {series:?} has {} samples, expected {}; first difference at #{at}: \
             got {:?}, expected {:?}",
            got.len(),
            want.len(),
            got.get(at..(at + 3).min(got.len())),
            want.get(at..(at + 3).min(want.len())),
        );
    }
}

/// `data` restricted to samples for which `keep` holds; series left
/// without samples are dropped.
fn only(data: &Data, keep: impl Fn(&[Label], i64) -> bool) -> Data {
    data.iter()
        .map(|(l, s)| {
            let kept: Samples = s.iter().copied().filter(|(t, _)| keep(l, *t)).collect();
            (l.clone(), kept)
        })
        .filter(|(_, s)| !s.is_empty())
        .collect()
}

fn count(data: &Data) -> u64 {
    data.values().map(|s| s.len() as u64).sum()
}

fn job_is(l: &[Label], job: &str) -> bool {
    l.iter().any(|l| l.name == "job" && l.value == job)
}

fn label_values(db: &Db, name: &str, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<String> {
    db.label_values(name, matchers, mint, maxt).unwrap()
}

fn label_names(db: &Db, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<String> {
    db.label_names(matchers, mint, maxt).unwrap()
}

/// Three series of `up` every second over `[0, 25 s)`, one with a stale
/// marker in what becomes the first block and one with a stale marker in
/// what stays in the head.
fn three_series() -> Data {
    let mut data = Data::new();
    for (i, job) in ["a", "b", "c"].iter().enumerate() {
        let mut samples = steady(0, 25_000, 1000);
        match i {
            0 => samples.insert(6, (5_500, f64::from_bits(STALE_NAN_BITS))),
            1 => samples.push((24_500, f64::from_bits(STALE_NAN_BITS))),
            _ => {}
        }
        data.insert(labels(&[("__name__", "up"), ("job", job)]), samples);
    }
    data
}

#[test]
fn compaction_moves_a_block_to_the_store_and_queries_see_each_sample_once() {
    let tmp = tempfile::tempdir().unwrap();
    let db = open(tmp.path(), options());
    let data = three_series();
    append(&db, &data);
    assert_data(&everything(&db), &data, "before compaction");

    // The head spans 24.5 s: one block goes, 14.5 s stay.
    let stats = db.compact().unwrap();
    let in_first_block = count(&only(&data, |_, t| t < RANGE));
    assert_eq!(
        stats,
        CompactionStats {
            blocks: 1,
            series: 3,
            samples: in_first_block,
            series_removed_from_head: 0,
        }
    );
    assert_eq!(db.store().block_starts().unwrap(), vec![0]);
    assert_eq!(db.store().compacted_upto().unwrap(), RANGE);
    assert_eq!(db.head().min_valid_time(), RANGE);
    assert_eq!(db.head().min_time(), RANGE);
    // Nothing more to do until the head grows.
    assert_eq!(db.compact().unwrap(), CompactionStats::default());
    assert_data(&everything(&db), &data, "after compaction");
    // A range straddling the block boundary merges store and head.
    assert_data(
        &select(&db, &[Matcher::equal("job", "a")], 5_000, 12_000),
        &only(&data, |l, t| {
            job_is(l, "a") && (5_000..=12_000).contains(&t)
        }),
        "straddling the boundary",
    );

    let db = reopen(db, options());
    assert_data(&everything(&db), &data, "after reopening");
    // The checkpoint kept only what the head still holds.
    let in_head = count(&only(&data, |_, t| t >= RANGE));
    assert_eq!(
        db.head()
            .stats
            .replayed_samples
            .load(std::sync::atomic::Ordering::Relaxed),
        in_head
    );
    assert!(in_head < count(&data));
    assert_eq!(db.head().min_valid_time(), RANGE);

    // The reopened database goes on compacting where it stopped.
    let mut more = Data::new();
    for series in data.keys() {
        more.insert(series.clone(), steady(25_000, 41_000, 1000));
    }
    append(&db, &more);
    let stats = db.compact().unwrap();
    assert_eq!(stats.blocks, 2);
    assert_eq!(db.store().block_starts().unwrap(), vec![0, 10_000, 20_000]);
    let mut all = data.clone();
    for (series, samples) in more {
        all.get_mut(&series).unwrap().extend(samples);
    }
    assert_data(&everything(&db), &all, "after a second compaction");
    let db = reopen(db, options());
    assert_data(&everything(&db), &all, "after reopening again");
}

#[test]
fn series_that_stop_leave_the_head_but_stay_queryable() {
    let tmp = tempfile::tempdir().unwrap();
    let db = open(tmp.path(), options());
    let gone = labels(&[("__name__", "up"), ("job", "gone")]);
    let kept = labels(&[("__name__", "up"), ("job", "kept")]);
    let data = Data::from([
        (gone.clone(), steady(0, 6_000, 1000)),
        (kept.clone(), steady(0, 25_000, 1000)),
    ]);
    append(&db, &data);
    assert_eq!(db.head().num_series(), 2);
    let stats = db.compact().unwrap();
    assert_eq!(stats.series_removed_from_head, 1);
    assert_eq!(db.head().num_series(), 1);
    let head_series = db
        .head()
        .metrics()
        .into_iter()
        .find(|f| f.name == "prometheus_tsdb_head_series")
        .unwrap();
    assert_eq!(head_series.metrics[0].value, MetricValue::Number(1.0));
    assert_data(&everything(&db), &data, "after compaction");
    assert_data(
        &select(&db, &[Matcher::equal("job", "gone")], 0, 30_000),
        &only(&data, |l, _| l == gone.as_slice()),
        "the stopped series from the store",
    );

    // The checkpoint no longer names the collected series.
    let db = reopen(db, options());
    assert_eq!(db.head().num_series(), 1);
    assert_data(&everything(&db), &data, "after reopening");

    // The series coming back is a new head series over its stored past.
    let back = Data::from([(gone.clone(), steady(25_000, 27_000, 1000))]);
    append(&db, &back);
    assert_eq!(db.head().num_series(), 2);
    let mut all = data.clone();
    all.get_mut(&gone).unwrap().extend(&back[&gone]);
    assert_data(&everything(&db), &all, "after the series came back");
    let db = reopen(db, options());
    assert_data(
        &everything(&db),
        &all,
        "after the series came back and a reopen",
    );
}

#[test]
fn retention_by_time_drops_whole_old_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let options = DbOptions {
        retention_time_ms: Some(25_000),
        ..options()
    };
    let db = open(tmp.path(), options);
    let old = labels(&[("__name__", "up"), ("job", "old")]);
    let mid = labels(&[("__name__", "up"), ("job", "mid")]);
    let live = labels(&[("__name__", "up"), ("job", "live")]);
    let data = Data::from([
        (old.clone(), steady(0, 8_000, 1000)),
        (mid.clone(), steady(5_000, 30_000, 1000)),
        (live.clone(), steady(0, 46_000, 1000)),
    ]);
    append(&db, &data);
    assert_eq!(db.compact().unwrap().blocks, 3);
    assert_eq!(db.store().block_starts().unwrap(), vec![0, 10_000, 20_000]);
    assert_eq!(
        label_values(&db, "job", &[], i64::MIN, i64::MAX),
        ["live", "mid", "old"]
    );

    // Newest sample 45 s, 25 s kept: blocks ending by 20 s go.
    let stats = db.apply_retention().unwrap();
    assert_eq!((stats.blocks, stats.series), (2, 1));
    assert_eq!(db.store().block_starts().unwrap(), vec![20_000]);
    let want = only(&data, |_, t| t >= 20_000);
    assert_data(&everything(&db), &want, "after retention");
    assert!(select(&db, &[every_series()], 0, 19_999).is_empty());
    assert_eq!(
        label_values(&db, "job", &[], i64::MIN, i64::MAX),
        ["live", "mid"]
    );
    assert_eq!(
        label_values(
            &db,
            "job",
            &[Matcher::equal("job", "old")],
            i64::MIN,
            i64::MAX
        ),
        Vec::<String>::new()
    );
    // A second pass has nothing to do.
    assert_eq!(db.apply_retention().unwrap().blocks, 0);

    let db = reopen(db, options);
    assert_data(&everything(&db), &want, "after retention and a reopen");
    assert_eq!(
        label_values(&db, "job", &[], i64::MIN, i64::MAX),
        ["live", "mid"]
    );
}

#[test]
fn retention_by_size_drops_oldest_blocks_first_and_never_the_head() {
    let data = Data::from([
        (
            labels(&[("__name__", "up"), ("job", "a")]),
            steady(0, 45_001, 500),
        ),
        (
            labels(&[("__name__", "up"), ("job", "b")]),
            steady(0, 45_001, 700),
        ),
    ]);
    let in_head = |_: &[Label], t: i64| t >= 30_000;

    // A limit the data directory is far below removes nothing.
    let tmp = tempfile::tempdir().unwrap();
    let roomy = DbOptions {
        retention_size_bytes: Some(1 << 40),
        ..options()
    };
    let db = open(tmp.path(), roomy);
    append(&db, &data);
    assert_eq!(db.compact().unwrap().blocks, 3);
    assert_eq!(db.apply_retention().unwrap().blocks, 0);
    assert_data(&everything(&db), &data, "under the size limit");

    // One just below the current size removes blocks oldest first, and
    // only until the directory fits (or nothing is left to remove).
    let size = db.size_bytes();
    let db = reopen(
        db,
        DbOptions {
            retention_size_bytes: Some(size - 1),
            ..options()
        },
    );
    let stats = db.apply_retention().unwrap();
    assert!(stats.blocks >= 1, "{stats:?}");
    let left = db.store().block_starts().unwrap();
    let expected_left: Vec<i64> = [0, 10_000, 20_000]
        .into_iter()
        .skip(stats.blocks as usize)
        .collect();
    assert_eq!(left, expected_left, "the oldest blocks go first");
    let first_kept = left.first().copied().unwrap_or(30_000);
    assert_data(
        &everything(&db),
        &only(&data, |_, t| t >= first_kept),
        "after dropping the oldest block",
    );
    assert!(db.size_bytes() < size || left.is_empty());

    // A tiny limit cannot be met: every block goes, the head stays.
    let tiny = DbOptions {
        retention_size_bytes: Some(1),
        ..options()
    };
    let db = reopen(db, tiny);
    db.apply_retention().unwrap();
    assert!(db.store().block_starts().unwrap().is_empty());
    assert_data(
        &everything(&db),
        &only(&data, in_head),
        "every block dropped",
    );
    let db = reopen(db, tiny);
    assert_data(
        &everything(&db),
        &only(&data, in_head),
        "every block dropped, reopened",
    );
}

/// Two series `job=a` and `job=b` over 25 s, the first 10 s compacted.
fn compacted_pair(dir: &Path) -> (Db, Data) {
    let db = open(dir, options());
    let data = Data::from([
        (
            labels(&[("__name__", "up"), ("job", "a")]),
            steady(0, 25_000, 1000),
        ),
        (
            labels(&[("__name__", "up"), ("job", "b")]),
            steady(0, 25_000, 1000),
        ),
    ]);
    append(&db, &data);
    assert_eq!(db.compact().unwrap().blocks, 1);
    (db, data)
}

#[test]
fn delete_removes_a_range_from_head_and_store() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, data) = compacted_pair(tmp.path());
    // 5 s..14 s: half in the store, half in the head.
    let touched = db
        .delete(&[Matcher::equal("job", "a")], 5_000, 14_000)
        .unwrap();
    assert_eq!(touched, 2, "one head series, one store series");
    let want = only(&data, |l, t| {
        !(job_is(l, "a") && (5_000..=14_000).contains(&t))
    });
    assert_data(&everything(&db), &want, "after delete");
    assert_eq!(db.store().counts().tombstones, 1);

    // Store deletions persist as tombstones, head ones as log records.
    let db = reopen(db, options());
    assert_data(&everything(&db), &want, "after delete and reopen");

    assert_eq!(db.clean_tombstones().unwrap(), 1);
    assert_eq!(db.store().counts().tombstones, 0);
    assert_data(&everything(&db), &want, "after cleaning tombstones");
    let db = reopen(db, options());
    assert_data(&everything(&db), &want, "after cleaning and reopen");

    // Later compactions do not bring deleted head samples back.
    let mut all = want.clone();
    let mut more = Data::new();
    for series in data.keys() {
        more.insert(series.clone(), steady(25_000, 41_000, 1000));
        all.get_mut(series)
            .unwrap()
            .extend(steady(25_000, 41_000, 1000));
    }
    append(&db, &more);
    assert_eq!(db.compact().unwrap().blocks, 2);
    assert_data(&everything(&db), &all, "after deleting and compacting");
    let db = reopen(db, options());
    assert_data(
        &everything(&db),
        &all,
        "after deleting, compacting and reopen",
    );
}

#[test]
fn delete_of_compacted_samples_only() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, data) = compacted_pair(tmp.path());
    // Wholly before the head's minimum valid time, though the head's first
    // chunk (one chunk for 25 samples) still spans it.
    assert_eq!(
        db.delete(&[Matcher::equal("job", "b")], 2_000, 3_000)
            .unwrap(),
        1
    );
    let want = only(&data, |l, t| {
        !(job_is(l, "b") && (2_000..=3_000).contains(&t))
    });
    assert_data(&everything(&db), &want, "after delete");
    assert_data(
        &select(&db, &[Matcher::equal("job", "b")], 0, 5_000),
        &only(&want, |l, t| job_is(l, "b") && t <= 5_000),
        "after delete, a range in the store",
    );
    db.clean_tombstones().unwrap();
    assert_data(&everything(&db), &want, "after cleaning");
    let db = reopen(db, options());
    assert_data(&everything(&db), &want, "after cleaning and reopen");
    // Deleting everything stored of a series leaves only its head part.
    db.delete(&[Matcher::equal("job", "a")], 0, RANGE - 1)
        .unwrap();
    let want = only(&want, |l, t| !(job_is(l, "a") && t < RANGE));
    assert_data(&everything(&db), &want, "all of job=a stored deleted");
    assert!(select(&db, &[Matcher::equal("job", "a")], 0, RANGE - 1).is_empty());
}

#[test]
fn a_deleted_series_that_goes_on_is_visible_again() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, data) = compacted_pair(tmp.path());
    // Deleting a whole series, as the admin API does by default.
    db.delete(&[Matcher::equal("job", "a")], i64::MIN, i64::MAX)
        .unwrap();
    let mut want = only(&data, |l, _| !job_is(l, "a"));
    assert_data(&everything(&db), &want, "after deleting job=a");

    // The target keeps being scraped: its new samples are not deleted,
    // neither in the head nor once compacted into the store.
    let mut more = Data::new();
    for series in data.keys() {
        more.insert(series.clone(), steady(25_000, 41_000, 1000));
    }
    append(&db, &more);
    for (series, samples) in &more {
        want.entry(series.clone())
            .or_default()
            .extend(samples.iter().copied());
    }
    assert_data(&everything(&db), &want, "new samples in the head");
    assert_eq!(db.compact().unwrap().blocks, 2);
    assert_data(&everything(&db), &want, "new samples compacted");
    let db = reopen(db, options());
    assert_data(&everything(&db), &want, "new samples after reopen");
    db.clean_tombstones().unwrap();
    assert_data(&everything(&db), &want, "new samples after cleaning");
}

#[test]
fn snapshot_with_and_without_the_head() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, data) = compacted_pair(&tmp.path().join("data"));
    let full = tmp.path().join("full");
    let stored_only = tmp.path().join("stored");
    db.snapshot(&full, false).unwrap();
    db.snapshot(&stored_only, true).unwrap();
    // The source goes on working.
    assert_data(&everything(&db), &data, "the source after snapshots");

    let copy = open(&full, options());
    assert_data(&everything(&copy), &data, "snapshot with the head");
    // New series in the copy get ids of their own.
    let extra = labels(&[("__name__", "up"), ("job", "extra")]);
    let added = Data::from([(extra.clone(), steady(30_000, 46_000, 1000))]);
    append(&copy, &added);
    copy.compact().unwrap();
    let mut all = data.clone();
    all.extend(added);
    assert_data(&everything(&copy), &all, "snapshot after new appends");
    let copy = reopen(copy, options());
    assert_data(
        &everything(&copy),
        &all,
        "snapshot after new appends, reopened",
    );

    let copy = open(&stored_only, options());
    assert_data(
        &everything(&copy),
        &only(&data, |_, t| t < RANGE),
        "snapshot without the head",
    );
}

#[test]
fn out_of_order_window_accepts_recent_samples_only() {
    let tmp = tempfile::tempdir().unwrap();
    let window = DbOptions {
        head: HeadLimits {
            out_of_order_window_ms: 60_000,
            ..HeadLimits::default()
        },
        ..options()
    };
    let db = open(&tmp.path().join("window"), window);
    let s = labels(&[("__name__", "up"), ("job", "ooo")]);
    {
        let mut app = db.appender();
        app.append(&s, 100_000, 1.0).unwrap();
        app.commit().unwrap();
        let mut app = db.appender();
        app.append(&s, 70_000, 0.7).unwrap();
        assert_eq!(
            app.append(&s, 39_000, 0.39),
            Err(AppendError::OutOfOrder {
                last: 100_000,
                t: 39_000
            })
        );
        app.commit().unwrap();
        let mut app = db.appender();
        assert_eq!(
            app.append(&s, 70_000, 0.8),
            Err(AppendError::DuplicateTimestamp { t: 70_000 })
        );
        // Exact duplicates, in order or not, are accepted and ignored.
        app.append(&s, 70_000, 0.7).unwrap();
        app.append(&s, 100_000, 1.0).unwrap();
        app.append(&s, 85_000, 0.85).unwrap();
        app.commit().unwrap();
    }
    let want = Data::from([(
        s.clone(),
        vec![(70_000, 0.7), (85_000, 0.85), (100_000, 1.0)],
    )]);
    assert_data(&everything(&db), &want, "with the window");

    let db = reopen(db, window);
    assert_data(&everything(&db), &want, "with the window, reopened");

    // Compaction moves the out-of-order samples too; older appends are
    // then out of bounds, window or not.
    append(&db, &Data::from([(s.clone(), vec![(101_000, 1.01)])]));
    let stats = db.compact().unwrap();
    assert!(stats.blocks >= 1, "{stats:?}");
    let min_valid = db.head().min_valid_time();
    assert!(min_valid > 70_000, "{min_valid}");
    let mut want = want;
    want.get_mut(&s).unwrap().push((101_000, 1.01));
    assert_data(&everything(&db), &want, "out-of-order samples compacted");
    assert_eq!(
        db.appender().append(&s, min_valid - 1, 0.5),
        Err(AppendError::OutOfBounds {
            min: min_valid,
            t: min_valid - 1
        })
    );
    let db = reopen(db, window);
    assert_data(&everything(&db), &want, "compacted, reopened");

    // Without a window, anything behind the last sample is rejected.
    let db = open(&tmp.path().join("strict"), options());
    let mut app = db.appender();
    app.append(&s, 100_000, 1.0).unwrap();
    app.commit().unwrap();
    let mut app = db.appender();
    assert_eq!(
        app.append(&s, 70_000, 0.7),
        Err(AppendError::OutOfOrder {
            last: 100_000,
            t: 70_000
        })
    );
    app.append(&s, 100_000, 1.0).unwrap();
    assert_eq!(
        app.append(&s, 100_000, 2.0),
        Err(AppendError::DuplicateTimestamp { t: 100_000 })
    );
    app.commit().unwrap();
    assert_data(
        &everything(&db),
        &Data::from([(s, vec![(100_000, 1.0)])]),
        "without the window",
    );
}

const OPENMETRICS: &str = "\
# TYPE http_requests counter
# HELP http_requests Requests served.
http_requests_total{code=\"200\",job=\"api\"} 1 1.5
http_requests_total{code=\"200\",job=\"api\"} 3 2.25
http_requests_total{code=\"500\",job=\"api\"} 0 1.5
# TYPE temperature gauge
temperature{room=\"a\"} 21.5 1.0
temperature{room=\"a\"} -3.25 1.25
# EOF
";

fn openmetrics_samples() -> Data {
    Data::from([
        (
            labels(&[
                ("__name__", "http_requests_total"),
                ("code", "200"),
                ("job", "api"),
            ]),
            vec![(1_500, 1.0), (2_250, 3.0)],
        ),
        (
            labels(&[
                ("__name__", "http_requests_total"),
                ("code", "500"),
                ("job", "api"),
            ]),
            vec![(1_500, 0.0)],
        ),
        (
            labels(&[("__name__", "temperature"), ("room", "a")]),
            vec![(1_000, 21.5), (1_250, -3.25)],
        ),
    ])
}

#[test]
fn backfill_writes_exactly_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let stats =
        create_blocks_from_openmetrics(OPENMETRICS, "file.om", tmp.path(), RANGE, |_| {}).unwrap();
    assert_eq!((stats.series, stats.samples), (3, 5));
    assert_eq!((stats.min_time, stats.max_time), (1_000, 2_250));
    assert_eq!(stats.blocks.into_iter().collect::<Vec<_>>(), vec![0]);
    let db = open(tmp.path(), options());
    assert_data(&everything(&db), &openmetrics_samples(), "backfilled");
    assert_eq!(
        label_values(&db, "code", &[], i64::MIN, i64::MAX),
        ["200", "500"]
    );
}

#[test]
fn malformed_backfill_names_the_line_and_writes_nothing() {
    for (input, line) in [
        // A broken sample line in the middle.
        (OPENMETRICS.replace("} 0 1.5", " 0 1.5"), "file.om:5:"),
        // A sample without a timestamp.
        (
            OPENMETRICS
                .replace("21.5 1.0", "21.5")
                .replace("-3.25 1.25", "-3.25"),
            "file.om:7:",
        ),
        // No `# EOF`.
        (OPENMETRICS.replace("# EOF\n", ""), "file.om:9:"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let err = create_blocks_from_openmetrics(&input, "file.om", tmp.path(), RANGE, |_| {})
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(line), "{err:?} should start with {line}");
        assert!(!tmp.path().join("db").exists(), "{err}: nothing written");
    }
}

#[test]
fn backfill_spanning_several_blocks_makes_several_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let input = "\
# TYPE load gauge
load{host=\"x\"} 0.5 1.0
load{host=\"x\"} 0.25 15.5
load{host=\"x\"} 0.125 29.999
load{host=\"x\"} 1e-3 30.0
# EOF
";
    let stats =
        create_blocks_from_openmetrics(input, "load.om", tmp.path(), RANGE, |_| {}).unwrap();
    assert_eq!(
        stats.blocks.into_iter().collect::<Vec<_>>(),
        vec![0, 10_000, 20_000, 30_000]
    );
    let db = open(tmp.path(), options());
    assert_eq!(
        db.store().block_starts().unwrap(),
        vec![0, 10_000, 20_000, 30_000]
    );
    let want = Data::from([(
        labels(&[("__name__", "load"), ("host", "x")]),
        vec![
            (1_000, 0.5),
            (15_500, 0.25),
            (29_999, 0.125),
            (30_000, 1e-3),
        ],
    )]);
    assert_data(&everything(&db), &want, "several blocks");
    // Per-block queries see each block's samples.
    assert_data(
        &select(&db, &[every_series()], 10_000, 29_999),
        &only(&want, |_, t| (10_000..=29_999).contains(&t)),
        "the middle blocks",
    );
}

#[test]
fn backfill_into_a_directory_with_head_data_merges() {
    let tmp = tempfile::tempdir().unwrap();
    let db = open(tmp.path(), options());
    let requests = labels(&[
        ("__name__", "http_requests_total"),
        ("code", "200"),
        ("job", "api"),
    ]);
    let recent = Data::from([(requests.clone(), steady(3_000, 8_000, 1000))]);
    append(&db, &recent);
    db.close();
    drop(db);

    create_blocks_from_openmetrics(OPENMETRICS, "file.om", tmp.path(), RANGE, |_| {}).unwrap();
    let mut want = openmetrics_samples();
    want.get_mut(&requests).unwrap().extend(&recent[&requests]);
    let db = open(tmp.path(), options());
    assert_data(&everything(&db), &want, "backfill and head merged");

    // Compacting the head into the backfilled block keeps both.
    let later = Data::from([(requests.clone(), steady(8_000, 26_000, 1000))]);
    append(&db, &later);
    want.get_mut(&requests).unwrap().extend(&later[&requests]);
    assert!(db.compact().unwrap().blocks >= 1);
    assert_data(
        &everything(&db),
        &want,
        "backfill and compacted head merged",
    );
    let db = reopen(db, options());
    assert_data(&everything(&db), &want, "merged, reopened");
}

#[test]
fn concurrent_appends_queries_and_compactions() {
    use std::sync::atomic::{AtomicBool, Ordering};
    const WRITERS: usize = 3;
    const BATCHES: i64 = 150;
    const PER_BATCH: i64 = 10;
    let tmp = tempfile::tempdir().unwrap();
    let db = open(tmp.path(), options());
    let done = AtomicBool::new(false);
    let committed: Vec<Data> = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let db = &db;
                scope.spawn(move || {
                    // Writers advance at different paces, so the slowest
                    // falls behind compaction and is refused old samples.
                    let step = 100 * (w as i64 + 1);
                    let series: Vec<Vec<Label>> = (0..2)
                        .map(|i| {
                            labels(&[
                                ("__name__", "load"),
                                ("writer", &w.to_string()),
                                ("i", &i.to_string()),
                            ])
                        })
                        .collect();
                    let mut committed = Data::new();
                    for batch in 0..BATCHES {
                        let mut app = db.appender();
                        let mut accepted = Vec::new();
                        for k in 0..PER_BATCH {
                            let t = (batch * PER_BATCH + k) * step;
                            for (i, s) in series.iter().enumerate() {
                                let v = t as f64 + i as f64 / 4.0;
                                match app.append(s, t, v) {
                                    Ok(()) => accepted.push((s.clone(), t, v)),
                                    Err(AppendError::OutOfBounds { .. }) => {}
                                    Err(e) => panic!("writer {w} at {t}: {e}"),
                                }
                            }
                        }
                        app.commit().unwrap();
                        for (s, t, v) in accepted {
                            committed.entry(s).or_default().push((t, v));
                        }
                    }
                    committed
                })
            })
            .collect();
        for _ in 0..2 {
            scope.spawn(|| {
                // Nothing is deleted, so no series may ever lose samples
                // between two queries (as it would if a query fell between
                // a block leaving the head and reaching the store).
                let mut seen: BTreeMap<Vec<Label>, usize> = BTreeMap::new();
                while !done.load(Ordering::Relaxed) {
                    for series in db.select(&[every_series()], i64::MIN, i64::MAX).unwrap() {
                        assert!(
                            series.samples.windows(2).all(|w| w[0].0 < w[1].0),
                            "{:?} not strictly increasing",
                            series.labels
                        );
                        let before = seen.insert(series.labels.clone(), series.samples.len());
                        assert!(
                            before.is_none_or(|n| n <= series.samples.len()),
                            "{:?} went from {before:?} to {} samples",
                            series.labels,
                            series.samples.len()
                        );
                    }
                    let writers = label_values(&db, "writer", &[], i64::MIN, i64::MAX);
                    assert!(writers.len() <= WRITERS, "{writers:?}");
                }
            });
        }
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                db.compact().unwrap();
                std::thread::yield_now();
            }
        });
        // Readers and the compactor stop even when a writer panicked, so a
        // failure is reported instead of hanging the test.
        let joined: Vec<_> = writers.into_iter().map(|w| w.join()).collect();
        done.store(true, Ordering::Relaxed);
        joined.into_iter().map(|w| w.unwrap()).collect()
    });
    let mut want = Data::new();
    for data in committed {
        want.extend(data);
    }
    assert!(count(&want) > 0);
    db.compact().unwrap();
    assert!(!db.store().block_starts().unwrap().is_empty());
    assert_data(&everything(&db), &want, "after concurrent use");
    let db = reopen(db, options());
    assert_data(&everything(&db), &want, "after concurrent use, reopened");
}

#[test]
fn label_names_and_values_across_head_and_store() {
    let tmp = tempfile::tempdir().unwrap();
    let db = open(tmp.path(), options());
    let data = Data::from([
        // Only in the first block: ends up in the store alone.
        (
            labels(&[("__name__", "up"), ("job", "node"), ("instance", "a")]),
            steady(0, 6_000, 1000),
        ),
        // Keeps going: in the store and the head.
        (
            labels(&[("__name__", "clock"), ("job", "clock")]),
            steady(0, 25_000, 1000),
        ),
        // Only in the head.
        (
            labels(&[
                ("__name__", "up"),
                ("job", "mysql"),
                ("instance", "b"),
                ("env", "prod"),
            ]),
            steady(12_000, 25_000, 1000),
        ),
    ]);
    append(&db, &data);
    assert_eq!(db.compact().unwrap().series_removed_from_head, 1);
    let check = |db: &Db| {
        use MatchType::*;
        let all = (i64::MIN, i64::MAX);
        assert_eq!(
            label_values(db, "job", &[], all.0, all.1),
            ["clock", "mysql", "node"]
        );
        // The compacted block alone.
        assert_eq!(label_values(db, "job", &[], 0, 9_999), ["clock", "node"]);
        // The head alone.
        assert_eq!(
            label_values(db, "job", &[], 12_000, 30_000),
            ["clock", "mysql"]
        );
        assert!(label_values(db, "job", &[], 40_000, 50_000).is_empty());
        assert_eq!(
            label_values(
                db,
                "instance",
                &[Matcher::equal("job", "node")],
                all.0,
                all.1
            ),
            ["a"]
        );
        assert_eq!(
            label_values(db, "instance", &[m(NotEqual, "job", "node")], all.0, all.1),
            ["b"]
        );
        assert_eq!(
            label_values(db, "job", &[m(Regex, "job", "n.*|m.*")], all.0, all.1),
            ["mysql", "node"]
        );
        assert_eq!(
            label_values(db, "job", &[m(Regex, "instance", ".+")], 0, 9_999),
            ["node"]
        );
        assert_eq!(
            label_names(db, &[Matcher::equal("__name__", "up")], all.0, all.1),
            ["__name__", "env", "instance", "job"]
        );
        assert_eq!(
            label_names(db, &[], 0, 9_999),
            ["__name__", "instance", "job"]
        );
        assert_eq!(
            label_names(db, &[], 12_000, 30_000),
            ["__name__", "env", "instance", "job"]
        );
        assert_eq!(
            label_names(db, &[Matcher::equal("job", "clock")], all.0, all.1),
            ["__name__", "job"]
        );
        assert!(label_names(db, &[Matcher::equal("job", "nope")], all.0, all.1).is_empty());
    };
    check(&db);
    let db = reopen(db, options());
    check(&db);
}
