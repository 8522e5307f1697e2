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
