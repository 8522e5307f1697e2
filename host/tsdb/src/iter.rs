//! Lazily decoded, seekable sample iterators over head and store chunks: a
//! selection holds compressed bytes, and a chunk is decoded only when the
//! query reaches it; `seek` skips whole chunks without decoding them.

use crate::chunk::ChunkIter;
use crate::sealed;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use wasmetheus_model::storage::SampleIterator;

/// A memory-mapped file and the open file under it. Touching a page of a
/// mapping past the end of a file that shrank (truncated by someone else
/// while mapped) kills the process with SIGBUS, so reads first check that
/// the file still has the length it was mapped with: a truncated part is
/// an error for the reads of that part. Lookups check at each call; the
/// chunks of a query check once per part ([`CheckedMap`]). (A truncation
/// racing the check and the reads after it can still fault; nothing here
/// truncates part files, which are immutable once renamed into place.)
pub(crate) struct MappedFile {
    map: memmap2::Mmap,
    file: std::fs::File,
}

impl MappedFile {
    /// Maps `file` whole.
    pub(crate) fn map(file: std::fs::File) -> std::io::Result<MappedFile> {
        // SAFETY: the mapping is read only through `bytes` or a
        // `CheckedMap`, which check first that the file was not truncated
        // under it (see above for the race that remains); part files are
        // never written after they are renamed into place, and unlinking
        // one keeps the mapping valid.
        let map = unsafe { memmap2::Mmap::map(&file) }?;
        Ok(MappedFile { map, file })
    }

    /// The mapped bytes, if the file still holds all of them.
    pub(crate) fn bytes(&self) -> std::io::Result<&[u8]> {
        let len = self.file.metadata()?.len();
        if len < self.map.len() as u64 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "the file shrank from {} to {len} bytes while in use; restore it from a \
                     snapshot or remove it",
                    self.map.len()
                ),
            ));
        }
        Ok(&self.map)
    }
}

/// A part's mapping as the chunks one selection took from it read it: the
/// file's length is checked when the first of them is decoded, and that
/// answer serves the others (one `fstat` per part per query, not one per
/// chunk). A part truncated before a query decodes from it is therefore
/// an error for that query's chunks of the part; one truncated while a
/// query is decoding from it can still fault that query, the window the
/// check-then-read of [`MappedFile`] has, widened to the query.
pub(crate) struct CheckedMap {
    map: Arc<MappedFile>,
    /// [`UNCHECKED`], [`WHOLE`] or [`SHRANK`].
    state: AtomicU8,
}

const UNCHECKED: u8 = 0;
const WHOLE: u8 = 1;
const SHRANK: u8 = 2;

impl CheckedMap {
    /// A fresh view of `map` for one selection, checked at its first read.
    pub(crate) fn new(map: Arc<MappedFile>) -> Arc<CheckedMap> {
        Arc::new(CheckedMap {
            map,
            state: AtomicU8::new(UNCHECKED),
        })
    }

    /// The mapped bytes, if the file held all of them when this view was
    /// first read.
    fn bytes(&self) -> Option<&[u8]> {
        match self.state.load(Ordering::Acquire) {
            WHOLE => Some(&self.map.map),
            SHRANK => None,
            _ => {
                // Two threads racing here both check: harmless.
                let bytes = self.map.bytes().ok();
                let state = if bytes.is_some() { WHOLE } else { SHRANK };
                self.state.store(state, Ordering::Release);
                bytes
            }
        }
    }
}

/// Bytes of a stored chunk: a range of a memory-mapped part file (shared,
/// not copied), or owned.
pub(crate) enum ChunkBytes {
    Mapped {
        map: Arc<CheckedMap>,
        start: usize,
        end: usize,
    },
    #[cfg_attr(not(test), allow(dead_code))]
    Owned(Vec<u8>),
}

impl ChunkBytes {
    /// Decodes the chunk, appending to `out`. A chunk of a part may refer
    /// to the timestamps of a chunk written before it in the same part,
    /// by offset: those lie in the same map, before `start` (so a
    /// reference can neither point at itself nor forward).
    fn decode(&self, out: &mut Vec<(i64, f64)>) -> Result<(), sealed::SealedError> {
        match self {
            ChunkBytes::Mapped { map, start, end } => {
                let map = map.bytes().ok_or(sealed::SealedError::Truncated)?;
                let resolve = |at: u64| {
                    let at = usize::try_from(at).ok()?;
                    map.get(at..*start).filter(|b| !b.is_empty())
                };
                sealed::decode_with(&map[*start..*end], resolve, out)
            }
            ChunkBytes::Owned(bytes) => sealed::decode(bytes, out),
        }
    }
}

/// One chunk's worth of a series, in the form it is stored.
pub(crate) enum ChunkSource {
    /// A head XOR chunk's bytes (copied: the head keeps appending).
    Xor {
        bytes: Vec<u8>,
        count: usize,
        min_time: i64,
        max_time: i64,
    },
    /// A sealed chunk of the store.
    Sealed {
        bytes: ChunkBytes,
        min_time: i64,
        max_time: i64,
    },
    /// Samples already decoded (out-of-order data, merged overlaps).
    Decoded(Vec<(i64, f64)>),
}

impl ChunkSource {
    pub(crate) fn min_time(&self) -> i64 {
        match self {
            ChunkSource::Xor { min_time, .. } | ChunkSource::Sealed { min_time, .. } => *min_time,
            ChunkSource::Decoded(s) => s.first().map_or(i64::MAX, |s| s.0),
        }
    }

    pub(crate) fn max_time(&self) -> i64 {
        match self {
            ChunkSource::Xor { max_time, .. } | ChunkSource::Sealed { max_time, .. } => *max_time,
            ChunkSource::Decoded(s) => s.last().map_or(i64::MIN, |s| s.0),
        }
    }

    /// The source without its samples before `t`: as it is when it has
    /// none, decoded and cut when it straddles `t`, `None` when it ends
    /// before.
    pub(crate) fn starting_at(self, t: i64) -> Option<ChunkSource> {
        if self.min_time() >= t {
            return Some(self);
        }
        if self.max_time() < t {
            return None;
        }
        let mut samples = Vec::new();
        self.decode_into(&mut samples);
        samples.retain(|s| s.0 >= t);
        Some(ChunkSource::Decoded(samples))
    }

    /// Appends the chunk's samples to `out`; corruption is logged and ends
    /// the chunk early (a query must not fail on one bad chunk).
    pub(crate) fn decode_into(&self, out: &mut Vec<(i64, f64)>) {
        match self {
            ChunkSource::Xor { bytes, count, .. } => match ChunkIter::new(bytes, *count) {
                Ok(mut it) => {
                    out.extend(&mut it);
                    if let Some(e) = it.err() {
                        tracing::error!(error = %e, "corrupt head chunk");
                    }
                }
                Err(e) => tracing::error!(error = %e, "corrupt head chunk"),
            },
            ChunkSource::Sealed { bytes, .. } => {
                if let Err(e) = bytes.decode(out) {
                    tracing::error!(error = %e, "corrupt stored chunk");
                }
            }
            ChunkSource::Decoded(samples) => out.extend_from_slice(samples),
        }
    }
}

/// `sources` decoded with the samples in `deleted` intervals removed.
pub(crate) fn without_deleted(
    sources: Vec<ChunkSource>,
    deleted: &[(i64, i64)],
) -> Vec<ChunkSource> {
    if deleted.is_empty() {
        return sources;
    }
    let mut samples = Vec::new();
    for source in &sources {
        source.decode_into(&mut samples);
    }
    samples.retain(|(t, _)| !deleted.iter().any(|(a, b)| a <= t && t <= b));
    // Everything deleted: no source, so the series is not selected.
    if samples.is_empty() {
        return Vec::new();
    }
    vec![ChunkSource::Decoded(samples)]
}

/// Iterates a series' chunks in time order within `[mint, maxt]`, minus
/// deleted intervals.
pub(crate) struct ChunksIterator {
    sources: Vec<ChunkSource>,
    next_source: usize,
    buf: Vec<(i64, f64)>,
    /// Index in `buf` of the next sample to return.
    pos: usize,
    mint: i64,
    maxt: i64,
    deleted: Vec<(i64, i64)>,
    current: Option<(i64, f64)>,
}

impl ChunksIterator {
    /// `sources` in time order; where two overlap (backfilled data under
    /// the head, say) they are decoded and merged up front, the later
    /// source winning on equal timestamps.
    pub(crate) fn new(
        mut sources: Vec<ChunkSource>,
        mint: i64,
        maxt: i64,
        deleted: Vec<(i64, i64)>,
    ) -> Self {
        let overlapping = sources
            .windows(2)
            .any(|w| w[1].min_time() <= w[0].max_time());
        if overlapping {
            let mut merged: Vec<(i64, f64)> = Vec::new();
            for source in &sources {
                let mut samples = Vec::new();
                source.decode_into(&mut samples);
                merged = merge(merged, &samples);
            }
            sources = vec![ChunkSource::Decoded(merged)];
        }
        ChunksIterator {
            sources,
            next_source: 0,
            buf: Vec::new(),
            pos: 0,
            mint,
            maxt,
            deleted,
            current: None,
        }
    }

    /// Decodes the next chunk that can hold a sample at or after `from`.
    fn load(&mut self, from: i64) -> bool {
        while let Some(source) = self.sources.get(self.next_source) {
            self.next_source += 1;
            if source.max_time() < from.max(self.mint) {
                continue;
            }
            if source.min_time() > self.maxt {
                self.next_source = self.sources.len();
                return false;
            }
            self.buf.clear();
            self.pos = 0;
            source.decode_into(&mut self.buf);
            return true;
        }
        false
    }

    fn is_deleted(&self, t: i64) -> bool {
        self.deleted.iter().any(|(a, b)| *a <= t && t <= *b)
    }
}

impl SampleIterator for ChunksIterator {
    fn next(&mut self) -> Option<(i64, f64)> {
        loop {
            if let Some(&s) = self.buf.get(self.pos) {
                self.pos += 1;
                if s.0 < self.mint || self.is_deleted(s.0) {
                    continue;
                }
                if s.0 > self.maxt {
                    self.buf.clear();
                    self.next_source = self.sources.len();
                    return None;
                }
                self.current = Some(s);
                return Some(s);
            }
            if !self.load(i64::MIN) {
                return None;
            }
        }
    }

    fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
        if let Some(current) = self.current
            && current.0 >= t
        {
            return Some(current);
        }
        if self.buf[self.pos.min(self.buf.len())..]
            .last()
            .is_none_or(|last| last.0 < t)
        {
            // Nothing in this chunk: skip chunks ending before `t` undecoded.
            self.buf.clear();
            self.pos = 0;
            if !self.load(t) {
                return None;
            }
        }
        self.pos += self.buf[self.pos..].partition_point(|s| s.0 < t);
        self.next()
    }

    /// Copies runs of decoded samples at once, and decodes a chunk that
    /// lies wholly inside the window straight into `out`. No start
    /// timestamps: the TSDB keeps none.
    fn drain_until(
        &mut self,
        maxt: i64,
        out: &mut Vec<(i64, f64)>,
        _start_timestamps: &mut Vec<i64>,
    ) {
        if !self.deleted.is_empty() {
            // Rare (deletions not yet cleaned): sample by sample.
            while let Some(s) = self.next() {
                if s.0 > maxt {
                    return;
                }
                out.push(s);
            }
            return;
        }
        let last = maxt.min(self.maxt);
        loop {
            let pos = self.pos.min(self.buf.len());
            let rest = &self.buf[pos..];
            let skip = rest.partition_point(|s| s.0 < self.mint);
            let take = rest[skip..].partition_point(|s| s.0 <= last);
            out.extend_from_slice(&rest[skip..skip + take]);
            if take > 0 {
                self.current = Some(rest[skip + take - 1]);
            }
            if let Some(&s) = rest.get(skip + take) {
                // The first sample past `maxt` is consumed, as `next`
                // would; past the iterator's own end, it ends.
                self.pos = pos + skip + take + 1;
                if s.0 > self.maxt {
                    self.buf.clear();
                    self.next_source = self.sources.len();
                } else {
                    self.current = Some(s);
                }
                return;
            }
            self.pos = self.buf.len();
            // Whole chunks inside the window: no copy through `buf`.
            while let Some(source) = self.sources.get(self.next_source) {
                if source.min_time() < self.mint || source.max_time() > last {
                    break;
                }
                self.next_source += 1;
                let before = out.len();
                source.decode_into(out);
                let decoded = &out[before..];
                if decoded.first().is_some_and(|s| s.0 < self.mint)
                    || decoded.last().is_some_and(|s| s.0 > last)
                {
                    // A chunk outside its recorded bounds (corrupt): keep
                    // what lies in the window.
                    let kept: Vec<_> = out
                        .drain(before..)
                        .filter(|s| s.0 >= self.mint && s.0 <= last)
                        .collect();
                    out.extend(kept);
                }
                if let Some(&s) = out.last() {
                    self.current = Some(s);
                }
            }
            if !self.load(i64::MIN) {
                return;
            }
        }
    }
}

/// Merges two sorted sample lists; on equal timestamps `newer` wins.
pub(crate) fn merge(older: Vec<(i64, f64)>, newer: &[(i64, f64)]) -> Vec<(i64, f64)> {
    if older.is_empty() {
        return newer.to_vec();
    }
    let mut out = Vec::with_capacity(older.len() + newer.len());
    let (mut i, mut j) = (0, 0);
    while i < older.len() && j < newer.len() {
        match older[i].0.cmp(&newer[j].0) {
            std::cmp::Ordering::Less => {
                out.push(older[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(newer[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(newer[j]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&older[i..]);
    out.extend_from_slice(&newer[j..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::XorChunk;

    fn xor(samples: &[(i64, f64)]) -> ChunkSource {
        let mut c = XorChunk::new();
        for &(t, v) in samples {
            c.append(t, v).unwrap();
        }
        ChunkSource::Xor {
            bytes: c.bytes().to_vec(),
            count: c.len(),
            min_time: c.min_time(),
            max_time: c.max_time(),
        }
    }

    fn sealed(samples: &[(i64, f64)]) -> ChunkSource {
        let mut bytes = Vec::new();
        sealed::encode(samples, &mut bytes);
        ChunkSource::Sealed {
            bytes: ChunkBytes::Owned(bytes),
            min_time: samples[0].0,
            max_time: samples[samples.len() - 1].0,
        }
    }

    fn drain(mut it: ChunksIterator) -> Vec<i64> {
        let mut out = Vec::new();
        while let Some((t, _)) = it.next() {
            out.push(t);
        }
        out
    }

    fn series(ts: std::ops::Range<i64>) -> Vec<(i64, f64)> {
        ts.map(|t| (t, t as f64)).collect()
    }

    #[test]
    fn iterates_seeks_and_filters_across_chunk_kinds() {
        let sources = || {
            vec![
                sealed(&series(0..10)),
                xor(&series(10..20)),
                ChunkSource::Decoded(series(20..30)),
            ]
        };
        let all = drain(ChunksIterator::new(sources(), 5, 24, vec![(12, 13)]));
        let expected: Vec<i64> = (5..=24).filter(|t| !(12..=13).contains(t)).collect();
        assert_eq!(all, expected);

        let mut it = ChunksIterator::new(sources(), i64::MIN, i64::MAX, vec![]);
        assert_eq!(it.seek(15), Some((15, 15.0)));
        assert_eq!(it.seek(3), Some((15, 15.0)), "never backwards");
        assert_eq!(it.next(), Some((16, 16.0)));
        assert_eq!(it.seek(25), Some((25, 25.0)));
        assert_eq!(it.seek(100), None);
        assert_eq!(it.next(), None);
    }

    /// `drain_until` returns what `next` would, up to `maxt`, for every
    /// window over chunks of every kind, with and without deletions, and
    /// leaves the iterator where `next` would.
    #[test]
    fn drain_until_equals_next_sample_by_sample() {
        let sources = || {
            vec![
                sealed(&series(0..10)),
                xor(&series(10..20)),
                ChunkSource::Decoded(series(20..30)),
                sealed(&series(30..40)),
            ]
        };
        for deleted in [vec![], vec![(12, 13), (31, 31)]] {
            for mint in [-5, 0, 3, 10, 19, 25] {
                for seek in [mint, mint + 4] {
                    for maxt in [2, 9, 10, 19, 20, 29, 33, 39, 45] {
                        for end in [35, 39, 100] {
                            let it = || {
                                let mut it =
                                    ChunksIterator::new(sources(), mint, end, deleted.clone());
                                let first = it.seek(seek);
                                (it, first)
                            };
                            let (mut expected_it, first) = it();
                            let mut expected = Vec::new();
                            while let Some(s) = expected_it.next() {
                                if s.0 > maxt {
                                    break;
                                }
                                expected.push(s);
                            }
                            let (mut drained_it, _) = it();
                            let (mut got, mut sts) = (Vec::new(), Vec::new());
                            drained_it.drain_until(maxt, &mut got, &mut sts);
                            let case = format!("{mint} {seek} {maxt} {end} {deleted:?} {first:?}");
                            assert_eq!(got, expected, "{case}");
                            assert!(sts.is_empty());
                            assert_eq!(drained_it.next(), expected_it.next(), "{case}");
                            assert_eq!(drained_it.seek(0), expected_it.seek(0), "{case}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn overlapping_sources_are_merged_later_winning() {
        let old = sealed(&[(1, 1.0), (3, 3.0), (5, 5.0)]);
        let new = xor(&[(3, 30.0), (4, 40.0)]);
        let mut it = ChunksIterator::new(vec![old, new], i64::MIN, i64::MAX, vec![]);
        let mut got = Vec::new();
        while let Some(s) = it.next() {
            got.push(s);
        }
        assert_eq!(got, vec![(1, 1.0), (3, 30.0), (4, 40.0), (5, 5.0)]);
    }
}
