//! `wasmetheus-alertmanager-service`: the running Alertmanager that both
//! `serve --alertmanager.config.file` and `wasmetheus alertmanager` start.
//!
//! [`Service::start`] loads alertmanager.yml, opens the sled state
//! ([`wasmetheus_alertmanager::State`]), opens one receiver plugin sender
//! per configured integration and runs the dispatcher, the inhibitor's
//! feed and the state's maintenance. [`Service::backend`] is the API v2
//! backend ([`wasmetheus_api::AlertmanagerBackend`]); [`Service::reload`]
//! swaps in a new configuration (or keeps the old one and reports why);
//! [`Service::metrics`] gives Alertmanager's `alertmanager_*` families.
//!
//! Files: `service.rs` (start, reload, shutdown), `error.rs`,
//! `backend.rs` (the API backend), `integration.rs` (integrations over
//! receiver plugins), `metrics.rs` (metric families).

mod backend;
mod error;
mod integration;
mod metrics;
mod service;

pub use error::ServiceError;
pub use service::{Service, ServiceOptions};
