//! Plugin benchmarks (`cargo xtask bench plugins`): (a) one collect of a
//! trivial exporter; (b) the node-exporter plugin's collect + encode next to
//! an HTTP scrape of the native node exporter with the same collectors;
//! (c) from dropping a `.wasm` into a watched directory to its first
//! successful collect, cold and with a warm compile cache; (d) loading 20
//! cached plugins at start-up.
//!
//! `cargo xtask bench` builds the plugins and passes their paths in
//! `WASMETHEUS_BENCH_TRIVIAL` and `WASMETHEUS_BENCH_NODE_EXPORTER`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use wasmetheus_config::{Config, Grants, PluginInstanceConfig};
use wasmetheus_plugin_runtime::{PluginRuntime, RuntimeOptions, watch_plugins_dir};

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

fn runtime_with(dir: &Path, cache: Option<PathBuf>, config: &Config) -> PluginRuntime {
    let mut options = RuntimeOptions::new(dir);
    options.cache_dir = cache;
    let runtime = PluginRuntime::new(options).unwrap();
    runtime.apply_config(config);
    runtime.load_all();
    runtime
}

fn node_config() -> Config {
    let mut config = Config::default();
    config.plugins.instances.push(PluginInstanceConfig {
        name: "node".into(),
        plugin: "node-exporter".into(),
        job: None,
        scrape_interval: None,
        scrape_timeout: None,
        memory_limit: None,
        config: None,
        grants: Grants {
            read_paths: vec!["/proc".into(), "/sys".into()],
            filesystem_usage: vec!["/".into()],
            ..Grants::default()
        },
        labels: Default::default(),
    });
    config
}

fn collect_trivial(c: &mut Criterion) {
    let rt = tokio();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        wasm("WASMETHEUS_BENCH_TRIVIAL"),
        dir.path().join("trivial.wasm"),
    )
    .unwrap();
    let runtime = rt.block_on(async { runtime_with(dir.path(), None, &Config::default()) });
    c.bench_function("collect/trivial", |b| {
        b.iter(|| rt.block_on(runtime.collect("trivial")).unwrap())
    });
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// User plus system CPU seconds of a process (`self` or a pid), from
/// `/proc/<pid>/stat` (clock ticks of 10 ms).
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the line.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// One HTTP/1.0 GET, returning the body length.
fn http_get(address: &str, path: &str) -> usize {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").unwrap();
    let mut body = Vec::with_capacity(256 << 10);
    stream.read_to_end(&mut body).unwrap();
    body.len()
}

fn node_exporter(c: &mut Criterion) {
    let rt = tokio();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        wasm("WASMETHEUS_BENCH_NODE_EXPORTER"),
        dir.path().join("node-exporter.wasm"),
    )
    .unwrap();
    let runtime = rt.block_on(async { runtime_with(dir.path(), None, &node_config()) });
    let mut group = c.benchmark_group("node-exporter");
    group.sample_size(50);
    group.bench_function("plugin collect+encode", |b| {
        b.iter(|| {
            let families = rt.block_on(runtime.collect("node")).unwrap();
            let mut out = String::with_capacity(128 << 10);
            wasmetheus_model::text::encode(&families, &mut out);
            out.len()
        })
    });
    let binary = "/usr/bin/prometheus-node-exporter";
    if Path::new(binary).exists() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let address = format!("127.0.0.1:{port}");
        let mut cmd = Command::new(binary);
        cmd.arg(format!("--web.listen-address={address}"))
            .arg("--collector.disable-defaults")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for collector in [
            "cpu",
            "meminfo",
            "loadavg",
            "filesystem",
            "netdev",
            "diskstats",
            "stat",
            "uname",
            "time",
            "vmstat",
            "netstat",
        ] {
            cmd.arg(format!("--collector.{collector}"));
        }
        let child = KillOnDrop(cmd.spawn().unwrap());
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&address).is_err() {
            assert!(Instant::now() < deadline, "node exporter did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        group.bench_function("native node_exporter HTTP scrape", |b| {
            b.iter(|| http_get(&address, "/metrics"))
        });
        // Wall time hides that node_exporter runs its collectors on several
        // threads; compare the CPU each side burns per scrape as well.
        const ROUNDS: u32 = 300;
        let before = cpu_seconds("self");
        for _ in 0..ROUNDS {
            let families = rt.block_on(runtime.collect("node")).unwrap();
            let mut out = String::with_capacity(128 << 10);
            wasmetheus_model::text::encode(&families, &mut out);
        }
        let plugin_cpu = (cpu_seconds("self") - before) / f64::from(ROUNDS);
        let pid = child.0.id().to_string();
        let before = cpu_seconds(&pid);
        for _ in 0..ROUNDS {
            http_get(&address, "/metrics");
        }
        let native_cpu = (cpu_seconds(&pid) - before) / f64::from(ROUNDS);
        println!(
            "node-exporter/cpu per scrape: plugin collect+encode {:.2} ms (whole host process), \
             native node_exporter {:.2} ms (its process), ratio plugin/native {:.2}",
            plugin_cpu * 1e3,
            native_cpu * 1e3,
            plugin_cpu / native_cpu
        );
    } else {
        eprintln!("{binary} missing: install prometheus-node-exporter for the comparison");
    }
    group.finish();
}

/// From a rename into the watched directory to the first successful collect.
fn drop_to_first_collect(
    rt: &tokio::runtime::Runtime,
    source: &Path,
    cache: Option<PathBuf>,
) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let mut options = RuntimeOptions::new(dir.path());
        options.cache_dir = cache;
        let runtime = PluginRuntime::new(options).unwrap();
        runtime.apply_config(&node_config());
        let _watcher = watch_plugins_dir(runtime.clone()).unwrap();
        let staged = dir.path().join(".staged");
        std::fs::copy(source, &staged).unwrap();
        let started = Instant::now();
        std::fs::rename(&staged, dir.path().join("node-exporter.wasm")).unwrap();
        loop {
            if runtime.collect("node").await.is_ok() {
                return started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
}

fn load(c: &mut Criterion) {
    let rt = tokio();
    let node = wasm("WASMETHEUS_BENCH_NODE_EXPORTER");
    let mut group = c.benchmark_group("drop-to-first-collect");
    group.sample_size(10);
    group.bench_function("node-exporter cold", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| drop_to_first_collect(&rt, &node, None))
                .sum()
        })
    });
    let cache = tempfile::tempdir().unwrap();
    drop_to_first_collect(&rt, &node, Some(cache.path().to_owned()));
    group.bench_function("node-exporter warm cache", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| drop_to_first_collect(&rt, &node, Some(cache.path().to_owned())))
                .sum()
        })
    });
    group.finish();

    // Start-up with 20 distinct cached plugins (each trivial guest padded
    // with a different custom section, so each has its own cache entry).
    let trivial = std::fs::read(wasm("WASMETHEUS_BENCH_TRIVIAL")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for i in 0..20u8 {
        let mut bytes = trivial.clone();
        bytes.extend_from_slice(&[0, 3, 1, b'p', i]);
        std::fs::write(dir.path().join(format!("trivial-{i}.wasm")), bytes).unwrap();
    }
    let cache = tempfile::tempdir().unwrap();
    rt.block_on(async {
        runtime_with(
            dir.path(),
            Some(cache.path().to_owned()),
            &Config::default(),
        )
    });
    let mut group = c.benchmark_group("startup");
    group.sample_size(10);
    group.bench_function("20 cached plugins", |b| {
        b.iter(|| {
            rt.block_on(async {
                let runtime = runtime_with(
                    dir.path(),
                    Some(cache.path().to_owned()),
                    &Config::default(),
                );
                assert_eq!(runtime.targets().len(), 20);
            })
        })
    });
    group.finish();
}

criterion_group!(benches, collect_trivial, node_exporter, load);
criterion_main!(benches);
