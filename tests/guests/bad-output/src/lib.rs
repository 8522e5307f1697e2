//! Test guest: returns the kind of invalid output named by `mode` in its
//! config: `bad-name`, `bad-label`, `duplicate-series`, `duplicate-family`,
//! `many-series` (200,000 series).

use wasmetheus_sdk::{Error, Exporter, Metadata, Registry, config, export_exporter};

#[derive(serde::Deserialize)]
struct Config {
    mode: String,
}

struct BadOutput {
    mode: String,
}

impl Exporter for BadOutput {
    fn metadata() -> Metadata {
        Metadata::new("bad-output", "0.1.0", "Returns invalid metric families")
    }

    fn open(config: &str) -> Result<Self, Error> {
        let config: Config = config::parse(config)?;
        Ok(BadOutput { mode: config.mode })
    }

    fn collect(&mut self, out: &mut Registry) -> Result<(), Error> {
        match self.mode.as_str() {
            "bad-name" => {
                out.gauge("bad metric-name", "Invalid name.").set(1.0);
            }
            "bad-label" => {
                out.gauge("bad_label", "Invalid label name.")
                    .with(&[("0zone", "x")], 1.0);
            }
            "duplicate-series" => {
                out.gauge("dup", "Same series twice.")
                    .with(&[("a", "1")], 1.0)
                    .with(&[("a", "1")], 2.0);
            }
            "many-series" => {
                let mut family = out.gauge("many", "Too many series.");
                for i in 0..200_000 {
                    family.with(&[("i", &i.to_string())], 1.0);
                }
            }
            other => return Err(Error::InvalidConfig(format!("unknown mode {other:?}"))),
        }
        Ok(())
    }
}

export_exporter!(BadOutput);
