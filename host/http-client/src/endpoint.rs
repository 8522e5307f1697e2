//! One remote storage endpoint (a `remote_write` or `remote_read` entry):
//! its client, URI and fixed `headers`, checked once when the entry is
//! applied, so a bad certificate, URL or header stops the apply with a
//! text naming it.

use std::collections::BTreeMap;

use hyper::Uri;
use hyper::header::{HeaderName, HeaderValue};
use wasmetheus_config::HttpClientConfig;

use crate::{Client, Settings, unsupported};

/// A client for one URL, with the entry's own headers.
#[derive(Debug)]
pub struct Endpoint {
    pub client: Client,
    pub uri: Uri,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl Endpoint {
    /// `what` names the feature in errors (`remote write`, `remote read`).
    pub fn new(
        http: &HttpClientConfig,
        url: &str,
        headers: &BTreeMap<String, String>,
        what: &str,
    ) -> Result<Endpoint, String> {
        if let Some(setting) = unsupported(http) {
            return Err(format!("{setting} is not supported for {what} yet"));
        }
        let client = Client::new(Settings::from_config(http)).map_err(|e| e.to_string())?;
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("invalid {what} URL: {e}"))?;
        let headers = headers
            .iter()
            .map(|(name, value)| {
                let header = HeaderName::try_from(name.as_str())
                    .map_err(|e| format!("header {name:?}: {e}"))?;
                let value = HeaderValue::try_from(value.as_str())
                    .map_err(|e| format!("header {name:?}: {e}"))?;
                Ok((header, value))
            })
            .collect::<Result<_, String>>()?;
        Ok(Endpoint {
            client,
            uri,
            headers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn bad_urls_and_headers_are_named() {
        let http = HttpClientConfig::default();
        let ok = Endpoint::new(
            &http,
            "http://127.0.0.1:1/api/v1/write",
            &headers(&[("X-A", "b")]),
            "remote write",
        )
        .unwrap();
        assert_eq!(ok.headers.len(), 1);
        let url = Endpoint::new(&http, "http://[::1/", &headers(&[]), "remote read").unwrap_err();
        assert!(url.starts_with("invalid remote read URL: "), "{url}");
        let name = Endpoint::new(
            &http,
            "http://a/",
            &headers(&[("bad name", "v")]),
            "remote write",
        )
        .unwrap_err();
        assert!(name.starts_with("header \"bad name\": "), "{name}");
        let value = Endpoint::new(
            &http,
            "http://a/",
            &headers(&[("X-A", "a\nb")]),
            "remote write",
        )
        .unwrap_err();
        assert!(value.starts_with("header \"X-A\": "), "{value}");
    }
}
