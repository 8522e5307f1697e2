//! `wasmetheus check rules`: what `promtool check rules` of Prometheus 3.x
//! prints for the same rule files, on the same streams, with the same exit
//! codes (1 for an error, 3 for lint problems under `--lint-fatal`).
//! Without files, standard input is checked (`Checking standard input`).
//! Each file goes through the same checks as the rule files of `check
//! config` (`check_config::rules`).

use std::io::{Read, Write};
use std::path::PathBuf;

use crate::check_config::rules::{check_rule_files, check_rule_text};
use crate::check_config::{
    FAILURE, LINT_ALL, LINT_DUPLICATE_RULES, LINT_FAILURE, LINT_NONE, Lint, SUCCESS, go_quote,
};

/// The most standard input read (a rule file larger than this is refused,
/// not read into memory).
const MAX_STDIN_BYTES: u64 = 256 << 20;

/// The arguments of `check rules`, as promtool's.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckRulesArgs {
    /// The rule files to check, default is read from standard input.
    pub files: Vec<PathBuf>,
    /// Linting checks to apply. Available options are: all,
    /// duplicate-rules, none. Use --lint=none to disable linting.
    #[arg(long, default_value = LINT_DUPLICATE_RULES)]
    pub lint: String,
    /// Make lint errors exit with exit code 3.
    #[arg(long)]
    pub lint_fatal: bool,
    /// Ignore unknown fields in the rule files (rule files extended with
    /// metadata of their own; the server still refuses them).
    #[arg(long)]
    pub ignore_unknown_fields: bool,
}

/// promtool's `newRulesLintConfig`: unknown options are warned about (on
/// stdout) and otherwise ignored; `none` turns nothing off that another
/// option turned on.
fn rules_lint(args: &CheckRulesArgs, out: &mut dyn Write) -> Lint {
    let mut lint = Lint {
        fatal: args.lint_fatal,
        ignore_unknown_fields: args.ignore_unknown_fields,
        ..Lint::default()
    };
    if args.lint.is_empty() {
        return lint;
    }
    for option in args.lint.split(',') {
        match option {
            LINT_ALL | LINT_DUPLICATE_RULES => lint.duplicate_rules = true,
            LINT_NONE => {}
            other => {
                let _ = writeln!(out, "WARNING: unknown lint option: {}", go_quote(other));
            }
        }
    }
    lint
}

/// `wasmetheus check rules`: prints to stdout and stderr and exits as
/// promtool does.
pub fn run_command(args: &CheckRulesArgs) -> std::process::ExitCode {
    let code = run(
        args,
        &mut std::io::stdin().lock(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    );
    std::process::ExitCode::from(code)
}

/// Checks `args.files` (or `stdin` when there are none), printing what
/// promtool prints to `out` (stdout) and `err` (stderr); the exit code.
pub fn run(
    args: &CheckRulesArgs,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    // promtool's argument parser refuses a missing file before checking any.
    for file in &args.files {
        if !file.exists() {
            let _ = writeln!(
                err,
                "wasmetheus: error: path '{}' does not exist, try --help",
                file.display()
            );
            return FAILURE;
        }
        if file.is_dir() {
            // kingpin names the directory by its last element.
            let name = file
                .components()
                .next_back()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .unwrap_or_default();
            let _ = writeln!(
                err,
                "wasmetheus: error: '{name}' is a directory, try --help"
            );
            return FAILURE;
        }
    }
    let lint = rules_lint(args, out);
    let (failed, has_errors) = if args.files.is_empty() {
        let _ = writeln!(out, "Checking standard input");
        match read_stdin(stdin, MAX_STDIN_BYTES) {
            Ok(text) => check_rule_text(&text, &lint, out, err),
            Err(e) => {
                let _ = writeln!(err, "  FAILED: {e}");
                (true, true)
            }
        }
    } else {
        check_rule_files(&args.files, &lint, out, err)
    };
    if failed && has_errors {
        FAILURE
    } else if failed && lint.fatal {
        LINT_FAILURE
    } else {
        SUCCESS
    }
}

fn read_stdin(stdin: &mut dyn Read, limit: u64) -> Result<String, String> {
    match wasmetheus_config::limited::read_at_most(stdin, limit) {
        Ok(Some(bytes)) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Ok(None) => Err(format!("standard input is larger than {limit} bytes")),
        Err(e) => Err(format!(
            "read /dev/stdin: {}",
            wasmetheus_model::go::io_error_text(&e)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn conformance() -> PathBuf {
        std::env::var_os("WASMETHEUS_CONFORMANCE")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
            })
            .join("rules/promtool")
    }

    fn args(files: &[&str], lint: &str, fatal: bool, ignore: bool) -> CheckRulesArgs {
        CheckRulesArgs {
            files: files.iter().map(PathBuf::from).collect(),
            lint: lint.to_owned(),
            lint_fatal: fatal,
            ignore_unknown_fields: ignore,
        }
    }

    /// Runs in the conformance directory's terms: file names relative to
    /// it, as promtool's own tests run.
    fn check(args: &CheckRulesArgs, stdin: &str) -> (u8, String, String) {
        let dir = conformance();
        let mut args = args.clone();
        for f in &mut args.files {
            *f = dir.join(&*f);
        }
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run(&args, &mut stdin.as_bytes(), &mut out, &mut err);
        let prefix = format!("{}/", dir.display());
        let text = |b: Vec<u8>| String::from_utf8_lossy(&b).replace(&prefix, "");
        (code, text(out), text(err))
    }

    /// promtool 3.x's lines and exit codes for the upstream rule files
    /// (2.42 prints a blank line after a file that failed to parse; 3.x
    /// does not, and 3.x knows `--ignore-unknown-fields`).
    #[test]
    fn upstream_rule_files() {
        // Files, --lint, --lint-fatal, --ignore-unknown-fields; exit code,
        // stdout, stderr.
        type Case = (
            &'static [&'static str],
            &'static str,
            bool,
            bool,
            u8,
            &'static str,
            &'static str,
        );
        let cases: &[Case] = &[
            (
                &["rules.yml"],
                "duplicate-rules",
                false,
                false,
                0,
                "Checking rules.yml\n  SUCCESS: 5 rules found\n\n",
                "",
            ),
            (
                &["rules-bad.yml"],
                "duplicate-rules",
                false,
                false,
                1,
                "Checking rules-bad.yml\n",
                "  FAILED:\nrules-bad.yml: group \"alerts\", rule 1, \"InstanceDown\": annotation \"summary\": template: __alert_InstanceDown:1: undefined variable \"$label\"\n",
            ),
            (
                &["rules_duplicates.yml"],
                "duplicate-rules",
                false,
                false,
                0,
                "Checking rules_duplicates.yml\n\n",
                "  FAILED:\nlint error 1 duplicate rule(s) found.\nMetric: job:test:count_over_time1m\nLabel(s):\nMight cause inconsistency while recording expressions\n",
            ),
            (
                &["rules_duplicates.yml"],
                "all",
                true,
                false,
                3,
                "Checking rules_duplicates.yml\n\n",
                "  FAILED:\nlint error 1 duplicate rule(s) found.\nMetric: job:test:count_over_time1m\nLabel(s):\nMight cause inconsistency while recording expressions\n",
            ),
            (
                &["rules_duplicates.yml"],
                "none",
                true,
                false,
                0,
                "Checking rules_duplicates.yml\n  SUCCESS: 5 rules found\n\n",
                "",
            ),
            (
                &["rules_duplicates.yml"],
                "none,bogus",
                false,
                false,
                0,
                "WARNING: unknown lint option: \"bogus\"\nChecking rules_duplicates.yml\n  SUCCESS: 5 rules found\n\n",
                "",
            ),
            (
                &["rules_extrafields.yml"],
                "duplicate-rules",
                false,
                true,
                0,
                "Checking rules_extrafields.yml\n  SUCCESS: 5 rules found\n\n",
                "",
            ),
            (
                &["rules.yml", "rules_duplicates.yml"],
                "duplicate-rules",
                true,
                false,
                3,
                "Checking rules.yml\n  SUCCESS: 5 rules found\n\nChecking rules_duplicates.yml\n\n",
                "  FAILED:\nlint error 1 duplicate rule(s) found.\nMetric: job:test:count_over_time1m\nLabel(s):\nMight cause inconsistency while recording expressions\n",
            ),
            (
                &["rules-bad.yml", "rules_duplicates.yml"],
                "duplicate-rules",
                true,
                false,
                1,
                "Checking rules-bad.yml\nChecking rules_duplicates.yml\n\n",
                "  FAILED:\nrules-bad.yml: group \"alerts\", rule 1, \"InstanceDown\": annotation \"summary\": template: __alert_InstanceDown:1: undefined variable \"$label\"\n  FAILED:\nlint error 1 duplicate rule(s) found.\nMetric: job:test:count_over_time1m\nLabel(s):\nMight cause inconsistency while recording expressions\n",
            ),
        ];
        for (files, lint, fatal, ignore, code, out, err) in cases {
            let got = check(&args(files, lint, *fatal, *ignore), "");
            assert_eq!(
                got,
                (*code, out.to_string(), err.to_string()),
                "{files:?} --lint={lint}"
            );
        }
    }

    #[test]
    fn unknown_fields_fail_without_the_flag() {
        let (code, out, err) = check(&args(&["rules_extrafields.yml"], "", false, false), "");
        assert_eq!(code, FAILURE);
        assert_eq!(out, "Checking rules_extrafields.yml\n");
        assert!(
            err.starts_with("  FAILED:\nrules_extrafields.yml: "),
            "{err}"
        );
        assert!(err.contains("field namespace not found"), "{err}");
    }

    #[test]
    fn standard_input() {
        let good = "groups:\n- name: a\n  rules:\n  - record: x\n    expr: up\n  - alert: A\n    expr: up == 0\n";
        assert_eq!(
            check(&args(&[], "duplicate-rules", false, false), good),
            (
                0,
                "Checking standard input\n  SUCCESS: 2 rules found\n\n".into(),
                String::new()
            )
        );
        // Errors without a file name, as `rulefmt.Parse`'s.
        let bad = "groups:\n- name: a\n  rules:\n  - record: x\n    expr: 'up('\n";
        let (code, out, err) = check(&args(&[], "duplicate-rules", false, false), bad);
        assert_eq!((code, out.as_str()), (FAILURE, "Checking standard input\n"));
        assert!(
            err.starts_with(
                "  FAILED:\n5:11: group \"a\", rule 1, \"x\": could not parse expression: "
            ),
            "{err}"
        );
        let dup = "groups:\n- name: a\n  rules:\n  - record: x\n    expr: up\n  - record: x\n    expr: down\n";
        let (code, _, err) = check(&args(&[], "all", true, false), dup);
        assert_eq!(code, LINT_FAILURE);
        assert!(
            err.starts_with("  FAILED:\nlint error 1 duplicate rule(s) found.\nMetric: x\n"),
            "{err}"
        );
        let (code, out, _) = check(&args(&[], "all", true, false), "");
        assert_eq!(
            (code, out.as_str()),
            (
                SUCCESS,
                "Checking standard input\n  SUCCESS: 0 rules found\n\n"
            )
        );
    }

    #[test]
    fn oversized_standard_input_is_refused_unread() {
        let mut endless = std::io::repeat(b' ');
        assert_eq!(
            read_stdin(&mut endless, 1000),
            Err("standard input is larger than 1000 bytes".to_owned())
        );
        assert_eq!(read_stdin(&mut "a: b".as_bytes(), 4), Ok("a: b".to_owned()));
    }

    #[test]
    fn a_directory_is_refused_as_promtool_refuses_it() {
        let dir = conformance();
        for (given, name) in [
            (dir.clone(), "promtool"),
            (dir.join("../fixtures/"), "fixtures"),
        ] {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let args = CheckRulesArgs {
                files: vec![dir.join("rules.yml"), given],
                ..args(&[], "", false, false)
            };
            assert_eq!(run(&args, &mut "".as_bytes(), &mut out, &mut err), FAILURE);
            assert_eq!(out, b"");
            assert_eq!(
                String::from_utf8_lossy(&err),
                format!("wasmetheus: error: '{name}' is a directory, try --help\n")
            );
        }
    }

    #[test]
    fn a_missing_file_is_refused_before_any_check() {
        let (code, out, err) = check(&args(&["rules.yml", "no-such.yml"], "", false, false), "");
        assert_eq!(code, FAILURE);
        assert_eq!(out, "");
        assert!(
            err.ends_with("no-such.yml' does not exist, try --help\n"),
            "{err}"
        );
    }
}
