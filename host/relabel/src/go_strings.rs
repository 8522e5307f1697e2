//! Go's string functions whose results differ from Rust's own:
//! `strings.ToLower`/`ToUpper` (simple case mapping) and `%q` quoting, so
//! that relabeled values and error messages match Prometheus'.

use std::sync::LazyLock;

use regex::Regex;

/// Go's `strings.ToLower`: the simple (one character) mapping. Rust's own
/// full mapping differs for `İ` (two characters) and a final `Σ`.
pub(crate) fn go_to_lower(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) => l,
                // Only U+0130 lowers to more than one character; its simple
                // mapping is a plain `i`.
                _ if c == '\u{130}' => 'i',
                _ => c,
            }
        })
        .collect()
}

/// Go's `strings.ToUpper`: the simple mapping. Where Rust's full mapping
/// gives several characters (`ß` → `SS`), Go keeps the character, except
/// the Greek letters with ypogegrammeni, whose simple mapping is the
/// corresponding titlecase letter.
pub(crate) fn go_to_upper(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut upper = c.to_uppercase();
            match (upper.next(), upper.next()) {
                (Some(u), None) => u,
                _ => go_simple_upper_special(c),
            }
        })
        .collect()
}

fn go_simple_upper_special(c: char) -> char {
    let mapped = match u32::from(c) {
        cp @ (0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7) => cp + 8,
        0x1FB3 => 0x1FBC,
        0x1FC3 => 0x1FCC,
        0x1FF3 => 0x1FFC,
        _ => return c,
    };
    char::from_u32(mapped).unwrap_or(c)
}

/// Characters Go's `strconv.Quote` escapes: anything but letters, marks,
/// numbers, punctuation, symbols and the ASCII space.
static GO_NON_PRINTABLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\p{C}\p{Z}]$").expect("static regex"));

/// Go's `%q` of a string, for error messages that quote names.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut buf = [0u8; 4];
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            ' ' => out.push(' '),
            _ if GO_NON_PRINTABLE.is_match(c.encode_utf8(&mut buf)) => {
                let cp = u32::from(c);
                if cp < 0x20 || cp == 0x7f {
                    out.push_str(&format!("\\x{cp:02x}"));
                } else if cp < 0x10000 {
                    out.push_str(&format!("\\u{cp:04x}"));
                } else {
                    out.push_str(&format!("\\U{cp:08x}"));
                }
            }
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}
