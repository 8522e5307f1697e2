//! The web config in force and the middleware every route sits behind.
//!
//! As the exporter toolkit: the file is read again for every request (its
//! users, headers) and every new TLS connection (its certificates), so a
//! replaced certificate or password file takes effect without a restart;
//! an unchanged file (compared byte for byte) is not parsed again, and an
//! unchanged set of certificate files does not rebuild the TLS settings.
//! Whether TLS is on, HTTP/2 and the rate limit are decided at start.

use crate::auth::{Authenticator, parse_basic};
use crate::config::WebConfig;
use crate::tls::Material;
use crate::{WebConfigError, tls};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// TLS settings and the config and files they were built from.
type BuiltTls = (Arc<WebConfig>, Material, Arc<rustls::ServerConfig>);

/// `--web.config.file` in force.
pub struct WebSecurity {
    path: PathBuf,
    /// The file's bytes as last parsed, and what they gave.
    parsed: Mutex<Option<(Vec<u8>, Arc<WebConfig>)>>,
    /// Whether the server speaks TLS (the file at start turned it on).
    tls: bool,
    /// HTTP/2 offered over TLS (the file at start).
    http2: bool,
    /// The TLS settings of the last new connection, and what they were
    /// built from.
    tls_built: Mutex<Option<BuiltTls>>,
    limiter: Option<Mutex<TokenBucket>>,
    auth: Authenticator,
    /// When a failed login was last logged, and how many were not logged
    /// since: one client repeating a wrong password (answered from the
    /// cache, in microseconds) must not flood the log.
    failures_logged: Mutex<(Option<std::time::Instant>, u64)>,
}

impl std::fmt::Debug for WebSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSecurity")
            .field("path", &self.path)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl WebSecurity {
    /// Reads and checks the file as `promtool check web-config` does
    /// (certificates included); an error names what to fix.
    pub fn load(path: &Path) -> Result<Arc<WebSecurity>, WebConfigError> {
        let bytes = read(path)?;
        let config = Arc::new(parse(&bytes, path)?);
        let tls = config.tls_server_config.is_enabled();
        let http2 = config.http_server_config.http2;
        let tls_built = if tls {
            let material = tls::read_material(&config.tls_server_config)?;
            let built = tls::build_from(&config.tls_server_config, &material, http2)?;
            for warning in &built.warnings {
                tracing::warn!("{}: {warning}", path.display());
            }
            Some((Arc::clone(&config), material, built.config))
        } else {
            None
        };
        let rate = &config.rate_limit;
        let limiter = (!rate.interval.is_zero())
            .then(|| Mutex::new(TokenBucket::new(rate.interval, rate.burst)));
        Ok(Arc::new(WebSecurity {
            path: path.to_owned(),
            parsed: Mutex::new(Some((bytes, Arc::clone(&config)))),
            tls,
            http2,
            tls_built: Mutex::new(tls_built),
            limiter,
            auth: Authenticator::default(),
            failures_logged: Mutex::new((None, 0)),
        }))
    }

    /// Whether connections are TLS.
    pub fn tls_enabled(&self) -> bool {
        self.tls
    }

    /// Whether HTTP/2 is offered over TLS.
    pub fn http2(&self) -> bool {
        self.http2
    }

    /// The file as it is now.
    pub fn config(&self) -> Result<Arc<WebConfig>, WebConfigError> {
        let bytes = read(&self.path)?;
        if let Some((old, config)) = &*self.parsed.lock()
            && *old == bytes
        {
            return Ok(Arc::clone(config));
        }
        let config = Arc::new(parse(&bytes, &self.path)?);
        // A file caught half-written (truncated, not yet filled) reads as
        // empty, which would be a config without users: never let that turn
        // authentication off. Users go by removing `basic_auth_users`.
        if config.basic_auth_users.is_empty()
            && bytes.iter().all(u8::is_ascii_whitespace)
            && let Some((_, old)) = &*self.parsed.lock()
            && !old.basic_auth_users.is_empty()
        {
            return Err(WebConfigError::Invalid(
                "the web config file is empty while it had basic_auth_users; to remove the users, \
                 delete the basic_auth_users key instead of emptying the file"
                    .to_owned(),
            ));
        }
        *self.parsed.lock() = Some((bytes, Arc::clone(&config)));
        Ok(config)
    }

    /// The TLS settings for a new connection, from the file and the
    /// certificate files as they are now.
    pub fn tls_config(&self) -> Result<Arc<rustls::ServerConfig>, WebConfigError> {
        let config = self.config()?;
        if !config.tls_server_config.is_enabled() {
            return Err(WebConfigError::Invalid(
                "TLS config is not present".to_owned(),
            ));
        }
        let material = tls::read_material(&config.tls_server_config)?;
        if let Some((old_config, old_material, built)) = &*self.tls_built.lock()
            && Arc::ptr_eq(old_config, &config)
            && *old_material == material
        {
            return Ok(Arc::clone(built));
        }
        let built = tls::build_from(&config.tls_server_config, &material, self.http2)?;
        for warning in &built.warnings {
            tracing::warn!("{}: {warning}", self.path.display());
        }
        tracing::info!(
            "TLS settings of {} (re)loaded for new connections",
            self.path.display()
        );
        *self.tls_built.lock() = Some((config, material, Arc::clone(&built.config)));
        Ok(built.config)
    }

    /// A TLS handshake on a new connection, with the settings of
    /// [`WebSecurity::tls_config`]; the caller bounds how long it may take.
    pub async fn accept<IO>(
        self: &Arc<Self>,
        io: IO,
    ) -> Result<tokio_rustls::server::TlsStream<IO>, AcceptError>
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        // File reads (a config on a hung network filesystem) block a
        // blocking-pool thread, not the runtime.
        let web = Arc::clone(self);
        let config = tokio::task::spawn_blocking(move || web.tls_config())
            .await
            .map_err(|e| AcceptError::Config(WebConfigError::Invalid(e.to_string())))?
            .map_err(AcceptError::Config)?;
        tokio_rustls::TlsAcceptor::from(config)
            .accept(io)
            .await
            .map_err(AcceptError::Handshake)
    }

    /// `router` behind the rate limit, basic authentication and the
    /// configured headers.
    pub fn layer(self: &Arc<Self>, router: axum::Router) -> axum::Router {
        router.layer(axum::middleware::from_fn_with_state(
            Arc::clone(self),
            guard,
        ))
    }
}

/// Why a TLS connection was not set up.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// The web config or its certificates cannot be used now (the
    /// operator's to fix; logged as an error).
    #[error("the TLS settings cannot be loaded: {0}")]
    Config(WebConfigError),
    /// The client's handshake failed (its business).
    #[error("TLS handshake failed: {0}")]
    Handshake(std::io::Error),
}

fn read(path: &Path) -> Result<Vec<u8>, WebConfigError> {
    std::fs::read(path).map_err(|e| WebConfigError::Read {
        path: path.to_owned(),
        message: crate::go_io_error(&e),
    })
}

fn parse(bytes: &[u8], path: &Path) -> Result<WebConfig, WebConfigError> {
    let text = std::str::from_utf8(bytes).map_err(|_| WebConfigError::Yaml {
        path: path.to_owned(),
        line: 1,
        column: 1,
        message: "the file is not UTF-8 text".to_owned(),
    })?;
    WebConfig::parse(text, path)
}

/// An answer as Go's `http.Error` writes it.
fn plain(status: StatusCode) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        format!("{}\n", status.canonical_reason().unwrap_or_default()),
    )
        .into_response()
}

/// The peer of a request, when the server put it in the extensions.
fn peer(request: &Request) -> String {
    request
        .extensions()
        .get::<std::net::SocketAddr>()
        .map_or_else(|| "unknown".to_owned(), ToString::to_string)
}

/// At most this much of a user name that failed to log in is logged.
const LOGGED_USER_CHARS: usize = 64;

async fn guard(State(web): State<Arc<WebSecurity>>, request: Request, next: Next) -> Response {
    let reading = Arc::clone(&web);
    let config = match tokio::task::spawn_blocking(move || reading.config())
        .await
        .unwrap_or_else(|e| Err(WebConfigError::Invalid(e.to_string())))
    {
        Ok(config) => config,
        Err(e) => {
            tracing::error!("unable to read the web config, answering 500 until it is fixed: {e}");
            return plain(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    if let Some(limiter) = &web.limiter
        && !limiter.lock().allow()
    {
        return plain(StatusCode::TOO_MANY_REQUESTS);
    }
    let mut response = if config.basic_auth_users.is_empty() {
        next.run(request).await
    } else {
        let credentials = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| parse_basic(value.as_bytes()));
        let allowed = match &credentials {
            Some((user, password)) => {
                web.auth
                    .check(&config.basic_auth_users, user, password)
                    .await
            }
            None => false,
        };
        if allowed {
            next.run(request).await
        } else {
            if let Some((user, _)) = &credentials
                && let Some(suppressed) = web.log_failure_now()
            {
                let user: String = user.chars().take(LOGGED_USER_CHARS).collect();
                tracing::warn!(
                    peer = %peer(&request),
                    user = ?user,
                    path = %request.uri().path(),
                    not_logged_since = suppressed,
                    "basic authentication failed"
                );
            }
            let mut response = plain(StatusCode::UNAUTHORIZED);
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
            response
        }
    };
    // The toolkit sets these before the handler runs, so a header the
    // handler sets itself wins.
    for (name, value) in &config.http_server_config.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) && !response.headers().contains_key(&name)
        {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// At most one failed login is logged per this interval.
const FAILURE_LOG_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

impl WebSecurity {
    /// Whether to log a failed login now; if so, how many were not logged
    /// since the last one.
    fn log_failure_now(&self) -> Option<u64> {
        let mut state = self.failures_logged.lock();
        let now = std::time::Instant::now();
        match state.0 {
            Some(last) if now.duration_since(last) < FAILURE_LOG_INTERVAL => {
                state.1 += 1;
                None
            }
            _ => {
                let suppressed = state.1;
                *state = (Some(now), 0);
                Some(suppressed)
            }
        }
    }
}

/// Go's `rate.NewLimiter(rate.Every(interval), burst)`: a bucket of
/// `burst` tokens, one more every `interval`, a request takes one.
struct TokenBucket {
    interval: std::time::Duration,
    burst: f64,
    tokens: f64,
    last: std::time::Instant,
}

impl TokenBucket {
    fn new(interval: std::time::Duration, burst: u32) -> Self {
        TokenBucket {
            interval,
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: std::time::Instant::now(),
        }
    }

    fn allow(&mut self) -> bool {
        let now = std::time::Instant::now();
        let earned = now.duration_since(self.last).as_secs_f64() / self.interval.as_secs_f64();
        self.tokens = (self.tokens + earned).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_test_util::*;

    /// A tiny client for the router: the response of one request.
    mod tower_test_util {
        pub async fn call(
            router: &axum::Router,
            request: axum::http::Request<axum::body::Body>,
        ) -> axum::response::Response {
            use tower::ServiceExt;
            router.clone().oneshot(request).await.unwrap()
        }
    }

    const HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

    fn router(web: &Arc<WebSecurity>) -> axum::Router {
        web.layer(axum::Router::new().route("/metrics", axum::routing::get(|| async { "ok" })))
    }

    fn get(auth: Option<&str>) -> axum::http::Request<axum::body::Body> {
        let mut builder = axum::http::Request::get("/metrics");
        if let Some(auth) = auth {
            builder = builder.header("Authorization", auth);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn basic_auth_headers_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(
            &path,
            format!(
                "basic_auth_users:\n  alice: {HASH}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"
            ),
        )
        .unwrap();
        let web = WebSecurity::load(&path).unwrap();
        assert!(!web.tls_enabled());
        let router = router(&web);
        let response = call(&router, get(None)).await;
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["www-authenticate"], "Basic");
        assert_eq!(response.headers()["x-frame-options"], "deny");
        // alice:fakepassword
        let right = "Basic YWxpY2U6ZmFrZXBhc3N3b3Jk";
        let response = call(&router, get(Some(right))).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-frame-options"], "deny");
        // alice:wrong
        let response = call(&router, get(Some("Basic YWxpY2U6d3Jvbmc="))).await;
        assert_eq!(response.status(), 401);
        // An empty file (one caught half-written) does not turn
        // authentication off: 500 until the file has content again.
        std::fs::write(&path, "").unwrap();
        assert_eq!(call(&router, get(None)).await.status(), 500);
        // The file is read again: with the users' key removed, everyone is
        // let in.
        std::fs::write(&path, "http_server_config:\n  http2: true\n").unwrap();
        assert_eq!(call(&router, get(None)).await.status(), 200);
        // A broken file: 500 until it is fixed.
        std::fs::write(&path, "basic_auth_users: [").unwrap();
        assert_eq!(call(&router, get(Some(right))).await.status(), 500);
        std::fs::write(&path, format!("basic_auth_users:\n  alice: {HASH}\n")).unwrap();
        assert_eq!(call(&router, get(Some(right))).await.status(), 200);
    }

    /// Everything logged while `f` runs.
    async fn logged<F: Future<Output = ()>>(f: F) -> String {
        #[derive(Clone, Default)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        f.await;
        String::from_utf8_lossy(&sink.0.lock()).into_owned()
    }

    #[tokio::test]
    async fn a_failed_login_is_logged_without_its_password() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, format!("basic_auth_users:\n  alice: {HASH}\n")).unwrap();
        let router = router(&WebSecurity::load(&path).unwrap());
        let log = logged(async {
            // alice:s3cr3t-guess
            let response = call(&router, get(Some("Basic YWxpY2U6czNjcjN0LWd1ZXNz"))).await;
            assert_eq!(response.status(), 401);
        })
        .await;
        assert!(log.contains("basic authentication failed"), "{log}");
        assert!(log.contains("alice"), "{log}");
        assert!(!log.contains("s3cr3t"), "{log}");
    }

    #[tokio::test]
    async fn repeated_failed_logins_do_not_flood_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, format!("basic_auth_users:\n  alice: {HASH}\n")).unwrap();
        let router = router(&WebSecurity::load(&path).unwrap());
        let log = logged(async {
            for _ in 0..200 {
                let response = call(&router, get(Some("Basic YWxpY2U6d3Jvbmc="))).await;
                assert_eq!(response.status(), 401);
            }
        })
        .await;
        let lines = log.matches("basic authentication failed").count();
        // One per second at most; 200 cached refusals take far less than
        // the 200 seconds that would allow a line each.
        assert!((1..200).contains(&lines), "{lines} lines: {log}");
    }

    #[tokio::test]
    async fn a_handlers_own_header_wins_over_a_configured_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(
            &path,
            "http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n    X-Frame-Options: deny\n",
        )
        .unwrap();
        let web = WebSecurity::load(&path).unwrap();
        let router = web.layer(axum::Router::new().route(
            "/metrics",
            axum::routing::get(|| async { ([("x-frame-options", "sameorigin")], "ok") }),
        ));
        let response = call(&router, get(None)).await;
        assert_eq!(response.headers()["x-frame-options"], "sameorigin");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    }

    #[test]
    fn the_private_key_is_not_in_debug_output() {
        let dir = tempfile::tempdir().unwrap();
        let key = "-----BEGIN PRIVATE KEY-----\nTUlJQ2RRSUJBREFOQmdrcWhraUc5dzBCQVFFRkFBU0NBbDh3Z2dKYkFnRUFBb0dCQUxMcw==\n-----END PRIVATE KEY-----\n";
        std::fs::write(dir.path().join("k.pem"), key).unwrap();
        std::fs::write(dir.path().join("c.pem"), "cert").unwrap();
        let config = WebConfig::parse(
            "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n",
            &dir.path().join("web.yml"),
        )
        .unwrap();
        let material = tls::read_material(&config.tls_server_config).unwrap();
        let shown = format!("{material:?}");
        // A derived Debug would list the key's bytes ("-----" is 45, 45, …).
        assert!(!shown.contains("45, 45, 45"), "{shown}");
        assert!(shown.contains("<secret>"), "{shown}");
    }

    #[tokio::test]
    async fn rate_limit_answers_429() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, "rate_limit:\n  interval: 1h\n  burst: 2\n").unwrap();
        let router = router(&WebSecurity::load(&path).unwrap());
        assert_eq!(call(&router, get(None)).await.status(), 200);
        assert_eq!(call(&router, get(None)).await.status(), 200);
        assert_eq!(call(&router, get(None)).await.status(), 429);
    }
}
