//! `cargo xtask`: project automation — run, test, build-plugins,
//! test-plugins, build-examples, new-plugin, toolchains, fuzz, bench. Plain std and one small dependency, jiff (the
//! workspace's date library), for the calendar dates of the benchmarks'
//! data set, so it still builds in seconds.

mod bench;
mod examples;
mod fuzz;
mod lang;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

type Result<T = ()> = std::result::Result<T, String>;

const USAGE: &str = "\
usage: cargo xtask <command>

  run [ARGS…]        build the plugins and the server (release), then run
                     `wasmetheus serve` on 127.0.0.1:9090 with the built-in
                     default config (extra ARGS are passed to `serve`)
  test               fmt check, clippy -D warnings (host and wasm), all
                     tests, test-plugins, test-promql, then every fuzz
                     target for 20 s
  test-promql        `wasmetheus test promql` on the whole conformance
                     corpus ($WASMETHEUS_CONFORMANCE, default
                     ../shared/conformance) and our own cases
  build-plugins      build every plugin under plugins/ for wasm32-wasip2
                     and copy it to plugins/<name>.wasm
  test-plugins       build every plugin, example and a scaffold per
                     language, run each through `wasmetheus check plugins`
                     (metadata, capabilities, 10,000 collects within
                     limits with valid output and no leak), then every
                     plugin's, example's and SDK's own tests
  build-examples [DIR…]  build every examples/<dir> (or the given plugin
                     projects, any language) into target/examples/<dir>.wasm,
                     installing the toolchains it needs
  new-plugin --lang rust|python|js|c|go NAME [--dir DIR]
                     scaffold a plugin with a test (default dir:
                     examples/NAME; DIR's last component must be NAME);
                     see sdk/README.md
  test-plugin DIR    one plugin project, any language: its own tests, its
                     build into target/examples/<NAME>.wasm, and
                     `check plugins --collects 10000` on it
  toolchains [LANG…]  install the SDK toolchains (default: all) under
                     $WASMETHEUS_TOOLS (default ~/.cache/wasmetheus/tools)
  fuzz [TARGET] [--time S]  build the fuzz targets of tests/fuzz (libFuzzer
                     on stable) and run TARGET (default: all) for S
                     seconds each (default 60); fails naming a crashing
                     input saved under target/fuzz/artifacts
  bench [plugins|tsdb|promql]  run the criterion benchmarks (promql [ARGS…]:
                     criterion's ARGS; a summary in target/bench-promql/)
  bench storage [-h]    bytes on disk per sample against Prometheus and
                     VictoriaMetrics, and the head's RSS per series
  bench ingest [-h]     scraping synthetic targets: CPU per sample, RSS per
                     series, disk growth against Prometheus and VictoriaMetrics
  bench query [-h]      median PromQL latency of ~20 queries over the same
                     backfilled data against Prometheus and VictoriaMetrics
  bench sdk          the same plugin in every language, and every example:
                     size, cold and warm load, collect time, memory
  bench rules [-h]      a few hundred recording and alerting rules on the same
                     scraped data: evaluations/s, CPU per evaluation and per
                     sample net of scraping, against Prometheus
  bench remote-write [-h]  the same scrape load remote-written into
                     VictoriaMetrics by wasmetheus and Prometheus: samples
                     sent/s, CPU per million samples, bytes per sample,
                     pending at the end
  bench replay [-h]     the same remote-written history (1M series × 1 h)
                     stopped and restarted: time to ready and to every
                     series, RSS after replay, WAL size, against Prometheus";

fn main() -> ExitCode {
    // `cargo xtask run -- --flag` is how many users pass flags through
    // cargo: the separator is dropped, not handed on.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .enumerate()
        .filter(|(i, a)| !(*i == 1 && a == "--"))
        .map(|(_, a)| a)
        .collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("test") => test(),
        Some("build-plugins") => build_plugins().map(drop),
        Some("test-plugins") => test_plugins(),
        Some("build-examples") => examples::build_examples(&args[1..]).map(drop),
        Some("new-plugin") => examples::new_plugin(&args[1..]),
        Some("test-plugin") => examples::test_plugin(&args[1..]),
        Some("toolchains") => examples::toolchains(&args[1..]),
        Some("test-promql") => test_promql(),
        Some("fuzz") => fuzz::fuzz(&args[1..]),
        Some("bench") => bench::bench(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

pub(crate) fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

pub(crate) fn status(mut cmd: Command) -> Result {
    eprintln!("$ {}", describe(&cmd));
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {}: {e}", describe(&cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", describe(&cmd)))
    }
}

fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program().to_string_lossy().into_owned())
        .chain(cmd.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Installs the wasm32-wasip2 target when rustup manages the toolchain and
/// it is missing.
pub(crate) fn ensure_wasm_target() -> Result {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match installed {
        Ok(out) if String::from_utf8_lossy(&out.stdout).contains("wasm32-wasip2") => Ok(()),
        Ok(_) => {
            let mut cmd = Command::new("rustup");
            cmd.args(["target", "add", "wasm32-wasip2"]);
            status(cmd)
        }
        Err(e) => Err(format!(
            "rustup not found ({e}); install the wasm32-wasip2 target for your Rust toolchain"
        )),
    }
}

/// Plugin crates: every `plugins/<dir>/Cargo.toml`, as (dir, package name).
fn plugin_crates() -> Result<Vec<(PathBuf, String)>> {
    let mut crates = Vec::new();
    let dir = root().join("plugins");
    for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let manifest = path.join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&manifest).map_err(|e| e.to_string())?;
        let name = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("name = "))
            .map(|n| n.trim_matches('"').to_owned())
            .ok_or_else(|| format!("{}: no package name", manifest.display()))?;
        crates.push((path, name));
    }
    crates.sort();
    Ok(crates)
}

/// Builds every plugin and returns the paths of the copied `.wasm` files.
fn build_plugins() -> Result<Vec<PathBuf>> {
    ensure_wasm_target()?;
    let crates = plugin_crates()?;
    let mut cmd = cargo();
    cmd.args(["build", "--profile", "plugin", "--target", "wasm32-wasip2"]);
    for (_, name) in &crates {
        cmd.args(["-p", name]);
    }
    status(cmd)?;
    let out_dir = root().join("target/wasm32-wasip2/plugin");
    let mut built = Vec::new();
    for (_, name) in &crates {
        let artifact = out_dir.join(format!("{}.wasm", name.replace('-', "_")));
        let dest = root().join("plugins").join(format!("{name}.wasm"));
        // Copy to a temporary name and rename, so a running server's
        // watcher never sees a half-written plugin.
        let tmp = dest.with_extension("wasm.tmp");
        std::fs::copy(&artifact, &tmp)
            .map_err(|e| format!("copying {}: {e}", artifact.display()))?;
        std::fs::rename(&tmp, &dest).map_err(|e| e.to_string())?;
        eprintln!("built {}", dest.display());
        built.push(dest);
    }
    Ok(built)
}

fn run(extra: &[String]) -> Result {
    build_plugins()?;
    // Release: in a debug build the PromQL engine and the TSDB are many
    // times slower. Cargo's own progress lines show while it builds.
    eprintln!(
        "xtask: building the server in release mode (about 12 minutes from cold on 2 cores; \
         later runs take seconds) …"
    );
    let mut cmd = cargo();
    cmd.args(["run", "--release", "--package", "wasmetheus", "--", "serve"]);
    cmd.args([
        "--web.listen-address",
        "127.0.0.1:9090",
        "--plugins.dir",
        "plugins",
    ]);
    cmd.args(extra);
    status(cmd)
}

fn test() -> Result {
    ensure_wasm_target()?;
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    status(fmt)?;
    // Test guests are wasm-only programs: linted for wasm, not natively.
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--exclude",
        "guest-*",
        "--all-targets",
    ]);
    clippy.args(["--", "-D", "warnings"]);
    status(clippy)?;
    let mut clippy_wasm = cargo();
    clippy_wasm.args(["clippy", "--target", "wasm32-wasip2", "-p", "guest-*"]);
    for (_, name) in plugin_crates()? {
        clippy_wasm.args(["-p", &name]);
    }
    clippy_wasm.args(["--", "-D", "warnings"]);
    status(clippy_wasm)?;
    // The end-to-end tests load the built plugins and examples.
    let mut built = build_plugins()?;
    built.extend(examples::build_examples(&[])?);
    let mut tests = cargo();
    tests.args(["test", "--workspace", "--exclude", "guest-*"]);
    // Plugins' own tests run in test-plugins.
    for (_, name) in plugin_crates()? {
        tests.args(["--exclude", &name]);
    }
    status(tests)?;
    check_plugins(built)?;
    test_promql()?;
    // Every parser and on-disk reader fuzzed briefly: a smoke test that
    // the targets build and that nothing shallow crashes them.
    fuzz::run(None, 20)
}

/// The scripted PromQL tests through the command users run: the whole
/// conformance corpus (native-histogram cases count when they pass, and
/// are reported as skipped while the engine refuses what they need)
/// and the cases in `host/promql/tests/cases`. Fails on any failure.
fn test_promql() -> Result {
    let corpus = std::env::var_os("WASMETHEUS_CONFORMANCE")
        .map_or_else(|| root().join("../shared/conformance"), PathBuf::from)
        .join("promql");
    let mut files = test_files(&corpus).map_err(|e| {
        format!(
            "the PromQL conformance corpus is missing at {} ({e}); \
             check out `shared` beside the workspace or set WASMETHEUS_CONFORMANCE",
            corpus.display()
        )
    })?;
    files.extend(test_files(&root().join("host/promql/tests/cases"))?);
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--quiet",
        "--package",
        "wasmetheus",
        "--",
        "test",
        "promql",
    ]);
    cmd.args(&files);
    status(cmd)
}

/// The `*.test` files of a directory, sorted; an error if there are none.
fn test_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no *.test files in {}", dir.display()));
    }
    Ok(files)
}

fn test_plugins() -> Result {
    let mut built = build_plugins()?;
    built.extend(examples::build_examples(&[])?);
    check_plugins(built)
}

/// `wasmetheus check plugins --collects 10000` on `files`: one instance of
/// each, collected 10,000 times, so a plugin that keeps memory or a
/// resource per collect fails. The compile cache makes the big (Python,
/// Go, JavaScript) components load fast from the second run on.
fn check_in_runtime(files: &[PathBuf]) -> Result {
    let mut check = cargo();
    check.args([
        "run",
        "--quiet",
        "--package",
        "wasmetheus",
        "--",
        "check",
        "plugins",
        "--collects",
        "10000",
        "--cache-dir",
    ]);
    check.arg(root().join("target/plugin-cache"));
    check.args(files);
    status(check)
}

/// Everything of `test-plugins` but building the plugins and examples
/// (`built`).
fn check_plugins(mut built: Vec<PathBuf>) -> Result {
    built.extend(examples::test(&root().join("target/scaffold"))?);
    check_in_runtime(&built)?;
    for (_, name) in plugin_crates()? {
        let mut cmd = cargo();
        cmd.args(["test", "-p", &name]);
        status(cmd)?;
    }
    Ok(())
}
