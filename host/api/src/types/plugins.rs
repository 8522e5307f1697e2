//! `/api/v1/plugins`: every plugin file, whether it loaded, and its
//! instances with their grants and the health of their last scrape.

use super::TargetHealth;
use std::time::SystemTime;

/// One plugin (a `*.wasm` file, or a plugin configured instances name
/// that has no file).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PluginStatus {
    /// From its metadata; `null` when it did not load.
    pub description: Option<String>,
    /// The file it is (or would be) loaded from.
    pub file: String,
    /// `ok`, `degraded` (loaded, its last reload failed) or `failed`.
    pub health: String,
    pub instances: Vec<PluginInstanceStatus>,
    /// Why the last load failed.
    pub last_error: Option<String>,
    pub load_duration_seconds: f64,
    /// When the version in use was loaded.
    pub loaded_at: Option<String>,
    /// Whether it was read from the compile cache.
    pub loaded_from_cache: bool,
    /// From its metadata; `null` when it did not load.
    pub name: Option<String>,
    /// The plugin's name: its file's stem.
    pub plugin: String,
    /// From its metadata; `null` when it did not load.
    pub version: Option<String>,
}

/// One configured instance of a plugin.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PluginInstanceStatus {
    /// What the plugin asks for and whether the instance's grants cover it.
    pub capabilities: Vec<CapabilityStatus>,
    /// Why it does not run, or the error of its last scrape.
    pub error: Option<String>,
    pub health: TargetHealth,
    pub job: String,
    /// When it was last scraped (`null`: no time kept); left out when it
    /// was not scraped yet.
    #[serde(
        rename = "lastScrape",
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::present_time_or_null"
    )]
    pub last_scrape: Option<Option<SystemTime>>,
    /// Left out when it was not scraped yet.
    #[serde(rename = "lastScrapeDuration", skip_serializing_if = "Option::is_none")]
    pub last_scrape_duration: Option<f64>,
    /// Why the last collect of a running instance failed (a timeout, a
    /// trap, output over its budget…); left out after a good one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_collect_error: Option<String>,
    pub name: String,
    pub running: bool,
    /// Series its last scrape stored; left out when it was not scraped yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples: Option<usize>,
    /// 1 if its last scrape succeeded, 0 if not, `null` before the first.
    pub up: Option<u8>,
}

/// Whether a capability the plugin requests is covered by the grants.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CapabilityStatus {
    /// The capability as the log writes it (`read-path /proc`, …).
    pub capability: String,
    /// When not granted: the configuration lines that would grant it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_with: Option<String>,
    pub granted: bool,
    pub optional: bool,
    /// Why the plugin wants it.
    pub reason: String,
}
