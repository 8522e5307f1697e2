//! The OpenMetrics 1.0 text format: encoding, strict parsing, and round
//! trips. The upstream conformance cases run in `conformance.rs`.

use expect_test::{Expect, expect};
use wasmetheus_model::MetricKind::*;
use wasmetheus_model::openmetrics::{self, Options};
use wasmetheus_model::{MetricFamily, Sample, flatten};

use crate::support::{at, family, histogram, number, render, render_samples, summary};

fn check(input: &str, expect: Expect) {
    expect.assert_eq(&render(&openmetrics::parse(input)));
}

/// One line per input: the input, then its first error or "ok".
fn check_errors(inputs: &[&str], expect: Expect) {
    let mut out = String::new();
    for input in inputs {
        let result = match openmetrics::parse(input) {
            Ok(_) => "ok".to_owned(),
            Err(err) => err.to_string(),
        };
        out.push_str(&format!("{input:?}\n  {result}\n"));
    }
    expect.assert_eq(&out);
}

fn encode(families: &[MetricFamily]) -> String {
    let mut out = String::new();
    openmetrics::encode(families, &mut out);
    out
}

fn sample_families() -> Vec<MetricFamily> {
    let mut seconds = family(
        "request_seconds_total",
        Counter,
        "Time \"spent\"\\serving.\n",
        vec![at(number(&[("code", "200")], 12.5), 1_520_879_607_789)],
    );
    seconds.unit = "seconds".to_owned();
    vec![
        seconds,
        family("errors", Counter, "", vec![number(&[], 0.0)]),
        family(
            "temperature",
            Gauge,
            "",
            vec![number(&[("room", "a\"b")], -3.0)],
        ),
        family(
            "build_info",
            Info,
            "Build.",
            vec![number(&[("version", "1.2")], 1.0)],
        ),
        family(
            "state",
            StateSet,
            "",
            vec![
                number(&[("state", "on")], 1.0),
                number(&[("state", "off")], 0.0),
            ],
        ),
        family("raw", Untyped, "", vec![at(number(&[], 1e21), -1_500)]),
        family(
            "latency_seconds",
            Histogram,
            "",
            vec![histogram(
                &[("path", "/")],
                &[(0.1, 1.0), (1.0, 3.0)],
                4.0,
                2.5,
            )],
        ),
        family(
            "queue",
            GaugeHistogram,
            "",
            vec![histogram(&[], &[(-1.0, 1.0), (10.0, 2.0)], 5.0, -3.0)],
        ),
        family(
            "rpc",
            Summary,
            "",
            vec![at(summary(&[], &[(0.5, 0.25), (1.0, 2.0)], 10.0, 3.0), 5)],
        ),
    ]
}

#[test]
fn encode_all_kinds() {
    expect![[r##"
        # TYPE request_seconds counter
        # UNIT request_seconds seconds
        # HELP request_seconds Time \"spent\"\\serving.\n
        request_seconds_total{code="200"} 12.5 1520879607.789
        # TYPE errors counter
        errors_total 0.0
        # TYPE temperature gauge
        temperature{room="a\"b"} -3.0
        # TYPE build info
        # HELP build Build.
        build_info{version="1.2"} 1.0
        # TYPE state stateset
        state{state="on"} 1.0
        state{state="off"} 0.0
        # TYPE raw unknown
        raw 1e+21 -1.5
        # TYPE latency_seconds histogram
        latency_seconds_bucket{path="/",le="0.1"} 1.0
        latency_seconds_bucket{path="/",le="1.0"} 3.0
        latency_seconds_bucket{path="/",le="+Inf"} 4.0
        latency_seconds_sum{path="/"} 2.5
        latency_seconds_count{path="/"} 4.0
        # TYPE queue gaugehistogram
        queue_bucket{le="-1.0"} 1.0
        queue_bucket{le="10.0"} 2.0
        queue_bucket{le="+Inf"} 5.0
        queue_gsum -3.0
        queue_gcount 5.0
        # TYPE rpc summary
        rpc{quantile="0.5"} 0.25 0.005
        rpc{quantile="1.0"} 2.0 0.005
        rpc_sum 3.0 0.005
        rpc_count 10.0 0.005
        # EOF
    "##]]
    .assert_eq(&encode(&sample_families()));
}

#[test]
fn encode_nothing() {
    assert_eq!(encode(&[]), "# EOF\n");
}

#[test]
fn round_trip() {
    let families = sample_families();
    let parsed = openmetrics::parse(&encode(&families)).unwrap();
    // The samples the text format stores, except for the gauge histogram's
    // `_gsum`/`_gcount` and the formatting of `le` and `quantile` values.
    let flat = flatten(&families);
    assert_eq!(parsed.samples.len(), flat.len());
    for (om, text) in parsed.samples.iter().zip(&flat) {
        assert_eq!(
            om.name
                .replace("_gsum", "_sum")
                .replace("_gcount", "_count"),
            text.name
        );
        assert_eq!(om.value.to_bits(), text.value.to_bits(), "{}", text.name);
        assert_eq!(om.timestamp_ms, text.timestamp_ms, "{}", text.name);
        let numeric = |s: &Sample| -> Vec<_> {
            s.labels
                .iter()
                .map(|l| match l.name.as_str() {
                    "le" | "quantile" => {
                        (l.name.clone(), l.value.parse::<f64>().unwrap().to_string())
                    }
                    _ => (l.name.clone(), l.value.clone()),
                })
                .collect()
        };
        assert_eq!(numeric(om), numeric(text), "{}", text.name);
    }
    expect![[r#"
        request_seconds_total{code="200"} 12.5 @1520879607789
        errors_total 0.0
        temperature{room="a\"b"} -3.0
        build_info{version="1.2"} 1.0
        state{state="on"} 1.0
        state{state="off"} 0.0
        raw 1e21 @-1500
        latency_seconds_bucket{path="/",le="0.1"} 1.0
        latency_seconds_bucket{path="/",le="1.0"} 3.0
        latency_seconds_bucket{path="/",le="+Inf"} 4.0
        latency_seconds_sum{path="/"} 2.5
        latency_seconds_count{path="/"} 4.0
        queue_bucket{le="-1.0"} 1.0
        queue_bucket{le="10.0"} 2.0
        queue_bucket{le="+Inf"} 5.0
        queue_gsum -3.0
        queue_gcount 5.0
        rpc{quantile="0.5"} 0.25 @5
        rpc{quantile="1.0"} 2.0 @5
        rpc_sum 3.0 @5
        rpc_count 10.0 @5
    "#]]
    .assert_eq(&render_samples(&parsed.samples));
    let metadata: Vec<_> = parsed
        .metadata
        .iter()
        .map(|m| format!("{} {:?} {:?} {:?}", m.name, m.kind, m.help, m.unit))
        .collect();
    expect![[r#"
        [
            "request_seconds Counter \"Time \\\"spent\\\"\\\\serving.\\n\" \"seconds\"",
            "errors Counter \"\" \"\"",
            "temperature Gauge \"\" \"\"",
            "build Info \"Build.\" \"\"",
            "state StateSet \"\" \"\"",
            "raw Untyped \"\" \"\"",
            "latency_seconds Histogram \"\" \"\"",
            "queue GaugeHistogram \"\" \"\"",
            "rpc Summary \"\" \"\"",
        ]
    "#]]
    .assert_debug_eq(&metadata);
}

#[test]
fn parse_every_type() {
    check(
        r#"# TYPE cc_seconds counter
# UNIT cc_seconds seconds
# HELP cc_seconds A \"counter\"\nwith \\ escapes \t.
cc_seconds_total{a="1"} 1.0 # {trace_id="KOO5S4vxi0o"} 0.67 1520879602.5
cc_seconds_created{a="1"} 1520430000.123
cc_seconds_total{a="2"} 2 1520879607.789 # {} 1
# TYPE g gauge
g{a="x\"y\\z\n"} -Inf 0.0000001
g{a="other"} +Inf -1.5
# TYPE i info
i_info{version="1"} 1
# TYPE s stateset
s{s="a"} 1
s{s="b"} 0
# TYPE gh gaugehistogram
gh_bucket{le="-1"} 1
gh_bucket{le="+Inf"} 2
gh_gcount 2
gh_gsum -5
# TYPE q summary
q{quantile="0.5"} 1.5
q_sum 3
q_count 2
# TYPE u unknown
u 1e3
no_metadata nan
# EOF
"#,
        expect![[r#"
            meta cc_seconds counter help="A \"counter\"\nwith \\ escapes \\t." unit="seconds"
            meta g gauge help="" unit=""
            meta i info help="" unit=""
            meta s stateset help="" unit=""
            meta gh gaugehistogram help="" unit=""
            meta q summary help="" unit=""
            meta u unknown help="" unit=""
            cc_seconds_total{a="1"} 1.0
              # {trace_id="KOO5S4vxi0o"} 0.67 @1520879602500
            cc_seconds_created{a="1"} 1520430000.123
            cc_seconds_total{a="2"} 2.0 @1520879607789
              # {} 1.0
            g{a="x\"y\\z\n"} -inf @0
            g{a="other"} inf @-1500
            i_info{version="1"} 1.0
            s{s="a"} 1.0
            s{s="b"} 0.0
            gh_bucket{le="-1"} 1.0
            gh_bucket{le="+Inf"} 2.0
            gh_gcount 2.0
            gh_gsum -5.0
            q{quantile="0.5"} 1.5
            q_sum 3.0
            q_count 2.0
            u 1000.0
            no_metadata NaN
        "#]],
    );
}

#[test]
fn parse_timestamps_to_milliseconds() {
    let timestamps = [
        "0",
        "1520879607.789",
        "1520879607.7899",
        "-1.5",
        "-0.0009",
        "1.5e3",
        "1E-3",
        "1.7268398142239082e+09",
        "0.0000000001",
        "12345678901234567890.1234567890",
        "-12345678901234567890",
        "9223372036854775.807",
        "1e400",
    ];
    let mut out = String::new();
    for ts in timestamps {
        let input = format!("a 1 {ts}\n# EOF\n");
        let parsed = openmetrics::parse(&input).unwrap();
        out.push_str(&format!("{ts} -> {:?}\n", parsed.samples[0].timestamp_ms));
    }
    expect![[r#"
        0 -> Some(0)
        1520879607.789 -> Some(1520879607789)
        1520879607.7899 -> Some(1520879607789)
        -1.5 -> Some(-1500)
        -0.0009 -> Some(0)
        1.5e3 -> Some(1500000)
        1E-3 -> Some(1)
        1.7268398142239082e+09 -> Some(1726839814223)
        0.0000000001 -> Some(0)
        12345678901234567890.1234567890 -> Some(9223372036854775807)
        -12345678901234567890 -> Some(-9223372036854775807)
        9223372036854775.807 -> Some(9223372036854775807)
        1e400 -> Some(9223372036854775807)
    "#]]
    .assert_eq(&out);
}

#[test]
fn syntax_errors() {
    check_errors(
        &[
            "",
            "a 1\n",
            "a 1\n\n# EOF\n",
            "a 1\n# EOF\n\n",
            "a 1\n# EOF extra\n",
            "# comment\n# EOF\n",
            "a.b 1\n# EOF\n",
            "a  1\n# EOF\n",
            "a 1 \n# EOF\n",
            "a\t1\n# EOF\n",
            "a{b=\"c\",} 1\n# EOF\n",
            "a{b=\"c\", d=\"e\"} 1\n# EOF\n",
            "a{b=\"c\"}1\n# EOF\n",
            "a{b=\"c} 1\n# EOF\n",
            "a{b=\"1\",b=\"2\"} 1\n# EOF\n",
            "a{__x=\"1\"} 1\n# EOF\n",
            "a 0x10\n# EOF\n",
            "a 1 NaN\n# EOF\n",
            "a 1 1_0\n# EOF\n",
            "# TYPE a counter\na_total 1 # {x=\"y\"}\n# EOF\n",
            "# TYPE a counter\na_total 1 #{x=\"y\"} 1\n# EOF\n",
            "# TYPE a counter\na_total 1 # {x=\"y\"} 1 2 3\n# EOF\n",
            "# TYPE a counter\na_total 1 2 x\n# EOF\n",
            "# TYPE a untyped\n# EOF\n",
            "# TYPE a Counter\n# EOF\n",
            "# TYPE a gauge \n# EOF\n",
            "# HELP a\n# EOF\n",
            "# UNIT a_s s \n# EOF\n",
            "# UNIT a_s seconds\n# EOF\n",
            "# TYPE a_s info\n# UNIT a_s s\n# EOF\n",
            "# FOO a b\n# EOF\n",
        ],
        expect![[r##"
            ""
              1:1: missing "# EOF" at the end
            "a 1\n"
              2:1: missing "# EOF" at the end
            "a 1\n\n# EOF\n"
              2:1: blank line
            "a 1\n# EOF\n\n"
              3:1: text after "# EOF"
            "a 1\n# EOF extra\n"
              2:1: invalid comment: OpenMetrics allows only "# HELP", "# TYPE", "# UNIT" and "# EOF" lines
            "# comment\n# EOF\n"
              1:1: invalid comment: OpenMetrics allows only "# HELP", "# TYPE", "# UNIT" and "# EOF" lines
            "a.b 1\n# EOF\n"
              1:2: expected a space before the value, found '.'
            "a  1\n# EOF\n"
              1:3: expected a value, found ' '
            "a 1 \n# EOF\n"
              1:5: expected a timestamp, found end of line
            "a\t1\n# EOF\n"
              1:2: expected a space before the value, found '\t'
            "a{b=\"c\",} 1\n# EOF\n"
              1:9: expected a label name, found '}'
            "a{b=\"c\", d=\"e\"} 1\n# EOF\n"
              1:9: expected a label name, found ' '
            "a{b=\"c\"}1\n# EOF\n"
              1:9: expected a space before the value, found '1'
            "a{b=\"c} 1\n# EOF\n"
              1:5: unterminated label value
            "a{b=\"1\",b=\"2\"} 1\n# EOF\n"
              1:9: duplicate label name "b"
            "a{__x=\"1\"} 1\n# EOF\n"
              ok
            "a 0x10\n# EOF\n"
              1:3: invalid value "0x10"
            "a 1 NaN\n# EOF\n"
              1:5: invalid timestamp "NaN"
            "a 1 1_0\n# EOF\n"
              1:5: invalid timestamp "1_0"
            "# TYPE a counter\na_total 1 # {x=\"y\"}\n# EOF\n"
              2:20: expected a space before the exemplar value, found end of line
            "# TYPE a counter\na_total 1 #{x=\"y\"} 1\n# EOF\n"
              2:11: expected "# {" to start an exemplar
            "# TYPE a counter\na_total 1 # {x=\"y\"} 1 2 3\n# EOF\n"
              2:24: unexpected ' ' after the exemplar
            "# TYPE a counter\na_total 1 2 x\n# EOF\n"
              2:13: expected '#' to start an exemplar, found 'x'
            "# TYPE a untyped\n# EOF\n"
              1:10: "untyped" is not an OpenMetrics type (it is called "unknown")
            "# TYPE a Counter\n# EOF\n"
              1:10: unknown metric type "Counter"
            "# TYPE a gauge \n# EOF\n"
              1:10: unknown metric type "gauge "
            "# HELP a\n# EOF\n"
              1:9: expected a space after the metric name, found end of line
            "# UNIT a_s s \n# EOF\n"
              1:13: invalid character ' ' in unit
            "# UNIT a_s seconds\n# EOF\n"
              1:12: metric name "a_s" does not end with "_seconds", its unit
            "# TYPE a_s info\n# UNIT a_s s\n# EOF\n"
              2:12: info families cannot have a unit
            "# FOO a b\n# EOF\n"
              1:1: invalid comment: OpenMetrics allows only "# HELP", "# TYPE", "# UNIT" and "# EOF" lines
        "##]],
    );
}

#[test]
fn semantic_errors() {
    check_errors(
        &[
            "# TYPE a counter\n# TYPE a counter\n# EOF\n",
            "# HELP a x\n# HELP a y\n# EOF\n",
            "# UNIT a_s s\n# UNIT a_s s\n# EOF\n",
            "a 1\n# TYPE a gauge\n# EOF\n",
            "a 1\nb 1\na 2\n# EOF\n",
            "# TYPE a counter\na 1\n# EOF\n",
            "# TYPE a_created gauge\n# TYPE a counter\n# EOF\n",
            "# TYPE a counter\na_total -1\n# EOF\n",
            "# TYPE a counter\na_total NaN\n# EOF\n",
            "# TYPE a gauge\na 1 # {x=\"y\"} 1\n# EOF\n",
            "# TYPE a gauge\na{x=\"1\"} 1\na{x=\"2\"} 1\na{x=\"1\"} 1\n# EOF\n",
            "# TYPE a gauge\na 1 5\na 1 4\n# EOF\n",
            "# TYPE a gauge\na 1 5\na 1\n# EOF\n",
            "# TYPE a stateset\na 1\n# EOF\n",
            "# TYPE a stateset\na{a=\"x\"} 2\n# EOF\n",
            "# TYPE a info\na_info 0\n# EOF\n",
            "# TYPE a histogram\na_bucket 1\n# EOF\n",
            "# TYPE a histogram\na_bucket{le=\"+inf\"} 1\n# EOF\n",
            "# TYPE a histogram\na_bucket{le=\"2\"} 1\na_bucket{le=\"1\"} 1\n# EOF\n",
            "# TYPE a histogram\na_bucket{le=\"1\"} 2\na_bucket{le=\"+Inf\"} 1\n# EOF\n",
            "# TYPE a histogram\na_bucket{le=\"1\"} 1\n# EOF\n",
            "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\na_count 2\na_sum 1\n# EOF\n",
            "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\na_sum 1\n# EOF\n",
            "# TYPE a histogram\na_bucket{le=\"-1\"} 0\na_bucket{le=\"+Inf\"} 1\na_sum 1\na_count 1\n# EOF\n",
            "# TYPE a gaugehistogram\na_bucket{le=\"+Inf\"} 1\na_gsum -1\na_gcount 1\n# EOF\n",
            "# TYPE a summary\na{quantile=\"1.5\"} 1\n# EOF\n",
            "# TYPE a summary\na{quantile=\"0.5\"} -1\na_sum 1\na_count 1\n# EOF\n",
            "# TYPE a summary\na_sum -1\na_count 1\n# EOF\n",
            &format!(
                "# TYPE a histogram\na_bucket{{le=\"+Inf\"}} 1 # {{x=\"{}\"}} 1\n# EOF\n",
                "é".repeat(127)
            ),
            &format!(
                "# TYPE a histogram\na_bucket{{le=\"+Inf\"}} 1 # {{x=\"{}\"}} 1\n# EOF\n",
                "é".repeat(128)
            ),
        ],
        expect![[r##"
            "# TYPE a counter\n# TYPE a counter\n# EOF\n"
              2:1: second TYPE line for "a"
            "# HELP a x\n# HELP a y\n# EOF\n"
              2:1: second HELP line for "a"
            "# UNIT a_s s\n# UNIT a_s s\n# EOF\n"
              2:1: second UNIT line for "a_s"
            "a 1\n# TYPE a gauge\n# EOF\n"
              2:1: metadata for "a" after its samples
            "a 1\nb 1\na 2\n# EOF\n"
              3:1: family "a" reuses the name "a" of an earlier family; a family's samples must be contiguous and named as its type requires
            "# TYPE a counter\na 1\n# EOF\n"
              2:1: family "a" reuses the name "a" of an earlier family; a family's samples must be contiguous and named as its type requires
            "# TYPE a_created gauge\n# TYPE a counter\n# EOF\n"
              2:1: family "a" reuses the name "a_created" of an earlier family; a family's samples must be contiguous and named as its type requires
            "# TYPE a counter\na_total -1\n# EOF\n"
              2:1: _total value -1 must not be negative
            "# TYPE a counter\na_total NaN\n# EOF\n"
              2:1: _total value must not be NaN
            "# TYPE a gauge\na 1 # {x=\"y\"} 1\n# EOF\n"
              2:5: exemplars are only allowed on counter _total and histogram _bucket samples
            "# TYPE a gauge\na{x=\"1\"} 1\na{x=\"2\"} 1\na{x=\"1\"} 1\n# EOF\n"
              4:1: this metric of family "a" already appeared earlier; its samples must be contiguous
            "# TYPE a gauge\na 1 5\na 1 4\n# EOF\n"
              3:1: timestamp earlier than the metric's previous sample
            "# TYPE a gauge\na 1 5\na 1\n# EOF\n"
              3:1: samples of one metric must all have timestamps or none
            "# TYPE a stateset\na 1\n# EOF\n"
              2:1: stateset sample without a "a" label
            "# TYPE a stateset\na{a=\"x\"} 2\n# EOF\n"
              2:1: stateset value 2 is neither 0 nor 1
            "# TYPE a info\na_info 0\n# EOF\n"
              2:1: info value 0 is not 1
            "# TYPE a histogram\na_bucket 1\n# EOF\n"
              2:1: histogram bucket without an "le" label
            "# TYPE a histogram\na_bucket{le=\"+inf\"} 1\n# EOF\n"
              2:1: le "+inf" is not canonical, write "+Inf"
            "# TYPE a histogram\na_bucket{le=\"2\"} 1\na_bucket{le=\"1\"} 1\n# EOF\n"
              3:1: bucket le=1 does not follow le=2: buckets must be in increasing order
            "# TYPE a histogram\na_bucket{le=\"1\"} 2\na_bucket{le=\"+Inf\"} 1\n# EOF\n"
              3:1: bucket count 1 is below the previous bucket's 2
            "# TYPE a histogram\na_bucket{le=\"1\"} 1\n# EOF\n"
              2:1: "a": histogram without a +Inf bucket
            "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\na_count 2\na_sum 1\n# EOF\n"
              2:1: "a": _count 2 differs from the +Inf bucket's 1
            "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\na_sum 1\n# EOF\n"
              2:1: "a": _sum without _count
            "# TYPE a histogram\na_bucket{le=\"-1\"} 0\na_bucket{le=\"+Inf\"} 1\na_sum 1\na_count 1\n# EOF\n"
              2:1: "a": _sum in a histogram with negative buckets, which OpenMetrics 1.0 forbids
            "# TYPE a gaugehistogram\na_bucket{le=\"+Inf\"} 1\na_gsum -1\na_gcount 1\n# EOF\n"
              2:1: "a": negative _gsum in a histogram without negative buckets
            "# TYPE a summary\na{quantile=\"1.5\"} 1\n# EOF\n"
              2:1: invalid quantile "1.5", expected a number from 0 to 1
            "# TYPE a summary\na{quantile=\"0.5\"} -1\na_sum 1\na_count 1\n# EOF\n"
              2:1: quantile value -1 must not be negative
            "# TYPE a summary\na_sum -1\na_count 1\n# EOF\n"
              2:1: _sum value -1 must not be negative
            "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1 # {x=\"ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé\"} 1\n# EOF\n"
              ok
            "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1 # {x=\"éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé\"} 1\n# EOF\n"
              2:25: exemplar labels have 129 characters, more than 128
        "##]],
    );
}

#[test]
fn negative_observations_option() {
    let relaxed = Options {
        allow_negative_observations: true,
    };
    let mut out = String::new();
    for input in [
        "# TYPE a histogram\na_bucket{le=\"-1\"} 0\na_bucket{le=\"+Inf\"} 1\na_sum -1\na_count 1\n# EOF\n",
        "# TYPE a histogram\na_bucket{le=\"0\"} 0\na_bucket{le=\"+Inf\"} 1\na_sum -1\na_count 1\n# EOF\n",
        "# TYPE a summary\na{quantile=\"0.5\"} -1\na_sum -3\na_count 2\n# EOF\n",
        "# TYPE a counter\na_total -1\n# EOF\n",
    ] {
        let result = openmetrics::parse_with(input, relaxed);
        out.push_str(&format!("{input:?}\n{}", render(&result)));
    }
    expect![[r##"
        "# TYPE a histogram\na_bucket{le=\"-1\"} 0\na_bucket{le=\"+Inf\"} 1\na_sum -1\na_count 1\n# EOF\n"
        meta a histogram help="" unit=""
        a_bucket{le="-1"} 0.0
        a_bucket{le="+Inf"} 1.0
        a_sum -1.0
        a_count 1.0
        "# TYPE a histogram\na_bucket{le=\"0\"} 0\na_bucket{le=\"+Inf\"} 1\na_sum -1\na_count 1\n# EOF\n"
        error: 2:1: "a": negative _sum in a histogram without negative buckets
        "# TYPE a summary\na{quantile=\"0.5\"} -1\na_sum -3\na_count 2\n# EOF\n"
        meta a summary help="" unit=""
        a{quantile="0.5"} -1.0
        a_sum -3.0
        a_count 2.0
        "# TYPE a counter\na_total -1\n# EOF\n"
        error: 2:1: _total value -1 must not be negative
    "##]].assert_eq(&out);
}
