//! The `wasmetheus` server as a library: the binary's `serve` and `check`
//! commands, usable in-process by the end-to-end tests.

mod backend;
pub mod backfill;
pub mod check_plugins;
pub mod serve;
pub mod test_promql;
