//! Hostile templates: deep nesting, huge texts, unbounded recursion through `define`/`template`,
//! `range` over huge data, output floods, bad and huge regexes. Each must end with an error (or a
//! result) quickly, without a panic or a stack overflow, on a 2 MiB thread stack like the runtime's.

use std::time::{Duration, Instant};

use wasmetheus_template::{
    AlertData, FuncMap, Limits, MissingKey, QueryBackend, QuerySample, Template, Value,
    expand_alert,
};

fn run(text: &str, data: &Value) -> Result<String, String> {
    let t = Template::parse("t", text, FuncMap::new(), MissingKey::Default).map_err(|e| e.0)?;
    t.execute(data, Limits::default()).map_err(|e| e.0)
}

/// Runs `f` on a 2 MiB stack and checks it finishes within a few seconds.
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let start = Instant::now();
    let r = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .expect("no panic");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "took {:?}",
        start.elapsed()
    );
    r
}

#[test]
fn deeply_nested_actions_are_refused() {
    let text = "{{if 1}}".repeat(10_000) + &"{{end}}".repeat(10_000);
    let err = bounded(move || run(&text, &Value::Invalid)).unwrap_err();
    assert_eq!(err, "template: t:1: max expression depth exceeded");
    let parens = "{{".to_string() + &"(".repeat(10_000) + "1" + &")".repeat(10_000) + "}}";
    let err = bounded(move || run(&parens, &Value::Invalid)).unwrap_err();
    assert_eq!(err, "template: t:1: max expression depth exceeded");
    // Within the limit, nesting works.
    let ok = "{{if 1}}".repeat(90) + "x" + &"{{end}}".repeat(90);
    assert_eq!(
        bounded(move || run(&ok, &Value::Invalid)).as_deref(),
        Ok("x")
    );
}

#[test]
fn recursion_through_define_stops_at_the_depth_limit() {
    let text = r#"{{define "r"}}{{template "r" .}}{{end}}{{template "r" .}}"#.to_string();
    let err = bounded(move || run(&text, &Value::Invalid)).unwrap_err();
    assert!(
        err.ends_with("exceeded maximum template depth (100)"),
        "{err}"
    );
    assert!(
        err.starts_with("template: t:1:25: executing \"r\" at <{{template \"r\" .}}>"),
        "{err}"
    );
    // Recursion combined with the deepest nesting the parser allows still fits the stack.
    let deep = format!(
        r#"{{{{define "r"}}}}{}{{{{template "r" .}}}}{}{{{{end}}}}{{{{template "r" .}}}}"#,
        "{{with 1}}".repeat(99),
        "{{end}}".repeat(99)
    );
    let err = bounded(move || run(&deep, &Value::Invalid)).unwrap_err();
    assert!(
        err.ends_with("exceeded maximum template depth (100)"),
        "{err}"
    );
    // Mutual recursion that fans out is bounded by the step limit.
    let fan = r#"{{define "a"}}{{template "b" .}}{{template "b" .}}{{end}}{{define "b"}}{{template "a" .}}{{template "a" .}}{{end}}{{template "a" .}}"#.to_string();
    let err = bounded(move || run(&fan, &Value::Invalid)).unwrap_err();
    assert!(
        err.contains("exceeds the limit of 1000000 steps")
            || err.contains("maximum template depth"),
        "{err}"
    );
}

#[test]
fn huge_templates_and_data_are_bounded() {
    // A 20 MB template parses; its output exceeds the output limit.
    let big = "x".repeat(20 << 20);
    let err = bounded(move || run(&big, &Value::Invalid)).unwrap_err();
    assert!(
        err.contains("output exceeds the limit of 1048576 bytes"),
        "{err}"
    );
    // 100,000 actions parse and run.
    let many = "{{ 1 }}".repeat(100_000);
    assert_eq!(
        bounded(move || run(&many, &Value::Invalid)).map(|s| s.len()),
        Ok(100_000)
    );
    // range over two million elements stops at the step limit.
    let data = Value::list("[]int", (0..2_000_000).map(Value::Int).collect());
    let err = bounded(move || run("{{ range . }}{{ end }}", &data)).unwrap_err();
    assert!(
        err.contains("execution exceeds the limit of 1000000 steps"),
        "{err}"
    );
    // range over a huge integer too.
    let err = bounded(|| run("{{ range 1000000000000 }}{{ end }}", &Value::Invalid)).unwrap_err();
    assert!(
        err.contains("execution exceeds the limit of 1000000 steps"),
        "{err}"
    );
    // An output flood stops at the output limit.
    let err = bounded(|| {
        run(
            r#"{{ range 100000 }}{{ printf "%100000d" . }}{{ end }}"#,
            &Value::Invalid,
        )
    })
    .unwrap_err();
    assert!(
        err.contains("output exceeds the limit of 1048576 bytes"),
        "{err}"
    );
    // Widths beyond Go's limit are refused, not allocated.
    assert_eq!(
        run(r#"{{ printf "%99999999999d" 1 }}"#, &Value::Invalid).as_deref(),
        Ok("%!(BADWIDTH)1")
    );
}

#[test]
fn custom_limits_apply() {
    let t = Template::parse(
        "t",
        "{{ range 50 }}ab{{ end }}",
        FuncMap::new(),
        MissingKey::Default,
    )
    .unwrap();
    let small = Limits {
        max_output_bytes: 10,
        ..Limits::default()
    };
    assert!(
        t.execute(&Value::Invalid, small)
            .unwrap_err()
            .0
            .contains("output exceeds the limit of 10 bytes")
    );
    let few = Limits {
        max_steps: 20,
        ..Limits::default()
    };
    assert!(
        t.execute(&Value::Invalid, few)
            .unwrap_err()
            .0
            .contains("exceeds the limit of 20 steps")
    );
    assert_eq!(
        t.execute(&Value::Invalid, Limits::default()).unwrap().len(),
        100
    );
}

#[test]
fn garbage_input_never_panics() {
    let inputs = [
        "{{",
        "}}",
        "{{}}",
        "{{-}}",
        "{{- -}}",
        "{{/*",
        "{{/**/",
        "{{ ( }}",
        "{{ ) }}",
        "{{ $ }}",
        "{{ $x := }}",
        "{{ .A.B.C.D }}",
        "{{ 'ab' }}",
        "{{ '\\' }}",
        "{{ 0x }}",
        "{{ 1e }}",
        "{{ 99999999999999999999 }}",
        "{{ -9223372036854775808 }}",
        "{{ \"\\x\" }}",
        "{{ `a }}",
        "{{ range $a, $b, $c := . }}{{ end }}",
        "{{ template }}",
        "{{ define 1 }}{{ end }}",
        "{{ else }}",
        "{{ if 1 }}{{ else }}",
        "{{ with }}",
        "{{ printf }}",
        "{{ printf 1 }}",
        "{{ index }}",
        "{{ slice \"é\" 1 }}",
        "{{ index \"é\" 9 }}",
        "{{ printf \"%\" }}",
        "{{ printf \"%[9]d\" 1 }}",
        "{{ printf \"%.*d\" \"x\" 1 }}",
        "{{ len }}",
        "{{ and }}",
        "{{ call 1 }}",
        "{{ call nil }}",
        "{{ (1).X }}",
        "{{ nil.X }}",
        "{{ .X | 1 }}",
        "\u{0}{{ \"\u{0}\" }}",
        "{{ \u{2028} }}",
        "é{{ é }}",
        "{{ .é }}",
        "{{ $é := 1 }}{{ $é }}",
    ];
    for text in inputs {
        let t = text.to_string();
        let r = bounded(move || run(&t, &Value::list("[]int", vec![Value::Int(1)])));
        if let Err(e) = &r {
            assert!(e.starts_with("template: "), "{text:?}: {e}");
        }
    }
}

struct NoData;

impl QueryBackend for NoData {
    fn query(&self, _: &str, _: i64) -> Result<Vec<QuerySample>, String> {
        Ok(Vec::new())
    }
}

#[test]
fn bad_and_huge_regexes_are_errors() {
    let data = AlertData {
        labels: &[],
        external_labels: &[],
        external_url: "",
        value: 0.0,
    };
    let expand = move |t: String| {
        bounded(move || expand_alert("R", &t, &data, 0, &NoData, "").map_err(|e| e.0))
    };
    let err = expand(r#"{{ match "a{1000}{1000}{1000}" "a" }}"#.into()).unwrap_err();
    assert!(
        err.contains("error calling match: error parsing regexp: "),
        "{err}"
    );
    let err = expand(r#"{{ reReplaceAll "(?P<" "" "" }}"#.into()).unwrap_err();
    assert!(
        err.contains("error calling reReplaceAll: regexp: Compile("),
        "{err}"
    );
    let huge = format!(r#"{{{{ match "{}" "a" }}}}"#, "(a|b)*c".repeat(50_000));
    let r = expand(huge);
    assert!(
        r.as_ref()
            .map_or_else(|e| e.contains("error calling match"), |s| s == "false"),
        "{r:?}"
    );
}

#[test]
fn extreme_time_values_do_not_overflow() {
    for ns in [i128::MAX, i128::MIN, 0] {
        let v = Value::Time(ns);
        let r = bounded(move || {
            run(
                "{{ . }} {{ .Year }} {{ .Format \"2006-01-02 Mon 002\" }} {{ .Unix }}",
                &v,
            )
        });
        assert!(r.is_ok(), "{r:?}");
    }
    for d in [i64::MAX, i64::MIN, 0] {
        let v = Value::Duration(d);
        assert!(bounded(move || run("{{ . }} {{ .Seconds }} {{ .Hours }}", &v)).is_ok());
    }
}
