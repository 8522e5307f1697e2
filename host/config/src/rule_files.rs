//! `rule_files`: glob patterns of rule files, checked as Prometheus checks
//! them (only the last path element may hold `*`; the pattern must be a
//! valid `filepath.Glob` pattern).

use serde::{Deserialize, Serialize};

/// One `rule_files` entry: a file name or a glob pattern, relative to the
/// configuration file's directory unless absolute.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String")]
pub struct RuleFilePattern(pub String);

impl TryFrom<String> for RuleFilePattern {
    type Error = String;

    fn try_from(pattern: String) -> Result<Self, String> {
        // Prometheus' `patRulePath`, `^[^*]*(\*[^/]*)?$`: nothing after the
        // first `*` may be another directory.
        let valid_path = match pattern.find('*') {
            None => true,
            Some(star) => !pattern[star + 1..].contains('/'),
        };
        if !valid_path {
            return Err(format!("invalid rule file path {pattern:?}"));
        }
        // Prometheus only finds a bad pattern when it globs on (re)load;
        // checking here reports it with the file's position instead.
        if !is_valid_glob(&pattern) {
            return Err(format!(
                "error retrieving rule files for {pattern}: syntax error in pattern"
            ));
        }
        Ok(RuleFilePattern(pattern))
    }
}

/// Whether Go's `filepath.Match` accepts `pattern` (the one Go glob,
/// [`crate::glob`]).
pub(crate) fn is_valid_glob(pattern: &str) -> bool {
    crate::glob::validate(pattern).is_ok()
}

#[cfg(test)]
mod tests {
    use super::is_valid_glob;

    #[test]
    fn globs_are_checked_like_go() {
        for good in [
            "rules.yml",
            "rules/*.yml",
            "r?.yml",
            "[ab].yml",
            "[^a-c].yml",
            "\\*.yml",
            "[\\]].yml",
        ] {
            assert!(is_valid_glob(good), "{good}");
        }
        for bad in ["[", "[a", "[]a]", "[-a]", "[a-]", "x\\", "[a-", "[^]"] {
            assert!(!is_valid_glob(bad), "{bad}");
        }
    }
}
