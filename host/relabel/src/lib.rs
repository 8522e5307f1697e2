//! `wasmetheus-relabel`: Prometheus' relabeling (`relabel_configs`,
//! `metric_relabel_configs`, …). The crate knows nothing of scraping or
//! configuration files: the config crate reads rules into
//! [`RelabelConfig`]s, and scraping, service discovery and alerting apply
//! them with [`relabel`].

mod config;

pub use config::{Action, NameValidationScheme, RelabelConfig, RelabelRegex, relabel};
