//! Measures the head's memory per series: appends N series with 8
//! realistic labels, K samples each, to an in-memory head and prints the
//! process RSS before and after. Usage: `tsdb-head-rss [N] [K]`; run by
//! `cargo xtask bench storage`.

use std::time::Instant;
use wasmetheus_model::Label;
use wasmetheus_model::storage::Appender;
use wasmetheus_tsdb::{Head, HeadLimits};

/// Series per commit, so a batch's pending samples stay small next to the
/// head and do not inflate the figure.
const BATCH: usize = 10_000;
/// Distinct metric names, as on a typical Kubernetes node.
const NAMES: usize = 200;
const INTERVAL_MS: i64 = 15_000;

/// VmRSS of this process in bytes, from /proc/self/status.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kib * 1024
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The labels of series `i`, sorted by name. Each pod exposes every metric
/// name once, so (name, pod) is unique; the other labels follow the pod,
/// as target labels do, which gives them moderate cardinality.
fn labels(names: &[String], i: usize) -> Vec<Label> {
    let pod = i / NAMES;
    // Scatter pods over the other labels so their values are not runs.
    let h = (pod as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    vec![
        Label::new("__name__", names[i % NAMES].as_str()),
        Label::new("container", format!("container-{}", h % 40)),
        Label::new(
            "instance",
            format!("10.0.{}.{}:9100", pod % 1000 / 250, pod % 250),
        ),
        Label::new("job", format!("job-{}", h % 20)),
        Label::new("namespace", format!("namespace-{}", h % 25)),
        Label::new("node", format!("node-{}", pod % 300)),
        Label::new("pod", format!("pod-{}", 10_000 + pod)),
        Label::new("region", format!("region-{}", h % 4)),
    ]
}

fn arg(n: usize, default: usize) -> usize {
    std::env::args().nth(n).map_or(default, |a| {
        a.replace('_', "").parse().unwrap_or_else(|_| {
            panic!("usage: tsdb-head-rss [SERIES] [SAMPLES_PER_SERIES]; got {a:?}")
        })
    })
}

fn main() {
    let n = arg(1, 1_000_000);
    let k = arg(2, 2);
    let names: Vec<String> = (0..NAMES)
        .map(|i| format!("metric_family_{i}_total"))
        .collect();
    let head = Head::new(HeadLimits::default());
    let before = rss();
    let started = Instant::now();
    let t0 = 1_700_000_000_000i64;
    let mut done = 0;
    while done < n {
        let end = (done + BATCH).min(n);
        let mut app = head.appender();
        for i in done..end {
            let labels = labels(&names, i);
            for j in 0..k {
                app.append(&labels, t0 + j as i64 * INTERVAL_MS, (i + j) as f64)
                    .expect("append");
            }
        }
        app.commit().expect("commit");
        done = end;
    }
    let elapsed = started.elapsed();
    let after = rss();
    assert_eq!(head.num_series(), n, "every series was created");
    let samples = (n * k) as f64;
    println!(
        "series {n}, rss before {:.1} MiB, after {:.1} MiB, bytes per series {:.0}",
        mib(before),
        mib(after),
        after.saturating_sub(before) as f64 / n.max(1) as f64,
    );
    println!(
        "samples {}, appended in {:.2} s: {:.0} samples/s, {:.0} series/s",
        n * k,
        elapsed.as_secs_f64(),
        samples / elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
    );
    // Keep the head alive until after the measurement.
    drop(head);
}
