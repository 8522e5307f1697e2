//! Alertmanager's template functions (`DefaultFuncs` of Alertmanager 0.34's `template/template.go`):
//! `toUpper toLower title trimSpace join match safeHtml safeUrl urlUnescape reReplaceAll stringSlice
//! date tz since humanizeDuration toJson`, with Go's parameter types and error texts.

use std::sync::Arc;

use crate::budget::{value_budget, value_too_big};
use crate::value::Zone;
use crate::value::{Function, Param, Value};
use crate::{FuncMap, gotime, prom};

pub use crate::html::{HTML_TYPE, URL_TYPE};

const TIME: &str = "*time.Time";

fn s(a: &[Value], i: usize) -> &str {
    a.get(i).and_then(Value::as_str).unwrap_or("")
}

fn time_arg(a: &[Value], i: usize) -> i128 {
    match a.get(i) {
        Some(Value::Time(ns) | Value::TimeIn(ns, _)) => *ns,
        _ => crate::alertmanager::data::ZERO_TIME_NS,
    }
}

fn zone_arg(a: &[Value], i: usize) -> Option<&Zone> {
    match a.get(i) {
        Some(Value::TimeIn(_, z)) => Some(z),
        _ => None,
    }
}

/// Go's `time.LoadLocation(name)` and `t.In(loc)`: the time `ns` shown in the named zone of the
/// system's time zone database (`""` and `UTC` are UTC, `Local` the system's zone).
pub fn in_zone(name: &str, ns: i128) -> Result<Value, String> {
    if name.is_empty() || name == "UTC" {
        return Ok(Value::Time(ns));
    }
    if name.contains("..") || name.starts_with(['/', '\\']) {
        return Err("time: invalid location name".into());
    }
    let tz = if name == "Local" {
        jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC)
    } else {
        jiff::tz::db()
            .get(name)
            .map_err(|_| format!("unknown time zone {name}"))?
    };
    // Outside jiff's range (years -9999..=9999) the time stays UTC.
    let Ok(ts) = jiff::Timestamp::from_nanosecond(ns) else {
        return Ok(Value::Time(ns));
    };
    let info = tz.to_offset_info(ts);
    Ok(Value::TimeIn(
        ns,
        Arc::new(Zone {
            offset_secs: info.offset().seconds(),
            abbrev: info.abbreviation().into(),
        }),
    ))
}

/// `cases.Title(language.AmericanEnglish)`: each word's first letter upper-cased, the rest
/// lower-cased (Prometheus' `title` keeps the rest as it is).
pub fn am_title(text: &str) -> String {
    prom::title(&prom::go_case(text, false))
}

/// Go's `url.QueryUnescape`.
pub fn query_unescape(text: &str) -> Result<String, String> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (
                    b.get(i + 1).and_then(|&c| hex(c)),
                    b.get(i + 2).and_then(|&c| hex(c)),
                ) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ => {
                        let end = (i + 3).min(b.len());
                        let esc = String::from_utf8_lossy(&b[i..end]);
                        return Err(format!("invalid URL escape {}", crate::gofmt::quote(&esc)));
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

pub use crate::gojson::to_json;

fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// Alertmanager's template functions (`template.DefaultFuncs`).
pub fn alertmanager_funcs() -> FuncMap<'static> {
    let mut m = FuncMap::new();
    let mut add = |name: &str, f: Function<'static>| {
        m.insert(name.to_string(), f);
    };
    let string_fn = |f: fn(&str) -> String| {
        Function::new(vec![Param::String], move |a| Ok(Value::string(f(s(a, 0)))))
    };
    add("toUpper", string_fn(|t| prom::go_case(t, true)));
    add("toLower", string_fn(|t| prom::go_case(t, false)));
    add("title", string_fn(am_title));
    add("trimSpace", string_fn(|t| t.trim().to_string()));
    add(
        "join",
        Function::new(
            vec![Param::String, Param::Named(Arc::from("[]string"))],
            |a| {
                let sep = s(a, 0);
                let items: Vec<&str> = match a.get(1) {
                    Some(Value::List(l)) => l.items.iter().filter_map(Value::as_str).collect(),
                    _ => Vec::new(),
                };
                let len = items.iter().map(|i| i.len()).sum::<usize>()
                    + sep.len() * items.len().saturating_sub(1);
                if len > value_budget() {
                    return Err(value_too_big(value_budget()));
                }
                Ok(Value::string(items.join(sep)))
            },
        ),
    );
    add(
        "match",
        Function::new(vec![Param::String, Param::String], |a| {
            let re = crate::goregex::compile(s(a, 0))?;
            Ok(Value::Bool(re.is_match(s(a, 1))))
        }),
    );
    add(
        "safeHtml",
        Function::new(vec![Param::String], |a| {
            Ok(Value::Typed(HTML_TYPE.into(), s(a, 0).into()))
        }),
    );
    add(
        "safeUrl",
        Function::new(vec![Param::String], |a| {
            Ok(Value::Typed(URL_TYPE.into(), s(a, 0).into()))
        }),
    );
    add(
        "urlUnescape",
        Function::new(vec![Param::String], |a| {
            query_unescape(s(a, 0)).map(Value::string)
        }),
    );
    add(
        "reReplaceAll",
        Function::new(vec![Param::String, Param::String, Param::String], |a| {
            let re = crate::goregex::compile(s(a, 0))
                .map_err(|e| format!("regexp: Compile({}): {e}", crate::goregex::quote(s(a, 0))))?;
            let max = value_budget();
            prom::replace_all(&re, s(a, 2), s(a, 1), max)
                .map(Value::string)
                .ok_or_else(|| value_too_big(max))
        }),
    );
    add(
        "stringSlice",
        Function::variadic(vec![Param::String], |a| {
            Ok(Value::list("[]string", a.to_vec()))
        }),
    );
    add(
        "date",
        Function::new(vec![Param::String, Param::Named(Arc::from(TIME))], |a| {
            let layout = s(a, 0);
            if layout.len().saturating_mul(16) > value_budget() {
                return Err(value_too_big(value_budget()));
            }
            Ok(Value::string(gotime::format_in(
                time_arg(a, 1),
                zone_arg(a, 1),
                layout,
            )))
        }),
    );
    add(
        "tz",
        Function::new(vec![Param::String, Param::Named(Arc::from(TIME))], |a| {
            in_zone(s(a, 0), time_arg(a, 1))
        }),
    );
    add(
        "since",
        Function::new(vec![Param::Named(Arc::from(TIME))], |a| {
            let d = now_ns() - time_arg(a, 0);
            Ok(Value::Duration(
                d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
            ))
        }),
    );
    add(
        "humanizeDuration",
        Function::new(vec![Param::Any], |a| {
            let v = prom::to_float(a.first().unwrap_or(&Value::Nil))?;
            Ok(Value::string(prom::humanize_duration(v)))
        }),
    );
    add(
        "toJson",
        Function::new(vec![Param::Any], |a| {
            to_json(a.first().unwrap_or(&Value::Nil)).map(Value::string)
        }),
    );
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_unescape_is_gos() {
        assert_eq!(query_unescape("a+b%20c%2Fd").as_deref(), Ok("a b c/d"));
        assert_eq!(
            query_unescape("50%zz").unwrap_err(),
            r#"invalid URL escape "%zz""#
        );
        assert_eq!(
            query_unescape("5%").unwrap_err(),
            r#"invalid URL escape "%""#
        );
    }

    #[test]
    fn json_floats_are_gos() {
        use crate::gojson::json_float;
        let cases = [
            (1.0, "1"),
            (0.5, "0.5"),
            (1e21, "1e+21"),
            (1e-7, "1e-7"),
            (123456.0, "123456"),
        ];
        for (f, want) in cases {
            assert_eq!(json_float(f).as_deref(), Ok(want), "{f}");
        }
        assert!(json_float(f64::NAN).is_err());
    }

    #[test]
    fn am_title_lowers_the_rest_of_words() {
        assert_eq!(am_title("hELLO wORLD"), "Hello World");
    }
}
