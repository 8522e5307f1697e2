//! The "NH" heuristic of FORMAT.md: which evals involve native histograms,
//! which the runner counts as passed when they pass and skips otherwise
//! while the engine supports histograms in part. An eval is NH
//! when its expected output holds a `{{…}}` histogram, or when a selector
//! of its expression can match a series that holds histogram samples at
//! that point of the script.
//!
//! Selectors are found by a small scanner rather than the PromQL parser,
//! so the runner (and its corpus counts) do not depend on the parser's
//! state; the scan only has to tell metric names and `{…}` matchers apart
//! from function names, keywords, grouping labels, strings, numbers and
//! durations.

use wasmetheus_model::Label;
use wasmetheus_model::storage::Matcher;

use super::script::{Eval, Expected, Load};
use wasmetheus_promql::value::SampleValue;

/// Words that are never a selector's metric name (PromQL keywords and
/// aggregation operators).
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "atan2",
    "bool",
    "offset",
    "anchored",
    "smoothed",
    "inf",
    "nan",
    "sum",
    "avg",
    "count",
    "min",
    "max",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "count_values",
    "quantile",
    "limitk",
    "limit_ratio",
];

/// Keywords followed by a parenthesised label list (or, for `fill*`, a
/// number) rather than an expression.
const LIST_KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "fill",
    "fill_left",
    "fill_right",
];

/// The matchers of every vector selector in `expr` (a best-effort scan:
/// selectors it cannot parse are left out).
pub fn selectors(expr: &str) -> Vec<Vec<Matcher>> {
    let b = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' | b'\'' | b'`' => i = skip_string(b, i),
            b'#' => break,
            b'[' => i = skip_group(b, i, b'[', b']'),
            b'{' => {
                let end = skip_group(b, i, b'{', b'}');
                if let Ok(m) = parse_selector(&expr[i..end]) {
                    out.push(m);
                }
                i = end;
            }
            b'0'..=b'9' | b'.' => {
                // A number or duration: `1e+3`, `0x1f`, `5m`, `1.5`.
                i += 1;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || matches!(b[i], b'.' | b'_')
                        || matches!(b[i], b'+' | b'-') && matches!(b[i - 1], b'e' | b'E'))
                {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c == b':' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b':')) {
                    i += 1;
                }
                let word = &expr[start..i];
                let lower = word.to_ascii_lowercase();
                let mut j = i;
                while j < b.len() && b[j].is_ascii_whitespace() {
                    j += 1;
                }
                let next = b.get(j).copied();
                if LIST_KEYWORDS.contains(&lower.as_str()) {
                    if next == Some(b'(') {
                        i = skip_group(b, j, b'(', b')');
                    }
                } else if KEYWORDS.contains(&lower.as_str()) || next == Some(b'(') {
                    // A keyword or a function call: its arguments are
                    // scanned as they come.
                } else if next == Some(b'{') {
                    let end = skip_group(b, j, b'{', b'}');
                    let text = format!("{word}{}", &expr[j..end]);
                    if let Ok(m) = parse_selector(&text) {
                        out.push(m);
                    }
                    i = end;
                } else if let Ok(m) = parse_selector(word) {
                    out.push(m);
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// The matchers of a series selector that names something (a selector
/// whose matchers all match the empty string is no selector).
fn parse_selector(text: &str) -> Result<Vec<Matcher>, ()> {
    match wasmetheus_promql::parser::parse_metric_selector(text) {
        Ok(m) if !m.iter().all(Matcher::matches_empty) => Ok(m),
        _ => Err(()),
    }
}

/// Index just past the quoted string starting at `i`.
fn skip_string(b: &[u8], i: usize) -> usize {
    let quote = b[i];
    let mut j = i + 1;
    while j < b.len() {
        if b[j] == b'\\' && quote != b'`' {
            j += 2;
            continue;
        }
        if b[j] == quote {
            return j + 1;
        }
        j += 1;
    }
    b.len()
}

/// Index just past the bracketed group opening at `i`, skipping strings.
fn skip_group(b: &[u8], i: usize, open: u8, close: u8) -> usize {
    let mut depth = 0;
    let mut j = i;
    while j < b.len() {
        match b[j] {
            b'"' | b'\'' | b'`' => {
                j = skip_string(b, j);
                continue;
            }
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    b.len()
}

/// Whether all `matchers` accept `labels` (a missing label counts as "").
pub fn matches(matchers: &[Matcher], labels: &[Label]) -> bool {
    matchers.iter().all(|m| {
        let v = labels
            .iter()
            .find(|l| l.name == m.name)
            .map_or("", |l| l.value.as_str());
        m.matches(v)
    })
}

/// The label sets of series holding histogram samples, tracked through a
/// script (reset by `clear`).
#[derive(Debug, Clone, Default)]
pub struct HistogramSeries {
    series: Vec<Vec<Label>>,
}

impl HistogramSeries {
    pub fn clear(&mut self) {
        self.series.clear();
    }

    fn add(&mut self, labels: Vec<Label>) {
        if !self.series.contains(&labels) {
            self.series.push(labels);
        }
    }

    /// Records the histogram series a `load` creates: those with a `{{…}}`
    /// value, and for `load_with_nhcb` the series it derives from
    /// `X_bucket`/`X_count`/`X_sum`.
    pub fn record(&mut self, load: &Load) {
        for s in &load.series {
            if s.values
                .iter()
                .any(|v| matches!(v, Some(SampleValue::Histogram(_))))
            {
                self.add(s.labels.clone());
            }
            if load.with_nhcb
                && let Some((base, _)) = nhcb_base(&s.labels)
            {
                self.add(base);
            }
        }
    }

    /// Whether any selector of `expr` can match a histogram series.
    pub fn selected_by(&self, expr: &str) -> bool {
        !self.series.is_empty()
            && selectors(expr)
                .iter()
                .any(|m| self.series.iter().any(|s| matches(m, s)))
    }

    pub fn label_sets(&self) -> &[Vec<Label>] {
        &self.series
    }
}

/// What part of a classic histogram a series is, for `load_with_nhcb`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NhcbPart {
    /// A bucket with this (numeric) upper bound.
    Bucket(f64),
    Count,
    Sum,
}

/// For a series of a classic histogram (`X_bucket` with a numeric `le`,
/// `X_count`, `X_sum`): the labels of the native histogram series
/// `load_with_nhcb` builds (named `X`, without `le`) and the part.
pub fn nhcb_base(labels: &[Label]) -> Option<(Vec<Label>, NhcbPart)> {
    let name = labels.iter().find(|l| l.name == "__name__")?.value.as_str();
    let (base, part) = if let Some(base) = name.strip_suffix("_bucket") {
        let le = labels.iter().find(|l| l.name == "le")?;
        let bound = parse_le(&le.value)?;
        (base, NhcbPart::Bucket(bound))
    } else if let Some(base) = name.strip_suffix("_count") {
        (base, NhcbPart::Count)
    } else if let Some(base) = name.strip_suffix("_sum") {
        (base, NhcbPart::Sum)
    } else {
        return None;
    };
    let mut out: Vec<Label> = labels
        .iter()
        .filter(|l| l.name != "le")
        .map(|l| {
            if l.name == "__name__" {
                Label::new("__name__", base)
            } else {
                l.clone()
            }
        })
        .collect();
    out.sort();
    Some((out, part))
}

/// An `le` value as Go's `ParseFloat` reads it; NaN is no bound.
fn parse_le(v: &str) -> Option<f64> {
    let lower = v.to_ascii_lowercase();
    let f = match lower.trim_start_matches(['+', '-']) {
        "inf" | "infinity" => {
            if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        }
        _ => v.parse().ok()?,
    };
    (!f.is_nan()).then_some(f)
}

/// Whether an eval involves native histograms (see the module docs).
pub fn is_nh(eval: &Eval, hist: &HistogramSeries) -> bool {
    let expects_histogram = match &eval.expected {
        Expected::Scalar(_) => false,
        Expected::Series(series) => series.iter().any(|s| {
            s.values
                .iter()
                .any(|v| matches!(v, Some(SampleValue::Histogram(_))))
        }),
    };
    expects_histogram || hist.selected_by(&eval.expr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(expr: &str) -> String {
        selectors(expr)
            .iter()
            .map(|m| {
                m.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }

    #[test]
    fn scanner_finds_selectors_only() {
        assert_eq!(
            names(
                r#"sum by (job, le) (rate(http_requests{job="a"}[5m:1m] offset -1m)) / on(x) group_left(y) bar"#
            ),
            r#"job="a",__name__="http_requests" | __name__="bar""#
        );
        assert_eq!(
            names(
                r#"label_replace(up, "dst", "$1", "src", "(.*)") and {"utf8.name", a=~"b|c"} @ start()"#
            ),
            r#"__name__="up" | __name__="utf8.name",a=~"b|c""#
        );
        assert_eq!(
            names("1e+3 + Inf - nan * 0x1f + count_values(\"x\", y)"),
            r#"__name__="y""#
        );
        assert_eq!(
            names("foo {a=\"}\"} + fill(0) sum without (foo) (baz) # bar"),
            r#"a="}",__name__="foo" | __name__="baz""#
        );
    }

    #[test]
    fn nhcb_series_drop_le() {
        let l = |n: &str, v: &str| Label::new(n, v);
        let (labels, part) =
            nhcb_base(&[l("__name__", "x_bucket"), l("a", "1"), l("le", "+Inf")]).unwrap();
        assert_eq!(labels, vec![l("__name__", "x"), l("a", "1")]);
        assert_eq!(part, NhcbPart::Bucket(f64::INFINITY));
        assert_eq!(
            nhcb_base(&[l("__name__", "x_bucket"), l("le", "foo")]),
            None
        );
        assert_eq!(nhcb_base(&[l("__name__", "x_total")]), None);
    }
}
