//! `wasmetheus test promql FILE…`: runs Prometheus' scripted PromQL tests
//! (the format of `promql/promqltest`) against the engine, printing each
//! failure, per-file counts and, last, `N passed, M failed[, K skipped]`.
//! Cases involving native histograms are reported as skipped.

use std::path::PathBuf;
use wasmetheus_promql::engine::Engine;
use wasmetheus_promqltest::{Counts, run_script};

/// Returns the total counts; the caller fails when anything failed.
pub fn run(files: &[PathBuf]) -> anyhow::Result<Counts> {
    let engine = Engine::default();
    let mut total = Counts::default();
    for path in files {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        let name = path.display().to_string();
        let report = run_script(&name, &text, &engine);
        for error in &report.errors {
            println!("{error}");
        }
        for failure in report.failures() {
            println!("{failure}");
        }
        let counts = report.counts();
        println!("{name}: {counts}");
        total += counts;
        if !report.errors.is_empty() {
            total.failed += report.errors.len();
        }
    }
    println!("{total}");
    Ok(total)
}
