//! The remote write receiver (`POST /api/v1/write`): content negotiation,
//! bounded decoding of remote write 1.0 and 2.0 messages, validation and
//! an all-or-nothing append.
//!
//! Status codes follow Prometheus 3.x' `write_handler.go`: 204 when
//! written; 415 for a content type or encoding it does not take; 400 for
//! a body that does not decode, for out-of-order, out-of-bounds or
//! duplicate samples (senders do not retry a 400) and, in 2.0, for invalid
//! labels; 500 for other storage failures. 1.0 skips series with invalid
//! labels (counted in `prometheus_api_remote_write_invalid_labels_samples_total`)
//! as Prometheus does.
//!
//! Unlike Prometheus' 2.0 handler, which commits the valid part of a
//! request it answers with 400, a refused request stores nothing: every
//! sample goes through one appender that is rolled back on any error.
//! Native histograms are refused with 400 (the TSDB stores floats only);
//! exemplars and metadata are accepted and not stored.

use crate::budget;
use std::sync::atomic::{AtomicU64, Ordering};
use wasmetheus_model::storage::{AppendError, Storage};
use wasmetheus_model::{Label, MetricFamily, MetricKind};
use wasmetheus_prompb::{codec, remote::WriteRequest, write_v2};

/// The protobuf message of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// `prometheus.WriteRequest` (remote write 1.0).
    V1,
    /// `io.prometheus.write.v2.Request` (remote write 2.0).
    V2,
}

impl MessageKind {
    /// The name Prometheus gives it (`--web.remote-write-receiver.accepted-protobuf-messages`).
    pub fn name(self) -> &'static str {
        match self {
            MessageKind::V1 => "prometheus.WriteRequest",
            MessageKind::V2 => "io.prometheus.write.v2.Request",
        }
    }

    /// The message of a flag value, e.g. `prometheus.WriteRequest`.
    pub fn parse(name: &str) -> Option<Self> {
        [MessageKind::V1, MessageKind::V2]
            .into_iter()
            .find(|k| k.name() == name)
    }
}

/// The receiver's limits and accepted messages.
#[derive(Debug, Clone)]
pub struct ReceiverOptions {
    /// Messages taken (Prometheus' default: both).
    pub accepted: Vec<MessageKind>,
    /// Largest decompressed body: 32 MiB, as Prometheus' read limit and
    /// VictoriaMetrics' `maxInsertRequestSize`.
    pub max_decoded_bytes: usize,
    /// Most protobuf fields (series, labels, samples, …) a body may hold:
    /// bounds the memory of decoding (Prometheus' senders send 2,000
    /// samples per request by default).
    pub max_fields: usize,
    /// Most labels in one series.
    pub max_labels: usize,
    /// Longest label name or value, in bytes.
    pub max_label_bytes: usize,
    /// Most bytes of label names and values in one request, once 2.0's
    /// symbol references are resolved (a few bytes of references can name
    /// a long symbol millions of times).
    pub max_request_label_bytes: usize,
    /// Most writes read and decoded at once; later ones wait their turn
    /// (each may hold 32 MiB compressed, 32 MiB decoded and its series).
    pub max_concurrent_writes: usize,
}

impl Default for ReceiverOptions {
    fn default() -> Self {
        ReceiverOptions {
            accepted: vec![MessageKind::V1, MessageKind::V2],
            max_decoded_bytes: 32 << 20,
            max_fields: 2_000_000,
            max_labels: 1_000,
            max_label_bytes: 64 << 10,
            max_request_label_bytes: 64 << 20,
            max_concurrent_writes: 4,
        }
    }
}

/// What to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOutcome {
    /// 204, 400, 415 or 500.
    pub status: u16,
    /// The error text (empty on success).
    pub message: String,
    /// For 2.0: what was written, sent as `X-Prometheus-Remote-Write-*-Written`.
    pub written: Option<Written>,
}

/// Remote write 2.0's response statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub samples: u64,
    pub histograms: u64,
    pub exemplars: u64,
}

impl Written {
    /// The response headers carrying them.
    pub fn headers(&self) -> [(&'static str, String); 3] {
        [
            (
                "X-Prometheus-Remote-Write-Samples-Written",
                self.samples.to_string(),
            ),
            (
                "X-Prometheus-Remote-Write-Histograms-Written",
                self.histograms.to_string(),
            ),
            (
                "X-Prometheus-Remote-Write-Exemplars-Written",
                self.exemplars.to_string(),
            ),
        ]
    }
}

impl WriteOutcome {
    fn error(status: u16, message: impl Into<String>, kind: MessageKind) -> Self {
        WriteOutcome {
            status,
            message: message.into(),
            written: (kind == MessageKind::V2).then_some(Written::default()),
        }
    }
}

/// The receiver: its options, counters and the gate of concurrent writes.
#[derive(Debug)]
pub struct Receiver {
    options: ReceiverOptions,
    gate: std::sync::Arc<tokio::sync::Semaphore>,
    invalid_label_samples: AtomicU64,
    samples_written: AtomicU64,
    out_of_order: AtomicU64,
    /// Requests stored, by message: 1.0, 2.0.
    stored_requests: [AtomicU64; 2],
}

/// Why a request's content type or encoding is refused (415).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unsupported(pub String);

impl Default for Receiver {
    fn default() -> Self {
        Receiver::new(ReceiverOptions::default())
    }
}

/// A write's turn at the receiver's gate, held while its body is read,
/// decoded and appended.
#[derive(Debug)]
pub struct WriteSlot {
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Receiver {
    pub fn new(options: ReceiverOptions) -> Self {
        Receiver {
            gate: std::sync::Arc::new(tokio::sync::Semaphore::new(
                options.max_concurrent_writes.max(1),
            )),
            options,
            invalid_label_samples: AtomicU64::default(),
            samples_written: AtomicU64::default(),
            out_of_order: AtomicU64::default(),
            stored_requests: Default::default(),
        }
    }

    /// Waits for a turn under `max_concurrent_writes` (requests queue, as
    /// they do for remote reads under their concurrency limit).
    pub async fn enter(&self) -> WriteSlot {
        let permit = std::sync::Arc::clone(&self.gate)
            .acquire_owned()
            .await
            .expect("the receiver's gate is never closed");
        WriteSlot { _permit: permit }
    }

    pub fn options(&self) -> &ReceiverOptions {
        &self.options
    }

    /// The message a request's `Content-Type` and `Content-Encoding` name:
    /// a missing type is 1.0, a missing encoding snappy (as Prometheus
    /// takes them).
    pub fn negotiate(
        &self,
        content_type: Option<&str>,
        encoding: Option<&str>,
    ) -> Result<MessageKind, Unsupported> {
        let kind = match content_type.map(str::trim).filter(|t| !t.is_empty()) {
            None => MessageKind::V1,
            Some(t) => parse_content_type(t)?,
        };
        if !self.options.accepted.contains(&kind) {
            let accepted: Vec<&str> = self.options.accepted.iter().map(|k| k.name()).collect();
            return Err(Unsupported(format!(
                "{} protobuf message is not accepted by this server; accepted {accepted:?}",
                kind.name()
            )));
        }
        match encoding.map(str::trim).filter(|e| !e.is_empty()) {
            None => Ok(kind),
            Some(e) if e.eq_ignore_ascii_case("snappy") => Ok(kind),
            Some(e) => Err(Unsupported(format!(
                "{e} encoding (compression) is not accepted by this server; only snappy is acceptable"
            ))),
        }
    }

    /// Decodes `body` (snappy) as `kind` and appends every sample through
    /// one appender, committed only when the whole request is good.
    pub fn write(&self, storage: &dyn Storage, kind: MessageKind, body: &[u8]) -> WriteOutcome {
        let decoded = match codec::snappy_decompress(body, self.options.max_decoded_bytes) {
            Ok(d) => d,
            Err(e) => return WriteOutcome::error(400, e.to_string(), kind),
        };
        if budget::count_fields(&decoded, self.options.max_fields).is_none() {
            // Either over the budget or not protobuf at all: decoding says which.
            if let Err(e) = decode_any(kind, &decoded) {
                return WriteOutcome::error(400, e.to_string(), kind);
            }
            return WriteOutcome::error(
                400,
                format!(
                    "request holds more than {} protobuf fields (series, labels, samples); send smaller batches",
                    self.options.max_fields
                ),
                kind,
            );
        }
        let series = match kind {
            MessageKind::V1 => codec::decode::<WriteRequest>(&decoded).map(|r| self.series_v1(r)),
            MessageKind::V2 => {
                codec::decode::<write_v2::Request>(&decoded).map(|r| self.series_v2(r))
            }
        };
        let series = match series {
            Ok(Ok(series)) => series,
            Ok(Err(e)) => return WriteOutcome::error(400, e, kind),
            Err(e) => return WriteOutcome::error(400, e.to_string(), kind),
        };
        self.append(storage, kind, series)
    }

    fn append(
        &self,
        storage: &dyn Storage,
        kind: MessageKind,
        series: Vec<Incoming>,
    ) -> WriteOutcome {
        let mut app = storage.appender();
        let mut written = Written::default();
        for s in &series {
            // The series is looked up by its labels once, then by its ref.
            let mut cached = 0u64;
            for &(t, v) in &s.samples {
                let known = (cached != 0)
                    .then(|| app.append_known(cached, t, v))
                    .flatten();
                let appended = match known {
                    Some(result) => result,
                    None => app.append_ref(0, &s.labels, t, v).map(|r| cached = r),
                };
                if let Err(e) = appended {
                    app.rollback();
                    let status = match e {
                        AppendError::OutOfOrder { .. }
                        | AppendError::OutOfBounds { .. }
                        | AppendError::DuplicateTimestamp { .. } => {
                            self.out_of_order.fetch_add(1, Ordering::Relaxed);
                            400
                        }
                        AppendError::InvalidSeries(_) => 400,
                        AppendError::SeriesLimit { .. } => 500,
                    };
                    return WriteOutcome::error(
                        status,
                        format!(
                            "{e} (series {}); nothing of this request was stored",
                            show(&s.labels)
                        ),
                        kind,
                    );
                }
                written.samples += 1;
            }
        }
        if let Err(e) = app.commit() {
            return WriteOutcome::error(500, format!("committing the request: {e}"), kind);
        }
        self.samples_written
            .fetch_add(written.samples, Ordering::Relaxed);
        self.stored_requests[usize::from(kind == MessageKind::V2)].fetch_add(1, Ordering::Relaxed);
        WriteOutcome {
            status: 204,
            message: String::new(),
            written: (kind == MessageKind::V2).then_some(written),
        }
    }

    /// 1.0's series: those with invalid labels are skipped and counted.
    fn series_v1(&self, req: WriteRequest) -> Result<Vec<Incoming>, String> {
        let mut out = Vec::with_capacity(req.timeseries.len());
        for ts in req.timeseries {
            let labels = ts
                .labels
                .into_iter()
                .map(|l| Label::new(l.name, l.value))
                .collect();
            match self.check_labels(labels) {
                Ok(labels) => {
                    if !ts.histograms.is_empty() {
                        return Err(histograms_refused(&labels));
                    }
                    out.push(Incoming {
                        labels,
                        samples: ts.samples.iter().map(|s| (s.timestamp, s.value)).collect(),
                    });
                }
                Err(_) => {
                    self.invalid_label_samples.fetch_add(
                        (ts.samples.len() + ts.histograms.len()) as u64,
                        Ordering::Relaxed,
                    );
                }
            }
        }
        Ok(out)
    }

    /// 2.0's series: any invalid one refuses the request. The label
    /// bounds are checked on the references, before any symbol is copied:
    /// the number of pairs, each symbol's length and the request's total.
    fn series_v2(&self, req: write_v2::Request) -> Result<Vec<Incoming>, String> {
        let o = &self.options;
        let mut label_bytes = 0usize;
        let mut symbol = |r: u32| {
            let s = req.symbols.get(r as usize).ok_or_else(|| {
                format!(
                    "symbol reference {r} is out of the symbol table's {} entries",
                    req.symbols.len()
                )
            })?;
            if s.len() > o.max_label_bytes {
                return Err(format!(
                    "label {:.64}… (symbol {r}) is longer than the limit of {} bytes",
                    s, o.max_label_bytes
                ));
            }
            label_bytes += s.len();
            if label_bytes > o.max_request_label_bytes {
                return Err(format!(
                    "the request's labels hold more than {} bytes once symbols are resolved; send smaller batches",
                    o.max_request_label_bytes
                ));
            }
            Ok(s.clone())
        };
        if req.symbols.first().is_some_and(|s| !s.is_empty()) {
            return Err("the symbol table's first entry must be the empty string".into());
        }
        let mut out = Vec::with_capacity(req.timeseries.len());
        for ts in &req.timeseries {
            if ts.labels_refs.len() % 2 != 0 {
                return Err(format!(
                    "labels_refs holds an odd number ({}) of references",
                    ts.labels_refs.len()
                ));
            }
            if ts.labels_refs.len() / 2 > o.max_labels {
                return Err(format!(
                    "series has {} labels, more than the limit of {}",
                    ts.labels_refs.len() / 2,
                    o.max_labels
                ));
            }
            let labels = ts
                .labels_refs
                .chunks_exact(2)
                .map(|p| Ok(Label::new(symbol(p[0])?, symbol(p[1])?)))
                .collect::<Result<Vec<_>, String>>()?;
            let labels = match self.check_labels(labels) {
                Ok(l) => l,
                Err(e) => {
                    self.invalid_label_samples.fetch_add(
                        (ts.samples.len() + ts.histograms.len()) as u64,
                        Ordering::Relaxed,
                    );
                    return Err(e);
                }
            };
            if !ts.histograms.is_empty() {
                return Err(histograms_refused(&labels));
            }
            out.push(Incoming {
                labels,
                samples: ts.samples.iter().map(|s| (s.timestamp, s.value)).collect(),
            });
        }
        Ok(out)
    }

    /// Sorts the labels and drops empty values; refuses a series without a
    /// metric name, with an empty or duplicate label name, or over the
    /// label bounds (Prometheus 3.x takes any UTF-8 name).
    fn check_labels(&self, mut labels: Vec<Label>) -> Result<Vec<Label>, String> {
        labels.retain(|l| !l.value.is_empty());
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        if labels.len() > self.options.max_labels {
            return Err(format!(
                "series {} has {} labels, more than the limit of {}",
                show(&labels[..labels.len().min(3)]),
                labels.len(),
                self.options.max_labels
            ));
        }
        if let Some(l) = labels
            .iter()
            .find(|l| l.name.len().max(l.value.len()) > self.options.max_label_bytes)
        {
            return Err(format!(
                "label {:.64}… is longer than the limit of {} bytes",
                l.name, self.options.max_label_bytes
            ));
        }
        if !labels.iter().any(|l| l.name == "__name__") || labels.iter().any(|l| l.name.is_empty())
        {
            return Err(format!(
                "invalid metric name or labels, got {}",
                show(&labels)
            ));
        }
        if let Some(w) = labels.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(format!(
                "invalid labels for series, labels {}, duplicated label {}",
                show(&labels),
                w[0].name
            ));
        }
        Ok(labels)
    }

    /// The receiver's self-metrics, with Prometheus' names.
    pub fn families(&self) -> Vec<MetricFamily> {
        let requests = MetricFamily {
            name: "wasmetheus_remote_write_stored_requests_total".into(),
            kind: MetricKind::Counter,
            help: "Remote write requests stored, by protobuf message.".into(),
            unit: String::new(),
            metrics: [MessageKind::V1, MessageKind::V2]
                .into_iter()
                .zip(&self.stored_requests)
                .map(|(kind, n)| wasmetheus_model::Metric {
                    labels: vec![Label::new("proto_msg", kind.name())],
                    value: wasmetheus_model::MetricValue::Number(n.load(Ordering::Relaxed) as f64),
                    timestamp_ms: None,
                })
                .collect(),
        };
        vec![
            requests,
            MetricFamily::single(
                "prometheus_api_remote_write_invalid_labels_samples_total",
                MetricKind::Counter,
                "The total number of received remote write samples and histogram samples which were rejected due to invalid labels.",
                self.invalid_label_samples.load(Ordering::Relaxed) as f64,
            ),
            MetricFamily::single(
                "wasmetheus_remote_write_received_samples_total",
                MetricKind::Counter,
                "Samples stored from remote write requests.",
                self.samples_written.load(Ordering::Relaxed) as f64,
            ),
            MetricFamily::single(
                "wasmetheus_remote_write_rejected_out_of_order_requests_total",
                MetricKind::Counter,
                "Remote write requests refused for an out-of-order, out-of-bounds or duplicate sample.",
                self.out_of_order.load(Ordering::Relaxed) as f64,
            ),
        ]
    }
}

/// One series of a request, its labels checked and sorted.
struct Incoming {
    labels: Vec<Label>,
    samples: Vec<(i64, f64)>,
}

fn histograms_refused(labels: &[Label]) -> String {
    format!(
        "series {} carries native histogram samples, which this server does not store yet; \
         drop them with write_relabel_configs or send_native_histograms: false",
        show(labels)
    )
}

/// Decodes without using the result, for the decode error.
fn decode_any(kind: MessageKind, bytes: &[u8]) -> Result<(), codec::DecodeError> {
    match kind {
        MessageKind::V1 => codec::decode::<WriteRequest>(bytes).map(drop),
        MessageKind::V2 => codec::decode::<write_v2::Request>(bytes).map(drop),
    }
}

/// `Content-Type` → message, as Prometheus' `parseProtoMsg`.
fn parse_content_type(content_type: &str) -> Result<MessageKind, Unsupported> {
    let mut parts = content_type.split(';').map(str::trim);
    let media = parts.next().unwrap_or_default();
    if !media.eq_ignore_ascii_case("application/x-protobuf") {
        return Err(Unsupported(format!(
            "expected application/x-protobuf as the first (media) part, got {content_type} content-type"
        )));
    }
    for param in parts {
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        if key.trim() == "proto" {
            let value = value.trim().trim_matches('"');
            return MessageKind::parse(value).ok_or_else(|| {
                Unsupported(format!(
                    "unknown type for remote write protobuf message {value}, supported: [{} {}]",
                    MessageKind::V1.name(),
                    MessageKind::V2.name()
                ))
            });
        }
    }
    Ok(MessageKind::V1)
}

/// `{a="b", …}` as Prometheus prints labels, cut short.
fn show(labels: &[Label]) -> String {
    let mut s = String::from("{");
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        if s.len() > 256 {
            s.push('…');
            break;
        }
        s.push_str(&format!("{}={:?}", l.name, l.value));
    }
    s.push('}');
    s
}
