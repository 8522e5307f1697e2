//! The `wasmetheus` server as a library: the binary's `serve` and `check`
//! commands, usable in-process by the end-to-end tests.

pub mod alerting;
pub mod alertmanager_builtin;
pub mod alertmanager_check;
mod backend;
pub mod backfill;
pub mod check_config;
pub mod check_plugins;
pub mod check_rules;
mod config_source;
pub mod discovery;
pub mod remote_storage;
pub mod scrape_targets;
pub mod serve;
pub mod test_promql;
