//! The stale marker, which floats and native histograms share: a module of
//! its own so that `storage` and `histogram` both use it without importing
//! each other.

/// The stale marker: a NaN with this exact bit pattern, written when a
/// series disappears from its target, so queries stop returning it at once
/// instead of after the lookback window.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Whether `v` is the stale marker (an ordinary NaN is not).
pub fn is_stale_marker(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}
