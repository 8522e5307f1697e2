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

/// The coarsest exponential schema (Prometheus' `ExponentialSchemaMin`).
pub const EXPONENTIAL_SCHEMA_MIN: i32 = -4;

/// The finest exponential schema (Prometheus' `ExponentialSchemaMax`).
pub const EXPONENTIAL_SCHEMA_MAX: i32 = 8;

/// The most bucket indexes one side (positive or negative) of a histogram
/// may span, empty buckets in between included: 2^16. Prometheus has no
/// such bound, but its span encoding makes a sparse layout cheap, while the
/// dense runs here cost memory for every index between the first and the
/// last bucket; real histograms stay far below it (schema 8 covers the
/// whole float range in about 2^19 indexes, and scrapes are capped at 160
/// buckets by default).
pub const MAX_BUCKET_SPAN: usize = 1 << 16;

/// Why a histogram, or an operation on two of them, is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistogramError {
    /// Prometheus' `InvalidSchemaError`.
    #[error(
        "histogram has an invalid schema, which must be between {EXPONENTIAL_SCHEMA_MIN} and \
         {EXPONENTIAL_SCHEMA_MAX} for exponential buckets, or {CUSTOM_BUCKETS_SCHEMA} for \
         custom buckets, got schema {0}"
    )]
    InvalidSchema(i32),
    /// Prometheus' `ErrHistogramsIncompatibleSchema`.
    #[error(
        "cannot apply this operation on histograms with a mix of exponential and custom bucket schemas"
    )]
    IncompatibleSchema,
    /// The buckets of one side span more than [`MAX_BUCKET_SPAN`] indexes.
    #[error("histogram buckets span {0} bucket indexes, more than the limit of {MAX_BUCKET_SPAN}")]
    TooManyBuckets(u64),
    /// A bucket index past the 32-bit range Prometheus' spans can hold.
    #[error("histogram bucket index {0} is out of the 32-bit range")]
    IndexOutOfRange(i64),
}

/// Whether `schema` is one Prometheus accepts (`histogram.IsValidSchema`).
pub fn validate_schema(schema: i32) -> Result<(), HistogramError> {
    if schema == CUSTOM_BUCKETS_SCHEMA
        || (EXPONENTIAL_SCHEMA_MIN..=EXPONENTIAL_SCHEMA_MAX).contains(&schema)
    {
        Ok(())
    } else {
        Err(HistogramError::InvalidSchema(schema))
    }
}

/// Checks one side's run of `len` buckets starting at index `offset`: at
/// most [`MAX_BUCKET_SPAN`] of them, the last index within `i32`.
fn validate_run(offset: i32, len: usize) -> Result<(), HistogramError> {
    let len = u64::try_from(len).unwrap_or(u64::MAX);
    if len > MAX_BUCKET_SPAN as u64 {
        return Err(HistogramError::TooManyBuckets(len));
    }
    if len > 0 {
        // Both terms are small enough that the sum cannot overflow i64.
        let last = i64::from(offset) + len as i64 - 1;
        if i32::try_from(last).is_err() {
            return Err(HistogramError::IndexOutOfRange(last));
        }
    }
    Ok(())
}

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

    /// Checks what the notation can spell wrong: a schema Prometheus
    /// refuses, more than [`MAX_BUCKET_SPAN`] buckets on a side, a bucket
    /// index past the 32-bit range.
    pub fn validate(&self) -> Result<(), HistogramError> {
        validate_schema(self.schema)?;
        validate_run(self.offset, self.positive.len())?;
        validate_run(self.n_offset, self.negative.len())
    }

    /// How many buckets the histogram holds (its dense runs and custom
    /// bounds): the measure of its size for input limits.
    pub fn bucket_count(&self) -> usize {
        self.positive.len() + self.negative.len() + self.custom_values.len()
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
    /// reduced to the coarser one, like Prometheus does. Refused like
    /// Prometheus' `Add`/`Sub` when a schema is invalid or custom buckets
    /// meet exponential ones; refused too when the result's buckets would
    /// span more than [`MAX_BUCKET_SPAN`] indexes.
    pub fn add(
        &self,
        other: &FloatHistogram,
        negate: bool,
    ) -> Result<FloatHistogram, HistogramError> {
        validate_schema(self.schema)?;
        validate_schema(other.schema)?;
        if self.uses_custom_buckets() != other.uses_custom_buckets() {
            return Err(HistogramError::IncompatibleSchema);
        }
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
                    *map.entry(reduce_index(i, from, schema)?).or_insert(0.0) += factor * c;
                }
            }
            dense(map)
        };
        (out.offset, out.positive) = merge(
            self.positive_buckets(),
            self.schema,
            other.positive_buckets(),
            other.schema,
        )?;
        (out.n_offset, out.negative) = merge(
            self.negative_buckets(),
            self.schema,
            other.negative_buckets(),
            other.schema,
        )?;
        Ok(out)
    }
}

/// The index at schema `to` of the bucket `index` at schema `from`
/// (`from >= to`, both valid schemas); custom buckets are never reduced.
/// Prometheus' `targetIdx`, computed in 64 bits so `index - 1` cannot
/// overflow.
fn reduce_index(index: i32, from: i32, to: i32) -> Result<i32, HistogramError> {
    if from == to || from == CUSTOM_BUCKETS_SCHEMA {
        return Ok(index);
    }
    let shift = from
        .checked_sub(to)
        .filter(|s| (0..=EXPONENTIAL_SCHEMA_MAX - EXPONENTIAL_SCHEMA_MIN).contains(s))
        .ok_or(HistogramError::IncompatibleSchema)?;
    let reduced = ((i64::from(index) - 1) >> shift) + 1;
    i32::try_from(reduced).map_err(|_| HistogramError::IndexOutOfRange(reduced))
}

/// The non-zero counts of a dense run as `(index, count)`; indexes past
/// `i32` (only reachable by building a histogram by hand, as
/// [`FloatHistogram::validate`] refuses them) are dropped, not wrapped.
fn compact(offset: i32, counts: &[f64]) -> Vec<(i32, f64)> {
    (i64::from(offset)..)
        .zip(counts.iter().copied())
        .filter(|&(_, c)| c != 0.0)
        .map_while(|(i, c)| i32::try_from(i).ok().map(|i| (i, c)))
        .collect()
}

/// Sparse `(index → count)` back to an offset and a dense run, refused
/// when the run would span more than [`MAX_BUCKET_SPAN`] indexes.
fn dense(map: std::collections::BTreeMap<i32, f64>) -> Result<(i32, Vec<f64>), HistogramError> {
    let (Some((&first, _)), Some((&last, _))) = (map.first_key_value(), map.last_key_value())
    else {
        return Ok((0, Vec::new()));
    };
    let span = (i64::from(last) - i64::from(first) + 1).unsigned_abs();
    if span > MAX_BUCKET_SPAN as u64 {
        return Err(HistogramError::TooManyBuckets(span));
    }
    let counts = (first..=last)
        .map(|i| map.get(&i).copied().unwrap_or(0.0))
        .collect();
    Ok((first, counts))
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
        assert_eq!(
            a.add(&a, false).map(|h| h.to_string()),
            Ok("{{count:6 buckets:[2 4]}}".into())
        );
        // Schema 1 buckets 1 and 2 fold into schema 0 bucket 1.
        let fine = FloatHistogram {
            schema: 1,
            offset: 1,
            positive: vec![1.0, 1.0],
            ..FloatHistogram::default()
        };
        assert_eq!(
            a.add(&fine, true).map(|h| h.to_string()),
            Ok("{{count:3 buckets:[1 0]}}".into())
        );
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

    fn exp(schema: i32, offset: i32, positive: Vec<f64>) -> FloatHistogram {
        FloatHistogram {
            schema,
            offset,
            positive,
            ..FloatHistogram::default()
        }
    }

    #[test]
    fn schemas_outside_prometheus_range_are_refused() {
        for schema in [-53, -4, 0, 8] {
            assert_eq!(validate_schema(schema), Ok(()), "{schema}");
        }
        for schema in [-54, -52, -5, 9, 61, i32::MIN, i32::MAX] {
            assert_eq!(
                validate_schema(schema),
                Err(HistogramError::InvalidSchema(schema))
            );
        }
        assert_eq!(
            HistogramError::InvalidSchema(9).to_string(),
            "histogram has an invalid schema, which must be between -4 and 8 for exponential \
             buckets, or -53 for custom buckets, got schema 9"
        );
        // Before, schema 61 against schema 0 shifted an i32 by 61.
        assert_eq!(
            exp(61, 0, vec![1.0]).add(&exp(0, 0, vec![1.0]), false),
            Err(HistogramError::InvalidSchema(61))
        );
    }

    #[test]
    fn custom_buckets_do_not_mix_with_exponential_ones() {
        let custom = FloatHistogram {
            custom_values: vec![1.0, 2.0],
            ..exp(CUSTOM_BUCKETS_SCHEMA, 0, vec![1.0, 1.0])
        };
        let exponential = exp(0, 5, vec![1.0]);
        assert_eq!(
            exponential.add(&custom, false),
            Err(HistogramError::IncompatibleSchema)
        );
        assert_eq!(
            custom.add(&exponential, true),
            Err(HistogramError::IncompatibleSchema)
        );
        assert_eq!(
            custom.add(&custom, false).map(|h| h.positive),
            Ok(vec![2.0, 2.0])
        );
    }

    #[test]
    fn extreme_offsets_do_not_overflow() {
        let low = exp(1, i32::MIN, vec![1.0]);
        let got = low.add(&exp(0, 0, vec![]), false).expect("reduced");
        assert_eq!(got.positive_buckets(), vec![(-(1 << 30), 1.0)]);
        let high = exp(0, i32::MAX, vec![1.0]);
        assert_eq!(high.positive_buckets(), vec![(i32::MAX, 1.0)]);
        assert_eq!(
            high.add(&high, false).map(|h| h.positive_buckets()),
            Ok(vec![(i32::MAX, 2.0)])
        );
        // A run reaching past i32::MAX is refused, not wrapped.
        assert_eq!(
            exp(0, i32::MAX, vec![1.0, 1.0]).validate(),
            Err(HistogramError::IndexOutOfRange(i64::from(i32::MAX) + 1))
        );
        assert_eq!(exp(0, i32::MAX, vec![0.0, 1.0]).positive_buckets(), vec![]);
    }

    #[test]
    fn bucket_spans_are_bounded() {
        // Two buckets four billion indexes apart would need 32 GB dense.
        let far = exp(0, -2_000_000_000, vec![1.0]).add(&exp(0, 2_000_000_000, vec![1.0]), false);
        assert_eq!(far, Err(HistogramError::TooManyBuckets(4_000_000_001)));
        let edge = exp(0, 0, vec![1.0]).add(&exp(0, MAX_BUCKET_SPAN as i32 - 1, vec![1.0]), false);
        assert_eq!(edge.map(|h| h.positive.len()), Ok(MAX_BUCKET_SPAN));
        let past = exp(0, 0, vec![1.0]).add(&exp(0, MAX_BUCKET_SPAN as i32, vec![1.0]), false);
        assert_eq!(
            past,
            Err(HistogramError::TooManyBuckets(MAX_BUCKET_SPAN as u64 + 1))
        );
        assert_eq!(
            exp(0, 0, vec![1.0; MAX_BUCKET_SPAN + 1]).validate(),
            Err(HistogramError::TooManyBuckets(MAX_BUCKET_SPAN as u64 + 1))
        );
        assert_eq!(exp(0, 0, vec![1.0; MAX_BUCKET_SPAN]).validate(), Ok(()));
    }
}
