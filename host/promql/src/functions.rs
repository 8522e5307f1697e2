//! PromQL functions on floats, written after Prometheus' `functions.go`:
//! the same formulas, NaN rules and annotation texts, since the scripted
//! tests compare results to 1e-6 and annotations verbatim.

use std::cmp::Ordering;
use std::sync::Arc;

use regex::Regex;
use wasmetheus_model::Label;

use crate::ast::{Call, Expr, Span};
use crate::engine::{
    Evaluator, Labels, RangeSeries, Result, Sample, Val, check_unique, err, get_label, go_float,
    go_max, go_min, kahan_sum_inc, set_label,
};

/// Evaluates a function call at `t`.
pub(crate) fn call(ev: &mut Evaluator<'_>, c: &Call, t: i64) -> Result<Val> {
    let name = c.func.name;
    let secs = |ms: i64| ms as f64 / 1000.0;
    match name {
        "time" => return Ok(Val::Scalar(secs(t))),
        "pi" => return Ok(Val::Scalar(std::f64::consts::PI)),
        "start" => return Ok(Val::Scalar(secs(ev.query_start()))),
        "end" => return Ok(Val::Scalar(secs(ev.query_end()))),
        "range" => return Ok(Val::Scalar(secs(ev.query_end() - ev.query_start()))),
        "step" => return Ok(Val::Scalar(secs(ev.query_step()))),
        "min_of" | "max_of" => {
            let a = ev.eval_scalar(&c.args[0], t)?;
            let b = ev.eval_scalar(&c.args[1], t)?;
            return Ok(Val::Scalar(if name == "min_of" {
                go_min(a, b)
            } else {
                go_max(a, b)
            }));
        }
        "scalar" => {
            let v = ev.eval_vector(&c.args[0], t)?;
            return Ok(Val::Scalar(if v.len() == 1 { v[0].v } else { f64::NAN }));
        }
        "vector" => {
            let v = ev.eval_scalar(&c.args[0], t)?;
            return Ok(Val::Vector(vec![Sample {
                labels: Labels::default(),
                t,
                v,
                drop_name: false,
            }]));
        }
        _ => {}
    }
    if let Some(f) = simple(name) {
        let mut v = ev.eval_vector(&c.args[0], t)?;
        for s in &mut v {
            s.v = f(s.v);
            s.drop_name = true;
        }
        return Ok(Val::Vector(v));
    }
    if let Some(f) = date_part(name) {
        let mut v = match c.args.first() {
            Some(arg) => ev.eval_vector(arg, t)?,
            None => vec![Sample {
                labels: Labels::default(),
                t,
                v: secs(t),
                drop_name: false,
            }],
        };
        for s in &mut v {
            s.v = f(s.v);
            s.drop_name = true;
        }
        return Ok(Val::Vector(v));
    }
    match name {
        "round" => {
            let mut v = ev.eval_vector(&c.args[0], t)?;
            let to_nearest = match c.args.get(1) {
                Some(a) => ev.eval_scalar(a, t)?,
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
        "clamp" | "clamp_min" | "clamp_max" => {
            let mut v = ev.eval_vector(&c.args[0], t)?;
            let (min, max) = match name {
                "clamp" => (
                    ev.eval_scalar(&c.args[1], t)?,
                    ev.eval_scalar(&c.args[2], t)?,
                ),
                "clamp_min" => (ev.eval_scalar(&c.args[1], t)?, f64::INFINITY),
                _ => (f64::NEG_INFINITY, ev.eval_scalar(&c.args[1], t)?),
            };
            if name == "clamp" && max < min {
                return Ok(Val::Vector(Vec::new()));
            }
            for s in &mut v {
                s.v = match name {
                    "clamp" => go_max(min, go_min(max, s.v)),
                    "clamp_min" => go_max(min, s.v),
                    _ => go_min(max, s.v),
                };
                s.drop_name = true;
            }
            Ok(Val::Vector(v))
        }
        "timestamp" => {
            // A selector argument reports its samples' own timestamps.
            let mut arg = &c.args[0];
            while let Expr::Paren(p) = arg {
                arg = &p.expr;
            }
            let own = matches!(arg, Expr::VectorSelector(_));
            let mut v = ev.eval_vector(arg, t)?;
            for s in &mut v {
                s.v = secs(if own { s.t } else { t });
                s.drop_name = true;
            }
            Ok(Val::Vector(v))
        }
        "label_replace" => {
            let v = ev.eval_vector(&c.args[0], t)?;
            let dst = ev.eval_string(&c.args[1], t)?;
            let repl = ev.eval_string(&c.args[2], t)?;
            let src = ev.eval_string(&c.args[3], t)?;
            let re_text = ev.eval_string(&c.args[4], t)?;
            let re = Regex::new(&format!("^(?s:{re_text})$")).map_err(|e| {
                crate::engine::Error::Eval(format!(
                    "invalid regular expression in label_replace(): {re_text}: {e}"
                ))
            })?;
            if !valid_label_name(&dst) || !utf8_literal(&c.args[1]) {
                return err(format!(
                    "invalid destination label name in label_replace(): {dst}"
                ));
            }
            let mut out = Vec::with_capacity(v.len());
            for mut s in v {
                let value = get_label(&s.labels, &src).to_owned();
                if let Some(caps) = re.captures(&value) {
                    let mut res = String::new();
                    caps.expand(&go_template(&repl), &mut res);
                    set_label(Arc::make_mut(&mut s.labels), &dst, &res);
                    if dst == "__name__" {
                        s.drop_name = false;
                    }
                }
                out.push(s);
            }
            check_unique(&out)?;
            Ok(Val::Vector(out))
        }
        "label_join" => {
            let v = ev.eval_vector(&c.args[0], t)?;
            let dst = ev.eval_string(&c.args[1], t)?;
            let sep = ev.eval_string(&c.args[2], t)?;
            let mut srcs = Vec::new();
            for a in &c.args[3..] {
                srcs.push(ev.eval_string(a, t)?);
            }
            if !valid_label_name(&dst) || !utf8_literal(&c.args[1]) {
                return err(format!(
                    "invalid destination label name in label_join(): {dst}"
                ));
            }
            let mut out = Vec::with_capacity(v.len());
            for mut s in v {
                let joined = srcs
                    .iter()
                    .map(|n| get_label(&s.labels, n))
                    .collect::<Vec<_>>()
                    .join(&sep);
                set_label(Arc::make_mut(&mut s.labels), &dst, &joined);
                if dst == "__name__" {
                    s.drop_name = false;
                }
                out.push(s);
            }
            check_unique(&out)?;
            Ok(Val::Vector(out))
        }
        "sort" | "sort_desc" => {
            if ev.is_range_query() {
                ev.warn(
                    "sort is ineffective for range queries since results are always ordered by labels",
                    c.span,
                );
            }
            let mut v = ev.eval_vector(&c.args[0], t)?;
            let desc = name == "sort_desc";
            v.sort_by(|a, b| match (a.v.is_nan(), b.v.is_nan()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                _ if desc => b.v.partial_cmp(&a.v).unwrap(),
                _ => a.v.partial_cmp(&b.v).unwrap(),
            });
            Ok(Val::Vector(v))
        }
        "sort_by_label" | "sort_by_label_desc" => {
            if ev.is_range_query() {
                ev.warn(
                    "sort is ineffective for range queries since results are always ordered by labels",
                    c.span,
                );
            }
            let mut v = ev.eval_vector(&c.args[0], t)?;
            let mut names = Vec::new();
            for a in &c.args[1..] {
                names.push(ev.eval_string(a, t)?);
            }
            let desc = name == "sort_by_label_desc";
            v.sort_by(|a, b| {
                for n in &names {
                    let (x, y) = (get_label(&a.labels, n), get_label(&b.labels, n));
                    if x != y {
                        let o = natural_cmp(x, y);
                        return if desc { o.reverse() } else { o };
                    }
                }
                let o = a.labels.cmp(&b.labels);
                if desc { o.reverse() } else { o }
            });
            Ok(Val::Vector(v))
        }
        "absent" => {
            let v = ev.eval_vector(&c.args[0], t)?;
            if !v.is_empty() {
                return Ok(Val::Vector(Vec::new()));
            }
            Ok(Val::Vector(vec![Sample {
                labels: Arc::new(absent_labels(&c.args[0])),
                t,
                v: 1.0,
                drop_name: false,
            }]))
        }
        "absent_over_time" => {
            let (m, ..) = ev.eval_matrix(&c.args[0], t)?;
            if !m.is_empty() {
                return Ok(Val::Vector(Vec::new()));
            }
            Ok(Val::Vector(vec![Sample {
                labels: Arc::new(absent_labels(&c.args[0])),
                t,
                v: 1.0,
                drop_name: false,
            }]))
        }
        "histogram_quantile" => histogram_quantile(ev, c, t),
        "histogram_quantiles" => histogram_quantiles(ev, c, t),
        "info" => info(ev, c, t),
        "histogram_fraction" => {
            let lower = ev.eval_scalar(&c.args[0], t)?;
            let upper = ev.eval_scalar(&c.args[1], t)?;
            let v = ev.eval_vector(&c.args[2], t)?;
            let groups = bucket_groups(ev, &v, c.args[2].span());
            Ok(Val::Vector(
                groups
                    .into_iter()
                    .map(|(labels, buckets)| Sample {
                        labels: Arc::new(labels),
                        t,
                        v: bucket_fraction(lower, upper, buckets),
                        drop_name: true,
                    })
                    .collect(),
            ))
        }
        "start_timestamp" => {
            // Only a selector's samples carry start timestamps; anything
            // computed has none and gives nothing.
            let mut arg = &c.args[0];
            while let Expr::Paren(p) = arg {
                arg = &p.expr;
            }
            if let Expr::VectorSelector(vs) = arg {
                return Ok(Val::Vector(ev.start_timestamps(vs, t)?));
            }
            ev.eval_vector(arg, t)?;
            Ok(Val::Vector(Vec::new()))
        }
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
        | "histogram_stdvar" => {
            // Native histograms only: floats give nothing.
            ev.eval_vector(&c.args[0], t)?;
            Ok(Val::Vector(Vec::new()))
        }
        _ => over_time(ev, c, t),
    }
}

fn valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

/// Label names must be valid UTF-8; a Go string literal may not be.
fn utf8_literal(e: &Expr) -> bool {
    match e {
        Expr::String(s) => s.is_utf8(),
        Expr::Paren(p) => utf8_literal(&p.expr),
        _ => true,
    }
}

/// Go's `Regexp.Expand` template to the `regex` crate's: both take `$1`,
/// `${1}`, `$name` and `$$`, and both take the longest name after `$`, so
/// the template carries over unchanged.
fn go_template(repl: &str) -> String {
    repl.to_owned()
}

/// The labels `absent` reports: the equality matchers of a selector
/// argument, except a label matched twice.
fn absent_labels(arg: &Expr) -> Vec<Label> {
    let matchers = match arg {
        Expr::VectorSelector(vs) => &vs.matchers,
        Expr::MatrixSelector(ms) => &ms.selector.matchers,
        _ => return Vec::new(),
    };
    let mut labels: Vec<Label> = Vec::new();
    let mut has = std::collections::HashSet::new();
    for m in matchers {
        if m.name == "__name__" {
            continue;
        }
        if m.kind == wasmetheus_model::storage::MatchType::Equal && !has.contains(&m.name) {
            set_label(&mut labels, &m.name, &m.value);
            has.insert(m.name.clone());
        } else {
            labels.retain(|l| l.name != m.name);
        }
    }
    labels
}

/// Natural order of strings (digit runs compare as numbers), as
/// `sort_by_label` uses.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let chunks = |s: &str| {
        let mut out: Vec<(bool, String)> = Vec::new();
        for ch in s.chars() {
            let d = ch.is_ascii_digit();
            match out.last_mut() {
                Some((ld, text)) if *ld == d => text.push(ch),
                _ => out.push((d, ch.to_string())),
            }
        }
        out
    };
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(&cb) {
        let o = if x.0 && y.0 {
            let (xt, yt) = (x.1.trim_start_matches('0'), y.1.trim_start_matches('0'));
            xt.len().cmp(&yt.len()).then_with(|| xt.cmp(yt))
        } else {
            x.1.cmp(&y.1)
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    ca.len().cmp(&cb.len())
}

pub(crate) fn simple(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sqrt" => f64::sqrt,
        "sgn" => |v: f64| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        },
        "acos" => f64::acos,
        "acosh" => f64::acosh,
        "asin" => f64::asin,
        "asinh" => f64::asinh,
        "atan" => f64::atan,
        "atanh" => f64::atanh,
        "cos" => f64::cos,
        "cosh" => f64::cosh,
        "sin" => f64::sin,
        "sinh" => f64::sinh,
        "tan" => f64::tan,
        "tanh" => f64::tanh,
        "deg" => |v: f64| v * 180.0 / std::f64::consts::PI,
        "rad" => |v: f64| v * std::f64::consts::PI / 180.0,
        _ => return None,
    })
}

/// Year, month, day, hour, minute, weekday, day of year.
type Civil = (i64, u32, u32, u32, u32, u32, u32);

/// The civil date of a Unix time in seconds (UTC): (year, month, day,
/// hour, minute, weekday 0 = Sunday, day of year).
fn civil(secs: i64) -> Civil {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let mut y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    if m <= 2 {
        y += 1;
    }
    let weekday = (days + 4).rem_euclid(7) as u32;
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let cum = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = cum[(m - 1) as usize] + d + u32::from(leap && m > 2);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        weekday,
        yday,
    )
}

fn days_in_month(y: i64, m: u32) -> u32 {
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn date_part(name: &str) -> Option<fn(f64) -> f64> {
    fn with(v: f64, f: fn(Civil) -> f64) -> f64 {
        if !v.is_finite() {
            return f64::NAN;
        }
        f(civil(v as i64))
    }
    Some(match name {
        "day_of_month" => |v| with(v, |c| c.2 as f64),
        "day_of_week" => |v| with(v, |c| c.5 as f64),
        "day_of_year" => |v| with(v, |c| c.6 as f64),
        "days_in_month" => |v| with(v, |c| days_in_month(c.0, c.1) as f64),
        "hour" => |v| with(v, |c| c.3 as f64),
        "minute" => |v| with(v, |c| c.4 as f64),
        "month" => |v| with(v, |c| c.1 as f64),
        "year" => |v| with(v, |c| c.0 as f64),
        _ => return None,
    })
}

/// A classic histogram: labels without `le`, and (bound, count) pairs.
type BucketGroup = (Vec<Label>, Vec<(f64, f64)>);

/// Classic histogram buckets grouped by their labels without `le`.
fn bucket_groups(ev: &mut Evaluator<'_>, v: &[Sample], span: Span) -> Vec<BucketGroup> {
    let mut groups: Vec<BucketGroup> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for s in v {
        let le = get_label(&s.labels, "le");
        let Ok(bound) = parse_go_float(le) else {
            ev.warn(
                format!(
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

fn histogram_quantile(ev: &mut Evaluator<'_>, c: &Call, t: i64) -> Result<Val> {
    let q = ev.eval_scalar(&c.args[0], t)?;
    let v = ev.eval_vector(&c.args[1], t)?;
    if !(0.0..=1.0).contains(&q) {
        ev.warn(
            format!(
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
    let groups = bucket_groups(ev, &v, c.args[1].span());
    let mut out = Vec::new();
    for (labels, buckets) in groups {
        let (value, forced) = bucket_quantile(q, buckets);
        if forced {
            let name = names.first().cloned().unwrap_or_default();
            ev.info(
                format!(
                    "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {name:?}"
                ),
                c.args[1].span(),
            );
        }
        out.push(Sample {
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
fn histogram_quantiles(ev: &mut Evaluator<'_>, c: &Call, t: i64) -> Result<Val> {
    let v = ev.eval_vector(&c.args[0], t)?;
    let label = ev.eval_string(&c.args[1], t)?;
    let mut qs = Vec::new();
    for a in &c.args[2..] {
        let q = ev.eval_scalar(a, t)?;
        if !(0.0..=1.0).contains(&q) {
            ev.warn(
                format!(
                    "quantile value should be between 0 and 1, got {}",
                    go_float(q)
                ),
                a.span(),
            );
        }
        qs.push(q);
    }
    let groups = bucket_groups(ev, &v, c.args[0].span());
    let mut out = Vec::new();
    for (labels, buckets) in groups {
        for &q in &qs {
            let (value, forced) = bucket_quantile(q, buckets.clone());
            if forced {
                let name = get_label(&labels, "__name__").to_owned();
                ev.info(
                    format!(
                        "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {name:?}"
                    ),
                    c.args[0].span(),
                );
            }
            let mut labels = labels.clone();
            set_label(&mut labels, &label, &quantile_label(q));
            out.push(Sample {
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

/// Functions over a range vector.
fn over_time(ev: &mut Evaluator<'_>, c: &Call, t: i64) -> Result<Val> {
    let name = c.func.name;
    if let Some(v) = extended_range(ev, c, t)? {
        return Ok(v);
    }
    // The matrix argument's position and the scalar parameters.
    let (matrix_arg, params): (usize, Vec<f64>) = match name {
        "quantile_over_time" => (1, vec![ev.eval_scalar(&c.args[0], t)?]),
        "predict_linear" => (0, vec![ev.eval_scalar(&c.args[1], t)?]),
        "double_exponential_smoothing" => (
            0,
            vec![
                ev.eval_scalar(&c.args[1], t)?,
                ev.eval_scalar(&c.args[2], t)?,
            ],
        ),
        _ => (0, Vec::new()),
    };
    let Some(arg) = c.args.get(matrix_arg) else {
        return err(format!("function {name} is not supported"));
    };
    if !matches!(arg.value_type(), crate::ast::ValueType::Matrix) {
        return err(format!("function {name} is not supported"));
    }
    let (matrix, range_start, range_end) = ev.eval_matrix(arg, t)?;
    if name == "quantile_over_time" && !(0.0..=1.0).contains(&params[0]) {
        ev.warn(
            format!(
                "quantile value should be between 0 and 1, got {}",
                go_float(params[0])
            ),
            c.args[0].span(),
        );
    }
    if name == "double_exponential_smoothing" {
        let (sf, tf) = (params[0], params[1]);
        if sf <= 0.0 || sf >= 1.0 || sf.is_nan() {
            return err(format!(
                "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
            ));
        }
        if tf <= 0.0 || tf >= 1.0 || tf.is_nan() {
            return err(format!(
                "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
            ));
        }
    }
    let keep_name = range_fn_keeps_name(name);
    let mut out = Vec::with_capacity(matrix.len());
    let mut noted: Vec<String> = Vec::new();
    for s in matrix {
        let RangeSeries {
            labels,
            points,
            start_timestamps,
            drop_name,
        } = s;
        let (v, overlap) = window_value(
            name,
            &points,
            start_timestamps.as_deref(),
            range_start,
            range_end,
            t,
            &params,
        )?;
        range_annotations(
            ev,
            name,
            &labels,
            v.is_some(),
            overlap,
            arg.span(),
            &mut noted,
        );
        ev.recycle(points);
        if let Some(v) = v {
            out.push(Sample {
                labels,
                t,
                v,
                drop_name: drop_name || !keep_name,
            });
        }
    }
    Ok(Val::Vector(out))
}

/// Whether a range function keeps the metric name (the others drop it).
pub(crate) fn range_fn_keeps_name(name: &str) -> bool {
    matches!(name, "last_over_time" | "first_over_time")
}

/// The range functions whose value depends on the window alone (no
/// parameter, no anchored or smoothed handling): what the engine may
/// evaluate for a whole range query at once, series by series.
pub(crate) fn is_plain_range_fn(name: &str) -> bool {
    matches!(
        name,
        "rate"
            | "increase"
            | "delta"
            | "irate"
            | "idelta"
            | "avg_over_time"
            | "count_over_time"
            | "sum_over_time"
            | "min_over_time"
            | "max_over_time"
            | "ts_of_min_over_time"
            | "ts_of_max_over_time"
            | "ts_of_first_over_time"
            | "ts_of_last_over_time"
            | "stddev_over_time"
            | "stdvar_over_time"
            | "mad_over_time"
            | "last_over_time"
            | "first_over_time"
            | "present_over_time"
            | "changes"
            | "resets"
            | "deriv"
    )
}

/// The annotations a range function adds for one series' window: the
/// "might not be a counter" info for `rate`/`increase` on a name that does
/// not look like one (once per name, tracked in `noted`, since the text
/// costs more than the rate), and the start-timestamp overlap warning.
pub(crate) fn range_annotations(
    ev: &mut Evaluator<'_>,
    name: &str,
    labels: &[Label],
    has_value: bool,
    overlap: bool,
    span: Span,
    noted: &mut Vec<String>,
) {
    if overlap {
        ev.warn(
            format!(
                "sample has start time that overlaps with previous sample timestamp for metric {:?}",
                get_label(labels, "__name__")
            ),
            span,
        );
    }
    if has_value && matches!(name, "rate" | "increase") {
        let metric = get_label(labels, "__name__");
        if !metric.is_empty()
            && !["_total", "_sum", "_count", "_bucket"]
                .iter()
                .any(|suf| metric.ends_with(suf))
            && !noted.iter().any(|n| n == metric)
        {
            noted.push(metric.to_owned());
            ev.info(
                format!(
                    "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {metric:?}"
                ),
                span,
            );
        }
    }
}

/// The value of the range function `name` over one series' window
/// `(range_start, range_end]` (stale markers removed) evaluated at `t`,
/// and whether a start timestamp overlapped its previous sample.
pub(crate) fn window_value(
    name: &str,
    points: &[(i64, f64)],
    sts: Option<&[i64]>,
    range_start: i64,
    range_end: i64,
    t: i64,
    params: &[f64],
) -> Result<(Option<f64>, bool)> {
    let v = match name {
        "rate" | "increase" | "delta" => {
            let counter = name != "delta";
            // Prometheus reads start timestamps for counters only.
            let sts = if counter { sts } else { None };
            let (v, overlap) =
                extrapolated_rate(points, sts, range_start, range_end, counter, name == "rate");
            return Ok((v, overlap));
        }
        "irate" => instant_value(points, sts, true),
        "idelta" => instant_value(points, None, false),
        "avg_over_time" => Some(avg(points.iter().map(|p| p.1))),
        "count_over_time" => Some(points.len() as f64),
        "sum_over_time" => {
            let (mut sum, mut c) = (0.0, 0.0);
            for p in points {
                (sum, c) = kahan_sum_inc(p.1, sum, c);
            }
            Some(if c.is_finite() { sum + c } else { sum })
        }
        "min_over_time" => Some(points.iter().skip(1).fold(points[0].1, |m, p| {
            if p.1 < m || m.is_nan() { p.1 } else { m }
        })),
        "max_over_time" => Some(points.iter().skip(1).fold(points[0].1, |m, p| {
            if p.1 > m || m.is_nan() { p.1 } else { m }
        })),
        "ts_of_min_over_time" | "ts_of_max_over_time" => {
            let max = name == "ts_of_max_over_time";
            let mut best = points[0];
            for &p in &points[1..] {
                let better = if max { p.1 >= best.1 } else { p.1 <= best.1 };
                if better || best.1.is_nan() {
                    best = p;
                }
            }
            Some(best.0 as f64 / 1000.0)
        }
        "ts_of_first_over_time" => Some(points[0].0 as f64 / 1000.0),
        "ts_of_last_over_time" => Some(points[points.len() - 1].0 as f64 / 1000.0),
        "stddev_over_time" | "stdvar_over_time" => {
            let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for p in points {
                count += 1.0;
                let delta = p.1 - (mean + c_mean);
                (mean, c_mean) = kahan_sum_inc(delta / count, mean, c_mean);
                (aux, c_aux) = kahan_sum_inc(delta * (p.1 - (mean + c_mean)), aux, c_aux);
            }
            let var = (aux + c_aux) / count;
            Some(if name == "stddev_over_time" {
                var.sqrt()
            } else {
                var
            })
        }
        "quantile_over_time" => {
            let mut values: Vec<f64> = points.iter().map(|p| p.1).collect();
            Some(crate::engine::quantile(params[0], &mut values))
        }
        "mad_over_time" if points.iter().any(|p| p.1.is_nan()) => Some(f64::NAN),
        "mad_over_time" => {
            let mut values: Vec<f64> = points.iter().map(|p| p.1).collect();
            let median = crate::engine::quantile(0.5, &mut values);
            let mut dev: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
            Some(crate::engine::quantile(0.5, &mut dev))
        }
        "last_over_time" => Some(points[points.len() - 1].1),
        "first_over_time" => Some(points[0].1),
        "present_over_time" => Some(1.0),
        "changes" => {
            let mut n = 0.0;
            let mut prev = points[0].1;
            for p in &points[1..] {
                if p.1 != prev && !(p.1.is_nan() && prev.is_nan()) {
                    n += 1.0;
                }
                prev = p.1;
            }
            Some(n)
        }
        "resets" => {
            let mut n = 0.0;
            for (i, w) in points.windows(2).enumerate() {
                let (prev, cur) = (w[0], w[1]);
                if cur.1 < prev.1
                    || sts.is_some_and(|sts| {
                        is_start_timestamp_reset(sts[i], prev.0, sts[i + 1], cur.0)
                    })
                {
                    n += 1.0;
                }
            }
            Some(n)
        }
        "deriv" => (points.len() >= 2).then(|| linear_regression(points, points[0].0).0),
        "predict_linear" => (points.len() >= 2).then(|| {
            let (slope, intercept) = linear_regression(points, t);
            slope * params[0] + intercept
        }),
        "double_exponential_smoothing" => {
            double_exponential_smoothing(points, params[0], params[1])
        }
        _ => return err(format!("function {name} is not supported")),
    };
    Ok((v, false))
}

/// The overflow-safe mean of `avg_over_time`.
fn avg(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut mean, mut count, mut c) = (0.0, 0.0, 0.0, 0.0);
    let mut incremental = false;
    for f in values {
        count += 1.0;
        if !incremental {
            let (ns, nc) = kahan_sum_inc(f, sum, c);
            if count == 1.0 || !ns.is_infinite() {
                (sum, c) = (ns, nc);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_sum_inc(f / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        sum / count + c / count
    }
}

/// `rate`/`increase`/`delta` (Prometheus' `extrapolatedRate`): the
/// change over the window, corrected for counter resets, extrapolated
/// towards the window's bounds. With start timestamps (counters only), a
/// sample that started counting after the previous one is a reset too,
/// and a first sample whose counting began inside the window is
/// extrapolated to a zero at that start instead of to the window's start.
/// Also says whether a start timestamp overlapped the sample before it.
fn extrapolated_rate(
    points: &[(i64, f64)],
    sts: Option<&[i64]>,
    range_start: i64,
    range_end: i64,
    counter: bool,
    rate: bool,
) -> (Option<f64>, bool) {
    let Some(&(first_t, first_v)) = points.first() else {
        return (None, false);
    };
    let n1 = points.len() - 1;
    let (last_t, last_v) = points[n1];
    let mut result = last_v - first_v;
    let mut overlap = false;
    if counter {
        for (i, w) in points.windows(2).enumerate() {
            let (prev, cur) = (w[0], w[1]);
            let st_reset = match sts {
                Some(sts) => {
                    let (prev_st, cur_st) = (sts[i], sts[i + 1]);
                    // Each series warns once per step.
                    overlap |= !overlap && cur_st != 0 && cur_st < prev.0 && cur_st != prev_st;
                    is_start_timestamp_reset(prev_st, prev.0, cur_st, cur.0)
                }
                None => false,
            };
            if cur.1 < prev.1 || st_reset {
                result += prev.1;
            }
        }
    }
    let mut to_start = (first_t - range_start) as f64 / 1000.0;
    let mut to_end = (range_end - last_t) as f64 / 1000.0;
    let mut sampled = (last_t - first_t) as f64 / 1000.0;
    let avg_between = if n1 > 0 { sampled / n1 as f64 } else { 0.0 };
    let threshold = avg_between * 1.1;
    let first_st = sts.map_or(0, |sts| sts[0]);
    if counter && first_st != 0 && first_st > range_start && first_st < first_t {
        // The series started counting inside the window: assume a zero
        // there rather than extrapolating.
        to_start = 0.0;
        sampled = (last_t - first_st) as f64 / 1000.0;
        result += first_v;
    } else if n1 == 0 {
        return (None, overlap);
    } else {
        if to_start >= threshold {
            to_start = avg_between / 2.0;
        }
        if counter && result > 0.0 && first_v >= 0.0 {
            // A counter cannot go below zero: extrapolate at most to
            // where it would have been zero.
            let to_zero = sampled * (first_v / result);
            if to_zero < to_start {
                to_start = to_zero;
            }
        }
    }
    if to_end >= threshold {
        to_end = avg_between / 2.0;
    }
    let mut factor = if sampled != 0.0 {
        (sampled + to_start + to_end) / sampled
    } else {
        1.0
    };
    if rate {
        factor /= (range_end - range_start) as f64 / 1000.0;
    }
    (Some(result * factor), overlap)
}

/// Whether a sample's start timestamp says its counter restarted since
/// the previous sample (Prometheus' `isStartTimestampReset`; `0` is none).
fn is_start_timestamp_reset(prev_st: i64, prev_t: i64, cur_st: i64, cur_t: i64) -> bool {
    // Unset, invalid (after the sample) or OTel's unknown start (equal).
    if cur_st == 0 || cur_st >= cur_t {
        return false;
    }
    match cur_st.cmp(&prev_t) {
        Ordering::Less => false,
        Ordering::Greater => true,
        // Started right at the previous sample: a delta (reset) unless
        // that sample's own start is unknown or invalid.
        Ordering::Equal => prev_st <= prev_t && prev_st != 0 && prev_st != prev_t,
    }
}

/// `irate`/`idelta`: the last two samples.
fn instant_value(points: &[(i64, f64)], sts: Option<&[i64]>, rate: bool) -> Option<f64> {
    let n = points.len();
    if n < 2 {
        return None;
    }
    let (pt, pv) = points[n - 2];
    let (lt, lv) = points[n - 1];
    let reset =
        lv < pv || sts.is_some_and(|sts| is_start_timestamp_reset(sts[n - 2], pt, sts[n - 1], lt));
    let mut v = if rate && reset { lv } else { lv - pv };
    let interval = lt - pt;
    if interval == 0 {
        return None;
    }
    if rate {
        v /= interval as f64 / 1000.0;
    }
    Some(v)
}

/// Least squares of value over seconds since `intercept_t` (Kahan sums).
fn linear_regression(points: &[(i64, f64)], intercept_t: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sx2, mut cx2) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let init_y = points[0].1;
    let mut const_y = true;
    for (i, &(t, v)) in points.iter().enumerate() {
        if const_y && i > 0 && v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (t - intercept_t) as f64 / 1e3;
        (sx, cx) = kahan_sum_inc(x, sx, cx);
        (sy, cy) = kahan_sum_inc(v, sy, cy);
        (sxy, cxy) = kahan_sum_inc(x * v, sxy, cxy);
        (sx2, cx2) = kahan_sum_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

fn double_exponential_smoothing(points: &[(i64, f64)], sf: f64, tf: f64) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let trend = |i: usize, s0: f64, s1: f64, b: f64| {
        if i == 0 {
            b
        } else {
            tf * (s1 - s0) + (1.0 - tf) * b
        }
    };
    let (mut s0, mut s1) = (0.0, points[0].1);
    let mut b = points[1].1 - points[0].1;
    for (i, p) in points.iter().enumerate().skip(1) {
        let x = sf * p.1;
        b = trend(i - 1, s0, s1, b);
        let y = (1.0 - sf) * (s1 + b);
        (s0, s1) = (s1, x + y);
    }
    Some(s1)
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

/// The labels that identify the target an info series describes.
const IDENTIFYING_LABELS: [&str; 2] = ["instance", "job"];

/// `info(v, {selector})`: adds the data labels of the info series (by
/// default `target_info`) sharing `instance` and `job` with each series.
fn info(ev: &mut Evaluator<'_>, c: &Call, t: i64) -> Result<Val> {
    use wasmetheus_model::storage::{MatchType, Matcher};
    let base = ev.eval_vector(&c.args[0], t)?;
    let mut selector = match c.args.get(1) {
        Some(Expr::VectorSelector(vs)) => vs.clone(),
        Some(_) => return err("info(): the second argument must be a vector selector"),
        None => crate::ast::VectorSelector {
            name: String::new(),
            matchers: Vec::new(),
            offset: None,
            at: None,
            anchored: false,
            smoothed: false,
            bypass_empty_matcher_check: true,
            span: c.span,
        },
    };
    let (name_matchers, data_matchers): (Vec<Matcher>, Vec<Matcher>) = selector
        .matchers
        .iter()
        .cloned()
        .partition(|m| m.name == "__name__");
    let name_matchers = if name_matchers.is_empty() {
        let m = Matcher::equal("__name__", "target_info");
        selector.matchers.push(m.clone());
        vec![m]
    } else {
        name_matchers
    };
    // A base series that is itself an info series (by the positive name
    // matchers) is left alone.
    let has_positive = name_matchers
        .iter()
        .any(|m| matches!(m.kind, MatchType::Equal | MatchType::Regex));
    if !has_positive {
        // Only series named like info metrics describe targets.
        selector.matchers.push(
            Matcher::new(MatchType::Regex, "__name__", ".+_info")
                .map_err(|e| crate::engine::Error::Eval(e.to_string()))?,
        );
    }
    // The info series are read as of the time the base samples come
    // from (their `@` and offsets), and per info metric and target only
    // the newest series counts, so a churned series stops enriching at
    // once instead of after the lookback.
    let ref_t = ev.reference_time(&c.args[0], t);
    let mut infos = ev.vector_selector(&selector, ref_t)?;
    infos.sort_by_key(|i| std::cmp::Reverse(i.t));
    let mut seen = std::collections::HashSet::new();
    infos.retain(|i| {
        let key: Vec<&str> = std::iter::once(get_label(&i.labels, "__name__"))
            .chain(IDENTIFYING_LABELS.iter().map(|l| get_label(&i.labels, l)))
            .collect();
        seen.insert(key.join("\u{ff}"))
    });
    let mut out = Vec::with_capacity(base.len());
    for mut s in base {
        let name = get_label(&s.labels, "__name__");
        if has_positive && name_matchers.iter().all(|m| m.matches(name)) {
            out.push(s);
            continue;
        }
        let matching: Vec<&Sample> = infos
            .iter()
            .filter(|i| {
                IDENTIFYING_LABELS
                    .iter()
                    .all(|l| get_label(&i.labels, l) == get_label(&s.labels, l))
            })
            .collect();
        if matching.is_empty() {
            if data_matchers.iter().all(|m| m.matches_empty()) {
                out.push(s);
            }
            continue;
        }
        let mut add: Vec<Label> = Vec::new();
        for i in matching {
            for l in i.labels.iter() {
                if l.name == "__name__"
                    || IDENTIFYING_LABELS.contains(&l.name.as_str())
                    || !get_label(&s.labels, &l.name).is_empty()
                    || (!data_matchers.is_empty()
                        && !data_matchers.iter().any(|m| m.name == l.name))
                {
                    continue;
                }
                add.push(l.clone());
            }
        }
        add.sort();
        for w in add.windows(2) {
            if w[0].name == w[1].name && w[0].value != w[1].value {
                return err(format!(
                    "conflicting label: {} has values {:?} and {:?} in different info metrics",
                    w[0].name, w[0].value, w[1].value
                ));
            }
        }
        for l in add {
            set_label(Arc::make_mut(&mut s.labels), &l.name, &l.value);
        }
        out.push(s);
    }
    Ok(Val::Vector(out))
}

/// `rate`, `increase`, `delta`, `changes` and `resets` over an `anchored`
/// or `smoothed` range selector (Prometheus' experimental extended range
/// selectors); `None` for any other argument.
///
/// `anchored` adds, as the first point, the newest sample at or before
/// the range start (within the lookback delta) and never extrapolates.
/// `smoothed` interpolates the values at both range bounds linearly
/// between the neighbouring samples (counter resets compensated for
/// `rate`/`increase`) and takes the difference.
fn extended_range(ev: &mut Evaluator<'_>, c: &Call, t: i64) -> Result<Option<Val>> {
    let name = c.func.name;
    let Some(Expr::MatrixSelector(ms)) = c.args.first() else {
        return Ok(None);
    };
    let vs = &ms.selector;
    if !vs.anchored && !vs.smoothed {
        return Ok(None);
    }
    if vs.smoothed && !matches!(name, "delta" | "increase" | "rate") {
        return err(format!(
            "smoothed modifier can only be used with: delta, increase, rate - not with {name}"
        ));
    }
    if vs.anchored && !matches!(name, "changes" | "delta" | "increase" | "rate" | "resets") {
        return err(format!(
            "anchored modifier can only be used with: changes, delta, increase, rate, resets - not with {name}"
        ));
    }
    let end = ev.base_time(vs.at, vs.offset.as_ref(), t);
    let range = ev.duration(&ms.range);
    let start = end.saturating_sub(range);
    let lookback = ev.lookback();
    let after = if vs.smoothed { lookback } else { 0 };
    let selected = ev.select(
        vs,
        start.saturating_sub(lookback),
        end.saturating_add(after),
        range,
    )?;
    let counter = matches!(name, "rate" | "increase");
    let mut out = Vec::new();
    for (labels, mut points) in selected {
        points.retain(|p| !wasmetheus_model::storage::is_stale_marker(p.1));
        let first_in = points.partition_point(|p| p.0 <= start);
        let last_in = points.partition_point(|p| p.0 <= end);
        let before = first_in.checked_sub(1).map(|i| points[i]);
        let inside = &points[first_in..last_in];
        let next = points.get(last_in).copied();
        let v = if vs.anchored {
            if inside.is_empty() {
                continue;
            }
            let mut series: Vec<(i64, f64)> = before.into_iter().collect();
            series.extend_from_slice(inside);
            match name {
                "changes" | "resets" => {
                    let mut n = 0.0;
                    for w in series.windows(2) {
                        let (p, c) = (w[0].1, w[1].1);
                        let hit = if name == "changes" {
                            c != p && !(c.is_nan() && p.is_nan())
                        } else {
                            c < p
                        };
                        n += f64::from(u8::from(hit));
                    }
                    n
                }
                _ => {
                    let mut d = series[series.len() - 1].1 - series[0].1;
                    if counter {
                        for w in series.windows(2) {
                            if w[1].1 < w[0].1 {
                                d += w[0].1;
                            }
                        }
                    }
                    if name == "rate" {
                        d / (range as f64 / 1000.0)
                    } else {
                        d
                    }
                }
            }
        } else {
            // Smoothed: the samples from the one at or before the start
            // to the one after the end, counter-adjusted for resets.
            let lo = first_in.saturating_sub(usize::from(before.is_some()));
            let hi = last_in + usize::from(next.is_some());
            let mut series: Vec<(i64, f64)> = points[lo..hi].to_vec();
            if series.is_empty() || (inside.is_empty() && (before.is_none() || next.is_none())) {
                continue;
            }
            if counter {
                let mut offset = 0.0;
                let mut prev = series[0].1;
                for p in series.iter_mut().skip(1) {
                    let raw = p.1;
                    if raw < prev {
                        offset += prev;
                    }
                    prev = raw;
                    p.1 = raw + offset;
                }
            }
            let at = |x: i64| -> f64 {
                let i = series.partition_point(|p| p.0 <= x);
                if i == 0 {
                    return series[0].1;
                }
                let (t0, v0) = series[i - 1];
                match series.get(i) {
                    Some(&(t1, v1)) if t0 != x => {
                        v0 + (v1 - v0) * (x - t0) as f64 / (t1 - t0) as f64
                    }
                    _ => v0,
                }
            };
            let d = at(end) - at(start);
            if name == "rate" {
                d / (range as f64 / 1000.0)
            } else {
                d
            }
        };
        out.push(Sample {
            labels,
            t,
            v,
            drop_name: true,
        });
    }
    Ok(Some(Val::Vector(out)))
}
