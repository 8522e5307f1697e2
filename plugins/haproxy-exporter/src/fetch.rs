//! Getting HAProxy's answers: the stats page over `wasi:http`, or a command
//! (`show stat`, `show info`) on the stats socket exposed on TCP, read
//! until HAProxy closes the connection. Both are bounded in size and time,
//! and their errors say what to change, never showing a password.

use crate::config::{Config, Source};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};
use wasmetheus_sdk::http::{self, HttpError, Method, Request};

/// `show stat`: the statistics CSV.
pub const SHOW_STAT: &str = "show stat\n";
/// `show info`: the process information, for `haproxy_version_info`.
pub const SHOW_INFO: &str = "show info\n";

/// Fetches the statistics CSV as `config` says.
pub fn stats(config: &Config) -> Result<Vec<u8>, String> {
    match &config.source {
        Source::Http {
            target,
            authorization,
        } => {
            let mut headers = Vec::new();
            if let Some(value) = authorization {
                headers.push(("Authorization".to_owned(), value.clone()));
            }
            let request = Request {
                method: Method::Get,
                target: target.clone(),
                headers,
                body: Vec::new(),
                timeout: Some(config.timeout),
                max_response_body: config.max_body_bytes.saturating_add(1),
            };
            let origin = format!(
                "{}://{}",
                if target.https { "https" } else { "http" },
                target.authority
            );
            let response = http::send(&request).map_err(|e| http_error(e, config, &origin))?;
            if !(200..300).contains(&response.status) {
                let hint = match response.status {
                    401 | 403 => "; check the user and password in scrape_uri (user:password@host)",
                    300..=399 => "; redirects are not followed, point scrape_uri at the final URL",
                    404 => "; check the path of the stats page (stats uri) and the ;csv suffix",
                    _ => "",
                };
                return Err(format!(
                    "can't scrape HAProxy at {}: HTTP status {}{hint}",
                    config.shown_uri, response.status
                ));
            }
            if response.body.len() > config.max_body_bytes {
                return Err(too_large(config));
            }
            Ok(response.body)
        }
        Source::Tcp { address } => command(address, SHOW_STAT, config),
    }
}

fn too_large(config: &Config) -> String {
    format!(
        "can't scrape HAProxy at {}: the answer is larger than max_body_bytes ({} bytes); \
         raise max_body_bytes (and the instance's memory_limit) if that much is expected",
        config.shown_uri, config.max_body_bytes
    )
}

fn http_error(e: HttpError, config: &Config, origin: &str) -> String {
    let uri = &config.shown_uri;
    match e {
        HttpError::Denied(_) => format!(
            "denied: http origin {origin} is not granted (add it under grants.http_origins) \
             to scrape {uri}"
        ),
        HttpError::Timeout(_) => format!(
            "can't scrape HAProxy at {uri}: no answer within the timeout of {:?}",
            config.timeout
        ),
        HttpError::InvalidUrl(m) => format!("can't scrape HAProxy: invalid URL {m}"),
        HttpError::Transport(m) | HttpError::Unavailable(m) => {
            // The SDK starts its messages with the URL already shown.
            let m = match m.split_once(": ") {
                Some((url, rest)) if url.starts_with("http") && !url.contains(' ') => rest,
                _ => &m,
            };
            let hint = if m.contains("ConnectionRefused") {
                " (is HAProxy's stats page listening there?)"
            } else if m.contains("DnsError") || m.contains("DnsTimeout") {
                " (check the host name of scrape_uri)"
            } else {
                ""
            };
            format!("can't scrape HAProxy at {uri}: {m}{hint}")
        }
    }
}

/// Sends `cmd` to the stats socket at `address` and reads the answer until
/// HAProxy closes the connection.
pub fn command(address: &str, cmd: &str, config: &Config) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + config.timeout;
    let what = cmd.trim_end();
    let fail = |why: String| format!("can't scrape HAProxy at tcp://{address} ({what}): {why}");
    let mut stream = connect(address, config.timeout).map_err(|e| {
        if e.starts_with("denied:") {
            format!("{e} to scrape HAProxy ({what})")
        } else {
            fail(e)
        }
    })?;
    // Best effort: without socket timeouts the host's deadline still ends
    // a call that hangs.
    let _ = stream.set_write_timeout(Some(config.timeout));
    stream
        .write_all(cmd.as_bytes())
        .map_err(|e| fail(format!("sending the command: {e}")))?;
    let mut body = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(fail(format!(
                "no complete answer within the timeout of {:?}",
                config.timeout
            )));
        }
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                if body.len() + n > config.max_body_bytes {
                    return Err(too_large(config));
                }
                body.extend_from_slice(&chunk[..n]);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(fail(format!(
                    "no complete answer within the timeout of {:?}",
                    config.timeout
                )));
            }
            Err(e) => return Err(fail(format!("reading the answer: {e}"))),
        }
    }
    Ok(body)
}

/// Connects to `address` (`host:port`) within `timeout`.
fn connect(address: &str, timeout: Duration) -> Result<TcpStream, String> {
    let addrs: Vec<SocketAddr> = match address.parse::<SocketAddr>() {
        Ok(addr) => vec![addr],
        Err(_) => address
            .to_socket_addrs()
            .map_err(|e| {
                format!(
                    "resolving {address}: {e} (resolving a name in the sandbox needs the dns grant; \
                     or use the IP address in scrape_uri)"
                )
            })?
            .collect(),
    };
    let mut last = format!("{address} resolves to no address");
    for addr in addrs {
        // On wasm32-wasip2, std's connect_timeout reports a refused
        // connection as connected (the first write then fails with "not
        // connected"); the blocking connect reports it, and the host's
        // deadline bounds it.
        let attempt = if cfg!(target_os = "wasi") {
            TcpStream::connect(addr)
        } else {
            TcpStream::connect_timeout(&addr, timeout)
        };
        match attempt {
            Ok(stream) => return Ok(stream),
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                return Err(format!(
                    "denied: tcp_connect to {address} is not granted (add it under grants.tcp_connect)"
                ));
            }
            Err(e) if e.kind() == ErrorKind::TimedOut => {
                last = format!("connecting to {addr}: no answer within {timeout:?}");
            }
            Err(e) => last = format!("connecting to {addr}: {e}"),
        }
    }
    Err(last)
}
