//! The C example (`examples/c-netstat-exporter`, built with `sdk/c`) in the
//! real runtime: the series of a granted fixture proc tree (the example's
//! snapshot of `/proc/net`), the same as Debian's node_exporter reading that
//! tree and the real `/proc` (`prometheus-node-exporter`, netstat collector
//! only, with the plugin's default field selection); the "not granted"
//! error naming the grant to add; hostile files failing a collect with a
//! clear error and the next good file recovering; 10,000 collects on one
//! instance without its memory growing.

use super::{Grants, Instance, Plugin, example_wasm};
use crate::exporters::compare::value;
use crate::exporters::servers::{Daemon, http_get};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wasmetheus_model::MetricKind;
use wasmetheus_model::text::{self, Exposition};
use wasmetheus_tests::free_port;

const PLUGIN: &str = "c-netstat-exporter";
const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

/// node_exporter's default `--collector.netstat.fields` since 1.6 (Debian's
/// 1.5 lacks `TCPOFOQueue`, so the tests pass it explicitly).
const FIELDS: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|\
Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue)|\
Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|\
Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";

fn start(name: &str, proc_path: &Path, grants: Grants) -> Plugin {
    let wasm = example_wasm(PLUGIN);
    Plugin::start(
        wasm.to_str().unwrap(),
        PLUGIN,
        vec![Instance::new(
            name,
            serde_json::json!({ "proc_path": proc_path }),
            grants,
        )],
    )
}

fn read_grant(path: &Path) -> Grants {
    Grants {
        read_paths: vec![path.to_owned()],
        ..Grants::default()
    }
}

/// The example's snapshot of a machine's `/proc/net`.
fn snapshot() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/c-netstat-exporter/tests/fixtures/proc")
}

/// A proc tree of our own holding the snapshot's files.
fn fixture_proc() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("net")).unwrap();
    for file in ["netstat", "snmp", "snmp6"] {
        std::fs::copy(
            snapshot().join("net").join(file),
            dir.path().join("net").join(file),
        )
        .unwrap();
    }
    dir
}

/// The `node_netstat_*` families of an exposition: (type, HELP, value).
fn netstat_families(exposition: &Exposition) -> BTreeMap<String, (MetricKind, String, f64)> {
    exposition
        .metadata
        .iter()
        .filter(|m| m.name.starts_with("node_netstat_"))
        .map(|m| {
            let samples: Vec<_> = exposition
                .samples
                .iter()
                .filter(|s| s.name == m.name)
                .collect();
            assert_eq!(samples.len(), 1, "{}: one series expected", m.name);
            assert!(
                samples[0].labels.is_empty(),
                "{}: no labels expected",
                m.name
            );
            (m.name.clone(), (m.kind, m.help.clone(), samples[0].value))
        })
        .collect()
}

/// Debian's node_exporter with only its netstat collector, reading the
/// proc tree `procfs` (the test fails, naming the package, when it is not
/// installed).
struct NodeExporter {
    address: std::net::SocketAddr,
    daemon: Daemon,
    _logs: tempfile::TempDir,
}

impl NodeExporter {
    fn start(procfs: &Path) -> NodeExporter {
        crate::exporters::servers::require(NODE_EXPORTER, "prometheus-node-exporter");
        let logs = tempfile::tempdir().unwrap();
        let port = free_port();
        let args = [
            format!("--web.listen-address=127.0.0.1:{port}"),
            format!("--path.procfs={}", procfs.display()),
            "--collector.disable-defaults".to_owned(),
            "--collector.netstat".to_owned(),
            format!("--collector.netstat.fields={FIELDS}"),
        ];
        let mut daemon = Daemon::spawn(NODE_EXPORTER, &args, &[], &logs.path().join("log"));
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(address).is_err() {
            assert!(
                !daemon.exited() && Instant::now() < deadline,
                "node_exporter did not start; {}",
                daemon.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        NodeExporter {
            address,
            daemon,
            _logs: logs,
        }
    }

    fn scrape(&self) -> Exposition {
        let (status, body) = http_get(self.address, "/metrics")
            .unwrap_or_else(|| panic!("scraping node_exporter failed; {}", self.daemon.log_tail()));
        assert_eq!(status, 200, "{body}");
        text::parse(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn c_netstat_exporter_reads_a_granted_fixture_tree_as_node_exporter_does() {
    let proc = fixture_proc();
    let plugin = start("fixture", proc.path(), read_grant(proc.path()));
    let (text, ours) = plugin.collect_text("fixture").await;
    // The snapshot's figures (see the example's tests/fixtures/proc/net).
    assert_eq!(
        value(&ours, "node_netstat_Tcp_ActiveOpens", &[]),
        Some(434944.0),
        "{text}"
    );
    assert_eq!(value(&ours, "node_netstat_Tcp_CurrEstab", &[]), Some(2.0));
    assert_eq!(value(&ours, "node_netstat_Ip_Forwarding", &[]), Some(2.0));
    assert_eq!(
        value(&ours, "node_netstat_TcpExt_ListenOverflows", &[]),
        Some(44.0)
    );
    assert_eq!(value(&ours, "node_netstat_Ip6_InOctets", &[]), Some(640.0));
    assert_eq!(
        value(&ours, "node_netstat_Tcp_MaxConn", &[]),
        None,
        "not selected"
    );
    let families = netstat_families(&ours);
    assert_eq!(families.len(), 41, "{text}");
    let (kind, help, _) = &families["node_netstat_TcpExt_ListenDrops"];
    assert_eq!(*kind, MetricKind::Untyped);
    assert_eq!(help, "Statistic TcpExtListenDrops.");
    assert_eq!(plugin.last_collect_error("fixture"), None);

    let reference = NodeExporter::start(proc.path());
    let theirs = netstat_families(&reference.scrape());
    assert_eq!(
        families, theirs,
        "the plugin (left) and node_exporter (right) differ on the same files"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn c_netstat_exporter_has_node_exporters_families_on_the_real_proc() {
    let plugin = start("real", Path::new("/proc"), read_grant(Path::new("/proc")));
    let ours = netstat_families(&plugin.collect("real").await);
    assert!(ours.contains_key("node_netstat_Tcp_InSegs"), "{ours:?}");
    let reference = NodeExporter::start(Path::new("/proc"));
    let theirs = netstat_families(&reference.scrape());
    // Values move between the two reads: names, types and HELP only, and
    // a configuration value that does not.
    let shape = |f: &BTreeMap<String, (MetricKind, String, f64)>| {
        f.iter()
            .map(|(name, (kind, help, _))| (name.clone(), (*kind, help.clone())))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(shape(&ours), shape(&theirs));
    assert_eq!(
        ours["node_netstat_Ip_Forwarding"].2,
        theirs["node_netstat_Ip_Forwarding"].2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn c_netstat_exporter_says_which_grant_is_missing() {
    let proc = fixture_proc();
    let plugin = start("ungranted", proc.path(), Grants::default());
    let err = plugin
        .runtime
        .collect("ungranted")
        .await
        .expect_err("collecting without the grant must fail")
        .to_string();
    // A directory to grant, never the file itself (the host refuses a
    // grant of a file).
    let wanted = format!(
        "read path {0}/net/netstat: not granted (add a read_paths grant of a directory that \
         holds it, e.g. {0}/net)",
        proc.path().display()
    );
    assert!(err.contains(&wanted), "{err}");
    assert!(err.contains("denied: read path"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn c_netstat_exporter_fails_clearly_on_hostile_files_and_recovers() {
    let proc = fixture_proc();
    let plugin = start("hostile", proc.path(), read_grant(proc.path()));
    let snmp = proc.path().join("net/snmp");
    let good = std::fs::read(&snmp).unwrap();
    let huge = format!("Tcp: {}\n", "A".repeat(2 << 20));
    let many_fields = {
        let names: Vec<String> = (0..20_000).map(|i| format!("F{i}")).collect();
        let values: Vec<String> = (0..20_000).map(|i| i.to_string()).collect();
        format!("Tcp: {}\nTcp: {}\n", names.join(" "), values.join(" "))
    };
    let cases: [(&[u8], &str); 6] = [
        (
            b"Tcp: InSegs OutSegs\nTcp: 1\n",
            "net/snmp line 1: Tcp has 2 fields but 1 values",
        ),
        (
            b"Tcp: InSegs\nTcp: 12abc\n",
            "Tcp_InSegs is `12abc`, not a number",
        ),
        (
            b"\xff\xfe garbage\n",
            "expected a header such as `Tcp: RtoAlgorithm ...`",
        ),
        (b"Tcp: InSegs\n", "the header of Tcp has no value line"),
        (huge.as_bytes(), "is larger than 1048576 bytes"),
        (many_fields.as_bytes(), "more than 4096 statistics in all"),
    ];
    for (contents, wanted) in cases {
        std::fs::write(&snmp, contents).unwrap();
        let err = plugin
            .runtime
            .collect("hostile")
            .await
            .expect_err("a hostile net/snmp must fail the collect")
            .to_string();
        assert!(err.contains(wanted), "{err}");
        // The next good file recovers.
        std::fs::write(&snmp, &good).unwrap();
        let exposition = plugin.collect("hostile").await;
        assert_eq!(
            value(&exposition, "node_netstat_Tcp_ActiveOpens", &[]),
            Some(434944.0)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn c_netstat_exporter_runs_ten_thousand_collects_without_growing() {
    let proc = fixture_proc();
    let plugin = start("long", proc.path(), read_grant(proc.path()));
    super::assert_memory_settles(&plugin, "long", 10_000, 0.0, |families| {
        assert!(families.iter().any(|f| f.name == "node_netstat_Tcp_InSegs"));
    })
    .await;
}
