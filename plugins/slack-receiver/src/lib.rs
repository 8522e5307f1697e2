//! The Slack receiver: Alertmanager 0.34's `slack_config` (`notify/slack/slack.go`). Renders
//! every templated field in the guest with Alertmanager's template data and functions, its
//! default templates built in and the user's template files (from the config) over them, and
//! POSTs the message (one attachment) as JSON to `api_url` (an incoming webhook, or the Web API
//! with `app_token` as a Bearer token), with `http_config`'s credentials.
//!
//! Answers are classified as upstream's: 2xx is delivered unless the body says otherwise (a
//! JSON body needs `"ok": true`, any other body must be `ok`), 5xx and failures to get an answer
//! may be retried, other statuses and error bodies may not. Errors show the URL as
//! `scheme://host` only: Slack's URLs carry their token in the path.
//!
//! The host grants the plugin exactly the origin of its URL.

pub mod config;
pub mod payload;

use config::{PluginConfig, SCHEMA, Settings, SlackConfig};
use std::collections::HashMap;
use wasmetheus_sdk::http::{self, HttpError, Method, Request};
use wasmetheus_sdk::receiver::{Notification, Receiver, SendError};
use wasmetheus_sdk::{Error, Metadata, export_receiver};
use wasmetheus_template::Limits;
use wasmetheus_template::alertmanager::Templates;

/// The most bytes of an answer read (and quoted in an error).
const MAX_RESPONSE_BODY: usize = 4096;
/// The most bytes of an answer's body quoted in an error.
const MAX_QUOTED_BODY: usize = 512;
/// The most messages remembered for `update_message`.
const MAX_MESSAGES: usize = 10_000;

/// Bounds of one field's rendering: hostile templates stop here (and at the sandbox's).
pub const LIMITS: Limits = Limits {
    max_output_bytes: 1 << 20,
    max_steps: 1_000_000,
    max_depth: 100,
};

pub struct Slack {
    config: SlackConfig,
    settings: Settings,
    templates: Templates,
    /// `update_message`: the `ts` of the message posted for a (group key, channel).
    messages: HashMap<(String, String), String>,
}

fn quoted(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(MAX_QUOTED_BODY)])
        .trim()
        .to_owned()
}

/// What an answer means, as upstream's `Retrier.Check` and `checkResponseError`: `Ok(ts)` when
/// delivered (the message's `ts` when a JSON body names one). The answer's headers are not seen
/// here, so a body that is a JSON object is taken as the Web API's JSON answer.
pub fn classify(status: u16, channel: &str, body: &[u8]) -> Result<Option<String>, SendError> {
    let channel = format!("channel {}", wasmetheus_template::quote(channel));
    if status / 100 != 2 {
        let mut message = format!("{channel}: unexpected status code {status}");
        let details = quoted(body);
        if !details.is_empty() {
            message.push_str(": ");
            message.push_str(&details);
        }
        return Err(SendError {
            message,
            retryable: status / 100 == 5,
        });
    }
    let trimmed = body.trim_ascii_start();
    if trimmed.starts_with(b"{") {
        let answer: serde_json::Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return Err(SendError::retryable(format!(
                    "{channel}: could not unmarshal JSON response {:?}: {e}",
                    quoted(body)
                )));
            }
        };
        if answer["ok"].as_bool() != Some(true) {
            return Err(SendError::permanent(format!(
                "{channel}: error response from Slack: {}",
                answer["error"].as_str().unwrap_or("")
            )));
        }
        return Ok(answer["ts"].as_str().map(str::to_owned));
    }
    if body != b"ok" {
        return Err(SendError::permanent(format!(
            "{channel}: received an error response from Slack: {}",
            quoted(body)
        )));
    }
    Ok(None)
}

/// What a request that got no answer means; the URL shown as its origin only.
pub fn transport_error(e: HttpError, settings: &Settings) -> SendError {
    let t = &settings.target;
    let full = http::shown(&format!("{}{}", settings.origin, t.path_with_query));
    let path = t.path_with_query.split('?').next().unwrap_or("/");
    let mut message = e.to_string().replace(&full, &settings.origin);
    if path.len() > 1 {
        message = message.replace(path, "/<redacted>");
    }
    match e {
        HttpError::Denied(_) | HttpError::InvalidUrl(_) => SendError::permanent(message),
        _ => SendError::retryable(message),
    }
}

impl Receiver for Slack {
    fn metadata() -> Metadata {
        Metadata::new(
            "slack-receiver",
            env!("CARGO_PKG_VERSION"),
            "Alertmanager's Slack integration: POSTs templated messages to Slack",
        )
        .config_schema(SCHEMA)
    }

    fn open(config: &str) -> Result<Self, Error> {
        let config: PluginConfig = wasmetheus_sdk::config::parse(config)?;
        config.check_templates()?;
        let settings = config.config.settings()?;
        let files: Vec<(&str, &str)> = config
            .templates
            .iter()
            .map(|t| (t.name.as_str(), t.text.as_str()))
            .collect();
        let templates = Templates::with_defaults_and(&files)
            .map_err(|e| Error::InvalidConfig(e.to_string()))?
            .with_limits(LIMITS);
        Ok(Slack {
            config: config.config,
            settings,
            templates,
            messages: HashMap::new(),
        })
    }

    fn notify(&mut self, notification: Notification) -> Result<(), SendError> {
        let s = &self.settings;
        // The channel a message is remembered under is the rendered one.
        let channel = self
            .templates
            .execute_text(
                self.config.template("channel", &self.config.channel),
                &payload::data(&notification)
                    .map_err(SendError::permanent)?
                    .to_value(),
            )
            .unwrap_or_default();
        let key = (notification.group_key.clone(), channel);
        let ts = if s.update_message {
            self.messages.get(&key).cloned()
        } else {
            None
        };
        let request = payload::request(&self.config, &self.templates, &notification, ts.as_deref())
            .map_err(SendError::permanent)?;
        let mut headers = vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("User-Agent".to_owned(), s.user_agent.clone()),
        ];
        if let Some(auth) = &s.authorization {
            headers.push(("Authorization".to_owned(), auth.clone()));
        }
        let http_request = Request {
            method: Method::Post,
            target: s.target.clone(),
            headers,
            body: payload::body(&request),
            timeout: s.timeout,
            max_response_body: MAX_RESPONSE_BODY,
        };
        let response = http::send(&http_request).map_err(|e| transport_error(e, s))?;
        let posted = classify(response.status, &request.channel, &response.body)?;
        if s.update_message
            && let Some(ts) = posted
        {
            if self.messages.len() >= MAX_MESSAGES && !self.messages.contains_key(&key) {
                self.messages.clear();
            }
            self.messages.insert(key, ts);
        }
        Ok(())
    }
}

export_receiver!(Slack);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_bodies_as_upstream_classifies_them() {
        // (status, body, Ok(ts) or Err(retryable))
        type Want = Result<Option<&'static str>, bool>;
        let cases: [(u16, &str, Want); 11] = [
            (200, "ok", Ok(None)),
            (200, r#"{"ok":true,"ts":"1.2"}"#, Ok(Some("1.2"))),
            (200, r#"{"ok":true}"#, Ok(None)),
            (
                200,
                r#"{"ok":false,"error":"channel_not_found"}"#,
                Err(false),
            ),
            (200, r#"{"ok":tru"#, Err(true)),
            (200, "invalid_token", Err(false)),
            (200, "", Err(false)),
            (400, "invalid_payload", Err(false)),
            (404, "", Err(false)),
            (429, "", Err(false)),
            (503, "", Err(true)),
        ];
        for (status, body, want) in cases {
            let got = classify(status, "#a", body.as_bytes());
            match (got, want) {
                (Ok(ts), Ok(w)) => assert_eq!(ts.as_deref(), w, "{status} {body}"),
                (Err(e), Err(retry)) => assert_eq!(e.retryable, retry, "{status} {body}: {e}"),
                (got, want) => panic!("{status} {body}: {got:?}, want {want:?}"),
            }
        }
        let e = classify(502, "#alerts", b"  upstream down\n").unwrap_err();
        assert_eq!(
            e.message,
            "channel \"#alerts\": unexpected status code 502: upstream down"
        );
        let e = classify(200, "#a", br#"{"ok":false,"error":"not_in_channel"}"#).unwrap_err();
        assert_eq!(
            e.message,
            "channel \"#a\": error response from Slack: not_in_channel"
        );
    }

    #[test]
    fn transport_errors_hide_the_token() {
        let c: PluginConfig = serde_json::from_str(
            r#"{"config":{"api_url":"https://hooks.slack.com/services/T0/B0/SECRET?x=1"}}"#,
        )
        .unwrap();
        let s = c.config.settings().unwrap();
        for e in [
            HttpError::Timeout("https://hooks.slack.com/services/T0/B0/SECRET: timeout".into()),
            HttpError::Transport(
                "connecting to https://hooks.slack.com/services/T0/B0/SECRET failed".into(),
            ),
            HttpError::Denied("/services/T0/B0/SECRET".into()),
        ] {
            let retry = !matches!(e, HttpError::Denied(_));
            let got = transport_error(e, &s);
            assert!(!got.message.contains("SECRET"), "{got:?}");
            assert_eq!(got.retryable, retry);
        }
        let got = transport_error(
            HttpError::Timeout("https://hooks.slack.com/services/T0/B0/SECRET: timeout".into()),
            &s,
        );
        assert_eq!(got.message, "timed out: https://hooks.slack.com: timeout");
    }

    #[test]
    fn open_checks_config_and_templates() {
        assert!(Slack::open(r#"{"config":{"api_url":"http://h/"}}"#).is_ok());
        let cases = [
            (
                r#"{"config":{"api_url":"http://h/"},"templates":[{"name":"a.tmpl","text":"{{ if }}"}]}"#,
                "a.tmpl",
            ),
            (
                r#"{"config":{"api_url":"http://h/"},"extra":1}"#,
                "unknown field `extra`",
            ),
            (r#"{"templates":[]}"#, "missing field `config`"),
        ];
        for (json, want) in cases {
            let e = Slack::open(json).err().expect("an error").to_string();
            assert!(e.contains(want), "{json}: {e}");
        }
    }

    #[test]
    fn notify_renders_before_sending() {
        // Natively there is no host: a rendered message fails only at sending.
        let mut s = Slack::open(r#"{"config":{"api_url":"http://h/"}}"#).unwrap();
        let e = s.notify(Notification::default()).unwrap_err();
        assert!(e.message.contains("wasmetheus host"), "{e}");
        let mut s =
            Slack::open(r#"{"config":{"api_url":"http://h/","text":"{{ .Nope.X }}"}}"#).unwrap();
        let e = s.notify(Notification::default()).unwrap_err();
        assert!(!e.retryable && e.message.starts_with("text: "), "{e}");
    }
}
