//! Self-metrics of the head: the counters it keeps ([`HeadStats`]) and
//! their families under Prometheus' names.

use super::Head;
use std::sync::atomic::{AtomicU64, Ordering};
use wasmetheus_model::{MetricFamily, MetricKind};

/// Why samples were rejected and what the head did, counted like
/// Prometheus' `prometheus_tsdb_*` counters.
#[derive(Debug, Default)]
pub struct HeadStats {
    pub samples_appended: AtomicU64,
    pub out_of_order_appended: AtomicU64,
    pub out_of_order: AtomicU64,
    pub out_of_bounds: AtomicU64,
    pub duplicates: AtomicU64,
    pub series_created: AtomicU64,
    pub series_removed: AtomicU64,
    pub series_limit_hit: AtomicU64,
    pub truncations: AtomicU64,
    /// Samples read back from the WAL at start-up.
    pub replayed_samples: AtomicU64,
    /// Series deleted by matchers.
    pub deletions: AtomicU64,
}

impl Head {
    /// Self-metrics under Prometheus' names, so existing dashboards work.
    pub fn metrics(&self) -> Vec<MetricFamily> {
        let family = MetricFamily::single;
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64;
        let s = &self.stats;
        let time = |t: i64, empty: i64| if t == empty { f64::NAN } else { t as f64 };
        let mut families = vec![
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
                "prometheus_tsdb_head_series_removed_total",
                MetricKind::Counter,
                "Total number of series removed in the head",
                load(&s.series_removed),
            ),
            family(
                "prometheus_tsdb_head_samples_appended_total",
                MetricKind::Counter,
                "Total number of appended samples.",
                load(&s.samples_appended),
            ),
            family(
                "prometheus_tsdb_head_out_of_order_samples_appended_total",
                MetricKind::Counter,
                "Total number of appended out of order samples.",
                load(&s.out_of_order_appended),
            ),
            family(
                "prometheus_tsdb_out_of_order_samples_total",
                MetricKind::Counter,
                "Total number of out of order samples ingestion failed attempts due to out of order being disabled.",
                load(&s.out_of_order),
            ),
            family(
                "prometheus_tsdb_out_of_bound_samples_total",
                MetricKind::Counter,
                "Total number of out of bound samples ingestion failed attempts with out of order support disabled.",
                load(&s.out_of_bounds),
            ),
            family(
                "prometheus_tsdb_head_truncations_total",
                MetricKind::Counter,
                "Total number of head truncations attempted.",
                load(&s.truncations),
            ),
            family(
                "prometheus_tsdb_head_min_time",
                MetricKind::Gauge,
                "Minimum time bound of the head block.",
                time(self.min_time(), i64::MAX),
            ),
            family(
                "prometheus_tsdb_head_max_time",
                MetricKind::Gauge,
                "Maximum timestamp of the head block.",
                time(self.max_time(), i64::MIN),
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
        ];
        let chunks = &self.chunks;
        families.extend([
            family(
                "prometheus_tsdb_head_chunks_storage_size_bytes",
                MetricKind::Gauge,
                "Size of the chunks_head directory.",
                load(&chunks.file_bytes),
            ),
            family(
                "wasmetheus_tsdb_head_chunks_memory_bytes",
                MetricKind::Gauge,
                "Bytes of full head chunks in memory: partial ones still re-sealed, complete ones written to no file yet, or kept after a failed write.",
                load(&chunks.memory_bytes),
            ),
            family(
                "wasmetheus_tsdb_head_chunk_write_failures_total",
                MetricKind::Counter,
                "Failed writes of full head chunks to their files (the chunks stayed in memory).",
                load(&chunks.write_failures),
            ),
            family(
                "wasmetheus_tsdb_head_chunk_read_failures_total",
                MetricKind::Counter,
                "Failed reads of full head chunks from their files (the compaction or query that needed them failed).",
                load(&chunks.read_failures),
            ),
        ]);
        if let Some((w, size)) = self.wal_stats() {
            families.extend([
                family(
                    "prometheus_tsdb_wal_storage_size_bytes",
                    MetricKind::Gauge,
                    "Size of the write log directory.",
                    size as f64,
                ),
                family(
                    "prometheus_tsdb_wal_writes_failed_total",
                    MetricKind::Counter,
                    "Total number of write log writes that failed.",
                    w.write_failures as f64,
                ),
                family(
                    "prometheus_tsdb_wal_record_bytes_saved_total",
                    MetricKind::Counter,
                    "Total bytes saved by the optional record compression.",
                    0.0,
                ),
                family(
                    "prometheus_tsdb_wal_segment_current",
                    MetricKind::Gauge,
                    "Write log segment index that TSDB is currently writing to.",
                    self.wal
                        .lock()
                        .as_ref()
                        .map_or(0.0, |w| w.current_segment() as f64),
                ),
                family(
                    "prometheus_tsdb_wal_truncations_total",
                    MetricKind::Counter,
                    "Total number of write log truncations attempted.",
                    w.truncations as f64,
                ),
                family(
                    "prometheus_tsdb_checkpoint_creations_total",
                    MetricKind::Counter,
                    "Total number of checkpoint creations attempted.",
                    w.checkpoints_created as f64,
                ),
                family(
                    "prometheus_tsdb_checkpoint_creations_failed_total",
                    MetricKind::Counter,
                    "Total number of checkpoint creations that failed.",
                    w.checkpoint_failures as f64,
                ),
                family(
                    "wasmetheus_tsdb_wal_bytes_written_total",
                    MetricKind::Counter,
                    "Bytes written to the write-ahead log.",
                    w.bytes_written as f64,
                ),
                family(
                    "wasmetheus_tsdb_wal_fsyncs_total",
                    MetricKind::Counter,
                    "fsync calls on the write-ahead log.",
                    w.fsyncs as f64,
                ),
            ]);
        }
        families
    }
}
