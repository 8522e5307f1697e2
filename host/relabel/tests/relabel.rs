//! Relabeling against Prometheus' behaviour. Cases marked "upstream" are
//! `TestRelabel`/`TestRelabelValidate` from Prometheus'
//! `model/relabel/relabel_test.go`, with their expected results; hashes not
//! found there were computed independently (Python's `hashlib.md5`).
//!
//! Every case goes through [`check`]: YAML rules (parsed as Prometheus reads
//! them, defaults and validation included) applied to a label set, rendered
//! as the resulting labels, `dropped`, or `error: ...`.

use expect_test::{Expect, expect};
use wasmetheus_model::Label;
use wasmetheus_relabel::{Action, NameValidationScheme, RelabelConfig, RelabelRegex, relabel};

fn check(input: &[(&str, &str)], yaml: &str, expect: Expect) {
    check_scheme(NameValidationScheme::Utf8, input, yaml, expect);
}

/// Like [`check`], with the rules revalidated and applied under `scheme`.
fn check_scheme(scheme: NameValidationScheme, input: &[(&str, &str)], yaml: &str, expect: Expect) {
    let labels: Vec<Label> = input.iter().map(|(n, v)| Label::new(*n, *v)).collect();
    let actual = match serde_saphyr::from_str::<Vec<RelabelConfig>>(yaml) {
        // serde-saphyr's first line: `error: line L column C: message`.
        Err(e) => e.to_string().lines().next().unwrap_or("").to_owned(),
        Ok(mut configs) => {
            configs
                .iter_mut()
                .for_each(|c| c.name_validation_scheme = scheme);
            match configs.iter().try_for_each(RelabelConfig::validate) {
                Err(e) => format!("error: {e}"),
                Ok(()) => match relabel(&labels, &configs) {
                    None => "dropped".to_owned(),
                    Some(out) => render(&out),
                },
            }
        }
    };
    expect.assert_eq(&actual);
}

fn render(labels: &[Label]) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|l| format!("{}={:?}", l.name, l.value))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

const ABC: &[(&str, &str)] = &[("a", "foo"), ("b", "bar"), ("c", "baz")];

#[test]
fn replace_expands_groups() {
    // upstream
    check(
        ABC,
        r#"
- source_labels: [a]
  regex: f(.*)
  target_label: d
  replacement: ch${1}-ch${1}
"#,
        expect![[r#"{a="foo", b="bar", c="baz", d="choo-choo"}"#]],
    );
    // upstream: several sources joined with the separator, rules in order.
    check(
        ABC,
        r#"
- source_labels: [a, b]
  regex: f(.*);(.*)r
  target_label: a
  replacement: b${1}${2}m
- source_labels: [c, a]
  regex: (b).*b(.*)ba(.*)
  target_label: d
  replacement: $1$2$2$3
"#,
        expect![[r#"{a="boobam", b="bar", c="baz", d="boooom"}"#]],
    );
    // upstream: the default replacement is $1.
    check(
        &[("a", "abc")],
        r#"
- source_labels: [a]
  regex: .*(b).*
  target_label: d
"#,
        expect![[r#"{a="abc", d="b"}"#]],
    );
}

#[test]
fn replace_without_match_changes_nothing() {
    // upstream
    check(
        &[("a", "boo")],
        r#"
- source_labels: [a]
  regex: f
  target_label: b
  replacement: bar
"#,
        expect![[r#"{a="boo"}"#]],
    );
}

#[test]
fn replace_with_empty_result_deletes_the_target() {
    // upstream: target `$1` is "f", replacement `$2` is empty.
    check(
        &[("a", "foo"), ("f", "baz")],
        r#"
- source_labels: [a]
  regex: (f).*
  target_label: $1
  replacement: $2
"#,
        expect![[r#"{a="foo"}"#]],
    );
}

#[test]
fn replace_with_templated_target() {
    // upstream: valid case, then a missing group in the replacement, then
    // targets expanding to an empty (invalid) name, which are skipped.
    check(
        &[("a", "some-name-value")],
        r#"
- source_labels: [a]
  regex: some-([^-]+)-([^,]+)
  target_label: ${1}
  replacement: ${2}
"#,
        expect![[r#"{a="some-name-value", name="value"}"#]],
    );
    check(
        &[("a", "some-name-value")],
        r#"
- source_labels: [a]
  regex: some-([^-]+)-([^,]+)
  target_label: ${1}
  replacement: ${3}
"#,
        expect![[r#"{a="some-name-value"}"#]],
    );
    check(
        &[("a", "some-name-0")],
        r#"
- source_labels: [a]
  regex: some-([^-]+)-([^,]+)
  target_label: ${3}
  replacement: ${1}
- source_labels: [a]
  regex: some-([^-]+)(-[^,]+)
  target_label: ${3}
  replacement: ${1}
"#,
        expect![[r#"{a="some-name-0"}"#]],
    );
}

#[test]
fn replace_real_life_tags() {
    // upstream
    check(
        &[("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar")],
        r#"
- source_labels: [__meta_sd_tags]
  regex: "(?:.+,|^)path:(/[^,]+).*"
  target_label: __metrics_path__
  replacement: ${1}
- source_labels: [__meta_sd_tags]
  regex: "(?:.+,|^)job:([^,]+).*"
  target_label: job
  replacement: ${1}
- source_labels: [__meta_sd_tags]
  regex: "(?:.+,|^)label:([^=]+)=([^,]+).*"
  target_label: ${1}
  replacement: ${2}
"#,
        expect![[
            r#"{__meta_sd_tags="path:/secret,job:some-job,label:foo=bar", __metrics_path__="/secret", foo="bar", job="some-job"}"#
        ]],
    );
}

#[test]
fn replace_sets_type_and_unit() {
    // upstream
    check(
        &[("__name__", "http_requests_total")],
        r#"
- source_labels: [__name__]
  regex: .*_total$
  target_label: __type__
  replacement: counter
- source_labels: [__name__]
  regex: .*_bytes$
  target_label: __unit__
  replacement: bytes
"#,
        expect![[r#"{__name__="http_requests_total", __type__="counter"}"#]],
    );
}

#[test]
fn dot_matches_newline_and_utf8_names() {
    // upstream: `.` matches a newline; UTF-8 source and target names.
    let input = &[("a", "line1\nline2"), ("b", "bar"), ("c", "baz")];
    check(
        input,
        r#"
- source_labels: [a]
  regex: line1.*line2
  target_label: d
  replacement: match${1}
"#,
        expect![[r#"{a="line1\nline2", b="bar", c="baz", d="match"}"#]],
    );
    check(
        &[("utf-8.label", "line1\nline2"), ("b", "bar"), ("c", "baz")],
        r#"
- source_labels: [utf-8.label]
  regex: line1.*line2
  target_label: d
  replacement: match${1}
"#,
        expect![[r#"{b="bar", c="baz", d="match", utf-8.label="line1\nline2"}"#]],
    );
    check(
        input,
        r#"
- source_labels: [a]
  regex: line1.*line2
  target_label: utf-8.label${1}
  replacement: match${1}
"#,
        expect![[r#"{a="line1\nline2", b="bar", c="baz", utf-8.label="match"}"#]],
    );
    // upstream: `$1`, `${1}`, `$name` and `${name}` references.
    check(
        input,
        r#"
- source_labels: [a]
  regex: (line1).*(?<second>line2)
  target_label: label1_${1}
  replacement: val_${second}
- source_labels: [a]
  regex: (line1).*(?<second>line2)
  target_label: label2_$1
  replacement: val_$second
"#,
        expect![[
            r#"{a="line1\nline2", b="bar", c="baz", label1_line1="val_line2", label2_line1="val_line2"}"#
        ]],
    );
}

#[test]
fn templates_expand_like_go() {
    // Go's Regexp.Expand: `$1x` names group "1x" (empty), `${1}x` does
    // not, `$$` is a dollar, a malformed reference keeps its `$`, and a
    // leading zero makes a name rather than an index.
    check(
        &[("a", "foo")],
        r#"
- source_labels: [a]
  regex: (f)(o+)
  target_label: b
  replacement: "[$1x][${1}x][$$1][$][${2][${x}][$01][$2]"
"#,
        expect![[r#"{a="foo", b="[][fx][$1][$][${2][][][oo]"}"#]],
    );
}

#[test]
fn defaults() {
    // No source labels: the input is "", which the default regex matches.
    // A source label that is missing counts as "". A null regex is the
    // empty one, so it only matches "".
    check(
        &[("abc", "def"), ("job", "foo")],
        r#"
- target_label: static
  replacement: value
- source_labels: [abc]
  target_label: cde
- source_labels: [abc, job, missing]
  target_label: joined
- source_labels: [abc]
  regex:
  target_label: never
  replacement: x
- source_labels: [missing]
  regex:
  target_label: empty
  replacement: x
"#,
        expect![[
            r#"{abc="def", cde="def", empty="x", job="foo", joined="def;foo;", static="value"}"#
        ]],
    );
    // The action name is case-insensitive.
    check(
        &[("a", "foo")],
        r#"
- source_labels: [a]
  regex: foo
  action: DROP
"#,
        expect!["dropped"],
    );
}

#[test]
fn empty_values_are_absent() {
    // Empty input values are dropped, and read as missing.
    check(
        &[("a", ""), ("b", "1")],
        r#"
- source_labels: [a]
  regex: ""
  action: keep
"#,
        expect![[r#"{b="1"}"#]],
    );
    // A label set to "" is removed rather than kept empty.
    check(
        &[("a", "x"), ("b", "1")],
        r#"
- target_label: a
  replacement: ""
"#,
        expect![[r#"{b="1"}"#]],
    );
}

#[test]
fn unsorted_input_is_sorted() {
    check(
        &[("b", "1"), ("a", "2")],
        "[]",
        expect![[r#"{a="2", b="1"}"#]],
    );
}

#[test]
fn keep_and_drop() {
    // upstream: a drop stops processing.
    check(
        &[("a", "foo")],
        r#"
- source_labels: [a]
  regex: .*o.*
  action: drop
- source_labels: [a]
  regex: f(.*)
  target_label: d
  replacement: ch$1-ch$1
"#,
        expect!["dropped"],
    );
    // upstream
    check(
        &[("a", "foo"), ("b", "bar")],
        r#"
- source_labels: [a]
  regex: .*o.*
  action: drop
"#,
        expect!["dropped"],
    );
    check(
        &[("a", "foo")],
        r#"
- source_labels: [a]
  regex: no-match
  action: drop
"#,
        expect![[r#"{a="foo"}"#]],
    );
    // upstream: the regex is anchored, so `f|o` does not match "foo".
    check(
        &[("a", "foo")],
        r#"
- source_labels: [a]
  regex: f|o
  action: drop
"#,
        expect![[r#"{a="foo"}"#]],
    );
    check(
        &[("a", "foo")],
        r#"
- source_labels: [a]
  regex: no-match
  action: keep
"#,
        expect!["dropped"],
    );
    check(
        &[("a", "foo")],
        r#"
- source_labels: [a]
  regex: f.*
  action: keep
"#,
        expect![[r#"{a="foo"}"#]],
    );
}

#[test]
fn keepequal_and_dropequal() {
    // upstream, all four cases.
    let input = &[
        ("__port1", "1234"),
        ("__port2", "5678"),
        ("__tmp_port", "1234"),
    ];
    let rule = |action: &str, target: &str| {
        format!("- source_labels: [__tmp_port]\n  action: {action}\n  target_label: {target}\n")
    };
    check(
        input,
        &rule("keepequal", "__port1"),
        expect![[r#"{__port1="1234", __port2="5678", __tmp_port="1234"}"#]],
    );
    check(input, &rule("dropequal", "__port1"), expect!["dropped"]);
    check(
        input,
        &rule("dropequal", "__port2"),
        expect![[r#"{__port1="1234", __port2="5678", __tmp_port="1234"}"#]],
    );
    check(input, &rule("keepequal", "__port2"), expect!["dropped"]);
}

#[test]
fn hashmod() {
    // upstream: 976 and 734.
    check(
        ABC,
        r#"
- source_labels: [c]
  target_label: d
  action: hashmod
  modulus: 1000
"#,
        expect![[r#"{a="foo", b="bar", c="baz", d="976"}"#]],
    );
    check(
        &[("a", "foo\nbar")],
        r#"
- source_labels: [a]
  target_label: b
  action: hashmod
  modulus: 1000
"#,
        expect![[r#"{a="foo\nbar", b="734"}"#]],
    );
    // MD5 of "a;b", of "" and of "baz" (the largest modulus).
    check(
        &[("a", "a"), ("b", "b")],
        r#"
- source_labels: [a, b]
  target_label: h7
  action: hashmod
  modulus: 7
- source_labels: [missing]
  target_label: h1000
  action: hashmod
  modulus: 1000
- source_labels: [b]
  target_label: b
  replacement: baz
- source_labels: [b]
  target_label: hmax
  action: hashmod
  modulus: 18446744073709551615
"#,
        expect![[r#"{a="a", b="baz", h1000="958", h7="2", hmax="16450797887570275976"}"#]],
    );
}

#[test]
fn labelmap() {
    // upstream
    check(
        &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
        r#"
- regex: (b.*)
  replacement: bar_${1}
  action: labelmap
"#,
        expect![[r#"{a="foo", b1="bar", b2="baz", bar_b1="bar", bar_b2="baz"}"#]],
    );
    // upstream
    check(
        &[
            ("__meta_my_bar", "aaa"),
            ("__meta_my_baz", "bbb"),
            ("__meta_other", "ccc"),
            ("a", "foo"),
        ],
        r#"
- regex: __meta_(my.*)
  replacement: ${1}
  action: labelmap
"#,
        expect![[
            r#"{__meta_my_bar="aaa", __meta_my_baz="bbb", __meta_other="ccc", a="foo", my_bar="aaa", my_baz="bbb"}"#
        ]],
    );
}

#[test]
fn labelmap_visits_base_labels_before_added_ones() {
    // Two names map to `x`; the last one visited wins. Prometheus' builder
    // visits the original labels first and those added by earlier rules
    // after, so the added `a_x` wins even though it sorts first.
    check(
        &[("b_x", "base")],
        r#"
- target_label: a_x
  replacement: added
- regex: "[ab]_(x)"
  action: labelmap
"#,
        expect![[r#"{a_x="added", b_x="base", x="added"}"#]],
    );
    // Among original labels, the later name wins.
    check(
        &[("a_x", "first"), ("b_x", "second")],
        r#"
- regex: "[ab]_(x)"
  action: labelmap
"#,
        expect![[r#"{a_x="first", b_x="second", x="second"}"#]],
    );
}

#[test]
fn labeldrop_and_labelkeep() {
    let input = &[("a", "foo"), ("b1", "bar"), ("b2", "baz")];
    // upstream
    check(
        input,
        "- regex: (b.*)\n  action: labelkeep\n",
        expect![[r#"{b1="bar", b2="baz"}"#]],
    );
    // upstream
    check(
        input,
        "- regex: (b.*)\n  action: labeldrop\n",
        expect![[r#"{a="foo"}"#]],
    );
    // upstream (issue 12283): a dropped label can be set again and is then
    // seen by later rules.
    check(
        &[
            ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
            ("__meta_kubernetes_pod_container_port_name", "foo"),
        ],
        r#"
- regex: ^__meta_kubernetes_pod_container_port_name$
  action: labeldrop
- source_labels: [__meta_kubernetes_pod_annotation_XXX_metrics_port]
  regex: (.+)
  target_label: __meta_kubernetes_pod_container_port_name
  replacement: metrics
- source_labels: [__meta_kubernetes_pod_container_port_name]
  regex: ^metrics$
  action: keep
"#,
        expect![[
            r#"{__meta_kubernetes_pod_annotation_XXX_metrics_port="9091", __meta_kubernetes_pod_container_port_name="metrics"}"#
        ]],
    );
}

#[test]
fn lowercase_and_uppercase() {
    // upstream
    check(
        &[("foo", "bAr123Foo")],
        r#"
- source_labels: [foo]
  action: uppercase
  target_label: foo_uppercase
- source_labels: [foo]
  action: lowercase
  target_label: foo_lowercase
"#,
        expect![[r#"{foo="bAr123Foo", foo_lowercase="bar123foo", foo_uppercase="BAR123FOO"}"#]],
    );
    // Go maps character by character: `ß` stays, `İ` becomes `i`, a final
    // `Σ` becomes `σ`, `ᾳ` becomes `ᾼ`.
    check(
        &[("v", "straße İΣ ᾳ")],
        r#"
- source_labels: [v]
  action: uppercase
  target_label: up
- source_labels: [v]
  action: lowercase
  target_label: low
"#,
        expect![[r#"{low="straße iσ ᾳ", up="STRAßE İΣ ᾼ", v="straße İΣ ᾳ"}"#]],
    );
}

#[test]
fn regexes_are_re2() {
    // Go's `\d`, `\w`, `\s` and `\b` are ASCII only; `\<` is a plain `<`;
    // `\Q...\E` quotes; `\101` is octal for `A`; `{` that does not start a
    // repetition is literal; `[` inside a class is literal.
    let input = &[
        ("arabic", "١٢"),
        ("accent", "é"),
        ("nbsp", "\u{a0}"),
        ("lt", "<a>"),
        ("quoted", "a.b*"),
        ("octal", "A"),
        ("brace", "a{,2}"),
        ("bracket", "[x"),
        ("word", "éa"),
    ];
    check(
        input,
        r#"
- {source_labels: [arabic], regex: '\d+', target_label: r1, replacement: matched}
- {source_labels: [accent], regex: '\w', target_label: r2, replacement: matched}
- {source_labels: [nbsp], regex: '\s', target_label: r3, replacement: matched}
- {source_labels: [lt], regex: '\<a\>', target_label: r4, replacement: matched}
- {source_labels: [quoted], regex: '\Qa.b*\E', target_label: r5, replacement: matched}
- {source_labels: [octal], regex: '\101', target_label: r6, replacement: matched}
- {source_labels: [brace], regex: 'a{,2}', target_label: r7, replacement: matched}
- {source_labels: [bracket], regex: '[[]x', target_label: r8, replacement: matched}
- {source_labels: [word], regex: 'é\ba', target_label: r9, replacement: matched}
- {source_labels: [word], regex: '(?i)[\d\W]A', target_label: r10, replacement: matched}
"#,
        expect![[
            r#"{accent="é", arabic="١٢", brace="a{,2}", bracket="[x", lt="<a>", nbsp="\u{a0}", octal="A", quoted="a.b*", r10="matched", r4="matched", r5="matched", r6="matched", r7="matched", r8="matched", r9="matched", word="éa"}"#
        ]],
    );
    // Syntax both dialects share survives the translation: braces of
    // `\p{..}` and `\x{..}`, POSIX classes, a leading `]` in a class,
    // repetitions, named groups.
    check(
        &[("v", "]αA{b}bb")],
        r#"
- {source_labels: [v], regex: '[]x][\p{Greek}][[:upper:]]\x{7b}\pL\}b{1,2}', target_label: r1, replacement: matched}
- {source_labels: [v], regex: '[^]x]+', target_label: r2, replacement: matched}
- {source_labels: [v], regex: '(?P<a>.)(?<b>.).*', target_label: r3, replacement: $b$a}
- {source_labels: [v], regex: '\\', target_label: r4, replacement: matched}
"#,
        expect![[r#"{r1="matched", r3="α]", v="]αA{b}bb"}"#]],
    );
}

#[test]
fn validation_errors() {
    let none: &[(&str, &str)] = &[];
    let cases = [
        (
            "- {action: hashmod, source_labels: [a], target_label: b}",
            expect![
                "error: line 1 column 3: relabel configuration for hashmod requires non-zero modulus"
            ],
        ),
        (
            "- {source_labels: [a]}",
            expect![
                "error: line 1 column 3: relabel configuration for replace action requires 'target_label' value"
            ],
        ),
        (
            "- {action: lowercase, source_labels: [a]}",
            expect![
                "error: line 1 column 3: relabel configuration for lowercase action requires 'target_label' value"
            ],
        ),
        (
            "- {action: uppercase, source_labels: [a], target_label: b, replacement: x}",
            expect!["error: line 1 column 3: 'replacement' can not be set for uppercase action"],
        ),
        (
            "- {action: keepequal, source_labels: [a], target_label: b, replacement: x}",
            expect!["error: line 1 column 3: 'replacement' can not be set for keepequal action"],
        ),
        (
            "- {action: keepequal, source_labels: [a], target_label: b, regex: 'x'}",
            expect![
                "error: line 1 column 3: keepequal action requires only 'source_labels' and `target_label`, and no other fields"
            ],
        ),
        (
            // Any `regex` key counts as set, even the default one.
            "- {action: dropequal, source_labels: [a], target_label: b, regex: '(.*)'}",
            expect![
                "error: line 1 column 3: dropequal action requires only 'source_labels' and `target_label`, and no other fields"
            ],
        ),
        (
            "- {action: dropequal, source_labels: [a], target_label: b, separator: ','}",
            expect![
                "error: line 1 column 3: dropequal action requires only 'source_labels' and `target_label`, and no other fields"
            ],
        ),
        (
            "- {action: labeldrop, regex: a, source_labels: [a]}",
            expect![
                "error: line 1 column 3: labeldrop action requires only 'regex', and no other fields"
            ],
        ),
        (
            // Even an empty list counts as set.
            "- {action: labelkeep, regex: a, source_labels: []}",
            expect![
                "error: line 1 column 3: labelkeep action requires only 'regex', and no other fields"
            ],
        ),
        (
            "- {action: labelkeep, regex: a, target_label: b}",
            expect![
                "error: line 1 column 3: labelkeep action requires only 'regex', and no other fields"
            ],
        ),
        (
            "- {action: labelmap, regex: a, replacement: ''}",
            expect![[r#"error: line 1 column 3: "" is invalid 'replacement' for labelmap action"#]],
        ),
        (
            "- {action: frobnicate}",
            expect![[r#"error: line 1 column 12: unknown relabel action "frobnicate""#]],
        ),
        (
            "- {action: ~, target_label: a}",
            expect!["error: line 1 column 3: relabel action cannot be empty"],
        ),
        (
            "- {source_labels: [''], target_label: a}",
            expect![[r#"error: line 1 column 3: "" is not a valid label name"#]],
        ),
        (
            "- {target_label: a, regex: '(a'}",
            expect!["error: line 1 column 28: error parsing regexp: unclosed group: `(a`"],
        ),
        (
            "- {target_label: a, regex: 'a{1001}'}",
            expect![
                "error: line 1 column 28: error parsing regexp: invalid repeat count: `{1001}`"
            ],
        ),
        (
            "- {target_label: a, regex: 'a\\'}",
            expect![
                "error: line 1 column 28: error parsing regexp: trailing backslash at end of expression: ``"
            ],
        ),
        (
            "- {target_label: a, regexp: 'a'}",
            expect![
                "error: line 1 column 21: unknown field `regexp`, expected one of source_labels, separator, regex, modulus, target_label, replacement, action"
            ],
        ),
    ];
    for (yaml, expect) in cases {
        check(none, yaml, expect);
    }
}

#[test]
fn utf8_and_legacy_names() {
    // upstream TestRelabelValidate: fine with UTF-8 names, not with legacy.
    let cases = [
        (
            "- {action: lowercase, source_labels: [a], target_label: '${3}'}",
            expect!["{}"],
            expect![[r#"error: "${3}" is invalid 'target_label' for lowercase action"#]],
        ),
        (
            "- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', target_label: '0${3}', replacement: '${1}'}",
            expect!["{}"],
            expect![[r#"error: "0${3}" is invalid 'target_label' for replace action"#]],
        ),
        (
            "- {source_labels: [a], target_label: 'utf-8.label'}",
            expect!["{}"],
            expect![[r#"error: "utf-8.label" is invalid 'target_label' for replace action"#]],
        ),
        (
            "- {action: hashmod, source_labels: [a], target_label: 'h.x', modulus: 2}",
            expect![[r#"{h.x="0"}"#]],
            expect![[r#"error: "h.x" is invalid 'target_label' for hashmod action"#]],
        ),
        (
            "- {action: labelmap, regex: '__meta_kubernetes_pod_label_(strimzi_io_.+)', replacement: '$1'}",
            expect!["{}"],
            expect!["{}"],
        ),
        (
            "- {action: labelmap, regex: '__meta_(.+)', replacement: '${1}.x'}",
            expect!["{}"],
            expect![[r#"error: "${1}.x" is invalid 'replacement' for labelmap action"#]],
        ),
    ];
    for (yaml, utf8, legacy) in cases {
        check(&[], yaml, utf8);
        check_scheme(NameValidationScheme::Legacy, &[], yaml, legacy);
    }
    // At run time a templated target that expands to a legacy-invalid name
    // is skipped under the legacy scheme.
    let rule =
        "- {source_labels: [a], regex: '(.*)-(.*)', target_label: '${1}', replacement: '$2'}";
    check(
        &[("a", "x.y-z")],
        rule,
        expect![[r#"{a="x.y-z", x.y="z"}"#]],
    );
    check_scheme(
        NameValidationScheme::Legacy,
        &[("a", "x.y-z")],
        rule,
        expect![[r#"{a="x.y-z"}"#]],
    );
}

#[test]
fn built_in_code() {
    // The same rules without YAML: defaults, validation, display.
    let mut config = RelabelConfig {
        action: Action::HashMod,
        source_labels: vec!["a".to_owned()],
        target_label: "h".to_owned(),
        ..RelabelConfig::default()
    };
    expect![[r#"Err("relabel configuration for hashmod requires non-zero modulus")"#]]
        .assert_eq(&format!("{:?}", config.validate()));
    config.modulus = 1000;
    config.validate().unwrap();
    let out = relabel(&[Label::new("a", "baz")], &[config]).unwrap();
    expect![[r#"{a="baz", h="976"}"#]].assert_eq(&render(&out));

    let regex = RelabelRegex::new("a|b").unwrap();
    expect!["a|b true false"].assert_eq(&format!(
        "{regex} {} {}",
        regex.is_match("b"),
        regex.is_match("ab")
    ));
    expect![[r#"Err("error parsing regexp: unclosed character class: `[`")"#]]
        .assert_eq(&format!("{:?}", RelabelRegex::new("[").map(|_| ())));
}
