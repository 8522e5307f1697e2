//! haproxy-exporter: HAProxy's statistics as Prometheus' haproxy_exporter
//! 0.14 exposes them — the same `haproxy_frontend_*`, `haproxy_backend_*`
//! and `haproxy_server_*` families with their help, types and labels,
//! `haproxy_up`, and the exporter's scrape and CSV parse failure counters —
//! so its dashboards and alerts work unchanged.
//!
//! The statistics come from the stats page's CSV (`http(s)://…;csv`,
//! through `wasi:http`) or from the stats socket exposed on TCP
//! (`tcp://host:port`, `show info` then `show stat`). A scrape that fails
//! reports `haproxy_up 0` and logs why; malformed CSV rows are counted in
//! `haproxy_exporter_csv_parse_failures_total`, as upstream counts them.

mod config;
mod csv;
mod fetch;
mod stats;

use config::{Config, Source};
use wasmetheus_sdk::{Capability, Error, Exporter, Metadata, Registry, export_exporter};

/// One configured HAProxy.
pub struct HaproxyExporter {
    config: Config,
    limits: stats::Limits,
    /// `haproxy_exporter_scrapes_total`.
    scrapes: f64,
    /// `haproxy_exporter_csv_parse_failures_total`.
    parse_failures: f64,
    /// The last error logged, for tests.
    last_error: Option<String>,
}

impl HaproxyExporter {
    /// The last error a collect logged (what the host shows as the
    /// instance's last collect error), if any.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    fn error(&mut self, message: String) {
        wasmetheus_sdk::log::error(&message);
        self.last_error = Some(message);
    }

    /// Fetches and exports the statistics; whether HAProxy was scraped.
    fn scrape(&mut self, out: &mut Registry) -> bool {
        if let Source::Tcp { address } = &self.config.source {
            match fetch::command(address, fetch::SHOW_INFO, &self.config) {
                Err(e) => {
                    self.error(e);
                    return false;
                }
                // As upstream: an unreadable `show info` costs only the
                // version series.
                Ok(body) => match stats::parse_info(&body) {
                    Ok((release_date, version)) => {
                        out.gauge("haproxy_version_info", "HAProxy version info.")
                            .with(
                                &[("release_date", &release_date), ("version", &version)],
                                1.0,
                            );
                    }
                    Err(why) => wasmetheus_sdk::log::warn(&format!(
                        "HAProxy's answer to show info from {}: {why}; haproxy_version_info left out",
                        self.config.shown_uri
                    )),
                },
            }
        }
        match fetch::stats(&self.config) {
            Ok(body) => self.export_body(&body, out),
            Err(e) => {
                self.error(e);
                false
            }
        }
    }

    /// Exports one statistics CSV body; false if it could not be read to
    /// the end.
    fn export_body(&mut self, body: &[u8], out: &mut Registry) -> bool {
        let outcome = stats::export(body, &self.config.selection, &self.limits, out);
        self.parse_failures += outcome.failures as f64;
        let failures = (outcome.failures > 0).then(|| {
            let hint = if outcome.rows == 0 && !body.starts_with(b"# pxname,") {
                " (the answer does not look like HAProxy's statistics CSV: does scrape_uri end in ;csv?)"
            } else {
                ""
            };
            format!(
                "{} CSV parse failure(s) in HAProxy's statistics from {}{hint}: {}",
                outcome.failures,
                self.config.shown_uri,
                outcome.first_failures.join("; ")
            )
        });
        if let Some(fatal) = outcome.fatal {
            let mut message = format!(
                "HAProxy's statistics from {}: {fatal}",
                self.config.shown_uri
            );
            if let Some(failures) = failures {
                message = format!("{message}; {failures}");
            }
            self.error(message);
            return false;
        }
        if let Some(failures) = failures {
            self.error(failures);
        }
        true
    }

    /// `haproxy_up` and the exporter's counters, after the statistics.
    fn report(&self, up: bool, out: &mut Registry) {
        out.gauge("haproxy_up", "Was the last scrape of HAProxy successful.")
            .set(if up { 1.0 } else { 0.0 });
        out.counter(
            "haproxy_exporter_scrapes_total",
            "Current total HAProxy scrapes.",
        )
        .set(self.scrapes);
        out.counter(
            "haproxy_exporter_csv_parse_failures_total",
            "Number of errors while parsing CSV.",
        )
        .set(self.parse_failures);
    }
}

impl Exporter for HaproxyExporter {
    fn metadata() -> Metadata {
        Metadata::new(
            "haproxy-exporter",
            env!("CARGO_PKG_VERSION"),
            "HAProxy statistics from the stats page's CSV or the stats socket on TCP, compatible with Prometheus' haproxy_exporter 0.14",
        )
        .config_schema(config::SCHEMA)
        // The origin of the default scrape_uri, as upstream's default; an
        // instance grants the origin (or tcp:// address) of its own
        // scrape_uri, and an error names the grant it lacks. Requested,
        // so no unconfigured default instance scrapes localhost.
        .request(
            Capability::HttpOrigin("http://localhost:80".into()),
            "HAProxy's stats page (scrape_uri); grant the origin of the instance's scrape_uri under http_origins, or its tcp:// address under tcp_connect",
        )
    }

    fn open(config: &str) -> Result<Self, Error> {
        Ok(HaproxyExporter {
            config: Config::parse(config)?,
            limits: stats::Limits::default(),
            scrapes: 0.0,
            parse_failures: 0.0,
            last_error: None,
        })
    }

    /// Like upstream's `Collect`: the statistics' families, then
    /// `haproxy_up` and the two counters, which live as long as the instance.
    fn collect(&mut self, out: &mut Registry) -> Result<(), Error> {
        self.scrapes += 1.0;
        self.last_error = None;
        let up = self.scrape(out);
        self.report(up, out);
        Ok(())
    }
}

export_exporter!(HaproxyExporter);

#[cfg(test)]
mod tests;
