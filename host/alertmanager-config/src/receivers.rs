//! `receivers`: each receiver's `<integration>_configs` lists kept as raw
//! JSON values keyed by integration name (for the receiver plugins), with
//! upstream's defaults, global fallbacks and validation texts; the webhook,
//! Slack and email integrations are also read into typed configs
//! ([`crate::integrations`]).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::global::GlobalConfig;
use crate::integrations::{EmailConfig, SlackConfig, WebhookConfig};

/// A receiver: a name and its integrations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Receiver {
    pub name: String,
    /// Every `<x>_configs` list by integration name (`webhook`, `slack`,
    /// `email`, `pagerduty`, …, and any name a plugin declares), global
    /// fallbacks filled in. Secrets are in the clear here: this is what a
    /// receiver plugin is configured with; [`Receiver`]'s `Serialize`
    /// redacts them.
    pub integrations: BTreeMap<String, Vec<Value>>,
    pub webhook_configs: Vec<WebhookConfig>,
    pub slack_configs: Vec<SlackConfig>,
    pub email_configs: Vec<EmailConfig>,
}

/// Integrations Alertmanager 0.34 knows, in its field order.
pub const KNOWN_INTEGRATIONS: &[&str] = &[
    "discord",
    "email",
    "incidentio",
    "pagerduty",
    "slack",
    "webhook",
    "opsgenie",
    "wechat",
    "pushover",
    "victorops",
    "sns",
    "telegram",
    "webex",
    "msteams",
    "msteamsv2",
    "jira",
    "rocketchat",
    "mattermost",
];

/// `send_resolved` defaults per integration (upstream's `Default*Config`).
pub fn default_send_resolved(integration: &str) -> bool {
    !matches!(
        integration,
        "email" | "slack" | "wechat" | "rocketchat" | "mattermost"
    )
}

/// Keys whose values are secrets in upstream's types, at any depth of an
/// integration's config (plus anything `is_secret_key` calls secret).
const SECRET_KEYS: &[&str] = &[
    "url",
    "api_url",
    "webhook_url",
    "auth_password",
    "auth_secret",
    "service_key",
    "routing_key",
    "api_key",
    "api_secret",
    "user_key",
    "token",
    "token_id",
    "bot_token",
    "app_token",
    "secret_key",
    "password",
    "credentials",
    "bearer_token",
    "client_secret",
];

/// Integrations where `url`/`api_url`/`routing_key` are not secret
/// (upstream types them as plain `URL`/`string`).
fn plain_key(integration: &str, key: &str) -> bool {
    matches!(
        (integration, key),
        ("pagerduty", "url")
            | ("opsgenie", "api_url")
            | ("wechat", "api_url")
            | ("victorops", "api_url")
            | ("victorops", "routing_key")
            | ("telegram", "api_url")
            | ("webex", "api_url")
            | ("jira", "api_url")
            | ("rocketchat", "api_url")
            | ("sns", "api_url")
            | ("pushover", "url")
            | (_, "proxy_url")
            | (_, "token_url")
    )
}

fn redact(integration: &str, value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let secret = (SECRET_KEYS.contains(&k.as_str())
                        || wasmetheus_config::is_secret_key(k))
                        && !plain_key(integration, k)
                        && !k.ends_with("_file");
                    let shown = match v {
                        Value::String(s) if secret && !s.is_empty() => {
                            Value::String(wasmetheus_config::SECRET_TOKEN.to_owned())
                        }
                        // The raw form holds a proxy's password in the clear.
                        Value::String(s) if k.ends_with("_url") => {
                            Value::String(wasmetheus_config::redact_url(s).into_owned())
                        }
                        Value::String(_) => v.clone(),
                        other => redact(integration, other),
                    };
                    (k.clone(), shown)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| redact(integration, v)).collect()),
        other => other.clone(),
    }
}

impl Serialize for Receiver {
    /// Upstream's shape: `name`, then each integration's list in
    /// upstream's field order (integrations only a plugin knows last, by
    /// name); the typed ones in their own field order, the rest with
    /// secret values as `<secret>`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("name", &self.name)?;
        let known = KNOWN_INTEGRATIONS.iter().copied();
        let others = self
            .integrations
            .keys()
            .map(String::as_str)
            .filter(|k| !KNOWN_INTEGRATIONS.contains(k));
        for integration in known.chain(others) {
            let key = format!("{integration}_configs");
            match integration {
                "webhook" if !self.webhook_configs.is_empty() => {
                    map.serialize_entry(&key, &self.webhook_configs)?;
                }
                "slack" if !self.slack_configs.is_empty() => {
                    map.serialize_entry(&key, &self.slack_configs)?;
                }
                "email" if !self.email_configs.is_empty() => {
                    map.serialize_entry(&key, &self.email_configs)?;
                }
                "webhook" | "slack" | "email" => {}
                _ => {
                    let Some(configs) = self.integrations.get(integration) else {
                        continue;
                    };
                    if configs.is_empty() {
                        continue;
                    }
                    let shown: Vec<Value> =
                        configs.iter().map(|c| redact(integration, c)).collect();
                    map.serialize_entry(&key, &shown)?;
                }
            }
        }
        map.end()
    }
}

fn string_of<'a>(config: &'a Map<String, Value>, key: &str) -> &'a str {
    config.get(key).and_then(Value::as_str).unwrap_or("")
}

fn is_set(config: &Map<String, Value>, key: &str) -> bool {
    match config.get(key) {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// `x` and `x_file` both given: upstream's text.
fn at_most_one(config: &Map<String, Value>, key: &str) -> Result<(), String> {
    let file = format!("{key}_file");
    if is_set(config, key) && is_set(config, &file) {
        return Err(format!("at most one of {key} & {file} must be configured"));
    }
    Ok(())
}

/// A key (and its `_file` twin) falls back to the global one; `missing`
/// is the error when neither is set anywhere.
fn fallback(
    config: &mut Map<String, Value>,
    key: &str,
    global: Option<(&str, Option<&str>, Option<&str>)>,
    missing: &str,
) -> Result<(), String> {
    let file = format!("{key}_file");
    if is_set(config, key) || is_set(config, &file) {
        return Ok(());
    }
    if let Some((name, Some(_), Some(_))) = global
        && !name.is_empty()
    {
        return Err(format!(
            "at most one of {name} & {name}_file must be configured"
        ));
    }
    match global {
        Some((_, value, path)) if value.is_some() || path.is_some() => {
            if let Some(v) = value {
                config.insert(key.to_owned(), Value::String(v.to_owned()));
            }
            if let Some(p) = path {
                config.insert(file, Value::String(p.to_owned()));
            }
            Ok(())
        }
        _ => Err(missing.to_owned()),
    }
}

fn set_default(config: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if !is_set(config, key)
        && let Some(v) = value
    {
        config.insert(key.to_owned(), Value::String(v.to_owned()));
    }
}

/// `opsgenie_configs`' keys (0.34): the old `teams` key is refused.
const OPSGENIE_FIELDS: &[&str] = &[
    "send_resolved",
    "http_config",
    "api_key",
    "api_key_file",
    "api_url",
    "message",
    "description",
    "source",
    "details",
    "entity",
    "responders",
    "actions",
    "tags",
    "note",
    "priority",
    "update_alerts",
];

fn only_fields(config: &Map<String, Value>, known: &[&str]) -> Result<(), String> {
    match config.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(format!("field {k} not found in type config.plain")),
        None => Ok(()),
    }
}

/// Upstream's per-integration `UnmarshalYAML` checks and `Config`'s
/// global fallbacks, for the integrations kept raw.
fn check_generic(
    integration: &str,
    config: &mut Map<String, Value>,
    g: &GlobalConfig,
) -> Result<(), String> {
    if !config.contains_key("send_resolved") {
        config.insert(
            "send_resolved".to_owned(),
            Value::Bool(default_send_resolved(integration)),
        );
    }
    match config.get("http_config") {
        Some(Value::Object(_)) => {
            // Checked as Prometheus' HTTP client settings are.
            let mut http: wasmetheus_config::HttpClientConfig =
                serde_json::from_value(config["http_config"].clone())
                    .map_err(|e| crate::go_text::go_serde_text(&e))?;
            http.validate()?;
            if let Ok(v) = wasmetheus_config::to_json_with_secrets(&http) {
                config.insert("http_config".to_owned(), v);
            }
        }
        _ => {
            if let Ok(v) = wasmetheus_config::to_json_with_secrets(&g.http_config) {
                config.insert("http_config".to_owned(), v);
            }
        }
    }
    let secret = |s: &Option<wasmetheus_config::Secret>| {
        s.as_ref()
            .filter(|s| !s.is_empty())
            .map(|s| s.expose().to_owned())
    };
    match integration {
        "pagerduty" => {
            if !is_set(config, "routing_key")
                && !is_set(config, "service_key")
                && !is_set(config, "routing_key_file")
                && !is_set(config, "service_key_file")
            {
                return Err("missing service or routing key in PagerDuty config".to_owned());
            }
            at_most_one(config, "routing_key")?;
            at_most_one(config, "service_key")?;
            set_default(config, "url", Some(&g.pagerduty_url));
        }
        "opsgenie" => {
            only_fields(config, OPSGENIE_FIELDS)?;
            at_most_one(config, "api_key")?;
            set_default(config, "api_url", Some(&g.opsgenie_api_url));
            let key = secret(&g.opsgenie_api_key);
            fallback(
                config,
                "api_key",
                Some(("", key.as_deref(), g.opsgenie_api_key_file.as_deref())),
                "no global OpsGenie API Key set either inline or in a file",
            )?;
        }
        "wechat" => {
            set_default(config, "api_url", Some(&g.wechat_api_url));
            let key = secret(&g.wechat_api_secret);
            fallback(
                config,
                "api_secret",
                Some(("", key.as_deref(), g.wechat_api_secret_file.as_deref())),
                "no global Wechat ApiSecret set",
            )?;
            fallback(
                config,
                "corp_id",
                Some(("", g.wechat_api_corp_id.as_deref(), None)),
                "no global Wechat CorpID set",
            )?;
            let message_type = string_of(config, "message_type").to_owned();
            if message_type.is_empty() {
                config.insert("message_type".to_owned(), Value::String("text".to_owned()));
            } else if message_type != "text" && message_type != "markdown" {
                return Err(format!(
                    "weChat message type {} does not match valid options ^(text|markdown)$",
                    wasmetheus_model::go::quote(&message_type)
                ));
            }
        }
        "victorops" => {
            if !is_set(config, "routing_key") {
                return Err("missing Routing key in VictorOps config".to_owned());
            }
            at_most_one(config, "api_key")?;
            set_default(config, "api_url", Some(&g.victorops_api_url));
            let key = secret(&g.victorops_api_key);
            fallback(
                config,
                "api_key",
                Some(("", key.as_deref(), g.victorops_api_key_file.as_deref())),
                "no global VictorOps API Key set",
            )?;
        }
        "pushover" => {
            for key in ["user_key", "token"] {
                if !is_set(config, key) && !is_set(config, &format!("{key}_file")) {
                    return Err(format!("one of {key} or {key}_file must be configured"));
                }
                at_most_one(config, key)?;
            }
        }
        "sns" => {
            let target = is_set(config, "target_arn");
            let topic = is_set(config, "topic_arn");
            let phone = is_set(config, "phone_number");
            // Upstream's `(a == "") != (b == "") != (c == "")`.
            if (target != topic) == phone {
                return Err(
                    "must provide either a Target ARN, Topic ARN, or Phone Number for SNS config"
                        .to_owned(),
                );
            }
        }
        "telegram" => {
            at_most_one(config, "bot_token")?;
            let key = secret(&g.telegram_bot_token);
            fallback(
                config,
                "bot_token",
                Some((
                    "telegram_bot_token",
                    key.as_deref(),
                    g.telegram_bot_token_file.as_deref(),
                )),
                "missing bot_token or bot_token_file on telegram_config",
            )?;
            if config.get("chat_id").and_then(Value::as_i64).unwrap_or(0) == 0 {
                return Err("missing chat_id on telegram_config".to_owned());
            }
            let mode = string_of(config, "parse_mode");
            if !["", "Markdown", "MarkdownV2", "HTML"].contains(&mode) {
                return Err("unknown parse_mode on telegram_config, must be Markdown, MarkdownV2, HTML or empty string".to_owned());
            }
            set_default(config, "api_url", Some(&g.telegram_api_url));
        }
        "discord" | "msteams" | "msteamsv2" => {
            if !is_set(config, "webhook_url") && !is_set(config, "webhook_url_file") {
                return Err("one of webhook_url or webhook_url_file must be configured".to_owned());
            }
            at_most_one(config, "webhook_url")?;
        }
        "mattermost" => {
            at_most_one(config, "webhook_url")?;
            let url = secret(&g.mattermost_webhook_url);
            fallback(
                config,
                "webhook_url",
                Some((
                    "mattermost_webhook_url",
                    url.as_deref(),
                    g.mattermost_webhook_url_file.as_deref(),
                )),
                "no global Mattermost webhook URL set either inline or in a file",
            )?;
        }
        "webex" => {
            if !is_set(config, "room_id") {
                return Err("missing room_id on webex_config".to_owned());
            }
            let has_auth = config
                .get("http_config")
                .and_then(Value::as_object)
                .is_some_and(|h| is_set(h, "authorization"));
            if !has_auth {
                return Err("missing webex_configs.http_config.authorization".to_owned());
            }
            set_default(config, "api_url", Some(&g.webex_api_url));
        }
        "jira" => {
            if !is_set(config, "project") {
                return Err("missing project in jira_config".to_owned());
            }
            if !is_set(config, "issue_type") {
                return Err("missing issue_type in jira_config".to_owned());
            }
            match &g.jira_api_url {
                Some(url) => set_default(config, "api_url", Some(url)),
                None if !is_set(config, "api_url") => {
                    return Err("no global Jira Cloud URL set".to_owned());
                }
                None => {}
            }
        }
        "rocketchat" => {
            at_most_one(config, "token")?;
            at_most_one(config, "token_id")?;
            set_default(config, "api_url", Some(&g.rocketchat_api_url));
            let id = secret(&g.rocketchat_token_id);
            fallback(
                config,
                "token_id",
                Some(("", id.as_deref(), g.rocketchat_token_id_file.as_deref())),
                "no global Rocketchat TokenID set either inline or in a file",
            )?;
            let token = secret(&g.rocketchat_token);
            fallback(
                config,
                "token",
                Some(("", token.as_deref(), g.rocketchat_token_file.as_deref())),
                "no global Rocketchat Token set either inline or in a file",
            )?;
        }
        _ => {}
    }
    Ok(())
}

/// Joins relative file paths in every HTTP client setting of the receiver
/// with `dir` (`resolveFilepaths`).
pub(crate) fn set_directory(receiver: &mut Receiver, dir: &std::path::Path) {
    for w in &mut receiver.webhook_configs {
        w.http_config.set_directory(dir);
    }
    for s in &mut receiver.slack_configs {
        s.http_config.set_directory(dir);
    }
    // The raw form is what plugins are configured with: its file paths are
    // joined in place (a round trip through the typed form would redact
    // its inline secrets).
    for configs in receiver.integrations.values_mut() {
        for config in configs {
            if let Some(http) = config.get_mut("http_config") {
                join_file_paths(http, dir);
            }
        }
    }
}

/// Joins every relative `*_file` path under `value` with `dir`, as
/// `HTTPClientConfig.SetDirectory` does for its file settings.
fn join_file_paths(value: &mut Value, dir: &std::path::Path) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(path) if key.ends_with("_file") => {
                        if !path.is_empty() && !std::path::Path::new(path.as_str()).is_absolute() {
                            *path = dir.join(path.as_str()).to_string_lossy().into_owned();
                        }
                    }
                    _ => join_file_paths(v, dir),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| join_file_paths(v, dir)),
        _ => {}
    }
}

/// Reads one receiver (a YAML mapping as JSON) as `Receiver.UnmarshalYAML`
/// and `Config.UnmarshalYAML`'s per-receiver part do.
pub(crate) fn read_receiver(raw: Value, g: &GlobalConfig) -> Result<Receiver, String> {
    let Value::Object(map) = raw else {
        return Err(format!(
            "cannot unmarshal {} into config.plain",
            crate::go_text::json_kind(&raw)
        ));
    };
    let mut receiver = Receiver::default();
    let mut lists: Vec<(String, Vec<Value>)> = Vec::new();
    for (key, value) in map {
        if key == "name" {
            receiver.name = match value {
                Value::String(s) => s,
                Value::Null => String::new(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => {
                    return Err(format!(
                        "cannot unmarshal {} into string",
                        crate::go_text::json_kind(&other)
                    ));
                }
            };
            continue;
        }
        let Some(integration) = key.strip_suffix("_configs") else {
            return Err(format!("field {key} not found in type config.plain"));
        };
        let items = match value {
            Value::Null => Vec::new(),
            Value::Array(items) => items,
            _ => return Err(format!("{key} must be a list")),
        };
        lists.push((integration.to_owned(), items));
    }
    if receiver.name.is_empty() {
        return Err("missing name in receiver".to_owned());
    }
    for (integration, items) in lists {
        let mut resolved = Vec::with_capacity(items.len());
        for item in items {
            let mut config = match item {
                Value::Object(m) => m,
                Value::Null => Map::new(),
                other => {
                    return Err(format!(
                        "cannot unmarshal {} into config.plain",
                        crate::go_text::json_kind(&other)
                    ));
                }
            };
            match integration.as_str() {
                "webhook" => {
                    let typed = WebhookConfig::read(&config, g)?;
                    config = typed.resolved_raw(config);
                    receiver.webhook_configs.push(typed);
                }
                "slack" => {
                    let typed = SlackConfig::read(&config, g)?;
                    config = typed.resolved_raw(config);
                    receiver.slack_configs.push(typed);
                }
                "email" => {
                    let typed = EmailConfig::read(&config, g)?;
                    config = typed.resolved_raw(config);
                    receiver.email_configs.push(typed);
                }
                other => check_generic(other, &mut config, g)?,
            }
            resolved.push(Value::Object(config));
        }
        receiver.integrations.insert(integration, resolved);
    }
    Ok(receiver)
}
