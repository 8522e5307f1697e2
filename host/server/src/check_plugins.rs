//! `wasmetheus check plugins`: loads plugin files in the real runtime and
//! checks what an operator relies on — metadata and requested
//! capabilities, and for an exporter collects that succeed within the
//! limits with valid output, without growing memory or holding resources
//! from one collect to the next. It also prints what a plugin costs: file
//! size, load time (compiled or from the cache), collect time and memory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wasmetheus_config::{Config, PluginInstanceConfig, PromDuration};
use wasmetheus_plugin_runtime::{
    Capability, LoadError, PluginMetadata, PluginRuntime, ReceiverRuntime, RuntimeOptions,
    capability_text, grants_for_requests,
};

/// From this many collects on, a check also looks for leaks.
const LEAK_CHECK_FROM: usize = 1_000;
/// How much an instance's linear memory may grow after its warm-up before
/// it counts as a leak. Linear memory never shrinks, so an allocator that
/// settles stays flat; one byte kept per collect is 10 kB per 10,000.
const LEAK_ALLOWANCE: u64 = 1 << 20;

/// `wasmetheus check plugins [--collects N] [--cache-dir DIR] [--config JSON] FILE…`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckPluginsArgs {
    /// The plugin files; a file's stem (`NAME` of `NAME.wasm`) is its name.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// How many times to collect each exporter, on one instance. From 1000
    /// on, the check fails when the instance's memory keeps growing after
    /// the first tenth; any resource kept per collect fills the instance's
    /// table of 4096 handles, which fails a collect.
    #[arg(long, default_value_t = 3)]
    pub collects: usize,
    /// The compiled-component cache to use, as `serve --plugins.cache-dir`;
    /// without it every load compiles.
    #[arg(long = "cache-dir")]
    pub cache_dir: Option<PathBuf>,
    /// The settings (JSON) every exporter is opened with, instead of the
    /// first of its config schema's `examples`.
    #[arg(long)]
    pub config: Option<String>,
}

/// Checks each file and prints a report; returns how many failed.
pub fn run(args: &CheckPluginsArgs) -> anyhow::Result<usize> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut failed = 0;
    for file in &args.files {
        println!("Checking {}", file.display());
        match runtime.block_on(check_one(file, args)) {
            Ok(report) => {
                for line in report {
                    println!("  {line}");
                }
                println!("  SUCCESS");
            }
            Err(e) => {
                println!("  FAILED: {e:#}");
                failed += 1;
            }
        }
    }
    Ok(failed)
}

async fn check_one(file: &Path, args: &CheckPluginsArgs) -> anyhow::Result<Vec<String>> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let plugin = file
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| anyhow::anyhow!("{} is not a *.wasm file", file.display()))?
        .to_owned();
    let size = std::fs::metadata(file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?
        .len();
    let mut options = RuntimeOptions::new(dir);
    options.cache_dir = args.cache_dir.clone();
    // A plugin of an interpreted language (Python, JavaScript) is tens of
    // megabytes of code to compile; the server's default of 30 s is for a
    // loaded machine serving many plugins, this is one at a time.
    options.compile_timeout = options.compile_timeout.max(Duration::from_secs(300));
    let runtime = PluginRuntime::new(options)?;
    let loaded = {
        let runtime = runtime.clone();
        let file = file.to_owned();
        tokio::task::spawn_blocking(move || runtime.load_file(&file)).await?
    };
    if let Err(LoadError::Receiver { .. }) = loaded {
        // What can be checked of a receiver without a receiver's
        // configuration: its metadata.
        let receivers = ReceiverRuntime::new(&runtime);
        let file = file.to_owned();
        let receiver = tokio::task::spawn_blocking(move || receivers.load(&file)).await??;
        let mut report = check_metadata(receiver.metadata())?;
        report.push("a receiver plugin: opened and notified by receivers' configuration".into());
        return Ok(report);
    }
    loaded?;
    let metadata = runtime
        .metadata(&plugin)
        .ok_or_else(|| anyhow::anyhow!("plugin did not load"))?;
    // The server names an exporter after its file; instances and the API
    // use that name, dashboards the metadata's.
    anyhow::ensure!(
        metadata.name == plugin,
        "the file is {plugin}.wasm but the plugin's metadata calls it {:?}: rename the file to \
         {}.wasm",
        metadata.name,
        metadata.name
    );
    let mut report = vec![format!("size: {}", bytes(size))];
    if let Some(status) = runtime.status().into_iter().find(|p| p.plugin == plugin) {
        report.push(format!(
            "load: {} in {:.2} s",
            if status.loaded_from_cache {
                "from the compile cache"
            } else {
                "compiled"
            },
            status.load_duration_seconds
        ));
    }
    report.extend(check_metadata(&metadata)?);
    report.extend(
        collect_checks(
            &runtime,
            &plugin,
            &metadata,
            args.config.as_deref(),
            args.collects,
        )
        .await?,
    );
    Ok(report)
}

/// What every plugin's metadata must satisfy.
fn check_metadata(metadata: &PluginMetadata) -> anyhow::Result<Vec<String>> {
    let report = vec![format!(
        "metadata: {} {} — {}",
        metadata.name, metadata.version, metadata.description
    )];
    let mut report = report;
    for request in &metadata.capabilities {
        report.push(format!(
            "requests {}{}: {}",
            capability_text(&request.capability),
            if request.optional { " (optional)" } else { "" },
            request.reason
        ));
    }
    anyhow::ensure!(
        !metadata.name.is_empty()
            && metadata
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
        "metadata name {:?} must be non-empty and use only a-z, 0-9 and -",
        metadata.name
    );
    anyhow::ensure!(
        metadata.version.split('.').count() == 3
            && metadata
                .version
                .split('.')
                .all(|p| p.parse::<u64>().is_ok()),
        "metadata version {:?} must be MAJOR.MINOR.PATCH",
        metadata.version
    );
    anyhow::ensure!(
        !metadata.description.trim().is_empty(),
        "metadata description is empty"
    );
    for request in &metadata.capabilities {
        let shown = capability_text(&request.capability);
        anyhow::ensure!(
            !request.reason.trim().is_empty(),
            "the capability request {shown} gives no reason: operators grant what they understand"
        );
        match &request.capability {
            Capability::ReadPath(p) => {
                anyhow::ensure!(
                    p.starts_with('/'),
                    "the capability request {shown} must name an absolute path"
                );
                anyhow::ensure!(
                    !Path::new(p).exists() || Path::new(p).is_dir(),
                    "the capability request {shown} names a file: read paths are directories \
                     (ask for the directory that holds it)"
                );
            }
            Capability::FilesystemUsage(p) => anyhow::ensure!(
                p.starts_with('/'),
                "the capability request {shown} must name an absolute path"
            ),
            Capability::TcpConnect(a) => anyhow::ensure!(
                a.rsplit_once(':')
                    .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok()),
                "the capability request {shown} must be HOST:PORT"
            ),
            Capability::HttpOrigin(o) => anyhow::ensure!(
                (o.starts_with("http://") || o.starts_with("https://"))
                    && !o
                        .split_once("://")
                        .is_some_and(|(_, rest)| rest.is_empty() || rest.contains('/')),
                "the capability request {shown} must be an origin: SCHEME://HOST[:PORT], no path"
            ),
            Capability::EnvVar(v) => anyhow::ensure!(
                !v.is_empty() && !v.contains('='),
                "the capability request {shown} must name one variable"
            ),
            Capability::DnsLookup => {}
        }
    }
    if !metadata.config_schema.is_empty() {
        // Read only to check that it is JSON: nothing is kept.
        serde_json::from_str::<serde::de::IgnoredAny>(&metadata.config_schema)
            .map_err(|e| anyhow::anyhow!("config schema is not valid JSON: {e}"))?;
    }
    Ok(report)
}

/// An exporter instance granted exactly what it asks for, as an operator
/// following its metadata would, configured with `settings` (`--config`,
/// else the first of its config schema's `examples` when it gives one: a
/// plugin that cannot open without settings, such as a DSN, shows there
/// how it is configured), collected `collects` times.
async fn collect_checks(
    runtime: &PluginRuntime,
    plugin: &str,
    metadata: &PluginMetadata,
    settings: Option<&str>,
    collects: usize,
) -> anyhow::Result<Vec<String>> {
    let mut report = Vec::new();
    let mut config = Config::default();
    let instance = format!("check-{plugin}");
    config.plugins.instances.push(PluginInstanceConfig {
        name: instance.clone(),
        plugin: plugin.to_owned(),
        job: None,
        scrape_interval: Some(PromDuration(Duration::from_secs(10))),
        scrape_timeout: Some(PromDuration(Duration::from_secs(5))),
        memory_limit: None,
        config: match settings {
            Some(text) => Some(
                serde_json::from_str(text)
                    .map_err(|e| anyhow::anyhow!("--config is not valid JSON: {e}"))?,
            ),
            None => wasmetheus_plugin_runtime::schema::first_example(&metadata.config_schema),
        },
        grants: grants_for_requests(&metadata.capabilities),
        labels: Default::default(),
    });
    {
        let runtime = runtime.clone();
        tokio::task::spawn_blocking(move || runtime.apply_config(&config)).await?;
    }
    let status = runtime
        .status()
        .into_iter()
        .flat_map(|p| p.instances)
        .find(|i| i.name == instance)
        .ok_or_else(|| anyhow::anyhow!("the instance {instance} was not created"))?;
    if let Some(error) = status.error {
        anyhow::bail!("the instance did not open: {error}");
    }
    for c in &status.capabilities {
        anyhow::ensure!(
            c.granted || c.optional,
            "requested {} but the runtime did not grant it when asked to",
            c.capability
        );
    }
    let warm_up = (collects / 10).max(1);
    let mut took = Vec::with_capacity(collects);
    let mut warm = None;
    let started_all = Instant::now();
    for round in 1..=collects {
        let started = Instant::now();
        let families = runtime
            .collect(&instance)
            .await
            .map_err(|e| anyhow::anyhow!("collect {round}: {e}"))?;
        took.push(started.elapsed());
        if round <= 3 {
            let series: usize = families.iter().map(|f| f.metrics.len()).sum();
            report.push(format!(
                "collect {round}: {} families, {series} series, valid, {:.1} ms",
                families.len(),
                started.elapsed().as_secs_f64() * 1e3
            ));
        }
        if round == warm_up {
            warm = Some((runtime.instance_memory(&instance).unwrap_or(0), rss()));
        }
        if collects >= LEAK_CHECK_FROM && round % (collects / 5) == 0 {
            eprintln!(
                "{plugin}: {round}/{collects} collects, {:.0}/s",
                round as f64 / started_all.elapsed().as_secs_f64()
            );
        }
    }
    if collects > 3 {
        took.sort();
        let quantile = |q: f64| took[((took.len() - 1) as f64 * q).round() as usize];
        report.push(format!(
            "{collects} collects in {:.1} s: median {:.2} ms, p99 {:.2} ms",
            started_all.elapsed().as_secs_f64(),
            quantile(0.5).as_secs_f64() * 1e3,
            quantile(0.99).as_secs_f64() * 1e3,
        ));
    }
    let (guest_end, rss_end) = (runtime.instance_memory(&instance).unwrap_or(0), rss());
    let (guest_warm, rss_warm) = warm.unwrap_or((guest_end, rss_end));
    report.push(format!(
        "memory: instance {} after collect {warm_up}, {} after collect {collects}; \
         host RSS {} then {}",
        bytes(guest_warm),
        bytes(guest_end),
        bytes(rss_warm),
        bytes(rss_end)
    ));
    if collects >= LEAK_CHECK_FROM {
        anyhow::ensure!(
            guest_end <= guest_warm + LEAK_ALLOWANCE,
            "the instance's memory grew from {} to {} between collect {warm_up} and collect \
             {collects}: something is kept from one collect to the next",
            bytes(guest_warm),
            bytes(guest_end)
        );
    }
    Ok(report)
}

/// This process's resident memory (0 where /proc does not tell).
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}
