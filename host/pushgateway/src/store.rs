//! The groups and their families, with Pushgateway 1.5's write semantics:
//! `PUT` replaces a group, `POST` replaces the pushed families in it,
//! `DELETE` removes it; every change is checked for consistency against
//! the whole store first, and each group carries `push_time_seconds` and
//! `push_failure_time_seconds`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use wasmetheus_model::{Label, MetricKind, MetricValue};
use wasmetheus_prompb::client::{Gauge, LabelPair, Metric, MetricFamily, MetricType};

use crate::body::{Families, family_type};
use crate::check;
use crate::grouping::GroupingKey;

pub const PUSH_METRIC: &str = "push_time_seconds";
const PUSH_HELP: &str = "Last Unix time when changing this group in the Pushgateway succeeded.";
pub const PUSH_FAILED_METRIC: &str = "push_failure_time_seconds";
const PUSH_FAILED_HELP: &str = "Last Unix time when changing this group in the Pushgateway failed.";

/// Bounds on what the store holds (Pushgateway has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Groups at most.
    pub max_groups: usize,
    /// Metrics (a histogram or summary counts once) over every group.
    pub max_metrics: usize,
    /// Bytes of one label value.
    pub max_label_value_length: usize,
    /// Samples (lines) of one text push.
    pub max_push_samples: usize,
    /// Memory one protobuf push may take decoded (an empty metric is 2
    /// bytes on the wire and several hundred decoded).
    pub max_push_decoded_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_groups: 10_000,
            max_metrics: 200_000,
            max_label_value_length: 16 * 1024,
            max_push_samples: 100_000,
            max_push_decoded_bytes: 128 << 20,
        }
    }
}

/// One family of a group and when it was pushed.
#[derive(Debug, Clone, PartialEq)]
pub struct Timestamped {
    pub pushed: SystemTime,
    pub family: MetricFamily,
}

/// A group: its grouping key and its families by name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Group {
    pub labels: GroupingKey,
    pub families: BTreeMap<String, Timestamped>,
}

impl Group {
    /// Pushgateway's `LastPushSuccess`: no failure after the last success.
    pub fn last_push_successful(&self) -> bool {
        let value = |name: &str| {
            let family = &self.families.get(name)?.family;
            family.metric.first()?.gauge?.value
        };
        match (value(PUSH_FAILED_METRIC), value(PUSH_METRIC)) {
            (Some(fail), Some(success)) => fail <= success,
            _ => true,
        }
    }

    fn metric_count(&self) -> usize {
        self.families.values().map(|f| f.family.metric.len()).sum()
    }
}

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// Invalid or inconsistent (400 in Pushgateway).
    #[error("pushed metrics are invalid or inconsistent with existing metrics: {0}")]
    Invalid(String),
    /// Past a limit of the store.
    #[error("{0}")]
    Limit(String),
}

/// Every group, by grouping key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Store {
    /// Changed only through the methods below, which keep the indexes.
    pub groups: BTreeMap<GroupingKey, Group>,
    pub limits: Limits,
    /// Per family name: how many groups hold it with metrics, and its
    /// type (one per name in a consistent store). A push is checked
    /// against these and its own job's groups, not the whole store.
    names: HashMap<String, NameEntry>,
    /// The groups of each job.
    jobs: HashMap<String, BTreeSet<GroupingKey>>,
    /// Metrics over every group.
    metrics: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct NameEntry {
    groups: usize,
    kind: MetricType,
}

impl Store {
    pub fn new(limits: Limits) -> Self {
        Store {
            groups: BTreeMap::new(),
            limits,
            names: HashMap::new(),
            jobs: HashMap::new(),
            metrics: 0,
        }
    }

    /// Replaces every group (a restored file).
    pub fn set_groups(&mut self, groups: BTreeMap<GroupingKey, Group>) {
        self.wipe();
        for (key, group) in groups {
            self.insert_group(&key, group);
        }
    }

    /// Takes the group of `key` out of the indexes (it stays in `groups`).
    fn unindex(&mut self, key: &GroupingKey) {
        let Some(group) = self.groups.get(key) else {
            return;
        };
        for (name, f) in &group.families {
            if f.family.metric.is_empty() {
                continue;
            }
            if let Some(entry) = self.names.get_mut(name) {
                entry.groups -= 1;
                if entry.groups == 0 {
                    self.names.remove(name);
                }
            }
        }
        self.metrics -= group.metric_count();
        let job = key.get("job").cloned().unwrap_or_default();
        if let Some(keys) = self.jobs.get_mut(&job) {
            keys.remove(key);
            if keys.is_empty() {
                self.jobs.remove(&job);
            }
        }
    }

    fn insert_group(&mut self, key: &GroupingKey, group: Group) {
        self.unindex(key);
        for (name, f) in &group.families {
            if f.family.metric.is_empty() {
                continue;
            }
            let kind = family_type(&f.family);
            let entry = self
                .names
                .entry(name.clone())
                .or_insert(NameEntry { groups: 0, kind });
            entry.groups += 1;
            entry.kind = kind;
        }
        self.metrics += group.metric_count();
        let job = key.get("job").cloned().unwrap_or_default();
        self.jobs.entry(job).or_default().insert(key.clone());
        self.groups.insert(key.clone(), group);
    }

    /// Applies a push (`replace`: `PUT`), or records its failure.
    pub fn push(
        &mut self,
        key: &GroupingKey,
        mut families: Families,
        replace: bool,
        now: SystemTime,
    ) -> Result<(), PushError> {
        let outcome = self.try_push(key, &mut families, replace, now);
        if let Err(PushError::Invalid(_)) = &outcome {
            self.set_push_failed(key, now);
        }
        outcome
    }

    fn try_push(
        &mut self,
        key: &GroupingKey,
        families: &mut Families,
        replace: bool,
        now: SystemTime,
    ) -> Result<(), PushError> {
        let timestamped = families
            .values()
            .any(|f| f.metric.iter().any(|m| m.timestamp_ms.is_some()));
        if timestamped {
            return Err(PushError::Invalid(
                "pushed metrics must not have timestamps".into(),
            ));
        }
        let max = self.limits.max_label_value_length;
        for family in families.values_mut() {
            sanitize_labels(family, key);
            let long = family
                .metric
                .iter()
                .flat_map(|m| &m.label)
                .find(|l| l.value.as_ref().is_some_and(|v| v.len() > max));
            if let Some(l) = long {
                return Err(PushError::Invalid(format!(
                    "label {:?} has a value of {} bytes, more than the limit of {max}",
                    l.name.as_deref().unwrap_or_default(),
                    l.value.as_ref().map_or(0, String::len)
                )));
            }
        }
        let mut group = self.groups.get(key).cloned().unwrap_or_else(|| Group {
            labels: key.clone(),
            families: BTreeMap::new(),
        });
        let is_new = !self.groups.contains_key(key);
        if replace {
            group
                .families
                .retain(|name, _| name == PUSH_METRIC || name == PUSH_FAILED_METRIC);
        }
        families.insert(
            PUSH_METRIC.to_owned(),
            timestamp_gauge(PUSH_METRIC, PUSH_HELP, key, Some(now)),
        );
        if !group.families.contains_key(PUSH_FAILED_METRIC) {
            families.insert(
                PUSH_FAILED_METRIC.to_owned(),
                timestamp_gauge(PUSH_FAILED_METRIC, PUSH_FAILED_HELP, key, None),
            );
        }
        for (name, family) in std::mem::take(families) {
            group.families.insert(
                name,
                Timestamped {
                    pushed: now,
                    family,
                },
            );
        }
        // Limits before the (costlier) consistency check.
        if is_new && self.groups.len() >= self.limits.max_groups {
            return Err(PushError::Limit(format!(
                "the Pushgateway holds {} groups, the limit: delete groups (DELETE /metrics/job/…) or wipe them (PUT /api/v1/admin/wipe) first",
                self.groups.len()
            )));
        }
        let own = self.groups.get(key).map_or(0, Group::metric_count);
        let total = self.metrics - own + group.metric_count();
        if total > self.limits.max_metrics {
            return Err(PushError::Limit(format!(
                "the push would make {total} metrics, more than the Pushgateway's limit of {}: delete groups first",
                self.limits.max_metrics
            )));
        }
        let errors = self.check_push(key, &group);
        if !errors.is_empty() {
            return Err(PushError::Invalid(check::message(&errors)));
        }
        self.insert_group(key, group);
        Ok(())
    }

    /// The consistency check of a new version of the group `key`
    /// against the names it touches (see [`check::check_push`]).
    fn check_push(&self, key: &GroupingKey, replacement: &Group) -> Vec<String> {
        let pushed: Vec<&MetricFamily> = (replacement.families.values())
            .map(|f| &f.family)
            .filter(|f| !f.metric.is_empty())
            .collect();
        let current = self.groups.get(key);
        // The type other groups hold `name` as.
        let existing_type = |name: &str| {
            let entry = self.names.get(name)?;
            let own = current
                .and_then(|g| g.families.get(name))
                .is_some_and(|f| !f.family.metric.is_empty());
            (entry.groups > usize::from(own)).then_some(entry.kind)
        };
        let mut existing: BTreeMap<String, MetricType> = BTreeMap::new();
        for family in &pushed {
            let name = family.name.as_deref().unwrap_or_default();
            let mut touched = vec![name.to_owned()];
            for suffix in ["_count", "_sum", "_bucket"] {
                touched.push(format!("{name}{suffix}"));
                touched.extend(name.strip_suffix(suffix).map(str::to_owned));
            }
            for name in touched {
                if let Some(kind) = existing_type(&name) {
                    existing.insert(name, kind);
                }
            }
        }
        // Only groups of the same job whose other grouping labels do not
        // differ could expose the same series (every metric carries its
        // group's values).
        let job = key.get("job").map_or("", String::as_str);
        let compatible =
            |other: &GroupingKey| !(other.iter()).any(|(n, v)| key.get(n).is_some_and(|w| w != v));
        let neighbours: Vec<&MetricFamily> = (self.jobs.get(job).into_iter().flatten())
            .filter(|k| *k != key && compatible(k))
            .filter_map(|k| self.groups.get(k))
            .flat_map(|g| {
                (pushed.iter())
                    .filter_map(|f| g.families.get(f.name.as_deref().unwrap_or_default()))
                    .map(|f| &f.family)
            })
            .collect();
        check::check_push(&pushed, &existing, &neighbours)
    }

    /// Pushgateway's `setPushFailedTimestamp` (bounded: no new group past
    /// the group limit).
    fn set_push_failed(&mut self, key: &GroupingKey, now: SystemTime) {
        if !self.groups.contains_key(key) && self.groups.len() >= self.limits.max_groups {
            return;
        }
        let mut group = self.groups.get(key).cloned().unwrap_or_else(|| Group {
            labels: key.clone(),
            families: BTreeMap::new(),
        });
        group.families.insert(
            PUSH_FAILED_METRIC.to_owned(),
            Timestamped {
                pushed: now,
                family: timestamp_gauge(PUSH_FAILED_METRIC, PUSH_FAILED_HELP, key, Some(now)),
            },
        );
        group
            .families
            .entry(PUSH_METRIC.to_owned())
            .or_insert_with(|| Timestamped {
                pushed: now,
                family: timestamp_gauge(PUSH_METRIC, PUSH_HELP, key, None),
            });
        self.insert_group(key, group);
    }

    /// Deletes a group; whether there was one.
    pub fn delete(&mut self, key: &GroupingKey) -> bool {
        self.unindex(key);
        self.groups.remove(key).is_some()
    }

    pub fn wipe(&mut self) {
        self.groups.clear();
        self.names.clear();
        self.jobs.clear();
        self.metrics = 0;
    }

    /// The exposition: families merged by name over every group (the
    /// first group's help and type), empty families left out.
    pub fn exposition(&self) -> Vec<MetricFamily> {
        let mut by_name: BTreeMap<&str, MetricFamily> = BTreeMap::new();
        for group in self.groups.values() {
            for (name, f) in &group.families {
                if f.family.metric.is_empty() {
                    continue;
                }
                match by_name.get_mut(name.as_str()) {
                    Some(merged) => merged.metric.extend(f.family.metric.iter().cloned()),
                    None => {
                        by_name.insert(name, f.family.clone());
                    }
                }
            }
        }
        by_name.into_values().collect()
    }

    /// The exposition as the project's metric families (for scraping it
    /// in-process).
    pub fn model_families(&self) -> Vec<wasmetheus_model::MetricFamily> {
        self.exposition().iter().map(to_model).collect()
    }
}

/// A client_model family as a model family. Counters whose name lacks
/// `_total` are exposed untyped: the model's counters are named with the
/// suffix, and the series must keep the pushed name.
pub fn to_model(family: &MetricFamily) -> wasmetheus_model::MetricFamily {
    let name = family.name.clone().unwrap_or_default();
    let kind = match family_type(family) {
        MetricType::Counter if name.ends_with("_total") => MetricKind::Counter,
        MetricType::Counter | MetricType::Untyped => MetricKind::Untyped,
        MetricType::Gauge => MetricKind::Gauge,
        MetricType::Summary => MetricKind::Summary,
        MetricType::Histogram => MetricKind::Histogram,
        MetricType::GaugeHistogram => MetricKind::GaugeHistogram,
    };
    let metrics = family
        .metric
        .iter()
        .map(|m| wasmetheus_model::Metric {
            labels: m
                .label
                .iter()
                .map(|l| {
                    Label::new(
                        l.name.clone().unwrap_or_default(),
                        l.value.clone().unwrap_or_default(),
                    )
                })
                .collect(),
            value: model_value(m),
            timestamp_ms: m.timestamp_ms,
        })
        .collect();
    wasmetheus_model::MetricFamily {
        name,
        kind,
        help: family.help.clone().unwrap_or_default(),
        unit: String::new(),
        metrics,
    }
}

fn model_value(m: &Metric) -> MetricValue {
    if let Some(h) = &m.histogram {
        let count = h
            .sample_count_float
            .unwrap_or(h.sample_count.unwrap_or_default() as f64);
        return MetricValue::Histogram(wasmetheus_model::Histogram {
            buckets: h
                .bucket
                .iter()
                .map(|b| wasmetheus_model::Bucket {
                    upper_bound: b.upper_bound.unwrap_or_default(),
                    cumulative_count: b
                        .cumulative_count_float
                        .unwrap_or(b.cumulative_count.unwrap_or_default() as f64),
                })
                .collect(),
            count,
            sum: h.sample_sum.unwrap_or_default(),
        });
    }
    if let Some(s) = &m.summary {
        return MetricValue::Summary(wasmetheus_model::Summary {
            quantiles: s
                .quantile
                .iter()
                .map(|q| wasmetheus_model::Quantile {
                    quantile: q.quantile.unwrap_or_default(),
                    value: q.value.unwrap_or_default(),
                })
                .collect(),
            count: s.sample_count.unwrap_or_default() as f64,
            sum: s.sample_sum.unwrap_or_default(),
        });
    }
    let value = (m.gauge.and_then(|g| g.value))
        .or(m.counter.as_ref().and_then(|c| c.value))
        .or(m.untyped.and_then(|u| u.value))
        .unwrap_or_default();
    MetricValue::Number(value)
}

/// Pushgateway's `sanitizeLabels`: the grouping key's values on every
/// metric, an empty `instance` where there is none, labels sorted.
fn sanitize_labels(family: &mut MetricFamily, key: &GroupingKey) {
    for metric in &mut family.metric {
        for (name, value) in key {
            match (metric.label.iter_mut()).find(|l| l.name.as_deref() == Some(name)) {
                Some(l) => l.value = Some(value.clone()),
                None => metric.label.push(LabelPair {
                    name: Some(name.clone()),
                    value: Some(value.clone()),
                }),
            }
        }
        if !metric
            .label
            .iter()
            .any(|l| l.name.as_deref() == Some("instance"))
        {
            metric.label.push(LabelPair {
                name: Some("instance".into()),
                value: Some(String::new()),
            });
        }
        metric.label.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

fn timestamp_gauge(
    name: &str,
    help: &str,
    key: &GroupingKey,
    at: Option<SystemTime>,
) -> MetricFamily {
    let value = at.map_or(0.0, |t| {
        t.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as f64 / 1e9
    });
    let mut family = MetricFamily {
        name: Some(name.to_owned()),
        help: Some(help.to_owned()),
        r#type: Some(MetricType::Gauge as i32),
        metric: vec![Metric {
            gauge: Some(Gauge { value: Some(value) }),
            ..Metric::default()
        }],
        unit: None,
    };
    sanitize_labels(&mut family, key);
    family
}
