//! Go's `regexp` (RE2) on top of the `regex` crate: the pattern is checked and rewritten first so that
//! what Go refuses is refused with Go's error text (nested repetition `a**`, repeat counts over 1000),
//! what Go accepts and `regex` reads differently means what Go means (`\Q…\E`, ASCII-only `\d \w \s
//! \b`, a `{` that starts no repeat, `\<`), and the remaining errors carry Go's wording.

/// Compiles a pattern as Go's `regexp.Compile` does; Err is Go's error text
/// (`error parsing regexp: missing closing ): `(``).
pub fn compile(pattern: &str) -> Result<regex::Regex, String> {
    let translated = translate(pattern)?;
    regex::RegexBuilder::new(&translated)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| go_error(pattern, &e))
}

/// regexp's `quote`: backquoted when possible.
pub(crate) fn quote(s: &str) -> String {
    if s.contains('`') || s.chars().any(|c| c.is_control() && c != '\t') {
        crate::gofmt::quote(s)
    } else {
        format!("`{s}`")
    }
}

fn err(kind: &str, expr: &str) -> String {
    format!("error parsing regexp: {kind}: {}", quote(expr))
}

/// A `{n}`, `{n,}` or `{n,m}` at the start of `s`: its length and bounds.
fn repeat_count(s: &str) -> Option<(usize, u64, Option<u64>)> {
    let close = s.find('}')?;
    let body = &s[1..close];
    let (lo, hi) = match body.split_once(',') {
        Some((lo, hi)) => (lo, Some(hi)),
        None => (body, None),
    };
    if lo.is_empty() || !lo.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some(h) = hi
        && !h.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let parse = |d: &str| d.parse::<u64>().unwrap_or(u64::MAX);
    let min = parse(lo);
    let max = match hi {
        None => Some(min),
        Some("") => None,
        Some(h) => Some(parse(h)),
    };
    Some((close + 1, min, max))
}

fn ascii_class(c: char) -> Option<&'static str> {
    Some(match c {
        'd' => "[0-9]",
        'D' => "[^0-9]",
        'w' => "[0-9A-Za-z_]",
        'W' => "[^0-9A-Za-z_]",
        's' => "[\\t\\n\\f\\r ]",
        'S' => "[^\\t\\n\\f\\r ]",
        _ => return None,
    })
}

/// Rewrites a Go pattern for the `regex` crate, or returns Go's error for what RE2 refuses.
fn translate(p: &str) -> Result<String, String> {
    let mut out = String::with_capacity(p.len() + 8);
    let mut i = 0;
    // Start (byte offset) of the last repetition operator when it directly precedes.
    let mut last_repeat: Option<usize> = None;
    let mut in_class = false;
    let mut class_start = 0;
    let mut names: Vec<String> = Vec::new();
    while i < p.len() {
        let rest = &p[i..];
        let c = rest.chars().next().unwrap_or('\0');
        if c == '\\' {
            let next = rest[1..].chars().next();
            match next {
                Some('Q') if !in_class => {
                    let body_start = i + 2;
                    let end = p[body_start..]
                        .find("\\E")
                        .map_or(p.len(), |e| body_start + e);
                    out.push_str(&regex::escape(&p[body_start..end]));
                    i = (end + 2).min(p.len());
                    last_repeat = None;
                    continue;
                }
                Some(n) if ascii_class(n).is_some() => {
                    out.push_str(ascii_class(n).unwrap_or_default());
                    i += 2;
                }
                Some('b') if !in_class => {
                    out.push_str("(?-u:\\b)");
                    i += 2;
                }
                Some('B') if !in_class => {
                    out.push_str("(?-u:\\B)");
                    i += 2;
                }
                Some('p' | 'P' | 'x') if rest[2..].starts_with('{') => {
                    let close = rest.find('}').map_or(rest.len(), |e| e + 1);
                    out.push_str(&rest[..close]);
                    i += close;
                }
                Some(n @ ('<' | '>')) => {
                    out.push(n);
                    i += 2;
                }
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                    i += 1 + n.len_utf8();
                }
                None => return Err(err("trailing backslash at end of expression", "")),
            }
            last_repeat = None;
            continue;
        }
        if in_class {
            if c == '['
                && rest.starts_with("[:")
                && let Some(e) = rest.find(":]")
            {
                let name = rest[2..e].trim_start_matches('^');
                const POSIX: [&str; 14] = [
                    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower",
                    "print", "punct", "space", "upper", "word", "xdigit",
                ];
                if !POSIX.contains(&name) {
                    return Err(err("invalid character class range", &rest[..e + 2]));
                }
                out.push_str(&rest[..e + 2]);
                i += e + 2;
                continue;
            }
            if c == '[' {
                // A literal '[' inside a class: the regex crate would read a nested class.
                out.push_str("\\[");
                i += 1;
                continue;
            }
            if c == ']' && i > class_start {
                in_class = false;
            }
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        if rest.starts_with("(?P<") || rest.starts_with("(?<") {
            let open = if rest.starts_with("(?P<") { 4 } else { 3 };
            if let Some(close) = rest[open..].find('>') {
                let name = &rest[open..open + close];
                if !name.is_empty() && names.iter().any(|n| n == name) {
                    out.push('(');
                    i += open + close + 1;
                    last_repeat = None;
                    continue;
                }
                names.push(name.to_string());
            }
        }
        match c {
            '[' => {
                in_class = true;
                out.push('[');
                i += 1;
                if p[i..].starts_with('^') {
                    out.push('^');
                    i += 1;
                }
                // A ']' first in a class is a literal.
                if p[i..].starts_with(']') {
                    out.push_str("\\]");
                    i += 1;
                }
                class_start = i;
                last_repeat = None;
            }
            '*' | '+' | '?' | '{' => {
                let len = if c == '{' {
                    match repeat_count(rest) {
                        Some((len, min, max)) => {
                            let bad = min > 1000 || max.is_some_and(|m| m > 1000 || m < min);
                            if bad {
                                return Err(err("invalid repeat count", &rest[..len]));
                            }
                            len
                        }
                        None => {
                            // Not a repeat: a literal brace.
                            out.push_str("\\{");
                            i += 1;
                            last_repeat = None;
                            continue;
                        }
                    }
                } else {
                    1
                };
                let mut end = i + len;
                if p[end..].starts_with('?') {
                    end += 1;
                }
                if let Some(start) = last_repeat {
                    return Err(err("invalid nested repetition operator", &p[start..end]));
                }
                out.push_str(&p[i..end]);
                last_repeat = Some(i);
                i = end;
            }
            _ => {
                out.push(c);
                i += c.len_utf8();
                last_repeat = None;
            }
        }
    }
    Ok(out)
}

/// Go's text for an error the `regex` crate reports, with the part of the pattern Go names.
fn go_error(pattern: &str, e: &regex::Error) -> String {
    let msg = match e {
        regex::Error::CompiledTooBig(_) => return err("expression too large", pattern),
        regex::Error::Syntax(s) => s.clone(),
        _ => e.to_string(),
    };
    let span = caret_span(&msg);
    let spanned = |fallback: &str| -> String {
        match span {
            Some((a, b)) => pattern.chars().skip(a).take(b - a).collect(),
            None => fallback.to_string(),
        }
    };
    let from_span = || -> String {
        match span {
            Some((a, _)) => pattern.chars().skip(a).collect(),
            None => pattern.to_string(),
        }
    };
    if msg.contains("unclosed group") {
        err("missing closing )", pattern)
    } else if msg.contains("unopened group") {
        err("unexpected )", pattern)
    } else if msg.contains("unclosed character class") {
        err("missing closing ]", &from_span())
    } else if msg.contains("repetition operator missing expression") {
        err("missing argument to repetition operator", &spanned(pattern))
    } else if msg.contains("escape") || msg.contains("backreferences") {
        err("invalid escape sequence", &spanned(pattern))
    } else if msg.contains("repetition") || msg.contains("decimal") {
        err("invalid repeat count", &spanned(pattern))
    } else if msg.contains("character class range") {
        err("invalid character class range", &spanned(pattern))
    } else if msg.contains("empty capture group name") || msg.contains("invalid capture group") {
        let start = span.map_or(0, |(a, _)| a);
        let before: String = pattern.chars().take(start).collect();
        let open = before.rfind("(?").unwrap_or(0);
        let after_close = pattern[open..]
            .find('>')
            .map_or(pattern.len(), |e| open + e + 1);
        err("invalid named capture", &pattern[open..after_close])
    } else if msg.contains("group name") || msg.contains("flag") {
        // Go names the group opening up to the offending flag.
        let end = span.map_or(pattern.chars().count(), |(_, b)| b);
        let upto: String = pattern.chars().take(end).collect();
        let open = upto.rfind("(?").unwrap_or(0);
        err("invalid or unsupported Perl syntax", &upto[open..])
    } else if msg.contains("Unicode property") || msg.contains("Unicode class") {
        err("invalid character class range", &spanned(pattern))
    } else {
        let line = msg
            .lines()
            .rev()
            .find(|l| l.starts_with("error:"))
            .unwrap_or(&msg);
        err(line.trim_start_matches("error:").trim(), pattern)
    }
}

/// The character span the `regex` crate's message marks with carets under a one-line pattern.
fn caret_span(msg: &str) -> Option<(usize, usize)> {
    let lines: Vec<&str> = msg.lines().collect();
    if lines.len() < 4 {
        return None;
    }
    let carets = lines[2];
    let start = carets.find('^')?;
    let n = carets[start..].chars().take_while(|&c| c == '^').count();
    let a = start.checked_sub(4)?;
    Some((a, a + n))
}
