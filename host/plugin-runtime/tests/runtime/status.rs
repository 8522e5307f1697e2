//! The status report, metadata and self-metrics of the runtime.

use crate::component::{COLLECT_ERROR, Exporter};
use crate::{Fixture, collect, config, instance};
use serde_json::json;
use wasmetheus_config::Grants;
use wasmetheus_model::{MetricFamily, MetricValue};
use wasmetheus_plugin_runtime::{Capability, CapabilityStatus, CollectError};

#[test]
fn a_loaded_plugin_and_its_instance_are_reported() {
    let fixture = Fixture::new();
    let path = fixture.load(&Exporter::new("counter").version("0.4.1"), "counter");
    let status = fixture.runtime.status();
    assert_eq!(status.len(), 1);
    let plugin = &status[0];
    assert_eq!(plugin.plugin, "counter");
    assert_eq!(plugin.file, path.display().to_string());
    assert_eq!(plugin.name.as_deref(), Some("counter"));
    assert_eq!(plugin.version.as_deref(), Some("0.4.1"));
    assert_eq!(
        plugin.description.as_deref(),
        Some("the counter test exporter")
    );
    assert!(!plugin.loaded_from_cache);
    assert!(plugin.load_duration_seconds > 0.0);
    let loaded_at = plugin.loaded_at.as_deref().unwrap();
    assert_eq!(loaded_at.len(), "2025-01-01T00:00:00Z".len(), "{loaded_at}");
    assert!(loaded_at.ends_with('Z') && loaded_at.as_bytes()[10] == b'T');
    assert_eq!(plugin.health, "ok");
    assert_eq!(plugin.last_error, None);
    assert_eq!(plugin.instances.len(), 1);
    let instance = &plugin.instances[0];
    assert_eq!(instance.name, "counter");
    assert_eq!(instance.job, "counter");
    assert!(instance.running);
    assert_eq!(instance.error, None);
    assert_eq!(instance.last_collect_error, None);
    assert!(instance.capabilities.is_empty());

    // As the API serialises it: no `last_collect_error` while there is none.
    let json = serde_json::to_value(instance).unwrap();
    assert_eq!(
        json,
        json!({"name": "counter", "job": "counter", "running": true, "error": null,
               "capabilities": []})
    );
}

#[test]
fn a_failed_collect_shows_until_the_instance_is_reopened() {
    let fixture = Fixture::new();
    fixture.load(&Exporter::new("counter"), "counter");
    fixture.runtime.apply_config(&config(vec![instance(
        json!({"name": "flaky", "plugin": "counter", "config": {"error": true}}),
    )]));
    let error = collect(&fixture.runtime, "flaky").unwrap_err();
    assert_eq!(
        error,
        CollectError::Plugin(format!("unavailable: {COLLECT_ERROR}"))
    );
    let status = fixture.runtime.status();
    let flaky = &status[0].instances[0];
    assert!(flaky.running);
    assert_eq!(
        flaky.last_collect_error.as_deref(),
        Some(format!("plugin returned an error: unavailable: {COLLECT_ERROR}").as_str())
    );
    let json = serde_json::to_value(flaky).unwrap();
    assert!(json.get("last_collect_error").is_some());

    fixture.runtime.apply_config(&config(vec![instance(
        json!({"name": "flaky", "plugin": "counter"}),
    )]));
    collect(&fixture.runtime, "flaky").unwrap();
    assert_eq!(
        fixture.runtime.status()[0].instances[0].last_collect_error,
        None
    );
}

#[test]
fn requested_capabilities_are_reported_with_the_lines_that_grant_them() {
    let fixture = Fixture::new();
    let exporter = Exporter::new("reader")
        .capability(Capability::ReadPath("/proc".into()), "reads /proc", false)
        .capability(Capability::EnvVar("HOME".into()), "finds home", true)
        .capability(
            Capability::HttpOrigin("http://127.0.0.1:9".into()),
            "asks a service",
            true,
        );
    fixture.load(&exporter, "reader");
    let mut config = config(vec![instance(json!({
        "name": "reader-1",
        "plugin": "reader",
        "grants": {"env": ["HOME"]},
    }))]);
    config.plugins.grants.insert(
        "reader".into(),
        Grants {
            read_paths: vec!["/".into()],
            ..Default::default()
        },
    );
    fixture.runtime.apply_config(&config);
    let status = fixture.runtime.status();
    let instance = &status[0].instances[0];
    assert!(instance.running, "{instance:?}");
    assert_eq!(
        instance.capabilities,
        vec![
            CapabilityStatus {
                capability: "read-path /proc".into(),
                reason: "reads /proc".into(),
                optional: false,
                granted: true,
                grant_with: None,
            },
            CapabilityStatus {
                capability: "env-var HOME".into(),
                reason: "finds home".into(),
                optional: true,
                granted: true,
                grant_with: None,
            },
            CapabilityStatus {
                capability: "http-origin http://127.0.0.1:9".into(),
                reason: "asks a service".into(),
                optional: true,
                granted: false,
                grant_with: Some(
                    "plugins:\n  grants:\n    reader:\n      http_origins: [\"http://127.0.0.1:9\"]"
                        .into()
                ),
            },
        ]
    );
}

#[test]
fn a_rejected_new_version_degrades_the_plugin_and_the_old_one_serves_on() {
    let fixture = Fixture::new();
    let path = fixture.load(&Exporter::new("counter").version("1.0.0"), "counter");
    collect(&fixture.runtime, "counter").unwrap();
    std::fs::write(&path, b"not a component").unwrap();
    let error = fixture.runtime.load_file(&path).unwrap_err().to_string();
    assert!(
        error.starts_with(&format!(
            "{} is not a valid exporter component: ",
            path.display()
        )),
        "{error}"
    );
    let status = &fixture.runtime.status()[0];
    assert_eq!(status.health, "degraded");
    assert_eq!(status.last_error.as_deref(), Some(error.as_str()));
    assert_eq!(status.version.as_deref(), Some("1.0.0"));
    assert!(status.instances[0].running);
    assert_eq!(
        crate::collects(&collect(&fixture.runtime, "counter").unwrap()),
        2.0
    );
}

#[test]
fn an_instance_of_a_plugin_without_a_file_is_reported_missing() {
    let fixture = Fixture::new();
    fixture.runtime.apply_config(&config(vec![instance(
        json!({"name": "lost-1", "plugin": "lost"}),
    )]));
    let status = fixture.runtime.status();
    assert_eq!(status.len(), 1);
    let plugin = &status[0];
    let expected = format!(
        "plugin \"lost\" is not loaded: no lost.wasm in {}",
        fixture.dir().display()
    );
    assert_eq!(plugin.plugin, "lost");
    assert_eq!(
        plugin.file,
        fixture.dir().join("lost.wasm").display().to_string()
    );
    assert_eq!(plugin.health, "missing");
    assert_eq!(plugin.name, None);
    assert_eq!(plugin.loaded_at, None);
    assert_eq!(plugin.last_error.as_deref(), Some(expected.as_str()));
    assert_eq!(plugin.instances.len(), 1);
    assert_eq!(plugin.instances[0].name, "lost-1");
    assert!(!plugin.instances[0].running);
    assert_eq!(
        plugin.instances[0].error.as_deref(),
        Some(expected.as_str())
    );
    assert_eq!(
        collect(&fixture.runtime, "lost-1").unwrap_err(),
        CollectError::Open(expected)
    );
}

/// The value of the series of `name` whose labels include `labels`.
fn value(families: &[MetricFamily], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let family = families.iter().find(|f| f.name == name)?;
    let metric = family.metrics.iter().find(|m| {
        labels
            .iter()
            .all(|(n, v)| m.labels.iter().any(|l| l.name == *n && l.value == *v))
    })?;
    match metric.value {
        MetricValue::Number(n) => Some(n),
        _ => None,
    }
}

#[test]
fn self_metrics_count_collects_and_errors_per_plugin() {
    let fixture = Fixture::new();
    fixture.load(&Exporter::new("counter").version("3.0.0"), "counter");
    fixture.runtime.apply_config(&config(vec![
        instance(json!({"name": "good", "plugin": "counter"})),
        instance(json!({"name": "flaky", "plugin": "counter", "config": {"error": true}})),
    ]));
    collect(&fixture.runtime, "good").unwrap();
    collect(&fixture.runtime, "good").unwrap();
    collect(&fixture.runtime, "flaky").unwrap_err();
    let metrics = fixture.runtime.metrics();
    let plugin = [("plugin", "counter")];
    assert_eq!(
        value(
            &metrics,
            "wasmetheus_plugin_info",
            &[
                ("plugin", "counter"),
                ("version", "3.0.0"),
                ("cached", "false")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&metrics, "wasmetheus_plugin_collect_calls_total", &plugin),
        Some(3.0)
    );
    assert_eq!(
        value(
            &metrics,
            "wasmetheus_plugin_collect_errors_total",
            &[("plugin", "counter"), ("reason", "plugin_error")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&metrics, "wasmetheus_plugin_load_failures_total", &plugin),
        Some(0.0)
    );
    assert!(
        value(
            &metrics,
            "wasmetheus_plugin_memory_bytes",
            &[("instance", "good")]
        )
        .unwrap()
            > 0.0
    );
    assert_eq!(
        value(&metrics, "wasmetheus_plugin_compilations_running", &[]),
        Some(0.0)
    );
    assert!(value(&metrics, "wasmetheus_plugin_compile_slots", &[]).unwrap() >= 1.0);
}
