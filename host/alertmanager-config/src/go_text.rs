//! How Go's YAML library words what it refuses, for values read through
//! JSON (receivers and their integrations).

use serde_json::Value;

/// The YAML kind of a JSON value, for Go's `cannot unmarshal !!x` texts.
pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "!!null",
        Value::Bool(_) => "!!bool",
        Value::Number(_) => "!!int",
        Value::String(_) => "!!str",
        Value::Array(_) => "!!seq",
        Value::Object(_) => "!!map",
    }
}

/// Serde's wording of a structural error in Go's (`field x not found in
/// type config.plain`).
pub(crate) fn go_serde_text(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    };
    if let Some(rest) = text.strip_prefix("unknown field `")
        && let Some(end) = rest.find('`')
    {
        return format!("field {} not found in type config.plain", &rest[..end]);
    }
    text
}
