//! `cargo xtask bench promql`: the engine's criterion benchmark, then a
//! summary of what the run measured, collected from criterion's files
//! (`target/criterion/<id>/new/{benchmark,estimates}.json`): the median
//! with its 95 % interval, the throughput it implies and the change since
//! the previous run, printed as a table and written to
//! `target/bench-promql/report.{txt,json}`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::report::{Json, Report, ServerReport};
use super::support::walk;
use crate::{Result, cargo, root, status};

/// `cargo bench -p wasmetheus-promql --bench engine [-- ARGS…]` (ARGS:
/// criterion's, e.g. a filter), then the summary.
pub fn promql(args: &[String]) -> Result {
    let started = SystemTime::now();
    let mut cmd = cargo();
    // Range-query throughput of the engine (points/s/core).
    cmd.args(["bench", "-p", "wasmetheus-promql", "--bench", "engine"]);
    if !args.is_empty() {
        cmd.arg("--").args(args);
    }
    status(cmd)?;
    let dir = criterion_dir();
    let results = collect(&dir, started)?;
    if results.is_empty() {
        return Err(format!(
            "criterion wrote no estimates under {} during this run",
            dir.display()
        ));
    }
    let out = root().join("target/bench-promql");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let text = render(&results);
    println!("{text}");
    let mut report = Report::new("promql");
    report.parameter("criterion_dir", dir.display().to_string());
    report.parameter("criterion_args", args.to_vec());
    report.servers.push(server_report(&results));
    report.write(&out, &text)
}

/// `$CARGO_TARGET_DIR/criterion`, by default `target/criterion`.
fn criterion_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root().join("target"), PathBuf::from)
        .join("criterion")
}

/// One benchmark's estimates, times in nanoseconds.
#[derive(Debug, PartialEq)]
struct Estimate {
    id: String,
    median_ns: f64,
    low_ns: f64,
    high_ns: f64,
    /// Elements (or bytes) an iteration handles, and which.
    throughput: Option<(f64, &'static str)>,
    /// The median's relative change since the previous run (0.05: 5 %
    /// slower), when criterion had one to compare with.
    change: Option<f64>,
}

impl Estimate {
    /// Elements (or bytes) per second at the median.
    fn per_second(&self) -> Option<(f64, &'static str)> {
        self.throughput
            .filter(|_| self.median_ns > 0.0)
            .map(|(n, unit)| (n / (self.median_ns / 1e9), unit))
    }
}

/// Every benchmark whose `new/benchmark.json` was written since `since`,
/// sorted by id.
fn collect(dir: &Path, since: SystemTime) -> Result<Vec<Estimate>> {
    let mut found = Vec::new();
    walk(dir, &mut |rel, meta| {
        let fresh = meta.modified().is_ok_and(|m| m >= since);
        let is_new = rel.parent().and_then(Path::file_name) == Some("new".as_ref());
        if fresh && is_new && rel.file_name() == Some("benchmark.json".as_ref()) {
            found.push(dir.join(rel));
        }
    })?;
    let mut estimates = Vec::new();
    for path in found {
        let new = path.parent().unwrap_or(dir);
        let read = |p: &Path| {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            Json::parse(&text).ok_or_else(|| format!("{}: not JSON", p.display()))
        };
        let benchmark = read(&path)?;
        let est = read(&new.join("estimates.json"))?;
        // The change directory sits beside new/ and is rewritten by the
        // same run; an older one compares an older pair of runs.
        let change_path = new.with_file_name("change").join("estimates.json");
        let change = std::fs::metadata(&change_path)
            .and_then(|m| m.modified())
            .is_ok_and(|m| m >= since)
            .then(|| read(&change_path).ok())
            .flatten();
        estimates.push(
            estimate(&benchmark, &est, change.as_ref()).ok_or_else(|| {
                format!("{}: unexpected layout of criterion's files", new.display())
            })?,
        );
    }
    estimates.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(estimates)
}

/// Reads criterion's `benchmark.json`, `estimates.json` and the change
/// `estimates.json`.
fn estimate(benchmark: &Json, est: &Json, change: Option<&Json>) -> Option<Estimate> {
    let median = est.get("median")?;
    let ci = median.get("confidence_interval")?;
    let throughput = match benchmark.get("throughput") {
        Some(Json::Obj(members)) => members.first().and_then(|(kind, n)| {
            let unit = match kind.as_str() {
                "Elements" => "elements/s",
                "Bytes" | "BytesDecimal" => "bytes/s",
                _ => return None,
            };
            Some((n.as_f64()?, unit))
        }),
        _ => None,
    };
    Some(Estimate {
        id: benchmark.get("full_id")?.as_str()?.to_owned(),
        median_ns: median.get("point_estimate")?.as_f64()?,
        low_ns: ci.get("lower_bound")?.as_f64()?,
        high_ns: ci.get("upper_bound")?.as_f64()?,
        throughput,
        change: change.and_then(|c| c.get("median")?.get("point_estimate")?.as_f64()),
    })
}

/// `12.3 ms`-style durations from nanoseconds.
fn duration(ns: f64) -> String {
    match ns {
        ns if ns >= 1e9 => format!("{:.3} s", ns / 1e9),
        ns if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        ns if ns >= 1e3 => format!("{:.2} µs", ns / 1e3),
        ns => format!("{ns:.0} ns"),
    }
}

fn render(results: &[Estimate]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n== bench promql: criterion medians, 95 % interval, throughput at the median, change of the median since the previous run =="
    );
    let width = results.iter().map(|e| e.id.len()).max().unwrap_or(0).max(9);
    let _ = writeln!(
        s,
        "{:<width$} {:>11} {:>23} {:>20} {:>8}",
        "benchmark", "median", "95 % interval", "throughput", "change"
    );
    for e in results {
        let thrpt = e
            .per_second()
            .map_or("-".into(), |(n, unit)| format!("{:.2}M {unit}", n / 1e6));
        let _ = writeln!(
            s,
            "{:<width$} {:>11} {:>23} {:>20} {:>8}",
            e.id,
            duration(e.median_ns),
            format!("{} – {}", duration(e.low_ns), duration(e.high_ns)),
            thrpt,
            e.change
                .map_or("-".into(), |c| format!("{:+.1}%", c * 100.0)),
        );
    }
    s
}

fn server_report(results: &[Estimate]) -> ServerReport {
    let mut s = ServerReport::new(super::report::OURS, "criterion, this checkout");
    for e in results {
        s.measure(&e.id, "ns", e.median_ns);
        if let Some((n, unit)) = e.per_second() {
            s.measure(&format!("{} throughput", e.id), unit, n);
        }
        s.detail(
            &e.id,
            Json::obj([
                ("median_ns", e.median_ns.into()),
                ("ci95_low_ns", e.low_ns.into()),
                ("ci95_high_ns", e.high_ns.into()),
                ("change_since_previous_run", e.change.into()),
            ]),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const BENCHMARK: &str = r#"{"group_id":"engine","function_id":"rate_1m","value_str":null,"throughput":{"Elements":723000},"full_id":"engine/rate_1m","directory_name":"engine/rate_1m","title":"engine/rate_1m"}"#;
    const ESTIMATES: &str = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0},"point_estimate":1.5,"standard_error":0.1},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":28000000.0,"upper_bound":30000000.5},"point_estimate":2.892e7,"standard_error":22348.15},"slope":null}"#;
    const CHANGE: &str = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":-0.1,"upper_bound":0.1},"point_estimate":0.01,"standard_error":0.01},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":-0.1,"upper_bound":0.1},"point_estimate":-0.05,"standard_error":0.01}}"#;

    #[test]
    fn reads_criterions_files() {
        let b = Json::parse(BENCHMARK).unwrap();
        let est = Json::parse(ESTIMATES).unwrap();
        let change = Json::parse(CHANGE).unwrap();
        let e = estimate(&b, &est, Some(&change)).unwrap();
        assert_eq!(
            e,
            Estimate {
                id: "engine/rate_1m".into(),
                median_ns: 2.892e7,
                low_ns: 2.8e7,
                high_ns: 30_000_000.5,
                throughput: Some((723_000.0, "elements/s")),
                change: Some(-0.05),
            }
        );
        // 723,000 points in 28.92 ms: 25M points/s.
        let (n, unit) = e.per_second().unwrap();
        assert_eq!((n.round(), unit), (25_000_000.0, "elements/s"));
        let text = render(&[e]);
        assert!(text.contains("engine/rate_1m"), "{text}");
        assert!(text.contains("28.92 ms"), "{text}");
        assert!(text.contains(" 25.00M elements/s "), "{text}");
        assert!(text.contains("-5.0%"), "{text}");
    }

    #[test]
    fn no_throughput_no_change() {
        let b = Json::parse(&BENCHMARK.replace(r#"{"Elements":723000}"#, "null")).unwrap();
        let e = estimate(&b, &Json::parse(ESTIMATES).unwrap(), None).unwrap();
        assert_eq!((e.throughput, e.change, e.per_second()), (None, None, None));
        assert!(estimate(&b, &Json::obj([("median", Json::Null)]), None).is_none());
    }

    /// Only what this run wrote is collected.
    #[test]
    fn collects_only_this_runs_files() {
        let dir = std::env::temp_dir().join(format!("xtask-criterion-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let new = dir.join("engine/rate_1m/new");
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(new.join("benchmark.json"), BENCHMARK).unwrap();
        std::fs::write(new.join("estimates.json"), ESTIMATES).unwrap();
        let before = SystemTime::now() - std::time::Duration::from_secs(60);
        let after = SystemTime::now() + std::time::Duration::from_secs(60);
        let found = collect(&dir, before).unwrap();
        let later = collect(&dir, after).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].change, None);
        assert!(later.is_empty());
    }
}
