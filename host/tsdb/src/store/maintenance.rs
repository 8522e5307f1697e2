//! Rewriting and dropping blocks: merging a block's parts into one,
//! rewriting blocks without tombstoned samples, and retention (whole
//! blocks dropped, with the series left without data).

use super::index::sid_of;
use super::{Intervals, RetentionStats, Sid, Store, StoreError, io_at};
use crate::iter::merge;
use rustc_hash::FxHashMap;
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

impl Store {
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
}
