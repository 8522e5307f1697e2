//! Hostile templates: deep nesting, huge texts, unbounded recursion through `define`/`template`,
//! `range` over huge data, output floods, bad and huge regexes, values built past the value limit
//! (doubling loops, width bombs, multiplying replacements). Each must end with an error (or a result)
//! quickly, without a panic or a stack overflow, on a 2 MiB thread stack like the runtime's.

use std::time::{Duration, Instant};

use wasmetheus_template::{
    AlertData, FuncMap, Function, Limits, MissingKey, Param, QueryBackend, QuerySample, Template,
    Value, expand_alert, value_budget, value_too_big,
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

/// Runs `f` on a 2 MiB stack, like the runtime's, and checks it does not panic.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .expect("no panic")
}

fn run_with(text: &str, funcs: FuncMap<'static>, limits: Limits) -> Result<String, String> {
    let t = Template::parse("t", text, funcs, MissingKey::Default).map_err(|e| e.0)?;
    t.execute(&Value::Invalid, limits).map_err(|e| e.0)
}

fn expand_prom(text: &str) -> Result<String, String> {
    let data = AlertData {
        labels: &[],
        external_labels: &[],
        external_url: "",
        value: 0.0,
    };
    expand_alert("R", text, &data, 0, &NoData, "").map_err(|e| e.0)
}

const TOO_BIG: &str = "value exceeds the limit of 1048576 bytes";

#[test]
fn doubling_a_string_stops_at_the_value_limit() {
    let err = on_small_stack(|| {
        run(
            r#"{{$x:="x"}}{{range 64}}{{$x = print $x $x}}{{end}}"#,
            &Value::Invalid,
        )
    })
    .unwrap_err();
    assert_eq!(
        err,
        format!(
            "template: t:1:30: executing \"t\" at <print $x $x>: error calling print: {TOO_BIG}"
        )
    );
    let err = on_small_stack(|| {
        run(
            r#"{{$x:="x"}}{{range 64}}{{$x = printf "%s%s" $x $x}}{{end}}"#,
            &Value::Invalid,
        )
    })
    .unwrap_err();
    assert!(
        err.ends_with(&format!("error calling printf: {TOO_BIG}")),
        "{err}"
    );
    let err = on_small_stack(|| {
        run(
            r#"{{$x:="x"}}{{range 64}}{{$x = println $x $x}}{{end}}"#,
            &Value::Invalid,
        )
    })
    .unwrap_err();
    assert!(
        err.ends_with(&format!("error calling println: {TOO_BIG}")),
        "{err}"
    );
    // Many copies in one call are refused before they are joined.
    let err = on_small_stack(|| {
        let x = format!("{{{{$x:=\"{}\"}}}}", "x".repeat(1000));
        let text = format!(
            "{x}{{{{range 10}}}}{{{{$x = print{}}}}}{{{{end}}}}",
            " $x".repeat(2000)
        );
        run(&text, &Value::Invalid)
    })
    .unwrap_err();
    assert!(err.contains(TOO_BIG), "{err}");
    // The escapers take their arguments through the same bound, and their escaped size too.
    for f in ["html", "js", "urlquery"] {
        let text = format!(r#"{{{{$x:="<>"}}}}{{{{range 64}}}}{{{{$x = {f} $x $x}}}}{{{{end}}}}"#);
        let err = on_small_stack(move || run(&text, &Value::Invalid)).unwrap_err();
        assert!(
            err.ends_with(&format!("error calling {f}: {TOO_BIG}")),
            "{err}"
        );
    }
    // Up to the limit, doubling works: 2^20 bytes is exactly the limit.
    let ok = on_small_stack(|| {
        run(
            r#"{{$x:="x"}}{{range 20}}{{$x = print $x $x}}{{end}}{{len $x}}"#,
            &Value::Invalid,
        )
    });
    assert_eq!(ok.as_deref(), Ok("1048576"));
}

#[test]
fn printf_widths_and_precisions_are_bounded() {
    // Go's own limit: a width past 1e6 is refused.
    assert_eq!(
        on_small_stack(|| run(r#"{{ printf "%0999999999d" 1 }}"#, &Value::Invalid)).as_deref(),
        Ok("%!(BADWIDTH)1")
    );
    // Widths within Go's limit that together pass the value limit.
    for text in [
        r#"{{ printf "%1000000d%1000000d" 1 2 }}"#,
        r#"{{ printf "%*d%*d" 1000000 1 1000000 2 }}"#,
        r#"{{ printf "%.1000000d%.1000000d" 1 2 }}"#,
        r#"{{ printf "%01000000d%-1000000s" 1 "a" }}"#,
        r#"{{ printf "%1000000d" (slice .  0) }}"#,
        r#"{{ printf "%x%x" (printf "%1000000s" "") (printf "%1000000s" "") }}"#,
    ] {
        let data = Value::list("[]int", (0..10).map(Value::Int).collect());
        let err = on_small_stack(move || run(text, &data)).unwrap_err();
        assert!(
            err.ends_with(&format!("error calling printf: {TOO_BIG}")),
            "{text}: {err}"
        );
    }
    // A small limit refuses a single width beyond it.
    let small = Limits {
        max_output_bytes: 1000,
        ..Limits::default()
    };
    for text in [
        r#"{{ printf "%*d" 999999 1 }}"#,
        r#"{{ printf "%.999999d" 1 }}"#,
        r#"{{ printf "%999999.3f" 1.5 }}"#,
        r#"{{ printf "%999999v" . }}"#,
        r#"{{ printf "%#999999v" "x" }}"#,
    ] {
        let err = on_small_stack(move || run_with(text, FuncMap::new(), small)).unwrap_err();
        assert!(
            err.ends_with("error calling printf: value exceeds the limit of 1000 bytes"),
            "{text}: {err}"
        );
    }
    assert_eq!(
        run_with(
            r#"{{ printf "%5.2f|%-4d|%04d" 1.5 7 -3 }}"#,
            FuncMap::new(),
            small
        )
        .as_deref(),
        Ok(" 1.50|7   |-003")
    );
}

#[test]
fn prometheus_functions_are_bounded() {
    // A pattern that multiplies its input.
    let err = on_small_stack(|| {
        expand_prom(r#"{{$x:="ab"}}{{range 64}}{{$x = reReplaceAll "(.)" "$1$1$1$1" $x}}{{end}}"#)
    })
    .unwrap_err();
    assert!(
        err.ends_with(&format!("error calling reReplaceAll: {TOO_BIG}")),
        "{err}"
    );
    assert!(
        err.starts_with("error executing template __alert_R: template: __alert_R:1:"),
        "{err}"
    );
    // One match whose replacement repeats the whole input many times.
    let err = on_small_stack(|| {
        expand_prom(
            r#"{{$x:="ab"}}{{$r:="$0"}}{{range 17}}{{$r = print $r $r}}{{end}}{{$x = print $x $x $x $x $x}}{{reReplaceAll ".*" $r $x}}"#,
        )
    })
    .unwrap_err();
    assert!(
        err.ends_with(&format!("error calling reReplaceAll: {TOO_BIG}")),
        "{err}"
    );
    // Many empty references over many empty matches: refused rather than run for long.
    let err = on_small_stack(|| {
        expand_prom(
            r#"{{$x:="a"}}{{range 19}}{{$x = print $x $x}}{{end}}{{$r:="$9"}}{{range 16}}{{$r = print $r $r}}{{end}}{{reReplaceAll "x*" $r $x}}"#,
        )
    })
    .unwrap_err();
    assert!(
        err.ends_with(&format!("error calling reReplaceAll: {TOO_BIG}")),
        "{err}"
    );
    // Case mapping that grows the text (ɐ, 2 bytes, upper-cases to Ɐ, 3 bytes).
    for f in ["toUpper", "title"] {
        let text = format!(
            r#"{{{{$x:="ɐ"}}}}{{{{range 19}}}}{{{{$x = print $x $x}}}}{{{{end}}}}{{{{{f} $x}}}}"#
        );
        let err = on_small_stack(move || expand_prom(&text)).unwrap_err();
        assert!(
            err.ends_with(&format!("error calling {f}: {TOO_BIG}")),
            "{err}"
        );
    }
    // Escaping links, and maps built from big arguments.
    let err = on_small_stack(|| {
        expand_prom(r#"{{$x:="<"}}{{range 19}}{{$x = print $x $x}}{{end}}{{graphLink $x}}"#)
    })
    .unwrap_err();
    assert!(
        err.ends_with(&format!("error calling graphLink: {TOO_BIG}")),
        "{err}"
    );
    let err = on_small_stack(|| {
        expand_prom(r#"{{$x:="x"}}{{range 19}}{{$x = print $x $x}}{{end}}{{$m := args $x $x $x}}"#)
    })
    .unwrap_err();
    assert!(
        err.ends_with(&format!("error calling args: {TOO_BIG}")),
        "{err}"
    );
    let err = on_small_stack(|| {
        expand_prom(
            r#"{{$x:="x"}}{{range 18}}{{$x = print $x $x}}{{end}}{{$m := args $x $x}}{{range 8}}{{$m = args $m $m}}{{end}}"#,
        )
    })
    .unwrap_err();
    assert!(
        err.ends_with(&format!("error calling args: {TOO_BIG}")),
        "{err}"
    );
    // Nesting built one level per call stops at the nesting limit, without deep recursion.
    let err = on_small_stack(|| {
        expand_prom(r#"{{$m := args 1}}{{range 200000}}{{$m = args $m}}{{end}}{{$m}}"#)
    })
    .unwrap_err();
    assert!(
        err.ends_with("error calling args: value exceeds the limit of 1000 nesting levels"),
        "{err}"
    );
    // Many maps of shared parts are measured quickly.
    let ok = on_small_stack(|| {
        expand_prom(
            r#"{{$l := args 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64}}{{$m := args $l}}{{range 50000}}{{$m = args $l $l $l $l}}{{end}}{{len $m}}"#,
        )
    });
    assert_eq!(ok.as_deref(), Ok("4"));
    // Within the bound, Go's replacement syntax: `$$`, `${1}`, `$1x` names group "1x".
    assert_eq!(
        expand_prom(r#"{{ reReplaceAll "(a)(b)" "$2$1$$${1}x$1x" "abab" }}|{{ reReplaceAll "a" "$" "aa" }}|{{ reReplaceAll "(?P<n>a)" "[$n]$01" "ba" }}"#)
            .as_deref(),
        Ok("ba$axba$ax|$$|b[a]")
    );
}

#[test]
fn registered_functions_are_bounded() {
    let mut funcs = FuncMap::new();
    // A function that ignores the budget: its result is checked.
    funcs.insert(
        "huge".into(),
        Function::new(vec![], |_| Ok(Value::string("x".repeat(2 << 20)))),
    );
    // A function that honours it before building anything.
    funcs.insert(
        "repeat".into(),
        Function::new(vec![Param::String, Param::Int], |a| {
            let s = a[0].as_str().unwrap_or("");
            let n = match a[1] {
                Value::Int(n) => n.max(0) as usize,
                _ => 0,
            };
            let max = value_budget();
            if s.len().saturating_mul(n) > max {
                return Err(value_too_big(max));
            }
            Ok(Value::string(s.repeat(n)))
        }),
    );
    let f = funcs.clone();
    let err = on_small_stack(move || run_with("{{ huge }}", f, Limits::default())).unwrap_err();
    assert_eq!(
        err,
        format!("template: t:1:3: executing \"t\" at <huge>: error calling huge: {TOO_BIG}")
    );
    let f = funcs.clone();
    let err = on_small_stack(move || {
        run_with(
            r#"{{ repeat "ab" 9223372036854775807 }}"#,
            f,
            Limits::default(),
        )
    })
    .unwrap_err();
    assert!(
        err.ends_with(&format!("error calling repeat: {TOO_BIG}")),
        "{err}"
    );
    assert_eq!(
        run_with(r#"{{ repeat "ab" 3 }}"#, funcs, Limits::default()).as_deref(),
        Ok("ababab")
    );
    // Outside an execution there is no budget.
    assert_eq!(value_budget(), usize::MAX);
}
