//! `wasmetheus check config` against `promtool check config` (Debian's
//! Prometheus 2.42): the same files, the same arguments, the same stdout,
//! stderr and exit code, but for these differences, which are ours:
//!
//! - wasmetheus prints Prometheus 3.x's wording where 3.x changed it: a
//!   rule file's errors are printed unindented (2.42 indents them by five
//!   spaces), an unknown `--lint` option is quoted, and the
//!   `too-long-scrape-interval` lint exists (2.42 has none);
//! - a configuration error carries our `LINE:COL: ` position in front of
//!   Prometheus' message;
//! - after promtool's lines for a file, wasmetheus lists the fields it
//!   parsed but does not act on yet (`Config::warnings`), one
//!   `  WARNING: ` line each, then a blank line;
//! - the examples in the conformance corpus that 2.42 cannot read (3.x
//!   fields and discovery mechanisms it lacks) are checked against what
//!   Prometheus 3 prints for a valid file.
//!
//! Files are named by absolute paths, so both print the same paths.

use std::path::{Path, PathBuf};

use wasmetheus::check_config::{CheckConfigArgs, run};

/// What a run printed, and its exit code.
#[derive(Debug, PartialEq)]
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `check config ARGS`, in process, without our own warnings (see
/// [`without_our_warnings`]).
fn ours(args: &[&str]) -> Outcome {
    let (mut outcome, files) = ours_whole(args);
    for file in &files {
        outcome.stdout = without_our_warnings(&outcome.stdout, file);
    }
    outcome
}

/// `check config ARGS`, in process, all it prints, and the files it was
/// given; flags as `--name` or `--name=value`.
fn ours_whole(args: &[&str]) -> (Outcome, Vec<PathBuf>) {
    let mut parsed = CheckConfigArgs {
        files: Vec::new(),
        syntax_only: false,
        lint: "duplicate-rules".into(),
        lint_fatal: false,
        ignore_unknown_fields: false,
        lookback_delta: std::time::Duration::from_secs(300),
    };
    for arg in args {
        match arg.split_once('=').unwrap_or((arg, "")) {
            ("--syntax-only", _) => parsed.syntax_only = true,
            ("--lint-fatal", _) => parsed.lint_fatal = true,
            ("--ignore-unknown-fields", _) => parsed.ignore_unknown_fields = true,
            ("--lint", value) => parsed.lint = value.to_owned(),
            ("--query.lookback-delta", value) => {
                parsed.lookback_delta = wasmetheus_config::PromDuration::parse(value).unwrap().0
            }
            (flag, _) if flag.starts_with("--") => panic!("unknown flag {flag}"),
            _ => parsed.files.push(PathBuf::from(arg)),
        }
    }
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run(&parsed, &mut out, &mut err);
    let outcome = Outcome {
        code: i32::from(code),
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
    };
    (outcome, parsed.files)
}

fn promtool(args: &[&str]) -> Outcome {
    let promtool = which("promtool").expect(
        "promtool not found: install the Debian package `prometheus` (apt-get install prometheus)",
    );
    let out = std::process::Command::new(promtool)
        .args(["check", "config"])
        .args(args)
        .output()
        .unwrap();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

/// `ours` prints our own warnings block after promtool's lines for each
/// file; this is the output without it for `file` (the fields
/// `Config::load` reports as not in effect, then the discovery mechanisms
/// that do not run, each as a `  WARNING: ` line, then a blank line).
fn without_our_warnings(stdout: &str, file: &Path) -> String {
    let Ok(config) = wasmetheus_config::Config::load(file) else {
        return stdout.to_owned();
    };
    let ours = wasmetheus::check_config::our_warnings(file, &config);
    if ours.is_empty() {
        return stdout.to_owned();
    }
    let block: String = ours
        .iter()
        .map(|w| format!("  WARNING: {w}\n"))
        .chain(std::iter::once("\n".to_owned()))
        .collect();
    assert!(
        stdout.contains(&block),
        "our warnings for {} missing:\n{stdout}",
        file.display()
    );
    stdout.replacen(&block, "", 1)
}

/// Runs both and asserts the same outcome; ours.
fn same(args: &[&str]) -> Outcome {
    let theirs = promtool(args);
    let mine = ours(args);
    assert_eq!(
        mine,
        theirs,
        "`check config {}`: ours, then promtool's",
        args.join(" ")
    );
    mine
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

const RULES: &str = "groups:
  - name: g
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: Down
        expr: up == 0
        for: 5m
        labels:
          severity: page
        annotations:
          summary: down
";

#[test]
fn a_valid_config_with_rule_and_sd_files_prints_as_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "rules.yml", RULES);
    write(
        d,
        "more/a.yml",
        "groups:\n  - name: a\n    rules:\n      - record: a\n        expr: vector(1)\n",
    );
    write(d, "more/b.yml", "");
    write(
        d,
        "sd/targets.json",
        r#"[{"targets": ["h1:9100"], "labels": {"env": "prod"}}]"#,
    );
    write(d, "sd/other.yml", "- targets: [h2:9100]\n");
    write(d, "token", "secret\n");
    let config = write(
        d,
        "prometheus.yml",
        "global:
  scrape_interval: 15s
rule_files:
  - rules.yml
  - more/*.yml
scrape_configs:
  - job_name: self
    static_configs:
      - targets: [localhost:9090]
        labels: {team: a}
  - job_name: nodes
    authorization:
      credentials_file: token
    file_sd_configs:
      - files: [sd/*.json, sd/other.yml, sd/absent.json]
alerting:
  alertmanagers:
    - file_sd_configs:
        - files: [am/*.yml]
",
    );
    let outcome = same(&[&config]);
    assert_eq!(outcome.code, 0);
    // What promtool prints for it, spelled out.
    let path = |name: &str| d.join(name).display().to_string();
    assert_eq!(
        outcome.stdout,
        format!(
            "Checking {config}
  WARNING: file \"{}\" for file_sd in scrape job \"nodes\" does not exist
  WARNING: file \"{}\" for file_sd in alertmanager config does not exist
  SUCCESS: 3 rule files found
 SUCCESS: {config} is valid prometheus config file syntax

Checking {}
  SUCCESS: 2 rules found

Checking {}
  SUCCESS: 1 rules found

Checking {}
  SUCCESS: 0 rules found

",
            path("sd/absent.json"),
            path("am/*.yml"),
            path("rules.yml"),
            path("more/a.yml"),
            path("more/b.yml"),
        )
    );
    // --syntax-only reads no other file.
    let outcome = same(&["--syntax-only", &config]);
    assert_eq!(
        outcome.stdout,
        format!("Checking {config}\n SUCCESS: {config} is valid prometheus config file syntax\n\n")
    );
}

/// `path` relative to the working directory (both run in the same one).
fn relative(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap();
    let ups = cwd.components().count() - 1;
    let mut relative = "../".repeat(ups);
    relative.push_str(path.strip_prefix("/").unwrap().to_str().unwrap());
    relative
}

/// A configuration named by a relative path: the files it names are
/// resolved against its directory once, as Prometheus does, and printed
/// as Go's `filepath.Join` makes them.
#[test]
fn files_of_a_config_named_relatively_print_as_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "rules/a.yml", "groups: []\n");
    write(d, "token", "x\n");
    write(d, "sd/a.json", "[]");
    let config = write(
        d,
        "prometheus.yml",
        "rule_files: [rules/a.yml, ./rules/*.yml]
scrape_configs:
  - job_name: a
    authorization:
      credentials_file: ./token
    file_sd_configs:
      - files: [sd/a.json, sd/../sd/absent.json]
  - job_name: b
    tls_config:
      cert_file: certs/absent.crt
      key_file: certs/absent.key
",
    );
    let config = relative(Path::new(&config));
    let outcome = same(&[&config]);
    assert_eq!(outcome.code, 1);
    let base = config.trim_end_matches("prometheus.yml");
    assert!(
        outcome
            .stdout
            .contains(&format!("\"{base}sd/absent.json\"")),
        "{outcome:?}"
    );
    assert!(
        outcome
            .stderr
            .contains(&format!("stat {base}certs/absent.crt: no such file")),
        "{outcome:?}"
    );
}

/// A relatively named configuration with `scrape_config_files` (which
/// promtool 2.42 does not read, so ours alone): its rule and file SD files
/// resolve against its directory, an included file's against that file's
/// own directory, each joined once.
#[test]
fn an_included_file_of_a_relatively_named_config_resolves_against_its_own_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "cfg/rules/a.yml", RULES);
    write(d, "cfg/sd/a.json", "[{\"targets\": [\"h:1\"]}]");
    write(d, "cfg/pw", "p\n");
    write(d, "inc/own.json", "[{\"targets\": [\"h:2\"]}]");
    write(
        d,
        "inc/jobs.yml",
        "scrape_configs:
  - job_name: included
    file_sd_configs: [{files: [own.json, absent.json]}]
",
    );
    let config = write(
        d,
        "cfg/prometheus.yml",
        "rule_files: [rules/*.yml]
scrape_config_files: [../inc/*.yml]
scrape_configs:
  - job_name: main
    basic_auth: {username: u, password_file: pw}
    tls_config: {ca_file: ca.pem}
    file_sd_configs: [{files: [sd/a.json]}]
",
    );
    let config = relative(Path::new(&config));
    let cfg = config.trim_end_matches("/prometheus.yml");
    let inc = format!("{}/inc", cfg.trim_end_matches("/cfg"));
    let (outcome, _) = ours_whole(&[&config]);
    assert_eq!(outcome.code, 0, "{outcome:?}");
    assert!(
        outcome.stdout.contains(&format!(
            "Checking {cfg}/rules/a.yml\n  SUCCESS: 2 rules found\n"
        )),
        "{outcome:?}"
    );
    assert!(
        outcome.stdout.contains(&format!(
            "  WARNING: file \"{inc}/absent.json\" for file_sd in scrape job \"included\" does not exist\n"
        )),
        "{outcome:?}"
    );
    // A malformed file SD file in the included file's directory is read
    // from there.
    write(d, "inc/own.json", "[{\"targets\": 1}]");
    let (outcome, _) = ours_whole(&[&config]);
    assert_eq!(outcome.code, 1, "{outcome:?}");
    assert!(
        outcome
            .stderr
            .contains(&format!("checking SD file \"{inc}/own.json\"")),
        "{outcome:?}"
    );
}

#[test]
fn missing_files_a_config_names_fail_as_in_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // An explicit rule file that does not exist.
    let config = write(d, "rules.yml", "rule_files: [absent.yml]\n");
    let outcome = same(&[&config]);
    assert_eq!(outcome.code, 1);
    assert!(
        outcome
            .stderr
            .contains("does not point to an existing file"),
        "{outcome:?}"
    );
    // A credentials file that does not exist.
    let config = write(
        d,
        "credentials.yml",
        "scrape_configs:\n  - job_name: a\n    authorization:\n      credentials_file: absent-token\n",
    );
    let outcome = same(&[&config]);
    assert_eq!(outcome.code, 1);
    assert!(
        outcome.stderr.contains("no such file or directory"),
        "{outcome:?}"
    );
    // Client certificate and key files that do not exist.
    let config = write(
        d,
        "tls.yml",
        "scrape_configs:\n  - job_name: a\n    tls_config:\n      cert_file: absent.crt\n      key_file: absent.key\n",
    );
    let outcome = same(&[&config]);
    assert_eq!(outcome.code, 1);
    assert!(
        outcome.stderr.contains("error checking client cert file"),
        "{outcome:?}"
    );
    // None of that is looked at with --syntax-only.
    assert_eq!(same(&["--syntax-only", &config]).code, 0);
    // Kubernetes discovery's own client certificate, likewise (Debian's
    // promtool is built without Kubernetes discovery: ours alone).
    let config = write(
        d,
        "kubernetes.yml",
        "scrape_configs:\n  - job_name: k\n    kubernetes_sd_configs:\n      - role: pod\n        api_server: https://127.0.0.1:6443\n        tls_config:\n          cert_file: k8s.crt\n          key_file: k8s.key\n",
    );
    let cert = d.join("k8s.crt").display().to_string();
    assert_eq!(
        ours(&[&config]),
        Outcome {
            code: 1,
            stdout: format!("Checking {config}\n\n"),
            stderr: format!(
                "  FAILED: error checking client cert file \"{cert}\": stat {cert}: no such file or directory\n"
            ),
        }
    );
    assert_eq!(ours(&["--syntax-only", &config]).code, 0);
    // A malformed file SD file.
    write(d, "bad.json", "[{\"targets\": ");
    let config = write(
        d,
        "sd.yml",
        "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: [bad.json]\n",
    );
    let theirs = promtool(&[&config]);
    let mine = ours(&[&config]);
    assert_eq!((mine.code, &mine.stdout), (theirs.code, &theirs.stdout));
    assert_eq!(mine.code, 1);
    // The JSON parser's own words differ after the file's name.
    let prefix = format!(
        "  FAILED: checking SD file \"{}\": ",
        d.join("bad.json").display()
    );
    assert!(mine.stderr.starts_with(&prefix), "{mine:?}");
    assert!(theirs.stderr.starts_with(&prefix), "{theirs:?}");
}

/// Alertmanager targets go through the Alertmanager's relabeling and
/// need a host name, as promtool checks them (even with --syntax-only).
#[test]
fn alertmanager_targets_are_checked_as_in_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = write(
        d,
        "prometheus.yml",
        "alerting:
  alertmanagers:
    - static_configs:
        - targets: ['am:9093']
    - path_prefix: /am
      relabel_configs:
        - source_labels: [__alerts_path__]
          target_label: __address__
          replacement: 'host$1'
      static_configs:
        - targets: ['am:9093']
",
    );
    for args in [
        vec![config.as_str()],
        vec!["--syntax-only", config.as_str()],
    ] {
        let outcome = same(&args);
        assert_eq!(outcome.code, 1);
        assert_eq!(
            outcome.stderr,
            "  FAILED: \"host/am/api/v2/alerts\" is not a valid hostname\n"
        );
    }
    // Dropped by relabeling: nothing to check.
    let config = write(
        d,
        "dropped.yml",
        "alerting:
  alertmanagers:
    - relabel_configs:
        - action: drop
          source_labels: [__address__]
          regex: 'a/.*'
      static_configs:
        - targets: ['a/b:9093']
",
    );
    assert_eq!(same(&[&config]).code, 0);
}

#[test]
fn an_invalid_config_fails_with_prometheus_message_and_our_position() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bad = write(
        d,
        "bad.yml",
        "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 10s\n",
    );
    let good = write(d, "good.yml", "scrape_configs:\n  - job_name: a\n");
    let args = [bad.as_str(), good.as_str()];
    let theirs = promtool(&args);
    let mine = ours(&args);
    assert_eq!((mine.code, &mine.stdout), (theirs.code, &theirs.stdout));
    assert_eq!(mine.code, 1);
    let message =
        "scrape timeout greater than scrape interval for scrape config with job name \"a\"";
    assert_eq!(
        theirs.stderr,
        format!("  FAILED: parsing YAML file {bad}: {message}\n")
    );
    // Ours names where: the job's entry.
    assert_eq!(
        mine.stderr,
        format!("  FAILED: parsing YAML file {bad}: 2:5: {message}\n")
    );
}

/// An error in a file `scrape_config_files` names is promtool 3's
/// `error loading scrape configs` (2.42 has no such files: ours alone).
#[test]
fn an_included_scrape_config_file_fails_as_in_promtool_3() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let included = write(
        d,
        "scrape/a.yml",
        "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 10s\n",
    );
    let config = write(d, "prometheus.yml", "scrape_config_files: [scrape/*.yml]\n");
    let outcome = ours(&[&config]);
    assert_eq!(outcome.code, 1);
    assert_eq!(outcome.stdout, format!("Checking {config}\n\n"));
    assert_eq!(
        outcome.stderr,
        format!(
            "  FAILED: error loading scrape configs: \"{included}\": 2:5: scrape timeout greater than scrape interval for scrape config with job name \"a\"\n"
        )
    );
}

#[test]
fn rule_files_are_checked_and_linted_as_promtool_3_does() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "dup.yml",
        "groups:
  - name: g
    rules:
      - record: x
        expr: up
        labels: {team: a}
      - record: x
        expr: up
        labels: {team: a}
",
    );
    let config = write(d, "prometheus.yml", "rule_files: [dup.yml]\n");
    let lint_error = "1 duplicate rule(s) found.\nMetric: x\nLabel(s):\n\tteam: a\nMight cause inconsistency while recording expressions";
    for (args, code) in [(vec![], 0), (vec!["--lint-fatal"], 3)] {
        let mut args = args;
        args.push(config.as_str());
        let theirs = promtool(&args);
        let mine = ours(&args);
        assert_eq!((mine.code, &mine.stdout), (theirs.code, &theirs.stdout));
        assert_eq!(mine.code, code);
        // 3.x prints the error as is; 2.42 indents its first line.
        assert_eq!(mine.stderr, format!("  FAILED:\nlint error {lint_error}\n"));
        assert_eq!(
            theirs.stderr,
            format!("  FAILED:\n     lint error {lint_error}\n")
        );
    }
    // 3.x: a group's labels count too (2.42 has no group labels): the same
    // name and labels once merged is a duplicate.
    write(
        d,
        "group-labels.yml",
        "groups:\n  - name: g\n    labels: {team: a}\n    rules:\n      - record: x\n        expr: up\n      - record: x\n        expr: up\n        labels: {team: a}\n",
    );
    let grouped = write(d, "grouped.yml", "rule_files: [group-labels.yml]\n");
    let mine = ours(&["--lint-fatal", &grouped]);
    assert_eq!(mine.code, 3, "{mine:?}");
    assert_eq!(mine.stderr, format!("  FAILED:\nlint error {lint_error}\n"));
    // Fields of one's own in a rule file: refused, every one of them, unless
    // ignored (3.x; its rules are `rulefmt.Rule`, 2.42's `rulefmt.RuleNode`).
    write(
        d,
        "extended.yml",
        "groups:\n  - name: g\n    owner: team-a\n    rules:\n      - record: x\n        expr: up\n        runbook: http://wiki\n",
    );
    let extended = write(d, "extended-config.yml", "rule_files: [extended.yml]\n");
    let mine = ours(&[&extended]);
    assert_eq!(mine.code, 1, "{mine:?}");
    assert_eq!(
        mine.stderr,
        format!(
            "  FAILED:\n{0}: 3:5: field owner not found in type rulefmt.RuleGroup\n\
             {0}: 7:9: field runbook not found in type rulefmt.Rule\n",
            d.join("extended.yml").display()
        )
    );
    let mine = ours(&["--ignore-unknown-fields", &extended]);
    assert_eq!(mine.code, 0, "{mine:?}");
    assert!(
        mine.stdout.contains("  SUCCESS: 1 rules found\n"),
        "{mine:?}"
    );
    // --lint=none: no lint, no failure.
    let outcome = same(&["--lint=none", "--lint-fatal", &config]);
    assert_eq!(outcome.code, 0);
    assert!(
        outcome.stdout.contains("SUCCESS: 2 rules found"),
        "{outcome:?}"
    );

    // Structural errors: every one is reported, with rulefmt's words.
    write(
        d,
        "broken.yml",
        "groups:
  - name: g
    rules:
      - record: a
        alert: b
        expr: up
      - record: c
        expr: 'sum(('
  - name: g
    rules: []
",
    );
    let config = write(d, "broken-config.yml", "rule_files: [broken.yml]\n");
    let mine = ours(&[&config]);
    let theirs = promtool(&[&config]);
    // 3.x prints no blank line after a rule file that does not parse.
    assert_eq!(
        (mine.code, format!("{}\n", mine.stdout)),
        (theirs.code, theirs.stdout.clone())
    );
    assert_eq!(mine.code, 1);
    let broken = d.join("broken.yml").display().to_string();
    let lines: Vec<&str> = mine.stderr.lines().collect();
    assert_eq!(lines[0], "  FAILED:");
    assert_eq!(
        lines[1],
        format!(
            "{broken}: 4:17: 5:16: group \"g\", rule 1, \"b\": only one of 'record' and 'alert' must be set"
        )
    );
    assert!(
        lines[2].starts_with(&format!(
            "{broken}: 8:15: group \"g\", rule 2, \"c\": could not parse expression: "
        )),
        "{lines:?}"
    );
    assert_eq!(
        lines[3],
        format!("{broken}: 9:5: groupname: \"g\" is repeated in the same file")
    );
    // promtool reports the same errors (2.42 indents them and words the
    // PromQL error its own way).
    let theirs_lines: Vec<&str> = theirs.stderr.lines().map(str::trim_start).collect();
    assert_eq!(theirs_lines[0], "FAILED:");
    for (mine, theirs) in lines[1..].iter().zip(&theirs_lines[1..]) {
        let cut = |l: &str| {
            l.split("could not parse expression")
                .next()
                .unwrap()
                .to_owned()
        };
        assert_eq!(cut(mine), cut(theirs));
    }
}

#[test]
fn the_scrape_interval_lint_is_prometheus_3s() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "prometheus.yml",
        "scrape_configs:\n  - job_name: slow\n    scrape_interval: 10m\n    scrape_timeout: 1m\n",
    );
    let failed = "  FAILED: too long scrape interval found, data point will be marked as stale - job: slow, interval: 10m\n";
    let outcome = ours(&["--lint=all", &config]);
    assert_eq!((outcome.code, outcome.stderr.as_str()), (0, failed));
    let outcome = ours(&["--lint=too-long-scrape-interval", "--lint-fatal", &config]);
    assert_eq!((outcome.code, outcome.stderr.as_str()), (3, failed));
    // Within a longer lookback delta it is fine.
    let outcome = ours(&[
        "--lint=all",
        "--lint-fatal",
        "--query.lookback-delta=15m",
        &config,
    ]);
    assert_eq!((outcome.code, outcome.stderr.as_str()), (0, ""));
    // Not by default.
    assert_eq!(ours(&["--lint-fatal", &config]).code, 0);
    // An unknown option is named, quoted as 3.x does.
    let outcome = ours(&["--lint=bogus", &config]);
    assert!(
        outcome
            .stdout
            .starts_with("WARNING: unknown lint option: \"bogus\"\n"),
        "{outcome:?}"
    );
}

#[test]
fn a_file_that_does_not_exist_is_refused_before_any_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.yml", "");
    let absent = dir.path().join("absent.yml");
    let outcome = ours(&[&good, absent.to_str().unwrap()]);
    assert_eq!(outcome.code, 1);
    assert_eq!(outcome.stdout, "");
    assert!(outcome.stderr.contains("does not exist"), "{outcome:?}");
    assert_eq!(promtool(&[&good, absent.to_str().unwrap()]).stdout, "");
}

#[test]
fn hostile_rule_globs_and_files_do_not_hang_or_panic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, &"a".repeat(200), "");
    // Many stars against a long name: decided once per (pattern, name) pair.
    let config = write(
        d,
        "globs.yml",
        &format!("rule_files: ['{}b']\n", "*a".repeat(60)),
    );
    let outcome = ours(&[&config]);
    assert_eq!(outcome.code, 0, "{outcome:?}");
    assert!(outcome.stdout.contains(" SUCCESS: "), "{outcome:?}");
    // A rule file nested past any sane depth, and one that is not YAML.
    write(
        d,
        "deep.yml",
        &format!("groups: {}{}\n", "[".repeat(5000), "]".repeat(5000)),
    );
    write(d, "binary.yml", "\u{0}\u{1}groups: [");
    let config = write(d, "files.yml", "rule_files: [deep.yml, binary.yml]\n");
    let outcome = ours(&[&config]);
    assert_eq!(outcome.code, 1, "{outcome:?}");
    assert_eq!(
        outcome.stderr.matches("  FAILED:").count(),
        2,
        "{outcome:?}"
    );
}

/// A FIFO where a rule file or a file SD file is expected is refused, not
/// read (reading it would block until something writes to it).
#[test]
fn a_fifo_named_by_a_glob_does_not_block_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("rules")).unwrap();
    std::fs::create_dir_all(d.join("sd")).unwrap();
    for fifo in ["rules/fifo.yml", "sd/fifo.json"] {
        let made = std::process::Command::new("mkfifo")
            .arg(d.join(fifo))
            .status()
            .expect("mkfifo (coreutils) is needed");
        assert!(made.success());
    }
    let rules = write(d, "rules.yml", "rule_files: [rules/*.yml]\n");
    let sd = write(
        d,
        "sd.yml",
        "scrape_configs:\n  - job_name: a\n    file_sd_configs: [{files: [sd/*.json]}]\n",
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send((ours(&[&rules]), ours(&[&sd])));
    });
    let (rules, sd) = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("check config blocked on a FIFO");
    assert_eq!(rules.code, 1, "{rules:?}");
    assert!(
        rules.stderr.contains("fifo.yml: not a regular file"),
        "{rules:?}"
    );
    assert_eq!(sd.code, 1, "{sd:?}");
    assert!(
        sd.stderr.contains("fifo.json: not a regular file"),
        "{sd:?}"
    );
}

/// `../shared/conformance` unless `WASMETHEUS_CONFORMANCE` says otherwise.
fn conformance() -> PathBuf {
    let root = std::env::var_os("WASMETHEUS_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance"));
    let examples = root.join("config/examples");
    assert!(
        examples.is_dir(),
        "{} not found: set WASMETHEUS_CONFORMANCE to the conformance data directory",
        examples.display()
    );
    examples
}

/// What Prometheus 3's promtool prints for the examples 2.42 cannot read
/// that are not simply valid: `(file, stderr)`.
const FAILING_IN_3: &[(&str, &str)] = &[(
    // Written for a pod: the service account's token is not here.
    "prometheus-kubernetes.yml",
    "  FAILED: error checking authorization credentials or bearer token file \"/var/run/secrets/kubernetes.io/serviceaccount/token\": stat /var/run/secrets/kubernetes.io/serviceaccount/token: no such file or directory\n",
)];

/// Examples that are not Prometheus configuration files at all.
const NOT_PROMETHEUS_CONFIGS: &[&str] = &[
    // Kubernetes RBAC objects.
    "rbac-setup.yml",
    // An exporter-toolkit web config (`check web-config`).
    "web-config.yml",
    // promtool's own HTTP client config.
    "promtool-http-config-file.yml",
];

#[test]
fn the_shipped_examples_print_as_promtool_prints_them() {
    let examples = conformance();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_str().unwrap().to_owned();
        if NOT_PROMETHEUS_CONFIGS.contains(&name.as_str()) {
            continue;
        }
        let path = file.to_str().unwrap();
        let theirs = promtool(&[path]);
        let mine = ours(&[path]);
        if theirs.code == 0 {
            if mine != theirs {
                failures.push(format!("{name}: ours {mine:?}\n  promtool's {theirs:?}"));
            }
        } else {
            // 2.42 cannot read it (3.x fields, discovery mechanisms it
            // lacks); Prometheus 3 reads it as valid.
            let expected = match FAILING_IN_3.iter().find(|(f, _)| *f == name) {
                Some((_, stderr)) => Outcome {
                    code: 1,
                    stdout: format!("Checking {path}\n\n"),
                    stderr: stderr.to_string(),
                },
                None => Outcome {
                    code: 0,
                    stdout: format!(
                        "Checking {path}\n SUCCESS: {path} is valid prometheus config file syntax\n\n"
                    ),
                    stderr: String::new(),
                },
            };
            if mine != expected {
                failures.push(format!("{name} (3.x only): ours {mine:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Ours, spelled out for one: Docker discovery is parsed, not run.
    let docker = examples.join("prometheus-docker.yml");
    let (outcome, _) = ours_whole(&[docker.to_str().unwrap()]);
    assert_eq!(outcome.code, 0);
    let out = outcome.stdout;
    let line = format!(
        "  WARNING: {}: scrape job \"docker-containers\": docker_sd_configs is parsed and validated, but this version of wasmetheus does not run it yet: it produces no targets\n",
        docker.display()
    );
    assert!(out.contains(&line), "{out}");
}
