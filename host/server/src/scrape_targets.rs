//! From `scrape_configs` to scrape targets: each discovered address with
//! its group's labels goes through the scrape config's defaults and
//! `relabel_configs` exactly as Prometheus' `PopulateLabels` does
//! (`__address__`, `__scheme__`, `__metrics_path__`, `__param_*`,
//! `__scrape_interval__`, `__scrape_timeout__`; `instance` defaulting to the
//! address; `__`-prefixed labels removed last).

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmetheus_config::{PromDuration, ScrapeConfig};
use wasmetheus_model::Label;
use wasmetheus_relabel::relabel;
use wasmetheus_scrape::http::{Fallback, HttpTarget};
use wasmetheus_scrape::{ScrapeOptions, Target};

/// A target group as service discovery hands it over: addresses sharing
/// labels (Prometheus' `targetgroup.Group`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetGroup {
    pub targets: Vec<String>,
    pub labels: BTreeMap<String, String>,
    /// Where the group came from, for `__meta_filepath` and the like.
    pub source: String,
}

/// The outcome of relabeling one discovered address.
#[derive(Debug, Clone, PartialEq)]
pub enum Populated {
    Active(Target),
    /// Dropped by `relabel_configs`, with the labels it was discovered with.
    Dropped(Vec<Label>),
}

/// The settings every target of `config` shares.
pub fn scrape_options(config: &ScrapeConfig) -> ScrapeOptions {
    ScrapeOptions {
        honor_labels: config.honor_labels,
        honor_timestamps: config.honor_timestamps,
        track_timestamps_staleness: config.track_timestamps_staleness,
        sample_limit: config.sample_limit,
        label_limit: config.label_limit,
        label_name_length_limit: config.label_name_length_limit,
        label_value_length_limit: config.label_value_length_limit,
        metric_relabel_configs: config.metric_relabel_configs.clone(),
        // Prometheus' default (its hidden `--scrape.adjust-timestamps` and
        // `--scrape.timestamp-tolerance` flags are not offered).
        timestamp_tolerance: Some(wasmetheus_scrape::DEFAULT_TIMESTAMP_TOLERANCE),
    }
}

/// Every target of `groups` for `config`, or the first error (an invalid
/// interval label, a missing address): Prometheus reports those per
/// target and skips it; so do we, as dropped.
pub fn populate_all(
    config: &ScrapeConfig,
    options: &Arc<ScrapeOptions>,
    groups: &[TargetGroup],
) -> (Vec<Target>, Vec<Vec<Label>>, Vec<String>) {
    let (mut active, mut dropped, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for group in groups {
        for address in &group.targets {
            match populate(config, options, address, &group.labels) {
                Ok(Populated::Active(t)) => active.push(t),
                Ok(Populated::Dropped(labels)) => dropped.push(labels),
                Err(e) => errors.push(format!("{} ({address}): {e}", config.job_name)),
            }
        }
    }
    // `target_limit`: past it, the whole pool is refused, as in Prometheus.
    if config.target_limit > 0 && active.len() as u64 > config.target_limit {
        errors.push(format!(
            "{}: target_limit exceeded (number of targets: {}, limit: {})",
            config.job_name,
            active.len(),
            config.target_limit
        ));
        active.clear();
    }
    (active, dropped, errors)
}

/// One discovered address through defaults and `relabel_configs`.
pub fn populate(
    config: &ScrapeConfig,
    options: &Arc<ScrapeOptions>,
    address: &str,
    group_labels: &BTreeMap<String, String>,
) -> Result<Populated, String> {
    let mut labels: BTreeMap<String, String> = group_labels.clone();
    labels.insert("__address__".into(), address.into());
    let defaults = [
        ("job", config.job_name.clone()),
        ("__scheme__", config.scheme.clone()),
        ("__metrics_path__", config.metrics_path.clone()),
        ("__scrape_interval__", config.scrape_interval.to_string()),
        ("__scrape_timeout__", config.scrape_timeout.to_string()),
    ];
    for (name, value) in defaults {
        labels.entry(name.into()).or_insert(value);
    }
    for (name, values) in &config.params {
        if let Some(first) = values.first() {
            labels
                .entry(format!("__param_{name}"))
                .or_insert_with(|| first.clone());
        }
    }
    let discovered: Vec<Label> = labels
        .iter()
        .map(|(n, v)| Label::new(n.clone(), v.clone()))
        .collect();
    let Some(relabeled) = relabel(&discovered, &config.relabel_configs) else {
        return Ok(Populated::Dropped(discovered));
    };
    let mut labels: BTreeMap<String, String> =
        relabeled.into_iter().map(|l| (l.name, l.value)).collect();
    let address = labels
        .get("__address__")
        .filter(|a| !a.is_empty())
        .cloned()
        .ok_or("no address")?;
    if address.contains('/') {
        return Err(format!("{address:?} is not a valid hostname"));
    }
    labels
        .entry("instance".into())
        .or_insert_with(|| address.clone());
    let duration = |name: &str| -> Result<std::time::Duration, String> {
        let text = labels.get(name).cloned().unwrap_or_default();
        PromDuration::parse(&text)
            .map(|d| d.0)
            .map_err(|e| format!("error parsing {name} label: {e}"))
    };
    let interval = duration("__scrape_interval__")?;
    let timeout = duration("__scrape_timeout__")?;
    if interval.is_zero() {
        return Err("scrape interval cannot be 0".into());
    }
    if timeout.is_zero() {
        return Err("scrape timeout cannot be 0".into());
    }
    if timeout > interval {
        return Err(format!(
            "scrape timeout cannot be greater than scrape interval ({timeout:?} > {interval:?})"
        ));
    }
    let scheme = labels.get("__scheme__").cloned().unwrap_or_default();
    let path = labels.get("__metrics_path__").cloned().unwrap_or_default();
    // `__param_*` labels override the config's first value; the other
    // values of a repeated parameter stay.
    let mut params: Vec<(String, String)> = Vec::new();
    for (name, values) in &config.params {
        let first = labels
            .get(&format!("__param_{name}"))
            .cloned()
            .or_else(|| values.first().cloned());
        params.extend(first.map(|v| (name.clone(), v)));
        params.extend(values.iter().skip(1).map(|v| (name.clone(), v.clone())));
    }
    for (name, value) in &labels {
        if let Some(param) = name.strip_prefix("__param_")
            && !config.params.contains_key(param)
        {
            params.push((param.to_owned(), value.clone()));
        }
    }
    // Go's URL puts a `/` between host and a path without one.
    let slash = if path.is_empty() || path.starts_with('/') {
        ""
    } else {
        "/"
    };
    let mut url = format!("{scheme}://{address}{slash}{path}");
    if !params.is_empty() {
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        url.push(if path.contains('?') { '&' } else { '?' });
        url.push_str(&query.join("&"));
    }
    labels.retain(|name, value| !name.starts_with("__") && !value.is_empty());
    let job = labels.remove("job").unwrap_or_default();
    let instance = labels.remove("instance").unwrap_or_default();
    let http = config.http();
    let fallback = match config.fallback_scrape_protocol.as_deref() {
        Some(p) if p.starts_with("OpenMetrics") => Fallback::OpenMetrics,
        Some(_) => Fallback::Text,
        None => Fallback::None,
    };
    Ok(Populated::Active(Target {
        instance,
        job,
        interval,
        timeout,
        labels,
        http: Some(Arc::new(HttpTarget {
            url,
            // Settings the client does not implement (`oauth2`, proxies,
            // `*_ref`) are left out: the target is scraped without them, as
            // the configuration's load warnings say.
            client: wasmetheus_http_client::Settings::from_config(&http),
            body_size_limit: config.body_size_limit.bytes(),
            fallback,
        })),
        options: Arc::clone(options),
    }))
}

/// Percent-encoding of a query parameter.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(yaml: &str) -> ScrapeConfig {
        let text = format!("global:\n  scrape_interval: 15s\nscrape_configs:\n{yaml}");
        wasmetheus_config::Config::parse(&text, Path::new("prometheus.yml"))
            .unwrap()
            .scrape_configs
            .remove(0)
    }

    fn check(yaml: &str, address: &str, labels: &[(&str, &str)], expect: expect_test::Expect) {
        let config = config(yaml);
        let options = Arc::new(scrape_options(&config));
        let group: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let got = match populate(&config, &options, address, &group) {
            Ok(Populated::Active(t)) => format!(
                "job={} instance={} interval={:?} timeout={:?} labels={:?} url={}",
                t.job,
                t.instance,
                t.interval,
                t.timeout,
                t.labels,
                t.http.as_ref().map(|h| h.url.as_str()).unwrap_or_default()
            ),
            Ok(Populated::Dropped(l)) => format!("dropped {}", l.len()),
            Err(e) => format!("error: {e}"),
        };
        expect.assert_eq(&got);
    }

    #[test]
    fn defaults_make_the_url_and_instance() {
        check(
            "  - job_name: node\n    params:\n      module: [a, b]\n",
            "host:9100",
            &[("env", "prod")],
            expect_test::expect![[
                r#"job=node instance=host:9100 interval=15s timeout=10s labels={"env": "prod"} url=http://host:9100/metrics?module=a&module=b"#
            ]],
        );
    }

    #[test]
    fn relabeling_sets_address_path_and_params_and_drops() {
        let yaml = "  - job_name: blackbox\n    metrics_path: /probe\n    relabel_configs:\n      - source_labels: [__address__]\n        target_label: __param_target\n      - source_labels: [__param_target]\n        target_label: instance\n      - target_label: __address__\n        replacement: 127.0.0.1:9115\n      - source_labels: [env]\n        regex: drop\n        action: drop\n";
        check(
            yaml,
            "example.com",
            &[],
            expect_test::expect![[
                r#"job=blackbox instance=example.com interval=15s timeout=10s labels={} url=http://127.0.0.1:9115/probe?target=example.com"#
            ]],
        );
        check(
            yaml,
            "example.com",
            &[("env", "drop")],
            expect_test::expect!["dropped 7"],
        );
    }

    #[test]
    fn interval_labels_are_checked() {
        check(
            "  - job_name: x\n    relabel_configs:\n      - target_label: __scrape_timeout__\n        replacement: 1m\n",
            "h:1",
            &[],
            expect_test::expect![
                "error: scrape timeout cannot be greater than scrape interval (60s > 15s)"
            ],
        );
    }
}
