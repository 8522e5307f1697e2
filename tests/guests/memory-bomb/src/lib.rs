//! Test guest: `collect` allocates 1 MiB blocks until something stops it.

use wasmetheus_sdk::{Error, Exporter, Metadata, Registry, export_exporter};

struct MemoryBomb {
    hoard: Vec<Vec<u8>>,
}

impl Exporter for MemoryBomb {
    fn metadata() -> Metadata {
        Metadata::new("memory-bomb", "0.1.0", "Allocates without bound")
    }

    fn open(_config: &str) -> Result<Self, Error> {
        Ok(MemoryBomb { hoard: Vec::new() })
    }

    fn collect(&mut self, out: &mut Registry) -> Result<(), Error> {
        loop {
            self.hoard.push(vec![1u8; 1 << 20]);
            out.gauge("memory_bomb_blocks", "Blocks held.")
                .set(self.hoard.len() as f64);
        }
    }
}

export_exporter!(MemoryBomb);
