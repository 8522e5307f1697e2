//! The runtime-wide cap on compilations running at once ([`CompileSlots`]).

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Instant;

/// Compilations running and waiting to run.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct SlotCounts {
    pub(super) running: usize,
    pub(super) queued: usize,
}

/// The runtime-wide cap on compilations running at once. A compiler thread
/// takes a slot just before compiling (a cache hit takes none) and gives it
/// back when the compilation has ended, whether its load still waits for it
/// or was abandoned at the compile timeout: an abandoned compilation keeps
/// its core busy, so it keeps its slot.
pub(super) struct CompileSlots {
    pub(super) limit: usize,
    counts: Mutex<SlotCounts>,
    freed: parking_lot::Condvar,
}

/// One slot, given back on drop.
pub(super) struct CompileSlot(Arc<CompileSlots>);

impl Drop for CompileSlot {
    fn drop(&mut self) {
        self.0.counts.lock().running -= 1;
        // Every waiter checks again; one whose load gave up leaves the slot
        // to the next.
        self.0.freed.notify_all();
    }
}

impl CompileSlots {
    pub(super) fn new(limit: usize) -> Self {
        CompileSlots {
            limit: limit.max(1),
            counts: Mutex::default(),
            freed: parking_lot::Condvar::new(),
        }
    }

    /// Waits until `deadline` for a free slot, then takes it if `claim`
    /// (called with the counts locked) still wants it.
    pub(super) fn acquire(
        self: &Arc<Self>,
        deadline: Instant,
        claim: impl Fn() -> bool,
    ) -> Option<CompileSlot> {
        let mut counts = self.counts.lock();
        counts.queued += 1;
        while counts.running >= self.limit {
            if self.freed.wait_until(&mut counts, deadline).timed_out()
                && counts.running >= self.limit
            {
                break;
            }
        }
        counts.queued -= 1;
        if counts.running >= self.limit || !claim() {
            return None;
        }
        counts.running += 1;
        Some(CompileSlot(Arc::clone(self)))
    }

    pub(super) fn counts(&self) -> SlotCounts {
        *self.counts.lock()
    }
}

/// Where a load's compilation is: waiting for a slot, under way (or read
/// from the cache), or given up by the load before it got a slot.
pub(super) const WAITING: u8 = 0;
pub(super) const COMPILING: u8 = 1;
pub(super) const GAVE_UP: u8 = 2;
