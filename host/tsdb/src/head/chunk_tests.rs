//! Tests of the head with its full chunks in segment files: queries read
//! what an in-memory head reads, only complete chunks are written (each
//! once: re-sealing happens in memory), truncation deletes segments, and
//! failed writes keep the chunks in memory.

use super::Head;
use super::HeadLimits;
use crate::chunk::TARGET_SAMPLES;
use std::path::Path;
use std::sync::atomic::Ordering;
use wasmetheus_model::Label;
use wasmetheus_model::storage::{Appender, SampleIterator};

fn labels(i: usize) -> Vec<Label> {
    vec![Label::new("__name__", "m"), Label::new("i", format!("{i}"))]
}

/// Sample `j` of series `i`: 1 s scrapes with jitter, counters.
fn sample(i: usize, j: usize) -> (i64, f64) {
    let t = j as i64 * 1000 + ((i * 7 + j * 3) % 5) as i64;
    (t, (i * 1000 + j * (1 + i % 13)) as f64)
}

/// Appends samples `from..to` of `series` series, a commit per sample.
fn fill(head: &Head, series: usize, from: usize, to: usize) {
    for j in from..to {
        let mut app = head.appender();
        for i in 0..series {
            let (t, v) = sample(i, j);
            app.append(&labels(i), t, v).unwrap();
        }
        app.commit().unwrap();
    }
}

/// A head with full chunks in `dir`, in segments of `segment_bytes`.
fn on_files(dir: &Path, segment_bytes: u32) -> Head {
    let mut head = Head::new(HeadLimits::default());
    head.use_chunk_dir(dir, segment_bytes);
    head
}

/// Every series' labels and samples (values as bits).
type Data = Vec<(Vec<Label>, Vec<(i64, u64)>)>;

fn everything(head: &Head) -> Data {
    head.all_series()
        .into_iter()
        .map(|(r, labels)| {
            let samples = head
                .samples(r, i64::MIN, i64::MAX)
                .into_iter()
                .map(|(t, v)| (t, v.to_bits()))
                .collect();
            (labels, samples)
        })
        .collect()
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

#[test]
fn chunks_on_files_read_as_in_memory_and_die_with_truncation() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("chunks_head");
    let head = on_files(&dir, 8 << 10);
    let memory = Head::default();
    for h in [&head, &memory] {
        fill(h, 50, 0, 1000);
    }
    assert_eq!(everything(&head), everything(&memory));
    // Chunk sources (what queries and compaction read) agree too.
    for r in 0..50 {
        let mut it = crate::iter::ChunksIterator::new(
            head.chunk_sources(r, 100_000, 900_000),
            100_000,
            900_000,
            Vec::new(),
        );
        let mut got = Vec::new();
        while let Some(sample) = it.next() {
            got.push(sample);
        }
        assert_eq!(got, memory.samples(r, 100_000, 900_000));
    }
    assert!(files_in(&dir) > 2, "{} segment files", files_in(&dir));
    assert_eq!(files_in(&dir), head.chunks.segments());
    assert!(head.chunks.file_bytes.load(Ordering::Relaxed) > 0);
    // Truncation drops the old chunks: their segments go.
    let before = files_in(&dir);
    head.truncate(600_000).unwrap();
    memory.truncate(600_000).unwrap();
    assert!(files_in(&dir) < before);
    assert_eq!(everything(&head), everything(&memory));
    // Everything: the last segment stays (being written), nothing else.
    fill(&head, 50, 1000, 1001);
    head.truncate(2_000_000).unwrap();
    assert_eq!(head.num_series(), 0);
    assert_eq!(head.chunks.segments(), 1);
    assert_eq!(files_in(&dir), 1);
    assert_eq!(head.chunks.write_failures.load(Ordering::Relaxed), 0);
}

#[test]
fn only_complete_chunks_are_written_each_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("chunks_head");
    let head = on_files(&dir, 1 << 20);
    // 60 samples sealed into a partial chunk in memory: nothing written.
    fill(&head, 1, 0, 61);
    assert_eq!(head.chunks.usage(), (0, 0));
    assert_eq!(head.chunks.segments(), 0);
    assert!(head.chunks.memory_bytes.load(Ordering::Relaxed) > 0);
    // 3 x TARGET_SAMPLES samples and the one that seals the last 60: each
    // chunk re-sealed once in memory, then written once, complete.
    let n = 3 * TARGET_SAMPLES;
    fill(&head, 1, 61, n + 1);
    let s = head.series(0).unwrap();
    let s = s.lock();
    let mut sources = s.chunk_sources(i64::MIN, i64::MAX, &head.chunks, &mut |_, _| true);
    assert_eq!(sources.len(), 4, "three full chunks and the open one");
    sources.pop();
    drop(s);
    let mut sizes = 0;
    let mut decoded = Vec::new();
    for source in sources {
        let crate::iter::ChunkSource::Sealed {
            bytes: crate::iter::ChunkBytes::Owned(bytes),
            ..
        } = &source
        else {
            panic!("a full chunk is sealed, its bytes read back");
        };
        sizes += bytes.len() as u64;
        let from = decoded.len();
        source.decode_into(&mut decoded);
        assert_eq!(decoded.len() - from, TARGET_SAMPLES);
    }
    let want: Vec<(i64, f64)> = (0..n).map(|j| sample(0, j)).collect();
    assert_eq!(decoded, want);
    // Exactly those three chunks' bytes were written: no garbage, and no
    // partial chunk left in memory.
    assert_eq!(head.chunks.usage(), (sizes, sizes));
    assert_eq!(head.chunks.memory_bytes.load(Ordering::Relaxed), sizes);
    let mut all = want;
    all.push(sample(0, n));
    assert_eq!(head.samples(0, i64::MIN, i64::MAX), all);
    head.truncate(1_000_000).unwrap();
    assert_eq!(head.chunks.segments(), 1);
    assert_eq!(head.chunks.usage().1, 0);
}

#[test]
fn a_failed_write_keeps_chunks_in_memory_and_readable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("chunks_head");
    let head = on_files(&dir, 1 << 20);
    let memory = Head::default();
    head.chunks.fail_writes.store(true, Ordering::Relaxed);
    for h in [&head, &memory] {
        fill(h, 200, 0, 1000);
    }
    let failures = head.chunks.write_failures.load(Ordering::Relaxed);
    assert!(failures >= 1);
    assert_eq!(everything(&head), everything(&memory));
    let metric = head
        .metrics()
        .into_iter()
        .find(|f| f.name == "wasmetheus_tsdb_head_chunk_write_failures_total")
        .expect("the failure counter is exported");
    assert_eq!(
        metric.metrics[0].value,
        wasmetheus_model::MetricValue::Number(failures as f64)
    );
    // A segment whose file got nothing lost its file: no handle is kept
    // open for it, and for a while new segments stay in memory even
    // though writes would work again (a full disk does not make a file
    // every few chunks).
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    head.chunks.fail_writes.store(false, Ordering::Relaxed);
    for h in [&head, &memory] {
        fill(h, 200, 1000, 2000);
    }
    assert_eq!(head.chunks.file_bytes.load(Ordering::Relaxed), 0);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    assert_eq!(everything(&head), everything(&memory));
    // Once the wait is over, later chunks go to files.
    head.chunks.retry_files_now();
    for h in [&head, &memory] {
        fill(h, 200, 2000, 3000);
    }
    assert!(head.chunks.file_bytes.load(Ordering::Relaxed) > 0);
    assert_eq!(everything(&head), everything(&memory));
}

#[test]
fn a_failed_read_is_counted_so_that_readers_can_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("chunks_head");
    let head = on_files(&dir, 1 << 20);
    let memory = Head::default();
    for h in [&head, &memory] {
        fill(h, 200, 0, 1000);
    }
    assert!(head.chunks.file_bytes.load(Ordering::Relaxed) > 0);
    assert_eq!(head.chunk_read_failures(), 0);
    assert_eq!(everything(&head), everything(&memory));
    head.chunks.fail_reads.store(true, Ordering::Relaxed);
    assert_ne!(everything(&head), everything(&memory));
    let failures = head.chunk_read_failures();
    assert!(failures > 0);
    let metric = head
        .metrics()
        .into_iter()
        .find(|f| f.name == "wasmetheus_tsdb_head_chunk_read_failures_total")
        .expect("the read failure counter is exported");
    assert_eq!(
        metric.metrics[0].value,
        wasmetheus_model::MetricValue::Number(failures as f64)
    );
    head.chunks.fail_reads.store(false, Ordering::Relaxed);
    assert_eq!(everything(&head), everything(&memory));
}
