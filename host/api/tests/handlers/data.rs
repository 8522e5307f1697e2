//! The fake backend's status reports: what a server with one plugin, a
//! self-scrape and an HTTP-discovered target would report.

use serde_json::json;

pub fn plugins_status() -> serde_json::Value {
    json!([
        {
            "plugin": "node-exporter",
            "file": "/plugins/node-exporter.wasm",
            "name": "node-exporter",
            "version": "1.2.3",
            "description": "Host metrics",
            "loaded_from_cache": true,
            "load_duration_seconds": 0.25,
            "loaded_at": "2023-11-14T22:13:20Z",
            "health": "ok",
            "last_error": null,
            "instances": [
                {
                    "name": "node",
                    "job": "node",
                    "running": true,
                    "error": null,
                    "capabilities": [
                        {"capability": "read-path /proc", "reason": "CPU times", "optional": false, "granted": true},
                        {"capability": "env-var HOSTNAME", "reason": "the host name", "optional": true, "granted": false,
                         "grant_with": "grants:\n  env_vars: [HOSTNAME]"},
                    ],
                    "health": "up",
                    "up": 1,
                    "lastScrapeDuration": 0.0125,
                    "lastScrape": "2023-11-14T22:14:20Z",
                    "samples": 2,
                },
                {
                    "name": "node-slow",
                    "job": "node",
                    "running": true,
                    "last_collect_error": "collect timed out after 5s",
                    "capabilities": [],
                    "health": "down",
                    "up": 0,
                    "error": "collect timed out after 5s",
                    "lastScrapeDuration": 5.0,
                    "lastScrape": null,
                    "samples": 0,
                },
                {
                    "name": "node-new",
                    "job": "node",
                    "running": true,
                    "error": null,
                    "capabilities": [],
                    "health": "unknown",
                    "up": null,
                },
            ],
        },
        {
            "plugin": "broken",
            "file": "/plugins/broken.wasm",
            "name": null,
            "version": null,
            "description": null,
            "loaded_from_cache": false,
            "load_duration_seconds": 0.0,
            "loaded_at": null,
            "health": "failed",
            "last_error": "not a WebAssembly component",
            "instances": [
                {
                    "name": "broken",
                    "job": "broken",
                    "running": false,
                    "error": "plugin \"broken\" is not loaded",
                    "capabilities": [],
                    "health": "unknown",
                    "up": null,
                },
            ],
        },
    ])
}

pub fn runtime_info() -> serde_json::Value {
    json!({
        "startTime": "2023-11-14T22:13:20Z",
        "CWD": "/srv/wasmetheus",
        "reloadConfigSuccess": true,
        "lastConfigTime": "2023-11-14T22:13:21Z",
        "corruptionCount": 0,
        "goroutineCount": 0,
        "GOMAXPROCS": 2,
        "GOMEMLIMIT": 0,
        "GOGC": "",
        "GODEBUG": "",
        "storageRetention": "15d",
    })
}

pub fn metadata() -> serde_json::Value {
    json!({
        "http_requests_total": [
            {"type": "counter", "help": "Requests served.", "unit": ""},
            {"type": "counter", "help": "Requests served, by code.", "unit": ""},
        ],
        "node_cpu_seconds": [
            {"type": "counter", "help": "Seconds the CPUs spent in each mode.", "unit": "seconds"},
        ],
        "up": [
            {"type": "gauge", "help": "Whether the target is up.", "unit": ""},
        ],
    })
}

pub fn tsdb_status() -> serde_json::Value {
    let top = |pairs: &[(&str, u64)]| {
        pairs
            .iter()
            .map(|(name, value)| json!({ "name": name, "value": value }))
            .collect::<Vec<_>>()
    };
    json!({
        "headStats": {
            "numSeries": 3,
            "numLabelPairs": 7,
            "chunkCount": 0,
            "minTime": 1_700_000_000_000_i64,
            "maxTime": 1_700_000_600_000_i64,
        },
        "seriesCountByMetricName": top(&[("http_requests_total", 2), ("temperature", 1)]),
        "labelValueCountByLabelName": top(&[("__name__", 2), ("code", 2), ("job", 2)]),
        "memoryInBytesByLabelName": top(&[("__name__", 49), ("job", 10)]),
        "seriesCountByLabelValuePair": top(&[("job=api", 2), ("code=200", 1)]),
    })
}

pub fn targets_status() -> serde_json::Value {
    let self_labels = json!({"instance": "localhost:9090", "job": "wasmetheus"});
    let http_labels = json!({
        "__meta_url": "http://sd:hunter2@sd.example/targets",
        "instance": "h:9100",
        "job": "http",
    });
    json!({
        "activeTargets": [
            {
                "discoveredLabels": self_labels,
                "labels": self_labels,
                "scrapePool": "wasmetheus",
                "scrapeUrl": "wasmetheus://localhost:9090",
                "globalUrl": "wasmetheus://localhost:9090",
                "lastError": "",
                "lastScrape": "2023-11-14T22:14:20Z",
                "lastScrapeDuration": 0.003,
                "health": "up",
                "scrapeInterval": "15s",
                "scrapeTimeout": "10s",
            },
            {
                "discoveredLabels": http_labels,
                "labels": http_labels,
                "scrapePool": "http",
                "scrapeUrl": "http://h:9100/metrics",
                "globalUrl": "http://h:9100/metrics",
                "lastError": "",
                "lastScrape": "0001-01-01T00:00:00Z",
                "lastScrapeDuration": 0.0,
                "health": "unknown",
                "scrapeInterval": "1m",
                "scrapeTimeout": "10s",
            },
        ],
        "droppedTargets": [
            {"discoveredLabels": {
                "__address__": "d:1",
                "__meta_url": "https://u:p:q@sd.example:8443/b?c=d:e@f",
                "job": "http",
            }},
        ],
        "droppedTargetCounts": {"http": 1},
        "discoveries": [
            {"job": "http", "mechanism": "http_sd_configs", "index": 0, "state": "running"},
            {
                "job": "consul",
                "mechanism": "consul_sd_configs",
                "index": 0,
                "state": "not_running",
                "reason": "consul_sd_configs is parsed and validated, but this version of wasmetheus does not run it yet: it produces no targets",
            },
        ],
    })
}
