//! Go's `encoding/json` marshalling of template values (Alertmanager's `toJson`, html/template's
//! JavaScript values): HTML-safe string quoting, Go's float format, Alertmanager's struct field
//! names, times in RFC 3339.

use crate::budget::{value_budget, value_too_big};
use crate::gotime;
use crate::value::Value;

/// Go's `encoding/json` string quoting (HTML-safe: `<`, `>`, `&` as `\u003c`…).
pub(crate) fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's `encoding/json` float format.
pub(crate) fn json_float(f: f64) -> Result<String, String> {
    if !f.is_finite() {
        return Err(format!(
            "json: unsupported value: {}",
            crate::gofmt::format_float(f)
        ));
    }
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let e = format!("{f:e}");
        return Ok(match e.split_once('e') {
            Some((m, x)) if !x.starts_with('-') => format!("{m}e+{x}"),
            _ => e,
        });
    }
    Ok(format!("{f}"))
}

/// Go's `json.Marshal` of a template value: structs of Alertmanager's types with their JSON names
/// (`receiver`, `startsAt`, …), other structs by field name, times in RFC 3339.
pub fn to_json(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    write_json(&mut out, v, 0)?;
    Ok(out)
}

fn write_json(out: &mut String, v: &Value, depth: usize) -> Result<(), String> {
    if depth > 1000 {
        return Err("json: value nested too deeply".into());
    }
    if out.len() > value_budget() {
        return Err(value_too_big(value_budget()));
    }
    match v {
        Value::Invalid | Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Uint(u) => out.push_str(&u.to_string()),
        Value::Duration(d) => out.push_str(&d.to_string()),
        Value::Float(f) => out.push_str(&json_float(*f)?),
        Value::String(s) | Value::Typed(_, s) => json_string(out, s),
        Value::Time(ns) => {
            json_string(
                out,
                &gotime::format(*ns, "2006-01-02T15:04:05.999999999Z07:00"),
            );
        }
        Value::TimeIn(ns, z) => {
            json_string(
                out,
                &gotime::format_in(*ns, Some(z), "2006-01-02T15:04:05.999999999Z07:00"),
            );
        }
        Value::List(l) => {
            out.push('[');
            for (i, item) in l.items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item, depth + 1)?;
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, item)) in m.entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(out, k);
                out.push(':');
                write_json(out, item, depth + 1)?;
            }
            out.push('}');
        }
        Value::Struct(st) => {
            let tagged = matches!(
                st.type_name.trim_start_matches('*'),
                "template.Data" | "template.Alert"
            );
            out.push('{');
            for (i, (name, item)) in st.fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if tagged {
                    let mut c = name.chars();
                    let key: String = c
                        .next()
                        .map(|f| f.to_ascii_lowercase())
                        .into_iter()
                        .chain(c)
                        .collect();
                    json_string(out, &key);
                } else {
                    json_string(out, name);
                }
                out.push(':');
                write_json(out, item, depth + 1)?;
            }
            out.push('}');
        }
        Value::Func(_) => return Err("json: unsupported type: func()".into()),
    }
    Ok(())
}
