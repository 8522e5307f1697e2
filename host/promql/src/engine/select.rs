//! Reading selectors: each selector of a query is read from storage once,
//! over the window the plan computed for every time it is evaluated, and
//! served from memory at each step (instant selectors, range selectors,
//! `smoothed` interpolation, start timestamps); selectors the plan does
//! not know (built while evaluating, as `info()` does) are read directly.

use std::sync::Arc;

use wasmetheus_model::storage::{SampleIterator, SelectHints, Series, is_stale_marker};

use super::{Evaluator, check_deadline, parallel};
use crate::ast::{Expr, VectorSelector};
use crate::eval_types::{Error, RangeSeries, Result, Sample, Selected, unsupported};
use crate::labels::Labels;
use crate::value::Histogram;

/// A series as read from storage: labels, samples, and their start
/// timestamps if it has any.
struct StoredSeries {
    labels: Labels,
    points: Vec<(i64, f64)>,
    start_timestamps: Option<Vec<i64>>,
    histograms: Option<Vec<Option<Arc<Histogram>>>>,
}

/// One series of a selector, read from storage once per query.
pub(super) struct LoadedSeries {
    pub(super) labels: Labels,
    /// Every sample in the planned window, stale markers included.
    pub(super) points: Vec<(i64, f64)>,
    /// Their start timestamps, if any is set.
    pub(super) start_timestamps: Option<Vec<i64>>,
    /// For a series that may hold native histograms: per point, its
    /// histogram (the point's float is then a placeholder). `None` for
    /// float series, which is all the float path looks at.
    pub(super) histograms: Option<Vec<Option<Arc<Histogram>>>>,
    /// How many points lie at or before the time last asked for: steps
    /// move forward, so the next lookup usually starts right there.
    pub(super) cursor: usize,
    /// The same for the start of the last range window.
    pub(super) start_cursor: usize,
}

/// A selector of the query and the window `(mint, maxt]` it reads over
/// the whole evaluation, loaded on first use.
pub(super) struct PlannedSelector {
    pub(super) address: usize,
    pub(super) mint: i64,
    pub(super) maxt: i64,
    pub(super) range: i64,
    /// The length of the window read at each of the query's steps when
    /// that is all that is read of it, else 0 (see `SelectHints::window`).
    pub(super) window: i64,
    pub(super) loaded: Option<Vec<LoadedSeries>>,
}

/// How many points of `points` lie at or before `t`, starting the search
/// at `cursor` (where the previous, usually earlier, lookup ended).
pub(super) fn points_until(points: &[(i64, f64)], t: i64, cursor: &mut usize) -> usize {
    let mut i = (*cursor).min(points.len());
    if i > 0 && points[i - 1].0 > t {
        i = points[..i].partition_point(|p| p.0 <= t);
    } else {
        // A few linear steps cover the usual scrape-per-step case; a
        // long jump falls back to a binary search.
        let mut walked = 0;
        while i < points.len() && points[i].0 <= t {
            i += 1;
            walked += 1;
            if walked == 8 {
                i += points[i..].partition_point(|p| p.0 <= t);
                break;
            }
        }
    }
    *cursor = i;
    i
}

/// Reads a series that may hold native histograms sample by sample over
/// `(mint, maxt]`: points (a NaN placeholder for each histogram), their
/// start timestamps if any is set, and per point its histogram if the
/// series has any there.
#[allow(clippy::type_complexity)]
fn read_mixed(
    it: &mut dyn SampleIterator,
    mint: i64,
    maxt: i64,
    mut points: Vec<(i64, f64)>,
) -> (
    Vec<(i64, f64)>,
    Option<Vec<i64>>,
    Option<Vec<Option<Arc<Histogram>>>>,
) {
    let (mut sts, mut histograms) = (Vec::new(), Vec::new());
    let mut sample = it.seek(mint.saturating_add(1));
    while let Some(p) = sample {
        if p.0 > maxt {
            break;
        }
        points.push(p);
        sts.push(it.start_timestamp());
        histograms.push(it.histogram().map(|h| Arc::new(h.clone())));
        sample = it.next();
    }
    let sts = sts.iter().any(|&st| st != 0).then_some(sts);
    let histograms = histograms.iter().any(Option::is_some).then_some(histograms);
    (points, sts, histograms)
}

/// One selected series' samples in `(mint, maxt]`, read into `points`.
fn decode(mut s: Series, mint: i64, maxt: i64, mut points: Vec<(i64, f64)>) -> StoredSeries {
    if s.samples.may_have_histograms() {
        let (points, start_timestamps, histograms) =
            read_mixed(&mut *s.samples, mint, maxt, points);
        return StoredSeries {
            labels: Arc::new(s.labels),
            points,
            start_timestamps,
            histograms,
        };
    }
    let mut start_timestamps = None;
    if let Some(first) = s.samples.seek(mint.saturating_add(1))
        && first.0 <= maxt
    {
        points.push(first);
        let first_st = s.samples.start_timestamp();
        // One per drained sample, or none when none has one.
        let mut rest = Vec::new();
        s.samples.drain_until(maxt, &mut points, &mut rest);
        if first_st != 0 || rest.iter().any(|&st| st != 0) {
            let mut all = Vec::with_capacity(points.len());
            all.push(first_st);
            all.extend_from_slice(&rest);
            all.resize(points.len(), 0);
            start_timestamps = Some(all);
        }
    }
    StoredSeries {
        labels: Arc::new(s.labels),
        points,
        start_timestamps,
        histograms: None,
    }
}

impl Evaluator<'_> {
    pub(super) fn plan_selector(
        &mut self,
        vs: &VectorSelector,
        (mint, maxt): (i64, i64),
        range: i64,
        window: i64,
    ) {
        self.selectors.push(PlannedSelector {
            address: vs as *const VectorSelector as usize,
            mint,
            maxt,
            range,
            window,
            loaded: None,
        });
    }

    /// Reads the series of `vs` in `(mint, maxt]` from storage; with a
    /// `window`, only what the windows of the query's steps need.
    fn select_from_storage(
        &self,
        vs: &VectorSelector,
        (mint, maxt): (i64, i64),
        range: i64,
        window: i64,
    ) -> Result<Vec<StoredSeries>> {
        let hints = SelectHints {
            start: mint.saturating_add(1),
            end: maxt,
            step: self.step,
            range,
            window,
            ..SelectHints::default()
        };
        let series = self
            .storage
            .select_series(&vs.matchers, &hints)
            .map_err(|e| Error::Storage(e.to_string()))?;
        // Decoding is most of a selection's cost: many series are
        // decoded on every core, in order.
        let per_series = 64 + usize::try_from((maxt - mint) / 15_000).unwrap_or(usize::MAX);
        let work = series.len().saturating_mul(per_series);
        let (cancel, deadline, pool) = (&self.cancel, self.deadline, &self.pool);
        parallel::map_in_order(series, work, |s| {
            check_deadline(cancel, deadline)?;
            Ok(decode(s, mint, maxt, pool.take()))
        })
        .into_iter()
        .collect()
    }

    /// The planned, loaded series of `vs` if its plan covers
    /// `(mint, maxt]`; `None` for selectors the plan does not know
    /// (built while evaluating, as `info()` does).
    pub(super) fn planned(
        &mut self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
    ) -> Result<Option<usize>> {
        let address = vs as *const VectorSelector as usize;
        let Some(i) = self
            .selectors
            .iter()
            .position(|p| p.address == address && p.mint <= mint && maxt <= p.maxt)
        else {
            return Ok(None);
        };
        if self.selectors[i].loaded.is_none() {
            let p = &self.selectors[i];
            let selected = self.select_from_storage(vs, (p.mint, p.maxt), p.range, p.window)?;
            self.selectors[i].loaded = Some(
                selected
                    .into_iter()
                    .map(|s| LoadedSeries {
                        labels: s.labels,
                        points: s.points,
                        start_timestamps: s.start_timestamps,
                        histograms: s.histograms,
                        cursor: 0,
                        start_cursor: 0,
                    })
                    .collect(),
            );
        }
        Ok(Some(i))
    }

    /// Float samples of the matching series in `(mint, maxt]`, stale
    /// markers included. Native histograms there are refused: the callers
    /// (`anchored`/`smoothed` selectors, `info()`) compute with floats.
    pub(crate) fn select(
        &mut self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
        range: i64,
    ) -> Result<Vec<Selected>> {
        let mut out: Vec<Selected> = Vec::new();
        let mut histograms = false;
        match self.planned(vs, mint, maxt)? {
            Some(i) => {
                let loaded = self.selectors[i].loaded.as_mut().expect("loaded above");
                for s in loaded.iter_mut() {
                    let from = s.points.partition_point(|p| p.0 <= mint);
                    let to = points_until(&s.points, maxt, &mut s.cursor).max(from);
                    histograms |= s
                        .histograms
                        .as_ref()
                        .is_some_and(|hs| hs[from..to].iter().any(Option::is_some));
                    out.push((Arc::clone(&s.labels), s.points[from..to].to_vec()));
                }
            }
            None => {
                for s in self.select_from_storage(vs, (mint, maxt), range, 0)? {
                    histograms |= s.histograms.is_some();
                    out.push((s.labels, s.points));
                }
            }
        }
        if histograms {
            return unsupported("anchored and smoothed selectors and info()");
        }
        self.count_samples(out.iter().map(|s| s.1.len()).sum())?;
        Ok(out)
    }

    /// The series of a range selector in `(mint, maxt]`, without stale
    /// markers; series without samples there are left out.
    pub(super) fn range_selector(
        &mut self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
        range: i64,
    ) -> Result<Vec<RangeSeries>> {
        let mut total = 0;
        let mut out = Vec::new();
        match self.planned(vs, mint, maxt)? {
            Some(i) => {
                let loaded = self.selectors[i].loaded.as_mut().expect("loaded above");
                for s in loaded.iter_mut() {
                    let to = points_until(&s.points, maxt, &mut s.cursor);
                    let from = points_until(&s.points, mint, &mut s.start_cursor).min(to);
                    let window = &s.points[from..to];
                    if window.is_empty() {
                        continue;
                    }
                    if let Some(hs) = &s.histograms {
                        let series = split_window(
                            &s.labels,
                            window,
                            s.start_timestamps.as_ref().map(|sts| &sts[from..to]),
                            Some(&hs[from..to]),
                        );
                        if let Some(series) = series {
                            total += series.points.len() + series.histograms.len();
                            out.push(series);
                        }
                        continue;
                    }
                    let mut points = self.spare_points.pop().unwrap_or_default();
                    points.extend(window.iter().copied().filter(|p| !is_stale_marker(p.1)));
                    if points.is_empty() {
                        self.spare_points.push(points);
                        continue;
                    }
                    let start_timestamps = s.start_timestamps.as_ref().map(|sts| {
                        (from..to)
                            .filter(|&i| !is_stale_marker(s.points[i].1))
                            .map(|i| sts[i])
                            .collect()
                    });
                    total += points.len();
                    out.push(RangeSeries {
                        labels: Arc::clone(&s.labels),
                        points,
                        start_timestamps,
                        histograms: Vec::new(),
                        drop_name: false,
                    });
                }
            }
            None => {
                for s in self.select_from_storage(vs, (mint, maxt), range, 0)? {
                    let series = split_window(
                        &s.labels,
                        &s.points,
                        s.start_timestamps.as_deref(),
                        s.histograms.as_deref(),
                    );
                    if let Some(series) = series {
                        total += series.points.len() + series.histograms.len();
                        out.push(series);
                    }
                }
            }
        }
        self.count_samples(total)?;
        Ok(out)
    }

    /// Whether any selector in `e` reads a native histogram (loading
    /// them as planned): the whole-range path computes with floats only,
    /// so such an expression is evaluated step by step.
    pub(super) fn reads_histograms(&mut self, e: &Expr) -> Result<bool> {
        let mut selectors = Vec::new();
        collect_selectors(e, &mut selectors);
        for vs in selectors {
            let address = vs as *const VectorSelector as usize;
            let windows: Vec<(i64, i64)> = self
                .selectors
                .iter()
                .filter(|p| p.address == address)
                .map(|p| (p.mint, p.maxt))
                .collect();
            for (mint, maxt) in windows {
                let Some(i) = self.planned(vs, mint, maxt)? else {
                    continue;
                };
                let loaded = self.selectors[i].loaded.as_deref().unwrap_or_default();
                if loaded.iter().any(|s| s.histograms.is_some()) {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    pub(crate) fn vector_selector(&mut self, vs: &VectorSelector, t: i64) -> Result<Vec<Sample>> {
        self.instant_selector(vs, t, false)
    }

    /// `start_timestamp(selector)`: the start timestamp (s) of the sample
    /// each series has at `t`, `0` where it has none; the name is dropped.
    pub(crate) fn start_timestamps(&mut self, vs: &VectorSelector, t: i64) -> Result<Vec<Sample>> {
        self.instant_selector(vs, t, true)
    }

    /// The newest sample of each series within the lookback delta (or,
    /// with `start_times`, its start timestamp in seconds instead).
    fn instant_selector(
        &mut self,
        vs: &VectorSelector,
        t: i64,
        start_times: bool,
    ) -> Result<Vec<Sample>> {
        let ts = self.base_time(vs.at, vs.offset.as_ref(), t);
        let seconds = |st: i64| st as f64 / 1000.0;
        if vs.smoothed && !start_times {
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
                        h: None,
                        drop_name: false,
                    })
                })
                .collect());
        }
        let mint = ts.saturating_sub(self.lookback);
        // The sample of a series at `i`: its float, or its histogram.
        let sample = |labels: &Labels,
                      points: &[(i64, f64)],
                      sts: Option<&Vec<i64>>,
                      hs: Option<&Vec<Option<Arc<Histogram>>>>,
                      i: usize| {
            let (st, v) = points[i];
            if st <= mint || is_stale_marker(v) {
                return None;
            }
            Some(if start_times {
                Sample {
                    labels: Arc::clone(labels),
                    t: ts,
                    v: seconds(sts.map_or(0, |sts| sts[i])),
                    h: None,
                    drop_name: true,
                }
            } else {
                let h = hs.and_then(|hs| hs[i].clone());
                Sample {
                    labels: Arc::clone(labels),
                    t: st,
                    v: if h.is_some() { 0.0 } else { v },
                    h,
                    drop_name: false,
                }
            })
        };
        let out: Vec<Sample> = match self.planned(vs, mint, ts)? {
            Some(i) => {
                let loaded = self.selectors[i].loaded.as_mut().expect("loaded above");
                let mut out = Vec::with_capacity(loaded.len());
                for s in loaded.iter_mut() {
                    // The newest sample in the window; a stale marker
                    // there means the series ended.
                    let n = points_until(&s.points, ts, &mut s.cursor);
                    let Some(i) = n.checked_sub(1) else {
                        continue;
                    };
                    out.extend(sample(
                        &s.labels,
                        &s.points,
                        s.start_timestamps.as_ref(),
                        s.histograms.as_ref(),
                        i,
                    ));
                }
                out
            }
            None => self
                .select_from_storage(vs, (mint, ts), 0, 0)?
                .into_iter()
                .filter_map(|s| {
                    let i = s.points.len().checked_sub(1)?;
                    sample(
                        &s.labels,
                        &s.points,
                        s.start_timestamps.as_ref(),
                        s.histograms.as_ref(),
                        i,
                    )
                })
                .collect(),
        };
        self.count_samples(out.len())?;
        Ok(out)
    }
}

/// Every selector in `e`.
fn collect_selectors<'e>(e: &'e Expr, out: &mut Vec<&'e VectorSelector>) {
    match e {
        Expr::VectorSelector(vs) => out.push(vs),
        Expr::MatrixSelector(ms) => out.push(&ms.selector),
        Expr::Subquery(sq) => collect_selectors(&sq.expr, out),
        Expr::Paren(p) => collect_selectors(&p.expr, out),
        Expr::Unary(u) => collect_selectors(&u.expr, out),
        Expr::Binary(b) => {
            collect_selectors(&b.lhs, out);
            collect_selectors(&b.rhs, out);
        }
        Expr::Aggregate(a) => {
            if let Some(p) = &a.param {
                collect_selectors(p, out);
            }
            collect_selectors(&a.expr, out);
        }
        Expr::Call(c) => {
            for arg in &c.args {
                collect_selectors(arg, out);
            }
        }
        Expr::Number(_) | Expr::String(_) => {}
    }
}

/// One series' window of a range selector, split into float and
/// histogram points, stale markers dropped; `None` when nothing is left.
/// `histograms` (`None` for a float-only series) runs beside `window`.
fn split_window(
    labels: &Labels,
    window: &[(i64, f64)],
    sts: Option<&[i64]>,
    histograms: Option<&[Option<Arc<Histogram>>]>,
) -> Option<RangeSeries> {
    let mut points = Vec::with_capacity(window.len());
    let mut kept_sts = Vec::with_capacity(if sts.is_some() { window.len() } else { 0 });
    let mut hs = Vec::new();
    for (i, &p) in window.iter().enumerate() {
        match histograms.and_then(|h| h.get(i)).and_then(Option::as_ref) {
            Some(h) => hs.push((p.0, Arc::clone(h))),
            None if is_stale_marker(p.1) => {}
            None => {
                points.push(p);
                if let Some(sts) = sts {
                    kept_sts.push(sts.get(i).copied().unwrap_or(0));
                }
            }
        }
    }
    if points.is_empty() && hs.is_empty() {
        return None;
    }
    Some(RangeSeries {
        labels: Arc::clone(labels),
        points,
        start_timestamps: sts.map(|_| kept_sts),
        histograms: hs,
        drop_name: false,
    })
}
