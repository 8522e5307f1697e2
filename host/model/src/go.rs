//! Go's texts that several crates reproduce byte for byte: `time.ParseDuration`
//! (the one parser of Go durations, with its error messages), the words
//! Go's `os` and `net` packages use for a system error, JSON strings as
//! Go's `encoding/json` writes them, `strconv.Quote` (`%q`) with
//! `unicode.IsPrint`, and `net/url`'s escaping modes (`QueryEscape`,
//! `EscapedPath`, the host).
//!
//! Callers add their own context (`open PATH: `, `dial tcp ADDR: connect: `);
//! this module only knows the Go parts they share.

/// Go's `time.ParseDuration` failed; the text is Go's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a duration, or out of `time.Duration`'s range.
    #[error("time: invalid duration {}", time_quote(.text))]
    Invalid {
        /// The whole text, as given.
        text: String,
    },
    /// A number without a unit, e.g. `30`: write `30s`.
    #[error("time: missing unit in duration {}", time_quote(.text))]
    MissingUnit {
        /// The whole text, as given.
        text: String,
    },
    /// A unit other than `ns`, `us` (`µs`), `ms`, `s`, `m` and `h`.
    #[error("time: unknown unit {} in duration {}", time_quote(.unit), time_quote(.text))]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole text, as given.
        text: String,
    },
}

/// Go's `time.ParseDuration`: a signed sequence of decimal numbers with
/// optional fractions and units (`300ms`, `-1.5h`, `2h45m`), as
/// nanoseconds; out of the `int64` range is an error, as in Go.
pub fn parse_duration(orig: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError::Invalid {
        text: orig.to_owned(),
    };
    let mut s = orig.as_bytes();
    let mut neg = false;
    if let Some(&c) = s.first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        s = &s[1..];
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    const LIMIT: u64 = 1 << 63;
    let mut d: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // Whole part; overflow is an error.
        let mut v: u64 = 0;
        let mut i = 0;
        while i < s.len() && s[i].is_ascii_digit() {
            if v > LIMIT / 10 {
                return Err(invalid());
            }
            v = v * 10 + (s[i] - b'0') as u64;
            if v > LIMIT {
                return Err(invalid());
            }
            i += 1;
        }
        let pre = i > 0;
        s = &s[i..];
        // Fraction; digits past what fits are ignored.
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let mut i = 0;
            let mut overflow = false;
            while i < s.len() && s[i].is_ascii_digit() {
                if !overflow {
                    if f > (LIMIT - 1) / 10 {
                        overflow = true;
                    } else {
                        let y = f * 10 + (s[i] - b'0') as u64;
                        if y > LIMIT {
                            overflow = true;
                        } else {
                            f = y;
                            scale *= 10.0;
                        }
                    }
                }
                i += 1;
            }
            post = i > 0;
            s = &s[i..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        let unit_len = s
            .iter()
            .position(|&c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(DurationError::MissingUnit {
                text: orig.to_owned(),
            });
        }
        let unit_text = &s[..unit_len];
        s = &s[unit_len..];
        let unit: u64 = match std::str::from_utf8(unit_text).unwrap_or("") {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(DurationError::UnknownUnit {
                    unit: String::from_utf8_lossy(unit_text).into_owned(),
                    text: orig.to_owned(),
                });
            }
        };
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        d += v;
        if d > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        return Ok((d as i64).wrapping_neg());
    }
    if d > LIMIT - 1 {
        return Err(invalid());
    }
    Ok(d as i64)
}

/// The `time` package's own quoting in its errors: non-ASCII and control
/// bytes as `\xNN`.
fn time_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for &b in s.as_bytes() {
        if !(0x20..0x80).contains(&b) {
            out.push_str(&format!("\\x{b:02x}"));
        } else {
            if b == b'"' || b == b'\\' {
                out.push('\\');
            }
            out.push(b as char);
        }
    }
    out.push('"');
    out
}

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

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols
/// and the ASCII space; not other separators, control, format, private
/// use, surrogate or unassigned code points.
pub fn is_print(c: char) -> bool {
    static NOT_PRINT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^[\p{C}\p{Z}]$").expect("a constant pattern")
    });
    match c {
        ' '..='~' => true,
        c if c.is_ascii() => false,
        c => !NOT_PRINT.is_match(c.encode_utf8(&mut [0; 4])),
    }
}

/// Go's `strconv.Quote` (what `%q` prints for a string): printable
/// characters as they are, `\a \b \f \n \r \t \v`, other bytes below
/// U+0080 as `\xNN`, other unprintable characters as `\uNNNN` or
/// `\UNNNNNNNN`.
pub fn quote(s: &str) -> String {
    quote_bytes(s.as_bytes())
}

/// [`quote`] of bytes that need not be UTF-8: each byte of an invalid
/// sequence becomes `\xNN`, as Go quotes `"\xff"`.
pub fn quote_bytes(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
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
                c if is_print(c) => out.push(c),
                c if (c as u32) < 0x80 => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c if (c as u32) < 0x10000 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push('"');
    out
}

/// What `net/url` leaves unescaped in every mode: letters, digits, `-_.~`.
const URL_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `encodePath` (`URL.EscapedPath`): also `$&+,/:;=@`. (`url.PathEscape`,
/// for one segment, escapes `/`, `;` and `,` too.)
const URL_PATH: &percent_encoding::AsciiSet = &URL_UNRESERVED
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b',')
    .remove(b'/')
    .remove(b':')
    .remove(b';')
    .remove(b'=')
    .remove(b'@');

/// `encodeHost`: also `!$&'()*+,;=:[]<>"`.
const URL_HOST: &percent_encoding::AsciiSet = &URL_UNRESERVED
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'[')
    .remove(b']')
    .remove(b'<')
    .remove(b'>')
    .remove(b'"');

/// Go's `url.QueryEscape`: letters, digits and `-_.~` as they are, the
/// space as `+`, every other byte as `%XX`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, piece) in s.split(' ').enumerate() {
        if i > 0 {
            out.push('+');
        }
        out.extend(percent_encoding::utf8_percent_encode(piece, URL_UNRESERVED));
    }
    out
}

/// Go's `URL.EscapedPath` of a decoded path (`encodePath`).
pub fn escape_path(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, URL_PATH).to_string()
}

/// Go's escaping of a URL's host (`encodeHost`), as `URL.String` writes it.
pub fn escape_host(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, URL_HOST).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NANOS_PER_SECOND: i64 = 1_000_000_000;

    fn ns(s: &str) -> Result<i64, String> {
        parse_duration(s).map_err(|e| e.to_string())
    }

    #[test]
    fn go_durations() {
        assert_eq!(ns("30s"), Ok(30 * NANOS_PER_SECOND));
        assert_eq!(ns("1.5h30m"), Ok(7200 * NANOS_PER_SECOND));
        assert_eq!(ns("-1m"), Ok(-60 * NANOS_PER_SECOND));
        assert_eq!(ns("0"), Ok(0));
        assert_eq!(ns("1µs"), Ok(1000));
        assert_eq!(
            ns("30"),
            Err("time: missing unit in duration \"30\"".to_owned())
        );
        assert_eq!(
            ns("1d"),
            Err("time: unknown unit \"d\" in duration \"1d\"".to_owned())
        );
        assert_eq!(ns(""), Err("time: invalid duration \"\"".to_owned()));
        assert_eq!(ns(".s"), Err("time: invalid duration \".s\"".to_owned()));
    }

    /// The web config's durations (`rate_limit.interval`).
    #[test]
    fn go_durations_of_the_web_config() {
        assert_eq!(ns("1s"), Ok(NANOS_PER_SECOND));
        assert_eq!(ns("1.5m"), Ok(90 * NANOS_PER_SECOND));
        assert_eq!(ns("1h30m"), Ok(5400 * NANOS_PER_SECOND));
        assert_eq!(ns("250ms"), Ok(250_000_000));
        assert_eq!(ns("0"), Ok(0));
        assert!(ns("5").unwrap_err().contains("missing unit"));
        assert!(ns("5d").unwrap_err().contains("unknown unit"));
    }

    /// Go's range and its quoting of odd bytes.
    #[test]
    fn go_duration_edges() {
        assert_eq!(ns("2562047h47m16.854775807s"), Ok(i64::MAX));
        assert_eq!(ns("-2562047h47m16.854775808s"), Ok(i64::MIN));
        assert_eq!(
            ns("2562047h47m16.854775808s"),
            Err("time: invalid duration \"2562047h47m16.854775808s\"".to_owned())
        );
        assert_eq!(ns("+0"), Ok(0));
        assert_eq!(ns("1.s"), Ok(NANOS_PER_SECOND));
        assert_eq!(ns(".5s"), Ok(NANOS_PER_SECOND / 2));
        assert_eq!(ns("1.0000000001s"), Ok(NANOS_PER_SECOND));
        assert_eq!(
            ns("1é"),
            Err("time: unknown unit \"\\xc3\\xa9\" in duration \"1\\xc3\\xa9\"".to_owned())
        );
        assert_eq!(
            ns("1\n"),
            Err("time: unknown unit \"\\x0a\" in duration \"1\\x0a\"".to_owned())
        );
        assert_eq!(
            ns("1.2.3s"),
            Err("time: missing unit in duration \"1.2.3s\"".to_owned())
        );
    }

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

    #[test]
    fn quotes_as_go_strconv_quote() {
        // Expected texts from Go's strconv.Quote.
        for (input, want) in [
            ("", r#""""#),
            ("abc", r#""abc""#),
            ("a\"b\\c", r#""a\"b\\c""#),
            ("\x07\x08\x0c\n\r\t\x0b", r#""\a\b\f\n\r\t\v""#),
            ("\x00\x1f\x7f", r#""\x00\x1f\x7f""#),
            ("\u{80}\u{9f}", r#""\u0080\u009f""#),
            ("héllo ☺ 日本", r#""héllo ☺ 日本""#),
            ("\u{a0}\u{2028}\u{3000}", r#""\u00a0\u2028\u3000""#),
            ("\u{ad}\u{200b}\u{feff}", r#""\u00ad\u200b\ufeff""#),
            ("\u{e000}\u{10fffd}", r#""\ue000\U0010fffd""#),
            ("\u{378}", r#""\u0378""#),
            ("\u{1f600}", "\"\u{1f600}\""),
        ] {
            assert_eq!(quote(input), want, "{input:?}");
        }
        assert_eq!(quote_bytes(b"a\xffb\xc3"), r#""a\xffb\xc3""#);
    }

    #[test]
    fn url_escapes_as_go() {
        // net/url's ExampleQueryEscape and encodePath/encodeHost outputs.
        assert_eq!(
            query_escape("my/cool+blog&about,stuff"),
            "my%2Fcool%2Bblog%26about%2Cstuff"
        );
        assert_eq!(query_escape("a b~c\u{e9}"), "a+b~c%C3%A9");
        assert_eq!(escape_path("/a b/c;d=e@f?g#h"), "/a%20b/c;d=e@f%3Fg%23h");
        assert_eq!(escape_host("[::1]:80 x"), "[::1]:80%20x");
    }
}
