//! Host-side bindings generated from `wit/plugin.wit`.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "exporter",
});

pub use wasmetheus::plugin::host;
pub use wasmetheus::plugin::types;
