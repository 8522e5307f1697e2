//! `wasmetheus-scrape`: runs every target on its interval (with a stable
//! per-target offset, so targets do not all fire at once), adds the target
//! labels and the synthetic `up`/`scrape_*` series, and keeps the result.
//!
//! It reaches plugin instances only through the [`Transport`] trait and
//! knows nothing of wasm. Samples go to a `Storage` through each target's
//! scrape cache; the last outcome of every target (health, error, metadata,
//! the `up`/`scrape_*` values) is kept in memory ([`LatestStore`]).

mod align;
mod cache;
pub mod http;
mod key;
mod manager;
mod store;

pub use align::DEFAULT_TOLERANCE as DEFAULT_TIMESTAMP_TOLERANCE;
pub use manager::{
    ScrapeManager, ScrapeOptions, SharedStorage, Target, Transport, TransportFuture,
};
pub use store::{LatestStore, TargetHealth, TargetState};
