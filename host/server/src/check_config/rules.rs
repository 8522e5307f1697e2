//! The rule files of `check config`, checked as promtool 3 checks them:
//! Prometheus' rule file format (`rulefmt`) with Go's YAML errors and
//! field names, each rule's validation, and the `duplicate-rules` lint.

use super::*;

/// promtool's `checkRules`: `(failed, has_errors)`.
pub(super) fn check_rule_files(
    files: &[PathBuf],
    lint: &Lint,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> (bool, bool) {
    let (mut failed, mut has_errors) = (false, false);
    for file in files {
        let _ = writeln!(out, "Checking {}", file.display());
        let groups = match parse_rule_file(file, lint.ignore_unknown_fields) {
            Ok(groups) => groups,
            Err(errors) => {
                failed = true;
                has_errors = true;
                let _ = writeln!(err, "  FAILED:");
                for e in errors {
                    let _ = writeln!(err, "{}: {e}", file.display());
                }
                // As promtool: no blank line after a file that did not parse.
                continue;
            }
        };
        match rule_lint(&groups, lint) {
            Err(problem) => {
                let _ = writeln!(err, "  FAILED:");
                let _ = writeln!(err, "{problem}");
                failed = true;
            }
            Ok(()) => {
                let rules: usize = groups.iter().map(|g| g.rules.len()).sum();
                let _ = writeln!(out, "  SUCCESS: {rules} rules found");
            }
        }
        let _ = writeln!(out);
    }
    (failed, has_errors)
}

/// A rule file as Prometheus' `rulefmt` reads it (unknown fields are
/// refused by [`KnownFields`] unless `--ignore-unknown-fields`).
#[derive(Debug, Default, Deserialize)]
struct RuleFile {
    #[serde(default)]
    groups: Option<Vec<Spanned<RuleGroup>>>,
}

#[derive(Debug, Default, Deserialize)]
struct RuleGroup {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    interval: Option<PromDuration>,
    #[serde(default)]
    #[allow(dead_code)]
    query_offset: Option<PromDuration>,
    #[serde(default)]
    #[allow(dead_code)]
    limit: Option<i64>,
    #[serde(default)]
    rules: Option<Vec<Rule>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
struct Rule {
    #[serde(default)]
    record: Option<Spanned<String>>,
    #[serde(default)]
    alert: Option<Spanned<String>>,
    #[serde(default)]
    expr: Option<Spanned<String>>,
    #[serde(default, rename = "for")]
    for_: Option<PromDuration>,
    #[serde(default)]
    keep_firing_for: Option<PromDuration>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

/// The shape of a rule file with only its known fields, checked before it
/// is read unless unknown fields are to be ignored (Go's
/// `KnownFields(true)`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KnownFields {
    #[serde(default)]
    #[allow(dead_code)]
    groups: Option<Vec<KnownGroupFields>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct KnownGroupFields {
    #[serde(default)]
    name: serde::de::IgnoredAny,
    #[serde(default)]
    interval: serde::de::IgnoredAny,
    #[serde(default)]
    query_offset: serde::de::IgnoredAny,
    #[serde(default)]
    limit: serde::de::IgnoredAny,
    #[serde(default)]
    rules: Option<Vec<KnownRuleFields>>,
    #[serde(default)]
    labels: serde::de::IgnoredAny,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct KnownRuleFields {
    #[serde(default)]
    record: serde::de::IgnoredAny,
    #[serde(default)]
    alert: serde::de::IgnoredAny,
    #[serde(default)]
    expr: serde::de::IgnoredAny,
    #[serde(default, rename = "for")]
    for_: serde::de::IgnoredAny,
    #[serde(default)]
    keep_firing_for: serde::de::IgnoredAny,
    #[serde(default)]
    labels: serde::de::IgnoredAny,
    #[serde(default)]
    annotations: serde::de::IgnoredAny,
}

/// A parsed group: its name, labels and rules as `(name, labels)`.
#[derive(Debug)]
struct CheckedGroup {
    labels: BTreeMap<String, String>,
    rules: Vec<(String, BTreeMap<String, String>)>,
}

/// `line:col` of a node, `0:0` for one that is absent (as Go's zero
/// `yaml.Node`).
fn position(node: Option<&Spanned<String>>) -> String {
    node.map_or_else(
        || "0:0".to_owned(),
        |n| format!("{}:{}", n.referenced.line(), n.referenced.column()),
    )
}

/// Parses and validates a rule file as `rulefmt.ParseFile`: every error
/// found (without the file name).
fn parse_rule_file(
    path: &Path,
    ignore_unknown_fields: bool,
) -> Result<Vec<CheckedGroup>, Vec<String>> {
    let text = read_regular(path).map_err(|e| vec![e])?;
    let text = String::from_utf8_lossy(&text);
    let yaml_error = |e: serde_saphyr::Error| {
        let message = rule_yaml_message(&e);
        match e.location() {
            Some(l) => vec![format!("{}:{}: {message}", l.line(), l.column())],
            None => vec![message],
        }
    };
    let file: RuleFile = if text.trim().is_empty() {
        RuleFile::default()
    } else {
        if !ignore_unknown_fields {
            serde_saphyr::from_str::<KnownFields>(&text).map_err(yaml_error)?;
        }
        serde_saphyr::from_str(&text).map_err(yaml_error)?
    };
    let mut errors = Vec::new();
    let mut names = HashSet::new();
    let mut checked = Vec::new();
    for group in file.groups.unwrap_or_default() {
        let at = format!("{}:{}", group.referenced.line(), group.referenced.column());
        let group = group.value;
        let name = group.name.unwrap_or_default();
        if name.is_empty() {
            errors.push(format!("{at}: Groupname must not be empty"));
        }
        if !names.insert(name.clone()) {
            errors.push(format!(
                "{at}: groupname: \"{name}\" is repeated in the same file"
            ));
        }
        let group_labels = group.labels.unwrap_or_default();
        for key in group_labels.keys() {
            if !valid_label_name(key) {
                errors.push(format!("invalid label name: {key}"));
            }
        }
        let mut rules = Vec::new();
        for (i, rule) in group.rules.unwrap_or_default().into_iter().enumerate() {
            let rule_name = rule
                .alert
                .as_ref()
                .filter(|a| !a.value.is_empty())
                .or(rule.record.as_ref())
                .map(|n| n.value.clone())
                .unwrap_or_default();
            for (at, problem) in validate_rule(&rule) {
                let at = at.map(|a| format!("{a}: ")).unwrap_or_default();
                errors.push(format!(
                    "{at}group {}, rule {}, {}: {problem}",
                    go_quote(&name),
                    i + 1,
                    go_quote(&rule_name)
                ));
            }
            rules.push((rule_name, rule.labels.unwrap_or_default()));
        }
        checked.push(CheckedGroup {
            labels: group_labels,
            rules,
        });
    }
    if errors.is_empty() {
        Ok(checked)
    } else {
        Err(errors)
    }
}

/// A YAML error in a rule file: our parser's message, its first line
/// without the position (given separately); an unknown field in Go's words
/// (`field X not found in type rulefmt.T`).
fn rule_yaml_message(error: &serde_saphyr::Error) -> String {
    let rendered = error.to_string();
    let first = rendered.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let message = match first
        .strip_prefix("line ")
        .and_then(|rest| rest.split_once(": "))
    {
        Some((_, message)) => message,
        None => first,
    };
    let Some((field, expected)) = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'))
    else {
        return message.to_owned();
    };
    // The struct is known by the fields it expects.
    let go_type = if expected.contains("keep_firing_for") {
        "rulefmt.Rule"
    } else if expected.contains("query_offset") {
        "rulefmt.RuleGroup"
    } else {
        "rulefmt.RuleGroups"
    };
    format!("field {field} not found in type {go_type}")
}

/// `rulefmt`'s `Rule.Validate`: each problem with the position(s) it is
/// reported at.
fn validate_rule(rule: &Rule) -> Vec<(Option<String>, String)> {
    let mut problems = Vec::new();
    let text = |n: &Option<Spanned<String>>| n.as_ref().map_or("", |n| n.value.as_str()).to_owned();
    let (record, alert, expr) = (text(&rule.record), text(&rule.alert), text(&rule.expr));
    let both = || {
        Some(format!(
            "{}: {}",
            position(rule.record.as_ref()),
            position(rule.alert.as_ref())
        ))
    };
    if !record.is_empty() && !alert.is_empty() {
        problems.push((
            both(),
            "only one of 'record' and 'alert' must be set".into(),
        ));
    }
    if record.is_empty() && alert.is_empty() {
        problems.push((both(), "one of 'record' or 'alert' must be set".into()));
    }
    let expr_at = Some(position(rule.expr.as_ref()));
    if expr.is_empty() {
        problems.push((expr_at, "field 'expr' must be set in rule".into()));
    } else if let Err(e) = wasmetheus_promql::parser::parse(&expr) {
        problems.push((expr_at, format!("could not parse expression: {e}")));
    }
    if !record.is_empty() {
        let record_at = Some(position(rule.record.as_ref()));
        if rule.annotations.as_ref().is_some_and(|a| !a.is_empty()) {
            problems.push((
                record_at.clone(),
                "invalid field 'annotations' in recording rule".into(),
            ));
        }
        if rule.for_.is_some_and(|d| !d.0.is_zero()) {
            problems.push((
                record_at.clone(),
                "invalid field 'for' in recording rule".into(),
            ));
        }
        if rule.keep_firing_for.is_some_and(|d| !d.0.is_zero()) {
            problems.push((
                record_at.clone(),
                "invalid field 'keep_firing_for' in recording rule".into(),
            ));
        }
        if record.contains('{') || record.contains('}') {
            problems.push((
                record_at,
                format!(
                    "braces present in the recording rule name; should it be in expr?: {record}"
                ),
            ));
        }
    }
    for key in rule.labels.iter().flat_map(|l| l.keys()) {
        if !valid_label_name(key) {
            problems.push((None, format!("invalid label name: {key}")));
        }
    }
    for key in rule.annotations.iter().flat_map(|a| a.keys()) {
        if key.is_empty() {
            problems.push((None, format!("invalid annotation name: {key}")));
        }
    }
    problems
}

/// A label name under Prometheus 3's UTF-8 validation: not empty, and not
/// `__name__` (a rule cannot set it).
fn valid_label_name(name: &str) -> bool {
    !name.is_empty() && name != "__name__"
}

/// promtool's `checkRuleGroups` lint: rules recording the same name with
/// the same labels.
fn rule_lint(groups: &[CheckedGroup], lint: &Lint) -> Result<(), String> {
    if !lint.duplicate_rules {
        return Ok(());
    }
    let mut all: Vec<(&str, Vec<(&str, &str)>)> = Vec::new();
    for group in groups {
        for (name, labels) in &group.rules {
            let mut merged: BTreeMap<&str, &str> = group
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            merged.extend(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            all.push((name.as_str(), merged.into_iter().collect()));
        }
    }
    all.sort();
    let mut duplicates: Vec<&(&str, Vec<(&str, &str)>)> = Vec::new();
    for pair in all.windows(2) {
        if pair[0] == pair[1] && duplicates.last() != Some(&&pair[1]) {
            duplicates.push(&pair[1]);
        }
    }
    if duplicates.is_empty() {
        return Ok(());
    }
    let mut message = format!("lint error {} duplicate rule(s) found.\n", duplicates.len());
    for (metric, labels) in duplicates {
        message.push_str(&format!("Metric: {metric}\nLabel(s):\n"));
        for (name, value) in labels {
            message.push_str(&format!("\t{name}: {value}\n"));
        }
    }
    message.push_str("Might cause inconsistency while recording expressions");
    Err(message)
}
