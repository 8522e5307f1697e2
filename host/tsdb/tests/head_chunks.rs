//! The head's full chunks in `chunks_head/`: a head reopened on its log
//! after a crash, with the previous run's segment files (and a stray
//! file) left in the directory, starts the directory afresh and reads
//! back every acknowledged sample from the replayed log; a head that
//! cannot take the log leaves the chunk files alone. Only complete chunks
//! are written, each once: the bytes written are exactly those of the
//! series' complete chunks, before and after the replay.

use std::path::Path;
use wasmetheus_model::Label;
use wasmetheus_model::storage::Appender;
use wasmetheus_tsdb::chunk::TARGET_SAMPLES;
use wasmetheus_tsdb::{Head, HeadLimits, sealed};

type Data = Vec<(Vec<Label>, Vec<(i64, u64)>)>;

fn open(dir: &Path) -> Head {
    try_open(dir).unwrap()
}

/// A head on `dir`'s log with its chunk files beside it.
fn try_open(dir: &Path) -> Result<Head, wasmetheus_tsdb::wal::WalError> {
    Head::open_with_chunks(
        &dir.join("wal"),
        Some(&dir.join("chunks_head")),
        HeadLimits::default(),
        false,
        i64::MIN,
    )
}

fn everything(head: &Head) -> Data {
    let mut all: Data = head
        .all_series()
        .into_iter()
        .map(|(r, labels)| {
            let samples = head.samples(r, i64::MIN, i64::MAX);
            (
                labels,
                samples.iter().map(|(t, v)| (*t, v.to_bits())).collect(),
            )
        })
        .collect();
    all.sort();
    all
}

fn gauge(head: &Head, name: &str) -> f64 {
    let family = head.metrics().into_iter().find(|f| f.name == name).unwrap();
    match family.metrics[0].value {
        wasmetheus_model::MetricValue::Number(v) => v,
        ref other => panic!("{name}: {other:?}"),
    }
}

/// Chunk bytes the head wrote: in its files and in their write buffer
/// (no partial chunk is left in the cases here).
fn chunk_bytes_written(head: &Head) -> f64 {
    gauge(head, "prometheus_tsdb_head_chunks_storage_size_bytes")
        + gauge(head, "wasmetheus_tsdb_head_chunks_memory_bytes")
}

fn chunk_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("chunks_head"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_reopened_head_replaces_leftover_chunk_files_and_reads_every_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let head = open(dir);
    let mut want: Data = Vec::new();
    // The complete chunks' bytes: 480 samples a series seal into 4 chunks
    // of TARGET_SAMPLES (the last 20 stay in the open chunk).
    let mut complete = 0;
    for i in 0..20 {
        let labels = vec![
            Label::new("__name__", "m"),
            Label::new("i", format!("{i:02}")),
        ];
        let samples: Vec<(i64, f64)> = (0..500)
            .map(|j| (j * 1000 + j % 3, (i * 1000 + j * (i + 1)) as f64 / 4.0))
            .collect();
        for chunk in samples.chunks(37) {
            let mut app = head.appender();
            for &(t, v) in chunk {
                app.append(&labels, t, v).unwrap();
            }
            app.commit().unwrap();
        }
        for chunk in samples[..480].chunks(TARGET_SAMPLES) {
            let mut bytes = Vec::new();
            sealed::encode(chunk, &mut bytes);
            complete += bytes.len();
        }
        want.push((
            labels,
            samples.iter().map(|(t, v)| (*t, v.to_bits())).collect(),
        ));
    }
    want.sort();
    assert_eq!(everything(&head), want);
    assert!(!chunk_files(dir).is_empty(), "full chunks went to a file");
    assert_eq!(chunk_bytes_written(&head), complete as f64, "no garbage");
    // A second head on the same directory fails on the log's lock and
    // leaves the first one's chunk files alone.
    let files = chunk_files(dir);
    assert!(try_open(dir).is_err());
    assert_eq!(chunk_files(dir), files);
    assert_eq!(everything(&head), want);
    // A crash: the head goes without closing; a stray file and a
    // segment that looks like a later one are left beside its segments.
    drop(head);
    std::fs::write(dir.join("chunks_head/999999"), vec![0xAB; 4096]).unwrap();
    std::fs::write(dir.join("chunks_head/stray"), b"not a segment").unwrap();
    let head = open(dir);
    assert_eq!(everything(&head), want);
    let files = chunk_files(dir);
    assert!(
        !files.iter().any(|f| f == "999999" || f == "stray"),
        "leftovers removed: {files:?}"
    );
    assert!(!files.is_empty(), "the replay wrote its chunks anew");
    assert_eq!(chunk_bytes_written(&head), complete as f64);
    head.close();
}
