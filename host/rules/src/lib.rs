//! Prometheus' rules: rule files ([`rulefmt`]), recording and alerting
//! rules, their evaluation in groups, alert states, and the rule manager
//! that runs the groups of `rule_files` on their intervals.

pub mod rulefmt;

mod alerting;
mod group;
mod load;
mod recording;
mod rule;

pub use alerting::{AlertingRule, AlertingRuleSpec, RESOLVED_RETENTION};
pub use group::{Group, GroupCounters, Rule};
pub use load::{LoadError, LoadOptions, load_groups, load_groups_restoring};
pub use recording::RecordingRule;
pub use rule::{Alert, AlertState, EvalContext, Health, NotifyFunc, OutSample, RuleStatus};
