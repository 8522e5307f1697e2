//! Every test guest, hostile or not, run in the real plugin runtime: each is
//! contained, reported with a clear error, and the host stays healthy.
//!
//! `foreach_guest!` at the bottom makes this file fail to compile when a
//! guest under `tests/guests/` has no test function of the same name here.

use std::time::{Duration, Instant};
use wasmetheus_config::{ByteSize, Config, Grants, PluginInstanceConfig, PromDuration};
use wasmetheus_plugin_runtime::{CollectError, PluginRuntime, RuntimeOptions};
use wasmetheus_tests::{PluginsDir, guests};

// The receiver guests' tests live with the other receiver tests.
use crate::receivers::{receiver_escape, receiver_garbage, receiver_hang, receiver_trap};

/// A runtime over a fresh plugins directory holding `plugins`
/// (`(guest wasm, plugin name)`), configured with `instances`.
fn runtime_with(
    plugins: &[(&str, &str)],
    instances: Vec<PluginInstanceConfig>,
) -> (PluginRuntime, PluginsDir) {
    let dir = PluginsDir::new();
    for (wasm, name) in plugins {
        dir.install(wasm, name);
    }
    let mut options = RuntimeOptions::new(dir.path());
    options.default_memory_limit = 32 << 20;
    let runtime = PluginRuntime::new(options).unwrap();
    let mut config = Config::default();
    config.plugins.instances = instances;
    runtime.apply_config(&config);
    runtime.load_all();
    (runtime, dir)
}

fn instance(name: &str, plugin: &str, config: serde_json::Value) -> PluginInstanceConfig {
    PluginInstanceConfig {
        name: name.into(),
        plugin: plugin.into(),
        job: None,
        scrape_interval: Some(PromDuration(Duration::from_secs(5))),
        scrape_timeout: Some(PromDuration(Duration::from_millis(500))),
        memory_limit: None,
        config: Some(config),
        grants: Grants::default(),
        labels: Default::default(),
    }
}

fn status_error(runtime: &PluginRuntime, plugin: &str) -> Option<String> {
    runtime
        .status()
        .into_iter()
        .find(|p| p.plugin == plugin)
        .and_then(|p| p.last_error)
}

#[tokio::test(flavor = "multi_thread")]
async fn trivial() {
    let (runtime, _dir) = runtime_with(&[(guests::TRIVIAL, "trivial")], Vec::new());
    // No config and no grant needed: a default instance named after it.
    let targets = runtime.targets();
    assert_eq!(targets.len(), 1, "{targets:?}");
    assert_eq!(targets[0].instance, "trivial");
    for round in 1..=3 {
        let families = runtime.collect("trivial").await.unwrap();
        let counter = families
            .iter()
            .find(|f| f.name == "trivial_collections_total")
            .unwrap();
        // State is kept between collections.
        assert_eq!(
            counter.metrics[0].value,
            wasmetheus_model::MetricValue::Number(f64::from(round))
        );
    }
    let metadata = runtime.metadata("trivial").unwrap();
    assert_eq!(metadata.name, "trivial");
}

/// An exporter that reports its target down (`trivial_up 0`, as
/// mysqld_exporter reports `mysql_up 0`) and logs why at error level: the
/// collect succeeds, and the logged error is the instance's last collect
/// error until a collect logs none.
#[tokio::test(flavor = "multi_thread")]
async fn trivial_logged_error_is_the_last_collect_error() {
    let why = "cannot reach 127.0.0.1:9: connection refused";
    let (runtime, _dir) = runtime_with(
        &[(guests::TRIVIAL, "trivial")],
        vec![instance(
            "flappy",
            "trivial",
            serde_json::json!({"down_every": 2, "why": why}),
        )],
    );
    let up = |families: &[wasmetheus_model::MetricFamily]| {
        families
            .iter()
            .find(|f| f.name == "trivial_up")
            .unwrap()
            .metrics[0]
            .value
            .clone()
    };
    let first = runtime.collect("flappy").await.unwrap();
    assert_eq!(up(&first), wasmetheus_model::MetricValue::Number(1.0));
    assert_eq!(last_collect_error(&runtime, "flappy"), None);
    let second = runtime.collect("flappy").await.unwrap();
    assert_eq!(up(&second), wasmetheus_model::MetricValue::Number(0.0));
    assert_eq!(last_collect_error(&runtime, "flappy").as_deref(), Some(why));
    runtime.collect("flappy").await.unwrap();
    assert_eq!(last_collect_error(&runtime, "flappy"), None);
}

/// The deadline of the spinning instance in `infinite_loop`.
const SPIN_DEADLINE: Duration = Duration::from_secs(5);

/// A read-path grant of a file (not a directory) refuses the instance with
/// an error saying which directory to grant instead.
#[tokio::test(flavor = "multi_thread")]
async fn a_file_granted_as_read_path_names_its_directory() {
    let mut file = instance("file-grant", "trivial", serde_json::json!({}));
    file.grants.read_paths = vec!["/proc/loadavg".into()];
    let (runtime, _dir) = runtime_with(&[(guests::TRIVIAL, "trivial")], vec![file]);
    let error = instance_error(&runtime, "file-grant").expect("the instance must not open");
    assert!(
        error.contains("granted read path /proc/loadavg is not a directory")
            && error.contains("grant the one that holds it (/proc)"),
        "{error}"
    );
}

/// `check plugins --collects 1000` passes a plugin whose memory settles and
/// fails one that keeps 8 KiB per collect (8 MiB over the run, against the
/// 1 MiB allowed after the first tenth).
#[tokio::test(flavor = "multi_thread")]
async fn check_plugins_fails_a_plugin_that_leaks() {
    let dir = PluginsDir::new();
    let file = dir.install(guests::TRIVIAL, "trivial");
    let check = move |config: &str| {
        let args = wasmetheus::check_plugins::CheckPluginsArgs {
            files: vec![file.clone()],
            collects: 1_000,
            cache_dir: None,
            config: Some(config.to_owned()),
        };
        wasmetheus::check_plugins::run(&args).unwrap()
    };
    let (settles, leaks) = tokio::task::spawn_blocking(move || {
        (
            check(r#"{"leak_bytes": 0}"#),
            check(r#"{"leak_bytes": 8192}"#),
        )
    })
    .await
    .unwrap();
    assert_eq!((settles, leaks), (0, 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn infinite_loop() {
    let (runtime, _dir) = runtime_with(
        &[
            (guests::INFINITE_LOOP, "infinite-loop"),
            (guests::TRIVIAL, "trivial"),
        ],
        vec![PluginInstanceConfig {
            // Long enough that the collects below, however slow the
            // machine, are done well before it is cut.
            scrape_interval: Some(PromDuration(Duration::from_secs(10))),
            scrape_timeout: Some(PromDuration(SPIN_DEADLINE)),
            ..instance("spin", "infinite-loop", serde_json::json!({}))
        }],
    );
    let started = Instant::now();
    let spin = runtime.clone();
    let spinning = tokio::spawn(async move {
        let answer = spin.collect("spin").await;
        (answer, Instant::now())
    });
    // The other plugin keeps being collected meanwhile: all its collects
    // end before the spinning one is cut, so none waited for it.
    for _ in 0..3 {
        runtime.collect("trivial").await.unwrap();
    }
    let collected = Instant::now();
    let (answer, cut) = spinning.await.unwrap();
    let err = answer.unwrap_err();
    assert!(matches!(err, CollectError::Timeout(_)), "{err}");
    assert!(
        collected < cut,
        "trivial was collected only {:?} after the loop was cut",
        collected - cut
    );
    let took = cut - started;
    assert!(
        took >= SPIN_DEADLINE - Duration::from_millis(50),
        "cut after {took:?}, before its deadline of {SPIN_DEADLINE:?}"
    );
    assert!(err.to_string().contains("deadline"), "{err}");
    // The instance recovers: the next collect runs (and is cut) again.
    let again = runtime.collect("spin").await.unwrap_err();
    assert!(matches!(again, CollectError::Timeout(_)), "{again}");
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_bomb() {
    let (runtime, _dir) = runtime_with(
        &[(guests::MEMORY_BOMB, "memory-bomb")],
        vec![instance("bomb", "memory-bomb", serde_json::json!({}))],
    );
    let err = runtime.collect("bomb").await.unwrap_err();
    assert!(matches!(err, CollectError::Memory(_)), "{err}");
    assert!(
        err.to_string().contains("memory limit of 33554432 bytes"),
        "{err}"
    );
    let metrics = runtime.metrics();
    let traps = metrics
        .iter()
        .find(|f| f.name == "wasmetheus_plugin_traps_total")
        .unwrap();
    assert_eq!(
        traps.metrics[0].value,
        wasmetheus_model::MetricValue::Number(1.0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn read_outside() {
    let (runtime, _dir) = runtime_with(
        &[(guests::READ_OUTSIDE, "read-outside")],
        vec![instance(
            "reader",
            "read-outside",
            serde_json::json!({"path": "/etc/passwd"}),
        )],
    );
    let err = runtime.collect("reader").await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, CollectError::Plugin(_)), "{text}");
    assert!(text.contains("/etc/passwd"), "{text}");
    assert!(text.contains("denied"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn read_outside_granted_path_still_confines() {
    // Granting /proc gives no access to /etc.
    let mut reader = instance(
        "reader",
        "read-outside",
        serde_json::json!({"path": "/proc/loadavg"}),
    );
    reader.grants.read_paths = vec!["/proc".into()];
    let mut escape = instance(
        "escape",
        "read-outside",
        serde_json::json!({"path": "/proc/../etc/passwd"}),
    );
    escape.grants.read_paths = vec!["/proc".into()];
    let (runtime, _dir) = runtime_with(
        &[(guests::READ_OUTSIDE, "read-outside")],
        vec![reader, escape],
    );
    runtime.collect("reader").await.unwrap();
    let err = runtime.collect("escape").await.unwrap_err();
    assert!(err.to_string().contains("denied"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn net_escape() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 5];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"pong\n");
        }
    });
    let denied = instance(
        "denied",
        "net-escape",
        serde_json::json!({ "address": address }),
    );
    let mut granted = instance(
        "granted",
        "net-escape",
        serde_json::json!({ "address": address }),
    );
    granted.grants.tcp_connect = vec![address.clone()];
    let (runtime, _dir) =
        runtime_with(&[(guests::NET_ESCAPE, "net-escape")], vec![denied, granted]);
    let err = runtime.collect("denied").await.unwrap_err();
    assert!(
        err.to_string().contains(&format!("connect {address}")),
        "{err}"
    );
    // The same plugin with the grant reaches the same listener.
    runtime.collect("granted").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn http_escape() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let authority = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        }
    });
    let config = serde_json::json!({ "authority": authority });
    let denied = instance("denied", "http-escape", config.clone());
    let mut other_port = instance("other-port", "http-escape", config.clone());
    other_port.grants.http_origins = vec!["http://127.0.0.1:1".into()];
    let mut granted = instance("granted", "http-escape", config);
    granted.grants.http_origins = vec![format!("http://{authority}")];
    let (runtime, _dir) = runtime_with(
        &[(guests::HTTP_ESCAPE, "http-escape")],
        vec![denied, other_port, granted],
    );
    for name in ["denied", "other-port"] {
        let err = runtime.collect(name).await.unwrap_err();
        assert!(
            err.to_string().contains("HttpRequestDenied"),
            "{name}: {err}"
        );
    }
    let families = runtime.collect("granted").await.unwrap();
    assert_eq!(
        families[0].metrics[0].value,
        wasmetheus_model::MetricValue::Number(200.0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn panics() {
    let (runtime, _dir) = runtime_with(
        &[(guests::PANICS, "panics"), (guests::TRIVIAL, "trivial")],
        Vec::new(),
    );
    let err = runtime.collect("panics").await.unwrap_err();
    assert!(matches!(err, CollectError::Trap(_)), "{err}");
    assert!(err.to_string().contains("unreachable"), "{err}");
    runtime.collect("trivial").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_output() {
    let modes = [
        ("bad-name", "invalid metric name"),
        ("bad-label", "invalid label name"),
        ("duplicate-series", "duplicate series"),
        ("many-series", "series"),
    ];
    let instances = modes
        .iter()
        .map(|(mode, _)| {
            let mut i = instance(mode, "bad-output", serde_json::json!({ "mode": mode }));
            // Room for 200,000 series, so the output limit is what stops it.
            i.memory_limit = Some(ByteSize(512 << 20));
            i.scrape_timeout = Some(PromDuration(Duration::from_secs(5)));
            i
        })
        .collect();
    let (runtime, _dir) = runtime_with(&[(guests::BAD_OUTPUT, "bad-output")], instances);
    for (mode, expected) in modes {
        let err = runtime.collect(mode).await.unwrap_err();
        assert!(
            matches!(err, CollectError::InvalidOutput(_)),
            "{mode}: {err}"
        );
        assert!(err.to_string().contains(expected), "{mode}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn open_fails() {
    let (runtime, _dir) = runtime_with(&[(guests::OPEN_FAILS, "open-fails")], Vec::new());
    // The plugin loaded but its only instance could not open.
    let error = status_error(&runtime, "open-fails").unwrap();
    assert!(
        error.contains("this plugin accepts no configuration at all"),
        "{error}"
    );
    assert!(runtime.targets().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_file_is_reported_not_loaded() {
    let dir = PluginsDir::new();
    std::fs::write(dir.path().join("garbage.wasm"), b"\0asm garbage").unwrap();
    let runtime = PluginRuntime::new(RuntimeOptions::new(dir.path())).unwrap();
    assert_eq!(runtime.load_all(), 0);
    let error = status_error(&runtime, "garbage").unwrap();
    assert!(error.contains("not a valid exporter component"), "{error}");
}

/// A runtime like [`runtime_with`] whose options `tune` adjusts, set up on
/// a blocking thread and given `limit` to finish: a load that hangs fails
/// the test instead of hanging it.
async fn bounded_runtime(
    plugins: &[(&str, &str)],
    instances: Vec<PluginInstanceConfig>,
    tune: impl FnOnce(&mut RuntimeOptions) + Send + 'static,
    limit: Duration,
) -> (PluginRuntime, PluginsDir) {
    let dir = PluginsDir::new();
    for (wasm, name) in plugins {
        dir.install(wasm, name);
    }
    let mut options = RuntimeOptions::new(dir.path());
    options.default_memory_limit = 32 << 20;
    tune(&mut options);
    let setup = tokio::task::spawn_blocking(move || {
        let runtime = PluginRuntime::new(options).unwrap();
        let mut config = Config::default();
        config.plugins.instances = instances;
        runtime.apply_config(&config);
        runtime.load_all();
        runtime
    });
    let runtime = tokio::time::timeout(limit, setup)
        .await
        .unwrap_or_else(|_| panic!("loading did not finish within {limit:?}"))
        .unwrap();
    (runtime, dir)
}

fn instance_error(runtime: &PluginRuntime, instance: &str) -> Option<String> {
    runtime
        .status()
        .into_iter()
        .flat_map(|p| p.instances)
        .find(|i| i.name == instance)
        .and_then(|i| i.error)
}

/// The last collect error of a running instance, as `/api/v1/plugins` shows.
fn last_collect_error(runtime: &PluginRuntime, instance: &str) -> Option<String> {
    runtime
        .status()
        .into_iter()
        .flat_map(|p| p.instances)
        .find(|i| i.name == instance && i.running)
        .and_then(|i| i.last_collect_error)
}

/// A TCP listener that accepts connections and never writes to them.
fn silent_listener() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    address
}

fn sleeper_instance(name: &str, in_: &str, how: &str, address: &str) -> PluginInstanceConfig {
    let mut i = instance(
        name,
        "sleeper",
        serde_json::json!({ "in": in_, "how": how, "address": address }),
    );
    i.scrape_timeout = Some(PromDuration(Duration::from_millis(300)));
    i.grants.tcp_connect = vec![address.to_owned()];
    i
}

#[tokio::test(flavor = "multi_thread")]
async fn sleeper() {
    let address = silent_listener();
    let instances = vec![
        sleeper_instance("open-sleep", "open", "sleep", &address),
        sleeper_instance("open-read", "open", "read", &address),
        sleeper_instance("collect-sleep", "collect", "sleep", &address),
        sleeper_instance("collect-read", "collect", "read", &address),
        sleeper_instance("drop-sleep", "drop", "sleep", &address),
    ];
    // Before, an `open` waiting in a host call never returned: loading hung.
    let (runtime, _dir) = bounded_runtime(
        &[(guests::SLEEPER, "sleeper"), (guests::TRIVIAL, "trivial")],
        instances.clone(),
        |_| {},
        Duration::from_secs(60),
    )
    .await;
    for name in ["open-sleep", "open-read"] {
        let error = instance_error(&runtime, name).unwrap_or_default();
        assert!(
            error.contains("open() did not return within its deadline of 300ms"),
            "{name}: {error:?}"
        );
    }
    for name in ["collect-sleep", "collect-read"] {
        let started = Instant::now();
        let hung = runtime.clone();
        let name_owned = name.to_owned();
        let collecting = tokio::spawn(async move { hung.collect(&name_owned).await });
        // The other plugin is served meanwhile.
        runtime.collect("trivial").await.unwrap();
        let err = collecting.await.unwrap().unwrap_err();
        assert!(matches!(err, CollectError::Timeout(_)), "{name}: {err}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{name}: the collect was answered only after {:?}",
            started.elapsed()
        );
        // The instance reopens and is cut again: nothing is stuck busy.
        let again = runtime.collect(name).await.unwrap_err();
        assert!(matches!(again, CollectError::Timeout(_)), "{name}: {again}");
        assert_eq!(
            last_collect_error(&runtime, name),
            Some(again.to_string()),
            "{name}"
        );
    }
    runtime.collect("drop-sleep").await.unwrap();

    // Reloading drops every running instance, the hung ones mid-collect and
    // one whose destructor hangs, and opens them again; each reload returns.
    let hung = runtime.clone();
    let _in_flight = tokio::spawn(async move { hung.collect("collect-sleep").await });
    for round in 0..3 {
        let mut config = Config::default();
        config.plugins.instances = instances
            .iter()
            .cloned()
            .map(|mut i| {
                i.labels.insert("round".into(), round.to_string());
                i
            })
            .collect();
        let reloading = runtime.clone();
        let reload = tokio::task::spawn_blocking(move || reloading.apply_config(&config));
        tokio::time::timeout(Duration::from_secs(30), reload)
            .await
            .unwrap_or_else(|_| panic!("reload {round} hung"))
            .unwrap();
        runtime.collect("trivial").await.unwrap();
    }
    let error = instance_error(&runtime, "open-read").unwrap_or_default();
    assert!(error.contains("deadline"), "{error:?}");

    // Dropping the runtime does not wait for a hung call.
    let hung = runtime.clone();
    let pending = tokio::spawn(async move { hung.collect("collect-read").await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let dropped = tokio::task::spawn_blocking(move || drop(runtime));
    tokio::time::timeout(Duration::from_secs(5), dropped)
        .await
        .expect("dropping the runtime waited for a hung call")
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), pending)
        .await
        .expect("a collect outlived its runtime by more than its deadline")
        .unwrap();
    assert!(answer.is_err(), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sleeper_metadata() {
    let (runtime, _dir) = bounded_runtime(
        &[
            (guests::SLEEPER_METADATA, "sleeper-metadata"),
            (guests::TRIVIAL, "trivial"),
        ],
        Vec::new(),
        |options| options.metadata_timeout = Duration::from_millis(300),
        Duration::from_secs(60),
    )
    .await;
    let error = status_error(&runtime, "sleeper-metadata").unwrap_or_default();
    assert!(
        error.contains("metadata() did not return within its deadline of 300ms"),
        "{error:?}"
    );
    assert!(runtime.metadata("sleeper-metadata").is_none());
    runtime.collect("trivial").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn alias_bomb() {
    // 40 labels whose name and value are the same 1 MiB: 80 MiB to copy
    // out of 1 MiB of guest memory, over the budget of 2 × 32 MiB.
    let bomb = instance(
        "bomb",
        "alias-bomb",
        serde_json::json!({ "copies": 40, "size": 1 << 20 }),
    );
    let small = instance(
        "small",
        "alias-bomb",
        serde_json::json!({ "copies": 1, "size": 8 }),
    );
    let (runtime, _dir) = bounded_runtime(
        &[
            (guests::ALIAS_BOMB, "alias-bomb"),
            (guests::TRIVIAL, "trivial"),
        ],
        vec![bomb, small],
        |_| {},
        Duration::from_secs(60),
    )
    .await;
    for _ in 0..2 {
        let err = runtime.collect("bomb").await.unwrap_err();
        assert_eq!(err, CollectError::TooMuchData(64 << 20), "{err}");
        assert!(err.to_string().contains("memory_limit"), "{err}");
        assert_eq!(last_collect_error(&runtime, "bomb"), Some(err.to_string()));
    }
    // Within budget the same plugin is copied as usual.
    let families = runtime.collect("small").await.unwrap();
    assert_eq!(families[0].metrics[0].labels[0].value, "aaaaaaaa");
    runtime.collect("trivial").await.unwrap();
    let metrics = runtime.metrics();
    let errors = metrics
        .iter()
        .find(|f| f.name == "wasmetheus_plugin_collect_errors_total")
        .unwrap();
    assert!(
        errors.metrics.iter().any(|m| m
            .labels
            .iter()
            .any(|l| l.name == "reason" && l.value == "too_much_data")),
        "{errors:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn read_outside_fifo_is_refused_not_waited_on() {
    // A granted directory holding a FIFO nobody writes to: opening it would
    // block the executor thread the instance runs on, past any deadline.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let mut reader = instance(
        "fifo-reader",
        "read-outside",
        serde_json::json!({"path": fifo.to_str().unwrap()}),
    );
    reader.grants.read_paths = vec![dir.path().to_owned()];
    let (runtime, _dir) = runtime_with(
        &[
            (guests::READ_OUTSIDE, "read-outside"),
            (guests::TRIVIAL, "trivial"),
        ],
        vec![reader],
    );
    let err = tokio::time::timeout(Duration::from_secs(10), runtime.collect("fifo-reader"))
        .await
        .expect("the collect returned")
        .unwrap_err();
    assert!(matches!(err, CollectError::Plugin(_)), "{err}");
    assert!(err.to_string().contains("denied"), "{err}");
    tokio::time::timeout(Duration::from_secs(10), runtime.collect("trivial"))
        .await
        .expect("the host still serves")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn read_outside_devices_are_refused_but_dev_null() {
    // Granted /dev: terminals, the kernel log (whose read blocks the
    // executor thread), memory and disks are refused by their type and
    // number; /dev/null stays readable. The same holds for device nodes
    // made inside an ordinary granted directory, whatever their names.
    let dangerous: Vec<&str> = [
        "/dev/kmsg",
        "/dev/tty",
        "/dev/mem",
        "/dev/port",
        "/dev/ptmx",
        "/dev/loop0",
        "/dev/sda",
    ]
    .into_iter()
    .filter(|p| std::path::Path::new(p).exists())
    .collect();
    assert!(!dangerous.is_empty(), "no dangerous device in /dev to try");
    let nodes = tempfile::tempdir().unwrap();
    // mknod needs CAP_MKNOD: the made nodes are tried where it is granted.
    let mknod = |name: &str, major: &str, minor: &str| {
        std::process::Command::new("mknod")
            .arg(nodes.path().join(name))
            .args(["c", major, minor])
            .status()
            .is_ok_and(|s| s.success())
    };
    let made = mknod("kernel-log.txt", "1", "11") && mknod("empty.txt", "1", "3");
    let grant = |mut i: PluginInstanceConfig| {
        i.grants.read_paths = vec!["/dev".into(), nodes.path().to_owned()];
        i
    };
    let mut instances = vec![grant(instance(
        "null",
        "read-outside",
        serde_json::json!({"path": "/dev/null"}),
    ))];
    let mut refused: Vec<(String, String)> = dangerous
        .iter()
        .enumerate()
        .map(|(i, path)| (format!("device-{i}"), path.to_string()))
        .collect();
    if made {
        let node = nodes.path().join("kernel-log.txt");
        refused.push(("made-kmsg".into(), node.display().to_string()));
        instances.push(grant(instance(
            "made-null",
            "read-outside",
            serde_json::json!({"path": nodes.path().join("empty.txt")}),
        )));
    }
    for (name, path) in &refused {
        instances.push(grant(instance(
            name,
            "read-outside",
            serde_json::json!({ "path": path }),
        )));
    }
    let (runtime, _dir) = runtime_with(
        &[
            (guests::READ_OUTSIDE, "read-outside"),
            (guests::TRIVIAL, "trivial"),
        ],
        instances,
    );
    for (name, path) in &refused {
        let err = tokio::time::timeout(Duration::from_secs(10), runtime.collect(name))
            .await
            .unwrap_or_else(|_| panic!("the collect of {path} returned"))
            .unwrap_err();
        assert!(matches!(err, CollectError::Plugin(_)), "{path}: {err}");
        assert!(err.to_string().contains("denied"), "{path}: {err}");
    }
    let mut allowed = vec!["null"];
    if made {
        allowed.push("made-null");
    }
    for name in allowed {
        let families = tokio::time::timeout(Duration::from_secs(10), runtime.collect(name))
            .await
            .expect("the collect returned")
            .unwrap();
        let bytes = families
            .iter()
            .find(|f| f.name == "read_outside_bytes")
            .unwrap();
        assert_eq!(
            bytes.metrics[0].value,
            wasmetheus_model::MetricValue::Number(0.0),
            "{name}"
        );
    }
    tokio::time::timeout(Duration::from_secs(10), runtime.collect("trivial"))
        .await
        .expect("the host still serves")
        .unwrap();
}

/// A thread of this process (the server in these tests) that lives until
/// the returned sender is dropped, and its thread id.
fn parked_thread() -> (u32, std::sync::mpsc::Sender<()>) {
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        // /proc/thread-self is "<pid>/task/<tid>".
        let link = std::fs::read_link("/proc/thread-self").unwrap();
        let tid = link.file_name().unwrap().to_str().unwrap().parse::<u32>();
        tid_tx.send(tid.unwrap()).unwrap();
        let _ = stop_rx.recv();
    });
    (tid_rx.recv().unwrap(), stop_tx)
}

#[tokio::test(flavor = "multi_thread")]
async fn proc_self() {
    let pid = std::process::id();
    let (tid, _parked) = parked_thread();
    let other = std::os::unix::process::parent_id();
    let mut prober = instance(
        "prober",
        "proc-self",
        serde_json::json!({"server_pid": pid, "server_tid": tid, "other_pid": other}),
    );
    prober.grants.read_paths = vec!["/proc".into()];
    // The whole filesystem: /proc is reached from "/" and guarded the same.
    let mut root_prober = instance(
        "root-prober",
        "proc-self",
        serde_json::json!({"server_pid": pid, "server_tid": tid, "other_pid": other}),
    );
    root_prober.grants.read_paths = vec!["/".into()];
    // A grant of the server's own directory is refused outright.
    let mut granted_self = instance(
        "granted-self",
        "proc-self",
        serde_json::json!({"server_pid": pid, "server_tid": tid, "other_pid": other}),
    );
    granted_self.grants.read_paths = vec!["/proc/self".into(), "/proc/thread-self".into()];
    let (runtime, _dir) = runtime_with(
        &[
            (guests::PROC_SELF, "proc-self"),
            (guests::TRIVIAL, "trivial"),
        ],
        vec![prober, root_prober, granted_self],
    );
    for name in ["prober", "root-prober"] {
        probe_proc(&runtime, name, pid, tid, other).await;
    }
    // Without its refused grants the second instance has no /proc at all.
    let err = runtime.collect("granted-self").await.unwrap_err();
    assert!(err.to_string().contains("listing /proc"), "{err}");
    // The host carries on.
    runtime.collect("trivial").await.unwrap();
    runtime.collect("prober").await.unwrap();
}

/// Runs the proc-self guest instance `name` and checks every probe.
async fn probe_proc(runtime: &PluginRuntime, name: &str, pid: u32, tid: u32, other: u32) {
    let families = runtime.collect(name).await.unwrap();
    let label = |m: &wasmetheus_model::Metric, name: &str| {
        m.labels
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.value.clone())
            .unwrap_or_default()
    };
    let probes = &families
        .iter()
        .find(|f| f.name == "proc_probe")
        .unwrap()
        .metrics;
    let outcome = |op: &str, path: &str| {
        let m = probes
            .iter()
            .find(|m| label(m, "op") == op && label(m, "path") == path)
            .unwrap_or_else(|| panic!("no probe {op} {path}"));
        (label(m, "outcome"), label(m, "error"))
    };
    // Refused by the guard with an access error.
    for (op, path) in [
        ("read", "/proc/self/environ".to_owned()),
        ("read", "/proc/self/maps".to_owned()),
        ("read", "/proc/self/cmdline".to_owned()),
        ("read", "/proc/thread-self/environ".to_owned()),
        ("read", format!("/proc/{pid}/environ")),
        ("read", format!("/proc/{pid}/maps")),
        ("read", format!("/proc/{pid}/status")),
        ("read", format!("/proc/{pid}/task/{tid}/environ")),
        ("read", format!("/proc/{tid}/environ")),
        ("read", format!("/proc/{tid}/status")),
        ("read", "/proc/net/../environ".to_owned()),
        ("read", "/proc/self/net/../environ".to_owned()),
        ("read", format!("/proc/{pid}/net/../environ")),
        ("read", format!("/proc/{other}/environ")),
        ("list", format!("/proc/{pid}/task")),
        ("readlink", "/proc/self".to_owned()),
        ("readlink", "/proc/thread-self".to_owned()),
        ("stat", "/proc/self/environ".to_owned()),
        ("stat", format!("/proc/{tid}")),
        ("stat", "/proc/kmsg".to_owned()),
        ("stat", "/proc/kcore".to_owned()),
    ] {
        let (outcome, error) = outcome(op, &path);
        assert_eq!(outcome, "denied", "{name}: {op} {path}: {error}");
        assert!(
            error.contains("ermission denied"),
            "{name}: {op} {path}: {error}"
        );
    }
    // Refused one way or another (magic links, escapes, private entries).
    for (op, path) in [
        ("read", format!("/proc/{pid}/mem")),
        ("read", format!("/proc/{pid}/fd/0")),
        ("read", "/proc/self/root/etc/hostname".to_owned()),
        ("read", format!("/proc/{pid}/cwd/Cargo.toml")),
        ("read", format!("/proc/{other}/root/etc/hostname")),
        ("list", "/proc/self/fd".to_owned()),
        ("list", format!("/proc/{other}/fd")),
        ("readlink", format!("/proc/{pid}/exe")),
        ("readlink", format!("/proc/{other}/cwd")),
    ] {
        let (outcome, error) = outcome(op, &path);
        assert_ne!(outcome, "allowed", "{name}: {op} {path}: {error}");
    }
    // What the node exporter reads through the same grant still works.
    for (op, path) in [
        ("read", "/proc/net/dev".to_owned()),
        ("read", "/proc/mounts".to_owned()),
        ("read", "/proc/loadavg".to_owned()),
        ("read", format!("/proc/{other}/stat")),
        ("list", "/proc/net".to_owned()),
        ("stat", "/proc/net/dev".to_owned()),
    ] {
        let (outcome, error) = outcome(op, &path);
        assert_eq!(outcome, "allowed", "{name}: {op} {path}: {error}");
    }
    let listed = families
        .iter()
        .find(|f| f.name == "proc_probe_server_listed")
        .unwrap();
    assert_eq!(
        listed.metrics[0].value,
        wasmetheus_model::MetricValue::Number(0.0),
        "{name}: a listing of /proc shows the server's pid"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resource_hoarder() {
    let hoarder = |kind: &str| {
        let mut hoarder = instance(kind, "resource-hoarder", serde_json::json!({"kind": kind}));
        // Long enough that only a cap, not the deadline, can end the loop.
        hoarder.scrape_timeout = Some(PromDuration(Duration::from_secs(4)));
        hoarder.grants.read_paths = vec!["/proc".into()];
        hoarder.grants.tcp_connect = vec!["127.0.0.1:9".into()];
        hoarder
    };
    // An HTTP server that accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let authority = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let mut http = instance(
        "http-connections",
        "resource-hoarder",
        serde_json::json!({"kind": "http-connections", "authority": authority}),
    );
    http.scrape_timeout = Some(PromDuration(Duration::from_secs(4)));
    http.grants.http_origins = vec![format!("http://{authority}")];
    let (runtime, _dir) = runtime_with(
        &[
            (guests::RESOURCE_HOARDER, "resource-hoarder"),
            (guests::TRIVIAL, "trivial"),
        ],
        vec![
            hoarder("pollables"),
            hoarder("fields"),
            hoarder("field-bytes"),
            hoarder("descriptors"),
            hoarder("sockets"),
            http,
        ],
    );
    for (kind, expected) in [
        ("pollables", "limit of 4096 WASI resources"),
        ("fields", "limit of 4096 WASI resources"),
        (
            "field-bytes",
            "limit of 65536 bytes of HTTP header names and values",
        ),
        ("descriptors", "limit of 128 open file descriptors"),
        ("sockets", "limit of 32 TCP sockets"),
    ] {
        let err = runtime.collect(kind).await.unwrap_err();
        assert!(matches!(err, CollectError::Trap(_)), "{kind}: {err}");
        assert!(err.to_string().contains(expected), "{kind}: {err}");
        // Contained: the host and other instances carry on, and the next
        // collect of the hoarder starts afresh and is stopped again.
        runtime.collect("trivial").await.unwrap();
        let again = runtime.collect(kind).await.unwrap_err();
        assert!(again.to_string().contains(expected), "{kind}: {again}");
    }
    // Connections beyond the cap are refused at once, not opened.
    let err = runtime.collect("http-connections").await.unwrap_err();
    assert!(matches!(err, CollectError::Plugin(_)), "{err}");
    assert!(err.to_string().contains("ConnectionLimitReached"), "{err}");
    runtime.collect("trivial").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn node_exporter_reads_proc_net_and_mounts_through_the_guard() {
    let mut node = instance("node", "node-exporter", serde_json::json!({}));
    node.scrape_timeout = Some(PromDuration(Duration::from_secs(10)));
    // The default configuration's grants.
    node.grants.read_paths = vec!["/proc".into(), "/sys".into()];
    node.grants.filesystem_usage = vec!["/".into()];
    let (runtime, _dir) = runtime_with(
        &[(guests::PLUGIN_NODE_EXPORTER, "node-exporter")],
        vec![node],
    );
    let families = runtime.collect("node").await.unwrap();
    for name in [
        // /proc/net/dev, /proc/net/netstat and /proc/net/snmp (via /proc/self/net)
        "node_network_receive_bytes_total",
        "node_netstat_Tcp_CurrEstab",
        // /proc/1/mounts or /proc/mounts (via /proc/self/mounts)
        "node_filesystem_size_bytes",
        "node_load1",
        "node_memory_MemTotal_bytes",
    ] {
        assert!(
            families
                .iter()
                .any(|f| f.name == name && !f.metrics.is_empty()),
            "{name} missing"
        );
    }
}

macro_rules! assert_test_exists {
    ($name:ident) => {
        #[expect(unused_imports, reason = "only checks that the test exists")]
        use self::$name as _;
    };
}
wasmetheus_tests::foreach_guest!(assert_test_exists);
