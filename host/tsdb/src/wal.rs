//! The write-ahead log: every committed batch is written here before it is
//! applied to the head, and replayed into a new head at start-up.
//!
//! The log is a directory of numbered segments (`00000000`, `00000001`, …)
//! plus at most one checkpoint (`checkpoint.N`, covering every segment up to
//! and including N). Replay reads the checkpoint, then the later segments.
//! After the head is compacted, [`Wal::checkpoint`] folds the closed
//! segments into a new checkpoint holding only what the head still needs,
//! so replay time stays bounded by the head's span, not the server's age.
//!
//! A record is `len: u32 LE | crc32(payload): u32 LE | payload`, where the
//! payload starts with a type byte. A torn record at the end (a crash in
//! the middle of a write) fails its length or checksum; replay stops there
//! and the segment is truncated to the last whole record. Acknowledged
//! batches were fully written with `write(2)` before the acknowledgement,
//! so they survive the process being killed; `sync` also survives power
//! loss.

use crate::varint::{get_uvarint, put_uvarint, unzigzag, zigzag};
use rustc_hash::FxHashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use wasmetheus_model::Label;

const SERIES: u8 = 1;
const SAMPLES: u8 = 2;
const TOMBSTONE: u8 = 3;
/// Samples with refs and timestamps as varint deltas to the first sample
/// (a scrape's samples share a timestamp and have nearby refs), values as
/// 8 raw bytes, like Prometheus' WAL: about 10 bytes a sample instead of 20.
const SAMPLES_DELTA: u8 = 4;
/// A record larger than this is corruption, not data.
pub(crate) const MAX_RECORD: usize = 64 << 20;
/// Segments are cut at this size (Prometheus uses 128 MiB).
pub const DEFAULT_SEGMENT_SIZE: u64 = 128 << 20;
/// The name of a log written before segments existed; replayed as segment 0.
const LEGACY_LOG: &str = "wal.log";
pub(crate) const CHECKPOINT_PREFIX: &str = "checkpoint.";

/// What the log holds, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A series and the ref its samples use from here on in the log. Refs
    /// are the head's; a ref may be bound again by a later record (a
    /// replay packs far refs into dense head refs and logs the new
    /// bindings), so a reader follows the bindings in order.
    Series { r: u32, labels: Vec<Label> },
    /// Samples of known series.
    Samples(Vec<(u32, i64, f64)>),
    /// Samples of series `r` in `[mint, maxt]` were deleted.
    Tombstone { r: u32, mint: i64, maxt: i64 },
}

/// Why the log could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error(
        "write-ahead log {path} is in use by another process ({message}); \
         is another wasmetheus running on this --storage.tsdb.path?"
    )]
    Locked { path: PathBuf, message: String },
    #[error("write-ahead log {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The log directory, open for appending to its last segment.
pub struct Wal {
    dir: PathBuf,
    /// Held for the log's lifetime: one writer per directory.
    _lock: File,
    file: File,
    segment: u64,
    segment_bytes: u64,
    segment_size: u64,
    sync: bool,
    buf: Vec<u8>,
    stats: WalStats,
}

/// Counters for `prometheus_tsdb_wal_*`.
#[derive(Debug, Default, Clone, Copy)]
pub struct WalStats {
    pub writes: u64,
    pub bytes_written: u64,
    pub write_failures: u64,
    pub fsyncs: u64,
    pub fsync_seconds: f64,
    pub segments_created: u64,
    pub checkpoints_created: u64,
    pub checkpoint_failures: u64,
    pub truncations: u64,
}

/// Counts of a replay, for the start-up log line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReplayStats {
    pub records: u64,
    pub series: u64,
    pub samples: u64,
    pub segments: u64,
    /// Bytes dropped from a torn tail.
    pub truncated_bytes: u64,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn encode(record: &Record, out: &mut Vec<u8>) {
    match record {
        Record::Series { r, labels } => {
            out.push(SERIES);
            out.extend_from_slice(&r.to_le_bytes());
            out.extend_from_slice(&(labels.len() as u32).to_le_bytes());
            for l in labels {
                put_str(out, &l.name);
                put_str(out, &l.value);
            }
        }
        Record::Samples(samples) => {
            out.push(SAMPLES_DELTA);
            put_uvarint(out, samples.len() as u64);
            let Some(&(r0, t0, _)) = samples.first() else {
                return;
            };
            out.extend_from_slice(&r0.to_le_bytes());
            out.extend_from_slice(&t0.to_le_bytes());
            for (r, t, v) in samples {
                put_uvarint(out, zigzag(i64::from(*r) - i64::from(r0)));
                put_uvarint(out, zigzag(t.wrapping_sub(t0)));
                out.extend_from_slice(&v.to_bits().to_le_bytes());
            }
        }
        Record::Tombstone { r, mint, maxt } => {
            out.push(TOMBSTONE);
            out.extend_from_slice(&r.to_le_bytes());
            out.extend_from_slice(&mint.to_le_bytes());
            out.extend_from_slice(&maxt.to_le_bytes());
        }
    }
}

/// Appends `record` framed (length, checksum, payload) to `out`.
pub(crate) fn frame(record: &Record, scratch: &mut Vec<u8>, out: &mut Vec<u8>) {
    scratch.clear();
    encode(record, scratch);
    out.extend_from_slice(&(scratch.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(scratch).to_le_bytes());
    out.extend_from_slice(scratch);
}

/// A cursor over a payload that fails instead of panicking on short input.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn uvarint(&mut self) -> Option<u64> {
        let mut pos = 0;
        let x = get_uvarint(self.0, &mut pos)?;
        self.0 = &self.0[pos..];
        Some(x)
    }
    fn string(&mut self) -> Option<String> {
        let len = self.u32()? as usize;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }
}

pub(crate) fn decode(payload: &[u8]) -> Option<Record> {
    let mut c = Cursor(payload);
    let kind = c.take(1)?[0];
    let record = match kind {
        SERIES => {
            let r = c.u32()?;
            let n = c.u32()? as usize;
            // Two length prefixes a label: a count beyond the payload is
            // corruption.
            if n > c.0.len() / 8 {
                return None;
            }
            let mut labels = Vec::with_capacity(n);
            for _ in 0..n {
                labels.push(Label::new(c.string()?, c.string()?));
            }
            Record::Series { r, labels }
        }
        SAMPLES => {
            let n = c.u32()? as usize;
            // 20 bytes a sample: a count beyond the payload is corruption.
            if n > c.0.len() / 20 {
                return None;
            }
            let mut samples = Vec::with_capacity(n);
            for _ in 0..n {
                samples.push((c.u32()?, c.u64()? as i64, f64::from_bits(c.u64()?)));
            }
            Record::Samples(samples)
        }
        SAMPLES_DELTA => {
            let n = c.uvarint()? as usize;
            // At least 10 bytes a sample: a count beyond the payload is
            // corruption.
            if n > c.0.len() / 10 {
                return None;
            }
            let mut samples = Vec::with_capacity(n);
            if n > 0 {
                let r0 = i64::from(c.u32()?);
                let t0 = c.u64()? as i64;
                for _ in 0..n {
                    let r = u32::try_from(r0.checked_add(unzigzag(c.uvarint()?))?).ok()?;
                    let t = t0.wrapping_add(unzigzag(c.uvarint()?));
                    samples.push((r, t, f64::from_bits(c.u64()?)));
                }
            }
            Record::Samples(samples)
        }
        TOMBSTONE => Record::Tombstone {
            r: c.u32()?,
            mint: c.u64()? as i64,
            maxt: c.u64()? as i64,
        },
        _ => return None,
    };
    c.0.is_empty().then_some(record)
}

/// Reads the whole records of `file`, handing each to `apply`; returns the
/// length of the whole-record prefix.
pub(crate) fn read_records(
    file: &File,
    stats: &mut ReplayStats,
    mut apply: impl FnMut(Record),
) -> std::io::Result<u64> {
    // Reading, checksumming and decoding run on a thread of their own,
    // applying on this one: replay uses two cores. Batches keep the
    // channel's cost per record small.
    const BATCH: usize = 64;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Record>>(16);
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            // A length beyond what the file holds is a torn record: found
            // before a buffer of that length is allocated.
            let file_len = file.metadata().map_or(u64::MAX, |m| m.len());
            let mut reader = BufReader::with_capacity(1 << 20, file);
            let mut good = 0u64;
            let mut payload = Vec::new();
            let mut batch = Vec::with_capacity(BATCH);
            loop {
                let mut header = [0u8; 8];
                if reader.read_exact(&mut header).is_err() {
                    break;
                }
                let size = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
                let crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
                if size > MAX_RECORD || good + 8 + size as u64 > file_len {
                    break;
                }
                payload.resize(size, 0);
                if reader.read_exact(&mut payload).is_err() || crc32fast::hash(&payload) != crc {
                    break;
                }
                let Some(record) = decode(&payload) else {
                    break;
                };
                batch.push(record);
                good += 8 + size as u64;
                if batch.len() == BATCH
                    && tx
                        .send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                        .is_err()
                {
                    break;
                }
            }
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
            good
        });
        for batch in rx {
            for record in batch {
                stats.records += 1;
                match &record {
                    Record::Series { .. } => stats.series += 1,
                    Record::Samples(s) => stats.samples += s.len() as u64,
                    Record::Tombstone { .. } => {}
                }
                apply(record);
            }
        }
        reader
            .join()
            .map_err(|_| std::io::Error::other("the WAL reader thread panicked"))
    })
}

pub(crate) fn segment_name(n: u64) -> String {
    format!("{n:08}")
}

/// The segments (by number) and the newest checkpoint in `dir`.
pub(crate) fn list(dir: &Path) -> std::io::Result<(Vec<u64>, Option<u64>)> {
    let mut segments = Vec::new();
    let mut checkpoint = None;
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name.strip_prefix(CHECKPOINT_PREFIX) {
            if let Ok(n) = n.parse::<u64>() {
                checkpoint = checkpoint.max(Some(n));
            }
        } else if name.len() == 8
            && let Ok(n) = name.parse::<u64>()
        {
            segments.push(n);
        }
    }
    segments.sort_unstable();
    Ok((segments, checkpoint))
}

impl Wal {
    /// Opens (creating) the log in `dir`, hands every whole record to
    /// `apply` in order (checkpoint first, then segments), truncates a torn
    /// tail, and returns the log ready for appending.
    pub fn open(
        dir: &Path,
        sync: bool,
        apply: impl FnMut(Record),
    ) -> Result<(Wal, ReplayStats), WalError> {
        Wal::open_with(dir, sync, DEFAULT_SEGMENT_SIZE, apply)
    }

    /// [`Wal::open`] with segments cut at `segment_size` bytes.
    pub fn open_with(
        dir: &Path,
        sync: bool,
        segment_size: u64,
        mut apply: impl FnMut(Record),
    ) -> Result<(Wal, ReplayStats), WalError> {
        let io_at = |path: &Path| {
            let path = path.to_owned();
            move |source| WalError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io_at(dir))?;
        // One writer per log: a second server on the same data directory
        // would interleave records.
        let lock_path = dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_at(&lock_path))?;
        lock.try_lock().map_err(|e| WalError::Locked {
            path: dir.to_owned(),
            message: e.to_string(),
        })?;
        let legacy = dir.join(LEGACY_LOG);
        if legacy.exists() {
            let (segments, _) = list(dir).map_err(io_at(dir))?;
            let first = segments.first().map_or(0, |n| n.saturating_sub(1));
            std::fs::rename(&legacy, dir.join(segment_name(first))).map_err(io_at(&legacy))?;
        }
        let (mut segments, checkpoint) = list(dir).map_err(io_at(dir))?;
        let mut stats = ReplayStats::default();
        if let Some(n) = checkpoint {
            let path = dir.join(format!("{CHECKPOINT_PREFIX}{n:08}"));
            let file = File::open(&path).map_err(io_at(&path))?;
            // Checkpoints are written whole and renamed into place.
            read_records(&file, &mut stats, &mut apply).map_err(io_at(&path))?;
            segments.retain(|s| *s > n);
        }
        let mut last = None;
        for (i, &n) in segments.iter().enumerate() {
            let path = dir.join(segment_name(n));
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(io_at(&path))?;
            let len = file.metadata().map_err(io_at(&path))?.len();
            let good = read_records(&file, &mut stats, &mut apply).map_err(io_at(&path))?;
            stats.segments += 1;
            if good < len {
                // A torn or corrupt tail: keep what was whole. Anything after
                // it cannot be applied in order, so later segments go too.
                file.set_len(good).map_err(io_at(&path))?;
                stats.truncated_bytes += len - good;
                for &later in &segments[i + 1..] {
                    let path = dir.join(segment_name(later));
                    stats.truncated_bytes += std::fs::metadata(&path).map_or(0, |m| m.len());
                    std::fs::remove_file(&path).map_err(io_at(&path))?;
                }
                last = Some((n, good));
                break;
            }
            last = Some((n, len));
        }
        let (segment, segment_bytes) = match last {
            Some(last) => last,
            None => (checkpoint.map_or(0, |c| c + 1), 0),
        };
        let path = dir.join(segment_name(segment));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_at(&path))?;
        Ok((
            Wal {
                dir: dir.to_owned(),
                _lock: lock,
                file,
                segment,
                segment_bytes,
                segment_size,
                sync,
                buf: Vec::new(),
                stats: WalStats::default(),
            },
            stats,
        ))
    }

    fn io(&self, source: std::io::Error) -> WalError {
        WalError::Io {
            path: self.dir.join(segment_name(self.segment)),
            source,
        }
    }

    /// Writes `records` as one `write` call; when it returns, they survive
    /// the process being killed (and power loss when `sync` is set).
    pub fn log(&mut self, records: &[Record]) -> Result<(), WalError> {
        self.buf.clear();
        let mut scratch = Vec::new();
        for record in records {
            frame(record, &mut scratch, &mut self.buf);
        }
        if self.segment_bytes > 0 && self.segment_bytes + self.buf.len() as u64 > self.segment_size
        {
            self.cut()?;
        }
        if let Err(e) = self.file.write_all(&self.buf) {
            self.stats.write_failures += 1;
            return Err(self.io(e));
        }
        self.segment_bytes += self.buf.len() as u64;
        self.stats.writes += 1;
        self.stats.bytes_written += self.buf.len() as u64;
        if self.sync {
            let started = std::time::Instant::now();
            self.file.sync_data().map_err(|e| self.io(e))?;
            self.stats.fsyncs += 1;
            self.stats.fsync_seconds += started.elapsed().as_secs_f64();
        }
        Ok(())
    }

    /// Starts a new segment; the current one is closed for good.
    pub fn cut(&mut self) -> Result<(), WalError> {
        if self.segment_bytes == 0 {
            return Ok(());
        }
        self.file.sync_data().map_err(|e| self.io(e))?;
        let next = self.segment + 1;
        let path = self.dir.join(segment_name(next));
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| WalError::Io { path, source })?;
        self.segment = next;
        self.segment_bytes = 0;
        self.stats.segments_created += 1;
        Ok(())
    }

    /// The segment being written.
    pub fn current_segment(&self) -> u64 {
        self.segment
    }

    pub fn stats(&self) -> WalStats {
        self.stats
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes of every file of the log.
    pub fn size(&self) -> u64 {
        dir_size(&self.dir)
    }

    /// Records that a checkpoint attempt failed (for the metrics).
    pub fn checkpoint_failed(&mut self) {
        self.stats.checkpoint_failures += 1;
    }

    /// Records a finished checkpoint (for the metrics).
    pub fn checkpoint_done(&mut self) {
        self.stats.checkpoints_created += 1;
        self.stats.truncations += 1;
    }
}

/// Bytes of the files directly in `dir`.
pub(crate) fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// What a checkpoint keeps of the folded segments.
pub struct CheckpointFilter<'a> {
    /// Whether the head still has the series of these labels. A series
    /// record binds its ref to that series from there on in the log (a ref
    /// may be bound again later, as replay reads it), so the labels decide
    /// and the checkpoint follows the bindings as it reads.
    pub live_series: &'a dyn Fn(&[Label]) -> bool,
    /// Samples older than this were compacted out of the head.
    pub mint: i64,
}

/// Folds the previous checkpoint and every segment up to and including
/// `upto` (which must be closed) into `checkpoint.upto`, keeping only what
/// `filter` says the head still needs, then deletes what it replaced.
/// Reads and writes only closed files, so appends go on meanwhile.
pub fn checkpoint(
    dir: &Path,
    upto: u64,
    filter: &CheckpointFilter<'_>,
) -> Result<CheckpointStats, WalError> {
    let io_at = |path: &Path| {
        let path = path.to_owned();
        move |source| WalError::Io { path, source }
    };
    let (segments, previous) = list(dir).map_err(io_at(dir))?;
    let mut sources: Vec<PathBuf> = Vec::new();
    if let Some(p) = previous {
        if p >= upto {
            return Ok(CheckpointStats::default());
        }
        sources.push(dir.join(format!("{CHECKPOINT_PREFIX}{p:08}")));
    }
    sources.extend(
        segments
            .iter()
            .filter(|s| **s <= upto && previous.is_none_or(|p| **s > p))
            .map(|s| dir.join(segment_name(*s))),
    );
    let final_path = dir.join(format!("{CHECKPOINT_PREFIX}{upto:08}"));
    let tmp = dir.join(format!("{CHECKPOINT_PREFIX}{upto:08}.tmp"));
    let out = File::create(&tmp).map_err(io_at(&tmp))?;
    let mut writer = BufWriter::with_capacity(1 << 20, out);
    let mut stats = CheckpointStats::default();
    let mut scratch = Vec::new();
    let mut framed = Vec::new();
    let mut write_error = None;
    // Whether each ref's series, as bound at this point of the log, is
    // live: one entry per series record read, not a table indexed by ref.
    let mut live: FxHashMap<u32, bool> = FxHashMap::default();
    for source in &sources {
        let file = File::open(source).map_err(io_at(source))?;
        let mut replay = ReplayStats::default();
        read_records(&file, &mut replay, |record| {
            stats.records_in += 1;
            let is_live = |live: &FxHashMap<u32, bool>, r: u32| live.get(&r) == Some(&true);
            let kept = match record {
                Record::Series { r, ref labels } => {
                    let keep = (filter.live_series)(labels);
                    live.insert(r, keep);
                    keep.then_some(record)
                }
                Record::Samples(samples) => {
                    let samples: Vec<_> = samples
                        .into_iter()
                        .filter(|(r, t, _)| *t >= filter.mint && is_live(&live, *r))
                        .collect();
                    (!samples.is_empty()).then_some(Record::Samples(samples))
                }
                Record::Tombstone { r, maxt, .. } => {
                    (is_live(&live, r) && maxt >= filter.mint).then_some(record)
                }
            };
            if let Some(record) = kept {
                stats.records_out += 1;
                framed.clear();
                frame(&record, &mut scratch, &mut framed);
                if let Err(e) = writer.write_all(&framed)
                    && write_error.is_none()
                {
                    write_error = Some(e);
                }
            }
        })
        .map_err(io_at(source))?;
    }
    if let Some(e) = write_error {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_at(&tmp)(e));
    }
    let out = writer
        .into_inner()
        .map_err(|e| io_at(&tmp)(e.into_error()))?;
    out.sync_all().map_err(io_at(&tmp))?;
    drop(out);
    std::fs::rename(&tmp, &final_path).map_err(io_at(&final_path))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    for source in &sources {
        std::fs::remove_file(source).map_err(io_at(source))?;
    }
    stats.bytes = std::fs::metadata(&final_path).map_or(0, |m| m.len());
    Ok(stats)
}

/// What a checkpoint did, for the log line.
#[derive(Debug, Default, Clone, Copy)]
pub struct CheckpointStats {
    pub records_in: u64,
    pub records_out: u64,
    pub bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay(dir: &Path) -> (Vec<Record>, ReplayStats) {
        let mut records = Vec::new();
        let (_, stats) = Wal::open(dir, false, |r| records.push(r)).unwrap();
        (records, stats)
    }

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn records_round_trip_and_torn_tails_are_cut() {
        let dir = temp("wal-test");
        let written = vec![
            Record::Series {
                r: 0,
                labels: vec![Label::new("__name__", "up"), Label::new("job", "x")],
            },
            Record::Samples(vec![
                (0, -5, 1.5),
                (0, 10, f64::from_bits(0x7ff0_0000_0000_0002)),
            ]),
            Record::Tombstone {
                r: 0,
                mint: -5,
                maxt: -5,
            },
        ];
        {
            let (mut wal, stats) = Wal::open(&dir, false, |_| {}).unwrap();
            assert_eq!(stats, ReplayStats::default());
            wal.log(&written).unwrap();
        }
        let (records, stats) = replay(&dir);
        assert_eq!(stats.series, 1);
        assert_eq!(stats.samples, 2);
        // Bit-exact, including the stale-marker NaN.
        let Record::Samples(s) = &records[1] else {
            panic!()
        };
        assert_eq!(s[1].2.to_bits(), 0x7ff0_0000_0000_0002);
        assert_eq!(records[0], written[0]);
        assert_eq!(records[2], written[2]);

        // A torn write at the end: half a record.
        let path = dir.join(segment_name(0));
        let whole = std::fs::metadata(&path).unwrap().len();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 2, 9]).unwrap();
        drop(f);
        let (records, stats) = replay(&dir);
        assert_eq!(records.len(), 3);
        assert_eq!(stats.truncated_bytes, 10);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole);

        // A flipped bit in the last record: it and what follows are dropped.
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let (records, _) = replay(&dir);
        assert_eq!(records.len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sample_records_round_trip_at_the_extremes() {
        let record = Record::Samples(vec![
            (u32::MAX, i64::MAX, f64::NAN),
            (0, i64::MIN, -0.0),
            (7, 0, f64::INFINITY),
        ]);
        let mut payload = Vec::new();
        encode(&record, &mut payload);
        let Some(Record::Samples(back)) = decode(&payload) else {
            panic!("did not decode");
        };
        let Record::Samples(orig) = &record else {
            unreachable!()
        };
        let bits = |s: &[(u32, i64, f64)]| -> Vec<(u32, i64, u64)> {
            s.iter().map(|(r, t, v)| (*r, *t, v.to_bits())).collect()
        };
        assert_eq!(bits(&back), bits(orig));
        // Every truncation is rejected, never a panic.
        for cut in 0..payload.len() {
            assert_eq!(decode(&payload[..cut]), None, "cut at {cut}");
        }
        assert_eq!(decode(&[SAMPLES_DELTA, 0]), Some(Record::Samples(vec![])));
    }

    #[test]
    fn a_log_has_one_writer() {
        let dir = temp("wal-lock");
        let (first, _) = Wal::open(&dir, false, |_| {}).unwrap();
        let Err(err) = Wal::open(&dir, false, |_| {}) else {
            panic!("a second writer was let in");
        };
        assert!(
            err.to_string().contains("in use by another process"),
            "{err}"
        );
        drop(first);
        Wal::open(&dir, false, |_| {}).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn series_labels(r: u32) -> Vec<Label> {
        vec![Label::new("__name__", format!("m{r}"))]
    }

    fn series(r: u32) -> Record {
        Record::Series {
            r,
            labels: series_labels(r),
        }
    }

    #[test]
    fn segments_are_cut_and_checkpoints_keep_what_the_head_needs() {
        let dir = temp("wal-checkpoint");
        {
            // Tiny segments: every batch gets its own.
            let (mut wal, _) = Wal::open_with(&dir, false, 64, |_| {}).unwrap();
            wal.log(&[series(0), series(1)]).unwrap();
            for t in 0..10 {
                wal.log(&[Record::Samples(vec![(0, t, t as f64), (1, t, -(t as f64))])])
                    .unwrap();
            }
            assert!(wal.current_segment() >= 5, "{}", wal.current_segment());
            wal.cut().unwrap();
            let upto = wal.current_segment() - 1;
            // Series 1 is gone from the head; samples before 6 were compacted.
            let stats = checkpoint(
                &dir,
                upto,
                &CheckpointFilter {
                    live_series: &|labels| labels == series_labels(0),
                    mint: 6,
                },
            )
            .unwrap();
            assert!(stats.records_out < stats.records_in);
            wal.log(&[Record::Samples(vec![(0, 10, 10.0)])]).unwrap();
        }
        let (records, stats) = replay(&dir);
        let samples: Vec<(u32, i64, f64)> = records
            .iter()
            .filter_map(|r| match r {
                Record::Samples(s) => Some(s.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(
            samples,
            (6..=10).map(|t| (0, t, t as f64)).collect::<Vec<_>>()
        );
        assert_eq!(records[0], series(0));
        assert_eq!(stats.series, 1);
        let (segments, checkpoint) = list(&dir).unwrap();
        assert!(checkpoint.is_some());
        assert!(segments.iter().all(|s| Some(*s) > checkpoint));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_log_from_before_segments_is_replayed() {
        let dir = temp("wal-legacy");
        std::fs::create_dir_all(&dir).unwrap();
        let mut bytes = Vec::new();
        frame(&series(0), &mut Vec::new(), &mut bytes);
        std::fs::write(dir.join(LEGACY_LOG), &bytes).unwrap();
        let (records, _) = replay(&dir);
        assert_eq!(records, vec![series(0)]);
        assert!(!dir.join(LEGACY_LOG).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
