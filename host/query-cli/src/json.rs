//! The JSON of answers, read as promtool's decoder (jsoniter) needs it:
//! a reader that keeps where each value is in the body (jsoniter's errors
//! quote the bytes around where it stopped) and the text of numbers
//! (`model.Time` parses it as text), which serde_json's `Value` loses; and
//! jsoniter's error texts themselves.

use std::ops::Range;

/// A value and where it is in the body.
pub(crate) struct Node {
    pub(crate) span: Range<usize>,
    pub(crate) kind: Kind,
}

/// What a [`Node`] is.
pub(crate) enum Kind {
    Null,
    Bool,
    Number(String),
    Str(String),
    Array(Vec<Node>),
    /// In document order, duplicates kept (the last one wins, as in Go).
    Object(Vec<(String, Node)>),
}

/// Deeper nesting than any API answer has is refused, not recursed into.
const MAX_DEPTH: usize = 256;

/// Parses a whole body; the error is ours (where and what), not jsoniter's.
pub(crate) fn parse(b: &[u8]) -> Result<Node, String> {
    let mut p = Parser { b, i: 0 };
    p.ws();
    let node = p.value(0)?;
    p.ws();
    if p.i != b.len() {
        return Err(p.error("trailing data after the answer"));
    }
    Ok(node)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> String {
        format!("invalid JSON at byte {}: {what}", self.i)
    }

    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\n' | b'\t' | b'\r') {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.ws();
        let start = self.i;
        let kind = match self.b.get(self.i) {
            None => return Err(self.error("unexpected end")),
            Some(b'{') => {
                self.i += 1;
                let mut fields = Vec::new();
                if !self.eat(b'}') {
                    loop {
                        self.ws();
                        if self.b.get(self.i) != Some(&b'"') {
                            return Err(self.error("expected a string key"));
                        }
                        let key = self.string()?;
                        if !self.eat(b':') {
                            return Err(self.error("expected ':'"));
                        }
                        let value = self.value(depth + 1)?;
                        fields.push((key, value));
                        if self.eat(b',') {
                            continue;
                        }
                        if self.eat(b'}') {
                            break;
                        }
                        return Err(self.error("expected ',' or '}'"));
                    }
                }
                Kind::Object(fields)
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                if !self.eat(b']') {
                    loop {
                        items.push(self.value(depth + 1)?);
                        if self.eat(b',') {
                            continue;
                        }
                        if self.eat(b']') {
                            break;
                        }
                        return Err(self.error("expected ',' or ']'"));
                    }
                }
                Kind::Array(items)
            }
            Some(b'"') => Kind::Str(self.string()?),
            Some(b't') => self.word("true", Kind::Bool)?,
            Some(b'f') => self.word("false", Kind::Bool)?,
            Some(b'n') => self.word("null", Kind::Null)?,
            Some(b'-' | b'0'..=b'9') => {
                while self.i < self.b.len()
                    && matches!(
                        self.b[self.i],
                        b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
                    )
                {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.b[start..self.i]).unwrap_or_default();
                if text.parse::<f64>().is_err() {
                    return Err(self.error("invalid number"));
                }
                Kind::Number(text.to_owned())
            }
            Some(_) => return Err(self.error("unexpected character")),
        };
        Ok(Node {
            span: start..self.i,
            kind,
        })
    }

    fn word(&mut self, word: &str, kind: Kind) -> Result<Kind, String> {
        if self.b[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(kind)
        } else {
            Err(self.error("unexpected word"))
        }
    }

    /// A string at `self.i` (its opening quote); invalid UTF-8 and lone
    /// surrogates become U+FFFD, as Go decodes them.
    fn string(&mut self) -> Result<String, String> {
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.b.get(self.i) else {
                return Err(self.error("unterminated string"));
            };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.b.get(self.i) else {
                        return Err(self.error("unterminated string"));
                    };
                    self.i += 1;
                    let simple = match e {
                        b'"' => Some(b'"'),
                        b'\\' => Some(b'\\'),
                        b'/' => Some(b'/'),
                        b'b' => Some(8),
                        b'f' => Some(12),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        b'u' => None,
                        _ => return Err(self.error("invalid escape")),
                    };
                    if let Some(byte) = simple {
                        out.push(byte);
                        continue;
                    }
                    let first = self.hex4()?;
                    let c = if (0xD800..0xDC00).contains(&first)
                        && self.b[self.i..].starts_with(b"\\u")
                    {
                        let save = self.i;
                        self.i += 2;
                        let second = self.hex4()?;
                        if (0xDC00..0xE000).contains(&second) {
                            char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
                        } else {
                            self.i = save;
                            None
                        }
                    } else {
                        char::from_u32(first)
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.unwrap_or('\u{FFFD}').encode_utf8(&mut buf).as_bytes());
                }
                c if c < 0x20 => return Err(self.error("control character in string")),
                c => out.push(c),
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .b
            .get(self.i..self.i + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u32::from_str_radix(d, 16).ok())
            .ok_or_else(|| self.error("invalid \\u escape"))?;
        self.i += 4;
        Ok(digits)
    }
}

/// jsoniter's `Iterator.ReportError`: the message, then the ten and fifty
/// bytes either side of where decoding stopped.
pub(crate) fn jsoniter_error(buf: &[u8], head: usize, operation: &str, message: &str) -> String {
    let head = head.min(buf.len());
    let peek_start = head.saturating_sub(10);
    let peek = &buf[peek_start..(head + 10).min(buf.len())];
    let context = &buf[head.saturating_sub(50)..(head + 50).min(buf.len())];
    format!(
        "{operation}: {message}, error found in #{} byte of ...|{}|..., bigger context ...|{}|...",
        head - peek_start,
        String::from_utf8_lossy(peek),
        String::from_utf8_lossy(context)
    )
}

/// jsoniter's complaint when a slice is decoded from nothing (a null or
/// missing `json.RawMessage`).
pub(crate) fn empty_slice_error(type_name: &str) -> String {
    format!(
        "{type_name}: {}",
        jsoniter_error(b"", 0, "decode slice", "expect [ or n, but found \0")
    )
}

/// jsoniter's complaint when a slice is decoded from something else:
/// `data` is the raw value, its first byte the culprit.
pub(crate) fn not_a_slice_error(type_name: &str, data: &[u8]) -> String {
    let found = String::from_utf8_lossy(&data[..data.len().min(1)]).into_owned();
    format!(
        "{type_name}: {}",
        jsoniter_error(
            data,
            1,
            "decode slice",
            &format!("expect [ or n, but found {found}")
        )
    )
}

pub(crate) fn empty_skip_error() -> String {
    jsoniter_error(b"", 0, "Skip", "do not know how to skip: 0")
}
