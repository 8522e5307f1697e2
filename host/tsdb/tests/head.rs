//! The head through the storage traits: appends, rejections, selection by
//! every matcher type, label names and values, concurrent append and query.

use wasmetheus_model::Label;
use wasmetheus_model::storage::{AppendError, Appender, MatchType, Matcher, Queryable};
use wasmetheus_tsdb::{Head, HeadLimits};

fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
    let mut l: Vec<Label> = pairs.iter().map(|(n, v)| Label::new(*n, *v)).collect();
    l.sort();
    l
}

fn m(kind: MatchType, name: &str, value: &str) -> Matcher {
    Matcher::new(kind, name, value).unwrap()
}

/// A head with five series of `up`/`http_requests_total`, one sample each.
fn fixture() -> Head {
    let head = Head::default();
    let mut app = head.appender();
    for (i, series) in [
        vec![("__name__", "up"), ("job", "node"), ("instance", "a")],
        vec![("__name__", "up"), ("job", "node"), ("instance", "b")],
        vec![("__name__", "up"), ("job", "mysql"), ("instance", "c")],
        vec![
            ("__name__", "http_requests_total"),
            ("job", "api"),
            ("code", "200"),
        ],
        vec![("__name__", "http_requests_total"), ("job", "api")],
    ]
    .iter()
    .enumerate()
    {
        app.append(&labels(series), 1000, i as f64).unwrap();
    }
    app.commit().unwrap();
    drop(app);
    head
}

/// Selects with `matchers` and renders `instance|code` of each result.
fn check(matchers: &[Matcher], expected: &[&str]) {
    let head = fixture();
    let got: Vec<String> = head
        .select(matchers, 0, 2000)
        .unwrap()
        .iter()
        .map(|s| {
            s.labels
                .iter()
                .filter(|l| l.name == "instance" || l.name == "code" || l.name == "job")
                .map(|l| format!("{}={}", l.name, l.value))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    assert_eq!(got, expected, "{matchers:?}");
}

#[test]
fn selection_by_every_matcher_type() {
    use MatchType::*;
    check(
        &[m(Equal, "__name__", "up")],
        &[
            "instance=a,job=node",
            "instance=b,job=node",
            "instance=c,job=mysql",
        ],
    );
    check(
        &[m(Equal, "__name__", "up"), m(NotEqual, "job", "node")],
        &["instance=c,job=mysql"],
    );
    check(
        &[m(Regex, "job", "node|api")],
        &[
            "code=200,job=api",
            "job=api",
            "instance=a,job=node",
            "instance=b,job=node",
        ],
    );
    check(
        &[m(Regex, "job", "n.*")],
        &["instance=a,job=node", "instance=b,job=node"],
    );
    check(&[m(Regex, "job", ".*q.*")], &["instance=c,job=mysql"]);
    check(&[m(NotRegex, "job", "node|api")], &["instance=c,job=mysql"]);
    // A matcher accepting "" also matches series without the label.
    check(
        &[m(Equal, "job", "api"), m(Equal, "code", "")],
        &["job=api"],
    );
    check(
        &[m(Equal, "job", "api"), m(NotEqual, "code", "500")],
        &["code=200,job=api", "job=api"],
    );
    check(
        &[m(Equal, "job", "api"), m(Regex, "code", "2..|")],
        &["code=200,job=api", "job=api"],
    );
    check(&[m(Equal, "__name__", "nope")], &[]);
    check(&[m(Equal, "nolabel", "x")], &[]);
}

#[test]
fn time_range_limits_samples_and_series() {
    let head = Head::default();
    let series = labels(&[("__name__", "x")]);
    let mut app = head.appender();
    for t in 0..1000 {
        app.append(&series, t * 15_000, t as f64).unwrap();
    }
    app.commit().unwrap();
    let selected = head
        .select(&[Matcher::equal("__name__", "x")], 30_000, 60_000)
        .unwrap();
    assert_eq!(
        selected[0].samples,
        vec![(30_000, 2.0), (45_000, 3.0), (60_000, 4.0)]
    );
    // Across chunk boundaries (120 samples per chunk).
    let all = head
        .select(&[Matcher::equal("__name__", "x")], 0, i64::MAX)
        .unwrap();
    assert_eq!(all[0].samples.len(), 1000);
    assert!(
        head.select(&[Matcher::equal("__name__", "x")], 20_000_000, 30_000_000)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn out_of_order_and_duplicates_are_rejected_and_counted() {
    let head = Head::default();
    let series = labels(&[("__name__", "x")]);
    let mut app = head.appender();
    app.append(&series, 2000, 1.0).unwrap();
    app.commit().unwrap();
    let mut app = head.appender();
    assert_eq!(
        app.append(&series, 1000, 1.0),
        Err(AppendError::OutOfOrder {
            last: 2000,
            t: 1000
        })
    );
    // The same sample again is accepted and ignored, as in Prometheus.
    app.append(&series, 2000, 1.0).unwrap();
    assert_eq!(
        app.append(&series, 2000, 2.0),
        Err(AppendError::DuplicateTimestamp { t: 2000 })
    );
    app.commit().unwrap();
    let samples = &head
        .select(&[Matcher::equal("__name__", "x")], 0, 5000)
        .unwrap()[0]
        .samples;
    assert_eq!(samples, &vec![(2000, 1.0)]);
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!(head.stats.out_of_order.load(Relaxed), 1);
    assert_eq!(head.stats.duplicates.load(Relaxed), 1);
    assert_eq!(head.stats.samples_appended.load(Relaxed), 1);
}

#[test]
fn stale_marker_is_stored_bit_exact() {
    const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;
    let head = Head::default();
    let series = labels(&[("__name__", "x")]);
    let mut app = head.appender();
    app.append(&series, 1000, 1.0).unwrap();
    app.append(&series, 2000, f64::from_bits(STALE_NAN))
        .unwrap();
    app.commit().unwrap();
    let samples = &head
        .select(&[Matcher::equal("__name__", "x")], 0, 5000)
        .unwrap()[0]
        .samples;
    assert_eq!(samples[1].1.to_bits(), STALE_NAN);
}

#[test]
fn rollback_and_uncommitted_samples_are_invisible() {
    let head = Head::default();
    let series = labels(&[("__name__", "x")]);
    let mut app = head.appender();
    app.append(&series, 1000, 1.0).unwrap();
    // A series without samples in range is not selected.
    let selector = [Matcher::equal("__name__", "x")];
    assert!(head.select(&selector, 0, 5000).unwrap().is_empty());
    app.rollback();
    app.commit().unwrap();
    assert!(
        head.select(&[Matcher::equal("__name__", "x")], 0, 5000)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn series_limit_is_a_clear_error() {
    let head = Head::new(HeadLimits {
        max_series: 2,
        ..HeadLimits::default()
    });
    let mut app = head.appender();
    app.append(&labels(&[("__name__", "a")]), 1, 1.0).unwrap();
    app.append(&labels(&[("__name__", "b")]), 1, 1.0).unwrap();
    let err = app
        .append(&labels(&[("__name__", "c")]), 1, 1.0)
        .unwrap_err();
    assert_eq!(err.to_string(), "series limit of 2 reached");
}

#[test]
fn label_names_and_values() {
    let head = fixture();
    assert_eq!(
        head.label_names(&[], 0, 2000).unwrap(),
        ["__name__", "code", "instance", "job"]
    );
    assert_eq!(
        head.label_values("job", &[Matcher::equal("__name__", "up")], 0, 2000)
            .unwrap(),
        ["mysql", "node"]
    );
    assert!(
        head.label_values("job", &[], 5000, 6000)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn concurrent_append_and_query() {
    let head = std::sync::Arc::new(Head::default());
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let head = std::sync::Arc::clone(&head);
            std::thread::spawn(move || {
                for t in 0..500 {
                    let mut app = head.appender();
                    for s in 0..10 {
                        let series = labels(&[("__name__", "c"), ("s", &format!("{w}-{s}"))]);
                        app.append(&series, t, t as f64).unwrap();
                    }
                    app.commit().unwrap();
                }
            })
        })
        .collect();
    let reader = {
        let head = std::sync::Arc::clone(&head);
        std::thread::spawn(move || {
            for _ in 0..200 {
                for s in head
                    .select(&[Matcher::equal("__name__", "c")], 0, i64::MAX)
                    .unwrap()
                {
                    // Every series' samples are a gap-free prefix 0, 1, 2, …
                    for (i, (t, v)) in s.samples.iter().enumerate() {
                        assert_eq!((*t, *v), (i as i64, i as f64));
                    }
                }
            }
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    reader.join().unwrap();
    let all = head
        .select(&[Matcher::equal("__name__", "c")], 0, i64::MAX)
        .unwrap();
    assert_eq!(all.len(), 40);
    assert!(all.iter().all(|s| s.samples.len() == 500));
}

#[test]
fn committed_samples_survive_a_restart_through_the_wal() {
    let dir = std::env::temp_dir().join(format!("head-wal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let a = labels(&[("__name__", "a")]);
    let b = labels(&[("__name__", "b"), ("x", "1")]);
    {
        let head = Head::open(&dir, HeadLimits::default(), false).unwrap();
        let mut app = head.appender();
        for t in 0..300 {
            app.append(&a, t, t as f64).unwrap();
        }
        app.commit().unwrap();
        let mut app = head.appender();
        app.append(&b, 5, f64::from_bits(0x7ff0_0000_0000_0002))
            .unwrap();
        app.commit().unwrap();
        // Not committed: must not come back.
        let mut app = head.appender();
        app.append(&a, 1000, 1.0).unwrap();
        app.rollback();
    }
    let head = Head::open(&dir, HeadLimits::default(), false).unwrap();
    assert_eq!(head.num_series(), 2);
    let all = head
        .select(
            &[Matcher::new(MatchType::Regex, "__name__", ".+").unwrap()],
            0,
            i64::MAX,
        )
        .unwrap();
    assert_eq!(all[0].samples.len(), 300);
    assert_eq!(all[0].samples[299], (299, 299.0));
    assert_eq!(all[1].labels, b);
    assert_eq!(all[1].samples[0].1.to_bits(), 0x7ff0_0000_0000_0002);
    // Appending continues after the replayed data, and is logged too.
    let mut app = head.appender();
    assert!(app.append(&a, 10, 1.0).is_err());
    app.append(&a, 300, 300.0).unwrap();
    app.commit().unwrap();
    drop(app);
    drop(head);
    let head = Head::open(&dir, HeadLimits::default(), false).unwrap();
    let a_samples = &head
        .select(&[Matcher::equal("__name__", "a")], 0, i64::MAX)
        .unwrap()[0]
        .samples;
    assert_eq!(a_samples.len(), 301);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_series_recreated_under_a_new_ref_keeps_all_its_samples() {
    use wasmetheus_tsdb::wal::{Record, Wal};
    // The log as a crash between a truncation (which collected the series)
    // and its checkpoint leaves it: the series twice, under two refs.
    let dir = tempfile::tempdir().unwrap();
    let a = labels(&[("__name__", "a")]);
    {
        let (mut wal, _) = Wal::open(dir.path(), false, |_| {}).unwrap();
        wal.log(&[
            Record::Series {
                r: 0,
                labels: a.clone(),
            },
            Record::Samples(vec![(0, 1, 1.0)]),
            Record::Series {
                r: 1,
                labels: a.clone(),
            },
            Record::Samples(vec![(1, 200, 2.0)]),
        ])
        .unwrap();
    }
    let head = Head::open(dir.path(), HeadLimits::default(), false).unwrap();
    assert_eq!(head.num_series(), 1);
    let got = head
        .select(&[Matcher::equal("__name__", "a")], i64::MIN, i64::MAX)
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].samples, vec![(1, 1.0), (200, 2.0)]);
}

#[test]
fn after_churn_a_replay_packs_refs_and_every_sample_finds_its_series() {
    let dir = tempfile::tempdir().unwrap();
    let m = |i: usize| labels(&[("__name__", "m"), ("i", &i.to_string())]);
    let values = |head: &Head, l: &[Label]| {
        let got = head
            .select(
                &[
                    Matcher::equal("__name__", "m"),
                    Matcher::equal("i", &l[1].value),
                ],
                i64::MIN,
                i64::MAX,
            )
            .unwrap();
        assert_eq!(got.len(), 1, "{l:?}");
        got[0].samples.clone()
    };
    let log_bytes = |dir: &std::path::Path| -> u64 {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_name() != "lock")
            .map(|e| e.metadata().unwrap().len())
            .sum()
    };
    {
        let head = Head::open(dir.path(), HeadLimits::default(), false).unwrap();
        let mut app = head.appender();
        for i in 0..3_000 {
            app.append(&m(i), 0, i as f64).unwrap();
        }
        app.commit().unwrap();
        let mut app = head.appender();
        for i in 3_000..3_005 {
            app.append(&m(i), 100, i as f64).unwrap();
        }
        app.commit().unwrap();
        drop(app);
        // The first 3,000 are collected: the checkpoint names the five
        // left by refs 3,000 to 3,004.
        assert_eq!(head.truncate(50).unwrap(), 3_000);
        head.close();
    }
    {
        // Replayed into refs 0 to 4 (the log's refs are beyond twice the
        // series replayed), and bound there in the log.
        let head = Head::open(dir.path(), HeadLimits::default(), false).unwrap();
        assert_eq!(head.num_series(), 5);
        let refs: Vec<u32> = head.all_series().iter().map(|(r, _)| *r).collect();
        assert_eq!(refs, [0, 1, 2, 3, 4]);
        let mut app = head.appender();
        app.append(&m(3_002), 200, -1.0).unwrap();
        app.append(&m(7), 200, -7.0).unwrap();
        app.commit().unwrap();
        drop(app);
        head.close();
    }
    let before = log_bytes(dir.path());
    let head = Head::open(dir.path(), HeadLimits::default(), false).unwrap();
    assert_eq!(log_bytes(dir.path()), before, "bindings logged again");
    for i in [3_000, 3_001, 3_003, 3_004] {
        assert_eq!(values(&head, &m(i)), [(100, i as f64)]);
    }
    assert_eq!(values(&head, &m(3_002)), [(100, 3_002.0), (200, -1.0)]);
    assert_eq!(values(&head, &m(7)), [(200, -7.0)]);
    // A checkpoint follows the bindings: it keeps the two series with
    // samples from 150 on, under whichever refs the log names them by.
    assert_eq!(head.truncate(150).unwrap(), 4);
    let mut app = head.appender();
    app.append(&m(7), 300, -8.0).unwrap();
    app.commit().unwrap();
    drop(app);
    head.close();
    drop(head);
    let head = Head::open(dir.path(), HeadLimits::default(), false).unwrap();
    assert_eq!(head.num_series(), 2);
    assert_eq!(values(&head, &m(3_002)), [(200, -1.0)]);
    assert_eq!(values(&head, &m(7)), [(200, -7.0), (300, -8.0)]);
    head.close();
}

#[test]
fn deletions_cut_only_what_they_cover_and_replay_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let limits = HeadLimits {
        out_of_order_window_ms: 1_000_000,
        ..HeadLimits::default()
    };
    let a = labels(&[("__name__", "a")]);
    let values = |head: &Head| -> Vec<(i64, f64)> {
        let got = head
            .select(&[Matcher::equal("__name__", "a")], i64::MIN, i64::MAX)
            .unwrap();
        got.into_iter().flat_map(|s| s.samples).collect()
    };
    // Several chunks of in-order samples at even times, then out-of-order
    // ones at odd times.
    let mut want: Vec<(i64, f64)> = Vec::new();
    let head = Head::open(dir.path(), limits, false).unwrap();
    let mut app = head.appender();
    for t in (0..2_000).step_by(2) {
        app.append(&a, t, t as f64).unwrap();
        want.push((t, t as f64));
    }
    app.commit().unwrap();
    drop(app);
    let mut app = head.appender();
    for t in (1..2_000).step_by(10) {
        app.append(&a, t, -(t as f64)).unwrap();
        want.push((t, -(t as f64)));
    }
    app.commit().unwrap();
    drop(app);
    want.sort_by_key(|s| s.0);
    assert_eq!(values(&head), want);
    // Many small deletions, one spanning chunks, one of nothing, and the
    // newest samples.
    let mut ranges: Vec<(i64, i64)> = (0..300).map(|i| (i * 6 + 3, i * 6 + 4)).collect();
    ranges.extend([(500, 900), (2_500, 3_000), (1_990, 2_000)]);
    for &(mint, maxt) in &ranges {
        head.delete(&[Matcher::equal("__name__", "a")], mint, maxt)
            .unwrap();
        want.retain(|(t, _)| *t < mint || *t > maxt);
    }
    assert_eq!(values(&head), want);
    // The newest sample left (1,988) bounds what is in order.
    let ooo = || {
        head.stats
            .out_of_order_appended
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let before = ooo();
    let mut app = head.appender();
    app.append(&a, 1_989, 0.5).unwrap();
    app.append(&a, 1_995, 1.5).unwrap();
    app.commit().unwrap();
    drop(app);
    assert_eq!(ooo(), before);
    want.push((1_989, 0.5));
    want.push((1_995, 1.5));
    assert_eq!(values(&head), want);
    head.close();
    drop(head);
    let head = Head::open(dir.path(), limits, false).unwrap();
    assert_eq!(values(&head), want);
    head.close();
}
