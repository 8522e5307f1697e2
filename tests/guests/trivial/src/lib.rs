//! Test guest: one gauge and one counter, the smallest well-behaved exporter.
//! With `{"down_every": N, "why": "..."}` every Nth collect reports
//! `trivial_up 0` and logs `why` at error level, as an exporter does whose
//! target is down. With `{"leak_bytes": N}` each collect keeps N bytes
//! more, as a plugin that leaks does (what `check plugins` must catch).

use wasmetheus_sdk::{Error, Exporter, Metadata, Registry, export_exporter};

struct Trivial {
    collections: u64,
    config: Config,
    leaked: Vec<Vec<u8>>,
}

#[derive(serde::Deserialize, Default)]
struct Config {
    #[serde(default)]
    down_every: u64,
    #[serde(default)]
    why: String,
    #[serde(default)]
    leak_bytes: usize,
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

    fn open(config: &str) -> Result<Self, Error> {
        Ok(Trivial {
            collections: 0,
            config: wasmetheus_sdk::config::parse(config)?,
            leaked: Vec::new(),
        })
    }

    fn collect(&mut self, out: &mut Registry) -> Result<(), Error> {
        self.collections += 1;
        if self.config.leak_bytes > 0 {
            self.leaked.push(vec![1; self.config.leak_bytes]);
        }
        let down =
            self.config.down_every > 0 && self.collections.is_multiple_of(self.config.down_every);
        if down {
            wasmetheus_sdk::log::error(&self.config.why);
        }
        out.gauge("trivial_up", "One, or zero when configured to be down.")
            .set(if down { 0.0 } else { 1.0 });
        out.counter("trivial_collections_total", "Collections of this instance.")
            .set(self.collections as f64);
        Ok(())
    }
}

export_exporter!(Trivial);
