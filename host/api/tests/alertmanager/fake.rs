//! An [`AlertmanagerBackend`] with fixed state: a few alerts (active,
//! silenced, inhibited, unprocessed, resolved), two groups (one muted),
//! silences in every state, and a record of what was posted.

use jiff::Timestamp;
use std::sync::Mutex;
use wasmetheus_api::types::alertmanager::{
    Alert, AlertGroup, AlertState, AlertStatus, AlertmanagerStatus, ClusterStatus, LabelSet,
    Matcher, PostableAlert, PostableSilence, Silence, SilenceState, VersionInfo,
};
use wasmetheus_api::{AlertmanagerBackend, SilenceError};

/// The fake's clock.
pub const NOW: &str = "2026-01-01T00:00:00.5Z";

pub fn at(text: &str) -> Timestamp {
    text.parse().expect("a test time")
}

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn status(state: AlertState, silenced: &[&str], inhibited: &[&str]) -> AlertStatus {
    AlertStatus {
        inhibited_by: inhibited.iter().map(|s| (*s).to_owned()).collect(),
        muted_by: Vec::new(),
        silenced_by: silenced.iter().map(|s| (*s).to_owned()).collect(),
        state,
    }
}

fn alert(fp: &str, pairs: &[(&str, &str)], receivers: &[&str], status: AlertStatus) -> Alert {
    Alert {
        labels: labels(pairs),
        annotations: labels(&[("summary", "<b>&</b>")]),
        starts_at: at("2025-12-31T23:00:00.123456Z"),
        ends_at: at("2026-01-01T00:05:00Z"),
        updated_at: at("2025-12-31T23:59:00Z"),
        generator_url: if fp.starts_with('a') {
            "http://prometheus/graph?g0.expr=up".to_owned()
        } else {
            String::new()
        },
        fingerprint: fp.to_owned(),
        receivers: receivers.iter().map(|s| (*s).to_owned()).collect(),
        status,
    }
}

pub fn silence(id: &str, state: SilenceState, starts: &str, ends: &str, m: Matcher) -> Silence {
    Silence {
        id: id.to_owned(),
        state,
        updated_at: at("2025-12-31T12:00:00Z"),
        comment: "maintenance".to_owned(),
        created_by: "ops".to_owned(),
        starts_at: at(starts),
        ends_at: at(ends),
        matchers: vec![m],
    }
}

pub fn matcher(name: &str, value: &str, is_regex: bool, is_equal: bool) -> Matcher {
    Matcher {
        is_equal,
        is_regex,
        name: name.to_owned(),
        value: value.to_owned(),
    }
}

pub struct Fake {
    pub alerts: Vec<Alert>,
    pub groups: Vec<AlertGroup>,
    pub silences: Mutex<Vec<Silence>>,
    pub posted: Mutex<Vec<PostableAlert>>,
    pub set: Mutex<Vec<PostableSilence>>,
}

pub const SIL_ACTIVE: &str = "11111111-1111-4111-8111-111111111111";
pub const SIL_PENDING: &str = "22222222-2222-4222-8222-222222222222";
pub const SIL_EXPIRED: &str = "33333333-3333-4333-8333-333333333333";

impl Default for Fake {
    fn default() -> Self {
        let alerts = vec![
            alert(
                "f000000000000002",
                &[("alertname", "Disk"), ("severity", "page")],
                &["pager", "team"],
                status(AlertState::Active, &[], &[]),
            ),
            alert(
                "a000000000000001",
                &[("alertname", "Up"), ("job", "node")],
                &["team"],
                status(AlertState::Suppressed, &[SIL_ACTIVE], &[]),
            ),
            alert(
                "c000000000000003",
                &[("alertname", "Up"), ("job", "db")],
                &["team"],
                status(AlertState::Suppressed, &[], &["f000000000000002"]),
            ),
            alert(
                "d000000000000004",
                &[("alertname", "New")],
                &["team"],
                status(AlertState::Unprocessed, &[], &[]),
            ),
            Alert {
                ends_at: at("2026-01-01T00:00:00.499Z"),
                ..alert(
                    "b000000000000005",
                    &[("alertname", "Resolved")],
                    &["team"],
                    status(AlertState::Active, &[], &[]),
                )
            },
        ];
        let groups = vec![
            AlertGroup {
                labels: labels(&[("alertname", "Up")]),
                receiver: "team".to_owned(),
                alerts: vec![alerts[1].clone(), alerts[2].clone()],
                muted_by: vec!["weekends".to_owned()],
            },
            AlertGroup {
                labels: labels(&[("alertname", "Disk")]),
                receiver: "pager".to_owned(),
                alerts: vec![alerts[0].clone()],
                muted_by: Vec::new(),
            },
            AlertGroup {
                labels: labels(&[("alertname", "Resolved")]),
                receiver: "team".to_owned(),
                alerts: vec![alerts[4].clone()],
                muted_by: Vec::new(),
            },
        ];
        let silences = vec![
            silence(
                SIL_EXPIRED,
                SilenceState::Expired,
                "2025-12-01T00:00:00Z",
                "2025-12-02T00:00:00Z",
                matcher("job", "node", false, true),
            ),
            silence(
                SIL_PENDING,
                SilenceState::Pending,
                "2026-02-01T00:00:00Z",
                "2026-03-01T00:00:00Z",
                matcher("alertname", "Disk|Up", true, false),
            ),
            silence(
                SIL_ACTIVE,
                SilenceState::Active,
                "2025-12-31T00:00:00Z",
                "2026-01-02T00:00:00Z",
                matcher("job", "node", false, true),
            ),
        ];
        Fake {
            alerts,
            groups,
            silences: Mutex::new(silences),
            posted: Mutex::new(Vec::new()),
            set: Mutex::new(Vec::new()),
        }
    }
}

impl AlertmanagerBackend for Fake {
    fn now(&self) -> Timestamp {
        at(NOW)
    }

    /// `name OP "value"` with OP one of `=`, `!=`, `=~`, `!~`.
    fn parse_matcher(&self, text: &str) -> Result<Matcher, String> {
        let bad = || format!("bad matcher format: {text}");
        let at = text.find(['=', '!']).ok_or_else(bad)?;
        let (name, rest) = text.split_at(at);
        let (op, value) = ["!~", "=~", "!=", "="]
            .iter()
            .find_map(|op| rest.strip_prefix(op).map(|v| (*op, v)))
            .ok_or_else(bad)?;
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        if name.is_empty() {
            return Err(bad());
        }
        Ok(matcher(
            name,
            value,
            op.ends_with('~'),
            !op.starts_with('!'),
        ))
    }

    fn alerts(&self) -> Result<Vec<Alert>, String> {
        Ok(self.alerts.clone())
    }

    fn alert_groups(&self) -> Result<Vec<AlertGroup>, String> {
        Ok(self.groups.clone())
    }

    fn resolve_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(300)
    }

    fn put_alerts(&self, alerts: Vec<PostableAlert>) -> Result<(), String> {
        self.posted.lock().expect("lock").extend(alerts);
        Ok(())
    }

    fn silences(&self) -> Result<Vec<Silence>, String> {
        Ok(self.silences.lock().expect("lock").clone())
    }

    fn silence(&self, id: &str) -> Result<Option<Silence>, String> {
        Ok(self
            .silences
            .lock()
            .expect("lock")
            .iter()
            .find(|s| s.id == id)
            .cloned())
    }

    fn set_silence(&self, silence: PostableSilence) -> Result<String, SilenceError> {
        let mut silences = self.silences.lock().expect("lock");
        if let Some(id) = &silence.id
            && !silences.iter().any(|s| &s.id == id)
        {
            return Err(SilenceError::NotFound("silence not found".to_owned()));
        }
        if silence.matchers.iter().all(|m| m.value.is_empty()) {
            return Err(SilenceError::Invalid(
                "silence invalid: at least one matcher must not match the empty string".to_owned(),
            ));
        }
        let id = format!("44444444-4444-4444-8444-{:012}", silences.len());
        silences.push(Silence {
            id: id.clone(),
            state: SilenceState::Active,
            updated_at: self.now(),
            comment: silence.comment.clone(),
            created_by: silence.created_by.clone(),
            starts_at: silence.starts_at,
            ends_at: silence.ends_at,
            matchers: silence.matchers.clone(),
        });
        self.set.lock().expect("lock").push(silence);
        Ok(id)
    }

    fn expire_silence(&self, id: &str) -> Result<(), SilenceError> {
        let mut silences = self.silences.lock().expect("lock");
        let silence = silences
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or_else(|| SilenceError::NotFound("silence not found".to_owned()))?;
        silence.state = SilenceState::Expired;
        silence.ends_at = at(NOW);
        Ok(())
    }

    fn status(&self) -> AlertmanagerStatus {
        AlertmanagerStatus {
            cluster: ClusterStatus::disabled(),
            config_original: "global:\n  smtp_auth_password: <secret>\nroute:\n  receiver: team\n"
                .to_owned(),
            uptime: at("2025-12-31T23:00:00.250Z"),
            version_info: VersionInfo {
                branch: "main".to_owned(),
                build_date: "20260101-00:00:00".to_owned(),
                build_user: "builder".to_owned(),
                go_version: "n/a".to_owned(),
                revision: "abc".to_owned(),
                version: "0.1.0".to_owned(),
            },
        }
    }

    fn receivers(&self) -> Vec<String> {
        vec!["team".to_owned(), "pager".to_owned()]
    }
}
