//! The WAL's write-failure path: a child process appends batches under a
//! file size limit (`prlimit --fsize`, with `SIGXFSZ` ignored, so a write
//! past the limit fails with `EFBIG` instead of killing it), so every WAL
//! segment fills up and a commit fails. The log must drop what the
//! failed write left, go on in a new segment, and after a reopen every
//! acknowledged batch must be there exactly once and no failed one.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wasmetheus_model::storage::{Matcher, Queryable};
use wasmetheus_tsdb::{Db, DbOptions};

const SERIES: usize = 100;
/// Bytes any file of the child may reach: some thousands of batches per
/// segment, and room for the store's small files.
const FILE_SIZE_LIMIT: u64 = 256 << 10;
/// Failed writes to see before the child is stopped.
const FAILURES: usize = 3;

#[test]
fn failed_wal_writes_lose_no_acknowledged_batch_and_keep_no_failed_one() {
    for tool in ["sh", "prlimit"] {
        assert!(
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
            "`{tool}` is needed (Debian packages dash and util-linux)"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new("sh")
        .arg("-c")
        // `trap ''` ignores the signal, and an ignored signal stays
        // ignored across `exec`.
        .arg(format!(
            "trap '' XFSZ; exec prlimit --fsize={FILE_SIZE_LIMIT} \"$0\" \"$1\" --no-compact"
        ))
        .arg(env!("CARGO_BIN_EXE_tsdb-crash-writer"))
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the writer");
    let mut acked = BTreeSet::new();
    let mut failed = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(Ok(line)) = lines.next() {
        let mut words = line.split(' ');
        let (kind, n) = (words.next().unwrap(), words.next().unwrap());
        let n: i64 = n.parse().unwrap();
        match kind {
            "acked" => assert!(acked.insert(n)),
            "failed" => {
                assert!(
                    line.contains("File too large"),
                    "the failure is the size limit's: {line}"
                );
                assert!(failed.insert(n));
            }
            _ => panic!("unexpected line {line:?}"),
        }
        if failed.len() >= FAILURES {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} batches acknowledged and {} failed in 120 s",
            acked.len(),
            failed.len()
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
    for line in lines.map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("acked ") {
            acked.insert(n.parse().unwrap());
        }
    }
    assert_eq!(failed.len(), FAILURES, "the writer stopped early");
    // Segments filled before the first failure, and the writer went on
    // after each failure: batches after it were acknowledged.
    assert!(acked.range(..*failed.first().unwrap()).count() > 100);
    let between: usize = failed
        .iter()
        .zip(failed.iter().skip(1))
        .map(|(a, b)| acked.range(a..b).count())
        .sum();
    assert!(between > 0, "no batch was acknowledged after a failure");

    let db = Db::open(
        dir.path(),
        DbOptions {
            retention_time_ms: None,
            ..DbOptions::default()
        },
    )
    .unwrap();
    let series = db
        .select(
            &[Matcher::equal("__name__", "crash_test")],
            i64::MIN,
            i64::MAX,
        )
        .unwrap();
    assert_eq!(series.len(), SERIES);
    for s in &series {
        let times: BTreeSet<i64> = s.samples.iter().map(|(t, _)| *t).collect();
        assert_eq!(times.len(), s.samples.len(), "{:?}: duplicates", s.labels);
        for (t, v) in &s.samples {
            assert_eq!(*t as f64, *v);
        }
        // Every acknowledged batch; the batch in flight at the kill may or
        // may not be there; nothing else, and no failed batch.
        let extra: Vec<i64> = times.difference(&acked).copied().collect();
        assert!(
            extra.len() <= 1 && extra.iter().all(|t| t > acked.last().unwrap()),
            "{:?}: batches never acknowledged: {extra:?}",
            s.labels
        );
        let missing: Vec<&i64> = acked.difference(&times).take(5).collect();
        assert!(missing.is_empty(), "{:?}: lost {missing:?}", s.labels);
        for f in &failed {
            assert!(
                !times.contains(f),
                "{:?}: failed batch {f} stored",
                s.labels
            );
        }
    }
    let segments = std::fs::read_dir(dir.path().join("wal"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .count();
    assert!(
        segments > FAILURES,
        "each failure went on in a new segment: {segments} segments"
    );
    db.close();
}
