//! Recording rules (Prometheus' `rules/recording.go`): the expression's
//! result renamed to the rule's name, the rule's labels set over the
//! result's, a result with two equal label sets or over the group's limit
//! an error.

use std::time::Duration;

use wasmetheus_model::Label;

use crate::rule::{EvalContext, OutSample, RuleStatus, query_vector, set_label};

/// A recording rule.
#[derive(Debug, Clone)]
pub struct RecordingRule {
    pub(crate) name: String,
    /// The expression in canonical PromQL (`expr.String()`).
    pub(crate) query: String,
    /// Group labels under rule labels, sorted.
    pub(crate) labels: Vec<Label>,
    pub(crate) status: RuleStatus,
}

impl RecordingRule {
    /// A rule recording `query` (canonical PromQL) as `name` with `labels`.
    pub fn new(name: &str, query: &str, labels: Vec<Label>) -> Self {
        RecordingRule {
            name: name.to_owned(),
            query: query.to_owned(),
            labels,
            status: RuleStatus::default(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The expression as Prometheus prints it.
    pub fn query(&self) -> &str {
        &self.query
    }

    pub fn labels(&self) -> &[Label] {
        &self.labels
    }

    pub fn status(&self) -> &RuleStatus {
        &self.status
    }

    /// Evaluates at `ts - query_offset` (ms): the samples to record, or
    /// Prometheus' error text.
    pub(crate) fn eval(
        &self,
        ts: i64,
        query_offset: Duration,
        ctx: &EvalContext,
        limit: i64,
    ) -> Result<Vec<OutSample>, String> {
        let t = ts.saturating_sub(crate::rule::duration_ms(query_offset));
        let vector = query_vector(ctx, &self.query, t)?;
        let mut out: Vec<OutSample> = vector
            .into_iter()
            .map(|(mut labels, v)| {
                set_label(&mut labels, "__name__", &self.name);
                for l in &self.labels {
                    set_label(&mut labels, &l.name, &l.value);
                }
                OutSample { labels, t, v }
            })
            .collect();
        let mut sets: Vec<&Vec<Label>> = out.iter().map(|s| &s.labels).collect();
        sets.sort();
        if sets.windows(2).any(|w| w[0] == w[1]) {
            return Err(
                "vector contains metrics with the same labelset after applying rule labels"
                    .to_owned(),
            );
        }
        if limit > 0 && out.len() as i64 > limit {
            return Err(format!(
                "exceeded limit of {limit} with {} series",
                out.len()
            ));
        }
        out.shrink_to_fit();
        Ok(out)
    }
}
