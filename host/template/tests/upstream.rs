//! Prometheus' own template tests (`template/template_test.go`, `TestTemplateExpansion`), ported as
//! data: text, input, query result, options, and the output or error text upstream expects. The
//! HTML-mode cases (`ExpandHTML`) are left out: only text mode is implemented.

use wasmetheus_template::{Expander, MissingKey, QueryBackend, QuerySample, Value};

struct FixedQuery(Vec<QuerySample>);

impl QueryBackend for FixedQuery {
    fn query(&self, _: &str, _: i64) -> Result<Vec<QuerySample>, String> {
        Ok(self.0.clone())
    }
}

fn sample(labels: &[(&str, &str)], value: f64) -> QuerySample {
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    labels.sort();
    QuerySample { labels, value }
}

fn floats(v: &[f64]) -> Value {
    Value::list("[]float64", v.iter().map(|f| Value::Float(*f)).collect())
}
fn strings(v: &[&str]) -> Value {
    Value::list("[]string", v.iter().map(|s| Value::from(*s)).collect())
}
fn ints(v: &[i64]) -> Value {
    Value::list("[]int64", v.iter().map(|i| Value::Int(*i)).collect())
}
fn uints(v: &[u64]) -> Value {
    Value::list("[]uint64", v.iter().map(|u| Value::Uint(*u)).collect())
}

struct Case {
    text: &'static str,
    input: Value,
    query: Vec<QuerySample>,
    missing_key: Option<MissingKey>,
    /// Ok(output) or Err(error text).
    want: Result<&'static str, &'static str>,
}

fn case(text: &'static str, want: Result<&'static str, &'static str>) -> Case {
    Case {
        text,
        input: Value::Invalid,
        query: Vec::new(),
        missing_key: None,
        want,
    }
}

fn cases() -> Vec<Case> {
    let metric_a = || vec![sample(&[("__name__", "metric"), ("instance", "a")], 11.0)];
    vec![
        case("plain text", Ok("plain text")),
        case("{{ 1 }}", Ok("1")),
        case(
            "{{\u{a0}}}",
            Err(
                "error parsing template test: template: test:1: unrecognized character in action: U+00A0",
            ),
        ),
        case("{{ \"<b>\" }}", Ok("<b>")),
        case(
            "{{define \"x\"}}{{.arg0}} {{.arg1}}{{end}}{{template \"x\" (args 1 \"2\")}}",
            Ok("1 2"),
        ),
        Case {
            query: vec![sample(&[], 1.5)],
            ..case("{{ query \"1.5\" | first | value }}", Ok("1.5"))
        },
        Case {
            query: metric_a(),
            ..case(
                "{{ query \"metric{instance='a'}\" | first | value }}",
                Ok("11"),
            )
        },
        Case {
            query: metric_a(),
            ..case(
                "{{ query \"metric{instance='a'}\" | first | label \"instance\" }}",
                Ok("a"),
            )
        },
        Case {
            query: vec![sample(&[("__name__", "metric"), ("__value__", "a")], 11.0)],
            ..case(
                "{{ query \"metric{__value__='a'}\" | first | strvalue }}",
                Ok("a"),
            )
        },
        Case {
            query: metric_a(),
            ..case(
                "{{ query \"metric{instance='a'}\" | first | label \"foo\" }}",
                Ok(""),
            )
        },
        Case {
            query: metric_a(),
            ..case(
                "{{ $x := query \"metric\" | first }}{{ $x.Labels.foo }}",
                Ok(""),
            )
        },
        Case {
            query: vec![
                sample(&[("__name__", "metric"), ("instance", "b")], 21.0),
                sample(&[("__name__", "metric"), ("instance", "a")], 11.0),
            ],
            ..case(
                "{{ range query \"metric\" | sortByLabel \"instance\" }}{{.Labels.instance}}:{{.Value}}: {{end}}",
                Ok("a:11: b:21: "),
            )
        },
        case(
            "{{ \"foo.example.com\" | stripPort }}",
            Ok("foo.example.com"),
        ),
        case(
            "{{ \"foo.example.com:12345\" | stripPort }}",
            Ok("foo.example.com"),
        ),
        case("{{ \"192.0.2.1\" | stripPort }}", Ok("192.0.2.1")),
        case("{{ \"192.0.2.1:12345\" | stripPort }}", Ok("192.0.2.1")),
        case("{{ \"2001:0DB8::1\" | stripPort }}", Ok("2001:0DB8::1")),
        case(
            "{{ \"[2001:0DB8::1]:12345\" | stripPort }}",
            Ok("2001:0DB8::1"),
        ),
        case(
            "{{ \"[2001:0DB8::1]::12345\" | stripPort }}",
            Ok("[2001:0DB8::1]::12345"),
        ),
        case("{{ .Foo }}", Ok("<no value>")),
        Case {
            missing_key: Some(MissingKey::Default),
            ..case("{{ .Foo }}", Ok("<no value>"))
        },
        Case {
            missing_key: Some(MissingKey::Error),
            ..case(
                "{{ .Foo }}",
                Err(
                    r#"error executing template test: template: test:1:3: executing "test" at <.Foo>: nil data; no entry for key "Foo""#,
                ),
            )
        },
        case(
            "{{",
            Err("error parsing template test: template: test:1: unclosed action"),
        ),
        case(
            "{{ query \"missing\" | first }}",
            Err(
                "error executing template test: template: test:1:21: executing \"test\" at <first>: error calling first: first() called on vector with no elements",
            ),
        ),
        case(
            "{{ (query \"missing\").banana }}",
            Err(
                "error executing template test: template: test:1:10: executing \"test\" at <\"missing\">: can't evaluate field banana in type template.queryResult",
            ),
        ),
        case("{{ reReplaceAll \"(a)b\" \"x$1\" \"ab\" }}", Ok("xa")),
        Case {
            input: floats(&[0.0, 1.0, 1234567.0, 0.12]),
            ..case(
                "{{ range . }}{{ humanize . }}:{{ end }}",
                Ok("0:1:1.235M:120m:"),
            )
        },
        Case {
            input: strings(&["0.0", "1.0", "1234567.0", ".12"]),
            ..case(
                "{{ range . }}{{ humanize . }}:{{ end }}",
                Ok("0:1:1.235M:120m:"),
            )
        },
        case(
            r#"{{ humanize "one" }}"#,
            Err(
                r#"error executing template test: template: test:1:3: executing "test" at <humanize "one">: error calling humanize: strconv.ParseFloat: parsing "one": invalid syntax"#,
            ),
        ),
        Case {
            input: ints(&[0, -1, 1, 1234567, i64::MAX]),
            ..case(
                "{{ range . }}{{ humanize . }}:{{ end }}",
                Ok("0:-1:1:1.235M:9.223E:"),
            )
        },
        Case {
            input: uints(&[0, 1, 1234567, u64::MAX]),
            ..case(
                "{{ range . }}{{ humanize . }}:{{ end }}",
                Ok("0:1:1.235M:18.45E:"),
            )
        },
        Case {
            input: floats(&[0.0, 1.0, 1048576.0, 0.12]),
            ..case(
                "{{ range . }}{{ humanize1024 . }}:{{ end }}",
                Ok("0:1:1Mi:0.12:"),
            )
        },
        Case {
            input: strings(&["0.0", "1.0", "1048576.0", ".12"]),
            ..case(
                "{{ range . }}{{ humanize1024 . }}:{{ end }}",
                Ok("0:1:1Mi:0.12:"),
            )
        },
        case(
            r#"{{ humanize1024 "one" }}"#,
            Err(
                r#"error executing template test: template: test:1:3: executing "test" at <humanize1024 "one">: error calling humanize1024: strconv.ParseFloat: parsing "one": invalid syntax"#,
            ),
        ),
        Case {
            input: ints(&[0, -1, 1, 1234567, i64::MAX]),
            ..case(
                "{{ range . }}{{ humanize1024 . }}:{{ end }}",
                Ok("0:-1:1:1.177Mi:8Ei:"),
            )
        },
        Case {
            input: uints(&[0, 1, 1234567, u64::MAX]),
            ..case(
                "{{ range . }}{{ humanize1024 . }}:{{ end }}",
                Ok("0:1:1.177Mi:16Ei:"),
            )
        },
        Case {
            input: floats(&[
                0.0,
                1.0,
                60.0,
                3600.0,
                86400.0,
                86400.0 + 3600.0,
                -(86400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0),
                899.99,
            ]),
            ..case(
                "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
                Ok("0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:"),
            )
        },
        Case {
            input: strings(&["0", "1", "60", "3600", "86400"]),
            ..case(
                "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
                Ok("0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:"),
            )
        },
        Case {
            input: floats(&[0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345]),
            ..case(
                "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
                Ok("100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:"),
            )
        },
        Case {
            input: strings(&[".1", ".0001", ".12345", "60.1", "60.5", "1.2345", "12.345"]),
            ..case(
                "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
                Ok("100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:"),
            )
        },
        case(
            r#"{{ humanizeDuration "one" }}"#,
            Err(
                r#"error executing template test: template: test:1:3: executing "test" at <humanizeDuration "one">: error calling humanizeDuration: strconv.ParseFloat: parsing "one": invalid syntax"#,
            ),
        ),
        Case {
            input: Value::list(
                "[]int",
                [0, -1, 1, 1234567].into_iter().map(Value::Int).collect(),
            ),
            ..case(
                "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
                Ok("0s:-1s:1s:14d 6h 56m 7s:"),
            )
        },
        Case {
            input: Value::list(
                "[]uint",
                [0, 1, 1234567].into_iter().map(Value::Uint).collect(),
            ),
            ..case(
                "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
                Ok("0s:1s:14d 6h 56m 7s:"),
            )
        },
        Case {
            input: floats(&[f64::INFINITY, f64::NEG_INFINITY, f64::NAN]),
            ..case(
                "{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{humanizeTimestamp .}}:{{ end }}",
                Ok("+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:"),
            )
        },
        Case {
            input: strings(&["+Inf", "-Inf", "NaN"]),
            ..case(
                "{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{humanizeTimestamp .}}:{{ end }}",
                Ok("+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:"),
            )
        },
        case(
            "{{ -0.22222 | humanizePercentage }}:{{ 0.0 | humanizePercentage }}:{{ 0.1234567 | humanizePercentage }}:{{ 1.23456 | humanizePercentage }}",
            Ok("-22.22%:0%:12.35%:123.5%"),
        ),
        Case {
            input: ints(&[0, -1, 1, 1234567, i64::MAX]),
            ..case(
                "{{ range . }}{{ humanizePercentage . }}:{{ end }}",
                Ok("0%:-100%:100%:1.235e+08%:9.223e+20%:"),
            )
        },
        Case {
            input: uints(&[0, 1, 1234567, u64::MAX]),
            ..case(
                "{{ range . }}{{ humanizePercentage . }}:{{ end }}",
                Ok("0%:100%:1.235e+08%:1.845e+21%:"),
            )
        },
        case(
            r#"{{ "-0.22222" | humanizePercentage }}:{{ "0.0" | humanizePercentage }}:{{ "0.1234567" | humanizePercentage }}:{{ "1.23456" | humanizePercentage }}"#,
            Ok("-22.22%:0%:12.35%:123.5%"),
        ),
        case(
            r#"{{ "one" | humanizePercentage }}"#,
            Err(
                r#"error executing template test: template: test:1:11: executing "test" at <humanizePercentage>: error calling humanizePercentage: strconv.ParseFloat: parsing "one": invalid syntax"#,
            ),
        ),
        Case {
            input: ints(&[0, -1, 1, 1234567, 9223372036]),
            ..case(
                "{{ range . }}{{ humanizeTimestamp . }}:{{ end }}",
                Ok(
                    "1970-01-01 00:00:00 +0000 UTC:1969-12-31 23:59:59 +0000 UTC:1970-01-01 00:00:01 +0000 UTC:1970-01-15 06:56:07 +0000 UTC:2262-04-11 23:47:16 +0000 UTC:",
                ),
            )
        },
        Case {
            input: uints(&[0, 1, 1234567, 9223372036]),
            ..case(
                "{{ range . }}{{ humanizeTimestamp . }}:{{ end }}",
                Ok(
                    "1970-01-01 00:00:00 +0000 UTC:1970-01-01 00:00:01 +0000 UTC:1970-01-15 06:56:07 +0000 UTC:2262-04-11 23:47:16 +0000 UTC:",
                ),
            )
        },
        Case {
            input: ints(&[i64::MIN, i64::MAX]),
            ..case(
                "{{ range . }}{{ humanizeTimestamp . }}:{{ end }}",
                Err(
                    r#"error executing template test: template: test:1:16: executing "test" at <humanizeTimestamp .>: error calling humanizeTimestamp: -9.223372036854776e+18 cannot be represented as a nanoseconds timestamp since it overflows int64"#,
                ),
            )
        },
        Case {
            input: uints(&[u64::MAX]),
            ..case(
                "{{ range . }}{{ humanizeTimestamp . }}:{{ end }}",
                Err(
                    r#"error executing template test: template: test:1:16: executing "test" at <humanizeTimestamp .>: error calling humanizeTimestamp: 1.8446744073709552e+19 cannot be represented as a nanoseconds timestamp since it overflows int64"#,
                ),
            )
        },
        case(
            "{{ 1435065584.128 | humanizeTimestamp }}",
            Ok("2015-06-23 13:19:44.128 +0000 UTC"),
        ),
        case(
            r#"{{ "1435065584.128" | humanizeTimestamp }}"#,
            Ok("2015-06-23 13:19:44.128 +0000 UTC"),
        ),
        case(
            r#"{{ (1435065584.128 | toTime).Format "2006" }}"#,
            Ok("2015"),
        ),
        case(
            r#"{{ ("1435065584.128" | toTime).Format "2006" }}"#,
            Ok("2015"),
        ),
        case("{{ \"aa bb CC\" | title }}", Ok("Aa Bb CC")),
        case("{{ \"aa bb CC\" | toUpper }}", Ok("AA BB CC")),
        case("{{ \"aA bB CC\" | toLower }}", Ok("aa bb cc")),
        case(
            "{{ match \"a+\" \"aa\" }} {{ match \"a+\" \"b\" }}",
            Ok("true false"),
        ),
        case("{{ graphLink \"up\" }}", Ok("/graph?g0.expr=up&g0.tab=0")),
        case("{{ tableLink \"up\" }}", Ok("/graph?g0.expr=up&g0.tab=1")),
        case("{{ pathPrefix }}", Ok("/path/prefix")),
        case("{{ externalURL }}", Ok("http://testhost:9090/path/prefix")),
        case(
            "{{ printf \"%0.2f\" (parseDuration \"1h2m10ms\") }}",
            Ok("3720.01"),
        ),
        case("{{ \"foo.example.com\" | stripDomain }}", Ok("foo")),
        case(
            "{{ \"foo.example.com:12345\" | stripDomain }}",
            Ok("foo:12345"),
        ),
        case("{{ \"192.0.2.1\" | stripDomain }}", Ok("192.0.2.1")),
        case(
            "{{ \"192.0.2.1:12345\" | stripDomain }}",
            Ok("192.0.2.1:12345"),
        ),
        case("{{ \"2001:0DB8::1\" | stripDomain }}", Ok("2001:0DB8::1")),
        case(
            "{{ \"[2001:0DB8::1]:12345\" | stripDomain }}",
            Ok("[2001:0DB8::1]:12345"),
        ),
        case(
            "{{ \"[2001:0DB8::1]::12345\" | stripDomain }}",
            Ok("[2001:0DB8::1]::12345"),
        ),
    ]
}

#[test]
fn template_expansion_matches_prometheus() {
    let mut failures = Vec::new();
    for c in cases() {
        let q = FixedQuery(c.query.clone());
        let mut e = Expander::new(
            "test",
            c.text,
            c.input.clone(),
            0,
            &q,
            "http://testhost:9090/path/prefix",
        );
        if let Some(mk) = c.missing_key {
            e = e.with_missing_key(mk);
        }
        let got = e.expand().map_err(|e| e.0);
        let want = c.want.map(str::to_string).map_err(str::to_string);
        if got != want {
            failures.push(format!("{:?}\n   got: {got:?}\n  want: {want:?}", c.text));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Upstream's `Test_floatToTime`: in range, and beyond int64 nanoseconds either way.
#[test]
fn float_to_time_bounds() {
    let q = FixedQuery(Vec::new());
    let run = |v: &str| {
        Expander::new(
            "t",
            &format!("{{{{ ({v} | toTime).Unix }}}}"),
            Value::Invalid,
            0,
            &q,
            "",
        )
        .expand()
    };
    assert_eq!(run("1657155181").as_deref(), Ok("1657155181"));
    assert!(run("1.79769313486231570814527423731704356798070e+300").is_err());
    assert!(run("-1.79769313486231570814527423731704356798070e+300").is_err());
}
