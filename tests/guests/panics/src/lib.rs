//! Test guest: `collect` panics, which traps the instance.

use wasmetheus_sdk::{Error, Exporter, Metadata, Registry, export_exporter};

struct Panics;

impl Exporter for Panics {
    fn metadata() -> Metadata {
        Metadata::new("panics", "0.1.0", "Panics in collect")
    }

    fn open(_config: &str) -> Result<Self, Error> {
        Ok(Panics)
    }

    fn collect(&mut self, _out: &mut Registry) -> Result<(), Error> {
        panic!("this exporter always panics");
    }
}

export_exporter!(Panics);
