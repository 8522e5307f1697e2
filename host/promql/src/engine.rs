//! The PromQL engine: evaluates a parsed expression against a
//! [`Queryable`] with Prometheus 3 semantics (left-open lookback and range
//! windows, staleness, delayed `__name__` removal), step by step.
//!
//! Every step of a range query is evaluated like an instant query at that
//! time and the results are joined into series by label set afterwards;
//! that is what Prometheus' engine computes too, only less cleverly, so
//! correctness comes first and batching can follow without changing
//! results.

mod aggregate;
mod at_variant;
mod binary;
mod parallel;
mod select;
mod steps;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration as StdDuration, Instant};

use rustc_hash::FxHashMap;
use wasmetheus_model::Label;
use wasmetheus_model::storage::Queryable;

use crate::ast::{AtModifier, Duration, Expr, Span, VectorSelector};
use crate::parser;
use crate::value::{self, Annotations, Point, SampleValue, Value};

pub use crate::eval_types::Error;
pub use at_variant::at_modifier_variant;

use crate::eval_types::{
    RangeSeries, Result, Sample, Selected, Val, any_histogram, check_unique, err, unsupported,
};
use crate::functions::{self, Context};
use crate::labels::{Labels, drop_name, stable_address};

/// Engine settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// How far back an instant selector looks for a sample (default 5m).
    pub lookback_delta: StdDuration,
    /// The most samples one query may hold at a time.
    pub max_samples: usize,
    /// How long one query may run.
    pub timeout: StdDuration,
    /// The step of subqueries written without one (`[10m:]`).
    pub default_subquery_step: StdDuration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            lookback_delta: StdDuration::from_secs(300),
            max_samples: 50_000_000,
            timeout: StdDuration::from_secs(120),
            default_subquery_step: StdDuration::from_secs(60),
        }
    }
}

/// The PromQL engine.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    pub options: Options,
    pool: PointPool,
}

/// Point buffers of finished queries, handed to the next ones (Prometheus
/// pools its point slices too): reading a selector then reuses memory that
/// is already mapped instead of faulting in fresh pages every query.
#[derive(Debug, Clone, Default)]
struct PointPool(Arc<std::sync::Mutex<PooledPoints>>);

#[derive(Debug, Default)]
struct PooledPoints {
    buffers: Vec<Vec<(i64, f64)>>,
    /// Their total capacity, in points.
    points: usize,
}

impl PointPool {
    /// The most points kept for reuse (64 MiB).
    const LIMIT: usize = 4 << 20;

    fn take(&self) -> Vec<(i64, f64)> {
        let mut pool = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match pool.buffers.pop() {
            Some(buffer) => {
                pool.points -= buffer.capacity();
                buffer
            }
            None => Vec::new(),
        }
    }

    fn give(&self, buffers: impl IntoIterator<Item = Vec<(i64, f64)>>) {
        let mut pool = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for mut buffer in buffers {
            if buffer.capacity() == 0 || pool.points + buffer.capacity() > Self::LIMIT {
                continue;
            }
            buffer.clear();
            pool.points += buffer.capacity();
            pool.buffers.push(buffer);
        }
    }
}

/// Stops a running query from another thread (a client that went away, a
/// server shutting down): the query returns [`Error::Canceled`] at its next
/// check, between steps and between series.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_canceled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl Engine {
    pub fn new(options: Options) -> Self {
        Engine {
            options,
            pool: PointPool::default(),
        }
    }

    /// An instant query at `t` (ms).
    pub fn query_instant(
        &self,
        storage: &dyn Queryable,
        query: &str,
        t: i64,
    ) -> Result<(Value, Annotations)> {
        self.query_instant_with(storage, query, t, &Cancel::new())
    }

    /// [`query_instant`](Self::query_instant) that `cancel` can stop.
    pub fn query_instant_with(
        &self,
        storage: &dyn Queryable,
        query: &str,
        t: i64,
        cancel: &Cancel,
    ) -> Result<(Value, Annotations)> {
        let expr = parser::parse(query)?;
        with_stack_for(&expr, || self.instant(storage, query, &expr, t, cancel))
    }

    fn instant(
        &self,
        storage: &dyn Queryable,
        query: &str,
        expr: &Expr,
        t: i64,
        cancel: &Cancel,
    ) -> Result<(Value, Annotations)> {
        let mut ev = Evaluator::new(self, storage, query, t, t, 0);
        ev.cancel = cancel.clone();
        ev.plan(expr, t, t, true);
        let val = ev.eval(expr, t)?;
        let out = match val {
            Val::Scalar(v) => Value::Scalar(t, v),
            Val::Str(s) => Value::String(t, s),
            Val::Vector(samples) => {
                let samples = finish_vector(samples)?;
                Value::Vector(
                    samples
                        .into_iter()
                        .map(|s| value::Sample {
                            labels: Arc::unwrap_or_clone(s.labels),
                            t,
                            value: sample_value(s.v, s.h),
                        })
                        .collect(),
                )
            }
            Val::Matrix(series, ..) => {
                let mut out: Vec<value::Series> = series
                    .into_iter()
                    .map(|mut s| {
                        if s.drop_name {
                            drop_name(&mut s.labels);
                        }
                        value::Series {
                            labels: Arc::unwrap_or_clone(s.labels),
                            points: series_points(s.points, s.histograms),
                        }
                    })
                    .collect();
                out.sort_by(|a, b| a.labels.cmp(&b.labels));
                if out.windows(2).any(|w| w[0].labels == w[1].labels) {
                    return err("vector cannot contain metrics with the same labelset");
                }
                Value::Matrix(out)
            }
        };
        Ok((out, std::mem::take(&mut ev.annotations)))
    }

    /// A range query over `[start, end]` every `step` (all ms).
    pub fn query_range(
        &self,
        storage: &dyn Queryable,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<(Value, Annotations)> {
        self.query_range_with(storage, query, start, end, step, &Cancel::new())
    }

    /// [`query_range`](Self::query_range) that `cancel` can stop.
    pub fn query_range_with(
        &self,
        storage: &dyn Queryable,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        cancel: &Cancel,
    ) -> Result<(Value, Annotations)> {
        let expr = parser::parse(query)?;
        match expr.value_type() {
            crate::ast::ValueType::Vector | crate::ast::ValueType::Scalar => {}
            other => {
                return Err(Error::Invalid(format!(
                    "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                    other.documented()
                )));
            }
        }
        if step <= 0 {
            return err(
                "zero or negative query resolution step widths are not accepted. Try a positive integer",
            );
        }
        with_stack_for(&expr, || {
            self.range(storage, query, &expr, (start, end, step), cancel)
        })
    }

    fn range(
        &self,
        storage: &dyn Queryable,
        query: &str,
        expr: &Expr,
        (start, end, step): (i64, i64, i64),
        cancel: &Cancel,
    ) -> Result<(Value, Annotations)> {
        let mut ev = Evaluator::new(self, storage, query, start, end, step);
        ev.cancel = cancel.clone();
        ev.plan(expr, start, end, true);
        if steps::supported(expr) && !ev.reads_histograms(expr)? {
            let m = ev.eval_steps(expr)?;
            let series = ev.range_result(m)?;
            return Ok((Value::Matrix(series), std::mem::take(&mut ev.annotations)));
        }
        let mut out = RangeResult {
            max_samples: self.options.max_samples,
            ..RangeResult::default()
        };
        let mut t = start;
        while t <= end {
            ev.check_deadline()?;
            match ev.eval(expr, t)? {
                Val::Scalar(v) => out.push_scalar(t, v),
                Val::Vector(samples) => out.push_vector(t, samples)?,
                other => {
                    return err(format!(
                        "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                        other.type_name()
                    ));
                }
            }
            // Timestamps are ms: saturating keeps absurd `@`/offset
            // values an empty result instead of an overflow.
            let Some(next) = t.checked_add(step) else {
                break;
            };
            t = next;
        }
        Ok((
            Value::Matrix(out.finish()),
            std::mem::take(&mut ev.annotations),
        ))
    }
}

/// The deepest expression evaluated on the caller's thread. Evaluation
/// recurses once per level of the expression, with frames of up to
/// ~20 KiB each in a debug build; at this depth that stays well inside the
/// 2 MiB stack of a spawned thread.
const INLINE_DEPTH: usize = 32;
/// Stack reserved per level of a deeper expression (pages are only
/// committed as they are touched).
const STACK_PER_LEVEL: usize = 64 << 10;

/// Runs `f`, the evaluation of `expr`, on this thread, or for an
/// expression nested deeper than [`INLINE_DEPTH`] on a thread whose stack
/// fits it (up to [`parser::MAX_DEPTH`] levels, ~32 MiB of address space).
fn with_stack_for<T: Send>(expr: &Expr, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    let depth = expr.depth();
    if depth <= INLINE_DEPTH {
        return f();
    }
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("promql-deep".into())
            .stack_size((1 << 20) + depth * STACK_PER_LEVEL)
            .spawn_scoped(scope, f);
        match thread {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(e) => err(format!(
                "cannot start a thread to evaluate an expression nested {depth} levels deep: {e}"
            )),
        }
    })
}

/// The series of a range query's result, assembled step by step.
///
/// A step's samples mostly carry the same shared label sets as the step
/// before (a selector's, an aggregation's interned group), so each is
/// found by the address of its label set first and by the labels only
/// when that address is new.
#[derive(Default)]
struct RangeResult {
    /// Shared label set (kept alive so the address stays unique) and
    /// whether its name is dropped → output series.
    by_address: FxHashMap<(usize, bool), (Labels, usize)>,
    by_labels: HashMap<Vec<Label>, usize>,
    series: Vec<value::Series>,
    /// Points so far, against the sample limit: the result is held whole.
    points: usize,
    max_samples: usize,
}

impl RangeResult {
    fn push_scalar(&mut self, t: i64, v: f64) {
        if self.series.is_empty() {
            self.series.push(value::Series {
                labels: Vec::new(),
                points: Vec::new(),
            });
        }
        self.series[0].points.push(Point {
            t,
            value: SampleValue::Float(v),
        });
    }

    fn push_vector(&mut self, t: i64, samples: Vec<Sample>) -> Result<()> {
        for s in samples {
            let address = stable_address(&s.labels);
            let key = (address.unwrap_or(0), s.drop_name);
            let index = match self.by_address.get(&key) {
                Some(&(_, i)) if address.is_some() => i,
                _ => {
                    let mut labels = Arc::clone(&s.labels);
                    if s.drop_name {
                        drop_name(&mut labels);
                    }
                    let i = match self.by_labels.get(labels.as_slice()) {
                        Some(&i) => i,
                        None => {
                            let i = self.series.len();
                            self.by_labels.insert(labels.as_ref().clone(), i);
                            self.series.push(value::Series {
                                labels: Arc::unwrap_or_clone(labels),
                                points: Vec::new(),
                            });
                            i
                        }
                    };
                    if address.is_some() {
                        self.by_address.insert(key, (s.labels, i));
                    }
                    i
                }
            };
            let points = &mut self.series[index].points;
            // Two samples of one step in one series: their label sets
            // collided once names were dropped.
            if points.last().is_some_and(|p| p.t == t) {
                return err("vector cannot contain metrics with the same labelset");
            }
            points.push(Point {
                t,
                value: sample_value(s.v, s.h),
            });
            self.points += 1;
            if self.points > self.max_samples {
                return Err(Error::TooManySamples);
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Vec<value::Series> {
        self.series.sort_by(|a, b| a.labels.cmp(&b.labels));
        self.series
    }
}

/// A result value: the histogram if there is one, else the float.
fn sample_value(v: f64, h: Option<Arc<value::Histogram>>) -> SampleValue {
    match h {
        Some(h) => SampleValue::Histogram(Box::new(Arc::unwrap_or_clone(h))),
        None => SampleValue::Float(v),
    }
}

/// A range vector's float and histogram points as one list in time order.
fn series_points(
    floats: Vec<(i64, f64)>,
    histograms: Vec<(i64, Arc<value::Histogram>)>,
) -> Vec<Point> {
    let mut points: Vec<Point> = floats
        .into_iter()
        .map(|(t, v)| Point {
            t,
            value: SampleValue::Float(v),
        })
        .chain(histograms.into_iter().map(|(t, h)| Point {
            t,
            value: sample_value(0.0, Some(h)),
        }))
        .collect();
    points.sort_by_key(|p| p.t);
    points
}

/// Drops the names marked for removal and rejects duplicate label sets
/// (Prometheus' `cleanupMetricLabels`).
fn finish_vector(mut samples: Vec<Sample>) -> Result<Vec<Sample>> {
    for s in &mut samples {
        if s.drop_name {
            drop_name(&mut s.labels);
            s.drop_name = false;
        }
    }
    check_unique(&samples)?;
    Ok(samples)
}

/// The evaluation of one query.
pub(crate) struct Evaluator<'a> {
    storage: &'a dyn Queryable,
    query: &'a str,
    /// Query start, end and step (ms; step 0 for instant queries).
    start: i64,
    end: i64,
    step: i64,
    lookback: i64,
    subquery_step: i64,
    max_samples: usize,
    deadline: Instant,
    cancel: Cancel,
    pool: PointPool,
    /// The query's selectors, each read once over every time the query
    /// evaluates it (Prometheus' `populateSeries`).
    selectors: Vec<select::PlannedSelector>,
    /// Emptied point buffers of range vectors already consumed, reused
    /// for the next step's instead of allocating anew.
    pub(crate) spare_points: Vec<Vec<(i64, f64)>>,
    pub annotations: Annotations,
    /// Subexpressions computed for the whole range at once (address →
    /// result once computed), served one step at a time.
    whole_range: FxHashMap<usize, Option<steps::StepMatrix>>,
    /// Per vector/vector operator node: interned signatures and results.
    binaries: FxHashMap<usize, binary::BinaryCache>,
    /// Per aggregation node: interned group label sets.
    pub(crate) groupings: FxHashMap<usize, aggregate::GroupCache>,
    /// The function whose arguments are being evaluated, if it does not
    /// take native histograms: a histogram there is refused.
    histogram_guard: Option<&'static str>,
}

/// [`Error::Canceled`] or [`Error::Timeout`] once the query is to stop;
/// what worker threads check, without the evaluator.
fn check_deadline(cancel: &Cancel, deadline: Instant) -> Result<()> {
    if cancel.is_canceled() {
        return Err(Error::Canceled);
    }
    if Instant::now() > deadline {
        return Err(Error::Timeout);
    }
    Ok(())
}

impl Drop for Evaluator<'_> {
    fn drop(&mut self) {
        self.release_selectors();
    }
}

impl<'a> Evaluator<'a> {
    /// Hands the point buffers of every loaded selector (and the spare
    /// ones) back to the engine's pool; a selector read after this reads
    /// storage again.
    fn release_selectors(&mut self) {
        let loaded = self
            .selectors
            .iter_mut()
            .filter_map(|p| p.loaded.take())
            .flatten()
            .map(|s| s.points);
        self.pool.give(loaded.chain(self.spare_points.drain(..)));
    }

    fn new(
        engine: &Engine,
        storage: &'a dyn Queryable,
        query: &'a str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Self {
        let o = &engine.options;
        Evaluator {
            storage,
            query,
            start,
            end,
            step,
            lookback: o.lookback_delta.as_millis() as i64,
            subquery_step: o.default_subquery_step.as_millis() as i64,
            max_samples: o.max_samples,
            deadline: Instant::now() + o.timeout,
            cancel: Cancel::new(),
            pool: engine.pool.clone(),
            selectors: Vec::new(),
            whole_range: FxHashMap::default(),
            binaries: FxHashMap::default(),
            spare_points: Vec::new(),
            annotations: Annotations::default(),
            groupings: FxHashMap::default(),
            histogram_guard: None,
        }
    }

    /// Works out, for every selector in `e` evaluated at times in
    /// `[lo, hi]`, the window of samples it can read, so that each is
    /// selected from storage once instead of once per step.
    ///
    /// `top` says `e` is evaluated at the query's own steps (it is in no
    /// subquery): in a range query its whole-range subexpressions are then
    /// computed at once ([`steps`]) and served step by step.
    fn plan(&mut self, e: &Expr, lo: i64, hi: i64, top: bool) {
        if top
            && self.step != 0
            && matches!(e, Expr::Aggregate(_) | Expr::Call(_) | Expr::Binary(_))
            && steps::supported(e)
        {
            self.whole_range.insert(e as *const Expr as usize, None);
        }
        let shifted = |ev: &Self, at: Option<AtModifier>, offset: Option<&Duration>| {
            (ev.base_time(at, offset, lo), ev.base_time(at, offset, hi))
        };
        // A selector read at the query's own steps, each time over the
        // window `(t − reach, t]` alone: storage may skip what lies between
        // those windows (`SelectHints::window`). Not under `@` (one time
        // for every step), in a subquery (its own steps) or for
        // `anchored`/`smoothed` (they read around the window).
        let stepped = |vs: &VectorSelector, reach: i64| {
            let plain = top && self.step != 0 && vs.at.is_none() && !vs.anchored && !vs.smoothed;
            if plain { reach } else { 0 }
        };
        match e {
            Expr::VectorSelector(vs) => {
                let (a, b) = shifted(self, vs.at, vs.offset.as_ref());
                let after = if vs.smoothed { self.lookback } else { 0 };
                let window = stepped(vs, self.lookback);
                self.plan_selector(
                    vs,
                    (a.saturating_sub(self.lookback), b.saturating_add(after)),
                    0,
                    window,
                );
            }
            Expr::MatrixSelector(ms) => {
                let vs = &ms.selector;
                let (a, b) = shifted(self, vs.at, vs.offset.as_ref());
                let range = self.duration(&ms.range);
                let extended = vs.anchored || vs.smoothed;
                let before = range.saturating_add(if extended { self.lookback } else { 0 });
                let after = if vs.smoothed { self.lookback } else { 0 };
                let window = stepped(vs, range);
                self.plan_selector(
                    vs,
                    (a.saturating_sub(before), b.saturating_add(after)),
                    range,
                    window,
                );
            }
            Expr::Subquery(sq) => {
                let (a, b) = shifted(self, sq.at, sq.offset.as_ref());
                let range = self.duration(&sq.range);
                self.plan(&sq.expr, a.saturating_sub(range), b, false);
            }
            Expr::Paren(p) => self.plan(&p.expr, lo, hi, top),
            Expr::Unary(u) => self.plan(&u.expr, lo, hi, top),
            Expr::Binary(b) => {
                self.plan(&b.lhs, lo, hi, top);
                self.plan(&b.rhs, lo, hi, top);
            }
            Expr::Aggregate(a) => {
                if let Some(p) = &a.param {
                    self.plan(p, lo, hi, top);
                }
                self.plan(&a.expr, lo, hi, top);
            }
            Expr::Call(c) => {
                for arg in &c.args {
                    self.plan(arg, lo, hi, top);
                }
            }
            Expr::Number(_) | Expr::String(_) => {}
        }
    }

    /// Stops the query once it is canceled or past its deadline.
    fn check_deadline(&self) -> Result<()> {
        check_deadline(&self.cancel, self.deadline)
    }

    /// `line:col` of a node, as annotations cite it.
    fn position(&self, span: Span) -> String {
        let before = self.query.get(..span.start).unwrap_or(self.query);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        format!("{line}:{col}")
    }

    pub fn warn(&mut self, text: impl AsRef<str>, span: Span) {
        let msg = format!(
            "PromQL warning: {} ({})",
            text.as_ref(),
            self.position(span)
        );
        if !self.annotations.warnings.contains(&msg) {
            self.annotations.warnings.push(msg);
        }
    }

    pub fn info(&mut self, text: impl AsRef<str>, span: Span) {
        let msg = format!("PromQL info: {} ({})", text.as_ref(), self.position(span));
        if !self.annotations.infos.contains(&msg) {
            self.annotations.infos.push(msg);
        }
    }

    /// A range, step or offset in ms.
    pub fn duration(&self, d: &Duration) -> i64 {
        match d {
            Duration::Millis(ms) => *ms,
            Duration::Expr(e) => {
                let secs = e.eval(
                    self.step as f64 / 1000.0,
                    (self.end - self.start) as f64 / 1000.0,
                );
                (secs * 1000.0).round() as i64
            }
        }
    }

    /// The time a selector or subquery reads at: `@` or the step time,
    /// minus the offset.
    pub(crate) fn base_time(
        &self,
        at: Option<AtModifier>,
        offset: Option<&Duration>,
        t: i64,
    ) -> i64 {
        let at = match at {
            Some(AtModifier::Timestamp(ms)) => ms,
            Some(AtModifier::Start) => self.start,
            Some(AtModifier::End) => self.end,
            None => t,
        };
        at.saturating_sub(offset.map_or(0, |d| self.duration(d)))
    }

    fn count_samples(&self, n: usize) -> Result<()> {
        if n > self.max_samples {
            return Err(Error::TooManySamples);
        }
        Ok(())
    }

    /// Evaluates `e` at `t` (ms).
    pub fn eval(&mut self, e: &Expr, t: i64) -> Result<Val> {
        match e {
            Expr::Number(n) => Ok(Val::Scalar(n.val)),
            Expr::String(s) => Ok(Val::Str(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, t),
            Expr::VectorSelector(vs) => Ok(Val::Vector(self.vector_selector(vs, t)?)),
            Expr::MatrixSelector(ms) => {
                let vs = &ms.selector;
                let maxt = self.base_time(vs.at, vs.offset.as_ref(), t);
                let range = self.duration(&ms.range);
                let mint = maxt.saturating_sub(range);
                let series = self.range_selector(vs, mint, maxt, range)?;
                Ok(Val::Matrix(series, mint, maxt))
            }
            Expr::Subquery(sq) => {
                self.check_deadline()?;
                let maxt = self.base_time(sq.at, sq.offset.as_ref(), t);
                let range = self.duration(&sq.range);
                let step = sq
                    .step
                    .as_ref()
                    .map_or(self.subquery_step, |d| self.duration(d));
                if step <= 0 {
                    return err("subquery step must be positive");
                }
                let mint = maxt.saturating_sub(range);
                // The first step-aligned time after `mint`, with Go's
                // truncating division as Prometheus computes it.
                let mut ts = step * (mint / step);
                if ts <= mint {
                    ts = ts.saturating_add(step);
                }
                let mut series: HashMap<Labels, RangeSeries> = HashMap::new();
                let mut order = Vec::new();
                let mut count = 0usize;
                while ts <= maxt {
                    self.check_deadline()?;
                    match self.eval(&sq.expr, ts)? {
                        Val::Scalar(v) => {
                            let entry = series.entry(Labels::default()).or_insert_with(|| {
                                order.push(Labels::default());
                                RangeSeries {
                                    histograms: Vec::new(),
                                    labels: Labels::default(),
                                    points: Vec::new(),
                                    start_timestamps: None,
                                    drop_name: false,
                                }
                            });
                            entry.points.push((ts, v));
                            count += 1;
                        }
                        Val::Vector(samples) => {
                            for s in samples {
                                let entry = series.entry(s.labels.clone()).or_insert_with(|| {
                                    order.push(s.labels.clone());
                                    RangeSeries {
                                        histograms: Vec::new(),
                                        labels: s.labels.clone(),
                                        points: Vec::new(),
                                        start_timestamps: None,
                                        drop_name: false,
                                    }
                                });
                                entry.drop_name |= s.drop_name;
                                match s.h {
                                    Some(h) => entry.histograms.push((ts, h)),
                                    None => entry.points.push((ts, s.v)),
                                }
                                count += 1;
                            }
                        }
                        other => {
                            return err(format!(
                                "subquery over a {} is not supported",
                                other.type_name()
                            ));
                        }
                    }
                    if count > self.max_samples {
                        return Err(Error::TooManySamples);
                    }
                    let Some(next) = ts.checked_add(step) else {
                        break;
                    };
                    ts = next;
                }
                let mut out: Vec<RangeSeries> = order
                    .into_iter()
                    .filter_map(|l| series.remove(&l))
                    .collect();
                out.sort_by(|a, b| a.labels.cmp(&b.labels));
                Ok(Val::Matrix(out, mint, maxt))
            }
            Expr::Unary(u) => {
                let v = self.eval(&u.expr, t)?;
                if !u.negate {
                    return Ok(v);
                }
                match v {
                    Val::Scalar(v) => Ok(Val::Scalar(-v)),
                    Val::Vector(mut samples) => {
                        for s in &mut samples {
                            s.v = -s.v;
                            if let Some(h) = &s.h {
                                s.h = Some(Arc::new(h.mul(-1.0)));
                            }
                            s.drop_name = true;
                        }
                        Ok(Val::Vector(samples))
                    }
                    other => err(format!("unary minus on a {}", other.type_name())),
                }
            }
            Expr::Binary(b) => match self.whole_range_step(e, t)? {
                Some(v) => Ok(Val::Vector(v)),
                None => self.binary(b, t),
            },
            Expr::Aggregate(a) => match self.whole_range_step(e, t)? {
                Some(v) => Ok(Val::Vector(v)),
                None => self.aggregate(a, t),
            },
            Expr::Call(c) => match self.whole_range_step(e, t)? {
                Some(v) => Ok(Val::Vector(v)),
                None => {
                    let guard = (!functions::takes_histograms(c)).then_some(c.func.name);
                    let outer = std::mem::replace(&mut self.histogram_guard, guard);
                    let result = functions::call(self, c, t);
                    self.histogram_guard = outer;
                    result
                }
            },
        }
    }

    /// `e` at step time `t`, if the plan computes it for the whole range.
    fn whole_range_step(&mut self, e: &Expr, t: i64) -> Result<Option<Vec<Sample>>> {
        let address = e as *const Expr as usize;
        let Some(computed) = self.whole_range.get(&address) else {
            return Ok(None);
        };
        if computed.is_none() && self.reads_histograms(e)? {
            // The whole-range path computes with floats only.
            self.whole_range.remove(&address);
            return Ok(None);
        }
        let Some(computed) = self.whole_range.get(&address) else {
            return Ok(None);
        };
        let offset = t.saturating_sub(self.start);
        if offset < 0 || offset % self.step != 0 || offset / self.step >= self.steps() as i64 {
            return Ok(None);
        }
        let k = (offset / self.step) as usize;
        if computed.is_none() {
            let m = self.eval_steps(e)?;
            self.whole_range.insert(address, Some(m));
        }
        let m = self.whole_range[&address].as_ref().expect("computed above");
        Ok(Some(m.vector_at(k, t)))
    }

    /// The time the samples of `e` evaluated at `t` come from: `t` moved
    /// by the `@` and offsets on the way to its (first) selector. `info()`
    /// reads the info series as of then.
    pub fn reference_time(&self, e: &Expr, t: i64) -> i64 {
        match e {
            Expr::VectorSelector(vs) => self.base_time(vs.at, vs.offset.as_ref(), t),
            Expr::MatrixSelector(ms) => {
                self.base_time(ms.selector.at, ms.selector.offset.as_ref(), t)
            }
            Expr::Subquery(sq) => {
                let end = self.base_time(sq.at, sq.offset.as_ref(), t);
                let step = sq
                    .step
                    .as_ref()
                    .map_or(self.subquery_step, |d| self.duration(d))
                    .max(1);
                let mut last = step * (end / step);
                if last > end {
                    last = last.saturating_sub(step);
                }
                self.reference_time(&sq.expr, last)
            }
            Expr::Paren(p) => self.reference_time(&p.expr, t),
            Expr::Unary(u) => self.reference_time(&u.expr, t),
            Expr::Aggregate(a) => self.reference_time(&a.expr, t),
            Expr::Binary(b) => {
                if b.lhs.value_type() == crate::ast::ValueType::Vector {
                    self.reference_time(&b.lhs, t)
                } else {
                    self.reference_time(&b.rhs, t)
                }
            }
            Expr::Call(c) => c
                .args
                .iter()
                .find(|a| {
                    matches!(
                        a.value_type(),
                        crate::ast::ValueType::Vector | crate::ast::ValueType::Matrix
                    )
                })
                .map_or(t, |a| self.reference_time(a, t)),
            Expr::Number(_) | Expr::String(_) => t,
        }
    }

    pub fn eval_scalar(&mut self, e: &Expr, t: i64) -> Result<f64> {
        match self.eval(e, t)? {
            Val::Scalar(v) => Ok(v),
            other => err(format!("expected a scalar, got a {}", other.type_name())),
        }
    }

    pub fn eval_vector(&mut self, e: &Expr, t: i64) -> Result<Vec<Sample>> {
        match self.eval(e, t)? {
            Val::Vector(v) => Ok(v),
            other => err(format!(
                "expected an instant vector, got a {}",
                other.type_name()
            )),
        }
    }

    pub fn eval_string(&mut self, e: &Expr, t: i64) -> Result<String> {
        match self.eval(e, t)? {
            Val::Str(v) => Ok(v),
            other => err(format!("expected a string, got a {}", other.type_name())),
        }
    }

    pub fn eval_matrix(&mut self, e: &Expr, t: i64) -> Result<(Vec<RangeSeries>, i64, i64)> {
        match self.eval(e, t)? {
            Val::Matrix(m, start, end) => Ok((m, start, end)),
            other => err(format!(
                "expected a range vector, got a {}",
                other.type_name()
            )),
        }
    }

    /// Returns a consumed range vector's point buffer for reuse.
    pub(crate) fn recycle(&mut self, mut points: Vec<(i64, f64)>) {
        // A bounded pool: one step's worth of series is what gets reused.
        if self.spare_points.len() < 100_000 {
            points.clear();
            self.spare_points.push(points);
        }
    }
}

/// What the functions ask of the evaluation: the evaluator's own methods.
impl Context for Evaluator<'_> {
    fn eval_scalar(&mut self, e: &Expr, t: i64) -> Result<f64> {
        Evaluator::eval_scalar(self, e, t)
    }

    fn eval_vector(&mut self, e: &Expr, t: i64) -> Result<Vec<Sample>> {
        let v = Evaluator::eval_vector(self, e, t)?;
        if let Some(name) = self.histogram_guard
            && any_histogram(&v)
        {
            return unsupported(&format!("{name}()"));
        }
        Ok(v)
    }

    fn eval_string(&mut self, e: &Expr, t: i64) -> Result<String> {
        Evaluator::eval_string(self, e, t)
    }

    fn eval_matrix(&mut self, e: &Expr, t: i64) -> Result<(Vec<RangeSeries>, i64, i64)> {
        let m = Evaluator::eval_matrix(self, e, t)?;
        if let Some(name) = self.histogram_guard
            && m.0.iter().any(|s| !s.histograms.is_empty())
        {
            return unsupported(&format!("{name}()"));
        }
        Ok(m)
    }

    fn query_start(&self) -> i64 {
        self.start
    }

    fn query_end(&self) -> i64 {
        self.end
    }

    fn query_step(&self) -> i64 {
        self.step
    }

    fn lookback(&self) -> i64 {
        self.lookback
    }

    fn warn(&mut self, text: &str, span: Span) {
        Evaluator::warn(self, text, span);
    }

    fn info(&mut self, text: &str, span: Span) {
        Evaluator::info(self, text, span);
    }

    fn duration(&self, d: &Duration) -> i64 {
        Evaluator::duration(self, d)
    }

    fn base_time(&self, at: Option<AtModifier>, offset: Option<&Duration>, t: i64) -> i64 {
        Evaluator::base_time(self, at, offset, t)
    }

    fn reference_time(&self, e: &Expr, t: i64) -> i64 {
        Evaluator::reference_time(self, e, t)
    }

    fn select(
        &mut self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
        range: i64,
    ) -> Result<Vec<Selected>> {
        Evaluator::select(self, vs, mint, maxt, range)
    }

    fn vector_selector(&mut self, vs: &VectorSelector, t: i64) -> Result<Vec<Sample>> {
        Evaluator::vector_selector(self, vs, t)
    }

    fn start_timestamps(&mut self, vs: &VectorSelector, t: i64) -> Result<Vec<Sample>> {
        Evaluator::start_timestamps(self, vs, t)
    }

    fn recycle(&mut self, points: Vec<(i64, f64)>) {
        Evaluator::recycle(self, points);
    }
}
