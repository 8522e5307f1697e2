//! The consistency check a push must pass against the whole store
//! (client_golang's gathering checks, as Pushgateway 1.5 runs them): a
//! family's metrics all of its type, valid and unique label names, no
//! series twice, no `_sum`/`_count`/`_bucket` name colliding with a
//! summary or histogram, valid metric names, UTF-8 label values.

use std::collections::{BTreeMap, HashSet};

use wasmetheus_prompb::client::{Metric, MetricFamily, MetricType};

use crate::body::family_type;
use crate::grouping::is_label_name;

/// The problems of a push, each in client_golang's words: `pushed` are
/// the group's new families (name order), `existing` the types other
/// groups hold the touched names as (the pushed names and those their
/// `_count`/`_sum`/`_bucket` series could collide with), `neighbours` the
/// families of the pushed names in the other groups whose series could
/// equal pushed ones (no grouping label with another value). The rest of
/// the store was consistent and stays so.
pub fn check_push<'a>(
    pushed: &[&'a MetricFamily],
    existing: &BTreeMap<String, MetricType>,
    neighbours: &[&'a MetricFamily],
) -> Vec<String> {
    let mut errors = Vec::new();
    let mut types: BTreeMap<&str, MetricType> =
        existing.iter().map(|(n, t)| (n.as_str(), *t)).collect();
    for family in pushed {
        let name = family.name.as_deref().unwrap_or_default();
        types.entry(name).or_insert_with(|| family_type(family));
    }
    // Suffix collisions, reported by the later name.
    let mut collected: BTreeMap<&str, MetricType> = BTreeMap::new();
    let mut colliding: HashSet<&str> = HashSet::new();
    for (name, kind) in &types {
        if let Some(e) = suffix_collision(name, *kind, &collected) {
            errors.push(e);
            colliding.insert(name);
            continue;
        }
        collected.insert(name, *kind);
    }
    let mut seen: HashSet<(String, Vec<(&str, &str)>)> = HashSet::new();
    for family in pushed {
        let name = family.name.as_deref().unwrap_or_default();
        if !is_metric_name(name) {
            errors.push(format!(
                "collected metric named {name:?} has an invalid name"
            ));
            continue;
        }
        if colliding.contains(name) {
            continue;
        }
        for metric in &family.metric {
            if let Err(e) = metric_consistency(name, types[name], metric, &mut seen) {
                errors.push(e);
            }
        }
    }
    for family in neighbours {
        let name = family.name.as_deref().unwrap_or_default();
        for metric in &family.metric {
            let mut labels = sorted_labels(metric);
            labels.sort();
            if seen.contains(&(name.to_owned(), labels)) {
                errors.push(format!(
                    "collected metric {name:?} {{ {}}} was collected before with the same name and label values",
                    proto_text(metric)
                ));
            }
        }
    }
    errors
}

fn sorted_labels(metric: &Metric) -> Vec<(&str, &str)> {
    let mut labels: Vec<(&str, &str)> = metric
        .label
        .iter()
        .map(|l| {
            (
                l.name.as_deref().unwrap_or_default(),
                l.value.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    labels.sort();
    labels
}

/// Every problem of the families merged by name (in the order given),
/// each in client_golang's words: the whole-store check
/// [`check_push`] is equivalent to for a store that was consistent.
#[cfg(test)]
pub fn check<'a>(families: impl Iterator<Item = &'a MetricFamily>) -> Vec<String> {
    let mut errors = Vec::new();
    // Name → the type of the first family of that name.
    let mut types: BTreeMap<&str, MetricType> = BTreeMap::new();
    let mut merged: Vec<&MetricFamily> = Vec::new();
    for family in families {
        let name = family.name.as_deref().unwrap_or_default();
        if family.metric.is_empty() {
            // Empty families are left out of an exposition.
            continue;
        }
        types.entry(name).or_insert_with(|| family_type(family));
        merged.push(family);
    }
    let mut seen: HashSet<(String, Vec<(&str, &str)>)> = HashSet::new();
    // The families met so far: a collision is reported by the later one.
    let mut collected: BTreeMap<&str, MetricType> = BTreeMap::new();
    for family in merged {
        let name = family.name.as_deref().unwrap_or_default();
        let kind = types[name];
        if !is_metric_name(name) {
            errors.push(format!(
                "collected metric named {name:?} has an invalid name"
            ));
            continue;
        }
        if let Some(e) = suffix_collision(name, kind, &collected) {
            errors.push(e);
            continue;
        }
        collected.insert(name, kind);
        for metric in &family.metric {
            if let Err(e) = metric_consistency(name, kind, metric, &mut seen) {
                errors.push(e);
            }
        }
    }
    errors
}

/// The text of a failed check: one error as is, several listed.
pub fn message(errors: &[String]) -> String {
    match errors {
        [one] => one.clone(),
        _ => {
            let mut out = format!("{} error(s) occurred:", errors.len());
            for e in errors {
                out.push_str("\n* ");
                out.push_str(e);
            }
            out
        }
    }
}

fn metric_consistency<'m>(
    name: &str,
    kind: MetricType,
    metric: &'m Metric,
    seen: &mut HashSet<(String, Vec<(&'m str, &'m str)>)>,
) -> Result<(), String> {
    let fits = match kind {
        MetricType::Counter => metric.counter.is_some(),
        MetricType::Gauge => metric.gauge.is_some(),
        MetricType::Untyped => metric.untyped.is_some(),
        MetricType::Summary => metric.summary.is_some(),
        MetricType::Histogram | MetricType::GaugeHistogram => metric.histogram.is_some(),
    };
    if !fits {
        return Err(format!(
            "collected metric {name:?} {{ {}}} is not a {}",
            proto_text(metric),
            type_name(kind)
        ));
    }
    let labels = sorted_labels(metric);
    for pair in labels.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(format!(
                "collected metric {name:?} {{ {}}} has two or more labels with the same name: {}",
                proto_text(metric),
                pair[0].0
            ));
        }
    }
    for (label, _) in &labels {
        if !is_label_name(label) || label.starts_with("__") {
            return Err(format!(
                "collected metric {name:?} {{ {}}} has a label with an invalid name: {label}",
                proto_text(metric)
            ));
        }
        let reserved = match kind {
            MetricType::Summary => "quantile",
            MetricType::Histogram | MetricType::GaugeHistogram => "le",
            _ => "",
        };
        if *label == reserved {
            return Err(format!(
                "collected metric {name:?} {{ {}}} must not have an explicit {reserved:?} label",
                proto_text(metric)
            ));
        }
    }
    // prost has already refused label values that are not UTF-8.
    if !seen.insert((name.to_owned(), labels)) {
        return Err(format!(
            "collected metric {name:?} {{ {}}} was collected before with the same name and label values",
            proto_text(metric)
        ));
    }
    Ok(())
}

/// client_golang's `checkSuffixCollisions`, against the families
/// collected before.
fn suffix_collision(
    name: &str,
    kind: MetricType,
    types: &BTreeMap<&str, MetricType>,
) -> Option<String> {
    let is = |n: &str, wanted: &[MetricType]| types.get(n).is_some_and(|t| wanted.contains(t));
    const SUMMARY: &[MetricType] = &[MetricType::Summary];
    const HISTOGRAM: &[MetricType] = &[MetricType::Histogram, MetricType::GaugeHistogram];
    for suffix in ["_count", "_sum", "_bucket"] {
        let Some(base) = name.strip_suffix(suffix) else {
            continue;
        };
        if suffix != "_bucket" && is(base, SUMMARY) {
            return Some(format!(
                "collected metric named {name:?} collides with previously collected summary named {base:?}"
            ));
        }
        if is(base, HISTOGRAM) {
            return Some(format!(
                "collected metric named {name:?} collides with previously collected histogram named {base:?}"
            ));
        }
    }
    let own: &[&str] = match kind {
        MetricType::Summary => &["_count", "_sum"],
        MetricType::Histogram | MetricType::GaugeHistogram => &["_count", "_sum", "_bucket"],
        _ => &[],
    };
    own.iter().find_map(|suffix| {
        let other = format!("{name}{suffix}");
        types.contains_key(other.as_str()).then(|| {
            format!(
                "collected histogram or summary named {name:?} collides with previously collected metric named {other:?}"
            )
        })
    })
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn is_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

fn type_name(kind: MetricType) -> &'static str {
    match kind {
        MetricType::Counter => "COUNTER",
        MetricType::Gauge => "GAUGE",
        MetricType::Untyped => "UNTYPED",
        MetricType::Summary => "SUMMARY",
        MetricType::Histogram => "HISTOGRAM",
        MetricType::GaugeHistogram => "GAUGE_HISTOGRAM",
    }
}

/// A metric in the protobuf text form Go's `%s` prints (labels and the
/// value; enough to recognise the series).
fn proto_text(metric: &Metric) -> String {
    let mut out = String::new();
    for l in &metric.label {
        out.push_str(&format!(
            "label:<name:{:?} value:{:?} > ",
            l.name.as_deref().unwrap_or_default(),
            l.value.as_deref().unwrap_or_default()
        ));
    }
    let value = |v: Option<f64>| wasmetheus_model::go::format_float_g(v.unwrap_or_default());
    if let Some(g) = &metric.gauge {
        out.push_str(&format!("gauge:<value:{} > ", value(g.value)));
    }
    if let Some(c) = &metric.counter {
        out.push_str(&format!("counter:<value:{} > ", value(c.value)));
    }
    if let Some(u) = &metric.untyped {
        out.push_str(&format!("untyped:<value:{} > ", value(u.value)));
    }
    if let Some(s) = &metric.summary {
        out.push_str(&format!(
            "summary:<sample_count:{} sample_sum:{} > ",
            s.sample_count.unwrap_or_default(),
            value(s.sample_sum)
        ));
    }
    if let Some(h) = &metric.histogram {
        out.push_str(&format!(
            "histogram:<sample_count:{} sample_sum:{} > ",
            h.sample_count.unwrap_or_default(),
            value(h.sample_sum)
        ));
    }
    if let Some(t) = metric.timestamp_ms {
        out.push_str(&format!("timestamp_ms:{t} "));
    }
    out
}
