//! A native histogram in the test notation as Prometheus'
//! `FloatHistogram.TestExpression()` writes it (fields in its order, zero
//! fields left out, numbers as Go's `%g`), for expected and got samples of
//! a `promql_expr_test`.

use wasmetheus_model::go::format_float_g;
use wasmetheus_promql::value::{CounterResetHint, Histogram};

/// `{{schema:1 count:4 sum:5.6 … buckets:[4]}}`.
pub fn test_expression(h: &Histogram) -> String {
    let mut res: Vec<String> = Vec::new();
    if h.schema != 0 {
        res.push(format!("schema:{}", h.schema));
    }
    if h.count != 0.0 {
        res.push(format!("count:{}", format_float_g(h.count)));
    }
    if h.sum != 0.0 {
        res.push(format!("sum:{}", format_float_g(h.sum)));
    }
    if h.zero_count != 0.0 {
        res.push(format!("z_bucket:{}", format_float_g(h.zero_count)));
    }
    if h.zero_threshold != 0.0 {
        res.push(format!("z_bucket_w:{}", format_float_g(h.zero_threshold)));
    }
    if h.uses_custom_buckets() {
        res.push(format!("custom_values:{}", go_list(&h.custom_values)));
    }
    match h.counter_reset_hint {
        CounterResetHint::Unknown => {}
        hint => res.push(format!("counter_reset_hint:{}", hint.as_str())),
    }
    for (buckets, offset, bkey, okey) in [
        (&h.positive, h.offset, "buckets", "offset"),
        (&h.negative, h.n_offset, "n_buckets", "n_offset"),
    ] {
        // Compacted as upstream does: leading and trailing empty buckets
        // go, the offset moves with them.
        let first = buckets.iter().position(|&b| b != 0.0);
        let Some(first) = first else { continue };
        let last = buckets.iter().rposition(|&b| b != 0.0).unwrap_or(first);
        let offset = offset + first as i32;
        if offset != 0 {
            res.push(format!("{okey}:{offset}"));
        }
        res.push(format!("{bkey}:{}", go_list(&buckets[first..=last])));
    }
    format!("{{{{{}}}}}", res.join(" "))
}

/// Go's `%g` of a `[]float64`: `[1 2.5]`.
fn go_list(values: &[f64]) -> String {
    let items: Vec<String> = values.iter().map(|v| format_float_g(*v)).collect();
    format!("[{}]", items.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_upstreams_test_expression() {
        let h = Histogram {
            schema: 1,
            sum: -0.3,
            count: 32.1,
            zero_count: 7.1,
            zero_threshold: 0.05,
            offset: -3,
            positive: vec![5.1, 10.0, 7.0],
            n_offset: -5,
            negative: vec![4.1, 5.0],
            ..Histogram::default()
        };
        assert_eq!(
            test_expression(&h),
            "{{schema:1 count:32.1 sum:-0.3 z_bucket:7.1 z_bucket_w:0.05 offset:-3 buckets:[5.1 10 7] n_offset:-5 n_buckets:[4.1 5]}}"
        );
        let h = Histogram {
            count: 4.0,
            sum: 5.6,
            positive: vec![0.0, 4.0],
            counter_reset_hint: CounterResetHint::NotReset,
            ..Histogram::default()
        };
        assert_eq!(
            test_expression(&h),
            "{{count:4 sum:5.6 counter_reset_hint:not_reset offset:1 buckets:[4]}}"
        );
        // Go's `%g`: the exponent form from 1e+06 on.
        let h = Histogram {
            count: 2e6,
            sum: 123.5,
            positive: vec![2e6],
            ..Histogram::default()
        };
        assert_eq!(
            test_expression(&h),
            "{{count:2e+06 sum:123.5 buckets:[2e+06]}}"
        );
    }
}
