//! Rule files into groups (Prometheus' `Manager.LoadGroups`): each file
//! parsed by [`rulefmt`](crate::rulefmt), each group with its interval
//! (or the default), limit and query offset, each rule's expression in
//! canonical PromQL and group labels under its own.

use std::path::PathBuf;
use std::time::Duration;

use wasmetheus_model::Label;

use crate::alerting::{AlertingRule, AlertingRuleSpec};
use crate::evaluate::Rule;
use crate::group::Group;
use crate::recording::RecordingRule;
use crate::rule::merge_labels;
use crate::rulefmt::{self, ParseOptions};

/// How rule files become groups.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `global.evaluation_interval`: the interval of groups without one.
    pub default_interval: Duration,
    /// `global.rule_query_offset`.
    pub default_query_offset: Duration,
    /// `global.external_labels`, for `$externalLabels` in templates.
    pub external_labels: Vec<Label>,
    /// `--web.external-url`, for `$externalURL`.
    pub external_url: String,
    /// `--ignore-unknown-fields`.
    pub ignore_unknown_fields: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            default_interval: Duration::from_secs(60),
            default_query_offset: Duration::ZERO,
            external_labels: Vec::new(),
            external_url: String::new(),
            ignore_unknown_fields: false,
        }
    }
}

/// Why rule files did not load: every error of every file, each
/// `FILE: message` as Prometheus prints it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct LoadError {
    pub errors: Vec<rulefmt::Error>,
}

/// The rule files of `rule_files` patterns (already joined with the
/// configuration's directory, as `Config::load` leaves them): each
/// pattern's matches in Go's `filepath.Glob` order, patterns in order (a
/// file matched twice is listed twice, as Prometheus lists it). A pattern
/// matching nothing adds nothing; a malformed one is Prometheus' error.
pub fn rule_files(patterns: &[wasmetheus_config::RuleFilePattern]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for pattern in patterns {
        let found = wasmetheus_config::glob::glob(&pattern.0).map_err(|_| {
            format!(
                "error retrieving rule files for {}: syntax error in pattern",
                pattern.0
            )
        })?;
        files.extend(found);
    }
    Ok(files)
}

/// Loads `files` into groups: file order, then each file's group order.
/// Alerting rules write `ALERTS` from their first evaluation (no for-state
/// to restore).
pub fn load_groups(files: &[PathBuf], opts: &LoadOptions) -> Result<Vec<Group>, LoadError> {
    load_groups_restoring(files, opts, false)
}

/// [`load_groups`] with alerting rules that wait for
/// [`Group::restore_for_state`] before writing `ALERTS` when
/// `should_restore`.
pub fn load_groups_restoring(
    files: &[PathBuf],
    opts: &LoadOptions,
    should_restore: bool,
) -> Result<Vec<Group>, LoadError> {
    let parse = ParseOptions {
        ignore_unknown_fields: opts.ignore_unknown_fields,
    };
    let mut groups = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        let parsed = match rulefmt::parse_file(file, &parse) {
            Ok(parsed) => parsed,
            Err(e) => {
                errors.extend(e);
                continue;
            }
        };
        for group in parsed.groups {
            let mut rules = Vec::with_capacity(group.rules.len());
            for rule in &group.rules {
                let query = match wasmetheus_promql::parser::parse(&rule.expr) {
                    Ok(expr) => wasmetheus_promql::printer::format(&expr),
                    Err(e) => {
                        errors.push(rulefmt::Error {
                            file: file.clone(),
                            message: e.to_string(),
                        });
                        continue;
                    }
                };
                let labels = merge_labels(&group.labels, &rule.labels);
                if rule.alert.is_empty() {
                    rules.push(Rule::Recording(RecordingRule::new(
                        &rule.record,
                        &query,
                        labels,
                    )));
                } else {
                    rules.push(Rule::Alerting(AlertingRule::new(AlertingRuleSpec {
                        name: rule.alert.clone(),
                        query,
                        hold: rule.for_,
                        keep_firing_for: rule.keep_firing_for,
                        labels,
                        annotations: rule.annotations.clone(),
                        external_labels: opts.external_labels.clone(),
                        external_url: opts.external_url.clone(),
                        restored: !should_restore,
                    })));
                }
            }
            groups.push(Group::new(
                &group.name,
                file,
                group.interval.unwrap_or(opts.default_interval),
                group.limit,
                group.query_offset,
                opts.default_query_offset,
                rules,
            ));
        }
    }
    if errors.is_empty() {
        Ok(groups)
    } else {
        Err(LoadError { errors })
    }
}
