//! The remote read client: each `remote_read` entry asked for the
//! selections of queries, its series merged with local ones, as
//! Prometheus' fanout storage does.
//!
//! - `read_recent: false` skips a remote for selections starting after
//!   the oldest local sample (Prometheus' `PreferLocalStorageFilter`);
//! - `required_matchers` asks a remote only for selections with all of
//!   them as equality matchers;
//! - `filter_external_labels` (default true) sends each external label the
//!   selection does not match on as an equality matcher, and removes those
//!   labels from the series the remote returns;
//! - a remote that fails makes the selection fail with
//!   `remote_read: <name>: <error>` (Prometheus 3 reports it as a warning
//!   beside partial data; the model's storage traits carry no warnings);
//! - answers are bounded: each streamed frame and a sampled answer by
//!   `chunked_read_limit`, a whole stream by 16 times it, the time by
//!   `remote_timeout`, and the samples one selection decodes by
//!   [`DEFAULT_SAMPLE_LIMIT`] (Prometheus' `--storage.remote.read-sample-limit`).
//!
//! The storage traits are synchronous: a selection (which the API and the
//! rules run off the async workers) spawns the HTTP exchange on the
//! runtime and waits for it.

use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Duration;
use wasmetheus_config::RemoteReadConfig;
use wasmetheus_model::Label;
use wasmetheus_model::storage::{
    MatchType, Matcher, Queryable, SelectHints, Series, StorageError, VecSampleIterator,
};
use wasmetheus_prompb::remote::{
    ChunkedReadResponse, Query, ReadRequest, ReadResponse, ResponseType,
};
use wasmetheus_prompb::types::{self, ChunkEncoding, LabelMatcher, MatcherType, ReadHints};
use wasmetheus_prompb::{Message, codec};

/// Decodes a Prometheus XOR chunk (header included) into its samples;
/// the server hands in the TSDB's decoder. Without one, only sampled
/// answers are asked for.
pub type ChunkDecoder = Arc<dyn Fn(&[u8]) -> Result<Vec<(i64, f64)>, String> + Send + Sync>;

/// Most samples one selection may decode from a remote's answer: 50
/// million, Prometheus' default `--storage.remote.read-sample-limit`
/// (some 800 MB decoded).
pub const DEFAULT_SAMPLE_LIMIT: usize = 50_000_000;

/// A series a remote returned: its labels (sorted) and samples.
pub type RemoteSeries = (Vec<Label>, Vec<(i64, f64)>);

/// One `remote_read` entry, ready to be asked.
pub struct RemoteReadClient {
    name: String,
    uri: hyper::Uri,
    client: wasmetheus_http_client::Client,
    headers: Vec<(hyper::header::HeaderName, hyper::header::HeaderValue)>,
    timeout: Duration,
    limit: usize,
    /// Most samples decoded for one selection.
    sample_limit: usize,
    read_recent: bool,
    required: Vec<(String, String)>,
    external: Vec<Label>,
    decoder: Option<ChunkDecoder>,
    /// The URL with its password redacted, for the metrics' `url` label.
    url: String,
    /// Answers by HTTP status code.
    answers: std::sync::Mutex<std::collections::BTreeMap<u16, u64>>,
    in_flight: std::sync::atomic::AtomicI64,
}

impl RemoteReadClient {
    /// The client of `config` (`index` names it when the entry has no
    /// name); `external` the global external labels. Reads certificate
    /// files: blocking.
    pub fn new(
        config: &RemoteReadConfig,
        index: usize,
        external: &[Label],
        decoder: Option<ChunkDecoder>,
    ) -> Result<Self, String> {
        if config.oauth2 {
            return Err("oauth2 is not supported for remote read yet".into());
        }
        let wasmetheus_http_client::Endpoint {
            client,
            uri,
            headers,
        } = wasmetheus_http_client::Endpoint::new(
            &config.http,
            &config.url,
            &config.headers,
            "remote read",
        )?;
        let name = if config.name.is_empty() {
            format!("{index}")
        } else {
            config.name.clone()
        };
        Ok(RemoteReadClient {
            name,
            uri,
            client,
            headers,
            timeout: config.remote_timeout.0,
            limit: usize::try_from(config.chunked_read_limit)
                .unwrap_or(usize::MAX)
                .max(1024),
            sample_limit: DEFAULT_SAMPLE_LIMIT,
            read_recent: config.read_recent,
            required: config
                .required_matchers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            external: if config.filter_external_labels {
                external.to_vec()
            } else {
                Vec::new()
            },
            decoder,
            url: wasmetheus_model::redact_url(&config.url).into_owned(),
            answers: std::sync::Mutex::default(),
            in_flight: std::sync::atomic::AtomicI64::new(0),
        })
    }

    /// The same client decoding at most `limit` samples per selection
    /// (default [`DEFAULT_SAMPLE_LIMIT`]).
    pub fn with_sample_limit(mut self, limit: usize) -> Self {
        self.sample_limit = limit;
        self
    }

    /// The error of an answer over the sample limit.
    fn too_many_samples(&self) -> String {
        format!(
            "the answer holds more than {} samples (the read sample limit); narrow the query's matchers or time range",
            self.sample_limit
        )
    }

    /// Its self-metrics' samples: `(code, queries)` answered, and
    /// queries in flight.
    fn counts(&self) -> (Vec<(u16, u64)>, i64) {
        let answers = self.answers.lock().map(|a| a.clone()).unwrap_or_default();
        (
            answers.into_iter().collect(),
            self.in_flight.load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// Whether this remote is asked for a selection of `matchers` starting
    /// at `mint`, with the local storage's oldest sample at `local_start`.
    fn wanted(&self, matchers: &[Matcher], mint: i64, local_start: i64) -> bool {
        if !self.read_recent && mint > local_start {
            return false;
        }
        self.required.iter().all(|(name, value)| {
            matchers
                .iter()
                .any(|m| m.kind == MatchType::Equal && &m.name == name && &m.value == value)
        })
    }

    /// The series of one selection from this remote, sorted by labels.
    pub async fn read(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<RemoteSeries>, String> {
        /// Counts a query in flight until dropped.
        struct InFlight<'a>(&'a std::sync::atomic::AtomicI64);
        impl Drop for InFlight<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        self.in_flight
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _in_flight = InFlight(&self.in_flight);
        let (query, added) = self.query(matchers, hints);
        let request = ReadRequest {
            queries: vec![query],
            accepted_response_types: if self.decoder.is_some() {
                vec![
                    ResponseType::StreamedXorChunks as i32,
                    ResponseType::Samples as i32,
                ]
            } else {
                vec![ResponseType::Samples as i32]
            },
        };
        let body = codec::snappy_compress(&request.encode_to_vec());
        let exchange = self.exchange(body);
        let mut series = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| format!("request timed out after {:?}", self.timeout))??;
        for (labels, _) in &mut series {
            labels.retain(|l| !added.iter().any(|a| a.name == l.name && a.value == l.value));
        }
        series.sort_by(|a, b| compare_labels(&a.0, &b.0));
        Ok(series)
    }

    /// The query of a selection, and the external labels added to it as
    /// matchers (to be removed from the answer).
    fn query(&self, matchers: &[Matcher], hints: &SelectHints) -> (Query, Vec<Label>) {
        let mut out: Vec<LabelMatcher> = matchers
            .iter()
            .map(|m| LabelMatcher {
                r#type: match m.kind {
                    MatchType::Equal => MatcherType::Eq,
                    MatchType::NotEqual => MatcherType::Neq,
                    MatchType::Regex => MatcherType::Re,
                    MatchType::NotRegex => MatcherType::Nre,
                } as i32,
                name: m.name.clone(),
                value: m.value.clone(),
            })
            .collect();
        let mut added = Vec::new();
        for l in &self.external {
            if !matchers.iter().any(|m| m.name == l.name) {
                out.push(LabelMatcher {
                    r#type: MatcherType::Eq as i32,
                    name: l.name.clone(),
                    value: l.value.clone(),
                });
                added.push(l.clone());
            }
        }
        let query = Query {
            start_timestamp_ms: hints.start,
            end_timestamp_ms: hints.end,
            matchers: out,
            hints: Some(ReadHints {
                step_ms: hints.step,
                func: hints.func.clone().unwrap_or_default(),
                start_ms: hints.start,
                end_ms: hints.end,
                grouping: hints.grouping.clone(),
                by: hints.by,
                range_ms: hints.range,
            }),
        };
        (query, added)
    }

    async fn exchange(&self, body: Vec<u8>) -> Result<Vec<RemoteSeries>, String> {
        use hyper::header;
        let mut request = hyper::Request::post(self.uri.clone())
            .header(header::CONTENT_TYPE, "application/x-protobuf")
            .header(header::CONTENT_ENCODING, "snappy")
            .header(header::ACCEPT_ENCODING, "snappy")
            .header("X-Prometheus-Remote-Read-Version", "0.1.0")
            .header(
                header::USER_AGENT,
                concat!("wasmetheus/", env!("CARGO_PKG_VERSION")),
            );
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let request = request
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let response = self.client.send(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        if let Ok(mut answers) = self.answers.lock() {
            *answers.entry(status.as_u16()).or_default() += 1;
        }
        let streamed = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/x-streamed-protobuf"));
        let mut body = response.into_body();
        if !status.is_success() {
            let text = http_body_util::Limited::new(body, 1024)
                .collect()
                .await
                .map(|b| String::from_utf8_lossy(&b.to_bytes()).trim().to_owned())
                .unwrap_or_default();
            return Err(format!(
                "remote server {} returned HTTP status {status}: {text}",
                self.url
            ));
        }
        if !streamed {
            let compressed = http_body_util::Limited::new(body, self.limit)
                .collect()
                .await
                .map_err(|e| format!("reading the answer (limit {} bytes): {e}", self.limit))?
                .to_bytes();
            let decoded =
                codec::snappy_decompress(&compressed, self.limit).map_err(|e| e.to_string())?;
            let response: ReadResponse = codec::decode(&decoded).map_err(|e| e.to_string())?;
            let samples = response
                .results
                .iter()
                .flat_map(|r| &r.timeseries)
                .map(|ts| ts.samples.len())
                .sum::<usize>();
            if samples > self.sample_limit {
                return Err(self.too_many_samples());
            }
            return Ok(response
                .results
                .into_iter()
                .flat_map(|r| r.timeseries)
                .map(|ts| {
                    (
                        from_proto(ts.labels),
                        ts.samples.iter().map(|s| (s.timestamp, s.value)).collect(),
                    )
                })
                .collect());
        }
        let Some(decoder) = &self.decoder else {
            return Err("a streamed answer was not asked for".into());
        };
        let total_limit = self.limit.saturating_mul(16);
        let (mut buf, mut total, mut decoded) = (Vec::<u8>::new(), 0usize, 0usize);
        let mut out: Vec<RemoteSeries> = Vec::new();
        loop {
            while let Some((frame, used)) =
                codec::take_chunked_frame(&buf, self.limit).map_err(|e| e.to_string())?
            {
                let frame: ChunkedReadResponse = codec::decode(frame).map_err(|e| e.to_string())?;
                for series in frame.chunked_series {
                    let labels = from_proto(series.labels);
                    let mut samples = Vec::new();
                    for chunk in &series.chunks {
                        if chunk.r#type != ChunkEncoding::Xor as i32 {
                            return Err(format!(
                                "chunk encoding {} is not supported (only XOR)",
                                chunk.r#type
                            ));
                        }
                        let chunk = decoder(&chunk.data)?;
                        decoded = decoded.saturating_add(chunk.len());
                        if decoded > self.sample_limit {
                            return Err(self.too_many_samples());
                        }
                        samples.extend(chunk);
                    }
                    // A series split over frames comes in consecutive frames.
                    match out.last_mut() {
                        Some((last, s)) if *last == labels => s.extend(samples),
                        _ => out.push((labels, samples)),
                    }
                }
                buf.drain(..used);
            }
            match body.frame().await {
                None => break,
                Some(Err(e)) => return Err(format!("reading the streamed answer: {e}")),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        total += data.len();
                        if total > total_limit {
                            return Err(format!(
                                "streamed answer larger than {total_limit} bytes (16 × chunked_read_limit)"
                            ));
                        }
                        buf.extend_from_slice(&data);
                    }
                }
            }
        }
        if !buf.is_empty() {
            return Err("streamed answer ends inside a frame".into());
        }
        Ok(out)
    }
}

fn from_proto(labels: Vec<types::Label>) -> Vec<Label> {
    let mut labels: Vec<Label> = labels
        .into_iter()
        .map(|l| Label::new(l.name, l.value))
        .collect();
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    labels
}

fn compare_labels(a: &[Label], b: &[Label]) -> std::cmp::Ordering {
    a.iter()
        .map(|l| (&l.name, &l.value))
        .cmp(b.iter().map(|l| (&l.name, &l.value)))
}

/// Local storage with the `remote_read` entries merged in: what queries
/// read.
pub struct MergedQueryable {
    local: Arc<dyn Queryable>,
    remotes: Vec<Arc<RemoteReadClient>>,
    runtime: tokio::runtime::Handle,
    /// The oldest local sample's time (`i64::MAX` when there is none).
    local_start: Arc<dyn Fn() -> i64 + Send + Sync>,
}

impl MergedQueryable {
    pub fn new(
        local: Arc<dyn Queryable>,
        remotes: Vec<Arc<RemoteReadClient>>,
        runtime: tokio::runtime::Handle,
        local_start: Arc<dyn Fn() -> i64 + Send + Sync>,
    ) -> Self {
        MergedQueryable {
            local,
            remotes,
            runtime,
            local_start,
        }
    }

    /// The remote read client's self-metrics, with Prometheus' names.
    pub fn families(&self) -> Vec<wasmetheus_model::MetricFamily> {
        use wasmetheus_model::{Metric, MetricFamily, MetricKind, MetricValue};
        let (mut queries, mut in_flight) = (Vec::new(), Vec::new());
        for remote in &self.remotes {
            let labels = |extra: Option<u16>| {
                let mut l = Vec::new();
                if let Some(code) = extra {
                    l.push(Label::new("code", code.to_string()));
                }
                l.push(Label::new("remote_name", remote.name.clone()));
                l.push(Label::new("url", remote.url.clone()));
                l
            };
            let (answers, running) = remote.counts();
            for (code, n) in answers {
                queries.push(Metric {
                    labels: labels(Some(code)),
                    value: MetricValue::Number(n as f64),
                    timestamp_ms: None,
                });
            }
            in_flight.push(Metric {
                labels: labels(None),
                value: MetricValue::Number(running as f64),
                timestamp_ms: None,
            });
        }
        vec![
            MetricFamily {
                name: "prometheus_remote_storage_remote_read_queries_total".into(),
                kind: MetricKind::Counter,
                help: "The total number of remote read queries.".into(),
                unit: String::new(),
                metrics: queries,
            },
            MetricFamily {
                name: "prometheus_remote_storage_remote_read_queries".into(),
                kind: MetricKind::Gauge,
                help: "The number of in-flight remote read queries.".into(),
                unit: String::new(),
                metrics: in_flight,
            },
        ]
    }

    /// The remotes' series for a selection, asked concurrently on the
    /// runtime while this (blocking) thread waits.
    fn remote_series(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<Vec<RemoteSeries>>, StorageError> {
        let local_start = (self.local_start)();
        let wanted: Vec<Arc<RemoteReadClient>> = self
            .remotes
            .iter()
            .filter(|r| r.wanted(matchers, hints.start, local_start))
            .cloned()
            .collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let longest = wanted.iter().map(|r| r.timeout).max().unwrap_or_default();
        for (i, remote) in wanted.into_iter().enumerate() {
            let (tx, matchers, hints) = (tx.clone(), matchers.to_vec(), hints.clone());
            self.runtime.spawn(async move {
                let result = remote
                    .read(&matchers, &hints)
                    .await
                    .map_err(|e| format!("remote_read: {}: {e}", remote.name));
                let _ = tx.send((i, result));
            });
        }
        drop(tx);
        let mut results = Vec::new();
        let deadline = std::time::Instant::now() + longest + Duration::from_secs(1);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok((i, Ok(series))) => results.push((i, series)),
                Ok((_, Err(e))) => return Err(StorageError(e)),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    return Err(StorageError("remote_read: timed out".into()));
                }
            }
        }
        results.sort_by_key(|(i, _)| *i);
        Ok(results.into_iter().map(|(_, s)| s).collect())
    }
}

impl Queryable for MergedQueryable {
    fn select_series(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<Series>, StorageError> {
        let remote = self.remote_series(matchers, hints)?;
        let local = self.local.select_series(matchers, hints)?;
        if remote.iter().all(Vec::is_empty) {
            return Ok(local);
        }
        // Merged by labels; samples deduplicated by timestamp, the local
        // one kept (Prometheus' chained sample iterators).
        let mut merged: std::collections::BTreeMap<Vec<(String, String)>, RemoteSeries> =
            std::collections::BTreeMap::new();
        let key = |labels: &[Label]| {
            labels
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect::<Vec<_>>()
        };
        for s in local {
            let collected = s.collect();
            merged.insert(
                key(&collected.labels),
                (collected.labels, collected.samples),
            );
        }
        for series in remote.into_iter().flatten() {
            let (labels, samples) = series;
            let samples: Vec<(i64, f64)> = samples
                .into_iter()
                .filter(|s| s.0 >= hints.start && s.0 <= hints.end)
                .collect();
            if samples.is_empty() {
                continue;
            }
            // Remote series must match too (a remote may ignore matchers).
            if !matchers.iter().all(|m| {
                m.matches(
                    labels
                        .iter()
                        .find(|l| l.name == m.name)
                        .map_or("", |l| l.value.as_str()),
                )
            }) {
                continue;
            }
            match merged.entry(key(&labels)) {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert((labels, samples));
                }
                std::collections::btree_map::Entry::Occupied(mut o) => {
                    let have = &mut o.get_mut().1;
                    have.extend(samples);
                    have.sort_by_key(|s| s.0);
                    have.dedup_by_key(|s| s.0);
                }
            }
        }
        Ok(merged
            .into_values()
            .map(|(labels, samples)| Series {
                labels,
                samples: Box::new(VecSampleIterator::new(samples)),
            })
            .collect())
    }

    fn label_names(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        self.local.label_names(matchers, mint, maxt)
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        self.local.label_values(name, matchers, mint, maxt)
    }
}
