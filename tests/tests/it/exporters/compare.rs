//! Comparing a plugin's exposition with a reference exporter's: families
//! (type, HELP, label names, series), an allow-list of families not
//! emitted yet that must stay true, and counters read between two
//! reference scrapes.

use std::collections::{BTreeMap, BTreeSet};
use wasmetheus_model::MetricKind;
use wasmetheus_model::text::Exposition;

/// Families the reference exporter emits about itself, not about the
/// server it watches: Go runtime, process, HTTP handler and build info.
pub fn is_exporter_runtime(family: &str) -> bool {
    family.starts_with("go_")
        || family.starts_with("process_")
        || family.starts_with("promhttp_")
        || family.ends_with("_build_info")
}

/// One family as exposed: type, HELP, label names and the label sets of
/// its series.
#[derive(Debug)]
pub struct Family {
    pub kind: MetricKind,
    pub help: String,
    pub label_names: BTreeSet<String>,
    pub series: BTreeSet<Vec<(String, String)>>,
}

/// The families of `exposition` that have at least one sample.
pub fn families(exposition: &Exposition) -> BTreeMap<String, Family> {
    let mut out = BTreeMap::new();
    for meta in &exposition.metadata {
        let series: BTreeSet<Vec<(String, String)>> = exposition
            .samples
            .iter()
            .filter(|s| s.name == meta.name)
            .map(|s| {
                let mut labels: Vec<(String, String)> = s
                    .labels
                    .iter()
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect();
                labels.sort();
                labels
            })
            .collect();
        if series.is_empty() {
            continue;
        }
        let label_names = series
            .iter()
            .flat_map(|s| s.iter().map(|(n, _)| n.clone()))
            .collect();
        out.insert(
            meta.name.clone(),
            Family {
                kind: meta.kind,
                help: meta.help.clone(),
                label_names,
                series,
            },
        );
    }
    out
}

/// What differs between our families and the reference's (`theirs`,
/// called `reference` in the messages): every family we emit must exist
/// there with the same type, HELP, label names and series; every family
/// it emits (but [`is_exporter_runtime`]) must be ours or in `not_yet`;
/// and every family of `not_yet` must be one the reference emits and we
/// do not (so the list stays true). `volatile_series` names families
/// whose series may come and go between the two reads (their label
/// names are still compared).
pub fn differences(
    ours: &Exposition,
    theirs: &Exposition,
    reference: &str,
    not_yet: &[&str],
    volatile_series: &[&str],
) -> Vec<String> {
    let ours = families(ours);
    let theirs = families(theirs);
    let mut problems = Vec::new();
    for (name, family) in &ours {
        let Some(reference_family) = theirs.get(name) else {
            problems.push(format!("{name}: emitted by the plugin, not by {reference}"));
            continue;
        };
        if family.kind != reference_family.kind {
            problems.push(format!(
                "{name}: type {:?}, {reference} {:?}",
                family.kind, reference_family.kind
            ));
        }
        if family.help != reference_family.help {
            problems.push(format!(
                "{name}: HELP {:?}, {reference} {:?}",
                family.help, reference_family.help
            ));
        }
        if family.label_names != reference_family.label_names {
            problems.push(format!(
                "{name}: label names {:?}, {reference} {:?}",
                family.label_names, reference_family.label_names
            ));
        } else if !volatile_series.contains(&name.as_str())
            && family.series != reference_family.series
        {
            let only_ours: Vec<_> = family
                .series
                .difference(&reference_family.series)
                .take(5)
                .collect();
            let only_theirs: Vec<_> = reference_family
                .series
                .difference(&family.series)
                .take(5)
                .collect();
            problems.push(format!(
                "{name}: series differ: only the plugin's {only_ours:?}, only {reference}'s {only_theirs:?}"
            ));
        }
    }
    for name in theirs.keys() {
        if is_exporter_runtime(name) || ours.contains_key(name) {
            continue;
        }
        if !not_yet.contains(&name.as_str()) {
            problems.push(format!(
                "{name}: emitted by {reference}, not by the plugin (emit it, or list it as not yet emitted)"
            ));
        }
    }
    for name in not_yet {
        if ours.contains_key(*name) {
            problems.push(format!(
                "{name}: listed as not yet emitted, but the plugin emits it: remove it from the list"
            ));
        } else if !theirs.contains_key(*name) {
            problems.push(format!(
                "{name}: listed as not yet emitted, but {reference} does not emit it here either: remove it from the list"
            ));
        }
    }
    problems
}

/// The value of the series `name` whose labels include `labels`.
pub fn value(exposition: &Exposition, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    exposition
        .samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(n, v)| s.labels.iter().any(|l| l.name == *n && l.value == *v))
        })
        .map(|s| s.value)
}

/// The values of every series of `name`, keyed by their sorted labels.
pub fn values(exposition: &Exposition, name: &str) -> BTreeMap<Vec<(String, String)>, f64> {
    exposition
        .samples
        .iter()
        .filter(|s| s.name == name)
        .map(|s| {
            let mut labels: Vec<(String, String)> = s
                .labels
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect();
            labels.sort();
            (labels, s.value)
        })
        .collect()
}

/// Problems with a counter the plugin read between two reference reads:
/// for every series, `before <= ours <= after` (it only moves up).
pub fn bracketed(
    name: &str,
    before: &Exposition,
    ours: &Exposition,
    after: &Exposition,
) -> Vec<String> {
    let before = values(before, name);
    let ours = values(ours, name);
    let after = values(after, name);
    let mut problems = Vec::new();
    if ours.is_empty() {
        problems.push(format!("{name}: not emitted by the plugin"));
    }
    for (labels, value) in &ours {
        match (before.get(labels), after.get(labels)) {
            (Some(lo), Some(hi)) if lo <= value && value <= hi => {}
            (lo, hi) => problems.push(format!(
                "{name}{labels:?}: the plugin read {value}, the reference read {lo:?} before and {hi:?} after"
            )),
        }
    }
    problems
}

/// Problems with values that must be equal in both (configuration,
/// state that does not move).
pub fn equal(name: &str, ours: &Exposition, theirs: &Exposition) -> Vec<String> {
    let ours = values(ours, name);
    let theirs = values(theirs, name);
    if ours.is_empty() {
        return vec![format!("{name}: not emitted by the plugin")];
    }
    if ours == theirs {
        Vec::new()
    } else {
        vec![format!(
            "{name}: the plugin {ours:?}, the reference {theirs:?}"
        )]
    }
}
