//! Full head chunks out of the heap, as Prometheus' memory-mapped head
//! chunks: a series that completes a chunk appends its bytes to a
//! segment file under `<data dir>/chunks_head/` and keeps an 8-byte
//! [`ChunkRef`] (segment, offset, length); reads `pread` them back. A
//! sealed chunk that will still be re-sealed with more samples (a
//! *partial* chunk, at most one a series) is not written: it stays in
//! memory as an exact-size boxed slice in a slot table here, its
//! [`ChunkRef`] naming the slot, so nothing written is garbage until the
//! head drops the chunk.
//!
//! The files are a cache, not a log: the write-ahead log stays the source
//! of truth, nothing is synced, and the first chunk written empties the
//! directory of whatever a previous run left (replay rebuilds the chunks).
//! Not before: a head opened on a log another process holds fails without
//! touching that process' chunks. A segment is written through a
//! buffer ([`FLUSH_BYTES`]) that reads also serve, and is deleted as soon
//! as no chunk refers to it: head truncation drops old chunks, so old
//! segments die as the head moves on. On disk: the sealed bytes of the
//! head's range, each chunk written once, ~130 bytes a series every 120
//! samples at 1 s scrapes (100,000 series over 3 hours: ~1.1 GB).
//!
//! A write that fails (disk full, I/O error) loses nothing: the segment
//! keeps its unwritten bytes in memory for as long as chunks refer to
//! them, later chunks go to a new segment (in memory if its file cannot
//! be created either), the first failure is logged and all are counted.
//! A head without a directory keeps every segment in memory, in blocks of
//! [`MEMORY_SEGMENT_BYTES`].

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const SEGMENT_BITS: u32 = 19;
const OFFSET_BITS: u32 = 27;
const LEN_BITS: u32 = 17;
/// Largest segment file: offsets take [`OFFSET_BITS`].
pub(super) const SEGMENT_BYTES: u32 = 1 << OFFSET_BITS;
/// Largest segment kept in memory.
const MEMORY_SEGMENT_BYTES: u32 = 1 << 20;
/// Bytes buffered before they are written to the segment file.
const FLUSH_BYTES: usize = 64 << 10;
/// How long new segments stay in memory after a write to the files failed.
const FILE_RETRY: std::time::Duration = std::time::Duration::from_secs(60);
/// Longest chunk: [`TARGET_SAMPLES`](crate::chunk::TARGET_SAMPLES) sealed
/// samples take at most ~20 bytes each, far below.
const MAX_CHUNK_BYTES: usize = (1 << LEN_BITS) - 1;

/// Where a full chunk's bytes are, in 64 bits: segment, offset and
/// length in the files, or, for a partial chunk, its slot in memory and
/// its length (the lowest bit tells which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ChunkRef(u64);

impl ChunkRef {
    fn new(segment: u32, offset: u32, len: usize) -> Self {
        debug_assert!(segment < 1 << SEGMENT_BITS && offset < 1 << OFFSET_BITS);
        ChunkRef(
            u64::from(segment) << (OFFSET_BITS + LEN_BITS + 1)
                | u64::from(offset) << (LEN_BITS + 1)
                | (len as u64) << 1,
        )
    }

    fn partial(slot: u32, len: usize) -> Self {
        ChunkRef(u64::from(slot) << (LEN_BITS + 1) | (len as u64) << 1 | 1)
    }

    /// The slot of a partial chunk.
    fn slot(self) -> usize {
        (self.0 >> (LEN_BITS + 1)) as usize
    }

    fn segment(self) -> u32 {
        (self.0 >> (OFFSET_BITS + LEN_BITS + 1)) as u32
    }

    fn offset(self) -> u32 {
        (self.0 >> (LEN_BITS + 1)) as u32 & ((1 << OFFSET_BITS) - 1)
    }

    pub(super) fn len(self) -> usize {
        (self.0 >> 1) as usize & MAX_CHUNK_BYTES
    }

    /// Whether the chunk is a partial one, in memory, not in the files.
    pub(super) fn is_partial(self) -> bool {
        self.0 & 1 == 1
    }
}

/// One segment: its first `on_file` bytes in its file, the rest in `tail`.
struct Segment {
    file: Option<Arc<File>>,
    on_file: u32,
    tail: Vec<u8>,
    /// Whether `tail` goes to the file (false without one, or after a
    /// failed write).
    writable: bool,
    /// Bytes of chunks still referred to.
    live: u64,
    /// Most bytes the segment takes.
    max: u32,
}

impl Segment {
    fn end(&self) -> u32 {
        self.on_file + self.tail.len() as u32
    }
}

/// Partial chunks, by slot; free slots are reused first.
#[derive(Default)]
struct Partials {
    slots: Vec<Box<[u8]>>,
    free: Vec<u32>,
}

struct Inner {
    segments: BTreeMap<u32, Segment>,
    /// The segment being written, if any.
    current: Option<u32>,
    next_id: u32,
}

/// The chunk segments of one head; see the module doc.
pub(super) struct ChunkFiles {
    dir: Option<PathBuf>,
    /// Whether `dir` was emptied and made (on the first segment).
    prepared: AtomicBool,
    segment_bytes: u32,
    inner: Mutex<Inner>,
    partials: Mutex<Partials>,
    warned: AtomicBool,
    /// Failed writes and segment files that could not be created.
    pub(super) write_failures: AtomicU64,
    /// Reads of chunk bytes that failed (an I/O error on the files): a
    /// reader that must not go on without them (compaction, a query)
    /// compares it before and after.
    pub(super) read_failures: AtomicU64,
    /// After a failed write or file creation, new segments stay in memory
    /// until then: a full disk does not make a file (and keep its handle)
    /// every few chunks.
    retry_files_at: Mutex<Option<std::time::Instant>>,
    /// Bytes in segment files (written, not yet deleted).
    pub(super) file_bytes: AtomicU64,
    /// Bytes of segments kept in memory and of partial chunks.
    pub(super) memory_bytes: AtomicU64,
    #[cfg(test)]
    pub(super) fail_writes: AtomicBool,
    #[cfg(test)]
    pub(super) fail_reads: AtomicBool,
}

impl ChunkFiles {
    /// Chunks kept in memory (a head without a directory).
    pub(super) fn memory() -> Self {
        Self::with(None, SEGMENT_BYTES)
    }

    /// Chunks in segment files in `dir`, emptied when the first is
    /// written (its files are a cache of what the log holds), with
    /// segments of at most `segment_bytes` (capped at [`SEGMENT_BYTES`]).
    pub(super) fn in_dir(dir: &Path, segment_bytes: u32) -> Self {
        Self::with(Some(dir.to_owned()), segment_bytes)
    }

    /// Empties and makes `dir`, once.
    fn prepare(&self, dir: &Path) -> std::io::Result<()> {
        if self.prepared.load(Ordering::Relaxed) {
            return Ok(());
        }
        match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::fs::create_dir_all(dir)?;
        self.prepared.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn with(dir: Option<PathBuf>, segment_bytes: u32) -> Self {
        ChunkFiles {
            dir,
            prepared: AtomicBool::new(false),
            segment_bytes: segment_bytes.clamp(1, SEGMENT_BYTES),
            inner: Mutex::new(Inner {
                segments: BTreeMap::new(),
                current: None,
                next_id: 0,
            }),
            partials: Mutex::new(Partials::default()),
            warned: AtomicBool::new(false),
            write_failures: AtomicU64::new(0),
            read_failures: AtomicU64::new(0),
            retry_files_at: Mutex::new(None),
            file_bytes: AtomicU64::new(0),
            memory_bytes: AtomicU64::new(0),
            #[cfg(test)]
            fail_writes: AtomicBool::new(false),
            #[cfg(test)]
            fail_reads: AtomicBool::new(false),
        }
    }

    /// Ends the wait after a failed write: the next chunk goes to a new
    /// segment, which tries a file.
    #[cfg(test)]
    pub(super) fn retry_files_now(&self) {
        *self.retry_files_at.lock() = None;
        let mut inner = self.inner.lock();
        if let Some(id) = inner.current.take()
            && inner.segments.get(&id).is_some_and(|s| s.live == 0)
        {
            self.remove(&mut inner, id);
        }
    }

    /// The number of segments (files and in memory).
    pub(super) fn segments(&self) -> usize {
        self.inner.lock().segments.len()
    }

    /// Bytes in segments and bytes of live chunks.
    #[cfg(test)]
    pub(super) fn usage(&self) -> (u64, u64) {
        let inner = self.inner.lock();
        inner.segments.values().fold((0, 0), |(all, live), s| {
            (all + u64::from(s.end()), live + s.live)
        })
    }

    fn failed(&self, what: &str, e: &std::io::Error) {
        self.write_failures.fetch_add(1, Ordering::Relaxed);
        *self.retry_files_at.lock() = Some(std::time::Instant::now() + FILE_RETRY);
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                error = %e,
                dir = ?self.dir,
                "{what} failed: full head chunks stay in memory until a segment file \
                 can be written (check the disk's space and the directory's permissions; \
                 further failures are only counted in wasmetheus_tsdb_head_chunk_write_failures_total)"
            );
        }
    }

    fn segment_path(dir: &Path, id: u32) -> PathBuf {
        dir.join(format!("{id:06}"))
    }

    /// Writes a segment's buffered bytes to its file; on failure they stay
    /// in memory and the segment takes no more.
    fn flush(&self, id: u32, seg: &mut Segment) {
        if !seg.writable || seg.tail.is_empty() {
            return;
        }
        let Some(file) = &seg.file else { return };
        #[cfg(test)]
        let hook = if self.fail_writes.load(Ordering::Relaxed) {
            Err(std::io::Error::other("write failure injected by a test"))
        } else {
            Ok(())
        };
        #[cfg(not(test))]
        let hook = Ok(());
        match hook.and_then(|()| file.write_all_at(&seg.tail, u64::from(seg.on_file))) {
            Ok(()) => {
                let n = seg.tail.len() as u64;
                seg.on_file += seg.tail.len() as u32;
                seg.tail.clear();
                self.file_bytes.fetch_add(n, Ordering::Relaxed);
                self.memory_bytes.fetch_sub(n, Ordering::Relaxed);
            }
            Err(e) => {
                seg.writable = false;
                seg.tail.shrink_to_fit();
                // A file that holds nothing is closed and removed, and
                // the segment takes no more.
                if seg.on_file == 0
                    && let Some(dir) = &self.dir
                {
                    seg.file = None;
                    seg.max = seg.end();
                    let _ = std::fs::remove_file(Self::segment_path(dir, id));
                }
                self.failed(&format!("writing head chunk segment {id}"), &e);
            }
        }
    }

    /// A new segment to write to, made current.
    fn rotate(&self, inner: &mut Inner) -> u32 {
        if let Some(id) = inner.current.take()
            && let Some(seg) = inner.segments.get_mut(&id)
        {
            self.flush(id, seg);
            if seg.tail.is_empty() {
                seg.tail = Vec::new();
            }
            if seg.live == 0 {
                self.remove(inner, id);
            }
        }
        let mut id = inner.next_id;
        while inner.segments.contains_key(&id) {
            id = (id + 1) & ((1 << SEGMENT_BITS) - 1);
        }
        inner.next_id = (id + 1) & ((1 << SEGMENT_BITS) - 1);
        let backing_off = self
            .retry_files_at
            .lock()
            .is_some_and(|at| std::time::Instant::now() < at);
        let file = self
            .dir
            .as_deref()
            .filter(|_| !backing_off)
            .and_then(|dir| {
                if let Err(e) = self.prepare(dir) {
                    self.failed(&format!("emptying {}", dir.display()), &e);
                    return None;
                }
                let path = Self::segment_path(dir, id);
                match std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&path)
                {
                    Ok(f) => Some(Arc::new(f)),
                    Err(e) => {
                        self.failed(&format!("creating {}", path.display()), &e);
                        None
                    }
                }
            });
        let max = if file.is_some() {
            self.segment_bytes
        } else {
            self.segment_bytes.min(MEMORY_SEGMENT_BYTES)
        };
        inner.segments.insert(
            id,
            Segment {
                writable: file.is_some(),
                file,
                on_file: 0,
                tail: Vec::new(),
                live: 0,
                max,
            },
        );
        inner.current = Some(id);
        id
    }

    fn remove(&self, inner: &mut Inner, id: u32) {
        let Some(seg) = inner.segments.remove(&id) else {
            return;
        };
        self.memory_bytes
            .fetch_sub(seg.tail.len() as u64, Ordering::Relaxed);
        if seg.file.is_some() {
            self.file_bytes
                .fetch_sub(u64::from(seg.on_file), Ordering::Relaxed);
            if let Some(dir) = &self.dir
                && let Err(e) = std::fs::remove_file(Self::segment_path(dir, id))
            {
                tracing::warn!(error = %e, segment = id, "removing a head chunk segment");
            }
        }
    }

    /// Keeps a partial chunk's bytes in memory, exactly as long as they
    /// are.
    pub(super) fn put_partial(&self, bytes: &[u8]) -> ChunkRef {
        assert!(
            bytes.len() <= MAX_CHUNK_BYTES,
            "a head chunk of {} bytes",
            bytes.len()
        );
        let boxed: Box<[u8]> = bytes.into();
        let mut partials = self.partials.lock();
        let slot = match partials.free.pop() {
            Some(slot) => {
                partials.slots[slot as usize] = boxed;
                slot
            }
            None => {
                partials.slots.push(boxed);
                u32::try_from(partials.slots.len() - 1).expect("fewer than 2^32 partial chunks")
            }
        };
        self.memory_bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        ChunkRef::partial(slot, bytes.len())
    }

    /// Stores a complete chunk's bytes in the files (at most
    /// [`MAX_CHUNK_BYTES`]: a sealed chunk of at most `TARGET_SAMPLES`
    /// samples is far shorter).
    pub(super) fn put(&self, bytes: &[u8]) -> ChunkRef {
        assert!(
            bytes.len() <= MAX_CHUNK_BYTES,
            "a head chunk of {} bytes",
            bytes.len()
        );
        let mut inner = self.inner.lock();
        let inner = &mut *inner;
        let fits = |seg: &Segment| {
            seg.writable == seg.file.is_some()
                && (seg.end() == 0 || seg.end() as usize + bytes.len() <= seg.max as usize)
        };
        let id = match inner.current {
            Some(id) if inner.segments.get(&id).is_some_and(fits) => id,
            _ => self.rotate(inner),
        };
        let Some(seg) = inner.segments.get_mut(&id) else {
            unreachable!("the current segment exists")
        };
        let offset = seg.end();
        seg.tail.extend_from_slice(bytes);
        seg.live += bytes.len() as u64;
        self.memory_bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        if seg.tail.len() >= FLUSH_BYTES {
            self.flush(id, seg);
        }
        ChunkRef::new(id, offset, bytes.len())
    }

    /// Appends the chunk's bytes to `out`.
    pub(super) fn read(&self, r: ChunkRef, out: &mut Vec<u8>) -> std::io::Result<()> {
        let missing = || std::io::Error::other(format!("no head chunk at {r:?}"));
        if r.is_partial() {
            let partials = self.partials.lock();
            let bytes = partials
                .slots
                .get(r.slot())
                .filter(|b| b.len() == r.len())
                .ok_or_else(missing)?;
            out.extend_from_slice(bytes);
            return Ok(());
        }
        let (offset, len) = (r.offset(), r.len());
        let inner = self.inner.lock();
        let seg = inner.segments.get(&r.segment()).ok_or_else(missing)?;
        if offset >= seg.on_file {
            let from = (offset - seg.on_file) as usize;
            let bytes = seg.tail.get(from..from + len).ok_or_else(missing)?;
            out.extend_from_slice(bytes);
            return Ok(());
        }
        let file = seg.file.clone().ok_or_else(missing)?;
        drop(inner);
        #[cfg(test)]
        if self.fail_reads.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("read failure injected by a test"));
        }
        let start = out.len();
        out.resize(start + len, 0);
        let read = file.read_exact_at(&mut out[start..], u64::from(offset));
        if read.is_err() {
            out.truncate(start);
        }
        read
    }

    /// Forgets a chunk; its segment goes once it holds no live chunk.
    pub(super) fn release(&self, r: ChunkRef) {
        if r.is_partial() {
            let mut partials = self.partials.lock();
            let partials = &mut *partials;
            if let Some(slot) = partials.slots.get_mut(r.slot())
                && slot.len() == r.len()
            {
                let bytes = std::mem::take(slot);
                self.memory_bytes
                    .fetch_sub(bytes.len() as u64, Ordering::Relaxed);
                partials.free.push(r.slot() as u32);
                // No partial chunk left (series that scrape together
                // complete their chunks together): the table goes too.
                if partials.free.len() == partials.slots.len() {
                    *partials = Partials::default();
                }
            }
            return;
        }
        let mut inner = self.inner.lock();
        let id = r.segment();
        let Some(seg) = inner.segments.get_mut(&id) else {
            return;
        };
        seg.live = seg.live.saturating_sub(r.len() as u64);
        if seg.live == 0 && inner.current != Some(id) {
            self.remove(&mut inner, id);
        }
    }
}

impl std::fmt::Debug for ChunkFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkFiles")
            .field("dir", &self.dir)
            .field("segments", &self.segments())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(files: &ChunkFiles, r: ChunkRef) -> Vec<u8> {
        let mut out = Vec::new();
        files.read(r, &mut out).unwrap();
        out
    }

    fn dir_files(dir: &Path) -> usize {
        std::fs::read_dir(dir).unwrap().count()
    }

    #[test]
    fn refs_pack_their_fields() {
        let r = ChunkRef::new((1 << SEGMENT_BITS) - 1, SEGMENT_BYTES - 1, MAX_CHUNK_BYTES);
        assert_eq!(
            (r.segment(), r.offset(), r.len(), r.is_partial()),
            (
                (1 << SEGMENT_BITS) - 1,
                SEGMENT_BYTES - 1,
                MAX_CHUNK_BYTES,
                false
            )
        );
        let r = ChunkRef::new(3, 70_000, 130);
        assert_eq!(
            (r.segment(), r.offset(), r.len(), r.is_partial()),
            (3, 70_000, 130, false)
        );
        let r = ChunkRef::partial(u32::MAX, MAX_CHUNK_BYTES);
        assert_eq!(
            (r.slot(), r.len(), r.is_partial()),
            (u32::MAX as usize, MAX_CHUNK_BYTES, true)
        );
    }

    #[test]
    fn partial_chunks_stay_in_memory_and_their_slots_are_reused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("chunks_head");
        let files = ChunkFiles::in_dir(&dir, 1 << 20);
        let a = files.put_partial(b"first");
        let b = files.put_partial(b"second!");
        assert!(a.is_partial() && b.is_partial());
        assert_eq!(
            (read(&files, a), read(&files, b)),
            (b"first".to_vec(), b"second!".to_vec())
        );
        assert_eq!(files.memory_bytes.load(Ordering::Relaxed), 12);
        // Nothing went to the files: the directory is not even made.
        assert_eq!(files.segments(), 0);
        assert!(!dir.exists());
        files.release(a);
        assert!(files.read(a, &mut Vec::new()).is_err());
        files.release(a);
        let c = files.put_partial(b"third");
        assert_eq!(c.slot(), a.slot(), "the freed slot is reused");
        assert_eq!(read(&files, c), b"third");
        assert_eq!(read(&files, b), b"second!");
        files.release(b);
        files.release(c);
        assert_eq!(files.memory_bytes.load(Ordering::Relaxed), 0);
        assert_eq!(
            files.partials.lock().slots.capacity(),
            0,
            "the empty table is freed"
        );
    }

    #[test]
    fn chunks_round_trip_through_files_and_dead_segments_go() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("chunks_head");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("000000"), b"left by a crash").unwrap();
        let files = ChunkFiles::in_dir(&dir, 100_000);
        assert_eq!(
            dir_files(&dir),
            1,
            "nothing deleted before a chunk is written"
        );
        let chunk = |i: usize| vec![i as u8; 1000 + i % 7];
        let lone = files.put(&chunk(0));
        assert_eq!(
            dir_files(&dir),
            1,
            "the leftover replaced by the first segment"
        );
        assert!(std::fs::read(dir.join("000000")).unwrap().is_empty());
        let refs: Vec<ChunkRef> = (0..250).map(|i| files.put(&chunk(i))).collect();
        // 250 chunks of ~1 KB in segments of 100 KB, the first ones
        // flushed to their files.
        assert_eq!(files.segments(), 3);
        assert_eq!(dir_files(&dir), 3);
        assert!(files.file_bytes.load(Ordering::Relaxed) >= 2 * FLUSH_BYTES as u64);
        for (i, r) in refs.iter().enumerate() {
            assert_eq!(read(&files, *r), chunk(i), "chunk {i}");
            assert!(!r.is_partial());
        }
        // The first segment's chunks released: its file goes.
        let first = refs[0].segment();
        assert_eq!(lone.segment(), first);
        files.release(lone);
        for r in refs.iter().filter(|r| r.segment() == first) {
            files.release(*r);
        }
        assert_eq!((files.segments(), dir_files(&dir)), (2, 2));
        assert!(files.read(refs[0], &mut Vec::new()).is_err());
        // The current segment stays while written to, even when empty.
        for r in &refs[1..] {
            if r.segment() != first {
                files.release(*r);
            }
        }
        assert_eq!(files.segments(), 1);
        let r = files.put(b"again");
        assert_eq!(read(&files, r), b"again");
        assert_eq!(files.write_failures.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_failed_write_keeps_the_bytes_in_memory() {
        let tmp = tempfile::tempdir().unwrap();
        let files = ChunkFiles::in_dir(tmp.path(), 1 << 20);
        files.fail_writes.store(true, Ordering::Relaxed);
        let chunk = |i: usize| vec![(i * 7) as u8; 900];
        let refs: Vec<ChunkRef> = (0..200).map(|i| files.put(&chunk(i))).collect();
        assert!(files.write_failures.load(Ordering::Relaxed) >= 1);
        files.fail_writes.store(false, Ordering::Relaxed);
        // For a while, new segments stay in memory.
        let more: Vec<ChunkRef> = (200..400).map(|i| files.put(&chunk(i))).collect();
        assert_eq!(files.file_bytes.load(Ordering::Relaxed), 0);
        files.retry_files_now();
        let last: Vec<ChunkRef> = (400..600).map(|i| files.put(&chunk(i))).collect();
        for (i, r) in refs.iter().chain(&more).chain(&last).enumerate() {
            assert_eq!(read(&files, *r), chunk(i), "chunk {i}");
        }
        // The last segment was written to its file once writes worked.
        assert!(files.file_bytes.load(Ordering::Relaxed) > 0);
    }

    #[test]
    fn without_a_directory_segments_stay_in_memory() {
        let files = ChunkFiles::memory();
        let refs: Vec<ChunkRef> = (0..3000).map(|i| files.put(&[i as u8; 500])).collect();
        assert!(files.segments() >= 2);
        assert_eq!(files.file_bytes.load(Ordering::Relaxed), 0);
        assert_eq!(read(&files, refs[2999]), [2999usize as u8; 500]);
        for r in &refs {
            files.release(*r);
        }
        assert_eq!(files.segments(), 1);
        assert_eq!(files.write_failures.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn an_unwritable_directory_falls_back_to_memory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("chunks_head");
        // A file where the directory should be: it cannot be made.
        std::fs::write(&dir, b"in the way").unwrap();
        let files = ChunkFiles::in_dir(&dir, 1 << 20);
        let r = files.put(b"kept");
        assert_eq!(read(&files, r), b"kept");
        assert_eq!(files.write_failures.load(Ordering::Relaxed), 1);
        assert_eq!(files.file_bytes.load(Ordering::Relaxed), 0);
    }
}
