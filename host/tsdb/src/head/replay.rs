//! Opening a head on its write-ahead log: the log replayed into the head
//! (log refs mapped to head refs, with a progress line), then the refs
//! that differ logged again under the head's own.

use super::series::{Admission, MemSeries};
use super::{Head, HeadLimits};
use crate::index::SeriesRef;
use crate::wal::{Record, ReplayStats, Wal, WalError};
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

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

impl Head {
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
        Head::open_with_chunks(dir, None, limits, sync, min_valid_time)
    }

    /// [`Head::open_after`], with full chunks in segment files in
    /// `chunks_dir` (Prometheus' `chunks_head`), emptied first: they are a
    /// cache of what the log holds, rebuilt by the replay.
    pub fn open_with_chunks(
        dir: &std::path::Path,
        chunks_dir: Option<&std::path::Path>,
        limits: HeadLimits,
        sync: bool,
        min_valid_time: i64,
    ) -> Result<Self, WalError> {
        let mut head = Head::new(limits);
        if let Some(chunks_dir) = chunks_dir {
            head.use_chunk_dir(chunks_dir, super::chunk_files::SEGMENT_BYTES);
        }
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
                        if s.lock().add(t, v, i64::MIN, &self.chunks) != Admission::Duplicate {
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
                    s.lock().delete_range(mint, maxt, &self.chunks);
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
