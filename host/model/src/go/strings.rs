//! Go's `strings.ToLower` and `strings.ToUpper`: Unicode's simple (one
//! character to one character) case mapping, where Rust's `to_lowercase`
//! and `to_uppercase` use the full one (`ß` → `SS`, `İ` → `i̇`, a final
//! `Σ` → `ς`).

/// Go's `strings.ToLower`: the simple mapping. Rust's full mapping differs
/// for `İ` (two characters; Go gives a plain `i`) and a final `Σ` (`σ` in
/// Go, not `ς`).
pub fn to_lower(s: &str) -> String {
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
/// corresponding titlecase letter (`ᾳ` → `ᾼ`).
pub fn to_upper(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut upper = c.to_uppercase();
            match (upper.next(), upper.next()) {
                (Some(u), None) => u,
                _ => simple_upper_special(c),
            }
        })
        .collect()
}

/// The simple upper case of the characters whose full one is several.
fn simple_upper_special(c: char) -> char {
    let mapped = match u32::from(c) {
        cp @ (0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7) => cp + 8,
        0x1FB3 => 0x1FBC,
        0x1FC3 => 0x1FCC,
        0x1FF3 => 0x1FFC,
        _ => return c,
    };
    char::from_u32(mapped).unwrap_or(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Go's `strings.ToLower`/`ToUpper` return (its
    /// `strings_test.go` lowerTests/upperTests and the special cases).
    #[test]
    fn cases_map_as_go() {
        for (s, lower, upper) in [
            ("", "", ""),
            ("abc", "abc", "ABC"),
            ("AbC123", "abc123", "ABC123"),
            ("azAZ09_", "azaz09_", "AZAZ09_"),
            (
                "longStrinGwitHmixofsmaLLandcAps",
                "longstringwithmixofsmallandcaps",
                "LONGSTRINGWITHMIXOFSMALLANDCAPS",
            ),
            ("ɐɐɐɐɐ", "ɐɐɐɐɐ", "ⱯⱯⱯⱯⱯ"),
            ("ⱭⱭⱭⱭⱭ", "ɑɑɑɑɑ", "ⱭⱭⱭⱭⱭ"),
            ("straße", "straße", "STRAßE"),
            ("İX", "ix", "İX"),
            ("ΣΑΣ", "σασ", "ΣΑΣ"),
            ("ᾳ ᾀ ῳ", "ᾳ ᾀ ῳ", "ᾼ ᾈ ῼ"),
            ("ŉ", "ŉ", "ŉ"),
        ] {
            assert_eq!(to_lower(s), lower, "{s}");
            assert_eq!(to_upper(s), upper, "{s}");
        }
    }
}
