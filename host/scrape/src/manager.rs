//! The scrape loops: one task per target, restarted when targets change.

use crate::store::{LatestStore, TargetHealth, TargetState};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::task::JoinHandle;
use wasmetheus_model::storage::{STALE_NAN_BITS, Storage};
use wasmetheus_model::validate::flatten;
use wasmetheus_model::{Label, MetricFamily, Sample};

use crate::http::{HttpTarget, Scraper};
use crate::relabel::{RelabelConfig, relabel};

/// One thing to scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub instance: String,
    pub job: String,
    pub interval: Duration,
    pub timeout: Duration,
    /// Target labels besides `job` and `instance`.
    pub labels: BTreeMap<String, String>,
    /// `None`: collected through the [`Transport`] (plugin instances,
    /// the server itself); otherwise fetched over HTTP.
    pub http: Option<Arc<HttpTarget>>,
    pub options: Arc<ScrapeOptions>,
}

impl Target {
    /// What the target is known by: its instance for plugin targets, job
    /// and instance for HTTP ones (two jobs may scrape one address).
    pub fn key(&self) -> String {
        match self.http {
            Some(_) => format!("{}/{}", self.job, self.instance),
            None => self.instance.clone(),
        }
    }
}

/// How a scrape's samples are treated (a scrape config's settings).
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeOptions {
    /// On a clash, the exposed label wins over the target label (which is
    /// otherwise kept, the exposed one renamed `exported_<name>`).
    pub honor_labels: bool,
    /// Use the exposed timestamps; otherwise every sample is stamped with
    /// the scrape time.
    pub honor_timestamps: bool,
    /// 0: none. Beyond it the whole scrape fails.
    pub sample_limit: u64,
    pub label_limit: u64,
    pub label_name_length_limit: u64,
    pub label_value_length_limit: u64,
    pub metric_relabel_configs: Vec<RelabelConfig>,
}

impl Default for ScrapeOptions {
    fn default() -> Self {
        ScrapeOptions {
            honor_labels: false,
            honor_timestamps: true,
            sample_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            metric_relabel_configs: Vec::new(),
        }
    }
}

pub type TransportFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<MetricFamily>, String>> + Send + 'a>>;

/// How targets are reached. The plugin runtime implements this for its
/// instances (in-process, no HTTP hop).
pub trait Transport: Send + Sync + 'static {
    /// The current targets.
    fn targets(&self) -> Vec<Target>;
    /// Collects one target.
    fn collect<'a>(&'a self, instance: &'a str) -> TransportFuture<'a>;
    /// Changes whenever `targets` may have changed.
    fn changes(&self) -> tokio::sync::watch::Receiver<u64>;
}

/// Where scraped samples go besides the latest-state store.
pub type SharedStorage = Option<Arc<dyn Storage + Send + Sync>>;

/// Runs the scrape loops of a transport's targets; dropping it stops them.
pub struct ScrapeManager {
    store: LatestStore,
    task: Option<JoinHandle<()>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for ScrapeManager {
    fn drop(&mut self) {
        // The loops live in a JoinSet owned by this task: aborting it
        // aborts them all; they release the storage when the runtime next
        // gets to them. `shutdown` waits for that.
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl ScrapeManager {
    /// Starts scraping every target of `transport` and following its
    /// changes, for as long as the runtime lives. Samples are appended to
    /// `storage` when given, with stale markers for series that disappear.
    pub fn start(transport: Arc<dyn Transport>, storage: SharedStorage) -> ScrapeManager {
        let store = LatestStore::default();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(run(transport, store.clone(), storage, stopped));
        ScrapeManager {
            store,
            task: Some(task),
            stop: Some(stop),
        }
    }

    /// Stops every scrape loop and returns once they are all gone, with
    /// every reference they held to the transport and storage dropped.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    pub fn store(&self) -> &LatestStore {
        &self.store
    }
}

async fn run(
    transport: Arc<dyn Transport>,
    store: LatestStore,
    storage: SharedStorage,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let mut changes = transport.changes();
    // One HTTP client for every target: connections are reused.
    let scraper = Scraper::default();
    let mut tasks = tokio::task::JoinSet::new();
    let mut loops: HashMap<String, (Target, tokio::task::AbortHandle)> = HashMap::new();
    loop {
        let targets = transport.targets();
        let wanted: HashMap<String, Target> = targets.into_iter().map(|t| (t.key(), t)).collect();
        loops.retain(|instance, (target, task)| {
            let keep = wanted.get(instance) == Some(target);
            if !keep {
                task.abort();
                if !wanted.contains_key(instance) {
                    // Gone: its series end now rather than fading out over
                    // the lookback window.
                    if let (Some(storage), Some(last)) = (&storage, store.get(instance)) {
                        append_stale_markers(&**storage, &last.samples, &[], now_ms());
                    }
                    store.remove(instance);
                }
            }
            keep
        });
        for (instance, target) in wanted {
            if loops.contains_key(&instance) {
                continue;
            }
            let task = tasks.spawn(scrape_loop(
                Arc::clone(&transport),
                scraper.clone(),
                target.clone(),
                store.clone(),
                storage.clone(),
            ));
            loops.insert(instance, (target, task));
        }
        // Reap finished (aborted) loops so the set does not grow.
        while tasks.try_join_next().is_some() {}
        tokio::select! {
            changed = changes.changed() => if changed.is_err() {
                break;
            },
            _ = &mut stop => break,
        }
    }
    tasks.shutdown().await;
}

/// A stable offset within the interval, so a target is scraped at the same
/// phase across restarts and targets spread out.
fn offset(target: &Target) -> Duration {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    target.instance.hash(&mut hasher);
    target.job.hash(&mut hasher);
    let interval_ms = target.interval.as_millis().max(1) as u64;
    let now_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let phase = hasher.finish() % interval_ms;
    Duration::from_millis((phase + interval_ms - now_ms % interval_ms) % interval_ms)
}

async fn scrape_loop(
    transport: Arc<dyn Transport>,
    scraper: Scraper,
    target: Target,
    store: LatestStore,
    storage: SharedStorage,
) {
    let mut refs = SeriesRefs::default();
    // A new target is scraped at once, then on its phase.
    scrape_and_store_with(&*transport, &scraper, &target, &store, &storage, &mut refs).await;
    tokio::time::sleep(offset(&target)).await;
    let mut ticker = tokio::time::interval(target.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        scrape_and_store_with(&*transport, &scraper, &target, &store, &storage, &mut refs).await;
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The full label set of a sample as stored: `__name__` plus its labels,
/// sorted by name.
fn series_labels(sample: &Sample) -> Vec<Label> {
    let mut labels = Vec::with_capacity(sample.labels.len() + 1);
    labels.push(Label::new("__name__", sample.name.clone()));
    labels.extend(sample.labels.iter().cloned());
    labels.sort();
    labels
}

/// Appends a stale marker at `t` for every series of `previous` that is
/// not in `current`.
fn append_stale_markers(storage: &dyn Storage, previous: &[Sample], current: &[Sample], t: i64) {
    let still_there: rustc_hash::FxHashSet<u64> = current.iter().map(series_hash).collect();
    let mut appender = storage.appender();
    for sample in previous {
        if !still_there.contains(&series_hash(sample)) {
            let labels = series_labels(sample);
            // A rejection (e.g. the series already has a later sample) is fine.
            let _ = appender.append(&labels, t, f64::from_bits(STALE_NAN_BITS));
        }
    }
    if let Err(e) = appender.commit() {
        tracing::warn!(error = %e, "writing stale markers failed");
    }
}

/// A hash of a sample's series (name and sorted labels) for comparing one
/// scrape's series with the last one's without building label sets: a
/// collision (at 64 bits, with a target's series) could at worst skip one
/// stale marker or miscount `scrape_series_added`.
fn series_hash(sample: &Sample) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = rustc_hash::FxHasher::default();
    sample.name.hash(&mut hasher);
    sample.labels.hash(&mut hasher);
    hasher.finish()
}

/// The storage's refs (see [`Appender::append_ref`]) of the series a
/// target's last scrape appended, by label set: the next scrape passes them
/// so the storage need not look its series up by labels again. Rebuilt from
/// each scrape, so it holds no more than the target's current series.
///
/// [`Appender::append_ref`]: wasmetheus_model::storage::Appender::append_ref
#[derive(Debug, Default)]
struct SeriesRefs(rustc_hash::FxHashMap<Vec<Label>, u64>);

/// Appends one scrape's samples; rejected samples are counted, not fatal.
fn append_samples(
    storage: &dyn Storage,
    target: &Target,
    samples: &[Sample],
    t: i64,
    refs: &mut SeriesRefs,
) {
    let mut appender = storage.appender();
    let mut rejected = 0usize;
    let mut first_error = None;
    let mut next =
        rustc_hash::FxHashMap::with_capacity_and_hasher(samples.len(), Default::default());
    for sample in samples {
        let labels = series_labels(sample);
        let cached = refs.0.get(&labels).copied().unwrap_or(0);
        let r = match appender.append_ref(
            cached,
            &labels,
            sample.timestamp_ms.unwrap_or(t),
            sample.value,
        ) {
            Ok(r) => r,
            Err(e) => {
                rejected += 1;
                first_error.get_or_insert(e);
                // The series is still there; its ref stays good.
                cached
            }
        };
        if r != 0 {
            next.insert(labels, r);
        }
    }
    refs.0 = next;
    if let Err(e) = appender.commit() {
        tracing::error!(instance = %target.instance, error = %e, "storing the scrape failed");
    } else if let Some(e) = first_error {
        tracing::warn!(instance = %target.instance, rejected, "samples rejected by storage, e.g.: {e}");
    }
}

/// Scrapes once, stores the samples, and marks series that disappeared
/// since the previous scrape of this target as stale.
pub async fn scrape_and_store(
    transport: &dyn Transport,
    target: &Target,
    store: &LatestStore,
    storage: &SharedStorage,
) {
    scrape_and_store_with(
        transport,
        &Scraper::default(),
        target,
        store,
        storage,
        &mut SeriesRefs::default(),
    )
    .await;
}

/// [`scrape_and_store`] passing the storage the refs of the target's
/// series from the previous scrape (and keeping this scrape's in `refs`).
async fn scrape_and_store_with(
    transport: &dyn Transport,
    scraper: &Scraper,
    target: &Target,
    store: &LatestStore,
    storage: &SharedStorage,
    refs: &mut SeriesRefs,
) {
    let previous = store.get(&target.key());
    scrape_once(transport, scraper, target, store, previous.as_ref()).await;
    let (Some(storage), Some(current)) = (storage, store.get(&target.key())) else {
        return;
    };
    let t = current.last_scrape.map_or_else(now_ms, |at| {
        at.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    });
    append_samples(&**storage, target, &current.samples, t, refs);
    if let Some(previous) = previous {
        append_stale_markers(&**storage, &previous.samples, &current.samples, t);
    }
}

fn sample(name: &str, labels: &[Label], value: f64, timestamp_ms: i64) -> Sample {
    Sample {
        name: name.to_owned(),
        labels: labels.to_vec(),
        value,
        timestamp_ms: Some(timestamp_ms),
    }
}

/// The families a text exposition describes (metadata only: for the
/// metadata API).
fn metadata_families(exposition: &wasmetheus_model::text::Exposition) -> Vec<MetricFamily> {
    exposition
        .metadata
        .iter()
        .map(|m| MetricFamily {
            name: m.name.clone(),
            kind: m.kind,
            help: m.help.clone(),
            unit: m.unit.clone(),
            metrics: Vec::new(),
        })
        .collect()
}

/// Why a scrape's samples are refused as a whole (Prometheus' texts).
fn check_limits(samples: &[Sample], options: &ScrapeOptions) -> Result<(), String> {
    if options.sample_limit > 0 && samples.len() as u64 > options.sample_limit {
        return Err("sample limit exceeded".into());
    }
    if options.label_limit == 0
        && options.label_name_length_limit == 0
        && options.label_value_length_limit == 0
    {
        return Ok(());
    }
    for s in samples {
        let count = s.labels.len() as u64 + 1;
        if options.label_limit > 0 && count > options.label_limit {
            return Err(format!(
                "label_limit exceeded (metric: {:.50}, number of labels: {count}, limit: {})",
                s.name, options.label_limit
            ));
        }
        for l in &s.labels {
            let (name_len, value_len) = (l.name.chars().count(), l.value.chars().count());
            if options.label_name_length_limit > 0
                && name_len as u64 > options.label_name_length_limit
            {
                return Err(format!(
                    "label_name_length_limit exceeded (metric: {:.50}, label name: {:.50}, length: {name_len}, limit: {})",
                    s.name, l.name, options.label_name_length_limit
                ));
            }
            if options.label_value_length_limit > 0
                && value_len as u64 > options.label_value_length_limit
            {
                let value: String = l.value.chars().take(50).collect();
                return Err(format!(
                    "label_value_length_limit exceeded (metric: {:.50}, label name: {:.50}, value: {value:?}, length: {value_len}, limit: {})",
                    s.name, l.name, options.label_value_length_limit
                ));
            }
        }
    }
    Ok(())
}

/// An exposed sample with the target's labels attached (as
/// `honor_labels` says), metric relabeling applied and, without
/// `honor_timestamps`, its timestamp dropped; `None` if relabeling drops it.
fn labelled(
    mut s: Sample,
    target_labels: &[Label],
    options: &ScrapeOptions,
) -> Result<Option<Sample>, String> {
    // Empty label values mean "no label", as in Prometheus.
    s.labels.retain(|l| !l.value.is_empty());
    for label in target_labels {
        match s.labels.iter().position(|l| l.name == label.name) {
            Some(_) if options.honor_labels => {}
            Some(i) => {
                // Keep the exposed value as exported_<name> (and
                // exported_exported_<name> if that is taken too).
                let mut name = format!("exported_{}", label.name);
                while s.labels.iter().any(|l| l.name == name) {
                    name = format!("exported_{name}");
                }
                s.labels[i].name = name;
                s.labels.push(label.clone());
            }
            None => s.labels.push(label.clone()),
        }
    }
    if !options.honor_timestamps {
        s.timestamp_ms = None;
    }
    if options.metric_relabel_configs.is_empty() {
        s.labels.sort();
        return Ok(Some(s));
    }
    let mut all = Vec::with_capacity(s.labels.len() + 1);
    all.push(Label::new("__name__", std::mem::take(&mut s.name)));
    all.append(&mut s.labels);
    all.sort();
    let Some(kept) = relabel(&all, &options.metric_relabel_configs) else {
        return Ok(None);
    };
    let mut name = None;
    let labels = kept
        .into_iter()
        .filter_map(|l| {
            if l.name == "__name__" {
                name = Some(l.value);
                None
            } else {
                Some(l)
            }
        })
        .collect();
    let Some(name) = name else {
        return Err("invalid metric name or label names: a sample has no metric name after metric relabeling".into());
    };
    Ok(Some(Sample {
        name,
        labels,
        value: s.value,
        timestamp_ms: s.timestamp_ms,
    }))
}

/// Scrapes a target once and stores the outcome. `previous` is its last
/// scrape, for `scrape_series_added`.
pub async fn scrape_once(
    transport: &dyn Transport,
    scraper: &Scraper,
    target: &Target,
    store: &LatestStore,
    previous: Option<&TargetState>,
) {
    let started = Instant::now();
    let scraped_at = SystemTime::now();
    let timestamp_ms = scraped_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let key = target.key();
    let fetch = async {
        match &target.http {
            Some(http) => scraper
                .scrape(http, target.timeout)
                .await
                .map(|e| (metadata_families(&e), e.samples)),
            None => transport.collect(&key).await.map(|families| {
                let samples = flatten(&families);
                (families, samples)
            }),
        }
    };
    let result = match tokio::time::timeout(target.timeout, fetch).await {
        Ok(result) => result,
        Err(_) => Err(format!("scrape timed out after {:?}", target.timeout)),
    };
    let took = started.elapsed().as_secs_f64();
    let mut target_labels: Vec<Label> = target
        .labels
        .iter()
        .map(|(n, v)| Label::new(n.clone(), v.clone()))
        .collect();
    target_labels.push(Label::new("job", target.job.clone()));
    target_labels.push(Label::new("instance", target.instance.clone()));
    target_labels.sort();
    target_labels.dedup_by(|a, b| a.name == b.name);

    let (families, exposed, mut error) = match result {
        Ok((families, samples)) => (families, samples, None),
        Err(e) => (Vec::new(), Vec::new(), Some(e)),
    };
    let scraped = exposed.len();
    let mut samples = Vec::with_capacity(exposed.len() + 5);
    for s in exposed {
        match labelled(s, &target_labels, &target.options) {
            Ok(Some(mut s)) => {
                s.timestamp_ms = s.timestamp_ms.or(Some(timestamp_ms));
                samples.push(s);
            }
            Ok(None) => {}
            Err(e) => {
                error.get_or_insert(e);
                break;
            }
        }
    }
    let post_relabeling = samples.len();
    if error.is_none()
        && let Err(e) = check_limits(&samples, &target.options)
    {
        error = Some(e);
    }
    if error.is_some() {
        // A failed scrape ingests nothing of what it read.
        samples.clear();
    }
    let added = match previous {
        Some(previous) => {
            let known: rustc_hash::FxHashSet<u64> =
                previous.samples.iter().map(series_hash).collect();
            samples
                .iter()
                .filter(|s| !known.contains(&series_hash(s)))
                .count()
        }
        None => samples.len(),
    };
    let up = if error.is_none() { 1.0 } else { 0.0 };
    for (name, value) in [
        ("up", up),
        ("scrape_duration_seconds", took),
        ("scrape_samples_scraped", scraped as f64),
        (
            "scrape_samples_post_metric_relabeling",
            post_relabeling as f64,
        ),
        ("scrape_series_added", added as f64),
    ] {
        samples.push(sample(name, &target_labels, value, timestamp_ms));
    }
    if let Some(e) = &error {
        tracing::debug!(target = %key, error = %e, "scrape failed");
    }
    store.put(TargetState {
        key,
        job: target.job.clone(),
        instance: target.instance.clone(),
        health: if error.is_none() {
            TargetHealth::Up
        } else {
            TargetHealth::Down
        },
        last_error: error,
        last_scrape: Some(scraped_at),
        last_duration_seconds: took,
        families: Arc::new(families),
        samples: Arc::new(samples),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmetheus_model::{Metric, MetricKind, MetricValue};

    struct Fake;

    impl Transport for Fake {
        fn targets(&self) -> Vec<Target> {
            Vec::new()
        }

        fn collect<'a>(&'a self, instance: &'a str) -> TransportFuture<'a> {
            Box::pin(async move {
                if instance == "broken" {
                    return Err("it broke".to_owned());
                }
                Ok(vec![MetricFamily {
                    name: "requests_total".into(),
                    kind: MetricKind::Counter,
                    help: "Requests.".into(),
                    unit: String::new(),
                    metrics: vec![Metric {
                        // A label clashing with a target label.
                        labels: vec![Label::new("job", "inner"), Label::new("code", "200")],
                        value: MetricValue::Number(7.0),
                        timestamp_ms: None,
                    }],
                }])
            })
        }

        fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
            tokio::sync::watch::channel(0).1
        }
    }

    fn target(instance: &str) -> Target {
        Target {
            instance: instance.into(),
            job: "node".into(),
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(1),
            labels: BTreeMap::from([("env".to_owned(), "prod".to_owned())]),
            http: None,
            options: Arc::default(),
        }
    }

    fn render(samples: &[Sample]) -> Vec<String> {
        samples
            .iter()
            .map(|s| {
                let labels: Vec<String> = s
                    .labels
                    .iter()
                    .map(|l| format!("{}={:?}", l.name, l.value))
                    .collect();
                let value = if s.name == "scrape_duration_seconds" {
                    "_".to_owned()
                } else {
                    s.value.to_string()
                };
                format!("{}{{{}}} {value}", s.name, labels.join(","))
            })
            .collect()
    }

    #[tokio::test]
    async fn samples_get_target_labels_and_synthetic_series() {
        let store = LatestStore::default();
        scrape_once(&Fake, &Scraper::default(), &target("a"), &store, None).await;
        let state = store.get("a").unwrap();
        assert_eq!(state.health, TargetHealth::Up);
        assert_eq!(
            render(&state.samples),
            [
                r#"requests_total{code="200",env="prod",exported_job="inner",instance="a",job="node"} 7"#,
                r#"up{env="prod",instance="a",job="node"} 1"#,
                r#"scrape_duration_seconds{env="prod",instance="a",job="node"} _"#,
                r#"scrape_samples_scraped{env="prod",instance="a",job="node"} 1"#,
                r#"scrape_samples_post_metric_relabeling{env="prod",instance="a",job="node"} 1"#,
                r#"scrape_series_added{env="prod",instance="a",job="node"} 1"#,
            ]
        );
    }

    #[tokio::test]
    async fn a_failed_scrape_is_down_with_its_error_and_no_samples() {
        let store = LatestStore::default();
        scrape_once(&Fake, &Scraper::default(), &target("broken"), &store, None).await;
        let state = store.get("broken").unwrap();
        assert_eq!(state.health, TargetHealth::Down);
        assert_eq!(state.last_error.as_deref(), Some("it broke"));
        assert!(state.families.is_empty());
        assert_eq!(
            render(&state.samples)[0],
            r#"up{env="prod",instance="broken",job="node"} 0"#
        );
    }

    /// Returns series `a` and `b` on the first call, only `a` afterwards.
    struct Shrinking(std::sync::atomic::AtomicUsize);

    impl Transport for Shrinking {
        fn targets(&self) -> Vec<Target> {
            Vec::new()
        }

        fn collect<'a>(&'a self, _instance: &'a str) -> TransportFuture<'a> {
            let call = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async move {
                let names: &[&str] = if call == 0 { &["a", "b"] } else { &["a"] };
                Ok(names
                    .iter()
                    .map(|n| MetricFamily {
                        name: (*n).into(),
                        kind: MetricKind::Gauge,
                        help: String::new(),
                        unit: String::new(),
                        metrics: vec![Metric {
                            labels: Vec::new(),
                            value: MetricValue::Number(1.0),
                            timestamp_ms: None,
                        }],
                    })
                    .collect())
            })
        }

        fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
            tokio::sync::watch::channel(0).1
        }
    }

    #[tokio::test]
    async fn vanished_series_get_a_stale_marker() {
        use wasmetheus_model::storage::{Matcher, Queryable, is_stale_marker};
        let head = Arc::new(wasmetheus_tsdb::Head::default());
        let storage: SharedStorage = Some(head.clone());
        let (store, transport) = (LatestStore::default(), Shrinking(Default::default()));
        scrape_and_store(&transport, &target("t"), &store, &storage).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        scrape_and_store(&transport, &target("t"), &store, &storage).await;
        let select = |name: &str| {
            head.select(&[Matcher::equal("__name__", name)], 0, i64::MAX)
                .unwrap()
                .remove(0)
                .samples
        };
        let a = select("a");
        assert_eq!(a.len(), 2);
        assert!(a.iter().all(|(_, v)| *v == 1.0));
        let b = select("b");
        assert_eq!(b.len(), 2, "{b:?}");
        assert_eq!(b[0].1, 1.0);
        assert!(is_stale_marker(b[1].1), "{b:?}");
        assert_eq!(b[1].0, a[1].0, "the marker is at the scrape that missed it");
        // `up` and the scrape series are stored with the target labels.
        let up = head
            .select(
                &[
                    Matcher::equal("__name__", "up"),
                    Matcher::equal("job", "node"),
                ],
                0,
                i64::MAX,
            )
            .unwrap();
        assert_eq!(up[0].samples.len(), 2);
    }

    #[tokio::test]
    async fn refs_of_the_last_scrape_are_reused() {
        use std::sync::atomic::Ordering;
        use wasmetheus_model::storage::{Matcher, Queryable};
        let head = Arc::new(wasmetheus_tsdb::Head::default());
        let storage: SharedStorage = Some(head.clone());
        let (store, mut refs) = (LatestStore::default(), SeriesRefs::default());
        scrape_and_store_with(
            &Fake,
            &Scraper::default(),
            &target("t"),
            &store,
            &storage,
            &mut refs,
        )
        .await;
        // requests_total, up and the four scrape_* series.
        assert_eq!(refs.0.len(), 6);
        assert!(refs.0.values().all(|r| *r != 0));
        let first = refs.0.clone();
        tokio::time::sleep(Duration::from_millis(5)).await;
        scrape_and_store_with(
            &Fake,
            &Scraper::default(),
            &target("t"),
            &store,
            &storage,
            &mut refs,
        )
        .await;
        assert_eq!(refs.0, first);
        assert_eq!(head.stats.series_created.load(Ordering::Relaxed), 6);
        assert_eq!(head.stats.samples_appended.load(Ordering::Relaxed), 12);

        // Refs of another store are no use there, but do no harm.
        let other = Arc::new(wasmetheus_tsdb::Head::default());
        let storage: SharedStorage = Some(other.clone());
        scrape_and_store_with(
            &Fake,
            &Scraper::default(),
            &target("t"),
            &store,
            &storage,
            &mut refs,
        )
        .await;
        let up = other
            .select(&[Matcher::equal("__name__", "up")], 0, i64::MAX)
            .unwrap();
        assert_eq!(up.len(), 1);
        assert_eq!(up[0].samples.len(), 1);
        assert_eq!(other.stats.samples_appended.load(Ordering::Relaxed), 6);
        assert_ne!(refs.0, first);
    }
}
