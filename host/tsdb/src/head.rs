//! The head block: every series appended to recently, with its samples in
//! compressed in-memory chunks, and the postings index that finds series by
//! label matchers. Implements the storage traits of `wasmetheus-model`.

use crate::chunk::XorChunk;
use crate::index::{Index, SeriesRef};
use crate::iter::{ChunkSource, ChunksIterator};
use crate::wal::{CheckpointFilter, Record, ReplayStats, Wal, WalError, WalStats};
use parking_lot::{Mutex, RwLock};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use wasmetheus_model::Label;
use wasmetheus_model::storage::{
    AppendError, Appender, Matcher, Queryable, SelectHints, Series, Storage, StorageError,
};
use wasmetheus_model::{MetricFamily, MetricKind};

/// One series in memory: its chunks, oldest first (the last one is open),
/// and the out-of-order samples accepted within the window, sorted.
struct MemSeries {
    chunks: Vec<XorChunk>,
    last: Option<(i64, f64)>,
    out_of_order: BTreeMap<i64, f64>,
    /// Appenders holding uncommitted samples for this series; it is not
    /// garbage-collected while any do.
    pending: u32,
    /// The appender (by [`HeadAppender::id`], 0 for none) that first took
    /// this series among those holding it, and the series' index in its
    /// `held`: that appender finds the series again without a map. Only
    /// that appender sets it back to 0, on release.
    marked_by: u64,
    marked_slot: u32,
}

/// How a sample relates to what a series holds.
#[derive(Debug, PartialEq)]
enum Admission {
    InOrder,
    OutOfOrder,
    /// An exact duplicate, which Prometheus accepts and ignores.
    Duplicate,
}

impl MemSeries {
    fn new() -> Self {
        MemSeries {
            chunks: Vec::new(),
            last: None,
            out_of_order: BTreeMap::new(),
            pending: 0,
            marked_by: 0,
            marked_slot: 0,
        }
    }

    /// Checks a sample against the series' last one; `ooo_min` is the
    /// oldest timestamp the out-of-order window accepts (`i64::MAX` when
    /// the window is off).
    fn admit(
        &self,
        last: Option<(i64, f64)>,
        t: i64,
        v: f64,
        ooo_min: i64,
    ) -> Result<Admission, AppendError> {
        match last {
            Some((last_t, _)) if t < last_t => {
                if t < ooo_min {
                    return Err(AppendError::OutOfOrder { last: last_t, t });
                }
                match self.value_at(t) {
                    Some(old) if old.to_bits() == v.to_bits() => Ok(Admission::Duplicate),
                    Some(_) => Err(AppendError::DuplicateTimestamp { t }),
                    None => Ok(Admission::OutOfOrder),
                }
            }
            Some((last_t, last_v)) if t == last_t => {
                if last_v.to_bits() == v.to_bits() {
                    Ok(Admission::Duplicate)
                } else {
                    Err(AppendError::DuplicateTimestamp { t })
                }
            }
            _ => Ok(Admission::InOrder),
        }
    }

    fn value_at(&self, t: i64) -> Option<f64> {
        if let Some(v) = self.out_of_order.get(&t) {
            return Some(*v);
        }
        let chunk = self
            .chunks
            .iter()
            .find(|c| !c.is_empty() && c.min_time() <= t && t <= c.max_time())?;
        chunk.iter().find(|s| s.0 == t).map(|s| s.1)
    }

    fn append(&mut self, t: i64, v: f64) {
        if self.chunks.last().is_none_or(XorChunk::is_full) {
            if let Some(full) = self.chunks.last_mut() {
                full.shrink_to_fit();
            }
            // One chunk more, not four (`Vec`'s smallest growth): most
            // series hold one or two.
            self.chunks.reserve_exact(1);
            self.chunks.push(XorChunk::new());
        }
        let chunk = self.chunks.last_mut().expect("a chunk was just ensured");
        // `admit` ran under the same lock, so the chunk accepts the sample.
        if chunk.append(t, v).is_ok() {
            self.last = Some((t, v));
        }
    }

    /// An out-of-order sample, kept in a tree: samples arriving in
    /// decreasing time (a hostile target, or a crafted log replayed) cost
    /// a logarithmic insertion each, not a shift of all the others.
    fn insert_out_of_order(&mut self, t: i64, v: f64) {
        self.out_of_order.entry(t).or_insert(v);
    }

    /// The out-of-order samples in `[mint, maxt]`, in order.
    fn out_of_order_in(&self, mint: i64, maxt: i64) -> impl Iterator<Item = (i64, f64)> + '_ {
        (mint <= maxt)
            .then(|| self.out_of_order.range(mint..=maxt))
            .into_iter()
            .flatten()
            .map(|(t, v)| (*t, *v))
    }

    /// Applies an admitted sample.
    fn add(&mut self, t: i64, v: f64, ooo_min: i64) -> Admission {
        match self.admit(self.last, t, v, ooo_min) {
            Ok(Admission::InOrder) => {
                self.append(t, v);
                Admission::InOrder
            }
            Ok(Admission::OutOfOrder) => {
                self.insert_out_of_order(t, v);
                Admission::OutOfOrder
            }
            _ => Admission::Duplicate,
        }
    }

    /// Samples in `[mint, maxt]`, in order, in-order and out-of-order
    /// samples merged.
    fn samples_in(&self, mint: i64, maxt: i64, out: &mut Vec<(i64, f64)>) {
        let start = out.len();
        for chunk in &self.chunks {
            if chunk.is_empty() || chunk.max_time() < mint || chunk.min_time() > maxt {
                continue;
            }
            out.extend(
                chunk
                    .iter()
                    .skip_while(|(t, _)| *t < mint)
                    .take_while(|(t, _)| *t <= maxt),
            );
        }
        let ooo = self.out_of_order_in(mint, maxt);
        if self.out_of_order_in(mint, maxt).next().is_some() {
            out.extend(ooo);
            out[start..].sort_by_key(|s| s.0);
        }
    }

    /// The chunks overlapping `[mint, maxt]`, as sources for a lazy
    /// iterator; with out-of-order samples in range, the merged samples.
    fn chunk_sources(&self, mint: i64, maxt: i64) -> Vec<ChunkSource> {
        if self.out_of_order_in(mint, maxt).next().is_some() {
            let mut samples = Vec::new();
            self.samples_in(mint, maxt, &mut samples);
            return vec![ChunkSource::Decoded(samples)];
        }
        self.chunks
            .iter()
            .filter(|c| !c.is_empty() && c.max_time() >= mint && c.min_time() <= maxt)
            .map(|c| ChunkSource::Xor {
                bytes: c.bytes().to_vec(),
                count: c.len(),
                min_time: c.min_time(),
                max_time: c.max_time(),
            })
            .collect()
    }

    fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.chunks
            .iter()
            .any(|c| !c.is_empty() && c.max_time() >= mint && c.min_time() <= maxt)
            || self.out_of_order_in(mint, maxt).next().is_some()
    }

    fn is_empty(&self) -> bool {
        self.chunks.iter().all(XorChunk::is_empty) && self.out_of_order.is_empty()
    }

    /// Deletes the samples in `[mint, maxt]`. Only the chunks holding
    /// some are re-encoded, so a deletion costs what it touches, not the
    /// whole series (a log of many small deletions replays in linear time).
    fn delete_range(&mut self, mint: i64, maxt: i64) {
        if mint > maxt {
            return;
        }
        let hit: Vec<i64> = self
            .out_of_order
            .range(mint..=maxt)
            .map(|(t, _)| *t)
            .collect();
        for t in &hit {
            self.out_of_order.remove(t);
        }
        let mut changed = !hit.is_empty();
        let mut i = 0;
        while i < self.chunks.len() {
            let chunk = &self.chunks[i];
            if chunk.is_empty() || chunk.max_time() < mint || chunk.min_time() > maxt {
                i += 1;
                continue;
            }
            let kept: Vec<(i64, f64)> = chunk
                .iter()
                .filter(|(t, _)| *t < mint || *t > maxt)
                .collect();
            if kept.len() == chunk.len() {
                i += 1;
                continue;
            }
            changed = true;
            if kept.is_empty() {
                self.chunks.remove(i);
                continue;
            }
            let mut rebuilt = XorChunk::new();
            for (t, v) in kept {
                // In order and fewer than the chunk held: accepted.
                let _ = rebuilt.append(t, v);
            }
            if i + 1 < self.chunks.len() {
                rebuilt.shrink_to_fit();
            }
            self.chunks[i] = rebuilt;
            i += 1;
        }
        if !changed {
            return;
        }
        // The newest sample left bounds what is in order; with none left,
        // the deleted one still does: later appends must not go back in
        // time.
        let newest_chunk = self.chunks.iter().rev().find_map(XorChunk::last);
        let newest_ooo = self.out_of_order.last_key_value().map(|(t, v)| (*t, *v));
        let newest = match (newest_chunk, newest_ooo) {
            (Some(c), Some(o)) => Some(if o.0 > c.0 { o } else { c }),
            (c, o) => c.or(o),
        };
        if newest.is_some() {
            self.last = newest;
        }
    }

    /// Drops whole chunks older than `before`; samples of a straddling
    /// chunk are hidden by the head's minimum valid time instead.
    fn truncate(&mut self, before: i64) {
        self.chunks
            .retain(|c| !c.is_empty() && c.max_time() >= before);
        self.out_of_order = self.out_of_order.split_off(&before);
    }
}

/// Why samples were rejected and what the head did, counted like
/// Prometheus' `prometheus_tsdb_*` counters.
#[derive(Debug, Default)]
pub struct HeadStats {
    pub samples_appended: AtomicU64,
    pub out_of_order_appended: AtomicU64,
    pub out_of_order: AtomicU64,
    pub out_of_bounds: AtomicU64,
    pub duplicates: AtomicU64,
    pub series_created: AtomicU64,
    pub series_removed: AtomicU64,
    pub series_limit_hit: AtomicU64,
    pub truncations: AtomicU64,
    /// Samples read back from the WAL at start-up.
    pub replayed_samples: AtomicU64,
    /// Series deleted by matchers.
    pub deletions: AtomicU64,
}

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
}

/// How far beyond twice the series created so far a log ref may lie and
/// still become the head ref of its series on replay. A log written by a
/// head names its series by refs that grow with gaps (series collected
/// since); keeping them spares rewriting the bindings. A ref further out
/// (a high-churn head, or a crafted record) gets the next free head ref,
/// so the slot table stays proportional to the series in the log.
const REPLAY_REF_SLACK: u64 = 1024;

/// Which head series each log ref names at the current point of a
/// replay. A series record (re)binds its ref from there on, as the log is
/// read in order. Log refs below the slot table's length are looked up in
/// a table as long as it (as fast as the slots), refs beyond it in a map
/// holding one entry per such series record.
#[derive(Default)]
struct ReplayRefs {
    /// By log ref below the slot table's length: the head ref it names
    /// (itself unless rebound), or [`UNBOUND`].
    near: Vec<SeriesRef>,
    /// Log refs beyond `near`, bound to a head ref (or to none).
    far: FxHashMap<u32, Option<SeriesRef>>,
    /// Series created by the replay so far.
    created: u64,
}

/// A log ref naming no series although a head series has its number.
const UNBOUND: SeriesRef = SeriesRef::MAX;

impl ReplayRefs {
    /// The head ref log ref `r` names now.
    fn head_ref(&self, r: u32) -> Option<SeriesRef> {
        match self.near.get(r as usize) {
            Some(&UNBOUND) => None,
            Some(&h) => Some(h),
            None if self.far.is_empty() => None,
            None => self.far.get(&r).copied().flatten(),
        }
    }

    /// Grows `near` to `len` refs, taking over what `far` held for them;
    /// a ref without a binding names the slot of its own number.
    fn grow(&mut self, len: usize) {
        for r in self.near.len()..len {
            let bound = match self.far.remove(&(r as u32)) {
                Some(b) => b.unwrap_or(UNBOUND),
                None => r as SeriesRef,
            };
            self.near.push(bound);
        }
    }

    fn bind(&mut self, r: u32, h: Option<SeriesRef>) {
        match self.near.get_mut(r as usize) {
            Some(slot) => *slot = h.unwrap_or(UNBOUND),
            None => {
                self.far.insert(r, h);
            }
        }
    }

    /// Whether log ref `h` names head series `h`: once every live series
    /// is, samples logged under head refs replay into their series.
    fn names_itself(&self, h: SeriesRef) -> bool {
        self.near.get(h as usize) == Some(&h)
    }
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
        }
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

    /// A head backed by the write-ahead log in `dir`: the log is replayed
    /// first (with a progress line), then every commit is logged before it
    /// is acknowledged. With `sync`, commits also survive power loss.
    pub fn open(dir: &std::path::Path, limits: HeadLimits, sync: bool) -> Result<Self, WalError> {
        Head::open_after(dir, limits, sync, i64::MIN)
    }

    /// [`Head::open`] for a head whose samples before `min_valid_time` are
    /// already persisted: the log's older samples are skipped.
    pub fn open_after(
        dir: &std::path::Path,
        limits: HeadLimits,
        sync: bool,
        min_valid_time: i64,
    ) -> Result<Self, WalError> {
        let mut head = Head::new(limits);
        head.min_valid_time = AtomicI64::new(min_valid_time);
        let started = std::time::Instant::now();
        let mut progress = ReplayProgress::new(started);
        let mut refs = ReplayRefs::default();
        let (mut wal, stats) = Wal::open(dir, sync, |record| {
            progress.record(&record);
            head.replay(&mut refs, record)
        })?;
        let rebind = head.rebindings(&refs);
        drop(refs);
        for batch in rebind.chunks(4096) {
            wal.log(batch)?;
        }
        if !rebind.is_empty() {
            tracing::info!(
                series = rebind.len(),
                "WAL refs of replayed series logged again under their head refs"
            );
        }
        log_replay(&stats, started.elapsed());
        head.stats
            .replayed_samples
            .store(stats.samples, Ordering::Relaxed);
        head.wal = Mutex::new(Some(wal));
        head.durable = true;
        Ok(head)
    }

    /// Closes the log: later commits fail, and the log's lock is released
    /// now rather than when the last reference to the head goes away (a
    /// new head may then open the same directory).
    pub fn close(&self) {
        self.wal.lock().take();
    }

    fn replay(&mut self, refs: &mut ReplayRefs, record: Record) {
        let min_valid = *self.min_valid_time.get_mut();
        match record {
            Record::Series { r, labels } => {
                let series = self.series.get_mut();
                let index = self.index.get_mut();
                let h = match index.lookup(&labels) {
                    // The same labels under a second ref: the series was
                    // collected and created again, and the process died
                    // before the checkpoint dropped the first record (or
                    // the bindings were logged again after a replay).
                    // Both refs lead to one series.
                    Some(h) => h,
                    None => {
                        let len = series.len();
                        // A ref near where the head's own refs are keeps
                        // its number; any other takes the next slot, so a
                        // ref of 2^32 - 2 costs one slot, not 32 GiB.
                        let h = if r as usize >= len
                            && r != UNBOUND
                            && u64::from(r) < 2 * refs.created + REPLAY_REF_SLACK
                        {
                            r
                        } else {
                            match SeriesRef::try_from(len) {
                                Ok(h) if h != UNBOUND => {
                                    // Head ref `h` is taken: log ref `h`,
                                    // unless bound already, names no
                                    // series.
                                    refs.far.entry(h).or_insert(None);
                                    h
                                }
                                _ => {
                                    tracing::error!(
                                        series_ref = r,
                                        "skipping a WAL series record: the head has no ref left"
                                    );
                                    return;
                                }
                            }
                        };
                        series.resize_with(h as usize + 1, || None);
                        refs.grow(h as usize + 1);
                        index.insert(&labels, h);
                        series[h as usize] = Some(Arc::new(Mutex::new(MemSeries::new())));
                        refs.created += 1;
                        h
                    }
                };
                refs.bind(r, Some(h));
            }
            Record::Samples(samples) => {
                let series = self.series.get_mut();
                let (mut mint, mut maxt) = (*self.min_time.get_mut(), *self.max_time.get_mut());
                for (r, t, v) in samples {
                    if t < min_valid {
                        continue;
                    }
                    let Some(h) = refs.head_ref(r) else { continue };
                    if let Some(Some(s)) = series.get(h as usize) {
                        // Replay is not bounded by the window: the samples
                        // were accepted once.
                        if s.lock().add(t, v, i64::MIN) != Admission::Duplicate {
                            mint = mint.min(t);
                            maxt = maxt.max(t);
                        }
                    }
                }
                *self.min_time.get_mut() = mint;
                *self.max_time.get_mut() = maxt;
            }
            Record::Tombstone { r, mint, maxt } => {
                let Some(h) = refs.head_ref(r) else { return };
                if let Some(Some(s)) = self.series.get_mut().get(h as usize) {
                    s.lock().delete_range(mint, maxt);
                }
            }
        }
    }

    /// Series records binding each live series' head ref to it, for the
    /// series whose ref in the log differs (or whose head ref names another
    /// series there): logged after a replay, so that samples logged under
    /// head refs from now on replay into the right series.
    fn rebindings(&mut self, refs: &ReplayRefs) -> Vec<Record> {
        let index = self.index.get_mut();
        index
            .refs()
            .filter(|&h| !refs.names_itself(h))
            .filter_map(|h| {
                Some(Record::Series {
                    r: h,
                    labels: index.labels(h)?,
                })
            })
            .collect()
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

    /// An appender whose samples become visible at `commit`.
    pub fn appender(&self) -> HeadAppender<'_> {
        HeadAppender {
            head: self,
            held: Vec::new(),
            held_by_ref: FxHashMap::default(),
            id: NEXT_APPENDER_ID.fetch_add(1, Ordering::Relaxed),
            pending: Vec::new(),
            pending_held: Vec::new(),
            oldest: None,
        }
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
            s.lock()
                .samples_in(mint.max(self.min_valid_time()), maxt, &mut out);
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

    /// The chunks of series `r` overlapping `[mint, maxt]`.
    pub(crate) fn chunk_sources(&self, r: SeriesRef, mint: i64, maxt: i64) -> Vec<ChunkSource> {
        let min_valid = self.min_valid_time();
        match self.series(r) {
            // A chunk straddling the minimum valid time also holds samples
            // the head no longer owns (compacted to the store, and maybe
            // deleted there or dropped by retention since): they are cut
            // off here, as the iterator only bounds by the query's range.
            Some(s) => s
                .lock()
                .chunk_sources(mint.max(min_valid), maxt)
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
                s.truncate(before);
                if s.is_empty() && s.pending == 0 && s.last.is_none_or(|(t, _)| t < before) {
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
        let result = crate::wal::checkpoint(&dir, upto, &filter);
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
                s.lock().delete_range(mint, maxt);
            }
        }
        self.stats
            .deletions
            .fetch_add(refs.len() as u64, Ordering::Relaxed);
        Ok(refs.len())
    }

    /// Counters of the log, if there is one.
    pub fn wal_stats(&self) -> Option<(WalStats, u64)> {
        self.wal.lock().as_ref().map(|w| (w.stats(), w.size()))
    }
}

/// Queues samples for the head; see [`Appender`].
pub struct HeadAppender<'a> {
    head: &'a Head,
    /// The series this appender touched, each counted once in its
    /// `pending` so it is not garbage-collected under the appender.
    held: Vec<Held>,
    /// Index in `held` by ref, of the series marked by another appender
    /// when this one took them (see [`MemSeries::marked_by`]); usually
    /// empty.
    held_by_ref: FxHashMap<SeriesRef, u32>,
    /// Unique among the appenders of the process, never 0.
    id: u64,
    /// Queued samples in append order, as they are logged.
    pending: Vec<(SeriesRef, i64, f64)>,
    /// For each queued sample, its series' index in `held`, so commit
    /// does not look series up again.
    pending_held: Vec<u32>,
    /// Oldest queued sample, as registered in the head's `in_flight`.
    oldest: Option<i64>,
}

/// A series held by an appender.
struct Held {
    series: Arc<Mutex<MemSeries>>,
    /// Last queued sample (else the series' last sample when first
    /// touched), so a batch is checked in order.
    last: Option<(i64, f64)>,
    /// Index in `pending` of the series' last queued sample: commit
    /// releases the series when applying it, under the lock it takes
    /// anyway.
    last_pending: Option<usize>,
    /// Whether the series' `pending` still counts this appender.
    counted: bool,
}

/// Source of [`HeadAppender::id`]s.
static NEXT_APPENDER_ID: AtomicU64 = AtomicU64::new(1);

impl MemSeries {
    /// Lets go of a series held by appender `id` (under its lock).
    fn unhold(&mut self, id: u64) {
        self.pending = self.pending.saturating_sub(1);
        if self.marked_by == id {
            self.marked_by = 0;
        }
    }
}

impl HeadAppender<'_> {
    /// Registers a sample at `t` about to be queued, so compaction waits
    /// for this appender before copying a range holding it; fails if that
    /// range is already sealed.
    /// (A function of the fields it uses, so a caller may hold a series
    /// lock borrowed from `held`.)
    fn hold(head: &Head, oldest: &mut Option<i64>, t: i64) -> Result<(), AppendError> {
        // An older sample is held already: compaction waits for it anyway.
        if oldest.is_some_and(|o| o <= t) {
            return Ok(());
        }
        let mut in_flight = head.in_flight.lock();
        if t < in_flight.sealed_before {
            head.stats.out_of_bounds.fetch_add(1, Ordering::Relaxed);
            return Err(AppendError::OutOfBounds {
                min: in_flight.sealed_before,
                t,
            });
        }
        if let Some(o) = oldest.replace(t) {
            in_flight.remove(o);
        }
        *in_flight.oldest.entry(t).or_default() += 1;
        Ok(())
    }

    /// Releases the series this appender kept from garbage collection and
    /// the samples it held against compaction.
    fn release(&mut self) {
        if let Some(o) = self.oldest.take() {
            self.head.in_flight.lock().remove(o);
        }
        for held in self.held.drain(..) {
            if held.counted {
                held.series.lock().unhold(self.id);
            }
        }
        self.held_by_ref.clear();
    }

    /// Queues a sample of series `r`, which is held (and counted in its
    /// `pending`) from now on; `None` if the series is gone.
    fn queue(&mut self, r: SeriesRef, t: i64, v: f64) -> Option<Result<(), AppendError>> {
        let head = self.head;
        let slots = head.series.read();
        let arc = slots.get(r as usize)?.as_ref()?;
        // One lock for finding the series among the held ones and checking
        // the sample; the lock keeps a concurrent commit from changing what
        // the sample is checked against.
        let mut series = arc.lock();
        let i = if series.marked_by == self.id {
            series.marked_slot as usize
        } else if let Some(&i) = self.held_by_ref.get(&r) {
            i as usize
        } else {
            let i = self.held.len();
            series.pending += 1;
            if series.marked_by == 0 {
                series.marked_by = self.id;
                series.marked_slot = i as u32;
            } else {
                self.held_by_ref.insert(r, i as u32);
            }
            self.held.push(Held {
                series: Arc::clone(arc),
                last: series.last,
                last_pending: None,
                counted: true,
            });
            i
        };
        let min_valid = head.min_valid_time();
        let ooo_min = head.ooo_min(head.max_time()).max(min_valid);
        let held = &mut self.held[i];
        let admission = match series.admit(held.last, t, v, ooo_min) {
            Ok(Admission::Duplicate) => return Some(Ok(())),
            Ok(a) => a,
            Err(e) => {
                let counter = match e {
                    AppendError::OutOfOrder { .. } => &head.stats.out_of_order,
                    _ => &head.stats.duplicates,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                return Some(Err(e));
            }
        };
        if let Err(e) = Self::hold(head, &mut self.oldest, t) {
            return Some(Err(e));
        }
        drop(series);
        drop(slots);
        if admission == Admission::InOrder {
            held.last = Some((t, v));
        }
        held.last_pending = Some(self.pending.len());
        self.pending.push((r, t, v));
        self.pending_held.push(i as u32);
        Some(Ok(()))
    }

    /// Checks a sample's labels and time and finds (or creates) its series.
    fn resolve(&mut self, labels: &[Label], t: i64) -> Result<SeriesRef, AppendError> {
        if labels.windows(2).any(|w| w[0].name >= w[1].name) {
            return Err(AppendError::InvalidSeries(
                "labels must be sorted by name and unique".into(),
            ));
        }
        self.check_bounds(t)?;
        self.head.get_or_create(labels)
    }

    /// Looks the series up (creating it) and queues the sample. A series
    /// collected between the lookup and the queueing is gone from the
    /// index too, so looking up again creates it anew: retried a few times
    /// rather than failing the append.
    fn resolve_and_queue(
        &mut self,
        labels: &[Label],
        t: i64,
        v: f64,
    ) -> Result<SeriesRef, AppendError> {
        for _ in 0..3 {
            let r = self.resolve(labels, t)?;
            if let Some(queued) = self.queue(r, t, v) {
                return queued.map(|()| r);
            }
        }
        removed().map(|()| 0)
    }

    fn check_bounds(&self, t: i64) -> Result<(), AppendError> {
        let min_valid = self.head.min_valid_time();
        if t < min_valid {
            self.head
                .stats
                .out_of_bounds
                .fetch_add(1, Ordering::Relaxed);
            return Err(AppendError::OutOfBounds { min: min_valid, t });
        }
        Ok(())
    }
}

/// The error of an append whose series was collected right after it was
/// looked up.
fn removed() -> Result<(), AppendError> {
    Err(AppendError::InvalidSeries(
        "series was removed while appending; retry".into(),
    ))
}

impl Drop for HeadAppender<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

impl Appender for HeadAppender<'_> {
    fn append(&mut self, labels: &[Label], t: i64, v: f64) -> Result<(), AppendError> {
        self.resolve_and_queue(labels, t, v).map(drop)
    }

    /// A live ref skips checking, hashing and comparing the labels: the
    /// head never reuses a ref, so while it is live it names the same
    /// labels as when it was handed out.
    fn append_ref(
        &mut self,
        cached: u64,
        labels: &[Label],
        t: i64,
        v: f64,
    ) -> Result<u64, AppendError> {
        if let Some(r) = self.head.internal_ref(cached) {
            self.check_bounds(t)?;
            if let Some(queued) = self.queue(r, t, v) {
                return queued.map(|()| cached);
            }
            // Collected since: the labels' series is a new one.
        }
        let r = self.resolve_and_queue(labels, t, v)?;
        Ok(self.head.external_ref(r))
    }

    fn append_known(&mut self, cached: u64, t: i64, v: f64) -> Option<Result<(), AppendError>> {
        let r = self.head.internal_ref(cached)?;
        if let Err(e) = self.check_bounds(t) {
            return Some(Err(e));
        }
        self.queue(r, t, v)
    }

    fn commit(&mut self) -> Result<(), StorageError> {
        let mut wal = self.head.wal.lock();
        if self.head.durable {
            let Some(wal) = wal.as_mut() else {
                self.rollback();
                return Err(StorageError("the TSDB is closed".into()));
            };
            let mut records = std::mem::take(&mut *self.head.unlogged_series.lock());
            let with_samples = !self.pending.is_empty();
            if with_samples {
                // Lent to the record rather than copied, and taken back.
                records.push(Record::Samples(std::mem::take(&mut self.pending)));
            }
            let logged = if records.is_empty() {
                Ok(())
            } else {
                wal.log(&records)
            };
            if with_samples && let Some(Record::Samples(samples)) = records.pop() {
                self.pending = samples;
            }
            if let Err(e) = logged {
                // Nothing of this batch is applied; the series records go
                // back so a later commit logs them.
                let mut unlogged = self.head.unlogged_series.lock();
                unlogged.splice(0..0, records);
                drop(unlogged);
                self.rollback();
                return Err(StorageError(e.to_string()));
            }
        }
        let (mut appended, mut out_of_order) = (0, 0);
        let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
        // Samples older than the window were rejected at `append`; at
        // commit a sample is only checked against what landed meanwhile.
        let ooo_min = if self.head.limits.out_of_order_window_ms > 0 {
            i64::MIN
        } else {
            i64::MAX
        };
        for (n, (&(_, t, v), &i)) in self.pending.iter().zip(&self.pending_held).enumerate() {
            let held = &mut self.held[i as usize];
            let mut series = held.series.lock();
            let admission = series.add(t, v, ooo_min);
            if held.last_pending == Some(n) {
                // Its last sample is in: the series may be collected once
                // the log lock is released (truncation takes it too).
                series.unhold(self.id);
                held.counted = false;
            }
            drop(series);
            match admission {
                Admission::InOrder => appended += 1,
                Admission::OutOfOrder => out_of_order += 1,
                Admission::Duplicate => continue,
            }
            mint = mint.min(t);
            maxt = maxt.max(t);
        }
        self.pending.clear();
        self.pending_held.clear();
        drop(wal);
        if appended + out_of_order > 0 {
            self.head.min_time.fetch_min(mint, Ordering::Relaxed);
            self.head.max_time.fetch_max(maxt, Ordering::Relaxed);
        }
        self.release();
        let stats = &self.head.stats;
        stats
            .samples_appended
            .fetch_add(appended + out_of_order, Ordering::Relaxed);
        stats
            .out_of_order_appended
            .fetch_add(out_of_order, Ordering::Relaxed);
        Ok(())
    }

    fn rollback(&mut self) {
        self.pending.clear();
        self.pending_held.clear();
        self.release();
    }
}

impl Storage for Head {
    fn appender(&self) -> Box<dyn Appender + Send + '_> {
        Box::new(Head::appender(self))
    }
}

impl Head {
    /// Self-metrics under Prometheus' names, so existing dashboards work.
    pub fn metrics(&self) -> Vec<MetricFamily> {
        let family = MetricFamily::single;
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64;
        let s = &self.stats;
        let time = |t: i64, empty: i64| if t == empty { f64::NAN } else { t as f64 };
        let mut families = vec![
            family(
                "prometheus_tsdb_head_series",
                MetricKind::Gauge,
                "Total number of series in the head block.",
                self.num_series() as f64,
            ),
            family(
                "prometheus_tsdb_head_series_created_total",
                MetricKind::Counter,
                "Total number of series created in the head",
                load(&s.series_created),
            ),
            family(
                "prometheus_tsdb_head_series_removed_total",
                MetricKind::Counter,
                "Total number of series removed in the head",
                load(&s.series_removed),
            ),
            family(
                "prometheus_tsdb_head_samples_appended_total",
                MetricKind::Counter,
                "Total number of appended samples.",
                load(&s.samples_appended),
            ),
            family(
                "prometheus_tsdb_head_out_of_order_samples_appended_total",
                MetricKind::Counter,
                "Total number of appended out of order samples.",
                load(&s.out_of_order_appended),
            ),
            family(
                "prometheus_tsdb_out_of_order_samples_total",
                MetricKind::Counter,
                "Total number of out of order samples ingestion failed attempts due to out of order being disabled.",
                load(&s.out_of_order),
            ),
            family(
                "prometheus_tsdb_out_of_bound_samples_total",
                MetricKind::Counter,
                "Total number of out of bound samples ingestion failed attempts with out of order support disabled.",
                load(&s.out_of_bounds),
            ),
            family(
                "prometheus_tsdb_head_truncations_total",
                MetricKind::Counter,
                "Total number of head truncations attempted.",
                load(&s.truncations),
            ),
            family(
                "prometheus_tsdb_head_min_time",
                MetricKind::Gauge,
                "Minimum time bound of the head block.",
                time(self.min_time(), i64::MAX),
            ),
            family(
                "prometheus_tsdb_head_max_time",
                MetricKind::Gauge,
                "Maximum timestamp of the head block.",
                time(self.max_time(), i64::MIN),
            ),
            family(
                "wasmetheus_tsdb_wal_replayed_samples",
                MetricKind::Gauge,
                "Samples read back from the write-ahead log at start-up.",
                load(&s.replayed_samples),
            ),
            family(
                "wasmetheus_tsdb_series_limit_hits_total",
                MetricKind::Counter,
                "Appends that would have created a series beyond the head's series limit.",
                load(&s.series_limit_hit),
            ),
            family(
                "wasmetheus_tsdb_duplicate_samples_total",
                MetricKind::Counter,
                "Samples rejected for a timestamp already holding a different value.",
                load(&s.duplicates),
            ),
        ];
        if let Some((w, size)) = self.wal_stats() {
            families.extend([
                family(
                    "prometheus_tsdb_wal_storage_size_bytes",
                    MetricKind::Gauge,
                    "Size of the write log directory.",
                    size as f64,
                ),
                family(
                    "prometheus_tsdb_wal_writes_failed_total",
                    MetricKind::Counter,
                    "Total number of write log writes that failed.",
                    w.write_failures as f64,
                ),
                family(
                    "prometheus_tsdb_wal_record_bytes_saved_total",
                    MetricKind::Counter,
                    "Total bytes saved by the optional record compression.",
                    0.0,
                ),
                family(
                    "prometheus_tsdb_wal_segment_current",
                    MetricKind::Gauge,
                    "Write log segment index that TSDB is currently writing to.",
                    self.wal
                        .lock()
                        .as_ref()
                        .map_or(0.0, |w| w.current_segment() as f64),
                ),
                family(
                    "prometheus_tsdb_wal_truncations_total",
                    MetricKind::Counter,
                    "Total number of write log truncations attempted.",
                    w.truncations as f64,
                ),
                family(
                    "prometheus_tsdb_checkpoint_creations_total",
                    MetricKind::Counter,
                    "Total number of checkpoint creations attempted.",
                    w.checkpoints_created as f64,
                ),
                family(
                    "prometheus_tsdb_checkpoint_creations_failed_total",
                    MetricKind::Counter,
                    "Total number of checkpoint creations that failed.",
                    w.checkpoint_failures as f64,
                ),
                family(
                    "wasmetheus_tsdb_wal_bytes_written_total",
                    MetricKind::Counter,
                    "Bytes written to the write-ahead log.",
                    w.bytes_written as f64,
                ),
                family(
                    "wasmetheus_tsdb_wal_fsyncs_total",
                    MetricKind::Counter,
                    "fsync calls on the write-ahead log.",
                    w.fsyncs as f64,
                ),
            ]);
        }
        families
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

/// A log line every few seconds of a long replay: counts and rates.
struct ReplayProgress {
    started: std::time::Instant,
    last_report: std::time::Instant,
    series: u64,
    samples: u64,
}

impl ReplayProgress {
    fn new(started: std::time::Instant) -> Self {
        ReplayProgress {
            started,
            last_report: started,
            series: 0,
            samples: 0,
        }
    }

    fn record(&mut self, record: &Record) {
        match record {
            Record::Series { .. } => self.series += 1,
            Record::Samples(s) => self.samples += s.len() as u64,
            Record::Tombstone { .. } => {}
        }
        if self.last_report.elapsed() >= std::time::Duration::from_secs(5) {
            self.last_report = std::time::Instant::now();
            let secs = self.started.elapsed().as_secs_f64();
            tracing::info!(
                series = self.series,
                samples = self.samples,
                "WAL replay in progress: {:.0} samples/s",
                self.samples as f64 / secs
            );
        }
    }
}

fn log_replay(stats: &ReplayStats, took: std::time::Duration) {
    let secs = took.as_secs_f64().max(1e-9);
    tracing::info!(
        segments = stats.segments,
        series = stats.series,
        samples = stats.samples,
        truncated_bytes = stats.truncated_bytes,
        "WAL replay done in {:.2} s ({:.0} samples/s)",
        secs,
        stats.samples as f64 / secs
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(v: &str) -> Vec<Label> {
        vec![Label::new("__name__", "m"), Label::new("a", v)]
    }

    fn samples(head: &Head, v: &str) -> Vec<(i64, f64)> {
        let r = head.index.read().lookup(&labels(v)).unwrap();
        head.samples(r, i64::MIN, i64::MAX)
    }

    fn pending(head: &Head, v: &str) -> u32 {
        let r = head.index.read().lookup(&labels(v)).unwrap();
        head.series(r).unwrap().lock().pending
    }

    #[test]
    fn append_ref_skips_the_lookup_and_survives_stale_refs() {
        let head = Head::default();
        let mut app = head.appender();
        let a = app.append_ref(0, &labels("a"), 1, 1.0).unwrap();
        let b = app.append_ref(0, &labels("b"), 1, 2.0).unwrap();
        assert!(a != 0 && b != 0 && a != b);
        // A ref of the batch itself, checked against the queued sample.
        assert_eq!(app.append_ref(a, &labels("a"), 2, 3.0), Ok(a));
        assert!(matches!(
            app.append_ref(a, &labels("a"), 1, 9.0),
            Err(AppendError::OutOfOrder { .. })
        ));
        app.commit().unwrap();
        drop(app);
        let mut app = head.appender();
        // The ref is all that is used: the labels are not even looked at.
        assert_eq!(app.append_ref(a, &[], 3, 4.0), Ok(a));
        // A ref of another head (same numbering) is not taken for this
        // head's: the labels decide.
        let other = Head::default();
        let foreign = other
            .appender()
            .append_ref(0, &labels("x"), 1, 0.0)
            .unwrap();
        assert_eq!(app.append_ref(foreign, &labels("b"), 3, 5.0), Ok(b));
        assert_eq!(app.append_ref(12345, &labels("b"), 4, 6.0), Ok(b));
        app.commit().unwrap();
        drop(app);
        assert_eq!(samples(&head, "a"), [(1, 1.0), (2, 3.0), (3, 4.0)]);
        assert_eq!(samples(&head, "b"), [(1, 2.0), (3, 5.0), (4, 6.0)]);
        // Collected: the old ref is dead, the labels make a new series.
        head.truncate(10).unwrap();
        assert_eq!(head.num_series(), 0);
        let mut app = head.appender();
        let a2 = app.append_ref(a, &labels("a"), 20, 7.0).unwrap();
        assert!(a2 != a && a2 != 0);
        app.commit().unwrap();
        drop(app);
        assert_eq!(samples(&head, "a"), [(20, 7.0)]);
    }

    #[test]
    fn held_series_are_released_by_commit_rollback_and_drop() {
        let head = Head::default();
        let mut first = head.appender();
        let mut second = head.appender();
        first.append(&labels("a"), 1, 1.0).unwrap();
        // Marked by `first`, so `second` keeps it in its map.
        second.append(&labels("a"), 2, 2.0).unwrap();
        second.append(&labels("a"), 3, 3.0).unwrap();
        first.append(&labels("a"), 4, 4.0).unwrap();
        assert_eq!(pending(&head, "a"), 2);
        assert_eq!(second.held.len(), 1);
        assert_eq!(second.held_by_ref.len(), 1);
        first.commit().unwrap();
        assert_eq!(pending(&head, "a"), 1);
        // `second` checked its samples against its own queue; at commit,
        // they are older than what `first` landed and out of order.
        second.commit().unwrap();
        assert_eq!(pending(&head, "a"), 0);
        assert_eq!(samples(&head, "a"), [(1, 1.0), (4, 4.0)]);
        assert_eq!(head.stats.samples_appended.load(Ordering::Relaxed), 2);

        // A series whose only sample was a duplicate, or rejected, is
        // still released.
        let mut app = head.appender();
        app.append(&labels("a"), 4, 4.0).unwrap();
        app.append(&labels("b"), 1, 1.0).unwrap();
        app.rollback();
        assert_eq!(pending(&head, "a"), 0);
        assert_eq!(pending(&head, "b"), 0);
        let mut app = head.appender();
        assert!(app.append(&labels("a"), 0, 0.0).is_err());
        app.append(&labels("b"), 2, 2.0).unwrap();
        assert_eq!(pending(&head, "a"), 1);
        drop(app);
        assert_eq!(pending(&head, "a"), 0);
        assert_eq!(pending(&head, "b"), 0);
        let r = head.index.read().lookup(&labels("a")).unwrap();
        assert_eq!(head.series(r).unwrap().lock().marked_by, 0);
    }
}
