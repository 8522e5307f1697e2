//! Validation of plugin output, and flattening into stored samples.

use expect_test::{Expect, expect};
use wasmetheus_model::MetricKind::*;
use wasmetheus_model::{Limits, MetricFamily, flatten, validate};

use crate::support::{at, family, histogram, number, render_samples, summary};

fn check_with(families: &[MetricFamily], limits: &Limits, expect: Expect) {
    let actual = match validate(families, limits) {
        Ok(()) => "ok".to_owned(),
        Err(err) => err.to_string(),
    };
    expect.assert_eq(&actual);
}

fn check(families: &[MetricFamily], expect: Expect) {
    check_with(families, &Limits::default(), expect);
}

fn valid_families() -> Vec<MetricFamily> {
    let mut seconds = family(
        "cpu_seconds_total",
        Counter,
        "",
        vec![number(&[("mode", "idle")], 1.0)],
    );
    seconds.unit = "seconds".to_owned();
    vec![
        seconds,
        family(
            "up",
            Gauge,
            "",
            vec![
                number(&[("b", "1"), ("a", "1")], 1.0),
                number(&[("a", "1")], 1.0),
            ],
        ),
        family("build", Info, "", vec![number(&[("version", "1")], 1.0)]),
        family("state", StateSet, "", vec![number(&[("state", "on")], 1.0)]),
        family("raw", Untyped, "", vec![number(&[], f64::NAN)]),
        family(
            "latency",
            Histogram,
            "",
            vec![
                histogram(
                    &[],
                    &[(-1.0, 0.0), (1.0, 2.0), (f64::INFINITY, 3.0)],
                    3.0,
                    1.0,
                ),
                histogram(&[("path", "/")], &[], 0.0, 0.0),
            ],
        ),
        family(
            "queue",
            GaugeHistogram,
            "",
            vec![histogram(&[], &[(1.0, 1.0)], 1.0, 1.0)],
        ),
        family(
            "rpc",
            Summary,
            "",
            vec![summary(&[], &[(0.0, 1.0), (1.0, 2.0)], 2.0, 3.0)],
        ),
    ]
}

#[test]
fn accepts_valid_output() {
    check(&valid_families(), expect!["ok"]);
    check(&[], expect!["ok"]);
}

#[test]
fn limits() {
    let families = valid_families();
    let limits = Limits::default();
    check_with(
        &families,
        &Limits {
            max_families: 7,
            ..limits
        },
        expect!["8 families, more than the limit of 7"],
    );
    // 6 numbers, 5 + 3 histogram series, 4 gauge histogram series and 4
    // summary series.
    check_with(
        &families,
        &Limits {
            max_series: 21,
            ..limits
        },
        expect!["22 series, more than the limit of 21"],
    );
    check_with(
        &families,
        &Limits {
            max_series: 22,
            ..limits
        },
        expect!["ok"],
    );
    let long = vec![family(
        "g",
        Gauge,
        "",
        vec![number(&[("abcd", "12345")], 1.0)],
    )];
    check_with(
        &long,
        &Limits {
            max_label_name_length: 3,
            ..limits
        },
        expect![[
            r#"family "g": series {abcd="12345"}: label name "abcd" is 4 bytes long, more than the limit of 3"#
        ]],
    );
    check_with(
        &long,
        &Limits {
            max_label_value_length: 4,
            ..limits
        },
        expect![[
            r#"family "g": series {abcd="12345"}: the value of label "abcd" is 5 bytes long, more than the limit of 4"#
        ]],
    );
    check_with(
        &long,
        &Limits {
            max_labels_per_series: 0,
            ..limits
        },
        expect![[r#"family "g": series {abcd="12345"}: 1 labels, more than the limit of 0"#]],
    );
}

#[test]
fn names() {
    let gauge = |name: &str| family(name, Gauge, "", vec![number(&[], 1.0)]);
    check(
        &[gauge("a.b")],
        expect![[r#"family "a.b": invalid metric name"#]],
    );
    check(&[gauge("")], expect![[r#"family "": invalid metric name"#]]);
    check(&[gauge("ok:name_1")], expect!["ok"]);
    check(
        &[gauge("a"), gauge("a")],
        expect![[r#"duplicate family "a""#]],
    );
    check(
        &[gauge("a"), family("a", Counter, "", vec![])],
        expect![[r#"duplicate family "a""#]],
    );
    // Both expose `x_total`.
    check(
        &[
            family("x", Counter, "", vec![]),
            family("x_total", Counter, "", vec![]),
        ],
        expect![[r#"family "x_total": name "x" is also used by family "x""#]],
    );
    check(
        &[family("x", Counter, "", vec![]), gauge("x_total")],
        expect![[r#"family "x_total": name "x_total" is also used by family "x""#]],
    );
    check(
        &[family("h", Histogram, "", vec![]), gauge("h_count")],
        expect![[r#"family "h_count": name "h_count" is also used by family "h""#]],
    );
    check(
        &[family("s", Summary, "", vec![]), gauge("s_sum")],
        expect![[r#"family "s_sum": name "s_sum" is also used by family "s""#]],
    );
    check(
        &[family("i", Info, "", vec![]), gauge("i_info")],
        expect![[r#"family "i_info": name "i_info" is also used by family "i""#]],
    );
}

#[test]
fn units() {
    let with_unit = |name: &str, kind, unit: &str| {
        let mut f = family(name, kind, "", vec![]);
        f.unit = unit.to_owned();
        f
    };
    check(&[with_unit("a_seconds", Gauge, "seconds")], expect!["ok"]);
    check(
        &[with_unit("a_seconds_total", Counter, "seconds")],
        expect!["ok"],
    );
    check(
        &[with_unit("a", Gauge, "seconds")],
        expect![[
            r#"family "a": invalid unit "seconds": the family name must end with '_' and the unit"#
        ]],
    );
    check(
        &[with_unit("a_bytes", Gauge, "seconds")],
        expect![[
            r#"family "a_bytes": invalid unit "seconds": the family name must end with '_' and the unit"#
        ]],
    );
    check(
        &[with_unit("a_s", Gauge, "s s")],
        expect![[
            r#"family "a_s": invalid unit "s s": a unit may only contain letters, digits, '_' and ':'"#
        ]],
    );
    check(
        &[with_unit("a_s", Info, "s")],
        expect![[
            r#"family "a_s": invalid unit "s": info and stateset families cannot have a unit"#
        ]],
    );
}

#[test]
fn labels_of_series() {
    let gauge = |pairs: &[(&str, &str)]| vec![family("g", Gauge, "", vec![number(pairs, 1.0)])];
    check(
        &gauge(&[("1a", "x")]),
        expect![[r#"family "g": series {1a="x"}: invalid label name "1a""#]],
    );
    check(
        &gauge(&[("a-b", "x")]),
        expect![[r#"family "g": series {a-b="x"}: invalid label name "a-b""#]],
    );
    check(
        &gauge(&[("", "x")]),
        expect![[r#"family "g": series {="x"}: invalid label name """#]],
    );
    check(
        &gauge(&[("__name__", "x")]),
        expect![[
            r#"family "g": series {__name__="x"}: label name "__name__" starts with "__", which is reserved"#
        ]],
    );
    check(
        &gauge(&[("a", "1"), ("b", "2"), ("a", "3")]),
        expect![[r#"family "g": series {a="1",b="2",a="3"}: duplicate label name "a""#]],
    );
    check(&gauge(&[("le", "1"), ("quantile", "0.5")]), expect!["ok"]);
    check(
        &gauge(&[("a", "quote\" newline\n backslash\\")]),
        expect!["ok"],
    );
    check(
        &[family(
            "h",
            Histogram,
            "",
            vec![histogram(&[("le", "1")], &[], 0.0, 0.0)],
        )],
        expect![[r#"family "h": series {le="1"}: label "le" is reserved in a histogram family"#]],
    );
    check(
        &[family(
            "h",
            GaugeHistogram,
            "",
            vec![histogram(&[("le", "1")], &[], 0.0, 0.0)],
        )],
        expect![[
            r#"family "h": series {le="1"}: label "le" is reserved in a gaugehistogram family"#
        ]],
    );
    check(
        &[family(
            "s",
            Summary,
            "",
            vec![summary(&[("quantile", "1")], &[], 0.0, 0.0)],
        )],
        expect![[
            r#"family "s": series {quantile="1"}: label "quantile" is reserved in a summary family"#
        ]],
    );
    let long = "x".repeat(5000);
    check(
        &gauge(&[("a", &long)]),
        expect![[
            r#"family "g": series {a="xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..."}: the value of label "a" is 5000 bytes long, more than the limit of 4096"#
        ]],
    );
}

#[test]
fn duplicate_series() {
    let metrics = vec![
        number(&[("a", "1"), ("b", "2")], 1.0),
        number(&[("a", "2"), ("b", "1")], 1.0),
        at(number(&[("b", "2"), ("a", "1")], 2.0), 5),
    ];
    check(
        &[family("g", Gauge, "", metrics)],
        expect![[r#"family "g": duplicate series {b="2",a="1"}"#]],
    );
    check(
        &[family(
            "g",
            Gauge,
            "",
            vec![number(&[], 1.0), number(&[], 2.0)],
        )],
        expect![[r#"family "g": duplicate series {}"#]],
    );
    // Values differing only in where one label ends must not collide.
    check(
        &[family(
            "g",
            Gauge,
            "",
            vec![
                number(&[("a", "1"), ("b", "")], 1.0),
                number(&[("a", ""), ("b", "1")], 1.0),
            ],
        )],
        expect!["ok"],
    );
}

#[test]
fn value_kinds() {
    check(
        &[family("g", Gauge, "", vec![histogram(&[], &[], 0.0, 0.0)])],
        expect![[r#"family "g": series {}: a gauge family cannot hold a histogram value"#]],
    );
    check(
        &[family("h", Histogram, "", vec![number(&[], 1.0)])],
        expect![[r#"family "h": series {}: a histogram family cannot hold a number value"#]],
    );
    check(
        &[family(
            "s",
            Summary,
            "",
            vec![histogram(&[], &[], 0.0, 0.0)],
        )],
        expect![[r#"family "s": series {}: a summary family cannot hold a histogram value"#]],
    );
    check(
        &[family(
            "q",
            GaugeHistogram,
            "",
            vec![summary(&[], &[], 0.0, 0.0)],
        )],
        expect![[r#"family "q": series {}: a gaugehistogram family cannot hold a summary value"#]],
    );
}

#[test]
fn histograms() {
    let check_buckets = |buckets: &[(f64, f64)], count: f64, expect: Expect| {
        let metric = histogram(&[("path", "/")], buckets, count, 0.0);
        check(&[family("h", Histogram, "", vec![metric])], expect);
    };
    check_buckets(
        &[(1.0, 1.0), (0.5, 1.0)],
        1.0,
        expect![[
            r#"family "h": series {path="/"}: invalid histogram: bucket le=0.5 after le=1: upper bounds must increase"#
        ]],
    );
    check_buckets(
        &[(1.0, 1.0), (1.0, 1.0)],
        1.0,
        expect![[
            r#"family "h": series {path="/"}: invalid histogram: bucket le=1 after le=1: upper bounds must increase"#
        ]],
    );
    check_buckets(
        &[(f64::NAN, 1.0)],
        1.0,
        expect![[
            r#"family "h": series {path="/"}: invalid histogram: bucket with a NaN upper bound"#
        ]],
    );
    check_buckets(
        &[(1.0, 2.0), (2.0, 1.0)],
        2.0,
        expect![[
            r#"family "h": series {path="/"}: invalid histogram: bucket le=2 has count 1, less than the 2 before it"#
        ]],
    );
    check_buckets(
        &[(1.0, f64::NAN)],
        2.0,
        expect![[
            r#"family "h": series {path="/"}: invalid histogram: bucket le=1 has a NaN count"#
        ]],
    );
    check_buckets(
        &[(1.0, 1.0)],
        f64::NAN,
        expect![[r#"family "h": series {path="/"}: invalid histogram: NaN count"#]],
    );
    check_buckets(
        &[(1.0, 2.0)],
        1.0,
        expect![[
            r#"family "h": series {path="/"}: invalid histogram: count 1 is less than the last bucket's 2"#
        ]],
    );
    check_buckets(
        &[(1.0, 1.0), (f64::INFINITY, 2.0)],
        3.0,
        expect![[
            r#"family "h": series {path="/"}: invalid histogram: count 3 differs from the +Inf bucket's 2"#
        ]],
    );
    check_buckets(&[(f64::NEG_INFINITY, 0.0), (0.0, 1.0)], 1.0, expect!["ok"]);
}

#[test]
fn summaries() {
    let check_quantiles = |quantiles: &[(f64, f64)], expect: Expect| {
        let metric = summary(&[], quantiles, 1.0, 1.0);
        check(&[family("s", Summary, "", vec![metric])], expect);
    };
    check_quantiles(
        &[(1.5, 1.0)],
        expect![[r#"family "s": series {}: invalid summary: quantile 1.5 is outside [0, 1]"#]],
    );
    check_quantiles(
        &[(-0.1, 1.0)],
        expect![[r#"family "s": series {}: invalid summary: quantile -0.1 is outside [0, 1]"#]],
    );
    check_quantiles(
        &[(f64::NAN, 1.0)],
        expect![[r#"family "s": series {}: invalid summary: quantile NaN is outside [0, 1]"#]],
    );
    check_quantiles(
        &[(0.5, 1.0), (0.9, 2.0), (0.5, 3.0)],
        expect![[r#"family "s": series {}: invalid summary: duplicate quantile 0.5"#]],
    );
    check_quantiles(&[(0.9, f64::NAN), (0.5, -1.0)], expect!["ok"]);
}

#[test]
fn flatten_names_samples_like_the_text_format() {
    let mut families = valid_families();
    families.push(family(
        "x_total",
        Counter,
        "",
        vec![at(number(&[], 2.0), 10)],
    ));
    families.push(family("y_info", Info, "", vec![number(&[], 1.0)]));
    let flat = flatten(&families);
    expect![[r#"
        cpu_seconds_total{mode="idle"} 1.0
        up{b="1",a="1"} 1.0
        up{a="1"} 1.0
        build_info{version="1"} 1.0
        state{state="on"} 1.0
        raw NaN
        latency_bucket{le="-1"} 0.0
        latency_bucket{le="1"} 2.0
        latency_bucket{le="+Inf"} 3.0
        latency_sum 1.0
        latency_count 3.0
        latency_bucket{path="/",le="+Inf"} 0.0
        latency_sum{path="/"} 0.0
        latency_count{path="/"} 0.0
        queue_bucket{le="1"} 1.0
        queue_bucket{le="+Inf"} 1.0
        queue_sum 1.0
        queue_count 1.0
        rpc{quantile="0"} 1.0
        rpc{quantile="1"} 2.0
        rpc_sum 3.0
        rpc_count 2.0
        x_total 2.0 @10
        y_info 1.0
    "#]]
    .assert_eq(&render_samples(&flat));
}
