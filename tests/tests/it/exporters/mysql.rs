//! The mysqld-exporter plugin in the real runtime against a real MariaDB,
//! next to Debian's `prometheus-mysqld-exporter` (0.14) reading the same
//! server: the same families, values that agree, and the failure paths
//! (wrong password, a server that goes away and comes back, an address
//! not granted, garbage on the port) giving `mysql_up 0` with a clear
//! error, recovering by themselves. The password may come from a granted
//! file or environment variable instead of the DSN.

use super::compare::{bracketed, differences, equal, value};
use super::servers::{
    DOCUMENTED_PRIVILEGES, Instance, MariaDb, Native, Plugin, fake_tcp_server, tcp_grant,
};
use serde_json::json;
use std::time::{Duration, Instant};
use wasmetheus_config::Grants;
use wasmetheus_model::text::Exposition;
use wasmetheus_tests::{free_port, guests};

/// Families Debian's exporter emits by default that the plugin does not
/// emit yet. The comparison fails when one of them is emitted (remove it
/// here) or when the reference stops emitting it.
const NOT_YET: &[&str] = &[];

/// Counters (and the uptime) compared series by series: the plugin's
/// value lies between the reference's read before and after it.
const BRACKETED: &[&str] = &[
    "mysql_global_status_uptime",
    "mysql_global_status_queries",
    "mysql_global_status_questions",
    "mysql_global_status_connections",
    "mysql_global_status_bytes_received",
    "mysql_global_status_bytes_sent",
    "mysql_global_status_commands_total",
    "mysql_global_status_handlers_total",
];

fn plugin(instances: Vec<Instance>) -> Plugin {
    Plugin::start(guests::PLUGIN_MYSQLD_EXPORTER, "mysqld-exporter", instances)
}

/// An instance reading `db` as `user` with `password` in the DSN.
fn instance(name: &str, db: &MariaDb, user: &str, password: &str) -> Instance {
    Instance::new(
        name,
        json!({"dsn": db.dsn(user, password)}),
        tcp_grant(&db.address()),
    )
}

fn up(exposition: &Exposition) -> Option<f64> {
    value(exposition, "mysql_up", &[])
}

/// Collects `name` and asserts it reports `mysql_up 0` with an error
/// containing each of `expected` (case-insensitively), and without
/// `secret`; returns the exposition and the error.
async fn assert_down(
    plugin: &Plugin,
    name: &str,
    expected: &[&str],
    secret: Option<&str>,
) -> (Exposition, String) {
    let (text, exposition) = plugin.collect_text(name).await;
    assert_eq!(
        up(&exposition),
        Some(0.0),
        "{name}: mysql_up is not 0:\n{text}"
    );
    let error = plugin
        .last_collect_error(name)
        .unwrap_or_else(|| panic!("{name}: mysql_up 0 but no collect error in the status"));
    for word in expected {
        assert!(
            error.to_lowercase().contains(&word.to_lowercase()),
            "{name}: the error does not say {word:?}: {error}"
        );
    }
    if let Some(secret) = secret {
        assert!(
            !error.contains(secret),
            "{name}: the error shows the password: {error}"
        );
        assert!(
            !text.contains(secret),
            "{name}: the metrics show the password"
        );
        assert!(
            !plugin.status_json().contains(secret),
            "{name}: the status shows the password"
        );
    }
    (exposition, error)
}

#[tokio::test(flavor = "multi_thread")]
async fn families_match_debian_mysqld_exporter() {
    let db = MariaDb::shared();
    let native = Native::shared_mysqld();
    let password = db.exporter_user("exporter", 3);
    let plugin = plugin(vec![instance("db", db, "exporter", &password)]);

    let before = native.scrape();
    let (text, ours) = plugin.collect_text("db").await;
    let after = native.scrape();
    assert_eq!(
        up(&before),
        Some(1.0),
        "the reference exporter cannot read MariaDB"
    );
    assert_eq!(
        up(&ours),
        Some(1.0),
        "mysql_up is not 1: {:?}",
        plugin.last_collect_error("db")
    );
    assert!(!text.contains(&password), "the metrics show the password");

    let mut problems = differences(&ours, &before, "mysqld_exporter", NOT_YET, &[]);
    for name in BRACKETED {
        problems.extend(bracketed(name, &before, &ours, &after));
    }
    // Configuration is read the same: every global variable, the
    // version, the isolation level.
    let mut stable: Vec<&str> = before
        .metadata
        .iter()
        .map(|m| m.name.as_str())
        .filter(|n| n.starts_with("mysql_global_variables_"))
        .collect();
    stable.extend([
        "mysql_version_info",
        "mysql_transaction_isolation",
        "mysql_up",
    ]);
    for name in stable {
        problems.extend(equal(name, &ours, &before));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Sanity: the plugin reads this server (its port), not another one.
    assert_eq!(
        value(&ours, "mysql_global_variables_port", &[]),
        Some(f64::from(db.port))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_gives_mysql_up_0_until_it_is_right() {
    let db = MariaDb::shared();
    db.exporter_user("exporter_wrong", 3);
    let wrong = "not-the-password-91c2";
    let plugin = plugin(vec![instance("wrong", db, "exporter_wrong", wrong)]);
    let (ours, _) = assert_down(
        &plugin,
        "wrong",
        &["access denied", "exporter_wrong"],
        Some(wrong),
    )
    .await;

    // The reference says the same, with the same families.
    let native = Native::mysqld(Native::log_dir(), &db.dsn("exporter_wrong", wrong));
    let theirs = native.scrape();
    assert_eq!(up(&theirs), Some(0.0));
    let problems = differences(&ours, &theirs, "mysqld_exporter", &[], &[]);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(
        value(&ours, "mysql_exporter_last_scrape_error", &[]),
        Some(1.0)
    );

    // Once the server accepts that password, the same instance is up.
    db.sql(&format!(
        "ALTER USER 'exporter_wrong'@'%' IDENTIFIED BY '{wrong}'"
    ));
    plugin
        .assert_recovers("wrong", "mysql_up", Duration::from_secs(10))
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_mariadb_gives_mysql_up_0_and_is_found_again() {
    let db = tokio::task::spawn_blocking(|| MariaDb::private(&[]))
        .await
        .unwrap();
    let password = db.exporter_user("exporter", 3);
    let plugin = plugin(vec![instance("db", &db, "exporter", &password)]);
    plugin
        .assert_recovers("db", "mysql_up", Duration::from_secs(10))
        .await;

    db.kill();
    assert_down(&plugin, "db", &[&db.address()], Some(&password)).await;
    // Still down on the next collect (no stale state claims otherwise).
    assert_down(&plugin, "db", &[], Some(&password)).await;

    tokio::task::block_in_place(|| db.start());
    let ours = plugin
        .assert_recovers("db", "mysql_up", Duration::from_secs(30))
        .await;
    assert!(
        value(&ours, "mysql_global_status_uptime", &[]).is_some_and(|v| v < 120.0),
        "the uptime of the restarted server"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_address_not_granted_gives_mysql_up_0() {
    let db = MariaDb::shared();
    let password = db.exporter_user("exporter_grant", 3);
    let other = format!("127.0.0.1:{}", free_port());
    let plugin = plugin(vec![Instance::new(
        "ungranted",
        json!({"dsn": db.dsn("exporter_grant", &password)}),
        tcp_grant(&other),
    )]);
    let (_, error) = assert_down(
        &plugin,
        "ungranted",
        &["not granted", "tcp_connect", &db.address()],
        Some(&password),
    )
    .await;
    assert!(
        !error.contains(&other),
        "the error names the granted address: {error}"
    );
}

/// How long a fake server keeps a connection open after its answer:
/// long enough to read what the client sends (closing with data unread
/// would reset the connection, racing with the client's reads).
const HOLD: Duration = Duration::from_millis(300);

/// A MySQL protocol packet: 3-byte length, sequence number, payload.
fn packet(sequence: u8, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = len.to_le_bytes()[..3].to_vec();
    out.push(sequence);
    out.extend_from_slice(payload);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_on_the_port_gives_mysql_up_0() {
    // A server handshake (protocol 10) cut off in the middle.
    let mut handshake = vec![10u8];
    handshake.extend_from_slice(b"10.11.0-fake\0");
    handshake.extend_from_slice(&[1, 0, 0, 0, b'a', b'b', b'c']);
    let fakes = [
        // HTTP, where MySQL was expected.
        (
            "http",
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".to_vec(),
        ),
        // Random bytes.
        (
            "noise",
            (0..2000u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
        ),
        // A packet announcing 16 MB that never comes.
        ("huge", vec![0xff, 0xff, 0xff, 0, 10, 0, 0]),
        // A handshake cut short, then the connection closed.
        ("truncated", packet(0, &handshake)[..12].to_vec()),
        // A handshake of an unknown protocol version.
        ("version", packet(0, &[99, b'x', 0])),
        // Nothing at all, then closed.
        ("closed", Vec::new()),
    ];
    let mut instances = Vec::new();
    for (name, bytes) in &fakes {
        let address = fake_tcp_server(bytes.clone(), HOLD).to_string();
        instances.push(Instance::new(
            name,
            json!({"dsn": format!("exporter:pw-garbage@tcp({address})/")}),
            tcp_grant(&address),
        ));
    }
    let plugin = plugin(instances);
    for (name, _) in &fakes {
        let started = Instant::now();
        assert_down(&plugin, name, &[], Some("pw-garbage")).await;
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{name}: took {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_password_comes_from_a_granted_file() {
    let db = MariaDb::shared();
    let password = db.exporter_user("exporter_file", 3);
    let secrets = tempfile::tempdir().unwrap();
    let file = secrets.path().join("mysql-password");
    std::fs::write(&file, format!("{password}\n")).unwrap();
    let config = json!({
        "dsn": db.dsn("exporter_file", ""),
        "password_file": file.display().to_string(),
    });
    let granted = Grants {
        read_paths: vec![secrets.path().to_owned()],
        ..tcp_grant(&db.address())
    };
    let plugin = plugin(vec![Instance::new("file", config, granted)]);
    let (text, ours) = plugin.collect_text("file").await;
    assert_eq!(
        up(&ours),
        Some(1.0),
        "{:?}",
        plugin.last_collect_error("file")
    );
    assert!(!text.contains(&password), "the metrics show the password");
    assert!(
        !plugin.status_json().contains(&password),
        "the status shows the password"
    );
}

/// Set in the child process of [`the_password_comes_from_a_granted_env_var`]:
/// the MariaDB port, and the variable holding the password.
const CHILD_PORT: &str = "WASMETHEUS_IT_MYSQL_CHILD_PORT";
const PASSWORD_VAR: &str = "WASMETHEUS_IT_MYSQL_PASSWORD";

/// A granted environment variable holds the password. The variable must
/// be in the host's environment, so the plugin runs in a child process
/// (this test, run again) started with it: setting it in this process
/// would race with the other tests' threads.
#[test]
fn the_password_comes_from_a_granted_env_var() {
    const TEST: &str = "exporters::mysql::the_password_comes_from_a_granted_env_var";
    if let Ok(port) = std::env::var(CHILD_PORT) {
        let address = format!("127.0.0.1:{port}");
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let config = json!({
                "dsn": format!("exporter_env@tcp({address})/"),
                "password_env": PASSWORD_VAR,
            });
            let granted = Grants {
                env: vec![PASSWORD_VAR.into()],
                ..tcp_grant(&address)
            };
            let plugin = plugin(vec![Instance::new("env", config, granted)]);
            let (text, ours) = plugin.collect_text("env").await;
            assert_eq!(
                up(&ours),
                Some(1.0),
                "{:?}",
                plugin.last_collect_error("env")
            );
            let password = std::env::var(PASSWORD_VAR).unwrap();
            assert!(!text.contains(&password), "the metrics show the password");
            assert!(
                !plugin.status_json().contains(&password),
                "the status shows it"
            );
        });
        return;
    }
    let db = MariaDb::shared();
    let password = db.exporter_user("exporter_env", 3);
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([TEST, "--exact", "--nocapture"])
        .env(CHILD_PORT, db.port.to_string())
        .env(PASSWORD_VAR, &password)
        .output()
        .expect("running this test in a child process");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.contains("test result: ok. 1 passed"),
        "the child test failed:\n{output}"
    );
}

/// An instance scraped for days holds no more WASI resources (sockets,
/// streams, pollables) than one scraped once: the sandbox allows 4096 at
/// once, so even one leaked per collect fails within 4200 collects.
#[tokio::test(flavor = "multi_thread")]
async fn many_collects_hold_no_resources() {
    let db = MariaDb::shared();
    let password = db.exporter_user("exporter_many", 3);
    // The big collectors off: their parsing costs time, not resources;
    // the connection, the version query and SHOW SLAVE STATUS remain.
    let config = json!({
        "dsn": db.dsn("exporter_many", &password),
        "collectors": {
            "global_status": false,
            "global_variables": false,
            "info_schema.innodb_cmp": false,
            "info_schema.innodb_cmpmem": false,
            "info_schema.query_response_time": false,
        },
    });
    let plugin = plugin(vec![Instance::new("db", config, tcp_grant(&db.address()))]);
    let started = Instant::now();
    for round in 0..4200 {
        let families = plugin
            .runtime
            .collect("db")
            .await
            .unwrap_or_else(|e| panic!("collect {round} failed: {e}"));
        assert!(!families.is_empty());
    }
    eprintln!("4200 collects in {:?}", started.elapsed());
    let ours = plugin.collect("db").await;
    assert_eq!(
        up(&ours),
        Some(1.0),
        "{:?}",
        plugin.last_collect_error("db")
    );
}

/// A replica: the `mysql_slave_status_*` families (with their
/// `master_host`, `master_uuid`, `channel_name` and `connection_name`
/// labels) as Debian's exporter reads them from the same replica.
#[tokio::test(flavor = "multi_thread")]
async fn replica_families_match_debian_mysqld_exporter() {
    let (primary, replica) = tokio::task::spawn_blocking(|| {
        let primary = MariaDb::private(&["--log-bin=primary-bin", "--server-id=1"]);
        let replica = MariaDb::private(&["--server-id=2"]);
        (primary, replica)
    })
    .await
    .unwrap();
    primary.sql(
        "CREATE USER 'repl'@'%' IDENTIFIED BY 'pw-repl-3d1'; \
         GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'; \
         CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY)",
    );
    replica.sql(&format!(
        "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='repl', \
         MASTER_PASSWORD='pw-repl-3d1', MASTER_USE_GTID=slave_pos; START SLAVE",
        primary.port
    ));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let tables = replica.try_sql("SHOW TABLES FROM shop");
        if tables.is_ok_and(|t| t.contains("items")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replica does not replicate: {}",
            replica.sql("SHOW SLAVE STATUS\\G")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let password = replica.exporter_user("exporter", 3);
    let native = Native::mysqld(Native::log_dir(), &replica.dsn("exporter", &password));
    let plugin = plugin(vec![instance("replica", &replica, "exporter", &password)]);
    let theirs = native.scrape();
    let ours = plugin.collect("replica").await;
    assert_eq!(
        up(&ours),
        Some(1.0),
        "{:?}",
        plugin.last_collect_error("replica")
    );
    assert!(
        theirs
            .metadata
            .iter()
            .any(|m| m.name == "mysql_slave_status_slave_io_running"),
        "the reference reads no replica status"
    );
    let mut problems = differences(&ours, &theirs, "mysqld_exporter", NOT_YET, &[]);
    for name in [
        "mysql_slave_status_slave_io_running",
        "mysql_slave_status_slave_sql_running",
        "mysql_slave_status_master_port",
        "mysql_slave_status_master_server_id",
        "mysql_slave_status_last_errno",
    ] {
        problems.extend(equal(name, &ours, &theirs));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(
        value(
            &ours,
            "mysql_slave_status_master_port",
            &[("master_host", "127.0.0.1")]
        ),
        Some(f64::from(primary.port))
    );
}

/// With only the privileges mysqld_exporter's README lists, MariaDB 10.5+
/// refuses `SHOW SLAVE STATUS` (it wants SLAVE MONITOR): the reference
/// stays up and counts the slave_status collector's error; so does the
/// plugin, with an error saying which privilege is missing.
#[tokio::test(flavor = "multi_thread")]
async fn without_slave_monitor_the_error_names_the_privilege() {
    let db = MariaDb::shared();
    let password = db.user_with("exporter_doc", 3, DOCUMENTED_PRIVILEGES);
    let native = Native::mysqld(Native::log_dir(), &db.dsn("exporter_doc", &password));
    let plugin = plugin(vec![instance("doc", db, "exporter_doc", &password)]);
    let theirs = native.scrape();
    let ours = plugin.collect("doc").await;
    assert_eq!(
        up(&ours),
        Some(1.0),
        "{:?}",
        plugin.last_collect_error("doc")
    );
    let errors = "mysql_exporter_scrape_errors_total";
    let slave_status = [("collector", "collect.slave_status")];
    assert_eq!(value(&theirs, errors, &slave_status), Some(1.0));
    assert_eq!(value(&ours, errors, &slave_status), Some(1.0));
    assert_eq!(
        value(&ours, "mysql_exporter_last_scrape_error", &[]),
        Some(1.0)
    );
    let problems = differences(&ours, &theirs, "mysqld_exporter", NOT_YET, &[]);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let error = plugin.last_collect_error("doc").expect("no collect error");
    assert!(
        error.contains("slave_status") && error.contains("SLAVE MONITOR"),
        "the error does not say the slave_status collector needs SLAVE MONITOR: {error}"
    );
}
