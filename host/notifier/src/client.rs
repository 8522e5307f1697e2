//! The HTTP client of one `alertmanagers` entry and the `POST` of a
//! batch. The client itself — `tls_config`, `basic_auth`, `authorization`
//! (and `bearer_token*`), `http_headers`, secret files read at every
//! request (trimmed, bounded, on the blocking pool) — is
//! `wasmetheus-http-client`'s; certificates are read when the
//! configuration is applied.
//!
//! Not supported: `oauth2`, `sigv4`, proxies, secret references
//! (`*_ref`), TLS below 1.2 (`wasmetheus_http_client::unsupported`). An entry using one is not sent to (rather than sent to
//! without it), and says why (`Manager::disabled_configs`, the log).
//! Redirects are not followed.

use bytes::Bytes;
use http_body_util::Full;
use wasmetheus_config::AlertmanagerConfig;
use wasmetheus_http_client::{Error, Settings};

use crate::NotifierError;

/// Sent with every request.
const USER_AGENT: &str = concat!("wasmetheus/", env!("CARGO_PKG_VERSION"));

/// How requests to the Alertmanagers of one config are made.
#[derive(Clone, Debug)]
pub(crate) struct Client(wasmetheus_http_client::Client);

impl Client {
    /// The client `config`'s HTTP settings describe;
    /// [`NotifierError::Unsupported`] names a setting not implemented.
    pub(crate) fn new(config: &AlertmanagerConfig) -> Result<Client, NotifierError> {
        let http = config.http();
        let unsupported = wasmetheus_http_client::unsupported(&http)
            .or_else(|| config.sigv4.is_some().then_some("sigv4"));
        if let Some(what) = unsupported {
            return Err(NotifierError::Unsupported(what.to_owned()));
        }
        wasmetheus_http_client::Client::new(Settings::from_config(&http))
            .map(Client)
            .map_err(|e| match e {
                Error::Tls(message) => NotifierError::Tls(message),
                other => NotifierError::Config(other.to_string()),
            })
    }

    /// `POST`s `body` (JSON) to `url`; any 2xx answer is success, as in
    /// Prometheus. The caller bounds the time it takes.
    pub(crate) async fn post(&self, url: &str, body: Bytes) -> Result<(), String> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("invalid URL: {e}"))?;
        let request = hyper::Request::post(uri)
            .header(hyper::header::USER_AGENT, USER_AGENT)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|e| format!("building the request: {e}"))?;
        let response = self.0.send(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("bad response status {status}"));
        }
        Ok(())
    }
}
