//! Secrets never show: `Debug` of the loaded configuration and its YAML
//! rendering (what `/api/v1/status/config` shows) print `<secret>` for
//! passwords and credentials, `xxxxx` for URL passwords, and redact
//! secret-sounding plugin settings; the values stay reachable through
//! `Secret::expose` for the code that authenticates.

use std::path::Path;
use wasmetheus_config::{Config, Secret};

const FILE: &str = r#"
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: basic
    basic_auth:
      username: alice
      password: hunter2-basic
    proxy_url: http://proxyuser:hunter2-proxy@proxy:3128
    static_configs:
      - targets: ['a:9100']
  - job_name: bearer
    authorization:
      credentials: hunter2-bearer
    http_sd_configs:
      - url: http://sduser:hunter2-sd@sd.example/targets
        basic_auth:
          username: bob
          password: hunter2-sd-basic
  - job_name: files
    basic_auth:
      username: carol
      password_file: /etc/prometheus/password
  - job_name: empty
    basic_auth:
      username: dave
      password: ""
alerting:
  alertmanagers:
    - authorization:
        type: Token
        credentials: hunter2-alertmanager
      static_configs:
        - targets: ['am:9093']
remote_write:
  - url: https://rwuser:hunter2-rw-url@remote.example/write
    basic_auth:
      username: erin
      password: hunter2-remote-write
  - url: https://remote.example/write2
    sigv4:
      region: eu-west-1
      access_key: AKIDEXAMPLE
      secret_key: hunter2-sigv4
  - url: https://remote.example/write3
    oauth2:
      client_id: wasmetheus
      client_secret: hunter2-oauth2
      token_url: https://auth.example/token
      endpoint_params: {audience: metrics}
remote_read:
  - url: https://remote.example/read
    authorization:
      credentials: hunter2-remote-read
  - url: https://remote.example/read2
    oauth2:
      client_id: reader
      client_secret_file: /run/secrets/oauth2
      token_url: https://auth.example/token
plugins:
  instances:
    - name: db
      plugin: postgres
      config:
        host: db.example
        password: hunter2-plugin
        nested: {api_key: hunter2-nested, port: 5432}
        replicas: ["postgres://pg:hunter2-dsn@db/app"]
"#;

const SECRETS: &[&str] = &[
    "hunter2-basic",
    "hunter2-proxy",
    "hunter2-bearer",
    "hunter2-sd",
    "hunter2-sd-basic",
    "hunter2-alertmanager",
    "hunter2-rw-url",
    "hunter2-remote-write",
    "hunter2-remote-read",
    "hunter2-plugin",
    "hunter2-nested",
    "hunter2-dsn",
    "hunter2-sigv4",
    "hunter2-oauth2",
];

fn load(text: &str) -> Config {
    Config::parse(text, Path::new("prometheus.yml")).unwrap()
}

#[test]
fn the_shown_configuration_has_no_secret() {
    let yaml = load(FILE).to_yaml();
    for secret in SECRETS {
        assert!(!yaml.contains(secret), "{secret} shown in:\n{yaml}");
    }
    // Secrets as Prometheus shows them, `*_file` paths as they are.
    assert_eq!(yaml.matches("password: <secret>").count(), 4, "{yaml}");
    assert_eq!(yaml.matches("credentials: <secret>").count(), 3, "{yaml}");
    assert!(yaml.contains("password_file: /etc/prometheus/password"));
    assert!(yaml.contains("proxy_url: http://proxyuser:xxxxx@proxy:3128"));
    assert!(yaml.contains("url: http://sduser:xxxxx@sd.example/targets"));
    assert!(yaml.contains("url: https://rwuser:xxxxx@remote.example/write"));
    assert!(yaml.contains("api_key: <secret>"), "{yaml}");
    assert!(yaml.contains("port: 5432"), "{yaml}");
    assert!(yaml.contains("postgres://pg:xxxxx@db/app"), "{yaml}");
    assert!(yaml.contains("username: alice"));
    // Sections accepted but not interpreted are shown, their secrets not.
    assert!(yaml.contains("secret_key: <secret>"), "{yaml}");
    assert!(yaml.contains("client_secret: <secret>"), "{yaml}");
    assert!(yaml.contains("client_id: wasmetheus"), "{yaml}");
    assert!(yaml.contains("region: eu-west-1"), "{yaml}");
    assert!(
        yaml.contains("client_secret_file: /run/secrets/oauth2"),
        "{yaml}"
    );
    // An empty secret is omitted, as Prometheus' omitempty does.
    let empty = yaml.split("job_name: empty").nth(1).unwrap();
    let empty = empty.split("storage:").next().unwrap();
    assert!(!empty.contains("password"), "{empty}");
}

#[test]
fn the_shown_configuration_loads_again() {
    let yaml = load(FILE).to_yaml();
    let again =
        Config::parse(&yaml, Path::new("shown.yml")).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert_eq!(again.scrape_configs.len(), 4);
    assert_eq!(again.remote_write.len(), 3);
    assert_eq!(again.remote_write[1].other_auth, ["sigv4"]);
    assert!(again.remote_read[1].oauth2);
    assert_eq!(again.alerting.alertmanagers.len(), 1);
    assert_eq!(again.to_yaml(), yaml);
}

#[test]
fn debug_output_has_no_secret() {
    let debug = format!("{:?}", load(FILE));
    for secret in SECRETS.iter().filter(|s| {
        // URLs and plugin settings are plain strings in memory; `Debug`
        // covers the typed secrets.
        ![
            "hunter2-proxy",
            "hunter2-sd",
            "hunter2-rw-url",
            "hunter2-plugin",
            "hunter2-nested",
            "hunter2-dsn",
        ]
        .contains(s)
    }) {
        assert!(!debug.contains(secret), "{secret} in Debug output");
    }
    assert!(debug.contains("<secret>"));
}

#[test]
fn secrets_are_reachable_explicitly() {
    let config = load(FILE);
    let basic = config.scrape_configs[0].basic_auth.as_ref().unwrap();
    let password = basic.password.as_ref().unwrap();
    assert_eq!(password.expose(), "hunter2-basic");
    assert_eq!(password.to_string(), "<secret>");
    assert_eq!(format!("{password:?}"), "\"<secret>\"");
    let bearer = config.scrape_configs[1].authorization.as_ref().unwrap();
    assert_eq!(
        bearer.credentials.as_ref().map(Secret::expose),
        Some("hunter2-bearer")
    );
    assert_eq!(
        config.remote_write[0]
            .http
            .basic_auth
            .as_ref()
            .and_then(|b| b.password.as_ref())
            .map(Secret::expose),
        Some("hunter2-remote-write")
    );
}

#[test]
fn debug_of_a_plugin_instance_hides_secret_settings() {
    let yml = "plugins:\n  instances:\n    - name: db\n      plugin: mysqld-exporter\n      config:\n        dsn: \"exporter:hunter2@tcp(127.0.0.1:3306)/\"\n        password: hunter2\n        host: db.example\n";
    let config = Config::parse(yml, Path::new("prometheus.yml")).unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("db.example"), "{debug}");
}
