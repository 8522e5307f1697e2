//! Prometheus' TSDB admin endpoints, enabled by `--web.enable-admin-api`:
//! `snapshot`, `delete_series` and `clean_tombstones` under
//! `/api/v1/admin/tsdb/`, with Prometheus' parameters and answers.

use crate::Backend;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use wasmetheus_model::selector::parse_selector;

/// A Prometheus API error answer.
fn error(status: StatusCode, error_type: &str, message: impl Into<String>) -> Response {
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

fn disabled() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "admin APIs disabled",
    )
}

/// Parameters from the query string and, for POST, a form body.
fn params(query: Option<String>, body: &[u8]) -> Result<Vec<(String, String)>, Box<Response>> {
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

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
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

fn time_param(params: &[(String, String)], name: &str, default: i64) -> Result<i64, Box<Response>> {
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

pub(crate) async fn snapshot(
    State(backend): State<Arc<dyn Backend>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    if !backend.admin_enabled() {
        return disabled();
    }
    let params = match params(query, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let skip_head = match param(&params, "skip_head") {
        None | Some("" | "false" | "0") => false,
        Some("true" | "1") => true,
        Some(v) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_data",
                format!("unable to parse boolean 'skip_head' argument: {v:?}"),
            );
        }
    };
    match backend.tsdb_snapshot(skip_head).await {
        Ok(name) => axum::Json(serde_json::json!({
            "status": "success",
            "data": { "name": name },
        }))
        .into_response(),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("create snapshot: {e}"),
        ),
    }
}

pub(crate) async fn delete_series(
    State(backend): State<Arc<dyn Backend>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    if !backend.admin_enabled() {
        return disabled();
    }
    let params = match params(query, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let mut selectors = Vec::new();
    for (_, text) in params.iter().filter(|(k, _)| k == "match[]") {
        match parse_selector(text) {
            Ok(m) => selectors.push(m),
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "bad_data",
                    format!("invalid parameter \"match[]\": {e}"),
                );
            }
        }
    }
    if selectors.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_data",
            "no match[] parameter provided",
        );
    }
    let (start, end) = match (
        time_param(&params, "start", i64::MIN),
        time_param(&params, "end", i64::MAX),
    ) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(r), _) | (_, Err(r)) => return *r,
    };
    match backend.tsdb_delete_series(selectors, start, end).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e),
    }
}

pub(crate) async fn clean_tombstones(State(backend): State<Arc<dyn Backend>>) -> Response {
    if !backend.admin_enabled() {
        return disabled();
    }
    match backend.tsdb_clean_tombstones().await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e),
    }
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
        assert_eq!(parse_time("2025-13-02T02:04:30Z"), None);
    }
}
