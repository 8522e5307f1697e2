//! A rule's regular expression ([`RelabelRegex`]): RE2 (Go) syntax
//! translated into the `regex` crate's dialect with the same meaning, then
//! compiled fully anchored as Prometheus does.

use std::fmt;

use regex::Regex;
use serde::{Deserialize, Deserializer};

/// The default `regex` of a rule.
pub(crate) const DEFAULT_REGEX: &str = "(.*)";

/// A rule's regular expression: compiled fully anchored (and with `.`
/// matching newlines, as Prometheus 3 does), displayed as written.
#[derive(Clone)]
pub struct RelabelRegex {
    source: String,
    /// The anchored, translated expression that rules run.
    pub(crate) compiled: Regex,
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
