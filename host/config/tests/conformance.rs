//! The configuration conformance corpus: Prometheus 3.14's own config
//! fixtures (`testdata/`), the example configurations it ships
//! (`examples/`) and the error text upstream expects for each bad fixture
//! (`expected_errors.tsv`), all read from outside the repository.
//!
//! The corpus is found at `$WASMETHEUS_CONFORMANCE/config` (default:
//! `<workspace>/../shared/conformance/config`). Files are loaded by paths
//! relative to that directory, as upstream's `config_test.go` loads them
//! (`testdata/x.yml`), so messages that name the file (`parsing YAML file
//! testdata/x.yml: …`) compare as upstream's do. Every failure is collected
//! and reported at once.
//!
//! Fixtures upstream's test loads in a particular way, and how this test
//! reads them:
//! - `agent_mode.*`: upstream loads them with agent mode on, which rejects
//!   `alerting`, `rule_files` and `remote_read`. wasmetheus has no agent
//!   mode (it always evaluates rules and sends alerts), so each loads as a
//!   server-mode Prometheus loads it: all of them load.
//! - `*.incompatible.yml`: OTLP translation strategies that need UTF-8
//!   names while `global.metric_name_validation_scheme` is `legacy`;
//!   upstream expects the error below.
//! - `otlp_empty.yml`, `scrape_config_*validation_mode.yml`,
//!   `scrape_config_local_infer_escaping.yml`: good files without the
//!   `.good` suffix; they load.
//! - `config_with_deprecated_am_api_config.yml`: Alertmanager API `v1`,
//!   which Prometheus 3 no longer supports: rejected.
//! - `static_config.bad.yml` is a bare target group (upstream unmarshals it
//!   as one, not as a configuration): read as a `static_configs` entry, it
//!   is rejected for its `!!binary` label name.
//! - Bad files not in `expected_errors.tsv` are checked by upstream's other
//!   tests (`GetScrapeConfigs` for `scrape_config_files*`, the OTLP tests);
//!   their texts are in [`OTHER_BAD`]. Prometheus reads the files that
//!   `scrape_config_files` names only when it applies the configuration;
//!   wasmetheus reads them when it loads the file, so the errors upstream's
//!   `GetScrapeConfigs` reports are load errors here.

use std::path::{Path, PathBuf};
use wasmetheus_config::Config;

/// Bad fixtures that `expected_errors.tsv` does not list, with the text
/// upstream's tests expect (each text must appear in the error).
const OTHER_BAD: &[(&str, &[&str])] = &[
    (
        "otlp_allow_utf8.bad.yml",
        &[r#"unsupported OTLP translation strategy "Invalid""#],
    ),
    (
        "otlp_ignore_resource_attributes_without_promote_all.bad.yml",
        &[
            "'ignore_resource_attributes' cannot be configured unless 'promote_all_resource_attributes' is true",
        ],
    ),
    (
        "otlp_promote_all_resource_attributes.bad.yml",
        &[
            "'promote_all_resource_attributes' and 'promote_resource_attributes' cannot be configured simultaneously",
        ],
    ),
    (
        "otlp_sanitize_ignore_resource_attributes.bad.yml",
        &[
            "invalid 'ignore_resource_attributes'",
            r#"duplicated ignored OTel resource attribute "k8s.job.name""#,
            "empty ignored OTel resource attribute",
        ],
    ),
    (
        "otlp_sanitize_promote_resource_attributes.bad.yml",
        &[
            "invalid 'promote_resource_attributes'",
            r#"duplicated promoted OTel resource attribute "k8s.job.name""#,
            "empty promoted OTel resource attribute",
        ],
    ),
    (
        "scrape_config_files.bad.yml",
        &[
            r#"scrape timeout greater than scrape interval for scrape config with job name "prometheus""#,
        ],
    ),
    (
        "scrape_config_files_double_import.bad.yml",
        &[r#"found multiple scrape configs with job name "prometheus""#],
    ),
    (
        "scrape_config_files_duplicate.bad.yml",
        &[r#"found multiple scrape configs with job name "prometheus""#],
    ),
    (
        "scrape_config_files_global.bad.yml",
        &[
            r#"scrape timeout greater than scrape interval for scrape config with job name "prometheus""#,
        ],
    ),
    (
        "scrape_config_files_global_duplicate.bad.yml",
        &[r#"found multiple scrape configs with job name "prometheus""#],
    ),
    (
        "config_with_deprecated_am_api_config.yml",
        &["expected Alertmanager api version to be one of [v2] but got v1"],
    ),
    (
        "otlp_allow_utf8.incompatible.yml",
        &[
            r#"OTLP translation strategy "NoUTF8EscapingWithSuffixes" is not allowed when UTF8 is disabled"#,
        ],
    ),
    (
        "otlp_no_translation.incompatible.yml",
        &[r#"OTLP translation strategy "NoTranslation" is not allowed when UTF8 is disabled"#],
    ),
];

/// Fixtures that load although their name does not end in `.good.yml`.
const OTHER_GOOD: &[&str] = &[
    "agent_mode.good.yml",
    "agent_mode.with_alert_manager.yml",
    "agent_mode.with_alert_relabels.yml",
    "agent_mode.with_remote_reads.yml",
    "agent_mode.with_rule_files.yml",
    "agent_mode.without_remote_writes.yml",
    "otlp_empty.yml",
    "scrape_config_default_validation_mode.yml",
    "scrape_config_global_validation_mode.yml",
    "scrape_config_local_global_validation_mode.yml",
    "scrape_config_local_infer_escaping.yml",
    "scrape_config_local_validation_mode.yml",
];

/// Fixtures that are not configuration files, or not read as one.
const NOT_CONFIGS: &[(&str, &str)] = &[(
    "static_config.bad.yml",
    "a bare target group; checked as a static_configs entry below",
)];

/// Files in `examples/` that Prometheus does not load as its configuration
/// file, and why. Every other `*.yml` there must load (its Makefile checks
/// `prometheus-*.yml` with promtool); the subdirectories hold code and
/// Kubernetes manifests, not configurations.
const EXAMPLES_NOT_CONFIGS: &[(&str, &str)] = &[
    (
        "promtool-http-config-file.yml",
        "promtool's --http.config.file (an HTTP client configuration)",
    ),
    (
        "web-config.yml",
        "--web.config.file (TLS and authentication of the web server)",
    ),
    ("rbac-setup.yml", "Kubernetes manifests"),
];

fn corpus() -> PathBuf {
    let base = std::env::var_os("WASMETHEUS_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        });
    let config = base.join("config");
    assert!(
        config.join("expected_errors.tsv").is_file(),
        "the conformance corpus is missing: {} has no expected_errors.tsv. Set \
         WASMETHEUS_CONFORMANCE to the directory that holds config/testdata, \
         config/examples and config/expected_errors.tsv",
        config.display()
    );
    config
}

/// `expected_errors.tsv`: file name and the text its error must contain.
/// The file writes the texts as Go source does (`\"`, `\\`, `\xff`).
fn expected_errors(root: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root.join("expected_errors.tsv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (file, message) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("expected_errors.tsv: no tab in {line:?}"));
            (file.to_owned(), unescape(message))
        })
        .collect()
}

/// The TSV keeps some of Go's escapes: `\"` for `"` where the Go literal
/// was double-quoted. `\xff` stays as written: upstream's `%q` prints the
/// invalid byte that way, and so must we.
fn unescape(message: &str) -> String {
    message.replace("\\\"", "\"")
}

fn load(path: &str) -> Result<Config, String> {
    Config::load(Path::new(path)).map_err(|e| e.to_string())
}

fn sorted_files(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| keep(n))
        .collect();
    names.sort();
    names
}

#[test]
fn prometheus_config_corpus() {
    let root = corpus();
    // Upstream loads `testdata/<file>` from the directory above testdata.
    // The other test in this binary uses absolute paths only.
    std::env::set_current_dir(&root).unwrap();
    let mut failures: Vec<String> = Vec::new();
    let mut checked = 0;

    let testdata = sorted_files(Path::new("testdata"), |n| {
        n.ends_with(".yml") || n.ends_with(".yaml")
    });
    let tsv = expected_errors(&root);

    // Every fixture must be accounted for, so a new one is noticed.
    for name in &testdata {
        let known = name.ends_with(".good.yml")
            || OTHER_GOOD.contains(&name.as_str())
            || tsv.iter().any(|(f, _)| f == name)
            || OTHER_BAD.iter().any(|(f, _)| f == name)
            || NOT_CONFIGS.iter().any(|(f, _)| f == name);
        if !known {
            failures.push(format!(
                "testdata/{name}: not classified (good, bad with its text, or not a config)"
            ));
        }
    }

    for name in testdata
        .iter()
        .filter(|n| n.ends_with(".good.yml") || OTHER_GOOD.contains(&n.as_str()))
    {
        checked += 1;
        match load(&format!("testdata/{name}")) {
            Err(e) => failures.push(format!("testdata/{name}: should load, got: {e}")),
            // What status/config shows hides the fixtures' secrets
            // (upstream's TestElideSecrets) and, where it shows none, loads
            // again (its round-trip tests; a `<secret>` placeholder need not
            // pass a mechanism's format checks).
            Ok(config) => {
                let shown = config.to_yaml();
                if shown.contains("mysecret") {
                    failures.push(format!("testdata/{name}: status/config shows a secret"));
                }
                if shown.contains(wasmetheus_config::SECRET_TOKEN) {
                    continue;
                }
                if let Err(e) = Config::parse(&shown, Path::new("shown.yml")) {
                    failures.push(format!(
                        "testdata/{name}: its status/config text does not load again: {e}\n{shown}"
                    ));
                }
            }
        }
    }

    let bad = tsv
        .iter()
        .map(|(f, m)| (f.as_str(), vec![m.as_str()]))
        .chain(OTHER_BAD.iter().map(|(f, ms)| (*f, ms.to_vec())));
    for (name, wanted) in bad {
        checked += 1;
        match load(&format!("testdata/{name}")) {
            Ok(_) => failures.push(format!(
                "testdata/{name}: should be rejected with {:?}, but loads",
                wanted[0]
            )),
            Err(e) => {
                for want in wanted {
                    if !e.contains(want) {
                        failures.push(format!(
                            "testdata/{name}: error should contain {want:?}, got: {e}"
                        ));
                    }
                }
            }
        }
    }

    // static_config.bad.yml is one target group, as upstream reads it.
    checked += 1;
    let group = std::fs::read_to_string("testdata/static_config.bad.yml").unwrap();
    if serde_saphyr::from_str::<wasmetheus_config::StaticConfig>(&group).is_ok() {
        failures.push("testdata/static_config.bad.yml: a !!binary label name was accepted".into());
    }

    for name in sorted_files(Path::new("examples"), |n| n.ends_with(".yml")) {
        if EXAMPLES_NOT_CONFIGS.iter().any(|(f, _)| *f == name) {
            continue;
        }
        checked += 1;
        if let Err(e) = load(&format!("examples/{name}")) {
            failures.push(format!("examples/{name}: should load, got: {e}"));
        }
    }

    assert!(
        failures.is_empty(),
        "{} of {checked} corpus checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every fixture cut short after each of its lines (an editor's half-saved
/// file) is read without a panic, and an error points into the text.
#[test]
fn truncated_fixtures_fail_cleanly() {
    let root = corpus();
    let dir = root.join("testdata");
    for name in sorted_files(&dir, |n| n.ends_with(".yml")) {
        let text = std::fs::read_to_string(dir.join(&name)).unwrap();
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        // At most about 50 cuts a file, so the long fixtures stay cheap.
        for cut in (0..lines.len()).step_by(lines.len().div_ceil(50).max(1)) {
            let prefix: String = lines[..cut].concat();
            if let Err(wasmetheus_config::ConfigError::Invalid { line, .. }) =
                Config::parse(&prefix, Path::new(&name))
            {
                assert!(line as usize <= cut + 1, "{name} cut at {cut}: line {line}");
            }
        }
    }
}
