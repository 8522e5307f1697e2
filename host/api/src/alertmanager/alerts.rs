//! `GET/POST /api/v2/alerts` and `GET /api/v2/alerts/groups`: the
//! filters (`filter`, `active`, `silenced`, `inhibited`, `unprocessed`,
//! `muted`, `receiver`), and the defaults and validation of posted alerts
//! with Alertmanager's texts.

use super::{
    AlertmanagerBackend, Am, LabelFilter, anchored, bool_param, empty, filter_param, labels_match,
    message, payload, query_pairs, spec_error,
};
use crate::types::alertmanager::{Alert, AlertState, LabelSet, PostableAlert};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use jiff::Timestamp;

/// The filters common to both GET endpoints.
struct Filters {
    labels: Vec<LabelFilter>,
    receiver: Option<regex::Regex>,
    active: bool,
    silenced: bool,
    inhibited: bool,
}

impl Filters {
    fn parse(
        backend: &dyn AlertmanagerBackend,
        query: Option<&str>,
    ) -> Result<(Self, bool), Box<Response>> {
        let pairs = query_pairs(query)?;
        let labels = filter_param(backend, &pairs)?;
        let receiver = match pairs.iter().rev().find(|(k, _)| k == "receiver") {
            None => None,
            Some((_, re)) => Some(anchored(re).map_err(|e| {
                Box::new(message(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "failed to parse receiver param: {}",
                        super::go_regex_error(re, &e)
                    ),
                ))
            })?),
        };
        let filters = Filters {
            labels,
            receiver,
            active: bool_param(&pairs, "active", true),
            silenced: bool_param(&pairs, "silenced", true),
            inhibited: bool_param(&pairs, "inhibited", true),
        };
        Ok((filters, bool_param(&pairs, "muted", true)))
    }

    /// Upstream's `alertFilter` (`unprocessed` is accepted but, as in
    /// 0.34, not applied).
    fn keeps(&self, alert: &Alert, now: Timestamp) -> bool {
        if alert.ends_at < now {
            return false;
        }
        let status = &alert.status;
        if !self.active && status.state == AlertState::Active {
            return false;
        }
        if !self.silenced && !status.silenced_by.is_empty() {
            return false;
        }
        if !self.inhibited && !status.inhibited_by.is_empty() {
            return false;
        }
        labels_match(&self.labels, &alert.labels)
    }

    fn receiver_matches(&self, name: &str) -> bool {
        self.receiver.as_ref().is_none_or(|re| re.is_match(name))
    }
}

pub(super) async fn get(State(backend): State<Am>, RawQuery(query): RawQuery) -> Response {
    let (filters, _) = match Filters::parse(backend.as_ref(), query.as_deref()) {
        Ok(f) => f,
        Err(answer) => return *answer,
    };
    let alerts = match backend.alerts() {
        Ok(alerts) => alerts,
        Err(e) => return message(StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let now = backend.now();
    let mut kept: Vec<Alert> = alerts
        .into_iter()
        .filter(|a| {
            (filters.receiver.is_none() || a.receivers.iter().any(|r| filters.receiver_matches(r)))
                && filters.keeps(a, now)
        })
        .collect();
    kept.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
    payload(StatusCode::OK, &kept)
}

pub(super) async fn groups(State(backend): State<Am>, RawQuery(query): RawQuery) -> Response {
    let (filters, muted) = match Filters::parse(backend.as_ref(), query.as_deref()) {
        Ok(f) => f,
        Err(answer) => return *answer,
    };
    let groups = match backend.alert_groups() {
        Ok(groups) => groups,
        Err(e) => return message(StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let now = backend.now();
    let mut kept = Vec::with_capacity(groups.len());
    for mut group in groups {
        if !filters.receiver_matches(&group.receiver) || (!muted && !group.muted_by.is_empty()) {
            continue;
        }
        group.alerts.retain(|a| filters.keeps(a, now));
        if group.alerts.is_empty() {
            continue;
        }
        // Upstream's `AlertToOpenAPIAlert`: a muted group's alerts are
        // suppressed, by its time intervals.
        for alert in &mut group.alerts {
            // Upstream gathers an alert's receivers from the groups the
            // receiver filter kept.
            alert.receivers.retain(|r| filters.receiver_matches(r));
            alert.status.muted_by.clone_from(&group.muted_by);
            if !group.muted_by.is_empty() {
                alert.status.state = AlertState::Suppressed;
            }
        }
        kept.push(group);
    }
    payload(StatusCode::OK, &kept)
}

/// An alert as sent: every field may be missing; `labels` is required by
/// the spec, the rest is checked after the defaults.
#[derive(serde::Deserialize)]
struct Sent {
    labels: Option<LabelSet>,
    #[serde(default)]
    annotations: Option<LabelSet>,
    #[serde(rename = "startsAt", default)]
    starts_at: Option<String>,
    #[serde(rename = "endsAt", default)]
    ends_at: Option<String>,
    #[serde(rename = "generatorURL", default)]
    generator_url: Option<String>,
}

/// Go's zero time, which go-openapi reads as "not set".
fn is_go_zero(t: Timestamp) -> bool {
    t.as_second() == -62_135_596_800 && t.subsec_nanosecond() == 0
}

/// A time field: missing, null, empty or Go's zero time are unset.
fn sent_time(text: Option<&str>) -> Result<Option<Timestamp>, String> {
    match text {
        None | Some("") => Ok(None),
        Some(text) => {
            let t = super::parse_time(text)?;
            Ok((!is_go_zero(t)).then_some(t))
        }
    }
}

/// Upstream's `types.Alert.Validate` in 0.34 (label names as UTF-8).
fn validate(alert: &PostableAlert) -> Result<(), String> {
    if alert.ends_at < alert.starts_at {
        return Err("start time must be before end time".to_owned());
    }
    if let Some(name) = alert.labels.keys().find(|n| n.is_empty()) {
        return Err(format!("invalid label set: invalid name {name:?}"));
    }
    if alert.labels.is_empty() {
        return Err("at least one label pair required".to_owned());
    }
    if let Some(name) = alert.annotations.keys().find(|n| n.is_empty()) {
        return Err(format!("invalid annotations: invalid name {name:?}"));
    }
    Ok(())
}

pub(super) async fn post(State(backend): State<Am>, headers: HeaderMap, body: Bytes) -> Response {
    let body = match super::json_body(&headers, &body, "alerts") {
        Ok(body) => body,
        Err(answer) => return *answer,
    };
    // `null` is no alerts, as Go reads it.
    let sent: Vec<Sent> = match serde_json::from_slice::<Option<Vec<Sent>>>(body) {
        Ok(sent) => sent.unwrap_or_default(),
        Err(e) => {
            return spec_error(
                StatusCode::BAD_REQUEST,
                400,
                &format!("parsing alerts body from \"\" failed, because {e}"),
            );
        }
    };
    if let Some(i) = sent.iter().position(|a| a.labels.is_none()) {
        return spec_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            602,
            &format!("{i}.labels in body is required"),
        );
    }
    let now = backend.now();
    let resolve_timeout = jiff::SignedDuration::try_from(backend.resolve_timeout())
        .unwrap_or(jiff::SignedDuration::MAX);
    let mut valid = Vec::with_capacity(sent.len());
    let mut errors: Vec<String> = Vec::new();
    let mut rejected = Vec::new();
    for alert in sent {
        let times = sent_time(alert.starts_at.as_deref())
            .and_then(|s| Ok((s, sent_time(alert.ends_at.as_deref())?)));
        let (starts_at, ends_at) = match times {
            Ok(times) => times,
            Err(e) => {
                return spec_error(
                    StatusCode::BAD_REQUEST,
                    400,
                    &format!("parsing alerts body from \"\" failed, because {e}"),
                );
            }
        };
        let starts_at = starts_at.or(ends_at).unwrap_or(now);
        let timeout = ends_at.is_none();
        let ends_at = ends_at.unwrap_or_else(|| now.saturating_add(resolve_timeout).unwrap_or(now));
        let mut labels = alert.labels.unwrap_or_default();
        labels.retain(|_, v| !v.is_empty());
        let alert = PostableAlert {
            labels,
            annotations: alert.annotations.unwrap_or_default(),
            starts_at,
            ends_at,
            timeout,
            updated_at: now,
            generator_url: alert.generator_url.unwrap_or_default(),
        };
        match validate(&alert) {
            Ok(()) => valid.push(alert),
            Err(e) => {
                errors.push(e);
                rejected.push(alert);
            }
        }
    }
    if !rejected.is_empty() {
        backend.alerts_rejected(&rejected);
    }
    if let Err(e) = backend.put_alerts(valid) {
        return message(StatusCode::INTERNAL_SERVER_ERROR, &e);
    }
    if !errors.is_empty() {
        return message(StatusCode::BAD_REQUEST, &errors.join("; "));
    }
    empty(StatusCode::OK)
}
