//! `wasmetheus serve`: starts the plugin runtime, the scrape manager and the
//! HTTP server, and reloads the configuration on SIGHUP or `POST /-/reload`.

use crate::backend::ServerBackend;
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use wasmetheus_config::Config;
use wasmetheus_plugin_runtime::{PluginRuntime, PluginsWatcher, RuntimeOptions, watch_plugins_dir};
use wasmetheus_scrape::ScrapeManager;

/// Flags use Prometheus' names where Prometheus has the same setting.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Configuration file; without it a built-in default scrapes the
    /// node-exporter plugin and wasmetheus itself.
    #[arg(long = "config.file")]
    pub config_file: Option<PathBuf>,
    /// Address to listen on for the API and metrics.
    #[arg(long = "web.listen-address", default_value = "0.0.0.0:9090")]
    pub listen_address: String,
    /// Directory of `*.wasm` plugins, watched for changes.
    #[arg(long = "plugins.dir", default_value = "plugins")]
    pub plugins_dir: PathBuf,
    /// Where compiled plugins are cached (default: <storage.tsdb.path>/plugin-cache).
    #[arg(long = "plugins.cache-dir")]
    pub plugins_cache_dir: Option<PathBuf>,
    /// Most plugin instances alive at once.
    #[arg(long = "plugins.max-instances", default_value_t = 100)]
    pub plugins_max_instances: u32,
    /// Largest plugin file that is compiled (B, KiB, MiB, KB, MB…); bigger
    /// ones are refused with an error in /api/v1/plugins.
    #[arg(long = "plugins.max-size", default_value = "64MiB", value_parser = parse_size)]
    pub plugins_max_size: u64,
    /// How long loading a plugin waits for its compilation; past it the load
    /// fails and the previous version keeps serving.
    #[arg(long = "plugins.compile-timeout", default_value = "30s", value_parser = parse_duration)]
    pub plugins_compile_timeout: std::time::Duration,
    /// Most memory compiling one plugin may take (B, KiB, MiB, GiB…): each
    /// compiles in a process of its own, which fails past this limit.
    #[arg(long = "plugins.compile-memory-limit", default_value = "2GiB", value_parser = parse_size)]
    pub plugins_compile_memory_limit: u64,
    /// Most plugin compilations running at once; further loads wait for a
    /// slot within their compile timeout. 0: half the cores, at least one.
    #[arg(long = "plugins.max-concurrent-compiles", default_value_t = 0)]
    pub plugins_max_concurrent_compiles: usize,
    /// The executable plugins compile in, as `<it> __compile-plugin`: `run`
    /// sets this one's own; `None` compiles on a thread of this process
    /// (the in-process test server).
    #[arg(skip)]
    pub plugins_compiler: Option<PathBuf>,
    /// Base directory for data.
    #[arg(long = "storage.tsdb.path", default_value = "data/")]
    pub storage_path: PathBuf,
    /// How long to retain samples (Prometheus' units: ms, s, m, h, d, w,
    /// y); 0 keeps them until the size limit applies.
    #[arg(long = "storage.tsdb.retention.time", default_value = "15d", value_parser = parse_duration)]
    pub retention_time: std::time::Duration,
    /// Most bytes of storage to keep (B, KB, MB, GB, TB, PB, EB); 0 disables
    /// the limit. Oldest blocks go first.
    #[arg(long = "storage.tsdb.retention.size", default_value = "0", value_parser = parse_size)]
    pub retention_size: u64,
    /// Enables the TSDB admin endpoints (snapshot, delete_series,
    /// clean_tombstones under /api/v1/admin/tsdb/).
    #[arg(long = "web.enable-admin-api")]
    pub enable_admin_api: bool,
    /// Enable shutdown and reload via HTTP request (`/-/reload`).
    #[arg(long = "web.enable-lifecycle")]
    pub enable_lifecycle: bool,
    /// How far back an instant selector looks for a sample.
    #[arg(long = "query.lookback-delta", default_value = "5m", value_parser = parse_duration)]
    pub query_lookback_delta: std::time::Duration,
    /// The most samples a single query may load into memory.
    #[arg(long = "query.max-samples", default_value_t = 50_000_000)]
    pub query_max_samples: usize,
    /// The longest a query may run before it is aborted.
    #[arg(long = "query.timeout", default_value = "2m", value_parser = parse_duration)]
    pub query_timeout: std::time::Duration,
    /// Most queries evaluated at once; the others wait for a slot within
    /// their timeout.
    #[arg(long = "query.max-concurrency", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub query_max_concurrency: u32,
    /// Most HTTP connections open at once; further ones wait to be
    /// accepted until one closes.
    #[arg(long = "web.max-connections", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    pub web_max_connections: u32,
    /// Maximum duration before timing out read of the request, and closing
    /// idle connections: a client gets this long to send a request's head,
    /// again to send its body, and keeps an idle connection no longer; a
    /// connection whose answer the client accepts no byte of for this long
    /// is closed; shutdown waits this long for open connections. 0: no
    /// limit (shutdown then waits 30s). Evaluating a query is not limited
    /// by it.
    #[arg(long = "web.read-timeout", default_value = "5m", value_parser = parse_duration)]
    pub web_read_timeout: std::time::Duration,
    /// Width of the blocks the head is compacted into.
    #[arg(long = "storage.tsdb.min-block-duration", default_value = "2h", value_parser = parse_duration, hide = true)]
    pub block_duration: std::time::Duration,
    /// Log level: debug, info, warn, error.
    #[arg(long = "log.level", default_value = "info")]
    pub log_level: String,
    /// TLS, authentication and the address the server is reached at.
    #[command(flatten)]
    pub web: WebArgs,
}

/// The flags of the HTTP server's security and addressing, as Prometheus'.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WebArgs {
    /// Configuration file that can enable TLS or authentication (the
    /// exporter toolkit's format, as Prometheus': tls_server_config,
    /// http_server_config, basic_auth_users, rate_limit). It is read again
    /// for each request and each new TLS connection; whether TLS is on is
    /// decided at start. `wasmetheus check web-config` checks it.
    #[arg(long = "web.config.file", id = "web.config.file")]
    pub config_file: Option<PathBuf>,
    /// The URL under which wasmetheus is externally reachable (for example,
    /// if it is served via a reverse proxy). If the URL has a path
    /// portion, it will be used to prefix all HTTP endpoints served by
    /// wasmetheus. If omitted, http(s)://<hostname>:<port>/.
    #[arg(long = "web.external-url", id = "web.external-url")]
    pub external_url: Option<String>,
    /// Prefix for the internal routes of web endpoints. Defaults to the
    /// path of --web.external-url.
    #[arg(long = "web.route-prefix", id = "web.route-prefix")]
    pub route_prefix: Option<String>,
}

impl WebArgs {
    /// `--web.external-url` as Prometheus computes it: the flag, or
    /// `http(s)://<hostname>:<port>/` of the listen address; its path
    /// without trailing slashes.
    pub fn external_url(&self, listen_address: &str, tls: bool) -> anyhow::Result<String> {
        let url = match &self.external_url {
            Some(url) if !url.is_empty() => url.clone(),
            _ => {
                let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|h| h.trim().to_owned())
                    .ok()
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| "localhost".to_owned());
                let port = listen_address
                    .rsplit_once(':')
                    .map(|(_, port)| port)
                    .context("--web.listen-address has no port")?;
                // No path, so nothing to parse (a host name the URI
                // parser would refuse must not stop the start).
                let scheme = if tls { "https" } else { "http" };
                return Ok(format!("{scheme}://{host}:{port}"));
            }
        };
        let quotes = ['"', '\''];
        if url.starts_with(quotes) || url.ends_with(quotes) {
            anyhow::bail!("--web.external-url: URL must not begin or end with quotes");
        }
        let uri: axum::http::Uri = url
            .parse()
            .with_context(|| format!("--web.external-url {url:?} is not a URL"))?;
        let path = uri.path().trim_end_matches('/');
        let path = if path.is_empty() || path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        Ok(match (uri.scheme_str(), uri.authority()) {
            (Some(scheme), Some(authority)) => format!("{scheme}://{authority}{path}"),
            _ => path,
        })
    }

    /// `--web.route-prefix`, defaulting to the external URL's path; always
    /// starts with `/` and has no trailing one (`/` alone for none).
    pub fn route_prefix(&self, external_url: &str) -> String {
        let prefix = match &self.route_prefix {
            Some(prefix) if !prefix.is_empty() => prefix.clone(),
            _ => external_url
                .parse::<axum::http::Uri>()
                .map(|uri| uri.path().to_owned())
                .unwrap_or_default(),
        };
        format!("/{}", prefix.trim_matches('/'))
    }
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    wasmetheus_config::PromDuration::parse(text).map(|d| d.0)
}

fn parse_size(text: &str) -> Result<u64, String> {
    wasmetheus_config::ByteSize::parse(text).map(|b| b.0)
}

impl ServeArgs {
    /// The PromQL engine these flags configure.
    pub fn engine(&self) -> wasmetheus_promql::engine::Engine {
        wasmetheus_promql::engine::Engine::new(wasmetheus_promql::engine::Options {
            lookback_delta: self.query_lookback_delta,
            max_samples: self.query_max_samples,
            timeout: self.query_timeout,
            ..wasmetheus_promql::engine::Options::default()
        })
    }

    /// The flags as `/api/v1/status/flags` lists them: Prometheus' names,
    /// values as strings.
    pub fn flag_values(&self) -> std::collections::BTreeMap<String, String> {
        let duration = |d: std::time::Duration| {
            wasmetheus_promql::printer::format_duration(d.as_millis() as i64)
        };
        let path = |p: &std::path::Path| p.display().to_string();
        [
            (
                "config.file",
                self.config_file.as_deref().map(path).unwrap_or_default(),
            ),
            ("web.listen-address", self.listen_address.clone()),
            ("web.enable-admin-api", self.enable_admin_api.to_string()),
            ("web.enable-lifecycle", self.enable_lifecycle.to_string()),
            ("storage.tsdb.path", path(&self.storage_path)),
            ("storage.tsdb.retention.time", duration(self.retention_time)),
            (
                "storage.tsdb.retention.size",
                self.retention_size.to_string(),
            ),
            ("query.lookback-delta", duration(self.query_lookback_delta)),
            ("query.max-samples", self.query_max_samples.to_string()),
            ("query.timeout", duration(self.query_timeout)),
            (
                "query.max-concurrency",
                self.query_max_concurrency.to_string(),
            ),
            ("web.max-connections", self.web_max_connections.to_string()),
            ("web.read-timeout", duration(self.web_read_timeout)),
            ("plugins.dir", path(&self.plugins_dir)),
            ("log.level", self.log_level.clone()),
            (
                "web.config.file",
                self.web
                    .config_file
                    .as_deref()
                    .map(path)
                    .unwrap_or_default(),
            ),
            (
                "web.external-url",
                self.web.external_url.clone().unwrap_or_default(),
            ),
            (
                "web.route-prefix",
                self.web.route_prefix.clone().unwrap_or_default(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The storage options these flags and `config` ask for.
    pub fn db_options(&self, config: &Config) -> wasmetheus_tsdb::DbOptions {
        let ms = |d: std::time::Duration| d.as_millis().min(i64::MAX as u128) as i64;
        wasmetheus_tsdb::DbOptions {
            block_range_ms: ms(self.block_duration).max(1),
            retention_time_ms: (!self.retention_time.is_zero()).then(|| ms(self.retention_time)),
            retention_size_bytes: (self.retention_size > 0).then_some(self.retention_size),
            head: wasmetheus_tsdb::HeadLimits {
                out_of_order_window_ms: ms(config.storage.tsdb.out_of_order_time_window.0),
                ..wasmetheus_tsdb::HeadLimits::default()
            },
            sync: false,
        }
    }
}

pub(crate) const DEFAULT_CONFIG: &str = include_str!("default-config.yml");

/// Where the configuration comes from; reload reads it again.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    File(PathBuf),
    BuiltIn,
}

impl ConfigSource {
    pub fn load(&self) -> Result<Config, wasmetheus_config::ConfigError> {
        match self {
            ConfigSource::File(path) => Config::load(path),
            ConfigSource::BuiltIn => Config::parse(
                DEFAULT_CONFIG,
                std::path::Path::new("<built-in default config>"),
            ),
        }
    }
}

pub fn run(mut args: ServeArgs) -> anyhow::Result<()> {
    // This very binary, even once its file is replaced by an upgrade: an
    // artifact only loads in the engine of the build that compiled it.
    let this_binary = PathBuf::from("/proc/self/exe");
    args.plugins_compiler = Some(if this_binary.exists() {
        this_binary
    } else {
        std::env::current_exe().context("finding the server's own executable")?
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&args.log_level)),
        )
        .with_target(false)
        .try_init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(async {
            let server = start(args).await?;
            tokio::spawn(reload_on_sighup(Arc::clone(&server.backend)));
            server.serve_until(shutdown_signal()).await
        })
}

/// A started server: listening, plugins loaded, scraping.
pub struct RunningServer {
    pub address: std::net::SocketAddr,
    backend: Arc<ServerBackend>,
    listener: LimitedListener,
    /// `--web.read-timeout`; zero: none.
    read_timeout: std::time::Duration,
    /// `--web.config.file`: TLS, authentication, headers.
    web: Option<Arc<wasmetheus_web::WebSecurity>>,
    /// `--web.route-prefix` (or the external URL's path): `/` or
    /// `/prefix`.
    route_prefix: String,
    /// Hot reload stops when this is dropped.
    _watcher: PluginsWatcher,
    /// Scraping stops (and releases the TSDB) when this is dropped.
    scrape: ScrapeManager,
    db: Arc<wasmetheus_tsdb::Db>,
}

impl RunningServer {
    /// Serves HTTP until `shutdown` completes.
    pub async fn serve_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let router = app_router(
            wasmetheus_api::router(self.backend),
            &self.route_prefix,
            self.web.as_ref(),
        );
        let tls = self.web.filter(|web| web.tls_enabled());
        serve_http(self.listener, router, self.read_timeout, tls, shutdown).await;
        self.scrape.shutdown().await;
        drop(self._watcher);
        // Closes the log now, whoever still holds the database: nothing
        // acknowledged after this point could be lost.
        let db = self.db;
        let closing = Arc::clone(&db);
        tokio::task::spawn_blocking(move || closing.close()).await?;
        // The store's directory lock goes with the last reference; HTTP
        // connections finishing their last request may hold one briefly.
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        while Arc::strong_count(&db) > 1 && Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        if Arc::strong_count(&db) > 1 {
            tracing::warn!(
                "the TSDB is still referenced at shutdown; its lock is released at exit"
            );
        }
        drop(db);
        tracing::info!("stopped");
        Ok(())
    }
}

/// Loads the configuration and plugins, binds the listen address and starts
/// scraping; HTTP is served by [`RunningServer::serve_until`].
pub async fn start(args: ServeArgs) -> anyhow::Result<RunningServer> {
    let started = Instant::now();
    let source = match &args.config_file {
        Some(path) => ConfigSource::File(path.clone()),
        None => ConfigSource::BuiltIn,
    };
    // A web config that cannot be used stops the start before anything
    // else is opened.
    let web = match &args.web.config_file {
        Some(path) => Some(
            wasmetheus_web::WebSecurity::load(path)
                .with_context(|| format!("--web.config.file {}", path.display()))?,
        ),
        None => None,
    };
    let tls = web.as_ref().is_some_and(|web| web.tls_enabled());
    let external_url = args.web.external_url(&args.listen_address, tls)?;
    let route_prefix = args.web.route_prefix(&external_url);
    check_route_prefix(&route_prefix)?;
    let config = source.load()?;
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    let storage_path = args.storage_path.clone();
    let db_options = args.db_options(&config);
    let db =
        tokio::task::spawn_blocking(move || wasmetheus_tsdb::Db::open(&storage_path, db_options))
            .await?
            .with_context(|| format!("opening the TSDB in {}", args.storage_path.display()))?;
    let db = Arc::new(db);
    db.start_maintenance(std::time::Duration::from_secs(60));
    let mut options = RuntimeOptions::new(&args.plugins_dir);
    options.cache_dir = Some(
        args.plugins_cache_dir
            .clone()
            .unwrap_or_else(|| args.storage_path.join("plugin-cache")),
    );
    options.max_instances = args.plugins_max_instances;
    options.max_plugin_size = args.plugins_max_size;
    options.compile_timeout = args.plugins_compile_timeout;
    if args.plugins_max_concurrent_compiles > 0 {
        options.max_concurrent_compiles = args.plugins_max_concurrent_compiles;
    }
    options.compiler = args.plugins_compiler.as_ref().map(|program| {
        let mut compiler = wasmetheus_plugin_runtime::CompilerCommand::new(program);
        compiler.memory_limit = args.plugins_compile_memory_limit;
        compiler
    });
    std::fs::create_dir_all(&args.plugins_dir).with_context(|| {
        format!(
            "creating the plugins directory {}",
            args.plugins_dir.display()
        )
    })?;
    let runtime = PluginRuntime::new(options)?;
    {
        let runtime = runtime.clone();
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            runtime.apply_config(&config);
            runtime.load_all();
        })
        .await?;
    }
    let watcher = watch_plugins_dir(runtime.clone())
        .with_context(|| format!("watching {}", args.plugins_dir.display()))?;

    let listener = tokio::net::TcpListener::bind(&args.listen_address)
        .await
        .with_context(|| format!("listening on {}", args.listen_address))?;
    let local = listener.local_addr()?;
    let listener = LimitedListener::new(listener, args.web_max_connections as usize);
    let backend = Arc::new(ServerBackend::new(
        runtime,
        source,
        config,
        local.to_string(),
        Arc::clone(&db),
    ));
    backend.enable_admin_api(args.enable_admin_api);
    backend.set_query_settings(args.engine(), args.flag_values(), args.enable_lifecycle);
    backend.set_query_concurrency(args.query_max_concurrency as usize);
    backend.start_discovery();
    let scrape = ScrapeManager::start(backend.clone(), Some(db.clone()));
    backend.attach_store(scrape.store().clone());
    if let Some(web) = &web {
        tracing::info!(
            tls = web.tls_enabled(),
            http2 = web.tls_enabled() && web.http2(),
            "serving with the TLS and authentication settings of --web.config.file"
        );
    }
    tracing::info!(
        address = %local,
        external_url = %external_url,
        route_prefix = %route_prefix,
        "wasmetheus ready in {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(RunningServer {
        address: local,
        backend,
        listener,
        read_timeout: args.web_read_timeout,
        web,
        route_prefix,
        _watcher: watcher,
        scrape,
        db,
    })
}

/// How long shutdown waits for open connections when `--web.read-timeout`
/// is 0 (no time limit otherwise).
const SHUTDOWN_GRACE_WITHOUT_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves HTTP/1 on `listener` until `shutdown` completes, then stops
/// accepting, lets each connection finish the request it is on and waits
/// for them to close, at most `read_timeout` (or
/// [`SHUTDOWN_GRACE_WITHOUT_READ_TIMEOUT`]); connections open past that
/// are dropped.
///
/// `read_timeout` (`--web.read-timeout`, as Go's `http.Server.ReadTimeout`
/// with Prometheus' default `IdleTimeout` of the same value): a connection
/// that has not sent a whole request head within it, from its accept or
/// from the end of its previous answer (an idle keep-alive connection), is
/// closed by hyper's header read timer; a request body not read whole
/// within it from the head's arrival ends in 408 and a closed connection;
/// an answer of which the client accepts no byte for that long (it does not
/// read) ends the connection. Either way the connection's
/// `--web.max-connections` slot is freed. The time spent evaluating an
/// answer is not limited by it.
///
/// With `tls`, each connection first completes a TLS handshake with the
/// settings of `--web.config.file` as they are then, within
/// `read_timeout` (as Go's `ReadTimeout` bounds the handshake too);
/// a client that sends no ClientHello, garbage, or stalls mid-handshake is
/// dropped then and its slot freed.
async fn serve_http(
    listener: LimitedListener,
    router: axum::Router,
    read_timeout: std::time::Duration,
    tls: Option<Arc<wasmetheus_web::WebSecurity>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let grace = if read_timeout.is_zero() {
        SHUTDOWN_GRACE_WITHOUT_READ_TIMEOUT
    } else {
        read_timeout
    };
    serve_http_with_grace(listener, router, read_timeout, grace, tls, shutdown).await;
}

/// A route prefix the router can serve under: path segments without the
/// router's own syntax (`{…}`, `*`) and none empty.
fn check_route_prefix(prefix: &str) -> anyhow::Result<()> {
    if prefix == "/" {
        return Ok(());
    }
    if prefix
        .split('/')
        .skip(1)
        .any(|segment| segment.is_empty() || segment.contains(['{', '}', '*', '?', '#']))
    {
        anyhow::bail!(
            "--web.route-prefix {prefix:?} (or --web.external-url's path) cannot be served: \
             use path segments without empty parts, braces, '*', '?' or '#'"
        );
    }
    Ok(())
}

/// The API's routes under `route_prefix` (with `/` redirecting to it, as
/// Prometheus), all behind `--web.config.file`'s authentication and
/// headers.
fn app_router(
    api: axum::Router,
    route_prefix: &str,
    web: Option<&Arc<wasmetheus_web::WebSecurity>>,
) -> axum::Router {
    let router = if route_prefix == "/" {
        api
    } else {
        let target = route_prefix.to_owned();
        axum::Router::new().nest(route_prefix, api).route(
            "/",
            axum::routing::get(move || {
                let target = target.clone();
                async move {
                    // Go's http.Redirect: 302 with a short HTML body.
                    let body = format!("<a href=\"{target}\">Found</a>.\n\n");
                    (
                        axum::http::StatusCode::FOUND,
                        [
                            (axum::http::header::LOCATION, target),
                            (
                                axum::http::header::CONTENT_TYPE,
                                "text/html; charset=utf-8".to_owned(),
                            ),
                        ],
                        body,
                    )
                }
            }),
        )
    };
    match web {
        Some(web) => web.layer(router),
        None => router,
    }
}

/// [`serve_http`] with the time shutdown waits for open connections.
async fn serve_http_with_grace(
    mut listener: LimitedListener,
    router: axum::Router,
    read_timeout: std::time::Duration,
    grace: std::time::Duration,
    tls: Option<Arc<wasmetheus_web::WebSecurity>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let read_timeout = (!read_timeout.is_zero()).then_some(read_timeout);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(read_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // Every open connection's task, so that those still open when the
    // grace period ends can be dropped.
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (mut stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            // Reaps the tasks of closed connections (accepting is
            // cancel-safe: a slot taken for it is given back).
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            () = &mut shutdown => break,
        };
        stream.write_timeout = read_timeout;
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request| {
            // For the authentication log.
            request.extensions_mut().insert(peer);
            answer(router.clone(), request, read_timeout)
        });
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let tls = tls.clone();
        connections.spawn(async move {
            let ended = match tls {
                None => {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    watcher.watch(builder.serve_connection(io, service)).await
                }
                Some(web) => {
                    let handshake = web.accept(stream);
                    let accepted = match read_timeout {
                        Some(timeout) => match tokio::time::timeout(timeout, handshake).await {
                            Ok(accepted) => accepted,
                            Err(_) => {
                                tracing::debug!(
                                    %peer,
                                    "TLS handshake not completed within the read timeout"
                                );
                                return;
                            }
                        },
                        None => handshake.await,
                    };
                    let stream = match accepted {
                        Ok(stream) => stream,
                        Err(e @ wasmetheus_web::AcceptError::Config(_)) => {
                            tracing::error!(%peer, "refusing a connection: {e}");
                            return;
                        }
                        Err(e) => {
                            tracing::debug!(%peer, "{e}");
                            return;
                        }
                    };
                    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
                    let io = hyper_util::rt::TokioIo::new(stream);
                    if h2 {
                        serve_h2(io, service, watcher, read_timeout, peer).await
                    } else {
                        watcher.watch(builder.serve_connection(io, service)).await
                    }
                }
            };
            if let Err(e) = ended {
                // Timeouts, resets and malformed requests: the client's
                // business, not an operator's.
                tracing::debug!(%peer, "HTTP connection ended: {e}");
            }
        });
    }
    // No new connections; the waiting ones are refused when the socket
    // closes.
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = connections.len(),
            "closing the HTTP connections still open {} after shutdown began",
            wasmetheus_promql::printer::format_duration(grace.as_millis() as i64)
        );
    }
    // Drops what is left (their requests' queries are canceled with them)
    // and waits until they are gone.
    connections.shutdown().await;
}

/// Serves an HTTP/2 connection (TLS whose ALPN chose `h2`, offered when
/// `http_server_config.http2` is on, the default). As Go's server closes
/// HTTP/2 connections idle for its `IdleTimeout` (Prometheus: the read
/// timeout), a connection with no request in progress (none whose answer
/// is still being produced or sent) for `read_timeout` is closed; that
/// also ends a client that never completes a request's headers. Pings
/// every `read_timeout` close one whose peer stopped answering.
async fn serve_h2<I, S>(
    io: I,
    service: S,
    watcher: hyper_util::server::graceful::Watcher,
    read_timeout: Option<std::time::Duration>,
    peer: std::net::SocketAddr,
) -> Result<(), hyper::Error>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    let activity = Arc::new(Activity {
        in_flight: std::sync::atomic::AtomicUsize::new(0),
        last: parking_lot::Mutex::new(Instant::now()),
    });
    let tracked = {
        let activity = Arc::clone(&activity);
        hyper::service::service_fn(move |request| {
            let busy = Activity::begin(&activity);
            let answering = service.call(request);
            async move {
                let response = answering.await?;
                // Busy until the answer's body has been sent (or dropped).
                Ok::<_, std::convert::Infallible>(
                    response.map(|body| axum::body::Body::new(BusyBody { body, _busy: busy })),
                )
            }
        })
    };
    let mut builder =
        hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
    builder.timer(hyper_util::rt::TokioTimer::new());
    if let Some(timeout) = read_timeout {
        builder
            .keep_alive_interval(Some(timeout))
            .keep_alive_timeout(timeout);
    }
    let serving = watcher.watch(builder.serve_connection(io, tracked));
    tokio::select! {
        ended = serving => ended,
        () = activity.idle(read_timeout) => {
            tracing::debug!(%peer, "closing an idle HTTP/2 connection");
            Ok(())
        }
    }
}

/// Requests in progress on an HTTP/2 connection, and when the last ended.
struct Activity {
    in_flight: std::sync::atomic::AtomicUsize,
    last: parking_lot::Mutex<Instant>,
}

/// A request in progress; ends when dropped.
struct Busy(Arc<Activity>);

impl Activity {
    fn begin(activity: &Arc<Activity>) -> Busy {
        activity
            .in_flight
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Busy(Arc::clone(activity))
    }

    /// Completes once no request has been in progress for `timeout`
    /// (never without one).
    async fn idle(&self, timeout: Option<std::time::Duration>) {
        let Some(timeout) = timeout else {
            return std::future::pending().await;
        };
        loop {
            let since = self.last.lock().elapsed();
            let busy = self.in_flight.load(std::sync::atomic::Ordering::SeqCst) > 0;
            if !busy && since >= timeout {
                return;
            }
            let wait = if busy { timeout } else { timeout - since };
            tokio::time::sleep(wait).await;
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.last.lock() = Instant::now();
        self.0
            .in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// An answer's body that keeps its request counted as in progress.
struct BusyBody {
    body: axum::body::Body,
    _busy: Busy,
}

impl http_body::Body for BusyBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// Routes one request, its body read under `read_timeout` from now.
async fn answer(
    router: axum::Router,
    request: hyper::Request<hyper::body::Incoming>,
    read_timeout: Option<std::time::Duration>,
) -> Result<axum::response::Response, std::convert::Infallible> {
    use tower::ServiceExt;
    let Some(timeout) = read_timeout else {
        return router.oneshot(request.map(axum::body::Body::new)).await;
    };
    let timed_out = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let request = request.map(|body| {
        axum::body::Body::new(ReadDeadline::new(body, timeout, Arc::clone(&timed_out)))
    });
    let response = router.oneshot(request).await?;
    if !timed_out.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(response);
    }
    // Whatever the handler made of its cut-off body, the answer is that it
    // came too slowly; the connection is not reused (hyper closes one whose
    // body was not read to the end).
    let message = format!(
        "the request body was not received within the read timeout of {}; \
         send it faster or raise --web.read-timeout\n",
        wasmetheus_promql::printer::format_duration(timeout.as_millis() as i64)
    );
    Ok(axum::response::IntoResponse::into_response((
        axum::http::StatusCode::REQUEST_TIMEOUT,
        [(axum::http::header::CONNECTION, "close")],
        message,
    )))
}

/// A request body that fails once its deadline passes before it has been
/// read to the end, so a client trickling a body cannot hold a connection.
struct ReadDeadline<B> {
    inner: B,
    /// `None` for a body that was empty from the start.
    deadline: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    timed_out: Arc<std::sync::atomic::AtomicBool>,
}

impl<B: http_body::Body + Unpin> ReadDeadline<B> {
    fn new(
        inner: B,
        timeout: std::time::Duration,
        timed_out: Arc<std::sync::atomic::AtomicBool>,
    ) -> Self {
        let deadline = (!inner.is_end_stream()).then(|| Box::pin(tokio::time::sleep(timeout)));
        ReadDeadline {
            inner,
            deadline,
            timed_out,
        }
    }
}

/// Why a body read was cut off.
#[derive(Debug, thiserror::Error)]
#[error("the request body was not received within the read timeout (--web.read-timeout)")]
struct BodyReadTimeout;

impl<B> http_body::Body for ReadDeadline<B>
where
    B: http_body::Body + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = B::Data;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        if let Poll::Ready(frame) = std::pin::Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if let Some(deadline) = &mut self.deadline
            && deadline.as_mut().poll(cx).is_ready()
        {
            self.deadline = None;
            self.timed_out
                .store(true, std::sync::atomic::Ordering::Relaxed);
            return Poll::Ready(Some(Err(Box::new(BodyReadTimeout))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// `--web.max-connections`: a listener that accepts a connection only
/// while fewer than its limit are open, as Prometheus'
/// `netutil.LimitListener`; further clients wait in the kernel's backlog
/// until one closes.
struct LimitedListener {
    inner: tokio::net::TcpListener,
    slots: Arc<tokio::sync::Semaphore>,
}

impl LimitedListener {
    fn new(inner: tokio::net::TcpListener, max: usize) -> Self {
        LimitedListener {
            inner,
            slots: Arc::new(tokio::sync::Semaphore::new(max.max(1))),
        }
    }
}

impl LimitedListener {
    /// The next connection, once a slot is free.
    async fn accept(&mut self) -> (LimitedStream, std::net::SocketAddr) {
        let Ok(slot) = Arc::clone(&self.slots).acquire_owned().await else {
            // Never closed; should it be, accept nothing more.
            return std::future::pending().await;
        };
        loop {
            match self.inner.accept().await {
                Ok((stream, address)) => {
                    return (
                        LimitedStream {
                            stream,
                            _slot: slot,
                            write_timeout: None,
                            stalled: None,
                        },
                        address,
                    );
                }
                // The peer gave up before it was accepted: take the next.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionRefused
                            | std::io::ErrorKind::ConnectionAborted
                            | std::io::ErrorKind::ConnectionReset
                    ) => {}
                // Out of file descriptors, most likely: wait for some to
                // close rather than spin.
                Err(e) => {
                    tracing::error!("accepting an HTTP connection failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// An accepted connection holding its slot until it is closed, whose
/// writes fail once the peer has accepted no byte for `write_timeout`.
struct LimitedStream {
    stream: tokio::net::TcpStream,
    _slot: tokio::sync::OwnedSemaphorePermit,
    /// `--web.read-timeout`; `None`: writes wait for ever.
    write_timeout: Option<std::time::Duration>,
    /// Running from the first write that found the socket full since the
    /// last one that went through.
    stalled: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

/// Why a connection was closed while its answer was being written.
#[derive(Debug, thiserror::Error)]
#[error(
    "the client accepted no byte of the answer within the read timeout (--web.read-timeout); \
     it must read its answers"
)]
struct WriteStalled;

impl LimitedStream {
    /// A write's outcome, with the stall deadline applied: a write that
    /// went through (or failed) ends a stall; one that finds the socket
    /// full starts one, or fails once it has lasted `write_timeout`.
    fn progress(
        &mut self,
        cx: &mut std::task::Context<'_>,
        written: std::task::Poll<std::io::Result<usize>>,
    ) -> std::task::Poll<std::io::Result<usize>> {
        use std::task::Poll;
        if written.is_ready() {
            self.stalled = None;
            return written;
        }
        let Some(timeout) = self.write_timeout else {
            return Poll::Pending;
        };
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if stalled.as_mut().poll(cx).is_ready() {
            self.stalled = None;
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                WriteStalled,
            )));
        }
        Poll::Pending
    }
}

impl tokio::io::AsyncRead for LimitedStream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for LimitedStream {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let written = std::pin::Pin::new(&mut self.stream).poll_write(cx, buf);
        self.progress(cx, written)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let written = std::pin::Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.progress(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

async fn reload_on_sighup(backend: Arc<ServerBackend>) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        if let Err(e) = backend.reload_config().await {
            tracing::error!("reload failed, the previous configuration stays in force: {e}");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        () = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::ServeArgs;
    use clap::{Args, FromArgMatches};
    use std::path::Path;
    use std::time::Duration;

    fn parse(flags: &[&str]) -> Result<ServeArgs, clap::Error> {
        let command = ServeArgs::augment_args(clap::Command::new("serve"));
        let matches =
            command.try_get_matches_from(std::iter::once("serve").chain(flags.iter().copied()))?;
        ServeArgs::from_arg_matches(&matches)
    }

    #[test]
    fn external_url_and_route_prefix_as_prometheus_computes_them() {
        // --web.config.file and --config.file are two flags.
        let args = parse(&["--config.file=p.yml", "--web.config.file=w.yml"]).unwrap();
        assert_eq!(args.config_file.as_deref(), Some(Path::new("p.yml")));
        assert_eq!(args.web.config_file.as_deref(), Some(Path::new("w.yml")));
        assert_eq!(args.flag_values()["web.config.file"], "w.yml");
        let args = parse(&[]).unwrap();
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        let url = args.web.external_url("0.0.0.0:9090", false).unwrap();
        assert_eq!(url, format!("http://{}:9090", host.trim()));
        assert_eq!(args.web.route_prefix(&url), "/");
        // With TLS on, the default URL is https.
        let url = args.web.external_url("127.0.0.1:9443", true).unwrap();
        assert!(url.starts_with("https://"), "{url}");
        let args = parse(&["--web.external-url=https://example.com:8443/prom/"]).unwrap();
        let url = args.web.external_url("0.0.0.0:9090", false).unwrap();
        assert_eq!(url, "https://example.com:8443/prom");
        assert_eq!(args.web.route_prefix(&url), "/prom");
        assert_eq!(
            args.flag_values()["web.external-url"],
            "https://example.com:8443/prom/"
        );
        let args = parse(&[
            "--web.external-url=https://example.com/prom",
            "--web.route-prefix=/inner/",
        ])
        .unwrap();
        let url = args.web.external_url("0.0.0.0:9090", false).unwrap();
        assert_eq!(args.web.route_prefix(&url), "/inner");
        for bad in ["/a{b}", "/a//b", "/*", "/a?b"] {
            let error = super::check_route_prefix(bad).unwrap_err().to_string();
            assert!(error.contains("--web.route-prefix"), "{error}");
        }
        super::check_route_prefix("/prom/v1").unwrap();
        let args = parse(&["--web.external-url='https://example.com/'"]).unwrap();
        let error = args.web.external_url("0.0.0.0:9090", false).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("must not begin or end with quotes")
        );
    }

    #[test]
    fn read_timeout_is_prometheus_flag_with_its_default() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.web_read_timeout, Duration::from_secs(300));
        assert_eq!(args.flag_values()["web.read-timeout"], "5m");
        let args = parse(&["--web.read-timeout=90s"]).unwrap();
        assert_eq!(args.web_read_timeout, Duration::from_secs(90));
        assert_eq!(args.flag_values()["web.read-timeout"], "1m30s");
        // 0 waits for ever, as Go's zero ReadTimeout.
        let args = parse(&["--web.read-timeout", "0s"]).unwrap();
        assert_eq!(args.web_read_timeout, Duration::ZERO);
        let error = parse(&["--web.read-timeout", "soon"]).unwrap_err();
        assert!(error.to_string().contains("--web.read-timeout"), "{error}");
    }

    /// How long a test waits for what a timeout of a second at most should
    /// bring about, on a loaded machine.
    const LIVENESS: Duration = Duration::from_secs(30);

    /// An answer that never ends: 64 KiB of zeros at a time.
    struct Endless;

    impl http_body::Body for Endless {
        type Data = axum::body::Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
            std::task::Poll::Ready(Some(Ok(http_body::Frame::data(
                axum::body::Bytes::from_static(&[0; 64 << 10]),
            ))))
        }
    }

    /// A router answering `/ok` at once, `/endless` without end and
    /// `/hang` never (telling `entered` when a request reaches it).
    fn router(entered: tokio::sync::mpsc::UnboundedSender<()>) -> axum::Router {
        axum::Router::new()
            .route("/ok", axum::routing::get(|| async { "ok" }))
            .route(
                "/endless",
                axum::routing::get(|| async { axum::body::Body::new(Endless) }),
            )
            .route(
                "/hang",
                axum::routing::get(move || {
                    let _ = entered.send(());
                    std::future::pending::<&'static str>()
                }),
            )
    }

    /// A listener of `max` connections on a loopback port.
    async fn listener(max: usize) -> (super::LimitedListener, std::net::SocketAddr) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        (super::LimitedListener::new(listener, max), address)
    }

    /// Connects with a small receive buffer (so that an unread answer
    /// fills the sockets soon) and sends a GET of `path`.
    async fn request(address: std::net::SocketAddr, path: &str) -> tokio::net::TcpStream {
        use tokio::io::AsyncWriteExt;
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(address).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        stream
    }

    /// Reads until the server closes the connection (EOF or a reset);
    /// whether it did within [`LIVENESS`].
    async fn closed(mut stream: tokio::net::TcpStream) -> bool {
        use tokio::io::AsyncReadExt;
        let mut buffer = vec![0u8; 1 << 16];
        tokio::time::timeout(LIVENESS, async {
            while let Ok(n) = stream.read(&mut buffer).await
                && n > 0
            {}
        })
        .await
        .is_ok()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_unread_answer_closes_its_connection_and_frees_its_slot() {
        let (listener, address) = listener(1).await;
        let (entered, _) = tokio::sync::mpsc::unbounded_channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(super::serve_http(
            listener,
            router(entered),
            Duration::from_millis(500),
            None,
            async {
                let _ = stopped.await;
            },
        ));
        // The only slot: a client asking for an endless answer and never
        // reading it.
        let stalled = request(address, "/endless").await;
        // A second client is served once the stalled one is closed.
        let waiting = tokio::spawn(async move {
            let mut stream = request(address, "/ok").await;
            let mut answer = Vec::new();
            tokio::io::AsyncReadExt::read_buf(&mut stream, &mut answer)
                .await
                .unwrap();
            String::from_utf8_lossy(&answer).into_owned()
        });
        let answer = tokio::time::timeout(LIVENESS, waiting)
            .await
            .expect("the stalled connection kept the only slot")
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(closed(stalled).await, "the stalled connection stayed open");
        let _ = stop.send(());
        tokio::time::timeout(LIVENESS, serving)
            .await
            .expect("the server stops")
            .unwrap();
    }

    /// Sends a request whose handler never answers, stops the server once
    /// the handler runs, and checks that the server ends (`what` if not)
    /// and closes that connection.
    async fn stop_with_a_hanging_request(
        address: std::net::SocketAddr,
        entering: &mut tokio::sync::mpsc::UnboundedReceiver<()>,
        stop: tokio::sync::oneshot::Sender<()>,
        serving: tokio::task::JoinHandle<()>,
        what: &str,
    ) {
        let hanging = request(address, "/hang").await;
        tokio::time::timeout(LIVENESS, entering.recv())
            .await
            .expect("the request reaches its handler");
        let _ = stop.send(());
        tokio::time::timeout(LIVENESS, serving)
            .await
            .expect(what)
            .unwrap();
        assert!(closed(hanging).await, "the hanging connection stayed open");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn shutdown_drops_connections_still_open_after_its_grace_period() {
        let (listener, address) = listener(4).await;
        let (entered, mut entering) = tokio::sync::mpsc::unbounded_channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        // No read timeout: nothing but the grace period ends the request.
        let serving = tokio::spawn(super::serve_http_with_grace(
            listener,
            router(entered),
            Duration::ZERO,
            Duration::from_millis(200),
            None,
            async {
                let _ = stopped.await;
            },
        ));
        stop_with_a_hanging_request(
            address,
            &mut entering,
            stop,
            serving,
            "shutdown waited for a request that never ends",
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn shutdown_waits_for_open_connections_at_most_the_read_timeout() {
        let (listener, address) = listener(4).await;
        let (entered, mut entering) = tokio::sync::mpsc::unbounded_channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(super::serve_http(
            listener,
            router(entered),
            Duration::from_millis(300),
            None,
            async {
                let _ = stopped.await;
            },
        ));
        stop_with_a_hanging_request(
            address,
            &mut entering,
            stop,
            serving,
            "shutdown waited beyond the read timeout",
        )
        .await;
    }
}
