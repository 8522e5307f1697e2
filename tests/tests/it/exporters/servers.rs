//! The real servers the exporter plugins are tested against, started from
//! their Debian packages: MariaDB (`mariadb-server`), HAProxy (`haproxy`),
//! and the reference exporters (`prometheus-mysqld-exporter`,
//! `prometheus-haproxy-exporter`); fake servers answering garbage; and the
//! plugin runtime the plugins run in.
//!
//! Each server a module shares is started once per test binary, lazily
//! ([`MariaDb::shared`], [`HaProxy::shared`], …), on loopback ports the
//! tests own, with its files in one directory of the run. Every process
//! runs under a small shell that reads its standard input: when the test
//! binary exits (however it exits) the pipe closes and the shell stops
//! the server, so no daemon outlives the tests, and a last watchdog
//! removes the run's directory.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};
use wasmetheus_config::{Config, Grants, PluginInstanceConfig};
use wasmetheus_model::text::{self, Exposition};
use wasmetheus_plugin_runtime::{PluginRuntime, RuntimeOptions};
use wasmetheus_tests::{PluginsDir, free_port};

pub const MARIADBD: &str = "/usr/sbin/mariadbd";
pub const MARIADB_INSTALL_DB: &str = "/usr/bin/mariadb-install-db";
pub const MARIADB: &str = "/usr/bin/mariadb";
pub const HAPROXY: &str = "/usr/sbin/haproxy";
pub const MYSQLD_EXPORTER: &str = "/usr/bin/prometheus-mysqld-exporter";
pub const HAPROXY_EXPORTER: &str = "/usr/bin/prometheus-haproxy-exporter";

/// How long a server may take to start.
const START: Duration = Duration::from_secs(60);

/// Panics naming the Debian package when `binary` is missing.
pub fn require(binary: &str, package: &str) {
    assert!(
        Path::new(binary).exists(),
        "{binary} not found: install the Debian package {package} (apt-get install {package})"
    );
}

/// The directory of this run's shared servers, removed by a watchdog
/// when the test binary exits.
fn run_dir() -> &'static Path {
    /// The directory, and the watchdog with its standard input: never
    /// closed but by the exit of this process.
    static DIR: LazyLock<(PathBuf, Mutex<(Child, ChildStdin)>)> = LazyLock::new(|| {
        let dir = tempfile::Builder::new()
            .prefix("wasmetheus-exporters-")
            .tempdir()
            .expect("creating a temporary directory")
            .keep();
        let mut watchdog = Command::new("sh")
            .args(["-c", "read -r _; rm -rf \"$1\"", "sh"])
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting sh");
        let stdin = watchdog.stdin.take().unwrap();
        (dir, Mutex::new((watchdog, stdin)))
    });
    &DIR.0
}

/// A fresh directory under the run's directory, for a shared server.
fn shared_dir(name: &str) -> PathBuf {
    let dir = run_dir().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A compile cache shared by the tests' plugin runtimes (each plugin is
/// compiled once per run, not once per test).
fn compile_cache() -> PathBuf {
    shared_dir("compile-cache")
}

/// Runs `"$@"` and, in the background, waits for a line (a signal name)
/// or the end of standard input to kill it; exits with the server.
const SUPERVISE: &str = r#"exec 3<&0 0</dev/null
"$@" 3<&- & child=$!
( read -r signal <&3; kill -s "${signal:-TERM}" "$child" 2>/dev/null ) & reader=$!
exec 3<&-
wait "$child"; status=$?
kill "$reader" 2>/dev/null
exit $status"#;

/// A server process under a shell that stops it (SIGTERM) when its
/// standard input closes: when this is dropped, or when the test binary
/// exits without dropping it (a `static`).
pub struct Daemon {
    shell: Child,
    control: Option<ChildStdin>,
    log: PathBuf,
}

impl Daemon {
    /// Starts `program` with `args` and extra `env`, its output to `log`.
    pub fn spawn(program: &str, args: &[String], env: &[(&str, &str)], log: &Path) -> Daemon {
        let output = std::fs::File::create(log).expect("creating a log file");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", SUPERVISE, "sh", program])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(output.try_clone().unwrap())
            .stderr(output);
        for (name, value) in env {
            cmd.env(name, value);
        }
        let mut shell = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {program}: {e}"));
        let control = shell.stdin.take();
        Daemon {
            shell,
            control,
            log: log.to_owned(),
        }
    }

    /// Whether the server (and its shell) has exited.
    pub fn exited(&mut self) -> bool {
        self.shell.try_wait().unwrap().is_some()
    }

    /// The end of the server's output, for a failure message.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }

    /// Stops the server with `signal` (`TERM`, `KILL`) and waits for it.
    pub fn stop(mut self, signal: &str) {
        self.signal(signal);
    }

    fn signal(&mut self, signal: &str) {
        if let Some(mut control) = self.control.take() {
            let _ = writeln!(control, "{signal}");
        }
        let _ = self.shell.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.signal("TERM");
    }
}

fn log_tail(path: &Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let start = log.len().saturating_sub(3000);
    let start = (start..log.len())
        .find(|i| log.is_char_boundary(*i))
        .unwrap_or(log.len());
    format!("{} (end):\n{}", path.display(), &log[start..])
}

/// Waits until `ready` holds, panicking with the daemon's log when it
/// exits first or `START` passes.
fn wait_ready(daemon: &mut Daemon, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + START;
    loop {
        if ready() {
            return;
        }
        assert!(
            !daemon.exited(),
            "{what} exited while starting; {}",
            daemon.log_tail()
        );
        assert!(
            Instant::now() < deadline,
            "{what} not ready after {START:?}; {}",
            daemon.log_tail()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A blocking HTTP/1.0 GET: `(status, body)`, or `None` when the
/// connection fails.
pub fn http_get(address: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The privileges mysqld_exporter's README asks for (PROCESS, REPLICATION
/// CLIENT, SELECT), plus SLAVE MONITOR: since MariaDB 10.5 REPLICATION
/// CLIENT (now BINLOG MONITOR) no longer allows `SHOW SLAVE STATUS`, and
/// without it both exporters log an error from the slave_status
/// collector on every scrape (a test runs with [`DOCUMENTED_PRIVILEGES`]).
const EXPORTER_PRIVILEGES: &str = "PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT";

/// The privileges as mysqld_exporter 0.14's README lists them.
pub const DOCUMENTED_PRIVILEGES: &str = "PROCESS, REPLICATION CLIENT, SELECT";

/// A MariaDB server on a loopback port with its own data directory.
pub struct MariaDb {
    pub port: u16,
    dir: PathBuf,
    /// More `mariadbd` options (binary log, server id).
    options: Vec<String>,
    daemon: Mutex<Option<Daemon>>,
    /// Removes `dir` when dropped (a server that is not shared).
    _owned: Option<tempfile::TempDir>,
}

impl MariaDb {
    /// The server the tests of a run share (started on first use).
    pub fn shared() -> &'static MariaDb {
        static SHARED: LazyLock<MariaDb> =
            LazyLock::new(|| MariaDb::start_in(shared_dir("mariadb"), None, &[]));
        &SHARED
    }

    /// A server of its own (for a test that stops it), removed when
    /// dropped; `options` are more `mariadbd` options.
    pub fn private(options: &[&str]) -> MariaDb {
        let dir = tempfile::Builder::new()
            .prefix("wasmetheus-mariadb-")
            .tempdir()
            .unwrap();
        MariaDb::start_in(dir.path().to_owned(), Some(dir), options)
    }

    fn start_in(dir: PathBuf, owned: Option<tempfile::TempDir>, options: &[&str]) -> MariaDb {
        require(MARIADBD, "mariadb-server");
        require(MARIADB_INSTALL_DB, "mariadb-server");
        require(MARIADB, "mariadb-client (installed with mariadb-server)");
        // Its own temporary directory; and one installation at a time
        // (concurrent bootstraps were seen to fail on their temporary
        // tables).
        static INSTALLING: Mutex<()> = Mutex::new(());
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let log = dir.join("install.log");
        let installing = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
        let status = Command::new(MARIADB_INSTALL_DB)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", dir.join("data").display()))
            .args([
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                // A small redo log: the data directory is ~80 MB, not 130.
                "--innodb-log-file-size=8M",
            ])
            .arg(format!("--tmpdir={}", tmp.display()))
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.join("install.err")).unwrap())
            .status()
            .expect("running mariadb-install-db");
        drop(installing);
        assert!(
            status.success(),
            "mariadb-install-db failed: {status}; {}\n{}",
            log_tail(&log),
            log_tail(&dir.join("install.err"))
        );
        let db = MariaDb {
            port: free_port(),
            dir,
            options: options.iter().map(|o| (*o).to_owned()).collect(),
            daemon: Mutex::new(None),
            _owned: owned,
        };
        db.start();
        db
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("sock")
    }

    /// Starts the server (again) on its port and data directory and waits
    /// until it answers on the socket and the port.
    pub fn start(&self) {
        let mut slot = self.daemon.lock().unwrap();
        assert!(slot.is_none(), "MariaDB is already running");
        let _ = std::fs::remove_file(self.socket());
        let mut args = vec![
            "--no-defaults".to_owned(),
            format!("--datadir={}", self.dir.join("data").display()),
            format!("--socket={}", self.socket().display()),
            format!("--port={}", self.port),
            "--bind-address=127.0.0.1".to_owned(),
            "--user=root".to_owned(),
            "--skip-log-bin".to_owned(),
            "--innodb-log-file-size=8M".to_owned(),
            format!("--pid-file={}", self.dir.join("pid").display()),
            format!("--tmpdir={}", self.dir.join("tmp").display()),
        ];
        args.extend(self.options.iter().cloned());
        let mut daemon = Daemon::spawn(MARIADBD, &args, &[], &self.dir.join("mariadb.log"));
        let port = self.port;
        wait_ready(&mut daemon, "mariadbd", || {
            self.socket().exists()
                && TcpStream::connect(loopback(port)).is_ok()
                && self.try_sql("SELECT 1").is_ok()
        });
        *slot = Some(daemon);
    }

    /// Kills the server (SIGKILL: gone at once, as after a crash) and
    /// waits until it has exited.
    pub fn kill(&self) {
        let daemon = self.daemon.lock().unwrap().take();
        daemon.expect("MariaDB is not running").stop("KILL");
    }

    /// Runs `sql` as root over the socket; its tab-separated output.
    pub fn sql(&self, sql: &str) -> String {
        self.try_sql(sql)
            .unwrap_or_else(|e| panic!("mariadb -e {sql:?} failed: {e}"))
    }

    /// [`MariaDb::sql`], failing with the client's error output.
    pub fn try_sql(&self, sql: &str) -> Result<String, String> {
        let output = Command::new(MARIADB)
            .arg("--no-defaults")
            .arg("-S")
            .arg(self.socket())
            .args(["-uroot", "--batch", "--skip-column-names", "-e", sql])
            .output()
            .map_err(|e| e.to_string())?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    /// Creates (once) the user `name` with [`EXPORTER_PRIVILEGES`] and at
    /// most `max_connections` connections, and returns its password.
    pub fn exporter_user(&self, name: &str, max_connections: u32) -> String {
        self.user_with(name, max_connections, EXPORTER_PRIVILEGES)
    }

    /// Creates (once) the user `name` with `privileges`; its password.
    pub fn user_with(&self, name: &str, max_connections: u32, privileges: &str) -> String {
        let password = format!("pw-{name}-7f3a");
        self.sql(&format!(
            "CREATE USER IF NOT EXISTS '{name}'@'%' IDENTIFIED BY '{password}' \
             WITH MAX_USER_CONNECTIONS {max_connections}; \
             GRANT {privileges} ON *.* TO '{name}'@'%'"
        ));
        password
    }

    /// `host:port` of the server.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// mysqld_exporter's DSN for `user` (`password` empty: none in it).
    pub fn dsn(&self, user: &str, password: &str) -> String {
        if password.is_empty() {
            format!("{user}@tcp({})/", self.address())
        } else {
            format!("{user}:{password}@tcp({})/", self.address())
        }
    }
}

/// A HAProxy with a stats page over HTTP and a stats socket on TCP,
/// frontends `stats`, `live`, `web` and `api`, and backends `app` (one
/// server up, one down), `api` (one up, one backup) and `empty` (its only
/// server down).
pub struct HaProxy {
    pub stats_port: u16,
    pub socket_port: u16,
    dir: PathBuf,
    daemon: Mutex<Option<Daemon>>,
    _owned: Option<tempfile::TempDir>,
}

impl HaProxy {
    /// The HAProxy the tests of a run share.
    pub fn shared() -> &'static HaProxy {
        static SHARED: LazyLock<HaProxy> =
            LazyLock::new(|| HaProxy::start_in(shared_dir("haproxy"), None));
        &SHARED
    }

    /// A HAProxy of its own (for a test that stops it).
    pub fn private() -> HaProxy {
        let dir = tempfile::Builder::new()
            .prefix("wasmetheus-haproxy-")
            .tempdir()
            .unwrap();
        HaProxy::start_in(dir.path().to_owned(), Some(dir))
    }

    fn start_in(dir: PathBuf, owned: Option<tempfile::TempDir>) -> HaProxy {
        require(HAPROXY, "haproxy");
        let [stats, socket, live, web, api, closed1, closed2] = [(); 7].map(|_| free_port());
        let config = format!(
            "global\n    maxconn 200\n    stats socket ipv4@127.0.0.1:{socket} level user\n\
             defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
             frontend stats\n    bind 127.0.0.1:{stats}\n    stats enable\n    stats uri /stats\n\
             frontend live\n    bind 127.0.0.1:{live}\n    http-request return status 200 content-type text/plain string ok\n\
             frontend web\n    bind 127.0.0.1:{web}\n    default_backend app\n\
             frontend api\n    bind 127.0.0.1:{api}\n    default_backend api\n\
             backend app\n    balance roundrobin\n    option httpchk GET /\n\
             \x20   server up1 127.0.0.1:{live} check inter 500ms rise 1 fall 1\n\
             \x20   server down1 127.0.0.1:{closed1} check inter 500ms rise 1 fall 1\n\
             backend api\n    option httpchk GET /\n\
             \x20   server up2 127.0.0.1:{live} check inter 500ms rise 1 fall 1\n\
             \x20   server spare 127.0.0.1:{live} check inter 500ms rise 1 fall 1 backup\n\
             backend empty\n    server dead 127.0.0.1:{closed2} check inter 500ms rise 1 fall 1\n"
        );
        std::fs::write(dir.join("haproxy.cfg"), config).unwrap();
        let proxy = HaProxy {
            stats_port: stats,
            socket_port: socket,
            dir,
            daemon: Mutex::new(None),
            _owned: owned,
        };
        proxy.start();
        // Some traffic through `web`: responses and bytes that are not 0.
        for _ in 0..3 {
            http_get(loopback(web), "/").expect("a request through HAProxy's web frontend");
        }
        proxy
    }

    /// Starts HAProxy (again) with its configuration and waits until its
    /// health checks have found which servers are down.
    pub fn start(&self) {
        let mut slot = self.daemon.lock().unwrap();
        assert!(slot.is_none(), "HAProxy is already running");
        let args = vec![
            "-f".to_owned(),
            self.dir.join("haproxy.cfg").display().to_string(),
            "-db".to_owned(),
        ];
        let mut daemon = Daemon::spawn(HAPROXY, &args, &[], &self.dir.join("haproxy.log"));
        let stats = loopback(self.stats_port);
        wait_ready(&mut daemon, "haproxy", || {
            http_get(stats, "/stats;csv").is_some_and(|(status, csv)| {
                status == 200
                    && csv.contains("\napp,up1,")
                    && csv
                        .lines()
                        .any(|l| l.starts_with("app,down1,") && l.contains(",DOWN,"))
                    && csv
                        .lines()
                        .any(|l| l.starts_with("empty,dead,") && l.contains(",DOWN,"))
                    && csv
                        .lines()
                        .any(|l| l.starts_with("app,up1,") && l.contains(",UP,"))
            }) && TcpStream::connect(loopback(self.socket_port)).is_ok()
        });
        *slot = Some(daemon);
    }

    /// Kills HAProxy and waits until it has exited.
    pub fn kill(&self) {
        let daemon = self.daemon.lock().unwrap().take();
        daemon.expect("HAProxy is not running").stop("KILL");
    }

    /// The CSV statistics URI (haproxy_exporter's `--haproxy.scrape-uri`).
    pub fn csv_uri(&self) -> String {
        format!("http://127.0.0.1:{}/stats;csv", self.stats_port)
    }

    /// The origin the CSV is served from (the `http_origins` grant).
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.stats_port)
    }

    /// The stats socket on TCP as a scrape URI.
    pub fn socket_uri(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.socket_port)
    }

    /// `host:port` of the stats socket (the `tcp_connect` grant).
    pub fn socket_address(&self) -> String {
        format!("127.0.0.1:{}", self.socket_port)
    }
}

/// One of Debian's exporters on a loopback port.
pub struct Native {
    pub address: SocketAddr,
    daemon: Daemon,
}

impl Native {
    /// `prometheus-mysqld-exporter` reading `dsn` (from
    /// `DATA_SOURCE_NAME`), with its default collectors.
    pub fn mysqld(dir: &Path, dsn: &str) -> Native {
        require(MYSQLD_EXPORTER, "prometheus-mysqld-exporter");
        let port = free_port();
        Native::start(
            MYSQLD_EXPORTER,
            &[format!("--web.listen-address=127.0.0.1:{port}")],
            &[("DATA_SOURCE_NAME", dsn)],
            port,
            &dir.join(format!("mysqld-exporter-{port}.log")),
        )
    }

    /// `prometheus-haproxy-exporter` scraping `uri`, with its default
    /// server metrics.
    pub fn haproxy(dir: &Path, uri: &str) -> Native {
        require(HAPROXY_EXPORTER, "prometheus-haproxy-exporter");
        let port = free_port();
        Native::start(
            HAPROXY_EXPORTER,
            &[
                format!("--web.listen-address=127.0.0.1:{port}"),
                format!("--haproxy.scrape-uri={uri}"),
            ],
            &[],
            port,
            &dir.join(format!("haproxy-exporter-{port}.log")),
        )
    }

    fn start(binary: &str, args: &[String], env: &[(&str, &str)], port: u16, log: &Path) -> Native {
        let mut daemon = Daemon::spawn(binary, args, env, log);
        let address = loopback(port);
        wait_ready(&mut daemon, binary, || TcpStream::connect(address).is_ok());
        Native { address, daemon }
    }

    /// The shared MariaDB's reference exporter, as user `exporter`.
    pub fn shared_mysqld() -> &'static Native {
        static SHARED: LazyLock<Native> = LazyLock::new(|| {
            let db = MariaDb::shared();
            let password = db.exporter_user("exporter", 3);
            Native::mysqld(run_dir(), &db.dsn("exporter", &password))
        });
        &SHARED
    }

    /// The shared HAProxy's reference exporter over HTTP (CSV).
    pub fn shared_haproxy_http() -> &'static Native {
        static SHARED: LazyLock<Native> =
            LazyLock::new(|| Native::haproxy(run_dir(), &HaProxy::shared().csv_uri()));
        &SHARED
    }

    /// The shared HAProxy's reference exporter over the stats socket.
    pub fn shared_haproxy_socket() -> &'static Native {
        static SHARED: LazyLock<Native> =
            LazyLock::new(|| Native::haproxy(run_dir(), &HaProxy::shared().socket_uri()));
        &SHARED
    }

    /// One scrape of `/metrics`, parsed.
    pub fn scrape(&self) -> Exposition {
        let (status, body) = http_get(self.address, "/metrics").unwrap_or_else(|| {
            panic!(
                "scraping the reference exporter failed; {}",
                self.daemon.log_tail()
            )
        });
        assert_eq!(status, 200, "{body}");
        text::parse(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    /// The directory for a test's own reference exporter's log.
    pub fn log_dir() -> &'static Path {
        run_dir()
    }
}

/// An instance of the plugin under test: a name, its config and grants.
pub struct Instance {
    pub name: String,
    pub config: serde_json::Value,
    pub grants: Grants,
}

impl Instance {
    pub fn new(name: &str, config: serde_json::Value, grants: Grants) -> Instance {
        Instance {
            name: name.to_owned(),
            config,
            grants,
        }
    }
}

/// `tcp_connect: [address]`.
pub fn tcp_grant(address: &str) -> Grants {
    Grants {
        tcp_connect: vec![address.to_owned()],
        ..Grants::default()
    }
}

/// `http_origins: [origin]`.
pub fn http_grant(origin: &str) -> Grants {
    Grants {
        http_origins: vec![origin.to_owned()],
        ..Grants::default()
    }
}

/// A plugin in the real runtime, with its instances.
pub struct Plugin {
    pub runtime: PluginRuntime,
    _dir: PluginsDir,
}

impl Plugin {
    /// Collects `name` until its `up_family` (`mysql_up`, `haproxy_up`) is
    /// 1 and the status shows no collect error, at most `within`.
    pub async fn assert_recovers(
        &self,
        name: &str,
        up_family: &str,
        within: Duration,
    ) -> Exposition {
        let deadline = Instant::now() + within;
        loop {
            let (text, exposition) = self.collect_text(name).await;
            if super::compare::value(&exposition, up_family, &[]) == Some(1.0) {
                assert_eq!(
                    self.last_collect_error(name),
                    None,
                    "{name}: recovered, but the status still shows an error"
                );
                return exposition;
            }
            assert!(
                Instant::now() < deadline,
                "{name}: no {up_family} 1 within {within:?}; last error {:?}:\n{text}",
                self.last_collect_error(name)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Loads `wasm` as `plugin` with `instances`; every instance must open.
    pub fn start(wasm: &str, plugin: &str, instances: Vec<Instance>) -> Plugin {
        let dir = PluginsDir::new();
        dir.install(wasm, plugin);
        let mut options = RuntimeOptions::new(dir.path());
        options.cache_dir = Some(compile_cache());
        // An interpreted language's plugin (the Python and JavaScript
        // examples) is megabytes of code, compiled once per test binary
        // on a machine busy with the other tests.
        options.compile_timeout = Duration::from_secs(180);
        let runtime = PluginRuntime::new(options).unwrap();
        let mut config = Config::default();
        for instance in instances {
            config.plugins.instances.push(PluginInstanceConfig {
                name: instance.name,
                plugin: plugin.into(),
                job: None,
                scrape_interval: None,
                scrape_timeout: None,
                memory_limit: None,
                config: Some(instance.config),
                grants: instance.grants,
                labels: BTreeMap::new(),
            });
        }
        let count = config.plugins.instances.len();
        runtime.apply_config(&config);
        assert_eq!(runtime.load_all(), 1, "{:#?}", runtime.status());
        let running = runtime
            .status()
            .into_iter()
            .flat_map(|p| p.instances)
            .filter(|i| i.running)
            .count();
        assert_eq!(
            running,
            count,
            "instances not open: {:#?}",
            runtime.status()
        );
        Plugin { runtime, _dir: dir }
    }

    /// One collect of `instance` (which must succeed: failures show as
    /// `*_up 0`), as the text exposition, and as parsed.
    pub async fn collect_text(&self, instance: &str) -> (String, Exposition) {
        let families = self
            .runtime
            .collect(instance)
            .await
            .unwrap_or_else(|e| panic!("collect of {instance} failed: {e}"));
        let mut out = String::new();
        text::encode(&families, &mut out);
        let parsed = text::parse(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        (out, parsed)
    }

    /// [`Plugin::collect_text`], parsed only.
    pub async fn collect(&self, instance: &str) -> Exposition {
        self.collect_text(instance).await.1
    }

    /// The last collect error of `instance` (last_collect_error in
    /// `/api/v1/plugins`).
    pub fn last_collect_error(&self, instance: &str) -> Option<String> {
        self.runtime
            .status()
            .into_iter()
            .flat_map(|p| p.instances)
            .find(|i| i.name == instance && i.running)
            .and_then(|i| i.last_collect_error)
    }

    /// The whole status as the API serialises it (to look for secrets).
    pub fn status_json(&self) -> String {
        serde_json::to_string(&self.runtime.status()).unwrap()
    }
}

/// A TCP server on loopback that writes `greeting` to every connection it
/// accepts, reads whatever comes for `hold`, then closes it.
pub fn fake_tcp_server(greeting: Vec<u8>, hold: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let greeting = greeting.clone();
            std::thread::spawn(move || {
                let _ = stream.write_all(&greeting);
                let _ = stream.set_read_timeout(Some(hold.max(Duration::from_millis(1))));
                let deadline = Instant::now() + hold;
                let mut sink = [0u8; 4096];
                while Instant::now() < deadline {
                    match stream.read(&mut sink) {
                        Ok(0) => break,
                        Ok(_) => continue,
                        Err(e)
                            if e.kind() == std::io::ErrorKind::WouldBlock
                                || e.kind() == std::io::ErrorKind::TimedOut =>
                        {
                            continue;
                        }
                        Err(_) => break,
                    }
                }
            });
        }
    });
    address
}

/// An HTTP server on loopback answering every request with `status` and
/// `body` (as `text/plain`).
pub fn fake_http_server(status: u16, body: Vec<u8>) -> SocketAddr {
    let mut response = format!(
        "HTTP/1.1 {status} Whatever\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(&body);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let response = response.clone();
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                // Read the request head, then answer.
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream.write_all(&response);
            });
        }
    });
    address
}
