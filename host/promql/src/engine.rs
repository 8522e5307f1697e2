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

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration as StdDuration, Instant};

use wasmetheus_model::Label;
use wasmetheus_model::storage::{Queryable, SelectHints, is_stale_marker};

use crate::ast::{AtModifier, Duration, Expr, Span, VectorSelector};
use crate::parser;
use crate::promqltest::{self, EvalError};
use crate::value::{self, Annotations, Point, SampleValue, Value};

pub(crate) use aggregate::quantile;
pub use at_variant::at_modifier_variant;

/// Why a query failed; the texts are Prometheus'.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Parse(#[from] parser::ParseError),
    /// An evaluation error (`errorf` in Prometheus' engine).
    #[error("{0}")]
    Eval(String),
    #[error("query timed out in query execution")]
    Timeout,
    #[error("query processing would load too many samples into memory in query execution")]
    TooManySamples,
    #[error("{0}")]
    Storage(String),
}

pub(crate) type Result<T> = std::result::Result<T, Error>;

pub(crate) fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(Error::Eval(msg.into()))
}

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
}

/// One element of an instant vector while evaluating: labels still carry
/// `__name__` until the end, `drop_name` says whether it is to go then.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    pub labels: Vec<Label>,
    /// The sample's own timestamp (what `timestamp()` reports for a
    /// selector); the evaluation time elsewhere.
    pub t: i64,
    pub v: f64,
    pub drop_name: bool,
}

/// One series of a range vector while evaluating.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RangeSeries {
    pub labels: Vec<Label>,
    pub points: Vec<(i64, f64)>,
    pub drop_name: bool,
}

/// An intermediate value at one evaluation time.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Scalar(f64),
    Str(String),
    Vector(Vec<Sample>),
    /// A range vector and the window `(start, end]` it covers (functions
    /// such as `rate` extrapolate to the window's bounds).
    Matrix(Vec<RangeSeries>, i64, i64),
}

impl Val {
    fn type_name(&self) -> &'static str {
        match self {
            Val::Scalar(_) => "scalar",
            Val::Str(_) => "string",
            Val::Vector(_) => "vector",
            Val::Matrix(..) => "matrix",
        }
    }
}

impl Engine {
    pub fn new(options: Options) -> Self {
        Engine { options }
    }

    /// An instant query at `t` (ms).
    pub fn query_instant(
        &self,
        storage: &dyn Queryable,
        query: &str,
        t: i64,
    ) -> Result<(Value, Annotations)> {
        let expr = parser::parse(query)?;
        let mut ev = Evaluator::new(self, storage, query, t, t, 0);
        let val = ev.eval(&expr, t)?;
        let out = match val {
            Val::Scalar(v) => Value::Scalar(t, v),
            Val::Str(s) => Value::String(t, s),
            Val::Vector(samples) => {
                let samples = finish_vector(samples)?;
                Value::Vector(
                    samples
                        .into_iter()
                        .map(|s| value::Sample {
                            labels: s.labels,
                            t,
                            value: SampleValue::Float(s.v),
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
                            labels: s.labels,
                            points: s
                                .points
                                .into_iter()
                                .map(|(t, v)| Point {
                                    t,
                                    value: SampleValue::Float(v),
                                })
                                .collect(),
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
        Ok((out, ev.annotations))
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
        let expr = parser::parse(query)?;
        match expr.value_type() {
            crate::ast::ValueType::Vector | crate::ast::ValueType::Scalar => {}
            other => {
                return err(format!(
                    "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                    other.documented()
                ));
            }
        }
        if step <= 0 {
            return err(
                "zero or negative query resolution step widths are not accepted. Try a positive integer",
            );
        }
        let mut ev = Evaluator::new(self, storage, query, start, end, step);
        let mut series: BTreeMap<Vec<Label>, Vec<Point>> = BTreeMap::new();
        let mut t = start;
        while t <= end {
            ev.check_deadline()?;
            match ev.eval(&expr, t)? {
                Val::Scalar(v) => series.entry(Vec::new()).or_default().push(Point {
                    t,
                    value: SampleValue::Float(v),
                }),
                Val::Vector(samples) => {
                    for s in finish_vector(samples)? {
                        series.entry(s.labels).or_default().push(Point {
                            t,
                            value: SampleValue::Float(s.v),
                        });
                    }
                }
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
        let out = series
            .into_iter()
            .map(|(labels, points)| value::Series { labels, points })
            .collect();
        Ok((Value::Matrix(out), ev.annotations))
    }
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

pub(crate) fn check_unique(samples: &[Sample]) -> Result<()> {
    if samples.len() > 1 {
        let mut seen = std::collections::HashSet::with_capacity(samples.len());
        for s in samples {
            if !seen.insert(&s.labels) {
                return err("vector cannot contain metrics with the same labelset");
            }
        }
    }
    Ok(())
}

impl promqltest::Engine for Engine {
    fn instant(
        &self,
        storage: &dyn Queryable,
        expr: &str,
        t: i64,
    ) -> std::result::Result<(Value, Annotations), EvalError> {
        self.query_instant(storage, expr, t)
            .map_err(|e| EvalError::new(e.to_string()))
    }

    fn range(
        &self,
        storage: &dyn Queryable,
        expr: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> std::result::Result<(Value, Annotations), EvalError> {
        self.query_range(storage, expr, start, end, step)
            .map_err(|e| EvalError::new(e.to_string()))
    }

    fn at_modifier_variant(
        &self,
        expr: &str,
        t: i64,
    ) -> std::result::Result<Option<String>, EvalError> {
        at_modifier_variant(expr, t).map_err(|e| EvalError::new(e.to_string()))
    }
}

// ---- label helpers ----

pub(crate) fn get_label<'a>(labels: &'a [Label], name: &str) -> &'a str {
    labels
        .iter()
        .find(|l| l.name == name)
        .map_or("", |l| l.value.as_str())
}

/// Drops the metric name and, with it, the type and unit labels that
/// describe it (Prometheus' `DropMetricName` with type-and-unit labels).
pub(crate) fn drop_name(labels: &mut Vec<Label>) {
    labels.retain(|l| !is_name_label(&l.name));
}

pub(crate) fn is_name_label(name: &str) -> bool {
    matches!(name, "__name__" | "__type__" | "__unit__")
}

/// Sets (or, for an empty value, deletes) a label, keeping the order.
pub(crate) fn set_label(labels: &mut Vec<Label>, name: &str, value: &str) {
    match labels.binary_search_by(|l| l.name.as_str().cmp(name)) {
        Ok(i) if value.is_empty() => {
            labels.remove(i);
        }
        Ok(i) => labels[i].value = value.to_owned(),
        Err(_) if value.is_empty() => {}
        Err(i) => labels.insert(i, Label::new(name, value)),
    }
}

/// A selected series: labels and its samples in the window.
type Selected = (Vec<Label>, Vec<(i64, f64)>);

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
    pub annotations: Annotations,
}

impl<'a> Evaluator<'a> {
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
            annotations: Annotations::default(),
        }
    }

    pub fn is_range_query(&self) -> bool {
        self.step != 0
    }

    fn check_deadline(&self) -> Result<()> {
        if Instant::now() > self.deadline {
            return Err(Error::Timeout);
        }
        Ok(())
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

    /// Float samples of the matching series in `(mint, maxt]`, stale
    /// markers included.
    pub(crate) fn select(
        &self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
        range: i64,
    ) -> Result<Vec<Selected>> {
        let hints = SelectHints {
            start: mint.saturating_add(1),
            end: maxt,
            step: self.step,
            range,
            ..SelectHints::default()
        };
        let series = self
            .storage
            .select_series(&vs.matchers, &hints)
            .map_err(|e| Error::Storage(e.to_string()))?;
        let mut total = 0usize;
        let mut out = Vec::with_capacity(series.len());
        for mut s in series {
            let mut points = Vec::new();
            let mut next = s.samples.seek(mint.saturating_add(1));
            while let Some((t, v)) = next {
                if t > maxt {
                    break;
                }
                if t > mint {
                    points.push((t, v));
                }
                next = s.samples.next();
            }
            total += points.len();
            if total > self.max_samples {
                return Err(Error::TooManySamples);
            }
            out.push((s.labels, points));
        }
        Ok(out)
    }

    pub(crate) fn vector_selector(&self, vs: &VectorSelector, t: i64) -> Result<Vec<Sample>> {
        let ts = self.base_time(vs.at, vs.offset.as_ref(), t);
        if vs.smoothed {
            // The value at `ts` interpolated between the samples around
            // it (the next one within the lookback delta).
            let selected = self.select(
                vs,
                ts.saturating_sub(self.lookback),
                ts.saturating_add(self.lookback),
                0,
            )?;
            return Ok(selected
                .into_iter()
                .filter_map(|(labels, mut points)| {
                    points.retain(|p| !is_stale_marker(p.1));
                    let i = points.partition_point(|p| p.0 <= ts);
                    let &(t0, v0) = points.get(i.checked_sub(1)?)?;
                    let v = match points.get(i) {
                        Some(&(t1, v1)) if t0 != ts => {
                            v0 + (v1 - v0) * (ts - t0) as f64 / (t1 - t0) as f64
                        }
                        _ => v0,
                    };
                    Some(Sample {
                        labels,
                        t: ts,
                        v,
                        drop_name: false,
                    })
                })
                .collect());
        }
        let selected = self.select(vs, ts.saturating_sub(self.lookback), ts, 0)?;
        Ok(selected
            .into_iter()
            .filter_map(|(labels, points)| {
                // The newest sample in the window; a stale marker there
                // means the series ended.
                let &(st, v) = points.last()?;
                (!is_stale_marker(v)).then_some(Sample {
                    labels,
                    t: st,
                    v,
                    drop_name: false,
                })
            })
            .collect())
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
                let series = self
                    .select(vs, mint, maxt, range)?
                    .into_iter()
                    .filter_map(|(labels, mut points)| {
                        points.retain(|p| !is_stale_marker(p.1));
                        (!points.is_empty()).then_some(RangeSeries {
                            labels,
                            points,
                            drop_name: false,
                        })
                    })
                    .collect();
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
                let mut series: HashMap<Vec<Label>, RangeSeries> = HashMap::new();
                let mut order = Vec::new();
                let mut count = 0usize;
                while ts <= maxt {
                    self.check_deadline()?;
                    match self.eval(&sq.expr, ts)? {
                        Val::Scalar(v) => {
                            let entry = series.entry(Vec::new()).or_insert_with(|| {
                                order.push(Vec::new());
                                RangeSeries {
                                    labels: Vec::new(),
                                    points: Vec::new(),
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
                                        labels: s.labels.clone(),
                                        points: Vec::new(),
                                        drop_name: false,
                                    }
                                });
                                entry.drop_name |= s.drop_name;
                                entry.points.push((ts, s.v));
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
                            s.drop_name = true;
                        }
                        Ok(Val::Vector(samples))
                    }
                    other => err(format!("unary minus on a {}", other.type_name())),
                }
            }
            Expr::Binary(b) => self.binary(b, t),
            Expr::Aggregate(a) => self.aggregate(a, t),
            Expr::Call(c) => crate::functions::call(self, c, t),
        }
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

    pub fn lookback(&self) -> i64 {
        self.lookback
    }

    pub fn query_start(&self) -> i64 {
        self.start
    }

    pub fn query_end(&self) -> i64 {
        self.end
    }

    pub fn query_step(&self) -> i64 {
        self.step
    }
}

/// Prometheus' `kahanSumInc` (Neumaier's variant).
pub(crate) fn kahan_sum_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Go's `math.Max`: NaN wins over everything but +Inf.
pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a == f64::INFINITY || b == f64::INFINITY {
        f64::INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Go's `math.Min`: NaN wins over everything but -Inf.
pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY || b == f64::NEG_INFINITY {
        f64::NEG_INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// A float as Go's `%g`/`FormatFloat(f, 'f', -1, 64)` would show it in
/// messages.
pub(crate) fn go_float(v: f64) -> String {
    crate::printer::format_float(v)
}
