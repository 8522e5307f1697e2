//! Scraping a target over HTTP as Prometheus does: content negotiation
//! between OpenMetrics and the text format, gzip,
//! `X-Prometheus-Scrape-Timeout-Seconds`, a body size limit enforced while
//! reading, and a parse that fails the whole scrape on any malformed line.
//! TLS, authentication and `http_headers` are `wasmetheus-http-client`'s;
//! plain `http` targets share one pooled connection client.

use std::time::Duration;
use wasmetheus_model::redact_url;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use wasmetheus_http_client::{Client as TlsClient, Settings};
use wasmetheus_model::text::Exposition;
use wasmetheus_model::{openmetrics, text};

/// Prometheus 3's `Accept` header for its default scrape protocols
/// (OpenMetrics first, then the text format).
const ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.5,\
application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// The exposition format to assume when a target sends no usable
/// `Content-Type` (Prometheus' `fallback_scrape_protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Fail the scrape, as Prometheus 3 does by default.
    None,
    Text,
    OpenMetrics,
}

/// How one target is fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpTarget {
    /// `scheme://address/path?params`.
    pub url: String,
    /// TLS (for `https`), the `Authorization` header and `http_headers`.
    /// Files are read at every scrape, so rotated certificates and
    /// secrets are picked up, as in Prometheus.
    pub client: Settings,
    /// 0: no limit.
    pub body_size_limit: u64,
    pub fallback: Fallback,
}

/// The HTTP client all scrapes share (connection reuse across targets).
#[derive(Clone)]
pub struct Scraper {
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl Default for Scraper {
    fn default() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(30)));
        Scraper {
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(90))
                .build(connector),
        }
    }
}

impl std::fmt::Debug for Scraper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scraper")
    }
}

impl Scraper {
    /// Fetches `target`: its body and the format to parse it as (by
    /// `Content-Type`, else the target's fallback).
    pub async fn fetch_exposition(
        &self,
        target: &HttpTarget,
        timeout: Duration,
    ) -> Result<(Fallback, String), String> {
        let (content_type, body) = self.fetch(target, ACCEPT, timeout).await?;
        Ok((format_of(&content_type, target.fallback)?, body))
    }

    /// GETs `target`: its `Content-Type` and body (decompressed, within
    /// the size limit, UTF-8).
    async fn fetch(
        &self,
        target: &HttpTarget,
        accept: &str,
        timeout: Duration,
    ) -> Result<(String, String), String> {
        let uri: hyper::Uri = target
            .url
            .parse()
            .map_err(|e| format!("invalid target URL {:?}: {e}", redact_url(&target.url)))?;
        let mut request = hyper::Request::get(uri.clone())
            .header(hyper::header::ACCEPT, accept)
            .header(hyper::header::ACCEPT_ENCODING, "gzip")
            .header(
                hyper::header::USER_AGENT,
                concat!("wasmetheus/", env!("CARGO_PKG_VERSION")),
            )
            .header(
                "X-Prometheus-Scrape-Timeout-Seconds",
                format!("{}", timeout.as_secs_f64()),
            );
        let response = if uri.scheme_str() == Some("https") {
            self.send_tls(target, request).await?
        } else {
            // The shared client adds them itself on the TLS path.
            for (name, value) in target
                .client
                .request_headers()
                .await
                .map_err(|e| e.to_string())?
            {
                request = request.header(name, value);
            }
            let request = request
                .body(Empty::new())
                .map_err(|e| format!("building the request: {e}"))?;
            self.client
                .request(request)
                .await
                .map_err(|e| connection_error(&e))?
        };
        let status = response.status();
        if !status.is_success() {
            return Err(format!("server returned HTTP status {status}"));
        }
        let headers = response.headers();
        let content_type = headers
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let gzipped = headers
            .get(hyper::header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
        let limit = if target.body_size_limit == 0 {
            u64::MAX
        } else {
            target.body_size_limit
        };
        // Sized once from Content-Length where it is sent (within the
        // limit): growing by doubling copied a large body several times.
        let declared = headers
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .unwrap_or(0)
            .min(limit.saturating_add(1))
            .min(64 << 20);
        let mut body = response.into_body();
        let mut raw = Vec::with_capacity(declared as usize);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("reading the body: {e}"))?;
            if let Ok(data) = frame.into_data() {
                raw.extend_from_slice(&data);
                if raw.len() as u64 > limit {
                    return Err(format!("body size limit exceeded ({limit} bytes)"));
                }
            }
        }
        let bytes = if gzipped { gunzip(&raw, limit)? } else { raw };
        let text = String::from_utf8(bytes).map_err(|e| format!("the body is not UTF-8: {e}"))?;
        Ok((content_type, text))
    }
}

impl Scraper {
    /// Sends `request` to an `https` target over a fresh TLS connection
    /// (its certificate files read now, on the blocking pool).
    async fn send_tls(
        &self,
        target: &HttpTarget,
        request: hyper::http::request::Builder,
    ) -> Result<hyper::Response<hyper::body::Incoming>, String> {
        let settings = target.client.clone();
        let client = tokio::task::spawn_blocking(move || TlsClient::new(settings))
            .await
            .map_err(|e| format!("TLS: {e}"))?
            .map_err(|e| e.to_string())?;
        let request = request
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("building the request: {e}"))?;
        client.send(request).await.map_err(|e| e.to_string())
    }

    /// A GET returning the body as text (HTTP service discovery), with
    /// `client`'s TLS, authentication and headers.
    pub async fn get_json(
        &self,
        url: &str,
        client: &Settings,
        timeout: Duration,
    ) -> Result<String, String> {
        let target = HttpTarget {
            url: url.to_owned(),
            client: client.clone(),
            body_size_limit: 64 << 20,
            fallback: Fallback::None,
        };
        let fetch = self.fetch(&target, "application/json", timeout);
        match tokio::time::timeout(timeout, fetch).await {
            Ok(result) => result.map(|(_, body)| body),
            Err(_) => Err(format!("request timed out after {timeout:?}")),
        }
    }
}

/// The root cause of a client error (hyper's own text is "client error").
fn connection_error(e: &hyper_util::client::legacy::Error) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        message = cause.to_string();
        source = cause.source();
    }
    message
}

fn gunzip(raw: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(raw)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| format!("decompressing the body: {e}"))?;
    if out.len() as u64 > limit {
        return Err(format!("body size limit exceeded ({limit} bytes)"));
    }
    Ok(out)
}

/// Parses by `Content-Type`: OpenMetrics or the text format; anything
/// else needs a fallback.
pub fn parse(body: &str, content_type: &str, fallback: Fallback) -> Result<Exposition, String> {
    let parsed = match format_of(content_type, fallback)? {
        Fallback::OpenMetrics => openmetrics::parse_with(
            body,
            openmetrics::Options {
                allow_negative_observations: true,
            },
        ),
        _ => text::parse(body),
    };
    parsed.map_err(|e| format!("{}:{}: {}", e.line, e.column, e.message))
}

/// The format a `Content-Type` names (`Fallback::Text` or
/// `Fallback::OpenMetrics`); anything else needs a fallback.
pub fn format_of(content_type: &str, fallback: Fallback) -> Result<Fallback, String> {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let format = match media.as_str() {
        "application/openmetrics-text" => Fallback::OpenMetrics,
        "text/plain" => Fallback::Text,
        _ => match fallback {
            Fallback::None => {
                return Err(format!(
                    "received unsupported Content-Type {content_type:?} and no fallback_scrape_protocol specified for target"
                ));
            }
            f => f,
        },
    };
    Ok(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_invalid_target_url_is_shown_without_its_password() {
        let target = HttpTarget {
            url: "http://scraper:hunter2@exa mple:9100/metrics".into(),
            client: Settings::default(),
            body_size_limit: 0,
            fallback: Fallback::None,
        };
        let error = Scraper::default()
            .fetch_exposition(&target, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(
            error
                .starts_with("invalid target URL \"http://scraper:xxxxx@exa mple:9100/metrics\": "),
            "{error}"
        );
        assert!(!error.contains("hunter2"), "{error}");
    }

    /// A target on 127.0.0.1 answering `a 1` in the text format to every
    /// request, and the heads of the requests it got.
    async fn text_target() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = std::sync::Arc::clone(&heads);
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.ends_with(b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).into_owned());
                let _ = tcp
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                          Content-Length: 4\r\nConnection: close\r\n\r\na 1\n",
                    )
                    .await;
            }
        });
        (address, heads)
    }

    #[tokio::test]
    async fn http_headers_and_credentials_are_sent_to_plain_http_targets() {
        use wasmetheus_http_client::{Auth, HeaderSource, SecretSource};
        let (address, heads) = text_target().await;
        let dir = tempfile::tempdir().unwrap();
        let password = dir.path().join("password");
        std::fs::write(&password, "s3cret\n").unwrap();
        let target = HttpTarget {
            url: format!("http://{address}/metrics"),
            client: Settings {
                auth: Some(Auth::Basic {
                    username: SecretSource::Text("alice".into()),
                    password: SecretSource::File(password.to_str().unwrap().into()),
                }),
                headers: vec![("X-Tenant".into(), HeaderSource::Value("t1".into()))],
                ..Settings::default()
            },
            body_size_limit: 0,
            fallback: Fallback::None,
        };
        let (format, body) = Scraper::default()
            .fetch_exposition(&target, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!((format, body.as_str()), (Fallback::Text, "a 1\n"));
        let head = heads.lock().unwrap()[0].to_ascii_lowercase();
        // base64("alice:s3cret"): the file's line break is trimmed.
        assert!(
            head.contains("\r\nauthorization: basic ywxpy2u6cznjcmv0\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nx-tenant: t1\r\n"), "{head}");
        // A password file that is gone fails the scrape, naming the file.
        std::fs::remove_file(&password).unwrap();
        let error = Scraper::default()
            .fetch_exposition(&target, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            error.starts_with(&format!(
                "unable to read basic_auth.password_file {}: ",
                password.display()
            )),
            "{error}"
        );
        assert_eq!(heads.lock().unwrap().len(), 1);
    }

    #[test]
    fn url_passwords_are_redacted_as_go_does() {
        for (url, shown) in [
            (
                "http://u:p@host:1/path?q=a:b@c",
                "http://u:xxxxx@host:1/path?q=a:b@c",
            ),
            ("https://u:p:q@h@host/", "https://u:xxxxx@host/"),
            ("http://user@host:1/", "http://user@host:1/"),
            ("http://host:1/a:b@c", "http://host:1/a:b@c"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn content_type_picks_the_parser() {
        let om = "# TYPE a counter\na_total 1\n# EOF\n";
        assert!(
            parse(
                om,
                "application/openmetrics-text; version=1.0.0",
                Fallback::None
            )
            .is_ok()
        );
        let text_body = "a 1\n";
        assert!(parse(text_body, "text/plain; version=0.0.4", Fallback::None).is_ok());
        let err = parse(text_body, "", Fallback::None).unwrap_err();
        assert!(err.contains("no fallback_scrape_protocol"), "{err}");
        assert!(parse(text_body, "", Fallback::Text).is_ok());
        // OpenMetrics without `# EOF` is malformed: the scrape fails.
        assert!(
            parse(
                "a_total 1\n",
                "application/openmetrics-text",
                Fallback::None
            )
            .is_err()
        );
    }
}
