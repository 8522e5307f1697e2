//! The YAML source text of a configuration file: reading it as Prometheus
//! does (errors in Go's words, positioned as `file:line:col`), and finding
//! where a key sits for checks made after deserialization.

use crate::go_yaml::go_quote;
use std::path::{Path, PathBuf};

/// What went wrong loading a configuration file. Every variant that concerns
/// the file's content carries `file:line:col` in its message.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Prometheus' own text is `parsing YAML file <path>: <message>`; the
    /// position comes first.
    #[error("{path}:{line}:{column}: parsing YAML file {path}: {message}", path = path.display())]
    Invalid {
        path: PathBuf,
        line: u64,
        column: u64,
        message: String,
    },
}

/// Reads YAML as Prometheus reads it: an empty file is an empty
/// configuration; errors in Go's words where they differ (see
/// [`crate::go_yaml`]), positioned.
pub fn parse_yaml<T: serde::de::DeserializeOwned>(
    text: &str,
    path: &Path,
) -> Result<T, ConfigError> {
    // Comments are not needed, and buffering them costs budget (a long
    // commented-out block would otherwise fail to load).
    let options = serde_saphyr::options! { emit_comments: false };
    let result = if text.trim().is_empty() {
        serde_saphyr::from_str_with_options("{}", options)
    } else {
        serde_saphyr::from_str_with_options(text, options)
    };
    result.map_err(|e| {
        let location = e.location();
        ConfigError::Invalid {
            path: path.to_owned(),
            line: location.map_or(1, |l| l.line()),
            column: location.map_or(1, |l| l.column()),
            message: crate::go_yaml::go_error(&e, text)
                .unwrap_or_else(|| crate::go_yaml::bare_message(&e)),
        }
    })
}

/// What to look for to point at a scrape config: its `job_name` line,
/// however the name is quoted.
pub(crate) fn job_needle(text: &str, job: &str) -> String {
    [
        format!("job_name: {job}"),
        format!("job_name: '{job}'"),
        format!("job_name: \"{job}\""),
        format!("job_name: {}", go_quote(job)),
    ]
    .into_iter()
    .find(|needle| text.contains(needle.as_str()))
    .unwrap_or_else(|| "job_name:".to_owned())
}

/// [`locate`] of the second occurrence of `needle` (a repeated name), or
/// the first if there is no second.
pub(crate) fn locate_again(text: &str, needle: &str) -> (u64, u64) {
    match text.find(needle) {
        Some(first) => match text[first + 1..].find(needle) {
            Some(second) => {
                let offset = first + 1 + second;
                let before = &text[..offset];
                let line = before.matches('\n').count() + 1;
                let column = offset - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                (line as u64, column as u64)
            }
            None => locate(text, needle),
        },
        None => (1, 1),
    }
}

/// The 1-based line and column of the first occurrence of `needle`, for
/// checks made after deserialization (the YAML positions are gone by then).
pub(crate) fn locate(text: &str, needle: &str) -> (u64, u64) {
    match text.find(needle) {
        Some(offset) => {
            let before = &text[..offset];
            let line = before.matches('\n').count() + 1;
            let column = offset - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            (line as u64, column as u64)
        }
        None => (1, 1),
    }
}
