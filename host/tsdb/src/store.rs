//! The persistent store in sled: sealed chunks, series, postings and
//! tombstones of everything compacted out of the head (or backfilled).
//!
//! Trees (all keys big-endian so sled's byte order is numeric order):
//! - `series`: sid → labels; `labels`: labels → sid;
//! - `postings`: `name 0xFF value 0xFF sid` → ();
//! - `chunks`: `sid | block` → one sealed chunk ([`crate::sealed`]) holding
//!   the series' samples in that block range;
//! - `blocks`: `block | sid` → (), which series have data in a block (for
//!   retention and time-bounded label lookups);
//! - `tombstones`: sid → deleted `(mint, maxt)` intervals;
//! - `meta`: `compacted_upto` (samples before it live here, not in the
//!   head's WAL), `next_sid`.
//!
//! Label strings never contain 0xFF (UTF-8), so `name 0xFF value 0xFF` is
//! an unambiguous, prefix-searchable encoding.

use crate::iter::ChunkSource;
use crate::sealed;
use std::collections::{BTreeMap, BTreeSet};
use wasmetheus_model::Label;
use wasmetheus_model::storage::{MatchType, Matcher};

/// Deleted `(mint, maxt)` ranges of a series, both ends inclusive.
pub type Intervals = Vec<(i64, i64)>;

/// A persisted series' id.
pub type Sid = u64;

const SEP: u8 = 0xFF;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sled store {path}: {source}")]
    Sled { path: String, source: sled::Error },
    #[error("corrupt {what} in the store: {detail}")]
    Corrupt { what: &'static str, detail: String },
}

pub struct Store {
    path: String,
    db: sled::Db,
    series: sled::Tree,
    labels: sled::Tree,
    postings: sled::Tree,
    chunks: sled::Tree,
    blocks: sled::Tree,
    tombstones: sled::Tree,
    meta: sled::Tree,
    /// Width of a block in ms; chunks never straddle a block boundary.
    block_range: i64,
    /// Serialises writers of the same series' chunks (compaction, backfill,
    /// tombstone cleaning, retention).
    write_lock: parking_lot::Mutex<()>,
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

fn sid_of(b: &[u8]) -> Sid {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

pub fn encode_labels(labels: &[Label]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        labels
            .iter()
            .map(|l| l.name.len() + l.value.len() + 2)
            .sum(),
    );
    for l in labels {
        out.extend_from_slice(l.name.as_bytes());
        out.push(SEP);
        out.extend_from_slice(l.value.as_bytes());
        out.push(SEP);
    }
    out
}

fn decode_labels(bytes: &[u8]) -> Result<Vec<Label>, StoreError> {
    let corrupt = || StoreError::Corrupt {
        what: "series labels",
        detail: format!("{} bytes", bytes.len()),
    };
    let parts: Vec<&[u8]> = bytes.split(|b| *b == SEP).collect();
    // A trailing separator leaves one empty part.
    if parts.len() % 2 != 1 || parts.last().is_some_and(|p| !p.is_empty()) {
        return Err(corrupt());
    }
    parts[..parts.len() - 1]
        .chunks(2)
        .map(|pair| {
            Ok(Label::new(
                std::str::from_utf8(pair[0]).map_err(|_| corrupt())?,
                std::str::from_utf8(pair[1]).map_err(|_| corrupt())?,
            ))
        })
        .collect()
}

fn posting_prefix(name: &str, value: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(name.len() + value.len() + 10);
    k.extend_from_slice(name.as_bytes());
    k.push(SEP);
    k.extend_from_slice(value.as_bytes());
    k.push(SEP);
    k
}

fn chunk_key(sid: Sid, block: i64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&sid.to_be_bytes());
    k[8..].copy_from_slice(&sortable(block));
    k
}

fn block_key(block: i64, sid: Sid) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&sortable(block));
    k[8..].copy_from_slice(&sid.to_be_bytes());
    k
}

/// Merges two sorted sample lists; on equal timestamps `newer` wins.
fn merge(older: Vec<(i64, f64)>, newer: &[(i64, f64)]) -> Vec<(i64, f64)> {
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

/// What a retention pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RetentionStats {
    pub blocks: u64,
    pub chunks: u64,
    pub series: u64,
}

impl Store {
    pub fn open(path: &std::path::Path, block_range: i64) -> Result<Store, StoreError> {
        let p = path.display().to_string();
        let err = |source| StoreError::Sled {
            path: p.clone(),
            source,
        };
        let config = sled::Config::new()
            .path(path)
            // Sled's default cache is 1 GiB; the head is the hot set here.
            .cache_capacity(64 << 20)
            // zstd over sled's pages: keys, labels and postings compress
            // well, and it halves sled's per-page overhead on disk.
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
        Ok(Store {
            series: tree("series")?,
            labels: tree("labels")?,
            postings: tree("postings")?,
            chunks: tree("chunks")?,
            blocks: tree("blocks")?,
            tombstones: tree("tombstones")?,
            meta: tree("meta")?,
            db,
            path: p,
            block_range: block_range.max(1),
            write_lock: parking_lot::Mutex::new(()),
        })
    }

    fn err(&self, source: sled::Error) -> StoreError {
        StoreError::Sled {
            path: self.path.clone(),
            source,
        }
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

    /// The id of `labels`, created (with its postings) if new.
    pub fn sid(&self, labels: &[Label]) -> Result<Sid, StoreError> {
        let key = encode_labels(labels);
        if let Some(v) = self.labels.get(&key).map_err(|e| self.err(e))? {
            return Ok(sid_of(&v));
        }
        let sid = self.db.generate_id().map_err(|e| self.err(e))?;
        // Postings and series first, the labels entry last: a crash in
        // between leaves an unreachable id, never a dangling one.
        for l in labels {
            let mut k = posting_prefix(&l.name, &l.value);
            k.extend_from_slice(&sid.to_be_bytes());
            self.postings.insert(k, &[]).map_err(|e| self.err(e))?;
        }
        self.series
            .insert(sid.to_be_bytes(), key.as_slice())
            .map_err(|e| self.err(e))?;
        self.labels
            .insert(key, &sid.to_be_bytes())
            .map_err(|e| self.err(e))?;
        Ok(sid)
    }

    pub fn labels(&self, sid: Sid) -> Result<Option<Vec<Label>>, StoreError> {
        match self
            .series
            .get(sid.to_be_bytes())
            .map_err(|e| self.err(e))?
        {
            Some(v) => Ok(Some(decode_labels(&v)?)),
            None => Ok(None),
        }
    }

    /// Writes `samples` (sorted, strictly increasing) of series `labels`,
    /// merged with what is stored for the same blocks (a stored sample with
    /// the same timestamp is replaced).
    pub fn write(&self, labels: &[Label], samples: &[(i64, f64)]) -> Result<usize, StoreError> {
        if samples.is_empty() {
            return Ok(0);
        }
        let _guard = self.write_lock.lock();
        let sid = self.sid(labels)?;
        let mut written = 0;
        let mut start = 0;
        let mut encoded = Vec::new();
        while start < samples.len() {
            let block = self.block_of(samples[start].0);
            let end = samples[start..]
                .iter()
                .position(|(t, _)| self.block_of(*t) != block)
                .map_or(samples.len(), |n| start + n);
            let key = chunk_key(sid, block);
            let stored = match self.chunks.get(key).map_err(|e| self.err(e))? {
                Some(bytes) => self.decode_chunk(&bytes)?,
                None => Vec::new(),
            };
            let merged = merge(stored, &samples[start..end]);
            encoded.clear();
            sealed::encode(&merged, &mut encoded);
            self.chunks
                .insert(key, encoded.as_slice())
                .map_err(|e| self.err(e))?;
            self.blocks
                .insert(block_key(block, sid), &[])
                .map_err(|e| self.err(e))?;
            written += end - start;
            start = end;
        }
        Ok(written)
    }

    /// Key and value bytes of everything stored now (what an ideal store
    /// would occupy), by a full scan.
    pub fn logical_size(&self) -> u64 {
        [
            &self.series,
            &self.labels,
            &self.postings,
            &self.chunks,
            &self.blocks,
            &self.tombstones,
            &self.meta,
        ]
        .iter()
        .flat_map(|tree| tree.iter().flatten())
        .map(|(k, v)| (k.len() + v.len()) as u64)
        .sum()
    }

    fn decode_chunk(&self, bytes: &[u8]) -> Result<Vec<(i64, f64)>, StoreError> {
        let mut out = Vec::new();
        sealed::decode(bytes, &mut out).map_err(|e| StoreError::Corrupt {
            what: "chunk",
            detail: e.to_string(),
        })?;
        Ok(out)
    }

    /// Samples of `sid` in `[mint, maxt]`, tombstones applied.
    pub fn samples(&self, sid: Sid, mint: i64, maxt: i64) -> Result<Vec<(i64, f64)>, StoreError> {
        let mut out = Vec::new();
        if mint > maxt {
            return Ok(out);
        }
        let from = chunk_key(sid, self.block_of(mint));
        let to = chunk_key(sid, self.block_of(maxt));
        for item in self.chunks.range(from..=to) {
            let (_, bytes) = item.map_err(|e| self.err(e))?;
            let start = out.len();
            sealed::decode(&bytes, &mut out).map_err(|e| StoreError::Corrupt {
                what: "chunk",
                detail: e.to_string(),
            })?;
            // Only the edge chunks hold samples outside the range.
            let tail: Vec<(i64, f64)> = out
                .drain(start..)
                .filter(|(t, _)| *t >= mint && *t <= maxt)
                .collect();
            out.extend(tail);
        }
        let deleted = self.tombstones_of(sid)?;
        if !deleted.is_empty() {
            out.retain(|(t, _)| !deleted.iter().any(|(a, b)| a <= t && t <= b));
        }
        Ok(out)
    }

    /// The stored chunks of `sid` overlapping `[mint, maxt]` (undecoded)
    /// and its deleted intervals, for a lazy iterator.
    pub(crate) fn chunk_sources(
        &self,
        sid: Sid,
        mint: i64,
        maxt: i64,
    ) -> Result<(Vec<ChunkSource>, Intervals), StoreError> {
        let mut out = Vec::new();
        if mint <= maxt {
            let from = chunk_key(sid, self.block_of(mint));
            let to = chunk_key(sid, self.block_of(maxt));
            for item in self.chunks.range(from..=to) {
                let (_, bytes) = item.map_err(|e| self.err(e))?;
                let header = sealed::header(&bytes).map_err(|e| StoreError::Corrupt {
                    what: "chunk",
                    detail: e.to_string(),
                })?;
                if header.count > 0 && header.max_time >= mint && header.min_time <= maxt {
                    out.push(ChunkSource::Sealed {
                        bytes,
                        min_time: header.min_time,
                        max_time: header.max_time,
                    });
                }
            }
        }
        Ok((out, self.tombstones_of(sid)?))
    }

    fn tombstones_of(&self, sid: Sid) -> Result<Vec<(i64, i64)>, StoreError> {
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

    /// Whether `sid` has a chunk in a block overlapping `[mint, maxt]`.
    fn has_data(&self, sid: Sid, mint: i64, maxt: i64) -> Result<bool, StoreError> {
        if mint > maxt {
            return Ok(false);
        }
        let from = chunk_key(sid, self.block_of(mint));
        let to = chunk_key(sid, self.block_of(maxt));
        Ok(self
            .chunks
            .range(from..=to)
            .next()
            .transpose()
            .map_err(|e| self.err(e))?
            .is_some())
    }

    /// Sids with label `name` whose value satisfies `keep`.
    fn postings_where(
        &self,
        name: &str,
        keep: impl Fn(&str) -> bool,
    ) -> Result<BTreeSet<Sid>, StoreError> {
        let mut prefix = name.as_bytes().to_vec();
        prefix.push(SEP);
        let mut out = BTreeSet::new();
        for item in self.postings.scan_prefix(&prefix) {
            let (k, _) = item.map_err(|e| self.err(e))?;
            let rest = &k[prefix.len()..];
            if rest.len() < 9 {
                continue;
            }
            let value = &rest[..rest.len() - 9];
            if std::str::from_utf8(value).is_ok_and(&keep) {
                out.insert(sid_of(&rest[rest.len() - 8..]));
            }
        }
        Ok(out)
    }

    fn postings_eq(&self, name: &str, value: &str) -> Result<BTreeSet<Sid>, StoreError> {
        let prefix = posting_prefix(name, value);
        let mut out = BTreeSet::new();
        for item in self.postings.scan_prefix(&prefix) {
            let (k, _) = item.map_err(|e| self.err(e))?;
            if k.len() == prefix.len() + 8 {
                out.insert(sid_of(&k[prefix.len()..]));
            }
        }
        Ok(out)
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
                    None => self.postings_where(&m.name, |v| m.matches(v))?,
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
                    all.insert(sid_of(&k));
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
        let mut out = Vec::new();
        for sid in self.select(matchers)? {
            if self.has_data(sid, mint, maxt)?
                && let Some(labels) = self.labels(sid)?
            {
                out.push((sid, labels));
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
        let last = self
            .chunks
            .scan_prefix(sid.to_be_bytes())
            .next_back()
            .transpose()
            .map_err(|e| self.err(e))?;
        let Some((_, bytes)) = last else {
            return Ok(i64::MIN);
        };
        let header = sealed::header(&bytes).map_err(|e| StoreError::Corrupt {
            what: "chunk",
            detail: e.to_string(),
        })?;
        Ok(header.max_time)
    }

    /// Rewrites every chunk that has tombstones without the deleted
    /// samples, removes series left empty, and clears the tombstones.
    pub fn clean_tombstones(&self) -> Result<usize, StoreError> {
        let _guard = self.write_lock.lock();
        let mut cleaned = 0;
        for item in self.tombstones.iter() {
            let (k, _) = item.map_err(|e| self.err(e))?;
            let sid = sid_of(&k);
            let deleted = self.tombstones_of(sid)?;
            let mut keys = Vec::new();
            for chunk in self.chunks.scan_prefix(sid.to_be_bytes()) {
                keys.push(chunk.map_err(|e| self.err(e))?);
            }
            for (key, bytes) in keys {
                let mut samples = self.decode_chunk(&bytes)?;
                let before = samples.len();
                samples.retain(|(t, _)| !deleted.iter().any(|(a, b)| a <= t && t <= b));
                if samples.len() == before {
                    continue;
                }
                let block = unsortable(&key[8..]);
                if samples.is_empty() {
                    self.chunks.remove(&key).map_err(|e| self.err(e))?;
                    self.blocks
                        .remove(block_key(block, sid))
                        .map_err(|e| self.err(e))?;
                } else {
                    let mut encoded = Vec::new();
                    sealed::encode(&samples, &mut encoded);
                    self.chunks.insert(&key, encoded).map_err(|e| self.err(e))?;
                }
            }
            self.tombstones.remove(&k).map_err(|e| self.err(e))?;
            self.remove_series_if_empty(sid)?;
            cleaned += 1;
        }
        Ok(cleaned)
    }

    fn remove_series_if_empty(&self, sid: Sid) -> Result<bool, StoreError> {
        if self.chunks.scan_prefix(sid.to_be_bytes()).next().is_some() {
            return Ok(false);
        }
        if let Some(labels) = self.labels(sid)? {
            for l in &labels {
                let mut k = posting_prefix(&l.name, &l.value);
                k.extend_from_slice(&sid.to_be_bytes());
                self.postings.remove(k).map_err(|e| self.err(e))?;
            }
            self.labels
                .remove(encode_labels(&labels))
                .map_err(|e| self.err(e))?;
        }
        self.series
            .remove(sid.to_be_bytes())
            .map_err(|e| self.err(e))?;
        self.tombstones
            .remove(sid.to_be_bytes())
            .map_err(|e| self.err(e))?;
        Ok(true)
    }

    /// Block starts that hold data, oldest first.
    pub fn block_starts(&self) -> Result<Vec<i64>, StoreError> {
        let mut out = Vec::new();
        let mut from = Vec::new();
        loop {
            let Some(item) = self.blocks.range(from.clone()..).next() else {
                break;
            };
            let (k, _) = item.map_err(|e| self.err(e))?;
            let block = unsortable(&k[..8]);
            out.push(block);
            // Skip to the next block.
            from = block_key(block, u64::MAX).to_vec();
            from.push(0);
        }
        Ok(out)
    }

    /// Removes whole blocks that end at or before `before`.
    pub fn drop_blocks_before(&self, before: i64) -> Result<RetentionStats, StoreError> {
        let mut stats = RetentionStats::default();
        for block in self.block_starts()? {
            if block + self.block_range > before {
                break;
            }
            stats = self.add(stats, self.drop_block(block)?);
        }
        Ok(stats)
    }

    fn add(&self, a: RetentionStats, b: RetentionStats) -> RetentionStats {
        RetentionStats {
            blocks: a.blocks + b.blocks,
            chunks: a.chunks + b.chunks,
            series: a.series + b.series,
        }
    }

    /// Removes the oldest block; `None` when there is none.
    pub fn drop_oldest_block(&self) -> Result<Option<RetentionStats>, StoreError> {
        match self.block_starts()?.first() {
            Some(&block) => Ok(Some(self.drop_block(block)?)),
            None => Ok(None),
        }
    }

    fn drop_block(&self, block: i64) -> Result<RetentionStats, StoreError> {
        let _guard = self.write_lock.lock();
        let mut stats = RetentionStats {
            blocks: 1,
            ..RetentionStats::default()
        };
        let prefix = sortable(block);
        let mut sids = Vec::new();
        for item in self.blocks.scan_prefix(prefix) {
            let (k, _) = item.map_err(|e| self.err(e))?;
            sids.push(sid_of(&k[8..]));
        }
        for sid in sids {
            self.chunks
                .remove(chunk_key(sid, block))
                .map_err(|e| self.err(e))?;
            self.blocks
                .remove(block_key(block, sid))
                .map_err(|e| self.err(e))?;
            stats.chunks += 1;
            if self.remove_series_if_empty(sid)? {
                stats.series += 1;
            }
        }
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

    /// Bytes sled uses on disk.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }

    /// Counts for `status/tsdb` and the metrics.
    pub fn counts(&self) -> StoreCounts {
        StoreCounts {
            series: self.series.len() as u64,
            chunks: self.chunks.len() as u64,
            blocks: self.block_starts().map_or(0, |b| b.len() as u64),
            tombstones: self.tombstones.len() as u64,
        }
    }

    /// Makes everything written so far durable.
    pub fn flush(&self) -> Result<usize, StoreError> {
        self.db.flush().map_err(|e| self.err(e))
    }

    /// Copies every tree into a new store at `dir`.
    pub fn snapshot(&self, dir: &std::path::Path) -> Result<(), StoreError> {
        let copy = Store::open(dir, self.block_range)?;
        for (from, to) in [
            (&self.series, &copy.series),
            (&self.labels, &copy.labels),
            (&self.postings, &copy.postings),
            (&self.chunks, &copy.chunks),
            (&self.blocks, &copy.blocks),
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
            while copy.db.generate_id().map_err(|e| copy.err(e))? <= sid_of(&k) {}
        }
        copy.flush()?;
        Ok(())
    }

    /// Every series with its samples in `[mint, maxt]`, for exports.
    pub fn for_each_series(
        &self,
        mint: i64,
        maxt: i64,
        mut f: impl FnMut(Vec<Label>, Vec<(i64, f64)>),
    ) -> Result<(), StoreError> {
        let mut by_labels: BTreeMap<Vec<Label>, Sid> = BTreeMap::new();
        for item in self.series.iter() {
            let (k, v) = item.map_err(|e| self.err(e))?;
            by_labels.insert(decode_labels(&v)?, sid_of(&k));
        }
        for (labels, sid) in by_labels {
            let samples = self.samples(sid, mint, maxt)?;
            if !samples.is_empty() {
                f(labels, samples);
            }
        }
        Ok(())
    }
}

/// Sizes of the store.
#[derive(Debug, Default, Clone, Copy)]
pub struct StoreCounts {
    pub series: u64,
    pub chunks: u64,
    pub blocks: u64,
    pub tombstones: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_encoding_round_trips_and_sortable_keeps_order() {
        let labels = vec![Label::new("__name__", "up"), Label::new("job", "")];
        assert_eq!(decode_labels(&encode_labels(&labels)).unwrap(), labels);
        assert!(decode_labels(b"a\xffb").is_err());
        let ts = [i64::MIN, -5, -1, 0, 1, 7_200_000, i64::MAX];
        for w in ts.windows(2) {
            assert!(sortable(w[0]) < sortable(w[1]));
            assert_eq!(unsortable(&sortable(w[0])), w[0]);
        }
        assert_eq!(
            merge(vec![(1, 1.0), (3, 3.0)], &[(2, 2.0), (3, 30.0)]),
            vec![(1, 1.0), (2, 2.0), (3, 30.0)]
        );
    }
}
