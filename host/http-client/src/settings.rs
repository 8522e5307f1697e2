//! A client's settings as plain data (compared to tell whether a client
//! changed on reload, printed without secrets), taken from Prometheus'
//! `HTTPClientConfig` by [`Settings::from_config`]; the settings it does
//! not implement are named by [`unsupported`], the one place that says
//! so; and the headers a request carries ([`Settings::request_headers`]),
//! their files read on the blocking pool.

use hyper::header::{AUTHORIZATION, HeaderName, HeaderValue};
use wasmetheus_config::HttpClientConfig;

use crate::Error;
use crate::auth::{Auth, SecretSource};
use crate::tls::{TlsSettings, TlsVersion};

/// One `http_headers` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderSource {
    /// From `values`.
    Value(String),
    /// From `secrets` or a file in `files`.
    Secret(SecretSource),
}

/// What a client does with each request besides sending it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// Used for `https` URLs.
    pub tls: TlsSettings,
    /// The `Authorization` header.
    pub auth: Option<Auth>,
    /// `http_headers`, in the configuration's order (a name once per value).
    pub headers: Vec<(String, HeaderSource)>,
}

/// The first setting of `http` this client does not implement, if any:
/// `oauth2`, proxies, secret references (`*_ref`) and a `max_version`
/// below TLS 1.2. A caller either
/// refuses the client with this reason or, where Prometheus' behaviour is
/// to be kept as it is today, goes on without the setting.
pub fn unsupported(http: &HttpClientConfig) -> Option<&'static str> {
    if http.oauth2.is_some() {
        return Some("oauth2");
    }
    if http.proxy_url.is_some() || http.proxy_from_environment {
        return Some("proxies");
    }
    let basic_refs = http
        .basic_auth
        .as_ref()
        .is_some_and(|b| !b.username_ref.is_empty() || !b.password_ref.is_empty());
    let token_ref = http
        .authorization
        .as_ref()
        .is_some_and(|a| !a.credentials_ref.is_empty());
    let tls_refs = http
        .tls_config
        .as_ref()
        .is_some_and(|t| !t.ca_ref.is_empty() || !t.cert_ref.is_empty() || !t.key_ref.is_empty());
    if basic_refs || token_ref || tls_refs {
        return Some("secret references");
    }
    // rustls speaks TLS 1.2 and 1.3 only.
    let max_version = http
        .tls_config
        .as_ref()
        .and_then(|t| t.max_version.as_deref())
        .and_then(TlsVersion::parse);
    if max_version.is_some_and(|v| v < TlsVersion::Tls12) {
        return Some("tls_config.max_version below TLS12");
    }
    None
}

impl Settings {
    /// The settings of `http` that this client implements (see
    /// [`unsupported`] for the others, which are left out here).
    pub fn from_config(http: &HttpClientConfig) -> Settings {
        let auth = if let Some(basic) = &http.basic_auth {
            Some(Auth::Basic {
                username: SecretSource::text_or_file(
                    Some(&basic.username),
                    Some(&basic.username_file),
                ),
                password: SecretSource::text_or_file(
                    basic.password.as_ref().map(|s| s.expose()),
                    basic.password_file.as_deref(),
                ),
            })
        } else if let Some(token) = &http.authorization {
            Some(Auth::Token {
                kind: token.kind.clone(),
                credentials: SecretSource::text_or_file(
                    token.credentials.as_ref().map(|s| s.expose()),
                    token.credentials_file.as_deref(),
                ),
            })
        } else if !http.bearer_token.is_empty() || !http.bearer_token_file.is_empty() {
            // Not moved into `authorization` by validation (yet).
            Some(Auth::Token {
                kind: "Bearer".into(),
                credentials: SecretSource::text_or_file(
                    Some(http.bearer_token.expose()),
                    Some(&http.bearer_token_file),
                ),
            })
        } else {
            None
        };
        let mut headers = Vec::new();
        for (name, header) in http.http_headers.iter().flatten() {
            for v in &header.values {
                headers.push((name.clone(), HeaderSource::Value(v.clone())));
            }
            for v in &header.secrets {
                let secret = SecretSource::Text(v.expose().to_owned());
                headers.push((name.clone(), HeaderSource::Secret(secret)));
            }
            for file in &header.files {
                let secret = SecretSource::File(file.clone());
                headers.push((name.clone(), HeaderSource::Secret(secret)));
            }
        }
        Settings {
            tls: http
                .tls_config
                .as_ref()
                .map(TlsSettings::from_config)
                .unwrap_or_default(),
            auth,
            headers,
        }
    }

    /// Checks what can be checked before a request: header names and the
    /// values written out. Files are read per request.
    pub fn check(&self) -> Result<(), Error> {
        for (name, source) in &self.headers {
            let name = header_name(name)?;
            if let HeaderSource::Value(v) | HeaderSource::Secret(SecretSource::Text(v)) = source {
                header_value(&name, v.clone())?;
            }
        }
        Ok(())
    }

    /// Whether a request needs a file read (and so the blocking pool).
    fn reads_files(&self) -> bool {
        let file = |s: &SecretSource| matches!(s, SecretSource::File(_));
        let auth = match &self.auth {
            Some(Auth::Basic { username, password }) => file(username) || file(password),
            Some(Auth::Token { credentials, .. }) => file(credentials),
            None => false,
        };
        auth || self
            .headers
            .iter()
            .any(|(_, s)| matches!(s, HeaderSource::Secret(SecretSource::File(_))))
    }

    /// The `http_headers` and the `Authorization` header of one request,
    /// files read now (on the blocking pool when there are any: a file on
    /// a hung filesystem holds no runtime thread, and the caller's timeout
    /// still ends the request).
    pub async fn request_headers(&self) -> Result<Vec<(HeaderName, HeaderValue)>, Error> {
        if !self.reads_files() {
            return self.request_headers_blocking();
        }
        let settings = self.clone();
        tokio::task::spawn_blocking(move || settings.request_headers_blocking())
            .await
            .map_err(|e| Error::Transport(format!("reading credentials: {e}")))?
    }

    /// [`Settings::request_headers`] on the calling thread.
    pub fn request_headers_blocking(&self) -> Result<Vec<(HeaderName, HeaderValue)>, Error> {
        let mut out = Vec::with_capacity(self.headers.len() + 1);
        for (name, source) in &self.headers {
            let name = header_name(name)?;
            let value = match source {
                HeaderSource::Value(v) => v.clone(),
                HeaderSource::Secret(secret) => secret.read("http_headers files")?,
            };
            let mut value = header_value(&name, value)?;
            value.set_sensitive(matches!(source, HeaderSource::Secret(_)));
            out.push((name, value));
        }
        if let Some(auth) = &self.auth {
            let mut value = header_value(&AUTHORIZATION, auth.header_value()?)?;
            value.set_sensitive(true);
            out.push((AUTHORIZATION, value));
        }
        Ok(out)
    }
}

fn header_name(name: &str) -> Result<HeaderName, Error> {
    HeaderName::try_from(name).map_err(|_| Error::Header {
        name: name.to_owned(),
        reason: "not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)".into(),
    })
}

/// The value, checked; the error does not show it (it may be a secret).
fn header_value(name: &HeaderName, value: String) -> Result<HeaderValue, Error> {
    HeaderValue::try_from(value).map_err(|_| Error::Header {
        name: name.as_str().to_owned(),
        reason: "the value holds a character a header cannot carry (a control character such \
                 as a line break)"
            .into(),
    })
}
