//! The storage traits: how scrapes and rules append samples and how PromQL
//! and the API read them, without knowing which engine stores them.
//!
//! They live here so the engine and the query side never import each other:
//! PromQL is tested against an in-memory store, the TSDB without PromQL.

use crate::Label;
use crate::histogram::FloatHistogram;

/// How a [`Matcher`] compares a label's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchType {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`, fully anchored like Prometheus' regex matchers.
    Regex,
    /// `!~`
    NotRegex,
}

impl MatchType {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::Regex => "=~",
            MatchType::NotRegex => "!~",
        }
    }
}

/// A label matcher of a selector, e.g. `job=~"node|mysql"`. A series without
/// the label is treated as having it with the empty value, as in Prometheus.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub kind: MatchType,
    pub value: String,
    regex: Option<regex::Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.kind == other.kind && self.value == other.value
    }
}

/// A regex in a matcher did not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid regular expression {pattern:?} for label {name}: {message}")]
pub struct MatcherError {
    pub name: String,
    pub pattern: String,
    pub message: String,
}

impl Matcher {
    pub fn new(
        kind: MatchType,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, MatcherError> {
        let (name, value) = (name.into(), value.into());
        let regex = match kind {
            MatchType::Regex | MatchType::NotRegex => Some(
                // Prometheus anchors regex matchers at both ends and lets
                // `.` match newlines.
                regex::RegexBuilder::new(&format!("^(?:{value})$"))
                    .dot_matches_new_line(true)
                    .build()
                    .map_err(|e| MatcherError {
                        name: name.clone(),
                        pattern: value.clone(),
                        message: e.to_string(),
                    })?,
            ),
            MatchType::Equal | MatchType::NotEqual => None,
        };
        Ok(Matcher {
            name,
            kind,
            value,
            regex,
        })
    }

    /// `name="value"`.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher {
            name: name.into(),
            kind: MatchType::Equal,
            value: value.into(),
            regex: None,
        }
    }

    /// Whether a label value (empty when the label is absent) matches.
    pub fn matches(&self, value: &str) -> bool {
        match self.kind {
            MatchType::Equal => self.value == value,
            MatchType::NotEqual => self.value != value,
            MatchType::Regex => self.regex.as_ref().is_some_and(|r| r.is_match(value)),
            MatchType::NotRegex => !self.regex.as_ref().is_some_and(|r| r.is_match(value)),
        }
    }

    /// Whether the matcher accepts the empty value, i.e. series that lack
    /// the label altogether.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// For `=~` matchers that are a plain alternation of literals
    /// (`a|b|c`), those literals: the index looks them up directly instead
    /// of testing every value.
    pub fn literal_alternatives(&self) -> Option<Vec<&str>> {
        if self.kind != MatchType::Regex {
            return None;
        }
        let is_literal = |s: &str| {
            s.chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ':' | '/' | ' ' | ','))
        };
        let parts: Vec<&str> = self.value.split('|').collect();
        parts.iter().all(|p| is_literal(p)).then_some(parts)
    }

    /// For `=~` matchers of the form `prefix.*` with a literal prefix.
    pub fn literal_prefix(&self) -> Option<&str> {
        if !matches!(self.kind, MatchType::Regex | MatchType::NotRegex) {
            return None;
        }
        let prefix = self.value.strip_suffix(".*")?;
        prefix
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ':' | '/'))
            .then_some(prefix)
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.kind.as_str(), self.value)
    }
}

/// Why a sample was not appended. Each reason is counted separately.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    #[error("out of order sample: {t} is before the series' last timestamp {last}")]
    OutOfOrder { last: i64, t: i64 },
    #[error("duplicate sample for timestamp {t} with a different value")]
    DuplicateTimestamp { t: i64 },
    #[error("out of bounds: {t} is older than the head allows ({min})")]
    OutOfBounds { min: i64, t: i64 },
    #[error("series limit of {limit} reached")]
    SeriesLimit { limit: usize },
    #[error("invalid series: {0}")]
    InvalidSeries(String),
}

/// A storage failure unrelated to the sample itself (I/O, corruption).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StorageError(pub String);

/// One selected series: its labels (sorted by name, `__name__` included)
/// and its samples within the selected range, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSamples {
    pub labels: Vec<Label>,
    pub samples: Vec<(i64, f64)>,
}

/// Appends samples; nothing is visible to readers before `commit`.
pub trait Appender {
    /// Queues one sample of the series `labels` (sorted by name, with
    /// `__name__`).
    fn append(&mut self, labels: &[Label], t: i64, v: f64) -> Result<(), AppendError>;
    /// [`append`](Self::append) with a ref the store returned for the same
    /// `labels` earlier (Prometheus' `Append(ref, …)`), so a store that
    /// hands out refs can skip looking the series up by its labels. `0`
    /// means none. Returns the series' ref to pass next time, or `0` when
    /// the store has none; a stale or unknown ref is never an error, the
    /// store then falls back to `labels`. A ref is only meaningful to the
    /// store (and the appender's store) that returned it.
    fn append_ref(
        &mut self,
        cached: u64,
        labels: &[Label],
        t: i64,
        v: f64,
    ) -> Result<u64, AppendError> {
        let _ = cached;
        self.append(labels, t, v).map(|()| 0)
    }
    /// Appends to the series of a ref that [`append_ref`](Self::append_ref)
    /// returned, without its labels: `None` when the store no longer has
    /// (or never handed out) that ref, and the caller must append by
    /// labels instead.
    fn append_known(&mut self, cached: u64, t: i64, v: f64) -> Option<Result<(), AppendError>> {
        let _ = (cached, t, v);
        None
    }
    /// Makes every queued sample durable and visible.
    fn commit(&mut self) -> Result<(), StorageError>;
    /// Drops every queued sample.
    fn rollback(&mut self);
}

/// What a query will do with a selection (Prometheus' `SelectHints`):
/// the time range it needs, and how it steps through it, so a store can
/// skip what will not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectHints {
    /// Oldest timestamp wanted, inclusive (ms).
    pub start: i64,
    /// Newest timestamp wanted, inclusive (ms).
    pub end: i64,
    /// Query resolution step (ms); 0 for an instant query.
    pub step: i64,
    /// Range of a range-vector selector (ms), 0 for an instant selector.
    pub range: i64,
    /// The function the selection feeds, if any (e.g. `rate`).
    pub func: Option<String>,
    /// Labels of an enclosing aggregation's `by`/`without` clause.
    pub grouping: Vec<String>,
    /// Whether `grouping` is a `by` (else `without`).
    pub by: bool,
    /// When the reader reads nothing but one window per step: each
    /// window's length (ms). The windows are Prometheus' left-open
    /// `(t − window, t]` for the step times `t = start − 1 + window +
    /// k·step` up to `end` (so the first is `[start, start + window − 1]`),
    /// and a store may leave out what lies between them. `0` (the default,
    /// and what a remote-read request gets) means anything in
    /// `[start, end]` may be read.
    pub window: i64,
}

impl SelectHints {
    /// Hints for all samples in `[start, end]`.
    pub fn range(start: i64, end: i64) -> Self {
        SelectHints {
            start,
            end,
            ..SelectHints::default()
        }
    }

    /// Whether samples in `[min_t, max_t]` (a chunk's first and last
    /// timestamps, inclusive) can be read under these hints: whether the
    /// span overlaps `[start, end]` and, when [`window`](Self::window) is
    /// set and the step is longer than it, one of the step windows.
    pub fn overlaps(&self, min_t: i64, max_t: i64) -> bool {
        if max_t < self.start || min_t > self.end {
            return false;
        }
        if self.window <= 0 || self.step <= 0 || self.window >= self.step {
            // One window, or windows that touch: all of `[start, end]`.
            return true;
        }
        let (start, end) = (i128::from(self.start), i128::from(self.end));
        let (window, step) = (i128::from(self.window), i128::from(self.step));
        // Window k is [start + k·step, start + k·step + window − 1]; the
        // first whose end reaches `min_t` is the only candidate (later
        // ones start later still).
        let reach = i128::from(min_t) - (start + window - 1);
        let k = if reach <= 0 {
            0
        } else {
            (reach + step - 1) / step
        };
        let first = start + k * step;
        let last = first + window - 1;
        last <= end && first <= i128::from(max_t)
    }
}

/// A series' samples, oldest first, decoded as they are read.
pub trait SampleIterator: Send {
    /// The next sample.
    fn next(&mut self) -> Option<(i64, f64)>;

    /// Advances to the first sample at or after `t` and returns it. Like
    /// Prometheus' `Seek`, it never moves backwards: if the sample most
    /// recently returned already satisfies `t`, it is returned again.
    /// Either way `next` continues after the returned sample.
    fn seek(&mut self, t: i64) -> Option<(i64, f64)>;

    /// The start timestamp (ms) of the sample most recently returned: when
    /// the counter or delta it belongs to began counting (OpenMetrics'
    /// created timestamp, OTLP's start time). `0` means it has none, as in
    /// Prometheus, which is also what a store that keeps none reports.
    fn start_timestamp(&self) -> i64 {
        0
    }

    /// Whether this series may hold native-histogram samples. `false`
    /// (the default, and every float-only store) promises that every
    /// sample is a float and [`histogram`](Self::histogram) is always
    /// `None`, so a reader checks this once per series and keeps its float
    /// path; when `true`, the reader asks `histogram` after every `next`
    /// or `seek`.
    fn may_have_histograms(&self) -> bool {
        false
    }

    /// The native histogram of the sample most recently returned by
    /// `next` or `seek`, when that sample is one; its float from `next` is
    /// then a placeholder (a NaN that is not the stale marker) to ignore.
    /// A histogram series' stale marker is returned as the float stale
    /// marker. `drain_until` is only for floats: a reader of a series that
    /// [`may_have_histograms`](Self::may_have_histograms) reads it sample
    /// by sample.
    fn histogram(&self) -> Option<&FloatHistogram> {
        None
    }

    /// Appends every following sample up to `maxt` (inclusive) to `out`,
    /// then stops; the first sample past `maxt` is consumed. Their start
    /// timestamps go to `start_timestamps`, one per sample (`0` for none),
    /// or not at all when none of them has one. What a reader that wants a
    /// whole window calls instead of `next` per sample, so a store can copy
    /// runs of samples at once.
    fn drain_until(
        &mut self,
        maxt: i64,
        out: &mut Vec<(i64, f64)>,
        start_timestamps: &mut Vec<i64>,
    ) {
        while let Some(s) = self.next() {
            if s.0 > maxt {
                break;
            }
            out.push(s);
            start_timestamps.push(self.start_timestamp());
        }
    }
}

/// A selected series: labels (sorted, `__name__` included) and a lazy
/// iterator over its samples in the selected range.
pub struct Series {
    pub labels: Vec<Label>,
    pub samples: Box<dyn SampleIterator>,
}

impl std::fmt::Debug for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Series")
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

impl Series {
    /// Decodes every remaining sample.
    pub fn collect(mut self) -> SeriesSamples {
        let mut samples = Vec::new();
        while let Some(s) = self.samples.next() {
            samples.push(s);
        }
        SeriesSamples {
            labels: self.labels,
            samples,
        }
    }
}

/// A [`SampleIterator`] over samples already in memory.
#[derive(Debug, Clone, Default)]
pub struct VecSampleIterator {
    samples: Vec<(i64, f64)>,
    /// Start timestamps aligned with `samples`, if any sample has one.
    start_timestamps: Option<Vec<i64>>,
    /// Index of the next sample to return.
    pos: usize,
}

impl VecSampleIterator {
    pub fn new(samples: Vec<(i64, f64)>) -> Self {
        VecSampleIterator {
            samples,
            start_timestamps: None,
            pos: 0,
        }
    }

    /// Samples with their start timestamps (`0` for none), one per sample.
    pub fn with_start_timestamps(samples: Vec<(i64, f64)>, start_timestamps: Vec<i64>) -> Self {
        debug_assert_eq!(samples.len(), start_timestamps.len());
        VecSampleIterator {
            samples,
            start_timestamps: Some(start_timestamps),
            pos: 0,
        }
    }
}

impl SampleIterator for VecSampleIterator {
    fn next(&mut self) -> Option<(i64, f64)> {
        let s = self.samples.get(self.pos).copied();
        self.pos += usize::from(s.is_some());
        s
    }

    fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
        if let Some(&current) = self.pos.checked_sub(1).and_then(|i| self.samples.get(i))
            && current.0 >= t
        {
            return Some(current);
        }
        self.pos += self.samples[self.pos..].partition_point(|s| s.0 < t);
        self.next()
    }

    fn start_timestamp(&self) -> i64 {
        match (&self.start_timestamps, self.pos.checked_sub(1)) {
            (Some(sts), Some(i)) => sts.get(i).copied().unwrap_or(0),
            _ => 0,
        }
    }

    fn drain_until(
        &mut self,
        maxt: i64,
        out: &mut Vec<(i64, f64)>,
        start_timestamps: &mut Vec<i64>,
    ) {
        let rest = &self.samples[self.pos..];
        let n = rest.partition_point(|s| s.0 <= maxt);
        out.extend_from_slice(&rest[..n]);
        if let Some(sts) = &self.start_timestamps {
            start_timestamps.extend_from_slice(&sts[self.pos..self.pos + n]);
        }
        // Past the window, as if the next sample had been read.
        self.pos = (self.pos + n + 1).min(self.samples.len());
    }
}

/// Read access to stored series.
pub trait Queryable: Send + Sync {
    /// Series matching all `matchers` with samples in
    /// `[hints.start, hints.end]`, sorted by labels, each with a lazy,
    /// seekable iterator over those samples.
    fn select_series(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<Series>, StorageError>;

    /// [`select_series`](Self::select_series) with every sample of
    /// `[mint, maxt]` (milliseconds, both inclusive) decoded.
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SeriesSamples>, StorageError> {
        Ok(self
            .select_series(matchers, &SelectHints::range(mint, maxt))?
            .into_iter()
            .map(Series::collect)
            .collect())
    }

    /// Label names of the series matching `matchers` (all series when
    /// empty) with samples in `[mint, maxt]`, sorted.
    fn label_names(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError>;

    /// Values of label `name` over the same series, sorted.
    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError>;
}

/// A store that can be appended to and read: what scraping and rules write
/// into.
pub trait Storage: Queryable {
    /// A new appender; its samples become visible at `commit`.
    fn appender(&self) -> Box<dyn Appender + Send + '_>;
}

pub use crate::stale::{STALE_NAN_BITS, is_stale_marker};

#[cfg(test)]
mod tests {
    use super::*;

    fn check(kind: MatchType, pattern: &str, value: &str, expected: bool) {
        let m = Matcher::new(kind, "l", pattern).unwrap();
        assert_eq!(m.matches(value), expected, "{m} on {value:?}");
    }

    #[test]
    fn matchers_follow_prometheus() {
        check(MatchType::Equal, "a", "a", true);
        check(MatchType::Equal, "", "", true);
        check(MatchType::NotEqual, "a", "", true);
        // Regexes are anchored at both ends.
        check(MatchType::Regex, "a.", "abc", false);
        check(MatchType::Regex, "a.*", "abc", true);
        check(MatchType::Regex, "b", "abc", false);
        check(MatchType::Regex, "a|b", "b", true);
        check(MatchType::Regex, ".*", "", true);
        check(MatchType::Regex, ".+", "", false);
        check(MatchType::Regex, "a.c", "a\nc", true);
        check(MatchType::NotRegex, "a.*", "abc", false);
        check(MatchType::NotRegex, "a.*", "", true);
    }

    #[test]
    fn fast_paths_are_recognized() {
        let m = Matcher::new(MatchType::Regex, "job", "node|mysql").unwrap();
        assert_eq!(m.literal_alternatives(), Some(vec!["node", "mysql"]));
        let m = Matcher::new(MatchType::Regex, "job", "no.e").unwrap();
        assert_eq!(m.literal_alternatives(), None);
        let m = Matcher::new(MatchType::Regex, "path", "/var/.*").unwrap();
        assert_eq!(m.literal_prefix(), Some("/var/"));
    }

    #[test]
    fn vec_iterator_seeks_like_prometheus() {
        let mut it = VecSampleIterator::new(vec![(1, 1.0), (5, 5.0), (9, 9.0)]);
        assert_eq!(it.seek(0), Some((1, 1.0)));
        // Never backwards: the current sample satisfies it.
        assert_eq!(it.seek(1), Some((1, 1.0)));
        assert_eq!(it.seek(2), Some((5, 5.0)));
        assert_eq!(it.next(), Some((9, 9.0)));
        assert_eq!(it.seek(3), Some((9, 9.0)));
        assert_eq!(it.seek(10), None);
        assert_eq!(it.next(), None);
    }

    #[test]
    fn drain_until_copies_the_window_like_next_would() {
        let samples = vec![(1, 1.0), (5, 5.0), (9, 9.0), (12, 12.0)];
        let mut it = VecSampleIterator::with_start_timestamps(samples.clone(), vec![0, 4, 8, 11]);
        assert_eq!(it.seek(2), Some((5, 5.0)));
        let (mut out, mut sts) = (vec![(5, 5.0)], vec![it.start_timestamp()]);
        it.drain_until(9, &mut out, &mut sts);
        assert_eq!(out, vec![(5, 5.0), (9, 9.0)]);
        assert_eq!(sts, vec![4, 8]);
        // The default, sample by sample, agrees.
        struct OneByOne(VecSampleIterator);
        impl SampleIterator for OneByOne {
            fn next(&mut self) -> Option<(i64, f64)> {
                self.0.next()
            }
            fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
                self.0.seek(t)
            }
        }
        let mut plain = OneByOne(VecSampleIterator::new(samples));
        let (mut out2, mut sts2) = (Vec::new(), Vec::new());
        plain.drain_until(9, &mut out2, &mut sts2);
        assert_eq!(out2, vec![(1, 1.0), (5, 5.0), (9, 9.0)]);
        assert_eq!(sts2, vec![0, 0, 0], "the default gives one per sample");
        let mut without = VecSampleIterator::new(vec![(1, 1.0)]);
        let mut none = Vec::new();
        without.drain_until(9, &mut Vec::new(), &mut none);
        assert!(none.is_empty(), "a store without any may give none");
        let mut empty = VecSampleIterator::new(Vec::new());
        empty.drain_until(9, &mut out2, &mut sts2);
        assert_eq!(out2.len(), 3);
    }

    #[test]
    fn vec_iterator_reports_the_start_timestamp_of_the_last_sample() {
        let mut it =
            VecSampleIterator::with_start_timestamps(vec![(10, 1.0), (20, 2.0)], vec![5, 0]);
        assert_eq!(it.start_timestamp(), 0, "nothing returned yet");
        assert_eq!(it.next(), Some((10, 1.0)));
        assert_eq!(it.start_timestamp(), 5);
        assert_eq!(it.seek(20), Some((20, 2.0)));
        assert_eq!(it.start_timestamp(), 0);
        let mut plain = VecSampleIterator::new(vec![(10, 1.0)]);
        plain.next();
        assert_eq!(plain.start_timestamp(), 0);
    }

    #[test]
    fn hints_overlap_only_the_step_windows() {
        // Steps every 100 ms from 1000 to 1400 (hints end 1400), windows
        // of 30 ms: (970, 1000], (1070, 1100], … → [971, 1000], [1071, 1100], …
        let h = SelectHints {
            start: 971,
            end: 1400,
            step: 100,
            window: 30,
            ..SelectHints::range(971, 1400)
        };
        // Boundaries of the first window: the left end is open.
        assert!(!h.overlaps(900, 970));
        assert!(h.overlaps(900, 971));
        assert!(h.overlaps(1000, 1000));
        assert!(!h.overlaps(1001, 1070));
        assert!(h.overlaps(1001, 1071));
        assert!(h.overlaps(1050, 1200), "spans a whole window");
        assert!(h.overlaps(1371, 1371));
        assert!(h.overlaps(1400, 1500));
        assert!(!h.overlaps(1401, 1500), "past the end");
        assert!(!h.overlaps(0, 900), "before the start");
        // The end cuts off a window that would end past it.
        let cut = SelectHints {
            end: 1350,
            ..h.clone()
        };
        assert!(!cut.overlaps(1371, 1380));
        assert!(cut.overlaps(1271, 1300));
        // Without a window, or with windows that touch, or an instant
        // query (step 0): everything in [start, end].
        for plain in [
            SelectHints {
                window: 0,
                ..h.clone()
            },
            SelectHints {
                window: 100,
                ..h.clone()
            },
            SelectHints {
                step: 0,
                ..h.clone()
            },
            SelectHints::range(971, 1400),
        ] {
            assert!(plain.overlaps(1001, 1070), "{plain:?}");
            assert!(plain.overlaps(1400, 1400));
            assert!(!plain.overlaps(1401, 1402));
            assert!(!plain.overlaps(0, 970));
        }
        // Extreme values do not overflow.
        let wide = SelectHints {
            start: i64::MIN,
            end: i64::MAX,
            step: i64::MAX,
            window: 1,
            ..SelectHints::default()
        };
        assert!(wide.overlaps(i64::MIN, i64::MIN));
        // Windows at MIN, −1 and MAX − 1 only.
        assert!(!wide.overlaps(i64::MIN + 1, -2));
        assert!(wide.overlaps(-1, -1));
        assert!(!wide.overlaps(0, i64::MAX - 2));
        assert!(wide.overlaps(i64::MAX - 1, i64::MAX));
        assert!(wide.overlaps(i64::MIN, i64::MAX));
    }

    #[test]
    fn bad_regex_is_a_clear_error() {
        let err = Matcher::new(MatchType::Regex, "job", "(").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid regular expression \"(\" for label job")
        );
    }
}
