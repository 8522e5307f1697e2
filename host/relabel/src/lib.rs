//! `wasmetheus-relabel`: Prometheus' relabeling (`relabel_configs`,
//! `metric_relabel_configs`, …): the rule configuration, its validation and
//! its application to a label set, following upstream's
//! `model/relabel/relabel.go` rule for rule.
//!
//! Three Go behaviours are reproduced on purpose because they change
//! results: regexes are RE2 (ASCII `\d`, `\w`, `\s`, `\b`, literal `{` when
//! it does not start a repetition; see `pattern.rs`), `$1`/`${name}`
//! templates expand like Go's `Regexp.Expand`, and label sets are edited
//! through a copy of Prometheus' `labels.Builder`, whose iteration order
//! decides which label wins when `labelmap` maps two names to one (both in
//! `apply.rs`).
//!
//! The crate knows nothing of scraping or configuration files: the config
//! crate reads rules into [`RelabelConfig`]s, and scraping, service
//! discovery and alerting apply them with [`relabel`].

mod apply;
mod config;
mod go_strings;
mod name;
mod pattern;

pub use apply::relabel;
pub use config::{Action, RelabelConfig};
pub use name::NameValidationScheme;
pub use pattern::RelabelRegex;
