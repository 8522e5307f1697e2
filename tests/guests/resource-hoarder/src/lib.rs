//! Test guest: creates host resources in a loop and keeps every one, as a
//! hoarder would: `pollables` (clock subscriptions), `fields` (wasi-http
//! header maps), `field-bytes` (one header map grown without end) or
//! `descriptors` (open files under its `/proc` grant), per
//! the `kind` in its config. The host must stop it with an error naming the
//! limit long before its memory grows without bound.

use wasmetheus_sdk::{Error, Exporter, Metadata, Registry, config, export_exporter};

#[derive(serde::Deserialize)]
struct Config {
    kind: String,
}

struct Hoarder {
    kind: String,
}

/// More than any per-instance cap; the host must end the loop first.
const ATTEMPTS: usize = 2_000_000;

impl Exporter for Hoarder {
    fn metadata() -> Metadata {
        Metadata::new("resource-hoarder", "0.1.0", "Hoards host resources")
    }

    fn open(config: &str) -> Result<Self, Error> {
        let config: Config = config::parse(config)?;
        Ok(Hoarder { kind: config.kind })
    }

    fn collect(&mut self, out: &mut Registry) -> Result<(), Error> {
        let held = match self.kind.as_str() {
            "pollables" => {
                let mut held = Vec::new();
                for _ in 0..ATTEMPTS {
                    held.push(wasi::clocks::monotonic_clock::subscribe_duration(
                        3_600_000_000_000,
                    ));
                }
                held.len()
            }
            "fields" => {
                let mut held = Vec::new();
                for _ in 0..ATTEMPTS {
                    held.push(wasi::http::types::Fields::new());
                }
                held.len()
            }
            "field-bytes" => {
                let fields = wasi::http::types::Fields::new();
                let value = vec![b'x'; 1024];
                for i in 0..ATTEMPTS {
                    fields
                        .append(&format!("x-{i}"), &value)
                        .map_err(|e| Error::Other(format!("append refused: {e:?}")))?;
                }
                fields.entries().len()
            }
            "descriptors" => {
                let mut held = Vec::new();
                for _ in 0..ATTEMPTS {
                    match std::fs::File::open("/proc/loadavg") {
                        Ok(file) => held.push(file),
                        Err(e) => {
                            return Err(Error::Other(format!(
                                "open failed after {} files: {e}",
                                held.len()
                            )));
                        }
                    }
                }
                held.len()
            }
            other => return Err(Error::Other(format!("unknown kind {other}"))),
        };
        out.gauge("hoarded", "Resources held at the end.")
            .set(held as f64);
        Ok(())
    }
}

export_exporter!(Hoarder);
