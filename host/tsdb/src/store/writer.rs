//! Writing parts: [`BlockWriter`] streams the sealed chunks of one block
//! into a new part file (compaction output, a backfill, a block rewrite),
//! sharing timestamp columns between chunks; [`PreparedPart`] and
//! [`Store::publish`] make written parts visible together.

use super::part::{self, Part, part_name};
use super::{Sid, Store, StoreError, io_at};
use crate::sealed;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use wasmetheus_model::Label;

impl Store {
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
        let header = part::encode_header(block, range);
        out.write_all(&header).map_err(io_at(&tmp))?;
        Ok(BlockWriter {
            store: self,
            block,
            range,
            seq,
            tmp,
            final_path,
            out: Some(out),
            offset: part::PART_HEADER as u64,
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
    pub(super) fn finish_unlocked(self) -> Result<Option<Arc<Part>>, StoreError> {
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
        let index = part::encode_index(&self.index);
        let footer = part::encode_footer(
            self.offset,
            self.index.len(),
            self.min_time,
            self.max_time,
            &index,
        );
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
