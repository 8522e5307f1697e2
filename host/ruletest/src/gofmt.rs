//! Go's texts that promtool's unit-test output is made of: `strconv.Quote`,
//! Prometheus' `labels.Labels.String()`, `strconv.FormatFloat(v, 'E', -1,
//! 64)`, `time.Duration.String()` and `model.Duration.String()`, and
//! promtool's `indentLines`.

use wasmetheus_model::Label;

/// Go's `strconv.Quote` (the one copy in `wasmetheus_model::go`).
pub use wasmetheus_model::go::quote;

/// Whether `name` is a label name under the legacy rules
/// (`[a-zA-Z_][a-zA-Z0-9_]*`); others are quoted when printed.
fn is_legacy_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Prometheus' `labels.Labels.String()`: `{a="b", c="d"}`, names that are
/// not legacy label names quoted, `{}` when empty.
pub fn labels_string(labels: &[Label]) -> String {
    let mut out = String::from("{");
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if is_legacy_label_name(&l.name) {
            out.push_str(&l.name);
        } else {
            out.push_str(&quote(&l.name));
        }
        out.push('=');
        out.push_str(&quote(&l.value));
    }
    out.push('}');
    out
}

/// Prometheus' `labels.Compare`: label by label, name then value; a prefix
/// sorts first.
pub fn compare_labels(a: &[Label], b: &[Label]) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = x.name.cmp(&y.name).then_with(|| x.value.cmp(&y.value));
        if o.is_ne() {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// Go's `strconv.FormatFloat(v, 'E', -1, 64)`: `1E+00`,
/// `3.0000000000000004E+00`, `+Inf`, `NaN` (the one in
/// `wasmetheus_model::go`).
pub use wasmetheus_model::go::format_float_upper_e as format_float_e;

/// Prometheus' `model.Duration.String()` of milliseconds: `0s`, `1m`, `1d`,
/// `1m30s` (the one in `wasmetheus_model::go`).
pub use wasmetheus_model::go::format_model_duration as model_duration;

/// Go's `time.Duration.String()` of a duration in milliseconds: `0s`,
/// `500ms`, `1m0s`, `1h0m0.5s`; beyond ±292 years it saturates, as Go's
/// `Time.Sub` does.
pub fn go_duration(ms: i64) -> String {
    go_duration_ns(i128::from(ms) * 1_000_000)
}

/// Go's `time.Duration.String()` of nanoseconds (`1.5µs`, `2.25ms`,
/// `1m2.000000001s`), saturating at `time.Duration`'s range.
pub fn go_duration_ns(ns: i128) -> String {
    let ns = ns.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
    wasmetheus_model::go::format_duration(ns)
}

/// promtool's `indentLines`: every line but the first gets `indent`.
pub fn indent_lines(lines: &str, indent: &str) -> String {
    let mut out = String::with_capacity(lines.len());
    for (i, l) in lines.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(indent);
        }
        out.push_str(l);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wrappers: milliseconds and `i128` nanoseconds, saturating.
    #[test]
    fn durations_print_like_go() {
        let cases = [
            (0, "0s", "0s"),
            (500, "500ms", "500ms"),
            (60_000, "1m0s", "1m"),
            (90_500, "1m30.5s", "1m30s500ms"),
            (3_600_000, "1h0m0s", "1h"),
            (86_400_000, "24h0m0s", "1d"),
            (179_999, "2m59.999s", "2m59s999ms"),
            (14 * 86_400_000, "336h0m0s", "2w"),
            (9 * 86_400_000, "216h0m0s", "9d"),
            (365 * 86_400_000, "8760h0m0s", "1y"),
        ];
        for (ms, go, model) in cases {
            assert_eq!(go_duration(ms), go, "{ms}");
            assert_eq!(model_duration(ms), model, "{ms}");
        }
        assert_eq!(go_duration_ns(1_500), "1.5µs");
        assert_eq!(go_duration_ns(999), "999ns");
        assert_eq!(go_duration_ns(2_250_000), "2.25ms");
        assert_eq!(go_duration_ns(62_000_000_001), "1m2.000000001s");
        assert_eq!(go_duration_ns(-1_000_000_000), "-1s");
        assert_eq!(go_duration(i64::MAX), "2562047h47m16.854775807s");
        assert_eq!(go_duration(i64::MIN), "-2562047h47m16.854775808s");
        assert_eq!(go_duration_ns(i128::MAX), "2562047h47m16.854775807s");
    }

    #[test]
    fn labels_print_like_prometheus() {
        let l = vec![
            Label::new("__name__", "up"),
            Label::new("a.b", "x\"y\n"),
            Label::new("job", "ü"),
        ];
        assert_eq!(
            labels_string(&l),
            r#"{__name__="up", "a.b"="x\"y\n", job="ü"}"#
        );
        assert_eq!(labels_string(&[]), "{}");
    }

    #[test]
    fn indents_every_line_but_the_first() {
        assert_eq!(indent_lines("a\nb\n", "  "), "a\n  b\n  ");
        assert_eq!(indent_lines("[]", "  "), "[]");
    }
}
