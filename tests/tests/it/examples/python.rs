//! The python example in the real runtime.
