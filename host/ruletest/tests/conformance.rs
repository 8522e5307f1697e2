//! Every row of the table in `rules/README.md` of the conformance corpus
//! (Prometheus 3.14's `cmd/promtool/unittest_test.go`): the unit-test file
//! run with the row's flags must exit with the row's status.
//!
//! The corpus is found at `$WASMETHEUS_CONFORMANCE/rules` (default:
//! `<workspace>/../shared/conformance/rules`); test files are read from its
//! `promtool/` directory, their rule files relative to them.
//!
//! `unittest.yml` passes too, native histogram expressions included (plain
//! selectors, with the counter-reset hints the TSDB head gives).

use std::path::{Path, PathBuf};

use wasmetheus_ruletest::{TestRulesArgs, run};

fn corpus() -> PathBuf {
    let base = std::env::var_os("WASMETHEUS_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        });
    let rules = base.join("rules");
    assert!(
        rules.join("README.md").is_file(),
        "the conformance corpus is missing: {} has no README.md. Set WASMETHEUS_CONFORMANCE \
         to the directory that holds rules/README.md and rules/promtool",
        rules.display()
    );
    rules
}

/// A table row: file, flags (from the backticked part of the column),
/// expected exit status.
fn rows(readme: &str) -> Vec<(String, Vec<String>, i32)> {
    readme
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line
                .trim()
                .strip_prefix('|')?
                .strip_suffix('|')?
                .split('|')
                .map(str::trim)
                .collect();
            let [file, flags, exit] = cells.as_slice() else {
                return None;
            };
            let exit: i32 = exit.parse().ok()?;
            let flags = flags
                .split('`')
                .nth(1)
                .map(|f| f.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default();
            Some((file.to_string(), flags, exit))
        })
        .collect()
}

fn args_for(path: PathBuf, flags: &[String]) -> TestRulesArgs {
    let mut args = TestRulesArgs {
        files: vec![path],
        ..TestRulesArgs::default()
    };
    let mut it = flags.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--run" => args
                .run
                .push(it.next().expect("--run takes a value").clone()),
            "--diff" => args.diff = true,
            "--ignore-unknown-fields" => args.ignore_unknown_fields = true,
            other => panic!("flag {other} in the README table is not known to this test"),
        }
    }
    args
}

#[test]
fn every_row_of_the_readme_table_exits_as_upstream() {
    let root = corpus();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let rows = rows(&readme);
    assert!(rows.len() >= 19, "the table has {} rows", rows.len());
    let mut problems = Vec::new();
    for (file, flags, want) in rows {
        let args = args_for(root.join("promtool").join(&file), &flags);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let got = run(&args, &mut out, &mut err);
        let err = String::from_utf8_lossy(&err);
        if got != want {
            problems.push(format!("{file} {flags:?}: exit {got}, want {want}\n{err}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `failing.yml`'s report, as promtool prints it (compared with Debian's
/// promtool 2.42, whose standard error is the same; its standard output
/// starts with `Unit Testing:  failing.yml`, which Prometheus 3 dropped).
#[test]
fn failing_yml_reads_as_promtool_prints_it() {
    let root = corpus().join("promtool");
    let args = args_for(root.join("failing.yml"), &[]);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert_eq!(run(&args, &mut out, &mut err), 1);
    expect_test::expect![[r#"
        |  FAILED:
        |    name: Failing test,
        |    alertname: Test, time: 0s, 
        |        exp:[
        |            0:
        |              Labels:{alertname="Test"}
        |              Annotations:{}
        |            ], 
        |        got:[]
        |    expr: "test", time: 0s,
        |        exp: {__name__="test"} 1E+00
        |        got: {__name__="test"} 0E+00
        |    name: Failing alert test,
        |    alertname: InstanceDown, time: 5m, 
        |        exp:[], 
        |        got:[
        |            0:
        |              Labels:{alertname="InstanceDown", job="test", severity="page"}
        |              Annotations:{description=" of job test has been down for more than 5 minutes.", summary="Instance  down"}
        |            ]
        |    name: Failing alert test,
        |    alertname: AlwaysFiring, time: 5m, 
        |        exp:[], 
        |        got:[
        |            0:
        |              Labels:{alertname="AlwaysFiring"}
        |              Annotations:{}
        |            ]
    "#]].assert_eq(&margin(&String::from_utf8_lossy(&err)));
    // One empty line per failure, then one for the file.
    assert_eq!(String::from_utf8_lossy(&out), "\n".repeat(5));
}

/// Each line behind a `|`, so the snapshot keeps leading spaces.
fn margin(text: &str) -> String {
    text.lines().map(|l| format!("|{l}\n")).collect()
}
