//! Push bodies into client_model metric families, keyed by name: the text
//! format 0.0.4 (read by the project's text parser, then grouped into
//! families as client_golang's `TextParser` does: `_bucket`/`_sum`/`_count`
//! samples join a declared histogram or summary, every other name without
//! a `# TYPE` is untyped) and the delimited protobuf format.

use std::collections::BTreeMap;

use wasmetheus_model::{MetricKind, Sample, text};
use wasmetheus_prompb::client::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType, Quantile,
    Summary, Untyped,
};
use wasmetheus_prompb::codec;

/// Families by name, as a push carries them.
pub type Families = BTreeMap<String, MetricFamily>;

/// Whether a `Content-Type` is the delimited protobuf format.
pub fn is_protobuf(content_type: &str) -> bool {
    let mut parts = content_type.split(';').map(str::trim);
    let media = parts.next().unwrap_or_default();
    if !media.eq_ignore_ascii_case("application/vnd.google.protobuf") {
        return false;
    }
    let (mut proto, mut delimited) = (false, false);
    for param in parts {
        let Some((name, value)) = param.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"');
        match name.trim().to_ascii_lowercase().as_str() {
            "proto" => proto = value == "io.prometheus.client.MetricFamily",
            "encoding" => delimited = value == "delimited",
            _ => {}
        }
    }
    proto && delimited
}

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Malformed (400).
    #[error("{0}")]
    Invalid(String),
    /// More than a push may hold (413).
    #[error("{0}")]
    TooLarge(String),
}

/// The families of a delimited protobuf body, refused when they would
/// take more than `max_decoded` bytes once decoded. A family named twice:
/// the last one wins, as in Pushgateway.
pub fn parse_protobuf(body: &[u8], max_decoded: usize) -> Result<Families, BodyError> {
    let mut out = Families::new();
    let messages = codec::split_delimited(body, usize::MAX).map_err(|e| match e {
        codec::DecodeError::Truncated => BodyError::Invalid("unexpected EOF".to_owned()),
        e => BodyError::Invalid(e.to_string()),
    })?;
    let mut decoded = 0usize;
    for message in &messages {
        // prost's own error says more about a malformed message.
        let size = crate::wire::decoded_size(message).map_err(|e| {
            let prost = codec::decode::<MetricFamily>(message).err();
            BodyError::Invalid(prost.map_or_else(|| format!("protobuf: {e}"), |p| p.to_string()))
        })?;
        decoded = decoded.saturating_add(size);
        if decoded > max_decoded {
            return Err(BodyError::TooLarge(format!(
                "the push would take more than {max_decoded} bytes of memory decoded, the limit of one push: push fewer metrics at once"
            )));
        }
    }
    for message in messages {
        let family: MetricFamily =
            codec::decode(message).map_err(|e| BodyError::Invalid(e.to_string()))?;
        out.insert(family.name.clone().unwrap_or_default(), family);
    }
    Ok(out)
}

/// Keeps at most `max` samples and `8 * max` label pairs; past either,
/// only counts.
struct Bounded {
    samples: Vec<Sample>,
    max: usize,
    seen: usize,
    labels: usize,
}

impl<'a> text::SampleSink<'a> for Bounded {
    fn sample(&mut self, s: text::RawSample<'a, '_>) {
        self.seen += 1;
        self.labels += s.labels.len();
        if self.seen <= self.max && self.labels <= self.max.saturating_mul(8) {
            self.samples.sample(s);
        }
    }
}

/// The families of a text-format body of at most `max_samples` samples.
pub fn parse_text(body: &str, max_samples: usize) -> Result<Families, BodyError> {
    let mut sink = Bounded {
        samples: Vec::new(),
        max: max_samples,
        seen: 0,
        labels: 0,
    };
    let metadata = text::parse_into(body, &mut sink).map_err(|e| {
        BodyError::Invalid(format!(
            "text format parsing error in line {}: {}",
            e.line, e.message
        ))
    })?;
    if sink.seen > max_samples {
        return Err(BodyError::TooLarge(format!(
            "the push holds {} samples, more than the limit of {max_samples} for one push: push fewer at once",
            sink.seen
        )));
    }
    if sink.labels > max_samples.saturating_mul(8) {
        return Err(BodyError::TooLarge(format!(
            "the push holds {} labels, more than the limit of {} for one push: push fewer at once",
            sink.labels,
            max_samples.saturating_mul(8)
        )));
    }
    let exposition = wasmetheus_model::Exposition {
        metadata,
        samples: sink.samples,
        exemplars: Vec::new(),
    };
    let mut builder = Builder::default();
    for meta in &exposition.metadata {
        let family = builder.family(&meta.name);
        family.r#type = Some(client_type(meta.kind) as i32);
        if !meta.help.is_empty() {
            family.help = Some(meta.help.clone());
        }
    }
    for sample in &exposition.samples {
        builder.add(sample).map_err(BodyError::Invalid)?;
    }
    // A family declared but without samples is dropped, as Go's parser does.
    builder.families.retain(|_, f| !f.metric.is_empty());
    Ok(builder.families)
}

fn client_type(kind: MetricKind) -> MetricType {
    match kind {
        MetricKind::Counter => MetricType::Counter,
        MetricKind::Gauge | MetricKind::Info | MetricKind::StateSet => MetricType::Gauge,
        MetricKind::Untyped => MetricType::Untyped,
        MetricKind::Histogram => MetricType::Histogram,
        MetricKind::GaugeHistogram => MetricType::GaugeHistogram,
        MetricKind::Summary => MetricType::Summary,
    }
}

/// The type of `family`: unset is the enum's first value, a counter (Go's
/// `GetType()`); an unknown value is untyped.
pub fn family_type(family: &MetricFamily) -> MetricType {
    match family.r#type {
        None => MetricType::Counter,
        Some(t) => MetricType::try_from(t).unwrap_or(MetricType::Untyped),
    }
}

#[derive(Default)]
struct Builder {
    families: Families,
    /// Histogram and summary metrics by family and labels (without `le`
    /// or `quantile`): index into the family's metrics.
    composite: BTreeMap<(String, Vec<(String, String)>), usize>,
}

impl Builder {
    fn family(&mut self, name: &str) -> &mut MetricFamily {
        self.families
            .entry(name.to_owned())
            .or_insert_with(|| MetricFamily {
                name: Some(name.to_owned()),
                // No `# TYPE`: untyped (the metadata may say otherwise).
                r#type: Some(MetricType::Untyped as i32),
                ..MetricFamily::default()
            })
    }

    fn add(&mut self, sample: &Sample) -> Result<(), String> {
        let name = sample.name.as_str();
        let declared = |suffixes: &[&'static str], wanted: &[MetricType]| {
            suffixes.iter().find_map(|suffix| {
                let base = name.strip_suffix(suffix)?;
                let family = self.families.get(base)?;
                wanted
                    .contains(&family_type(family))
                    .then(|| (base.to_owned(), *suffix))
            })
        };
        let composite = if self.families.contains_key(name) {
            let t = family_type(&self.families[name]);
            matches!(t, MetricType::Summary).then(|| (name.to_owned(), ""))
        } else {
            declared(&["_sum", "_count"], &[MetricType::Summary]).or_else(|| {
                declared(
                    &["_bucket", "_sum", "_count"],
                    &[MetricType::Histogram, MetricType::GaugeHistogram],
                )
            })
        };
        let labels = |skip: &str| -> Vec<LabelPair> {
            sample
                .labels
                .iter()
                .filter(|l| l.name != skip)
                .map(|l| LabelPair {
                    name: Some(l.name.clone()),
                    value: Some(l.value.clone()),
                })
                .collect()
        };
        let Some((base, suffix)) = composite else {
            // A plain sample: its own metric.
            let family = self.family(name);
            let v = Some(sample.value);
            let mut metric = Metric {
                label: labels(""),
                timestamp_ms: sample.timestamp_ms,
                ..Metric::default()
            };
            match family_type(family) {
                MetricType::Counter => {
                    metric.counter = Some(Counter {
                        value: v,
                        ..Counter::default()
                    })
                }
                MetricType::Gauge => metric.gauge = Some(Gauge { value: v }),
                _ => metric.untyped = Some(Untyped { value: v }),
            }
            family.metric.push(metric);
            return Ok(());
        };
        let summary = family_type(&self.families[&base]) == MetricType::Summary;
        let special = if summary { "quantile" } else { "le" };
        let label_value = |wanted: &str| {
            sample
                .labels
                .iter()
                .find(|l| l.name == wanted)
                .map(|l| l.value.clone())
        };
        let key_labels = labels(special);
        let key: Vec<(String, String)> = key_labels
            .iter()
            .map(|l| {
                (
                    l.name.clone().unwrap_or_default(),
                    l.value.clone().unwrap_or_default(),
                )
            })
            .collect();
        let family = self.families.get_mut(&base).expect("found above");
        let index = *self
            .composite
            .entry((base.clone(), key))
            .or_insert_with(|| {
                family.metric.push(Metric {
                    label: key_labels,
                    summary: summary.then(Summary::default),
                    histogram: (!summary).then(Histogram::default),
                    ..Metric::default()
                });
                family.metric.len() - 1
            });
        let metric = &mut family.metric[index];
        if sample.timestamp_ms.is_some() {
            metric.timestamp_ms = sample.timestamp_ms;
        }
        let count = sample.value as u64;
        match (summary, suffix) {
            (true, "") => {
                let q = label_value("quantile")
                    .ok_or_else(|| format!("summary sample {name} has no quantile label"))?;
                let quantile = parse_float(&q).ok_or_else(|| {
                    format!("expected float as value for 'quantile' label, got {q:?}")
                })?;
                let s = metric.summary.get_or_insert_with(Summary::default);
                s.quantile.push(Quantile {
                    quantile: Some(quantile),
                    value: Some(sample.value),
                });
            }
            (true, "_sum") => {
                metric
                    .summary
                    .get_or_insert_with(Summary::default)
                    .sample_sum = Some(sample.value)
            }
            (true, _) => {
                metric
                    .summary
                    .get_or_insert_with(Summary::default)
                    .sample_count = Some(count)
            }
            (false, "_bucket") => {
                let le = label_value("le")
                    .ok_or_else(|| format!("histogram sample {name} has no le label"))?;
                let bound = parse_float(&le)
                    .ok_or_else(|| format!("expected float as value for 'le' label, got {le:?}"))?;
                let h = metric.histogram.get_or_insert_with(Histogram::default);
                h.bucket.push(Bucket {
                    cumulative_count: Some(count),
                    upper_bound: Some(bound),
                    ..Bucket::default()
                });
            }
            (false, "_sum") => {
                metric
                    .histogram
                    .get_or_insert_with(Histogram::default)
                    .sample_sum = Some(sample.value)
            }
            (false, _) => {
                metric
                    .histogram
                    .get_or_insert_with(Histogram::default)
                    .sample_count = Some(count)
            }
        }
        Ok(())
    }
}

/// A label's float (`+Inf`, `-Inf`, `NaN` included).
fn parse_float(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert!(is_protobuf(
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
        ));
        assert!(!is_protobuf(
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily"
        ));
        assert!(!is_protobuf("text/plain; version=0.0.4"));
        assert!(!is_protobuf(""));
    }

    #[test]
    fn text_groups_histograms_and_summaries() {
        let body = "# HELP h Some help.\n# TYPE h histogram\nh_bucket{le=\"1\",a=\"x\"} 1\nh_bucket{le=\"+Inf\",a=\"x\"} 2\nh_sum{a=\"x\"} 3\nh_count{a=\"x\"} 2\n# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\n# TYPE c counter\nc 5\nu 1\nu{b=\"1\"} 2 1000\n";
        let families = parse_text(body, 1000).unwrap();
        assert_eq!(families.keys().collect::<Vec<_>>(), ["c", "h", "s", "u"]);
        let h = &families["h"];
        assert_eq!(h.help.as_deref(), Some("Some help."));
        assert_eq!(h.metric.len(), 1);
        let hist = h.metric[0].histogram.as_ref().unwrap();
        assert_eq!(hist.bucket.len(), 2);
        assert_eq!(hist.sample_count, Some(2));
        assert_eq!(hist.sample_sum, Some(3.0));
        assert_eq!(h.metric[0].label.len(), 1);
        let s = families["s"].metric[0].summary.as_ref().unwrap();
        assert_eq!((s.quantile.len(), s.sample_count), (1, Some(3)));
        assert_eq!(
            families["c"].metric[0].counter.as_ref().unwrap().value,
            Some(5.0)
        );
        assert_eq!(family_type(&families["u"]), MetricType::Untyped);
        assert_eq!(families["u"].metric[1].timestamp_ms, Some(1000));
    }

    #[test]
    fn text_pushes_are_bounded() {
        let labels: String = (0..9).map(|i| format!("l{i}=\"\",")).collect();
        let body = format!("a{{{labels}}} 1\n");
        let e = parse_text(&body, 1).unwrap_err();
        assert!(
            matches!(&e, BodyError::TooLarge(t) if t.contains("9 labels")),
            "{e}"
        );
        assert!(parse_text("a 1\nb 1\n", 1).is_err());
        assert!(parse_text("a 1\n", 1).is_ok());
    }

    #[test]
    fn text_errors_say_where() {
        let e = parse_text("bad line\n", 1000).unwrap_err().to_string();
        assert!(
            e.starts_with("text format parsing error in line 1: "),
            "{e}"
        );
        let e = parse_text("# TYPE h histogram\nh_bucket 1\n", 1000)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no le label"), "{e}");
    }

    #[test]
    fn protobuf_bodies() {
        let family = MetricFamily {
            name: Some("p".into()),
            r#type: Some(MetricType::Gauge as i32),
            metric: vec![Metric {
                gauge: Some(Gauge { value: Some(1.0) }),
                ..Metric::default()
            }],
            ..MetricFamily::default()
        };
        let mut body = Vec::new();
        codec::put_delimited(&family, &mut body);
        assert_eq!(parse_protobuf(&body, 1 << 20).unwrap()["p"], family);
        assert_eq!(
            parse_protobuf(&body[..body.len() - 1], 1 << 20).unwrap_err(),
            BodyError::Invalid("unexpected EOF".into())
        );
        assert!(parse_protobuf(&[], 1 << 20).unwrap().is_empty());
        // A frame of garbage.
        let mut bad = Vec::new();
        prost::encoding::encode_varint(3, &mut bad);
        bad.extend_from_slice(&[0xff, 0xff, 0xff]);
        assert!(
            parse_protobuf(&bad, 1 << 20)
                .unwrap_err()
                .to_string()
                .starts_with("protobuf")
        );
        // Deeply nested (unknown) groups are refused at prost's recursion
        // limit, not followed.
        let mut nested = Vec::new();
        for _ in 0..10_000 {
            prost::encoding::encode_key(9, prost::encoding::WireType::StartGroup, &mut nested);
        }
        let mut deep = Vec::new();
        prost::encoding::encode_varint(nested.len() as u64, &mut deep);
        deep.extend_from_slice(&nested);
        assert!(
            parse_protobuf(&deep, 1 << 20)
                .unwrap_err()
                .to_string()
                .starts_with("protobuf")
        );
    }
}
