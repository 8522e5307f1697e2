//! Native histograms as the storage layer and the query engine carry them:
//! a float histogram in the shape of the scripted tests' `{{…}}` notation
//! (dense runs of absolute bucket counts starting at an index, instead of
//! Prometheus' spans), its counter-reset hint, and the float rules the
//! notation and its comparisons use (Go's `util/almost`, the notation's
//! number format).

use std::fmt;

use crate::stale::is_stale_marker;

/// What a counter-reset hint of a native histogram says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CounterResetHint {
    #[default]
    Unknown,
    Reset,
    NotReset,
    Gauge,
}

impl CounterResetHint {
    pub fn as_str(self) -> &'static str {
        match self {
            CounterResetHint::Unknown => "unknown",
            CounterResetHint::Reset => "reset",
            CounterResetHint::NotReset => "not_reset",
            CounterResetHint::Gauge => "gauge",
        }
    }
}

/// The schema of native histograms with custom bucket bounds (NHCB).
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// A float native histogram in the shape of the `{{…}}` test notation:
/// dense runs of absolute bucket counts starting at an index, instead of
/// Prometheus' spans, since only parsing and comparison are needed so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FloatHistogram {
    pub schema: i32,
    pub sum: f64,
    pub count: f64,
    pub zero_count: f64,
    pub zero_threshold: f64,
    /// Index of `positive[0]`.
    pub offset: i32,
    pub positive: Vec<f64>,
    /// Index of `negative[0]`.
    pub n_offset: i32,
    pub negative: Vec<f64>,
    /// Upper bounds for schema -53 (`+Inf` implicit).
    pub custom_values: Vec<f64>,
    pub counter_reset_hint: CounterResetHint,
}

impl FloatHistogram {
    /// Whether this is a histogram with custom bucket bounds.
    pub fn uses_custom_buckets(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }

    /// The non-empty positive buckets as `(index, count)`: the layout that
    /// remains after Prometheus' `Compact(0)`.
    pub fn positive_buckets(&self) -> Vec<(i32, f64)> {
        compact(self.offset, &self.positive)
    }

    /// The non-empty negative buckets as `(index, count)`.
    pub fn negative_buckets(&self) -> Vec<(i32, f64)> {
        compact(self.n_offset, &self.negative)
    }

    /// Whether `actual` equals this expected histogram as the scripted
    /// tests compare them: both compacted, schema, zero threshold, custom
    /// bounds and bucket layout identical, counts within the float
    /// tolerance; the counter-reset hint only when `compare_hint` (the
    /// expectation spelled it out).
    pub fn matches(&self, actual: &FloatHistogram, compare_hint: bool) -> bool {
        let buckets_match = |a: Vec<(i32, f64)>, b: Vec<(i32, f64)>| {
            a.len() == b.len()
                && a.iter()
                    .zip(&b)
                    .all(|(x, y)| x.0 == y.0 && almost_equal(x.1, y.1))
        };
        self.schema == actual.schema
            && almost_equal(self.count, actual.count)
            && almost_equal(self.sum, actual.sum)
            && (!self.uses_custom_buckets()
                || self.custom_values.len() == actual.custom_values.len()
                    && self
                        .custom_values
                        .iter()
                        .zip(&actual.custom_values)
                        .all(|(a, b)| a == b))
            && self.zero_threshold == actual.zero_threshold
            && almost_equal(self.zero_count, actual.zero_count)
            && buckets_match(self.negative_buckets(), actual.negative_buckets())
            && buckets_match(self.positive_buckets(), actual.positive_buckets())
            && (!compare_hint || self.counter_reset_hint == actual.counter_reset_hint)
    }

    /// Every count (the total, the zero bucket's, each bucket's) and the
    /// sum scaled by `factor`, the layout and the hint kept (Prometheus'
    /// `FloatHistogram.Mul`).
    pub fn mul(&self, factor: f64) -> FloatHistogram {
        let scale = |v: &[f64]| v.iter().map(|c| c * factor).collect();
        FloatHistogram {
            count: self.count * factor,
            sum: self.sum * factor,
            zero_count: self.zero_count * factor,
            positive: scale(&self.positive),
            negative: scale(&self.negative),
            ..self.clone()
        }
    }

    /// `self + other` (or `self - other` when `negate`), bucket by bucket,
    /// as the `{{A}}+{{B}}xN` load notation needs. A finer schema is first
    /// reduced to the coarser one, like Prometheus does.
    pub fn add(&self, other: &FloatHistogram, negate: bool) -> FloatHistogram {
        let sign = if negate { -1.0 } else { 1.0 };
        let schema = self.schema.min(other.schema);
        let mut out = FloatHistogram {
            schema,
            sum: self.sum + sign * other.sum,
            count: self.count + sign * other.count,
            zero_count: self.zero_count + sign * other.zero_count,
            zero_threshold: self.zero_threshold.max(other.zero_threshold),
            custom_values: self.custom_values.clone(),
            counter_reset_hint: self.counter_reset_hint,
            ..FloatHistogram::default()
        };
        let merge = |a: Vec<(i32, f64)>, a_schema: i32, b: Vec<(i32, f64)>, b_schema: i32| {
            let mut map = std::collections::BTreeMap::new();
            for (buckets, from, factor) in [(a, a_schema, 1.0), (b, b_schema, sign)] {
                for (i, c) in buckets {
                    *map.entry(reduce_index(i, from, schema)).or_insert(0.0) += factor * c;
                }
            }
            dense(map)
        };
        (out.offset, out.positive) = merge(
            self.positive_buckets(),
            self.schema,
            other.positive_buckets(),
            other.schema,
        );
        (out.n_offset, out.negative) = merge(
            self.negative_buckets(),
            self.schema,
            other.negative_buckets(),
            other.schema,
        );
        out
    }
}

/// The index at schema `to` of the bucket `index` at schema `from`
/// (`from >= to`); custom buckets are never reduced.
fn reduce_index(index: i32, from: i32, to: i32) -> i32 {
    if from == to || from == CUSTOM_BUCKETS_SCHEMA {
        return index;
    }
    ((index - 1) >> (from - to)) + 1
}

fn compact(offset: i32, counts: &[f64]) -> Vec<(i32, f64)> {
    (offset..)
        .zip(counts.iter().copied())
        .filter(|&(_, c)| c != 0.0)
        .collect()
}

/// Sparse `(index → count)` back to an offset and a dense run.
fn dense(map: std::collections::BTreeMap<i32, f64>) -> (i32, Vec<f64>) {
    let Some((&first, _)) = map.first_key_value() else {
        return (0, Vec::new());
    };
    let last = *map.last_key_value().map(|(k, _)| k).unwrap_or(&first);
    let counts = (first..=last)
        .map(|i| map.get(&i).copied().unwrap_or(0.0))
        .collect();
    (first, counts)
}

/// Renders the histogram in the `{{…}}` notation of the scripted tests,
/// omitting fields at their defaults.
impl fmt::Display for FloatHistogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[f64]| {
            v.iter()
                .map(|x| format_float(*x))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut parts = Vec::new();
        if self.schema != 0 {
            parts.push(format!("schema:{}", self.schema));
        }
        if self.count != 0.0 {
            parts.push(format!("count:{}", format_float(self.count)));
        }
        if self.sum != 0.0 {
            parts.push(format!("sum:{}", format_float(self.sum)));
        }
        if self.zero_threshold != 0.0 {
            parts.push(format!("z_bucket_w:{}", format_float(self.zero_threshold)));
        }
        if self.zero_count != 0.0 {
            parts.push(format!("z_bucket:{}", format_float(self.zero_count)));
        }
        if !self.custom_values.is_empty() {
            parts.push(format!("custom_values:[{}]", list(&self.custom_values)));
        }
        if self.offset != 0 {
            parts.push(format!("offset:{}", self.offset));
        }
        if !self.positive.is_empty() {
            parts.push(format!("buckets:[{}]", list(&self.positive)));
        }
        if self.n_offset != 0 {
            parts.push(format!("n_offset:{}", self.n_offset));
        }
        if !self.negative.is_empty() {
            parts.push(format!("n_buckets:[{}]", list(&self.negative)));
        }
        if self.counter_reset_hint != CounterResetHint::Unknown {
            parts.push(format!(
                "counter_reset_hint:{}",
                self.counter_reset_hint.as_str()
            ));
        }
        write!(f, "{{{{{}}}}}", parts.join(" "))
    }
}

/// The smallest positive normal f64 (Go's `minNormal` in `util/almost`).
const MIN_NORMAL: f64 = f64::MIN_POSITIVE;

/// The relative tolerance of the scripted tests.
pub const EPSILON: f64 = 1e-6;

/// Prometheus' `almost.Equal(a, b, 1e-6)`: the stale marker equals only
/// itself, any two other NaNs are equal, otherwise a relative tolerance
/// (absolute, and tiny, when a side is zero or both are subnormal).
pub fn almost_equal(a: f64, b: f64) -> bool {
    if is_stale_marker(a) || is_stale_marker(b) {
        return is_stale_marker(a) && is_stale_marker(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < EPSILON * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < EPSILON
}

/// A float as the test notation writes it (`+Inf`, `NaN`, `stale` for the
/// stale marker, shortest round-trip digits otherwise).
pub fn format_float(v: f64) -> String {
    if is_stale_marker(v) {
        "stale".into()
    } else if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stale::STALE_NAN_BITS;

    #[test]
    fn floats_compare_like_prometheus() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        assert!(almost_equal(1.0, 1.0 + 1e-9));
        assert!(!almost_equal(1.0, 1.0001));
        assert!(almost_equal(f64::NAN, -f64::NAN));
        assert!(!almost_equal(stale, f64::NAN));
        assert!(almost_equal(stale, stale));
        assert!(!almost_equal(0.0, 1e-300));
        assert!(almost_equal(f64::INFINITY, f64::INFINITY));
        assert!(!almost_equal(f64::INFINITY, f64::NEG_INFINITY));
    }

    #[test]
    fn histograms_compare_after_compaction() {
        let a = FloatHistogram {
            count: 3.0,
            offset: -1,
            positive: vec![0.0, 1.0, 2.0, 0.0],
            ..FloatHistogram::default()
        };
        let b = FloatHistogram {
            count: 3.0000000001,
            offset: 0,
            positive: vec![1.0, 2.0],
            counter_reset_hint: CounterResetHint::Gauge,
            ..FloatHistogram::default()
        };
        assert!(a.matches(&b, false));
        assert!(!a.matches(&b, true));
        let c = FloatHistogram {
            offset: 1,
            ..b.clone()
        };
        assert!(!a.matches(&c, false));
        assert_eq!(a.add(&a, false).to_string(), "{{count:6 buckets:[2 4]}}");
        // Schema 1 buckets 1 and 2 fold into schema 0 bucket 1.
        let fine = FloatHistogram {
            schema: 1,
            offset: 1,
            positive: vec![1.0, 1.0],
            ..FloatHistogram::default()
        };
        assert_eq!(a.add(&fine, true).to_string(), "{{count:3 buckets:[1 0]}}");
    }

    #[test]
    fn mul_scales_counts_and_sum_and_keeps_the_layout() {
        let h = FloatHistogram {
            schema: 1,
            count: 3.0,
            sum: 1.5,
            zero_count: 1.0,
            zero_threshold: 0.5,
            offset: -1,
            positive: vec![1.0, 0.0, 1.0],
            counter_reset_hint: CounterResetHint::NotReset,
            ..FloatHistogram::default()
        };
        assert_eq!(
            h.mul(-2.0).to_string(),
            "{{schema:1 count:-6 sum:-3 z_bucket_w:0.5 z_bucket:-2 offset:-1 buckets:[-2 -0 -2] counter_reset_hint:not_reset}}"
        );
    }
}
