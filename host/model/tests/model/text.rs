//! The Prometheus text format 0.0.4: encoding, parsing, and round trips.

use expect_test::{Expect, expect};
use wasmetheus_model::MetricKind::*;
use wasmetheus_model::{flatten, text};

use crate::support::{at, family, histogram, number, render, render_samples, summary};

fn check(input: &str, expect: Expect) {
    expect.assert_eq(&render(&text::parse(input)));
}

fn check_encode(families: &[wasmetheus_model::MetricFamily], expect: Expect) {
    let mut out = String::new();
    text::encode(families, &mut out);
    expect.assert_eq(&out);
}

#[test]
fn encode_all_kinds() {
    check_encode(
        &[
            family(
                "requests",
                Counter,
                "Requests served.",
                vec![
                    number(&[("code", "200")], 1027.0),
                    at(number(&[("code", "500")], 3.0), 1395066363000),
                ],
            ),
            family("errors_total", Counter, "", vec![number(&[], 0.0)]),
            family(
                "temperature",
                Gauge,
                "Line one\nback\\slash \"quoted\"",
                vec![number(&[], -3.5)],
            ),
            family(
                "build",
                Info,
                "Build.",
                vec![number(&[("version", "1.2")], 1.0)],
            ),
            family("up_info", Info, "", vec![number(&[], 1.0)]),
            family(
                "state",
                StateSet,
                "",
                vec![
                    number(&[("state", "a")], 1.0),
                    number(&[("state", "b")], 0.0),
                ],
            ),
            family(
                "raw",
                Untyped,
                "",
                vec![number(&[("v", "q\"uo\\te\nnl")], 7.0)],
            ),
            family(
                "latency_seconds",
                Histogram,
                "Latency.",
                vec![
                    histogram(&[("path", "/")], &[(0.1, 1.0), (1.0, 3.0)], 4.0, 2.5),
                    histogram(
                        &[("path", "/x")],
                        &[(0.5, 0.0), (f64::INFINITY, 2.0)],
                        2.0,
                        1.0,
                    ),
                ],
            ),
            family(
                "queue",
                GaugeHistogram,
                "",
                vec![histogram(&[], &[(10.0, 2.0)], 5.0, 30.0)],
            ),
            family(
                "rpc_seconds",
                Summary,
                "",
                vec![at(
                    summary(
                        &[("service", "a")],
                        &[(0.5, 0.25), (0.99, f64::NAN)],
                        10.0,
                        3.0,
                    ),
                    5,
                )],
            ),
        ],
        expect![[r##"
            # HELP requests_total Requests served.
            # TYPE requests_total counter
            requests_total{code="200"} 1027
            requests_total{code="500"} 3 1395066363000
            # TYPE errors_total counter
            errors_total 0
            # HELP temperature Line one\nback\\slash "quoted"
            # TYPE temperature gauge
            temperature -3.5
            # HELP build_info Build.
            # TYPE build_info gauge
            build_info{version="1.2"} 1
            # TYPE up_info gauge
            up_info 1
            # TYPE state gauge
            state{state="a"} 1
            state{state="b"} 0
            # TYPE raw untyped
            raw{v="q\"uo\\te\nnl"} 7
            # HELP latency_seconds Latency.
            # TYPE latency_seconds histogram
            latency_seconds_bucket{path="/",le="0.1"} 1
            latency_seconds_bucket{path="/",le="1"} 3
            latency_seconds_bucket{path="/",le="+Inf"} 4
            latency_seconds_sum{path="/"} 2.5
            latency_seconds_count{path="/"} 4
            latency_seconds_bucket{path="/x",le="0.5"} 0
            latency_seconds_bucket{path="/x",le="+Inf"} 2
            latency_seconds_sum{path="/x"} 1
            latency_seconds_count{path="/x"} 2
            # TYPE queue histogram
            queue_bucket{le="10"} 2
            queue_bucket{le="+Inf"} 5
            queue_sum 30
            queue_count 5
            # TYPE rpc_seconds summary
            rpc_seconds{service="a",quantile="0.5"} 0.25 5
            rpc_seconds{service="a",quantile="0.99"} NaN 5
            rpc_seconds_sum{service="a"} 3 5
            rpc_seconds_count{service="a"} 10 5
        "##]],
    );
}

#[test]
fn float_formatting_matches_go() {
    let values = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        100000.0,
        123456.0,
        999999.0,
        1e6,
        1234567.0,
        1.5e6,
        12345678.0,
        2.478268416e9,
        9.03676723e8,
        0.001,
        0.0001,
        1e-5,
        -1.5e-7,
        0.1 + 0.2,
        8.999999999999998,
        1e21,
        1e100,
        f64::MAX,
        5e-324,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    let metrics = values.iter().map(|&v| number(&[], v)).collect();
    check_encode(
        &[family("v", Gauge, "", metrics)],
        expect![[r#"
        # TYPE v gauge
        v 0
        v 0
        v 1
        v -1
        v 0.5
        v 100000
        v 123456
        v 999999
        v 1e+06
        v 1.234567e+06
        v 1.5e+06
        v 1.2345678e+07
        v 2.478268416e+09
        v 9.03676723e+08
        v 0.001
        v 0.0001
        v 1e-05
        v -1.5e-07
        v 0.30000000000000004
        v 8.999999999999998
        v 1e+21
        v 1e+100
        v 1.7976931348623157e+308
        v 5e-324
        v NaN
        v +Inf
        v -Inf
    "#]],
    );
}

#[test]
fn parse_accepts_prometheus_text() {
    check(
        r#"# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3   1395066363000

# Escaping in label values: C:\DIR\FILE.TXT
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47
  indented{a="b",} -Inf
spaced { a = "b" , c="d" } +Inf
inf Inf
nan NaN
exp 1E-3
neg_ts 1 -5
# HELP weird \\back\nslash \"kept\" \t
# TYPE weird untyped
weird 1
# EOF
tail 2   "#,
        expect![[r#"
            meta http_requests_total counter help="The total number of HTTP requests." unit=""
            meta weird unknown help="\\back\nslash \\\"kept\\\" \\t" unit=""
            http_requests_total{method="post",code="200"} 1027.0 @1395066363000
            http_requests_total{method="post",code="400"} 3.0 @1395066363000
            msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1458255915.0
            metric_without_timestamp_and_labels 12.47
            indented{a="b"} -inf
            spaced{a="b",c="d"} inf
            inf inf
            nan NaN
            exp 0.001
            neg_ts 1.0 @-5
            weird 1.0
            tail 2.0
        "#]],
    );
}

#[test]
fn parse_histogram_and_summary_families() {
    check(
        r#"# TYPE h histogram
h_bucket{le="0.5"} 1
h_bucket{le="+Inf"} 2
h_sum 0.7
h_count 2
# TYPE s summary
s{quantile="0.5"} 0.1
s_sum 1
s_count 3
s_created 5
# TYPE g gauge
g_sum 1
"#,
        expect![[r#"
            meta h histogram help="" unit=""
            meta s summary help="" unit=""
            meta g gauge help="" unit=""
            h_bucket{le="0.5"} 1.0
            h_bucket{le="+Inf"} 2.0
            h_sum 0.7
            h_count 2.0
            s{quantile="0.5"} 0.1
            s_sum 1.0
            s_count 3.0
            s_created 5.0
            g_sum 1.0
        "#]],
    );
}

#[test]
fn parse_quoted_utf8_names() {
    check(
        r#"# HELP "my.metric" Dotted.
# TYPE "my.metric" gauge
{"my.metric", "my.label"="v", plain="w"} 1
{"my.metric"} 2
{ "my.metric" , a="b" } 3
quoted_label{"ünïcode"="x"} 4
"#,
        expect![[r#"
            meta my.metric gauge help="Dotted." unit=""
            my.metric{my.label="v",plain="w"} 1.0
            my.metric 2.0
            my.metric{a="b"} 3.0
            quoted_label{ünïcode="x"} 4.0
        "#]],
    );
}

#[test]
fn parse_errors() {
    let cases = [
        "a.b 1",
        "0a 1",
        "a{1a=\"x\"} 1",
        "a{a=\"x} 1",
        "a{a=\"x\",a=\"y\"} 1",
        "a{a=\"x\" b=\"y\"} 1",
        "a{a=x} 1",
        "a{a} 1",
        "a",
        "a 1_0",
        "a 0x1",
        "a +NaN",
        "a one",
        "a 1 1.5",
        "a 1 2 3",
        "{a=\"b\"} 1",
        "{\"\"} 1",
        "# TYPE a gauge\n# TYPE a gauge",
        "# HELP a x\n# HELP a y",
        "a 1\n# TYPE a gauge",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\n# TYPE h histogram",
        "# TYPE g gauge\ng_sum 1\n# TYPE g_sum gauge",
        "# TYPE a gaugehistogram",
        "# TYPE a",
        "# TYPE 1a gauge",
        "# HELP a.b x",
        "x{a=\"é\\\"} 1",
        "é 1",
    ];
    let mut out = String::new();
    for input in cases {
        let result = text::parse(input);
        out.push_str(&format!("{input:?}\n  {}", render(&result)));
    }
    expect![[r##"
        "a.b 1"
          error: 1:2: unexpected '.' after metric name
        "0a 1"
          error: 1:1: expected a metric name, found '0'
        "a{1a=\"x\"} 1"
          error: 1:3: expected a label name, found '1'
        "a{a=\"x} 1"
          error: 1:5: unterminated label value
        "a{a=\"x\",a=\"y\"} 1"
          error: 1:9: duplicate label name "a"
        "a{a=\"x\" b=\"y\"} 1"
          error: 1:9: expected ',' or '}' after the label value, found 'b'
        "a{a=x} 1"
          error: 1:5: expected '"' to start the label value, found 'x'
        "a{a} 1"
          error: 1:4: expected '=' after the label name, found '}'
        "a"
          error: 1:2: missing value
        "a 1_0"
          error: 1:3: invalid value "1_0"
        "a 0x1"
          error: 1:3: invalid value "0x1"
        "a +NaN"
          error: 1:3: invalid value "+NaN"
        "a one"
          error: 1:3: invalid value "one"
        "a 1 1.5"
          error: 1:5: invalid timestamp "1.5" (expected integer milliseconds)
        "a 1 2 3"
          error: 1:7: unexpected '3' after the timestamp
        "{a=\"b\"} 1"
          error: 1:1: missing metric name
        "{\"\"} 1"
          error: 1:2: empty label name
        "# TYPE a gauge\n# TYPE a gauge"
          error: 2:8: second TYPE line for "a"
        "# HELP a x\n# HELP a y"
          error: 2:8: second HELP line for "a"
        "a 1\n# TYPE a gauge"
          error: 2:8: TYPE line for "a" after its samples
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\n# TYPE h histogram"
          error: 3:8: second TYPE line for "h"
        "# TYPE g gauge\ng_sum 1\n# TYPE g_sum gauge"
          error: 3:8: TYPE line for "g_sum" after its samples
        "# TYPE a gaugehistogram"
          error: 1:10: unknown metric type "gaugehistogram" (expected counter, gauge, histogram, summary or untyped)
        "# TYPE a"
          error: 1:9: expected a metric type after the name
        "# TYPE 1a gauge"
          error: 1:8: expected a metric name, found '1'
        "# HELP a.b x"
          error: 1:9: expected whitespace after the metric name, found '.'
        "x{a=\"é\\\"} 1"
          error: 1:5: unterminated label value
        "é 1"
          error: 1:1: expected a metric name, found 'é'
    "##]].assert_eq(&out);
}

#[test]
fn comments_and_metadata_lookalikes_are_comments() {
    check(
        "#HELP a not metadata\n# HELP\n#\n# TYPE\n# random text\n# UNIT a seconds\na 1\n",
        expect![[r#"
            a 1.0
        "#]],
    );
}

#[test]
fn round_trip_matches_flatten() {
    let families = vec![
        family(
            "c",
            Counter,
            "help",
            vec![
                number(&[("a", "1")], 1.0),
                at(number(&[("a", "2")], 2.5e9), -42),
            ],
        ),
        family(
            "g",
            Gauge,
            "",
            vec![
                number(&[("weird", "\\\n\"")], 1e-7),
                number(&[], f64::INFINITY),
            ],
        ),
        family("i", Info, "", vec![number(&[("v", "1")], 1.0)]),
        family("s", StateSet, "", vec![number(&[("s", "on")], 1.0)]),
        family("u", Untyped, "", vec![number(&[], f64::NAN)]),
        family(
            "h",
            Histogram,
            "",
            vec![histogram(
                &[("x", "y")],
                &[(-1.0, 0.0), (0.25, 1.0), (1e9, 2.0)],
                3.0,
                0.125,
            )],
        ),
        family(
            "gh",
            GaugeHistogram,
            "",
            vec![histogram(&[], &[(f64::INFINITY, 1.0)], 1.0, 5.0)],
        ),
        family(
            "q",
            Summary,
            "",
            vec![at(summary(&[], &[(0.0, 1.0), (0.999, 3.0)], 10.0, 20.0), 7)],
        ),
    ];
    let mut encoded = String::new();
    text::encode(&families, &mut encoded);
    let parsed = text::parse(&encoded).unwrap();
    assert_eq!(
        render_samples(&parsed.samples),
        render_samples(&flatten(&families))
    );
    let kinds: Vec<_> = parsed
        .metadata
        .iter()
        .map(|m| (m.name.as_str(), m.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("c_total", Counter),
            ("g", Gauge),
            ("i_info", Gauge),
            ("s", Gauge),
            ("u", Untyped),
            ("h", Histogram),
            ("gh", Histogram),
            ("q", Summary),
        ]
    );
    assert_eq!(parsed.metadata[0].help, "help");
}

/// Records every sample by series text and knows the ones it recorded.
#[derive(Default)]
struct Knowing {
    known: std::collections::HashSet<String>,
    last: Option<String>,
    /// `(series, value, timestamp, whether it came known)`, in order.
    seen: Vec<(String, String, Option<i64>, bool)>,
}

impl<'a> text::SampleSink<'a> for Knowing {
    fn sample(&mut self, s: text::RawSample<'a, '_>) {
        self.known.insert(s.series.to_owned());
        self.seen.push((
            s.series.to_owned(),
            s.value.to_string(),
            s.timestamp_ms,
            false,
        ));
    }

    fn knows(&mut self, series: &'a str) -> bool {
        self.last = Some(series.to_owned());
        self.known.contains(series)
    }

    fn known_sample(&mut self, value: f64, timestamp_ms: Option<i64>) {
        let series = self.last.take().unwrap();
        self.seen
            .push((series, value.to_string(), timestamp_ms, true));
    }
}

#[test]
fn known_series_skip_their_labels_and_read_the_same() {
    let input = concat!(
        "# TYPE a counter\n",
        "a 1\n",
        "a{x=\"1\"} 2 1000\n",
        "  a {x=\"}\\\" ,\",y=\"\\\\\"} 3\n",
        "a{x=\"2\",} -Inf\n",
        "b\t{} 4\n",
        "{\"quoted.name\", z=\"1\"} 5\n",
    );
    let mut sink = Knowing::default();
    text::parse_into(input, &mut sink).unwrap();
    let first = std::mem::take(&mut sink.seen);
    assert!(first.iter().all(|s| !s.3));
    text::parse_into(input, &mut sink).unwrap();
    let second = std::mem::take(&mut sink.seen);
    let strip = |v: &[(String, String, Option<i64>, bool)]| {
        v.iter()
            .map(|(s, v, t, _)| (s.clone(), v.clone(), *t))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&first), strip(&second));
    // Only the quoted name is read in full again.
    let known: Vec<bool> = second.iter().map(|s| s.3).collect();
    assert_eq!(known, [true, true, true, true, true, false]);

    // A known series with a malformed rest of line fails as it would
    // have unknown, at the same place.
    for bad in [
        "a{x=\"1\"} x\n",
        "a{x=\"1\"} 1 2 3\n",
        "a{x=\"1\"}\n",
        "a 1 1.5\n",
        "a{x=\"1\"} 1 }\n",
        "a{x=\"1\"}{x=\"1\"} 1\n",
    ] {
        let known_err = text::parse_into(bad, &mut sink).unwrap_err();
        let fresh_err = text::parse(bad).unwrap_err();
        assert_eq!(known_err, fresh_err, "{bad}");
    }
}
