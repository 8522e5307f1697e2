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
}
