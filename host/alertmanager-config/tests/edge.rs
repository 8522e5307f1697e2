//! Odd but legal shapes, read as Go's YAML library reads them.

use std::path::Path;

use wasmetheus_alertmanager_config::Config;

fn message(text: &str) -> String {
    match Config::parse(text, Path::new("am.yml")) {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.message(),
    }
}

#[test]
fn odd_shapes() {
    let cases: &[(&str, &str)] = &[
        ("# only a comment\n", "no route provided in config"),
        ("route: null\nreceivers: []\n", "no routes provided"),
        (
            "route:\n  receiver: x\nreceivers:\n- name: x\n  webhook_configs:\n",
            "ok",
        ),
        (
            "route:\n  receiver: x\n  routes:\n  -\nreceivers:\n- name: x\n",
            "ok",
        ),
        (
            "route:\n  receiver: x\n  group_wait: 1x\nreceivers:\n- name: x\n",
            "unknown unit \"x\" in duration \"1x\"",
        ),
        (
            "route:\n  receiver: x\n  matchers:\nreceivers:\n- name: x\n",
            "ok",
        ),
        (
            "inhibit_rules:\n- source_matchers: ['a=\"b\"']\n  target_matchers: ['c=~d']\n  equal: [e]\nroute:\n  receiver: x\nreceivers:\n- name: x\n",
            "ok",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(message(input), *want, "{input}");
    }
}

#[test]
fn inhibit_rules_combine_old_and_new_forms() {
    let c = Config::parse(
        "inhibit_rules:\n- source_match: {severity: critical}\n  source_matchers: ['x!=\"y\"']\n  target_match_re: {severity: 'warn.*'}\n  equal: [alertname]\nroute:\n  receiver: x\nreceivers:\n- name: x\n",
        Path::new("am.yml"),
    )
    .unwrap();
    let rule = &c.inhibit_rules[0];
    assert_eq!(rule.source().to_string(), r#"{severity="critical",x!="y"}"#);
    assert_eq!(rule.target().to_string(), r#"{severity=~"^(?:warn.*)$"}"#);
    assert_eq!(rule.equal, ["alertname"]);
}

#[test]
fn time_intervals_are_read_and_used() {
    let c = Config::parse(
        "time_intervals:\n- name: office\n  time_intervals:\n  - times: [{start_time: '09:00', end_time: '17:00'}]\n    weekdays: ['monday:friday']\n    location: Europe/Berlin\nroute:\n  receiver: x\n  routes:\n  - receiver: x\n    active_time_intervals: [office]\nreceivers:\n- name: x\n",
        Path::new("am.yml"),
    )
    .unwrap();
    let office = c.time_interval("office").unwrap();
    // 08:30 UTC on a Monday in winter is 09:30 in Berlin.
    assert!(office.contains("2024-01-08T08:30:00Z".parse().unwrap()));
    assert!(!office.contains("2024-01-08T07:30:00Z".parse().unwrap()));
    assert!(!office.contains("2024-01-07T10:00:00Z".parse().unwrap()));
    let shown = c.to_yaml();
    assert!(shown.contains("Europe/Berlin"), "{shown}");
    assert!(shown.contains("monday:friday"), "{shown}");
}

#[test]
fn unknown_fields_name_go_types() {
    let cases: &[(&str, &str)] = &[
        (
            "time_intervals:\n- name: t\n  time_intervals:\n  - bogus: 1\n",
            "am.yml:4:5: field bogus not found in type timeinterval.TimeInterval",
        ),
        (
            "mute_time_intervals:\n  - name: t\n    time_intervals:\n      - weekdays: [monday]\n        bogus: 1\n",
            "am.yml:5:9: field bogus not found in type timeinterval.TimeInterval",
        ),
        (
            "time_intervals:\n- name: t\n  time_intervals:\n  - times:\n    - start_time: '09:00'\n      end_time: '10:00'\n      bogus: 1\n",
            "am.yml:7:7: field bogus not found in type timeinterval.yamlTimeRange",
        ),
        (
            "time_intervals:\n- name: t\n  bogus: 1\n",
            "am.yml:3:3: field bogus not found in type config.plain",
        ),
    ];
    for (input, want) in cases {
        let got = Config::parse(input, Path::new("am.yml"))
            .unwrap_err()
            .to_string();
        assert_eq!(&got, want, "{input}");
    }
}

#[test]
fn a_missing_file_is_named_as_go_names_it() {
    let err = Config::load(Path::new("/nonexistent/alertmanager.yml")).unwrap_err();
    assert_eq!(
        err.message(),
        "open /nonexistent/alertmanager.yml: no such file or directory"
    );
    let (report, ok) = wasmetheus_alertmanager_config::check_config(
        Path::new("/nonexistent/alertmanager.yml"),
        |_| Ok(()),
    );
    assert!(!ok);
    assert_eq!(
        report,
        "Checking '/nonexistent/alertmanager.yml'  FAILED: open /nonexistent/alertmanager.yml: no such file or directory\n\n"
    );
}

#[test]
fn template_failures_fail_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("am.yml");
    std::fs::write(
        &path,
        "templates: ['x.tmpl']\nroute:\n  receiver: x\nreceivers:\n- name: x\n",
    )
    .unwrap();
    let (report, ok) = wasmetheus_alertmanager_config::check_config(&path, |globs| {
        assert_eq!(globs.len(), 1);
        Err("template: x.tmpl:1: unexpected EOF".to_owned())
    });
    assert!(!ok);
    assert!(
        report.ends_with(" - 1 templates\n  FAILED: template: x.tmpl:1: unexpected EOF\n\n"),
        "{report}"
    );
}

#[test]
fn duplicate_names_are_reported_before_fallbacks() {
    let text = "route:\n  receiver: x\nreceivers:\n- name: x\n- name: x\n  slack_configs: [{channel: a}]\n";
    assert_eq!(
        Config::parse(text, Path::new("am.yml"))
            .unwrap_err()
            .message(),
        "notification config name \"x\" is not unique"
    );
}

#[test]
fn integration_names_include_plugin_only_ones() {
    let c = Config::parse(
        "route:\n  receiver: x\nreceivers:\n- name: x\n  webhook_configs: [{url: 'http://a/'}]\n  ntfy_configs: [{topic: t}]\n  email_configs: []\n",
        Path::new("am.yml"),
    )
    .unwrap();
    assert_eq!(
        c.integration_names().into_iter().collect::<Vec<_>>(),
        ["ntfy", "webhook"]
    );
    assert_eq!(c.receivers[0].integrations["ntfy"][0]["topic"], "t");
    assert_eq!(
        c.receivers[0].integrations["ntfy"][0]["send_resolved"],
        true
    );
}

/// The receivers as `/api/v2/status` shows them. Alertmanager 0.25 shows
/// the same for this file except: the webhook URL in the clear (0.34
/// makes it a secret URL), no `url_file`/`timeout` (added since), and
/// single-quoted scalars where this YAML writer double-quotes.
#[test]
fn receivers_are_shown_as_upstream() {
    let c = Config::parse(
        "global:\n  slack_api_url: http://s/\nroute:\n  receiver: x\nreceivers:\n- name: x\n  webhook_configs:\n  - url: http://127.0.0.1:5001/\n  slack_configs:\n  - channel: '#a'\n",
        Path::new("am.yml"),
    )
    .unwrap();
    let shown = c.to_yaml();
    let receivers = &shown[shown.find("receivers:").unwrap()..];
    expect_test::expect![[r##"
        receivers:
        - name: x
          slack_configs:
          - send_resolved: false
            http_config:
              follow_redirects: true
              enable_http2: true
            api_url: <secret>
            channel: "#a"
            username: "{{ template \"slack.default.username\" . }}"
            color: "{{ if eq .Status \"firing\" }}danger{{ else }}good{{ end }}"
            title: "{{ template \"slack.default.title\" . }}"
            title_link: "{{ template \"slack.default.titlelink\" . }}"
            pretext: "{{ template \"slack.default.pretext\" . }}"
            text: "{{ template \"slack.default.text\" . }}"
            short_fields: false
            footer: "{{ template \"slack.default.footer\" . }}"
            fallback: "{{ template \"slack.default.fallback\" . }}"
            callback_id: "{{ template \"slack.default.callbackid\" . }}"
            icon_emoji: "{{ template \"slack.default.iconemoji\" . }}"
            icon_url: "{{ template \"slack.default.iconurl\" . }}"
            link_names: false
          webhook_configs:
          - send_resolved: true
            http_config:
              follow_redirects: true
              enable_http2: true
            url: <secret>
            url_file: ""
            max_alerts: 0
            timeout: 0s
        templates: []
    "##]]
    .assert_eq(receivers);
}
