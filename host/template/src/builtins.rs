//! Go's predefined template functions: `and or not len index slice html js urlquery print printf
//! println call eq ne lt le gt ge`, with Go's signatures and error texts.

use std::cmp::Ordering;

use crate::budget::{value_budget, value_too_big};
use crate::gofmt;
use crate::value::{Param, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Builtin {
    And,
    Or,
    Not,
    Len,
    Index,
    Slice,
    Html,
    Js,
    UrlQuery,
    Print,
    Printf,
    Println,
    Call,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

pub(crate) fn lookup(name: &str) -> Option<Builtin> {
    Some(match name {
        "and" => Builtin::And,
        "or" => Builtin::Or,
        "not" => Builtin::Not,
        "len" => Builtin::Len,
        "index" => Builtin::Index,
        "slice" => Builtin::Slice,
        "html" => Builtin::Html,
        "js" => Builtin::Js,
        "urlquery" => Builtin::UrlQuery,
        "print" => Builtin::Print,
        "printf" => Builtin::Printf,
        "println" => Builtin::Println,
        "call" => Builtin::Call,
        "eq" => Builtin::Eq,
        "ne" => Builtin::Ne,
        "lt" => Builtin::Lt,
        "le" => Builtin::Le,
        "gt" => Builtin::Gt,
        "ge" => Builtin::Ge,
        _ => return None,
    })
}

/// Go's parameter list of a builtin (variadic when the flag is set).
pub(crate) fn signature(b: Builtin) -> (Vec<Param>, bool) {
    use Builtin::*;
    match b {
        And | Or | Index | Slice | Call | Eq => (vec![Param::Value, Param::Value], true),
        Not | Len => (vec![Param::Value], false),
        Html | Js | UrlQuery | Print | Println => (vec![Param::Any], true),
        Printf => (vec![Param::String, Param::Any], true),
        Ne | Lt | Le | Gt | Ge => (vec![Param::Value, Param::Value], false),
    }
}

/// Calls a builtin. Those that build text (`print`, `printf`, `println`, the escapers) refuse, before
/// building it, a text longer than the execution's value budget ([`value_budget`]).
pub(crate) fn call(b: Builtin, a: &[Value]) -> Result<Value, String> {
    use Builtin::*;
    let max = value_budget();
    let too_big = || value_too_big(max);
    let within = |n: usize| if n > max { Err(too_big()) } else { Ok(()) };
    let arg = |i: usize| a.get(i).cloned().unwrap_or(Value::Invalid);
    Ok(match b {
        And | Or | Call => return Err("internal error: special builtin".into()),
        Not => Value::Bool(!arg(0).truth().0),
        Len => Value::Int(length(&arg(0))? as i64),
        Index => index(&arg(0), &a[1.min(a.len())..])?,
        Slice => slice(&arg(0), &a[1.min(a.len())..])?,
        Html => {
            let s = eval_args(a)?;
            within(html_escape_len(&s))?;
            Value::string(html_escape(&s))
        }
        Js => {
            let s = eval_args(a)?;
            within(js_escape_len(&s))?;
            Value::string(js_escape(&s))
        }
        UrlQuery => {
            let s = eval_args(a)?;
            within(query_escape_len(&s))?;
            Value::string(query_escape(&s))
        }
        Print => Value::string(gofmt::sprint_limited(a, max).ok_or_else(too_big)?),
        Println => Value::string(gofmt::sprintln_limited(a, max).ok_or_else(too_big)?),
        Printf => {
            let f = arg(0);
            Value::string(
                gofmt::sprintf_limited(f.as_str().unwrap_or(""), &a[1.min(a.len())..], max)
                    .ok_or_else(too_big)?,
            )
        }
        Eq => Value::Bool(eq(&arg(0), &a[1.min(a.len())..])?),
        Ne => Value::Bool(!eq(&arg(0), &a[1.min(a.len())..])?),
        Lt => Value::Bool(lt(&arg(0), &arg(1))?),
        Le => Value::Bool(lt(&arg(0), &arg(1))? || eq(&arg(0), &a[1.min(a.len())..])?),
        Gt => Value::Bool(!(lt(&arg(0), &arg(1))? || eq(&arg(0), &a[1.min(a.len())..])?)),
        Ge => Value::Bool(!lt(&arg(0), &arg(1))?),
    })
}

/// Go's `evalArgs` of the escapers: a lone string as is, else `fmt.Sprint` of the arguments (within
/// the value budget).
fn eval_args(a: &[Value]) -> Result<String, String> {
    if let [Value::String(s)] = a {
        return Ok(s.to_string());
    }
    let max = value_budget();
    gofmt::sprint_limited(a, max).ok_or_else(|| value_too_big(max))
}

/// The length of [`html_escape`] of `s`, computed without building it.
fn html_escape_len(s: &str) -> usize {
    s.chars()
        .map(|c| match c {
            '"' | '\'' | '&' => 5,
            '<' | '>' => 4,
            '\0' => '\u{FFFD}'.len_utf8(),
            c => c.len_utf8(),
        })
        .sum()
}

/// The length of [`js_escape`] of `s`, computed without building it.
fn js_escape_len(s: &str) -> usize {
    s.chars()
        .map(|c| match c {
            '\\' | '\'' | '"' => 2,
            '<' | '>' | '&' | '=' => 6,
            c if (c as u32) < 0x20 => 6,
            c if c.is_ascii() => 1,
            c if !gofmt::is_print(c) => 2 + format!("{:04X}", c as u32).len(),
            c => c.len_utf8(),
        })
        .sum()
}

/// The length of [`query_escape`] of `s`, computed without building it: unreserved bytes and spaces
/// (`+`) take one byte, every other byte three (`%XX`).
pub(crate) fn query_escape_len(s: &str) -> usize {
    s.bytes()
        .map(|b| match b {
            b' ' | b'-' | b'_' | b'.' | b'~' => 1,
            b if b.is_ascii_alphanumeric() => 1,
            _ => 3,
        })
        .sum()
}

/// Go's `template.HTMLEscapeString`.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if c.is_ascii() => out.push(c),
            c if !gofmt::is_print(c) => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape` (the one copy in `wasmetheus_model::go`).
pub use wasmetheus_model::go::query_escape;

fn length(v: &Value) -> Result<usize, String> {
    Ok(match v {
        Value::String(s) | Value::Typed(_, s) => s.len(),
        Value::List(l) => l.items.len(),
        Value::Map(m) => m.entries.len(),
        Value::Nil => return Err("len of nil pointer".into()),
        Value::Invalid => return Err("reflect: call of reflect.Value.Type on zero Value".into()),
        other => return Err(format!("len of type {}", other.type_name())),
    })
}

fn index_arg(v: &Value, cap: usize, inclusive: bool) -> Result<usize, String> {
    let x: i128 = match v {
        Value::Int(i) => i128::from(*i),
        Value::Uint(u) => i128::from(*u),
        Value::Invalid | Value::Nil => return Err("cannot index slice/array with nil".into()),
        other => {
            return Err(format!(
                "cannot index slice/array with type {}",
                other.type_name()
            ));
        }
    };
    if x < 0 || x > cap as i128 || (!inclusive && x == cap as i128) {
        return Err(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

fn index(item: &Value, indexes: &[Value]) -> Result<Value, String> {
    let mut item = item.clone();
    if matches!(item, Value::Invalid | Value::Nil) {
        return Err("index of untyped nil".into());
    }
    for ix in indexes {
        item = match &item {
            Value::List(l) => match l.items.get(index_arg(ix, l.items.len(), true)?) {
                Some(v) => v.clone(),
                None => return Err("reflect: slice index out of range".into()),
            },
            Value::String(s) => match s.as_bytes().get(index_arg(ix, s.len(), true)?) {
                Some(b) => Value::Uint(u64::from(*b)),
                None => return Err("reflect: string index out of range".into()),
            },
            Value::Map(m) => match ix {
                Value::String(k) => m
                    .entries
                    .get(&**k)
                    .cloned()
                    .unwrap_or_else(|| m.zero.clone()),
                Value::Invalid | Value::Nil => {
                    return Err("value is nil; should be of type string".into());
                }
                other => {
                    return Err(format!(
                        "value has type {}; should be string",
                        other.type_name()
                    ));
                }
            },
            Value::Nil => return Err("index of nil pointer".into()),
            other => {
                return Err(format!(
                    "can't index item of type {}",
                    other.type_name().trim_start_matches('*')
                ));
            }
        };
    }
    Ok(item)
}

fn slice(item: &Value, indexes: &[Value]) -> Result<Value, String> {
    if matches!(item, Value::Invalid | Value::Nil) {
        return Err("slice of untyped nil".into());
    }
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()));
    }
    let len = match item {
        Value::String(s) => {
            if indexes.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            s.len()
        }
        Value::List(l) => l.items.len(),
        other => return Err(format!("can't slice item of type {}", other.type_name())),
    };
    let mut idx = [0, len, len];
    for (i, ix) in indexes.iter().enumerate() {
        idx[i] = index_arg(ix, len, true)?;
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return Err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    Ok(match item {
        Value::String(s) => {
            Value::string(String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]]).into_owned())
        }
        Value::List(l) => Value::List(std::sync::Arc::new(crate::value::List {
            type_name: l.type_name.clone(),
            items: l.items[idx[0]..idx[1]].to_vec(),
            methods: l.methods.clone(),
        })),
        _ => Value::Invalid,
    })
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum BasicKind {
    Invalid,
    Bool,
    Int,
    Uint,
    Float,
    String,
    Other,
}

fn basic_kind(v: &Value) -> BasicKind {
    match v {
        Value::Invalid | Value::Nil => BasicKind::Invalid,
        Value::Bool(_) => BasicKind::Bool,
        Value::Int(_) | Value::Duration(_) => BasicKind::Int,
        Value::Uint(_) => BasicKind::Uint,
        Value::Float(_) => BasicKind::Float,
        Value::String(_) | Value::Typed(..) => BasicKind::String,
        _ => BasicKind::Other,
    }
}

fn int_of(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Duration(i) => *i,
        _ => 0,
    }
}

fn uint_of(v: &Value) -> u64 {
    match v {
        Value::Uint(u) => *u,
        _ => 0,
    }
}

fn eq(a1: &Value, rest: &[Value]) -> Result<bool, String> {
    if rest.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = basic_kind(a1);
    for a in rest {
        let k2 = basic_kind(a);
        let truth = if k1 != k2 {
            match (k1, k2) {
                (BasicKind::Int, BasicKind::Uint) => {
                    int_of(a1) >= 0 && int_of(a1) as u64 == uint_of(a)
                }
                (BasicKind::Uint, BasicKind::Int) => {
                    int_of(a) >= 0 && uint_of(a1) == int_of(a) as u64
                }
                _ => {
                    if k1 != BasicKind::Invalid && k2 != BasicKind::Invalid {
                        return Err("incompatible types for comparison".into());
                    }
                    false
                }
            }
        } else {
            match (a1, a) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::String(x) | Value::Typed(_, x), Value::String(y) | Value::Typed(_, y)) => {
                    x == y
                }
                (Value::Uint(x), Value::Uint(y)) => x == y,
                _ if k1 == BasicKind::Int => int_of(a1) == int_of(a),
                _ if k1 == BasicKind::Invalid => true,
                (Value::Time(x) | Value::TimeIn(x, _), Value::Time(y) | Value::TimeIn(y, _)) => {
                    x == y
                }
                _ => {
                    return Err(format!(
                        "non-comparable type {}: {}",
                        gofmt::format_v(a, false, 0),
                        a.type_name()
                    ));
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(a1: &Value, a2: &Value) -> Result<bool, String> {
    let k1 = basic_kind(a1);
    let k2 = basic_kind(a2);
    if matches!(k1, BasicKind::Invalid | BasicKind::Other)
        || matches!(k2, BasicKind::Invalid | BasicKind::Other)
    {
        return Err("invalid type for comparison".into());
    }
    if k1 != k2 {
        return match (k1, k2) {
            (BasicKind::Int, BasicKind::Uint) => {
                Ok(int_of(a1) < 0 || (int_of(a1) as u64) < uint_of(a2))
            }
            (BasicKind::Uint, BasicKind::Int) => {
                Ok(int_of(a2) >= 0 && uint_of(a1) < int_of(a2) as u64)
            }
            _ => Err("incompatible types for comparison".into()),
        };
    }
    Ok(match (a1, a2) {
        (Value::Bool(_), _) => return Err("invalid type for comparison".into()),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y) == Some(Ordering::Less),
        (Value::String(x) | Value::Typed(_, x), Value::String(y) | Value::Typed(_, y)) => x < y,
        (Value::Uint(x), Value::Uint(y)) => x < y,
        _ => int_of(a1) < int_of(a2),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_lengths_are_exact() {
        let s = "a <b> & \"c\" 'd' = \\ \0 \u{1} \u{7f} é \u{a0} \u{e0000} \u{1f600} ~-_. +%";
        assert_eq!(html_escape_len(s), html_escape(s).len());
        assert_eq!(js_escape_len(s), js_escape(s).len());
        assert_eq!(query_escape_len(s), query_escape(s).len());
    }
}
