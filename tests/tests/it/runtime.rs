//! Runtime behaviour that is not about one guest: the compile cache, the
//! capability report, the bounds on compilation, and threads across reloads.

use std::time::{Duration, Instant};
use wasmetheus_config::{Config, PluginInstanceConfig, PromDuration};
use wasmetheus_plugin_runtime::{CollectError, PluginRuntime, RuntimeOptions};
use wasmetheus_tests::wasm::compile_bomb;
use wasmetheus_tests::{PluginsDir, guests};

fn runtime(dir: &PluginsDir, cache: &std::path::Path) -> PluginRuntime {
    let mut options = RuntimeOptions::new(dir.path());
    options.cache_dir = Some(cache.to_owned());
    let runtime = PluginRuntime::new(options).unwrap();
    runtime.apply_config(&Config::default());
    runtime
}

#[tokio::test(flavor = "multi_thread")]
async fn compiled_components_are_cached_across_restarts() {
    let dir = PluginsDir::new();
    dir.install(guests::TRIVIAL, "trivial");
    let cache = tempfile::tempdir().unwrap();

    let first = runtime(&dir, cache.path());
    assert_eq!(first.load_all(), 1);
    assert!(!first.status()[0].loaded_from_cache);
    let entries = std::fs::read_dir(cache.path()).unwrap().count();
    assert_eq!(entries, 1, "one cached component");

    // A "restart": a new runtime over the same cache does not recompile.
    let second = runtime(&dir, cache.path());
    assert_eq!(second.load_all(), 1);
    assert!(second.status()[0].loaded_from_cache);
    second.collect("trivial").await.unwrap();

    // A corrupt cache entry is discarded and the component recompiled.
    for entry in std::fs::read_dir(cache.path()).unwrap() {
        std::fs::write(entry.unwrap().path(), b"garbage").unwrap();
    }
    let third = runtime(&dir, cache.path());
    assert_eq!(third.load_all(), 1);
    assert!(!third.status()[0].loaded_from_cache);
    third.collect("trivial").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn ungranted_requests_are_reported_with_the_lines_that_grant_them() {
    let dir = PluginsDir::new();
    dir.install(guests::PLUGIN_NODE_EXPORTER, "node-exporter");
    let cache = tempfile::tempdir().unwrap();
    let runtime = runtime(&dir, cache.path());
    let mut config = Config::default();
    // Plugin-wide grants of /proc only: /sys stays ungranted.
    config.plugins.grants.insert(
        "node-exporter".into(),
        wasmetheus_config::Grants {
            read_paths: vec!["/proc".into()],
            ..Default::default()
        },
    );
    runtime.apply_config(&config);
    runtime.load_all();
    let status = runtime.status();
    let instance = &status[0].instances[0];
    let sys = instance
        .capabilities
        .iter()
        .find(|c| c.capability == "read-path /sys")
        .unwrap();
    assert!(!sys.granted);
    assert_eq!(
        sys.grant_with.as_deref(),
        Some("plugins:\n  grants:\n    node-exporter:\n      read_paths: [/sys]")
    );
    let proc = instance
        .capabilities
        .iter()
        .find(|c| c.capability == "read-path /proc")
        .unwrap();
    assert!(proc.granted);
    assert_eq!(proc.grant_with, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_file_removed_while_it_loads_is_not_installed() {
    let dir = PluginsDir::new();
    let cache = tempfile::tempdir().unwrap();
    let runtime = runtime(&dir, cache.path());
    // A first load that fails on a file that is gone leaves no entry.
    let missing = dir.path().join("missing.wasm");
    assert!(runtime.load_file(&missing).is_err());
    assert!(runtime.status().is_empty(), "{:?}", runtime.status());

    // Removed while it compiles (no cache entry yet): the watcher's
    // removal comes before the load installs it.
    let path = dir.install(guests::TRIVIAL, "trivial");
    let load = {
        let (runtime, path) = (runtime.clone(), path.clone());
        std::thread::spawn(move || runtime.load_file(&path))
    };
    std::fs::remove_file(&path).unwrap();
    runtime.remove_file(&path);
    let _ = load.join().unwrap();
    assert!(runtime.status().is_empty(), "{:?}", runtime.status());
    assert!(runtime.targets().is_empty());
    assert!(runtime.collect("trivial").await.is_err());

    // Through the watcher: a file that is removed right after it appears
    // is gone once things settle.
    let _watcher = wasmetheus_plugin_runtime::watch_plugins_dir(runtime.clone()).unwrap();
    let path = dir.install(guests::TRIVIAL, "trivial");
    let deadline = Instant::now() + Duration::from_secs(30);
    while runtime.status().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    std::fs::remove_file(&path).unwrap();
    while !runtime.status().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(runtime.status().is_empty(), "{:?}", runtime.status());
}

#[tokio::test(flavor = "multi_thread")]
async fn plugin_files_over_the_size_limit_are_refused_before_compiling() {
    let dir = PluginsDir::new();
    dir.install(guests::TRIVIAL, "trivial");
    let limit = std::fs::metadata(guests::TRIVIAL).unwrap().len() + 1000;
    std::fs::write(dir.path().join("huge.wasm"), vec![0u8; limit as usize + 1]).unwrap();
    let mut options = RuntimeOptions::new(dir.path());
    options.max_plugin_size = limit;
    let runtime = PluginRuntime::new(options).unwrap();
    runtime.apply_config(&Config::default());
    assert_eq!(runtime.load_all(), 1);
    let status = runtime.status();
    let huge = status.iter().find(|p| p.plugin == "huge").unwrap();
    let error = huge.last_error.as_deref().unwrap_or_default();
    assert!(
        error.contains(&format!(
            "is {} bytes, more than the plugin size limit of {limit} bytes",
            limit + 1
        )),
        "{error}"
    );
    runtime.collect("trivial").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_compile_is_abandoned_and_the_old_version_keeps_serving() {
    let dir = PluginsDir::new();
    let victim = dir.install(guests::TRIVIAL, "victim");
    let cache = tempfile::tempdir().unwrap();
    // Compile the good version once, so that below it loads from the cache
    // well within the short compile timeout.
    assert_eq!(runtime(&dir, cache.path()).load_all(), 1);

    let mut options = RuntimeOptions::new(dir.path());
    options.cache_dir = Some(cache.path().to_owned());
    options.compile_timeout = Duration::from_millis(300);
    let runtime = PluginRuntime::new(options).unwrap();
    runtime.apply_config(&Config::default());
    assert_eq!(runtime.load_all(), 1);
    runtime.collect("victim").await.unwrap();

    // A new version that takes seconds to compile.
    std::fs::write(&victim, compile_bomb(2_000)).unwrap();
    let loading = runtime.clone();
    let path = victim.clone();
    let load = tokio::task::spawn_blocking(move || loading.load_file(&path));
    let error = tokio::time::timeout(Duration::from_secs(30), load)
        .await
        .expect("the load waited for the compilation")
        .unwrap()
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("compilation did not finish within 300ms and was abandoned"),
        "{error}"
    );
    let status = runtime.status();
    assert_eq!(status[0].health, "degraded");
    assert_eq!(status[0].last_error.as_deref(), Some(error.as_str()));
    runtime.collect("victim").await.unwrap();

    // While the abandoned compilation runs on, the file is not compiled a
    // second time, and other plugins load as usual.
    let again = runtime.load_file(&victim).unwrap_err().to_string();
    assert!(again.contains("still compiling"), "{again}");
    let other = dir.install(guests::TRIVIAL, "other");
    runtime.load_file(&other).unwrap();
    runtime.collect("other").await.unwrap();
}

/// The `Threads:` line of this process' status.
fn thread_count() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap()
}

/// Runs test `name` alone, in a child process of this test binary, since a
/// thread count means something only in a process running nothing else.
/// Returns true in that child, false in the parent once the child passed.
fn alone(name: &str) -> bool {
    const VAR: &str = "WASMETHEUS_TEST_ALONE";
    if std::env::var_os(VAR).is_some() {
        return true;
    }
    // This very binary even when a build replaced its file meanwhile.
    let this = std::path::Path::new("/proc/self/exe");
    let exe = if this.exists() {
        this.to_path_buf()
    } else {
        std::env::current_exe().unwrap()
    };
    let mut child = std::process::Command::new(exe)
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(VAR, "1")
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("{name} did not finish within 120 s in its own process");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{name} failed in its own process");
    false
}

#[test]
fn reloads_while_a_collect_hangs_leave_no_thread_behind() {
    if !alone("reloads_while_a_collect_hangs_leave_no_thread_behind") {
        return;
    }
    let dir = PluginsDir::new();
    dir.install(guests::SLEEPER, "sleeper");
    dir.install(guests::TRIVIAL, "trivial");
    let runtime = PluginRuntime::new(RuntimeOptions::new(dir.path())).unwrap();
    let config = |round: usize| {
        let mut config = Config::default();
        config.plugins.instances.push(PluginInstanceConfig {
            labels: [("round".to_owned(), round.to_string())].into(),
            ..instance_with_timeout(
                "hung",
                "sleeper",
                200,
                serde_json::json!({ "in": "collect", "how": "sleep" }),
            )
        });
        config
    };
    runtime.apply_config(&config(0));
    assert_eq!(runtime.load_all(), 2);
    let executor = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Each round leaves a collect waiting in a WASI sleep, then a reload
    // replaces the instance (its labels changed).
    let round = |n: usize| {
        let hung = runtime.clone();
        let collect = executor.spawn(async move { hung.collect("hung").await });
        std::thread::sleep(Duration::from_millis(50));
        runtime.apply_config(&config(n));
        let trivial = runtime.clone();
        executor
            .block_on(async move { trivial.collect("trivial").await })
            .unwrap();
        collect
    };
    let warm_up = round(1);
    let err = executor.block_on(warm_up).unwrap().unwrap_err();
    assert!(matches!(err, CollectError::Timeout(_)), "{err}");
    // The baseline is read once the warm-up's idle blocking threads have
    // gone (the plugin executor keeps them 2 s): read earlier, it would
    // count threads that are about to exit, room for as many leaked ones.
    std::thread::sleep(Duration::from_millis(2500));
    let before = thread_count();
    let collects: Vec<_> = (2..12).map(round).collect();
    for collect in collects {
        let answer = executor.block_on(collect).unwrap();
        assert!(answer.is_err(), "{answer:?}");
    }
    // Threads that finished work may take a moment to exit.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut after = thread_count();
    while after > before + 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        after = thread_count();
    }
    assert!(
        after <= before + 1,
        "{before} threads before 10 reloads, {after} after"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn abandoned_calls_free_their_pool_slots() {
    let dir = PluginsDir::new();
    dir.install(guests::SLEEPER, "sleeper");
    let mut options = RuntimeOptions::new(dir.path());
    // Room for the loading store and the instance, and one spare.
    options.max_instances = 3;
    let runtime = PluginRuntime::new(options).unwrap();
    let mut config = Config::default();
    config.plugins.instances.push(instance_with_timeout(
        "hung",
        "sleeper",
        100,
        serde_json::json!({ "in": "collect", "how": "sleep" }),
    ));
    runtime.apply_config(&config);
    assert_eq!(runtime.load_all(), 1);
    // Each collect is abandoned and its store dropped; the next one opens a
    // new store, which needs a free slot.
    for round in 0..8 {
        let err = runtime.collect("hung").await.unwrap_err();
        assert!(matches!(err, CollectError::Timeout(_)), "{round}: {err}");
    }
    // So does reopening the instance on reload, many times over.
    for round in 0..8 {
        config.plugins.instances[0]
            .labels
            .insert("round".into(), round.to_string());
        let reloading = runtime.clone();
        let applied = config.clone();
        tokio::task::spawn_blocking(move || reloading.apply_config(&applied))
            .await
            .unwrap();
        let status = runtime.status();
        assert_eq!(status[0].instances[0].error, None, "{round}: {status:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_with_hung_plugins_starts_reloads_and_stops_promptly() {
    use wasmetheus_tests::{TestServer, eventually, http, test_args};
    let plugins = PluginsDir::new();
    plugins.install(guests::SLEEPER, "sleeper");
    plugins.install(guests::TRIVIAL, "trivial");
    let config = plugins.path().join("prometheus.yml");
    let write_config = |interval: &str| {
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: {interval}\n  scrape_timeout: 300ms\nplugins:\n  instances:\n    \
                 - name: hung-open\n      plugin: sleeper\n      config: {{\"in\": \"open\", \"how\": \"sleep\"}}\n    \
                 - name: hung-collect\n      plugin: sleeper\n      config: {{\"in\": \"collect\", \"how\": \"sleep\"}}\n    \
                 - name: trivial\n      plugin: trivial\n"
            ),
        )
        .unwrap();
    };
    write_config("1s");
    let data = tempfile::tempdir().unwrap();
    let args = test_args(plugins.path(), Some(&config), data.path());
    let server = tokio::time::timeout(Duration::from_secs(60), TestServer::start(args, data))
        .await
        .expect("start-up waited on a plugin that never returns from open");
    let address = server.address;
    let (_, body) = http(address, "GET", "/api/v1/plugins", &[]).await;
    assert!(
        body.contains("open() did not return within its deadline of 300ms"),
        "{body}"
    );
    // The hung collect is scraped (and cut) while the other plugin is too.
    let body = eventually(
        Duration::from_secs(10),
        "the hung collect's error",
        || async {
            let (_, body) = http(address, "GET", "/api/v1/plugins", &[]).await;
            body.contains("collect exceeded its deadline of 300ms")
                .then_some(body)
        },
    )
    .await;
    assert!(body.contains("\"last_collect_error\""), "{body}");
    let (status, _) = http(address, "GET", "/plugins/trivial/metrics", &[]).await;
    assert_eq!(status, 200);

    // A reload reopens every instance (the interval changed), the hung ones
    // included, and returns.
    write_config("2s");
    let (status, body) = tokio::time::timeout(
        Duration::from_secs(20),
        http(address, "POST", "/-/reload", &[]),
    )
    .await
    .expect("the reload waited on a hung plugin");
    assert_eq!(status, 200, "{body}");
    tokio::time::timeout(Duration::from_secs(20), server.stop())
        .await
        .expect("shutdown waited on a hung plugin");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_that_compiles_slowly_does_not_hold_up_the_watcher() {
    let dir = PluginsDir::new();
    let cache = tempfile::tempdir().unwrap();
    // Warm the cache with the quick plugin, so its load takes milliseconds.
    {
        let warm = PluginsDir::new();
        warm.install(guests::TRIVIAL, "quick");
        assert_eq!(runtime(&warm, cache.path()).load_all(), 1);
    }
    let runtime = runtime(&dir, cache.path());
    let _watcher = wasmetheus_plugin_runtime::watch_plugins_dir(runtime.clone()).unwrap();
    let slow = dir.path().join(".slow.tmp");
    std::fs::write(&slow, compile_bomb(3_000)).unwrap();
    std::fs::rename(&slow, dir.path().join("slow.wasm")).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    dir.install(guests::TRIVIAL, "quick");
    wasmetheus_tests::eventually(Duration::from_secs(30), "quick to load", || async {
        runtime
            .targets()
            .iter()
            .any(|t| t.instance == "quick")
            .then_some(())
    })
    .await;
    // The slow file was still compiling: it has no status yet.
    let status = runtime.status();
    assert!(
        status.iter().all(|p| p.plugin != "slow"),
        "quick loaded only after slow was done: {status:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_version_whose_open_hangs_is_rejected_and_the_old_keeps_serving() {
    let dir = PluginsDir::new();
    let path = dir.install(guests::TRIVIAL, "swap");
    let runtime = PluginRuntime::new(RuntimeOptions::new(dir.path())).unwrap();
    let mut config = Config::default();
    // Ignored by trivial; makes the sleeper hang in `open`.
    config.plugins.instances.push(instance_with_timeout(
        "swap",
        "swap",
        300,
        serde_json::json!({ "in": "open", "how": "sleep" }),
    ));
    runtime.apply_config(&config);
    assert_eq!(runtime.load_all(), 1);
    runtime.collect("swap").await.unwrap();

    std::fs::copy(guests::SLEEPER, &path).unwrap();
    let loading = runtime.clone();
    let load = tokio::task::spawn_blocking(move || loading.load_file(&path));
    let error = tokio::time::timeout(Duration::from_secs(30), load)
        .await
        .expect("loading a version whose open hangs did not return")
        .unwrap()
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("open() did not return within its deadline of 300ms"),
        "{error}"
    );
    let status = runtime.status();
    assert_eq!(status[0].version.as_deref(), Some("0.1.0"));
    assert_eq!(status[0].name.as_deref(), Some("trivial"));
    assert_eq!(status[0].health, "degraded");
    let families = runtime.collect("swap").await.unwrap();
    assert!(
        families
            .iter()
            .any(|f| f.name == "trivial_collections_total"),
        "{families:?}"
    );
}

/// The value of the runtime-wide gauge `name` in the runtime's metrics.
fn runtime_gauge(runtime: &PluginRuntime, name: &str) -> f64 {
    let families = runtime.metrics();
    let family = families
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{name} is not among the runtime's metrics"));
    match family.metrics[0].value {
        wasmetheus_model::MetricValue::Number(v) => v,
        ref other => panic!("{name} is {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn compilations_are_capped_runtime_wide_and_a_small_plugin_still_loads() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = PluginsDir::new();
    let mut options = RuntimeOptions::new(dir.path());
    options.max_concurrent_compiles = 1;
    options.compile_timeout = Duration::from_secs(120);
    let runtime = PluginRuntime::new(options).unwrap();
    runtime.apply_config(&Config::default());
    assert_eq!(
        runtime_gauge(&runtime, "wasmetheus_plugin_compile_slots"),
        1.0
    );
    // Three different components that each take a while to compile, and a
    // small good plugin, all loaded at once.
    let mut files: Vec<std::path::PathBuf> = (0..3)
        .map(|i| {
            let path = dir.path().join(format!("slow{i}.wasm"));
            std::fs::write(&path, compile_bomb(1_000 + i)).unwrap();
            path
        })
        .collect();
    files.push(dir.install(guests::TRIVIAL, "good"));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (runtime, stop) = (runtime.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let (mut running, mut queued) = (0.0f64, 0.0f64);
            while !stop.load(Ordering::Relaxed) {
                running = running.max(runtime_gauge(
                    &runtime,
                    "wasmetheus_plugin_compilations_running",
                ));
                queued = queued.max(runtime_gauge(
                    &runtime,
                    "wasmetheus_plugin_compilations_queued",
                ));
                std::thread::sleep(Duration::from_millis(2));
            }
            (running, queued)
        })
    };
    let loads: Vec<_> = files
        .iter()
        .map(|path| {
            let (runtime, path) = (runtime.clone(), path.clone());
            std::thread::spawn(move || runtime.load_file(&path))
        })
        .collect();
    let results: Vec<_> = loads.into_iter().map(|l| l.join().unwrap()).collect();
    stop.store(true, Ordering::Relaxed);
    let (running, queued) = sampler.join().unwrap();
    assert_eq!(running, 1.0, "most compilations seen running at once");
    assert!(queued >= 1.0, "no load was seen waiting for a compile slot");
    // Each compiled in its turn: none ran out of time waiting.
    for (path, result) in files.iter().zip(&results) {
        if let Err(e) = result {
            assert!(
                !e.to_string().contains("was not compiled"),
                "{}: {e}",
                path.display()
            );
        }
    }
    results[3].as_ref().unwrap();
    runtime.collect("good").await.unwrap();
    assert_eq!(
        runtime_gauge(&runtime, "wasmetheus_plugin_compilations_running"),
        0.0
    );
    assert_eq!(
        runtime_gauge(&runtime, "wasmetheus_plugin_compilations_queued"),
        0.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_load_that_gets_no_compile_slot_in_time_fails_but_cached_plugins_need_none() {
    let dir = PluginsDir::new();
    let cache = tempfile::tempdir().unwrap();
    let cached = dir.install(guests::TRIVIAL, "cached");
    assert_eq!(runtime(&dir, cache.path()).load_all(), 1);

    let mut options = RuntimeOptions::new(dir.path());
    options.cache_dir = Some(cache.path().to_owned());
    options.max_concurrent_compiles = 1;
    options.compile_timeout = Duration::from_millis(400);
    let runtime = PluginRuntime::new(options).unwrap();
    runtime.apply_config(&Config::default());
    // Abandoned at the timeout, it keeps the only slot for seconds more.
    let hog = dir.path().join("hog.wasm");
    std::fs::write(&hog, compile_bomb(4_000)).unwrap();
    let error = runtime.load_file(&hog).unwrap_err().to_string();
    assert!(error.contains("was abandoned"), "{error}");
    assert_eq!(
        runtime_gauge(&runtime, "wasmetheus_plugin_compilations_running"),
        1.0
    );

    let waiting = dir.path().join("waiting.wasm");
    std::fs::write(&waiting, compile_bomb(10)).unwrap();
    let started = Instant::now();
    let error = runtime.load_file(&waiting).unwrap_err().to_string();
    assert!(
        error.contains("no compile slot came free within the compile timeout of 400ms"),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    // A load from the cache compiles nothing and needs no slot.
    runtime.load_file(&cached).unwrap();
    runtime.collect("cached").await.unwrap();
}

/// A plugin instance with a scrape timeout of `timeout_ms` and `config`,
/// everything else defaulted.
fn instance_with_timeout(
    name: &str,
    plugin: &str,
    timeout_ms: u64,
    config: serde_json::Value,
) -> PluginInstanceConfig {
    PluginInstanceConfig {
        name: name.into(),
        plugin: plugin.into(),
        job: None,
        scrape_interval: None,
        scrape_timeout: Some(PromDuration(Duration::from_millis(timeout_ms))),
        memory_limit: None,
        config: Some(config),
        grants: Default::default(),
        labels: Default::default(),
    }
}
