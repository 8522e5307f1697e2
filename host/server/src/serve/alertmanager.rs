//! `wasmetheus alertmanager`: the Alertmanager on its own, a drop-in for
//! Alertmanager's binary with its flag names and defaults
//! (`cmd/alertmanager/main.go`): API v2 under `/api/v2/`, `/-/healthy`,
//! `/-/ready`, `POST /-/reload`, `/metrics` (with the `process_*`
//! families), all under the route prefix
//! (by default the external URL's path), behind `--web.config.file`'s TLS
//! and authentication. It reloads on SIGHUP and stops gracefully on
//! SIGTERM or SIGINT. Clustering is not implemented: the `--cluster.*`
//! flags are accepted and, but for an empty `--cluster.listen-address`,
//! answered with a warning. Served by the same HTTP code as `serve`.

use super::WebArgs;
use super::connections::serve_http;
use super::listener::LimitedListener;
use anyhow::Context;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use wasmetheus_alertmanager_service::{Service, ServiceOptions};

/// The flags, with Alertmanager's names and defaults.
#[derive(Debug, Clone, clap::Args)]
pub struct AlertmanagerArgs {
    /// Alertmanager configuration file name.
    #[arg(long = "config.file", default_value = "alertmanager.yml")]
    pub config_file: PathBuf,
    /// Base path for data storage.
    #[arg(long = "storage.path", default_value = "data/")]
    pub storage_path: PathBuf,
    /// How long to keep data for.
    #[arg(long = "data.retention", default_value = "120h", value_parser = wasmetheus_config::PromDuration::parse_std)]
    pub retention: Duration,
    /// Interval between garbage collection and snapshotting to disk of the
    /// silences and the notification logs.
    #[arg(long = "data.maintenance-interval", default_value = "15m", value_parser = wasmetheus_config::PromDuration::parse_std)]
    pub maintenance_interval: Duration,
    /// Interval between alert GC.
    #[arg(long = "alerts.gc-interval", default_value = "30m", value_parser = wasmetheus_config::PromDuration::parse_std)]
    pub alerts_gc_interval: Duration,
    /// Address to listen on for the web interface and API (`:port` for
    /// every interface).
    #[arg(long = "web.listen-address", default_value = ":9093")]
    pub listen_address: String,
    /// TLS, authentication, the external URL and the route prefix, as
    /// Alertmanager's flags of the same names.
    #[command(flatten)]
    pub web: WebArgs,
    /// Maximum number of GET requests processed concurrently (accepted;
    /// not limited here).
    #[arg(long = "web.get-concurrency", default_value_t = 0)]
    pub web_get_concurrency: u32,
    /// Timeout for HTTP requests; also how long a client gets to send a
    /// request. 0: none (shutdown then waits 30s for open connections).
    #[arg(long = "web.timeout", default_value = "0s", value_parser = wasmetheus_config::PromDuration::parse_std)]
    pub web_timeout: Duration,
    /// Use systemd socket activation listeners (accepted; not supported:
    /// the listen address is bound instead, with a warning).
    #[arg(long = "web.systemd-socket")]
    pub web_systemd_socket: bool,
    /// Debian's path of the web UI's files (accepted; there is no UI).
    #[arg(long = "web.ui-path", hide = true)]
    pub web_ui_path: Option<PathBuf>,
    /// Only log messages with the given severity or above: debug, info,
    /// warn, error.
    #[arg(long = "log.level", default_value = "info")]
    pub log_level: String,
    /// Output format of log messages (accepted; logs are text).
    #[arg(long = "log.format", default_value = "logfmt")]
    pub log_format: String,
    /// Directory of the receiver plugins (`<integration>-receiver.wasm`).
    #[arg(long = "plugins.dir", default_value = "plugins")]
    pub plugins_dir: PathBuf,
    /// Where compiled plugins are cached (default:
    /// <storage.path>/plugin-cache).
    #[arg(long = "plugins.cache-dir")]
    pub plugins_cache_dir: Option<PathBuf>,
    /// The executable plugins compile in, as `<it> __compile-plugin`:
    /// [`run`] sets this one's own; `None` compiles on a thread of this
    /// process.
    #[arg(skip)]
    pub plugins_compiler: Option<PathBuf>,
    /// Alertmanager's clustering flags: accepted, not implemented.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Alertmanager's `--cluster.*` flags, accepted so that its command lines
/// run; this Alertmanager runs alone.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterArgs {
    /// Listen address for cluster; empty disables clustering (and the
    /// warning that it is not implemented).
    #[arg(
        long = "cluster.listen-address",
        id = "cluster.listen-address",
        default_value = "0.0.0.0:9094"
    )]
    pub listen_address: String,
    /// Explicit address to advertise in cluster.
    #[arg(long = "cluster.advertise-address", id = "cluster.advertise-address")]
    pub advertise_address: Option<String>,
    /// Initial peers (may be repeated).
    #[arg(long = "cluster.peer", id = "cluster.peer")]
    pub peers: Vec<String>,
    #[arg(
        long = "cluster.peer-timeout",
        id = "cluster.peer-timeout",
        hide = true
    )]
    pub peer_timeout: Option<String>,
    #[arg(
        long = "cluster.gossip-interval",
        id = "cluster.gossip-interval",
        hide = true
    )]
    pub gossip_interval: Option<String>,
    #[arg(
        long = "cluster.pushpull-interval",
        id = "cluster.pushpull-interval",
        hide = true
    )]
    pub pushpull_interval: Option<String>,
    #[arg(long = "cluster.tcp-timeout", id = "cluster.tcp-timeout", hide = true)]
    pub tcp_timeout: Option<String>,
    #[arg(
        long = "cluster.probe-timeout",
        id = "cluster.probe-timeout",
        hide = true
    )]
    pub probe_timeout: Option<String>,
    #[arg(
        long = "cluster.probe-interval",
        id = "cluster.probe-interval",
        hide = true
    )]
    pub probe_interval: Option<String>,
    #[arg(
        long = "cluster.settle-timeout",
        id = "cluster.settle-timeout",
        hide = true
    )]
    pub settle_timeout: Option<String>,
    #[arg(
        long = "cluster.reconnect-interval",
        id = "cluster.reconnect-interval",
        hide = true
    )]
    pub reconnect_interval: Option<String>,
    #[arg(
        long = "cluster.reconnect-timeout",
        id = "cluster.reconnect-timeout",
        hide = true
    )]
    pub reconnect_timeout: Option<String>,
    #[arg(long = "cluster.tls-config", id = "cluster.tls-config", hide = true)]
    pub tls_config: Option<String>,
    #[arg(long = "cluster.label", id = "cluster.label", hide = true)]
    pub label: Option<String>,
    #[arg(
        long = "cluster.allow-insecure-public-advertise-address-discovery", id = "cluster.allow-insecure-public-advertise-address-discovery",
        hide = true,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub allow_insecure_public_advertise_address_discovery: Option<bool>,
}

impl ClusterArgs {
    /// Whether the flags ask for a cluster (which is not implemented).
    fn wants_cluster(&self) -> bool {
        !self.listen_address.is_empty() || !self.peers.is_empty()
    }
}

/// Parses `flags` (without the command's name) as `wasmetheus
/// alertmanager` does.
pub fn parse_args<I, T>(flags: I) -> Result<AlertmanagerArgs, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::{Args, FromArgMatches};
    let command = AlertmanagerArgs::augment_args(clap::Command::new("alertmanager"));
    let matches = command.try_get_matches_from(
        std::iter::once(std::ffi::OsString::from("alertmanager"))
            .chain(flags.into_iter().map(Into::into)),
    )?;
    AlertmanagerArgs::from_arg_matches(&matches)
}

/// Runs the Alertmanager until SIGTERM or SIGINT, plugins compiling in
/// child processes of this executable.
pub fn run(mut args: AlertmanagerArgs) -> anyhow::Result<()> {
    let this_binary = PathBuf::from("/proc/self/exe");
    args.plugins_compiler = Some(if this_binary.exists() {
        this_binary
    } else {
        std::env::current_exe().context("finding the server's own executable")?
    });
    run_until_signal(args)
}

/// Runs the Alertmanager of `args` as is (see
/// [`AlertmanagerArgs::plugins_compiler`]) until SIGTERM or SIGINT,
/// reloading on SIGHUP.
pub fn run_until_signal(args: AlertmanagerArgs) -> anyhow::Result<()> {
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
            let running = start(args).await?;
            running.serve_until(super::shutdown_signal()).await
        })
}

/// A started Alertmanager: configuration loaded, state open, listening.
pub struct RunningAlertmanager {
    pub address: std::net::SocketAddr,
    service: Arc<Service>,
    listener: LimitedListener,
    read_timeout: Duration,
    web: Option<Arc<wasmetheus_web::WebSecurity>>,
    route_prefix: String,
}

/// Loads the configuration and the receiver plugins, opens the state and
/// binds the listen address; HTTP is served by
/// [`RunningAlertmanager::serve_until`].
pub async fn start(args: AlertmanagerArgs) -> anyhow::Result<RunningAlertmanager> {
    if args.cluster.wants_cluster() {
        tracing::warn!(
            "clustering is not implemented: this Alertmanager runs alone and ignores the \
             --cluster.* flags (--cluster.listen-address= disables clustering and this warning)"
        );
    }
    if args.web_systemd_socket {
        tracing::warn!(
            "--web.systemd-socket is not supported: listening on --web.listen-address {}",
            args.listen_address
        );
    }
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
    super::flags::check_route_prefix(&route_prefix)?;
    std::fs::create_dir_all(&args.storage_path)
        .with_context(|| format!("creating {}", args.storage_path.display()))?;
    let runtime = super::plugin_runtime(&super::PluginFlags {
        dir: &args.plugins_dir,
        cache_dir: args
            .plugins_cache_dir
            .clone()
            .unwrap_or_else(|| args.storage_path.join("plugin-cache")),
        max_instances: None,
        max_size: None,
        compile_timeout: None,
        max_concurrent_compiles: 0,
        compiler: args.plugins_compiler.as_deref(),
        compile_memory_limit: None,
    })?;
    let mut options = ServiceOptions::new(
        args.config_file.clone(),
        args.storage_path.clone(),
        args.plugins_dir.clone(),
        runtime,
    );
    options.retention = args.retention;
    options.external_url = external_url.clone();
    options.alerts_gc_interval = args.alerts_gc_interval;
    options.maintenance_interval = args.maintenance_interval;
    let service = Service::start(options)
        .await
        .with_context(|| format!("loading {}", args.config_file.display()))?;
    let listener = match bind(&args.listen_address).await {
        Ok(listener) => listener,
        Err(e) => {
            service.shutdown().await;
            return Err(e);
        }
    };
    let address = listener.local_addr()?;
    tracing::info!(
        address = %address,
        external_url = %external_url,
        route_prefix = %route_prefix,
        "Alertmanager listening"
    );
    Ok(RunningAlertmanager {
        address,
        service,
        // Alertmanager has no connection limit flag; this bounds them.
        listener: LimitedListener::new(listener, 1024),
        read_timeout: args.web_timeout,
        web,
        route_prefix,
    })
}

/// Binds `address`; `:port` (Go's every interface) binds IPv6's any
/// address (both families where the system allows), else IPv4's.
async fn bind(address: &str) -> anyhow::Result<tokio::net::TcpListener> {
    let result = match address.strip_prefix(':') {
        Some(port) => match tokio::net::TcpListener::bind(format!("[::]:{port}")).await {
            Ok(listener) => Ok(listener),
            Err(_) => tokio::net::TcpListener::bind(format!("0.0.0.0:{port}")).await,
        },
        None => tokio::net::TcpListener::bind(address).await,
    };
    result.with_context(|| format!("listening on {address}"))
}

impl RunningAlertmanager {
    /// Serves HTTP until `shutdown` completes (reloading on SIGHUP), then
    /// stops the Alertmanager.
    pub async fn serve_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        // Registered before serving: a SIGHUP from then on reloads rather
        // than ending the process (its default action).
        let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let sighup = tokio::spawn(reload_on_sighup(Arc::clone(&self.service), hup));
        let router = super::app_router(
            routes(Arc::clone(&self.service)),
            &self.route_prefix,
            self.web.as_ref(),
        );
        let tls = self.web.filter(|web| web.tls_enabled());
        serve_http(self.listener, router, self.read_timeout, tls, shutdown).await;
        sighup.abort();
        self.service.shutdown().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The API v2, the lifecycle endpoints and `/metrics`.
fn routes(service: Arc<Service>) -> axum::Router {
    let metrics = {
        let service = Arc::clone(&service);
        move |headers: HeaderMap| {
            let service = Arc::clone(&service);
            async move {
                let mut families = service.metrics();
                families.extend(super::process_metrics::families());
                exposition(&headers, &families)
            }
        }
    };
    let reload = {
        let service = Arc::clone(&service);
        move || {
            let service = Arc::clone(&service);
            async move {
                match service.reload().await {
                    Ok(()) => (StatusCode::OK, String::new()),
                    Err(e) => {
                        tracing::error!("error reloading the configuration: {e}");
                        (
                            StatusCode::INTERNAL_SERVER_ERROR,
                            format!("failed to reload config: {e}\n"),
                        )
                    }
                }
            }
        }
    };
    let ok = || async { "OK" };
    axum::Router::new()
        .route("/-/healthy", get(ok))
        .route("/-/ready", get(ok))
        .route("/-/reload", post(reload))
        .route("/metrics", get(metrics))
        .route(
            "/",
            get(|| async {
                "wasmetheus Alertmanager: its API v2 is under api/v2/ (amtool \
                 --alertmanager.url=<this URL>); metrics at metrics.\n"
            }),
        )
        .merge(wasmetheus_api::router_v2(service.backend()))
}

/// `families` in the 0.0.4 text format.
fn exposition(_headers: &HeaderMap, families: &[wasmetheus_model::MetricFamily]) -> Response {
    let mut body = String::with_capacity(4096);
    wasmetheus_model::text::encode(families, &mut body);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn reload_on_sighup(service: Arc<Service>, hup: Option<tokio::signal::unix::Signal>) {
    let Some(mut hup) = hup else {
        tracing::warn!("SIGHUP cannot be handled: reload through POST /-/reload");
        return;
    };
    while hup.recv().await.is_some() {
        match service.reload().await {
            Ok(()) => tracing::info!("configuration reloaded"),
            Err(e) => tracing::error!("error reloading the configuration: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AlertmanagerArgs;
    use std::path::Path;
    use std::time::Duration;

    fn parse(flags: &[&str]) -> Result<AlertmanagerArgs, clap::Error> {
        super::parse_args(flags)
    }

    /// Alertmanager's defaults, its flags' values, and its cluster flags
    /// accepted.
    #[test]
    fn flags_are_alertmanagers() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.config_file, Path::new("alertmanager.yml"));
        assert_eq!(args.storage_path, Path::new("data/"));
        assert_eq!(args.retention, Duration::from_secs(120 * 3600));
        assert_eq!(args.maintenance_interval, Duration::from_secs(15 * 60));
        assert_eq!(args.alerts_gc_interval, Duration::from_secs(30 * 60));
        assert_eq!(args.listen_address, ":9093");
        assert!(args.cluster.wants_cluster());
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        let url = args.web.external_url(&args.listen_address, false).unwrap();
        assert_eq!(url, format!("http://{}:9093", host.trim()));
        assert_eq!(args.web.route_prefix(&url), "/");
        let args = parse(&[
            "--config.file=/etc/am.yml",
            "--storage.path",
            "/var/lib/am",
            "--web.listen-address=127.0.0.1:19093",
            "--web.external-url=http://am.example:80/alerts/",
            "--data.retention=1h",
            "--cluster.listen-address=",
            "--cluster.peer=a:9094",
            "--cluster.peer=b:9094",
            "--cluster.settle-timeout=1m",
            "--cluster.allow-insecure-public-advertise-address-discovery",
            "--log.level=debug",
            "--log.format=json",
            "--web.systemd-socket",
            "--web.ui-path=/usr/share/prometheus/alertmanager/ui/",
        ])
        .unwrap();
        assert_eq!(args.config_file, Path::new("/etc/am.yml"));
        assert_eq!(args.storage_path, Path::new("/var/lib/am"));
        assert_eq!(args.retention, Duration::from_secs(3600));
        assert_eq!(args.cluster.peers, ["a:9094", "b:9094"]);
        assert!(args.web_systemd_socket);
        assert!(args.cluster.wants_cluster());
        let url = args.web.external_url(&args.listen_address, false).unwrap();
        assert_eq!(args.web.route_prefix(&url), "/alerts");
        let args = parse(&["--cluster.listen-address="]).unwrap();
        assert!(!args.cluster.wants_cluster());
        assert!(parse(&["--data.retention=forever"]).is_err());
    }
}
