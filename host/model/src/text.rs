//! Prometheus text exposition format 0.0.4: encoder, parser, and the parse
//! result types shared with the OpenMetrics parser.
//!
//! # Encoding
//!
//! The output matches client_golang's `expfmt` text encoder wherever the
//! model can express the same thing:
//!
//! * values and `le`/`quantile` label values are formatted like Go's
//!   `strconv.FormatFloat(v, 'g', -1, 64)` (`1.5e+06`, `123456`, `1e-05`),
//!   with `0` for both zeros, `+Inf`, `-Inf` and `NaN`;
//! * counters are exposed as `<name>_total` and info families as a gauge
//!   named `<name>_info`, unless the name already carries the suffix;
//! * state sets are gauges; gauge histograms are histograms (`_bucket`,
//!   `_sum`, `_count`), since 0.0.4 has neither type;
//! * a histogram without a `+Inf` bucket gets one holding its count;
//! * the `# HELP` line is left out when the help text is empty. client_golang
//!   leaves it out exactly when the help is unset; the model has no "unset",
//!   and Prometheus reads a missing and an empty HELP the same way.
//!
//! # Parsing
//!
//! [`parse`] accepts what Prometheus' own text parser accepts (blank lines,
//! arbitrary comments including `# EOF`, whitespace between tokens, a
//! trailing comma in a label set, Prometheus 3 quoted UTF-8 names such as
//! `{"my.metric", "my.label"="v"}`), and rejects in addition what
//! client_golang's parser rejects: duplicate label names, a second `# TYPE`
//! or `# HELP` for one family, and a `# TYPE` after the family's samples.
//! Samples keep the name and label order they were written with.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

use crate::{Label, Metric, MetricFamily, MetricKind, MetricValue, Sample};

/// The result of parsing an exposition: flat samples plus the metadata
/// (`# TYPE`, `# HELP`, `# UNIT`) of the families that declared any.
/// Families that only appear through their samples have no entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Exposition {
    pub metadata: Vec<FamilyMetadata>,
    pub samples: Vec<Sample>,
    /// Exemplars attached to samples (OpenMetrics only).
    pub exemplars: Vec<Exemplar>,
}

/// Metadata of one family. `name` is written as in the `# TYPE`/`# HELP`
/// line: in OpenMetrics a counter family `foo` has samples `foo_total`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyMetadata {
    pub name: String,
    pub kind: MetricKind,
    pub help: String,
    pub unit: String,
}

/// An OpenMetrics exemplar, attached to `samples[sample]` of its exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    pub sample: usize,
    pub labels: Vec<Label>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

/// Why an exposition was rejected. `line` and `column` are 1-based; the
/// column counts characters, not bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Writes `families` in the text format 0.0.4, appending to `out`.
pub fn encode(families: &[MetricFamily], out: &mut String) {
    for family in families {
        let (base, suffix) = number_sample_name(family);
        if !family.help.is_empty() {
            out.push_str("# HELP ");
            out.push_str(base);
            out.push_str(suffix);
            out.push(' ');
            write_escaped(out, &family.help, false);
            out.push('\n');
        }
        out.push_str("# TYPE ");
        out.push_str(base);
        out.push_str(suffix);
        out.push(' ');
        out.push_str(family.kind.as_str(false));
        out.push('\n');
        for metric in &family.metrics {
            write_metric(out, Format::Text, family, metric);
        }
    }
}

/// Parses the text format 0.0.4.
pub fn parse(input: &str) -> Result<Exposition, ParseError> {
    let mut samples = Vec::new();
    let metadata = parse_into(input, &mut samples)?;
    Ok(Exposition {
        metadata,
        samples,
        exemplars: Vec::new(),
    })
}

/// One sample as the parser met it, borrowing from the input, so that a
/// caller that has seen the same series before needs to build nothing.
#[derive(Debug)]
pub struct RawSample<'a, 'p> {
    /// The series exactly as written (name and label set, without the
    /// value): equal text is the same series, though one series may be
    /// written in more than one way.
    pub series: &'a str,
    pub name: &'p str,
    /// Unescaped, in the order written.
    pub labels: &'p [(Cow<'a, str>, Cow<'a, str>)],
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

/// Receives the samples of an exposition as [`parse_into`] reads them.
/// A later line can still make the exposition invalid: whatever the sink
/// did with the earlier samples must be undone when the parse fails.
pub trait SampleSink<'a> {
    fn sample(&mut self, sample: RawSample<'a, '_>);
    /// Whether the sink knows the series written as `series` from an
    /// earlier [`sample`](Self::sample) (so the text is valid): the parser
    /// then skips its labels and calls [`known_sample`](Self::known_sample)
    /// instead, unless the rest of the line is malformed.
    fn knows(&mut self, series: &'a str) -> bool {
        let _ = series;
        false
    }
    /// The value of the series the last [`knows`](Self::knows) knew.
    fn known_sample(&mut self, value: f64, timestamp_ms: Option<i64>) {
        let _ = (value, timestamp_ms);
    }
}

impl<'a> SampleSink<'a> for Vec<Sample> {
    fn sample(&mut self, s: RawSample<'a, '_>) {
        self.push(Sample {
            name: s.name.to_owned(),
            labels: s
                .labels
                .iter()
                .map(|(name, value)| Label::new(name.as_ref(), value.as_ref()))
                .collect(),
            value: s.value,
            timestamp_ms: s.timestamp_ms,
        });
    }
}

/// Parses the text format 0.0.4, handing every sample to `sink` without
/// allocating for it; returns the families' metadata.
pub fn parse_into<'a>(
    input: &'a str,
    sink: &mut impl SampleSink<'a>,
) -> Result<Vec<FamilyMetadata>, ParseError> {
    let mut parser = TextParser::default();
    for (index, line) in input.split('\n').enumerate() {
        parser
            .line(line, sink)
            .map_err(|err| err.into_parse_error(index + 1, line))?;
    }
    Ok(parser.metadata)
}

// ---------------------------------------------------------------------------
// Encoding helpers shared with the OpenMetrics encoder and `flatten`.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Text,
    OpenMetrics,
}

/// The name of a family's plain (non-histogram, non-summary) samples, split
/// so that no string has to be built: counters end in `_total` and info
/// metrics in `_info`. Both formats name these samples the same way.
pub(crate) fn number_sample_name(family: &MetricFamily) -> (&str, &'static str) {
    let suffix = match family.kind {
        MetricKind::Counter => "_total",
        MetricKind::Info => "_info",
        _ => "",
    };
    if family.name.ends_with(suffix) {
        (&family.name, "")
    } else {
        (&family.name, suffix)
    }
}

/// The suffixes of a histogram value's `_sum` and `_count` samples.
pub(crate) fn histogram_suffixes(kind: MetricKind, format: Format) -> (&'static str, &'static str) {
    if kind == MetricKind::GaugeHistogram && format == Format::OpenMetrics {
        ("_gsum", "_gcount")
    } else {
        ("_sum", "_count")
    }
}

pub(crate) fn write_metric(
    out: &mut String,
    format: Format,
    family: &MetricFamily,
    metric: &Metric,
) {
    let labels = &metric.labels;
    let ts = metric.timestamp_ms;
    let name = family.name.as_str();
    match &metric.value {
        MetricValue::Number(value) => {
            let (base, suffix) = number_sample_name(family);
            write_sample(out, format, (base, suffix), labels, None, *value, ts);
        }
        MetricValue::Histogram(h) => {
            let mut inf_seen = false;
            for bucket in &h.buckets {
                inf_seen |= bucket.upper_bound == f64::INFINITY;
                let le = Some(("le", bucket.upper_bound));
                write_sample(
                    out,
                    format,
                    (name, "_bucket"),
                    labels,
                    le,
                    bucket.cumulative_count,
                    ts,
                );
            }
            if !inf_seen {
                let le = Some(("le", f64::INFINITY));
                write_sample(out, format, (name, "_bucket"), labels, le, h.count, ts);
            }
            let (sum, count) = histogram_suffixes(family.kind, format);
            write_sample(out, format, (name, sum), labels, None, h.sum, ts);
            write_sample(out, format, (name, count), labels, None, h.count, ts);
        }
        MetricValue::Summary(s) => {
            for q in &s.quantiles {
                let quantile = Some(("quantile", q.quantile));
                write_sample(out, format, (name, ""), labels, quantile, q.value, ts);
            }
            write_sample(out, format, (name, "_sum"), labels, None, s.sum, ts);
            write_sample(out, format, (name, "_count"), labels, None, s.count, ts);
        }
    }
}

fn write_sample(
    out: &mut String,
    format: Format,
    (base, suffix): (&str, &str),
    labels: &[Label],
    extra: Option<(&str, f64)>,
    value: f64,
    timestamp_ms: Option<i64>,
) {
    out.push_str(base);
    out.push_str(suffix);
    if !labels.is_empty() || extra.is_some() {
        out.push('{');
        for (i, label) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&label.name);
            out.push_str("=\"");
            write_escaped(out, &label.value, true);
            out.push('"');
        }
        if let Some((name, bound)) = extra {
            if !labels.is_empty() {
                out.push(',');
            }
            out.push_str(name);
            out.push_str("=\"");
            write_number(out, format, bound);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    write_number(out, format, value);
    if let Some(ts) = timestamp_ms {
        out.push(' ');
        match format {
            Format::Text => {
                let _ = write!(out, "{ts}");
            }
            Format::OpenMetrics => write_seconds(out, ts),
        }
    }
    out.push('\n');
}

fn write_number(out: &mut String, format: Format, value: f64) {
    match format {
        Format::Text => write_float(out, value),
        Format::OpenMetrics => write_om_float(out, value),
    }
}

/// Escapes `\` and newline, and `"` too when `quote` is set (label values,
/// OpenMetrics HELP). Unescaped runs are copied in one go.
pub(crate) fn write_escaped(out: &mut String, s: &str, quote: bool) {
    let mut start = 0;
    for (i, byte) in s.bytes().enumerate() {
        let escaped = match byte {
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'"' if quote => "\\\"",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        out.push_str(escaped);
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// Formats like client_golang's `writeFloat`: Go's shortest `'g'` format
/// with special cases for zero and the non-finite values.
pub(crate) fn write_float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else if value == 0.0 {
        // Also for -0.0, which Go's `f == 0` case catches.
        out.push('0');
    } else if (1e-4..1e6).contains(&value.abs()) {
        // Go's 'g' picks positional notation exactly for decimal exponents
        // -4..=5, where Rust's Display prints the same shortest digits.
        let _ = write!(out, "{value}");
    } else {
        // Rust's `{:e}` has the same shortest digits as Go but writes the
        // exponent as `e6`/`e-5`; Go writes a sign and at least two digits.
        let start = out.len();
        let _ = write!(out, "{value:e}");
        let Some(e) = out[start..].rfind('e') else {
            return;
        };
        let mut digits = start + e + 1;
        if out.as_bytes().get(digits) == Some(&b'-') {
            digits += 1;
        } else {
            out.insert(digits, '+');
            digits += 1;
        }
        if out.len() - digits < 2 {
            out.insert(digits, '0');
        }
    }
}

/// [`write_float`] into a new string, for messages.
pub(crate) fn float_string(value: f64) -> String {
    let mut out = String::new();
    write_float(&mut out, value);
    out
}

/// OpenMetrics wants a float to look like one: like [`write_float`], but a
/// finite value always has a `.` or an exponent (`1.0`, client_golang's
/// `writeOpenMetricsFloat`). This also makes `le`/`quantile` canonical.
pub(crate) fn write_om_float(out: &mut String, value: f64) {
    let start = out.len();
    write_float(out, value);
    if value.is_finite() && !out[start..].contains(['.', 'e']) {
        out.push_str(".0");
    }
}

/// Writes milliseconds as exact decimal seconds (`1520879607.789`, `-0.5`,
/// `12`): going through a float would print `1.520879607789e+09`.
pub(crate) fn write_seconds(out: &mut String, ms: i64) {
    if ms < 0 {
        out.push('-');
    }
    let secs = (ms / 1000).unsigned_abs();
    let millis = (ms % 1000).unsigned_abs();
    let _ = write!(out, "{secs}");
    if millis != 0 {
        let _ = write!(out, ".{millis:03}");
        while out.ends_with('0') {
            out.pop();
        }
    }
}

// ---------------------------------------------------------------------------
// Lexical helpers shared with the OpenMetrics parser.

/// An error inside one line: a byte offset into the line and a message.
/// `line` overrides the line number for errors found after the fact (a
/// family or histogram that turns out invalid once it is complete).
#[derive(Debug)]
pub(crate) struct LineError {
    pub(crate) line: Option<usize>,
    pub(crate) pos: usize,
    pub(crate) message: String,
}

impl LineError {
    pub(crate) fn new(pos: usize, message: impl Into<String>) -> Self {
        LineError {
            line: None,
            pos,
            message: message.into(),
        }
    }

    /// An error about an earlier line, reported at its first column.
    pub(crate) fn at_line(line: usize, message: impl Into<String>) -> Self {
        LineError {
            line: Some(line),
            pos: 0,
            message: message.into(),
        }
    }

    pub(crate) fn into_parse_error(self, line_no: usize, line: &str) -> ParseError {
        let (line, column) = match self.line {
            Some(other) => (other, 1),
            None => {
                let pos = self.pos.min(line.len());
                let chars = line.get(..pos).map_or(pos, |s| s.chars().count());
                (line_no, chars + 1)
            }
        };
        ParseError {
            line,
            column,
            message: self.message,
        }
    }
}

pub(crate) type LineResult<T> = Result<T, LineError>;

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// End of the metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`) starting at `pos`;
/// `pos` itself when there is none.
pub(crate) fn scan_metric_name(line: &str, pos: usize) -> usize {
    let bytes = line.as_bytes();
    match bytes.get(pos) {
        Some(&b) if is_name_start(b) || b == b':' => {}
        _ => return pos,
    }
    pos + 1
        + bytes[pos + 1..]
            .iter()
            .take_while(|&&b| is_name_char(b) || b == b':')
            .count()
}

/// End of the label name (`[a-zA-Z_][a-zA-Z0-9_]*`) starting at `pos`.
pub(crate) fn scan_label_name(line: &str, pos: usize) -> usize {
    let bytes = line.as_bytes();
    match bytes.get(pos) {
        Some(&b) if is_name_start(b) => {}
        _ => return pos,
    }
    pos + 1
        + bytes[pos + 1..]
            .iter()
            .take_while(|&&b| is_name_char(b))
            .count()
}

pub(crate) fn is_metric_name(name: &str) -> bool {
    !name.is_empty() && scan_metric_name(name, 0) == name.len()
}

pub(crate) fn is_label_name(name: &str) -> bool {
    !name.is_empty() && scan_label_name(name, 0) == name.len()
}

/// Describes the character at `pos` for error messages.
pub(crate) fn found(line: &str, pos: usize) -> String {
    match line.get(pos..).and_then(|rest| rest.chars().next()) {
        Some(c) => format!("{c:?}"),
        None => "end of line".to_owned(),
    }
}

/// Reads a double-quoted string whose opening quote is at `open`, undoing
/// the `\\`, `\"` and `\n` escapes. Other backslashes are kept as written,
/// as Prometheus does. Returns the content and the offset past the closing
/// quote.
pub(crate) fn scan_quoted<'a>(
    line: &'a str,
    open: usize,
    what: &str,
) -> LineResult<(Cow<'a, str>, usize)> {
    let bytes = line.as_bytes();
    let start = open + 1;
    let mut owned: Option<String> = None;
    let mut run = start;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let value = match owned {
                    None => Cow::Borrowed(&line[start..i]),
                    Some(mut s) => {
                        s.push_str(&line[run..i]);
                        Cow::Owned(s)
                    }
                };
                return Ok((value, i + 1));
            }
            b'\\' => {
                let replacement = match bytes.get(i + 1) {
                    Some(b'\\') => '\\',
                    Some(b'"') => '"',
                    Some(b'n') => '\n',
                    Some(_) => {
                        i += 1;
                        continue;
                    }
                    None => break,
                };
                let s = owned.get_or_insert_with(String::new);
                s.push_str(&line[run..i]);
                s.push(replacement);
                i += 2;
                run = i;
            }
            _ => i += 1,
        }
    }
    Err(LineError::new(open, format!("unterminated {what}")))
}

/// Undoes HELP escaping: `\\` and `\n`, and `\"` when `quote` is set
/// (OpenMetrics). Other backslashes stay as written.
pub(crate) fn unescape_help(s: &str, quote: bool) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.clone().next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quote => out.push('"'),
            _ => {
                out.push('\\');
                continue;
            }
        }
        chars.next();
    }
    out
}

/// Checks the decimal grammar both formats share:
/// `digits [. digits] [e [sign] digits]` or `. digits [e ...]`, without sign.
pub(crate) fn is_decimal(s: &str) -> bool {
    let bytes = s.as_bytes();
    let digits = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut i = digits(0);
    let mut mantissa_digits = i;
    if bytes.get(i) == Some(&b'.') {
        let frac = digits(i + 1);
        mantissa_digits += frac;
        i += 1 + frac;
    }
    if mantissa_digits == 0 {
        return false;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp = digits(i);
        if exp == 0 {
            return false;
        }
        i += exp;
    }
    i == bytes.len()
}

fn strip_sign(s: &str) -> (bool, &str) {
    match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    }
}

/// Parses a sample value: a decimal number, `[sign]Inf`/`Infinity` or
/// `NaN`, case-insensitively. Unlike Rust's and Go's float parsers this
/// rejects hexadecimal, underscores and a signed NaN, as Prometheus does.
pub(crate) fn parse_value(s: &str) -> Option<f64> {
    let (negative, unsigned) = strip_sign(s);
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if s.eq_ignore_ascii_case("nan") {
        return Some(f64::NAN);
    }
    if !is_decimal(unsigned) {
        return None;
    }
    s.parse().ok()
}

/// Converts decimal seconds (already checked with [`is_decimal`] after an
/// optional sign) to milliseconds exactly, truncating toward zero like
/// Prometheus and saturating at the `i64` range. Going through `f64` would
/// turn `1520879607.789` into `...788`.
pub(crate) fn seconds_to_ms(s: &str) -> i64 {
    // Past 36 significant digits the value saturates anyway, or the dropped
    // digits are below a millisecond and cannot change the truncated result.
    const LIMIT: u128 = 10u128.pow(36);
    let (negative, unsigned) = strip_sign(s);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], &unsigned[i + 1..]),
        None => (unsigned, ""),
    };
    let exponent = {
        let (neg, digits) = strip_sign(exponent);
        let magnitude = digits
            .bytes()
            .fold(0i64, |acc, d| (acc * 10 + i64::from(d - b'0')).min(100_000));
        if neg { -magnitude } else { magnitude }
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut m: u128 = 0;
    let mut scale = exponent + 3;
    for d in int.bytes() {
        if m < LIMIT {
            m = m * 10 + u128::from(d - b'0');
        } else {
            scale += 1;
        }
    }
    for d in frac.bytes() {
        if m >= LIMIT {
            break;
        }
        m = m * 10 + u128::from(d - b'0');
        scale -= 1;
    }
    let magnitude = if m == 0 {
        0
    } else if scale >= 0 {
        u32::try_from(scale)
            .ok()
            .and_then(|s| 10u128.checked_pow(s))
            .and_then(|p| m.checked_mul(p))
            .unwrap_or(u128::MAX)
    } else {
        u32::try_from(-scale)
            .ok()
            .and_then(|s| 10u128.checked_pow(s))
            .map_or(0, |p| m / p)
    };
    let magnitude = i64::try_from(magnitude).unwrap_or(i64::MAX);
    if negative { -magnitude } else { magnitude }
}

// ---------------------------------------------------------------------------
// The 0.0.4 parser.

/// A line cursor over bytes; every stop is at an ASCII byte, so slicing at
/// `pos` is always at a character boundary.
struct Cursor<'a> {
    line: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.line.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos > start
    }

    fn at_end(&self) -> bool {
        self.pos >= self.line.len()
    }

    /// The token up to the next whitespace.
    fn token(&mut self) -> &'a str {
        let start = self.pos;
        while !matches!(self.peek(), None | Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        &self.line[start..self.pos]
    }

    fn expect(&mut self, byte: u8, what: &str) -> LineResult<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(LineError::new(
                self.pos,
                format!("expected {what}, found {}", found(self.line, self.pos)),
            ))
        }
    }

    /// A metric name, plain or (Prometheus 3) quoted.
    fn metric_name(&mut self) -> LineResult<Cow<'a, str>> {
        if self.peek() == Some(b'"') {
            return self.quoted_name("metric name");
        }
        let end = scan_metric_name(self.line, self.pos);
        if end == self.pos {
            return Err(LineError::new(
                self.pos,
                format!(
                    "expected a metric name, found {}",
                    found(self.line, self.pos)
                ),
            ));
        }
        let name = &self.line[self.pos..end];
        self.pos = end;
        Ok(Cow::Borrowed(name))
    }

    fn quoted_name(&mut self, what: &str) -> LineResult<Cow<'a, str>> {
        let open = self.pos;
        let (name, end) = scan_quoted(self.line, open, &format!("quoted {what}"))?;
        if name.is_empty() {
            return Err(LineError::new(open, format!("empty {what}")));
        }
        self.pos = end;
        Ok(name)
    }
}

#[derive(Debug)]
struct FamilyState {
    /// Index into `Exposition::metadata`, once a HELP or TYPE line was seen.
    meta: Option<usize>,
    kind: MetricKind,
    has_type: bool,
    has_help: bool,
    has_samples: bool,
}

impl FamilyState {
    fn new(has_samples: bool) -> Self {
        FamilyState {
            meta: None,
            kind: MetricKind::Untyped,
            has_type: false,
            has_help: false,
            has_samples,
        }
    }
}

#[derive(Default)]
struct TextParser<'a> {
    metadata: Vec<FamilyMetadata>,
    /// The current sample's labels, reused from line to line.
    labels: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// The name `note_sample` last noted, until a comment line (which may
    /// change what noting does).
    last_noted: Option<Cow<'a, str>>,
    /// Families by name, including the implicit ones of samples without
    /// metadata, so that a TYPE line after them is caught.
    families: HashMap<Cow<'a, str>, FamilyState>,
}

impl<'a> TextParser<'a> {
    fn line(&mut self, line: &'a str, sink: &mut impl SampleSink<'a>) -> LineResult<()> {
        let mut c = Cursor { line, pos: 0 };
        c.skip_ws();
        match c.peek() {
            None => Ok(()),
            Some(b'#') => {
                self.last_noted = None;
                self.comment(c)
            }
            Some(_) => self.sample(c, sink),
        }
    }

    fn comment(&mut self, mut c: Cursor<'a>) -> LineResult<()> {
        c.pos += 1;
        if !c.skip_ws() {
            return Ok(());
        }
        let keyword = c.token();
        let is_help = match keyword {
            "HELP" => true,
            "TYPE" => false,
            _ => return Ok(()),
        };
        if !c.skip_ws() {
            // `# HELP` alone is a comment to Prometheus' lexer too.
            return Ok(());
        }
        let name_at = c.pos;
        let name = c.metric_name()?;
        if is_help {
            let help = match c.peek() {
                None => String::new(),
                Some(b' ' | b'\t') => unescape_help(&c.line[c.pos + 1..], false),
                Some(_) => {
                    return Err(LineError::new(
                        c.pos,
                        format!(
                            "expected whitespace after the metric name, found {}",
                            found(c.line, c.pos)
                        ),
                    ));
                }
            };
            self.help(name, help, name_at)
        } else {
            if !c.skip_ws() && !c.at_end() {
                return Err(LineError::new(
                    c.pos,
                    format!(
                        "expected whitespace after the metric name, found {}",
                        found(c.line, c.pos)
                    ),
                ));
            }
            let type_at = c.pos;
            let kind = match c.line[c.pos..].trim_end_matches([' ', '\t']) {
                "counter" => MetricKind::Counter,
                "gauge" => MetricKind::Gauge,
                "histogram" => MetricKind::Histogram,
                "summary" => MetricKind::Summary,
                "untyped" => MetricKind::Untyped,
                "" => {
                    return Err(LineError::new(
                        type_at,
                        "expected a metric type after the name",
                    ));
                }
                other => {
                    return Err(LineError::new(
                        type_at,
                        format!(
                            "unknown metric type {other:?} (expected counter, gauge, histogram, summary or untyped)"
                        ),
                    ));
                }
            };
            self.set_type(name, kind, name_at)
        }
    }

    /// The family state of a metadata line and its metadata entry, both
    /// created on first use.
    fn declared(&mut self, name: Cow<'a, str>) -> (&mut FamilyState, &mut FamilyMetadata) {
        let metadata = &mut self.metadata;
        let state = self
            .families
            .entry(name.clone())
            .or_insert_with(|| FamilyState::new(false));
        let index = *state.meta.get_or_insert_with(|| {
            metadata.push(FamilyMetadata {
                name: name.into_owned(),
                kind: MetricKind::Untyped,
                help: String::new(),
                unit: String::new(),
            });
            metadata.len() - 1
        });
        (state, &mut metadata[index])
    }

    fn help(&mut self, name: Cow<'a, str>, help: String, at: usize) -> LineResult<()> {
        let (state, meta) = self.declared(name);
        if state.has_help {
            return Err(LineError::new(
                at,
                format!("second HELP line for {:?}", meta.name),
            ));
        }
        state.has_help = true;
        meta.help = help;
        Ok(())
    }

    fn set_type(&mut self, name: Cow<'a, str>, kind: MetricKind, at: usize) -> LineResult<()> {
        let (state, meta) = self.declared(name);
        if state.has_type {
            return Err(LineError::new(
                at,
                format!("second TYPE line for {:?}", meta.name),
            ));
        }
        if state.has_samples {
            return Err(LineError::new(
                at,
                format!("TYPE line for {:?} after its samples", meta.name),
            ));
        }
        state.has_type = true;
        state.kind = kind;
        meta.kind = kind;
        Ok(())
    }

    fn sample(&mut self, mut c: Cursor<'a>, sink: &mut impl SampleSink<'a>) -> LineResult<()> {
        let series_start = c.pos;
        if let Some((name_end, series_end, value_at)) = quick_series(c.line, series_start) {
            let series = &c.line[series_start..series_end];
            if sink.knows(series) {
                // Seen before, so valid: only the value is left to read.
                c.pos = value_at;
                let (value, timestamp_ms) = value_and_timestamp(&mut c)?;
                self.note_sample(Cow::Borrowed(&c.line[series_start..name_end]));
                sink.known_sample(value, timestamp_ms);
                return Ok(());
            }
        }
        let mut labels = std::mem::take(&mut self.labels);
        labels.clear();
        let name = if c.peek() == Some(b'{') {
            let brace = c.pos;
            match parse_labels(&mut c, &mut labels, true)? {
                Some(name) => name,
                None => return Err(LineError::new(brace, "missing metric name")),
            }
        } else {
            let name = c.metric_name()?;
            let spaced = c.skip_ws();
            if c.peek() == Some(b'{') {
                parse_labels(&mut c, &mut labels, false)?;
            } else if c.at_end() {
                return Err(LineError::new(c.pos, "missing value"));
            } else if !spaced {
                return Err(LineError::new(
                    c.pos,
                    format!("unexpected {} after metric name", found(c.line, c.pos)),
                ));
            }
            name
        };
        let series = c.line[series_start..c.pos].trim_end_matches([' ', '\t']);
        let (value, timestamp_ms) = value_and_timestamp(&mut c)?;
        self.note_sample(name.clone());
        sink.sample(RawSample {
            series,
            name: &name,
            labels: &labels,
            value,
            timestamp_ms,
        });
        self.labels = labels;
        Ok(())
    }

    /// Marks the family of a sample as having samples: the family of that
    /// name, or the histogram/summary it is a `_bucket`/`_sum`/`_count` of.
    fn note_sample(&mut self, name: Cow<'a, str>) {
        // Samples of a family come together: the family was just noted.
        if self.last_noted.as_deref() == Some(name.as_ref()) {
            return;
        }
        self.last_noted = Some(name.clone());
        if let Some(state) = self.families.get_mut(name.as_ref()) {
            state.has_samples = true;
            return;
        }
        if let Some(base) = self.composite_base(&name) {
            if let Some(state) = self.families.get_mut(base) {
                state.has_samples = true;
            }
            return;
        }
        self.families.insert(name, FamilyState::new(true));
    }

    fn composite_base<'n>(&self, name: &'n str) -> Option<&'n str> {
        const SUFFIXES: [(&str, bool); 3] = [("_bucket", false), ("_sum", true), ("_count", true)];
        SUFFIXES.iter().find_map(|&(suffix, summary_too)| {
            let base = name.strip_suffix(suffix)?;
            let kind = self.families.get(base)?.kind;
            (kind == MetricKind::Histogram || (summary_too && kind == MetricKind::Summary))
                .then_some(base)
        })
    }
}

/// Where a sample line's series would end if it is written plainly (an
/// unquoted name, then maybe a label set), found without reading the
/// labels: (end of the name, end of the series, start of the value).
/// Only for looking the series up; `None` sends the line to the full
/// parser, as does any text a sink does not know.
fn quick_series(line: &str, start: usize) -> Option<(usize, usize, usize)> {
    let bytes = line.as_bytes();
    let name_end = scan_metric_name(line, start);
    if name_end == start {
        return None;
    }
    let mut pos = name_end;
    while matches!(bytes.get(pos), Some(b' ' | b'\t')) {
        pos += 1;
    }
    match bytes.get(pos) {
        Some(b'{') => {}
        // Whitespace, then the value.
        Some(_) if pos > name_end => return Some((name_end, name_end, pos)),
        _ => return None,
    }
    // The label set ends at the line's last `}`: neither a value nor a
    // timestamp holds one. Where that is not the end the full parser
    // would find, the text is no series the sink knows (the parser ends a
    // label set at the first `}` outside quotes that closes it, so a known
    // series' text is never followed by more label text), and the line
    // goes to the full parser.
    pos += bytes[pos..].iter().rposition(|&b| b == b'}')?;
    let series_end = pos + 1;
    let mut value_at = series_end;
    while matches!(bytes.get(value_at), Some(b' ' | b'\t')) {
        value_at += 1;
    }
    Some((name_end, series_end, value_at))
}

/// The value and optional timestamp that end a sample line, from the
/// cursor on.
fn value_and_timestamp(c: &mut Cursor<'_>) -> LineResult<(f64, Option<i64>)> {
    c.skip_ws();
    let value_at = c.pos;
    let value = c.token();
    if value.is_empty() {
        return Err(LineError::new(value_at, "missing value"));
    }
    let value = parse_value(value)
        .ok_or_else(|| LineError::new(value_at, format!("invalid value {value:?}")))?;
    c.skip_ws();
    let mut timestamp_ms = None;
    if !c.at_end() {
        let ts_at = c.pos;
        let ts = c.token();
        // `parse` alone would also take a `+` sign.
        let digits = ts.strip_prefix('-').unwrap_or(ts);
        let parsed = if digits.bytes().all(|b| b.is_ascii_digit()) {
            ts.parse::<i64>().ok()
        } else {
            None
        };
        timestamp_ms = Some(parsed.ok_or_else(|| {
            LineError::new(
                ts_at,
                format!("invalid timestamp {ts:?} (expected integer milliseconds)"),
            )
        })?);
        c.skip_ws();
        if !c.at_end() {
            return Err(LineError::new(
                c.pos,
                format!("unexpected {} after the timestamp", found(c.line, c.pos)),
            ));
        }
    }
    Ok((value, timestamp_ms))
}

/// Parses a label set starting at `{`. When `name_allowed`, the first
/// entry may be a quoted metric name, which is returned.
fn parse_labels<'a>(
    c: &mut Cursor<'a>,
    labels: &mut Vec<(Cow<'a, str>, Cow<'a, str>)>,
    name_allowed: bool,
) -> LineResult<Option<Cow<'a, str>>> {
    c.pos += 1;
    let mut metric_name = None;
    loop {
        c.skip_ws();
        if c.peek() == Some(b'}') {
            c.pos += 1;
            return Ok(metric_name);
        }
        let name_at = c.pos;
        let quoted = c.peek() == Some(b'"');
        let name = if quoted {
            c.quoted_name("label name")?
        } else {
            let end = scan_label_name(c.line, c.pos);
            if end == c.pos {
                return Err(LineError::new(
                    c.pos,
                    format!("expected a label name, found {}", found(c.line, c.pos)),
                ));
            }
            c.pos = end;
            Cow::Borrowed(&c.line[name_at..end])
        };
        c.skip_ws();
        if name_allowed
            && quoted
            && labels.is_empty()
            && metric_name.is_none()
            && matches!(c.peek(), Some(b',' | b'}'))
        {
            metric_name = Some(name);
            if c.peek() == Some(b',') {
                c.pos += 1;
            }
            continue;
        }
        c.expect(b'=', "'=' after the label name")?;
        c.skip_ws();
        if c.peek() != Some(b'"') {
            return Err(LineError::new(
                c.pos,
                format!(
                    "expected '\"' to start the label value, found {}",
                    found(c.line, c.pos)
                ),
            ));
        }
        let (value, end) = scan_quoted(c.line, c.pos, "label value")?;
        c.pos = end;
        if labels.iter().any(|(n, _)| *n == name) {
            return Err(LineError::new(
                name_at,
                format!("duplicate label name {name:?}"),
            ));
        }
        labels.push((name, value));
        c.skip_ws();
        match c.peek() {
            Some(b',') => c.pos += 1,
            Some(b'}') => {}
            _ => {
                return Err(LineError::new(
                    c.pos,
                    format!(
                        "expected ',' or '}}' after the label value, found {}",
                        found(c.line, c.pos)
                    ),
                ));
            }
        }
    }
}
