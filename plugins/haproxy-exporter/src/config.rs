//! The instance configuration: haproxy_exporter's `--haproxy.*` flags as
//! JSON settings, checked once at `open`.

use crate::stats::{DEFAULT_SERVER_FIELDS, Selection};
use serde::Deserialize;
use std::time::Duration;
use wasmetheus_sdk::Error;
use wasmetheus_sdk::http::Target;

/// The JSON Schema of the configuration.
pub const SCHEMA: &str = r#"{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "scrape_uri": {
      "type": "string",
      "default": "http://localhost/;csv",
      "description": "Where HAProxy's statistics are (--haproxy.scrape-uri): the CSV export of the stats page, http(s)://[user:password@]host[:port]/path;csv (grant the origin under grants.http_origins), or the stats socket exposed on TCP, tcp://host:port (grant host:port under grants.tcp_connect). unix: sockets are not reachable from the sandbox.",
      "writeOnly": true
    },
    "ssl_verify": {
      "type": "boolean",
      "default": true,
      "description": "Verify the certificate of an https scrape_uri (--haproxy.ssl-verify); it is always verified, false is refused."
    },
    "timeout": {
      "type": "string",
      "default": "5s",
      "description": "How long to wait for HAProxy (--haproxy.timeout), a Go duration such as 5s or 1500ms."
    },
    "server_metric_fields": {
      "type": "string",
      "default": "2,3,4,5,6,7,8,9,13,14,15,16,17,18,21,24,30,33,35,38,39,40,41,42,43,44,49,50,58,59,60,61",
      "description": "CSV columns exported for servers, separated by commas (--haproxy.server-metric-fields); empty exports no server metrics."
    },
    "server_exclude_states": {
      "type": "string",
      "default": "",
      "description": "Server states whose servers are left out, separated by commas, such as MAINT,DOWN (--haproxy.server-exclude-states)."
    },
    "max_body_bytes": {
      "type": "integer",
      "minimum": 1,
      "maximum": 1073741824,
      "default": 33554432,
      "description": "The largest statistics answer read, in bytes; a larger one fails the scrape (haproxy_up 0). Keep it under a third of the instance's memory_limit (128MiB by default)."
    }
  }
}"#;

/// The largest `max_body_bytes` accepted (the sandbox's memory ceiling).
const MAX_BODY_CEILING: u64 = 1 << 30;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Raw {
    scrape_uri: String,
    ssl_verify: bool,
    timeout: String,
    server_metric_fields: String,
    server_exclude_states: String,
    max_body_bytes: u64,
}

impl Default for Raw {
    fn default() -> Self {
        Raw {
            scrape_uri: "http://localhost/;csv".into(),
            ssl_verify: true,
            timeout: "5s".into(),
            server_metric_fields: DEFAULT_SERVER_FIELDS.into(),
            server_exclude_states: String::new(),
            // 32 MiB: the body, its copy while growing and the parsed
            // families fit the default memory_limit of 128 MiB.
            max_body_bytes: 32 << 20,
        }
    }
}

/// Where the statistics come from.
#[derive(Clone, PartialEq, Eq)]
pub enum Source {
    /// The stats page's CSV over HTTP(S).
    Http {
        target: Target,
        /// `Basic …` from the URL's user information.
        authorization: Option<String>,
    },
    /// The stats socket on TCP: `host:port`.
    Tcp { address: String },
}

/// Without the user information and the `Authorization` value.
impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Http {
                target,
                authorization,
            } => f
                .debug_struct("Http")
                .field("https", &target.https)
                .field("authority", &target.authority)
                .field("path_with_query", &target.path_with_query)
                .field("authorization", &authorization.as_ref().map(|_| "<secret>"))
                .finish(),
            Source::Tcp { address } => f.debug_struct("Tcp").field("address", address).finish(),
        }
    }
}

/// A checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: Source,
    /// The scrape URI as logs show it (password hidden).
    pub shown_uri: String,
    pub timeout: Duration,
    pub selection: Selection,
    pub max_body_bytes: usize,
}

impl Config {
    pub fn parse(json: &str) -> Result<Config, Error> {
        let raw: Raw = wasmetheus_sdk::config::parse(json)?;
        let shown_uri = shown(&raw.scrape_uri);
        let source = parse_source(&raw.scrape_uri, &shown_uri)?;
        if !raw.ssl_verify {
            return Err(Error::InvalidConfig(
                "ssl_verify: false is not supported: the sandbox's HTTP client always verifies \
                 certificates; give HAProxy a certificate its clients trust, or scrape over http:// \
                 or tcp:// on a trusted network"
                    .into(),
            ));
        }
        let timeout = parse_duration(&raw.timeout).map_err(|why| {
            Error::InvalidConfig(format!(
                "timeout {:?}: {why}; use a Go duration such as \"5s\" or \"1500ms\"",
                raw.timeout
            ))
        })?;
        let selection = Selection::parse(&raw.server_metric_fields, &raw.server_exclude_states)
            .map_err(Error::InvalidConfig)?;
        if raw.max_body_bytes == 0 || raw.max_body_bytes > MAX_BODY_CEILING {
            return Err(Error::InvalidConfig(format!(
                "max_body_bytes {} is out of range: give 1 to {MAX_BODY_CEILING}",
                raw.max_body_bytes
            )));
        }
        Ok(Config {
            source,
            shown_uri,
            timeout,
            selection,
            max_body_bytes: raw.max_body_bytes as usize,
        })
    }
}

/// `uri` as messages show it: the password replaced by `xxxxx`, the query
/// and fragment left out. Everything up to the last `@` after a `:` is
/// taken as user information, so a password holding an unencoded `/`, `?`
/// or `#` (which ends the authority for the URL parser) is hidden too.
fn shown(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        let uri = uri.split(['?', '#']).next().unwrap_or_default();
        // `scheme:user:password@…` without `//`: show the scheme only.
        return match uri.split_once(':') {
            Some((scheme, rest)) if rest.contains('@') => format!("{scheme}:xxxxx"),
            _ => uri.to_owned(),
        };
    };
    let (user, host) = match rest.rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _)) => (Some(format!("{user}:xxxxx")), &rest[at + 1..]),
            None => (Some(rest[..at].to_owned()), &rest[at + 1..]),
        },
        None => (None, rest),
    };
    let host = host.split(['?', '#']).next().unwrap_or_default();
    match user {
        Some(user) => format!("{scheme}://{user}@{host}"),
        None => format!("{scheme}://{host}"),
    }
}

fn parse_source(uri: &str, shown_uri: &str) -> Result<Source, Error> {
    let invalid = |why: String| Error::InvalidConfig(format!("scrape_uri {shown_uri:?}: {why}"));
    let scheme = uri
        .split_once(':')
        .map(|(s, _)| s.to_ascii_lowercase())
        .ok_or_else(|| {
            invalid("not a URI; use http://host/;csv, https://host/;csv or tcp://host:port".into())
        })?;
    match scheme.as_str() {
        "http" | "https" => {
            // The SDK's message repeats the URL its own way: keep only why.
            let target = Target::parse(uri).map_err(|e| {
                let why = e.to_string();
                invalid(why.rsplit_once(": ").map_or(why.clone(), |(_, w)| w.to_owned()))
            })?;
            // `user:pass/word@host`: the parser ends the authority at the
            // `/` and the password would go out as host and path.
            let after_authority = uri
                .split_once("://")
                .and_then(|(_, rest)| rest.get(target.authority.len()..))
                .unwrap_or_default();
            if target.userinfo.is_none()
                && target.authority.contains(':')
                && after_authority.contains('@')
            {
                return Err(invalid(
                    "an '@' after host:port looks like user:password@ with a password holding \
                     '/', '?' or '#'; percent-encode those in the password (%2F, %3F, %23), \
                     or write an '@' of the path as %40"
                        .into(),
                ));
            }
            check_port(&target.authority).map_err(|()| {
                invalid(
                    "the port after the host is not a number; if the password holds '/', '?' \
                     or '#', percent-encode them (%2F, %3F, %23)"
                        .into(),
                )
            })?;
            let authorization = target.userinfo.as_ref().map(|(user, password)| {
                use base64::Engine;
                let decode =
                    |s: &str| percent_encoding::percent_decode_str(s).collect::<Vec<u8>>();
                let mut credentials = decode(user);
                credentials.push(b':');
                credentials.extend(decode(password.as_deref().unwrap_or_default()));
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(credentials)
                )
            });
            Ok(Source::Http {
                target,
                authorization,
            })
        }
        "tcp" => {
            let rest = uri[4..].strip_prefix("//").ok_or_else(|| {
                invalid("write the stats socket's address as tcp://host:port".into())
            })?;
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            let address = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
            let port = address.rsplit_once(':').map(|(_, p)| p);
            match port {
                Some(p) if !p.is_empty() && p.parse::<u16>().is_ok() && !address.starts_with(':') => {
                    Ok(Source::Tcp {
                        address: address.to_owned(),
                    })
                }
                _ => Err(invalid(
                    "the stats socket's address needs a host and a port: tcp://host:port".into(),
                )),
            }
        }
        "unix" => Err(invalid(
            "the sandbox cannot reach unix sockets; expose HAProxy's stats socket on TCP \
             (in haproxy.cfg: `stats socket ipv4@127.0.0.1:9999 level user`), set scrape_uri to \
             tcp://127.0.0.1:9999 and grant it under grants.tcp_connect"
                .into(),
        )),
        "file" => Err(invalid(
            "file URIs are not supported: the plugin reads HAProxy's statistics over http(s):// or tcp://"
                .into(),
        )),
        other => Err(invalid(format!(
            "unsupported scheme {other:?}; use http, https or tcp"
        ))),
    }
}

/// Whether the port of `authority` (`host[:port]`, `[v6][:port]`), if
/// any, is a number.
fn check_port(authority: &str) -> Result<(), ()> {
    let after_host = match authority.rfind(']') {
        Some(close) => &authority[close + 1..],
        None => authority,
    };
    match after_host.rsplit_once(':') {
        Some((_, port)) if !port.is_empty() && port.parse::<u16>().is_err() => Err(()),
        _ => Ok(()),
    }
}

/// Parses a Go duration (`5s`, `1m30s`, `1500ms`, `0.5h`); it must be positive.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("empty".into());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_end]
            .parse()
            .map_err(|_| "expected a number before each unit".to_owned())?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err("missing unit (ns, us, ms, s, m or h)".into()),
            unit => return Err(format!("unknown unit {unit:?}")),
        };
        rest = &rest[unit_end..];
        total += number * seconds;
    }
    if total.is_nan() || total <= 0.0 || total > 86_400.0 {
        return Err("must be more than 0 and at most 24h".into());
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> String {
        match Config::parse(json) {
            Err(Error::InvalidConfig(m)) => m,
            other => panic!("{json}: {other:?}"),
        }
    }

    #[test]
    fn defaults_are_upstreams() {
        let c = Config::parse("{}").unwrap();
        assert_eq!(c.shown_uri, "http://localhost/;csv");
        let Source::Http {
            target,
            authorization,
        } = &c.source
        else {
            panic!("{:?}", c.source)
        };
        assert_eq!(
            (target.authority.as_str(), target.path_with_query.as_str()),
            ("localhost", "/;csv")
        );
        assert_eq!(authorization, &None);
        assert_eq!(c.timeout, Duration::from_secs(5));
        assert_eq!(c.selection, Selection::default());
        assert_eq!(c.max_body_bytes, 32 << 20);
    }

    #[test]
    fn basic_auth_from_the_url_and_no_password_in_errors() {
        let c = Config::parse(r#"{"scrape_uri": "https://ad%40min:p%3Ass@lb:8404/stats;csv"}"#)
            .unwrap();
        assert_eq!(c.shown_uri, "https://ad%40min:xxxxx@lb:8404/stats;csv");
        let Source::Http { authorization, .. } = c.source else {
            panic!()
        };
        // base64("ad@min:p:ss")
        assert_eq!(authorization.as_deref(), Some("Basic YWRAbWluOnA6c3M="));
        for bad in [
            r#"{"scrape_uri": "ftp://u:hunter2@h/"}"#,
            r#"{"scrape_uri": "tcp://u:hunter2@h"}"#,
            r#"{"scrape_uri": "http://u:hunter2@/x"}"#,
            r#"{"scrape_uri": "unix://u:hunter2@/run/haproxy.sock"}"#,
        ] {
            let m = err(bad);
            assert!(!m.contains("hunter2"), "{m}");
        }
    }

    #[test]
    fn passwords_with_unencoded_delimiters_stay_hidden() {
        for uri in [
            "http://admin:hun/ter2@lb:8404/;csv",
            "http://admin:hun?ter2@lb:8404/;csv",
            "http://admin:hun#ter2@lb:8404/;csv",
            "https://admin:12/hunter2@lb/;csv",
            "tcp://admin:hun/ter2@lb:9999",
            "tcp://admin:1/hunter2@lb:9999",
            "http:admin:hunter2@lb/;csv",
            "http://üser:hunter2@lb/;csv",
        ] {
            let json = format!(r#"{{"scrape_uri": {uri:?}}}"#);
            let (shown, message) = match Config::parse(&json) {
                Ok(c) => (c.shown_uri.clone(), format!("{c:?}")),
                Err(e) => (String::new(), e.to_string()),
            };
            for text in [&shown, &message] {
                assert!(
                    !text.contains("hun") && !text.contains("ter2"),
                    "{uri}: {text}"
                );
            }
        }
        assert!(err(r#"{"scrape_uri": "http://admin:hun/ter2@lb:8404/;csv"}"#).contains("%2F"),);
        assert_eq!(
            shown("https://admin:12/hunter2@lb/;csv?x=1"),
            "https://admin:xxxxx@lb/;csv"
        );
        assert_eq!(shown("http://lb:8404/;csv?a"), "http://lb:8404/;csv");
        let c = Config::parse(r#"{"scrape_uri": "http://u:hunter2@lb/;csv"}"#).unwrap();
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("Basic"),
            "{debug}"
        );
    }

    #[test]
    fn sources() {
        let c = Config::parse(r#"{"scrape_uri": "tcp://127.0.0.1:9999"}"#).unwrap();
        assert_eq!(
            c.source,
            Source::Tcp {
                address: "127.0.0.1:9999".into()
            }
        );
        let c = Config::parse(r#"{"scrape_uri": "TCP://[::1]:9999/ignored"}"#).unwrap();
        assert_eq!(
            c.source,
            Source::Tcp {
                address: "[::1]:9999".into()
            }
        );
        assert!(
            err(r#"{"scrape_uri": "unix:/run/haproxy/admin.sock"}"#)
                .contains("tcp://127.0.0.1:9999")
        );
        assert!(err(r#"{"scrape_uri": "tcp://host"}"#).contains("tcp://host:port"));
        assert!(err(r#"{"scrape_uri": "tcp://:80"}"#).contains("tcp://host:port"));
        assert!(err(r#"{"scrape_uri": "file:///tmp/x.csv"}"#).contains("not supported"));
        assert!(err(r#"{"scrape_uri": "gopher://x"}"#).contains("unsupported scheme"));
        assert!(err(r#"{"scrape_uri": "localhost"}"#).contains("not a URI"));
        assert!(err(r#"{"scrape_uri": "http://lb:http/;csv"}"#).contains("not a number"));
        assert!(Config::parse(r#"{"scrape_uri": "http://[::1]:8404/;csv"}"#).is_ok());
        assert!(Config::parse(r#"{"scrape_uri": "http://[::1]/;csv"}"#).is_ok());
    }

    #[test]
    fn settings_are_checked() {
        assert!(err(r#"{"ssl_verify": false}"#).contains("always verifies"));
        assert!(Config::parse(r#"{"ssl_verify": true}"#).is_ok());
        assert!(err(r#"{"timeout": "5"}"#).contains("missing unit"));
        assert!(err(r#"{"timeout": "0s"}"#).contains("more than 0"));
        assert!(err(r#"{"server_metric_fields": "1,a"}"#).contains("\"a\""));
        assert!(err(r#"{"max_body_bytes": 0}"#).contains("out of range"));
        assert!(err(r#"{"scrape-uri": "x"}"#).contains("unknown field"));
        let c = Config::parse(
            r#"{"timeout": "1m30.5s", "server_metric_fields": "17", "server_exclude_states": "MAINT"}"#,
        )
        .unwrap();
        assert_eq!(c.timeout, Duration::from_millis(90_500));
        assert_eq!(c.selection.server.len(), 1);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        for bad in ["", "s", "1x", "-1s", "1..2s", "25h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
