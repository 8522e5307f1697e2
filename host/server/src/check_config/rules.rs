//! The rule files of `check config`, checked as promtool 3 checks them:
//! each file read and validated by `wasmetheus_rules::rulefmt` (Prometheus'
//! rule file format with Go's YAML errors and field names), then the
//! `duplicate-rules` lint.

use super::*;

use wasmetheus_rules::rulefmt;

/// promtool's `checkRules`: `(failed, has_errors)`.
pub(super) fn check_rule_files(
    files: &[PathBuf],
    lint: &Lint,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> (bool, bool) {
    let (mut failed, mut has_errors) = (false, false);
    let options = rulefmt::ParseOptions {
        ignore_unknown_fields: lint.ignore_unknown_fields,
    };
    for file in files {
        let _ = writeln!(out, "Checking {}", file.display());
        let parsed = match rulefmt::parse_file(file, &options) {
            Ok(parsed) => parsed,
            Err(errors) => {
                failed = true;
                has_errors = true;
                let _ = writeln!(err, "  FAILED:");
                for e in errors {
                    let _ = writeln!(err, "{e}");
                }
                // As promtool: no blank line after a file that did not parse.
                continue;
            }
        };
        let duplicates = if lint.duplicate_rules {
            rulefmt::duplicate_rules(&parsed)
        } else {
            Vec::new()
        };
        if duplicates.is_empty() {
            let rules: usize = parsed.groups.iter().map(|g| g.rules.len()).sum();
            let _ = writeln!(out, "  SUCCESS: {rules} rules found");
        } else {
            let _ = writeln!(err, "  FAILED:");
            let _ = writeln!(
                err,
                "lint error {}",
                rulefmt::duplicate_rules_message(&duplicates)
            );
            failed = true;
        }
        let _ = writeln!(out);
    }
    (failed, has_errors)
}
