//! One series of the head in memory: its chunks and out-of-order samples;
//! admitting and appending samples, reading them back, deleting ranges and
//! truncating.
//!
//! # Memory
//!
//! The open chunk is an appendable XOR chunk (Prometheus' layout). Every
//! `SEAL_STEP` samples its samples move to the full chunks, re-encoded in
//! the sealed codec, the store's (`sealed.rs`), into chunks of up to
//! [`TARGET_SAMPLES`] (the last one is re-sealed with them until it holds
//! that many): 120 samples scraped every second with a few ms of jitter
//! take 521 bytes as XOR (the jitter alone costs 16 bits a sample) and 127
//! sealed. A complete full chunk's bytes are not on the heap: they go to
//! the head's chunk segment files (`chunk_files.rs`,
//! `<data dir>/chunks_head/`), once, and the series keeps a 24-byte
//! `FullChunk` handle; queries, compaction and replay read them back
//! (`pread`, or the write buffer). A chunk still to be re-sealed (the
//! last, while it holds at most `TARGET_SAMPLES - SEAL_STEP` samples: at
//! most one a series) is *partial*: its bytes stay in memory, an
//! exact-size boxed slice in the chunk files' slot table, so re-sealing
//! writes no garbage. A chunk is closed for good, and written, when it is
//! complete, when a deletion rewrites a chunk of the files, or when a
//! partial chunk cannot take the next step. The log is unchanged (it holds
//! every sample anyway).
//!
//! Where a series' bytes go (`TSDB_HEAD_RSS_CHUNKS=DIR tsdb-head-rss
//! 100000 140 ingest`: 6 labels, 140 samples at 1 s appended as scrapes
//! arrive; 417 live heap bytes a series, 588 with full chunks on the
//! heap and the last sample in the struct): this struct in its
//! `Arc<Mutex<…>>` 128 (a 128-byte block, was 160); the head's slot for it
//! 8; the index's labels as symbol-id pairs 48 plus their slot 16, the
//! lookup table ~10 (a 32-bit hash), the postings' refs 24 plus growth;
//! the full chunk's handle 24 (its 127 bytes are in the files, 129 bytes
//! a series written, 205 when each re-seal wrote a copy); the open chunk
//! (20 samples) ~100 plus 24 of padding and up to 32 of room to grow.
//! Symbols are shared and cost nothing per series here. While a series
//! holds a partial chunk (samples 61-120 of every 120), it costs ~100
//! heap bytes more: its ~65 bytes, the allocator's rounding and a 16-byte
//! slot (`100000 200 ingest`: 539 heap bytes a series, 129 written to the
//! files, against 441 and 281 when partial chunks were written too).
//! Without a directory (tests, tools) the complete chunks stay in memory
//! segments.

use super::chunk_files::{ChunkFiles, ChunkRef};
use crate::chunk::{TARGET_SAMPLES, XorChunk};
use crate::iter::{ChunkBytes, ChunkSource};
use crate::sealed;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use wasmetheus_model::storage::AppendError;

/// Samples the open chunk holds before they move to the sealed chunks:
/// few enough that the XOR chunk stays small (at 1 s scrapes it costs ~5
/// bytes a sample, sealed ~1), enough that re-sealing the last full chunk
/// (decoding it and encoding it with them) stays cheap: every sample is
/// encoded 1.5 times on average, not once. (`tsdb-head-rss 100000 200
/// ingest`: 696 heap bytes a series against 831 when sealing only at 120
/// samples, appends 5-10% slower; at 30, another 5% less memory but
/// appends 50% slower. With full chunks in files, 30 leaves the open chunk
/// half as big, 457 heap bytes a series against 578 at `100000 120
/// ingest`, for 54% more instructions appending, callgrind on `5000 240
/// ingest`; partial chunks stay in memory, so the step changes only how
/// often they are re-sealed, not the bytes written.)
const SEAL_STEP: usize = 60;

/// A chunk the series cut, in the sealed codec, its bytes in the head's
/// [`ChunkFiles`]: 24 bytes, nothing on the heap but the bytes of a
/// partial chunk.
struct FullChunk {
    min_t: i64,
    max_t: i64,
    at: ChunkRef,
}

/// Whether a sealed chunk of `n` samples is complete: a whole step more
/// would overflow it, so no more samples are sealed into it.
fn complete(n: usize) -> bool {
    n + SEAL_STEP > TARGET_SAMPLES
}

impl FullChunk {
    /// Seals `samples` (in order, at least one): into the chunk files if
    /// `done` (the chunk takes no more samples), else as a partial chunk
    /// in memory.
    fn seal(samples: &[(i64, f64)], files: &ChunkFiles, done: bool) -> Self {
        let mut bytes = Vec::new();
        sealed::encode(samples, &mut bytes);
        FullChunk {
            at: if done {
                files.put(&bytes)
            } else {
                files.put_partial(&bytes)
            },
            min_t: samples[0].0,
            max_t: samples[samples.len() - 1].0,
        }
    }

    /// Closes a partial chunk for good: its bytes go to the files.
    fn close(&mut self, files: &ChunkFiles) {
        if self.at.is_partial() {
            let bytes = self.bytes(files);
            if bytes.is_empty() {
                return;
            }
            files.release(self.at);
            self.at = files.put(&bytes);
        }
    }

    /// The chunk's bytes; empty, logged and counted in the files'
    /// `read_failures` (which compaction and queries check, so that
    /// neither goes on without them), if they cannot be read back (an I/O
    /// error on the chunk files).
    fn bytes(&self, files: &ChunkFiles) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.at.len());
        if let Err(e) = files.read(self.at, &mut out) {
            files.read_failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, "reading a full head chunk");
        }
        out
    }

    /// Appends the samples to `out`; they were encoded here, so decoding
    /// cannot fail short of corruption, which is logged.
    fn decode_into(&self, files: &ChunkFiles, out: &mut Vec<(i64, f64)>) {
        decode_logged(&self.bytes(files), out);
    }

    fn samples(&self, files: &ChunkFiles) -> Vec<(i64, f64)> {
        let mut out = Vec::new();
        self.decode_into(files, &mut out);
        out
    }
}

fn decode_logged(bytes: &[u8], out: &mut Vec<(i64, f64)>) {
    if bytes.is_empty() {
        return;
    }
    if let Err(e) = sealed::decode(bytes, out) {
        tracing::error!(error = %e, "corrupt full head chunk");
    }
}

/// A chunk of a series, full or open.
enum Chunk<'a> {
    Full(&'a FullChunk),
    Open(&'a XorChunk),
}

impl Chunk<'_> {
    /// Its first and last timestamps.
    fn span(&self) -> (i64, i64) {
        match self {
            Chunk::Full(c) => (c.min_t, c.max_t),
            // An empty chunk's range (`i64::MAX`, `i64::MIN`) overlaps nothing.
            Chunk::Open(c) => (c.min_time(), c.max_time()),
        }
    }

    /// Whether the chunk has samples in `[mint, maxt]`'s time range.
    fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        let (min, max) = self.span();
        max >= mint && min <= maxt
    }

    fn decode_into(&self, files: &ChunkFiles, out: &mut Vec<(i64, f64)>) {
        match self {
            Chunk::Full(c) => c.decode_into(files, out),
            Chunk::Open(c) => out.extend(c.iter()),
        }
    }
}

/// What few series hold, boxed: out-of-order samples, and a last sample
/// the open chunk does not end with (after a deletion or truncation).
#[derive(Default)]
struct Rare {
    out_of_order: BTreeMap<i64, f64>,
    last: Option<(i64, f64)>,
}

/// One series in memory: its full chunks, oldest first, the open chunk
/// after them, and the out-of-order samples accepted within the window,
/// sorted.
pub(super) struct MemSeries {
    /// A boxed slice, not a `Vec`: 16 bytes, not 24.
    full: Box<[FullChunk]>,
    open: Option<XorChunk>,
    /// Boxed: 8 bytes in every series, the rest only in those needing
    /// it. (With the last sample derived from the open chunk, the struct
    /// takes 104 bytes, its `Arc<Mutex<…>>` allocation 128.)
    rare: Option<Box<Rare>>,
    /// Appenders holding uncommitted samples for this series; it is not
    /// garbage-collected while any do.
    pub(super) pending: u32,
    /// The appender (by [`HeadAppender::id`](super::HeadAppender::id), 0 for none) that first took
    /// this series among those holding it, and the series' index in its
    /// `held`: that appender finds the series again without a map. Only
    /// that appender sets it back to 0, on release.
    pub(super) marked_by: u64,
    pub(super) marked_slot: u32,
}

/// How a sample relates to what a series holds.
#[derive(Debug, PartialEq)]
pub(super) enum Admission {
    InOrder,
    OutOfOrder,
    /// An exact duplicate, which Prometheus accepts and ignores.
    Duplicate,
}

/// Whether two samples are the same, bit for bit.
fn same(a: Option<(i64, f64)>, b: Option<(i64, f64)>) -> bool {
    a.map(|(t, v)| (t, v.to_bits())) == b.map(|(t, v)| (t, v.to_bits()))
}

impl MemSeries {
    pub(super) fn new() -> Self {
        MemSeries {
            full: Box::default(),
            open: None,
            rare: None,
            pending: 0,
            marked_by: 0,
            marked_slot: 0,
        }
    }

    /// The newest sample in order, which later in-order ones must follow:
    /// the open chunk's last, unless a deletion or truncation left another.
    pub(super) fn last(&self) -> Option<(i64, f64)> {
        match self.rare.as_ref().and_then(|r| r.last) {
            Some(last) => Some(last),
            None => self.open_last(),
        }
    }

    fn open_last(&self) -> Option<(i64, f64)> {
        self.open.as_ref().and_then(XorChunk::last)
    }

    /// Records `last` as the series' last sample.
    fn set_last(&mut self, last: Option<(i64, f64)>) {
        let last = last.filter(|_| !same(last, self.open_last()));
        match (&mut self.rare, last) {
            (Some(rare), _) => rare.last = last,
            (None, Some(_)) => {
                self.rare = Some(Box::new(Rare {
                    last,
                    ..Rare::default()
                }))
            }
            (None, None) => {}
        }
        self.tidy_rare();
    }

    fn tidy_rare(&mut self) {
        if self
            .rare
            .as_ref()
            .is_some_and(|r| r.last.is_none() && r.out_of_order.is_empty())
        {
            self.rare = None;
        }
    }

    fn out_of_order(&self) -> Option<&BTreeMap<i64, f64>> {
        self.rare
            .as_ref()
            .map(|r| &r.out_of_order)
            .filter(|m| !m.is_empty())
    }

    /// The chunks, oldest first.
    fn chunks(&self) -> impl Iterator<Item = Chunk<'_>> {
        self.full
            .iter()
            .map(Chunk::Full)
            .chain(self.open.iter().map(Chunk::Open))
    }

    /// Checks a sample against the series' last one; `ooo_min` is the
    /// oldest timestamp the out-of-order window accepts (`i64::MAX` when
    /// the window is off).
    pub(super) fn admit(
        &self,
        last: Option<(i64, f64)>,
        t: i64,
        v: f64,
        ooo_min: i64,
        files: &ChunkFiles,
    ) -> Result<Admission, AppendError> {
        match last {
            Some((last_t, _)) if t < last_t => {
                if t < ooo_min {
                    return Err(AppendError::OutOfOrder { last: last_t, t });
                }
                match self.value_at(t, files) {
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

    fn value_at(&self, t: i64, files: &ChunkFiles) -> Option<f64> {
        if let Some(v) = self.out_of_order().and_then(|m| m.get(&t)) {
            return Some(*v);
        }
        let chunk = self.chunks().find(|c| c.overlaps(t, t))?;
        let mut samples = Vec::new();
        chunk.decode_into(files, &mut samples);
        samples.iter().find(|s| s.0 == t).map(|s| s.1)
    }

    fn append(&mut self, t: i64, v: f64, files: &ChunkFiles) {
        if self.open.as_ref().is_some_and(|c| c.len() >= SEAL_STEP)
            && let Some(open) = self.open.take()
        {
            self.seal(&open, files);
        }
        let chunk = self.open.get_or_insert_with(XorChunk::new);
        // `admit` ran under the same lock, so the chunk accepts the sample:
        // the open chunk ends with the last sample again.
        if chunk.append(t, v).is_ok()
            && let Some(rare) = self.rare.as_mut()
            && rare.last.take().is_some()
        {
            self.tidy_rare();
        }
    }

    /// Moves the open chunk's samples into the last full chunk, re-sealed,
    /// while it is partial and holds at most [`TARGET_SAMPLES`] with them;
    /// else into a new full chunk. The result goes to the chunk files once
    /// complete, else stays in memory (partial).
    fn seal(&mut self, open: &XorChunk, files: &ChunkFiles) {
        let mut samples = Vec::with_capacity(TARGET_SAMPLES);
        let merge = match self.full.last() {
            Some(last) if last.at.is_partial() => {
                let bytes = last.bytes(files);
                let merge =
                    sealed::header(&bytes).is_ok_and(|h| h.count + open.len() <= TARGET_SAMPLES);
                if merge {
                    decode_logged(&bytes, &mut samples);
                }
                merge
            }
            _ => false,
        };
        samples.extend(open.iter());
        let chunk = FullChunk::seal(&samples, files, complete(samples.len()));
        match self.full.last_mut() {
            Some(last) if merge => {
                files.release(last.at);
                *last = chunk;
            }
            last => {
                // A partial chunk that takes no more (corrupt, or too big
                // for the samples) is closed: only the last can be partial.
                if let Some(last) = last {
                    last.close(files);
                }
                // One chunk more, not four (`Vec`'s smallest growth): most
                // series hold one or two.
                let mut full = std::mem::take(&mut self.full).into_vec();
                full.reserve_exact(1);
                full.push(chunk);
                self.full = full.into_boxed_slice();
            }
        }
    }

    /// An out-of-order sample, kept in a tree: samples arriving in
    /// decreasing time (a hostile target, or a crafted log replayed) cost
    /// a logarithmic insertion each, not a shift of all the others.
    fn insert_out_of_order(&mut self, t: i64, v: f64) {
        self.rare
            .get_or_insert_default()
            .out_of_order
            .entry(t)
            .or_insert(v);
    }

    /// The out-of-order samples in `[mint, maxt]`, in order.
    fn out_of_order_in(&self, mint: i64, maxt: i64) -> impl Iterator<Item = (i64, f64)> + '_ {
        (mint <= maxt)
            .then_some(self.out_of_order())
            .flatten()
            .map(|m| m.range(mint..=maxt))
            .into_iter()
            .flatten()
            .map(|(t, v)| (*t, *v))
    }

    /// Applies an admitted sample.
    pub(super) fn add(&mut self, t: i64, v: f64, ooo_min: i64, files: &ChunkFiles) -> Admission {
        match self.admit(self.last(), t, v, ooo_min, files) {
            Ok(Admission::InOrder) => {
                self.append(t, v, files);
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
    pub(super) fn samples_in(
        &self,
        mint: i64,
        maxt: i64,
        out: &mut Vec<(i64, f64)>,
        files: &ChunkFiles,
    ) {
        let start = out.len();
        for chunk in self.chunks().filter(|c| c.overlaps(mint, maxt)) {
            let from = out.len();
            chunk.decode_into(files, out);
            // Chunks are in order: keep the run within the range.
            let skip = out[from..].partition_point(|s| s.0 < mint);
            out.drain(from..from + skip);
            let keep = out[from..].partition_point(|s| s.0 <= maxt);
            out.truncate(from + keep);
        }
        let ooo = self.out_of_order_in(mint, maxt);
        if self.out_of_order_in(mint, maxt).next().is_some() {
            out.extend(ooo);
            out[start..].sort_by_key(|s| s.0);
        }
    }

    /// The chunks overlapping `[mint, maxt]`, as sources for a lazy
    /// iterator; with out-of-order samples in range, the merged samples.
    /// Its chunks overlapping `[mint, maxt]` for which `keep(min_t, max_t)`
    /// holds (a query's step windows: a chunk left out is not even read
    /// from the chunk files); with out-of-order samples, all of them
    /// merged into one.
    pub(super) fn chunk_sources(
        &self,
        mint: i64,
        maxt: i64,
        files: &ChunkFiles,
        keep: &mut dyn FnMut(i64, i64) -> bool,
    ) -> Vec<ChunkSource> {
        if self.out_of_order_in(mint, maxt).next().is_some() {
            let mut samples = Vec::new();
            self.samples_in(mint, maxt, &mut samples, files);
            return vec![ChunkSource::Decoded(samples)];
        }
        self.chunks()
            .filter(|c| {
                c.overlaps(mint, maxt) && {
                    let (min, max) = c.span();
                    keep(min, max)
                }
            })
            .filter_map(|c| match c {
                Chunk::Full(c) => {
                    let bytes = c.bytes(files);
                    (!bytes.is_empty()).then(|| ChunkSource::Sealed {
                        bytes: ChunkBytes::Owned(bytes),
                        min_time: c.min_t,
                        max_time: c.max_t,
                    })
                }
                Chunk::Open(c) => Some(ChunkSource::Xor {
                    bytes: c.bytes().to_vec(),
                    count: c.len(),
                    min_time: c.min_time(),
                    max_time: c.max_time(),
                }),
            })
            .collect()
    }

    pub(super) fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.chunks().any(|c| c.overlaps(mint, maxt))
            || self.out_of_order_in(mint, maxt).next().is_some()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.full.is_empty()
            && self.open.as_ref().is_none_or(XorChunk::is_empty)
            && self.out_of_order().is_none()
    }

    /// Deletes the samples in `[mint, maxt]`. Only the chunks holding
    /// some are re-encoded, so a deletion costs what it touches, not the
    /// whole series (a log of many small deletions replays in linear time).
    pub(super) fn delete_range(&mut self, mint: i64, maxt: i64, files: &ChunkFiles) {
        if mint > maxt {
            return;
        }
        let last_before = self.last();
        let hit: Vec<i64> = self.out_of_order_in(mint, maxt).map(|(t, _)| t).collect();
        if let Some(rare) = self.rare.as_mut() {
            for t in &hit {
                rare.out_of_order.remove(t);
            }
        }
        let mut changed = !hit.is_empty();
        let outside = |s: &(i64, f64)| s.0 < mint || s.0 > maxt;
        if self
            .full
            .iter()
            .any(|c| Chunk::Full(c).overlaps(mint, maxt))
        {
            let mut full = std::mem::take(&mut self.full).into_vec();
            let mut i = 0;
            while i < full.len() {
                let chunk = &full[i];
                if !Chunk::Full(chunk).overlaps(mint, maxt) {
                    i += 1;
                    continue;
                }
                let mut samples = chunk.samples(files);
                let before = samples.len();
                samples.retain(outside);
                if samples.len() == before {
                    i += 1;
                    continue;
                }
                changed = true;
                // A chunk of the files is rewritten to them, closed for
                // good; a partial one stays partial.
                let partial = chunk.at.is_partial();
                files.release(chunk.at);
                if samples.is_empty() {
                    full.remove(i);
                    continue;
                }
                full[i] = FullChunk::seal(&samples, files, !partial || complete(samples.len()));
                i += 1;
            }
            self.full = full.into_boxed_slice();
        }
        if let Some(open) = self
            .open
            .as_ref()
            .filter(|c| Chunk::Open(c).overlaps(mint, maxt))
        {
            let kept: Vec<(i64, f64)> = open.iter().filter(outside).collect();
            if kept.len() != open.len() {
                changed = true;
                self.open = (!kept.is_empty()).then(|| {
                    let mut rebuilt = XorChunk::new();
                    for (t, v) in kept {
                        // In order and fewer than the chunk held: accepted.
                        let _ = rebuilt.append(t, v);
                    }
                    rebuilt
                });
            }
        }
        if !changed {
            return;
        }
        // The newest sample left bounds what is in order; with none left,
        // the deleted one still does: later appends must not go back in
        // time.
        let newest_chunk = match &self.open {
            Some(open) if !open.is_empty() => open.last(),
            _ => self
                .full
                .last()
                .and_then(|c| c.samples(files).last().copied()),
        };
        let newest_ooo = self
            .out_of_order()
            .and_then(|m| m.last_key_value())
            .map(|(t, v)| (*t, *v));
        let newest = match (newest_chunk, newest_ooo) {
            (Some(c), Some(o)) => Some(if o.0 > c.0 { o } else { c }),
            (c, o) => c.or(o),
        };
        self.set_last(newest.or(last_before));
    }

    /// Drops whole chunks older than `before`; samples of a straddling
    /// chunk are hidden by the head's minimum valid time instead.
    pub(super) fn truncate(&mut self, before: i64, files: &ChunkFiles) {
        if self.full.iter().any(|c| c.max_t < before) {
            let mut full = std::mem::take(&mut self.full).into_vec();
            full.retain(|c| {
                let keep = c.max_t >= before;
                if !keep {
                    files.release(c.at);
                }
                keep
            });
            self.full = full.into_boxed_slice();
        }
        if self
            .open
            .as_ref()
            .is_some_and(|c| c.is_empty() || c.max_time() < before)
        {
            // The dropped chunk's last sample still bounds what is in order.
            let last = self.last();
            self.open = None;
            self.set_last(last);
        }
        if let Some(rare) = self.rare.as_mut() {
            rare.out_of_order = rare.out_of_order.split_off(&before);
        }
        self.tidy_rare();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iter::ChunksIterator;
    use std::sync::LazyLock;
    use wasmetheus_model::storage::SampleIterator;

    /// The chunk store of these tests' series, in memory.
    fn f() -> &'static ChunkFiles {
        static FILES: LazyLock<ChunkFiles> = LazyLock::new(ChunkFiles::memory);
        &FILES
    }

    /// 300 samples: two full chunks and an open one of 60, with values no
    /// decimal encoding holds (NaN payloads, -0.0, infinities).
    fn series() -> (MemSeries, Vec<(i64, f64)>) {
        let mut s = MemSeries::new();
        let samples: Vec<(i64, f64)> = (0..300i64)
            .map(|i| {
                let v = match i % 7 {
                    0 => f64::from_bits(0x7ff0_0000_0000_0002),
                    1 => -0.0,
                    2 => f64::INFINITY,
                    _ => i as f64 * 1.5,
                };
                (1000 * i + i % 3, v)
            })
            .collect();
        for &(t, v) in &samples {
            assert_eq!(s.add(t, v, i64::MAX, f()), Admission::InOrder);
        }
        (s, samples)
    }

    fn bits(samples: &[(i64, f64)]) -> Vec<(i64, u64)> {
        samples.iter().map(|(t, v)| (*t, v.to_bits())).collect()
    }

    fn read(s: &MemSeries, mint: i64, maxt: i64) -> Vec<(i64, f64)> {
        let mut out = Vec::new();
        s.samples_in(mint, maxt, &mut out, f());
        out
    }

    #[test]
    fn a_series_fits_a_128_byte_block_and_a_full_chunk_24_bytes() {
        // `Arc<Mutex<MemSeries>>`: two counts and the lock's word before it.
        assert!(size_of::<MemSeries>() + 24 <= 128);
        assert_eq!(size_of::<FullChunk>(), 24);
    }

    #[test]
    fn full_chunks_are_sealed_and_read_back_bit_exact() {
        let (s, samples) = series();
        let counts: Vec<usize> = s
            .full
            .iter()
            .map(|c| sealed::header(&c.bytes(f())).unwrap().count)
            .collect();
        assert_eq!(counts, [120, 120]);
        assert!(
            s.full.iter().all(|c| !c.at.is_partial()),
            "complete chunks in the files"
        );
        assert_eq!(s.open.as_ref().map(XorChunk::len), Some(60));
        assert_eq!(bits(&read(&s, i64::MIN, i64::MAX)), bits(&samples));
        // A range across the first cut, by samples and by chunk sources.
        let (mint, maxt) = (100_000, 130_500);
        let want: Vec<_> = samples
            .iter()
            .copied()
            .filter(|(t, _)| (mint..=maxt).contains(t))
            .collect();
        assert_eq!(bits(&read(&s, mint, maxt)), bits(&want));
        let mut it = ChunksIterator::new(
            s.chunk_sources(mint, maxt, f(), &mut |_, _| true),
            mint,
            maxt,
            Vec::new(),
        );
        let mut got = Vec::new();
        while let Some(sample) = it.next() {
            got.push(sample);
        }
        assert_eq!(bits(&got), bits(&want));
        assert!(s.overlaps(5_000, 5_000) && !s.overlaps(400_000, 500_000));
    }

    #[test]
    fn duplicates_in_full_chunks_are_found() {
        let (s, samples) = series();
        let (t, v) = samples[10];
        let last = s.last();
        assert_eq!(s.admit(last, t, v, i64::MIN, f()), Ok(Admission::Duplicate));
        assert_eq!(
            s.admit(last, t, 7.25, i64::MIN, f()),
            Err(AppendError::DuplicateTimestamp { t })
        );
        assert_eq!(
            s.admit(last, t + 1, 1.0, i64::MIN, f()),
            Ok(Admission::OutOfOrder)
        );
    }

    #[test]
    fn deletion_and_truncation_reach_full_and_open_chunks() {
        let (mut s, samples) = series();
        // Half of the first full chunk, all of the second, part of the open one.
        s.delete_range(60_000, 250_000, f());
        let kept: Vec<_> = samples
            .iter()
            .copied()
            .filter(|(t, _)| !(60_000..=250_000).contains(t))
            .collect();
        assert_eq!(bits(&read(&s, i64::MIN, i64::MAX)), bits(&kept));
        assert_eq!(s.full.len(), 1);
        // Everything after the first chunk: the last sample then comes from
        // the sealed chunk.
        s.delete_range(60_000, i64::MAX, f());
        assert!(s.open.is_none());
        assert_eq!(s.last().map(|l| l.0), Some(samples[59].0));
        assert_eq!(s.add(400_000, 1.0, i64::MAX, f()), Admission::InOrder);
        assert_eq!(s.add(350_000, 2.0, i64::MIN, f()), Admission::OutOfOrder);
        s.truncate(300_000, f());
        assert!(s.full.is_empty());
        assert_eq!(
            read(&s, i64::MIN, i64::MAX),
            [(350_000, 2.0), (400_000, 1.0)]
        );
        s.delete_range(350_000, 350_000, f());
        assert!(s.rare.is_none(), "an emptied tree is freed");
        assert_eq!(read(&s, i64::MIN, i64::MAX), [(400_000, 1.0)]);
        s.truncate(500_000, f());
        assert!(s.is_empty());
    }

    #[test]
    fn regular_scrapes_seal_to_a_fraction_of_their_xor_size() {
        // A counter scraped every second with a few ms of jitter.
        let mut s = MemSeries::new();
        let mut xor = XorChunk::new();
        for i in 0..121i64 {
            let (t, v) = (1000 * i + (i * 7) % 5, (1000 + 13 * i + i % 4) as f64);
            if i < 120 {
                xor.append(t, v).unwrap();
            }
            s.add(t, v, i64::MAX, f());
        }
        // The open chunk took 60 samples at a time, sealed into one chunk.
        assert_eq!(s.full.len(), 1);
        assert_eq!(sealed::header(&s.full[0].bytes(f())).unwrap().count, 120);
        assert_eq!(s.open.as_ref().map(XorChunk::len), Some(1));
        let sealed = s.full[0].bytes(f()).len();
        assert!(
            sealed * 3 < xor.bytes().len(),
            "sealed {sealed} B, XOR {} B",
            xor.bytes().len()
        );
    }

    #[test]
    fn a_chunk_a_deletion_shortened_is_closed_and_a_partial_one_stays_partial() {
        let files = ChunkFiles::memory();
        let mut s = MemSeries::new();
        let mut want = Vec::new();
        let mut add = |s: &mut MemSeries, i: i64| {
            assert_eq!(
                s.add(i * 1000, i as f64, i64::MAX, &files),
                Admission::InOrder
            );
            want.push((i * 1000, i as f64));
        };
        for i in 0..130 {
            add(&mut s, i);
        }
        // The complete chunk, rewritten with its last 60 samples, stays in
        // the files and takes no more.
        s.delete_range(0, 59_000, &files);
        assert!(!s.full[0].at.is_partial());
        for i in 130..200 {
            add(&mut s, i);
        }
        let counts = |s: &MemSeries| -> Vec<(usize, bool)> {
            s.full
                .iter()
                .map(|c| {
                    let count = sealed::header(&c.bytes(&files)).unwrap().count;
                    (count, c.at.is_partial())
                })
                .collect()
        };
        assert_eq!(counts(&s), [(60, false), (60, true)]);
        // The partial chunk shortened stays partial and is completed by
        // the next seal.
        s.delete_range(120_000, 129_000, &files);
        assert_eq!(counts(&s), [(60, false), (50, true)]);
        for i in 200..241 {
            add(&mut s, i);
        }
        assert_eq!(counts(&s), [(60, false), (110, false)]);
        want.retain(|(t, _)| *t > 59_000 && !(120_000..=129_000).contains(t));
        assert_eq!(read_in(&s, &files), want);
        // Only the live chunks' bytes are kept, none in memory.
        let live: usize = s.full.iter().map(|c| c.at.len()).sum();
        assert_eq!(files.usage().1, live as u64);
        assert_eq!(files.memory_bytes.load(Ordering::Relaxed), files.usage().0);
    }

    fn read_in(s: &MemSeries, files: &ChunkFiles) -> Vec<(i64, f64)> {
        let mut out = Vec::new();
        s.samples_in(i64::MIN, i64::MAX, &mut out, files);
        out
    }
}
