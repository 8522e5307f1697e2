//! The data of Alertmanager's API v2 (`/api/v2/*`) that its backend
//! reports, and its JSON as Alertmanager 0.34 writes it: go-swagger's
//! field order (a type's own fields sorted, then the embedded `alert`
//! fields `generatorURL`, `labels`), times as go-openapi's
//! `strfmt.DateTime` prints them (`2006-01-02T15:04:05.000Z07:00`: UTC,
//! milliseconds, truncated), empty lists as `[]`, never `null`.

use jiff::Timestamp;
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

/// Label or annotation names to values, in byte order of the names (as
/// Go's JSON encoder writes maps).
pub type LabelSet = BTreeMap<String, String>;

/// `time` as `strfmt.DateTime` writes it: UTC, exactly three fraction
/// digits (truncated, not rounded).
pub fn rfc3339_millis(time: Timestamp) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn millis<S: Serializer>(time: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339_millis(*time))
}

/// An alert's state as `status.state` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Received but not yet looked at by silences and inhibitions.
    Unprocessed,
    Active,
    /// Silenced, inhibited or muted.
    Suppressed,
}

/// `status` of an alert: which silences, inhibiting alerts and (0.34)
/// time intervals hold it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertStatus {
    /// Fingerprints of the alerts inhibiting it.
    #[serde(rename = "inhibitedBy")]
    pub inhibited_by: Vec<String>,
    /// Names of the time intervals muting its group (0.34; 0.25 has no
    /// such field).
    #[serde(rename = "mutedBy")]
    pub muted_by: Vec<String>,
    /// Ids of the silences matching it.
    #[serde(rename = "silencedBy")]
    pub silenced_by: Vec<String>,
    pub state: AlertState,
}

impl AlertStatus {
    /// Not suppressed.
    pub fn active() -> Self {
        AlertStatus {
            inhibited_by: Vec::new(),
            muted_by: Vec::new(),
            silenced_by: Vec::new(),
            state: AlertState::Active,
        }
    }
}

/// An alert the Alertmanager holds (`gettableAlert`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub labels: LabelSet,
    pub annotations: LabelSet,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub updated_at: Timestamp,
    /// Left out of the JSON when empty.
    pub generator_url: String,
    /// The label set's fingerprint, 16 lower-case hex digits.
    pub fingerprint: String,
    /// The receivers its routes lead to, in route order.
    pub receivers: Vec<String>,
    pub status: AlertStatus,
}

/// `{"name": …}`, as `receivers` lists them.
#[derive(Serialize)]
struct ReceiverName<'a> {
    name: &'a str,
}

struct Receivers<'a>(&'a [String]);

impl Serialize for Receivers<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|name| ReceiverName { name }))
    }
}

struct Millis(Timestamp);

impl Serialize for Millis {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        millis(&self.0, s)
    }
}

impl Serialize for Alert {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // go-swagger concatenates the own fields and the embedded alert's.
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("annotations", &self.annotations)?;
        map.serialize_entry("endsAt", &Millis(self.ends_at))?;
        map.serialize_entry("fingerprint", &self.fingerprint)?;
        map.serialize_entry("receivers", &Receivers(&self.receivers))?;
        map.serialize_entry("startsAt", &Millis(self.starts_at))?;
        map.serialize_entry("status", &self.status)?;
        map.serialize_entry("updatedAt", &Millis(self.updated_at))?;
        if !self.generator_url.is_empty() {
            map.serialize_entry("generatorURL", &self.generator_url)?;
        }
        map.serialize_entry("labels", &self.labels)?;
        map.end()
    }
}

/// An aggregation group of the dispatcher (`alertGroup`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertGroup {
    /// The group's labels (the route's `group_by` values).
    pub labels: LabelSet,
    /// The receiver of the group's route.
    pub receiver: String,
    /// The group's alerts, as the dispatcher holds them.
    pub alerts: Vec<Alert>,
    /// The time intervals muting the group now (empty: not muted); copied
    /// into each alert's `status.mutedBy`.
    pub muted_by: Vec<String>,
}

impl Serialize for AlertGroup {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("alertGroup", 3)?;
        st.serialize_field("alerts", &self.alerts)?;
        st.serialize_field("labels", &self.labels)?;
        st.serialize_field(
            "receiver",
            &ReceiverName {
                name: &self.receiver,
            },
        )?;
        st.end()
    }
}

/// A matcher of a silence or of a `filter[]` parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Matcher {
    #[serde(rename = "isEqual")]
    pub is_equal: bool,
    #[serde(rename = "isRegex")]
    pub is_regex: bool,
    pub name: String,
    pub value: String,
}

/// A silence's state at the time asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    Active,
    Pending,
    Expired,
}

/// A silence as `GET /api/v2/silences` shows it (`gettableSilence`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silence {
    pub id: String,
    pub state: SilenceState,
    pub updated_at: Timestamp,
    pub comment: String,
    pub created_by: String,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub matchers: Vec<Matcher>,
}

impl Serialize for Silence {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct State {
            state: SilenceState,
        }
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("status", &State { state: self.state })?;
        map.serialize_entry("updatedAt", &Millis(self.updated_at))?;
        map.serialize_entry("comment", &self.comment)?;
        map.serialize_entry("createdBy", &self.created_by)?;
        map.serialize_entry("endsAt", &Millis(self.ends_at))?;
        map.serialize_entry("matchers", &self.matchers)?;
        map.serialize_entry("startsAt", &Millis(self.starts_at))?;
        map.end()
    }
}

/// A silence to create (no `id`) or to replace (`id` of an existing one),
/// as `POST /api/v2/silences` received and checked it: the times are in
/// order and the end is not past; the rest (matchers that may not all
/// match the empty string, regular expressions, label names) is the
/// backend's to check, with Alertmanager's `silence invalid: …` texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostableSilence {
    pub id: Option<String>,
    pub matchers: Vec<Matcher>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub created_by: String,
    pub comment: String,
}

/// An alert as `POST /api/v2/alerts` received it, with upstream's
/// defaults applied (`startsAt`: now, or `endsAt` if that is set;
/// `endsAt`: now + `resolve_timeout`, with `timeout` set), empty label
/// values dropped, and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostableAlert {
    pub labels: LabelSet,
    pub annotations: LabelSet,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    /// Whether `endsAt` was not sent (the alert resolves unless re-sent).
    pub timeout: bool,
    pub updated_at: Timestamp,
    pub generator_url: String,
}

/// `versionInfo` of `/api/v2/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct VersionInfo {
    pub branch: String,
    #[serde(rename = "buildDate")]
    pub build_date: String,
    #[serde(rename = "buildUser")]
    pub build_user: String,
    #[serde(rename = "goVersion")]
    pub go_version: String,
    pub revision: String,
    pub version: String,
}

/// A cluster peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerStatus {
    pub address: String,
    pub name: String,
}

/// `cluster` of `/api/v2/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterStatus {
    /// This node's name; left out when clustering is off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Sorted by name.
    pub peers: Vec<PeerStatus>,
    /// `ready`, `settling` or `disabled`.
    pub status: String,
}

impl ClusterStatus {
    /// No clustering (`--cluster.listen-address=""`).
    pub fn disabled() -> Self {
        ClusterStatus {
            name: None,
            peers: Vec::new(),
            status: "disabled".to_owned(),
        }
    }
}

/// `/api/v2/status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertmanagerStatus {
    pub cluster: ClusterStatus,
    /// The configuration in force as YAML, secrets shown as `<secret>`.
    pub config_original: String,
    /// When the process started.
    pub uptime: Timestamp,
    pub version_info: VersionInfo,
}

impl Serialize for AlertmanagerStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Config<'a> {
            original: &'a str,
        }
        let mut st = s.serialize_struct("alertmanagerStatus", 4)?;
        st.serialize_field("cluster", &self.cluster)?;
        st.serialize_field(
            "config",
            &Config {
                original: &self.config_original,
            },
        )?;
        st.serialize_field("uptime", &Millis(self.uptime))?;
        st.serialize_field("versionInfo", &self.version_info)?;
        st.end()
    }
}

/// `receivers` of `/api/v2/receivers`: the configured receivers' names.
pub(crate) fn receivers_json(names: &[String]) -> impl Serialize + '_ {
    Receivers(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_milliseconds_truncated() {
        for (time, want) in [
            ("2020-01-01T00:00:00.123456789Z", "2020-01-01T00:00:00.123Z"),
            ("2020-01-01T00:00:00Z", "2020-01-01T00:00:00.000Z"),
            ("2020-01-01T01:00:00.9999+01:00", "2020-01-01T00:00:00.999Z"),
            ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"),
        ] {
            let t: Timestamp = time.parse().unwrap();
            assert_eq!(rfc3339_millis(t), want, "{time}");
        }
    }
}
