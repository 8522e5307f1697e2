//! Secrets of receivers: in the clear in the raw form plugins are
//! configured with (inline, from `global`, and with relative `*_file`
//! paths joined), shown as `<secret>` in every printed form.

use std::path::Path;

use wasmetheus_alertmanager_config::Config;

const CONFIG: &str = r#"
global:
  http_config:
    basic_auth:
      username: u
      password: global-s3cret
route:
  receiver: pd
receivers:
- name: pd
  pagerduty_configs:
  - routing_key: rk-s3cret
    http_config:
      bearer_token: inline-s3cret
      proxy_url: http://pu:proxy-s3cret@proxy.example:3128
      tls_config:
        ca_file: ca.pem
  - routing_key: rk2
- name: other
  opsgenie_configs:
  - api_key: og-s3cret
"#;

#[test]
fn raw_integrations_keep_secrets_and_printed_forms_hide_them() {
    let config = Config::parse(CONFIG, Path::new("/etc/am/am.yml")).expect("valid");
    let pd = &config.receivers[0].integrations["pagerduty"];
    assert_eq!(
        pd[0]["http_config"]["authorization"]["credentials"],
        "inline-s3cret"
    );
    assert_eq!(
        pd[0]["http_config"]["proxy_url"],
        "http://pu:proxy-s3cret@proxy.example:3128"
    );
    assert_eq!(pd[0]["routing_key"], "rk-s3cret");
    // The entry without its own http_config gets global's, in the clear.
    assert_eq!(
        pd[1]["http_config"]["basic_auth"]["password"],
        "global-s3cret"
    );
    let shown = config.to_yaml();
    for secret in [
        "global-s3cret",
        "rk-s3cret",
        "inline-s3cret",
        "proxy-s3cret",
        "og-s3cret",
    ] {
        assert!(!shown.contains(secret), "{secret} shown in:\n{shown}");
    }
    assert!(shown.contains("<secret>"), "{shown}");
}

#[test]
fn relative_file_paths_are_joined_without_touching_secrets() {
    let config = Config::load(&{
        let dir = std::env::temp_dir().join(format!("am-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("am.yml");
        std::fs::write(&path, CONFIG).expect("written");
        path
    })
    .expect("valid");
    let pd = &config.receivers[0].integrations["pagerduty"];
    let ca = pd[0]["http_config"]["tls_config"]["ca_file"]
        .as_str()
        .expect("a path");
    assert!(
        Path::new(ca).is_absolute() && ca.ends_with("ca.pem"),
        "{ca}"
    );
    assert_eq!(
        pd[0]["http_config"]["authorization"]["credentials"],
        "inline-s3cret"
    );
}
