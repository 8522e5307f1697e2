//! Metric families as exporters produce them, and flat samples as stored.

/// One label pair.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    pub name: String,
    pub value: String,
}

impl Label {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Label {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// The type of a metric family, as in OpenMetrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    Counter,
    Gauge,
    Untyped,
    Histogram,
    Summary,
    Info,
    StateSet,
    GaugeHistogram,
}

impl MetricKind {
    /// The name used in a `# TYPE` line of the given format.
    pub fn as_str(self, openmetrics: bool) -> &'static str {
        match (self, openmetrics) {
            (MetricKind::Counter, _) => "counter",
            (MetricKind::Gauge, _) => "gauge",
            (MetricKind::Untyped, false) => "untyped",
            (MetricKind::Untyped, true) => "unknown",
            (MetricKind::Histogram, _) => "histogram",
            (MetricKind::Summary, _) => "summary",
            // The 0.0.4 text format has no info/stateset/gaugehistogram;
            // their series are plain gauges (value 1 or 0) there.
            (MetricKind::Info, false) => "gauge",
            (MetricKind::Info, true) => "info",
            (MetricKind::StateSet, false) => "gauge",
            (MetricKind::StateSet, true) => "stateset",
            (MetricKind::GaugeHistogram, false) => "histogram",
            (MetricKind::GaugeHistogram, true) => "gaugehistogram",
        }
    }
}

/// One cumulative bucket of a classic histogram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub upper_bound: f64,
    pub cumulative_count: f64,
}

/// A classic histogram value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    pub buckets: Vec<Bucket>,
    pub count: f64,
    pub sum: f64,
}

impl Histogram {
    /// A histogram of fixed `bounds` whose cumulative counts are
    /// `cumulative` (one per bound, in order; the `+Inf` bucket is
    /// `count`), as the self-metrics keep their latencies.
    pub fn from_cumulative(bounds: &[f64], cumulative: &[u64], count: u64, sum: f64) -> Histogram {
        Histogram {
            buckets: bounds
                .iter()
                .zip(cumulative)
                .map(|(&upper_bound, &n)| Bucket {
                    upper_bound,
                    cumulative_count: n as f64,
                })
                .collect(),
            count: count as f64,
            sum,
        }
    }
}

/// One quantile of a summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantile {
    pub quantile: f64,
    pub value: f64,
}

/// A summary value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    pub quantiles: Vec<Quantile>,
    pub count: f64,
    pub sum: f64,
}

/// The value of one metric.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    Number(f64),
    Histogram(Histogram),
    Summary(Summary),
}

/// One series of a family (labels exclude the metric name).
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub labels: Vec<Label>,
    pub value: MetricValue,
    pub timestamp_ms: Option<i64>,
}

/// A metric family. For counters and info metrics `name` may or may not carry
/// the `_total` / `_info` suffix; encoders add it where the format needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFamily {
    pub name: String,
    pub kind: MetricKind,
    pub help: String,
    pub unit: String,
    pub metrics: Vec<Metric>,
}

impl MetricFamily {
    /// A family of one unlabelled series with value `value`: the shape of
    /// most self-metrics.
    pub fn single(name: &str, kind: MetricKind, help: &str, value: f64) -> Self {
        MetricFamily {
            name: name.to_owned(),
            kind,
            help: help.to_owned(),
            unit: String::new(),
            metrics: vec![Metric {
                labels: Vec::new(),
                value: MetricValue::Number(value),
                timestamp_ms: None,
            }],
        }
    }
}

/// One flat sample: full series name, labels, value and optional timestamp.
/// This is what a scrape stores: a histogram family becomes its `_bucket`,
/// `_sum` and `_count` samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<Label>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}
