//! `wasmetheus-tsdb`: the storage engine — series, postings index, head
//! chunks, write-ahead log, the sled store of sealed chunks, compaction,
//! retention and backfill. It knows nothing of HTTP, PromQL or wasm; the
//! query side reaches it through the storage traits of `wasmetheus-model`.

pub mod backfill;
pub mod chunk;
mod db;
mod head;
mod index;
mod iter;
pub mod sealed;
pub mod store;
mod varint;
pub mod wal;
mod wal_codec;
pub mod wal_reader;

pub use db::{
    CompactionStats, DEFAULT_BLOCK_RANGE_MS, DEFAULT_RETENTION_MS, Db, DbError, DbOptions,
};
pub use head::{Head, HeadAppender, HeadLimits, HeadStats};
