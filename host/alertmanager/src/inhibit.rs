//! Inhibition (`inhibit/inhibit.go`): a firing alert matching a rule's
//! source matchers mutes alerts matching its target matchers whose
//! `equal` labels have the same values (a missing label equals the empty
//! value). An alert matching both sides cannot inhibit an alert matching
//! both sides, so an alert never inhibits itself.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use parking_lot::RwLock;
use wasmetheus_alertmanager_config::{InhibitRule, Matchers};

use crate::alert::{Alert, Labels};
use crate::fingerprint::Fingerprint;

struct Rule {
    source: Matchers,
    target: Matchers,
    equal: Vec<String>,
    /// The alerts seen that match the source side, by the values of their
    /// `equal` labels (missing ones empty), then fingerprint (so the
    /// source reported is the same every time).
    scache: HashMap<Vec<String>, BTreeMap<Fingerprint, Alert>>,
}

impl Rule {
    fn equal_values(&self, labels: &Labels) -> Vec<String> {
        self.equal
            .iter()
            .map(|n| labels.get(n).cloned().unwrap_or_default())
            .collect()
    }

    /// `hasEqual`: a firing source alert with the same `equal` labels.
    fn has_equal(
        &self,
        labels: &Labels,
        exclude_two_sided: bool,
        now: Timestamp,
    ) -> Option<Fingerprint> {
        let bucket = self.scache.get(&self.equal_values(labels))?;
        bucket
            .iter()
            // The cache may hold resolved alerts; a source matching both
            // sides cannot inhibit a target matching both sides.
            .filter(|(_, a)| !a.resolved_at(now))
            .find(|(_, a)| !(exclude_two_sided && self.target.matches(&a.labels)))
            .map(|(fp, _)| *fp)
    }
}

/// The inhibitor over a configuration's `inhibit_rules`.
pub struct Inhibitor {
    rules: RwLock<Vec<Rule>>,
}

impl std::fmt::Debug for Inhibitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inhibitor")
            .field("rules", &self.rules.read().len())
            .finish()
    }
}

impl Inhibitor {
    /// An inhibitor of these rules that has seen no alert yet.
    pub fn new(rules: &[InhibitRule]) -> Inhibitor {
        Inhibitor {
            rules: RwLock::new(
                rules
                    .iter()
                    .map(|r| Rule {
                        source: r.source(),
                        target: r.target(),
                        equal: r.equal.clone(),
                        scache: HashMap::new(),
                    })
                    .collect(),
            ),
        }
    }

    /// Takes in an alert (new, changed or resolved): it becomes a source
    /// of every rule whose source side it matches.
    pub fn observe(&self, alert: &Alert) {
        let fp = alert.fingerprint();
        for rule in self.rules.write().iter_mut() {
            if rule.source.matches(&alert.labels) {
                let key = rule.equal_values(&alert.labels);
                rule.scache
                    .entry(key)
                    .or_default()
                    .insert(fp, alert.clone());
            }
        }
    }

    /// Forgets alerts resolved by `now` (the store's collection).
    pub fn gc(&self, now: Timestamp) {
        for rule in self.rules.write().iter_mut() {
            for bucket in rule.scache.values_mut() {
                bucket.retain(|_, a| !a.resolved_at(now));
            }
            rule.scache.retain(|_, bucket| !bucket.is_empty());
        }
    }

    /// `Mutes`: the fingerprint of an alert inhibiting `labels` at `now`,
    /// if any.
    pub fn inhibited_by(&self, labels: &Labels, now: Timestamp) -> Option<Fingerprint> {
        for rule in self.rules.read().iter() {
            if !rule.target.matches(labels) {
                continue;
            }
            let two_sided = rule.source.matches(labels);
            if let Some(fp) = rule.has_equal(labels, two_sided, now) {
                return Some(fp);
            }
        }
        None
    }

    /// Whether `labels` are inhibited now.
    pub fn mutes(&self, labels: &Labels) -> bool {
        self.inhibited_by(labels, Timestamp::now()).is_some()
    }
}
