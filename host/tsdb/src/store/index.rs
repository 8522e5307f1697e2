//! The index of the store, in sled: label strings interned as symbols,
//! series as their symbol ids, postings of each label pair, tombstones;
//! with the maps rebuilt from them at open (symbol ids by string, series by
//! label hash). Selecting series by matchers, and removing series that no
//! part holds any more.

use super::{Intervals, Sid, Store, StoreError, sortable, unsortable};
use crate::varint::{get_uvarint, put_uvarint};
use rustc_hash::FxHashMap;
use std::collections::BTreeSet;
use std::hash::Hasher;
use std::sync::Arc;
use wasmetheus_model::Label;
use wasmetheus_model::storage::{MatchType, Matcher};

/// The sid of a `series` or `tombstones` key.
pub(super) fn sid_of(b: &[u8]) -> Result<Sid, StoreError> {
    let a: [u8; 8] = b.try_into().map_err(|_| StoreError::Corrupt {
        what: "series id",
        detail: format!("a key of {} bytes instead of 8", b.len()),
    })?;
    Ok(u64::from_be_bytes(a))
}

pub(super) fn encode_sids(sids: &BTreeSet<Sid>) -> Vec<u8> {
    let mut out = Vec::with_capacity(sids.len() * 2);
    let mut prev = 0;
    for &sid in sids {
        put_uvarint(&mut out, sid - prev);
        prev = sid;
    }
    out
}

pub(super) fn decode_sids(bytes: &[u8]) -> Result<BTreeSet<Sid>, StoreError> {
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

/// Label strings by id and ids by string, mirrored from sled.
#[derive(Default)]
pub(super) struct Symbols {
    by_id: Vec<Arc<str>>,
    ids: FxHashMap<Arc<str>, u32>,
}

impl Store {
    pub(super) fn load_symbols(&self) -> Result<(), StoreError> {
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

    pub(super) fn load_series(&self) -> Result<(), StoreError> {
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

    pub(super) fn lookup(&self, labels: &[Label]) -> Result<Option<Sid>, StoreError> {
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
    pub(super) fn flush_postings(&self) -> Result<(), StoreError> {
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

    /// Removes from the index the series among `candidates` that no part
    /// holds any more; returns how many.
    pub(super) fn remove_series_without_data(
        &self,
        candidates: BTreeSet<Sid>,
    ) -> Result<u64, StoreError> {
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
}
