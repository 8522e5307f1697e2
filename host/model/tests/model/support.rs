//! Helpers shared by the tests: family builders, a stable rendering of parse
//! results for snapshots, and the location of the conformance corpus.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use wasmetheus_model::{
    Bucket, Exposition, Histogram, Label, Metric, MetricFamily, MetricKind, MetricValue,
    ParseError, Quantile, Sample, Summary,
};

pub fn family(name: &str, kind: MetricKind, help: &str, metrics: Vec<Metric>) -> MetricFamily {
    MetricFamily {
        name: name.to_owned(),
        kind,
        help: help.to_owned(),
        unit: String::new(),
        metrics,
    }
}

pub fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
    pairs.iter().map(|(n, v)| Label::new(*n, *v)).collect()
}

pub fn number(pairs: &[(&str, &str)], value: f64) -> Metric {
    Metric {
        labels: labels(pairs),
        value: MetricValue::Number(value),
        timestamp_ms: None,
    }
}

/// `buckets` are (upper bound, cumulative count) pairs.
pub fn histogram(pairs: &[(&str, &str)], buckets: &[(f64, f64)], count: f64, sum: f64) -> Metric {
    Metric {
        labels: labels(pairs),
        value: MetricValue::Histogram(Histogram {
            buckets: buckets
                .iter()
                .map(|&(upper_bound, cumulative_count)| Bucket {
                    upper_bound,
                    cumulative_count,
                })
                .collect(),
            count,
            sum,
        }),
        timestamp_ms: None,
    }
}

/// `quantiles` are (quantile, value) pairs.
pub fn summary(pairs: &[(&str, &str)], quantiles: &[(f64, f64)], count: f64, sum: f64) -> Metric {
    Metric {
        labels: labels(pairs),
        value: MetricValue::Summary(Summary {
            quantiles: quantiles
                .iter()
                .map(|&(quantile, value)| Quantile { quantile, value })
                .collect(),
            count,
            sum,
        }),
        timestamp_ms: None,
    }
}

pub fn at(mut metric: Metric, timestamp_ms: i64) -> Metric {
    metric.timestamp_ms = Some(timestamp_ms);
    metric
}

fn render_labels(out: &mut String, labels: &[Label]) {
    if labels.is_empty() {
        return;
    }
    out.push('{');
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{}={:?}", label.name, label.value);
    }
    out.push('}');
}

pub fn render_sample(out: &mut String, sample: &Sample) {
    out.push_str(&sample.name);
    render_labels(out, &sample.labels);
    let _ = write!(out, " {:?}", sample.value);
    if let Some(ts) = sample.timestamp_ms {
        let _ = write!(out, " @{ts}");
    }
    out.push('\n');
}

pub fn render_samples(samples: &[Sample]) -> String {
    let mut out = String::new();
    for sample in samples {
        render_sample(&mut out, sample);
    }
    out
}

/// One line per metadata entry, sample and exemplar; or the error.
pub fn render(result: &Result<Exposition, ParseError>) -> String {
    let exposition = match result {
        Ok(exposition) => exposition,
        Err(err) => return format!("error: {err}\n"),
    };
    let mut out = String::new();
    for meta in &exposition.metadata {
        let _ = writeln!(
            out,
            "meta {} {} help={:?} unit={:?}",
            meta.name,
            meta.kind.as_str(true),
            meta.help,
            meta.unit
        );
    }
    for (index, sample) in exposition.samples.iter().enumerate() {
        render_sample(&mut out, sample);
        for exemplar in exposition.exemplars.iter().filter(|e| e.sample == index) {
            out.push_str("  # ");
            if exemplar.labels.is_empty() {
                out.push_str("{}");
            }
            render_labels(&mut out, &exemplar.labels);
            let _ = write!(out, " {:?}", exemplar.value);
            if let Some(ts) = exemplar.timestamp_ms {
                let _ = write!(out, " @{ts}");
            }
            out.push('\n');
        }
    }
    out
}

/// The shared conformance corpus. It lives outside the repository; a
/// missing corpus fails the test instead of skipping it.
pub fn conformance_dir() -> PathBuf {
    let dir = match std::env::var_os("WASMETHEUS_CONFORMANCE") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
    };
    assert!(
        dir.is_dir(),
        "conformance corpus not found at {}: put the shared/ checkout next to the \
         workspace, or set WASMETHEUS_CONFORMANCE to its conformance directory",
        dir.display()
    );
    dir
}
