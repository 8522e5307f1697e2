//! The webhook receiver: POSTs Alertmanager's webhook message (version 4)
//! to the configured URL, as Alertmanager's `webhook_config` does:
//! `max_alerts` truncation with `truncatedAlerts`, `http_config`'s basic,
//! bearer and `authorization` credentials, a timeout. Answers 2xx are
//! success; 5xx and failures to connect or to get an answer may be retried;
//! every other status may not (Alertmanager's `Retrier` for webhooks, which
//! retries no 4xx, 429 included).
//!
//! The host grants the plugin exactly the origin of its URL.

pub mod config;
pub mod payload;

use config::{Config, SCHEMA, Settings};
use wasmetheus_sdk::http::{self, HttpError, Method, Request};
use wasmetheus_sdk::receiver::{Notification, Receiver, SendError};
use wasmetheus_sdk::{Error, Metadata, export_receiver};

/// The most bytes of an answer's body quoted in an error.
const MAX_QUOTED_BODY: usize = 512;

pub struct Webhook {
    settings: Settings,
}

/// What an answer's status means: `Ok` for 2xx, else whether a retry may
/// help (5xx) and the error text.
pub fn classify(status: u16, url: &str, body: &[u8]) -> Result<(), SendError> {
    if status / 100 == 2 {
        return Ok(());
    }
    // `url` is the origin only: a webhook URL's path may carry a token.
    let mut message = format!("unexpected status code {status} from {url}");
    let quoted = String::from_utf8_lossy(&body[..body.len().min(MAX_QUOTED_BODY)]);
    let quoted = quoted.trim();
    if !quoted.is_empty() {
        message.push_str(": ");
        message.push_str(quoted);
    }
    Err(SendError {
        message,
        retryable: status / 100 == 5,
    })
}

/// What a request that got no answer means; the URL shown as its origin
/// only (as Alertmanager redacts webhook URLs: many carry a token in
/// their path).
pub fn transport_error(e: HttpError, target: &http::Target) -> SendError {
    let origin = origin(target);
    let full = http::shown(&format!("{origin}{}", target.path_with_query));
    let path = target.path_with_query.split('?').next().unwrap_or("/");
    let mut message = e.to_string().replace(&full, &origin);
    if path.len() > 1 {
        message = message.replace(path, "/<redacted>");
    }
    match e {
        // No grant and no valid URL do not come with time.
        HttpError::Denied(_) | HttpError::InvalidUrl(_) => SendError::permanent(message),
        _ => SendError::retryable(message),
    }
}

/// The URL as errors show it: `scheme://host[:port]`, without user
/// information, path or query.
fn origin(t: &http::Target) -> String {
    format!(
        "{}://{}",
        if t.https { "https" } else { "http" },
        t.authority
    )
}

impl Receiver for Webhook {
    fn metadata() -> Metadata {
        Metadata::new(
            "webhook-receiver",
            env!("CARGO_PKG_VERSION"),
            "Alertmanager's webhook receiver: POSTs notifications as JSON (version 4)",
        )
        .config_schema(SCHEMA)
    }

    fn open(config: &str) -> Result<Self, Error> {
        let config: Config = wasmetheus_sdk::config::parse(config)?;
        Ok(Webhook {
            settings: config.settings()?,
        })
    }

    fn notify(&mut self, notification: Notification) -> Result<(), SendError> {
        let s = &self.settings;
        let mut headers = vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("User-Agent".to_owned(), s.user_agent.clone()),
        ];
        if let Some(auth) = &s.authorization {
            headers.push(("Authorization".to_owned(), auth.clone()));
        }
        let request = Request {
            method: Method::Post,
            target: s.target.clone(),
            headers,
            body: payload::body(&notification, s.max_alerts),
            timeout: s.timeout,
            max_response_body: MAX_QUOTED_BODY,
        };
        let response = http::send(&request).map_err(|e| transport_error(e, &s.target))?;
        classify(response.status, &origin(&s.target), &response.body)
    }
}

export_receiver!(Webhook);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_as_alertmanager_retries_them() {
        // Alertmanager 0.34's webhook retries 5xx only: 429 is not retried.
        let cases = [
            (200, None),
            (204, None),
            (301, Some(false)),
            (400, Some(false)),
            (404, Some(false)),
            (429, Some(false)),
            (500, Some(true)),
            (503, Some(true)),
        ];
        for (status, want) in cases {
            let got = classify(status, "http://h/x", b"")
                .err()
                .map(|e| e.retryable);
            assert_eq!(got, want, "{status}");
        }
        let e = classify(502, "http://h", b"  upstream down\n").unwrap_err();
        assert_eq!(
            e.message,
            "unexpected status code 502 from http://h: upstream down"
        );
    }

    #[test]
    fn transport_errors_hide_the_path_and_query() {
        let w = Webhook::open(r#"{"url":"https://u:p@h:8443/api/webhooks/1/S3CRET?token=abc"}"#)
            .unwrap();
        let t = &w.settings.target;
        assert_eq!(origin(t), "https://h:8443");
        for (e, retryable) in [
            (
                HttpError::Timeout("https://h:8443/api/webhooks/1/S3CRET: t".into()),
                true,
            ),
            (
                HttpError::Transport("connecting to /api/webhooks/1/S3CRET: refused".into()),
                true,
            ),
            (HttpError::Denied("/api/webhooks/1/S3CRET".into()), false),
        ] {
            let got = transport_error(e, t);
            assert_eq!(got.retryable, retryable, "{got:?}");
            assert!(!got.message.contains("S3CRET"), "{got:?}");
        }
        let got = transport_error(
            HttpError::Timeout("https://h:8443/api/webhooks/1/S3CRET: t".into()),
            t,
        );
        assert_eq!(got.message, "timed out: https://h:8443: t");
    }
}
