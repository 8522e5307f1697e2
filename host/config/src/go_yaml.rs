//! How Go's YAML library (which Prometheus uses) reads what serde would
//! refuse, and how it words what it refuses.
//!
//! A key with an empty value or `null` is the field's zero value: use
//! [`null_as_default`] on every field Prometheus declares as a slice, map,
//! string, number or bool:
//! `#[serde(default, deserialize_with = "crate::go_yaml::null_as_default")]`.
//! (Fields that Prometheus declares as pointers, where nil means "not set",
//! stay `Option<T>`.)
//!
//! [`go_error`] turns the YAML library's structural errors into Go's
//! texts: `field X not found in type T`, `field X already set in type T`,
//! `!!binary value contains invalid base64 data`. Go names the struct
//! type; serde does not, so the type is taken from where the key sits in
//! the file ([`GO_TYPES`]).

use serde::{Deserialize, Deserializer};

/// `null` or an empty value as `T::default()`, anything else as `T`.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Go's `%q` of a string and of bytes that need not be UTF-8
/// (`strconv.Quote`, the one copy in `wasmetheus_model::go`).
pub(crate) use wasmetheus_model::go::{quote as go_quote, quote_bytes as go_quote_bytes};

/// Go's type name for the mapping under a key path (nearest parent first;
/// list items do not count). The keys are the parents' names; `*` matches
/// any, and `X_sd_configs` anywhere above names the discovery package.
pub(crate) const GO_TYPES: &[(&[&str], &str)] = &[
    (&[], "config.plain"),
    (&["global"], "config.plain"),
    (&["scrape_configs"], "config.ScrapeConfig"),
    (&["alertmanagers", "alerting"], "config.AlertmanagerConfig"),
    (&["alerting"], "config.plain"),
    (&["storage"], "config.StorageConfig"),
    (&["tsdb", "storage"], "config.plain"),
    (&["exemplars", "storage"], "config.ExemplarsConfig"),
    (&["tracing"], "config.plain"),
    (&["otlp"], "config.plain"),
    (&["runtime"], "config.RuntimeConfig"),
    (&["remote_write"], "config.plain"),
    (&["remote_read"], "config.plain"),
    (&["queue_config", "remote_write"], "config.QueueConfig"),
    (
        &["metadata_config", "remote_write"],
        "config.MetadataConfig",
    ),
    (&["static_configs"], "targetgroup.Group"),
    (&["relabel_configs"], "relabel.plain"),
    (&["metric_relabel_configs"], "relabel.plain"),
    (&["write_relabel_configs"], "relabel.plain"),
    (&["alert_relabel_configs"], "relabel.plain"),
    (&["basic_auth"], "config.BasicAuth"),
    (&["authorization"], "config.Authorization"),
    (&["oauth2"], "config.OAuth2"),
    (&["tls_config"], "config.plain"),
    // wasmetheus' own section, named after its Rust types.
    (&["plugins"], "plugins.PluginsConfig"),
    (&["instances", "plugins"], "plugins.PluginInstanceConfig"),
    (&["grants", "instances", "plugins"], "plugins.Grants"),
    (&["*", "grants", "plugins"], "plugins.Grants"),
];

/// Mappings Go reads into a map (a repeated key is `key "x" already set
/// in map`, any key is accepted).
const GO_MAPS: &[&str] = &[
    "external_labels",
    "labels",
    "params",
    "headers",
    "required_matchers",
    "endpoint_params",
    "proxy_connect_header",
    "http_headers",
];

/// The Go type of the mapping whose keys have `ancestors` above them
/// (nearest first).
fn go_type(ancestors: &[String]) -> String {
    if let Some(sd) = ancestors.iter().find_map(|a| a.strip_suffix("_sd_configs")) {
        // Mechanisms' configs are `<package>.SDConfig`, read through a
        // `plain` type where they check what they read.
        return format!("{sd}.plain");
    }
    let mut best: Option<(&[&str], &str)> = None;
    for (path, name) in GO_TYPES {
        let matches = path.len() <= ancestors.len()
            && path.iter().zip(ancestors).all(|(p, a)| *p == "*" || p == a);
        let exact_top = path.is_empty() && ancestors.is_empty();
        if ((matches && !path.is_empty()) || exact_top)
            && best.is_none_or(|(b, _)| b.len() < path.len())
        {
            best = Some((path, name));
        }
    }
    best.map_or_else(|| "config.plain".to_owned(), |(_, name)| (*name).to_owned())
}

/// The keys of the mappings that enclose the key at 1-based `line` and
/// `column` of `text`, nearest first, read from block-style indentation.
/// A list item (`- `) is transparent: its parent is the key that holds the
/// list.
pub(crate) fn ancestors(text: &str, line: u64, column: u64) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let Some(index) = (line as usize).checked_sub(1).filter(|i| *i < lines.len()) else {
        return Vec::new();
    };
    let mut threshold = (column as usize).saturating_sub(1);
    let mut found = Vec::new();
    for raw in lines[..index].iter().rev() {
        if threshold == 0 {
            break;
        }
        let content = raw.trim_start();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let mut indent = raw.len() - content.len();
        let mut rest = content;
        // `- key: value`: the item's dash, then a key further in. The key
        // is an ancestor if it is left of what is being looked for; the
        // item's dash bounds what comes above.
        let mut dash = None;
        while let Some(after) = rest
            .strip_prefix("- ")
            .or_else(|| (rest == "-").then_some(""))
        {
            dash.get_or_insert(indent);
            let trimmed = after.trim_start();
            indent += rest.len() - trimmed.len();
            rest = trimmed;
        }
        if indent < threshold
            && !rest.is_empty()
            && let Some(key) = mapping_key(rest)
        {
            found.push(key);
            threshold = indent;
        }
        if let Some(dash) = dash {
            threshold = threshold.min(dash);
        }
    }
    found
}

/// The key of a `key: …` or `key:` line, unquoted.
fn mapping_key(content: &str) -> Option<String> {
    let content = content.trim_end();
    let (key, _) = if let Some(k) = content.strip_suffix(':') {
        (k, "")
    } else {
        content.split_once(": ")?
    };
    let key = key.trim();
    let key = key
        .strip_prefix('"')
        .and_then(|k| k.strip_suffix('"'))
        .or_else(|| key.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')))
        .unwrap_or(key);
    (!key.is_empty() && !key.starts_with(['{', '[', '#'])).then(|| key.to_owned())
}

/// A YAML error as Go's YAML library (or Prometheus) words it, when it
/// differs from the YAML library's own wording; `None` keeps that wording.
pub(crate) fn go_error(error: &serde_saphyr::Error, text: &str) -> Option<String> {
    use serde_saphyr::Error as E;
    let error = match error.without_snippet() {
        E::AliasError { error, .. } => error.as_ref(),
        other => other,
    }
    .without_snippet();
    match error {
        E::SerdeUnknownField {
            field, location, ..
        } => {
            let parents = ancestors(text, location.line(), location.column());
            Some(format!(
                "field {field} not found in type {}",
                go_type(&parents)
            ))
        }
        E::DuplicateMappingKey { key, location } => {
            let key = key.clone().unwrap_or_default();
            let parents = ancestors(text, location.line(), location.column());
            if parents
                .first()
                .is_some_and(|p| GO_MAPS.contains(&p.as_str()))
            {
                Some(format!("key {} already set in map", go_quote(&key)))
            } else {
                Some(format!(
                    "field {key} already set in type {}",
                    go_type(&parents)
                ))
            }
        }
        E::Unexpected { expected, location } => {
            // Go: `yaml: unmarshal errors: line N: cannot unmarshal !!seq
            // into T`.
            let found = node_kind(text, location.line(), location.column());
            Some(format!(
                "yaml: unmarshal errors: line {}: cannot unmarshal {found} where a {expected} \
                 is expected",
                location.line()
            ))
        }
        E::InvalidBinaryBase64 { .. } => {
            Some("!!binary value contains invalid base64 data".to_owned())
        }
        E::BinaryNotUtf8 { location } => {
            // Go keeps the bytes; Prometheus then refuses them as a label
            // name (a key) or a label value.
            let (bytes, is_key) = binary_at(text, location.line(), location.column())?;
            let what = if is_key { "name" } else { "value" };
            Some(format!(
                "{} is not a valid label {what}",
                go_quote_bytes(&bytes)
            ))
        }
        _ => None,
    }
}

/// Go's tag for the YAML node at a position.
fn node_kind(text: &str, line: u64, column: u64) -> &'static str {
    let rest = text
        .lines()
        .nth((line as usize).saturating_sub(1))
        .and_then(|l| l.get((column as usize).saturating_sub(1)..))
        .unwrap_or_default()
        .trim_start();
    match rest.chars().next() {
        Some('[') | Some('-') => "!!seq",
        Some('{') => "!!map",
        _ if rest.contains(": ") || rest.ends_with(':') => "!!map",
        _ => "!!str",
    }
}

/// The bytes of the `!!binary` scalar at a position, and whether it is a
/// mapping key.
fn binary_at(text: &str, line: u64, column: u64) -> Option<(Vec<u8>, bool)> {
    let source = text.lines().nth((line as usize).checked_sub(1)?)?;
    let start = source
        .char_indices()
        .nth((column as usize).saturating_sub(1))
        .map_or(0, |(i, _)| i);
    // The position may be the tag or the scalar after it.
    let from_tag = source[..start]
        .rfind("!!binary")
        .filter(|_| !source[start..].trim_start().starts_with("!!binary"))
        .unwrap_or(start);
    let rest = source[from_tag..].trim_start();
    let rest = rest.strip_prefix("!!binary").unwrap_or(rest).trim_start();
    let (encoded, after) = match rest.chars().next()? {
        q @ ('"' | '\'') => {
            let end = rest[1..].find(q)? + 1;
            (&rest[1..end], &rest[end + 1..])
        }
        _ => {
            let end = rest.find([':', ' ', '#']).unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        }
    };
    let bytes = decode_base64(encoded)?;
    Some((bytes, after.trim_start().starts_with(':')))
}

/// Standard base64, padding optional, whitespace ignored.
fn decode_base64(encoded: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in encoded
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The error's message without the location prefix the YAML library
/// renders (`error: line N column M: `), since `ConfigError` prints
/// `file:line:col` itself (the web config file uses it too).
pub fn bare_message(error: &serde_saphyr::Error) -> String {
    let rendered = error.to_string();
    let first = rendered.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    match first
        .strip_prefix("line ")
        .and_then(|rest| rest.split_once(": "))
    {
        Some((_, message)) => message.to_owned(),
        None => first.to_owned(),
    }
}

/// A list whose null entries Prometheus rejects with `message` (a Go
/// `[]*T` holds them as nil pointers).
pub(crate) fn no_nulls<T>(list: Vec<Option<T>>, message: &str) -> Result<Vec<T>, String> {
    list.into_iter()
        .map(|entry| entry.ok_or_else(|| message.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote_bytes(&[0xff]), r#""\xff""#);
        assert_eq!(go_quote("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(go_quote("ü"), "\"ü\"");
        assert_eq!(go_quote("\u{1}"), r#""\x01""#);
    }

    #[test]
    fn ancestors_follow_indentation_and_list_items() {
        let text = "scrape_configs:\n  - job_name: x\n    kubernetes_sd_configs:\n      - role: pod\n        namespaces:\n          foo: bar\n";
        assert_eq!(
            ancestors(text, 6, 11),
            ["namespaces", "kubernetes_sd_configs", "scrape_configs"]
        );
        assert_eq!(ancestors(text, 3, 5), ["scrape_configs"]);
        assert!(ancestors(text, 1, 1).is_empty());
        assert_eq!(go_type(&ancestors(text, 6, 11)), "kubernetes.plain");
        assert_eq!(go_type(&ancestors(text, 3, 5)), "config.ScrapeConfig");
        assert_eq!(go_type(&[]), "config.plain");
    }

    #[test]
    fn base64() {
        assert_eq!(decode_base64("/w=="), Some(vec![0xff]));
        assert_eq!(decode_base64("aGk="), Some(b"hi".to_vec()));
        assert_eq!(decode_base64("*"), None);
    }
}
