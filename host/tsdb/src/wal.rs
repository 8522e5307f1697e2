//! The write-ahead log: every committed batch is written here before it is
//! applied to the head, and replayed into a new head at start-up.
//!
//! A record is `len: u32 LE | crc32(payload): u32 LE | payload`, where the
//! payload starts with a type byte. A torn record at the end (a crash in
//! the middle of a write) fails its length or checksum; replay stops there
//! and the log is truncated to the last whole record. Acknowledged batches
//! were fully written with `write(2)` before the acknowledgement, so they
//! survive the process being killed; `sync` also survives power loss.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use wasmetheus_model::Label;

const SERIES: u8 = 1;
const SAMPLES: u8 = 2;
/// A record larger than this is corruption, not data.
const MAX_RECORD: usize = 64 << 20;

/// What the log holds, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A new series and the ref its samples use.
    Series { r: u32, labels: Vec<Label> },
    /// Samples of known series.
    Samples(Vec<(u32, i64, f64)>),
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

/// The log file, open for appending.
pub struct Wal {
    path: PathBuf,
    file: File,
    sync: bool,
    buf: Vec<u8>,
}

/// Counts of a replay, for the start-up log line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReplayStats {
    pub records: u64,
    pub series: u64,
    pub samples: u64,
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
            out.push(SAMPLES);
            out.extend_from_slice(&(samples.len() as u32).to_le_bytes());
            for (r, t, v) in samples {
                out.extend_from_slice(&r.to_le_bytes());
                out.extend_from_slice(&t.to_le_bytes());
                out.extend_from_slice(&v.to_bits().to_le_bytes());
            }
        }
    }
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
    fn string(&mut self) -> Option<String> {
        let len = self.u32()? as usize;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }
}

fn decode(payload: &[u8]) -> Option<Record> {
    let mut c = Cursor(payload);
    let kind = c.take(1)?[0];
    let record = match kind {
        SERIES => {
            let r = c.u32()?;
            let n = c.u32()? as usize;
            let mut labels = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                labels.push(Label::new(c.string()?, c.string()?));
            }
            Record::Series { r, labels }
        }
        SAMPLES => {
            let n = c.u32()? as usize;
            let mut samples = Vec::with_capacity(n.min(1 << 20));
            for _ in 0..n {
                samples.push((c.u32()?, c.u64()? as i64, f64::from_bits(c.u64()?)));
            }
            Record::Samples(samples)
        }
        _ => return None,
    };
    c.0.is_empty().then_some(record)
}

impl Wal {
    /// Opens (creating) the log in `dir`, hands every whole record to
    /// `apply` in order, truncates a torn tail, and returns the log ready
    /// for appending.
    pub fn open(
        dir: &Path,
        sync: bool,
        mut apply: impl FnMut(Record),
    ) -> Result<(Wal, ReplayStats), WalError> {
        let path = dir.join("wal.log");
        let io = |source| WalError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        // One writer per log: a second server on the same data directory
        // would interleave records.
        file.try_lock().map_err(|e| WalError::Locked {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let len = file.metadata().map_err(io)?.len();
        let mut reader = BufReader::with_capacity(1 << 20, &file);
        let mut stats = ReplayStats::default();
        let mut good = 0u64;
        let mut payload = Vec::new();
        loop {
            let mut header = [0u8; 8];
            if reader.read_exact(&mut header).is_err() {
                break;
            }
            let size = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
            let crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
            if size > MAX_RECORD {
                break;
            }
            payload.resize(size, 0);
            if reader.read_exact(&mut payload).is_err() || crc32fast::hash(&payload) != crc {
                break;
            }
            let Some(record) = decode(&payload) else {
                break;
            };
            stats.records += 1;
            match &record {
                Record::Series { .. } => stats.series += 1,
                Record::Samples(s) => stats.samples += s.len() as u64,
            }
            apply(record);
            good += 8 + size as u64;
        }
        drop(reader);
        if good < len {
            // A torn or corrupt tail: keep what was whole.
            file.set_len(good).map_err(io)?;
            stats.truncated_bytes = len - good;
        }
        Ok((
            Wal {
                path,
                file,
                sync,
                buf: Vec::new(),
            },
            stats,
        ))
    }

    /// Writes `records` as one `write` call; when it returns, they survive
    /// the process being killed (and power loss when `sync` is set).
    pub fn log(&mut self, records: &[Record]) -> Result<(), WalError> {
        self.buf.clear();
        let mut payload = Vec::new();
        for record in records {
            payload.clear();
            encode(record, &mut payload);
            self.buf
                .extend_from_slice(&(payload.len() as u32).to_le_bytes());
            self.buf
                .extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
            self.buf.extend_from_slice(&payload);
        }
        let io = |source| WalError::Io {
            path: self.path.clone(),
            source,
        };
        self.file.write_all(&self.buf).map_err(io)?;
        if self.sync {
            self.file.sync_data().map_err(io)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay(dir: &Path) -> (Vec<Record>, ReplayStats) {
        let mut records = Vec::new();
        let (_, stats) = Wal::open(dir, false, |r| records.push(r)).unwrap();
        (records, stats)
    }

    #[test]
    fn records_round_trip_and_torn_tails_are_cut() {
        let dir = std::env::temp_dir().join(format!("wal-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let written = vec![
            Record::Series {
                r: 0,
                labels: vec![Label::new("__name__", "up"), Label::new("job", "x")],
            },
            Record::Samples(vec![
                (0, -5, 1.5),
                (0, 10, f64::from_bits(0x7ff0_0000_0000_0002)),
            ]),
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

        // A torn write at the end: half a record.
        let path = dir.join("wal.log");
        let whole = std::fs::metadata(&path).unwrap().len();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 2, 9]).unwrap();
        drop(f);
        let (records, stats) = replay(&dir);
        assert_eq!(records.len(), 2);
        assert_eq!(stats.truncated_bytes, 10);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole);

        // A flipped bit in the last record: it and what follows are dropped.
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let (records, _) = replay(&dir);
        assert_eq!(records.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_log_has_one_writer() {
        let dir = std::env::temp_dir().join(format!("wal-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
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
}
