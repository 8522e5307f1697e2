//! Checks on a plugin's metric families before the host accepts them, and
//! their flattening into the samples the host stores.
//!
//! [`validate`] rejects whatever the host could not expose faithfully in
//! either text format or store without mixing series up: bad names, names
//! two families would share, labels the encoders add themselves (`le`,
//! `quantile`), duplicate labels and series, values that do not fit the
//! family type, malformed histograms and summaries, and output beyond the
//! [`Limits`]. Label lengths are counted in bytes, as Prometheus does.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::openmetrics::family_name as om_family_name;
use crate::text::{
    Format, float_string, histogram_suffixes, is_label_name, is_metric_name, number_sample_name,
    write_escaped, write_float,
};
use crate::{Histogram, Label, MetricFamily, MetricKind, MetricValue, Sample, Summary};

/// Bounds on one plugin's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_families: usize,
    /// Series as stored: a histogram counts its buckets, `_sum` and `_count`.
    pub max_series: usize,
    pub max_label_name_length: usize,
    pub max_label_value_length: usize,
    pub max_labels_per_series: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_families: 10_000,
            max_series: 100_000,
            max_label_name_length: 256,
            max_label_value_length: 4_096,
            max_labels_per_series: 64,
        }
    }
}

/// Why a plugin's output was rejected. Series are shown as in the text
/// format, with very long label values shortened.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidationError {
    #[error("{count} families, more than the limit of {limit}")]
    TooManyFamilies { count: usize, limit: usize },
    #[error("{count} series, more than the limit of {limit}")]
    TooManySeries { count: usize, limit: usize },
    #[error("family {family:?}: invalid metric name")]
    InvalidMetricName { family: String },
    #[error("family {family:?}: invalid unit {unit:?}: {reason}")]
    InvalidUnit {
        family: String,
        unit: String,
        reason: &'static str,
    },
    #[error("duplicate family {family:?}")]
    DuplicateFamily { family: String },
    #[error("family {family:?}: name {name:?} is also used by family {other:?}")]
    NameClash {
        family: String,
        other: String,
        name: String,
    },
    #[error("family {family:?}: duplicate series {series}")]
    DuplicateSeries { family: String, series: String },
    #[error("family {family:?}: series {series}: {problem}")]
    InvalidSeries {
        family: String,
        series: String,
        problem: SeriesProblem,
    },
}

/// What is wrong with one series of a family.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SeriesProblem {
    #[error("{count} labels, more than the limit of {limit}")]
    TooManyLabels { count: usize, limit: usize },
    #[error("invalid label name {0:?}")]
    InvalidLabelName(String),
    #[error("label name {0:?} starts with \"__\", which is reserved")]
    ReservedLabelName(String),
    #[error("label {label:?} is reserved in a {kind} family", kind = kind.as_str(true))]
    LabelReservedByKind {
        label: &'static str,
        kind: MetricKind,
    },
    #[error("label name {label:?} is {length} bytes long, more than the limit of {limit}")]
    LabelNameTooLong {
        label: String,
        length: usize,
        limit: usize,
    },
    #[error("the value of label {label:?} is {length} bytes long, more than the limit of {limit}")]
    LabelValueTooLong {
        label: String,
        length: usize,
        limit: usize,
    },
    #[error("duplicate label name {0:?}")]
    DuplicateLabel(String),
    #[error("a {kind} family cannot hold a {value} value", kind = kind.as_str(true))]
    WrongValueKind {
        kind: MetricKind,
        value: &'static str,
    },
    #[error("invalid histogram: {0}")]
    InvalidHistogram(String),
    #[error("invalid summary: {0}")]
    InvalidSummary(String),
}

/// Checks `families` against the rules above and `limits`.
pub fn validate(families: &[MetricFamily], limits: &Limits) -> Result<(), ValidationError> {
    if families.len() > limits.max_families {
        return Err(ValidationError::TooManyFamilies {
            count: families.len(),
            limit: limits.max_families,
        });
    }
    let series: usize = families.iter().map(series_count).sum();
    if series > limits.max_series {
        return Err(ValidationError::TooManySeries {
            count: series,
            limit: limits.max_series,
        });
    }
    let mut names: HashMap<JoinedName<'_>, usize> = HashMap::with_capacity(families.len() * 2);
    let mut scratch = Scratch::default();
    for (index, family) in families.iter().enumerate() {
        check_family(family)?;
        for name in claimed_names(family).into_iter().flatten() {
            match names.entry(name) {
                Entry::Vacant(entry) => {
                    entry.insert(index);
                }
                Entry::Occupied(entry) => {
                    let other = &families[*entry.get()];
                    return Err(if other.name == family.name {
                        ValidationError::DuplicateFamily {
                            family: family.name.clone(),
                        }
                    } else {
                        ValidationError::NameClash {
                            family: family.name.clone(),
                            other: other.name.clone(),
                            name: format!("{}{}", name.0, name.1),
                        }
                    });
                }
            }
        }
        check_series(family, limits, &mut scratch)?;
    }
    Ok(())
}

/// Flattens `families` into samples named exactly as [`crate::text::encode`]
/// names them, labels in the family's order with `le`/`quantile` last.
pub fn flatten(families: &[MetricFamily]) -> Vec<Sample> {
    let mut out = Vec::with_capacity(families.iter().map(series_count).sum());
    for family in families {
        for metric in &family.metrics {
            let labels = &metric.labels;
            let ts = metric.timestamp_ms;
            let mut push = |(base, suffix): (&str, &str), labels: Vec<Label>, value: f64| {
                let mut name = String::with_capacity(base.len() + suffix.len());
                name.push_str(base);
                name.push_str(suffix);
                out.push(Sample {
                    name,
                    labels,
                    value,
                    timestamp_ms: ts,
                });
            };
            let name = family.name.as_str();
            match &metric.value {
                MetricValue::Number(value) => {
                    push(number_sample_name(family), labels.clone(), *value)
                }
                MetricValue::Histogram(h) => {
                    for bucket in &h.buckets {
                        let with_le = with_label(labels, "le", bucket.upper_bound);
                        push((name, "_bucket"), with_le, bucket.cumulative_count);
                    }
                    if !h.buckets.iter().any(|b| b.upper_bound == f64::INFINITY) {
                        push(
                            (name, "_bucket"),
                            with_label(labels, "le", f64::INFINITY),
                            h.count,
                        );
                    }
                    let (sum, count) = histogram_suffixes(family.kind, Format::Text);
                    push((name, sum), labels.clone(), h.sum);
                    push((name, count), labels.clone(), h.count);
                }
                MetricValue::Summary(s) => {
                    for q in &s.quantiles {
                        push(
                            (name, ""),
                            with_label(labels, "quantile", q.quantile),
                            q.value,
                        );
                    }
                    push((name, "_sum"), labels.clone(), s.sum);
                    push((name, "_count"), labels.clone(), s.count);
                }
            }
        }
    }
    out
}

fn with_label(labels: &[Label], name: &str, value: f64) -> Vec<Label> {
    let mut out = Vec::with_capacity(labels.len() + 1);
    out.extend_from_slice(labels);
    let mut formatted = String::new();
    write_float(&mut formatted, value);
    out.push(Label::new(name, formatted));
    out
}

/// The number of series a family stores.
fn series_count(family: &MetricFamily) -> usize {
    family
        .metrics
        .iter()
        .map(|metric| match &metric.value {
            MetricValue::Number(_) => 1,
            MetricValue::Histogram(h) => {
                let implicit_inf = !h.buckets.iter().any(|b| b.upper_bound == f64::INFINITY);
                h.buckets.len() + usize::from(implicit_inf) + 2
            }
            MetricValue::Summary(s) => s.quantiles.len() + 2,
        })
        .sum()
}

fn check_family(family: &MetricFamily) -> Result<(), ValidationError> {
    if !is_metric_name(&family.name) {
        return Err(ValidationError::InvalidMetricName {
            family: family.name.clone(),
        });
    }
    let unit = family.unit.as_str();
    if unit.is_empty() {
        return Ok(());
    }
    let reason = if !unit
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
    {
        "a unit may only contain letters, digits, '_' and ':'"
    } else if matches!(family.kind, MetricKind::Info | MetricKind::StateSet) {
        "info and stateset families cannot have a unit"
    } else if !om_family_name(family)
        .strip_suffix(unit)
        .is_some_and(|base| base.ends_with('_'))
    {
        "the family name must end with '_' and the unit"
    } else {
        return Ok(());
    };
    Err(ValidationError::InvalidUnit {
        family: family.name.clone(),
        unit: unit.to_owned(),
        reason,
    })
}

/// A name as two parts, compared and hashed as their concatenation, so that
/// `foo` + `_total` and `foo_total` + `` meet without building strings.
#[derive(Debug, Clone, Copy)]
struct JoinedName<'a>(&'a str, &'static str);

impl PartialEq for JoinedName<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() + self.1.len() == other.0.len() + other.1.len()
            && self
                .0
                .bytes()
                .chain(self.1.bytes())
                .eq(other.0.bytes().chain(other.1.bytes()))
    }
}

impl Eq for JoinedName<'_> {}

impl Hash for JoinedName<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.0.as_bytes());
        state.write(self.1.as_bytes());
        state.write_u8(0xff);
    }
}

/// The sample names a family stores, plus its OpenMetrics family name, which
/// OpenMetrics requires to be unique too (a gauge `foo` and a counter
/// `foo_total` cannot both be exposed there).
fn claimed_names(family: &MetricFamily) -> [Option<JoinedName<'_>>; 4] {
    let name = family.name.as_str();
    match family.kind {
        MetricKind::Counter | MetricKind::Info => {
            let (base, suffix) = number_sample_name(family);
            [
                Some(JoinedName(om_family_name(family), "")),
                Some(JoinedName(base, suffix)),
                None,
                None,
            ]
        }
        MetricKind::Gauge | MetricKind::Untyped | MetricKind::StateSet => {
            [Some(JoinedName(name, "")), None, None, None]
        }
        MetricKind::Histogram | MetricKind::GaugeHistogram => [
            Some(JoinedName(name, "")),
            Some(JoinedName(name, "_bucket")),
            Some(JoinedName(name, "_sum")),
            Some(JoinedName(name, "_count")),
        ],
        MetricKind::Summary => [
            Some(JoinedName(name, "")),
            Some(JoinedName(name, "_sum")),
            Some(JoinedName(name, "_count")),
            None,
        ],
    }
}

/// Buffers reused from series to series.
#[derive(Default)]
struct Scratch<'a> {
    sorted: Vec<&'a Label>,
    /// Series of the current family by the hash of their sorted labels.
    seen: HashMap<u64, usize>,
}

fn check_series<'a>(
    family: &'a MetricFamily,
    limits: &Limits,
    scratch: &mut Scratch<'a>,
) -> Result<(), ValidationError> {
    let reserved = match family.kind {
        MetricKind::Histogram | MetricKind::GaugeHistogram => Some("le"),
        MetricKind::Summary => Some("quantile"),
        _ => None,
    };
    scratch.seen.clear();
    for (index, metric) in family.metrics.iter().enumerate() {
        let labels = &metric.labels;
        let invalid = |problem: SeriesProblem| ValidationError::InvalidSeries {
            family: family.name.clone(),
            series: format_series(labels),
            problem,
        };
        if labels.len() > limits.max_labels_per_series {
            return Err(invalid(SeriesProblem::TooManyLabels {
                count: labels.len(),
                limit: limits.max_labels_per_series,
            }));
        }
        for label in labels {
            if !is_label_name(&label.name) {
                return Err(invalid(SeriesProblem::InvalidLabelName(shorten(
                    &label.name,
                ))));
            }
            if label.name.starts_with("__") {
                return Err(invalid(SeriesProblem::ReservedLabelName(shorten(
                    &label.name,
                ))));
            }
            if label.name.len() > limits.max_label_name_length {
                return Err(invalid(SeriesProblem::LabelNameTooLong {
                    label: shorten(&label.name),
                    length: label.name.len(),
                    limit: limits.max_label_name_length,
                }));
            }
            if label.value.len() > limits.max_label_value_length {
                return Err(invalid(SeriesProblem::LabelValueTooLong {
                    label: label.name.clone(),
                    length: label.value.len(),
                    limit: limits.max_label_value_length,
                }));
            }
            if let Some(reserved) = reserved.filter(|r| label.name == *r) {
                return Err(invalid(SeriesProblem::LabelReservedByKind {
                    label: reserved,
                    kind: family.kind,
                }));
            }
        }

        scratch.sorted.clear();
        scratch.sorted.extend(labels);
        scratch.sorted.sort_unstable();
        if let Some(pair) = scratch.sorted.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(invalid(SeriesProblem::DuplicateLabel(pair[0].name.clone())));
        }
        let mut hasher = DefaultHasher::new();
        scratch.sorted.hash(&mut hasher);
        match scratch.seen.entry(hasher.finish()) {
            Entry::Vacant(entry) => {
                entry.insert(index);
            }
            Entry::Occupied(entry) => {
                // Equal hashes almost always mean equal series; on a collision
                // every earlier series is compared.
                let earlier = &family.metrics[*entry.get()].labels;
                if same_labels(earlier, labels)
                    || family.metrics[..index]
                        .iter()
                        .any(|m| same_labels(&m.labels, labels))
                {
                    return Err(ValidationError::DuplicateSeries {
                        family: family.name.clone(),
                        series: format_series(labels),
                    });
                }
            }
        }

        let value_kind = match &metric.value {
            MetricValue::Number(_) => "number",
            MetricValue::Histogram(_) => "histogram",
            MetricValue::Summary(_) => "summary",
        };
        let expected = match family.kind {
            MetricKind::Histogram | MetricKind::GaugeHistogram => "histogram",
            MetricKind::Summary => "summary",
            _ => "number",
        };
        if value_kind != expected {
            return Err(invalid(SeriesProblem::WrongValueKind {
                kind: family.kind,
                value: value_kind,
            }));
        }
        match &metric.value {
            MetricValue::Histogram(h) => {
                check_histogram(h).map_err(|e| invalid(SeriesProblem::InvalidHistogram(e)))?
            }
            MetricValue::Summary(s) => {
                check_summary(s).map_err(|e| invalid(SeriesProblem::InvalidSummary(e)))?
            }
            MetricValue::Number(_) => {}
        }
    }
    Ok(())
}

/// Order-insensitive equality of label sets without duplicate names.
fn same_labels(a: &[Label], b: &[Label]) -> bool {
    a.len() == b.len() && a.iter().all(|label| b.contains(label))
}

fn check_histogram(h: &Histogram) -> Result<(), String> {
    let mut previous: Option<f64> = None;
    let mut count = 0.0;
    for bucket in &h.buckets {
        let bound = bucket.upper_bound;
        if bound.is_nan() {
            return Err("bucket with a NaN upper bound".to_owned());
        }
        if let Some(previous) = previous
            && bound <= previous
        {
            return Err(format!(
                "bucket le={} after le={}: upper bounds must increase",
                float_string(bound),
                float_string(previous)
            ));
        }
        if bucket.cumulative_count.is_nan() {
            return Err(format!("bucket le={} has a NaN count", float_string(bound)));
        }
        if bucket.cumulative_count < count {
            return Err(format!(
                "bucket le={} has count {}, less than the {} before it",
                float_string(bound),
                float_string(bucket.cumulative_count),
                float_string(count)
            ));
        }
        previous = Some(bound);
        count = bucket.cumulative_count;
    }
    if h.count.is_nan() {
        return Err("NaN count".to_owned());
    }
    if h.count < count {
        return Err(format!(
            "count {} is less than the last bucket's {}",
            float_string(h.count),
            float_string(count)
        ));
    }
    if previous == Some(f64::INFINITY) && h.count != count {
        return Err(format!(
            "count {} differs from the +Inf bucket's {}",
            float_string(h.count),
            float_string(count)
        ));
    }
    Ok(())
}

fn check_summary(s: &Summary) -> Result<(), String> {
    for (i, q) in s.quantiles.iter().enumerate() {
        if !(0.0..=1.0).contains(&q.quantile) {
            return Err(format!(
                "quantile {} is outside [0, 1]",
                float_string(q.quantile)
            ));
        }
        if s.quantiles[..i].iter().any(|p| p.quantile == q.quantile) {
            return Err(format!("duplicate quantile {}", float_string(q.quantile)));
        }
    }
    Ok(())
}

/// Longest label value or name shown in an error, in characters.
const SHOWN_CHARS: usize = 64;

fn shorten(s: &str) -> String {
    match s.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}...", &s[..cut]),
        None => s.to_owned(),
    }
}

/// `{a="1",b="2"}` as in the text format, with long values shortened.
fn format_series(labels: &[Label]) -> String {
    let mut out = String::from("{");
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&shorten(&label.name));
        out.push_str("=\"");
        write_escaped(&mut out, &shorten(&label.value), true);
        out.push('"');
    }
    out.push('}');
    out
}
