//! The OpenMetrics reader of the backfill: each line checked as
//! Prometheus' OpenMetrics parser checks it, samples handed on with their
//! series text, and the float labels (`le`, `quantile`) written as
//! Prometheus 3 writes them.

use super::BackfillError;
use std::io::BufRead;
use wasmetheus_model::Label;

/// The bytes of a file up to its `# EOF` line and their checksum: two
/// reads of a file that did not change in between have the same digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Digest {
    pub(super) bytes: u64,
    crc: u32,
}

/// A sample line as read: the series text (name and labels as written)
/// and what follows it.
pub(super) struct RawSample<'a> {
    pub(super) series: &'a [u8],
    pub(super) value: f64,
    pub(super) timestamp: Option<i64>,
    /// The label whose value is a float to normalise, from the last
    /// `# TYPE` line read (wherever it was: Prometheus keeps the type until
    /// the next one).
    pub(super) float_label: FloatLabel,
}

/// Prometheus 3 writes the `le` of classic histograms and the `quantile`
/// of summaries as OpenMetrics floats (`1` becomes `1.0`), so that a bucket
/// is one series however the exposition spelled its bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FloatLabel {
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
pub(super) fn key_labels(key: &[u8]) -> Result<Vec<Label>, String> {
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
pub(super) fn scan<R: BufRead>(
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
pub(super) fn series_labels(series: &[u8]) -> Result<Vec<Label>, String> {
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

pub(super) fn render(labels: &[Label]) -> String {
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
