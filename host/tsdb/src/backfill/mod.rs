//! Backfill: writes an OpenMetrics file with timestamps into a data
//! directory's store, like `promtool tsdb create-blocks-from openmetrics`.
//!
//! The file is streamed, never held whole: a first pass parses and checks
//! every line and finds the blocks the samples fall in; then each further
//! pass reads the file again and keeps only the samples of the next few
//! blocks, XOR-compressed per series, until they are written as one part
//! per block. Memory is therefore bounded by one block's samples (or a few
//! small blocks'), not by the file. Malformed input is found in the first
//! pass and leaves the directory untouched; the parts are published only
//! once all are written. Every later pass checks that it reads the file
//! the first pass checked (its lines parse, no block outgrows the count
//! the first pass found, the same bytes and checksum up to `# EOF`): a
//! file written to meanwhile is an error, and none of its parts is
//! published (the series ids registered for them stay in the index, with
//! no data, invisible to queries).
//!
//! What is accepted and stored follows Prometheus' OpenMetrics parser and
//! promtool: no family or suffix rules (a histogram's bucket series may come
//! one after another, a file may hold all samples of one series and then
//! all of the next), timestamps in seconds truncated to milliseconds, and
//! within a block a series keeps a sample only if it is newer than the
//! series' previous one in the file (promtool's appender drops the others).
//!
//! This file runs the passes and writes the blocks; `openmetrics.rs` reads
//! and checks the file's lines.

mod openmetrics;

use crate::chunk::XorChunk;
use crate::store::{PreparedPart, Sid, Store, StoreError};
use openmetrics::{Digest, key_labels, render, scan, series_labels};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("{path}:{line}: {message}")]
    Parse {
        path: String,
        line: usize,
        message: String,
    },
    #[error(
        "{path}:{line}: sample {series} has no timestamp; every sample of a backfill file needs one"
    )]
    MissingTimestamp {
        path: String,
        line: usize,
        series: String,
    },
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// A pass after the first read something else than the first did.
    #[error(
        "{path}: the file changed during the backfill ({detail}); nothing was stored: backfill a \
         copy that is not being written"
    )]
    FileChanged { path: String, detail: String },
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// What a backfill wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BackfillStats {
    pub series: u64,
    pub samples: u64,
    /// Samples not stored because their series already had a sample at or
    /// after their timestamp earlier in the file, in the same block (as
    /// promtool drops them).
    pub dropped: u64,
    pub blocks: BTreeSet<i64>,
    pub min_time: i64,
    pub max_time: i64,
    /// Bytes of the part files (sealed chunks) afterwards.
    pub chunk_bytes: u64,
    /// Key and value bytes in sled's index trees afterwards.
    pub index_logical_bytes: u64,
    /// Bytes sled occupies on disk afterwards.
    pub index_disk_bytes: u64,
}

/// Progress of the write phase.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub blocks_done: u64,
    pub blocks_total: u64,
    pub samples_done: u64,
    pub samples_total: u64,
}

/// promtool's block width for `--max-block-duration`: the widest of
/// Prometheus' compaction ranges (2 h, 6 h, 18 h, 54 h, … tripling) that
/// does not exceed it, and at least 2 h.
pub fn compatible_block_duration(max_block_duration_ms: i64) -> i64 {
    const TWO_HOURS: i64 = 2 * 3600 * 1000;
    let mut range = TWO_HOURS;
    for _ in 1..10 {
        match range.checked_mul(3) {
            Some(next) if next <= max_block_duration_ms => range = next,
            _ => break,
        }
    }
    range
}

/// Samples of the blocks of one pass kept at most; more only when a single
/// block holds more (a block is never split).
const PASS_SAMPLES: u64 = 8 << 20;
/// Samples an in-memory XOR chunk takes before the next one is started.
const CHUNK_SAMPLES: usize = 4096;

/// Backfills `input` (named `path` in errors), held in memory.
pub fn create_blocks_from_openmetrics(
    input: &str,
    path: &str,
    data_dir: &Path,
    block_range_ms: i64,
    progress: impl FnMut(Progress),
) -> Result<BackfillStats, BackfillError> {
    backfill(
        || Ok(input.as_bytes()),
        path,
        data_dir,
        block_range_ms,
        PASS_SAMPLES,
        progress,
    )
}

/// Backfills the OpenMetrics file `file` into the store under
/// `data_dir/db`, blocks of `block_range_ms`, reading the file once per
/// few blocks rather than holding it.
pub fn create_blocks_from_openmetrics_file(
    file: &Path,
    data_dir: &Path,
    block_range_ms: i64,
    progress: impl FnMut(Progress),
) -> Result<BackfillStats, BackfillError> {
    backfill(
        || std::fs::File::open(file).map(|f| std::io::BufReader::with_capacity(1 << 20, f)),
        &file.display().to_string(),
        data_dir,
        block_range_ms,
        PASS_SAMPLES,
        progress,
    )
}

/// One pass's worth of samples of one block: per series key (its float
/// label's tag and its text as in the file), the samples kept so far.
type BlockSamples = FxHashMap<Box<[u8]>, SeriesBuf>;

/// A series' kept samples of one block, compressed as they arrive (they
/// only ever grow in time).
struct SeriesBuf {
    chunks: Vec<XorChunk>,
    /// The line of the series' first sample in the block (for errors).
    line: usize,
}

impl SeriesBuf {
    fn new(line: usize) -> Self {
        SeriesBuf {
            chunks: Vec::new(),
            line,
        }
    }

    /// Keeps the sample if it is newer than the last one kept.
    fn push(&mut self, t: i64, v: f64) -> bool {
        if let Some(last) = self.chunks.last()
            && last.max_time() >= t
        {
            return false;
        }
        if self.chunks.last().is_none_or(|c| c.len() >= CHUNK_SAMPLES) {
            if let Some(full) = self.chunks.last_mut() {
                full.shrink_to_fit();
            }
            self.chunks.push(XorChunk::new());
        }
        let chunk = self.chunks.last_mut().expect("pushed above");
        // Cannot fail: newer than the last sample and below the cap.
        chunk.append(t, v).is_ok()
    }

    fn samples(&self) -> Vec<(i64, f64)> {
        let n = self.chunks.iter().map(XorChunk::len).sum();
        let mut out = Vec::with_capacity(n);
        for chunk in &self.chunks {
            out.extend(chunk.iter());
        }
        out
    }
}

/// The block (of width `range`) holding `t`.
fn block_of(t: i64, range: i64) -> i64 {
    t.div_euclid(range).saturating_mul(range)
}

/// What the checking pass found: the samples of each block, the time
/// range, and the file's digest, which every later pass must find again.
struct Plan {
    per_block: BTreeMap<i64, u64>,
    min_time: i64,
    max_time: i64,
    digest: Digest,
}

fn backfill<R: BufRead>(
    open: impl Fn() -> std::io::Result<R>,
    path: &str,
    data_dir: &Path,
    block_range_ms: i64,
    pass_samples: u64,
    mut progress: impl FnMut(Progress),
) -> Result<BackfillStats, BackfillError> {
    let range = block_range_ms.max(1);
    let plan = check(&open, path, range)?;
    let samples_total: u64 = plan.per_block.values().sum();
    let blocks_total = plan.per_block.len() as u64;
    let mut stats = BackfillStats {
        min_time: plan.min_time,
        max_time: plan.max_time,
        ..BackfillStats::default()
    };
    // Everything is valid: only now is the directory touched.
    let store = Store::open(&data_dir.join("db"), range)?;
    let mut prepared: Vec<PreparedPart> = Vec::new();
    let mut series_seen: FxHashSet<Sid> = FxHashSet::default();
    let mut blocks_done = 0u64;
    for pass in plan_passes(&plan.per_block, pass_samples) {
        let (buffers, dropped) = fill_pass(&open, path, range, &pass, plan.digest)?;
        stats.dropped += dropped;
        for (&(block, _), samples) in pass.iter().zip(buffers) {
            let (part, written) =
                write_block(&store, path, block, range, samples, &mut series_seen)?;
            prepared.extend(part);
            stats.samples += written;
            stats.blocks.insert(block);
            blocks_done += 1;
            progress(Progress {
                blocks_done,
                blocks_total,
                samples_done: stats.samples + stats.dropped,
                samples_total,
            });
        }
    }
    // Every pass read the file the first pass checked: the parts go live.
    store.publish(prepared)?;
    stats.series = series_seen.len() as u64;
    store.flush()?;
    stats.chunk_bytes = store.parts_bytes();
    stats.index_logical_bytes = store.index_logical_size();
    stats.index_disk_bytes = store.index_bytes_on_disk();
    Ok(stats)
}

/// The first pass: every line checked, the samples of each block counted.
fn check<R: BufRead>(
    open: &impl Fn() -> std::io::Result<R>,
    path: &str,
    range: i64,
) -> Result<Plan, BackfillError> {
    let input = open().map_err(|source| BackfillError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut per_block: BTreeMap<i64, u64> = BTreeMap::new();
    let (mut min_time, mut max_time) = (i64::MAX, i64::MIN);
    let digest = scan(input, path, |sample, line| {
        let Some(t) = sample.timestamp else {
            return Err(BackfillError::MissingTimestamp {
                path: path.to_owned(),
                line,
                series: render(&series_labels(sample.series).unwrap_or_default()),
            });
        };
        min_time = min_time.min(t);
        max_time = max_time.max(t);
        *per_block.entry(block_of(t, range)).or_default() += 1;
        Ok(())
    })?;
    Ok(Plan {
        per_block,
        min_time,
        max_time,
        digest,
    })
}

/// The blocks (with their sample counts), oldest first, grouped into
/// passes of at most `pass_samples` samples each; a block holding more
/// has a pass of its own (a block is never split).
fn plan_passes(per_block: &BTreeMap<i64, u64>, pass_samples: u64) -> Vec<Vec<(i64, u64)>> {
    let mut passes: Vec<Vec<(i64, u64)>> = Vec::new();
    let mut budget = 0u64;
    for (&block, &n) in per_block {
        match passes.last_mut() {
            Some(pass) if budget.saturating_add(n) <= pass_samples => {
                pass.push((block, n));
                budget += n;
            }
            _ => {
                passes.push(vec![(block, n)]);
                budget = n;
            }
        }
    }
    passes
}

/// Reads the file again and keeps the samples of the blocks of `pass`
/// (sorted, with the samples the first pass counted in each): one
/// [`BlockSamples`] per block, and how many samples were dropped as not
/// newer than their series' previous one. A file that is not the one the
/// first pass read (`digest`) is [`BackfillError::FileChanged`]; found as
/// soon as a line no longer parses or a block outgrows its count, so the
/// pass holds no more than planned.
fn fill_pass<R: BufRead>(
    open: &impl Fn() -> std::io::Result<R>,
    path: &str,
    range: i64,
    pass: &[(i64, u64)],
    digest: Digest,
) -> Result<(Vec<BlockSamples>, u64), BackfillError> {
    let changed = |detail: String| BackfillError::FileChanged {
        path: path.to_owned(),
        detail,
    };
    let input = open().map_err(|e| changed(format!("it can no longer be opened: {e}")))?;
    let (first, last) = match (pass.first(), pass.last()) {
        (Some(first), Some(last)) => (first.0, last.0),
        _ => return Ok((Vec::new(), 0)),
    };
    let mut buffers: Vec<BlockSamples> = pass.iter().map(|_| BlockSamples::default()).collect();
    let mut seen: Vec<u64> = vec![0; pass.len()];
    let mut dropped = 0u64;
    let mut key = Vec::new();
    let read = scan(input, path, |sample, line| {
        let Some(t) = sample.timestamp else {
            return Err(changed(format!("line {line} has no timestamp now")));
        };
        let block = block_of(t, range);
        if block < first || block > last {
            return Ok(());
        }
        let Ok(i) = pass.binary_search_by_key(&block, |&(b, _)| b) else {
            return Ok(());
        };
        seen[i] += 1;
        if seen[i] > pass[i].1 {
            return Err(changed(format!(
                "the block at {block} ms has more than the {} samples first read",
                pass[i].1
            )));
        }
        let buffer = &mut buffers[i];
        key.clear();
        key.push(sample.float_label as u8);
        key.extend_from_slice(sample.series);
        let kept = match buffer.get_mut(key.as_slice()) {
            Some(buf) => buf.push(t, sample.value),
            None => {
                let mut buf = SeriesBuf::new(line);
                let kept = buf.push(t, sample.value);
                buffer.insert(key.as_slice().into(), buf);
                kept
            }
        };
        if !kept {
            dropped += 1;
        }
        Ok(())
    })
    .map_err(|e| match e {
        // The first pass read the file without an error: it changed.
        BackfillError::Parse { line, message, .. } => changed(format!("line {line}: {message}")),
        e => e,
    })?;
    if read != digest {
        return Err(changed(if read.bytes == digest.bytes {
            "its content differs from the first read".into()
        } else {
            format!(
                "it is {} bytes long now, {} at the first read",
                read.bytes, digest.bytes
            )
        }));
    }
    Ok((buffers, dropped))
}

/// Writes one block's samples as a prepared (not yet visible) part;
/// returns it and the samples written.
fn write_block(
    store: &Store,
    path: &str,
    block: i64,
    range: i64,
    samples: BlockSamples,
    series_seen: &mut FxHashSet<Sid>,
) -> Result<(Option<PreparedPart>, u64), BackfillError> {
    // Two texts of one label set (labels in another order, say) are one
    // series: grouped by id, their samples merged.
    let mut by_sid: Vec<(Sid, SeriesBuf)> = Vec::with_capacity(samples.len());
    for (key, buf) in samples {
        // The key is a series text the scan parsed: this cannot fail.
        let mut labels = key_labels(&key).map_err(|message| BackfillError::Parse {
            path: path.to_owned(),
            line: buf.line,
            message,
        })?;
        labels.retain(|l| !l.value.is_empty());
        labels.sort();
        let sid = store.sid(&labels)?;
        series_seen.insert(sid);
        by_sid.push((sid, buf));
    }
    by_sid.sort_by_key(|(sid, _)| *sid);
    let mut writer = store.block_writer_spanning(block, range)?;
    let mut i = 0;
    while i < by_sid.len() {
        let sid = by_sid[i].0;
        let mut merged = by_sid[i].1.samples();
        i += 1;
        while i < by_sid.len() && by_sid[i].0 == sid {
            merged = crate::iter::merge(merged, &by_sid[i].1.samples());
            i += 1;
        }
        writer.add_sid(sid, &merged)?;
    }
    let written = writer.samples();
    Ok((writer.prepare()?, written))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmetheus_model::Label;

    #[test]
    fn block_durations_follow_promtool() {
        let h = 3_600_000;
        assert_eq!(compatible_block_duration(0), 2 * h);
        assert_eq!(compatible_block_duration(h), 2 * h);
        assert_eq!(compatible_block_duration(2 * h), 2 * h);
        assert_eq!(compatible_block_duration(5 * h), 2 * h);
        assert_eq!(compatible_block_duration(18 * h), 18 * h);
        assert_eq!(compatible_block_duration(72 * h), 54 * h);
        assert_eq!(compatible_block_duration(i64::MAX), 2 * h * 3i64.pow(9));
    }

    #[test]
    fn one_block_per_pass_stores_what_one_pass_for_all_does() {
        let mut input = String::new();
        for s in 0..5 {
            // Series after series, each going back to the start.
            for i in 0..40 {
                let t = i * 997 + s;
                input.push_str(&format!(
                    "m{{s=\"{s}\"}} {} {}.{:03}\n",
                    i * s,
                    t / 1000,
                    t % 1000
                ));
            }
            // Within a block, time going back: dropped either way.
            input.push_str(&format!("m{{s=\"{s}\"}} 9 {}\n", s));
        }
        input.push_str("# EOF\n");
        let read = |budget: u64| {
            let tmp = tempfile::tempdir().unwrap();
            let mut passes = 0;
            let stats = backfill(
                || Ok(input.as_bytes()),
                "x",
                tmp.path(),
                5_000,
                budget,
                |_| passes += 1,
            )
            .unwrap();
            let store = Store::open(&tmp.path().join("db"), 5_000).unwrap();
            let mut all = Vec::new();
            for sid in store.select(&[]).unwrap() {
                all.push((
                    store.labels(sid).unwrap().unwrap(),
                    store.samples(sid, i64::MIN, i64::MAX).unwrap(),
                ));
            }
            all.sort_by(|a, b| a.0.cmp(&b.0));
            (stats.samples, stats.dropped, stats.blocks.len(), all)
        };
        let one_pass = read(u64::MAX);
        assert_eq!((one_pass.0, one_pass.1, one_pass.2), (200, 5, 8));
        assert_eq!(one_pass.3.len(), 5);
        assert_eq!(read(1), one_pass);
        assert_eq!(read(60), one_pass);
    }

    #[test]
    fn passes_hold_blocks_up_to_the_budget_and_never_split_one() {
        let blocks: BTreeMap<i64, u64> = [(0, 5), (10, 3), (20, 9), (30, 1), (40, 1)].into();
        assert_eq!(
            plan_passes(&blocks, 8),
            vec![vec![(0, 5), (10, 3)], vec![(20, 9)], vec![(30, 1), (40, 1)]]
        );
        assert_eq!(plan_passes(&blocks, 1).len(), 5);
        assert_eq!(plan_passes(&blocks, u64::MAX).len(), 1);
        assert!(plan_passes(&BTreeMap::new(), 8).is_empty());
    }

    /// Three blocks of 5 s, two series.
    const ORIGINAL: &str = "# TYPE m gauge\n\
        m{s=\"0\"} 0 0.000\n\
        m{s=\"1\"} 5 1.000\n\
        m{s=\"0\"} 1 6.000\n\
        m{s=\"1\"} 6 7.000\n\
        m{s=\"0\"} 2 12.000\n\
        # EOF\n";

    fn part_files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.join("db").join("chunks"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Backfills `ORIGINAL` into a directory already holding a series
    /// `kept`, with reads from the `changed_from`th on seeing `changed`;
    /// checks that the directory's parts and what a query sees are as
    /// before, and returns the error's text.
    fn backfill_changing(changed: &str, changed_from: usize, budget: u64) -> String {
        let tmp = tempfile::tempdir().unwrap();
        create_blocks_from_openmetrics("kept 7 3\n# EOF\n", "k", tmp.path(), 5_000, |_| {})
            .unwrap();
        let before = part_files(tmp.path());
        let reads = std::cell::Cell::new(0);
        let open = || {
            reads.set(reads.get() + 1);
            Ok(if reads.get() >= changed_from {
                changed.as_bytes()
            } else {
                ORIGINAL.as_bytes()
            })
        };
        let err = backfill(open, "in.om", tmp.path(), 5_000, budget, |_| {})
            .expect_err("a changed file is refused");
        assert!(matches!(err, BackfillError::FileChanged { .. }), "{err:?}");
        assert_eq!(part_files(tmp.path()), before, "nothing written stays");
        // Sled lets go of the directory a moment after the backfill's
        // handle is dropped; on a loaded machine, longer than the store
        // waits by itself.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let store = loop {
            match Store::open(&tmp.path().join("db"), 5_000) {
                Err(e) if std::time::Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                result => break result.unwrap(),
            }
        };
        let visible = store.select_series(&[], i64::MIN, i64::MAX).unwrap();
        assert_eq!(visible.len(), 1, "{visible:?}");
        assert_eq!(visible[0].1, vec![Label::new("__name__", "kept")]);
        err.to_string()
    }

    #[test]
    fn a_file_changed_between_passes_is_an_error_and_stores_nothing() {
        let hint = "the file changed during the backfill";
        let copy = "backfill a copy that is not being written";
        // Truncated while being read again.
        let truncated = &ORIGINAL[..ORIGINAL.len() - 20];
        let err = backfill_changing(truncated, 2, u64::MAX);
        assert!(err.starts_with("in.om: ") && err.contains(hint), "{err}");
        assert!(
            err.contains("does not end with # EOF") && err.contains(copy),
            "{err}"
        );
        // Appended to after its end.
        let appended = format!("{ORIGINAL}m{{s=\"0\"}} 3 13.000\n");
        let err = backfill_changing(&appended, 2, u64::MAX);
        assert!(err.contains("after # EOF"), "{err}");
        // A timestamp gone (this panicked: every sample was assumed to
        // still have the one the first pass saw).
        let untimed = ORIGINAL.replace("m{s=\"0\"} 0 0.000", "m{s=\"0\"} 0");
        let err = backfill_changing(&untimed, 2, u64::MAX);
        assert!(err.contains("line 2 has no timestamp now"), "{err}");
        // A value edited in place: same length, other bytes.
        let edited = ORIGINAL.replace("m{s=\"1\"} 5", "m{s=\"1\"} 4");
        assert_eq!(edited.len(), ORIGINAL.len());
        let err = backfill_changing(&edited, 2, u64::MAX);
        assert!(err.contains("content differs from the first read"), "{err}");
        // A sample inserted into a block: refused when the block outgrows
        // its count, before the rest of the file is kept.
        let grown = ORIGINAL.replace("# EOF", "m{s=\"2\"} 9 1.500\n# EOF");
        let err = backfill_changing(&grown, 2, u64::MAX);
        assert!(
            err.contains("block at 0 ms has more than the 2 samples"),
            "{err}"
        );
        // Changed before the third read, one block per pass: the part the
        // second read prepared is removed, not published.
        let later = ORIGINAL.replace("m{s=\"0\"} 2 12.000", "m{s=\"0\"} 3 12.000");
        let err = backfill_changing(&later, 3, 1);
        assert!(err.contains("content differs"), "{err}");
        // Gone.
        let tmp = tempfile::tempdir().unwrap();
        let reads = std::cell::Cell::new(0);
        let err = backfill(
            || {
                reads.set(reads.get() + 1);
                if reads.get() > 1 {
                    Err(std::io::Error::from(std::io::ErrorKind::NotFound))
                } else {
                    Ok(ORIGINAL.as_bytes())
                }
            },
            "in.om",
            tmp.path(),
            5_000,
            u64::MAX,
            |_| {},
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("can no longer be opened"), "{err}");
    }
}
