//! One series of the head in memory: its XOR chunks and out-of-order
//! samples; admitting and appending samples, reading them back, deleting
//! ranges and truncating.

use crate::chunk::XorChunk;
use crate::iter::ChunkSource;
use std::collections::BTreeMap;
use wasmetheus_model::storage::AppendError;

/// One series in memory: its chunks, oldest first (the last one is open),
/// and the out-of-order samples accepted within the window, sorted.
pub(super) struct MemSeries {
    chunks: Vec<XorChunk>,
    pub(super) last: Option<(i64, f64)>,
    out_of_order: BTreeMap<i64, f64>,
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

impl MemSeries {
    pub(super) fn new() -> Self {
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
    pub(super) fn admit(
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
    pub(super) fn add(&mut self, t: i64, v: f64, ooo_min: i64) -> Admission {
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
    pub(super) fn samples_in(&self, mint: i64, maxt: i64, out: &mut Vec<(i64, f64)>) {
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
    pub(super) fn chunk_sources(&self, mint: i64, maxt: i64) -> Vec<ChunkSource> {
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

    pub(super) fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.chunks
            .iter()
            .any(|c| !c.is_empty() && c.max_time() >= mint && c.min_time() <= maxt)
            || self.out_of_order_in(mint, maxt).next().is_some()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.chunks.iter().all(XorChunk::is_empty) && self.out_of_order.is_empty()
    }

    /// Deletes the samples in `[mint, maxt]`. Only the chunks holding
    /// some are re-encoded, so a deletion costs what it touches, not the
    /// whole series (a log of many small deletions replays in linear time).
    pub(super) fn delete_range(&mut self, mint: i64, maxt: i64) {
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
    pub(super) fn truncate(&mut self, before: i64) {
        self.chunks
            .retain(|c| !c.is_empty() && c.max_time() >= before);
        self.out_of_order = self.out_of_order.split_off(&before);
    }
}
