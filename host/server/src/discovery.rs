//! Service discovery for `scrape_configs`: `file_sd_configs` (JSON or YAML
//! target groups, re-read when a file changes and every
//! `refresh_interval`), `http_sd_configs` (the same JSON from a URL) and
//! `dns_sd_configs` (SRV, A and AAAA records). Each source keeps its latest groups;
//! a change wakes the scrape manager through `changed`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::Deserialize;
use wasmetheus_config::{Config, DnsSdConfig, FileSdConfig, HttpSdConfig};

use crate::scrape_targets::TargetGroup;

/// Each source's latest groups, by source name.
type BySource = BTreeMap<String, Vec<TargetGroup>>;

/// The groups every discovery source found, by job.
#[derive(Debug, Default, Clone)]
pub struct Discovered {
    groups: Arc<Mutex<BTreeMap<String, BySource>>>,
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

    /// Replaces one source's groups; whether anything changed.
    fn set(&self, job: &str, source: &str, groups: Vec<TargetGroup>) -> bool {
        let mut all = self.groups.lock();
        let sources = all.entry(job.to_owned()).or_default();
        if sources.get(source) == Some(&groups) {
            return false;
        }
        sources.insert(source.to_owned(), groups);
        true
    }

    fn clear(&self) {
        self.groups.lock().clear();
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

/// The files a pattern names: a `*` glob is allowed in the last element,
/// as in Prometheus.
fn expand(pattern: &str, base: &Path) -> Vec<PathBuf> {
    let path = base.join(pattern);
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    if !name.contains('*') {
        return vec![path];
    }
    let (prefix, suffix) = name.split_once('*').unwrap_or((name, ""));
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Reads every file of a `file_sd_configs` entry. A file that cannot be
/// read or parsed keeps its previous groups (Prometheus keeps the last
/// good state); the error is logged.
fn read_file_sd(
    config: &FileSdConfig,
    base: &Path,
    previous: &BTreeMap<PathBuf, Vec<TargetGroup>>,
) -> BTreeMap<PathBuf, Vec<TargetGroup>> {
    let mut out = BTreeMap::new();
    for pattern in &config.files {
        for path in expand(pattern, base) {
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

/// Runs the discovery of every scrape config until dropped; restarted
/// with each configuration.
pub struct Discovery {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _watchers: Vec<notify::RecommendedWatcher>,
}

impl Drop for Discovery {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Discovery {
    /// Starts the sources of `config`. `base` resolves relative file
    /// paths (the config file's directory); `changed` is called after
    /// each change of any source's groups.
    pub fn start(
        config: &Config,
        base: &Path,
        discovered: &Discovered,
        changed: Arc<dyn Fn() + Send + Sync>,
    ) -> Discovery {
        discovered.clear();
        let mut tasks = Vec::new();
        let mut watchers = Vec::new();
        for scrape in &config.scrape_configs {
            let job = scrape.job_name.clone();
            for (i, fsd) in scrape.file_sd_configs.iter().enumerate() {
                let (wake_tx, wake_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
                // Watch the directories: editors replace files, which a
                // watch on the file itself would lose.
                if let Ok(mut watcher) =
                    notify::recommended_watcher(move |_: notify::Result<notify::Event>| {
                        let _ = wake_tx.send(());
                    })
                {
                    use notify::Watcher;
                    for pattern in &fsd.files {
                        let dir = base
                            .join(pattern)
                            .parent()
                            .map(Path::to_owned)
                            .unwrap_or_else(|| base.to_owned());
                        let _ = watcher.watch(&dir, notify::RecursiveMode::NonRecursive);
                    }
                    watchers.push(watcher);
                }
                tasks.push(tokio::spawn(run_file_sd(
                    job.clone(),
                    format!("file_sd/{i}"),
                    fsd.clone(),
                    base.to_owned(),
                    discovered.clone(),
                    Arc::clone(&changed),
                    wake_rx,
                )));
            }
            for (i, hsd) in scrape.http_sd_configs.iter().enumerate() {
                tasks.push(tokio::spawn(run_http_sd(
                    job.clone(),
                    format!("http_sd/{i}"),
                    hsd.clone(),
                    discovered.clone(),
                    Arc::clone(&changed),
                )));
            }
            for (i, dsd) in scrape.dns_sd_configs.iter().enumerate() {
                tasks.push(tokio::spawn(run_dns_sd(
                    job.clone(),
                    format!("dns_sd/{i}"),
                    dsd.clone(),
                    discovered.clone(),
                    Arc::clone(&changed),
                )));
            }
        }
        Discovery {
            tasks,
            _watchers: watchers,
        }
    }
}

async fn run_file_sd(
    job: String,
    source: String,
    config: FileSdConfig,
    base: PathBuf,
    discovered: Discovered,
    changed: Arc<dyn Fn() + Send + Sync>,
    mut wake: tokio::sync::mpsc::UnboundedReceiver<()>,
) {
    let mut previous = BTreeMap::new();
    loop {
        let current = {
            let (config, base, previous) = (config.clone(), base.clone(), previous.clone());
            tokio::task::spawn_blocking(move || read_file_sd(&config, &base, &previous))
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

async fn run_http_sd(
    job: String,
    source: String,
    config: HttpSdConfig,
    discovered: Discovered,
    changed: Arc<dyn Fn() + Send + Sync>,
) {
    let scraper = wasmetheus_scrape::http::Scraper::default();
    loop {
        match scraper.get_json(&config.url, Duration::from_secs(30)).await {
            Ok(text) => match serde_json::from_str::<Vec<RawGroup>>(&text) {
                Ok(raw) => {
                    let groups = raw
                        .into_iter()
                        .enumerate()
                        .map(|(i, g)| {
                            let mut labels = g.labels;
                            labels.insert("__meta_url".into(), config.url.clone());
                            TargetGroup {
                                targets: g.targets,
                                labels,
                                source: format!("{}:{i}", config.url),
                            }
                        })
                        .collect();
                    if discovered.set(&job, &source, groups) {
                        changed();
                    }
                }
                Err(e) => {
                    tracing::warn!(url = %config.url, error = %e, "http_sd: invalid response; keeping the last targets")
                }
            },
            Err(e) => {
                tracing::warn!(url = %config.url, error = %e, "http_sd: request failed; keeping the last targets")
            }
        }
        tokio::time::sleep(config.refresh_interval.0.max(Duration::from_secs(1))).await;
    }
}

async fn run_dns_sd(
    job: String,
    source: String,
    config: DnsSdConfig,
    discovered: Discovered,
    changed: Arc<dyn Fn() + Send + Sync>,
) {
    loop {
        let kind = config.kind.to_ascii_uppercase();
        let mut groups = Vec::new();
        for name in &config.names {
            if kind == "SRV" {
                let found = match crate::dns::system_nameserver() {
                    Ok(server) => crate::dns::lookup_srv(server, name).await,
                    Err(e) => Err(e),
                };
                match found {
                    // One group per record: each has its own labels.
                    Ok(records) => groups.extend(records.into_iter().map(|r| {
                        let mut labels = BTreeMap::new();
                        labels.insert("__meta_dns_name".into(), name.clone());
                        labels.insert("__meta_dns_srv_record_target".into(), r.target.clone());
                        labels.insert("__meta_dns_srv_record_port".into(), r.port.to_string());
                        TargetGroup {
                            targets: vec![format!("{}:{}", r.target, r.port)],
                            labels,
                            source: format!("{name}/{}:{}", r.target, r.port),
                        }
                    })),
                    Err(e) => tracing::warn!(name, error = %e, "dns_sd: SRV lookup failed"),
                }
                continue;
            }
            let port = config.port.unwrap_or(0);
            match tokio::net::lookup_host((name.as_str(), port)).await {
                Ok(addresses) => {
                    let mut targets: Vec<String> = addresses
                        .filter(|a| (kind == "A") == a.is_ipv4())
                        .map(|a| a.to_string())
                        .collect();
                    targets.sort();
                    targets.dedup();
                    let mut labels = BTreeMap::new();
                    labels.insert("__meta_dns_name".into(), name.clone());
                    groups.push(TargetGroup {
                        targets,
                        labels,
                        source: name.clone(),
                    });
                }
                Err(e) => {
                    tracing::warn!(name, error = %e, "dns_sd: lookup failed");
                }
            }
        }
        if discovered.set(&job, &source, groups) {
            changed();
        }
        tokio::time::sleep(config.refresh_interval.0.max(Duration::from_secs(1))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_sd_reads_json_and_yaml_and_globs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.json"),
            r#"[{"targets": ["h1:9100", "h2:9100"], "labels": {"env": "prod"}}]"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("b.yml"), "- targets: [h3:9100]\n").unwrap();
        let config = FileSdConfig {
            files: vec!["*.json".into(), "b.yml".into()],
            refresh_interval: wasmetheus_config::PromDuration(Duration::from_secs(60)),
        };
        let found = read_file_sd(&config, dir.path(), &BTreeMap::new());
        let groups: Vec<&TargetGroup> = found.values().flatten().collect();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].targets, vec!["h1:9100", "h2:9100"]);
        assert_eq!(groups[0].labels["env"], "prod");
        assert!(groups[0].labels["__meta_filepath"].ends_with("a.json"));
        assert_eq!(groups[1].targets, vec!["h3:9100"]);
        // A broken file keeps its last good groups.
        std::fs::write(dir.path().join("b.yml"), "- targets: [").unwrap();
        let again = read_file_sd(&config, dir.path(), &found);
        assert_eq!(again, found);
    }
}
