//! Tests of the head with its full chunks in segment files: queries read
//! what an in-memory head reads, re-sealing leaves garbage that dies with
//! its segment, truncation deletes segments, and failed writes keep the
//! chunks in memory.

use super::Head;
use super::HeadLimits;
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
    let head = on_files(&dir, 16 << 10);
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
fn re_sealed_chunks_leave_garbage_their_segment_drops() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("chunks_head");
    let head = on_files(&dir, 1 << 20);
    // 121 samples: 60 sealed, then re-sealed with the next 60 into one
    // chunk of 120; the first copy is garbage.
    fill(&head, 1, 0, 121);
    let s = head.series(0).unwrap();
    let s = s.lock();
    let mut sources = s.chunk_sources(i64::MIN, i64::MAX, &head.chunks);
    assert_eq!(sources.len(), 2, "a full chunk and the open one");
    let full = sources.remove(0);
    assert!(matches!(full, crate::iter::ChunkSource::Sealed { .. }));
    let mut decoded = Vec::new();
    full.decode_into(&mut decoded);
    let want: Vec<(i64, f64)> = (0..120).map(|j| sample(0, j)).collect();
    assert_eq!(decoded, want);
    drop(s);
    // Both copies are in the segment (60 and 120 samples), still
    // buffered; only the second is live.
    let (written, live) = head.chunks.usage();
    assert!(
        written > live && live > 0,
        "{written} B written, {live} B live"
    );
    head.truncate(200_000).unwrap();
    assert_eq!(head.chunks.segments(), 1);
}

#[test]
fn a_failed_write_keeps_chunks_in_memory_and_readable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("chunks_head");
    let head = on_files(&dir, 1 << 20);
    let memory = Head::default();
    head.chunks.fail_writes.store(true, Ordering::Relaxed);
    for h in [&head, &memory] {
        fill(h, 200, 0, 700);
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
    // Writes work again: later chunks go to files.
    head.chunks.fail_writes.store(false, Ordering::Relaxed);
    for h in [&head, &memory] {
        fill(h, 200, 700, 1400);
    }
    assert!(head.chunks.file_bytes.load(Ordering::Relaxed) > 0);
    assert_eq!(everything(&head), everything(&memory));
}
