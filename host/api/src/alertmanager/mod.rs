//! Alertmanager's API v2 (`/api/v2/*`), as Alertmanager 0.34 serves it
//! (`api/v2/api.go` and the go-swagger server around it): the routes,
//! the [`AlertmanagerBackend`] they read and change the state through,
//! and the answers' framing. `alerts.rs` is `/api/v2/alerts` and
//! `/api/v2/alerts/groups`, `silences.rs` `/api/v2/silence(s)`; status
//! and receivers are here.
//!
//! Framing, as go-swagger writes it: an answer with a payload is its JSON
//! and a newline (Go's `json.Encoder`, HTML characters not escaped); an
//! error of the handlers is a JSON string with the message; a request the
//! OpenAPI spec refuses (a required field missing, a path parameter of the
//! wrong format, a body that is not JSON) is `{"code":…,"message":…}`
//! without a newline, with status 422 (400 for a body that cannot be
//! read).

mod alerts;
mod silences;

use crate::types::alertmanager::{
    Alert, AlertGroup, AlertmanagerStatus, Matcher, PostableAlert, PostableSilence, Silence,
};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use jiff::Timestamp;
use std::sync::Arc;

/// Why a silence could not be set or expired.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SilenceError {
    /// No silence has the id (`silence not found`): 404.
    #[error("{0}")]
    NotFound(String),
    /// The silence is not valid (`silence invalid: …`): 400.
    #[error("{0}")]
    Invalid(String),
    /// Anything else: 500.
    #[error("{0}")]
    Internal(String),
}

/// What Alertmanager's API needs from the server: its alerts (with their
/// routes' receivers and their status already worked out), dispatcher
/// groups, silences, configuration and matcher syntax.
pub trait AlertmanagerBackend: Send + Sync + 'static {
    /// The time filters and checks compare with.
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
    /// One `filter` parameter (`name="value"`, `name=~"re"`, …) parsed as
    /// Alertmanager parses matchers; the error is the answer's text
    /// (upstream: `bad matcher format: …`).
    fn parse_matcher(&self, text: &str) -> Result<Matcher, String>;
    /// Every alert held (resolved ones too; the handler drops those whose
    /// `endsAt` is past), its status brought up to date.
    fn alerts(&self) -> Result<Vec<Alert>, String>;
    /// The dispatcher's aggregation groups, in its order.
    fn alert_groups(&self) -> Result<Vec<AlertGroup>, String>;
    /// `global.resolve_timeout`: when an alert sent without `endsAt`
    /// resolves.
    fn resolve_timeout(&self) -> std::time::Duration;
    /// Stores valid alerts (merged with the ones held, as
    /// `provider.Alerts.Put` does).
    fn put_alerts(&self, alerts: Vec<PostableAlert>) -> Result<(), String>;
    /// Alerts of a POST that failed validation (not stored): counted as
    /// received and invalid, as upstream's metrics count them.
    fn alerts_rejected(&self, _alerts: &[PostableAlert]) {}
    /// Every silence held (the handler filters and sorts them).
    fn silences(&self) -> Result<Vec<Silence>, String>;
    /// The silence with this id.
    fn silence(&self, id: &str) -> Result<Option<Silence>, String>;
    /// Creates (or, with an id, replaces) a silence; returns its id.
    fn set_silence(&self, silence: PostableSilence) -> Result<String, SilenceError>;
    /// Expires the silence with this id.
    fn expire_silence(&self, id: &str) -> Result<(), SilenceError>;
    /// `/api/v2/status`.
    fn status(&self) -> AlertmanagerStatus;
    /// The configured receivers' names, in the configuration's order.
    fn receivers(&self) -> Vec<String>;
}

/// The largest body of a POST to `/api/v2/*` (Alertmanager sets none):
/// room for tens of thousands of alerts; a larger one is refused with 413
/// before it is buffered.
pub const MAX_V2_BODY: usize = 32 << 20;

pub(crate) type Am = Arc<dyn AlertmanagerBackend>;

/// The routes of Alertmanager's API v2, for the server to mount (in the
/// built-in mode next to [`crate::router`], or alone).
pub fn router_v2(backend: Arc<dyn AlertmanagerBackend>) -> Router {
    Router::new()
        .route("/api/v2/status", get(status).fallback(not_allowed("[GET]")))
        .route(
            "/api/v2/receivers",
            get(receivers).fallback(not_allowed("[GET]")),
        )
        .route(
            "/api/v2/alerts",
            get(alerts::get)
                .post(alerts::post)
                .fallback(not_allowed("[POST,GET]")),
        )
        .route(
            "/api/v2/alerts/groups",
            get(alerts::groups).fallback(not_allowed("[GET]")),
        )
        .route(
            "/api/v2/silences",
            get(silences::list)
                .post(silences::post)
                .fallback(not_allowed("[POST,GET]")),
        )
        .route(
            "/api/v2/silence/{id}",
            get(silences::get_one)
                .delete(silences::delete)
                .fallback(not_allowed("[GET,DELETE]")),
        )
        .route("/api/v2/{*rest}", any(not_found))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_V2_BODY))
        .layer(axum::middleware::map_response(explain_body_limit))
        .with_state(backend)
}

/// go-swagger's answer to a method the path does not serve.
fn not_allowed(
    allowed: &'static str,
) -> impl Fn(Method) -> std::future::Ready<Response> + Clone + Send + Sync + 'static {
    move |method: Method| {
        std::future::ready(spec_error(
            StatusCode::METHOD_NOT_ALLOWED,
            405,
            &format!("method {method} is not allowed, but {allowed} are"),
        ))
    }
}

/// go-swagger's answer to a path under `/api/v2/` it does not serve.
async fn not_found(uri: Uri) -> Response {
    spec_error(
        StatusCode::NOT_FOUND,
        404,
        &format!("path {} was not found", uri.path()),
    )
}

/// The body of a POST as go-openapi reads it: `None` when empty (the
/// spec's "`<what>` in body is required"); one with a media type other
/// than JSON is refused with 415.
pub(crate) fn json_body<'a>(
    headers: &HeaderMap,
    body: &'a [u8],
    what: &str,
) -> Result<&'a [u8], Box<Response>> {
    if body.is_empty() {
        return Err(Box::new(spec_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            602,
            &format!("{what} in body is required"),
        )));
    }
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = media_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(Box::new(spec_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            415,
            &format!("unsupported media type {media_type:?}, only [application/json] are allowed"),
        )));
    }
    Ok(body)
}

/// A time of a posted body, as go-openapi's `strfmt.DateTime` reads
/// them: RFC 3339 (any fraction, any offset), or without an offset (UTC).
pub(crate) fn parse_time(text: &str) -> Result<Timestamp, String> {
    let with_offset = text.parse::<Timestamp>();
    with_offset
        .or_else(|e| {
            text.parse::<jiff::civil::DateTime>()
                .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC))
                .map(|z| z.timestamp())
                .map_err(|_| e)
        })
        .map_err(|e| format!("parsing time {text:?} failed: {e}"))
}

async fn explain_body_limit(response: Response) -> Response {
    if response.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return response;
    }
    spec_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        413,
        &format!(
            "request body larger than {} MiB; send fewer alerts per request",
            MAX_V2_BODY >> 20
        ),
    )
}

/// A payload answer: its JSON and a newline.
pub(crate) fn payload(status: StatusCode, value: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(mut body) => {
            body.push(b'\n');
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(e) => message(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// A handler's error: the message as a JSON string.
pub(crate) fn message(status: StatusCode, text: &str) -> Response {
    payload(status, &text)
}

/// An answer without a body (200 of POST alerts, 404 of a silence).
pub(crate) fn empty(status: StatusCode) -> Response {
    status.into_response()
}

/// go-openapi's refusal of a request the spec does not allow.
pub(crate) fn spec_error(status: StatusCode, code: u32, text: &str) -> Response {
    #[derive(serde::Serialize)]
    struct SpecError<'a> {
        code: u32,
        message: &'a str,
    }
    match serde_json::to_vec(&SpecError {
        code,
        message: text,
    }) {
        Ok(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(_) => status.into_response(),
    }
}

/// The query parameters, in order; a query that is not
/// `application/x-www-form-urlencoded` is a 400.
pub(crate) fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>, Box<Response>> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query.unwrap_or("")).map_err(|e| {
        Box::new(spec_error(
            StatusCode::BAD_REQUEST,
            400,
            &format!("invalid query string: {e}"),
        ))
    })
}

/// A boolean query parameter as go-openapi's `swag.ConvertBool` reads it:
/// one of its true words (any case) is true, anything else false; absent
/// is `default`.
pub(crate) fn bool_param(pairs: &[(String, String)], name: &str, default: bool) -> bool {
    const TRUE_WORDS: [&str; 10] = [
        "true", "1", "yes", "ok", "y", "on", "selected", "checked", "t", "enabled",
    ];
    match pairs.iter().rev().find(|(k, _)| k == name) {
        None => default,
        Some((_, v)) => TRUE_WORDS.iter().any(|w| w.eq_ignore_ascii_case(v)),
    }
}

/// The `filter` parameters, parsed by the backend.
pub(crate) fn filter_param(
    backend: &dyn AlertmanagerBackend,
    pairs: &[(String, String)],
) -> Result<Vec<LabelFilter>, Box<Response>> {
    pairs
        .iter()
        .filter(|(k, _)| k == "filter")
        .map(|(_, text)| {
            let matcher = backend
                .parse_matcher(text)
                .map_err(|e| Box::new(message(StatusCode::BAD_REQUEST, &e)))?;
            LabelFilter::new(matcher).map_err(|e| Box::new(message(StatusCode::BAD_REQUEST, &e)))
        })
        .collect()
}

/// A `filter` matcher ready to test label values.
pub(crate) struct LabelFilter {
    pub(crate) matcher: Matcher,
    regex: Option<regex::Regex>,
}

impl LabelFilter {
    fn new(matcher: Matcher) -> Result<Self, String> {
        let regex = if matcher.is_regex {
            Some(
                anchored(&matcher.value)
                    .map_err(|e| format!("invalid regular expression {:?}: {e}", matcher.value))?,
            )
        } else {
            None
        };
        Ok(LabelFilter { matcher, regex })
    }

    fn matches(&self, value: &str) -> bool {
        let hit = match &self.regex {
            Some(re) => re.is_match(value),
            None => self.matcher.value == value,
        };
        hit == self.matcher.is_equal
    }
}

/// `^(?:re)$`, as upstream anchors matchers and the `receiver` parameter;
/// the compiled size is bounded so a hostile pattern is an error.
pub(crate) fn anchored(re: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(&format!("^(?:{re})$"))
        .size_limit(1 << 20)
        .build()
}

/// A regular expression's error on one line, in the shape of Go's
/// (`error parsing regexp: <what>: `^(?:<re>)$``; the words of `<what>`
/// are the regex crate's).
pub(crate) fn go_regex_error(re: &str, error: &regex::Error) -> String {
    let text = error.to_string();
    let what = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("error: "))
        .unwrap_or(text.as_str());
    format!("error parsing regexp: {what}: `^(?:{re})$`")
}

/// Whether a label set passes every filter, as upstream's
/// `matchFilterLabels`: a matcher on the empty value passes a label that
/// is absent (`=`, `=~`) or present (`!=`, `!~`).
pub(crate) fn labels_match(
    filters: &[LabelFilter],
    labels: &crate::types::alertmanager::LabelSet,
) -> bool {
    filters.iter().all(|f| {
        let value = labels.get(&f.matcher.name);
        if f.matcher.value.is_empty() && value.is_some() != f.matcher.is_equal {
            return true;
        }
        f.matches(value.map_or("", String::as_str))
    })
}

async fn status(State(backend): State<Am>) -> Response {
    payload(StatusCode::OK, &backend.status())
}

async fn receivers(State(backend): State<Am>) -> Response {
    let names = backend.receivers();
    payload(
        StatusCode::OK,
        &crate::types::alertmanager::receivers_json(&names),
    )
}
