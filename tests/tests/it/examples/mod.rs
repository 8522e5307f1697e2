//! The examples of `examples/` (one per SDK language), built by
//! `cargo xtask build-examples` into `target/examples/<dir>.wasm`, running
//! in the real runtime against fixtures and loopback servers.

mod c;
mod go;
mod js;
mod python;

pub use crate::exporters::servers::{Instance, Plugin};
pub use wasmetheus_config::Grants;

use std::path::PathBuf;
use wasmetheus_model::MetricFamily;

/// `target/examples/<dir_name>.wasm`, which must have been built.
pub fn example_wasm(dir_name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/examples")
        .join(format!("{dir_name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: build the examples first with `cargo xtask build-examples` \
         (which installs the Python, JavaScript, C and Go toolchains it needs)",
        path.display()
    );
    path
}

/// Collects `instance` `collects` times, each answer checked by `check`,
/// and fails when the instance's linear memory after the last collect
/// exceeds its size after the first tenth by more than `allowance` bytes
/// (a kept resource fails a collect first: the table holds 4,096).
pub async fn assert_memory_settles(
    plugin: &Plugin,
    instance: &str,
    collects: usize,
    allowance: f64,
    check: impl Fn(&[MetricFamily]),
) {
    let warm_up = collects / 10;
    let mut after_warm_up = 0.0;
    for i in 1..=collects {
        let families = plugin
            .runtime
            .collect(instance)
            .await
            .unwrap_or_else(|e| panic!("collect {i}: {e}"));
        check(&families);
        if i == warm_up {
            after_warm_up = instance_memory(plugin, instance);
        }
    }
    let after_all = instance_memory(plugin, instance);
    assert!(
        after_all <= after_warm_up + allowance,
        "memory grew from {after_warm_up} to {after_all} bytes between collects {warm_up} and \
         {collects}"
    );
}

fn instance_memory(plugin: &Plugin, instance: &str) -> f64 {
    plugin
        .runtime
        .instance_memory(instance)
        .expect("the instance's memory after a collect") as f64
}
