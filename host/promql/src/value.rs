//! The values a PromQL evaluation returns (scalar, string, instant vector,
//! range vector), native histograms as the scripted tests write them, and
//! the annotations (warnings, infos) that accompany a result.

use std::fmt;

use wasmetheus_model::Label;

/// The result of evaluating an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar at the evaluation time (ms).
    Scalar(i64, f64),
    /// A string literal at the evaluation time (ms).
    String(i64, String),
    /// An instant vector; its order is the result order (`sort` and
    /// `topk` make it meaningful).
    Vector(Vec<Sample>),
    /// A range vector, or the result of a range query; sorted by labels.
    Matrix(Vec<Series>),
}

impl Value {
    /// `scalar`, `string`, `vector` or `matrix`, as the HTTP API calls
    /// the result types.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar(..) => "scalar",
            Value::String(..) => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

/// A float or a native histogram: what one point of a series holds.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleValue {
    Float(f64),
    Histogram(Box<Histogram>),
}

impl fmt::Display for SampleValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SampleValue::Float(v) => f.write_str(&format_float(*v)),
            SampleValue::Histogram(h) => write!(f, "{h}"),
        }
    }
}

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Sorted by name; `__name__` included unless the evaluation dropped it.
    pub labels: Vec<Label>,
    /// Timestamp (ms).
    pub t: i64,
    pub value: SampleValue,
}

/// One timestamped value of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub t: i64,
    pub value: SampleValue,
}

/// One series of a range vector: labels and its points, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Vec<Label>,
    pub points: Vec<Point>,
}

/// Warnings and infos of one evaluation, each rendered as the HTTP API
/// shows it (`PromQL warning: <text> (<line>:<col>)`), because that is the
/// text the scripted tests compare against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotations {
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

pub use wasmetheus_model::histogram::{
    CUSTOM_BUCKETS_SCHEMA, CounterResetHint, EPSILON, FloatHistogram as Histogram, almost_equal,
    format_float,
};

/// A label set as Prometheus prints it: `name{a="b", c="d"}`, `{a="b"}`
/// without a name, `{}` when empty.
pub fn format_labels(labels: &[Label]) -> String {
    let name = labels
        .iter()
        .find(|l| l.name == "__name__")
        .map(|l| l.value.as_str());
    let rest: Vec<String> = labels
        .iter()
        .filter(|l| l.name != "__name__")
        .map(|l| format!("{}={:?}", l.name, l.value))
        .collect();
    match name {
        Some(n) if rest.is_empty() => n.to_owned(),
        Some(n) => format!("{n}{{{}}}", rest.join(", ")),
        None => format!("{{{}}}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_print_like_prometheus() {
        let l = |n: &str, v: &str| Label::new(n, v);
        assert_eq!(format_labels(&[]), "{}");
        assert_eq!(format_labels(&[l("__name__", "up")]), "up");
        assert_eq!(
            format_labels(&[l("__name__", "up"), l("a", "x\"y")]),
            r#"up{a="x\"y"}"#
        );
        assert_eq!(format_labels(&[l("a", "b")]), r#"{a="b"}"#);
    }
}
