//! Running a parsed script against an [`Engine`]: loads into a
//! [`MemStore`], each eval with the extra evaluations upstream performs for
//! instant cases (the `@` variants and the range-query check), results
//! compared as Prometheus' `promqltest` compares them.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use wasmetheus_model::Label;
use wasmetheus_model::storage::{Queryable, Storage};

use super::memstore::MemStore;
use super::nh::{HistogramSeries, NhcbPart, is_nh, nhcb_base};
use super::script::{
    AnnotationExpect, Command, Eval, EvalKind, Expected, Load, Script, parse_script,
};
use wasmetheus_promql::value::{
    Annotations, CUSTOM_BUCKETS_SCHEMA, Histogram, Point, Sample, SampleValue, Series, Value,
    almost_equal, format_float, format_labels,
};

/// An evaluation failed (while preparing or running the query); the text
/// is what `expect fail msg:` compares with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    pub message: String,
}

impl EvalError {
    pub fn new(message: impl Into<String>) -> Self {
        EvalError {
            message: message.into(),
        }
    }
}

/// The PromQL engine under test, as the runner drives it. Times are ms
/// since the epoch (negative ones included).
pub trait Engine {
    /// An instant query at `t`.
    fn instant(
        &self,
        storage: &dyn Queryable,
        expr: &str,
        t: i64,
    ) -> Result<(Value, Annotations), EvalError>;

    /// A range query over `[start, end]` every `step`; the result is a
    /// [`Value::Matrix`] sorted by labels (a scalar expression gives one
    /// series with no labels).
    fn range(
        &self,
        storage: &dyn Queryable,
        expr: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<(Value, Annotations), EvalError>;

    /// The expression for the step-invariance check, as upstream's
    /// `atModifierTestCases` builds it: `expr` parsed, `@ <t>` (seconds,
    /// `t` given in ms) added to every vector selector, matrix selector and
    /// subquery lacking one, except inside a subquery that has one, and
    /// printed back. `Ok(None)` when a call outside such subqueries is to a
    /// function marked [`at_modifier_unsafe`] (no variants then); `Err`
    /// when the expression does not parse.
    ///
    /// [`at_modifier_unsafe`]: wasmetheus_promql::functions::Function::at_modifier_unsafe
    fn at_modifier_variant(&self, expr: &str, t: i64) -> Result<Option<String>, EvalError>;
}

/// The workspace's engine, as the runner drives it: its errors become
/// [`EvalError`]s with the same text.
impl Engine for wasmetheus_promql::engine::Engine {
    fn instant(
        &self,
        storage: &dyn Queryable,
        expr: &str,
        t: i64,
    ) -> Result<(Value, Annotations), EvalError> {
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
    ) -> Result<(Value, Annotations), EvalError> {
        self.query_range(storage, expr, start, end, step)
            .map_err(|e| EvalError::new(e.to_string()))
    }

    fn at_modifier_variant(&self, expr: &str, t: i64) -> Result<Option<String>, EvalError> {
        wasmetheus_promql::engine::at_modifier_variant(expr, t)
            .map_err(|e| EvalError::new(e.to_string()))
    }
}

/// What became of one eval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    /// Why, starting with `file:line:`.
    Failed(String),
    /// Why it was not run (it involves native histograms).
    Skipped(String),
}

/// One eval's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseReport {
    /// 1-based line of the `eval`.
    pub line: usize,
    pub expr: String,
    pub outcome: Outcome,
}

/// Passed, failed and skipped evals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.passed += o.passed;
        self.failed += o.failed;
        self.skipped += o.skipped;
    }
}

/// `N passed, M failed`, plus `, K skipped` only when K > 0.
impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} passed, {} failed", self.passed, self.failed)?;
        if self.skipped > 0 {
            write!(f, ", {} skipped", self.skipped)?;
        }
        Ok(())
    }
}

/// The outcome of one script file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileReport {
    /// The name used in messages (usually the path).
    pub file: String,
    pub cases: Vec<CaseReport>,
    /// Failures outside any eval: the script did not parse (then there are
    /// no cases) or a load could not be written. Each starts with
    /// `file:line:`.
    pub errors: Vec<String>,
}

impl FileReport {
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for case in &self.cases {
            match case.outcome {
                Outcome::Passed => c.passed += 1,
                Outcome::Failed(_) => c.failed += 1,
                Outcome::Skipped(_) => c.skipped += 1,
            }
        }
        c
    }

    /// No failed eval and no error.
    pub fn ok(&self) -> bool {
        self.errors.is_empty() && self.counts().failed == 0
    }

    /// Every failure message (errors first).
    pub fn failures(&self) -> impl Iterator<Item = &str> {
        self.errors
            .iter()
            .map(String::as_str)
            .chain(self.cases.iter().filter_map(|c| match &c.outcome {
                Outcome::Failed(m) => Some(m.as_str()),
                _ => None,
            }))
    }
}

/// Parses and runs a script; `file` names it in messages.
pub fn run_script(file: &str, text: &str, engine: &dyn Engine) -> FileReport {
    match parse_script(text) {
        Ok(script) => run_parsed(file, &script, engine),
        Err(e) => FileReport {
            file: file.to_owned(),
            cases: Vec::new(),
            errors: vec![format!("{file}:{}: {}", e.line, e.message)],
        },
    }
}

/// Runs a parsed script, each file starting with an empty store.
pub fn run_parsed(file: &str, script: &Script, engine: &dyn Engine) -> FileReport {
    let store = MemStore::new();
    let mut hist = HistogramSeries::default();
    let mut report = FileReport {
        file: file.to_owned(),
        ..FileReport::default()
    };
    for cmd in &script.commands {
        match cmd {
            Command::Clear { .. } => {
                store.clear();
                hist.clear();
            }
            Command::Load(load) => {
                hist.record(load);
                if let Err(e) = apply_load(&store, load) {
                    report
                        .errors
                        .push(format!("{file}:{}: load failed: {e}", load.line));
                }
            }
            Command::Eval(eval) => {
                let outcome = if is_nh(eval, &hist) {
                    // Native histograms are supported in part: such an
                    // eval counts when it passes and is skipped otherwise.
                    // One expecting an error without saying which stays
                    // skipped, since an operation refusing histograms
                    // would pass it for the wrong reason.
                    let unchecked_failure = eval.fail && eval.fail_matches.is_empty();
                    match (unchecked_failure, run_eval(&store, eval, engine)) {
                        (false, Ok(())) => Outcome::Passed,
                        (true, _) => Outcome::Skipped("involves native histograms".into()),
                        (false, Err(e)) => {
                            Outcome::Skipped(format!("involves native histograms: {e}"))
                        }
                    }
                } else {
                    match run_eval(&store, eval, engine) {
                        Ok(()) => Outcome::Passed,
                        Err(e) => Outcome::Failed(format!(
                            "{file}:{}: {} {}: {e}",
                            eval.line,
                            describe(eval),
                            eval.expr
                        )),
                    }
                };
                report.cases.push(CaseReport {
                    line: eval.line,
                    expr: eval.expr.clone(),
                    outcome,
                });
            }
        }
    }
    report
}

/// `eval instant at 5m` / `eval range from 0 to 10m step 1m`, with times
/// in ms-exact seconds.
fn describe(eval: &Eval) -> String {
    match eval.kind {
        EvalKind::Instant { at } => format!("eval instant at {}", secs(at)),
        EvalKind::Range { start, end, step } => format!(
            "eval range from {} to {} step {}",
            secs(start),
            secs(end),
            secs(step)
        ),
    }
}

fn secs(ms: i64) -> String {
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{}ms", ms)
    }
}

/// Writes a load's samples: floats through the `Storage` appender,
/// histograms and start timestamps beside them.
pub fn apply_load(store: &MemStore, load: &Load) -> Result<(), String> {
    let samples = load.samples();
    let mut app = store.appender();
    for s in &samples {
        if let SampleValue::Float(v) = s.value {
            app.append(&s.labels, s.t, v)
                .map_err(|e| format!("{}: {e}", format_labels(&s.labels)))?;
        }
    }
    app.commit().map_err(|e| e.to_string())?;
    drop(app);
    for s in samples {
        if let Some(st) = s.st {
            store.set_start_time(&s.labels, s.t, st);
        }
        if let SampleValue::Histogram(h) = s.value {
            store.append_histogram(&s.labels, s.t, *h);
        }
    }
    if load.with_nhcb {
        for (labels, t, h) in nhcb_histograms(load) {
            store.append_histogram(&labels, t, h);
        }
    }
    Ok(())
}

/// The native histograms with custom buckets `load_with_nhcb` derives
/// from a block's classic histogram series. Approximate until native
/// histograms are supported: bucket bounds are the finite `le` values,
/// counts de-cumulated, the `+Inf` bucket taken from its series or, absent
/// that, from `_count`.
fn nhcb_histograms(load: &Load) -> Vec<(Vec<Label>, i64, Histogram)> {
    #[derive(Default)]
    struct Temp {
        buckets: Vec<(f64, f64)>,
        count: Option<f64>,
        sum: f64,
    }
    let mut groups: std::collections::BTreeMap<(Vec<Label>, i64), Temp> = Default::default();
    for s in load.samples() {
        let SampleValue::Float(v) = s.value else {
            continue;
        };
        let Some((base, part)) = nhcb_base(&s.labels) else {
            continue;
        };
        let temp = groups.entry((base, s.t)).or_default();
        match part {
            NhcbPart::Bucket(le) => temp.buckets.push((le, v)),
            NhcbPart::Count => temp.count = Some(v),
            NhcbPart::Sum => temp.sum = v,
        }
    }
    groups
        .into_iter()
        .map(|((labels, t), mut temp)| {
            temp.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            let inf = temp
                .buckets
                .last()
                .filter(|b| b.0 == f64::INFINITY)
                .map(|b| b.1);
            let finite: Vec<(f64, f64)> = temp
                .buckets
                .iter()
                .copied()
                .filter(|b| b.0.is_finite())
                .collect();
            let count = temp.count.or(inf).unwrap_or(0.0);
            let mut positive = Vec::new();
            let mut prev = 0.0;
            for &(_, c) in &finite {
                positive.push(c - prev);
                prev = c;
            }
            positive.push(inf.unwrap_or(count) - prev);
            let h = Histogram {
                schema: CUSTOM_BUCKETS_SCHEMA,
                sum: temp.sum,
                count,
                positive,
                custom_values: finite.iter().map(|b| b.0).collect(),
                ..Histogram::default()
            };
            (labels, t, h)
        })
        .collect()
}

/// Matches `start()`, `end()`, `range()`, `step()`: their value depends on
/// the query's range, so such instant cases skip the range check.
static QUERY_CONTEXT_FUNCS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(start|end|range|step)\(\)").unwrap());

/// Runs one eval and its extra evaluations; `Err` says what failed.
pub fn run_eval(store: &MemStore, eval: &Eval, engine: &dyn Engine) -> Result<(), String> {
    match eval.kind {
        EvalKind::Range { start, end, step } => {
            let res = match engine.range(store, &eval.expr, start, end, step) {
                Err(e) if eval.fail => return check_failure(eval, &e),
                Err(e) => return Err(format!("error evaluating query: {e}")),
                Ok(_) if eval.fail => {
                    return Err("expected an error evaluating the query but got none".into());
                }
                Ok(res) => res,
            };
            check_annotations(eval, &res.1)?;
            compare(eval, &res.0, "")
        }
        EvalKind::Instant { .. } => {
            let t = eval.eval_time();
            run_instant(store, eval, engine, &eval.expr, t, None)?;
            let variant = engine
                .at_modifier_variant(&eval.expr, t)
                .map_err(|e| format!("cannot build the @ variant: {e}"))?;
            if let Some(expr) = variant {
                let times: &[i64] = if t == 0 {
                    &[-1000, 0, 1000]
                } else {
                    &[-10 * t, 0, t / 5, t, 10 * t]
                };
                for &at in times {
                    run_instant(store, eval, engine, &expr, at, Some(&expr))?;
                }
            }
            Ok(())
        }
    }
}

/// One instant query (the original or an `@` variant) and, unless
/// excluded, its range-query consistency check.
fn run_instant(
    store: &MemStore,
    eval: &Eval,
    engine: &dyn Engine,
    expr: &str,
    t: i64,
    variant: Option<&str>,
) -> Result<(), String> {
    let ctx = match variant {
        Some(v) => format!(" [@ variant `{v}` at {}]", secs(t)),
        None => String::new(),
    };
    let (value, annotations) = match engine.instant(store, expr, t) {
        Err(e) if eval.fail => return check_failure(eval, &e).map_err(|m| m + &ctx),
        Err(e) => return Err(format!("error evaluating query: {e}{ctx}")),
        Ok(_) if eval.fail => {
            return Err(format!(
                "expected an error evaluating the query but got none{ctx}"
            ));
        }
        Ok(res) => res,
    };
    check_annotations(eval, &annotations).map_err(|m| m + &ctx)?;
    compare(eval, &value, &ctx)?;
    if eval.exclude_from_range_query() || QUERY_CONTEXT_FUNCS.is_match(expr) {
        return Ok(());
    }
    let ctx = format!(
        "{ctx} [range mode from {} to {} step 1m]",
        secs(t - 60_000),
        secs(t + 60_000)
    );
    let (range_value, _) = engine
        .range(store, expr, t - 60_000, t + 60_000, 60_000)
        .map_err(|e| format!("error evaluating query: {e}{ctx}"))?;
    if eval.ordered {
        // Range results are sorted by labels; order cannot be checked.
        return Ok(());
    }
    let Value::Matrix(matrix) = range_value else {
        return Err(format!(
            "range query returned a {}, want a matrix{ctx}",
            range_value.type_name()
        ));
    };
    assert_sorted(&matrix).map_err(|m| m + &ctx)?;
    // The points at `t`: one float and/or one histogram per series.
    let mut vector = Vec::new();
    for series in &matrix {
        let mut seen_float = false;
        let mut seen_hist = false;
        for p in series.points.iter().filter(|p| p.t == t) {
            let first = match p.value {
                SampleValue::Float(_) => !std::mem::replace(&mut seen_float, true),
                SampleValue::Histogram(_) => !std::mem::replace(&mut seen_hist, true),
            };
            if first {
                vector.push(Sample {
                    labels: series.labels.clone(),
                    t,
                    value: p.value.clone(),
                });
            }
        }
    }
    let at_t = if let Value::Scalar(..) = value {
        match vector.first() {
            Some(Sample {
                value: SampleValue::Float(v),
                ..
            }) => Value::Scalar(t, *v),
            _ => {
                return Err(format!(
                    "the range query has no float point at {}{ctx}",
                    secs(t)
                ));
            }
        }
    } else {
        Value::Vector(vector)
    };
    compare(eval, &at_t, &ctx)
}

fn check_failure(eval: &Eval, err: &EvalError) -> Result<(), String> {
    match eval.fail_matches.iter().find(|m| !m.matches(&err.message)) {
        None => Ok(()),
        Some(m) => Err(format!(
            "expected an error matching {m}, but got: {}",
            err.message
        )),
    }
}

fn check_annotations(eval: &Eval, annotations: &Annotations) -> Result<(), String> {
    fn one_kind(kind: &str, want: &AnnotationExpect, got: &[String]) -> Result<(), String> {
        let all = || format!("{got:?}");
        if want.at_least_one && got.is_empty() {
            return Err(format!("expected {kind} annotations but got none"));
        }
        if !want.lines.is_empty() {
            if got.is_empty() {
                return Err(format!("expected {kind} annotations but none were found"));
            }
            if let Some(m) = want
                .lines
                .iter()
                .find(|m| !got.iter().any(|g| m.matches(g)))
            {
                return Err(format!(
                    "expected {kind} annotation matching {m} but no matching annotation was found, found: {}",
                    all()
                ));
            }
            if let Some(g) = got
                .iter()
                .find(|g| !want.lines.iter().any(|m| m.matches(g)))
            {
                return Err(format!("unexpected {kind} annotation {g:?}"));
            }
        }
        if want.none && !got.is_empty() {
            return Err(format!("unexpected {kind} annotations: {}", all()));
        }
        Ok(())
    }
    one_kind("warn", &eval.warn, &annotations.warnings)?;
    one_kind("info", &eval.info, &annotations.infos)
}

fn assert_sorted(matrix: &[Series]) -> Result<(), String> {
    match matrix.windows(2).position(|w| w[0].labels > w[1].labels) {
        None => Ok(()),
        Some(i) => Err(format!(
            "matrix results should always be sorted by labels, but series at index {} with labels {} sorts before series at index {i} with labels {}",
            i + 1,
            format_labels(&matrix[i + 1].labels),
            format_labels(&matrix[i].labels)
        )),
    }
}

/// Compares a result with the expectation; on mismatch, the reason, then
/// `ctx` (which evaluation it was), then the expected and the actual
/// result in full.
fn compare(eval: &Eval, value: &Value, ctx: &str) -> Result<(), String> {
    compare_inner(eval, value).map_err(|m| {
        let diff = format!(
            "\n  expected:\n{}  got:\n{}",
            render_expected(eval),
            render_value(value)
        );
        format!("{m}{ctx}{}", diff.trim_end())
    })
}

fn compare_inner(eval: &Eval, value: &Value) -> Result<(), String> {
    let expected = match &eval.expected {
        Expected::Series(s) => Some(s),
        Expected::Scalar(_) => None,
    };
    match value {
        Value::Matrix(matrix) => {
            if eval.ordered {
                return Err("expected ordered result, but query returned a matrix".into());
            }
            let Some(expected) = expected else {
                return Err("expected scalar result, but got a matrix".into());
            };
            assert_sorted(matrix)?;
            let (start, end, step) = match (eval.kind, eval.range_vector) {
                (EvalKind::Instant { at }, None) => (at, i64::MIN, 0),
                _ => eval.grid(),
            };
            let mut seen = HashSet::new();
            for s in matrix {
                let name = format_labels(&s.labels);
                let Some(exp) = expected.iter().find(|e| e.labels == s.labels) else {
                    return Err(format!("unexpected metric {name} in result"));
                };
                seen.insert(&exp.labels);
                let mut floats = Vec::new();
                let mut hists = Vec::new();
                for (i, v) in exp.values.iter().enumerate() {
                    let t = start + i as i64 * step;
                    if t > end {
                        return Err(format!(
                            "expected {} points for {name}, but query time range cannot return this many points",
                            exp.values.len()
                        ));
                    }
                    match v {
                        Some(SampleValue::Float(f)) => floats.push((t, *f)),
                        Some(SampleValue::Histogram(h)) => {
                            hists.push((t, h, exp.hint_set.get(i).copied().unwrap_or(false)));
                        }
                        None => {}
                    }
                }
                let got_floats: Vec<&Point> = s
                    .points
                    .iter()
                    .filter(|p| matches!(p.value, SampleValue::Float(_)))
                    .collect();
                let got_hists: Vec<&Point> = s
                    .points
                    .iter()
                    .filter(|p| matches!(p.value, SampleValue::Histogram(_)))
                    .collect();
                if floats.len() != got_floats.len() || hists.len() != got_hists.len() {
                    return Err(format!(
                        "expected {} float points and {} histogram points for {name}, but got {} and {}",
                        floats.len(),
                        hists.len(),
                        got_floats.len(),
                        got_hists.len()
                    ));
                }
                for (i, ((t, f), p)) in floats.iter().zip(&got_floats).enumerate() {
                    if *t != p.t {
                        return Err(format!(
                            "expected float value at index {i} for {name} to have timestamp {t}, but it had timestamp {}",
                            p.t
                        ));
                    }
                    if let SampleValue::Float(g) = p.value
                        && !almost_equal(*f, g)
                    {
                        return Err(format!(
                            "expected float value at index {i} (t={t}) for {name} to be {}, but got {}",
                            format_float(*f),
                            format_float(g)
                        ));
                    }
                }
                for (i, ((t, h, hint), p)) in hists.iter().zip(&got_hists).enumerate() {
                    if *t != p.t {
                        return Err(format!(
                            "expected histogram value at index {i} for {name} to have timestamp {t}, but it had timestamp {}",
                            p.t
                        ));
                    }
                    if let SampleValue::Histogram(g) = &p.value
                        && !h.matches(g, *hint)
                    {
                        return Err(format!(
                            "expected histogram value at index {i} (t={t}) for {name} to be {h}, but got {g}"
                        ));
                    }
                }
            }
            if let Some(missing) = expected.iter().find(|e| !seen.contains(&e.labels)) {
                return Err(format!(
                    "expected metric {} not found",
                    format_labels(&missing.labels)
                ));
            }
            Ok(())
        }
        Value::Vector(vector) => {
            let Some(expected) = expected else {
                return Err("expected scalar result, but got a vector".into());
            };
            let mut seen = HashSet::new();
            for (pos, s) in vector.iter().enumerate() {
                let name = format_labels(&s.labels);
                let Some(exp) = expected.iter().find(|e| e.labels == s.labels) else {
                    return Err(format!(
                        "unexpected metric {name} in result, has value {}",
                        s.value
                    ));
                };
                if eval.ordered && exp.pos != pos + 1 {
                    return Err(format!(
                        "expected metric {name} at position {} but was at {}",
                        exp.pos,
                        pos + 1
                    ));
                }
                let want = exp.values.first().cloned().flatten();
                let hint = exp.hint_set.first().copied().unwrap_or(false);
                match (&want, &s.value) {
                    (Some(SampleValue::Histogram(h)), SampleValue::Histogram(g)) => {
                        if !h.matches(g, hint) {
                            return Err(format!("expected {h} for {name} but got {g}"));
                        }
                    }
                    (Some(SampleValue::Histogram(h)), SampleValue::Float(g)) => {
                        return Err(format!(
                            "expected histogram {h} for {name} but got float value {}",
                            format_float(*g)
                        ));
                    }
                    (_, SampleValue::Histogram(g)) => {
                        return Err(format!(
                            "expected float value {} for {name} but got histogram {g}",
                            render_position(&want)
                        ));
                    }
                    (_, SampleValue::Float(g)) => {
                        // A `_` position expects 0, like upstream's
                        // zero-valued omitted SequenceValue.
                        let f = match want {
                            Some(SampleValue::Float(f)) => f,
                            _ => 0.0,
                        };
                        if !almost_equal(f, *g) {
                            return Err(format!(
                                "expected {} for {name} but got {}",
                                format_float(f),
                                format_float(*g)
                            ));
                        }
                    }
                }
                seen.insert(&exp.labels);
            }
            if let Some(missing) = expected.iter().find(|e| !seen.contains(&e.labels)) {
                return Err(format!(
                    "expected metric {} with {} not found",
                    format_labels(&missing.labels),
                    render_positions(&missing.values)
                ));
            }
            Ok(())
        }
        Value::Scalar(_, v) => match &eval.expected {
            Expected::Scalar(want) => {
                if almost_equal(*want, *v) {
                    Ok(())
                } else {
                    Err(format!(
                        "expected scalar {} but got {}",
                        format_float(*want),
                        format_float(*v)
                    ))
                }
            }
            Expected::Series(_) => Err(format!(
                "expected vector or matrix result, but got scalar {}",
                format_float(*v)
            )),
        },
        Value::String(_, s) => {
            let want = eval.expected_string.as_deref().unwrap_or("");
            if want == s {
                Ok(())
            } else {
                Err(format!("expected string {want:?} but got {s:?}"))
            }
        }
    }
}

fn render_position(v: &Option<SampleValue>) -> String {
    match v {
        None => "_".into(),
        Some(v) => v.to_string(),
    }
}

fn render_positions(values: &[Option<SampleValue>]) -> String {
    values
        .iter()
        .map(render_position)
        .collect::<Vec<_>>()
        .join(" ")
}

fn render_expected(eval: &Eval) -> String {
    if let Some(s) = &eval.expected_string {
        return format!("    string {s:?}\n");
    }
    match &eval.expected {
        Expected::Scalar(v) => format!("    scalar {}\n", format_float(*v)),
        Expected::Series(series) if series.is_empty() => "    (empty)\n".into(),
        Expected::Series(series) => series
            .iter()
            .map(|s| {
                format!(
                    "    {} {}\n",
                    format_labels(&s.labels),
                    render_positions(&s.values)
                )
            })
            .collect(),
    }
}

fn render_value(value: &Value) -> String {
    match value {
        Value::Scalar(_, v) => format!("    scalar {}\n", format_float(*v)),
        Value::String(_, s) => format!("    string {s:?}\n"),
        Value::Vector(v) if v.is_empty() => "    (empty vector)\n".into(),
        Value::Vector(v) => v
            .iter()
            .map(|s| format!("    {} {}\n", format_labels(&s.labels), s.value))
            .collect(),
        Value::Matrix(m) if m.is_empty() => "    (empty matrix)\n".into(),
        Value::Matrix(m) => m
            .iter()
            .map(|s| {
                let points: Vec<String> = s
                    .points
                    .iter()
                    .map(|p| format!("{}@{}", p.value, secs(p.t)))
                    .collect();
                format!("    {} {}\n", format_labels(&s.labels), points.join(" "))
            })
            .collect(),
    }
}
