//! Prometheus' relabeling (`relabel_configs`, `metric_relabel_configs`): the
//! rule configuration, its validation and its application to a label set,
//! following upstream's `model/relabel/relabel.go` rule for rule.
//!
//! Three Go behaviours are reproduced on purpose because they change
//! results: regexes are RE2 (ASCII `\d`, `\w`, `\s`, `\b`, literal `{` when
//! it does not start a repetition; see `translate_go_regex`),
//! `$1`/`${name}` templates expand like Go's `Regexp.Expand`, and label
//! sets are edited through a copy of Prometheus' `labels.Builder`, whose
//! iteration order decides which label wins when `labelmap` maps two names
//! to one.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use md5::{Digest, Md5};
use regex::{Captures, Regex};
use serde::{Deserialize, Deserializer};
use wasmetheus_model::Label;

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

/// Which label names are acceptable. Prometheus 3 defaults to UTF-8 (any
/// non-empty name); a scrape config can ask for the legacy
/// `[a-zA-Z_][a-zA-Z0-9_]*`, which makes validation and `replace` stricter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NameValidationScheme {
    #[default]
    Utf8,
    Legacy,
}

impl NameValidationScheme {
    /// Whether `name` is a label name under this scheme.
    pub fn is_valid_label_name(self, name: &str) -> bool {
        match self {
            // Rust strings are always valid UTF-8, so only emptiness is left.
            NameValidationScheme::Utf8 => !name.is_empty(),
            NameValidationScheme::Legacy => is_legacy_label_name(name),
        }
    }

    /// Whether `template` (a name that may hold `$1`/`${name}` references)
    /// is acceptable as a `replace` target or a `labelmap` replacement.
    fn is_valid_name_template(self, template: &str) -> bool {
        match self {
            // Under UTF-8 `$`, `{` and `}` are ordinary name characters.
            NameValidationScheme::Utf8 => !template.is_empty(),
            NameValidationScheme::Legacy => LEGACY_NAME_TEMPLATE.is_match(template),
        }
    }
}

fn is_legacy_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Upstream's `relabelTargetLegacy`: legacy name characters plus `$1`,
/// `$name` and `${name}` references (Go's `\w` is ASCII).
static LEGACY_NAME_TEMPLATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(?:[a-zA-Z_]|\$(?:\{[0-9A-Za-z_]+\}|[0-9A-Za-z_]+))+[0-9A-Za-z_]*)+$")
        .expect("static regex")
});

/// The default `regex` of a rule.
const DEFAULT_REGEX: &str = "(.*)";
/// The default `separator` of a rule.
const DEFAULT_SEPARATOR: &str = ";";
/// The default `replacement` of a rule.
const DEFAULT_REPLACEMENT: &str = "$1";

/// A rule's regular expression: compiled fully anchored (and with `.`
/// matching newlines, as Prometheus 3 does), displayed as written.
#[derive(Clone)]
pub struct RelabelRegex {
    source: String,
    compiled: Regex,
}

impl RelabelRegex {
    /// Compiles `source` (RE2 syntax) as Prometheus does: `^(?s:source)$`.
    pub fn new(source: &str) -> Result<Self, String> {
        let translated =
            translate_go_regex(source).map_err(|m| format!("error parsing regexp: {m}"))?;
        let compiled = Regex::new(&format!("^(?s:{translated})$")).map_err(|e| {
            // The `regex` crate renders a multi-line report with the
            // pattern and a caret; the last line alone is the reason.
            let report = e.to_string();
            let reason = report
                .lines()
                .rev()
                .find_map(|line| line.strip_prefix("error: "))
                .unwrap_or(report.as_str())
                .to_owned();
            format!("error parsing regexp: {reason}: `{source}`")
        })?;
        Ok(RelabelRegex {
            source: source.to_owned(),
            compiled,
        })
    }

    /// The expression as written in the configuration.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the whole of `text` matches.
    pub fn is_match(&self, text: &str) -> bool {
        self.compiled.is_match(text)
    }
}

impl Default for RelabelRegex {
    fn default() -> Self {
        RelabelRegex::new(DEFAULT_REGEX).expect("default regex compiles")
    }
}

impl PartialEq for RelabelRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for RelabelRegex {}

impl fmt::Debug for RelabelRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RelabelRegex").field(&self.source).finish()
    }
}

impl fmt::Display for RelabelRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for RelabelRegex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        RelabelRegex::new(&source).map_err(serde::de::Error::custom)
    }
}

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

    /// Applies the rule to `lb`; false when it drops the label set.
    fn apply(&self, lb: &mut Builder<'_>) -> bool {
        let values: Vec<&str> = self.source_labels.iter().map(|n| lb.get(n)).collect();
        let val = values.join(&self.separator);
        let regex = &self.regex.compiled;
        match self.action {
            Action::Drop => return !regex.is_match(&val),
            Action::Keep => return regex.is_match(&val),
            Action::DropEqual => return lb.get(&self.target_label) != val,
            Action::KeepEqual => return lb.get(&self.target_label) == val,
            Action::Replace => {
                // Upstream's fast path for an empty input with the default
                // regex gives the same result as this general one.
                let Some(caps) = regex.captures(&val) else {
                    return true;
                };
                let mut target = String::new();
                go_expand(&self.target_label, &caps, &mut target);
                if !self.name_validation_scheme.is_valid_label_name(&target) {
                    return true;
                }
                let mut value = String::new();
                go_expand(&self.replacement, &caps, &mut value);
                lb.set(&target, value);
            }
            Action::Lowercase => lb.set(&self.target_label, go_to_lower(&val)),
            Action::Uppercase => lb.set(&self.target_label, go_to_upper(&val)),
            Action::HashMod => {
                let sum = Md5::digest(val.as_bytes());
                // Only the last 8 bytes, big-endian, as upstream keeps for
                // compatibility with its earlier versions.
                let mut tail = [0u8; 8];
                tail.copy_from_slice(&sum[8..]);
                // Validation rejects a zero modulus; an unvalidated rule
                // leaves the set alone rather than dividing by zero.
                if let Some(m) = u64::from_be_bytes(tail).checked_rem(self.modulus) {
                    lb.set(&self.target_label, m.to_string());
                }
            }
            Action::LabelMap => {
                for label in lb.range() {
                    if regex.is_match(&label.name) {
                        let name = go_replace_all(regex, &label.name, &self.replacement);
                        lb.set(&name, label.value);
                    }
                }
            }
            Action::LabelDrop => {
                for label in lb.range() {
                    if regex.is_match(&label.name) {
                        lb.del(&label.name);
                    }
                }
            }
            Action::LabelKeep => {
                for label in lb.range() {
                    if !regex.is_match(&label.name) {
                        lb.del(&label.name);
                    }
                }
            }
        }
        true
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

/// Applies `configs` in order to `labels` (sorted by name, as every label
/// set in wasmetheus is; an unsorted one is sorted first). Returns `None`
/// when a rule drops the set, otherwise the result sorted by name. Labels
/// with an empty value count as absent and are never returned, as with
/// Prometheus' `labels.Builder`.
pub fn relabel(labels: &[Label], configs: &[RelabelConfig]) -> Option<Vec<Label>> {
    let base: Cow<'_, [Label]> = if labels.is_sorted_by(|a, b| a.name <= b.name) {
        Cow::Borrowed(labels)
    } else {
        let mut sorted = labels.to_vec();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        Cow::Owned(sorted)
    };
    let mut lb = Builder::new(&base);
    for config in configs {
        if !config.apply(&mut lb) {
            return None;
        }
    }
    Some(lb.labels())
}

/// Prometheus' `labels.Builder`: the base set plus deletions and additions
/// (in insertion order). Reproduced rather than replaced by a map because
/// `range` visits base labels first and additions last, and `labelmap`
/// lets the last label mapped to a name win.
struct Builder<'a> {
    base: &'a [Label],
    del: Vec<String>,
    add: Vec<Label>,
}

impl<'a> Builder<'a> {
    fn new(base: &'a [Label]) -> Self {
        Builder {
            base,
            // An empty value is the same as a missing label.
            del: base
                .iter()
                .filter(|l| l.value.is_empty())
                .map(|l| l.name.clone())
                .collect(),
            add: Vec::new(),
        }
    }

    fn get(&self, name: &str) -> &str {
        // `set` does not undo a `del`, so additions are looked at first.
        if let Some(label) = self.add.iter().find(|l| l.name == name) {
            return &label.value;
        }
        if self.del.iter().any(|n| n == name) {
            return "";
        }
        self.base
            .iter()
            .find(|l| l.name == name)
            .map_or("", |l| l.value.as_str())
    }

    fn set(&mut self, name: &str, value: String) {
        if value.is_empty() {
            return self.del(name);
        }
        match self.add.iter_mut().find(|l| l.name == name) {
            Some(label) => label.value = value,
            None => self.add.push(Label::new(name, value)),
        }
    }

    fn del(&mut self, name: &str) {
        self.add.retain(|l| l.name != name);
        self.del.push(name.to_owned());
    }

    /// A snapshot of the current labels in `Builder.Range`'s order: base
    /// labels neither deleted nor overridden, then the additions.
    fn range(&self) -> Vec<Label> {
        let mut out: Vec<Label> = self
            .base
            .iter()
            .filter(|l| !self.del.contains(&l.name) && !self.add.iter().any(|a| a.name == l.name))
            .cloned()
            .collect();
        out.extend(self.add.iter().cloned());
        out
    }

    fn labels(self) -> Vec<Label> {
        let mut out = self.range();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

/// Go's `Regexp.ReplaceAllString`: every match of `re` in `src` replaced by
/// the expansion of `template`. Relabel regexes are anchored, so this is
/// normally one whole-string match, but a pattern such as `a)|(b` escapes
/// the anchors and upstream then replaces each match.
fn go_replace_all(re: &Regex, src: &str, template: &str) -> String {
    let mut out = String::new();
    let mut last_end = 0;
    let mut search = 0;
    while search <= src.len() {
        let Some(caps) = re.captures_at(src, search) else {
            break;
        };
        let m = caps.get(0).expect("group 0 always matches");
        out.push_str(&src[last_end..m.start()]);
        // No replacement for an empty match right after the previous one.
        if m.end() > last_end || m.start() == 0 {
            go_expand(template, &caps, &mut out);
        }
        last_end = m.end();
        let width = src[search..].chars().next().map_or(0, char::len_utf8);
        if search + width > m.end() {
            search += width;
        } else if search + 1 > m.end() {
            search += 1;
        } else {
            search = m.end();
        }
    }
    out.push_str(&src[last_end..]);
    out
}

/// Go's `Regexp.Expand`: `$$` is a `$`; `$name` takes the longest run of
/// letters, digits and underscores (so `$1x` names group "1x", which does
/// not exist, and expands to nothing); `${name}` delimits it; a number
/// without a leading zero is a group index; a malformed reference leaves
/// the `$` as text.
fn go_expand(template: &str, caps: &Captures<'_>, out: &mut String) {
    let mut rest = template;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        rest = &rest[dollar + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let Some((name, after)) = go_extract(rest) else {
            out.push('$');
            continue;
        };
        rest = after;
        let group = match go_group_number(name) {
            Some(index) => caps.get(index),
            None => caps.name(name),
        };
        if let Some(m) = group {
            out.push_str(m.as_str());
        }
    }
    out.push_str(rest);
}

/// Go's `unicode.IsLetter || unicode.IsDigit || '_'`, as a prefix matcher.
static GO_NAME_PREFIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\p{L}\p{Nd}_]*").expect("static regex"));

/// The reference name after a `$` and the text after it.
fn go_extract(s: &str) -> Option<(&str, &str)> {
    let (braced, body) = match s.strip_prefix('{') {
        Some(body) => (true, body),
        None => (false, s),
    };
    let len = GO_NAME_PREFIX.find(body).map_or(0, |m| m.end());
    if len == 0 {
        return None;
    }
    let (name, mut rest) = body.split_at(len);
    if braced {
        rest = rest.strip_prefix('}')?;
    }
    Some((name, rest))
}

/// A group index as Go reads one: ASCII digits, no leading zero, and the
/// same overflow cut-off.
fn go_group_number(name: &str) -> Option<usize> {
    if name.len() > 1 && name.starts_with('0') {
        return None;
    }
    let mut number = 0usize;
    for b in name.bytes() {
        if !b.is_ascii_digit() || number >= 100_000_000 {
            return None;
        }
        number = number * 10 + usize::from(b - b'0');
    }
    Some(number)
}

/// Go's `strings.ToLower`: the simple (one character) mapping. Rust's own
/// full mapping differs for `İ` (two characters) and a final `Σ`.
fn go_to_lower(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) => l,
                // Only U+0130 lowers to more than one character; its simple
                // mapping is a plain `i`.
                _ if c == '\u{130}' => 'i',
                _ => c,
            }
        })
        .collect()
}

/// Go's `strings.ToUpper`: the simple mapping. Where Rust's full mapping
/// gives several characters (`ß` → `SS`), Go keeps the character, except
/// the Greek letters with ypogegrammeni, whose simple mapping is the
/// corresponding titlecase letter.
fn go_to_upper(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut upper = c.to_uppercase();
            match (upper.next(), upper.next()) {
                (Some(u), None) => u,
                _ => go_simple_upper_special(c),
            }
        })
        .collect()
}

fn go_simple_upper_special(c: char) -> char {
    let mapped = match u32::from(c) {
        cp @ (0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7) => cp + 8,
        0x1FB3 => 0x1FBC,
        0x1FC3 => 0x1FCC,
        0x1FF3 => 0x1FFC,
        _ => return c,
    };
    char::from_u32(mapped).unwrap_or(c)
}

/// Characters Go's `strconv.Quote` escapes: anything but letters, marks,
/// numbers, punctuation, symbols and the ASCII space.
static GO_NON_PRINTABLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\p{C}\p{Z}]$").expect("static regex"));

/// Go's `%q` of a string, for error messages that quote names.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut buf = [0u8; 4];
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            ' ' => out.push(' '),
            _ if GO_NON_PRINTABLE.is_match(c.encode_utf8(&mut buf)) => {
                let cp = u32::from(c);
                if cp < 0x20 || cp == 0x7f {
                    out.push_str(&format!("\\x{cp:02x}"));
                } else if cp < 0x10000 {
                    out.push_str(&format!("\\u{cp:04x}"));
                } else {
                    out.push_str(&format!("\\U{cp:08x}"));
                }
            }
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Rewrites an RE2 (Go) pattern into the `regex` crate's dialect with the
/// same meaning, where the two differ on patterns RE2 accepts:
///
/// - `\d`, `\w`, `\s`, `\b`, `\B` are ASCII-only in Go, Unicode in Rust;
/// - `\<` and `\>` are literal characters in Go, word boundaries in Rust;
/// - `\Q...\E` quotes literally in Go, unknown to Rust;
/// - `\0`, `\012`, `\101` are octal escapes in Go;
/// - `{` not starting a valid `{n}`, `{n,}`, `{n,m}` is a literal in Go
///   (and a count above 1000 an error), an error in Rust;
/// - inside a class, `[`, `&&` and `~~` are literals in Go, nesting and
///   set operations in Rust.
///
/// Other syntax is passed through; a pattern Go rejects is still rejected
/// by `regex` in almost every case.
fn translate_go_regex(src: &str) -> Result<String, String> {
    const DIGIT: &str = "0-9";
    const WORD: &str = "0-9A-Za-z_";
    const SPACE: &str = r"\t\n\f\r ";

    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len() + 16);
    let mut i = 0;
    // Inside `[...]`; `class_first` is set where a `]` is still a literal.
    let mut in_class = false;
    let mut class_first = false;
    while i < chars.len() {
        let c = chars[i];
        if in_class {
            let first = std::mem::replace(&mut class_first, false);
            match c {
                ']' if first => out.push_str(r"\]"),
                ']' => {
                    in_class = false;
                    out.push(']');
                }
                '[' if chars.get(i + 1) == Some(&':') => {
                    // A POSIX class `[:name:]`, the same in both dialects;
                    // without a closing `:]` the `[` is a literal.
                    match find(&chars, i + 2, &[':', ']']) {
                        Some(end) => {
                            out.extend(&chars[i..end + 2]);
                            i = end + 2;
                            continue;
                        }
                        None => out.push_str(r"\["),
                    }
                }
                '[' | '&' | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                '\\' => {
                    i = translate_escape(&chars, i, true, &mut out)?;
                    continue;
                }
                _ => out.push(c),
            }
            i += 1;
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                class_first = true;
                out.push('[');
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
            }
            '{' => match go_repeat(&chars[i..]) {
                Some((len, min, max)) => {
                    if min > 1000 || max.is_some_and(|m| m > 1000 || m < min) {
                        let text: String = chars[i..i + len].iter().collect();
                        return Err(format!("invalid repeat count: `{text}`"));
                    }
                    out.extend(&chars[i..i + len]);
                    i += len;
                    continue;
                }
                None => out.push_str(r"\{"),
            },
            '}' => out.push_str(r"\}"),
            '\\' => {
                i = translate_escape(&chars, i, false, &mut out)?;
                continue;
            }
            _ => out.push(c),
        }
        i += 1;
    }

    /// Translates the escape at `chars[at]` (a backslash) and returns the
    /// index after it.
    fn translate_escape(
        chars: &[char],
        at: usize,
        in_class: bool,
        out: &mut String,
    ) -> Result<usize, String> {
        let Some(&e) = chars.get(at + 1) else {
            return Err("trailing backslash at end of expression: ``".to_owned());
        };
        let next = at + 2;
        let class = |set: &str, negated: bool| match (in_class, negated) {
            (true, false) => set.to_owned(),
            (_, true) => format!("[^{set}]"),
            (false, false) => format!("[{set}]"),
        };
        match e {
            'd' | 'D' => out.push_str(&class(DIGIT, e == 'D')),
            'w' | 'W' => out.push_str(&class(WORD, e == 'W')),
            's' | 'S' => out.push_str(&class(SPACE, e == 'S')),
            'b' if !in_class => out.push_str(r"(?-u:\b)"),
            'B' if !in_class => out.push_str(r"(?-u:\B)"),
            '<' | '>' => out.push(e),
            'Q' if !in_class => {
                let end = find(chars, next, &['\\', 'E']).unwrap_or(chars.len());
                let literal: String = chars[next..end].iter().collect();
                out.push_str(&regex::escape(&literal));
                return Ok((end + 2).min(chars.len()));
            }
            '0'..='7' => {
                // Go: `\0` plus up to two octal digits, or `\1`-`\7` when an
                // octal digit follows (a lone `\1` is a backreference, which
                // neither dialect supports, so it is passed on to fail).
                let is_octal = |k: usize| chars.get(k).is_some_and(|d| ('0'..='7').contains(d));
                if e != '0' && !is_octal(next) {
                    out.push('\\');
                    out.push(e);
                    return Ok(next);
                }
                let mut value = e.to_digit(8).expect("octal digit");
                let mut end = next;
                while end < next + 2 && is_octal(end) {
                    value = value * 8 + chars[end].to_digit(8).expect("octal digit");
                    end += 1;
                }
                out.push_str(&format!("\\x{{{value:x}}}"));
                return Ok(end);
            }
            'p' | 'P' | 'x' if chars.get(next) == Some(&'{') => {
                // `\p{Greek}`, `\x{263a}`: the braces are not a repetition.
                let end = find(chars, next, &['}']).map_or(chars.len(), |k| k + 1);
                out.extend(&chars[at..end]);
                return Ok(end);
            }
            _ => {
                out.push('\\');
                out.push(e);
            }
        }
        Ok(next)
    }

    Ok(out)
}

/// The index of the first occurrence of `needle` in `chars` at or after
/// `from`.
fn find(chars: &[char], from: usize, needle: &[char]) -> Option<usize> {
    chars
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|k| from + k)
}

/// Go's `parseRepeat`: when `chars` starts with `{n}`, `{n,}` or `{n,m}`
/// (no leading zeros), its length, minimum and maximum (`None` when
/// unbounded).
fn go_repeat(chars: &[char]) -> Option<(usize, u64, Option<u64>)> {
    fn int(chars: &[char], at: usize) -> Option<(u64, usize)> {
        let digits = chars[at..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 || (digits > 1 && chars[at] == '0') {
            return None;
        }
        // Go gives up on counts of eight digits or more; anything that
        // long is over the limit of 1000 either way.
        let value = chars[at..at + digits].iter().fold(0u64, |v, c| {
            v.saturating_mul(10)
                .saturating_add(u64::from(*c as u8 - b'0'))
        });
        Some((value, at + digits))
    }
    let (min, mut at) = int(chars, 1)?;
    let max = match chars.get(at)? {
        ',' => {
            at += 1;
            if *chars.get(at)? == '}' {
                None
            } else {
                let (max, end) = int(chars, at)?;
                at = end;
                Some(max)
            }
        }
        _ => Some(min),
    };
    (*chars.get(at)? == '}').then_some((at + 1, min, max))
}
