//! Test guest: `metadata` waits forever in a WASI sleep; the host must give
//! up on the load at the metadata deadline.

use std::time::Duration;
use wasmetheus_sdk::{Error, Exporter, Metadata, Registry, export_exporter};

struct SleeperMetadata;

impl Exporter for SleeperMetadata {
    fn metadata() -> Metadata {
        std::thread::sleep(Duration::from_secs(3600));
        Metadata::new("sleeper-metadata", "0.1.0", "Sleeps in metadata")
    }

    fn open(_config: &str) -> Result<Self, Error> {
        Ok(SleeperMetadata)
    }

    fn collect(&mut self, _out: &mut Registry) -> Result<(), Error> {
        Ok(())
    }
}

export_exporter!(SleeperMetadata);
