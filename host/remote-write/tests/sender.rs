//! The sender against an in-process receiver that decodes what it gets
//! with `wasmetheus-prompb`, the WAL written here as the TSDB writes it:
//! batching, headers, external labels and relabelling, retries (500, 429
//! with `Retry-After`, a receiver that hangs), drops (400), remote write
//! 2.0's symbol table, outages and restarts that lose nothing.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use parking_lot::Mutex;
use wasmetheus_config::{Config, RemoteWriteConfig};
use wasmetheus_model::{Label, MetricFamily, MetricValue};
use wasmetheus_prompb::{remote::WriteRequest, write_v2};
use wasmetheus_remote_write::{MetricMetadata, MetricType, Options, RemoteWrite};
use wasmetheus_tsdb::wal::{Record, Wal};

/// What the receiver answers next (then 200 for good).
#[derive(Clone)]
enum Answer {
    Status(u16, Vec<(&'static str, String)>),
    Hang,
}

#[derive(Default)]
struct Received {
    /// (headers, body decompressed) of every request taken (2xx).
    taken: Vec<(hyper::HeaderMap, Vec<u8>)>,
    attempts: usize,
    script: VecDeque<Answer>,
    /// Answer 503 to everything while set.
    down: bool,
    /// Samples in the 1.0 requests taken.
    samples: usize,
    /// How long each answer takes.
    delay: Duration,
    /// Answer 415 to 2.0 messages, as a 1.0-only receiver.
    refuse_v2: bool,
}

#[derive(Clone)]
struct Receiver {
    addr: SocketAddr,
    state: Arc<Mutex<Received>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(Received::default()));
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, hyper::Error>(answer(state, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver { addr, state }
    }

    fn url(&self) -> String {
        format!("http://{}/api/v1/write", self.addr)
    }

    fn v1(&self) -> Vec<WriteRequest> {
        self.state
            .lock()
            .taken
            .iter()
            .map(|(_, body)| wasmetheus_prompb::codec::decode(body).unwrap())
            .collect()
    }

    /// (series labels as `k=v,…`, timestamp, value) of every sample taken.
    fn samples(&self) -> Vec<(String, i64, f64)> {
        let mut out = Vec::new();
        for request in self.v1() {
            for ts in request.timeseries {
                let labels: Vec<String> = ts
                    .labels
                    .iter()
                    .map(|l| format!("{}={}", l.name, l.value))
                    .collect();
                for s in ts.samples {
                    out.push((labels.join(","), s.timestamp, s.value));
                }
            }
        }
        out
    }
}

async fn answer(state: Arc<Mutex<Received>>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let headers = req.headers().clone();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let delay = state.lock().delay;
    tokio::time::sleep(delay).await;
    let next = {
        let mut s = state.lock();
        s.attempts += 1;
        let v2 = headers[hyper::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("write.v2");
        if s.down {
            Some(Answer::Status(503, vec![]))
        } else if s.refuse_v2 && v2 {
            Some(Answer::Status(415, vec![]))
        } else {
            s.script.pop_front()
        }
    };
    match next {
        Some(Answer::Hang) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Response::new(Full::new(Bytes::new()))
        }
        Some(Answer::Status(code, extra)) => {
            let mut response = Response::builder().status(code);
            for (k, v) in extra {
                response = response.header(k, v);
            }
            response
                .body(Full::new(Bytes::from(format!("answer {code}: go away"))))
                .unwrap()
        }
        None => {
            let raw = wasmetheus_prompb::codec::snappy_decompress(&body, 32 << 20).unwrap();
            let samples = if headers["content-type"] == "application/x-protobuf" {
                let request: WriteRequest = wasmetheus_prompb::codec::decode(&raw).unwrap();
                request.timeseries.iter().map(|t| t.samples.len()).sum()
            } else {
                0
            };
            let mut state = state.lock();
            state.samples += samples;
            state.taken.push((headers, raw));
            Response::builder()
                .status(204)
                .body(Full::new(Bytes::new()))
                .unwrap()
        }
    }
}

fn config(text: &str) -> Config {
    Config::parse(text, Path::new("test.yml")).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn remote_writes(text: &str) -> (Vec<RemoteWriteConfig>, BTreeMap<String, String>) {
    let c = config(text);
    (c.remote_write.clone(), c.global.external_labels.clone())
}

fn options(dir: &Path) -> Options {
    let mut o = Options::for_storage(dir);
    o.poll_interval = Duration::from_millis(10);
    o
}

fn metadata() -> Arc<dyn wasmetheus_remote_write::MetadataSource> {
    Arc::new(|| {
        vec![MetricMetadata {
            r#type: MetricType::Counter as i32,
            metric_family_name: "up".into(),
            help: "Is it up.".into(),
            unit: String::new(),
        }]
    })
}

fn series(r: u32, name: &str, job: &str) -> Record {
    Record::Series {
        r,
        labels: vec![Label::new("__name__", name), Label::new("job", job)],
    }
}

async fn eventually(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn metric(families: &[MetricFamily], name: &str, labels: &[(&str, &str)]) -> f64 {
    let family = families
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no family {name}"));
    let m = family
        .metrics
        .iter()
        .find(|m| {
            labels
                .iter()
                .all(|(k, v)| m.labels.iter().any(|l| l.name == *k && l.value == *v))
        })
        .unwrap_or_else(|| panic!("no {name}{labels:?}"));
    match &m.value {
        MetricValue::Number(v) => *v,
        MetricValue::Histogram(h) => h.count,
        MetricValue::Summary(s) => s.count,
    }
}

fn wal(dir: &Path) -> Wal {
    Wal::open(&dir.join("wal"), false, |_| {}).unwrap().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_by_size_and_deadline_with_labels_and_headers() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    let mut log = wal(dir.path());
    // Written before the queue starts: not sent (the queue starts at the
    // WAL's end, as Prometheus'), but its series are known.
    log.log(&[
        series(0, "up", "a"),
        series(1, "dropped_metric", "a"),
        Record::Samples(vec![(0, 1, 1.0)]),
    ])
    .unwrap();
    let (configs, external) = remote_writes(&format!(
        r#"
global:
  external_labels: {{region: eu, job: ignored}}
remote_write:
  - url: {url}
    name: capture
    headers: {{X-Scope-OrgID: tenant-1}}
    queue_config: {{max_samples_per_send: 5, batch_send_deadline: 200ms}}
    metadata_config: {{send: false}}
    write_relabel_configs:
      - source_labels: [__name__]
        regex: dropped_.*
        action: drop
"#,
        url = receiver.url()
    ));
    let rw = RemoteWrite::new(options(dir.path()), metadata());
    rw.apply(&configs, &external).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let samples: Vec<_> = (0..12)
        .flat_map(|t| [(0, 1000 + t, t as f64), (1, 1000 + t, 0.0)])
        .collect();
    log.log(&[Record::Samples(samples)]).unwrap();
    eventually("two full batches", Duration::from_secs(5), || {
        receiver.v1().len() >= 2
    })
    .await;
    // The full batches go at once (before the partial one: the sizes
    // below); the last two samples after the deadline.
    eventually("the partial batch", Duration::from_secs(5), || {
        receiver.v1().len() == 3
    })
    .await;
    assert!(started.elapsed() >= Duration::from_millis(190));
    let sizes: Vec<usize> = receiver
        .v1()
        .iter()
        .map(|r| r.timeseries.iter().map(|t| t.samples.len()).sum())
        .collect();
    assert_eq!(sizes, [5, 5, 2]);
    let got = receiver.samples();
    assert_eq!(
        got,
        (0..12)
            .map(|t| ("__name__=up,job=a,region=eu".to_owned(), 1000 + t, t as f64))
            .collect::<Vec<_>>()
    );
    {
        let state = receiver.state.lock();
        let headers = &state.taken[0].0;
        assert_eq!(headers["content-encoding"], "snappy");
        assert_eq!(headers["content-type"], "application/x-protobuf");
        assert_eq!(headers["x-prometheus-remote-write-version"], "0.1.0");
        assert_eq!(headers["x-scope-orgid"], "tenant-1");
        assert!(
            headers["user-agent"]
                .to_str()
                .unwrap()
                .starts_with("wasmetheus/")
        );
    }
    let m = rw.metrics();
    let q = [("remote_name", "capture")];
    assert_eq!(
        metric(&m, "prometheus_remote_storage_samples_total", &q),
        12.0
    );
    assert_eq!(
        metric(
            &m,
            "prometheus_remote_storage_samples_dropped_total",
            &[("remote_name", "capture"), ("reason", "dropped_series")]
        ),
        12.0
    );
    assert_eq!(
        metric(&m, "prometheus_remote_storage_samples_pending", &q),
        0.0
    );
    assert_eq!(
        metric(
            &m,
            "prometheus_remote_storage_sent_batch_duration_seconds",
            &q
        ),
        3.0
    );
    assert_eq!(
        metric(
            &m,
            "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
            &q
        ),
        1.011
    );
    assert_eq!(
        metric(
            &m,
            "prometheus_wal_watcher_records_read_total",
            &[("consumer", "capture"), ("type", "samples")]
        ),
        2.0
    );
    rw.stop().await;
    assert!(rw.metrics().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_server_errors_and_rate_limits_and_drops_client_errors() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    let mut log = wal(dir.path());
    log.log(&[series(0, "up", "a")]).unwrap();
    let (configs, external) = remote_writes(&format!(
        r#"
remote_write:
  - url: {url}
    name: r
    remote_timeout: 300ms
    queue_config: {{max_samples_per_send: 1, batch_send_deadline: 10ms, min_backoff: 10ms, max_backoff: 40ms, retry_on_http_429: true}}
    metadata_config: {{send: false}}
"#,
        url = receiver.url()
    ));
    receiver.state.lock().script.extend([
        Answer::Status(500, vec![]),
        Answer::Hang,
        Answer::Status(429, vec![("Retry-After", "1".into())]),
    ]);
    let rw = RemoteWrite::new(options(dir.path()), metadata());
    rw.apply(&configs, &external).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    log.log(&[Record::Samples(vec![(0, 1, 1.0)])]).unwrap();
    eventually("the retried sample", Duration::from_secs(10), || {
        receiver.samples().len() == 1
    })
    .await;
    // 500, then a hang cut at remote_timeout, then 429 waited out.
    assert!(
        started.elapsed() >= Duration::from_millis(1300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(receiver.state.lock().attempts, 4);
    // A 400 drops the batch; the next one goes on.
    receiver
        .state
        .lock()
        .script
        .push_back(Answer::Status(400, vec![]));
    log.log(&[Record::Samples(vec![(0, 2, 2.0)])]).unwrap();
    log.log(&[Record::Samples(vec![(0, 3, 3.0)])]).unwrap();
    eventually(
        "the sample after the dropped one",
        Duration::from_secs(5),
        || receiver.samples().len() == 2,
    )
    .await;
    assert_eq!(receiver.samples()[1].1, 3);
    let m = rw.metrics();
    let q = [("remote_name", "r")];
    assert_eq!(
        metric(&m, "prometheus_remote_storage_samples_retried_total", &q),
        3.0
    );
    assert_eq!(
        metric(&m, "prometheus_remote_storage_samples_failed_total", &q),
        1.0
    );
    // A receiver that never answers does not hold the stop up.
    receiver.state.lock().script.push_back(Answer::Hang);
    log.log(&[Record::Samples(vec![(0, 4, 4.0)])]).unwrap();
    eventually("the hanging attempt", Duration::from_secs(5), || {
        receiver.state.lock().attempts >= 7
    })
    .await;
    let stopping = Instant::now();
    rw.stop().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(3),
        "{:?}",
        stopping.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_dropped_unless_retry_on_http_429() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    let mut log = wal(dir.path());
    log.log(&[series(0, "up", "a")]).unwrap();
    let (configs, external) = remote_writes(&format!(
        r#"
remote_write:
  - url: {url}
    name: r
    queue_config: {{max_samples_per_send: 1, batch_send_deadline: 10ms}}
    metadata_config: {{send: false}}
"#,
        url = receiver.url()
    ));
    receiver
        .state
        .lock()
        .script
        .push_back(Answer::Status(429, vec![("Retry-After", "1".into())]));
    let rw = RemoteWrite::new(options(dir.path()), metadata());
    rw.apply(&configs, &external).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    log.log(&[Record::Samples(vec![(0, 1, 1.0)])]).unwrap();
    log.log(&[Record::Samples(vec![(0, 2, 2.0)])]).unwrap();
    eventually("the second sample", Duration::from_secs(5), || {
        receiver.samples().len() == 1
    })
    .await;
    assert_eq!(receiver.samples()[0].1, 2);
    rw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_write_2_sends_a_symbol_table_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    let mut log = wal(dir.path());
    log.log(&[series(0, "up", "a"), series(1, "up", "b")])
        .unwrap();
    let (configs, external) = remote_writes(&format!(
        r#"
remote_write:
  - url: {url}
    name: v2
    protobuf_message: io.prometheus.write.v2.Request
    queue_config: {{batch_send_deadline: 300ms}}
    metadata_config: {{send_interval: 20ms}}
"#,
        url = receiver.url()
    ));
    let rw = RemoteWrite::new(options(dir.path()), metadata());
    rw.apply(&configs, &external).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    log.log(&[Record::Samples(vec![(0, 5, 1.0), (1, 5, 0.0)])])
        .unwrap();
    eventually("a v2 request", Duration::from_secs(5), || {
        !receiver.state.lock().taken.is_empty()
    })
    .await;
    let (headers, body) = receiver.state.lock().taken[0].clone();
    assert_eq!(
        headers["content-type"],
        "application/x-protobuf;proto=io.prometheus.write.v2.Request"
    );
    assert_eq!(headers["x-prometheus-remote-write-version"], "2.0.0");
    let request: write_v2::Request = wasmetheus_prompb::codec::decode(&body).unwrap();
    assert_eq!(request.symbols[0], "");
    let mut got = Vec::new();
    for ts in &request.timeseries {
        let labels: Vec<String> = ts
            .labels_refs
            .chunks(2)
            .map(|p| {
                format!(
                    "{}={}",
                    request.symbols[p[0] as usize], request.symbols[p[1] as usize]
                )
            })
            .collect();
        let meta = ts.metadata.unwrap();
        assert_eq!(meta.r#type, MetricType::Counter as i32);
        assert_eq!(request.symbols[meta.help_ref as usize], "Is it up.");
        got.push((
            labels.join(","),
            ts.samples[0].timestamp,
            ts.samples[0].value,
        ));
    }
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        [
            ("__name__=up,job=a".to_owned(), 5, 1.0),
            ("__name__=up,job=b".to_owned(), 5, 0.0)
        ]
    );
    // Each symbol once.
    let mut symbols = request.symbols.clone();
    symbols.sort();
    symbols.dedup();
    assert_eq!(symbols.len(), request.symbols.len());
    rw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_is_sent_in_1_0_requests() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    let _log = wal(dir.path());
    let (configs, external) = remote_writes(&format!(
        "remote_write:\n  - url: {}\n    metadata_config: {{send_interval: 20ms}}\n",
        receiver.url()
    ));
    let rw = RemoteWrite::new(options(dir.path()), metadata());
    rw.apply(&configs, &external).await.unwrap();
    eventually("metadata", Duration::from_secs(5), || {
        receiver.v1().iter().any(|r| !r.metadata.is_empty())
    })
    .await;
    let request = receiver
        .v1()
        .into_iter()
        .find(|r| !r.metadata.is_empty())
        .unwrap();
    assert_eq!(request.metadata[0].metric_family_name, "up");
    assert!(request.timeseries.is_empty());
    let m = rw.metrics();
    assert!(metric(&m, "prometheus_remote_storage_metadata_total", &[]) >= 1.0);
    rw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_and_restarts_lose_nothing_and_repeat_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    let mut log = wal(dir.path());
    log.log(&[series(0, "up", "a"), series(1, "up", "b")])
        .unwrap();
    let (configs, external) = remote_writes(&format!(
        r#"
remote_write:
  - url: {url}
    name: durable
    queue_config: {{capacity: 10, max_samples_per_send: 4, batch_send_deadline: 20ms, min_backoff: 5ms, max_backoff: 20ms}}
    metadata_config: {{send: false}}
"#,
        url = receiver.url()
    ));
    let rw = RemoteWrite::new(options(dir.path()), metadata());
    rw.apply(&configs, &external).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut t = 0;
    let mut write = |log: &mut Wal, n: usize| {
        for _ in 0..n {
            t += 1;
            log.log(&[Record::Samples(vec![(0, t, t as f64), (1, t, -(t as f64))])])
                .unwrap();
        }
    };
    write(&mut log, 10);
    eventually("the first samples", Duration::from_secs(5), || {
        receiver.samples().len() == 20
    })
    .await;
    // An outage far longer than the batch deadline, with more samples
    // than the shards hold.
    receiver.state.lock().down = true;
    write(&mut log, 30);
    tokio::time::sleep(Duration::from_millis(300)).await;
    receiver.state.lock().down = false;
    eventually("the samples of the outage", Duration::from_secs(10), || {
        receiver.samples().len() == 80
    })
    .await;
    let m = rw.metrics();
    assert!(metric(&m, "prometheus_remote_storage_enqueue_retries_total", &[]) > 0.0);
    // A restart: what was acknowledged is not sent again; what was written
    // while the queue was down is.
    rw.stop().await;
    write(&mut log, 5);
    let rw = RemoteWrite::new(options(dir.path()), metadata());
    rw.apply(&configs, &external).await.unwrap();
    eventually(
        "the samples written while stopped",
        Duration::from_secs(5),
        || receiver.samples().len() >= 90,
    )
    .await;
    // A stop during an outage: what was not acknowledged is sent after the
    // next start (at least once).
    receiver.state.lock().down = true;
    write(&mut log, 5);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Bounded: the flush deadline (1 s), then what is in flight is given up.
    let stopping = Instant::now();
    rw.stop().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(3),
        "{:?}",
        stopping.elapsed()
    );
    receiver.state.lock().down = false;
    let rw = RemoteWrite::new(options(dir.path()), metadata());
    rw.apply(&configs, &external).await.unwrap();
    eventually(
        "the samples of the stopped outage",
        Duration::from_secs(5),
        || receiver.samples().len() >= 100,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    rw.stop().await;
    // At least once: a send the flush deadline cut short (a slow machine)
    // is sent again after the restart, so every sample is there, maybe
    // some twice.
    let got = receiver.samples();
    assert!(got.len() >= 100, "lost: {}", got.len());
    for series in ["__name__=up,job=a", "__name__=up,job=b"] {
        let mut ts: Vec<i64> = got
            .iter()
            .filter(|(l, _, _)| l == series)
            .map(|(_, t, _)| *t)
            .collect();
        ts.sort_unstable();
        ts.dedup();
        assert_eq!(ts, (1..=50).collect::<Vec<_>>(), "{series}: every sample");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_keeps_unchanged_queues_and_replaces_changed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    let mut log = wal(dir.path());
    log.log(&[series(0, "up", "a")]).unwrap();
    let text = |label: &str| {
        format!(
            r#"
global: {{external_labels: {{v: "{label}"}}}}
remote_write:
  - url: {url}
    name: q
    queue_config: {{batch_send_deadline: 10ms}}
    metadata_config: {{send: false}}
"#,
            url = receiver.url()
        )
    };
    let rw = RemoteWrite::new(options(dir.path()), metadata());
    let (configs, external) = remote_writes(&text("1"));
    rw.apply(&configs, &external).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    log.log(&[Record::Samples(vec![(0, 1, 1.0)])]).unwrap();
    eventually("one", Duration::from_secs(5), || {
        receiver.samples().len() == 1
    })
    .await;
    rw.apply(&configs, &external).await.unwrap();
    let (configs, external) = remote_writes(&text("2"));
    rw.apply(&configs, &external).await.unwrap();
    log.log(&[Record::Samples(vec![(0, 2, 2.0)])]).unwrap();
    eventually("two", Duration::from_secs(5), || {
        receiver.samples().len() == 2
    })
    .await;
    assert_eq!(receiver.samples()[1].0, "__name__=up,job=a,v=2");
    // Two queues of one name are refused, and the running one goes on.
    // (The configuration refuses two names; two unnamed identical
    // entries get one hash.)
    let mut unnamed = configs[0].clone();
    unnamed.name.clear();
    unnamed.url = unnamed.url.replace("http://", "http://user:hunter2@");
    let err = rw
        .apply(&[configs[0].clone(), unnamed.clone(), unnamed], &external)
        .await
        .unwrap_err();
    assert!(
        err.starts_with("duplicate remote write configs are not allowed, found duplicate for URL: http://user:xxxxx@"),
        "{err}"
    );
    log.log(&[Record::Samples(vec![(0, 3, 3.0)])]).unwrap();
    eventually("three", Duration::from_secs(5), || {
        receiver.samples().len() == 3
    })
    .await;
    // Removed: stopped.
    rw.apply(&[], &external).await.unwrap();
    assert!(rw.metrics().is_empty());
    // A URL the client cannot use is an error naming the queue.
    let (configs, external) = remote_writes(
        "remote_write:\n  - url: http://user:hunter2@127.0.0.1:1/w\n    name: bad\n    oauth2: {client_id: a, client_secret: b, token_url: 'http://127.0.0.1:1/t'}\n",
    );
    let err = rw.apply(&configs, &external).await.unwrap_err();
    assert!(err.contains("bad") && err.contains("oauth2"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    rw.stop().await;
    // A reload racing the shutdown starts nothing.
    let (configs, external) = remote_writes(&text("3"));
    rw.apply(&configs, &external).await.unwrap();
    assert!(rw.metrics().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samples_older_than_the_age_limit_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    let mut log = wal(dir.path());
    log.log(&[series(0, "up", "a")]).unwrap();
    let (configs, external) = remote_writes(&format!(
        "remote_write:\n  - url: {}\n    queue_config: {{batch_send_deadline: 10ms, sample_age_limit: 1m}}\n    metadata_config: {{send: false}}\n",
        receiver.url()
    ));
    let rw = RemoteWrite::new(options(dir.path()), metadata());
    rw.apply(&configs, &external).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    log.log(&[Record::Samples(vec![
        (0, now - 120_000, 1.0),
        (0, now, 2.0),
    ])])
    .unwrap();
    eventually("the recent sample", Duration::from_secs(5), || {
        receiver.samples().len() == 1
    })
    .await;
    assert_eq!(receiver.samples()[0].1, now);
    let m = rw.metrics();
    assert_eq!(
        metric(
            &m,
            "prometheus_remote_storage_samples_dropped_total",
            &[("reason", "too_old")]
        ),
        1.0
    );
    rw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_behind_a_checkpoint_goes_on_after_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    let wal_dir = dir.path().join("wal");
    // Small segments: every few records a new one.
    let (mut log, _) = Wal::open_with(&wal_dir, false, 256, |_| {}).unwrap();
    log.log(&[series(0, "up", "a")]).unwrap();
    let (configs, external) = remote_writes(&format!(
        r#"
remote_write:
  - url: {url}
    queue_config: {{capacity: 5, max_samples_per_send: 5, max_shards: 1, batch_send_deadline: 10ms, min_backoff: 5ms, max_backoff: 10ms}}
    metadata_config: {{send: false}}
"#,
        url = receiver.url()
    ));
    receiver.state.lock().down = true;
    let rw = RemoteWrite::new(options(dir.path()), metadata());
    rw.apply(&configs, &external).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for t in 1..=60 {
        log.log(&[Record::Samples(vec![(0, t, t as f64)])]).unwrap();
        // A few at a time: the reader blocks on the full shard early.
        if t % 5 == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The head was compacted: every closed segment is folded into a
    // checkpoint and deleted while the queue is still far behind.
    log.cut().unwrap();
    wasmetheus_tsdb::wal::checkpoint(
        &wal_dir,
        log.current_segment() - 1,
        &wasmetheus_tsdb::wal::CheckpointFilter {
            live_series: &|_| true,
            mint: 0,
        },
    )
    .unwrap();
    // A new series after the gap, and the old one going on.
    log.log(&[
        series(1, "up", "b"),
        Record::Samples(vec![(0, 100, 100.0), (1, 100, 1.0)]),
    ])
    .unwrap();
    receiver.state.lock().down = false;
    eventually("the samples after the gap", Duration::from_secs(10), || {
        receiver
            .samples()
            .iter()
            .any(|(l, t, _)| *t == 100 && l.ends_with("job=b"))
            && receiver
                .samples()
                .iter()
                .any(|(l, t, _)| *t == 100 && l.ends_with("job=a"))
    })
    .await;
    let got = receiver.samples();
    let a: Vec<i64> = got
        .iter()
        .filter(|(l, _, _)| l.ends_with("job=a"))
        .map(|(_, t, _)| *t)
        .collect();
    // In order, none twice (what the deleted segments held that was not
    // read yet is lost, as in Prometheus).
    assert!(a.windows(2).all(|w| w[0] < w[1]), "{a:?}");
    let m = rw.metrics();
    assert_eq!(
        metric(
            &m,
            "prometheus_remote_storage_samples_dropped_total",
            &[("reason", "unintentionally_dropped_series")]
        ),
        0.0
    );
    // Segments deleted unread are counted (and logged). (The reader may
    // have read all 60 records in one go before the checkpoint: then
    // nothing is lost.)
    let skipped = metric(
        &m,
        "wasmetheus_remote_write_wal_segments_skipped_total",
        &[],
    );
    if !(1..=60).all(|t| a.contains(&t)) {
        assert!(skipped >= 1.0, "{a:?}");
    }
    rw.stop().await;
    // Restarted, the queue knows series 0 from the checkpoint alone
    // (segment 0, where it was logged, is gone).
    assert!(!wal_dir.join("00000000").exists());
    let rw = RemoteWrite::new(options(dir.path()), metadata());
    rw.apply(&configs, &external).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    log.log(&[Record::Samples(vec![(0, 200, 200.0)])]).unwrap();
    eventually(
        "a sample of the checkpointed series",
        Duration::from_secs(5),
        || {
            receiver
                .samples()
                .iter()
                .any(|(l, t, _)| *t == 200 && l.ends_with("job=a"))
        },
    )
    .await;
    rw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_position_starts_at_the_wal_start() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    let mut log = wal(dir.path());
    // Written before the queue starts: skipped by a new queue (it starts
    // at the WAL's end), sent by one whose position cannot be read.
    log.log(&[series(0, "up", "a"), Record::Samples(vec![(0, 1, 1.0)])])
        .unwrap();
    let state = dir.path().join("remote-write");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("q.position"), "\0\0garbage").unwrap();
    let (configs, external) = remote_writes(&format!(
        "remote_write:\n  - url: {}\n    name: q\n    queue_config: {{batch_send_deadline: 10ms}}\n    metadata_config: {{send: false}}\n",
        receiver.url()
    ));
    let rw = RemoteWrite::new(options(dir.path()), metadata());
    rw.apply(&configs, &external).await.unwrap();
    eventually(
        "the sample before the start",
        Duration::from_secs(5),
        || receiver.samples().iter().any(|(_, t, _)| *t == 1),
    )
    .await;
    rw.stop().await;
    // The position is written anew.
    let text = std::fs::read_to_string(state.join("q.position")).unwrap();
    assert!(!text.contains("garbage"), "{text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_queue_forgets_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    let mut log = wal(dir.path());
    log.log(&[series(0, "up", "a")]).unwrap();
    let (configs, external) = remote_writes(&format!(
        "remote_write:\n  - url: {}\n    name: q\n    queue_config: {{batch_send_deadline: 10ms}}\n    metadata_config: {{send: false}}\n",
        receiver.url()
    ));
    let position = dir.path().join("remote-write/q.position");
    let rw = RemoteWrite::new(options(dir.path()), metadata());
    rw.apply(&configs, &external).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    log.log(&[Record::Samples(vec![(0, 1, 1.0)])]).unwrap();
    eventually("the first sample", Duration::from_secs(5), || {
        receiver.samples().len() == 1
    })
    .await;
    assert!(position.exists());
    // Removed: the position goes.
    rw.apply(&[], &external).await.unwrap();
    assert!(!position.exists());
    // Written while the queue is gone: not sent once it is back.
    log.log(&[Record::Samples(vec![(0, 2, 2.0)])]).unwrap();
    rw.apply(&configs, &external).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    log.log(&[Record::Samples(vec![(0, 3, 3.0)])]).unwrap();
    eventually("the sample after re-adding", Duration::from_secs(5), || {
        receiver.samples().iter().any(|(_, t, _)| *t == 3)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ts: Vec<i64> = receiver.samples().iter().map(|(_, t, _)| *t).collect();
    assert_eq!(ts, [1, 3]);
    // A stop (shutdown) keeps it.
    rw.stop().await;
    assert!(position.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_position_folded_into_a_checkpoint_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    let wal_dir = dir.path().join("wal");
    let (mut log, _) = Wal::open_with(&wal_dir, false, 256, |_| {}).unwrap();
    log.log(&[series(0, "up", "a")]).unwrap();
    for t in 1..=30 {
        log.log(&[Record::Samples(vec![(0, t, t as f64)])]).unwrap();
    }
    log.cut().unwrap();
    wasmetheus_tsdb::wal::checkpoint(
        &wal_dir,
        log.current_segment() - 1,
        &wasmetheus_tsdb::wal::CheckpointFilter {
            live_series: &|_| true,
            mint: 0,
        },
    )
    .unwrap();
    assert!(!wal_dir.join("00000000").exists());
    // The queue stopped in segment 0, since deleted.
    let state = dir.path().join("remote-write");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("q.position"), "0 30\n").unwrap();
    let (configs, external) = remote_writes(&format!(
        "remote_write:\n  - url: {}\n    name: q\n    queue_config: {{batch_send_deadline: 10ms}}\n    metadata_config: {{send: false}}\n",
        receiver.url()
    ));
    let rw = RemoteWrite::new(options(dir.path()), metadata());
    rw.apply(&configs, &external).await.unwrap();
    log.log(&[Record::Samples(vec![(0, 100, 100.0)])]).unwrap();
    eventually("the sample after the gap", Duration::from_secs(5), || {
        receiver.samples().iter().any(|(_, t, _)| *t == 100)
    })
    .await;
    let skipped = metric(
        &rw.metrics(),
        "wasmetheus_remote_write_wal_segments_skipped_total",
        &[],
    );
    rw.stop().await;
    assert!(skipped >= 1.0, "{skipped}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput_of_a_single_queue() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    let mut log = wal(dir.path());
    let series_count = 1000u32;
    let records: Vec<Record> = (0..series_count)
        .map(|r| Record::Series {
            r,
            labels: vec![
                Label::new("__name__", "node_cpu_seconds_total"),
                Label::new("cpu", r.to_string()),
                Label::new("instance", "host:9100"),
                Label::new("job", "node"),
            ],
        })
        .collect();
    log.log(&records).unwrap();
    let (configs, external) = remote_writes(&format!(
        "remote_write:\n  - url: {}\n    queue_config: {{batch_send_deadline: 50ms}}\n    metadata_config: {{send: false}}\n",
        receiver.url()
    ));
    let rw = RemoteWrite::new(options(dir.path()), metadata());
    rw.apply(&configs, &external).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let scrapes = 200;
    let started = Instant::now();
    for t in 0..scrapes {
        let samples = (0..series_count).map(|r| (r, t * 1000, t as f64)).collect();
        log.log(&[Record::Samples(samples)]).unwrap();
    }
    let total = scrapes as usize * series_count as usize;
    eventually("every sample", Duration::from_secs(120), || {
        receiver.state.lock().samples == total
    })
    .await;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{total} samples in {seconds:.2} s: {:.0} samples/s, {} requests",
        total as f64 / seconds,
        receiver.state.lock().taken.len()
    );
    rw.stop().await;
}

/// A TCP server answering every connection with bytes that are not HTTP.
async fn garbage_server() -> SocketAddr {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.write_all(b"\x00\xffnot http at all\r\n\r\n").await;
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_answering_garbage_is_retried_and_a_changed_queue_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = garbage_server().await;
    let receiver = Receiver::start().await;
    let mut log = wal(dir.path());
    log.log(&[series(0, "up", "a")]).unwrap();
    let text = |url: String| {
        format!(
            "remote_write:\n  - url: {url}\n    name: moving\n    queue_config: {{batch_send_deadline: 10ms, min_backoff: 5ms, max_backoff: 20ms}}\n    metadata_config: {{send: false}}\n"
        )
    };
    let (configs, external) = remote_writes(&text(format!("http://{garbage}/write")));
    let rw = RemoteWrite::new(options(dir.path()), metadata());
    rw.apply(&configs, &external).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    log.log(&[Record::Samples(vec![(0, 1, 1.0), (0, 2, 2.0)])])
        .unwrap();
    eventually("retries", Duration::from_secs(5), || {
        metric(
            &rw.metrics(),
            "prometheus_remote_storage_samples_retried_total",
            &[],
        ) >= 4.0
    })
    .await;
    assert_eq!(
        metric(
            &rw.metrics(),
            "prometheus_remote_storage_samples_pending",
            &[]
        ),
        2.0
    );
    // The queue moves to a working receiver: the old one stops with
    // nothing acknowledged, the new one resends from the saved position.
    let (configs, external) = remote_writes(&text(receiver.url()));
    rw.apply(&configs, &external).await.unwrap();
    eventually(
        "the samples at the new receiver",
        Duration::from_secs(5),
        || receiver.samples().len() == 2,
    )
    .await;
    rw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_receiver_gets_more_shards_and_order_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    receiver.state.lock().delay = Duration::from_millis(50);
    let mut log = wal(dir.path());
    let series_count = 50u32;
    let records: Vec<Record> = (0..series_count)
        .map(|r| series(r, "m", &r.to_string()))
        .collect();
    log.log(&records).unwrap();
    let (configs, external) = remote_writes(&format!(
        "remote_write:\n  - url: {}\n    queue_config: {{max_samples_per_send: 100, batch_send_deadline: 20ms, max_shards: 8}}\n    metadata_config: {{send: false}}\n",
        receiver.url()
    ));
    let mut o = options(dir.path());
    o.shard_update_interval = Duration::from_millis(300);
    let rw = RemoteWrite::new(o, metadata());
    rw.apply(&configs, &external).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // 5000 samples/s in; one shard sends at most 2000/s.
    let mut max_shards = 0.0f64;
    let rounds = 250;
    for t in 0..rounds {
        let samples = (0..series_count).map(|r| (r, t, t as f64)).collect();
        log.log(&[Record::Samples(samples)]).unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
        max_shards = max_shards.max(metric(
            &rw.metrics(),
            "prometheus_remote_storage_shards",
            &[],
        ));
    }
    let total = rounds as usize * series_count as usize;
    eventually("every sample", Duration::from_secs(30), || {
        receiver.state.lock().samples >= total
    })
    .await;
    assert!(max_shards > 1.0, "never resharded");
    let desired = metric(
        &rw.metrics(),
        "prometheus_remote_storage_shards_desired",
        &[],
    );
    assert!((1.0..=8.0).contains(&desired), "{desired}");
    rw.stop().await;
    // Every sample once, each series in order, across reshardings.
    let got = receiver.samples();
    assert_eq!(got.len(), total);
    let mut last: std::collections::HashMap<String, i64> = Default::default();
    for (labels, t, _) in got {
        if let Some(prev) = last.insert(labels.clone(), t) {
            assert!(t > prev, "{labels}: {t} after {prev}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_refusing_2_0_gets_1_0() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    receiver.state.lock().refuse_v2 = true;
    let mut log = wal(dir.path());
    log.log(&[series(0, "up", "a")]).unwrap();
    let (configs, external) = remote_writes(&format!(
        "remote_write:\n  - url: {}\n    protobuf_message: io.prometheus.write.v2.Request\n    queue_config: {{batch_send_deadline: 10ms}}\n    metadata_config: {{send: false}}\n",
        receiver.url()
    ));
    let rw = RemoteWrite::new(options(dir.path()), metadata());
    rw.apply(&configs, &external).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    log.log(&[Record::Samples(vec![(0, 1, 1.0)])]).unwrap();
    log.log(&[Record::Samples(vec![(0, 2, 2.0)])]).unwrap();
    eventually("both samples as 1.0", Duration::from_secs(5), || {
        receiver.samples().len() == 2
    })
    .await;
    {
        let state = receiver.state.lock();
        assert_eq!(state.attempts, state.taken.len() + 1, "one 415, then 1.0");
        assert!(
            state
                .taken
                .iter()
                .all(|(h, _)| h["content-type"] == "application/x-protobuf")
        );
    }
    let m = rw.metrics();
    assert_eq!(
        metric(&m, "prometheus_remote_storage_samples_failed_total", &[]),
        0.0
    );
    rw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_state_directory_is_an_error_at_apply() {
    let dir = tempfile::tempdir().unwrap();
    let _log = wal(dir.path());
    std::fs::write(dir.path().join("remote-write"), "a file, not a directory").unwrap();
    let (configs, external) =
        remote_writes("remote_write:\n  - url: http://127.0.0.1:9/write\n    name: q\n");
    let rw = RemoteWrite::new(options(dir.path()), metadata());
    let err = rw.apply(&configs, &external).await.unwrap_err();
    assert!(
        err.starts_with(
            "remote_write q (http://127.0.0.1:9/write): saving the remote write position in "
        ),
        "{err}"
    );
    assert!(rw.metrics().is_empty());
}
