//! Go's string functions whose results differ from Rust's own:
//! `strings.ToLower`/`ToUpper` (simple case mapping) and `%q` quoting, so
//! that relabeled values and error messages match Prometheus'.

/// Go's `strings.ToLower`: the simple (one character) mapping. Rust's own
/// full mapping differs for `İ` (two characters) and a final `Σ`.
pub(crate) fn go_to_lower(s: &str) -> String {
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
pub(crate) fn go_to_upper(s: &str) -> String {
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

/// Go's `%q` of a string (`strconv.Quote`, the one copy in
/// `wasmetheus_model::go`), for error messages that quote names.
pub(crate) use wasmetheus_model::go::quote as go_quote;
