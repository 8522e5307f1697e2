//! Conversions from the WIT types a plugin returns to the host's model.

use crate::bindings::types as w;
use wasmetheus_config::DeclaredSecrets;
use wasmetheus_model as m;

/// A capability a plugin asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    ReadPath(String),
    TcpConnect(String),
    HttpOrigin(String),
    EnvVar(String),
    DnsLookup,
    FilesystemUsage(String),
}

/// A requested capability with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilityRequest {
    pub capability: Capability,
    pub reason: String,
    pub optional: bool,
}

/// What a plugin says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginMetadata {
    pub name: String,
    pub version: String,
    pub description: String,
    pub config_schema: String,
    pub capabilities: Vec<CapabilityRequest>,
    /// The settings `config_schema` declares secret (`"writeOnly": true` or
    /// `"format": "password"`), all of them when the schema cannot be read:
    /// see [`crate::schema`].
    pub declared_secrets: DeclaredSecrets,
}

pub fn metadata(meta: w::PluginMetadata) -> PluginMetadata {
    PluginMetadata {
        declared_secrets: crate::schema::secrets_of(&meta.name, &meta.config_schema),
        name: meta.name,
        version: meta.version,
        description: meta.description,
        config_schema: meta.config_schema,
        capabilities: meta
            .capabilities
            .into_iter()
            .map(|r| CapabilityRequest {
                capability: match r.capability {
                    w::Capability::ReadPath(p) => Capability::ReadPath(p),
                    w::Capability::TcpConnect(a) => Capability::TcpConnect(a),
                    w::Capability::HttpOrigin(o) => Capability::HttpOrigin(o),
                    w::Capability::EnvVar(v) => Capability::EnvVar(v),
                    w::Capability::DnsLookup => Capability::DnsLookup,
                    w::Capability::FilesystemUsage(p) => Capability::FilesystemUsage(p),
                },
                reason: r.reason,
                optional: r.optional,
            })
            .collect(),
    }
}

/// The longest error text kept from a plugin; longer ones are cut.
const MAX_ERROR_TEXT: usize = 4096;

/// A plugin's error as shown in the status and the log, cut at
/// [`MAX_ERROR_TEXT`] bytes.
pub fn error_text(e: &w::Error) -> String {
    let (prefix, message) = match e {
        w::Error::InvalidConfig(m) => ("invalid config: ", m),
        w::Error::Denied(m) => ("denied: ", m),
        w::Error::Unavailable(m) => ("unavailable: ", m),
        w::Error::Other(m) => ("", m),
    };
    if message.len() <= MAX_ERROR_TEXT {
        return format!("{prefix}{message}");
    }
    let mut end = MAX_ERROR_TEXT;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{prefix}{}… ({} more bytes)",
        &message[..end],
        message.len() - end
    )
}

fn kind(k: w::MetricKind) -> m::MetricKind {
    match k {
        w::MetricKind::Counter => m::MetricKind::Counter,
        w::MetricKind::Gauge => m::MetricKind::Gauge,
        w::MetricKind::Untyped => m::MetricKind::Untyped,
        w::MetricKind::Histogram => m::MetricKind::Histogram,
        w::MetricKind::Summary => m::MetricKind::Summary,
        w::MetricKind::Info => m::MetricKind::Info,
        w::MetricKind::Stateset => m::MetricKind::StateSet,
        w::MetricKind::GaugeHistogram => m::MetricKind::GaugeHistogram,
    }
}

fn value(v: w::MetricValue) -> m::MetricValue {
    match v {
        w::MetricValue::Number(n) => m::MetricValue::Number(n),
        w::MetricValue::Histogram(h) => m::MetricValue::Histogram(m::Histogram {
            buckets: h
                .buckets
                .into_iter()
                .map(|b| m::Bucket {
                    upper_bound: b.upper_bound,
                    cumulative_count: b.cumulative_count as f64,
                })
                .collect(),
            count: h.count as f64,
            sum: h.sum,
        }),
        w::MetricValue::Summary(s) => m::MetricValue::Summary(m::Summary {
            quantiles: s
                .quantiles
                .into_iter()
                .map(|q| m::Quantile {
                    quantile: q.quantile,
                    value: q.value,
                })
                .collect(),
            count: s.count as f64,
            sum: s.sum,
        }),
    }
}

pub fn families(families: Vec<w::MetricFamily>) -> Vec<m::MetricFamily> {
    families
        .into_iter()
        .map(|f| m::MetricFamily {
            name: f.name,
            kind: kind(f.kind),
            help: f.help,
            unit: f.unit,
            metrics: f
                .metrics
                .into_iter()
                .map(|metric| m::Metric {
                    labels: metric
                        .labels
                        .into_iter()
                        .map(|l| m::Label {
                            name: l.name,
                            value: l.value,
                        })
                        .collect(),
                    value: value(metric.value),
                    timestamp_ms: metric.timestamp_ms,
                })
                .collect(),
        })
        .collect()
}
