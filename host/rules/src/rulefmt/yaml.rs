//! The YAML shapes of a rule file as `rulefmt` declares them (`RuleGroups`,
//! `RuleGroup`, `Rule`), with the positions validation reports, and the
//! YAML library's errors in Go's words.
//!
//! Go's YAML reads a key with an empty value or `null` as the field's zero
//! value: every field is an `Option` here and `None` is that zero value.
//! Only the first document of a multi-document file is read, as Go's
//! decoder reads one.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_saphyr::Spanned;
use wasmetheus_config::PromDuration;

/// `rulefmt.RuleGroups`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct RuleFileYaml {
    #[serde(default)]
    pub groups: Option<Vec<Spanned<GroupYaml>>>,
}

/// `rulefmt.RuleGroup`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct GroupYaml {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub interval: Option<PromDuration>,
    #[serde(default)]
    pub query_offset: Option<PromDuration>,
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub rules: Option<Vec<RuleYaml>>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, Option<String>>>,
}

/// `rulefmt.Rule` (`RuleNode` for the positions of `record`, `alert` and
/// `expr`).
#[derive(Debug, Default, Deserialize)]
pub(super) struct RuleYaml {
    #[serde(default)]
    pub record: Option<Spanned<Option<String>>>,
    #[serde(default)]
    pub alert: Option<Spanned<Option<String>>>,
    #[serde(default)]
    pub expr: Option<Spanned<Option<String>>>,
    #[serde(default, rename = "for")]
    pub for_: Option<PromDuration>,
    #[serde(default)]
    pub keep_firing_for: Option<PromDuration>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, Option<String>>>,
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, Option<String>>>,
}

/// The unknown fields of a rule file, checked before it is read unless
/// unknown fields are to be ignored (Go's `KnownFields(true)`): every one,
/// in file order, as Go's decoder reports them all.
#[derive(Debug, Default)]
pub(super) struct KnownFields {
    /// `line:col: field X not found in type rulefmt.T`, one per field.
    pub unknown: Vec<String>,
}

/// The level of a mapping in a rule file.
#[derive(Debug, Clone, Copy)]
enum Level {
    File,
    Group,
    Rule,
}

impl Level {
    fn go_type(self) -> &'static str {
        match self {
            Level::File => "rulefmt.RuleGroups",
            Level::Group => "rulefmt.RuleGroup",
            Level::Rule => "rulefmt.Rule",
        }
    }

    fn known(self) -> &'static [&'static str] {
        match self {
            Level::File => &["groups"],
            Level::Group => &[
                "name",
                "interval",
                "query_offset",
                "limit",
                "rules",
                "labels",
            ],
            Level::Rule => &[
                "record",
                "alert",
                "expr",
                "for",
                "keep_firing_for",
                "labels",
                "annotations",
            ],
        }
    }

    /// The level of the list under `key`, if it holds mappings to check.
    fn child(self, key: &str) -> Option<Level> {
        match (self, key) {
            (Level::File, "groups") => Some(Level::Group),
            (Level::Group, "rules") => Some(Level::Rule),
            _ => None,
        }
    }
}

/// One mapping of a level, with the unknown fields found in it and below.
struct Fields<const LEVEL: u8>(Vec<String>);

const fn level(n: u8) -> Level {
    match n {
        0 => Level::File,
        1 => Level::Group,
        _ => Level::Rule,
    }
}

impl<'de, const LEVEL: u8> Deserialize<'de> for Fields<LEVEL> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<const LEVEL: u8>;
        impl<'de, const LEVEL: u8> serde::de::Visitor<'de> for Visitor<LEVEL> {
            type Value = Fields<LEVEL>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", level(LEVEL).go_type())
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(Fields(Vec::new()))
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(Fields(Vec::new()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let this = level(LEVEL);
                let mut unknown = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let name = key.value.as_str();
                    if !this.known().contains(&name) {
                        unknown.push(format!(
                            "{}:{}: field {name} not found in type {}",
                            key.referenced.line(),
                            key.referenced.column(),
                            this.go_type()
                        ));
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    }
                    let below = match this.child(name) {
                        Some(Level::Group) => map
                            .next_value::<Option<Vec<Fields<1>>>>()?
                            .unwrap_or_default()
                            .into_iter()
                            .flat_map(|f| f.0)
                            .collect(),
                        Some(_) => map
                            .next_value::<Option<Vec<Fields<2>>>>()?
                            .unwrap_or_default()
                            .into_iter()
                            .flat_map(|f| f.0)
                            .collect(),
                        None => {
                            map.next_value::<IgnoredAny>()?;
                            Vec::new()
                        }
                    };
                    unknown.extend(below);
                }
                Ok(Fields(unknown))
            }
        }
        d.deserialize_map(Visitor::<LEVEL>)
    }
}

impl<'de> Deserialize<'de> for KnownFields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(KnownFields {
            unknown: Fields::<0>::deserialize(d)?.0,
        })
    }
}

/// The first YAML document of `text`: Go's decoder reads one document and
/// never looks at the rest.
pub(super) fn first_document(text: &str) -> &str {
    // The second document starts at the first `---` or `...` marker line
    // (at the start of a line, so never inside a block scalar) after some
    // content; cut there, whatever follows.
    let mut offset = 0;
    let mut seen_content = false;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        let marker = |m: &str| bare == m || bare.starts_with(&format!("{m} "));
        if (marker("---") || marker("...")) && seen_content {
            return &text[..offset];
        }
        let content = bare.trim_start();
        if !content.is_empty() && !content.starts_with('#') && !marker("---") {
            seen_content = true;
        }
        offset += line.len();
    }
    text
}

/// Reads `text` (one document) as `T`, or the YAML error as
/// `line:col: message`.
pub(super) fn read<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, String> {
    serde_saphyr::from_str::<T>(text).map_err(|e| {
        let mut message = message(&e);
        let Some(l) = e.location() else {
            return message;
        };
        if let Some(key) = message
            .strip_prefix("duplicate mapping key: ")
            .and_then(|rest| rest.split(", set DuplicateKeyPolicy").next())
        {
            message = repeated_key(text, key, l.line(), l.column());
        }
        format!("{}:{}: {message}", l.line(), l.column())
    })
}

/// Go's text for a key repeated in a mapping: `mapping key "k" already
/// defined at line N`, N the nearest earlier line with the key at the same
/// column (after any `- ` of a sequence entry).
fn repeated_key(text: &str, key: &str, line: u64, column: u64) -> String {
    let column = usize::try_from(column.saturating_sub(1)).unwrap_or(usize::MAX);
    let first = text
        .lines()
        .enumerate()
        .take(usize::try_from(line.saturating_sub(1)).unwrap_or(0))
        .filter(|(_, l)| {
            l.get(..column)
                .is_some_and(|prefix| prefix.chars().all(|c| c == ' ' || c == '-'))
                && l.get(column..).is_some_and(|rest| {
                    rest.strip_prefix(key)
                        .is_some_and(|after| after.trim_start().starts_with(':'))
                })
        })
        .map(|(i, _)| i + 1)
        .last();
    match first {
        Some(n) => format!("mapping key {key:?} already defined at line {n}"),
        None => format!("mapping key {key:?} already defined"),
    }
}

/// A YAML error in a rule file: our parser's message, its first line
/// without the position (given separately); an unknown field in Go's words
/// (`field X not found in type rulefmt.T`).
fn message(error: &serde_saphyr::Error) -> String {
    let rendered = error.to_string();
    let first = rendered.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let message = match first
        .strip_prefix("line ")
        .and_then(|rest| rest.split_once(": "))
    {
        Some((_, message)) => message,
        None => first,
    };
    let Some((field, expected)) = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'))
    else {
        return message.to_owned();
    };
    // The struct is known by the fields it expects.
    let go_type = if expected.contains("keep_firing_for") {
        "rulefmt.Rule"
    } else if expected.contains("query_offset") {
        "rulefmt.RuleGroup"
    } else {
        "rulefmt.RuleGroups"
    };
    format!("field {field} not found in type {go_type}")
}

/// Where Go's YAML places a scalar that our parser places at `line:col`:
/// a block scalar (`|`, `>-`, …) at its indicator, which ends an earlier
/// line; any other scalar where it starts.
/// `lines` are the file's lines.
pub(super) fn go_position(lines: &[&str], line: u64, column: u64) -> (u64, u64) {
    let Some(index) = usize::try_from(line).ok().and_then(|l| l.checked_sub(1)) else {
        return (line, column);
    };
    let Some(current) = lines.get(index) else {
        return (line, column);
    };
    let before: String = current
        .chars()
        .take(usize::try_from(column.saturating_sub(1)).unwrap_or(0))
        .collect();
    if !before.trim().is_empty() {
        return (line, column);
    }
    let Some((at, previous)) = lines[..index]
        .iter()
        .enumerate()
        .rev()
        .find(|(_, l)| !l.trim().is_empty())
    else {
        return (line, column);
    };
    // The line without a trailing comment.
    let content = match previous.find(" #") {
        Some(i) => &previous[..i],
        None => previous,
    }
    .trim_end();
    let token_start = content
        .rfind(|c: char| c.is_whitespace() || c == ':')
        .map_or(0, |i| i + 1);
    let token = &content[token_start..];
    let is_indicator = token.starts_with(['|', '>'])
        && token[1..]
            .chars()
            .all(|c| c == '-' || c == '+' || c.is_ascii_digit());
    if !is_indicator {
        return (line, column);
    }
    let col = content[..token_start].chars().count() as u64 + 1;
    (at as u64 + 1, col)
}
