//! The YAML reader's errors about a test file in the words of Go's
//! `yaml.v2` (`UnmarshalStrict`), which promtool prints: `field X not
//! found in type main.T`, `key "x" already set in map`, `cannot unmarshal
//! !!str `abc` into float64`. Go names the struct or slice type; it is
//! found from the field list serde reports, or from the key the offending
//! node sits under.

use crate::gofmt::quote;

/// The error as promtool prints it.
pub fn go_error(e: &serde_saphyr::Error, text: &str) -> String {
    use serde_saphyr::Error as E;
    let unmarshal =
        |line: u64, what: String| format!("yaml: unmarshal errors:\n  line {line}: {what}");
    match e.without_snippet() {
        E::SerdeUnknownField {
            field,
            expected,
            location,
        } => unmarshal(
            location.line(),
            format!(
                "field {field} not found in type main.{}",
                struct_type(expected)
            ),
        ),
        E::DuplicateMappingKey { key, location } => {
            let key = key.as_deref().unwrap_or_default();
            let what = match owner_of(key, text, location.line()) {
                Some(owner) => format!("field {key} already set in type main.{owner}"),
                None => format!("key {} already set in map", quote(key)),
            };
            unmarshal(location.line(), what)
        }
        // The custom errors of durations and timestamps, which Go
        // returns unchanged from their `UnmarshalYAML`.
        E::Message { msg, .. } => msg.clone(),
        other => {
            let rendered = other.to_string();
            let first = rendered.lines().next().unwrap_or_default();
            let message = first.split(" at line ").next().unwrap_or(first);
            if message.starts_with("alias replay limit exceeded") {
                return "yaml: document contains excessive aliasing".into();
            }
            let Some(loc) = other.location() else {
                return format!("yaml: {message}");
            };
            let (line, col) = (loc.line(), loc.column());
            let expects = matches!(
                message,
                "expected sequence start"
                    | "expected mapping start"
                    | "expected string scalar"
                    | "invalid boolean"
                    | "invalid floating point"
            );
            match type_error(text, line, col, message).filter(|_| expects) {
                Some(what) => unmarshal(line, what),
                None => format!("yaml: line {line}: {message}"),
            }
        }
    }
}

/// The Go struct whose fields serde listed as `expected`.
fn struct_type(expected: &[&str]) -> &'static str {
    let has = |f: &str| expected.contains(&f);
    if has("rule_files") {
        "unitTestFile"
    } else if has("input_series") {
        "testGroup"
    } else if has("exp_alerts") {
        "alertTestCase"
    } else if has("exp_labels") {
        "alert"
    } else if has("exp_samples") {
        "promqlTestCase"
    } else if has("histogram") {
        "sample"
    } else {
        "series"
    }
}

/// The Go struct a repeated key at `line` belongs to, `None` for a map's
/// key.
fn owner_of(key: &str, text: &str, line: u64) -> Option<&'static str> {
    Some(match key {
        "rule_files" | "evaluation_interval" | "group_eval_order" | "tests" | "fuzzy_compare" => {
            "unitTestFile"
        }
        "interval" | "input_series" | "alert_rule_test" | "promql_expr_test"
        | "external_labels" | "external_url" | "name" | "start_timestamp" => "testGroup",
        "series" | "values" => "series",
        "alertname" | "exp_alerts" => "alertTestCase",
        "exp_labels" | "exp_annotations" => "alert",
        "expr" | "exp_samples" => "promqlTestCase",
        "labels" | "value" | "histogram" => "sample",
        "eval_time" => {
            // Shared by both kinds of test: the nearer list above decides.
            let above: Vec<&str> = text
                .lines()
                .take(usize::try_from(line).unwrap_or(usize::MAX))
                .collect();
            let above = above.join("\n");
            let alert = above.rfind("alert_rule_test");
            let promql = above.rfind("promql_expr_test");
            if alert > promql {
                "alertTestCase"
            } else {
                "promqlTestCase"
            }
        }
        _ => return None,
    })
}

/// The Go type of a field's value and of its elements.
fn field_type(key: &str) -> (&'static str, &'static str) {
    match key {
        "tests" => ("[]main.testGroup", "main.testGroup"),
        "rule_files" | "group_eval_order" => ("[]string", "string"),
        "input_series" => ("[]main.series", "main.series"),
        "alert_rule_test" => ("[]main.alertTestCase", "main.alertTestCase"),
        "promql_expr_test" => ("[]main.promqlTestCase", "main.promqlTestCase"),
        "exp_alerts" => ("[]main.alert", "main.alert"),
        "exp_samples" => ("[]main.sample", "main.sample"),
        "external_labels" | "exp_labels" | "exp_annotations" => ("map[string]string", "string"),
        "value" => ("float64", "float64"),
        "fuzzy_compare" => ("bool", "bool"),
        _ => ("string", "string"),
    }
}

/// `cannot unmarshal <node> into <type>` for the node at `line:col`.
fn type_error(text: &str, line: u64, col: u64, message: &str) -> Option<String> {
    let offset = offset_of(text, line, col)?;
    let (prefix, rest) = text.split_at(offset);
    let (key, element) = key_of(prefix)?;
    let (whole, elem) = field_type(&key);
    let target = if element { elem } else { whole };
    // The reader's complaint must fit the type found, else the guess is off.
    let fits = match message {
        "expected sequence start" => target.starts_with("[]"),
        "expected mapping start" => target.starts_with("map[") || target.starts_with("main."),
        "invalid boolean" => target == "bool",
        "invalid floating point" => target == "float64",
        _ => true,
    };
    fits.then(|| format!("cannot unmarshal {} into {target}", node(prefix, rest)))
}

/// The byte offset of a 1-based line and column (in characters).
fn offset_of(text: &str, line: u64, col: u64) -> Option<usize> {
    let mut start = 0;
    for _ in 1..line {
        start += text[start..].find('\n')? + 1;
    }
    let line_text = &text[start..];
    let within = line_text
        .char_indices()
        .nth(usize::try_from(col.saturating_sub(1)).ok()?)
        .map_or(line_text.len(), |(i, _)| i);
    Some(start + within)
}

/// The key a node after `prefix` is the value of, and whether the node
/// is an element of that key's sequence.
fn key_of(prefix: &str) -> Option<(String, bool)> {
    let mut p = prefix.trim_end();
    let mut element = false;
    if let Some(rest) = p.strip_suffix('-') {
        p = rest.trim_end();
        element = true;
    }
    if p.ends_with('[') || p.ends_with(',') {
        // Inside a flow sequence (or mapping): back to its opening bracket.
        let mut depth = 0i32;
        let mut open = None;
        for (i, c) in p.char_indices().rev() {
            match c {
                ']' | '}' => depth += 1,
                '[' | '{' if depth > 0 => depth -= 1,
                '[' | '{' => {
                    open = Some((i, c));
                    break;
                }
                _ => {}
            }
        }
        let (i, c) = open?;
        if c == '{' {
            return None;
        }
        p = p[..i].trim_end();
        element = true;
    }
    let p = p.strip_suffix(':')?;
    let start = p
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let key = &p[start..];
    (!key.is_empty()).then(|| (key.to_owned(), element))
}

/// Go's description of the node starting at `rest`: `!!seq`, `!!map`, or
/// a scalar's tag and (shortened) text.
fn node(prefix: &str, rest: &str) -> String {
    let rest = rest.trim_start_matches([' ', '\t']);
    if rest.starts_with('[') || rest.starts_with("- ") || rest.starts_with("-\n") {
        return "!!seq".into();
    }
    if rest.starts_with('{') {
        return "!!map".into();
    }
    let in_flow = prefix.matches(['[', '{']).count() > prefix.matches([']', '}']).count();
    let line = rest.lines().next().unwrap_or_default();
    let end = if in_flow {
        line.find([',', ']', '}']).unwrap_or(line.len())
    } else {
        line.find(" #").unwrap_or(line.len())
    };
    let raw = line[..end].trim();
    if !raw.starts_with(['"', '\'']) && raw.contains(": ") || raw.ends_with(':') {
        return "!!map".into();
    }
    let (tag, value) = if let Some(q) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        ("!!str", q)
    } else if let Some(q) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        ("!!str", q)
    } else {
        (resolve(raw), raw)
    };
    let shown = if value.len() > 10 {
        let cut = (0..=7)
            .rev()
            .find(|&i| value.is_char_boundary(i))
            .unwrap_or(0);
        format!("{}...", &value[..cut])
    } else {
        value.to_owned()
    };
    format!("{tag} `{shown}`")
}

/// `yaml.v2`'s tag for a plain scalar.
fn resolve(s: &str) -> &'static str {
    const BOOLS: [&str; 22] = [
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
        "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
    ];
    if matches!(s, "" | "~" | "null" | "Null" | "NULL") {
        return "!!null";
    }
    if BOOLS.contains(&s) {
        return "!!bool";
    }
    let plain = s.replace('_', "");
    let body = plain.strip_prefix(['+', '-']).unwrap_or(&plain);
    let int = !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit())
        || body
            .strip_prefix("0x")
            .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
        || body
            .strip_prefix("0b")
            .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b == b'0' || b == b'1'));
    if int {
        return "!!int";
    }
    let lower = body.to_ascii_lowercase();
    if lower == ".inf"
        || lower == ".nan"
        || (body.contains(['.', 'e', 'E']) && body.parse::<f64>().is_ok())
    {
        return "!!float";
    }
    "!!str"
}

#[cfg(test)]
mod tests {
    use crate::file::parse;

    #[test]
    fn type_errors_read_as_go_words_them() {
        let cases = [
            (
                "tests: foo",
                "line 1: cannot unmarshal !!str `foo` into []main.testGroup",
            ),
            (
                "tests: [{interval: [1]}]",
                "line 1: cannot unmarshal !!seq into string",
            ),
            (
                "evaluation_interval: {a: 1}",
                "line 1: cannot unmarshal !!map into string",
            ),
            (
                "tests: [{input_series: [{series: {a: b}}]}]",
                "line 1: cannot unmarshal !!map into string",
            ),
            (
                "fuzzy_compare: maybe",
                "line 1: cannot unmarshal !!str `maybe` into bool",
            ),
            (
                "tests: [{external_labels: [a]}]",
                "line 1: cannot unmarshal !!seq into map[string]string",
            ),
            (
                "tests:\n- promql_expr_test:\n  - exp_samples:\n    - value: abcdefghijkl\n",
                "line 4: cannot unmarshal !!str `abcdefg...` into float64",
            ),
            (
                "rule_files: 12",
                "line 1: cannot unmarshal !!int `12` into []string",
            ),
            (
                "tests:\n  - 1.5\n",
                "line 2: cannot unmarshal !!float `1.5` into main.testGroup",
            ),
            (
                "tests:\n- alert_rule_test:\n  - eval_time: 1m\n    eval_time: 2m\n",
                "line 4: field eval_time already set in type main.alertTestCase",
            ),
            (
                "tests:\n- external_labels: {a: x, a: y}\n",
                "line 2: key \"a\" already set in map",
            ),
        ];
        for (text, want) in cases {
            let got = parse(text).unwrap_err();
            assert_eq!(got, format!("yaml: unmarshal errors:\n  {want}"), "{text}");
        }
    }
}
