//! The remote read client against a fake remote on loopback: merging with
//! local series, `read_recent`, `required_matchers`,
//! `filter_external_labels`, streamed answers, failures and timeouts.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmetheus_model::Label;
use wasmetheus_model::storage::{MatchType, Matcher, Queryable, Storage};
use wasmetheus_prompb::remote::{ReadRequest, ResponseType};
use wasmetheus_remote::client::{ChunkDecoder, MergedQueryable, RemoteReadClient};
use wasmetheus_remote::read::{ChunkEncoder, ReadOptions, ReadServer};
use wasmetheus_tsdb::chunk::{ChunkIter, XorChunk};
use wasmetheus_tsdb::{Head, HeadLimits};

/// What the fake remote does with a request.
#[derive(Clone, Copy)]
enum Mode {
    /// Answers from its own head through the real read server.
    Serve,
    Fail,
    Hang,
}

/// A remote read endpoint on loopback serving `head`; it records the
/// requests it gets.
struct FakeRemote {
    address: std::net::SocketAddr,
    requests: Arc<Mutex<Vec<ReadRequest>>>,
}

async fn fake_remote(head: Arc<Head>, mode: Mode) -> FakeRemote {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    let server = Arc::new(ReadServer::new(ReadOptions::default(), Some(encoder())));
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let (head, seen, server) = (Arc::clone(&head), Arc::clone(&seen), Arc::clone(&server));
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let body = loop {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len: usize = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break buf[end + 4..end + 4 + len].to_vec();
                        }
                    }
                };
                let (req, kind) = server.decode(&body).unwrap();
                seen.lock().unwrap().push(req.clone());
                let (status, content_type, answer) = match mode {
                    Mode::Hang => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                    Mode::Fail => (500, "text/plain", b"storage on fire\n".to_vec()),
                    Mode::Serve if kind == ResponseType::Samples => (
                        200,
                        "application/x-protobuf",
                        server.sampled(&*head, &req, &[]).unwrap(),
                    ),
                    Mode::Serve => {
                        let mut out = Vec::new();
                        server
                            .streamed(&*head, &req, &[], &mut |f| {
                                out.extend(f);
                                true
                            })
                            .unwrap();
                        (200, wasmetheus_prompb::CONTENT_TYPE_STREAMED, out)
                    }
                };
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    answer.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&answer).await;
            });
        }
    });
    FakeRemote { address, requests }
}

fn encoder() -> ChunkEncoder {
    Arc::new(|samples: &[(i64, f64)]| {
        let mut c = XorChunk::new();
        for &(t, v) in samples {
            c.append(t, v).unwrap();
        }
        c.bytes().to_vec()
    })
}

fn decoder() -> ChunkDecoder {
    Arc::new(|data: &[u8]| {
        let n = data
            .get(..2)
            .map(|h| u16::from_be_bytes([h[0], h[1]]))
            .ok_or("short chunk")?;
        Ok(ChunkIter::new(data, n.into())
            .map_err(|e| e.to_string())?
            .collect())
    })
}

fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
    pairs.iter().map(|(n, v)| Label::new(*n, *v)).collect()
}

/// A series to store: label pairs and samples.
type Fixture<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

fn head_with(series: &[Fixture<'_>]) -> Arc<Head> {
    let head = Arc::new(Head::new(HeadLimits::default()));
    let mut app = Storage::appender(&*head);
    for (ls, samples) in series {
        for &(t, v) in *samples {
            app.append(&labels(ls), t, v).unwrap();
        }
    }
    app.commit().unwrap();
    drop(app);
    head
}

fn config(yaml: &str) -> wasmetheus_config::RemoteReadConfig {
    let config = wasmetheus_config::Config::parse(yaml, std::path::Path::new("test.yml")).unwrap();
    config.remote_read[0].clone()
}

fn merged(local: Arc<Head>, clients: Vec<RemoteReadClient>, local_start: i64) -> MergedQueryable {
    MergedQueryable::new(
        local,
        clients.into_iter().map(Arc::new).collect(),
        tokio::runtime::Handle::current(),
        Arc::new(move || local_start),
    )
}

/// Selects on a blocking thread, as the API and the rules do.
async fn select(
    q: Arc<MergedQueryable>,
    matchers: Vec<Matcher>,
    start: i64,
    end: i64,
) -> Result<Vec<(Vec<Label>, Vec<(i64, f64)>)>, String> {
    tokio::task::spawn_blocking(move || {
        q.select(&matchers, start, end)
            .map(|s| s.into_iter().map(|s| (s.labels, s.samples)).collect())
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap()
}

fn name(value: &str) -> Matcher {
    Matcher::equal("__name__", value)
}

#[tokio::test(flavor = "multi_thread")]
async fn remote_series_merge_with_local_ones() {
    let local = head_with(&[(
        &[("__name__", "up"), ("job", "a")],
        &[(1000, 1.0), (2000, 2.0)],
    )]);
    let remote_head = head_with(&[
        (
            &[("__name__", "up"), ("job", "a")],
            &[(2000, 20.0), (3000, 3.0)],
        ),
        (&[("__name__", "up"), ("job", "b")], &[(1000, 7.0)]),
    ]);
    for streamed in [false, true] {
        let remote = fake_remote(Arc::clone(&remote_head), Mode::Serve).await;
        let client = RemoteReadClient::new(
            &config(&format!(
                "remote_read:\n  - url: http://{}/api/v1/read\n    read_recent: true\n",
                remote.address
            )),
            0,
            &[],
            streamed.then(decoder),
        )
        .unwrap();
        let q = Arc::new(merged(Arc::clone(&local), vec![client], 0));
        let got = select(q, vec![name("up")], 0, 10_000).await.unwrap();
        assert_eq!(
            got,
            vec![
                // The local sample wins at 2000.
                (
                    labels(&[("__name__", "up"), ("job", "a")]),
                    vec![(1000, 1.0), (2000, 2.0), (3000, 3.0)]
                ),
                (
                    labels(&[("__name__", "up"), ("job", "b")]),
                    vec![(1000, 7.0)]
                ),
            ],
            "streamed: {streamed}"
        );
        let req = remote.requests.lock().unwrap()[0].clone();
        assert_eq!(
            req.accepted_response_types.first() == Some(&(ResponseType::StreamedXorChunks as i32)),
            streamed
        );
        assert_eq!(
            (
                req.queries[0].start_timestamp_ms,
                req.queries[0].end_timestamp_ms
            ),
            (0, 10_000)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn read_recent_and_required_matchers_decide_who_is_asked() {
    let local = head_with(&[]);
    let remote_head = head_with(&[(&[("__name__", "up"), ("job", "a")], &[(5000, 1.0)])]);
    let remote = fake_remote(remote_head, Mode::Serve).await;
    let url = format!("http://{}/api/v1/read", remote.address);
    let not_recent = RemoteReadClient::new(
        &config(&format!("remote_read:\n  - url: {url}\n")),
        0,
        &[],
        None,
    )
    .unwrap();
    // Local data from 4000 on: a selection from 4500 is local only, one
    // from 3000 asks the remote.
    let q = Arc::new(merged(Arc::clone(&local), vec![not_recent], 4000));
    assert!(
        select(Arc::clone(&q), vec![name("up")], 4500, 6000)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(remote.requests.lock().unwrap().len(), 0);
    assert_eq!(
        select(q, vec![name("up")], 3000, 6000).await.unwrap().len(),
        1
    );
    assert_eq!(remote.requests.lock().unwrap().len(), 1);

    let required = RemoteReadClient::new(
        &config(&format!("remote_read:\n  - url: {url}\n    read_recent: true\n    required_matchers: {{job: a}}\n")),
        0,
        &[],
        None,
    )
    .unwrap();
    let q = Arc::new(merged(local, vec![required], 0));
    assert!(
        select(Arc::clone(&q), vec![name("up")], 0, 6000)
            .await
            .unwrap()
            .is_empty()
    );
    let regex = Matcher::new(MatchType::Regex, "job", "a").unwrap();
    assert!(
        select(Arc::clone(&q), vec![name("up"), regex], 0, 6000)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        remote.requests.lock().unwrap().len(),
        1,
        "not asked without job=\"a\""
    );
    let got = select(q, vec![name("up"), Matcher::equal("job", "a")], 0, 6000)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn external_labels_are_sent_as_matchers_and_removed() {
    let local = head_with(&[]);
    let remote_head = head_with(&[
        (&[("__name__", "up"), ("region", "eu")], &[(1000, 1.0)]),
        (&[("__name__", "up"), ("region", "us")], &[(1000, 2.0)]),
    ]);
    let remote = fake_remote(remote_head, Mode::Serve).await;
    let url = format!("http://{}/api/v1/read", remote.address);
    let external = labels(&[("region", "eu")]);
    let filtering = RemoteReadClient::new(
        &config(&format!(
            "remote_read:\n  - url: {url}\n    read_recent: true\n"
        )),
        0,
        &external,
        None,
    )
    .unwrap();
    let q = Arc::new(merged(Arc::clone(&local), vec![filtering], 0));
    let got = select(q, vec![name("up")], 0, 2000).await.unwrap();
    assert_eq!(
        got,
        vec![(labels(&[("__name__", "up")]), vec![(1000, 1.0)])]
    );
    let sent = remote.requests.lock().unwrap()[0].queries[0]
        .matchers
        .clone();
    assert!(
        sent.iter()
            .any(|m| m.name == "region" && m.value == "eu" && m.r#type == 0),
        "{sent:?}"
    );

    let plain = RemoteReadClient::new(
        &config(&format!("remote_read:\n  - url: {url}\n    read_recent: true\n    filter_external_labels: false\n")),
        0,
        &external,
        None,
    )
    .unwrap();
    let q = Arc::new(merged(local, vec![plain], 0));
    assert_eq!(select(q, vec![name("up")], 0, 2000).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_or_hanging_remote_fails_the_selection() {
    let local = head_with(&[(&[("__name__", "up")], &[(1000, 1.0)])]);
    let failing = fake_remote(head_with(&[]), Mode::Fail).await;
    let client = RemoteReadClient::new(
        &config(&format!("remote_read:\n  - url: http://{}/api/v1/read\n    name: broken\n    read_recent: true\n", failing.address)),
        0,
        &[],
        None,
    )
    .unwrap();
    let q = Arc::new(merged(Arc::clone(&local), vec![client], 0));
    let e = select(Arc::clone(&q), vec![name("up")], 0, 2000)
        .await
        .unwrap_err();
    // Counted by status code, with Prometheus' names and labels.
    let families = q.families();
    assert_eq!(
        families[0].name,
        "prometheus_remote_storage_remote_read_queries_total"
    );
    let m = &families[0].metrics[0];
    assert_eq!(
        m.labels,
        labels(&[
            ("code", "500"),
            ("remote_name", "broken"),
            ("url", &format!("http://{}/api/v1/read", failing.address))
        ])
    );
    assert_eq!(m.value, wasmetheus_model::MetricValue::Number(1.0));
    assert_eq!(
        families[1].metrics[0].value,
        wasmetheus_model::MetricValue::Number(0.0),
        "none in flight"
    );
    assert!(
        e.starts_with(&format!(
            "remote_read: broken: remote server http://{}/api/v1/read returned HTTP status 500",
            failing.address
        )),
        "{e}"
    );
    assert!(e.contains("storage on fire"), "{e}");

    let hanging = fake_remote(head_with(&[]), Mode::Hang).await;
    let client = RemoteReadClient::new(
        &config(&format!("remote_read:\n  - url: http://{}/api/v1/read\n    read_recent: true\n    remote_timeout: 300ms\n", hanging.address)),
        3,
        &[],
        None,
    )
    .unwrap();
    let q = Arc::new(merged(local, vec![client], 0));
    let started = std::time::Instant::now();
    let e = select(q, vec![name("up")], 0, 2000).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(e.contains("remote_read: 3: request timed out"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn oversize_answers_are_refused() {
    let many: Vec<(i64, f64)> = (0..5000).map(|i| (i, i as f64)).collect();
    let remote = fake_remote(head_with(&[(&[("__name__", "big")], &many)]), Mode::Serve).await;
    let client = RemoteReadClient::new(
        &config(&format!("remote_read:\n  - url: http://{}/api/v1/read\n    read_recent: true\n    chunked_read_limit: 2048\n", remote.address)),
        0,
        &[],
        None,
    )
    .unwrap();
    let q = Arc::new(merged(head_with(&[]), vec![client], 0));
    let e = select(q, vec![name("big")], 0, 10_000).await.unwrap_err();
    assert!(e.contains("limit"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_read_sample_limit_names_the_remote() {
    let many: Vec<(i64, f64)> = (0..3000).map(|i| (i, i as f64)).collect();
    let remote_head = head_with(&[
        (&[("__name__", "big"), ("i", "1")], &many),
        (&[("__name__", "big"), ("i", "2")], &many),
    ]);
    for streamed in [false, true] {
        let remote = fake_remote(Arc::clone(&remote_head), Mode::Serve).await;
        let client = |limit: usize| {
            RemoteReadClient::new(
                &config(&format!(
                    "remote_read:\n  - url: http://{}/api/v1/read\n    name: far\n    read_recent: true\n",
                    remote.address
                )),
                0,
                &[],
                streamed.then(decoder),
            )
            .unwrap()
            .with_sample_limit(limit)
        };
        // 6,000 samples: within a limit of 6,000, over one of 5,000.
        let q = Arc::new(merged(head_with(&[]), vec![client(6000)], 0));
        let series = select(q, vec![name("big")], 0, 10_000).await.unwrap();
        assert_eq!(series.iter().map(|s| s.1.len()).sum::<usize>(), 6000);
        let q = Arc::new(merged(head_with(&[]), vec![client(5000)], 0));
        let e = select(q, vec![name("big")], 0, 10_000).await.unwrap_err();
        assert!(
            e.contains("remote_read: far: the answer holds more than 5000 samples"),
            "streamed {streamed}: {e}"
        );
    }
}
