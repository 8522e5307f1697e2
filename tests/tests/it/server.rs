//! The server end to end, in-process on a loopback port: plugin instances
//! served as exposition, self-metrics, `/api/v1/plugins`, hot reload of
//! plugin files and reload of the configuration.

use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use wasmetheus_model::storage::Queryable;
use wasmetheus_tests::wasm::padded;
use wasmetheus_tests::{PluginsDir, TestServer, eventually, guests, http, test_args};

async fn server(plugins: &Path, config: Option<&Path>) -> TestServer {
    server_on(plugins, config, tempfile::tempdir().unwrap()).await
}

async fn server_on(plugins: &Path, config: Option<&Path>, data: tempfile::TempDir) -> TestServer {
    TestServer::start(test_args(plugins, config, data.path()), data).await
}

fn metric_value(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn scraped_samples_are_stored_and_replayed_after_a_restart() {
    let plugins = PluginsDir::new();
    plugins.install(guests::TRIVIAL, "trivial");
    let config = fast_scrape_config(plugins.path());
    let first = server(plugins.path(), Some(&config)).await;
    let address = first.address;
    // trivial's 2 series + up/scrape_* of 2 targets (trivial, wasmetheus).
    let series = eventually(Duration::from_secs(5), "both targets stored", || async {
        let (_, metrics) = http(address, "GET", "/metrics", &[]).await;
        let series = metric_value(&metrics, "prometheus_tsdb_head_series")?;
        (series >= 8.0).then_some(series)
    })
    .await;
    let data = first.stop().await;

    let second = server_on(plugins.path(), Some(&config), data).await;
    let (_, metrics) = http(second.address, "GET", "/metrics", &[]).await;
    assert!(
        metric_value(&metrics, "prometheus_tsdb_head_series").unwrap() >= series,
        "{metrics}"
    );
    // At least one sample of each series came back from the log.
    assert!(
        metric_value(&metrics, "wasmetheus_tsdb_wal_replayed_samples").unwrap() >= series,
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backfilled_directory_is_served() {
    let plugins = PluginsDir::new();
    let config = fast_scrape_config(plugins.path());
    let data = tempfile::tempdir().unwrap();
    let input = plugins.path().join("backfill.om");
    // Two series, three samples, two 2 h blocks.
    std::fs::write(
        &input,
        "# TYPE backfilled gauge\n\
         backfilled{k=\"a\"} 1 1000\n\
         backfilled{k=\"a\"} 2 9000\n\
         backfilled{k=\"b\"} 3 1000.5\n\
         # EOF\n",
    )
    .unwrap();
    let dir = data.path().to_owned();
    tokio::task::spawn_blocking(move || {
        wasmetheus::backfill::run(&input, &dir, Duration::from_secs(2 * 3600))
    })
    .await
    .unwrap()
    .unwrap();
    let server = server_on(plugins.path(), Some(&config), data).await;
    let (_, metrics) = http(server.address, "GET", "/metrics", &[]).await;
    assert_eq!(
        metric_value(&metrics, "wasmetheus_tsdb_store_series"),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        metric_value(&metrics, "prometheus_tsdb_lowest_timestamp"),
        Some(1_000_000.0),
        "{metrics}"
    );
    assert_eq!(
        metric_value(&metrics, "prometheus_tsdb_blocks_loaded"),
        Some(2.0),
        "{metrics}"
    );

    // The admin API: a bad selector is bad data; a deletion and a cleaning
    // answer 204; a snapshot is a data directory without the deleted series.
    let post = |path: &'static str| http(server.address, "POST", path, &[]);
    let (status, body) = post("/api/v1/admin/tsdb/delete_series?match[]=up{").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains(r#""errorType":"bad_data""#), "{body}");
    let (status, body) =
        post("/api/v1/admin/tsdb/delete_series?match[]=backfilled%7Bk%3D%22a%22%7D").await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = post("/api/v1/admin/tsdb/clean_tombstones").await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = post("/api/v1/admin/tsdb/snapshot").await;
    assert_eq!(status, 200, "{body}");
    let json: Value = serde_json::from_str(&body).unwrap();
    let name = json["data"]["name"].as_str().unwrap().to_owned();
    let data = server.stop().await;
    let snapshot = data.path().join("snapshots").join(name);
    let db = wasmetheus_tsdb::Db::open(&snapshot, wasmetheus_tsdb::DbOptions::default()).unwrap();
    let left: Vec<String> = db
        .select(
            &[wasmetheus_model::storage::Matcher::equal(
                "__name__",
                "backfilled",
            )],
            i64::MIN,
            i64::MAX,
        )
        .unwrap()
        .iter()
        .map(|s| format!("{:?} {:?}", s.labels[1].value, s.samples))
        .collect();
    assert_eq!(left, vec![r#""b" [(1000500, 3.0)]"#]);
}

async fn plugins_status(address: SocketAddr) -> Value {
    let (status, body) = http(address, "GET", "/api/v1/plugins", &[]).await;
    assert_eq!(status, 200, "{body}");
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "success");
    json["data"].clone()
}

fn plugin<'a>(status: &'a Value, name: &str) -> Option<&'a Value> {
    status.as_array()?.iter().find(|p| p["plugin"] == name)
}

fn write_config(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A config scraping every second, so tests see scrapes quickly.
fn fast_scrape_config(dir: &Path) -> std::path::PathBuf {
    write_config(
        dir,
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 500ms\n",
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_instances_self_metrics_and_status() {
    let plugins = PluginsDir::new();
    plugins.install(guests::TRIVIAL, "trivial");
    let config = fast_scrape_config(plugins.path());
    let server = server(plugins.path(), Some(&config)).await;
    let address = server.address;

    let text = eventually(Duration::from_secs(5), "trivial to be scraped", || async {
        let (status, body) = http(address, "GET", "/plugins/trivial/metrics", &[]).await;
        (status == 200).then_some(body)
    })
    .await;
    assert!(
        text.contains("# TYPE trivial_up gauge\ntrivial_up 1\n"),
        "{text}"
    );
    assert!(text.contains("trivial_collections_total "), "{text}");

    let (_, om) = http(
        address,
        "GET",
        "/plugins/trivial/metrics",
        &[("Accept", "application/openmetrics-text; version=1.0.0")],
    )
    .await;
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(om.contains("# TYPE trivial_collections counter"), "{om}");

    let (status, _) = http(address, "GET", "/plugins/nope/metrics", &[]).await;
    assert_eq!(status, 404);

    let status = plugins_status(address).await;
    let trivial = plugin(&status, "trivial").unwrap();
    assert_eq!(trivial["version"], "0.1.0");
    assert_eq!(trivial["health"], "ok");
    assert_eq!(trivial["instances"][0]["name"], "trivial");
    assert_eq!(trivial["instances"][0]["up"], 1);

    let (_, metrics) = http(address, "GET", "/metrics", &[]).await;
    assert!(
        metrics.contains("wasmetheus_plugin_collect_calls_total{plugin=\"trivial\"} "),
        "{metrics}"
    );
    assert!(metrics.contains("wasmetheus_plugin_load_duration_seconds{plugin=\"trivial\"} "));
    let (status, _) = http(address, "GET", "/-/healthy", &[]).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn hot_reload_add_replace_reject_remove() {
    let plugins = PluginsDir::new();
    let config = fast_scrape_config(plugins.path());
    let server = server(plugins.path(), Some(&config)).await;
    let address = server.address;

    // Added: loaded and scraped within 2 s.
    let dropped = Instant::now();
    plugins.install(guests::TRIVIAL, "hot");
    eventually(
        Duration::from_secs(2),
        "the new plugin's first scrape",
        || async {
            let (status, body) = http(address, "GET", "/plugins/hot/metrics", &[]).await;
            (status == 200 && body.contains("trivial_up 1")).then_some(())
        },
    )
    .await;
    assert!(dropped.elapsed() < Duration::from_secs(2));

    // A version that is not a component: rejected, the old one keeps serving.
    let path = plugins.path().join("hot.wasm");
    std::fs::write(plugins.path().join(".garbage"), b"not wasm at all").unwrap();
    std::fs::rename(plugins.path().join(".garbage"), &path).unwrap();
    let error = eventually(
        Duration::from_secs(3),
        "the rejected version's error",
        || async {
            let status = plugins_status(address).await;
            plugin(&status, "hot")?["last_error"]
                .as_str()
                .map(str::to_owned)
        },
    )
    .await;
    assert!(error.contains("not a valid exporter component"), "{error}");
    let status = plugins_status(address).await;
    assert_eq!(plugin(&status, "hot").unwrap()["health"], "degraded");
    let (code, body) = http(address, "GET", "/plugins/hot/metrics", &[]).await;
    assert_eq!(code, 200, "{body}");

    // A version whose instance cannot open: rejected too.
    plugins.install(guests::OPEN_FAILS, "hot");
    eventually(Duration::from_secs(3), "the open failure", || async {
        let status = plugins_status(address).await;
        let error = plugin(&status, "hot")?["last_error"].as_str()?.to_owned();
        error.contains("accepts no configuration").then_some(())
    })
    .await;
    let status = plugins_status(address).await;
    assert_eq!(plugin(&status, "hot").unwrap()["name"], "trivial");

    // A valid new version is swapped in.
    plugins.install(guests::PANICS, "hot");
    eventually(
        Duration::from_secs(3),
        "the swap to the new version",
        || async {
            let status = plugins_status(address).await;
            (plugin(&status, "hot")?["name"] == "panics").then_some(())
        },
    )
    .await;
    eventually(
        Duration::from_secs(3),
        "the new version's failed scrape",
        || async {
            let status = plugins_status(address).await;
            let instance = &plugin(&status, "hot")?["instances"][0];
            (instance["up"] == 0).then(|| instance["error"].as_str().unwrap_or("").to_owned())
        },
    )
    .await;

    // Removed: the instance stops and disappears.
    std::fs::remove_file(&path).unwrap();
    eventually(Duration::from_secs(3), "the removal", || async {
        let status = plugins_status(address).await;
        plugin(&status, "hot").is_none().then_some(())
    })
    .await;
    // The scrape side follows the runtime's change on its own schedule.
    eventually(
        Duration::from_secs(3),
        "the instance's page to go",
        || async {
            let (code, _) = http(address, "GET", "/plugins/hot/metrics", &[]).await;
            (code == 404).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_copy_is_loaded_once_complete() {
    let plugins = PluginsDir::new();
    let config = fast_scrape_config(plugins.path());
    let server = server(plugins.path(), Some(&config)).await;
    let address = server.address;
    let bytes = padded(&std::fs::read(guests::TRIVIAL).unwrap(), 4 << 20);
    let path = plugins.path().join("slow.wasm");
    // Written in 40 chunks over about 2 s, through one open file.
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut file = std::fs::File::create(&path).unwrap();
        for chunk in bytes.chunks(bytes.len() / 40 + 1) {
            file.write_all(chunk).unwrap();
            file.flush().unwrap();
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap();
    eventually(
        Duration::from_secs(5),
        "the slowly copied plugin to serve",
        || async {
            let (status, _) = http(address, "GET", "/plugins/slow/metrics", &[]).await;
            (status == 200).then_some(())
        },
    )
    .await;
    let status = plugins_status(address).await;
    let slow = plugin(&status, "slow").unwrap();
    assert_eq!(slow["last_error"], Value::Null, "{slow}");
    let (_, metrics) = http(address, "GET", "/metrics", &[]).await;
    assert!(
        metrics.contains("wasmetheus_plugin_load_failures_total{plugin=\"slow\"} 0"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn config_reload_is_atomic() {
    let plugins = PluginsDir::new();
    plugins.install(guests::TRIVIAL, "trivial");
    let config = fast_scrape_config(plugins.path());
    let server = server(plugins.path(), Some(&config)).await;
    let address = server.address;
    eventually(Duration::from_secs(5), "the first scrape", || async {
        let (status, _) = http(address, "GET", "/plugins/trivial/metrics", &[]).await;
        (status == 200).then_some(())
    })
    .await;

    // Invalid: the reload fails with the position, the old config stays.
    std::fs::write(
        &config,
        "global:\n  scrape_interval: 1s\nplugins:\n  instances:\n    - name: x\n      plugn: trivial\n",
    )
    .unwrap();
    let (status, body) = http(address, "POST", "/-/reload", &[]).await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("prometheus.yml:6:7: ") && body.contains("field plugn not found in type"),
        "{body}"
    );
    let (status, _) = http(address, "GET", "/plugins/trivial/metrics", &[]).await;
    assert_eq!(status, 200);
    let (_, metrics) = http(address, "GET", "/metrics", &[]).await;
    assert!(
        metrics.contains("prometheus_config_last_reload_successful 0\n"),
        "{metrics}"
    );

    // Valid: two named instances replace the default one.
    std::fs::write(
        &config,
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 500ms\nplugins:\n  instances:\n    - name: one\n      plugin: trivial\n    - name: two\n      plugin: trivial\n",
    )
    .unwrap();
    let (status, body) = http(address, "POST", "/-/reload", &[]).await;
    assert_eq!(status, 200, "{body}");
    for name in ["one", "two"] {
        eventually(Duration::from_secs(5), name, || async {
            let (status, _) = http(address, "GET", &format!("/plugins/{name}/metrics"), &[]).await;
            (status == 200).then_some(())
        })
        .await;
    }
    let (status, _) = http(address, "GET", "/plugins/trivial/metrics", &[]).await;
    assert_eq!(status, 404);
    let (_, metrics) = http(address, "GET", "/metrics", &[]).await;
    assert!(
        metrics.contains("prometheus_config_last_reload_successful 1\n"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_compile_slot_count_follows_its_flag() {
    let plugins = PluginsDir::new();
    let data = tempfile::tempdir().unwrap();
    let mut args = test_args(plugins.path(), None, data.path());
    args.plugins_max_concurrent_compiles = 3;
    let server = TestServer::start(args, data).await;
    let (_, metrics) = http(server.address, "GET", "/metrics", &[]).await;
    assert_eq!(
        metric_value(&metrics, "wasmetheus_plugin_compile_slots"),
        Some(3.0),
        "{metrics}"
    );
    // 0, the default: half the cores, at least one.
    let plugins = PluginsDir::new();
    let data = tempfile::tempdir().unwrap();
    let server = server_on(plugins.path(), None, data).await;
    let (_, metrics) = http(server.address, "GET", "/metrics", &[]).await;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(
        metric_value(&metrics, "wasmetheus_plugin_compile_slots"),
        Some((cores / 2).max(1) as f64),
        "{metrics}"
    );
}
