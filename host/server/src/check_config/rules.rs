//! The rule files of `check config` and `check rules`, checked as promtool
//! 3 checks them: each file (or standard input) read and validated by
//! `wasmetheus_rules::rulefmt` (Prometheus' rule file format with Go's
//! YAML errors and field names), then the `duplicate-rules` lint.

use super::*;

use wasmetheus_rules::rulefmt;

/// promtool's `checkRules`: `(failed, has_errors)`.
pub(crate) fn check_rule_files(
    files: &[PathBuf],
    lint: &Lint,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> (bool, bool) {
    let (mut failed, mut has_errors) = (false, false);
    let options = parse_options(lint);
    for file in files {
        let _ = writeln!(out, "Checking {}", file.display());
        // `rulefmt.ParseFile`'s errors start with the file name.
        let parsed = rulefmt::parse_file(file, &options)
            .map_err(|errors| errors.iter().map(ToString::to_string).collect());
        let (f, e) = check_parsed(parsed, lint, out, err);
        failed |= f;
        has_errors |= e;
    }
    (failed, has_errors)
}

/// promtool's `checkRulesFromStdin` after the `Checking standard input`
/// line: `text` parsed as `rulefmt.Parse` does (errors without a file
/// name).
pub(crate) fn check_rule_text(
    text: &str,
    lint: &Lint,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> (bool, bool) {
    let parsed = rulefmt::parse(text, Path::new(""), &parse_options(lint))
        .map_err(|errors| errors.into_iter().map(|e| e.message).collect());
    check_parsed(parsed, lint, out, err)
}

fn parse_options(lint: &Lint) -> rulefmt::ParseOptions {
    rulefmt::ParseOptions {
        ignore_unknown_fields: lint.ignore_unknown_fields,
    }
}

/// One parsed rule source: `FAILED:` and its errors, or the lint's
/// findings, or `SUCCESS: N rules found`.
fn check_parsed(
    parsed: Result<rulefmt::RuleFile, Vec<String>>,
    lint: &Lint,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> (bool, bool) {
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(errors) => {
            let _ = writeln!(err, "  FAILED:");
            for e in errors {
                let _ = writeln!(err, "{e}");
            }
            // As promtool: no blank line after a source that did not parse.
            return (true, true);
        }
    };
    let duplicates = if lint.duplicate_rules {
        rulefmt::duplicate_rules(&parsed)
    } else {
        Vec::new()
    };
    let failed = if duplicates.is_empty() {
        let rules: usize = parsed.groups.iter().map(|g| g.rules.len()).sum();
        let _ = writeln!(out, "  SUCCESS: {rules} rules found");
        false
    } else {
        let _ = writeln!(err, "  FAILED:");
        let _ = writeln!(
            err,
            "lint error {}",
            rulefmt::duplicate_rules_message(&duplicates)
        );
        true
    };
    let _ = writeln!(out);
    (failed, false)
}
