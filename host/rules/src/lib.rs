//! Prometheus' rules: rule files ([`rulefmt`]), recording and alerting
//! rules, their evaluation in groups, alert states, and the rule manager
//! that runs the groups of `rule_files` on their intervals.
//!
//! - [`rulefmt::parse`] / [`rulefmt::parse_file`]: a rule file checked as
//!   Prometheus 3 checks it (`check config`, `check rules`).
//! - [`load_groups`] and [`Group::eval`]: groups driven by the caller, one
//!   timestamp at a time (`test rules`).
//! - [`Manager`]: groups on their own tasks; [`Manager::update`] on every
//!   configuration load, [`Manager::groups`] and [`Manager::alerts`] for
//!   `/api/v1/rules` and `/api/v1/alerts`, [`Manager::metrics`] for
//!   `/metrics`, and the [`NotifyFunc`] of [`ManagerOptions`] to hand alerts
//!   to the notifier ([`Alert::starts_at_ms`], [`Alert::ends_at_ms`] are
//!   Prometheus' `startsAt`/`endsAt`).
//!
//! Module graph (no cycles): `rule` ← `recording`, `alerting` ←
//! `evaluate` ← `deps`, `concurrency` ← `group` ← `load` ← `manager` →
//! `metrics` → `group`; `rulefmt` and `schedule` stand alone. Native
//! histogram results of rules are not recorded (the storage appender
//! takes floats).
//!
//! With [`ManagerOptions::concurrent_evals`] (Prometheus'
//! `concurrent-rule-eval` feature), rules of a group that neither read nor
//! are read by their neighbours run at once ([`DependencyMap`]), within
//! slots shared by all groups ([`ConcurrencyLimit`]).

pub mod rulefmt;

mod alerting;
mod concurrency;
mod deps;
mod evaluate;
mod group;
mod load;
mod manager;
mod metrics;
mod recording;
mod rule;
mod schedule;

pub use alerting::{AlertingRule, AlertingRuleSpec, RESOLVED_RETENTION};
pub use concurrency::ConcurrencyLimit;
pub use deps::DependencyMap;
pub use evaluate::Rule;
pub use group::{Group, GroupCounters, GroupSnapshot};
pub use load::{LoadError, LoadOptions, load_groups, load_groups_restoring, rule_files};
pub use manager::{Manager, ManagerOptions};
pub use metrics::{Window, Windows, families as metric_families};
pub use recording::RecordingRule;
pub use rule::{Alert, AlertState, EvalContext, Health, NotifyFunc, OutSample, RuleStatus};
