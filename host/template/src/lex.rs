//! Go's `text/template/parse` lexer: text, delimiters with trim markers, comments and the tokens of actions.

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Error,
    Bool,
    Char,
    CharConstant,
    Assign,
    Declare,
    Eof,
    Field,
    Identifier,
    LeftDelim,
    LeftParen,
    Number,
    Pipe,
    RawString,
    RightDelim,
    RightParen,
    Space,
    String,
    Text,
    Variable,
    Comment,
    // Keywords.
    Block,
    Break,
    Continue,
    Dot,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

/// One token: its kind, byte offset in the source, text and line.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub kind: Kind,
    pub pos: usize,
    pub val: String,
    pub line: usize,
}

impl std::fmt::Display for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            Kind::Eof => f.write_str("EOF"),
            Kind::Error => f.write_str(&self.val),
            k if k as u8 >= Kind::Block as u8 && k != Kind::Dot && k != Kind::Nil => {
                write!(f, "<{}>", self.val)
            }
            _ => {
                if self.val.chars().count() > 10 {
                    let short: String = self.val.chars().take(10).collect();
                    write!(f, "{}...", crate::gofmt::quote(&short))
                } else {
                    f.write_str(&crate::gofmt::quote(&self.val))
                }
            }
        }
    }
}

const LEFT: &str = "{{";
const RIGHT: &str = "}}";
const LEFT_COMMENT: &str = "/*";
const RIGHT_COMMENT: &str = "*/";

/// Splits a template into tokens (all at once: Go's lexer is a goroutine-free state machine, so is this).
pub(crate) fn lex(input: &str) -> Vec<Item> {
    let mut l = Lexer {
        input,
        pos: 0,
        start: 0,
        line: 1,
        start_line: 1,
        items: Vec::new(),
        paren_depth: 0,
    };
    l.run();
    l.items
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    line: usize,
    start_line: usize,
    items: Vec<Item>,
    paren_depth: usize,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric()
}

fn keyword(s: &str) -> Option<Kind> {
    Some(match s {
        "block" => Kind::Block,
        "break" => Kind::Break,
        "continue" => Kind::Continue,
        "define" => Kind::Define,
        "else" => Kind::Else,
        "end" => Kind::End,
        "if" => Kind::If,
        "range" => Kind::Range,
        "nil" => Kind::Nil,
        "template" => Kind::Template,
        "with" => Kind::With,
        _ => return None,
    })
}

impl Lexer<'_> {
    fn rest(&self) -> &str {
        &self.input[self.pos..]
    }

    fn next(&mut self) -> Option<char> {
        let c = self.rest().chars().next()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn backup(&mut self, c: char) {
        self.pos -= c.len_utf8();
        if c == '\n' {
            self.line -= 1;
        }
    }

    fn emit(&mut self, kind: Kind) {
        let val = self.input[self.start..self.pos].to_string();
        self.items.push(Item {
            kind,
            pos: self.start,
            val,
            line: self.start_line,
        });
        self.start = self.pos;
        self.start_line = self.line;
    }

    fn ignore(&mut self) {
        self.start = self.pos;
        self.start_line = self.line;
    }

    fn error(&mut self, msg: String) {
        self.items.push(Item {
            kind: Kind::Error,
            pos: self.start,
            val: msg,
            line: self.start_line,
        });
    }

    fn run(&mut self) {
        loop {
            if !self.lex_text() {
                return;
            }
            match self.lex_left_delim() {
                Some(true) => {
                    if !self.lex_inside() {
                        return;
                    }
                }
                Some(false) => {}
                None => return,
            }
        }
    }

    /// Text up to the next left delimiter; returns false at EOF (after emitting it).
    fn lex_text(&mut self) -> bool {
        if let Some(x) = self.rest().find(LEFT) {
            let delim_at = self.pos + x;
            let mut text_end = delim_at;
            if has_left_trim(&self.input[delim_at + LEFT.len()..]) {
                let trimmed = self.input[self.start..text_end].trim_end_matches(is_space);
                text_end = self.start + trimmed.len();
            }
            self.line += self.input[self.pos..delim_at].matches('\n').count();
            self.pos = text_end;
            if self.pos > self.start {
                self.emit(Kind::Text);
            }
            self.pos = delim_at;
            self.start = delim_at;
            self.start_line = self.line;
            true
        } else {
            self.line += self.rest().matches('\n').count();
            self.pos = self.input.len();
            if self.pos > self.start {
                self.emit(Kind::Text);
            }
            self.emit(Kind::Eof);
            false
        }
    }

    fn at_right_delim(&self) -> (bool, bool) {
        let r = self.rest();
        if r.starts_with(" -}}")
            || r.starts_with("\t-}}")
            || r.starts_with("\r-}}")
            || r.starts_with("\n-}}")
        {
            return (true, true);
        }
        (r.starts_with(RIGHT), false)
    }

    /// Some(true): an action follows; Some(false): a comment was consumed; None: an error.
    fn lex_left_delim(&mut self) -> Option<bool> {
        self.pos += LEFT.len();
        let trim = has_left_trim(self.rest());
        let after_marker = if trim { 2 } else { 0 };
        if self.rest()[after_marker..].starts_with(LEFT_COMMENT) {
            self.pos += after_marker;
            self.ignore();
            return if self.lex_comment() {
                Some(false)
            } else {
                None
            };
        }
        self.emit(Kind::LeftDelim);
        self.pos += after_marker;
        self.ignore();
        self.paren_depth = 0;
        Some(true)
    }

    fn lex_comment(&mut self) -> bool {
        self.pos += LEFT_COMMENT.len();
        let Some(x) = self.rest().find(RIGHT_COMMENT) else {
            self.error("unclosed comment".into());
            return false;
        };
        self.line += self.rest()[..x].matches('\n').count();
        self.pos += x + RIGHT_COMMENT.len();
        let (delim, trim) = self.at_right_delim();
        if !delim {
            self.error("comment ends before closing delimiter".into());
            return false;
        }
        self.emit(Kind::Comment);
        if trim {
            self.pos += 2;
        }
        self.pos += RIGHT.len();
        if trim {
            self.skip_trailing_space();
        }
        self.ignore();
        true
    }

    fn skip_trailing_space(&mut self) {
        let n = self.rest().len() - self.rest().trim_start_matches(is_space).len();
        self.line += self.rest()[..n].matches('\n').count();
        self.pos += n;
    }

    fn lex_right_delim(&mut self, trim: bool) {
        if trim {
            self.pos += 1; // the space
            self.ignore();
            self.pos += 1; // the '-'
            self.ignore();
        }
        self.pos += RIGHT.len();
        self.emit(Kind::RightDelim);
        if trim {
            self.skip_trailing_space();
            self.ignore();
        }
    }

    /// Inside an action; returns false after an error.
    fn lex_inside(&mut self) -> bool {
        loop {
            let (delim, trim) = self.at_right_delim();
            if delim {
                if self.paren_depth == 0 {
                    self.lex_right_delim(trim);
                    return true;
                }
                self.error("unclosed left paren".into());
                return false;
            }
            let Some(c) = self.next() else {
                self.error("unclosed action".into());
                return false;
            };
            match c {
                c if is_space(c) => {
                    self.backup(c);
                    self.lex_space();
                }
                '=' => self.emit(Kind::Assign),
                ':' => {
                    if self.next() != Some('=') {
                        self.error("expected :=".into());
                        return false;
                    }
                    self.emit(Kind::Declare);
                }
                '|' => self.emit(Kind::Pipe),
                '"' => {
                    if !self.lex_quote() {
                        return false;
                    }
                }
                '`' => {
                    if !self.lex_raw_quote() {
                        return false;
                    }
                }
                '$' => {
                    if !self.lex_field_or_variable(Kind::Variable) {
                        return false;
                    }
                }
                '\'' => {
                    if !self.lex_char() {
                        return false;
                    }
                }
                '.' => {
                    if let Some(d) = self.peek()
                        && d.is_ascii_digit()
                    {
                        self.backup(c);
                        if !self.lex_number() {
                            return false;
                        }
                    } else if !self.lex_field_or_variable(Kind::Field) {
                        return false;
                    }
                }
                '+' | '-' | '0'..='9' => {
                    self.backup(c);
                    if !self.lex_number() {
                        return false;
                    }
                }
                c if is_alnum(c) => {
                    self.backup(c);
                    if !self.lex_identifier() {
                        return false;
                    }
                }
                '(' => {
                    self.emit(Kind::LeftParen);
                    self.paren_depth += 1;
                }
                ')' => {
                    self.emit(Kind::RightParen);
                    if self.paren_depth == 0 {
                        self.error(format!(
                            "unexpected right paren {}",
                            crate::gofmt::unicode_name(c)
                        ));
                        return false;
                    }
                    self.paren_depth -= 1;
                }
                ',' => self.emit(Kind::Char),
                c if c.is_ascii() && !c.is_ascii_control() => self.emit(Kind::Char),
                c => {
                    self.error(format!(
                        "unrecognized character in action: {}",
                        crate::gofmt::unicode_name(c)
                    ));
                    return false;
                }
            }
        }
    }

    fn lex_space(&mut self) {
        let mut n = 0;
        while let Some(c) = self.peek() {
            if !is_space(c) {
                break;
            }
            // A space followed by "-}}" is a trim marker: leave it.
            if self.rest()[c.len_utf8()..].starts_with("-}}") {
                if n == 0 {
                    // Only a trim marker: nothing to emit.
                    return;
                }
                break;
            }
            self.next();
            n += 1;
        }
        self.emit(Kind::Space);
    }

    fn lex_identifier(&mut self) -> bool {
        while let Some(c) = self.peek() {
            if !is_alnum(c) {
                break;
            }
            self.next();
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or(' ');
            self.error(format!("bad character {}", crate::gofmt::unicode_name(c)));
            return false;
        }
        let word = &self.input[self.start..self.pos];
        let kind = if let Some(k) = keyword(word) {
            k
        } else if word.starts_with('.') {
            Kind::Field
        } else if word == "true" || word == "false" {
            Kind::Bool
        } else {
            Kind::Identifier
        };
        self.emit(kind);
        true
    }

    fn lex_field_or_variable(&mut self, kind: Kind) -> bool {
        if self.at_terminator() {
            if kind == Kind::Variable {
                self.emit(Kind::Variable);
            } else {
                self.emit(Kind::Dot);
            }
            return true;
        }
        while let Some(c) = self.peek() {
            if !is_alnum(c) {
                break;
            }
            self.next();
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or(' ');
            self.error(format!("bad character {}", crate::gofmt::unicode_name(c)));
            return false;
        }
        self.emit(kind);
        true
    }

    fn at_terminator(&self) -> bool {
        let Some(c) = self.peek() else { return true };
        if is_space(c) {
            return true;
        }
        if matches!(c, '.' | ',' | '|' | ':' | ')' | '(') {
            return true;
        }
        self.rest().starts_with(RIGHT)
    }

    fn lex_char(&mut self) -> bool {
        loop {
            match self.next() {
                Some('\\') => {
                    if self.next().is_some_and(|c| c != '\n') {
                        continue;
                    }
                    self.error("unterminated character constant".into());
                    return false;
                }
                None | Some('\n') => {
                    self.error("unterminated character constant".into());
                    return false;
                }
                Some('\'') => break,
                Some(_) => {}
            }
        }
        self.emit(Kind::CharConstant);
        true
    }

    fn lex_number(&mut self) -> bool {
        if let Some(c) = self.peek()
            && (c == '+' || c == '-')
        {
            self.next();
        }
        let mut digits = "0123456789_";
        if self.rest().starts_with('0') {
            let r = &self.rest()[1..];
            if r.starts_with(['x', 'X']) {
                self.pos += 2;
                digits = "0123456789abcdefABCDEF_";
            } else if r.starts_with(['o', 'O']) {
                self.pos += 2;
                digits = "01234567_";
            } else if r.starts_with(['b', 'B']) {
                self.pos += 2;
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.peek() == Some('.') {
            self.next();
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.peek().is_some_and(|c| c == 'e' || c == 'E') {
            self.next();
            if self.peek().is_some_and(|c| c == '+' || c == '-') {
                self.next();
            }
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.peek().is_some_and(|c| c == 'p' || c == 'P') {
            self.next();
            if self.peek().is_some_and(|c| c == '+' || c == '-') {
                self.next();
            }
            self.accept_run("0123456789_");
        }
        if self.peek() == Some('i') {
            self.next();
        }
        if self.peek().is_some_and(is_alnum) {
            self.next();
            let text = self.input[self.start..self.pos].to_string();
            self.error(format!("bad number syntax: {}", crate::gofmt::quote(&text)));
            return false;
        }
        self.emit(Kind::Number);
        true
    }

    fn accept_run(&mut self, valid: &str) {
        while let Some(c) = self.peek() {
            if !valid.contains(c) {
                break;
            }
            self.next();
        }
    }

    fn lex_quote(&mut self) -> bool {
        loop {
            match self.next() {
                Some('\\') => {
                    if self.next().is_some_and(|c| c != '\n') {
                        continue;
                    }
                    self.error("unterminated quoted string".into());
                    return false;
                }
                None | Some('\n') => {
                    self.error("unterminated quoted string".into());
                    return false;
                }
                Some('"') => break,
                Some(_) => {}
            }
        }
        self.emit(Kind::String);
        true
    }

    fn lex_raw_quote(&mut self) -> bool {
        let Some(x) = self.rest().find('`') else {
            self.error("unterminated raw quoted string".into());
            return false;
        };
        self.line += self.rest()[..x].matches('\n').count();
        self.pos += x + 1;
        self.emit(Kind::RawString);
        true
    }
}

fn has_left_trim(s: &str) -> bool {
    let mut it = s.chars();
    it.next() == Some('-') && it.next().is_some_and(is_space)
}
