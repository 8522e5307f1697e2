//! What Go's `url.Parse` refuses and finds in a URL, as far as the HTTP
//! client and discovery configs look at it: one parser for every URL field
//! Prometheus parses while it reads its configuration.

/// What Go's `url.Parse` finds in a URL, as far as the configs look at
/// it: the scheme (lower case) and the host (with its port, without user
/// information).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GoUrl {
    pub scheme: String,
    pub host: String,
}

/// Go's `url.Parse` as far as its errors go: control characters, a
/// missing or malformed scheme, a host with an unclosed `[` or a port that
/// is not a number. Errors are Go's, with a password shown as `xxxxx`.
pub(crate) fn parse_go_url(url: &str) -> Result<GoUrl, String> {
    let shown = || crate::secret::redact_url(url);
    if url.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(format!(
            "parse {:?}: net/url: invalid control character in URL",
            shown()
        ));
    }
    let valid_scheme = |scheme: &str| {
        scheme
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_alphabetic)
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    };
    let (scheme, rest) = match url.split_once(':') {
        Some((scheme, rest)) if valid_scheme(scheme) => (scheme.to_ascii_lowercase(), rest),
        // Go's getScheme: a colon before any '/', '?' or '#' ends a scheme.
        Some((scheme, _)) if !scheme.contains(['/', '?', '#']) => {
            return Err(if scheme.is_empty() {
                format!("parse {:?}: missing protocol scheme", shown())
            } else {
                format!(
                    "parse {:?}: first path segment in URL cannot contain colon",
                    shown()
                )
            });
        }
        _ => (String::new(), url),
    };
    let host = match rest.strip_prefix("//") {
        Some(authority) => {
            let end = authority.find(['/', '?', '#']).unwrap_or(authority.len());
            let authority = &authority[..end];
            authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host)
                .to_owned()
        }
        None => String::new(),
    };
    let port = if let Some(bracketed) = host.strip_prefix('[') {
        match bracketed.find(']') {
            Some(end) => &bracketed[end + 1..],
            None => return Err(format!("parse {:?}: missing ']' in host", shown())),
        }
    } else {
        host.rfind(':').map_or("", |colon| &host[colon..])
    };
    let valid_port = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_digit()));
    if !valid_port {
        return Err(format!(
            "parse {:?}: invalid port {port:?} after host",
            shown()
        ));
    }
    Ok(GoUrl { scheme, host })
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_split_as_go_does() {
        use super::{GoUrl, parse_go_url};
        let url = |scheme: &str, host: &str| GoUrl {
            scheme: scheme.into(),
            host: host.into(),
        };
        assert_eq!(parse_go_url("http://a:1/b").unwrap(), url("http", "a:1"));
        assert_eq!(parse_go_url("HTTPS://u:p@h?x").unwrap(), url("https", "h"));
        assert_eq!(parse_go_url("eureka.com").unwrap(), url("", ""));
        assert_eq!(parse_go_url("http://").unwrap(), url("http", ""));
        assert_eq!(
            parse_go_url("localhost:8500").unwrap(),
            url("localhost", "")
        );
        assert!(
            parse_go_url(":8500")
                .unwrap_err()
                .contains("missing protocol scheme")
        );
        assert!(
            parse_go_url("http://a\u{7f}")
                .unwrap_err()
                .contains("control character")
        );
        assert_eq!(
            parse_go_url("http://[::1]:9/").unwrap(),
            url("http", "[::1]:9")
        );
        assert_eq!(parse_go_url("http://h:/").unwrap(), url("http", "h:"));
        assert_eq!(
            parse_go_url("http://user:pw@:x").unwrap_err(),
            "parse \"http://user:xxxxx@:x\": invalid port \":x\" after host"
        );
        assert!(
            parse_go_url("http://[::1")
                .unwrap_err()
                .contains("missing ']' in host")
        );
        assert_eq!(
            parse_go_url("cache_object:foo").unwrap_err(),
            "parse \"cache_object:foo\": first path segment in URL cannot contain colon"
        );
        assert_eq!(parse_go_url("a/b:c").unwrap(), url("", ""));
    }

    #[test]
    fn url_fields_refuse_what_go_refuses() {
        // promtool: parse "http://sd:port/targets": invalid port ":port" after host
        let yaml = "scrape_configs:\n  - job_name: j\n    http_sd_configs:\n      \
                    - url: http://sd:port/targets\n";
        let error = crate::Config::parse(yaml, std::path::Path::new("p.yml"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("parse \"http://sd:port/targets\": invalid port \":port\" after host"),
            "{error}"
        );
    }
}
