//! `wasmetheus-alertmanager-config`: alertmanager.yml as Alertmanager 0.34
//! reads it.
//!
//! Parsing and checking only (no network, no templates): [`Config::load`]
//! and [`Config::parse`] return the typed configuration or upstream's
//! error text positioned as `file:line:col`. The crate also holds what the
//! rest of the built-in Alertmanager shares about the file's contents:
//! label [`Matcher`]s (parsed in 0.34's fallback mode, printed with its
//! quoting), [`TimeInterval`]s, and the routing tree ([`Route`]) with
//! inherited defaults, `continue` semantics and route keys/ids.
//!
//! Files: `config.rs` (the file, load and checks), `global.rs`,
//! `route_config.rs` (`route`, `inhibit_rules` as written), `receivers.rs`
//! (receivers, raw integrations, global fallbacks), `integrations.rs`
//! (typed webhook, Slack, email), `matcher.rs` and `matcher_parse.rs`,
//! `timeinterval.rs`, `route.rs` (the routing tree), `check.rs`
//! (`amtool check-config`'s report), `go_text.rs` (Go's error wording).

mod check;
mod config;
mod global;
mod go_text;
mod integrations;
mod matcher;
mod matcher_parse;
mod receivers;
mod route;
mod route_config;
mod timeinterval;

pub use check::check_config;
pub use config::{Config, Error, MAX_CONFIG_BYTES, NamedTimeInterval};
pub use global::{GlobalConfig, parse_host_port, parse_url};
pub use integrations::{
    EmailConfig, SlackAction, SlackConfig, SlackConfirmationField, SlackField, WebhookConfig,
};
pub use matcher::{LabelSet, MatchType, Matcher, Matchers};
pub use matcher_parse::{
    parse_classic, parse_classic_one, parse_matcher, parse_matchers, parse_utf8, parse_utf8_one,
};
pub use receivers::{KNOWN_INTEGRATIONS, Receiver, default_send_resolved};
pub use route::{
    DEFAULT_GROUP_INTERVAL_MS, DEFAULT_GROUP_WAIT_MS, DEFAULT_REPEAT_INTERVAL_MS, Route, RouteOpts,
};
pub use route_config::{InhibitRule, RouteConfig};
pub use timeinterval::{
    DayOfMonthRange, InclusiveRange, Location, MonthRange, TimeInterval, TimeRange, WeekdayRange,
    YearRange,
};
