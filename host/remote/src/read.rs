//! The remote read server (`POST /api/v1/read`): a snappy `ReadRequest`
//! answered from local storage, as one sampled `ReadResponse` or as
//! streamed `ChunkedReadResponse` frames of XOR chunks, following
//! Prometheus' `read_handler.go`.
//!
//! External labels are added to every returned series (a series' own
//! label wins), and an equality matcher on an external label with its
//! value is dropped before selecting, as Prometheus does. Bounds: the
//! decoded request (32 MiB, Prometheus' `decodeReadLimit`), its protobuf
//! fields, `--storage.remote.read-sample-limit` (counted over the whole
//! request, for both response types; Prometheus counts per query and only
//! for sampled answers), `--storage.remote.read-concurrent-limit` and
//! `--storage.remote.read-max-bytes-in-frame`.

use crate::budget;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use wasmetheus_model::storage::{MatchType, Matcher, Queryable, SelectHints};
use wasmetheus_model::{Label, MetricFamily, MetricKind};
use wasmetheus_prompb::remote::{
    ChunkedReadResponse, Query, QueryResult, ReadRequest, ReadResponse, ResponseType,
};
use wasmetheus_prompb::types::{
    self, Chunk, ChunkEncoding, ChunkedSeries, MatcherType, TimeSeries,
};
use wasmetheus_prompb::{Message, codec};

/// Encodes at most [`CHUNK_SAMPLES`] samples as a Prometheus XOR chunk
/// (its 2-byte header included); the server hands in the TSDB's encoder.
pub type ChunkEncoder = Arc<dyn Fn(&[(i64, f64)]) -> Vec<u8> + Send + Sync>;

/// Samples per streamed chunk, as Prometheus' head chunks.
pub const CHUNK_SAMPLES: usize = 120;

/// The read server's flags.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// `--storage.remote.read-sample-limit` (0: none).
    pub sample_limit: usize,
    /// `--storage.remote.read-concurrent-limit` (0: none).
    pub concurrent_limit: usize,
    /// `--storage.remote.read-max-bytes-in-frame`.
    pub max_bytes_in_frame: usize,
    /// Largest decompressed request.
    pub max_decoded_bytes: usize,
    /// Most protobuf fields (queries, matchers, …) in a request.
    pub max_fields: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            sample_limit: 50_000_000,
            concurrent_limit: 10,
            max_bytes_in_frame: 1_048_576,
            max_decoded_bytes: 32 << 20,
            max_fields: 1_000_000,
        }
    }
}

/// A refused read: the HTTP status and the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ReadError {
    pub status: u16,
    pub message: String,
}

fn bad(message: impl Into<String>) -> ReadError {
    ReadError {
        status: 400,
        message: message.into(),
    }
}

/// The read endpoint's state: options, the chunk encoder and the gate.
pub struct ReadServer {
    options: ReadOptions,
    encoder: Option<ChunkEncoder>,
    gate: Option<Arc<tokio::sync::Semaphore>>,
    active: AtomicI64,
}

/// A read's place at the gate; counted in `prometheus_api_remote_read_queries`
/// until dropped.
pub struct ReadSlot {
    server: Arc<ReadServer>,
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Drop for ReadSlot {
    fn drop(&mut self) {
        self.server.active.fetch_sub(1, Ordering::Relaxed);
    }
}

impl ReadServer {
    pub fn new(options: ReadOptions, encoder: Option<ChunkEncoder>) -> Self {
        let gate = (options.concurrent_limit > 0)
            .then(|| Arc::new(tokio::sync::Semaphore::new(options.concurrent_limit)));
        ReadServer {
            options,
            encoder,
            gate,
            active: AtomicI64::new(0),
        }
    }

    pub fn options(&self) -> &ReadOptions {
        &self.options
    }

    /// Waits for a slot under `--storage.remote.read-concurrent-limit`.
    pub async fn enter(self: &Arc<Self>) -> ReadSlot {
        self.active.fetch_add(1, Ordering::Relaxed);
        // Counted from here, so a read given up while waiting is uncounted.
        let mut slot = ReadSlot {
            server: Arc::clone(self),
            _permit: None,
        };
        if let Some(gate) = &self.gate {
            slot._permit = Arc::clone(gate).acquire_owned().await.ok();
        }
        slot
    }

    /// Decodes a request body and picks the answer's type: the first of
    /// the accepted types this server can give (sampled when none is
    /// named), as Prometheus' `NegotiateResponseType`.
    pub fn decode(&self, body: &[u8]) -> Result<(ReadRequest, ResponseType), ReadError> {
        let decoded = codec::snappy_decompress(body, self.options.max_decoded_bytes)
            .map_err(|e| bad(e.to_string()))?;
        if budget::count_fields(&decoded, self.options.max_fields).is_none() {
            codec::decode::<ReadRequest>(&decoded).map_err(|e| bad(e.to_string()))?;
            return Err(bad(format!(
                "read request holds more than {} protobuf fields; send fewer queries",
                self.options.max_fields
            )));
        }
        let req: ReadRequest = codec::decode(&decoded).map_err(|e| bad(e.to_string()))?;
        if req.accepted_response_types.is_empty() {
            return Ok((req, ResponseType::Samples));
        }
        let chosen =
            req.accepted_response_types
                .iter()
                .find_map(|&t| match ResponseType::try_from(t) {
                    Ok(ResponseType::Samples) => Some(ResponseType::Samples),
                    Ok(ResponseType::StreamedXorChunks) if self.encoder.is_some() => {
                        Some(ResponseType::StreamedXorChunks)
                    }
                    _ => None,
                });
        match chosen {
            Some(t) => Ok((req, t)),
            None => Err(bad(format!(
                "server does not support any of the requested response types: {:?}; supported: [SAMPLES STREAMED_XOR_CHUNKS]",
                req.accepted_response_types
            ))),
        }
    }

    /// The sampled answer: a snappy-compressed `ReadResponse`.
    pub fn sampled(
        &self,
        storage: &dyn Queryable,
        req: &ReadRequest,
        external: &[Label],
    ) -> Result<Vec<u8>, ReadError> {
        let mut budget = SampleBudget::new(self.options.sample_limit);
        let mut response = ReadResponse::default();
        for query in &req.queries {
            let mut result = QueryResult::default();
            select(storage, query, external, &mut budget, &mut |(
                labels,
                samples,
            )| {
                result.timeseries.push(TimeSeries {
                    labels: to_proto(&labels),
                    samples: samples
                        .into_iter()
                        .map(|(timestamp, value)| types::Sample { value, timestamp })
                        .collect(),
                    ..TimeSeries::default()
                });
                true
            })?;
            response.results.push(result);
        }
        Ok(codec::snappy_compress(&response.encode_to_vec()))
    }

    /// The streamed answer: frames handed to `emit` one by one (it returns
    /// false when the client went away, which ends the read). One series
    /// per frame, split into more frames when its chunks pass
    /// `--storage.remote.read-max-bytes-in-frame`, as Prometheus does.
    pub fn streamed(
        &self,
        storage: &dyn Queryable,
        req: &ReadRequest,
        external: &[Label],
        emit: &mut dyn FnMut(Vec<u8>) -> bool,
    ) -> Result<(), ReadError> {
        let Some(encoder) = &self.encoder else {
            return Err(bad("this server cannot encode chunks"));
        };
        let mut budget = SampleBudget::new(self.options.sample_limit);
        for (index, query) in req.queries.iter().enumerate() {
            // Series by series: only one is held at a time.
            let more = select(storage, query, external, &mut budget, &mut |(
                labels,
                samples,
            )| {
                let labels = to_proto(&labels);
                let label_bytes: usize = labels.iter().map(|l| l.encoded_len()).sum();
                let room = self.options.max_bytes_in_frame.saturating_sub(label_bytes) as i64;
                let mut left = room;
                let mut chunks = Vec::new();
                let mut pieces = samples.chunks(CHUNK_SAMPLES).peekable();
                while let Some(piece) = pieces.next() {
                    let chunk = Chunk {
                        min_time_ms: piece[0].0,
                        max_time_ms: piece[piece.len() - 1].0,
                        r#type: ChunkEncoding::Xor as i32,
                        data: encoder(piece),
                    };
                    left -= chunk.encoded_len() as i64;
                    chunks.push(chunk);
                    if left > 0 && pieces.peek().is_some() {
                        continue;
                    }
                    let frame = ChunkedReadResponse {
                        chunked_series: vec![ChunkedSeries {
                            labels: labels.clone(),
                            chunks: std::mem::take(&mut chunks),
                        }],
                        query_index: index as i64,
                    };
                    let mut out = Vec::with_capacity(frame.encoded_len() + 16);
                    codec::put_chunked_frame(&frame, &mut out);
                    if !emit(out) {
                        return false;
                    }
                    left = room;
                }
                true
            })?;
            if !more {
                break;
            }
        }
        Ok(())
    }

    /// `prometheus_api_remote_read_queries`.
    pub fn families(&self) -> Vec<MetricFamily> {
        vec![MetricFamily::single(
            "prometheus_api_remote_read_queries",
            MetricKind::Gauge,
            "The current number of remote read queries being executed or waiting.",
            self.active.load(Ordering::Relaxed) as f64,
        )]
    }
}

/// A selected series: its labels (external ones added) and samples.
type Selected = (Vec<Label>, Vec<(i64, f64)>);

/// Samples read so far against `--storage.remote.read-sample-limit`.
struct SampleBudget {
    limit: usize,
    used: usize,
}

impl SampleBudget {
    fn new(limit: usize) -> Self {
        SampleBudget { limit, used: 0 }
    }

    fn take(&mut self, n: usize) -> Result<(), ReadError> {
        self.used += n;
        if self.limit > 0 && self.used > self.limit {
            return Err(bad(format!("exceeded sample limit ({})", self.limit)));
        }
        Ok(())
    }
}

/// The series of one query with their samples in its range, external
/// labels added, handed to `each` one by one (until it returns false;
/// then so does this).
fn select(
    storage: &dyn Queryable,
    query: &Query,
    external: &[Label],
    budget: &mut SampleBudget,
    each: &mut dyn FnMut(Selected) -> bool,
) -> Result<bool, ReadError> {
    let matchers = matchers(query, external)?;
    let (start, end) = (query.start_timestamp_ms, query.end_timestamp_ms);
    let mut hints = SelectHints::range(start, end);
    if let Some(h) = &query.hints {
        hints.step = h.step_ms;
        hints.range = h.range_ms;
        hints.func = (!h.func.is_empty()).then(|| h.func.clone());
        hints.grouping = h.grouping.clone();
        hints.by = h.by;
    }
    if start > end {
        return Ok(true);
    }
    let series = storage
        .select_series(&matchers, &hints)
        .map_err(|e| ReadError {
            status: 500,
            message: e.to_string(),
        })?;
    for mut s in series {
        let mut samples = Vec::new();
        // Bounded per step: a huge series is cut off at the limit instead
        // of being read whole first.
        match s.samples.seek(start) {
            Some(first) if first.0 <= end => {
                samples.push(first);
                while let Some(x) = s.samples.next() {
                    if x.0 > end {
                        break;
                    }
                    samples.push(x);
                    if samples.len() % 4096 == 0 {
                        budget.take(4096)?;
                    }
                }
                budget.take(samples.len() % 4096)?;
            }
            _ => {}
        }
        if samples.is_empty() {
            continue;
        }
        if !each((merge_external(s.labels, external), samples)) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A query's matchers, without equality matchers on external labels that
/// the external label satisfies (Prometheus' `filterExtLabelsFromMatchers`).
fn matchers(query: &Query, external: &[Label]) -> Result<Vec<Matcher>, ReadError> {
    let mut out = Vec::with_capacity(query.matchers.len());
    for m in &query.matchers {
        let kind = match MatcherType::try_from(m.r#type) {
            Ok(MatcherType::Eq) => MatchType::Equal,
            Ok(MatcherType::Neq) => MatchType::NotEqual,
            Ok(MatcherType::Re) => MatchType::Regex,
            Ok(MatcherType::Nre) => MatchType::NotRegex,
            Err(_) => return Err(bad(format!("invalid matcher type {}", m.r#type))),
        };
        if kind == MatchType::Equal
            && external
                .iter()
                .any(|l| l.name == m.name && l.value == m.value)
        {
            continue;
        }
        out.push(
            Matcher::new(kind, m.name.clone(), m.value.clone()).map_err(|e| bad(e.to_string()))?,
        );
    }
    Ok(out)
}

/// `labels` with the external labels they lack, sorted (Prometheus'
/// `MergeLabels`: the series' own value wins).
pub fn merge_external(mut labels: Vec<Label>, external: &[Label]) -> Vec<Label> {
    let before = labels.len();
    for e in external {
        if !labels[..before].iter().any(|l| l.name == e.name) {
            labels.push(e.clone());
        }
    }
    if labels.len() > before {
        labels.sort_by(|a, b| a.name.cmp(&b.name));
    }
    labels
}

fn to_proto(labels: &[Label]) -> Vec<types::Label> {
    labels
        .iter()
        .map(|l| types::Label {
            name: l.name.clone(),
            value: l.value.clone(),
        })
        .collect()
}
