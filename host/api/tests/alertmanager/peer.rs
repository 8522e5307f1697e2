//! Against the reference: Debian's Alertmanager 0.25, started on a free
//! port with clustering off, and `router_v2` on the fake backend get the
//! same requests; the answers must have the same status, framing, JSON
//! keys and value formats (times with milliseconds, 16-digit
//! fingerprints), and the same error texts where both come from the same
//! check. Differences of 0.34 (which we follow) from 0.25 are named where
//! they are taken out of the comparison.
//!
//! This spawns a process, which the workspace's other peer tests do from
//! `tests/tests/it/` (with `wasmetheus_tests`' helpers); it lives here
//! because only this crate's router is needed. It belongs in
//! `tests/tests/it/` once the server mounts `router_v2`, comparing the
//! server's answers instead of the fake's.

use super::{fake, send};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.0 exchange (Go answers 1.0 without chunking and closes).
fn http(address: SocketAddr, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// A JSON value's skeleton: object keys with their values' skeletons,
/// an array as its first element's, strings by format.
fn shape(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}:{}", shape(v)))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => match items.first() {
            Some(first) => format!("[{}]", shape(first)),
            None => "[]".to_owned(),
        },
        Value::String(s) => {
            let time = s.len() == 24
                && s.ends_with('Z')
                && s.as_bytes()[19] == b'.'
                && s.parse::<jiff::Timestamp>().is_ok();
            let fingerprint = s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit());
            if time {
                "time".to_owned()
            } else if fingerprint {
                "fingerprint".to_owned()
            } else {
                "string".to_owned()
            }
        }
        Value::Number(_) => "number".to_owned(),
        Value::Bool(_) => "bool".to_owned(),
        Value::Null => "null".to_owned(),
    }
}

/// Takes `mutedBy` out of every alert status: 0.34 has it, 0.25 not.
fn without_muted_by(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("mutedBy");
            map.values_mut().for_each(without_muted_by);
        }
        Value::Array(items) => items.iter_mut().for_each(without_muted_by),
        _ => {}
    }
}

/// A 405's list of allowed methods sorted: go-swagger lists them in map
/// order, which varies between answers.
fn sort_allowed(body: &str) -> String {
    let Some((head, rest)) = body.split_once(", but [") else {
        return body.to_owned();
    };
    let Some((list, tail)) = rest.split_once(']') else {
        return body.to_owned();
    };
    let mut methods: Vec<&str> = list.split(',').collect();
    methods.sort_unstable();
    format!("{head}, but [{}]{tail}", methods.join(","))
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_have_alertmanager_0_25_shapes() {
    assert!(
        std::path::Path::new(ALERTMANAGER).exists(),
        "{ALERTMANAGER} is needed (apt-get install prometheus-alertmanager)"
    );
    let dir = std::env::temp_dir().join(format!("wasmetheus-am-peer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let config = dir.join("alertmanager.yml");
    std::fs::write(
        &config,
        "route:\n  receiver: team\n  group_by: [alertname]\n  routes:\n    - receiver: pager\n      matchers: [severity=\"page\"]\n      continue: true\nreceivers:\n  - name: team\n  - name: pager\n",
    )
    .expect("the configuration");
    let address: SocketAddr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("its address")
    };
    let _alertmanager = KillOnDrop(
        Command::new(ALERTMANAGER)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={address}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting Alertmanager"),
    );
    let started = Instant::now();
    while http(address, "GET", "/-/ready", "").map(|a| a.0) != Some(200) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "Alertmanager did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ours = fake::Fake::default();
    let silence_id = fake::SIL_ACTIVE.to_owned();
    let ours: Arc<dyn wasmetheus_api::AlertmanagerBackend> = Arc::new(ours);
    let theirs = |method: &str, path: &str, body: &str| {
        http(address, method, path, body).unwrap_or_else(|| panic!("{method} {path}"))
    };

    // Fill Alertmanager with what the fake holds: an alert with a
    // generator URL, one routed to two receivers, a silence.
    let (status, _) = theirs(
        "POST",
        "/api/v2/alerts",
        r#"[{"labels":{"alertname":"Up","job":"node"},"annotations":{"summary":"s"},"generatorURL":"http://prometheus/graph"},{"labels":{"alertname":"Disk","severity":"page"},"annotations":{"summary":"s"},"generatorURL":"http://prometheus/graph"}]"#,
    );
    assert_eq!(status, 200);
    let (status, body) = theirs(
        "POST",
        "/api/v2/silences",
        r#"{"matchers":[{"name":"job","value":"node","isRegex":false}],"startsAt":"2020-01-01T00:00:00Z","endsAt":"2099-01-01T00:00:00Z","createdBy":"ops","comment":"c"}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(shape(&json(&body)), r#"{silenceID:string}"#);
    let their_silence = json(&body)["silenceID"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // Alertmanager's dispatcher files a posted alert into its groups on a
    // goroutine of its own: wait until the groups read below hold it.
    let started = Instant::now();
    while theirs("GET", "/api/v2/alerts/groups?filter=alertname%3DUp", "")
        .1
        .starts_with("[]")
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "Alertmanager did not group the posted alert"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The same shapes for the same reads (the fake's alert list starts
    // with one that has a generator URL, as Alertmanager's).
    for (path, ours_path) in [
        (
            "/api/v2/alerts?receiver=team&filter=job%3Dnode",
            "/api/v2/alerts?filter=job%3Dnode",
        ),
        (
            "/api/v2/alerts/groups?filter=alertname%3DUp",
            "/api/v2/alerts/groups?filter=alertname%3DUp",
        ),
        ("/api/v2/silences", "/api/v2/silences"),
        (
            &format!("/api/v2/silence/{their_silence}"),
            &format!("/api/v2/silence/{silence_id}"),
        ),
        ("/api/v2/receivers", "/api/v2/receivers"),
        ("/api/v2/status", "/api/v2/status"),
    ] {
        let (status, body) = theirs("GET", path, "");
        let answer = send(Arc::clone(&ours), "GET", ours_path, "").await;
        assert_eq!((answer.status, status), (200, 200), "{path}: {body}");
        assert!(
            body.ends_with('\n') && answer.body.ends_with('\n'),
            "{path}: framing"
        );
        assert!(!body.starts_with("[]"), "{path}: nothing to compare");
        let mut our_json = json(&answer.body);
        without_muted_by(&mut our_json);
        assert_eq!(
            shape(&our_json),
            shape(&json(&body)),
            "{path}\nours: {}\ntheirs: {body}",
            answer.body
        );
    }

    // The same answers, byte for byte, for requests both refuse in the
    // same check.
    for (method, path, body) in [
        (
            "POST",
            "/api/v2/alerts",
            r#"[{"labels":{}},{"labels":{"a":"b"},"startsAt":"2020-01-02T00:00:00Z","endsAt":"2020-01-01T00:00:00Z"}]"#,
        ),
        (
            "POST",
            "/api/v2/alerts",
            r#"[{"labels":{"a":"b"}},{"annotations":{}}]"#,
        ),
        ("GET", "/api/v2/alerts?filter=foo", ""),
        ("GET", "/api/v2/alerts/groups?filter=foo", ""),
        ("GET", "/api/v2/silences?filter=foo", ""),
        ("GET", "/api/v2/silence/xyz", ""),
        ("PUT", "/api/v2/alerts", ""),
        (
            "PUT",
            "/api/v2/silence/00000000-0000-0000-0000-000000000000",
            "",
        ),
        ("POST", "/api/v2/receivers", ""),
        ("GET", "/api/v2/foo", ""),
        ("POST", "/api/v2/alerts", ""),
        ("POST", "/api/v2/silences", ""),
        ("POST", "/api/v2/silences", "null"),
        ("DELETE", "/api/v2/silence/xyz", ""),
        (
            "GET",
            "/api/v2/silence/00000000-0000-0000-0000-000000000000",
            "",
        ),
        (
            "POST",
            "/api/v2/silences",
            r#"{"matchers":[],"startsAt":"2020-01-01T00:00:00Z","endsAt":"2099-01-01T00:00:00Z","createdBy":"x","comment":"c"}"#,
        ),
        (
            "POST",
            "/api/v2/silences",
            r#"{"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"2020-01-01T00:00:00Z","endsAt":"2099-01-01T00:00:00Z","comment":"c"}"#,
        ),
        (
            "POST",
            "/api/v2/silences",
            r#"{"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"2030-01-01T00:00:00Z","endsAt":"2030-01-01T00:00:00Z","createdBy":"x","comment":"c"}"#,
        ),
        (
            "POST",
            "/api/v2/silences",
            r#"{"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"2020-01-01T00:00:00Z","endsAt":"2021-01-01T00:00:00Z","createdBy":"x","comment":"c"}"#,
        ),
        (
            "POST",
            "/api/v2/silences",
            r#"{"id":"99999999-9999-4999-8999-999999999999","matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"2020-01-01T00:00:00Z","endsAt":"2099-01-01T00:00:00Z","createdBy":"x","comment":"c"}"#,
        ),
    ] {
        let (status, their_body) = theirs(method, path, body);
        let answer = send(Arc::clone(&ours), method, path, body).await;
        assert_eq!(
            (answer.status, sort_allowed(&answer.body)),
            (status, sort_allowed(&their_body)),
            "{method} {path} {body}"
        );
    }

    // A boolean that is not one of go-openapi's true words is false.
    let (_, body) = theirs("GET", "/api/v2/alerts?active=maybe", "");
    let answer = send(Arc::clone(&ours), "GET", "/api/v2/alerts?active=maybe", "").await;
    for list in [json(&body), json(&answer.body)] {
        let states: Vec<&str> = list
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|a| a["status"]["state"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            !states.is_empty() && !states.contains(&"active"),
            "{states:?}"
        );
    }

    // 0.34 answers the expiry of an unknown silence with 404; 0.25 with
    // 500 and a text.
    let path = "/api/v2/silence/00000000-0000-0000-0000-000000000000";
    let (status, body) = theirs("DELETE", path, "");
    assert_eq!((status, body.as_str()), (500, "\"silence not found\"\n"));
    let answer = send(ours, "DELETE", path, "").await;
    assert_eq!((answer.status, answer.body.as_str()), (404, ""));
    let _ = std::fs::remove_dir_all(&dir);
}
