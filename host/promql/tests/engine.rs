//! Tests of the PromQL engine: core semantics (lookback, staleness,
//! left-open ranges, rate extrapolation, vector matching) on a small
//! in-memory store, and the whole conformance corpus with per-file counts.

#[path = "support/corpus.rs"]
mod corpus;
use corpus::corpus_files;

use wasmetheus_model::Label;
use wasmetheus_model::storage::{STALE_NAN_BITS, Storage};
use wasmetheus_promql::engine::Engine;
use wasmetheus_promql::value::{SampleValue, Value, format_labels};
use wasmetheus_promqltest::{Counts, MemStore, run_script};

/// Runs every corpus file and prints per-file counts. Every case without
/// native histograms must pass (those with them count when they pass and
/// are skipped otherwise; `native_histogram_cases_are_skipped_never_passed`
/// checks that only they are). `WASMETHEUS_SHOW_FAILURES=1` prints every
/// failure even on success.
#[test]
fn corpus() {
    let files = corpus_files();
    let engine = Engine::default();
    let show = std::env::var_os("WASMETHEUS_SHOW_FAILURES").is_some();
    let mut total = Counts::default();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        let report = run_script(&name, &text, &engine);
        let counts = report.counts();
        println!("{name}: {counts}");
        if show || counts.failed > 0 {
            for f in report.failures() {
                println!("  {f}");
            }
        }
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        total += counts;
    }
    println!("{total}");
    assert_eq!(total.failed, 0, "corpus cases failed: {total}");
    assert!(
        total.passed >= PASSED,
        "fewer cases ran than the corpus has without native histograms: {total}"
    );
}

/// The corpus' cases that pass: the 1288 without native histograms
/// (FORMAT.md counts 1290 float cases; two regex selectors match histogram
/// series once their escapes are read) and 165 with native histograms
/// that only select, pass through, count, pick, negate or leave out
/// histograms or read their count or sum; 761 are skipped.
const PASSED: usize = 1453;

/// Our own scripted cases (`tests/cases/*.test`), for what the engine adds
/// or fixes beyond the corpus: every one must pass, none may be skipped.
#[test]
fn own_cases() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no cases in {}", dir.display());
    let engine = Engine::default();
    for path in &files {
        let name = path.display().to_string();
        let report = run_script(&name, &std::fs::read_to_string(path).unwrap(), &engine);
        let counts = report.counts();
        let failures: Vec<&str> = report.failures().collect();
        let skipped: Vec<String> = report
            .cases
            .iter()
            .filter_map(|c| match &c.outcome {
                wasmetheus_promqltest::Outcome::Skipped(why) => {
                    Some(format!("line {}: {}: {why}", c.line, c.expr))
                }
                _ => None,
            })
            .collect();
        assert!(
            report.errors.is_empty() && counts.failed == 0 && counts.skipped == 0,
            "{name}: {counts}\n{:?}\n{}\n{}",
            report.errors,
            failures.join("\n"),
            skipped.join("\n")
        );
    }
}

// ---- unit tests on a small store ----

fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
    let mut l: Vec<Label> = pairs.iter().map(|(n, v)| Label::new(*n, *v)).collect();
    l.sort();
    l
}

/// A series for [`store`]: label pairs and samples.
type TestSeries<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

fn store(series: &[TestSeries<'_>]) -> MemStore {
    let store = MemStore::new();
    let mut app = store.appender();
    for (l, samples) in series {
        let l = labels(l);
        for &(t, v) in *samples {
            app.append(&l, t, v).unwrap();
        }
    }
    app.commit().unwrap();
    drop(app);
    store
}

/// An instant query's result as `labels value` lines, sorted.
fn instant(store: &MemStore, q: &str, t: i64) -> String {
    let (v, _) = Engine::default().query_instant(store, q, t).unwrap();
    render(&v)
}

fn render(v: &Value) -> String {
    let mut lines: Vec<String> = match v {
        Value::Scalar(_, f) => vec![format!("scalar {f}")],
        Value::String(_, s) => vec![format!("string {s}")],
        Value::Vector(samples) => samples
            .iter()
            .map(|s| match &s.value {
                SampleValue::Float(f) => format!("{} {f}", format_labels(&s.labels)),
                SampleValue::Histogram(h) => format!("{} {h}", format_labels(&s.labels)),
            })
            .collect(),
        Value::Matrix(series) => series
            .iter()
            .map(|s| {
                let points: Vec<String> = s
                    .points
                    .iter()
                    .map(|p| format!("{}@{}", p.value, p.t))
                    .collect();
                format!("{} {}", format_labels(&s.labels), points.join(" "))
            })
            .collect(),
    };
    lines.sort();
    lines.join("\n")
}

const M: i64 = 60_000;

#[test]
fn lookback_window_is_left_open() {
    let s = store(&[(&[("__name__", "x")], &[(0, 1.0)])]);
    assert_eq!(instant(&s, "x", 0), "x 1");
    assert_eq!(instant(&s, "x", 5 * M - 1), "x 1");
    // At exactly 5m the sample at 0 is outside `(t - 5m, t]`.
    assert_eq!(instant(&s, "x", 5 * M), "");
    assert_eq!(instant(&s, "x offset 1m", 6 * M - 1), "x 1");
    assert_eq!(instant(&s, "x @ 0", 100 * M), "x 1");
}

#[test]
fn a_stale_marker_ends_the_series() {
    let stale = f64::from_bits(STALE_NAN_BITS);
    let s = store(&[(&[("__name__", "x")], &[(0, 1.0), (M, stale), (2 * M, 3.0)])]);
    assert_eq!(instant(&s, "x", 30_000), "x 1");
    assert_eq!(instant(&s, "x", M), "");
    assert_eq!(instant(&s, "x", M + 30_000), "");
    assert_eq!(instant(&s, "x", 2 * M), "x 3");
    // Stale markers are not samples of a range either.
    assert_eq!(instant(&s, "count_over_time(x[5m])", 2 * M), "{} 2");
}

#[test]
fn range_selectors_are_left_open() {
    let s = store(&[(&[("__name__", "x")], &[(0, 0.0), (M, 1.0), (2 * M, 2.0)])]);
    assert_eq!(instant(&s, "x[1m]", 2 * M), "x 2@120000");
    assert_eq!(instant(&s, "x[2m]", 2 * M), "x 1@60000 2@120000");
    assert_eq!(instant(&s, "count_over_time(x[2m])", 2 * M), "{} 2");
}

#[test]
fn rate_extrapolates_like_prometheus() {
    // 0, 10, 20, … every minute: a steady 1/6 per second.
    let samples: Vec<(i64, f64)> = (0..=10).map(|i| (i * M, i as f64 * 10.0)).collect();
    let s = store(&[(&[("__name__", "x_total")], &samples)]);
    assert_eq!(
        instant(&s, "rate(x_total[5m])", 10 * M),
        "{} 0.16666666666666666"
    );
    assert_eq!(instant(&s, "increase(x_total[5m])", 10 * M), "{} 50");
    // Near the series start, extrapolation stops at the counter's zero.
    assert_eq!(instant(&s, "increase(x_total[5m])", 2 * M), "{} 20");
    // A counter reset adds the value before it.
    let s = store(&[(
        &[("__name__", "c_total")],
        &[(M, 10.0), (2 * M, 20.0), (3 * M, 5.0), (4 * M, 15.0)],
    )]);
    assert_eq!(instant(&s, "resets(c_total[5m])", 4 * M), "{} 1");
    assert_eq!(instant(&s, "idelta(c_total[5m])", 4 * M), "{} 10");
    assert_eq!(
        instant(&s, "irate(c_total[5m])", 4 * M),
        "{} 0.16666666666666666"
    );
    // 10 → 20 → (reset) 5 → 15: an increase of 25 over 3m sampled,
    // extrapolated by half a step to the end, to zero at the start.
    let (v, _) = Engine::default()
        .query_instant(&s, "increase(c_total[4m])", 4 * M + 30_000)
        .unwrap();
    let Value::Vector(v) = v else { panic!() };
    let SampleValue::Float(f) = v[0].value else {
        panic!()
    };
    assert!(
        (f - 25.0 * (180.0 + 30.0 + 30.0) / 180.0).abs() < 1e-9,
        "{f}"
    );
}

#[test]
fn vector_matching() {
    let s = store(&[
        (&[("__name__", "a"), ("job", "j"), ("i", "1")], &[(0, 1.0)]),
        (&[("__name__", "a"), ("job", "j"), ("i", "2")], &[(0, 2.0)]),
        (&[("__name__", "b"), ("job", "j")], &[(0, 10.0)]),
    ]);
    assert_eq!(
        instant(&s, "a * on(job) group_left b", 0),
        "{i=\"1\", job=\"j\"} 10\n{i=\"2\", job=\"j\"} 20"
    );
    assert_eq!(
        instant(&s, "b / on(job) group_right a", 0),
        "{i=\"1\", job=\"j\"} 10\n{i=\"2\", job=\"j\"} 5"
    );
    let e = Engine::default()
        .query_instant(&s, "a + on(job) b", 0)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
    );
    let e = Engine::default()
        .query_instant(&s, "b + on(job) a", 0)
        .unwrap_err();
    assert!(
        e.to_string().starts_with(
            "found duplicate series for the match group {job=\"j\"} on the right hand-side"
        ),
        "{e}"
    );
    assert_eq!(instant(&s, "a > 1", 0), "a{i=\"2\", job=\"j\"} 2");
    assert_eq!(
        instant(&s, "a > bool 1", 0),
        "{i=\"1\", job=\"j\"} 0\n{i=\"2\", job=\"j\"} 1"
    );
    assert_eq!(
        instant(&s, "a and on(i) a{i=\"1\"}", 0),
        "a{i=\"1\", job=\"j\"} 1"
    );
    assert_eq!(
        instant(&s, "a unless on(i) a{i=\"1\"}", 0),
        "a{i=\"2\", job=\"j\"} 2"
    );
    assert_eq!(instant(&s, "sum by (job) (a)", 0), "{job=\"j\"} 3");
}

#[test]
fn range_queries_join_steps_into_series() {
    let s = store(&[(&[("__name__", "x")], &[(0, 1.0), (M, 2.0)])]);
    let (v, _) = Engine::default()
        .query_range(&s, "x * 2", 0, 2 * M, M)
        .unwrap();
    assert_eq!(render(&v), "{} 2@0 4@60000 4@120000");
}

#[test]
fn at_modifier_variants_pin_selectors_outside_subqueries() {
    use wasmetheus_promql::engine::at_modifier_variant;
    let v = |q: &str| at_modifier_variant(q, 100_000).unwrap();
    assert_eq!(v("rate(x[5m])").as_deref(), Some("rate(x[5m] @ 100.000)"));
    assert_eq!(
        v("x @ start() + y").as_deref(),
        Some("x @ 100.000 + y @ 100.000")
    );
    assert_eq!(
        v("max_over_time(rate(x[1m])[5m:1m])").as_deref(),
        Some("max_over_time(rate(x[1m])[5m:1m] @ 100.000)")
    );
    assert_eq!(v("x @ 50"), Some("x @ 50.000".into()));
    assert_eq!(v("time() - x"), None);
    // Unsafe calls inside a subquery do not count.
    assert!(v("max_over_time(timestamp(x)[5m:1m])").is_some());
    assert!(at_modifier_variant("rate(", 0).is_err());
}

#[test]
fn subqueries_step_on_absolute_multiples() {
    let samples: Vec<(i64, f64)> = (0..=10).map(|i| (i * M, i as f64)).collect();
    let s = store(&[(&[("__name__", "x")], &samples)]);
    // Steps at 3m, 4m, 5m (left-open at 2m30s), read with lookback.
    assert_eq!(
        instant(&s, "x[150s:1m]", 5 * M),
        "x 3@180000 4@240000 5@300000"
    );
    assert_eq!(instant(&s, "sum_over_time(x[150s:1m])", 5 * M), "{} 12");
}

#[test]
fn limits_are_enforced() {
    use std::time::Duration;
    use wasmetheus_promql::engine::{Error, Options};
    let samples: Vec<(i64, f64)> = (0..100).map(|i| (i * 1000, i as f64)).collect();
    let s = store(&[(&[("__name__", "x")], &samples)]);
    let engine = Engine::new(Options {
        max_samples: 10,
        ..Options::default()
    });
    assert_eq!(
        engine.query_instant(&s, "count_over_time(x[1m])", 99_000),
        Err(Error::TooManySamples)
    );
    let engine = Engine::new(Options {
        timeout: Duration::ZERO,
        ..Options::default()
    });
    assert_eq!(
        engine.query_range(&s, "x", 0, 99_000, 1000),
        Err(Error::Timeout)
    );
}

#[test]
fn range_results_count_against_the_sample_limit() {
    use wasmetheus_promql::engine::{Error, Options};
    let samples: Vec<(i64, f64)> = (0..100).map(|i| (i * 1000, i as f64)).collect();
    let series: Vec<[(&str, &str); 2]> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|p| [("__name__", "x"), ("pod", *p)])
        .collect();
    let specs: Vec<TestSeries<'_>> = series
        .iter()
        .map(|l| (&l[..], samples.as_slice()))
        .collect();
    let s = store(&specs);
    let engine = Engine::new(Options {
        max_samples: 200,
        ..Options::default()
    });
    // Each step holds 5 samples, but the result holds 5 × 100: Prometheus
    // counts the result too, whichever way the query is evaluated.
    for q in ["x", "x * 2", "rate(x[5s])", "sum by (pod) (x)", "-x"] {
        assert_eq!(engine.query_instant(&s, q, 50_000).map(drop), Ok(()), "{q}");
        assert_eq!(
            engine.query_range(&s, q, 0, 99_000, 1000).map(drop),
            Err(Error::TooManySamples),
            "{q}"
        );
        assert_eq!(
            engine.query_range(&s, q, 0, 30_000, 1000).map(drop),
            Ok(()),
            "{q} over 31 steps"
        );
    }
}

#[test]
fn a_canceled_query_stops_with_prometheus_error() {
    use std::time::Duration;
    use wasmetheus_promql::engine::{Cancel, Error, Options};
    let samples: Vec<(i64, f64)> = (0..1000).map(|i| (i * 1000, i as f64)).collect();
    let s = store(&[(&[("__name__", "x")], &samples)]);
    // No timeout to speak of: only the cancel can stop these.
    let engine = Engine::new(Options {
        timeout: Duration::from_secs(3600),
        ..Options::default()
    });
    let canceled = Cancel::new();
    canceled.cancel();
    assert_eq!(
        engine.query_instant_with(&s, "x", 0, &canceled),
        Err(Error::Canceled)
    );
    assert_eq!(
        Error::Canceled.to_string(),
        "query was canceled in query execution"
    );
    // A query that would run for hours (a 1 ms subquery over a century),
    // canceled from another thread while it runs.
    let cancel = Cancel::new();
    let stopper = {
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            cancel.cancel();
        })
    };
    let got = engine.query_range_with(
        &s,
        "max_over_time(x[100y:1ms])",
        0,
        1_000_000,
        1000,
        &cancel,
    );
    stopper.join().unwrap();
    assert_eq!(got.map(drop), Err(Error::Canceled));
}

#[test]
fn extreme_times_are_errors_or_empty_never_panics() {
    use std::time::Duration;
    use wasmetheus_promql::engine::Options;
    let s = store(&[(&[("__name__", "x")], &[(0, 1.0)])]);
    let engine = Engine::new(Options {
        timeout: Duration::from_millis(200),
        ..Options::default()
    });
    for q in [
        "x @ 9223372036854775.807",
        "x @ -9223372036854775.808 offset 1y",
        "x offset -100000000y",
        "rate(x[100000000y] @ -9223372036854775.808)",
        "max_over_time(x[100000000y:1ms] @ 9223372036854775.807)",
        "info(x @ -9223372036854775.808)",
        "x[1m] smoothed",
        "rate(x[1m] anchored offset -100000000y)",
    ] {
        let _ = engine.query_instant(&s, q, i64::MAX - 1);
        let _ = engine.query_instant(&s, q, i64::MIN + 1);
        let _ = engine.query_range(&s, q, i64::MAX - 10, i64::MAX - 1, 5);
    }
}

/// Enough series and samples that a range query decodes and computes its
/// windows over several threads (the engine's parallel threshold is 64 Ki
/// points), while an instant query over the same data stays on one: each
/// step of the range query must equal the instant query at that step, bit
/// for bit, with resets, a stale marker and a NaN in the data.
#[test]
fn series_parallel_range_queries_equal_instant_queries() {
    const SERIES: usize = 300;
    const STEP: i64 = 15_000;
    const SAMPLES: i64 = 480;
    let store = MemStore::new();
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for i in 0..SERIES {
        let (pod, job) = (format!("p{i}"), format!("j{}", i % 7));
        let l = labels(&[("__name__", "x"), ("pod", &pod), ("job", &job)]);
        let mut app = store.appender();
        let mut v = (next() % 1_000) as f64;
        for k in 0..SAMPLES {
            v = match next() % 97 {
                0 => (next() % 10) as f64,
                _ => v + (next() % 1_000) as f64 / 7.0,
            };
            let value = match (i % 50, k) {
                (3, 200) => f64::from_bits(STALE_NAN_BITS),
                (4, 300) => f64::NAN,
                // Equal values of two signs, whose order a sort keeps.
                (5, _) => [-0.0, 0.0, 1.0, 0.0][(next() % 4) as usize],
                _ => v,
            };
            app.append(&l, k * STEP, value).unwrap();
        }
        app.commit().unwrap();
    }
    let engine = Engine::default();
    let (start, end, step) = (10 * 60_000, SAMPLES * STEP, 60_000);
    for q in [
        "x",
        "rate(x[1m])",
        "increase(x[5m])",
        "sum by (job) (rate(x[5m]))",
        "avg_over_time(x[5m])",
        "max_over_time(x[3m]) - min_over_time(x[3m])",
        "quantile_over_time(0.9, x[5m])",
        "quantile_over_time(0.5, x[30s])",
        "quantile_over_time(0, x[2m])",
        "sum by (job) (predict_linear(x[5m], 600))",
        "double_exponential_smoothing(x[5m], 0.5, (0.25))",
    ] {
        let (Value::Matrix(series), _) = engine.query_range(&store, q, start, end, step).unwrap()
        else {
            panic!("{q}: not a matrix");
        };
        assert!(series.len() >= 7, "{q}: {} series", series.len());
        let mut t = start;
        while t <= end {
            let (Value::Vector(samples), _) = engine.query_instant(&store, q, t).unwrap() else {
                panic!("{q}: not a vector");
            };
            let bits = |v: &SampleValue| match v {
                SampleValue::Float(f) if f.is_nan() => f64::NAN.to_bits(),
                SampleValue::Float(f) => f.to_bits(),
                SampleValue::Histogram(_) => panic!("no histograms here"),
            };
            let mut instant: Vec<(Vec<Label>, u64)> = samples
                .iter()
                .map(|s| (s.labels.clone(), bits(&s.value)))
                .collect();
            instant.sort();
            let mut ranged: Vec<(Vec<Label>, u64)> = series
                .iter()
                .filter_map(|s| {
                    let p = s.points.iter().find(|p| p.t == t)?;
                    Some((s.labels.clone(), bits(&p.value)))
                })
                .collect();
            ranged.sort();
            assert_eq!(ranged, instant, "{q} at {t}");
            t += step;
        }
    }
}

/// Series whose label sets collide once a function drops their names are
/// one series in a range result where they never overlap, and an error at
/// a step where both have a value, as in Prometheus.
#[test]
fn range_series_colliding_after_name_dropping_merge_or_fail() {
    let early: Vec<(i64, f64)> = (0..=10).map(|i| (i * 30_000, i as f64)).collect();
    let late: Vec<(i64, f64)> = (40..=50).map(|i| (i * 30_000, i as f64)).collect();
    let store = store(&[
        (&[("__name__", "a"), ("x", "1")], &early),
        (&[("__name__", "b"), ("x", "1")], &late),
        (&[("__name__", "c"), ("x", "2")], &early),
        (&[("__name__", "d"), ("x", "2")], &early),
    ]);
    let engine = Engine::default();
    let (v, _) = engine
        .query_range(&store, r#"rate({x="1"}[1m])"#, 0, 1_500_000, 60_000)
        .unwrap();
    let Value::Matrix(series) = v else {
        panic!("not a matrix: {v:?}");
    };
    assert_eq!(series.len(), 1, "{series:?}");
    assert_eq!(series[0].labels, labels(&[("x", "1")]));
    let times: Vec<i64> = series[0].points.iter().map(|p| p.t).collect();
    let expected: Vec<i64> = (1..=5).chain(21..=25).map(|m| m * 60_000).collect();
    assert_eq!(times, expected);
    let e = engine
        .query_range(&store, r#"rate({x="2"}[1m])"#, 0, 1_500_000, 60_000)
        .unwrap_err();
    assert!(e.to_string().contains("same labelset"), "{e}");
}
