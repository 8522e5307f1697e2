//! `/api/v1/targets`: the active and dropped targets, and (ours, beside
//! Prometheus' fields, which clients ignore) every service discovery
//! entry and whether it runs.

use super::TargetHealth;
use std::collections::BTreeMap;
use std::time::SystemTime;
use wasmetheus_model::redact_url;

/// The `data` of `/api/v1/targets`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetsStatus {
    pub active_targets: Vec<ActiveTarget>,
    /// Every `<mechanism>_sd_configs` entry, so a mechanism that produces
    /// no targets yet is named with its reason.
    pub discoveries: Vec<DiscoveryStatus>,
    /// Per job, the targets its `relabel_configs` dropped.
    pub dropped_target_counts: BTreeMap<String, usize>,
    pub dropped_targets: Vec<DroppedTarget>,
}

impl TargetsStatus {
    /// Discovered labels are shown as discovered but for `__meta_url`, an
    /// HTTP SD URL: Prometheus shows it whole, we show its password as
    /// `xxxxx`, as `status/config` shows the URL (relabeling still sees the
    /// URL whole).
    pub fn redact_discovered_urls(&mut self) {
        let labels = (self
            .active_targets
            .iter_mut()
            .map(|t| &mut t.discovered_labels))
        .chain(
            self.dropped_targets
                .iter_mut()
                .map(|t| &mut t.discovered_labels),
        );
        for labels in labels {
            if let Some(url) = labels.get_mut("__meta_url") {
                *url = redact_url(url).into_owned();
            }
        }
    }
}

/// A target being scraped.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveTarget {
    pub discovered_labels: BTreeMap<String, String>,
    pub global_url: String,
    pub health: TargetHealth,
    pub labels: BTreeMap<String, String>,
    /// The last scrape's error; empty after a good one.
    pub last_error: String,
    /// Go's zero time (`0001-01-01T00:00:00Z`) when not scraped yet.
    #[serde(serialize_with = "super::time_or_go_zero")]
    pub last_scrape: Option<SystemTime>,
    /// Seconds.
    pub last_scrape_duration: f64,
    /// A Prometheus duration (`15s`, `1m`).
    pub scrape_interval: String,
    pub scrape_pool: String,
    /// A Prometheus duration.
    pub scrape_timeout: String,
    pub scrape_url: String,
}

/// A target relabeling dropped, with the labels it was discovered with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DroppedTarget {
    pub discovered_labels: BTreeMap<String, String>,
}

/// Whether a discovery entry runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscoveryState {
    /// Its targets are discovered.
    Running,
    /// Parsed and validated, not run by this version: it produces no
    /// targets.
    NotRunning,
    /// Run here, but it could not start (a bad kubeconfig, no in-cluster
    /// credentials): it produces no targets; the reason says why.
    Failed,
}

/// One `<mechanism>_sd_configs` entry of a scrape config and whether it
/// runs: `/api/v1/targets` lists these as `data.discoveries`, `/metrics`
/// counts them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DiscoveryStatus {
    /// The entry's position in that list.
    pub index: usize,
    /// The scrape config's `job_name`.
    pub job: String,
    /// The configuration key: `file_sd_configs`, `consul_sd_configs`, …
    pub mechanism: String,
    /// Why it produces no targets (not run, or the error it failed with);
    /// empty when it runs.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    pub state: DiscoveryState,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn discovered_url_passwords_are_hidden_in_the_targets_list() {
        let active = ActiveTarget {
            discovered_labels: labels(&[
                ("__meta_url", "http://sd:hunter2@sd.example/a"),
                ("env", "x:y@z"),
            ]),
            global_url: String::new(),
            health: TargetHealth::Unknown,
            labels: labels(&[("job", "a")]),
            last_error: String::new(),
            last_scrape: None,
            last_scrape_duration: 0.0,
            scrape_interval: String::new(),
            scrape_pool: String::new(),
            scrape_timeout: String::new(),
            scrape_url: String::new(),
        };
        let dropped = |pairs: &[(&str, &str)]| DroppedTarget {
            discovered_labels: labels(pairs),
        };
        let mut status = TargetsStatus {
            active_targets: vec![active.clone()],
            dropped_targets: vec![
                dropped(&[("__meta_url", "https://u:p:q@sd.example:8443/b?c=d:e@f")]),
                dropped(&[("__meta_url", "http://sd.example/c")]),
                dropped(&[("__address__", "h:1")]),
            ],
            ..TargetsStatus::default()
        };
        status.redact_discovered_urls();
        let mut want_active = active;
        want_active.discovered_labels = labels(&[
            ("__meta_url", "http://sd:xxxxx@sd.example/a"),
            ("env", "x:y@z"),
        ]);
        assert_eq!(status.active_targets, [want_active]);
        assert_eq!(
            status.dropped_targets,
            [
                dropped(&[("__meta_url", "https://u:xxxxx@sd.example:8443/b?c=d:e@f")]),
                dropped(&[("__meta_url", "http://sd.example/c")]),
                dropped(&[("__address__", "h:1")]),
            ]
        );
    }
}
