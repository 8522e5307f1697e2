//! Service discovery for `scrape_configs`: `file_sd_configs` (JSON or YAML
//! target groups, re-read when a file changes and every
//! `refresh_interval`), `http_sd_configs` (the same JSON from a URL, with
//! the entry's TLS, authentication and headers) and
//! `dns_sd_configs` (SRV, A, AAAA, MX and NS records through hickory's stub
//! resolver). Each source keeps its latest groups;
//! a change wakes the scrape manager through `changed`.
//!
//! Every other mechanism (`consul_sd_configs`, `ec2_sd_configs`, …) is
//! parsed and validated by the configuration but not run yet: each such
//! entry is a [`DiscoveryStatus`] that is not running, with the reason,
//! logged once per load and shown by `/api/v1/targets` and `/metrics`, so
//! no target goes missing silently. A Kubernetes entry that cannot start (a
//! bad kubeconfig, no in-cluster credentials) is failed in the same report,
//! with the error, and counted in `prometheus_sd_failed_configs`.
//!
//! File paths in the configuration were joined with the config file's
//! directory by `Config::load`; they are used as they are here.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};

use parking_lot::Mutex;
use serde::Deserialize;
use wasmetheus_config::{Config, DnsSdConfig, FileSdConfig, HttpSdConfig};

use crate::scrape_targets::TargetGroup;

/// Each source's latest groups, by source name.
type BySource = BTreeMap<String, Vec<TargetGroup>>;

/// The configuration each source runs with, by job and source name, as
/// its JSON form (so that a reload can tell an unchanged source).
type Configs = BTreeMap<(String, String), String>;

/// The groups every discovery source found, by job.
#[derive(Debug, Default, Clone)]
pub struct Discovered {
    groups: Arc<Mutex<BTreeMap<String, BySource>>>,
    configs: Arc<Mutex<Configs>>,
    /// Bumped by each (re)start of the sources, under `groups`' lock.
    generation: Arc<AtomicU64>,
    /// The generation the sources holding this handle were started in
    /// (`None`: not a source's handle); a source of an older generation,
    /// stopped but not yet ended, changes nothing.
    started_in: Option<u64>,
}

impl Discovered {
    /// The groups of `job`, from every source.
    pub fn groups(&self, job: &str) -> Vec<TargetGroup> {
        self.groups
            .lock()
            .get(job)
            .map(|sources| sources.values().flatten().cloned().collect())
            .unwrap_or_default()
    }

    /// The handle the sources started now write through.
    fn for_sources(&self) -> Discovered {
        Discovered {
            started_in: Some(self.generation.load(Ordering::SeqCst)),
            ..self.clone()
        }
    }

    /// Replaces one source's groups; whether anything changed. A source of
    /// an earlier start changes nothing (its task may outlive its abort).
    fn set(&self, job: &str, source: &str, groups: Vec<TargetGroup>) -> bool {
        let mut all = self.groups.lock();
        if self
            .started_in
            .is_some_and(|g| g != self.generation.load(Ordering::SeqCst))
        {
            return false;
        }
        let sources = all.entry(job.to_owned()).or_default();
        if sources.get(source) == Some(&groups) {
            return false;
        }
        sources.insert(source.to_owned(), groups);
        true
    }

    /// Before the sources of a (re)loaded configuration start: keeps the
    /// groups of every source whose job, name and configuration are
    /// unchanged (its new instance replaces them when it reports), drops
    /// the others', as Prometheus' discovery manager keeps the targets of
    /// unchanged providers. Without this a reload would briefly lose every
    /// discovered target (scrapes stopped and restarted, stale markers,
    /// Alertmanagers gone until their source answers again).
    fn keep_unchanged(&self, wanted: Configs) {
        let mut configs = self.configs.lock();
        let mut groups = self.groups.lock();
        for (job, sources) in groups.iter_mut() {
            sources.retain(|source, _| {
                let key = (job.clone(), source.clone());
                configs
                    .get(&key)
                    .is_some_and(|c| wanted.get(&key) == Some(c))
            });
        }
        groups.retain(|_, sources| !sources.is_empty());
        *configs = wanted;
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

/// The JSON form of one source's configuration, for [`Configs`].
fn fingerprint(config: &impl serde::Serialize) -> String {
    serde_json::to_string(config).unwrap_or_default()
}

/// [`Configs`] of the file, HTTP and DNS sources of one job or
/// Alertmanager entry, named as [`spawn_common_sources`] names them.
fn common_configs(
    out: &mut Configs,
    name: &str,
    file_sd: &[FileSdConfig],
    http_sd: &[HttpSdConfig],
    dns_sd: &[DnsSdConfig],
) {
    let mut add = |source: String, print: String| {
        out.insert((name.to_owned(), source), print);
    };
    for (i, c) in file_sd.iter().enumerate() {
        add(format!("file_sd/{i}"), fingerprint(c));
    }
    for (i, c) in http_sd.iter().enumerate() {
        add(format!("http_sd/{i}"), fingerprint(c));
    }
    for (i, c) in dns_sd.iter().enumerate() {
        add(format!("dns_sd/{i}"), fingerprint(c));
    }
}

/// One element of a file or HTTP SD document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Parses a file SD document: JSON by `.json`, YAML otherwise.
fn parse_groups(text: &str, path: &Path) -> Result<Vec<RawGroup>, String> {
    if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(text).map_err(|e| format!("{}: {e}", path.display()))
    } else if text.trim().is_empty() {
        Ok(Vec::new())
    } else {
        serde_saphyr::from_str(text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// The files a pattern names (already joined with the config file's
/// directory by the loader), as Prometheus' file discovery lists them:
/// Go's `filepath.Glob`, the same matching `check config` does. A malformed
/// pattern is logged and names nothing (configuration validation rejects
/// them first).
fn expand(pattern: &str) -> Vec<PathBuf> {
    wasmetheus_config::glob::glob(pattern).unwrap_or_else(|e| {
        tracing::error!(pattern, error = %e, "file_sd: error expanding glob");
        Vec::new()
    })
}

/// Reads every file of a `file_sd_configs` entry. A file that cannot be
/// read or parsed keeps its previous groups (Prometheus keeps the last
/// good state); the error is logged.
fn read_file_sd(
    config: &FileSdConfig,
    previous: &BTreeMap<PathBuf, Vec<TargetGroup>>,
) -> BTreeMap<PathBuf, Vec<TargetGroup>> {
    let mut out = BTreeMap::new();
    for pattern in &config.files {
        for path in expand(pattern) {
            let parsed = std::fs::read_to_string(&path)
                .map_err(|e| format!("{}: {e}", path.display()))
                .and_then(|text| parse_groups(&text, &path));
            let groups = match parsed {
                Ok(raw) => raw
                    .into_iter()
                    .enumerate()
                    .map(|(i, g)| {
                        let mut labels = g.labels;
                        labels.insert("__meta_filepath".into(), path.display().to_string());
                        TargetGroup {
                            targets: g.targets,
                            labels,
                            source: format!("{}:{i}", path.display()),
                        }
                    })
                    .collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "file_sd: cannot read targets; keeping the last ones");
                    previous.get(&path).cloned().unwrap_or_default()
                }
            };
            out.insert(path, groups);
        }
    }
    out
}

/// Whether a discovery entry runs, and each entry's report: the API's
/// types, as `/api/v1/targets` lists them in `data.discoveries`; `/metrics`
/// counts them.
pub use wasmetheus_api::types::{DiscoveryState, DiscoveryStatus};

/// The mechanisms of `ScrapeConfig::service_discoveries` (Prometheus'
/// names) that [`Discovery::start`] runs; static, file, HTTP and DNS
/// discovery always run. A mechanism gets its arm in `start` and its name
/// here together.
const RUNS_HERE: &[&str] = &["kubernetes"];

/// Every discovery entry of `config`'s scrape configs, in configuration
/// order: the running ones, then those parsed but not run yet.
pub fn discovery_statuses(config: &Config) -> Vec<DiscoveryStatus> {
    let mut statuses = Vec::new();
    for scrape in &config.scrape_configs {
        let mut add = |mechanism: String, count: usize, runs: bool| {
            for index in 0..count {
                let reason = if runs {
                    String::new()
                } else {
                    format!(
                        "{mechanism} is parsed and validated, but this version of wasmetheus \
                         does not run it yet: it produces no targets"
                    )
                };
                statuses.push(DiscoveryStatus {
                    job: scrape.job_name.clone(),
                    mechanism: mechanism.clone(),
                    index,
                    state: if runs {
                        DiscoveryState::Running
                    } else {
                        DiscoveryState::NotRunning
                    },
                    reason,
                });
            }
        };
        add("static_configs".into(), scrape.static_configs.len(), true);
        add("file_sd_configs".into(), scrape.file_sd_configs.len(), true);
        add("http_sd_configs".into(), scrape.http_sd_configs.len(), true);
        add("dns_sd_configs".into(), scrape.dns_sd_configs.len(), true);
        for (name, count) in scrape.service_discoveries() {
            add(
                format!("{name}_sd_configs"),
                count,
                RUNS_HERE.contains(&name),
            );
        }
    }
    statuses
}

/// Runs the discovery of every scrape config until dropped; restarted
/// with each configuration.
pub struct Discovery {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _watchers: Vec<notify::RecommendedWatcher>,
    statuses: Statuses,
}

/// The statuses of a [`Discovery`]: a running entry that fails to start
/// marks itself failed here.
type Statuses = Arc<Mutex<Vec<DiscoveryStatus>>>;

impl Drop for Discovery {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Discovery {
    /// Every discovery entry of the configuration and whether it runs.
    pub fn statuses(&self) -> Vec<DiscoveryStatus> {
        self.statuses.lock().clone()
    }

    /// Starts the sources of `config`, whose relative file paths
    /// [`Config::load`] joined with the config file's directory (they are
    /// used as they are); `changed` is called after each change of any
    /// source's groups.
    pub fn start(
        config: &Config,
        discovered: &Discovered,
        changed: Arc<dyn Fn() + Send + Sync>,
    ) -> Discovery {
        let mut wanted = Configs::new();
        for scrape in &config.scrape_configs {
            common_configs(
                &mut wanted,
                &scrape.job_name,
                &scrape.file_sd_configs,
                &scrape.http_sd_configs,
                &scrape.dns_sd_configs,
            );
            for (i, c) in scrape.kubernetes_sd_configs.iter().enumerate() {
                wanted.insert(
                    (scrape.job_name.clone(), format!("kubernetes_sd/{i}")),
                    fingerprint(c),
                );
            }
        }
        discovered.keep_unchanged(wanted);
        let discovered = &discovered.for_sources();
        let statuses = discovery_statuses(config);
        for status in &statuses {
            if status.state == DiscoveryState::NotRunning {
                tracing::warn!(
                    job = %status.job,
                    mechanism = %status.mechanism,
                    index = status.index,
                    "service discovery not running: {}",
                    status.reason
                );
            }
        }
        let statuses: Statuses = Arc::new(Mutex::new(statuses));
        let mut tasks = Vec::new();
        let mut watchers = Vec::new();
        for scrape in &config.scrape_configs {
            let job = scrape.job_name.clone();
            spawn_common_sources(
                &job,
                &scrape.file_sd_configs,
                &scrape.http_sd_configs,
                &scrape.dns_sd_configs,
                discovered,
                &changed,
                &mut tasks,
                &mut watchers,
            );
            for (i, ksd) in scrape.kubernetes_sd_configs.iter().enumerate() {
                tasks.push(tokio::spawn(run_kubernetes_sd(
                    job.clone(),
                    format!("kubernetes_sd/{i}"),
                    i,
                    ksd.clone(),
                    discovered.clone(),
                    Arc::clone(&changed),
                    Arc::clone(&statuses),
                )));
            }
        }
        // Whoever reads the groups learns what this start kept and
        // dropped now, not only when a source reports a change (an
        // unchanged source's report is no change), as Prometheus'
        // discovery manager sends the full state after applying a
        // configuration.
        changed();
        Discovery {
            tasks,
            _watchers: watchers,
            statuses,
        }
    }
}

/// The sources of every `alerting.alertmanagers` entry (file, HTTP, DNS
/// and Kubernetes discovery; the other mechanisms are logged as not
/// running), their groups under the entry's `config-N` name in
/// `discovered`; `changed` is called after each change. Static configs
/// are the notifier's own.
pub fn start_alertmanagers(
    config: &Config,
    discovered: &Discovered,
    changed: Arc<dyn Fn() + Send + Sync>,
) -> Discovery {
    let mut wanted = Configs::new();
    for (n, am) in config.alerting.alertmanagers.iter().enumerate() {
        common_configs(
            &mut wanted,
            &format!("config-{n}"),
            &am.file_sd_configs,
            &am.http_sd_configs,
            &am.dns_sd_configs,
        );
    }
    for (n, am) in config.alerting.alertmanagers.iter().enumerate() {
        for (i, c) in am.kubernetes_sd_configs.iter().enumerate() {
            wanted.insert(
                (format!("config-{n}"), format!("kubernetes_sd/{i}")),
                fingerprint(c),
            );
        }
    }
    discovered.keep_unchanged(wanted);
    let discovered = &discovered.for_sources();
    let mut tasks = Vec::new();
    let mut watchers = Vec::new();
    // Alertmanager entries have no discovery report; a Kubernetes entry
    // that cannot start says so in the log only.
    let statuses: Statuses = Arc::new(Mutex::new(Vec::new()));
    for (n, am) in config.alerting.alertmanagers.iter().enumerate() {
        let name = format!("config-{n}");
        for (mechanism, count) in am.service_discoveries() {
            if count > 0 && !RUNS_HERE.contains(&mechanism) {
                tracing::warn!(
                    alertmanagers = %name,
                    "service discovery not running: {mechanism}_sd_configs is not implemented \
                     yet; the Alertmanagers it would find get no alerts"
                );
            }
        }
        for (i, ksd) in am.kubernetes_sd_configs.iter().enumerate() {
            tasks.push(tokio::spawn(run_kubernetes_sd(
                name.clone(),
                format!("kubernetes_sd/{i}"),
                i,
                ksd.clone(),
                discovered.clone(),
                Arc::clone(&changed),
                Arc::clone(&statuses),
            )));
        }
        spawn_common_sources(
            &name,
            &am.file_sd_configs,
            &am.http_sd_configs,
            &am.dns_sd_configs,
            discovered,
            &changed,
            &mut tasks,
            &mut watchers,
        );
    }
    // The notifier learns the kept groups now (see `Discovery::start`): an
    // entry whose settings changed starts again from its static targets.
    changed();
    Discovery {
        tasks,
        _watchers: watchers,
        statuses: Arc::new(Mutex::new(Vec::new())),
    }
}

/// Starts the file, HTTP and DNS discovery entries of one scrape job or
/// Alertmanager entry (`name`), each source named `<mechanism>_sd/<index>`.
#[allow(clippy::too_many_arguments)]
fn spawn_common_sources(
    name: &str,
    file_sd: &[FileSdConfig],
    http_sd: &[HttpSdConfig],
    dns_sd: &[DnsSdConfig],
    discovered: &Discovered,
    changed: &Arc<dyn Fn() + Send + Sync>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
    watchers: &mut Vec<notify::RecommendedWatcher>,
) {
    for (i, fsd) in file_sd.iter().enumerate() {
        spawn_file_sd(
            name,
            format!("file_sd/{i}"),
            fsd,
            discovered,
            changed,
            tasks,
            watchers,
        );
    }
    for (i, hsd) in http_sd.iter().enumerate() {
        tasks.push(tokio::spawn(run_http_sd(
            name.to_owned(),
            format!("http_sd/{i}"),
            hsd.clone(),
            discovered.clone(),
            Arc::clone(changed),
        )));
    }
    for (i, dsd) in dns_sd.iter().enumerate() {
        tasks.push(tokio::spawn(run_dns_sd(
            name.to_owned(),
            format!("dns_sd/{i}"),
            dsd.clone(),
            discovered.clone(),
            Arc::clone(changed),
        )));
    }
}

/// Starts one `file_sd_configs` entry: a watch on its files' directories
/// (editors replace files, which a watch on the file itself would lose)
/// and the task reading them.
fn spawn_file_sd(
    job: &str,
    source: String,
    fsd: &FileSdConfig,
    discovered: &Discovered,
    changed: &Arc<dyn Fn() + Send + Sync>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
    watchers: &mut Vec<notify::RecommendedWatcher>,
) {
    let (wake_tx, wake_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    if let Ok(mut watcher) = notify::recommended_watcher(move |_: notify::Result<notify::Event>| {
        let _ = wake_tx.send(());
    }) {
        use notify::Watcher;
        for pattern in &fsd.files {
            let dir = match Path::new(pattern).parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir,
                _ => Path::new("."),
            };
            let _ = watcher.watch(dir, notify::RecursiveMode::NonRecursive);
        }
        watchers.push(watcher);
    }
    tasks.push(tokio::spawn(run_file_sd(
        job.to_owned(),
        source,
        fsd.clone(),
        discovered.clone(),
        Arc::clone(changed),
        wake_rx,
    )));
}

async fn run_file_sd(
    job: String,
    source: String,
    config: FileSdConfig,
    discovered: Discovered,
    changed: Arc<dyn Fn() + Send + Sync>,
    mut wake: tokio::sync::mpsc::UnboundedReceiver<()>,
) {
    let mut previous = BTreeMap::new();
    loop {
        let current = {
            let (config, previous) = (config.clone(), previous.clone());
            tokio::task::spawn_blocking(move || read_file_sd(&config, &previous))
                .await
                .unwrap_or_default()
        };
        let groups: Vec<TargetGroup> = current.values().flatten().cloned().collect();
        if discovered.set(&job, &source, groups) {
            changed();
        }
        previous = current;
        tokio::select! {
            _ = tokio::time::sleep(config.refresh_interval.0.max(Duration::from_secs(1))) => {}
            woken = wake.recv() => {
                if woken.is_none() {
                    return;
                }
                // Let a burst of events (write, rename) settle.
                tokio::time::sleep(Duration::from_millis(100)).await;
                while wake.try_recv().is_ok() {}
            }
        }
    }
}

/// Kubernetes discovery (`wasmetheus-kubernetes-sd`): each Kubernetes
/// group's targets become one group each here, the group's labels and the
/// target's own merged (targets here are addresses only).
async fn run_kubernetes_sd(
    job: String,
    source: String,
    index: usize,
    config: wasmetheus_config::sd::kubernetes::KubernetesSdConfig,
    discovered: Discovered,
    changed: Arc<dyn Fn() + Send + Sync>,
    statuses: Statuses,
) {
    // The config's paths are joined already: an empty base leaves them be.
    let started = wasmetheus_kubernetes_sd::KubernetesDiscovery::new(&config, Path::new("")).await;
    let discovery = match started {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(job = %job, error = %e, "kubernetes_sd: cannot start; it produces no targets");
            mark_failed(
                &statuses,
                &job,
                "kubernetes_sd_configs",
                index,
                &e.to_string(),
            );
            return;
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let run = discovery.run(tx);
    tokio::pin!(run);
    let mut by_source: BTreeMap<String, Vec<TargetGroup>> = BTreeMap::new();
    loop {
        let batch = tokio::select! {
            () = &mut run => return,
            batch = rx.recv() => match batch {
                Some(batch) => batch,
                None => return,
            },
        };
        for group in batch {
            if group.targets.is_empty() {
                by_source.remove(&group.source);
                continue;
            }
            let split = group
                .targets
                .iter()
                .map(|target| {
                    let mut labels = group.labels.clone();
                    labels.extend(target.iter().map(|(k, v)| (k.clone(), v.clone())));
                    let address = labels.remove("__address__").unwrap_or_default();
                    TargetGroup {
                        targets: vec![address],
                        labels,
                        source: group.source.clone(),
                    }
                })
                .collect();
            by_source.insert(group.source, split);
        }
        let groups = by_source.values().flatten().cloned().collect();
        if discovered.set(&job, &source, groups) {
            changed();
        }
    }
}

/// Marks the running entry `index` of `mechanism` in `job` as failed with
/// `reason`, for `/api/v1/targets` and `prometheus_sd_failed_configs`.
fn mark_failed(statuses: &Statuses, job: &str, mechanism: &str, index: usize, reason: &str) {
    for status in statuses.lock().iter_mut() {
        if status.job == job && status.mechanism == mechanism && status.index == index {
            status.state = DiscoveryState::Failed;
            status.reason = format!("{mechanism} could not start: {reason}");
        }
    }
}

async fn run_http_sd(
    job: String,
    source: String,
    config: HttpSdConfig,
    discovered: Discovered,
    changed: Arc<dyn Fn() + Send + Sync>,
) {
    let scraper = wasmetheus_scrape::http::Scraper::default();
    // TLS, authentication and headers; what the client does not implement
    // (`oauth2`, proxies, `*_ref`) is left out, as the load warnings say.
    let client = wasmetheus_http_client::Settings::from_config(&config.http());
    loop {
        let fetched = scraper
            .get_json(&config.url, &client, Duration::from_secs(30))
            .await;
        match fetched {
            Ok(text) => match serde_json::from_str::<Vec<RawGroup>>(&text) {
                Ok(raw) => {
                    let groups = http_sd_groups(raw, &config.url);
                    if discovered.set(&job, &source, groups) {
                        changed();
                    }
                }
                Err(e) => {
                    tracing::warn!(url = %wasmetheus_config::redact_url(&config.url), error = %e, "http_sd: invalid response; keeping the last targets")
                }
            },
            Err(e) => {
                tracing::warn!(url = %wasmetheus_config::redact_url(&config.url), error = %e, "http_sd: request failed; keeping the last targets")
            }
        }
        tokio::time::sleep(config.refresh_interval.0.max(Duration::from_secs(1))).await;
    }
}

/// The groups of an HTTP SD answer from `url`, as Prometheus' HTTP
/// discovery makes them: `__meta_url` is the URL as configured (relabeling
/// input, password included, as in Prometheus; the targets API shows it
/// redacted), each group's source `<url>:<index>` with the password as
/// `xxxxx`.
fn http_sd_groups(raw: Vec<RawGroup>, url: &str) -> Vec<TargetGroup> {
    let shown = wasmetheus_config::redact_url(url);
    raw.into_iter()
        .enumerate()
        .map(|(i, g)| {
            let mut labels = g.labels;
            labels.insert("__meta_url".into(), url.to_owned());
            TargetGroup {
                targets: g.targets,
                labels,
                source: format!("{shown}:{i}"),
            }
        })
        .collect()
}

async fn run_dns_sd(
    job: String,
    source: String,
    config: DnsSdConfig,
    discovered: Discovered,
    changed: Arc<dyn Fn() + Send + Sync>,
) {
    let interval = config.refresh_interval.0.max(Duration::from_secs(1));
    let mut sd = DnsSd::new(config, DnsResolver::system());
    loop {
        let groups = sd.refresh().await;
        if discovered.set(&job, &source, groups) {
            changed();
        }
        tokio::time::sleep(interval).await;
    }
}

/// Every DNS-SD lookup since start, as Prometheus'
/// `prometheus_sd_dns_lookups_total`.
static DNS_LOOKUPS: AtomicU64 = AtomicU64::new(0);
/// Every failed DNS-SD lookup since start, as Prometheus'
/// `prometheus_sd_dns_lookup_failures_total`.
static DNS_LOOKUP_FAILURES: AtomicU64 = AtomicU64::new(0);

/// `(lookups, failures)` of every DNS-SD source since the process started.
pub fn dns_sd_lookup_counts() -> (u64, u64) {
    (
        DNS_LOOKUPS.load(Ordering::Relaxed),
        DNS_LOOKUP_FAILURES.load(Ordering::Relaxed),
    )
}

/// Why a DNS-SD lookup gave no answer to use.
#[derive(Debug, thiserror::Error)]
pub enum DnsSdError {
    #[error(
        "cannot read the resolver configuration (/etc/resolv.conf): {0}; DNS service discovery needs at least one nameserver line there"
    )]
    Config(String),
    #[error("invalid DNS-SD record type {0:?}: use SRV, A, AAAA, MX or NS")]
    RecordType(String),
    #[error("could not resolve {name:?}: {error}")]
    Lookup { name: String, error: String },
}

/// Where DNS-SD lookups go: the system's resolver configuration
/// (`/etc/resolv.conf`: nameservers, search domains, `ndots`, timeouts),
/// re-read at every refresh as Prometheus does, or a fixed list of
/// nameservers.
///
/// Lookups go through hickory's stub resolver: random query ids,
/// responses accepted only from the server asked and only when their id
/// and question match the query, a retry over TCP when a UDP answer is
/// truncated. No answer is cached between refreshes.
#[derive(Debug, Clone)]
pub struct DnsResolver {
    servers: Option<(Vec<SocketAddr>, Duration)>,
}

impl DnsResolver {
    /// The resolver `/etc/resolv.conf` describes.
    pub fn system() -> DnsResolver {
        DnsResolver { servers: None }
    }

    /// Asks `servers` (UDP, then TCP on truncation, each on the given
    /// port), waiting at most `timeout` for each answer; no search
    /// domains, so names are asked as written.
    pub fn with_nameservers(servers: &[SocketAddr], timeout: Duration) -> DnsResolver {
        DnsResolver {
            servers: Some((servers.to_vec(), timeout)),
        }
    }

    fn build(&self) -> Result<TokioResolver, DnsSdError> {
        let provider = TokioRuntimeProvider::default();
        let builder = match &self.servers {
            None => {
                TokioResolver::builder(provider).map_err(|e| DnsSdError::Config(e.to_string()))?
            }
            Some((servers, timeout)) => {
                let name_servers = servers
                    .iter()
                    .map(|addr| {
                        let mut udp = ConnectionConfig::udp();
                        udp.port = addr.port();
                        let mut tcp = ConnectionConfig::tcp();
                        tcp.port = addr.port();
                        NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                    })
                    .collect();
                let mut options = ResolverOpts::default();
                options.timeout = *timeout;
                options.attempts = 1;
                TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(name_servers),
                    provider,
                )
                .with_options(options)
            }
        };
        let mut builder = builder;
        let options = builder.options_mut();
        // Each refresh asks again, as Prometheus does; addresses are
        // never taken from /etc/hosts.
        options.cache_size = 0;
        options.use_hosts_file = ResolveHosts::Never;
        builder
            .build()
            .map_err(|e| DnsSdError::Config(e.to_string()))
    }
}

/// The record types of `dns_sd_configs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DnsKind {
    Srv,
    A,
    Aaaa,
    Mx,
    Ns,
}

impl DnsKind {
    fn parse(kind: &str) -> Option<DnsKind> {
        Some(match kind.to_ascii_uppercase().as_str() {
            "SRV" => DnsKind::Srv,
            "A" => DnsKind::A,
            "AAAA" => DnsKind::Aaaa,
            "MX" => DnsKind::Mx,
            "NS" => DnsKind::Ns,
            _ => return None,
        })
    }

    fn record_type(self) -> RecordType {
        match self {
            DnsKind::Srv => RecordType::SRV,
            DnsKind::A => RecordType::A,
            DnsKind::Aaaa => RecordType::AAAA,
            DnsKind::Mx => RecordType::MX,
            DnsKind::Ns => RecordType::NS,
        }
    }
}

/// One `dns_sd_configs` entry: asks for each name at every refresh. A
/// name whose lookup fails keeps its last good groups (Prometheus keeps a
/// source's groups until it answers again); a name that does not exist
/// (NXDOMAIN) or has no records of the type has no targets.
#[derive(Debug)]
pub struct DnsSd {
    config: DnsSdConfig,
    resolver: DnsResolver,
    last_good: BTreeMap<String, Vec<TargetGroup>>,
    lookups: u64,
    failures: u64,
}

impl DnsSd {
    pub fn new(config: DnsSdConfig, resolver: DnsResolver) -> DnsSd {
        DnsSd {
            config,
            resolver,
            last_good: BTreeMap::new(),
            lookups: 0,
            failures: 0,
        }
    }

    /// Lookups made by this source.
    pub fn lookups(&self) -> u64 {
        self.lookups
    }

    /// Lookups of this source that failed.
    pub fn failures(&self) -> u64 {
        self.failures
    }

    /// Looks every name up once; the groups of all names, failed ones
    /// with their last good groups. Failures are logged and counted.
    pub async fn refresh(&mut self) -> Vec<TargetGroup> {
        let resolver = self.resolver.build();
        for name in self.config.names.clone() {
            self.lookups += 1;
            DNS_LOOKUPS.fetch_add(1, Ordering::Relaxed);
            let found = match &resolver {
                Ok(resolver) => lookup(resolver, &self.config, &name).await,
                Err(e) => Err(DnsSdError::Config(e.to_string())),
            };
            match found {
                Ok(groups) => {
                    self.last_good.insert(name, groups);
                }
                Err(e) => {
                    self.failures += 1;
                    DNS_LOOKUP_FAILURES.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(name, error = %e, "dns_sd: lookup failed; keeping the last targets");
                }
            }
        }
        let names = &self.config.names;
        self.last_good.retain(|name, _| names.contains(name));
        self.last_good.values().flatten().cloned().collect()
    }
}

/// Asks for one name's records and makes them target groups with
/// Prometheus' meta labels: one group per SRV, MX or NS record (each has
/// its own labels), one group of every address for A and AAAA.
async fn lookup(
    resolver: &TokioResolver,
    config: &DnsSdConfig,
    name: &str,
) -> Result<Vec<TargetGroup>, DnsSdError> {
    let kind =
        DnsKind::parse(&config.kind).ok_or_else(|| DnsSdError::RecordType(config.kind.clone()))?;
    let port = config.port.unwrap_or(0);
    let answers = match resolver.lookup(name, kind.record_type()).await {
        Ok(lookup) => lookup.answers().to_vec(),
        // Prometheus: a name that does not exist, or has none of these
        // records, has no targets; that is an answer, not a failure.
        Err(e) if e.is_no_records_found() => Vec::new(),
        Err(e) => {
            return Err(DnsSdError::Lookup {
                name: name.to_owned(),
                error: e.to_string(),
            });
        }
    };
    let mut addresses = Vec::new();
    let mut groups = Vec::new();
    let mut record_group = |label: &str, target: String, port: u16, srv_port: bool| {
        let mut labels = BTreeMap::new();
        labels.insert("__meta_dns_name".to_owned(), name.to_owned());
        let host = target.trim_end_matches('.').to_owned();
        labels.insert(label.to_owned(), target);
        if srv_port {
            labels.insert("__meta_dns_srv_record_port".to_owned(), port.to_string());
        }
        let address = join_host_port(&host, port);
        groups.push(TargetGroup {
            targets: vec![address.clone()],
            labels,
            source: format!("{name}/{address}"),
        });
    };
    for record in &answers {
        match &record.data {
            RData::SRV(srv) => record_group(
                "__meta_dns_srv_record_target",
                srv.target.to_string(),
                srv.port,
                true,
            ),
            RData::MX(mx) => record_group(
                "__meta_dns_mx_record_target",
                mx.exchange.to_string(),
                port,
                false,
            ),
            RData::NS(ns) => {
                record_group("__meta_dns_ns_record_target", ns.0.to_string(), port, false)
            }
            RData::A(a) if kind == DnsKind::A => {
                addresses.push(SocketAddr::new(a.0.into(), port).to_string())
            }
            RData::AAAA(aaaa) if kind == DnsKind::Aaaa => {
                addresses.push(SocketAddr::new(aaaa.0.into(), port).to_string())
            }
            // The chain to the answer (CNAME) and anything else asked
            // for by no one.
            _ => {}
        }
    }
    groups.sort_by(|a, b| a.source.cmp(&b.source));
    groups.dedup();
    if matches!(kind, DnsKind::A | DnsKind::Aaaa) {
        addresses.sort();
        addresses.dedup();
        let mut labels = BTreeMap::new();
        labels.insert("__meta_dns_name".to_owned(), name.to_owned());
        groups.push(TargetGroup {
            targets: addresses,
            labels,
            source: name.to_owned(),
        });
    }
    Ok(groups)
}

/// `host:port`, with brackets around an IPv6 address, as Go's
/// `net.JoinHostPort`.
fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_sd_keeps_the_url_for_relabeling_and_hides_its_password_in_sources() {
        let url = "http://sd:hunter2@127.0.0.1:8080/targets";
        let raw: Vec<RawGroup> = serde_json::from_str(
            r#"[{"targets": ["h1:9100"], "labels": {"env": "prod"}}, {"targets": ["h2:9100"]}]"#,
        )
        .unwrap();
        let groups = http_sd_groups(raw, url);
        let sources: Vec<&str> = groups.iter().map(|g| g.source.as_str()).collect();
        assert_eq!(
            sources,
            [
                "http://sd:xxxxx@127.0.0.1:8080/targets:0",
                "http://sd:xxxxx@127.0.0.1:8080/targets:1"
            ]
        );
        for group in &groups {
            assert_eq!(group.labels["__meta_url"], url);
        }
        assert_eq!(groups[0].labels["env"], "prod");
        assert_eq!(groups[1].targets, ["h2:9100"]);
    }

    /// HTTP SD sends its entry's `authorization` and `http_headers`: a
    /// server that wants both answers only then.
    #[tokio::test]
    async fn http_sd_sends_its_credentials_and_headers() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.ends_with(b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let allowed = head.contains("\r\nauthorization: bearer tok\r\n")
                    && head.contains("\r\nx-tenant: t1\r\n");
                let body = r#"[{"targets": ["h1:9100"]}]"#;
                let answer = if allowed {
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                } else {
                    "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_owned()
                };
                let _ = tcp.write_all(answer.as_bytes()).await;
            }
        });
        let config = Config::parse(
            &format!(
                "scrape_configs:
  - job_name: a
    http_sd_configs:
      - url: http://{address}/targets
        authorization: {{credentials: tok}}
        http_headers: {{X-Tenant: {{values: [t1]}}}}
"
            ),
            Path::new("prometheus.yml"),
        )
        .unwrap();
        let sd = config.scrape_configs[0].http_sd_configs[0].clone();
        let discovered = Discovered::default();
        let task = tokio::spawn(run_http_sd(
            "a".into(),
            "http_sd/0".into(),
            sd,
            discovered.clone(),
            Arc::new(|| {}),
        ));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while discovered.groups("a").is_empty() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        task.abort();
        let groups = discovered.groups("a");
        assert_eq!(groups.len(), 1, "{groups:?}");
        assert_eq!(groups[0].targets, ["h1:9100"]);
    }

    #[test]
    fn every_discovery_entry_is_listed_and_those_not_run_say_why() {
        let config = Config::parse(
            "scrape_configs:
  - job_name: a
    static_configs: [{targets: ['h:1']}]
    dns_sd_configs: [{names: [x.example], type: A, port: 9100}]
    consul_sd_configs: [{server: 'c:8500'}, {server: 'd:8500'}]
    kubernetes_sd_configs: [{role: pod}]
  - job_name: b
    nomad_sd_configs: [{server: 'http://n:4646'}]
",
            Path::new("prometheus.yml"),
        )
        .unwrap();
        let statuses = discovery_statuses(&config);
        let listed: Vec<(&str, &str, usize, DiscoveryState)> = statuses
            .iter()
            .map(|s| (s.job.as_str(), s.mechanism.as_str(), s.index, s.state))
            .collect();
        use DiscoveryState::{NotRunning, Running};
        assert_eq!(
            listed,
            [
                ("a", "static_configs", 0, Running),
                ("a", "dns_sd_configs", 0, Running),
                ("a", "consul_sd_configs", 0, NotRunning),
                ("a", "consul_sd_configs", 1, NotRunning),
                ("a", "kubernetes_sd_configs", 0, Running),
                ("b", "nomad_sd_configs", 0, NotRunning),
            ]
        );
        for status in statuses {
            match status.state {
                Running => assert!(status.reason.is_empty(), "{status:?}"),
                NotRunning => assert_eq!(
                    status.reason,
                    format!(
                        "{} is parsed and validated, but this version of wasmetheus does not run it yet: it produces no targets",
                        status.mechanism
                    )
                ),
                DiscoveryState::Failed => panic!("nothing has started: {status:?}"),
            }
        }
    }

    #[test]
    fn file_sd_reads_json_and_yaml_and_globs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.json"),
            r#"[{"targets": ["h1:9100", "h2:9100"], "labels": {"env": "prod"}}]"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("b.yml"), "- targets: [h3:9100]\n").unwrap();
        let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
        let config = FileSdConfig {
            files: vec![path("*.json"), path("b.yml")],
            refresh_interval: wasmetheus_config::PromDuration(Duration::from_secs(60)),
        };
        let found = read_file_sd(&config, &BTreeMap::new());
        let groups: Vec<&TargetGroup> = found.values().flatten().collect();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].targets, vec!["h1:9100", "h2:9100"]);
        assert_eq!(groups[0].labels["env"], "prod");
        assert!(groups[0].labels["__meta_filepath"].ends_with("a.json"));
        assert_eq!(groups[1].targets, vec!["h3:9100"]);
        // A broken file keeps its last good groups.
        std::fs::write(dir.path().join("b.yml"), "- targets: [").unwrap();
        let again = read_file_sd(&config, &found);
        assert_eq!(again, found);
    }

    /// Several stars, `?` and classes find what `check config` finds (Go's
    /// `filepath.Glob`); a file that is gone takes its targets with it.
    #[test]
    fn file_sd_globs_as_go() {
        let dir = tempfile::tempdir().unwrap();
        let sd = dir.path().join("sd");
        std::fs::create_dir(&sd).unwrap();
        for (name, target) in [("a1b2.json", "h1:9100"), ("axb2.json", "h2:9100")] {
            std::fs::write(sd.join(name), format!(r#"[{{"targets": ["{target}"]}}]"#)).unwrap();
        }
        let targets = |pattern: &str| -> Vec<String> {
            let config = FileSdConfig {
                files: vec![dir.path().join(pattern).to_string_lossy().into_owned()],
                refresh_interval: wasmetheus_config::PromDuration(Duration::from_secs(60)),
            };
            let found = read_file_sd(&config, &BTreeMap::new());
            found
                .values()
                .flatten()
                .flat_map(|g| g.targets.clone())
                .collect()
        };
        assert_eq!(targets("sd/a*b*.json"), ["h1:9100", "h2:9100"]);
        assert_eq!(targets("sd/a?b2.json"), ["h1:9100", "h2:9100"]);
        assert_eq!(targets("sd/a[0-9]b2.json"), ["h1:9100"]);
        assert_eq!(targets("sd/a[^0-9]b2.json"), ["h2:9100"]);
        assert!(targets("sd/a[b2.json").is_empty());
        std::fs::remove_file(sd.join("a1b2.json")).unwrap();
        assert_eq!(targets("sd/a1b2.json"), Vec::<String>::new());
    }

    /// A reload keeps what an unchanged source found until its new instance
    /// reports, and drops the groups of sources that changed or went away
    /// (a scrape job's and an Alertmanager entry's alike).
    #[tokio::test]
    async fn a_reload_keeps_the_groups_of_unchanged_sources_only() {
        let dir = tempfile::tempdir().unwrap();
        let config = |second: &str| {
            Config::parse(
                &format!(
                    "scrape_configs:
  - job_name: same
    file_sd_configs: [{{files: [{0}/a.json]}}]
  - job_name: other
    file_sd_configs: [{{files: [{0}/{second}]}}]
alerting:
  alertmanagers:
    - file_sd_configs: [{{files: [{0}/am.json]}}]
",
                    dir.path().display()
                ),
                Path::new("prometheus.yml"),
            )
            .unwrap()
        };
        let group = |target: &str| TargetGroup {
            targets: vec![target.to_owned()],
            labels: BTreeMap::new(),
            source: target.to_owned(),
        };
        let calls = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&calls);
        let changed: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let first = config("b.json");
        let scrapes = Discovered::default();
        let alertmanagers = Discovered::default();
        let started = Discovery::start(&first, &scrapes, Arc::clone(&changed));
        let started_am = start_alertmanagers(&first, &alertmanagers, Arc::clone(&changed));
        drop((started, started_am));
        // What the sources found (their files do not exist: nothing raced).
        scrapes.set("same", "file_sd/0", vec![group("h1:9100")]);
        scrapes.set("other", "file_sd/0", vec![group("h2:9100")]);
        scrapes.set("gone", "file_sd/0", vec![group("h3:9100")]);
        alertmanagers.set("config-0", "file_sd/0", vec![group("am:9093")]);

        // A source of the first start that has not ended yet.
        let late = scrapes.for_sources();
        let calls_before = calls.load(Ordering::SeqCst);

        let second = config("c.json");
        let reloaded = Discovery::start(&second, &scrapes, Arc::clone(&changed));
        let reloaded_am = start_alertmanagers(&second, &alertmanagers, changed);
        drop((reloaded, reloaded_am));
        // Each start tells its reader once, whatever its sources report.
        assert_eq!(calls.load(Ordering::SeqCst), calls_before + 2);
        assert!(!late.set("other", "file_sd/0", vec![group("h9:9100")]));
        assert_eq!(scrapes.groups("same"), vec![group("h1:9100")]);
        assert_eq!(scrapes.groups("other"), vec![], "its file changed");
        assert_eq!(scrapes.groups("gone"), vec![], "not in the configuration");
        assert_eq!(alertmanagers.groups("config-0"), vec![group("am:9093")]);

        let without = Config::parse("scrape_configs: []\n", Path::new("prometheus.yml")).unwrap();
        drop(start_alertmanagers(
            &without,
            &alertmanagers,
            Arc::new(|| {}),
        ));
        assert_eq!(alertmanagers.groups("config-0"), vec![]);
    }
}
