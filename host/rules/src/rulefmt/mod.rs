//! Rule files as Prometheus 3's `model/rulefmt` reads them: groups of
//! recording and alerting rules in YAML, Go's reading of empty values,
//! unknown fields refused unless ignored, and every rule validated
//! (`record`/`alert`, the PromQL of `expr`, the fields a recording rule may
//! not have, label and annotation names, alert templates) with
//! Prometheus' texts and `line:col` positions.
//!
//! [`parse`] reads text, [`parse_file`] a file (errors then start with the
//! file name, as `rulefmt.ParseFile`'s). [`duplicate_rules`] is promtool's
//! `duplicate-rules` lint.

mod validate;
mod yaml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use wasmetheus_model::Label;

/// How a rule file is read.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// `--ignore-unknown-fields`: fields of one's own in groups and rules
    /// are allowed (and ignored).
    pub ignore_unknown_fields: bool,
}

/// A `line:col` in a rule file (1-based; `0:0` for a node that is absent,
/// as Go's zero `yaml.Node`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A parsed and validated rule file (`rulefmt.RuleGroups`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleFile {
    pub groups: Vec<RuleGroup>,
}

/// One group of a rule file (`rulefmt.RuleGroup`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleGroup {
    pub name: String,
    /// `None` (or zero in the file): the global evaluation interval.
    pub interval: Option<Duration>,
    /// `None`: the global `rule_query_offset`.
    pub query_offset: Option<Duration>,
    /// The most series a rule of the group may produce; 0 (or negative):
    /// no limit.
    pub limit: i64,
    /// Sorted by name.
    pub labels: Vec<Label>,
    pub rules: Vec<Rule>,
    /// Where the group starts in the file.
    pub position: Position,
}

/// One rule (`rulefmt.Rule`): recording when `record` is set, alerting
/// when `alert` is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rule {
    pub record: String,
    pub alert: String,
    pub expr: String,
    pub for_: Duration,
    pub keep_firing_for: Duration,
    /// Sorted by name.
    pub labels: Vec<Label>,
    /// Sorted by name.
    pub annotations: Vec<Label>,
}

impl Rule {
    /// The alert name, else the recorded name (as upstream names a rule in
    /// its errors).
    pub fn name(&self) -> &str {
        if self.alert.is_empty() {
            &self.record
        } else {
            &self.alert
        }
    }
}

/// One error of a rule file: `FILE: message`, Prometheus' text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", file.display())]
pub struct Error {
    pub file: PathBuf,
    /// The text after the file name (`line:col: group "g", rule 1, …`).
    pub message: String,
}

/// Parses and validates a rule file's `text` as `rulefmt.Parse`; `file`
/// names it in the errors. Every error found is returned.
pub fn parse(text: &str, file: &Path, opts: &ParseOptions) -> Result<RuleFile, Vec<Error>> {
    parse_text(text, file, opts).map_err(|messages| {
        messages
            .into_iter()
            .map(|message| Error {
                file: file.to_owned(),
                message,
            })
            .collect()
    })
}

/// Reads and parses the rule file at `path` (`rulefmt.ParseFile`). Only a
/// regular file is read: a FIFO or device matched by a glob would block;
/// and at most [`MAX_RULE_FILE_BYTES`] of it.
pub fn parse_file(path: &Path, opts: &ParseOptions) -> Result<RuleFile, Vec<Error>> {
    let error = |message: String| {
        vec![Error {
            file: path.to_owned(),
            message,
        }]
    };
    let metadata = std::fs::metadata(path)
        .map_err(|e| error(wasmetheus_model::go::path_error("open", path, &e)))?;
    if !metadata.is_file() {
        return Err(error(format!(
            "read {}: not a regular file",
            path.display()
        )));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| {
            std::io::Read::read_to_end(
                &mut std::io::Read::take(file, MAX_RULE_FILE_BYTES + 1),
                &mut bytes,
            )
        })
        .map_err(|e| error(wasmetheus_model::go::path_error("read", path, &e)))?;
    if bytes.len() as u64 > MAX_RULE_FILE_BYTES {
        return Err(error(format!(
            "read {}: the rule file is larger than {}, the most a rule file may have",
            path.display(),
            wasmetheus_config::Base2Bytes(MAX_RULE_FILE_BYTES as i64)
        )));
    }
    parse(&String::from_utf8_lossy(&bytes), path, opts)
}

/// The largest rule file [`parse_file`] reads (32 MiB): Prometheus reads
/// any size, but a larger file is more likely a mistake (a glob matching
/// a data file) than rules, and its YAML would take many times its size
/// in memory. A larger file is an error naming it and the limit.
pub const MAX_RULE_FILE_BYTES: u64 = 32 << 20;

fn parse_text(text: &str, file: &Path, opts: &ParseOptions) -> Result<RuleFile, Vec<String>> {
    let first = yaml::first_document(text);
    if first.len() < text.len() {
        tracing::warn!(
            file = %file.display(),
            "The rule file has more than one YAML document; only the first is read"
        );
    }
    let text = first;
    let file: yaml::RuleFileYaml = if text.trim().is_empty() {
        yaml::RuleFileYaml::default()
    } else {
        if !opts.ignore_unknown_fields {
            let known = yaml::read::<yaml::KnownFields>(text).map_err(|e| vec![e])?;
            if !known.unknown.is_empty() {
                return Err(known.unknown);
            }
        }
        yaml::read(text).map_err(|e| vec![e])?
    };
    let (file, errors) = validate::validate(file, text);
    if errors.is_empty() {
        Ok(file)
    } else {
        Err(errors)
    }
}

/// A rule that records the same series as another of its file: its name
/// and labels (group labels under rule labels).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DuplicateRule {
    pub metric: String,
    pub labels: Vec<Label>,
}

/// promtool's `checkDuplicates`: rules of `file` with the same name and
/// labels, each reported once, sorted.
pub fn duplicate_rules(file: &RuleFile) -> Vec<DuplicateRule> {
    let mut all: Vec<DuplicateRule> = Vec::new();
    for group in &file.groups {
        for rule in &group.rules {
            let mut merged: BTreeMap<&str, &str> = group
                .labels
                .iter()
                .map(|l| (l.name.as_str(), l.value.as_str()))
                .collect();
            merged.extend(
                rule.labels
                    .iter()
                    .map(|l| (l.name.as_str(), l.value.as_str())),
            );
            all.push(DuplicateRule {
                metric: rule.name().to_owned(),
                labels: merged.into_iter().map(|(n, v)| Label::new(n, v)).collect(),
            });
        }
    }
    all.sort();
    let mut duplicates: Vec<DuplicateRule> = Vec::new();
    for pair in all.windows(2) {
        if pair[0] == pair[1] && duplicates.last() != Some(&pair[1]) {
            duplicates.push(pair[1].clone());
        }
    }
    duplicates
}

/// promtool's lint text for [`duplicate_rules`]' findings (without the
/// leading `lint error `).
pub fn duplicate_rules_message(duplicates: &[DuplicateRule]) -> String {
    let mut message = format!("{} duplicate rule(s) found.\n", duplicates.len());
    for duplicate in duplicates {
        message.push_str(&format!("Metric: {}\nLabel(s):\n", duplicate.metric));
        for label in &duplicate.labels {
            message.push_str(&format!("\t{}: {}\n", label.name, label.value));
        }
    }
    message.push_str("Might cause inconsistency while recording expressions");
    message
}
