//! Test guest: `collect` spins forever; the host must cut it at the deadline.

use wasmetheus_sdk::{Error, Exporter, Metadata, Registry, export_exporter};

struct InfiniteLoop;

impl Exporter for InfiniteLoop {
    fn metadata() -> Metadata {
        Metadata::new("infinite-loop", "0.1.0", "Never returns from collect")
    }

    fn open(_config: &str) -> Result<Self, Error> {
        Ok(InfiniteLoop)
    }

    fn collect(&mut self, _out: &mut Registry) -> Result<(), Error> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

export_exporter!(InfiniteLoop);
