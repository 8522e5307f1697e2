//! Test guest: `collect` returns one series whose label names and values
//! all point at the same large buffer in guest memory. Guest memory holds
//! the buffer once; copying the list naively costs the host `copies` times
//! its size. Config: `{"copies": n, "size": bytes}`.
//!
//! The strings are built from raw parts over one leaked buffer, so the
//! allocator below ignores frees of that buffer (the bindings free every
//! string they returned once the host has read them).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

#[cfg(target_arch = "wasm32")]
use wasmetheus_sdk::bindings::exports::wasmetheus::plugin::metrics;
#[cfg(target_arch = "wasm32")]
use wasmetheus_sdk::bindings::wasmetheus::plugin::types as w;

/// The shared buffer's address; 0 until built.
static SHARED: AtomicUsize = AtomicUsize::new(0);

struct IgnoreSharedFrees;

unsafe impl GlobalAlloc for IgnoreSharedFrees {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ptr as usize != SHARED.load(Ordering::Relaxed) {
            unsafe { System.dealloc(ptr, layout) }
        }
    }
}

#[global_allocator]
static ALLOCATOR: IgnoreSharedFrees = IgnoreSharedFrees;

#[derive(serde::Deserialize)]
struct Config {
    copies: usize,
    size: usize,
}

#[cfg(target_arch = "wasm32")]
struct Plugin;

#[cfg(target_arch = "wasm32")]
struct Collector(Config);

/// A `String` over the shared buffer (never freed: see the allocator).
#[cfg(target_arch = "wasm32")]
fn alias(size: usize) -> String {
    let mut ptr = SHARED.load(Ordering::Relaxed) as *mut u8;
    if ptr.is_null() {
        ptr = "a".repeat(size).leak().as_mut_ptr();
        SHARED.store(ptr as usize, Ordering::Relaxed);
    }
    // SAFETY: the buffer holds `size` bytes of ASCII and is never freed.
    unsafe { String::from_raw_parts(ptr, size, size) }
}

#[cfg(target_arch = "wasm32")]
impl metrics::Guest for Plugin {
    type Collector = Collector;

    fn metadata() -> w::PluginMetadata {
        wasmetheus_sdk::wit::metadata(wasmetheus_sdk::Metadata::new(
            "alias-bomb",
            "0.1.0",
            "Returns strings that alias one buffer",
        ))
    }
}

#[cfg(target_arch = "wasm32")]
impl metrics::GuestCollector for Collector {
    fn open(config: String) -> Result<metrics::Collector, w::Error> {
        let config: Config =
            wasmetheus_sdk::config::parse(&config).map_err(wasmetheus_sdk::wit::error)?;
        Ok(metrics::Collector::new(Collector(config)))
    }

    fn collect(&self) -> Result<Vec<w::MetricFamily>, w::Error> {
        let Config { copies, size } = self.0;
        let labels = (0..copies)
            .map(|_| w::Label {
                name: alias(size),
                value: alias(size),
            })
            .collect();
        Ok(vec![w::MetricFamily {
            name: "alias_bomb".into(),
            kind: w::MetricKind::Gauge,
            help: String::new(),
            unit: String::new(),
            metrics: vec![w::Metric {
                labels,
                value: w::MetricValue::Number(1.0),
                timestamp_ms: None,
            }],
        }])
    }
}

#[cfg(target_arch = "wasm32")]
wasmetheus_sdk::bindings::__export_exporter_bindings!(Plugin with_types_in wasmetheus_sdk::bindings);
