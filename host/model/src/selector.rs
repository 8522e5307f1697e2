//! Series selectors as the HTTP API takes them in `match[]`:
//! `name{label="v", other=~"re", "utf8.label"!="x"}`, `{"utf8.name"}`,
//! with Prometheus' quoting and its rule that a selector needs a matcher
//! that does not match the empty string.

use crate::storage::{MatchType, Matcher};

/// A selector that could not be parsed; displays as Prometheus words it
/// (`1:5: parse error: …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("1:{column}: parse error: {message}")]
pub struct SelectorError {
    pub column: usize,
    pub message: String,
}

/// A Go-style quoted string (double or single quotes with escapes, or
/// back-quoted raw) at the start of `text`; returns it and the rest of
/// `text`. Shared by every parser of PromQL-style strings.
pub fn unquote(text: &str) -> Result<(String, &str), String> {
    let mut chars = text.char_indices();
    let Some((_, quote)) = chars.next().filter(|(_, c)| matches!(c, '"' | '\'' | '`')) else {
        return Err(format!(
            "expected a quoted string, found {:?}",
            first_char(text)
        ));
    };
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Ok((out, &text[i + 1..]));
        }
        if c != '\\' || quote == '`' {
            out.push(c);
            continue;
        }
        let Some((j, e)) = chars.next() else { break };
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'v' => out.push('\x0b'),
            '\\' | '"' | '\'' => out.push(e),
            'x' | 'u' | 'U' => {
                let digits = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let c = text
                    .get(j + 1..j + 1 + digits)
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32)
                    .ok_or("invalid escape sequence in string")?;
                out.push(c);
                for _ in 0..digits {
                    chars.next();
                }
            }
            _ => return Err(format!("unknown escape sequence \\{e}")),
        }
    }
    Err("unterminated quoted string".into())
}

fn first_char(s: &str) -> String {
    s.chars().next().map_or("end of line".into(), String::from)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

impl<'a> Parser<'a> {
    fn error<T>(&self, message: impl Into<String>) -> Result<T, SelectorError> {
        Err(SelectorError {
            column: self.text[..self.pos].chars().count() + 1,
            message: message.into(),
        })
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn skip_space(&mut self) {
        while let Some(c) = self.peek()
            && c.is_whitespace()
        {
            self.pos += c.len_utf8();
        }
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.text[self.pos..].starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn unexpected<T>(&self, wanted: &str) -> Result<T, SelectorError> {
        match self.peek() {
            Some(c) => self.error(format!("unexpected character {c:?}, expected {wanted}")),
            None => self.error(format!("unexpected end of input, expected {wanted}")),
        }
    }

    fn name(&mut self, label: bool) -> Option<&'a str> {
        let start = self.pos;
        let mut chars = self.text[start..].char_indices();
        match chars.next() {
            Some((_, c)) if is_name_start(c) && !(label && c == ':') => {}
            _ => return None,
        }
        let end = chars
            .find(|(_, c)| !(is_name_char(*c) && !(label && *c == ':')))
            .map_or(self.text.len(), |(i, _)| start + i);
        self.pos = end;
        Some(&self.text[start..end])
    }

    /// A string in double quotes, single quotes (both with Go escapes) or
    /// backticks (raw).
    fn string(&mut self) -> Result<String, SelectorError> {
        if !matches!(self.peek(), Some('"' | '\'' | '`')) {
            return self.unexpected("a quoted string");
        }
        let rest = &self.text[self.pos..];
        match unquote(rest) {
            Ok((s, after)) => {
                self.pos += rest.len() - after.len();
                Ok(s)
            }
            Err(message) => self.error(message),
        }
    }

    fn matcher(&mut self, matchers: &mut Vec<Matcher>) -> Result<(), SelectorError> {
        let (name, quoted) = if matches!(self.peek(), Some('"' | '\'' | '`')) {
            (self.string()?, true)
        } else if let Some(name) = self.name(true) {
            (name.to_owned(), false)
        } else {
            return self.unexpected("a label name");
        };
        self.skip_space();
        let kind = if self.eat("=~") {
            MatchType::Regex
        } else if self.eat("!~") {
            MatchType::NotRegex
        } else if self.eat("!=") {
            MatchType::NotEqual
        } else if self.eat("=") {
            MatchType::Equal
        } else if quoted {
            // `{"my.metric"}`: a quoted name alone is the metric name.
            matchers.push(Matcher::equal("__name__", name));
            return Ok(());
        } else {
            return self.unexpected("a label matching operator (=, !=, =~, !~)");
        };
        self.skip_space();
        let value = self.string()?;
        let at = self.pos;
        let matcher = Matcher::new(kind, name, value).map_err(|e| SelectorError {
            column: self.text[..at].chars().count(),
            message: e.to_string(),
        })?;
        matchers.push(matcher);
        Ok(())
    }
}

/// Parses a series selector into its matchers.
pub fn parse_selector(text: &str) -> Result<Vec<Matcher>, SelectorError> {
    let mut p = Parser { text, pos: 0 };
    let mut matchers = Vec::new();
    p.skip_space();
    if let Some(name) = p.name(false) {
        matchers.push(Matcher::equal("__name__", name));
    }
    p.skip_space();
    if p.eat("{") {
        loop {
            p.skip_space();
            if p.eat("}") {
                break;
            }
            p.matcher(&mut matchers)?;
            p.skip_space();
            if p.eat(",") {
                continue;
            }
            if p.eat("}") {
                break;
            }
            return p.unexpected("\",\" or \"}\"");
        }
    }
    p.skip_space();
    if p.pos < text.len() {
        return p.unexpected("the end of the selector");
    }
    if matchers.iter().all(Matcher::matches_empty) {
        return Err(SelectorError {
            column: 1,
            message: "vector selector must contain at least one non-empty matcher".into(),
        });
    }
    Ok(matchers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: &str) {
        let got = match parse_selector(text) {
            Ok(matchers) => matchers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expected, "{text}");
    }

    #[test]
    fn selectors_parse_like_prometheus() {
        check("up", r#"__name__="up""#);
        check(
            r#"http_requests_total{job="api", code=~"5.."}"#,
            r#"__name__="http_requests_total", job="api", code=~"5..""#,
        );
        check(r#"{__name__=~"node_.+",}"#, r#"__name__=~"node_.+""#);
        check(
            r#"{"my.metric", "a.b"!='x\n'}"#,
            r#"__name__="my.metric", a.b!="x\n""#,
        );
        check("{job=`a\\b`}", r#"job="a\\b""#);
        check(r#"{job="\u00e9"}"#, r#"job="é""#);
        check(
            r#"{job=""}"#,
            "error: 1:1: parse error: vector selector must contain at least one non-empty matcher",
        );
        check(
            "{}",
            "error: 1:1: parse error: vector selector must contain at least one non-empty matcher",
        );
        check(
            r#"up{job="x""#,
            r#"error: 1:11: parse error: unexpected end of input, expected "," or "}""#,
        );
        check(
            r#"up{job~"x"}"#,
            "error: 1:7: parse error: unexpected character '~', expected a label matching operator (=, !=, =~, !~)",
        );
        check(
            r#"up{job="x} "#,
            "error: 1:8: parse error: unterminated quoted string",
        );
        check(
            "up}",
            "error: 1:3: parse error: unexpected character '}', expected the end of the selector",
        );
        let err = parse_selector(r#"{a=~"("}"#).unwrap_err().to_string();
        assert!(
            err.starts_with(r#"1:7: parse error: invalid regular expression "(" for label a"#),
            "{err}"
        );
    }
}
