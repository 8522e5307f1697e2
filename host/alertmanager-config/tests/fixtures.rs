//! Every fixture of Alertmanager 0.34's `config/testdata` loads or fails
//! as upstream expects (files named `no-…`/`both-…` fail, `default-…` and
//! `valid-…` load), with upstream's texts; and where Debian's amtool 0.25
//! knows a fixture's features, its `check-config` says the same as ours.

use std::path::{Path, PathBuf};

use wasmetheus_alertmanager_config::{Config, Route, check_config};

fn testdata() -> PathBuf {
    let root = std::env::var("WASMETHEUS_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        });
    root.join("alertmanager/config/testdata")
}

/// Fixture → `ok` or the error text.
const EXPECTED: &[(&str, &str)] = &[
    ("conf.empty-fields.yml", "ok"),
    ("conf.good.yml", "ok"),
    ("conf.group-by-all.yml", "ok"),
    ("conf.http-config.good.yml", "ok"),
    (
        "conf.mattermost-both-webhook-url-and-file.yml",
        "at most one of mattermost_webhook_url & mattermost_webhook_url_file must be configured",
    ),
    ("conf.mattermost-default-webhook-url-file.yml", "ok"),
    ("conf.mattermost-default-webhook-url.yml", "ok"),
    (
        "conf.mattermost-no-webhook-url.yml",
        "no global Mattermost webhook URL set either inline or in a file",
    ),
    (
        "conf.mattermost-valid-receiver-both-webhook-url-and-file.yml",
        "ok",
    ),
    (
        "conf.nil-match_re-route.yml",
        "invalid regexp value for \"invalid_label\"",
    ),
    (
        "conf.nil-source_match_re-inhibition.yml",
        "invalid regexp value for \"invalid_source_label\"",
    ),
    (
        "conf.nil-target_match_re-inhibition.yml",
        "invalid regexp value for \"invalid_target_label\"",
    ),
    (
        "conf.opsgenie-both-file-and-apikey.yml",
        "at most one of opsgenie_api_key & opsgenie_api_key_file must be configured",
    ),
    ("conf.opsgenie-default-apikey-file.yml", "ok"),
    (
        "conf.opsgenie-default-apikey-old-team.yml",
        "field teams not found in type config.plain",
    ),
    ("conf.opsgenie-default-apikey.yml", "ok"),
    (
        "conf.opsgenie-no-apikey.yml",
        "no global OpsGenie API Key set either inline or in a file",
    ),
    (
        "conf.rocketchat-both-token-and-tokenfile.yml",
        "at most one of rocketchat_token & rocketchat_token_file must be configured",
    ),
    (
        "conf.rocketchat-both-tokenid-and-tokenidfile.yml",
        "at most one of rocketchat_token_id & rocketchat_token_id_file must be configured",
    ),
    ("conf.rocketchat-default-token-file.yml", "ok"),
    ("conf.rocketchat-default-token.yml", "ok"),
    (
        "conf.rocketchat-no-token.yml",
        "no global Rocketchat Token set either inline or in a file",
    ),
    (
        "conf.slack-both-file-and-token.yml",
        "at most one of slack_app_token & slack_app_token_file must be configured",
    ),
    (
        "conf.slack-both-file-and-url.yml",
        "at most one of slack_api_url & slack_api_url_file must be configured",
    ),
    (
        "conf.slack-both-url-and-token.yml",
        "at most one of slack_api_url & slack_app_token must be configured",
    ),
    ("conf.slack-default-api-url-file.yml", "ok"),
    ("conf.slack-default-app-token.yml", "ok"),
    (
        "conf.slack-no-api-url-or-token.yml",
        "no global Slack API URL set either inline or in a file",
    ),
    (
        "conf.slack-update-message-and-webhook.yml",
        "update_message requires app_token or app_token_file: an incoming webhook cannot update a message",
    ),
    (
        "conf.smtp-both-password-and-file.yml",
        "at most one of smtp_auth_password & smtp_auth_password_file must be configured",
    ),
    ("conf.smtp-no-username-or-password.yml", "ok"),
    ("conf.smtp-password-global-and-local.yml", "ok"),
    (
        "conf.sns-invalid.yml",
        "must provide either a Target ARN, Topic ARN, or Phone Number for SNS config",
    ),
    ("conf.sns-topic-arn.yml", "ok"),
    (
        "conf.telegram-both-bot-token-and-file.yml",
        "at most one of telegram_bot_token & telegram_bot_token_file must be configured",
    ),
    ("conf.telegram-default-bot-token-file.yml", "ok"),
    ("conf.telegram-default-bot-token.yml", "ok"),
    (
        "conf.telegram-no-bot-token.yml",
        "missing bot_token or bot_token_file on telegram_config",
    ),
    (
        "conf.telegram-valid-receiver-both-bot-token-and-file.yml",
        "ok",
    ),
    (
        "conf.victorops-both-file-and-apikey.yml",
        "at most one of victorops_api_key & victorops_api_key_file must be configured",
    ),
    ("conf.victorops-default-apikey-file.yml", "ok"),
    ("conf.victorops-default-apikey.yml", "ok"),
    (
        "conf.victorops-no-apikey.yml",
        "no global VictorOps API Key set",
    ),
    (
        "conf.wechat-both-file-and-secret.yml",
        "at most one of wechat_api_secret & wechat_api_secret_file must be configured",
    ),
    ("conf.wechat-default-api-secret-file.yml", "ok"),
    (
        "conf.wechat-no-api-secret.yml",
        "no global Wechat ApiSecret set",
    ),
];

fn outcome(path: &Path) -> String {
    match Config::load(path) {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.message(),
    }
}

#[test]
fn every_fixture_loads_or_fails_as_upstream() {
    let dir = testdata();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (set WASMETHEUS_CONFORMANCE)", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml"))
        .collect();
    files.sort();
    let listed: Vec<&str> = EXPECTED.iter().map(|(f, _)| *f).collect();
    assert_eq!(files, listed, "every fixture has an expectation");
    for (file, want) in EXPECTED {
        assert_eq!(outcome(&dir.join(file)), *want, "{file}");
    }
}

/// Every fixture that loads is shown (secrets hidden) in a form that
/// loads again to the same routing tree, receivers and intervals (what
/// `amtool config show` and `/api/v2/status` give).
#[test]
fn shown_fixtures_read_back() {
    let dir = testdata();
    for (file, want) in EXPECTED {
        if *want != "ok" {
            continue;
        }
        let config = Config::load(&dir.join(file)).unwrap();
        let shown = config.to_yaml();
        let again = Config::parse(&shown, Path::new(file))
            .unwrap_or_else(|e| panic!("{file}: {e}\n{shown}"));
        assert_eq!(
            Route::new(&again.route),
            Route::new(&config.route),
            "{file}"
        );
        let names = |c: &Config| {
            c.receivers
                .iter()
                .map(|r| r.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&again), names(&config), "{file}");
        assert_eq!(again.inhibit_rules, config.inhibit_rules, "{file}");
        assert_eq!(again.time_intervals, config.time_intervals, "{file}");
        // Showing converges after one round (as upstream, an empty
        // `smtp_hello: ''` is omitted and reads back as the default).
        let twice = again.to_yaml();
        let thrice = Config::parse(&twice, Path::new(file)).unwrap().to_yaml();
        assert_eq!(thrice, twice, "{file}: showing is stable");
    }
}

/// Fixtures using what Alertmanager 0.25 does not know (0.25 answers
/// `yaml: unmarshal errors` or an older text for them); the rest must get
/// the same `check-config` verdict and first line from 0.25's amtool.
const NEWER_THAN_0_25: &[&str] = &[
    "mattermost",
    "rocketchat",
    "opsgenie-default-apikey-old-team",
    "slack-both-file-and-token",
    "slack-both-url-and-token",
    "slack-default-app-token",
    "slack-update-message-and-webhook",
    "smtp-password-global-and-local",
    "telegram",
    "wechat-both-file-and-secret",
    "wechat-default-api-secret-file",
];

#[test]
fn check_config_agrees_with_debian_amtool() {
    let amtool = Path::new("/usr/bin/amtool");
    assert!(
        amtool.exists(),
        "/usr/bin/amtool is missing: install prometheus-alertmanager (Debian package)"
    );
    let dir = testdata();
    let mut compared = 0;
    for (file, _) in EXPECTED {
        if NEWER_THAN_0_25.iter().any(|n| file.contains(n)) {
            continue;
        }
        let out = std::process::Command::new(amtool)
            .arg("check-config")
            .arg(file)
            .current_dir(&dir)
            .output()
            .expect("amtool runs");
        let theirs = String::from_utf8_lossy(&out.stdout).into_owned();
        let (ours, passed) = check_config(&dir.join(file), |_| Ok(()));
        assert_eq!(passed, out.status.success(), "{file}: verdict");
        // amtool ran in the fixture directory and names the file relatively.
        let ours = ours.replace(&format!("{}/", dir.display()), "");
        assert_eq!(ours, theirs, "{file}");
        compared += 1;
    }
    assert!(compared >= 15, "only {compared} fixtures compared");
}
