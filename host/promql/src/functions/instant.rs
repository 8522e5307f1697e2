//! Functions of instant vectors and scalars value by value: the
//! per-sample math (`abs`, `ceil`, `exp`, `ln`, trigonometry, `sgn`,
//! `deg`, `rad`, …), `round`, `clamp`, `clamp_min`, `clamp_max`, `scalar`,
//! `vector`, `pi`, `min_of`, `max_of`, `sort` and `sort_desc`.

use std::cmp::Ordering;

use super::Context;
use crate::ast::Call;
use crate::eval_types::{Result, Sample, Val};
use crate::float::{go_max, go_min};
use crate::labels::Labels;

/// A per-sample function `f` of the one vector argument; the metric name
/// is dropped.
pub(super) fn per_sample(
    ctx: &mut dyn Context,
    c: &Call,
    t: i64,
    f: fn(f64) -> f64,
) -> Result<Val> {
    let mut v = ctx.eval_vector(&c.args[0], t)?;
    for s in &mut v {
        s.v = f(s.v);
        s.drop_name = true;
    }
    Ok(Val::Vector(v))
}

pub(super) fn sgn(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        v
    }
}

pub(super) fn deg(v: f64) -> f64 {
    v * 180.0 / std::f64::consts::PI
}

pub(super) fn rad(v: f64) -> f64 {
    v * std::f64::consts::PI / 180.0
}

pub(super) fn pi(_: &mut dyn Context, _: &Call, _: i64) -> Result<Val> {
    Ok(Val::Scalar(std::f64::consts::PI))
}

pub(super) fn min_of(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    let a = ctx.eval_scalar(&c.args[0], t)?;
    let b = ctx.eval_scalar(&c.args[1], t)?;
    Ok(Val::Scalar(go_min(a, b)))
}

pub(super) fn max_of(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    let a = ctx.eval_scalar(&c.args[0], t)?;
    let b = ctx.eval_scalar(&c.args[1], t)?;
    Ok(Val::Scalar(go_max(a, b)))
}

/// `scalar(v)`: the one sample's value, NaN unless there is exactly one.
pub(super) fn scalar(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    let v = ctx.eval_vector(&c.args[0], t)?;
    Ok(Val::Scalar(if v.len() == 1 { v[0].v } else { f64::NAN }))
}

/// `vector(s)`: one sample without labels.
pub(super) fn vector(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    let v = ctx.eval_scalar(&c.args[0], t)?;
    Ok(Val::Vector(vec![Sample {
        h: None,
        labels: Labels::default(),
        t,
        v,
        drop_name: false,
    }]))
}

/// `round(v, to_nearest = 1)`.
pub(super) fn round(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    let mut v = ctx.eval_vector(&c.args[0], t)?;
    let to_nearest = match c.args.get(1) {
        Some(a) => ctx.eval_scalar(a, t)?,
        None => 1.0,
    };
    // Dividing by the inverse is more exact for e.g. 0.1.
    let inv = 1.0 / to_nearest;
    for s in &mut v {
        s.v = (s.v * inv + 0.5).floor() / inv;
        s.drop_name = true;
    }
    Ok(Val::Vector(v))
}

/// Every value bounded by `min` and `max` with Go's NaN rules.
fn bounded(mut v: Vec<Sample>, f: impl Fn(f64) -> f64) -> Val {
    for s in &mut v {
        s.v = f(s.v);
        s.drop_name = true;
    }
    Val::Vector(v)
}

pub(super) fn clamp(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    let v = ctx.eval_vector(&c.args[0], t)?;
    let min = ctx.eval_scalar(&c.args[1], t)?;
    let max = ctx.eval_scalar(&c.args[2], t)?;
    if max < min {
        return Ok(Val::Vector(Vec::new()));
    }
    Ok(bounded(v, |x| go_max(min, go_min(max, x))))
}

pub(super) fn clamp_min(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    let v = ctx.eval_vector(&c.args[0], t)?;
    let min = ctx.eval_scalar(&c.args[1], t)?;
    Ok(bounded(v, |x| go_max(min, x)))
}

pub(super) fn clamp_max(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    let v = ctx.eval_vector(&c.args[0], t)?;
    let max = ctx.eval_scalar(&c.args[1], t)?;
    Ok(bounded(v, |x| go_min(max, x)))
}

/// The warning of the sorting functions in a range query.
pub(super) fn warn_sort_in_range_query(ctx: &mut dyn Context, c: &Call) {
    if ctx.is_range_query() {
        ctx.warn(
            "sort is ineffective for range queries since results are always ordered by labels",
            c.span,
        );
    }
}

fn sort_by_value(ctx: &mut dyn Context, c: &Call, t: i64, desc: bool) -> Result<Val> {
    warn_sort_in_range_query(ctx, c);
    let mut v = ctx.eval_vector(&c.args[0], t)?;
    // Prometheus sorts the floats only and leaves histograms out.
    v.retain(|s| s.h.is_none());
    v.sort_by(|a, b| match (a.v.is_nan(), b.v.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ if desc => b.v.partial_cmp(&a.v).unwrap(),
        _ => a.v.partial_cmp(&b.v).unwrap(),
    });
    Ok(Val::Vector(v))
}

pub(super) fn sort(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    sort_by_value(ctx, c, t, false)
}

pub(super) fn sort_desc(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    sort_by_value(ctx, c, t, true)
}
