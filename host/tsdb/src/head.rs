//! The head block: every series appended to recently, with its samples in
//! compressed in-memory chunks, and the postings index that finds series by
//! label matchers. Implements the storage traits of `wasmetheus-model`.

use crate::chunk::XorChunk;
use crate::index::{Index, SeriesRef};
use crate::wal::{Record, ReplayStats, Wal, WalError};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use wasmetheus_model::Label;
use wasmetheus_model::storage::{
    AppendError, Appender, Matcher, Queryable, SeriesSamples, Storage, StorageError,
};
use wasmetheus_model::{MetricFamily, MetricKind};

/// One series in memory: its chunks, oldest first; the last one is open.
struct MemSeries {
    chunks: Vec<XorChunk>,
    last: Option<(i64, f64)>,
}

impl MemSeries {
    fn new() -> Self {
        MemSeries {
            chunks: Vec::new(),
            last: None,
        }
    }

    /// Checks a sample against the series' last one: `Ok(false)` for an
    /// exact duplicate, which Prometheus accepts and ignores.
    fn admit(last: Option<(i64, f64)>, t: i64, v: f64) -> Result<bool, AppendError> {
        match last {
            Some((last_t, _)) if t < last_t => Err(AppendError::OutOfOrder { last: last_t, t }),
            Some((last_t, last_v)) if t == last_t => {
                if last_v.to_bits() == v.to_bits() {
                    Ok(false)
                } else {
                    Err(AppendError::DuplicateTimestamp { t })
                }
            }
            _ => Ok(true),
        }
    }

    fn append(&mut self, t: i64, v: f64) {
        if self.chunks.last().is_none_or(XorChunk::is_full) {
            self.chunks.push(XorChunk::new());
        }
        let chunk = self.chunks.last_mut().expect("a chunk was just ensured");
        // `admit` ran under the same lock, so the chunk accepts the sample.
        if chunk.append(t, v).is_ok() {
            self.last = Some((t, v));
        }
    }

    fn samples_in(&self, mint: i64, maxt: i64, out: &mut Vec<(i64, f64)>) {
        for chunk in &self.chunks {
            if chunk.is_empty() || chunk.max_time() < mint || chunk.min_time() > maxt {
                continue;
            }
            out.extend(
                chunk
                    .iter()
                    .skip_while(|(t, _)| *t < mint)
                    .take_while(|(t, _)| *t <= maxt),
            );
        }
    }

    fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.chunks
            .iter()
            .any(|c| !c.is_empty() && c.max_time() >= mint && c.min_time() <= maxt)
    }
}

/// Why samples were rejected, counted like Prometheus'
/// `prometheus_tsdb_*` counters.
#[derive(Debug, Default)]
pub struct HeadStats {
    pub samples_appended: AtomicU64,
    pub out_of_order: AtomicU64,
    pub duplicates: AtomicU64,
    pub series_created: AtomicU64,
    pub series_limit_hit: AtomicU64,
    /// Samples read back from the WAL at start-up.
    pub replayed_samples: AtomicU64,
}

/// Limits of the head.
#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    /// Most series the head holds; appends creating more fail.
    pub max_series: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits {
            max_series: 10_000_000,
        }
    }
}

/// The in-memory head: series, chunks and index, optionally backed by a
/// write-ahead log.
pub struct Head {
    index: RwLock<Index>,
    series: RwLock<Vec<Arc<Mutex<MemSeries>>>>,
    limits: HeadLimits,
    pub stats: HeadStats,
    /// Whether appends are logged: set for a head opened on a log.
    durable: bool,
    /// Held from writing a batch to the log until it is applied, so memory
    /// and log see batches in the same order; `None` once closed.
    wal: Mutex<Option<Wal>>,
    /// Series created since the last commit; logged before any sample.
    unlogged_series: Mutex<Vec<Record>>,
}

impl Default for Head {
    fn default() -> Self {
        Head::new(HeadLimits::default())
    }
}

impl Head {
    /// A head kept only in memory.
    pub fn new(limits: HeadLimits) -> Self {
        Head {
            index: RwLock::new(Index::default()),
            series: RwLock::new(Vec::new()),
            limits,
            stats: HeadStats::default(),
            durable: false,
            wal: Mutex::new(None),
            unlogged_series: Mutex::new(Vec::new()),
        }
    }

    /// A head backed by the write-ahead log in `dir`: the log is replayed
    /// first (with a progress line), then every commit is logged before it
    /// is acknowledged. With `sync`, commits also survive power loss.
    pub fn open(dir: &std::path::Path, limits: HeadLimits, sync: bool) -> Result<Self, WalError> {
        let mut head = Head::new(limits);
        let started = std::time::Instant::now();
        let (wal, stats) = Wal::open(dir, sync, |record| head.replay(record))?;
        log_replay(&stats, started.elapsed());
        head.stats
            .replayed_samples
            .store(stats.samples, Ordering::Relaxed);
        head.wal = Mutex::new(Some(wal));
        head.durable = true;
        Ok(head)
    }

    /// Closes the log: later commits fail, and the log's lock is released
    /// now rather than when the last reference to the head goes away (a
    /// new head may then open the same directory).
    pub fn close(&self) {
        self.wal.lock().take();
    }

    fn replay(&mut self, record: Record) {
        match record {
            Record::Series { r, labels } => {
                let series = self.series.get_mut();
                // Refs are logged in creation order; anything else is a
                // log from another head and is skipped.
                if r as usize == series.len() {
                    self.index.get_mut().insert(&labels, r);
                    series.push(Arc::new(Mutex::new(MemSeries::new())));
                }
            }
            Record::Samples(samples) => {
                let series = self.series.get_mut();
                for (r, t, v) in samples {
                    if let Some(s) = series.get(r as usize) {
                        let mut s = s.lock();
                        if MemSeries::admit(s.last, t, v) == Ok(true) {
                            s.append(t, v);
                        }
                    }
                }
            }
        }
    }

    /// Number of series in the head.
    pub fn num_series(&self) -> usize {
        self.series.read().len()
    }

    /// The series `labels`, created if new.
    fn get_or_create(&self, labels: &[Label]) -> Result<SeriesRef, AppendError> {
        if let Some(r) = self.index.read().lookup(labels) {
            return Ok(r);
        }
        let mut index = self.index.write();
        if let Some(r) = index.lookup(labels) {
            return Ok(r);
        }
        let mut series = self.series.write();
        if series.len() >= self.limits.max_series {
            self.stats.series_limit_hit.fetch_add(1, Ordering::Relaxed);
            return Err(AppendError::SeriesLimit {
                limit: self.limits.max_series,
            });
        }
        let r = index.insert(labels, series.len() as SeriesRef);
        series.push(Arc::new(Mutex::new(MemSeries::new())));
        if self.durable {
            self.unlogged_series.lock().push(Record::Series {
                r,
                labels: labels.to_vec(),
            });
        }
        self.stats.series_created.fetch_add(1, Ordering::Relaxed);
        Ok(r)
    }

    fn series(&self, r: SeriesRef) -> Arc<Mutex<MemSeries>> {
        Arc::clone(&self.series.read()[r as usize])
    }

    /// An appender whose samples become visible at `commit`.
    pub fn appender(&self) -> HeadAppender<'_> {
        HeadAppender {
            head: self,
            pending: Vec::new(),
            pending_last: HashMap::new(),
        }
    }

    fn matching(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesRef> {
        let refs = self.index.read().select(matchers);
        let series = self.series.read();
        refs.into_iter()
            .filter(|r| series[*r as usize].lock().overlaps(mint, maxt))
            .collect()
    }
}

/// Queues samples for the head; see [`Appender`].
pub struct HeadAppender<'a> {
    head: &'a Head,
    pending: Vec<(SeriesRef, i64, f64)>,
    /// Last queued sample per series, so a batch is checked in order.
    pending_last: HashMap<SeriesRef, (i64, f64)>,
}

impl Appender for HeadAppender<'_> {
    fn append(&mut self, labels: &[Label], t: i64, v: f64) -> Result<(), AppendError> {
        if labels.windows(2).any(|w| w[0].name >= w[1].name) {
            return Err(AppendError::InvalidSeries(
                "labels must be sorted by name and unique".into(),
            ));
        }
        let r = self.head.get_or_create(labels)?;
        let last = match self.pending_last.get(&r) {
            Some(last) => Some(*last),
            None => self.head.series(r).lock().last,
        };
        let stats = &self.head.stats;
        match MemSeries::admit(last, t, v) {
            Ok(true) => {
                self.pending.push((r, t, v));
                self.pending_last.insert(r, (t, v));
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(e) => {
                let counter = match e {
                    AppendError::OutOfOrder { .. } => &stats.out_of_order,
                    _ => &stats.duplicates,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    fn commit(&mut self) -> Result<(), StorageError> {
        let mut wal = self.head.wal.lock();
        if self.head.durable {
            let Some(wal) = wal.as_mut() else {
                self.rollback();
                return Err(StorageError("the TSDB is closed".into()));
            };
            let mut records = std::mem::take(&mut *self.head.unlogged_series.lock());
            if !self.pending.is_empty() {
                records.push(Record::Samples(self.pending.clone()));
            }
            if !records.is_empty()
                && let Err(e) = wal.log(&records)
            {
                // Nothing of this batch is applied; the series records go
                // back so a later commit logs them.
                let mut unlogged = self.head.unlogged_series.lock();
                let series: Vec<Record> = records
                    .into_iter()
                    .filter(|r| matches!(r, Record::Series { .. }))
                    .collect();
                unlogged.splice(0..0, series);
                self.rollback();
                return Err(StorageError(e.to_string()));
            }
        }
        let mut appended = 0;
        for (r, t, v) in self.pending.drain(..) {
            let series = self.head.series(r);
            let mut series = series.lock();
            // Another appender may have written this series meanwhile.
            if MemSeries::admit(series.last, t, v) == Ok(true) {
                series.append(t, v);
                appended += 1;
            }
        }
        self.pending_last.clear();
        self.head
            .stats
            .samples_appended
            .fetch_add(appended, Ordering::Relaxed);
        Ok(())
    }

    fn rollback(&mut self) {
        self.pending.clear();
        self.pending_last.clear();
    }
}

impl Storage for Head {
    fn appender(&self) -> Box<dyn Appender + Send + '_> {
        Box::new(Head::appender(self))
    }
}

impl Head {
    /// Self-metrics under Prometheus' names, so existing dashboards work.
    pub fn metrics(&self) -> Vec<MetricFamily> {
        let family = MetricFamily::single;
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64;
        let s = &self.stats;
        vec![
            family(
                "prometheus_tsdb_head_series",
                MetricKind::Gauge,
                "Total number of series in the head block.",
                self.num_series() as f64,
            ),
            family(
                "prometheus_tsdb_head_series_created_total",
                MetricKind::Counter,
                "Total number of series created in the head",
                load(&s.series_created),
            ),
            family(
                "prometheus_tsdb_head_samples_appended_total",
                MetricKind::Counter,
                "Total number of appended samples.",
                load(&s.samples_appended),
            ),
            family(
                "prometheus_tsdb_out_of_order_samples_total",
                MetricKind::Counter,
                "Total number of out of order samples ingestion failed attempts due to out of order being disabled.",
                load(&s.out_of_order),
            ),
            family(
                "wasmetheus_tsdb_wal_replayed_samples",
                MetricKind::Gauge,
                "Samples read back from the write-ahead log at start-up.",
                load(&s.replayed_samples),
            ),
            family(
                "wasmetheus_tsdb_series_limit_hits_total",
                MetricKind::Counter,
                "Appends that would have created a series beyond the head's series limit.",
                load(&s.series_limit_hit),
            ),
            family(
                "wasmetheus_tsdb_duplicate_samples_total",
                MetricKind::Counter,
                "Samples rejected for a timestamp already holding a different value.",
                load(&s.duplicates),
            ),
        ]
    }
}

impl Queryable for Head {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SeriesSamples>, StorageError> {
        let refs = self.matching(matchers, mint, maxt);
        let index = self.index.read();
        let mut out: Vec<SeriesSamples> = refs
            .into_iter()
            .map(|r| {
                let mut samples = Vec::new();
                self.series(r).lock().samples_in(mint, maxt, &mut samples);
                SeriesSamples {
                    labels: index.labels(r),
                    samples,
                }
            })
            .collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    fn label_names(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        let refs = self.matching(matchers, mint, maxt);
        let index = self.index.read();
        let mut names: Vec<String> = refs
            .iter()
            .flat_map(|r| index.labels(*r).into_iter().map(|l| l.name))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        let refs = self.matching(matchers, mint, maxt);
        let index = self.index.read();
        let mut values: Vec<String> = refs
            .iter()
            .filter_map(|r| {
                index
                    .labels(*r)
                    .into_iter()
                    .find(|l| l.name == name)
                    .map(|l| l.value)
            })
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }
}

fn log_replay(stats: &ReplayStats, took: std::time::Duration) {
    let secs = took.as_secs_f64().max(1e-9);
    tracing::info!(
        series = stats.series,
        samples = stats.samples,
        truncated_bytes = stats.truncated_bytes,
        "WAL replay done in {:.2} s ({:.0} samples/s)",
        secs,
        stats.samples as f64 / secs
    );
}
