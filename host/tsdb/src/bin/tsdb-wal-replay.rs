//! Measures WAL replay: writes the log of S series × D of samples at a
//! 15 s interval (as the head would have, one record batch per scrape
//! round), then times opening a head on it. Usage:
//! `tsdb-wal-replay [SERIES] [MINUTES] [DIR]` (defaults 1000000, 60, a
//! temporary directory); run by `cargo xtask bench storage`.

use std::time::Instant;
use wasmetheus_model::Label;
use wasmetheus_tsdb::wal::{Record, Wal};
use wasmetheus_tsdb::{Head, HeadLimits};

const INTERVAL_MS: i64 = 15_000;
/// Samples per record, as a scrape of a large target would commit.
const BATCH: usize = 5_000;

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let series: u32 = args
        .next()
        .map_or(1_000_000, |a| a.parse().expect("SERIES"));
    let minutes: i64 = args.next().map_or(60, |a| a.parse().expect("MINUTES"));
    let dir = match args.next() {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("wal-replay-{}", std::process::id())),
    };
    let _ = std::fs::remove_dir_all(&dir);
    let rounds = minutes * 60_000 / INTERVAL_MS;
    let started = Instant::now();
    {
        let (mut wal, _) = Wal::open(&dir, false, |_| {}).expect("creating the log");
        let mut records = Vec::with_capacity(BATCH);
        for r in 0..series {
            records.push(Record::Series {
                r,
                labels: vec![
                    Label::new("__name__", format!("metric_{}", r % 200)),
                    Label::new("instance", format!("host-{}:9100", r / 200)),
                    Label::new("job", "node"),
                    Label::new("pod", format!("pod-{}", r % 9973)),
                ],
            });
            if records.len() == BATCH {
                wal.log(&records).expect("writing the log");
                records.clear();
            }
        }
        wal.log(&records).expect("writing the log");
        let t0 = 1_700_000_000_000i64;
        for round in 0..rounds {
            let t = t0 + round * INTERVAL_MS;
            let mut r = 0;
            while r < series {
                let end = (r + BATCH as u32).min(series);
                let samples = (r..end)
                    .map(|r| (r, t, (round as f64) * 1.5 + f64::from(r % 7)))
                    .collect();
                wal.log(&[Record::Samples(samples)])
                    .expect("writing the log");
                r = end;
            }
        }
    }
    let total = u64::from(series) * rounds as u64;
    let size = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum::<u64>()
        })
        .unwrap_or(0);
    println!(
        "wrote {series} series x {rounds} samples = {total} samples, {:.1} MiB of log ({:.2} B/sample) in {:.1} s",
        size as f64 / (1 << 20) as f64,
        size as f64 / total.max(1) as f64,
        started.elapsed().as_secs_f64()
    );
    let before = rss_mib();
    let started = Instant::now();
    let head = Head::open(&dir, HeadLimits::default(), false).expect("replaying the log");
    let took = started.elapsed().as_secs_f64();
    println!(
        "replayed {} series, {} samples in {took:.2} s ({:.1} M samples/s); RSS {:.0} MiB -> {:.0} MiB",
        head.num_series(),
        head.stats
            .replayed_samples
            .load(std::sync::atomic::Ordering::Relaxed),
        total as f64 / took / 1e6,
        before,
        rss_mib()
    );
    drop(head);
    let _ = std::fs::remove_dir_all(&dir);
}
