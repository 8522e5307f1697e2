//! promtool's rule unit tests (`test rules`).
