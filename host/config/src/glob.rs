//! Go's `path/filepath` globbing, as Prometheus uses it for `rule_files`,
//! `scrape_config_files` and `file_sd_configs`: [`matches`] is
//! `filepath.Match`, [`glob`] is `filepath.Glob` (Unix separators); the
//! cleaning of paths is `wasmetheus_model::go::clean_path`. `check config`, the configuration loader and file
//! discovery all call these, so a pattern finds the same files in each.
//!
//! Written here rather than taken from the `glob` or `globset` crates:
//! both differ from Go in ways a configuration notices. `glob` treats `**`
//! as recursive, reads `[!…]` as negation and `[]…]` as a class holding `]`
//! (Go: `[^…]`, and `[]` is a bad pattern), and does not report a trailing
//! `\`; `globset` adds `{a,b}` alternation and `**` and lets `*` cross `/`
//! unless told otherwise. Go's bad patterns (`ErrBadPattern`, "syntax error
//! in pattern") must be the same ones, or a configuration Prometheus rejects
//! would load here.
//!
//! Matching follows Go's algorithm: the pattern is cut into chunks, each a
//! run of `*` followed by fixed-width text; each chunk is placed at the
//! first position it matches. The chunks having fixed widths, the earliest
//! place is always the best one, so there is no backtracking and a pattern
//! of a thousand stars costs no more than one.

use std::path::{Path, PathBuf};
use wasmetheus_model::go::clean_path;

/// Go's `filepath.ErrBadPattern`: the pattern is malformed (an unclosed or
/// empty `[...]` class, an unescaped `-` or `]` inside one, or a trailing
/// `\`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("syntax error in pattern")]
pub struct BadPattern;

/// Go's `filepath.Glob` gives up after this many nested directory levels
/// holding wildcards (its `pathSeparatorsLimit`).
const DIRECTORY_LEVELS_LIMIT: usize = 10_000;

/// Whether `path` holds any of Go's glob metacharacters (`*`, `?`, `[`,
/// `\`).
pub fn has_meta(path: &str) -> bool {
    path.contains(['*', '?', '[', '\\'])
}

/// Checks that `pattern` is well formed, as Go's `filepath.Match` does for
/// any name.
pub fn validate(pattern: &str) -> Result<(), BadPattern> {
    matches(pattern, "").map(|_| ())
}

/// Go's `filepath.Match`: whether `name` as a whole matches `pattern`. `*`
/// matches any run of characters but `/`, `?` any one character but `/`,
/// `[abc]`, `[a-z]` and `[^a-z]` a character in (not in) the class, `\x`
/// the character `x`. A malformed pattern is an error whether or not the
/// name matches.
pub fn matches(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let mut pattern = pattern.as_bytes();
    let mut name = name.as_bytes();
    'chunks: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing `*` matches the rest unless it holds a `/`.
            return Ok(!name.contains(&b'/'));
        }
        // The chunk at the current position.
        let (left, ok) = match_chunk(chunk, name)?;
        // The last chunk must use up the name.
        if ok && (left.is_empty() || !pattern.is_empty()) {
            name = left;
            continue;
        }
        if star {
            // The chunk after skipping 1, 2, … characters, never a `/`.
            let mut skip = 0;
            while skip < name.len() && name[skip] != b'/' {
                let (left, ok) = match_chunk(chunk, &name[skip + 1..])?;
                if ok && (left.is_empty() || !pattern.is_empty()) {
                    name = left;
                    continue 'chunks;
                }
                skip += 1;
            }
        }
        // No match: the rest of the pattern must still be well formed.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Go's `scanChunk`: leading stars, then the text up to the next `*` that
/// is outside a class.
fn scan_chunk(pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let start = pattern.iter().take_while(|&&c| c == b'*').count();
    let pattern = &pattern[start..];
    let mut in_class = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            // The escaped character is skipped; a trailing `\` is reported
            // by `match_chunk`.
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_class = true,
            b']' => in_class = false,
            b'*' if !in_class => break,
            _ => {}
        }
        i += 1;
    }
    (start > 0, &pattern[..i], &pattern[i..])
}

/// Go's `matchChunk`: whether `chunk` (no `*` outside classes) matches a
/// prefix of `name`, and what is left of the name. After a mismatch the
/// chunk is still read to the end, so a malformed one is always reported.
fn match_chunk<'n>(mut chunk: &[u8], mut name: &'n [u8]) -> Result<(&'n [u8], bool), BadPattern> {
    let mut failed = false;
    while let Some(&first) = chunk.first() {
        if !failed && name.is_empty() {
            failed = true;
        }
        match first {
            b'[' => {
                let c = if failed {
                    '\0'
                } else {
                    let (c, width) = decode(name);
                    name = &name[width..];
                    c
                };
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut inside = false;
                let mut ranges = 0;
                loop {
                    if chunk.first() == Some(&b']') && ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let lo = class_char(&mut chunk)?;
                    let hi = if chunk.first() == Some(&b'-') {
                        chunk = &chunk[1..];
                        class_char(&mut chunk)?
                    } else {
                        lo
                    };
                    if lo <= c && c <= hi {
                        inside = true;
                    }
                    ranges += 1;
                }
                if inside == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if name[0] == b'/' {
                        failed = true;
                    }
                    let (_, width) = decode(name);
                    name = &name[width..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                if first == b'\\' {
                    chunk = &chunk[1..];
                    if chunk.is_empty() {
                        return Err(BadPattern);
                    }
                }
                if !failed {
                    if chunk[0] != name[0] {
                        failed = true;
                    }
                    name = &name[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    Ok(if failed { (b"", false) } else { (name, true) })
}

/// Go's `getEsc`: one character of a class (`\` escapes it; an unescaped
/// `-` or `]` is malformed), which must not end the pattern.
fn class_char(chunk: &mut &[u8]) -> Result<char, BadPattern> {
    let mut rest = *chunk;
    match rest.first() {
        None | Some(b'-' | b']') => return Err(BadPattern),
        Some(b'\\') => {
            rest = &rest[1..];
            if rest.is_empty() {
                return Err(BadPattern);
            }
        }
        Some(_) => {}
    }
    let (c, width) = decode(rest);
    if c == char::REPLACEMENT_CHARACTER && width == 1 {
        return Err(BadPattern);
    }
    rest = &rest[width..];
    if rest.is_empty() {
        return Err(BadPattern);
    }
    *chunk = rest;
    Ok(c)
}

/// The UTF-8 character at the start of `bytes` and its width; an invalid
/// byte is one replacement character, as Go's `utf8.DecodeRuneInString`.
/// `bytes` must not be empty.
fn decode(bytes: &[u8]) -> (char, usize) {
    let head = &bytes[..bytes.len().min(4)];
    let valid = match std::str::from_utf8(head) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default(),
    };
    match valid.chars().next() {
        Some(c) => (c, c.len_utf8()),
        None => (char::REPLACEMENT_CHARACTER, 1),
    }
}

/// Go's `filepath.Glob`: the paths matching `pattern`, each directory's
/// names in sorted order. Wildcards may be in any element; a pattern
/// without them names itself if it exists (even a dangling symlink).
/// Directories that cannot be read contribute nothing; the only error is a
/// malformed pattern.
pub fn glob(pattern: &str) -> Result<Vec<PathBuf>, BadPattern> {
    validate(pattern)?;
    if !has_meta(pattern) {
        return Ok(if std::fs::symlink_metadata(pattern).is_ok() {
            vec![PathBuf::from(pattern)]
        } else {
            Vec::new()
        });
    }
    // Go recurses on the directory part while it holds wildcards. Here: the
    // last element of each level, innermost last, the directory parts that
    // are globbed in turn, and the directory without wildcards the walk
    // starts from.
    let mut elements: Vec<&str> = Vec::new();
    let mut nested: Vec<&str> = Vec::new();
    let mut current = pattern;
    let start = loop {
        let (dir, file) = match current.rfind('/') {
            Some(i) => (&current[..=i], &current[i + 1..]),
            None => ("", current),
        };
        let dir = clean_glob_path(dir);
        elements.push(file);
        if !has_meta(dir) {
            break dir;
        }
        // Go's guards against endless and too deep recursion.
        if dir == current || elements.len() == DIRECTORY_LEVELS_LIMIT {
            return Err(BadPattern);
        }
        nested.push(dir);
        current = dir;
    };
    // Each level's pattern is checked on its own, as Go's recursion does
    // (`a[/]/*` is well formed, its directory `a[` is not).
    for dir in nested {
        validate(dir)?;
    }
    let mut found = vec![start.to_owned()];
    for file in elements.iter().rev() {
        let mut next = Vec::new();
        for dir in &found {
            glob_in(dir, file, &mut next)?;
        }
        found = next;
    }
    Ok(found.into_iter().map(PathBuf::from).collect())
}

/// Go's `cleanGlobPath`: the directory part of a pattern without its
/// trailing separator.
fn clean_glob_path(dir: &str) -> &str {
    match dir {
        "" => ".",
        "/" => "/",
        _ => &dir[..dir.len() - 1],
    }
}

/// Go's `glob`: the entries of `dir` that match `pattern`, sorted, joined
/// to `dir`.
fn glob_in(dir: &str, pattern: &str, found: &mut Vec<String>) -> Result<(), BadPattern> {
    if !std::fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        if matches(pattern, &name)? {
            found.push(clean_path(&format!("{dir}/{name}")));
        }
    }
    Ok(())
}

/// Go's `filepath.Dir`: the directory part of `path`, `.` for a bare file
/// name; a relative path's directory stays relative.
pub(crate) fn go_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ if path.has_root() => PathBuf::from("/"),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Go's own `filepath.Match` table (match_test.go), Unix rows.
    #[test]
    fn match_follows_go_table() {
        let bad = Err(BadPattern);
        let cases: &[(&str, &str, Result<bool, BadPattern>)] = &[
            ("abc", "abc", Ok(true)),
            ("*", "abc", Ok(true)),
            ("*c", "abc", Ok(true)),
            ("a*", "a", Ok(true)),
            ("a*", "abc", Ok(true)),
            ("a*", "ab/c", Ok(false)),
            ("a*/b", "abc/b", Ok(true)),
            ("a*/b", "a/c/b", Ok(false)),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", Ok(false)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", Ok(false)),
            ("a*b?c*x", "abxbbxdbxebxczzx", Ok(true)),
            ("a*b?c*x", "abxbbxdbxebxczzy", Ok(false)),
            ("ab[c]", "abc", Ok(true)),
            ("ab[b-d]", "abc", Ok(true)),
            ("ab[e-g]", "abc", Ok(false)),
            ("ab[^c]", "abc", Ok(false)),
            ("ab[^b-d]", "abc", Ok(false)),
            ("ab[^e-g]", "abc", Ok(true)),
            ("a\\*b", "a*b", Ok(true)),
            ("a\\*b", "ab", Ok(false)),
            ("a?b", "a☺b", Ok(true)),
            ("a[^a]b", "a☺b", Ok(true)),
            ("a???b", "a☺b", Ok(false)),
            ("a[^a][^a][^a]b", "a☺b", Ok(false)),
            ("[a-ζ]*", "α", Ok(true)),
            ("*[a-ζ]", "A", Ok(false)),
            ("a?b", "a/b", Ok(false)),
            ("a*b", "a/b", Ok(false)),
            ("[\\]a]", "]", Ok(true)),
            ("[\\-]", "-", Ok(true)),
            ("[x\\-]", "x", Ok(true)),
            ("[x\\-]", "-", Ok(true)),
            ("[x\\-]", "z", Ok(false)),
            ("[\\-x]", "x", Ok(true)),
            ("[\\-x]", "-", Ok(true)),
            ("[\\-x]", "a", Ok(false)),
            ("[]a]", "]", bad),
            ("[-]", "-", bad),
            ("[x-]", "x", bad),
            ("[x-]", "-", bad),
            ("[x-]", "z", bad),
            ("[-x]", "x", bad),
            ("[-x]", "-", bad),
            ("[-x]", "a", bad),
            ("\\", "a", bad),
            ("[a-b-c]", "a", bad),
            ("[", "a", bad),
            ("[^", "a", bad),
            ("[^bc", "a", bad),
            ("a[", "a", bad),
            ("a[", "ab", bad),
            ("a[", "x", bad),
            ("a/b[", "x", bad),
            ("*x", "xxx", Ok(true)),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(
                matches(pattern, name),
                *want,
                "Match({pattern:?}, {name:?})"
            );
        }
    }

    #[test]
    fn bad_patterns_are_reported_even_without_a_name() {
        for bad in ["[", "[]", "[^]", "x\\", "[a-", "a[b", "*.[yml", "[z-]"] {
            assert_eq!(validate(bad), Err(BadPattern), "{bad}");
        }
        for good in ["*.yml", "[*]", "\\[", "[\\]]", "rules/?.yml", ""] {
            assert_eq!(validate(good), Ok(()), "{good}");
        }
    }

    /// Stars that would make a backtracking matcher exponential.
    #[test]
    fn hostile_patterns_stay_linear() {
        let stars = "*".repeat(1000);
        assert_eq!(matches(&stars, &"a".repeat(255)), Ok(true));
        let mut many = "*a".repeat(1000);
        many.push('b');
        assert_eq!(matches(&many, &"a".repeat(255)), Ok(false));
        let pattern = format!("{}b", "a*".repeat(500));
        assert_eq!(matches(&pattern, &"a".repeat(4000)), Ok(false));
        let deep = "*/".repeat(20_000);
        assert_eq!(glob(&deep), Err(BadPattern));
    }

    #[test]
    fn glob_finds_what_go_finds() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        for name in [
            "a1b2.json",
            "axb2.json",
            "ab.json",
            "c.yml",
            "sub/x.yml",
            "sub2/y.yml",
        ] {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        let names = |pattern: &str| -> Vec<String> {
            glob(&format!("{root}/{pattern}"))
                .unwrap()
                .iter()
                .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(names("a*b*.json"), ["a1b2.json", "ab.json", "axb2.json"]);
        assert_eq!(names("a?b2.json"), ["a1b2.json", "axb2.json"]);
        assert_eq!(names("a[0-9]b?.json"), ["a1b2.json"]);
        assert_eq!(names("a[^0-9]b?.json"), ["axb2.json"]);
        assert_eq!(names("sub*/*.yml"), ["sub/x.yml", "sub2/y.yml"]);
        assert_eq!(names("c.yml"), ["c.yml"]);
        assert!(names("missing.yml").is_empty());
        assert!(names("nothere/*.yml").is_empty());
        assert_eq!(glob(&format!("{root}/[.yml")), Err(BadPattern));
        // A bad directory element is reported too.
        assert_eq!(glob(&format!("{root}/a[/*.yml")), Err(BadPattern));
        // Well formed as a whole, but its directory level `a[` is not.
        assert_eq!(validate("a[/]/*"), Ok(()));
        assert_eq!(glob(&format!("{root}/a[/]/*")), Err(BadPattern));
    }

    #[test]
    fn relative_patterns_stay_relative() {
        assert_eq!(clean_glob_path(""), ".");
        assert_eq!(clean_glob_path("/"), "/");
        assert_eq!(clean_glob_path("a/b/"), "a/b");
    }
}
