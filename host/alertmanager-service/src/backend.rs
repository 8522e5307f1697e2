//! The API v2 backend over the running Alertmanager, as upstream's
//! `api/v2/api.go` reads its state: each alert's status brought up to
//! date (inhibitor, then silencer, recording in the marker) before it is
//! answered; the receivers of an alert are those of the routes it
//! matches; groups come from the dispatcher.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use jiff::Timestamp;
use wasmetheus_alertmanager::dispatch::GroupSnapshot;
use wasmetheus_alertmanager::{
    Alert, AlertState, Fingerprint, SilenceError as StoreSilenceError, SilenceMatcher,
    label_set_before, sort_alerts,
};
use wasmetheus_alertmanager_config::{MatchType, Route};
use wasmetheus_api::types::alertmanager as api;
use wasmetheus_api::{AlertmanagerBackend, SilenceError};

use crate::service::{Running, Service};

/// Go's zero `time.Time`.
fn go_zero() -> Timestamp {
    Timestamp::from_second(-62_135_596_800).unwrap_or(Timestamp::MIN)
}

fn time(t: Option<Timestamp>) -> Timestamp {
    t.unwrap_or_else(go_zero)
}

fn api_status(s: &wasmetheus_alertmanager::AlertStatus) -> api::AlertStatus {
    api::AlertStatus {
        inhibited_by: s.inhibited_by.clone(),
        muted_by: Vec::new(),
        silenced_by: s.silenced_by.clone(),
        state: match s.state {
            AlertState::Unprocessed => api::AlertState::Unprocessed,
            AlertState::Active => api::AlertState::Active,
            AlertState::Suppressed => api::AlertState::Suppressed,
        },
    }
}

fn api_matcher(m: &SilenceMatcher) -> api::Matcher {
    let op: MatchType = m.op.into();
    api::Matcher {
        is_equal: matches!(op, MatchType::Equal | MatchType::Regexp),
        is_regex: matches!(op, MatchType::Regexp | MatchType::NotRegexp),
        name: m.name.clone(),
        value: m.pattern.clone(),
    }
}

fn store_matcher(m: &api::Matcher) -> SilenceMatcher {
    let op = match (m.is_equal, m.is_regex) {
        (true, false) => MatchType::Equal,
        (false, false) => MatchType::NotEqual,
        (true, true) => MatchType::Regexp,
        (false, true) => MatchType::NotRegexp,
    };
    SilenceMatcher::new(op, m.name.clone(), m.value.clone())
}

fn api_silence(s: &wasmetheus_alertmanager::Silence, now: Timestamp) -> api::Silence {
    api::Silence {
        id: s.id.clone(),
        state: match s.state_at(now) {
            wasmetheus_alertmanager::SilenceState::Active => api::SilenceState::Active,
            wasmetheus_alertmanager::SilenceState::Pending => api::SilenceState::Pending,
            wasmetheus_alertmanager::SilenceState::Expired => api::SilenceState::Expired,
        },
        updated_at: time(s.updated_at),
        comment: s.comment.clone(),
        created_by: s.created_by.clone(),
        starts_at: time(s.starts_at),
        ends_at: time(s.ends_at),
        matchers: s.matchers.iter().map(api_matcher).collect(),
    }
}

fn silence_error(e: StoreSilenceError) -> SilenceError {
    match e {
        StoreSilenceError::NotFound => SilenceError::NotFound("silence not found".to_owned()),
        StoreSilenceError::Write(e) => SilenceError::Internal(e.to_string()),
        other => SilenceError::Invalid(other.to_string()),
    }
}

impl Service {
    /// `setAlertStatus`: the inhibitor, then the silencer, mark the
    /// alert's status (unless it is resolved, which the API does not show).
    fn refresh_status(&self, running: &Running, alert: &Alert, now: Timestamp) {
        if alert.resolved_at(now) {
            return;
        }
        running
            .inhibitor
            .mutes_marking(&alert.labels, &self.marker, now);
        self.silencer.mutes(&alert.labels);
    }

    fn api_alert(&self, alert: &Alert, receivers: Vec<String>) -> api::Alert {
        let fp = alert.fingerprint();
        api::Alert {
            labels: alert.labels.clone(),
            annotations: alert.annotations.clone(),
            starts_at: time(alert.starts_at),
            ends_at: time(alert.ends_at),
            updated_at: time(alert.updated_at),
            generator_url: alert.generator_url.clone(),
            fingerprint: fp.to_string(),
            receivers,
            status: api_status(&self.marker.status(fp)),
        }
    }

    /// The time intervals muting a group's route now (upstream records
    /// them at each flush; here they are worked out when asked).
    fn muted_by(
        &self,
        running: &Running,
        routes: &HashMap<&str, &Route>,
        group: &GroupSnapshot,
        now: Timestamp,
    ) -> Vec<String> {
        let Some(route) = routes.get(group.route_id.as_str()) else {
            return Vec::new();
        };
        let holds = |name: &String| {
            running
                .time_intervals
                .get(name)
                .is_some_and(|i| i.contains(now))
        };
        // As the pipeline's stages record it: outside every active
        // interval, muted by all of them (the mute stage is not reached);
        // else by the mute intervals holding now.
        let active = &route.opts.active_time_intervals;
        if !active.is_empty() && !active.iter().any(holds) {
            return active.clone();
        }
        route
            .opts
            .mute_time_intervals
            .iter()
            .filter(|n| holds(n))
            .cloned()
            .collect()
    }
}

impl AlertmanagerBackend for Service {
    fn parse_matcher(&self, text: &str) -> Result<api::Matcher, String> {
        // Its errors are upstream's texts (`bad matcher format: …`).
        let m = wasmetheus_alertmanager_config::parse_matcher(text)?;
        Ok(api::Matcher {
            is_equal: matches!(m.op, MatchType::Equal | MatchType::Regexp),
            is_regex: matches!(m.op, MatchType::Regexp | MatchType::NotRegexp),
            name: m.name,
            value: m.value,
        })
    }

    fn alerts(&self) -> Result<Vec<api::Alert>, String> {
        let running = self.running();
        let now = Timestamp::now();
        Ok(self
            .state
            .alerts
            .list()
            .iter()
            .map(|a| {
                self.refresh_status(&running, a, now);
                let receivers = running
                    .route
                    .match_labels(&a.labels)
                    .into_iter()
                    .map(|r| r.opts.receiver.clone())
                    .collect();
                self.api_alert(a, receivers)
            })
            .collect())
    }

    fn alert_groups(&self) -> Result<Vec<api::AlertGroup>, String> {
        let running = self.running();
        let now = Timestamp::now();
        let mut groups = running.dispatcher.groups();
        // The receiver of every group an alert is in (upstream's
        // `allReceivers`, a receiver once per group).
        let mut receivers: HashMap<Fingerprint, Vec<String>> = HashMap::new();
        for g in &groups {
            for a in &g.alerts {
                receivers
                    .entry(a.fingerprint())
                    .or_default()
                    .push(g.receiver.clone());
            }
        }
        // Upstream sorts each alert's list (`sort.Strings`).
        for list in receivers.values_mut() {
            list.sort_unstable();
        }
        // `AlertGroups.Less`: by label set, then receiver.
        groups.sort_by(|a, b| {
            if a.labels == b.labels {
                a.receiver.cmp(&b.receiver)
            } else if label_set_before(&a.labels, &b.labels) {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            }
        });
        // The routes by id, looked up once per group.
        let routes: HashMap<&str, &Route> = running
            .route
            .walk()
            .into_iter()
            .map(|r| (r.id(), r))
            .collect();
        let mut out = Vec::with_capacity(groups.len());
        for mut g in groups {
            sort_alerts(&mut g.alerts);
            let muted_by = self.muted_by(&running, &routes, &g, now);
            let alerts = g
                .alerts
                .iter()
                .map(|a| {
                    self.refresh_status(&running, a, now);
                    let r = receivers.get(&a.fingerprint()).cloned().unwrap_or_default();
                    self.api_alert(a, r)
                })
                .collect();
            out.push(api::AlertGroup {
                labels: g.labels,
                receiver: g.receiver,
                alerts,
                muted_by,
            });
        }
        Ok(out)
    }

    fn resolve_timeout(&self) -> std::time::Duration {
        let ms = self.running().config.global.resolve_timeout;
        std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0))
    }

    fn put_alerts(&self, alerts: Vec<api::PostableAlert>) -> Result<(), String> {
        Service::put_alerts(self, alerts)
    }

    fn alerts_rejected(&self, alerts: &[api::PostableAlert]) {
        let now = Timestamp::now();
        for a in alerts {
            let counter = if a.ends_at <= now {
                &self.received.resolved
            } else {
                &self.received.firing
            };
            counter.fetch_add(1, Ordering::Relaxed);
            self.received.invalid.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn silences(&self) -> Result<Vec<api::Silence>, String> {
        let now = self.state.silences.now();
        Ok(self
            .state
            .silences
            .query(&Default::default())
            .iter()
            .map(|s| api_silence(s, now))
            .collect())
    }

    fn silence(&self, id: &str) -> Result<Option<api::Silence>, String> {
        let now = self.state.silences.now();
        Ok(self.state.silences.get(id).map(|s| api_silence(&s, now)))
    }

    fn set_silence(&self, silence: api::PostableSilence) -> Result<String, SilenceError> {
        let s = wasmetheus_alertmanager::Silence {
            id: silence.id.unwrap_or_default(),
            matchers: silence.matchers.iter().map(store_matcher).collect(),
            starts_at: Some(silence.starts_at),
            ends_at: Some(silence.ends_at),
            updated_at: None,
            created_by: silence.created_by,
            comment: silence.comment,
            annotations: Default::default(),
        };
        self.state.silences.set(s).map_err(silence_error)
    }

    fn expire_silence(&self, id: &str) -> Result<(), SilenceError> {
        self.state.silences.expire(id).map_err(silence_error)
    }

    fn status(&self) -> api::AlertmanagerStatus {
        api::AlertmanagerStatus {
            cluster: api::ClusterStatus::disabled(),
            config_original: self.running().config.to_yaml(),
            uptime: self.started,
            version_info: version_info(),
        }
    }

    fn receivers(&self) -> Vec<String> {
        self.running()
            .config
            .receivers
            .iter()
            .map(|r| r.name.clone())
            .collect()
    }
}

/// `versionInfo`: our version; the Go build fields are empty.
pub(crate) fn version_info() -> api::VersionInfo {
    api::VersionInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        ..api::VersionInfo::default()
    }
}
