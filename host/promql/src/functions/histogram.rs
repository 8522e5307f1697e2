//! Functions of classic histograms (bucket series with an `le` label):
//! `histogram_quantile`, `histogram_quantiles`, `histogram_fraction`, and
//! the native-histogram-only `histogram_count`, `histogram_sum`,
//! `histogram_avg` (computed), `histogram_stddev`, `histogram_stdvar`
//! (which refuse native histograms for now); all give nothing for floats.

use std::cmp::Ordering;
use std::sync::Arc;

use wasmetheus_model::Label;

use super::Context;
use crate::ast::{Call, Span};
use crate::eval_types::{Result, Sample, Val, check_unique};
use crate::float::go_float;
use crate::labels::{get_label, set_label};

/// `histogram_count`, `histogram_sum`, `histogram_avg`,
/// `histogram_stddev` and `histogram_stdvar`: native histograms only, so
/// floats give nothing.
pub(super) fn native_only(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    let v = ctx.eval_vector(&c.args[0], t)?;
    let f: fn(&crate::value::Histogram) -> f64 = match c.func.name {
        "histogram_count" => |h| h.count,
        "histogram_sum" => |h| h.sum,
        "histogram_avg" => |h| h.sum / h.count,
        // The engine refuses histograms for the others before this.
        _ => return Ok(Val::Vector(Vec::new())),
    };
    // Prometheus' `simpleHistogramFunc`: one float per histogram, the
    // name dropped; floats are left out.
    Ok(Val::Vector(
        v.into_iter()
            .filter_map(|s| {
                let h = s.h?;
                Some(Sample {
                    labels: s.labels,
                    t,
                    v: f(&h),
                    h: None,
                    drop_name: true,
                })
            })
            .collect(),
    ))
}

pub(super) fn histogram_fraction(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    let lower = ctx.eval_scalar(&c.args[0], t)?;
    let upper = ctx.eval_scalar(&c.args[1], t)?;
    let v = ctx.eval_vector(&c.args[2], t)?;
    let groups = bucket_groups(ctx, &v, c.args[2].span());
    Ok(Val::Vector(
        groups
            .into_iter()
            .map(|(labels, buckets)| Sample {
                h: None,
                labels: Arc::new(labels),
                t,
                v: bucket_fraction(lower, upper, buckets),
                drop_name: true,
            })
            .collect(),
    ))
}

/// A classic histogram: labels without `le`, and (bound, count) pairs.
type BucketGroup = (Vec<Label>, Vec<(f64, f64)>);

/// Classic histogram buckets grouped by their labels without `le`.
fn bucket_groups(ctx: &mut dyn Context, v: &[Sample], span: Span) -> Vec<BucketGroup> {
    let mut groups: Vec<BucketGroup> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for s in v {
        let le = get_label(&s.labels, "le");
        let Ok(bound) = parse_go_float(le) else {
            ctx.warn(
                &format!(
                    "bucket label \"le\" is missing or has a malformed value of {:?} for metric name {:?}",
                    le,
                    get_label(&s.labels, "__name__")
                ),
                span,
            );
            continue;
        };
        // Grouped with the name, which goes only at the end: two
        // histograms differing only in name then collide, as upstream.
        let labels: Vec<Label> = s
            .labels
            .iter()
            .filter(|l| l.name != "le")
            .cloned()
            .collect();
        let i = *index.entry(labels.clone()).or_insert_with(|| {
            groups.push((labels, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push((bound, s.v));
    }
    groups
}

fn parse_go_float(s: &str) -> std::result::Result<f64, ()> {
    match s.to_ascii_lowercase().as_str() {
        "+inf" | "inf" | "infinity" | "+infinity" => Ok(f64::INFINITY),
        "-inf" | "-infinity" => Ok(f64::NEG_INFINITY),
        "nan" => Ok(f64::NAN),
        _ => s.parse::<f64>().map_err(|_| ()),
    }
}

pub(super) fn histogram_quantile(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    let q = ctx.eval_scalar(&c.args[0], t)?;
    let v = ctx.eval_vector(&c.args[1], t)?;
    if !(0.0..=1.0).contains(&q) {
        ctx.warn(
            &format!(
                "quantile value should be between 0 and 1, got {}",
                go_float(q)
            ),
            c.args[0].span(),
        );
    }
    let names: Vec<String> = v
        .iter()
        .map(|s| get_label(&s.labels, "__name__").to_owned())
        .collect();
    let groups = bucket_groups(ctx, &v, c.args[1].span());
    let mut out = Vec::new();
    for (labels, buckets) in groups {
        let (value, forced) = bucket_quantile(q, buckets);
        if forced {
            let name = names.first().cloned().unwrap_or_default();
            ctx.info(
                &format!(
                    "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {name:?}"
                ),
                c.args[1].span(),
            );
        }
        out.push(Sample {
            h: None,
            labels: Arc::new(labels),
            t,
            v: value,
            drop_name: true,
        });
    }
    Ok(Val::Vector(out))
}

/// Prometheus' `BucketQuantile`; also whether monotonicity was forced.
fn bucket_quantile(q: f64, mut buckets: Vec<(f64, f64)>) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return (f64::NAN, false);
    }
    let mut buckets = coalesce(buckets);
    let forced = ensure_monotonic(&mut buckets);
    if buckets.len() < 2 {
        return (f64::NAN, forced);
    }
    let observations = buckets[buckets.len() - 1].1;
    if observations == 0.0 {
        return (f64::NAN, forced);
    }
    let mut rank = q * observations;
    let n = buckets.len() - 1;
    let b = buckets[..n].partition_point(|b| b.1 < rank);
    if b == n {
        return (buckets[n - 1].0, forced);
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return (buckets[0].0, forced);
    }
    let (mut start, end, mut count) = (0.0, buckets[b].0, buckets[b].1);
    if b > 0 {
        start = buckets[b - 1].0;
        count -= buckets[b - 1].1;
        rank -= buckets[b - 1].1;
    }
    (start + (end - start) * (rank / count), forced)
}

fn coalesce(buckets: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for b in buckets {
        match out.last_mut() {
            Some(last) if last.0 == b.0 => last.1 += b.1,
            _ => out.push(b),
        }
    }
    out
}

fn ensure_monotonic(buckets: &mut [(f64, f64)]) -> bool {
    let mut forced = false;
    let mut prev = buckets[0].1;
    for b in buckets.iter_mut().skip(1) {
        let curr = b.1;
        if curr == prev {
            continue;
        }
        if almost_equal_tol(prev, curr, 1e-12) {
            b.1 = prev;
            continue;
        }
        if curr < prev {
            b.1 = prev;
            forced = true;
            continue;
        }
        prev = curr;
    }
    forced
}

/// Prometheus' `BucketFraction` over classic buckets. Observations in an
/// open-ended bucket are taken to sit at its finite bound; the first
/// bucket of a positive bound starts at 0.
fn bucket_fraction(lower: f64, upper: f64, mut buckets: Vec<(f64, f64)>) -> f64 {
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    let mut buckets = coalesce(buckets);
    ensure_monotonic(&mut buckets);
    let count = buckets[buckets.len() - 1].1;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    for (i, &(upper_bound, b_count)) in buckets.iter().enumerate() {
        let lower_bound = if i > 0 {
            buckets[i - 1].0
        } else if upper_bound > 0.0 {
            0.0
        } else {
            f64::NEG_INFINITY
        };
        let interpolate = |v: f64| {
            if lower_bound == f64::NEG_INFINITY {
                b_count
            } else if upper_bound == f64::INFINITY {
                rank
            } else {
                rank + (b_count - rank) * (v - lower_bound) / (upper_bound - lower_bound)
            }
        };
        if !lower_set && lower_bound >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lower_bound >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lower_bound < lower && upper_bound > lower {
            lower_rank = interpolate(lower);
            lower_set = true;
        }
        if !upper_set && lower_bound < upper && upper_bound > upper {
            upper_rank = interpolate(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = b_count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

/// `histogram_quantiles(v, "label", q1, q2, …)`: one series per quantile,
/// labelled with it.
pub(super) fn histogram_quantiles(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    let v = ctx.eval_vector(&c.args[0], t)?;
    let label = ctx.eval_string(&c.args[1], t)?;
    let mut qs = Vec::new();
    for a in &c.args[2..] {
        let q = ctx.eval_scalar(a, t)?;
        if !(0.0..=1.0).contains(&q) {
            ctx.warn(
                &format!(
                    "quantile value should be between 0 and 1, got {}",
                    go_float(q)
                ),
                a.span(),
            );
        }
        qs.push(q);
    }
    let groups = bucket_groups(ctx, &v, c.args[0].span());
    let mut out = Vec::new();
    for (labels, buckets) in groups {
        for &q in &qs {
            let (value, forced) = bucket_quantile(q, buckets.clone());
            if forced {
                let name = get_label(&labels, "__name__").to_owned();
                ctx.info(
                    &format!(
                        "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {name:?}"
                    ),
                    c.args[0].span(),
                );
            }
            let mut labels = labels.clone();
            set_label(&mut labels, &label, &quantile_label(q));
            out.push(Sample {
                h: None,
                labels: Arc::new(labels),
                t,
                v: value,
                drop_name: true,
            });
        }
    }
    check_unique(&out)?;
    Ok(Val::Vector(out))
}

/// A quantile as the label value: always with a fraction (`0.0`, `1.0`).
fn quantile_label(q: f64) -> String {
    if q.is_finite() && q.fract() == 0.0 {
        format!("{q:.1}")
    } else {
        go_float(q)
    }
}

/// Go's `almost.Equal` with a tolerance.
fn almost_equal_tol(a: f64, b: f64, epsilon: f64) -> bool {
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < epsilon * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}
