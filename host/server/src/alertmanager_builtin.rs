//! The Alertmanager built into `wasmetheus serve`
//! (`--alertmanager.config.file`): its flags ([`BuiltinArgs`]), the
//! running service ([`Builtin`], over `wasmetheus-alertmanager-service`)
//! and the in-process path of the rule engine's alerts to it.
//!
//! Alerts reach it as the notifier's reach a remote Alertmanager: the
//! external labels an alert lacks are added, `alert_relabel_configs` are
//! applied (an alert they drop is left out), and each becomes an API v2
//! `PostableAlert` with its annotations, `startsAt`, `endsAt` and
//! `generatorURL`. Rule evaluation never waits for it: batches go through
//! a bounded queue to a task that stores them; a full queue drops the
//! batch with a warning.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use parking_lot::Mutex;
use wasmetheus_alertmanager_service::{Service, ServiceOptions};
use wasmetheus_api::types::alertmanager::{LabelSet, PostableAlert};
use wasmetheus_config::Config;
use wasmetheus_model::{Label, MetricFamily, MetricKind};

/// How a failed reload of the built-in Alertmanager's file starts; the
/// reload's answer quotes these errors after Prometheus' text.
pub(crate) const BUILTIN_RELOAD_ERROR: &str = "reloading the built-in Alertmanager";
use wasmetheus_plugin_runtime::PluginRuntime;
use wasmetheus_relabel::RelabelConfig;

/// Batches of alerts waiting for the built-in Alertmanager; more are
/// dropped (and counted) rather than holding up rule evaluation.
const QUEUE_BATCHES: usize = 1024;

/// The flags of the built-in Alertmanager.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BuiltinArgs {
    /// Runs the Alertmanager in this server with this alertmanager.yml:
    /// its API v2 is served under /api/v2/, the rules' alerts reach it in
    /// process, and it reloads with the configuration.
    #[arg(long = "alertmanager.config.file", id = "alertmanager.config.file")]
    pub config_file: Option<PathBuf>,
    /// Where the built-in Alertmanager keeps its silences, notification
    /// log and alerts (default: <storage.tsdb.path>/alertmanager).
    #[arg(long = "alertmanager.storage.path", id = "alertmanager.storage.path")]
    pub storage_path: Option<PathBuf>,
    /// How long the built-in Alertmanager keeps expired silences and the
    /// notification log (default: 120h).
    #[arg(long = "alertmanager.data.retention", id = "alertmanager.data.retention", value_parser = wasmetheus_config::PromDuration::parse_std)]
    pub retention: Option<Duration>,
}

impl BuiltinArgs {
    /// The flags as `/api/v1/status/flags` lists them.
    pub fn flag_values(&self) -> [(&'static str, String); 3] {
        let path = |p: &Option<PathBuf>| {
            p.as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        [
            ("alertmanager.config.file", path(&self.config_file)),
            ("alertmanager.storage.path", path(&self.storage_path)),
            (
                "alertmanager.data.retention",
                self.retention
                    .map(|d| wasmetheus_promql::printer::format_duration(d.as_millis() as i64))
                    .unwrap_or_default(),
            ),
        ]
    }
}

/// The external labels and alert relabeling in force, replaced by each
/// applied configuration.
#[derive(Default)]
struct Relabeling {
    external_labels: Vec<Label>,
    configs: Vec<RelabelConfig>,
}

/// The running built-in Alertmanager.
pub struct Builtin {
    service: Arc<Service>,
    relabeling: Mutex<Relabeling>,
    /// Taken (closed) by [`Builtin::stop`].
    queue: Mutex<Option<tokio::sync::mpsc::Sender<Vec<PostableAlert>>>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Alerts dropped because the queue was full or storing failed.
    dropped: Arc<AtomicU64>,
    /// Whether a configuration was applied (the first is the start's).
    applied_once: std::sync::atomic::AtomicBool,
}

impl Builtin {
    /// Starts the service on `config_file` with the other settings of
    /// `args`, the server's plugin runtime and plugins directory; its
    /// state defaults to `<tsdb_path>/alertmanager`. `plugin_grants` (the
    /// configuration's `plugins.grants`) add to what each receiver's
    /// settings name.
    pub async fn start(
        args: &BuiltinArgs,
        config_file: &Path,
        tsdb_path: &Path,
        external_url: &str,
        plugins_dir: &Path,
        runtime: PluginRuntime,
        plugin_grants: &std::collections::BTreeMap<String, wasmetheus_config::Grants>,
    ) -> anyhow::Result<Arc<Builtin>> {
        let storage_path = args
            .storage_path
            .clone()
            .unwrap_or_else(|| tsdb_path.join("alertmanager"));
        let mut options = ServiceOptions::new(
            config_file.to_owned(),
            storage_path,
            plugins_dir.to_owned(),
            runtime,
        );
        if let Some(retention) = args.retention {
            options.retention = retention;
        }
        options.external_url = external_url.to_owned();
        options.plugin_grants = plugin_grants.clone();
        let service = Service::start(options).await.with_context(|| {
            format!(
                "starting the Alertmanager of --alertmanager.config.file={}",
                config_file.display()
            )
        })?;
        let (queue, mut receiver) = tokio::sync::mpsc::channel::<Vec<PostableAlert>>(QUEUE_BATCHES);
        let dropped = Arc::new(AtomicU64::new(0));
        let task = {
            let (service, dropped) = (Arc::clone(&service), Arc::clone(&dropped));
            tokio::spawn(async move {
                while let Some(batch) = receiver.recv().await {
                    let (service, count) = (Arc::clone(&service), batch.len() as u64);
                    let stored =
                        tokio::task::spawn_blocking(move || service.put_alerts(batch)).await;
                    let error = match stored {
                        Ok(Ok(())) => continue,
                        Ok(Err(e)) => e,
                        Err(e) => e.to_string(),
                    };
                    dropped.fetch_add(count, Ordering::Relaxed);
                    tracing::error!("storing alerts in the built-in Alertmanager: {error}");
                }
            })
        };
        Ok(Arc::new(Builtin {
            service,
            relabeling: Mutex::new(Relabeling::default()),
            queue: Mutex::new(Some(queue)),
            task: Mutex::new(Some(task)),
            dropped,
            applied_once: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    /// The API v2 backend, for `router_v2`.
    pub fn backend(&self) -> Arc<dyn wasmetheus_api::AlertmanagerBackend> {
        self.service.backend()
    }

    /// Takes the external labels and alert relabeling of `config`, and,
    /// but for the first configuration (the start's, which the service
    /// has just loaded), reloads the Alertmanager's own configuration
    /// file with `config`'s `plugins.grants`. Runs on a blocking thread of the server's runtime.
    pub fn apply(&self, config: &Config) -> Result<(), String> {
        *self.relabeling.lock() = Relabeling {
            external_labels: config
                .global
                .external_labels
                .iter()
                .map(|(name, value)| Label::new(name.as_str(), value.as_str()))
                .collect(),
            configs: config.alerting.alert_relabel_configs.clone(),
        };
        if !self.applied_once.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        // `plugins.grants` as this configuration has them.
        self.service
            .set_plugin_grants(config.plugins.grants.clone());
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|e| format!("{BUILTIN_RELOAD_ERROR}: {e}"))?;
        handle
            .block_on(self.service.reload())
            .map_err(|e| format!("{BUILTIN_RELOAD_ERROR}'s configuration: {e}"))
    }

    /// Hands the rule engine's `alerts` over without waiting: converted,
    /// queued, stored by the task.
    pub fn deliver(&self, alerts: &[wasmetheus_rules::Alert], generator_url: &str) {
        let resolve_timeout = self.service.backend().resolve_timeout();
        let batch = {
            let relabeling = self.relabeling.lock();
            let now = jiff::Timestamp::now();
            postable_alerts(&relabeling, alerts, generator_url, now, resolve_timeout)
        };
        if batch.is_empty() {
            return;
        }
        let count = batch.len() as u64;
        let queued = match &*self.queue.lock() {
            Some(queue) => queue.try_send(batch).is_ok(),
            None => false,
        };
        if !queued {
            self.dropped.fetch_add(count, Ordering::Relaxed);
            tracing::warn!(
                num_dropped = count,
                "the built-in Alertmanager's queue is full, dropping alerts"
            );
        }
    }

    /// The service's `alertmanager_*` families, and the alerts the
    /// in-process path dropped.
    pub fn metrics(&self) -> Vec<MetricFamily> {
        let mut families = self.service.metrics();
        families.push(MetricFamily::single(
            "wasmetheus_builtin_alertmanager_dropped_alerts_total",
            MetricKind::Counter,
            "Alerts of the rules the built-in Alertmanager did not get (queue full or store failed).",
            self.dropped.load(Ordering::Relaxed) as f64,
        ));
        families
    }

    /// Stores what is queued (within 5 s), then stops the service.
    pub async fn stop(&self) {
        // Closing the queue ends the task once it has stored the rest.
        drop(self.queue.lock().take());
        let task = self.task.lock().take();
        if let Some(mut task) = task
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            tracing::warn!("the built-in Alertmanager did not store its queued alerts in time");
            task.abort();
        }
        self.service.shutdown().await;
    }
}

/// The rule engine's alerts as API v2 alerts: external labels added,
/// relabeled (dropped ones left out), empty label values removed, an
/// absent end being "no end sent" as the API takes it (the alert lasts
/// `resolve_timeout` unless sent again).
fn postable_alerts(
    relabeling: &Relabeling,
    alerts: &[wasmetheus_rules::Alert],
    generator_url: &str,
    now: jiff::Timestamp,
    resolve_timeout: Duration,
) -> Vec<PostableAlert> {
    let timeout_end = jiff::SignedDuration::try_from(resolve_timeout)
        .ok()
        .and_then(|d| now.checked_add(d).ok())
        .unwrap_or(now);
    let time = |ms: i64| jiff::Timestamp::from_millisecond(ms).unwrap_or(now);
    let map = |labels: &[Label]| -> LabelSet {
        labels
            .iter()
            .filter(|l| !l.value.is_empty())
            .map(|l| (l.name.to_string(), l.value.to_string()))
            .collect()
    };
    let mut out = Vec::with_capacity(alerts.len());
    for alert in alerts {
        let labels = with_external_labels(&alert.labels, &relabeling.external_labels);
        let Some(labels) = wasmetheus_relabel::relabel(&labels, &relabeling.configs) else {
            continue;
        };
        let starts_at = time(alert.fired_at_ms.unwrap_or(alert.active_at_ms));
        let ends_at = alert.resolved_at_ms.or(alert.valid_until_ms);
        out.push(PostableAlert {
            labels: map(&labels),
            annotations: map(&alert.annotations),
            starts_at,
            // Prometheus always sends an end; without one the alert lasts
            // the resolve timeout, as the API makes it.
            ends_at: ends_at.map_or(timeout_end, time),
            timeout: ends_at.is_none(),
            updated_at: now,
            generator_url: generator_url.to_owned(),
        });
    }
    out
}

/// `labels` plus each external label whose name `labels` lacks (or holds
/// empty), sorted by name: Prometheus' `relabelAlerts` before the rules.
fn with_external_labels(labels: &[Label], external: &[Label]) -> Vec<Label> {
    let mut merged: Vec<Label> = labels.to_vec();
    for ext in external {
        let present = labels
            .iter()
            .any(|l| l.name == ext.name && !l.value.is_empty());
        if !present {
            merged.retain(|l| l.name != ext.name);
            merged.push(ext.clone());
        }
    }
    merged.sort_by(|a, b| a.name.cmp(&b.name));
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rule alerts go through a bounded queue: handing over more batches
    /// than it holds never waits (the excess is dropped and counted), and
    /// what was queued is stored, external labels applied.
    #[tokio::test(flavor = "current_thread")]
    async fn a_full_queue_drops_instead_of_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("am.yml");
        std::fs::write(
            &config,
            "route: {receiver: blackhole}\nreceivers: [{name: blackhole}]\n",
        )
        .unwrap();
        let plugins = dir.path().join("plugins");
        std::fs::create_dir(&plugins).unwrap();
        let runtime =
            PluginRuntime::new(wasmetheus_plugin_runtime::RuntimeOptions::new(&plugins)).unwrap();
        let args = BuiltinArgs {
            config_file: Some(config.clone()),
            ..BuiltinArgs::default()
        };
        let builtin = Builtin::start(
            &args,
            &config,
            dir.path(),
            "http://p:9090",
            &plugins,
            runtime,
            &Default::default(),
        )
        .await
        .unwrap();
        let mut prometheus = Config::default();
        prometheus
            .global
            .external_labels
            .insert("site".into(), "here".into());
        builtin.apply(&prometheus).unwrap();
        // The storing task cannot run while this loop does not yield.
        let extra = 5;
        for i in 0..QUEUE_BATCHES + extra {
            let alert = rule_alert(&[("alertname", "Q"), ("i", &i.to_string())], None);
            builtin.deliver(&[alert], "http://p:9090/graph");
        }
        let dropped = builtin
            .metrics()
            .into_iter()
            .find(|f| f.name == "wasmetheus_builtin_alertmanager_dropped_alerts_total")
            .map(|f| f.metrics[0].value.clone());
        assert_eq!(
            dropped,
            Some(wasmetheus_model::MetricValue::Number(extra as f64))
        );
        let backend = builtin.backend();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let alerts = loop {
            let alerts = backend.alerts().unwrap();
            if alerts.len() == QUEUE_BATCHES || std::time::Instant::now() > deadline {
                break alerts;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(alerts.len(), QUEUE_BATCHES);
        assert!(
            alerts
                .iter()
                .all(|a| a.labels.get("site").map(String::as_str) == Some("here"))
        );
        builtin.stop().await;
    }

    fn rule_alert(labels: &[(&str, &str)], resolved: Option<i64>) -> wasmetheus_rules::Alert {
        wasmetheus_rules::Alert {
            labels: labels.iter().map(|(n, v)| Label::new(*n, *v)).collect(),
            annotations: vec![Label::new("summary", "s"), Label::new("empty", "")],
            state: wasmetheus_rules::AlertState::Firing,
            value: 1.0,
            active_at_ms: 1_000,
            fired_at_ms: Some(2_000),
            resolved_at_ms: resolved,
            last_sent_at_ms: None,
            valid_until_ms: Some(9_000),
            keep_firing_since_ms: None,
        }
    }

    /// External labels fill what the alert lacks (not what it has), the
    /// relabeling runs after them and can drop an alert, times are the
    /// ones Prometheus sends.
    #[test]
    fn rule_alerts_become_api_alerts_as_the_notifier_sends_them() {
        let relabel: Vec<RelabelConfig> = serde_saphyr::from_str(
            "- source_labels: [severity]\n  regex: drop\n  action: drop\n- target_label: via\n  replacement: inprocess\n",
        )
        .unwrap();
        let relabeling = Relabeling {
            external_labels: vec![Label::new("cluster", "c1"), Label::new("job", "ext")],
            configs: relabel,
        };
        let now = jiff::Timestamp::from_second(100).unwrap();
        let alerts = [
            rule_alert(&[("alertname", "A"), ("job", "j")], None),
            rule_alert(&[("alertname", "B"), ("job", "")], Some(5_000)),
            rule_alert(&[("alertname", "C"), ("severity", "drop")], None),
        ];
        let got = postable_alerts(
            &relabeling,
            &alerts,
            "http://p/graph",
            now,
            Duration::from_secs(300),
        );
        let labels: Vec<Vec<(String, String)>> = got
            .iter()
            .map(|a| a.labels.clone().into_iter().collect())
            .collect();
        let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
            p.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            labels,
            [
                pairs(&[
                    ("alertname", "A"),
                    ("cluster", "c1"),
                    ("job", "j"),
                    ("via", "inprocess")
                ]),
                pairs(&[
                    ("alertname", "B"),
                    ("cluster", "c1"),
                    ("job", "ext"),
                    ("via", "inprocess")
                ]),
            ]
        );
        let ms = |t: jiff::Timestamp| t.as_millisecond();
        assert_eq!(
            (ms(got[0].starts_at), ms(got[0].ends_at), got[0].timeout),
            (2_000, 9_000, false)
        );
        assert_eq!(ms(got[1].ends_at), 5_000);
        assert_eq!(got[0].generator_url, "http://p/graph");
        assert_eq!(
            got[0].annotations.iter().collect::<Vec<_>>(),
            [(&"summary".to_owned(), &"s".to_owned())]
        );
        assert_eq!(got[0].updated_at, now);
        let mut no_end = rule_alert(&[("alertname", "D")], None);
        no_end.valid_until_ms = None;
        let got = postable_alerts(
            &Relabeling::default(),
            &[no_end],
            "",
            now,
            Duration::from_secs(300),
        );
        assert!(got[0].timeout);
        assert_eq!(got[0].ends_at.as_second(), 400);
    }
}
