//! Relative file paths in a configuration are joined with the directory of
//! the file they were written in, once, when `Config::load` reads it, as
//! Prometheus' `LoadFile` (`SetDirectory`, `config.JoinDir`) does: a
//! relative configuration path keeps its directory relative, a scrape config
//! from `scrape_config_files` resolves against its own file's directory.
//!
//! The one test that changes the working directory is alone in this binary
//! with tests that do not depend on it.

use std::path::Path;

use wasmetheus_config::Config;

const MAIN: &str = "global:
  query_log_file: query.log
rule_files: [rules/*.yml, /abs/rules.yml]
scrape_config_files: [../inc/*.yml]
scrape_configs:
  - job_name: main
    basic_auth: {username: u, password_file: secrets/pw}
    tls_config: {ca_file: ca.pem, cert_file: /abs/c.pem, key_file: ./k/../key.pem}
    file_sd_configs:
      - files: [sd/*.json]
    kubernetes_sd_configs:
      - role: pod
        kubeconfig_file: kube/config
alerting:
  alertmanagers:
    - file_sd_configs: [{files: [am.json]}]
      authorization: {credentials_file: am-token}
remote_write:
  - url: http://rw.example/write
    basic_auth: {username: u, password_file: rw-pw}
remote_read:
  - url: http://rr.example/read
    tls_config: {ca_file: rr-ca.pem}
";

const INCLUDED: &str = "scrape_configs:
  - job_name: included
    file_sd_configs:
      - files: [own.json]
    authorization: {credentials_file: token}
";

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The joined paths of a configuration loaded from `cfg_dir`.
fn check_paths(config: &Config, cfg: &str, inc: &str) {
    let job = |name: &str| {
        config
            .scrape_configs
            .iter()
            .find(|s| s.job_name == name)
            .unwrap()
    };
    let at = |file: &str| {
        if cfg == "." {
            file.to_owned()
        } else {
            format!("{cfg}/{file}")
        }
    };
    assert_eq!(config.global.query_log_file, at("query.log"));
    let rules: Vec<&str> = config.rule_files.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(rules, [at("rules/*.yml").as_str(), "/abs/rules.yml"]);
    assert_eq!(config.scrape_config_files, [format!("{inc}/*.yml")]);

    let main = job("main");
    let basic = main.basic_auth.as_ref().unwrap();
    assert_eq!(
        basic.password_file.as_deref(),
        Some(at("secrets/pw").as_str())
    );
    let tls = main.tls_config.as_ref().unwrap();
    assert_eq!(tls.ca_file.as_deref(), Some(at("ca.pem").as_str()));
    assert_eq!(tls.cert_file.as_deref(), Some("/abs/c.pem"));
    assert_eq!(tls.key_file.as_deref(), Some(at("key.pem").as_str()));
    assert_eq!(main.file_sd_configs[0].files, [at("sd/*.json")]);
    assert_eq!(
        main.kubernetes_sd_configs[0].kubeconfig_file,
        at("kube/config")
    );

    let am = &config.alerting.alertmanagers[0];
    assert_eq!(am.file_sd_configs[0].files, [at("am.json")]);
    let am_auth = am.authorization.as_ref().unwrap();
    assert_eq!(
        am_auth.credentials_file.as_deref(),
        Some(at("am-token").as_str())
    );
    let rw = config.remote_write[0].http.basic_auth.as_ref().unwrap();
    assert_eq!(rw.password_file.as_deref(), Some(at("rw-pw").as_str()));
    let rr = config.remote_read[0].http.tls_config.as_ref().unwrap();
    assert_eq!(rr.ca_file.as_deref(), Some(at("rr-ca.pem").as_str()));

    // The included job resolves against its own file's directory.
    let included = job("included");
    assert_eq!(
        included.file_sd_configs[0].files,
        [format!("{inc}/own.json")]
    );
    let auth = included.authorization.as_ref().unwrap();
    assert_eq!(
        auth.credentials_file.as_deref(),
        Some(format!("{inc}/token").as_str())
    );

    // status/config shows the joined paths, as Prometheus does.
    let shown = config.to_yaml();
    assert!(
        shown.contains(&format!("ca_file: {}", at("ca.pem"))),
        "{shown}"
    );
    assert!(shown.contains(&format!("- {inc}/own.json")), "{shown}");
}

#[test]
fn relative_paths_join_the_directory_of_their_file_once() {
    // A directory of our own (no temporary-directory crate in this one's
    // dependencies); canonical, as the working directory will be.
    let root = std::env::temp_dir().join(format!("wasmetheus-config-dir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let root = root.canonicalize().unwrap();
    let root = root.as_path();
    write(root, "cfg/prometheus.yml", MAIN);
    write(root, "inc/a.yml", INCLUDED);

    // Named absolutely: every path absolute.
    let config = Config::load(&root.join("cfg/prometheus.yml")).unwrap();
    let abs = |p: &str| root.join(p).to_str().unwrap().to_owned();
    check_paths(&config, &abs("cfg"), &abs("inc"));

    // Named relatively: the directory stays relative and is joined once.
    std::env::set_current_dir(root).unwrap();
    let config = Config::load(Path::new("cfg/prometheus.yml")).unwrap();
    check_paths(&config, "cfg", "inc");
    let config = Config::load(Path::new("./cfg/../cfg/prometheus.yml")).unwrap();
    check_paths(&config, "cfg", "inc");

    // A bare file name: Go's `filepath.Dir` is `.`, paths stay as written.
    std::env::set_current_dir(root.join("cfg")).unwrap();
    let config = Config::load(Path::new("prometheus.yml")).unwrap();
    check_paths(&config, ".", "../inc");
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn parsing_text_joins_nothing() {
    let config = Config::parse(MAIN, Path::new("/etc/prometheus/prometheus.yml")).unwrap();
    assert_eq!(config.global.query_log_file, "query.log");
    assert_eq!(config.scrape_config_files, ["../inc/*.yml"]);
}

#[test]
fn remote_write_speaks_http2_only_where_asked() {
    let config = Config::parse(
        "remote_write:
  - url: http://a/write
  - url: http://b/write
    enable_http2: true
  - url: http://c/write
    enable_http2: false
  - url: http://d/write
    enable_http2:
remote_read:
  - url: http://r/read
scrape_configs:
  - job_name: j
",
        Path::new("p.yml"),
    )
    .unwrap();
    let http2: Vec<bool> = config
        .remote_write
        .iter()
        .map(|rw| rw.http.enable_http2)
        .collect();
    assert_eq!(http2, [false, true, false, false]);
    // Other HTTP clients keep Prometheus' default, on.
    assert!(config.remote_read[0].http.enable_http2);
    assert!(config.scrape_configs[0].enable_http2);
    let shown = config.to_yaml();
    assert_eq!(shown.matches("enable_http2: false").count(), 3, "{shown}");
}
