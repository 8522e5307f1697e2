//! The `data` of the API's answers that the backend reports: typed, and
//! serialised here, so Prometheus' JSON shapes live in this crate only.
//!
//! Key order: these answers were first written as `serde_json` maps, whose
//! keys come out sorted; each struct declares its fields in that order
//! (byte order of the JSON names: capitals before lower case, `_` after
//! letters), so the bytes on the wire stay what clients have seen.
//! `plugins.rs` is `/api/v1/plugins`, `targets.rs` `/api/v1/targets`,
//! `status.rs` `status/runtimeinfo`, `status/tsdb` and `/api/v1/metadata`.
//! `rules.rs` is `/api/v1/rules`, `/api/v1/alerts` and
//! `/api/v1/alertmanagers`, written in Prometheus 3's field order instead
//! (no client has seen other bytes from this server).

pub mod alertmanager;
mod plugins;
pub(crate) mod rules;
mod status;
mod targets;

pub use plugins::{CapabilityStatus, PluginInstanceStatus, PluginStatus};
pub use rules::{
    Alert, AlertState, AlertingRule, AlertmanagersStatus, RecordingRule, Rule, RuleGroup,
    RuleHealth,
};
pub use status::{HeadStats, Metadata, MetricMetadata, RuntimeInfo, TsdbStat, TsdbStatus};
pub use targets::{ActiveTarget, DiscoveryState, DiscoveryStatus, DroppedTarget, TargetsStatus};

use serde::Serializer;
use std::time::{SystemTime, UNIX_EPOCH};

/// Health of a target (or plugin instance) after its last scrape, as
/// Prometheus reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetHealth {
    /// Not scraped yet.
    #[default]
    Unknown,
    Up,
    Down,
}

/// Go's zero `time.Time` as Prometheus prints it: a target never scraped.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// `time` in RFC 3339 as `YYYY-MM-DDTHH:MM:SSZ`: UTC, whole seconds
/// (truncated); a time before 1970 is printed as 1970-01-01T00:00:00Z,
/// one past jiff's last second (9999-12-30T22:00:00Z) as that second.
pub fn rfc3339_seconds(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let last = jiff::Timestamp::MAX.as_second();
    let secs = i64::try_from(secs).map_or(last, |s| s.min(last));
    jiff::Timestamp::from_second(secs)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_string()
}

/// A time, in [`rfc3339_seconds`].
fn time<S: Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339_seconds(*time))
}

/// A time, or `null`.
fn time_or_null<S: Serializer>(time: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match time {
        Some(t) => s.serialize_str(&rfc3339_seconds(*t)),
        None => s.serialize_none(),
    }
}

/// A time, or Go's zero time.
fn time_or_go_zero<S: Serializer>(time: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match time {
        Some(t) => s.serialize_str(&rfc3339_seconds(*t)),
        None => s.serialize_str(GO_ZERO_TIME),
    }
}

/// A field that may be left out: its time, or `null` (left out when the
/// outer `Option` is `None`, by `skip_serializing_if`).
fn present_time_or_null<S: Serializer>(
    time: &Option<Option<SystemTime>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    time_or_null(&time.flatten(), s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_are_whole_utc_seconds() {
        let at = |secs: u64, nanos: u32| UNIX_EPOCH + Duration::new(secs, nanos);
        for (time, want) in [
            (UNIX_EPOCH, "1970-01-01T00:00:00Z"),
            (UNIX_EPOCH - Duration::from_secs(1), "1970-01-01T00:00:00Z"),
            (at(1_700_000_000, 999_999_999), "2023-11-14T22:13:20Z"),
            (at(951_782_400, 0), "2000-02-29T00:00:00Z"),
            (at(253_402_207_200, 0), "9999-12-30T22:00:00Z"),
            // Past jiff's last second (9999-12-30T22:00:00Z in UTC).
            (at(253_402_300_799, 0), "9999-12-30T22:00:00Z"),
        ] {
            assert_eq!(rfc3339_seconds(time), want, "{time:?}");
        }
    }
}
