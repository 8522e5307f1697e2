//! Prometheus' protobuf messages, written as `prost` structs (no `protoc`
//! at build time), and the framing around them:
//!
//! - [`types`] and [`remote`]: the `prometheus` package of `prompb`
//!   (remote write 1.0's `WriteRequest`, remote read's `ReadRequest`,
//!   `ReadResponse` and `ChunkedReadResponse`);
//! - [`write_v2`]: `io.prometheus.write.v2.Request` (remote write 2.0);
//! - [`client`]: `io.prometheus.client`'s `MetricFamily` (the protobuf
//!   exposition format, as pushed to a Pushgateway);
//! - [`codec`]: bounded snappy block decoding, and the length-delimited
//!   frames of streamed remote read and of the delimited exposition format.
//!
//! Field numbers follow upstream's `.proto` files; a test per message
//! checks the wire bytes of a hand-encoded example.

pub mod client;
pub mod codec;
pub mod remote;
pub mod types;
pub mod write_v2;

pub use prost::Message;

/// `Content-Type` of a remote write 1.0 request.
pub const CONTENT_TYPE_V1: &str = "application/x-protobuf";
/// `Content-Type` of a remote write 2.0 request.
pub const CONTENT_TYPE_V2: &str = "application/x-protobuf;proto=io.prometheus.write.v2.Request";
/// `X-Prometheus-Remote-Write-Version` sent with 1.0 messages.
pub const VERSION_V1: &str = "0.1.0";
/// `X-Prometheus-Remote-Write-Version` sent with 2.0 messages.
pub const VERSION_V2: &str = "2.0.0";
/// `Content-Type` of a streamed remote read answer.
pub const CONTENT_TYPE_STREAMED: &str =
    "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";
