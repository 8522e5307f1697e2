//! The shared wasmtime engine: compiler settings, pooling allocator, epochs.

use std::time::Duration;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances; per-call deadlines are multiples of this.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The largest linear memory any instance may be given.
pub const MAX_MEMORY_BYTES: usize = 1 << 30;

/// Builds the engine all plugins share. `max_instances` caps concurrently
/// live component instances through the pooling allocator.
pub fn build(max_instances: u32) -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
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
