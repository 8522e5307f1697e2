//! Test guest: creates host resources in a loop and keeps every one, as a
//! hoarder would: `pollables` (clock subscriptions), `fields` (wasi-http
//! header maps), `field-bytes` (one header map grown without end),
//! `descriptors` (open files under its `/proc` grant), `sockets` (TCP
//! sockets, under a `tcp_connect` grant) or `http-connections` (requests to
//! a granted origin that never answers), per the `kind` in its config. The host must stop it with an error naming the
//! limit long before its memory grows without bound.

use wasmetheus_sdk::{Error, Exporter, Metadata, Registry, config, export_exporter};

#[derive(serde::Deserialize)]
struct Config {
    kind: String,
    /// `host:port` of the HTTP server for `http-connections`.
    #[serde(default)]
    authority: String,
}

struct Hoarder {
    kind: String,
    authority: String,
}

/// HTTP requests sent at once by `http-connections`.
const REQUESTS: usize = 64;

/// Sends [`REQUESTS`] requests without waiting for any answer, then waits
/// for the last one: the host must refuse it rather than open that many
/// connections.
fn http_connections(authority: &str) -> Result<usize, Error> {
    use wasi::http::outgoing_handler;
    use wasi::http::types::{Fields, OutgoingRequest, Scheme};
    let mut pending = Vec::new();
    for _ in 0..REQUESTS {
        let request = OutgoingRequest::new(Fields::new());
        let invalid = |what: &str| Error::Other(format!("cannot set the request {what}"));
        request
            .set_scheme(Some(&Scheme::Http))
            .map_err(|()| invalid("scheme"))?;
        request
            .set_authority(Some(authority))
            .map_err(|()| invalid("authority"))?;
        request
            .set_path_with_query(Some("/"))
            .map_err(|()| invalid("path"))?;
        let response = outgoing_handler::handle(request, None)
            .map_err(|e| Error::Other(format!("request {} refused: {e:?}", pending.len() + 1)))?;
        pending.push(response);
    }
    let last = pending.last().expect("requests were sent");
    last.subscribe().block();
    match last.get() {
        Some(Ok(Err(e))) => Err(Error::Other(format!("request {REQUESTS} failed: {e:?}"))),
        _ => Ok(pending.len()),
    }
}

/// More than any per-instance cap; the host must end the loop first.
const ATTEMPTS: usize = 2_000_000;

impl Exporter for Hoarder {
    fn metadata() -> Metadata {
        Metadata::new("resource-hoarder", "0.1.0", "Hoards host resources")
    }

    fn open(config: &str) -> Result<Self, Error> {
        let config: Config = config::parse(config)?;
        Ok(Hoarder {
            kind: config.kind,
            authority: config.authority,
        })
    }

    fn collect(&mut self, out: &mut Registry) -> Result<(), Error> {
        let held = match self.kind.as_str() {
            "pollables" => {
                let mut held = Vec::new();
                for _ in 0..ATTEMPTS {
                    held.push(wasi::clocks::monotonic_clock::subscribe_duration(
                        3_600_000_000_000,
                    ));
                }
                held.len()
            }
            "fields" => {
                let mut held = Vec::new();
                for _ in 0..ATTEMPTS {
                    held.push(wasi::http::types::Fields::new());
                }
                held.len()
            }
            "sockets" => {
                use wasi::sockets::network::IpAddressFamily;
                use wasi::sockets::tcp_create_socket::create_tcp_socket;
                let mut held = Vec::new();
                for _ in 0..ATTEMPTS {
                    let socket = create_tcp_socket(IpAddressFamily::Ipv4).map_err(|e| {
                        Error::Other(format!("socket {} refused: {e:?}", held.len() + 1))
                    })?;
                    held.push(socket);
                }
                held.len()
            }
            "http-connections" => http_connections(&self.authority)?,
            "field-bytes" => {
                let fields = wasi::http::types::Fields::new();
                let value = vec![b'x'; 1024];
                for i in 0..ATTEMPTS {
                    fields
                        .append(&format!("x-{i}"), &value)
                        .map_err(|e| Error::Other(format!("append refused: {e:?}")))?;
                }
                fields.entries().len()
            }
            "descriptors" => {
                let mut held = Vec::new();
                for _ in 0..ATTEMPTS {
                    match std::fs::File::open("/proc/loadavg") {
                        Ok(file) => held.push(file),
                        Err(e) => {
                            return Err(Error::Other(format!(
                                "open failed after {} files: {e}",
                                held.len()
                            )));
                        }
                    }
                }
                held.len()
            }
            other => return Err(Error::Other(format!("unknown kind {other}"))),
        };
        out.gauge("hoarded", "Resources held at the end.")
            .set(held as f64);
        Ok(())
    }
}

export_exporter!(Hoarder);
