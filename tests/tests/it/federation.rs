//! Federation both ways against the reference: Debian's Prometheus (2.42)
//! and wasmetheus scrape the same targets (the fixture target and a
//! target whose exposition the test changes) and record the same rule;
//! each federates the other's series through `/federate` twice, once with
//! `honor_labels: true` and once without, with `match[]` selectors
//! including a regex and a `{job=~".+"}` one.
//!
//! Checked:
//! * both `/federate` answers for the same data are the same text: the
//!   same families and `# TYPE` lines, labels in Prometheus' order (a
//!   series' own, then the external labels it lacks, `instance=""` among
//!   them), values in Go's format (`1.234567e+06`, `1e-05`, `NaN`),
//!   escaped label values; samples older than the lookback and stale
//!   series left out;
//! * each side ends up with exactly the series and values the other's
//!   `/federate` answered, as Prometheus' scrape turns them into series:
//!   with `honor_labels` the exposed `job`/`instance` kept and a series
//!   answered with `instance=""` left without an instance; without it,
//!   `exported_job`, `exported_exported_job` and `exported_instance`;
//! * a series that goes away upstream is no longer federated, and its
//!   copies downstream stay current with their last timestamp on both
//!   (no stale marker for samples with their own timestamps);
//! * errors: no `match[]` (an empty answer, not an error: Prometheus has
//!   no check), a selector that does not parse, something that is not a
//!   selector, a bad `%` escape and a `;` in the query are the same
//!   status and text; a selector matching everything (`{job=~".*"}`) is
//!   taken by both; an oversized regex is a prompt 400 from ours.
//!
//! Prometheus 3.x's federation handler and `honor_labels` (`lset.Has`)
//! are 2.42's in all of this, and 3.x's `track_timestamps_staleness`
//! (off by default) keeps timestamped series free of stale markers too;
//! 3.x's exposition library may add an `escaping` parameter to the
//! `Content-Type`, so only 2.42's header is compared.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wasmetheus_model::Label;
use wasmetheus_tests::{
    PluginsDir, TestServer, fixture_target, free_port, http, start_prometheus, test_args,
    url_encode,
};

/// The changing target's exposition; `mutable_gone` is there until the
/// test removes it.
fn exposition(with_gone: bool) -> String {
    let mut text = String::from(
        "# TYPE mutable_value gauge\n\
         mutable_value{kind=\"big\"} 1234567\n\
         mutable_value{kind=\"small\"} 0.00001\n\
         mutable_value{kind=\"negative\"} -2.5\n\
         mutable_value{kind=\"zero\"} -0\n\
         mutable_value{kind=\"escaped\",note=\"a\\\"b\\\\c\\nd\"} 1\n\
         mutable_nan NaN\n",
    );
    if with_gone {
        text.push_str("mutable_gone 1\n");
    }
    text
}

/// A scrape target serving [`exposition`] at any path.
async fn mutable_target(with_gone: Arc<Mutex<bool>>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let with_gone = Arc::clone(&with_gone);
            tokio::spawn(async move {
                let mut request = vec![0u8; 8192];
                let _ = stream.read(&mut request).await;
                let body = exposition(*with_gone.lock().unwrap());
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    address
}

/// The `match[]` selectors both federation jobs ask for; `origin=""`
/// keeps series federated from the other side out (they carry its
/// external label `origin`).
const MATCHERS: [&str; 3] = [
    r#"{__name__=~"fixture_.+|mutable_.+",origin=""}"#,
    r#"{job=~".+",env="test",origin=""}"#,
    r#"{__name__=~"job:.+",origin=""}"#,
];

/// The configuration of one side: the two targets, the rule, and the two
/// federation jobs scraping `peer`.
fn config(origin: &str, fixture: SocketAddr, mutable: SocketAddr, peer: SocketAddr) -> String {
    let matchers: Vec<String> = MATCHERS.iter().map(|m| format!("'{m}'")).collect();
    let matchers = matchers.join(", ");
    format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n  external_labels: {{origin: {origin}, site: lab}}\n\
         rule_files: ['rules.yml']\n\
         scrape_configs:\n\
         \x20 - job_name: fixture\n    static_configs: [{{targets: ['{fixture}'], labels: {{env: test}}}}]\n\
         \x20 - job_name: mutable\n    static_configs: [{{targets: ['{mutable}']}}]\n\
         \x20 - job_name: fed-honor\n    honor_labels: true\n    metrics_path: /federate\n    params: {{'match[]': [{matchers}]}}\n    static_configs: [{{targets: ['{peer}']}}]\n\
         \x20 - job_name: fed-plain\n    metrics_path: /federate\n    params: {{'match[]': [{matchers}]}}\n    static_configs: [{{targets: ['{peer}']}}]\n"
    )
}

const RULES: &str = "groups:\n  - name: fed\n    interval: 1s\n    rules:\n      - record: job:fixture_requests:sum\n        expr: sum by (job) (fixture_requests_total{origin=\"\"})\n";

/// `GET path`: status, `Content-Type` and body (HTTP/1.0, read to the end).
async fn get(address: SocketAddr, path: &str) -> Option<(u16, String, String)> {
    let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.ok()?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let content_type = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    Some((status, content_type, body.to_owned()))
}

fn federate_path(matchers: &[&str]) -> String {
    let params: Vec<String> = matchers
        .iter()
        .map(|m| format!("match[]={}", url_encode(m)))
        .collect();
    format!("/federate?{}", params.join("&"))
}

/// Whether a series' value changes from scrape to scrape.
fn changing(name: &str) -> bool {
    matches!(name, "scrape_duration_seconds" | "scrape_series_added")
}

/// A value as compared: `_` where it changes between scrapes.
fn value_text(name: &str, v: f64) -> String {
    if changing(name) {
        "_".to_owned()
    } else if v.is_nan() {
        "NaN".to_owned()
    } else {
        format!("{v}")
    }
}

/// A `/federate` answer as comparable text: per family (in order) its
/// `# TYPE` line and its sample lines sorted (Prometheus sorts by name
/// only, unstably), without timestamps, the external label `origin`
/// written as `<origin>` and changing values as `_`. Also checks every
/// timestamp is within the lookback delta.
fn comparable(text: &str, origin: &str) -> Vec<(String, Vec<String>)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut families: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            families.push((line.to_owned(), Vec::new()));
            continue;
        }
        let (rest, t) = line.rsplit_once(' ').expect(line);
        let t: i64 = t.parse().expect(line);
        assert!(
            (now - 300_000..=now + 1_000).contains(&t),
            "{line}: not within the lookback delta"
        );
        let (series, value) = rest.rsplit_once(' ').expect(line);
        let name = series.split('{').next().unwrap();
        let value = if changing(name) { "_" } else { value };
        let series = series.replace(&format!("origin=\"{origin}\""), "origin=\"<origin>\"");
        families
            .last_mut()
            .expect("a sample line before any # TYPE")
            .1
            .push(format!("{series} {value}"));
    }
    for (_, lines) in &mut families {
        lines.sort();
    }
    families
}

/// A label set as one comparable string: name, then labels sorted by
/// name, empty values left out.
fn key(name: &str, labels: &[Label]) -> String {
    let mut labels: Vec<&Label> = labels.iter().filter(|l| !l.value.is_empty()).collect();
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    let pairs: Vec<String> = labels
        .iter()
        .map(|l| format!("{}={:?}", l.name, l.value))
        .collect();
    format!("{name}{{{}}}", pairs.join(","))
}

/// What Prometheus' scrape stores for a federated series answered with
/// `labels` (in the answer's order, `instance=""` included) by a target
/// with `instance`, in job `job`: its `mutateSampleLabels`.
fn scraped_labels(labels: &[Label], job: &str, instance: &str, honor: bool) -> Vec<Label> {
    let mut out: Vec<Label> = labels.to_vec();
    let get = |out: &[Label], name: &str| {
        out.iter()
            .find(|l| l.name == name)
            .map(|l| l.value.clone())
            .unwrap_or_default()
    };
    let set = |out: &mut Vec<Label>, name: &str, value: &str| {
        out.retain(|l| l.name != name);
        out.push(Label::new(name, value));
    };
    let target = [("instance", instance), ("job", job)];
    if honor {
        for (name, value) in target {
            if !out.iter().any(|l| l.name == name) {
                set(&mut out, name, value);
            }
        }
    } else {
        let mut conflicts = Vec::new();
        for (name, value) in target {
            let existing = get(&out, name);
            if !existing.is_empty() {
                conflicts.push((name.to_owned(), existing));
            }
            set(&mut out, name, value);
        }
        conflicts.sort_by_key(|(name, _)| name.len());
        for (name, value) in conflicts {
            let mut renamed = name;
            loop {
                renamed = format!("exported_{renamed}");
                if get(&out, &renamed).is_empty() {
                    set(&mut out, &renamed, &value);
                    break;
                }
            }
        }
    }
    out
}

/// What the federating side must hold for a source's `/federate` answer:
/// each series as both federation jobs store it, with its value.
fn expected(answer: &str, source: SocketAddr) -> BTreeMap<String, String> {
    let parsed = wasmetheus_model::text::parse(answer).expect("a federation answer parses");
    let mut out = BTreeMap::new();
    for s in &parsed.samples {
        for (job, honor) in [("fed-honor", true), ("fed-plain", false)] {
            let labels = scraped_labels(&s.labels, job, &source.to_string(), honor);
            out.insert(key(&s.name, &labels), value_text(&s.name, s.value));
        }
    }
    out
}

/// An instant query's vector: label set → value.
async fn vector(address: SocketAddr, query: &str) -> Option<BTreeMap<String, String>> {
    let (status, body) = http(
        address,
        "GET",
        &format!("/api/v1/query?query={}", url_encode(query)),
        &[],
    )
    .await;
    if status != 200 {
        return None;
    }
    let answer: serde_json::Value = serde_json::from_str(&body).ok()?;
    let mut out = BTreeMap::new();
    for s in answer["data"]["result"].as_array()? {
        let metric = s["metric"].as_object()?;
        let name = metric
            .get("__name__")
            .and_then(|n| n.as_str())
            .unwrap_or_default();
        let labels: Vec<Label> = metric
            .iter()
            .filter(|(n, _)| *n != "__name__")
            .map(|(n, v)| Label::new(n.as_str(), v.as_str().unwrap_or_default()))
            .collect();
        let value: f64 = s["value"][1].as_str()?.parse().ok()?;
        out.insert(key(name, &labels), value_text(name, value));
    }
    Some(out)
}

/// Polls until `check` holds, or panics after 30 s with its last answer.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match check().await {
            Ok(()) => return,
            Err(last) if std::time::Instant::now() > deadline => {
                panic!("timed out waiting for {what}; last: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// The side at `down` holds exactly what `up`'s `/federate` answers for
/// [`MATCHERS`], under its external label `origin="<origin>"`.
async fn holds_what_the_peer_federates(
    down: SocketAddr,
    up: SocketAddr,
    origin: &str,
) -> Result<(), String> {
    let (status, _, answer) = get(up, &federate_path(&MATCHERS))
        .await
        .ok_or("no answer")?;
    if status != 200 {
        return Err(format!("{status}: {answer}"));
    }
    let want = expected(&answer, up);
    // Copies of what is gone upstream stay current downstream for the
    // lookback delta (see part 3 of the test).
    let have = vector(
        down,
        &format!("{{origin=\"{origin}\",__name__!=\"mutable_gone\"}}"),
    )
    .await
    .ok_or("query failed")?;
    let want: BTreeMap<String, String> = want
        .into_iter()
        .filter(|(k, _)| !k.starts_with("mutable_gone{"))
        .collect();
    if want == have {
        Ok(())
    } else {
        let missing: Vec<_> = want
            .iter()
            .filter(|(k, _)| !have.contains_key(*k))
            .collect();
        let extra: Vec<_> = have
            .iter()
            .filter(|(k, _)| !want.contains_key(*k))
            .collect();
        let differing: Vec<_> = want
            .iter()
            .filter_map(|(k, v)| Some((k, v, have.get(k)?)).filter(|(_, v, h)| v != h))
            .collect();
        Err(format!(
            "missing: {missing:#?}\nunexpected: {extra:#?}\ndifferent values (want, have): {differing:#?}"
        ))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn federation_both_ways_with_prometheus() {
    let fixture = fixture_target().await;
    let with_gone = Arc::new(Mutex::new(true));
    let mutable = mutable_target(Arc::clone(&with_gone)).await;

    // wasmetheus first (its address is the kernel's choice), federating
    // from the Prometheus about to start on a known port.
    let prometheus_port = free_port();
    let prometheus: SocketAddr = format!("127.0.0.1:{prometheus_port}").parse().unwrap();
    let ours_dir = PluginsDir::new();
    std::fs::write(ours_dir.path().join("rules.yml"), RULES).unwrap();
    let ours_config = ours_dir.path().join("prometheus.yml");
    std::fs::write(
        &ours_config,
        config("wasmetheus", fixture, mutable, prometheus),
    )
    .unwrap();
    let ours_data = tempfile::tempdir().unwrap();
    let ours = TestServer::start(
        test_args(ours_dir.path(), Some(&ours_config), ours_data.path()),
        ours_data,
    )
    .await;
    let theirs_dir = PluginsDir::new();
    std::fs::write(theirs_dir.path().join("rules.yml"), RULES).unwrap();
    let theirs_config = theirs_dir.path().join("prometheus.yml");
    std::fs::write(
        &theirs_config,
        config("prometheus", fixture, mutable, ours.address),
    )
    .unwrap();
    let theirs_data = tempfile::tempdir().unwrap();
    let _prometheus = start_prometheus(&theirs_config, theirs_data.path(), prometheus_port, &[]);

    // 1. The same data, the same /federate text.
    let path = federate_path(&MATCHERS);
    until("the same /federate answers", || {
        let path = path.clone();
        async move {
            let (ps, pt, prom) = get(prometheus, &path).await.ok_or("Prometheus not up")?;
            let (os, ot, mine) = get(ours.address, &path).await.ok_or("no answer")?;
            if (ps, pt.as_str()) != (os, ot.as_str()) {
                return Err(format!("{ps} {pt} vs {os} {ot}"));
            }
            let (prom, mine) = (
                comparable(&prom, "prometheus"),
                comparable(&mine, "wasmetheus"),
            );
            // Both scraped everything and evaluated the rule at least once.
            let all = |f: &[(String, Vec<String>)]| {
                ["up", "mutable_gone", "job:fixture_requests:sum"]
                    .iter()
                    .all(|n| f.iter().any(|(t, _)| t == &format!("# TYPE {n} untyped")))
            };
            if prom == mine && all(&prom) {
                Ok(())
            } else {
                Err(format!("Prometheus: {prom:#?}\nwasmetheus: {mine:#?}"))
            }
        }
    })
    .await;
    // The details both agree on, spelled out.
    let (_, _, mine) = get(ours.address, &path).await.unwrap();
    for line in [
        "# TYPE mutable_nan untyped",
        &format!(
            "mutable_nan{{instance=\"{mutable}\",job=\"mutable\",origin=\"wasmetheus\",site=\"lab\"}} NaN "
        ),
        &format!(
            "mutable_value{{instance=\"{mutable}\",job=\"mutable\",kind=\"big\",origin=\"wasmetheus\",site=\"lab\"}} 1.234567e+06 "
        ),
        &format!(
            "mutable_value{{instance=\"{mutable}\",job=\"mutable\",kind=\"small\",origin=\"wasmetheus\",site=\"lab\"}} 1e-05 "
        ),
        &format!(
            "mutable_value{{instance=\"{mutable}\",job=\"mutable\",kind=\"escaped\",note=\"a\\\"b\\\\c\\nd\",origin=\"wasmetheus\",site=\"lab\"}} 1 "
        ),
        "job:fixture_requests:sum{job=\"fixture\",instance=\"\",origin=\"wasmetheus\",site=\"lab\"} 43 ",
    ] {
        assert!(mine.contains(line), "{line:?} not in\n{mine}");
    }
    // Older than the lookback delta: not federated.
    assert!(!mine.contains("fixture_temperature"), "{mine}");

    // 2. Each side holds what the other federates, both jobs.
    until("Prometheus holding what wasmetheus federates", || {
        holds_what_the_peer_federates(prometheus, ours.address, "wasmetheus")
    })
    .await;
    until("wasmetheus holding what Prometheus federates", || {
        holds_what_the_peer_federates(ours.address, prometheus, "prometheus")
    })
    .await;
    // Spelled out: the rule's series keeps no instance with honor_labels,
    // and the clashing job labels are exported without.
    for (down, up, origin) in [
        (prometheus, ours.address, "wasmetheus"),
        (ours.address, prometheus, "prometheus"),
    ] {
        let have = vector(down, &format!("{{origin=\"{origin}\"}}"))
            .await
            .unwrap();
        for (series, value) in [
            (
                format!(
                    "job:fixture_requests:sum{{job=\"fixture\",origin=\"{origin}\",site=\"lab\"}}"
                ),
                "43",
            ),
            (
                format!(
                    "job:fixture_requests:sum{{exported_job=\"fixture\",instance=\"{up}\",job=\"fed-plain\",origin=\"{origin}\",site=\"lab\"}}"
                ),
                "43",
            ),
            (
                format!(
                    "fixture_requests_total{{code=\"200\",env=\"test\",exported_job=\"inner\",instance=\"{fixture}\",job=\"fixture\",origin=\"{origin}\",site=\"lab\"}}"
                ),
                "42",
            ),
            (
                format!(
                    "fixture_requests_total{{code=\"200\",env=\"test\",exported_exported_job=\"fixture\",exported_instance=\"{fixture}\",exported_job=\"inner\",instance=\"{up}\",job=\"fed-plain\",origin=\"{origin}\",site=\"lab\"}}"
                ),
                "42",
            ),
        ] {
            assert_eq!(
                have.get(&series).map(String::as_str),
                Some(value),
                "{series} on {down}: {have:#?}"
            );
        }
    }

    // 3. A series gone upstream: stale there, so no longer federated;
    // downstream its copies get no stale marker (Prometheus writes none
    // for samples with their own timestamps, as federated ones are; 3.x's
    // `track_timestamps_staleness` is off by default), so they stay
    // current with their last timestamp until the lookback delta ends.
    *with_gone.lock().unwrap() = false;
    for up in [prometheus, ours.address] {
        until("mutable_gone no longer federated", || async move {
            let (_, _, answer) = get(up, &federate_path(&MATCHERS))
                .await
                .ok_or("no answer")?;
            (!answer.contains("mutable_gone"))
                .then_some(())
                .ok_or(format!("still federated by {up}"))
        })
        .await;
    }
    let frozen = |down: SocketAddr, origin: &'static str| async move {
        vector(
            down,
            &format!("timestamp(mutable_gone{{origin=\"{origin}\"}})"),
        )
        .await
        .unwrap()
    };
    // A federation scrape answered just before may still be appending, so
    // the copies count as frozen once two reads two federation scrapes
    // apart agree (a few tries on a loaded machine).
    let mut before = [
        frozen(prometheus, "wasmetheus").await,
        frozen(ours.address, "prometheus").await,
    ];
    let mut after;
    let mut tries = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(2000)).await;
        after = [
            frozen(prometheus, "wasmetheus").await,
            frozen(ours.address, "prometheus").await,
        ];
        tries += 1;
        if before == after || tries == 5 {
            break;
        }
        before = after.clone();
    }
    assert_eq!(before, after, "the copies kept changing over {tries} reads");
    for copies in &after {
        // Both jobs' copies, still current.
        assert_eq!(copies.len(), 2, "{after:#?}");
    }
    for (down, up, origin) in [
        (prometheus, ours.address, "wasmetheus"),
        (ours.address, prometheus, "prometheus"),
    ] {
        holds_what_the_peer_federates(down, up, origin)
            .await
            .unwrap_or_else(|e| panic!("after mutable_gone went away, on {down}: {e}"));
    }

    // 4. Errors: the same status, type and text.
    for query in [
        "",
        "?match[]=up%7B",
        "?match[]=rate(up%5B5m%5D)",
        "?match[]=up%7Bjob%3D%22a%22%7D%5B5m%5D",
        "?match[]=%zz",
        "?match[]=up&x=%4",
        "?a;b=1&match[]=up",
    ] {
        let path = format!("/federate{query}");
        let prom = get(prometheus, &path).await.unwrap();
        let mine = get(ours.address, &path).await.unwrap();
        assert_eq!(prom, mine, "{path}");
        assert!(query.is_empty() || prom.0 == 400, "{path}: {prom:?}");
    }
    // A selector matching every series is taken: both answer their own.
    let everything = format!("/federate?match[]={}", url_encode(r#"{job=~".*"}"#));
    for server in [prometheus, ours.address] {
        let (status, _, body) = get(server, &everything).await.unwrap();
        assert_eq!(status, 200, "{server}: {body}");
        assert!(body.contains("# TYPE up untyped"), "{server}: {body}");
    }
    // A regex too big to compile (a billion states): a prompt 400 saying
    // why. Not asked of Prometheus, whose Go may try to build it.
    let huge = format!(
        "/federate?match[]={}",
        url_encode(r#"{__name__=~"((a{1000}){1000}){1000}"}"#)
    );
    let started = std::time::Instant::now();
    let (status, _, body) = get(ours.address, &huge).await.unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("invalid regular expression"), "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    ours.stop().await;
}
