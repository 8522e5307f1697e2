//! PromQL functions: the one table of every function Prometheus 3.x knows
//! ([`FUNCTIONS`]: signature, flags and implementation in one entry each),
//! which the parser's type checks, the `@` variant and the engine all
//! read, and the dispatch of a call to its implementation.
//!
//! The implementations follow Prometheus' `functions.go` (the same
//! formulas, NaN rules and annotation texts, since the scripted tests
//! compare results to 1e-6 and annotations verbatim), by family:
//! `instant.rs` (per-sample math, rounding, clamping, sorting by value),
//! `range.rs` (functions over range vectors), `histogram.rs`,
//! `label.rs` and `time.rs`. They reach the evaluation through the
//! `Context` trait, which the engine implements; nothing here imports
//! the engine.

mod histogram;
mod instant;
mod label;
mod range;
mod time;

use crate::ast::{AtModifier, Call, Duration, Expr, FunctionRef, Span, ValueType, VectorSelector};
use crate::eval_types::{RangeSeries, Result, Sample, Selected, Val};
use ValueType::{Matrix as M, Scalar as S, String as Str, Vector as V};
use range::Extended;

pub(crate) use range::{
    Params, RangeFn, Window, WindowEdges, extrapolate, range_annotations, window_edges,
};

/// What a function implementation may ask of the evaluation it runs in.
pub(crate) trait Context {
    fn eval_scalar(&mut self, e: &Expr, t: i64) -> Result<f64>;
    fn eval_vector(&mut self, e: &Expr, t: i64) -> Result<Vec<Sample>>;
    fn eval_string(&mut self, e: &Expr, t: i64) -> Result<String>;
    /// A range vector and the window `(start, end]` it covers.
    fn eval_matrix(&mut self, e: &Expr, t: i64) -> Result<(Vec<RangeSeries>, i64, i64)>;
    /// The query's start, end and step (ms; step 0 for instant queries).
    fn query_start(&self) -> i64;
    fn query_end(&self) -> i64;
    fn query_step(&self) -> i64;
    fn is_range_query(&self) -> bool {
        self.query_step() != 0
    }
    /// The lookback delta (ms).
    fn lookback(&self) -> i64;
    /// Adds a warning annotation about the node at `span`.
    fn warn(&mut self, text: &str, span: Span);
    /// Adds an info annotation about the node at `span`.
    fn info(&mut self, text: &str, span: Span);
    /// A range, step or offset in ms.
    fn duration(&self, d: &Duration) -> i64;
    /// The time a selector reads at: `@` or `t`, minus the offset.
    fn base_time(&self, at: Option<AtModifier>, offset: Option<&Duration>, t: i64) -> i64;
    /// The time the samples of `e` evaluated at `t` come from.
    fn reference_time(&self, e: &Expr, t: i64) -> i64;
    /// Float samples of the series of `vs` in `(mint, maxt]`, stale
    /// markers included.
    fn select(
        &mut self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
        range: i64,
    ) -> Result<Vec<Selected>>;
    /// The instant vector `vs` selects at `t`.
    fn vector_selector(&mut self, vs: &VectorSelector, t: i64) -> Result<Vec<Sample>>;
    /// The start timestamps (s) of the samples `vs` selects at `t`.
    fn start_timestamps(&mut self, vs: &VectorSelector, t: i64) -> Result<Vec<Sample>>;
    /// Takes back a consumed range series' point buffer for reuse.
    fn recycle(&mut self, points: Vec<(i64, f64)>);
}

/// A function that evaluates its call itself.
pub(crate) type CallFn = fn(&mut dyn Context, &Call, i64) -> Result<Val>;

/// How a function is evaluated.
#[derive(Clone, Copy)]
pub(crate) enum Impl {
    /// `f` of every sample of the one instant vector argument, the metric
    /// name dropped; the engine may evaluate it for a whole range query.
    PerSample(fn(f64) -> f64),
    /// `f` of every sample of the optional instant vector argument read
    /// as a Unix time in seconds (default: `vector(time())`), the metric
    /// name dropped.
    Date(fn(f64) -> f64),
    /// One value per series window of the range vector argument.
    OverTime(RangeFn),
    /// Anything else.
    Eval(CallFn),
}

/// A PromQL function: its signature as in Prometheus' `functions.go`, its
/// flags and its implementation. `variadic` is 0 for a fixed argument
/// list, -1 for any number of repetitions of the last argument type, n > 0
/// for up to n extra (optional) arguments.
pub struct Function {
    pub name: &'static str,
    pub arg_types: &'static [ValueType],
    pub variadic: i32,
    pub return_type: ValueType,
    pub experimental: bool,
    /// The result varies with the evaluation time even when the arguments
    /// do not (Prometheus' `AtModifierUnsafeFunctions`): an expression
    /// calling one gets no `@` variants in the scripted tests.
    pub at_modifier_unsafe: bool,
    pub(crate) imp: Impl,
}

impl Function {
    const fn new(
        name: &'static str,
        arg_types: &'static [ValueType],
        variadic: i32,
        return_type: ValueType,
        imp: Impl,
    ) -> Self {
        Function {
            name,
            arg_types,
            variadic,
            return_type,
            experimental: false,
            at_modifier_unsafe: false,
            imp,
        }
    }

    const fn experimental(mut self) -> Self {
        self.experimental = true;
        self
    }

    const fn at_modifier_unsafe(mut self) -> Self {
        self.at_modifier_unsafe = true;
        self
    }

    /// The per-sample function, if it is one.
    pub(crate) fn per_sample(&self) -> Option<fn(f64) -> f64> {
        match self.imp {
            Impl::PerSample(f) => Some(f),
            _ => None,
        }
    }

    /// The range function, if it is one.
    pub(crate) fn range_fn(&self) -> Option<&RangeFn> {
        match &self.imp {
            Impl::OverTime(r) => Some(r),
            _ => None,
        }
    }
}

/// Entries are unique by name.
impl PartialEq for Function {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Function {}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("name", &self.name)
            .field("arg_types", &self.arg_types)
            .field("variadic", &self.variadic)
            .field("return_type", &self.return_type)
            .field("experimental", &self.experimental)
            .finish_non_exhaustive()
    }
}

const fn f(
    name: &'static str,
    arg_types: &'static [ValueType],
    variadic: i32,
    return_type: ValueType,
    imp: Impl,
) -> Function {
    Function::new(name, arg_types, variadic, return_type, imp)
}

const fn per_sample(f: fn(f64) -> f64) -> Impl {
    Impl::PerSample(f)
}

const fn date(f: fn(f64) -> f64) -> Impl {
    Impl::Date(f)
}

const fn eval(f: CallFn) -> Impl {
    Impl::Eval(f)
}

const fn over(r: RangeFn) -> Impl {
    Impl::OverTime(r)
}

const fn window(f: range::WindowFn) -> RangeFn {
    RangeFn::new(f)
}

/// `delta`, `increase` and `rate` over extended range selectors.
const fn difference(counter: bool, per_second: bool) -> Extended {
    Extended::Difference {
        counter,
        per_second,
    }
}

/// Every function of Prometheus 3.x, sorted by name (for binary search).
/// Arguments: `V` instant vector, `S` scalar, `M` range vector, `Str`
/// string; then `variadic` (see [`Function`]) and the return type.
#[rustfmt::skip]
pub static FUNCTIONS: &[Function] = &[
    f("abs", &[V], 0, V, per_sample(f64::abs)),
    f("absent", &[V], 0, V, eval(label::absent)),
    f("absent_over_time", &[M], 0, V, eval(label::absent_over_time)),
    f("acos", &[V], 0, V, per_sample(f64::acos)),
    f("acosh", &[V], 0, V, per_sample(f64::acosh)),
    f("asin", &[V], 0, V, per_sample(f64::asin)),
    f("asinh", &[V], 0, V, per_sample(f64::asinh)),
    f("atan", &[V], 0, V, per_sample(f64::atan)),
    f("atanh", &[V], 0, V, per_sample(f64::atanh)),
    f("avg_over_time", &[M], 0, V, over(window(range::avg_over_time))),
    f("ceil", &[V], 0, V, per_sample(f64::ceil)),
    f("changes", &[M], 0, V,
        over(window(range::changes).with_extended(Extended::Count(range::changed)))),
    f("clamp", &[V, S, S], 0, V, eval(instant::clamp)),
    f("clamp_max", &[V, S], 0, V, eval(instant::clamp_max)),
    f("clamp_min", &[V, S], 0, V, eval(instant::clamp_min)),
    f("cos", &[V], 0, V, per_sample(f64::cos)),
    f("cosh", &[V], 0, V, per_sample(f64::cosh)),
    f("count_over_time", &[M], 0, V, over(window(range::count_over_time))),
    f("day_of_month", &[V], 1, V, date(time::day_of_month)).at_modifier_unsafe(),
    f("day_of_week", &[V], 1, V, date(time::day_of_week)).at_modifier_unsafe(),
    f("day_of_year", &[V], 1, V, date(time::day_of_year)).at_modifier_unsafe(),
    f("days_in_month", &[V], 1, V, date(time::days_in_month)).at_modifier_unsafe(),
    f("deg", &[V], 0, V, per_sample(instant::deg)),
    f("delta", &[M], 0, V, over(window(range::delta).with_extended(difference(false, false)).extrapolating(false, false))),
    f("deriv", &[M], 0, V, over(window(range::deriv))),
    f("double_exponential_smoothing", &[M, S, S], 0, V,
        over(window(range::double_exponential_smoothing).with_params(Params::Smoothing)))
        .experimental(),
    f("end", &[], 0, S, eval(time::end)).experimental().at_modifier_unsafe(),
    f("exp", &[V], 0, V, per_sample(f64::exp)),
    f("first_over_time", &[M], 0, V,
        over(window(range::first_over_time).keeping_name())).experimental(),
    f("floor", &[V], 0, V, per_sample(f64::floor)),
    f("histogram_avg", &[V], 0, V, eval(histogram::native_only)),
    f("histogram_count", &[V], 0, V, eval(histogram::native_only)),
    f("histogram_fraction", &[S, S, V], 0, V, eval(histogram::histogram_fraction)),
    f("histogram_quantile", &[S, V], 0, V, eval(histogram::histogram_quantile)),
    f("histogram_quantiles", &[V, Str, S, S], 9, V,
        eval(histogram::histogram_quantiles)).experimental(),
    f("histogram_stddev", &[V], 0, V, eval(histogram::native_only)),
    f("histogram_stdvar", &[V], 0, V, eval(histogram::native_only)),
    f("histogram_sum", &[V], 0, V, eval(histogram::native_only)),
    f("hour", &[V], 1, V, date(time::hour)).at_modifier_unsafe(),
    f("idelta", &[M], 0, V, over(window(range::idelta))),
    f("increase", &[M], 0, V,
        over(window(range::increase).of_counter().with_extended(difference(true, false)).extrapolating(true, false))),
    f("info", &[V, V], 1, V, eval(label::info)).experimental(),
    f("integral", &[M, S], 1, V, over(window(range::integral).step_by_step())).experimental(),
    f("irate", &[M], 0, V, over(window(range::irate))),
    f("label_join", &[V, Str, Str, Str], -1, V, eval(label::label_join)),
    f("label_replace", &[V, Str, Str, Str, Str], 0, V, eval(label::label_replace)),
    f("last_over_time", &[M], 0, V, over(window(range::last_over_time).keeping_name())),
    f("ln", &[V], 0, V, per_sample(f64::ln)),
    f("log10", &[V], 0, V, per_sample(f64::log10)),
    f("log2", &[V], 0, V, per_sample(f64::log2)),
    f("mad_over_time", &[M], 0, V, over(window(range::mad_over_time))).experimental(),
    f("max_of", &[S, S], 0, S, eval(instant::max_of)).experimental(),
    f("max_over_time", &[M], 0, V, over(window(range::max_over_time))),
    f("min_of", &[S, S], 0, S, eval(instant::min_of)).experimental(),
    f("min_over_time", &[M], 0, V, over(window(range::min_over_time))),
    f("minute", &[V], 1, V, date(time::minute)).at_modifier_unsafe(),
    f("month", &[V], 1, V, date(time::month)).at_modifier_unsafe(),
    f("pi", &[], 0, S, eval(instant::pi)),
    f("predict_linear", &[M, S], 0, V,
        over(window(range::predict_linear).with_params(Params::PredictLinear)))
        .at_modifier_unsafe(),
    f("present_over_time", &[M], 0, V, over(window(range::present_over_time))),
    f("quantile_over_time", &[S, M], 0, V,
        over(window(range::quantile_over_time).with_params(Params::Quantile))),
    f("rad", &[V], 0, V, per_sample(instant::rad)),
    f("range", &[], 0, S, eval(time::range)).experimental().at_modifier_unsafe(),
    f("rate", &[M], 0, V,
        over(window(range::rate).of_counter().with_extended(difference(true, true)).extrapolating(true, true))),
    f("resets", &[M], 0, V,
        over(window(range::resets).with_extended(Extended::Count(range::dropped)))),
    f("round", &[V, S], 1, V, eval(instant::round)),
    f("scalar", &[V], 0, S, eval(instant::scalar)),
    f("sgn", &[V], 0, V, per_sample(instant::sgn)),
    f("sin", &[V], 0, V, per_sample(f64::sin)),
    f("sinh", &[V], 0, V, per_sample(f64::sinh)),
    f("sort", &[V], 0, V, eval(instant::sort)),
    f("sort_by_label", &[V, Str], -1, V, eval(label::sort_by_label)).experimental(),
    f("sort_by_label_desc", &[V, Str], -1, V, eval(label::sort_by_label_desc)).experimental(),
    f("sort_desc", &[V], 0, V, eval(instant::sort_desc)),
    f("sqrt", &[V], 0, V, per_sample(f64::sqrt)),
    f("start", &[], 0, S, eval(time::start)).experimental().at_modifier_unsafe(),
    f("start_timestamp", &[V], 0, V, eval(time::start_timestamp)).experimental(),
    f("stddev_over_time", &[M], 0, V, over(window(range::stddev_over_time))),
    f("stdvar_over_time", &[M], 0, V, over(window(range::stdvar_over_time))),
    f("step", &[], 0, S, eval(time::step)).experimental().at_modifier_unsafe(),
    f("sum_over_time", &[M], 0, V, over(window(range::sum_over_time))),
    f("tan", &[V], 0, V, per_sample(f64::tan)),
    f("tanh", &[V], 0, V, per_sample(f64::tanh)),
    f("time", &[], 0, S, eval(time::time)).at_modifier_unsafe(),
    f("timestamp", &[V], 0, V, eval(time::timestamp)).at_modifier_unsafe(),
    f("ts_of_first_over_time", &[M], 0, V,
        over(window(range::ts_of_first_over_time))).experimental(),
    f("ts_of_last_over_time", &[M], 0, V, over(window(range::ts_of_last_over_time))).experimental(),
    f("ts_of_max_over_time", &[M], 0, V, over(window(range::ts_of_max_over_time))).experimental(),
    f("ts_of_min_over_time", &[M], 0, V, over(window(range::ts_of_min_over_time))).experimental(),
    f("vector", &[S], 0, V, eval(instant::vector)),
    f("year", &[V], 1, V, date(time::year)).at_modifier_unsafe(),
];

/// Looks a function up by its exact (case-sensitive) name.
pub fn function(name: &str) -> Option<FunctionRef> {
    let i = FUNCTIONS.binary_search_by(|f| f.name.cmp(name)).ok()?;
    Some(FunctionRef(
        u16::try_from(i).expect("the function table has fewer than 65536 entries"),
    ))
}

impl FunctionRef {
    /// The table entry, for as long as the program runs.
    pub fn get(self) -> &'static Function {
        &FUNCTIONS[usize::from(self.0)]
    }
}

/// `call.func.name` and the like read the table entry.
impl std::ops::Deref for FunctionRef {
    type Target = Function;

    fn deref(&self) -> &Function {
        self.get()
    }
}

/// The entry's own output, so a tree debug-prints as it did when a call
/// held a reference to the entry.
impl std::fmt::Debug for FunctionRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.get(), f)
    }
}

/// The functions that take native histograms in their instant or range
/// vector argument: they pass them through, count them, only read their
/// labels or timestamps, or read a histogram's count or sum. The engine refuses histograms in the
/// arguments of every other function (the range functions sort theirs
/// out in `range.rs`).
pub(crate) fn takes_histograms(c: &Call) -> bool {
    matches!(c.func.imp, Impl::OverTime(_))
        || matches!(
            c.func.name,
            "label_replace"
                | "label_join"
                | "sort"
                | "sort_desc"
                | "sort_by_label"
                | "sort_by_label_desc"
                | "timestamp"
                | "absent"
                | "absent_over_time"
                | "histogram_count"
                | "histogram_sum"
                | "histogram_avg"
        )
}

/// Evaluates a function call at `t` with the implementation its table
/// entry carries.
pub(crate) fn call(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    match c.func.imp {
        Impl::PerSample(f) => instant::per_sample(ctx, c, t, f),
        Impl::Date(f) => time::date_part(ctx, c, t, f),
        Impl::OverTime(ref r) => range::over_time(ctx, c, t, r),
        Impl::Eval(f) => f(ctx, c, t),
    }
}

#[cfg(test)]
mod tests;
