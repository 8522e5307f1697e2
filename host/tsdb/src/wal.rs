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
//! payload starts with a kind byte (`wal_codec.rs`: columnar samples coded
//! against each series' previous value in the same file, compressed with
//! snappy or zstd). Every file decodes from its own start: the writer
//! opens a new segment at start-up rather than appending to the last one.
//! A torn record at the end (a crash in
//! the middle of a write) fails its length or checksum; replay stops there
//! and the segment is truncated to the last whole record. Acknowledged
//! batches were fully written with `write(2)` before the acknowledgement,
//! so they survive the process being killed; `sync` also survives power
//! loss.

pub(crate) use crate::wal_codec::{Decoder, Encoder, MAX_RECORD};
pub use crate::wal_codec::{Record, WalCompression};
use rustc_hash::FxHashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use wasmetheus_model::Label;

/// The most samples one record holds: a million samples take at most
/// 26 MB, well within [`MAX_RECORD`].
const MAX_SAMPLES_PER_RECORD: usize = 1 << 20;
/// Segments are cut at this size (Prometheus uses 128 MiB).
pub const DEFAULT_SEGMENT_SIZE: u64 = 128 << 20;
/// The name of a log written before segments existed; replayed as segment 0.
const LEGACY_LOG: &str = "wal.log";
pub(crate) const CHECKPOINT_PREFIX: &str = "checkpoint.";

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
    /// Codes records against what this segment already holds.
    encoder: Encoder,
    /// A write failed: what the encoder assumed written may not be, so the
    /// next write starts a new segment.
    must_cut: bool,
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

/// Reads the whole records of `file`, handing each to `apply`; returns the
/// length of the whole-record prefix.
pub(crate) fn read_records(
    file: &File,
    stats: &mut ReplayStats,
    mut apply: impl FnMut(Record),
) -> std::io::Result<u64> {
    // Reading, checksumming and decoding run on a thread of their own,
    // applying on this one: replay uses two cores. Batches keep the
    // channel's cost per record small; a batch ends at 64 records or 64 Ki
    // decoded samples and at most 4 wait, so what is decoded ahead of the
    // applying is bounded by samples, however few bytes they took on disk.
    const BATCH: usize = 64;
    const BATCH_SAMPLES: usize = 1 << 16;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Record>>(4);
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            // A length beyond what the file holds is a torn record: found
            // before a buffer of that length is allocated.
            let file_len = file.metadata().map_or(u64::MAX, |m| m.len());
            let mut reader = BufReader::with_capacity(1 << 20, file);
            let mut good = 0u64;
            let mut payload = Vec::new();
            let mut decoder = Decoder::default();
            let mut batch = Vec::with_capacity(BATCH);
            let mut batch_samples = 0usize;
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
                let Some(record) = decoder.decode(&payload) else {
                    break;
                };
                if let Record::Samples(samples) = &record {
                    batch_samples += samples.len();
                }
                batch.push(record);
                good += 8 + size as u64;
                if batch.len() == BATCH || batch_samples >= BATCH_SAMPLES {
                    batch_samples = 0;
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    if tx.send(full).is_err() {
                        break;
                    }
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
        // Records are coded against what their segment holds before them:
        // a non-empty last segment is left as it is and a new one started.
        let (segment, segment_bytes) = match last {
            Some((n, 0)) => (n, 0),
            Some((n, _)) => (n + 1, 0),
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
                encoder: Encoder::new(WalCompression::default()),
                must_cut: false,
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
        if self.must_cut {
            self.recover()?;
        }
        // From here the encoder assumes these records written: any
        // failure leaves the segment for a new one.
        let result = self.write(records);
        if result.is_err() {
            self.must_cut = true;
        }
        result
    }

    fn write(&mut self, records: &[Record]) -> Result<(), WalError> {
        self.encode(records);
        if self.segment_bytes > 0 && self.segment_bytes + self.buf.len() as u64 > self.segment_size
        {
            // Coded again for the new segment, which starts from nothing.
            self.next_segment()?;
            self.encode(records);
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

    /// After a failed write: whatever part of it reached the file goes, so
    /// replay reads this segment to its end, and writing goes on in a new
    /// segment (a new number even when this one is empty: a reader may
    /// have read records of the failed write from it).
    fn recover(&mut self) -> Result<(), WalError> {
        self.file
            .set_len(self.segment_bytes)
            .map_err(|e| self.io(e))?;
        self.next_segment()?;
        self.must_cut = false;
        Ok(())
    }

    /// Starts a new segment; the current one is closed for good.
    pub fn cut(&mut self) -> Result<(), WalError> {
        if self.must_cut {
            return self.recover();
        }
        if self.segment_bytes == 0 {
            return Ok(());
        }
        self.next_segment()
    }

    fn next_segment(&mut self) -> Result<(), WalError> {
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
        self.encoder.reset();
        self.stats.segments_created += 1;
        Ok(())
    }

    fn encode(&mut self, records: &[Record]) {
        self.buf.clear();
        for record in records {
            match record {
                // No record may be larger than replay accepts: a huge
                // commit is split (coded raw, a sample is at most 26 bytes).
                Record::Samples(samples) if samples.len() > MAX_SAMPLES_PER_RECORD => {
                    for part in samples.chunks(MAX_SAMPLES_PER_RECORD) {
                        self.encoder
                            .frame(&Record::Samples(part.to_vec()), &mut self.buf);
                    }
                }
                _ => self.encoder.frame(record, &mut self.buf),
            }
        }
    }

    /// How records are compressed.
    pub fn compression(&self) -> WalCompression {
        self.encoder.compression()
    }

    /// How records written from now on are compressed.
    pub fn set_compression(&mut self, compression: WalCompression) {
        // What this segment holds is still what records are coded against.
        self.encoder.set_compression(compression);
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

impl Drop for Wal {
    /// A closed log is on disk, as Prometheus' is: a power cut right after
    /// a clean stop loses nothing either.
    fn drop(&mut self) {
        if self.segment_bytes > 0 {
            let _ = self.file.sync_data();
        }
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
    checkpoint_with(dir, upto, filter, WalCompression::default())
}

/// [`checkpoint`] writing with `compression`.
pub fn checkpoint_with(
    dir: &Path,
    upto: u64,
    filter: &CheckpointFilter<'_>,
    compression: WalCompression,
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
    let mut encoder = Encoder::new(compression);
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
                encoder.frame(&record, &mut framed);
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
            let (mut wal, _) = Wal::open_with(&dir, false, 16, |_| {}).unwrap();
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

    fn samples_of(records: &[Record]) -> Vec<(u32, i64, u64)> {
        records
            .iter()
            .filter_map(|r| match r {
                Record::Samples(s) => Some(s.iter().map(|(r, t, v)| (*r, *t, v.to_bits()))),
                _ => None,
            })
            .flatten()
            .collect()
    }

    #[test]
    fn compression_can_change_and_readers_resume_mid_segment() {
        let dir = temp("wal-compression");
        let batch = |t: i64| {
            Record::Samples(
                (0..50u32)
                    .map(|r| {
                        (
                            r,
                            t,
                            if r % 3 == 0 {
                                t as f64 * 0.1
                            } else {
                                (t * i64::from(r)) as f64
                            },
                        )
                    })
                    .collect(),
            )
        };
        let mut written = vec![series(0)];
        {
            let (mut wal, _) = Wal::open(&dir, false, |_| {}).unwrap();
            wal.log(&written).unwrap();
            for (t, compression) in [
                WalCompression::Zstd,
                WalCompression::Snappy,
                WalCompression::None,
                WalCompression::Zstd,
            ]
            .into_iter()
            .enumerate()
            {
                wal.set_compression(compression);
                for k in 0..3 {
                    let b = batch(t as i64 * 10 + k);
                    wal.log(std::slice::from_ref(&b)).unwrap();
                    written.push(b);
                }
            }
        }
        let (records, _) = replay(&dir);
        assert_eq!(samples_of(&records), samples_of(&written));
        // A reader resuming in the middle of the segment decodes what
        // follows against what precedes it.
        let mut tail = crate::wal_reader::WalTail::new(&dir, Default::default());
        let crate::wal_reader::TailRead::Records(first) = tail.read(5).unwrap() else {
            panic!("records expected");
        };
        let resume = first.last().unwrap().1;
        let mut resumed = crate::wal_reader::WalTail::new(&dir, resume);
        let crate::wal_reader::TailRead::Records(rest) = resumed.read(100).unwrap() else {
            panic!("records expected");
        };
        let rest: Vec<Record> = rest.into_iter().map(|(r, _)| r).collect();
        assert_eq!(samples_of(&rest), samples_of(&written[5..]));
        // The writer opens a new segment rather than appending to one whose
        // state it would have to rebuild.
        let (wal, _) = Wal::open(&dir, false, |_| {}).unwrap();
        assert_eq!(wal.current_segment(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_log_from_before_segments_is_replayed() {
        let dir = temp("wal-legacy");
        std::fs::create_dir_all(&dir).unwrap();
        let mut bytes = Vec::new();
        Encoder::new(WalCompression::default()).frame(&series(0), &mut bytes);
        std::fs::write(dir.join(LEGACY_LOG), &bytes).unwrap();
        let (records, _) = replay(&dir);
        assert_eq!(records, vec![series(0)]);
        assert!(!dir.join(LEGACY_LOG).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
