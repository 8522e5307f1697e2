//! `GET /api/v1/metrics` and `GET /api/v1/status` in Pushgateway 1.5's
//! JSON shapes: per group its `labels`, `last_push_successful` and one
//! entry per family (`time_stamp`, `type`, `help`, `metrics`), values as
//! strings formatted like Go's `strconv.FormatFloat(v, 'g', -1, 64)`.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;
use wasmetheus_prompb::client::{Metric, MetricType};

use crate::body::family_type;
use crate::store::{Group, Store};
use wasmetheus_model::go::format_float_g as go_float;

#[derive(Serialize)]
pub struct Answer<T: Serialize> {
    pub status: &'static str,
    pub data: T,
}

/// One entry of a group object: its keys are metric names besides
/// `labels` and `last_push_successful`.
#[derive(Serialize)]
#[serde(untagged)]
pub enum GroupEntry {
    Labels(BTreeMap<String, String>),
    Success(bool),
    Family(FamilyJson),
}

#[derive(Serialize)]
pub struct FamilyJson {
    time_stamp: String,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<String>,
    metrics: Vec<MetricJson>,
}

#[derive(Serialize)]
pub struct MetricJson {
    labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    buckets: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quantiles: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sum: Option<String>,
}

/// The data of `GET /api/v1/metrics`.
pub fn metrics(store: &Store) -> Vec<BTreeMap<String, GroupEntry>> {
    store.groups.values().map(group).collect()
}

fn group(group: &Group) -> BTreeMap<String, GroupEntry> {
    let mut out = BTreeMap::new();
    for (name, f) in &group.families {
        let family = &f.family;
        out.insert(
            name.clone(),
            GroupEntry::Family(FamilyJson {
                time_stamp: rfc3339_nano(f.pushed),
                kind: type_name(family_type(family)),
                help: family.help.clone().filter(|h| !h.is_empty()),
                metrics: family.metric.iter().map(metric).collect(),
            }),
        );
    }
    out.insert("labels".into(), GroupEntry::Labels(group.labels.clone()));
    out.insert(
        "last_push_successful".into(),
        GroupEntry::Success(group.last_push_successful()),
    );
    out
}

fn metric(m: &Metric) -> MetricJson {
    let labels = (m.label.iter())
        .map(|l| {
            (
                l.name.clone().unwrap_or_default(),
                l.value.clone().unwrap_or_default(),
            )
        })
        .collect();
    let mut out = MetricJson {
        labels,
        value: None,
        buckets: None,
        quantiles: None,
        count: None,
        sum: None,
    };
    if let Some(h) = &m.histogram {
        out.buckets = Some(
            (h.bucket.iter())
                .map(|b| {
                    (
                        go_float(b.upper_bound.unwrap_or_default()),
                        b.cumulative_count.unwrap_or_default().to_string(),
                    )
                })
                .collect(),
        );
        out.count = Some(h.sample_count.unwrap_or_default().to_string());
        out.sum = Some(go_float(h.sample_sum.unwrap_or_default()));
    } else if let Some(s) = &m.summary {
        out.quantiles = Some(
            (s.quantile.iter())
                .map(|q| {
                    (
                        go_float(q.quantile.unwrap_or_default()),
                        go_float(q.value.unwrap_or_default()),
                    )
                })
                .collect(),
        );
        out.count = Some(s.sample_count.unwrap_or_default().to_string());
        out.sum = Some(go_float(s.sample_sum.unwrap_or_default()));
    } else {
        let v = (m.gauge.and_then(|g| g.value))
            .or(m.counter.as_ref().and_then(|c| c.value))
            .or(m.untyped.and_then(|u| u.value))
            .unwrap_or_default();
        out.value = Some(go_float(v));
    }
    out
}

fn type_name(kind: MetricType) -> &'static str {
    match kind {
        MetricType::Counter => "COUNTER",
        MetricType::Gauge => "GAUGE",
        MetricType::Untyped => "UNTYPED",
        MetricType::Summary => "SUMMARY",
        MetricType::Histogram => "HISTOGRAM",
        MetricType::GaugeHistogram => "GAUGE_HISTOGRAM",
    }
}

/// Go's `time.RFC3339Nano` in UTC.
pub fn rfc3339_nano(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t).map_or_else(|_| String::new(), |ts| ts.to_string())
}
