//! Plugin compilation in a child process: the server's own executable run
//! as `wasmetheus __compile-plugin`. A component compiles there and loads,
//! its cache entry is reused without a child; a compile bomb under a small
//! memory limit fails with the memory-limit error while this process (the
//! server) stays small; a slow compilation's child is killed and reaped at
//! the compile timeout; `wasmetheus serve` compiles in its own executable
//! under `--plugins.compile-memory-limit` and starts all the same.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, MutexGuard};
use wasmetheus_config::Config;
use wasmetheus_plugin_runtime::{
    COMPILE_SUBCOMMAND, CompilerCommand, DEFAULT_COMPILE_MEMORY_LIMIT, PluginRuntime,
    RuntimeOptions,
};

/// The tests start compiler processes one test at a time, so that the
/// children a test finds are its own and memory it measures is its own.
async fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::const_new(());
    LOCK.lock().await
}

/// The workspace's root directory.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The trivial test guest, as the tests crate builds it; built here the
/// same way when that has not happened yet.
fn trivial_guest() -> &'static Path {
    static GUEST: OnceLock<PathBuf> = OnceLock::new();
    GUEST.get_or_init(|| {
        let target = workspace().join("target/guests");
        let wasm = target.join("wasm32-wasip2/plugin/guest_trivial.wasm");
        if !wasm.exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = std::process::Command::new(cargo);
            cmd.current_dir(workspace())
                .args(["build", "--profile", "plugin", "--target", "wasm32-wasip2"])
                .args(["-p", "guest-trivial", "--target-dir"])
                .arg(&target);
            for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_TARGET_DIR"] {
                cmd.env_remove(var);
            }
            let status = cmd
                .status()
                .expect("running cargo to build the trivial guest");
            assert!(status.success(), "building the trivial guest failed");
        }
        wasm
    })
}

fn compiler(memory_limit: u64) -> CompilerCommand {
    let mut command = CompilerCommand::new(env!("CARGO_BIN_EXE_wasmetheus"));
    command.memory_limit = memory_limit;
    command
}

fn runtime(
    plugins: &Path,
    cache: &Path,
    compiler: CompilerCommand,
    compile_timeout: Duration,
) -> PluginRuntime {
    let mut options = RuntimeOptions::new(plugins);
    options.cache_dir = Some(cache.to_owned());
    options.compiler = Some(compiler);
    options.compile_timeout = compile_timeout;
    let runtime = PluginRuntime::new(options).unwrap();
    runtime.apply_config(&Config::default());
    runtime
}

fn install(plugins: &Path, name: &str) -> PathBuf {
    let path = plugins.join(format!("{name}.wasm"));
    std::fs::copy(trivial_guest(), &path).unwrap();
    path
}

/// The compiled-component cache's entries.
fn entries(cache: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(cache) {
        Ok(dir) => dir
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Compiler processes that are children of this process.
fn compiler_children() -> Vec<u32> {
    let me = std::process::id();
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let (Ok(stat), Ok(cmdline)) = (
            std::fs::read_to_string(format!("/proc/{pid}/stat")),
            std::fs::read(format!("/proc/{pid}/cmdline")),
        ) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may hold anything but ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        let compiler = cmdline
            .split(|b| *b == 0)
            .any(|arg| arg == COMPILE_SUBCOMMAND.as_bytes());
        if ppid == Some(me) && compiler {
            children.push(pid);
        }
    }
    children
}

/// This process' peak resident memory, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

/// The generator the tests crate uses (one source for both).
#[allow(dead_code)]
#[path = "../../../tests/src/wasm.rs"]
mod wasm;
use wasm::compile_bomb;

#[tokio::test(flavor = "multi_thread")]
async fn a_component_compiles_in_the_compiler_process_and_its_cache_entry_is_reused() {
    let _serial = serial().await;
    let plugins = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    install(plugins.path(), "trivial");
    let timeout = Duration::from_secs(60);

    // A miss is compiled by the compiler process: one that fails fails the
    // load, and nothing is cached.
    let failing = CompilerCommand {
        program: "/bin/false".into(),
        args: Vec::new(),
        memory_limit: DEFAULT_COMPILE_MEMORY_LIMIT,
    };
    let refused = runtime(plugins.path(), cache.path(), failing, timeout);
    assert_eq!(refused.load_all(), 0);
    let error = refused.status()[0].last_error.clone().unwrap();
    assert!(error.contains("the compiler process failed"), "{error}");
    assert!(entries(cache.path()).is_empty());
    drop(refused);

    let compiled = runtime(
        plugins.path(),
        cache.path(),
        compiler(DEFAULT_COMPILE_MEMORY_LIMIT),
        timeout,
    );
    assert_eq!(compiled.load_all(), 1, "{:?}", compiled.status());
    assert!(!compiled.status()[0].loaded_from_cache);
    compiled.collect("trivial").await.unwrap();
    let written = entries(cache.path());
    assert_eq!(written.len(), 1);
    let mode = std::fs::metadata(&written[0]).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    drop(compiled);

    // A hit needs no compiler process: one that cannot even start does not
    // matter.
    let cached = runtime(
        plugins.path(),
        cache.path(),
        CompilerCommand::new("/nonexistent/wasmetheus"),
        timeout,
    );
    assert_eq!(cached.load_all(), 1, "{:?}", cached.status());
    assert!(cached.status()[0].loaded_from_cache);
    cached.collect("trivial").await.unwrap();
    assert!(compiler_children().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_compile_bomb_over_the_memory_limit_fails_and_the_old_version_keeps_serving() {
    let _serial = serial().await;
    let plugins = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let victim = install(plugins.path(), "victim");
    // The trivial guest compiles in about 35 MB.
    let limit = 128 << 20;
    let runtime = runtime(
        plugins.path(),
        cache.path(),
        compiler(limit),
        Duration::from_secs(60),
    );
    assert_eq!(runtime.load_all(), 1, "{:?}", runtime.status());
    runtime.collect("victim").await.unwrap();

    std::fs::write(&victim, compile_bomb(2_000)).unwrap();
    let peak_before = peak_rss();
    let error = runtime.load_file(&victim).unwrap_err().to_string();
    assert!(
        error.contains("compile memory limit of 128MiB")
            && error.contains("--plugins.compile-memory-limit"),
        "{error}"
    );
    // Compiled here, the bomb would have taken over 250 MB of this process.
    let grown = peak_rss().saturating_sub(peak_before);
    assert!(grown < 64 << 20, "this process grew by {grown} bytes");
    let status = runtime.status();
    assert_eq!(status[0].health, "degraded");
    assert_eq!(status[0].last_error.as_deref(), Some(error.as_str()));
    runtime.collect("victim").await.unwrap();
    assert_eq!(
        entries(cache.path()).len(),
        1,
        "the bomb has no cache entry"
    );
    assert!(compiler_children().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_compile_is_killed_at_the_timeout() {
    let _serial = serial().await;
    let plugins = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let slow = plugins.path().join("slow.wasm");
    // Several seconds of compiling, well within the memory limit.
    std::fs::write(&slow, compile_bomb(3_000)).unwrap();
    let runtime = runtime(
        plugins.path(),
        cache.path(),
        compiler(DEFAULT_COMPILE_MEMORY_LIMIT),
        Duration::from_secs(1),
    );
    let loading = runtime.clone();
    let path = slow.clone();
    let load = std::thread::spawn(move || loading.load_file(&path));
    let mut seen = Vec::new();
    let started = Instant::now();
    while !load.is_finished() && started.elapsed() < Duration::from_secs(60) {
        for pid in compiler_children() {
            if !seen.contains(&pid) {
                seen.push(pid);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let error = load.join().unwrap().unwrap_err().to_string();
    assert!(error.contains("did not finish within 1s"), "{error}");
    assert_eq!(seen.len(), 1, "one compiler process ran: {seen:?}");
    // Killed and reaped: not even a zombie is left.
    let gone = |pid: &u32| !Path::new(&format!("/proc/{pid}")).exists();
    let waited = Instant::now();
    while !seen.iter().all(gone) && waited.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        seen.iter().all(gone),
        "compiler process {seen:?} still there"
    );
    assert!(entries(cache.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_compiles_in_its_own_executable_under_the_flags_limit() {
    let _serial = serial().await;
    let plugins = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    install(plugins.path(), "trivial");
    let log = data.path().join("server.log");
    let log_file = std::fs::File::create(&log).unwrap();
    // Far too little memory to compile anything: the error must come from
    // the compiler process the server started with the flag's limit.
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_wasmetheus"))
        .arg("serve")
        .arg("--plugins.dir")
        .arg(plugins.path())
        .arg("--storage.tsdb.path")
        .arg(data.path().join("tsdb"))
        .args(["--web.listen-address", "127.0.0.1:0"])
        .args(["--plugins.compile-memory-limit", "1MiB"])
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .unwrap();
    let wanted = "compile memory limit of 1MiB";
    let started = Instant::now();
    let mut text = String::new();
    while started.elapsed() < Duration::from_secs(60) {
        text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains(wanted) || server.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let exited = server.try_wait().unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(exited, None, "the server stopped: {text}");
    assert!(text.contains(wanted), "{text}");
    assert!(text.contains("--plugins.compile-memory-limit"), "{text}");
}
