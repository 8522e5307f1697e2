//! OpenMetrics 1.0 text format: encoder and strict parser.
//!
//! # Encoding
//!
//! Each family is written as `# TYPE`, `# UNIT` (when the unit is set) and
//! `# HELP` (when the help is set), then its samples, and the exposition ends
//! with `# EOF`. Counter and info families are named without their `_total`
//! / `_info` suffix in the metadata and with it in the samples. Floats always
//! carry a `.` or an exponent (`1.0`, `1e+06`), which keeps `le` and
//! `quantile` values canonical. Timestamps are exact decimal seconds.
//!
//! # Parsing
//!
//! [`parse`] follows the OpenMetrics 1.0 ABNF to the byte (single spaces, no
//! blank lines, no comments other than metadata, `# EOF` last) and the
//! semantic rules of the reference parser (client_python's): metadata before samples and at
//! most once per family, contiguous Metrics, non-decreasing timestamps,
//! valid `le`/`quantile` labels, bucket order, counter-like values neither
//! negative nor NaN, exemplars only on counter `_total` and histogram
//! `_bucket` samples and at most 128 code points of exemplar labels.
//!
//! OpenMetrics 1.0 treats sums and quantiles as counters: no negative
//! summary `_sum` or quantile value, and no histogram `_sum` at all once a
//! bucket threshold is negative. Prometheus' Go client breaks these rules
//! whenever negative values are observed (Prometheus' own
//! `alltypes.5mfs.om.txt` fixture does), and OpenMetrics 2.0 lifts them.
//! [`parse_with`] and [`Options::allow_negative_observations`] accept such
//! input; [`parse`] is strict.
//!
//! Timestamps are converted to milliseconds, truncating like Prometheus.
//! `_created` samples are kept as ordinary samples.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::text::{
    Exemplar, Exposition, FamilyMetadata, Format, LineError, LineResult, ParseError, float_string,
    found, is_decimal, parse_value, scan_label_name, scan_metric_name, scan_quoted, seconds_to_ms,
    unescape_help, write_escaped, write_metric,
};
use crate::{Label, MetricFamily, MetricKind, Sample};

/// Writes `families` in the OpenMetrics 1.0 text format, `# EOF` included,
/// appending to `out`.
pub fn encode(families: &[MetricFamily], out: &mut String) {
    for family in families {
        let name = family_name(family);
        out.push_str("# TYPE ");
        out.push_str(name);
        out.push(' ');
        out.push_str(family.kind.as_str(true));
        out.push('\n');
        if !family.unit.is_empty() {
            out.push_str("# UNIT ");
            out.push_str(name);
            out.push(' ');
            out.push_str(&family.unit);
            out.push('\n');
        }
        if !family.help.is_empty() {
            out.push_str("# HELP ");
            out.push_str(name);
            out.push(' ');
            write_escaped(out, &family.help, true);
            out.push('\n');
        }
        for metric in &family.metrics {
            write_metric(out, Format::OpenMetrics, family, metric);
        }
    }
    out.push_str("# EOF\n");
}

/// The name of a family in OpenMetrics metadata: without the `_total` of a
/// counter or the `_info` of an info family.
pub(crate) fn family_name(family: &MetricFamily) -> &str {
    let suffix = match family.kind {
        MetricKind::Counter => "_total",
        MetricKind::Info => "_info",
        _ => return &family.name,
    };
    family.name.strip_suffix(suffix).unwrap_or(&family.name)
}

/// Relaxations of the OpenMetrics 1.0 rules; the default relaxes nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Accept negative observations as Prometheus' clients expose them: a
    /// histogram `_sum` next to negative buckets (negative only if there are
    /// negative buckets), and negative summary `_sum` and quantile values.
    pub allow_negative_observations: bool,
}

/// Parses the OpenMetrics 1.0 text format strictly. Timestamps become
/// milliseconds.
pub fn parse(input: &str) -> Result<Exposition, ParseError> {
    parse_with(input, Options::default())
}

/// Parses the OpenMetrics 1.0 text format with the given relaxations.
pub fn parse_with(input: &str, options: Options) -> Result<Exposition, ParseError> {
    let mut parser = Parser {
        options,
        ..Parser::default()
    };
    let mut rest = input;
    let mut line_no = 0;
    loop {
        line_no += 1;
        if rest.is_empty() {
            return Err(ParseError {
                line: line_no,
                column: 1,
                message: "missing \"# EOF\" at the end".to_owned(),
            });
        }
        let (line, next) = rest.split_once('\n').unwrap_or((rest, ""));
        let eof = line == "# EOF";
        let result = if !eof {
            parser.line(line_no, line)
        } else if !next.is_empty() {
            Err(LineError::at_line(line_no + 1, "text after \"# EOF\""))
        } else {
            parser.finish_family()
        };
        result.map_err(|err| err.into_parse_error(line_no, line))?;
        if eof {
            return Ok(parser.out);
        }
        rest = next;
    }
}

/// The sample name suffixes a family of each type owns.
fn suffixes(kind: MetricKind) -> &'static [&'static str] {
    match kind {
        MetricKind::Counter => &["_total", "_created"],
        MetricKind::Summary => &["", "_count", "_sum", "_created"],
        MetricKind::Histogram => &["_count", "_sum", "_bucket", "_created"],
        MetricKind::GaugeHistogram => &["_gcount", "_gsum", "_bucket"],
        MetricKind::Info => &["_info"],
        MetricKind::Gauge | MetricKind::StateSet | MetricKind::Untyped => &[""],
    }
}

#[derive(Default)]
struct Parser<'a> {
    options: Options,
    out: Exposition,
    /// Every sample name owned by a finished family. A family claiming one
    /// again clashes; this also catches a family whose samples are split.
    claimed: HashSet<String>,
    family: Option<Family<'a>>,
}

impl<'a> Parser<'a> {
    fn line(&mut self, line_no: usize, line: &'a str) -> LineResult<()> {
        match line.as_bytes().first() {
            None => Err(LineError::new(0, "blank line")),
            Some(b'#') => self.metadata(line_no, line),
            Some(_) => self.sample(line_no, line),
        }
    }

    fn metadata(&mut self, line_no: usize, line: &'a str) -> LineResult<()> {
        let keyword_end = line
            .strip_prefix("# ")
            .map(|rest| 2 + rest.find(' ').unwrap_or(rest.len()))
            .filter(|&end| matches!(&line[2..end], "HELP" | "TYPE" | "UNIT"))
            .ok_or_else(|| {
                LineError::new(
                    0,
                    "invalid comment: OpenMetrics allows only \"# HELP\", \"# TYPE\", \"# UNIT\" and \"# EOF\" lines",
                )
            })?;
        let keyword = &line[2..keyword_end];
        let name_at = keyword_end + 1;
        let name_end = scan_metric_name(line, name_at);
        if name_end == name_at {
            return Err(LineError::new(
                name_at.min(line.len()),
                format!(
                    "expected a metric name after \"# {keyword}\", found {}",
                    found(line, name_at)
                ),
            ));
        }
        if line.as_bytes().get(name_end) != Some(&b' ') {
            return Err(LineError::new(
                name_end,
                format!(
                    "expected a space after the metric name, found {}",
                    found(line, name_end)
                ),
            ));
        }
        let name = &line[name_at..name_end];
        let text_at = name_end + 1;
        let text = &line[text_at..];

        if self.family.as_ref().is_some_and(|f| f.name != name) {
            self.finish_family()?;
        }
        let first_sample = self.out.samples.len();
        let family = self
            .family
            .get_or_insert_with(|| Family::new(name, line_no, first_sample));
        if family.first_sample < first_sample {
            return Err(LineError::new(
                0,
                format!("metadata for {name:?} after its samples"),
            ));
        }
        let meta = match family.meta {
            Some(index) => &mut self.out.metadata[index],
            None => {
                family.meta = Some(self.out.metadata.len());
                self.out.metadata.push(FamilyMetadata {
                    name: name.to_owned(),
                    kind: MetricKind::Untyped,
                    help: String::new(),
                    unit: String::new(),
                });
                let last = self.out.metadata.len() - 1;
                &mut self.out.metadata[last]
            }
        };
        match keyword {
            "HELP" => {
                if family.has_help {
                    return Err(LineError::new(0, format!("second HELP line for {name:?}")));
                }
                family.has_help = true;
                meta.help = unescape_help(text, true);
            }
            "TYPE" => {
                if family.typed {
                    return Err(LineError::new(0, format!("second TYPE line for {name:?}")));
                }
                let kind = match text {
                    "counter" => MetricKind::Counter,
                    "gauge" => MetricKind::Gauge,
                    "histogram" => MetricKind::Histogram,
                    "gaugehistogram" => MetricKind::GaugeHistogram,
                    "stateset" => MetricKind::StateSet,
                    "info" => MetricKind::Info,
                    "summary" => MetricKind::Summary,
                    "unknown" => MetricKind::Untyped,
                    "untyped" => {
                        return Err(LineError::new(
                            text_at,
                            "\"untyped\" is not an OpenMetrics type (it is called \"unknown\")",
                        ));
                    }
                    other => {
                        return Err(LineError::new(
                            text_at,
                            format!("unknown metric type {other:?}"),
                        ));
                    }
                };
                if family.unit.is_some_and(|u| !u.is_empty()) && !can_have_unit(kind) {
                    return Err(LineError::new(
                        text_at,
                        format!("{text} families cannot have a unit"),
                    ));
                }
                family.typed = true;
                family.kind = kind;
                meta.kind = kind;
            }
            _ => {
                if family.unit.is_some() {
                    return Err(LineError::new(0, format!("second UNIT line for {name:?}")));
                }
                if let Some(bad) = text
                    .bytes()
                    .position(|b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b':'))
                {
                    return Err(LineError::new(
                        text_at + bad,
                        format!("invalid character {} in unit", found(line, text_at + bad)),
                    ));
                }
                if !text.is_empty() {
                    if !name
                        .strip_suffix(text)
                        .is_some_and(|base| base.ends_with('_'))
                    {
                        return Err(LineError::new(
                            text_at,
                            format!("metric name {name:?} does not end with \"_{text}\", its unit"),
                        ));
                    }
                    if family.typed && !can_have_unit(family.kind) {
                        return Err(LineError::new(
                            text_at,
                            format!("{} families cannot have a unit", family.kind.as_str(true)),
                        ));
                    }
                }
                family.unit = Some(text);
                meta.unit = text.to_owned();
            }
        }
        Ok(())
    }

    fn sample(&mut self, line_no: usize, line: &'a str) -> LineResult<()> {
        let parsed = parse_sample(line)?;
        let suffix = self
            .family
            .as_ref()
            .and_then(|f| f.member_suffix(parsed.name));
        if suffix.is_none() {
            self.finish_family()?;
        }
        let index = self.out.samples.len();
        let family = self
            .family
            .get_or_insert_with(|| Family::new(parsed.name, line_no, index));
        family.accept(
            &parsed,
            suffix.unwrap_or(""),
            line_no,
            &self.out.samples,
            self.options,
        )?;
        self.out.samples.push(Sample {
            name: parsed.name.to_owned(),
            labels: parsed.labels,
            value: parsed.value,
            timestamp_ms: parsed.timestamp.map(|(_, ms)| ms),
        });
        if let Some(exemplar) = parsed.exemplar {
            self.out.exemplars.push(Exemplar {
                sample: index,
                labels: exemplar.labels,
                value: exemplar.value,
                timestamp_ms: exemplar.timestamp.map(|(_, ms)| ms),
            });
        }
        Ok(())
    }

    fn finish_family(&mut self) -> LineResult<()> {
        let Some(family) = self.family.take() else {
            return Ok(());
        };
        family.point.finish(family.name, self.options)?;
        let own = suffixes(family.kind);
        let implicit = (!own.contains(&"")).then_some("");
        for suffix in own.iter().copied().chain(implicit) {
            let claimed = format!("{}{suffix}", family.name);
            if self.claimed.contains(&claimed) {
                return Err(LineError::at_line(
                    family.first_line,
                    format!(
                        "family {:?} reuses the name {claimed:?} of an earlier family; a family's samples must be contiguous and named as its type requires",
                        family.name
                    ),
                ));
            }
            self.claimed.insert(claimed);
        }
        Ok(())
    }
}

fn can_have_unit(kind: MetricKind) -> bool {
    !matches!(kind, MetricKind::Info | MetricKind::StateSet)
}

/// Which labels of a sample identify its Metric within the family.
#[derive(Debug, Clone, Copy)]
enum Exclude<'a> {
    Nothing,
    Label(&'a str),
    /// Info families are not split into Metrics by the reference parser.
    Everything,
}

impl Exclude<'_> {
    fn keeps(self, label: &Label) -> bool {
        match self {
            Exclude::Nothing => true,
            Exclude::Label(name) => label.name != name,
            Exclude::Everything => false,
        }
    }
}

fn same_metric(a: &[Label], a_excl: Exclude, b: &[Label], b_excl: Exclude) -> bool {
    let count = |labels: &[Label], excl: Exclude| labels.iter().filter(|l| excl.keeps(l)).count();
    count(a, a_excl) == count(b, b_excl)
        && a.iter()
            .filter(|l| a_excl.keeps(l))
            .all(|la| b.iter().any(|lb| b_excl.keeps(lb) && lb == la))
}

/// An order-insensitive hash of the labels that identify a Metric.
fn metric_hash(labels: &[Label], excl: Exclude) -> u64 {
    labels
        .iter()
        .filter(|l| excl.keeps(l))
        .map(|label| {
            let mut hasher = DefaultHasher::new();
            label.hash(&mut hasher);
            hasher.finish()
        })
        .fold(0, u64::wrapping_add)
}

/// The Metric the previous sample belonged to.
struct Group<'a> {
    /// Index of the Metric's first sample in `Exposition::samples`.
    first: usize,
    exclude: Exclude<'a>,
    timestamp: Option<f64>,
}

struct Family<'a> {
    name: &'a str,
    kind: MetricKind,
    typed: bool,
    has_help: bool,
    unit: Option<&'a str>,
    meta: Option<usize>,
    first_line: usize,
    first_sample: usize,
    group: Option<Group<'a>>,
    /// Metrics seen so far, by [`metric_hash`]; each entry is a Metric's
    /// first sample.
    seen: HashMap<u64, Vec<(usize, Exclude<'a>)>>,
    point: Point,
}

impl<'a> Family<'a> {
    fn new(name: &'a str, first_line: usize, first_sample: usize) -> Self {
        Family {
            name,
            kind: MetricKind::Untyped,
            typed: false,
            has_help: false,
            unit: None,
            meta: None,
            first_line,
            first_sample,
            group: None,
            seen: HashMap::new(),
            point: Point::default(),
        }
    }

    fn member_suffix(&self, sample_name: &str) -> Option<&'static str> {
        let rest = sample_name.strip_prefix(self.name)?;
        suffixes(self.kind).iter().copied().find(|&s| s == rest)
    }

    /// Checks one sample against the family's rules and records it.
    fn accept(
        &mut self,
        sample: &ParsedSample<'a>,
        suffix: &'static str,
        line_no: usize,
        samples: &[Sample],
        options: Options,
    ) -> LineResult<()> {
        use MetricKind::*;
        let kind = self.kind;
        let value = sample.value;
        let labels = &sample.labels;
        let fail = |message: String| Err(LineError::new(0, message));

        let is_bucket = matches!(kind, Histogram | GaugeHistogram) && suffix == "_bucket";
        let is_quantile = kind == Summary && suffix.is_empty();
        let mut bound = 0.0;
        let exclude = if is_bucket {
            bound = bucket_bound(labels)?;
            Exclude::Label("le")
        } else if is_quantile {
            bound = quantile(labels)?;
            Exclude::Label("quantile")
        } else if kind == StateSet {
            if !labels.iter().any(|l| l.name == self.name) {
                return fail(format!("stateset sample without a {:?} label", self.name));
            }
            Exclude::Label(self.name)
        } else if kind == Info {
            Exclude::Everything
        } else {
            Exclude::Nothing
        };

        if kind == StateSet && value != 0.0 && value != 1.0 {
            return fail(format!(
                "stateset value {} is neither 0 nor 1",
                float_string(value)
            ));
        }
        if kind == Info && value != 1.0 {
            return fail(format!("info value {} is not 1", float_string(value)));
        }
        let negative_allowed = match suffix {
            "_total" | "_count" | "_bucket" | "_gcount" => false,
            // The histogram point checks a negative `_sum` against its buckets.
            "_sum" => options.allow_negative_observations,
            "" => !is_quantile || options.allow_negative_observations,
            _ => true,
        };
        let counter_like = matches!(suffix, "_total" | "_count" | "_bucket" | "_gcount");
        if value.is_nan() && (counter_like || matches!(suffix, "_sum" | "_gsum")) {
            return fail(format!("{suffix} value must not be NaN"));
        }
        if value < 0.0 && !negative_allowed {
            let what = if is_quantile { "quantile" } else { suffix };
            return fail(format!(
                "{what} value {} must not be negative",
                float_string(value)
            ));
        }
        if let Some(exemplar) = &sample.exemplar
            && !(is_bucket || (kind == Counter && suffix == "_total"))
        {
            return Err(LineError::new(
                exemplar.at,
                "exemplars are only allowed on counter _total and histogram _bucket samples",
            ));
        }

        let timestamp = sample.timestamp.map(|(secs, _)| secs);
        let current = self
            .group
            .as_mut()
            .filter(|g| same_metric(&samples[g.first].labels, g.exclude, labels, exclude));
        let same = current.is_some();
        if let Some(group) = current {
            match (group.timestamp, timestamp) {
                (Some(_), None) | (None, Some(_)) => {
                    return fail(
                        "samples of one metric must all have timestamps or none".to_owned(),
                    );
                }
                (Some(previous), Some(now)) if now < previous && kind != Info => {
                    return fail("timestamp earlier than the metric's previous sample".to_owned());
                }
                _ => {}
            }
            group.timestamp = timestamp;
        } else {
            let first = samples.len();
            let seen = self.seen.entry(metric_hash(labels, exclude)).or_default();
            if seen
                .iter()
                .any(|&(i, excl)| same_metric(&samples[i].labels, excl, labels, exclude))
            {
                return fail(format!(
                    "this metric of family {:?} already appeared earlier; its samples must be contiguous",
                    self.name
                ));
            }
            seen.push((first, exclude));
            self.group = Some(Group {
                first,
                exclude,
                timestamp,
            });
        }

        if matches!(kind, Histogram | GaugeHistogram) {
            if !same || self.point.line == 0 || self.point.timestamp != timestamp {
                self.point.finish(self.name, options)?;
                self.point = Point {
                    line: line_no,
                    gauge: kind == GaugeHistogram,
                    timestamp,
                    ..Point::default()
                };
            }
            self.point.add(suffix, bound, value)?;
        }
        Ok(())
    }
}

fn bucket_bound(labels: &[Label]) -> LineResult<f64> {
    let le = labels
        .iter()
        .find(|l| l.name == "le")
        .ok_or_else(|| LineError::new(0, "histogram bucket without an \"le\" label"))?;
    let bound = parse_value(&le.value)
        .filter(|b| !b.is_nan())
        .ok_or_else(|| LineError::new(0, format!("invalid le {:?}", le.value)))?;
    if bound.is_infinite() && le.value != "+Inf" && le.value != "-Inf" {
        return Err(LineError::new(
            0,
            format!("le {:?} is not canonical, write \"+Inf\"", le.value),
        ));
    }
    Ok(bound)
}

fn quantile(labels: &[Label]) -> LineResult<f64> {
    let q = labels
        .iter()
        .find(|l| l.name == "quantile")
        .ok_or_else(|| LineError::new(0, "summary quantile sample without a \"quantile\" label"))?;
    parse_value(&q.value)
        .filter(|v| (0.0..=1.0).contains(v))
        .ok_or_else(|| {
            LineError::new(
                0,
                format!(
                    "invalid quantile {:?}, expected a number from 0 to 1",
                    q.value
                ),
            )
        })
}

/// One MetricPoint of a histogram or gauge histogram: the consecutive
/// samples of one Metric with one timestamp.
#[derive(Debug, Default)]
struct Point {
    /// Line of the point's first sample; 0 while no point is open.
    line: usize,
    gauge: bool,
    timestamp: Option<f64>,
    upper_bound: Option<f64>,
    bucket_count: f64,
    negative_bucket: bool,
    count: Option<f64>,
    has_sum: bool,
    negative_sum: bool,
}

impl Point {
    fn add(&mut self, suffix: &str, bound: f64, value: f64) -> LineResult<()> {
        match suffix {
            "_bucket" => {
                if let Some(previous) = self.upper_bound
                    && bound <= previous
                {
                    return Err(LineError::new(
                        0,
                        format!(
                            "bucket le={} does not follow le={}: buckets must be in increasing order",
                            float_string(bound),
                            float_string(previous)
                        ),
                    ));
                }
                if value < self.bucket_count {
                    return Err(LineError::new(
                        0,
                        format!(
                            "bucket count {} is below the previous bucket's {}",
                            float_string(value),
                            float_string(self.bucket_count)
                        ),
                    ));
                }
                self.negative_bucket |= bound < 0.0;
                self.upper_bound = Some(bound);
                self.bucket_count = value;
            }
            "_count" | "_gcount" => self.count = Some(value),
            "_sum" | "_gsum" => {
                self.has_sum = true;
                self.negative_sum |= value < 0.0;
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(&self, family: &str, options: Options) -> LineResult<()> {
        if self.line == 0 {
            return Ok(());
        }
        let fail = |problem: String| {
            Err(LineError::at_line(
                self.line,
                format!("{family:?}: {problem}"),
            ))
        };
        let (sum, count) = if self.gauge {
            ("_gsum", "_gcount")
        } else {
            ("_sum", "_count")
        };
        if self.has_sum && self.count.is_none() {
            return fail(format!("{sum} without {count}"));
        }
        if self.count.is_some() && !self.has_sum {
            return fail(format!("{count} without {sum}"));
        }
        if self.upper_bound != Some(f64::INFINITY) {
            return fail("histogram without a +Inf bucket".to_owned());
        }
        if let Some(total) = self.count
            && total != self.bucket_count
        {
            return fail(format!(
                "{count} {} differs from the +Inf bucket's {}",
                float_string(total),
                float_string(self.bucket_count)
            ));
        }
        if self.negative_sum && !self.negative_bucket {
            return fail(format!(
                "negative {sum} in a histogram without negative buckets"
            ));
        }
        if self.has_sum
            && self.negative_bucket
            && !self.gauge
            && !options.allow_negative_observations
        {
            return fail(
                "_sum in a histogram with negative buckets, which OpenMetrics 1.0 forbids"
                    .to_owned(),
            );
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Line syntax.

struct ParsedExemplar {
    /// Offset of the exemplar's `#`.
    at: usize,
    labels: Vec<Label>,
    value: f64,
    timestamp: Option<(f64, i64)>,
}

struct ParsedSample<'a> {
    name: &'a str,
    labels: Vec<Label>,
    value: f64,
    /// Seconds (for ordering) and milliseconds (to store).
    timestamp: Option<(f64, i64)>,
    exemplar: Option<ParsedExemplar>,
}

/// The exemplar label set may hold at most this many code points.
const EXEMPLAR_LABELS_MAX: usize = 128;

/// `metricname [labels] SP number [SP timestamp] [SP # SP labels SP number [SP timestamp]]`
fn parse_sample(line: &str) -> LineResult<ParsedSample<'_>> {
    let bytes = line.as_bytes();
    let name_end = scan_metric_name(line, 0);
    if name_end == 0 {
        return Err(LineError::new(
            0,
            format!("expected a metric name, found {}", found(line, 0)),
        ));
    }
    let mut labels = Vec::new();
    let mut pos = name_end;
    if bytes.get(pos) == Some(&b'{') {
        pos = parse_labels(line, pos, &mut labels)?;
    }
    if bytes.get(pos) != Some(&b' ') {
        return Err(LineError::new(
            pos,
            format!(
                "expected a space before the value, found {}",
                found(line, pos)
            ),
        ));
    }
    let (value, mut pos) = number(line, pos + 1, "value")?;
    let mut timestamp = None;
    let mut exemplar = None;
    if pos < line.len() {
        // At a space: a timestamp, an exemplar, or both.
        pos += 1;
        if bytes.get(pos) != Some(&b'#') {
            let (ts, end) = timestamp_at(line, pos, "timestamp")?;
            timestamp = Some(ts);
            pos = end;
            if pos < line.len() {
                pos += 1;
                if bytes.get(pos) != Some(&b'#') {
                    return Err(LineError::new(
                        pos,
                        format!(
                            "expected '#' to start an exemplar, found {}",
                            found(line, pos)
                        ),
                    ));
                }
            }
        }
        if pos < line.len() {
            exemplar = Some(parse_exemplar(line, pos)?);
        }
    }
    Ok(ParsedSample {
        name: &line[..name_end],
        labels,
        value,
        timestamp,
        exemplar,
    })
}

/// `# SP labels SP number [SP timestamp]`, starting at the `#`.
fn parse_exemplar(line: &str, at: usize) -> LineResult<ParsedExemplar> {
    let bytes = line.as_bytes();
    if bytes.get(at + 1) != Some(&b' ') || bytes.get(at + 2) != Some(&b'{') {
        return Err(LineError::new(at, "expected \"# {\" to start an exemplar"));
    }
    let mut labels = Vec::new();
    let pos = parse_labels(line, at + 2, &mut labels)?;
    let length: usize = labels
        .iter()
        .map(|l| l.name.chars().count() + l.value.chars().count())
        .sum();
    if length > EXEMPLAR_LABELS_MAX {
        return Err(LineError::new(
            at + 2,
            format!("exemplar labels have {length} characters, more than {EXEMPLAR_LABELS_MAX}"),
        ));
    }
    if bytes.get(pos) != Some(&b' ') {
        return Err(LineError::new(
            pos,
            format!(
                "expected a space before the exemplar value, found {}",
                found(line, pos)
            ),
        ));
    }
    let (value, mut pos) = number(line, pos + 1, "exemplar value")?;
    let mut timestamp = None;
    if pos < line.len() {
        let (ts, end) = timestamp_at(line, pos + 1, "exemplar timestamp")?;
        timestamp = Some(ts);
        pos = end;
        if pos < line.len() {
            return Err(LineError::new(
                pos,
                format!("unexpected {} after the exemplar", found(line, pos)),
            ));
        }
    }
    Ok(ParsedExemplar {
        at,
        labels,
        value,
        timestamp,
    })
}

/// The token from `pos` to the next space or the end of the line.
fn token(line: &str, pos: usize) -> (&str, usize) {
    let end = line[pos..].find(' ').map_or(line.len(), |i| pos + i);
    (&line[pos..end], end)
}

fn number(line: &str, pos: usize, what: &str) -> LineResult<(f64, usize)> {
    let (text, end) = token(line, pos);
    if text.is_empty() {
        return Err(LineError::new(
            pos,
            format!("expected a {what}, found {}", found(line, pos)),
        ));
    }
    let value =
        parse_value(text).ok_or_else(|| LineError::new(pos, format!("invalid {what} {text:?}")))?;
    Ok((value, end))
}

fn timestamp_at(line: &str, pos: usize, what: &str) -> LineResult<((f64, i64), usize)> {
    let (text, end) = token(line, pos);
    if text.is_empty() {
        return Err(LineError::new(
            pos,
            format!("expected a {what}, found {}", found(line, pos)),
        ));
    }
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let seconds = is_decimal(unsigned)
        .then(|| text.parse::<f64>().ok())
        .flatten()
        .ok_or_else(|| LineError::new(pos, format!("invalid {what} {text:?}")))?;
    Ok(((seconds, seconds_to_ms(text)), end))
}

/// `{` [label *("," label)] `}` with `label = name "=" DQUOTE value DQUOTE`,
/// starting at the `{`. Returns the offset past the `}`.
fn parse_labels(line: &str, open: usize, labels: &mut Vec<Label>) -> LineResult<usize> {
    let bytes = line.as_bytes();
    let mut pos = open + 1;
    if bytes.get(pos) == Some(&b'}') {
        return Ok(pos + 1);
    }
    loop {
        let name_end = scan_label_name(line, pos);
        if name_end == pos {
            return Err(LineError::new(
                pos,
                format!("expected a label name, found {}", found(line, pos)),
            ));
        }
        let name = &line[pos..name_end];
        if bytes.get(name_end) != Some(&b'=') {
            return Err(LineError::new(
                name_end,
                format!(
                    "expected '=' after the label name, found {}",
                    found(line, name_end)
                ),
            ));
        }
        if bytes.get(name_end + 1) != Some(&b'"') {
            return Err(LineError::new(
                name_end + 1,
                format!(
                    "expected '\"' to start the label value, found {}",
                    found(line, name_end + 1)
                ),
            ));
        }
        let (value, end) = scan_quoted(line, name_end + 1, "label value")?;
        if labels.iter().any(|l| l.name == name) {
            return Err(LineError::new(
                pos,
                format!("duplicate label name {name:?}"),
            ));
        }
        labels.push(Label {
            name: name.to_owned(),
            value: value.into_owned(),
        });
        match bytes.get(end) {
            Some(b',') => pos = end + 1,
            Some(b'}') => return Ok(end + 1),
            _ => {
                return Err(LineError::new(
                    end,
                    format!(
                        "expected ',' or '}}' after the label value, found {}",
                        found(line, end)
                    ),
                ));
            }
        }
    }
}
