//! The hand-written PromQL lexer that feeds the lalrpop grammar. PromQL's
//! tokens depend on context (inside `{}` keywords are label names, inside
//! `[]` only duration arithmetic is allowed, `5m` is a duration but `5` a
//! number), which a generated lexer cannot express; this follows
//! Prometheus' `promql/parser/lex.go`, including its error wording.

use std::fmt;

/// A string literal as written (`raw`, with quotes) and as decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct StrLit {
    pub raw: String,
    pub bytes: Vec<u8>,
}

/// A token. Keywords are matched case-insensitively; the text as written is
/// taken from the input by position where it matters (metric names).
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    /// An identifier containing `:` (only valid as a metric name).
    MetricIdent(String),
    Number(String),
    Duration(String),
    Str(StrLit),
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Colon,
    Eql,
    EqlRegex,
    NeqRegex,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    EqlC,
    Neq,
    Lte,
    Lss,
    Gte,
    Gtr,
    /// `</` and `>/`, the histogram trim operators.
    TrimUpper,
    TrimLower,
    At,
    And,
    Or,
    Unless,
    Atan2,
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    CountValues,
    Quantile,
    Limitk,
    LimitRatio,
    Offset,
    Smoothed,
    Anchored,
    By,
    Without,
    On,
    Ignoring,
    GroupLeft,
    GroupRight,
    /// `group_left` directly followed by `(`: the parenthesis opens its
    /// label list, never the right-hand side (yacc's shift preference in
    /// Prometheus; an LR(1) grammar cannot express it).
    GroupLeftLabels,
    GroupRightLabels,
    Bool,
    Start,
    End,
    Step,
    Range,
    MinOf,
    MaxOf,
    /// `fill`, `fill_left`, `fill_right` are keywords only when followed
    /// by `(`, so they stay usable as metric names.
    Fill,
    FillLeft,
    FillRight,
}

/// A lexing error at a byte position.
#[derive(Debug, Clone, PartialEq)]
pub struct LexError {
    pub pos: usize,
    pub message: String,
}

fn keyword(word: &str) -> Option<Tok> {
    Some(match word.to_ascii_lowercase().as_str() {
        "and" => Tok::And,
        "or" => Tok::Or,
        "unless" => Tok::Unless,
        "atan2" => Tok::Atan2,
        "sum" => Tok::Sum,
        "avg" => Tok::Avg,
        "count" => Tok::Count,
        "min" => Tok::Min,
        "max" => Tok::Max,
        "group" => Tok::Group,
        "stddev" => Tok::Stddev,
        "stdvar" => Tok::Stdvar,
        "topk" => Tok::Topk,
        "bottomk" => Tok::Bottomk,
        "count_values" => Tok::CountValues,
        "quantile" => Tok::Quantile,
        "limitk" => Tok::Limitk,
        "limit_ratio" => Tok::LimitRatio,
        "offset" => Tok::Offset,
        "smoothed" => Tok::Smoothed,
        "anchored" => Tok::Anchored,
        "by" => Tok::By,
        "without" => Tok::Without,
        "on" => Tok::On,
        "ignoring" => Tok::Ignoring,
        "group_left" => Tok::GroupLeft,
        "group_right" => Tok::GroupRight,
        "bool" => Tok::Bool,
        "start" => Tok::Start,
        "end" => Tok::End,
        "step" => Tok::Step,
        "range" => Tok::Range,
        "min_of" => Tok::MinOf,
        "max_of" => Tok::MaxOf,
        "fill" => Tok::Fill,
        "fill_left" => Tok::FillLeft,
        "fill_right" => Tok::FillRight,
        "inf" | "nan" => Tok::Number(word.to_owned()),
        _ => return None,
    })
}

impl Tok {
    /// How Prometheus describes the token in "unexpected …" errors
    /// (`Item.desc()`); `text` is the token as written.
    pub fn describe(&self, text: &str) -> String {
        use Tok::*;
        let truncated = || {
            if text.len() > 10 {
                let head: String = text.chars().take(10).collect();
                format!("{}...", go_quote(head.as_bytes()))
            } else {
                go_quote(text.as_bytes())
            }
        };
        match self {
            Ident(s) => format!("identifier {}", go_quote(s.as_bytes())),
            MetricIdent(s) => format!("metric identifier {}", go_quote(s.as_bytes())),
            Number(_) => format!("number {}", truncated()),
            Duration(_) => format!("duration {}", truncated()),
            Str(_) => format!("string {}", truncated()),
            Offset | Smoothed | Anchored | By | Without | On | Ignoring | GroupLeft
            | GroupRight | GroupLeftLabels | GroupRightLabels | Bool | Fill | FillLeft
            | FillRight => format!("<{text}>"),
            Add | Sub | Mul | Div | Mod | Pow | EqlC | Neq | Lte | Lss | Gte | Gtr | At
            | TrimUpper | TrimLower | EqlRegex | NeqRegex | And | Or | Unless | Atan2 => {
                format!("<op:{text}>")
            }
            Sum | Avg | Count | Min | Max | Group | Stddev | Stdvar | Topk | Bottomk
            | CountValues | Quantile | Limitk | LimitRatio => format!("<aggr:{text}>"),
            Start | End | Step | Range | MinOf | MaxOf | LParen | RParen | LBrace | RBrace
            | LBracket | RBracket | Comma | Colon | Eql => go_quote(text.as_bytes()),
        }
    }
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

/// Go's `strconv.Quote` (`%q`), the one copy in `wasmetheus_model::go`.
pub use wasmetheus_model::go::quote_bytes as go_quote;

fn is_alpha(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_alnum(c: char) -> bool {
    is_alpha(c) || c.is_ascii_digit()
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

pub type Spanned = Result<(usize, Tok, usize), LexError>;

/// The lexer: an iterator of `(start, token, end)` in bytes.
pub struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    paren_depth: i32,
    brace_open: bool,
    bracket_open: bool,
    done: bool,
}

impl<'a> Lexer<'a> {
    pub fn new(input: &'a str) -> Self {
        Lexer {
            input,
            pos: 0,
            paren_depth: 0,
            brace_open: false,
            bracket_open: false,
            done: false,
        }
    }

    fn peek(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.peek() {
            Some(c) if valid.contains(c) => {
                self.pos += c.len_utf8();
                true
            }
            _ => false,
        }
    }

    fn error<T>(&mut self, pos: usize, message: impl Into<String>) -> Option<Result<T, LexError>> {
        self.done = true;
        Some(Err(LexError {
            pos,
            message: message.into(),
        }))
    }

    /// Skips whitespace and `#` comments (which run to the end of the line).
    fn skip_trivia(&mut self) {
        loop {
            match self.peek() {
                Some(c) if is_space(c) => self.pos += 1,
                Some('#') => {
                    while let Some(c) = self.peek()
                        && c != '\n'
                        && c != '\r'
                    {
                        self.pos += c.len_utf8();
                    }
                }
                _ => return,
            }
        }
    }

    /// Whether the next non-blank character is `(`.
    fn followed_by_paren(&self) -> bool {
        self.input[self.pos..]
            .trim_start_matches(is_space)
            .starts_with('(')
    }

    /// Go's `scanNumber`: decimal, hexadecimal, with `.`, exponents and
    /// `_` separators. Leaves `pos` where scanning stopped.
    fn scan_number(&mut self) -> bool {
        let initial = self.pos;
        let mut digits = "0123456789";
        if self.accept("0") {
            if self.accept("xX") {
                self.accept("_");
                digits = "0123456789abcdefABCDEF";
            } else {
                self.pos = initial;
            }
        }
        self.accept(".");
        self.accept(digits);
        let (mut dot, mut exponent) = (false, false);
        let all = format!("{digits}._eE");
        while let Some(c) = self.peek().filter(|c| all.contains(*c)) {
            if c == '.' && dot || "eE".contains(c) && exponent {
                self.pos += 1;
                return false;
            }
            if self.accept(".") {
                dot = true;
                if self.accept("_.") {
                    return false;
                }
                if digits.len() > 10 {
                    return false;
                }
                continue;
            }
            if self.accept("eE") {
                exponent = true;
                self.accept("+-");
                if self.accept("._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            if self.accept("_") {
                if self.accept("._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            while self.accept(digits) {}
        }
        if self.pos == initial {
            return false;
        }
        !self.peek().is_some_and(is_alnum)
    }

    /// Go's `acceptRemainingDuration`, after the leading digits.
    fn accept_remaining_duration(&mut self) -> bool {
        if !self.accept("smhdwy") {
            return false;
        }
        self.accept("s");
        while self.accept("0123456789") {
            while self.accept("0123456789") {}
            if !self.accept("smhdw") {
                return false;
            }
            self.accept("s");
        }
        // Consume the character that ends the duration, as Go does, so a
        // bad one is part of the error text.
        match self.bump() {
            Some(c) if is_alnum(c) => false,
            Some(c) => {
                self.pos -= c.len_utf8();
                true
            }
            None => true,
        }
    }

    fn number_or_duration(&mut self, start: usize) -> Option<Spanned> {
        if self.scan_number() {
            let text = self.input[start..self.pos].to_owned();
            return Some(Ok((start, Tok::Number(text), self.pos)));
        }
        if self.accept_remaining_duration() {
            let text = self.input[start..self.pos].to_owned();
            return Some(Ok((start, Tok::Duration(text), self.pos)));
        }
        let text = &self.input[start..self.pos];
        let msg = format!(
            "bad number or duration syntax: {}",
            go_quote(text.as_bytes())
        );
        self.error(start, msg)
    }

    /// A quoted string; the opening quote is at `start`.
    fn string(&mut self, start: usize, quote: char) -> Option<Spanned> {
        let mut bytes = Vec::new();
        loop {
            let Some(c) = self.bump() else {
                let msg = if quote == '`' {
                    "unterminated raw string"
                } else {
                    "unterminated quoted string"
                };
                return self.error(start, msg);
            };
            if c == quote {
                break;
            }
            if quote == '`' {
                let mut buf = [0; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            match c {
                '\n' => return self.error(start, "unterminated quoted string"),
                '\\' => {
                    if let Err(msg) = self.escape(quote, &mut bytes) {
                        return self.error(start, msg);
                    }
                }
                c => {
                    let mut buf = [0; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        let raw = self.input[start..self.pos].to_owned();
        Some(Ok((start, Tok::Str(StrLit { raw, bytes }), self.pos)))
    }

    /// A Go escape sequence after `\` (Go's `lexEscape` plus decoding).
    fn escape(&mut self, quote: char, out: &mut Vec<u8>) -> Result<(), String> {
        let Some(c) = self.bump() else {
            return Err("escape sequence not terminated".into());
        };
        let simple = match c {
            'a' => Some(b'\x07'),
            'b' => Some(b'\x08'),
            'f' => Some(b'\x0c'),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(b'\x0b'),
            '\\' => Some(b'\\'),
            c if c == quote => Some(c as u8),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            return Ok(());
        }
        let (n, base, max, first) = match c {
            '0'..='7' => (3, 8, 255, c),
            'x' | 'u' | 'U' => {
                let n = match c {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let max = if c == 'x' { 255 } else { 0x10ffff };
                match self.bump() {
                    Some(d) => (n, 16, max, d),
                    None => return Err("escape sequence not terminated".into()),
                }
            }
            c => return Err(format!("unknown escape sequence {}", go_unicode(c))),
        };
        let mut value: u32 = 0;
        let mut ch = first;
        for i in 0..n {
            let Some(d) = ch.to_digit(16).filter(|d| *d < base) else {
                return Err(format!(
                    "illegal character {} in escape sequence",
                    go_unicode(ch)
                ));
            };
            value = value * base + d;
            if i + 1 < n {
                match self.bump() {
                    Some(next) => ch = next,
                    None => return Err("escape sequence not terminated".into()),
                }
            }
        }
        if value > max || (0xd800..0xe000).contains(&value) {
            return Err("escape sequence is an invalid Unicode code point".into());
        }
        if c == 'u' || c == 'U' {
            let ch = char::from_u32(value).unwrap_or('\u{fffd}');
            let mut buf = [0; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        } else {
            // Octal and `\x` escapes are single bytes, as in Go.
            out.push(value as u8);
        }
        Ok(())
    }

    fn inside_braces(&mut self) -> Option<Spanned> {
        self.skip_trivia();
        let start = self.pos;
        let Some(c) = self.bump() else {
            return self.error(start, "unexpected end of input inside braces");
        };
        let tok = match c {
            c if is_alpha(c) => {
                while self.peek().is_some_and(is_alnum) {
                    self.pos += 1;
                }
                Tok::Ident(self.input[start..self.pos].to_owned())
            }
            ',' => Tok::Comma,
            '"' | '\'' | '`' => return self.string(start, c),
            '=' => {
                if self.accept("~") {
                    Tok::EqlRegex
                } else {
                    Tok::Eql
                }
            }
            '!' => match self.bump() {
                Some('~') => Tok::NeqRegex,
                Some('=') => Tok::Neq,
                other => {
                    let msg = format!(
                        "unexpected character after '!' inside braces: {}",
                        go_char(other)
                    );
                    return self.error(start, msg);
                }
            },
            '{' => return self.error(start, "unexpected left brace '{'"),
            '}' => {
                self.brace_open = false;
                Tok::RBrace
            }
            c => {
                let msg = format!("unexpected character inside braces: {}", go_char(Some(c)));
                return self.error(start, msg);
            }
        };
        Some(Ok((start, tok, self.pos)))
    }

    /// Inside `[...]`: duration arithmetic only.
    fn inside_brackets(&mut self) -> Option<Spanned> {
        self.skip_trivia();
        let start = self.pos;
        let Some(c) = self.bump() else {
            return self.error(start, "unexpected end of input in duration expression");
        };
        let tok = match c {
            ']' => {
                self.bracket_open = false;
                Tok::RBracket
            }
            ':' => Tok::Colon,
            '(' => {
                self.paren_depth += 1;
                Tok::LParen
            }
            ')' => {
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.error(self.pos, "unexpected right parenthesis ')'");
                }
                Tok::RParen
            }
            '+' => Tok::Add,
            '-' => Tok::Sub,
            '*' => Tok::Mul,
            '/' => Tok::Div,
            '%' => Tok::Mod,
            '^' => Tok::Pow,
            ',' => Tok::Comma,
            c if c.is_ascii_digit()
                || c == '.' && self.peek().is_some_and(|d| d.is_ascii_digit()) =>
            {
                self.pos = start;
                return self.number_or_duration(start);
            }
            c if is_alpha(c) => {
                while self.peek().is_some_and(is_alnum) {
                    self.pos += 1;
                }
                match keyword(&self.input[start..self.pos]) {
                    Some(t @ (Tok::Step | Tok::Range | Tok::MinOf | Tok::MaxOf)) => t,
                    _ => {
                        let msg = format!(
                            "unexpected character in duration expression: {}",
                            go_char(Some(c))
                        );
                        return self.error(start, msg);
                    }
                }
            }
            c => {
                let msg = format!(
                    "unexpected character in duration expression: {}",
                    go_char(Some(c))
                );
                return self.error(start, msg);
            }
        };
        Some(Ok((start, tok, self.pos)))
    }

    fn statement(&mut self) -> Option<Spanned> {
        self.skip_trivia();
        let start = self.pos;
        let Some(c) = self.bump() else {
            if self.paren_depth != 0 {
                return self.error(start, "unclosed left parenthesis");
            }
            self.done = true;
            return None;
        };
        let tok = match c {
            ',' => Tok::Comma,
            '*' => Tok::Mul,
            '/' => Tok::Div,
            '%' => Tok::Mod,
            '+' => Tok::Add,
            '-' => Tok::Sub,
            '^' => Tok::Pow,
            '@' => Tok::At,
            '=' => match self.peek() {
                Some('=') => {
                    self.pos += 1;
                    Tok::EqlC
                }
                Some('~') => {
                    return self.error(start, "unexpected character after '=': '~'");
                }
                _ => Tok::Eql,
            },
            '!' => match self.bump() {
                Some('=') => Tok::Neq,
                other => {
                    let msg = format!("unexpected character after '!': {}", go_char(other));
                    return self.error(start, msg);
                }
            },
            '<' => {
                if self.accept("/") {
                    Tok::TrimUpper
                } else if self.accept("=") {
                    Tok::Lte
                } else {
                    Tok::Lss
                }
            }
            '>' => {
                if self.accept("/") {
                    Tok::TrimLower
                } else if self.accept("=") {
                    Tok::Gte
                } else {
                    Tok::Gtr
                }
            }
            c if c.is_ascii_digit()
                || c == '.' && self.peek().is_some_and(|d| d.is_ascii_digit()) =>
            {
                self.pos = start;
                return self.number_or_duration(start);
            }
            '"' | '\'' | '`' => return self.string(start, c),
            c if is_alpha(c) || c == ':' => {
                while self.peek().is_some_and(|c| is_alnum(c) || c == ':') {
                    self.pos += 1;
                }
                let word = &self.input[start..self.pos];
                match keyword(word) {
                    Some(Tok::GroupLeft) if self.followed_by_paren() => Tok::GroupLeftLabels,
                    Some(Tok::GroupRight) if self.followed_by_paren() => Tok::GroupRightLabels,
                    Some(Tok::Fill | Tok::FillLeft | Tok::FillRight)
                        if !self.followed_by_paren() =>
                    {
                        Tok::Ident(word.to_owned())
                    }
                    Some(t) => t,
                    None if word.contains(':') => Tok::MetricIdent(word.to_owned()),
                    None => Tok::Ident(word.to_owned()),
                }
            }
            '(' => {
                self.paren_depth += 1;
                Tok::LParen
            }
            ')' => {
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.error(self.pos, "unexpected right parenthesis ')'");
                }
                Tok::RParen
            }
            '{' => {
                self.brace_open = true;
                Tok::LBrace
            }
            '}' => return self.error(start, "unexpected character: '}'"),
            '[' => {
                self.bracket_open = true;
                Tok::LBracket
            }
            ']' => return self.error(start, "unexpected right bracket ']'"),
            c => {
                let msg = format!("unexpected character: {}", go_char(Some(c)));
                return self.error(start, msg);
            }
        };
        Some(Ok((start, tok, self.pos)))
    }
}

/// The quoted string (double, single or back quotes, Go's escapes) at the
/// very start of `text`, decoded, and the rest of `text` after it.
pub fn unquote(text: &str) -> Result<(String, &str), String> {
    if !text.starts_with(['"', '\'', '`']) {
        let found = text
            .chars()
            .next()
            .map_or("end of line".into(), String::from);
        return Err(format!("expected a quoted string, found {found:?}"));
    }
    match Lexer::new(text).next() {
        Some(Ok((_, Tok::Str(s), end))) => {
            Ok((String::from_utf8_lossy(&s.bytes).into_owned(), &text[end..]))
        }
        Some(Err(e)) => Err(e.message),
        _ => Err("expected a quoted string".into()),
    }
}

/// A rune as Go's `%q` prints it.
fn go_char(c: Option<char>) -> String {
    match c {
        None => "'\\x00'".into(),
        Some('\'') => "'\\''".into(),
        Some(c) => {
            let mut buf = [0; 4];
            let quoted = go_quote(c.encode_utf8(&mut buf).as_bytes());
            let inner = &quoted[1..quoted.len() - 1];
            let inner = if inner == "\\\"" { "\"" } else { inner };
            format!("'{inner}'")
        }
    }
}

/// A rune as Go's `%#U` prints it: `U+0071 'q'`.
fn go_unicode(c: char) -> String {
    format!("U+{:04X} {}", c as u32, go_char(Some(c)))
}

impl Iterator for Lexer<'_> {
    type Item = Spanned;

    fn next(&mut self) -> Option<Spanned> {
        if self.done {
            return None;
        }
        if self.brace_open {
            self.inside_braces()
        } else if self.bracket_open {
            self.inside_brackets()
        } else {
            self.statement()
        }
    }
}
