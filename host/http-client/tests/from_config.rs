//! Settings taken from a real `prometheus.yml`: what the client uses, and
//! the settings it does not implement, which [`unsupported`] names and the
//! configuration's load warnings call not in effect (the two lists must
//! agree, or a scrape would silently go without a setting).

use std::path::Path;

use wasmetheus_config::Config;
use wasmetheus_http_client::{
    Auth, HeaderSource, Pem, SecretSource, Settings, TlsVersion, unsupported,
};

fn scrape_config(http: &str) -> Config {
    let text = format!(
        "scrape_configs:\n  - job_name: j\n    static_configs: [{{targets: ['h:1']}}]\n{http}"
    );
    let mut config = Config::parse(&text, Path::new("/etc/prometheus/prometheus.yml")).unwrap();
    // As `Config::load` does.
    config.set_directory(Path::new("/etc/prometheus"));
    config
}

#[test]
fn settings_come_from_the_scrape_config() {
    let config = scrape_config(
        "    basic_auth: {username_file: user, password_file: /abs/pw}\n    \
         http_headers:\n      X-A: {values: [a, b], secrets: [s], files: [hf]}\n    \
         tls_config: {ca: inline-ca, cert_file: c.pem, key_file: k.pem, server_name: s.test, \
         min_version: TLS13}\n",
    );
    let settings = Settings::from_config(&config.scrape_configs[0].http());
    assert_eq!(
        settings.auth,
        Some(Auth::Basic {
            // Relative files are relative to the configuration file.
            username: SecretSource::File("/etc/prometheus/user".into()),
            password: SecretSource::File("/abs/pw".into()),
        })
    );
    assert_eq!(
        settings.headers,
        [
            ("X-A".to_owned(), HeaderSource::Value("a".into())),
            ("X-A".to_owned(), HeaderSource::Value("b".into())),
            (
                "X-A".to_owned(),
                HeaderSource::Secret(SecretSource::Text("s".into()))
            ),
            (
                "X-A".to_owned(),
                HeaderSource::Secret(SecretSource::File("/etc/prometheus/hf".into()))
            ),
        ]
    );
    assert_eq!(settings.tls.ca, Some(Pem::Inline("inline-ca".into())));
    assert_eq!(
        settings.tls.cert,
        Some(Pem::File("/etc/prometheus/c.pem".into()))
    );
    assert_eq!(settings.tls.server_name.as_deref(), Some("s.test"));
    assert_eq!(settings.tls.min_version, Some(TlsVersion::Tls13));
    assert_eq!(settings.tls.max_version, None);
    assert!(unsupported(&config.scrape_configs[0].http()).is_none());
}

#[test]
fn a_bearer_token_becomes_an_authorization_header() {
    for (http, credentials) in [
        ("    bearer_token: tok\n", SecretSource::Text("tok".into())),
        (
            "    bearer_token_file: t\n",
            SecretSource::File("/etc/prometheus/t".into()),
        ),
        (
            "    authorization: {credentials: tok}\n",
            SecretSource::Text("tok".into()),
        ),
    ] {
        let config = scrape_config(http);
        let settings = Settings::from_config(&config.scrape_configs[0].http());
        assert_eq!(
            settings.auth,
            Some(Auth::Token {
                kind: "Bearer".into(),
                credentials
            }),
            "{http}"
        );
    }
}

#[test]
fn unsupported_settings_are_named_and_warned_about() {
    for (http, key, reason) in [
        (
            "    oauth2: {client_id: i, token_url: 'http://t'}\n",
            "scrape_configs.oauth2",
            "oauth2",
        ),
        (
            "    proxy_url: 'http://proxy:3128'\n",
            "scrape_configs.proxy_url",
            "proxies",
        ),
        (
            "    proxy_from_environment: true\n",
            "scrape_configs.proxy_from_environment",
            "proxies",
        ),
        (
            "    basic_auth:\n      username: u\n      password_ref: p\n",
            "scrape_configs.basic_auth.password_ref",
            "secret references",
        ),
        (
            "    basic_auth:\n      username_ref: u\n",
            "scrape_configs.basic_auth.username_ref",
            "secret references",
        ),
        (
            "    authorization:\n      credentials_ref: c\n",
            "scrape_configs.authorization.credentials_ref",
            "secret references",
        ),
        (
            "    tls_config:\n      ca_ref: c\n",
            "scrape_configs.tls_config.ca_ref",
            "secret references",
        ),
        (
            "    tls_config:\n      cert_ref: c\n      key_ref: k\n",
            "scrape_configs.tls_config.cert_ref",
            "secret references",
        ),
    ] {
        let config = scrape_config(http);
        assert_eq!(
            unsupported(&config.scrape_configs[0].http()),
            Some(reason),
            "{http}"
        );
        let warned = format!("parsed, not in effect yet: {key}");
        assert!(
            config.warnings.iter().any(|w| w.ends_with(&warned)),
            "{http}: {:?}",
            config.warnings
        );
    }
}

/// rustls has no TLS 1.0 or 1.1: a client limited to them cannot be
/// built (a scrape fails saying so; an Alertmanager entry is not sent to).
#[test]
fn a_max_version_below_tls12_is_unsupported() {
    for (version, reason) in [
        ("TLS10", Some("tls_config.max_version below TLS12")),
        ("TLS11", Some("tls_config.max_version below TLS12")),
        ("TLS12", None),
    ] {
        let config = scrape_config(&format!("    tls_config:\n      max_version: {version}\n"));
        let http = config.scrape_configs[0].http();
        assert_eq!(unsupported(&http), reason, "{version}");
        let built = wasmetheus_http_client::Client::new(Settings::from_config(&http));
        assert_eq!(built.is_ok(), reason.is_none(), "{version}");
    }
}

#[test]
fn settings_the_client_implements_are_not_warned_about() {
    let config = scrape_config(
        "    basic_auth:\n      username_file: u\n      password: p\n    \
         http_headers:\n      X-A:\n        values: [a]\n    \
         tls_config:\n      ca: x\n      cert: c\n      key: k\n      \
         min_version: TLS12\n      max_version: TLS13\n",
    );
    assert_eq!(config.warnings, Vec::<String>::new());
}
