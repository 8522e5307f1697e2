//! Request parameters as Prometheus' API reads them: the query string and,
//! for POST, a form body; times as Unix seconds or RFC 3339; durations as
//! seconds or Prometheus durations; and the shape of its error answers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The body of an error answer: Prometheus' fields, in the order this API
/// has always written them (sorted).
#[derive(serde::Serialize)]
struct ApiError<'a> {
    error: String,
    #[serde(rename = "errorType")]
    error_type: &'a str,
    status: &'static str,
}

/// A Prometheus API error answer.
pub(crate) fn error(status: StatusCode, error_type: &str, message: impl Into<String>) -> Response {
    let body = ApiError {
        error: message.into(),
        error_type,
        status: "error",
    };
    (status, axum::Json(body)).into_response()
}

/// Parameters from the query string and, for POST, a form body.
pub(crate) fn params(
    query: Option<String>,
    body: &[u8],
) -> Result<Vec<(String, String)>, Box<Response>> {
    let bad = |e: serde_urlencoded::de::Error| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            "bad_data",
            format!("invalid parameters: {e}"),
        ))
    };
    let mut all: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).map_err(bad)?;
    if !body.is_empty() {
        all.extend(serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).map_err(bad)?);
    }
    Ok(all)
}

pub(crate) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Seconds since 1970-01-01T00:00:00Z of day `d` (1 to 31) of month `m`
/// of year `y`, from jiff's calendar. A day past the month's end counts on
/// into the next month (`2025-02-31` is 3 March), as this parser always
/// has.
fn day_start(y: i64, m: i64, d: i64) -> Option<i64> {
    let first = jiff::civil::Date::new(i16::try_from(y).ok()?, i8::try_from(m).ok()?, 1).ok()?;
    let days = jiff::civil::date(1970, 1, 1).until(first).ok()?.get_days();
    Some((i64::from(days) + d - 1) * 86_400)
}

/// RFC 3339 (`2025-01-02T03:04:05.678+07:00`) to milliseconds.
fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':'
        || b[16] != b':'
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
        || !(0..24).contains(&h)
        || !(0..60).contains(&mi)
        || !(0..61).contains(&se)
    {
        return None;
    }
    let mut rest = &s[19..];
    let mut millis = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let ms: String = frac[..digits]
            .chars()
            .chain("000".chars())
            .take(3)
            .collect();
        millis = ms.parse::<i64>().ok()?;
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = rest[1..].split_once(':')?;
            let (oh, om) = (oh.parse::<i64>().ok()?, om.parse::<i64>().ok()?);
            if !(0..24).contains(&oh) || !(0..60).contains(&om) {
                return None;
            }
            sign * (oh * 60 + om) * 60
        }
    };
    let secs = day_start(y, mo, d)? + h * 3600 + mi * 60 + se - offset;
    Some(secs * 1000 + millis)
}

/// The earliest time Prometheus' API takes, in milliseconds: its
/// `MinTime` (`-292273086-05-16T16:47:06Z`), the earliest a Go `time.Time`
/// survives Unix-millisecond conversion with.
pub(crate) const MIN_TIME_MS: i64 = (i64::MIN / 1000 + 62_135_596_801) * 1000;
/// The latest: Prometheus' `MaxTime` (`292277025-08-18T07:12:54.999999999Z`).
pub(crate) const MAX_TIME_MS: i64 = (i64::MAX / 1000 - 62_135_596_801) * 1000 + 999;
/// `MinTime` and `MaxTime` as Prometheus' clients write them (Go's RFC 3339
/// parser takes only four-digit years, so Prometheus matches these texts).
const MIN_TIME_FORMATTED: &str = "-292273086-05-16T16:47:06Z";
const MAX_TIME_FORMATTED: &str = "292277025-08-18T07:12:54.999999999Z";

/// A time parameter as Prometheus takes it: Unix seconds (fractions
/// allowed) or RFC 3339, in milliseconds. Times outside Prometheus'
/// `MinTime`..`MaxTime` (which Go would silently wrap) and NaN or
/// infinite ones are not times: `None`. Anything inside leaves every sum
/// of a time and a step, lookback or range (each below 2^63 ns, about
/// 292 years) within `i64`.
pub(crate) fn parse_time(s: &str) -> Option<i64> {
    if let Ok(secs) = wasmetheus_model::go::parse_float(s) {
        if !secs.is_finite() {
            return None;
        }
        // Whole seconds, then the fraction rounded to milliseconds, as
        // Prometheus splits them (`math.Modf`).
        let whole = secs.trunc();
        let fraction = ((secs - whole) * 1000.0).round() as i64;
        // `as` saturates; the checked arithmetic and the range check
        // refuse anything that did.
        let ms = (whole as i64).checked_mul(1000)?.checked_add(fraction)?;
        return (MIN_TIME_MS..=MAX_TIME_MS).contains(&ms).then_some(ms);
    }
    match s {
        MIN_TIME_FORMATTED => Some(MIN_TIME_MS),
        MAX_TIME_FORMATTED => Some(MAX_TIME_MS),
        _ => parse_rfc3339(s),
    }
}

/// Whether a range query from `start` to `end` (ms) at `step` (ms, > 0)
/// has more than `max` points per series, as Prometheus'
/// `end.Sub(start)/step > 11000` decides it (without overflow: the times
/// may be Prometheus' `MinTime` and `MaxTime`).
pub(crate) fn exceeds_resolution(start: i64, end: i64, step: i64, max: i64) -> bool {
    step <= 0 || (i128::from(end) - i128::from(start)) / i128::from(step) > i128::from(max)
}

pub(crate) fn time_param(
    params: &[(String, String)],
    name: &str,
    default: i64,
) -> Result<i64, Box<Response>> {
    match param(params, name) {
        None => Ok(default),
        Some(v) => parse_time(v).ok_or_else(|| {
            Box::new(error(
                StatusCode::BAD_REQUEST,
                "bad_data",
                format!("invalid parameter {name:?}: cannot parse {v:?} to a valid timestamp"),
            ))
        }),
    }
}

/// A duration as Prometheus' API takes it: seconds (fractions allowed)
/// or a Prometheus duration such as `1m30s`, at most 2^63-1 ns (Go's
/// `time.Duration`) either way, with Prometheus' texts.
pub(crate) fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    if let Ok(secs) = wasmetheus_model::go::parse_float(s) {
        // Go turns NaN into the most negative duration, a non-positive
        // step or an expired timeout for the callers.
        if secs.is_nan() {
            return Ok(std::time::Duration::ZERO);
        }
        if (secs * 1e9).abs() >= i64::MAX as f64 {
            return Err(format!(
                "cannot parse {s:?} to a valid duration. It overflows int64"
            ));
        }
        if secs < 0.0 {
            // A negative step is reported by the caller as non-positive.
            return Ok(std::time::Duration::ZERO);
        }
        return Ok(std::time::Duration::from_secs_f64(secs));
    }
    match wasmetheus_model::go::parse_model_duration(s) {
        // Non-negative: no sign is read.
        Ok(ms) => Ok(std::time::Duration::from_millis(ms.unsigned_abs())),
        Err(_) => Err(format!("cannot parse {s:?} to a valid duration")),
    }
}

pub(crate) fn duration_param(
    params: &[(String, String)],
    name: &str,
) -> Result<std::time::Duration, Box<Response>> {
    let v = param(params, name).unwrap_or("");
    parse_duration(v).map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            "bad_data",
            format!("invalid parameter {name:?}: {e}"),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_like_prometheus() {
        assert_eq!(parse_time("1700000000"), Some(1_700_000_000_000));
        assert_eq!(parse_time("1700000000.123"), Some(1_700_000_000_123));
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_time("2025-01-02T02:04:30+07:00"),
            Some(1_735_758_270_000)
        );
        assert_eq!(
            parse_time("2023-11-14T22:13:20.5Z"),
            Some(1_700_000_000_500)
        );
        assert_eq!(parse_time("yesterday"), None);
        // Go's ParseFloat: underscores between digits, no sign on NaN
        // (checked against Prometheus 2.42).
        assert_eq!(parse_time("1_000"), Some(1_000_000));
        assert_eq!(parse_time("-nan"), None);
        assert_eq!(
            parse_duration("1_0"),
            Ok(std::time::Duration::from_secs(10))
        );
        assert_eq!(parse_duration("15"), Ok(std::time::Duration::from_secs(15)));
        assert_eq!(
            parse_duration("0.5"),
            Ok(std::time::Duration::from_millis(500))
        );
        assert_eq!(
            parse_duration("1m30s"),
            Ok(std::time::Duration::from_secs(90))
        );
        assert_eq!(
            parse_duration("100ms"),
            Ok(std::time::Duration::from_millis(100))
        );
        assert_eq!(
            parse_duration("1h5m"),
            Ok(std::time::Duration::from_secs(3900))
        );
        assert!(parse_duration("5m1h").is_err());
        assert_eq!(
            parse_duration("x"),
            Err("cannot parse \"x\" to a valid duration".to_owned())
        );
        assert_eq!(parse_time("2025-13-02T02:04:30Z"), None);
    }

    /// What `time`, `start` and `end` accept, edge by edge: Unix seconds
    /// (fractions rounded to milliseconds) and RFC 3339 (fractions
    /// truncated to milliseconds, `Z` or `±hh:mm`).
    #[test]
    fn time_edge_cases() {
        let cases = [
            // Leap days, and days past the month's end (counted on).
            "2024-02-29T00:00:00Z",
            "2000-02-29T12:00:00Z",
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2025-02-31T00:00:00Z",
            "2025-04-31T23:59:59Z",
            "2025-01-32T00:00:00Z",
            "2025-00-10T00:00:00Z",
            // Offsets.
            "2025-01-02T03:04:05+00:00",
            "2025-01-02T03:04:05-00:00",
            "2025-01-02T03:04:05+05:30",
            "2025-01-02T03:04:05-09:45",
            "2025-01-02T03:04:05+23:59",
            "2025-01-02T03:04:05-23:59",
            "2025-01-02T03:04:05+24:00",
            "2025-01-02T03:04:05+05:60",
            "2025-01-02T03:04:05+0530",
            "2025-01-02T03:04:05+05",
            "2025-01-02T03:04:05+5:30",
            "2025-01-02T03:04:05+05:3",
            "2025-01-02T03:04:05+05:30:00",
            "2025-01-02T03:04:05 +05:30",
            // Fractions.
            "2025-01-02T03:04:05.1Z",
            "2025-01-02T03:04:05.12Z",
            "2025-01-02T03:04:05.123Z",
            "2025-01-02T03:04:05.1239Z",
            "2025-01-02T03:04:05.123456789Z",
            "2025-01-02T03:04:05.999999999Z",
            "2025-01-02T03:04:05.1234567891234Z",
            "2025-01-02T03:04:05.5+01:00",
            "2025-01-02T03:04:05.Z",
            "2025-01-02T03:04:05,5Z",
            "1969-12-31T23:59:59.5Z",
            // The first and last four-digit years.
            "0001-01-01T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "9999-12-31T23:59:59.999999999Z",
            "9999-12-31T23:59:59-23:59",
            "10000-01-01T00:00:00Z",
            // Times of day.
            "2025-01-02T23:59:60Z",
            "2025-01-02T24:00:00Z",
            "2025-01-02T00:60:00Z",
            "2025-01-02T00:00:61Z",
            // Letters and separators.
            "2025-01-02t03:04:05z",
            "2025-01-02T03:04:05z",
            "2025-01-02 03:04:05Z",
            "2025-01-02T03:04:05",
            "2025-01-02T03:04Z",
            "2025-01-02",
            "2025-1-02T03:04:05Z",
            "2025-01-02T3:04:05Z",
            // Signs inside fields.
            "+999-01-02T03:04:05Z",
            "-999-01-02T03:04:05Z",
            "2025-+1-02T03:04:05Z",
            "2025-01-02T03:04:+5Z",
            // Garbage around.
            "2025-01-02T03:04:05Zjunk",
            "2025-01-02T03:04:05+01:00junk",
            " 2025-01-02T03:04:05Z",
            "",
            "now",
            "T",
            // Unix seconds.
            "0",
            "-0",
            "1",
            "+1",
            "1.5",
            "-1.5",
            ".5",
            "5.",
            "1e3",
            "1E3",
            "1.0005",
            "1.0004",
            "-0.0005",
            "1700000000.1235",
            "0x10",
            "1_000",
            " 1",
            "1 ",
            "infinity",
        ];
        let mut out = String::new();
        for case in cases {
            out.push_str(&format!("{case:?} {:?}\n", parse_time(case)));
        }
        expect_test::expect![[r#"
            "2024-02-29T00:00:00Z" Some(1709164800000)
            "2000-02-29T12:00:00Z" Some(951825600000)
            "2023-02-29T00:00:00Z" Some(1677628800000)
            "1900-02-29T00:00:00Z" Some(-2203891200000)
            "2025-02-31T00:00:00Z" Some(1740960000000)
            "2025-04-31T23:59:59Z" Some(1746143999000)
            "2025-01-32T00:00:00Z" None
            "2025-00-10T00:00:00Z" None
            "2025-01-02T03:04:05+00:00" Some(1735787045000)
            "2025-01-02T03:04:05-00:00" Some(1735787045000)
            "2025-01-02T03:04:05+05:30" Some(1735767245000)
            "2025-01-02T03:04:05-09:45" Some(1735822145000)
            "2025-01-02T03:04:05+23:59" Some(1735700705000)
            "2025-01-02T03:04:05-23:59" Some(1735873385000)
            "2025-01-02T03:04:05+24:00" None
            "2025-01-02T03:04:05+05:60" None
            "2025-01-02T03:04:05+0530" None
            "2025-01-02T03:04:05+05" None
            "2025-01-02T03:04:05+5:30" Some(1735767245000)
            "2025-01-02T03:04:05+05:3" Some(1735768865000)
            "2025-01-02T03:04:05+05:30:00" None
            "2025-01-02T03:04:05 +05:30" None
            "2025-01-02T03:04:05.1Z" Some(1735787045100)
            "2025-01-02T03:04:05.12Z" Some(1735787045120)
            "2025-01-02T03:04:05.123Z" Some(1735787045123)
            "2025-01-02T03:04:05.1239Z" Some(1735787045123)
            "2025-01-02T03:04:05.123456789Z" Some(1735787045123)
            "2025-01-02T03:04:05.999999999Z" Some(1735787045999)
            "2025-01-02T03:04:05.1234567891234Z" Some(1735787045123)
            "2025-01-02T03:04:05.5+01:00" Some(1735783445500)
            "2025-01-02T03:04:05.Z" None
            "2025-01-02T03:04:05,5Z" None
            "1969-12-31T23:59:59.5Z" Some(-500)
            "0001-01-01T00:00:00Z" Some(-62135596800000)
            "0000-01-01T00:00:00Z" Some(-62167219200000)
            "9999-12-31T23:59:59Z" Some(253402300799000)
            "9999-12-31T23:59:59.999999999Z" Some(253402300799999)
            "9999-12-31T23:59:59-23:59" Some(253402387139000)
            "10000-01-01T00:00:00Z" None
            "2025-01-02T23:59:60Z" Some(1735862400000)
            "2025-01-02T24:00:00Z" None
            "2025-01-02T00:60:00Z" None
            "2025-01-02T00:00:61Z" None
            "2025-01-02t03:04:05z" Some(1735787045000)
            "2025-01-02T03:04:05z" Some(1735787045000)
            "2025-01-02 03:04:05Z" None
            "2025-01-02T03:04:05" None
            "2025-01-02T03:04Z" None
            "2025-01-02" None
            "2025-1-02T03:04:05Z" None
            "2025-01-02T3:04:05Z" None
            "+999-01-02T03:04:05Z" Some(-30641662555000)
            "-999-01-02T03:04:05Z" Some(-93692494555000)
            "2025-+1-02T03:04:05Z" Some(1735787045000)
            "2025-01-02T03:04:+5Z" Some(1735787045000)
            "2025-01-02T03:04:05Zjunk" None
            "2025-01-02T03:04:05+01:00junk" None
            " 2025-01-02T03:04:05Z" None
            "" None
            "now" None
            "T" None
            "0" Some(0)
            "-0" Some(0)
            "1" Some(1000)
            "+1" Some(1000)
            "1.5" Some(1500)
            "-1.5" Some(-1500)
            ".5" Some(500)
            "5." Some(5000)
            "1e3" Some(1000000)
            "1E3" Some(1000000)
            "1.0005" Some(1000)
            "1.0004" Some(1000)
            "-0.0005" Some(-1)
            "1700000000.1235" Some(1700000000124)
            "0x10" None
            "1_000" Some(1000000)
            " 1" None
            "1 " None
            "infinity" None
        "#]]
        .assert_eq(&out);
    }

    #[test]
    fn times_outside_prometheus_range_are_not_times() {
        for bad in [
            "1e300",
            "-1e300",
            "-9e18",
            "9e18",
            "NaN",
            "Inf",
            "-Inf",
            "+inf",
            "2025-01-02T02:04:30+99999999999999999:00",
            "2025-01-02T99:04:30Z",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
        // Prometheus' MinTime and MaxTime, as numbers and as its clients
        // write them.
        assert_eq!(parse_time("-292273086-05-16T16:47:06Z"), Some(MIN_TIME_MS));
        assert_eq!(
            parse_time("292277025-08-18T07:12:54.999999999Z"),
            Some(MAX_TIME_MS)
        );
        assert_eq!(
            parse_time("9223309901257974"),
            Some(9_223_309_901_257_974_000)
        );
        assert_eq!(parse_time("9223309901257975"), None);
        assert_eq!(parse_time("-9223309901257974"), Some(MIN_TIME_MS));
        // Room left for a step, lookback or range of up to 2^63-1 ns.
        let max_span_ms = i64::MAX / 1_000_000;
        assert!(MAX_TIME_MS.checked_add(max_span_ms).is_some());
        assert!(MIN_TIME_MS.checked_sub(max_span_ms).is_some());
    }

    #[test]
    fn durations_beyond_go_range_are_refused_with_prometheus_texts() {
        assert_eq!(
            parse_duration("999999999999y"),
            Err("cannot parse \"999999999999y\" to a valid duration".to_owned())
        );
        assert!(parse_duration("293y").is_err());
        assert_eq!(
            parse_duration("292y"),
            Ok(std::time::Duration::from_secs(292 * 365 * 86_400))
        );
        for overflow in ["1e300", "-1e300", "9223372037", "Inf", "-Inf"] {
            assert_eq!(
                parse_duration(overflow),
                Err(format!(
                    "cannot parse {overflow:?} to a valid duration. It overflows int64"
                )),
            );
        }
        assert_eq!(parse_duration("NaN"), Ok(std::time::Duration::ZERO));
        assert_eq!(parse_duration("-5"), Ok(std::time::Duration::ZERO));
        assert!(parse_duration("9223372036").is_ok());
    }

    #[test]
    fn resolution_is_checked_without_overflow() {
        assert!(exceeds_resolution(MIN_TIME_MS, MAX_TIME_MS, 1, 11_000));
        assert!(exceeds_resolution(
            MIN_TIME_MS,
            MAX_TIME_MS,
            i64::MAX / 1_000_000,
            11_000
        ));
        assert!(!exceeds_resolution(0, 11_000, 1, 11_000));
        assert!(exceeds_resolution(0, 11_001, 1, 11_000));
        assert!(exceeds_resolution(0, 1, 0, 11_000));
    }
}
