//! The receiver's configuration: `{"config": <email_config>, "templates":
//! [{"name", "text"}]}`, the `email_configs` entry of alertmanager.yml with
//! the global `smtp_*` settings filled in and `*_file` secrets already read
//! by the host (`auth_password_file` into `auth_password`, `auth_secret_file`
//! into `auth_secret`), and the user's template files.

use crate::mime::{canonical_header_key, valid_header_name};
use crate::tls::{Tls, TlsConfig};
use serde::Deserialize;
use std::collections::BTreeMap;
use wasmetheus_sdk::Error;
use wasmetheus_template::alertmanager::Templates;

/// The JSON Schema of [`Config`]; secrets are `writeOnly`.
pub const SCHEMA: &str = r#"{
  "type": "object",
  "required": ["config"],
  "additionalProperties": false,
  "properties": {
    "config": {
      "type": "object",
      "required": ["to", "from", "smarthost"],
      "properties": {
        "to": {"type": "string", "description": "Recipients (an RFC 5322 address list; a template)"},
        "from": {"type": "string", "description": "The sender (a template)"},
        "hello": {"type": "string", "description": "The name sent with EHLO; localhost by default"},
        "smarthost": {"type": "string", "description": "The SMTP server as host:port"},
        "auth_username": {"type": "string"},
        "auth_password": {"type": "string", "writeOnly": true},
        "auth_password_file": {"type": "string"},
        "auth_secret": {"type": "string", "writeOnly": true},
        "auth_secret_file": {"type": "string"},
        "auth_identity": {"type": "string"},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "html": {"type": "string"},
        "text": {"type": "string"},
        "require_tls": {"type": "boolean"},
        "force_implicit_tls": {"type": ["boolean", "null"]},
        "send_resolved": {"type": "boolean"},
        "tls_config": {
          "type": ["object", "null"],
          "properties": {"key": {"type": "string", "writeOnly": true}}
        },
        "threading": {
          "type": "object",
          "properties": {
            "enabled": {"type": "boolean"},
            "thread_by_date": {"type": "string", "enum": ["daily", "none", ""]}
          }
        }
      }
    },
    "templates": {
      "type": "array",
      "items": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "text": {"type": "string"}}
      }
    }
  }
}"#;

/// Alertmanager's default `html` of an email.
pub const DEFAULT_HTML: &str = r#"{{ template "email.default.html" . }}"#;
/// Alertmanager's default `Subject` header.
pub const DEFAULT_SUBJECT: &str = r#"{{ template "email.default.subject" . }}"#;

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub config: EmailConfig,
    #[serde(default)]
    pub templates: Vec<TemplateFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateFile {
    pub name: String,
    pub text: String,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub hello: String,
    #[serde(default)]
    pub smarthost: String,
    #[serde(default)]
    pub auth_username: String,
    #[serde(default)]
    pub auth_password: String,
    /// Read by the host into `auth_password`; ignored here.
    #[serde(default)]
    pub auth_password_file: String,
    #[serde(default)]
    pub auth_secret: String,
    /// Read by the host into `auth_secret`; ignored here.
    #[serde(default)]
    pub auth_secret_file: String,
    #[serde(default)]
    pub auth_identity: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub html: Option<String>,
    #[serde(default)]
    pub text: String,
    #[serde(default = "yes")]
    pub require_tls: bool,
    #[serde(default)]
    pub force_implicit_tls: Option<bool>,
    #[serde(default)]
    pub send_resolved: bool,
    #[serde(default)]
    pub tls_config: Option<TlsConfig>,
    #[serde(default)]
    pub threading: Threading,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threading {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub thread_by_date: String,
}

/// A configuration checked and ready to send with.
#[derive(Clone)]
pub struct Settings {
    pub to: String,
    pub from: String,
    pub hello: String,
    /// `host:port` as written.
    pub smarthost: String,
    /// The host part (brackets of an IPv6 literal removed).
    pub host: String,
    pub port: String,
    pub auth_username: String,
    pub auth_password: String,
    pub auth_secret: String,
    pub auth_identity: String,
    /// Header templates by canonical name: the configured ones plus
    /// `Subject`, `To` and `From` unless configured.
    pub headers: BTreeMap<String, String>,
    pub html: String,
    pub text: String,
    pub require_tls: bool,
    pub implicit_tls: bool,
    /// The TLS client, when `require_tls` or implicit TLS needs one.
    pub tls: Option<Tls>,
    pub threading: Option<ThreadBy>,
    pub templates: Templates,
}

/// How threaded notifications are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadBy {
    /// One thread per alert group and day.
    Daily,
    /// One thread per alert group.
    None,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("to", &self.to)
            .field("from", &self.from)
            .field("smarthost", &self.smarthost)
            .field("auth_username", &self.auth_username)
            .field("auth_password", &"<secret>")
            .field("auth_secret", &"<secret>")
            .finish_non_exhaustive()
    }
}

/// Go's `net.SplitHostPort`.
pub fn split_host_port(hostport: &str) -> Result<(String, String), String> {
    let missing = || format!("address {hostport}: missing port in address");
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("address {hostport}: missing ']' in address"))?;
        let port = after.strip_prefix(':').ok_or_else(missing)?;
        (host, port)
    } else {
        let (host, port) = hostport.rsplit_once(':').ok_or_else(missing)?;
        if host.contains(':') {
            return Err(format!("address {hostport}: too many colons in address"));
        }
        (host, port)
    };
    Ok((host.to_owned(), port.to_owned()))
}

impl Config {
    /// Checks the configuration and parses the templates.
    pub fn settings(self) -> Result<Settings, Error> {
        let c = self.config;
        let invalid = |m: String| Error::InvalidConfig(m);
        if c.to.is_empty() {
            return Err(invalid("missing to address in email config".into()));
        }
        if c.from.is_empty() {
            return Err(invalid("missing from address in email config".into()));
        }
        if c.smarthost.is_empty() {
            return Err(invalid("missing smarthost in email config".into()));
        }
        let (host, port) =
            split_host_port(&c.smarthost).map_err(|e| invalid(format!("smarthost: {e}")))?;
        if host.is_empty() || port.is_empty() || port.parse::<u16>().is_err() {
            return Err(invalid(format!(
                "smarthost: {:?} is not host:port",
                c.smarthost
            )));
        }
        let mut headers = BTreeMap::new();
        for (name, value) in c.headers {
            if !valid_header_name(&name) {
                return Err(invalid(format!(
                    "header name {name:?} is not a valid header field name"
                )));
            }
            let name = canonical_header_key(&name);
            if headers.insert(name.clone(), value).is_some() {
                return Err(invalid(format!(
                    "duplicate header {name:?} in email config"
                )));
            }
        }
        headers
            .entry("Subject".into())
            .or_insert_with(|| DEFAULT_SUBJECT.to_owned());
        headers.entry("To".into()).or_insert_with(|| c.to.clone());
        headers
            .entry("From".into())
            .or_insert_with(|| c.from.clone());
        let threading = match (c.threading.enabled, c.threading.thread_by_date.as_str()) {
            (false, _) => None,
            (true, "" | "daily") => Some(ThreadBy::Daily),
            (true, "none") => Some(ThreadBy::None),
            (true, other) => {
                return Err(invalid(format!(
                    "invalid thread_by_date {other:?}: must be daily or none"
                )));
            }
        };
        let implicit_tls = c.force_implicit_tls.unwrap_or(port == "465");
        let tls = if c.require_tls || implicit_tls {
            let t = c.tls_config.unwrap_or_default().build(&host);
            Some(t.map_err(|e| invalid(format!("tls_config: {e}")))?)
        } else {
            None
        };
        let files: Vec<(&str, &str)> = self
            .templates
            .iter()
            .map(|t| (t.name.as_str(), t.text.as_str()))
            .collect();
        let templates =
            Templates::with_defaults_and(&files).map_err(|e| invalid(format!("templates: {e}")))?;
        Ok(Settings {
            to: c.to,
            from: c.from,
            hello: if c.hello.is_empty() {
                "localhost".into()
            } else {
                c.hello
            },
            implicit_tls,
            tls,
            smarthost: c.smarthost,
            host,
            port,
            auth_username: c.auth_username,
            auth_password: c.auth_password,
            auth_secret: c.auth_secret,
            auth_identity: c.auth_identity,
            headers,
            html: c.html.unwrap_or_else(|| DEFAULT_HTML.to_owned()),
            text: c.text,
            require_tls: c.require_tls,
            threading,
            templates,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(config: serde_json::Value) -> Result<Settings, String> {
        let c: Config =
            wasmetheus_sdk::config::parse(&config.to_string()).map_err(|e| e.to_string())?;
        c.settings().map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_as_alertmanager() {
        let s = settings(serde_json::json!({"config": {
            "to": "ops@example.com", "from": "am@example.com", "smarthost": "mail:25",
            "headers": {"x-team": "a"}
        }}))
        .unwrap();
        assert_eq!(s.hello, "localhost");
        assert!(s.require_tls);
        assert!(!s.implicit_tls);
        assert_eq!(s.html, DEFAULT_HTML);
        assert_eq!(
            s.headers.keys().collect::<Vec<_>>(),
            ["From", "Subject", "To", "X-Team"]
        );
        assert_eq!(s.headers["Subject"], DEFAULT_SUBJECT);
        assert_eq!(s.headers["To"], "ops@example.com");
        let s = settings(serde_json::json!({"config": {
            "to": "a@b", "from": "c@d", "smarthost": "[::1]:465",
            "headers": {"Subject": "custom"}
        }}))
        .unwrap();
        assert!(s.implicit_tls);
        assert_eq!(s.host, "::1");
        assert_eq!(s.headers["Subject"], "custom");
    }

    #[test]
    fn invalid_configurations() {
        let cases = [
            (
                serde_json::json!({"config": {"from": "a@b", "smarthost": "h:25"}}),
                "missing to address",
            ),
            (
                serde_json::json!({"config": {"to": "a@b", "from": "a@b", "smarthost": "h"}}),
                "missing port",
            ),
            (
                serde_json::json!({"config": {"to": "a@b", "from": "a@b", "smarthost": "h:x"}}),
                "not host:port",
            ),
            (
                serde_json::json!({"config": {"to": "a@b", "from": "a@b", "smarthost": "h:25",
                    "headers": {"Bcc: x\r\nX": "y"}}}),
                "not a valid header field name",
            ),
            (
                serde_json::json!({"config": {"to": "a@b", "from": "a@b", "smarthost": "h:25",
                    "headers": {"x-a": "1", "X-A": "2"}}}),
                "duplicate header",
            ),
            (
                serde_json::json!({"config": {"to": "a@b", "from": "a@b", "smarthost": "h:25"},
                    "templates": [{"name": "/t/bad.tmpl", "text": "{{ define \"x\" }}"}]}),
                "bad.tmpl",
            ),
            (
                serde_json::json!({"config": {"to": "a@b", "from": "a@b", "smarthost": "h:25", "bogus": 1}}),
                "bogus",
            ),
        ];
        for (config, want) in cases {
            let e = settings(config.clone()).unwrap_err();
            assert!(e.contains(want), "{config}: {e}");
        }
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let s = settings(serde_json::json!({"config": {
            "to": "a@b", "from": "c@d", "smarthost": "h:25",
            "auth_username": "u", "auth_password": "hunter2", "auth_secret": "s3cr3t"
        }}))
        .unwrap();
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("s3cr3t"),
            "{shown}"
        );
    }
}
