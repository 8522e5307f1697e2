//! The built-in Pushgateway against Debian's `prometheus-pushgateway`
//! (1.5): the same pushes (text and protobuf; PUT, POST, DELETE; base64
//! grouping keys; invalid and inconsistent pushes) go to both, and the
//! status codes, the reasons, the groups of `/api/v1/metrics` and the
//! exposed series must agree; wasmetheus' pushed series are ingested with
//! the pushed `job`/`instance` labels, a deleted group's series end at
//! once, the groups survive a restart, and without
//! `--web.enable-pushgateway` there are no push routes.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;
use wasmetheus_prompb::client::{Gauge, Metric, MetricFamily, MetricType};
use wasmetheus_tests::{
    KillOnDrop, PluginsDir, TestServer, eventually, free_port, http, test_args, url_encode,
};

const PUSHGATEWAY: &str = "/usr/bin/prometheus-pushgateway";
const PROTOBUF: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// An HTTP/1.0 request with a binary body: `(status, body)`.
async fn send(
    address: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.0\r\nHost: {address}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !content_type.is_empty() {
        request.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    stream.write_all(&bytes).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = (head.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

/// One push of the sequence.
struct Step {
    method: &'static str,
    path: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
    /// The status both must answer.
    status: u16,
}

fn text(method: &'static str, path: &'static str, body: &str, status: u16) -> Step {
    Step {
        method,
        path,
        content_type: "",
        body: body.as_bytes().to_vec(),
        status,
    }
}

fn protobuf_body() -> Vec<u8> {
    let family = MetricFamily {
        name: Some("pb_gauge".into()),
        help: Some("Pushed as protobuf.".into()),
        r#type: Some(MetricType::Gauge as i32),
        metric: vec![Metric {
            label: vec![wasmetheus_prompb::client::LabelPair {
                name: Some("kind".into()),
                value: Some("binary".into()),
            }],
            gauge: Some(Gauge { value: Some(2.5) }),
            ..Metric::default()
        }],
        unit: None,
    };
    let mut body = Vec::new();
    wasmetheus_prompb::codec::put_delimited(&family, &mut body);
    body
}

/// A family without a type (a counter to Go) holding an untyped value.
fn untyped_without_type() -> Vec<u8> {
    let family = MetricFamily {
        name: Some("no_type".into()),
        metric: vec![Metric {
            untyped: Some(wasmetheus_prompb::client::Untyped { value: Some(1.0) }),
            ..Metric::default()
        }],
        ..MetricFamily::default()
    };
    let mut body = Vec::new();
    wasmetheus_prompb::codec::put_delimited(&family, &mut body);
    body
}

fn steps() -> Vec<Step> {
    let histogram = "# HELP h A histogram.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\n";
    let protobuf = protobuf_body();
    vec![
        text(
            "PUT",
            "/metrics/job/j1/instance/i1",
            "# HELP m A gauge.\n# TYPE m gauge\nm{job=\"other\",a=\"x\"} 1\n# TYPE c counter\nc 5\nu 1\n",
            200,
        ),
        // POST replaces `m` only.
        text(
            "POST",
            "/metrics/job/j1/instance/i1",
            "# TYPE m gauge\nm{a=\"y\"} 2\n",
            200,
        ),
        text("POST", "/metrics/job/j2", "m{a=\"y\"} 2 1234\n", 400),
        text(
            "POST",
            "/metrics/job/j3",
            "# TYPE m counter\nm{a=\"z\"} 2\n",
            400,
        ),
        text(
            "POST",
            "/metrics/job/j4",
            "# TYPE d gauge\nd{a=\"y\"} 2\nd{a=\"y\"} 3\n",
            400,
        ),
        text("POST", "/metrics/job/j5/__x/y", "d 1\n", 400),
        text("POST", "/metrics/job/j6/x", "d 1\n", 400),
        text("POST", "/metrics/job/j6/x/y/", "d 1\n", 400),
        // `%2F` is a `/` before the path is split, as in Go.
        text("POST", "/metrics/job/a%2Fb", "d 1\n", 400),
        text("POST", "/metrics/job/j6/x@base64/Pz8+", "d 1\n", 400),
        text("POST", "/metrics/job/j6/x@base64/YQ=a", "d 1\n", 400),
        text(
            "PUT",
            "/metrics/job@base64/ajc/x@base64/YS9i",
            histogram,
            200,
        ),
        text("PUT", "/metrics/job/j9/e/", "g 1\n", 200),
        Step {
            method: "PUT",
            path: "/metrics/job/pb/instance/p1",
            content_type: PROTOBUF,
            body: protobuf.clone(),
            status: 200,
        },
        Step {
            method: "PUT",
            path: "/metrics/job/pb2",
            content_type: PROTOBUF,
            body: protobuf[..protobuf.len() - 3].to_vec(),
            status: 400,
        },
        Step {
            method: "PUT",
            path: "/metrics/job/pb3",
            content_type: PROTOBUF,
            body: untyped_without_type(),
            status: 400,
        },
        text("POST", "/metrics/job/j10", "bad line\n", 400),
        text(
            "POST",
            "/metrics/job/q1",
            "# TYPE q summary\nq_sum 1\nq_count 1\n",
            200,
        ),
        text(
            "POST",
            "/metrics/job/q2",
            "# TYPE q_count gauge\nq_count 1\n",
            400,
        ),
        text("PUT", "/metrics/job/j11", "k 1\n", 200),
        // An empty PUT empties the group; it stays with its push times.
        text("PUT", "/metrics/job/j11", "", 200),
        text("DELETE", "/metrics/job/j9/e@base64/=", "", 202),
        text("DELETE", "/metrics/job/none", "", 202),
        text("GET", "/metrics/job/j1", "", 405),
    ]
}

/// What two answers to an invalid push must share: an invalid grouping
/// key's or framing's reason word for word; an inconsistent push's kind
/// of inconsistency; a text parsing error's line.
fn gist(body: &str) -> (String, Vec<&'static str>) {
    let head = if body.starts_with("text format parsing error in line") {
        body.split(':').next().unwrap_or_default()
    } else if body.starts_with("pushed metrics are invalid") {
        // Go meets groups and families in random order: which of two
        // colliding series or families is named first varies.
        body.split(':').next().unwrap_or_default()
    } else {
        // Grouping keys and framing: word for word.
        body
    };
    let kinds = [
        "must not have timestamps",
        "is not a",
        "was collected before",
        "collides with",
        "has a label with an invalid name",
    ]
    .into_iter()
    .filter(|k| body.contains(k))
    .collect();
    (head.trim().to_owned(), kinds)
}

/// `/api/v1/metrics` without what differs by nature (push times, the
/// times of pushes): per group, its labels, `last_push_successful`, and
/// each family's type, help and metrics, push times as `0` or `T`.
fn groups(answer: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for group in answer["data"].as_array().unwrap() {
        let group = group.as_object().unwrap();
        let labels = group["labels"].to_string();
        out.insert(format!(
            "{labels} last_push_successful={}",
            group["last_push_successful"]
        ));
        for (name, family) in group {
            if name == "labels" || name == "last_push_successful" {
                continue;
            }
            let push_time = name.starts_with("push_");
            let mut metrics: Vec<String> = family["metrics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    let mut m = m.clone();
                    if push_time {
                        let zero = m["value"] == "0";
                        m["value"] = Value::from(if zero { "0" } else { "T" });
                    }
                    m.to_string()
                })
                .collect();
            metrics.sort();
            out.insert(format!(
                "{labels} {name} type={} help={} metrics={metrics:?}",
                family["type"], family["help"]
            ));
        }
    }
    out
}

/// A series as `name{labels} value`, empty labels left out, push times
/// as `0` or `T`.
fn series_line(name: &str, labels: &BTreeMap<String, String>, value: f64) -> String {
    let labels: Vec<String> = (labels.iter())
        .filter(|(k, v)| !v.is_empty() && *k != "__name__")
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    let value = if name.starts_with("push_") && value != 0.0 {
        "T".to_owned()
    } else {
        value.to_string()
    };
    format!("{name}{{{}}} {value}", labels.join(","))
}

/// The Debian gateway's exposition without its own metrics.
async fn exposed(address: SocketAddr) -> BTreeSet<String> {
    let (status, body) = http(address, "GET", "/metrics", &[]).await;
    assert_eq!(status, 200);
    let exposition = wasmetheus_model::text::parse(&body).unwrap();
    exposition
        .samples
        .iter()
        .filter(|s| {
            !["go_", "process_", "pushgateway_", "promhttp_"]
                .iter()
                .any(|p| s.name.starts_with(p))
        })
        .map(|s| {
            let labels = (s.labels.iter())
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect();
            series_line(&s.name, &labels, s.value)
        })
        .collect()
}

/// Our ingested series of the pushed groups (every job but our own and
/// the gateway target's synthetic series).
async fn ingested(address: SocketAddr) -> BTreeSet<String> {
    let query = url_encode("{__name__=~\".+\",job!~\"wasmetheus|pushgateway\"}");
    let (status, body) = http(address, "GET", &format!("/api/v1/query?query={query}"), &[]).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    answer["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let labels: BTreeMap<String, String> =
                serde_json::from_value(r["metric"].clone()).unwrap();
            let value: f64 = r["value"][1].as_str().unwrap().parse().unwrap();
            series_line(&labels["__name__"], &labels, value)
        })
        .collect()
}

async fn metrics_json(address: SocketAddr) -> Value {
    let (status, body) = http(address, "GET", "/api/v1/metrics", &[]).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn start_debian(port: u16, dir: &std::path::Path) -> KillOnDrop {
    assert!(
        std::path::Path::new(PUSHGATEWAY).exists(),
        "{PUSHGATEWAY} not found: install the Debian package prometheus-pushgateway"
    );
    KillOnDrop(
        Command::new(PUSHGATEWAY)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-admin-api")
            .arg(format!(
                "--persistence.file={}",
                dir.join("persisted").display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {PUSHGATEWAY}: {e}")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_agree_with_debian_pushgateway_are_ingested_and_persist() {
    let peer_dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _peer = start_debian(port, peer_dir.path());
    let theirs: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    eventually(
        Duration::from_secs(20),
        "the Debian Pushgateway",
        || async {
            std::net::TcpStream::connect(theirs).ok()?;
            (http(theirs, "GET", "/-/ready", &[]).await.0 == 200).then_some(())
        },
    )
    .await;

    let plugins = PluginsDir::new();
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("prometheus.yml");
    std::fs::write(
        &config,
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n",
    )
    .unwrap();
    let args = |pushgateway: bool| {
        let mut args = test_args(plugins.path(), Some(&config), data.path());
        args.web.enable_pushgateway = pushgateway;
        args
    };
    let storage = tempfile::tempdir().unwrap();
    let mut first = args(true);
    first.storage_path = storage.path().to_owned();
    let ours = TestServer::start(first, tempfile::tempdir().unwrap()).await;

    for step in steps() {
        let mut answers = Vec::new();
        for address in [theirs, ours.address] {
            answers.push(
                send(
                    address,
                    step.method,
                    step.path,
                    step.content_type,
                    &step.body,
                )
                .await,
            );
        }
        let (theirs_answer, ours_answer) = (&answers[0], &answers[1]);
        let what = format!("{} {}", step.method, step.path);
        assert_eq!(
            theirs_answer.0, step.status,
            "Debian, {what}: {}",
            theirs_answer.1
        );
        assert_eq!(
            ours_answer.0, step.status,
            "wasmetheus, {what}: {}",
            ours_answer.1
        );
        if step.status == 400 {
            assert_eq!(
                gist(&ours_answer.1),
                gist(&theirs_answer.1),
                "{what}: {} vs {}",
                ours_answer.1,
                theirs_answer.1
            );
        }
    }

    // The same groups, families and metrics.
    let before = groups(&metrics_json(ours.address).await);
    assert_eq!(before, groups(&metrics_json(theirs).await));
    assert!(
        before.iter().any(|g| g.contains("\"x\":\"a/b\"")),
        "{before:#?}"
    );

    // The same series, ingested with the pushed job and instance (none
    // where the group has none), the deleted group's gone at once.
    let wanted = exposed(theirs).await;
    assert!(
        wanted.contains("m{a=\"y\",instance=\"i1\",job=\"j1\"} 2"),
        "{wanted:#?}"
    );
    assert!(
        wanted.contains("pb_gauge{instance=\"p1\",job=\"pb\",kind=\"binary\"} 2.5"),
        "{wanted:#?}"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let got = ingested(ours.address).await;
        if got == wanted || std::time::Instant::now() > deadline {
            assert_eq!(got, wanted, "ingested vs the Debian gateway's exposition");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The target is listed.
    let (_, targets) = http(ours.address, "GET", "/api/v1/targets", &[]).await;
    assert!(
        targets.contains("\"scrapePool\":\"pushgateway\""),
        "{targets}"
    );

    // A deleted group's series end at the next scrape, not 5m later.
    let (status, _) = send(
        ours.address,
        "DELETE",
        "/metrics/job/pb/instance/p1",
        "",
        b"",
    )
    .await;
    assert_eq!(status, 202);
    eventually(
        Duration::from_secs(20),
        "the deleted group's series to end",
        || async {
            let now = ingested(ours.address).await;
            (!now.iter().any(|s| s.contains("job=\"pb\""))).then_some(())
        },
    )
    .await;
    let expected_after_delete = groups(&metrics_json(ours.address).await);

    // Without the flag: no push routes, the groups stay on disk.
    let stored = ours.stop().await;
    let mut plain = args(false);
    plain.storage_path = storage.path().to_owned();
    let without = TestServer::start(plain, stored).await;
    let (status, _) = send(without.address, "PUT", "/metrics/job/x", "", b"a 1\n").await;
    assert_eq!(status, 404);
    assert_eq!(
        http(without.address, "GET", "/api/v1/metrics", &[]).await.0,
        404
    );
    let stored = without.stop().await;

    // Restarted with it: the groups are back, and ingested again.
    let mut again = args(true);
    again.storage_path = storage.path().to_owned();
    let restarted = TestServer::start(again, stored).await;
    assert_eq!(
        groups(&metrics_json(restarted.address).await),
        expected_after_delete
    );
    eventually(
        Duration::from_secs(30),
        "the restored groups ingested",
        || async {
            let now = ingested(restarted.address).await;
            now.contains("m{a=\"y\",instance=\"i1\",job=\"j1\"} 2")
                .then_some(())
        },
    )
    .await;

    // Wiped on both: no groups, and the ingested series end.
    for address in [theirs, restarted.address] {
        assert_eq!(
            send(address, "PUT", "/api/v1/admin/wipe", "", b"").await.0,
            202
        );
        assert_eq!(metrics_json(address).await["data"], serde_json::json!([]));
    }
    eventually(
        Duration::from_secs(20),
        "the wiped groups' series to end",
        || async { ingested(restarted.address).await.is_empty().then_some(()) },
    )
    .await;
    restarted.stop().await;
}
