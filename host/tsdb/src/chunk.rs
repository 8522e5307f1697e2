//! Compressed chunks of samples (placeholder).
