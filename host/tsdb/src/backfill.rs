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

use crate::chunk::XorChunk;
use crate::store::{PreparedPart, Sid, Store, StoreError};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::path::Path;
use wasmetheus_model::Label;

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

/// The bytes of a file up to its `# EOF` line and their checksum: two
/// reads of a file that did not change in between have the same digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Digest {
    bytes: u64,
    crc: u32,
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

/// A sample line as read: the series text (name and labels as written)
/// and what follows it.
struct RawSample<'a> {
    series: &'a [u8],
    value: f64,
    timestamp: Option<i64>,
    /// The label whose value is a float to normalise, from the last
    /// `# TYPE` line read (wherever it was: Prometheus keeps the type until
    /// the next one).
    float_label: FloatLabel,
}

/// Prometheus 3 writes the `le` of classic histograms and the `quantile`
/// of summaries as OpenMetrics floats (`1` becomes `1.0`), so that a bucket
/// is one series however the exposition spelled its bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FloatLabel {
    None = 0,
    Le = 1,
    Quantile = 2,
}

impl FloatLabel {
    fn from_tag(tag: u8) -> FloatLabel {
        match tag {
            1 => FloatLabel::Le,
            2 => FloatLabel::Quantile,
            _ => FloatLabel::None,
        }
    }

    fn name(self) -> Option<&'static str> {
        match self {
            FloatLabel::None => None,
            FloatLabel::Le => Some("le"),
            FloatLabel::Quantile => Some("quantile"),
        }
    }
}

/// Go's `formatOpenMetricsFloat`: the shortest round-trip digits, in
/// exponent form below 1e-4 and from 1e6 on (`strconv`'s `'g'` with
/// precision -1), with `.0` added to what has neither a point nor an
/// exponent.
fn openmetrics_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    // Shortest 'g' switches to an exponent below -4 or from 6 on.
    let text = if !(-4..6).contains(&exp) {
        format!(
            "{mantissa}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    } else {
        format!("{f}")
    };
    if text.contains(['e', '.']) {
        text
    } else {
        text + ".0"
    }
}

/// The labels of a series key (the float-label tag, then the text).
fn key_labels(key: &[u8]) -> Result<Vec<Label>, String> {
    let (tag, text) = key.split_first().ok_or("empty series key")?;
    let mut labels = series_labels(text)?;
    if let Some(name) = FloatLabel::from_tag(*tag).name() {
        for l in labels.iter_mut().filter(|l| l.name == name) {
            if let Some(f) = go_float(&l.value) {
                l.value = openmetrics_float(f);
            }
        }
    }
    Ok(labels)
}

/// `strconv.ParseFloat` for a label value: Go's syntax, which Rust's
/// parser accepts too except for hexadecimal and digit separators.
fn go_float(s: &str) -> Option<f64> {
    if s.contains(['x', 'X', '_']) {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    // Go refuses what overflows; only spelled-out infinities are infinite.
    (!v.is_infinite() || s.trim_start_matches(['+', '-']).starts_with(['i', 'I'])).then_some(v)
}

/// Reads `input` line by line, checking every line as Prometheus'
/// OpenMetrics parser does and handing each sample (with its line number)
/// to `sample`; returns the digest of what it read.
fn scan<R: BufRead>(
    mut input: R,
    path: &str,
    mut sample: impl FnMut(&RawSample<'_>, usize) -> Result<(), BackfillError>,
) -> Result<Digest, BackfillError> {
    let mut line = Vec::with_capacity(1024);
    let mut number = 0usize;
    let mut float_label = FloatLabel::None;
    let mut crc = crc32fast::Hasher::new();
    let mut bytes = 0u64;
    let parse_err = |line: usize, message: String| BackfillError::Parse {
        path: path.to_owned(),
        line,
        message,
    };
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|source| BackfillError::Read {
                path: path.to_owned(),
                source,
            })?;
        number += 1;
        if n == 0 {
            return Err(parse_err(number, "data does not end with # EOF".into()));
        }
        crc.update(&line);
        bytes += n as u64;
        let text = match line.strip_suffix(b"\n") {
            Some(text) => text,
            None if line.as_slice() == b"# EOF" => b"# EOF",
            None => return Err(parse_err(number, "data does not end with # EOF".into())),
        };
        match parse_line(text).map_err(|m| parse_err(number, m))? {
            Line::Meta => {}
            Line::Type(t) => float_label = t,
            Line::Eof => {
                let mut rest = [0u8; 1];
                return match input.read(&mut rest) {
                    Ok(0) => Ok(Digest {
                        bytes,
                        crc: crc.finalize(),
                    }),
                    Ok(_) => Err(parse_err(number + 1, "unexpected data after # EOF".into())),
                    Err(source) => Err(BackfillError::Read {
                        path: path.to_owned(),
                        source,
                    }),
                };
            }
            Line::Sample(mut s) => {
                s.float_label = float_label;
                sample(&s, number)?
            }
        }
    }
}

enum Line<'a> {
    Meta,
    /// A `# TYPE` line: the float label of the samples after it.
    Type(FloatLabel),
    Eof,
    Sample(RawSample<'a>),
}

fn parse_line(line: &[u8]) -> Result<Line<'_>, String> {
    if let Some(rest) = line.strip_prefix(b"#") {
        if rest == b" EOF" {
            return Ok(Line::Eof);
        }
        return parse_meta(rest).map(|t| t.map_or(Line::Meta, Line::Type));
    }
    let mut c = Cur { b: line, i: 0 };
    let has_name = c.name(is_metric_start, is_metric_char);
    let mut named = has_name;
    if c.peek() == Some(b'{') {
        named |= c.labels(!has_name, false)?;
    } else if !has_name {
        return Err(format!(
            "expected a metric name or '{{' at the start of {:?}",
            lossy(line)
        ));
    }
    if !named {
        return Err(format!("metric name not set in {:?}", lossy(line)));
    }
    let series = &line[..c.i];
    c.space("the series")?;
    let value = float(c.token(), "value")?;
    let mut timestamp = None;
    if c.peek() == Some(b' ') {
        c.i += 1;
        if c.peek() != Some(b'#') {
            let ts = float(c.token(), "timestamp")?;
            if !ts.is_finite() {
                return Err(format!("invalid timestamp {ts}"));
            }
            // Prometheus' `int64(ts * 1000)`: truncated, not rounded.
            timestamp = Some((ts * 1000.0) as i64);
            if c.peek() == Some(b' ') {
                c.i += 1;
                if c.peek() != Some(b'#') {
                    return Err(format!(
                        "expected an exemplar or the end of the line after the timestamp in {:?}",
                        lossy(line)
                    ));
                }
            }
        }
        if c.peek() == Some(b'#') {
            exemplar(&mut c)?;
        }
    }
    if c.i != line.len() {
        return Err(format!(
            "unexpected {:?} after the sample in {:?}",
            lossy(&line[c.i..]),
            lossy(line)
        ));
    }
    Ok(Line::Sample(RawSample {
        series,
        value,
        timestamp,
        float_label: FloatLabel::None,
    }))
}

/// ` # {labels} value [timestamp]` after a sample.
fn exemplar(c: &mut Cur<'_>) -> Result<(), String> {
    if !c.b[c.i..].starts_with(b"# {") {
        return Err("expected an exemplar after '#'".into());
    }
    c.i += 2;
    c.labels(false, true)?;
    c.space("the exemplar labels")?;
    float(c.token(), "exemplar value")?;
    if c.peek() == Some(b' ') {
        c.i += 1;
        let ts = float(c.token(), "exemplar timestamp")?;
        if !ts.is_finite() {
            return Err(format!("invalid exemplar timestamp {ts}"));
        }
    }
    Ok(())
}

/// `# HELP|TYPE|UNIT name text` (the leading `#` removed); for a TYPE
/// line, the float label of its type.
fn parse_meta(rest: &[u8]) -> Result<Option<FloatLabel>, String> {
    let kind = if rest.starts_with(b" HELP ") {
        "HELP"
    } else if rest.starts_with(b" TYPE ") {
        "TYPE"
    } else if rest.starts_with(b" UNIT ") {
        "UNIT"
    } else {
        return Err(format!(
            "a comment must be # HELP, # TYPE, # UNIT or # EOF, not {:?}",
            lossy(rest)
        ));
    };
    let mut c = Cur { b: rest, i: 6 };
    let start = c.i;
    let name = if c.peek() == Some(b'"') {
        let s = c.quoted()?;
        s.into_bytes()
    } else if c.name(is_metric_start, is_metric_char) {
        rest[start..c.i].to_vec()
    } else {
        return Err(format!("expected metric name after {kind}"));
    };
    if c.peek() != Some(b' ') {
        return Err(format!("expected text in {kind}"));
    }
    let text = &rest[c.i + 1..];
    match kind {
        "TYPE" => match text {
            b"histogram" => Ok(Some(FloatLabel::Le)),
            b"summary" => Ok(Some(FloatLabel::Quantile)),
            b"counter" | b"gauge" | b"gaugehistogram" | b"info" | b"stateset" | b"unknown" => {
                Ok(Some(FloatLabel::None))
            }
            _ => Err(format!("invalid metric type {:?}", lossy(text))),
        },
        "HELP" => std::str::from_utf8(text)
            .map(|_| None)
            .map_err(|_| format!("help text {:?} is not a valid utf8 string", lossy(text))),
        _ => {
            let ok = text.is_empty()
                || (name.len() > text.len()
                    && name.ends_with(text)
                    && name[name.len() - text.len() - 1] == b'_');
            if ok {
                Ok(None)
            } else {
                Err(format!(
                    "unit {:?} not a suffix of metric {:?}",
                    lossy(text),
                    lossy(&name)
                ))
            }
        }
    }
}

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

fn is_metric_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':'
}

fn is_metric_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}

fn is_label_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_label_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Prometheus' `parseFloat`: Go's float syntax without hexadecimal
/// mantissas or digit separators.
fn float(token: &[u8], what: &str) -> Result<f64, String> {
    let s = std::str::from_utf8(token).map_err(|_| format!("invalid {what} {:?}", lossy(token)))?;
    if s.is_empty() {
        return Err(format!("expected {what}"));
    }
    if s.contains(['p', 'P', '_', 'x', 'X']) {
        return Err(format!("unsupported character in {what} {s:?}"));
    }
    let v = s
        .parse::<f64>()
        .map_err(|_| format!("invalid {what} {s:?}"))?;
    // Go's ParseFloat refuses what overflows; only the spelled-out
    // infinities are infinite.
    if v.is_infinite() && !s.trim_start_matches(['+', '-']).starts_with(['i', 'I']) {
        return Err(format!("{what} {s:?} out of range"));
    }
    Ok(v)
}

struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cur<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Skips a name; whether there was one.
    fn name(&mut self, start: fn(u8) -> bool, rest: fn(u8) -> bool) -> bool {
        if !self.peek().is_some_and(start) {
            return false;
        }
        self.i += 1;
        while self.peek().is_some_and(rest) {
            self.i += 1;
        }
        true
    }

    fn space(&mut self, after: &str) -> Result<(), String> {
        if self.peek() != Some(b' ') {
            return Err(format!("expected a space and a value after {after}"));
        }
        self.i += 1;
        Ok(())
    }

    /// Up to the next space or the end of the line.
    fn token(&mut self) -> &[u8] {
        let start = self.i;
        while self.peek().is_some_and(|b| b != b' ') {
            self.i += 1;
        }
        &self.b[start..self.i]
    }

    /// A quoted string, unescaped as Prometheus does (`\\`, `\"`, `\n`;
    /// any other escaped character is kept with its backslash).
    fn quoted(&mut self) -> Result<String, String> {
        if self.peek() != Some(b'"') {
            return Err("expected a quoted string".into());
        }
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err("unterminated quoted string".into()),
                Some(b'"') => {
                    self.i += 1;
                    break;
                }
                Some(b'\\') => {
                    let Some(next) = self.b.get(self.i + 1).copied() else {
                        return Err("unterminated quoted string".into());
                    };
                    match next {
                        b'\\' => out.push(b'\\'),
                        b'"' => out.push(b'"'),
                        b'n' => out.push(b'\n'),
                        other => out.extend_from_slice(&[b'\\', other]),
                    }
                    self.i += 2;
                }
                Some(b) => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
        String::from_utf8(out)
            .map_err(|e| format!("invalid UTF-8 label value: {:?}", lossy(e.as_bytes())))
    }

    /// `{…}` at the cursor: label pairs, and (where `name_allowed`) a
    /// quoted metric name standing alone. Checks what Prometheus checks
    /// (and that no label name repeats, which its appender refuses);
    /// returns whether a metric name was found inside.
    fn labels(&mut self, name_allowed: bool, exemplar: bool) -> Result<bool, String> {
        self.labels_into(name_allowed, exemplar, &mut |_, _| ())
    }

    fn labels_into(
        &mut self,
        name_allowed: bool,
        exemplar: bool,
        each: &mut dyn FnMut(String, String),
    ) -> Result<bool, String> {
        debug_assert_eq!(self.peek(), Some(b'{'));
        self.i += 1;
        let mut named = false;
        let mut names: Vec<String> = Vec::new();
        loop {
            if self.peek() == Some(b'}') {
                self.i += 1;
                return Ok(named);
            }
            let name = if self.peek() == Some(b'"') {
                let quoted = self.quoted()?;
                if matches!(self.peek(), Some(b',' | b'}')) {
                    if !name_allowed || exemplar {
                        return Err("expected label name, got a quoted string".into());
                    }
                    if named || names.iter().any(|n| n == "__name__") {
                        return Err("metric name already set".into());
                    }
                    named = true;
                    each("__name__".into(), quoted);
                    if self.peek() == Some(b',') {
                        self.i += 1;
                    }
                    continue;
                }
                quoted
            } else {
                let start = self.i;
                if !self.name(is_label_start, is_label_char) {
                    return Err(format!(
                        "expected label name at {:?}",
                        lossy(&self.b[self.i..])
                    ));
                }
                String::from_utf8_lossy(&self.b[start..self.i]).into_owned()
            };
            if self.peek() != Some(b'=') {
                return Err(format!("expected equal after label name {name:?}"));
            }
            self.i += 1;
            let value = self.quoted()?;
            if !exemplar {
                // A `__name__` pair repeats the name written before the braces
                // or quoted inside them.
                let renamed = name == "__name__" && (named || !name_allowed);
                if names.contains(&name) || renamed {
                    return Err(format!("label name {name:?} is not unique"));
                }
                names.push(name.clone());
            }
            each(name, value);
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {}
                _ => return Err("expected comma or brace close".into()),
            }
        }
    }
}

/// The labels of a series text from the file (`__name__` included), in
/// the order written.
fn series_labels(series: &[u8]) -> Result<Vec<Label>, String> {
    let mut c = Cur { b: series, i: 0 };
    let mut labels = Vec::new();
    if c.name(is_metric_start, is_metric_char) {
        labels.push(Label::new(
            "__name__",
            String::from_utf8_lossy(&series[..c.i]).into_owned(),
        ));
    }
    let named = !labels.is_empty();
    if c.peek() == Some(b'{') {
        c.labels_into(!named, false, &mut |name, value| {
            labels.push(Label::new(name, value));
        })?;
    }
    Ok(labels)
}

fn render(labels: &[Label]) -> String {
    let name = labels
        .iter()
        .find(|l| l.name == "__name__")
        .map_or("", |l| l.value.as_str());
    let rest: Vec<String> = labels
        .iter()
        .filter(|l| l.name != "__name__")
        .map(|l| format!("{}={:?}", l.name, l.value))
        .collect();
    format!("{name}{{{}}}", rest.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn lines_parse_as_prometheus_reads_them() {
        let sample = |l: &str| match parse_line(l.as_bytes()) {
            Ok(Line::Sample(s)) => Ok((
                series_labels(s.series).unwrap(),
                s.value.to_bits(),
                s.timestamp,
            )),
            Ok(_) => Err("not a sample".to_string()),
            Err(e) => Err(e),
        };
        let (labels, v, t) = sample(r#"a_b{x="1\n\"\\\q",y=""} -Inf 1.001"#).unwrap();
        assert_eq!(
            labels,
            vec![
                Label::new("__name__", "a_b"),
                Label::new("x", "1\n\"\\\\q"),
                Label::new("y", "")
            ]
        );
        assert_eq!(v, f64::NEG_INFINITY.to_bits());
        assert_eq!(t, Some(1000), "truncated like int64(ts * 1000)");
        let (labels, _, t) = sample(r#"{"my.metric",le="+Inf",} 1 -2.5 # {id="x"} 1 2"#).unwrap();
        assert_eq!(labels[0], Label::new("__name__", "my.metric"));
        assert_eq!(t, Some(-2500));
        assert_eq!(sample("up 1").unwrap().2, None);
        for bad in [
            "up",
            "up  1 1",
            "up 1 1 ",
            "up 0x1p3 1",
            "up 1e400 1",
            "up{a=\"1\"}  1 1",
            "up 1_0 1",
            "up 1 NaN",
            r#"up{a="1",a="2"} 1 1"#,
            r#"up{__name__="x"} 1 1"#,
            r#"{"up",__name__="x"} 1 1"#,
            r#"{__name__="up"} 1 1"#,
            r#"{__name__="x","up"} 1 1"#,
            r#"up{"x","y"} 1 1"#,
            r#"{a="1"} 1 1"#,
            r#"up{a=1} 1 1"#,
            r#"up{a="1"} 1 1 # {a} 1"#,
            "# comment",
            "# TYPE up",
            "# TYPE up countr",
            "# UNIT up_seconds bytes",
            "",
        ] {
            assert!(sample(bad).is_err(), "{bad:?} accepted");
        }
        assert!(matches!(
            parse_line(b"# UNIT up_seconds seconds"),
            Ok(Line::Meta)
        ));
        assert!(matches!(parse_line(b"# HELP up "), Ok(Line::Meta)));
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

    #[test]
    fn float_labels_are_written_as_prometheus_3_writes_them() {
        for (v, want) in [
            (1.0, "1.0"),
            (0.0, "0.0"),
            (-1.0, "-1.0"),
            (0.5, "0.5"),
            (10.0, "10.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123456.0, "123456.0"),
            (1e6, "1e+06"),
            (2.5e6, "2.5e+06"),
            (1e100, "1e+100"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(openmetrics_float(v), want, "{v}");
        }
        let key = |tag: FloatLabel, text: &str| {
            let mut k = vec![tag as u8];
            k.extend_from_slice(text.as_bytes());
            key_labels(&k).unwrap()
        };
        assert_eq!(
            key(FloatLabel::Le, r#"h_bucket{le="1",quantile="1"}"#)[1..],
            [Label::new("le", "1.0"), Label::new("quantile", "1")]
        );
        assert_eq!(
            key(FloatLabel::Quantile, r#"s{quantile="0.50",le="1"}"#)[1..],
            [Label::new("quantile", "0.5"), Label::new("le", "1")]
        );
        assert_eq!(
            key(FloatLabel::Le, r#"h_bucket{le="+inf"}"#)[1],
            Label::new("le", "+Inf")
        );
        assert_eq!(
            key(FloatLabel::Le, r#"h_bucket{le="x"}"#)[1],
            Label::new("le", "x")
        );
        assert_eq!(
            key(FloatLabel::None, r#"h_bucket{le="1"}"#)[1],
            Label::new("le", "1")
        );
    }
}
