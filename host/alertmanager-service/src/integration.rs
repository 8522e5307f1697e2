//! A receiver's integrations over receiver plugins: each entry of a
//! `<kind>_configs` list is an [`Integration`] delivering through a
//! [`Sender`] opened from `<plugins dir>/<kind>-receiver.wasm`.
//!
//! What a plugin is opened with: the webhook plugin its own flat schema
//! (`url`, `max_alerts`, `timeout_ms`, `http_config`), every other plugin
//! `{"config": <the integration's object>, "templates": [{name, text}]}`;
//! in both, secrets named by `*_file` settings are read by the host (the
//! plugin has no file access). Grants are exactly what the configuration
//! names: the webhook's URL, Slack's API URL, the email smarthost.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Map, Value, json};
use wasmetheus_alertmanager::dispatch::{Integration, NotifyError, NotifyFuture, NotifyRequest};
use wasmetheus_alertmanager_config::{Config, KNOWN_INTEGRATIONS, WebhookConfig};
use wasmetheus_config::{Grants, HttpClientConfig};
use wasmetheus_plugin_runtime::{
    Alert as PluginAlert, Notification, ReceiverPlugin, ReceiverRuntime, Sender, SenderSpec,
    receiver_grants,
};

use crate::error::ServiceError;

/// The deadline of one plugin call when the integration sets none.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest deadline of one plugin call, whatever the integration says.
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(600);

/// The largest secret file read (`*_file`).
const MAX_SECRET_BYTES: u64 = 64 << 10;

/// The most bytes of all template files together.
const MAX_TEMPLATE_BYTES: u64 = 4 << 20;

/// The most template files.
const MAX_TEMPLATE_FILES: usize = 256;

/// Upstream's order of integrations in a receiver
/// (`notify.BuildReceiverIntegrations`); kinds only a plugin knows follow
/// in name order.
const BUILD_ORDER: &[&str] = &[
    "webhook",
    "email",
    "pagerduty",
    "opsgenie",
    "wechat",
    "slack",
    "victorops",
    "pushover",
    "sns",
    "telegram",
    "discord",
    "webex",
    "msteams",
    "msteamsv2",
    "jira",
    "rocketchat",
    "incidentio",
    "mattermost",
];

/// Notifications in progress, and whether new ones are refused (shutdown).
#[derive(Debug, Default)]
pub(crate) struct Gate {
    closing: AtomicBool,
    in_flight: AtomicUsize,
    idle: tokio::sync::Notify,
}

struct InFlight<'a>(&'a Gate);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Gate {
    fn enter(&self) -> Option<InFlight<'_>> {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        let guard = InFlight(self);
        (!self.closing.load(Ordering::Acquire)).then_some(guard)
    }

    /// Refuses new notifications and waits (at most `limit`) for those in
    /// progress; whether they all finished.
    pub(crate) async fn close(&self, limit: Duration) -> bool {
        self.closing.store(true, Ordering::Release);
        let wait = async {
            loop {
                let idle = self.idle.notified();
                if self.in_flight.load(Ordering::Acquire) == 0 {
                    return;
                }
                idle.await;
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }
}

/// Notifications of one integration handed to its sender at once: the
/// sender runs one call at a time and refuses more than 16 waiting, so
/// groups flushing together wait here for a turn (within their flush's
/// deadline) rather than fail and retry.
const SENDER_TURNS: usize = 8;

/// One configured integration delivering through a receiver plugin.
pub(crate) struct PluginIntegration {
    kind: String,
    index: u32,
    send_resolved: bool,
    sender: Arc<Sender>,
    /// Turns at the sender (see [`SENDER_TURNS`]).
    turns: tokio::sync::Semaphore,
    external_url: Arc<str>,
    gate: Arc<Gate>,
}

impl Integration for PluginIntegration {
    fn name(&self) -> &str {
        &self.kind
    }

    fn index(&self) -> u32 {
        self.index
    }

    fn send_resolved(&self) -> bool {
        self.send_resolved
    }

    fn notify<'a>(&'a self, req: &'a NotifyRequest<'a>) -> NotifyFuture<'a> {
        Box::pin(async move {
            // The semaphore is never closed.
            let Ok(_turn) = self.turns.acquire().await else {
                return Err(NotifyError {
                    retryable: true,
                    message: "the integration was stopped".to_owned(),
                });
            };
            // In flight once it has its turn: shutdown waits for calls at
            // the sender, not for those queued behind them.
            let Some(_in_flight) = self.gate.enter() else {
                return Err(NotifyError {
                    retryable: false,
                    message: "the Alertmanager is shutting down".to_owned(),
                });
            };
            self.sender
                .notify(notification(req, &self.external_url))
                .await
                .map_err(|e| NotifyError {
                    retryable: e.retryable,
                    message: e.message,
                })
        })
    }
}

/// Go's zero time as `time.Time.MarshalJSON` writes it.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A time as Go's `time.Time` marshals it (RFC 3339, fraction digits as
/// needed), UTC.
pub(crate) fn go_time(t: Option<Timestamp>) -> String {
    match t {
        Some(t) => t.to_string(),
        None => GO_ZERO_TIME.to_owned(),
    }
}

/// The notification a plugin gets (`template.Data` as the webhook sends
/// it): each alert's status as of the flush, the labels and annotations
/// common to all alerts.
pub(crate) fn notification(req: &NotifyRequest<'_>, external_url: &str) -> Notification {
    let mut firing = false;
    let alerts: Vec<PluginAlert> = req
        .alerts
        .iter()
        .map(|a| {
            let resolved = a.resolved_at(req.now);
            firing |= !resolved;
            PluginAlert {
                status: if resolved { "resolved" } else { "firing" }.to_owned(),
                labels: a.labels.clone(),
                annotations: a.annotations.clone(),
                starts_at: go_time(a.starts_at),
                ends_at: if resolved {
                    go_time(a.ends_at)
                } else {
                    String::new()
                },
                generator_url: a.generator_url.clone(),
                fingerprint: a.fingerprint().to_string(),
            }
        })
        .collect();
    let (common_labels, common_annotations) = match req.alerts.split_first() {
        None => (BTreeMap::new(), BTreeMap::new()),
        Some((first, rest)) => {
            let mut labels = first.labels.clone();
            let mut annotations = first.annotations.clone();
            for a in rest {
                if labels.is_empty() && annotations.is_empty() {
                    break;
                }
                labels.retain(|k, v| a.labels.get(k) == Some(v));
                annotations.retain(|k, v| a.annotations.get(k) == Some(v));
            }
            (labels, annotations)
        }
    };
    Notification {
        // Alertmanager's template data (and so the webhook payload) carry
        // the name quoted as a regular expression.
        receiver: wasmetheus_template::alertmanager::quote_meta(req.receiver),
        status: if firing { "firing" } else { "resolved" }.to_owned(),
        alerts,
        group_labels: req.group_labels.clone(),
        common_labels,
        common_annotations,
        external_url: external_url.to_owned(),
        group_key: req.group_key.to_owned(),
        truncated_alerts: 0,
    }
}

/// What building a configuration's integrations needs.
pub(crate) struct BuildContext<'a> {
    pub plugins_dir: &'a Path,
    pub runtime: &'a ReceiverRuntime,
    pub external_url: Arc<str>,
    pub gate: Arc<Gate>,
    /// Grants added to every sender of a plugin, by plugin name.
    pub explicit_grants: &'a BTreeMap<String, Grants>,
    /// The senders of the configuration running now, taken over where
    /// nothing about them changed.
    pub previous: &'a Senders,
}

/// What makes a sender: the plugin file as it was loaded, and everything
/// it was opened with. (Holds secrets: never printed.)
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct SenderKey {
    plugin: PathBuf,
    plugin_len: u64,
    plugin_modified: Option<std::time::SystemTime>,
    receiver: String,
    config_json: String,
    grants: String,
    timeout: Duration,
}

/// The open senders of a configuration. A reload takes over those whose
/// key is unchanged, so it holds no second instance slot for them and
/// their plugin state (e.g. Slack's threads) carries on.
pub(crate) type Senders = HashMap<SenderKey, Arc<Sender>>;

/// Every receiver's integrations, in the configuration's order.
pub(crate) type Receivers = Vec<(String, Vec<Arc<dyn Integration>>)>;

/// The plugin file of an integration kind.
pub(crate) fn plugin_path(plugins_dir: &Path, kind: &str) -> PathBuf {
    plugins_dir.join(format!("{kind}-receiver.wasm"))
}

/// The integration kinds of a receiver in upstream's order.
fn ordered_kinds<'a>(kinds: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
    let mut kinds: Vec<&str> = kinds.map(String::as_str).collect();
    kinds.sort_by_key(|k| {
        (
            BUILD_ORDER
                .iter()
                .position(|o| o == k)
                .unwrap_or(BUILD_ORDER.len()),
            *k,
        )
    });
    kinds
}

/// Loads each needed plugin once and opens a sender per configured
/// integration.
pub(crate) async fn build(
    config: &Config,
    ctx: &BuildContext<'_>,
) -> Result<(Receivers, Senders), ServiceError> {
    // The plugin of each kind in use, loaded once (off the executor),
    // with the file's length and time as it was read.
    let mut plugins: HashMap<String, (ReceiverPlugin, u64, Option<std::time::SystemTime>)> =
        HashMap::new();
    for receiver in &config.receivers {
        for (kind, configs) in &receiver.integrations {
            if configs.is_empty() || plugins.contains_key(kind) {
                continue;
            }
            // The kind names a file: no separators, no dots.
            if kind.is_empty()
                || !kind
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(ServiceError::Receiver {
                    receiver: receiver.name.clone(),
                    message: format!("{kind:?}: not an integration name"),
                });
            }
            let path = plugin_path(ctx.plugins_dir, kind);
            if !path.is_file() {
                return Err(ServiceError::MissingPlugin {
                    receiver: receiver.name.clone(),
                    integration: kind.clone(),
                    path,
                });
            }
            let stamp = std::fs::metadata(&path).ok();
            let (len, modified) = (
                stamp.as_ref().map_or(0, std::fs::Metadata::len),
                stamp.and_then(|m| m.modified().ok()),
            );
            let runtime = ctx.runtime.clone();
            let load_path = path.clone();
            let plugin = tokio::task::spawn_blocking(move || runtime.load(&load_path))
                .await
                .map_err(|e| ServiceError::Internal(format!("loading {}: {e}", path.display())))?
                .map_err(|e| ServiceError::Receiver {
                    receiver: receiver.name.clone(),
                    message: e.to_string(),
                })?;
            plugins.insert(kind.clone(), (plugin, len, modified));
        }
    }
    let templates = if plugins.keys().any(|k| k != "webhook") {
        let patterns = config.templates.clone();
        tokio::task::spawn_blocking(move || read_templates(&patterns))
            .await
            .map_err(|e| ServiceError::Internal(format!("reading templates: {e}")))??
    } else {
        Vec::new()
    };
    // Every sender is opened at once: a plugin slow to open holds the
    // (re)load for its own deadline, not for the sum of all.
    enum Source {
        Reused(Arc<Sender>),
        Opening(tokio::task::JoinHandle<Result<Sender, wasmetheus_plugin_runtime::SendError>>),
    }
    struct Pending {
        receiver: usize,
        kind: String,
        index: u32,
        send_resolved: bool,
        key: SenderKey,
        source: Source,
        failed: String,
    }
    let mut pending: Vec<Pending> = Vec::new();
    for (r, receiver) in config.receivers.iter().enumerate() {
        for kind in ordered_kinds(receiver.integrations.keys()) {
            let Some((plugin, plugin_len, plugin_modified)) = plugins.get(kind) else {
                continue;
            };
            let configs = receiver
                .integrations
                .get(kind)
                .map_or(&[][..], Vec::as_slice);
            for (i, raw) in configs.iter().enumerate() {
                let failed = |message: String| ServiceError::Receiver {
                    receiver: receiver.name.clone(),
                    message: format!("{kind}_configs[{i}]: {message}"),
                };
                let opened = if kind == "webhook" {
                    let typed = receiver.webhook_configs.get(i).ok_or_else(|| {
                        failed("the webhook configuration was not read".to_owned())
                    })?;
                    webhook_spec(typed).map_err(failed)?
                } else {
                    let http = match kind {
                        "slack" => receiver.slack_configs.get(i).map(|s| &s.http_config),
                        _ => None,
                    };
                    plugin_spec(kind, raw, http, &templates).map_err(failed)?
                };
                let plugin = plugin.clone();
                let grants = match ctx.explicit_grants.get(plugin.name()) {
                    Some(explicit) => explicit.merged(&opened.grants),
                    None => opened.grants,
                };
                let key = SenderKey {
                    plugin: plugin.path().to_owned(),
                    plugin_len: *plugin_len,
                    plugin_modified: *plugin_modified,
                    receiver: receiver.name.clone(),
                    config_json: opened.config_json.clone(),
                    grants: format!("{grants:?}"),
                    timeout: opened.timeout,
                };
                let source = match ctx.previous.get(&key) {
                    Some(sender) => Source::Reused(Arc::clone(sender)),
                    None => {
                        let spec = SenderSpec {
                            name: receiver.name.clone(),
                            config_json: opened.config_json,
                            grants,
                            memory_limit: None,
                            timeout: opened.timeout,
                        };
                        Source::Opening(tokio::spawn(async move { plugin.open(spec).await }))
                    }
                };
                pending.push(Pending {
                    receiver: r,
                    kind: kind.to_owned(),
                    index: u32::try_from(i).unwrap_or(u32::MAX),
                    send_resolved: opened.send_resolved,
                    key,
                    source,
                    failed: format!("{kind}_configs[{i}]"),
                });
            }
        }
    }
    let mut out: Receivers = config
        .receivers
        .iter()
        .map(|r| (r.name.clone(), Vec::new()))
        .collect();
    let mut first_error = None;
    let mut senders = Senders::new();
    for p in pending {
        let opened = match p.source {
            Source::Reused(sender) => Ok(Ok(sender)),
            Source::Opening(task) => task.await.map(|r| r.map(Arc::new)),
        };
        let opened = match opened {
            Ok(Ok(sender)) => sender,
            Ok(Err(e)) => {
                first_error.get_or_insert((p.receiver, format!("{}: {}", p.failed, e.message)));
                continue;
            }
            Err(e) => {
                first_error.get_or_insert((p.receiver, format!("{}: {e}", p.failed)));
                continue;
            }
        };
        senders.insert(p.key, Arc::clone(&opened));
        if let Some((_, list)) = out.get_mut(p.receiver) {
            list.push(Arc::new(PluginIntegration {
                kind: p.kind,
                index: p.index,
                send_resolved: p.send_resolved,
                sender: opened,
                turns: tokio::sync::Semaphore::new(SENDER_TURNS),
                external_url: Arc::clone(&ctx.external_url),
                gate: Arc::clone(&ctx.gate),
            }));
        }
    }
    if let Some((r, message)) = first_error {
        return Err(ServiceError::Receiver {
            receiver: out.get(r).map(|(n, _)| n.clone()).unwrap_or_default(),
            message,
        });
    }
    Ok((out, senders))
}

/// How to open one integration's sender.
#[derive(Debug)]
pub(crate) struct Opened {
    pub config_json: String,
    pub grants: Grants,
    pub timeout: Duration,
    pub send_resolved: bool,
}

/// Opens a regular file (following links): a FIFO or a device would hold
/// a (re)load until something writes to it.
fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    std::fs::File::open(path)
}

/// Reads a secret file (bounded), its surrounding white space trimmed as
/// upstream does.
pub(crate) fn read_secret(path: &str) -> Result<String, String> {
    read_bounded(path, MAX_SECRET_BYTES)
}

/// Reads a text file of at most `max` bytes, trimmed.
fn read_bounded(path: &str, max: u64) -> Result<String, String> {
    let file = open_regular(Path::new(path)).map_err(|e| format!("unable to read {path}: {e}"))?;
    let bytes = wasmetheus_config::limited::read_at_most(file, max)
        .map_err(|e| format!("unable to read {path}: {e}"))?
        .ok_or_else(|| format!("{path} is larger than {max} bytes"))?;
    let text = String::from_utf8(bytes).map_err(|_| format!("{path} is not UTF-8 text"))?;
    Ok(text.trim().to_owned())
}

/// A secret given inline or by file (empty when neither).
fn secret_or_file(
    value: Option<&wasmetheus_config::Secret>,
    file: Option<&str>,
) -> Result<String, String> {
    match (value, file) {
        (Some(v), _) if !v.is_empty() => Ok(v.expose().to_owned()),
        (_, Some(f)) if !f.is_empty() => read_secret(f),
        _ => Ok(String::new()),
    }
}

/// `http_config`'s authentication, secrets in the clear (files read), in
/// the webhook plugin's schema.
fn plain_auth(http: &HttpClientConfig) -> Result<Value, String> {
    let mut out = Map::new();
    if let Some(b) = &http.basic_auth {
        let username = if b.username.is_empty() && !b.username_file.is_empty() {
            read_secret(&b.username_file)?
        } else {
            b.username.clone()
        };
        let password = secret_or_file(b.password.as_ref(), b.password_file.as_deref())?;
        out.insert(
            "basic_auth".into(),
            json!({"username": username, "password": password}),
        );
    }
    if let Some(a) = &http.authorization {
        let credentials = secret_or_file(a.credentials.as_ref(), a.credentials_file.as_deref())?;
        out.insert(
            "authorization".into(),
            json!({"type": a.kind, "credentials": credentials}),
        );
    } else {
        let token = secret_or_file(Some(&http.bearer_token), Some(&http.bearer_token_file))?;
        if !token.is_empty() {
            out.insert("bearer_token".into(), Value::String(token));
        }
    }
    Ok(Value::Object(out))
}

/// The webhook plugin's configuration and grants.
pub(crate) fn webhook_spec(w: &WebhookConfig) -> Result<Opened, String> {
    let url = secret_or_file(w.url.as_ref(), w.url_file.as_deref())?;
    if url.is_empty() {
        return Err("no url".to_owned());
    }
    let grants = receiver_grants(&Grants::default(), [url.as_str()]).map_err(|e| {
        // The URL may hold a token: name only what is wrong with it.
        match e {
            wasmetheus_plugin_runtime::OriginError::Scheme { .. } => {
                "url: only http and https URLs can be granted to a receiver".to_owned()
            }
            wasmetheus_plugin_runtime::OriginError::NoHost { .. } => "url names no host".to_owned(),
            wasmetheus_plugin_runtime::OriginError::Invalid { .. } => "url is not a URL".to_owned(),
        }
    })?;
    let h = &w.http_config;
    let unsupported: Vec<&str> = [
        ("oauth2", h.oauth2.is_some()),
        ("tls_config", h.tls_config.is_some()),
        ("proxy_url", h.proxy_url.is_some()),
        ("proxy_from_environment", h.proxy_from_environment),
        ("http_headers", h.http_headers.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();
    if !unsupported.is_empty() {
        tracing::warn!(
            settings = ?unsupported,
            "webhook http_config settings the webhook receiver plugin does not apply"
        );
    }
    let timeout_ms = u64::try_from(w.timeout_ns / 1_000_000).unwrap_or(0);
    let config = json!({
        "url": url,
        "max_alerts": w.max_alerts,
        "timeout_ms": timeout_ms,
        "http_config": plain_auth(&w.http_config)?,
    });
    Ok(Opened {
        config_json: config.to_string(),
        grants,
        timeout: if timeout_ms > 0 {
            Duration::from_millis(timeout_ms).min(MAX_TIMEOUT)
        } else {
            DEFAULT_TIMEOUT
        },
        send_resolved: w.send_resolved,
    })
}

/// `*_file` keys that name certificates (`tls_config`'s), not secrets.
const CERTIFICATE_FILES: &[&str] = &["ca_file", "cert_file", "key_file"];

/// The largest certificate file read for a plugin (a CA bundle).
const MAX_CERTIFICATE_BYTES: u64 = 1 << 20;

/// Replaces every `X_file` setting (at any depth) by `X` holding the
/// file's contents. Certificate files are read too when `certificates`
/// (a plugin that speaks TLS itself, such as email's, cannot read them in
/// its sandbox); otherwise they are left to the host's client.
fn read_secret_files(value: &mut Value, certificates: bool) -> Result<(), String> {
    match value {
        Value::Object(map) => {
            let files: Vec<(String, String, bool)> = map
                .iter()
                .filter_map(|(k, v)| {
                    let base = k.strip_suffix("_file")?;
                    let path = v.as_str().filter(|p| !p.is_empty())?;
                    let certificate = CERTIFICATE_FILES.contains(&k.as_str());
                    (certificates || !certificate)
                        .then(|| (base.to_owned(), path.to_owned(), certificate))
                })
                .collect();
            for (base, path, certificate) in files {
                let text = if certificate {
                    read_bounded(&path, MAX_CERTIFICATE_BYTES)?
                } else {
                    read_secret(&path)?
                };
                map.remove(&format!("{base}_file"));
                map.insert(base, Value::String(text));
            }
            for v in map.values_mut() {
                read_secret_files(v, certificates)?;
            }
        }
        Value::Array(items) => {
            for v in items {
                read_secret_files(v, certificates)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// `http_config` with its secrets in the clear, as the plugin needs them.
fn plain_http_config(http: &HttpClientConfig) -> Value {
    wasmetheus_config::to_json_with_secrets(http).unwrap_or(Value::Null)
}

/// The origin grants of the URLs a configuration sends to.
fn url_grants(kind: &str, config: &Map<String, Value>) -> Result<Grants, String> {
    let text = |k: &str| {
        config
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let mut urls: Vec<&str> = Vec::new();
    match kind {
        "slack" => {
            urls.extend(text("api_url"));
            if text("app_token").is_some() {
                urls.extend(text("app_url"));
            }
        }
        _ => {
            for k in ["url", "api_url", "webhook_url"] {
                urls.extend(text(k));
            }
        }
    }
    let mut grants = Grants::default();
    for (i, url) in urls.iter().enumerate() {
        // Each URL may hold a token: errors name the setting, not it.
        let key = ["api_url", "app_url", "url", "webhook_url"]
            .into_iter()
            .find(|k| text(k) == Some(url))
            .unwrap_or("url");
        grants = receiver_grants(&grants, [*url])
            .map_err(|_| format!("{key}: not an http or https URL with a host (#{i})"))?;
    }
    if let Some(host) = text("smarthost") {
        grants.tcp_connect.push(host.to_owned());
        // A named smarthost is resolved by the plugin; the sandbox still
        // connects only to the addresses the name resolves to.
        let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
        let name = name.trim_start_matches('[').trim_end_matches(']');
        grants.dns = name.parse::<std::net::IpAddr>().is_err();
    }
    Ok(grants)
}

/// The configuration, grants and deadline of a plugin other than the
/// webhook.
pub(crate) fn plugin_spec(
    kind: &str,
    raw: &Value,
    http: Option<&HttpClientConfig>,
    templates: &[Value],
) -> Result<Opened, String> {
    let mut config = raw.clone();
    if let (Some(http), Value::Object(map)) = (http, &mut config)
        && map.contains_key("http_config")
    {
        map.insert("http_config".into(), plain_http_config(http));
    }
    read_secret_files(&mut config, kind == "email")?;
    let Value::Object(map) = &config else {
        return Err("the configuration is not a mapping".to_owned());
    };
    let grants = url_grants(kind, map)?;
    let send_resolved = map
        .get("send_resolved")
        .and_then(Value::as_bool)
        .unwrap_or_else(|| wasmetheus_alertmanager_config::default_send_resolved(kind));
    let timeout = map
        .get("timeout")
        .and_then(Value::as_str)
        .and_then(|t| wasmetheus_model::go::parse_duration(t).ok())
        .and_then(|ns| u64::try_from(ns).ok())
        .filter(|ns| *ns > 0)
        .map_or(DEFAULT_TIMEOUT, |ns| {
            Duration::from_nanos(ns).min(MAX_TIMEOUT)
        });
    let json = json!({"config": config, "templates": templates});
    Ok(Opened {
        config_json: json.to_string(),
        grants,
        timeout,
        send_resolved,
    })
}

/// The user's template files (`templates:` globs expanded), as
/// `[{"name": path, "text": contents}]`, bounded in total.
pub(crate) fn read_templates(patterns: &[String]) -> Result<Vec<Value>, ServiceError> {
    let mut out = Vec::new();
    let mut total: u64 = 0;
    for pattern in patterns.iter().filter(|p| !p.is_empty()) {
        let paths = wasmetheus_config::glob::glob(pattern)
            .map_err(|e| ServiceError::Templates(format!("template glob {pattern:?}: {e}")))?;
        for path in paths {
            let shown = path.display().to_string();
            if out.len() >= MAX_TEMPLATE_FILES {
                return Err(ServiceError::Templates(format!(
                    "more than {MAX_TEMPLATE_FILES} template files (at {shown})"
                )));
            }
            let file = open_regular(&path)
                .map_err(|e| ServiceError::Templates(format!("reading template {shown}: {e}")))?;
            let left = MAX_TEMPLATE_BYTES.saturating_sub(total);
            let bytes = wasmetheus_config::limited::read_at_most(file, left)
                .map_err(|e| ServiceError::Templates(format!("reading template {shown}: {e}")))?
                .ok_or_else(|| {
                    ServiceError::Templates(format!(
                        "template files are larger than {MAX_TEMPLATE_BYTES} bytes together (at {shown})"
                    ))
                })?;
            total += bytes.len() as u64;
            let text = String::from_utf8(bytes)
                .map_err(|_| ServiceError::Templates(format!("template {shown} is not UTF-8")))?;
            out.push(json!({"name": shown, "text": text}));
        }
    }
    Ok(out)
}

/// Integration kinds upstream pre-registers in its notification metrics.
pub(crate) fn known_integrations() -> impl Iterator<Item = &'static str> {
    KNOWN_INTEGRATIONS.iter().copied()
}

#[cfg(test)]
#[path = "integration_tests.rs"]
mod tests;
