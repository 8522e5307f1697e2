//! `cargo xtask bench …`: the criterion benchmarks (`plugins`, `tsdb`,
//! `promql`, the last summarised in a report) run through cargo, and the
//! live comparisons against Prometheus and VictoriaMetrics (`storage`,
//! `ingest`, `query`, `rules`, `remote-write`, `replay`) and against
//! Debian's Alertmanager (`alertmanager`), each in its own module over
//! shared support; `report.rs` writes their `report.json`.

mod alertmanager;
mod criterion;
mod dataset;
mod ingest;
mod peers;
mod query;
mod remote_write;
mod replay;
mod report;
mod rules;
mod rules_data;
mod sdk;
mod storage;
mod support;

use crate::{Result, build_plugins, cargo, root, status};

/// `cargo xtask bench [GROUP] [ARGS…]`.
pub fn bench(args: &[String]) -> Result {
    match args.first().map(String::as_str) {
        None | Some("plugins") => bench_plugins(),
        Some("tsdb") => {
            let mut cmd = cargo();
            // Every tsdb bench: chunk (head codec), sealed (store codec), head.
            cmd.args(["bench", "-p", "wasmetheus-tsdb"]);
            status(cmd)
        }
        Some("promql") => criterion::promql(&args[1..]),
        Some("storage") => storage::run(&args[1..]),
        Some("ingest") => ingest::run(&args[1..]),
        Some("query") => query::run(&args[1..]),
        Some("rules") => rules::run(&args[1..]),
        Some("alertmanager") => alertmanager::run(&args[1..]),
        Some("sdk") => sdk::run(&args[1..]),
        Some("remote-write") => remote_write::run(&args[1..]),
        Some("replay") => replay::run(&args[1..]),
        Some(other) => Err(format!(
            "unknown benchmark group {other:?}; try `plugins`, `tsdb`, `promql`, `storage`, `ingest`, `query`, `rules`, `alertmanager`, `sdk`, `remote-write` or `replay`"
        )),
    }
}

fn bench_plugins() -> Result {
    let built = build_plugins()?;
    let mut guest = cargo();
    guest.args([
        "build",
        "--profile",
        "plugin",
        "--target",
        "wasm32-wasip2",
        "-p",
        "guest-trivial",
    ]);
    status(guest)?;
    let trivial = root().join("target/wasm32-wasip2/plugin/guest_trivial.wasm");
    let plugin = |name: &str| {
        built
            .iter()
            .find(|p| p.ends_with(format!("{name}.wasm")))
            .ok_or(format!("the {name} plugin was not built"))
    };
    let node = plugin("node-exporter")?;
    let mysqld = plugin("mysqld-exporter")?;
    let haproxy = plugin("haproxy-exporter")?;
    let mut cmd = cargo();
    cmd.env("WASMETHEUS_BENCH_TRIVIAL", trivial)
        .env("WASMETHEUS_BENCH_NODE_EXPORTER", node)
        .env("WASMETHEUS_BENCH_MYSQLD_EXPORTER", mysqld)
        .env("WASMETHEUS_BENCH_HAPROXY_EXPORTER", haproxy);
    // `plugins`: the runtime and the node exporter; `exporters`: the
    // mysqld and haproxy exporters against real servers and Debian's
    // exporters (skipped when those are not installed).
    cmd.args([
        "bench",
        "-p",
        "wasmetheus-plugin-runtime",
        "--bench",
        "plugins",
        "--bench",
        "exporters",
    ]);
    status(cmd)
}
