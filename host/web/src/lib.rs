//! `wasmetheus-web`: the security of the server's own HTTP listener, as
//! `--web.config.file` configures it in Prometheus (the exporter toolkit's
//! format, `docs/web-configuration.md`): TLS with certificates re-read for
//! new connections, client certificates (mutual TLS), basic authentication
//! against bcrypt hashes, extra response headers and a rate limit.
//!
//! - [`config`]: the file format, defaults and the toolkit's validation.
//! - [`tls`]: a rustls server configuration from `tls_server_config`.
//! - [`auth`]: bcrypt hashes, the result cache, `Authorization: Basic`.
//! - [`WebSecurity`]: the file in force, re-read as the toolkit re-reads
//!   it (for every new TLS connection and every request), and
//!   [`WebSecurity::layer`]'s middleware that every route sits behind.

pub mod auth;
pub mod config;
mod guard;
pub mod tls;

pub use config::WebConfig;
pub use guard::{AcceptError, WebSecurity};

use std::path::PathBuf;

/// Why a web configuration cannot be used. The texts are the exporter
/// toolkit's where it has one (`promtool check web-config` prints them).
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// Not YAML of the expected shape.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Yaml {
        path: PathBuf,
        line: u64,
        column: u64,
        message: String,
    },
    /// The file itself cannot be read.
    #[error("open {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    /// A value the toolkit refuses (its message).
    #[error("{0}")]
    Invalid(String),
}

/// An I/O error worded as Go's (`no such file or directory`), without
/// Rust's `(os error N)`.
pub(crate) use wasmetheus_model::go::io_error_text as go_io_error;

/// Validates a web config file as `promtool check web-config` does: the
/// YAML, the headers, the password hashes, and (if TLS is on) that the
/// certificate and key load and the client settings are consistent.
pub fn validate_file(path: &std::path::Path) -> Result<(), WebConfigError> {
    let config = WebConfig::load(path)?;
    if config.tls_server_config.is_enabled() {
        tls::build(&config.tls_server_config, config.http_server_config.http2)?;
    }
    Ok(())
}

/// `check web-config FILE...`: promtool's lines (`<file> SUCCESS`,
/// `<file> FAILED: <error>`) written to `out` (promtool's standard
/// error); whether every file passed.
pub fn check_files(files: &[PathBuf], out: &mut dyn std::io::Write) -> bool {
    let mut passed = true;
    for file in files {
        let _ = match validate_file(file) {
            Ok(()) => writeln!(out, "{} SUCCESS", file.display()),
            Err(e) => {
                passed = false;
                writeln!(out, "{} FAILED: {e}", file.display())
            }
        };
    }
    passed
}
