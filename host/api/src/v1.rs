//! Prometheus' HTTP API v1, the part Grafana, promtool and the UI query
//! with: `query`, `query_range`, `series`, `labels`, `label/<name>/values`,
//! `format_query`, `parse_query`, `metadata`, `targets`, `targets/metadata`,
//! `query_exemplars` and `status/*`,
//! answered in Prometheus' JSON shapes (values as strings, timestamps as
//! seconds, `warnings`/`infos` beside `data`) with its error types and
//! texts.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use wasmetheus_model::Label;
use wasmetheus_model::storage::{Matcher, Queryable, SelectHints};
use wasmetheus_promql::engine::{Cancel, Error as EngineError};
use wasmetheus_promql::value::{Annotations, SampleValue, Value};

use crate::Backend;
use crate::params::{duration_param, error, param, params, time_param};
use crate::parse_query::write_string;

/// Prometheus' cap on points per series of a range query.
const MAX_POINTS_PER_SERIES: i64 = 11_000;
/// The earliest and latest times Prometheus' API accepts as defaults.
const MIN_TIME: i64 = i64::MIN / 2;
const MAX_TIME: i64 = i64::MAX / 2;

type Params = Vec<(String, String)>;

fn bad_data(message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, "bad_data", message)
}

/// Prometheus' `invalidParamError`: a `bad_data` naming the parameter.
fn invalid_param(name: &str, e: impl std::fmt::Display) -> Response {
    bad_data(format!("invalid parameter \"{name}\": {e}"))
}

/// A storage error of the series and label endpoints: Prometheus answers
/// `execution` (its `returnAPIError` default).
fn execution(e: impl std::fmt::Display) -> Response {
    error(StatusCode::UNPROCESSABLE_ENTITY, "execution", e.to_string())
}

/// A successful answer: `data` plus whatever annotations the query made.
fn success(data: String, annotations: &Annotations) -> Response {
    let mut body = String::with_capacity(data.len() + 64);
    body.push_str(r#"{"status":"success","data":"#);
    body.push_str(&data);
    for (key, list) in [
        ("warnings", &annotations.warnings),
        ("infos", &annotations.infos),
    ] {
        if !list.is_empty() {
            body.push_str(&format!(",\"{key}\":"));
            body.push_str(&serde_json::to_string(list).unwrap_or_else(|_| "[]".into()));
        }
    }
    body.push('}');
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A successful answer of `data` without annotations.
fn json_data(data: &impl serde::Serialize) -> Response {
    match serde_json::to_string(data) {
        Ok(text) => success(text, &Annotations::default()),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("encoding the answer: {e}"),
        ),
    }
}

/// An engine error as Prometheus' `returnAPIError` answers it.
fn engine_error(e: EngineError) -> Response {
    match e {
        EngineError::Parse(_) | EngineError::Invalid(_) => invalid_param("query", e),
        EngineError::Timeout => error(StatusCode::SERVICE_UNAVAILABLE, "timeout", e.to_string()),
        // Prometheus' "client closed request".
        EngineError::Canceled => error(
            StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
            "canceled",
            e.to_string(),
        ),
        EngineError::Storage(_) => {
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
        }
        EngineError::Eval(_) | EngineError::TooManySamples => {
            error(StatusCode::UNPROCESSABLE_ENTITY, "execution", e.to_string())
        }
    }
}

/// Parameters of a request, or the answer saying why they are invalid.
fn read(query: Option<String>, body: &[u8]) -> Result<Params, Box<Response>> {
    params(query, body)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

// ---- JSON encoding, as Prometheus' jsoniter codecs write it ----

/// A timestamp (ms) as seconds with up to three decimals.
fn write_timestamp(out: &mut String, t: i64) {
    use std::fmt::Write;
    let (sign, t) = if t < 0 {
        ("-", -(t as i128))
    } else {
        ("", t as i128)
    };
    let _ = write!(out, "{sign}{}", t / 1000);
    let fraction = t % 1000;
    if fraction != 0 {
        let _ = write!(out, ".{fraction:03}");
    }
}

/// A float as a JSON string, as Prometheus' `jsonutil.MarshalFloat` writes
/// sample values.
fn write_float(out: &mut String, v: f64) {
    out.push('"');
    out.push_str(&format_float(v));
    out.push('"');
}

/// Prometheus' `jsonutil.MarshalFloat`: Go's `strconv.FormatFloat` with
/// `'f'`, or `'e'` (`1e-07`, two exponent digits) below 1e-6 and from 1e21
/// on; `NaN`, `+Inf`, `-Inf`.
pub(crate) fn format_float(v: f64) -> String {
    let abs = v.abs();
    if abs.is_finite() && abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        wasmetheus_model::go::format_float_e(v)
    } else {
        wasmetheus_model::go::format_float_f(v)
    }
}

fn write_labels(out: &mut String, labels: &[Label]) {
    out.push('{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(&l.name).unwrap_or_default());
        out.push(':');
        out.push_str(&serde_json::to_string(&l.value).unwrap_or_default());
    }
    out.push('}');
}

fn write_point(out: &mut String, t: i64, value: &SampleValue) {
    out.push('[');
    write_timestamp(out, t);
    out.push(',');
    match value {
        SampleValue::Float(v) => write_float(out, *v),
        // Not produced until native histograms are evaluated.
        SampleValue::Histogram(_) => out.push_str("null"),
    }
    out.push(']');
}

/// `{"resultType": …, "result": …}`.
fn encode_value(value: &Value) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(r#"{"resultType":""#);
    out.push_str(value.type_name());
    out.push_str(r#"","result":"#);
    match value {
        Value::Scalar(t, v) => write_point(&mut out, *t, &SampleValue::Float(*v)),
        Value::String(t, s) => {
            out.push('[');
            write_timestamp(&mut out, *t);
            out.push(',');
            out.push_str(&serde_json::to_string(s).unwrap_or_default());
            out.push(']');
        }
        Value::Vector(samples) => {
            out.push('[');
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                write_labels(&mut out, &s.labels);
                out.push_str(r#","value":"#);
                write_point(&mut out, s.t, &s.value);
                out.push('}');
            }
            out.push(']');
        }
        Value::Matrix(series) => {
            out.push('[');
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                write_labels(&mut out, &s.labels);
                out.push_str(r#","values":["#);
                for (j, p) in s.points.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    write_point(&mut out, p.t, &p.value);
                }
                out.push_str("]}");
            }
            out.push(']');
        }
    }
    out.push('}');
    out
}

// ---- running queries ----

/// Cancels the query when the request goes away (the handler's future is
/// dropped when the client disconnects).
struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Runs an engine call on a blocking thread.
async fn run_query(
    backend: &Arc<dyn Backend>,
    timeout: Option<Duration>,
    run: impl FnOnce(
        &wasmetheus_promql::engine::Engine,
        &dyn Queryable,
        &Cancel,
    ) -> Result<(Value, Annotations), EngineError>
    + Send
    + 'static,
) -> Response {
    let Some(storage) = backend.queryable() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "this server has no storage to query",
        );
    };
    let mut engine = backend.engine();
    if let Some(t) = timeout {
        engine.options.timeout = engine.options.timeout.min(t);
    }
    let slot = match crate::wait_for_query_slot(backend.as_ref(), &mut engine).await {
        Ok(slot) => slot,
        Err(response) => return response,
    };
    let cancel = CancelOnDrop(Cancel::new());
    let handle = cancel.0.clone();
    let result = tokio::task::spawn_blocking(move || {
        // The slot is held until the evaluation itself ends.
        let _slot = slot;
        run(&engine, storage.as_ref(), &handle)
    })
    .await;
    drop(cancel);
    match result {
        Ok(Ok((value, annotations))) => success(encode_value(&value), &annotations),
        Ok(Err(e)) => engine_error(e),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("query failed: {e}"),
        ),
    }
}

fn optional_timeout(params: &Params) -> Result<Option<Duration>, Box<Response>> {
    match param(params, "timeout") {
        None | Some("") => Ok(None),
        Some(_) => duration_param(params, "timeout").map(Some),
    }
}

pub(crate) async fn query(
    State(backend): State<Arc<dyn Backend>>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let params = match read(raw, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let t = match param(&params, "time") {
        None | Some("") => now_ms(),
        Some(_) => match time_param(&params, "time", 0) {
            Ok(t) => t,
            Err(r) => return *r,
        },
    };
    let timeout = match optional_timeout(&params) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let expr = param(&params, "query").unwrap_or("").to_owned();
    run_query(&backend, timeout, move |engine, storage, cancel| {
        engine.query_instant_with(storage, &expr, t, cancel)
    })
    .await
}

pub(crate) async fn query_range(
    State(backend): State<Arc<dyn Backend>>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let params = match read(raw, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let (start, end) = match (
        time_param(&params, "start", i64::MIN),
        time_param(&params, "end", i64::MIN),
    ) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(r), _) | (_, Err(r)) => return *r,
    };
    for (name, value) in [("start", start), ("end", end)] {
        if value == i64::MIN {
            return bad_data(format!(
                "invalid parameter \"{name}\": cannot parse \"\" to a valid timestamp"
            ));
        }
    }
    if end < start {
        return invalid_param("end", "end timestamp must not be before start time");
    }
    let step = match duration_param(&params, "step") {
        Ok(d) => d.as_millis() as i64,
        Err(r) => return *r,
    };
    if step <= 0 {
        return invalid_param(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        );
    }
    if crate::params::exceeds_resolution(start, end, step, MAX_POINTS_PER_SERIES) {
        return bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        );
    }
    let timeout = match optional_timeout(&params) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let expr = param(&params, "query").unwrap_or("").to_owned();
    run_query(&backend, timeout, move |engine, storage, cancel| {
        engine.query_range_with(storage, &expr, start, end, step, cancel)
    })
    .await
}

/// The texts of every `match[]` parameter.
fn match_texts(params: &Params) -> impl Iterator<Item = &str> {
    params
        .iter()
        .filter(|(k, _)| k == "match[]")
        .map(|(_, v)| v.as_str())
}

/// The matchers of every `match[]` parameter, each parsed as a series
/// selector, as Prometheus' `parseMatchersParam`: the first that does not
/// parse is the error, then every one needs a matcher that does not match
/// the empty string.
fn match_params(params: &Params) -> Result<Vec<Vec<Matcher>>, Box<Response>> {
    let sets = match_texts(params)
        .map(|text| selector_param("match[]", text))
        .collect::<Result<Vec<_>, _>>()?;
    if sets
        .iter()
        .any(|set| set.iter().all(Matcher::matches_empty))
    {
        return Err(Box::new(invalid_param(
            "match[]",
            "match[] must contain at least one non-empty matcher",
        )));
    }
    Ok(sets)
}

/// The matchers of a series selector given as parameter `name`.
pub(crate) fn selector_param(name: &str, text: &str) -> Result<Vec<Matcher>, Box<Response>> {
    wasmetheus_promql::parser::parse_metric_selector(text)
        .map_err(|e| Box::new(invalid_param(name, e)))
}

/// Go's `strconv.Atoi`, with its error text.
fn go_atoi(v: &str) -> Result<i64, String> {
    v.parse::<i64>().map_err(|e| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        format!("strconv.Atoi: parsing {v:?}: {why}")
    })
}

/// `limit` of the series and label endpoints (Prometheus'
/// `parseLimitParam`; 0 or none: no limit), then `start`/`end` (default:
/// all time), in the order Prometheus reads them.
fn limit_and_range(params: &Params) -> Result<(usize, i64, i64), Box<Response>> {
    let limit = match param(params, "limit") {
        None | Some("") => 0,
        Some(v) => match go_atoi(v) {
            Ok(n) if n >= 0 => n as usize,
            Ok(_) => {
                return Err(Box::new(invalid_param(
                    "limit",
                    "limit must be non-negative",
                )));
            }
            Err(e) => return Err(Box::new(invalid_param("limit", e))),
        },
    };
    let start = time_param(params, "start", MIN_TIME)?;
    let end = time_param(params, "end", MAX_TIME)?;
    Ok((limit, start, end))
}

fn storage_of(backend: &Arc<dyn Backend>) -> Result<Arc<dyn Queryable>, Box<Response>> {
    backend.queryable().ok_or_else(|| {
        Box::new(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "this server has no storage to query",
        ))
    })
}

/// Truncates to `limit` (0: no limit), with Prometheus' warning.
fn limited<T>(mut items: Vec<T>, limit: usize) -> (Vec<T>, Annotations) {
    let mut annotations = Annotations::default();
    if limit > 0 && items.len() > limit {
        items.truncate(limit);
        annotations
            .warnings
            .push("results truncated due to limit".to_owned());
    }
    (items, annotations)
}

pub(crate) async fn series(
    State(backend): State<Arc<dyn Backend>>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let params = match read(raw, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if match_texts(&params).next().is_none() {
        return bad_data("no match[] parameter provided");
    }
    let (limit, start, end) = match limit_and_range(&params) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let selectors = match match_params(&params) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let storage = match storage_of(&backend) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let found = tokio::task::spawn_blocking(move || {
        let mut all: Vec<Vec<Label>> = Vec::new();
        for matchers in &selectors {
            let hints = SelectHints::range(start, end);
            for s in storage.select_series(matchers, &hints)? {
                all.push(s.labels);
            }
        }
        all.sort();
        all.dedup();
        Ok::<_, wasmetheus_model::storage::StorageError>(all)
    })
    .await;
    match found {
        Ok(Ok(all)) => {
            let (all, annotations) = limited(all, limit);
            let mut out = String::from("[");
            for (i, labels) in all.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_labels(&mut out, labels);
            }
            out.push(']');
            success(out, &annotations)
        }
        Ok(Err(e)) => execution(e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}

/// Label names (`name` `None`) or the values of one label, over the
/// series matching any `match[]` (all series without one).
async fn label_query(
    backend: Arc<dyn Backend>,
    raw: Option<String>,
    body: Bytes,
    name: Option<String>,
) -> Response {
    let params = match read(raw, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let (limit, start, end) = match limit_and_range(&params) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let mut selectors = match match_params(&params) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if selectors.is_empty() {
        selectors.push(Vec::new());
    }
    let storage = match storage_of(&backend) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let found = tokio::task::spawn_blocking(move || {
        let mut all = Vec::new();
        for matchers in &selectors {
            all.extend(match &name {
                None => storage.label_names(matchers, start, end)?,
                Some(name) => storage.label_values(name, matchers, start, end)?,
            });
        }
        all.sort();
        all.dedup();
        Ok::<_, wasmetheus_model::storage::StorageError>(all)
    })
    .await;
    match found {
        Ok(Ok(all)) => {
            let (all, annotations) = limited(all, limit);
            success(
                serde_json::to_string(&all).unwrap_or_else(|_| "[]".into()),
                &annotations,
            )
        }
        Ok(Err(e)) => execution(e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}

pub(crate) async fn labels(
    State(backend): State<Arc<dyn Backend>>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    label_query(backend, raw, body, None).await
}

pub(crate) async fn label_values(
    State(backend): State<Arc<dyn Backend>>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    // Prometheus 3 takes UTF-8 names escaped as `U__…` in the path.
    let name = unescape_label_name(&name);
    if name.is_empty() {
        return bad_data(format!("invalid label name: {name:?}"));
    }
    label_query(backend, raw, Bytes::new(), Some(name)).await
}

/// Prometheus' `U__` escaping of label names in URL paths: `_` is `__`,
/// any other character `_<hex code point>_`.
fn unescape_label_name(name: &str) -> String {
    let Some(escaped) = name.strip_prefix("U__") else {
        return name.to_owned();
    };
    let mut out = String::new();
    let mut chars = escaped.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'_') {
            chars.next();
            out.push('_');
            continue;
        }
        let hex: String = chars.by_ref().take_while(|&c| c != '_').collect();
        match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
            Some(c) => out.push(c),
            // Not a valid escape: the name as written.
            None => return name.to_owned(),
        }
    }
    out
}

/// `/federate`: the newest sample (within the lookback delta) of every
/// series matching a `match[]`, in the text format, as Prometheus'
/// federation handler writes it: families in name order, each `untyped`;
/// a series' own labels (sorted) first, then the external labels it lacks
/// in name order, `instance=""` among them unless an external label names
/// `instance` (so a federating scrape with `honor_labels` does not give
/// an instance-less series the federating target's instance); stale
/// series left out; values as Go's `'g'` format writes them.
pub(crate) async fn federate(
    State(backend): State<Arc<dyn Backend>>,
    RawQuery(raw): RawQuery,
) -> Response {
    // Prometheus' federation handler answers errors in plain text
    // (`http.Error`), and takes any selector that parses; no `match[]`
    // at all is an empty answer.
    let plain = |status: StatusCode, message: String| {
        (
            status,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            message + "\n",
        )
            .into_response()
    };
    if let Some(e) = raw.as_deref().and_then(go_query_error) {
        return plain(
            StatusCode::BAD_REQUEST,
            format!("error parsing form values: {e}"),
        );
    }
    let params = match read(raw, &[]) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let selectors = match match_texts(&params)
        .map(wasmetheus_promql::parser::parse_metric_selector)
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(s) => s,
        Err(e) => return plain(StatusCode::BAD_REQUEST, e.to_string()),
    };
    // Local storage only, as Prometheus federates (not the remote_read
    // sources queries see).
    let storage = match backend.storage() {
        Some(local) => local as Arc<dyn Queryable>,
        None => match storage_of(&backend) {
            Ok(s) => s,
            Err(r) => return *r,
        },
    };
    let lookback = backend.engine().options.lookback_delta.as_millis() as i64;
    let external = federation_external_labels(backend.external_labels());
    let now = now_ms();
    let found = tokio::task::spawn_blocking(move || {
        let mut latest: std::collections::BTreeMap<Vec<Label>, (i64, f64)> = Default::default();
        // Prometheus' querier bounds are inclusive at both ends.
        let hints = SelectHints::range(now - lookback, now);
        for matchers in &selectors {
            for mut s in storage.select_series(matchers, &hints)? {
                let mut last = None;
                while let Some(sample) = s.samples.next() {
                    if sample.0 <= now {
                        last = Some(sample);
                    }
                }
                if let Some((t, v)) = last
                    && !wasmetheus_model::storage::is_stale_marker(v)
                {
                    latest.insert(s.labels, (t, v));
                }
            }
        }
        Ok::<_, wasmetheus_model::storage::StorageError>(latest)
    })
    .await;
    let latest = match found {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => return plain(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => return plain(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        federation_text(latest, &external),
    )
        .into_response()
}

/// What Go's `url.ParseQuery` refuses in a query string (the first
/// problem, in its words): a `;` in a key or a `%` not followed by two hex
/// digits; the lenient form decoder would take both.
fn go_query_error(raw: &str) -> Option<String> {
    for pair in raw.split('&') {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        if key.contains(';') {
            return Some("invalid semicolon separator in query".to_owned());
        }
        for part in [Some(key), pair.split_once('=').map(|(_, v)| v)]
            .into_iter()
            .flatten()
        {
            let b = part.as_bytes();
            for (i, _) in part.match_indices('%') {
                let hex = |j: usize| b.get(j).is_some_and(u8::is_ascii_hexdigit);
                if !(hex(i + 1) && hex(i + 2)) {
                    let bad = &b[i..b.len().min(i + 3)];
                    return Some(format!(
                        "invalid URL escape {}",
                        wasmetheus_model::go::quote_bytes(bad)
                    ));
                }
            }
        }
    }
    None
}

/// The labels `/federate` adds to a series lacking them: the external
/// labels, plus `instance=""` unless one of them is `instance`, sorted by
/// name.
fn federation_external_labels(mut external: Vec<Label>) -> Vec<Label> {
    if !external.iter().any(|l| l.name == "instance") {
        external.push(Label::new("instance", ""));
    }
    external.sort();
    external
}

/// The federation answer's text for the newest sample of each series
/// (labels sorted, `__name__` among them), as client_golang's text encoder
/// writes Prometheus' untyped families: series without a name and labels
/// with empty values are left out, as Prometheus does.
fn federation_text(
    latest: std::collections::BTreeMap<Vec<Label>, (i64, f64)>,
    external: &[Label],
) -> String {
    use std::fmt::Write as _;
    // Grouped by metric name, in name order.
    let mut by_name: std::collections::BTreeMap<String, Vec<(Vec<Label>, i64, f64)>> =
        Default::default();
    for (labels, (t, v)) in latest {
        let Some(name) = labels
            .iter()
            .find(|l| l.name == "__name__" && !l.value.is_empty())
            .map(|l| l.value.clone())
        else {
            continue;
        };
        let mut rest: Vec<Label> = labels
            .into_iter()
            .filter(|l| l.name != "__name__" && !l.value.is_empty())
            .collect();
        let own = rest.len();
        for l in external {
            if !rest[..own].iter().any(|r| r.name == l.name) {
                rest.push(l.clone());
            }
        }
        by_name.entry(name).or_default().push((rest, t, v));
    }
    let mut out = String::new();
    for (name, series) in by_name {
        let _ = writeln!(out, "# TYPE {name} untyped");
        for (labels, t, v) in series {
            out.push_str(&name);
            if !labels.is_empty() {
                out.push('{');
                for (i, l) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let value = l
                        .value
                        .replace('\\', "\\\\")
                        .replace('\n', "\\n")
                        .replace('"', "\\\"");
                    let _ = write!(out, "{}=\"{value}\"", l.name);
                }
                out.push('}');
            }
            let _ = writeln!(out, " {} {t}", text_float(v));
        }
    }
    out
}

/// A value as client_golang's text encoder writes it: Go's shortest `'g'`
/// format (`1.5e+06`, `123456`, `1e-05`), `0` for both zeros, `NaN`,
/// `+Inf`, `-Inf`.
fn text_float(v: f64) -> String {
    if v == 0.0 {
        "0".to_owned()
    } else {
        wasmetheus_model::go::format_float_g(v)
    }
}

/// Runs `answer` (parsing up to a 2 MiB query and printing what it
/// parsed into) on a blocking thread, off the async workers.
async fn off_the_workers(answer: impl FnOnce() -> Response + Send + 'static) -> Response {
    tokio::task::spawn_blocking(answer)
        .await
        .unwrap_or_else(|e| {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("parsing the query failed: {e}"),
            )
        })
}

/// `/api/v1/format_query`: `query` printed canonically.
pub(crate) async fn format_query(RawQuery(raw): RawQuery, body: Bytes) -> Response {
    off_the_workers(move || {
        let params = match read(raw, &body) {
            Ok(p) => p,
            Err(r) => return *r,
        };
        match wasmetheus_promql::parser::parse(param(&params, "query").unwrap_or("")) {
            Ok(expr) => json_data(&wasmetheus_promql::printer::format(&expr)),
            Err(e) => invalid_param("query", e),
        }
    })
    .await
}

/// `/api/v1/parse_query`: the syntax tree of `query`, as Prometheus'
/// `parseQuery` answers it.
pub(crate) async fn parse_query(RawQuery(raw): RawQuery, body: Bytes) -> Response {
    off_the_workers(move || {
        let params = match read(raw, &body) {
            Ok(p) => p,
            Err(r) => return *r,
        };
        match wasmetheus_promql::parser::parse(param(&params, "query").unwrap_or("")) {
            Ok(expr) => success(crate::parse_query::ast_json(&expr), &Annotations::default()),
            Err(e) => invalid_param("query", e),
        }
    })
    .await
}

/// `/api/v1/metadata` with Prometheus' `metric`, `limit` (metrics) and
/// `limit_per_metric` (entries per metric; negative or 0: no limit).
pub(crate) async fn metadata(
    State(backend): State<Arc<dyn Backend>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = match read(raw, &[]) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let number = |name: &str| -> Result<i64, String> {
        match param(&params, name) {
            None | Some("") => Ok(-1),
            Some(v) => v
                .parse::<i64>()
                .map_err(|_| format!("{name} must be a number")),
        }
    };
    let (limit, per_metric) = match (number("limit"), number("limit_per_metric")) {
        (Ok(l), Ok(p)) => (l, p),
        (Err(e), _) | (_, Err(e)) => return bad_data(e),
    };
    let metric = param(&params, "metric").filter(|m| !m.is_empty());
    let mut out = crate::types::Metadata::new();
    for (name, mut entries) in backend.metadata() {
        if metric.is_some_and(|m| m != name) {
            continue;
        }
        if limit > 0 && out.len() as i64 >= limit {
            break;
        }
        if per_metric > 0 {
            entries.truncate(per_metric as usize);
        }
        out.insert(name, entries);
    }
    json_data(&out)
}

/// `/api/v1/targets`. Discovered labels are shown as discovered but for
/// `__meta_url`, an HTTP SD URL: Prometheus shows it whole, we show its
/// password as `xxxxx`, as `/api/v1/status/config` shows the URL
/// (relabeling still sees the URL whole). Beside Prometheus' fields, `data`
/// holds ours, which clients ignore: `discoveries`, every service
/// discovery entry (`job`, `mechanism`, `index`, `state`: `running` or
/// `not_running`, and the `reason` one produces no targets).
pub(crate) async fn targets(State(backend): State<Arc<dyn Backend>>) -> Response {
    let mut status = backend.targets_status();
    status.redact_discovered_urls();
    json_data(&status)
}

/// `/api/v1/targets/metadata`: per active target matching `match_target`,
/// the metadata of every metric it exposes (or only of `metric`), as
/// Prometheus' `targetMetadata` answers: `limit` is checked before each
/// target, so a target's entries are never split.
pub(crate) async fn targets_metadata(
    State(backend): State<Arc<dyn Backend>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = match read(raw, &[]) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let limit = match param(&params, "limit") {
        None | Some("") => -1,
        Some(v) => match v.parse::<i64>() {
            Ok(n) => n,
            Err(_) => return bad_data("limit must be a number"),
        },
    };
    let matchers = match param(&params, "match_target") {
        None | Some("") => Vec::new(),
        Some(text) => match selector_param("match_target", text) {
            Ok(m) => m,
            Err(r) => return *r,
        },
    };
    let metric = param(&params, "metric").filter(|m| !m.is_empty());
    let mut out = String::from("[");
    let mut count = 0i64;
    for target in backend.targets_metadata() {
        if limit >= 0 && count >= limit {
            break;
        }
        let value_of = |name: &str| {
            target
                .labels
                .iter()
                .find(|l| l.name == name)
                .map_or("", |l| l.value.as_str())
        };
        if !matchers.iter().all(|m| m.matches(value_of(&m.name))) {
            continue;
        }
        let mut labels = target.labels.clone();
        labels.sort();
        for family in target.families.iter() {
            if metric.is_some_and(|m| m != family.name) {
                continue;
            }
            if count > 0 {
                out.push(',');
            }
            count += 1;
            // Prometheus' `metricMetadata` struct, in its field order; it
            // leaves out `metric` when one was asked for.
            out.push_str("{\"target\":{");
            for (i, l) in labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(&mut out, &l.name);
                out.push(':');
                write_string(&mut out, &l.value);
            }
            out.push('}');
            if metric.is_none() {
                out.push_str(",\"metric\":");
                write_string(&mut out, &family.name);
            }
            out.push_str(",\"type\":");
            write_string(&mut out, family.kind.as_str(true));
            out.push_str(",\"help\":");
            write_string(&mut out, &family.help);
            out.push_str(",\"unit\":");
            write_string(&mut out, &family.unit);
            out.push('}');
        }
    }
    out.push(']');
    success(out, &Annotations::default())
}

/// An empty list, where nothing of the kind exists yet (exemplars are
/// not stored).
type NoneYet = [(); 0];

/// The `data` of `status/buildinfo` (fields in the order it has always
/// had: sorted).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct BuildInfo {
    branch: &'static str,
    build_date: &'static str,
    build_user: &'static str,
    go_version: &'static str,
    revision: &'static str,
    version: &'static str,
}

/// The `data` of `status/config`.
#[derive(serde::Serialize)]
struct ConfigYaml {
    yaml: String,
}

/// `/api/v1/query_exemplars`: no exemplars are stored, but the
/// parameters are checked as Prometheus checks them.
pub(crate) async fn query_exemplars(RawQuery(raw): RawQuery, body: Bytes) -> Response {
    let params = match read(raw, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let (start, end) = match (
        time_param(&params, "start", MIN_TIME),
        time_param(&params, "end", MAX_TIME),
    ) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(r), _) | (_, Err(r)) => return *r,
    };
    if end < start {
        return bad_data("end timestamp must not be before start timestamp");
    }
    match wasmetheus_promql::parser::parse(param(&params, "query").unwrap_or("")) {
        Ok(_) => json_data(&NoneYet::default()),
        Err(e) => bad_data(e.to_string()),
    }
}

pub(crate) async fn buildinfo() -> Response {
    json_data(&BuildInfo {
        branch: "",
        build_date: "",
        build_user: "",
        go_version: "",
        revision: "",
        // Grafana enables features by this version: the Prometheus release
        // whose API and PromQL wasmetheus follows, with our own version as
        // semver build metadata.
        version: concat!("3.5.0+wasmetheus.", env!("CARGO_PKG_VERSION")),
    })
}

pub(crate) async fn flags(State(backend): State<Arc<dyn Backend>>) -> Response {
    json_data(&backend.flags())
}

pub(crate) async fn config(State(backend): State<Arc<dyn Backend>>) -> Response {
    json_data(&ConfigYaml {
        yaml: backend.config_text(),
    })
}

pub(crate) async fn tsdb_status(State(backend): State<Arc<dyn Backend>>) -> Response {
    let status = tokio::task::spawn_blocking(move || backend.tsdb_status()).await;
    // `null` if the backend's thread failed.
    json_data(&status.ok())
}

pub(crate) async fn runtimeinfo(State(backend): State<Arc<dyn Backend>>) -> Response {
    json_data(&backend.runtime_info())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_written_as_go_writes_them() {
        for (v, want) in [
            (1.0, "1"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (0.0, "0"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (1e-7, "1e-07"),
            (0.000001, "0.000001"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(format_float(v), want, "{v}");
        }
    }

    #[test]
    fn timestamps_are_seconds_with_milliseconds() {
        for (t, want) in [
            (1_435_781_451_781, "1435781451.781"),
            (1_000, "1"),
            (1_500, "1.500"),
            (1_005, "1.005"),
            (-1_500, "-1.500"),
            (0, "0"),
        ] {
            let mut s = String::new();
            write_timestamp(&mut s, t);
            assert_eq!(s, want, "{t}");
        }
    }

    /// The parsing endpoints answer from a blocking thread: while one
    /// parses, the only async worker runs other tasks.
    #[test]
    fn parsing_endpoints_leave_the_async_worker_free() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // Long enough to parse that the blocking thread cannot be done
        // before the handler first waits for it, even on a loaded machine.
        let matchers: Vec<String> = (0..20_000).map(|i| format!("a{i}%3D%22v%22")).collect();
        let query = format!("query=x%7B{}%7D", matchers.join("%2C"));
        for endpoint in ["format_query", "parse_query"] {
            runtime.block_on(async {
                let answered = Arc::new(std::sync::atomic::AtomicBool::new(false));
                // Runs as soon as the handler yields the worker.
                let saw_answer = tokio::spawn({
                    let answered = Arc::clone(&answered);
                    async move { answered.load(std::sync::atomic::Ordering::SeqCst) }
                });
                let raw = RawQuery(Some(query.clone()));
                let response = if endpoint == "format_query" {
                    format_query(raw, Bytes::new()).await
                } else {
                    parse_query(raw, Bytes::new()).await
                };
                answered.store(true, std::sync::atomic::Ordering::SeqCst);
                assert_eq!(response.status(), StatusCode::OK, "{endpoint}");
                assert!(
                    !saw_answer.await.unwrap(),
                    "{endpoint} held the async worker until it had answered"
                );
            });
        }
    }

    #[test]
    fn label_names_unescape_like_prometheus() {
        assert_eq!(unescape_label_name("job"), "job");
        assert_eq!(unescape_label_name("U__my_2e_label"), "my.label");
        assert_eq!(unescape_label_name("U__a__b"), "a_b");
    }
}
