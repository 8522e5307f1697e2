//! Reading the write-ahead log while it is written, for consumers that
//! follow it (the remote write queues), without touching the writer: a
//! [`WalTail`] reads whole records from a [`WalPosition`] on, follows the
//! newest segment as it grows, moves to the next segment when one
//! appears, and says when the segment it was at was deleted by a
//! checkpoint ([`TailRead::Gone`]) so the caller can re-read the series
//! from [`read_checkpoint`] and go on from the first segment after it.
//!
//! A record is whole once its length, checksum and payload are all there:
//! the writer appends a batch with one `write`, so a partial record at the
//! end of the newest segment is one being written, read again on the next
//! call. A partial or corrupt record followed by a later segment is a torn
//! tail (a crash): the rest of that segment is skipped.
//!
//! Values are coded against what their segment holds before them
//! (`wal_codec.rs`), so a tail that starts in the middle of a segment
//! first reads that segment's records up to its position.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::wal::{
    CHECKPOINT_PREFIX, Decoder, MAX_RECORD, Record, ReplayStats, WalError, list, read_records,
    segment_name,
};

/// A point in the log: a segment and a byte offset in it (just after a
/// whole record, or 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct WalPosition {
    pub segment: u64,
    pub offset: u64,
}

impl std::fmt::Display for WalPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", segment_name(self.segment), self.offset)
    }
}

/// What one [`WalTail::read`] found.
#[derive(Debug)]
pub enum TailRead {
    /// Whole records, each with the position just after it; empty when
    /// nothing new was written yet.
    Records(Vec<(Record, WalPosition)>),
    /// The segment the tail was at is gone (folded into checkpoint
    /// `checkpoint`); the tail now stands at the start of `next`. Records
    /// between were lost to this reader; the caller re-reads the series
    /// bindings with [`read_checkpoint`].
    Gone { checkpoint: Option<u64>, next: u64 },
}

/// A reader following the log from a position.
#[derive(Debug)]
pub struct WalTail {
    dir: PathBuf,
    position: WalPosition,
    file: Option<File>,
    /// What the open segment held up to the position.
    decoder: Decoder,
    /// Whether the decoder knows all that precedes the position (reading
    /// from the segment's start reached it exactly).
    aligned: bool,
    /// Records whose checksum or decoding failed, or torn tails skipped.
    corrupt: u64,
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> WalError + '_ {
    move |source| WalError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Reads exactly `buf.len()` bytes at `offset`, or fewer when the file
/// ends first; returns how many were read.
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Why a record could not be read at a position.
enum Partial {
    /// Not all of it is there (yet).
    Short,
    /// Its length, checksum or payload is invalid.
    Corrupt,
}

impl WalTail {
    /// A reader at `position` of the log in `dir`.
    pub fn new(dir: &Path, position: WalPosition) -> WalTail {
        WalTail {
            dir: dir.to_owned(),
            position,
            file: None,
            decoder: Decoder::default(),
            aligned: true,
            corrupt: 0,
        }
    }

    /// The position after the last record read.
    pub fn position(&self) -> WalPosition {
        self.position
    }

    /// Torn tails and corrupt records skipped so far.
    pub fn corrupt(&self) -> u64 {
        self.corrupt
    }

    /// The payload of the whole record at `offset` and the offset after it.
    fn payload_at(file: &File, offset: u64) -> std::io::Result<Result<(Vec<u8>, u64), Partial>> {
        let mut header = [0u8; 8];
        if read_at(file, &mut header, offset)? < 8 {
            return Ok(Err(Partial::Short));
        }
        let size = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
        if size > MAX_RECORD {
            return Ok(Err(Partial::Corrupt));
        }
        let len = file.metadata()?.len();
        if offset + 8 + size as u64 > len {
            return Ok(Err(Partial::Short));
        }
        let mut payload = vec![0u8; size];
        if read_at(file, &mut payload, offset + 8)? < size {
            return Ok(Err(Partial::Short));
        }
        if crc32fast::hash(&payload) != crc {
            return Ok(Err(Partial::Corrupt));
        }
        Ok(Ok((payload, offset + 8 + size as u64)))
    }

    /// The record at `offset`, decoded against what precedes it.
    fn record_at(
        file: &File,
        decoder: &mut Decoder,
        offset: u64,
    ) -> std::io::Result<Result<(Record, u64), Partial>> {
        Ok(match Self::payload_at(file, offset)? {
            Ok((payload, end)) => match decoder.decode(&payload) {
                Some(record) => Ok((record, end)),
                None => Err(Partial::Corrupt),
            },
            Err(partial) => Err(partial),
        })
    }

    /// Opens the segment at the position, reading what it holds before
    /// the position into the decoder.
    fn open_segment(&mut self, file: File) -> std::io::Result<()> {
        self.decoder = Decoder::default();
        let mut offset = 0;
        while offset < self.position.offset {
            match Self::record_at(&file, &mut self.decoder, offset)? {
                Ok((_, end)) => offset = end,
                Err(_) => break,
            }
        }
        // Not a record boundary, or a corrupt record before it: what is at
        // the position cannot be decoded, and counts as corrupt.
        self.aligned = offset == self.position.offset;
        self.file = Some(file);
        Ok(())
    }

    /// The first segment after `segment`, if one exists.
    fn later_segment(&self, segment: u64) -> Result<Option<u64>, WalError> {
        let (segments, _) = list(&self.dir).map_err(io_at(&self.dir))?;
        Ok(segments.into_iter().find(|s| *s > segment))
    }

    /// Reads up to `max` whole records from the position on. Never
    /// blocks on the writer; an empty answer means nothing new yet.
    pub fn read(&mut self, max: usize) -> Result<TailRead, WalError> {
        let mut out = Vec::new();
        while out.len() < max {
            if self.file.is_none() {
                let path = self.dir.join(segment_name(self.position.segment));
                match File::open(&path) {
                    Ok(file) => self.open_segment(file).map_err(io_at(&path))?,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        if !out.is_empty() {
                            // Hand over what was read first.
                            break;
                        }
                        let (segments, checkpoint) = list(&self.dir).map_err(io_at(&self.dir))?;
                        let Some(&next) = segments.iter().find(|s| **s > self.position.segment)
                        else {
                            // Not created yet: nothing new.
                            break;
                        };
                        self.position = WalPosition {
                            segment: next,
                            offset: 0,
                        };
                        return Ok(TailRead::Gone { checkpoint, next });
                    }
                    Err(e) => return Err(io_at(&path)(e)),
                }
            }
            let file = self.file.as_ref().expect("opened above");
            let path = || self.dir.join(segment_name(self.position.segment));
            let at = if self.aligned {
                Self::record_at(file, &mut self.decoder, self.position.offset)
                    .map_err(|e| io_at(&path())(e))?
            } else {
                Err(Partial::Corrupt)
            };
            match at {
                Ok((record, end)) => {
                    self.position.offset = end;
                    out.push((record, self.position));
                }
                Err(partial) => {
                    // The writer starts a segment only after the previous
                    // one's last write: with a later segment there, this
                    // one is finished.
                    let Some(next) = self.later_segment(self.position.segment)? else {
                        break;
                    };
                    // Read again now that the later segment is known to
                    // exist: the last record may have completed meanwhile.
                    if matches!(partial, Partial::Short)
                        && let Ok(Ok(_)) = Self::payload_at(file, self.position.offset)
                    {
                        continue;
                    }
                    let len = file.metadata().map_or(0, |m| m.len());
                    if len > self.position.offset || matches!(partial, Partial::Corrupt) {
                        self.corrupt += 1;
                        tracing::warn!(
                            segment = %path().display(),
                            offset = self.position.offset,
                            "skipping a torn or corrupt end of a WAL segment"
                        );
                    }
                    self.file = None;
                    // The next segment by number: when a checkpoint
                    // deleted it meanwhile, opening it reports that.
                    self.position = WalPosition {
                        segment: next.min(self.position.segment + 1),
                        offset: 0,
                    };
                }
            }
        }
        Ok(TailRead::Records(out))
    }
}

/// The position after the last whole record of the log in `dir` (the
/// start of the segment after the checkpoint when there is no segment).
pub fn wal_end(dir: &Path) -> Result<WalPosition, WalError> {
    let (segments, checkpoint) = list(dir).map_err(io_at(dir))?;
    let Some(&last) = segments.last() else {
        return Ok(WalPosition {
            segment: checkpoint.map_or(0, |c| c + 1),
            offset: 0,
        });
    };
    let mut tail = WalTail::new(dir, WalPosition::default());
    // Whole records only: a torn tail is not an end to resume from.
    tail.position = WalPosition {
        segment: last,
        offset: 0,
    };
    loop {
        match tail.read(4096)? {
            TailRead::Records(records) if records.is_empty() => break,
            TailRead::Records(_) => {}
            TailRead::Gone { .. } => {}
        }
    }
    Ok(tail.position())
}

/// The first segment of the log in `dir` and its newest checkpoint.
pub fn wal_start(dir: &Path) -> Result<(WalPosition, Option<u64>), WalError> {
    let (segments, checkpoint) = list(dir).map_err(io_at(dir))?;
    let first = segments
        .into_iter()
        .find(|s| checkpoint.is_none_or(|c| *s > c))
        .unwrap_or(checkpoint.map_or(0, |c| c + 1));
    Ok((
        WalPosition {
            segment: first,
            offset: 0,
        },
        checkpoint,
    ))
}

/// Hands every record of the newest checkpoint in `dir` to `apply`, and
/// returns its number (`None`: there is none). A checkpoint replaced while
/// it is read is read again from the new one.
pub fn read_checkpoint(dir: &Path, mut apply: impl FnMut(Record)) -> Result<Option<u64>, WalError> {
    for _ in 0..3 {
        let (_, checkpoint) = list(dir).map_err(io_at(dir))?;
        let Some(n) = checkpoint else {
            return Ok(None);
        };
        let path = dir.join(format!("{CHECKPOINT_PREFIX}{n:08}"));
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_at(&path)(e)),
        };
        let mut stats = ReplayStats::default();
        read_records(&file, &mut stats, &mut apply).map_err(io_at(&path))?;
        return Ok(Some(n));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::{CheckpointFilter, Wal, checkpoint};
    use std::io::Write;
    use wasmetheus_model::Label;

    fn series(r: u32) -> Record {
        Record::Series {
            r,
            labels: vec![Label::new("__name__", format!("m{r}"))],
        }
    }

    fn samples(tail: &mut WalTail) -> Vec<(u32, i64)> {
        let mut out = Vec::new();
        loop {
            match tail.read(100).unwrap() {
                TailRead::Records(records) if records.is_empty() => return out,
                TailRead::Records(records) => {
                    for (record, _) in records {
                        if let Record::Samples(s) = record {
                            out.extend(s.iter().map(|(r, t, _)| (*r, *t)));
                        }
                    }
                }
                TailRead::Gone { .. } => out.push((u32::MAX, -1)),
            }
        }
    }

    #[test]
    fn follows_a_growing_log_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open_with(dir.path(), false, 64, |_| {}).unwrap();
        let mut tail = WalTail::new(dir.path(), WalPosition::default());
        assert!(samples(&mut tail).is_empty());
        wal.log(&[series(0), Record::Samples(vec![(0, 1, 1.0)])])
            .unwrap();
        assert_eq!(samples(&mut tail), [(0, 1)]);
        for t in 2..8 {
            wal.log(&[Record::Samples(vec![(0, t, 1.0)])]).unwrap();
        }
        assert!(wal.current_segment() > 1);
        assert_eq!(
            samples(&mut tail),
            (2..8).map(|t| (0, t)).collect::<Vec<_>>()
        );
        assert_eq!(tail.position(), wal_end(dir.path()).unwrap());
        // A half-written record at the end of the newest segment is not
        // read until it is whole.
        let path = dir.path().join(segment_name(wal.current_segment()));
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&[40, 0, 0, 0, 1]).unwrap();
        assert!(samples(&mut tail).is_empty());
        assert_eq!(tail.corrupt(), 0);
        // Once a later segment exists, that torn tail is skipped.
        drop(wal);
        let (mut wal, _) = Wal::open_with(dir.path(), false, 64, |_| {}).unwrap();
        wal.cut().unwrap();
        wal.log(&[Record::Samples(vec![(0, 9, 1.0)])]).unwrap();
        assert_eq!(samples(&mut tail), [(0, 9)]);
    }

    #[test]
    fn a_torn_segment_followed_by_another_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut wal, _) = Wal::open_with(dir.path(), false, 1 << 20, |_| {}).unwrap();
            wal.log(&[series(0), Record::Samples(vec![(0, 1, 1.0)])])
                .unwrap();
        }
        // Garbage after the whole records of segment 0, then segment 1.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(segment_name(0)))
            .unwrap();
        f.write_all(&[8, 0, 0, 0, 9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8])
            .unwrap();
        let mut bytes = Vec::new();
        crate::wal::Encoder::new(crate::wal::WalCompression::default())
            .frame(&Record::Samples(vec![(0, 2, 2.0)]), &mut bytes);
        std::fs::write(dir.path().join(segment_name(1)), &bytes).unwrap();
        let mut tail = WalTail::new(dir.path(), WalPosition::default());
        assert_eq!(samples(&mut tail), [(0, 1), (0, 2)]);
        assert_eq!(tail.corrupt(), 1);
    }

    /// A position that is not a record boundary is never decoded from:
    /// values there are coded against records the tail did not read.
    #[test]
    fn a_position_off_a_record_boundary_is_skipped_as_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open_with(dir.path(), false, 1 << 20, |_| {}).unwrap();
        wal.log(&[series(0)]).unwrap();
        for t in 0..5 {
            wal.log(&[Record::Samples(vec![(0, t, t as f64)])]).unwrap();
        }
        let mut tail = WalTail::new(dir.path(), WalPosition::default());
        let TailRead::Records(records) = tail.read(2).unwrap() else {
            panic!("records expected");
        };
        let boundary = records[1].1;
        let mut off = WalTail::new(
            dir.path(),
            WalPosition {
                segment: 0,
                offset: boundary.offset + 1,
            },
        );
        assert!(samples(&mut off).is_empty());
        wal.cut().unwrap();
        wal.log(&[Record::Samples(vec![(0, 9, 9.0)])]).unwrap();
        assert_eq!(samples(&mut off), [(0, 9)]);
        assert_eq!(off.corrupt(), 1);
        // From the boundary itself, the rest of segment 0 decodes.
        let mut on = WalTail::new(dir.path(), boundary);
        assert_eq!(samples(&mut on), [(0, 1), (0, 2), (0, 3), (0, 4), (0, 9)]);
    }

    #[test]
    fn a_segment_deleted_by_a_checkpoint_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open_with(dir.path(), false, 64, |_| {}).unwrap();
        wal.log(&[series(0), series(1)]).unwrap();
        let mut tail = WalTail::new(dir.path(), WalPosition::default());
        assert!(samples(&mut tail).is_empty());
        let behind = tail.position();
        // A tail in the middle of segment 0, its file open.
        let mut reading = WalTail::new(dir.path(), WalPosition::default());
        let TailRead::Records(first) = reading.read(1).unwrap() else {
            panic!("records expected");
        };
        assert_eq!(first.len(), 1);
        for t in 0..10 {
            wal.log(&[Record::Samples(vec![(0, t, 1.0), (1, t, 2.0)])])
                .unwrap();
        }
        wal.cut().unwrap();
        let upto = wal.current_segment() - 1;
        checkpoint(
            dir.path(),
            upto,
            &CheckpointFilter {
                live_series: &|_| true,
                mint: 5,
            },
        )
        .unwrap();
        wal.log(&[Record::Samples(vec![(0, 20, 1.0)])]).unwrap();
        // It reads the rest of its (deleted) segment, then reports the gap
        // rather than skipping the deleted segments silently.
        let TailRead::Records(rest) = reading.read(100).unwrap() else {
            panic!("the rest of segment 0 expected");
        };
        assert_eq!(
            rest.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>(),
            [series(1)]
        );
        assert!(matches!(
            reading.read(100).unwrap(),
            TailRead::Gone { next, .. } if next == upto + 1
        ));
        let mut tail = WalTail::new(dir.path(), behind);
        match tail.read(10).unwrap() {
            TailRead::Gone { checkpoint, next } => {
                assert_eq!(checkpoint, Some(upto));
                assert_eq!(next, upto + 1);
            }
            other => panic!("{other:?}"),
        }
        let mut series_seen = 0;
        assert_eq!(
            read_checkpoint(dir.path(), |r| {
                if matches!(r, Record::Series { .. }) {
                    series_seen += 1;
                }
            })
            .unwrap(),
            Some(upto)
        );
        assert_eq!(series_seen, 2);
        assert_eq!(samples(&mut tail), [(0, 20)]);
        assert_eq!(
            wal_start(dir.path()).unwrap(),
            (
                WalPosition {
                    segment: upto + 1,
                    offset: 0
                },
                Some(upto)
            )
        );
    }
}
