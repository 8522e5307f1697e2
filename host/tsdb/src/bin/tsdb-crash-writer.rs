//! Helper of the crash test (`tests/crash.rs`): appends batches to a
//! WAL-backed head in the directory given as the first argument and prints
//! `acked N` after batch N is committed, until it is killed.

use std::io::Write;
use wasmetheus_model::Label;
use wasmetheus_model::storage::Appender;
use wasmetheus_tsdb::{Head, HeadLimits};

/// Series per batch; every batch appends one sample to each.
pub const SERIES: usize = 100;

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: tsdb-crash-writer DIR");
    let head = Head::open(std::path::Path::new(&dir), HeadLimits::default(), false)
        .expect("opening the head");
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
        let mut app = head.appender();
        for labels in &series {
            app.append(labels, batch, batch as f64).expect("append");
        }
        app.commit().expect("commit");
        writeln!(stdout, "acked {batch}").expect("stdout");
        stdout.flush().expect("stdout");
    }
}
