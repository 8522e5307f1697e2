//! The built-in Pushgateway.
