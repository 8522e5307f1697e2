//! Go's `strconv` texts: `Quote` (`%q`) with `unicode.IsPrint`,
//! `FormatFloat` in the shortest forms Prometheus prints (`'e'`, `'E'`,
//! `'f'`, `'g'` which is `%v`), and `ParseFloat` and `ParseBool` with their error texts.

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

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`: the shortest digits that
/// read back as `v`, as `d.ddde±dd` (`1e+00`, `4.2e+01`, `1e-07`,
/// `1e+100`); `NaN`, `+Inf`, `-Inf`.
pub fn format_float_e(v: f64) -> String {
    format_float_exp(v, 'e')
}

/// Go's `strconv.FormatFloat(v, 'E', -1, 64)`: [`format_float_e`] with a
/// capital `E` (`1E+00`, `3.0000000000000004E+00`).
pub fn format_float_upper_e(v: f64) -> String {
    format_float_exp(v, 'E')
}

fn format_float_exp(v: f64, e: char) -> String {
    if let Some(special) = non_finite(v) {
        return special.to_owned();
    }
    // Rust's `{:e}` is the same shortest round-trip mantissa with an
    // unpadded exponent (`1e0`, `1.5e-7`); Go signs the exponent and pads
    // it to two digits.
    let s = format!("{v:e}");
    let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
    let (sign, digits) = match exponent.strip_prefix('-') {
        Some(digits) => ('-', digits),
        None => ('+', exponent),
    };
    format!("{mantissa}{e}{sign}{digits:0>2}")
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest digits that
/// read back as `v`, never an exponent (`0.0001`, `1000000`); `NaN`,
/// `+Inf`, `-Inf`.
pub fn format_float_f(v: f64) -> String {
    match non_finite(v) {
        Some(special) => special.to_owned(),
        // Rust's `Display` is the same shortest round-trip, without exponent.
        None => format!("{v}"),
    }
}

/// Go's `strconv.FormatFloat(v, 'g', -1, 64)`, which is also what `%v`
/// and `%g` print for a float64: the shortest digits, in `'e'` form when
/// the exponent is below -4 or at least 6 (`1e+06`, `1.23456789e+08`,
/// `1e-05`), otherwise in `'f'` form (`100000`, `0.0001`); `NaN`, `+Inf`,
/// `-Inf`.
pub fn format_float_g(v: f64) -> String {
    if v.is_finite() && v != 0.0 {
        // The decimal exponent of the shortest digits.
        let sci = format!("{v:e}");
        let exp: i32 = sci
            .split_once('e')
            .and_then(|(_, e)| e.parse().ok())
            .unwrap_or(0);
        if !(-4..6).contains(&exp) {
            return format_float_e(v);
        }
    }
    format_float_f(v)
}

/// How Go's `FormatFloat` writes what is not a finite number.
fn non_finite(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v == f64::INFINITY {
        Some("+Inf")
    } else if v == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

/// Go's `strconv.ParseFloat` failed; the text is Go's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseFloatError {
    /// Not a number in Go's syntax.
    #[error("strconv.ParseFloat: parsing {}: invalid syntax", quote(.text))]
    Syntax {
        /// The text, as given.
        text: String,
    },
    /// A number beyond `f64`'s range (Go also returns ±Inf with it).
    #[error("strconv.ParseFloat: parsing {}: value out of range", quote(.text))]
    Range {
        /// The text, as given.
        text: String,
    },
}

/// Go's `strconv.ParseFloat(s, 64)` of decimal numbers (`1.5`, `-.5e3`,
/// `1_000.5`), `Inf`/`Infinity` with an optional sign and `NaN` without
/// one, in any case. Underscores only between digits, as Go's
/// `underscoreOK` has it. Hexadecimal floats are not read.
pub fn parse_float(text: &str) -> Result<f64, ParseFloatError> {
    let syntax = || ParseFloatError::Syntax {
        text: text.to_owned(),
    };
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let lower = unsigned.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Ok(if text.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if lower == "nan" {
        // Go takes no sign on NaN.
        return if unsigned.len() == text.len() {
            Ok(f64::NAN)
        } else {
            Err(syntax())
        };
    }
    // Rust reads the same decimal forms once the words are handled; what is
    // left must be digits, `.`, an exponent and underscores Go allows.
    if unsigned.is_empty()
        || !unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-' | b'_'))
        || !underscores_ok(unsigned)
    {
        return Err(syntax());
    }
    let digits: String = text.chars().filter(|&c| c != '_').collect();
    match digits.parse::<f64>() {
        Ok(v) if v.is_infinite() => Err(ParseFloatError::Range {
            text: text.to_owned(),
        }),
        Ok(v) => Ok(v),
        Err(_) => Err(syntax()),
    }
}

/// Go's `underscoreOK` for decimal numbers: each `_` between two digits.
fn underscores_ok(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().all(|(i, &c)| {
        c != b'_'
            || (i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit))
    })
}

/// Go's `strconv.ParseBool` failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("strconv.ParseBool: parsing {}: invalid syntax", quote(.text))]
pub struct ParseBoolError {
    /// The text, as given.
    pub text: String,
}

/// Go's `strconv.ParseBool`: `1 t T true TRUE True` and `0 f F false
/// FALSE False`, nothing else (not `yes`, not ``).
pub fn parse_bool(text: &str) -> Result<bool, ParseBoolError> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(ParseBoolError {
            text: text.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Rows of Go's `strconv/ftoa_test.go` with precision -1 (`'e'`,
    /// `'E'`, `'f'`), and the specials.
    #[test]
    fn floats_format_as_go_ftoa() {
        for (v, e, f) in [
            (1.0, "1e+00", "1"),
            (0.0, "0e+00", "0"),
            (-0.0, "-0e+00", "-0"),
            (20.0, "2e+01", "20"),
            (42.0, "4.2e+01", "42"),
            (0.1, "1e-01", "0.1"),
            (1e23, "1e+23", "100000000000000000000000"),
            (100000000.0, "1e+08", "100000000"),
            (123456700.0, "1.234567e+08", "123456700"),
            (1.2345e6, "1.2345e+06", "1234500"),
            (1e-7, "1e-07", "0.0000001"),
            (-1.5e-7, "-1.5e-07", "-0.00000015"),
            (
                3.0000000000000004,
                "3.0000000000000004e+00",
                "3.0000000000000004",
            ),
            (5e-324, "5e-324", ""),
            (1.7976931348623157e308, "1.7976931348623157e+308", ""),
            (f64::INFINITY, "+Inf", "+Inf"),
            (f64::NEG_INFINITY, "-Inf", "-Inf"),
            (f64::NAN, "NaN", "NaN"),
        ] {
            assert_eq!(format_float_e(v), e, "{v}");
            assert_eq!(format_float_upper_e(v), e.replace('e', "E"), "{v}");
            if !f.is_empty() {
                assert_eq!(format_float_f(v), f, "{v}");
            }
        }
        assert_eq!(format_float_upper_e(1704067200.0), "1.7040672E+09");
        // 'g' with precision -1 (ftoa_test.go), and %v as Prometheus 2.42's
        // format_query printed numbers (1e+06, 1.23456789e+08, 1e-05).
        for (v, g) in [
            (1.0, "1"),
            (0.0, "0"),
            (-0.0, "-0"),
            (20.0, "20"),
            (1e23, "1e+23"),
            (100000.0, "100000"),
            (1000000.0, "1e+06"),
            (123456789.0, "1.23456789e+08"),
            (1.2345e6, "1.2345e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-0.00012345, "-0.00012345"),
            (1e20, "1e+20"),
            (1234567.5, "1.2345675e+06"),
            (5e-324, "5e-324"),
            (f64::INFINITY, "+Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(format_float_g(v), g, "{v}");
        }
    }

    /// Rows of Go's `strconv/atof_test.go` (decimal ones).
    #[test]
    fn floats_parse_as_go_atof() {
        for (text, want) in [
            ("1", Some(1.0)),
            ("+1", Some(1.0)),
            ("1e23", Some(1e23)),
            ("1E23", Some(1e23)),
            ("100000000000000000000000", Some(1e23)),
            ("1e-100", Some(1e-100)),
            ("-1", Some(-1.0)),
            ("-0", Some(-0.0)),
            ("1e-20", Some(1e-20)),
            ("625e-3", Some(0.625)),
            (".5", Some(0.5)),
            ("5.", Some(5.0)),
            ("1_23.50_0_0e+1_2", Some(1.235e14)),
            ("1_000", Some(1000.0)),
            ("inf", Some(f64::INFINITY)),
            ("-Inf", Some(f64::NEG_INFINITY)),
            ("+INFINITY", Some(f64::INFINITY)),
            ("", None),
            ("+", None),
            ("1x", None),
            ("0x10", None),
            ("1e", None),
            ("_1", None),
            ("1_", None),
            ("1__0", None),
            ("1_.5", None),
            ("-nan", None),
            ("+NaN", None),
            ("infinityx", None),
        ] {
            let got = parse_float(text).ok();
            match want {
                Some(w) => {
                    let g = got.unwrap_or_else(|| panic!("{text:?} should parse"));
                    assert!(
                        g == w && g.is_sign_negative() == w.is_sign_negative(),
                        "{text:?}: {g}"
                    );
                }
                None => assert_eq!(got, None, "{text:?}"),
            }
        }
        assert!(parse_float("NaN").unwrap().is_nan());
        assert!(parse_float("nan").unwrap().is_nan());
        assert_eq!(
            parse_float("1e400").unwrap_err().to_string(),
            r#"strconv.ParseFloat: parsing "1e400": value out of range"#
        );
        assert_eq!(
            parse_float("x").unwrap_err().to_string(),
            r#"strconv.ParseFloat: parsing "x": invalid syntax"#
        );
    }

    /// Go's `strconv/atob_test.go`.
    #[test]
    fn bools_parse_as_go() {
        for (text, want) in [
            ("1", Some(true)),
            ("t", Some(true)),
            ("T", Some(true)),
            ("true", Some(true)),
            ("TRUE", Some(true)),
            ("True", Some(true)),
            ("0", Some(false)),
            ("f", Some(false)),
            ("F", Some(false)),
            ("false", Some(false)),
            ("FALSE", Some(false)),
            ("False", Some(false)),
            ("", None),
            ("asdf", None),
            ("yes", None),
            ("tRuE", None),
        ] {
            assert_eq!(parse_bool(text).ok(), want, "{text:?}");
        }
        assert_eq!(
            parse_bool("x\n").unwrap_err().to_string(),
            r#"strconv.ParseBool: parsing "x\n": invalid syntax"#
        );
    }
}
