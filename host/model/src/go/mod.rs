//! Go's and Prometheus' texts that several crates reproduce byte for byte,
//! each in one place:
//!
//! - [`duration`], `time.ParseDuration` and `time.Duration.String`;
//!   prometheus/common's `model.ParseDuration` and `model.Duration.String`.
//! - [`strconv`], `strconv.Quote` (`%q`) with `unicode.IsPrint`,
//!   `FormatFloat` (`'e'`, `'E'`, `'f'`, shortest), `ParseBool`.
//! - [`url`], `net/url`'s escaping modes (`QueryEscape`, `EscapedPath`, the
//!   host), `QueryUnescape` and `ParseQuery`.
//! - [`path`], `path.Clean`.
//! - here: the words Go's `os` and `net` packages use for a system error,
//!   and JSON strings as Go's `encoding/json` writes them.
//!
//! Callers add their own context (`open PATH: `, `dial tcp ADDR: connect: `);
//! this module only knows the Go parts they share. The items are also
//! re-exported here (`go::quote`, `go::parse_duration`).

pub mod duration;
pub mod path;
pub mod strconv;
pub mod url;

pub use duration::{
    DurationError, ModelDurationError, format_duration, format_model_duration, parse_duration,
    parse_model_duration,
};
pub use path::clean as clean_path;
pub use strconv::{
    ParseBoolError, format_float_e, format_float_f, format_float_upper_e, is_print, parse_bool,
    quote, quote_bytes,
};
pub use url::{QueryError, escape_host, escape_path, parse_query, query_escape, query_unescape};

/// A system error as Go prints it (`no such file or directory`,
/// `connection refused`): the C library's words with a lower-case first
/// letter, without Rust's ` (os error N)`. Callers prefix Go's
/// `op path: ` or `dial tcp ADDR: connect: ` themselves.
pub fn io_error_text(error: &std::io::Error) -> String {
    let text = error.to_string();
    let text = text
        .rsplit_once(" (os error ")
        .map_or(text.as_str(), |(message, _)| message);
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A JSON string as Go's `encoding/json` (with HTML escaping, as
/// `json.NewEncoder` has it) and jsoniter's standard-library mode write it:
/// `\n`, `\r`, `\t`, other control characters as `\u00xx`, and the
/// HTML-sensitive `<`, `>`, `&` plus U+2028/U+2029 escaped too.
pub fn write_json_string(out: &mut String, s: &str) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}') => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped_like_go() {
        let json = |s: &str| {
            let mut out = String::new();
            write_json_string(&mut out, s);
            out
        };
        assert_eq!(
            json("a<b>&\"\\\n\u{1}\u{2028}é"),
            r#""a\u003cb\u003e\u0026\"\\\n\u0001\u2028é""#
        );
        assert_eq!(
            json("x\n\u{1}\u{a0}<&\u{8}\u{c}\u{7f}\u{2028}"),
            "\"x\\n\\u0001\u{a0}\\u003c\\u0026\\u0008\\u000c\u{7f}\\u2028\""
        );
    }

    #[test]
    fn io_errors_read_like_go() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(io_error_text(&e), "no such file or directory");
        let e = std::io::Error::from_raw_os_error(111);
        assert_eq!(io_error_text(&e), "connection refused");
        let e = std::io::Error::other("Not an OS error");
        assert_eq!(io_error_text(&e), "not an OS error");
    }
}
