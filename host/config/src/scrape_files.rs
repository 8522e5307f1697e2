//! `scrape_config_files`: further scrape configs read from files named by
//! glob patterns (relative to the configuration file's directory), as
//! Prometheus' `GetScrapeConfigs` reads them: only a `scrape_configs` key,
//! each config completed with the main file's `global` section, job names
//! unique across all files.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::go_yaml::{go_quote, null_as_default};
use crate::scrape::ScrapeConfig;
use crate::{Config, ConfigError};

/// At most this many files are read for one configuration, so a pattern
/// like `/**` cannot make a load read the whole disk.
const MAX_FILES: usize = 10_000;

/// An included file: `scrape_configs` only (Go's `config.ScrapeConfigs`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScrapeConfigs {
    #[serde(default, deserialize_with = "null_as_default")]
    scrape_configs: Vec<Option<ScrapeConfig>>,
}

/// Prometheus' check of a pattern as written (`patRulePath`): nothing
/// after the first `*` may be another directory.
pub(crate) fn check_pattern(pattern: &str) -> Result<(), String> {
    let valid = match pattern.find('*') {
        None => true,
        Some(star) => !pattern[star + 1..].contains('/'),
    };
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid scrape config file path {}",
            go_quote(pattern)
        ))
    }
}

/// Reads the scrape configs of every file `config.scrape_config_files`
/// names (already joined with the main file's directory), completed
/// and checked against the main file's jobs. Errors name the included file
/// and its position.
/// Also returns the "parsed, not in effect yet" warnings of the included
/// files, for keys the main file did not already report.
pub(crate) fn load_scrape_config_files(
    config: &Config,
    path: &Path,
) -> Result<(Vec<ScrapeConfig>, Vec<String>), ConfigError> {
    let main_text = std::fs::read_to_string(path).unwrap_or_default();
    let mut reported = std::collections::HashSet::new();
    crate::not_in_effect::warnings_once(&main_text, path, &mut reported);
    let mut warnings = Vec::new();
    let mut jobs: std::collections::HashMap<String, String> = config
        .scrape_configs
        .iter()
        .map(|s| (s.job_name.clone(), "main config file".to_owned()))
        .collect();
    let mut found = Vec::new();
    let mut files_read = 0;
    // The patterns were joined with the main file's directory when it was
    // loaded (`Config::set_directory`).
    for pattern in &config.scrape_config_files {
        let joined = Path::new(pattern);
        let files = glob_files(joined).map_err(|message| ConfigError::Invalid {
            path: path.to_owned(),
            line: 1,
            column: 1,
            message: format!(
                "error retrieving scrape config files for {}: {message}",
                go_quote(&joined.to_string_lossy())
            ),
        })?;
        for file in files {
            files_read += 1;
            if files_read > MAX_FILES {
                return Err(ConfigError::Invalid {
                    path: file,
                    line: 1,
                    column: 1,
                    message: format!(
                        "scrape_config_files name more than {MAX_FILES} files; narrow the patterns"
                    ),
                });
            }
            let text = std::fs::read_to_string(&file).map_err(|source| ConfigError::Read {
                path: file.clone(),
                source,
            })?;
            let included: ScrapeConfigs = crate::source::parse_yaml(&text, &file)?;
            warnings.extend(crate::not_in_effect::warnings_once(
                &text,
                &file,
                &mut reported,
            ));
            let shown = absolute(&file);
            // An included file's relative paths are relative to its own
            // directory, as in Prometheus.
            let dir = crate::glob::go_dir(&file);
            for scrape in included.scrape_configs {
                let invalid = |needle: &str, message: String| {
                    let (line, column) = crate::source::locate(&text, needle);
                    ConfigError::Invalid {
                        path: file.clone(),
                        line,
                        column,
                        message,
                    }
                };
                let Some(mut scrape) = scrape else {
                    return Err(invalid(
                        "scrape_configs",
                        "empty or null scrape config section".into(),
                    ));
                };
                // Positions are looked up only for an error.
                let needle = |job: &str| crate::source::job_needle(&text, job);
                if let Err(message) = scrape.complete(&config.global) {
                    return Err(invalid(&needle(&scrape.job_name), message));
                }
                if let Some(first) = jobs.get(&scrape.job_name) {
                    return Err(invalid(
                        &needle(&scrape.job_name),
                        format!(
                            "found multiple scrape configs with job name {}, first found in {first}",
                            go_quote(&scrape.job_name)
                        ),
                    ));
                }
                jobs.insert(scrape.job_name.clone(), go_quote(&shown));
                scrape.set_directory(&dir);
                found.push(scrape);
            }
        }
    }
    Ok((found, warnings))
}

fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_owned())
        .to_string_lossy()
        .into_owned()
}

/// Go's `filepath.Glob` ([`crate::glob::glob`]), keeping the regular
/// files: a FIFO or a device matched by a pattern would block the load.
fn glob_files(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let found = crate::glob::glob(&pattern.to_string_lossy()).map_err(|e| e.to_string())?;
    Ok(found.into_iter().filter(|p| p.is_file()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_matching() {
        assert!(check_pattern("scrape_configs/*.yml").is_ok());
        assert_eq!(
            check_pattern("scrape_configs/*/*").unwrap_err(),
            r#"invalid scrape config file path "scrape_configs/*/*""#
        );
        assert_eq!(
            glob_files(Path::new("scrape_configs/[.yml")).unwrap_err(),
            "syntax error in pattern"
        );
    }
}
