//! Go's times, floats and quoting as promtool uses them: `time.Time`
//! reduced to seconds and nanoseconds, promtool's `parseTime` (a Unix
//! timestamp or RFC 3339, with Go's grammar; [`jiff`] checks the calendar
//! and counts the days), `strconv.FormatFloat`/`ParseFloat` and
//! `strconv.Quote`.

pub(crate) const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// A Go `time.Time` reduced to what promtool uses: seconds and nanoseconds
/// (0..1e9) since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct GoTime {
    sec: i64,
    nsec: i64,
}

impl GoTime {
    /// Go's `time.Unix`, which normalises `nsec` into 0..1e9.
    pub(crate) fn unix(sec: i64, nsec: i64) -> Self {
        let total = sec as i128 * NANOS_PER_SECOND as i128 + nsec as i128;
        GoTime {
            sec: total.div_euclid(NANOS_PER_SECOND as i128) as i64,
            nsec: total.rem_euclid(NANOS_PER_SECOND as i128) as i64,
        }
    }

    pub(crate) fn now() -> Self {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        GoTime::unix(since.as_secs() as i64, since.subsec_nanos() as i64)
    }

    pub(crate) fn add(self, nanos: i64) -> Self {
        GoTime::unix(self.sec, self.nsec.saturating_add(nanos))
    }

    /// Go's `Time.Sub`: saturates at the Duration range.
    pub(crate) fn sub(self, other: GoTime) -> i64 {
        let d = (self.sec as i128 - other.sec as i128) * NANOS_PER_SECOND as i128
            + (self.nsec - other.nsec) as i128;
        d.clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }

    /// client_golang's `formatTime`: seconds as the shortest float.
    pub(crate) fn format(self) -> String {
        go_float(self.sec as f64 + self.nsec as f64 / 1e9)
    }
}

/// Go's `Duration.Seconds`.
pub(crate) fn duration_seconds(nanos: i64) -> f64 {
    (nanos / NANOS_PER_SECOND) as f64 + (nanos % NANOS_PER_SECOND) as f64 / 1e9
}

/// promtool's `parseTime`: a float of Unix seconds, else RFC 3339.
pub(crate) fn parse_time(s: &str) -> Result<GoTime, String> {
    if let Some(t) = parse_go_float(s).filter(|t| t.is_finite()) {
        let (whole, frac) = (t.trunc(), t.fract());
        return Ok(GoTime::unix(whole as i64, (frac * 1e9) as i64));
    }
    parse_rfc3339(s).ok_or_else(|| format!("cannot parse {} to a valid timestamp", go_quote(s)))
}

/// Go's `strconv.ParseFloat(s, 64)`; `None` where Go fails (out of range
/// included). The one in `wasmetheus_model::go`.
pub(crate) fn parse_go_float(s: &str) -> Option<f64> {
    wasmetheus_model::go::parse_float(s).ok()
}

/// Go's `time.Parse(time.RFC3339Nano, s)` (Go 1.19): four-digit years, one-
/// or two-digit hours, any number of fraction digits after `.` or `,`
/// (past the ninth dropped), `Z` or `±hh:mm` (any two digits each). The
/// grammar is Go's layout, read here; jiff checks the calendar.
fn parse_rfc3339(s: &str) -> Option<GoTime> {
    let b = s.as_bytes();
    let mut i = 0;
    let num = |i: &mut usize, min: usize, max: usize| -> Option<i64> {
        let start = *i;
        while *i < b.len() && *i - start < max && b[*i].is_ascii_digit() {
            *i += 1;
        }
        if *i - start < min {
            return None;
        }
        s[start..*i].parse().ok()
    };
    let lit = |i: &mut usize, c: u8| -> Option<()> { (b.get(*i) == Some(&c)).then(|| *i += 1) };
    let year = num(&mut i, 4, 4)?;
    lit(&mut i, b'-')?;
    let month = num(&mut i, 2, 2)?;
    lit(&mut i, b'-')?;
    let day = num(&mut i, 2, 2)?;
    lit(&mut i, b'T')?;
    let hour = num(&mut i, 1, 2)?;
    lit(&mut i, b':')?;
    let minute = num(&mut i, 2, 2)?;
    lit(&mut i, b':')?;
    let second = num(&mut i, 2, 2)?;
    let mut nanos = 0;
    if b.len() > i + 1 && matches!(b[i], b'.' | b',') && b[i + 1].is_ascii_digit() {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i.min(start + 9)];
        nanos = digits.parse::<i64>().ok()? * 10i64.pow(9 - digits.len() as u32);
    }
    let offset = match b.get(i) {
        Some(b'Z') => {
            i += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            if b.len() < i + 6 || b[i + 3] != b':' {
                return None;
            }
            let two = |at: usize| -> Option<i64> {
                let d = &b[at..at + 2];
                d.iter()
                    .all(u8::is_ascii_digit)
                    .then(|| ((d[0] - b'0') * 10 + (d[1] - b'0')) as i64)
            };
            let (h, m) = (two(i + 1)?, two(i + 4)?);
            i += 6;
            let offset = (h * 60 + m) * 60;
            if sign == b'-' { -offset } else { offset }
        }
        _ => return None,
    };
    if i != b.len() {
        return None;
    }
    // jiff checks the date and the time of day, and counts the days since
    // the epoch. (Its `Timestamp` and `Offset` hold less than Go reads:
    // the last day of year 9999 in UTC, offsets past ±25:59, so the
    // seconds are summed here.)
    let wall = jiff::civil::DateTime::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
        i8::try_from(hour).ok()?,
        i8::try_from(minute).ok()?,
        i8::try_from(second).ok()?,
        0,
    )
    .ok()?;
    let days = i64::from(
        jiff::civil::date(1970, 1, 1)
            .until(wall.date())
            .ok()?
            .get_days(),
    );
    let sec = days * 86400 + hour * 3600 + minute * 60 + second - offset;
    Some(GoTime::unix(sec, nanos))
}

/// `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest digits that read
/// back, never an exponent (the one in `wasmetheus_model::go`).
pub(crate) use wasmetheus_model::go::format_float_f as go_float;

/// `model.Time.String()`: milliseconds as seconds.
pub(crate) fn go_timestamp(ms: i64) -> String {
    go_float(ms as f64 / 1000.0)
}

/// Go's `strconv.Quote` (`%q`), the one copy in `wasmetheus_model::go`.
pub(crate) use wasmetheus_model::go::quote as go_quote;

/// Go's `encoding/json` string (Go 1.19, HTML escaping on, as
/// `json.NewEncoder` has it).
pub(crate) fn go_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    wasmetheus_model::go::write_json_string(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_times() {
        let t = |s: &str| parse_time(s).map(GoTime::format);
        assert_eq!(t("1.1"), Ok("1.1".to_owned()));
        assert_eq!(t("-1.5"), Ok("-1.5".to_owned()));
        assert_eq!(t("1e3"), Ok("1000".to_owned()));
        // Values promtool sends for these (checked against promtool 2.42).
        assert_eq!(
            t("2023-11-14T22:18:20.123456789+01:00"),
            Ok("1699996700.1234567".to_owned())
        );
        assert_eq!(t("2023-11-14T2:18:20Z"), Ok("1699928300".to_owned()));
        assert_eq!(t("2024-02-29T00:00:00Z"), Ok("1709164800".to_owned()));
        assert!(t("2023-02-29T00:00:00Z").is_err());
        assert_eq!(
            t("bad"),
            Err("cannot parse \"bad\" to a valid timestamp".to_owned())
        );
    }

    /// What is accepted and what each time is, as before jiff did the
    /// calendar (these were pinned against the hand-written one).
    #[test]
    fn rfc3339_edges() {
        let accepted = [
            ("2023-01-01T00:00:00Z", "1672531200"),
            ("2023-01-01T00:00:00.5Z", "1672531200.5"),
            ("2023-01-01T00:00:00,5Z", "1672531200.5"),
            ("2023-01-01T00:00:00.1234567891Z", "1672531200.1234567"),
            ("2023-01-01T00:00:00+01:00", "1672527600"),
            ("2023-01-01T00:00:00-01:30", "1672536600"),
            ("2023-01-01T0:00:00Z", "1672531200"),
            ("2024-02-29T00:00:00Z", "1709164800"),
            ("2000-02-29T00:00:00Z", "951782400"),
            ("0000-01-01T00:00:00Z", "-62167219200"),
            ("9999-12-31T23:59:59Z", "253402300799"),
            ("2023-01-01T00:00:00+99:99", "1672168860"),
            ("2023-01-01T00:00:00.123+01:00", "1672527600.123"),
            ("2023-12-31T23:59:59.999999999-23:59", "1704153540"),
            ("1970-01-01T00:00:00.000000001Z", "0.000000001"),
            ("1969-12-31T23:59:59.5Z", "-0.5"),
            ("2023-01-01T00:00:00.5+00:00", "1672531200.5"),
            ("1700000000", "1700000000"),
            ("1.9999999999", "1.999999999"),
            ("9e18", "9000000000000000000"),
            // Go's ParseFloat takes underscores between digits (promtool
            // 2.42 accepts `--time=1_000`).
            ("1_000", "1000"),
            ("1_0.5", "10.5"),
        ];
        for (text, want) in accepted {
            assert_eq!(parse_time(text).map(GoTime::format), Ok(want.to_owned()));
        }
        let refused = [
            "2023-01-01T00:00:00.Z",
            "2023-01-01T00:00:00+0100",
            "2023-01-01T00:00:00z",
            "2023-01-01t00:00:00Z",
            "2023-01-01 00:00:00Z",
            "2023-1-01T00:00:00Z",
            "2023-01-01T24:00:00Z",
            "2023-01-01T23:60:00Z",
            "2023-01-01T23:59:60Z",
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2023-04-31T00:00:00Z",
            "2023-00-10T00:00:00Z",
            "2023-13-01T00:00:00Z",
            "2023-01-00T00:00:00Z",
            "2023-01-01T00:00:00Z ",
            "-2023-01-01T00:00:00Z",
            "20230-01-01T00:00:00Z",
            "2023-01-01T00:00Z",
            "2023-01-01T00:00:00",
            "2023-01-01",
            "2023-01-01T00:00:00+01:0x",
            "2023-01-01T00:00:00+1:00",
            "2023-01-01T123:00:00Z",
            "NaN",
            "Inf",
            "-inf",
            "0x10",
            "1__000",
            "_1000",
            "1e400",
            "",
        ];
        for text in refused {
            assert_eq!(
                parse_time(text),
                Err(format!(
                    "cannot parse {} to a valid timestamp",
                    go_quote(text)
                ))
            );
        }
    }

    #[test]
    fn go_text_forms() {
        assert_eq!(
            go_quote("x\n\u{1}\u{a0}\u{200b}\u{301}é\"\\<&\u{8}\u{c}\u{7f}\u{2028}"),
            "\"x\\n\\x01\\u00a0\\u200b\u{301}é\\\"\\\\<&\\b\\f\\x7f\\u2028\""
        );
        assert_eq!(
            go_json_string("x\n\u{1}\u{a0}<&\u{8}\u{c}\u{7f}\u{2028}"),
            "\"x\\n\\u0001\u{a0}\\u003c\\u0026\\u0008\\u000c\u{7f}\\u2028\""
        );
        assert_eq!(go_float(1e-7), "0.0000001");
        assert_eq!(go_float(-0.0), "-0");
        assert_eq!(go_float(f64::INFINITY), "+Inf");
        assert_eq!(go_timestamp(1_700_000_300_123), "1700000300.123");
    }
}
