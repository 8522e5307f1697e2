//! Outgoing HTTP requests through `wasi:http`, for receivers: one request,
//! an overall deadline for the answer's head, and a bounded read of its
//! body. The host lets a request through only to a granted origin.
//!
//! Natively (unit tests) there is no host: [`send`] answers
//! [`HttpError::Unavailable`]. [`Target::parse`] is plain Rust.

use std::time::Duration;

/// Where a request goes: the parts of an `http`/`https` URL `wasi:http`
/// takes apart. User information in the URL is left out (send it as an
/// `Authorization` header); so is a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub https: bool,
    /// `host[:port]`.
    pub authority: String,
    /// Path and query, `/` at least.
    pub path_with_query: String,
    /// `user` and `password` from the URL, if it had them.
    pub userinfo: Option<(String, Option<String>)>,
}

/// `url` as errors may show it: a password in its user information as
/// `xxxxx` (as Prometheus shows URLs) and no query, which often carries a
/// token (errors reach the host's log and status pages). A password
/// holding an unencoded `/`, `?`, `#` or `@` is hidden whole: everything
/// up to the last `@` with a `:` before it counts as user information, so
/// a path or query with `@` in it may be hidden too, never a password shown.
pub fn shown(url: &str) -> String {
    let cut = |s: &str| s.split(['?', '#']).next().unwrap_or_default().to_owned();
    let Some((scheme, rest)) = url.split_once("://") else {
        return cut(url);
    };
    if let Some((info, host)) = rest.rsplit_once('@')
        && let Some((user, _)) = info.split_once(':')
    {
        return format!("{scheme}://{}:xxxxx@{}", cut(user), cut(host));
    }
    format!("{scheme}://{}", cut(rest))
}

impl Target {
    /// Splits `url`; only `http` and `https` URLs with a host are accepted.
    pub fn parse(url: &str) -> Result<Target, HttpError> {
        let invalid = |why: &str| HttpError::InvalidUrl(format!("{:?}: {why}", shown(url)));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("not an absolute URL"))?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "http" => false,
            "https" => true,
            _ => return Err(invalid("only http and https URLs are supported")),
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let (userinfo, authority) = match authority.rsplit_once('@') {
            Some((info, host)) => {
                let (user, password) = match info.split_once(':') {
                    Some((u, p)) => (u.to_owned(), Some(p.to_owned())),
                    None => (info.to_owned(), None),
                };
                (Some((user, password)), host)
            }
            None => (None, authority),
        };
        if authority.is_empty() || authority.starts_with(':') {
            return Err(invalid("no host"));
        }
        if authority
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid("the host has spaces or control characters"));
        }
        let path_with_query = match path {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_owned(),
        };
        Ok(Target {
            https,
            authority: authority.to_owned(),
            path_with_query,
            userinfo,
        })
    }
}

/// One request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub target: Target,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// How long to wait for the answer's head; `None` waits until the
    /// host's deadline ends the call.
    pub timeout: Option<Duration>,
    /// The most bytes of the answer's body read (the rest is left unread).
    pub max_response_body: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
}

/// An answer: its status and the first bytes of its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    InvalidUrl(String),
    /// The host refused: the origin was not granted.
    Denied(String),
    /// No answer within the timeout.
    Timeout(String),
    /// Connecting, sending or reading failed.
    Transport(String),
    /// No `wasi:http` here (a native build).
    Unavailable(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::InvalidUrl(m) => write!(f, "invalid URL {m}"),
            HttpError::Denied(m) => write!(f, "request denied by the host: {m}"),
            HttpError::Timeout(m) => write!(f, "timed out: {m}"),
            HttpError::Transport(m) | HttpError::Unavailable(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for HttpError {}

/// Sends `request` and waits for the answer.
#[cfg(not(target_arch = "wasm32"))]
pub fn send(request: &Request) -> Result<Response, HttpError> {
    Err(HttpError::Unavailable(format!(
        "HTTP requests need the wasmetheus host ({})",
        request.target.authority
    )))
}

/// Sends `request` and waits for the answer.
#[cfg(target_arch = "wasm32")]
pub fn send(request: &Request) -> Result<Response, HttpError> {
    wasm::send(request)
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    use super::{HttpError, Method, Request, Response};
    use wasi::http::outgoing_handler;
    use wasi::http::types::{
        ErrorCode, Fields, Method as WMethod, OutgoingBody, OutgoingRequest, Scheme,
    };
    use wasi::io::streams::StreamError;

    fn error(e: ErrorCode, what: &str) -> HttpError {
        match e {
            ErrorCode::HttpRequestDenied => HttpError::Denied(what.to_owned()),
            ErrorCode::ConnectionTimeout
            | ErrorCode::ConnectionReadTimeout
            | ErrorCode::ConnectionWriteTimeout
            | ErrorCode::HttpResponseTimeout => HttpError::Timeout(format!("{what}: {e:?}")),
            other => HttpError::Transport(format!("{what}: {other:?}")),
        }
    }

    pub fn send(request: &Request) -> Result<Response, HttpError> {
        let target = &request.target;
        // As errors show it: without the query (see `shown`).
        let url = super::shown(&format!(
            "{}://{}{}",
            if target.https { "https" } else { "http" },
            target.authority,
            target.path_with_query
        ));
        let mut headers: Vec<(String, Vec<u8>)> = request
            .headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.as_bytes().to_vec()))
            .collect();
        // A known length, as Go's client sends for a buffered body, rather
        // than chunks.
        if !headers.iter().any(|(n, _)| n == "content-length") {
            headers.push((
                "content-length".into(),
                request.body.len().to_string().into_bytes(),
            ));
        }
        let fields = Fields::from_list(&headers)
            .map_err(|e| HttpError::Transport(format!("invalid request header: {e:?}")))?;
        let outgoing = OutgoingRequest::new(fields);
        let invalid = |what: &str| HttpError::InvalidUrl(format!("{url}: invalid {what}"));
        outgoing
            .set_method(&match request.method {
                Method::Get => WMethod::Get,
                Method::Post => WMethod::Post,
                Method::Put => WMethod::Put,
            })
            .map_err(|()| invalid("method"))?;
        outgoing
            .set_scheme(Some(if target.https {
                &Scheme::Https
            } else {
                &Scheme::Http
            }))
            .map_err(|()| invalid("scheme"))?;
        outgoing
            .set_authority(Some(&target.authority))
            .map_err(|()| invalid("host"))?;
        outgoing
            .set_path_with_query(Some(&target.path_with_query))
            .map_err(|()| invalid("path"))?;
        let body = outgoing
            .body()
            .map_err(|()| HttpError::Transport("request body taken twice".into()))?;
        // No `request-options`: wasmtime's `handle` reads them but never
        // frees the handle it was given, one resource per request, so a
        // plugin sending a request per collect ran out of resources after a
        // few thousand collects. The timeout is kept here instead (below),
        // and the host's deadline bounds the call anyway.
        let started = wasi::clocks::monotonic_clock::now();
        let deadline = request.timeout.map(|timeout| {
            started.saturating_add(u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX))
        });
        let pending = outgoing_handler::handle(outgoing, None).map_err(|e| error(e, &url))?;
        // A request the host refuses fails its body stream first; the
        // answer then says why.
        let mut sent = Ok(());
        {
            let stream = body
                .write()
                .map_err(|()| HttpError::Transport("request body stream taken twice".into()))?;
            for chunk in request.body.chunks(4096) {
                if let Err(e) = stream.blocking_write_and_flush(chunk) {
                    sent = Err(HttpError::Transport(format!(
                        "{url}: sending the body: {e:?}"
                    )));
                    break;
                }
            }
        }
        if sent.is_ok() {
            sent = OutgoingBody::finish(body, None).map_err(|e| error(e, &url));
        }
        let ready = pending.subscribe();
        if let Err(e) = sent {
            ready.block();
            return Err(match pending.get() {
                Some(Ok(Err(code))) => error(code, &url),
                _ => e,
            });
        }
        if !wait(&ready, deadline) {
            return Err(HttpError::Timeout(format!(
                "{url}: no answer within {:?}",
                request.timeout.unwrap_or_default()
            )));
        }
        let response = pending
            .get()
            .ok_or_else(|| HttpError::Transport(format!("{url}: no answer")))?
            .map_err(|()| HttpError::Transport(format!("{url}: answer taken twice")))?
            .map_err(|e| error(e, &url))?;
        let status = response.status();
        let mut read = Vec::new();
        if request.max_response_body > 0
            && let Ok(incoming) = response.consume()
            && let Ok(stream) = incoming.stream()
        {
            while read.len() < request.max_response_body {
                let want = (request.max_response_body - read.len()).min(65536) as u64;
                let readable = stream.subscribe();
                let in_time = wait(&readable, deadline);
                drop(readable);
                if !in_time {
                    return Err(HttpError::Timeout(format!(
                        "{url}: the answer's body did not arrive within {:?}",
                        request.timeout.unwrap_or_default()
                    )));
                }
                match stream.read(want) {
                    Ok(bytes) => read.extend_from_slice(&bytes),
                    Err(StreamError::Closed) => break,
                    Err(StreamError::LastOperationFailed(_)) => break,
                }
            }
        }
        Ok(Response { status, body: read })
    }

    /// Blocks until `pollable` is ready or `deadline` (monotonic
    /// nanoseconds) passes; whether it became ready.
    fn wait(pollable: &wasi::io::poll::Pollable, deadline: Option<u64>) -> bool {
        match deadline {
            None => {
                pollable.block();
                true
            }
            Some(deadline) => {
                if pollable.ready() {
                    return true;
                }
                let timer = wasi::clocks::monotonic_clock::subscribe_instant(deadline);
                wasi::io::poll::poll(&[pollable, &timer]);
                pollable.ready()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_show_no_password_or_query() {
        assert_eq!(
            shown("https://u:hunter2@h:1/p?token=t#f"),
            "https://u:xxxxx@h:1/p"
        );
        assert_eq!(shown("http://u@h/p"), "http://u@h/p");
        // Passwords with characters a URL would have needed encoded.
        for password in ["hun/ter2", "hun?ter2", "hun#ter2", "hun@ter2", "a:b/c"] {
            let url = format!("http://admin:{password}@lb:8404/;csv?x=1");
            let text = shown(&url);
            assert_eq!(text, "http://admin:xxxxx@lb:8404/;csv", "{url}");
        }
        assert_eq!(shown("http://h/p?mail=a@b"), "http://h/p");
        assert_eq!(shown("not a url?x"), "not a url");
        let e = Target::parse("ftp://u:hunter2@h/?token=t").unwrap_err();
        let text = e.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("token"),
            "{text}"
        );
    }

    #[test]
    fn targets_of_urls() {
        let ok = |url: &str, https: bool, authority: &str, path: &str| {
            let t = Target::parse(url).unwrap();
            assert_eq!(
                (t.https, t.authority.as_str(), t.path_with_query.as_str()),
                (https, authority, path),
                "{url}"
            );
            t
        };
        ok(
            "http://127.0.0.1:5001/hook",
            false,
            "127.0.0.1:5001",
            "/hook",
        );
        ok("https://example.com", true, "example.com", "/");
        ok("HTTP://example.com?x=1#frag", false, "example.com", "/?x=1");
        ok("http://[::1]:9/a/b?c", false, "[::1]:9", "/a/b?c");
        let t = ok("http://user:p%40ss@host:1/x", false, "host:1", "/x");
        assert_eq!(t.userinfo, Some(("user".into(), Some("p%40ss".into()))));
        for bad in [
            "ftp://x/",
            "example.com/x",
            "http:///x",
            "http://:80/",
            "http://a b/",
        ] {
            assert!(
                matches!(Target::parse(bad), Err(HttpError::InvalidUrl(_))),
                "{bad}"
            );
        }
    }
}
