//! The email receiver: Alertmanager's `email_config` (0.34's
//! `notify/email/email.go`) as a receiver plugin. Each notification is one
//! SMTP session with the `smarthost` over a TCP connection (the host grants
//! exactly that address as `tcp_connect`): the greeting, `EHLO` with
//! `hello`, `STARTTLS` when `require_tls`, `AUTH` with the first of the server's
//! mechanisms (CRAM-MD5, PLAIN, LOGIN) the configuration has credentials
//! for, `MAIL FROM` the one `from` address, `RCPT TO` every `to` address,
//! `DATA` with the message of [`message`], `QUIT`.
//!
//! Failures after connecting are retryable, as upstream returns them;
//! templates and addresses are not. Credentials never appear in error
//! texts.
//!
//! TLS ([`tls`]): `STARTTLS` when `require_tls` (the default), implicit TLS
//! on port 465 or with `force_implicit_tls`, as upstream. Differences from
//! upstream: headers are written sorted by name (Go's map order is
//! random); the Message-Id's host is `localhost.localdomain` (the sandbox
//! has no host name, Go's fallback); templates are all rendered before
//! `DATA` (when a header or body template fails, upstream ends the open
//! `DATA`, delivering what it had written); server roots are Mozilla's
//! (`webpki-roots`), there being no system store in the sandbox.

pub mod address;
pub mod config;
pub mod message;
pub mod mime;
pub mod smtp;
pub mod tls;

use base64::Engine;
use config::{Config, SCHEMA, Settings};
use smtp::{Auth, Client, SmtpError};
use std::io::{Read, Write};
use std::time::Duration;
use wasmetheus_sdk::receiver::{Notification, Receiver, SendError};
use wasmetheus_sdk::{Error, Metadata, export_receiver};

/// How long one read or write on the connection may wait.
pub const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// The host name in Message-Ids: Go's fallback when `os.Hostname` fails
/// (the sandbox has no host name).
pub const HOSTNAME: &str = "localhost.localdomain";

pub struct Email {
    settings: Settings,
}

/// `text` with each secret, and its base64 form, replaced by `<secret>`.
fn scrub(mut text: String, secrets: &[&str]) -> String {
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        text = text.replace(secret, "<secret>").replace(&b64, "<secret>");
    }
    text
}

/// Upstream's `auth(mechs)`: no authentication without a user name, else
/// the first offered mechanism the configuration has a credential for.
pub fn choose_auth(s: &Settings, mechs: &str) -> Result<Option<Auth>, String> {
    if s.auth_username.is_empty() {
        return Ok(None);
    }
    let mut errors = Vec::new();
    for mech in mechs.split(' ') {
        match mech {
            "CRAM-MD5" if s.auth_secret.is_empty() => {
                errors.push("missing secret for CRAM-MD5 auth mechanism".to_owned());
            }
            "CRAM-MD5" => {
                return Ok(Some(Auth::CramMd5 {
                    username: s.auth_username.clone(),
                    secret: s.auth_secret.clone(),
                }));
            }
            "PLAIN" | "LOGIN" if s.auth_password.is_empty() => {
                errors.push(format!("missing password for {mech} auth mechanism"));
            }
            "PLAIN" => {
                return Ok(Some(Auth::Plain {
                    identity: s.auth_identity.clone(),
                    username: s.auth_username.clone(),
                    password: s.auth_password.clone(),
                    host: s.host.clone(),
                }));
            }
            "LOGIN" => {
                return Ok(Some(Auth::Login {
                    username: s.auth_username.clone(),
                    password: s.auth_password.clone(),
                }));
            }
            other => errors.push(format!("unknown auth mechanism: {other}")),
        }
    }
    Err(errors.join("\n"))
}

/// A process-random number: std's hash keys come from the system's (in the
/// sandbox, WASI's) random source.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::hash::RandomState::new().build_hasher();
    h.write_u128(jiff::Timestamp::now().as_nanosecond() as u128);
    h.finish()
}

impl Email {
    pub fn new(settings: Settings) -> Email {
        Email { settings }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn scrubbed(&self, e: SendError) -> SendError {
        let s = &self.settings;
        // PLAIN's initial response holds the password too.
        let plain = format!(
            "{}\0{}\0{}",
            s.auth_identity, s.auth_username, s.auth_password
        );
        let plain = if s.auth_password.is_empty() {
            ""
        } else {
            &plain
        };
        SendError {
            message: scrub(e.message, &[plain, &s.auth_password, &s.auth_secret]),
            retryable: e.retryable,
        }
    }

    /// Delivers one notification over an open connection to the smarthost
    /// (TLS first when implicit).
    pub fn deliver<S: Read + Write>(
        &self,
        stream: S,
        n: &Notification,
        env: &mut message::Env<'_>,
    ) -> Result<(), SendError> {
        match (&self.settings.tls, self.settings.implicit_tls) {
            (Some(tls), true) => {
                let stream = tls.connect(stream).map_err(|e| {
                    self.scrubbed(SendError::retryable(format!(
                        "establish TLS connection to server: {e}"
                    )))
                })?;
                self.deliver_on(stream, true, n, env)
            }
            _ => self.deliver_on(stream, false, n, env),
        }
    }

    fn deliver_on<S: Read + Write>(
        &self,
        stream: S,
        tls: bool,
        n: &Notification,
        env: &mut message::Env<'_>,
    ) -> Result<(), SendError> {
        let s = &self.settings;
        let retry = |what: &str, e: SmtpError| SendError::retryable(format!("{what}: {e}"));
        let mut c =
            Client::new(stream, &s.host, tls).map_err(|e| retry("create SMTP client", e))?;
        let starttls = match self.before_tls(&mut c) {
            Ok(starttls) => starttls,
            Err(e) => {
                // As upstream, QUIT whatever happened; its failure changes nothing.
                let _ = c.quit();
                return Err(self.scrubbed(e));
            }
        };
        match starttls {
            Some(tls) => {
                let c = c
                    .starttls(|stream| tls.connect(stream))
                    .map_err(|e| self.scrubbed(retry("send STARTTLS command", e)))?;
                self.finish(c, n, env)
            }
            None => self.finish(c, n, env),
        }
    }

    /// EHLO, and whether STARTTLS is needed (upstream's `require_tls`).
    fn before_tls<S: Read + Write>(
        &self,
        c: &mut Client<S>,
    ) -> Result<Option<&tls::Tls>, SendError> {
        let s = &self.settings;
        let retry = |what: &str, e: SmtpError| SendError::retryable(format!("{what}: {e}"));
        c.hello_as(&s.hello)
            .map_err(|e| retry("send EHLO command", e))?;
        if !s.require_tls || s.implicit_tls {
            return Ok(None);
        }
        let offered = c
            .extension("STARTTLS")
            .map_err(|e| retry("send EHLO command", e))?;
        if offered.is_none() {
            return Err(SendError::retryable(format!(
                "'require_tls' is true (default) but {:?} does not advertise the STARTTLS extension",
                s.smarthost
            )));
        }
        match &s.tls {
            Some(tls) => Ok(Some(tls)),
            None => Err(SendError::permanent("parse TLS configuration: none built")),
        }
    }

    /// The rest of the session, then QUIT.
    fn finish<S: Read + Write>(
        &self,
        mut c: Client<S>,
        n: &Notification,
        env: &mut message::Env<'_>,
    ) -> Result<(), SendError> {
        let result = self.session(&mut c, n, env);
        // As upstream, QUIT whatever happened; its failure changes nothing.
        let _ = c.quit();
        result.map_err(|e| self.scrubbed(e))
    }

    fn session<S: Read + Write>(
        &self,
        c: &mut Client<S>,
        n: &Notification,
        env: &mut message::Env<'_>,
    ) -> Result<(), SendError> {
        let s = &self.settings;
        let retry = |what: &str, e: SmtpError| SendError::retryable(format!("{what}: {e}"));
        if let Some(mechs) = c
            .extension("AUTH")
            .map_err(|e| retry("send EHLO command", e))?
            && let Some(auth) = choose_auth(s, &mechs)
                .map_err(|e| SendError::retryable(format!("find auth mechanism: {e}")))?
        {
            c.auth(&auth)
                .map_err(|e| retry(&format!("{} auth", auth.type_name()), e))?;
        }
        let data = message::template_data(n);
        let from = s
            .templates
            .execute_text(&s.from, &data)
            .map_err(|e| SendError::permanent(format!("execute 'from' template: {e}")))?;
        let to = s
            .templates
            .execute_text(&s.to, &data)
            .map_err(|e| SendError::permanent(format!("execute 'to' template: {e}")))?;
        let from = address::parse_address_list(&from)
            .map_err(|e| SendError::permanent(format!("parse 'from' addresses: {e}")))?;
        if from.len() != 1 {
            return Err(SendError::permanent(format!(
                "must be exactly one 'from' address (got: {})",
                from.len()
            )));
        }
        let to = address::parse_address_list(&to)
            .map_err(|e| SendError::permanent(format!("parse 'to' addresses: {e}")))?;
        // Rendered before DATA: a failing template sends nothing (upstream
        // would end the open DATA with an empty message).
        let body = message::build(s, n, &data, env).map_err(|e| SendError::permanent(e.0))?;
        c.mail(&from[0])
            .map_err(|e| retry("send MAIL command", e))?;
        for addr in &to {
            c.rcpt(addr).map_err(|e| retry("send RCPT command", e))?;
        }
        c.data().map_err(|e| retry("send DATA command", e))?;
        c.finish_data(&mime::dot_stuff(&body))
            .map_err(|e| retry("delivery failure", e))
    }

    fn connect(&self) -> Result<std::net::TcpStream, SendError> {
        let s = &self.settings;
        let stream = std::net::TcpStream::connect(s.smarthost.as_str()).map_err(|e| {
            // A name is resolved in the sandbox, which needs the dns grant.
            let hint = if s.host.parse::<std::net::IpAddr>().is_err() {
                " (resolving the smarthost's name needs the dns grant)"
            } else {
                ""
            };
            SendError::retryable(format!("establish connection to server: {e}{hint}"))
        })?;
        // Best effort: the host's deadline bounds a notification anyway.
        let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
        let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
        Ok(stream)
    }
}

impl Receiver for Email {
    fn metadata() -> Metadata {
        Metadata::new(
            "email-receiver",
            env!("CARGO_PKG_VERSION"),
            "Alertmanager's email receiver: sends notifications over SMTP",
        )
        .config_schema(SCHEMA)
    }

    fn open(config: &str) -> Result<Self, Error> {
        let config: Config = wasmetheus_sdk::config::parse(config)?;
        Ok(Email::new(config.settings()?))
    }

    fn notify(&mut self, notification: Notification) -> Result<(), SendError> {
        let stream = self.connect()?;
        let mut random = random_u64;
        let mut env = message::Env {
            now: jiff::Timestamp::now(),
            random: &mut random,
            hostname: HOSTNAME,
        };
        self.deliver(stream, &notification, &mut env)
    }
}

export_receiver!(Email);
