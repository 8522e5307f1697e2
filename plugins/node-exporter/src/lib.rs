//! node-exporter: machine metrics from /proc and /sys, named, typed and
//! labelled exactly like Prometheus' node_exporter 1.5, so its dashboards and
//! alerts work unchanged.
//!
//! Each collector lives in its own module and splits into a pure parser
//! (text in, values out, unit-tested on fixtures) and the code that reads
//! the files and fills the [`Registry`].

mod config;
mod cpu;
mod diskstats;
mod files;
mod filesystem;
mod loadavg;
mod meminfo;
mod netdev;
mod netstat;
mod stat;
mod time;
mod uname;
mod vmstat;

use config::{CollectorName, Config};
use std::time::Instant;
use wasmetheus_sdk::{Capability, Error, Exporter, Metadata, Registry, export_exporter};

/// One configured node exporter.
pub struct NodeExporter {
    config: Config,
    /// The cpu collector remembers the last values to hide counters that
    /// jump backwards.
    cpu: cpu::CpuState,
}

impl NodeExporter {
    fn run(&mut self, collector: CollectorName, out: &mut Registry) -> Result<(), Error> {
        let config = &self.config;
        match collector {
            CollectorName::Cpu => cpu::collect(config, &mut self.cpu, out),
            CollectorName::Diskstats => diskstats::collect(config, out),
            CollectorName::Filesystem => filesystem::collect(config, out),
            CollectorName::Loadavg => loadavg::collect(config, out),
            CollectorName::Meminfo => meminfo::collect(config, out),
            CollectorName::Netdev => netdev::collect(config, out),
            CollectorName::Netstat => netstat::collect(config, out),
            CollectorName::Stat => stat::collect(config, out),
            CollectorName::Time => time::collect(config, out),
            CollectorName::Uname => uname::collect(config, out),
            CollectorName::Vmstat => vmstat::collect(config, out),
        }
    }
}

impl Exporter for NodeExporter {
    fn metadata() -> Metadata {
        Metadata::new(
            "node-exporter",
            env!("CARGO_PKG_VERSION"),
            "Machine metrics from /proc and /sys, compatible with Prometheus' node_exporter 1.5",
        )
        .config_schema(config::SCHEMA)
        .request(
            Capability::ReadPath("/proc".into()),
            "CPU, memory, load, disk, network and kernel statistics",
        )
        .request(
            Capability::ReadPath("/sys".into()),
            "CPU throttling, clock sources and per-device network counters",
        )
        .request_optional(
            Capability::FilesystemUsage("/".into()),
            "size and free space of mounted file systems; without it each reports node_filesystem_device_error 1",
        )
        .request_optional(
            Capability::ReadPath("/run/udev/data".into()),
            "disk model, serial and file system labels of node_disk_info and friends",
        )
    }

    fn open(config: &str) -> Result<Self, Error> {
        Ok(NodeExporter {
            config: Config::parse(config)?,
            cpu: cpu::CpuState::default(),
        })
    }

    /// Runs every enabled collector. Like node_exporter, a failing collector
    /// only costs its own metrics: it reports `node_scrape_collector_success`
    /// 0 and the others still run. Collectors read and parse everything
    /// before adding anything to `out`, so a failure leaves no partial output.
    fn collect(&mut self, out: &mut Registry) -> Result<(), Error> {
        for collector in self.config.collectors.clone() {
            let start = Instant::now();
            let result = self.run(collector, out);
            let seconds = start.elapsed().as_secs_f64();
            let name = collector.as_str();
            if let Err(err) = &result {
                wasmetheus_sdk::log::warn(&format!("collector {name} failed: {err}"));
            }
            let labels = [("collector", name)];
            out.gauge(
                "node_scrape_collector_duration_seconds",
                "node_exporter: Duration of a collector scrape.",
            )
            .with(&labels, seconds);
            out.gauge(
                "node_scrape_collector_success",
                "node_exporter: Whether a collector succeeded.",
            )
            .with(&labels, if result.is_ok() { 1.0 } else { 0.0 });
        }
        Ok(())
    }
}

export_exporter!(NodeExporter);

/// Renders a registry like the text format, for snapshot tests.
#[cfg(test)]
pub(crate) fn render(out: &Registry) -> String {
    use std::fmt::Write;
    let mut text = String::new();
    for family in out.families() {
        writeln!(text, "# {:?} {} {}", family.kind, family.name, family.help).unwrap();
        for metric in &family.metrics {
            let labels: Vec<String> = metric
                .labels
                .iter()
                .map(|(name, value)| format!("{name}={value:?}"))
                .collect();
            let value = metric.number().unwrap();
            if labels.is_empty() {
                writeln!(text, "{} {value}", family.name).unwrap();
            } else {
                writeln!(text, "{}{{{}}} {value}", family.name, labels.join(",")).unwrap();
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_names_the_plugin_and_its_schema() {
        let metadata = NodeExporter::metadata();
        assert_eq!(metadata.name, "node-exporter");
        assert_eq!(metadata.config_schema, config::SCHEMA);
        assert!(!metadata.capabilities[0].optional);
    }

    #[test]
    fn a_failing_collector_reports_failure_and_the_others_still_run() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("loadavg"), "0.50 0.25 0.10 1/100 42\n").unwrap();
        let config = format!(
            r#"{{"procfs": "{}", "collectors": ["loadavg", "meminfo"]}}"#,
            dir.path().display()
        );
        let mut exporter = NodeExporter::open(&config).unwrap();
        let mut out = Registry::new();
        exporter.collect(&mut out).unwrap();
        let success = out.get("node_scrape_collector_success").unwrap();
        let by_collector: Vec<(&str, f64)> = success
            .metrics
            .iter()
            .map(|m| (m.label("collector").unwrap(), m.number().unwrap()))
            .collect();
        assert_eq!(by_collector, [("loadavg", 1.0), ("meminfo", 0.0)]);
        assert_eq!(
            out.get("node_load1").unwrap().metrics[0].number(),
            Some(0.5)
        );
        let durations = out.get("node_scrape_collector_duration_seconds").unwrap();
        assert_eq!(durations.metrics.len(), 2);
    }
}
