//! `GET/POST /api/v2/silences` and `GET/DELETE /api/v2/silence/{id}`:
//! the `filter` of the list (a silence passes when each filter equals one
//! of its matchers), its order, the spec's checks of a posted silence and
//! the handler's own (times), with Alertmanager's texts and statuses.

use super::{Am, empty, filter_param, message, payload, query_pairs, spec_error};
use crate::types::alertmanager::{Matcher, PostableSilence, Silence, SilenceState};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use jiff::Timestamp;

pub(super) async fn list(State(backend): State<Am>, RawQuery(query): RawQuery) -> Response {
    let pairs = match query_pairs(query.as_deref()) {
        Ok(p) => p,
        Err(answer) => return *answer,
    };
    let filters = match filter_param(backend.as_ref(), &pairs) {
        Ok(f) => f,
        Err(answer) => return *answer,
    };
    let silences = match backend.silences() {
        Ok(s) => s,
        Err(e) => return message(StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let mut kept: Vec<Silence> = silences
        .into_iter()
        .filter(|s| filters.iter().all(|f| s.matchers.contains(&f.matcher)))
        .collect();
    sort_silences(&mut kept);
    payload(StatusCode::OK, &kept)
}

/// Upstream's `SortSilences`: active (next to end first), pending (next
/// to start first), expired (last ended first).
fn sort_silences(silences: &mut [Silence]) {
    silences.sort_by(|a, b| {
        a.state.cmp(&b.state).then_with(|| match a.state {
            SilenceState::Active => a.ends_at.cmp(&b.ends_at),
            SilenceState::Pending => a.starts_at.cmp(&b.starts_at),
            SilenceState::Expired => b.ends_at.cmp(&a.ends_at),
        })
    });
}

/// go-openapi's `uuid` format check of the path parameter: 8-4-4-4-12
/// hex digits.
fn is_uuid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn bad_id(id: &str) -> Response {
    spec_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        601,
        &format!("silenceID in path must be of type uuid: {id:?}"),
    )
}

pub(super) async fn get_one(State(backend): State<Am>, Path(id): Path<String>) -> Response {
    if !is_uuid(&id) {
        return bad_id(&id);
    }
    match backend.silence(&id) {
        Ok(Some(silence)) => payload(StatusCode::OK, &silence),
        Ok(None) => empty(StatusCode::NOT_FOUND),
        Err(e) => message(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

/// 0.34 answers an unknown id with 404 (0.25: 500 `silence not found`).
pub(super) async fn delete(State(backend): State<Am>, Path(id): Path<String>) -> Response {
    if !is_uuid(&id) {
        return bad_id(&id);
    }
    match backend.expire_silence(&id) {
        Ok(()) => empty(StatusCode::OK),
        Err(super::SilenceError::NotFound(_)) => empty(StatusCode::NOT_FOUND),
        Err(e) => message(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// A matcher as sent: `isEqual` defaults to true.
#[derive(serde::Deserialize)]
struct SentMatcher {
    name: Option<String>,
    value: Option<String>,
    #[serde(rename = "isRegex")]
    is_regex: Option<bool>,
    #[serde(rename = "isEqual", default)]
    is_equal: Option<bool>,
}

#[derive(serde::Deserialize, Default)]
struct SentSilence {
    #[serde(default)]
    id: Option<String>,
    matchers: Option<Vec<SentMatcher>>,
    #[serde(rename = "startsAt")]
    starts_at: Option<String>,
    #[serde(rename = "endsAt")]
    ends_at: Option<String>,
    #[serde(rename = "createdBy")]
    created_by: Option<String>,
    comment: Option<String>,
}

fn required(field: &str) -> Response {
    spec_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        602,
        &format!("{field} in body is required"),
    )
}

fn body_error(e: impl std::fmt::Display) -> Response {
    spec_error(
        StatusCode::BAD_REQUEST,
        400,
        &format!("parsing silence body from \"\" failed, because {e}"),
    )
}

fn time(text: &str) -> Result<Timestamp, Box<Response>> {
    super::parse_time(text).map_err(|e| Box::new(body_error(e)))
}

/// The spec's checks, in its order: the required fields, then at least
/// one matcher, then each matcher's required fields.
fn check(sent: SentSilence) -> Result<PostableSilence, Box<Response>> {
    let comment = sent.comment.ok_or_else(|| Box::new(required("comment")))?;
    let created_by = sent
        .created_by
        .ok_or_else(|| Box::new(required("createdBy")))?;
    let ends_at = time(&sent.ends_at.ok_or_else(|| Box::new(required("endsAt")))?)?;
    let sent_matchers = sent
        .matchers
        .ok_or_else(|| Box::new(required("matchers")))?;
    if sent_matchers.is_empty() {
        return Err(Box::new(spec_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            612,
            "matchers in body should have at least 1 items",
        )));
    }
    let mut matchers = Vec::with_capacity(sent_matchers.len());
    for (i, m) in sent_matchers.into_iter().enumerate() {
        let field = |f: &str| Box::new(required(&format!("matchers.{i}.{f}")));
        matchers.push(Matcher {
            is_regex: m.is_regex.ok_or_else(|| field("isRegex"))?,
            name: m.name.ok_or_else(|| field("name"))?,
            value: m.value.ok_or_else(|| field("value"))?,
            is_equal: m.is_equal.unwrap_or(true),
        });
    }
    let starts_at = time(
        &sent
            .starts_at
            .ok_or_else(|| Box::new(required("startsAt")))?,
    )?;
    Ok(PostableSilence {
        id: sent.id.filter(|id| !id.is_empty()),
        matchers,
        starts_at,
        ends_at,
        created_by,
        comment,
    })
}

pub(super) async fn post(State(backend): State<Am>, headers: HeaderMap, body: Bytes) -> Response {
    let body = match super::json_body(&headers, &body, "silence") {
        Ok(body) => body,
        Err(answer) => return *answer,
    };
    // `null` is a silence without fields, as Go reads it.
    let sent = match serde_json::from_slice::<Option<SentSilence>>(body) {
        Ok(sent) => sent.unwrap_or_default(),
        Err(e) => return body_error(e),
    };
    let silence = match check(sent) {
        Ok(s) => s,
        Err(answer) => return *answer,
    };
    if silence.starts_at >= silence.ends_at {
        return message(
            StatusCode::BAD_REQUEST,
            "Failed to create silence: start time must be before end time",
        );
    }
    if silence.ends_at < backend.now() {
        return message(
            StatusCode::BAD_REQUEST,
            "Failed to create silence: end time can't be in the past",
        );
    }
    #[derive(serde::Serialize)]
    struct Created {
        #[serde(rename = "silenceID")]
        silence_id: String,
    }
    match backend.set_silence(silence) {
        Ok(silence_id) => payload(StatusCode::OK, &Created { silence_id }),
        Err(super::SilenceError::NotFound(e)) => message(StatusCode::NOT_FOUND, &e),
        Err(super::SilenceError::Invalid(e)) => message(StatusCode::BAD_REQUEST, &e),
        Err(super::SilenceError::Internal(e)) => message(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}
