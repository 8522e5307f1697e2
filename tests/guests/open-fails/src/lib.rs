//! Test guest: `open` always rejects its configuration, so a new version of a
//! plugin built from it must never replace a working one.

use wasmetheus_sdk::{Error, Exporter, Metadata, Registry, export_exporter};

struct OpenFails;

impl Exporter for OpenFails {
    fn metadata() -> Metadata {
        Metadata::new("open-fails", "0.1.0", "Rejects every configuration")
    }

    fn open(_config: &str) -> Result<Self, Error> {
        Err(Error::InvalidConfig(
            "this plugin accepts no configuration at all".into(),
        ))
    }

    fn collect(&mut self, _out: &mut Registry) -> Result<(), Error> {
        Ok(())
    }
}

export_exporter!(OpenFails);
