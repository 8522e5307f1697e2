//! Host-side bindings generated from `wit/plugin.wit`.
//!
//! Exports are async so that every guest call runs on a fiber the host can
//! abandon at its deadline, even while the guest waits in a host call (a
//! WASI sleep, a poll, a socket read). The `host` interface stays
//! synchronous: its functions return at once.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "exporter",
    exports: { default: async },
});

pub use wasmetheus::plugin::host;
pub use wasmetheus::plugin::types;

/// The `receiver` world: the `alerts` export over the same `types` and
/// `host` as the exporter world, so one linker and one [`InstanceState`]
/// serve both kinds of plugin.
///
/// [`InstanceState`]: crate::sandbox::InstanceState
pub mod receiver {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "receiver",
        exports: { default: async },
        with: {
            "wasmetheus:plugin/types": crate::bindings::types,
            "wasmetheus:plugin/host": crate::bindings::host,
        },
    });
}
