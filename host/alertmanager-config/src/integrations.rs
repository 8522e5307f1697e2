//! The typed integrations: `webhook_configs`, `slack_configs`,
//! `email_configs` (`config/notifiers.go`), with upstream's defaults,
//! validation texts and the global fallbacks `Config.UnmarshalYAML` fills
//! in (SMTP settings, the Slack API URL, the HTTP client).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use wasmetheus_config::{HttpClientConfig, Secret, TlsConfig, canonical_header_key};

use crate::global::{GlobalConfig, parse_host_port, parse_url};
use crate::go_text::go_serde_text;

/// A scalar as Go's YAML library puts it into a string field: numbers
/// and booleans too (as their text).
pub(crate) fn scalar_string<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(other) => {
            return Err(serde::de::Error::custom(format!(
                "cannot unmarshal {} into string",
                crate::go_text::json_kind(&other)
            )));
        }
    })
}

fn from_map<T: serde::de::DeserializeOwned>(map: &Map<String, Value>) -> Result<T, String> {
    serde_json::from_value(Value::Object(map.clone())).map_err(|e| go_serde_text(&e))
}

/// An integration's own HTTP client settings, checked as Prometheus'
/// are, or the global ones.
fn checked_http(
    own: Option<HttpClientConfig>,
    g: &GlobalConfig,
) -> Result<HttpClientConfig, String> {
    match own {
        Some(mut http) => {
            http.validate()?;
            Ok(http)
        }
        None => Ok(g.http_config.clone()),
    }
}

fn insert_str(map: &mut Map<String, Value>, key: &str, value: &str) {
    map.insert(key.to_owned(), Value::String(value.to_owned()));
}

/// `webhook_configs` entry. Shown (`Serialize`) in upstream's field
/// order, the URL as `<secret>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookConfig {
    pub send_resolved: bool,
    pub http_config: HttpClientConfig,
    /// A secret URL; exactly one of `url` and `url_file`.
    pub url: Option<Secret>,
    #[serde(serialize_with = "string_or_empty")]
    pub url_file: Option<String>,
    /// At most this many alerts per message; 0 is unlimited.
    pub max_alerts: u64,
    /// Nanoseconds; 0 is no timeout.
    #[serde(rename = "timeout", serialize_with = "go_duration")]
    pub timeout_ns: i64,
}

fn string_or_empty<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.as_deref().unwrap_or(""))
}

fn go_duration<S: serde::Serializer>(ns: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&wasmetheus_model::go::format_duration(*ns))
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn no_secret(v: &Option<Secret>) -> bool {
    v.as_ref().is_none_or(Secret::is_empty)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    send_resolved: Option<bool>,
    http_config: Option<HttpClientConfig>,
    #[serde(default, deserialize_with = "scalar_string")]
    url: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    url_file: Option<String>,
    max_alerts: Option<u64>,
    #[serde(default, deserialize_with = "scalar_string")]
    timeout: Option<String>,
}

impl WebhookConfig {
    pub(crate) fn read(map: &Map<String, Value>, g: &GlobalConfig) -> Result<Self, String> {
        let raw: RawWebhook = from_map(map)?;
        let url = match raw.url {
            Some(u) if u == wasmetheus_config::SECRET_TOKEN => Some(Secret::new(u)),
            Some(u) => Some(Secret::new(parse_url(&u)?)),
            None => None,
        };
        let url_file = raw.url_file.filter(|f| !f.is_empty());
        if url.is_none() && url_file.is_none() {
            return Err("one of url or url_file must be configured".to_owned());
        }
        if url.is_some() && url_file.is_some() {
            return Err("at most one of url & url_file must be configured".to_owned());
        }
        let timeout_ns = match raw.timeout {
            Some(t) => wasmetheus_model::go::parse_duration(&t).map_err(|e| e.to_string())?,
            None => 0,
        };
        let http_config = checked_http(raw.http_config, g)?;
        Ok(WebhookConfig {
            send_resolved: raw.send_resolved.unwrap_or(true),
            http_config,
            url,
            url_file,
            max_alerts: raw.max_alerts.unwrap_or(0),
            timeout_ns,
        })
    }

    pub(crate) fn resolved_raw(&self, mut map: Map<String, Value>) -> Map<String, Value> {
        map.insert("send_resolved".to_owned(), Value::Bool(self.send_resolved));
        if let Ok(v) = wasmetheus_config::to_json_with_secrets(&self.http_config) {
            map.insert("http_config".to_owned(), v);
        }
        map
    }
}

/// `slack_configs` `fields` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SlackField {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short: Option<bool>,
}

/// `slack_configs` `actions[].confirm`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfirmationField {
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub ok_text: String,
    #[serde(default)]
    pub dismiss_text: String,
}

/// `slack_configs` `actions` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SlackAction {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub style: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
    #[serde(default, rename = "confirm", skip_serializing_if = "Option::is_none")]
    pub confirm: Option<SlackConfirmationField>,
}

/// `slack_configs` entry; template fields hold upstream's default
/// templates when not given. Shown in upstream's field order with its
/// `omitempty`s, secrets as `<secret>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlackConfig {
    pub send_resolved: bool,
    pub http_config: HttpClientConfig,
    /// A secret URL (own or the global `slack_api_url`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_url: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_url_file: Option<String>,
    #[serde(skip_serializing_if = "no_secret")]
    pub app_token: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_token_file: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub channel: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub color: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title_link: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pretext: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<SlackField>,
    pub short_fields: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub footer: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fallback: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub callback_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub icon_emoji: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub icon_url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image_url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub thumb_url: String,
    pub link_names: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mrkdwn_in: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<SlackAction>,
    #[serde(skip_serializing_if = "is_false")]
    pub update_message: bool,
    /// Nanoseconds; 0 is no timeout.
    #[serde(
        rename = "timeout",
        serialize_with = "go_duration",
        skip_serializing_if = "is_zero"
    )]
    pub timeout_ns: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlack {
    send_resolved: Option<bool>,
    http_config: Option<HttpClientConfig>,
    #[serde(default, deserialize_with = "scalar_string")]
    api_url: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    api_url_file: Option<String>,
    app_token: Option<Secret>,
    #[serde(default, deserialize_with = "scalar_string")]
    app_token_file: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    app_url: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    channel: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    username: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    color: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    title: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    title_link: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    pretext: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    text: Option<String>,
    fields: Option<Vec<SlackField>>,
    short_fields: Option<bool>,
    #[serde(default, deserialize_with = "scalar_string")]
    footer: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    fallback: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    callback_id: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    icon_emoji: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    icon_url: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    image_url: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    thumb_url: Option<String>,
    link_names: Option<bool>,
    mrkdwn_in: Option<Vec<String>>,
    actions: Option<Vec<SlackAction>>,
    update_message: Option<bool>,
    #[serde(default, deserialize_with = "scalar_string")]
    timeout: Option<String>,
}

fn template_or(value: Option<String>, default: &str) -> String {
    match value {
        Some(v) if !v.is_empty() => v,
        _ => default.to_owned(),
    }
}

impl SlackConfig {
    pub(crate) fn read(map: &Map<String, Value>, g: &GlobalConfig) -> Result<Self, String> {
        let raw: RawSlack = from_map(map)?;
        let mut api_url = match raw.api_url {
            Some(u) if u == wasmetheus_config::SECRET_TOKEN => Some(Secret::new(u)),
            Some(u) => Some(Secret::new(parse_url(&u)?)),
            None => None,
        };
        let mut api_url_file = raw.api_url_file.filter(|f| !f.is_empty());
        if api_url.is_some() && api_url_file.is_some() {
            return Err("at most one of api_url & api_url_file must be configured".to_owned());
        }
        let mut app_token = raw.app_token.filter(|t| !t.is_empty());
        let mut app_token_file = raw.app_token_file.filter(|f| !f.is_empty());
        if app_token.is_some() && app_token_file.is_some() {
            return Err("at most one of app_token & app_token_file must be configured".to_owned());
        }
        for f in raw.fields.iter().flatten() {
            if f.title.is_empty() {
                return Err("missing title in Slack field configuration".to_owned());
            }
            if f.value.is_empty() {
                return Err("missing value in Slack field configuration".to_owned());
            }
        }
        let mut actions = raw.actions.unwrap_or_default();
        for a in &mut actions {
            if a.kind.is_empty() {
                return Err("missing type in Slack action configuration".to_owned());
            }
            if a.text.is_empty() {
                return Err("missing text in Slack action configuration".to_owned());
            }
            if !a.url.is_empty() {
                a.name.clear();
                a.value.clear();
                a.confirm = None;
            } else if a.name.is_empty() {
                return Err("missing name or url in Slack action configuration".to_owned());
            }
            if let Some(c) = &a.confirm
                && c.text.is_empty()
            {
                return Err("missing text in Slack confirmation configuration".to_owned());
            }
        }
        // Global fallbacks: the receiver's own URL or token wins.
        let own = api_url.is_some()
            || api_url_file.is_some()
            || app_token.is_some()
            || app_token_file.is_some();
        if !own {
            let global_token = g.slack_app_token.clone().filter(|t| !t.is_empty());
            if g.slack_api_url.is_none()
                && g.slack_api_url_file.is_none()
                && global_token.is_none()
                && g.slack_app_token_file.is_none()
            {
                return Err("no global Slack API URL set either inline or in a file".to_owned());
            }
            api_url = g.slack_api_url.clone();
            api_url_file = g.slack_api_url_file.clone();
            app_token = global_token;
            app_token_file = g.slack_app_token_file.clone();
        }
        let update_message = raw.update_message.unwrap_or(false);
        if update_message && app_token.is_none() && app_token_file.is_none() {
            return Err(
                "update_message requires app_token or app_token_file: an incoming webhook cannot update a message"
                    .to_owned(),
            );
        }
        if (app_token.is_some() || app_token_file.is_some()) && api_url.is_none() {
            let app_url = raw
                .app_url
                .map(|u| parse_url(&u))
                .transpose()?
                .or_else(|| g.slack_app_url.clone())
                .unwrap_or_else(|| "https://slack.com/api/chat.postMessage".to_owned());
            api_url = Some(Secret::new(app_url));
        }
        let timeout_ns = match raw.timeout {
            Some(t) => wasmetheus_model::go::parse_duration(&t).map_err(|e| e.to_string())?,
            None => 0,
        };
        let http_config = checked_http(raw.http_config, g)?;
        Ok(SlackConfig {
            send_resolved: raw.send_resolved.unwrap_or(false),
            http_config,
            api_url,
            api_url_file,
            app_token,
            app_token_file,
            channel: raw.channel.unwrap_or_default(),
            username: template_or(raw.username, r#"{{ template "slack.default.username" . }}"#),
            color: template_or(
                raw.color,
                r#"{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}"#,
            ),
            title: template_or(raw.title, r#"{{ template "slack.default.title" . }}"#),
            title_link: template_or(
                raw.title_link,
                r#"{{ template "slack.default.titlelink" . }}"#,
            ),
            pretext: template_or(raw.pretext, r#"{{ template "slack.default.pretext" . }}"#),
            text: template_or(raw.text, r#"{{ template "slack.default.text" . }}"#),
            fields: raw.fields.unwrap_or_default(),
            short_fields: raw.short_fields.unwrap_or(false),
            footer: template_or(raw.footer, r#"{{ template "slack.default.footer" . }}"#),
            fallback: template_or(raw.fallback, r#"{{ template "slack.default.fallback" . }}"#),
            callback_id: template_or(
                raw.callback_id,
                r#"{{ template "slack.default.callbackid" . }}"#,
            ),
            icon_emoji: template_or(
                raw.icon_emoji,
                r#"{{ template "slack.default.iconemoji" . }}"#,
            ),
            icon_url: template_or(raw.icon_url, r#"{{ template "slack.default.iconurl" . }}"#),
            image_url: raw.image_url.unwrap_or_default(),
            thumb_url: raw.thumb_url.unwrap_or_default(),
            link_names: raw.link_names.unwrap_or(false),
            mrkdwn_in: raw.mrkdwn_in.unwrap_or_default(),
            actions,
            update_message,
            timeout_ns,
        })
    }

    pub(crate) fn resolved_raw(&self, mut map: Map<String, Value>) -> Map<String, Value> {
        map.insert("send_resolved".to_owned(), Value::Bool(self.send_resolved));
        if let Some(u) = &self.api_url {
            insert_str(&mut map, "api_url", u.expose());
        }
        if let Some(f) = &self.api_url_file {
            insert_str(&mut map, "api_url_file", f);
        }
        if let Some(t) = &self.app_token {
            insert_str(&mut map, "app_token", t.expose());
        }
        if let Some(f) = &self.app_token_file {
            insert_str(&mut map, "app_token_file", f);
        }
        // The templates a sender renders, upstream's defaults included.
        for (k, v) in [
            ("username", &self.username),
            ("color", &self.color),
            ("title", &self.title),
            ("title_link", &self.title_link),
            ("pretext", &self.pretext),
            ("text", &self.text),
            ("footer", &self.footer),
            ("fallback", &self.fallback),
            ("callback_id", &self.callback_id),
            ("icon_emoji", &self.icon_emoji),
            ("icon_url", &self.icon_url),
        ] {
            insert_str(&mut map, k, v);
        }
        if let Ok(v) = wasmetheus_config::to_json_with_secrets(&self.http_config) {
            map.insert("http_config".to_owned(), v);
        }
        map
    }
}

/// `email_configs` entry, global SMTP settings filled in. Shown in
/// upstream's field order with its `omitempty`s, secrets as `<secret>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmailConfig {
    pub send_resolved: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub to: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub from: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hello: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub smarthost: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auth_username: String,
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub auth_password: Secret,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auth_password_file: String,
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub auth_secret: Secret,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auth_secret_file: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auth_identity: String,
    /// Canonical MIME header names (`X-Foo-Bar`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub html: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
    pub require_tls: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmail {
    send_resolved: Option<bool>,
    #[serde(default, deserialize_with = "scalar_string")]
    to: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    from: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    hello: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    smarthost: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    auth_username: Option<String>,
    auth_password: Option<Secret>,
    #[serde(default, deserialize_with = "scalar_string")]
    auth_password_file: Option<String>,
    auth_secret: Option<Secret>,
    #[serde(default, deserialize_with = "scalar_string")]
    auth_secret_file: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    auth_identity: Option<String>,
    headers: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "scalar_string")]
    html: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    text: Option<String>,
    require_tls: Option<bool>,
    tls_config: Option<TlsConfig>,
}

impl EmailConfig {
    pub(crate) fn read(map: &Map<String, Value>, g: &GlobalConfig) -> Result<Self, String> {
        let raw: RawEmail = from_map(map)?;
        let to = raw.to.unwrap_or_default();
        if to.is_empty() {
            return Err("missing to address in email config".to_owned());
        }
        let mut headers = BTreeMap::new();
        for (h, v) in raw.headers.unwrap_or_default() {
            let normalized = canonical_header_key(&h);
            if headers.insert(normalized.clone(), v).is_some() {
                return Err(format!(
                    "duplicate header {} in email config",
                    wasmetheus_model::go::quote(&normalized)
                ));
            }
        }
        let smarthost = match raw.smarthost.as_deref().map(parse_host_port).transpose()? {
            Some(Some(h)) => h,
            _ => g
                .smtp_smarthost
                .clone()
                .ok_or_else(|| "no global SMTP smarthost set".to_owned())?,
        };
        let from = match raw.from.filter(|f| !f.is_empty()) {
            Some(f) => f,
            None => g
                .smtp_from
                .clone()
                .filter(|f| !f.is_empty())
                .ok_or_else(|| "no global SMTP from set".to_owned())?,
        };
        let mut auth_password = raw.auth_password.unwrap_or_default();
        let mut auth_password_file = raw.auth_password_file.unwrap_or_default();
        if auth_password.is_empty() && auth_password_file.is_empty() {
            auth_password = g.smtp_auth_password.clone().unwrap_or_default();
            auth_password_file = g.smtp_auth_password_file.clone().unwrap_or_default();
        }
        let mut auth_secret = raw.auth_secret.unwrap_or_default();
        let mut auth_secret_file = raw.auth_secret_file.unwrap_or_default();
        if auth_secret.is_empty() && auth_secret_file.is_empty() {
            auth_secret = g.smtp_auth_secret.clone().unwrap_or_default();
            auth_secret_file = g.smtp_auth_secret_file.clone().unwrap_or_default();
        }
        let or_global = |own: Option<String>, global: &Option<String>| {
            own.filter(|s| !s.is_empty())
                .or_else(|| global.clone())
                .unwrap_or_default()
        };
        Ok(EmailConfig {
            send_resolved: raw.send_resolved.unwrap_or(false),
            to,
            from,
            hello: raw
                .hello
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| g.smtp_hello.clone()),
            smarthost,
            auth_username: or_global(raw.auth_username, &g.smtp_auth_username),
            auth_password,
            auth_password_file,
            auth_secret,
            auth_secret_file,
            auth_identity: or_global(raw.auth_identity, &g.smtp_auth_identity),
            headers,
            html: raw
                .html
                .unwrap_or_else(|| r#"{{ template "email.default.html" . }}"#.to_owned()),
            text: raw.text.unwrap_or_default(),
            require_tls: raw.require_tls.unwrap_or(g.smtp_require_tls),
            tls_config: raw.tls_config.or_else(|| g.smtp_tls_config.clone()),
        })
    }

    pub(crate) fn resolved_raw(&self, mut map: Map<String, Value>) -> Map<String, Value> {
        map.insert("send_resolved".to_owned(), Value::Bool(self.send_resolved));
        for (k, v) in [
            ("from", self.from.as_str()),
            ("hello", &self.hello),
            ("smarthost", &self.smarthost),
            ("auth_username", &self.auth_username),
            ("auth_password", self.auth_password.expose()),
            ("auth_password_file", &self.auth_password_file),
            ("auth_secret", self.auth_secret.expose()),
            ("auth_secret_file", &self.auth_secret_file),
            ("auth_identity", &self.auth_identity),
            ("html", &self.html),
        ] {
            if !v.is_empty() {
                insert_str(&mut map, k, v);
            }
        }
        map.insert("require_tls".to_owned(), Value::Bool(self.require_tls));
        if let Ok(v) = serde_json::to_value(&self.headers)
            && !self.headers.is_empty()
        {
            map.insert("headers".to_owned(), v);
        }
        map
    }
}
