//! A relabeling rule as configured (`relabel_configs`,
//! `metric_relabel_configs`, `write_relabel_configs`, …): its action, the
//! YAML reading with Prometheus' defaults (absent, null and set keys are told
//! apart), and `Config.Validate`'s checks with upstream's messages.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use crate::go_strings::{go_quote, go_to_lower};
use crate::name::NameValidationScheme;
use crate::pattern::{DEFAULT_REGEX, RelabelRegex};

/// What a rule does; the YAML names are Prometheus' (case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Action {
    /// Writes the expanded `replacement` to the expanded `target_label`
    /// when `regex` matches the joined source values.
    #[default]
    Replace,
    /// Drops the set unless `regex` matches the joined source values.
    Keep,
    /// Drops the set when `regex` matches the joined source values.
    Drop,
    /// Drops the set unless `target_label`'s value equals the joined
    /// source values.
    KeepEqual,
    /// Drops the set when `target_label`'s value equals the joined source
    /// values.
    DropEqual,
    /// Sets `target_label` to the MD5 of the joined source values modulo
    /// `modulus`.
    HashMod,
    /// Copies every label whose name matches `regex` to the name given by
    /// expanding `replacement`.
    LabelMap,
    /// Removes every label whose name matches `regex`.
    LabelDrop,
    /// Removes every label whose name does not match `regex`.
    LabelKeep,
    /// Sets `target_label` to the joined source values in lower case.
    Lowercase,
    /// Sets `target_label` to the joined source values in upper case.
    Uppercase,
}

impl Action {
    /// The name used in configuration files and error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = String;

    /// Accepts any letter case, as Prometheus lower-cases the name first.
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match go_to_lower(s).as_str() {
            "replace" => Action::Replace,
            "keep" => Action::Keep,
            "drop" => Action::Drop,
            "keepequal" => Action::KeepEqual,
            "dropequal" => Action::DropEqual,
            "hashmod" => Action::HashMod,
            "labelmap" => Action::LabelMap,
            "labeldrop" => Action::LabelDrop,
            "labelkeep" => Action::LabelKeep,
            "lowercase" => Action::Lowercase,
            "uppercase" => Action::Uppercase,
            _ => return Err(format!("unknown relabel action {}", go_quote(s))),
        })
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The default `separator` of a rule.
const DEFAULT_SEPARATOR: &str = ";";
/// The default `replacement` of a rule.
const DEFAULT_REPLACEMENT: &str = "$1";

/// One relabeling rule. Deserializing applies Prometheus' defaults, rejects
/// unknown keys and runs [`RelabelConfig::validate`] (under UTF-8 names; a
/// caller using legacy names sets `name_validation_scheme` and validates
/// again).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawRelabelConfig")]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator` to form the input.
    pub source_labels: Vec<String>,
    pub separator: String,
    pub regex: RelabelRegex,
    /// For `hashmod`; 0 (unset) otherwise.
    pub modulus: u64,
    /// For `replace` it may hold `$1`/`${name}` references.
    pub target_label: String,
    pub replacement: String,
    pub action: Action,
    /// Not read from YAML: set by whoever knows the scrape config's scheme.
    pub name_validation_scheme: NameValidationScheme,
}

impl Default for RelabelConfig {
    /// Prometheus' `DefaultRelabelConfig` (which, lacking a target label,
    /// does not validate by itself).
    fn default() -> Self {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: DEFAULT_SEPARATOR.to_owned(),
            regex: RelabelRegex::default(),
            modulus: 0,
            target_label: String::new(),
            replacement: DEFAULT_REPLACEMENT.to_owned(),
            action: Action::Replace,
            name_validation_scheme: NameValidationScheme::Utf8,
        }
    }
}

impl RelabelConfig {
    /// Checks the rule like Prometheus' `Config.Validate`, in the same order
    /// and with the same messages.
    pub fn validate(&self) -> Result<(), String> {
        let action = self.action;
        let scheme = self.name_validation_scheme;
        let target = self.target_label.as_str();
        let invalid_target = || {
            Err(format!(
                "{} is invalid 'target_label' for {action} action",
                go_quote(target)
            ))
        };
        let sets_target = matches!(
            action,
            Action::Lowercase | Action::Uppercase | Action::KeepEqual | Action::DropEqual
        );

        if action == Action::HashMod && self.modulus == 0 {
            return Err("relabel configuration for hashmod requires non-zero modulus".to_owned());
        }
        if (sets_target || matches!(action, Action::Replace | Action::HashMod)) && target.is_empty()
        {
            return Err(format!(
                "relabel configuration for {action} action requires 'target_label' value"
            ));
        }
        if action == Action::Replace {
            let valid = if target.contains('$') {
                scheme.is_valid_name_template(target)
            } else {
                scheme.is_valid_label_name(target)
            };
            if !valid {
                return invalid_target();
            }
        }
        if sets_target && !scheme.is_valid_label_name(target) {
            return invalid_target();
        }
        if sets_target && self.replacement != DEFAULT_REPLACEMENT {
            return Err(format!("'replacement' can not be set for {action} action"));
        }
        if action == Action::LabelMap && !scheme.is_valid_name_template(&self.replacement) {
            return Err(format!(
                "{} is invalid 'replacement' for {action} action",
                go_quote(&self.replacement)
            ));
        }
        if action == Action::HashMod && !scheme.is_valid_label_name(target) {
            return invalid_target();
        }
        if matches!(action, Action::KeepEqual | Action::DropEqual)
            && (self.regex.as_str() != DEFAULT_REGEX
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(only_source_and_target(action));
        }
        if matches!(action, Action::LabelDrop | Action::LabelKeep)
            && (!self.source_labels.is_empty()
                || !target.is_empty()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(only_regex(action));
        }
        Ok(())
    }
}

fn only_source_and_target(action: Action) -> String {
    format!("{action} action requires only 'source_labels' and `target_label`, and no other fields")
}

fn only_regex(action: Action) -> String {
    format!("{action} action requires only 'regex', and no other fields")
}

/// The rule as written: each field is absent (`None`), null (`Some(None)`)
/// or set, because Prometheus treats the three differently (an absent key
/// keeps the default, a null one becomes Go's zero value).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelabelConfig {
    #[serde(default, deserialize_with = "present")]
    source_labels: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    separator: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    regex: Option<Option<RelabelRegex>>,
    #[serde(default, deserialize_with = "present")]
    modulus: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    target_label: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    replacement: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    action: Option<Option<Action>>,
}

/// Marks a key that is present (null or not); serde's `default` covers the
/// absent case.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

fn or_default<T: Default>(field: Option<Option<T>>, default: impl FnOnce() -> T) -> T {
    match field {
        None => default(),
        Some(value) => value.unwrap_or_default(),
    }
}

impl TryFrom<RawRelabelConfig> for RelabelConfig {
    type Error = String;

    fn try_from(raw: RawRelabelConfig) -> Result<Self, String> {
        // Set, even to an empty list: upstream's labeldrop/labelkeep check
        // is `SourceLabels != nil`.
        let source_labels_set = matches!(raw.source_labels, Some(Some(_)));
        // Upstream compares the regex with the default by pointer, so any
        // `regex` key, even `(.*)` or null, counts as set.
        let regex_set = raw.regex.is_some();
        let source_labels = or_default(raw.source_labels, Vec::new);
        // Go's label name unmarshaling rejects empty names.
        if let Some(name) = source_labels.iter().find(|n| n.is_empty()) {
            return Err(format!("{} is not a valid label name", go_quote(name)));
        }
        let action = match raw.action {
            None => Action::Replace,
            Some(Some(action)) => action,
            Some(None) => return Err("relabel action cannot be empty".to_owned()),
        };
        let regex = match raw.regex {
            None => RelabelRegex::default(),
            Some(Some(regex)) => regex,
            // A null regex becomes the empty one, matching only "".
            Some(None) => RelabelRegex::new("")?,
        };
        let config = RelabelConfig {
            source_labels,
            separator: or_default(raw.separator, || DEFAULT_SEPARATOR.to_owned()),
            regex,
            modulus: or_default(raw.modulus, || 0),
            target_label: or_default(raw.target_label, String::new),
            replacement: or_default(raw.replacement, || DEFAULT_REPLACEMENT.to_owned()),
            action,
            name_validation_scheme: NameValidationScheme::Utf8,
        };
        config.validate()?;
        // These checks come last in upstream's validation too, so the first
        // error reported is the same.
        match action {
            Action::KeepEqual | Action::DropEqual if regex_set => {
                Err(only_source_and_target(action))
            }
            Action::LabelDrop | Action::LabelKeep if source_labels_set => Err(only_regex(action)),
            _ => Ok(config),
        }
    }
}
