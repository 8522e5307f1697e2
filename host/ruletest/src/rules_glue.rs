//! The rule groups of a test group, through `wasmetheus-rules`: loaded
//! from the test file's rule files with the group's interval and external
//! labels (alerting rules count as restored, so `ALERTS` is written from
//! the first evaluation, as promtool's `SetRestored(true)`), ordered by
//! `group_eval_order`, evaluated against the test's store, and asked for
//! their firing alerts.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use wasmetheus_model::Label;
use wasmetheus_promql::engine::Engine;
use wasmetheus_promqltest::MemStore;
use wasmetheus_rules::{AlertState, EvalContext, Group, LoadOptions, Rule, load_groups};

use crate::compare::LabelsAndAnnotations;

/// What loading needs.
pub struct LoadRequest<'a> {
    pub files: &'a [PathBuf],
    /// The test group's interval (ms): the interval of groups without one.
    pub interval: i64,
    pub external_labels: Vec<Label>,
    pub external_url: &'a str,
    pub ignore_unknown_fields: bool,
    pub group_order: &'a HashMap<String, usize>,
}

/// The loaded groups, in evaluation order.
pub struct Groups {
    groups: Vec<Group>,
}

/// Loads the groups; the errors are the rule manager's texts
/// (`FILE: message`).
pub fn load(req: &LoadRequest) -> Result<Groups, Vec<String>> {
    let opts = LoadOptions {
        default_interval: Duration::from_millis(req.interval.unsigned_abs()),
        default_query_offset: Duration::ZERO,
        external_labels: req.external_labels.clone(),
        external_url: req.external_url.to_owned(),
        ignore_unknown_fields: req.ignore_unknown_fields,
    };
    let mut groups = load_groups(req.files, &opts)
        .map_err(|e| e.errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    // promtool sorts by the position in `group_eval_order`, groups not
    // named there counting as 0 (its order among equals is a Go map's;
    // here it is the files' order).
    groups.sort_by_key(|g| req.group_order.get(g.name()).copied().unwrap_or(0));
    Ok(Groups { groups })
}

impl Groups {
    /// Evaluates every group at `ts` (ms); the rules whose evaluation
    /// failed, with the error.
    pub fn eval(&mut self, ts: i64, engine: &Engine, store: &MemStore) -> Vec<(String, String)> {
        let ctx = EvalContext {
            engine,
            storage: store,
            notify: None,
        };
        let mut errors = Vec::new();
        for g in &mut self.groups {
            g.eval(ts, &ctx);
            for r in g.rules() {
                if let Some(e) = r.last_error() {
                    errors.push((r.name().to_owned(), e.to_owned()));
                }
            }
        }
        errors
    }

    /// The firing alerts of every alerting rule named `name`, in every
    /// group.
    pub fn firing(&self, name: &str) -> Vec<LabelsAndAnnotations> {
        self.groups
            .iter()
            .flat_map(Group::rules)
            .filter_map(|r| match r {
                Rule::Alerting(a) if a.name() == name => Some(a),
                _ => None,
            })
            .flat_map(|a| a.active_alerts())
            .filter(|a| a.state == AlertState::Firing)
            .map(|a| LabelsAndAnnotations {
                labels: a.labels,
                annotations: a.annotations,
            })
            .collect()
    }
}
