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
    let size = std::fs::metadata(file)
        .with_context(|| format!("reading {}", file.display()))?
        .len();
    let interactive = std::io::stderr().is_terminal();
    // promtool's rule: the widest of Prometheus' block ranges (2 h, 6 h,
    // 18 h, 54 h, …) within the flag, so the blocks line up with the ones
    // compaction makes.
    let requested = block_duration.as_millis().clamp(1, i64::MAX as u128) as i64;
    let block_ms = wasmetheus_tsdb::backfill::compatible_block_duration(requested);
    eprintln!(
        "reading {} ({:.1} MiB) into blocks of {} h…",
        file.display(),
        size as f64 / (1 << 20) as f64,
        block_ms as f64 / 3.6e6
    );
    let mut last_line = Instant::now();
    let stats = wasmetheus_tsdb::backfill::create_blocks_from_openmetrics_file(
        file,
        data_dir,
        block_ms,
        |p| {
            let rate = p.samples_done as f64 / started.elapsed().as_secs_f64().max(1e-9);
            if interactive {
                let width = 30;
                let filled = (p.blocks_done * width / p.blocks_total.max(1)) as usize;
                eprint!(
                    "\r[{}{}] {}/{} blocks, {}/{} samples, {:.0} samples/s",
                    "#".repeat(filled),
                    " ".repeat(width as usize - filled),
                    p.blocks_done,
                    p.blocks_total,
                    p.samples_done,
                    p.samples_total,
                    rate
                );
                let _ = std::io::stderr().flush();
            } else if last_line.elapsed().as_secs() >= 5 || p.blocks_done == p.blocks_total {
                last_line = Instant::now();
                eprintln!(
                    "{}/{} blocks, {}/{} samples read ({:.0} samples/s)",
                    p.blocks_done, p.blocks_total, p.samples_done, p.samples_total, rate
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
    if stats.dropped > 0 {
        println!(
            "{} samples not written: each came after a sample of its series at the same or a \
             later time in the same block (promtool drops these too)",
            stats.dropped
        );
    }
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
