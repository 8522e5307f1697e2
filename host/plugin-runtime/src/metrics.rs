//! Per-plugin self-metrics: calls, errors by kind, collect duration, memory
//! and load time, exposed on the host's `/metrics`.

use crate::error::CollectError;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::time::Duration;
use wasmetheus_model::{Label, Metric, MetricFamily, MetricKind, MetricValue};

#[derive(Debug, Default)]
struct Counts {
    calls: u64,
    errors: BTreeMap<&'static str, u64>,
    duration_sum: f64,
    memory_bytes: BTreeMap<String, u64>,
}

/// Counters of one plugin, shared by its instances.
#[derive(Debug, Default)]
pub struct PluginMetrics {
    counts: Mutex<Counts>,
}

impl PluginMetrics {
    pub fn record_collect(
        &self,
        instance: &str,
        took: Duration,
        memory_bytes: usize,
        error: Option<&CollectError>,
    ) {
        let mut c = self.counts.lock();
        c.calls += 1;
        c.duration_sum += took.as_secs_f64();
        if let Some(e) = error {
            *c.errors.entry(e.kind()).or_default() += 1;
        }
        c.memory_bytes
            .insert(instance.to_owned(), memory_bytes as u64);
    }

    /// The linear memory of `instance` after its last collect.
    pub fn memory_bytes(&self, instance: &str) -> Option<u64> {
        self.counts.lock().memory_bytes.get(instance).copied()
    }

    pub fn forget_instance(&self, instance: &str) {
        self.counts.lock().memory_bytes.remove(instance);
    }
}

fn family(name: &str, kind: MetricKind, help: &str) -> MetricFamily {
    MetricFamily {
        name: name.to_owned(),
        kind,
        help: help.to_owned(),
        unit: String::new(),
        metrics: Vec::new(),
    }
}

fn push(family: &mut MetricFamily, labels: &[(&str, &str)], value: f64) {
    family.metrics.push(Metric {
        labels: labels.iter().map(|(n, v)| Label::new(*n, *v)).collect(),
        value: MetricValue::Number(value),
        timestamp_ms: None,
    });
}

/// Per-plugin facts that are not counters kept by [`PluginMetrics`].
pub struct PluginFacts<'a> {
    pub plugin: &'a str,
    pub version: &'a str,
    pub load_seconds: f64,
    pub loaded_from_cache: bool,
    pub load_failures: u64,
    pub metrics: &'a PluginMetrics,
}

/// The `wasmetheus_plugin_*` families for every plugin.
pub fn families(plugins: &[PluginFacts<'_>]) -> Vec<MetricFamily> {
    let mut info = family(
        "wasmetheus_plugin_info",
        MetricKind::Gauge,
        "Loaded plugins, with their version.",
    );
    let mut calls = family(
        "wasmetheus_plugin_collect_calls_total",
        MetricKind::Counter,
        "Collect calls made to the plugin's instances.",
    );
    let mut errors = family(
        "wasmetheus_plugin_collect_errors_total",
        MetricKind::Counter,
        "Failed collect calls, by reason (trap, timeout, memory, plugin_error, invalid_output, open, busy).",
    );
    let mut traps = family(
        "wasmetheus_plugin_traps_total",
        MetricKind::Counter,
        "Collect calls that ended in a WebAssembly trap (including memory-limit traps).",
    );
    let mut timeouts = family(
        "wasmetheus_plugin_timeouts_total",
        MetricKind::Counter,
        "Collect calls interrupted at their deadline.",
    );
    let mut duration = family(
        "wasmetheus_plugin_collect_duration_seconds_total",
        MetricKind::Counter,
        "Total time spent in collect calls.",
    );
    let mut memory = family(
        "wasmetheus_plugin_memory_bytes",
        MetricKind::Gauge,
        "Linear memory of each plugin instance after its last collect.",
    );
    let mut load = family(
        "wasmetheus_plugin_load_duration_seconds",
        MetricKind::Gauge,
        "Time the current version of the plugin took to load (compile or read from cache, validate).",
    );
    let mut load_failures = family(
        "wasmetheus_plugin_load_failures_total",
        MetricKind::Counter,
        "Plugin files that failed to load (compile, validate or open); the previous version kept serving.",
    );
    for p in plugins {
        let l = [("plugin", p.plugin)];
        push(
            &mut info,
            &[
                ("plugin", p.plugin),
                ("version", p.version),
                ("cached", if p.loaded_from_cache { "true" } else { "false" }),
            ],
            1.0,
        );
        push(&mut load, &l, p.load_seconds);
        push(&mut load_failures, &l, p.load_failures as f64);
        let c = p.metrics.counts.lock();
        push(&mut calls, &l, c.calls as f64);
        push(&mut duration, &l, c.duration_sum);
        let error = |kind: &str| c.errors.get(kind).copied().unwrap_or(0) as f64;
        push(&mut traps, &l, error("trap") + error("memory"));
        push(&mut timeouts, &l, error("timeout"));
        for (kind, n) in &c.errors {
            push(
                &mut errors,
                &[("plugin", p.plugin), ("reason", kind)],
                *n as f64,
            );
        }
        for (instance, bytes) in &c.memory_bytes {
            push(
                &mut memory,
                &[("plugin", p.plugin), ("instance", instance)],
                *bytes as f64,
            );
        }
    }
    vec![
        info,
        calls,
        errors,
        traps,
        timeouts,
        duration,
        memory,
        load,
        load_failures,
    ]
}

/// The runtime-wide compilation gauges: compilations running (abandoned
/// ones included), loads waiting for a compile slot, and the slots.
pub fn compile_families(running: usize, queued: usize, slots: usize) -> Vec<MetricFamily> {
    let gauges = [
        (
            "wasmetheus_plugin_compilations_running",
            "Plugin compilations running now, including ones whose load gave up at the compile timeout.",
            running,
        ),
        (
            "wasmetheus_plugin_compilations_queued",
            "Plugin loads waiting for a compile slot.",
            queued,
        ),
        (
            "wasmetheus_plugin_compile_slots",
            "The most plugin compilations that run at once.",
            slots,
        ),
    ];
    gauges
        .into_iter()
        .map(|(name, help, value)| {
            let mut f = family(name, MetricKind::Gauge, help);
            push(&mut f, &[], value as f64);
            f
        })
        .collect()
}
