//! `wasmetheus tsdb create-blocks-from openmetrics FILE [DATA_DIR]`: the
//! command-line face of the TSDB's backfill, with a progress bar on a
//! terminal and progress lines otherwise.

use anyhow::Context;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

pub fn run(
    file: &Path,
    data_dir: &Path,
    block_duration: std::time::Duration,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let input =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let interactive = std::io::stderr().is_terminal();
    eprintln!(
        "parsing {} ({:.1} MiB)…",
        file.display(),
        input.len() as f64 / (1 << 20) as f64
    );
    let mut last_line = Instant::now();
    let block_ms = block_duration.as_millis().clamp(1, i64::MAX as u128) as i64;
    let stats = wasmetheus_tsdb::backfill::create_blocks_from_openmetrics(
        &input,
        &file.display().to_string(),
        data_dir,
        block_ms,
        |p| {
            let rate = p.samples_done as f64 / started.elapsed().as_secs_f64().max(1e-9);
            if interactive {
                let width = 30;
                let filled = (p.series_done * width / p.series_total.max(1)) as usize;
                eprint!(
                    "\r[{}{}] {}/{} series, {} samples, {:.0} samples/s",
                    "#".repeat(filled),
                    " ".repeat(width as usize - filled),
                    p.series_done,
                    p.series_total,
                    p.samples_done,
                    rate
                );
                let _ = std::io::stderr().flush();
            } else if last_line.elapsed().as_secs() >= 5 || p.series_done == p.series_total {
                last_line = Instant::now();
                eprintln!(
                    "{}/{} series, {} samples written ({:.0} samples/s)",
                    p.series_done, p.series_total, p.samples_done, rate
                );
            }
        },
    )
    .with_context(|| format!("backfilling {} into {}", file.display(), data_dir.display()))?;
    if interactive {
        eprintln!();
    }
    println!(
        "wrote {} samples of {} series into {} blocks of {} in {:.2} s (time range {} to {} ms)",
        stats.samples,
        stats.series,
        stats.blocks.len(),
        data_dir.display(),
        started.elapsed().as_secs_f64(),
        stats.min_time,
        stats.max_time
    );
    let written = disk_bytes_written();
    let per_sample = |b: u64| b as f64 / stats.samples.max(1) as f64;
    let disk = stats.chunk_bytes + stats.index_disk_bytes;
    println!(
        "{:.3} bytes/sample on disk: chunks {} B ({:.3}/sample), index (sled) {} B ({:.3}/sample) \
         holding {} B of keys and values (space amplification {:.2}x){}",
        per_sample(disk),
        stats.chunk_bytes,
        per_sample(stats.chunk_bytes),
        stats.index_disk_bytes,
        per_sample(stats.index_disk_bytes),
        stats.index_logical_bytes,
        stats.index_disk_bytes as f64 / stats.index_logical_bytes.max(1) as f64,
        written.map_or(String::new(), |w| format!(
            "; {w} B written to disk (write amplification {:.2}x)",
            w as f64 / (stats.chunk_bytes + stats.index_logical_bytes).max(1) as f64
        ))
    );
    Ok(())
}

/// Bytes this process caused to be written to storage so far (Linux'
/// `/proc/self/io`), when the kernel reports it.
fn disk_bytes_written() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes: "))?
        .trim()
        .parse()
        .ok()
}
