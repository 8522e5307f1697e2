//! The sandbox of one plugin instance: its WASI context built from grants,
//! its memory limits, its caps on host resources, and the `host` interface
//! checked against the grants.
//!
//! Host resources a guest can create in a loop are capped per instance:
//! every WASI resource (descriptors, streams, pollables, sockets, HTTP
//! fields, requests and responses) lives in the store's resource table,
//! limited to [`MAX_RESOURCES`] entries; one HTTP fields value holds at most
//! [`MAX_HTTP_FIELDS_BYTES`]; open descriptors are capped by
//! [`crate::fs_guard`] and TCP sockets by [`crate::socket_cap`], both below
//! what the table allows since each holds a host file descriptor. Going past
//! a cap traps the call with a message that names it, and the store is
//! discarded. Outgoing HTTP connections are capped at
//! [`MAX_HTTP_CONNECTIONS`]; one more request fails with
//! `connection-limit-reached`.

use crate::bindings::{host, types};
use crate::convert::{Capability, CapabilityRequest};
use crate::fs_guard::{FsGuard, FsGuardView, GrantError, GuardedFs};
use crate::limits::MemoryLimiter;
use crate::socket_cap::{SocketCap, SocketCapView};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use wasmetheus_config::Grants;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::filesystem::WasiFilesystemCtxView;
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

/// The most WASI resources (descriptors, streams, pollables, sockets, HTTP
/// fields, requests, responses…) one instance may hold at once. Plugins
/// hold a handful; a guest creating them in a loop hits this first.
pub const MAX_RESOURCES: usize = 4096;

/// The most bytes of names and values one HTTP fields value may hold.
pub const MAX_HTTP_FIELDS_BYTES: usize = 64 * 1024;

/// The most outgoing HTTP connections one instance may have open at once;
/// one more request fails with `connection-limit-reached`.
pub const MAX_HTTP_CONNECTIONS: usize = 16;

/// The text wasmtime gives a full resource table, and what it means here.
const TABLE_FULL: &str = "resource table has no free keys";

/// The text wasmtime-wasi-http gives a fields value over its size limit.
const FIELDS_TOO_BIG: &str = "total size of fields exceeds limit";

/// Explains a trap caused by one of the caps above, if it was one.
pub fn resource_cap_hint(error_text: &str) -> Option<String> {
    if error_text.contains(TABLE_FULL) {
        Some(format!(
            "plugin exceeded its limit of {MAX_RESOURCES} WASI resources (descriptors, streams, \
             pollables, sockets, HTTP fields) held at once; it must drop the ones it no longer uses"
        ))
    } else if error_text.contains(FIELDS_TOO_BIG) {
        Some(format!(
            "plugin exceeded its limit of {MAX_HTTP_FIELDS_BYTES} bytes of HTTP header names and \
             values in one fields value"
        ))
    } else {
        None
    }
}

/// Everything a store of one instance holds.
pub struct InstanceState {
    pub instance_name: Arc<str>,
    pub plugin_name: Arc<str>,
    pub grants: Arc<Grants>,
    pub limiter: MemoryLimiter,
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    http_hooks: OriginCheck,
    fs_guard: FsGuard,
    socket_cap: SocketCap,
    /// The last line the plugin logged at `error` level since the current
    /// call began: a collect that returns metrics but logged an error (an
    /// exporter reporting `mysql_up 0`, say) shows it as the instance's
    /// last collect error.
    pub logged_error: Option<String>,
}

impl InstanceState {
    /// Builds the sandbox: read-only preopens for granted paths, granted
    /// environment variables, TCP to granted addresses, DNS if granted, and
    /// nothing else. Fails when a granted path cannot be opened.
    pub fn new(
        plugin_name: Arc<str>,
        instance_name: Arc<str>,
        grants: Arc<Grants>,
        limiter: MemoryLimiter,
    ) -> Result<Self, String> {
        let mut wasi = WasiCtxBuilder::new();
        // File operations run inline on the plugin executor's thread: this
        // saves a hop to a thread pool per call (several hundred
        // microseconds per file read otherwise). Reads of /proc and /sys
        // return at once, and FIFOs, sockets and devices that block are
        // refused by the fs guard; a regular file on a hung network mount
        // under a grant would still let a plugin hold an executor thread
        // past its deadline. Set before the preopens, which capture it.
        wasi.allow_blocking_current_thread(true);
        let mut fs_guard = FsGuard::new(Arc::clone(&plugin_name), Arc::clone(&instance_name));
        for path in &grants.read_paths {
            // A grant of a path this machine lacks gives nothing to read;
            // it must not keep the instance from running.
            if !path.exists() {
                tracing::warn!(plugin = %plugin_name, instance = %instance_name, path = %path.display(), "granted read path does not exist; skipped");
                continue;
            }
            // A grant of (a part of) the server's own process directory,
            // such as /proc/self, would hand it the server's memory map,
            // environment and descriptors; one through a magic link such
            // as /proc/self/cwd, its data directory.
            if !path.is_dir() {
                return Err(format!(
                    "granted read path {} is not a directory: read_paths grant directories \
                     and everything below them; grant the one that holds it ({})",
                    path.display(),
                    path.parent().unwrap_or(Path::new("/")).display()
                ));
            }
            let dir = match fs_guard.open_grant(path) {
                Ok(dir) => dir,
                Err(GrantError::Denied(why)) => {
                    tracing::warn!(plugin = %plugin_name, instance = %instance_name, path = %path.display(), "granted read path refused: {why}");
                    continue;
                }
                Err(GrantError::Open(e)) => {
                    return Err(format!("granted read path {}: {e}", path.display()));
                }
            };
            let guest = path.to_string_lossy();
            wasi.preopened_dir(reopen_path(&dir, path), guest.as_ref(), FsPerms::ReadOnly)
                .map_err(|e| format!("granted read path {}: {e}", path.display()))?;
        }
        for name in &grants.env {
            if let Ok(value) = std::env::var(name) {
                wasi.env(name, value);
            }
        }
        let allowed = resolve_tcp_grants(&grants.tcp_connect);
        if !allowed.is_empty() {
            wasi.allow_tcp(true);
        }
        wasi.allow_udp(false);
        wasi.allow_ip_name_lookup(grants.dns);
        let allowed = Arc::new(allowed);
        wasi.socket_addr_check(move |addr, use_| {
            let allowed = Arc::clone(&allowed);
            Box::pin(async move {
                match use_ {
                    // `connect` binds implicitly to the wildcard address first.
                    SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
                    SocketAddrUse::TcpConnect => allowed.contains(&addr),
                    _ => false,
                }
            })
        });
        let http_hooks = OriginCheck::new(
            Arc::clone(&plugin_name),
            Arc::clone(&instance_name),
            grants.http_origins.clone(),
        );
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(MAX_HTTP_FIELDS_BYTES);
        Ok(InstanceState {
            instance_name,
            plugin_name,
            limiter,
            table,
            wasi: wasi.build(),
            http,
            fs_guard,
            socket_cap: SocketCap::default(),
            logged_error: None,
            http_hooks,
            grants,
        })
    }
}

/// The path wasmtime-wasi opens a checked grant by: the checked descriptor
/// itself through `/proc/self/fd/N` (wasmtime-wasi preopens only by path),
/// so a directory swapped in under the granted name after the check is not
/// what gets preopened. Without procfs at /proc, the granted path again,
/// which leaves that window open.
fn reopen_path(dir: &std::os::fd::OwnedFd, granted: &Path) -> PathBuf {
    use std::os::fd::AsRawFd;
    let by_descriptor = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    if by_descriptor.is_dir() {
        by_descriptor
    } else {
        granted.to_owned()
    }
}

/// Turns `host:port` grants into socket addresses. Names are resolved once,
/// here, so a plugin cannot reach other addresses through DNS changes.
fn resolve_tcp_grants(grants: &[String]) -> Vec<SocketAddr> {
    use std::net::ToSocketAddrs;
    grants
        .iter()
        .flat_map(|g| match g.to_socket_addrs() {
            Ok(addrs) => addrs.collect::<Vec<_>>(),
            Err(e) => {
                tracing::warn!(grant = %g, error = %e, "tcp_connect grant does not resolve");
                Vec::new()
            }
        })
        .collect()
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl FsGuardView for InstanceState {
    fn guarded_fs(&mut self) -> GuardedFs<'_> {
        GuardedFs {
            fs: WasiFilesystemCtxView {
                ctx: self.wasi.filesystem(),
                table: &mut self.table,
            },
            guard: &mut self.fs_guard,
        }
    }
}

impl SocketCapView for InstanceState {
    fn socket_cap(&mut self) -> &mut SocketCap {
        &mut self.socket_cap
    }
}

impl WasiHttpView for InstanceState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}

/// One open HTTP connection of an instance, counted until dropped.
struct ConnectionPermit(Arc<AtomicUsize>);

impl ConnectionPermit {
    fn acquire(open: &Arc<AtomicUsize>) -> Option<Self> {
        open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < MAX_HTTP_CONNECTIONS).then_some(n + 1)
        })
        .ok()?;
        Some(ConnectionPermit(Arc::clone(open)))
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Lets outgoing HTTP requests through only to granted origins, and at most
/// [`MAX_HTTP_CONNECTIONS`] at once.
struct OriginCheck {
    plugin: Arc<str>,
    instance: Arc<str>,
    origins: Vec<String>,
    /// HTTP connections of this instance open now.
    connections: Arc<AtomicUsize>,
    /// Whether a refusal was logged as a warning already.
    warned: bool,
}

impl OriginCheck {
    fn new(plugin: Arc<str>, instance: Arc<str>, origins: Vec<String>) -> Self {
        OriginCheck {
            plugin,
            instance,
            origins,
            connections: Arc::new(AtomicUsize::new(0)),
            warned: false,
        }
    }

    /// Logs a refused request: a hostile plugin can send them in a loop,
    /// so one warning per instance, the rest at debug level.
    fn refused(&mut self, origin: Option<&str>, why: &str) {
        let (plugin, instance) = (&*self.plugin, &*self.instance);
        if self.warned {
            tracing::debug!(plugin, instance, origin, "plugin HTTP request {why}");
        } else {
            self.warned = true;
            tracing::warn!(
                plugin,
                instance,
                origin,
                "plugin HTTP request {why} (further refusals of this instance are logged at debug level)"
            );
        }
    }
}

/// `scheme://host[:port]` of a URI, with the scheme's default port explicit.
pub(crate) fn origin_of(uri: &http::Uri) -> Option<String> {
    let scheme = uri.scheme_str()?;
    let host = uri.host()?;
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    Some(format!("{scheme}://{host}:{port}"))
}

fn normalize_origin(origin: &str) -> Option<String> {
    origin_of(&origin.parse::<http::Uri>().ok()?)
}

impl WasiHttpHooks for OriginCheck {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<wasmtime_wasi_http::WasiBody>,
                        Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        let target = origin_of(request.uri());
        let granted = target.as_ref().is_some_and(|target| {
            self.origins
                .iter()
                .any(|o| normalize_origin(o).as_ref() == Some(target))
        });
        if !granted {
            self.refused(
                target.as_deref(),
                "to an origin not granted denied (grant it under http_origins)",
            );
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        _ = fut;
        let Some(permit) = ConnectionPermit::acquire(&self.connections) else {
            self.refused(
                target.as_deref(),
                &format!("refused: {MAX_HTTP_CONNECTIONS} connections already open"),
            );
            return Box::new(async { Err(wasmtime_wasi_http::Error::ConnectionLimitReached) });
        };
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            // The connection lives as long as the future driving it.
            let io = async move {
                let _permit = permit;
                io.await
            };
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

impl types::Host for InstanceState {}

impl host::Host for InstanceState {
    fn log(&mut self, level: types::LogLevel, message: String) {
        // Plugins can log a lot; cap a line so one cannot flood the log.
        let message: String = message.chars().take(4096).collect();
        let (plugin, instance) = (&*self.plugin_name, &*self.instance_name);
        match level {
            types::LogLevel::Trace => tracing::trace!(plugin, instance, "{message}"),
            types::LogLevel::Debug => tracing::debug!(plugin, instance, "{message}"),
            types::LogLevel::Info => tracing::info!(plugin, instance, "{message}"),
            types::LogLevel::Warn => tracing::warn!(plugin, instance, "{message}"),
            types::LogLevel::Error => {
                tracing::error!(plugin, instance, "{message}");
                self.logged_error = Some(message);
            }
        }
    }

    fn filesystem_usage(&mut self, mount_point: String) -> Result<host::MountUsage, types::Error> {
        let path = Path::new(&mount_point);
        if !path.is_absolute() || path.components().any(|c| c.as_os_str() == "..") {
            return Err(types::Error::Denied(format!(
                "filesystem usage of {mount_point}: the mount point must be an absolute path without `..`"
            )));
        }
        if !self
            .grants
            .filesystem_usage
            .iter()
            .any(|granted| path.starts_with(granted))
        {
            return Err(types::Error::Denied(format!(
                "filesystem usage of {mount_point}: not granted (add it under grants.filesystem_usage)"
            )));
        }
        let stat = rustix::fs::statvfs(path)
            .map_err(|e| types::Error::Unavailable(format!("statvfs {mount_point}: {e}")))?;
        let block = stat.f_frsize;
        Ok(host::MountUsage {
            size_bytes: stat.f_blocks.saturating_mul(block),
            free_bytes: stat.f_bfree.saturating_mul(block),
            available_bytes: stat.f_bavail.saturating_mul(block),
            files: stat.f_files,
            files_free: stat.f_ffree,
            read_only: stat.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY),
        })
    }

    fn instance_name(&mut self) -> String {
        self.instance_name.to_string()
    }

    fn granted_read_paths(&mut self) -> Vec<String> {
        self.grants
            .read_paths
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect()
    }
}

/// Whether a requested capability is covered by the grants.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CapabilityStatus {
    pub capability: String,
    pub reason: String,
    pub optional: bool,
    pub granted: bool,
    /// When not granted: the configuration lines that would grant it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_with: Option<String>,
}

/// The capability as it is written in the log and the API.
pub fn capability_text(capability: &Capability) -> String {
    match capability {
        Capability::ReadPath(p) => format!("read-path {p}"),
        Capability::TcpConnect(a) => format!("tcp-connect {a}"),
        Capability::HttpOrigin(o) => format!("http-origin {o}"),
        Capability::EnvVar(v) => format!("env-var {v}"),
        Capability::DnsLookup => "dns-lookup".to_owned(),
        Capability::FilesystemUsage(p) => format!("filesystem-usage {p}"),
    }
}

/// Whether `grants` cover `capability`.
pub fn is_granted(capability: &Capability, grants: &Grants) -> bool {
    let covers = |granted: &[PathBuf], wanted: &str| {
        granted.iter().any(|g| Path::new(wanted).starts_with(g))
    };
    match capability {
        Capability::ReadPath(p) => covers(&grants.read_paths, p),
        Capability::TcpConnect(a) => grants.tcp_connect.iter().any(|g| g == a),
        Capability::HttpOrigin(o) => {
            let wanted = normalize_origin(o);
            grants
                .http_origins
                .iter()
                .any(|g| wanted.is_some() && normalize_origin(g) == wanted)
        }
        Capability::EnvVar(v) => grants.env.iter().any(|g| g == v),
        Capability::DnsLookup => grants.dns,
        Capability::FilesystemUsage(p) => covers(&grants.filesystem_usage, p),
    }
}

/// The configuration lines that would grant `capability` to `plugin`.
pub fn grant_hint(plugin: &str, capability: &Capability) -> String {
    let line = match capability {
        Capability::ReadPath(p) => format!("read_paths: [{p}]"),
        Capability::TcpConnect(a) => format!("tcp_connect: [\"{a}\"]"),
        Capability::HttpOrigin(o) => format!("http_origins: [\"{o}\"]"),
        Capability::EnvVar(v) => format!("env: [{v}]"),
        Capability::DnsLookup => "dns: true".to_owned(),
        Capability::FilesystemUsage(p) => format!("filesystem_usage: [{p}]"),
    };
    format!("plugins:\n  grants:\n    {plugin}:\n      {line}")
}

/// Compares what a plugin requested with what an instance was granted.
pub fn capability_statuses(
    plugin: &str,
    requests: &[CapabilityRequest],
    grants: &Grants,
) -> Vec<CapabilityStatus> {
    requests
        .iter()
        .map(|r| {
            let granted = is_granted(&r.capability, grants);
            CapabilityStatus {
                capability: capability_text(&r.capability),
                reason: r.reason.clone(),
                optional: r.optional,
                granted,
                grant_with: (!granted).then(|| grant_hint(plugin, &r.capability)),
            }
        })
        .collect()
}

/// Grants covering exactly what was requested (for `check plugins`).
pub fn grants_for_requests(requests: &[CapabilityRequest]) -> Grants {
    let mut grants = Grants::default();
    for request in requests {
        match &request.capability {
            Capability::ReadPath(p) => grants.read_paths.push(p.into()),
            Capability::TcpConnect(a) => grants.tcp_connect.push(a.clone()),
            Capability::HttpOrigin(o) => grants.http_origins.push(o.clone()),
            Capability::EnvVar(v) => grants.env.push(v.clone()),
            Capability::DnsLookup => grants.dns = true,
            Capability::FilesystemUsage(p) => grants.filesystem_usage.push(p.into()),
        }
    }
    grants
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tracing::field::{Field, Visit};

    /// An event's level and its fields by name.
    type Recorded = (tracing::Level, Vec<(String, String)>);

    /// Records the level and fields of every event.
    #[derive(Default, Clone)]
    struct Recorder(Arc<Mutex<Vec<Recorded>>>);

    struct Fields(Vec<(String, String)>);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.push((field.name().to_owned(), format!("{value:?}")));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.push((field.name().to_owned(), value.to_owned()));
        }
    }

    impl tracing::Subscriber for Recorder {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            let mut fields = Fields(Vec::new());
            event.record(&mut fields);
            let level = *event.metadata().level();
            self.0.lock().unwrap().push((level, fields.0));
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[test]
    fn refused_http_requests_warn_once_per_instance_naming_it() {
        let recorder = Recorder::default();
        let mut check = OriginCheck::new(
            "scraper".into(),
            "scraper-1".into(),
            vec!["http://granted.example:80".into()],
        );
        tracing::subscriber::with_default(recorder.clone(), || {
            for _ in 0..100 {
                let request = http::Request::get("http://elsewhere.example/secret")
                    .body(wasmtime_wasi_http::WasiBody::default())
                    .unwrap();
                let future = Box::new(async { Ok(()) });
                drop(check.send_request(request, None, future));
            }
        });
        let events = recorder.0.lock().unwrap();
        assert_eq!(events.len(), 100);
        let warnings: Vec<_> = events
            .iter()
            .filter(|(level, _)| *level == tracing::Level::WARN)
            .collect();
        assert_eq!(warnings.len(), 1, "one warning, the rest at debug level");
        for (_, fields) in events.iter() {
            let field = |name: &str| {
                fields
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.as_str())
            };
            assert_eq!(field("plugin"), Some("scraper"));
            assert_eq!(field("instance"), Some("scraper-1"));
            assert_eq!(field("origin"), Some("http://elsewhere.example:80"));
        }
    }
}
