//! A queue's self-metrics under Prometheus' names, types and help texts
//! (`storage/remote/queue_manager.go`, `tsdb/wlog/watcher.go`): counters
//! and gauges in atomics, updated by the WAL reader and the shards, and
//! turned into families with the `remote_name` and `url` labels (the URL
//! redacted) when asked.

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use wasmetheus_model::{Histogram, Label, Metric, MetricFamily, MetricKind, MetricValue};

/// Prometheus' `DefBuckets` and the longer ones remote write adds.
const BUCKETS: [f64; 15] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0, 120.0, 300.0,
];

/// An `f64` in an atomic.
#[derive(Debug, Default)]
pub(crate) struct Gauge(AtomicU64);

impl Gauge {
    pub(crate) fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }
    pub(crate) fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
    pub(crate) fn add(&self, v: f64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some((f64::from_bits(old) + v).to_bits())
            });
    }
    pub(crate) fn max(&self, v: f64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                (v > f64::from_bits(old)).then_some(v.to_bits())
            });
    }
}

/// A counter of whole things.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Default)]
struct DurationHistogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// One queue's metrics.
#[derive(Debug, Default)]
pub(crate) struct QueueMetrics {
    pub samples: Counter,
    pub samples_failed: Counter,
    pub samples_retried: Counter,
    pub dropped_series: Counter,
    pub dropped_too_old: Counter,
    pub dropped_unknown: Counter,
    pub samples_pending: Gauge,
    pub bytes: Counter,
    pub metadata: Counter,
    pub metadata_failed: Counter,
    pub metadata_retried: Counter,
    pub metadata_bytes: Counter,
    pub shards: Gauge,
    pub shards_desired: Gauge,
    pub shards_min: Gauge,
    pub shards_max: Gauge,
    pub shard_capacity: Gauge,
    pub max_samples_per_send: Gauge,
    /// Seconds: the newest sample read from the WAL.
    pub highest_read: Gauge,
    /// Seconds: the newest sample acknowledged by the receiver.
    pub highest_sent: Gauge,
    pub enqueue_retries: Counter,
    pub samples_in: Counter,
    pub records_series: Counter,
    pub records_samples: Counter,
    pub records_tombstones: Counter,
    pub current_segment: Gauge,
    /// WAL segments deleted (folded into a checkpoint) before the queue
    /// read them: their samples were never sent.
    pub segments_skipped: Counter,
    durations: Mutex<DurationHistogram>,
}

impl QueueMetrics {
    /// A send attempt took `seconds`.
    pub(crate) fn observe_send(&self, seconds: f64) {
        let mut h = self.durations.lock();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }
}

fn family(name: &str, kind: MetricKind, help: &str, metrics: Vec<Metric>) -> MetricFamily {
    MetricFamily {
        name: name.to_owned(),
        kind,
        help: help.to_owned(),
        unit: String::new(),
        metrics,
    }
}

fn number(labels: Vec<Label>, value: f64) -> Metric {
    Metric {
        labels,
        value: MetricValue::Number(value),
        timestamp_ms: None,
    }
}

/// The queues' families: `queues` are (remote name, redacted URL,
/// metrics), sorted by name.
pub(crate) fn families(queues: &[(String, String, &QueueMetrics)]) -> Vec<MetricFamily> {
    use MetricKind::{Counter as C, Gauge as G};
    let labels =
        |name: &str, url: &str| vec![Label::new("remote_name", name), Label::new("url", url)];
    type Get = fn(&QueueMetrics) -> f64;
    let per_queue: [(&str, MetricKind, &str, Get); 22] = [
        (
            "prometheus_remote_storage_samples_total",
            C,
            "Total number of samples sent to remote storage.",
            |m| m.samples.get() as f64,
        ),
        (
            "prometheus_remote_storage_samples_failed_total",
            C,
            "Total number of samples which failed on send to remote storage, non-recoverable errors.",
            |m| m.samples_failed.get() as f64,
        ),
        (
            "prometheus_remote_storage_samples_retried_total",
            C,
            "Total number of samples which failed on send to remote storage but were retried because the send error was recoverable.",
            |m| m.samples_retried.get() as f64,
        ),
        (
            "prometheus_remote_storage_samples_pending",
            G,
            "The number of samples pending in the queues shards to be sent to the remote storage.",
            |m| m.samples_pending.get(),
        ),
        (
            "prometheus_remote_storage_bytes_total",
            C,
            "The total number of bytes of data (not metadata) sent by the queue after compression. Note that when exemplars over remote write is enabled the exemplars included in a remote write request count towards this metric.",
            |m| m.bytes.get() as f64,
        ),
        (
            "prometheus_remote_storage_metadata_total",
            C,
            "Total number of metadata entries sent to remote storage.",
            |m| m.metadata.get() as f64,
        ),
        (
            "prometheus_remote_storage_metadata_failed_total",
            C,
            "Total number of metadata entries which failed on send to remote storage, non-recoverable errors.",
            |m| m.metadata_failed.get() as f64,
        ),
        (
            "prometheus_remote_storage_metadata_retried_total",
            C,
            "Total number of metadata entries which failed on send to remote storage but were retried because the send error was recoverable.",
            |m| m.metadata_retried.get() as f64,
        ),
        (
            "prometheus_remote_storage_metadata_bytes_total",
            C,
            "The total number of bytes of metadata sent by the queue after compression.",
            |m| m.metadata_bytes.get() as f64,
        ),
        (
            "prometheus_remote_storage_shards",
            G,
            "The number of shards used for parallel sending to the remote storage.",
            |m| m.shards.get(),
        ),
        (
            "prometheus_remote_storage_shards_desired",
            G,
            "The number of shards that the queues shard calculation wants to run based on the rate of samples in vs. samples out.",
            |m| m.shards_desired.get(),
        ),
        (
            "prometheus_remote_storage_shards_min",
            G,
            "The minimum number of shards that the queue is allowed to run.",
            |m| m.shards_min.get(),
        ),
        (
            "prometheus_remote_storage_shards_max",
            G,
            "The maximum number of shards that the queue is allowed to run.",
            |m| m.shards_max.get(),
        ),
        (
            "prometheus_remote_storage_shard_capacity",
            G,
            "The capacity of each shard of the queue used for parallel sending to the remote storage.",
            |m| m.shard_capacity.get(),
        ),
        (
            "prometheus_remote_storage_max_samples_per_send",
            G,
            "The maximum number of samples to be sent, in a single request, to the remote storage. Note that, when sending of exemplars over remote write is enabled, exemplars count towards this limt.",
            |m| m.max_samples_per_send.get(),
        ),
        (
            "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
            G,
            "Timestamp from a WAL sample, the highest timestamp successfully sent by this queue, in seconds since epoch. Initialized to 0 when no data has been sent yet.",
            |m| m.highest_sent.get(),
        ),
        (
            "prometheus_remote_storage_queue_highest_timestamp_seconds",
            G,
            "Highest timestamp that was enqueued, in seconds since epoch. Initialized to 0 when no data has been received yet.",
            |m| m.highest_read.get(),
        ),
        (
            "prometheus_remote_storage_enqueue_retries_total",
            C,
            "Total number of times enqueue has failed because a shards queue was full.",
            |m| m.enqueue_retries.get() as f64,
        ),
        (
            "wasmetheus_remote_write_wal_segments_skipped_total",
            C,
            "WAL segments deleted by a checkpoint before the queue read them; their samples were not sent.",
            |m| m.segments_skipped.get() as f64,
        ),
        (
            "prometheus_remote_storage_exemplars_total",
            C,
            "Total number of exemplars sent to remote storage.",
            |_| 0.0,
        ),
        (
            "prometheus_remote_storage_histograms_total",
            C,
            "Total number of histograms sent to remote storage.",
            |_| 0.0,
        ),
        (
            "prometheus_remote_storage_exemplars_pending",
            G,
            "The number of exemplars pending in the queues shards to be sent to the remote storage.",
            |_| 0.0,
        ),
    ];
    let mut out = Vec::new();
    for (name, kind, help, get) in per_queue {
        let metrics = queues
            .iter()
            .map(|(q, url, m)| number(labels(q, url), get(m)))
            .collect();
        out.push(family(name, kind, help, metrics));
    }
    let dropped = queues
        .iter()
        .flat_map(|(q, url, m)| {
            [
                ("dropped_series", m.dropped_series.get()),
                ("too_old", m.dropped_too_old.get()),
                ("unintentionally_dropped_series", m.dropped_unknown.get()),
            ]
            .map(|(reason, n)| {
                let mut l = labels(q, url);
                l.insert(0, Label::new("reason", reason));
                number(l, n as f64)
            })
        })
        .collect();
    out.push(family(
        "prometheus_remote_storage_samples_dropped_total",
        C,
        "Total number of samples which were dropped after being read from the WAL before being sent via remote write, either via relabelling, due to being too old or unintentionally because of an unknown reference ID.",
        dropped,
    ));
    let histograms = queues
        .iter()
        .map(|(q, url, m)| {
            let h = m.durations.lock();
            Metric {
                labels: labels(q, url),
                value: MetricValue::Histogram(Histogram::from_cumulative(
                    &BUCKETS, &h.counts, h.count, h.sum,
                )),
                timestamp_ms: None,
            }
        })
        .collect();
    out.push(family(
        "prometheus_remote_storage_sent_batch_duration_seconds",
        MetricKind::Histogram,
        "Duration of send calls to the remote storage.",
        histograms,
    ));
    // Not per queue in Prometheus: what came in, and the newest of it.
    let samples_in: u64 = queues
        .iter()
        .map(|(_, _, m)| m.samples_in.get())
        .max()
        .unwrap_or(0);
    let highest = queues
        .iter()
        .map(|(_, _, m)| m.highest_read.get())
        .fold(0.0, f64::max);
    out.push(MetricFamily::single(
        "prometheus_remote_storage_samples_in_total",
        C,
        "Samples in to remote storage, compare to samples out for queue managers.",
        samples_in as f64,
    ));
    out.push(MetricFamily::single(
        "prometheus_remote_storage_highest_timestamp_in_seconds",
        G,
        "Highest timestamp that has come into the remote storage via the Appender interface, in seconds since epoch. Initialized to 0 when no data has been received yet.",
        highest,
    ));
    // The WAL watchers, one per queue (`consumer` is the queue's name).
    let records = queues
        .iter()
        .flat_map(|(q, _, m)| {
            [
                ("series", m.records_series.get()),
                ("samples", m.records_samples.get()),
                ("tombstones", m.records_tombstones.get()),
            ]
            .map(|(kind, n)| {
                number(
                    vec![Label::new("consumer", q.as_str()), Label::new("type", kind)],
                    n as f64,
                )
            })
        })
        .collect();
    out.push(family(
        "prometheus_wal_watcher_records_read_total",
        C,
        "Number of records read by the WAL watcher from the WAL.",
        records,
    ));
    let segments = queues
        .iter()
        .map(|(q, _, m)| {
            number(
                vec![Label::new("consumer", q.as_str())],
                m.current_segment.get(),
            )
        })
        .collect();
    out.push(family(
        "prometheus_wal_watcher_current_segment",
        G,
        "Current segment the WAL watcher is reading records from.",
        segments,
    ));
    out
}
