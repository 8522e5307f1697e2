//! Turning MySQL's text values and variable names into Prometheus values
//! and names exactly like mysqld_exporter 0.14 (`parseStatus`,
//! `validPrometheusName`, the version regexp).

/// A status or variable value as a number, or `None` when mysqld_exporter
/// skips it: ON/YES/Primary are 1, OFF/NO/Disabled/Connecting/non-Primary/
/// Disconnected are 0, two timestamp forms become Unix seconds, anything
/// else must be a float.
pub fn parse_status(data: &str) -> Option<f64> {
    match data.to_ascii_lowercase().as_str() {
        "yes" | "on" | "primary" => return Some(1.0),
        "no" | "off" | "disabled" | "connecting" | "non-primary" | "disconnected" => {
            return Some(0.0);
        }
        _ => {}
    }
    if let Some(ts) = parse_cert_time(data).or_else(|| parse_datetime(data)) {
        return Some(ts as f64);
    }
    // `.+\.(\d+)$` matches from the start of the last line.
    let last_line = match data.rfind('\n') {
        Some(nl) if log_like(&data[nl + 1..]) => &data[nl + 1..],
        _ => data,
    };
    parse_go_float(last_line)
}

/// Whether `s` matches `^.+\.\d+$` (no newline).
fn log_like(s: &str) -> bool {
    match s.rfind('.') {
        Some(dot) => {
            dot > 0
                && dot + 1 < s.len()
                && s[dot + 1..].bytes().all(|b| b.is_ascii_digit())
                && !s.contains('\n')
        }
        None => false,
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal input: overflow is an error,
/// `inf`/`infinity`/`nan` are accepted, no surrounding space.
pub fn parse_go_float(s: &str) -> Option<f64> {
    if s.is_empty() || s.len() > 4096 {
        return None;
    }
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" || lower == "nan" {
        return s.parse().ok();
    }
    if !body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    v.is_finite().then_some(v)
}

/// `Jan 02 15:04:05 2006 MST` (certificate dates), zone taken as UTC.
fn parse_cert_time(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split(' ').collect();
    let [mon, day, time, year, zone] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m == mon)? as u32 + 1;
    if day.len() != 2 || year.len() != 4 || zone.is_empty() {
        return None;
    }
    if !zone.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let (h, mi, se) = parse_hms(time)?;
    let d = digits(day)?;
    let y = digits(year)?;
    unix(y as i64, month, d, h, mi, se)
}

/// `2006-01-02 15:04:05`, as UTC.
fn parse_datetime(s: &str) -> Option<i64> {
    let (date, time) = s.split_once(' ')?;
    let mut it = date.split('-');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (h, mi, se) = parse_hms(time)?;
    unix(digits(y)? as i64, digits(m)?, digits(d)?, h, mi, se)
}

fn parse_hms(t: &str) -> Option<(u32, u32, u32)> {
    let mut it = t.split(':');
    let (h, m, s) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || h.len() != 2 || m.len() != 2 || s.len() != 2 {
        return None;
    }
    let (h, m, s) = (digits(h)?, digits(m)?, digits(s)?);
    (h < 24 && m < 60 && s < 60).then_some((h, m, s))
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn unix(y: i64, m: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
    if !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let len = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if d > len[m as usize - 1] {
        return None;
    }
    // Days from civil (Howard Hinnant).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h as i64 * 3600 + mi as i64 * 60 + s as i64)
}

/// mysqld_exporter's `validPrometheusName`: every character outside
/// `[a-zA-Z0-9_]` becomes `_`, then lower case.
pub fn valid_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// `SELECT @@version` as mysqld_exporter reads it: the leading
/// `major.minor` as a float, 999 when it does not parse.
pub fn version_number(v: &str) -> f64 {
    let major_end = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    if major_end == 0 || v.as_bytes().get(major_end) != Some(&b'.') {
        return 999.0;
    }
    let rest = &v[major_end + 1..];
    let minor_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    if minor_end == 0 {
        return 999.0;
    }
    match v[..major_end + 1 + minor_end].parse::<f64>() {
        Ok(n) if n != 0.0 => n,
        _ => 999.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_numbers_and_skips() {
        for (s, want) in [
            ("ON", Some(1.0)),
            ("Yes", Some(1.0)),
            ("Primary", Some(1.0)),
            ("OFF", Some(0.0)),
            ("no", Some(0.0)),
            ("DISABLED", Some(0.0)),
            ("Connecting", Some(0.0)),
            ("non-Primary", Some(0.0)),
            ("Disconnected", Some(0.0)),
            ("12", Some(12.0)),
            ("-3.5", Some(-3.5)),
            ("1e3", Some(1000.0)),
            ("0.000100", Some(0.0001)),
            ("18446744073709551615", Some(18446744073709551615.0)),
            ("mysql-bin.000123", None),
            ("REPEATABLE-READ", None),
            ("", None),
            (" 1", None),
            ("1e999", None),
            ("0x10", None),
            ("Inf", Some(f64::INFINITY)),
            ("abc\n1.5", Some(1.5)),
            ("Jan 02 15:04:05 2006 MST", Some(1136214245.0)),
            ("Aug 11 12:00:00 2034 GMT", Some(2038910400.0)),
            ("2006-01-02 15:04:05", Some(1136214245.0)),
            ("2006-02-30 15:04:05", None),
        ] {
            assert_eq!(parse_status(s), want, "{s:?}");
        }
        assert!(parse_status("nan").unwrap().is_nan());
        assert_eq!(parse_status(&"9".repeat(100_000)), None);
    }

    #[test]
    fn names_and_versions() {
        assert_eq!(valid_name("Com_Select"), "com_select");
        assert_eq!(valid_name("Innodb-x.y z"), "innodb_x_y_z");
        assert_eq!(valid_name("Ünï"), "_n_");
        assert_eq!(version_number("10.11.19-MariaDB-0+deb12u1"), 10.11);
        assert_eq!(version_number("8.0.36"), 8.0);
        assert_eq!(version_number("5.7"), 5.7);
        assert_eq!(version_number("garbage"), 999.0);
        assert_eq!(version_number("0.0"), 999.0);
        assert_eq!(version_number("8."), 999.0);
    }
}
