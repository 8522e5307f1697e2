//! Answers printed as promtool's `promqlPrinter` (`-o promql`: the
//! `String()` forms of `prometheus/common/model`) and `jsonPrinter`
//! (`-o json`: `encoding/json` of the decoded values).

use crate::Format;
use crate::decode::{Labels, Stream, Value};
use crate::gotime::{go_float, go_json_string, go_quote, go_timestamp};
use std::collections::BTreeMap;

/// `model.Metric.String()`: the name, then `name="value"` pairs sorted as
/// whole strings (so `a1="…"` comes before `a="…"`).
fn metric_text(labels: &Labels) -> String {
    let empty = BTreeMap::new();
    let labels = labels.as_ref().unwrap_or(&empty);
    let name = labels.get("__name__");
    let mut pairs: Vec<String> = labels
        .iter()
        .filter(|(k, _)| *k != "__name__")
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect();
    if pairs.is_empty() {
        return match name {
            Some(name) => name.clone(),
            None => "{}".to_owned(),
        };
    }
    pairs.sort();
    format!(
        "{}{{{}}}",
        name.map_or("", String::as_str),
        pairs.join(", ")
    )
}

/// `model.LabelSet.String()`: every pair, sorted as whole strings.
fn label_set_text(labels: &Labels) -> String {
    let mut pairs: Vec<String> = labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect();
    pairs.sort();
    format!("{{{}}}", pairs.join(", "))
}

/// `model.LabelSet.Before`, which orders `model.Matrix` for printing: fewer
/// labels first, then at the first differing name (in the merged, sorted
/// names of both) the set lacking it, or the smaller value.
fn label_set_before(a: &Labels, b: &Labels) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let empty = BTreeMap::new();
    let (a, b) = (a.as_ref().unwrap_or(&empty), b.as_ref().unwrap_or(&empty));
    if a.len() != b.len() {
        return a.len().cmp(&b.len());
    }
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort();
    for name in names {
        match (a.get(name), b.get(name)) {
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => {}
        }
    }
    Ordering::Equal
}

fn json_labels(labels: &Labels) -> String {
    match labels {
        None => "null".to_owned(),
        Some(labels) => {
            let pairs: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{}:{}", go_json_string(k), go_json_string(v)))
                .collect();
            format!("{{{}}}", pairs.join(","))
        }
    }
}

fn json_pair(timestamp: i64, value: f64) -> String {
    format!(
        "[{},{}]",
        go_timestamp(timestamp),
        go_json_string(&go_float(value))
    )
}

pub(crate) fn print_value(value: &Value, format: Format) -> String {
    match (value, format) {
        (Value::Scalar(t, v), Format::Promql) => {
            format!("scalar: {} @[{}]\n", go_float(*v), go_timestamp(*t))
        }
        (Value::Scalar(t, v), Format::Json) => format!("{}\n", json_pair(*t, *v)),
        (Value::Vector(samples), Format::Promql) => {
            let lines: Vec<String> = samples
                .iter()
                .map(|s| {
                    format!(
                        "{} => {} @[{}]",
                        metric_text(&s.metric),
                        go_float(s.value),
                        go_timestamp(s.timestamp)
                    )
                })
                .collect();
            format!("{}\n", lines.join("\n"))
        }
        (Value::Vector(samples), Format::Json) => {
            let items: Vec<String> = samples
                .iter()
                .map(|s| {
                    format!(
                        "{{\"metric\":{},\"value\":{}}}",
                        json_labels(&s.metric),
                        json_pair(s.timestamp, s.value)
                    )
                })
                .collect();
            format!("[{}]\n", items.join(","))
        }
        (Value::Matrix(streams), Format::Promql) => {
            let mut sorted: Vec<&Stream> = streams.iter().collect();
            sorted.sort_by(|a, b| label_set_before(&a.metric, &b.metric));
            let blocks: Vec<String> = sorted
                .iter()
                .map(|s| {
                    let values: Vec<String> = s
                        .values
                        .iter()
                        .flatten()
                        .map(|(t, v)| format!("{} @[{}]", go_float(*v), go_timestamp(*t)))
                        .collect();
                    format!("{} =>\n{}", metric_text(&s.metric), values.join("\n"))
                })
                .collect();
            format!("{}\n", blocks.join("\n"))
        }
        (Value::Matrix(streams), Format::Json) => {
            let items: Vec<String> = streams
                .iter()
                .map(|s| {
                    let values = match &s.values {
                        None => "null".to_owned(),
                        Some(values) => {
                            let pairs: Vec<String> =
                                values.iter().map(|(t, v)| json_pair(*t, *v)).collect();
                            format!("[{}]", pairs.join(","))
                        }
                    };
                    format!(
                        "{{\"metric\":{},\"values\":{values}}}",
                        json_labels(&s.metric)
                    )
                })
                .collect();
            format!("[{}]\n", items.join(","))
        }
    }
}

pub(crate) fn print_series(sets: &[Labels], format: Format) -> String {
    match format {
        Format::Promql => sets
            .iter()
            .map(|s| format!("{}\n", label_set_text(s)))
            .collect(),
        Format::Json => {
            let items: Vec<String> = sets.iter().map(json_labels).collect();
            format!("[{}]\n", items.join(","))
        }
    }
}

pub(crate) fn print_label_values(values: &[String], format: Format) -> String {
    match format {
        Format::Promql => values.iter().map(|v| format!("{v}\n")).collect(),
        Format::Json => {
            let items: Vec<String> = values.iter().map(|v| go_json_string(v)).collect();
            format!("[{}]\n", items.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_order_is_label_set_before() {
        let set = |pairs: &[(&str, &str)]| -> Labels {
            Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        let mut sets = [
            set(&[("__name__", "x"), ("b", "2")]),
            set(&[("__name__", "x"), ("a", "1")]),
            set(&[("b", "1"), ("c", "1")]),
            set(&[("z", "1")]),
        ];
        sets.sort_by(label_set_before);
        let texts: Vec<String> = sets.iter().map(metric_text).collect();
        assert_eq!(
            texts,
            [
                "{z=\"1\"}",
                "{b=\"1\", c=\"1\"}",
                "x{b=\"2\"}",
                "x{a=\"1\"}"
            ]
        );
        assert_eq!(
            label_set_text(&set(&[("a", "1"), ("a1", "2"), ("_", "3"), ("A", "4")])),
            "{A=\"4\", _=\"3\", a1=\"2\", a=\"1\"}"
        );
    }
}
