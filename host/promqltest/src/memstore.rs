//! An in-memory store for the scripted tests: label set → samples, behind
//! the storage traits of `wasmetheus-model` so the engine reads it exactly
//! as it reads the TSDB. Native-histogram samples are kept beside the
//! floats and read back interleaved with them, with the counter-reset
//! hints Prometheus' head would give them (`head_hints.rs`).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, RwLock};

use wasmetheus_model::Label;
use wasmetheus_model::storage::{
    AppendError, Appender, Matcher, Queryable, SampleIterator, SelectHints, Series, Storage,
    StorageError,
};

use super::head_hints::{Kind, hints};
use super::nh::matches;
use wasmetheus_model::histogram::FloatHistogram;
use wasmetheus_promql::value::Histogram;

/// Everything stored for one series.
#[derive(Debug, Clone, Default)]
pub struct SeriesData {
    /// Float samples (stale markers included), sorted by timestamp;
    /// shared with the iterators of queries, so selecting copies nothing.
    pub floats: Arc<Vec<(i64, f64)>>,
    /// Histogram samples, sorted by timestamp.
    pub histograms: Vec<(i64, Histogram)>,
    /// Start timestamp per sample timestamp, where the script gave one.
    pub start_times: BTreeMap<i64, i64>,
    /// For a series with histograms: every sample in time order with the
    /// hints the head gives, built on the first read after a change, so a
    /// read costs a search, not a pass over the series.
    merged: OnceLock<Arc<Merged>>,
}

/// The stored samples decide; the cache does not.
impl PartialEq for SeriesData {
    fn eq(&self, other: &Self) -> bool {
        self.floats == other.floats
            && self.histograms == other.histograms
            && self.start_times == other.start_times
    }
}

/// A series holding native histograms as its iterators read it.
#[derive(Debug)]
struct Merged {
    /// Floats, and a NaN placeholder where `histograms` has one.
    samples: Vec<(i64, f64)>,
    histograms: Vec<Option<FloatHistogram>>,
    start_timestamps: Option<Vec<i64>>,
}

impl Merged {
    /// A histogram wins over a float at the same timestamp.
    fn new(data: &SeriesData) -> Self {
        let mut all: Vec<(i64, Result<&Histogram, f64>)> = data
            .floats
            .iter()
            .filter(|f| data.histograms.binary_search_by_key(&f.0, |h| h.0).is_err())
            .map(|f| (f.0, Err(f.1)))
            .chain(data.histograms.iter().map(|(t, h)| (*t, Ok(h))))
            .collect();
        all.sort_by_key(|s| s.0);
        let hints = hints(all.iter().map(|&(t, h)| {
            (
                t,
                match h {
                    Ok(h) => Kind::Histogram(h),
                    Err(_) => Kind::Float,
                },
            )
        }));
        let (mut samples, mut histograms) = (Vec::new(), Vec::new());
        for (&(t, h), hint) in all.iter().zip(hints) {
            match h {
                Ok(h) => {
                    samples.push((t, f64::NAN));
                    histograms.push(Some(FloatHistogram {
                        counter_reset_hint: hint.unwrap_or_default(),
                        ..h.clone()
                    }));
                }
                Err(v) => {
                    samples.push((t, v));
                    histograms.push(None);
                }
            }
        }
        let start_timestamps = (!data.start_times.is_empty()).then(|| {
            samples
                .iter()
                .map(|s| data.start_times.get(&s.0).copied().unwrap_or(0))
                .collect()
        });
        Merged {
            samples,
            histograms,
            start_timestamps,
        }
    }
}

/// A selected series: labels and an iterator over its samples in the
/// range.
type Selected = (Vec<Label>, Box<dyn SampleIterator>);

/// An iterator over a window of a series' shared samples.
struct SharedSamples {
    samples: Arc<Vec<(i64, f64)>>,
    /// Start timestamps of `samples[from..end]`, if the series has any.
    start_timestamps: Option<Vec<i64>>,
    from: usize,
    end: usize,
    /// Index of the next sample to return.
    pos: usize,
}

impl SampleIterator for SharedSamples {
    fn next(&mut self) -> Option<(i64, f64)> {
        if self.pos >= self.end {
            return None;
        }
        self.pos += 1;
        Some(self.samples[self.pos - 1])
    }

    fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
        if self.pos > self.from && self.samples[self.pos - 1].0 >= t {
            return Some(self.samples[self.pos - 1]);
        }
        // Usually the window already starts there: no search.
        if self.pos < self.end && self.samples[self.pos].0 < t {
            self.pos += self.samples[self.pos..self.end].partition_point(|s| s.0 < t);
        }
        self.next()
    }

    fn start_timestamp(&self) -> i64 {
        match &self.start_timestamps {
            Some(sts) if self.pos > self.from => sts[self.pos - 1 - self.from],
            _ => 0,
        }
    }

    fn drain_until(
        &mut self,
        maxt: i64,
        out: &mut Vec<(i64, f64)>,
        start_timestamps: &mut Vec<i64>,
    ) {
        let rest = &self.samples[self.pos..self.end];
        // Usually the whole rest of the window: no search.
        let n = match (rest.last(), maxt.checked_add(1)) {
            (Some(last), _) if last.0 <= maxt => rest.len(),
            (_, Some(after)) => first_at_or_after(rest, after),
            (_, None) => rest.len(),
        };
        out.extend_from_slice(&self.samples[self.pos..self.pos + n]);
        if let Some(sts) = &self.start_timestamps {
            let at = self.pos - self.from;
            start_timestamps.extend_from_slice(&sts[at..at + n]);
        }
        self.pos = (self.pos + n + 1).min(self.end);
    }
}

/// An iterator over a window of a series holding native histograms:
/// floats and histograms in time order, each histogram with its hint.
struct MixedSamples {
    merged: Arc<Merged>,
    from: usize,
    end: usize,
    /// Index of the next sample to return.
    pos: usize,
}

impl MixedSamples {
    /// The window `[mint, maxt]` of `data`; `None` when it has no sample
    /// there.
    fn new(data: &SeriesData, mint: i64, maxt: i64) -> Option<Self> {
        let merged = Arc::clone(data.merged.get_or_init(|| Arc::new(Merged::new(data))));
        let from = merged.samples.partition_point(|s| s.0 < mint);
        let end = merged.samples.partition_point(|s| s.0 <= maxt);
        (from < end).then_some(MixedSamples {
            merged,
            from,
            end,
            pos: from,
        })
    }
}

impl SampleIterator for MixedSamples {
    fn next(&mut self) -> Option<(i64, f64)> {
        if self.pos >= self.end {
            return None;
        }
        self.pos += 1;
        Some(self.merged.samples[self.pos - 1])
    }

    fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
        let samples = &self.merged.samples;
        if self.pos > self.from && samples[self.pos - 1].0 >= t {
            return Some(samples[self.pos - 1]);
        }
        if self.pos < self.end {
            self.pos += samples[self.pos..self.end].partition_point(|s| s.0 < t);
        }
        self.next()
    }

    fn start_timestamp(&self) -> i64 {
        match &self.merged.start_timestamps {
            Some(sts) if self.pos > self.from => sts[self.pos - 1],
            _ => 0,
        }
    }

    fn may_have_histograms(&self) -> bool {
        true
    }

    fn histogram(&self) -> Option<&FloatHistogram> {
        if self.pos <= self.from {
            return None;
        }
        self.merged.histograms.get(self.pos - 1)?.as_ref()
    }
}

/// The index of the first sample at or after `t` (`partition_point(|s|
/// s.0 < t)`), found by probing where `t` would be if the samples were
/// evenly spaced, as scraped series nearly are: a selection over
/// thousands of series then touches two or three cache lines of each
/// instead of the eight or nine of a binary search. Anything else falls
/// back to the binary search.
fn first_at_or_after(samples: &[(i64, f64)], t: i64) -> usize {
    let n = samples.len();
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return 0;
    };
    if first.0 >= t {
        return 0;
    }
    if last.0 < t {
        return n;
    }
    // Now first.0 < t <= last.0: the answer is in [1, n - 1], n >= 2.
    let span = i128::from(last.0) - i128::from(first.0);
    let offset = i128::from(t) - i128::from(first.0);
    let guess = usize::try_from(offset * (n as i128 - 1) / span.max(1)).unwrap_or(n - 1);
    let lo = guess.saturating_sub(2).clamp(1, n - 1);
    let hi = guess.saturating_add(2).clamp(lo, n - 1);
    if samples[lo - 1].0 < t && samples[hi].0 >= t {
        return lo + samples[lo..hi].partition_point(|s| s.0 < t);
    }
    samples.partition_point(|s| s.0 < t)
}

/// The store. Cheap to create; `clear` empties it.
#[derive(Debug, Default)]
pub struct MemStore {
    series: RwLock<BTreeMap<Vec<Label>, SeriesData>>,
}

impl MemStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops every series.
    pub fn clear(&self) {
        self.series.write().unwrap().clear();
    }

    /// Stores a histogram sample (outside the float-only `Appender`).
    pub fn append_histogram(&self, labels: &[Label], t: i64, h: Histogram) {
        let mut series = self.series.write().unwrap();
        let data = series.entry(labels.to_vec()).or_default();
        data.merged = OnceLock::new();
        let at = data.histograms.partition_point(|(ts, _)| *ts < t);
        if data.histograms.get(at).is_some_and(|(ts, _)| *ts == t) {
            data.histograms[at].1 = h;
        } else {
            data.histograms.insert(at, (t, h));
        }
    }

    /// Records the start timestamp `st` of the sample of `labels` at `t`.
    pub fn set_start_time(&self, labels: &[Label], t: i64, st: i64) {
        let mut series = self.series.write().unwrap();
        let data = series.entry(labels.to_vec()).or_default();
        data.merged = OnceLock::new();
        data.start_times.insert(t, st);
    }

    /// A copy of one series' data.
    pub fn get(&self, labels: &[Label]) -> Option<SeriesData> {
        self.series.read().unwrap().get(labels).cloned()
    }

    /// Label sets of every series, sorted.
    pub fn label_sets(&self) -> Vec<Vec<Label>> {
        self.series.read().unwrap().keys().cloned().collect()
    }

    /// The series matching `matchers` with a sample in `[mint, maxt]`, with
    /// those samples.
    fn matching(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Selected> {
        let series = self.series.read().unwrap();
        series
            .iter()
            .filter(|(labels, _)| matches(matchers, labels))
            .filter_map(|(labels, data)| {
                if !data.histograms.is_empty() {
                    let samples = MixedSamples::new(data, mint, maxt)?;
                    return Some((labels.clone(), Box::new(samples) as Box<dyn SampleIterator>));
                }
                let from = first_at_or_after(&data.floats, mint);
                let to = match maxt.checked_add(1) {
                    Some(after) => first_at_or_after(&data.floats, after),
                    None => data.floats.len(),
                };
                if from >= to {
                    return None;
                }
                let start_timestamps = (!data.start_times.is_empty()).then(|| {
                    data.floats[from..to]
                        .iter()
                        .map(|s| data.start_times.get(&s.0).copied().unwrap_or(0))
                        .collect()
                });
                Some((
                    labels.clone(),
                    Box::new(SharedSamples {
                        samples: Arc::clone(&data.floats),
                        start_timestamps,
                        from,
                        end: to,
                        pos: from,
                    }) as Box<dyn SampleIterator>,
                ))
            })
            .collect()
    }
}

impl Queryable for MemStore {
    fn select_series(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<Series>, StorageError> {
        Ok(self
            .matching(matchers, hints.start, hints.end)
            .into_iter()
            .map(|(labels, samples)| Series { labels, samples })
            .collect())
    }

    fn label_names(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        let mut names: Vec<String> = self
            .matching(matchers, mint, maxt)
            .into_iter()
            .flat_map(|(labels, ..)| labels.into_iter().map(|l| l.name))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        let mut values: Vec<String> = self
            .matching(matchers, mint, maxt)
            .into_iter()
            .filter_map(|(labels, ..)| labels.into_iter().find(|l| l.name == name).map(|l| l.value))
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }
}

impl Storage for MemStore {
    fn appender(&self) -> Box<dyn Appender + Send + '_> {
        Box::new(MemAppender {
            store: self,
            pending: Vec::new(),
        })
    }
}

/// Queues float samples until `commit`.
struct MemAppender<'a> {
    store: &'a MemStore,
    pending: Vec<(Vec<Label>, i64, f64)>,
}

impl Appender for MemAppender<'_> {
    fn append(&mut self, labels: &[Label], t: i64, v: f64) -> Result<(), AppendError> {
        if !labels.windows(2).all(|w| w[0].name < w[1].name) {
            return Err(AppendError::InvalidSeries(
                "labels must be sorted by name and unique".into(),
            ));
        }
        let clash = |existing: f64| existing.to_bits() != v.to_bits();
        let committed = self.store.series.read().unwrap().get(labels).and_then(|d| {
            let at = d.floats.partition_point(|s| s.0 < t);
            d.floats.get(at).filter(|s| s.0 == t).map(|s| s.1)
        });
        let queued = self
            .pending
            .iter()
            .rev()
            .find(|(l, ts, _)| *ts == t && l == labels)
            .map(|p| p.2);
        if committed.or(queued).is_some_and(clash) {
            return Err(AppendError::DuplicateTimestamp { t });
        }
        self.pending.push((labels.to_vec(), t, v));
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StorageError> {
        let mut series = self.store.series.write().unwrap();
        for (labels, t, v) in self.pending.drain(..) {
            let data = series.entry(labels).or_default();
            data.merged = OnceLock::new();
            // Copies only if a query still holds the samples.
            let floats = Arc::make_mut(&mut data.floats);
            // Loads may add older samples to a series later; keep it sorted.
            let at = floats.partition_point(|s| s.0 < t);
            if floats.get(at).is_some_and(|s| s.0 == t) {
                floats[at].1 = v;
            } else {
                floats.insert(at, (t, v));
            }
        }
        Ok(())
    }

    fn rollback(&mut self) {
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmetheus_model::storage::MatchType;

    fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
        let mut l: Vec<Label> = pairs.iter().map(|(n, v)| Label::new(*n, *v)).collect();
        l.sort();
        l
    }

    #[test]
    fn the_guessed_search_agrees_with_a_binary_search() {
        let regular: Vec<(i64, f64)> = (0..100).map(|i| (i * 15, 0.0)).collect();
        let mut irregular: Vec<(i64, f64)> = (0..50).map(|i| (i * i * 7 - 3, 0.0)).collect();
        irregular.extend((0..20).map(|i| (20_000 + i, 0.0)));
        let cases: [&[(i64, f64)]; 5] = [
            &[],
            &[(5, 0.0)],
            &regular,
            &irregular,
            &[(i64::MIN, 0.0), (i64::MAX, 0.0)],
        ];
        for samples in cases {
            let ts = samples
                .iter()
                .flat_map(|s| [s.0.saturating_sub(1), s.0, s.0.saturating_add(1)]);
            for t in ts.chain([i64::MIN, i64::MAX, 0, 750, 751]) {
                assert_eq!(
                    first_at_or_after(samples, t),
                    samples.partition_point(|s| s.0 < t),
                    "{t} in {samples:?}"
                );
            }
        }
    }

    #[test]
    fn appends_become_visible_at_commit_and_select_filters() {
        let store = MemStore::new();
        let a = labels(&[("__name__", "up"), ("job", "a")]);
        let b = labels(&[("__name__", "up"), ("job", "b"), ("x", "1")]);
        let mut app = store.appender();
        app.append(&a, 10, 1.0).unwrap();
        app.append(&a, 0, 0.5).unwrap();
        app.append(&b, 20, 2.0).unwrap();
        assert_eq!(
            app.append(&a, 10, 3.0),
            Err(AppendError::DuplicateTimestamp { t: 10 })
        );
        assert!(store.select(&[], i64::MIN, i64::MAX).unwrap().is_empty());
        app.commit().unwrap();
        drop(app);

        let all = store
            .select(&[Matcher::equal("__name__", "up")], 0, 100)
            .unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].samples, vec![(0, 0.5), (10, 1.0)]);
        // Only series with samples in range.
        let late = store
            .select(&[Matcher::equal("__name__", "up")], 15, 100)
            .unwrap();
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].labels, b);
        // A matcher accepting "" also matches series lacking the label.
        let no_x = Matcher::new(MatchType::Equal, "x", "").unwrap();
        let got = store.select(&[no_x], 0, 100).unwrap();
        assert_eq!(got.iter().map(|s| &s.labels).collect::<Vec<_>>(), vec![&a]);
        let re = Matcher::new(MatchType::Regex, "x", "1|").unwrap();
        assert_eq!(store.select(&[re], 0, 100).unwrap().len(), 2);

        assert_eq!(
            store.label_names(&[], 0, 100).unwrap(),
            vec!["__name__", "job", "x"]
        );
        assert_eq!(
            store.label_values("job", &[], 0, 100).unwrap(),
            vec!["a", "b"]
        );
        assert_eq!(store.label_values("job", &[], 0, 5).unwrap(), vec!["a"]);
        store.clear();
        assert!(store.label_sets().is_empty());
    }
}
