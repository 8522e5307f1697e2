//! Functions over range vectors, one value per series window: the
//! `*_over_time` family, `rate`, `increase`, `delta`, `irate`, `idelta`,
//! `changes`, `resets`, `deriv`, `predict_linear`,
//! `double_exponential_smoothing`; Prometheus' extrapolation, start
//! timestamps, their annotations, and the `anchored`/`smoothed` range
//! selectors. `absent_over_time` is in `label.rs`.

use std::cmp::Ordering;

use wasmetheus_model::Label;

use super::{Context, FUNCTIONS, Impl};
use crate::ast::{Call, Expr, Span, ValueType};
use crate::eval_types::{RangeSeries, Result, Sample, Val, err};
use crate::float::{go_float, kahan_sum_inc, quantile};
use crate::labels::get_label;

/// One series' window `(start, end]` of a range function evaluated at
/// `t`: its points (stale markers removed, never empty), their start
/// timestamps if it has any, and the function's scalar parameters.
pub(crate) struct Window<'a> {
    pub points: &'a [(i64, f64)],
    pub sts: Option<&'a [i64]>,
    pub start: i64,
    pub end: i64,
    pub t: i64,
    pub params: &'a [f64],
}

/// A window's value (`None`: the series has none at this step) and
/// whether a start timestamp overlapped its previous sample.
pub(crate) type Windowed = Result<(Option<f64>, bool)>;

/// The value of a range function over one series' window.
pub(crate) type WindowFn = fn(&Window<'_>) -> Windowed;

/// The scalar parameters of a range function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Params {
    /// None: the range vector is the first argument (an optional scalar
    /// after it is not read).
    None,
    /// `quantile_over_time(q, v)`: `q` before the range vector, warned
    /// about outside [0, 1].
    Quantile,
    /// `predict_linear(v, t)`.
    PredictLinear,
    /// `double_exponential_smoothing(v, sf, tf)`, both factors checked to
    /// lie in (0, 1).
    Smoothing,
}

/// What a range function does with an `anchored` or `smoothed` range
/// selector (Prometheus' experimental extended range selectors).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Extended {
    /// Neither is allowed.
    No,
    /// `anchored` only: how many neighbouring points `(previous, current)`
    /// are a hit, the newest sample at or before the range start included.
    Count(fn(f64, f64) -> bool),
    /// Both: the change from the range start to its end, with the newest
    /// sample at or before the start (`anchored`, never extrapolated) or
    /// interpolated at both bounds (`smoothed`); `counter` compensates
    /// resets, `per_second` divides by the range.
    Difference { counter: bool, per_second: bool },
}

/// How a range function is evaluated; part of its entry in the function
/// table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RangeFn {
    pub window: WindowFn,
    pub params: Params,
    /// Keeps the metric name (`first_over_time`, `last_over_time`); the
    /// others drop it.
    pub keeps_name: bool,
    /// Its value depends on the window alone, so the engine may evaluate
    /// it for a whole range query at once, series by series.
    pub whole_range: bool,
    /// Reads a counter: a name without a counter suffix gets the "might
    /// not be a counter" info.
    pub counter: bool,
    pub extended: Extended,
    /// `rate`, `increase`, `delta`: Prometheus' extrapolation, as
    /// `(counter, per_second)`; the engine then computes a series' float
    /// windows in one batch ([`window_edges`], [`extrapolate`]).
    pub extrapolation: Option<(bool, bool)>,
}

impl RangeFn {
    pub(super) const fn new(window: WindowFn) -> Self {
        RangeFn {
            window,
            params: Params::None,
            keeps_name: false,
            whole_range: true,
            counter: false,
            extended: Extended::No,
            extrapolation: None,
        }
    }

    pub(super) const fn extrapolating(mut self, counter: bool, per_second: bool) -> Self {
        self.extrapolation = Some((counter, per_second));
        self
    }

    /// With scalar parameters, which rule out whole-range evaluation.
    pub(super) const fn with_params(mut self, params: Params) -> Self {
        self.params = params;
        self.whole_range = false;
        self
    }

    pub(super) const fn keeping_name(mut self) -> Self {
        self.keeps_name = true;
        self
    }

    pub(super) const fn of_counter(mut self) -> Self {
        self.counter = true;
        self
    }

    pub(super) const fn with_extended(mut self, extended: Extended) -> Self {
        self.extended = extended;
        self
    }

    /// Evaluated step by step only.
    pub(super) const fn step_by_step(mut self) -> Self {
        self.whole_range = false;
        self
    }
}

/// A range function `f` evaluated at `t`: one sample per series of its
/// range vector that has a value.
pub(super) fn over_time(ctx: &mut dyn Context, c: &Call, t: i64, f: &RangeFn) -> Result<Val> {
    let name = c.func.name;
    if let Some(v) = extended_range(ctx, c, t, f)? {
        return Ok(v);
    }
    // The matrix argument's position and the scalar parameters.
    let (matrix_arg, params): (usize, Vec<f64>) = match f.params {
        Params::Quantile => (1, vec![ctx.eval_scalar(&c.args[0], t)?]),
        Params::PredictLinear => (0, vec![ctx.eval_scalar(&c.args[1], t)?]),
        Params::Smoothing => (
            0,
            vec![
                ctx.eval_scalar(&c.args[1], t)?,
                ctx.eval_scalar(&c.args[2], t)?,
            ],
        ),
        Params::None => (0, Vec::new()),
    };
    let Some(arg) = c.args.get(matrix_arg) else {
        return err(format!("function {name} is not supported"));
    };
    if !matches!(arg.value_type(), ValueType::Matrix) {
        return err(format!("function {name} is not supported"));
    }
    let (matrix, range_start, range_end) = ctx.eval_matrix(arg, t)?;
    if f.params == Params::Quantile && !(0.0..=1.0).contains(&params[0]) {
        ctx.warn(
            &format!(
                "quantile value should be between 0 and 1, got {}",
                go_float(params[0])
            ),
            c.args[0].span(),
        );
    }
    if f.params == Params::Smoothing {
        let (sf, tf) = (params[0], params[1]);
        if sf <= 0.0 || sf >= 1.0 || sf.is_nan() {
            return err(format!(
                "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
            ));
        }
        if tf <= 0.0 || tf >= 1.0 || tf.is_nan() {
            return err(format!(
                "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
            ));
        }
    }
    let mut out = Vec::with_capacity(matrix.len());
    let mut noted: Vec<String> = Vec::new();
    for s in matrix {
        let RangeSeries {
            labels,
            points,
            start_timestamps,
            histograms,
            drop_name,
        } = s;
        if !histograms.is_empty() && FLOATS_ONLY.contains(&name) {
            // Prometheus computes these from the floats: nothing without
            // any, an info when histograms were left out.
            if points.is_empty() {
                ctx.recycle(points);
                continue;
            }
            ctx.info(
                &format!(
                    "ignored histograms in a range containing both floats and histograms for metric name {:?}",
                    get_label(&labels, "__name__")
                ),
                arg.span(),
            );
        } else if !histograms.is_empty() {
            if let Some(sample) = with_histograms(name, &points, &histograms, t)? {
                out.push(Sample {
                    labels,
                    drop_name: drop_name || !f.keeps_name,
                    ..sample
                });
            }
            ctx.recycle(points);
            continue;
        }
        let (v, overlap) = (f.window)(&Window {
            points: &points,
            sts: start_timestamps.as_deref(),
            start: range_start,
            end: range_end,
            t,
            params: &params,
        })?;
        range_annotations(
            ctx,
            f,
            &labels,
            v.is_some(),
            overlap,
            arg.span(),
            &mut noted,
        );
        ctx.recycle(points);
        if let Some(v) = v {
            out.push(Sample {
                h: None,
                labels,
                t,
                v,
                drop_name: drop_name || !f.keeps_name,
            });
        }
    }
    Ok(Val::Vector(out))
}

/// The range functions Prometheus computes from a window's floats alone,
/// leaving its histograms out.
const FLOATS_ONLY: &[&str] = &[
    "max_over_time",
    "min_over_time",
    "mad_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "ts_of_max_over_time",
    "ts_of_min_over_time",
];

/// The few range functions whose value over a window holding native
/// histograms needs no histogram arithmetic: counting, presence, and the
/// first or last sample (a histogram is passed through as it is). The
/// others are refused rather than computed from the floats alone.
fn with_histograms(
    name: &str,
    floats: &[(i64, f64)],
    histograms: &[(i64, std::sync::Arc<crate::value::Histogram>)],
    t: i64,
) -> Result<Option<Sample>> {
    let float = |v: f64| Sample {
        labels: Default::default(),
        t,
        v,
        h: None,
        drop_name: false,
    };
    let first_float = floats.first().map(|p| p.0);
    let last_float = floats.last().map(|p| p.0);
    let first_histogram = histograms.first().map(|p| p.0);
    let last_histogram = histograms.last().map(|p| p.0);
    let first = first_float.into_iter().chain(first_histogram).min();
    let last = last_float.into_iter().chain(last_histogram).max();
    let histogram = |i: usize| -> Option<Sample> {
        let (_, h) = histograms.get(i)?;
        Some(Sample {
            h: Some(std::sync::Arc::clone(h)),
            ..float(0.0)
        })
    };
    Ok(match name {
        "count_over_time" => Some(float((floats.len() + histograms.len()) as f64)),
        "present_over_time" => Some(float(1.0)),
        "ts_of_first_over_time" => first.map(|t| float(t as f64 / 1000.0)),
        "ts_of_last_over_time" => last.map(|t| float(t as f64 / 1000.0)),
        "first_over_time" if first == first_histogram => histogram(0),
        "first_over_time" => floats.first().map(|p| float(p.1)),
        "last_over_time" if last == last_histogram => histogram(histograms.len() - 1),
        "last_over_time" => floats.last().map(|p| float(p.1)),
        _ => return crate::eval_types::unsupported(&format!("{name}()")),
    })
}

/// The annotations a range function adds for one series' window: the
/// "might not be a counter" info for a counter function on a name that
/// does not look like one (once per name, tracked in `noted`, since the
/// text costs more than the rate), and the start-timestamp overlap
/// warning.
pub(crate) fn range_annotations(
    ctx: &mut dyn Context,
    f: &RangeFn,
    labels: &[Label],
    has_value: bool,
    overlap: bool,
    span: Span,
    noted: &mut Vec<String>,
) {
    if overlap {
        ctx.warn(
            &format!(
                "sample has start time that overlaps with previous sample timestamp for metric {:?}",
                get_label(labels, "__name__")
            ),
            span,
        );
    }
    if has_value && f.counter {
        let metric = get_label(labels, "__name__");
        if !metric.is_empty()
            && !["_total", "_sum", "_count", "_bucket"]
                .iter()
                .any(|suf| metric.ends_with(suf))
            && !noted.iter().any(|n| n == metric)
        {
            noted.push(metric.to_owned());
            ctx.info(
                &format!(
                    "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {metric:?}"
                ),
                span,
            );
        }
    }
}

/// A window value without a start timestamp overlap.
fn value(v: Option<f64>) -> Windowed {
    Ok((v, false))
}

pub(super) fn rate(w: &Window<'_>) -> Windowed {
    Ok(extrapolated_rate(
        w.points, w.sts, w.start, w.end, true, true,
    ))
}

pub(super) fn increase(w: &Window<'_>) -> Windowed {
    Ok(extrapolated_rate(
        w.points, w.sts, w.start, w.end, true, false,
    ))
}

/// Prometheus reads start timestamps for counters only.
pub(super) fn delta(w: &Window<'_>) -> Windowed {
    Ok(extrapolated_rate(
        w.points, None, w.start, w.end, false, false,
    ))
}

pub(super) fn irate(w: &Window<'_>) -> Windowed {
    value(instant_value(w.points, w.sts, true))
}

pub(super) fn idelta(w: &Window<'_>) -> Windowed {
    value(instant_value(w.points, None, false))
}

pub(super) fn avg_over_time(w: &Window<'_>) -> Windowed {
    value(Some(avg(w.points.iter().map(|p| p.1))))
}

pub(super) fn count_over_time(w: &Window<'_>) -> Windowed {
    value(Some(w.points.len() as f64))
}

pub(super) fn sum_over_time(w: &Window<'_>) -> Windowed {
    let (mut sum, mut c) = (0.0, 0.0);
    for p in w.points {
        (sum, c) = kahan_sum_inc(p.1, sum, c);
    }
    value(Some(if c.is_finite() { sum + c } else { sum }))
}

pub(super) fn min_over_time(w: &Window<'_>) -> Windowed {
    let points = w.points;
    value(Some(points.iter().skip(1).fold(points[0].1, |m, p| {
        if p.1 < m || m.is_nan() { p.1 } else { m }
    })))
}

pub(super) fn max_over_time(w: &Window<'_>) -> Windowed {
    let points = w.points;
    value(Some(points.iter().skip(1).fold(points[0].1, |m, p| {
        if p.1 > m || m.is_nan() { p.1 } else { m }
    })))
}

/// The time (s) of the newest smallest (`max`: largest) value.
fn ts_of_extreme(points: &[(i64, f64)], max: bool) -> Windowed {
    let mut best = points[0];
    for &p in &points[1..] {
        let better = if max { p.1 >= best.1 } else { p.1 <= best.1 };
        if better || best.1.is_nan() {
            best = p;
        }
    }
    value(Some(best.0 as f64 / 1000.0))
}

pub(super) fn ts_of_min_over_time(w: &Window<'_>) -> Windowed {
    ts_of_extreme(w.points, false)
}

pub(super) fn ts_of_max_over_time(w: &Window<'_>) -> Windowed {
    ts_of_extreme(w.points, true)
}

pub(super) fn ts_of_first_over_time(w: &Window<'_>) -> Windowed {
    value(Some(w.points[0].0 as f64 / 1000.0))
}

pub(super) fn ts_of_last_over_time(w: &Window<'_>) -> Windowed {
    value(Some(w.points[w.points.len() - 1].0 as f64 / 1000.0))
}

/// The population variance (Welford's, with Kahan sums).
fn variance(points: &[(i64, f64)]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for p in points {
        count += 1.0;
        let delta = p.1 - (mean + c_mean);
        (mean, c_mean) = kahan_sum_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_sum_inc(delta * (p.1 - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

pub(super) fn stddev_over_time(w: &Window<'_>) -> Windowed {
    value(Some(variance(w.points).sqrt()))
}

pub(super) fn stdvar_over_time(w: &Window<'_>) -> Windowed {
    value(Some(variance(w.points)))
}

pub(super) fn quantile_over_time(w: &Window<'_>) -> Windowed {
    let mut values: Vec<f64> = w.points.iter().map(|p| p.1).collect();
    value(Some(quantile(w.params[0], &mut values)))
}

pub(super) fn mad_over_time(w: &Window<'_>) -> Windowed {
    if w.points.iter().any(|p| p.1.is_nan()) {
        return value(Some(f64::NAN));
    }
    let mut values: Vec<f64> = w.points.iter().map(|p| p.1).collect();
    let median = quantile(0.5, &mut values);
    let mut dev: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
    value(Some(quantile(0.5, &mut dev)))
}

pub(super) fn last_over_time(w: &Window<'_>) -> Windowed {
    value(Some(w.points[w.points.len() - 1].1))
}

pub(super) fn first_over_time(w: &Window<'_>) -> Windowed {
    value(Some(w.points[0].1))
}

pub(super) fn present_over_time(_: &Window<'_>) -> Windowed {
    value(Some(1.0))
}

/// A change between neighbouring values (two NaNs are no change).
pub(super) fn changed(prev: f64, cur: f64) -> bool {
    cur != prev && !(cur.is_nan() && prev.is_nan())
}

/// A counter reset by value.
pub(super) fn dropped(prev: f64, cur: f64) -> bool {
    cur < prev
}

pub(super) fn changes(w: &Window<'_>) -> Windowed {
    let n = w
        .points
        .windows(2)
        .filter(|p| changed(p[0].1, p[1].1))
        .count();
    value(Some(n as f64))
}

/// Resets by value or, with start timestamps, by a restart.
pub(super) fn resets(w: &Window<'_>) -> Windowed {
    let mut n = 0.0;
    for (i, p) in w.points.windows(2).enumerate() {
        let (prev, cur) = (p[0], p[1]);
        if dropped(prev.1, cur.1)
            || w.sts
                .is_some_and(|sts| is_start_timestamp_reset(sts[i], prev.0, sts[i + 1], cur.0))
        {
            n += 1.0;
        }
    }
    value(Some(n))
}

pub(super) fn deriv(w: &Window<'_>) -> Windowed {
    let points = w.points;
    value((points.len() >= 2).then(|| linear_regression(points, points[0].0).0))
}

pub(super) fn predict_linear(w: &Window<'_>) -> Windowed {
    value((w.points.len() >= 2).then(|| {
        let (slope, intercept) = linear_regression(w.points, w.t);
        slope * w.params[0] + intercept
    }))
}

pub(super) fn double_exponential_smoothing(w: &Window<'_>) -> Windowed {
    value(smoothed_value(w.points, w.params[0], w.params[1]))
}

/// `integral`, known to the parser (Prometheus 3 lists it as
/// experimental) but not implemented: any window is an error.
pub(super) fn integral(_: &Window<'_>) -> Windowed {
    err("function integral is not supported")
}

/// The overflow-safe mean of `avg_over_time`.
fn avg(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut mean, mut count, mut c) = (0.0, 0.0, 0.0, 0.0);
    let mut incremental = false;
    for f in values {
        count += 1.0;
        if !incremental {
            let (ns, nc) = kahan_sum_inc(f, sum, c);
            if count == 1.0 || !ns.is_infinite() {
                (sum, c) = (ns, nc);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_sum_inc(f / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        sum / count + c / count
    }
}

/// `rate`/`increase`/`delta` (Prometheus' `extrapolatedRate`): the
/// change over the window, corrected for counter resets, extrapolated
/// towards the window's bounds. With start timestamps (counters only), a
/// sample that started counting after the previous one is a reset too,
/// and a first sample whose counting began inside the window is
/// extrapolated to a zero at that start instead of to the window's start.
/// Also says whether a start timestamp overlapped the sample before it.
fn extrapolated_rate(
    points: &[(i64, f64)],
    sts: Option<&[i64]>,
    range_start: i64,
    range_end: i64,
    counter: bool,
    rate: bool,
) -> (Option<f64>, bool) {
    if sts.is_none() {
        let Some(edges) = window_edges(points, counter) else {
            return (None, false);
        };
        let v = extrapolate(&edges, None, (range_start, range_end), counter, rate);
        return (v, false);
    }
    let Some(&(first_t, first_v)) = points.first() else {
        return (None, false);
    };
    let n1 = points.len() - 1;
    let (last_t, last_v) = points[n1];
    let mut result = last_v - first_v;
    let mut overlap = false;
    if counter {
        for (i, w) in points.windows(2).enumerate() {
            let (prev, cur) = (w[0], w[1]);
            let st_reset = match sts {
                Some(sts) => {
                    let (prev_st, cur_st) = (sts[i], sts[i + 1]);
                    // Each series warns once per step.
                    overlap |= !overlap && cur_st != 0 && cur_st < prev.0 && cur_st != prev_st;
                    is_start_timestamp_reset(prev_st, prev.0, cur_st, cur.0)
                }
                None => false,
            };
            if cur.1 < prev.1 || st_reset {
                result += prev.1;
            }
        }
    }
    let first_st = sts.map_or(0, |sts| sts[0]);
    // The series started counting inside the window: assume a zero there
    // rather than extrapolating.
    let started = (counter && first_st != 0 && first_st > range_start && first_st < first_t)
        .then_some(first_st);
    let edges = WindowEdges {
        first_t,
        first_v,
        last_t,
        n1,
        result,
    };
    let v = extrapolate(&edges, started, (range_start, range_end), counter, rate);
    (v, overlap)
}

/// What [`extrapolate`] needs of a window: its first and last samples,
/// how many intervals lie between them, and the change over it (resets
/// compensated for a counter).
#[derive(Debug, Clone, Copy)]
pub(crate) struct WindowEdges {
    pub first_t: i64,
    pub first_v: f64,
    pub last_t: i64,
    pub n1: usize,
    pub result: f64,
}

/// The edges of a window of float points without start timestamps;
/// `None` when it is empty. Each counter reset adds the value before it,
/// in order, as Prometheus sums them.
#[inline]
pub(crate) fn window_edges(points: &[(i64, f64)], counter: bool) -> Option<WindowEdges> {
    let &(first_t, first_v) = points.first()?;
    let n1 = points.len() - 1;
    let (last_t, last_v) = points[n1];
    let mut result = last_v - first_v;
    if counter {
        let mut prev = first_v;
        for &(_, cur) in &points[1..] {
            if cur < prev {
                result += prev;
            }
            prev = cur;
        }
    }
    Some(WindowEdges {
        first_t,
        first_v,
        last_t,
        n1,
        result,
    })
}

/// Prometheus' `extrapolatedRate` once the window's edges are known:
/// `started` is the start timestamp of a counter that began inside the
/// window `(start, end]`. Branch-light, so a batch of windows overlaps
/// their divisions.
#[inline(always)]
pub(crate) fn extrapolate(
    e: &WindowEdges,
    started: Option<i64>,
    (range_start, range_end): (i64, i64),
    counter: bool,
    rate: bool,
) -> Option<f64> {
    let mut result = e.result;
    let mut to_start = (e.first_t - range_start) as f64 / 1000.0;
    let mut to_end = (range_end - e.last_t) as f64 / 1000.0;
    let mut sampled = (e.last_t - e.first_t) as f64 / 1000.0;
    let avg_between = if e.n1 > 0 { sampled / e.n1 as f64 } else { 0.0 };
    let threshold = avg_between * 1.1;
    if let Some(first_st) = started {
        to_start = 0.0;
        sampled = (e.last_t - first_st) as f64 / 1000.0;
        result += e.first_v;
    } else if e.n1 == 0 {
        return None;
    } else {
        if to_start >= threshold {
            to_start = avg_between / 2.0;
        }
        if counter && result > 0.0 && e.first_v >= 0.0 {
            // A counter cannot go below zero: extrapolate at most to
            // where it would have been zero.
            let to_zero = sampled * (e.first_v / result);
            if to_zero < to_start {
                to_start = to_zero;
            }
        }
    }
    if to_end >= threshold {
        to_end = avg_between / 2.0;
    }
    let mut factor = if sampled != 0.0 {
        (sampled + to_start + to_end) / sampled
    } else {
        1.0
    };
    if rate {
        factor /= (range_end - range_start) as f64 / 1000.0;
    }
    Some(result * factor)
}

/// Whether a sample's start timestamp says its counter restarted since
/// the previous sample (Prometheus' `isStartTimestampReset`; `0` is none).
fn is_start_timestamp_reset(prev_st: i64, prev_t: i64, cur_st: i64, cur_t: i64) -> bool {
    // Unset, invalid (after the sample) or OTel's unknown start (equal).
    if cur_st == 0 || cur_st >= cur_t {
        return false;
    }
    match cur_st.cmp(&prev_t) {
        Ordering::Less => false,
        Ordering::Greater => true,
        // Started right at the previous sample: a delta (reset) unless
        // that sample's own start is unknown or invalid.
        Ordering::Equal => prev_st <= prev_t && prev_st != 0 && prev_st != prev_t,
    }
}

/// `irate`/`idelta`: the last two samples.
fn instant_value(points: &[(i64, f64)], sts: Option<&[i64]>, rate: bool) -> Option<f64> {
    let n = points.len();
    if n < 2 {
        return None;
    }
    let (pt, pv) = points[n - 2];
    let (lt, lv) = points[n - 1];
    let reset =
        lv < pv || sts.is_some_and(|sts| is_start_timestamp_reset(sts[n - 2], pt, sts[n - 1], lt));
    let mut v = if rate && reset { lv } else { lv - pv };
    let interval = lt - pt;
    if interval == 0 {
        return None;
    }
    if rate {
        v /= interval as f64 / 1000.0;
    }
    Some(v)
}

/// Least squares of value over seconds since `intercept_t` (Kahan sums).
fn linear_regression(points: &[(i64, f64)], intercept_t: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sx2, mut cx2) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let init_y = points[0].1;
    let mut const_y = true;
    for (i, &(t, v)) in points.iter().enumerate() {
        if const_y && i > 0 && v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (t - intercept_t) as f64 / 1e3;
        (sx, cx) = kahan_sum_inc(x, sx, cx);
        (sy, cy) = kahan_sum_inc(v, sy, cy);
        (sxy, cxy) = kahan_sum_inc(x * v, sxy, cxy);
        (sx2, cx2) = kahan_sum_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

/// Holt's linear smoothing of the values (Prometheus' `funcDoubleExponentialSmoothing`).
fn smoothed_value(points: &[(i64, f64)], sf: f64, tf: f64) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let trend = |i: usize, s0: f64, s1: f64, b: f64| {
        if i == 0 {
            b
        } else {
            tf * (s1 - s0) + (1.0 - tf) * b
        }
    };
    let (mut s0, mut s1) = (0.0, points[0].1);
    let mut b = points[1].1 - points[0].1;
    for (i, p) in points.iter().enumerate().skip(1) {
        let x = sf * p.1;
        b = trend(i - 1, s0, s1, b);
        let y = (1.0 - sf) * (s1 + b);
        (s0, s1) = (s1, x + y);
    }
    Some(s1)
}

/// The names of the range functions whose extended handling `allows` —
/// in the table's (alphabetical) order, as Prometheus lists them in its
/// error messages.
fn extended_names(allows: fn(Extended) -> bool) -> String {
    FUNCTIONS
        .iter()
        .filter(|f| matches!(f.imp, Impl::OverTime(r) if allows(r.extended)))
        .map(|f| f.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A range function over an `anchored` or `smoothed` range selector (see
/// [`Extended`]); `None` for any other argument.
///
/// `anchored` adds, as the first point, the newest sample at or before
/// the range start (within the lookback delta) and never extrapolates.
/// `smoothed` interpolates the values at both range bounds linearly
/// between the neighbouring samples (counter resets compensated for
/// counters) and takes the difference.
fn extended_range(ctx: &mut dyn Context, c: &Call, t: i64, f: &RangeFn) -> Result<Option<Val>> {
    let name = c.func.name;
    let Some(Expr::MatrixSelector(ms)) = c.args.first() else {
        return Ok(None);
    };
    let vs = &ms.selector;
    if !vs.anchored && !vs.smoothed {
        return Ok(None);
    }
    let smoothable = |e: Extended| matches!(e, Extended::Difference { .. });
    let anchorable = |e: Extended| !matches!(e, Extended::No);
    if vs.smoothed && !smoothable(f.extended) {
        return err(format!(
            "smoothed modifier can only be used with: {} - not with {name}",
            extended_names(smoothable)
        ));
    }
    if vs.anchored && !anchorable(f.extended) {
        return err(format!(
            "anchored modifier can only be used with: {} - not with {name}",
            extended_names(anchorable)
        ));
    }
    let end = ctx.base_time(vs.at, vs.offset.as_ref(), t);
    let range = ctx.duration(&ms.range);
    let start = end.saturating_sub(range);
    let lookback = ctx.lookback();
    let after = if vs.smoothed { lookback } else { 0 };
    let selected = ctx.select(
        vs,
        start.saturating_sub(lookback),
        end.saturating_add(after),
        range,
    )?;
    let (counter, per_second) = match f.extended {
        Extended::Difference {
            counter,
            per_second,
        } => (counter, per_second),
        _ => (false, false),
    };
    let per_second = |d: f64| {
        if per_second {
            d / (range as f64 / 1000.0)
        } else {
            d
        }
    };
    let mut out = Vec::new();
    for (labels, mut points) in selected {
        points.retain(|p| !wasmetheus_model::storage::is_stale_marker(p.1));
        let first_in = points.partition_point(|p| p.0 <= start);
        let last_in = points.partition_point(|p| p.0 <= end);
        let before = first_in.checked_sub(1).map(|i| points[i]);
        let inside = &points[first_in..last_in];
        let next = points.get(last_in).copied();
        let v = if vs.anchored {
            if inside.is_empty() {
                continue;
            }
            let mut series: Vec<(i64, f64)> = before.into_iter().collect();
            series.extend_from_slice(inside);
            match f.extended {
                Extended::Count(hit) => {
                    let mut n = 0.0;
                    for w in series.windows(2) {
                        n += f64::from(u8::from(hit(w[0].1, w[1].1)));
                    }
                    n
                }
                _ => {
                    let mut d = series[series.len() - 1].1 - series[0].1;
                    if counter {
                        for w in series.windows(2) {
                            if w[1].1 < w[0].1 {
                                d += w[0].1;
                            }
                        }
                    }
                    per_second(d)
                }
            }
        } else {
            // Smoothed: the samples from the one at or before the start
            // to the one after the end, counter-adjusted for resets.
            let lo = first_in.saturating_sub(usize::from(before.is_some()));
            let hi = last_in + usize::from(next.is_some());
            let mut series: Vec<(i64, f64)> = points[lo..hi].to_vec();
            if series.is_empty() || (inside.is_empty() && (before.is_none() || next.is_none())) {
                continue;
            }
            if counter {
                let mut offset = 0.0;
                let mut prev = series[0].1;
                for p in series.iter_mut().skip(1) {
                    let raw = p.1;
                    if raw < prev {
                        offset += prev;
                    }
                    prev = raw;
                    p.1 = raw + offset;
                }
            }
            let at = |x: i64| -> f64 {
                let i = series.partition_point(|p| p.0 <= x);
                if i == 0 {
                    return series[0].1;
                }
                let (t0, v0) = series[i - 1];
                match series.get(i) {
                    Some(&(t1, v1)) if t0 != x => {
                        v0 + (v1 - v0) * (x - t0) as f64 / (t1 - t0) as f64
                    }
                    _ => v0,
                }
            };
            per_second(at(end) - at(start))
        };
        out.push(Sample {
            h: None,
            labels,
            t,
            v,
            drop_name: true,
        });
    }
    Ok(Some(Val::Vector(out)))
}
