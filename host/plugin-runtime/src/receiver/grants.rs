//! A receiver's network reach: exactly the origins its configuration names
//! (e.g. a webhook's URL), plus what the operator granted explicitly.

use wasmetheus_config::Grants;

/// Why a URL gives no origin to grant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    #[error("{url:?} is not a URL: {message}")]
    Invalid { url: String, message: String },
    #[error("{url:?}: only http and https URLs can be granted to a receiver")]
    Scheme { url: String },
    #[error("{url:?} names no host")]
    NoHost { url: String },
}

/// The origin of `url` as the sandbox checks it: `scheme://host:port`, the
/// scheme's default port made explicit (`http://example.com/x` gives
/// `http://example.com:80`). Only `http` and `https` URLs have one.
pub fn origin_of_url(url: &str) -> Result<String, OriginError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| OriginError::Invalid {
            url: url.to_owned(),
            message: e.to_string(),
        })?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => {
            return Err(OriginError::Scheme {
                url: url.to_owned(),
            });
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(OriginError::NoHost {
            url: url.to_owned(),
        });
    }
    crate::sandbox::origin_of(&uri).ok_or_else(|| OriginError::NoHost {
        url: url.to_owned(),
    })
}

/// The grants of one receiver: `explicit` (what the operator wrote) plus
/// the origin of each of `urls` (what its configuration sends to), each
/// origin once.
pub fn receiver_grants<'a>(
    explicit: &Grants,
    urls: impl IntoIterator<Item = &'a str>,
) -> Result<Grants, OriginError> {
    let mut grants = explicit.clone();
    for url in urls {
        let origin = origin_of_url(url)?;
        if !grants.http_origins.contains(&origin) {
            grants.http_origins.push(origin);
        }
    }
    Ok(grants)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_of_urls() {
        let cases = [
            ("http://127.0.0.1:5001/hook", Ok("http://127.0.0.1:5001")),
            (
                "https://hooks.example.com/a?b=c",
                Ok("https://hooks.example.com:443"),
            ),
            ("http://example.com", Ok("http://example.com:80")),
            (
                "http://user:pass@example.com:8080/x",
                Ok("http://example.com:8080"),
            ),
            ("http://[::1]:9093/", Ok("http://[::1]:9093")),
            ("ftp://example.com/", Err("only http and https")),
            ("/relative/path", Err("only http and https")),
            ("http://exa mple.com/", Err("is not a URL")),
        ];
        for (url, want) in cases {
            let got = origin_of_url(url).map_err(|e| e.to_string());
            match (want, got) {
                (Ok(w), Ok(g)) => assert_eq!(g, w, "{url}"),
                (Err(w), Err(g)) => assert!(g.contains(w), "{url}: {g}"),
                (w, g) => panic!("{url}: want {w:?}, got {g:?}"),
            }
        }
    }

    #[test]
    fn grants_are_the_explicit_ones_plus_each_origin_once() {
        let explicit = Grants {
            dns: true,
            http_origins: vec!["https://other.example:443".into()],
            ..Grants::default()
        };
        let grants = receiver_grants(
            &explicit,
            [
                "http://127.0.0.1:1/a",
                "http://127.0.0.1:1/b",
                "https://other.example/",
            ],
        )
        .unwrap();
        assert!(grants.dns);
        assert_eq!(
            grants.http_origins,
            ["https://other.example:443", "http://127.0.0.1:1"]
        );
        assert!(receiver_grants(&explicit, ["file:///etc/passwd"]).is_err());
    }
}
