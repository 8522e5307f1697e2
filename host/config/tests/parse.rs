//! Data-driven tests of configuration parsing: one input, one snapshot.

use expect_test::{Expect, expect};
use std::path::Path;
use wasmetheus_config::Config;

fn check(input: &str, expect: Expect) {
    let actual = match Config::parse(input, Path::new("prometheus.yml")) {
        Ok(config) => {
            let mut out = String::new();
            out.push_str(&format!(
                "scrape_interval={} timeout={}\n",
                config.global.scrape_interval, config.global.scrape_timeout
            ));
            for instance in &config.plugins.instances {
                let grants = config.plugins.grants_for(&instance.plugin, Some(instance));
                out.push_str(&format!(
                    "instance {} plugin={} read={:?} tcp={:?} dns={} config={}\n",
                    instance.name,
                    instance.plugin,
                    grants.read_paths,
                    grants.tcp_connect,
                    grants.dns,
                    instance.config.clone().unwrap_or_default()
                ));
            }
            for warning in &config.warnings {
                out.push_str(&format!("warning: {warning}\n"));
            }
            out
        }
        Err(e) => format!("error: {e}\n"),
    };
    expect.assert_eq(&actual);
}

#[test]
fn empty_file_gives_prometheus_defaults() {
    check(
        "",
        expect![[r#"
        scrape_interval=1m timeout=10s
    "#]],
    );
}

#[test]
fn instances_with_merged_grants() {
    check(
        r#"
global:
  scrape_interval: 15s
plugins:
  grants:
    node-exporter:
      read_paths: [/proc]
  instances:
    - name: node
      plugin: node-exporter
      grants:
        read_paths: [/sys]
        dns: true
      config:
        procfs: /proc
"#,
        expect![[r#"
            scrape_interval=15s timeout=10s
            instance node plugin=node-exporter read=["/proc", "/sys"] tcp=[] dns=true config={"procfs":"/proc"}
        "#]],
    );
}

#[test]
fn unknown_key_is_an_error_with_position() {
    check(
        "plugins:\n  instances:\n    - name: a\n      plugin: b\n      grant: {}\n",
        expect![[r#"
            error: prometheus.yml:5:7: unknown field `grant`, expected one of name, plugin, job, scrape_interval, scrape_timeout, memory_limit, config, grants, labels
        "#]],
    );
}

#[test]
fn bad_duration_is_positioned() {
    check(
        "global:\n  scrape_interval: 15 seconds\n",
        expect![[r#"
            error: prometheus.yml:2:20: not a valid duration string: "15 seconds"
        "#]],
    );
}

#[test]
fn duplicate_instance_names_are_rejected() {
    check(
        "plugins:\n  instances:\n    - name: a\n      plugin: x\n    - name: a\n      plugin: y\n",
        expect![[r#"
            error: prometheus.yml:3:7: plugin instance name "a" is used twice; instance names must be unique
        "#]],
    );
}

#[test]
fn prometheus_sections_not_acted_on_are_warned_about() {
    check(
        "rule_files:\n  - rules.yml\n",
        expect![[r#"
            scrape_interval=1m timeout=10s
            warning: prometheus.yml:1:1: `rule_files` is valid Prometheus configuration that this version of wasmetheus does not act on yet; it is ignored
        "#]],
    );
}

#[test]
fn scrape_configs_are_checked_like_prometheus() {
    check(
        "global:\n  scrape_interval: 5s\nscrape_configs:\n  - job_name: a\n    static_configs: [{targets: [h:1]}]\n",
        expect![[r#"
            scrape_interval=5s timeout=5s
        "#]],
    );
    check(
        "scrape_configs:\n  - job_name: a\n  - job_name: a\n",
        expect![[r#"
            error: prometheus.yml:2:5: found multiple scrape configs with job name "a"
        "#]],
    );
    check(
        "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 6s\n",
        expect![[r#"
            error: prometheus.yml:2:5: scrape timeout greater than scrape interval for scrape config with job name "a"
        "#]],
    );
    check(
        "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: hashmod\n        target_label: x\n",
        expect![[r#"
            error: prometheus.yml:4:9: relabel configuration for hashmod requires non-zero modulus
        "#]],
    );
    check(
        "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targetz: [h:1]\n",
        expect![[r#"
            error: prometheus.yml:4:9: unknown field `targetz`, expected one of targets, labels
        "#]],
    );
    check(
        "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: p}\n    authorization: {credentials: t}\n",
        expect![[r#"
            error: prometheus.yml:2:5: at most one of basic_auth, oauth2 & authorization must be configured
        "#]],
    );
}

#[test]
fn timeout_above_interval_is_rejected() {
    check(
        "global:\n  scrape_interval: 5s\n  scrape_timeout: 10s\n",
        expect![[r#"
            error: prometheus.yml:3:3: global scrape_timeout 10s is greater than scrape_interval 5s
        "#]],
    );
}

#[test]
fn an_unset_timeout_is_capped_at_the_interval_as_in_prometheus() {
    check(
        "global:\n  scrape_interval: 1s\n",
        expect![[r#"
            scrape_interval=1s timeout=1s
        "#]],
    );
    check(
        "global:\n  scrape_interval: 30s\n",
        expect![[r#"
            scrape_interval=30s timeout=10s
        "#]],
    );
}

#[test]
fn instance_names_must_be_plain() {
    check(
        "plugins:\n  instances:\n    - name: a/b\n      plugin: x\n",
        expect![[r#"
            error: prometheus.yml:3:7: plugin instance name "a/b" is invalid: use letters, digits, `-`, `_` and `.`
        "#]],
    );
}

#[test]
fn plugin_config_must_be_a_mapping() {
    check(
        "plugins:\n  instances:\n    - name: a\n      plugin: x\n      config: [1, 2]\n",
        expect![[r#"
            error: prometheus.yml:3:7: plugin instance "a": `config` must be a mapping of the plugin's settings
        "#]],
    );
}
