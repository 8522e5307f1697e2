//! `cargo xtask bench sdk`: what a plugin costs in each language. The same
//! program (each language's `new-plugin` scaffold: one counter) and every
//! example, run by the release server's `check plugins`: component size,
//! load with an empty compile cache (compiling) and with a warm one,
//! median and p99 collect time and the instance's memory over a steady run.
//! Prints a table and writes `target/bench/sdk/results.json`.

use crate::lang::Lang;
use crate::{Result, cargo, examples, root};
use std::path::{Path, PathBuf};
use std::process::Command;

const COLLECTS: &str = "2000";

/// One plugin's figures, read from `check plugins`' report.
#[derive(Debug, Default)]
struct Row {
    name: String,
    lang: &'static str,
    size: String,
    cold_load: String,
    warm_load: String,
    median: String,
    p99: String,
    memory: String,
}

pub fn run(_args: &[String]) -> Result {
    let scratch = root().join("target/bench/sdk");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let mut projects: Vec<(PathBuf, Lang)> = Vec::new();
    for lang in Lang::ALL {
        let dir = scratch.join(format!("hello-{}", lang.name()));
        lang.scaffold(&format!("hello-{}", lang.name()), &dir)?;
        projects.push((dir, lang));
    }
    projects.extend(examples::examples()?);
    let built = examples::build(&projects)?;
    eprintln!("xtask: building the server (release) …");
    let mut build = cargo();
    build.args(["build", "--release", "--package", "wasmetheus"]);
    crate::status(build)?;
    let server = root().join("target/release/wasmetheus");
    let cache = scratch.join("cache");
    let mut rows = Vec::new();
    for ((dir, lang), wasm) in projects.iter().zip(&built) {
        let cold = check(&server, &cache, wasm)?;
        let warm = check(&server, &cache, wasm)?;
        let field = |report: &str, prefix: &str| -> String {
            report
                .lines()
                .find_map(|l| l.trim().strip_prefix(prefix).map(str::to_owned))
                .unwrap_or_default()
        };
        let steady = field(&warm, &format!("{COLLECTS} collects in "));
        let mut row = Row {
            name: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            lang: lang.name(),
            size: field(&warm, "size: "),
            cold_load: field(&cold, "load: "),
            warm_load: field(&warm, "load: "),
            memory: field(&warm, "memory: instance "),
            ..Row::default()
        };
        // "12.3 s: median 1.23 ms, p99 4.56 ms"
        if let Some((median, p99)) = steady
            .split_once("median ")
            .and_then(|(_, rest)| rest.split_once(", p99 "))
        {
            row.median = median.to_owned();
            row.p99 = p99.to_owned();
        }
        // "1.1 MiB after collect 200, 1.1 MiB after collect 2000; host …"
        row.memory = row
            .memory
            .split(';')
            .next()
            .and_then(|m| m.rsplit_once(", "))
            .map(|(_, end)| end.split(" after").next().unwrap_or("").to_owned())
            .unwrap_or_default();
        row.cold_load = row.cold_load.replace("compiled in ", "");
        row.warm_load = row.warm_load.replace("from the compile cache in ", "");
        rows.push(row);
    }
    println!(
        "\n{:<28} {:<7} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "plugin", "lang", "size", "cold load", "warm load", "collect", "p99", "memory"
    );
    for r in &rows {
        println!(
            "{:<28} {:<7} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
            r.name, r.lang, r.size, r.cold_load, r.warm_load, r.median, r.p99, r.memory
        );
    }
    let json: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"plugin\":{:?},\"lang\":{:?},\"size\":{:?},\"cold_load\":{:?},\
                 \"warm_load\":{:?},\"collect_median\":{:?},\"collect_p99\":{:?},\"memory\":{:?}}}",
                r.name, r.lang, r.size, r.cold_load, r.warm_load, r.median, r.p99, r.memory
            )
        })
        .collect();
    let path = scratch.join("results.json");
    std::fs::write(&path, format!("[\n{}\n]\n", json.join(",\n")))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// `check plugins --collects COLLECTS --cache-dir cache wasm`'s report.
fn check(server: &Path, cache: &Path, wasm: &Path) -> Result<String> {
    let mut cmd = Command::new(server);
    cmd.args(["check", "plugins", "--collects", COLLECTS, "--cache-dir"])
        .arg(cache)
        .arg(wasm);
    let out = cmd
        .output()
        .map_err(|e| format!("running {}: {e}", server.display()))?;
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "check plugins {} failed:\n{report}",
            wasm.display()
        ));
    }
    Ok(report)
}
