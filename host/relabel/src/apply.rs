//! Applying rules to a label set ([`relabel`]): each action on a copy of
//! Prometheus' `labels.Builder`, with `$1`/`${name}` templates expanded like
//! Go's `Regexp.Expand` and `labelmap` replacing like
//! `Regexp.ReplaceAllString`.

use std::borrow::Cow;

use md5::{Digest, Md5};
use regex::{Captures, Regex};
use wasmetheus_model::Label;
use wasmetheus_model::go::{ExpandPiece, expand_pieces};

use crate::config::{Action, RelabelConfig};
use crate::go_strings::{go_to_lower, go_to_upper};

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

impl RelabelConfig {
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

/// Go's `Regexp.Expand` of `template` (its syntax read by
/// `wasmetheus_model::go::expand_pieces`) with the groups of one
/// match.
fn go_expand(template: &str, caps: &Captures<'_>, out: &mut String) {
    for piece in expand_pieces(template) {
        let group = match piece {
            ExpandPiece::Text(text) => {
                out.push_str(text);
                continue;
            }
            ExpandPiece::Index(index) => caps.get(index),
            ExpandPiece::Name(name) => caps.name(name),
        };
        if let Some(m) = group {
            out.push_str(m.as_str());
        }
    }
}
