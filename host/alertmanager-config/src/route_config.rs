//! The `route` tree and `inhibit_rules` as written in alertmanager.yml
//! (`config.Route`, `config.InhibitRule`), with upstream's per-node
//! validation: label names in `match`/`match_re`/`group_by`/`equal`,
//! `['...']`, duplicated `group_by` labels, zero intervals.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::matcher::{MatchType, Matcher, Matchers};
use crate::matcher_parse::parse_matchers;

/// `route` and its `routes`, as written (defaults are applied by
/// [`crate::Route`], which inherits them down the tree).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RouteConfig {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub receiver: String,
    /// `group_by` as written (`...` included).
    #[serde(rename = "group_by", skip_serializing_if = "Vec::is_empty")]
    pub group_by_str: Vec<String>,
    /// The label names of `group_by` (without `...`); `None` when no
    /// label is listed (the parent's grouping is inherited).
    #[serde(skip)]
    pub group_by: Option<Vec<String>>,
    /// `group_by: ['...']`: group by all labels.
    #[serde(skip)]
    pub group_by_all: bool,
    /// Deprecated `match`.
    #[serde(rename = "match", skip_serializing_if = "BTreeMap::is_empty")]
    pub match_eq: BTreeMap<String, String>,
    /// Deprecated `match_re` (the expressions as written).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub match_re: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Matchers::is_empty")]
    pub matchers: Matchers,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mute_time_intervals: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub active_time_intervals: Vec<String>,
    #[serde(rename = "continue")]
    pub continue_matching: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteConfig>,
    /// Milliseconds.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_opt_duration"
    )]
    pub group_wait: Option<i64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_opt_duration"
    )]
    pub group_interval: Option<i64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_opt_duration"
    )]
    pub repeat_interval: Option<i64>,
}

fn serialize_opt_duration<S: serde::Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(ms) => s.serialize_str(&wasmetheus_model::go::format_model_duration(*ms)),
        None => s.serialize_none(),
    }
}

/// The YAML shape of a route node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    #[serde(default)]
    receiver: Option<String>,
    #[serde(default)]
    group_by: Option<Vec<String>>,
    #[serde(default, rename = "match")]
    match_eq: Option<BTreeMap<String, Option<String>>>,
    #[serde(default)]
    match_re: Option<BTreeMap<String, Option<String>>>,
    #[serde(default)]
    matchers: Option<Vec<String>>,
    #[serde(default)]
    mute_time_intervals: Option<Vec<String>>,
    #[serde(default)]
    active_time_intervals: Option<Vec<String>>,
    #[serde(default, rename = "continue")]
    continue_matching: Option<bool>,
    #[serde(default)]
    routes: Option<Vec<Option<RawRoute>>>,
    #[serde(default)]
    group_wait: Option<String>,
    #[serde(default)]
    group_interval: Option<String>,
    #[serde(default)]
    repeat_interval: Option<String>,
}

/// Prometheus' classic label name (`model.LabelNameRE`).
pub(crate) fn is_classic_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The label names 0.34 accepts in `group_by` and `equal` (UTF-8 mode):
/// any non-empty string.
pub(crate) fn is_valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

fn parse_duration(text: &str) -> Result<i64, String> {
    wasmetheus_model::go::parse_model_duration(text).map_err(|e| e.to_string())
}

/// `match` values as equality matchers; null values are empty.
fn check_match(map: &BTreeMap<String, Option<String>>) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (k, v) in map {
        if !is_classic_label_name(k) {
            return Err(format!(
                "invalid label name {}",
                wasmetheus_model::go::quote(k)
            ));
        }
        out.insert(k.clone(), v.clone().unwrap_or_default());
    }
    Ok(out)
}

/// `match_re` values: label names checked, expressions compiled; a null
/// expression is `invalid regexp value for "name"`.
pub(crate) fn check_match_re(
    map: &BTreeMap<String, Option<String>>,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (k, v) in map {
        if !is_classic_label_name(k) {
            return Err(format!(
                "invalid label name {}",
                wasmetheus_model::go::quote(k)
            ));
        }
        let Some(v) = v else {
            return Err(format!(
                "invalid regexp value for {}",
                wasmetheus_model::go::quote(k)
            ));
        };
        crate::matcher::compile_anchored(v)?;
        out.insert(k.clone(), v.clone());
    }
    Ok(out)
}

/// A `matchers` list: each line parsed in the fallback mode, all sorted.
pub(crate) fn parse_matcher_lines(lines: &[String]) -> Result<Matchers, String> {
    let mut all = Vec::new();
    for line in lines {
        all.extend(parse_matchers(line)?.0);
    }
    let mut ms = Matchers(all);
    ms.sort();
    Ok(ms)
}

impl RawRoute {
    /// Validates as `Route.UnmarshalYAML` (children first, as Go's YAML
    /// library decodes them before the parent's checks run).
    pub(crate) fn into_config(self) -> Result<RouteConfig, String> {
        let mut routes = Vec::new();
        for child in self.routes.unwrap_or_default() {
            // A null list entry is an empty route in Go (a nil *Route is
            // decoded as a zero Route by yaml.v2 for `- ` entries).
            routes.push(match child {
                Some(c) => c.into_config()?,
                None => RouteConfig::default(),
            });
        }
        let match_eq = check_match(&self.match_eq.unwrap_or_default())?;
        let match_re = check_match_re(&self.match_re.unwrap_or_default())?;
        let matchers = parse_matcher_lines(&self.matchers.unwrap_or_default())?;
        let group_by_str = self.group_by.unwrap_or_default();
        let mut group_by: Option<Vec<String>> = None;
        let mut group_by_all = false;
        for l in &group_by_str {
            if l == "..." {
                group_by_all = true;
            } else {
                if !is_valid_label_name(l) {
                    return Err(format!(
                        "invalid label name {} in group_by list",
                        wasmetheus_model::go::quote(l)
                    ));
                }
                group_by.get_or_insert_with(Vec::new).push(l.clone());
            }
        }
        if group_by.is_some() && group_by_all {
            return Err(
                "cannot have wildcard group_by (`...`) and other labels at the same time"
                    .to_owned(),
            );
        }
        let mut seen = std::collections::BTreeSet::new();
        for l in group_by.iter().flatten() {
            if !seen.insert(l.as_str()) {
                return Err(format!(
                    "duplicated label {} in group_by",
                    wasmetheus_model::go::quote(l)
                ));
            }
        }
        let group_wait = self.group_wait.as_deref().map(parse_duration).transpose()?;
        let group_interval = self
            .group_interval
            .as_deref()
            .map(parse_duration)
            .transpose()?;
        let repeat_interval = self
            .repeat_interval
            .as_deref()
            .map(parse_duration)
            .transpose()?;
        if group_interval == Some(0) {
            return Err("group_interval cannot be zero".to_owned());
        }
        if repeat_interval == Some(0) {
            return Err("repeat_interval cannot be zero".to_owned());
        }
        Ok(RouteConfig {
            receiver: self.receiver.unwrap_or_default(),
            group_by_str,
            group_by,
            group_by_all,
            match_eq,
            match_re,
            matchers,
            mute_time_intervals: self.mute_time_intervals.unwrap_or_default(),
            active_time_intervals: self.active_time_intervals.unwrap_or_default(),
            continue_matching: self.continue_matching.unwrap_or(false),
            routes,
            group_wait,
            group_interval,
            repeat_interval,
        })
    }
}

/// An inhibition rule: while an alert matching the source matchers
/// fires, alerts matching the target matchers with the same `equal`
/// labels are inhibited.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InhibitRule {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub source_match: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub source_match_re: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Matchers::is_empty")]
    pub source_matchers: Matchers,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub target_match: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub target_match_re: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Matchers::is_empty")]
    pub target_matchers: Matchers,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub equal: Vec<String>,
}

impl InhibitRule {
    /// All source conditions as matchers (old forms first, as
    /// `inhibit.NewInhibitRule` builds them), sorted.
    pub fn source(&self) -> Matchers {
        combine(
            &self.source_match,
            &self.source_match_re,
            &self.source_matchers,
        )
    }

    /// All target conditions as matchers, sorted.
    pub fn target(&self) -> Matchers {
        combine(
            &self.target_match,
            &self.target_match_re,
            &self.target_matchers,
        )
    }
}

/// `match`, `match_re` and `matchers` together. As upstream, a
/// `match_re` matcher's value is the compiled expression's text
/// (`^(?:x)$`), which is what routes and rules print.
pub(crate) fn combine(
    eq: &BTreeMap<String, String>,
    re: &BTreeMap<String, String>,
    matchers: &Matchers,
) -> Matchers {
    let mut all = Vec::new();
    for (k, v) in eq {
        if let Ok(m) = Matcher::new(MatchType::Equal, k.clone(), v.clone()) {
            all.push(m);
        }
    }
    for (k, v) in re {
        // Checked when the configuration was read.
        if let Ok(m) = Matcher::new(MatchType::Regexp, k.clone(), format!("^(?:{v})$")) {
            all.push(m);
        }
    }
    all.extend(matchers.0.iter().cloned());
    let mut ms = Matchers(all);
    ms.sort();
    ms
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInhibitRule {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    source_match: Option<BTreeMap<String, Option<String>>>,
    #[serde(default)]
    source_match_re: Option<BTreeMap<String, Option<String>>>,
    #[serde(default)]
    source_matchers: Option<Vec<String>>,
    #[serde(default)]
    target_match: Option<BTreeMap<String, Option<String>>>,
    #[serde(default)]
    target_match_re: Option<BTreeMap<String, Option<String>>>,
    #[serde(default)]
    target_matchers: Option<Vec<String>>,
    #[serde(default)]
    equal: Option<Vec<String>>,
}

impl RawInhibitRule {
    pub(crate) fn into_rule(self) -> Result<InhibitRule, String> {
        let source_match = check_match(&self.source_match.unwrap_or_default())?;
        let source_match_re = check_match_re(&self.source_match_re.unwrap_or_default())?;
        let source_matchers = parse_matcher_lines(&self.source_matchers.unwrap_or_default())?;
        let target_match = check_match(&self.target_match.unwrap_or_default())?;
        let target_match_re = check_match_re(&self.target_match_re.unwrap_or_default())?;
        let target_matchers = parse_matcher_lines(&self.target_matchers.unwrap_or_default())?;
        let equal = self.equal.unwrap_or_default();
        for l in &equal {
            if !is_valid_label_name(l) {
                return Err(format!(
                    "invalid label name {} in equal list",
                    wasmetheus_model::go::quote(l)
                ));
            }
        }
        Ok(InhibitRule {
            name: self.name.unwrap_or_default(),
            source_match,
            source_match_re,
            source_matchers,
            target_match,
            target_match_re,
            target_matchers,
            equal,
        })
    }
}
