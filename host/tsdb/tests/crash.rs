//! Crash safety: a child process appends to a database (WAL-backed head,
//! compacted into the store every few dozen batches) and is killed with
//! SIGKILL at random points, compactions included; every batch it
//! acknowledged must be there exactly once after reopening, and nothing
//! must be there that it never attempted.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wasmetheus_model::storage::{Matcher, Queryable};
use wasmetheus_tsdb::{Db, DbOptions};

const SERIES: usize = 100;
/// As in the writer.
const BLOCK_RANGE: i64 = 40;

/// Runs the writer until it has acknowledged at least `min_acked` batches
/// plus a pseudo-random extra delay, kills it, and returns the last
/// acknowledged batch.
fn run_and_kill(dir: &std::path::Path, min_acked: i64, extra: Duration) -> i64 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tsdb-crash-writer"))
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the writer");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut last = -1;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut kill_at = None;
    while let Some(Ok(line)) = lines.next() {
        last = line.strip_prefix("acked ").unwrap().parse().unwrap();
        if last >= min_acked && kill_at.is_none() {
            kill_at = Some(Instant::now() + extra);
        }
        if kill_at.is_some_and(|at| Instant::now() >= at) || Instant::now() > deadline {
            break;
        }
    }
    // SIGKILL: no destructor, no flush, no chance to finish a write.
    child.kill().unwrap();
    child.wait().unwrap();
    // Lines written before the kill but not yet read are acknowledged too.
    for line in lines.map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("acked ") {
            last = n.parse().unwrap();
        }
    }
    last
}

#[test]
fn acknowledged_batches_survive_sigkill() {
    let mut compacted_rounds = 0;
    for round in 0u64..6 {
        let dir = std::env::temp_dir().join(format!("crash-{}-{round}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // Kill points spread over the first few hundred batches.
        let min_acked = 20 + (round as i64 * 37) % 200;
        let extra = Duration::from_micros(round * 1_700 % 5_000);
        let acked = run_and_kill(&dir, min_acked, extra);
        assert!(acked >= min_acked, "writer acknowledged only {acked}");

        let db = Db::open(
            &dir,
            DbOptions {
                block_range_ms: BLOCK_RANGE,
                retention_time_ms: None,
                ..DbOptions::default()
            },
        )
        .unwrap();
        if !db.store().block_starts().unwrap().is_empty() {
            compacted_rounds += 1;
        }
        let series = db
            .select(
                &[Matcher::equal("__name__", "crash_test")],
                i64::MIN,
                i64::MAX,
            )
            .unwrap();
        assert_eq!(series.len(), SERIES, "round {round}");
        for s in &series {
            // A gap-free prefix 0..=n with n >= acked: the batch in flight
            // at the kill may or may not have made it, nothing else.
            let n = s.samples.len() as i64 - 1;
            assert!(
                n >= acked,
                "round {round}: {:?} has {n}, acked {acked}",
                s.labels
            );
            assert!(
                n <= acked + 1,
                "round {round}: {n} beyond the batch in flight"
            );
            for (i, (t, v)) in s.samples.iter().enumerate() {
                assert_eq!((*t, *v), (i as i64, i as f64));
            }
        }
        db.close();
        drop(db);
        std::fs::remove_dir_all(&dir).unwrap();
    }
    assert!(
        compacted_rounds >= 4,
        "only {compacted_rounds} rounds reached a compaction"
    );
}
