//! A [`Backend`] with fixed answers, for driving the router without a
//! server: an in-memory store of a few series, fixed status reports, and
//! switches for the admin API, the lifecycle API and the query gate.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use wasmetheus_api::types::{
    AlertmanagersStatus, Metadata, PluginStatus, RuleGroup, RuntimeInfo, TargetsStatus, TsdbStatus,
};
use wasmetheus_api::{AdminFuture, Backend, QueryGate, ReloadFuture, TargetMetadata};
use wasmetheus_model::storage::{
    Matcher, Queryable, SelectHints, Series, StorageError, VecSampleIterator,
};
use wasmetheus_model::{Label, Metric, MetricFamily, MetricKind, MetricValue};

/// The first sample's time (ms): 2023-11-14T22:13:20Z.
pub const T0: i64 = 1_700_000_000_000;
/// Samples every 15 s for 10 minutes.
pub const STEP: i64 = 15_000;
pub const SAMPLES: i64 = 41;

/// What the admin endpoints asked the backend to do.
#[derive(Debug, Clone, PartialEq)]
pub enum AdminCall {
    Snapshot {
        skip_head: bool,
    },
    Delete {
        selectors: Vec<String>,
        start: i64,
        end: i64,
    },
    CleanTombstones,
}

/// The fake: every switch off (as a server started without flags).
pub struct Fake {
    pub admin: bool,
    pub lifecycle: bool,
    /// What `reload` answers.
    pub reload: Result<(), String>,
    /// What the admin operations answer.
    pub admin_error: Option<String>,
    pub admin_calls: Mutex<Vec<AdminCall>>,
    pub gate: Option<Arc<QueryGate>>,
    pub store: Option<Arc<FakeStore>>,
    pub engine: wasmetheus_promql::engine::Engine,
    /// What `rule_groups` reports (none: no rules loaded).
    pub rule_groups: Vec<RuleGroup>,
    pub alertmanagers: AlertmanagersStatus,
}

impl Default for Fake {
    fn default() -> Self {
        Fake {
            admin: false,
            lifecycle: false,
            reload: Ok(()),
            admin_error: None,
            admin_calls: Mutex::new(Vec::new()),
            gate: None,
            store: Some(Arc::new(FakeStore::fixture())),
            engine: wasmetheus_promql::engine::Engine::default(),
            rule_groups: Vec::new(),
            alertmanagers: AlertmanagersStatus::default(),
        }
    }
}

impl Fake {
    fn admin_answer<T: Send + 'static>(&self, call: AdminCall, ok: T) -> AdminFuture<'_, T> {
        self.admin_calls.lock().unwrap().push(call);
        let result = match &self.admin_error {
            Some(e) => Err(e.clone()),
            None => Ok(ok),
        };
        Box::pin(async move { result })
    }
}

fn gauge(name: &str, help: &str, labels: &[(&str, &str)], value: f64) -> MetricFamily {
    MetricFamily {
        name: name.into(),
        kind: MetricKind::Gauge,
        help: help.into(),
        unit: String::new(),
        metrics: vec![Metric {
            labels: labels.iter().map(|(k, v)| Label::new(*k, *v)).collect(),
            value: MetricValue::Number(value),
            timestamp_ms: None,
        }],
    }
}

/// The families of the fake plugin instance `node`.
pub fn node_families() -> Vec<MetricFamily> {
    vec![
        MetricFamily {
            name: "node_cpu_seconds".into(),
            kind: MetricKind::Counter,
            help: "Seconds the CPUs spent in each mode.".into(),
            unit: "seconds".into(),
            metrics: vec![Metric {
                labels: vec![Label::new("cpu", "0"), Label::new("mode", "idle")],
                value: MetricValue::Number(12.5),
                timestamp_ms: None,
            }],
        },
        gauge("node_load1", "1m load average.", &[], 0.25),
    ]
}

impl Backend for Fake {
    fn self_metrics(&self) -> Vec<MetricFamily> {
        vec![gauge(
            "wasmetheus_build_info",
            "A metric with a constant '1' value labeled by version.",
            &[("version", "0.0.0")],
            1.0,
        )]
    }

    fn instance_metrics(&self, instance: &str) -> Option<Result<Arc<Vec<MetricFamily>>, String>> {
        match instance {
            "node" => Some(Ok(Arc::new(node_families()))),
            "broken" => Some(Err("collect timed out after 5s".into())),
            _ => None,
        }
    }

    fn plugins_status(&self) -> Vec<PluginStatus> {
        crate::data::plugins_status()
    }

    fn reload(&self) -> ReloadFuture<'_> {
        let result = self.reload.clone();
        Box::pin(async move { result })
    }

    fn admin_enabled(&self) -> bool {
        self.admin
    }

    fn tsdb_snapshot(&self, skip_head: bool) -> AdminFuture<'_, String> {
        self.admin_answer(
            AdminCall::Snapshot { skip_head },
            "20231114T221320Z-00000000000000ff".to_owned(),
        )
    }

    fn tsdb_delete_series(
        &self,
        selectors: Vec<Vec<Matcher>>,
        start: i64,
        end: i64,
    ) -> AdminFuture<'_, ()> {
        let selectors = selectors
            .iter()
            .map(|set| {
                set.iter()
                    .map(|m| format!("{}{}{:?}", m.name, m.kind.as_str(), m.value))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        self.admin_answer(
            AdminCall::Delete {
                selectors,
                start,
                end,
            },
            (),
        )
    }

    fn tsdb_clean_tombstones(&self) -> AdminFuture<'_, ()> {
        self.admin_answer(AdminCall::CleanTombstones, ())
    }

    fn queryable(&self) -> Option<Arc<dyn Queryable>> {
        self.store
            .as_ref()
            .map(|s| Arc::clone(s) as Arc<dyn Queryable>)
    }

    fn engine(&self) -> wasmetheus_promql::engine::Engine {
        self.engine.clone()
    }

    fn query_gate(&self) -> Option<Arc<QueryGate>> {
        self.gate.clone()
    }

    fn flags(&self) -> BTreeMap<String, String> {
        [
            ("query.lookback-delta", "5m"),
            ("query.timeout", "2m"),
            ("web.enable-lifecycle", "false"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn config_text(&self) -> String {
        "global:\n  scrape_interval: 15s\n  external_labels:\n    cluster: c1\n".into()
    }

    fn runtime_info(&self) -> RuntimeInfo {
        crate::data::runtime_info()
    }

    fn metadata(&self) -> Metadata {
        crate::data::metadata()
    }

    fn targets_metadata(&self) -> Vec<TargetMetadata> {
        let target = |job: &str, instance: &str, families: Vec<MetricFamily>| TargetMetadata {
            labels: vec![Label::new("instance", instance), Label::new("job", job)],
            families: Arc::new(families),
        };
        vec![
            target("node", "node", node_families()),
            target(
                "wasmetheus",
                "localhost:9090",
                vec![gauge(
                    "prometheus_tsdb_head_series",
                    "Total number of series in the head block.",
                    &[],
                    3.0,
                )],
            ),
        ]
    }

    fn lifecycle_enabled(&self) -> bool {
        self.lifecycle
    }

    fn external_labels(&self) -> Vec<Label> {
        vec![Label::new("cluster", "c1")]
    }

    fn tsdb_status(&self) -> TsdbStatus {
        crate::data::tsdb_status()
    }

    fn targets_status(&self) -> TargetsStatus {
        crate::data::targets_status()
    }

    fn rule_groups(&self) -> Vec<RuleGroup> {
        self.rule_groups.clone()
    }

    fn alertmanagers_status(&self) -> AlertmanagersStatus {
        self.alertmanagers.clone()
    }
}

/// One series: its labels, sorted, and its samples, oldest first.
pub type StoredSeries = (Vec<Label>, Vec<(i64, f64)>);

/// Series in memory, each with its samples.
pub struct FakeStore {
    pub series: Vec<StoredSeries>,
    /// When set, every read fails with this.
    pub fail: Option<String>,
}

fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
    let mut labels: Vec<Label> = pairs.iter().map(|(k, v)| Label::new(*k, *v)).collect();
    labels.sort();
    labels
}

impl FakeStore {
    /// Two counters of `http_requests_total` (1/s and 0.1/s) and a gauge,
    /// from [`T0`] on.
    pub fn fixture() -> Self {
        let points = |f: &dyn Fn(i64) -> f64| -> Vec<(i64, f64)> {
            (0..SAMPLES).map(|i| (T0 + i * STEP, f(i))).collect()
        };
        FakeStore {
            series: vec![
                (
                    labels(&[
                        ("__name__", "http_requests_total"),
                        ("code", "200"),
                        ("job", "api"),
                    ]),
                    points(&|i| (i * 15) as f64),
                ),
                (
                    labels(&[
                        ("__name__", "http_requests_total"),
                        ("code", "500"),
                        ("job", "api"),
                    ]),
                    points(&|i| (i * 15) as f64 / 10.0),
                ),
                (
                    labels(&[
                        ("__name__", "temperature"),
                        ("room", "hall"),
                        ("job", "home"),
                    ]),
                    points(&|i| 20.0 + (i % 4) as f64 * 0.5),
                ),
            ],
            fail: None,
        }
    }

    /// Series whose newest sample is at `now` (ms), for `/federate`.
    pub fn recent(now: i64) -> Self {
        FakeStore {
            series: vec![
                (
                    labels(&[("__name__", "up"), ("instance", "a:1"), ("job", "a")]),
                    vec![(now - 30_000, 0.0), (now - 1_000, 1.0)],
                ),
                (
                    labels(&[
                        ("__name__", "up"),
                        ("cluster", "own"),
                        ("instance", "b:1"),
                        ("job", "b"),
                    ]),
                    vec![(now - 2_000, 1.0)],
                ),
                (
                    labels(&[("__name__", "old"), ("job", "a")]),
                    vec![(now - 3_600_000, 1.0)],
                ),
            ],
            fail: None,
        }
    }

    fn matching<'a>(
        &'a self,
        matchers: &'a [Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<impl Iterator<Item = &'a StoredSeries>, StorageError> {
        if let Some(e) = &self.fail {
            return Err(StorageError(e.clone()));
        }
        Ok(self.series.iter().filter(move |(labels, samples)| {
            matchers.iter().all(|m| {
                let value = labels
                    .iter()
                    .find(|l| l.name == m.name)
                    .map_or("", |l| l.value.as_str());
                m.matches(value)
            }) && samples.iter().any(|(t, _)| (mint..=maxt).contains(t))
        }))
    }
}

impl Queryable for FakeStore {
    fn select_series(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<Series>, StorageError> {
        let (mint, maxt) = (hints.start, hints.end);
        Ok(self
            .matching(matchers, mint, maxt)?
            .map(|(labels, samples)| Series {
                labels: labels.clone(),
                samples: Box::new(VecSampleIterator::new(
                    samples
                        .iter()
                        .copied()
                        .filter(|(t, _)| (mint..=maxt).contains(t))
                        .collect(),
                )),
            })
            .collect())
    }

    fn label_names(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        let mut names: Vec<String> = self
            .matching(matchers, mint, maxt)?
            .flat_map(|(labels, _)| labels.iter().map(|l| l.name.clone()))
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
        let mut values: Vec<String> = self
            .matching(matchers, mint, maxt)?
            .filter_map(|(labels, _)| labels.iter().find(|l| l.name == name))
            .map(|l| l.value.clone())
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }
}
