//! The data set the `storage` and `query` benchmarks load into every
//! server: synthetic targets of 50 series each (counters, a histogram,
//! gauges, info metrics) scraped every 15 s, generated deterministically
//! and written as OpenMetrics (for the backfill tools) or as Prometheus
//! text with millisecond timestamps (for VictoriaMetrics' import API);
//! and the calendar dates of its range, through jiff.

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use jiff::civil::DateTime;
use jiff::tz::Offset;
use jiff::{Timestamp, ToSpan};

use crate::Result;

pub(crate) const INTERVAL_MS: i64 = 15_000;
/// Prometheus cuts blocks at 2 h boundaries: data ending on one keeps a
/// 2 h run in a single block.
pub(crate) const BLOCK_MS: i64 = 2 * 3600 * 1000;
const SEED: u64 = 0x5EED_2026_0001;

/// Every metric name of the data set (`bench query` counts the samples
/// a server holds name by name).
pub(crate) const METRIC_NAMES: [&str; 13] = [
    "http_requests_total",
    "http_request_duration_seconds_bucket",
    "http_request_duration_seconds_count",
    "http_request_duration_seconds_sum",
    "node_cpu_seconds_total",
    "node_network_receive_bytes_total",
    "node_network_transmit_bytes_total",
    "node_hwmon_temp_celsius",
    "node_memory_usage_megabytes",
    "up",
    "node_uname_info",
    "build_info",
    "node_boot_time_seconds",
];

/// xorshift64*: deterministic, so every run generates the same values.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // Scramble so nearby seeds give unrelated streams; never zero.
        Rng((seed ^ 0x9E37_79B9_7F4A_7C15).wrapping_mul(0xBF58_476D_1CE4_E5B9) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Target {
    /// `job="…",instance="…",…`, shared by every series of the target.
    labels: String,
    /// Scrape timestamps in milliseconds, shared by every series.
    times: Vec<i64>,
}

/// One OpenMetrics MetricPoint stream: the series written together per
/// timestamp (a histogram's buckets, count and sum; otherwise one series).
struct Metric {
    target: usize,
    series: Vec<Series>,
}

struct Series {
    /// `name{labels}`.
    prefix: String,
    /// Values as integers of their last printed digit, so both formats
    /// print exactly the same text.
    values: Vec<i64>,
    decimals: u8,
}

struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    metrics: Vec<Metric>,
}

pub(crate) struct Dataset {
    targets: Vec<Target>,
    families: Vec<Family>,
    pub(crate) samples: u64,
    pub(crate) start_ms: i64,
    pub(crate) end_ms: i64,
}

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Format {
    /// Seconds with millisecond decimals, `# TYPE`/`# HELP`, `# EOF`.
    OpenMetrics,
    /// Prometheus text with millisecond timestamps, as VictoriaMetrics'
    /// `/api/v1/import/prometheus` takes it.
    PrometheusMillis,
}

const BUCKETS: [(&str, f64); 11] = [
    ("0.005", 0.005),
    ("0.01", 0.01),
    ("0.025", 0.025),
    ("0.05", 0.05),
    ("0.1", 0.1),
    ("0.25", 0.25),
    ("0.5", 0.5),
    ("1", 1.0),
    ("2.5", 2.5),
    ("5", 5.0),
    ("10", 10.0),
];

impl Dataset {
    /// `targets` targets over the last `duration_ms` (whole intervals)
    /// before the latest 2 h boundary, written to `path` as OpenMetrics.
    pub(crate) fn generate_file(targets: usize, duration_ms: i64, path: &Path) -> Result<Dataset> {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_millis() as i64;
        let end_ms = now_ms / BLOCK_MS * BLOCK_MS;
        let start_ms = end_ms - duration_ms / INTERVAL_MS * INTERVAL_MS;
        let data = Dataset::generate(targets, start_ms, end_ms);
        let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        data.write(&mut w, Format::OpenMetrics)
            .and_then(|()| w.flush())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(data)
    }

    /// `targets` targets of 50 series each, scraped every 15 s in
    /// [start_ms, end_ms).
    pub(crate) fn generate(targets: usize, start_ms: i64, end_ms: i64) -> Dataset {
        let points = ((end_ms - start_ms) / INTERVAL_MS) as usize;
        let jobs = ["node", "api", "worker", "db"];
        let regions = ["eu-west-1", "us-east-1", "ap-south-1"];
        let targets: Vec<Target> = (0..targets)
            .map(|t| {
                let mut rng = Rng::new(SEED ^ ((t as u64) << 8));
                // Targets are spread over the interval, as Prometheus does;
                // the margins keep jittered samples inside [start, end).
                let offset = 10 + rng.below(INTERVAL_MS as u64 - 20) as i64;
                let jitter = t % 2 == 1;
                let times = (0..points)
                    .map(|i| {
                        let j = if jitter { rng.below(9) as i64 - 4 } else { 0 };
                        start_ms + offset + i as i64 * INTERVAL_MS + j
                    })
                    .collect();
                let labels = format!(
                    "job=\"{}\",instance=\"10.{}.{}.{}:9100\",cluster=\"k8s-{}\",env=\"{}\",region=\"{}\"",
                    jobs[t % jobs.len()],
                    t / 65_536 % 256,
                    t / 256 % 256,
                    t % 256,
                    t % 3,
                    if t % 5 == 0 { "staging" } else { "prod" },
                    regions[t % regions.len()],
                );
                Target { labels, times }
            })
            .collect();

        // (name, kind, help, per-target generator of its metrics)
        type Gen = fn(&mut Rng, &Target, usize, i64) -> Vec<Metric>;
        let specs: [(&str, &str, &str, Gen); 11] = [
            ("http_requests", "counter", "Requests served.", gen_requests),
            (
                "http_request_duration_seconds",
                "histogram",
                "Request latency.",
                gen_latency,
            ),
            ("node_cpu_seconds", "counter", "CPU time per mode.", gen_cpu),
            (
                "node_network_receive_bytes",
                "counter",
                "Bytes received.",
                |r, t, n, s| gen_bytes(r, t, n, s, "node_network_receive_bytes_total", 2e6),
            ),
            (
                "node_network_transmit_bytes",
                "counter",
                "Bytes sent.",
                |r, t, n, s| gen_bytes(r, t, n, s, "node_network_transmit_bytes_total", 8e5),
            ),
            (
                "node_hwmon_temp_celsius",
                "gauge",
                "Sensor temperature.",
                gen_temp,
            ),
            (
                "node_memory_usage_megabytes",
                "gauge",
                "Memory in use.",
                gen_memory,
            ),
            (
                "up",
                "gauge",
                "Whether the scrape succeeded.",
                |_, t, n, _| constant(t, "up", "", n, 1),
            ),
            (
                "node_uname_info",
                "gauge",
                "Kernel identity.",
                |r, t, n, _| {
                    let extra = format!(
                        ",nodename=\"host-{}\",release=\"6.1.0-{}-amd64\"",
                        r.below(10_000),
                        20 + r.below(8)
                    );
                    constant(t, "node_uname_info", &extra, n, 1)
                },
            ),
            ("build_info", "gauge", "Build identity.", |r, t, n, _| {
                let extra = format!(
                    ",version=\"2.{}.0\",revision=\"{:012x}\"",
                    r.below(5) + 40,
                    r.next() >> 16
                );
                constant(t, "build_info", &extra, n, 1)
            }),
            (
                "node_boot_time_seconds",
                "gauge",
                "Boot time.",
                |r, t, n, start| {
                    let boot = start / 1000 - 3600 - r.below(30 * 86_400) as i64;
                    constant(t, "node_boot_time_seconds", "", n, boot)
                },
            ),
        ];
        let families: Vec<Family> = specs
            .iter()
            .enumerate()
            .map(|(f, &(name, kind, help, generate))| Family {
                name,
                kind,
                help,
                metrics: targets
                    .iter()
                    .enumerate()
                    .flat_map(|(t, target)| {
                        let mut rng = Rng::new(SEED ^ ((f as u64) << 32) ^ t as u64);
                        let mut metrics = generate(&mut rng, target, points, start_ms);
                        for m in &mut metrics {
                            m.target = t;
                        }
                        metrics
                    })
                    .collect(),
            })
            .collect();
        let samples = families
            .iter()
            .flat_map(|f| &f.metrics)
            .map(|m| (m.series.len() * points) as u64)
            .sum();
        Dataset {
            targets,
            families,
            samples,
            start_ms,
            end_ms,
        }
    }

    pub(crate) fn num_targets(&self) -> usize {
        self.targets.len()
    }

    pub(crate) fn num_series(&self) -> usize {
        self.families
            .iter()
            .flat_map(|f| &f.metrics)
            .map(|m| m.series.len())
            .sum()
    }

    /// Family after family, never interleaved; within one, metric after
    /// metric, each a run of MetricPoints in time order, as OpenMetrics
    /// requires and promtool expects (samples of a series in time order).
    pub(crate) fn write(&self, w: &mut dyn Write, format: Format) -> io::Result<()> {
        for family in &self.families {
            if format == Format::OpenMetrics {
                writeln!(w, "# TYPE {} {}", family.name, family.kind)?;
                writeln!(w, "# HELP {} {}", family.name, family.help)?;
            }
            for metric in &family.metrics {
                let times = &self.targets[metric.target].times;
                for (i, &t) in times.iter().enumerate() {
                    for s in &metric.series {
                        w.write_all(s.prefix.as_bytes())?;
                        w.write_all(b" ")?;
                        write_fixed(w, s.values[i], s.decimals)?;
                        match format {
                            Format::OpenMetrics => writeln!(w, " {}.{:03}", t / 1000, t % 1000)?,
                            Format::PrometheusMillis => writeln!(w, " {t}")?,
                        }
                    }
                }
            }
        }
        if format == Format::OpenMetrics {
            writeln!(w, "# EOF")?;
        }
        Ok(())
    }
}

/// `units` × 10^-decimals, printed exactly.
fn write_fixed(w: &mut dyn Write, units: i64, decimals: u8) -> io::Result<()> {
    if decimals == 0 {
        return write!(w, "{units}");
    }
    let scale = 10i64.pow(u32::from(decimals));
    let sign = if units < 0 { "-" } else { "" };
    let a = units.unsigned_abs();
    write!(
        w,
        "{sign}{}.{:0width$}",
        a / scale as u64,
        a % scale as u64,
        width = usize::from(decimals)
    )
}

fn series(target: &Target, name: &str, extra: &str, decimals: u8, values: Vec<i64>) -> Series {
    Series {
        prefix: format!("{name}{{{}{extra}}}", target.labels),
        values,
        decimals,
    }
}

fn single(s: Series) -> Metric {
    Metric {
        target: 0,
        series: vec![s],
    }
}

/// A counter rising by about `mean` per scrape (a Bernoulli trial when the
/// mean is below one, like rare errors), from a random start.
fn counter(rng: &mut Rng, points: usize, start: u64, mean: f64) -> Vec<i64> {
    let mut v = rng.below(start.max(1)) as i64;
    (0..points)
        .map(|_| {
            v += if mean < 1.0 {
                i64::from(rng.unit() < mean)
            } else {
                (mean * (0.5 + rng.unit())).round() as i64
            };
            v
        })
        .collect()
}

/// A gauge walking by up to ±`step` per scrape within [lo, hi].
fn walk(rng: &mut Rng, points: usize, lo: i64, hi: i64, step: i64) -> Vec<i64> {
    let mut v = lo + rng.below((hi - lo) as u64 / 2 + 1) as i64 + (hi - lo) / 4;
    (0..points)
        .map(|_| {
            v = (v + rng.below(2 * step as u64 + 1) as i64 - step).clamp(lo, hi);
            v
        })
        .collect()
}

fn constant(target: &Target, name: &str, extra: &str, points: usize, v: i64) -> Vec<Metric> {
    vec![single(series(target, name, extra, 0, vec![v; points]))]
}

fn gen_requests(rng: &mut Rng, target: &Target, points: usize, _: i64) -> Vec<Metric> {
    let mut out = Vec::new();
    for (method, scale) in [("GET", 1.0), ("POST", 0.15)] {
        for (code, share) in [("200", 400.0), ("404", 3.0), ("500", 0.2)] {
            let extra = format!(",method=\"{method}\",code=\"{code}\"");
            let values = counter(rng, points, 10_000_000, share * scale);
            out.push(single(series(
                target,
                "http_requests_total",
                &extra,
                0,
                values,
            )));
        }
    }
    out
}

/// One histogram: 12 cumulative buckets, `_count`, and `_sum` in seconds
/// with 3 decimals, fed by ~100 log-normal-ish observations per scrape.
fn gen_latency(rng: &mut Rng, target: &Target, points: usize, _: i64) -> Vec<Metric> {
    let name = "http_request_duration_seconds";
    let mut buckets = vec![vec![0i64; points]; BUCKETS.len() + 1];
    let (mut count, mut sum_ms) = (vec![0i64; points], vec![0i64; points]);
    let mut acc = vec![rng.below(100_000) as i64; BUCKETS.len() + 1];
    let mut acc_sum = acc[0] * 40;
    for i in 0..points {
        for _ in 0..50 + rng.below(100) {
            let z = rng.unit() + rng.unit() + rng.unit() + rng.unit() - 2.0;
            let latency = 0.03 * (2.5 * z).exp();
            acc_sum += (latency * 1000.0).round() as i64;
            let first = BUCKETS
                .iter()
                .position(|&(_, le)| latency <= le)
                .unwrap_or(BUCKETS.len());
            for a in &mut acc[first..] {
                *a += 1;
            }
        }
        for (b, a) in buckets.iter_mut().zip(&acc) {
            b[i] = *a;
        }
        count[i] = acc[BUCKETS.len()];
        sum_ms[i] = acc_sum;
    }
    let handler = ",handler=\"/api/v1/query\"";
    let mut series_list: Vec<Series> = BUCKETS
        .iter()
        .map(|&(le, _)| le)
        .chain(["+Inf"])
        .zip(buckets)
        .map(|(le, values)| {
            let extra = format!("{handler},le=\"{le}\"");
            series(target, &format!("{name}_bucket"), &extra, 0, values)
        })
        .collect();
    series_list.push(series(target, &format!("{name}_count"), handler, 0, count));
    series_list.push(series(target, &format!("{name}_sum"), handler, 3, sum_ms));
    vec![Metric {
        target: 0,
        series: series_list,
    }]
}

/// 4 CPUs × 4 modes, in hundredths of a second.
fn gen_cpu(rng: &mut Rng, target: &Target, points: usize, _: i64) -> Vec<Metric> {
    let mut out = Vec::new();
    for cpu in 0..4 {
        for (mode, share) in [
            ("idle", 0.7),
            ("iowait", 0.01),
            ("system", 0.05),
            ("user", 0.2),
        ] {
            let extra = format!(",cpu=\"{cpu}\",mode=\"{mode}\"");
            let values = counter(rng, points, 100_000_000, 1500.0 * share);
            out.push(single(series(
                target,
                "node_cpu_seconds_total",
                &extra,
                2,
                values,
            )));
        }
    }
    out
}

fn gen_bytes(
    rng: &mut Rng,
    target: &Target,
    points: usize,
    _: i64,
    name: &str,
    mean: f64,
) -> Vec<Metric> {
    [("eth0", mean), ("lo", mean / 40.0)]
        .into_iter()
        .map(|(device, mean)| {
            let extra = format!(",device=\"{device}\"");
            single(series(
                target,
                name,
                &extra,
                0,
                counter(rng, points, 1 << 40, mean),
            ))
        })
        .collect()
}

/// Four sensors, 25–95 °C in hundredths.
fn gen_temp(rng: &mut Rng, target: &Target, points: usize, _: i64) -> Vec<Metric> {
    (1..=4)
        .map(|sensor| {
            let extra = format!(",chip=\"platform_coretemp_0\",sensor=\"temp{sensor}\"");
            let values = walk(rng, points, 2500, 9500, 50);
            single(series(target, "node_hwmon_temp_celsius", &extra, 2, values))
        })
        .collect()
}

/// Used and cached memory, 1–16 GB in hundredths of a megabyte.
fn gen_memory(rng: &mut Rng, target: &Target, points: usize, _: i64) -> Vec<Metric> {
    ["used", "cached"]
        .into_iter()
        .map(|kind| {
            let extra = format!(",kind=\"{kind}\"");
            let values = walk(rng, points, 100_000, 1_600_000, 2500);
            single(series(
                target,
                "node_memory_usage_megabytes",
                &extra,
                2,
                values,
            ))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Calendar

/// The UTC civil time of a Unix time in milliseconds (clamped to jiff's
/// years -9999 to 9999, far beyond any data set).
fn utc(ms: i64) -> DateTime {
    let t = Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    });
    Offset::UTC.to_datetime(t)
}

/// `2024-02-29T00:00:00Z`: whole seconds, rounded down.
pub(crate) fn rfc3339(ms: i64) -> String {
    utc(ms).strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// VictoriaMetrics' monthly partition names (`YYYY_MM`) covering a range.
pub(crate) fn months(from_ms: i64, to_ms: i64) -> Vec<String> {
    let last = utc(to_ms).date();
    let mut month = utc(from_ms).date().first_of_month();
    let mut out = Vec::new();
    loop {
        out.push(month.strftime("%Y_%m").to_string());
        match month.checked_add(1.month()) {
            Ok(next) if next <= last => month = next,
            _ => return out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(19_723 * 86_400_000), "2024-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_709_164_800_000), "2024-02-29T00:00:00Z");
        // Whole seconds, rounded down, as before and after the epoch.
        assert_eq!(rfc3339(1_709_164_859_999), "2024-02-29T00:00:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(
            months(1_709_164_800_000, 1_709_251_200_000),
            ["2024_02", "2024_03"]
        );
        // One month; a year boundary; an empty range names the first month.
        assert_eq!(months(1_709_164_800_000, 1_709_164_800_000), ["2024_02"]);
        assert_eq!(
            months(1_703_980_800_000, 1_704_153_600_000),
            ["2023_12", "2024_01"]
        );
        assert_eq!(months(1_709_251_200_000, 1_709_164_800_000), ["2024_03"]);
    }

    #[test]
    fn generated_text_is_ordered_and_deterministic() {
        let start = 1_700_000_000_000 / BLOCK_MS * BLOCK_MS;
        let data = Dataset::generate(3, start, start + 10 * INTERVAL_MS);
        assert_eq!(data.num_series(), 150);
        assert_eq!(data.samples, 1500);
        let mut a = Vec::new();
        data.write(&mut a, Format::OpenMetrics).unwrap();
        let mut b = Vec::new();
        Dataset::generate(3, start, start + 10 * INTERVAL_MS)
            .write(&mut b, Format::OpenMetrics)
            .unwrap();
        assert_eq!(a, b);
        let text = String::from_utf8(a).unwrap();
        assert!(text.ends_with("# EOF\n"));
        // METRIC_NAMES lists exactly the names written.
        let mut names: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split('{').next())
            .collect();
        names.sort_unstable();
        names.dedup();
        let mut expected = METRIC_NAMES.to_vec();
        expected.sort_unstable();
        assert_eq!(names, expected);
        // Within a series, time strictly increases.
        let mut last = std::collections::HashMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (series, rest) = line.rsplit_once('}').unwrap();
            let t: f64 = rest.split_whitespace().nth(1).unwrap().parse().unwrap();
            assert!(
                (start as f64 / 1000.0..(start + 10 * INTERVAL_MS) as f64 / 1000.0).contains(&t)
            );
            if let Some(prev) = last.insert(series.to_owned(), t) {
                assert!(t > prev, "{line}");
            }
        }
    }
}
