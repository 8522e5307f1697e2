//! A client built from [`Settings`]: its TLS configuration made once (at
//! [`Client::new`], so a configuration with unusable certificates fails
//! when it is applied), and one request at a time over a fresh HTTP/1.1
//! connection, plain or TLS, with the configured headers. The connection
//! is driven by the caller until the answer's head arrives, so a caller
//! that gives up (timeout, shutdown) closes it; after that it runs on its
//! own task while the body is read.

use std::sync::Arc;

use hyper::body::{Body, Incoming};
use hyper::header::HOST;
use hyper::{Request, Response, Uri};

use crate::Error;
use crate::settings::Settings;

/// An HTTP client for one set of settings.
#[derive(Clone)]
pub struct Client {
    settings: Settings,
    tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Checks the headers and builds the TLS configuration (reading the
    /// certificate files). Blocking.
    pub fn new(settings: Settings) -> Result<Client, Error> {
        settings.check()?;
        let tls = Arc::new(settings.tls.client_config()?);
        Ok(Client { settings, tls })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Sends `request` (an absolute `http` or `https` URI) with the
    /// configured headers and `Authorization`, and a `Host` header when
    /// it has none. The caller bounds the time it takes.
    pub async fn send<B>(&self, request: Request<B>) -> Result<Response<Incoming>, Error>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (mut parts, body) = request.into_parts();
        let uri = parts.uri.clone();
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            Some(other) => {
                return Err(Error::Transport(format!(
                    "unsupported protocol scheme {other:?}"
                )));
            }
            None => return Err(Error::Transport("unsupported protocol scheme \"\"".into())),
        };
        let host = uri
            .host()
            .ok_or_else(|| Error::Transport("no Host in request URL".into()))?;
        let bare_host = host.trim_start_matches('[').trim_end_matches(']');
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        for (name, value) in self.settings.request_headers().await? {
            parts.headers.append(name, value);
        }
        if !parts.headers.contains_key(HOST)
            && let Some(authority) = uri.authority()
            && let Ok(value) = authority.as_str().parse()
        {
            parts.headers.insert(HOST, value);
        }
        // Origin-form, as HTTP/1.1 expects on a direct connection.
        parts.uri = origin_form(&uri)?;
        let request = Request::from_parts(parts, body);
        let tcp = tokio::net::TcpStream::connect((bare_host, port))
            .await
            .map_err(|e| Error::Transport(format!("dial tcp {host}:{port}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        if https {
            let name = self
                .settings
                .tls
                .server_name
                .clone()
                .unwrap_or_else(|| bare_host.to_owned());
            let server_name = rustls::pki_types::ServerName::try_from(name.clone())
                .map_err(|e| Error::Transport(format!("TLS: invalid server name {name:?}: {e}")))?;
            let tls = tokio_rustls::TlsConnector::from(Arc::clone(&self.tls))
                .connect(server_name, tcp)
                .await
                .map_err(|e| Error::Transport(format!("TLS handshake: {e}")))?;
            send(hyper_util::rt::TokioIo::new(tls), request).await
        } else {
            send(hyper_util::rt::TokioIo::new(tcp), request).await
        }
    }
}

fn origin_form(uri: &Uri) -> Result<Uri, Error> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    path.parse()
        .map_err(|e| Error::Transport(format!("invalid request path: {e}")))
}

/// One request on a new connection, driven here until the answer's head
/// arrives, then on a task of its own while the body is read.
async fn send<T, B>(io: T, request: Request<B>) -> Result<Response<Incoming>, Error>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| Error::Transport(format!("HTTP handshake: {e}")))?;
    let mut connection = Box::pin(connection);
    let sent = sender.send_request(request);
    tokio::pin!(sent);
    let response = tokio::select! {
        biased;
        response = &mut sent => response,
        closed = &mut connection => match closed {
            Err(e) => return Err(Error::Transport(format!("connection: {e}"))),
            Ok(()) => sent.await,
        },
    };
    let response = response.map_err(|e| Error::Transport(format!("sending the request: {e}")))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(response)
}
