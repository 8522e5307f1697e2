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

use crate::iter::{CheckedMap, ChunkBytes, ChunkSource, MappedFile, merge};
use crate::sealed;
use crate::varint::{get_uvarint, put_uvarint};
use parking_lot::{Mutex, RwLock};
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::Hasher;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use wasmetheus_model::Label;
use wasmetheus_model::storage::{MatchType, Matcher};

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

/// The sid of a `series` or `tombstones` key.
fn sid_of(b: &[u8]) -> Result<Sid, StoreError> {
    let a: [u8; 8] = b.try_into().map_err(|_| StoreError::Corrupt {
        what: "series id",
        detail: format!("a key of {} bytes instead of 8", b.len()),
    })?;
    Ok(u64::from_be_bytes(a))
}

fn encode_sids(sids: &BTreeSet<Sid>) -> Vec<u8> {
    let mut out = Vec::with_capacity(sids.len() * 2);
    let mut prev = 0;
    for &sid in sids {
        put_uvarint(&mut out, sid - prev);
        prev = sid;
    }
    out
}

fn decode_sids(bytes: &[u8]) -> Result<BTreeSet<Sid>, StoreError> {
    let mut out = BTreeSet::new();
    let (mut pos, mut prev) = (0, 0u64);
    while pos < bytes.len() {
        let delta = get_uvarint(bytes, &mut pos).ok_or_else(|| StoreError::Corrupt {
            what: "postings list",
            detail: format!("bad varint at byte {pos}"),
        })?;
        prev = prev.wrapping_add(delta);
        out.insert(prev);
    }
    Ok(out)
}

fn hash_labels(labels: &[Label]) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    for l in labels {
        h.write(l.name.as_bytes());
        h.write_u8(0xff);
        h.write(l.value.as_bytes());
        h.write_u8(0xff);
    }
    h.finish()
}

fn posting_key(name: u32, value: u32) -> [u8; 8] {
    let mut k = [0u8; 8];
    k[..4].copy_from_slice(&name.to_be_bytes());
    k[4..].copy_from_slice(&value.to_be_bytes());
    k
}

const PART_MAGIC: &[u8; 8] = b"WMTSPART";
const PART_END: &[u8; 8] = b"WMTSEND\0";
const PART_HEADER: usize = 32;
const PART_FOOTER: usize = 44;
const INDEX_ENTRY: usize = 20;
/// Version 1 parts have no shared timestamps and are still read.
const PART_VERSION: u8 = 2;

/// An immutable file of sealed chunks for one block:
/// `magic(8) | version(1) | pad(7) | block(8 LE) | range(8 LE)`, the chunks,
/// an index of `sid(8 LE) | offset(8 LE) | len(4 LE)` sorted by sid, and
/// `index offset(8) | count(8) | min time(8) | max time(8) |
/// crc32(index)(4) | end magic(8)`.
/// Version 2: a chunk may share the timestamps of a chunk written before it
/// (see [`sealed`]); its reference is that chunk's file offset. Chunks are
/// never rewritten in place, so the offset stays valid even when the index
/// no longer lists the referenced chunk (a series added twice).
/// Written to a temporary name, synced, then renamed: a part either exists
/// whole or not at all.
pub struct Part {
    path: PathBuf,
    block: i64,
    seq: u64,
    /// Width of the block the part was written for (from its header): a
    /// backfill may write blocks wider than the store's, e.g. 18 h.
    range: i64,
    map: Arc<MappedFile>,
    index_at: usize,
    count: usize,
    size: u64,
    /// Oldest and newest sample in the part.
    min_time: i64,
    max_time: i64,
}

impl Part {
    fn open(path: &Path, block: i64, seq: u64) -> Result<Part, StoreError> {
        let file = std::fs::File::open(path).map_err(io_at(path))?;
        let size = file.metadata().map_err(io_at(path))?.len();
        let corrupt = |detail: String| StoreError::Corrupt {
            what: "part file",
            detail: format!("{}: {detail}", path.display()),
        };
        if size < (PART_HEADER + PART_FOOTER) as u64 {
            return Err(corrupt(format!("{size} bytes is shorter than a part")));
        }
        let mapped = MappedFile::map(file).map_err(io_at(path))?;
        let map = mapped.bytes().map_err(io_at(path))?;
        let len = map.len();
        if len as u64 != size {
            return Err(corrupt(format!("{len} bytes mapped of {size}")));
        }
        if &map[..8] != PART_MAGIC || &map[len - 8..] != PART_END {
            return Err(corrupt("bad magic".into()));
        }
        if !matches!(map[8], 1 | PART_VERSION) {
            return Err(corrupt(format!("unknown version {}", map[8])));
        }
        let range = i64::from_le_bytes(map[24..32].try_into().expect("8 bytes"));
        if range < 1 {
            return Err(corrupt(format!("block range {range} ms is not positive")));
        }
        let footer = &map[len - PART_FOOTER..];
        let index_at = u64::from_le_bytes(footer[..8].try_into().expect("8 bytes")) as usize;
        let count = u64::from_le_bytes(footer[8..16].try_into().expect("8 bytes")) as usize;
        let min_time = i64::from_le_bytes(footer[16..24].try_into().expect("8 bytes"));
        let max_time = i64::from_le_bytes(footer[24..32].try_into().expect("8 bytes"));
        let crc = u32::from_le_bytes(footer[32..36].try_into().expect("4 bytes"));
        let index_end = index_at
            .checked_add(
                count
                    .checked_mul(INDEX_ENTRY)
                    .ok_or_else(|| corrupt("count".into()))?,
            )
            .ok_or_else(|| corrupt("index offset".into()))?;
        if index_at < PART_HEADER || index_end != len - PART_FOOTER {
            return Err(corrupt("index out of bounds".into()));
        }
        if crc32fast::hash(&map[index_at..index_end]) != crc {
            return Err(corrupt("index checksum mismatch".into()));
        }
        if min_time < block {
            return Err(corrupt(format!(
                "samples from {min_time}, before the block's start {block}"
            )));
        }
        for i in 0..count {
            let e = &map[index_at + i * INDEX_ENTRY..][..INDEX_ENTRY];
            let offset = u64::from_le_bytes(e[8..16].try_into().expect("8 bytes"));
            let len = u64::from(u32::from_le_bytes(e[16..20].try_into().expect("4 bytes")));
            if offset < PART_HEADER as u64 || offset.saturating_add(len) > index_at as u64 {
                return Err(corrupt(format!("chunk {i} out of bounds")));
            }
        }
        let part = Part {
            path: path.to_owned(),
            block,
            seq,
            range,
            map: Arc::new(mapped),
            index_at,
            count,
            size,
            min_time,
            max_time,
        };
        Ok(part)
    }

    /// The part's bytes, or an error if the file was truncated under it.
    fn data(&self) -> Result<&[u8], StoreError> {
        self.map.bytes().map_err(io_at(&self.path))
    }

    fn entry(&self, data: &[u8], i: usize) -> (Sid, usize, usize) {
        let e = &data[self.index_at + i * INDEX_ENTRY..][..INDEX_ENTRY];
        (
            u64::from_le_bytes(e[..8].try_into().expect("8 bytes")),
            u64::from_le_bytes(e[8..16].try_into().expect("8 bytes")) as usize,
            u32::from_le_bytes(e[16..20].try_into().expect("4 bytes")) as usize,
        )
    }

    fn find_in(&self, data: &[u8], sid: Sid) -> Option<(usize, usize)> {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let (s, offset, len) = self.entry(data, mid);
            match s.cmp(&sid) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some((offset, len)),
            }
        }
        None
    }

    /// Whether the part has a chunk of `sid`.
    fn has(&self, sid: Sid) -> Result<bool, StoreError> {
        Ok(self.find_in(self.data()?, sid).is_some())
    }

    /// How far after its block start the part holds samples: its range,
    /// or more for a part whose chunks run past it (merged by an older
    /// version that did not keep ranges apart).
    fn span(&self) -> i64 {
        self.range
            .max(self.max_time.saturating_sub(self.block).saturating_add(1))
    }

    fn sids(&self) -> Result<Vec<Sid>, StoreError> {
        let data = self.data()?;
        Ok((0..self.count).map(|i| self.entry(data, i).0).collect())
    }

    /// The chunk of `sid`, if this part has one.
    fn chunk(&self, sid: Sid) -> Result<Option<ChunkSource>, StoreError> {
        self.chunk_in(self.data()?, &self.checked_map(), sid)
    }

    /// A view of the part's mapping for the chunks of one selection: its
    /// length is checked once, when the first of them is decoded.
    fn checked_map(&self) -> Arc<CheckedMap> {
        CheckedMap::new(Arc::clone(&self.map))
    }

    /// [`chunk`](Self::chunk) with the part's bytes already checked, read
    /// later through `map`.
    fn chunk_in(
        &self,
        data: &[u8],
        map: &Arc<CheckedMap>,
        sid: Sid,
    ) -> Result<Option<ChunkSource>, StoreError> {
        let Some((offset, len)) = self.find_in(data, sid) else {
            return Ok(None);
        };
        let bytes = &data[offset..offset + len];
        let header = sealed::header(bytes).map_err(|e| StoreError::Corrupt {
            what: "chunk",
            detail: format!("{}: series {sid}: {e}", self.path.display()),
        })?;
        Ok(Some(ChunkSource::Sealed {
            bytes: ChunkBytes::Mapped {
                map: Arc::clone(map),
                start: offset,
                end: offset + len,
            },
            min_time: header.min_time,
            max_time: header.max_time,
        }))
    }
}

fn part_name(block: i64, seq: u64) -> String {
    format!("{:016x}-{seq:08}.part", (block as u64) ^ (1 << 63))
}

fn parse_part_name(name: &str) -> Option<(i64, u64)> {
    let stem = name.strip_suffix(".part")?;
    let (block, seq) = stem.split_once('-')?;
    let block = (u64::from_str_radix(block, 16).ok()? ^ (1 << 63)) as i64;
    Some((block, seq.parse().ok()?))
}

/// Label strings by id and ids by string, mirrored from sled.
#[derive(Default)]
struct Symbols {
    by_id: Vec<Arc<str>>,
    ids: FxHashMap<Arc<str>, u32>,
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

    fn load_symbols(&self) -> Result<(), StoreError> {
        let mut symbols = self.symbols.write();
        // Ids are handed out densely from 0 and never removed: one beyond
        // the number of symbols is corruption, not a reason to allocate a
        // table of up to 2^32 entries.
        let count = self.symbol_strings.len();
        for item in self.symbol_strings.iter() {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let id = u32::from_be_bytes(k.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                what: "symbol id",
                detail: format!("{} bytes", k.len()),
            })?) as usize;
            let s: Arc<str> = std::str::from_utf8(&v)
                .map_err(|_| StoreError::Corrupt {
                    what: "symbol",
                    detail: format!("id {id} is not UTF-8"),
                })?
                .into();
            if id >= count {
                return Err(StoreError::Corrupt {
                    what: "symbol id",
                    detail: format!(
                        "id {id} of {count} symbols; restore the data directory from a snapshot \
                         or delete it"
                    ),
                });
            }
            if id >= symbols.by_id.len() {
                symbols.by_id.resize(id + 1, Arc::from(""));
            }
            symbols.by_id[id] = Arc::clone(&s);
            symbols.ids.insert(s, id as u32);
        }
        Ok(())
    }

    fn load_series(&self) -> Result<(), StoreError> {
        let mut by_hash = self.by_hash.write();
        for item in self.series.iter() {
            let (k, v) = item.map_err(|e| self.err(e))?;
            // One corrupt entry costs its series, not the whole store.
            match sid_of(&k).and_then(|sid| Ok((sid, self.decode_series(&v)?))) {
                Ok((sid, labels)) => by_hash.entry(hash_labels(&labels)).or_default().push(sid),
                Err(e) => tracing::error!(error = %e, "skipping a corrupt series entry"),
            }
        }
        Ok(())
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

    /// The id of `s`, created if new.
    fn symbol(&self, s: &str) -> Result<u32, StoreError> {
        if let Some(id) = self.symbols.read().ids.get(s) {
            return Ok(*id);
        }
        let mut symbols = self.symbols.write();
        if let Some(id) = symbols.ids.get(s) {
            return Ok(*id);
        }
        let id = symbols.by_id.len() as u32;
        self.symbol_strings
            .insert(id.to_be_bytes(), s.as_bytes())
            .map_err(|e| self.err(e))?;
        let s: Arc<str> = s.into();
        symbols.by_id.push(Arc::clone(&s));
        symbols.ids.insert(s, id);
        Ok(id)
    }

    fn decode_series(&self, bytes: &[u8]) -> Result<Vec<Label>, StoreError> {
        let symbols = self.symbols.read();
        let corrupt = || StoreError::Corrupt {
            what: "series labels",
            detail: format!("{} bytes", bytes.len()),
        };
        let mut pos = 0;
        let mut labels = Vec::new();
        while pos < bytes.len() {
            let name = get_uvarint(bytes, &mut pos).ok_or_else(corrupt)? as usize;
            let value = get_uvarint(bytes, &mut pos).ok_or_else(corrupt)? as usize;
            let (Some(name), Some(value)) = (symbols.by_id.get(name), symbols.by_id.get(value))
            else {
                return Err(corrupt());
            };
            labels.push(Label::new(name.to_string(), value.to_string()));
        }
        Ok(labels)
    }

    fn lookup(&self, labels: &[Label]) -> Result<Option<Sid>, StoreError> {
        let candidates = self
            .by_hash
            .read()
            .get(&hash_labels(labels))
            .cloned()
            .unwrap_or_default();
        for sid in candidates {
            if self.labels(sid)?.as_deref() == Some(labels) {
                return Ok(Some(sid));
            }
        }
        Ok(None)
    }

    /// The id of `labels`, created (with its postings) if new.
    pub fn sid(&self, labels: &[Label]) -> Result<Sid, StoreError> {
        if let Some(sid) = self.lookup(labels)? {
            return Ok(sid);
        }
        let _guard = self.write_lock.lock();
        if let Some(sid) = self.lookup(labels)? {
            return Ok(sid);
        }
        let sid = self.db.generate_id().map_err(|e| self.err(e))?;
        let mut encoded = Vec::with_capacity(labels.len() * 4);
        let mut pending = Vec::with_capacity(labels.len());
        for l in labels {
            let (name, value) = (self.symbol(&l.name)?, self.symbol(&l.value)?);
            put_uvarint(&mut encoded, u64::from(name));
            put_uvarint(&mut encoded, u64::from(value));
            pending.push(posting_key(name, value));
        }
        self.series
            .insert(sid.to_be_bytes(), encoded)
            .map_err(|e| self.err(e))?;
        self.by_hash
            .write()
            .entry(hash_labels(labels))
            .or_default()
            .push(sid);
        let mut postings = self.pending_postings.lock();
        for k in pending {
            postings.entry(k).or_default().insert(sid);
        }
        Ok(sid)
    }

    /// Writes the postings of new series to sled, one merge per label pair.
    fn flush_postings(&self) -> Result<(), StoreError> {
        let pending = std::mem::take(&mut *self.pending_postings.lock());
        for (key, sids) in pending {
            let mut all = match self.postings.get(key).map_err(|e| self.err(e))? {
                Some(v) => decode_sids(&v)?,
                None => BTreeSet::new(),
            };
            all.extend(sids);
            self.postings
                .insert(key, encode_sids(&all))
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    pub fn labels(&self, sid: Sid) -> Result<Option<Vec<Label>>, StoreError> {
        match self
            .series
            .get(sid.to_be_bytes())
            .map_err(|e| self.err(e))?
        {
            Some(v) => Ok(Some(self.decode_series(&v)?)),
            None => Ok(None),
        }
    }

    /// A writer of a new part for `block`.
    pub fn block_writer(&self, block: i64) -> Result<BlockWriter<'_>, StoreError> {
        self.block_writer_spanning(block, self.block_range)
    }

    /// A writer of a new part for the block `[block, block + range)`, of a
    /// width other than the store's (a backfill's `--max-block-duration`).
    pub fn block_writer_spanning(
        &self,
        block: i64,
        range: i64,
    ) -> Result<BlockWriter<'_>, StoreError> {
        let range = range.max(1);
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let final_path = self.chunks_dir.join(part_name(block, seq));
        let tmp = final_path.with_extension("part.tmp");
        let file = std::fs::File::create(&tmp).map_err(io_at(&tmp))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        let mut header = Vec::with_capacity(PART_HEADER);
        header.extend_from_slice(PART_MAGIC);
        header.push(PART_VERSION);
        header.extend_from_slice(&[0; 7]);
        header.extend_from_slice(&block.to_le_bytes());
        header.extend_from_slice(&range.to_le_bytes());
        out.write_all(&header).map_err(io_at(&tmp))?;
        Ok(BlockWriter {
            store: self,
            block,
            range,
            seq,
            tmp,
            final_path,
            out: Some(out),
            offset: PART_HEADER as u64,
            index: Vec::new(),
            samples: 0,
            encoded: Vec::new(),
            timestamps: Vec::new(),
            shared_timestamps: FxHashMap::default(),
            min_time: i64::MAX,
            max_time: i64::MIN,
        })
    }

    /// Writes `samples` (sorted, strictly increasing) of series `labels`
    /// as a new part per block they fall in; readers merge it with what was
    /// stored for the same blocks, these samples winning on equal times.
    pub fn write(&self, labels: &[Label], samples: &[(i64, f64)]) -> Result<usize, StoreError> {
        let mut written = 0;
        let mut start = 0;
        while start < samples.len() {
            let block = self.block_of(samples[start].0);
            let end = samples[start..]
                .iter()
                .position(|(t, _)| self.block_of(*t) != block)
                .map_or(samples.len(), |n| start + n);
            let mut writer = self.block_writer(block)?;
            writer.add(labels, &samples[start..end])?;
            writer.finish()?;
            written += end - start;
            start = end;
        }
        Ok(written)
    }

    /// Writes many series, each split at block boundaries, with one new
    /// part per block touched (not one per series); returns the samples
    /// written. `progress` is called after each series.
    pub fn write_series<I>(
        &self,
        series: I,
        mut progress: impl FnMut(u64),
    ) -> Result<u64, StoreError>
    where
        I: IntoIterator<Item = (Vec<Label>, Vec<(i64, f64)>)>,
    {
        let mut writers: BTreeMap<i64, BlockWriter<'_>> = BTreeMap::new();
        let mut written = 0u64;
        for (labels, samples) in series {
            let mut start = 0;
            while start < samples.len() {
                let block = self.block_of(samples[start].0);
                let end = samples[start..]
                    .iter()
                    .position(|(t, _)| self.block_of(*t) != block)
                    .map_or(samples.len(), |n| start + n);
                let writer = match writers.entry(block) {
                    std::collections::btree_map::Entry::Occupied(w) => w.into_mut(),
                    std::collections::btree_map::Entry::Vacant(v) => {
                        v.insert(self.block_writer(block)?)
                    }
                };
                writer.add(&labels, &samples[start..end])?;
                written += (end - start) as u64;
                start = end;
            }
            progress(written);
        }
        for writer in writers.into_values() {
            writer.finish()?;
        }
        Ok(written)
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
                && chunk_overlaps(&chunk, mint, maxt)
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

    pub(crate) fn tombstones_of(&self, sid: Sid) -> Result<Intervals, StoreError> {
        let Some(v) = self
            .tombstones
            .get(sid.to_be_bytes())
            .map_err(|e| self.err(e))?
        else {
            return Ok(Vec::new());
        };
        Ok(v.chunks_exact(16)
            .map(|c| (unsortable(&c[..8]), unsortable(&c[8..])))
            .collect())
    }

    /// Sids carrying label `name` with a value satisfying `keep`.
    fn postings_where(
        &self,
        name: &str,
        keep: impl Fn(&str) -> bool,
    ) -> Result<BTreeSet<Sid>, StoreError> {
        let Some(name_id) = self.symbols.read().ids.get(name).copied() else {
            return Ok(BTreeSet::new());
        };
        let mut out = BTreeSet::new();
        for item in self.postings.scan_prefix(name_id.to_be_bytes()) {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let Some(value_id) = k.get(4..8).filter(|_| k.len() == 8) else {
                return Err(StoreError::Corrupt {
                    what: "postings key",
                    detail: format!("{} bytes instead of 8", k.len()),
                });
            };
            let value_id = u32::from_be_bytes(value_id.try_into().expect("4 bytes")) as usize;
            let matches = self
                .symbols
                .read()
                .by_id
                .get(value_id)
                .is_some_and(|value| keep(value));
            if matches {
                out.extend(decode_sids(&v)?);
            }
        }
        Ok(out)
    }

    fn postings_eq(&self, name: &str, value: &str) -> Result<BTreeSet<Sid>, StoreError> {
        let key = {
            let symbols = self.symbols.read();
            match (symbols.ids.get(name), symbols.ids.get(value)) {
                (Some(n), Some(v)) => posting_key(*n, *v),
                _ => return Ok(BTreeSet::new()),
            }
        };
        match self.postings.get(key).map_err(|e| self.err(e))? {
            Some(v) => decode_sids(&v),
            None => Ok(BTreeSet::new()),
        }
    }

    /// Sids of the series matching every matcher (same semantics as the
    /// head's index: a matcher accepting "" also accepts a missing label).
    pub fn select(&self, matchers: &[Matcher]) -> Result<BTreeSet<Sid>, StoreError> {
        let mut positive: Option<BTreeSet<Sid>> = None;
        let mut negative = Vec::new();
        for m in matchers {
            if m.matches_empty() {
                negative.push(self.postings_where(&m.name, |v| !m.matches(v))?);
                continue;
            }
            let sids = match m.kind {
                MatchType::Equal => self.postings_eq(&m.name, &m.value)?,
                MatchType::Regex => match m.literal_alternatives() {
                    Some(values) => {
                        let mut all = BTreeSet::new();
                        for v in values {
                            all.extend(self.postings_eq(&m.name, v)?);
                        }
                        all
                    }
                    None => match m.literal_prefix() {
                        Some(prefix) => self.postings_where(&m.name, |v| v.starts_with(prefix))?,
                        None => self.postings_where(&m.name, |v| m.matches(v))?,
                    },
                },
                MatchType::NotEqual | MatchType::NotRegex => {
                    self.postings_where(&m.name, |v| m.matches(v))?
                }
            };
            positive = Some(match positive {
                None => sids,
                Some(p) => p.intersection(&sids).copied().collect(),
            });
            if positive.as_ref().is_some_and(BTreeSet::is_empty) {
                return Ok(BTreeSet::new());
            }
        }
        let mut result = match positive {
            Some(p) => p,
            None => {
                let mut all = BTreeSet::new();
                for item in self.series.iter() {
                    let (k, _) = item.map_err(|e| self.err(e))?;
                    all.insert(sid_of(&k)?);
                }
                all
            }
        };
        for n in &negative {
            result.retain(|s| !n.contains(s));
        }
        Ok(result)
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
            .select_chunks(matchers, mint, maxt)?
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
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SelectedSeries>, StoreError> {
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
                    && chunk_overlaps(&chunk, mint, maxt)
                {
                    chunks.push(chunk);
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

    /// Records that samples of the matching series in `[mint, maxt]` are
    /// deleted; returns how many series were touched.
    pub fn delete(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<usize, StoreError> {
        let series = self.select_series(matchers, mint, maxt)?;
        let mut touched = 0;
        for (sid, _) in &series {
            // A tombstone covers only what is stored now: samples the series
            // gets later (compacted from the head, e.g. after deleting a
            // whole series that is still scraped) are new data, as with
            // Prometheus' per-block tombstones.
            let maxt = maxt.min(self.last_time(*sid)?);
            if mint > maxt {
                continue;
            }
            touched += 1;
            let mut intervals = self.tombstones_of(*sid)?;
            intervals.push((mint, maxt));
            let bytes: Vec<u8> = intervals
                .iter()
                .flat_map(|(a, b)| sortable(*a).into_iter().chain(sortable(*b)))
                .collect();
            self.tombstones
                .insert(sid.to_be_bytes(), bytes)
                .map_err(|e| self.err(e))?;
        }
        Ok(touched)
    }

    /// Newest stored timestamp of `sid` (`i64::MIN` when it has none).
    fn last_time(&self, sid: Sid) -> Result<i64, StoreError> {
        let mut last = i64::MIN;
        for part in self.parts_in(i64::MIN, i64::MAX) {
            if let Some(chunk) = part.chunk(sid)? {
                last = last.max(chunk.max_time());
            }
        }
        Ok(last)
    }

    /// Rewrites every block holding tombstoned series without the deleted
    /// samples, removes series left empty, and clears the tombstones.
    pub fn clean_tombstones(&self) -> Result<usize, StoreError> {
        let mut deleted: FxHashMap<Sid, Intervals> = FxHashMap::default();
        for item in self.tombstones.iter() {
            let (k, _) = item.map_err(|e| self.err(e))?;
            let sid = sid_of(&k)?;
            deleted.insert(sid, self.tombstones_of(sid)?);
        }
        if deleted.is_empty() {
            return Ok(0);
        }
        let blocks: Vec<i64> = self.parts.read().keys().copied().collect();
        for block in blocks {
            let parts = self.parts.read().get(&block).cloned().unwrap_or_default();
            let mut touched = false;
            for part in &parts {
                let data = part.data()?;
                touched |= deleted.keys().any(|sid| part.find_in(data, *sid).is_some());
            }
            if touched {
                self.rewrite_block(block, &deleted)?;
            }
        }
        for sid in deleted.keys() {
            self.tombstones
                .remove(sid.to_be_bytes())
                .map_err(|e| self.err(e))?;
        }
        self.remove_series_without_data(deleted.keys().copied().collect())?;
        Ok(deleted.len())
    }

    /// Rewrites every block that has more than one part into one.
    pub fn merge_parts(&self) -> Result<usize, StoreError> {
        let blocks: Vec<i64> = self
            .parts
            .read()
            .iter()
            .filter(|(_, parts)| parts.len() > 1)
            .map(|(block, _)| *block)
            .collect();
        for &block in &blocks {
            self.rewrite_block(block, &FxHashMap::default())?;
        }
        Ok(blocks.len())
    }

    /// Replaces the parts of `block` by one holding their merged chunks,
    /// without the `deleted` samples. The new part is in place before the
    /// old ones go, so a crash in between leaves duplicates that readers
    /// merge, never a gap.
    fn rewrite_block(
        &self,
        block: i64,
        deleted: &FxHashMap<Sid, Intervals>,
    ) -> Result<(), StoreError> {
        let _guard = self.write_lock.lock();
        let old = self.parts.read().get(&block).cloned().unwrap_or_default();
        if old.is_empty() {
            return Ok(());
        }
        let mut sids: BTreeSet<Sid> = BTreeSet::new();
        for part in &old {
            sids.extend(part.sids()?);
        }
        // As wide as the widest part merged: a backfilled 18 h part and a
        // compacted 2 h one of the same start make one 18 h part.
        let range = old
            .iter()
            .map(|p| p.span())
            .max()
            .unwrap_or(self.block_range);
        let mut writer = self.block_writer_spanning(block, range)?;
        for sid in sids {
            let mut merged: Vec<(i64, f64)> = Vec::new();
            for part in &old {
                if let Some(chunk) = part.chunk(sid)? {
                    let mut samples = Vec::new();
                    chunk.decode_into(&mut samples);
                    merged = merge(merged, &samples);
                }
            }
            if let Some(intervals) = deleted.get(&sid) {
                merged.retain(|(t, _)| !intervals.iter().any(|(a, b)| a <= t && t <= b));
            }
            if !merged.is_empty() {
                writer.add_sid(sid, &merged)?;
            }
        }
        let new = writer.finish_unlocked()?;
        let mut parts = self.parts.write();
        let list = parts.entry(block).or_default();
        list.retain(|p| !old.iter().any(|o| o.seq == p.seq));
        if let Some(new) = new {
            self.max_span.fetch_max(new.span(), Ordering::Relaxed);
            list.push(new);
            list.sort_by_key(|p| p.seq);
        }
        if list.is_empty() {
            parts.remove(&block);
        }
        drop(parts);
        for part in &old {
            std::fs::remove_file(&part.path).map_err(io_at(&part.path))?;
        }
        Ok(())
    }

    /// Removes from the index the series among `candidates` that no part
    /// holds any more; returns how many.
    fn remove_series_without_data(&self, candidates: BTreeSet<Sid>) -> Result<u64, StoreError> {
        let parts = self.parts_in(i64::MIN, i64::MAX);
        let gone: BTreeSet<Sid> = candidates
            .into_iter()
            // A part that cannot be read may still hold the series.
            .filter(|sid| parts.iter().all(|p| p.has(*sid).is_ok_and(|has| !has)))
            .collect();
        if gone.is_empty() {
            return Ok(0);
        }
        let _guard = self.write_lock.lock();
        self.flush_postings()?;
        let mut touched_postings: BTreeSet<[u8; 8]> = BTreeSet::new();
        for &sid in &gone {
            let Some(bytes) = self
                .series
                .get(sid.to_be_bytes())
                .map_err(|e| self.err(e))?
            else {
                continue;
            };
            let labels = self.decode_series(&bytes)?;
            let mut pos = 0;
            while pos < bytes.len() {
                let (Some(n), Some(v)) =
                    (get_uvarint(&bytes, &mut pos), get_uvarint(&bytes, &mut pos))
                else {
                    break;
                };
                touched_postings.insert(posting_key(n as u32, v as u32));
            }
            let hash = hash_labels(&labels);
            let mut by_hash = self.by_hash.write();
            if let Some(sids) = by_hash.get_mut(&hash) {
                sids.retain(|s| *s != sid);
                if sids.is_empty() {
                    by_hash.remove(&hash);
                }
            }
            drop(by_hash);
            self.series
                .remove(sid.to_be_bytes())
                .map_err(|e| self.err(e))?;
            self.tombstones
                .remove(sid.to_be_bytes())
                .map_err(|e| self.err(e))?;
        }
        for key in touched_postings {
            if let Some(v) = self.postings.get(key).map_err(|e| self.err(e))? {
                let mut sids = decode_sids(&v)?;
                sids.retain(|s| !gone.contains(s));
                if sids.is_empty() {
                    self.postings.remove(key).map_err(|e| self.err(e))?;
                } else {
                    self.postings
                        .insert(key, encode_sids(&sids))
                        .map_err(|e| self.err(e))?;
                }
            }
        }
        Ok(gone.len() as u64)
    }

    /// Block starts that hold data, oldest first.
    pub fn block_starts(&self) -> Result<Vec<i64>, StoreError> {
        Ok(self.parts.read().keys().copied().collect())
    }

    /// Removes whole blocks that end at or before `before`: every part of
    /// them, whatever its width, holds only samples before it.
    pub fn drop_blocks_before(&self, before: i64) -> Result<RetentionStats, StoreError> {
        let blocks: Vec<i64> = self
            .parts
            .read()
            .iter()
            .filter(|(_, parts)| {
                parts
                    .iter()
                    .all(|p| p.block.saturating_add(p.span()) <= before)
            })
            .map(|(block, _)| *block)
            .collect();
        self.drop_blocks(&blocks)
    }

    /// Removes the oldest block; `None` when there is none.
    pub fn drop_oldest_block(&self) -> Result<Option<RetentionStats>, StoreError> {
        match self.block_starts()?.first() {
            Some(&block) => Ok(Some(self.drop_blocks(&[block])?)),
            None => Ok(None),
        }
    }

    fn drop_blocks(&self, blocks: &[i64]) -> Result<RetentionStats, StoreError> {
        let mut stats = RetentionStats::default();
        let mut candidates = BTreeSet::new();
        for block in blocks {
            let Some(parts) = self.parts.write().remove(block) else {
                continue;
            };
            stats.blocks += 1;
            for part in parts {
                stats.chunks += part.count as u64;
                // Unreadable, the part still goes; its series stay indexed.
                candidates.extend(part.sids().unwrap_or_default());
                std::fs::remove_file(&part.path).map_err(io_at(&part.path))?;
            }
        }
        stats.series = self.remove_series_without_data(candidates)?;
        self.db.flush().map_err(|e| self.err(e))?;
        Ok(stats)
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

fn chunk_overlaps(chunk: &ChunkSource, mint: i64, maxt: i64) -> bool {
    chunk.max_time() >= mint && chunk.min_time() <= maxt
}

/// Streams sealed chunks of one block into a new part file; nothing is
/// visible until [`finish`](Self::finish).
pub struct BlockWriter<'a> {
    store: &'a Store,
    block: i64,
    range: i64,
    seq: u64,
    tmp: PathBuf,
    final_path: PathBuf,
    out: Option<std::io::BufWriter<std::fs::File>>,
    offset: u64,
    index: Vec<(Sid, u64, u32)>,
    samples: u64,
    encoded: Vec<u8>,
    /// [`sealed::encode_timestamps`] of the chunk being added.
    timestamps: Vec<u8>,
    /// Offset of the first chunk with each timestamp column: the series of
    /// one target share their scrape times, so most chunks can refer to
    /// another's rather than store jittered timestamps again. Keyed by the
    /// bytes themselves so that a hash collision cannot mix columns up.
    shared_timestamps: FxHashMap<Vec<u8>, u64>,
    min_time: i64,
    max_time: i64,
}

impl BlockWriter<'_> {
    /// Adds the samples (sorted, strictly increasing, within the block) of
    /// series `labels`.
    pub fn add(&mut self, labels: &[Label], samples: &[(i64, f64)]) -> Result<(), StoreError> {
        if samples.is_empty() {
            return Ok(());
        }
        let sid = self.store.sid(labels)?;
        self.add_sid(sid, samples)
    }

    pub(crate) fn add_sid(&mut self, sid: Sid, samples: &[(i64, f64)]) -> Result<(), StoreError> {
        // Sorted: the ends bound the rest. Outside the block only when a
        // merged part held chunks outside its own (crafted or corrupt).
        let inside = |t: i64| t >= self.block && t.wrapping_sub(self.block) < self.range;
        if let (Some(first), Some(last)) = (samples.first(), samples.last())
            && !(inside(first.0) && inside(last.0))
        {
            return Err(StoreError::Corrupt {
                what: "chunk",
                detail: format!(
                    "series {sid}: samples from {} to {} outside the block of {} ms at {}",
                    first.0, last.0, self.range, self.block
                ),
            });
        }
        self.encoded.clear();
        self.timestamps.clear();
        sealed::encode_timestamps(samples, &mut self.timestamps);
        let shared = self.shared_timestamps.get(&self.timestamps).copied();
        sealed::encode_with(samples, shared, &mut self.encoded);
        if shared.is_none() && !self.timestamps.is_empty() {
            self.shared_timestamps
                .insert(self.timestamps.clone(), self.offset);
        }
        let out = self.out.as_mut().expect("writer is open until finish");
        out.write_all(&self.encoded).map_err(io_at(&self.tmp))?;
        self.index
            .push((sid, self.offset, self.encoded.len() as u32));
        self.offset += self.encoded.len() as u64;
        self.samples += samples.len() as u64;
        if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
            self.min_time = self.min_time.min(first.0);
            self.max_time = self.max_time.max(last.0);
        }
        Ok(())
    }

    /// Samples added so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Writes the index, syncs, renames the part into place and makes it
    /// visible to readers.
    pub fn finish(self) -> Result<(), StoreError> {
        let store = self.store;
        let _guard = store.write_lock.lock();
        if let Some(part) = self.finish_unlocked()? {
            store.register(part);
        }
        Ok(())
    }

    /// [`finish`](Self::finish) for a caller holding the write lock that
    /// registers the part itself; `None` for an empty writer.
    fn finish_unlocked(self) -> Result<Option<Arc<Part>>, StoreError> {
        let store = self.store;
        match self.prepare()? {
            Some(prepared) => Ok(store.publish_unlocked(vec![prepared])?.pop()),
            None => Ok(None),
        }
    }

    /// Writes the index and syncs the part under its temporary name:
    /// complete on disk, but invisible (and removed if dropped) until
    /// [`Store::publish`]. `None` for an empty writer.
    pub fn prepare(mut self) -> Result<Option<PreparedPart>, StoreError> {
        let mut out = self.out.take().expect("finish runs once");
        if self.index.is_empty() {
            drop(out);
            let _ = std::fs::remove_file(&self.tmp);
            return Ok(None);
        }
        // The same series added twice: the later chunk wins.
        self.index.reverse();
        self.index.sort_by_key(|e| e.0);
        self.index.dedup_by_key(|e| e.0);
        let mut index = Vec::with_capacity(self.index.len() * INDEX_ENTRY);
        for (sid, offset, len) in &self.index {
            index.extend_from_slice(&sid.to_le_bytes());
            index.extend_from_slice(&offset.to_le_bytes());
            index.extend_from_slice(&len.to_le_bytes());
        }
        let mut footer = Vec::with_capacity(PART_FOOTER);
        footer.extend_from_slice(&self.offset.to_le_bytes());
        footer.extend_from_slice(&(self.index.len() as u64).to_le_bytes());
        footer.extend_from_slice(&self.min_time.to_le_bytes());
        footer.extend_from_slice(&self.max_time.to_le_bytes());
        footer.extend_from_slice(&crc32fast::hash(&index).to_le_bytes());
        footer.extend_from_slice(PART_END);
        out.write_all(&index).map_err(io_at(&self.tmp))?;
        out.write_all(&footer).map_err(io_at(&self.tmp))?;
        let file = out
            .into_inner()
            .map_err(|e| io_at(&self.tmp)(e.into_error()))?;
        file.sync_all().map_err(io_at(&self.tmp))?;
        drop(file);
        Ok(Some(PreparedPart {
            block: self.block,
            seq: self.seq,
            tmp: Some(std::mem::take(&mut self.tmp)),
            final_path: std::mem::take(&mut self.final_path),
        }))
    }
}

/// A part written and synced under its temporary name, not yet visible.
pub struct PreparedPart {
    block: i64,
    seq: u64,
    /// `None` once renamed into place.
    tmp: Option<PathBuf>,
    final_path: PathBuf,
}

impl Drop for PreparedPart {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

impl Store {
    /// Makes prepared parts visible, all of them or (on an error) those
    /// before the failing one: the series and postings they refer to are
    /// made durable first, then each is renamed into place.
    pub fn publish(&self, prepared: Vec<PreparedPart>) -> Result<(), StoreError> {
        let _guard = self.write_lock.lock();
        for part in self.publish_unlocked(prepared)? {
            self.register(part);
        }
        Ok(())
    }

    fn publish_unlocked(&self, prepared: Vec<PreparedPart>) -> Result<Vec<Arc<Part>>, StoreError> {
        // The series and postings the parts refer to are durable first.
        self.flush_postings()?;
        self.db.flush().map_err(|e| self.err(e))?;
        let mut renamed = Vec::with_capacity(prepared.len());
        for mut part in prepared {
            let tmp = part.tmp.take().expect("a prepared part is renamed once");
            if let Err(e) = std::fs::rename(&tmp, &part.final_path) {
                part.tmp = Some(tmp);
                return Err(io_at(&part.final_path)(e));
            }
            renamed.push(part);
        }
        if let Ok(dir) = std::fs::File::open(&self.chunks_dir) {
            let _ = dir.sync_all();
        }
        renamed
            .iter()
            .map(|p| Ok(Arc::new(Part::open(&p.final_path, p.block, p.seq)?)))
            .collect()
    }
}

impl Drop for BlockWriter<'_> {
    fn drop(&mut self) {
        // Abandoned before `finish`: the temporary file goes.
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
