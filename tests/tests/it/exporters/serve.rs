//! Both exporter plugins through the whole server (`wasmetheus serve`):
//! instances in the configuration file are scraped, `mysql_up` and
//! `haproxy_up` are queryable, `/api/v1/plugins` lists the instances with
//! the error of a failing one, and the DSN's password is not shown.

use super::servers::{HaProxy, MariaDb};
use serde_json::Value;
use std::time::Duration;
use wasmetheus_tests::{
    PluginsDir, TestServer, eventually, free_port, guests, http, test_args, url_encode,
};

/// `(instance, value)` of every series `query` returns.
async fn query(address: std::net::SocketAddr, query: &str) -> Vec<(String, String)> {
    let path = format!("/api/v1/query?query={}", url_encode(query));
    let (status, body) = http(address, "GET", &path, &[]).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    answer["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["metric"]["instance"].as_str().unwrap_or("").to_owned(),
                r["value"][1].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// The instance `name` in `/api/v1/plugins`.
async fn plugin_instance(address: std::net::SocketAddr, name: &str) -> Option<Value> {
    let (status, body) = http(address, "GET", "/api/v1/plugins", &[]).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    answer["data"]
        .as_array()?
        .iter()
        .flat_map(|p| p["instances"].as_array().cloned().unwrap_or_default())
        .find(|i| i["name"] == name)
}

/// The error of an instance's last collect as `/api/v1/plugins` shows it.
fn last_collect_error(instance: &Value) -> Option<String> {
    instance["last_collect_error"].as_str().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread")]
async fn both_plugins_run_in_the_server() {
    let db = MariaDb::shared();
    let proxy = HaProxy::shared();
    let password = db.exporter_user("exporter_serve", 3);
    let closed = free_port();
    let plugins = PluginsDir::new();
    plugins.install(guests::PLUGIN_MYSQLD_EXPORTER, "mysqld-exporter");
    plugins.install(guests::PLUGIN_HAPROXY_EXPORTER, "haproxy-exporter");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         plugins:\n  instances:\n\
         \x20   - name: mysql-main\n      plugin: mysqld-exporter\n\
         \x20     config: {{dsn: '{dsn}'}}\n\
         \x20     grants: {{tcp_connect: ['{db_address}']}}\n\
         \x20   - name: haproxy-main\n      plugin: haproxy-exporter\n\
         \x20     config: {{scrape_uri: '{csv}'}}\n\
         \x20     grants: {{http_origins: ['{origin}']}}\n\
         \x20   - name: haproxy-gone\n      plugin: haproxy-exporter\n\
         \x20     config: {{scrape_uri: 'http://127.0.0.1:{closed}/stats;csv'}}\n\
         \x20     grants: {{http_origins: ['http://127.0.0.1:{closed}']}}\n",
        dsn = db.dsn("exporter_serve", &password),
        db_address = db.address(),
        csv = proxy.csv_uri(),
        origin = proxy.origin(),
    );
    let config_path = plugins.path().join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start(
        test_args(plugins.path(), Some(&config_path), data.path()),
        data,
    )
    .await;
    let address = server.address;

    let wait = Duration::from_secs(60);
    eventually(wait, "mysql_up 1 in the server", || async {
        let result = query(address, "mysql_up").await;
        (result == [("mysql-main".to_owned(), "1".to_owned())]).then_some(())
    })
    .await;
    eventually(wait, "haproxy_up of both instances", || async {
        let mut result = query(address, "haproxy_up").await;
        result.sort();
        (result
            == [
                ("haproxy-gone".to_owned(), "0".to_owned()),
                ("haproxy-main".to_owned(), "1".to_owned()),
            ])
        .then_some(())
    })
    .await;
    // The families the dashboards use are stored.
    let servers = query(address, "haproxy_server_up{backend=\"app\"}").await;
    assert_eq!(servers.len(), 2, "{servers:?}");
    let status = query(address, "mysql_global_status_uptime > 0").await;
    assert_eq!(status.len(), 1, "{status:?}");

    let good = plugin_instance(address, "mysql-main").await.unwrap();
    assert_eq!(good["running"], true, "{good}");
    assert_eq!(last_collect_error(&good), None, "{good}");
    let failing = eventually(wait, "haproxy-gone's collect error", || async {
        let instance = plugin_instance(address, "haproxy-gone").await?;
        last_collect_error(&instance).map(|e| (instance, e))
    })
    .await;
    assert!(
        failing.1.contains(&closed.to_string()),
        "the error does not name the target: {}",
        failing.0
    );

    // The DSN's password is not shown anywhere.
    for path in [
        "/api/v1/status/config",
        "/api/v1/plugins",
        "/api/v1/targets",
    ] {
        let (_, body) = http(address, "GET", path, &[]).await;
        assert!(!body.contains(&password), "{path} shows the password");
    }
    server.stop().await;
}
