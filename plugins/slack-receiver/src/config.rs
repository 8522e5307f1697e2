//! The receiver's configuration: `{"config": <slack_config>, "templates": [{"name", "text"}]}`.
//! `config` is Alertmanager 0.34's `slack_config` as in alertmanager.yml, with the global
//! fallbacks filled in and `api_url_file`/`app_token_file` already read by the host into
//! `api_url`/`app_token`; `templates` are the user's template files. Fields left out get
//! upstream's defaults (`{{ template "slack.default.title" . }}`, …).

use base64::Engine;
use serde::Deserialize;
use std::time::Duration;
use wasmetheus_sdk::Error;
use wasmetheus_sdk::http::Target;

/// The JSON Schema of [`PluginConfig`]; secrets (`api_url`, `app_token`, `http_config`'s
/// credentials) are `writeOnly`.
pub const SCHEMA: &str = r#"{
  "type": "object",
  "required": ["config"],
  "additionalProperties": false,
  "properties": {
    "config": {
      "type": "object",
      "description": "Alertmanager's slack_config (global fallbacks filled in, *_file settings read)",
      "properties": {
        "send_resolved": {"type": "boolean"},
        "api_url": {"type": "string", "writeOnly": true, "description": "Incoming webhook or Web API URL (its path holds a token)"},
        "api_url_file": {"type": "string"},
        "app_token": {"type": "string", "writeOnly": true, "description": "Sent as a Bearer token"},
        "app_token_file": {"type": "string"},
        "app_url": {"type": "string"},
        "channel": {"type": "string"},
        "username": {"type": "string"},
        "color": {"type": "string"},
        "title": {"type": "string"},
        "title_link": {"type": "string"},
        "pretext": {"type": "string"},
        "text": {"type": "string"},
        "fields": {"type": "array", "items": {"type": "object", "properties": {
          "title": {"type": "string"}, "value": {"type": "string"}, "short": {"type": "boolean"}}}},
        "short_fields": {"type": "boolean"},
        "footer": {"type": "string"},
        "fallback": {"type": "string"},
        "callback_id": {"type": "string"},
        "icon_emoji": {"type": "string"},
        "icon_url": {"type": "string"},
        "image_url": {"type": "string"},
        "thumb_url": {"type": "string"},
        "link_names": {"type": "boolean"},
        "mrkdwn_in": {"type": "array", "items": {"type": "string"}},
        "actions": {"type": "array", "items": {"type": "object"}},
        "update_message": {"type": "boolean"},
        "timeout": {"type": "string", "description": "Go duration; 0 leaves the deadline to the host"},
        "http_config": {
          "type": "object",
          "properties": {
            "basic_auth": {
              "type": "object",
              "properties": {
                "username": {"type": "string"},
                "password": {"type": "string", "writeOnly": true}
              }
            },
            "authorization": {
              "type": "object",
              "properties": {
                "type": {"type": "string"},
                "credentials": {"type": "string", "writeOnly": true}
              }
            },
            "bearer_token": {"type": "string", "writeOnly": true}
          }
        }
      }
    },
    "templates": {
      "type": "array",
      "items": {
        "type": "object",
        "required": ["name", "text"],
        "properties": {"name": {"type": "string"}, "text": {"type": "string"}}
      }
    }
  }
}"#;

/// Most template files, and most bytes of them in all.
pub const MAX_TEMPLATE_FILES: usize = 256;
pub const MAX_TEMPLATE_BYTES: usize = 8 << 20;

/// What `open` receives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    pub config: SlackConfig,
    #[serde(default)]
    pub templates: Vec<TemplateFile>,
}

/// One user template file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateFile {
    pub name: String,
    pub text: String,
}

/// `slack_configs` `fields` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackField {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub short: Option<bool>,
}

/// `slack_configs` `actions[].confirm`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Deserialize)]
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
    #[serde(default)]
    pub confirm: Option<SlackConfirmationField>,
}

/// Alertmanager 0.34's `slack_config`. Template fields left out (or `null`) take upstream's
/// defaults ([`SlackConfig::template`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    #[serde(default)]
    pub send_resolved: Option<bool>,
    #[serde(default)]
    pub http_config: Option<HttpConfig>,
    #[serde(default)]
    pub api_url: Option<String>,
    /// Read by the host into `api_url`; here only when `api_url` is too.
    #[serde(default)]
    pub api_url_file: Option<String>,
    #[serde(default)]
    pub app_token: Option<String>,
    #[serde(default)]
    pub app_token_file: Option<String>,
    #[serde(default)]
    pub app_url: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub title_link: Option<String>,
    #[serde(default)]
    pub pretext: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub fields: Option<Vec<SlackField>>,
    #[serde(default)]
    pub short_fields: Option<bool>,
    #[serde(default)]
    pub footer: Option<String>,
    #[serde(default)]
    pub fallback: Option<String>,
    #[serde(default)]
    pub callback_id: Option<String>,
    #[serde(default)]
    pub icon_emoji: Option<String>,
    #[serde(default)]
    pub icon_url: Option<String>,
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub thumb_url: Option<String>,
    #[serde(default)]
    pub link_names: Option<bool>,
    #[serde(default)]
    pub mrkdwn_in: Option<Vec<String>>,
    #[serde(default)]
    pub actions: Option<Vec<SlackAction>>,
    #[serde(default)]
    pub update_message: Option<bool>,
    #[serde(default)]
    pub timeout: Option<String>,
}

/// The parts of Prometheus' `http_config` a Slack sender uses: its credentials. The host's
/// TLS and proxy settings are the host's; other keys are accepted and left to it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HttpConfig {
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default)]
    pub authorization: Option<Authorization>,
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// Read by the host into `bearer_token`.
    #[serde(default)]
    pub bearer_token_file: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BasicAuth {
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// Read by the host into `password`.
    #[serde(default)]
    pub password_file: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Authorization {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub credentials: Option<String>,
    /// Read by the host into `credentials`.
    #[serde(default)]
    pub credentials_file: Option<String>,
}

/// An error when a secret's `*_file` setting reached the plugin unread.
fn unread(file: &Option<String>, value: &Option<String>, name: &str) -> Result<(), Error> {
    let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    if given(file) && !given(value) {
        return Err(invalid(format!(
            "http_config: {name}_file must be read by the host into {name}"
        )));
    }
    Ok(())
}

/// Upstream's `DefaultSlackConfig` templates, by field.
pub const DEFAULT_TEMPLATES: [(&str, &str); 11] = [
    ("username", r#"{{ template "slack.default.username" . }}"#),
    (
        "color",
        r#"{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}"#,
    ),
    ("title", r#"{{ template "slack.default.title" . }}"#),
    (
        "title_link",
        r#"{{ template "slack.default.titlelink" . }}"#,
    ),
    ("pretext", r#"{{ template "slack.default.pretext" . }}"#),
    ("text", r#"{{ template "slack.default.text" . }}"#),
    ("fallback", r#"{{ template "slack.default.fallback" . }}"#),
    (
        "callback_id",
        r#"{{ template "slack.default.callbackid" . }}"#,
    ),
    ("footer", r#"{{ template "slack.default.footer" . }}"#),
    (
        "icon_emoji",
        r#"{{ template "slack.default.iconemoji" . }}"#,
    ),
    ("icon_url", r#"{{ template "slack.default.iconurl" . }}"#),
];

/// Upstream's default template of a field; `""` for the fields without one.
fn default_template(field: &str) -> &'static str {
    DEFAULT_TEMPLATES
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, t)| *t)
        .unwrap_or("")
}

/// A configuration checked and ready to send with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub target: Target,
    /// `scheme://host[:port]`: how errors show the URL (Slack's carry a token in the path).
    pub origin: String,
    pub timeout: Option<Duration>,
    pub user_agent: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    pub update_message: bool,
}

fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

fn invalid(m: impl Into<String>) -> Error {
    Error::InvalidConfig(m.into())
}

impl SlackConfig {
    /// The template text of a templated field: the configured one, else upstream's default.
    pub fn template<'a>(&'a self, field: &str, value: &'a Option<String>) -> &'a str {
        match value {
            Some(v) => v,
            None => default_template(field),
        }
    }

    /// Checks the configuration: a URL (the host reads `api_url_file`), at most one way to
    /// authenticate, a valid timeout, fields and actions as upstream requires them.
    pub fn settings(&self) -> Result<Settings, Error> {
        let app_token = self.app_token.as_deref().filter(|t| !t.is_empty());
        let url = match (self.api_url.as_deref(), app_token) {
            (Some(u), _) if !u.is_empty() => u.to_owned(),
            (_, Some(_)) => self
                .app_url
                .clone()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| "https://slack.com/api/chat.postMessage".to_owned()),
            _ if self.api_url_file.is_some() => {
                return Err(invalid(
                    "api_url_file must be read by the host into api_url",
                ));
            }
            _ => return Err(invalid("no Slack API URL set either inline or in a file")),
        };
        let target = Target::parse(&url).map_err(|e| invalid(format!("api_url: {e}")))?;
        let origin = format!(
            "{}://{}",
            if target.https { "https" } else { "http" },
            target.authority
        );
        let mut http = self.http_config.clone().unwrap_or_default();
        unread(&http.bearer_token_file, &http.bearer_token, "bearer_token")?;
        if let Some(b) = &http.basic_auth {
            unread(&b.password_file, &b.password, "password")?;
        }
        if let Some(a) = &http.authorization {
            unread(&a.credentials_file, &a.credentials, "credentials")?;
        }
        // Upstream puts the app token into `http_config.authorization`: the same token there is
        // not a second method.
        if let (Some(token), Some(a)) = (app_token, &http.authorization)
            && a.credentials.as_deref() == Some(token)
            && a.kind
                .as_deref()
                .is_none_or(|k| k.is_empty() || k == "Bearer")
        {
            http.authorization = None;
        }
        let methods = [
            http.basic_auth.is_some(),
            http.authorization.is_some(),
            http.bearer_token.as_deref().is_some_and(|t| !t.is_empty()),
            app_token.is_some(),
        ];
        if methods.iter().filter(|m| **m).count() > 1 {
            return Err(invalid(
                "at most one of basic_auth, bearer_token, authorization & app_token must be configured",
            ));
        }
        let authorization = if let Some(token) = app_token {
            Some(format!("Bearer {token}"))
        } else if let Some(b) = &http.basic_auth {
            Some(basic(
                b.username.as_deref().unwrap_or(""),
                b.password.as_deref().unwrap_or(""),
            ))
        } else if let Some(a) = &http.authorization {
            let kind = a
                .kind
                .as_deref()
                .filter(|k| !k.is_empty())
                .unwrap_or("Bearer");
            if kind.eq_ignore_ascii_case("basic") {
                return Err(invalid(
                    "authorization type cannot be set to \"basic\", use \"basic_auth\" instead",
                ));
            }
            Some(format!("{kind} {}", a.credentials.as_deref().unwrap_or("")))
        } else if let Some(token) = http.bearer_token.as_deref().filter(|t| !t.is_empty()) {
            Some(format!("Bearer {token}"))
        } else {
            target
                .userinfo
                .as_ref()
                .map(|(user, password)| basic(user, password.as_deref().unwrap_or("")))
        };
        if authorization
            .as_deref()
            .is_some_and(|h| h.chars().any(|c| c.is_control()))
        {
            return Err(invalid("credentials must not hold control characters"));
        }
        let timeout = match self.timeout.as_deref() {
            None | Some("") => None,
            Some(t) => {
                let ns = wasmetheus_model::go::parse_duration(t)
                    .map_err(|e| invalid(format!("timeout: {e}")))?;
                (ns > 0).then(|| Duration::from_nanos(ns.unsigned_abs()))
            }
        };
        for f in self.fields.iter().flatten() {
            if f.title.is_empty() {
                return Err(invalid("missing title in Slack field configuration"));
            }
            if f.value.is_empty() {
                return Err(invalid("missing value in Slack field configuration"));
            }
        }
        for a in self.actions.iter().flatten() {
            if a.kind.is_empty() {
                return Err(invalid("missing type in Slack action configuration"));
            }
            if a.text.is_empty() {
                return Err(invalid("missing text in Slack action configuration"));
            }
            if a.url.is_empty() && a.name.is_empty() {
                return Err(invalid("missing name or url in Slack action configuration"));
            }
        }
        Ok(Settings {
            target,
            origin,
            timeout,
            user_agent: format!("wasmetheus-slack/{}", env!("CARGO_PKG_VERSION")),
            authorization,
            update_message: self.update_message.unwrap_or(false),
        })
    }
}

impl PluginConfig {
    /// Checks the bounds of the template files.
    pub fn check_templates(&self) -> Result<(), Error> {
        if self.templates.len() > MAX_TEMPLATE_FILES {
            return Err(invalid(format!(
                "at most {MAX_TEMPLATE_FILES} template files are read"
            )));
        }
        let bytes: usize = self.templates.iter().map(|t| t.text.len()).sum();
        if bytes > MAX_TEMPLATE_BYTES {
            return Err(invalid(format!(
                "template files hold more than {MAX_TEMPLATE_BYTES} bytes"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(config: &str) -> Result<Settings, Error> {
        let c: PluginConfig = wasmetheus_sdk::config::parse(&format!(r#"{{"config":{config}}}"#))?;
        c.config.settings()
    }

    #[test]
    fn authorization_headers() {
        let cases = [
            (
                r#"{"api_url":"https://hooks.slack.com/services/T/B/X"}"#,
                None,
            ),
            (r#"{"app_token":"xoxb-1"}"#, Some("Bearer xoxb-1")),
            (
                r#"{"api_url":"http://h/","http_config":{"basic_auth":{"username":"alice","password":"s3cret"}}}"#,
                Some("Basic YWxpY2U6czNjcmV0"),
            ),
            (
                r#"{"api_url":"http://h/","http_config":{"authorization":{"credentials":"tok"}}}"#,
                Some("Bearer tok"),
            ),
            (
                r#"{"api_url":"http://h/","http_config":{"bearer_token":"legacy","follow_redirects":true}}"#,
                Some("Bearer legacy"),
            ),
            (r#"{"api_url":"http://bob:pw@h/"}"#, Some("Basic Ym9iOnB3")),
            (
                r#"{"app_token":"xoxb-1","http_config":{"authorization":{"type":"Bearer","credentials":"xoxb-1"}}}"#,
                Some("Bearer xoxb-1"),
            ),
        ];
        for (json, want) in cases {
            let got = settings(json).unwrap().authorization;
            assert_eq!(got.as_deref(), want, "{json}");
        }
    }

    #[test]
    fn urls_and_origins() {
        let s = settings(r#"{"app_token":"x"}"#).unwrap();
        assert_eq!(s.origin, "https://slack.com");
        assert_eq!(s.target.path_with_query, "/api/chat.postMessage");
        let s = settings(r#"{"app_token":"x","app_url":"http://127.0.0.1:8/api/x"}"#).unwrap();
        assert_eq!(s.origin, "http://127.0.0.1:8");
        let s = settings(
            r#"{"api_url":"https://hooks.slack.com/services/T/B/SECRET","timeout":"1m30s"}"#,
        )
        .unwrap();
        assert_eq!(s.origin, "https://hooks.slack.com");
        assert_eq!(s.timeout, Some(Duration::from_secs(90)));
    }

    #[test]
    fn invalid_configurations_are_named() {
        let cases = [
            (r#"{}"#, "no Slack API URL"),
            (r#"{"api_url_file":"/x"}"#, "must be read by the host"),
            (r#"{"api_url":"ftp://h/"}"#, "only http and https"),
            (
                r#"{"api_url":"http://h/","titel":"x"}"#,
                "unknown field `titel`",
            ),
            (
                r#"{"api_url":"http://h/","app_token":"a","http_config":{"bearer_token":"b"}}"#,
                "at most one of",
            ),
            (
                r#"{"api_url":"http://h/","http_config":{"authorization":{"type":"Basic","credentials":"x"}}}"#,
                "use \"basic_auth\" instead",
            ),
            (
                r#"{"api_url":"http://h/","http_config":{"bearer_token":"a\r\nX-Evil: 1"}}"#,
                "control characters",
            ),
            (r#"{"api_url":"http://h/","timeout":"soon"}"#, "timeout"),
            (
                r#"{"api_url":"http://h/","http_config":{"basic_auth":{"username":"u","password_file":"/p"}}}"#,
                "password_file must be read by the host",
            ),
            (
                r#"{"api_url":"http://h/","http_config":{"authorization":{"credentials_file":"/c"}}}"#,
                "credentials_file must be read by the host",
            ),
            (
                r#"{"api_url":"http://h/","fields":[{"title":"t"}]}"#,
                "missing value in Slack field",
            ),
            (
                r#"{"api_url":"http://h/","actions":[{"type":"button","text":"t"}]}"#,
                "missing name or url",
            ),
        ];
        for (json, want) in cases {
            let err = settings(json).unwrap_err().to_string();
            assert!(err.contains(want), "{json}: {err}");
        }
    }

    #[test]
    fn defaults_are_upstreams() {
        let c = SlackConfig::default();
        assert_eq!(
            c.template("title", &c.title),
            r#"{{ template "slack.default.title" . }}"#
        );
        assert_eq!(
            c.template("icon_url", &c.icon_url),
            r#"{{ template "slack.default.iconurl" . }}"#
        );
        assert_eq!(c.template("image_url", &c.image_url), "");
        let c = SlackConfig {
            title: Some(String::new()),
            ..SlackConfig::default()
        };
        // An explicit empty template is kept, as Go's YAML decoding keeps it.
        assert_eq!(c.template("title", &c.title), "");
    }

    #[test]
    fn schema_is_json_and_marks_secrets() {
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
        let c = &schema["properties"]["config"]["properties"];
        assert_eq!(c["api_url"]["writeOnly"], true);
        assert_eq!(c["app_token"]["writeOnly"], true);
        let http = &c["http_config"]["properties"];
        assert_eq!(
            http["basic_auth"]["properties"]["password"]["writeOnly"],
            true
        );
        assert_eq!(
            http["authorization"]["properties"]["credentials"]["writeOnly"],
            true
        );
        assert_eq!(http["bearer_token"]["writeOnly"], true);
    }
}
