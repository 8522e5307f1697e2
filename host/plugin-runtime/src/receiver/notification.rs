//! The notification a receiver delivers, as the host holds it, and its
//! conversion to the WIT record with the size the copy into the guest costs.

use crate::bindings::types as w;
use std::collections::BTreeMap;

/// One alert of a notification (Alertmanager's webhook v4 alert).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alert {
    /// `firing` or `resolved`.
    pub status: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339.
    pub starts_at: String,
    /// RFC 3339; empty while firing.
    pub ends_at: String,
    pub generator_url: String,
    pub fingerprint: String,
}

/// A group of alerts routed to one receiver.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notification {
    pub receiver: String,
    /// `firing` when at least one alert fires, else `resolved`.
    pub status: String,
    pub alerts: Vec<Alert>,
    pub group_labels: BTreeMap<String, String>,
    pub common_labels: BTreeMap<String, String>,
    pub common_annotations: BTreeMap<String, String>,
    pub external_url: String,
    pub group_key: String,
    /// Alerts left out before the notification reached the receiver.
    pub truncated_alerts: u32,
}

/// What a string or list costs beyond its bytes in the guest (pointer and
/// length).
const OVERHEAD: usize = 8;

fn map_size(map: &BTreeMap<String, String>) -> usize {
    map.iter()
        .map(|(k, v)| k.len() + v.len() + 2 * OVERHEAD)
        .sum::<usize>()
        + OVERHEAD
}

impl Notification {
    /// About how many bytes the notification takes in the guest's memory.
    pub fn size(&self) -> usize {
        let alerts: usize = self
            .alerts
            .iter()
            .map(|a| {
                a.status.len()
                    + map_size(&a.labels)
                    + map_size(&a.annotations)
                    + a.starts_at.len()
                    + a.ends_at.len()
                    + a.generator_url.len()
                    + a.fingerprint.len()
                    + 5 * OVERHEAD
            })
            .sum();
        self.receiver.len()
            + self.status.len()
            + alerts
            + map_size(&self.group_labels)
            + map_size(&self.common_labels)
            + map_size(&self.common_annotations)
            + self.external_url.len()
            + self.group_key.len()
            + 8 * OVERHEAD
    }
}

fn labels(map: &BTreeMap<String, String>) -> Vec<w::Label> {
    map.iter()
        .map(|(name, value)| w::Label {
            name: name.clone(),
            value: value.clone(),
        })
        .collect()
}

pub(crate) fn to_wit(n: &Notification) -> w::Notification {
    w::Notification {
        receiver: n.receiver.clone(),
        status: n.status.clone(),
        alerts: n
            .alerts
            .iter()
            .map(|a| w::Alert {
                status: a.status.clone(),
                labels: labels(&a.labels),
                annotations: labels(&a.annotations),
                starts_at: a.starts_at.clone(),
                ends_at: a.ends_at.clone(),
                generator_url: a.generator_url.clone(),
                fingerprint: a.fingerprint.clone(),
            })
            .collect(),
        group_labels: labels(&n.group_labels),
        common_labels: labels(&n.common_labels),
        common_annotations: labels(&n.common_annotations),
        external_url: n.external_url.clone(),
        group_key: n.group_key.clone(),
        truncated_alerts: n.truncated_alerts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_grows_with_every_field() {
        let base = Notification::default();
        let mut bigger = base.clone();
        bigger.alerts.push(Alert {
            labels: BTreeMap::from([("alertname".into(), "x".repeat(1000))]),
            ..Alert::default()
        });
        assert!(bigger.size() >= base.size() + 1009);
        let mut keyed = base.clone();
        keyed.group_key = "k".repeat(500);
        assert_eq!(keyed.size(), base.size() + 500);
        let wit = to_wit(&bigger);
        assert_eq!(wit.alerts[0].labels[0].name, "alertname");
        assert_eq!(wit.alerts[0].labels[0].value.len(), 1000);
    }
}
