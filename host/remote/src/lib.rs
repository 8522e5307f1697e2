//! Remote storage endpoints and the remote read client:
//!
//! - [`receiver`]: `POST /api/v1/write`, remote write 1.0 and 2.0 into
//!   local storage, all or nothing;
//! - [`read`]: `POST /api/v1/read`, sampled and streamed (XOR chunks)
//!   answers from local storage;
//! - [`client`]: the `remote_read` client and the queryable merging its
//!   series with local ones;
//! - [`budget`]: the bound on how much memory decoding a protobuf body may
//!   take, checked before decoding.
//!
//! The HTTP layer (host/api) negotiates and reads bodies and calls these;
//! the storage comes in through the model's `Storage`/`Queryable` traits,
//! and the TSDB's chunk encoder as a [`read::ChunkEncoder`].

pub mod budget;
pub mod client;
pub mod read;
pub mod receiver;
