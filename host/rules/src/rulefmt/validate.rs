//! `rulefmt`'s `RuleGroups.Validate` and `Rule.Validate`: group names,
//! `record`/`alert`, the PromQL of `expr`, the fields a recording rule may
//! not have, label and annotation names (Prometheus 3's UTF-8 scheme), and
//! the templates of alerting rules, each error with Prometheus' text and
//! the position(s) upstream reports it at.

use std::collections::{BTreeMap, HashSet};

use serde_saphyr::Spanned;
use wasmetheus_model::Label;

use super::yaml::{GroupYaml, RuleFileYaml, RuleYaml, go_position};
use super::{Position, Rule, RuleFile, RuleGroup};

/// The validated file and every error found (as `line:col: text`, without
/// the file name).
pub(super) fn validate(file: RuleFileYaml, text: &str) -> (RuleFile, Vec<String>) {
    let lines: Vec<&str> = text.lines().collect();
    let text = lines.as_slice();
    let mut errors = Vec::new();
    let mut names = HashSet::new();
    let mut groups = Vec::new();
    for group in file.groups.unwrap_or_default() {
        let at = Position {
            line: group.referenced.line(),
            column: group.referenced.column(),
        };
        groups.push(validate_group(
            group.value,
            at,
            text,
            &mut names,
            &mut errors,
        ));
    }
    (RuleFile { groups }, errors)
}

fn validate_group(
    group: GroupYaml,
    at: Position,
    text: &[&str],
    names: &mut HashSet<String>,
    errors: &mut Vec<String>,
) -> RuleGroup {
    let name = group.name.unwrap_or_default();
    if name.is_empty() {
        errors.push(format!("{at}: Groupname must not be empty"));
    }
    if !names.insert(name.clone()) {
        errors.push(format!(
            "{at}: groupname: \"{name}\" is repeated in the same file"
        ));
    }
    let labels = labels(group.labels);
    for label in &labels {
        if !valid_label_name(&label.name) {
            errors.push(format!("invalid label name: {}", label.name));
        }
    }
    let mut rules = Vec::new();
    for (i, rule) in group.rules.unwrap_or_default().into_iter().enumerate() {
        let (rule, problems) = validate_rule(rule, text);
        for (position, problem) in problems {
            let position = position.map(|p| format!("{p}: ")).unwrap_or_default();
            errors.push(format!(
                "{position}group {}, rule {}, {}: {problem}",
                go_quote(&name),
                i + 1,
                go_quote(rule.name())
            ));
        }
        rules.push(rule);
    }
    RuleGroup {
        name,
        interval: group.interval.map(|d| d.0).filter(|d| !d.is_zero()),
        query_offset: group.query_offset.map(|d| d.0),
        limit: group.limit.unwrap_or_default(),
        labels,
        rules,
        position: at,
    }
}

/// Go's `%q` of a string (the one `strconv.Quote`, in `wasmetheus_model::go`).
use wasmetheus_model::go::quote as go_quote;

/// A YAML map of labels as Go reads it (`null` values are empty), sorted.
fn labels(map: Option<BTreeMap<String, Option<String>>>) -> Vec<Label> {
    map.unwrap_or_default()
        .into_iter()
        .map(|(name, value)| Label::new(name, value.unwrap_or_default()))
        .collect()
}

fn scalar(node: &Option<Spanned<Option<String>>>) -> String {
    node.as_ref()
        .and_then(|n| n.value.clone())
        .unwrap_or_default()
}

fn position(node: &Option<Spanned<Option<String>>>, text: &[&str]) -> Position {
    node.as_ref().map_or(Position::default(), |n| {
        let (line, column) = go_position(text, n.referenced.line(), n.referenced.column());
        Position { line, column }
    })
}

/// Where an error is reported: one position, two (`record` and `alert`),
/// or none.
enum At {
    None,
    One(Position),
    Two(Position, Position),
}

impl At {
    fn render(&self) -> Option<String> {
        match self {
            At::None => None,
            At::One(p) => Some(p.to_string()),
            At::Two(a, b) => Some(format!("{a}: {b}")),
        }
    }
}

/// `Rule.Validate`: the rule and each problem with where it is reported.
fn validate_rule(node: RuleYaml, text: &[&str]) -> (Rule, Vec<(Option<String>, String)>) {
    let position = |n: &Option<Spanned<Option<String>>>| position(n, text);
    let rule = Rule {
        record: scalar(&node.record),
        alert: scalar(&node.alert),
        expr: scalar(&node.expr),
        for_: node.for_.map(|d| d.0).unwrap_or_default(),
        keep_firing_for: node.keep_firing_for.map(|d| d.0).unwrap_or_default(),
        labels: labels(node.labels),
        annotations: labels(node.annotations),
    };
    let mut problems: Vec<(At, String)> = Vec::new();
    let both = At::Two(position(&node.record), position(&node.alert));
    if !rule.record.is_empty() && !rule.alert.is_empty() {
        problems.push((both, "only one of 'record' and 'alert' must be set".into()));
    } else if rule.record.is_empty() && rule.alert.is_empty() {
        problems.push((both, "one of 'record' or 'alert' must be set".into()));
    }
    let expr_at = position(&node.expr);
    if rule.expr.is_empty() {
        problems.push((At::One(expr_at), "field 'expr' must be set in rule".into()));
    } else if let Err(e) = wasmetheus_promql::parser::parse(&rule.expr) {
        problems.push((At::One(expr_at), format!("could not parse expression: {e}")));
    }
    if !rule.record.is_empty() {
        let record_at = position(&node.record);
        if !rule.annotations.is_empty() {
            problems.push((
                At::One(record_at),
                "invalid field 'annotations' in recording rule".into(),
            ));
        }
        if !rule.for_.is_zero() {
            problems.push((
                At::One(record_at),
                "invalid field 'for' in recording rule".into(),
            ));
        }
        if !rule.keep_firing_for.is_zero() {
            problems.push((
                At::One(record_at),
                "invalid field 'keep_firing_for' in recording rule".into(),
            ));
        }
        if rule.record.contains('{') || rule.record.contains('}') {
            problems.push((
                At::One(record_at),
                format!(
                    "braces present in the recording rule name; should it be in expr?: {}",
                    rule.record
                ),
            ));
        }
    }
    for label in &rule.labels {
        if !valid_label_name(&label.name) {
            problems.push((At::None, format!("invalid label name: {}", label.name)));
        }
    }
    for annotation in &rule.annotations {
        if annotation.name.is_empty() {
            problems.push((
                At::None,
                format!("invalid annotation name: {}", annotation.name),
            ));
        }
    }
    if !rule.alert.is_empty() {
        for (kind, list) in [("label", &rule.labels), ("annotation", &rule.annotations)] {
            for label in list {
                if let Err(e) = wasmetheus_template::check_alert_template(&rule.alert, &label.value)
                {
                    problems.push((At::None, format!("{kind} {}: {e}", go_quote(&label.name))));
                }
            }
        }
    }
    let problems = problems
        .into_iter()
        .map(|(at, text)| (at.render(), text))
        .collect();
    (rule, problems)
}

/// A label name under Prometheus 3's UTF-8 validation: not empty, and not
/// `__name__` (a rule cannot set it).
fn valid_label_name(name: &str) -> bool {
    !name.is_empty() && name != "__name__"
}
