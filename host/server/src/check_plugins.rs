//! `wasmetheus check plugins`: loads plugin files in the real runtime and
//! checks what an operator relies on — metadata, and for an exporter a
//! collect that succeeds within the limits with valid output.

use std::path::{Path, PathBuf};
use std::time::Duration;
use wasmetheus_config::{Config, PluginInstanceConfig, PromDuration};
use wasmetheus_plugin_runtime::{
    LoadError, PluginMetadata, PluginRuntime, ReceiverRuntime, RuntimeOptions, grants_for_requests,
};

const COLLECTS: usize = 3;

/// Checks each file and prints a report; returns how many failed.
pub fn run(files: &[PathBuf]) -> anyhow::Result<usize> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut failed = 0;
    for file in files {
        println!("Checking {}", file.display());
        match runtime.block_on(check_one(file)) {
            Ok(report) => {
                for line in report {
                    println!("  {line}");
                }
                println!("  SUCCESS");
            }
            Err(e) => {
                println!("  FAILED: {e}");
                failed += 1;
            }
        }
    }
    Ok(failed)
}

async fn check_one(file: &Path) -> anyhow::Result<Vec<String>> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let plugin = file
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| anyhow::anyhow!("{} is not a *.wasm file", file.display()))?
        .to_owned();
    let runtime = PluginRuntime::new(RuntimeOptions::new(dir))?;
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
    let mut report = check_metadata(&metadata)?;
    report.extend(collect_checks(&runtime, &plugin, &metadata).await?);
    Ok(report)
}

/// What every plugin's metadata must satisfy.
fn check_metadata(metadata: &PluginMetadata) -> anyhow::Result<Vec<String>> {
    let report = vec![format!(
        "metadata: {} {} — {}",
        metadata.name, metadata.version, metadata.description
    )];
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
    if !metadata.config_schema.is_empty() {
        // Read only to check that it is JSON: nothing is kept.
        serde_json::from_str::<serde::de::IgnoredAny>(&metadata.config_schema)
            .map_err(|e| anyhow::anyhow!("config schema is not valid JSON: {e}"))?;
    }
    Ok(report)
}

/// An exporter instance granted exactly what it asks for, as an operator
/// following its metadata would, configured with the first of its config
/// schema's `examples` when it gives one (a plugin that cannot open
/// without settings, such as a DSN, shows there how it is configured),
/// collected a few times.
async fn collect_checks(
    runtime: &PluginRuntime,
    plugin: &str,
    metadata: &PluginMetadata,
) -> anyhow::Result<Vec<String>> {
    let mut report = Vec::new();
    let mut config = Config::default();
    config.plugins.instances.push(PluginInstanceConfig {
        name: format!("check-{plugin}"),
        plugin: plugin.to_owned(),
        job: None,
        scrape_interval: Some(PromDuration(Duration::from_secs(10))),
        scrape_timeout: Some(PromDuration(Duration::from_secs(5))),
        memory_limit: None,
        config: wasmetheus_plugin_runtime::schema::first_example(&metadata.config_schema),
        grants: grants_for_requests(&metadata.capabilities),
        labels: Default::default(),
    });
    {
        let runtime = runtime.clone();
        tokio::task::spawn_blocking(move || runtime.apply_config(&config)).await?;
    }
    let instance = format!("check-{plugin}");
    for round in 1..=COLLECTS {
        let started = std::time::Instant::now();
        let families = runtime
            .collect(&instance)
            .await
            .map_err(|e| anyhow::anyhow!("collect {round}: {e}"))?;
        let series: usize = families.iter().map(|f| f.metrics.len()).sum();
        report.push(format!(
            "collect {round}: {} families, {series} series, valid, {:.1} ms",
            families.len(),
            started.elapsed().as_secs_f64() * 1e3
        ));
    }
    Ok(report)
}
