//! promtool's rule unit tests (`wasmetheus test rules`), as Prometheus
//! 3's `promtool test rules` runs them: for each test file, its rule files
//! loaded per test group, the input series in the scripted tests' series
//! notation (`wasmetheus-promqltest`'s parser and in-memory store), the
//! groups evaluated step by step, alerts and PromQL results compared with
//! what the file expects, and the outcome printed in promtool's words
//! (`  FAILED:` and the failures, or `  SUCCESS`), optionally as JUnit
//! XML.
//!
//! Modules: [`file`] the test-file format, `group` one test group's run,
//! `compare` expected against got (and `--diff`), `junit` the XML report,
//! `gofmt`, `histogram` and `yaml_errors` Go's texts, `rules_glue` the rule
//! manager.
//!
//! Where this differs from promtool 3.14:
//! - native histograms: selectors return them (with the head's
//!   counter-reset hints), but most operations on them are still refused
//!   by the PromQL engine with an error;
//! - limits promtool does not have: at most 20,000,000 input samples and
//!   1,000,000 evaluation steps per test group (refused with a message),
//!   and the YAML reader's depth and alias budgets;
//! - groups not named in `group_eval_order` run in file order (promtool's
//!   order among them is a Go map's, i.e. random);
//! - texts of YAML syntax errors and series-notation errors are worded by
//!   our parsers (same line, other words); an invalid `--run` regular
//!   expression is an error message, not a panic.
//!
//! Where Debian's promtool 2.42 differs from 3.14 (3.14 is followed): 2.42
//! prints `Unit Testing:  FILE` before each file; knows none of
//! `fuzzy_compare`, `start_timestamp`, `histogram`, `--run`, `--junit`,
//! `--diff`, `--ignore-unknown-fields`; does not default a group's
//! `interval` to `evaluation_interval` (`no-test-group-interval.yml`
//! fails there); reads a series starting with `_` as if its first value
//! were at the start; does not accept quoted UTF-8 label names.

pub mod file;

mod compare;
mod gofmt;
mod group;
mod histogram;
mod junit;
mod rules_glue;
mod yaml_errors;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use regex::Regex;

/// `test rules`' command line.
#[derive(Debug, Clone, Default)]
pub struct TestRulesArgs {
    /// The test files.
    pub files: Vec<PathBuf>,
    /// `--run`: only test groups whose name matches one of these regular
    /// expressions (unanchored); empty runs every group.
    pub run: Vec<String>,
    /// `--junit`: where to write the JUnit XML report.
    pub junit: Option<PathBuf>,
    /// `--diff`: show failing alert tests as a coloured JSON diff.
    pub diff: bool,
    /// `--ignore-unknown-fields`: accept unknown fields in rule files (the
    /// test files themselves are always strict, as in promtool).
    pub ignore_unknown_fields: bool,
    /// `--debug`: each test group's start and duration, and a dump of all
    /// its data (input series and recorded results), on the error output.
    pub debug: bool,
}

/// Runs the tests of every file; writes promtool's report to `out` and
/// `err` and returns the exit status: 0 when every test passed, 1
/// otherwise.
pub fn run(args: &TestRulesArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let run = if args.run.is_empty() {
        None
    } else {
        match Regex::new(&args.run.join("|")) {
            Ok(re) => Some(re),
            Err(e) => {
                let _ = writeln!(err, "invalid --run regular expression: {e}");
                return 1;
            }
        }
    };
    // promtool opens the report file before testing: a path it cannot
    // create is an error of the command line.
    let mut junit_file = match &args.junit {
        None => None,
        Some(path) => match std::fs::File::create(path) {
            Ok(file) => Some(file),
            Err(e) => {
                let _ = writeln!(
                    err,
                    "{}",
                    wasmetheus_model::go::path_error("open", path, &e)
                );
                return 1;
            }
        },
    };
    let mut junit = junit::JUnit::default();
    let mut failed = false;
    for f in &args.files {
        // Prometheus 3 prints no `Unit Testing:  FILE` line before each
        // file (2.x did; the JUnit change dropped it), only the outcome.
        let suite = junit.suite(&f.display().to_string());
        let errs = test_file(f, args, run.as_ref(), suite, err);
        if errs.is_empty() {
            let _ = writeln!(out, "  SUCCESS");
        } else {
            let _ = writeln!(err, "  FAILED:");
            for e in &errs {
                let _ = writeln!(err, "{e}");
                let _ = writeln!(out);
            }
            failed = true;
        }
        let _ = writeln!(out);
    }
    if let Some(file) = &mut junit_file
        && let Err(e) = file.write_all(junit.to_xml().as_bytes())
    {
        let _ = writeln!(
            err,
            "failed to write JUnit XML: {}",
            wasmetheus_model::go::io_error_text(&e)
        );
    }
    i32::from(failed)
}

/// Tests one file; its failures in promtool's words.
fn test_file(
    path: &Path,
    args: &TestRulesArgs,
    run: Option<&Regex>,
    suite: &mut junit::Suite,
    warn: &mut dyn Write,
) -> Vec<String> {
    let abort = |suite: &mut junit::Suite, e: String| {
        suite.abort(&e);
        vec![e]
    };
    let read = std::fs::File::open(path)
        .and_then(|file| wasmetheus_config::limited::read_at_most(file, MAX_FILE_BYTES));
    let text = match read {
        Ok(Some(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
        Ok(None) => {
            return abort(
                suite,
                format!(
                    "{}: test file larger than {MAX_FILE_BYTES} bytes",
                    path.display()
                ),
            );
        }
        Err(e) => {
            let e = wasmetheus_model::go::path_error("open", path, &e);
            return abort(suite, e);
        }
    };
    let mut utf = match file::parse(&text) {
        Ok(f) => f,
        Err(e) => return abort(suite, e),
    };
    let base = path.parent().unwrap_or(Path::new(""));
    let rule_files = match resolve_rule_files(base, &utf.rule_files, warn) {
        Ok(files) => files,
        Err(e) => return abort(suite, e),
    };
    if utf.evaluation_interval.0 == 0 {
        utf.evaluation_interval.0 = 60_000;
    }
    suite.set_time(jiff::Zoned::now().strftime("%Y-%m-%dT%H:%M:%S").to_string());
    let mut order = HashMap::new();
    for (i, name) in utf.group_eval_order.iter().enumerate() {
        if order.insert(name.clone(), i).is_some() {
            return abort(
                suite,
                format!("group name repeated in evaluation order: {name}"),
            );
        }
    }
    let settings = group::FileSettings {
        rule_files: &rule_files,
        eval_interval: utf.evaluation_interval.0,
        group_order: &order,
        diff: args.diff,
        fuzzy: utf.fuzzy_compare,
        ignore_unknown_fields: args.ignore_unknown_fields,
        debug: args.debug,
    };
    let mut errs = Vec::new();
    for (i, tg) in utf.tests.iter_mut().enumerate() {
        if run.is_some_and(|re| !re.is_match(&tg.name)) {
            continue;
        }
        let name = if tg.name.is_empty() {
            format!("unnamed#{i}")
        } else {
            tg.name.clone()
        };
        suite.case(&name);
        if tg.interval.0 == 0 {
            tg.interval = utf.evaluation_interval;
        }
        let group_errs = group::run(tg, &name, &settings, warn);
        for e in &group_errs {
            suite.fail(e);
        }
        errs.extend(group_errs);
    }
    errs
}

/// The largest test file read (256 MiB); a larger one (or an endless
/// stream) is refused.
const MAX_FILE_BYTES: u64 = 256 << 20;

/// promtool's `resolveAndGlobFilepaths`: relative paths are joined to the
/// test file's directory, then globbed; a pattern matching nothing is a
/// warning.
fn resolve_rule_files(
    base: &Path,
    patterns: &[String],
    warn: &mut dyn Write,
) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for rf in patterns {
        let pattern = if !rf.is_empty() && !Path::new(rf).is_absolute() {
            wasmetheus_model::go::clean_path(&base.join(rf).to_string_lossy())
        } else {
            rf.clone()
        };
        let matched = wasmetheus_config::glob::glob(&pattern).map_err(|e| e.to_string())?;
        if matched.is_empty() {
            let _ = writeln!(warn, "  WARNING: no file match pattern {pattern}");
        }
        files.extend(matched);
    }
    Ok(files)
}
