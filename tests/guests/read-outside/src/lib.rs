//! Test guest: reads `/etc/passwd` (or the `path` in its config), which it
//! was not granted; the read must fail inside the sandbox.

use wasmetheus_sdk::{Error, Exporter, Metadata, Registry, config, export_exporter, fs};

#[derive(serde::Deserialize)]
struct Config {
    #[serde(default = "default_path")]
    path: String,
}

fn default_path() -> String {
    "/etc/passwd".into()
}

struct ReadOutside {
    path: String,
}

impl Exporter for ReadOutside {
    fn metadata() -> Metadata {
        Metadata::new("read-outside", "0.1.0", "Reads an ungranted file")
    }

    fn open(config: &str) -> Result<Self, Error> {
        let config: Config = config::parse(config)?;
        Ok(ReadOutside { path: config.path })
    }

    fn collect(&mut self, out: &mut Registry) -> Result<(), Error> {
        let text = fs::read_to_string(&self.path)?;
        out.gauge("read_outside_bytes", "Bytes read from the forbidden file.")
            .set(text.len() as f64);
        Ok(())
    }
}

export_exporter!(ReadOutside);
