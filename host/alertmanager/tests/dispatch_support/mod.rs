//! Shared by the dispatcher's tests: an alertmanager.yml turned into a
//! running dispatcher over in-memory (or on-disk) state, a wall clock
//! derived from tokio's paused clock, and integrations that record,
//! fail or hang.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use parking_lot::Mutex;
use tokio::time::Instant;
use wasmetheus_alertmanager::dispatch::{
    Backoff, Dispatcher, Integration, NotifyError, NotifyFuture, NotifyRequest, Pipeline,
};
use wasmetheus_alertmanager::{
    Alert, Alerts, AlertsLimits, Clock, Inhibitor, Labels, Marker, NotificationLog, Silencer,
    Silences, State, StateOptions,
};
use wasmetheus_alertmanager_config::{Config, Route};

pub const BASE: &str = "2026-07-28T12:00:00Z";

/// A wall clock that moves with tokio's (paused) clock from `BASE`.
pub fn tokio_clock(start: Instant) -> Clock {
    let base: Timestamp = BASE.parse().unwrap();
    Arc::new(move || {
        let d = Instant::now().duration_since(start);
        base.checked_add(jiff::SignedDuration::try_from(d).unwrap())
            .unwrap()
    })
}

pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// How a test integration answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Behaviour {
    Ok,
    /// Fails (retryably) this many times, then succeeds.
    FailTimes(u32),
    AlwaysFail {
        retryable: bool,
    },
    Hang,
}

/// One notification as received: seconds since start, the group key,
/// and `value:status` of each alert's `instance` label (or alertname).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub at_ms: u64,
    pub group_key: String,
    pub alerts: Vec<String>,
}

pub struct Recorder {
    pub name: String,
    pub index: u32,
    pub send_resolved: bool,
    pub behaviour: Behaviour,
    pub start: Instant,
    pub attempts: AtomicU32,
    pub sent: Mutex<Vec<Sent>>,
}

impl Recorder {
    pub fn new(start: Instant, send_resolved: bool, behaviour: Behaviour) -> Arc<Recorder> {
        Arc::new(Recorder {
            name: "webhook".into(),
            index: 0,
            send_resolved,
            behaviour,
            start,
            attempts: AtomicU32::new(0),
            sent: Mutex::new(Vec::new()),
        })
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().clone()
    }
}

pub fn describe(a: &Alert, now: Timestamp) -> String {
    let id = a
        .labels
        .get("instance")
        .or_else(|| a.labels.get("alertname"))
        .cloned()
        .unwrap_or_default();
    format!("{id}:{}", a.status_at(now))
}

impl Integration for Recorder {
    fn name(&self) -> &str {
        &self.name
    }
    fn index(&self) -> u32 {
        self.index
    }
    fn send_resolved(&self) -> bool {
        self.send_resolved
    }
    fn notify<'a>(&'a self, req: &'a NotifyRequest<'a>) -> NotifyFuture<'a> {
        Box::pin(async move {
            let n = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
            let fail = |retryable| {
                Err(NotifyError {
                    retryable,
                    message: format!("attempt {n} failed"),
                })
            };
            match self.behaviour {
                Behaviour::Ok => {}
                Behaviour::FailTimes(k) if n <= k => return fail(true),
                Behaviour::FailTimes(_) => {}
                Behaviour::AlwaysFail { retryable } => return fail(retryable),
                Behaviour::Hang => std::future::pending::<()>().await,
            }
            self.sent.lock().push(Sent {
                at_ms: u64::try_from(Instant::now().duration_since(self.start).as_millis())
                    .unwrap(),
                group_key: req.group_key.to_owned(),
                alerts: req.alerts.iter().map(|a| describe(a, req.now)).collect(),
            });
            Ok(())
        })
    }
}

/// The state parts a dispatcher works over.
pub struct Parts {
    pub config: Config,
    pub alerts: Arc<Alerts>,
    pub nflog: Arc<NotificationLog>,
    pub silences: Arc<Silences>,
    pub marker: Arc<Marker>,
    pub inhibitor: Arc<Inhibitor>,
    pub clock: Clock,
}

pub fn parse(yaml: &str) -> Config {
    Config::parse(yaml, Path::new("alertmanager.yml")).unwrap()
}

impl Parts {
    pub fn in_memory(yaml: &str, clock: Clock) -> Parts {
        let config = parse(yaml);
        let opts = StateOptions::default();
        Parts {
            alerts: Arc::new(Alerts::new(AlertsLimits::default(), clock.clone())),
            nflog: Arc::new(NotificationLog::new(opts.retention, 0, clock.clone())),
            silences: Arc::new(Silences::new(opts.retention, opts.silences, clock.clone())),
            marker: Arc::new(Marker::new()),
            inhibitor: Arc::new(Inhibitor::new(&config.inhibit_rules)),
            config,
            clock,
        }
    }

    pub fn from_state(yaml: &str, state: &State, clock: Clock) -> Parts {
        let config = parse(yaml);
        Parts {
            alerts: state.alerts.clone(),
            nflog: state.nflog.clone(),
            silences: state.silences.clone(),
            marker: Arc::new(Marker::new()),
            inhibitor: Arc::new(Inhibitor::new(&config.inhibit_rules)),
            config,
            clock,
        }
    }

    /// A running dispatcher sending every receiver to `integration`.
    pub fn dispatcher(&self, integration: Arc<dyn Integration>, max_groups: usize) -> Dispatcher {
        let all: Vec<(String, Arc<dyn Integration>)> = self
            .config
            .receivers
            .iter()
            .map(|r| (r.name.clone(), integration.clone()))
            .collect();
        self.dispatcher_with(&all, max_groups)
    }

    /// A running dispatcher with one integration per named receiver.
    pub fn dispatcher_with(
        &self,
        receivers: &[(String, Arc<dyn Integration>)],
        max_groups: usize,
    ) -> Dispatcher {
        let mut pipeline = Pipeline::new(self.nflog.clone(), self.marker.clone())
            .with_inhibitor(self.inhibitor.clone())
            .with_silencer(Silencer::new(self.silences.clone(), self.marker.clone()))
            .with_time_intervals(
                self.config
                    .time_intervals
                    .iter()
                    .chain(&self.config.mute_time_intervals)
                    .cloned()
                    .collect(),
            )
            .with_backoff(Backoff {
                randomization: 0.0,
                ..Backoff::default()
            });
        for (name, integration) in receivers {
            pipeline = pipeline.with_receiver(name, vec![integration.clone()]);
        }
        let d = Dispatcher::new(
            Route::new(&self.config.route),
            pipeline,
            self.alerts.clone(),
            self.clock.clone(),
            max_groups,
            None,
        );
        let runner = d.clone();
        tokio::spawn(async move { runner.run().await });
        d
    }

    /// Puts a firing (or, with `resolved`, ended-now) alert started now.
    pub fn put(&self, pairs: &[(&str, &str)], resolved: bool) {
        let now = (self.clock)();
        let mut a = Alert::new(labels(pairs));
        a.starts_at = Some(now);
        a.updated_at = Some(now);
        if resolved {
            a.ends_at = Some(now);
        }
        self.inhibitor.observe(&a);
        self.alerts.put(a).unwrap();
    }
}

/// Sleeps (paused time auto-advances) until `secs` after `start`.
pub async fn at(start: Instant, secs: f64) {
    tokio::time::sleep_until(start + Duration::from_secs_f64(secs)).await;
    // Let the woken tasks run.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}
