//! Request parameters as Prometheus' API reads them: the query string and,
//! for POST, a form body; times as Unix seconds or RFC 3339; durations as
//! seconds or Prometheus durations; and the shape of its error answers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A Prometheus API error answer.
pub(crate) fn error(status: StatusCode, error_type: &str, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(serde_json::json!({
            "status": "error",
            "errorType": error_type,
            "error": message.into(),
        })),
    )
        .into_response()
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

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
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
            sign * (oh.parse::<i64>().ok()? * 60 + om.parse::<i64>().ok()?) * 60
        }
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset;
    Some(secs * 1000 + millis)
}

/// A time parameter as Prometheus takes it: Unix seconds (fractions
/// allowed) or RFC 3339.
pub(crate) fn parse_time(s: &str) -> Option<i64> {
    if let Ok(secs) = s.parse::<f64>()
        && secs.is_finite()
    {
        return Some(
            (secs * 1000.0)
                .round()
                .clamp(i64::MIN as f64, i64::MAX as f64) as i64,
        );
    }
    parse_rfc3339(s)
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
/// or a Prometheus duration such as `1m30s`.
pub(crate) fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    if let Ok(secs) = s.parse::<f64>() {
        if !secs.is_finite() || secs.abs() * 1e9 > i64::MAX as f64 {
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
    parse_prom_duration(s).ok_or_else(|| format!("cannot parse {s:?} to a valid duration"))
}

/// `1h30m`, `5m`, `10s`, `100ms`, `2d`, `1w`, `1y`: Prometheus' duration
/// syntax (units from largest to smallest, each at most once).
fn parse_prom_duration(s: &str) -> Option<std::time::Duration> {
    // In the order they must appear; `ms` is tried before `m`.
    const UNITS: [(&str, u64, u8); 7] = [
        ("y", 365 * 86_400_000, 0),
        ("w", 7 * 86_400_000, 1),
        ("d", 86_400_000, 2),
        ("h", 3_600_000, 3),
        ("ms", 1, 6),
        ("m", 60_000, 4),
        ("s", 1000, 5),
    ];
    if s == "0" {
        return Some(std::time::Duration::ZERO);
    }
    if s.is_empty() {
        return None;
    }
    let mut rest = s;
    let mut total: u64 = 0;
    let mut last: Option<u8> = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let &(unit, ms, order) = UNITS.iter().find(|(u, ..)| rest.starts_with(u))?;
        if last.is_some_and(|l| order <= l) {
            return None;
        }
        last = Some(order);
        total = total.checked_add(n.checked_mul(ms)?)?;
        rest = &rest[unit.len()..];
    }
    Some(std::time::Duration::from_millis(total))
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
}
