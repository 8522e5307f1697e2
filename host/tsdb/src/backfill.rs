//! Backfill: writes an OpenMetrics file with timestamps into a data
//! directory's store, like `promtool tsdb create-blocks-from openmetrics`.
//! The whole file is parsed and checked before anything is written, so
//! malformed input leaves the directory untouched.

use crate::store::{Store, StoreError};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use wasmetheus_model::Label;
use wasmetheus_model::openmetrics;

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("{path}:{error}")]
    Parse {
        path: String,
        error: wasmetheus_model::ParseError,
    },
    #[error(
        "{path}:{line}: sample {series} has no timestamp; every sample of a backfill file needs one"
    )]
    MissingTimestamp {
        path: String,
        line: usize,
        series: String,
    },
    #[error("{path}: series {series} has two different values at timestamp {t}")]
    Conflict {
        path: String,
        series: String,
        t: i64,
    },
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// What a backfill wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BackfillStats {
    pub series: u64,
    pub samples: u64,
    pub blocks: BTreeSet<i64>,
    pub min_time: i64,
    pub max_time: i64,
    /// Bytes of the part files (sealed chunks) afterwards.
    pub chunk_bytes: u64,
    /// Key and value bytes in sled's index trees afterwards.
    pub index_logical_bytes: u64,
    /// Bytes sled occupies on disk afterwards.
    pub index_disk_bytes: u64,
}

/// Progress of the write phase: series written so far, of `total`.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub series_done: u64,
    pub series_total: u64,
    pub samples_done: u64,
}

fn render(labels: &[Label]) -> String {
    let name = labels
        .iter()
        .find(|l| l.name == "__name__")
        .map_or("", |l| l.value.as_str());
    let rest: Vec<String> = labels
        .iter()
        .filter(|l| l.name != "__name__")
        .map(|l| format!("{}={:?}", l.name, l.value))
        .collect();
    format!("{name}{{{}}}", rest.join(","))
}

/// Line number of the `n`-th sample line (1-based) of `input`, for errors
/// about samples the parser accepted.
fn sample_line(input: &str, n: usize) -> usize {
    input
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.is_empty())
        .nth(n)
        .map_or(0, |(i, _)| i + 1)
}

/// Parses `input` (named `path` in errors) and writes its samples into the
/// store under `data_dir/db`, blocks of `block_range_ms`.
pub fn create_blocks_from_openmetrics(
    input: &str,
    path: &str,
    data_dir: &Path,
    block_range_ms: i64,
    mut progress: impl FnMut(Progress),
) -> Result<BackfillStats, BackfillError> {
    let exposition = openmetrics::parse_with(
        input,
        openmetrics::Options {
            allow_negative_observations: true,
        },
    )
    .map_err(|error| BackfillError::Parse {
        path: path.to_owned(),
        error,
    })?;
    let mut series: BTreeMap<Vec<Label>, Vec<(i64, f64)>> = BTreeMap::new();
    for (n, sample) in exposition.samples.into_iter().enumerate() {
        let mut labels = Vec::with_capacity(sample.labels.len() + 1);
        labels.push(Label::new("__name__", sample.name));
        labels.extend(sample.labels.into_iter().filter(|l| !l.value.is_empty()));
        labels.sort();
        let Some(t) = sample.timestamp_ms else {
            return Err(BackfillError::MissingTimestamp {
                path: path.to_owned(),
                line: sample_line(input, n),
                series: render(&labels),
            });
        };
        series.entry(labels).or_default().push((t, sample.value));
    }
    let mut stats = BackfillStats {
        min_time: i64::MAX,
        max_time: i64::MIN,
        ..BackfillStats::default()
    };
    for (labels, samples) in &mut series {
        samples.sort_by_key(|s| s.0);
        samples.dedup_by(|b, a| a.0 == b.0 && a.1.to_bits() == b.1.to_bits());
        if let Some(w) = samples.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(BackfillError::Conflict {
                path: path.to_owned(),
                series: render(labels),
                t: w[0].0,
            });
        }
    }
    // Everything is valid: only now is the directory touched.
    let store = Store::open(&data_dir.join("db"), block_range_ms)?;
    let total = series.len() as u64;
    for samples in series.values() {
        for (t, _) in samples {
            stats.blocks.insert(store.block_of(*t));
        }
        if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
            stats.min_time = stats.min_time.min(first.0);
            stats.max_time = stats.max_time.max(last.0);
        }
    }
    let mut done = 0u64;
    stats.samples = store.write_series(series, |samples| {
        done += 1;
        if done.is_multiple_of(1000) || done == total {
            progress(Progress {
                series_done: done,
                series_total: total,
                samples_done: samples,
            });
        }
    })?;
    stats.series = total;
    store.flush()?;
    stats.chunk_bytes = store.parts_bytes();
    stats.index_logical_bytes = store.index_logical_size();
    stats.index_disk_bytes = store.index_bytes_on_disk();
    Ok(stats)
}
