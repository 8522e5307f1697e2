//! The database: the head (recent samples, WAL-backed) over the sled store
//! (everything older), with compaction from one to the other, retention,
//! deletion, snapshots, and queries that see both as one.
//!
//! Layout of a data directory: `wal/` (the head's log) and `db/` (sled).
//! Invariant: every sample is in exactly one of the two places that
//! queries read — the head holds `t >= store.compacted_upto()`, the store
//! holds the rest (plus backfilled data anywhere in time; queries merge).

use crate::head::{Head, HeadAppender, HeadLimits};
use crate::iter::{ChunkSource, ChunksIterator, without_deleted};
use crate::store::{RetentionStats, Store, StoreError};
use crate::wal::WalError;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use wasmetheus_model::storage::{
    Appender, Matcher, Queryable, SelectHints, Series, Storage, StorageError,
};
use wasmetheus_model::{Label, MetricFamily, MetricKind};

/// Two hours, Prometheus' default block range.
pub const DEFAULT_BLOCK_RANGE_MS: i64 = 2 * 3600 * 1000;
/// Fifteen days, Prometheus' default retention.
pub const DEFAULT_RETENTION_MS: i64 = 15 * 24 * 3600 * 1000;
/// How long compaction waits for appenders holding uncommitted samples of
/// the block it is about to copy before putting it off to the next run.
const SEAL_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
pub struct DbOptions {
    /// Width of a block; the head is compacted a block at a time once it
    /// spans one and a half blocks (as Prometheus does).
    pub block_range_ms: i64,
    /// Data older than this behind the newest sample is removed; `None`
    /// keeps it (unless the size limit applies).
    pub retention_time_ms: Option<i64>,
    /// Oldest blocks are removed while the data directory is larger.
    pub retention_size_bytes: Option<u64>,
    pub head: HeadLimits,
    /// fsync every commit (survives power loss, not just `kill -9`).
    pub sync: bool,
    /// How the write-ahead log compresses records.
    pub wal_compression: crate::wal::WalCompression,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            block_range_ms: DEFAULT_BLOCK_RANGE_MS,
            retention_time_ms: Some(DEFAULT_RETENTION_MS),
            retention_size_bytes: None,
            head: HeadLimits::default(),
            sync: false,
            wal_compression: crate::wal::WalCompression::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Wal(#[from] WalError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "reading the head's chunk files (chunks_head/) failed: the error is in the log; \
         check the disk holding --storage.tsdb.path (nothing was lost: the WAL still holds \
         every sample, and a restart rebuilds the chunk files from it)"
    )]
    HeadChunks,
}

impl From<DbError> for StorageError {
    fn from(e: DbError) -> Self {
        StorageError(e.to_string())
    }
}

impl From<StoreError> for StorageError {
    fn from(e: StoreError) -> Self {
        StorageError(e.to_string())
    }
}

#[derive(Debug, Default)]
struct DbStats {
    compactions: AtomicU64,
    compactions_failed: AtomicU64,
    compacted_samples: AtomicU64,
    time_retentions: AtomicU64,
    size_retentions: AtomicU64,
    /// Chunks of selected series that a query's hints ruled out (see
    /// `select_series`), so were never decoded.
    chunks_skipped: AtomicU64,
}

/// What one compaction did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CompactionStats {
    pub blocks: u64,
    pub series: u64,
    pub samples: u64,
    pub series_removed_from_head: u64,
}

pub struct Db {
    dir: PathBuf,
    head: Head,
    store: Store,
    options: DbOptions,
    stats: DbStats,
    /// One compaction, retention pass or snapshot at a time.
    maintenance: Mutex<()>,
    closed: AtomicBool,
}

impl Db {
    /// Opens (creating) the database in `dir`: the store first, then the
    /// head replays its log from where the store ends.
    pub fn open(dir: &Path, options: DbOptions) -> Result<Db, DbError> {
        let store = Store::open(&dir.join("db"), options.block_range_ms)?;
        let upto = store.compacted_upto()?;
        let head = Head::open_with_chunks(
            &dir.join("wal"),
            Some(&dir.join("chunks_head")),
            options.head,
            options.sync,
            upto,
        )?;
        head.set_wal_compression(options.wal_compression);
        Ok(Db {
            dir: dir.to_owned(),
            head,
            store,
            options,
            stats: DbStats::default(),
            maintenance: Mutex::new(()),
            closed: AtomicBool::new(false),
        })
    }

    pub fn head(&self) -> &Head {
        &self.head
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn appender(&self) -> HeadAppender<'_> {
        self.head.appender()
    }

    /// Moves whole blocks out of the head into the store while the head
    /// spans more than one and a half blocks, then truncates the head and
    /// checkpoints its log.
    pub fn compact(&self) -> Result<CompactionStats, DbError> {
        let _guard = self.maintenance.lock();
        let range = self.options.block_range_ms;
        let mut stats = CompactionStats::default();
        loop {
            let (mint, maxt) = (self.head.min_time(), self.head.max_time());
            if mint > maxt || maxt.saturating_sub(mint) <= range / 2 * 3 {
                break;
            }
            let start = self.store.block_of(mint);
            let end = start + range;
            // No sample may land in the block after it is read: it would be
            // hidden by the truncation and missing from the store.
            if !self.head.seal_before(end, SEAL_TIMEOUT) {
                tracing::warn!(
                    block_start = start,
                    "appenders hold uncommitted samples of the block; compaction put off"
                );
                break;
            }
            let started = Instant::now();
            match self.compact_block(start, end) {
                Ok((series, samples)) => {
                    let removed = self.head.truncate(end)?;
                    stats.blocks += 1;
                    stats.series += series;
                    stats.samples += samples;
                    stats.series_removed_from_head += removed as u64;
                    self.stats.compactions.fetch_add(1, Ordering::Relaxed);
                    self.stats
                        .compacted_samples
                        .fetch_add(samples, Ordering::Relaxed);
                    tracing::info!(
                        block_start = start,
                        series,
                        samples,
                        series_removed_from_head = removed,
                        "compacted a {} h block of the head in {:.2} s",
                        range as f64 / 3.6e6,
                        started.elapsed().as_secs_f64()
                    );
                }
                Err(e) => {
                    self.stats
                        .compactions_failed
                        .fetch_add(1, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        // Backfills and late data leave blocks in several parts; one part
        // a block keeps reads to one lookup per block.
        let merged = self.store.merge_parts()?;
        if merged > 0 {
            tracing::info!(
                blocks = merged,
                "merged the parts of blocks written more than once"
            );
        }
        Ok(stats)
    }

    /// Writes every head sample in `[start, end)` to the store and records
    /// that the store now owns everything before `end`.
    fn compact_block(&self, start: i64, end: i64) -> Result<(u64, u64), DbError> {
        let mut series = 0;
        let mut writer = self.store.block_writer(start)?;
        let read_failures = self.head.chunk_read_failures();
        for (r, labels) in self.head.all_series() {
            let chunk = self.head.samples(r, start, end - 1);
            if chunk.is_empty() {
                continue;
            }
            writer.add(&labels, &chunk)?;
            series += 1;
        }
        // A chunk that could not be read would be missing from the block,
        // and the log would then forget it: the block is not finished, so
        // the head and the log keep everything.
        if self.head.chunk_read_failures() != read_failures {
            return Err(DbError::HeadChunks);
        }
        let samples = writer.samples();
        writer.finish()?;
        self.store.set_compacted_upto(end)?;
        // Durable before the log forgets these samples.
        self.store.flush()?;
        Ok((series, samples))
    }

    /// Applies the retention limits; returns what was removed.
    pub fn apply_retention(&self) -> Result<RetentionStats, DbError> {
        let _guard = self.maintenance.lock();
        let mut total = RetentionStats::default();
        if let Some(keep) = self.options.retention_time_ms {
            let newest = self.newest_time();
            if newest != i64::MIN {
                let stats = self.store.drop_blocks_before(newest.saturating_sub(keep))?;
                if stats.blocks > 0 {
                    self.stats.time_retentions.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        blocks = stats.blocks,
                        series = stats.series,
                        "removed blocks older than the retention time"
                    );
                }
                total.blocks += stats.blocks;
                total.chunks += stats.chunks;
                total.series += stats.series;
            }
        }
        if let Some(limit) = self.options.retention_size_bytes {
            while self.size_bytes() > limit {
                let Some(stats) = self.store.drop_oldest_block()? else {
                    break;
                };
                self.store.flush()?;
                self.stats.size_retentions.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    series = stats.series,
                    "removed the oldest block: the data directory exceeds the retention size"
                );
                total.blocks += stats.blocks;
                total.chunks += stats.chunks;
                total.series += stats.series;
            }
        }
        Ok(total)
    }

    /// The newest sample time, head or store.
    fn newest_time(&self) -> i64 {
        let head = self.head.max_time();
        head.max(self.store.newest_block_end())
    }

    /// Bytes of the data directory that count against the size limit: the
    /// store, the log and the head's chunk files (as Prometheus counts
    /// blocks, WAL and chunks_head).
    pub fn size_bytes(&self) -> u64 {
        self.store.size_on_disk()
            + self.head.wal_stats().map_or(0, |(_, size)| size)
            + self.head.chunk_file_bytes()
    }

    /// Deletes the samples in `[mint, maxt]` of every series matching
    /// `matchers`, in the head at once and in the store by tombstones.
    pub fn delete(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<usize, DbError> {
        // Not while a compaction copies samples that the head is about to
        // lose to the store after the store's tombstones were written.
        let _guard = self.maintenance.lock();
        let head = self.head.delete(matchers, mint, maxt)?;
        let store = self.store.delete(matchers, mint, maxt)?;
        self.store.flush()?;
        Ok(head + store)
    }

    /// Rewrites the chunks that have tombstones; returns the series cleaned.
    pub fn clean_tombstones(&self) -> Result<usize, DbError> {
        let _guard = self.maintenance.lock();
        let n = self.store.clean_tombstones()?;
        self.store.flush()?;
        Ok(n)
    }

    /// Writes a copy of the database to `dir` (a new store; with the head's
    /// samples too unless `skip_head`), from which a server can start.
    pub fn snapshot(&self, dir: &Path, skip_head: bool) -> Result<(), DbError> {
        let _guard = self.maintenance.lock();
        self.store.flush()?;
        self.store.snapshot(&dir.join("db"))?;
        if !skip_head {
            let copy = Store::open(&dir.join("db"), self.options.block_range_ms)?;
            let head = self
                .head
                .all_series()
                .into_iter()
                .map(|(r, labels)| (labels, self.head.samples(r, i64::MIN, i64::MAX)));
            copy.write_series(head, |_| {})?;
            copy.flush()?;
        }
        Ok(())
    }

    /// Flushes the store and closes the log (releasing its lock); later
    /// commits fail.
    pub fn close(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let _guard = self.maintenance.lock();
        self.head.close();
        if let Err(e) = self.store.flush() {
            tracing::error!(error = %e, "flushing the store at shutdown failed");
        }
    }

    /// Runs compaction and retention every `every` on a thread of its own
    /// until the database is closed.
    pub fn start_maintenance(self: &Arc<Self>, every: Duration) {
        let db = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("tsdb-maintenance".into())
            .spawn(move || {
                let tick = Duration::from_millis(200);
                let mut waited = Duration::ZERO;
                loop {
                    std::thread::sleep(tick);
                    waited += tick;
                    let Some(db) = db.upgrade() else { return };
                    if db.closed.load(Ordering::SeqCst) {
                        return;
                    }
                    if waited < every {
                        continue;
                    }
                    waited = Duration::ZERO;
                    if let Err(e) = db.compact() {
                        tracing::error!(error = %e, "head compaction failed; will retry");
                    }
                    if let Err(e) = db.apply_retention() {
                        tracing::error!(error = %e, "applying retention failed; will retry");
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the TSDB maintenance thread");
        }
    }

    /// Self-metrics under Prometheus' names.
    pub fn metrics(&self) -> Vec<MetricFamily> {
        let mut families = self.head.metrics();
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64;
        let counts = self.store.counts();
        let family = MetricFamily::single;
        let lowest = self.store.time_range().0.min(self.head.min_time());
        families.extend([
            family(
                "prometheus_tsdb_compactions_total",
                MetricKind::Counter,
                "Total number of compactions that were executed for the partition.",
                load(&self.stats.compactions),
            ),
            family(
                "prometheus_tsdb_compactions_failed_total",
                MetricKind::Counter,
                "Total number of compactions that failed for the partition.",
                load(&self.stats.compactions_failed),
            ),
            family(
                "prometheus_tsdb_blocks_loaded",
                MetricKind::Gauge,
                "Number of currently loaded data blocks",
                counts.blocks as f64,
            ),
            family(
                "prometheus_tsdb_storage_blocks_bytes",
                MetricKind::Gauge,
                "The number of bytes that are currently used for local storage by all blocks.",
                self.store.size_on_disk() as f64,
            ),
            family(
                "prometheus_tsdb_time_retentions_total",
                MetricKind::Counter,
                "The number of times that blocks were deleted because the maximum time limit was exceeded.",
                load(&self.stats.time_retentions),
            ),
            family(
                "prometheus_tsdb_size_retentions_total",
                MetricKind::Counter,
                "The number of times that blocks were deleted because the maximum number of bytes was exceeded.",
                load(&self.stats.size_retentions),
            ),
            family(
                "prometheus_tsdb_retention_limit_bytes",
                MetricKind::Gauge,
                "Max number of bytes to be retained in the tsdb blocks, configured 0 means disabled",
                self.options.retention_size_bytes.unwrap_or(0) as f64,
            ),
            family(
                "prometheus_tsdb_lowest_timestamp",
                MetricKind::Gauge,
                "Lowest timestamp value stored in the database. The unit is decided by the library consumer.",
                if lowest == i64::MAX { f64::NAN } else { lowest as f64 },
            ),
            family(
                "wasmetheus_tsdb_store_series",
                MetricKind::Gauge,
                "Series persisted in the store (outside the head).",
                counts.series as f64,
            ),
            family(
                "wasmetheus_tsdb_store_chunks",
                MetricKind::Gauge,
                "Sealed chunks persisted in the store.",
                counts.chunks as f64,
            ),
            family(
                "prometheus_tsdb_tombstone_series",
                MetricKind::Gauge,
                "Series in the store with deleted ranges not yet cleaned.",
                counts.tombstones as f64,
            ),
            family(
                "wasmetheus_tsdb_query_chunks_skipped_total",
                MetricKind::Counter,
                "Chunks of selected series left undecoded: between the windows of a query whose step is longer than its range.",
                load(&self.stats.chunks_skipped),
            ),
            family(
                "wasmetheus_tsdb_compacted_samples_total",
                MetricKind::Counter,
                "Samples moved from the head to the store.",
                load(&self.stats.compacted_samples),
            ),
        ]);
        families
    }
}

impl Queryable for Db {
    fn select_series(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<Series>, StorageError> {
        let (mint, maxt) = (hints.start, hints.end);
        // The head first: a block compacted meanwhile is then in the store
        // or in what was read of the head, never in neither (and if in
        // both, the iterator merges the overlap).
        let mut by_labels: BTreeMap<Vec<Label>, Vec<ChunkSource>> = BTreeMap::new();
        let mut skipped = 0u64;
        let read_failures = self.head.chunk_read_failures();
        for (r, labels) in self.head.matching_series(matchers, mint, maxt) {
            // Chunks between the windows of a long step are left unread
            // (`SelectHints::window`), as the store's reader does.
            let sources = self
                .head
                .chunk_sources_where(r, mint, maxt, &mut |min, max| {
                    let keep = hints.overlaps(min, max);
                    skipped += u64::from(!keep);
                    keep
                });
            by_labels.insert(labels, sources);
        }
        // An answer with a chunk missing would be wrong, not partial.
        if self.head.chunk_read_failures() != read_failures {
            return Err(DbError::HeadChunks.into());
        }
        let selected = self.store.select_chunks(matchers, hints, &mut skipped)?;
        if skipped > 0 {
            self.stats
                .chunks_skipped
                .fetch_add(skipped, Ordering::Relaxed);
        }
        for (sid, labels, stored) in selected {
            let deleted = self.store.tombstones_of(sid)?;
            // Tombstones hide stored samples only: the head applied its
            // deletions when they were made, and later appends stay.
            let mut stored = without_deleted(stored, &deleted);
            if stored.is_empty() {
                continue;
            }
            let entry = by_labels.entry(labels).or_default();
            // Stored chunks are older (or backfilled): they go first, so
            // the head wins where both have a timestamp.
            stored.append(entry);
            *entry = stored;
        }
        Ok(by_labels
            .into_iter()
            .filter(|(_, sources)| !sources.is_empty())
            .map(|(labels, sources)| Series {
                labels,
                samples: Box::new(ChunksIterator::new(sources, mint, maxt, Vec::new())),
            })
            .collect())
    }

    fn label_names(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        // The head first, as in `select`.
        let head = self.head.label_names(matchers, mint, maxt)?;
        let mut names = self.store.label_names(matchers, mint, maxt)?;
        names.extend(head);
        Ok(names.into_iter().collect())
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        // The head first, as in `select`.
        let head = self.head.label_values(name, matchers, mint, maxt)?;
        let mut values = self.store.label_values(name, matchers, mint, maxt)?;
        values.extend(head);
        Ok(values.into_iter().collect())
    }
}

impl Storage for Db {
    fn appender(&self) -> Box<dyn Appender + Send + '_> {
        Box::new(self.head.appender())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmetheus_model::storage::{Appender, MatchType};
    type Data = Vec<(Vec<Label>, Vec<(i64, f64)>)>;

    /// What a query of every series reads, or its error.
    fn everything(db: &Db) -> Result<Data, StorageError> {
        let matcher = Matcher::new(MatchType::Regex, "__name__", ".+").unwrap();
        Ok(db
            .select(&[matcher], i64::MIN, i64::MAX)?
            .into_iter()
            .map(|s| (s.labels, s.samples))
            .collect())
    }

    #[test]
    fn a_failed_chunk_read_fails_the_compaction_and_the_query_and_loses_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let options = DbOptions {
            block_range_ms: 10_000,
            retention_time_ms: None,
            ..DbOptions::default()
        };
        let db = Db::open(tmp.path(), options).unwrap();
        let mut app = db.appender();
        for t in (0..20_000).step_by(20) {
            for i in 0..200 {
                let labels = vec![Label::new("__name__", "m"), Label::new("i", i.to_string())];
                app.append(&labels, t, (t * i) as f64 / 7.0).unwrap();
            }
        }
        app.commit().unwrap();
        assert!(db.head().chunk_file_bytes() > 0, "full chunks are on file");
        let written = everything(&db).unwrap();
        assert_eq!(written.len(), 200);
        // Size-based retention counts the chunk files with the store and
        // the log.
        let wal = db.head().wal_stats().map_or(0, |(_, size)| size);
        assert_eq!(
            db.size_bytes(),
            db.store().size_on_disk() + wal + db.head().chunk_file_bytes()
        );

        db.head().fail_chunk_reads(true);
        assert!(
            everything(&db).is_err(),
            "an answer missing chunks is an error"
        );
        assert!(matches!(db.compact(), Err(DbError::HeadChunks)));
        assert_eq!(db.store().compacted_upto().unwrap(), i64::MIN);

        db.head().fail_chunk_reads(false);
        assert_eq!(everything(&db).unwrap(), written);
        let stats = db.compact().unwrap();
        assert!(stats.blocks >= 1);
        assert_eq!(everything(&db).unwrap(), written);
    }
}
