//! `status/runtimeinfo`, `status/tsdb` and `/api/v1/metadata`.

use std::collections::BTreeMap;
use std::time::SystemTime;

/// `status/runtimeinfo`: Prometheus' fields; the Go runtime's are fixed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RuntimeInfo {
    /// The working directory.
    #[serde(rename = "CWD")]
    pub cwd: String,
    #[serde(rename = "GODEBUG")]
    pub go_debug: String,
    #[serde(rename = "GOGC")]
    pub go_gc: String,
    /// Threads available to the process.
    #[serde(rename = "GOMAXPROCS")]
    pub go_max_procs: usize,
    #[serde(rename = "GOMEMLIMIT")]
    pub go_mem_limit: u64,
    #[serde(rename = "corruptionCount")]
    pub corruption_count: u64,
    #[serde(rename = "goroutineCount")]
    pub goroutine_count: u64,
    /// When the configuration in force was loaded.
    #[serde(rename = "lastConfigTime", serialize_with = "super::time_or_null")]
    pub last_config_time: Option<SystemTime>,
    /// Whether the last reload succeeded.
    #[serde(rename = "reloadConfigSuccess")]
    pub reload_config_success: bool,
    #[serde(rename = "startTime", serialize_with = "super::time")]
    pub start_time: SystemTime,
    /// `--storage.tsdb.retention.time`.
    #[serde(rename = "storageRetention")]
    pub storage_retention: String,
}

/// `/api/v1/metadata`: per metric name, each distinct type, help and unit
/// the targets expose it with.
pub type Metadata = BTreeMap<String, Vec<MetricMetadata>>;

/// One metric's type, help and unit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MetricMetadata {
    pub help: String,
    /// `counter`, `gauge`, `untyped`, … (the text format's names).
    #[serde(rename = "type")]
    pub kind: String,
    pub unit: String,
}

/// `status/tsdb`: the head's statistics and its largest label counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TsdbStatus {
    pub head_stats: HeadStats,
    /// Label names by their number of values.
    pub label_value_count_by_label_name: Vec<TsdbStat>,
    /// Label names by the bytes of their values.
    pub memory_in_bytes_by_label_name: Vec<TsdbStat>,
    /// `name=value` pairs by their number of series.
    pub series_count_by_label_value_pair: Vec<TsdbStat>,
    /// Metric names by their number of series.
    pub series_count_by_metric_name: Vec<TsdbStat>,
}

/// The head block's size and time range.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeadStats {
    pub chunk_count: u64,
    /// Milliseconds.
    pub max_time: i64,
    /// Milliseconds.
    pub min_time: i64,
    pub num_label_pairs: u64,
    pub num_series: u64,
}

/// One entry of a `status/tsdb` top list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TsdbStat {
    pub name: String,
    pub value: u64,
}
