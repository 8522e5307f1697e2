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
//! Beyond or unlike Alertmanager: receivers are plugins opened from
//! `<plugins dir>/<kind>-receiver.wasm`, reaching only what their
//! configuration names (plus [`ServiceOptions::plugin_grants`]), one
//! call at a time per integration (groups flushing together take turns
//! within their flush's deadline, where upstream sends concurrently);
//! `*_file` secrets (`url_file`, `api_url_file`, …) are read at each
//! (re)load, where upstream reads some at each notification; alerts
//! survive a restart; there is no clustering (`cluster.status`
//! `disabled`); a group's `mutedBy` is worked out when asked rather than
//! recorded at its last flush.
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
