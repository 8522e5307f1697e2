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
//! once all are written.
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
}

impl SeriesBuf {
    fn new() -> Self {
        SeriesBuf { chunks: Vec::new() }
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

fn backfill<R: BufRead>(
    open: impl Fn() -> std::io::Result<R>,
    path: &str,
    data_dir: &Path,
    block_range_ms: i64,
    pass_samples: u64,
    mut progress: impl FnMut(Progress),
) -> Result<BackfillStats, BackfillError> {
    let range = block_range_ms.max(1);
    let block_of = |t: i64| t.div_euclid(range).saturating_mul(range);
    let read_err = |source| BackfillError::Read {
        path: path.to_owned(),
        source,
    };
    // Pass 1: every line checked, samples counted per block.
    let mut per_block: BTreeMap<i64, u64> = BTreeMap::new();
    let (mut min_time, mut max_time) = (i64::MAX, i64::MIN);
    scan(open().map_err(read_err)?, path, |sample, line| {
        let Some(t) = sample.timestamp else {
            return Err(BackfillError::MissingTimestamp {
                path: path.to_owned(),
                line,
                series: render(&series_labels(sample.series).unwrap_or_default()),
            });
        };
        min_time = min_time.min(t);
        max_time = max_time.max(t);
        *per_block.entry(block_of(t)).or_default() += 1;
        Ok(())
    })?;
    let samples_total: u64 = per_block.values().sum();
    let mut stats = BackfillStats {
        min_time,
        max_time,
        ..BackfillStats::default()
    };
    // Everything is valid: only now is the directory touched.
    let store = Store::open(&data_dir.join("db"), range)?;
    let blocks_total = per_block.len() as u64;
    let mut prepared: Vec<PreparedPart> = Vec::new();
    let mut series_seen: FxHashSet<Sid> = FxHashSet::default();
    let mut pending: Vec<(i64, u64)> = per_block.into_iter().collect();
    pending.reverse();
    let mut blocks_done = 0u64;
    while !pending.is_empty() {
        // The next blocks, as many as fit the pass' sample budget.
        let mut pass: Vec<i64> = Vec::new();
        let mut budget = 0u64;
        while let Some(&(block, n)) = pending.last() {
            if !pass.is_empty() && budget + n > pass_samples {
                break;
            }
            pass.push(block);
            budget += n;
            pending.pop();
        }
        let (first, last) = (pass[0], pass[pass.len() - 1]);
        let slot = |t: i64| pass.binary_search(&block_of(t)).ok();
        let mut buffers: Vec<BlockSamples> = pass.iter().map(|_| BlockSamples::default()).collect();
        let mut key = Vec::new();
        scan(open().map_err(read_err)?, path, |sample, _| {
            let t = sample.timestamp.expect("checked in the first pass");
            if t < first || block_of(t) > last {
                return Ok(());
            }
            let Some(i) = slot(t) else { return Ok(()) };
            let buffer = &mut buffers[i];
            key.clear();
            key.push(sample.float_label as u8);
            key.extend_from_slice(sample.series);
            let kept = match buffer.get_mut(key.as_slice()) {
                Some(buf) => buf.push(t, sample.value),
                None => {
                    let mut buf = SeriesBuf::new();
                    let kept = buf.push(t, sample.value);
                    buffer.insert(key.as_slice().into(), buf);
                    kept
                }
            };
            if !kept {
                stats.dropped += 1;
            }
            Ok(())
        })?;
        for (block, samples) in pass.iter().zip(buffers) {
            let (part, written) = write_block(&store, *block, range, samples, &mut series_seen)?;
            prepared.extend(part);
            stats.samples += written;
            stats.blocks.insert(*block);
            blocks_done += 1;
            progress(Progress {
                blocks_done,
                blocks_total,
                samples_done: stats.samples + stats.dropped,
                samples_total,
            });
        }
    }
    store.publish(prepared)?;
    stats.series = series_seen.len() as u64;
    store.flush()?;
    stats.chunk_bytes = store.parts_bytes();
    stats.index_logical_bytes = store.index_logical_size();
    stats.index_disk_bytes = store.index_bytes_on_disk();
    Ok(stats)
}

/// Writes one block's samples as a prepared (not yet visible) part;
/// returns it and the samples written.
fn write_block(
    store: &Store,
    block: i64,
    range: i64,
    samples: BlockSamples,
    series_seen: &mut FxHashSet<Sid>,
) -> Result<(Option<PreparedPart>, u64), BackfillError> {
    // Two texts of one label set (labels in another order, say) are one
    // series: grouped by id, their samples merged.
    let mut by_sid: Vec<(Sid, SeriesBuf)> = Vec::with_capacity(samples.len());
    for (key, buf) in samples {
        let mut labels = key_labels(&key).expect("checked in the first pass");
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
/// to `sample`.
fn scan<R: BufRead>(
    mut input: R,
    path: &str,
    mut sample: impl FnMut(&RawSample<'_>, usize) -> Result<(), BackfillError>,
) -> Result<(), BackfillError> {
    let mut line = Vec::with_capacity(1024);
    let mut number = 0usize;
    let mut float_label = FloatLabel::None;
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
                    Ok(0) => Ok(()),
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
