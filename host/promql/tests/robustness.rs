//! Robustness properties of the parser and engine (issue 3, item 5):
//! arbitrary and PromQL-flavoured strings never panic the parser, whatever
//! parses prints to text that reparses to the same text, and random
//! well-formed queries over random data evaluate to a value or a clean
//! `Err` within the engine's timeout, under a max-samples limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use wasmetheus_model::Label;
use wasmetheus_model::storage::{STALE_NAN_BITS, Storage};
use wasmetheus_promql::engine::{Engine, Error, Options};
use wasmetheus_promql::functions::FUNCTIONS;
use wasmetheus_promql::parser::parse;
use wasmetheus_promql::value::{SampleValue, Value};
use wasmetheus_promqltest::MemStore;

/// Cases per property; sized so the whole file stays well under 20 s in a
/// debug build on a loaded two-core machine.
const RANDOM_STRINGS: u32 = 2000;
const TOKEN_STRINGS: u32 = 4000;
const GENERATED_QUERIES: u32 = 2000;
const ENGINE_CASES: u32 = 1500;

/// The engine's timeout in these tests: short, so that queries which
/// would run for minutes exercise the timeout path instead.
const TIMEOUT: Duration = Duration::from_millis(200);
/// How far past the timeout a query may still finish: the deadline is only
/// checked between steps, and one step of a debug build may take a while.
const MARGIN: Duration = Duration::from_millis(1500);
/// Beyond this a query is taken to hang (and the worker thread is leaked,
/// since a thread cannot be killed).
const WATCHDOG: Duration = Duration::from_secs(10);
/// Small enough that a blown-up subquery hits the limit, not the memory.
const MAX_SAMPLES: usize = 200_000;
/// The limit of some cases, which ordinary queries over the data exceed.
const TIGHT_MAX_SAMPLES: usize = 20;

/// Proptest's settings: no regression files, since this test must not
/// write into the source tree; failures print the shrunk input instead.
fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        // Each shrinking step of a hang waits out the watchdog; a bounded
        // shrink still yields a usable (if not minimal) reproduction.
        max_shrink_time: 60_000,
        // A fixed seed keeps CI reproducible (a rare input once failed one
        // run in forty); `PROPTEST_RNG_SEED=<n>` explores other inputs.
        rng_seed: if std::env::var_os("PROPTEST_RNG_SEED").is_some() {
            Config::default().rng_seed
        } else {
            proptest::test_runner::RngSeed::Fixed(0x2026_1123)
        },
        ..Config::default()
    }
}

/// Parses `input`; when it parses, checks that the printed form reparses
/// and prints identically (a printer that loses a paren or a modifier
/// shows up here). Returns whether `input` parsed.
fn parse_and_round_trip(input: &str) -> Result<bool, TestCaseError> {
    let Ok(expr) = parse(input) else {
        return Ok(false);
    };
    let printed = expr.to_string();
    let reparsed = parse(&printed).map_err(|e| {
        TestCaseError::fail(format!(
            "{input:?} printed as {printed:?}, which does not parse: {e}"
        ))
    })?;
    prop_assert_eq!(
        &printed,
        &reparsed.to_string(),
        "unstable print of {:?}",
        input
    );
    Ok(true)
}

/// Runs `cases` cases of `strategy` through the parser, printing counts.
fn parse_property(name: &str, cases: u32, strategy: impl Strategy<Value = String>) {
    let ran = AtomicUsize::new(0);
    let parsed = AtomicUsize::new(0);
    TestRunner::new(config(cases))
        .run(&strategy, |input| {
            ran.fetch_add(1, Ordering::Relaxed);
            if parse_and_round_trip(&input)? {
                parsed.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        })
        .unwrap();
    // Counts include shrinking runs; none happen when the property holds.
    println!(
        "{name}: {} inputs, {} parsed and round-tripped",
        ran.into_inner(),
        parsed.into_inner()
    );
}

#[test]
fn arbitrary_strings_parse_or_err() {
    // Printable-heavy text finds more than uniform code points, most of
    // which the lexer rejects at the first character.
    let strategy = prop_oneof![
        any::<String>(),
        "[ -~]{0,40}",
        "[a-z0-9_(){}\\[\\]:@,.=!~\"'` +*/%^<>-]{0,40}"
    ];
    parse_property("arbitrary strings", RANDOM_STRINGS, strategy);
}

/// Fragments of PromQL, glued together in random order.
fn token() -> impl Strategy<Value = String> {
    const TOKENS: &[&str] = &[
        "x",
        "up",
        "a_b:c",
        "__name__",
        "job",
        "le",
        "{",
        "}",
        "(",
        ")",
        "[",
        "]",
        ",",
        ":",
        "[5m]",
        "[1m:10s]",
        "[5m:]",
        "[0s]",
        "offset",
        "offset -5m",
        "@",
        "@ 100",
        "start()",
        "end()",
        "+",
        "-",
        "*",
        "/",
        "%",
        "^",
        "==",
        "!=",
        ">",
        "<",
        ">=",
        "<=",
        "=",
        "=~",
        "!~",
        "and",
        "or",
        "unless",
        "atan2",
        "bool",
        "on",
        "ignoring",
        "on(job)",
        "ignoring(job)",
        "group_left",
        "group_right",
        "group_left(job)",
        "by (",
        "without (",
        "by",
        "without",
        "sum",
        "avg",
        "count",
        "min",
        "max",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
        "stddev",
        "stdvar",
        "group",
        "limitk",
        "limit_ratio",
        "0",
        "1",
        "-1",
        "0.5",
        "1e3",
        "0x1F",
        "Inf",
        "-Inf",
        "NaN",
        "1e400",
        "5m",
        "1h30m",
        "1y",
        "0s",
        "500ms",
        "\"",
        "'",
        "`",
        "\"a\"",
        "'b'",
        "`c`",
        "\"\\x\"",
        "\"\\u00e9\"",
        "\"my.metric\"",
        "#",
        "\n",
        " ",
        "  ",
        "step()",
        "range()",
        "smoothed",
        "anchored",
        "fill(0)",
        "fill_left(1)",
        "fill_right(2)",
        "info(",
        "é",
        "\u{0}",
    ];
    let names: Vec<&'static str> = FUNCTIONS.iter().map(|f| f.name).collect();
    prop_oneof![
        4 => proptest::sample::select(TOKENS).prop_map(str::to_owned),
        1 => proptest::sample::select(names.clone()).prop_map(str::to_owned),
        1 => (proptest::sample::select(names), 0..4usize)
            .prop_map(|(f, n)| format!("{f}({}", vec!["x"; n].join(","))),
    ]
}

#[test]
fn token_soup_parses_or_errs() {
    let strategy = prop::collection::vec((token(), prop::bool::ANY), 1..16).prop_map(|parts| {
        parts
            .into_iter()
            .map(|(t, space)| if space { t + " " } else { t })
            .collect::<String>()
    });
    parse_property("token soup", TOKEN_STRINGS, strategy);
}

// ---- random well-formed queries over random data ----

const METRICS: &[&str] = &["a", "b", "c_bucket"];
const JOBS: &[&str] = &["x", "y"];
const LE: &[&str] = &["0.1", "1", "+Inf"];
/// The data spans 0..DATA_SPAN ms.
const DATA_SPAN: i64 = 30 * 60 * 1000;

/// One series of random data: metric index, job, instance, le index and
/// samples at increasing timestamps.
type SeriesSpec = (usize, usize, u8, usize, Vec<(i64, f64)>);

fn sample_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => -100.0..1000.0f64,
        1 => Just(0.0),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(f64::from_bits(STALE_NAN_BITS)),
    ]
}

fn series_spec() -> impl Strategy<Value = SeriesSpec> {
    let samples = prop::collection::vec((1..120_000i64, sample_value()), 0..40).prop_map(|gaps| {
        let mut t = -60_000;
        gaps.into_iter()
            .map(|(gap, v)| {
                t += gap;
                (t, v)
            })
            .collect()
    });
    (
        0..METRICS.len(),
        0..JOBS.len(),
        0..3u8,
        0..LE.len(),
        samples,
    )
}

fn load(specs: &[SeriesSpec]) -> MemStore {
    let store = MemStore::new();
    let mut app = store.appender();
    for (metric, job, instance, le, samples) in specs {
        let mut labels = vec![
            Label::new("__name__", METRICS[*metric]),
            Label::new("instance", instance.to_string()),
            Label::new("job", JOBS[*job]),
        ];
        if METRICS[*metric].ends_with("_bucket") {
            labels.push(Label::new("le", LE[*le]));
        }
        labels.sort();
        for &(t, v) in samples {
            // Two specs may name the same series; an out-of-order or
            // duplicate sample is then refused, which is fine here.
            let _ = app.append(&labels, t, v);
        }
    }
    app.commit().unwrap();
    drop(app);
    store
}

fn pick(items: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    proptest::sample::select(items).prop_map(str::to_owned)
}

fn selector() -> impl Strategy<Value = String> + Clone {
    let matchers = pick(&[
        "",
        "{job=\"x\"}",
        "{job!=\"x\"}",
        "{job=~\"x|y\"}",
        "{instance!~\"1\"}",
        "{le=\"+Inf\"}",
        "{job=\"nope\"}",
    ]);
    (pick(METRICS), matchers, modifiers()).prop_map(|(m, l, o)| format!("{m}{l}{o}"))
}

/// Optional `offset` and `@`, in either order.
fn modifiers() -> impl Strategy<Value = String> + Clone {
    let offset = pick(&["", " offset 1m", " offset -5m", " offset 1h"]);
    let at = pick(&[
        "",
        "",
        " @ 600",
        " @ 1200.5",
        " @ start()",
        " @ end()",
        " @ -100",
    ]);
    (offset, at, prop::bool::ANY).prop_map(|(o, a, swap)| if swap { a + &o } else { o + &a })
}

fn range() -> impl Strategy<Value = String> + Clone {
    pick(&["30s", "1m", "5m", "10m", "1h"])
}

/// A range vector built on `vector`: a range selector or a subquery.
fn matrix(vector: BoxedStrategy<String>) -> impl Strategy<Value = String> + Clone {
    let step = pick(&["", "10s", "30s", "1m", "7s"]);
    prop_oneof![
        (selector_base(), range(), modifiers()).prop_map(|(s, r, m)| format!("{s}[{r}]{m}")),
        (vector, range(), step, modifiers()).prop_map(|(v, r, s, m)| format!("({v})[{r}:{s}]{m}")),
    ]
}

/// A selector without modifiers (they go after the range).
fn selector_base() -> impl Strategy<Value = String> + Clone {
    (
        pick(METRICS),
        pick(&["", "{job=\"x\"}", "{instance=~\"0|2\"}"]),
    )
        .prop_map(|(m, l)| format!("{m}{l}"))
}

fn scalar() -> impl Strategy<Value = String> + Clone {
    pick(&[
        "0", "1", "0.5", "0.9", "2", "-1", "1e3", "NaN", "Inf", "-Inf", "time()", "pi()",
    ])
}

const MATRIX_FNS: &[&str] = &[
    "rate",
    "irate",
    "increase",
    "delta",
    "idelta",
    "deriv",
    "changes",
    "resets",
    "avg_over_time",
    "sum_over_time",
    "max_over_time",
    "count_over_time",
    "stddev_over_time",
    "last_over_time",
    "present_over_time",
    "absent_over_time",
];
const VECTOR_FNS: &[&str] = &[
    "abs",
    "ceil",
    "floor",
    "exp",
    "ln",
    "sqrt",
    "sgn",
    "sort",
    "sort_desc",
    "timestamp",
    "absent",
    "hour",
    "year",
    "deg",
    "-",
];
const AGGREGATIONS: &[&str] = &[
    "sum", "avg", "min", "max", "count", "stddev", "stdvar", "group",
];
const GROUPINGS: &[&str] = &["", " by (job)", " without (instance)", " by (le)", " by ()"];
const ARITH: &[&str] = &["+", "-", "*", "/", "%", "^", "atan2"];
const COMPARE: &[&str] = &["==", "!=", ">", "<", ">=", "<="];
const SET: &[&str] = &["and", "or", "unless"];

/// Vector matching for an arithmetic or comparison operator.
fn matching() -> impl Strategy<Value = String> + Clone {
    pick(&[
        "",
        "",
        " on (job, instance)",
        " ignoring (le)",
        // A bare `group_left` would take the parenthesised right operand
        // as its label list, as in Prometheus.
        " on (job) group_left ()",
        " on (job) group_left (instance)",
        " ignoring (instance) group_right ()",
        " on ()",
    ])
}

/// A well-formed instant-vector query.
fn vector() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![selector(), scalar().prop_map(|s| format!("vector({s})")),];
    leaf.prop_recursive(4, 24, 3, |inner| {
        let inner = inner.boxed();
        prop_oneof![
            (pick(MATRIX_FNS), matrix(inner.clone())).prop_map(|(f, m)| format!("{f}({m})")),
            matrix(inner.clone()).prop_map(|m| format!("quantile_over_time(0.5, {m})")),
            matrix(inner.clone()).prop_map(|m| format!("predict_linear({m}, 60)")),
            (pick(VECTOR_FNS), inner.clone()).prop_map(|(f, v)| format!("{f}({v})")),
            (pick(AGGREGATIONS), pick(GROUPINGS), inner.clone())
                .prop_map(|(a, g, v)| format!("{a}{g} ({v})")),
            (
                pick(&["topk", "bottomk", "limitk"]),
                scalar(),
                inner.clone()
            )
                .prop_map(|(a, k, v)| format!("{a}({k}, {v})")),
            (scalar(), pick(GROUPINGS), inner.clone())
                .prop_map(|(q, g, v)| format!("quantile{g} ({q}, {v})")),
            inner
                .clone()
                .prop_map(|v| format!("count_values(\"value\", {v})")),
            (scalar(), inner.clone()).prop_map(|(q, v)| format!(
                "histogram_quantile({q}, sum by (le, job) (rate(c_bucket[5m])) + 0 * ({v}))"
            )),
            (scalar(), inner.clone()).prop_map(|(q, v)| format!("histogram_quantile({q}, {v})")),
            (inner.clone(), scalar(), scalar())
                .prop_map(|(v, lo, hi)| format!("clamp({v}, {lo}, {hi})")),
            inner.clone().prop_map(|v| format!("round({v}, 0.1)")),
            inner.clone().prop_map(|v| format!(
                "label_replace({v}, \"dst\", \"$1-$2\", \"job\", \"(.)(.*)\")"
            )),
            inner
                .clone()
                .prop_map(|v| format!("label_join({v}, \"j\", \",\", \"job\", \"instance\")")),
            (inner.clone(), pick(ARITH), matching(), inner.clone())
                .prop_map(|(l, op, m, r)| format!("({l}) {op}{m} ({r})")),
            (
                inner.clone(),
                pick(COMPARE),
                pick(&["", " bool"]),
                matching(),
                inner.clone()
            )
                .prop_map(|(l, op, b, m, r)| format!("({l}) {op}{b}{m} ({r})")),
            (
                inner.clone(),
                pick(SET),
                pick(&["", " on (job)", " ignoring (instance)"]),
                inner.clone()
            )
                .prop_map(|(l, op, m, r)| format!("({l}) {op}{m} ({r})")),
            (inner.clone(), pick(ARITH), scalar()).prop_map(|(v, op, s)| format!("({v}) {op} {s}")),
            (scalar(), pick(COMPARE), inner.clone())
                .prop_map(|(s, op, v)| format!("{s} {op} ({v})")),
            inner.clone().prop_map(|v| format!("vector(scalar({v}))")),
        ]
    })
}

#[test]
fn generated_queries_parse_and_round_trip() {
    let ran = AtomicUsize::new(0);
    TestRunner::new(config(GENERATED_QUERIES))
        .run(&vector(), |query| {
            ran.fetch_add(1, Ordering::Relaxed);
            // Well-formed by construction, so it must parse, not just
            // round-trip when it happens to.
            prop_assert!(parse(&query).is_ok(), "{:?} does not parse", query);
            parse_and_round_trip(&query)?;
            Ok(())
        })
        .unwrap();
    println!(
        "generated queries: {} parsed and round-tripped",
        ran.into_inner()
    );
}

/// One engine case: data, a query and how to run it.
#[derive(Debug, Clone)]
struct Case {
    query: String,
    /// `None` for an instant query at `start`.
    range: Option<(i64, i64)>,
    start: i64,
    /// A max-samples limit small enough that ordinary queries hit it.
    tight: bool,
}

fn case() -> impl Strategy<Value = Case> {
    let range = prop_oneof![
        Just(None),
        (0..600_000i64, 1_000..120_000i64).prop_map(Some),
    ];
    let tight = prop::bool::weighted(0.2);
    (vector(), -60_000..DATA_SPAN + 60_000, range, tight).prop_map(
        |(query, start, range, tight)| Case {
            query,
            range,
            start,
            tight,
        },
    )
}

#[test]
fn random_queries_evaluate_cleanly_within_timeout() {
    let engine = |max_samples| {
        Arc::new(Engine::new(Options {
            timeout: TIMEOUT,
            max_samples,
            ..Options::default()
        }))
    };
    let (roomy, tight) = (engine(MAX_SAMPLES), engine(TIGHT_MAX_SAMPLES));
    let show_errors = std::env::var_os("WASMETHEUS_SHOW_ERRORS").is_some();
    let ran = AtomicUsize::new(0);
    let ok = AtomicUsize::new(0);
    let timeouts = AtomicUsize::new(0);
    let too_many = AtomicUsize::new(0);
    let other_errs = AtomicUsize::new(0);
    let strategy = (prop::collection::vec(series_spec(), 0..12), case());
    TestRunner::new(config(ENGINE_CASES))
        .run(&strategy, |(specs, case)| {
            ran.fetch_add(1, Ordering::Relaxed);
            let store = Arc::new(load(&specs));
            // The query runs on a worker so that a hang fails the test with
            // the query instead of hanging it; a panic arrives as a closed
            // channel, and proptest cannot shrink across threads, so the
            // panic is re-raised here where it can.
            let (tx, rx) = mpsc::channel();
            let worker = {
                let engine = if case.tight { &tight } else { &roomy }.clone();
                let (store, case) = (store.clone(), case.clone());
                std::thread::spawn(move || {
                    let began = Instant::now();
                    let result = match case.range {
                        None => engine.query_instant(&*store, &case.query, case.start),
                        Some((len, step)) => engine.query_range(
                            &*store,
                            &case.query,
                            case.start,
                            case.start + len,
                            step,
                        ),
                    };
                    let _ = tx.send((result.map(|_| ()), began.elapsed()));
                })
            };
            let (result, elapsed) = match rx.recv_timeout(WATCHDOG) {
                Ok(got) => got,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(TestCaseError::fail(format!(
                        "hang: {:?} still running after {WATCHDOG:?}",
                        case
                    )));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let panic = worker
                        .join()
                        .expect_err("a worker that sent nothing panicked");
                    std::panic::resume_unwind(panic);
                }
            };
            worker.join().unwrap();
            prop_assert!(
                elapsed <= TIMEOUT + MARGIN,
                "{:?} took {:?}, past the timeout {:?} plus {:?}",
                case,
                elapsed,
                TIMEOUT,
                MARGIN
            );
            match result {
                Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                Err(Error::Timeout) => timeouts.fetch_add(1, Ordering::Relaxed),
                Err(Error::TooManySamples) => too_many.fetch_add(1, Ordering::Relaxed),
                Err(Error::Parse(e)) => {
                    // The generator only builds well-formed queries, so a
                    // parse error is a generator or parser bug.
                    return Err(TestCaseError::fail(format!("{:?}: {e}", case.query)));
                }
                Err(e) => {
                    prop_assert!(!e.to_string().is_empty(), "empty error for {:?}", case);
                    if show_errors {
                        println!("{:?}: {e}", case.query);
                    }
                    other_errs.fetch_add(1, Ordering::Relaxed)
                }
            };
            Ok(())
        })
        .unwrap();
    println!(
        "engine: {} queries: {} ok, {} timed out, {} over max samples, {} other errors",
        ran.into_inner(),
        ok.into_inner(),
        timeouts.into_inner(),
        too_many.into_inner(),
        other_errs.into_inner()
    );
}

/// A range query is an instant query at each step (Prometheus' definition):
/// whatever the engine shares between steps (each selector read once, the
/// cursors into it, interned groups) must not change a single value. Each
/// step of a random range query is compared with an instant query at that
/// time, bit for bit (NaN equal to NaN).
#[test]
fn range_queries_agree_with_instant_queries_at_each_step() {
    let engine = Engine::new(Options {
        max_samples: MAX_SAMPLES,
        ..Options::default()
    });
    let steps = pick(&["15s", "30s", "1m", "7s", "2m"]);
    let strategy = (
        prop::collection::vec(series_spec(), 0..10),
        vector(),
        -60_000..DATA_SPAN + 60_000,
        0..600_000i64,
        steps,
    );
    let (ran, compared) = (AtomicUsize::new(0), AtomicUsize::new(0));
    TestRunner::new(config(CONSISTENCY_CASES))
        .run(&strategy, |(specs, query, start, len, step)| {
            // `@ start()`/`@ end()` mean the range's ends in a range query
            // but the evaluation time in an instant one.
            if query.contains("start()") || query.contains("end()") {
                return Ok(());
            }
            ran.fetch_add(1, Ordering::Relaxed);
            let store = load(&specs);
            let step = wasmetheus_promql::parser::parse_duration(&step).unwrap();
            let Ok((Value::Matrix(series), _)) =
                engine.query_range(&store, &query, start, start + len, step)
            else {
                // Errors are the other property's business.
                return Ok(());
            };
            let mut t = start;
            while t <= start + len {
                let (value, _) = engine
                    .query_instant(&store, &query, t)
                    .map_err(|e| TestCaseError::fail(format!("{query:?} at {t}: {e}")))?;
                let instant: Vec<(Vec<Label>, u64)> = match value {
                    Value::Vector(samples) => samples
                        .into_iter()
                        .map(|s| (s.labels, float_bits(&s.value)))
                        .collect(),
                    Value::Scalar(_, v) => vec![(Vec::new(), canonical_bits(v))],
                    other => panic!("{query:?}: instant query gave {other:?}"),
                };
                let mut instant = instant;
                instant.sort();
                let mut ranged: Vec<(Vec<Label>, u64)> = series
                    .iter()
                    .filter_map(|s| {
                        let p = s.points.iter().find(|p| p.t == t)?;
                        Some((s.labels.clone(), float_bits(&p.value)))
                    })
                    .collect();
                ranged.sort();
                prop_assert_eq!(
                    &ranged,
                    &instant,
                    "{:?} at {} (range from {} step {})",
                    query,
                    t,
                    start,
                    step
                );
                compared.fetch_add(1, Ordering::Relaxed);
                t += step;
            }
            Ok(())
        })
        .unwrap();
    println!(
        "consistency: {} range queries, {} steps compared with instant queries",
        ran.into_inner(),
        compared.into_inner()
    );
}

/// Range queries compared step by step with instant queries.
const CONSISTENCY_CASES: u32 = 300;

fn float_bits(v: &SampleValue) -> u64 {
    match v {
        SampleValue::Float(f) => canonical_bits(*f),
        SampleValue::Histogram(_) => panic!("no histograms in this data"),
    }
}

/// The bits of a float, every NaN made one (arithmetic may change a NaN's
/// payload, and either is "NaN" to PromQL).
fn canonical_bits(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        v.to_bits()
    }
}
