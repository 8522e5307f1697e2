//! The instances a configuration asks of a plugin, and what the scrape side
//! schedules for each ([`TargetSpec`]).

use super::state::TargetSpec;
use crate::convert::PluginMetadata;
use std::collections::BTreeMap;
use wasmetheus_config::{Config, PluginInstanceConfig};

pub(super) fn previous_instance<'a>(
    config: &'a Config,
    instance: &str,
) -> Option<&'a PluginInstanceConfig> {
    config.plugins.instances.iter().find(|i| i.name == instance)
}

/// The instances a plugin should run under `config`: its configured ones,
/// or, when none is configured and it needs no grant, one default instance
/// named after the plugin.
pub(super) fn desired_instances(
    plugin: &str,
    metadata: &PluginMetadata,
    config: &Config,
) -> Vec<(Option<PluginInstanceConfig>, TargetSpec)> {
    let global = &config.global;
    let configured: Vec<&PluginInstanceConfig> = config
        .plugins
        .instances
        .iter()
        .filter(|i| i.plugin == plugin)
        .collect();
    if configured.is_empty() {
        let needs_grant = metadata.capabilities.iter().any(|r| !r.optional);
        let has_plugin_grants = config.plugins.grants.contains_key(plugin);
        if needs_grant && !has_plugin_grants {
            tracing::info!(
                plugin,
                "no instance configured and the plugin needs grants; add one under plugins.instances"
            );
            return Vec::new();
        }
        return vec![(
            None,
            TargetSpec {
                instance: plugin.to_owned(),
                plugin: plugin.to_owned(),
                job: plugin.to_owned(),
                interval: global.scrape_interval.0,
                timeout: global.scrape_timeout.0.min(global.scrape_interval.0),
                labels: BTreeMap::new(),
            },
        )];
    }
    configured
        .into_iter()
        .map(|i| {
            let interval = i.scrape_interval.unwrap_or(global.scrape_interval).0;
            let timeout = i
                .scrape_timeout
                .map_or(global.scrape_timeout.0.min(interval), |t| t.0);
            (
                Some(i.clone()),
                TargetSpec {
                    instance: i.name.clone(),
                    plugin: plugin.to_owned(),
                    job: i.job.clone().unwrap_or_else(|| plugin.to_owned()),
                    interval,
                    timeout,
                    labels: i.labels.clone(),
                },
            )
        })
        .collect()
}
