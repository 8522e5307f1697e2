//! The receiver's configuration: Alertmanager's `webhook_config` as JSON
//! (secrets from `*_file` settings already read by the host), and the
//! `Authorization` header its `http_config` asks for.

use base64::Engine;
use serde::Deserialize;
use std::time::Duration;
use wasmetheus_sdk::Error;
use wasmetheus_sdk::http::Target;

/// The JSON Schema of [`Config`]; secrets are `writeOnly`.
pub const SCHEMA: &str = r#"{
  "type": "object",
  "required": ["url"],
  "additionalProperties": false,
  "properties": {
    "url": {"type": "string", "writeOnly": true, "description": "Where to POST notifications (http or https)"},
    "max_alerts": {"type": "integer", "minimum": 0, "description": "Most alerts per notification; 0 sends all"},
    "timeout_ms": {"type": "integer", "minimum": 0, "description": "Deadline of one POST in milliseconds; 0 leaves it to the host"},
    "user_agent": {"type": "string"},
    "http_config": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "basic_auth": {
          "type": "object",
          "additionalProperties": false,
          "properties": {
            "username": {"type": "string"},
            "password": {"type": "string", "writeOnly": true}
          }
        },
        "authorization": {
          "type": "object",
          "additionalProperties": false,
          "properties": {
            "type": {"type": "string"},
            "credentials": {"type": "string", "writeOnly": true}
          }
        },
        "bearer_token": {"type": "string", "writeOnly": true}
      }
    }
  }
}"#;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub url: String,
    #[serde(default)]
    pub max_alerts: u64,
    #[serde(default)]
    pub timeout_ms: u64,
    #[serde(default)]
    pub user_agent: Option<String>,
    #[serde(default)]
    pub http_config: HttpConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default)]
    pub authorization: Option<Authorization>,
    #[serde(default)]
    pub bearer_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub credentials: String,
}

/// A configuration checked and ready to send with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub target: Target,
    pub max_alerts: u64,
    pub timeout: Option<Duration>,
    pub user_agent: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

impl Config {
    /// Checks the configuration: the URL, and at most one of Prometheus
    /// common's authentication methods (its texts).
    pub fn settings(self) -> Result<Settings, Error> {
        let target =
            Target::parse(&self.url).map_err(|e| Error::InvalidConfig(format!("url: {e}")))?;
        let http = self.http_config;
        let methods = [
            http.basic_auth.is_some(),
            http.authorization.is_some(),
            http.bearer_token.is_some(),
        ];
        if methods.iter().filter(|m| **m).count() > 1 {
            return Err(Error::InvalidConfig(
                "at most one of basic_auth, bearer_token & authorization must be configured".into(),
            ));
        }
        let authorization = if let Some(b) = &http.basic_auth {
            Some(basic(&b.username, &b.password))
        } else if let Some(a) = &http.authorization {
            let kind = a.kind.as_deref().unwrap_or("Bearer");
            if kind.eq_ignore_ascii_case("basic") {
                return Err(Error::InvalidConfig(
                    "authorization type cannot be set to \"basic\", use \"basic_auth\" instead"
                        .into(),
                ));
            }
            Some(format!("{kind} {}", a.credentials))
        } else if let Some(token) = &http.bearer_token {
            Some(format!("Bearer {token}"))
        } else {
            // Go's client sends a URL's user information as basic auth.
            target
                .userinfo
                .as_ref()
                .map(|(user, password)| basic(user, password.as_deref().unwrap_or("")))
        };
        if authorization
            .as_deref()
            .is_some_and(|h| h.chars().any(|c| c.is_control()))
        {
            return Err(Error::InvalidConfig(
                "http_config: credentials must not hold control characters".into(),
            ));
        }
        Ok(Settings {
            target,
            max_alerts: self.max_alerts,
            timeout: (self.timeout_ms > 0).then(|| Duration::from_millis(self.timeout_ms)),
            user_agent: self
                .user_agent
                .unwrap_or_else(|| format!("wasmetheus-webhook/{}", env!("CARGO_PKG_VERSION"))),
            authorization,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(json: &str) -> Result<Settings, Error> {
        wasmetheus_sdk::config::parse::<Config>(json)?.settings()
    }

    #[test]
    fn authorization_headers() {
        let cases = [
            (r#"{"url":"http://h/"}"#, None),
            (
                r#"{"url":"http://h/","http_config":{"basic_auth":{"username":"alice","password":"s3cret"}}}"#,
                Some("Basic YWxpY2U6czNjcmV0"),
            ),
            (
                r#"{"url":"http://h/","http_config":{"authorization":{"credentials":"tok"}}}"#,
                Some("Bearer tok"),
            ),
            (
                r#"{"url":"http://h/","http_config":{"authorization":{"type":"Token","credentials":"tok"}}}"#,
                Some("Token tok"),
            ),
            (
                r#"{"url":"http://h/","http_config":{"bearer_token":"legacy"}}"#,
                Some("Bearer legacy"),
            ),
            (r#"{"url":"http://bob:pw@h/"}"#, Some("Basic Ym9iOnB3")),
        ];
        for (json, want) in cases {
            let got = settings(json).unwrap().authorization;
            assert_eq!(got.as_deref(), want, "{json}");
        }
    }

    #[test]
    fn invalid_configurations_are_named() {
        let cases = [
            (r#"{}"#, "missing field `url`"),
            (r#"{"url":"ftp://h/"}"#, "only http and https"),
            (
                r#"{"url":"http://h/","max_alert":1}"#,
                "unknown field `max_alert`",
            ),
            (
                r#"{"url":"http://h/","http_config":{"bearer_token":"a","basic_auth":{"username":"u"}}}"#,
                "at most one of basic_auth, bearer_token & authorization",
            ),
            (
                r#"{"url":"http://h/","http_config":{"authorization":{"type":"Basic","credentials":"x"}}}"#,
                "use \"basic_auth\" instead",
            ),
            (
                r#"{"url":"http://h/","http_config":{"bearer_token":"a\r\nX-Evil: 1"}}"#,
                "control characters",
            ),
        ];
        for (json, want) in cases {
            let err = settings(json).unwrap_err().to_string();
            assert!(err.contains(want), "{json}: {err}");
        }
    }

    #[test]
    fn schema_is_json_and_marks_secrets() {
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
        assert_eq!(schema["properties"]["url"]["writeOnly"], true);
        let http = &schema["properties"]["http_config"]["properties"];
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
