//! Every rule file of the conformance corpus loads or fails as Prometheus
//! 3.14's `rulefmt` does: `rules/fixtures/` (the rule manager's fixtures)
//! and the rule files of `rules/promtool/` (promtool's test data).
//!
//! The corpus is found at `$WASMETHEUS_CONFORMANCE/rules` (default:
//! `<workspace>/../shared/conformance/rules`). Files are read by paths
//! relative to that directory, so errors name them as `promtool/x.yml`.
//! Every mismatch is collected and reported at once.
//!
//! Where Debian's promtool 2.42 differs from 3.14 on these files:
//! `features.yml` (experimental functions, duration expressions, anchored
//! ranges and `fill` modifiers; 2.42 also refused its UTF-8 recording rule
//! names) loads in 3.x; an unknown field is reported in type
//! `rulefmt.Rule`/`rulefmt.RuleGroup` (2.42: `rulefmt.RuleNode`).

use std::path::{Path, PathBuf};

use wasmetheus_rules::rulefmt::{self, ParseOptions};

fn corpus() -> PathBuf {
    let base = std::env::var_os("WASMETHEUS_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        });
    let rules = base.join("rules");
    assert!(
        rules.join("fixtures").is_dir() && rules.join("promtool").is_dir(),
        "the conformance corpus is missing: {} has no fixtures/ and promtool/. Set \
         WASMETHEUS_CONFORMANCE to the directory that holds rules/",
        rules.display()
    );
    rules
}

/// What loading a file gives: the number of groups and rules, or a text
/// every error message together must contain.
enum Expect {
    Loads { groups: usize, rules: usize },
    Fails(&'static [&'static str]),
}

use Expect::{Fails, Loads};

/// Each rule file with what upstream's loader does with it, with unknown
/// fields refused (`false`) or ignored (`true`).
const FILES: &[(&str, bool, Expect)] = &[
    (
        "fixtures/alert_rule.yaml",
        false,
        Loads {
            groups: 1,
            rules: 1,
        },
    ),
    (
        "fixtures/alert_rule1.yaml",
        false,
        Loads {
            groups: 1,
            rules: 1,
        },
    ),
    (
        "fixtures/invalid_rules.yaml",
        false,
        Fails(&["6:9: field unexpected_field not found in type rulefmt.Rule"]),
    ),
    (
        "fixtures/invalid_rules.yaml",
        true,
        Loads {
            groups: 1,
            rules: 1,
        },
    ),
    (
        "fixtures/rules.yaml",
        false,
        Loads {
            groups: 1,
            rules: 1,
        },
    ),
    (
        "fixtures/rules1.yaml",
        false,
        Loads {
            groups: 1,
            rules: 1,
        },
    ),
    (
        "fixtures/rules2.yaml",
        false,
        Loads {
            groups: 1,
            rules: 1,
        },
    ),
    (
        "fixtures/rules2_copy.yaml",
        false,
        Loads {
            groups: 1,
            rules: 1,
        },
    ),
    (
        "fixtures/rules_chain.yaml",
        false,
        Loads {
            groups: 1,
            rules: 7,
        },
    ),
    (
        "fixtures/rules_dependencies.yaml",
        false,
        Loads {
            groups: 1,
            rules: 2,
        },
    ),
    (
        "fixtures/rules_indeterminates.yaml",
        false,
        Loads {
            groups: 1,
            rules: 7,
        },
    ),
    // Only the first document is read.
    (
        "fixtures/rules_multi_doc.yaml",
        false,
        Loads {
            groups: 1,
            rules: 1,
        },
    ),
    (
        "fixtures/rules_multiple.yaml",
        false,
        Loads {
            groups: 1,
            rules: 6,
        },
    ),
    (
        "fixtures/rules_multiple_dependents_on_base.yaml",
        false,
        Loads {
            groups: 1,
            rules: 8,
        },
    ),
    (
        "fixtures/rules_multiple_groups.yaml",
        false,
        Loads {
            groups: 2,
            rules: 10,
        },
    ),
    (
        "fixtures/rules_multiple_independent.yaml",
        false,
        Loads {
            groups: 1,
            rules: 8,
        },
    ),
    (
        "promtool/at-modifier.yml",
        false,
        Loads {
            groups: 1,
            rules: 1,
        },
    ),
    // Fails at evaluation, not at load.
    (
        "promtool/bad-rules-error.yml",
        false,
        Loads {
            groups: 1,
            rules: 1,
        },
    ),
    (
        "promtool/bad-rules-syntax.yml",
        false,
        Fails(&[
            "promtool/bad-rules-syntax.yml: 7:15: group \"bad-syntax\", rule 1, \"x\": could not parse expression: 1:7: parse error: unexpected end of input",
        ]),
    ),
    (
        "promtool/features.yml",
        false,
        Loads {
            groups: 1,
            rules: 4,
        },
    ),
    (
        "promtool/negative-offset.yml",
        false,
        Loads {
            groups: 1,
            rules: 1,
        },
    ),
    (
        "promtool/prometheus-config.rules.good.yml",
        false,
        Loads {
            groups: 1,
            rules: 0,
        },
    ),
    (
        "promtool/prometheus-rules.lint.yml",
        false,
        Loads {
            groups: 1,
            rules: 2,
        },
    ),
    (
        "promtool/rules-bad.yml",
        false,
        Fails(&[
            "promtool/rules-bad.yml: group \"alerts\", rule 1, \"InstanceDown\": annotation \"summary\": template: __alert_InstanceDown:1: undefined variable \"$label\"",
        ]),
    ),
    (
        "promtool/rules.yml",
        false,
        Loads {
            groups: 2,
            rules: 5,
        },
    ),
    (
        "promtool/rules_duplicates.yml",
        false,
        Loads {
            groups: 2,
            rules: 5,
        },
    ),
    (
        "promtool/rules_extrafields.yml",
        false,
        Fails(&["field namespace not found in type rulefmt.RuleGroup"]),
    ),
    (
        "promtool/rules_extrafields.yml",
        true,
        Loads {
            groups: 2,
            rules: 5,
        },
    ),
    (
        "promtool/rules_large.yml",
        false,
        Loads {
            groups: 1,
            rules: 10002,
        },
    ),
];

#[test]
fn every_rule_file_loads_or_fails_as_upstream() {
    let root = corpus();
    let mut failures = Vec::new();
    for (file, ignore_unknown_fields, expect) in FILES {
        let text = std::fs::read_to_string(root.join(file))
            .unwrap_or_else(|e| panic!("reading {file}: {e}"));
        let options = ParseOptions {
            ignore_unknown_fields: *ignore_unknown_fields,
        };
        let got = rulefmt::parse(&text, Path::new(file), &options);
        match (expect, got) {
            (Loads { groups, rules }, Ok(parsed)) => {
                let got_rules: usize = parsed.groups.iter().map(|g| g.rules.len()).sum();
                if parsed.groups.len() != *groups || got_rules != *rules {
                    failures.push(format!(
                        "{file}: {} groups, {got_rules} rules; want {groups}, {rules}",
                        parsed.groups.len()
                    ));
                }
            }
            (Loads { .. }, Err(errors)) => {
                let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
                failures.push(format!("{file}: should load, got {errors:?}"));
            }
            (Fails(texts), Ok(_)) => failures.push(format!("{file}: should fail with {texts:?}")),
            (Fails(texts), Err(errors)) => {
                let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
                let joined = all.join("\n");
                for text in *texts {
                    if !joined.contains(text) {
                        failures.push(format!("{file}: {text:?} not in {all:?}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every `.yml`/`.yaml` file of the corpus that is a rule file (it starts
/// a `groups:` list) is in [`FILES`], so a new upstream fixture is noticed.
#[test]
fn the_table_names_every_rule_file_of_the_corpus() {
    let root = corpus();
    let mut missing = Vec::new();
    for dir in ["fixtures", "promtool"] {
        let mut entries: Vec<_> = std::fs::read_dir(root.join(dir))
            .expect("reading the corpus")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if !text.lines().any(|l| l.starts_with("groups:")) {
                continue;
            }
            let name = format!(
                "{dir}/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            if !FILES.iter().any(|(f, ..)| *f == name) {
                missing.push(name);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "rule files without an expectation: {missing:?}"
    );
}
