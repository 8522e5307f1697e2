//! The c example in the real runtime.
