//! Helper of the crash test (`tests/crash.rs`): appends batches to a
//! database in the directory given as the first argument and prints
//! `acked N` after batch N is committed, until it is killed. Batch N has
//! timestamp N and blocks are [`BLOCK_RANGE`] wide, so the head is
//! compacted into the store (and its log checkpointed) every few dozen
//! batches: kills land in compactions too.
//!
//! With `--no-compact` (the WAL write-failure test, `tests/wal_write_failure.rs`,
//! which runs it under a file size limit) it never compacts, and a commit
//! that fails prints `failed N` and the writer goes on with batch N + 1.

use std::io::Write;
use wasmetheus_model::Label;
use wasmetheus_model::storage::Appender;
use wasmetheus_tsdb::{Db, DbOptions};

/// Series per batch; every batch appends one sample to each.
pub const SERIES: usize = 100;
/// Block width, in batches; the test opens the database with the same.
pub const BLOCK_RANGE: i64 = 40;

pub fn options() -> DbOptions {
    DbOptions {
        block_range_ms: BLOCK_RANGE,
        retention_time_ms: None,
        ..DbOptions::default()
    }
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: tsdb-crash-writer DIR [--no-compact]");
    let compact = std::env::args().nth(2).as_deref() != Some("--no-compact");
    let db = Db::open(std::path::Path::new(&dir), options()).expect("opening the database");
    let series: Vec<Vec<Label>> = (0..SERIES)
        .map(|i| {
            vec![
                Label::new("__name__", "crash_test"),
                Label::new("series", i.to_string()),
            ]
        })
        .collect();
    let mut stdout = std::io::stdout().lock();
    for batch in 0i64.. {
        let mut app = db.appender();
        for labels in &series {
            app.append(labels, batch, batch as f64).expect("append");
        }
        let committed = app.commit();
        drop(app);
        match committed {
            Ok(()) => writeln!(stdout, "acked {batch}").expect("stdout"),
            Err(e) if !compact => writeln!(stdout, "failed {batch} {e}").expect("stdout"),
            Err(e) => panic!("commit: {e}"),
        }
        stdout.flush().expect("stdout");
        if compact && batch % 10 == 0 {
            db.compact().expect("compaction");
        }
    }
}
