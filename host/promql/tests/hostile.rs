//! Hostile PromQL: expressions nested tens of thousands of levels deep
//! (parentheses, unary and binary operator chains, calls, aggregations,
//! subqueries, duration arithmetic) are refused by the parser with a depth
//! error instead of overflowing a stack; expressions at the deepest
//! allowed nesting parse, print, evaluate (instant and range) and drop in
//! the 2 MiB stack of a spawned thread (tokio's blocking and worker
//! threads have that); megabyte-long but shallow expressions parse and
//! evaluate.

use wasmetheus_model::Label;
use wasmetheus_model::storage::Storage;
use wasmetheus_promql::engine::{Engine, Error};
use wasmetheus_promql::parser::{MAX_DEPTH, parse};
use wasmetheus_promql::printer::format;
use wasmetheus_promql::value::Value;
use wasmetheus_promqltest::MemStore;

/// The stack of a spawned thread (Rust's and tokio's default).
const THREAD_STACK: usize = 2 << 20;

/// Runs `f` on a thread with [`THREAD_STACK`]; a stack overflow aborts the
/// whole test binary, which fails the test.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(THREAD_STACK)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

fn store() -> MemStore {
    let store = MemStore::new();
    let mut app = store.appender();
    for i in 0..=20 {
        for (job, v) in [("a", 1.0), ("b", 2.0)] {
            let labels = vec![Label::new("__name__", "x"), Label::new("job", job)];
            app.append(&labels, i * 60_000, v).unwrap();
        }
    }
    app.commit().unwrap();
    drop(app);
    store
}

fn is_depth_error(e: &impl std::fmt::Display) -> bool {
    e.to_string().contains(&format!(
        "expression nesting exceeds the maximum depth of {MAX_DEPTH}"
    ))
}

/// The expression shapes that nest, each as a function of a repetition
/// count `k`.
type Shape = (&'static str, fn(usize) -> String);

const SHAPES: &[Shape] = &[
    ("parentheses", |k| {
        format!("{}x{}", "(".repeat(k), ")".repeat(k))
    }),
    ("unary minus", |k| format!("{}x", "-".repeat(k))),
    ("unary plus on a number", |k| format!("{}1", "+".repeat(k))),
    ("vector chain", |k| format!("x{}", " + x".repeat(k))),
    ("scalar chain", |k| format!("x{}", " * 1".repeat(k))),
    ("number chain", |k| format!("1{}", "+1".repeat(k))),
    ("right-associative chain", |k| {
        format!("x{}", "^1".repeat(k))
    }),
    ("set operator chain", |k| format!("x{}", " or x".repeat(k))),
    ("calls", |k| {
        format!("{}x{}", "abs(".repeat(k), ")".repeat(k))
    }),
    ("aggregations", |k| {
        format!("{}x{}", "sum by (job) (".repeat(k), ")".repeat(k))
    }),
    ("parameterised aggregations", |k| {
        format!("{}x{}", "topk(1, ".repeat(k), ")".repeat(k))
    }),
    ("subqueries", |k| {
        format!("{}x{}", "max_over_time(".repeat(k), "[1m:1m])".repeat(k))
    }),
    ("parenthesised subqueries", |k| {
        format!("{}x{}", "last_over_time((".repeat(k), ")[1m:1m])".repeat(k))
    }),
    ("duration arithmetic", |k| {
        format!("count_over_time(x[1m{}])", " + 1s".repeat(k))
    }),
    ("parenthesised durations", |k| {
        format!("count_over_time(x[{}1m{}])", "(".repeat(k), ")".repeat(k))
    }),
    ("negation of parentheses", |k| {
        format!("{}x{}", "-(".repeat(k), ")".repeat(k))
    }),
    ("arguments", |k| {
        format!("{}x{}", "clamp(".repeat(k), ", 0, 10)".repeat(k))
    }),
];

/// The largest `k` whose expression the parser accepts (the one above it
/// is refused for its depth).
fn deepest(shape: fn(usize) -> String) -> usize {
    let (mut lo, mut hi) = (0, 4 * MAX_DEPTH);
    assert!(parse(&shape(lo)).is_ok());
    assert!(is_depth_error(&parse(&shape(hi)).unwrap_err()));
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        match parse(&shape(mid)) {
            Ok(_) => lo = mid,
            Err(e) => {
                assert!(is_depth_error(&e), "{}: {e}", shape(mid));
                hi = mid;
            }
        }
    }
    lo
}

#[test]
fn every_shape_at_the_deepest_nesting_parses_prints_evaluates_and_drops_on_a_thread_stack() {
    for &(name, shape) in SHAPES {
        let k = deepest(shape);
        // Every shape nests at least once per three levels of the limit.
        assert!(k >= MAX_DEPTH / 3 - 2, "{name}: only {k} levels accepted");
        let refused = parse(&shape(k + 1)).unwrap_err();
        assert!(is_depth_error(&refused), "{name}: {refused}");
        let query = shape(k);
        on_small_stack(move || {
            let expr = parse(&query).unwrap();
            // The canonical form parses back to the same canonical form.
            let printed = format(&expr);
            let reparsed = parse(&printed)
                .unwrap_or_else(|e| panic!("{name}: printed form does not parse: {e}"));
            assert_eq!(format(&reparsed), printed, "{name}");
            drop(expr);
            drop(reparsed);
            let store = store();
            let engine = Engine::default();
            let (instant, _) = engine
                .query_instant(&store, &query, 600_000)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                !matches!(&instant, Value::Vector(v) if v.is_empty()),
                "{name}: an empty result"
            );
            let (range, _) = engine
                .query_range(&store, &query, 300_000, 900_000, 60_000)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                matches!(&range, Value::Matrix(m) if !m.is_empty()),
                "{name}: {range:?}"
            );
        });
    }
}

#[test]
fn nesting_tens_of_thousands_deep_is_a_parse_error() {
    for (name, query) in [
        (
            "30,000 parentheses",
            format!("{}x{}", "(".repeat(30_000), ")".repeat(30_000)),
        ),
        (
            "a million unary minus",
            format!("{}1", "-".repeat(1_000_000)),
        ),
        ("a megabyte of +1", format!("1{}", "+1".repeat(500_000))),
        (
            "30,000 nested calls",
            format!("{}x{}", "abs(".repeat(30_000), ")".repeat(30_000)),
        ),
        (
            "30,000 nested aggregations",
            format!("{}x{}", "sum(".repeat(30_000), ")".repeat(30_000)),
        ),
        (
            "30,000 nested subqueries",
            format!(
                "{}x{}",
                "max_over_time(".repeat(30_000),
                "[1m:])".repeat(30_000)
            ),
        ),
        ("unclosed parentheses", format!("{}x", "(".repeat(100_000))),
        ("a duration sum", format!("x[1m{}]", "+1s".repeat(100_000))),
    ] {
        let e = on_small_stack(move || parse(&query).unwrap_err());
        assert!(is_depth_error(&e), "{name}: {e}");
        assert!(e.to_string().starts_with("1:"), "{name}: {e}");
    }
}

#[test]
fn the_depth_error_points_at_the_first_token_past_the_limit() {
    let query = format!("{}x{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    let e = parse(&query).unwrap_err();
    assert_eq!(e.column, MAX_DEPTH);
    assert_eq!(
        e.to_string(),
        format!(
            "1:{MAX_DEPTH}: parse error: expression nesting exceeds the maximum depth of \
             {MAX_DEPTH} (each parenthesis, call, aggregation, subquery and operator in a \
             chain counts one level)"
        )
    );
    // The engine reports it as a parse error (a `bad_data` in the API).
    let store = store();
    let err = Engine::default()
        .query_instant(&store, &query, 0)
        .unwrap_err();
    assert!(matches!(err, Error::Parse(_)), "{err:?}");
}

#[test]
fn megabyte_long_shallow_expressions_parse_and_evaluate() {
    let value = "v".repeat(1 << 20);
    let many_labels: Vec<String> = (0..50_000).map(|i| format!("l{i}")).collect();
    let many_matchers: Vec<String> = (0..50_000).map(|i| format!("l{i}!=\"{i}\"")).collect();
    // A balanced sum of 2^16 numbers: 16 levels, not 65,536.
    let mut balanced = "1".to_owned();
    for _ in 0..16 {
        balanced = format!("({balanced}+{balanced})");
    }
    let args: Vec<&str> = std::iter::repeat_n("\"a\"", 100_000).collect();
    for (name, query, want) in [
        (
            "a megabyte label value",
            format!("count(x{{job!=\"{value}\"}})"),
            "2",
        ),
        (
            "50,000 grouping labels",
            format!("count(sum by (job,{}) (x))", many_labels.join(",")),
            "2",
        ),
        (
            "50,000 matchers",
            format!("count(x{{{}}})", many_matchers.join(",")),
            "2",
        ),
        ("a balanced sum of 65,536 numbers", balanced, "65536"),
        (
            "100,000 arguments",
            format!("count(label_join(x, \"dst\", \",\", {}))", args.join(",")),
            "2",
        ),
        ("a megabyte comment", format!("count(x) # {value}"), "2"),
    ] {
        let got = on_small_stack(move || {
            let store = store();
            let (v, _) = Engine::default()
                .query_instant(&store, &query, 600_000)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            match v {
                Value::Vector(v) if v.len() == 1 => v[0].value.to_string(),
                Value::Scalar(_, v) => v.to_string(),
                other => panic!("{name}: {other:?}"),
            }
        });
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn duration_literals_beyond_any_integer_are_out_of_range_not_an_overflow() {
    // Found by the `promql` fuzz target: the digits times the unit overflowed
    // an i128 before the int64 nanoseconds check.
    for text in [
        "increase(55555555555555555555555555555555555%55555555555555555555555555555555555555h[40m:9m])",
        "rate(a[99999999999999999999999999999999999999y])",
        "a offset 170141183460469231731687303715884105727ms",
        "a[1y99999999999999999999999999999999999999w]",
    ] {
        let err = parse(text).expect_err(text).to_string();
        assert!(
            err.contains("out of range") || err.contains("parse error"),
            "{text}: {err}"
        );
    }
}
