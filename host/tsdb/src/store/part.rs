//! The part file format: an immutable file of sealed chunks for one block
//! (`chunks/<block>-<seq>.part`), its byte layout for the writer and its
//! memory-mapped, checked reading; see [`Part`].

use super::{Sid, StoreError, io_at};
use crate::iter::{CheckedMap, ChunkBytes, ChunkSource, MappedFile};
use crate::sealed;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const PART_MAGIC: &[u8; 8] = b"WMTSPART";
const PART_END: &[u8; 8] = b"WMTSEND\0";
pub(super) const PART_HEADER: usize = 32;
pub(super) const PART_FOOTER: usize = 44;
pub(super) const INDEX_ENTRY: usize = 20;
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
    pub(super) path: PathBuf,
    pub(super) block: i64,
    pub(super) seq: u64,
    /// Width of the block the part was written for (from its header): a
    /// backfill may write blocks wider than the store's, e.g. 18 h.
    range: i64,
    map: Arc<MappedFile>,
    index_at: usize,
    pub(super) count: usize,
    pub(super) size: u64,
    /// Oldest and newest sample in the part.
    pub(super) min_time: i64,
    pub(super) max_time: i64,
}

impl Part {
    pub(super) fn open(path: &Path, block: i64, seq: u64) -> Result<Part, StoreError> {
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
    pub(super) fn data(&self) -> Result<&[u8], StoreError> {
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

    pub(super) fn find_in(&self, data: &[u8], sid: Sid) -> Option<(usize, usize)> {
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
    pub(super) fn has(&self, sid: Sid) -> Result<bool, StoreError> {
        Ok(self.find_in(self.data()?, sid).is_some())
    }

    /// How far after its block start the part holds samples: its range,
    /// or more for a part whose chunks run past it (merged by an older
    /// version that did not keep ranges apart).
    pub(super) fn span(&self) -> i64 {
        self.range
            .max(self.max_time.saturating_sub(self.block).saturating_add(1))
    }

    pub(super) fn sids(&self) -> Result<Vec<Sid>, StoreError> {
        let data = self.data()?;
        Ok((0..self.count).map(|i| self.entry(data, i).0).collect())
    }

    /// The chunk of `sid`, if this part has one.
    pub(super) fn chunk(&self, sid: Sid) -> Result<Option<ChunkSource>, StoreError> {
        self.chunk_in(self.data()?, &self.checked_map(), sid)
    }

    /// A view of the part's mapping for the chunks of one selection: its
    /// length is checked once, when the first of them is decoded.
    pub(super) fn checked_map(&self) -> Arc<CheckedMap> {
        CheckedMap::new(Arc::clone(&self.map))
    }

    /// [`chunk`](Self::chunk) with the part's bytes already checked, read
    /// later through `map`.
    pub(super) fn chunk_in(
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

pub(super) fn part_name(block: i64, seq: u64) -> String {
    format!("{:016x}-{seq:08}.part", (block as u64) ^ (1 << 63))
}

pub(super) fn parse_part_name(name: &str) -> Option<(i64, u64)> {
    let stem = name.strip_suffix(".part")?;
    let (block, seq) = stem.split_once('-')?;
    let block = (u64::from_str_radix(block, 16).ok()? ^ (1 << 63)) as i64;
    Some((block, seq.parse().ok()?))
}

/// The header of a new part for the block `[block, block + range)`.
pub(super) fn encode_header(block: i64, range: i64) -> Vec<u8> {
    let mut header = Vec::with_capacity(PART_HEADER);
    header.extend_from_slice(PART_MAGIC);
    header.push(PART_VERSION);
    header.extend_from_slice(&[0; 7]);
    header.extend_from_slice(&block.to_le_bytes());
    header.extend_from_slice(&range.to_le_bytes());
    header
}

/// The index of a part: its chunks' `(sid, offset, len)`, sorted by sid.
pub(super) fn encode_index(entries: &[(Sid, u64, u32)]) -> Vec<u8> {
    let mut index = Vec::with_capacity(entries.len() * INDEX_ENTRY);
    for (sid, offset, len) in entries {
        index.extend_from_slice(&sid.to_le_bytes());
        index.extend_from_slice(&offset.to_le_bytes());
        index.extend_from_slice(&len.to_le_bytes());
    }
    index
}

/// The footer of a part whose `index` of `count` entries starts at
/// `index_at`, holding samples from `min_time` to `max_time`.
pub(super) fn encode_footer(
    index_at: u64,
    count: usize,
    min_time: i64,
    max_time: i64,
    index: &[u8],
) -> Vec<u8> {
    let mut footer = Vec::with_capacity(PART_FOOTER);
    footer.extend_from_slice(&index_at.to_le_bytes());
    footer.extend_from_slice(&(count as u64).to_le_bytes());
    footer.extend_from_slice(&min_time.to_le_bytes());
    footer.extend_from_slice(&max_time.to_le_bytes());
    footer.extend_from_slice(&crc32fast::hash(index).to_le_bytes());
    footer.extend_from_slice(PART_END);
    footer
}
