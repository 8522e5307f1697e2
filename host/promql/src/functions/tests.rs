//! Checks of the function table: its invariants, that it lists exactly
//! Prometheus 3.x's functions with their flags, that the parser's checks
//! follow it, and that every function the conformance corpus calls is in
//! it.

use std::collections::BTreeSet;

use super::{FUNCTIONS, Function, Impl, function, range::Params};
use crate::ast::{Expr, ValueType};

fn names(filter: impl Fn(&Function) -> bool) -> BTreeSet<&'static str> {
    FUNCTIONS
        .iter()
        .filter(|f| filter(f))
        .map(|f| f.name)
        .collect()
}

fn set(names: &[&'static str]) -> BTreeSet<&'static str> {
    names.iter().copied().collect()
}

#[test]
fn the_table_is_sorted_and_unique_for_binary_search() {
    assert!(FUNCTIONS.windows(2).all(|w| w[0].name < w[1].name));
    for f in FUNCTIONS {
        assert!(
            std::ptr::eq(function(f.name).unwrap().get(), f),
            "{}",
            f.name
        );
    }
    assert!(function("nosuchfn").is_none());
    assert!(function("ABS").is_none(), "names are case-sensitive");
}

/// A call's handle reads, compares and debug-prints as the entry it
/// stands for.
#[test]
fn a_handle_stands_for_its_entry() {
    let rate = function("rate").unwrap();
    let entry = FUNCTIONS.iter().find(|f| f.name == "rate").unwrap();
    assert_eq!(rate.name, "rate");
    assert_eq!(format!("{rate:?}"), format!("{entry:?}"));
    assert_eq!(format!("{rate:#?}"), format!("{entry:#?}"));
    assert_eq!(rate, function("rate").unwrap());
    assert_ne!(rate, function("irate").unwrap());
}

/// Each implementation kind fits the signature it is listed with, so the
/// engine can rely on the argument types the parser checked.
#[test]
fn every_entry_fits_its_implementation() {
    use ValueType::{Matrix as M, Scalar as S, Vector as V};
    for f in FUNCTIONS {
        let (args, variadic, ret) = (f.arg_types, f.variadic, f.return_type);
        assert!(variadic >= -1, "{}", f.name);
        assert!(variadic == 0 || !args.is_empty(), "{}", f.name);
        match &f.imp {
            Impl::PerSample(_) => assert_eq!((args, variadic, ret), (&[V][..], 0, V), "{}", f.name),
            Impl::Date(_) => assert_eq!((args, variadic, ret), (&[V][..], 1, V), "{}", f.name),
            Impl::OverTime(r) => {
                assert_eq!(ret, V, "{}", f.name);
                match r.params {
                    // An optional scalar after the range vector is not read.
                    Params::None => assert!(
                        args[0] == M && args[1..].iter().all(|&t| t == S),
                        "{}",
                        f.name
                    ),
                    Params::Quantile => assert_eq!(args, [S, M], "{}", f.name),
                    Params::PredictLinear => assert_eq!(args, [M, S], "{}", f.name),
                    Params::Smoothing => assert_eq!(args, [M, S, S], "{}", f.name),
                }
                assert_eq!(args.iter().filter(|&&t| t == M).count(), 1, "{}", f.name);
                assert!(
                    !r.whole_range || (r.params == Params::None && args == [M] && variadic == 0),
                    "{}: whole-range evaluation needs a lone range vector argument",
                    f.name
                );
            }
            Impl::Eval(_) => {}
        }
    }
}

/// Prometheus 3.x's `parser.Functions`, by name.
const PROMETHEUS: &[&str] = &[
    "abs",
    "absent",
    "absent_over_time",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "avg_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "cos",
    "cosh",
    "count_over_time",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "deg",
    "delta",
    "deriv",
    "double_exponential_smoothing",
    "end",
    "exp",
    "first_over_time",
    "floor",
    "histogram_avg",
    "histogram_count",
    "histogram_fraction",
    "histogram_quantile",
    "histogram_quantiles",
    "histogram_stddev",
    "histogram_stdvar",
    "histogram_sum",
    "hour",
    "idelta",
    "increase",
    "info",
    "integral",
    "irate",
    "label_join",
    "label_replace",
    "last_over_time",
    "ln",
    "log10",
    "log2",
    "mad_over_time",
    "max_of",
    "max_over_time",
    "min_of",
    "min_over_time",
    "minute",
    "month",
    "pi",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rad",
    "range",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sin",
    "sinh",
    "sort",
    "sort_by_label",
    "sort_by_label_desc",
    "sort_desc",
    "sqrt",
    "start",
    "start_timestamp",
    "stddev_over_time",
    "stdvar_over_time",
    "step",
    "sum_over_time",
    "tan",
    "tanh",
    "time",
    "timestamp",
    "ts_of_first_over_time",
    "ts_of_last_over_time",
    "ts_of_max_over_time",
    "ts_of_min_over_time",
    "vector",
    "year",
];

#[test]
fn the_table_lists_exactly_prometheus_functions() {
    assert_eq!(names(|_| true), set(PROMETHEUS));
}

#[test]
fn flags_are_prometheus_and_todays_engine() {
    // Prometheus' `AtModifierUnsafeFunctions`.
    assert_eq!(
        names(|f| f.at_modifier_unsafe),
        set(&[
            "days_in_month",
            "day_of_month",
            "day_of_week",
            "day_of_year",
            "hour",
            "minute",
            "month",
            "year",
            "predict_linear",
            "time",
            "timestamp",
            "start",
            "end",
            "range",
            "step",
        ])
    );
    assert_eq!(
        names(|f| f.experimental),
        set(&[
            "double_exponential_smoothing",
            "end",
            "first_over_time",
            "histogram_quantiles",
            "info",
            "integral",
            "mad_over_time",
            "max_of",
            "min_of",
            "range",
            "sort_by_label",
            "sort_by_label_desc",
            "start",
            "start_timestamp",
            "step",
            "ts_of_first_over_time",
            "ts_of_last_over_time",
            "ts_of_max_over_time",
            "ts_of_min_over_time",
        ])
    );
    assert_eq!(
        names(|f| f.range_fn().is_some_and(|r| r.keeps_name)),
        set(&["first_over_time", "last_over_time"])
    );
    assert_eq!(
        names(|f| f.range_fn().is_some_and(|r| r.counter)),
        set(&["increase", "rate"])
    );
    assert_eq!(
        names(|f| f.range_fn().is_some_and(|r| r.whole_range)),
        set(&[
            "rate",
            "increase",
            "delta",
            "irate",
            "idelta",
            "avg_over_time",
            "count_over_time",
            "sum_over_time",
            "min_over_time",
            "max_over_time",
            "ts_of_min_over_time",
            "ts_of_max_over_time",
            "ts_of_first_over_time",
            "ts_of_last_over_time",
            "stddev_over_time",
            "stdvar_over_time",
            "mad_over_time",
            "last_over_time",
            "first_over_time",
            "present_over_time",
            "changes",
            "resets",
            "deriv",
        ])
    );
    assert_eq!(
        names(|f| f.per_sample().is_some()),
        set(&[
            "abs", "acos", "acosh", "asin", "asinh", "atan", "atanh", "ceil", "cos", "cosh", "deg",
            "exp", "floor", "ln", "log10", "log2", "rad", "sgn", "sin", "sinh", "sqrt", "tan",
            "tanh",
        ])
    );
    assert_eq!(
        names(|f| matches!(f.imp, Impl::Date(_))),
        set(&[
            "day_of_month",
            "day_of_week",
            "day_of_year",
            "days_in_month",
            "hour",
            "minute",
            "month",
            "year",
        ])
    );
}

/// An argument of type `t` as PromQL text.
fn arg(t: ValueType) -> &'static str {
    match t {
        ValueType::Vector => "{a=\"b\"}",
        ValueType::Scalar => "1",
        ValueType::Matrix => "x[1m]",
        ValueType::String => "\"a\"",
        ValueType::None => unreachable!("no function takes none"),
    }
}

fn call_text(f: &Function, args: &[&str]) -> String {
    format!("{}({})", f.name, args.join(", "))
}

/// The parser checks every call against the table: the right arguments
/// parse to the entry itself, too few or too many or a wrong type do not.
#[test]
fn the_parser_follows_the_table() {
    for f in FUNCTIONS {
        let args: Vec<&str> = f.arg_types.iter().map(|&t| arg(t)).collect();
        let text = call_text(f, &args);
        match crate::parser::parse(&text) {
            Ok(Expr::Call(c)) => assert!(std::ptr::eq(c.func.get(), f), "{text}"),
            other => panic!("{text}: {other:?}"),
        }
        let min = if f.variadic == 0 {
            args.len()
        } else {
            args.len() - 1
        };
        assert!(
            crate::parser::parse(&call_text(f, &args[..min])).is_ok(),
            "{}",
            f.name
        );
        if let Some(shorter) = min.checked_sub(1) {
            let text = call_text(f, &args[..shorter]);
            let e = crate::parser::parse(&text).unwrap_err().to_string();
            assert!(e.contains("argument(s) in call to"), "{text}: {e}");
        }
        if f.variadic >= 0 {
            let mut more = args.clone();
            let extra = f.variadic as usize + usize::from(f.variadic == 0);
            let last = *f.arg_types.last().unwrap_or(&ValueType::Scalar);
            more.extend(std::iter::repeat_n(arg(last), extra));
            let text = call_text(f, &more);
            let e = crate::parser::parse(&text).unwrap_err().to_string();
            assert!(e.contains("argument(s) in call to"), "{text}: {e}");
        }
        if let Some(&first) = f.arg_types.first() {
            let wrong = if first == ValueType::Scalar {
                ValueType::String
            } else {
                ValueType::Scalar
            };
            let mut args = args.clone();
            args[0] = arg(wrong);
            let text = call_text(f, &args);
            let e = crate::parser::parse(&text).unwrap_err().to_string();
            assert!(e.contains("expected type"), "{text}: {e}");
        }
    }
    let e = crate::parser::parse("nosuchfn(x)").unwrap_err().to_string();
    assert!(e.contains("unknown function with name \"nosuchfn\""), "{e}");
}

/// The words before `(` in PromQL that are not functions.
const NOT_FUNCTIONS: &[&str] = &[
    // Aggregations.
    "avg",
    "bottomk",
    "count",
    "count_values",
    "group",
    "limit_ratio",
    "limitk",
    "max",
    "min",
    "quantile",
    "stddev",
    "stdvar",
    "sum",
    "topk",
    // Modifiers and keywords.
    "bool",
    "by",
    "fill",
    "fill_left",
    "fill_right",
    "group_left",
    "group_right",
    "ignoring",
    "offset",
    "on",
    "without",
    // Binary operators written as words.
    "and",
    "atan2",
    "or",
    "unless",
    // The duration function of `[step()]`.
    "step",
];

/// The names written before `(` in an expression, outside string literals
/// and not right after a digit (`5m(`).
fn called_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, '"' | '\'' | '`') {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' && c != '`' { 2 } else { 1 };
            }
            i += 1;
            continue;
        }
        let starts_word = c.is_ascii_alphabetic() || c == '_';
        let after_word = i > 0 && (chars[i - 1].is_ascii_alphanumeric() || chars[i - 1] == '_');
        if !starts_word || after_word {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        let mut j = i;
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        if chars.get(j) == Some(&'(') {
            out.push(word);
        }
    }
    out
}

/// The conformance corpus beside the workspace, or where
/// `WASMETHEUS_CONFORMANCE` says.
fn corpus() -> Option<std::path::PathBuf> {
    let root = std::env::var_os("WASMETHEUS_CONFORMANCE").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
        std::path::PathBuf::from,
    );
    let dir = root.join("promql");
    dir.is_dir().then_some(dir)
}

#[test]
fn every_function_the_corpus_calls_is_in_the_table() {
    let Some(dir) = corpus() else {
        eprintln!("the PromQL conformance corpus is not checked out; nothing to compare");
        return;
    };
    let own = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut called = BTreeSet::new();
    for dir in [dir, own] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "test") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text.lines().map(str::trim_start) {
                if line.starts_with("eval") {
                    called.extend(called_names(line));
                }
            }
        }
    }
    assert!(called.len() > 50, "too few calls found: {called:?}");
    let unknown: Vec<&String> = called
        .iter()
        .filter(|n| {
            let lower = n.to_ascii_lowercase();
            function(n).is_none() && !NOT_FUNCTIONS.contains(&lower.as_str())
        })
        .collect();
    assert!(
        unknown.is_empty(),
        "called but not in the table: {unknown:?}"
    );
}
