//! `global`: defaults for every receiver (`config.GlobalConfig`), with
//! upstream's default URLs, `resolve_timeout` 5m, `smtp_hello` localhost
//! and `smtp_require_tls` true, and the "at most one of X & X_file" checks.

use serde::{Deserialize, Serialize};
use wasmetheus_config::{HttpClientConfig, Secret, TlsConfig};

fn is_none_or_empty(s: &Option<Secret>) -> bool {
    s.as_ref().is_none_or(Secret::is_empty)
}

/// `global`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GlobalConfig {
    /// Milliseconds.
    #[serde(serialize_with = "serialize_duration")]
    pub resolve_timeout: i64,
    pub http_config: HttpClientConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jira_api_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_from: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub smtp_hello: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_smarthost: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_auth_username: Option<String>,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub smtp_auth_password: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_auth_password_file: Option<String>,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub smtp_auth_secret: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_auth_secret_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_auth_identity: Option<String>,
    pub smtp_require_tls: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_tls_config: Option<TlsConfig>,
    /// A secret URL.
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub slack_api_url: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack_api_url_file: Option<String>,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub slack_app_token: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack_app_token_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack_app_url: Option<String>,
    pub pagerduty_url: String,
    pub opsgenie_api_url: String,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub opsgenie_api_key: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opsgenie_api_key_file: Option<String>,
    pub wechat_api_url: String,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub wechat_api_secret: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wechat_api_secret_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wechat_api_corp_id: Option<String>,
    pub victorops_api_url: String,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub victorops_api_key: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub victorops_api_key_file: Option<String>,
    pub telegram_api_url: String,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub telegram_bot_token: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telegram_bot_token_file: Option<String>,
    pub webex_api_url: String,
    pub rocketchat_api_url: String,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub rocketchat_token: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rocketchat_token_file: Option<String>,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub rocketchat_token_id: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rocketchat_token_id_file: Option<String>,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub mattermost_webhook_url: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mattermost_webhook_url_file: Option<String>,
}

fn serialize_duration<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&wasmetheus_model::go::format_model_duration(*ms))
}

impl Default for GlobalConfig {
    /// `DefaultGlobalConfig()`.
    fn default() -> Self {
        GlobalConfig {
            resolve_timeout: 5 * 60 * 1000,
            http_config: HttpClientConfig::default(),
            jira_api_url: None,
            smtp_from: None,
            smtp_hello: "localhost".to_owned(),
            smtp_smarthost: None,
            smtp_auth_username: None,
            smtp_auth_password: None,
            smtp_auth_password_file: None,
            smtp_auth_secret: None,
            smtp_auth_secret_file: None,
            smtp_auth_identity: None,
            smtp_require_tls: true,
            smtp_tls_config: Some(TlsConfig::default()),
            slack_api_url: None,
            slack_api_url_file: None,
            slack_app_token: None,
            slack_app_token_file: None,
            slack_app_url: None,
            pagerduty_url: "https://events.pagerduty.com/v2/enqueue".to_owned(),
            opsgenie_api_url: "https://api.opsgenie.com/".to_owned(),
            opsgenie_api_key: None,
            opsgenie_api_key_file: None,
            wechat_api_url: "https://qyapi.weixin.qq.com/cgi-bin/".to_owned(),
            wechat_api_secret: None,
            wechat_api_secret_file: None,
            wechat_api_corp_id: None,
            victorops_api_url: "https://alert.victorops.com/integrations/generic/20131114/alert/"
                .to_owned(),
            victorops_api_key: None,
            victorops_api_key_file: None,
            telegram_api_url: "https://api.telegram.org".to_owned(),
            telegram_bot_token: None,
            telegram_bot_token_file: None,
            webex_api_url: "https://webexapis.com/v1/messages".to_owned(),
            rocketchat_api_url: "https://open.rocket.chat/".to_owned(),
            rocketchat_token: None,
            rocketchat_token_file: None,
            rocketchat_token_id: None,
            rocketchat_token_id_file: None,
            mattermost_webhook_url: None,
            mattermost_webhook_url_file: None,
        }
    }
}

/// The YAML shape of `global` (every key optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGlobal {
    resolve_timeout: Option<String>,
    http_config: Option<HttpClientConfig>,
    jira_api_url: Option<String>,
    smtp_from: Option<String>,
    smtp_hello: Option<String>,
    smtp_smarthost: Option<String>,
    smtp_auth_username: Option<String>,
    smtp_auth_password: Option<Secret>,
    smtp_auth_password_file: Option<String>,
    smtp_auth_secret: Option<Secret>,
    smtp_auth_secret_file: Option<String>,
    smtp_auth_identity: Option<String>,
    smtp_require_tls: Option<bool>,
    smtp_tls_config: Option<TlsConfig>,
    slack_api_url: Option<String>,
    slack_api_url_file: Option<String>,
    slack_app_token: Option<Secret>,
    slack_app_token_file: Option<String>,
    slack_app_url: Option<String>,
    pagerduty_url: Option<String>,
    opsgenie_api_url: Option<String>,
    opsgenie_api_key: Option<Secret>,
    opsgenie_api_key_file: Option<String>,
    wechat_api_url: Option<String>,
    wechat_api_secret: Option<Secret>,
    wechat_api_secret_file: Option<String>,
    wechat_api_corp_id: Option<String>,
    victorops_api_url: Option<String>,
    victorops_api_key: Option<Secret>,
    victorops_api_key_file: Option<String>,
    telegram_api_url: Option<String>,
    telegram_bot_token: Option<Secret>,
    telegram_bot_token_file: Option<String>,
    webex_api_url: Option<String>,
    rocketchat_api_url: Option<String>,
    rocketchat_token: Option<Secret>,
    rocketchat_token_file: Option<String>,
    rocketchat_token_id: Option<Secret>,
    rocketchat_token_id_file: Option<String>,
    mattermost_webhook_url: Option<String>,
    mattermost_webhook_url_file: Option<String>,
}

/// `parseURL`: an absolute http(s) URL with a host.
pub fn parse_url(s: &str) -> Result<String, String> {
    match url::Url::parse(s) {
        Ok(u) => {
            if u.scheme() != "http" && u.scheme() != "https" {
                return Err(format!(
                    "unsupported scheme {} for URL",
                    wasmetheus_model::go::quote(u.scheme())
                ));
            }
            if u.host_str().is_none_or(str::is_empty) {
                return Err("missing host for URL".to_owned());
            }
            Ok(s.to_owned())
        }
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            Err("unsupported scheme \"\" for URL".to_owned())
        }
        Err(e) => Err(format!("parse {}: {e}", wasmetheus_model::go::quote(s))),
    }
}

/// `HostPort`: `host:port`, the port required; empty is unset.
pub fn parse_host_port(s: &str) -> Result<Option<String>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    let (host, port) = match s.rsplit_once(':') {
        Some(parts) => parts,
        None => return Err(format!("address {s}: missing port in address")),
    };
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(format!("address {s}: too many colons in address"));
    }
    if port.is_empty() {
        return Err(format!(
            "address {}: port cannot be empty",
            wasmetheus_model::go::quote(s)
        ));
    }
    Ok(Some(s.to_owned()))
}

fn url_or(value: Option<String>, default: String) -> Result<String, String> {
    match value {
        Some(v) => parse_url(&v),
        None => Ok(default),
    }
}

fn non_empty(s: &Option<Secret>) -> bool {
    s.as_ref().is_some_and(|s| !s.is_empty())
}

impl RawGlobal {
    /// Defaults overwritten by what is given, then `Config`'s global
    /// checks.
    pub(crate) fn into_global(self) -> Result<GlobalConfig, String> {
        let d = GlobalConfig::default();
        let resolve_timeout = match self.resolve_timeout {
            Some(t) => wasmetheus_model::go::parse_model_duration(&t).map_err(|e| e.to_string())?,
            None => d.resolve_timeout,
        };
        let slack_api_url = match self.slack_api_url {
            // `<secret>` reads back as an empty URL (a shown config).
            Some(u) if u == wasmetheus_config::SECRET_TOKEN => Some(Secret::new(u)),
            Some(u) => Some(Secret::new(parse_url(&u)?)),
            None => None,
        };
        let mattermost_webhook_url = match self.mattermost_webhook_url {
            Some(u) if u == wasmetheus_config::SECRET_TOKEN => Some(Secret::new(u)),
            Some(u) => Some(Secret::new(parse_url(&u)?)),
            None => None,
        };
        let mut http_config = self.http_config.unwrap_or_default();
        http_config.validate()?;
        let g = GlobalConfig {
            resolve_timeout,
            http_config,
            jira_api_url: self.jira_api_url.map(|u| parse_url(&u)).transpose()?,
            smtp_from: self.smtp_from,
            smtp_hello: self.smtp_hello.unwrap_or(d.smtp_hello),
            smtp_smarthost: match self.smtp_smarthost {
                Some(s) => parse_host_port(&s)?,
                None => None,
            },
            smtp_auth_username: self.smtp_auth_username,
            smtp_auth_password: self.smtp_auth_password,
            smtp_auth_password_file: self.smtp_auth_password_file,
            smtp_auth_secret: self.smtp_auth_secret,
            smtp_auth_secret_file: self.smtp_auth_secret_file,
            smtp_auth_identity: self.smtp_auth_identity,
            smtp_require_tls: self.smtp_require_tls.unwrap_or(d.smtp_require_tls),
            smtp_tls_config: self.smtp_tls_config.or(d.smtp_tls_config),
            slack_api_url,
            slack_api_url_file: self.slack_api_url_file.filter(|s| !s.is_empty()),
            slack_app_token: self.slack_app_token,
            slack_app_token_file: self.slack_app_token_file.filter(|s| !s.is_empty()),
            slack_app_url: self.slack_app_url.map(|u| parse_url(&u)).transpose()?,
            pagerduty_url: url_or(self.pagerduty_url, d.pagerduty_url)?,
            opsgenie_api_url: url_or(self.opsgenie_api_url, d.opsgenie_api_url)?,
            opsgenie_api_key: self.opsgenie_api_key,
            opsgenie_api_key_file: self.opsgenie_api_key_file.filter(|s| !s.is_empty()),
            wechat_api_url: url_or(self.wechat_api_url, d.wechat_api_url)?,
            wechat_api_secret: self.wechat_api_secret,
            wechat_api_secret_file: self.wechat_api_secret_file.filter(|s| !s.is_empty()),
            wechat_api_corp_id: self.wechat_api_corp_id.filter(|s| !s.is_empty()),
            victorops_api_url: url_or(self.victorops_api_url, d.victorops_api_url)?,
            victorops_api_key: self.victorops_api_key,
            victorops_api_key_file: self.victorops_api_key_file.filter(|s| !s.is_empty()),
            telegram_api_url: url_or(self.telegram_api_url, d.telegram_api_url)?,
            telegram_bot_token: self.telegram_bot_token,
            telegram_bot_token_file: self.telegram_bot_token_file.filter(|s| !s.is_empty()),
            webex_api_url: url_or(self.webex_api_url, d.webex_api_url)?,
            rocketchat_api_url: url_or(self.rocketchat_api_url, d.rocketchat_api_url)?,
            rocketchat_token: self.rocketchat_token,
            rocketchat_token_file: self.rocketchat_token_file.filter(|s| !s.is_empty()),
            rocketchat_token_id: self.rocketchat_token_id,
            rocketchat_token_id_file: self.rocketchat_token_id_file.filter(|s| !s.is_empty()),
            mattermost_webhook_url,
            mattermost_webhook_url_file: self.mattermost_webhook_url_file.filter(|s| !s.is_empty()),
        };
        let pairs: [(&str, bool, bool); 9] = [
            (
                "slack_api_url",
                g.slack_api_url.is_some(),
                g.slack_api_url_file.is_some(),
            ),
            (
                "slack_app_token",
                non_empty(&g.slack_app_token),
                g.slack_app_token_file.is_some(),
            ),
            (
                "opsgenie_api_key",
                non_empty(&g.opsgenie_api_key),
                g.opsgenie_api_key_file.is_some(),
            ),
            (
                "victorops_api_key",
                non_empty(&g.victorops_api_key),
                g.victorops_api_key_file.is_some(),
            ),
            (
                "smtp_auth_password",
                non_empty(&g.smtp_auth_password),
                g.smtp_auth_password_file.is_some(),
            ),
            (
                "rocketchat_token",
                g.rocketchat_token.is_some(),
                g.rocketchat_token_file.is_some(),
            ),
            (
                "rocketchat_token_id",
                g.rocketchat_token_id.is_some(),
                g.rocketchat_token_id_file.is_some(),
            ),
            (
                "smtp_auth_secret",
                non_empty(&g.smtp_auth_secret),
                g.smtp_auth_secret_file.is_some(),
            ),
            (
                "wechat_api_secret",
                non_empty(&g.wechat_api_secret),
                g.wechat_api_secret_file.is_some(),
            ),
        ];
        for (key, inline, file) in pairs {
            if inline && file {
                return Err(format!(
                    "at most one of {key} & {key}_file must be configured"
                ));
            }
        }
        // An app token goes with Slack's Web API; a webhook URL beside it
        // is a contradiction (the old workaround of pointing
        // `slack_api_url` at `https://slack.com/api/…` stays valid).
        let has_token = non_empty(&g.slack_app_token) || g.slack_app_token_file.is_some();
        let webhook_url = g.slack_api_url.as_ref().is_some_and(|u| {
            // A shown configuration's `<secret>` could be either.
            !u.expose().starts_with("https://slack.com/api/")
                && u.expose() != wasmetheus_config::SECRET_TOKEN
        });
        if has_token && (webhook_url || g.slack_api_url_file.is_some()) {
            return Err(
                "at most one of slack_api_url & slack_app_token must be configured".to_owned(),
            );
        }
        Ok(g)
    }
}
