//! The persistent store of everything compacted out of the head (or
//! backfilled): series, postings, symbols and tombstones in sled, sealed
//! chunks in immutable part files.
//!
//! Why two places: sled is a good index but a poor home for hundreds of
//! thousands of ~500-byte values — measured here it takes 2.4–3.7 bytes on
//! disk per byte of such values, and its size never shrinks after deletes
//! (so size retention could not work on it). Sealed chunks are written once
//! per block and dropped a block at a time, which is what immutable files
//! do best: one byte on disk per byte of chunk.
//!
//! sled trees (keys big-endian so byte order is numeric order):
//! - `symbols`: id → string (label strings are stored once, series refer
//!   to them by id);
//! - `series`: sid → its labels as varint symbol ids;
//! - `postings`: `name id | value id` → the sorted sids carrying that pair,
//!   as varint deltas;
//! - `tombstones`: sid → deleted `(mint, maxt)` intervals;
//! - `meta`: `compacted_upto`.
//!
//! What can be derived is kept in memory only, rebuilt at open: symbol ids
//! by string, and series by label hash. Sled spends about 4.5 bytes on disk
//! per byte of small random keys and values (measured), so every tree left
//! out counts.
//!
//! Part files (`chunks/<block>-<seq>.part`) hold, for one block, one
//! sealed chunk per series and an index sorted by sid; see [`Part`]. A
//! block may have several parts (a compaction, a backfill, a late merge);
//! readers merge them, newer winning on equal timestamps, and maintenance
//! rewrites them into one.
//!
//! This file is the facade: opening, reading (selecting series and their
//! chunks), sizes and snapshots. The rest by job: `part.rs` the part file
//! format (writing layout, mapped and checked reading), `index.rs` the sled
//! trees (symbols, series, postings, tombstones) and selection by matchers,
//! `writer.rs` writing and publishing parts ([`BlockWriter`]),
//! `maintenance.rs` rewriting blocks (part merges, tombstone cleaning) and
//! retention.

mod index;
mod maintenance;
mod part;
mod writer;

pub use part::Part;
pub use writer::{BlockWriter, PreparedPart};

use crate::iter::{ChunkSource, merge};
use index::{Symbols, sid_of};
use parking_lot::{Mutex, RwLock};
use part::parse_part_name;
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use wasmetheus_model::Label;
use wasmetheus_model::storage::{Matcher, SelectHints};

/// A persisted series' id.
pub type Sid = u64;

/// Deleted `(mint, maxt)` ranges of a series, both ends inclusive.
pub type Intervals = Vec<(i64, i64)>;

/// A selected series: sid, labels and its stored chunks in the window.
pub(crate) type SelectedSeries = (Sid, Vec<Label>, Vec<ChunkSource>);

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sled store {path}: {source}")]
    Sled { path: String, source: sled::Error },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("corrupt {what} in the store: {detail}")]
    Corrupt { what: &'static str, detail: String },
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Order-preserving encoding of an i64.
fn sortable(t: i64) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

fn unsortable(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    (u64::from_be_bytes(a) ^ (1 << 63)) as i64
}

/// What a retention pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RetentionStats {
    pub blocks: u64,
    pub chunks: u64,
    pub series: u64,
}

/// Sizes of the store.
#[derive(Debug, Default, Clone, Copy)]
pub struct StoreCounts {
    pub series: u64,
    pub chunks: u64,
    pub blocks: u64,
    pub parts: u64,
    pub tombstones: u64,
}

pub struct Store {
    path: String,
    chunks_dir: PathBuf,
    db: sled::Db,
    series: sled::Tree,
    postings: sled::Tree,
    symbol_strings: sled::Tree,
    tombstones: sled::Tree,
    meta: sled::Tree,
    symbols: RwLock<Symbols>,
    /// Series by the hash of their labels (collisions are rare).
    by_hash: RwLock<FxHashMap<u64, Vec<Sid>>>,
    /// Postings of series created since the last flush, merged into sled in
    /// one write per label pair (a series has no chunk, so no query needs
    /// it, until the part that gives it one is published, after a flush).
    pending_postings: Mutex<BTreeMap<[u8; 8], BTreeSet<Sid>>>,
    /// Parts by block, oldest first within a block.
    parts: RwLock<BTreeMap<i64, Vec<Arc<Part>>>>,
    next_seq: AtomicU64,
    /// Width of a block in ms; chunks never straddle a block boundary.
    block_range: i64,
    /// The widest [`Part::span`] loaded: a part overlapping `[mint, maxt]`
    /// starts after `mint - max_span`.
    max_span: AtomicI64,
    /// Serialises creating series and rewriting parts.
    write_lock: Mutex<()>,
}

impl Store {
    /// Opens (creating) the store in `path`: sled in `path`, parts in
    /// `path/chunks`. A part that fails its checks is renamed `*.corrupt`
    /// (kept for inspection, not loaded) and reported in the log.
    pub fn open(path: &Path, block_range: i64) -> Result<Store, StoreError> {
        let p = path.display().to_string();
        let err = |source| StoreError::Sled {
            path: p.clone(),
            source,
        };
        let config = sled::Config::new()
            .path(path)
            // Sled's default cache is 1 GiB; the head is the hot set here.
            .cache_capacity(64 << 20)
            // zstd over sled's pages: symbol ids and postings compress.
            .use_compression(true);
        // Sled 0.34 releases its lock on the directory only when its
        // flusher thread exits, a moment after the last handle is dropped
        // (spacejam/sled#1289): reopening at once — a restart in-process,
        // a server started right after a backfill — waits for that rather
        // than failing. Another process holding it still fails.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        let db = loop {
            match config.open() {
                // Sled reports it as `Other` with this message.
                Err(sled::Error::Io(e))
                    if e.to_string().starts_with("could not acquire lock")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                result => break result.map_err(err)?,
            }
        };
        let tree = |name: &str| db.open_tree(name).map_err(err);
        let chunks_dir = path.join("chunks");
        std::fs::create_dir_all(&chunks_dir).map_err(io_at(&chunks_dir))?;
        let store = Store {
            series: tree("series")?,
            postings: tree("postings")?,
            symbol_strings: tree("symbols")?,
            tombstones: tree("tombstones")?,
            meta: tree("meta")?,
            db,
            path: p,
            chunks_dir,
            symbols: RwLock::new(Symbols::default()),
            by_hash: RwLock::new(FxHashMap::default()),
            pending_postings: Mutex::new(BTreeMap::new()),
            parts: RwLock::new(BTreeMap::new()),
            next_seq: AtomicU64::new(1),
            block_range: block_range.max(1),
            max_span: AtomicI64::new(block_range.max(1)),
            write_lock: Mutex::new(()),
        };
        store.load_symbols()?;
        store.load_series()?;
        store.load_parts()?;
        Ok(store)
    }

    fn err(&self, source: sled::Error) -> StoreError {
        StoreError::Sled {
            path: self.path.clone(),
            source,
        }
    }

    fn load_parts(&self) -> Result<(), StoreError> {
        let mut parts = self.parts.write();
        let mut max_seq = 0;
        let entries = std::fs::read_dir(&self.chunks_dir).map_err(io_at(&self.chunks_dir))?;
        for entry in entries {
            let entry = entry.map_err(io_at(&self.chunks_dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.ends_with(".tmp") {
                // A part whose writer died before renaming it.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let Some((block, seq)) = parse_part_name(&name) else {
                continue;
            };
            max_seq = max_seq.max(seq);
            match Part::open(&path, block, seq) {
                Ok(part) => {
                    self.max_span.fetch_max(part.span(), Ordering::Relaxed);
                    parts.entry(block).or_default().push(Arc::new(part));
                }
                Err(e) => {
                    tracing::error!(error = %e, "skipping a corrupt part file; renamed to *.corrupt");
                    let _ = std::fs::rename(&path, path.with_extension("corrupt"));
                }
            }
        }
        for list in parts.values_mut() {
            list.sort_by_key(|p| p.seq);
        }
        self.next_seq.store(max_seq + 1, Ordering::Relaxed);
        Ok(())
    }

    pub fn block_range(&self) -> i64 {
        self.block_range
    }

    /// Start of the block holding `t`. The first block is cut short at
    /// `i64::MIN`: queries over all time pass it as their lower bound.
    pub fn block_of(&self, t: i64) -> i64 {
        t.div_euclid(self.block_range)
            .saturating_mul(self.block_range)
    }

    fn meta_i64(&self, key: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .meta
            .get(key)
            .map_err(|e| self.err(e))?
            .filter(|v| v.len() == 8)
            .map(|v| unsortable(&v)))
    }

    /// Samples before this time were moved here from the head.
    pub fn compacted_upto(&self) -> Result<i64, StoreError> {
        Ok(self.meta_i64("compacted_upto")?.unwrap_or(i64::MIN))
    }

    pub fn set_compacted_upto(&self, t: i64) -> Result<(), StoreError> {
        self.meta
            .insert("compacted_upto", &sortable(t))
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Parts holding samples in `[mint, maxt]`, by block start and oldest
    /// first within a block. A part is found by its own time range, not
    /// the store's block width: a backfill may have written blocks of
    /// another width (18 h, say), which begin before `block_of(mint)`.
    fn parts_in(&self, mint: i64, maxt: i64) -> Vec<Arc<Part>> {
        if mint > maxt {
            return Vec::new();
        }
        let first = mint.saturating_sub(self.max_span.load(Ordering::Relaxed) - 1);
        self.parts
            .read()
            .range(first..=maxt)
            .flat_map(|(_, parts)| parts.iter())
            .filter(|p| p.min_time <= maxt && p.max_time >= mint)
            .cloned()
            .collect()
    }

    /// Makes a part visible to readers.
    fn register(&self, part: Arc<Part>) {
        self.max_span.fetch_max(part.span(), Ordering::Relaxed);
        let mut parts = self.parts.write();
        let list = parts.entry(part.block).or_default();
        list.push(part);
        list.sort_by_key(|p| p.seq);
    }

    /// The stored chunks of `sid` overlapping `[mint, maxt]` (undecoded,
    /// in time order) and its deleted intervals, for a lazy iterator.
    pub(crate) fn chunk_sources(
        &self,
        sid: Sid,
        mint: i64,
        maxt: i64,
    ) -> Result<(Vec<ChunkSource>, Intervals), StoreError> {
        let mut out = Vec::new();
        for part in self.parts_in(mint, maxt) {
            if let Some(chunk) = part.chunk(sid)?
                && SelectHints::range(mint, maxt).overlaps(chunk.min_time(), chunk.max_time())
            {
                out.push(chunk);
            }
        }
        Ok((out, self.tombstones_of(sid)?))
    }

    /// Samples of `sid` in `[mint, maxt]`, tombstones applied.
    pub fn samples(&self, sid: Sid, mint: i64, maxt: i64) -> Result<Vec<(i64, f64)>, StoreError> {
        let (sources, deleted) = self.chunk_sources(sid, mint, maxt)?;
        let mut merged: Vec<(i64, f64)> = Vec::new();
        for source in sources {
            let mut samples = Vec::new();
            source.decode_into(&mut samples);
            merged = merge(merged, &samples);
        }
        merged.retain(|(t, _)| {
            *t >= mint && *t <= maxt && !deleted.iter().any(|(a, b)| a <= t && t <= b)
        });
        Ok(merged)
    }

    /// Series matching `matchers` with data in `[mint, maxt]`: sid and
    /// labels.
    pub fn select_series(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Sid, Vec<Label>)>, StoreError> {
        Ok(self
            .select_chunks(matchers, &SelectHints::range(mint, maxt), &mut 0)?
            .into_iter()
            .map(|(sid, labels, _)| (sid, labels))
            .collect())
    }

    /// Series matching `matchers` with data in `[mint, maxt]`: sid, labels
    /// and their chunks there (undecoded, in part order). Each part's file
    /// is checked once for the whole selection, not once per series, and
    /// once more when the first of its chunks is decoded, not once per
    /// chunk.
    pub(crate) fn select_chunks(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
        skipped: &mut u64,
    ) -> Result<Vec<SelectedSeries>, StoreError> {
        let (mint, maxt) = (hints.start, hints.end);
        let mut out = Vec::new();
        let parts = self.parts_in(mint, maxt);
        if parts.is_empty() {
            return Ok(out);
        }
        let data = parts
            .iter()
            .map(|p| Ok((p.data()?, p.checked_map())))
            .collect::<Result<Vec<_>, StoreError>>()?;
        for sid in self.select(matchers)? {
            let mut chunks = Vec::new();
            for (part, (data, map)) in parts.iter().zip(&data) {
                if let Some(chunk) = part.chunk_in(data, map, sid)?
                    && chunk.max_time() >= mint
                    && chunk.min_time() <= maxt
                {
                    // Between the windows of a long step: not decoded.
                    if hints.overlaps(chunk.min_time(), chunk.max_time()) {
                        chunks.push(chunk);
                    } else {
                        *skipped += 1;
                    }
                }
            }
            if chunks.is_empty() {
                continue;
            }
            if let Some(labels) = self.labels(sid)? {
                out.push((sid, labels, chunks));
            }
        }
        Ok(out)
    }

    /// Distinct label names of the series matching `matchers` with data in
    /// `[mint, maxt]`.
    pub fn label_names(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<BTreeSet<String>, StoreError> {
        let mut names = BTreeSet::new();
        for (_, labels) in self.select_series(matchers, mint, maxt)? {
            names.extend(labels.into_iter().map(|l| l.name));
        }
        Ok(names)
    }

    pub fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<BTreeSet<String>, StoreError> {
        let mut values = BTreeSet::new();
        for (_, labels) in self.select_series(matchers, mint, maxt)? {
            values.extend(
                labels
                    .into_iter()
                    .filter(|l| l.name == name)
                    .map(|l| l.value),
            );
        }
        Ok(values)
    }

    /// Oldest and newest stored sample (`(i64::MAX, i64::MIN)` when empty),
    /// tombstones not considered.
    pub fn time_range(&self) -> (i64, i64) {
        self.parts
            .read()
            .values()
            .flatten()
            .fold((i64::MAX, i64::MIN), |(lo, hi), p| {
                (lo.min(p.min_time), hi.max(p.max_time))
            })
    }

    /// The last millisecond of the newest block holding data, each part
    /// by its own width (a backfill may write wider blocks than the
    /// head's); `i64::MIN` when empty.
    pub fn newest_block_end(&self) -> i64 {
        self.parts
            .read()
            .values()
            .flatten()
            .map(|p| p.block.saturating_add(p.span() - 1))
            .max()
            .unwrap_or(i64::MIN)
    }

    /// Bytes of the part files.
    pub fn parts_bytes(&self) -> u64 {
        self.parts.read().values().flatten().map(|p| p.size).sum()
    }

    /// Bytes on disk: part files plus sled.
    pub fn size_on_disk(&self) -> u64 {
        self.parts_bytes() + self.db.size_on_disk().unwrap_or(0)
    }

    /// Bytes sled occupies on disk.
    pub fn index_bytes_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }

    /// Key and value bytes of sled's trees (what an ideal index store would
    /// occupy), by a full scan.
    pub fn index_logical_size(&self) -> u64 {
        [
            &self.series,
            &self.postings,
            &self.symbol_strings,
            &self.tombstones,
            &self.meta,
        ]
        .iter()
        .flat_map(|tree| tree.iter().flatten())
        .map(|(k, v)| (k.len() + v.len()) as u64)
        .sum()
    }

    /// Counts for `status/tsdb` and the metrics.
    pub fn counts(&self) -> StoreCounts {
        let parts = self.parts.read();
        StoreCounts {
            series: self.series.len() as u64,
            chunks: parts.values().flatten().map(|p| p.count as u64).sum(),
            blocks: parts.len() as u64,
            parts: parts.values().map(|l| l.len() as u64).sum(),
            tombstones: self.tombstones.len() as u64,
        }
    }

    /// Makes everything written so far durable.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.flush_postings()?;
        self.db.flush().map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Copies the store into a new one at `dir`: sled's trees copied, part
    /// files hard-linked (copied where links are not possible).
    pub fn snapshot(&self, dir: &Path) -> Result<(), StoreError> {
        self.flush()?;
        let copy = Store::open(dir, self.block_range)?;
        for (from, to) in [
            (&self.series, &copy.series),
            (&self.postings, &copy.postings),
            (&self.symbol_strings, &copy.symbol_strings),
            (&self.tombstones, &copy.tombstones),
            (&self.meta, &copy.meta),
        ] {
            for item in from.iter() {
                let (k, v) = item.map_err(|e| self.err(e))?;
                to.insert(k, v).map_err(|e| copy.err(e))?;
            }
        }
        // Ids generated in the copy must not collide with copied ones.
        let max_sid = self.series.last().map_err(|e| self.err(e))?;
        if let Some((k, _)) = max_sid {
            while copy.db.generate_id().map_err(|e| copy.err(e))? <= sid_of(&k)? {}
        }
        for part in self.parts_in(i64::MIN, i64::MAX) {
            let name = part.path.file_name().expect("parts have file names");
            let target = copy.chunks_dir.join(name);
            if std::fs::hard_link(&part.path, &target).is_err() {
                std::fs::copy(&part.path, &target).map_err(io_at(&target))?;
            }
        }
        copy.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::index::{decode_sids, encode_sids};
    use super::part::{INDEX_ENTRY, PART_FOOTER, PART_HEADER, part_name};
    use super::*;
    use crate::sealed;
    use wasmetheus_model::storage::MatchType;

    #[test]
    fn encodings_round_trip_and_keep_order() {
        let ts = [i64::MIN, -5, -1, 0, 1, 7_200_000, i64::MAX];
        for w in ts.windows(2) {
            assert!(sortable(w[0]) < sortable(w[1]));
            assert_eq!(unsortable(&sortable(w[0])), w[0]);
        }
        for block in [i64::MIN, -7_200_000, 0, 7_200_000] {
            assert_eq!(parse_part_name(&part_name(block, 42)), Some((block, 42)));
        }
        let sids: BTreeSet<Sid> = [1, 2, 300, u64::MAX].into_iter().collect();
        assert_eq!(decode_sids(&encode_sids(&sids)).unwrap(), sids);
        assert!(decode_sids(&[0x80]).is_err());
        assert_eq!(
            merge(vec![(1, 1.0), (3, 3.0)], &[(2, 2.0), (3, 30.0)]),
            vec![(1, 1.0), (2, 2.0), (3, 30.0)]
        );
    }

    #[test]
    fn chunks_share_timestamp_columns_within_a_part() {
        const DAY: i64 = 86_400_000;
        let dir = tempfile::tempdir().unwrap();
        // An hour into a block, so that jitter cannot cross its start.
        let start = 19_675 * DAY + 3_600_000;
        let mut rng = 7u64;
        let mut series = Vec::new();
        for target in 0..3 {
            // Each target its own jittered scrape times, shared by its series.
            let times: Vec<i64> = (0..480)
                .map(|i| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    start + i * 15_000 + (rng % 7) as i64 - 3
                })
                .collect();
            for k in 0..20 {
                let labels = vec![
                    Label::new("__name__", format!("m{k}")),
                    Label::new("instance", format!("t{target}")),
                ];
                let mut samples: Vec<(i64, f64)> = times
                    .iter()
                    .enumerate()
                    .map(|(i, &t)| (t, (i * k) as f64 * 0.5))
                    .collect();
                if k == 3 {
                    samples[479].1 = f64::from_bits(0x7ff0_0000_0000_0002);
                }
                series.push((labels, samples));
            }
        }
        // The first series again, later in the same part: the index keeps
        // the later chunk, the others still refer to the first one's bytes.
        let mut again = series[0].clone();
        for s in &mut again.1 {
            s.1 += 1.0;
        }
        let mut expected = series.clone();
        expected[0] = again.clone();
        let mut input = series.clone();
        input.push(again);

        let bits = |s: &[(i64, f64)]| s.iter().map(|&(t, v)| (t, v.to_bits())).collect::<Vec<_>>();
        type Series = (Vec<Label>, Vec<(i64, f64)>);
        let check = |store: &Store, expected: &[Series]| {
            for (labels, samples) in expected {
                let sid = store.lookup(labels).unwrap().unwrap();
                let got = store.samples(sid, i64::MIN, i64::MAX).unwrap();
                assert_eq!(bits(&got), bits(samples), "{labels:?}");
            }
        };
        {
            let store = Store::open(dir.path(), DAY).unwrap();
            store.write_series(input.clone(), |_| {}).unwrap();
            check(&store, &expected);
            // One timestamp column per target, not per series.
            let standalone: usize = input
                .iter()
                .map(|(_, s)| {
                    let mut b = Vec::new();
                    sealed::encode(s, &mut b);
                    b.len()
                })
                .sum();
            let chunks = store.parts_bytes() as usize
                - PART_HEADER
                - PART_FOOTER
                - INDEX_ENTRY * series.len();
            let mut column = Vec::new();
            sealed::encode_timestamps(&series[1].1, &mut column);
            // All but the first chunk of each target share; each keeps its
            // count, first timestamp, span and reference (16 bytes at most).
            let saved = standalone - chunks;
            assert!(
                saved >= (input.len() - 3) * (column.len() - 16),
                "saved {saved} bytes of {standalone}, column {}",
                column.len()
            );

            // Merging parts and deleting the series others referred to
            // re-encode the block, references and all.
            store
                .write(&series[1].0, &[(start + 3 * 3_600_000, 1.0)])
                .unwrap();
            assert_eq!(store.merge_parts().unwrap(), 1);
            expected[1].1.push((start + 3 * 3_600_000, 1.0));
            check(&store, &expected);
            let gone = Matcher::new(MatchType::Equal, "__name__", "m0").unwrap();
            store.delete(&[gone], i64::MIN, i64::MAX).unwrap();
            store.clean_tombstones().unwrap();
            store.flush().unwrap();
        }
        let store = Store::open(dir.path(), DAY).unwrap();
        expected.retain(|(labels, _)| labels[0].value != "m0");
        check(&store, &expected);
        assert_eq!(store.counts().parts, 1);
    }

    #[test]
    fn corrupt_parts_are_set_aside_not_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let labels = vec![Label::new("__name__", "up")];
        {
            let store = Store::open(dir.path(), 1000).unwrap();
            store.write(&labels, &[(1, 1.0), (2, 2.0)]).unwrap();
            store.write(&labels, &[(1500, 3.0)]).unwrap();
            store.flush().unwrap();
        }
        let chunks = dir.path().join("chunks");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&chunks)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        // Flip a byte of the first part's index.
        let mut bytes = std::fs::read(&names[0]).unwrap();
        let at = bytes.len() - PART_FOOTER - 3;
        bytes[at] ^= 0xff;
        std::fs::write(&names[0], bytes).unwrap();
        let store = Store::open(dir.path(), 1000).unwrap();
        let sid = store.lookup(&labels).unwrap().unwrap();
        assert_eq!(
            store.samples(sid, i64::MIN, i64::MAX).unwrap(),
            vec![(1500, 3.0)]
        );
        assert!(names[0].with_extension("corrupt").exists());
    }
}
