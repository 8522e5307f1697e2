//! The flags of `wasmetheus serve` ([`ServeArgs`], with Prometheus' names
//! where Prometheus has the same setting), what they compute (the external
//! URL, the route prefix, the engine and storage options) and the values
//! `/api/v1/status/flags` shows.

pub use crate::alerting::RulesArgs;
use anyhow::Context;
use std::path::PathBuf;
use wasmetheus_config::Config;

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
    #[arg(long = "plugins.compile-timeout", default_value = "30s", value_parser = wasmetheus_config::PromDuration::parse_std)]
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
    #[arg(long = "storage.tsdb.retention.time", default_value = "15d", value_parser = wasmetheus_config::PromDuration::parse_std)]
    pub retention_time: std::time::Duration,
    /// Most bytes of storage to keep (B, KB, MB, GB, TB, PB, EB); 0 disables
    /// the limit. Oldest blocks go first.
    #[arg(long = "storage.tsdb.retention.size", default_value = "0", value_parser = parse_size)]
    pub retention_size: u64,
    /// Compress the write-ahead log (`=false` writes it uncompressed).
    #[arg(
        long = "storage.tsdb.wal-compression",
        default_value_t = true,
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub wal_compression: bool,
    /// How the write-ahead log is compressed: zstd (smaller) or snappy
    /// (a little less CPU). Any log is read whatever it was written with.
    #[arg(long = "storage.tsdb.wal-compression-type", default_value = "zstd", value_parser = ["zstd", "snappy"])]
    pub wal_compression_type: String,
    /// Enables the TSDB admin endpoints (snapshot, delete_series,
    /// clean_tombstones under /api/v1/admin/tsdb/).
    #[arg(long = "web.enable-admin-api")]
    pub enable_admin_api: bool,
    /// Enable shutdown and reload via HTTP request (`/-/reload`).
    #[arg(long = "web.enable-lifecycle")]
    pub enable_lifecycle: bool,
    /// How far back an instant selector looks for a sample.
    #[arg(long = "query.lookback-delta", default_value = "5m", value_parser = wasmetheus_config::PromDuration::parse_std)]
    pub query_lookback_delta: std::time::Duration,
    /// The most samples a single query may load into memory.
    #[arg(long = "query.max-samples", default_value_t = 50_000_000)]
    pub query_max_samples: usize,
    /// The longest a query may run before it is aborted.
    #[arg(long = "query.timeout", default_value = "2m", value_parser = wasmetheus_config::PromDuration::parse_std)]
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
    #[arg(long = "web.read-timeout", default_value = "5m", value_parser = wasmetheus_config::PromDuration::parse_std)]
    pub web_read_timeout: std::time::Duration,
    /// Width of the blocks the head is compacted into.
    #[arg(long = "storage.tsdb.min-block-duration", default_value = "2h", value_parser = wasmetheus_config::PromDuration::parse_std, hide = true)]
    pub block_duration: std::time::Duration,
    /// Log level: debug, info, warn, error.
    #[arg(long = "log.level", default_value = "info")]
    pub log_level: String,
    /// TLS, authentication and the address the server is reached at.
    #[command(flatten)]
    pub web: WebArgs,
    /// The rule manager's and the notifier's settings.
    #[command(flatten)]
    pub rules: RulesArgs,
    /// The remote write receiver's and the remote read server's settings.
    #[command(flatten)]
    pub remote: RemoteStorageArgs,
}

/// The remote write receiver's and remote read server's flags, as
/// Prometheus'.
#[derive(Debug, Clone, clap::Args)]
pub struct RemoteStorageArgs {
    /// Accept remote write requests on /api/v1/write (remote write 1.0
    /// and 2.0 messages; without it the endpoint answers 404).
    #[arg(long = "web.enable-remote-write-receiver")]
    pub enable_remote_write_receiver: bool,
    /// The remote write protobuf messages the receiver accepts:
    /// prometheus.WriteRequest, io.prometheus.write.v2.Request.
    #[arg(
        long = "web.remote-write-receiver.accepted-protobuf-messages",
        value_delimiter = ',',
        default_values = ["prometheus.WriteRequest", "io.prometheus.write.v2.Request"],
        value_parser = parse_proto_message,
    )]
    pub accepted_messages: Vec<wasmetheus_remote::receiver::MessageKind>,
    /// Most samples one remote read request may return (over all its
    /// queries, sampled or streamed); 0: no limit.
    #[arg(
        long = "storage.remote.read-sample-limit",
        default_value_t = 50_000_000
    )]
    pub read_sample_limit: usize,
    /// Most remote read requests served at once; others wait. 0: no limit.
    #[arg(long = "storage.remote.read-concurrent-limit", default_value_t = 10)]
    pub read_concurrent_limit: usize,
    /// Most bytes of chunks in one frame of a streamed remote read answer
    /// (a frame holds at least one chunk of at most 120 samples).
    #[arg(long = "storage.remote.read-max-bytes-in-frame", default_value_t = 1_048_576, value_parser = clap::value_parser!(u64).range(1..))]
    pub read_max_bytes_in_frame: u64,
}

impl Default for RemoteStorageArgs {
    /// The flags' defaults.
    fn default() -> Self {
        let read = wasmetheus_remote::read::ReadOptions::default();
        RemoteStorageArgs {
            enable_remote_write_receiver: false,
            accepted_messages: wasmetheus_remote::receiver::ReceiverOptions::default().accepted,
            read_sample_limit: read.sample_limit,
            read_concurrent_limit: read.concurrent_limit,
            read_max_bytes_in_frame: read.max_bytes_in_frame as u64,
        }
    }
}

impl RemoteStorageArgs {
    /// The receiver these flags configure, if it is enabled.
    pub fn receiver(&self) -> Option<wasmetheus_remote::receiver::Receiver> {
        self.enable_remote_write_receiver.then(|| {
            wasmetheus_remote::receiver::Receiver::new(
                wasmetheus_remote::receiver::ReceiverOptions {
                    accepted: self.accepted_messages.clone(),
                    ..wasmetheus_remote::receiver::ReceiverOptions::default()
                },
            )
        })
    }

    /// The read server's options.
    pub fn read_options(&self) -> wasmetheus_remote::read::ReadOptions {
        wasmetheus_remote::read::ReadOptions {
            sample_limit: self.read_sample_limit,
            concurrent_limit: self.read_concurrent_limit,
            max_bytes_in_frame: usize::try_from(self.read_max_bytes_in_frame).unwrap_or(usize::MAX),
            ..wasmetheus_remote::read::ReadOptions::default()
        }
    }
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
    /// Serve a built-in Pushgateway on this listener: Pushgateway 1.5's
    /// push API (`PUT`/`POST`/`DELETE /metrics/job/<job>{/<label>/<value>}`,
    /// `GET /api/v1/metrics`, and `PUT /api/v1/admin/wipe` with
    /// --web.enable-admin-api). Groups are kept in
    /// <storage.tsdb.path>/pushgateway/ and scraped in-process every
    /// global scrape_interval as job "pushgateway" with honor_labels.
    #[arg(long = "web.enable-pushgateway", id = "web.enable-pushgateway")]
    pub enable_pushgateway: bool,
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

fn parse_proto_message(text: &str) -> Result<wasmetheus_remote::receiver::MessageKind, String> {
    wasmetheus_remote::receiver::MessageKind::parse(text.trim()).ok_or_else(|| {
        format!(
            "unknown remote write protobuf message {text:?}; supported: prometheus.WriteRequest, io.prometheus.write.v2.Request"
        )
    })
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
            (
                "web.enable-remote-write-receiver",
                self.remote.enable_remote_write_receiver.to_string(),
            ),
            (
                "web.remote-write-receiver.accepted-protobuf-messages",
                (self.remote.accepted_messages.iter())
                    .map(|m| m.name())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            (
                "storage.remote.read-sample-limit",
                self.remote.read_sample_limit.to_string(),
            ),
            (
                "storage.remote.read-concurrent-limit",
                self.remote.read_concurrent_limit.to_string(),
            ),
            (
                "storage.remote.read-max-bytes-in-frame",
                self.remote.read_max_bytes_in_frame.to_string(),
            ),
            ("storage.tsdb.path", path(&self.storage_path)),
            (
                "storage.tsdb.wal-compression",
                self.wal_compression.to_string(),
            ),
            (
                "storage.tsdb.wal-compression-type",
                self.wal_compression_type.clone(),
            ),
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
            (
                "web.enable-pushgateway",
                self.web.enable_pushgateway.to_string(),
            ),
            (
                "rules.alert.for-outage-tolerance",
                duration(self.rules.for_outage_tolerance),
            ),
            (
                "rules.alert.for-grace-period",
                duration(self.rules.for_grace_period),
            ),
            (
                "rules.alert.resend-delay",
                duration(self.rules.resend_delay),
            ),
            (
                "rules.max-concurrent-evals",
                self.rules.max_concurrent_evals.to_string(),
            ),
            // As kingpin shows a repeated flag: the values joined by commas.
            ("enable-feature", self.rules.enable_feature.join(",")),
            (
                "alertmanager.notification-queue-capacity",
                self.rules.notification_queue_capacity.to_string(),
            ),
            (
                "alertmanager.notification-batch-size",
                self.rules.notification_batch_size.to_string(),
            ),
            (
                "alertmanager.drain-notification-queue-on-shutdown",
                self.rules.drain_notification_queue_on_shutdown.to_string(),
            ),
        ]
        .into_iter()
        .chain(self.rules.alertmanager.flag_values())
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
            wal_compression: if self.wal_compression {
                self.wal_compression_type
                    .parse()
                    .unwrap_or(wasmetheus_tsdb::wal::WalCompression::Zstd)
            } else {
                wasmetheus_tsdb::wal::WalCompression::None
            },
        }
    }
}

/// A route prefix the router can serve under: path segments without the
/// router's own syntax (`{…}`, `*`) and none empty.
pub(super) fn check_route_prefix(prefix: &str) -> anyhow::Result<()> {
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

    /// The rule and notifier flags: Prometheus' defaults (the same as
    /// `RulesArgs::default()`, which the tests' servers use), values, and
    /// the boolean taking `=false`.
    #[test]
    fn rule_and_notifier_flags() {
        let defaults = parse(&[]).unwrap().rules;
        let expected = super::RulesArgs::default();
        assert_eq!(format!("{defaults:?}"), format!("{expected:?}"));
        let args = parse(&[
            "--rules.alert.for-outage-tolerance=2h",
            "--rules.alert.for-grace-period=30s",
            "--rules.alert.resend-delay=15s",
            "--rules.max-concurrent-evals=2",
            "--alertmanager.notification-queue-capacity=5",
            "--alertmanager.notification-batch-size=3",
            "--alertmanager.drain-notification-queue-on-shutdown=false",
        ])
        .unwrap();
        let r = &args.rules;
        assert_eq!(
            (r.for_outage_tolerance, r.for_grace_period, r.resend_delay),
            (
                Duration::from_secs(7200),
                Duration::from_secs(30),
                Duration::from_secs(15)
            )
        );
        assert_eq!(
            (
                r.max_concurrent_evals,
                r.notification_queue_capacity,
                r.notification_batch_size,
                r.drain_notification_queue_on_shutdown
            ),
            (2, 5, 3, false)
        );
        let flags = args.flag_values();
        assert_eq!(flags["rules.alert.for-outage-tolerance"], "2h");
        assert_eq!(
            flags["alertmanager.drain-notification-queue-on-shutdown"],
            "false"
        );
        let bare = parse(&["--alertmanager.drain-notification-queue-on-shutdown"]).unwrap();
        assert!(bare.rules.drain_notification_queue_on_shutdown);
        assert!(parse(&["--alertmanager.notification-batch-size=0"]).is_err());
        assert!(parse(&["--rules.alert.resend-delay=soon"]).is_err());
    }

    /// `--enable-feature` as Prometheus reads it: repeatable, values
    /// split at commas, listed joined by commas; each name's effect, and
    /// the combination Prometheus refuses.
    #[test]
    fn enable_feature_is_repeatable_and_listed() {
        use crate::alerting::FeatureEffect;
        let args = parse(&[]).unwrap();
        assert!(args.rules.enable_feature.is_empty());
        assert_eq!(args.flag_values()["enable-feature"], "");
        assert!(!args.rules.features().unwrap().concurrent_rule_eval);
        let args = parse(&[
            "--enable-feature=concurrent-rule-eval,native-histograms",
            "--enable-feature",
            "bogus,,promql-experimental-functions",
            "--enable-feature=use-uncached-io",
        ])
        .unwrap();
        assert_eq!(
            args.flag_values()["enable-feature"],
            "concurrent-rule-eval,native-histograms,bogus,,promql-experimental-functions,use-uncached-io"
        );
        let features = args.rules.features().unwrap();
        assert!(features.concurrent_rule_eval);
        let effects: Vec<(&str, Option<FeatureEffect>)> = features
            .names
            .iter()
            .map(|(name, effect)| (name.as_str(), *effect))
            .collect();
        assert_eq!(
            effects,
            [
                (
                    "concurrent-rule-eval",
                    Some(FeatureEffect::Enabled(
                        "Experimental concurrent rule evaluation enabled."
                    ))
                ),
                (
                    "native-histograms",
                    Some(FeatureEffect::NoOp(
                        "This option for --enable-feature is a no-op. To scrape native histograms, set the scrape_native_histograms scrape config setting to true."
                    ))
                ),
                ("bogus", None),
                (
                    "promql-experimental-functions",
                    Some(FeatureEffect::AlwaysOn)
                ),
                ("use-uncached-io", Some(FeatureEffect::NotImplemented)),
            ]
        );
        let both = parse(&["--enable-feature=otlp-deltatocumulative,otlp-native-delta-ingestion"])
            .unwrap();
        assert_eq!(
            both.rules.features().unwrap_err(),
            "cannot enable otlp-deltatocumulative and otlp-native-delta-ingestion features at the same time"
        );
    }

    /// Prometheus 3.14's feature names, each known once.
    #[test]
    fn every_prometheus_feature_name_is_known() {
        let names = [
            "exemplar-storage",
            "memory-snapshot-on-shutdown",
            "extra-scrape-metrics",
            "metadata-wal-records",
            "promql-per-step-stats",
            "auto-reload-config",
            "concurrent-rule-eval",
            "promql-experimental-functions",
            "promql-duration-expr",
            "native-histograms",
            "ooo-native-histograms",
            "created-timestamp-zero-ingestion",
            "delayed-compaction",
            "promql-delayed-name-removal",
            "promql-extended-range-selectors",
            "promql-binop-fill-modifiers",
            "old-ui",
            "otlp-deltatocumulative",
            "otlp-native-delta-ingestion",
            "type-and-unit-labels",
            "use-uncached-io",
        ];
        let known: Vec<&str> = crate::alerting::FEATURES.iter().map(|(n, _)| *n).collect();
        assert_eq!(known, names);
        let features = crate::alerting::Features::parse(&[names.join(",")]).unwrap_err();
        assert!(features.contains("otlp"), "{features}");
        let without_otlp: Vec<String> = names
            .iter()
            .filter(|n| **n != "otlp-native-delta-ingestion")
            .map(|n| (*n).to_owned())
            .collect();
        let features = crate::alerting::Features::parse(&without_otlp).unwrap();
        assert!(features.names.iter().all(|(_, effect)| effect.is_some()));
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
}
