//! `wasmetheus serve`: starts the plugin runtime, the built-in
//! Alertmanager when `--alertmanager.config.file` asks for one
//! (`crate::alertmanager_builtin`, its API v2 under `/api/v2/`), the rule
//! manager and the notifier (`crate::alerting`), the scrape manager and the
//! HTTP server, and reloads the configuration on SIGHUP or `POST
//! /-/reload`. Shutdown stops the listener, then the rules and the notifier
//! (what is queued is sent, bounded), then the built-in Alertmanager, then
//! the scrapes, then the remote write queues (flushed within a second,
//! their WAL positions saved), and closes the TSDB, which nothing holds
//! any more (each step's time is logged at debug); the exit then waits
//! at most half a second for blocking work still running.
//!
//! Files: this one starts and stops the server; `flags.rs` has its flags
//! ([`ServeArgs`]), `connections.rs` serves HTTP on the accepted
//! connections (TLS handshakes, HTTP/1 and HTTP/2, read timeouts, the
//! shutdown grace period) and `listener.rs` accepts them within
//! `--web.max-connections`, failing writes the client stopped reading;
//! `alertmanager.rs` is the standalone `wasmetheus alertmanager` server on
//! the same HTTP serving, with the `process_*` families of
//! `process_metrics.rs`.

pub mod alertmanager;
mod connections;
mod flags;
mod listener;
mod process_metrics;

use crate::backend::ServerBackend;
use crate::config_source::ConfigSource;
use anyhow::Context;
use connections::serve_http;
pub use flags::{RulesArgs, ServeArgs, WebArgs};
use listener::LimitedListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use wasmetheus_plugin_runtime::{PluginRuntime, PluginsWatcher, RuntimeOptions, watch_plugins_dir};
use wasmetheus_scrape::ScrapeManager;

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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let served = runtime.block_on(async {
        let server = start(args).await?;
        // Weak: the backend (and the TSDB it holds) goes at shutdown.
        tokio::spawn(reload_on_sighup(Arc::downgrade(&server.backend)));
        server.serve_until(shutdown_signal()).await
    });
    // The log is closed: work still running on a blocking thread (a query
    // whose connection was dropped) holds nothing acknowledged, and the
    // exit does not wait for it.
    runtime.shutdown_timeout(EXIT_GRACE);
    served
}

/// How long the exit waits for blocking work still running once
/// everything is stopped and the TSDB is closed.
const EXIT_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

/// How long shutdown waits for the last reference to the TSDB (an HTTP
/// request's work finishing) so that its directory lock is free for a new
/// server in the same process; the log is closed before, so nothing
/// depends on it.
const RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Times the steps of a shutdown for the debug log.
struct StopClock {
    began: Instant,
    step: Instant,
}

impl StopClock {
    fn new(began: Instant) -> Self {
        StopClock {
            began,
            step: Instant::now(),
        }
    }

    /// Logs `what` as done, with the time it took since the last step.
    fn done(&mut self, what: &str) {
        let now = Instant::now();
        tracing::debug!(
            step_ms = ms(now - self.step),
            since_signal_ms = ms(now - self.began),
            "shutdown: {what}"
        );
        self.step = now;
    }
}

fn ms(d: std::time::Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
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
    /// The rule manager and the notifier: stopped before the scrapes.
    alerting: Arc<crate::alerting::Alerting>,
    /// The built-in Pushgateway (`--web.enable-pushgateway`).
    pushgateway: Option<wasmetheus_pushgateway::Gateway>,
    /// The remote write queues: flushed after the scrapes stop.
    remote_write: Arc<wasmetheus_remote_write::RemoteWrite>,
}

impl RunningServer {
    /// Serves HTTP until `shutdown` completes.
    pub async fn serve_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let mut api = wasmetheus_api::router(self.backend);
        if let Some(builtin) = self.alerting.builtin() {
            api = api.merge(wasmetheus_api::router_v2(builtin.backend()));
        }
        if let Some(gateway) = &self.pushgateway {
            api = api.merge(gateway.router());
        }
        let router = app_router(api, &self.route_prefix, self.web.as_ref());
        let tls = self.web.filter(|web| web.tls_enabled());
        // When the signal came: the steps after it are timed from there.
        let signaled = Arc::new(std::sync::OnceLock::new());
        let shutdown = {
            let signaled = Arc::clone(&signaled);
            async move {
                shutdown.await;
                let _ = signaled.set(Instant::now());
            }
        };
        serve_http(self.listener, router, self.read_timeout, tls, shutdown).await;
        let mut clock = StopClock::new(signaled.get().copied().unwrap_or_else(Instant::now));
        clock.done("HTTP connections closed");
        // No push is accepted any more: the groups are written a last time.
        if let Some(gateway) = self.pushgateway {
            // A failure is logged: the rest of the shutdown goes on.
            match tokio::task::spawn_blocking(move || gateway.shutdown()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "could not persist the Pushgateway's groups")
                }
                Err(e) => tracing::error!(error = %e, "persisting the Pushgateway's groups failed"),
            }
            clock.done("Pushgateway groups written");
        }
        // No evaluation starts after this; what is queued for the
        // Alertmanagers is sent within their timeout, then the built-in
        // one stops.
        self.alerting.stop().await;
        clock.done("rules and notifier stopped");
        self.scrape.shutdown().await;
        clock.done("scrapes stopped");
        // What the last scrapes wrote is sent within the flush deadline;
        // the rest is sent after the next start (positions are saved).
        self.remote_write.stop().await;
        clock.done("remote write stopped");
        drop(self._watcher);
        // The rules' storage holds the TSDB: gone before the wait below.
        drop(self.alerting);
        drop(self.remote_write);
        // Closes the log now, whoever still holds the database: nothing
        // acknowledged after this point could be lost.
        let db = self.db;
        let closing = Arc::clone(&db);
        tokio::task::spawn_blocking(move || closing.close()).await?;
        clock.done("TSDB closed");
        // The store's directory lock goes with the last reference; work of
        // an HTTP request still finishing on a blocking thread may hold one
        // briefly.
        let deadline = Instant::now() + RELEASE_WAIT;
        while Arc::strong_count(&db) > 1 && Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        if Arc::strong_count(&db) > 1 {
            tracing::warn!(
                "the TSDB is still referenced at shutdown; its lock is released at exit"
            );
        }
        drop(db);
        clock.done("TSDB released");
        tracing::info!("stopped in {} ms", ms(clock.began.elapsed()));
        Ok(())
    }
}

/// Loads the configuration and plugins, binds the listen address and starts
/// scraping; HTTP is served by [`RunningServer::serve_until`].
pub async fn start(args: ServeArgs) -> anyhow::Result<RunningServer> {
    let started = Instant::now();
    // A feature list Prometheus refuses (incompatible features) stops the
    // start, with Prometheus' text.
    if let Err(e) = args.rules.features() {
        anyhow::bail!("Error parsing feature list: {e}");
    }
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
    flags::check_route_prefix(&route_prefix)?;
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
    let runtime = plugin_runtime(&PluginFlags {
        dir: &args.plugins_dir,
        cache_dir: args
            .plugins_cache_dir
            .clone()
            .unwrap_or_else(|| args.storage_path.join("plugin-cache")),
        max_instances: Some(args.plugins_max_instances),
        max_size: Some(args.plugins_max_size),
        compile_timeout: Some(args.plugins_compile_timeout),
        max_concurrent_compiles: args.plugins_max_concurrent_compiles,
        compiler: args.plugins_compiler.as_deref(),
        compile_memory_limit: Some(args.plugins_compile_memory_limit),
    })?;
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
    // Queries and rules read the TSDB with the remote_read entries merged
    // in; an entry whose client cannot be built stops the start.
    let readers = crate::remote_storage::RemoteReaders::new(Arc::clone(&db));
    if let Err(e) = readers.apply(&config).await {
        anyhow::bail!("{}: {e}", source.apply_error());
    }
    // The built-in Alertmanager: an alertmanager.yml that does not load,
    // or a receiver plugin missing, stops the start.
    let builtin = match &args.rules.alertmanager.config_file {
        Some(file) => Some(
            crate::alertmanager_builtin::Builtin::start(
                &args.rules.alertmanager,
                file,
                &args.storage_path,
                &external_url,
                &args.plugins_dir,
                runtime.clone(),
                &config.plugins.grants,
            )
            .await?,
        ),
        None => None,
    };
    // The rules and the notifier, on the configuration as loaded; a rule
    // file that does not load, or Alertmanager settings the notifier
    // cannot use, stop the start as they stop Prometheus'.
    let alerting = Arc::new(crate::alerting::Alerting::new(
        &args.rules,
        args.engine(),
        Arc::clone(&readers) as Arc<dyn wasmetheus_model::storage::Storage>,
        &external_url,
        builtin,
    ));
    let errors = {
        // Rule files are read and parsed off the async workers.
        let (alerting, config) = (Arc::clone(&alerting), config.clone());
        tokio::task::spawn_blocking(move || alerting.apply(&config)).await?
    };
    if !errors.is_empty() {
        alerting.stop().await;
        anyhow::bail!("{}: {}", source.apply_error(), errors.join("; "));
    }
    let remote_write_configs = (
        config.remote_write.clone(),
        config.global.external_labels.clone(),
    );
    let apply_error = source.apply_error();
    let backend = Arc::new(ServerBackend::new(
        runtime,
        source,
        config,
        local.to_string(),
        Arc::clone(&db),
    ));
    backend.enable_admin_api(args.enable_admin_api);
    backend.attach_remote_endpoints(
        crate::remote_storage::RemoteEndpoints::new(
            args.remote.receiver(),
            args.remote.read_options(),
        ),
        readers,
    );
    backend.set_query_settings(args.engine(), args.flag_values(), args.enable_lifecycle);
    backend.set_query_concurrency(args.query_max_concurrency as usize);
    backend.attach_alerting(Arc::clone(&alerting));
    backend.start_discovery();
    let pushgateway = if args.web.enable_pushgateway {
        let options = wasmetheus_pushgateway::Options {
            persistence_file: Some(args.storage_path.join("pushgateway").join("groups")),
            admin_api: args.enable_admin_api,
            ..wasmetheus_pushgateway::Options::default()
        };
        let gateway =
            tokio::task::spawn_blocking(move || wasmetheus_pushgateway::Gateway::open(options))
                .await?;
        gateway.start_persistence();
        backend.attach_pushgateway(gateway.clone());
        Some(gateway)
    } else {
        None
    };
    // Remote write: queues that cannot start stop the start, as in
    // Prometheus. Metadata comes from the backend (held weakly: the
    // backend holds the queues).
    let remote_write = {
        let weak = Arc::downgrade(&backend);
        let metadata = move || {
            weak.upgrade()
                .map(|backend| backend.remote_write_metadata())
                .unwrap_or_default()
        };
        let remote_write = Arc::new(wasmetheus_remote_write::RemoteWrite::new(
            wasmetheus_remote_write::Options::for_storage(&args.storage_path),
            Arc::new(metadata),
        ));
        let (configs, external) = &remote_write_configs;
        if let Err(e) = remote_write.apply(configs, external).await {
            remote_write.stop().await;
            alerting.stop().await;
            anyhow::bail!("{apply_error}: {e}");
        }
        backend.attach_remote_write(Arc::clone(&remote_write));
        remote_write
    };
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
        alerting,
        pushgateway,
        remote_write,
    })
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

/// The plugin flags a runtime is made from (`serve`'s, or the standalone
/// Alertmanager's fewer ones: `None` keeps the runtime's default).
pub(crate) struct PluginFlags<'a> {
    pub dir: &'a std::path::Path,
    pub cache_dir: PathBuf,
    pub max_instances: Option<u32>,
    pub max_size: Option<u64>,
    pub compile_timeout: Option<std::time::Duration>,
    pub max_concurrent_compiles: usize,
    /// The executable plugins compile in; `None`: on a thread here.
    pub compiler: Option<&'a std::path::Path>,
    pub compile_memory_limit: Option<u64>,
}

/// The plugin runtime of `flags`, its directory created when missing.
pub(crate) fn plugin_runtime(flags: &PluginFlags<'_>) -> anyhow::Result<PluginRuntime> {
    let mut options = RuntimeOptions::new(flags.dir);
    options.cache_dir = Some(flags.cache_dir.clone());
    if let Some(max) = flags.max_instances {
        options.max_instances = max;
    }
    if let Some(max) = flags.max_size {
        options.max_plugin_size = max;
    }
    if let Some(timeout) = flags.compile_timeout {
        options.compile_timeout = timeout;
    }
    if flags.max_concurrent_compiles > 0 {
        options.max_concurrent_compiles = flags.max_concurrent_compiles;
    }
    options.compiler = flags.compiler.map(|program| {
        let mut compiler = wasmetheus_plugin_runtime::CompilerCommand::new(program);
        if let Some(limit) = flags.compile_memory_limit {
            compiler.memory_limit = limit;
        }
        compiler
    });
    std::fs::create_dir_all(flags.dir)
        .with_context(|| format!("creating the plugins directory {}", flags.dir.display()))?;
    PluginRuntime::new(options)
}

/// Reloads the configuration on each SIGHUP while the server runs; holds
/// the backend weakly, so that it never keeps the TSDB open past shutdown.
async fn reload_on_sighup(backend: std::sync::Weak<ServerBackend>) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        let Some(backend) = backend.upgrade() else {
            return;
        };
        if let Err(e) = backend.reload_config().await {
            // A configuration that did not load is not applied; one that
            // loaded is, but for the parts that failed (those keep theirs).
            tracing::error!("error reloading config: {e}");
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
