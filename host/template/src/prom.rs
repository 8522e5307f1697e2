//! Prometheus' template layer (`template/template.go`): the `Expander`'s function set (`query`,
//! `humanize*`, `toTime`, `match`, `reReplaceAll`, …), the alert data, and rules/alerting.go's
//! expansion of alert labels and annotations with its `$labels`/`$value` prelude.

use std::sync::Arc;

use crate::budget::{value_budget, value_too_big};
use crate::gofmt::{format_float, sprintf};
use crate::value::{Function, Param, Value};
use crate::{FuncMap, Limits, MissingKey, Template, TemplateError, builtins};

/// One sample `query` returns: labels sorted by name, `__name__` included.
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySample {
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// The `query` function's backend: PromQL text at the expansion's timestamp (ms).
pub trait QueryBackend: Send + Sync {
    fn query(&self, expr: &str, timestamp_ms: i64) -> Result<Vec<QuerySample>, String>;
}

/// What an alerting rule's label and annotation templates see.
#[derive(Debug, Clone, Copy)]
pub struct AlertData<'a> {
    pub labels: &'a [(String, String)],
    pub external_labels: &'a [(String, String)],
    pub external_url: &'a str,
    pub value: f64,
}

const SAMPLE_TYPE: &str = "*template.sample";
const QUERY_RESULT_TYPE: &str = "template.queryResult";
const ALERT_DATA_TYPE: &str = "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }";

/// The prelude rules/alerting.go puts before every label and annotation template.
const PRELUDE: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

fn labels_value(labels: &[(String, String)]) -> Value {
    Value::string_map(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// Query results as templates see them: a `template.queryResult` of `*template.sample`s
/// (`.Labels`, `.Value`).
pub fn query_result_value(samples: &[QuerySample]) -> Value {
    Value::list(
        QUERY_RESULT_TYPE,
        samples
            .iter()
            .map(|s| {
                Value::structure(
                    SAMPLE_TYPE,
                    vec![
                        ("Labels".into(), labels_value(&s.labels)),
                        ("Value".into(), Value::Float(s.value)),
                    ],
                )
            })
            .collect(),
    )
}

/// Prometheus' `AlertTemplateData`: `.Labels`, `.ExternalLabels`, `.ExternalURL`, `.Value`.
pub fn alert_data_value(data: &AlertData) -> Value {
    Value::structure(
        ALERT_DATA_TYPE,
        vec![
            ("Labels".into(), labels_value(data.labels)),
            ("ExternalLabels".into(), labels_value(data.external_labels)),
            ("ExternalURL".into(), Value::string(data.external_url)),
            ("Value".into(), Value::Float(data.value)),
        ],
    )
}

/// Prometheus' `convertToFloat`.
pub(crate) fn to_float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::String(s) => wasmetheus_model::go::parse_float(s).map_err(|e| e.to_string()),
        Value::Int(i) => Ok(*i as f64),
        Value::Uint(u) => Ok(*u as f64),
        Value::Duration(d) => Ok(*d as f64 / 1e9),
        other => Err(format!("can't convert {} to float", other.type_name())),
    }
}

fn g4(v: f64) -> String {
    sprintf("%.4g", &[Value::Float(v)])
}

/// Prometheus' `humanize` of a float (SI prefixes, Go's `%.4g`).
pub fn humanize(v: f64) -> String {
    if v == 0.0 || v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    let mut v = v;
    if v.abs() >= 1.0 {
        let mut prefix = "";
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
        return format!("{}{prefix}", g4(v));
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}", g4(v))
}

/// Prometheus' `humanize1024` of a float (binary prefixes).
pub fn humanize1024(v: f64) -> String {
    if v.abs() <= 1.0 || v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", g4(v))
}

/// prometheus/common's `HumanizeDuration` of seconds (`1d 2h 3m 4s`, `1.5ms`).
pub fn humanize_duration(v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    let mut v = v;
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        v = v.abs();
        let secs = go_int64(v);
        let (seconds, minutes, hours, days) = (
            secs % 60,
            (secs / 60) % 60,
            (secs / 3600) % 24,
            secs / 86_400,
        );
        if days != 0 {
            return format!("{sign}{days}d {hours}h {minutes}m {seconds}s");
        }
        if hours != 0 {
            return format!("{sign}{hours}h {minutes}m {seconds}s");
        }
        if minutes != 0 {
            return format!("{sign}{minutes}m {seconds}s");
        }
        return format!("{sign}{}s", g4(v));
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", g4(v))
}

/// Go's `int64(f)` on amd64: out of range (and NaN) gives the "integer indefinite" value, MinInt64.
fn go_int64(f: f64) -> i64 {
    // 2^63: the first float beyond int64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if (-LIMIT..LIMIT).contains(&f) {
        f as i64
    } else {
        i64::MIN
    }
}

/// prometheus/common's `FloatToTime`: seconds to a UTC time of millisecond precision.
fn float_to_time(v: f64) -> Result<Value, String> {
    if v.is_nan() || v.is_infinite() {
        return Err(NAN_OR_INF.into());
    }
    let ts = v * 1e9;
    if ts > i64::MAX as f64 || ts < i64::MIN as f64 {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            format_float(v)
        ));
    }
    let ms = (ts as i64) / 1_000_000;
    Ok(Value::Time(i128::from(ms) * 1_000_000))
}

const NAN_OR_INF: &str = "value is NaN or Inf";

/// `cases.Title(language.Und, cases.NoLower)`: the first letter of every word upper-cased.
pub fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev: Option<char> = None;
    let mut prev_prev: Option<char> = None;
    for c in s.chars() {
        // An apostrophe joins letters (`don't`); a combining mark belongs to the word it follows.
        let in_word = prev.is_some_and(|p| {
            p.is_alphanumeric()
                || p == '_'
                || is_mark(p)
                || ((p == '\'' || p == '’') && prev_prev.is_some_and(char::is_alphanumeric))
        });
        if !in_word && c.is_alphabetic() {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) => out.push(u),
                _ => out.push(c),
            }
        } else {
            out.push(c);
        }
        prev_prev = prev;
        prev = Some(c);
    }
    out
}

/// Combining marks (the common blocks): part of the word they follow.
fn is_mark(c: char) -> bool {
    matches!(
        c,
        '\u{300}'..='\u{36F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}'
    )
}

/// Go's `strings.ToUpper`/`ToLower`: simple (one rune to one rune) case mapping, so `ß` stays `ß`
/// (the ones in `wasmetheus_model::go`).
pub fn go_case(s: &str, upper: bool) -> String {
    if upper {
        wasmetheus_model::go::to_upper(s)
    } else {
        wasmetheus_model::go::to_lower(s)
    }
}

/// Go's `net.SplitHostPort`.
fn split_host_port(hp: &str) -> Option<(String, String)> {
    let i = hp.rfind(':')?;
    let (host, j, k);
    if hp.starts_with('[') {
        let end = hp.find(']')?;
        if end + 1 != i {
            return None;
        }
        host = hp[1..end].to_string();
        (j, k) = (1, end + 1);
    } else {
        host = hp[..i].to_string();
        if host.contains(':') {
            return None;
        }
        (j, k) = (0, 0);
    }
    if hp[j..].contains('[') || hp[k..].contains(']') {
        return None;
    }
    Some((host, hp[i + 1..].to_string()))
}

fn strip_port(hp: &str) -> String {
    match split_host_port(hp) {
        Some((host, _)) => host,
        None => hp.to_string(),
    }
}

fn strip_domain(hp: &str) -> String {
    let (host, port) = split_host_port(hp).unwrap_or_else(|| (hp.to_string(), String::new()));
    if host.parse::<std::net::IpAddr>().is_ok() {
        return hp.to_string();
    }
    let host = host.split('.').next().unwrap_or("").to_string();
    if port.is_empty() {
        return host;
    }
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Go's `ReplaceAllString` with the result bounded to `max` bytes: the size of every match's
/// replacement is computed before it is built, so None comes before anything past `max` is allocated.
/// Group references that expand to nothing count a byte each against a separate bound of eight times
/// `max`, so a long template of empty references over many matches cannot run for long either.
pub(crate) fn replace_all(re: &regex::Regex, src: &str, repl: &str, max: usize) -> Option<String> {
    use wasmetheus_model::go::ExpandPiece;
    let pieces = wasmetheus_model::go::parse_expand_template(repl);
    let names: Vec<Option<&str>> = re.capture_names().collect();
    let group_of = |p: &ExpandPiece<'_>| match p {
        ExpandPiece::Index(n) => Some(*n),
        ExpandPiece::Name(name) => names.iter().position(|n| *n == Some(*name)),
        ExpandPiece::Text(_) => None,
    };
    let groups: Vec<Option<usize>> = pieces.iter().map(group_of).collect();
    let text_len: usize = pieces
        .iter()
        .map(|p| match p {
            ExpandPiece::Text(t) => t.len(),
            _ => 0,
        })
        .sum();
    let refs = groups.iter().flatten().count();
    let mut out = String::new();
    let mut work = 0usize;
    let mut last = 0;
    for caps in re.captures_iter(src) {
        let Some(m) = caps.get(0) else { continue };
        let group_len = |g: usize| caps.get(g).map_or(0, |c| c.len());
        let size = text_len
            + groups
                .iter()
                .flatten()
                .map(|&g| group_len(g))
                .sum::<usize>();
        work = work.saturating_add(refs);
        if out.len() + (m.start() - last) + size > max || work > max.saturating_mul(8) {
            return None;
        }
        out.push_str(&src[last..m.start()]);
        for (p, g) in pieces.iter().zip(&groups) {
            match (p, g) {
                (ExpandPiece::Text(t), _) => out.push_str(t),
                (_, Some(g)) => {
                    if let Some(c) = caps.get(*g) {
                        out.push_str(c.as_str());
                    }
                }
                _ => {}
            }
        }
        last = m.end();
    }
    if out.len() + (src.len() - last) > max {
        return None;
    }
    out.push_str(&src[last..]);
    Some(out)
}

fn regex(pattern: &str) -> Result<regex::Regex, String> {
    crate::goregex::compile(pattern)
}

fn one_str(a: &[Value]) -> &str {
    a.first().and_then(Value::as_str).unwrap_or("")
}

fn sample_field<'v>(v: &'v Value, field: &str) -> Result<&'v Value, String> {
    match v {
        Value::Struct(s) => s
            .fields
            .iter()
            .find(|(n, _)| n == field)
            .map(|(_, v)| v)
            .ok_or_else(|| {
                "runtime error: invalid memory address or nil pointer dereference".to_string()
            }),
        _ => Err("runtime error: invalid memory address or nil pointer dereference".to_string()),
    }
}

fn sample_label(v: &Value, label: &str) -> Result<Value, String> {
    match sample_field(v, "Labels")? {
        Value::Map(m) => Ok(m
            .entries
            .get(label)
            .cloned()
            .unwrap_or_else(|| Value::string(""))),
        _ => Ok(Value::string("")),
    }
}

/// Prometheus' template functions (`NewTemplateExpander`'s map) for an expansion at `timestamp_ms`
/// with the given `query` backend and external URL. `tmpl` (HTML mode only) is not among them.
pub fn prometheus_funcs<'f>(
    timestamp_ms: i64,
    query: &'f dyn QueryBackend,
    external_url: &'f str,
) -> FuncMap<'f> {
    let mut m = FuncMap::new();
    let named = |t: &str| Param::Named(Arc::from(t));
    let mut add = |name: &str, f: Function<'f>| {
        m.insert(name.to_string(), f);
    };
    add(
        "query",
        Function::new(vec![Param::String], move |a| {
            Ok(query_result_value(&query.query(one_str(a), timestamp_ms)?))
        }),
    );
    add(
        "first",
        Function::new(vec![named(QUERY_RESULT_TYPE)], |a| match a.first() {
            Some(Value::List(l)) if !l.items.is_empty() => Ok(l.items[0].clone()),
            _ => Err("first() called on vector with no elements".into()),
        }),
    );
    add(
        "label",
        Function::new(vec![Param::String, named(SAMPLE_TYPE)], |a| {
            sample_label(a.get(1).unwrap_or(&Value::Nil), one_str(a))
        }),
    );
    add(
        "value",
        Function::new(vec![named(SAMPLE_TYPE)], |a| {
            sample_field(a.first().unwrap_or(&Value::Nil), "Value").cloned()
        }),
    );
    add(
        "strvalue",
        Function::new(vec![named(SAMPLE_TYPE)], |a| {
            sample_label(a.first().unwrap_or(&Value::Nil), "__value__")
        }),
    );
    add(
        "args",
        Function::variadic(vec![Param::Any], |a| {
            Ok(Value::any_map(
                a.iter()
                    .enumerate()
                    .map(|(i, v)| (format!("arg{i}"), v.clone())),
            ))
        }),
    );
    add(
        "reReplaceAll",
        Function::new(vec![Param::String, Param::String, Param::String], |a| {
            let s = |i: usize| a.get(i).and_then(Value::as_str).unwrap_or("");
            let re = regex(s(0))
                .map_err(|e| format!("regexp: Compile({}): {e}", crate::goregex::quote(s(0))))?;
            let max = value_budget();
            replace_all(&re, s(2), s(1), max)
                .map(Value::string)
                .ok_or_else(|| value_too_big(max))
        }),
    );
    add(
        "safeHtml",
        Function::new(vec![Param::String], |a| Ok(Value::string(one_str(a)))),
    );
    add(
        "match",
        Function::new(vec![Param::String, Param::String], |a| {
            let re = regex(one_str(a))?;
            Ok(Value::Bool(
                re.is_match(a.get(1).and_then(Value::as_str).unwrap_or("")),
            ))
        }),
    );
    add(
        "title",
        Function::new(vec![Param::String], |a| {
            Ok(Value::string(title(one_str(a))))
        }),
    );
    add(
        "toUpper",
        Function::new(vec![Param::String], |a| {
            Ok(Value::string(go_case(one_str(a), true)))
        }),
    );
    add(
        "toLower",
        Function::new(vec![Param::String], |a| {
            Ok(Value::string(go_case(one_str(a), false)))
        }),
    );
    add(
        "graphLink",
        Function::new(vec![Param::String], |a| {
            let max = value_budget();
            if builtins::query_escape_len(one_str(a)) > max {
                return Err(value_too_big(max));
            }
            Ok(Value::string(format!(
                "/graph?g0.expr={}&g0.tab=0",
                builtins::query_escape(one_str(a))
            )))
        }),
    );
    add(
        "tableLink",
        Function::new(vec![Param::String], |a| {
            let max = value_budget();
            if builtins::query_escape_len(one_str(a)) > max {
                return Err(value_too_big(max));
            }
            Ok(Value::string(format!(
                "/graph?g0.expr={}&g0.tab=1",
                builtins::query_escape(one_str(a))
            )))
        }),
    );
    add(
        "sortByLabel",
        Function::new(vec![Param::String, named(QUERY_RESULT_TYPE)], |a| {
            let label = one_str(a);
            match a.get(1) {
                Some(Value::List(l)) => {
                    let mut items = l.items.clone();
                    let key = |v: &Value| {
                        sample_label(v, label)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                    };
                    items.sort_by_key(|v| key(v).unwrap_or_default());
                    Ok(Value::list(&l.type_name, items))
                }
                other => Ok(other.cloned().unwrap_or(Value::Nil)),
            }
        }),
    );
    let float_fn = |f: fn(f64) -> String| {
        Function::new(vec![Param::Any], move |a| {
            Ok(Value::string(f(to_float(
                a.first().unwrap_or(&Value::Nil),
            )?)))
        })
    };
    add("humanize", float_fn(humanize));
    add("humanize1024", float_fn(humanize1024));
    add("humanizeDuration", float_fn(humanize_duration));
    add(
        "humanizePercentage",
        float_fn(|v| format!("{}%", g4(v * 100.0))),
    );
    add(
        "humanizeTimestamp",
        Function::new(vec![Param::Any], |a| {
            let v = to_float(a.first().unwrap_or(&Value::Nil))?;
            if v.is_nan() || v.is_infinite() {
                return Ok(Value::string(g4(v)));
            }
            match float_to_time(v)? {
                Value::Time(ns) => Ok(Value::string(crate::gotime::time_string(ns))),
                other => Ok(other),
            }
        }),
    );
    add(
        "toTime",
        Function::new(vec![Param::Any], |a| {
            float_to_time(to_float(a.first().unwrap_or(&Value::Nil))?)
        }),
    );
    add(
        "toDuration",
        Function::new(vec![Param::Any], |a| {
            let v = to_float(a.first().unwrap_or(&Value::Nil))?;
            Ok(Value::Duration(go_int64(v * 1e9)))
        }),
    );
    add(
        "now",
        Function::new(vec![], move |_| {
            Ok(Value::Float(timestamp_ms as f64 / 1000.0))
        }),
    );
    add(
        "pathPrefix",
        Function::new(vec![], move |_| Ok(Value::string(url_path(external_url)))),
    );
    add(
        "externalURL",
        Function::new(vec![], move |_| Ok(Value::string(external_url))),
    );
    add(
        "parseDuration",
        Function::new(vec![Param::String], |a| {
            let ms = wasmetheus_model::go::parse_model_duration(one_str(a))
                .map_err(|e| e.to_string())?;
            // Go's `float64(time.Duration(d)) / float64(time.Second)`:
            // nanoseconds (at most 2^63-1), then seconds.
            Ok(Value::Float((ms * 1_000_000) as f64 / 1e9))
        }),
    );
    add(
        "stripPort",
        Function::new(vec![Param::String], |a| {
            Ok(Value::string(strip_port(one_str(a))))
        }),
    );
    add(
        "stripDomain",
        Function::new(vec![Param::String], |a| {
            Ok(Value::string(strip_domain(one_str(a))))
        }),
    );
    m
}

/// The path of a URL (`url.URL.Path`): what follows `scheme://authority`, up to a query or fragment.
fn url_path(u: &str) -> String {
    let after_scheme = match u.find("://") {
        Some(i) => &u[i + 3..],
        None => return u.split(['?', '#']).next().unwrap_or("").to_string(),
    };
    let path_start = after_scheme.find('/').unwrap_or(after_scheme.len());
    let path = &after_scheme[path_start..];
    let path = path.split(['?', '#']).next().unwrap_or("");
    percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned()
}

/// Prometheus' `Expander`: a template text, its name and data, and the function set.
pub struct Expander<'f> {
    name: String,
    text: String,
    data: Value,
    funcs: FuncMap<'f>,
    limits: Limits,
    missing_key: MissingKey,
}

impl<'f> Expander<'f> {
    /// `NewTemplateExpander`.
    pub fn new(
        name: &str,
        text: &str,
        data: Value,
        timestamp_ms: i64,
        query: &'f dyn QueryBackend,
        external_url: &'f str,
    ) -> Self {
        Expander {
            name: name.to_string(),
            text: text.to_string(),
            data,
            funcs: prometheus_funcs(timestamp_ms, query, external_url),
            limits: Limits::default(),
            missing_key: MissingKey::Zero,
        }
    }

    /// Replaces the execution bounds.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Go's `missingkey` option (Prometheus' default, no options given, is `missingkey=zero`).
    pub fn with_missing_key(mut self, missing_key: MissingKey) -> Self {
        self.missing_key = missing_key;
        self
    }

    /// Adds (or replaces) functions (`Expander.Funcs`).
    pub fn funcs(mut self, extra: FuncMap<'f>) -> Self {
        self.funcs.extend(extra);
        self
    }

    /// `Expand`: text mode; errors as Prometheus wraps them.
    pub fn expand(&self) -> Result<String, TemplateError> {
        let t = Template::parse(&self.name, &self.text, self.funcs.clone(), self.missing_key)
            .map_err(|e| TemplateError(format!("error parsing template {}: {}", self.name, e.0)))?;
        t.execute(&self.data, self.limits)
            .map_err(|e| TemplateError(format!("error executing template {}: {}", self.name, e.0)))
    }

    /// `ParseTest`: the parse error alone, unwrapped.
    pub fn parse_test(&self) -> Result<(), TemplateError> {
        Template::parse(&self.name, &self.text, self.funcs.clone(), MissingKey::Zero).map(|_| ())
    }
}

/// rules/alerting.go's `expand`: the prelude + text, template name `__alert_<rule>`. Err = the error text
/// Prometheus puts after "error expanding template: " (caller formats `<error expanding template: …>`).
pub fn expand_alert(
    rule: &str,
    text: &str,
    data: &AlertData,
    timestamp_ms: i64,
    query: &dyn QueryBackend,
    external_url: &str,
) -> Result<String, TemplateError> {
    let full = format!("{PRELUDE}{text}");
    Expander::new(
        &format!("__alert_{rule}"),
        &full,
        alert_data_value(data),
        timestamp_ms,
        query,
        external_url,
    )
    .expand()
}

/// [`expand_alert`] with `.Value`/`$value` given as a template value rather than `data.value`: for a
/// native histogram sample, whose `.Value` Prometheus sets to the histogram (a value printing as the
/// histogram's `String()`).
pub fn expand_alert_with_value(
    rule: &str,
    text: &str,
    data: &AlertData,
    value: Value,
    timestamp_ms: i64,
    query: &dyn QueryBackend,
    external_url: &str,
) -> Result<String, TemplateError> {
    let full = format!("{PRELUDE}{text}");
    let data = alert_data_with_value(data, value);
    Expander::new(
        &format!("__alert_{rule}"),
        &full,
        data,
        timestamp_ms,
        query,
        external_url,
    )
    .expand()
}

/// An alert label or annotation template parsed once (prelude included) and expanded at every
/// evaluation with that evaluation's data, timestamp and query backend: [`expand_alert`] without
/// parsing again, with the same results and error texts.
#[derive(Debug, Clone)]
pub struct AlertTemplate {
    name: String,
    parsed: Result<Template<'static>, TemplateError>,
}

static NO_QUERY: NoQuery = NoQuery;

impl AlertTemplate {
    /// Parses `text` for alerting rule `rule` (template name `__alert_<rule>`).
    pub fn new(rule: &str, text: &str) -> Self {
        let name = format!("__alert_{rule}");
        let full = format!("{PRELUDE}{text}");
        let parsed = Template::parse(
            &name,
            &full,
            prometheus_funcs(0, &NO_QUERY, ""),
            MissingKey::Zero,
        );
        AlertTemplate { name, parsed }
    }

    /// The parse error as rulefmt reports it ([`check_alert_template`]'s text).
    pub fn check(&self) -> Result<(), TemplateError> {
        self.parsed.as_ref().map(|_| ()).map_err(Clone::clone)
    }

    /// [`expand_alert`] of the parsed template.
    pub fn expand(
        &self,
        data: &AlertData,
        timestamp_ms: i64,
        query: &dyn QueryBackend,
        external_url: &str,
    ) -> Result<String, TemplateError> {
        self.expand_value(alert_data_value(data), timestamp_ms, query, external_url)
    }

    /// [`expand_alert_with_value`] of the parsed template: `data` as [`alert_data_with_value`] builds it.
    pub fn expand_value(
        &self,
        data: Value,
        timestamp_ms: i64,
        query: &dyn QueryBackend,
        external_url: &str,
    ) -> Result<String, TemplateError> {
        let t = match &self.parsed {
            Ok(t) => t,
            Err(e) => {
                return Err(TemplateError(format!(
                    "error parsing template {}: {}",
                    self.name, e.0
                )));
            }
        };
        let funcs = prometheus_funcs(timestamp_ms, query, external_url);
        t.execute_with_funcs(&funcs, &data, Limits::default())
            .map_err(|e| TemplateError(format!("error executing template {}: {}", self.name, e.0)))
    }
}

/// [`alert_data_value`] with `.Value` replaced (a native histogram's value, say).
pub fn alert_data_with_value(data: &AlertData, value: Value) -> Value {
    let mut fields = match alert_data_value(data) {
        Value::Struct(s) => s.fields.clone(),
        _ => Vec::new(),
    };
    if let Some(slot) = fields.iter_mut().find(|(n, _)| n == "Value") {
        slot.1 = value;
    }
    Value::structure(ALERT_DATA_TYPE, fields)
}

#[derive(Debug)]
struct NoQuery;

impl QueryBackend for NoQuery {
    fn query(&self, _: &str, _: i64) -> Result<Vec<QuerySample>, String> {
        Err("no query backend".into())
    }
}

/// rulefmt's template check at load (Prometheus parses with the same prelude and dummy data): Err text as
/// Prometheus reports it for a bad template in a rule file.
pub fn check_alert_template(rule: &str, text: &str) -> Result<(), TemplateError> {
    let full = format!("{PRELUDE}{text}");
    let data = AlertData {
        labels: &[],
        external_labels: &[],
        external_url: "",
        value: 0.0,
    };
    Expander::new(
        &format!("__alert_{rule}"),
        &full,
        alert_data_value(&data),
        0,
        &NoQuery,
        "",
    )
    .parse_test()
}
