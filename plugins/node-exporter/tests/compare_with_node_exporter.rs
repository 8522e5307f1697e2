//! Runs the plugin natively on this machine next to Debian's
//! prometheus-node-exporter 1.5 and checks that both describe the machine
//! with the same metric families (name, type, help, label names) and agree
//! on values that do not move between two scrapes.

use node_exporter::NodeExporter;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};
use wasmetheus_sdk::{Exporter, Kind, Registry};

const BINARY: &str = "/usr/bin/prometheus-node-exporter";

/// The plugin's collectors, all enabled by default in the plugin.
const COLLECTORS: [&str; 11] = [
    "cpu",
    "diskstats",
    "filesystem",
    "loadavg",
    "meminfo",
    "netdev",
    "netstat",
    "stat",
    "time",
    "uname",
    "vmstat",
];

/// The real exporter, killed however the test ends.
struct RunningExporter(Child);

impl Drop for RunningExporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl RunningExporter {
    fn start() -> (RunningExporter, u16) {
        assert!(
            Path::new(BINARY).exists(),
            "{BINARY} is missing: install the Debian package prometheus-node-exporter"
        );
        // A port the kernel just handed out is very likely still free.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(BINARY);
        command
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--collector.disable-defaults")
            .args(COLLECTORS.map(|c| format!("--collector.{c}")))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let exporter = RunningExporter(command.spawn().expect("starting prometheus-node-exporter"));
        (exporter, port)
    }

    /// GET /metrics, retrying while the exporter starts up.
    fn scrape(&mut self, port: u16) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                panic!("prometheus-node-exporter exited early: {status}");
            }
            match http_get(port, "/metrics") {
                Ok(body) => return body,
                Err(err) if Instant::now() > deadline => {
                    panic!("prometheus-node-exporter did not answer on port {port}: {err}")
                }
                Err(_) => sleep(Duration::from_millis(100)),
            }
        }
    }
}

/// A plain HTTP/1.0 GET: the server closes the connection after the body.
fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(format!(
            "unexpected response: {head}"
        )));
    }
    Ok(body.to_string())
}

/// A metric family as either side describes it.
#[derive(Debug, Default)]
struct Family {
    kind: String,
    help: String,
    label_names: BTreeSet<String>,
    samples: Vec<(BTreeMap<String, String>, f64)>,
}

/// Undoes the escapes of HELP text and label values (`\\`, `\n`, `\"`).
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Parses one sample line: `name{a="x",b="y"} value [timestamp]`.
fn parse_sample(line: &str) -> (String, BTreeMap<String, String>, f64) {
    let name_end = line.find(['{', ' ']).expect("sample line without value");
    let name = line[..name_end].to_string();
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(mut inner) = rest.strip_prefix('{') {
        loop {
            inner = inner.trim_start_matches([',', ' ']);
            if let Some(after) = inner.strip_prefix('}') {
                rest = after;
                break;
            }
            let (label, after) = inner.split_once("=\"").expect("label without value");
            // The value ends at the first quote not escaped by a backslash.
            let mut end = 0;
            let bytes = after.as_bytes();
            while bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            labels.insert(label.trim().to_string(), unescape(&after[..end]));
            inner = &after[end + 1..];
        }
    }
    let value = rest
        .split_whitespace()
        .next()
        .expect("sample without value");
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().expect("numeric sample value"),
    };
    (name, labels, value)
}

/// Parses the text exposition format 0.0.4, enough for gauges, counters and
/// untyped families (which is all node_exporter's collectors here produce).
fn parse_exposition(text: &str) -> BTreeMap<String, Family> {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            families.entry(name.into()).or_default().help = unescape(help);
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            families.entry(name.into()).or_default().kind = kind.into();
        } else if !line.is_empty() && !line.starts_with('#') {
            let (name, labels, value) = parse_sample(line);
            let family = families.entry(name).or_default();
            family.label_names.extend(labels.keys().cloned());
            family.samples.push((labels, value));
        }
    }
    families
}

/// The plugin's output described the way the host exposes it in text 0.0.4.
fn describe(out: &Registry) -> BTreeMap<String, Family> {
    out.families()
        .iter()
        .map(|family| {
            let kind = match family.kind {
                Kind::Counter => "counter",
                Kind::Gauge | Kind::Info => "gauge",
                Kind::Untyped => "untyped",
                other => panic!("{}: unexpected kind {other:?}", family.name),
            };
            let samples: Vec<_> = family
                .metrics
                .iter()
                .map(|m| (m.labels.iter().cloned().collect(), m.number().unwrap()))
                .collect();
            let described = Family {
                kind: kind.into(),
                help: family.help.clone(),
                label_names: samples
                    .iter()
                    .flat_map(|(labels, _): &(BTreeMap<String, String>, f64)| {
                        labels.keys().cloned()
                    })
                    .collect(),
                samples,
            };
            (family.name.clone(), described)
        })
        .collect()
}

/// Families whose presence depends on the host: natively the plugin cannot
/// ask for file-system usage (the host's `filesystem-usage` import answers
/// "unavailable"), so it reports only `node_filesystem_device_error`, for
/// different mount points than Debian's defaults select.
fn host_dependent(name: &str) -> bool {
    name.starts_with("node_filesystem_")
}

fn single_value(families: &BTreeMap<String, Family>, name: &str) -> f64 {
    let family = families
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing"));
    assert_eq!(family.samples.len(), 1, "{name}: {:?}", family.samples);
    family.samples[0].1
}

fn label_values(families: &BTreeMap<String, Family>, name: &str, label: &str) -> BTreeSet<String> {
    families
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .samples
        .iter()
        .filter_map(|(labels, _)| labels.get(label).cloned())
        .collect()
}

#[test]
fn plugin_matches_debians_node_exporter() {
    let (mut exporter, port) = RunningExporter::start();
    let theirs = parse_exposition(&exporter.scrape(port));
    drop(exporter);

    let mut plugin = NodeExporter::open("{}").expect("default config opens");
    let mut out = Registry::new();
    plugin.collect(&mut out).expect("collect");
    let ours = describe(&out);

    let mut problems = Vec::new();
    for (name, family) in &ours {
        if family.samples.is_empty() {
            problems.push(format!("{name}: emitted without series"));
        }
        if host_dependent(name) {
            continue;
        }
        let Some(real) = theirs.get(name) else {
            problems.push(format!("{name}: not exposed by node_exporter"));
            continue;
        };
        if family.kind != real.kind {
            problems.push(format!(
                "{name}: TYPE {} but node_exporter says {}",
                family.kind, real.kind
            ));
        }
        if family.help != real.help {
            problems.push(format!(
                "{name}: HELP {:?} but node_exporter says {:?}",
                family.help, real.help
            ));
        }
        if family.label_names != real.label_names {
            problems.push(format!(
                "{name}: labels {:?} but node_exporter has {:?}",
                family.label_names, real.label_names
            ));
        }
    }
    // And the other way round: nothing node_exporter's collectors show here
    // is missing from the plugin (its own build info aside).
    for name in theirs.keys() {
        let from_collectors = name.starts_with("node_") && name != "node_exporter_build_info";
        if from_collectors && !host_dependent(name) && !ours.contains_key(name) {
            problems.push(format!(
                "{name}: exposed by node_exporter, not by the plugin"
            ));
        }
    }
    assert!(problems.is_empty(), "differences:\n{}", problems.join("\n"));
    let compared = ours.keys().filter(|name| !host_dependent(name)).count();
    eprintln!("{compared} families agree with node_exporter's");

    assert_eq!(
        single_value(&ours, "node_memory_MemTotal_bytes"),
        single_value(&theirs, "node_memory_MemTotal_bytes")
    );
    let cpus = |families| label_values(families, "node_cpu_seconds_total", "cpu").len();
    assert_eq!(cpus(&ours), cpus(&theirs));
    let boot_time = |families| single_value(families, "node_boot_time_seconds");
    assert!(
        (boot_time(&ours) - boot_time(&theirs)).abs() <= 1.0,
        "boot time {} vs {}",
        boot_time(&ours),
        boot_time(&theirs)
    );
    let collectors =
        |families| label_values(families, "node_scrape_collector_success", "collector");
    assert_eq!(collectors(&ours), collectors(&theirs));
    let failed: Vec<_> = ours["node_scrape_collector_success"]
        .samples
        .iter()
        .filter(|(_, value)| *value != 1.0)
        .collect();
    assert!(failed.is_empty(), "collectors failed: {failed:?}");
}

#[test]
fn exposition_parser_handles_escapes() {
    let families = parse_exposition(
        "# HELP a_b Help with \\\\ and \\n.\n\
         # TYPE a_b gauge\n\
         a_b{x=\"q\\\"uo,te}\",y=\"\"} 1.5e+09\n\
         a_b 2\n",
    );
    let family = &families["a_b"];
    assert_eq!(family.help, "Help with \\ and \n.");
    assert_eq!(family.kind, "gauge");
    assert_eq!(family.samples[0].0["x"], "q\"uo,te}");
    assert_eq!(family.samples[0].1, 1.5e9);
    assert_eq!(family.samples[1].1, 2.0);
    assert_eq!(
        family.label_names,
        BTreeSet::from(["x".to_string(), "y".to_string()])
    );
}
