//! Go's `net/url`: the escaping modes (`QueryEscape`, `EscapedPath`, the
//! host) and `ParseQuery` with `QueryUnescape`, their error texts
//! included.

/// What `net/url` leaves unescaped in every mode: letters, digits, `-_.~`.
const URL_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `encodePath` (`URL.EscapedPath`): also `$&+,/:;=@`. (`url.PathEscape`,
/// for one segment, escapes `/`, `;` and `,` too.)
const URL_PATH: &percent_encoding::AsciiSet = &URL_UNRESERVED
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b',')
    .remove(b'/')
    .remove(b':')
    .remove(b';')
    .remove(b'=')
    .remove(b'@');

/// `encodeHost`: also `!$&'()*+,;=:[]<>"`.
const URL_HOST: &percent_encoding::AsciiSet = &URL_UNRESERVED
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'[')
    .remove(b']')
    .remove(b'<')
    .remove(b'>')
    .remove(b'"');

/// Go's `url.QueryEscape`: letters, digits and `-_.~` as they are, the
/// space as `+`, every other byte as `%XX`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, piece) in s.split(' ').enumerate() {
        if i > 0 {
            out.push('+');
        }
        out.extend(percent_encoding::utf8_percent_encode(piece, URL_UNRESERVED));
    }
    out
}

/// Go's `URL.EscapedPath` of a decoded path (`encodePath`).
pub fn escape_path(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, URL_PATH).to_string()
}

/// Go's escaping of a URL's host (`encodeHost`), as `URL.String` writes it.
pub fn escape_host(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, URL_HOST).to_string()
}

/// Go's `url.QueryUnescape` failed on a `%` not followed by two hex digits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A `%` not followed by two hex digits; the text is the `%` and what
    /// follows it, at most three bytes.
    #[error("invalid URL escape {}", super::strconv::quote_bytes(.0))]
    Escape(Vec<u8>),
    /// A pair holding `;`, which Go no longer splits on.
    #[error("invalid semicolon separator in query")]
    Semicolon,
}

/// Go's `url.QueryUnescape`: `+` as a space, `%XX` as that byte; a bad
/// escape is an error. Bytes that are not UTF-8 are replaced (Rust strings
/// hold UTF-8).
pub fn query_unescape(s: &str) -> Result<String, QueryError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = |j: usize| bytes.get(j).and_then(|b| (*b as char).to_digit(16));
                match (hex(i + 1), hex(i + 2)) {
                    (Some(hi), Some(lo)) => {
                        // Two hex digits: at most 0xff.
                        out.push((hi * 16 + lo) as u8);
                        i += 3;
                    }
                    _ => {
                        let bad = &bytes[i..bytes.len().min(i + 3)];
                        return Err(QueryError::Escape(bad.to_vec()));
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go's `url.ParseQuery`: `&`-separated `key=value` pairs, `+` and `%XX`
/// decoded, in order. As in Go, what parses is returned along with the
/// error, if any: a pair with a `;` is dropped (the last such error is
/// kept), as is a pair with a bad escape (the first such error is kept).
pub fn parse_query(query: &str) -> (Vec<(String, String)>, Option<QueryError>) {
    let mut form = Vec::new();
    let mut err: Option<QueryError> = None;
    for pair in query.split('&') {
        if pair.contains(';') {
            err = Some(QueryError::Semicolon);
            continue;
        }
        if pair.is_empty() {
            continue;
        }
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match (query_unescape(key), query_unescape(value)) {
            (Ok(key), Ok(value)) => form.push((key, value)),
            (Err(e), _) | (_, Err(e)) => {
                err.get_or_insert(e);
            }
        }
    }
    (form, err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_escapes_as_go() {
        // net/url's ExampleQueryEscape and encodePath/encodeHost outputs.
        assert_eq!(
            query_escape("my/cool+blog&about,stuff"),
            "my%2Fcool%2Bblog%26about%2Cstuff"
        );
        assert_eq!(query_escape("a b~c\u{e9}"), "a+b~c%C3%A9");
        assert_eq!(escape_path("/a b/c;d=e@f?g#h"), "/a%20b/c;d=e@f%3Fg%23h");
        assert_eq!(escape_host("[::1]:80 x"), "[::1]:80%20x");
    }

    /// Rows of Go's `net/url` TestParseQuery and TestUnescape.
    #[test]
    fn queries_parse_as_go() {
        let pairs = |q: &str| parse_query(q).0;
        let owned = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(pairs("a=1&b=2"), owned(&[("a", "1"), ("b", "2")]));
        assert_eq!(
            pairs("a=1&a=2&a=banana"),
            owned(&[("a", "1"), ("a", "2"), ("a", "banana")])
        );
        assert_eq!(
            pairs("ascii=%3Ckey%3A+0x90%3E"),
            owned(&[("ascii", "<key: 0x90>")])
        );
        assert_eq!(pairs("a=&b"), owned(&[("a", ""), ("b", "")]));
        assert_eq!(pairs("&&a=1&"), owned(&[("a", "1")]));
        let (form, err) = parse_query("a=1;b=2&c=3");
        assert_eq!(form, owned(&[("c", "3")]));
        assert_eq!(err, Some(QueryError::Semicolon));
        // The first escape error, unless a semicolon comes later.
        let error = |q: &str| parse_query(q).1.map(|e| e.to_string());
        for (query, want) in [
            ("a=%zz", r#"invalid URL escape "%zz""#),
            ("a=%4", r#"invalid URL escape "%4""#),
            ("a=%", r#"invalid URL escape "%""#),
            ("%zzz=1", r#"invalid URL escape "%zz""#),
            ("a=1;b=2", "invalid semicolon separator in query"),
            ("a=%1&b=%2", r#"invalid URL escape "%1""#),
            ("a=%1&b=;", "invalid semicolon separator in query"),
        ] {
            assert_eq!(error(query).as_deref(), Some(want), "{query}");
        }
        assert_eq!(
            pairs("a=1&b=x+y&a=%41&&c&d="),
            owned(&[("a", "1"), ("b", "x y"), ("a", "A"), ("c", ""), ("d", "")])
        );
        let (form, err) = parse_query("a=%zz&b=%4&c=%41");
        assert_eq!(form, owned(&[("c", "A")]));
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some(r#"invalid URL escape "%zz""#)
        );
        assert_eq!(
            query_unescape("%").unwrap_err().to_string(),
            r#"invalid URL escape "%""#
        );
        assert_eq!(
            query_unescape("%a").unwrap_err().to_string(),
            r#"invalid URL escape "%a""#
        );
        assert_eq!(query_unescape("a+b%2Fc").as_deref(), Ok("a b/c"));
    }
}
