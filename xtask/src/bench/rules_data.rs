//! The data of `cargo xtask bench rules`: the synthetic targets both
//! servers scrape (request counters, classic histograms, CPU counters and
//! gauges, every value changing every scrape), the scrape configuration in
//! two jobs, and the generated rule file.

use std::fmt::Write as _;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::support::{listen_targets, mix, serve_scrapes};
use crate::Result;

// ---------------------------------------------------------------------------
// Synthetic targets

const METHODS: [&str; 2] = ["GET", "POST"];
const CODES: [&str; 8] = ["200", "201", "204", "304", "400", "404", "500", "503"];
/// Classic histogram bucket bounds (`+Inf` is added).
const BUCKETS: [&str; 11] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
];
/// The cumulative share of observations under each bound, before a
/// handler's skew.
const CDF: [f64; 11] = [
    0.02, 0.05, 0.12, 0.25, 0.45, 0.65, 0.8, 0.9, 0.96, 0.99, 0.998,
];
const CPUS: usize = 4;
const MODES: [&str; 8] = [
    "user", "system", "idle", "iowait", "irq", "softirq", "steal", "nice",
];
const QUEUES: usize = 10;
const AREAS: [&str; 4] = ["heap", "stack", "cache", "buffers"];

/// The synthetic targets, each on its own listener and thread, with a
/// thread per connection (a scraper keeps its connection alive; a previous
/// server's connections may linger).
pub(crate) struct Targets {
    pub(crate) addrs: Vec<SocketAddr>,
    handlers: usize,
    scrapes: Arc<AtomicU64>,
}

impl Targets {
    pub(crate) fn start(targets: usize, handlers: usize) -> Result<Targets> {
        let scrapes = Arc::new(AtomicU64::new(0));
        let addrs = listen_targets(targets, |t| {
            let total = Arc::clone(&scrapes);
            let own = AtomicU64::new(0);
            move |stream| serve(stream, t, handlers, &own, &total)
        })?;
        Ok(Targets {
            addrs,
            handlers,
            scrapes,
        })
    }

    pub(crate) fn series_per_target(&self) -> usize {
        series_per_target(self.handlers)
    }

    /// Scrapes served so far, over all targets.
    pub(crate) fn served_scrapes(&self) -> u64 {
        self.scrapes.load(Ordering::Relaxed)
    }
}

fn series_per_target(handlers: usize) -> usize {
    handlers * METHODS.len() * (CODES.len() + BUCKETS.len() + 3)
        + CPUS * MODES.len()
        + QUEUES
        + AREAS.len()
}

/// Answers GETs on a kept-alive connection until the client closes it.
fn serve(stream: TcpStream, target: usize, handlers: usize, own: &AtomicU64, total: &AtomicU64) {
    serve_scrapes(
        stream,
        1 << 16,
        |body| {
            let n = own.fetch_add(1, Ordering::Relaxed);
            render_target(body, target, handlers, n);
        },
        || {
            total.fetch_add(1, Ordering::Relaxed);
        },
    );
}

/// A counter at scrape `n` rising by `rate` per scrape on average and by
/// at least `rate` between scrapes: never falling.
fn counter(id: u64, n: u64, rate: u64) -> u64 {
    let rate = rate.max(1);
    id % 1000 + n * rate + mix(id ^ n) % rate
}

/// Scrape `n` of `target`. Counters rise every scrape; histogram buckets
/// are the count times a per-handler cumulative share, so they rise too.
fn render_target(w: &mut Vec<u8>, target: usize, handlers: usize, n: u64) {
    let id = |family: u64, i: usize| mix(((target as u64) << 40) ^ (family << 32) ^ i as u64);
    let _ = w.write_all(
        b"# HELP bench_http_requests_total Synthetic requests.\n\
          # TYPE bench_http_requests_total counter\n",
    );
    for h in 0..handlers {
        for (m, method) in METHODS.iter().enumerate() {
            for (c, code) in CODES.iter().enumerate() {
                let id = id(1, (h * METHODS.len() + m) * CODES.len() + c);
                let rate = match code.as_bytes()[0] {
                    b'2' | b'3' => 5 + id % 20,
                    b'4' => 1 + id % 3,
                    _ => id % 3,
                };
                let _ = writeln!(
                    w,
                    "bench_http_requests_total{{handler=\"/api/h{h}\",method=\"{method}\",\
                     code=\"{code}\"}} {}",
                    if rate == 0 {
                        id % 1000
                    } else {
                        counter(id, n, rate)
                    }
                );
            }
        }
    }
    let name = "bench_http_request_duration_seconds";
    let _ = write!(
        w,
        "# HELP {name} Synthetic request latency.\n# TYPE {name} histogram\n"
    );
    for h in 0..handlers {
        // Slower handlers: the shares rise later.
        let skew = 1.0 + (h % 5) as f64 * 0.3;
        for (m, method) in METHODS.iter().enumerate() {
            let id = id(2, h * METHODS.len() + m);
            let count = counter(id, n, 10 + id % 30);
            let labels = format!("handler=\"/api/h{h}\",method=\"{method}\"");
            for (le, share) in BUCKETS.iter().zip(CDF) {
                let bucket = (count as f64 * share.powf(skew)).floor();
                let _ = writeln!(w, "{name}_bucket{{{labels},le=\"{le}\"}} {bucket}");
            }
            let _ = writeln!(w, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
            let mean = 0.1 + 0.05 * (h % 5) as f64;
            let _ = writeln!(w, "{name}_sum{{{labels}}} {:.3}", count as f64 * mean);
            let _ = writeln!(w, "{name}_count{{{labels}}} {count}");
        }
    }
    let _ = w.write_all(
        b"# HELP bench_cpu_seconds_total Synthetic CPU time.\n\
          # TYPE bench_cpu_seconds_total counter\n",
    );
    for cpu in 0..CPUS {
        for (i, mode) in MODES.iter().enumerate() {
            let id = id(3, cpu * MODES.len() + i);
            let hundredths = counter(id, n, 1 + id % 50);
            let _ = writeln!(
                w,
                "bench_cpu_seconds_total{{cpu=\"{cpu}\",mode=\"{mode}\"}} {}.{:02}",
                hundredths / 100,
                hundredths % 100
            );
        }
    }
    let _ = w.write_all(
        b"# HELP bench_queue_length Synthetic queue length.\n\
          # TYPE bench_queue_length gauge\n",
    );
    for q in 0..QUEUES {
        let id = id(4, q);
        let _ = writeln!(
            w,
            "bench_queue_length{{queue=\"q{q}\"}} {}",
            id % 100 + mix(id ^ n) % 10
        );
    }
    let _ = w.write_all(
        b"# HELP bench_memory_bytes Synthetic memory use.\n\
          # TYPE bench_memory_bytes gauge\n",
    );
    for (a, area) in AREAS.iter().enumerate() {
        let id = id(5, a);
        let _ = writeln!(
            w,
            "bench_memory_bytes{{area=\"{area}\"}} {}",
            (1 + id % 100) * 1_000_000 + mix(id ^ n) % 100_000
        );
    }
}

/// The scrape configuration: the targets split over two jobs, and the rule
/// file when given.
pub(crate) fn scrape_config(
    addrs: &[SocketAddr],
    interval_ms: i64,
    rules: Option<&Path>,
) -> String {
    let mut s = String::new();
    let interval = format!("{interval_ms}ms");
    // scrape_timeout equal to the interval: Prometheus rejects a timeout
    // longer than the interval, and the default (10 s) would be.
    let _ = writeln!(
        s,
        "# Written by `cargo xtask bench rules`.\nglobal:\n  scrape_interval: {interval}\n  \
         scrape_timeout: {interval}"
    );
    if let Some(rules) = rules {
        let _ = writeln!(s, "rule_files:\n  - '{}'", rules.display());
    }
    s.push_str("scrape_configs:\n");
    for (j, job) in ["bench-api", "bench-worker"].iter().enumerate() {
        let _ = writeln!(
            s,
            "  - job_name: {job}\n    static_configs:\n      - targets:"
        );
        for a in addrs.iter().skip(j).step_by(2) {
            let _ = writeln!(s, "          - '{a}'");
        }
        if addrs.len() <= j {
            s.push_str("          []\n");
        }
    }
    s
}

// ---------------------------------------------------------------------------
// The rule file

/// What the rule file is generated for.
pub(crate) struct Shape {
    pub(crate) rules: usize,
    pub(crate) groups: usize,
    /// The groups' evaluation interval.
    pub(crate) interval_ms: i64,
    pub(crate) targets: usize,
    pub(crate) handlers: usize,
    pub(crate) scrape_interval_ms: i64,
}

/// A generated rule file.
pub(crate) struct RuleFile {
    pub(crate) text: String,
    pub(crate) recording: usize,
    pub(crate) alerting: usize,
    /// Samples the rules' selectors read when every group runs once: the
    /// series each selects times the samples in its range (one without a
    /// range), an estimate from the shape of the data.
    pub(crate) samples_read_per_round: u64,
}

/// A YAML single-quoted scalar.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `o.rules` rules in `o.groups` groups (sizes differing by at most one),
/// every group evaluated every `o.interval_ms`. Within a group, rules
/// cycle through ten kinds; the ones reading another rule's output read an
/// earlier rule of the same group, which the group evaluated just before.
pub(crate) fn rule_file(o: &Shape) -> RuleFile {
    let mut f = RuleFile {
        text: String::from("# Written by `cargo xtask bench rules`.\ngroups:\n"),
        recording: 0,
        alerting: 0,
        samples_read_per_round: 0,
    };
    let t = o.targets as u64;
    // Samples in a `[1m]` range at the scrape interval.
    let range = (60_000 / o.scrape_interval_ms.max(1)) as u64;
    let codes = (METHODS.len() * CODES.len()) as u64;
    for g in 0..o.groups {
        let size = o.rules / o.groups + usize::from(g < o.rules % o.groups);
        let _ = writeln!(
            f.text,
            "  - name: g{g:02}\n    interval: {}ms\n    rules:",
            o.interval_ms
        );
        let mut names: Vec<String> = Vec::with_capacity(size);
        for i in 0..size {
            let block = g * 7 + i / 10;
            f.samples_read_per_round += match i % 10 {
                0 => codes * t * range,
                1 => 2 * CODES.len() as u64,
                2 => (codes + 2 * 2) * t * range,
                3 => 2 * (BUCKETS.len() as u64 + 1) * t * range,
                4 => 2 * 2 * t * range,
                5 => t * range,
                6 => CPUS as u64 * t * range,
                7 if block % 2 == 0 => CODES.len() as u64 * o.handlers as u64 * t,
                7 => t * range,
                8 => 2,
                _ => CPUS as u64 * t * range,
            };
            let h = format!("/api/h{}", block % o.handlers);
            let prefix = format!("g{g:02}_r{i:03}");
            let (name, expr) = match i % 10 {
                0 => (
                    "job_code:bench_http_requests:rate1m",
                    format!(
                        "sum by (job, code) (rate(bench_http_requests_total{{handler=\"{h}\"}}[1m]))"
                    ),
                ),
                1 => (
                    "job:bench_http_requests:rate1m",
                    format!("sum by (job) ({})", names[i - 1]),
                ),
                2 => (
                    "job:bench_http_errors:ratio_rate1m",
                    format!(
                        "sum by (job) (rate(bench_http_requests_total{{handler=\"{h}\",code=~\"5..\"}}[1m])) \
                         / sum by (job) (rate(bench_http_requests_total{{handler=\"{h}\"}}[1m]))"
                    ),
                ),
                3 => (
                    "job:bench_http_request_duration_seconds:p90_rate1m",
                    format!(
                        "histogram_quantile(0.9, sum by (le, job) \
                         (rate(bench_http_request_duration_seconds_bucket{{handler=\"{h}\"}}[1m])))"
                    ),
                ),
                4 => (
                    "job_method:bench_http_request_duration_seconds:mean_rate1m",
                    format!(
                        "sum by (job, method) (rate(bench_http_request_duration_seconds_sum{{handler=\"{h}\"}}[1m])) \
                         / sum by (job, method) (rate(bench_http_request_duration_seconds_count{{handler=\"{h}\"}}[1m]))"
                    ),
                ),
                5 => (
                    "instance:bench_queue_length:avg1m",
                    format!(
                        "avg_over_time(bench_queue_length{{queue=\"q{}\"}}[1m])",
                        block % QUEUES
                    ),
                ),
                6 => (
                    "instance_mode:bench_cpu_seconds:rate1m",
                    format!(
                        "sum without (cpu) (rate(bench_cpu_seconds_total{{mode=\"{}\"}}[1m]))",
                        MODES[block % MODES.len()]
                    ),
                ),
                7 if block % 2 == 0 => (
                    "job_code:bench_http_requests:count",
                    format!(
                        "count by (job, code) (bench_http_requests_total{{method=\"{}\"}})",
                        METHODS[(block / 2) % METHODS.len()]
                    ),
                ),
                7 => (
                    "job:bench_memory_bytes:max1m",
                    format!(
                        "max by (job) (max_over_time(bench_memory_bytes{{area=\"{}\"}}[1m]))",
                        AREAS[(block / 2) % AREAS.len()]
                    ),
                ),
                8 => {
                    let _ = write!(
                        f.text,
                        "      - alert: BenchErrorRatio_{prefix}\n        expr: {}\n        for: 10s\n        \
                         labels:\n          severity: warning\n        annotations:\n          \
                         summary: {}\n          description: {}\n",
                        quote(&format!("{} > 0.02", names[i - 6])),
                        quote("High error ratio on {{ $labels.job }}"),
                        quote(&format!(
                            "{{{{ $labels.job }}}} answers {{{{ $value | humanizePercentage }}}} of requests \
                             to {h} with an error"
                        )),
                    );
                    f.alerting += 1;
                    names.push(format!("BenchErrorRatio_{prefix}"));
                    continue;
                }
                _ => {
                    let _ = write!(
                        f.text,
                        "      - alert: BenchCpuBusy_{prefix}\n        expr: {}\n        for: 5s\n        \
                         labels:\n          severity: info\n          team: '{}'\n        annotations:\n          \
                         summary: {}\n          description: {}\n",
                        quote(&format!(
                            "rate(bench_cpu_seconds_total{{mode=\"{}\"}}[1m]) > 0.25",
                            MODES[(block + 1) % 3]
                        )),
                        ["storage", "network", "compute"][block % 3],
                        quote("{{ $labels.instance }} cpu {{ $labels.cpu }} busy"),
                        quote(
                            "{{ $labels.instance }} ({{ $labels.job }}) spends {{ $value | humanize }}s/s in \
                               {{ $labels.mode }}"
                        ),
                    );
                    f.alerting += 1;
                    names.push(format!("BenchCpuBusy_{prefix}"));
                    continue;
                }
            };
            let record = format!("{prefix}:{name}");
            let _ = write!(
                f.text,
                "      - record: {record}\n        expr: {}\n",
                quote(&expr)
            );
            f.recording += 1;
            names.push(record);
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn options(rules: usize, groups: usize) -> Shape {
        Shape {
            rules,
            groups,
            interval_ms: 2000,
            targets: 20,
            handlers: 3,
            scrape_interval_ms: 1000,
        }
    }

    #[test]
    fn rule_file_has_the_rules_asked_for_with_unique_names() {
        for (rules, groups) in [(300, 15), (7, 3), (31, 2)] {
            let f = rule_file(&options(rules, groups));
            assert_eq!(f.recording + f.alerting, rules);
            assert_eq!(f.text.matches("  - name: g").count(), groups);
            let names: Vec<&str> = f
                .text
                .lines()
                .filter_map(|l| {
                    let l = l.trim();
                    l.strip_prefix("- record: ")
                        .or_else(|| l.strip_prefix("- alert: "))
                })
                .collect();
            assert_eq!(names.len(), rules);
            assert_eq!(names.iter().collect::<BTreeSet<_>>().len(), rules);
            assert_eq!(f.text.matches("- record: ").count(), f.recording);
        }
        let f = rule_file(&options(300, 15));
        assert_eq!((f.recording, f.alerting), (240, 60));
    }

    #[test]
    fn rules_read_only_earlier_rules_of_their_group() {
        let f = rule_file(&options(40, 2));
        let mut seen: Vec<String> = Vec::new();
        for line in f.text.lines().map(str::trim) {
            if line.starts_with("- name: ") {
                seen.clear();
            } else if let Some(name) = line.strip_prefix("- record: ") {
                seen.push(name.to_owned());
            } else if let Some(expr) = line.strip_prefix("expr: ") {
                for word in expr.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')) {
                    if word.contains(':') && word.starts_with('g') {
                        assert!(
                            seen.iter().any(|s| s == word),
                            "{word} read before recorded"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn targets_expose_the_series_counted_and_counters_rise() {
        let scrape = |n| {
            let mut w = Vec::new();
            render_target(&mut w, 1, 3, n);
            String::from_utf8(w).unwrap()
        };
        let samples = |t: &str| -> Vec<(String, f64)> {
            t.lines()
                .filter(|l| !l.starts_with('#'))
                .map(|l| {
                    let (k, v) = l.rsplit_once(' ').unwrap();
                    (k.to_owned(), v.parse().unwrap())
                })
                .collect()
        };
        let a = samples(&scrape(10));
        let b = samples(&scrape(11));
        assert_eq!(a.len(), series_per_target(3));
        for ((ka, va), (kb, vb)) in a.iter().zip(&b) {
            assert_eq!(ka, kb);
            if ka.contains("_total") || ka.contains("_bucket") || ka.contains("_count") {
                assert!(vb >= va, "{ka}: {va} then {vb}");
            }
        }
        // Buckets are cumulative: +Inf holds the count.
        let bucket = |le: &str| {
            a.iter()
                .find(|(k, _)| k.contains("h0\",method=\"GET\",le=\"") && k.contains(le))
                .map(|(_, v)| *v)
                .unwrap()
        };
        assert!(bucket("\"0.005\"") <= bucket("\"1\""));
        assert!(bucket("\"1\"") <= bucket("\"+Inf\""));
    }

    #[test]
    fn jobs_split_the_targets() {
        let addrs: Vec<SocketAddr> = (0..3)
            .map(|p| SocketAddr::from(([127, 0, 0, 1], 9000 + p)))
            .collect();
        let c = scrape_config(&addrs, 1000, Some(Path::new("/x/rules.yml")));
        assert!(c.contains("rule_files:\n  - '/x/rules.yml'"));
        let api = c.split("bench-worker").next().unwrap();
        assert!(api.contains(":9000'") && api.contains(":9002'") && !api.contains(":9001'"));
        assert!(!scrape_config(&addrs, 1000, None).contains("rule_files"));
    }
}
