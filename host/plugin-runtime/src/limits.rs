//! Limits of one instance's store: [`MemoryLimiter`] caps its linear
//! memory (and table sizes) and records the memory's size for the
//! self-metrics. The sandbox puts it in the store's data; the instance task
//! installs it and tells its trap apart by [`MEMORY_LIMIT_MARKER`].

use wasmtime::ResourceLimiter;

/// Caps linear memory and records its size for the self-metrics. Exceeding
/// the cap is an error (a trap naming the limit), not a failed `grow`, so a
/// memory bomb ends at once with a clear message.
pub struct MemoryLimiter {
    limit: usize,
    used: usize,
}

impl MemoryLimiter {
    pub fn new(limit: usize) -> Self {
        MemoryLimiter { limit, used: 0 }
    }

    pub fn used(&self) -> usize {
        self.used
    }
}

/// The start of the error [`MemoryLimiter`] fails a growth with; how a
/// memory-limit trap is told from others.
pub(crate) const MEMORY_LIMIT_MARKER: &str = "memory limit of";

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let after = self.used - current.min(self.used) + desired;
        if after > self.limit {
            return Err(wasmtime::format_err!(
                "{MEMORY_LIMIT_MARKER} {} bytes reached: the plugin asked to grow a memory to {desired} bytes",
                self.limit
            ));
        }
        self.used = after;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}
