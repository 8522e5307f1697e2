//! Backfill as promtool does it: files its OpenMetrics parser accepts
//! (families in any order, series one after another with time going back),
//! what is kept when a series goes back in time within a block, and
//! blocks wider than the server's (`--max-block-duration 18h`) visible to
//! every query window, through compaction, merging and retention.

use std::collections::BTreeMap;
use std::path::Path;
use wasmetheus_model::Label;
use wasmetheus_model::storage::{Appender, MatchType, Matcher, Queryable};
use wasmetheus_tsdb::backfill::{
    compatible_block_duration, create_blocks_from_openmetrics, create_blocks_from_openmetrics_file,
};
use wasmetheus_tsdb::{Db, DbOptions};

const HOUR: i64 = 3_600_000;
const TWO_HOURS: i64 = 2 * HOUR;

type Data = BTreeMap<Vec<Label>, Vec<(i64, f64)>>;

fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
    let mut l: Vec<Label> = pairs.iter().map(|(n, v)| Label::new(*n, *v)).collect();
    l.sort();
    l
}

fn all() -> Matcher {
    Matcher::new(MatchType::Regex, "__name__", ".+").unwrap()
}

fn select(db: &impl Queryable, mint: i64, maxt: i64) -> Data {
    db.select(&[all()], mint, maxt)
        .unwrap()
        .into_iter()
        .map(|s| (s.labels, s.samples))
        .collect()
}

fn options() -> DbOptions {
    DbOptions {
        block_range_ms: TWO_HOURS,
        retention_time_ms: None,
        ..DbOptions::default()
    }
}

fn open(dir: &Path) -> Db {
    Db::open(dir, options()).unwrap()
}

/// `data` restricted to `[mint, maxt]`, series left empty dropped.
fn within(data: &Data, mint: i64, maxt: i64) -> Data {
    data.iter()
        .map(|(l, s)| {
            let s: Vec<_> = s
                .iter()
                .copied()
                .filter(|(t, _)| (mint..=maxt).contains(t))
                .collect();
            (l.clone(), s)
        })
        .filter(|(_, s)| !s.is_empty())
        .collect()
}

#[test]
fn files_promtool_accepts_are_accepted_whole() {
    // Bucket series one after another (each with its own timestamps),
    // whole series one after another with time going back between them, a
    // family's TYPE after samples of another family, a label order that
    // differs between lines of one series, a trailing comma, an exemplar,
    // quantiles spelled two ways (one series, as Prometheus 3 writes them
    // as OpenMetrics floats).
    let input = "\
# TYPE rpc histogram
rpc_bucket{le=\"0.5\"} 1 0
rpc_bucket{le=\"0.5\"} 2 60
rpc_bucket{le=\"0.5\"} 4 120
rpc_bucket{le=\"+Inf\"} 2 0
rpc_bucket{le=\"+Inf\"} 3 60 # {trace_id=\"a\"} 0.7 59
rpc_bucket{le=\"+Inf\"} 5 120
rpc_count 2 0
rpc_count 5 120
rpc_sum 1.5 0
rpc_sum 9 120
# TYPE temp gauge
temp{room=\"a\",floor=\"1\"} 20 10000
temp{room=\"a\",floor=\"1\"} 21 10060
temp{floor=\"1\",room=\"a\",} 22 10120
temp{room=\"b\",floor=\"1\"} 18 0
temp{room=\"b\",floor=\"1\"} 19 30
# TYPE lat summary
lat{quantile=\"0.50\"} 3 0
lat{quantile=\"1\"} 4 0
lat{quantile=\"0.5\"} 5 60
lat_count 2 0
# EOF
";
    let tmp = tempfile::tempdir().unwrap();
    let stats =
        create_blocks_from_openmetrics(input, "x.om", tmp.path(), TWO_HOURS, |_| {}).unwrap();
    assert_eq!((stats.series, stats.samples, stats.dropped), (9, 19, 0));
    let db = open(tmp.path());
    let want = Data::from([
        (
            labels(&[("__name__", "rpc_bucket"), ("le", "0.5")]),
            vec![(0, 1.0), (60_000, 2.0), (120_000, 4.0)],
        ),
        (
            labels(&[("__name__", "rpc_bucket"), ("le", "+Inf")]),
            vec![(0, 2.0), (60_000, 3.0), (120_000, 5.0)],
        ),
        (
            labels(&[("__name__", "rpc_count")]),
            vec![(0, 2.0), (120_000, 5.0)],
        ),
        (
            labels(&[("__name__", "rpc_sum")]),
            vec![(0, 1.5), (120_000, 9.0)],
        ),
        (
            labels(&[("__name__", "temp"), ("floor", "1"), ("room", "a")]),
            vec![(10_000_000, 20.0), (10_060_000, 21.0), (10_120_000, 22.0)],
        ),
        (
            labels(&[("__name__", "temp"), ("floor", "1"), ("room", "b")]),
            vec![(0, 18.0), (30_000, 19.0)],
        ),
        (
            labels(&[("__name__", "lat"), ("quantile", "0.5")]),
            vec![(0, 3.0), (60_000, 5.0)],
        ),
        (
            labels(&[("__name__", "lat"), ("quantile", "1.0")]),
            vec![(0, 4.0)],
        ),
        (labels(&[("__name__", "lat_count")]), vec![(0, 2.0)]),
    ]);
    assert_eq!(select(&db, i64::MIN, i64::MAX), want);
}

#[test]
fn within_a_block_a_series_keeps_what_promtool_keeps() {
    // promtool's appender keeps a sample only if it is newer than the
    // series' last one: the first of two at one time, not the older one
    // after a newer. In another block, going back is fine.
    let input = "\
a 1 10
a 2 10
a 3 5
a 4 20
a 5 0.001
a 6 7200
a 7 1
# EOF
";
    let tmp = tempfile::tempdir().unwrap();
    let stats =
        create_blocks_from_openmetrics(input, "x.om", tmp.path(), TWO_HOURS, |_| {}).unwrap();
    assert_eq!((stats.samples, stats.dropped), (3, 4));
    let db = open(tmp.path());
    let got = select(&db, i64::MIN, i64::MAX);
    assert_eq!(
        got[&labels(&[("__name__", "a")])],
        vec![(10_000, 1.0), (20_000, 4.0), (7_200_000, 6.0)]
    );
}

/// Three days of samples every 10 minutes for two series, as a file.
fn three_days() -> (String, Data) {
    let mut text = String::new();
    let mut data = Data::new();
    // Starts mid-block so that the first block is cut short, as in
    // real exports.
    let start = 1_700_000_000_000i64 + 5 * HOUR + 600_000;
    for job in ["a", "b"] {
        let series = labels(&[("__name__", "up_total"), ("job", job)]);
        let samples: Vec<(i64, f64)> = (0..3 * 24 * 6)
            .map(|i| (start + i * 600_000, (i * 3) as f64 + 0.5))
            .collect();
        for (t, v) in &samples {
            text.push_str(&format!(
                "up_total{{job=\"{job}\"}} {v} {}.{:03}\n",
                t / 1000,
                t % 1000
            ));
        }
        data.insert(series, samples);
    }
    text.push_str("# EOF\n");
    (text, data)
}

#[test]
fn wide_blocks_are_visible_to_every_query_window() {
    let (text, data) = three_days();
    let (first, last) = data
        .values()
        .flatten()
        .fold((i64::MAX, i64::MIN), |(a, b), (t, _)| {
            (a.min(*t), b.max(*t))
        });
    for hours in [2, 6, 18, 72] {
        let range = compatible_block_duration(hours * HOUR);
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("in.om");
        std::fs::write(&file, &text).unwrap();
        let stats =
            create_blocks_from_openmetrics_file(&file, &tmp.path().join("data"), range, |_| {})
                .unwrap();
        assert!(stats.blocks.iter().all(|b| b % range == 0), "{hours} h");
        let db = Db::open(&tmp.path().join("data"), options()).unwrap();
        assert_eq!(
            select(&db, i64::MIN, i64::MAX),
            data,
            "{hours} h: everything"
        );
        // Instant-query windows (5 minutes back) at every sample, and
        // range windows starting inside the first block.
        for t in (first..=last).step_by(600_000) {
            assert_eq!(
                select(&db, t - 300_000, t),
                within(&data, t - 300_000, t),
                "{hours} h blocks: instant window at {t}"
            );
        }
        for from in [first, first + 3 * HOUR, first + 19 * HOUR] {
            assert_eq!(
                select(&db, from, from + 7 * HOUR),
                within(&data, from, from + 7 * HOUR),
                "{hours} h blocks: range window from {from}"
            );
        }
        // The head's compaction adds 2 h parts under a wide block; the
        // merge of same-start parts keeps the wide one's width.
        let series = labels(&[("__name__", "up_total"), ("job", "c")]);
        let mut app = db.appender();
        let mut extra = Vec::new();
        for i in 0..40 {
            let t = first + HOUR + i * 300_000;
            app.append(&series, t, i as f64).unwrap();
            extra.push((t, i as f64));
        }
        app.commit().unwrap();
        drop(app);
        db.compact().unwrap();
        let mut want = data.clone();
        want.insert(series, extra);
        for t in (first..=last).step_by(1_800_000) {
            assert_eq!(
                select(&db, t - 300_000, t),
                within(&want, t - 300_000, t),
                "{hours} h blocks with compacted head data: instant window at {t}"
            );
        }
        db.close();
        drop(db);
        let db = Db::open(&tmp.path().join("data"), options()).unwrap();
        assert_eq!(select(&db, i64::MIN, i64::MAX), want, "{hours} h: reopened");
    }
}

#[test]
fn retention_drops_a_wide_block_only_once_all_of_it_is_old() {
    let (text, data) = three_days();
    let range = compatible_block_duration(18 * HOUR);
    let tmp = tempfile::tempdir().unwrap();
    create_blocks_from_openmetrics(&text, "x.om", tmp.path(), range, |_| {}).unwrap();
    let db = open(tmp.path());
    let blocks = db.store().block_starts().unwrap();
    assert!(blocks.len() >= 4);
    // A cut inside the second block: only the first goes.
    db.store()
        .drop_blocks_before(blocks[1] + range - 1)
        .unwrap();
    assert_eq!(db.store().block_starts().unwrap(), blocks[1..]);
    assert_eq!(
        select(&db, i64::MIN, i64::MAX),
        within(&data, blocks[1], i64::MAX)
    );
}
