//! The end-to-end tests, as one test binary: each module was its own
//! binary before, and every binary links the whole server (wasmtime,
//! cranelift, kube, …), ~180 MB and a link each. Tests of all modules run
//! concurrently, so none may depend on running alone: every server, peer
//! and fixture listens on a port the kernel chose and keeps its files in
//! its own temporary directory.
//!
//! New end-to-end tests go in a module here, not in a new file beside
//! `it/`, which cargo would build as one more binary.

mod alertmanager_cli;
mod alertmanager_compare;
mod alertmanager_modes;
mod api;
mod api_hostile;
mod api_limits;
mod backfill;
mod check_config;
mod discovery_report;
mod examples;
mod exporters;
mod federation;
mod guests;
mod kubernetes_sd;
mod node_exporter;
mod peers;
mod plugin_secrets;
mod pushgateway;
mod query_cli;
mod receivers;
mod remote_storage;
mod remote_write;
mod rules_cli;
mod rules_peers;
mod runtime;
mod scrape;
mod server;
mod shutdown;
mod web_tls;
