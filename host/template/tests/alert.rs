//! Alert label and annotation expansion as rules/alerting.go does it (the `$labels`/`$value` prelude,
//! template name `__alert_<rule>`, error texts) and rulefmt's load-time template check.

use wasmetheus_template::{
    AlertData, AlertTemplate, QueryBackend, QuerySample, check_alert_template, expand_alert,
};

struct Backend;

impl QueryBackend for Backend {
    fn query(&self, expr: &str, ts: i64) -> Result<Vec<QuerySample>, String> {
        match expr {
            "up" => Ok(vec![
                QuerySample {
                    labels: vec![("__name__".into(), "up".into()), ("job".into(), "b".into())],
                    value: 0.0,
                },
                QuerySample {
                    labels: vec![("__name__".into(), "up".into()), ("job".into(), "a".into())],
                    value: 1.0,
                },
            ]),
            "time()" => Ok(vec![QuerySample {
                labels: vec![],
                value: ts as f64 / 1000.0,
            }]),
            _ => Err(format!("1:1: parse error: unexpected identifier {expr:?}")),
        }
    }
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn expand(text: &str, value: f64) -> Result<String, String> {
    let l = labels(&[
        ("alertname", "HighLatency"),
        ("instance", "a:9090"),
        ("job", "api"),
    ]);
    let ext = labels(&[("cluster", "eu1")]);
    let data = AlertData {
        labels: &l,
        external_labels: &ext,
        external_url: "http://prom.example:9090/p",
        value,
    };
    let url = "http://prom.example:9090/p";
    let once =
        expand_alert("HighLatency", text, &data, 1_700_000_000_123, &Backend, url).map_err(|e| e.0);
    // Parsed once and expanded later: the same result.
    let parsed = AlertTemplate::new("HighLatency", text);
    assert_eq!(
        parsed
            .expand(&data, 1_700_000_000_123, &Backend, url)
            .map_err(|e| e.0),
        once,
        "{text:?}"
    );
    once
}

#[test]
fn alert_templates_expand_with_prometheus_data() {
    let table: Vec<(&str, f64, Result<&str, &str>)> = vec![
        (
            "{{ $labels.instance }} of {{ $labels.job }} is at {{ $value }}",
            0.5,
            Ok("a:9090 of api is at 0.5"),
        ),
        (
            "{{ .Labels.job }}/{{ .Value }}/{{ .ExternalURL }}",
            2.0,
            Ok("api/2/http://prom.example:9090/p"),
        ),
        (
            "{{ $externalLabels.cluster }} {{ $externalURL }}",
            0.0,
            Ok("eu1 http://prom.example:9090/p"),
        ),
        ("[{{ $labels.nope }}]", 0.0, Ok("[]")),
        (
            "{{ $value | humanize }} {{ $value | humanizePercentage }}",
            1234567.0,
            Ok("1.235M 1.235e+08%"),
        ),
        ("{{ printf \"%.2f\" $value }}", 0.123456, Ok("0.12")),
        ("{{ $value }}", 1234567.0, Ok("1.234567e+06")),
        ("{{ $value }}", f64::NAN, Ok("NaN")),
        (
            "{{ if gt $value 1.0 }}high{{ else }}low{{ end }}",
            3.0,
            Ok("high"),
        ),
        (
            "{{ range query \"up\" | sortByLabel \"job\" }}{{ .Labels.job }}={{ .Value }};{{ end }}",
            0.0,
            Ok("a=1;b=0;"),
        ),
        (
            "{{ with query \"up\" }}{{ . | first | label \"job\" }}{{ end }}",
            0.0,
            Ok("b"),
        ),
        (
            "{{ query \"time()\" | first | value }} {{ now }}",
            0.0,
            Ok("1.700000000123e+09 1.700000000123e+09"),
        ),
        (
            "{{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }} {{ $labels.instance | stripPort }}",
            0.0,
            Ok("a a"),
        ),
        (
            "{{ if match \"^a\" $labels.instance }}yes{{ end }}",
            0.0,
            Ok("yes"),
        ),
        (
            "{{ \"300\" | humanizeDuration }} {{ 90 | toDuration }} {{ (90.5 | toDuration).Seconds }}",
            0.0,
            Ok("5m 0s 1m30s 90.5"),
        ),
        (
            "{{ $labels.job | title }} {{ $labels.job | toUpper }} {{ graphLink \"rate(x[5m])\" }}",
            0.0,
            Ok("Api API /graph?g0.expr=rate%28x%5B5m%5D%29&g0.tab=0"),
        ),
        // Errors: the column counts the prelude (112 bytes) on line 1.
        (
            "{{ humanize \"x\" }}",
            0.0,
            Err(
                r#"error executing template __alert_HighLatency: template: __alert_HighLatency:1:115: executing "__alert_HighLatency" at <humanize "x">: error calling humanize: strconv.ParseFloat: parsing "x": invalid syntax"#,
            ),
        ),
        (
            "{{ nope }}",
            0.0,
            Err(
                r#"error parsing template __alert_HighLatency: template: __alert_HighLatency:1: function "nope" not defined"#,
            ),
        ),
        (
            "{{ query \"bad(\" }}",
            0.0,
            Err(
                r#"error executing template __alert_HighLatency: template: __alert_HighLatency:1:115: executing "__alert_HighLatency" at <query "bad(">: error calling query: 1:1: parse error: unexpected identifier "bad(""#,
            ),
        ),
        (
            "{{ reReplaceAll \"(\" \"x\" \"y\" }}",
            0.0,
            Err(
                r#"error executing template __alert_HighLatency: template: __alert_HighLatency:1:115: executing "__alert_HighLatency" at <reReplaceAll "(" "x" "y">: error calling reReplaceAll: regexp: Compile(`(`): error parsing regexp: missing closing ): `(`"#,
            ),
        ),
        (
            "{{ match \"[a\" \"b\" }}",
            0.0,
            Err(
                r#"error executing template __alert_HighLatency: template: __alert_HighLatency:1:115: executing "__alert_HighLatency" at <match "[a" "b">: error calling match: error parsing regexp: missing closing ]: `[a`"#,
            ),
        ),
    ];
    let mut failures = Vec::new();
    for (text, value, want) in table {
        let got = expand(text, value);
        let want = want.map(str::to_string).map_err(str::to_string);
        if got != want {
            failures.push(format!("{text:?}\n   got: {got:?}\n  want: {want:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn rule_file_template_check() {
    assert_eq!(
        check_alert_template(
            "InstanceDown",
            "{{ $labels.instance }} down {{ $value | humanize }}"
        ),
        Ok(())
    );
    // promtool check rules on the conformance file rules-bad.yml reports exactly this text.
    assert_eq!(
        check_alert_template("InstanceDown", "Instance {{ $label.foo }} down")
            .unwrap_err()
            .0,
        r#"template: __alert_InstanceDown:1: undefined variable "$label""#
    );
    assert_eq!(
        check_alert_template("X", "{{").unwrap_err().0,
        "template: __alert_X:1: unclosed action"
    );
    assert_eq!(
        check_alert_template("X", "a\n{{ humanise $value }}")
            .unwrap_err()
            .0,
        r#"template: __alert_X:2: function "humanise" not defined"#
    );
    for text in [
        "{{ $labels.x }}",
        "Instance {{ $label.foo }} down",
        "{{",
        "a\n{{ humanise $value }}",
    ] {
        assert_eq!(
            AlertTemplate::new("R", text).check(),
            check_alert_template("R", text),
            "{text:?}"
        );
    }
    // Only parsing is checked: execution errors surface at evaluation.
    assert_eq!(check_alert_template("X", "{{ humanize \"x\" }}"), Ok(()));
}

#[test]
fn alert_value_may_be_any_template_value() {
    use wasmetheus_template::{Value, expand_alert_with_value};
    let l = labels(&[("job", "api")]);
    let data = AlertData {
        labels: &l,
        external_labels: &[],
        external_url: "",
        value: 0.0,
    };
    let h = Value::string("{count:2, sum:3, [0,1]:2}");
    assert_eq!(
        expand_alert_with_value(
            "H",
            "{{ $labels.job }}: {{ $value }} / {{ .Value }}",
            &data,
            h.clone(),
            0,
            &Backend,
            ""
        )
        .as_deref()
        .map_err(|e| e.0.clone()),
        Ok("api: {count:2, sum:3, [0,1]:2} / {count:2, sum:3, [0,1]:2}")
    );
    // With a float it is expand_alert.
    assert_eq!(
        expand_alert_with_value(
            "H",
            "{{ $value }}",
            &data,
            Value::Float(2.5),
            0,
            &Backend,
            ""
        )
        .map_err(|e| e.0),
        Ok("2.5".to_string())
    );
}

#[test]
fn expander_takes_extra_functions_and_limits() {
    use wasmetheus_template::{Expander, FuncMap, Function, Limits, Param, Value};
    let mut extra = FuncMap::new();
    extra.insert(
        "shout".into(),
        Function::new(vec![Param::String], |a| {
            Ok(Value::string(format!("{}!", a[0].as_str().unwrap_or(""))))
        }),
    );
    // A function of the same name replaces Prometheus' own, as Expander.Funcs does.
    extra.insert(
        "humanize".into(),
        Function::new(vec![Param::Any], |_| Ok(Value::string("replaced"))),
    );
    let e = Expander::new(
        "t",
        "{{ \"hi\" | shout }} {{ humanize 1 }}",
        Value::Invalid,
        0,
        &Backend,
        "",
    )
    .funcs(extra);
    assert_eq!(
        e.expand().as_deref().map_err(|e| e.0.clone()),
        Ok("hi! replaced")
    );
    let small = Limits {
        max_output_bytes: 4,
        ..Limits::default()
    };
    let e = Expander::new(
        "t",
        "{{ range 10 }}ab{{ end }}",
        Value::Invalid,
        0,
        &Backend,
        "",
    )
    .with_limits(small);
    assert_eq!(
        e.expand().unwrap_err().0,
        "error executing template t: template: t:1:14: executing \"t\" at <\"ab\">: output exceeds the limit of 4 bytes"
    );
}
