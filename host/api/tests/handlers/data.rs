//! The fake backend's status reports: what a server with one plugin, a
//! self-scrape and an HTTP-discovered target would report.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wasmetheus_api::types::{
    ActiveTarget, CapabilityStatus, DiscoveryState, DiscoveryStatus, DroppedTarget, HeadStats,
    Metadata, MetricMetadata, PluginInstanceStatus, PluginStatus, RuntimeInfo, TargetHealth,
    TargetsStatus, TsdbStat, TsdbStatus,
};

/// `secs` after the epoch.
fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn instance(name: &str, job: &str) -> PluginInstanceStatus {
    PluginInstanceStatus {
        capabilities: Vec::new(),
        error: None,
        health: TargetHealth::Unknown,
        job: job.into(),
        last_scrape: None,
        last_scrape_duration: None,
        last_collect_error: None,
        name: name.into(),
        running: true,
        samples: None,
        up: None,
    }
}

pub fn plugins_status() -> Vec<PluginStatus> {
    vec![
        PluginStatus {
            description: Some("Host metrics".into()),
            file: "/plugins/node-exporter.wasm".into(),
            health: "ok".into(),
            instances: vec![
                PluginInstanceStatus {
                    capabilities: vec![
                        CapabilityStatus {
                            capability: "read-path /proc".into(),
                            grant_with: None,
                            granted: true,
                            optional: false,
                            reason: "CPU times".into(),
                        },
                        CapabilityStatus {
                            capability: "env-var HOSTNAME".into(),
                            grant_with: Some("grants:\n  env_vars: [HOSTNAME]".into()),
                            granted: false,
                            optional: true,
                            reason: "the host name".into(),
                        },
                    ],
                    health: TargetHealth::Up,
                    last_scrape: Some(Some(at(1_700_000_060))),
                    last_scrape_duration: Some(0.0125),
                    samples: Some(2),
                    up: Some(1),
                    ..instance("node", "node")
                },
                PluginInstanceStatus {
                    error: Some("collect timed out after 5s".into()),
                    health: TargetHealth::Down,
                    last_scrape: Some(None),
                    last_scrape_duration: Some(5.0),
                    last_collect_error: Some("collect timed out after 5s".into()),
                    samples: Some(0),
                    up: Some(0),
                    ..instance("node-slow", "node")
                },
                instance("node-new", "node"),
            ],
            last_error: None,
            load_duration_seconds: 0.25,
            loaded_at: Some("2023-11-14T22:13:20Z".into()),
            loaded_from_cache: true,
            name: Some("node-exporter".into()),
            plugin: "node-exporter".into(),
            version: Some("1.2.3".into()),
        },
        PluginStatus {
            description: None,
            file: "/plugins/broken.wasm".into(),
            health: "failed".into(),
            instances: vec![PluginInstanceStatus {
                error: Some("plugin \"broken\" is not loaded".into()),
                running: false,
                ..instance("broken", "broken")
            }],
            last_error: Some("not a WebAssembly component".into()),
            load_duration_seconds: 0.0,
            loaded_at: None,
            loaded_from_cache: false,
            name: None,
            plugin: "broken".into(),
            version: None,
        },
    ]
}

pub fn runtime_info() -> RuntimeInfo {
    RuntimeInfo {
        cwd: "/srv/wasmetheus".into(),
        go_debug: String::new(),
        go_gc: String::new(),
        go_max_procs: 2,
        go_mem_limit: 0,
        corruption_count: 0,
        goroutine_count: 0,
        last_config_time: Some(at(1_700_000_001)),
        reload_config_success: true,
        start_time: at(1_700_000_000),
        storage_retention: "15d".into(),
    }
}

pub fn metadata() -> Metadata {
    let entry = |kind: &str, help: &str, unit: &str| MetricMetadata {
        help: help.into(),
        kind: kind.into(),
        unit: unit.into(),
    };
    [
        (
            "http_requests_total",
            vec![
                entry("counter", "Requests served.", ""),
                entry("counter", "Requests served, by code.", ""),
            ],
        ),
        (
            "node_cpu_seconds",
            vec![entry(
                "counter",
                "Seconds the CPUs spent in each mode.",
                "seconds",
            )],
        ),
        ("up", vec![entry("gauge", "Whether the target is up.", "")]),
    ]
    .into_iter()
    .map(|(name, entries)| (name.to_owned(), entries))
    .collect()
}

pub fn tsdb_status() -> TsdbStatus {
    let top = |pairs: &[(&str, u64)]| {
        pairs
            .iter()
            .map(|(name, value)| TsdbStat {
                name: (*name).to_owned(),
                value: *value,
            })
            .collect::<Vec<_>>()
    };
    TsdbStatus {
        head_stats: HeadStats {
            chunk_count: 0,
            max_time: 1_700_000_600_000,
            min_time: 1_700_000_000_000,
            num_label_pairs: 7,
            num_series: 3,
        },
        label_value_count_by_label_name: top(&[("__name__", 2), ("code", 2), ("job", 2)]),
        memory_in_bytes_by_label_name: top(&[("__name__", 49), ("job", 10)]),
        series_count_by_label_value_pair: top(&[("job=api", 2), ("code=200", 1)]),
        series_count_by_metric_name: top(&[("http_requests_total", 2), ("temperature", 1)]),
    }
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub fn targets_status() -> TargetsStatus {
    let self_labels = labels(&[("instance", "localhost:9090"), ("job", "wasmetheus")]);
    let http_labels = labels(&[
        ("__meta_url", "http://sd:hunter2@sd.example/targets"),
        ("instance", "h:9100"),
        ("job", "http"),
    ]);
    TargetsStatus {
        active_targets: vec![
            ActiveTarget {
                discovered_labels: self_labels.clone(),
                global_url: "wasmetheus://localhost:9090".into(),
                health: TargetHealth::Up,
                labels: self_labels,
                last_error: String::new(),
                last_scrape: Some(at(1_700_000_060)),
                last_scrape_duration: 0.003,
                scrape_interval: "15s".into(),
                scrape_pool: "wasmetheus".into(),
                scrape_timeout: "10s".into(),
                scrape_url: "wasmetheus://localhost:9090".into(),
            },
            ActiveTarget {
                discovered_labels: http_labels.clone(),
                global_url: "http://h:9100/metrics".into(),
                health: TargetHealth::Unknown,
                labels: http_labels,
                last_error: String::new(),
                last_scrape: None,
                last_scrape_duration: 0.0,
                scrape_interval: "1m".into(),
                scrape_pool: "http".into(),
                scrape_timeout: "10s".into(),
                scrape_url: "http://h:9100/metrics".into(),
            },
        ],
        discoveries: vec![
            DiscoveryStatus {
                index: 0,
                job: "http".into(),
                mechanism: "http_sd_configs".into(),
                reason: String::new(),
                state: DiscoveryState::Running,
            },
            DiscoveryStatus {
                index: 0,
                job: "consul".into(),
                mechanism: "consul_sd_configs".into(),
                reason: "consul_sd_configs is parsed and validated, but this version of \
                         wasmetheus does not run it yet: it produces no targets"
                    .into(),
                state: DiscoveryState::NotRunning,
            },
        ],
        dropped_target_counts: [("http".to_owned(), 1)].into_iter().collect(),
        dropped_targets: vec![DroppedTarget {
            discovered_labels: labels(&[
                ("__address__", "d:1"),
                ("__meta_url", "https://u:p:q@sd.example:8443/b?c=d:e@f"),
                ("job", "http"),
            ]),
        }],
    }
}
