//! Test guest: one gauge and one counter, the smallest well-behaved exporter.

use wasmetheus_sdk::{Error, Exporter, Metadata, Registry, export_exporter};

struct Trivial {
    collections: u64,
}

impl Exporter for Trivial {
    fn metadata() -> Metadata {
        Metadata::new(
            "trivial",
            env!("CARGO_PKG_VERSION"),
            "One gauge, one counter",
        )
        // Settings it ignores; `blob` is declared secret although its
        // name does not say so (tests/tests/it/plugin_secrets.rs).
        .config_schema(
            r#"{"type": "object", "properties": {
                "blob": {"type": "string", "writeOnly": true},
                "region": {"type": "string"},
                "peers": {"type": "array", "items": {"type": "object", "properties": {
                    "address": {"type": "string"},
                    "seed": {"type": "string", "format": "password"}
                }}}
            }}"#,
        )
    }

    fn open(_config: &str) -> Result<Self, Error> {
        Ok(Trivial { collections: 0 })
    }

    fn collect(&mut self, out: &mut Registry) -> Result<(), Error> {
        self.collections += 1;
        out.gauge("trivial_up", "Always one.").set(1.0);
        out.counter("trivial_collections_total", "Collections of this instance.")
            .set(self.collections as f64);
        Ok(())
    }
}

export_exporter!(Trivial);
