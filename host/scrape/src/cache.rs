//! The scrape cache: what a target's series became (their storage ref, or
//! that relabeling drops them), keyed by the series as the target wrote
//! it, so a scrape of known series builds no label sets at all.
//!
//! Prometheus' `scrapeCache` works the same way, with one more step: the
//! series are kept in the order the target exposed them, and the one
//! after the last found is tried first, so the lookup of a target that
//! exposes its series in the same order every time (nearly all) is one
//! comparison, without a random memory access.
//!
//! The cache keeps no text: a series is known by its [`Key`], a keyed
//! 128-bit hash of its text (see `key.rs` for why that is as good as the
//! text), 40 bytes per series with its entry instead of the text's own
//! allocation.
//!
//! A scrape is staged in a
//! [`Batch`] while the body is parsed and only appended once all of it
//! parsed and passed the limits: a failed scrape ingests nothing.

use std::fmt::Write as _;
use std::sync::Arc;

use wasmetheus_model::storage::{Appender, STALE_NAN_BITS, Storage};
use wasmetheus_model::text::{RawSample, SampleSink};
use wasmetheus_model::{Label, Sample};
use wasmetheus_relabel::relabel;

use crate::ScrapeOptions;
use crate::key::Key;

/// A target's series, from one scrape to the next. Only series of the
/// last scrape are kept, so it holds no more than the target exposes.
#[derive(Debug, Default)]
pub(crate) struct ScrapeCache {
    iteration: u32,
    entries: Entries,
    /// Refs of `up` and the `scrape_*` series, in [`REPORT`] order.
    report: [Slot; 5],
    /// Whether the report series have samples that were not marked stale.
    report_live: bool,
    /// The target went away: its loop must not append any more.
    pub closed: bool,
}

/// The synthetic series every scrape adds.
pub(crate) const REPORT: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

#[derive(Debug)]
struct Entry {
    key: Key,
    slot: Slot,
    /// The iteration that last exposed it (compared for equality only,
    /// so wrapping is harmless; 4 bytes, as there is one per series).
    seen: u32,
    /// A failed scrape already ended it with a stale marker.
    stale: bool,
    /// Its first sample had its own timestamp (honored): like Prometheus,
    /// which tracks no staleness for such samples (federated ones) unless
    /// `track_timestamps_staleness`, it gets no stale marker when it goes
    /// away.
    timed: bool,
}

/// The cache's series: a vector in the order they were added (a
/// scrape's new series in the scrape's order) and a hash table of indexes
/// into it. The vector is kept near its length: it grows by an eighth
/// more than a scrape needs and shrinks back once a quarter is unused, so
/// a target whose series churn reallocates nothing from scrape to scrape.
#[derive(Debug, Default)]
struct Entries {
    items: Vec<Entry>,
    table: hashbrown::HashTable<u32>,
}

impl Entries {
    fn len(&self) -> usize {
        self.items.len()
    }

    /// The index of `key`, trying `guess` first.
    #[inline]
    fn find(&self, key: Key, guess: usize) -> Option<usize> {
        if let Some(e) = self.items.get(guess)
            && e.key == key
        {
            return Some(guess);
        }
        let items = &self.items;
        self.table
            .find(key.hash(), |&i| items[i as usize].key == key)
            .map(|&i| i as usize)
    }

    fn get_mut(&mut self, i: usize) -> &mut Entry {
        &mut self.items[i]
    }

    /// Makes room for `additional` more entries (and an eighth of the
    /// total to spare, so that steady growth does not reallocate often).
    fn reserve(&mut self, additional: usize) {
        let items = &mut self.items;
        if items.capacity() - items.len() < additional {
            let total = items.len() + additional;
            items.reserve_exact(additional + total / 8);
        }
    }

    /// Adds an entry, or replaces the one of its key.
    fn insert(&mut self, entry: Entry) {
        let key = entry.key;
        let items = &mut self.items;
        if let Some(&i) = self
            .table
            .find(key.hash(), |&i| items[i as usize].key == key)
        {
            items[i as usize] = entry;
            return;
        }
        let i = u32::try_from(items.len()).expect("fewer than 2^32 series in a target");
        items.push(entry);
        self.table
            .insert_unique(key.hash(), i, |&j| items[j as usize].key.hash());
    }

    /// Keeps the entries `keep` says to keep, in their order, and gives
    /// back what a shrinking target no longer needs.
    fn retain(&mut self, keep: impl FnMut(&mut Entry) -> bool) {
        let before = self.items.len();
        self.items.retain_mut(keep);
        let len = self.items.len();
        if len == before {
            return;
        }
        if self.items.capacity() > len + len / 4 {
            self.items.shrink_to(len + len / 8);
        }
        if self.table.capacity() > 2 * len.max(16) {
            self.table = hashbrown::HashTable::with_capacity(len);
        } else {
            self.table.clear();
        }
        let items = &self.items;
        for (i, e) in items.iter().enumerate() {
            self.table
                .insert_unique(e.key.hash(), i as u32, |&j| items[j as usize].key.hash());
        }
    }

    fn values(&self) -> impl Iterator<Item = &Entry> {
        self.items.iter()
    }

    fn values_mut(&mut self) -> impl Iterator<Item = &mut Entry> {
        self.items.iter_mut()
    }

    fn clear(&mut self) {
        self.items = Vec::new();
        self.table = hashbrown::HashTable::new();
    }

    /// Bytes the entries take on the heap (allocated capacity).
    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        // hashbrown: a u32 and a control byte per bucket; buckets are a
        // power of two at most 8/7 of the capacity.
        let buckets = (self.table.capacity() * 8 / 7).next_power_of_two();
        self.items.capacity() * size_of::<Entry>() + buckets * (size_of::<u32>() + 1)
    }
}

/// Where a series' samples go.
#[derive(Debug, Clone, Default)]
enum Slot {
    /// Not appended yet (or no storage).
    #[default]
    None,
    /// The storage's ref: appends need no labels.
    Ref(u64),
    /// A storage that hands out no refs gets the labels every time.
    Labels(Arc<Vec<Label>>),
    /// Metric relabeling drops it.
    Dropped,
}

/// One sample waiting for the scrape to turn out valid.
enum Staged {
    Known(Slot),
    /// Index into [`Batch::misses`].
    New(usize),
}

/// What one scrape did, for the report series and the target's state.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counts {
    pub scraped: usize,
    pub post_relabeling: usize,
    pub added: usize,
}

/// One scrape being parsed into the cache. Hits cost one hash lookup of
/// the series text; misses build the series' labels (target labels,
/// `honor_labels`, metric relabeling, label limits) once.
pub(crate) struct Batch<'c> {
    cache: &'c mut ScrapeCache,
    target_labels: &'c [Label],
    options: &'c ScrapeOptions,
    /// The scrape's time: samples without their own timestamp (or all,
    /// without `honor_timestamps`) get it.
    t: i64,
    staged: Vec<(Staged, i64, f64)>,
    /// Series new to the cache: key, labels (`None`: dropped by
    /// relabeling), and whether the sample had its own timestamp.
    misses: Vec<(Key, Option<Vec<Label>>, bool)>,
    counts: Counts,
    error: Option<String>,
    /// For keys of samples that are not text-format lines.
    key: String,
    /// What the last [`SampleSink::knows`] found.
    known: Option<Slot>,
    /// The text (address and length) and key of the last series
    /// [`SampleSink::knows`] did not know: the parser hands the same text
    /// to [`SampleSink::sample`] next, which then need not hash it again.
    unknown: (usize, usize, Key),
    /// The entry after the last one found: the first guess for the next.
    cursor: usize,
}

impl ScrapeCache {
    /// Starts staging the next scrape.
    pub fn batch<'c>(
        &'c mut self,
        target_labels: &'c [Label],
        options: &'c ScrapeOptions,
        t: i64,
    ) -> Batch<'c> {
        self.iteration = self.iteration.wrapping_add(1);
        let expected = self.entries.len() + 8;
        Batch {
            cache: self,
            target_labels,
            options,
            t,
            staged: Vec::with_capacity(expected),
            misses: Vec::new(),
            counts: Counts::default(),
            error: None,
            key: String::new(),
            known: None,
            unknown: (0, 0, Key::NONE),
            cursor: 0,
        }
    }

    /// Ends every series with a stale marker at `t` (the target went
    /// away) and forgets them.
    pub fn end(&mut self, storage: &dyn Storage, target_labels: &[Label], t: i64) {
        self.closed = true;
        let mut app = storage.appender();
        for entry in self.entries.values().filter(|e| !e.stale && !e.timed) {
            append_stale(&mut *app, &entry.slot, t);
        }
        if self.report_live {
            self.mark_report_stale(&mut *app, target_labels, t);
        }
        self.entries.clear();
        commit(&mut *app, "writing stale markers");
    }

    fn mark_report_stale(&mut self, app: &mut dyn Appender, target_labels: &[Label], t: i64) {
        for (i, name) in REPORT.into_iter().enumerate() {
            let _ = append_report(
                app,
                &mut self.report[i],
                name,
                target_labels,
                t,
                f64::from_bits(STALE_NAN_BITS),
            );
        }
        self.report_live = false;
    }
}

impl<'c> SampleSink<'_> for Batch<'c> {
    fn sample(&mut self, s: RawSample<'_, '_>) {
        let labels = s.labels.iter().map(|(n, v)| (n.as_ref(), v.as_ref()));
        self.add(s.series, s.name, labels, s.timestamp_ms, s.value);
    }

    fn knows(&mut self, series: &str) -> bool {
        if self.error.is_some() {
            // Refused anyway: nothing more to read.
            self.known = None;
            return true;
        }
        let key = Key::of(series);
        match self.cache.entries.find(key, self.cursor) {
            Some(i) => {
                self.cursor = i + 1;
                let iteration = self.cache.iteration;
                let entry = self.cache.entries.get_mut(i);
                entry.seen = iteration;
                self.known = Some(entry.slot.clone());
                true
            }
            None => {
                self.unknown = (series.as_ptr() as usize, series.len(), key);
                false
            }
        }
    }

    fn known_sample(&mut self, value: f64, timestamp_ms: Option<i64>) {
        if let Some(slot) = self.known.take() {
            self.stage_known(slot, timestamp_ms, value);
        }
    }
}

impl<'c> Batch<'c> {
    /// Stages a sample that did not come from a text-format line (a
    /// plugin's, or OpenMetrics').
    pub fn add_sample(&mut self, s: &Sample) {
        let mut key = std::mem::take(&mut self.key);
        key.clear();
        // Length-prefixed, so that no two label sets share a key.
        for part in
            std::iter::once(&s.name).chain(s.labels.iter().flat_map(|l| [&l.name, &l.value]))
        {
            let _ = write!(key, "{}:", part.len());
            key.push_str(part);
        }
        let labels = s.labels.iter().map(|l| (l.name.as_str(), l.value.as_str()));
        self.add(&key, &s.name, labels, s.timestamp_ms, s.value);
        self.key = key;
    }

    fn add<'l>(
        &mut self,
        key: &str,
        name: &str,
        labels: impl Iterator<Item = (&'l str, &'l str)>,
        timestamp_ms: Option<i64>,
        value: f64,
    ) {
        if self.error.is_some() {
            return;
        }
        // Taken, so that it can only match the very next text. Address
        // and length stand for the text itself: a batch parses one body,
        // borrowed unchanged for the whole batch, so the same span is the
        // same bytes (and `self.key`, a separate live allocation, cannot
        // share an address with it).
        let (at, len, unknown) = std::mem::replace(&mut self.unknown, (0, 0, Key::NONE));
        let key = if (key.as_ptr() as usize, key.len()) == (at, len) {
            unknown
        } else {
            Key::of(key)
        };
        if let Some(i) = self.cache.entries.find(key, self.cursor) {
            self.cursor = i + 1;
            let iteration = self.cache.iteration;
            let entry = self.cache.entries.get_mut(i);
            entry.seen = iteration;
            let slot = entry.slot.clone();
            return self.stage_known(slot, timestamp_ms, value);
        }
        self.counts.scraped += 1;
        let t = self.time(timestamp_ms);
        let timed = timestamp_ms.is_some()
            && self.options.honor_timestamps
            && !self.options.track_timestamps_staleness;
        let staged = match series_labels(name, labels, self.target_labels, self.options) {
            Err(e) => {
                self.error = Some(e);
                return;
            }
            Ok(None) => {
                self.misses.push((key, None, timed));
                return;
            }
            Ok(Some(labels)) => {
                self.misses.push((key, Some(labels), timed));
                Staged::New(self.misses.len() - 1)
            }
        };
        self.counts.post_relabeling += 1;
        self.staged.push((staged, t, value));
    }

    fn stage_known(&mut self, slot: Slot, timestamp_ms: Option<i64>, value: f64) {
        self.counts.scraped += 1;
        if let Slot::Dropped = slot {
            return;
        }
        self.counts.post_relabeling += 1;
        let t = self.time(timestamp_ms);
        self.staged.push((Staged::Known(slot), t, value));
    }

    /// A sample's time: its own with `honor_timestamps`, else the scrape's.
    fn time(&self, timestamp_ms: Option<i64>) -> i64 {
        match timestamp_ms {
            Some(t) if self.options.honor_timestamps => t,
            _ => self.t,
        }
    }

    /// Why the staged scrape must be refused, if it must: an error met
    /// while staging, or the sample limit.
    pub fn error(&self) -> Option<String> {
        if let Some(e) = &self.error {
            return Some(e.clone());
        }
        let limit = self.options.sample_limit;
        (limit > 0 && self.counts.post_relabeling as u64 > limit)
            .then(|| "sample limit exceeded".to_owned())
    }

    /// Appends the scrape (nothing of it when `failure` is given, and then
    /// every series of the last scrape ends with a stale marker), the
    /// stale markers of series that disappeared, and the report series,
    /// whose counts are of what was read, failed or not.
    /// `duration` is the scrape's, for `scrape_duration_seconds`.
    pub fn finish(
        self,
        storage: Option<&dyn Storage>,
        failure: Option<&str>,
        duration: f64,
    ) -> (Counts, Vec<Sample>) {
        let Batch {
            cache,
            target_labels,
            t,
            staged,
            misses,
            mut counts,
            ..
        } = self;
        let iteration = cache.iteration;
        counts.added = misses.iter().filter(|(_, l, _)| l.is_some()).count();
        let mut app = storage.map(|s| s.appender());
        let mut rejected = 0usize;
        let mut first_error = None;
        if failure.is_some() {
            // Prometheus appends an empty scrape: everything exposed last
            // time is gone now.
            if let Some(app) = app.as_deref_mut() {
                for entry in cache.entries.values().filter(|e| !e.stale && !e.timed) {
                    append_stale(app, &entry.slot, t);
                }
            }
            for entry in cache.entries.values_mut() {
                entry.stale = true;
            }
            // The counts stay what was read before the failure, as
            // Prometheus reports them.
        } else {
            let mut dead = Vec::new();
            let mut slots: Vec<Option<Slot>> = vec![None; misses.len()];
            for (staged, ts, v) in staged {
                let Some(app) = app.as_deref_mut() else {
                    continue;
                };
                let result = match staged {
                    Staged::Known(slot) => match append_slot(app, &slot, ts, v) {
                        Some(result) => result,
                        None => {
                            // Collected by the storage while the target
                            // still exposes it (only when scrapes are far
                            // apart): this sample is lost, the next scrape
                            // creates the series again.
                            if let Slot::Ref(r) = slot {
                                dead.push(r);
                            }
                            continue;
                        }
                    },
                    Staged::New(i) => {
                        let labels = misses[i].1.as_deref().unwrap_or_default();
                        match app.append_ref(0, labels, ts, v) {
                            Ok(r) => {
                                slots[i] = Some(if r != 0 {
                                    Slot::Ref(r)
                                } else {
                                    Slot::Labels(Arc::new(labels.to_vec()))
                                });
                                Ok(())
                            }
                            Err(e) => Err(e),
                        }
                    }
                };
                if let Err(e) = result {
                    rejected += 1;
                    first_error.get_or_insert(e);
                }
            }
            cache.entries.reserve(misses.len());
            for (i, (key, labels, timed)) in misses.into_iter().enumerate() {
                let slot = match (labels, slots[i].take()) {
                    (None, _) => Slot::Dropped,
                    (Some(_), Some(slot)) => slot,
                    // Rejected, or no storage: looked up again next time.
                    (Some(_), None) if app.is_some() => continue,
                    (Some(_), None) => Slot::None,
                };
                cache.entries.insert(Entry {
                    key,
                    slot,
                    seen: iteration,
                    stale: false,
                    timed,
                });
            }
            cache.entries.retain(|entry| {
                if entry.seen == iteration {
                    let gone = matches!(entry.slot, Slot::Ref(r) if dead.contains(&r));
                    entry.stale = false;
                    return !gone;
                }
                if !entry.stale
                    && !entry.timed
                    && let Some(app) = app.as_deref_mut()
                {
                    append_stale(app, &entry.slot, t);
                }
                false
            });
        }
        let up = if failure.is_none() { 1.0 } else { 0.0 };
        let values = [
            up,
            duration,
            counts.scraped as f64,
            counts.post_relabeling as f64,
            counts.added as f64,
        ];
        let mut report = Vec::with_capacity(REPORT.len());
        for (i, (name, value)) in REPORT.into_iter().zip(values).enumerate() {
            if let Some(app) = app.as_deref_mut()
                && let Err(e) =
                    append_report(app, &mut cache.report[i], name, target_labels, t, value)
            {
                rejected += 1;
                first_error.get_or_insert(e);
            }
            report.push(Sample {
                name: name.to_owned(),
                labels: target_labels.to_vec(),
                value,
                timestamp_ms: Some(t),
            });
        }
        cache.report_live = true;
        if let Some(app) = app.as_deref_mut() {
            commit(app, "storing the scrape");
        }
        if let Some(e) = first_error {
            tracing::warn!(rejected, "samples rejected by storage, e.g.: {e}");
        }
        (counts, report)
    }
}

/// Appends by a slot, without labels where the storage knows the ref;
/// `None` when it no longer does.
fn append_slot(
    app: &mut dyn Appender,
    slot: &Slot,
    t: i64,
    v: f64,
) -> Option<Result<(), wasmetheus_model::storage::AppendError>> {
    match slot {
        Slot::Ref(r) => app.append_known(*r, t, v),
        Slot::Labels(labels) => Some(app.append(labels, t, v)),
        Slot::None | Slot::Dropped => Some(Ok(())),
    }
}

fn append_stale(app: &mut dyn Appender, slot: &Slot, t: i64) {
    // A rejection (the series has a later sample) or a collected series
    // needs no marker.
    let _ = append_slot(app, slot, t, f64::from_bits(STALE_NAN_BITS));
}

/// Appends a report sample, by ref once the storage handed one out.
fn append_report(
    app: &mut dyn Appender,
    slot: &mut Slot,
    name: &str,
    target_labels: &[Label],
    t: i64,
    v: f64,
) -> Result<(), wasmetheus_model::storage::AppendError> {
    match slot {
        Slot::Ref(r) => {
            if let Some(result) = app.append_known(*r, t, v) {
                return result;
            }
        }
        Slot::Labels(labels) => return app.append(labels, t, v),
        Slot::None | Slot::Dropped => {}
    }
    let mut labels = Vec::with_capacity(target_labels.len() + 1);
    labels.push(Label::new("__name__", name));
    labels.extend_from_slice(target_labels);
    labels.sort();
    let r = app.append_ref(0, &labels, t, v)?;
    *slot = if r != 0 {
        Slot::Ref(r)
    } else {
        Slot::Labels(Arc::new(labels))
    };
    Ok(())
}

fn commit(app: &mut dyn Appender, what: &str) {
    if let Err(e) = app.commit() {
        tracing::error!(error = %e, "{what} failed");
    }
}

/// The labels a new exposed series is stored with: `__name__` and its
/// labels (empty values mean "no label", as in Prometheus, but with
/// `honor_labels` one still keeps that target label out), the target
/// labels as `honor_labels` says, then metric relabeling, sorted by name.
/// `None` when relabeling drops it; an error when it breaks a label limit
/// or loses its name.
pub(crate) fn series_labels<'l>(
    name: &str,
    exposed: impl Iterator<Item = (&'l str, &'l str)>,
    target_labels: &[Label],
    options: &ScrapeOptions,
) -> Result<Option<Vec<Label>>, String> {
    let mut labels: Vec<Label> = Vec::with_capacity(target_labels.len() + 4);
    labels.push(Label::new("__name__", name));
    // With `honor_labels`, a label exposed with an empty value still
    // keeps the target's label away (Prometheus' `lset.Has`): federation
    // answers `instance=""` for a series without an instance.
    let mut exposed_empty: Vec<&str> = Vec::new();
    for (n, v) in exposed {
        if !v.is_empty() {
            labels.push(Label::new(n, v));
        } else if options.honor_labels {
            exposed_empty.push(n);
        }
    }
    for label in target_labels {
        match labels.iter().position(|l| l.name == label.name) {
            Some(_) if options.honor_labels => {}
            None if exposed_empty.contains(&label.name.as_str()) => {}
            Some(i) => {
                // Keep the exposed value as exported_<name> (and
                // exported_exported_<name> if that is taken too).
                let mut renamed = format!("exported_{}", label.name);
                while labels.iter().any(|l| l.name == renamed) {
                    renamed = format!("exported_{renamed}");
                }
                labels[i].name = renamed;
                labels.push(label.clone());
            }
            None => labels.push(label.clone()),
        }
    }
    labels.sort();
    if !options.metric_relabel_configs.is_empty() {
        let Some(kept) = relabel(&labels, &options.metric_relabel_configs) else {
            return Ok(None);
        };
        labels = kept;
        if !labels.iter().any(|l| l.name == "__name__") {
            return Err("invalid metric name or label names: a sample has no metric name after metric relabeling".into());
        }
    }
    check_label_limits(&labels, options)?;
    Ok(Some(labels))
}

/// Prometheus' label limits, over the series' final labels (`__name__`
/// included), with its texts.
fn check_label_limits(labels: &[Label], options: &ScrapeOptions) -> Result<(), String> {
    let metric = labels
        .iter()
        .find(|l| l.name == "__name__")
        .map_or("", |l| l.value.as_str());
    if options.label_limit > 0 && labels.len() as u64 > options.label_limit {
        return Err(format!(
            "label_limit exceeded (metric: {metric:.50}, number of labels: {}, limit: {})",
            labels.len(),
            options.label_limit
        ));
    }
    if options.label_name_length_limit == 0 && options.label_value_length_limit == 0 {
        return Ok(());
    }
    for l in labels {
        // Bytes, as Prometheus counts them (Go's `len`).
        let (name_len, value_len) = (l.name.len(), l.value.len());
        if options.label_name_length_limit > 0 && name_len as u64 > options.label_name_length_limit
        {
            return Err(format!(
                "label_name_length_limit exceeded (metric: {metric:.50}, label name: {:.50}, length: {name_len}, limit: {})",
                l.name, options.label_name_length_limit
            ));
        }
        if options.label_value_length_limit > 0
            && value_len as u64 > options.label_value_length_limit
        {
            let value: String = l.value.chars().take(50).collect();
            return Err(format!(
                "label_value_length_limit exceeded (metric: {metric:.50}, label name: {:.50}, value: {value:?}, length: {value_len}, limit: {})",
                l.name, options.label_value_length_limit
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(labels: &[Label]) -> String {
        let pairs: Vec<String> = labels
            .iter()
            .map(|l| format!("{}={}", l.name, l.value))
            .collect();
        pairs.join(",")
    }

    /// One scrape of series `m<i>` for each `i`, in that order: how many
    /// were new to the cache.
    fn scrape(cache: &mut ScrapeCache, series: &[usize]) -> usize {
        let target = [Label::new("job", "j")];
        let options = ScrapeOptions::default();
        let mut batch = cache.batch(&target, &options, 1000);
        for i in series {
            batch.add_sample(&Sample {
                name: format!("m{i}"),
                labels: vec![],
                value: 1.0,
                timestamp_ms: None,
            });
        }
        batch.finish(None, None, 0.0).0.added
    }

    /// The next-in-order guess is only a shortcut: series in any order,
    /// vanishing, reappearing or new in between, are found exactly once.
    #[test]
    fn series_are_found_in_any_order() {
        let mut cache = ScrapeCache::default();
        let all: Vec<usize> = (0..100).collect();
        assert_eq!(scrape(&mut cache, &all), 100);
        assert_eq!(scrape(&mut cache, &all), 0);
        let reversed: Vec<usize> = all.iter().rev().copied().collect();
        assert_eq!(scrape(&mut cache, &reversed), 0);
        // Every third gone, ten new ones among the rest.
        let mut changed: Vec<usize> = all.iter().copied().filter(|i| i % 3 != 0).collect();
        for k in 0..10 {
            changed.insert(k * 6, 1000 + k);
        }
        assert_eq!(scrape(&mut cache, &changed), 10);
        assert_eq!(cache.entries.len(), changed.len());
        assert_eq!(scrape(&mut cache, &changed), 0);
        // The ones that went away are new again.
        assert_eq!(scrape(&mut cache, &all), 34);
        // A series twice in one scrape is one entry.
        assert_eq!(scrape(&mut cache, &[5, 5, 7, 5]), 0);
        assert_eq!(cache.entries.len(), 2);
        scrape(&mut cache, &[8, 8]);
        assert_eq!(cache.entries.len(), 1);
        assert_eq!(scrape(&mut cache, &[8]), 0);
    }

    /// One scrape of a text exposition with one sample per series text:
    /// how many series were new to the cache.
    fn scrape_text(cache: &mut ScrapeCache, series: &[&str]) -> usize {
        let target = [Label::new("job", "j")];
        let options = ScrapeOptions::default();
        let body: String = series.iter().map(|s| format!("{s} 1\n")).collect();
        let mut batch = cache.batch(&target, &options, 1000);
        wasmetheus_model::text::parse_into(&body, &mut batch).unwrap();
        assert_eq!(batch.error(), None);
        batch.finish(None, None, 0.0).0.added
    }

    /// Texts that differ a little (one byte, label order, a prefix, the
    /// same labels written differently) are different entries, whether
    /// the lookup tries the next-in-order guess or the hash table.
    #[test]
    fn different_texts_never_share_an_entry() {
        let pairs = [
            (r#"m{a="1"}"#, r#"m{a="2"}"#),
            (r#"m{a="1",b="2"}"#, r#"m{b="2",a="1"}"#),
            ("m_total", "m_totaL"),
            ("m", "m{}"),
            (r#"m{a="x"}"#, r#"m{a="xx"}"#),
            (r#"m{a="1"}"#, r#"m{a="1",b="1"}"#),
        ];
        for (a, b) in pairs {
            for (a, b) in [(a, b), (b, a)] {
                // The guess: `b` comes where `a` was.
                let mut cache = ScrapeCache::default();
                assert_eq!(scrape_text(&mut cache, &[a]), 1);
                assert_eq!(scrape_text(&mut cache, &[a]), 0, "{a} is known");
                assert_eq!(scrape_text(&mut cache, &[b]), 1, "{b} after {a}");
                assert_eq!(cache.entries.len(), 1);
                assert_eq!(scrape_text(&mut cache, &[a, b]), 1, "{a} went away");
                assert_eq!(cache.entries.len(), 2);
                // The table: `b` where no guess is `a`.
                let mut cache = ScrapeCache::default();
                assert_eq!(scrape_text(&mut cache, &[a, "c"]), 2);
                assert_eq!(scrape_text(&mut cache, &["c", b]), 1, "{b} with {a} cached");
                assert_eq!(scrape_text(&mut cache, &["c", b]), 0);
                // Staged through `add_sample` (plugins, OpenMetrics) too.
                let mut cache = ScrapeCache::default();
                let target = [Label::new("job", "j")];
                let options = ScrapeOptions::default();
                let sample = |name: &str| Sample {
                    name: name.to_owned(),
                    labels: vec![],
                    value: 1.0,
                    timestamp_ms: None,
                };
                let mut batch = cache.batch(&target, &options, 1000);
                batch.add_sample(&sample(a));
                batch.add_sample(&sample(b));
                assert_eq!(batch.finish(None, None, 0.0).0.added, 2);
            }
        }
    }

    /// The entries take about 40 bytes a series and a little table; a
    /// target whose series churn reallocates nothing; one that shrinks
    /// gives its memory back.
    #[test]
    fn the_entries_stay_near_their_length() {
        let mut cache = ScrapeCache::default();
        let mut series: Vec<usize> = (0..5000).collect();
        assert_eq!(scrape(&mut cache, &series), 5000);
        let per_series = cache.entries.heap_bytes() / 5000;
        assert!(per_series <= 56, "{per_series} bytes a series");
        let capacity = cache.entries.items.capacity();
        for round in 0..20 {
            // 1 % of the series replaced by new ones each scrape.
            for k in 0..50 {
                series[(round * 50 + k) % 5000] = 10_000 + round * 50 + k;
            }
            assert_eq!(scrape(&mut cache, &series), 50);
            assert_eq!(cache.entries.items.capacity(), capacity, "round {round}");
        }
        assert_eq!(scrape(&mut cache, &series[..100]), 0);
        assert_eq!(cache.entries.len(), 100);
        assert!(cache.entries.items.capacity() <= 125);
        assert!(cache.entries.heap_bytes() <= 100 * 56 + 16 * 5 * 8);
        assert_eq!(scrape(&mut cache, &series), 4900);
        assert!(cache.entries.heap_bytes() / 5000 <= 56);
    }

    /// A federated series without an instance comes as `instance=""`:
    /// with `honor_labels` it stays without one (Prometheus' `lset.Has`);
    /// without, the target's instance is set and nothing is exported.
    #[test]
    fn an_exposed_empty_label_keeps_the_target_label_out_only_with_honor_labels() {
        let target = [Label::new("instance", "t:1"), Label::new("job", "fed")];
        let exposed = [("job", "api"), ("instance", "")];
        let honor = ScrapeOptions {
            honor_labels: true,
            ..ScrapeOptions::default()
        };
        let stored = series_labels("m", exposed.into_iter(), &target, &honor)
            .unwrap()
            .unwrap();
        assert_eq!(names(&stored), "__name__=m,job=api");
        let stored = series_labels("m", exposed.into_iter(), &target, &ScrapeOptions::default())
            .unwrap()
            .unwrap();
        assert_eq!(
            names(&stored),
            "__name__=m,exported_job=api,instance=t:1,job=fed"
        );
    }
}
