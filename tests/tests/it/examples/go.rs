//! The go example in the real runtime.
