//! `wasmetheus-http-client`: Prometheus common's HTTP client for our
//! configuration type, shared by every part that makes requests (scrapes,
//! HTTP service discovery, the notifier).
//!
//! [`Settings::from_config`] takes what it implements of an
//! `HttpClientConfig` — `tls_config` (one rustls builder: CA, client
//! certificate and key, files or inline, `server_name`,
//! `insecure_skip_verify`, `min_version`/`max_version`), `basic_auth`,
//! `authorization` (and `bearer_token*`) and `http_headers` (values,
//! secrets and files) — and [`unsupported`] names the first setting it
//! does not (`oauth2`, proxies, `*_ref` secret references, a
//! `max_version` below TLS 1.2).
//! [`Settings::request_headers`] gives a request's headers, every secret
//! or header file read at that moment (so rotated secrets are picked up)
//! through the one bounded read of [`file`], on the blocking pool.
//! [`Client`] sends a request over a fresh HTTP/1.1 connection, plain or
//! TLS; [`Endpoint`] is one for a remote storage URL with its fixed
//! headers (`endpoint.rs`). Redirects are not followed and HTTP/2 is not spoken
//! (`follow_redirects` and `enable_http2` are read but not acted on).
//!
//! Files: `file.rs` the bounded file read, `auth.rs` the `Authorization`
//! header's sources, `tls.rs` the TLS configuration, `settings.rs` the
//! settings and their headers, `client.rs` the connection and request.

mod auth;
mod client;
mod endpoint;
pub mod file;
mod settings;
mod tls;

pub use auth::{Auth, SecretSource};
pub use client::Client;
pub use endpoint::Endpoint;
pub use settings::{HeaderSource, Settings, unsupported};
pub use tls::{Pem, TlsSettings, TlsVersion};

/// Why a client cannot be built or a request not be made. The texts say
/// which setting or file to fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A secret or header file cannot be used; `field` is the setting it
    /// is configured in.
    #[error("unable to read {field} {path}: {source}")]
    File {
        field: &'static str,
        path: String,
        #[source]
        source: file::FileError,
    },
    /// The TLS settings cannot be used (texts start with Prometheus').
    #[error("{0}")]
    Tls(String),
    /// An `http_headers` entry (or a credential) cannot be a header.
    #[error("header {name:?}: {reason}")]
    Header { name: String, reason: String },
    /// The request failed (texts in the words of Go's transport where it
    /// has them).
    #[error("{0}")]
    Transport(String),
}
