//! `wasmetheus-model`: labels, samples, metric families and the exposition
//! formats (Prometheus text 0.0.4 and OpenMetrics 1.0), plus the traits the
//! rest of the host uses to pass metrics around.
//!
//! This crate does no IO and knows nothing of async, HTTP, storage or wasm;
//! every other host crate may depend on it, it depends on none of them.

mod family;
pub mod go;
pub mod histogram;
pub mod openmetrics;
mod redact;
mod stale;
pub mod storage;
pub mod text;
pub mod validate;

pub use family::{
    Bucket, Histogram, Label, Metric, MetricFamily, MetricKind, MetricValue, Quantile, Sample,
    Summary,
};
pub use redact::redact_url;
pub use text::{Exemplar, Exposition, FamilyMetadata, ParseError};
pub use validate::{Limits, SeriesProblem, ValidationError, flatten, validate};
