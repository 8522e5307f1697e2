//! Go's `time.Time` (UTC) and `time.Duration` as templates see them: `String()`, `Format(layout)` with
//! Go's reference-time layouts, and their methods callable from a template (`.Format "2006"`, `.Unix`).

use crate::value::Value;
pub use crate::value::Zone;

const NS: i128 = 1_000_000_000;

/// A layout element and how it prints a civil time.
type Chunk<'a> = &'a dyn Fn(&Civil) -> String;

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    weekday: u32, // 0 = Sunday
    yday: u32,
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm, exact for any i64 day count).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn civil(ns: i128) -> Civil {
    let secs = ns.div_euclid(NS);
    let nanos = ns.rem_euclid(NS) as u32;
    // Beyond ±10^15 days (far past any year Go prints) the calendar arithmetic would overflow.
    let days = secs
        .div_euclid(86_400)
        .clamp(-1_000_000_000_000_000, 1_000_000_000_000_000) as i64;
    let sod = secs.rem_euclid(86_400) as u32;
    let (year, month, day) = civil_from_days(days);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    const CUM: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = CUM[(month - 1) as usize] + day + u32::from(leap && month > 2);
    Civil {
        year,
        month,
        day,
        hour: sod / 3600,
        minute: sod / 60 % 60,
        second: sod % 60,
        nanos,
        weekday: (days + 4).rem_euclid(7) as u32,
        yday,
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Go's `Time.String()` of a UTC time: `2015-06-23 13:19:44.128 +0000 UTC`.
pub fn time_string(ns: i128) -> String {
    format(ns, "2006-01-02 15:04:05.999999999 -0700 MST")
}

/// Go's `Time.String()` of a time in a zone: `2024-01-01 09:15:30 +0100 CET`.
pub fn time_string_in(ns: i128, zone: &Zone) -> String {
    format_in(ns, Some(zone), "2006-01-02 15:04:05.999999999 -0700 MST")
}

/// Go's `Time.Format` for a UTC time.
pub fn format(ns: i128, layout: &str) -> String {
    format_in(ns, None, layout)
}

/// A zone offset as Go's layouts print it: `sep` between hours and minutes (and seconds when
/// `secs`), `z` for `Z` at offset zero.
fn offset_text(offset: i32, sep: &str, minutes: bool, secs: bool, z: bool) -> String {
    if z && offset == 0 {
        return "Z".into();
    }
    let sign = if offset < 0 { '-' } else { '+' };
    let a = offset.unsigned_abs();
    let mut out = format!("{sign}{:02}", a / 3600);
    if minutes {
        out.push_str(&format!("{sep}{:02}", a / 60 % 60));
    }
    if secs {
        out.push_str(&format!("{sep}{:02}", a % 60));
    }
    out
}

/// Go's `Time.Format` for a time in `zone` (UTC when `None`).
pub fn format_in(ns: i128, zone: Option<&Zone>, layout: &str) -> String {
    let offset = zone.map_or(0, |z| z.offset_secs);
    let c = civil(ns + i128::from(offset) * NS);
    let abbrev = match zone {
        None => "UTC".to_string(),
        Some(z) if z.abbrev.is_empty() => offset_text(offset, "", true, false, false),
        Some(z) => z.abbrev.to_string(),
    };
    let zones: [(&str, String); 10] = [
        ("MST", abbrev),
        ("-07:00:00", offset_text(offset, ":", true, true, false)),
        ("-070000", offset_text(offset, "", true, true, false)),
        ("-0700", offset_text(offset, "", true, false, false)),
        ("-07:00", offset_text(offset, ":", true, false, false)),
        ("-07", offset_text(offset, "", false, false, false)),
        ("Z07:00:00", offset_text(offset, ":", true, true, true)),
        ("Z070000", offset_text(offset, "", true, true, true)),
        ("Z0700", offset_text(offset, "", true, false, true)),
        ("Z07:00", offset_text(offset, ":", true, false, true)),
    ];
    let mut out = String::new();
    let mut rest = layout;
    while !rest.is_empty() {
        // Fractional seconds: .000 / ,000 (fixed) and .999 (trimmed).
        if let Some(first) = rest.chars().next()
            && (first == '.' || first == ',')
            && rest.len() > 1
            && (rest.as_bytes()[1] == b'0' || rest.as_bytes()[1] == b'9')
        {
            let digit = rest.as_bytes()[1];
            let n = rest[1..].bytes().take_while(|&b| b == digit).count();
            let after = rest.as_bytes().get(1 + n);
            if !after.is_some_and(u8::is_ascii_digit) {
                let frac = format!("{:09}", c.nanos);
                let frac = &frac[..n.min(9)];
                if digit == b'0' {
                    out.push(first);
                    out.push_str(frac);
                } else {
                    let t = frac.trim_end_matches('0');
                    if !t.is_empty() {
                        out.push(first);
                        out.push_str(t);
                    }
                }
                rest = &rest[1 + n..];
                continue;
            }
        }
        let tokens: &[(&str, Chunk)] = &[
            ("January", &|c| MONTHS[(c.month - 1) as usize].to_string()),
            ("Jan", &|c| MONTHS[(c.month - 1) as usize][..3].to_string()),
            ("Monday", &|c| DAYS[c.weekday as usize].to_string()),
            ("Mon", &|c| DAYS[c.weekday as usize][..3].to_string()),
            ("2006", &|c| format!("{:04}", c.year)),
            ("002", &|c| format!("{:03}", c.yday)),
            ("01", &|c| format!("{:02}", c.month)),
            ("02", &|c| format!("{:02}", c.day)),
            ("03", &|c| {
                format!("{:02}", if c.hour % 12 == 0 { 12 } else { c.hour % 12 })
            }),
            ("04", &|c| format!("{:02}", c.minute)),
            ("05", &|c| format!("{:02}", c.second)),
            ("06", &|c| format!("{:02}", c.year.rem_euclid(100))),
            ("15", &|c| format!("{:02}", c.hour)),
            ("_2", &|c| format!("{:>2}", c.day)),
            ("PM", &|c| {
                if c.hour >= 12 { "PM" } else { "AM" }.to_string()
            }),
            ("pm", &|c| {
                if c.hour >= 12 { "pm" } else { "am" }.to_string()
            }),
            ("1", &|c| c.month.to_string()),
            ("2", &|c| c.day.to_string()),
            ("3", &|c| {
                (if c.hour % 12 == 0 { 12 } else { c.hour % 12 }).to_string()
            }),
            ("4", &|c| c.minute.to_string()),
            ("5", &|c| c.second.to_string()),
        ];
        if let Some((tok, text)) = zones.iter().find(|(t, _)| rest.starts_with(t)) {
            out.push_str(text);
            rest = &rest[tok.len()..];
            continue;
        }
        // `Z07` after the longer `Z07…` layouts it begins.
        if rest.starts_with("Z07") {
            out.push_str(&offset_text(offset, "", false, false, true));
            rest = &rest[3..];
            continue;
        }
        if let Some((tok, f)) = tokens.iter().find(|(t, _)| rest.starts_with(t)) {
            out.push_str(&f(&c));
            rest = &rest[tok.len()..];
            continue;
        }
        let ch = rest.chars().next().unwrap_or(' ');
        out.push(ch);
        rest = &rest[ch.len_utf8()..];
    }
    out
}

/// Go's `Duration.String()`: `1h2m0.01s`, `1.5ms`, `0s` (the one in
/// `wasmetheus_model::go`).
pub use wasmetheus_model::go::format_duration as duration_string;

/// Calls a method of a time or duration value, as a template's `.Method args` does.
/// `None` when the type has no such method.
pub(crate) fn call_method(
    recv: &Value,
    name: &str,
    args: &[Value],
) -> Option<Result<Value, String>> {
    let want = |n: usize| -> Result<(), String> {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!(
                "wrong number of args for {name}: want {n} got {}",
                args.len()
            ))
        }
    };
    let (time, zone) = match recv {
        Value::Time(ns) => (Some(*ns), None),
        Value::TimeIn(ns, z) => (Some(*ns), Some(&**z)),
        _ => (None, None),
    };
    match recv {
        Value::Time(_) | Value::TimeIn(..) => {
            let ns = time.unwrap_or(0);
            let local = ns + i128::from(zone.map_or(0, |z| z.offset_secs)) * NS;
            let r = match name {
                "Format" => want(1).and_then(|()| match &args[0] {
                    Value::String(l) => Ok(Value::string(format_in(ns, zone, l))),
                    other => Err(format!(
                        "wrong type for value; expected string; got {}",
                        other.type_name()
                    )),
                }),
                "String" => want(0).map(|()| {
                    Value::string(match zone {
                        Some(z) => time_string_in(ns, z),
                        None => time_string(ns),
                    })
                }),
                "Unix" => want(0).map(|()| Value::Int(ns.div_euclid(NS) as i64)),
                "UnixMilli" => want(0).map(|()| Value::Int(ns.div_euclid(1_000_000) as i64)),
                "UnixNano" => want(0).map(|()| Value::Int(ns as i64)),
                "UTC" | "Local" => want(0).map(|()| Value::Time(ns)),
                "Year" => want(0).map(|()| Value::Int(civil(local).year)),
                "Day" => want(0).map(|()| Value::Int(i64::from(civil(local).day))),
                "Hour" => want(0).map(|()| Value::Int(i64::from(civil(local).hour))),
                "Minute" => want(0).map(|()| Value::Int(i64::from(civil(local).minute))),
                "Second" => want(0).map(|()| Value::Int(i64::from(civil(local).second))),
                "Nanosecond" => want(0).map(|()| Value::Int(i64::from(civil(local).nanos))),
                "YearDay" => want(0).map(|()| Value::Int(i64::from(civil(local).yday))),
                "IsZero" => want(0).map(|()| Value::Bool(ns == -62_135_596_800 * NS)),
                _ => return None,
            };
            Some(r)
        }
        Value::Duration(d) => {
            let d = *d;
            let r = match name {
                "String" => want(0).map(|()| Value::string(duration_string(d))),
                "Seconds" => want(0).map(|()| Value::Float(d as f64 / 1e9)),
                "Minutes" => want(0).map(|()| Value::Float(d as f64 / 6e10)),
                "Hours" => want(0).map(|()| Value::Float(d as f64 / 3.6e12)),
                "Milliseconds" => want(0).map(|()| Value::Int(d / 1_000_000)),
                "Microseconds" => want(0).map(|()| Value::Int(d / 1_000)),
                "Nanoseconds" => want(0).map(|()| Value::Int(d)),
                _ => return None,
            };
            Some(r)
        }
        _ => None,
    }
}
