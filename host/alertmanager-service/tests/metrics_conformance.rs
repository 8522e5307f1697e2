//! Our `alertmanager_*` families beside Debian's Alertmanager 0.25 on
//! the same configuration: each family we expose exists there with the
//! same type, help text and label names, and the configuration's hash is
//! the same value.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{Setup, plugins};

/// Per family: (type, help, label names) from an exposition's text.
type Exposed = BTreeMap<String, (String, String, BTreeSet<String>)>;

fn parse_exposition(text: &str) -> Exposed {
    let mut out = Exposed::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            out.entry(name.to_owned()).or_default().1 = help.to_owned();
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            out.entry(name.to_owned()).or_default().0 = kind.to_owned();
        } else if !line.starts_with('#') && !line.is_empty() {
            let series = line.split(' ').next().unwrap_or("");
            let (name, labels) = series.split_once('{').unwrap_or((series, ""));
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    name.strip_suffix(s)
                        .filter(|base| out.get(*base).is_some_and(|f| f.0 == "histogram"))
                })
                .unwrap_or(name);
            let names: BTreeSet<String> = labels
                .trim_end_matches('}')
                .split(',')
                .filter_map(|kv| kv.split_once('=').map(|(k, _)| k.to_owned()))
                .filter(|k| k != "le")
                .collect();
            if let Some(f) = out.get_mut(family) {
                f.2.extend(names);
            }
        }
    }
    out
}

async fn scrape(port: u16) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.ok()?;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    answer
        .starts_with("HTTP/1.0 200")
        .then(|| answer.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()))
        .flatten()
}

/// POSTs `body` to `/api/v2/alerts`; the answer's status.
async fn post_alerts(port: u16, body: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connected");
    let request = format!(
        "POST /api/v2/alerts HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("sent");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("answered");
    String::from_utf8_lossy(&answer)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The value of one series line (`name{labels}`) of an exposition.
fn value_of(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// Two valid alerts (one firing, one resolved) and two invalid ones (no
/// labels; an end before the start).
const MIXED_ALERTS: &str = r#"[
 {"labels": {"alertname": "A"}},
 {"labels": {"alertname": "B"}, "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2020-01-01T00:01:00Z"},
 {"labels": {}},
 {"labels": {"alertname": "C"}, "startsAt": "2020-01-02T00:00:00Z", "endsAt": "2020-01-01T00:00:00Z"}
]"#;

const COUNTED: [&str; 3] = [
    "alertmanager_alerts_received_total{status=\"firing\",version=\"v2\"}",
    "alertmanager_alerts_received_total{status=\"resolved\",version=\"v2\"}",
    "alertmanager_alerts_invalid_total{version=\"v2\"}",
];

#[tokio::test(flavor = "multi_thread")]
async fn families_match_alertmanager_0_25() {
    let setup = Setup::new();
    setup.install(&plugins().webhook, "webhook");
    let config = "route:\n  receiver: a\nreceivers:\n- name: a\n  webhook_configs:\n  - url: http://127.0.0.1:1/\n";
    setup.write_config(config);
    let (mut child, port) =
        common::start_debian_alertmanager(&setup.config_file(), &setup.dir.path().join("upstream"));
    let mut text = None;
    for _ in 0..100 {
        text = scrape(port).await;
        if text.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = text.expect("Debian's Alertmanager did not serve /metrics");
    let upstream = parse_exposition(&text);
    let upstream_answer = post_alerts(port, MIXED_ALERTS).await;
    let counted_text = scrape(port).await.expect("/metrics after the POST");
    let upstream_counted: Vec<Option<f64>> =
        COUNTED.iter().map(|s| value_of(&counted_text, s)).collect();
    let _ = child.kill().await;
    let upstream_hash: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("alertmanager_config_hash "))
        .and_then(|v| v.trim().parse().ok())
        .expect("the upstream configuration hash");

    let service = setup.start().await.unwrap();
    let families = service.metrics();
    let mut compared = 0;
    for f in &families {
        if !f.name.starts_with("alertmanager_") {
            assert!(f.name.starts_with("wasmetheus_"), "{}", f.name);
            continue;
        }
        let (kind, help, labels) = upstream
            .get(&f.name)
            .unwrap_or_else(|| panic!("Alertmanager 0.25 has no {}", f.name));
        assert_eq!(f.kind.as_str(false), kind, "type of {}", f.name);
        assert_eq!(&f.help, help, "help of {}", f.name);
        let ours: BTreeSet<String> = f
            .metrics
            .iter()
            .flat_map(|m| m.labels.iter().map(|l| l.name.clone()))
            .collect();
        assert_eq!(&ours, labels, "label names of {}", f.name);
        compared += 1;
    }
    assert!(compared >= 15, "only {compared} families compared");
    let ours = families
        .iter()
        .find(|f| f.name == "alertmanager_config_hash")
        .map(|f| &f.metrics[0].value);
    assert_eq!(
        ours,
        Some(&wasmetheus_model::MetricValue::Number(upstream_hash))
    );
    // The same POST through our API: the same answer and counts, the
    // rejected alerts included.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let our_port = listener.local_addr().unwrap().port();
    let app = wasmetheus_api::router_v2(service.backend());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    assert_eq!(post_alerts(our_port, MIXED_ALERTS).await, upstream_answer);
    let mut ours_text = String::new();
    wasmetheus_model::text::encode(&service.metrics(), &mut ours_text);
    let ours_counted: Vec<Option<f64>> = COUNTED.iter().map(|s| value_of(&ours_text, s)).collect();
    assert_eq!(ours_counted, upstream_counted, "{COUNTED:?}");
    assert_eq!(upstream_counted[2], Some(2.0));
    server.abort();
    service.shutdown().await;
}
