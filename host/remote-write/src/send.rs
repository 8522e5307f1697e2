//! Encoding a batch (remote write 1.0's `WriteRequest` or 2.0's `Request`
//! with its symbol table, snappy-compressed) and sending it as
//! Prometheus' `QueueManager` does: 2xx is success; 5xx and network
//! errors are retried with exponential backoff from `min_backoff` to
//! `max_backoff` until the queue stops; 429 is retried only with
//! `retry_on_http_429`, after its `Retry-After`; any other status drops
//! the batch. Each attempt is bounded by `remote_timeout`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue};
use wasmetheus_config::{RemoteWriteConfig, WriteMessage};
use wasmetheus_prompb::types::{Label, MetricMetadata, Sample, TimeSeries};
use wasmetheus_prompb::{Message, write_v2};

use crate::metrics::QueueMetrics;

/// `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("wasmetheus/", env!("CARGO_PKG_VERSION"));
/// How much of a failed answer's body goes into the log.
const ERROR_BODY_BYTES: usize = 256;

/// A series as sent: its labels after external labels and relabelling.
#[derive(Debug)]
pub(crate) struct Series {
    pub labels: Vec<Label>,
    /// `__name__`, for its metadata (2.0).
    pub name: String,
}

/// A sample on its way, with the WAL record it came from.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub series: Arc<Series>,
    pub t: i64,
    pub v: f64,
    pub seq: u64,
}

/// Metadata by metric family name.
pub(crate) type MetadataMap = HashMap<String, MetricMetadata>;

/// A 1.0 `WriteRequest` of `batch`, one series per distinct series in it
/// (each series' samples in their order), snappy-compressed.
pub(crate) fn encode_v1(batch: &[Pending], metadata: Vec<MetricMetadata>) -> Vec<u8> {
    let mut index: HashMap<*const Series, usize> = HashMap::new();
    let mut timeseries: Vec<TimeSeries> = Vec::new();
    for p in batch {
        let i = *index.entry(Arc::as_ptr(&p.series)).or_insert_with(|| {
            timeseries.push(TimeSeries {
                labels: p.series.labels.clone(),
                ..TimeSeries::default()
            });
            timeseries.len() - 1
        });
        timeseries[i].samples.push(Sample {
            value: p.v,
            timestamp: p.t,
        });
    }
    let request = wasmetheus_prompb::remote::WriteRequest {
        timeseries,
        metadata,
    };
    wasmetheus_prompb::codec::snappy_compress(&request.encode_to_vec())
}

/// A 2.0 `Request` of `batch` with its symbol table and each series'
/// metadata as known, snappy-compressed.
pub(crate) fn encode_v2(batch: &[Pending], metadata: &MetadataMap) -> Vec<u8> {
    let mut symbols = write_v2::SymbolTable::new();
    let mut index: HashMap<*const Series, usize> = HashMap::new();
    let mut timeseries: Vec<write_v2::TimeSeries> = Vec::new();
    for p in batch {
        let i = *index.entry(Arc::as_ptr(&p.series)).or_insert_with(|| {
            let mut labels_refs = Vec::with_capacity(p.series.labels.len() * 2);
            for l in &p.series.labels {
                labels_refs.push(symbols.symbolize(&l.name));
                labels_refs.push(symbols.symbolize(&l.value));
            }
            let metadata = metadata.get(&p.series.name).map(|m| write_v2::Metadata {
                r#type: m.r#type,
                help_ref: symbols.symbolize(&m.help),
                unit_ref: symbols.symbolize(&m.unit),
            });
            timeseries.push(write_v2::TimeSeries {
                labels_refs,
                metadata,
                ..write_v2::TimeSeries::default()
            });
            timeseries.len() - 1
        });
        timeseries[i].samples.push(write_v2::Sample {
            value: p.v,
            timestamp: p.t,
        });
    }
    let request = write_v2::Request {
        symbols: symbols.take(),
        timeseries,
    };
    wasmetheus_prompb::codec::snappy_compress(&request.encode_to_vec())
}

/// What one attempt came to.
#[derive(Debug)]
enum Attempt {
    Sent,
    Retry {
        after: Option<Duration>,
        why: String,
    },
    Failed(String),
    /// 415 to a 2.0 message: the receiver speaks 1.0 only.
    Unsupported(String),
}

/// How a batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The receiver took it.
    Sent,
    /// The receiver refused it for good (counted as failed).
    Dropped,
    /// The queue stopped before it was taken.
    Abandoned,
    /// The receiver does not take 2.0 messages: the queue falls back to
    /// 1.0 ([`Sender::message`]) and the batch is to be encoded again.
    Unsupported,
}

/// What a batch is, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Samples,
    Metadata,
}

/// The HTTP side of one queue.
#[derive(Debug)]
pub(crate) struct Sender {
    client: wasmetheus_http_client::Client,
    uri: hyper::Uri,
    /// The queue's name and redacted URL, for the log.
    pub name: String,
    pub url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    message: WriteMessage,
    timeout: Duration,
    min_backoff: Duration,
    max_backoff: Duration,
    retry_on_rate_limit: bool,
    /// Set when the receiver answered 415 to a 2.0 message.
    fallen_back: std::sync::atomic::AtomicBool,
    /// Whether a 2.0 answer without the written-samples header was logged.
    unconfirmed_logged: std::sync::atomic::AtomicBool,
}

impl Sender {
    /// The sender of `config`; fails on settings the client cannot use.
    pub(crate) fn new(config: &RemoteWriteConfig, name: &str) -> Result<Sender, String> {
        if let Some(what) = config.other_auth.first() {
            return Err(format!("{what} is not supported for remote write yet"));
        }
        let wasmetheus_http_client::Endpoint {
            client,
            uri,
            headers,
        } = wasmetheus_http_client::Endpoint::new(
            &config.http,
            &config.url,
            &config.headers,
            "remote write",
        )?;
        let q = &config.queue_config;
        Ok(Sender {
            client,
            uri,
            name: name.to_owned(),
            url: wasmetheus_model::redact_url(&config.url).into_owned(),
            headers,
            message: config.protobuf_message,
            timeout: config.remote_timeout.0,
            min_backoff: q.min_backoff.0,
            max_backoff: q.max_backoff.0,
            retry_on_rate_limit: q.retry_on_rate_limit,
            fallen_back: std::sync::atomic::AtomicBool::new(false),
            unconfirmed_logged: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The message to send: the configured one, or 1.0 once the
    /// receiver refused 2.0 with 415 Unsupported Media Type (as the 2.0
    /// specification asks of senders).
    pub(crate) fn message(&self) -> WriteMessage {
        if self.fallen_back.load(std::sync::atomic::Ordering::Relaxed) {
            WriteMessage::V1
        } else {
            self.message
        }
    }

    async fn attempt(&self, body: Bytes) -> Attempt {
        let message = self.message();
        let (content_type, version) = match message {
            WriteMessage::V1 => (
                wasmetheus_prompb::CONTENT_TYPE_V1,
                wasmetheus_prompb::VERSION_V1,
            ),
            WriteMessage::V2 => (
                wasmetheus_prompb::CONTENT_TYPE_V2,
                wasmetheus_prompb::VERSION_V2,
            ),
        };
        let mut builder = hyper::Request::post(self.uri.clone())
            .header(hyper::header::CONTENT_ENCODING, "snappy")
            .header(hyper::header::CONTENT_TYPE, content_type)
            .header("X-Prometheus-Remote-Write-Version", version)
            .header(hyper::header::USER_AGENT, USER_AGENT);
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        let request = match builder.body(Full::new(body)) {
            Ok(request) => request,
            Err(e) => return Attempt::Failed(format!("building the request: {e}")),
        };
        let exchange = async {
            let response = match self.client.send(request).await {
                Ok(response) => response,
                Err(e) => {
                    return Attempt::Retry {
                        after: None,
                        why: e.to_string(),
                    };
                }
            };
            let status = response.status();
            if status.is_success() {
                if message == WriteMessage::V2
                    && !response
                        .headers()
                        .contains_key("X-Prometheus-Remote-Write-Samples-Written")
                    && !self
                        .unconfirmed_logged
                        .swap(true, std::sync::atomic::Ordering::Relaxed)
                {
                    tracing::warn!(
                        remote_name = %self.name,
                        url = %self.url,
                        "the receiver took a remote write 2.0 request without saying how many \
                         samples it wrote; if it speaks 1.0 only it may have ignored them: \
                         set protobuf_message: prometheus.WriteRequest"
                    );
                }
                return Attempt::Sent;
            }
            let retry_after = response
                .headers()
                .get(hyper::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            let mut text = Vec::new();
            let mut body = response.into_body();
            while text.len() < ERROR_BODY_BYTES {
                match body.frame().await {
                    Some(Ok(frame)) => {
                        if let Some(data) = frame.data_ref() {
                            text.extend_from_slice(data);
                        }
                    }
                    _ => break,
                }
            }
            text.truncate(ERROR_BODY_BYTES);
            let why = format!(
                "server returned HTTP status {status}: {}",
                String::from_utf8_lossy(&text).trim()
            );
            if status == hyper::StatusCode::UNSUPPORTED_MEDIA_TYPE && message == WriteMessage::V2 {
                Attempt::Unsupported(why)
            } else if status.is_server_error() {
                Attempt::Retry { after: None, why }
            } else if status == hyper::StatusCode::TOO_MANY_REQUESTS && self.retry_on_rate_limit {
                Attempt::Retry {
                    after: retry_after,
                    why,
                }
            } else {
                Attempt::Failed(why)
            }
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(attempt) => attempt,
            Err(_) => Attempt::Retry {
                after: None,
                why: format!("request timed out after {:?}", self.timeout),
            },
        }
    }

    /// Sends `body` (of `count` samples or metadata entries) until it is
    /// taken, refused for good, or `stop` turns true.
    pub(crate) async fn send(
        &self,
        body: Bytes,
        count: usize,
        kind: Kind,
        metrics: &QueueMetrics,
        stop: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Outcome {
        let mut backoff = self.min_backoff;
        loop {
            if *stop.borrow() {
                return Outcome::Abandoned;
            }
            let started = Instant::now();
            match kind {
                Kind::Samples => {
                    metrics.samples.add(count as u64);
                    metrics.bytes.add(body.len() as u64);
                }
                Kind::Metadata => {
                    metrics.metadata.add(count as u64);
                    metrics.metadata_bytes.add(body.len() as u64);
                }
            }
            let attempt = tokio::select! {
                attempt = self.attempt(body.clone()) => attempt,
                () = async { let _ = stop.wait_for(|s| *s).await; } => return Outcome::Abandoned,
            };
            if kind == Kind::Samples {
                metrics.observe_send(started.elapsed().as_secs_f64());
            }
            match attempt {
                Attempt::Sent => return Outcome::Sent,
                Attempt::Unsupported(why) => {
                    self.fallen_back
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                    tracing::warn!(
                        remote_name = %self.name,
                        url = %self.url,
                        "the receiver does not take remote write 2.0 messages, sending 1.0 from now on: {why}"
                    );
                    return Outcome::Unsupported;
                }
                Attempt::Failed(why) => {
                    match kind {
                        Kind::Samples => metrics.samples_failed.add(count as u64),
                        Kind::Metadata => metrics.metadata_failed.add(count as u64),
                    }
                    tracing::error!(
                        remote_name = %self.name,
                        url = %self.url,
                        count,
                        "non-recoverable error sending to remote storage, dropping the batch: {why}"
                    );
                    return Outcome::Dropped;
                }
                Attempt::Retry { after, why } => {
                    match kind {
                        Kind::Samples => metrics.samples_retried.add(count as u64),
                        Kind::Metadata => metrics.metadata_retried.add(count as u64),
                    }
                    let wait = after.unwrap_or(backoff);
                    tracing::warn!(
                        remote_name = %self.name,
                        url = %self.url,
                        count,
                        "failed to send batch, retrying in {wait:?}: {why}"
                    );
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = async { let _ = stop.wait_for(|s| *s).await; } => return Outcome::Abandoned,
                    }
                    backoff = (backoff * 2).min(self.max_backoff);
                }
            }
        }
    }
}

/// `Retry-After`: seconds, or an HTTP date (how long until then).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds.min(3600)));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let now = jiff::Timestamp::now();
    let wait = at.duration_since(now);
    Some(
        Duration::try_from(wait)
            .unwrap_or(Duration::ZERO)
            .min(Duration::from_secs(3600)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
        // A date in the past: no wait.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(30);
        let text = jiff::fmt::rfc2822::to_string(&later.to_zoned(jiff::tz::TimeZone::UTC)).unwrap();
        let wait = parse_retry_after(&text).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
    }
}
