//! Go `text/template` behaviours the rules and the Alertmanager rely on, as a table of template, data
//! and Go's output or error text (outputs as Go 1.22+ produces them).

use std::collections::HashMap;

use wasmetheus_template::{FuncMap, Function, Limits, MissingKey, Param, Template, Value};

fn funcs() -> FuncMap<'static> {
    let mut m: FuncMap<'static> = HashMap::new();
    m.insert(
        "upper".into(),
        Function::new(vec![Param::String], |a| {
            Ok(Value::string(a[0].as_str().unwrap_or("").to_uppercase()))
        }),
    );
    m.insert("fail".into(), Function::new(vec![], |_| Err("boom".into())));
    m.insert(
        "double".into(),
        Function::new(vec![Param::Float], |a| match a[0] {
            Value::Float(f) => Ok(Value::Float(f * 2.0)),
            _ => Err("not a float".into()),
        }),
    );
    m
}

fn ints(v: &[i64]) -> Value {
    Value::list("[]int", v.iter().map(|i| Value::Int(*i)).collect())
}

fn strs(v: &[&str]) -> Value {
    Value::list("[]string", v.iter().map(|s| Value::from(*s)).collect())
}

fn run(text: &str, data: &Value) -> Result<String, String> {
    let t = Template::parse("t", text, funcs(), MissingKey::Default).map_err(|e| e.0)?;
    t.execute(data, Limits::default()).map_err(|e| e.0)
}

#[test]
fn go_text_template_behaviours() {
    let none = Value::Invalid;
    let labels = Value::string_map([("job", "api"), ("instance", "a:9090")]);
    let nested = Value::any_map([
        ("Labels".to_string(), labels.clone()),
        ("Items".to_string(), strs(&["x", "y"])),
        ("Empty".to_string(), strs(&[])),
        ("Value".to_string(), Value::Float(0.5)),
        ("N".to_string(), Value::Int(3)),
    ]);
    let ab = strs(&["a", "b"]);
    let one_to_five = ints(&[1, 2, 3, 4, 5]);
    let seven_eight = ints(&[7, 8]);
    let table: Vec<(&str, &Value, Result<&str, &str>)> = vec![
        // Pipelines, variables and scoping.
        ("{{ \"a\" | upper }}", &none, Ok("A")),
        (
            "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}",
            &none,
            Ok("2"),
        ),
        (
            "{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}",
            &none,
            Ok("21"),
        ),
        (
            "{{ with $x := .Labels }}{{ $x.job }}{{ end }}",
            &nested,
            Ok("api"),
        ),
        ("{{ .Labels.job }}/{{ $.Value }}", &nested, Ok("api/0.5")),
        (
            "{{ range .Items }}{{ $.N }}{{ . }}{{ end }}",
            &nested,
            Ok("3x3y"),
        ),
        // range: slices, maps in key order, else, break/continue, integers.
        (
            "{{ range $i, $e := . }}{{ $i }}={{ $e }} {{ end }}",
            &ab,
            Ok("0=a 1=b "),
        ),
        (
            "{{ range $k, $v := .Labels }}{{ $k }}:{{ $v }},{{ end }}",
            &nested,
            Ok("instance:a:9090,job:api,"),
        ),
        (
            "{{ range .Empty }}x{{ else }}empty{{ end }}",
            &nested,
            Ok("empty"),
        ),
        (
            "{{ range .Missing }}x{{ else }}none{{ end }}",
            &nested,
            Ok("none"),
        ),
        (
            "{{ range . }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }}",
            &one_to_five,
            Ok("13"),
        ),
        ("{{ range 3 }}{{ . }}{{ end }}", &none, Ok("012")),
        (
            "{{ range $e := . }}{{ $e }}{{ end }}",
            &seven_eight,
            Ok("78"),
        ),
        // if / else if / with / else.
        (
            "{{ if .Missing }}a{{ else if .N }}b{{ else }}c{{ end }}",
            &nested,
            Ok("b"),
        ),
        (
            "{{ with .Missing }}a{{ else with .Labels }}{{ .job }}{{ end }}",
            &nested,
            Ok("api"),
        ),
        ("{{ with .Empty }}a{{ else }}b{{ end }}", &nested, Ok("b")),
        // Trimming and comments.
        ("x {{- 1 -}} y", &none, Ok("x1y")),
        ("a\n  {{- /* comment */ -}}\n  b", &none, Ok("ab")),
        ("a{{/* c */}}b", &none, Ok("ab")),
        ("{{- 3 }}  {{ 4 -}}  ", &none, Ok("3  4")),
        // define / template / block.
        (
            "{{ define \"T\" }}<{{ . }}>{{ end }}{{ template \"T\" \"x\" }}",
            &none,
            Ok("<x>"),
        ),
        (
            "{{ block \"B\" . }}default {{ .N }}{{ end }}",
            &nested,
            Ok("default 3"),
        ),
        (
            "{{ define \"T\" }}{{ $ }}{{ end }}{{ template \"T\" 5 }}",
            &none,
            Ok("5"),
        ),
        // Printing Go values.
        (
            "{{ 1234567.0 }} {{ 100000.0 }} {{ 0.00001 }} {{ 1e21 }} {{ 2.5 }}",
            &none,
            Ok("1.234567e+06 100000 1e-05 1e+21 2.5"),
        ),
        ("{{ .Labels }}", &nested, Ok("map[instance:a:9090 job:api]")),
        ("{{ .Items }} {{ .Empty }}", &nested, Ok("[x y] []")),
        (
            "{{ nil }}",
            &none,
            Err("template: t:1:3: executing \"t\" at <nil>: nil is not a command"),
        ),
        ("{{ .Missing }}", &nested, Ok("<no value>")),
        (
            "{{ true }} {{ 'a' }} {{ 0x10 }} {{ -3 }}",
            &none,
            Ok("true 97 16 -3"),
        ),
        // printf and Go's fmt verbs.
        (
            "{{ printf \"%5.2f|%-4d|%q|%x|%v\" 3.14159 42 \"hi\" 255 1.5 }}",
            &none,
            Ok(" 3.14|42  |\"hi\"|ff|1.5"),
        ),
        (
            "{{ printf \"%e %g %.3g %G\" 123456.789 0.000012345 1234.5 1e-7 }}",
            &none,
            Ok("1.234568e+05 1.2345e-05 1.23e+03 1E-07"),
        ),
        (
            "{{ printf \"%08.3f|%+d|%x|%X|%o|%b|%c|%U\" -3.14159 5 \"hi\" 255 8 5 65 65 }}",
            &none,
            Ok("-003.142|+5|6869|FF|10|101|A|U+0041"),
        ),
        (
            "{{ printf \"%5s|%-5s|%.2s|%%|%t|%T|%T\" \"a\" \"b\" \"abc\" true 1.5 . }}",
            &nested,
            Ok("    a|b    |ab|%|true|float64|map[string]interface {}"),
        ),
        (
            "{{ printf \"%d\" \"x\" }}|{{ printf \"%d\" }}|{{ printf \"a\" 1 }}",
            &none,
            Ok("%!d(string=x)|%!d(MISSING)|a%!(EXTRA int=1)"),
        ),
        (
            "{{ printf \"%v %s\" .Labels .Items }}",
            &nested,
            Ok("map[instance:a:9090 job:api] [x y]"),
        ),
        (
            "{{ printf \"%.2f\" .Value }} {{ printf \"%6.1f%%\" 12.34 }}",
            &nested,
            Ok("0.50   12.3%"),
        ),
        (
            "{{ printf \"%.0f %.1f %.2f\" 2.5 0.25 1.005 }}",
            &none,
            Ok("2 0.2 1.00"),
        ),
        (
            "{{ printf \"%v %v %v\" 1e100 -0.0 123456789.0 }}",
            &none,
            Ok("1e+100 -0 1.23456789e+08"),
        ),
        (
            "{{ printf \"%5.1f\" \"x\" }}",
            &none,
            Ok("%!f(string=    x)"),
        ),
        // Builtins.
        (
            "{{ len \"abc\" }} {{ len .Items }} {{ len .Labels }}",
            &nested,
            Ok("3 2 2"),
        ),
        (
            "{{ index .Items 1 }} {{ index .Labels \"job\" }} {{ index .Labels \"nope\" }}|",
            &nested,
            Ok("y api |"),
        ),
        (
            "{{ slice \"abcdef\" 1 3 }} {{ slice .Items 1 }}",
            &nested,
            Ok("bc [y]"),
        ),
        (
            "{{ html \"<a href='x'>\" }} {{ js \"a'b<\" }} {{ urlquery \"a b&c\" }}",
            &none,
            Ok("&lt;a href=&#39;x&#39;&gt; a\\'b\\u003C a+b%26c"),
        ),
        (
            "{{ print 1 2 \"a\" 3 }}|{{ println 1 \"b\" }}",
            &none,
            Ok("1 2a3|1 b\n"),
        ),
        (
            "{{ not 0 }} {{ or 0 \"\" \"x\" }} {{ and 1 \"\" 3 }}| {{ and 1 2 }}",
            &none,
            Ok("true x | 2"),
        ),
        (
            "{{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1.5 2.5 }} {{ eq 1 2 3 1 }} {{ ne \"a\" \"b\" }}",
            &none,
            Ok("true true true false true true"),
        ),
        ("{{ eq .Missing \"x\" }}", &nested, Ok("false")),
        ("{{ if and .N (gt .N 2) }}big{{ end }}", &nested, Ok("big")),
        // Function argument handling.
        ("{{ double 2 }} {{ 1.25 | double }}", &none, Ok("4 2.5")),
        // Parse errors.
        (
            "{{ foo }}",
            &none,
            Err("template: t:1: function \"foo\" not defined"),
        ),
        (
            "a\n{{ foo }}",
            &none,
            Err("template: t:2: function \"foo\" not defined"),
        ),
        ("{{ end }}", &none, Err("template: t:1: unexpected {{end}}")),
        ("{{ if 1 }}", &none, Err("template: t:1: unexpected EOF")),
        (
            "{{ $x }}",
            &none,
            Err("template: t:1: undefined variable \"$x\""),
        ),
        (
            "{{ range . }}{{ else }}{{ else }}{{ end }}",
            &none,
            Err("template: t:1: expected end; found {{else}}"),
        ),
        (
            "{{ break }}",
            &none,
            Err("template: t:1: {{break}} outside {{range}}"),
        ),
        (
            "{{ 1 | 2 }}",
            &none,
            Err("template: t:1: non executable command in pipeline stage 2"),
        ),
        (
            "{{ \"a }}",
            &none,
            Err("template: t:1: unterminated quoted string"),
        ),
        ("{{/* x", &none, Err("template: t:1: unclosed comment")),
        (
            "{{ if }}{{ end }}",
            &none,
            Err("template: t:1: missing value for if"),
        ),
        // Execution errors with Go's positions and contexts.
        (
            "{{ .Labels.job.x }}",
            &nested,
            Err(
                "template: t:1:10: executing \"t\" at <.Labels.job.x>: can't evaluate field x in type string",
            ),
        ),
        (
            "{{ template \"nope\" }}",
            &none,
            Err(
                "template: t:1:12: executing \"t\" at <{{template \"nope\"}}>: template \"nope\" not defined",
            ),
        ),
        (
            "{{ index .Items 5 }}",
            &nested,
            Err(
                "template: t:1:3: executing \"t\" at <index .Items 5>: error calling index: index out of range: 5",
            ),
        ),
        (
            "{{ len 3 }}",
            &none,
            Err("template: t:1:3: executing \"t\" at <len 3>: error calling len: len of type int"),
        ),
        (
            "{{ eq 1 \"a\" }}",
            &none,
            Err(
                "template: t:1:3: executing \"t\" at <eq 1 \"a\">: error calling eq: incompatible types for comparison",
            ),
        ),
        (
            "{{ lt .Items 1 }}",
            &nested,
            Err(
                "template: t:1:3: executing \"t\" at <lt .Items 1>: error calling lt: invalid type for comparison",
            ),
        ),
        (
            "{{ upper 1 }}",
            &none,
            Err("template: t:1:9: executing \"t\" at <1>: expected string; found 1"),
        ),
        (
            "{{ 1.5 | upper }}",
            &none,
            Err(
                "template: t:1:9: executing \"t\" at <upper>: wrong type for value; expected string; got float64",
            ),
        ),
        (
            "{{ upper \"a\" \"b\" }}",
            &none,
            Err(
                "template: t:1:3: executing \"t\" at <upper>: wrong number of args for upper: want 1 got 2",
            ),
        ),
        (
            "{{ fail }}",
            &none,
            Err("template: t:1:3: executing \"t\" at <fail>: error calling fail: boom"),
        ),
        (
            "\n  {{ upper (fail) }}",
            &none,
            Err("template: t:2:12: executing \"t\" at <fail>: error calling fail: boom"),
        ),
        (
            "{{ range 1.5 }}{{ end }}",
            &none,
            Err("template: t:1:9: executing \"t\" at <1.5>: range can't iterate over 1.5"),
        ),
        (
            "{{ define \"T\" }}{{ .X.Y }}{{ end }}{{ template \"T\" 1 }}",
            &none,
            Err("template: t:1:21: executing \"T\" at <.X.Y>: can't evaluate field X in type int"),
        ),
    ];
    let mut failures = Vec::new();
    for (text, data, want) in table {
        let got = run(text, data);
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
fn missing_key_options() {
    let data = Value::any_map([("m".to_string(), Value::string_map([("a", "1")]))]);
    let exec = |mk| {
        Template::parse("t", "[{{ .m.b }}][{{ .x }}]", funcs(), mk)
            .and_then(|t| t.execute(&data, Limits::default()))
            .map_err(|e| e.0)
    };
    assert_eq!(
        exec(MissingKey::Default).as_deref(),
        Ok("[<no value>][<no value>]")
    );
    // Zero: map[string]string gives "", map[string]interface{} a nil interface, which prints as no value.
    assert_eq!(exec(MissingKey::Zero).as_deref(), Ok("[][<no value>]"));
    assert_eq!(
        exec(MissingKey::Error),
        Err(
            "template: t:1:6: executing \"t\" at <.m.b>: map has no entry for key \"b\""
                .to_string()
        )
    );
}

#[test]
fn sets_of_templates_and_named_execution() {
    let mut t = Template::parse(
        "main",
        "{{ template \"a\" . }}",
        funcs(),
        MissingKey::Default,
    )
    .unwrap();
    t.add("extra", "{{ define \"a\" }}A{{ . }}{{ end }}")
        .unwrap();
    assert!(t.lookup("a"));
    assert_eq!(t.execute(&Value::Int(1), Limits::default()).unwrap(), "A1");
    assert_eq!(
        t.execute_template("a", &Value::Int(2), Limits::default())
            .unwrap(),
        "A2"
    );
    assert_eq!(
        t.execute_template("zz", &Value::Invalid, Limits::default())
            .unwrap_err()
            .0,
        "template: no template \"zz\" associated with template \"main\""
    );
    // A later definition replaces an earlier one; an empty one does not.
    t.add(
        "more",
        "{{ define \"a\" }}B{{ end }}{{ define \"a\" }} {{ end }}",
    )
    .unwrap();
    assert_eq!(t.execute(&Value::Invalid, Limits::default()).unwrap(), "B");
}

#[test]
fn call_invokes_function_values() {
    let f = Function::new(vec![Param::Any, Param::Any], |a| {
        Ok(Value::string(format!(
            "{}+{}",
            wasmetheus_template::sprint(&a[..1]),
            wasmetheus_template::sprint(&a[1..])
        )))
    });
    let data = Value::any_map([("F".to_string(), Value::Func(f))]);
    assert_eq!(run("{{ call .F 1 \"x\" }}", &data).as_deref(), Ok("1+x"));
    assert_eq!(
        run("{{ call .F 1 }}", &data),
        Err("template: t:1:3: executing \"t\" at <call .F 1>: error calling call: wrong number of args: got 1 want 2".to_string())
    );
}

/// Methods of named types (what the Alertmanager's `KV.SortedPairs`, `KV.Remove` and
/// `Alerts.Firing` need): looked up before fields and keys, with Go's argument checks and errors.
#[test]
fn methods_of_named_types() {
    use std::sync::Arc;
    use wasmetheus_template::Methods;

    let mut kv_methods = Methods::new();
    kv_methods.insert(
        "Names".into(),
        Function::new(vec![], |a| match &a[0] {
            Value::Map(m) => Ok(strs(
                &m.entries.keys().map(String::as_str).collect::<Vec<_>>(),
            )),
            _ => Err("not a map".into()),
        }),
    );
    kv_methods.insert(
        "Remove".into(),
        Function::new(vec![Param::Named("[]string".into())], |a| {
            let (Value::Map(m), Value::List(drop)) = (&a[0], &a[1]) else {
                return Err("bad receiver".into());
            };
            let mut out = (**m).clone();
            for d in &drop.items {
                if let Some(k) = d.as_str() {
                    out.entries.remove(k);
                }
            }
            Ok(Value::Map(Arc::new(out)))
        }),
    );
    let kv = Value::string_map([("job", "api"), ("instance", "a"), ("alertname", "X")])
        .with_methods(Arc::new(kv_methods));
    let mut list_methods = Methods::new();
    list_methods.insert(
        "Firing".into(),
        Function::new(vec![], |a| match &a[0] {
            Value::List(l) => Ok(Value::list(
                "[]string",
                l.items
                    .iter()
                    .filter(|v| v.as_str() != Some("resolved"))
                    .cloned()
                    .collect(),
            )),
            _ => Err("not a list".into()),
        }),
    );
    let alerts = strs(&["firing", "resolved", "firing"]).with_methods(Arc::new(list_methods));
    let mut f = funcs();
    f.insert(
        "stringSlice".into(),
        Function::variadic(vec![Param::String], |a| {
            Ok(Value::list("[]string", a.to_vec()))
        }),
    );
    let data = Value::any_map([
        ("CommonLabels".to_string(), kv),
        ("Alerts".to_string(), alerts),
    ]);
    let exec = |text: &str| {
        Template::parse("t", text, f.clone(), MissingKey::Default)
            .and_then(|t| t.execute(&data, Limits::default()))
            .map_err(|e| e.0)
    };
    assert_eq!(
        exec("{{ .CommonLabels.Names }}").as_deref(),
        Ok("[alertname instance job]")
    );
    assert_eq!(exec("{{ .CommonLabels.job }}").as_deref(), Ok("api"));
    assert_eq!(
        exec("{{ (.CommonLabels.Remove (stringSlice \"job\" \"instance\")).Names }}").as_deref(),
        Ok("[alertname]")
    );
    assert_eq!(
        exec("{{ len .Alerts.Firing }} {{ len (slice .Alerts 1).Firing }}").as_deref(),
        Ok("2 1")
    );
    assert_eq!(
        exec("{{ .CommonLabels.Remove 1 }}"),
        Err(
            "template: t:1:24: executing \"t\" at <1>: can't handle 1 for arg of type []string"
                .to_string()
        )
    );
    assert_eq!(
        exec("{{ .Alerts.Firing 1 }}"),
        Err("template: t:1:10: executing \"t\" at <.Alerts.Firing>: wrong number of args for Firing: want 0 got 1".to_string())
    );
}
