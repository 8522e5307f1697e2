//! Parsing matchers as Alertmanager 0.34 does in its default mode
//! (`matcher/compat`'s fallback): the UTF-8 parser (`matcher/parse`) first,
//! and where it refuses an input the classic parser (`pkg/labels`) accepts,
//! the classic result. Error texts are upstream's, with the UTF-8 parser's
//! `start:end:` columns.

use crate::matcher::{MatchType, Matcher, Matchers, is_reserved};

/// Parses one or more matchers (`{a="b", c=~d}`, `a=b,c!=d`) in
/// Alertmanager 0.34's default (fallback) mode.
pub fn parse_matchers(input: &str) -> Result<Matchers, String> {
    match parse_utf8(input) {
        Ok(parsed) => {
            // Where both parsers accept the input but disagree, upstream
            // takes the classic result.
            match parse_classic(input) {
                Ok(classic) if classic != parsed => Ok(classic),
                _ => Ok(parsed),
            }
        }
        Err(_) => parse_classic(input),
    }
}

/// Parses exactly one matcher in the fallback mode.
pub fn parse_matcher(input: &str) -> Result<Matcher, String> {
    if input.starts_with('{') || input.ends_with('}') {
        return Err(format!("unexpected open or close brace: {input}"));
    }
    match parse_utf8_one(input) {
        Ok(parsed) => match parse_classic_one(input) {
            Ok(classic) if classic != parsed => Ok(classic),
            _ => Ok(parsed),
        },
        Err(_) => parse_classic_one(input),
    }
}

/// Alertmanager 0.34's UTF-8 parser, one matcher (`parse.Matcher`).
pub fn parse_utf8_one(input: &str) -> Result<Matcher, String> {
    let mut matchers = parse_utf8(input)?.0;
    match matchers.len() {
        1 => Ok(matchers.remove(0)),
        0 => Err("no matchers".to_owned()),
        n => Err(format!("expected 1 matcher, found {n}")),
    }
}

// ---------------------------------------------------------------- lexer

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Eof,
    OpenBrace,
    CloseBrace,
    Comma,
    Equals,
    NotEquals,
    Matches,
    NotMatches,
    Quoted,
    Unquoted,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    value: String,
    column_start: usize,
    column_end: usize,
}

#[derive(Clone)]
struct Lexer<'a> {
    input: &'a str,
    err: Option<String>,
    start: usize,
    pos: usize,
    width: usize,
    column: usize,
    cols: usize,
}

impl<'a> Lexer<'a> {
    fn new(input: &'a str) -> Self {
        Lexer {
            input,
            err: None,
            start: 0,
            pos: 0,
            width: 0,
            column: 0,
            cols: 0,
        }
    }

    fn peek(&mut self) -> Result<Token, String> {
        let saved = self.clone();
        let result = self.scan();
        *self = saved;
        result
    }

    fn eof_token(&self) -> Token {
        Token {
            kind: Kind::Eof,
            value: String::new(),
            column_start: 0,
            column_end: 0,
        }
    }

    fn scan(&mut self) -> Result<Token, String> {
        if let Some(err) = &self.err {
            return Err(err.clone());
        }
        while let Some(r) = self.next() {
            let result = match r {
                '{' => Ok(self.emit(Kind::OpenBrace)),
                '}' => Ok(self.emit(Kind::CloseBrace)),
                ',' => Ok(self.emit(Kind::Comma)),
                '=' | '!' => {
                    self.rewind();
                    self.scan_operator()
                }
                '"' => {
                    self.rewind();
                    self.scan_quoted()
                }
                r if !is_reserved(r) => {
                    self.rewind();
                    Ok(self.scan_unquoted())
                }
                r if r.is_whitespace() => {
                    self.skip();
                    continue;
                }
                _ => Err(format!(
                    "{}:{}: {}: invalid input",
                    self.column,
                    self.cols,
                    &self.input[self.start..self.pos]
                )),
            };
            if let Err(e) = &result {
                self.err = Some(e.clone());
            }
            return result;
        }
        Ok(self.eof_token())
    }

    fn expected(&self, expected: &str) -> String {
        if self.pos >= self.input.len() {
            format!(
                "{}:{}: unexpected end of input, expected one of '{expected}'",
                self.column, self.cols
            )
        } else {
            format!(
                "{}:{}: {}: expected one of '{expected}'",
                self.column,
                self.cols,
                &self.input[self.start..self.pos]
            )
        }
    }

    fn scan_operator(&mut self) -> Result<Token, String> {
        if self.accept("!") {
            if self.accept("=") {
                return Ok(self.emit(Kind::NotEquals));
            }
            if self.accept("~") {
                return Ok(self.emit(Kind::NotMatches));
            }
            return Err(self.expected("=~"));
        }
        if self.accept("=") {
            if self.accept("~") {
                return Ok(self.emit(Kind::Matches));
            }
            return Ok(self.emit(Kind::Equals));
        }
        Err(self.expected("!="))
    }

    fn scan_quoted(&mut self) -> Result<Token, String> {
        if !self.accept("\"") {
            return Err(self.expected("\""));
        }
        let mut escaped = false;
        while let Some(r) = self.next() {
            if escaped {
                escaped = false;
            } else if r == '\\' {
                escaped = true;
            } else if r == '"' {
                self.rewind();
                break;
            }
        }
        if !self.accept("\"") {
            return Err(format!(
                "{}:{}: {}: missing end \"",
                self.column,
                self.cols,
                &self.input[self.start..self.pos]
            ));
        }
        Ok(self.emit(Kind::Quoted))
    }

    fn scan_unquoted(&mut self) -> Token {
        while let Some(r) = self.next() {
            if is_reserved(r) {
                self.rewind();
                break;
            }
        }
        self.emit(Kind::Unquoted)
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.next() {
            Some(r) if valid.contains(r) => true,
            _ => {
                self.rewind();
                false
            }
        }
    }

    fn emit(&mut self, kind: Kind) -> Token {
        let token = Token {
            kind,
            value: self.input[self.start..self.pos].to_owned(),
            column_start: self.column,
            column_end: self.cols,
        };
        self.start = self.pos;
        self.column = self.cols;
        token
    }

    fn next(&mut self) -> Option<char> {
        match self.input[self.pos..].chars().next() {
            Some(r) => {
                self.width = r.len_utf8();
                self.pos += self.width;
                self.cols += 1;
                Some(r)
            }
            None => {
                self.width = 0;
                None
            }
        }
    }

    fn rewind(&mut self) {
        self.pos -= self.width;
        if self.width > 0 {
            self.cols -= 1;
        }
    }

    fn skip(&mut self) {
        self.start = self.pos;
        self.column = self.cols;
    }
}

// ---------------------------------------------------------------- parser

const ERR_EOF: &str = "end of input";

#[derive(Clone, Copy)]
enum State {
    OpenBrace,
    CloseBrace,
    Matcher,
    EndOfMatcher,
    Comma,
    Eof,
}

/// Why `expect_peek` refused: the end of input, or a message.
enum Refusal {
    Eof,
    Other(String),
}

impl Refusal {
    fn text(self) -> String {
        match self {
            Refusal::Eof => ERR_EOF.to_owned(),
            Refusal::Other(message) => message,
        }
    }
}

fn expect_peek(l: &mut Lexer<'_>, kinds: &[Kind]) -> Result<Token, Refusal> {
    let t = l.peek().map_err(Refusal::Other)?;
    if t.kind == Kind::Eof {
        return Err(Refusal::Eof);
    }
    if !kinds.contains(&t.kind) {
        return Err(Refusal::Other(format!(
            "{}:{}: unexpected {}",
            t.column_start, t.column_end, t.value
        )));
    }
    Ok(t)
}

fn expect(l: &mut Lexer<'_>, kinds: &[Kind]) -> Result<Token, Refusal> {
    let t = expect_peek(l, kinds)?;
    l.scan().map_err(Refusal::Other)?;
    Ok(t)
}

/// Alertmanager 0.34's UTF-8 matchers parser (`parse.Matchers`).
pub fn parse_utf8(input: &str) -> Result<Matchers, String> {
    let mut l = Lexer::new(input);
    let mut matchers = Vec::new();
    let mut has_open_brace = false;
    let mut state = State::OpenBrace;
    loop {
        state = match state {
            State::OpenBrace => {
                let t = l.peek()?;
                if t.kind == Kind::Eof {
                    State::Eof
                } else {
                    if t.kind == Kind::OpenBrace {
                        has_open_brace = true;
                        l.scan()?;
                    }
                    let t = l.peek()?;
                    if t.kind == Kind::Eof || t.kind == Kind::CloseBrace {
                        State::CloseBrace
                    } else {
                        State::Matcher
                    }
                }
            }
            State::CloseBrace => {
                if has_open_brace {
                    if let Err(e) = expect(&mut l, &[Kind::CloseBrace]) {
                        return Err(format!("0:{}: {}: expected close brace", l.cols, e.text()));
                    }
                } else if expect(&mut l, &[Kind::CloseBrace]).is_ok() {
                    return Err(format!("0:{}: }}: expected opening brace", l.cols));
                }
                State::Eof
            }
            State::Matcher => {
                let t = expect(&mut l, &[Kind::Quoted, Kind::Unquoted])
                    .map_err(|e| format!("{}: expected label name", e.text()))?;
                let name = unquote_token(&t)?;
                let t = expect(
                    &mut l,
                    &[
                        Kind::Equals,
                        Kind::NotEquals,
                        Kind::Matches,
                        Kind::NotMatches,
                    ],
                )
                .map_err(|e| {
                    format!(
                        "{}: expected an operator such as '=', '!=', '=~' or '!~'",
                        e.text()
                    )
                })?;
                let op = match t.kind {
                    Kind::NotEquals => MatchType::NotEqual,
                    Kind::Matches => MatchType::Regexp,
                    Kind::NotMatches => MatchType::NotRegexp,
                    _ => MatchType::Equal,
                };
                let t = expect(&mut l, &[Kind::Unquoted, Kind::Quoted])
                    .map_err(|e| format!("{}: expected label value", e.text()))?;
                let value = unquote_token(&t)?;
                let m = Matcher::new(op, name, value)
                    .map_err(|e| format!("failed to create matcher: {e}"))?;
                matchers.push(m);
                State::EndOfMatcher
            }
            State::EndOfMatcher => match expect_peek(&mut l, &[Kind::Comma, Kind::CloseBrace]) {
                Err(Refusal::Eof) => State::CloseBrace,
                Err(Refusal::Other(e)) => {
                    return Err(format!("{e}: expected a comma or close brace"));
                }
                Ok(t) if t.kind == Kind::Comma => State::Comma,
                Ok(_) => State::CloseBrace,
            },
            State::Comma => {
                expect(&mut l, &[Kind::Comma])
                    .map_err(|e| format!("{}: expected a comma", e.text()))?;
                match expect_peek(&mut l, &[Kind::CloseBrace, Kind::Unquoted, Kind::Quoted]) {
                    Err(Refusal::Eof) => State::CloseBrace,
                    Err(Refusal::Other(e)) => {
                        return Err(format!(
                            "{e}: expected a matcher or close brace after comma"
                        ));
                    }
                    Ok(t) if t.kind == Kind::CloseBrace => State::CloseBrace,
                    Ok(_) => State::Matcher,
                }
            }
            State::Eof => {
                let t = l
                    .scan()
                    .map_err(|e| format!("{e}: expected end of input"))?;
                if t.kind != Kind::Eof {
                    return Err(format!(
                        "{}:{}: {}: expected end of input",
                        t.column_start, t.column_end, t.value
                    ));
                }
                return Ok(Matchers(matchers));
            }
        };
    }
}

fn unquote_token(t: &Token) -> Result<String, String> {
    if t.kind != Kind::Quoted {
        return Ok(t.value.clone());
    }
    let invalid = || {
        format!(
            "{}:{}: {}: invalid input",
            t.column_start, t.column_end, t.value
        )
    };
    let bytes = go_unquote(&t.value).ok_or_else(invalid)?;
    String::from_utf8(bytes).map_err(|_| invalid())
}

/// Go's `strconv.Unquote` of a double-quoted string, as bytes (escapes
/// like `\xff` need not be UTF-8); `None` where Go errors.
fn go_unquote(quoted: &str) -> Option<Vec<u8>> {
    let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = Vec::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\n' => return None,
            '\\' => {
                let e = chars.next()?;
                let simple = match e {
                    'a' => Some(7u8),
                    'b' => Some(8),
                    'f' => Some(12),
                    'n' => Some(b'\n'),
                    'r' => Some(b'\r'),
                    't' => Some(b'\t'),
                    'v' => Some(11),
                    '\\' => Some(b'\\'),
                    '"' => Some(b'"'),
                    _ => None,
                };
                if let Some(b) = simple {
                    out.push(b);
                    continue;
                }
                match e {
                    '0'..='7' => {
                        let mut v = e.to_digit(8)?;
                        for _ in 0..2 {
                            v = v * 8 + chars.next()?.to_digit(8)?;
                        }
                        out.push(u8::try_from(v).ok()?);
                    }
                    'x' => {
                        let hi = chars.next()?.to_digit(16)?;
                        let lo = chars.next()?.to_digit(16)?;
                        out.push(u8::try_from(hi * 16 + lo).ok()?);
                    }
                    'u' | 'U' => {
                        let n = if e == 'u' { 4 } else { 8 };
                        let mut v = 0u32;
                        for _ in 0..n {
                            v = v * 16 + chars.next()?.to_digit(16)?;
                        }
                        let c = char::from_u32(v)?;
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                    _ => return None,
                }
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    Some(out)
}

// ---------------------------------------------------------------- classic

/// The classic parser's list form (`labels.ParseMatchers`): optional
/// braces, commas outside double quotes separate matchers.
pub fn parse_classic(input: &str) -> Result<Matchers, String> {
    let s = input.strip_prefix('{').unwrap_or(input);
    let s = s.strip_suffix('}').unwrap_or(s);
    let mut tokens = Vec::new();
    let mut token = String::new();
    let (mut inside_quotes, mut escaped) = (false, false);
    for r in s.chars() {
        match r {
            ',' if !inside_quotes => {
                tokens.push(std::mem::take(&mut token));
                continue;
            }
            ',' => escaped = false,
            '"' => {
                if !escaped {
                    inside_quotes = !inside_quotes;
                } else {
                    escaped = false;
                }
            }
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
        token.push(r);
    }
    let last = token.trim();
    if !last.is_empty() {
        tokens.push(last.to_owned());
    }
    tokens
        .iter()
        .map(|t| parse_classic_one(t))
        .collect::<Result<Vec<_>, _>>()
        .map(Matchers)
}

/// The classic parser's single matcher (`labels.ParseMatcher`).
pub fn parse_classic_one(s: &str) -> Result<Matcher, String> {
    let bad = || format!("bad matcher format: {s}");
    let trimmed = s.trim_start();
    // Name: [a-zA-Z_:][a-zA-Z0-9_:]*
    let name_len = trimmed
        .char_indices()
        .find(|&(i, c)| {
            !(c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit()))
        })
        .map_or(trimmed.len(), |(i, _)| i);
    if name_len == 0 {
        return Err(bad());
    }
    let name = &trimmed[..name_len];
    let rest = trimmed[name_len..].trim_start();
    let (op, rest) = if let Some(r) = rest.strip_prefix("=~") {
        (MatchType::Regexp, r)
    } else if let Some(r) = rest.strip_prefix("!=") {
        (MatchType::NotEqual, r)
    } else if let Some(r) = rest.strip_prefix("!~") {
        (MatchType::NotRegexp, r)
    } else if let Some(r) = rest.strip_prefix('=') {
        (MatchType::Equal, r)
    } else {
        return Err(bad());
    };
    // Go's `\s` is ASCII whitespace.
    let raw = rest.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c'));
    let (raw_value, mut expect_trailing_quote) = match raw.strip_prefix('"') {
        Some(r) => (r, true),
        None => (raw, false),
    };
    let unescaped_quote = || format!("matcher value contains unescaped double quote: {raw}");
    let mut value = String::with_capacity(raw_value.len());
    let mut escaped = false;
    for (i, r) in raw_value.char_indices() {
        let last = i + r.len_utf8() == raw_value.len();
        if escaped {
            escaped = false;
            match r {
                'n' => value.push('\n'),
                '"' | '\\' => value.push(r),
                _ => {
                    value.push('\\');
                    value.push(r);
                }
            }
            continue;
        }
        match r {
            '\\' => {
                if !last {
                    escaped = true;
                } else {
                    value.push('\\');
                }
            }
            '"' => {
                if !expect_trailing_quote || !last {
                    return Err(unescaped_quote());
                }
                expect_trailing_quote = false;
            }
            _ => value.push(r),
        }
    }
    if expect_trailing_quote {
        return Err(unescaped_quote());
    }
    Matcher::new(op, name, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Upstream's `matcher/parse` TestMatchers, input → printed result or
    /// error text.
    #[test]
    fn utf8_parser_as_upstream() {
        let cases: &[(&str, &str)] = &[
            ("", "{}"),
            ("{}", "{}"),
            ("{foo=bar}", r#"{foo="bar"}"#),
            ("{foo=bar,}", r#"{foo="bar"}"#),
            ("{foo!=bar}", r#"{foo!="bar"}"#),
            ("{foo=~[a-z]+}", r#"{foo=~"[a-z]+"}"#),
            ("{foo!~[a-z]+}", r#"{foo!~"[a-z]+"}"#),
            ("{foo=🙂}", r#"{foo="🙂"}"#),
            ("{foo=🙂bar}", r#"{foo="🙂bar"}"#),
            ("foo=bar", r#"{foo="bar"}"#),
            ("foo=bar,", r#"{foo="bar"}"#),
            ("{\"foo\"=\"bar\"}", r#"{foo="bar"}"#),
            ("{\"foo\"=\"\\xf0\\x9f\\x99\\x82\"}", r#"{foo="🙂"}"#),
            ("{\"foo\"=\"\\U0001f642\"}", r#"{foo="🙂"}"#),
            ("{\"foo\"=\"bar\\n\"}", r#"{foo="bar\n"}"#),
            ("{\"foo\"=\"bar\\t\"}", "{foo=\"bar\t\"}"),
            ("{\"foo\"=\"\\\"bar\\\"\"}", r#"{foo="\"bar\""}"#),
            ("{\"foo\"=\"bar\\\\\"}", r#"{foo="bar\\"}"#),
            ("\"foo\"=\"bar\",", r#"{foo="bar"}"#),
            ("{foo=bar,bar!=baz}", r#"{foo="bar",bar!="baz"}"#),
            ("foo=\"bar\",bar!=\"baz\"", r#"{foo="bar",bar!="baz"}"#),
            ("{\"foo bar\"=baz}", r#"{"foo bar"="baz"}"#),
            (",", "error: 0:1: unexpected ,: expected label name"),
            ("{,}", "error: 1:2: unexpected ,: expected label name"),
            ("{", "error: 0:1: end of input: expected close brace"),
            ("}", "error: 0:1: }: expected opening brace"),
            ("foo=bar}", "error: 0:8: }: expected opening brace"),
            ("{foo=bar", "error: 0:8: end of input: expected close brace"),
            (
                "{foo=:\"bar\"}",
                "error: 6:11: unexpected \"bar\": expected a comma or close brace",
            ),
            ("{foo=\"bar\\w\"}", "error: 5:12: \"bar\\w\": invalid input"),
            (
                "{foo=bar\\n}",
                "error: 8:9: \\: invalid input: expected a comma or close brace",
            ),
            (
                "{\"foo\"=\"\\xf0\\x9f\"}",
                "error: 7:17: \"\\xf0\\x9f\": invalid input",
            ),
            (
                "{foo=\"bar}",
                "error: 5:10: \"bar}: missing end \": expected label value",
            ),
            (
                "{foo!bar}",
                "error: 4:5: !: expected one of '=~': expected an operator such as '=', '!=', '=~' or '!~'",
            ),
        ];
        for (input, want) in cases {
            let got = match parse_utf8(input) {
                Ok(ms) => ms.to_string(),
                Err(e) => format!("error: {e}"),
            };
            assert_eq!(&got, want, "input {input:?}");
        }
    }

    #[test]
    fn one_matcher_as_upstream() {
        assert_eq!(parse_utf8_one("").unwrap_err(), "no matchers");
        assert_eq!(parse_utf8_one("{}").unwrap_err(), "no matchers");
        assert_eq!(
            parse_utf8_one("foo=bar,bar=baz").unwrap_err(),
            "expected 1 matcher, found 2"
        );
        assert_eq!(
            parse_utf8_one("foo=\"\\xf0\\x9f\"").unwrap_err(),
            "4:14: \"\\xf0\\x9f\": invalid input"
        );
        assert_eq!(
            parse_matcher("{foo=bar}").unwrap_err(),
            "unexpected open or close brace: {foo=bar}"
        );
    }

    /// Upstream's `pkg/labels` TestMatchers (classic parser).
    #[test]
    fn classic_parser_as_upstream() {
        let cases: &[(&str, &str)] = &[
            ("{foo=\"bar\"}", r#"{foo="bar"}"#),
            ("{foo=~\"bar.*\"}", r#"{foo=~"bar.*"}"#),
            ("{foo!=\"bar\"}", r#"{foo!="bar"}"#),
            ("{foo!~\"bar.*\"}", r#"{foo!~"bar.*"}"#),
            ("{foo=\"bar\", baz!=\"quux\"}", r#"{baz!="quux",foo="bar"}"#),
            ("{foo=bar}", r#"{foo="bar"}"#),
            ("{foo=bar,}", r#"{foo="bar"}"#),
            ("foo=bar , baz != quux", r#"{baz!="quux",foo="bar"}"#),
            ("{foo=\"bar\\\"baz\"}", r#"{foo="bar\"baz"}"#),
            ("{foo=\"bar,baz\"}", r#"{foo="bar,baz"}"#),
            ("foo=\"a\\qb\"", r#"{foo="a\\qb"}"#),
            ("foo=a\\", r#"{foo="a\\"}"#),
            ("trickier==\\\\=\\=\\\"", r#"{trickier="=\\=\\=\""}"#),
            (
                "{foo=\"bar}",
                "error: matcher value contains unescaped double quote: \"bar",
            ),
            (
                "{foo=\"ba\"r\"}",
                "error: matcher value contains unescaped double quote: \"ba\"r\"",
            ),
            ("{1foo=bar}", "error: bad matcher format: 1foo=bar"),
            ("{foo bar}", "error: bad matcher format: foo bar"),
        ];
        for (input, want) in cases {
            let got = match parse_classic(input) {
                Ok(mut ms) => {
                    ms.sort();
                    ms.to_string()
                }
                Err(e) => format!("error: {e}"),
            };
            assert_eq!(&got, want, "input {input:?}");
        }
    }

    /// The fallback mode: the classic parser's answer where the UTF-8
    /// parser refuses; the classic parser's error when both refuse.
    #[test]
    fn fallback_mode() {
        // `foo=a b` is refused by the UTF-8 parser (space), accepted by
        // the classic parser.
        assert_eq!(
            parse_matchers("foo=a b").unwrap().to_string(),
            r#"{foo="a b"}"#
        );
        // Both refuse: the classic parser's text.
        assert_eq!(
            parse_matchers("{foo}").unwrap_err(),
            "bad matcher format: foo"
        );
        // UTF-8-only input (quoted name) is accepted.
        assert_eq!(
            parse_matchers("{\"föö bar\"=baz}").unwrap().to_string(),
            r#"{"föö bar"="baz"}"#
        );
    }
}
