//! Float arithmetic as Prometheus' Go code computes it: Kahan sums, Go's
//! `math.Max`/`math.Min` NaN rules, the `quantile` of aggregations and
//! `*_over_time`, and floats in messages. Shared by the engine and the
//! functions.

/// Prometheus' `kahanSumInc` (Neumaier's variant).
pub(crate) fn kahan_sum_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Go's `math.Max`: NaN wins over everything but +Inf.
pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a == f64::INFINITY || b == f64::INFINITY {
        f64::INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Go's `math.Min`: NaN wins over everything but -Inf.
pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY || b == f64::NEG_INFINITY {
        f64::NEG_INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// A float as Go's `%g`/`FormatFloat(f, 'f', -1, 64)` would show it in
/// messages.
pub(crate) fn go_float(v: f64) -> String {
    crate::printer::format_float(v)
}

/// Prometheus' `quantile` over a set of values.
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(quantile_order);
    quantile_of_sorted(q, values)
}

/// The order [`quantile`] sorts values in: NaN first, as in Go's
/// `vectorByValueHeap`, and equal values (`-0` and `0` too) kept in
/// their order (the sort is stable).
pub(crate) fn quantile_order(a: &f64, b: &f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    }
}

/// [`quantile`] of values already in [`quantile_order`], `q` in [0, 1].
pub(crate) fn quantile_of_sorted(q: f64, values: &[f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}
