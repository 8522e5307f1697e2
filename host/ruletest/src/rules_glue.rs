//! The rule groups of a test group, through `wasmetheus-rules`: loaded
//! from the test file's rule files with the group's interval and external
//! labels, ordered by `group_eval_order`, evaluated against the test's
//! store, and asked for their firing alerts.

use std::collections::HashMap;
use std::path::PathBuf;

use wasmetheus_model::Label;
use wasmetheus_promql::engine::Engine;
use wasmetheus_promqltest::MemStore;

use crate::compare::LabelsAndAnnotations;

/// What loading needs.
pub struct LoadRequest<'a> {
    pub files: &'a [PathBuf],
    /// The test group's interval (ms), the default of groups without one.
    pub interval: i64,
    pub external_labels: Vec<Label>,
    pub external_url: &'a str,
    pub ignore_unknown_fields: bool,
    pub group_order: &'a HashMap<String, usize>,
}

/// The loaded groups, in evaluation order.
pub struct Groups {}

/// Loads the groups; the errors are the rule manager's texts.
pub fn load(req: &LoadRequest) -> Result<Groups, Vec<String>> {
    if req.files.is_empty() {
        return Ok(Groups {});
    }
    Err(req
        .files
        .iter()
        .map(|f| format!("{}: rule files cannot be loaded yet", f.display()))
        .collect())
}

impl Groups {
    /// Evaluates every group at `ts` (ms); the rules whose evaluation
    /// failed, with the error.
    pub fn eval(&mut self, _ts: i64, _engine: &Engine, _store: &MemStore) -> Vec<(String, String)> {
        Vec::new()
    }

    /// The firing alerts of every alerting rule named `name`.
    pub fn firing(&self, _name: &str) -> Vec<LabelsAndAnnotations> {
        Vec::new()
    }
}
