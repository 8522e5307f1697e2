//! The haproxy-exporter plugin in the real runtime against a real HAProxy
//! (frontends, backends, servers up and down), next to Debian's
//! `prometheus-haproxy-exporter` (0.14) reading the same HAProxy, over the
//! CSV statistics page and over the stats socket on TCP: the same
//! families, values that agree; and the failure paths (HAProxy gone and
//! back, an origin or address not granted, malformed answers) giving
//! `haproxy_up 0` with a clear error, recovering by themselves.

use super::compare::{bracketed, differences, equal, value};
use super::servers::{
    HaProxy, Instance, Native, Plugin, fake_http_server, fake_tcp_server, http_grant, tcp_grant,
};
use serde_json::json;
use std::time::{Duration, Instant};
use wasmetheus_model::text::Exposition;
use wasmetheus_tests::{free_port, guests};

/// Families Debian's exporter emits by default (over HTTP) that the plugin
/// does not emit yet. The comparison fails when one of them is emitted
/// (remove it here) or when the reference stops emitting it.
const NOT_YET_HTTP: &[&str] = &[];

/// The same over the stats socket, where the reference also reads
/// `show info`.
const NOT_YET_SOCKET: &[&str] = &[];

/// Counters compared series by series: the plugin's value lies between
/// the reference's read before and after it.
const BRACKETED: &[&str] = &[
    "haproxy_frontend_bytes_in_total",
    "haproxy_frontend_bytes_out_total",
    "haproxy_frontend_connections_total",
    "haproxy_frontend_sessions_total",
    "haproxy_frontend_http_requests_total",
    "haproxy_frontend_http_responses_total",
    "haproxy_backend_bytes_in_total",
    "haproxy_backend_sessions_total",
    "haproxy_backend_http_responses_total",
    "haproxy_backend_connection_errors_total",
    "haproxy_server_bytes_in_total",
    "haproxy_server_sessions_total",
    "haproxy_server_check_failures_total",
    "haproxy_server_downtime_seconds_total",
    "haproxy_server_http_responses_total",
];

/// Values that do not move: state and configuration.
const EQUAL: &[&str] = &[
    "haproxy_up",
    "haproxy_server_up",
    "haproxy_server_weight",
    "haproxy_backend_up",
    "haproxy_backend_weight",
    "haproxy_backend_current_server",
    "haproxy_frontend_limit_sessions",
    "haproxy_frontend_limit_session_rate",
    "haproxy_backend_limit_sessions",
];

fn plugin(instances: Vec<Instance>) -> Plugin {
    Plugin::start(
        guests::PLUGIN_HAPROXY_EXPORTER,
        "haproxy-exporter",
        instances,
    )
}

/// An instance reading the CSV page of `proxy`.
fn http_instance(name: &str, proxy: &HaProxy) -> Instance {
    Instance::new(
        name,
        json!({"scrape_uri": proxy.csv_uri()}),
        http_grant(&proxy.origin()),
    )
}

/// An instance reading the stats socket of `proxy` over TCP.
fn socket_instance(name: &str, proxy: &HaProxy) -> Instance {
    Instance::new(
        name,
        json!({"scrape_uri": proxy.socket_uri()}),
        tcp_grant(&proxy.socket_address()),
    )
}

fn up(exposition: &Exposition) -> Option<f64> {
    value(exposition, "haproxy_up", &[])
}

/// Collects `name` and asserts `haproxy_up 0` with an error containing
/// each of `expected` (case-insensitively); returns both.
async fn assert_down(plugin: &Plugin, name: &str, expected: &[&str]) -> (Exposition, String) {
    let (text, exposition) = plugin.collect_text(name).await;
    assert_eq!(
        up(&exposition),
        Some(0.0),
        "{name}: haproxy_up is not 0:\n{text}"
    );
    let error = plugin
        .last_collect_error(name)
        .unwrap_or_else(|| panic!("{name}: haproxy_up 0 but no collect error in the status"));
    for word in expected {
        assert!(
            error.to_lowercase().contains(&word.to_lowercase()),
            "{name}: the error does not say {word:?}: {error}"
        );
    }
    (exposition, error)
}

/// Reference, plugin, reference: the families and values compared.
async fn compare(plugin: &Plugin, name: &str, native: &Native, not_yet: &[&str]) {
    let before = native.scrape();
    let ours = plugin.collect(name).await;
    let after = native.scrape();
    assert_eq!(
        up(&before),
        Some(1.0),
        "the reference exporter cannot read HAProxy"
    );
    assert_eq!(
        up(&ours),
        Some(1.0),
        "{name}: haproxy_up is not 1: {:?}",
        plugin.last_collect_error(name)
    );
    let mut problems = differences(&ours, &before, "haproxy_exporter", not_yet, &[]);
    for family in BRACKETED {
        problems.extend(bracketed(family, &before, &ours, &after));
    }
    for family in EQUAL {
        problems.extend(equal(family, &ours, &before));
    }
    assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
    // What the test configuration set up, as the plugin reads it.
    for (backend, server, state) in [
        ("app", "up1", 1.0),
        ("app", "down1", 0.0),
        ("api", "up2", 1.0),
        ("empty", "dead", 0.0),
    ] {
        assert_eq!(
            value(
                &ours,
                "haproxy_server_up",
                &[("backend", backend), ("server", server)]
            ),
            Some(state),
            "{name}: haproxy_server_up of {backend}/{server}"
        );
    }
    assert!(
        value(
            &ours,
            "haproxy_frontend_http_responses_total",
            &[("frontend", "web"), ("code", "2xx")]
        )
        .is_some_and(|v| v >= 3.0),
        "{name}: the requests sent through `web`"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn families_match_debian_haproxy_exporter_over_http() {
    let proxy = HaProxy::shared();
    let native = Native::shared_haproxy_http();
    let plugin = plugin(vec![http_instance("csv", proxy)]);
    compare(&plugin, "csv", native, NOT_YET_HTTP).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn families_match_debian_haproxy_exporter_over_the_stats_socket() {
    let proxy = HaProxy::shared();
    let native = Native::shared_haproxy_socket();
    let plugin = plugin(vec![socket_instance("socket", proxy)]);
    compare(&plugin, "socket", native, NOT_YET_SOCKET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_haproxy_gives_haproxy_up_0_and_is_found_again() {
    let proxy = tokio::task::spawn_blocking(HaProxy::private).await.unwrap();
    let plugin = plugin(vec![
        http_instance("csv", &proxy),
        socket_instance("socket", &proxy),
    ]);
    plugin
        .assert_recovers("csv", "haproxy_up", Duration::from_secs(10))
        .await;
    plugin
        .assert_recovers("socket", "haproxy_up", Duration::from_secs(10))
        .await;

    proxy.kill();
    assert_down(&plugin, "csv", &[&proxy.stats_port.to_string()]).await;
    assert_down(&plugin, "socket", &[&proxy.socket_port.to_string()]).await;

    tokio::task::block_in_place(|| proxy.start());
    plugin
        .assert_recovers("csv", "haproxy_up", Duration::from_secs(30))
        .await;
    plugin
        .assert_recovers("socket", "haproxy_up", Duration::from_secs(30))
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_origin_or_address_not_granted_gives_haproxy_up_0() {
    let proxy = HaProxy::shared();
    let other = free_port();
    let plugin = plugin(vec![
        Instance::new(
            "csv",
            json!({"scrape_uri": proxy.csv_uri()}),
            http_grant(&format!("http://127.0.0.1:{other}")),
        ),
        Instance::new(
            "socket",
            json!({"scrape_uri": proxy.socket_uri()}),
            tcp_grant(&format!("127.0.0.1:{other}")),
        ),
    ]);
    assert_down(
        &plugin,
        "csv",
        &["not granted", "http_origins", &proxy.origin()],
    )
    .await;
    assert_down(
        &plugin,
        "socket",
        &["not granted", "tcp_connect", &proxy.socket_address()],
    )
    .await;
}

/// How long a fake server keeps a connection open after its answer:
/// long enough to read the request (closing with data unread would reset
/// the connection, racing with the client's reads of the answer).
const HOLD: Duration = Duration::from_millis(300);

/// Malformed answers. Those the reference cannot read at all (an HTTP
/// error, a connection reset) give `haproxy_up 0` with a collect error;
/// those it reads as CSV that does not parse (a page of HTML, noise on
/// the socket) give what the reference gives: `haproxy_up 1` with the
/// failures counted in `haproxy_exporter_csv_parse_failures`, and an
/// empty answer is no statistics at all, `haproxy_up 1` for both.
/// Either way within bounded time, and the same `haproxy_up` as the
/// reference reading the same fake.
#[tokio::test(flavor = "multi_thread")]
async fn malformed_answers_give_what_the_reference_gives() {
    let noise: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let http_fakes = [
        (
            "status500",
            fake_http_server(500, b"internal error\n".to_vec()),
        ),
        (
            "status404",
            fake_http_server(404, b"<html>not found</html>\n".to_vec()),
        ),
        (
            "html",
            fake_http_server(
                200,
                b"<html>\n<body>stats, but not CSV</body>\n</html>\n".to_vec(),
            ),
        ),
        ("not_http", fake_tcp_server(noise.clone(), HOLD)),
    ];
    let socket_fakes = [
        ("socket_noise", fake_tcp_server(noise, HOLD)),
        // The command read, then closed without an answer.
        ("socket_closed", fake_tcp_server(Vec::new(), HOLD)),
    ];
    let mut instances = Vec::new();
    let mut uris = Vec::new();
    for (name, address) in &http_fakes {
        let uri = format!("http://{address}/stats;csv");
        instances.push(Instance::new(
            name,
            json!({"scrape_uri": uri}),
            http_grant(&format!("http://{address}")),
        ));
        uris.push((*name, uri));
    }
    for (name, address) in &socket_fakes {
        let uri = format!("tcp://{address}");
        instances.push(Instance::new(
            name,
            json!({"scrape_uri": uri}),
            tcp_grant(&address.to_string()),
        ));
        uris.push((*name, uri));
    }
    let plugin = plugin(instances);
    let failures = "haproxy_exporter_csv_parse_failures_total";
    for (name, uri) in uris {
        let native = Native::haproxy(Native::log_dir(), &uri);
        let theirs = native.scrape();
        let started = Instant::now();
        let ours = if up(&theirs) == Some(0.0) {
            assert_down(&plugin, name, &[]).await.0
        } else {
            let ours = plugin.collect(name).await;
            assert_eq!(
                up(&ours),
                up(&theirs),
                "{name}: haproxy_up differs from the reference's; the plugin's error: {:?}",
                plugin.last_collect_error(name)
            );
            let failed = |e: &Exposition| value(e, failures, &[]).is_some_and(|v| v > 0.0);
            assert_eq!(
                failed(&ours),
                failed(&theirs),
                "{name}: parse failures counted by the plugin, by the reference"
            );
            ours
        };
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{name}: took {:?}",
            started.elapsed()
        );
        // No frontend, backend or server read from garbage.
        assert!(
            ours.samples
                .iter()
                .all(|s| !s.name.starts_with("haproxy_frontend_")
                    && !s.name.starts_with("haproxy_backend_")
                    && !s.name.starts_with("haproxy_server_")),
            "{name}: series read from garbage"
        );
    }
}

/// An instance scraped for days holds no more WASI resources (sockets,
/// streams, HTTP handles) than one scraped once: the sandbox allows 4096
/// at once, so even one leaked per collect fails within [`COLLECTS`]
/// (about 17 hours of 15 s scrapes).
#[tokio::test(flavor = "multi_thread")]
async fn many_collects_hold_no_resources() {
    let proxy = HaProxy::shared();
    let plugin = plugin(vec![
        http_instance("csv", proxy),
        socket_instance("socket", proxy),
    ]);
    let started = Instant::now();
    for round in 0..COLLECTS {
        for name in ["csv", "socket"] {
            let families = plugin
                .runtime
                .collect(name)
                .await
                .unwrap_or_else(|e| panic!("{name}: collect {round} failed: {e}"));
            assert!(!families.is_empty());
        }
    }
    eprintln!("{} collects in {:?}", 2 * COLLECTS, started.elapsed());
    let ours = plugin.collect("csv").await;
    assert_eq!(up(&ours), Some(1.0));
}

/// Collects of each instance in [`many_collects_hold_no_resources`]: more
/// than the sandbox's 4096 resources.
const COLLECTS: u32 = 4200;
