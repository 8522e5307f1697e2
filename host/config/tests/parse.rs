//! Data-driven tests of configuration parsing: one input, one snapshot.

use expect_test::{Expect, expect};
use std::path::Path;
use wasmetheus_config::{Config, HttpClientConfig};

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
            for pattern in &config.rule_files {
                out.push_str(&format!("rule_file {}\n", pattern.0));
            }
            let alerting = &config.alerting;
            if !alerting.alert_relabel_configs.is_empty() {
                out.push_str(&format!(
                    "alert_relabel_configs {}\n",
                    alerting.alert_relabel_configs.len()
                ));
            }
            for am in &alerting.alertmanagers {
                let targets: Vec<&String> =
                    am.static_configs.iter().flat_map(|s| &s.targets).collect();
                let files: Vec<&String> =
                    am.file_sd_configs.iter().flat_map(|f| &f.files).collect();
                out.push_str(&format!(
                    "alertmanager scheme={} path_prefix={:?} timeout={} api={:?} targets={targets:?} \
                     files={files:?} relabel={} alert_relabel={} auth={}\n",
                    am.scheme,
                    am.path_prefix,
                    am.timeout,
                    am.api_version,
                    am.relabel_configs.len(),
                    am.alert_relabel_configs.len(),
                    auth(&am.http(), &am.other_auth()),
                ));
            }
            for rw in &config.remote_write {
                let q = &rw.queue_config;
                let m = &rw.metadata_config;
                out.push_str(&format!(
                    "remote_write url={} name={:?} timeout={} headers={:?} relabel={} \
                     message={} exemplars={} native_histograms={} auth={}\n  \
                     queue capacity={} shards={}..{} per_send={} deadline={} backoff={}..{} \
                     retry_429={} age_limit={}\n  \
                     metadata send={} every={} per_send={}\n",
                    rw.url,
                    rw.name,
                    rw.remote_timeout,
                    rw.headers,
                    rw.write_relabel_configs.len(),
                    rw.protobuf_message.as_str(),
                    rw.send_exemplars,
                    rw.send_native_histograms,
                    auth(&rw.http, &rw.other_auth),
                    q.capacity,
                    q.min_shards,
                    q.max_shards,
                    q.max_samples_per_send,
                    q.batch_send_deadline,
                    q.min_backoff,
                    q.max_backoff,
                    q.retry_on_rate_limit,
                    q.sample_age_limit,
                    m.send,
                    m.send_interval,
                    m.max_samples_per_send,
                ));
            }
            for rr in &config.remote_read {
                let oauth2: &[&str] = if rr.oauth2 { &["oauth2"] } else { &[] };
                out.push_str(&format!(
                    "remote_read url={} name={:?} timeout={} chunked_read_limit={} headers={:?} \
                     read_recent={} required_matchers={:?} filter_external_labels={} auth={}\n",
                    rr.url,
                    rr.name,
                    rr.remote_timeout,
                    rr.chunked_read_limit,
                    rr.headers,
                    rr.read_recent,
                    rr.required_matchers,
                    rr.filter_external_labels,
                    auth(&rr.http, oauth2),
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

/// The HTTP client's authentication and TLS, in a few words.
fn auth(http: &HttpClientConfig, other: &[&str]) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(basic) = &http.basic_auth {
        parts.push(format!("basic_auth({})", basic.username));
    }
    if let Some(authorization) = &http.authorization {
        parts.push(format!("authorization({})", authorization.kind));
    }
    if let Some(tls) = &http.tls_config {
        parts.push(format!("tls(ca={:?})", tls.ca_file));
    }
    parts.extend(other.iter().map(|s| s.to_string()));
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(",")
    }
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
            error: prometheus.yml:5:7: parsing YAML file prometheus.yml: field grant not found in type plugins.PluginInstanceConfig
        "#]],
    );
}

#[test]
fn bad_duration_is_positioned() {
    // Prometheus 3's text; 2.42: `not a valid duration string: "15 seconds"`.
    check(
        "global:\n  scrape_interval: 15 seconds\n",
        expect![[r#"
            error: prometheus.yml:2:20: parsing YAML file prometheus.yml: unknown unit " seconds" in duration "15 seconds"
        "#]],
    );
    // promtool 2.42 and Prometheus 3 alike.
    check(
        "global:\n  scrape_interval: \"\"\n",
        expect![[r#"
            error: prometheus.yml:2:20: parsing YAML file prometheus.yml: empty duration string
        "#]],
    );
}

#[test]
fn durations_beyond_go_range_are_rejected() {
    // Go's time.Duration ends at about 292 years; 292y fits, 293y does not.
    // Prometheus (2.42's promtool and 3.x alike) does not name the text.
    check(
        "global:\n  scrape_interval: 293y\n",
        expect![[r#"
            error: prometheus.yml:2:20: parsing YAML file prometheus.yml: duration out of range
        "#]],
    );
    check(
        "global:\n  scrape_interval: 999999999999y\n",
        expect![[r#"
            error: prometheus.yml:2:20: parsing YAML file prometheus.yml: duration out of range
        "#]],
    );
    let ok = wasmetheus_config::PromDuration::parse("292y").unwrap();
    assert_eq!(ok.0.as_secs(), 292 * 365 * 86_400);
}

#[test]
fn duplicate_instance_names_are_rejected() {
    check(
        "plugins:\n  instances:\n    - name: a\n      plugin: x\n    - name: a\n      plugin: y\n",
        expect![[r#"
            error: prometheus.yml:3:7: parsing YAML file prometheus.yml: plugin instance name "a" is used twice; instance names must be unique
        "#]],
    );
}

#[test]
fn prometheus_sections_not_acted_on_are_warned_about() {
    check(
        "tracing:\n  endpoint: localhost:4317\n",
        expect![[r#"
            scrape_interval=1m timeout=10s
            warning: prometheus.yml:1:1: parsed, not in effect yet: tracing
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
            error: prometheus.yml:3:5: parsing YAML file prometheus.yml: found multiple scrape configs with job name "a"
        "#]],
    );
    check(
        "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 6s\n",
        expect![[r#"
            error: prometheus.yml:2:5: parsing YAML file prometheus.yml: scrape timeout greater than scrape interval for scrape config with job name "a"
        "#]],
    );
    check(
        "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: hashmod\n        target_label: x\n",
        expect![[r#"
            error: prometheus.yml:4:9: parsing YAML file prometheus.yml: relabel configuration for hashmod requires non-zero modulus
        "#]],
    );
    check(
        "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targetz: [h:1]\n",
        expect![[r#"
            error: prometheus.yml:4:9: parsing YAML file prometheus.yml: field targetz not found in type targetgroup.Group
        "#]],
    );
    check(
        "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: p}\n    authorization: {credentials: t}\n",
        expect![[r#"
            error: prometheus.yml:2:5: parsing YAML file prometheus.yml: at most one of basic_auth, oauth2 & authorization must be configured
        "#]],
    );
}

#[test]
fn timeout_above_interval_is_rejected() {
    check(
        "global:\n  scrape_interval: 5s\n  scrape_timeout: 10s\n",
        expect![[r#"
            error: prometheus.yml:2:3: parsing YAML file prometheus.yml: global scrape timeout greater than scrape interval
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
            error: prometheus.yml:3:7: parsing YAML file prometheus.yml: plugin instance name "a/b" is invalid: use letters, digits, `-`, `_` and `.`
        "#]],
    );
}

#[test]
fn plugin_config_must_be_a_mapping() {
    check(
        "plugins:\n  instances:\n    - name: a\n      plugin: x\n      config: [1, 2]\n",
        expect![[r#"
            error: prometheus.yml:3:7: parsing YAML file prometheus.yml: plugin instance "a": `config` must be a mapping of the plugin's settings
        "#]],
    );
}

#[test]
fn rule_files_alerting_and_remote_storage_get_prometheus_defaults() {
    check(
        r#"
rule_files:
  - rules.yml
  - rules.d/*.yml
alerting:
  alertmanagers:
    - static_configs:
        - targets: [am:9093]
remote_write:
  - url: http://remote/api/v1/write
remote_read:
  - url: http://remote/api/v1/read
"#,
        expect![[r#"
            scrape_interval=1m timeout=10s
            rule_file rules.yml
            rule_file rules.d/*.yml
            alertmanager scheme=http path_prefix="" timeout=10s api=V2 targets=["am:9093"] files=[] relabel=0 alert_relabel=0 auth=none
            remote_write url=http://remote/api/v1/write name="" timeout=30s headers={} relabel=0 message=prometheus.WriteRequest exemplars=false native_histograms=false auth=none
              queue capacity=10000 shards=1..50 per_send=2000 deadline=5s backoff=30ms..5s retry_429=false age_limit=0s
              metadata send=true every=1m per_send=2000
            remote_read url=http://remote/api/v1/read name="" timeout=1m chunked_read_limit=50000000 headers={} read_recent=false required_matchers={} filter_external_labels=true auth=none
        "#]],
    );
}

#[test]
fn every_setting_of_these_sections_is_read() {
    check(
        r#"
rule_files: ['/etc/rules/*.rules']
alerting:
  alert_relabel_configs:
    - action: labeldrop
      regex: replica
  alertmanagers:
    - scheme: https
      path_prefix: /am
      timeout: 5s
      api_version: v2
      basic_auth: {username: u, password_file: /pw}
      tls_config: {ca_file: ca.pem}
      file_sd_configs:
        - files: [am.json]
      relabel_configs:
        - source_labels: [__address__]
          target_label: instance
      alert_relabel_configs:
        - action: drop
          source_labels: [severity]
          regex: info
remote_write:
  - url: https://remote/write
    name: primary
    remote_timeout: 10s
    headers: {X-Scope-OrgID: team-a}
    write_relabel_configs:
      - source_labels: [__name__]
        regex: go_.*
        action: drop
    send_exemplars: true
    send_native_histograms: true
    protobuf_message: io.prometheus.write.v2.Request
    authorization: {credentials_file: /token}
    queue_config:
      capacity: 2500
      max_shards: 200
      min_shards: 2
      max_samples_per_send: 500
      batch_send_deadline: 10s
      min_backoff: 100ms
      max_backoff: 10s
      retry_on_http_429: true
      sample_age_limit: 1h
    metadata_config:
      send: false
  - url: https://other/write
    sigv4: {region: eu-west-1}
remote_read:
  - url: https://remote/read
    name: archive
    remote_timeout: 30s
    read_recent: true
    required_matchers: {tier: cold}
    filter_external_labels: false
    chunked_read_limit: 1000
    oauth2: {client_id: c, token_url: https://auth/token}
"#,
        expect![[r#"
            scrape_interval=1m timeout=10s
            rule_file /etc/rules/*.rules
            alert_relabel_configs 1
            alertmanager scheme=https path_prefix="/am" timeout=5s api=V2 targets=[] files=["am.json"] relabel=1 alert_relabel=1 auth=basic_auth(u),tls(ca=Some("ca.pem"))
            remote_write url=https://remote/write name="primary" timeout=10s headers={"X-Scope-OrgID": "team-a"} relabel=1 message=io.prometheus.write.v2.Request exemplars=true native_histograms=true auth=authorization(Bearer)
              queue capacity=2500 shards=2..200 per_send=500 deadline=10s backoff=100ms..10s retry_429=true age_limit=1h
              metadata send=false every=1m per_send=2000
            remote_write url=https://other/write name="" timeout=30s headers={} relabel=0 message=prometheus.WriteRequest exemplars=false native_histograms=false auth=sigv4
              queue capacity=10000 shards=1..50 per_send=2000 deadline=5s backoff=30ms..5s retry_429=false age_limit=0s
              metadata send=true every=1m per_send=2000
            remote_read url=https://remote/read name="archive" timeout=30s chunked_read_limit=1000 headers={} read_recent=true required_matchers={"tier": "cold"} filter_external_labels=false auth=oauth2
        "#]],
    );
}

#[test]
fn rule_files_alerting_and_remote_storage_are_checked_like_prometheus() {
    for (input, expect) in [
        (
            "rule_files: [a/*/b.yml]\n",
            expect![[r#"
                error: prometheus.yml:1:14: parsing YAML file prometheus.yml: invalid rule file path "a/*/b.yml"
            "#]],
        ),
        (
            "rule_files:\n  - ok.yml\n  - 'r/[.yml'\n",
            expect![[r#"
                error: prometheus.yml:3:5: parsing YAML file prometheus.yml: error retrieving rule files for r/[.yml: syntax error in pattern
            "#]],
        ),
        (
            "remote_write:\n  - name: x\n",
            expect![[r#"
                error: prometheus.yml:2:5: parsing YAML file prometheus.yml: url for remote_write is empty
            "#]],
        ),
        (
            "remote_read:\n  - name: x\n",
            expect![[r#"
                error: prometheus.yml:2:5: parsing YAML file prometheus.yml: url for remote_read is empty
            "#]],
        ),
        (
            "remote_write:\n  -\n",
            expect![[r#"
                error: prometheus.yml:1:1: parsing YAML file prometheus.yml: empty or null remote write config section
            "#]],
        ),
        (
            "remote_write:\n  - url: http://a\n    name: q\n  - url: http://b\n    name: q\n",
            expect![[r#"
                error: prometheus.yml:3:5: parsing YAML file prometheus.yml: found multiple remote write configs with job name "q"
            "#]],
        ),
        (
            "remote_read:\n  - url: http://a\n    name: q\n  - url: http://b\n    name: q\n",
            expect![[r#"
                error: prometheus.yml:3:5: parsing YAML file prometheus.yml: found multiple remote read configs with job name "q"
            "#]],
        ),
        (
            "remote_write:\n  - url: http://a\n    headers: {Authorization: x}\n",
            expect![[r#"
                error: prometheus.yml:2:5: parsing YAML file prometheus.yml: authorization header must be changed via the basic_auth, authorization, oauth2, sigv4, azuread or google_iam parameter
            "#]],
        ),
        (
            "remote_read:\n  - url: http://a\n    headers: {User-Agent: x}\n",
            expect![[r#"
                error: prometheus.yml:2:5: parsing YAML file prometheus.yml: User-Agent is a reserved header. It must not be changed
            "#]],
        ),
        (
            "remote_write:\n  - url: http://a\n    protobuf_message: v3\n",
            expect![[r#"
                error: prometheus.yml:3:23: parsing YAML file prometheus.yml: invalid protobuf_message value: unknown type for remote write protobuf message v3, supported: prometheus.WriteRequest, io.prometheus.write.v2.Request
            "#]],
        ),
        (
            "remote_write:\n  - url: http://a\n    basic_auth: {username: u}\n    sigv4: {}\n",
            expect![[r#"
                error: prometheus.yml:2:5: parsing YAML file prometheus.yml: at most one of basic_auth, authorization, oauth2, sigv4, azuread or google_iam must be configured. Currently configured: [basic_auth sigv4]
            "#]],
        ),
        (
            "remote_write:\n  - url: http://a\n    write_relabel_configs: [~]\n",
            expect![[r#"
                error: prometheus.yml:2:5: parsing YAML file prometheus.yml: empty or null relabeling rule in remote write config
            "#]],
        ),
        (
            "remote_write:\n  - url: http://a\n    queue_config: {max_shardz: 1}\n",
            expect![[r#"
                error: prometheus.yml:3:20: parsing YAML file prometheus.yml: field max_shardz not found in type config.plain
            "#]],
        ),
        (
            "remote_read:\n  - url: http://a\n    basic_auth: {username: u}\n    authorization: {credentials: t}\n",
            expect![[r#"
                error: prometheus.yml:2:5: parsing YAML file prometheus.yml: at most one of basic_auth, oauth2 & authorization must be configured
            "#]],
        ),
        (
            "remote_write:\n  - url: ':nope'\n",
            expect![[r#"
                error: prometheus.yml:2:5: parsing YAML file prometheus.yml: parse ":nope": missing protocol scheme
            "#]],
        ),
        (
            "alerting:\n  alertmanagers:\n    - api_version: v1\n",
            expect![[r#"
                error: prometheus.yml:3:20: parsing YAML file prometheus.yml: expected Alertmanager api version to be one of [v2] but got v1
            "#]],
        ),
        (
            "alerting:\n  alertmanagers:\n    - static_configs: [{targets: ['http://am:9093']}]\n",
            expect![[r#"
                error: prometheus.yml:2:3: parsing YAML file prometheus.yml: "http://am:9093" is not a valid hostname
            "#]],
        ),
        (
            "alerting:\n  alertmanagers:\n    - basic_auth: {username: u}\n      sigv4: {}\n",
            expect![[r#"
                error: prometheus.yml:2:3: parsing YAML file prometheus.yml: at most one of basic_auth, authorization, oauth2, & sigv4 must be configured
            "#]],
        ),
        (
            "alerting:\n  alert_relabel_configs:\n    - ~\n",
            expect![[r#"
                error: prometheus.yml:2:3: parsing YAML file prometheus.yml: empty or null alert relabeling rule
            "#]],
        ),
        (
            "alerting:\n  alertmanagers:\n    - relabel_configs: [~]\n",
            expect![[r#"
                error: prometheus.yml:3:24: parsing YAML file prometheus.yml: empty or null Alertmanager target relabeling rule
            "#]],
        ),
        (
            "alerting:\n  alertmanagers:\n    - path: /x\n",
            expect![[r#"
                error: prometheus.yml:3:7: parsing YAML file prometheus.yml: field path not found in type config.AlertmanagerConfig
            "#]],
        ),
    ] {
        check(input, expect);
    }
}

#[test]
fn dns_sd_record_types_are_those_of_prometheus_3() {
    let load = |kind: &str, port: &str| {
        let yml = format!(
            "scrape_configs:\n  - job_name: d\n    dns_sd_configs:\n      - names: [example.org]\n        type: {kind}\n{port}"
        );
        Config::parse(&yml, Path::new("prometheus.yml")).map_err(|e| e.to_string())
    };
    for kind in ["SRV", "A", "AAAA", "MX", "NS", "mx"] {
        load(kind, "        port: 9100\n").unwrap();
    }
    load("SRV", "").unwrap();
    for kind in ["A", "AAAA", "MX", "NS"] {
        let err = load(kind, "").unwrap_err();
        assert!(
            err.contains("a port is required in DNS-SD configs for all record types except SRV"),
            "{kind}: {err}"
        );
    }
    let err = load("TXT", "        port: 1\n").unwrap_err();
    assert!(err.contains("invalid DNS-SD records type TXT"), "{err}");
}
