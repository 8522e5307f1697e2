//! Where the configuration comes from — a file, or the built-in default —
//! read at start and again on every reload. Both `serve` (which picks it)
//! and the backend (which reloads from it) use it; neither owns it.

use std::path::PathBuf;
use wasmetheus_config::Config;

/// The configuration used without `--config.file`.
pub(crate) const DEFAULT_CONFIG: &str = include_str!("default-config.yml");

/// Where the configuration comes from; reload reads it again.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    File(PathBuf),
    BuiltIn,
}

impl ConfigSource {
    pub fn load(&self) -> Result<Config, wasmetheus_config::ConfigError> {
        match self {
            ConfigSource::File(path) => Config::load(path),
            ConfigSource::BuiltIn => Config::parse(
                DEFAULT_CONFIG,
                std::path::Path::new("<built-in default config>"),
            ),
        }
    }

    /// Prometheus' text for a configuration that loaded but that a part
    /// of the server could not apply.
    pub fn apply_error(&self) -> String {
        let file = match self {
            ConfigSource::File(path) => path.display().to_string(),
            ConfigSource::BuiltIn => String::new(),
        };
        format!(
            "one or more errors occurred while applying the new configuration (--config.file={file:?})"
        )
    }
}
