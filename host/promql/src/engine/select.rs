//! Reading selectors: each selector of a query is read from storage once,
//! over the window the plan computed for every time it is evaluated, and
//! served from memory at each step (instant selectors, range selectors,
//! `smoothed` interpolation, start timestamps); selectors the plan does
//! not know (built while evaluating, as `info()` does) are read directly.

use std::sync::Arc;

use wasmetheus_model::storage::{SelectHints, is_stale_marker};

use super::Evaluator;
use crate::ast::VectorSelector;
use crate::eval_types::{Error, RangeSeries, Result, Sample, Selected};
use crate::labels::Labels;

/// A series as read from storage: labels, samples, and their start
/// timestamps if it has any.
struct StoredSeries {
    labels: Labels,
    points: Vec<(i64, f64)>,
    start_timestamps: Option<Vec<i64>>,
}

/// One series of a selector, read from storage once per query.
pub(super) struct LoadedSeries {
    pub(super) labels: Labels,
    /// Every sample in the planned window, stale markers included.
    pub(super) points: Vec<(i64, f64)>,
    /// Their start timestamps, if any is set.
    pub(super) start_timestamps: Option<Vec<i64>>,
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

impl Evaluator<'_> {
    pub(super) fn plan_selector(&mut self, vs: &VectorSelector, mint: i64, maxt: i64, range: i64) {
        self.selectors.push(PlannedSelector {
            address: vs as *const VectorSelector as usize,
            mint,
            maxt,
            range,
            loaded: None,
        });
    }

    /// Reads the series of `vs` in `(mint, maxt]` from storage.
    fn select_from_storage(
        &self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
        range: i64,
    ) -> Result<Vec<StoredSeries>> {
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
        let mut out = Vec::with_capacity(series.len());
        for mut s in series {
            self.check_deadline()?;
            let mut points = self.pool.take();
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
            out.push(StoredSeries {
                labels: Arc::new(s.labels),
                points,
                start_timestamps,
            });
        }
        Ok(out)
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
            let selected = self.select_from_storage(vs, p.mint, p.maxt, p.range)?;
            self.selectors[i].loaded = Some(
                selected
                    .into_iter()
                    .map(|s| LoadedSeries {
                        labels: s.labels,
                        points: s.points,
                        start_timestamps: s.start_timestamps,
                        cursor: 0,
                        start_cursor: 0,
                    })
                    .collect(),
            );
        }
        Ok(Some(i))
    }

    /// Float samples of the matching series in `(mint, maxt]`, stale
    /// markers included.
    pub(crate) fn select(
        &mut self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
        range: i64,
    ) -> Result<Vec<Selected>> {
        let out: Vec<Selected> = match self.planned(vs, mint, maxt)? {
            Some(i) => {
                let loaded = self.selectors[i].loaded.as_mut().expect("loaded above");
                loaded
                    .iter_mut()
                    .map(|s| {
                        let from = s.points.partition_point(|p| p.0 <= mint);
                        let to = points_until(&s.points, maxt, &mut s.cursor);
                        (Arc::clone(&s.labels), s.points[from..to.max(from)].to_vec())
                    })
                    .collect()
            }
            None => self
                .select_from_storage(vs, mint, maxt, range)?
                .into_iter()
                .map(|s| (s.labels, s.points))
                .collect(),
        };
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
                        drop_name: false,
                    });
                }
            }
            None => {
                for s in self.select_from_storage(vs, mint, maxt, range)? {
                    let keep: Vec<bool> = s.points.iter().map(|p| !is_stale_marker(p.1)).collect();
                    let points: Vec<(i64, f64)> = s
                        .points
                        .iter()
                        .zip(&keep)
                        .filter_map(|(p, &k)| k.then_some(*p))
                        .collect();
                    if points.is_empty() {
                        continue;
                    }
                    let start_timestamps = s.start_timestamps.map(|sts| {
                        sts.into_iter()
                            .zip(&keep)
                            .filter_map(|(st, &k)| k.then_some(st))
                            .collect()
                    });
                    total += points.len();
                    out.push(RangeSeries {
                        labels: s.labels,
                        points,
                        start_timestamps,
                        drop_name: false,
                    });
                }
            }
        }
        self.count_samples(total)?;
        Ok(out)
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
                        drop_name: false,
                    })
                })
                .collect());
        }
        let mint = ts.saturating_sub(self.lookback);
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
                    let (st, v) = s.points[i];
                    if st > mint && !is_stale_marker(v) {
                        out.push(if start_times {
                            let start = s.start_timestamps.as_ref().map_or(0, |sts| sts[i]);
                            Sample {
                                labels: Arc::clone(&s.labels),
                                t: ts,
                                v: seconds(start),
                                drop_name: true,
                            }
                        } else {
                            Sample {
                                labels: Arc::clone(&s.labels),
                                t: st,
                                v,
                                drop_name: false,
                            }
                        });
                    }
                }
                out
            }
            None => self
                .select_from_storage(vs, mint, ts, 0)?
                .into_iter()
                .filter_map(|s| {
                    let &(st, v) = s.points.last()?;
                    if is_stale_marker(v) {
                        return None;
                    }
                    Some(if start_times {
                        let start = s
                            .start_timestamps
                            .as_ref()
                            .map_or(0, |sts| sts[sts.len() - 1]);
                        Sample {
                            labels: s.labels,
                            t: ts,
                            v: seconds(start),
                            drop_name: true,
                        }
                    } else {
                        Sample {
                            labels: s.labels,
                            t: st,
                            v,
                            drop_name: false,
                        }
                    })
                })
                .collect(),
        };
        self.count_samples(out.len())?;
        Ok(out)
    }
}
