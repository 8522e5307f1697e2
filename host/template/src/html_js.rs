//! JavaScript in Go's `html/template` (`js.go` and the JavaScript transitions of `transition.go`):
//! whether a `/` starts a regular expression or divides, where strings, regular expressions and
//! comments end, and the escapers of values (`jsValEscaper`), strings (`jsStrEscaper`) and regular
//! expressions (`jsRegexpEscaper`).

use crate::value::Value;

/// What a `/` means at this point of a script (Go's `jsCtx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) enum JsCtx {
    /// A `/` starts a regular expression.
    #[default]
    Regexp,
    /// A `/` is a division.
    DivOp,
}

/// The JavaScript literals that end at a delimiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delimited {
    DoubleQuote,
    SingleQuote,
    BackQuote,
    Regexp,
}

fn is_js_ident_part(c: char) -> bool {
    c == '$' || c == '_' || c.is_ascii_alphanumeric() || (!c.is_ascii() && c.is_alphanumeric())
}

const REGEXP_PRECEDER_KEYWORDS: &[&str] = &[
    "break",
    "case",
    "continue",
    "delete",
    "do",
    "else",
    "finally",
    "in",
    "instanceof",
    "return",
    "throw",
    "try",
    "typeof",
    "void",
];

/// Go's `nextJSCtx`: what a `/` after `s` means, given what it meant before `s`.
pub(crate) fn next_js_ctx(s: &[u8], preceding: JsCtx) -> JsCtx {
    let t = String::from_utf8_lossy(s);
    let t = t.trim_end_matches(['\t', '\n', '\x0c', '\r', ' ', '\u{2028}', '\u{2029}']);
    let b = t.as_bytes();
    let Some(&c) = b.last() else {
        return preceding;
    };
    let n = b.len();
    match c {
        b'+' | b'-' => {
            let mut start = n - 1;
            while start > 0 && b[start - 1] == c {
                start -= 1;
            }
            if (n - start) & 1 == 1 {
                JsCtx::Regexp
            } else {
                JsCtx::DivOp
            }
        }
        b'.' => {
            if n != 1 && b[n - 2].is_ascii_digit() {
                JsCtx::DivOp
            } else {
                JsCtx::Regexp
            }
        }
        b',' | b'<' | b'>' | b'=' | b'*' | b'%' | b'&' | b'|' | b'^' | b'?' | b'!' | b'~'
        | b'(' | b'[' | b':' | b';' | b'{' | b'}' => JsCtx::Regexp,
        _ => {
            let word_start = t
                .char_indices()
                .rev()
                .take_while(|(_, ch)| is_js_ident_part(*ch))
                .last()
                .map_or(n, |(i, _)| i);
            if REGEXP_PRECEDER_KEYWORDS.contains(&&t[word_start..]) {
                JsCtx::Regexp
            } else {
                JsCtx::DivOp
            }
        }
    }
}

/// Go's `tJSDelimited`: where a string or regular expression literal that `s` continues ends (the
/// index after its closing delimiter), `None` if it goes on past `s`.
pub(crate) fn delimited_end(kind: Delimited, s: &[u8]) -> Result<Option<usize>, String> {
    let specials: &[u8] = match kind {
        Delimited::DoubleQuote => b"\\\"",
        Delimited::SingleQuote => b"\\'",
        Delimited::BackQuote => b"\\`",
        Delimited::Regexp => b"\\/[]",
    };
    let (mut k, mut in_charset) = (0, false);
    while let Some(p) = s[k..].iter().position(|b| specials.contains(b)) {
        let mut i = k + p;
        match s[i] {
            b'\\' => {
                i += 1;
                if i == s.len() {
                    return Err(format!(
                        "unfinished escape sequence in JS string: {}",
                        crate::gofmt::quote(&String::from_utf8_lossy(s))
                    ));
                }
            }
            b'[' if kind == Delimited::Regexp => in_charset = true,
            b']' if kind == Delimited::Regexp => in_charset = false,
            _ if !in_charset => return Ok(Some(i + 1)),
            _ => {}
        }
        k = i + 1;
    }
    if in_charset {
        return Err(format!(
            "unfinished JS regexp charset: {}",
            crate::gofmt::quote(&String::from_utf8_lossy(s))
        ));
    }
    Ok(None)
}

/// Go's `lowUnicodeReplacementTable` and the JavaScript string table around it.
fn js_low(c: char) -> Option<String> {
    Some(match c {
        '\t' => "\\t".into(),
        '\n' => "\\n".into(),
        '\x0b' => "\\u000b".into(),
        '\x0c' => "\\f".into(),
        '\r' => "\\r".into(),
        c if (c as u32) < 0x20 => format!("\\u{:04x}", c as u32),
        '\u{2028}' => "\\u2028".into(),
        '\u{2029}' => "\\u2029".into(),
        _ => return None,
    })
}

fn js_replace(s: &str, table: fn(char) -> Option<&'static str>) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if let Some(r) = js_low(c) {
            out.push_str(&r);
        } else if let Some(r) = table(c) {
            out.push_str(r);
        } else {
            out.push(c);
        }
    }
    out
}

fn js_str_table(c: char) -> Option<&'static str> {
    Some(match c {
        '"' => "\\u0022",
        '`' => "\\u0060",
        '&' => "\\u0026",
        '\'' => "\\u0027",
        '+' => "\\u002b",
        '/' => "\\/",
        '<' => "\\u003c",
        '>' => "\\u003e",
        '\\' => "\\\\",
        _ => return None,
    })
}

fn js_regexp_table(c: char) -> Option<&'static str> {
    Some(match c {
        '$' => "\\$",
        '(' => "\\(",
        ')' => "\\)",
        '*' => "\\*",
        '-' => "\\-",
        '.' => "\\.",
        '?' => "\\?",
        '[' => "\\[",
        ']' => "\\]",
        '^' => "\\^",
        '{' => "\\{",
        '|' => "\\|",
        '}' => "\\}",
        c => return js_str_table(c),
    })
}

/// Go's `jsStrEscaper`: text for inside a quoted JavaScript string.
pub(crate) fn js_str_escape(s: &str) -> String {
    js_replace(s, js_str_table)
}

/// Go's `jsRegexpEscaper`: text for inside a regular expression literal (`(?:)` for nothing).
pub(crate) fn js_regexp_escape(s: &str) -> String {
    let out = js_replace(s, js_regexp_table);
    if out.is_empty() { "(?:)".into() } else { out }
}

/// Go's `jsValEscaper`: a value as a JavaScript expression (its JSON, a value with a `String`
/// method as the JSON of that text), padded with spaces where it could run into a neighbouring
/// identifier.
pub(crate) fn js_val_escape(v: &Value, text: &str) -> String {
    let has_string_method = v.method("String").is_some();
    let json = match v {
        Value::Typed(_, s) => crate::gojson::to_json(&Value::String(s.clone())),
        _ if has_string_method => crate::gojson::to_json(&Value::string(text)),
        _ => crate::gojson::to_json(v),
    };
    let b = match json {
        Ok(b) => b,
        Err(e) => return format!(" /* {} */null ", e.replace("*/", "* /")),
    };
    if b.is_empty() {
        return " null ".into();
    }
    let first = b.chars().next().unwrap_or(' ');
    let last = b.chars().next_back().unwrap_or(' ');
    let b = b
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    if is_js_ident_part(first) || is_js_ident_part(last) {
        format!(" {b} ")
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slash_meaning_follows_gos_heuristic() {
        let cases: &[(&str, JsCtx)] = &[
            ("x = ", JsCtx::Regexp),
            ("x", JsCtx::DivOp),
            ("return ", JsCtx::Regexp),
            ("i++", JsCtx::DivOp),
            ("i+", JsCtx::Regexp),
            ("42.", JsCtx::DivOp),
            (")", JsCtx::DivOp),
            ("}", JsCtx::Regexp),
        ];
        for (s, want) in cases {
            assert_eq!(next_js_ctx(s.as_bytes(), JsCtx::DivOp), *want, "{s}");
        }
    }

    #[test]
    fn literals_end_at_their_delimiter() {
        assert_eq!(
            delimited_end(Delimited::DoubleQuote, br#"a\"b" + 1"#),
            Ok(Some(5))
        );
        assert_eq!(delimited_end(Delimited::SingleQuote, b"abc"), Ok(None));
        assert_eq!(delimited_end(Delimited::Regexp, b"[/]x/g"), Ok(Some(5)));
        assert!(delimited_end(Delimited::Regexp, b"[x").is_err());
    }

    #[test]
    fn values_and_strings_escape_as_go_does() {
        assert_eq!(
            js_val_escape(&Value::string("a</b>"), ""),
            r#""a\u003c/b\u003e""#
        );
        assert_eq!(js_val_escape(&Value::Int(1), ""), " 1 ");
        assert_eq!(js_val_escape(&Value::Nil, ""), " null ");
        assert_eq!(js_str_escape("it's <b>\n"), r"it\u0027s \u003cb\u003e\n");
        assert_eq!(js_regexp_escape("a.b"), r"a\.b");
        assert_eq!(js_regexp_escape(""), "(?:)");
    }
}
