//! The whole alertmanager.yml (`config.Config`): reading it (size-limited,
//! YAML errors positioned as `file:line:col` by `wasmetheus-config`'s
//! reader), then upstream's checks in upstream's order with upstream's
//! texts, positioned where the offending text can be found.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::global::{GlobalConfig, RawGlobal};
use crate::receivers::{Receiver, read_receiver};
use crate::route_config::{InhibitRule, RawInhibitRule, RawRoute, RouteConfig};
use crate::timeinterval::TimeInterval;

/// The largest alertmanager.yml read (upstream has no limit; a file this
/// large is a mistake or an attack).
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    Read { path: PathBuf, message: String },
    #[error("{}: file is larger than {limit} bytes", path.display())]
    TooLarge { path: PathBuf, limit: u64 },
    /// Not YAML of the right shape; positioned.
    #[error(transparent)]
    Yaml(#[from] wasmetheus_config::ConfigError),
    /// A check failed: upstream's text, positioned where the offending
    /// text was found (1:1 when it cannot be).
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: u64,
        column: u64,
        message: String,
    },
}

impl Error {
    /// Upstream's text alone (what `amtool check-config` prints).
    pub fn message(&self) -> String {
        match self {
            Error::Read { message, .. } => message.clone(),
            Error::TooLarge { limit, .. } => format!("file is larger than {limit} bytes"),
            Error::Yaml(wasmetheus_config::ConfigError::Invalid { message, .. }) => message.clone(),
            Error::Yaml(e) => e.to_string(),
            Error::Invalid { message, .. } => message.clone(),
        }
    }
}

/// A named set of time intervals (`time_intervals` and the deprecated
/// `mute_time_intervals`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamedTimeInterval {
    pub name: String,
    pub time_intervals: Vec<TimeInterval>,
}

impl NamedTimeInterval {
    /// Whether any of the intervals contains the instant.
    pub fn contains(&self, t: jiff::Timestamp) -> bool {
        self.time_intervals.iter().any(|i| i.contains(t))
    }
}

/// alertmanager.yml.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    pub global: GlobalConfig,
    pub route: RouteConfig,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inhibit_rules: Vec<InhibitRule>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub receivers: Vec<Receiver>,
    /// Globs, relative ones joined with the file's directory by
    /// [`Config::load`].
    pub templates: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mute_time_intervals: Vec<NamedTimeInterval>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub time_intervals: Vec<NamedTimeInterval>,
    /// The text the configuration was read from.
    #[serde(skip)]
    pub original: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    global: Option<RawGlobal>,
    #[serde(default)]
    route: Option<RawRoute>,
    #[serde(default)]
    inhibit_rules: Option<Vec<Option<RawInhibitRule>>>,
    #[serde(default)]
    receivers: Option<Vec<Option<Value>>>,
    #[serde(default)]
    templates: Option<Vec<Option<String>>>,
    #[serde(default)]
    mute_time_intervals: Option<Vec<Option<RawNamed>>>,
    #[serde(default)]
    time_intervals: Option<Vec<Option<RawNamed>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNamed {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    time_intervals: Option<Vec<TimeInterval>>,
}

/// Where in `text` to point for a message: a quoted name in the message
/// found in the text, else 1:1.
fn position_for(text: &str, message: &str, hint: Option<&str>) -> (u64, u64) {
    let mut needles: Vec<String> = Vec::new();
    if let Some(h) = hint {
        needles.push(h.to_owned());
    }
    if let Some(start) = message.find('"')
        && let Some(len) = message[start + 1..].find('"')
    {
        needles.push(message[start + 1..start + 1 + len].to_owned());
    }
    for needle in needles.iter().filter(|n| !n.is_empty()) {
        if let Some(offset) = text.find(needle.as_str()) {
            let before = &text[..offset];
            let line = before.matches('\n').count() + 1;
            let column = offset - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            return (line as u64, column as u64);
        }
    }
    (1, 1)
}

/// The keys enclosing the key at `line:column` (1-based), nearest first,
/// read from the block layout (list items do not count).
fn ancestors(text: &str, line: u64, column: u64) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    let end = usize::try_from(line.saturating_sub(1)).map_or(0, |l| l.min(lines.len()));
    let mut cur = usize::try_from(column.saturating_sub(1)).unwrap_or(0);
    let mut out = Vec::new();
    for l in lines[..end].iter().rev() {
        let trimmed = l.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = l.len() - trimmed.len();
        let (dash, key_col, content) = match trimmed.strip_prefix("- ") {
            Some(rest) => {
                let item = rest.trim_start();
                (true, indent + 2 + rest.len() - item.len(), item)
            }
            None => (false, indent, trimmed),
        };
        let key_part = content.split(" #").next().unwrap_or("").trim_end();
        if key_col < cur
            && let Some(key) = key_part.strip_suffix(':')
        {
            out.push(key.trim_matches(['"', '\'']));
            cur = key_col;
        }
        if dash && key_col <= cur {
            cur = indent + 1;
        }
        if cur == 0 {
            break;
        }
    }
    out
}

/// Go names the struct whose field is unknown; the reader names
/// Prometheus' types, so the time intervals' own are put back. The YAML
/// reader's nesting limit (64 levels, about 30 nested routes; upstream has
/// none) is said in words.
fn go_type_name(text: &str, line: u64, column: u64, message: String) -> String {
    if message.starts_with("budget breached: Depth") {
        return "YAML nested deeper than 64 levels (routes nested about 30 deep)".to_owned();
    }
    let Some(rest) = message.strip_suffix(" not found in type config.plain") else {
        return message;
    };
    let up = ancestors(text, line, column);
    let ty = match up.as_slice() {
        [
            "times",
            "time_intervals",
            "time_intervals" | "mute_time_intervals",
            ..,
        ] => "timeinterval.yamlTimeRange",
        [
            "time_intervals",
            "time_intervals" | "mute_time_intervals",
            ..,
        ] => "timeinterval.TimeInterval",
        _ => return message,
    };
    format!("{rest} not found in type {ty}")
}

fn check_receivers(r: &RouteConfig, names: &BTreeSet<&str>) -> Result<(), String> {
    for child in &r.routes {
        check_receivers(child, names)?;
    }
    if !r.receiver.is_empty() && !names.contains(r.receiver.as_str()) {
        return Err(format!(
            "undefined receiver {} used in route",
            wasmetheus_model::go::quote(&r.receiver)
        ));
    }
    Ok(())
}

fn check_time_intervals(r: &RouteConfig, names: &BTreeSet<String>) -> Result<(), String> {
    for child in &r.routes {
        check_time_intervals(child, names)?;
    }
    for ti in r.active_time_intervals.iter().chain(&r.mute_time_intervals) {
        if !names.contains(ti) {
            return Err(format!(
                "undefined time interval {} used in route",
                wasmetheus_model::go::quote(ti)
            ));
        }
    }
    Ok(())
}

fn named(
    list: Option<Vec<Option<RawNamed>>>,
    missing: &str,
) -> Result<Vec<NamedTimeInterval>, String> {
    list.unwrap_or_default()
        .into_iter()
        .map(|entry| {
            let entry = entry.ok_or_else(|| missing.to_owned())?;
            let name = entry.name.unwrap_or_default();
            if name.is_empty() {
                return Err(missing.to_owned());
            }
            Ok(NamedTimeInterval {
                name,
                time_intervals: entry.time_intervals.unwrap_or_default(),
            })
        })
        .collect()
}

impl Config {
    /// Reads the file (at most [`MAX_CONFIG_BYTES`]) and resolves relative
    /// template globs against its directory (`LoadFile`).
    pub fn load(path: &Path) -> Result<Config, Error> {
        let file = std::fs::File::open(path).map_err(|e| Error::Read {
            path: path.to_owned(),
            message: wasmetheus_model::go::path_error("open", path, &e),
        })?;
        let bytes = wasmetheus_config::limited::read_at_most(file, MAX_CONFIG_BYTES)
            .map_err(|e| Error::Read {
                path: path.to_owned(),
                message: wasmetheus_model::go::path_error("read", path, &e),
            })?
            .ok_or_else(|| Error::TooLarge {
                path: path.to_owned(),
                limit: MAX_CONFIG_BYTES,
            })?;
        let text = String::from_utf8(bytes).map_err(|_| Error::Invalid {
            path: path.to_owned(),
            line: 1,
            column: 1,
            message: "yaml: invalid leading UTF-8 octet".to_owned(),
        })?;
        let mut config = Config::parse(&text, path)?;
        let base = path.parent().unwrap_or_else(|| Path::new(""));
        config.global.http_config.set_directory(base);
        for receiver in &mut config.receivers {
            crate::receivers::set_directory(receiver, base);
        }
        for t in &mut config.templates {
            if !t.is_empty() && !Path::new(t.as_str()).is_absolute() {
                *t = base.join(t.as_str()).to_string_lossy().into_owned();
            }
        }
        Ok(config)
    }

    /// Reads alertmanager.yml text (`Load`); `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, Error> {
        let invalid = |message: String, hint: Option<&str>| {
            let (line, column) = position_for(text, &message, hint);
            Error::Invalid {
                path: path.to_owned(),
                line,
                column,
                message,
            }
        };
        let raw: Option<RawConfig> = if text.trim().is_empty() {
            None
        } else {
            // Positioned as upstream's texts are (without Prometheus'
            // `parsing YAML file` prefix).
            wasmetheus_config::parse_yaml(text, path).map_err(|e| match e {
                wasmetheus_config::ConfigError::Invalid {
                    path,
                    line,
                    column,
                    message,
                } => Error::Invalid {
                    message: go_type_name(text, line, column, message),
                    path,
                    line,
                    column,
                },
                other => Error::Yaml(other),
            })?
        };
        let Some(raw) = raw else {
            return Err(invalid("no route provided in config".to_owned(), None));
        };
        let config = Self::from_raw(raw, text).map_err(|(m, hint)| invalid(m, hint.as_deref()))?;
        if config.route.continue_matching {
            return Err(invalid(
                "cannot have continue in root route".to_owned(),
                Some("continue:"),
            ));
        }
        Ok(config)
    }

    fn from_raw(raw: RawConfig, text: &str) -> Result<Config, (String, Option<String>)> {
        let at = |hint: &'static str| move |m: String| (m, Some(hint.to_owned()));
        let global = raw
            .global
            .unwrap_or_default()
            .into_global()
            .map_err(at("global:"))?;
        let route = match raw.route {
            Some(r) => Some(r.into_config().map_err(at("route:"))?),
            None => None,
        };
        let inhibit_rules = raw
            .inhibit_rules
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .map(RawInhibitRule::into_rule)
            .collect::<Result<Vec<_>, _>>()
            .map_err(at("inhibit_rules:"))?;
        let mute_time_intervals = named(
            raw.mute_time_intervals,
            "missing name in mute time interval",
        )
        .map_err(at("mute_time_intervals:"))?;
        let time_intervals = named(raw.time_intervals, "missing name in time interval")
            .map_err(at("time_intervals:"))?;
        let templates: Vec<String> = raw
            .templates
            .unwrap_or_default()
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect();

        let mut receivers = Vec::new();
        let mut names = BTreeSet::new();
        for entry in raw.receivers.unwrap_or_default() {
            let entry = entry.unwrap_or(Value::Null);
            // An error points at the receiver's name where it has one.
            let hint = match entry.get("name").and_then(Value::as_str) {
                Some(name) if !name.is_empty() => format!("name: {name}"),
                _ => "receivers:".to_owned(),
            };
            // Upstream checks the name's uniqueness before the fallbacks.
            if let Some(name) = entry.get("name").and_then(Value::as_str)
                && !name.is_empty()
                && names.contains(name)
            {
                return Err((
                    format!(
                        "notification config name {} is not unique",
                        wasmetheus_model::go::quote(name)
                    ),
                    None,
                ));
            }
            let receiver = read_receiver(entry, &global).map_err(|m| {
                let hint = if text.contains(&hint) {
                    hint
                } else {
                    "receivers:".to_owned()
                };
                (m, Some(hint))
            })?;
            if !names.insert(receiver.name.clone()) {
                return Err((
                    format!(
                        "notification config name {} is not unique",
                        wasmetheus_model::go::quote(&receiver.name)
                    ),
                    None,
                ));
            }
            receivers.push(receiver);
        }

        let Some(route) = route else {
            return Err(("no routes provided".to_owned(), None));
        };
        if route.receiver.is_empty() {
            return Err((
                "root route must specify a default receiver".to_owned(),
                Some("route:".to_owned()),
            ));
        }
        if !route.match_eq.is_empty() || !route.match_re.is_empty() || !route.matchers.is_empty() {
            return Err((
                "root route must not have any matchers".to_owned(),
                Some("route:".to_owned()),
            ));
        }
        if !route.mute_time_intervals.is_empty() {
            return Err((
                "root route must not have any mute time intervals".to_owned(),
                Some("route:".to_owned()),
            ));
        }
        if !route.active_time_intervals.is_empty() {
            return Err((
                "root route must not have any active time intervals".to_owned(),
                Some("route:".to_owned()),
            ));
        }
        let name_refs: BTreeSet<&str> = names.iter().map(String::as_str).collect();
        check_receivers(&route, &name_refs).map_err(|m| (m, None))?;

        let mut ti_names = BTreeSet::new();
        for mt in &mute_time_intervals {
            if !ti_names.insert(mt.name.clone()) {
                return Err((
                    format!(
                        "mute time interval {} is not unique",
                        wasmetheus_model::go::quote(&mt.name)
                    ),
                    None,
                ));
            }
        }
        for ti in &time_intervals {
            if !ti_names.insert(ti.name.clone()) {
                return Err((
                    format!(
                        "time interval {} is not unique",
                        wasmetheus_model::go::quote(&ti.name)
                    ),
                    None,
                ));
            }
        }
        check_time_intervals(&route, &ti_names).map_err(|m| (m, None))?;

        Ok(Config {
            global,
            route,
            inhibit_rules,
            receivers,
            templates,
            mute_time_intervals,
            time_intervals,
            original: text.to_owned(),
        })
    }

    /// Every integration name the receivers use (`webhook`, `slack`, …,
    /// and names only a plugin knows), for checking that each has a
    /// sender.
    pub fn integration_names(&self) -> BTreeSet<&str> {
        self.receivers
            .iter()
            .flat_map(|r| r.integrations.iter())
            .filter(|(_, configs)| !configs.is_empty())
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// The receiver named `name`.
    pub fn receiver(&self, name: &str) -> Option<&Receiver> {
        self.receivers.iter().find(|r| r.name == name)
    }

    /// The time interval (from `time_intervals` or `mute_time_intervals`)
    /// named `name`.
    pub fn time_interval(&self, name: &str) -> Option<&NamedTimeInterval> {
        self.time_intervals
            .iter()
            .chain(&self.mute_time_intervals)
            .find(|t| t.name == name)
    }

    /// The configuration as JSON, secrets shown as `<secret>`.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The configuration as YAML (`/api/v2/status`'s `config.original`
    /// and `amtool config show`), secrets shown as `<secret>`.
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self).unwrap_or_default()
    }
}
