//! One queue (Prometheus' `QueueManager` and its WAL watcher): a thread
//! tails the WAL ([`wasmetheus_tsdb::wal_reader::WalTail`]), follows the
//! series bindings, turns each series into its labels to send (external
//! labels, then `write_relabel_configs`), and hands each sample to a shard
//! chosen by its series ref, so a series' samples keep their order. Each
//! shard (a task) batches up to `max_samples_per_send` samples or for
//! `batch_send_deadline` and sends the batch ([`crate::send`]). The
//! thread never waits on the WAL's writer: when the shards are full it
//! waits on them instead (counted as enqueue retries).
//!
//! Nothing is lost across outages and restarts: every WAL record read
//! gets a sequence number and a count of its samples in flight; the
//! position after the last record whose samples were all acknowledged (a
//! low watermark) is written to `<name>.position` every few seconds and
//! at stop. A queue that finds its position resumes there (series read
//! again from the checkpoint and segments before it); one that does not
//! starts at the WAL's end.
//!
//! The number of shards follows Prometheus' `calculateDesiredShards`:
//! exponentially weighted rates of samples in, samples out and time spent
//! sending, updated every 10 s, bounded by `min_shards`/`max_shards`;
//! resharding drains the old shards before the new ones start.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};
use wasmetheus_config::{RemoteWriteConfig, WriteMessage};
use wasmetheus_model::Label;
use wasmetheus_tsdb::wal::Record;
use wasmetheus_tsdb::wal_reader::{
    TailRead, WalPosition, WalTail, read_checkpoint, wal_end, wal_start,
};

use crate::MetadataSource;
use crate::metrics::{Counter, QueueMetrics};
use crate::send::{Kind, MetadataMap, Outcome, Pending, Sender, Series, encode_v1, encode_v2};

/// How often the position is written while running.
const SAVE_EVERY: Duration = Duration::from_secs(2);
/// Records read from the WAL at a time.
const READ_BATCH: usize = 256;

/// Settings of a queue that are not in its configuration.
#[derive(Debug, Clone)]
pub(crate) struct QueueOptions {
    pub wal_dir: PathBuf,
    pub position_file: PathBuf,
    pub poll_interval: Duration,
    pub flush_deadline: Duration,
    pub shard_update_interval: Duration,
    pub handle: tokio::runtime::Handle,
}

/// The in-flight records, oldest first, and the position everything
/// before which was acknowledged.
#[derive(Debug)]
struct Watermark {
    first_seq: u64,
    /// (position after the record, samples in flight, still being read).
    pending: VecDeque<(WalPosition, usize, bool)>,
    acked: WalPosition,
}

impl Watermark {
    fn begin(&mut self, position: WalPosition) -> u64 {
        self.pending.push_back((position, 0, true));
        self.first_seq + self.pending.len() as u64 - 1
    }
    fn add(&mut self, seq: u64) {
        if let Some(entry) = self.pending.get_mut((seq - self.first_seq) as usize) {
            entry.1 += 1;
        }
    }
    /// Marks record `seq` (the last begun) read. One that ends with
    /// nothing in flight behind another is merged into it (its position
    /// moves into the entry before), so the list holds no more entries
    /// than records with samples in flight, plus one: records whose
    /// samples were all dropped take no room while a receiver is down.
    fn finish(&mut self, seq: u64) {
        let Some(i) = seq.checked_sub(self.first_seq).map(|i| i as usize) else {
            return;
        };
        let Some(entry) = self.pending.get_mut(i) else {
            return;
        };
        entry.2 = false;
        let (position, in_flight, _) = *entry;
        if in_flight == 0 && i > 0 && i + 1 == self.pending.len() {
            self.pending.pop_back();
            if let Some(before) = self.pending.back_mut() {
                before.0 = position;
            }
        }
        self.advance();
    }
    fn ack(&mut self, seq: u64, n: usize) {
        if let Some(i) = seq.checked_sub(self.first_seq)
            && let Some(entry) = self.pending.get_mut(i as usize)
        {
            entry.1 = entry.1.saturating_sub(n);
        }
        self.advance();
    }
    fn advance(&mut self) {
        while let Some(&(position, 0, false)) = self.pending.front() {
            self.acked = position;
            self.pending.pop_front();
            self.first_seq += 1;
        }
    }
}

/// What the watcher thread and the shards share.
struct Shared {
    sender: Sender,
    metrics: Arc<QueueMetrics>,
    watermark: Mutex<Watermark>,
    /// True: abandon what is in flight now.
    hard: watch::Sender<bool>,
    metadata: Mutex<Arc<MetadataMap>>,
    last_send: Mutex<Instant>,
    out_samples: Counter,
    out_nanos: Counter,
    max_per_send: usize,
    deadline: Duration,
}

/// A running queue.
pub(crate) struct Queue {
    pub config: RemoteWriteConfig,
    pub external: BTreeMap<String, String>,
    pub name: String,
    pub url: String,
    pub metrics: Arc<QueueMetrics>,
    soft: watch::Sender<bool>,
    /// Set when the queue is removed: its position is not saved again.
    forget: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    flush_deadline: Duration,
}

impl Queue {
    /// Starts the queue of `config`.
    pub(crate) fn start(
        config: &RemoteWriteConfig,
        external: &BTreeMap<String, String>,
        name: &str,
        options: QueueOptions,
        metadata_source: Arc<dyn MetadataSource>,
    ) -> Result<Queue, String> {
        let sender = Sender::new(config, name)?;
        // A new queue starts at the WAL's end as of now (not when its
        // thread gets going), written down at once.
        // One whose position cannot be read starts at the WAL's start:
        // nothing is skipped (some samples may be sent twice).
        let start = match load_position(&options.position_file) {
            Ok(Some(_)) => None,
            Ok(None) => Some(wal_end(&options.wal_dir).unwrap_or_default()),
            Err(e) => {
                tracing::warn!(
                    remote_name = %name,
                    "the saved position in {} is unreadable ({e}); starting at the WAL's start",
                    options.position_file.display()
                );
                Some(wal_start(&options.wal_dir).unwrap_or_default().0)
            }
        };
        if let Some(start) = start {
            save_position(&options.position_file, start).map_err(|e| {
                format!(
                    "saving the remote write position in {}: {e}",
                    options.position_file.display()
                )
            })?;
        }
        let url = sender.url.clone();
        let q = &config.queue_config;
        let metrics = Arc::new(QueueMetrics::default());
        metrics.shards_min.set(q.min_shards as f64);
        metrics.shards_max.set(q.max_shards as f64);
        metrics.shard_capacity.set(q.capacity as f64);
        metrics
            .max_samples_per_send
            .set(q.max_samples_per_send as f64);
        let (hard, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            sender,
            metrics: Arc::clone(&metrics),
            watermark: Mutex::new(Watermark {
                first_seq: 0,
                pending: VecDeque::new(),
                acked: WalPosition::default(),
            }),
            hard,
            metadata: Mutex::new(Arc::new(MetadataMap::new())),
            last_send: Mutex::new(Instant::now()),
            out_samples: Counter::default(),
            out_nanos: Counter::default(),
            max_per_send: q.max_samples_per_send.max(1) as usize,
            deadline: q.batch_send_deadline.0,
        });
        let (soft, soft_rx) = watch::channel(false);
        if config.metadata_config.send {
            let interval = config
                .metadata_config
                .send_interval
                .0
                .max(Duration::from_millis(10));
            let per_send = config.metadata_config.max_samples_per_send.max(1) as usize;
            options.handle.spawn(send_metadata(
                Arc::clone(&shared),
                metadata_source,
                interval,
                per_send,
                soft_rx.clone(),
            ));
        }
        let forget = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut watcher = Watcher {
            shared,
            relabel: config.write_relabel_configs.clone(),
            external: external
                .iter()
                .map(|(k, v)| Label::new(k.clone(), v.clone()))
                .collect(),
            age_limit: q.sample_age_limit.0,
            capacity: q.capacity.max(1) as usize,
            min_shards: q.min_shards.max(1) as usize,
            max_shards: q.max_shards.max(1) as usize,
            min_backoff: q.min_backoff.0,
            series: HashMap::new(),
            collected: None,
            options: options.clone(),
            soft: soft_rx,
            replay_until: WalPosition::default(),
            saved: None,
            forget: Arc::clone(&forget),
        };
        let thread = std::thread::Builder::new()
            .name(format!("remote-write-{name}"))
            .spawn(move || watcher.run())
            .map_err(|e| format!("starting the remote write queue: {e}"))?;
        Ok(Queue {
            config: config.clone(),
            external: external.clone(),
            name: name.to_owned(),
            url,
            metrics,
            soft,
            forget,
            thread: Some(thread),
            flush_deadline: options.flush_deadline,
        })
    }

    /// Stops the queue of an entry removed from the configuration: as
    /// [`Queue::stop`], then its position file is deleted (and not written
    /// again by a thread that outlives the stop).
    pub(crate) async fn remove(self, position_file: PathBuf) {
        self.forget.store(true, std::sync::atomic::Ordering::SeqCst);
        let name = self.name.clone();
        self.stop().await;
        remove_position(&position_file, &name);
    }

    /// Stops reading, sends what is queued within the flush deadline,
    /// abandons the rest (it is read again at the next start) and saves
    /// the position.
    pub(crate) async fn stop(mut self) {
        let _ = self.soft.send(true);
        let Some(thread) = self.thread.take() else {
            return;
        };
        let join = tokio::task::spawn_blocking(move || thread.join());
        let bound = self.flush_deadline + Duration::from_secs(5);
        if tokio::time::timeout(bound, join).await.is_err() {
            tracing::warn!(remote_name = %self.name, "remote write queue did not stop in time");
        }
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        // A queue dropped without `stop` still stops reading.
        let _ = self.soft.send(true);
    }
}

/// Sends the metadata the server knows every `interval` (1.0 only; 2.0
/// carries it with each series).
async fn send_metadata(
    shared: Arc<Shared>,
    source: Arc<dyn MetadataSource>,
    interval: Duration,
    per_send: usize,
    mut soft: watch::Receiver<bool>,
) {
    let mut hard = shared.hard.subscribe();
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = async { let _ = soft.wait_for(|s| *s).await; } => return,
        }
        let entries = source.metadata();
        let map: MetadataMap = entries
            .iter()
            .map(|m| (m.metric_family_name.clone(), m.clone()))
            .collect();
        *shared.metadata.lock() = Arc::new(map);
        if shared.sender.message() != WriteMessage::V1 {
            continue;
        }
        for chunk in entries.chunks(per_send) {
            let body = Bytes::from(encode_v1(&[], chunk.to_vec()));
            let outcome = shared
                .sender
                .send(
                    body,
                    chunk.len(),
                    Kind::Metadata,
                    &shared.metrics,
                    &mut hard,
                )
                .await;
            if outcome == Outcome::Abandoned {
                return;
            }
        }
    }
}

/// The shards of the moment.
struct Shards {
    senders: Vec<mpsc::Sender<Pending>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Shards {
    fn start(
        n: usize,
        capacity: usize,
        shared: &Arc<Shared>,
        handle: &tokio::runtime::Handle,
    ) -> Shards {
        let mut senders = Vec::with_capacity(n);
        let mut tasks = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = mpsc::channel(capacity);
            senders.push(tx);
            tasks.push(handle.spawn(run_shard(rx, Arc::clone(shared))));
        }
        shared.metrics.shards.set(n as f64);
        Shards { senders, tasks }
    }

    fn finished(&self) -> bool {
        self.tasks.iter().all(|t| t.is_finished())
    }
}

async fn run_shard(mut rx: mpsc::Receiver<Pending>, shared: Arc<Shared>) {
    let mut hard = shared.hard.subscribe();
    let mut hard_wait = shared.hard.subscribe();
    let mut batch: Vec<Pending> = Vec::with_capacity(shared.max_per_send);
    let mut due: Option<tokio::time::Instant> = None;
    loop {
        let timer = async {
            match due {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = async { let _ = hard_wait.wait_for(|s| *s).await; } => return,
            message = rx.recv() => match message {
                Some(p) => {
                    batch.push(p);
                    if batch.len() >= shared.max_per_send {
                        flush(&shared, &mut batch, &mut hard).await;
                        due = None;
                    } else if due.is_none() {
                        due = Some(tokio::time::Instant::now() + shared.deadline);
                    }
                }
                None => {
                    if !batch.is_empty() {
                        flush(&shared, &mut batch, &mut hard).await;
                    }
                    return;
                }
            },
            () = timer => {
                flush(&shared, &mut batch, &mut hard).await;
                due = None;
            }
        }
    }
}

async fn flush(shared: &Shared, batch: &mut Vec<Pending>, hard: &mut watch::Receiver<bool>) {
    if batch.is_empty() {
        return;
    }
    let started = Instant::now();
    let n = batch.len();
    let outcome = loop {
        let body = match shared.sender.message() {
            WriteMessage::V1 => encode_v1(batch, Vec::new()),
            WriteMessage::V2 => {
                let metadata = Arc::clone(&shared.metadata.lock());
                encode_v2(batch, &metadata)
            }
        };
        let outcome = shared
            .sender
            .send(Bytes::from(body), n, Kind::Samples, &shared.metrics, hard)
            .await;
        // Refused as 2.0: encoded again as 1.0.
        if outcome != Outcome::Unsupported {
            break outcome;
        }
    };
    if outcome == Outcome::Abandoned {
        batch.clear();
        return;
    }
    if outcome == Outcome::Sent {
        let highest = batch.iter().map(|p| p.t).max().unwrap_or(0);
        shared.metrics.highest_sent.max(highest as f64 / 1e3);
        *shared.last_send.lock() = Instant::now();
        shared.out_samples.add(n as u64);
        shared.out_nanos.add(started.elapsed().as_nanos() as u64);
    }
    shared.metrics.samples_pending.add(-(n as f64));
    let mut watermark = shared.watermark.lock();
    let mut i = 0;
    while i < batch.len() {
        let seq = batch[i].seq;
        let run = batch[i..].iter().take_while(|p| p.seq == seq).count();
        watermark.ack(seq, run);
        i += run;
    }
    batch.clear();
}

/// An exponentially weighted rate (Prometheus' `ewmaRate`, weight 0.2).
#[derive(Debug, Default)]
struct Ewma {
    rate: f64,
    init: bool,
    last: u64,
}

impl Ewma {
    fn tick(&mut self, total: u64, seconds: f64) -> f64 {
        let instant = (total - self.last.min(total)) as f64 / seconds;
        self.last = total;
        if self.init {
            self.rate += 0.2 * (instant - self.rate);
        } else {
            self.init = true;
            self.rate = instant;
        }
        self.rate
    }
}

/// Prometheus' `calculateDesiredShards`.
fn desired_shards(
    current: usize,
    in_rate: f64,
    out_rate: f64,
    dropped_rate: f64,
    out_seconds_rate: f64,
    delay_seconds: f64,
    (min, max): (usize, usize),
) -> usize {
    if out_rate <= 0.0 {
        return current;
    }
    let kept_ratio = out_rate / (dropped_rate + out_rate);
    let pending = delay_seconds.max(0.0) * in_rate * kept_ratio;
    let backlog_catchup = 0.05 * pending;
    let time_per_sample = out_seconds_rate / out_rate;
    let desired = time_per_sample * (in_rate * kept_ratio + backlog_catchup);
    let (lower, upper) = (current as f64 * 0.7, current as f64 * 1.3);
    if desired >= lower && desired <= upper {
        return current;
    }
    (desired.ceil() as usize).clamp(min, max)
}

/// The WAL-reading side of a queue.
struct Watcher {
    shared: Arc<Shared>,
    relabel: Vec<wasmetheus_relabel::RelabelConfig>,
    external: Vec<Label>,
    age_limit: Duration,
    capacity: usize,
    min_shards: usize,
    max_shards: usize,
    min_backoff: Duration,
    /// Series by WAL ref: `None` when relabelling dropped it.
    /// With the segment of the binding, for [`collect_series`].
    series: HashMap<u32, (Option<Arc<Series>>, u64)>,
    /// The checkpoint the series were last collected at.
    collected: Option<u64>,
    options: QueueOptions,
    soft: watch::Receiver<bool>,
    /// Records up to here were sent before: their series are read, their
    /// samples not.
    replay_until: WalPosition,
    saved: Option<WalPosition>,
    forget: Arc<std::sync::atomic::AtomicBool>,
}

impl Watcher {
    fn stopping(&self) -> bool {
        *self.soft.borrow()
    }

    /// The labels to send for `labels`, or `None` when dropped.
    fn series_of(&self, labels: &[Label]) -> Option<Arc<Series>> {
        let mut merged = labels.to_vec();
        for l in &self.external {
            if !merged.iter().any(|m| m.name == l.name) {
                merged.push(l.clone());
            }
        }
        merged.sort_by(|a, b| a.name.cmp(&b.name));
        let labels = wasmetheus_relabel::relabel(&merged, &self.relabel)?;
        if labels.is_empty() {
            return None;
        }
        let name = labels
            .iter()
            .find(|l| l.name == "__name__")
            .map(|l| l.value.clone())
            .unwrap_or_default();
        Some(Arc::new(Series {
            labels: labels
                .into_iter()
                .map(|l| wasmetheus_prompb::types::Label {
                    name: l.name,
                    value: l.value,
                })
                .collect(),
            name,
        }))
    }

    fn bind(&mut self, r: u32, labels: &[Label], segment: u64) {
        let series = self.series_of(labels);
        self.series.insert(r, (series, segment));
    }

    fn read_checkpoint_series(&mut self) {
        let mut bindings = Vec::new();
        let result = read_checkpoint(&self.options.wal_dir, |record| {
            if let Record::Series { r, labels } = record {
                bindings.push((r, labels));
            }
        });
        match result {
            Ok(Some(n)) => {
                for (r, labels) in bindings {
                    self.bind(r, &labels, n);
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(
                remote_name = %self.shared.sender.name,
                "reading the WAL checkpoint: {e}"
            ),
        }
    }

    /// Forgets the series a new checkpoint left out (the head dropped
    /// them), once the tail is past the segments it folded, as
    /// Prometheus' `SeriesReset`.
    fn collect_series(&mut self, reading: u64) {
        let Ok((_, Some(n))) = wal_start(&self.options.wal_dir) else {
            return;
        };
        if self.collected == Some(n) || reading <= n {
            return;
        }
        let mut live = std::collections::HashSet::new();
        let result = read_checkpoint(&self.options.wal_dir, |record| {
            if let Record::Series { r, .. } = record {
                live.insert(r);
            }
        });
        if let Ok(Some(read)) = result {
            collect_series(&mut self.series, read, &live);
            self.collected = Some(read);
        }
    }

    /// Where to start, and the tail reading from the first segment.
    fn open(&mut self) -> WalTail {
        let dir = self.options.wal_dir.clone();
        let end = wal_end(&dir).unwrap_or_default();
        let (first, _) = wal_start(&dir).unwrap_or_default();
        let saved = match load_position(&self.options.position_file) {
            Ok(saved) => saved,
            Err(e) => {
                // Nothing is skipped: everything the WAL still holds is
                // sent (some samples maybe twice).
                tracing::warn!(
                    remote_name = %self.shared.sender.name,
                    "the saved position in {} is unreadable ({e}); starting at the WAL's start",
                    self.options.position_file.display()
                );
                Some(first)
            }
        };
        let start = match saved {
            Some(saved) if saved <= end => saved,
            Some(saved) => {
                tracing::warn!(
                    remote_name = %self.shared.sender.name,
                    "the saved position {saved} is beyond the WAL's end {end}; starting at the end"
                );
                end
            }
            None => end,
        };
        tracing::info!(remote_name = %self.shared.sender.name, url = %self.shared.sender.url, "starting remote write queue at WAL position {start}");
        self.read_checkpoint_series();
        if start < first {
            let skipped = first.segment.saturating_sub(start.segment);
            self.shared.metrics.segments_skipped.add(skipped);
            tracing::warn!(
                remote_name = %self.shared.sender.name,
                "WAL segments {} to {} were folded into a checkpoint and deleted since this queue stopped at {start}; their samples are not sent; starting at {first}",
                start.segment,
                first.segment.saturating_sub(1)
            );
        }
        self.replay_until = start;
        self.shared.watermark.lock().acked = start.max(first);
        // Written at the first save unless the file already says so: a
        // queue stopped before anything was acknowledged resumes here.
        self.saved = saved.filter(|s| *s == start);
        WalTail::new(&dir, first)
    }

    fn save(&mut self) {
        if self.forget.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let acked = self.shared.watermark.lock().acked;
        if self.saved != Some(acked) {
            match save_position(&self.options.position_file, acked) {
                Ok(()) => self.saved = Some(acked),
                Err(e) => tracing::warn!(
                    remote_name = %self.shared.sender.name,
                    "saving the remote write position in {}: {e}",
                    self.options.position_file.display()
                ),
            }
        }
    }

    fn run(&mut self) {
        let mut tail = self.open();
        // From now on a restart resumes here, even after a crash.
        self.save();
        let handle = self.options.handle.clone();
        let mut shards = Shards::start(self.min_shards, self.capacity, &self.shared, &handle);
        let mut last_save = Instant::now();
        let mut last_update = Instant::now();
        let (mut in_rate, mut out_rate, mut dropped_rate, mut out_time) = (
            Ewma::default(),
            Ewma::default(),
            Ewma::default(),
            Ewma::default(),
        );
        'read: while !self.stopping() {
            let tail_segment = tail.position().segment;
            match tail.read(READ_BATCH) {
                Err(e) => {
                    tracing::warn!(remote_name = %self.shared.sender.name, "reading the WAL: {e}");
                    std::thread::sleep(self.options.poll_interval.max(Duration::from_millis(500)));
                }
                Ok(TailRead::Gone { checkpoint, next }) => {
                    let from = tail_segment;
                    let skipped = next.saturating_sub(from);
                    self.shared.metrics.segments_skipped.add(skipped);
                    tracing::warn!(
                        remote_name = %self.shared.sender.name,
                        "WAL segments {from} to {} were deleted (checkpoint {checkpoint:?}) before this queue read them; their samples are not sent; going on at segment {next}",
                        next.saturating_sub(1)
                    );
                    self.read_checkpoint_series();
                }
                Ok(TailRead::Records(records)) if records.is_empty() => {
                    std::thread::sleep(self.options.poll_interval);
                }
                Ok(TailRead::Records(records)) => {
                    for (record, position) in records {
                        if !self.process(record, position, &shards) {
                            break 'read;
                        }
                    }
                }
            }
            self.shared
                .metrics
                .current_segment
                .set(tail.position().segment as f64);
            if last_save.elapsed() >= SAVE_EVERY {
                self.collect_series(tail.position().segment);
                self.save();
                last_save = Instant::now();
            }
            let since = last_update.elapsed();
            let update = self.options.shard_update_interval;
            if since >= update {
                last_update = Instant::now();
                let m = &self.shared.metrics;
                let seconds = since.as_secs_f64();
                let dropped =
                    m.dropped_series.get() + m.dropped_too_old.get() + m.dropped_unknown.get();
                let in_r = in_rate.tick(m.samples_in.get(), seconds);
                let out_r = out_rate.tick(self.shared.out_samples.get(), seconds);
                let dropped_r = dropped_rate.tick(dropped, seconds);
                let time_r = out_time.tick(self.shared.out_nanos.get(), seconds) / 1e9;
                let delay = m.highest_read.get() - m.highest_sent.get();
                let current = shards.senders.len();
                let desired = desired_shards(
                    current,
                    in_r,
                    out_r,
                    dropped_r,
                    time_r,
                    delay,
                    (self.min_shards, self.max_shards),
                );
                m.shards_desired.set(desired as f64);
                // Not while sending fails: more shards would not help.
                let failing = self.shared.last_send.lock().elapsed() > 2 * update;
                if desired != current && !failing {
                    tracing::info!(remote_name = %self.shared.sender.name, "remote storage resharding from {current} to {desired}");
                    let old = std::mem::replace(
                        &mut shards,
                        Shards {
                            senders: Vec::new(),
                            tasks: Vec::new(),
                        },
                    );
                    let Shards { senders, tasks } = old;
                    drop(senders);
                    let old = Shards {
                        senders: Vec::new(),
                        tasks,
                    };
                    while !old.finished() {
                        if self.stopping() {
                            shards = old;
                            break 'read;
                        }
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    shards = Shards::start(desired, self.capacity, &self.shared, &handle);
                }
            }
        }
        self.shutdown(shards);
    }

    /// Reads one record; false when the queue is stopping.
    fn process(&mut self, record: Record, position: WalPosition, shards: &Shards) -> bool {
        let replayed = position <= self.replay_until;
        let metrics = Arc::clone(&self.shared.metrics);
        match record {
            Record::Series { r, labels } => {
                metrics.records_series.add(1);
                self.bind(r, &labels, position.segment);
            }
            Record::Tombstone { .. } => metrics.records_tombstones.add(1),
            Record::Samples(samples) => {
                metrics.records_samples.add(1);
                if replayed {
                    return true;
                }
                let seq = self.shared.watermark.lock().begin(position);
                let oldest = (!self.age_limit.is_zero()).then(|| {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default();
                    now.saturating_sub(self.age_limit).as_millis() as i64
                });
                for (r, t, v) in samples {
                    metrics.samples_in.add(1);
                    metrics.highest_read.max(t as f64 / 1e3);
                    let series = match self.series.get(&r) {
                        None => {
                            metrics.dropped_unknown.add(1);
                            continue;
                        }
                        Some((None, _)) => {
                            metrics.dropped_series.add(1);
                            continue;
                        }
                        Some((Some(series), _)) => series,
                    };
                    if oldest.is_some_and(|oldest| t < oldest) {
                        metrics.dropped_too_old.add(1);
                        continue;
                    }
                    let pending = Pending {
                        series: Arc::clone(series),
                        t,
                        v,
                        seq,
                    };
                    if !self.enqueue(pending, r, shards) {
                        return false;
                    }
                }
                self.shared.watermark.lock().finish(seq);
                return true;
            }
        }
        true
    }

    fn enqueue(&mut self, mut pending: Pending, r: u32, shards: &Shards) -> bool {
        let shard = &shards.senders[r as usize % shards.senders.len()];
        self.shared.watermark.lock().add(pending.seq);
        self.shared.metrics.samples_pending.add(1.0);
        let mut backoff = self.min_backoff.max(Duration::from_millis(1));
        loop {
            match shard.try_send(pending) {
                Ok(()) => return true,
                Err(mpsc::error::TrySendError::Full(back)) => {
                    pending = back;
                    self.shared.metrics.enqueue_retries.add(1);
                    if self.stopping() {
                        return false;
                    }
                    self.save();
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(100));
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
            }
        }
    }

    /// Sends what is queued within the flush deadline, abandons the rest,
    /// and saves the position.
    fn shutdown(&mut self, shards: Shards) {
        let Shards { senders, tasks } = shards;
        drop(senders);
        let deadline = Instant::now() + self.options.flush_deadline;
        while Instant::now() < deadline && !tasks.iter().all(|t| t.is_finished()) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.shared.hard.send(true);
        let bound = Instant::now() + Duration::from_secs(2);
        while Instant::now() < bound && !tasks.iter().all(|t| t.is_finished()) {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.save();
        if self.forget.load(std::sync::atomic::Ordering::SeqCst) {
            remove_position(&self.options.position_file, &self.shared.sender.name);
        }
        tracing::info!(
            remote_name = %self.shared.sender.name,
            "remote write queue stopped at WAL position {}",
            self.shared.watermark.lock().acked
        );
    }
}

/// Keeps the series bound after checkpoint `checkpoint` and those it
/// holds (`live`); the others' samples are all behind the reader.
fn collect_series<S>(
    series: &mut HashMap<u32, (S, u64)>,
    checkpoint: u64,
    live: &std::collections::HashSet<u32>,
) {
    series.retain(|r, (_, segment)| *segment > checkpoint || live.contains(r));
}

/// The position saved in `path`: `None` when there is no file, an error
/// when it cannot be read or does not hold a position.
pub(crate) fn load_position(path: &Path) -> Result<Option<WalPosition>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let mut words = text.split_whitespace();
    let mut number = || -> Result<u64, String> {
        let word = words.next().ok_or("expected \"<segment> <offset>\"")?;
        word.parse()
            .map_err(|_| format!("{word:?} is not a number; expected \"<segment> <offset>\""))
    };
    let segment = number()?;
    let offset = number()?;
    Ok(Some(WalPosition { segment, offset }))
}

/// Deletes the position file of a removed queue (`name`).
fn remove_position(path: &Path, name: &str) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(
            remote_name = %name,
            "removing the position of a removed remote write queue, {}: {e}",
            path.display()
        ),
    }
}

/// Writes `position` to `path` atomically and durably (a temporary file,
/// synced, renamed; the directory synced as well where that works).
pub(crate) fn save_position(path: &Path, position: WalPosition) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent();
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("position.tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(format!("{} {}\n", position.segment, position.offset).as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    // Best effort: the rename itself survives a crash.
    if let Some(dir) = dir.filter(|d| !d.as_os_str().is_empty())
        && let Ok(dir) = std::fs::File::open(dir)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watermark_waits_for_the_oldest_record() {
        let p = |offset| WalPosition { segment: 0, offset };
        let mut w = Watermark {
            first_seq: 0,
            pending: VecDeque::new(),
            acked: p(0),
        };
        let a = w.begin(p(10));
        w.add(a);
        w.add(a);
        w.finish(a);
        let b = w.begin(p(20));
        w.add(b);
        w.finish(b);
        let c = w.begin(p(30));
        w.finish(c);
        w.ack(b, 1);
        assert_eq!(w.acked, p(0));
        w.ack(a, 1);
        assert_eq!(w.acked, p(0));
        w.ack(a, 1);
        assert_eq!(w.acked, p(30));
        // A record still being read holds the watermark even when empty.
        let d = w.begin(p(40));
        assert_eq!(w.acked, p(30));
        w.finish(d);
        assert_eq!(w.acked, p(40));
    }

    #[test]
    fn records_with_nothing_in_flight_do_not_pile_up() {
        let p = |offset| WalPosition { segment: 0, offset };
        let mut w = Watermark {
            first_seq: 0,
            pending: VecDeque::new(),
            acked: p(0),
        };
        // The front record is stuck (its receiver is down).
        let a = w.begin(p(10));
        w.add(a);
        w.finish(a);
        // Many records whose samples were all dropped.
        for i in 0..10_000 {
            let s = w.begin(p(20 + i));
            w.finish(s);
        }
        assert_eq!(w.pending.len(), 1);
        assert_eq!(w.acked, p(0));
        // A record in flight behind them keeps its own entry.
        let b = w.begin(p(20_000));
        w.add(b);
        w.finish(b);
        let c = w.begin(p(20_010));
        w.finish(c);
        assert_eq!(w.pending.len(), 2);
        // Acknowledging the stuck record moves past the dropped ones, not
        // past the one still in flight.
        w.ack(a, 1);
        assert_eq!(w.acked, p(20 + 9_999));
        w.ack(b, 1);
        assert_eq!(w.acked, p(20_010));
        assert!(w.pending.is_empty());
        // Sequence numbers stay consistent after merging.
        let d = w.begin(p(20_020));
        w.add(d);
        w.finish(d);
        let e = w.begin(p(20_030));
        w.add(e);
        w.finish(e);
        w.ack(e, 1);
        assert_eq!(w.acked, p(20_010));
        w.ack(d, 1);
        assert_eq!(w.acked, p(20_030));
    }

    #[test]
    fn desired_shards_follow_prometheus() {
        // No output yet: keep.
        assert_eq!(desired_shards(3, 100.0, 0.0, 0.0, 0.0, 0.0, (1, 50)), 3);
        // 1000 samples/s in, 10 ms per sample: 10 shards.
        assert_eq!(
            desired_shards(1, 1000.0, 1000.0, 0.0, 10.0, 0.0, (1, 50)),
            10
        );
        // Within 30 %: keep.
        assert_eq!(
            desired_shards(10, 1100.0, 1000.0, 0.0, 10.0, 0.0, (1, 50)),
            10
        );
        // Bounded.
        assert_eq!(desired_shards(1, 1e6, 1000.0, 0.0, 10.0, 0.0, (1, 50)), 50);
        assert_eq!(desired_shards(8, 1.0, 1000.0, 0.0, 0.001, 0.0, (2, 50)), 2);
    }

    #[test]
    fn series_left_out_of_a_checkpoint_are_forgotten() {
        let mut series: HashMap<u32, ((), u64)> =
            [(1, ((), 2)), (2, ((), 3)), (3, ((), 5)), (4, ((), 6))].into();
        let live = [2].into();
        collect_series(&mut series, 5, &live);
        let mut left: Vec<u32> = series.keys().copied().collect();
        left.sort();
        // 1 and 3 were dropped by the head; 4 is bound after the checkpoint.
        assert_eq!(left, [2, 4]);
    }

    #[test]
    fn positions_are_saved_and_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q/x.position");
        assert_eq!(load_position(&path), Ok(None));
        let p = WalPosition {
            segment: 3,
            offset: 77,
        };
        save_position(&path, p).unwrap();
        assert_eq!(load_position(&path), Ok(Some(p)));
        assert!(!path.with_extension("position.tmp").exists());
        // Corrupt or cut short: an error, not "no position".
        for text in ["garbage", "3", "", "3 x"] {
            std::fs::write(&path, text).unwrap();
            assert!(load_position(&path).is_err(), "{text:?}");
        }
        // Unreadable (a directory in its place): an error too.
        let other = dir.path().join("d.position");
        std::fs::create_dir(&other).unwrap();
        assert!(load_position(&other).is_err());
    }
}
