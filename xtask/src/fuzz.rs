//! `cargo xtask fuzz [TARGET] [--time S]`: builds the targets of
//! `tests/fuzz` as libFuzzer binaries on the stable toolchain (LLVM's
//! sanitizer-coverage passes and `--cfg fuzzing`, no sanitizer, no
//! cargo-fuzz) into `target/fuzz`, gathers seed corpora (the crate's
//! committed seeds and the conformance corpora under
//! `$WASMETHEUS_CONFORMANCE`, default `../shared/conformance`, read in
//! place and never copied into the repository), and runs each target for a
//! bounded time. libFuzzer runs each target in a process of its own: a
//! panic, abort, stack overflow, timeout or memory blow-up ends that
//! process with the input saved under `target/fuzz/artifacts/<target>/`,
//! and the command fails naming it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{Result, cargo, describe, root, status};

/// Every target of `tests/fuzz` and the largest input each is given.
const TARGETS: &[(&str, usize)] = &[
    ("promql", 4096),
    ("text", 65536),
    ("openmetrics", 65536),
    ("wal", 65536),
    ("part", 65536),
    ("sealed", 4096),
    ("relabel", 65536),
];

/// The coverage instrumentation libFuzzer needs, as cargo-fuzz passes it,
/// without a sanitizer (those need a nightly toolchain).
const RUSTFLAGS: &[&str] = &[
    "-Cpasses=sancov-module",
    "-Cllvm-args=-sanitizer-coverage-level=4",
    "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
    "-Cllvm-args=-sanitizer-coverage-pc-table",
    "-Cllvm-args=-sanitizer-coverage-trace-compares",
    "--cfg",
    "fuzzing",
    "-Cdebug-assertions",
    "-Coverflow-checks",
];

const FUZZ_USAGE: &str = "usage: cargo xtask fuzz [TARGET] [--time SECONDS]
targets: promql text openmetrics wal part sealed relabel (all when none is named);
SECONDS per target, 60 by default";

/// `cargo xtask fuzz …`.
pub fn fuzz(args: &[String]) -> Result {
    let mut target = None;
    let mut seconds = 60;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--time" => {
                seconds = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("--time takes a number of seconds\n{FUZZ_USAGE}"))?;
            }
            "-h" | "--help" => {
                eprintln!("{FUZZ_USAGE}");
                return Ok(());
            }
            name if target.is_none() && !name.starts_with('-') => target = Some(name.to_owned()),
            other => return Err(format!("unexpected argument {other:?}\n{FUZZ_USAGE}")),
        }
    }
    run(target.as_deref(), seconds)
}

/// Builds the targets and runs `only` (or all) for `seconds` each; fails
/// naming every input that crashed a target.
pub fn run(only: Option<&str>, seconds: u64) -> Result {
    let targets: Vec<(&str, usize)> = match only {
        None => TARGETS.to_vec(),
        Some(name) => vec![
            *TARGETS
                .iter()
                .find(|(t, _)| *t == name)
                .ok_or_else(|| format!("no fuzz target {name:?}\n{FUZZ_USAGE}"))?,
        ],
    };
    let triple = host_triple()?;
    let fuzz_dir = root().join("target/fuzz");
    let mut build = cargo();
    build.args([
        "build",
        "--release",
        "--package",
        "wasmetheus-fuzz",
        "--features",
        "wasmetheus-fuzz/libfuzzer",
        "--target",
        &triple,
        "--target-dir",
    ]);
    build.arg(&fuzz_dir);
    for (name, _) in &targets {
        build.args(["--bin", name]);
    }
    // With an explicit --target these flags reach only the target's code,
    // not build scripts or proc macros.
    build.env("RUSTFLAGS", RUSTFLAGS.join(" "));
    build.env_remove("CARGO_ENCODED_RUSTFLAGS");
    build.env("CARGO_PROFILE_RELEASE_DEBUG", "line-tables-only");
    status(build)?;

    let mut crashes = Vec::new();
    for (name, max_len) in targets {
        let binary = fuzz_dir.join(&triple).join("release").join(name);
        let corpus = fuzz_dir.join("corpus").join(name);
        let artifacts = fuzz_dir.join("artifacts").join(name);
        let seeds = gather_seeds(name, &fuzz_dir.join("seeds").join(name))?;
        for dir in [&corpus, &artifacts] {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        eprintln!("fuzz {name}: {seeds} seed inputs, {seconds} s");
        let mut cmd = Command::new(&binary);
        cmd.current_dir(root());
        cmd.arg(format!("-max_total_time={seconds}"))
            .arg(format!("-max_len={max_len}"))
            .arg("-timeout=20")
            .arg("-rss_limit_mb=3072")
            .arg("-print_final_stats=1")
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .arg(&corpus)
            .arg(fuzz_dir.join("seeds").join(name))
            .arg(root().join("tests/fuzz/seeds").join(name));
        match supervise(name, cmd)? {
            None => {}
            Some(saved) => crashes.push((name, saved)),
        }
    }
    if crashes.is_empty() {
        return Ok(());
    }
    let mut message = String::from("fuzzing found crashes:");
    for (name, saved) in crashes {
        message.push_str(&format!(
            "\n  {name}: input saved at {saved}\n    replay: cargo run -p wasmetheus-fuzz --bin {name} -- {saved}"
        ));
    }
    Err(message)
}

/// Runs one libFuzzer process, showing its progress (executions, rate,
/// coverage, corpus size); the saved input's path if it crashed.
fn supervise(name: &str, mut cmd: Command) -> Result<Option<String>> {
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", describe(&cmd)))?;
    let stderr = child.stderr.take().expect("piped stderr");
    let mut saved = None;
    let mut failure = Vec::new();
    let mut last_status = String::new();
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        if let Some(rest) = line.split("Test unit written to ").nth(1) {
            saved = Some(rest.trim().to_owned());
        }
        // libFuzzer's status lines: `#<execs> <event> cov: … ft: … corp:
        // <inputs>/<bytes> … exec/s: <rate> rss: …`.
        let status_line = line.starts_with('#') && line.contains(" cov: ");
        if status_line {
            last_status = line.clone();
        }
        let progress = ["INITED", "pulse", "DONE"].iter().any(|w| line.contains(w));
        let trouble =
            line.starts_with("==") || line.contains("panicked") || line.starts_with("SUMMARY");
        if status_line && progress {
            eprintln!("  {name}: {line}");
        } else if trouble || (!status_line && !failure.is_empty() && failure.len() < 60) {
            failure.push(line.clone());
        }
    }
    let exit = child
        .wait()
        .map_err(|e| format!("waiting for {}: {e}", describe(&cmd)))?;
    if exit.success() {
        eprintln!("  {name}: ok ({last_status})");
        return Ok(None);
    }
    for line in &failure {
        eprintln!("  {name}: {line}");
    }
    Ok(Some(saved.unwrap_or_else(|| {
        format!("(no input saved; libFuzzer exited with {exit})")
    })))
}

/// The host's target triple, from `rustc -vV`.
fn host_triple() -> Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(&rustc)
        .arg("-vV")
        .output()
        .map_err(|e| format!("cannot run {rustc} -vV: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .ok_or_else(|| format!("{rustc} -vV names no host triple"))
}

fn conformance() -> PathBuf {
    std::env::var_os("WASMETHEUS_CONFORMANCE")
        .map_or_else(|| root().join("../shared/conformance"), PathBuf::from)
}

/// Writes the seeds of `target` taken from the conformance corpora into
/// `dir` (rebuilt each run); how many there are. A missing corpus is
/// skipped with a note: the committed seeds still run.
fn gather_seeds(target: &str, dir: &Path) -> Result<usize> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let corpus = conformance();
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    let mut read = |path: &Path| {
        if let Ok(bytes) = std::fs::read(path) {
            inputs.push(bytes);
        }
    };
    match target {
        "promql" => {
            let mut files = files_in(&corpus.join("promql"), "test");
            files.extend(files_in(&root().join("host/promql/tests/cases"), "test"));
            for file in files {
                let text = std::fs::read_to_string(&file).unwrap_or_default();
                for expr in text.lines().filter_map(eval_expression) {
                    inputs.push(expr.as_bytes().to_vec());
                }
            }
        }
        "text" | "openmetrics" => {
            for file in files_in(&corpus.join("exposition"), "txt") {
                read(&file);
            }
            for case in subdirs(&corpus.join("openmetrics/parsers")) {
                read(&case.join("metrics"));
            }
        }
        "relabel" => {
            for sub in ["config/testdata", "config/examples"] {
                for file in files_in(&corpus.join(sub), "yml") {
                    read(&file);
                }
            }
        }
        _ => {}
    }
    if inputs.is_empty() && matches!(target, "promql" | "text" | "openmetrics" | "relabel") {
        eprintln!(
            "fuzz {target}: no conformance seeds under {} (set WASMETHEUS_CONFORMANCE); \
             using the committed seeds only",
            corpus.display()
        );
    }
    inputs.sort();
    inputs.dedup();
    for (i, input) in inputs.iter().enumerate() {
        let path = dir.join(format!("conformance-{i:05}"));
        std::fs::write(&path, input).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let committed = std::fs::read_dir(root().join("tests/fuzz/seeds").join(target))
        .map(|d| d.count())
        .unwrap_or(0);
    Ok(inputs.len() + committed)
}

/// The expression of a promqltest `eval` line:
/// `eval[_fail|_warn|…] instant at <time> <expr>` or
/// `eval[…] range from <t> to <t> step <d> <expr>`.
fn eval_expression(line: &str) -> Option<String> {
    let line = line.trim();
    if !line.starts_with("eval") {
        return None;
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    let skip = match *words.get(1)? {
        "instant" => 4,
        "range" => 8,
        _ => return None,
    };
    let expr = words.get(skip..)?.join(" ");
    (!expr.is_empty()).then_some(expr)
}

fn files_in(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == extension))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}
