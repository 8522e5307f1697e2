//! The rule manager (Prometheus' `rules/manager.go` and `Group.run`):
//! the groups of the configured rule files, each on its own task at its
//! interval and stable offset, evaluations on blocking threads (an
//! evaluation longer than its interval makes the next ones count as
//! missed, never pile up), reloads that keep unchanged groups running and
//! carry the state of changed ones over, removed groups' series marked
//! stale, the for-state restored after the first evaluations, and the
//! snapshots the API and the self-metrics read. With concurrent
//! evaluation on, every group shares one [`ConcurrencyLimit`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::watch;
use wasmetheus_model::Label;
use wasmetheus_model::storage::Storage;
use wasmetheus_promql::engine::Engine;

use crate::concurrency::ConcurrencyLimit;
use crate::evaluate::Rule;
use crate::group::{Group, GroupSnapshot};
use crate::load::{LoadError, LoadOptions, load_groups_restoring};
use crate::metrics::Windows;
use crate::rule::now_ms;
use crate::rule::{Alert, EvalContext, NotifyFunc};
use crate::schedule::{eval_timestamp, group_hash};

/// What the manager runs with.
#[derive(Clone)]
pub struct ManagerOptions {
    pub engine: Arc<Engine>,
    pub storage: Arc<dyn Storage>,
    pub notify: Option<NotifyFunc>,
    /// `--rules.alert.resend-delay` (1m).
    pub resend_delay: Duration,
    /// `--rules.alert.for-outage-tolerance` (1h).
    pub outage_tolerance: Duration,
    /// `--rules.alert.for-grace-period` (10m).
    pub grace_period: Duration,
    /// Where the tasks run.
    pub runtime: tokio::runtime::Handle,
    /// `Some(n)`: Prometheus' `concurrent-rule-eval` feature, independent
    /// rules of a group evaluated at once with `n` slots shared by all
    /// groups (`--rules.max-concurrent-evals`); `None` (the default):
    /// every rule in order.
    pub concurrent_evals: Option<usize>,
}

impl ManagerOptions {
    /// Prometheus' defaults, on the current tokio runtime (call from
    /// within one).
    pub fn new(engine: Arc<Engine>, storage: Arc<dyn Storage>) -> Self {
        ManagerOptions {
            engine,
            storage,
            notify: None,
            resend_delay: Duration::from_secs(60),
            outage_tolerance: Duration::from_secs(3600),
            grace_period: Duration::from_secs(600),
            runtime: tokio::runtime::Handle::current(),
            concurrent_evals: None,
        }
    }
}

/// One running group.
struct Running {
    group: Arc<Mutex<Group>>,
    /// The group as of its last evaluation: what readers see without
    /// waiting for an evaluation in progress.
    snapshot: Arc<Mutex<GroupSnapshot>>,
    stopped: Arc<AtomicBool>,
    stop: watch::Sender<bool>,
}

impl Running {
    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let _ = self.stop.send(true);
    }
}

/// The rule manager.
pub struct Manager {
    opts: ManagerOptions,
    groups: Mutex<BTreeMap<(PathBuf, String), Running>>,
    /// Held by a reload from start to end, so reloads run one at a time
    /// while `groups` is locked only to read or replace the map (never
    /// while waiting for an evaluation).
    reload: Mutex<()>,
    /// Set after the first load: groups loaded later start restored.
    restored: AtomicBool,
    /// Told when the manager stops (removed groups stop waiting).
    done: watch::Sender<bool>,
    /// Recent durations for the summaries' quantiles.
    windows: Arc<Mutex<Windows>>,
    /// The group loops and stale-marking tasks started, so that
    /// [`Manager::shutdown`] can wait for the evaluations in progress.
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The slots of concurrent evaluation, when it is on.
    concurrency: Option<Arc<ConcurrencyLimit>>,
}

impl Manager {
    pub fn new(opts: ManagerOptions) -> Self {
        Manager {
            concurrency: opts.concurrent_evals.map(ConcurrencyLimit::new),
            opts,
            groups: Mutex::new(BTreeMap::new()),
            reload: Mutex::new(()),
            restored: AtomicBool::new(false),
            done: watch::channel(false).0,
            windows: Arc::default(),
            tasks: Mutex::default(),
        }
    }

    /// Reloads the rules: `files` (globs already expanded) with the
    /// global `interval`, external labels and URL.
    pub fn update(
        &self,
        files: &[PathBuf],
        interval: Duration,
        external_labels: Vec<Label>,
        external_url: &str,
    ) -> Result<(), LoadError> {
        self.update_with_options(
            files,
            &LoadOptions {
                default_interval: interval,
                external_labels,
                external_url: external_url.to_owned(),
                ..LoadOptions::default()
            },
        )
    }

    /// [`update`](Self::update) with every load option (the global
    /// `rule_query_offset`, `--ignore-unknown-fields`). An error loading
    /// any file keeps the groups running as they are.
    pub fn update_with_options(
        &self,
        files: &[PathBuf],
        opts: &LoadOptions,
    ) -> Result<(), LoadError> {
        let _reload = self.reload.lock();
        // After `shutdown`, a late reload (a SIGHUP during the stop) starts
        // nothing that nobody would wait for.
        if *self.done.borrow() {
            return Ok(());
        }
        let should_restore = !self.restored.load(Ordering::SeqCst);
        let loaded = load_groups_restoring(files, opts, should_restore)?;
        self.restored.store(true, Ordering::SeqCst);
        // Compare with the running groups without holding the map: looking
        // at a group waits for its evaluation in progress, and the API
        // reads the map meanwhile.
        let previous: BTreeMap<(PathBuf, String), Arc<Mutex<Group>>> = self
            .groups
            .lock()
            .iter()
            .map(|(key, running)| (key.clone(), running.group.clone()))
            .collect();
        // Per loaded group: `None` keeps the running one, `Some` starts it
        // (with the state of the one it replaces copied in).
        let mut plans = Vec::new();
        for mut group in loaded {
            group.set_resend_delay(self.opts.resend_delay);
            group.set_concurrency(self.concurrency.clone());
            let key = (group.file().to_owned(), group.name().to_owned());
            let plan = match previous.get(&key) {
                Some(running) => {
                    let running = running.lock();
                    if running.same_definition(&group) {
                        None
                    } else {
                        group.copy_state(&running);
                        Some(group)
                    }
                }
                None => Some(group),
            };
            plans.push((key, plan));
        }
        let removed = {
            let mut groups = self.groups.lock();
            let mut old = std::mem::take(&mut *groups);
            for (key, plan) in plans {
                let replaced = match plan {
                    None => match old.remove(&key) {
                        Some(running) => groups.insert(key, running),
                        None => None,
                    },
                    Some(group) => {
                        if let Some(previous) = old.remove(&key) {
                            previous.stop();
                        }
                        let running = self.start(group, should_restore);
                        // A file listed twice: the later group wins, as in
                        // Prometheus' map of groups.
                        groups.insert(key, running)
                    }
                };
                if let Some(replaced) = replaced {
                    replaced.stop();
                }
            }
            old
        };
        for (_, removed) in removed {
            removed.stop();
            self.mark_stale_later(removed.group);
        }
        Ok(())
    }

    fn start(&self, group: Group, should_restore: bool) -> Running {
        let (stop, stop_rx) = watch::channel(false);
        let stopped = Arc::new(AtomicBool::new(false));
        let snapshot = Arc::new(Mutex::new(group.snapshot()));
        let group = Arc::new(Mutex::new(group));
        let task = GroupTask {
            windows: self.windows.clone(),
            group: group.clone(),
            snapshot: snapshot.clone(),
            stopped: stopped.clone(),
            opts: self.opts.clone(),
            should_restore,
        };
        let handle = self.opts.runtime.spawn(task.run(stop_rx));
        self.track(handle);
        Running {
            group,
            snapshot,
            stopped,
            stop,
        }
    }

    /// A removed group's series go stale after two of its intervals (so
    /// a renamed rule can write first), or at once when the manager
    /// stops first.
    fn mark_stale_later(&self, group: Arc<Mutex<Group>>) {
        let mut done = self.done.subscribe();
        let opts = self.opts.clone();
        let wait = group.lock().interval().saturating_mul(2);
        let now = now_ms();
        let handle = self.opts.runtime.spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = done.wait_for(|d| *d) => return,
            }
            let _ = tokio::task::spawn_blocking(move || {
                let ctx = EvalContext {
                    engine: &opts.engine,
                    storage: opts.storage.as_ref(),
                    notify: None,
                };
                group.lock().mark_all_stale(now, &ctx);
            })
            .await;
        });
        self.track(handle);
    }

    /// Keeps `handle` for [`Manager::shutdown`], forgetting finished ones.
    fn track(&self, handle: tokio::task::JoinHandle<()>) {
        let mut tasks = self.tasks.lock();
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle);
    }

    /// [`Manager::stop`], then waits until every group's evaluation in
    /// progress has ended, as Prometheus' rule manager does before the
    /// storage closes (so no rule appends to a closed TSDB, and none holds
    /// it open).
    pub async fn shutdown(&self) {
        {
            // No reload is half-way through starting groups meanwhile.
            let _reload = self.reload.lock();
            self.stop();
        }
        let tasks = std::mem::take(&mut *self.tasks.lock());
        for task in tasks {
            let _ = task.await;
        }
    }

    /// Stops every group; returns at once (an evaluation in progress
    /// finishes on its own thread; [`Manager::shutdown`] waits for it).
    pub fn stop(&self) {
        // `send_replace`: the value changes even when nobody is subscribed.
        self.done.send_replace(true);
        for running in self.groups.lock().values() {
            running.stop();
        }
    }

    /// Every group in file order, then name, with its rules' state.
    pub fn groups(&self) -> Vec<GroupSnapshot> {
        self.groups
            .lock()
            .values()
            .map(|r| r.snapshot.lock().clone())
            .collect()
    }

    /// Every pending or firing alert.
    pub fn alerts(&self) -> Vec<Alert> {
        self.groups
            .lock()
            .values()
            .flat_map(|r| {
                r.snapshot
                    .lock()
                    .rules
                    .iter()
                    .filter_map(|rule| match rule {
                        Rule::Alerting(a) => Some(a.active_alerts()),
                        Rule::Recording(_) => None,
                    })
                    .flatten()
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The `prometheus_rule_*` self-metrics.
    pub fn metrics(&self) -> Vec<wasmetheus_model::MetricFamily> {
        crate::metrics::families(&self.groups(), Some(&self.windows.lock()))
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One group's loop.
struct GroupTask {
    windows: Arc<Mutex<Windows>>,
    group: Arc<Mutex<Group>>,
    snapshot: Arc<Mutex<GroupSnapshot>>,
    stopped: Arc<AtomicBool>,
    opts: ManagerOptions,
    should_restore: bool,
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

impl GroupTask {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let (hash, interval) = {
            let g = self.group.lock();
            (group_hash(g.file(), g.name()), g.interval())
        };
        let interval = interval.max(Duration::from_millis(1));
        let interval_ns = i64::try_from(interval.as_nanos()).unwrap_or(i64::MAX);
        let mut eval_ts = eval_timestamp(hash, interval, now_ns()).saturating_add(interval_ns);
        let first_wait = Duration::from_nanos(u64::try_from(eval_ts - now_ns()).unwrap_or(0));
        tokio::select! {
            _ = tokio::time::sleep(first_wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        self.iterate(eval_ts).await;
        let mut restore = self.should_restore;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            if self.stopped.load(Ordering::SeqCst) {
                return;
            }
            let missed = (now_ns() - eval_ts) / interval_ns - 1;
            if missed > 0 {
                let mut g = self.group.lock();
                g.counters.missed += missed as u64;
                g.counters.iterations += missed as u64;
            }
            eval_ts = eval_ts.saturating_add((missed.max(0) + 1).saturating_mul(interval_ns));
            self.iterate(eval_ts).await;
            if restore {
                // After a second evaluation, as Prometheus: recording rules
                // have caught up by then.
                restore = false;
                let group = self.group.clone();
                let snapshot = self.snapshot.clone();
                let opts = self.opts.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    let ctx = EvalContext {
                        engine: &opts.engine,
                        storage: opts.storage.as_ref(),
                        notify: None,
                    };
                    let mut g = group.lock();
                    g.restore_for_state(now_ms(), &ctx, opts.outage_tolerance, opts.grace_period);
                    *snapshot.lock() = g.snapshot();
                })
                .await;
            }
        }
    }

    /// One iteration at `eval_ts` (ns) on a blocking thread.
    async fn iterate(&self, eval_ts: i64) {
        let group = self.group.clone();
        let snapshot = self.snapshot.clone();
        let windows = self.windows.clone();
        let stopped = self.stopped.clone();
        let opts = self.opts.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let mut g = group.lock();
            if stopped.load(Ordering::SeqCst) {
                return;
            }
            g.counters.iterations += 1;
            let start = Instant::now();
            let ctx = EvalContext {
                engine: &opts.engine,
                storage: opts.storage.as_ref(),
                notify: opts.notify.as_ref(),
            };
            g.eval(eval_ts.div_euclid(1_000_000), &ctx);
            g.counters.iteration_duration_sum += start.elapsed().as_secs_f64();
            g.counters.iteration_duration_count += 1;
            {
                let mut w = windows.lock();
                w.group.observe(start.elapsed().as_secs_f64());
                for rule in g.rules() {
                    w.rule.observe(rule.status().evaluation_time.as_secs_f64());
                }
            }
            *snapshot.lock() = g.snapshot();
        })
        .await;
    }
}
