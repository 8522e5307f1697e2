//! `wasmetheus-tsdb`: the storage engine — series, postings index, head
//! chunks, write-ahead log. It knows nothing of HTTP, PromQL or wasm; the
//! query side reaches it through the storage traits of `wasmetheus-model`.

pub mod chunk;
mod head;
mod index;
pub mod wal;

pub use head::{Head, HeadAppender, HeadLimits, HeadStats};
