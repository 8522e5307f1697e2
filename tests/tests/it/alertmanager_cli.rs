//! `wasmetheus alertmanager check-config` against Debian's `amtool
//! check-config` (0.25) on the same files: the same report on stdout, the
//! same summary on stderr and the same exit code — valid files, broken
//! routes, templates that do not parse, missing files, several files at
//! once, and the conformance fixtures 0.25 reads alike.

use std::path::Path;
use std::process::Command;

const AMTOOL: &str = "/usr/bin/amtool";

#[derive(Debug, PartialEq)]
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn amtool(dir: &Path, files: &[&str]) -> Outcome {
    assert!(
        Path::new(AMTOOL).exists(),
        "{AMTOOL} not found: install the Debian package `prometheus-alertmanager`"
    );
    let output = Command::new(AMTOOL)
        .arg("check-config")
        .args(files)
        .current_dir(dir)
        .output()
        .expect("running amtool");
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Ours, in process, on the same relative paths (the reports name files
/// as given).
fn ours(dir: &Path, files: &[&str]) -> Outcome {
    let args = wasmetheus::alertmanager_check::CheckConfigArgs {
        files: files.iter().map(|f| dir.join(f)).collect(),
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = wasmetheus::alertmanager_check::run(&args, &mut out, &mut err);
    let shown = format!("{}/", dir.display());
    Outcome {
        code: i32::from(code),
        stdout: String::from_utf8_lossy(&out).replace(&shown, ""),
        stderr: String::from_utf8_lossy(&err).replace(&shown, ""),
    }
}

#[test]
fn check_config_prints_what_amtool_prints() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = |name: &str, text: &str| std::fs::write(d.join(name), text).unwrap();
    write(
        "good.yml",
        "global:\n  resolve_timeout: 1m\nroute:\n  receiver: team\n  group_by: ['...']\n  routes:\n    - matchers: ['severity=\"page\"']\n      receiver: pager\ninhibit_rules:\n  - source_matchers: [severity=page]\n    target_matchers: [severity=ticket]\n    equal: [alertname]\nreceivers:\n  - name: team\n    webhook_configs: [{url: 'http://127.0.0.1:5001/'}]\n  - name: pager\ntemplates: ['tmpl/*.tmpl']\n",
    );
    write(
        "undefined.yml",
        "route: {receiver: nobody}\nreceivers: [{name: team}]\n",
    );
    write("not-yaml.yml", "route: [\n");
    write(
        "bad-template.yml",
        "route: {receiver: x}\nreceivers: [{name: x}]\ntemplates: ['bad/*.tmpl']\n",
    );
    std::fs::create_dir(d.join("tmpl")).unwrap();
    write(
        "tmpl/ok.tmpl",
        "{{ define \"x\" }}{{ .Status | toUpper }}{{ end }}",
    );
    std::fs::create_dir(d.join("bad")).unwrap();
    write("bad/b.tmpl", "{{ define \"a\" }}{{ .Foo }{{ end }}");
    let cases: &[&[&str]] = &[
        &["good.yml"],
        &["undefined.yml"],
        &["bad-template.yml"],
        &["good.yml", "undefined.yml", "bad-template.yml"],
        &["missing.yml"],
        &["good.yml", "missing.yml"],
    ];
    let mut failures = Vec::new();
    for files in cases {
        let (theirs, mine) = (amtool(d, files), ours(d, files));
        if theirs != mine {
            failures.push(format!(
                "{files:?}\n  amtool: {theirs:?}\n  ours:   {mine:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // YAML syntax errors are worded by our YAML reader, not Go's yaml.v2
    // (`yaml: line 1: did not find expected node content`): the same
    // outcome, another text.
    let (theirs, mine) = (amtool(d, &["not-yaml.yml"]), ours(d, &["not-yaml.yml"]));
    assert_eq!((theirs.code, &theirs.stderr), (mine.code, &mine.stderr));
    assert!(
        theirs
            .stdout
            .starts_with("Checking 'not-yaml.yml'  FAILED: yaml: ")
            && mine
                .stdout
                .starts_with("Checking 'not-yaml.yml'  FAILED: yaml: "),
        "{theirs:?}\n{mine:?}"
    );
}
