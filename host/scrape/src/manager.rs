//! The scrape loops: one task per target, restarted when targets change.

use crate::store::{LatestStore, TargetHealth, TargetState};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::task::JoinHandle;
use wasmetheus_model::storage::Storage;
use wasmetheus_model::validate::flatten;
use wasmetheus_model::{Label, MetricFamily, openmetrics, text};
use wasmetheus_relabel::RelabelConfig;

use crate::align::Alignment;
use crate::cache::{Batch, ScrapeCache};
use crate::http::{Fallback, HttpTarget, Scraper};

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
    /// End a vanished series with a stale marker even when its samples
    /// carried their own (honored) timestamps; by default, as in
    /// Prometheus, such series (federated ones) get none.
    pub track_timestamps_staleness: bool,
    /// 0: none. Beyond it the whole scrape fails.
    pub sample_limit: u64,
    pub label_limit: u64,
    pub label_name_length_limit: u64,
    pub label_value_length_limit: u64,
    pub metric_relabel_configs: Vec<RelabelConfig>,
    /// A scrape starting at most this long after its scheduled time (and
    /// at most 1 % of the interval) is stamped with the scheduled time, as
    /// Prometheus does; `None`: stamped with the time it starts.
    pub timestamp_tolerance: Option<Duration>,
}

impl Default for ScrapeOptions {
    fn default() -> Self {
        ScrapeOptions {
            honor_labels: false,
            honor_timestamps: true,
            track_timestamps_staleness: false,
            sample_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            metric_relabel_configs: Vec::new(),
            timestamp_tolerance: Some(crate::align::DEFAULT_TOLERANCE),
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
    let mut loops: HashMap<String, ScrapeLoop> = HashMap::new();
    loop {
        let targets = transport.targets();
        let wanted: HashMap<String, Target> = targets.into_iter().map(|t| (t.key(), t)).collect();
        loops.retain(|instance, running| {
            let keep = wanted.get(instance) == Some(&running.target);
            if !keep {
                running.task.abort();
                // Closed under the lock: a scrape the abort did not stop
                // in time appends nothing after this.
                let mut cache = running.cache.lock();
                cache.closed = true;
                if !wanted.contains_key(instance) {
                    // Gone: its series end now rather than fading out over
                    // the lookback window.
                    if let Some(storage) = &storage {
                        cache.end(&**storage, &target_labels(&running.target), now_ms());
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
            let cache = Arc::new(Mutex::new(ScrapeCache::default()));
            let task = tasks.spawn(scrape_loop(
                Arc::clone(&transport),
                scraper.clone(),
                target.clone(),
                store.clone(),
                storage.clone(),
                Arc::clone(&cache),
            ));
            loops.insert(
                instance,
                ScrapeLoop {
                    target,
                    task,
                    cache,
                },
            );
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

/// A running target: its loop and its cache, which outlives the loop long
/// enough to end the target's series when it goes away.
struct ScrapeLoop {
    target: Target,
    task: tokio::task::AbortHandle,
    cache: Arc<Mutex<ScrapeCache>>,
}

async fn scrape_loop(
    transport: Arc<dyn Transport>,
    scraper: Scraper,
    target: Target,
    store: LatestStore,
    storage: SharedStorage,
    cache: Arc<Mutex<ScrapeCache>>,
) {
    let labels = target_labels(&target);
    let scrape = |t: i64| {
        scrape_and_store_with(
            &*transport,
            &scraper,
            &target,
            &labels,
            &store,
            &storage,
            &cache,
            t,
        )
    };
    // A new target is scraped at once, then on its phase.
    scrape(now_ms()).await;
    tokio::time::sleep(offset(&target)).await;
    let mut ticker = tokio::time::interval(target.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut schedule = Alignment::new(
        now_ms(),
        target.interval,
        target.options.timestamp_tolerance,
    );
    loop {
        ticker.tick().await;
        scrape(schedule.timestamp(now_ms())).await;
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A target's own labels (`job`, `instance` and the rest), sorted: what
/// every one of its series carries.
fn target_labels(target: &Target) -> Vec<Label> {
    let mut labels: Vec<Label> = target
        .labels
        .iter()
        .map(|(n, v)| Label::new(n.clone(), v.clone()))
        .collect();
    labels.push(Label::new("job", target.job.clone()));
    labels.push(Label::new("instance", target.instance.clone()));
    labels.sort();
    labels.dedup_by(|a, b| a.name == b.name);
    labels
}

/// What a target answered.
enum Body {
    /// An HTTP target's exposition, in the format its `Content-Type` says.
    Exposition(Fallback, String),
    /// A plugin instance's collection.
    Families(Vec<MetricFamily>),
}

/// Parses an exposition into `batch`; its families' metadata on success.
fn stage_exposition(
    batch: &mut Batch<'_>,
    format: Fallback,
    body: &str,
) -> Result<Vec<MetricFamily>, String> {
    let position = |e: text::ParseError| format!("{}:{}: {}", e.line, e.column, e.message);
    let metadata = match format {
        Fallback::OpenMetrics => {
            let exposition = openmetrics::parse_with(
                body,
                openmetrics::Options {
                    allow_negative_observations: true,
                },
            )
            .map_err(position)?;
            for s in &exposition.samples {
                batch.add_sample(s);
            }
            exposition.metadata
        }
        _ => text::parse_into(body, batch).map_err(position)?,
    };
    Ok(metadata
        .into_iter()
        .map(|m| MetricFamily {
            name: m.name,
            kind: m.kind,
            help: m.help,
            unit: m.unit,
            metrics: Vec::new(),
        })
        .collect())
}

/// Scrapes a target once, appends what it exposed through its cache
/// (with stale markers for the series that disappeared) and records the
/// outcome in `store`; its samples are stamped `t` (ms).
#[allow(clippy::too_many_arguments)]
async fn scrape_and_store_with(
    transport: &dyn Transport,
    scraper: &Scraper,
    target: &Target,
    target_labels: &[Label],
    store: &LatestStore,
    storage: &SharedStorage,
    cache: &Mutex<ScrapeCache>,
    t: i64,
) {
    let started = Instant::now();
    let scraped_at = SystemTime::now();
    let key = target.key();
    let fetch = async {
        match &target.http {
            Some(http) => scraper
                .fetch_exposition(http, target.timeout)
                .await
                .map(|(format, body)| Body::Exposition(format, body)),
            None => transport.collect(&key).await.map(Body::Families),
        }
    };
    let result = match tokio::time::timeout(target.timeout, fetch).await {
        Ok(result) => result,
        Err(_) => Err(format!("scrape timed out after {:?}", target.timeout)),
    };
    let took = started.elapsed().as_secs_f64();
    // No await from here on: the cache is held while the body is parsed
    // and appended.
    let mut cache = cache.lock();
    if cache.closed {
        return;
    }
    let mut batch = cache.batch(target_labels, &target.options, t);
    let (families, mut error) = match result {
        Err(e) => (Vec::new(), Some(e)),
        Ok(Body::Families(families)) => {
            for s in &flatten(&families) {
                batch.add_sample(s);
            }
            (families, None)
        }
        Ok(Body::Exposition(format, body)) => match stage_exposition(&mut batch, format, &body) {
            Ok(families) => (families, None),
            Err(e) => (Vec::new(), Some(e)),
        },
    };
    if error.is_none() {
        error = batch.error();
    }
    let storage = storage.as_deref().map(|s| s as &dyn Storage);
    let (counts, report) = batch.finish(storage, error.as_deref(), took);
    drop(cache);
    if let Some(e) = &error {
        tracing::debug!(target = %key, error = %e, "scrape failed");
    }
    let families = match &error {
        // The metadata of the last good scrape stays known.
        Some(_) => store.get(&key).map_or_else(Arc::default, |s| s.families),
        None => Arc::new(families),
    };
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
        families,
        series: counts.post_relabeling,
        samples: Arc::new(report),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmetheus_model::storage::{Matcher, Queryable, is_stale_marker};
    use wasmetheus_model::{Metric, MetricKind, MetricValue};

    /// Collects `requests_total` (with a label clashing with a target
    /// label), or fails for the instance `broken`; from the call `shrink_at`
    /// on, `extra_total` is gone and everything fails from `fail_at` on.
    struct Fake {
        calls: std::sync::atomic::AtomicUsize,
        shrink_at: usize,
        fail_at: usize,
    }

    impl Fake {
        fn new(shrink_at: usize, fail_at: usize) -> Self {
            Fake {
                calls: Default::default(),
                shrink_at,
                fail_at,
            }
        }
    }

    fn family(name: &str, labels: Vec<Label>) -> MetricFamily {
        MetricFamily {
            name: name.into(),
            kind: MetricKind::Counter,
            help: "Requests.".into(),
            unit: String::new(),
            metrics: vec![Metric {
                labels,
                value: MetricValue::Number(7.0),
                timestamp_ms: None,
            }],
        }
    }

    impl Transport for Fake {
        fn targets(&self) -> Vec<Target> {
            Vec::new()
        }

        fn collect<'a>(&'a self, instance: &'a str) -> TransportFuture<'a> {
            let call = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async move {
                if instance == "broken" || call >= self.fail_at {
                    return Err("it broke".to_owned());
                }
                let mut families = vec![family(
                    "requests_total",
                    vec![Label::new("job", "inner"), Label::new("code", "200")],
                )];
                if call < self.shrink_at {
                    let mut extra = family("extra_total", Vec::new());
                    if instance == "timed" {
                        // Its own timestamp, as federated samples have.
                        extra.metrics[0].timestamp_ms = Some(
                            SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .unwrap()
                                .as_millis() as i64
                                - 1_000,
                        );
                    }
                    families.push(extra);
                }
                Ok(families)
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

    /// A target's scrapes into one head, one cache.
    struct Harness {
        transport: Fake,
        target: Target,
        store: LatestStore,
        head: Arc<wasmetheus_tsdb::Head>,
        cache: Mutex<ScrapeCache>,
    }

    impl Harness {
        fn new(transport: Fake, instance: &str) -> Self {
            Harness {
                transport,
                target: target(instance),
                store: LatestStore::default(),
                head: Arc::new(wasmetheus_tsdb::Head::default()),
                cache: Mutex::default(),
            }
        }

        async fn scrape(&self) {
            let storage: SharedStorage = Some(self.head.clone());
            scrape_and_store_with(
                &self.transport,
                &Scraper::default(),
                &self.target,
                &target_labels(&self.target),
                &self.store,
                &storage,
                &self.cache,
                now_ms(),
            )
            .await;
            // Scrapes within one millisecond would share a timestamp.
            tokio::time::sleep(Duration::from_millis(3)).await;
        }

        /// Every stored series as `labels: values`, stale markers as
        /// `stale` and the scrape duration as `_`.
        fn stored(&self) -> Vec<String> {
            let all = self
                .head
                .select(
                    &[Matcher::new(
                        wasmetheus_model::storage::MatchType::Regex,
                        "__name__",
                        ".+",
                    )
                    .unwrap()],
                    0,
                    i64::MAX,
                )
                .unwrap();
            all.into_iter()
                .map(|series| {
                    let labels: Vec<String> = series
                        .labels
                        .iter()
                        .map(|l| format!("{}={:?}", l.name, l.value))
                        .collect();
                    let duration = series.labels[0].value == "scrape_duration_seconds";
                    let values: Vec<String> = series
                        .samples
                        .iter()
                        .map(|(_, v)| match v {
                            v if is_stale_marker(*v) => "stale".to_owned(),
                            _ if duration => "_".to_owned(),
                            v => v.to_string(),
                        })
                        .collect();
                    format!("{}: {}", labels.join(","), values.join(" "))
                })
                .collect()
        }
    }

    #[tokio::test]
    async fn samples_get_target_labels_and_synthetic_series() {
        let h = Harness::new(Fake::new(1, usize::MAX), "a");
        h.scrape().await;
        let state = h.store.get("a").unwrap();
        assert_eq!(state.health, TargetHealth::Up);
        assert_eq!(state.series, 2);
        expect_test::expect![[r#"
            [
                "__name__=\"extra_total\",env=\"prod\",instance=\"a\",job=\"node\": 7",
                "__name__=\"requests_total\",code=\"200\",env=\"prod\",exported_job=\"inner\",instance=\"a\",job=\"node\": 7",
                "__name__=\"scrape_duration_seconds\",env=\"prod\",instance=\"a\",job=\"node\": _",
                "__name__=\"scrape_samples_post_metric_relabeling\",env=\"prod\",instance=\"a\",job=\"node\": 2",
                "__name__=\"scrape_samples_scraped\",env=\"prod\",instance=\"a\",job=\"node\": 2",
                "__name__=\"scrape_series_added\",env=\"prod\",instance=\"a\",job=\"node\": 2",
                "__name__=\"up\",env=\"prod\",instance=\"a\",job=\"node\": 1",
            ]
        "#]]
        .assert_debug_eq(&h.stored());
    }

    #[tokio::test]
    async fn a_failed_scrape_is_down_with_its_error_and_no_samples() {
        let h = Harness::new(Fake::new(1, usize::MAX), "broken");
        h.scrape().await;
        let state = h.store.get("broken").unwrap();
        assert_eq!(state.health, TargetHealth::Down);
        assert_eq!(state.last_error.as_deref(), Some("it broke"));
        assert!(state.families.is_empty());
        assert_eq!(state.samples[0].name, "up");
        assert_eq!(state.samples[0].value, 0.0);
        assert_eq!(h.stored().len(), 5, "{:#?}", h.stored());
    }

    #[tokio::test]
    async fn vanished_series_get_a_stale_marker_and_known_ones_are_not_added_again() {
        let h = Harness::new(Fake::new(1, usize::MAX), "t");
        h.scrape().await;
        h.scrape().await;
        h.scrape().await;
        expect_test::expect![[r#"
            [
                "__name__=\"extra_total\",env=\"prod\",instance=\"t\",job=\"node\": 7 stale",
                "__name__=\"requests_total\",code=\"200\",env=\"prod\",exported_job=\"inner\",instance=\"t\",job=\"node\": 7 7 7",
                "__name__=\"scrape_duration_seconds\",env=\"prod\",instance=\"t\",job=\"node\": _ _ _",
                "__name__=\"scrape_samples_post_metric_relabeling\",env=\"prod\",instance=\"t\",job=\"node\": 2 1 1",
                "__name__=\"scrape_samples_scraped\",env=\"prod\",instance=\"t\",job=\"node\": 2 1 1",
                "__name__=\"scrape_series_added\",env=\"prod\",instance=\"t\",job=\"node\": 2 0 0",
                "__name__=\"up\",env=\"prod\",instance=\"t\",job=\"node\": 1 1 1",
            ]
        "#]]
        .assert_debug_eq(&h.stored());
        let stats = &h.head.stats;
        assert_eq!(
            stats
                .series_created
                .load(std::sync::atomic::Ordering::Relaxed),
            7
        );
    }

    /// Prometheus tracks no staleness for samples with their own
    /// timestamps: one that vanishes, or whose target fails or goes
    /// away, gets no stale marker (the others do).
    #[tokio::test]
    async fn a_vanished_series_with_its_own_timestamps_gets_no_stale_marker() {
        let h = Harness::new(Fake::new(1, 3), "timed");
        h.scrape().await;
        h.scrape().await;
        h.scrape().await;
        h.scrape().await;
        let stored = h.stored();
        assert!(
            stored[0].starts_with("__name__=\"extra_total\""),
            "{stored:#?}"
        );
        assert!(stored[0].ends_with(": 7"), "{stored:#?}");
        assert!(stored[1].ends_with(": 7 7 7 stale"), "{stored:#?}");

        // With track_timestamps_staleness it gets one like the others.
        let mut h = Harness::new(Fake::new(1, 3), "timed");
        h.target.options = Arc::new(ScrapeOptions {
            track_timestamps_staleness: true,
            ..ScrapeOptions::default()
        });
        h.scrape().await;
        h.scrape().await;
        let stored = h.stored();
        assert!(stored[0].ends_with(": 7 stale"), "{stored:#?}");
    }

    #[tokio::test]
    async fn a_failed_scrape_ends_every_series_once() {
        let h = Harness::new(Fake::new(usize::MAX, 1), "t");
        h.scrape().await;
        h.scrape().await;
        h.scrape().await;
        expect_test::expect![[r#"
            [
                "__name__=\"extra_total\",env=\"prod\",instance=\"t\",job=\"node\": 7 stale",
                "__name__=\"requests_total\",code=\"200\",env=\"prod\",exported_job=\"inner\",instance=\"t\",job=\"node\": 7 stale",
                "__name__=\"scrape_duration_seconds\",env=\"prod\",instance=\"t\",job=\"node\": _ _ _",
                "__name__=\"scrape_samples_post_metric_relabeling\",env=\"prod\",instance=\"t\",job=\"node\": 2 0 0",
                "__name__=\"scrape_samples_scraped\",env=\"prod\",instance=\"t\",job=\"node\": 2 0 0",
                "__name__=\"scrape_series_added\",env=\"prod\",instance=\"t\",job=\"node\": 2 0 0",
                "__name__=\"up\",env=\"prod\",instance=\"t\",job=\"node\": 1 0 0",
            ]
        "#]]
        .assert_debug_eq(&h.stored());
    }

    #[tokio::test]
    async fn a_target_that_goes_away_ends_its_series_and_its_loop_appends_no_more() {
        let h = Harness::new(Fake::new(usize::MAX, usize::MAX), "t");
        h.scrape().await;
        let end = now_ms() + 1;
        h.cache.lock().end(&*h.head, &target_labels(&h.target), end);
        h.scrape().await;
        let stored = h.stored();
        assert_eq!(stored.len(), 7);
        for series in stored {
            assert!(series.ends_with(" stale"), "{series}");
        }
    }

    #[tokio::test]
    async fn a_scrape_over_the_sample_limit_stores_nothing_but_reports_what_it_read() {
        let mut h = Harness::new(Fake::new(usize::MAX, usize::MAX), "t");
        h.target.options = Arc::new(ScrapeOptions {
            sample_limit: 1,
            ..ScrapeOptions::default()
        });
        h.scrape().await;
        let state = h.store.get("t").unwrap();
        assert_eq!(state.last_error.as_deref(), Some("sample limit exceeded"));
        expect_test::expect![[r#"
            [
                "__name__=\"scrape_duration_seconds\",env=\"prod\",instance=\"t\",job=\"node\": _",
                "__name__=\"scrape_samples_post_metric_relabeling\",env=\"prod\",instance=\"t\",job=\"node\": 2",
                "__name__=\"scrape_samples_scraped\",env=\"prod\",instance=\"t\",job=\"node\": 2",
                "__name__=\"scrape_series_added\",env=\"prod\",instance=\"t\",job=\"node\": 2",
                "__name__=\"up\",env=\"prod\",instance=\"t\",job=\"node\": 0",
            ]
        "#]]
        .assert_debug_eq(&h.stored());
    }
}
