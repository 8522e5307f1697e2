//! Prometheus' rules: rule files ([`rulefmt`]), recording and alerting
//! rules, their evaluation in groups, alert states, and the rule manager
//! that runs the groups of `rule_files` on their intervals.

pub mod rulefmt;

mod alerting;
mod group;
mod load;
mod manager;
mod metrics;
mod recording;
mod rule;
mod schedule;

pub use alerting::{AlertingRule, AlertingRuleSpec, RESOLVED_RETENTION};
pub use group::{Group, GroupCounters, GroupSnapshot, Rule};
pub use load::{LoadError, LoadOptions, load_groups, load_groups_restoring};
pub use manager::{Manager, ManagerOptions};
pub use metrics::{Window, Windows, families as metric_families};
pub use recording::RecordingRule;
pub use rule::{Alert, AlertState, EvalContext, Health, NotifyFunc, OutSample, RuleStatus};
