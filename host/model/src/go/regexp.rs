//! Go's `regexp` replacement templates (`Regexp.Expand`, what
//! `ReplaceAllString` and relabeling's `replacement` use): `$1`, `${1}`,
//! `$name`, `${name}`, `$$`. Parsed once into pieces; each caller applies
//! them to its own matches (relabeling builds the result, templates bound
//! its size first).

use std::sync::LazyLock;

/// One piece of a replacement template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpandPiece<'t> {
    /// Text as it is (`$$` gives a `$`, a malformed reference its `$`).
    Text(&'t str),
    /// A group by number (`$1`, `${1}`): nine digits at most, no leading
    /// zero; a group that did not match, or does not exist, expands to
    /// nothing.
    Index(usize),
    /// A group by name (`$name`, `${name}`, and numbers Go does not read as
    /// one, such as `$01` or `$1x`); an unknown name expands to nothing.
    Name(&'t str),
}

/// Go's `unicode.IsLetter || unicode.IsDigit || '_'`, as a prefix matcher.
static NAME_PREFIX: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"^[\p{L}\p{Nd}_]*").expect("a constant pattern"));

/// Go's `Regexp.Expand` template syntax: `$$` is a `$`; `$name` takes the
/// longest run of letters, digits and underscores (so `$1x` names group
/// "1x"); `${name}` delimits it; a malformed reference (`$`, `$!`, `${x`)
/// leaves the `$` as text.
pub fn parse_expand_template(template: &str) -> Vec<ExpandPiece<'_>> {
    expand_pieces(template).collect()
}

/// [`parse_expand_template`] as an iterator, for callers that go through
/// the pieces once (relabeling, per series) and need no vector.
pub fn expand_pieces(template: &str) -> impl Iterator<Item = ExpandPiece<'_>> {
    let mut rest = template;
    // A reference found after some text, given out on the next call.
    let mut pending: Option<ExpandPiece<'_>> = None;
    std::iter::from_fn(move || {
        if let Some(piece) = pending.take() {
            return Some(piece);
        }
        if rest.is_empty() {
            return None;
        }
        let Some(dollar) = rest.find('$') else {
            let text = rest;
            rest = "";
            return Some(ExpandPiece::Text(text));
        };
        let text = &rest[..dollar];
        let after_dollar = &rest[dollar + 1..];
        let piece = if let Some(after) = after_dollar.strip_prefix('$') {
            rest = after;
            ExpandPiece::Text("$")
        } else if let Some((name, after)) = extract(after_dollar) {
            rest = after;
            match group_number(name) {
                Some(index) => ExpandPiece::Index(index),
                None => ExpandPiece::Name(name),
            }
        } else {
            rest = after_dollar;
            ExpandPiece::Text("$")
        };
        if text.is_empty() {
            Some(piece)
        } else {
            pending = Some(piece);
            Some(ExpandPiece::Text(text))
        }
    })
}

/// Go's `extract`: the reference name after a `$` and the text after it.
fn extract(s: &str) -> Option<(&str, &str)> {
    let (braced, body) = match s.strip_prefix('{') {
        Some(body) => (true, body),
        None => (false, s),
    };
    let len = NAME_PREFIX.find(body).map_or(0, |m| m.end());
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
/// same overflow cut-off (nine digits).
fn group_number(name: &str) -> Option<usize> {
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

#[cfg(test)]
mod tests {
    use super::ExpandPiece::{Index, Name, Text};
    use super::*;

    /// The reference forms of Go's `regexp` expand tests (`$1`, `${1}x`,
    /// `$1x`, `$$`, malformed references, leading zeros, Unicode names).
    #[test]
    fn templates_parse_as_go_expand() {
        for (template, want) in [
            ("", vec![]),
            ("abc", vec![Text("abc")]),
            ("$1", vec![Index(1)]),
            ("a$1b", vec![Text("a"), Name("1b")]),
            ("${1}x", vec![Index(1), Text("x")]),
            ("$1x", vec![Name("1x")]),
            ("$$1", vec![Text("$"), Text("1")]),
            ("$", vec![Text("$")]),
            ("$!", vec![Text("$"), Text("!")]),
            ("${1", vec![Text("$"), Text("{1")]),
            ("${}", vec![Text("$"), Text("{}")]),
            ("$01", vec![Name("01")]),
            ("$0", vec![Index(0)]),
            ("$123456789", vec![Index(123_456_789)]),
            ("$1234567890", vec![Name("1234567890")]),
            (
                "${name}-$other",
                vec![Name("name"), Text("-"), Name("other")],
            ),
            ("$ünï_1 x", vec![Name("ünï_1"), Text(" x")]),
            // Go's IsDigit is Nd only: `²` ends a name.
            ("$a²", vec![Name("a"), Text("²")]),
        ] {
            assert_eq!(parse_expand_template(template), want, "{template:?}");
        }
    }
}
