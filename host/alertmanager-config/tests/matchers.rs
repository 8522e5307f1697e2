//! Upstream's `matcher/compliance` cases: the UTF-8 parser agrees with the
//! classic parser where upstream says it must, and refuses what it must;
//! the fallback mode (0.34's default) then gives the classic result or
//! error.

use wasmetheus_alertmanager_config::{parse_classic, parse_matchers, parse_utf8};

/// Input → the matchers (printed, in input order), both parsers agreeing.
const AGREE: &[(&str, &str)] = &[
    ("{foo=bar}", r#"{foo="bar"}"#),
    (r#"{foo="bar"}"#, r#"{foo="bar"}"#),
    ("{foo=~bar.*}", r#"{foo=~"bar.*"}"#),
    (r#"{foo=~"bar.*"}"#, r#"{foo=~"bar.*"}"#),
    ("{foo!=bar}", r#"{foo!="bar"}"#),
    (r#"{foo!="bar"}"#, r#"{foo!="bar"}"#),
    ("{foo!~bar.*}", r#"{foo!~"bar.*"}"#),
    (r#"{foo!~"bar.*"}"#, r#"{foo!~"bar.*"}"#),
    (r#"{foo="bar", baz!="quux"}"#, r#"{foo="bar",baz!="quux"}"#),
    (
        r#"{foo="bar", baz!~"quux.*"}"#,
        r#"{foo="bar",baz!~"quux.*"}"#,
    ),
    (
        r#"{foo="bar",baz!~".*quux", derp="wat"}"#,
        r#"{foo="bar",baz!~".*quux",derp="wat"}"#,
    ),
    (
        r#"{foo="bar", instance=~"some-api.*"}"#,
        r#"{foo="bar",instance=~"some-api.*"}"#,
    ),
    (r#"{foo=""}"#, r#"{foo=""}"#),
    (
        r#"{foo="bar,quux", job="job1"}"#,
        r#"{foo="bar,quux",job="job1"}"#,
    ),
    (
        r#"{foo = "bar", dings != "bums", }"#,
        r#"{foo="bar",dings!="bums"}"#,
    ),
    ("foo=bar,dings!=bums", r#"{foo="bar",dings!="bums"}"#),
    (
        r#"{quote="She said: \"Hi, ladies! That's gender-neutral…\""}"#,
        r#"{quote="She said: \"Hi, ladies! That's gender-neutral…\""}"#,
    ),
    (r#"statuscode=~"5..""#, r#"{statuscode=~"5.."}"#),
    (
        r#"contains_quote != "\"" , contains_comma !~ "foo,bar" , "#,
        r#"{contains_quote!="\"",contains_comma!~"foo,bar"}"#,
    ),
];

/// Inputs the UTF-8 parser refuses, with the classic parser's text (the
/// fallback mode's answer).
const REFUSED: &[(&str, &str)] = &[
    ("{,}", "bad matcher format: "),
    (
        r#"job="value"#,
        r#"matcher value contains unescaped double quote: "value"#,
    ),
    (
        r#"job=value""#,
        r#"matcher value contains unescaped double quote: value""#,
    ),
    (
        r#"contains_unescaped_quote = foo"bar"#,
        r#"matcher value contains unescaped double quote: foo"bar"#,
    ),
    (r#""{foo=\"bar"}"#, r#"bad matcher format: "{foo=\"bar""#),
    (r#""foo=\"bar""#, r#"bad matcher format: "foo=\"bar""#),
    (r#""foo=\"bar\"""#, r#"bad matcher format: "foo=\"bar\"""#),
    (
        r#""{foo=\"bar\"}""#,
        r#"bad matcher format: "{foo=\"bar\"}""#,
    ),
    (r#""foo="bar"""#, r#"bad matcher format: "foo="bar"""#),
    ("{{foo=", "bad matcher format: {foo="),
];

#[test]
fn compliance_as_upstream() {
    for (input, want) in AGREE {
        let utf8 = parse_utf8(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(utf8.to_string(), *want, "utf-8 {input}");
        let classic = parse_classic(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(classic, utf8, "classic {input}");
        assert_eq!(parse_matchers(input).unwrap(), utf8, "fallback {input}");
    }
    for (input, want) in REFUSED {
        assert!(parse_utf8(input).is_err(), "utf-8 accepted {input}");
        assert_eq!(parse_matchers(input).unwrap_err(), *want, "{input}");
    }
    // An invalid regular expression is refused by both.
    let err = parse_matchers(r#"{foo=~"invalid[regexp"}"#).unwrap_err();
    assert!(
        err.starts_with("error parsing regexp: missing closing ]"),
        "{err}"
    );
}
