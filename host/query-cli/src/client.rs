//! client_golang's API client as promtool uses it: the server URL, the
//! requests (a POSTed form falling back to GET, or a GET), transport
//! errors worded as Go's `url.Error`, and `apiClientImpl.Do`'s reading of
//! the answer's envelope (`status`, `data`, `errorType`, `error`,
//! `warnings`).
//!
//! The server URL is checked and split by the [`url`] crate; escaping is
//! [`percent_encoding`] with Go's sets. Go keeps the host as written (for
//! the `Host` header, the dialled address and the messages), so the
//! authority is taken from the text, not from the URL crate's normalised
//! form.

use crate::Error;
use crate::gotime::go_quote;
use crate::json;
use crate::json::jsoniter_error;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use percent_encoding::percent_decode_str;
use std::collections::BTreeMap;
use std::time::Duration;

/// promtool's client gives up after two minutes.
const TIMEOUT: Duration = Duration::from_secs(120);

pub(crate) use wasmetheus_model::go::{escape_path, query_escape};

/// `url.ParseQuery`, keeping what parses: pairs with a `;` are dropped,
/// bad `%` escapes kept as written.
pub(crate) fn parse_query(raw: &str) -> Vec<(String, String)> {
    let kept: Vec<&str> = raw.split('&').filter(|pair| !pair.contains(';')).collect();
    url::form_urlencoded::parse(kept.join("&").as_bytes())
        .into_owned()
        .collect()
}

/// Go's `path.Join(base, ep)`: joined, then `path.Clean`ed. Label names go
/// into the path unescaped, so `..` in one climbs as in Go.
fn join_path(base: &str, ep: &str) -> String {
    // Rooted, so `..` stops at `/`.
    wasmetheus_model::go::clean_path(&format!("/{base}/{ep}"))
}

pub(crate) struct Client {
    /// `host[:port]` as written, for the Host header and messages.
    authority: String,
    /// Where to connect: the authority with the default port.
    connect_to: String,
    /// The URL's path, decoded, without trailing slashes.
    base_path: String,
    /// The URL's own query parameters, sent along with every request.
    base_query: Vec<(String, String)>,
    base_raw_query: Option<String>,
    headers: Vec<(String, String)>,
}

/// An answer with a 2xx, 400 or 422 status and a JSON body, as
/// client_golang's `apiClientImpl.Do` splits it.
pub(crate) struct Answer {
    /// The whole body: error contexts quote from it.
    pub(crate) body: Vec<u8>,
    /// Where `data` is in `body`, if present and not null.
    pub(crate) data: Option<json::Node>,
    pub(crate) warnings: Vec<String>,
    error: Option<String>,
}

impl Answer {
    /// The answer, or the server's error (`query error: TYPE: TEXT`).
    pub(crate) fn into_result(self) -> Result<Answer, Error> {
        match self.error {
            Some(e) => Err(Error::Query(e)),
            None => Ok(self),
        }
    }

    /// The bytes of `data` (empty when absent or null, as jsoniter's
    /// `json.RawMessage` has them).
    pub(crate) fn data_bytes(&self) -> &[u8] {
        match &self.data {
            Some(node) if !matches!(node.kind, json::Kind::Null) => &self.body[node.span.clone()],
            _ => b"",
        }
    }
}

impl Client {
    /// A client of `server` (`http://host[:port][/path][?query]`, or
    /// `//host…`), sending `headers` (the last value of a name wins).
    pub(crate) fn new(server: &str, headers: Vec<(String, String)>) -> Result<Client, Error> {
        // Only these two spellings: the URL crate would also read `http:/h`.
        let rest = if server.len() >= 7 && server[..7].eq_ignore_ascii_case("http://") {
            &server[7..]
        } else if let Some(rest) = server.strip_prefix("//") {
            rest
        } else {
            return Err(Error::Argument(format!(
                "unsupported server URL {server:?}: only http:// URLs are supported"
            )));
        };
        let invalid = |why: &str| Error::Argument(format!("invalid server URL {server:?}: {why}"));
        let url = url::Url::parse(&format!("http://{rest}")).map_err(|e| match e {
            url::ParseError::EmptyHost => invalid("no host"),
            e => invalid(&format!("{e}; write it as http://HOST[:PORT][/PATH]")),
        })?;
        // The authority as written (Go's `URL.Host`).
        let authority = &rest[..rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len())];
        if authority.is_empty() {
            return Err(invalid("no host"));
        }
        if authority.contains('@') {
            return Err(invalid("credentials are not supported"));
        }
        let has_port = match authority.rfind(']') {
            Some(bracket) => authority[bracket..].contains(':'),
            None => authority.contains(':'),
        };
        let connect_to = if has_port {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let base_path = percent_decode_str(url.path())
            .decode_utf8_lossy()
            .trim_end_matches('/')
            .to_owned();
        let base_raw_query = url.query().map(str::to_owned);
        let base_query = base_raw_query
            .as_deref()
            .map(parse_query)
            .unwrap_or_default();
        // kingpin's map: the last value of a key wins.
        let mut unique: Vec<(String, String)> = Vec::new();
        for (k, v) in headers {
            unique.retain(|(old, _)| *old != k);
            unique.push((k, v));
        }
        Ok(Client {
            authority: authority.to_owned(),
            connect_to,
            base_path,
            base_query,
            base_raw_query,
            headers: unique,
        })
    }

    /// The escaped path of endpoint `ep` under the server's path
    /// (`path.Join`, then `URL.EscapedPath`).
    fn path(&self, ep: &str) -> String {
        escape_path(&join_path(&self.base_path, ep))
    }

    fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{}", self.authority, path_and_query)
    }

    /// The URL's own parameters plus `params` (which replace same-named
    /// ones, as `url.Values.Set`; `match[]` is added), encoded.
    fn encode(&self, params: Vec<(&str, String)>) -> String {
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in &self.base_query {
            values.entry(k.clone()).or_default().push(v.clone());
        }
        for (k, v) in params {
            if k == "match[]" {
                values.entry(k.to_owned()).or_default().push(v);
            } else {
                values.insert(k.to_owned(), vec![v]);
            }
        }
        let mut out = String::new();
        for (k, vs) in &values {
            for v in vs {
                if !out.is_empty() {
                    out.push('&');
                }
                out.push_str(&query_escape(k));
                out.push('=');
                out.push_str(&query_escape(v));
            }
        }
        out
    }

    /// client_golang's `DoGetFallback`: a POSTed form, again as a GET if
    /// the server answers 405 or 501.
    pub(crate) async fn post_with_fallback(
        &self,
        ep: &str,
        params: Vec<(&str, String)>,
    ) -> Result<Answer, Error> {
        let path = self.path(ep);
        let form = self.encode(params);
        let target = match &self.base_raw_query {
            Some(q) => format!("{path}?{q}"),
            None => path.clone(),
        };
        let (status, body) = self.exchange("POST", &target, Some(form.clone())).await?;
        let (status, body) = if status == 405 || status == 501 {
            self.exchange("GET", &format!("{path}?{form}"), None)
                .await?
        } else {
            (status, body)
        };
        read_answer(status, body)?.into_result()
    }

    pub(crate) async fn get(&self, ep: &str, params: Vec<(&str, String)>) -> Result<Answer, Error> {
        self.get_raw(ep, params).await?.into_result()
    }

    /// A GET whose API error is left in the answer (labels prints the
    /// warnings first).
    pub(crate) async fn get_raw(
        &self,
        ep: &str,
        params: Vec<(&str, String)>,
    ) -> Result<Answer, Error> {
        let target = format!("{}?{}", self.path(ep), self.encode(params));
        let (status, body) = self.exchange("GET", &target, None).await?;
        read_answer(status, body)
    }

    /// One request on a fresh connection; transport errors worded as Go's
    /// `url.Error` (`Post "URL": dial tcp …`).
    async fn exchange(
        &self,
        method: &str,
        target: &str,
        form: Option<String>,
    ) -> Result<(u16, Vec<u8>), Error> {
        let go_method = if method == "POST" { "Post" } else { "Get" };
        let url = self.url(target);
        match tokio::time::timeout(TIMEOUT, self.exchange_inner(method, target, form)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(Error::Query(format!("{go_method} {}: {e}", go_quote(&url)))),
            Err(_) => Err(Error::Query(format!(
                "{go_method} {}: context deadline exceeded",
                go_quote(&url)
            ))),
        }
    }

    async fn exchange_inner(
        &self,
        method: &str,
        target: &str,
        form: Option<String>,
    ) -> Result<(u16, Vec<u8>), String> {
        let host = self
            .connect_to
            .rsplit_once(':')
            .map_or(self.connect_to.as_str(), |(h, _)| h);
        let addresses: Vec<std::net::SocketAddr> = tokio::net::lookup_host(&self.connect_to)
            .await
            .map_err(|_| {
                format!(
                    "dial tcp: lookup {}: no such host",
                    host.trim_start_matches('[').trim_end_matches(']')
                )
            })?
            .collect();
        // Go tries each address in turn and reports the first failure.
        let mut first_error = None;
        let mut stream = None;
        for address in &addresses {
            match tokio::net::TcpStream::connect(address).await {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => {
                    first_error.get_or_insert_with(|| {
                        format!(
                            "dial tcp {address}: connect: {}",
                            wasmetheus_model::go::io_error_text(&e)
                        )
                    });
                }
            }
        }
        let Some(stream) = stream else {
            return Err(
                first_error.unwrap_or_else(|| format!("dial tcp: lookup {host}: no such host"))
            );
        };
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| hyper_error_text(&e))?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(target)
            .header(hyper::header::HOST, &self.authority);
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if form.is_some() {
            request = request.header(
                hyper::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
        }
        let request = request
            .body(Full::new(Bytes::from(form.unwrap_or_default())))
            .map_err(|e| format!("net/http: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| hyper_error_text(&e))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| hyper_error_text(&e))?
            .to_bytes()
            .to_vec();
        driver.abort();
        Ok((status, body))
    }
}

fn hyper_error_text(e: &hyper::Error) -> String {
    if e.is_incomplete_message() {
        // What Go's transport says when the server hangs up early.
        "EOF".to_owned()
    } else {
        e.to_string()
    }
}

/// client_golang's `apiClientImpl.Do`: statuses other than 2xx, 400 and
/// 422 are errors quoting the body; others must be the API's JSON.
fn read_answer(status: u16, body: Vec<u8>) -> Result<Answer, Error> {
    if status / 100 != 2 && status != 400 && status != 422 {
        let (kind, message) = match status / 100 {
            4 => ("client_error", format!("client error: {status}")),
            5 => ("server_error", format!("server error: {status}")),
            _ => ("bad_response", format!("bad response code {status}")),
        };
        if body.is_empty() {
            return Err(Error::Query(format!("{kind}: {message}")));
        }
        let detail = String::from_utf8_lossy(&body);
        return Err(Error::Query(format!(
            "{kind}: {message} (detail: {})",
            detail.trim()
        )));
    }
    let bad = |message: String| Error::Query(format!("bad_response: {message}"));
    let mut answer = Answer {
        body,
        data: None,
        warnings: Vec::new(),
        error: None,
    };
    if status == 204 {
        return Ok(answer);
    }
    let root = match json::parse(&answer.body) {
        Ok(root) => root,
        Err(e) => {
            // jsoniter's first complaint when the body is not an object.
            let b = &answer.body;
            let first = b
                .iter()
                .position(|c| !matches!(c, b' ' | b'\n' | b'\t' | b'\r'));
            let message = match first {
                Some(at) if b[at] != b'{' && b[at] != b'n' => jsoniter_error(
                    b,
                    at + 1,
                    "readObjectStart",
                    &format!(
                        "expect {{ or n, but found {}",
                        String::from_utf8_lossy(&b[at..at + 1])
                    ),
                ),
                None => jsoniter_error(b, 0, "readObjectStart", "expect { or n, but found \0"),
                Some(_) => e,
            };
            return Err(bad(message));
        }
    };
    let json::Kind::Object(fields) = root.kind else {
        return Err(bad("the answer is not a JSON object".to_owned()));
    };
    let (mut api_status, mut error_type, mut error) = (String::new(), String::new(), String::new());
    // encoding/json matches field names case-insensitively; the last wins.
    for (key, node) in fields {
        let text = |node: &json::Node| -> Result<String, Error> {
            match &node.kind {
                json::Kind::Str(s) => Ok(s.clone()),
                json::Kind::Null => Ok(String::new()),
                _ => Err(bad(format!("{key:?} is not a string"))),
            }
        };
        if key.eq_ignore_ascii_case("status") {
            api_status = text(&node)?;
        } else if key.eq_ignore_ascii_case("errorType") {
            error_type = text(&node)?;
        } else if key.eq_ignore_ascii_case("error") {
            error = text(&node)?;
        } else if key.eq_ignore_ascii_case("data") {
            answer.data = Some(node);
        } else if key.eq_ignore_ascii_case("warnings") {
            answer.warnings = match &node.kind {
                json::Kind::Null => Vec::new(),
                json::Kind::Array(items) => items.iter().map(&text).collect::<Result<_, _>>()?,
                _ => return Err(bad("\"warnings\" is not a list".to_owned())),
            };
        }
    }
    if (status == 400 || status == 422) && api_status == "success" {
        answer.error = Some("bad_response: inconsistent body for response code".to_owned());
    }
    if api_status == "error" {
        answer.error = Some(format!("{error_type}: {error}"));
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Go's documented examples, and what the hand-written escapers wrote.
    #[test]
    fn escaping_is_gos() {
        // net/url's ExampleQueryEscape.
        assert_eq!(
            query_escape("my/cool+blog&about,stuff"),
            "my%2Fcool%2Bblog%26about%2Cstuff"
        );
        // URL{Path: "/my/cool+blog&about,stuff"}.EscapedPath().
        assert_eq!(
            escape_path("/my/cool+blog&about,stuff"),
            "/my/cool+blog&about,stuff"
        );
        let cases = [
            ("", "", ""),
            ("a b", "a+b", "a%20b"),
            ("~-_.*!'()", "~-_.%2A%21%27%28%29", "~-_.%2A%21%27%28%29"),
            ("é€", "%C3%A9%E2%82%AC", "%C3%A9%E2%82%AC"),
            ("a=b&c;d", "a%3Db%26c%3Bd", "a=b&c;d"),
            ("%41", "%2541", "%2541"),
            ("\0\n\t", "%00%0A%09", "%00%0A%09"),
            (
                "$&+,/:;=?@#[]<>\"{}|\\^`",
                "%24%26%2B%2C%2F%3A%3B%3D%3F%40%23%5B%5D%3C%3E%22%7B%7D%7C%5C%5E%60",
                "$&+,/:;=%3F@%23%5B%5D%3C%3E%22%7B%7D%7C%5C%5E%60",
            ),
            (" a  b ", "+a++b+", "%20a%20%20b%20"),
        ];
        for (text, query, path) in cases {
            assert_eq!(query_escape(text), query, "{text:?}");
            assert_eq!(escape_path(text), path, "{text:?}");
        }
    }

    #[test]
    fn queries_parse_as_go_keeps_them() {
        let pairs = |raw: &str| -> Vec<(String, String)> { parse_query(raw) };
        let owned = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(pairs(""), owned(&[]));
        assert_eq!(pairs("a=1&b=2"), owned(&[("a", "1"), ("b", "2")]));
        assert_eq!(
            pairs("a=1&a=2&&b"),
            owned(&[("a", "1"), ("a", "2"), ("b", "")])
        );
        assert_eq!(pairs("a=x+y%20z"), owned(&[("a", "x y z")]));
        assert_eq!(pairs("k;x=1&b=2"), owned(&[("b", "2")]));
        assert_eq!(pairs("a=%zz&b=%4"), owned(&[("a", "%zz"), ("b", "%4")]));
        assert_eq!(pairs("%E2%82=1"), owned(&[("\u{fffd}", "1")]));
        assert_eq!(pairs("=v&k="), owned(&[("", "v"), ("k", "")]));
        assert_eq!(pairs("a=b=c"), owned(&[("a", "b=c")]));
    }

    /// The server URL's parts and the requests' paths and forms.
    #[test]
    fn server_urls() {
        let show = |server: &str| -> String {
            match Client::new(server, vec![]) {
                Ok(c) => format!(
                    "{} {} {:?} {:?} {:?} {} {}",
                    c.authority,
                    c.connect_to,
                    c.base_path,
                    c.base_query,
                    c.base_raw_query,
                    c.path("/api/v1/label/a b/../x%y/values"),
                    c.encode(vec![
                        ("time", "1".into()),
                        ("match[]", "up{a=\"b c\"}".into())
                    ])
                ),
                Err(e) => format!("error: {e}"),
            }
        };
        let form = "match%5B%5D=up%7Ba%3D%22b+c%22%7D&time=1";
        let ep = "api/v1/label/x%25y/values";
        assert_eq!(
            show("http://h"),
            format!("h h:80 \"\" [] None /{ep} {form}")
        );
        assert_eq!(
            show("http://h/"),
            format!("h h:80 \"\" [] None /{ep} {form}")
        );
        assert_eq!(
            show("HTTP://h:9090/p/"),
            format!("h:9090 h:9090 \"/p\" [] None /p/{ep} {form}")
        );
        assert_eq!(
            show("//h:1/a/../b/./c//d"),
            format!("h:1 h:1 \"/b/c//d\" [] None /b/c/d/{ep} {form}")
        );
        assert_eq!(
            show("http://h/x%2Fy?a=b%zz&c=d;e&f=g+h"),
            format!(
                "h h:80 \"/x/y\" [(\"a\", \"b%zz\"), (\"f\", \"g h\")] \
                 Some(\"a=b%zz&c=d;e&f=g+h\") /x/y/{ep} a=b%25zz&f=g+h&{form}"
            )
        );
        assert_eq!(
            show("http://h#frag"),
            format!("h h:80 \"\" [] None /{ep} {form}")
        );
        assert_eq!(
            show("http://h/p?q=1#f"),
            format!(
                "h h:80 \"/p\" [(\"q\", \"1\")] Some(\"q=1\") /p/{ep} \
                 match%5B%5D=up%7Ba%3D%22b+c%22%7D&q=1&time=1"
            )
        );
        assert_eq!(
            show("http://h/ä ö"),
            format!("h h:80 \"/ä ö\" [] None /%C3%A4%20%C3%B6/{ep} {form}")
        );
        assert_eq!(
            show("http://[::1]"),
            format!("[::1] [::1]:80 \"\" [] None /{ep} {form}")
        );
        assert_eq!(
            show("http://[::1]:8080/x"),
            format!("[::1]:8080 [::1]:8080 \"/x\" [] None /x/{ep} {form}")
        );
        // Go keeps the host as written; so do we.
        assert_eq!(
            show("http://LOCALHOST:80"),
            format!("LOCALHOST:80 LOCALHOST:80 \"\" [] None /{ep} {form}")
        );
        assert_eq!(
            show("http://h?"),
            format!("h h:80 \"\" [] Some(\"\") /{ep} {form}")
        );
        assert_eq!(
            show("http://h/%"),
            format!("h h:80 \"/%\" [] None /%25/{ep} {form}")
        );
        assert_eq!(
            show("http://h/a%2e%2e/b"),
            format!("h h:80 \"/a../b\" [] None /a../b/{ep} {form}")
        );
        assert_eq!(
            show("http://h/?match[]=up&time=1"),
            "h h:80 \"\" [(\"match[]\", \"up\"), (\"time\", \"1\")] \
             Some(\"match[]=up&time=1\") /api/v1/label/x%25y/values \
             match%5B%5D=up&match%5B%5D=up%7Ba%3D%22b+c%22%7D&time=1"
        );
        // Where the URL crate's reading shows: the query re-escaped (the
        // parameters are the same), `\\` read as `/`.
        assert_eq!(
            show("http://h/?f=g h"),
            format!("h h:80 \"\" [(\"f\", \"g h\")] Some(\"f=g%20h\") /{ep} f=g+h&{form}")
        );
        assert_eq!(
            show("http://h\\x/y"),
            format!("h h:80 \"/x/y\" [] None /x/y/{ep} {form}")
        );
        for (server, error) in [
            (
                "http://u:p@h",
                "invalid server URL \"http://u:p@h\": credentials are not supported",
            ),
            (
                "https://h",
                "unsupported server URL \"https://h\": only http:// URLs are supported",
            ),
            ("http://", "invalid server URL \"http://\": no host"),
            (
                "ftp://h",
                "unsupported server URL \"ftp://h\": only http:// URLs are supported",
            ),
            (
                "h:9090",
                "unsupported server URL \"h:9090\": only http:// URLs are supported",
            ),
            (
                "http:/h",
                "unsupported server URL \"http:/h\": only http:// URLs are supported",
            ),
            (
                "http://a b:1",
                "invalid server URL \"http://a b:1\": invalid international domain name; \
                 write it as http://HOST[:PORT][/PATH]",
            ),
            (
                "http://h:abc",
                "invalid server URL \"http://h:abc\": invalid port number; \
                 write it as http://HOST[:PORT][/PATH]",
            ),
        ] {
            assert_eq!(show(server), format!("error: {error}"), "{server}");
        }
    }
}
