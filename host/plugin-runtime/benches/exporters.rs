//! Exporter plugin benchmarks (`cargo xtask bench plugins`): one collect
//! (+ text encoding) of the mysqld-exporter plugin next to one HTTP scrape
//! of Debian's `prometheus-mysqld-exporter`, both reading the same MariaDB,
//! and the same for the haproxy-exporter plugin and Debian's
//! `prometheus-haproxy-exporter` reading the same HAProxy. Criterion
//! measures wall time; a fixed number of rounds then measures the CPU each
//! side burns per scrape (this process for the plugin, the exporter's
//! process for the native one, from `/proc/<pid>/stat`) and prints both
//! ratios plugin/native.
//!
//! The servers (`mariadb-server`, `haproxy`) and the exporters are started
//! here on loopback ports, each in a temporary directory; a group whose
//! programs are missing is skipped with the package to install.
//! `cargo xtask bench plugins` builds the plugins and passes their paths in
//! `WASMETHEUS_BENCH_MYSQLD_EXPORTER` and `WASMETHEUS_BENCH_HAPROXY_EXPORTER`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use wasmetheus_config::{Config, Grants, PluginInstanceConfig};
use wasmetheus_plugin_runtime::{PluginRuntime, RuntimeOptions};

/// Rounds of the CPU measurement, per side.
const ROUNDS: u32 = 100;

fn wasm(var: &str) -> PathBuf {
    let path = std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run the benchmarks with `cargo xtask bench plugins`")
    });
    PathBuf::from(path)
}

fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The programs of a group that are missing, with their Debian package.
fn missing(programs: &[(&str, &str)]) -> Option<String> {
    let missing: Vec<String> = programs
        .iter()
        .filter(|(path, _)| !Path::new(path).exists())
        .map(|(path, package)| format!("{path} (Debian package {package})"))
        .collect();
    (!missing.is_empty()).then(|| missing.join(", "))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `program`, its output in `log`.
fn spawn(program: &str, args: &[String], env: &[(&str, &str)], log: &Path) -> KillOnDrop {
    let output = std::fs::File::create(log).unwrap();
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(output.try_clone().unwrap())
        .stderr(output);
    for (name, value) in env {
        cmd.env(name, value);
    }
    KillOnDrop(
        cmd.spawn()
            .unwrap_or_else(|e| panic!("starting {program}: {e}")),
    )
}

fn wait_until(what: &str, log: &Path, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start; see {}:\n{}",
            log.display(),
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// User plus system CPU seconds of a process (`self` or a pid), from
/// `/proc/<pid>/stat` (clock ticks of 10 ms).
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// One HTTP/1.0 GET: `(status, body)`, or `None` if the connection fails.
fn http_get(address: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(address).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").ok()?;
    let mut response = Vec::with_capacity(256 << 10);
    stream.read_to_end(&mut response).ok()?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// A plugin loaded in a runtime with one instance `name`.
fn plugin_runtime(
    dir: &Path,
    wasm: &Path,
    plugin: &str,
    config: serde_json::Value,
    grants: Grants,
) -> PluginRuntime {
    std::fs::copy(wasm, dir.join(format!("{plugin}.wasm"))).unwrap();
    let runtime = PluginRuntime::new(RuntimeOptions::new(dir)).unwrap();
    let mut cfg = Config::default();
    cfg.plugins.instances.push(PluginInstanceConfig {
        name: "bench".into(),
        plugin: plugin.into(),
        job: None,
        scrape_interval: None,
        scrape_timeout: None,
        memory_limit: None,
        config: Some(config),
        grants,
        labels: Default::default(),
    });
    runtime.apply_config(&cfg);
    assert_eq!(runtime.load_all(), 1, "{:?}", runtime.status());
    runtime
}

/// One collect of the instance, encoded as text: the body length.
fn collect_encode(rt: &tokio::runtime::Runtime, runtime: &PluginRuntime) -> String {
    let families = rt.block_on(runtime.collect("bench")).unwrap();
    let mut out = String::with_capacity(256 << 10);
    wasmetheus_model::text::encode(&families, &mut out);
    out
}

/// A native exporter: its name, process and `host:port`.
struct Native<'a> {
    name: &'a str,
    process: &'a KillOnDrop,
    address: &'a str,
}

/// Criterion's wall time of both sides, then CPU and wall per scrape over
/// [`ROUNDS`], printed as ratios; `up` is the family saying the server
/// was read.
fn side_by_side(
    c: &mut Criterion,
    group: &str,
    rt: &tokio::runtime::Runtime,
    runtime: &PluginRuntime,
    native: Native<'_>,
    up: &str,
) {
    let Native {
        name: native_name,
        process,
        address: native_address,
    } = native;
    // Both read their server before anything is measured.
    let ours = collect_encode(rt, runtime);
    assert!(
        ours.contains(&format!("{up} 1")),
        "{group}: the plugin cannot read its server: {:?}",
        runtime.status()
    );
    let (status, theirs) = http_get(native_address, "/metrics").unwrap();
    assert!(
        status == 200 && theirs.contains(&format!("{up} 1")),
        "{group}: {native_name} cannot read its server"
    );

    let mut g = c.benchmark_group(group);
    g.sample_size(30);
    g.bench_function("plugin collect+encode", |b| {
        b.iter(|| collect_encode(rt, runtime).len())
    });
    g.bench_function(format!("native {native_name} HTTP scrape"), |b| {
        b.iter(|| http_get(native_address, "/metrics").unwrap().1.len())
    });
    g.finish();

    let before = cpu_seconds("self");
    let started = Instant::now();
    for _ in 0..ROUNDS {
        collect_encode(rt, runtime);
    }
    let plugin_wall = started.elapsed().as_secs_f64() / f64::from(ROUNDS);
    let plugin_cpu = (cpu_seconds("self") - before) / f64::from(ROUNDS);
    let pid = process.0.id().to_string();
    let before = cpu_seconds(&pid);
    let started = Instant::now();
    for _ in 0..ROUNDS {
        http_get(native_address, "/metrics").unwrap();
    }
    let native_wall = started.elapsed().as_secs_f64() / f64::from(ROUNDS);
    let native_cpu = (cpu_seconds(&pid) - before) / f64::from(ROUNDS);
    println!(
        "{group}/per scrape over {ROUNDS} rounds: wall plugin collect+encode {:.2} ms, \
         native {native_name} {:.2} ms, ratio plugin/native {:.2}; \
         CPU plugin {:.2} ms (whole host process), native {:.2} ms (its process), \
         ratio plugin/native {:.2}",
        plugin_wall * 1e3,
        native_wall * 1e3,
        plugin_wall / native_wall,
        plugin_cpu * 1e3,
        native_cpu * 1e3,
        plugin_cpu / native_cpu
    );
}

const MARIADBD: &str = "/usr/sbin/mariadbd";
const MARIADB_INSTALL_DB: &str = "/usr/bin/mariadb-install-db";
const MARIADB: &str = "/usr/bin/mariadb";
const MYSQLD_EXPORTER: &str = "/usr/bin/prometheus-mysqld-exporter";
const HAPROXY: &str = "/usr/sbin/haproxy";
const HAPROXY_EXPORTER: &str = "/usr/bin/prometheus-haproxy-exporter";

fn mysqld_exporter(c: &mut Criterion) {
    if let Some(missing) = missing(&[
        (MARIADBD, "mariadb-server"),
        (MARIADB_INSTALL_DB, "mariadb-server"),
        (MARIADB, "mariadb-client"),
        (MYSQLD_EXPORTER, "prometheus-mysqld-exporter"),
    ]) {
        eprintln!("mysqld-exporter benchmark skipped: missing {missing}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let socket = dir.path().join("sock");
    let status = Command::new(MARIADB_INSTALL_DB)
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .args([
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--innodb-log-file-size=8M",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "mariadb-install-db failed");
    let port = free_port();
    let log = dir.path().join("mariadb.log");
    let _mariadb = spawn(
        MARIADBD,
        &[
            "--no-defaults".into(),
            format!("--datadir={}", data.display()),
            format!("--socket={}", socket.display()),
            format!("--port={port}"),
            "--bind-address=127.0.0.1".into(),
            "--user=root".into(),
            "--skip-log-bin".into(),
            "--innodb-log-file-size=8M".into(),
            format!("--pid-file={}", dir.path().join("pid").display()),
        ],
        &[],
        &log,
    );
    let sql = |statement: &str| {
        Command::new(MARIADB)
            .arg("--no-defaults")
            .arg("-S")
            .arg(&socket)
            .args(["-uroot", "-e", statement])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    wait_until("mariadbd", &log, || socket.exists() && sql("SELECT 1"));
    // mysqld_exporter's documented privileges, plus SLAVE MONITOR, which
    // MariaDB 10.5+ wants for SHOW SLAVE STATUS (as in the tests).
    let password = "bench-pw-5e1";
    assert!(sql(&format!(
        "CREATE USER 'exporter'@'%' IDENTIFIED BY '{password}' WITH MAX_USER_CONNECTIONS 3; \
         GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT ON *.* TO 'exporter'@'%'"
    )));
    let address = format!("127.0.0.1:{port}");
    let dsn = format!("exporter:{password}@tcp({address})/");

    let native_address = format!("127.0.0.1:{}", free_port());
    let native_log = dir.path().join("mysqld-exporter.log");
    let native = spawn(
        MYSQLD_EXPORTER,
        &[format!("--web.listen-address={native_address}")],
        &[("DATA_SOURCE_NAME", &dsn)],
        &native_log,
    );
    wait_until("prometheus-mysqld-exporter", &native_log, || {
        std::net::TcpStream::connect(&native_address).is_ok()
    });

    let rt = tokio();
    let plugins = tempfile::tempdir().unwrap();
    let runtime = rt.block_on(async {
        plugin_runtime(
            plugins.path(),
            &wasm("WASMETHEUS_BENCH_MYSQLD_EXPORTER"),
            "mysqld-exporter",
            serde_json::json!({ "dsn": dsn }),
            Grants {
                tcp_connect: vec![address.clone()],
                ..Grants::default()
            },
        )
    });
    let native = Native {
        name: "mysqld_exporter",
        process: &native,
        address: &native_address,
    };
    side_by_side(c, "mysqld-exporter", &rt, &runtime, native, "mysql_up");
}

fn haproxy_exporter(c: &mut Criterion) {
    if let Some(missing) = missing(&[
        (HAPROXY, "haproxy"),
        (HAPROXY_EXPORTER, "prometheus-haproxy-exporter"),
    ]) {
        eprintln!("haproxy-exporter benchmark skipped: missing {missing}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let [stats, live, web, closed] = [(); 4].map(|_| free_port());
    // Two frontends and three backends with servers up and down, as in
    // the tests.
    let config = format!(
        "global\n    maxconn 200\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend stats\n    bind 127.0.0.1:{stats}\n    stats enable\n    stats uri /stats\n\
         frontend live\n    bind 127.0.0.1:{live}\n    http-request return status 200 content-type text/plain string ok\n\
         frontend web\n    bind 127.0.0.1:{web}\n    default_backend app\n\
         backend app\n    option httpchk GET /\n\
         \x20   server up1 127.0.0.1:{live} check inter 1s\n\
         \x20   server down1 127.0.0.1:{closed} check inter 1s\n\
         backend api\n    server up2 127.0.0.1:{live} check inter 1s\n\
         backend empty\n    server dead 127.0.0.1:{closed} check inter 1s\n"
    );
    let config_path = dir.path().join("haproxy.cfg");
    std::fs::write(&config_path, config).unwrap();
    let log = dir.path().join("haproxy.log");
    let _haproxy = spawn(
        HAPROXY,
        &["-f".into(), config_path.display().to_string(), "-db".into()],
        &[],
        &log,
    );
    let stats_address = format!("127.0.0.1:{stats}");
    wait_until("haproxy", &log, || {
        http_get(&stats_address, "/stats;csv").is_some_and(|(s, _)| s == 200)
    });
    let uri = format!("http://{stats_address}/stats;csv");

    let native_address = format!("127.0.0.1:{}", free_port());
    let native_log = dir.path().join("haproxy-exporter.log");
    let native = spawn(
        HAPROXY_EXPORTER,
        &[
            format!("--web.listen-address={native_address}"),
            format!("--haproxy.scrape-uri={uri}"),
        ],
        &[],
        &native_log,
    );
    wait_until("prometheus-haproxy-exporter", &native_log, || {
        std::net::TcpStream::connect(&native_address).is_ok()
    });

    let rt = tokio();
    let plugins = tempfile::tempdir().unwrap();
    let runtime = rt.block_on(async {
        plugin_runtime(
            plugins.path(),
            &wasm("WASMETHEUS_BENCH_HAPROXY_EXPORTER"),
            "haproxy-exporter",
            serde_json::json!({ "scrape_uri": uri }),
            Grants {
                http_origins: vec![format!("http://{stats_address}")],
                ..Grants::default()
            },
        )
    });
    let native = Native {
        name: "haproxy_exporter",
        process: &native,
        address: &native_address,
    };
    side_by_side(c, "haproxy-exporter", &rt, &runtime, native, "haproxy_up");
}

criterion_group!(benches, mysqld_exporter, haproxy_exporter);
criterion_main!(benches);
