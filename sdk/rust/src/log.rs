//! Logging through the host, tagged with the plugin instance.

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Writes `message` to the host's log; natively, to standard error.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        use crate::bindings::wasmetheus::plugin::types::LogLevel;
        let level = match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        crate::bindings::wasmetheus::plugin::host::log(level, message);
    }
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{level:?}: {message}");
}

pub fn debug(message: &str) {
    log(Level::Debug, message)
}

pub fn info(message: &str) {
    log(Level::Info, message)
}

pub fn warn(message: &str) {
    log(Level::Warn, message)
}

/// Logs at `error` level. Called during `collect`, the message also becomes
/// the instance's `last_collect_error` in `/api/v1/plugins` even when the
/// collect returns metrics: how an exporter that reports its target down
/// (`mysql_up 0`, as the native exporters do) tells the operator why.
pub fn error(message: &str) {
    log(Level::Error, message)
}
