//! Data-driven cases: each directory under `tests/cases/` holds a
//! `test.yml` (with any rule files it names), optionally `args` (the
//! command-line flags, whitespace-separated; `--junit` alone writes the
//! report to a temporary file that is then shown), and `expected.out`, the
//! snapshot of the exit status, standard output, standard error and the
//! JUnit report. `UPDATE_EXPECT=1 cargo test -p wasmetheus-ruletest`
//! rewrites the snapshots.
//!
//! Paths in the output are shown relative to the case directory, and the
//! JUnit timestamp as `T`.

use std::path::{Path, PathBuf};

use wasmetheus_ruletest::{TestRulesArgs, run};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

/// Runs `args` on `files`, returning the snapshot text.
fn run_case(dir: &Path, flags: &[String], files: Vec<PathBuf>) -> String {
    let mut args = TestRulesArgs {
        files,
        ..TestRulesArgs::default()
    };
    let junit_path = std::env::temp_dir().join(format!(
        "ruletest-junit-{}-{}.xml",
        std::process::id(),
        dir.file_name().unwrap().to_string_lossy()
    ));
    let mut it = flags.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--run" => args
                .run
                .push(it.next().expect("--run takes a value").clone()),
            "--diff" => args.diff = true,
            "--ignore-unknown-fields" => args.ignore_unknown_fields = true,
            "--junit" => args.junit = Some(junit_path.clone()),
            "--debug" => args.debug = true,
            other => panic!("{}: unknown flag {other}", dir.display()),
        }
    }
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = run(&args, &mut out, &mut err);
    let prefix = format!("{}/", dir.display());
    let clean = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .replace(&prefix, "")
            .replace('\x1b', "^[")
    };
    // `--debug` reports how long each group took.
    let took = regex::Regex::new(r"finished, took \S+").unwrap();
    let clean = |b: &[u8]| took.replace_all(&clean(b), "finished, took D").into_owned();
    let mut snapshot = format!(
        "exit {status}\n--- stdout\n{}--- stderr\n{}",
        clean(&out),
        clean(&err)
    );
    if args.junit.is_some() {
        let xml = std::fs::read_to_string(&junit_path).expect("the JUnit report was written");
        let _ = std::fs::remove_file(&junit_path);
        let xml = regex::Regex::new(r#"timestamp="[^"]+""#)
            .unwrap()
            .replace_all(&xml, r#"timestamp="T""#)
            .into_owned();
        snapshot.push_str(&format!("--- junit\n{}\n", clean(xml.as_bytes())));
    }
    snapshot
}

#[test]
fn every_case_matches_its_snapshot() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 10, "cases missing: {dirs:?}");
    for dir in dirs {
        let flags: Vec<String> = std::fs::read_to_string(dir.join("args"))
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let got = run_case(&dir, &flags, vec![dir.join("test.yml")]);
        expect_test::ExpectFile {
            path: dir.join("expected.out"),
            position: file!(),
        }
        .assert_eq(&got);
    }
}

/// A report that cannot be created is an error before any test runs.
#[test]
fn junit_file_that_cannot_be_created() {
    let dir = cases_dir();
    let args = TestRulesArgs {
        files: vec![dir.join("junit/test.yml")],
        junit: Some(dir.join("no/such/dir/report.xml")),
        ..TestRulesArgs::default()
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert_eq!(run(&args, &mut out, &mut err), 1);
    assert!(out.is_empty());
    let err = String::from_utf8_lossy(&err).replace(&format!("{}/", dir.display()), "");
    assert_eq!(
        err,
        "open no/such/dir/report.xml: no such file or directory\n"
    );
}

/// Ten thousand test groups in one file run, each on its own.
#[test]
fn ten_thousand_tests() {
    let dir = std::env::temp_dir().join(format!("ruletest-many-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = String::from("tests:\n");
    for i in 0..10_000 {
        let want = if i == 7_777 { 2 } else { 1 };
        text.push_str(&format!(
            "  - name: t{i}\n    input_series: [{{series: a, values: '1'}}]\n    promql_expr_test: [{{expr: a, eval_time: 0, exp_samples: [{{labels: a, value: {want}}}]}}]\n"
        ));
    }
    let file = dir.join("test.yml");
    std::fs::write(&file, text).unwrap();
    let got = run_case(&dir, &[], vec![file]);
    std::fs::remove_dir_all(&dir).unwrap();
    expect_test::expect![[r#"
        exit 1
        --- stdout


        --- stderr
          FAILED:
            expr: "a", time: 0s,
                exp: {__name__="a"} 2E+00
                got: {__name__="a"} 1E+00
    "#]]
    .assert_eq(&got);
}

/// Several files: each reported on its own, the status is a failure if
/// any failed. Prometheus 3 names no file in the report (2.x printed
/// `Unit Testing:  FILE` first): a file is its `  FAILED:` or `  SUCCESS`.
#[test]
fn several_files() {
    let dir = cases_dir();
    let files = ["junit", "missing_rule_file", "no_such_case"]
        .iter()
        .map(|c| dir.join(c).join("test.yml"))
        .collect();
    let got = run_case(&dir, &[], files);
    expect_test::expect![[r#"
        exit 1
        --- stdout


          SUCCESS



        --- stderr
          FAILED:
            expr: "a", time: 0s,
                exp: {__name__="a"} 2E+00
                got: {__name__="a"} 1E+00
          WARNING: no file match pattern missing_rule_file/does-not-exist-*.yml
          FAILED:
        open no_such_case/test.yml: no such file or directory
    "#]]
    .assert_eq(&got);
}
