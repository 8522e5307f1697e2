//! The js example in the real runtime.
