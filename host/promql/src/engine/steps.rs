//! Whole-range evaluation: the expressions whose value at each step depends
//! only on their own input at that step (selectors, range functions over a
//! range selector, value aggregations of those) are computed for every
//! step of a range query at once, series by series, the way Prometheus'
//! `rangeEval` does, instead of step by step.
//!
//! Series by series means each series' samples are walked once with two
//! cursors, and an aggregation groups each input series once rather than
//! once per step. The results are exactly what the step-by-step path
//! computes (the same window and aggregation functions are called; a
//! property test compares every step with an instant query).
//!
//! A query made only of such expressions is answered from here directly;
//! in any other query, such a subexpression outside every subquery is
//! computed here once and handed to the step-by-step path one step at a
//! time.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use wasmetheus_model::Label;
use wasmetheus_model::storage::is_stale_marker;

use super::Evaluator;
use super::aggregate::{Accumulator, is_value_aggregation};
use super::binary::{scalar_op, scalar_op_drops_name};
use super::select::{LoadedSeries, points_until};
use super::{check_deadline, parallel};
use crate::ast::{AggregateExpr, BinaryExpr, Call, Expr, MatrixSelector, ValueType};
use crate::eval_types::{Error, Result, Sample, err};
use crate::float::{quantile_of_sorted, quantile_order};
use crate::functions::{
    Params, RangeFn, Window, WindowEdges, extrapolate, range_annotations, window_edges,
};
use crate::labels::{Labels, drop_name};
use crate::value::{self, Point, SampleValue};

/// One series of a [`StepMatrix`]: its value at each step, if it has one.
pub(crate) struct StepSeries {
    pub labels: Labels,
    /// Whether the metric name is to be dropped at the end.
    pub drop_name: bool,
    pub values: Vec<Option<f64>>,
}

/// An expression's values at every step of the range query.
pub(crate) struct StepMatrix {
    pub series: Vec<StepSeries>,
    /// For each step, the series present in the order the step-by-step
    /// path would list them (an aggregation lists groups in the order
    /// their first present member comes); `None` when that is simply the
    /// order of `series`.
    pub order: Option<Vec<Vec<u32>>>,
}

impl StepMatrix {
    /// How many values are present, for the sample limit.
    fn present(&self) -> usize {
        self.series
            .iter()
            .map(|s| s.values.iter().filter(|v| v.is_some()).count())
            .sum()
    }

    /// The instant vector at step `k` (evaluation time `t`).
    pub fn vector_at(&self, k: usize, t: i64) -> Vec<Sample> {
        let sample = |s: &StepSeries| {
            s.values[k].map(|v| Sample {
                h: None,
                labels: Arc::clone(&s.labels),
                t,
                v,
                drop_name: s.drop_name,
            })
        };
        match &self.order {
            Some(order) => order[k]
                .iter()
                .filter_map(|&i| sample(&self.series[i as usize]))
                .collect(),
            None => self.series.iter().filter_map(sample).collect(),
        }
    }
}

/// Where the values of a selector or of a plain range function over a
/// range selector come from: the planned selector and, per step, the end
/// of the window it reads.
struct Source {
    selector: usize,
    ends: Vec<i64>,
    function: Option<RangeFunction>,
}

struct RangeFunction {
    f: &'static RangeFn,
    range: i64,
    /// Its scalar parameters (number literals).
    params: Vec<f64>,
    /// `quantile_over_time`: computed by [`sliding_quantile`].
    sliding_quantile: bool,
    /// Where the function's annotations point: its range selector.
    span: crate::ast::Span,
}

/// A window's points and start timestamps without its stale markers.
#[derive(Default)]
struct Scratch {
    points: Vec<(i64, f64)>,
    sts: Vec<i64>,
}

/// Whether [`Evaluator::eval_steps`] computes `e` (and so every vector in
/// it; scalar operands are evaluated step by step).
pub(crate) fn supported(e: &Expr) -> bool {
    match e {
        Expr::Paren(p) => supported(&p.expr),
        Expr::VectorSelector(vs) => !vs.smoothed,
        Expr::Unary(u) => supported(&u.expr),
        Expr::Binary(b) => scalar_operand(b).is_some(),
        Expr::Call(c) if c.func.per_sample().is_some() => {
            c.args.len() == 1 && supported(&c.args[0])
        }
        Expr::Call(c) => plain_range_call(c).is_some(),
        Expr::Aggregate(a) => a.param.is_none() && is_value_aggregation(a.op) && supported(&a.expr),
        _ => false,
    }
}

/// For `vector op scalar` (either way round) with a [`supported`] vector:
/// the vector, the scalar and whether the scalar is on the left.
fn scalar_operand(b: &BinaryExpr) -> Option<(&Expr, &Expr, bool)> {
    let (l, r) = (b.lhs.value_type(), b.rhs.value_type());
    match (l, r) {
        (ValueType::Vector, ValueType::Scalar) if supported(&b.lhs) => {
            Some((&b.lhs, &b.rhs, false))
        }
        (ValueType::Scalar, ValueType::Vector) if supported(&b.rhs) => Some((&b.rhs, &b.lhs, true)),
        _ => None,
    }
}

/// `f(selector[range])` for a range function that needs nothing but the
/// window, or besides it number literals that the step-by-step path takes
/// without an annotation or error (`quantile_over_time(0.9, …)`,
/// `predict_linear(…, 3600)`): the range selector, those numbers, and
/// the argument that is the range selector.
fn plain_range_call(c: &Call) -> Option<(&MatrixSelector, Vec<f64>, &Expr)> {
    let r = c.func.range_fn()?;
    let (matrix, params) = match r.params {
        Params::None if r.whole_range && c.args.len() == 1 => (&c.args[0], Vec::new()),
        Params::Quantile if c.args.len() == 2 => {
            let q = number(&c.args[0])?;
            (0.0..=1.0).contains(&q).then_some(())?;
            (&c.args[1], vec![q])
        }
        Params::PredictLinear if c.args.len() == 2 => (&c.args[0], vec![number(&c.args[1])?]),
        Params::Smoothing if c.args.len() == 3 => {
            let (sf, tf) = (number(&c.args[1])?, number(&c.args[2])?);
            (sf > 0.0 && sf < 1.0 && tf > 0.0 && tf < 1.0).then_some(())?;
            (&c.args[0], vec![sf, tf])
        }
        _ => return None,
    };
    match matrix {
        Expr::MatrixSelector(ms) if !ms.selector.anchored && !ms.selector.smoothed => {
            Some((ms, params, matrix))
        }
        _ => None,
    }
}

/// A number literal's value, through parentheses.
fn number(e: &Expr) -> Option<f64> {
    match e {
        Expr::Number(n) => Some(n.val),
        Expr::Paren(p) => number(&p.expr),
        _ => None,
    }
}

/// What [`series_values`] needs of the query besides the source.
#[derive(Clone, Copy)]
struct Span {
    start: i64,
    step: i64,
    lookback: i64,
}

/// One series of `source` at every step into `values`: whether it has
/// any value, and whether a start timestamp overlapped (for the
/// annotations).
fn series_values(
    s: &LoadedSeries,
    source: &Source,
    span: Span,
    values: &mut Vec<Option<f64>>,
) -> Result<(bool, bool)> {
    values.clear();
    let mut any = false;
    let Some(f) = &source.function else {
        let mut cursor = 0;
        values.extend(source.ends.iter().map(|&ts| {
            let n = points_until(&s.points, ts, &mut cursor);
            let (pt, v) = *s.points.get(n.checked_sub(1)?)?;
            let present = pt > ts.saturating_sub(span.lookback) && !is_stale_marker(v);
            any |= present;
            present.then_some(v)
        }));
        return Ok((any, false));
    };
    if f.sliding_quantile {
        return Ok((sliding_quantile(s, source, f, values), false));
    }
    // Checked once per series rather than in every window: most series
    // hold no stale marker at all.
    let any_stale = s.points.iter().any(|p| is_stale_marker(p.1));
    if let Some(extrapolation) = f.f.extrapolation
        && !any_stale
        && s.start_timestamps.is_none()
    {
        return Ok((
            extrapolated_windows(s, source, f.range, extrapolation, values),
            false,
        ));
    }
    let mut scratch = Scratch::default();
    let (mut from_cursor, mut to_cursor) = (0, 0);
    let mut overlapped = false;
    for (k, &maxt) in source.ends.iter().enumerate() {
        let mint = maxt.saturating_sub(f.range);
        let to = points_until(&s.points, maxt, &mut to_cursor);
        let from = points_until(&s.points, mint, &mut from_cursor).min(to);
        let mut points = &s.points[from..to];
        let mut sts = s.start_timestamps.as_ref().map(|sts| &sts[from..to]);
        if any_stale && points.iter().any(|p| is_stale_marker(p.1)) {
            scratch.points.clear();
            scratch.sts.clear();
            for (i, p) in points.iter().enumerate() {
                if !is_stale_marker(p.1) {
                    scratch.points.push(*p);
                    if let Some(sts) = sts {
                        scratch.sts.push(sts[i]);
                    }
                }
            }
            points = &scratch.points;
            sts = sts.map(|_| scratch.sts.as_slice());
        }
        if points.is_empty() {
            values.push(None);
            continue;
        }
        let window = Window {
            points,
            sts,
            start: mint,
            end: maxt,
            t: span.start + k as i64 * span.step,
            params: &f.params,
        };
        let (v, overlap) = (f.f.window)(&window)?;
        overlapped |= overlap;
        any |= v.is_some();
        values.push(v);
    }
    Ok((any, overlapped))
}

/// `rate`, `increase` or `delta` (`(counter, per_second)`) of a series
/// without stale markers or start timestamps at every step, in two
/// passes: each window's edges first, then their extrapolation, a loop of
/// arithmetic alone in which the divisions of successive steps overlap.
/// The same functions as the window function calls, so the same bits.
/// Whether any step has a value.
fn extrapolated_windows(
    s: &LoadedSeries,
    source: &Source,
    range: i64,
    (counter, per_second): (bool, bool),
    values: &mut Vec<Option<f64>>,
) -> bool {
    let (mut from_cursor, mut to_cursor) = (0, 0);
    let edges: Vec<Option<WindowEdges>> = source
        .ends
        .iter()
        .map(|&maxt| {
            let to = points_until(&s.points, maxt, &mut to_cursor);
            let mint = maxt.saturating_sub(range);
            let from = points_until(&s.points, mint, &mut from_cursor).min(to);
            window_edges(&s.points[from..to], counter)
        })
        .collect();
    let mut any = false;
    values.extend(edges.iter().zip(&source.ends).map(|(e, &maxt)| {
        let bounds = (maxt.saturating_sub(range), maxt);
        let v = e
            .as_ref()
            .and_then(|e| extrapolate(e, None, bounds, counter, per_second));
        any |= v.is_some();
        v
    }));
    any
}

/// `quantile_over_time` of one series at every step, keeping its window
/// sorted as it slides instead of sorting every window: the points leaving
/// are removed and those entering inserted. Equal values stay in time
/// order (the oldest, which leaves first, heads its run of equals; a new
/// one goes after its equals), which is the order the stable sort of the
/// step-by-step path gives, so every value is the same to the bit.
/// Whether any step has a value.
fn sliding_quantile(
    s: &LoadedSeries,
    source: &Source,
    f: &RangeFunction,
    values: &mut Vec<Option<f64>>,
) -> bool {
    let q = f.params[0];
    let mut sorted: Vec<f64> = Vec::new();
    let (mut from_cursor, mut to_cursor) = (0, 0);
    // The window in `sorted`, as indexes into the points.
    let (mut held_from, mut held_to) = (0, 0);
    let mut any = false;
    let live = |i: usize| Some(s.points[i].1).filter(|v| !is_stale_marker(*v));
    for &maxt in &source.ends {
        let mint = maxt.saturating_sub(f.range);
        let to = points_until(&s.points, maxt, &mut to_cursor);
        let from = points_until(&s.points, mint, &mut from_cursor).min(to);
        if from < held_from || to < held_to || from >= held_to {
            // Not a slide forward: sorted anew.
            sorted.clear();
            sorted.extend((from..to).filter_map(live));
            sorted.sort_by(quantile_order);
        } else {
            for v in (held_from..from).filter_map(live) {
                let at = sorted.partition_point(|x| quantile_order(x, &v).is_lt());
                sorted.remove(at);
            }
            for v in (held_to..to).filter_map(live) {
                let at = sorted.partition_point(|x| quantile_order(x, &v).is_le());
                sorted.insert(at, v);
            }
        }
        (held_from, held_to) = (from, to);
        if sorted.is_empty() {
            values.push(None);
        } else {
            any = true;
            values.push(Some(quantile_of_sorted(q, &sorted)));
        }
    }
    any
}

impl Evaluator<'_> {
    pub(super) fn steps(&self) -> usize {
        usize::try_from((self.end - self.start) / self.step).map_or(0, |n| n + 1)
    }

    fn step_time(&self, k: usize) -> i64 {
        self.start + k as i64 * self.step
    }

    /// Evaluates a [`supported`] expression at every step of the range
    /// query.
    pub(crate) fn eval_steps(&mut self, e: &Expr) -> Result<StepMatrix> {
        if self.steps() == 0 {
            return Ok(StepMatrix {
                series: Vec::new(),
                order: None,
            });
        }
        let m = match e {
            Expr::Paren(p) => return self.eval_steps(&p.expr),
            Expr::Unary(u) => {
                let mut m = self.eval_steps(&u.expr)?;
                if u.negate {
                    for s in &mut m.series {
                        s.drop_name = true;
                        for v in s.values.iter_mut().flatten() {
                            *v = -*v;
                        }
                    }
                }
                return Ok(m);
            }
            Expr::Binary(b) => {
                let Some((vector, scalar, swap)) = scalar_operand(b) else {
                    return err("not evaluable over whole ranges");
                };
                let mut m = self.eval_steps(vector)?;
                let scalars = (0..self.steps())
                    .map(|k| self.eval_scalar(scalar, self.step_time(k)))
                    .collect::<Result<Vec<f64>>>()?;
                let drop = scalar_op_drops_name(b);
                for s in &mut m.series {
                    s.drop_name |= drop;
                    for (v, &scalar) in s.values.iter_mut().zip(&scalars) {
                        if let Some(x) = *v {
                            *v = scalar_op(b, x, scalar, swap);
                        }
                    }
                }
                m
            }
            Expr::Call(c) if c.func.per_sample().is_some() => {
                let f = c.func.per_sample().expect("checked");
                let mut m = self.eval_steps(&c.args[0])?;
                for s in &mut m.series {
                    s.drop_name = true;
                    for v in s.values.iter_mut().flatten() {
                        *v = f(*v);
                    }
                }
                return Ok(m);
            }
            Expr::Aggregate(a) => match self.source(&a.expr)? {
                Some(source) => self.aggregate_source(a, &source)?,
                None => {
                    let input = self.eval_steps(&a.expr)?;
                    self.aggregate_steps(a, input)?
                }
            },
            _ => match self.source(e)? {
                Some(source) => self.materialize(&source)?,
                None => return err("not evaluable over whole ranges"),
            },
        };
        self.count_samples(m.present())?;
        Ok(m)
    }

    /// A selector or plain range function as a [`Source`].
    fn source(&mut self, e: &Expr) -> Result<Option<Source>> {
        let steps = self.steps();
        let (vs, range, call) = match e {
            Expr::Paren(p) => return self.source(&p.expr),
            Expr::VectorSelector(vs) if !vs.smoothed => (vs, None, None),
            Expr::Call(c) => match plain_range_call(c) {
                Some((ms, params, arg)) => (
                    &ms.selector,
                    Some(self.duration(&ms.range)),
                    Some((c, params, arg.span())),
                ),
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
        // Where each step reads: the window's end, after `@` and offset.
        let ends: Vec<i64> = (0..steps)
            .map(|k| self.base_time(vs.at, vs.offset.as_ref(), self.step_time(k)))
            .collect();
        let (first, last) = (ends[0], ends[steps - 1]);
        let reach = range.unwrap_or(self.lookback);
        let selector = self
            .planned(vs, first.min(last).saturating_sub(reach), first.max(last))?
            .ok_or_else(|| Error::Eval("selector missing from the query plan".into()))?;
        Ok(Some(Source {
            selector,
            ends,
            function: call.zip(range).and_then(|((c, params, span), range)| {
                Some(RangeFunction {
                    f: c.func.get().range_fn()?,
                    range,
                    sliding_quantile: c.func.name == "quantile_over_time",
                    params,
                    span,
                })
            }),
        }))
    }

    /// Every series `j` of `source` with a value at some step, in order,
    /// handed to `each` with its values. The windows of a batch of series
    /// are computed over every core (see [`parallel`]), then the batch's
    /// annotations and `each` run here in series order, so the result is
    /// that of one sequential pass.
    fn for_each_source_series(
        &mut self,
        source: &Source,
        mut each: impl FnMut(&mut Self, &LoadedSeries, Vec<Option<f64>>) -> Result<()>,
    ) -> Result<()> {
        // Taken out meanwhile so annotations can be added.
        let loaded = self.selectors[source.selector]
            .loaded
            .take()
            .expect("planned");
        let result = self.source_batches(source, &loaded, &mut each);
        self.selectors[source.selector].loaded = Some(loaded);
        result
    }

    fn source_batches(
        &mut self,
        source: &Source,
        loaded: &[LoadedSeries],
        each: &mut impl FnMut(&mut Self, &LoadedSeries, Vec<Option<f64>>) -> Result<()>,
    ) -> Result<()> {
        let steps = source.ends.len().max(1);
        // A batch holds about a million values at once.
        let batch = ((1 << 20) / steps).clamp(16, 4096);
        let mut noted = Vec::new();
        let span = Span {
            start: self.start,
            step: self.step,
            lookback: self.lookback,
        };
        for run in loaded.chunks(batch) {
            self.check_deadline()?;
            // Each point is read by every window that holds it.
            let reads = source.function.as_ref().map_or(1, |f| {
                usize::try_from(f.range / self.step.max(1)).map_or(1, |n| n.max(1))
            });
            let work: usize = run
                .iter()
                .map(|s| s.points.len().saturating_mul(reads) + steps)
                .fold(0, usize::saturating_add);
            let (cancel, deadline) = (&self.cancel, self.deadline);
            let computed = parallel::map_in_order(run.iter().collect(), work, |s| -> Result<_> {
                check_deadline(cancel, deadline)?;
                let mut values = Vec::with_capacity(steps);
                let flags = series_values(s, source, span, &mut values)?;
                Ok((values, flags))
            });
            for (s, computed) in run.iter().zip(computed) {
                let (values, (any, overlapped)) = computed?;
                if let Some(f) = &source.function {
                    // Once per series: the same for every step.
                    range_annotations(self, f.f, &s.labels, any, overlapped, f.span, &mut noted);
                }
                if any {
                    each(self, s, values)?;
                }
            }
        }
        Ok(())
    }

    fn source_labels(source: &Source, s: &LoadedSeries) -> (Labels, bool) {
        let drop = source.function.as_ref().is_some_and(|f| !f.f.keeps_name);
        (Arc::clone(&s.labels), drop)
    }

    /// Every series of `source` with a value at some step.
    fn materialize(&mut self, source: &Source) -> Result<StepMatrix> {
        let mut out = Vec::new();
        self.for_each_source_series(source, |_, s, values| {
            let (labels, drop_name) = Self::source_labels(source, s);
            out.push(StepSeries {
                labels,
                drop_name,
                values,
            });
            Ok(())
        })?;
        Ok(StepMatrix {
            series: out,
            order: None,
        })
    }

    /// A value aggregation straight over a source, one input series at a
    /// time: no input matrix is built, each group keeps one accumulator
    /// per step.
    fn aggregate_source(&mut self, a: &AggregateExpr, source: &Source) -> Result<StepMatrix> {
        let steps = self.steps();
        let mut grouping = a.grouping.clone();
        grouping.sort();
        let mut index: FxHashMap<usize, u32> = FxHashMap::default();
        let mut groups: Vec<StepSeries> = Vec::new();
        let mut state: Vec<Accumulator> = Vec::new();
        let mut touched: Vec<bool> = Vec::new();
        let mut order: Vec<Vec<u32>> = vec![Vec::new(); steps];
        let cache_key = a as *const AggregateExpr as usize;
        self.for_each_source_series(source, |this, s, values| {
            let (labels, drop_name) = Self::source_labels(source, s);
            let cache = this.groupings.entry(cache_key).or_default();
            let key = cache.group(&labels, &grouping, a.without);
            let address = Arc::as_ptr(&key) as usize;
            if !index.contains_key(&address) {
                // Every group holds an accumulator per step.
                this.count_samples((groups.len() + 1).saturating_mul(steps))?;
            }
            let g = *index.entry(address).or_insert_with(|| {
                groups.push(StepSeries {
                    labels: key,
                    drop_name: false,
                    values: Vec::new(),
                });
                state.resize(state.len() + steps, Accumulator::default());
                touched.resize(touched.len() + steps, false);
                (groups.len() - 1) as u32
            });
            groups[g as usize].drop_name |= drop_name;
            let base = g as usize * steps;
            for (k, v) in values.iter().enumerate() {
                let Some(v) = *v else { continue };
                if !touched[base + k] {
                    touched[base + k] = true;
                    order[k].push(g);
                }
                state[base + k].add(a.op, v);
            }
            Ok(())
        })?;
        for (g, group) in groups.iter_mut().enumerate() {
            let base = g * steps;
            group.values = (0..steps)
                .map(|k| touched[base + k].then(|| state[base + k].result(a.op)))
                .collect();
        }
        Ok(StepMatrix {
            series: groups,
            order: Some(order),
        })
    }

    fn aggregate_steps(&mut self, a: &AggregateExpr, input: StepMatrix) -> Result<StepMatrix> {
        let mut grouping = a.grouping.clone();
        grouping.sort();
        let steps = self.steps();
        let cache = self
            .groupings
            .entry(a as *const AggregateExpr as usize)
            .or_default();
        // Each input series' group, decided once for the whole range.
        let mut index: FxHashMap<usize, u32> = FxHashMap::default();
        let mut out: Vec<StepSeries> = Vec::new();
        let members: Vec<u32> = input
            .series
            .iter()
            .map(|s| {
                let key = cache.group(&s.labels, &grouping, a.without);
                let g = *index.entry(Arc::as_ptr(&key) as usize).or_insert_with(|| {
                    out.push(StepSeries {
                        labels: key,
                        drop_name: false,
                        values: vec![None; steps],
                    });
                    (out.len() - 1) as u32
                });
                out[g as usize].drop_name |= s.drop_name;
                g
            })
            .collect();
        let mut state = vec![Accumulator::default(); out.len()];
        let mut touched = vec![false; out.len()];
        let mut order = Vec::with_capacity(steps);
        for k in 0..steps {
            if k % 64 == 0 {
                self.check_deadline()?;
            }
            let mut present: Vec<u32> = Vec::new();
            let mut visit = |i: usize| {
                if let Some(v) = input.series[i].values[k] {
                    let g = members[i] as usize;
                    if !touched[g] {
                        touched[g] = true;
                        present.push(g as u32);
                    }
                    state[g].add(a.op, v);
                }
            };
            match &input.order {
                Some(o) => o[k].iter().for_each(|&i| visit(i as usize)),
                None => (0..input.series.len()).for_each(visit),
            }
            for &g in &present {
                let g = g as usize;
                out[g].values[k] = Some(state[g].result(a.op));
                state[g] = Accumulator::default();
                touched[g] = false;
            }
            order.push(present);
        }
        Ok(StepMatrix {
            series: out,
            order: Some(order),
        })
    }

    /// A whole range query answered from [`Evaluator::eval_steps`]: the
    /// series with their names dropped where marked, sorted by labels.
    pub(crate) fn range_result(&mut self, m: StepMatrix) -> Result<Vec<value::Series>> {
        // The loaded selectors are done with: dropping them now leaves the
        // result the only owner of its label sets, which are then moved
        // rather than copied.
        self.release_selectors();
        let mut all: Vec<(Vec<Label>, Vec<Option<f64>>)> = Vec::with_capacity(m.series.len());
        for mut s in m.series {
            if s.values.iter().all(Option::is_none) {
                continue;
            }
            if s.drop_name {
                drop_name(&mut s.labels);
            }
            all.push((Arc::unwrap_or_clone(s.labels), s.values));
        }
        // Sorted (stably) by labels, the series whose label sets collided
        // once names were dropped are neighbours: merged, or an error at
        // any step both are present.
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let mut merged: Vec<(Vec<Label>, Vec<Option<f64>>)> = Vec::with_capacity(all.len());
        for (labels, values) in all {
            match merged.last_mut() {
                Some((last, into)) if *last == labels => {
                    for (a, b) in into.iter_mut().zip(values) {
                        if b.is_some() {
                            if a.is_some() {
                                return err("vector cannot contain metrics with the same labelset");
                            }
                            *a = b;
                        }
                    }
                }
                _ => merged.push((labels, values)),
            }
        }
        let out: Vec<value::Series> = merged
            .into_iter()
            .map(|(labels, values)| {
                // One allocation per series, of the exact size.
                let mut points = Vec::with_capacity(values.iter().filter(|v| v.is_some()).count());
                points.extend(values.into_iter().enumerate().filter_map(|(k, v)| {
                    Some(Point {
                        t: self.step_time(k),
                        value: SampleValue::Float(v?),
                    })
                }));
                value::Series { labels, points }
            })
            .collect();
        Ok(out)
    }
}
