//! mysqld-exporter: MySQL and MariaDB server metrics over the MySQL client
//! protocol, named, typed and labelled like Debian's
//! prometheus-mysqld-exporter 0.14 with its default scrapers, so the
//! mysqld mixin's dashboards and alerts work unchanged.
//!
//! [`wire`] speaks the protocol over a `std::net::TcpStream` (wasi:sockets
//! in the sandbox, granted per instance with `tcp_connect`), [`scrapers`]
//! turns answers into families, [`MysqldExporter`] keeps the connection
//! between collects and reports `mysql_up` and the `mysql_exporter_*`
//! families the way mysqld_exporter does.

pub mod config;
pub mod dsn;
pub mod parse;
mod rsa_key;
pub mod scrapers;
pub mod wire;

use config::Config;
use scrapers::Source;
use std::collections::{BTreeMap, HashSet};
use std::time::Instant;
use wasmetheus_sdk::{
    Capability, Error, Exporter, Labels, Metadata, Registry, Value, export_exporter,
};
use wire::{Conn, ResultSet};

/// One configured MySQL server.
pub struct MysqldExporter {
    config: Config,
    conn: Option<Conn>,
    scrapes_total: f64,
    scrape_errors: BTreeMap<String, f64>,
    last_scrape_error: f64,
    up: f64,
}

/// The live connection as a [`Source`]; after an I/O error every further
/// query of this collect fails at once.
struct Live<'a> {
    conn: &'a mut Conn,
    broken: Option<String>,
}

impl Source for Live<'_> {
    fn query(&mut self, sql: &str) -> Result<ResultSet, wire::Error> {
        if let Some(m) = &self.broken {
            return Err(wire::Error::Broken(format!(
                "connection lost earlier in this collect: {m}"
            )));
        }
        let r = self.conn.query(sql);
        if let Err(wire::Error::Broken(m)) = &r {
            self.broken = Some(m.clone());
        }
        r
    }
}

impl MysqldExporter {
    pub fn new(config: Config) -> Self {
        MysqldExporter {
            config,
            conn: None,
            scrapes_total: 0.0,
            scrape_errors: BTreeMap::new(),
            last_scrape_error: 0.0,
            up: 0.0,
        }
    }

    fn options(&self) -> wire::Options {
        wire::Options {
            max_response_bytes: self.config.max_response_bytes,
            connect_timeout: self.config.connect_timeout,
            read_timeout: self.config.read_timeout,
            write_timeout: self.config.write_timeout,
        }
    }

    /// The kept connection if it answers a ping, else a new one.
    fn ensure_conn(&mut self) -> Result<(), String> {
        if let Some(conn) = &mut self.conn {
            conn.reset_budget();
            if conn.ping().is_ok() {
                return Ok(());
            }
            self.conn = None;
        }
        let password = self.config.password()?;
        let mut conn = Conn::connect(&self.config.dsn, password.as_deref(), &self.options())
            .map_err(|e| e.to_string())?;
        let mut sets = vec![format!(
            "lock_wait_timeout={}",
            self.config.lock_wait_timeout
        )];
        if self.config.log_slow_filter {
            sets.push("log_slow_filter='tmp_table_on_disk,filesort_on_disk'".into());
        }
        for (name, value) in &self.config.dsn.session_vars {
            sets.push(format!("{name}={value}"));
        }
        let stmt = format!("SET {}", sets.join(", "));
        conn.query(&stmt)
            .map_err(|e| format!("setting up the session ({stmt}): {e}"))?;
        conn.reset_budget();
        self.conn = Some(conn);
        Ok(())
    }

    fn emit_exporter(&self, out: &mut Registry) {
        out.counter(
            "mysql_exporter_scrapes_total",
            "Total number of times MySQL was scraped for metrics.",
        )
        .set(self.scrapes_total);
        out.gauge(
            "mysql_exporter_last_scrape_error",
            "Whether the last scrape of metrics from MySQL resulted in an error (1 for error, 0 for success).",
        )
        .set(self.last_scrape_error);
        for (collector, n) in &self.scrape_errors {
            out.counter(
                "mysql_exporter_scrape_errors_total",
                "Total number of times an error occurred scraping a MySQL.",
            )
            .with(&[("collector", collector)], *n);
        }
        out.gauge("mysql_up", "Whether the MySQL server is up.")
            .set(self.up);
    }

    fn scrape(&mut self, out: &mut Registry) {
        self.scrapes_total += 1.0;
        let start = Instant::now();
        if let Err(e) = self.ensure_conn() {
            self.up = 0.0;
            self.last_scrape_error = 1.0;
            wasmetheus_sdk::log::error(&format!(
                "Error pinging mysqld at {}: {e}",
                self.config.dsn.addr
            ));
            return;
        }
        self.up = 1.0;
        self.last_scrape_error = 0.0;
        const DURATION: &str = "mysql_exporter_collector_duration_seconds";
        const DURATION_HELP: &str = "Collector time duration.";
        out.gauge(DURATION, DURATION_HELP).with(
            &[("collector", "connection")],
            start.elapsed().as_secs_f64(),
        );
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let mut db = Live { conn, broken: None };
        let version = match db.query("SELECT @@version") {
            Ok(rs) => rs
                .rows
                .first()
                .and_then(|r| r.first().cloned().flatten())
                .map(|v| parse::version_number(&v))
                .unwrap_or(999.0),
            Err(_) => 999.0,
        };
        let mut guard = OutputGuard::default();
        for scraper in self.config.scrapers.clone() {
            if version < scraper.min_version() {
                continue;
            }
            let label = format!("collect.{}", scraper.name());
            let start = Instant::now();
            let mut scratch = Registry::new();
            let result = scraper.scrape(&mut db, &mut scratch);
            let dropped = guard.merge(scratch, out);
            if dropped > 0 {
                wasmetheus_sdk::log::warn(&format!(
                    "scraper {} for {}: {dropped} series left out (repeated series, a label value \
                     over {MAX_LABEL_VALUE_BYTES} bytes, or more than {MAX_FAMILIES} families or \
                     {MAX_SERIES} series in all): the server's answers are unusual",
                    scraper.name(),
                    self.config.dsn.addr
                ));
            }
            if let Err(e) = result {
                wasmetheus_sdk::log::error(&format!(
                    "Error from scraper {} for {}: {e}",
                    scraper.name(),
                    self.config.dsn.addr
                ));
                *self.scrape_errors.entry(label.clone()).or_default() += 1.0;
                self.last_scrape_error = 1.0;
            }
            out.gauge(DURATION, DURATION_HELP)
                .with(&[("collector", &label)], start.elapsed().as_secs_f64());
        }
        if db.broken.is_some() {
            // A half-read answer leaves the stream unusable.
            self.conn = None;
        }
    }
}

/// The longest label value the host accepts, in bytes.
const MAX_LABEL_VALUE_BYTES: usize = 4096;
/// Families and series the scrapers may add (the host refuses a whole
/// output over 10,000 families or 100,000 series; the exporter's own
/// families come on top).
const MAX_FAMILIES: usize = 9_900;
const MAX_SERIES: usize = 99_000;

/// What the scrapers put out so far: no series twice, no label value the
/// host refuses, and no more than it accepts, so that an odd server's
/// answer costs its series only, not the whole output with `mysql_up`.
#[derive(Default)]
struct OutputGuard {
    series: HashSet<(String, Labels)>,
    families: HashSet<String>,
    count: usize,
}

impl OutputGuard {
    /// Copies `scratch` into `out`; how many series were left out.
    fn merge(&mut self, scratch: Registry, out: &mut Registry) -> usize {
        let mut dropped = 0;
        for family in scratch.into_families() {
            for metric in family.metrics {
                let cost = match &metric.value {
                    Value::Number(_) => 1,
                    Value::Histogram(h) => h.buckets.len() + 3,
                    Value::Summary(s) => s.quantiles.len() + 2,
                };
                let mut key = metric.labels.clone();
                key.sort();
                let new_family = !self.families.contains(&family.name);
                if metric
                    .labels
                    .iter()
                    .any(|(_, v)| v.len() > MAX_LABEL_VALUE_BYTES)
                    || self.count + cost > MAX_SERIES
                    || (new_family && self.families.len() >= MAX_FAMILIES)
                    || !self.series.insert((family.name.clone(), key))
                {
                    dropped += 1;
                    continue;
                }
                self.count += cost;
                if new_family {
                    self.families.insert(family.name.clone());
                }
                let mut builder = out.family(&family.name, family.kind, &family.help);
                let labels: Vec<(&str, &str)> = metric
                    .labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                match metric.value {
                    Value::Number(v) => builder.with_labels(metric.labels, v),
                    Value::Histogram(h) => builder.observe_histogram(&labels, h),
                    Value::Summary(s) => builder.observe_summary(&labels, s),
                };
            }
        }
        dropped
    }
}

impl Exporter for MysqldExporter {
    fn metadata() -> Metadata {
        Metadata::new(
            "mysqld-exporter",
            env!("CARGO_PKG_VERSION"),
            "MySQL and MariaDB server metrics over the MySQL protocol, compatible with Prometheus' mysqld_exporter 0.14",
        )
        .config_schema(config::SCHEMA)
        .request(
            Capability::TcpConnect("127.0.0.1:3306".into()),
            "the MySQL server of the dsn (grant each instance its own host:port)",
        )
        .request_optional(
            Capability::EnvVar("MYSQLD_EXPORTER_PASSWORD".into()),
            "the password, when password_env names this variable instead of putting it in the dsn",
        )
        .request_optional(
            Capability::ReadPath("/etc/mysqld-exporter".into()),
            "the password, when password_file points into this directory",
        )
        .request_optional(
            Capability::DnsLookup,
            "a dsn that names its server by host name instead of IP address",
        )
    }

    fn open(config: &str) -> Result<Self, Error> {
        Ok(MysqldExporter::new(Config::parse(config)?))
    }

    fn collect(&mut self, out: &mut Registry) -> Result<(), Error> {
        self.scrape(out);
        self.emit_exporter(out);
        Ok(())
    }
}

export_exporter!(MysqldExporter);

#[cfg(test)]
mod tests {
    use super::*;
    use wasmetheus_sdk::{Bucket, Histogram};

    #[test]
    fn the_output_guard_drops_what_the_host_would_refuse() {
        let mut guard = OutputGuard::default();
        let mut out = Registry::new();
        let mut scratch = Registry::new();
        let help = "Total number of executed MySQL commands.";
        // `Com_Select` and `COM_SELECT` both clean to `select`.
        scratch
            .counter("mysql_global_status_commands_total", help)
            .with(&[("command", "select")], 1.0)
            .with(&[("command", "select")], 2.0)
            .with(&[("command", &"x".repeat(MAX_LABEL_VALUE_BYTES + 1))], 3.0)
            .with(&[("command", "insert")], 4.0);
        scratch.histogram("h_seconds", "h").observe_histogram(
            &[],
            Histogram {
                buckets: vec![Bucket {
                    upper_bound: 1.0,
                    cumulative_count: 1,
                }],
                count: 1,
                sum: 0.5,
            },
        );
        assert_eq!(guard.merge(scratch, &mut out), 2);
        let commands = out.get("mysql_global_status_commands_total").unwrap();
        assert_eq!(commands.metrics.len(), 2);
        assert_eq!(commands.metrics[0].number(), Some(1.0));
        assert_eq!(commands.metrics[1].label("command"), Some("insert"));
        assert!(matches!(
            out.get("h_seconds").unwrap().metrics[0].value,
            Value::Histogram(_)
        ));
        // A later scraper cannot repeat a series either.
        let mut scratch = Registry::new();
        scratch
            .counter("mysql_global_status_commands_total", help)
            .with(&[("command", "insert")], 5.0);
        assert_eq!(guard.merge(scratch, &mut out), 1);
        // Families and series stop short of the host's limits.
        let mut scratch = Registry::new();
        for i in 0..MAX_FAMILIES + 10 {
            scratch
                .untyped(&format!("mysql_global_status_v{i}"), "g")
                .set(1.0);
        }
        guard.merge(scratch, &mut out);
        assert_eq!(out.families().len(), MAX_FAMILIES);
        let mut scratch = Registry::new();
        for i in 0..MAX_SERIES {
            scratch
                .counter("mysql_global_status_commands_total", help)
                .with(&[("command", &format!("c{i}"))], 1.0);
        }
        assert!(guard.merge(scratch, &mut out) > 0);
        let series: usize = out.families().iter().map(|f| f.metrics.len()).sum();
        assert!(series < MAX_SERIES, "{series}");
    }
}
