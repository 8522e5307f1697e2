//! Label matchers as Alertmanager 0.34 reads and prints them
//! (`pkg/labels/matcher.go`): `name op value` with `=`, `!=`, `=~`, `!~`,
//! regular expressions anchored as `^(?:value)$`, sorted by name, value,
//! then type; printed with Alertmanager's quoting rules.
//!
//! Parsing is in [`crate::matcher_parse`] (the UTF-8 parser, the classic
//! parser and the fallback mode between them).

use std::fmt;

use regex::Regex;

/// The largest compiled form of a matcher's regular expression, so a
/// hostile expression (`(a{1000}){1000}`) is refused instead of filling
/// memory; matching itself is linear-time in the `regex` crate.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A matcher's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MatchType {
    Equal,
    NotEqual,
    Regexp,
    NotRegexp,
}

impl MatchType {
    /// `=`, `!=`, `=~` or `!~`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::Regexp => "=~",
            MatchType::NotRegexp => "!~",
        }
    }
}

impl MatchType {
    /// The operator of API v2's `{isRegex, isEqual}` (`isEqual` defaults
    /// to true there).
    pub fn from_flags(is_regex: bool, is_equal: bool) -> MatchType {
        match (is_regex, is_equal) {
            (false, true) => MatchType::Equal,
            (false, false) => MatchType::NotEqual,
            (true, true) => MatchType::Regexp,
            (true, false) => MatchType::NotRegexp,
        }
    }

    /// API v2's `(isRegex, isEqual)` of the operator.
    pub fn flags(self) -> (bool, bool) {
        (
            matches!(self, MatchType::Regexp | MatchType::NotRegexp),
            matches!(self, MatchType::Regexp | MatchType::Equal),
        )
    }
}

impl fmt::Display for MatchType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One label matcher.
#[derive(Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchType,
    pub value: String,
    regex: Option<Regex>,
}

impl Matcher {
    /// A matcher; a regular expression is compiled anchored
    /// (`^(?:value)$`) and its error is Go's `error parsing regexp: …`.
    pub fn new(
        op: MatchType,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, String> {
        let value = value.into();
        let regex = match op {
            MatchType::Regexp | MatchType::NotRegexp => Some(compile_anchored(&value)?),
            MatchType::Equal | MatchType::NotEqual => None,
        };
        Ok(Matcher {
            name: name.into(),
            op,
            value,
            regex,
        })
    }

    /// Whether `value` (a label's value, empty when the label is missing)
    /// satisfies the matcher.
    pub fn matches(&self, value: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchType::Equal, _) => value == self.value,
            (MatchType::NotEqual, _) => value != self.value,
            (MatchType::Regexp, Some(re)) => re.is_match(value),
            (MatchType::NotRegexp, Some(re)) => !re.is_match(value),
            // Regex matchers are only built with their expression.
            (MatchType::Regexp | MatchType::NotRegexp, None) => false,
        }
    }

    /// Whether the label set satisfies the matcher (a missing label is
    /// the empty value).
    pub fn matches_labels<'a>(&self, labels: impl LabelSet<'a>) -> bool {
        self.matches(labels.get(&self.name).unwrap_or(""))
    }
}

/// Compiles `^(?:source)$` with a size limit; errors in Go's words
/// (`error parsing regexp: missing closing ): `^(?:()$``) where the
/// `regex` crate's reason has a Go equivalent.
pub(crate) fn compile_anchored(source: &str) -> Result<Regex, String> {
    let anchored = format!("^(?:{source})$");
    regex::RegexBuilder::new(&anchored)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            let report = e.to_string();
            let reason = report
                .lines()
                .rev()
                .find_map(|line| line.strip_prefix("error: "))
                .unwrap_or(report.as_str());
            let go = match reason {
                "unclosed group" => "missing closing )",
                "unopened group" => "unexpected )",
                "unclosed character class" => "missing closing ]",
                "repetition operator missing expression" => {
                    "missing argument to repetition operator"
                }
                r if r.starts_with("invalid escape sequence")
                    || r.starts_with("unrecognized escape sequence") =>
                {
                    "invalid escape sequence"
                }
                other => other,
            };
            format!("error parsing regexp: {go}: `{anchored}`")
        })
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Eq for Matcher {}

impl PartialOrd for Matcher {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Matcher {
    /// Alertmanager's order: name, then value, then type.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name
            .cmp(&other.name)
            .then_with(|| self.value.cmp(&other.value))
            .then_with(|| self.op.cmp(&other.op))
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Matcher({self})")
    }
}

impl fmt::Display for Matcher {
    /// A name with a character the classic parser reserves is quoted Go's
    /// way (`strconv.Quote`) with the value; otherwise the name is bare
    /// and the value quoted with OpenMetrics escaping.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.chars().any(is_reserved) {
            let name = wasmetheus_model::go::quote(&self.name);
            let value = wasmetheus_model::go::quote(&self.value);
            write!(f, "{name}{}{value}", self.op)
        } else {
            let mut value = String::with_capacity(self.value.len());
            for c in self.value.chars() {
                match c {
                    '\\' => value.push_str("\\\\"),
                    '\n' => value.push_str("\\n"),
                    '"' => value.push_str("\\\""),
                    c => value.push(c),
                }
            }
            write!(f, "{}{}\"{value}\"", self.name, self.op)
        }
    }
}

impl serde::Serialize for Matcher {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// The characters the UTF-8 parser does not allow unquoted.
pub(crate) fn is_reserved(c: char) -> bool {
    c.is_whitespace() || "{}!=~,\\\"'`".contains(c)
}

/// A sorted list of matchers that all must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matchers(pub Vec<Matcher>);

impl Matchers {
    /// Whether every matcher holds for the label set.
    pub fn matches<'a>(&self, labels: impl LabelSet<'a> + Copy) -> bool {
        self.0.iter().all(|m| m.matches_labels(labels))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Matcher> {
        self.0.iter()
    }

    /// Sorts in Alertmanager's order.
    pub fn sort(&mut self) {
        self.0.sort();
    }
}

impl fmt::Display for Matchers {
    /// `{a="b",c=~"d"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{m}")?;
        }
        f.write_str("}")
    }
}

impl serde::Serialize for Matchers {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|m| m.to_string()))
    }
}

/// A label set to match against: anything that can look a label up by
/// name.
pub trait LabelSet<'a> {
    fn get(self, name: &str) -> Option<&'a str>;
}

impl<'a> LabelSet<'a> for &'a std::collections::BTreeMap<String, String> {
    fn get(self, name: &str) -> Option<&'a str> {
        std::collections::BTreeMap::get(self, name).map(String::as_str)
    }
}

impl<'a> LabelSet<'a> for &'a std::collections::HashMap<String, String> {
    fn get(self, name: &str) -> Option<&'a str> {
        std::collections::HashMap::get(self, name).map(String::as_str)
    }
}

impl<'a> LabelSet<'a> for &'a [(String, String)] {
    fn get(self, name: &str) -> Option<&'a str> {
        self.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_as_alertmanager() {
        let cases = [
            (MatchType::Equal, "foo", "bar", r#"foo="bar""#),
            (
                MatchType::NotRegexp,
                "foo",
                "a\"b\\\n",
                r#"foo!~"a\"b\\\n""#,
            ),
            (MatchType::Equal, "foo bar", "baz", r#""foo bar"="baz""#),
            (MatchType::NotEqual, "a=b", "ü\t", "\"a=b\"!=\"ü\\t\""),
            (MatchType::Regexp, "🙂", "x", r#"🙂=~"x""#),
        ];
        for (op, name, value, want) in cases {
            assert_eq!(Matcher::new(op, name, value).unwrap().to_string(), want);
        }
    }

    #[test]
    fn regexes_are_anchored_and_missing_labels_are_empty() {
        let m = Matcher::new(MatchType::Regexp, "a", "b|c").unwrap();
        assert!(m.matches("b") && m.matches("c") && !m.matches("bc") && !m.matches("xb"));
        let labels = std::collections::BTreeMap::new();
        let empty = Matcher::new(MatchType::Equal, "a", "").unwrap();
        assert!(empty.matches_labels(&labels));
        let not = Matcher::new(MatchType::NotRegexp, "a", ".+").unwrap();
        assert!(not.matches_labels(&labels));
    }

    #[test]
    fn regex_bombs_are_refused_or_linear() {
        let err = Matcher::new(MatchType::Regexp, "a", "((a{100}){100}){100}").unwrap_err();
        assert!(err.starts_with("error parsing regexp: "), "{err}");
        let m = Matcher::new(MatchType::Regexp, "a", "(a*)*b").unwrap();
        let start = std::time::Instant::now();
        assert!(!m.matches(&"a".repeat(100_000)));
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn api_flags_round_trip() {
        for op in [
            MatchType::Equal,
            MatchType::NotEqual,
            MatchType::Regexp,
            MatchType::NotRegexp,
        ] {
            let (is_regex, is_equal) = op.flags();
            assert_eq!(MatchType::from_flags(is_regex, is_equal), op);
        }
        assert_eq!(MatchType::NotRegexp.flags(), (true, false));
    }

    #[test]
    fn sorted_by_name_value_type() {
        let mut ms = Matchers(vec![
            Matcher::new(MatchType::NotEqual, "b", "1").unwrap(),
            Matcher::new(MatchType::Equal, "b", "1").unwrap(),
            Matcher::new(MatchType::Equal, "a", "2").unwrap(),
            Matcher::new(MatchType::Equal, "b", "0").unwrap(),
        ]);
        ms.sort();
        assert_eq!(ms.to_string(), r#"{a="2",b="0",b="1",b!="1"}"#);
    }
}
