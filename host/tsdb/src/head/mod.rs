//! The head block: every series appended to recently, with its samples in
//! compressed chunks (the open one in memory, complete ones in segment
//! files, a partial one still re-sealed in memory),
//! and the postings index that finds series by label matchers. Implements
//! the storage traits of `wasmetheus-model`.
//!
//! This file holds the head itself (series creation, queries, truncation,
//! deletion); `series.rs` one series in memory (appends, the out-of-order
//! window, truncation and deletion of its samples), `chunk_files.rs` where
//! full chunks' bytes live (segment files under `chunks_head/`, a cache
//! of the log), `appender.rs` the appender (queued samples, commit through
//! the log), `replay.rs` opening a head on its write-ahead log (replay),
//! `metrics.rs` its self-metrics.

mod appender;
mod chunk_files;
#[cfg(test)]
mod chunk_tests;
mod metrics;
mod replay;
mod series;

pub use appender::HeadAppender;
pub use metrics::HeadStats;

use crate::index::{Index, SeriesRef};
use crate::iter::{ChunkSource, ChunksIterator};
use crate::wal::{CheckpointFilter, Record, Wal, WalError, WalStats};
use chunk_files::ChunkFiles;
use parking_lot::{Mutex, RwLock};
use series::MemSeries;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use wasmetheus_model::Label;
use wasmetheus_model::storage::{
    AppendError, Matcher, Queryable, SelectHints, Series, StorageError,
};

/// Limits of the head.
#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    /// Most series the head holds; appends creating more fail.
    pub max_series: usize,
    /// How far behind the newest sample of the head an out-of-order sample
    /// may be and still be accepted (Prometheus'
    /// `out_of_order_time_window`); 0 rejects every out-of-order sample.
    pub out_of_order_window_ms: i64,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits {
            max_series: 10_000_000,
            out_of_order_window_ms: 0,
        }
    }
}

type SeriesSlot = Option<Arc<Mutex<MemSeries>>>;

/// Samples queued by appenders but not yet committed, and the time before
/// which no more may be queued; see [`Head::seal_before`].
struct InFlight {
    /// Appends before this are out of bounds: compaction is copying the
    /// range before it out of the head.
    sealed_before: i64,
    /// The oldest queued sample of each appender holding any, counted.
    oldest: BTreeMap<i64, usize>,
}

impl InFlight {
    fn remove(&mut self, t: i64) {
        if let Some(n) = self.oldest.get_mut(&t) {
            *n -= 1;
            if *n == 0 {
                self.oldest.remove(&t);
            }
        }
    }
}

/// The in-memory head: series, chunks and index, optionally backed by a
/// write-ahead log.
pub struct Head {
    index: RwLock<Index>,
    /// By ref; `None` for a series garbage-collected after compaction.
    series: RwLock<Vec<SeriesSlot>>,
    limits: HeadLimits,
    pub stats: HeadStats,
    /// Samples before this were compacted away; appends there are out of
    /// bounds.
    min_valid_time: AtomicI64,
    /// Oldest and newest sample timestamps appended (`i64::MAX`/`MIN` when
    /// empty).
    min_time: AtomicI64,
    max_time: AtomicI64,
    /// Whether appends are logged: set for a head opened on a log.
    durable: bool,
    /// Held from writing a batch to the log until it is applied, so memory
    /// and log see batches in the same order; `None` once closed.
    wal: Mutex<Option<Wal>>,
    /// Series created since the last commit; logged before any sample.
    unlogged_series: Mutex<Vec<Record>>,
    in_flight: Mutex<InFlight>,
    /// Tells this head's refs (as handed out by `append_ref`) from another
    /// head's: they share the numbering from 0.
    id: u32,
    /// Where full chunks' bytes are (files under `chunks_head/`, or memory).
    chunks: ChunkFiles,
}

/// Source of [`Head::id`]s.
static NEXT_HEAD_ID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

impl Default for Head {
    fn default() -> Self {
        Head::new(HeadLimits::default())
    }
}

impl Head {
    /// A head kept only in memory.
    pub fn new(limits: HeadLimits) -> Self {
        Head {
            index: RwLock::new(Index::default()),
            series: RwLock::new(Vec::new()),
            limits,
            stats: HeadStats::default(),
            min_valid_time: AtomicI64::new(i64::MIN),
            min_time: AtomicI64::new(i64::MAX),
            max_time: AtomicI64::new(i64::MIN),
            durable: false,
            wal: Mutex::new(None),
            unlogged_series: Mutex::new(Vec::new()),
            in_flight: Mutex::new(InFlight {
                sealed_before: i64::MIN,
                oldest: BTreeMap::new(),
            }),
            id: NEXT_HEAD_ID.fetch_add(1, Ordering::Relaxed),
            chunks: ChunkFiles::memory(),
        }
    }

    /// A head kept in memory but for its full chunks, which go to segment
    /// files in `chunks_dir` (emptied first: see `chunk_files.rs`).
    pub fn with_chunk_dir(limits: HeadLimits, chunks_dir: &std::path::Path) -> Self {
        let mut head = Head::new(limits);
        head.use_chunk_dir(chunks_dir, chunk_files::SEGMENT_BYTES);
        head
    }

    /// Keeps full chunks in segment files of at most `segment_bytes` in
    /// `dir` (in memory, logged and counted, if the directory cannot be
    /// made or written).
    fn use_chunk_dir(&mut self, dir: &std::path::Path, segment_bytes: u32) {
        self.chunks = ChunkFiles::in_dir(dir, segment_bytes);
    }

    /// The ref handed to callers of `append_ref` for series `r`: the
    /// head's id above the ref plus one, so that 0 stays "no ref" and a ref
    /// of another head is not taken for one of this head.
    fn external_ref(&self, r: SeriesRef) -> u64 {
        match r.checked_add(1) {
            Some(r1) => u64::from(self.id) << 32 | u64::from(r1),
            None => 0,
        }
    }

    /// The series of a ref from [`Head::external_ref`], if it is one.
    fn internal_ref(&self, cached: u64) -> Option<SeriesRef> {
        if cached >> 32 != u64::from(self.id) {
            return None;
        }
        (cached as u32).checked_sub(1)
    }

    /// Closes the log: later commits fail, and the log's lock is released
    /// now rather than when the last reference to the head goes away (a
    /// new head may then open the same directory).
    pub fn close(&self) {
        self.wal.lock().take();
    }

    fn ooo_min(&self, max_time: i64) -> i64 {
        if self.limits.out_of_order_window_ms > 0 {
            max_time.saturating_sub(self.limits.out_of_order_window_ms)
        } else {
            i64::MAX
        }
    }

    /// Number of series in the head.
    pub fn num_series(&self) -> usize {
        self.index.read().len()
    }

    /// Oldest sample time in the head (`i64::MAX` when empty).
    pub fn min_time(&self) -> i64 {
        self.min_time
            .load(Ordering::Relaxed)
            .max(self.min_valid_time.load(Ordering::Relaxed))
    }

    /// Newest sample time in the head (`i64::MIN` when empty).
    pub fn max_time(&self) -> i64 {
        self.max_time.load(Ordering::Relaxed)
    }

    /// Appends before this time are out of bounds.
    pub fn min_valid_time(&self) -> i64 {
        self.min_valid_time.load(Ordering::Relaxed)
    }

    /// The series `labels`, created if new.
    fn get_or_create(&self, labels: &[Label]) -> Result<SeriesRef, AppendError> {
        if let Some(r) = self.index.read().lookup(labels) {
            return Ok(r);
        }
        let mut index = self.index.write();
        if let Some(r) = index.lookup(labels) {
            return Ok(r);
        }
        let mut series = self.series.write();
        if index.len() >= self.limits.max_series {
            self.stats.series_limit_hit.fetch_add(1, Ordering::Relaxed);
            return Err(AppendError::SeriesLimit {
                limit: self.limits.max_series,
            });
        }
        let r = index.insert(labels, series.len() as SeriesRef);
        series.push(Some(Arc::new(Mutex::new(MemSeries::new()))));
        if self.durable {
            self.unlogged_series.lock().push(Record::Series {
                r,
                labels: labels.to_vec(),
            });
        }
        self.stats.series_created.fetch_add(1, Ordering::Relaxed);
        Ok(r)
    }

    fn series(&self, r: SeriesRef) -> Option<Arc<Mutex<MemSeries>>> {
        self.series.read().get(r as usize)?.clone()
    }

    fn matching(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesRef> {
        let mint = mint.max(self.min_valid_time());
        // A range wholly before the minimum valid time: a chunk straddling
        // that time would "overlap" the empty range and the series would
        // be returned without samples.
        if mint > maxt {
            return Vec::new();
        }
        let refs = self.index.read().select(matchers);
        let series = self.series.read();
        refs.into_iter()
            .filter(|r| {
                series[*r as usize]
                    .as_ref()
                    .is_some_and(|s| s.lock().overlaps(mint, maxt))
            })
            .collect()
    }

    /// Labels of series `r`.
    pub fn labels(&self, r: SeriesRef) -> Option<Vec<Label>> {
        self.index.read().labels(r)
    }

    /// Every live series' ref and labels, by ref.
    pub fn all_series(&self) -> Vec<(SeriesRef, Vec<Label>)> {
        let index = self.index.read();
        index
            .refs()
            .filter_map(|r| Some((r, index.labels(r)?)))
            .collect()
    }

    /// Samples of series `r` in `[mint, maxt]`.
    pub fn samples(&self, r: SeriesRef, mint: i64, maxt: i64) -> Vec<(i64, f64)> {
        let mut out = Vec::new();
        if let Some(s) = self.series(r) {
            s.lock().samples_in(
                mint.max(self.min_valid_time()),
                maxt,
                &mut out,
                &self.chunks,
            );
        }
        out
    }

    /// Makes appends before `t` out of bounds, then waits (at most
    /// `timeout`) until no appender holds uncommitted samples before `t`:
    /// from then on what the head holds before `t` no longer changes, and
    /// compaction can copy it out without missing a late commit. Returns
    /// whether that point was reached.
    pub fn seal_before(&self, t: i64, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        {
            let mut in_flight = self.in_flight.lock();
            in_flight.sealed_before = in_flight.sealed_before.max(t);
        }
        loop {
            let oldest = self.in_flight.lock().oldest.keys().next().copied();
            if oldest.is_none_or(|o| o >= t) {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// How many reads of full chunks from the chunk files have failed so
    /// far: a reader compares it before and after, and fails rather than
    /// go on with samples missing.
    pub(crate) fn chunk_read_failures(&self) -> u64 {
        self.chunks.read_failures.load(Ordering::Relaxed)
    }

    /// Makes every read from the chunk files fail (or work again).
    #[cfg(test)]
    pub(crate) fn fail_chunk_reads(&self, fail: bool) {
        self.chunks.fail_reads.store(fail, Ordering::Relaxed);
    }

    /// Bytes in the head's chunk files (chunks_head/).
    pub(crate) fn chunk_file_bytes(&self) -> u64 {
        self.chunks.file_bytes.load(Ordering::Relaxed)
    }

    /// The chunks of series `r` overlapping `[mint, maxt]`.
    pub(crate) fn chunk_sources(&self, r: SeriesRef, mint: i64, maxt: i64) -> Vec<ChunkSource> {
        self.chunk_sources_where(r, mint, maxt, &mut |_, _| true)
    }

    /// [`chunk_sources`](Self::chunk_sources), leaving out (and not reading)
    /// the chunks whose first and last timestamps `keep` refuses.
    pub(crate) fn chunk_sources_where(
        &self,
        r: SeriesRef,
        mint: i64,
        maxt: i64,
        keep: &mut dyn FnMut(i64, i64) -> bool,
    ) -> Vec<ChunkSource> {
        let min_valid = self.min_valid_time();
        match self.series(r) {
            // A chunk straddling the minimum valid time also holds samples
            // the head no longer owns (compacted to the store, and maybe
            // deleted there or dropped by retention since): they are cut
            // off here, as the iterator only bounds by the query's range.
            Some(s) => s
                .lock()
                .chunk_sources(mint.max(min_valid), maxt, &self.chunks, keep)
                .into_iter()
                .filter_map(|c| c.starting_at(min_valid))
                .collect(),
            None => Vec::new(),
        }
    }

    /// Refs and labels of the series matching `matchers` with samples in
    /// `[mint, maxt]`, sorted by labels.
    pub(crate) fn matching_series(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Vec<(SeriesRef, Vec<Label>)> {
        let refs = self.matching(matchers, mint, maxt);
        let index = self.index.read();
        let mut out: Vec<(SeriesRef, Vec<Label>)> = refs
            .into_iter()
            .filter_map(|r| Some((r, index.labels(r)?)))
            .collect();
        out.sort_by(|a, b| a.1.cmp(&b.1));
        out
    }

    /// Forgets every sample before `before` (they are persisted elsewhere),
    /// drops series left without samples, and folds the closed WAL
    /// segments into a checkpoint holding only what the head still needs.
    pub fn truncate(&self, before: i64) -> Result<usize, WalError> {
        self.min_valid_time.fetch_max(before, Ordering::Relaxed);
        let before = self.min_valid_time();
        self.min_time.fetch_max(before, Ordering::Relaxed);
        // Hold the log while collecting, so no commit logs samples for a
        // series being removed.
        let mut wal = self.wal.lock();
        let mut removed = std::collections::HashSet::new();
        {
            let series = self.series.read();
            for (r, slot) in series.iter().enumerate() {
                let Some(s) = slot else { continue };
                let mut s = s.lock();
                s.truncate(before, &self.chunks);
                if s.is_empty() && s.pending == 0 && s.last().is_none_or(|(t, _)| t < before) {
                    removed.insert(r as SeriesRef);
                }
            }
        }
        if !removed.is_empty() {
            // The index before the slots, as `get_or_create` takes them.
            let mut index = self.index.write();
            let mut series = self.series.write();
            index.remove(&removed);
            for r in &removed {
                series[*r as usize] = None;
            }
            self.stats
                .series_removed
                .fetch_add(removed.len() as u64, Ordering::Relaxed);
        }
        self.stats.truncations.fetch_add(1, Ordering::Relaxed);
        let Some(log) = wal.as_mut() else {
            return Ok(removed.len());
        };
        // Everything logged so far goes into the checkpoint; new commits
        // go to a fresh segment.
        log.cut()?;
        let upto = log.current_segment().saturating_sub(1);
        let dir = log.dir().to_owned();
        let compression = log.compression();
        drop(wal);
        // Only this truncation removes series, so a series the index has
        // now stays until the checkpoint is written; one created meanwhile
        // under the labels of a collected one only keeps that record.
        let live = |labels: &[Label]| self.index.read().lookup(labels).is_some();
        let filter = CheckpointFilter {
            live_series: &live,
            mint: before,
        };
        let started = std::time::Instant::now();
        let result = crate::wal::checkpoint_with(&dir, upto, &filter, compression);
        let mut wal = self.wal.lock();
        match result {
            Ok(stats) => {
                if let Some(log) = wal.as_mut() {
                    log.checkpoint_done();
                }
                tracing::info!(
                    records_in = stats.records_in,
                    records_out = stats.records_out,
                    bytes = stats.bytes,
                    "WAL checkpoint up to segment {upto} done in {:.2} s",
                    started.elapsed().as_secs_f64()
                );
                Ok(removed.len())
            }
            Err(e) => {
                if let Some(log) = wal.as_mut() {
                    log.checkpoint_failed();
                }
                Err(e)
            }
        }
    }

    /// Deletes the samples in `[mint, maxt]` of every series matching
    /// `matchers`, logging the deletion so replay repeats it. Returns the
    /// number of series touched.
    pub fn delete(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<usize, WalError> {
        let refs = self.matching(matchers, mint, maxt);
        let mut wal = self.wal.lock();
        if let Some(log) = wal.as_mut() {
            let records: Vec<Record> = refs
                .iter()
                .map(|&r| Record::Tombstone { r, mint, maxt })
                .collect();
            if !records.is_empty() {
                log.log(&records)?;
            }
        }
        for &r in &refs {
            if let Some(s) = self.series(r) {
                s.lock().delete_range(mint, maxt, &self.chunks);
            }
        }
        self.stats
            .deletions
            .fetch_add(refs.len() as u64, Ordering::Relaxed);
        Ok(refs.len())
    }

    /// Counters of the log, if there is one.
    /// How the log compresses what it writes from now on.
    pub fn set_wal_compression(&self, compression: crate::wal::WalCompression) {
        if let Some(log) = self.wal.lock().as_mut() {
            log.set_compression(compression);
        }
    }

    pub fn wal_stats(&self) -> Option<(WalStats, u64)> {
        self.wal.lock().as_ref().map(|w| (w.stats(), w.size()))
    }
}

impl Queryable for Head {
    fn select_series(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<Series>, StorageError> {
        let (mint, maxt) = (hints.start, hints.end);
        Ok(self
            .matching_series(matchers, mint, maxt)
            .into_iter()
            .map(|(r, labels)| Series {
                labels,
                samples: Box::new(ChunksIterator::new(
                    self.chunk_sources(r, mint, maxt),
                    mint,
                    maxt,
                    Vec::new(),
                )),
            })
            .collect())
    }

    fn label_names(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        let refs = self.matching(matchers, mint, maxt);
        let index = self.index.read();
        let mut names: Vec<String> = refs
            .iter()
            .filter_map(|r| index.labels(*r))
            .flat_map(|labels| labels.into_iter().map(|l| l.name))
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
        let refs = self.matching(matchers, mint, maxt);
        let index = self.index.read();
        let mut values: Vec<String> = refs
            .iter()
            .filter_map(|r| {
                index
                    .labels(*r)?
                    .into_iter()
                    .find(|l| l.name == name)
                    .map(|l| l.value)
            })
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }
}
