//! Go's and Prometheus' texts that several crates reproduce byte for byte,
//! each in one place:
//!
//! - [`duration`], `time.ParseDuration` and `time.Duration.String`;
//!   prometheus/common's `model.ParseDuration` and `model.Duration.String`.
//! - [`strconv`], `strconv.Quote` (`%q`) with `unicode.IsPrint`,
//!   `FormatFloat` (`'e'`, `'E'`, `'f'`, `'g'`, shortest), `ParseFloat`, `ParseBool`.
//! - [`strings`], `strings.ToLower` and `strings.ToUpper` (simple case
//!   mapping).
//! - [`url`], `net/url`'s escaping modes (`QueryEscape`, `EscapedPath`, the
//!   host), `QueryUnescape` and `ParseQuery`.
//! - [`path`], `path.Clean`.
//! - [`regexp`], the template syntax of `Regexp.Expand` (`$1`, `${name}`).
//! - here: the words Go's `os` and `net` packages use for a system error,
//!   and JSON strings and numbers as Go's `encoding/json` writes them.
//!
//! Callers add their own context (`open PATH: `, `dial tcp ADDR: connect: `);
//! this module only knows the Go parts they share. The items are also
//! re-exported here (`go::quote`, `go::parse_duration`).

pub mod duration;
pub mod path;
pub mod regexp;
pub mod strconv;
pub mod strings;
pub mod url;

pub use duration::{
    DurationError, ModelDurationError, format_duration, format_model_duration, parse_duration,
    parse_model_duration,
};
pub use path::clean as clean_path;
pub use regexp::{ExpandPiece, expand_pieces, parse_expand_template};
pub use strconv::{
    ParseBoolError, ParseFloatError, format_float_e, format_float_f, format_float_g,
    format_float_upper_e, is_print, parse_bool, parse_float, quote, quote_bytes,
};
pub use strings::{to_lower, to_upper};
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

/// Go's `*os.PathError` text: `op path: message` (`open rules.yml: no such
/// file or directory`), the message as [`io_error_text`] words it.
pub fn path_error(op: &str, path: &std::path::Path, error: &std::io::Error) -> String {
    format!("{op} {}: {}", path.display(), io_error_text(error))
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

/// A float as a JSON number the way Go's `encoding/json` (and jsoniter's
/// standard-library mode) writes one: the shortest digits, in `'f'` form
/// from 1e-6 up to 1e21, otherwise in `'e'` form with the exponent's
/// leading zero dropped (`1e-7`, `1e+21`). Go refuses to encode NaN and
/// infinities; they are `null` here.
pub fn json_float(v: f64) -> String {
    if !v.is_finite() {
        return "null".to_owned();
    }
    let abs = v.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust's `{:e}` already has no padding: `1e-7`, `1.5e21`.
        let s = format!("{v:e}");
        return match s.split_once('e') {
            Some((mantissa, exponent)) if !exponent.starts_with('-') => {
                format!("{mantissa}e+{exponent}")
            }
            _ => s,
        };
    }
    format_float_f(v)
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

    /// Rows of Go's `encoding/json` TestMarshalFloat cut-offs.
    #[test]
    fn json_floats_as_go_encoding_json() {
        for (v, want) in [
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (0.5, "0.5"),
            (1e-6, "0.000001"),
            (9.99e-7, "9.99e-7"),
            (1e-7, "1e-7"),
            (-1.5e-10, "-1.5e-10"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (123456789.125, "123456789.125"),
            (f64::NAN, "null"),
            (f64::INFINITY, "null"),
        ] {
            assert_eq!(json_float(v), want, "{v}");
        }
    }

    #[test]
    fn io_errors_read_like_go() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(io_error_text(&e), "no such file or directory");
        let e = std::io::Error::from_raw_os_error(111);
        assert_eq!(io_error_text(&e), "connection refused");
        let e = std::io::Error::other("Not an OS error");
        assert_eq!(io_error_text(&e), "not an OS error");
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(
            path_error("stat", std::path::Path::new("nope"), &e),
            "stat nope: no such file or directory"
        );
    }
}
