//! `cargo xtask bench rules`: what evaluating a few hundred recording and
//! alerting rules costs wasmetheus and Prometheus on the same data. Both
//! scrape the same synthetic targets (served by this process: counters,
//! gauges and classic histograms), one server after the other; each is
//! measured first without rules, then after a reload with a generated rule
//! file, so the CPU the rules take is net of scraping.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::peers::{Kind, Peer, Running, find_peers, start};
use super::rules_data::{RuleFile, Shape, Targets, rule_file, scrape_config};
use super::support::{
    TempDir, bytes, common_flag, count, flag_value, get, metric_sum, parse_duration, proc_stats,
    ratio, urlencode,
};
use crate::{Result, root};

pub const USAGE: &str = "\
usage: cargo xtask bench rules [--rules 300] [--groups 15] [--interval 2s]
                               [--targets 20] [--handlers 10] [--scrape-interval 1s]
                               [--warmup 20s] [--rules-warmup 20s] [--duration 120s]
                               [--servers wasmetheus,prometheus] [--no-build] [--keep]

  Serves --targets synthetic targets (two jobs; per target --handlers ×
  16 request counters, --handlers × 2 classic histograms of 12 buckets,
  32 CPU counters and 14 gauges) from this process and has wasmetheus and
  Prometheus scrape them every --scrape-interval, one server after the
  other. Each server runs two phases of --duration: scraping only (after
  --warmup), then, after a reload (SIGHUP) with a generated file of --rules
  rules in --groups groups evaluated every --interval (recording rules:
  rate, histogram_quantile, ratios, *_over_time, aggregations, rules
  reading the previous rule's output; alerting rules with `for` and
  templated annotations) and --rules-warmup, scraping and evaluating.
  Reports rule evaluations per second, evaluated samples, CPU per
  evaluation and per sample net of the scraping phase, group durations and
  missed iterations, and checks both servers recorded the same series.
  Results go to target/bench-rules/report.txt and results.json; server
  logs and the rule file stay in target/bench-rules/.
  --no-build uses target/release/wasmetheus as it is; --keep keeps the data.";

/// The command-line options.
struct Options {
    rules: usize,
    groups: usize,
    interval_ms: i64,
    targets: usize,
    handlers: usize,
    scrape_interval_ms: i64,
    warmup_ms: i64,
    rules_warmup_ms: i64,
    duration_ms: i64,
    servers: Vec<Kind>,
    build: bool,
    keep: bool,
}

fn parse_options(args: &[String]) -> Result<Options> {
    let mut o = Options {
        rules: 300,
        groups: 15,
        interval_ms: 2000,
        targets: 20,
        handlers: 10,
        scrape_interval_ms: 1000,
        warmup_ms: 20_000,
        rules_warmup_ms: 20_000,
        duration_ms: 120_000,
        servers: vec![Kind::Wasmetheus, Kind::Prometheus],
        build: true,
        keep: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| flag_value(&mut args, name, USAGE);
        let number = |s: String| count(arg, &s);
        match arg.as_str() {
            "--rules" => o.rules = number(value(arg)?)?,
            "--groups" => o.groups = number(value(arg)?)?,
            "--interval" => o.interval_ms = parse_duration(&value(arg)?)?,
            "--targets" => o.targets = number(value(arg)?)?,
            "--handlers" => o.handlers = number(value(arg)?)?,
            "--scrape-interval" => o.scrape_interval_ms = parse_duration(&value(arg)?)?,
            "--warmup" => o.warmup_ms = parse_duration(&value(arg)?)?,
            "--rules-warmup" => o.rules_warmup_ms = parse_duration(&value(arg)?)?,
            "--duration" => o.duration_ms = parse_duration(&value(arg)?)?,
            "--servers" => o.servers = Kind::parse_list(&value(arg)?)?,
            other => common_flag(other, &mut o.build, &mut o.keep, USAGE)?,
        }
    }
    if o.rules == 0
        || o.groups == 0
        || o.targets == 0
        || o.handlers == 0
        || o.interval_ms <= 0
        || o.scrape_interval_ms <= 0
        || o.duration_ms <= 0
        || o.warmup_ms < 0
        || o.rules_warmup_ms < 0
    {
        return Err(
            "--rules, --groups, --targets, --handlers, the intervals and --duration must be positive"
                .into(),
        );
    }
    if o.groups > o.rules {
        return Err("--groups must not exceed --rules".into());
    }
    if o.servers.contains(&Kind::VictoriaMetrics) {
        return Err(
            "victoria-metrics evaluates no rules itself (that is vmalert); \
                    --servers takes wasmetheus and prometheus"
                .into(),
        );
    }
    if o.servers.is_empty() {
        return Err("--servers needs at least one server".into());
    }
    // The rules read `[1m]` ranges: by the time they start (after the
    // warm-up and the scraping-only phase) a minute of data must exist.
    if o.warmup_ms + o.duration_ms < 70_000 {
        o.warmup_ms = 70_000 - o.duration_ms;
    }
    Ok(o)
}

pub fn run(args: &[String]) -> Result {
    let o = parse_options(args)?;
    let (peers, skipped) = find_peers(&o.servers, o.build)?;
    let out = root().join("target/bench-rules");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let work = TempDir::new(out.join(format!("work-{}", std::process::id())), o.keep)?;

    let targets = Targets::start(o.targets, o.handlers)?;
    let rules_path = out.join("rules.yml");
    let file = rule_file(&Shape {
        rules: o.rules,
        groups: o.groups,
        interval_ms: o.interval_ms,
        targets: o.targets,
        handlers: o.handlers,
        scrape_interval_ms: o.scrape_interval_ms,
    });
    std::fs::write(&rules_path, &file.text)
        .map_err(|e| format!("{}: {e}", rules_path.display()))?;
    let without = scrape_config(&targets.addrs, o.scrape_interval_ms, None);
    let with = scrape_config(&targets.addrs, o.scrape_interval_ms, Some(&rules_path));
    eprintln!(
        "serving {} synthetic targets × {} series on 127.0.0.1; {} rules ({} recording, {} \
         alerting) in {} groups every {} ms: {}",
        o.targets,
        targets.series_per_target(),
        file.recording + file.alerting,
        file.recording,
        file.alerting,
        o.groups,
        o.interval_ms,
        rules_path.display()
    );

    let mut rows = Vec::new();
    for peer in &peers {
        let dir = work.path.join(peer.kind.name());
        let log = out.join(format!("{}.log", peer.kind.name()));
        let result = measure(
            &o,
            peer,
            &targets,
            &dir,
            &log,
            (&without, &with),
            file.recording,
        );
        if let Err(e) = &result {
            eprintln!("{}: NOT MEASURED: {e}", peer.kind.name());
        }
        if !o.keep {
            let _ = std::fs::remove_dir_all(&dir);
        }
        rows.push((peer, result));
    }
    let report = render(&o, &file, targets.series_per_target(), &rows, &skipped);
    println!("{report}");
    let path = out.join("report.txt");
    std::fs::write(&path, &report).map_err(|e| format!("{}: {e}", path.display()))?;
    let json_path = out.join("results.json");
    std::fs::write(&json_path, render_json(&o, &file, &rows))
        .map_err(|e| format!("{}: {e}", json_path.display()))?;
    eprintln!("wrote {} and {}", path.display(), json_path.display());
    Ok(())
}

// ---------------------------------------------------------------------------
// Measurement

/// What one server said about itself and its process at one moment.
struct Snapshot {
    at: Instant,
    cpu_s: f64,
    rss: u64,
    /// This process (the synthetic targets).
    own_cpu_s: f64,
    scrapes: u64,
    appended: Option<f64>,
    rules_loaded: f64,
    evaluations: f64,
    failures: f64,
    missed: f64,
    iterations: BTreeMap<String, f64>,
    last_samples: BTreeMap<String, f64>,
    last_duration_sum: f64,
    group_duration_sum: f64,
    group_duration_count: f64,
    /// The machine's 1-minute load average: other work competing for the
    /// cores shows here.
    load: Option<f64>,
}

fn snapshot(pid: u32, addr: SocketAddr, targets: &Targets) -> Result<Snapshot> {
    let metrics = get(addr, "/metrics")?;
    let proc = proc_stats(pid)?;
    let sum = |name: &str| metric_sum(&metrics, name).unwrap_or(0.0);
    Ok(Snapshot {
        at: Instant::now(),
        cpu_s: proc.cpu_s,
        rss: proc.rss,
        own_cpu_s: proc_stats(std::process::id())?.cpu_s,
        scrapes: targets.served_scrapes(),
        appended: metric_sum(&metrics, "prometheus_tsdb_head_samples_appended_total"),
        rules_loaded: sum("prometheus_rule_group_rules"),
        evaluations: sum("prometheus_rule_evaluations_total"),
        failures: sum("prometheus_rule_evaluation_failures_total"),
        missed: sum("prometheus_rule_group_iterations_missed_total"),
        iterations: per_group(&metrics, "prometheus_rule_group_iterations_total"),
        last_samples: per_group(&metrics, "prometheus_rule_group_last_evaluation_samples"),
        last_duration_sum: sum("prometheus_rule_group_last_duration_seconds"),
        group_duration_sum: sum("prometheus_rule_group_duration_seconds_sum"),
        group_duration_count: sum("prometheus_rule_group_duration_seconds_count"),
        load: std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next()?.parse().ok()),
    })
}

/// The values of `name` by their `rule_group` label.
fn per_group(text: &str, name: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(rest) = line.strip_prefix(name).and_then(|r| r.strip_prefix('{')) else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let group = labels
            .split("rule_group=\"")
            .nth(1)
            .and_then(|g| g.split('"').next());
        let value = value.split_whitespace().next().and_then(|v| v.parse().ok());
        if let (Some(group), Some(value)) = (group, value) {
            out.insert(group.to_owned(), value);
        }
    }
    out
}

/// One phase's window: the snapshots at its ends and what was sampled
/// during it.
struct Window {
    a: Snapshot,
    b: Snapshot,
    /// `prometheus_rule_group_last_duration_seconds` summed over groups,
    /// sampled every few seconds.
    last_duration_sums: Vec<f64>,
}

impl Window {
    fn secs(&self) -> f64 {
        (self.b.at - self.a.at).as_secs_f64()
    }
    fn cpu_s(&self) -> f64 {
        self.b.cpu_s - self.a.cpu_s
    }
    fn evaluations(&self) -> f64 {
        self.b.evaluations - self.a.evaluations
    }
    fn missed(&self) -> f64 {
        self.b.missed - self.a.missed
    }
    /// Samples the rules returned during the window: every group's
    /// iterations run times the samples of its last evaluation (the data
    /// is steady, so each evaluation of a group returns as many).
    fn evaluated_samples(&self) -> f64 {
        self.b
            .iterations
            .iter()
            .map(|(g, &b)| {
                let runs = b - self.a.iterations.get(g).copied().unwrap_or(0.0);
                runs * self.b.last_samples.get(g).copied().unwrap_or(0.0)
            })
            .sum::<f64>()
            // Missed iterations did not run: take their share out.
            - self.missed() * self.mean_group_samples()
    }
    fn mean_group_samples(&self) -> f64 {
        let n = self.b.last_samples.len().max(1) as f64;
        self.b.last_samples.values().sum::<f64>() / n
    }
    /// Mean duration of a group evaluation over the window, from the
    /// `prometheus_rule_group_duration_seconds` summary.
    fn mean_group_duration(&self) -> Option<f64> {
        let n = self.b.group_duration_count - self.a.group_duration_count;
        (n > 0.0).then(|| (self.b.group_duration_sum - self.a.group_duration_sum) / n)
    }
    fn mean_last_duration_sum(&self) -> f64 {
        let n = self.last_duration_sums.len().max(1) as f64;
        self.last_duration_sums.iter().sum::<f64>() / n
    }
}

/// A server's figures: the scraping-only phase, the phase with rules and
/// what the rules left in its database.
struct Figures {
    base: Window,
    rules: Window,
    recorded_series: Option<f64>,
    record_names: Option<f64>,
    /// Series per recording rule's name.
    by_name: BTreeMap<String, f64>,
    alerts_firing: Option<f64>,
    alerts_pending: Option<f64>,
}

impl Figures {
    /// CPU seconds the rules took: the phase with rules less the
    /// scraping-only phase scaled to the same length.
    fn net_cpu_s(&self) -> f64 {
        self.rules.cpu_s() - self.base.cpu_s() * self.rules.secs() / self.base.secs().max(1e-9)
    }
    fn evaluations_per_s(&self) -> f64 {
        self.rules.evaluations() / self.rules.secs().max(1e-9)
    }
    fn cpu_us_per_evaluation(&self) -> f64 {
        self.net_cpu_s() / self.rules.evaluations().max(1.0) * 1e6
    }
    /// Evaluations of every group once in the window.
    fn rounds(&self) -> f64 {
        self.rules.evaluations() / self.rules.b.rules_loaded.max(1.0)
    }
    fn cpu_ns_per_sample_read(&self, per_round: u64) -> f64 {
        self.net_cpu_s() / (self.rounds() * per_round as f64).max(1.0) * 1e9
    }
    fn cpu_us_per_sample(&self) -> f64 {
        self.net_cpu_s() / self.rules.evaluated_samples().max(1.0) * 1e6
    }
    /// Cores the rules took on average.
    fn net_cores(&self) -> f64 {
        self.net_cpu_s() / self.rules.secs().max(1e-9)
    }
}

fn measure(
    o: &Options,
    peer: &Peer,
    t: &Targets,
    dir: &Path,
    log: &Path,
    (without, with): (&str, &str),
    recording: usize,
) -> Result<Figures> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let config = dir.with_extension("yml");
    let write_config = |text: &str| {
        std::fs::write(&config, text).map_err(|e| format!("{}: {e}", config.display()))
    };
    write_config(without)?;
    eprintln!("\n== {} ({}) ==", peer.kind.name(), peer.version);
    let mut running = start(peer, &config, true, dir, log)?;
    let base = phase(o, peer, &mut running, t, "scraping only")?;

    // The same scrape configuration plus the rule file.
    write_config(with)?;
    let hup = Command::new("kill")
        .args(["-HUP", &running.pid.to_string()])
        .status()
        .map_err(|e| format!("kill -HUP: {e}"))?;
    if !hup.success() {
        return Err(format!("kill -HUP {}: {hup}", running.pid));
    }
    let started = Instant::now();
    loop {
        running.check_alive()?;
        let s = snapshot(running.pid, running.addr, t)?;
        if s.rules_loaded as usize == o.rules {
            eprintln!(
                "  {} loaded {} rules after {:.1} s",
                peer.kind.name(),
                o.rules,
                started.elapsed().as_secs_f64()
            );
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err(format!(
                "{} rules loaded 60 s after the reload, want {}; see {}",
                s.rules_loaded,
                o.rules,
                running.log.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let rules = phase(o, peer, &mut running, t, "with rules")?;

    let query = |q: &str| instant_query(running.addr, q);
    let by_name = counts_by_name(
        running.addr,
        r#"count by (__name__) ({__name__=~"g[0-9]+_r[0-9]+:.+"})"#,
    )?;
    let f = Figures {
        recorded_series: Some(by_name.values().sum()),
        record_names: Some(by_name.len() as f64),
        by_name,
        alerts_firing: query(r#"count(ALERTS{alertstate="firing"})"#)?,
        alerts_pending: query(r#"count(ALERTS{alertstate="pending"})"#)?,
        base,
        rules,
    };
    running.stop()?;
    eprintln!(
        "{}: {:.0} evaluations/s, {:.0} samples/s, net {:.2} cores ({:.1} µs per evaluation, \
         {:.2} µs per sample), {} missed, {} record names of {recording}",
        peer.kind.name(),
        f.evaluations_per_s(),
        f.rules.evaluated_samples() / f.rules.secs().max(1e-9),
        f.net_cores(),
        f.cpu_us_per_evaluation(),
        f.cpu_us_per_sample(),
        f.rules.missed(),
        f.record_names.map_or("?".into(), |n| format!("{n:.0}")),
    );
    Ok(f)
}

/// A warm-up of the phase's length, then its measured window, printing
/// progress every 10 s.
fn phase(
    o: &Options,
    peer: &Peer,
    running: &mut Running,
    t: &Targets,
    what: &str,
) -> Result<Window> {
    let warmup = if what == "with rules" {
        o.rules_warmup_ms
    } else {
        o.warmup_ms
    };
    let name = peer.kind.name();
    wait(
        running,
        t,
        warmup,
        &format!("{what}: warm-up"),
        name,
        &mut Vec::new(),
    )?;
    let a = snapshot(running.pid, running.addr, t)?;
    let mut sums = Vec::new();
    wait(
        running,
        t,
        o.duration_ms,
        &format!("{what}: measuring"),
        name,
        &mut sums,
    )?;
    let b = snapshot(running.pid, running.addr, t)?;
    Ok(Window {
        a,
        b,
        last_duration_sums: sums,
    })
}

/// Sleeps `ms`, sampling the server every 2 s (the group durations go to
/// `sums`) and printing a progress line every 10 s.
fn wait(
    running: &mut Running,
    t: &Targets,
    ms: i64,
    what: &str,
    name: &str,
    sums: &mut Vec<f64>,
) -> Result {
    let started = Instant::now();
    let total = Duration::from_millis(ms.max(0) as u64);
    let mut last = snapshot(running.pid, running.addr, t)?;
    let mut printed = Instant::now();
    while started.elapsed() < total {
        let left = total.saturating_sub(started.elapsed());
        std::thread::sleep(left.min(Duration::from_secs(2)));
        running.check_alive()?;
        let now = snapshot(running.pid, running.addr, t)?;
        sums.push(now.last_duration_sum);
        if printed.elapsed() >= Duration::from_secs(10) || started.elapsed() >= total {
            let secs = (now.at - last.at).as_secs_f64().max(1e-9);
            eprintln!(
                "  {name} {what} {:>4.0}/{:.0} s: {:.2} cores, RSS {}, {:.1} scrapes/s, \
                 {:.0} rule evaluations/s, {:.0} missed, {:.0} failed",
                started.elapsed().as_secs_f64(),
                total.as_secs_f64(),
                (now.cpu_s - last.cpu_s) / secs,
                bytes(now.rss as f64),
                (now.scrapes - last.scrapes) as f64 / secs,
                (now.evaluations - last.evaluations) / secs,
                now.missed,
                now.failures,
            );
            last = now;
            printed = Instant::now();
        }
    }
    Ok(())
}

/// The value of a one-element instant query result; `Some(0)` for an
/// empty result (`count` of nothing).
fn instant_query(addr: SocketAddr, q: &str) -> Result<Option<f64>> {
    let body = get(addr, &format!("/api/v1/query?query={}", urlencode(q)))?;
    if !body.contains("\"status\":\"success\"") {
        return Err(format!("query {q}: {body:.300}"));
    }
    if body.contains("\"result\":[]") {
        return Ok(Some(0.0));
    }
    // "value":[1700000000.123,"42"]
    Ok(body
        .split("\"value\":[")
        .nth(1)
        .and_then(|v| v.split(",\"").nth(1))
        .and_then(|v| v.split('"').next())
        .and_then(|v| v.parse().ok()))
}

/// The values of an instant query's result by metric name.
fn counts_by_name(addr: SocketAddr, q: &str) -> Result<BTreeMap<String, f64>> {
    let body = get(addr, &format!("/api/v1/query?query={}", urlencode(q)))?;
    parse_by_name(&body).map_err(|e| format!("query {q}: {e}"))
}

fn parse_by_name(body: &str) -> Result<BTreeMap<String, f64>> {
    if !body.contains("\"status\":\"success\"") {
        return Err(format!("{body:.300}"));
    }
    let mut out = BTreeMap::new();
    // {"metric":{"__name__":"g00_r000:…"},"value":[1700000000.123,"16"]}
    for part in body.split("{\"metric\":").skip(1) {
        let name = part
            .split("\"__name__\":\"")
            .nth(1)
            .and_then(|n| n.split('"').next());
        let value = part
            .split("\"value\":[")
            .nth(1)
            .and_then(|v| v.split(",\"").nth(1))
            .and_then(|v| v.split('"').next())
            .and_then(|v| v.parse().ok());
        match (name, value) {
            (Some(name), Some(value)) => {
                out.insert(name.to_owned(), value);
            }
            _ => return Err(format!("unexpected result {part:.200}")),
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Report

fn render(
    o: &Options,
    file: &RuleFile,
    series_per_target: usize,
    rows: &[(&Peer, Result<Figures>)],
    skipped: &[String],
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n== bench rules: {} rules ({} recording, {} alerting) in {} groups every {} ms over \
         {} targets × {} series scraped every {} ms; {:.0} s windows ==",
        file.recording + file.alerting,
        file.recording,
        file.alerting,
        o.groups,
        o.interval_ms,
        o.targets,
        series_per_target,
        o.scrape_interval_ms,
        o.duration_ms as f64 / 1000.0,
    );
    let fig = |k: Kind| {
        rows.iter()
            .find(|(p, _)| p.kind == k)
            .and_then(|(_, r)| r.as_ref().ok())
    };
    let (prom, ours) = (fig(Kind::Prometheus), fig(Kind::Wasmetheus));
    let _ = writeln!(
        s,
        "{:<44} {:>14} {:>14} {:>9}",
        "", "prometheus", "wasmetheus", "wasm/prom"
    );
    let per_round = file.samples_read_per_round;
    type Line<'a> = (&'static str, Box<dyn Fn(&Figures) -> f64 + 'a>, usize);
    let lines: Vec<Line> = vec![
        (
            "rule evaluations/s",
            Box::new(Figures::evaluations_per_s),
            1,
        ),
        (
            "evaluated samples/s (returned)",
            Box::new(|f| f.rules.evaluated_samples() / f.rules.secs().max(1e-9)),
            0,
        ),
        (
            "samples read/s (estimate)",
            Box::new(move |f| f.rounds() * per_round as f64 / f.rules.secs().max(1e-9)),
            0,
        ),
        (
            "CPU s, scraping only (raw)",
            Box::new(|f| f.base.cpu_s()),
            2,
        ),
        (
            "CPU s, scraping + rules (raw)",
            Box::new(|f| f.rules.cpu_s()),
            2,
        ),
        ("CPU s, rules (net)", Box::new(Figures::net_cpu_s), 2),
        ("cores, rules (net)", Box::new(Figures::net_cores), 3),
        (
            "CPU µs per rule evaluation (net)",
            Box::new(Figures::cpu_us_per_evaluation),
            1,
        ),
        (
            "CPU µs per evaluated sample (net)",
            Box::new(Figures::cpu_us_per_sample),
            2,
        ),
        (
            "CPU ns per sample read (net, estimate)",
            Box::new(move |f| f.cpu_ns_per_sample_read(per_round)),
            1,
        ),
        (
            "group duration, mean (ms)",
            Box::new(|f| f.rules.mean_group_duration().unwrap_or(f64::NAN) * 1e3),
            3,
        ),
        (
            "Σ groups' last duration, mean (ms)",
            Box::new(|f| f.rules.mean_last_duration_sum() * 1e3),
            2,
        ),
        (
            "missed iterations (window)",
            Box::new(|f| f.rules.missed()),
            0,
        ),
        (
            "failed evaluations (window)",
            Box::new(|f| f.rules.b.failures - f.rules.a.failures),
            0,
        ),
        (
            "RSS, scraping only (MiB)",
            Box::new(|f| f.base.b.rss as f64 / 1048576.0),
            1,
        ),
        (
            "RSS, with rules (MiB)",
            Box::new(|f| f.rules.b.rss as f64 / 1048576.0),
            1,
        ),
    ];
    let cell = |f: Option<&Figures>, get: &dyn Fn(&Figures) -> f64, prec: usize| {
        f.map_or("-".into(), |f| format!("{:.*}", prec, get(f)))
    };
    for (label, get, prec) in &lines {
        let _ = writeln!(
            s,
            "{label:<44} {:>14} {:>14} {:>9}",
            cell(prom, get, *prec),
            cell(ours, get, *prec),
            ratio(ours.map(get), prom.map(get)),
        );
    }
    let opt = |f: Option<&Figures>, get: fn(&Figures) -> Option<f64>| {
        f.and_then(get).map_or("?".into(), |v| format!("{v:.0}"))
    };
    // Alerts near their threshold may be pending in one server and firing
    // in the other when measured: only the recorded series must agree.
    type Check = (&'static str, fn(&Figures) -> Option<f64>, &'static str);
    let checks: [Check; 4] = [
        ("recorded series", |f| f.recorded_series, "DIFFER"),
        ("record names present", |f| f.record_names, "DIFFER"),
        ("ALERTS firing", |f| f.alerts_firing, "differ"),
        ("ALERTS pending", |f| f.alerts_pending, "differ"),
    ];
    for (label, get, differ) in checks {
        let _ = writeln!(
            s,
            "{label:<44} {:>14} {:>14} {:>9}",
            opt(prom, get),
            opt(ours, get),
            match (prom.and_then(get), ours.and_then(get)) {
                (Some(a), Some(b)) if a == b => "same",
                (Some(_), Some(_)) => differ,
                _ => "-",
            }
        );
    }
    if let (Some(p), Some(w)) = (prom, ours) {
        let names: std::collections::BTreeSet<&String> =
            p.by_name.keys().chain(w.by_name.keys()).collect();
        let differ: Vec<String> = names
            .into_iter()
            .filter(|n| p.by_name.get(*n) != w.by_name.get(*n))
            .map(|n| {
                let v = |m: &BTreeMap<String, f64>| m.get(n).map_or("none".into(), f64::to_string);
                format!("{n} ({} / {})", v(&p.by_name), v(&w.by_name))
            })
            .collect();
        if !differ.is_empty() {
            let _ = writeln!(
                s,
                "  recorded series differ for {} names (prometheus / wasmetheus): {}",
                differ.len(),
                differ
                    .iter()
                    .take(10)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    for (peer, r) in rows {
        match r {
            Ok(f) => {
                let appended = |w: &Window| {
                    w.b.appended
                        .zip(w.a.appended)
                        .map_or("?".into(), |(b, a)| format!("{:.0}", (b - a) / w.secs()))
                };
                let _ = writeln!(
                    s,
                    "  {} [{}]: windows {:.1} s and {:.1} s; samples appended/s {} → {}; \
                     {:.0} of {} recording rules' names present; the targets took {:.2} and \
                     {:.2} CPU s; load average {} and {} at the windows' ends",
                    peer.kind.name(),
                    peer.version,
                    f.base.secs(),
                    f.rules.secs(),
                    appended(&f.base),
                    appended(&f.rules),
                    f.record_names.unwrap_or(f64::NAN),
                    file.recording,
                    f.base.b.own_cpu_s - f.base.a.own_cpu_s,
                    f.rules.b.own_cpu_s - f.rules.a.own_cpu_s,
                    f.base.b.load.map_or("?".into(), |l| format!("{l:.2}")),
                    f.rules.b.load.map_or("?".into(), |l| format!("{l:.2}")),
                );
            }
            Err(e) => {
                let _ = writeln!(s, "  {} NOT MEASURED: {e}", peer.kind.name());
            }
        }
    }
    for skip in skipped {
        let _ = writeln!(s, "{skip}");
    }
    let _ = writeln!(
        s,
        "rule evaluations: prometheus_rule_evaluations_total (one per rule per group run); \
         evaluated samples: each group's runs in the window × its \
         prometheus_rule_group_last_evaluation_samples (samples the rules returned). \
         net CPU: the window with rules less the scraping-only window scaled to the same length \
         (utime+stime of the server process). samples read: {per_round} per round of every \
         group (series each selector selects × samples in its range, from the data's shape)."
    );
    s
}

fn render_json(o: &Options, file: &RuleFile, rows: &[(&Peer, Result<Figures>)]) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "{{\n  \"rules\": {}, \"groups\": {}, \"interval_ms\": {}, \"targets\": {}, \
         \"handlers\": {}, \"scrape_interval_ms\": {}, \"duration_ms\": {},\n  \"servers\": [",
        o.rules,
        o.groups,
        o.interval_ms,
        o.targets,
        o.handlers,
        o.scrape_interval_ms,
        o.duration_ms
    );
    let num = |v: f64| {
        if v.is_finite() {
            format!("{v}")
        } else {
            "null".into()
        }
    };
    let opt = |v: Option<f64>| v.map_or("null".into(), num);
    let mut first = true;
    for (peer, r) in rows {
        let Ok(f) = r else { continue };
        let _ = write!(
            s,
            "{}\n    {{\"server\": \"{}\", \"evaluations_per_s\": {}, \"evaluated_samples\": {}, \
             \"window_s\": {}, \"base_window_s\": {}, \"cpu_s_base\": {}, \"cpu_s_rules\": {}, \
             \"cpu_s_net\": {}, \"cpu_us_per_evaluation\": {}, \"cpu_us_per_sample\": {}, \
             \"group_duration_mean_s\": {}, \"last_duration_sum_mean_s\": {}, \
             \"cpu_ns_per_sample_read\": {}, \"samples_read_per_round\": {}, \"missed\": {}, \"failures\": {}, \"recorded_series\": {}, \"record_names\": {}, \
             \"alerts_firing\": {}, \"alerts_pending\": {}, \"rss_base\": {}, \"rss_rules\": {}}}",
            if first { "" } else { "," },
            peer.kind.name(),
            num(f.evaluations_per_s()),
            num(f.rules.evaluated_samples()),
            num(f.rules.secs()),
            num(f.base.secs()),
            num(f.base.cpu_s()),
            num(f.rules.cpu_s()),
            num(f.net_cpu_s()),
            num(f.cpu_us_per_evaluation()),
            num(f.cpu_us_per_sample()),
            opt(f.rules.mean_group_duration()),
            num(f.rules.mean_last_duration_sum()),
            num(f.cpu_ns_per_sample_read(file.samples_read_per_round)),
            file.samples_read_per_round,
            num(f.rules.missed()),
            num(f.rules.b.failures - f.rules.a.failures),
            opt(f.recorded_series),
            opt(f.record_names),
            opt(f.alerts_firing),
            opt(f.alerts_pending),
            f.base.b.rss,
            f.rules.b.rss,
        );
        first = false;
    }
    s.push_str("\n  ]\n}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_group_values() {
        let text = "# TYPE prometheus_rule_group_iterations_total counter\n\
            prometheus_rule_group_iterations_total{rule_group=\"/r.yml;g00\"} 12\n\
            prometheus_rule_group_iterations_total{rule_group=\"/r.yml;g01\"} 3\n\
            prometheus_rule_group_iterations_missed_total{rule_group=\"/r.yml;g00\"} 1\n";
        let m = per_group(text, "prometheus_rule_group_iterations_total");
        assert_eq!(m.len(), 2);
        assert_eq!(m.get("/r.yml;g00"), Some(&12.0));
        assert_eq!(m.get("/r.yml;g01"), Some(&3.0));
    }

    #[test]
    fn query_results_by_name() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"g00_r000:a"},"value":[1700000000.5,"16"]},{"metric":{"__name__":"g01_r007:b"},"value":[1700000000.5,"2"]}]}}"#;
        let m = parse_by_name(body).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m.get("g00_r000:a"), Some(&16.0));
        assert_eq!(m.get("g01_r007:b"), Some(&2.0));
        assert!(parse_by_name(r#"{"status":"error","error":"x"}"#).is_err());
        let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert!(parse_by_name(empty).unwrap().is_empty());
    }

    #[test]
    fn options_reject_victoria_metrics_and_extend_warmup() {
        let args = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert!(parse_options(&args("--servers victoria-metrics")).is_err());
        let o = parse_options(&args("--duration 30s --warmup 5s")).unwrap();
        assert_eq!(o.warmup_ms + o.duration_ms, 70_000);
        assert!(parse_options(&args("--rules 3 --groups 4")).is_err());
    }
}
