//! Configuration → the instances that run: the default instance, configured
//! ones, and what a new configuration keeps, reopens, starts and stops.

use crate::component::{Exporter, OPEN_ERROR};
use crate::{Fixture, collect, collects, config, instance};
use serde_json::json;
use std::time::Duration;
use wasmetheus_config::{Config, Grants};
use wasmetheus_plugin_runtime::{Capability, CollectError, TargetSpec};

/// Instance names of the runtime's targets, sorted.
fn target_names(fixture: &Fixture) -> Vec<String> {
    let mut names: Vec<String> = fixture
        .runtime
        .targets()
        .into_iter()
        .map(|t| t.instance)
        .collect();
    names.sort();
    names
}

/// The `test_collects` value of one collect of `name`: 1 on a freshly
/// opened instance.
fn count(fixture: &Fixture, name: &str) -> f64 {
    collects(&collect(&fixture.runtime, name).unwrap())
}

#[test]
fn a_plugin_without_configured_instances_runs_one_named_after_it() {
    let fixture = Fixture::new();
    fixture.load(&Exporter::new("counter"), "counter");
    let global = Config::default().global;
    assert_eq!(
        fixture.runtime.targets(),
        vec![TargetSpec {
            instance: "counter".into(),
            plugin: "counter".into(),
            job: "counter".into(),
            interval: global.scrape_interval.0,
            timeout: global.scrape_timeout.0.min(global.scrape_interval.0),
            labels: Default::default(),
        }]
    );
}

#[test]
fn a_plugin_that_needs_a_grant_runs_no_default_instance_until_granted() {
    let fixture = Fixture::new();
    let exporter = Exporter::new("reader")
        .capability(Capability::ReadPath("/proc".into()), "reads /proc", false)
        .capability(Capability::DnsLookup, "resolves names", true);
    fixture.load(&exporter, "reader");
    assert!(fixture.runtime.targets().is_empty());
    assert!(fixture.runtime.status()[0].instances.is_empty());

    // Plugin-wide grants make the default instance start.
    let mut granted = Config::default();
    granted.plugins.grants.insert(
        "reader".into(),
        Grants {
            read_paths: vec!["/proc".into()],
            ..Default::default()
        },
    );
    fixture.runtime.apply_config(&granted);
    assert_eq!(target_names(&fixture), ["reader"]);

    // An optional request alone does not hold the default instance back.
    let optional = Exporter::new("optional").capability(Capability::DnsLookup, "names", true);
    fixture.load(&optional, "optional");
    assert_eq!(target_names(&fixture), ["optional", "reader"]);
}

#[test]
fn configured_instances_take_their_settings_and_replace_the_default_one() {
    let fixture = Fixture::new();
    fixture.load(&Exporter::new("counter"), "counter");
    fixture.runtime.apply_config(&config(vec![
        instance(json!({
            "name": "a",
            "plugin": "counter",
            "job": "jobs",
            "scrape_interval": "7s",
            "scrape_timeout": "3s",
            "labels": {"zone": "eu"},
        })),
        instance(json!({"name": "b", "plugin": "counter", "scrape_interval": "2s"})),
    ]));
    let mut targets = fixture.runtime.targets();
    targets.sort_by(|x, y| x.instance.cmp(&y.instance));
    let global = Config::default().global;
    assert_eq!(
        targets,
        vec![
            TargetSpec {
                instance: "a".into(),
                plugin: "counter".into(),
                job: "jobs".into(),
                interval: Duration::from_secs(7),
                timeout: Duration::from_secs(3),
                labels: [("zone".to_owned(), "eu".to_owned())].into(),
            },
            TargetSpec {
                instance: "b".into(),
                plugin: "counter".into(),
                job: "counter".into(),
                interval: Duration::from_secs(2),
                // The global timeout, cut to the instance's interval.
                timeout: global.scrape_timeout.0.min(Duration::from_secs(2)),
                labels: Default::default(),
            },
        ]
    );
}

#[test]
fn a_new_configuration_keeps_unchanged_instances_and_reopens_changed_ones() {
    let fixture = Fixture::new();
    fixture.load(&Exporter::new("counter"), "counter");
    let a = instance(json!({"name": "a", "plugin": "counter"}));
    let b = instance(json!({"name": "b", "plugin": "counter"}));
    let d = instance(json!({"name": "d", "plugin": "counter", "config": {"x": 1}}));
    let e = instance(json!({"name": "e", "plugin": "counter", "scrape_interval": "5s"}));
    fixture
        .runtime
        .apply_config(&config(vec![a.clone(), b, d, e]));
    for name in ["a", "b", "d", "e"] {
        assert_eq!(count(&fixture, name), 1.0, "{name}");
    }

    let generation = *fixture.runtime.subscribe().borrow();
    fixture.runtime.apply_config(&config(vec![
        // Unchanged: kept, its collector goes on counting.
        a,
        // New labels, new plugin settings, a new interval: reopened.
        instance(json!({"name": "b", "plugin": "counter", "labels": {"k": "v"}})),
        instance(json!({"name": "d", "plugin": "counter", "config": {"x": 2}})),
        instance(json!({"name": "e", "plugin": "counter", "scrape_interval": "6s"})),
        // Added.
        instance(json!({"name": "c", "plugin": "counter"})),
    ]));
    assert!(*fixture.runtime.subscribe().borrow() > generation);
    assert_eq!(count(&fixture, "a"), 2.0);
    for name in ["b", "c", "d", "e"] {
        assert_eq!(count(&fixture, name), 1.0, "{name}");
    }

    // Removed: stopped, its target gone.
    fixture.runtime.apply_config(&config(vec![instance(
        json!({"name": "c", "plugin": "counter"}),
    )]));
    assert_eq!(target_names(&fixture), ["c"]);
    assert_eq!(count(&fixture, "c"), 2.0);
    assert_eq!(
        collect(&fixture.runtime, "a").unwrap_err(),
        CollectError::Stopped
    );
}

#[test]
fn a_grant_change_reopens_the_instances_it_reaches_and_no_other() {
    let fixture = Fixture::new();
    fixture.load(&Exporter::new("p"), "p");
    fixture.load(&Exporter::new("q"), "q");
    let instances = vec![
        instance(json!({"name": "p1", "plugin": "p"})),
        instance(json!({"name": "q1", "plugin": "q"})),
        instance(json!({"name": "q2", "plugin": "q"})),
    ];
    let before = config(instances.clone());
    fixture.runtime.apply_config(&before);
    for name in ["p1", "q1", "q2"] {
        assert_eq!(count(&fixture, name), 1.0);
    }

    // Plugin-wide grants of p: its instance is reopened, q's are kept.
    let mut plugin_grant = before.clone();
    plugin_grant.plugins.grants.insert(
        "p".into(),
        Grants {
            dns: true,
            ..Default::default()
        },
    );
    fixture.runtime.apply_config(&plugin_grant);
    assert_eq!(count(&fixture, "p1"), 1.0);
    assert_eq!(count(&fixture, "q1"), 2.0);
    assert_eq!(count(&fixture, "q2"), 2.0);

    // A grant of one instance reopens that instance only.
    let mut instance_grant = plugin_grant.clone();
    instance_grant.plugins.instances[2].grants.env = vec!["HOME".into()];
    fixture.runtime.apply_config(&instance_grant);
    assert_eq!(count(&fixture, "p1"), 2.0);
    assert_eq!(count(&fixture, "q1"), 3.0);
    assert_eq!(count(&fixture, "q2"), 1.0);
}

#[test]
fn an_instance_that_fails_to_open_is_reported_and_opened_on_the_next_apply() {
    let fixture = Fixture::new();
    fixture.load(&Exporter::new("counter"), "counter");
    fixture.runtime.apply_config(&config(vec![
        instance(json!({"name": "good", "plugin": "counter"})),
        instance(json!({"name": "bad", "plugin": "counter", "config": {"fail": true}})),
    ]));
    assert_eq!(target_names(&fixture), ["good"]);
    assert_eq!(count(&fixture, "good"), 1.0);
    let expected = format!("opening the instance failed: invalid config: {OPEN_ERROR}");
    assert_eq!(
        collect(&fixture.runtime, "bad").unwrap_err(),
        // The reason it did not open, as the status shows it.
        CollectError::Open(expected.clone())
    );
    let status = &fixture.runtime.status()[0];
    let bad = status.instances.iter().find(|i| i.name == "bad").unwrap();
    assert!(!bad.running);
    assert_eq!(bad.error.as_deref(), Some(expected.as_str()));
    assert!(bad.capabilities.is_empty());

    fixture.runtime.apply_config(&config(vec![
        instance(json!({"name": "good", "plugin": "counter"})),
        instance(json!({"name": "bad", "plugin": "counter"})),
    ]));
    assert_eq!(target_names(&fixture), ["bad", "good"]);
    assert_eq!(count(&fixture, "bad"), 1.0);
    assert_eq!(count(&fixture, "good"), 2.0);
}

#[test]
fn a_new_version_of_a_plugin_reopens_its_instances_on_the_new_code() {
    let fixture = Fixture::new();
    fixture.load(&Exporter::new("counter").version("1.0.0"), "counter");
    assert_eq!(count(&fixture, "counter"), 1.0);
    assert_eq!(count(&fixture, "counter"), 2.0);
    fixture.load(&Exporter::new("counter").version("2.0.0"), "counter");
    assert_eq!(
        fixture.runtime.metadata("counter").unwrap().version,
        "2.0.0"
    );
    assert_eq!(count(&fixture, "counter"), 1.0);
}

#[test]
fn a_removed_plugin_file_stops_its_instances() {
    let fixture = Fixture::new();
    let path = fixture.load(&Exporter::new("counter"), "counter");
    std::fs::remove_file(&path).unwrap();
    fixture.runtime.remove_file(&path);
    assert!(fixture.runtime.targets().is_empty());
    assert!(fixture.runtime.status().is_empty());
    assert!(fixture.runtime.metadata("counter").is_none());
    assert_eq!(
        collect(&fixture.runtime, "counter").unwrap_err(),
        CollectError::Stopped
    );
}
