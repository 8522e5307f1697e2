//! The exporter on CSV captured from HAProxy 2.6, compared series by series
//! with what Debian's prometheus-haproxy-exporter 0.14 exposed for the
//! same answers (`tests/fixtures/*.native.prom`, its go_/process_/promhttp_
//! and build_info families removed), plus snapshots and hostile bodies.

use super::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use wasmetheus_sdk::Kind;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
}

/// family → (TYPE, HELP, series text → value text)
type Exposition = BTreeMap<String, (String, String, BTreeMap<String, String>)>;

fn escape(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

/// A value in one spelling for both sides (Go writes 1.5e+06, NaN, +Inf).
fn go_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v}")
    }
}

/// The registry as the text format would show it, normalised.
fn exposition(out: &Registry) -> Exposition {
    let mut map = Exposition::new();
    for family in out.families() {
        let kind = match family.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            other => panic!("unexpected kind {other:?}"),
        };
        let series = family
            .metrics
            .iter()
            .map(|m| {
                let mut labels = m.labels.clone();
                labels.sort();
                let labels: Vec<String> = labels
                    .iter()
                    .map(|(n, v)| format!("{n}=\"{}\"", escape(v)))
                    .collect();
                let key = if labels.is_empty() {
                    family.name.clone()
                } else {
                    format!("{}{{{}}}", family.name, labels.join(","))
                };
                (key, go_float(m.number().unwrap()))
            })
            .collect::<BTreeMap<_, _>>();
        assert_eq!(
            series.len(),
            family.metrics.len(),
            "{}: duplicate series",
            family.name
        );
        map.insert(
            family.name.clone(),
            (kind.into(), family.help.clone(), series),
        );
    }
    map
}

/// Parses what the Go exporter wrote (one line per HELP, TYPE or sample).
fn parse_native(text: &str) -> Exposition {
    let mut map = Exposition::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap();
            map.entry(name.into()).or_default().1 = help.replace(r"\n", "\n");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            map.entry(name.into()).or_default().0 = kind.into();
        } else {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let name = series.split('{').next().unwrap();
            let value = value.parse::<f64>().unwrap();
            map.entry(name.into())
                .or_default()
                .2
                .insert(series.into(), go_float(value));
        }
    }
    map
}

fn exporter(config: &str) -> HaproxyExporter {
    HaproxyExporter::open(config).unwrap()
}

/// One collect of `body` as the exporter's `scrape` would do it after
/// fetching it.
fn collect_body(exporter: &mut HaproxyExporter, body: &[u8]) -> Registry {
    let mut out = Registry::new();
    exporter.scrapes += 1.0;
    let up = exporter.export_body(body, &mut out);
    exporter.report(up, &mut out);
    out
}

fn assert_same(ours: &Exposition, native: &Exposition) {
    let names = |e: &Exposition| e.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(ours), names(native), "families differ");
    for (name, (kind, help, series)) in native {
        let (our_kind, our_help, our_series) = &ours[name];
        assert_eq!((our_kind, our_help), (kind, help), "{name}: TYPE or HELP");
        assert_eq!(our_series, series, "{name}: series");
    }
}

#[test]
fn same_as_haproxy_exporter_on_the_stats_page() {
    let mut e = exporter("{}");
    let out = collect_body(&mut e, &fixture("haproxy-2.6.csv"));
    let native = parse_native(&String::from_utf8(fixture("haproxy-2.6.native.prom")).unwrap());
    assert_same(&exposition(&out), &native);
    assert_eq!(e.last_error(), None);
}

#[test]
fn same_as_haproxy_exporter_without_the_header_line() {
    let mut e = exporter("{}");
    let out = collect_body(&mut e, &fixture("noheader.csv"));
    let native = parse_native(&String::from_utf8(fixture("noheader.native.prom")).unwrap());
    assert_same(&exposition(&out), &native);
}

#[test]
fn same_as_haproxy_exporter_on_malformed_csv() {
    let mut e = exporter("{}");
    let out = collect_body(&mut e, &fixture("malformed.csv"));
    let native = parse_native(&String::from_utf8(fixture("malformed.native.prom")).unwrap());
    assert_same(&exposition(&out), &native);
    // Upstream keeps haproxy_up 1 and counts 8 failures; the log says why.
    let logged = e.last_error().unwrap();
    assert!(logged.starts_with("8 CSV parse failure(s)"), "{logged}");
    assert!(
        logged.contains("can't parse CSV field value \"12abc\""),
        "{logged}"
    );
}

#[test]
fn same_as_haproxy_exporter_with_selected_fields_and_excluded_states() {
    let mut e = exporter(
        r#"{"server_metric_fields": "17,2,99,38", "server_exclude_states": "MAINT,DOWN"}"#,
    );
    let out = collect_body(&mut e, &fixture("show-stat.csv"));
    let native =
        parse_native(&String::from_utf8(fixture("show-stat-excluded.native.prom")).unwrap());
    assert_same(&exposition(&out), &native);
}

#[test]
fn same_as_haproxy_exporter_on_the_stats_socket() {
    // A stats socket on TCP answering with what HAProxy 2.6 answered.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        use std::io::{BufRead, BufReader, Write};
        for _ in 0..2 {
            let (mut stream, _) = listener.accept().unwrap();
            let mut command = String::new();
            BufReader::new(&stream).read_line(&mut command).unwrap();
            let answer = match command.as_str() {
                "show info\n" => fixture("show-info.txt"),
                "show stat\n" => fixture("show-stat.csv"),
                other => panic!("unexpected command {other:?}"),
            };
            stream.write_all(&answer).unwrap();
        }
    });
    let mut e = exporter(&format!(r#"{{"scrape_uri": "tcp://{address}"}}"#));
    let mut out = Registry::new();
    e.collect(&mut out).unwrap();
    server.join().unwrap();
    let native = parse_native(&String::from_utf8(fixture("show-stat.native.prom")).unwrap());
    assert_same(&exposition(&out), &native);
    assert_eq!(e.last_error(), None);
}

/// Families in order, one line per series, for snapshots.
fn render(out: &Registry) -> String {
    let mut text = String::new();
    for (name, (kind, help, series)) in exposition(out) {
        writeln!(text, "# {kind} {name} {help}").unwrap();
        for (key, value) in series {
            writeln!(text, "{key} {value}").unwrap();
        }
    }
    text
}

#[test]
fn snapshot_of_a_backend_with_servers_in_every_state() {
    let body = fixture("show-stat.csv");
    let mut e = exporter(r#"{"server_metric_fields": "17,18,21,24,38"}"#);
    let out = collect_body(&mut e, &body);
    let text = render(&out);
    let servers: String = text
        .lines()
        .filter(|l| l.contains("haproxy_server_") || l.starts_with("haproxy_up"))
        .map(|l| format!("{l}\n"))
        .collect();
    expect_test::expect![[r##"
        # gauge haproxy_server_check_duration_seconds Previously run health check duration, in seconds
        haproxy_server_check_duration_seconds{backend="app",server="down1"} 0
        haproxy_server_check_duration_seconds{backend="app",server="up1"} 0
        haproxy_server_check_duration_seconds{backend="empty",server="dead"} 0
        # counter haproxy_server_check_failures_total Total number of failed health checks.
        haproxy_server_check_failures_total{backend="app",server="down1"} 1
        haproxy_server_check_failures_total{backend="app",server="up1"} 0
        haproxy_server_check_failures_total{backend="empty",server="dead"} 1
        # counter haproxy_server_downtime_seconds_total Total downtime in seconds.
        haproxy_server_downtime_seconds_total{backend="app",server="down1"} 4
        haproxy_server_downtime_seconds_total{backend="app",server="up1"} 0
        haproxy_server_downtime_seconds_total{backend="empty",server="dead"} 4
        # gauge haproxy_server_up Current health status of the server (1 = UP, 0 = DOWN).
        haproxy_server_up{backend="app",server="down1"} 0
        haproxy_server_up{backend="app",server="maint1"} 0
        haproxy_server_up{backend="app",server="nocheck"} 1
        haproxy_server_up{backend="app",server="up1"} 1
        haproxy_server_up{backend="empty",server="dead"} 0
        # gauge haproxy_server_weight Current weight of the server.
        haproxy_server_weight{backend="app",server="down1"} 1
        haproxy_server_weight{backend="app",server="maint1"} 1
        haproxy_server_weight{backend="app",server="nocheck"} 1
        haproxy_server_weight{backend="app",server="up1"} 1
        haproxy_server_weight{backend="empty",server="dead"} 1
        haproxy_up 1
    "##]]
    .assert_eq(&servers);
}

#[test]
fn counters_live_as_long_as_the_instance() {
    let mut e = exporter("{}");
    let bad = b"x,y\n\"open";
    collect_body(&mut e, bad);
    let out = collect_body(&mut e, bad);
    let value = |name: &str| out.get(name).unwrap().metrics[0].number().unwrap();
    assert_eq!(value("haproxy_exporter_scrapes_total"), 2.0);
    // Per collect: the short row and the unterminated quote.
    assert_eq!(value("haproxy_exporter_csv_parse_failures_total"), 4.0);
    assert_eq!(value("haproxy_up"), 1.0);
    let logged = e.last_error().unwrap();
    assert!(logged.contains("does scrape_uri end in ;csv?"), "{logged}");
}

#[test]
fn hostile_bodies_are_bounded_and_explained() {
    // HTML instead of CSV, binary garbage, NUL bytes, non-UTF-8 names.
    let html = b"<html><head><title>Statistics Report</title></head>\n<body class=\"x\">\n</body></html>\n";
    let mut e = exporter("{}");
    let out = collect_body(&mut e, html);
    assert_eq!(out.families().len(), 3, "only haproxy_up and the counters");
    assert!(e.last_error().unwrap().contains(";csv"));

    let garbage: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut e = exporter("{}");
    let out = collect_body(&mut e, &garbage);
    assert_eq!(
        out.get("haproxy_up").unwrap().metrics[0].number(),
        Some(1.0)
    );

    // 1.2 million one-field rows: reading stops at the record limit.
    let rows = "x\n".repeat(1_200_000);
    let mut e = exporter("{}");
    let started = std::time::Instant::now();
    let out = collect_body(&mut e, rows.as_bytes());
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(
        out.get("haproxy_up").unwrap().metrics[0].number(),
        Some(0.0)
    );
    let logged = e.last_error().unwrap();
    assert!(logged.contains("more than 1000000 CSV records"), "{logged}");

    // An empty answer: nothing to export, and no failure either (upstream).
    let mut e = exporter("{}");
    let out = collect_body(&mut e, b"");
    assert_eq!(
        out.get("haproxy_up").unwrap().metrics[0].number(),
        Some(1.0)
    );
    assert_eq!(e.last_error(), None);
}

#[test]
fn metadata_and_defaults() {
    let metadata = HaproxyExporter::metadata();
    assert_eq!(metadata.name, "haproxy-exporter");
    serde_json::from_str::<serde_json::Value>(&metadata.config_schema).unwrap();
    // Upstream's default scrape_uri origin, requested (not optional), so
    // the host starts no default instance without a grant.
    assert_eq!(metadata.capabilities.len(), 1);
    assert_eq!(
        metadata.capabilities[0].capability,
        Capability::HttpOrigin("http://localhost:80".into())
    );
    assert!(!metadata.capabilities[0].optional);
    // Natively there is no wasi:http: the default scrape fails cleanly.
    let mut e = exporter("");
    let mut out = Registry::new();
    e.collect(&mut out).unwrap();
    assert_eq!(
        out.get("haproxy_up").unwrap().metrics[0].number(),
        Some(0.0)
    );
    let logged = e.last_error().unwrap();
    assert!(
        logged.starts_with("can't scrape HAProxy at http://localhost/;csv"),
        "{logged}"
    );
}

#[test]
fn http_errors_never_show_the_password() {
    let mut e = exporter(r#"{"scrape_uri": "http://admin:hunter2@127.0.0.1:1/;csv?token=t"}"#);
    let mut out = Registry::new();
    e.collect(&mut out).unwrap();
    let logged = e.last_error().unwrap();
    assert!(
        !logged.contains("hunter2") && !logged.contains("token"),
        "{logged}"
    );
    assert!(logged.contains("admin:xxxxx@127.0.0.1:1"), "{logged}");
}
