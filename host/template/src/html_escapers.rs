//! The string escapers and filters of Go's `html/template` (`html.go`, `url.go`, `css.go`): HTML
//! replacement tables, the URL normalizer/escaper and filter, and the CSS value filter. The contexts
//! that choose among them are in `html.rs`.

pub(crate) fn html_replace(
    s: &str,
    table: fn(char) -> Option<&'static str>,
    bad_runes: bool,
) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if let Some(r) = table(ch) {
            out.push_str(r);
        } else if !bad_runes
            && (('\u{fdd0}'..='\u{fdef}').contains(&ch) || ('\u{fff0}'..='\u{ffff}').contains(&ch))
        {
            out.push_str(&format!("&#x{:x};", ch as u32));
        } else {
            out.push(ch);
        }
    }
    out
}

pub(crate) fn html_table(c: char) -> Option<&'static str> {
    Some(match c {
        '\0' => "\u{FFFD}",
        '"' => "&#34;",
        '&' => "&amp;",
        '\'' => "&#39;",
        '+' => "&#43;",
        '<' => "&lt;",
        '>' => "&gt;",
        _ => return None,
    })
}

pub(crate) fn html_norm_table(c: char) -> Option<&'static str> {
    if c == '&' { None } else { html_table(c) }
}

pub(crate) fn nospace_table(c: char) -> Option<&'static str> {
    Some(match c {
        '\t' => "&#9;",
        '\n' => "&#10;",
        '\x0b' => "&#11;",
        '\x0c' => "&#12;",
        '\r' => "&#13;",
        ' ' => "&#32;",
        '=' => "&#61;",
        '`' => "&#96;",
        c => return html_table(c),
    })
}

pub(crate) fn nospace_norm_table(c: char) -> Option<&'static str> {
    if c == '&' { None } else { nospace_table(c) }
}

pub(crate) fn process_url(s: &str, norm: bool) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for &c in s.as_bytes() {
        let keep = match c {
            b'!' | b'#' | b'$' | b'&' | b'*' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?'
            | b'@' | b'[' | b']' | b'%' => norm,
            b'-' | b'.' | b'_' | b'~' => true,
            c => c.is_ascii_alphanumeric(),
        };
        if keep {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02x}"));
        }
    }
    out
}

pub(crate) fn is_safe_url(s: &str) -> bool {
    match s.split_once(':') {
        Some((proto, _)) if !proto.contains('/') => ["http", "https", "mailto"]
            .iter()
            .any(|p| proto.eq_ignore_ascii_case(p)),
        _ => true,
    }
}

/// Go's `decodeCSS`: CSS escapes (`\\` and up to six hex digits, one space after them eaten;
/// `\\` before any other character) replaced by what they stand for.
pub(crate) fn decode_css(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let mut hex = String::new();
        while hex.len() < 6 && chars.peek().is_some_and(char::is_ascii_hexdigit) {
            hex.extend(chars.next());
        }
        if hex.is_empty() {
            out.extend(chars.next());
            continue;
        }
        let r = u32::from_str_radix(&hex, 16)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or('\u{FFFD}');
        out.push(r);
        if chars
            .peek()
            .is_some_and(|c| matches!(c, ' ' | '\t' | '\n' | '\x0c' | '\r'))
        {
            chars.next();
        }
    }
    out
}

/// Go's `cssValueFilter`: a value that cannot leave a CSS property value (no quotes, brackets,
/// comments, `expression` or `mozbinding`), else `ZgotmplZ`.
pub(crate) fn css_value_filter(s: &str) -> String {
    let b = decode_css(s);
    let bytes = b.as_bytes();
    let mut id = Vec::with_capacity(64);
    for (i, &c) in bytes.iter().enumerate() {
        match c {
            0 | b'"' | b'\'' | b'(' | b')' | b'/' | b';' | b'@' | b'[' | b'\\' | b']' | b'`'
            | b'{' | b'}' | b'<' | b'>' => return "ZgotmplZ".into(),
            b'-' if i != 0 && bytes[i - 1] == b'-' => return "ZgotmplZ".into(),
            c if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' => {
                id.push(c.to_ascii_lowercase())
            }
            _ => {}
        }
    }
    let has = |w: &[u8]| id.windows(w.len()).any(|x| x == w);
    if has(b"expression") || has(b"mozbinding") {
        return "ZgotmplZ".into();
    }
    b
}
