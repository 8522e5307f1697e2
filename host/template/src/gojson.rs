//! Go's `encoding/json` marshalling of template values (Alertmanager's `toJson`, html/template's
//! JavaScript values): Alertmanager's struct field names, times in RFC 3339; strings and numbers
//! as [`wasmetheus_model::go`] writes them (HTML-safe quoting, Go's float format).

use crate::budget::{value_budget, value_too_big};
use crate::gotime;
use crate::value::Value;

use wasmetheus_model::go::write_json_string as json_string;

/// Go's `encoding/json` float format ([`wasmetheus_model::go::json_float`]),
/// with Go's `json: unsupported value` error for NaN and infinities instead
/// of `null`.
pub(crate) fn json_float(f: f64) -> Result<String, String> {
    if !f.is_finite() {
        return Err(format!(
            "json: unsupported value: {}",
            crate::gofmt::format_float(f)
        ));
    }
    Ok(wasmetheus_model::go::json_float(f))
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
