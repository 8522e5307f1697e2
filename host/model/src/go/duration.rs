//! Go's and Prometheus' durations, parsed and printed: `time.ParseDuration`
//! and `time.Duration.String` (nanoseconds, fractions, units `ns` to `h`),
//! and prometheus/common's `model.ParseDuration` and `model.Duration.String`
//! (whole milliseconds, units `ms` to `y`, largest first). The two families
//! differ on purpose: Go's `time` package is what the web config, Go
//! templates' `time.Duration` values and promtool's test output use;
//! Prometheus' is what configuration files, rule files, PromQL and the HTTP
//! API read and print.

use super::strconv::quote;

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

/// Go's `time.Duration.String()` of nanoseconds: `0s`, `1ns`, `1.1µs`,
/// `2.2ms`, `4m5.001s`, `5h6m7.001s`; a leading `-` when negative.
pub fn format_duration(ns: i64) -> String {
    use std::fmt::Write as _;
    if ns == 0 {
        return "0s".into();
    }
    let u = ns.unsigned_abs();
    let mut out = String::new();
    if ns < 0 {
        out.push('-');
    }
    // `v` with its last `prec` digits as a fraction, trailing zeros gone.
    let with_fraction = |out: &mut String, v: u64, prec: u32| {
        let scale = 10u64.pow(prec);
        let _ = write!(out, "{}", v / scale);
        let fraction = v % scale;
        if fraction != 0 {
            let digits = format!("{fraction:0width$}", width = prec as usize);
            out.push('.');
            out.push_str(digits.trim_end_matches('0'));
        }
    };
    if u < 1_000_000_000 {
        let (prec, unit) = match u {
            u if u < 1_000 => (0, "ns"),
            u if u < 1_000_000 => (3, "µs"),
            _ => (6, "ms"),
        };
        with_fraction(&mut out, u, prec);
        out.push_str(unit);
        return out;
    }
    let hours = u / 3_600_000_000_000;
    let minutes = u / 60_000_000_000 % 60;
    if hours > 0 {
        let _ = write!(out, "{hours}h");
    }
    if hours > 0 || minutes > 0 {
        let _ = write!(out, "{minutes}m");
    }
    with_fraction(&mut out, u % 60_000_000_000, 9);
    out.push('s');
    out
}

/// prometheus/common's `model.ParseDuration` failed; the texts are
/// Prometheus 3's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModelDurationError {
    /// The empty text (`0` alone is a duration).
    #[error("empty duration string")]
    Empty,
    /// Not a sequence of `<digits><unit>` with units largest first, each
    /// at most once (`1.5h`, `-1s`, `1m1h`, `15`).
    #[error("not a valid duration string: {}", quote(.text))]
    Invalid {
        /// The whole text, as given.
        text: String,
    },
    /// A unit other than `y w d h m s ms` (`1x`, `15 seconds`).
    #[error("unknown unit {} in duration {}", quote(.unit), quote(.text))]
    UnknownUnit {
        /// The unit as written: everything up to the next digit.
        unit: String,
        /// The whole text, as given.
        text: String,
    },
    /// More than Go's `time.Duration` holds (2^63-1 ns, about 292 years).
    #[error("duration out of range")]
    OutOfRange {
        /// The whole text, as given.
        text: String,
    },
}

/// Prometheus' duration units: name, order (largest first), milliseconds.
const MODEL_UNITS: [(&str, u8, u64); 7] = [
    ("y", 1, 365 * 86_400_000),
    ("w", 2, 7 * 86_400_000),
    ("d", 3, 86_400_000),
    ("h", 4, 3_600_000),
    ("m", 5, 60_000),
    ("s", 6, 1000),
    ("ms", 7, 1),
];

/// prometheus/common's `model.ParseDuration`: `0`, or `<digits><unit>`
/// pieces with units `y w d h m s ms`, largest first and each at most once
/// (`1h30m`, `2w`, `500ms`), a year being 365 days; as milliseconds. At
/// most 2^63-1 nanoseconds, as Go's `time.Duration`; no sign, no fraction.
pub fn parse_model_duration(text: &str) -> Result<i64, ModelDurationError> {
    match text {
        "0" => return Ok(0),
        "" => return Err(ModelDurationError::Empty),
        _ => {}
    }
    let invalid = || ModelDurationError::Invalid {
        text: text.to_owned(),
    };
    let out_of_range = || ModelDurationError::OutOfRange {
        text: text.to_owned(),
    };
    let mut rest = text;
    // In nanoseconds, as Go counts: at most 2^63-1.
    let mut total: u64 = 0;
    let mut last_order = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        // More than a u64 is Go's `ParseUint` failing: not a duration.
        let value: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        // The unit runs to the next digit (an ASCII byte, so a boundary).
        let unit_len = rest
            .bytes()
            .position(|b| b.is_ascii_digit())
            .unwrap_or(rest.len());
        if unit_len == 0 {
            return Err(invalid());
        }
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let Some(&(_, order, ms)) = MODEL_UNITS.iter().find(|(name, ..)| *name == unit) else {
            return Err(ModelDurationError::UnknownUnit {
                unit: unit.to_owned(),
                text: text.to_owned(),
            });
        };
        if order <= last_order {
            return Err(invalid());
        }
        last_order = order;
        let mult = ms * 1_000_000;
        if value > (1u64 << 63) / mult {
            return Err(out_of_range());
        }
        // Both terms are at most 2^63: the sum fits a u64.
        total += value * mult;
        if total > i64::MAX as u64 {
            return Err(out_of_range());
        }
    }
    Ok((total / 1_000_000) as i64)
}

/// prometheus/common's `model.Duration.String()` of milliseconds: `0s`,
/// `1h30m`, `90d` (years and weeks only when they divide what is left, as
/// `90d` reads better than `12w6d`), `500ms`; a leading `-` when negative.
pub fn format_model_duration(ms: i64) -> String {
    use std::fmt::Write as _;
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    if ms < 0 {
        out.push('-');
    }
    let mut rest = ms.unsigned_abs();
    for (unit, order, size) in MODEL_UNITS {
        // Years and weeks (the first two) only when exact.
        if order <= 2 && !rest.is_multiple_of(size) {
            continue;
        }
        let v = rest / size;
        if v > 0 {
            let _ = write!(out, "{v}{unit}");
            rest -= v * size;
        }
    }
    out
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

    /// Go's `time/time_test.go` durationTests, and their negations.
    #[test]
    fn go_duration_strings() {
        const US: i64 = 1_000;
        const MS: i64 = 1_000_000;
        const S: i64 = 1_000_000_000;
        const MIN: i64 = 60 * S;
        const H: i64 = 60 * MIN;
        for (want, d) in [
            ("0s", 0),
            ("1ns", 1),
            ("1.1µs", 1100),
            ("2.2ms", 2200 * US),
            ("3.3s", 3300 * MS),
            ("4m5s", 4 * MIN + 5 * S),
            ("4m5.001s", 4 * MIN + 5001 * MS),
            ("5h6m7.001s", 5 * H + 6 * MIN + 7001 * MS),
            ("8m0.000000001s", 8 * MIN + 1),
            ("2562047h47m16.854775807s", i64::MAX),
            ("-2562047h47m16.854775808s", i64::MIN),
        ] {
            assert_eq!(format_duration(d), want, "{d}");
            if d > 0 {
                assert_eq!(format_duration(-d), format!("-{want}"), "{d}");
            }
        }
        // What promtool's test output shows.
        for (ms, want) in [
            (500, "500ms"),
            (60_000, "1m0s"),
            (90_500, "1m30.5s"),
            (3_600_000, "1h0m0s"),
            (86_400_000, "24h0m0s"),
            (179_999, "2m59.999s"),
        ] {
            assert_eq!(format_duration(ms * MS), want, "{ms}");
        }
        assert_eq!(format_duration(1_500), "1.5µs");
        assert_eq!(format_duration(999), "999ns");
    }

    /// prometheus/common's `model/time_test.go` (TestParseDuration and
    /// TestParseBadDuration), printed back as its `String` does.
    #[test]
    fn model_durations_round_trip() {
        const DAY: i64 = 86_400_000;
        for (text, ms, shown) in [
            ("0", 0, "0s"),
            ("0w", 0, "0s"),
            ("0s", 0, "0s"),
            ("324ms", 324, "324ms"),
            ("3s", 3000, "3s"),
            ("5m", 300_000, "5m"),
            ("1h", 3_600_000, "1h"),
            ("4d", 4 * DAY, "4d"),
            ("4d1h", 4 * DAY + 3_600_000, "4d1h"),
            ("14d", 14 * DAY, "2w"),
            ("3w", 21 * DAY, "3w"),
            // Weeks only when exact (Prometheus 3; 2.x printed `3w2d1h`).
            ("3w2d1h", 23 * DAY + 3_600_000, "23d1h"),
            ("10y", 3650 * DAY, "10y"),
            ("90d", 90 * DAY, "90d"),
            ("1y1d", 366 * DAY, "366d"),
            ("1m500ms", 60_500, "1m500ms"),
            ("292y", 292 * 365 * DAY, "292y"),
        ] {
            assert_eq!(parse_model_duration(text), Ok(ms), "{text}");
            assert_eq!(format_model_duration(ms), shown, "{text}");
        }
        assert_eq!(format_model_duration(-90_000), "-1m30s");
        assert_eq!(format_model_duration(-14 * DAY), "-2w");
    }

    #[test]
    fn model_duration_errors_read_as_prometheus_3() {
        let err = |s: &str| parse_model_duration(s).unwrap_err().to_string();
        for (text, want) in [
            ("", "empty duration string"),
            ("1", r#"not a valid duration string: "1""#),
            ("1y1m1d", r#"not a valid duration string: "1y1m1d""#),
            ("-1w", r#"not a valid duration string: "-1w""#),
            ("1.5d", r#"unknown unit "." in duration "1.5d""#),
            ("1m1h", r#"not a valid duration string: "1m1h""#),
            ("1s1s", r#"not a valid duration string: "1s1s""#),
            ("1x", r#"unknown unit "x" in duration "1x""#),
            (
                "15 seconds",
                r#"unknown unit " seconds" in duration "15 seconds""#,
            ),
            ("1hs", r#"unknown unit "hs" in duration "1hs""#),
            ("s", r#"not a valid duration string: "s""#),
            ("1é\x01", "unknown unit \"é\\x01\" in duration \"1é\\x01\""),
            ("293y", "duration out of range"),
            ("999999999999y", "duration out of range"),
            ("9223372036855ms", "duration out of range"),
            (
                "99999999999999999999s",
                r#"not a valid duration string: "99999999999999999999s""#,
            ),
        ] {
            assert_eq!(err(text), want, "{text:?}");
        }
        // The last millisecond Go's time.Duration holds.
        assert_eq!(
            parse_model_duration("9223372036854ms"),
            Ok(9_223_372_036_854)
        );
        assert_eq!(
            parse_model_duration("292y24w3d23h47m16s854ms"),
            Ok(9_223_372_036_854)
        );
    }
}
