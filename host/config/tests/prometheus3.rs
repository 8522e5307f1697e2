//! The Prometheus 3 file format beyond the corpus: YAML nulls as Go reads
//! them, global defaults inherited by scrape configs, external label
//! expansion, `scrape_config_files`, the "parsed, not in effect yet"
//! warnings, Go's error texts, and hostile input.

use expect_test::{Expect, expect};
use std::path::Path;
use wasmetheus_config::Config;

fn env(name: &str) -> Option<String> {
    match name {
        "REGION" => Some("eu-west".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

fn parse(text: &str) -> Result<Config, String> {
    Config::parse_with_env(text, Path::new("prometheus.yml"), env).map_err(|e| e.to_string())
}

fn check(text: &str, expect: Expect) {
    let actual = match parse(text) {
        Ok(config) => {
            let mut out = String::new();
            for (name, value) in &config.global.external_labels {
                out.push_str(&format!("external_label {name}={value:?}\n"));
            }
            for s in &config.scrape_configs {
                out.push_str(&format!(
                    "job {} interval={} timeout={} body_size_limit={} sample_limit={} \
                     protocols={:?} scheme={:?} escaping={} targets={:?} discoveries={:?}\n",
                    s.job_name,
                    s.scrape_interval,
                    s.scrape_timeout,
                    s.body_size_limit,
                    s.sample_limit,
                    s.scrape_protocols.clone().unwrap_or_default(),
                    s.metric_name_validation_scheme,
                    s.metric_name_escaping_scheme,
                    s.static_configs
                        .iter()
                        .flat_map(|c| c.targets.clone())
                        .collect::<Vec<_>>(),
                    s.service_discoveries(),
                ));
            }
            for w in &config.warnings {
                out.push_str(&format!("warning: {w}\n"));
            }
            out
        }
        Err(e) => format!("error: {e}\n"),
    };
    expect.assert_eq(&actual);
}

#[test]
fn commented_out_lists_are_empty_as_in_go() {
    // Prometheus' shipped prometheus.yml: every target commented out.
    check(
        "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets:\n          # - alertmanager:9093\nrule_files:\n  # - a.yml\nscrape_configs:\n  - job_name: p\n    static_configs:\n      - targets:\n    relabel_configs:\n",
        expect![[r#"
            job p interval=1m timeout=10s body_size_limit=0B sample_limit=0 protocols=["OpenMetricsText1.0.0", "OpenMetricsText0.0.1", "PrometheusText1.0.0", "PrometheusText0.0.4"] scheme=Utf8 escaping=allow-utf-8 targets=[] discoveries=[]
        "#]],
    );
}

#[test]
fn a_metrics_path_without_a_slash_loads_as_in_prometheus() {
    let config = parse("scrape_configs:\n  - job_name: a\n    metrics_path: metrics\n").unwrap();
    assert_eq!(config.scrape_configs[0].metrics_path, "metrics");
}

#[test]
fn scrape_configs_inherit_global_limits_and_protocols() {
    check(
        "global:\n  scrape_interval: 15s\n  body_size_limit: 15MB\n  sample_limit: 1500\n  scrape_native_histograms: true\n  metric_name_validation_scheme: legacy\nscrape_configs:\n  - job_name: a\n  - job_name: b\n    sample_limit: 10\n    scrape_protocols: [PrometheusText0.0.4]\n    metric_name_validation_scheme: utf8\n    consul_sd_configs:\n      - server: localhost:8500\n",
        expect![[r#"
            job a interval=15s timeout=10s body_size_limit=15MiB sample_limit=1500 protocols=["PrometheusProto", "OpenMetricsText1.0.0", "OpenMetricsText0.0.1", "PrometheusText1.0.0", "PrometheusText0.0.4"] scheme=Legacy escaping=underscores targets=[] discoveries=[]
            job b interval=15s timeout=10s body_size_limit=15MiB sample_limit=10 protocols=["PrometheusText0.0.4"] scheme=Utf8 escaping=allow-utf-8 targets=[] discoveries=[("consul", 1)]
            warning: prometheus.yml:5:3: parsed, not in effect yet: global.scrape_native_histograms
            warning: prometheus.yml:11:5: parsed, not in effect yet: scrape_configs.scrape_protocols
        "#]],
    );
}

#[test]
fn external_labels_expand_the_environment_as_os_expand() {
    check(
        "global:\n  external_labels:\n    region: ${REGION}\n    zone: $REGION-a\n    literal: a$$b\n    unset: x${UNSET}y\n    empty: ${EMPTY}\n",
        expect![[r#"
            external_label empty=""
            external_label literal="a$b"
            external_label region="eu-west"
            external_label unset="xy"
            external_label zone="eu-west-a"
            warning: prometheus.yml:2:3: external label value: environment variable EMPTY is empty
            warning: prometheus.yml:2:3: external label value: environment variable UNSET is empty
        "#]],
    );
}

#[test]
fn go_texts_for_structural_errors() {
    for (text, want) in [
        (
            "scrape_configs: []\nscrape_configs: []\n",
            "prometheus.yml:2:1: parsing YAML file prometheus.yml: field scrape_configs already set in type config.plain",
        ),
        (
            "global:\n  scrape_intervall: 1s\n",
            "prometheus.yml:2:3: parsing YAML file prometheus.yml: field scrape_intervall not found in type config.plain",
        ),
        (
            "scrape_configs:\n  - job_name: a\n    honor_labelz: true\n",
            "field honor_labelz not found in type config.ScrapeConfig",
        ),
        (
            "global:\n  external_labels:\n    a: b\n    a: c\n",
            r#"key "a" already set in map"#,
        ),
        (
            "global:\n  external_labels:\n    !!binary \"/w==\": v\n",
            r#""\xff" is not a valid label name"#,
        ),
        (
            "global:\n  body_size_limit: 100\n",
            "units: unknown unit  in 100",
        ),
        (
            "global:\n  scrape_protocols: []\n",
            "scrape_protocols cannot be empty for global config",
        ),
        (
            "global:\n  metric_name_escaping_scheme: commas\nscrape_configs:\n  - job_name: a\n",
            "unknown global name escaping method specified, must be one of 'allow-utf-8', 'underscores', 'dots', or 'values', got \"commas\"",
        ),
        (
            "storage:\n  tsdb:\n    retention:\n      size: -1GB\n",
            "'storage.tsdb.retention.size' must be greater than or equal to 0",
        ),
        (
            "tracing:\n  endpoint: x\n  client_type: udp\n",
            "expected tracing client type to be to be http or grpc, but got udp",
        ),
        (
            "scrape_config_files: ['a/*/b.yml']\n",
            r#"invalid scrape config file path "a/*/b.yml""#,
        ),
        (
            "scrape_configs:\n  -\n",
            "empty or null scrape config section",
        ),
        (
            "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files:\n",
            "file service discovery config must contain at least one path name",
        ),
        (
            "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: [a/*/b.json]\n",
            r#"path name "a/*/b.json" is not valid for file discovery"#,
        ),
        (
            "scrape_configs:\n  - job_name: a\n    dns_sd_configs:\n      - names: [x]\n        type: txt\n",
            "invalid DNS-SD records type txt",
        ),
        (
            "scrape_configs:\n  - job_name: a\n  - job_name: b\n  - job_name: a\n",
            "prometheus.yml:4:5: parsing YAML file prometheus.yml: found multiple scrape configs with job name \"a\"",
        ),
        (
            "scrape_configs:\n  - job_name: 'q'\n    scrape_interval: 1s\n    scrape_timeout: 2s\n",
            "prometheus.yml:2:5: parsing YAML file prometheus.yml: scrape timeout greater than scrape interval",
        ),
        (
            "scrape_configs:\n  - job_name: a\n    static_configs:\n      - labels: {'': x}\n",
            r#""" is not a valid label name"#,
        ),
    ] {
        let error = parse(text).expect_err(text);
        assert!(error.contains(want), "{text:?}: {error}");
    }
}

#[test]
fn scrape_config_files_are_read_relative_to_the_file() {
    let dir = std::env::temp_dir().join(format!("wasmetheus-scf-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("jobs")).unwrap();
    std::fs::write(
        dir.join("prometheus.yml"),
        "global:\n  scrape_interval: 7s\nscrape_config_files:\n  - jobs/*.yml\nscrape_configs:\n  - job_name: main\n",
    )
    .unwrap();
    std::fs::write(dir.join("jobs/a.yml"), "scrape_configs:\n  - job_name: a\n").unwrap();
    std::fs::write(
        dir.join("jobs/b.yml"),
        "scrape_configs:\n  - job_name: b\n    enable_compression: false\n",
    )
    .unwrap();
    std::fs::write(dir.join("jobs/skip.txt"), "not yaml: [").unwrap();
    let config = Config::load(&dir.join("prometheus.yml")).unwrap();
    let jobs: Vec<(&str, String)> = config
        .scrape_configs
        .iter()
        .map(|s| (s.job_name.as_str(), s.scrape_interval.to_string()))
        .collect();
    assert_eq!(
        jobs,
        [
            ("main", "7s".into()),
            ("a", "7s".into()),
            ("b", "7s".into())
        ]
    );
    let warning = config.warnings.last().unwrap();
    assert!(
        warning
            .ends_with("b.yml:3:5: parsed, not in effect yet: scrape_configs.enable_compression"),
        "{warning}"
    );

    // A job name used twice, and a `global` in an included file.
    std::fs::write(
        dir.join("jobs/c.yml"),
        "scrape_configs:\n  - job_name: main\n",
    )
    .unwrap();
    let error = Config::load(&dir.join("prometheus.yml"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("c.yml:2:5: "), "{error}");
    assert!(
        error.contains(
            r#"found multiple scrape configs with job name "main", first found in main config file"#
        ),
        "{error}"
    );
    std::fs::write(dir.join("jobs/c.yml"), "global:\n  scrape_interval: 1s\n").unwrap();
    let error = Config::load(&dir.join("prometheus.yml"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("field global not found in type"), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_field_in_the_table_is_warned_about_once() {
    let text = "global:\n  evaluation_interval: 1m\n  query_log_file: q.log\nruntime:\n  gogc: 50\nstorage:\n  exemplars:\n    max_exemplars: 10\nscrape_configs:\n  - job_name: a\n    enable_http2: false\n  - job_name: b\n    enable_http2: false\nalerting:\n  alertmanagers:\n    - follow_redirects: false\n";
    let config = parse(text).unwrap();
    assert_eq!(
        config.warnings,
        [
            "prometheus.yml:3:3: parsed, not in effect yet: global.query_log_file",
            "prometheus.yml:4:1: parsed, not in effect yet: runtime",
            "prometheus.yml:7:3: parsed, not in effect yet: storage.exemplars",
            "prometheus.yml:11:5: parsed, not in effect yet: scrape_configs.enable_http2",
            "prometheus.yml:16:7: parsed, not in effect yet: alerting.alertmanagers.follow_redirects",
        ]
    );
    for key in wasmetheus_config::NOT_IN_EFFECT {
        assert!(!key.is_empty() && !key.ends_with('.'), "{key}");
    }
}

#[test]
fn hostile_input_is_refused_without_crashing() {
    // Deep nesting.
    let deep = format!(
        "global:\n  external_labels: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(parse(&deep).is_err());
    let deep_maps = format!("plugins: {}{}\n", "{a: ".repeat(50_000), "}".repeat(50_000));
    assert!(parse(&deep_maps).is_err());
    // An alias bomb: each level doubles the one before.
    let mut bomb = String::from("a0: &a0 [x, x]\n");
    for i in 1..40 {
        bomb.push_str(&format!("a{i}: &a{i} [*a{}, *a{}]\n", i - 1, i - 1));
    }
    bomb.push_str("global:\n  external_labels: *a39\n");
    assert!(parse(&bomb).is_err());
    // Malformed YAML.
    for text in [
        "global: [",
        "scrape_configs:\n  - job_name: a\n   x: y\n",
        "\u{0}",
        ": :",
    ] {
        assert!(parse(text).is_err(), "{text:?}");
    }
    // A large file of targets loads.
    let mut big =
        String::from("scrape_configs:\n  - job_name: big\n    static_configs:\n      - targets:\n");
    for i in 0..50_000 {
        big.push_str(&format!("          - host{i}:9100\n"));
    }
    let config = parse(&big).unwrap();
    assert_eq!(
        config.scrape_configs[0].static_configs[0].targets.len(),
        50_000
    );
    // Many jobs: positions are looked up only for errors, so this stays
    // linear (a lookup per job would scan the whole file 20000 times).
    let mut jobs = String::from("scrape_configs:\n");
    for i in 0..20_000 {
        jobs.push_str(&format!(
            "  - job_name: job{i}\n    static_configs: [{{targets: [h:1]}}]\n"
        ));
    }
    assert_eq!(parse(&jobs).unwrap().scrape_configs.len(), 20_000);
}

#[test]
fn new_sections_show_in_status_config_with_defaults() {
    let config = parse(
        "global:\n  scrape_interval: 30s\n  body_size_limit: 1GB512MB\nstorage:\n  tsdb:\n    retention:\n      time: 30d\n      percentage: 12.5\n    chunk_encoding:\n      floats: xor2\n  exemplars:\n    max_exemplars: 5\ntracing:\n  endpoint: collector:4317\n  headers:\n    x-tenant: a\notlp:\n  promote_resource_attributes: [' service.name ']\nruntime:\n  gogc: 0\n",
    )
    .unwrap();
    expect![[r#"
        global:
          scrape_interval: 30s
          scrape_timeout: 10s
          evaluation_interval: 1m
          body_size_limit: 1GiB512MiB
          metric_name_validation_scheme: utf8
          scrape_native_histograms: false
        runtime:
          gogc: 75
        storage:
          tsdb:
            out_of_order_time_window: 0s
            retention:
              time: 30d
              percentage: 12.5
            chunk_encoding:
              floats: xor2
          exemplars:
            max_exemplars: 5
        tracing:
          client_type: grpc
          endpoint: collector:4317
          tls_config:
            insecure_skip_verify: false
          headers:
            x-tenant: a
        otlp:
          promote_resource_attributes:
          - service.name
          translation_strategy: UnderscoreEscapingWithSuffixes
          label_name_underscore_sanitization: true
          label_name_preserve_multiple_underscores: true
    "#]]
    .assert_eq(&config.to_yaml());
}
