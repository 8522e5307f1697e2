//! Upstream's `config_test.go` cases as data, defaults and inheritance,
//! secrets hidden when the configuration is shown, and hostile input.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use wasmetheus_alertmanager_config::{Config, Error, MatchType, Route};

fn parse(text: &str) -> Result<Config, Error> {
    Config::parse(text, Path::new("alertmanager.yml"))
}

fn message(text: &str) -> String {
    match parse(text) {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.message(),
    }
}

/// Upstream's cases: input → error text (or `ok`).
const CASES: &[(&str, &str)] = &[
    ("", "no route provided in config"),
    (
        "route:\n   group_wait: 30s\n",
        "root route must specify a default receiver",
    ),
    (
        "route:\n    receiver: team-X\nreceivers:\n- name: 'team-X'\n- name: 'team-X'\n",
        "notification config name \"team-X\" is not unique",
    ),
    (
        "route:\n    receiver: team-X\nreceivers:\n- name: 'team-Y'\n",
        "undefined receiver \"team-X\" used in route",
    ),
    (
        "route:\n    receiver: team-X\n    routes:\n      - match:\n          foo: bar\n        routes:\n        - match:\n            foo: bar\n          receiver: nonexistent\nreceivers:\n- name: 'team-X'\n",
        "undefined receiver \"nonexistent\" used in route",
    ),
    (
        "route:\nreceivers:\n- name: ''\n",
        "missing name in receiver",
    ),
    (
        "route:\n    receiver: team-Y\n    routes:\n    -  match:\n        severity: critical\n       mute_time_intervals:\n       - business_hours\nreceivers:\n- name: 'team-Y'\n",
        "undefined time interval \"business_hours\" used in route",
    ),
    (
        "mute_time_intervals:\n- name: \n  time_intervals:\n  - times:\n     - start_time: '09:00'\n       end_time: '17:00'\nreceivers:\n- name: 'team-X-mails'\nroute:\n  receiver: 'team-X-mails'\n",
        "missing name in mute time interval",
    ),
    (
        "mute_time_intervals:\n- name: duplicate\n  time_intervals:\n  - times:\n     - start_time: '09:00'\n       end_time: '17:00'\n- name: duplicate\n  time_intervals:\n  - times:\n     - start_time: '10:00'\n       end_time: '14:00'\nreceivers:\n- name: 'team-X-mails'\nroute:\n  receiver: 'team-X-mails'\n",
        "mute time interval \"duplicate\" is not unique",
    ),
    (
        "time_intervals:\n- name: a\nmute_time_intervals:\n- name: a\nreceivers:\n- name: x\nroute:\n  receiver: x\n",
        "time interval \"a\" is not unique",
    ),
    (
        "route:\n  group_by: ['alertname', 'cluster', 'service', 'cluster']\nreceivers:\n- name: 'team-X-mails'\n",
        "duplicated label \"cluster\" in group_by",
    ),
    (
        "route:\n  group_by: ['alertname', 'cluster', '...']\n  receiver: team-X-mails\nreceivers:\n- name: 'team-X-mails'\n",
        "cannot have wildcard group_by (`...`) and other labels at the same time",
    ),
    // 0.34 validates group_by names as UTF-8: any non-empty name; the
    // classic check (0.25: `invalid label name "-invalid-" in
    // group_by list`) no longer applies.
    (
        "route:\n  group_by: ['-invalid-']\n  receiver: x\nreceivers:\n- name: x\n",
        "ok",
    ),
    (
        "route:\n  group_by: ['']\n  receiver: x\nreceivers:\n- name: x\n",
        "invalid label name \"\" in group_by list",
    ),
    ("receivers:\n- name: 'team-X-mails'\n", "no routes provided"),
    (
        "mute_time_intervals:\n- name: my_mute_time\n  time_intervals:\n  - times:\n     - start_time: '09:00'\n       end_time: '17:00'\nreceivers:\n- name: 'team-X-mails'\nroute:\n  receiver: 'team-X-mails'\n  mute_time_intervals:\n  - my_mute_time\n",
        "root route must not have any mute time intervals",
    ),
    (
        "time_intervals:\n- name: t\nreceivers:\n- name: x\nroute:\n  receiver: x\n  active_time_intervals: [t]\n",
        "root route must not have any active time intervals",
    ),
    (
        "route:\n  receiver: 'team-X'\n  match:\n    severity: critical\nreceivers:\n- name: 'team-X'\n",
        "root route must not have any matchers",
    ),
    (
        "route:\n  receiver: 'team-X'\n  matchers: ['a=b']\nreceivers:\n- name: 'team-X'\n",
        "root route must not have any matchers",
    ),
    (
        "route:\n    receiver: team-X-mails\n    continue: true\nreceivers:\n- name: 'team-X-mails'\n",
        "cannot have continue in root route",
    ),
    (
        "route:\n    receiver: team-X-mails\n    group_interval: 0s\nreceivers:\n- name: 'team-X-mails'\n",
        "group_interval cannot be zero",
    ),
    (
        "route:\n    receiver: team-X-mails\n    repeat_interval: 0s\nreceivers:\n- name: 'team-X-mails'\n",
        "repeat_interval cannot be zero",
    ),
    (
        "route:\n  receiver: x\n  routes:\n  - match: {'1bad': x}\nreceivers:\n- name: x\n",
        "invalid label name \"1bad\"",
    ),
    (
        "route:\n  receiver: x\n  routes:\n  - matchers: ['foo']\nreceivers:\n- name: x\n",
        "bad matcher format: foo",
    ),
    (
        "route:\n  receiver: x\n  routes:\n  - match_re: {a: '('}\nreceivers:\n- name: x\n",
        "error parsing regexp: missing closing ): `^(?:()$`",
    ),
    (
        "route:\n  receiver: x\nreceivers:\n- name: x\n  email_configs:\n  - from: a@b\n",
        "missing to address in email config",
    ),
    (
        "route:\n  receiver: x\nreceivers:\n- name: x\n  email_configs:\n  - to: a@b\n",
        "no global SMTP smarthost set",
    ),
    (
        "global:\n  smtp_smarthost: 'localhost:25'\nroute:\n  receiver: x\nreceivers:\n- name: x\n  email_configs:\n  - to: a@b\n",
        "no global SMTP from set",
    ),
    (
        "global:\n  smtp_smarthost: localhost\nroute:\n  receiver: x\nreceivers:\n- name: x\n",
        "address localhost: missing port in address",
    ),
    (
        "global:\n  smtp_smarthost: 'localhost:'\nroute:\n  receiver: x\nreceivers:\n- name: x\n",
        "address \"localhost:\": port cannot be empty",
    ),
    (
        "global:\n  smtp_smarthost: 'h:25'\n  smtp_from: a@b\nroute:\n  receiver: x\nreceivers:\n- name: x\n  email_configs:\n  - to: a@b\n    headers: {subject: a, Subject: b}\n",
        "duplicate header \"Subject\" in email config",
    ),
    (
        "route:\n  receiver: x\nreceivers:\n- name: x\n  webhook_configs:\n  - max_alerts: 1\n",
        "one of url or url_file must be configured",
    ),
    (
        "route:\n  receiver: x\nreceivers:\n- name: x\n  webhook_configs:\n  - url: http://a/\n    url_file: /f\n",
        "at most one of url & url_file must be configured",
    ),
    (
        "route:\n  receiver: x\nreceivers:\n- name: x\n  webhook_configs:\n  - url: ftp://a/\n",
        "unsupported scheme \"ftp\" for URL",
    ),
    (
        "route:\n  receiver: x\nreceivers:\n- name: x\n  webhook_configs:\n  - url: /home\n",
        "unsupported scheme \"\" for URL",
    ),
    (
        "route:\n  receiver: x\nreceivers:\n- name: x\n  webhook_configs:\n  - url: http://a/\n    bogus: 1\n",
        "field bogus not found in type config.plain",
    ),
    (
        "global:\n  slack_api_url: http://s/\nroute:\n  receiver: x\nreceivers:\n- name: x\n  slack_configs:\n  - fields: [{title: t}]\n",
        "missing value in Slack field configuration",
    ),
    (
        "global:\n  slack_api_url: http://s/\nroute:\n  receiver: x\nreceivers:\n- name: x\n  slack_configs:\n  - actions: [{type: button, text: t}]\n",
        "missing name or url in Slack action configuration",
    ),
    (
        "route:\n  receiver: x\nreceivers:\n- name: x\n  pagerduty_configs:\n  - {}\n",
        "missing service or routing key in PagerDuty config",
    ),
    (
        "route:\n  receiver: x\nreceivers:\n- name: x\n  bogus: []\n",
        "field bogus not found in type config.plain",
    ),
    (
        "time_intervals:\n- name: t\n  time_intervals:\n  - weekdays: ['friday:monday']\nreceivers:\n- name: x\nroute:\n  receiver: x\n",
        "start day cannot be before end day",
    ),
    (
        "time_intervals:\n- name: t\n  time_intervals:\n  - weekdays: ['monday:sunday']\nreceivers:\n- name: x\nroute:\n  receiver: x\n",
        "start day cannot be before end day",
    ),
    (
        "time_intervals:\n- name: t\n  time_intervals:\n  - location: europe/berlin\nreceivers:\n- name: x\nroute:\n  receiver: x\n",
        "unknown time zone europe/berlin",
    ),
    (
        "time_intervals:\n- name: t\n  time_intervals:\n  - location: Mars/Olympus\nreceivers:\n- name: x\nroute:\n  receiver: x\n",
        "unknown time zone Mars/Olympus",
    ),
    (
        "time_intervals:\n- name: t\n  time_intervals:\n  - times: [{start_time: '9:00', end_time: '10:00'}]\nreceivers:\n- name: x\nroute:\n  receiver: x\n",
        "couldn't parse timestamp 9:00, invalid format",
    ),
    (
        "time_intervals:\n- name: t\n  time_intervals:\n  - days_of_month: ['0']\nreceivers:\n- name: x\nroute:\n  receiver: x\n",
        "0 is not a valid day of the month: out of range",
    ),
    (
        "time_intervals:\n- name: t\n  time_intervals:\n  - months: ['13']\nreceivers:\n- name: x\nroute:\n  receiver: x\n",
        "ok",
    ),
    (
        "time_intervals:\n- name: t\n  time_intervals:\n  - years: ['2022:2020']\nreceivers:\n- name: x\nroute:\n  receiver: x\n",
        "end year 2020 is before start year 2022",
    ),
    (
        "time_intervals:\n- name: t\n  time_intervals:\n  - times: [{start_time: '10:00'}]\nreceivers:\n- name: x\nroute:\n  receiver: x\n",
        "both start and end times must be provided",
    ),
    (
        "inhibit_rules:\n- equal: ['']\nreceivers:\n- name: x\nroute:\n  receiver: x\n",
        "invalid label name \"\" in equal list",
    ),
];

#[test]
fn validation_texts_as_upstream() {
    for (input, want) in CASES {
        let got = message(input);
        assert!(
            got == *want || got.ends_with(want),
            "input:\n{input}\nwant: {want}\ngot:  {got}"
        );
    }
}

/// Where Alertmanager 0.25's texts differ from 0.34's (0.34 wins): our
/// text → 0.25's.
const DIFFERENT_IN_0_25: &[(&str, &str)] = &[
    (
        "cannot have wildcard group_by (`...`) and other labels at the same time",
        "cannot have wildcard group_by (`...`) and other other labels at the same time",
    ),
    // 0.25 checks group_by names the classic way.
    ("ok", "invalid label name \"-invalid-\" in group_by list"),
    // 0.34 added `url_file`.
    (
        "one of url or url_file must be configured",
        "missing URL in webhook config",
    ),
    (
        "at most one of url & url_file must be configured",
        "field url_file not found in type config.plain",
    ),
    (
        "invalid label name \"\" in equal list",
        "\"\" is not a valid label name",
    ),
];

/// The same cases through Debian's amtool 0.25: the same verdict and
/// text, except where [`DIFFERENT_IN_0_25`] names 0.25's older text.
#[test]
fn validation_texts_agree_with_debian_amtool() {
    let amtool = Path::new("/usr/bin/amtool");
    assert!(
        amtool.exists(),
        "/usr/bin/amtool is missing: install prometheus-alertmanager (Debian package)"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alertmanager.yml");
    for (input, want) in CASES {
        std::fs::write(&file, input).unwrap();
        let out = std::process::Command::new(amtool)
            .arg("check-config")
            .arg(&file)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let first = stdout.lines().next().unwrap_or_default();
        let mut theirs = match first.split_once("  ") {
            Some((_, "SUCCESS")) => "ok",
            Some((_, rest)) => rest.strip_prefix("FAILED: ").unwrap_or(rest),
            None => first,
        };
        // Go's YAML library lists its errors on the following lines
        // (`  line N: <text>`); the position is ours to give.
        if theirs == "yaml: unmarshal errors:" {
            let next = stdout.lines().nth(1).unwrap_or_default().trim();
            theirs = next.split_once(": ").map_or(next, |(_, text)| text);
        }
        let expected_025 = DIFFERENT_IN_0_25
            .iter()
            .find(|(ours, old)| ours == want && theirs.starts_with(old))
            .map_or(*want, |_| theirs);
        assert!(
            theirs == expected_025 || theirs.ends_with(expected_025),
            "input:\n{input}\nours: {want}\n0.25: {theirs}"
        );
    }
}

#[test]
fn errors_carry_file_line_and_column() {
    let err = parse("route:\n  receiver: x\nreceivers:\n- name: other\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "alertmanager.yml:2:13: undefined receiver \"x\" used in route"
    );
    let err = parse("route:\n  receiver: x\n  bogus: 1\nreceivers:\n- name: x\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "alertmanager.yml:3:3: field bogus not found in type config.plain"
    );
    // A receiver's error points at its name.
    let err = parse(
        "global:\n  smtp_smarthost: 'h:25'\nroute:\n  receiver: x\nreceivers:\n- name: a\n- name: x\n  email_configs:\n  - to: t\n",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "alertmanager.yml:7:3: no global SMTP from set"
    );
}

#[test]
fn global_defaults_as_upstream() {
    let c = parse("route:\n  receiver: x\nreceivers:\n- name: x\n").unwrap();
    let g = &c.global;
    assert_eq!(g.resolve_timeout, 300_000);
    assert_eq!(g.smtp_hello, "localhost");
    assert!(g.smtp_require_tls);
    assert_eq!(g.pagerduty_url, "https://events.pagerduty.com/v2/enqueue");
    assert_eq!(g.opsgenie_api_url, "https://api.opsgenie.com/");
    assert_eq!(g.wechat_api_url, "https://qyapi.weixin.qq.com/cgi-bin/");
    assert_eq!(
        g.victorops_api_url,
        "https://alert.victorops.com/integrations/generic/20131114/alert/"
    );
    assert_eq!(g.telegram_api_url, "https://api.telegram.org");
    assert_eq!(g.webex_api_url, "https://webexapis.com/v1/messages");
    assert_eq!(g.rocketchat_api_url, "https://open.rocket.chat/");
    assert!(g.http_config.follow_redirects);
    // An empty `global:` block still gets the defaults.
    let c = parse("global:\nroute:\n  receiver: x\nreceivers:\n- name: x\n").unwrap();
    assert_eq!(c.global.smtp_hello, "localhost");
}

#[test]
fn receivers_get_global_fallbacks_and_defaults() {
    let dir = testdata();
    let c = Config::load(&dir.join("conf.good.yml")).unwrap();
    assert_eq!(c.global.smtp_hello, "host.example.org");
    let mails = c.receiver("team-X-mails").unwrap();
    let email = &mails.email_configs[0];
    assert_eq!(email.from, "alertmanager@example.org");
    assert_eq!(email.smarthost, "localhost:25");
    assert_eq!(email.hello, "host.example.org");
    assert_eq!(email.auth_username, "alertmanager");
    assert_eq!(email.auth_password.expose(), "multiline\nmysecret");
    assert_eq!(email.html, r#"{{ template "email.default.html" . }}"#);
    assert!(email.require_tls);
    assert!(!email.send_resolved);
    let slack = &c.receiver("slack-receiver").unwrap().slack_configs[0];
    assert_eq!(
        slack.api_url.as_ref().map(|s| s.expose()),
        Some("http://mysecret.example.com/")
    );
    assert_eq!(slack.title, r#"{{ template "slack.default.title" . }}"#);
    assert!(!slack.send_resolved);
    // The raw form a receiver plugin gets carries the same resolution.
    let raw_slack = &c.receiver("slack-receiver").unwrap().integrations["slack"][0];
    assert_eq!(raw_slack["api_url"], "http://mysecret.example.com/");
    assert_eq!(
        raw_slack["title"],
        r#"{{ template "slack.default.title" . }}"#
    );
    assert_eq!(raw_slack["send_resolved"], false);
    let raw_email = &c.receiver("team-X-mails").unwrap().integrations["email"][0];
    assert_eq!(raw_email["smarthost"], "localhost:25");
    assert_eq!(raw_email["auth_password"], "multiline\nmysecret");
    let pd = &c.receiver("team-Y-pager").unwrap().integrations["pagerduty"][0];
    assert_eq!(pd["url"], "https://events.pagerduty.com/v2/enqueue");
    assert_eq!(pd["send_resolved"], true);

    let http = Config::load(&dir.join("conf.http-config.good.yml")).unwrap();
    assert!(!http.global.http_config.follow_redirects);
    assert!(
        http.receivers[0].slack_configs[0]
            .http_config
            .follow_redirects
    );

    let vo = Config::load(&dir.join("conf.victorops-default-apikey.yml")).unwrap();
    assert_eq!(
        vo.receivers[0].integrations["victorops"][0]["api_key"],
        "asd132"
    );
    assert_eq!(
        vo.receivers[1].integrations["victorops"][0]["api_key"],
        "qwe456"
    );

    let slack_files = Config::load(&dir.join("conf.slack-default-api-url-file.yml")).unwrap();
    let s = &slack_files.receivers[0].slack_configs;
    assert_eq!(s[0].api_url_file.as_deref(), Some("/global_file"));
    assert!(s[0].api_url.is_none());
    assert_eq!(s[1].api_url_file.as_deref(), Some("/override_file"));
    assert_eq!(
        s[2].api_url.as_ref().map(|u| u.expose()),
        Some("http://mysecret.example.com/")
    );
    assert!(s[2].api_url_file.is_none());

    let smtp = Config::load(&dir.join("conf.smtp-password-global-and-local.yml")).unwrap();
    let e = &smtp.receivers[0].email_configs;
    assert_eq!(e[0].auth_password_file, "/tmp/globaluserpassword");
    assert_eq!(e[0].auth_secret_file, "/tmp/globalusersecret");
    assert_eq!(e[1].auth_password_file, "/tmp/localuser1password");
    assert_eq!(e[2].auth_password.expose(), "mysecret");
    assert_eq!(e[2].auth_password_file, "");
    assert_eq!(e[3].auth_secret.expose(), "myprecious");
}

#[test]
fn scalars_read_into_strings_as_go_does() {
    let c = parse("global:\n  slack_api_url: http://s/\nroute:\n  receiver: '123'\nreceivers:\n- name: 123\n  slack_configs:\n  - channel: 42\n").unwrap();
    assert_eq!(c.receivers[0].name, "123");
    assert_eq!(c.receivers[0].slack_configs[0].channel, "42");
}

#[test]
fn webhook_defaults() {
    let c = parse("route:\n  receiver: x\nreceivers:\n- name: x\n  webhook_configs:\n  - url: http://127.0.0.1:5001/\n    max_alerts: 3\n    timeout: 10s\n  - url_file: /f\n    send_resolved: false\n").unwrap();
    let w = &c.receivers[0].webhook_configs;
    assert!(w[0].send_resolved);
    assert_eq!(w[0].max_alerts, 3);
    assert_eq!(w[0].timeout_ns, 10_000_000_000);
    assert!(!w[1].send_resolved);
    assert_eq!(w[1].url_file.as_deref(), Some("/f"));
}

#[test]
fn secrets_are_hidden_when_shown() {
    let c = Config::load(&testdata().join("conf.good.yml")).unwrap();
    for shown in [c.to_yaml(), c.to_json().to_string()] {
        assert!(!shown.contains("mysecret"), "{shown}");
        assert!(shown.contains("<secret>"), "{shown}");
        assert!(shown.contains("team-X-mails"), "{shown}");
    }
    // The values stay usable for the senders.
    let pd = &c.receiver("team-DB-pager").unwrap().integrations["pagerduty"][0];
    assert_eq!(pd["routing_key"], "mysecret");
}

#[test]
fn shown_config_reads_back() {
    let c = Config::load(&testdata().join("conf.good.yml")).unwrap();
    let again = parse(&c.to_yaml()).unwrap();
    assert_eq!(again.receivers.len(), c.receivers.len());
    assert_eq!(Route::new(&again.route), Route::new(&c.route));
}

#[test]
fn templates_are_joined_with_the_file_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("am.yml");
    std::fs::write(
        &path,
        "templates: ['t/*.tmpl', '/abs/*.tmpl']\nroute:\n  receiver: x\nreceivers:\n- name: x\n",
    )
    .unwrap();
    let c = Config::load(&path).unwrap();
    assert_eq!(
        c.templates,
        [
            dir.path().join("t/*.tmpl").to_string_lossy().into_owned(),
            "/abs/*.tmpl".to_owned()
        ]
    );
}

#[test]
fn http_settings_are_checked_and_their_files_joined() {
    assert_eq!(
        message(
            "global:\n  http_config:\n    bearer_token: a\n    bearer_token_file: b\nroute:\n  receiver: x\nreceivers:\n- name: x\n"
        ),
        "at most one of bearer_token & bearer_token_file must be configured"
    );
    assert_eq!(
        message(
            "route:\n  receiver: x\nreceivers:\n- name: x\n  pagerduty_configs:\n  - routing_key: k\n    http_config:\n      bearer_token: a\n      basic_auth: {username: u}\n"
        ),
        "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("am.yml");
    std::fs::write(
        &path,
        "route:\n  receiver: x\nreceivers:\n- name: x\n  webhook_configs:\n  - url: http://a/\n    http_config:\n      basic_auth: {username: u, password_file: pw}\n  pagerduty_configs:\n  - routing_key: k\n    http_config:\n      authorization: {credentials_file: cred}\n",
    )
    .unwrap();
    let c = Config::load(&path).unwrap();
    let w = &c.receivers[0].webhook_configs[0];
    let joined = dir.path().join("pw").to_string_lossy().into_owned();
    assert_eq!(
        w.http_config
            .basic_auth
            .as_ref()
            .unwrap()
            .password_file
            .as_deref(),
        Some(joined.as_str())
    );
    let pd = &c.receivers[0].integrations["pagerduty"][0];
    assert_eq!(
        pd["http_config"]["authorization"]["credentials_file"],
        dir.path().join("cred").to_string_lossy().as_ref()
    );
}

#[test]
fn route_defaults_are_inherited() {
    let c = Config::load(&testdata().join("conf.good.yml")).unwrap();
    let root = Route::new(&c.route);
    assert_eq!(root.opts.group_wait_ms, 30_000);
    assert_eq!(root.opts.repeat_interval_ms, 3 * 3_600_000);
    let db = &root.routes[2];
    assert_eq!(db.opts.receiver, "team-DB-pager");
    assert_eq!(db.opts.repeat_interval_ms, 3 * 3_600_000);
    assert_eq!(
        db.opts.group_by.iter().cloned().collect::<Vec<_>>(),
        ["alertname", "cluster", "database"]
    );
    let x = &root.routes[0];
    assert_eq!(
        x.opts.group_by.iter().cloned().collect::<Vec<_>>(),
        ["alertname", "cluster", "service"]
    );
    // A tree without settings gets upstream's defaults.
    let plain = parse(
        "route:\n  receiver: x\n  routes: [{receiver: z}]\nreceivers:\n- name: x\n- name: z\n",
    )
    .unwrap();
    let r = Route::new(&plain.route);
    assert_eq!(
        (
            r.routes[0].opts.group_wait_ms,
            r.routes[0].opts.group_interval_ms,
            r.routes[0].opts.repeat_interval_ms
        ),
        (30_000, 300_000, 14_400_000)
    );
    assert!(r.routes[0].opts.group_by.is_empty());
    let all = Config::load(&testdata().join("conf.group-by-all.yml")).unwrap();
    assert!(Route::new(&all.route).opts.group_by_all);
}

fn testdata() -> PathBuf {
    let root = std::env::var("WASMETHEUS_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        });
    root.join("alertmanager/config/testdata")
}

#[test]
fn deep_route_nesting_is_refused_without_overflow() {
    let mut text = String::from("receivers:\n- name: x\nroute:\n  receiver: x\n");
    let mut indent = 2;
    for _ in 0..10_000 {
        text.push_str(&" ".repeat(indent));
        text.push_str("routes:\n");
        text.push_str(&" ".repeat(indent));
        text.push_str("- receiver: x\n");
        indent += 2;
    }
    let start = Instant::now();
    assert_eq!(
        parse(&text).unwrap_err().message(),
        "YAML nested deeper than 64 levels (routes nested about 30 deep)"
    );
    // Flow style too.
    let flow = format!(
        "receivers: [{{name: x}}]\nroute: {{receiver: x, routes: [{}]}}\n",
        "{receiver: x, routes: [".repeat(10_000) + &"]}".repeat(10_000)
    );
    assert!(parse(&flow).is_err());
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[test]
fn huge_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.yml");
    let mut text = String::from("route:\n  receiver: x\nreceivers:\n- name: x\n");
    text.push_str(&"# padding\n".repeat(2_000_000));
    std::fs::write(&path, text).unwrap();
    let err = Config::load(&path).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
}

#[test]
fn many_receivers_are_bounded() {
    let mut text = String::from("route:\n  receiver: r0\nreceivers:\n");
    for i in 0..100_000 {
        text.push_str(&format!("- name: r{i}\n"));
    }
    let start = Instant::now();
    // Either read or refused by the YAML reader's budget, quickly.
    match parse(&text) {
        Ok(c) => assert_eq!(c.receivers.len(), 100_000),
        Err(e) => assert!(!e.message().is_empty()),
    }
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[test]
fn regex_bombs_in_matchers_are_refused() {
    let text = "route:\n  receiver: x\n  routes:\n  - matchers: ['a=~\"((a{100}){100}){100}\"']\nreceivers:\n- name: x\n";
    let err = message(text);
    assert!(err.contains("error parsing regexp"), "{err}");
    let text = "route:\n  receiver: x\n  routes:\n  - matchers: ['a=~\"(a*)*b\"']\nreceivers:\n- name: x\n";
    let c = parse(text).unwrap();
    let route = Route::new(&c.route);
    let m = &route.routes[0].matchers.0[0];
    assert_eq!(m.op, MatchType::Regexp);
    let long = "a".repeat(200_000);
    let start = Instant::now();
    assert!(!m.matches(&long));
    assert!(start.elapsed() < Duration::from_secs(5));
}
