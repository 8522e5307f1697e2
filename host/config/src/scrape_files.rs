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
            let included: ScrapeConfigs = crate::file::parse_yaml(&text, &file)?;
            warnings.extend(crate::not_in_effect::warnings_once(
                &text,
                &file,
                &mut reported,
            ));
            let shown = absolute(&file);
            // An included file's relative paths are relative to its own
            // directory, as in Prometheus.
            let dir = crate::file::go_dir(&file);
            for scrape in included.scrape_configs {
                let invalid = |needle: &str, message: String| {
                    let (line, column) = crate::file::locate(&text, needle);
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
                let needle = |job: &str| crate::file::job_needle(&text, job);
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

/// Go's `filepath.Glob` for patterns whose wildcards are in the last
/// element only (which [`check_pattern`] guarantees for `*`; `?` and `[`
/// elsewhere are matched literally by directory): the sorted regular files
/// matching it.
fn glob_files(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let name = pattern
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = pattern.parent().unwrap_or(Path::new(""));
    if !name.contains(['*', '?', '[']) {
        return Ok(if pattern.is_file() {
            vec![pattern.to_owned()]
        } else {
            Vec::new()
        });
    }
    if !crate::rule_files::is_valid_glob(&name) {
        return Err("syntax error in pattern".into());
    }
    let listing = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = std::fs::read_dir(listing) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| glob_match(&name, &e.file_name().to_string_lossy()))
        .map(|e| dir.join(e.file_name()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// Go's `filepath.Match` on one path element (a valid pattern).
fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matching with backtracking on the last `*`.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' if n[ni] != '/' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class_match(&p, pi, n[ni])
                        && matched
                    {
                        pi = next;
                        ni += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() && p[pi + 1] == n[ni] => {
                    pi += 2;
                    ni += 1;
                    continue;
                }
                c if c != '\\' && c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) if n[sn] != '/' => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            _ => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A `[...]` class at `p[start]`: whether `c` is in it, and where the
/// pattern goes on.
fn class_match(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negated = p.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let ch = *p.get(i)?;
        if ch == ']' && !first {
            return Some((matched != negated, i + 1));
        }
        first = false;
        let lo = if ch == '\\' {
            i += 1;
            *p.get(i)?
        } else {
            ch
        };
        i += 1;
        let mut hi = lo;
        if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|x| *x != ']') {
            i += 1;
            hi = if p[i] == '\\' {
                i += 1;
                *p.get(i)?
            } else {
                p[i]
            };
            i += 1;
        }
        if lo <= c && c <= hi {
            matched = true;
        }
    }
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
        assert!(glob_match("*.yml", "a.yml"));
        assert!(!glob_match("*.yml", "a.yaml"));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("[a-c]x", "bx"));
        assert!(!glob_match("[^a-c]x", "bx"));
        assert!(glob_match("*", ""));
    }
}
