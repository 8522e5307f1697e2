//! Conversions between the SDK's types and the generated WIT bindings, used
//! by [`export_exporter!`](crate::export_exporter).

use crate::bindings::wasmetheus::plugin::types as w;
use crate::{Capability, Error, Kind, Metadata, Registry, Value};

pub fn error(e: Error) -> w::Error {
    match e {
        Error::InvalidConfig(m) => w::Error::InvalidConfig(m),
        Error::Denied(m) => w::Error::Denied(m),
        Error::Unavailable(m) => w::Error::Unavailable(m),
        Error::Other(m) => w::Error::Other(m),
    }
}

pub fn error_from_wit(e: w::Error) -> Error {
    match e {
        w::Error::InvalidConfig(m) => Error::InvalidConfig(m),
        w::Error::Denied(m) => Error::Denied(m),
        w::Error::Unavailable(m) => Error::Unavailable(m),
        w::Error::Other(m) => Error::Other(m),
    }
}

pub fn metadata(m: Metadata) -> w::PluginMetadata {
    w::PluginMetadata {
        name: m.name,
        version: m.version,
        description: m.description,
        config_schema: m.config_schema,
        capabilities: m
            .capabilities
            .into_iter()
            .map(|r| w::CapabilityRequest {
                capability: match r.capability {
                    Capability::ReadPath(p) => w::Capability::ReadPath(p),
                    Capability::TcpConnect(a) => w::Capability::TcpConnect(a),
                    Capability::HttpOrigin(o) => w::Capability::HttpOrigin(o),
                    Capability::EnvVar(v) => w::Capability::EnvVar(v),
                    Capability::DnsLookup => w::Capability::DnsLookup,
                    Capability::FilesystemUsage(p) => w::Capability::FilesystemUsage(p),
                },
                reason: r.reason,
                optional: r.optional,
            })
            .collect(),
    }
}

pub fn families(out: Registry) -> Vec<w::MetricFamily> {
    out.into_families()
        .into_iter()
        .map(|f| w::MetricFamily {
            name: f.name,
            kind: match f.kind {
                Kind::Counter => w::MetricKind::Counter,
                Kind::Gauge => w::MetricKind::Gauge,
                Kind::Untyped => w::MetricKind::Untyped,
                Kind::Histogram => w::MetricKind::Histogram,
                Kind::Summary => w::MetricKind::Summary,
                Kind::Info => w::MetricKind::Info,
                Kind::StateSet => w::MetricKind::Stateset,
                Kind::GaugeHistogram => w::MetricKind::GaugeHistogram,
            },
            help: f.help,
            unit: f.unit,
            metrics: f
                .metrics
                .into_iter()
                .map(|m| w::Metric {
                    labels: m
                        .labels
                        .into_iter()
                        .map(|(name, value)| w::Label { name, value })
                        .collect(),
                    value: match m.value {
                        Value::Number(v) => w::MetricValue::Number(v),
                        Value::Histogram(h) => w::MetricValue::Histogram(w::HistogramValue {
                            buckets: h
                                .buckets
                                .into_iter()
                                .map(|b| w::Bucket {
                                    upper_bound: b.upper_bound,
                                    cumulative_count: b.cumulative_count,
                                })
                                .collect(),
                            count: h.count,
                            sum: h.sum,
                        }),
                        Value::Summary(s) => w::MetricValue::Summary(w::SummaryValue {
                            quantiles: s
                                .quantiles
                                .into_iter()
                                .map(|q| w::Quantile {
                                    quantile: q.quantile,
                                    value: q.value,
                                })
                                .collect(),
                            count: s.count,
                            sum: s.sum,
                        }),
                    },
                    timestamp_ms: m.timestamp_ms,
                })
                .collect(),
        })
        .collect()
}
