//! The shared wasmtime engine: compiler settings, pooling allocator, epochs.

use std::time::Duration;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances; per-call deadlines are multiples of this.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The largest linear memory any instance may be given.
pub const MAX_MEMORY_BYTES: usize = 1 << 30;

/// Every setting that shapes compiled code. The server's engine and the
/// compiler process (`compiler.rs`) both start from this, so an artifact
/// the compiler writes passes `Component::deserialize` in the server: the
/// instance allocator (pooling or not) is not part of wasmtime's
/// compatibility check.
pub fn compiler_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    config
}

/// The engine of the compiler process: the server's settings without the
/// pooling allocator, whose reservations it does not need.
pub fn build_compiler() -> wasmtime::Result<Engine> {
    Engine::new(&compiler_config())
}

/// Builds the engine all plugins share. `max_instances` caps concurrently
/// live component instances through the pooling allocator.
pub fn build(max_instances: u32) -> wasmtime::Result<Engine> {
    let mut config = compiler_config();
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(max_instances);
    // A Rust wasip2 component has a handful of core instances, one memory
    // and a few tables; leave generous headroom per component.
    pool.total_core_instances(max_instances * 16);
    pool.max_core_instances_per_component(32);
    pool.total_memories(max_instances * 2);
    pool.max_memories_per_component(4);
    pool.total_tables(max_instances * 8);
    pool.max_tables_per_component(16);
    pool.max_memory_size(MAX_MEMORY_BYTES);
    // A store needs a fiber stack only while one of its calls runs, and a
    // store holds one component instance.
    pool.total_stacks(max_instances);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config)
}

/// Advances `engine`'s epoch every [`EPOCH_TICK`] until the engine is only
/// referenced here. Each tick makes running guest code yield to the
/// executor, which is where a call past its deadline is abandoned.
pub fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch thread");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{Hash, Hasher};

    fn compatibility_key(engine: &Engine) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        hasher.finish()
    }

    /// What the compiler process writes loads in the server's pooled
    /// engine, and both have the cache key of the same engine.
    #[test]
    fn the_compiler_engine_writes_what_the_server_engine_loads() {
        let server = build(4).unwrap();
        let compiler = build_compiler().unwrap();
        assert_eq!(compatibility_key(&server), compatibility_key(&compiler));
        // A component with a core module of one function.
        let component = b"\0asm\x0d\0\x01\0\x01\x1b\0asm\x01\0\0\0\x01\x05\x01\x60\0\x01\x7e\x03\x02\x01\0\x0a\x06\x01\x04\0\x42\x07\x0b";
        let artifact = compiler.precompile_component(component).unwrap();
        // SAFETY: compiled just above by an engine of the same settings.
        unsafe { wasmtime::component::Component::deserialize(&server, &artifact) }.unwrap();
        // An engine with other code settings is refused, so the check is real.
        let mut other = compiler_config();
        other.epoch_interruption(false);
        let other = Engine::new(&other).unwrap();
        let foreign = other.precompile_component(component).unwrap();
        // SAFETY: wasmtime checks the header and refuses the artifact.
        assert!(unsafe { wasmtime::component::Component::deserialize(&server, &foreign) }.is_err());
    }
}
