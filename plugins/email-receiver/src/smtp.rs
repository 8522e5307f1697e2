//! An SMTP client over any `Read + Write` stream, as Go's `net/smtp.Client`
//! behaves for Alertmanager: the greeting, `EHLO` (falling back to `HELO`)
//! and its extensions, `AUTH` (PLAIN, LOGIN, CRAM-MD5) with base64
//! challenges, `MAIL FROM` (with `BODY=8BITMIME` / `SMTPUTF8` when offered),
//! `RCPT TO`, `DATA` and `QUIT`. Replies are read as `net/textproto` does
//! (multi-line `250-…`), with bounds: a line of at most [`MAX_LINE`] bytes,
//! a reply of at most [`MAX_REPLY_LINES`] lines.

use base64::Engine;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};

/// The longest reply line read (RFC 5321 allows 512 bytes).
pub const MAX_LINE: usize = 4096;
/// The most lines one reply may have.
pub const MAX_REPLY_LINES: usize = 256;
/// The most bytes of a server's text quoted in an error.
const MAX_QUOTED: usize = 512;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A failed exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmtpError {
    /// The server answered with an unexpected code (Go's `textproto.Error`).
    Reply { code: u16, message: String },
    /// The server's answer is not SMTP (Go's `textproto.ProtocolError`).
    Protocol(String),
    /// Reading or writing the connection failed.
    Io(String),
    /// The client refused to go on (Go's plain errors).
    Client(String),
}

impl std::fmt::Display for SmtpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SmtpError::Reply { code, message } => write!(f, "{code:03} {message}"),
            SmtpError::Protocol(m) | SmtpError::Io(m) | SmtpError::Client(m) => f.write_str(m),
        }
    }
}

fn quoted(text: &str) -> String {
    if text.len() <= MAX_QUOTED {
        return text.to_owned();
    }
    let mut end = MAX_QUOTED;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn io_error(e: std::io::Error) -> SmtpError {
    SmtpError::Io(e.to_string())
}

/// An authentication mechanism (Go's `smtp.Auth` implementations that
/// Alertmanager uses).
#[derive(Clone)]
pub enum Auth {
    Plain {
        identity: String,
        username: String,
        password: String,
        host: String,
    },
    Login {
        username: String,
        password: String,
    },
    CramMd5 {
        username: String,
        secret: String,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.type_name())
    }
}

impl Auth {
    /// The Go type Alertmanager names in its error (`%T auth: …`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Auth::Plain { .. } => "*smtp.plainAuth",
            Auth::Login { .. } => "*email.loginAuth",
            Auth::CramMd5 { .. } => "*smtp.cramMD5Auth",
        }
    }

    /// Every secret this mechanism sends, to keep out of error texts.
    pub fn secrets(&self) -> Vec<String> {
        match self {
            Auth::Plain { password, .. } | Auth::Login { password, .. } => vec![password.clone()],
            Auth::CramMd5 { secret, .. } => vec![secret.clone()],
        }
    }

    fn start(
        &self,
        server_name: &str,
        tls: bool,
    ) -> Result<(&'static str, Option<Vec<u8>>), SmtpError> {
        match self {
            Auth::Plain {
                identity,
                username,
                password,
                host,
            } => {
                // Go's PlainAuth sends credentials only over TLS or to localhost.
                if !tls && !matches!(server_name, "localhost" | "127.0.0.1" | "::1") {
                    return Err(SmtpError::Client("unencrypted connection".into()));
                }
                if server_name != host {
                    return Err(SmtpError::Client("wrong host name".into()));
                }
                Ok((
                    "PLAIN",
                    Some(format!("{identity}\0{username}\0{password}").into_bytes()),
                ))
            }
            Auth::Login { .. } => Ok(("LOGIN", Some(Vec::new()))),
            Auth::CramMd5 { .. } => Ok(("CRAM-MD5", None)),
        }
    }

    fn next(&self, challenge: &[u8], more: bool) -> Result<Option<Vec<u8>>, SmtpError> {
        if !more {
            return Ok(None);
        }
        match self {
            Auth::Plain { .. } => Err(SmtpError::Client("unexpected server challenge".into())),
            Auth::Login {
                username, password, ..
            } => match String::from_utf8_lossy(challenge).to_lowercase().as_str() {
                "username:" => Ok(Some(username.clone().into_bytes())),
                "password:" => Ok(Some(password.clone().into_bytes())),
                _ => Err(SmtpError::Client("unexpected server challenge".into())),
            },
            Auth::CramMd5 { username, secret } => {
                let digest = hmac_md5(secret.as_bytes(), challenge);
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                Ok(Some(format!("{username} {hex}").into_bytes()))
            }
        }
    }
}

/// HMAC-MD5 (RFC 2104), what CRAM-MD5 answers a challenge with.
pub fn hmac_md5(key: &[u8], message: &[u8]) -> [u8; 16] {
    use md5::{Digest, Md5};
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..16].copy_from_slice(&Md5::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Md5::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Md5::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// An SMTP session on a connected stream.
pub struct Client<S: Read + Write> {
    conn: BufReader<S>,
    server_name: String,
    tls: bool,
    local_name: String,
    did_hello: bool,
    ext: Option<HashMap<String, String>>,
    auth_mechs: Vec<String>,
}

fn validate_line(line: &str) -> Result<(), SmtpError> {
    if line.contains(['\r', '\n']) {
        return Err(SmtpError::Client(
            "smtp: A line must not contain CR or LF".into(),
        ));
    }
    Ok(())
}

/// Go's `parseCodeLine`: the code, whether more lines follow, the text.
fn parse_code_line(line: &str) -> Result<(u16, bool, String), SmtpError> {
    let b = line.as_bytes();
    if b.len() < 4 || (b[3] != b' ' && b[3] != b'-') {
        return Err(SmtpError::Protocol(format!(
            "short response: {}",
            quoted(line)
        )));
    }
    let code = line
        .get(..3)
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|c| *c >= 100)
        .ok_or_else(|| SmtpError::Protocol(format!("invalid response code: {}", quoted(line))))?;
    Ok((code, b[3] == b'-', line[4..].to_owned()))
}

/// Whether `code` is what `expect` asks for (Go's `textproto` rule: one
/// digit checks the class, two the first two digits, three all; 0 any).
fn code_matches(code: u16, expect: u16) -> bool {
    match expect {
        0 => true,
        1..=9 => code / 100 == expect,
        10..=99 => code / 10 == expect,
        _ => code == expect,
    }
}

impl<S: Read + Write> Client<S> {
    /// Reads the server's greeting (220), as `smtp.NewClient`.
    pub fn new(stream: S, server_name: &str, tls: bool) -> Result<Self, SmtpError> {
        let mut c = Client {
            conn: BufReader::with_capacity(8192, stream),
            server_name: server_name.to_owned(),
            tls,
            local_name: "localhost".into(),
            did_hello: false,
            ext: None,
            auth_mechs: Vec::new(),
        };
        c.read_response(220)?;
        Ok(c)
    }

    /// One reply line without its line break, bounded.
    fn read_line(&mut self) -> Result<String, SmtpError> {
        let mut line = Vec::new();
        loop {
            let buf = self.conn.fill_buf().map_err(io_error)?;
            if buf.is_empty() {
                return Err(SmtpError::Io("unexpected EOF".into()));
            }
            let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (&buf[..=i], true),
                None => (buf, false),
            };
            if line.len() + chunk.len() > MAX_LINE + 2 {
                return Err(SmtpError::Protocol(format!(
                    "reply line longer than {MAX_LINE} bytes"
                )));
            }
            line.extend_from_slice(chunk);
            let n = chunk.len();
            self.conn.consume(n);
            if done {
                break;
            }
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    /// Go's `textproto.Reader.ReadResponse(expect)`.
    fn read_response(&mut self, expect: u16) -> Result<(u16, String), SmtpError> {
        let line = self.read_line()?;
        let (code, mut continued, mut message) = parse_code_line(&line)?;
        let multi = continued;
        let mut lines = 1;
        while continued {
            lines += 1;
            if lines > MAX_REPLY_LINES {
                return Err(SmtpError::Protocol(format!(
                    "reply of more than {MAX_REPLY_LINES} lines"
                )));
            }
            let line = self.read_line()?;
            match parse_code_line(&line) {
                Ok((code2, more, text)) if code2 == code => {
                    message.push('\n');
                    message.push_str(&text);
                    continued = more;
                }
                _ => {
                    message.push('\n');
                    message.push_str(&line);
                    continued = true;
                }
            }
        }
        if !code_matches(code, expect) {
            let message = if multi { message } else { quoted(&message) };
            return Err(SmtpError::Reply {
                code,
                message: quoted(&message),
            });
        }
        Ok((code, message))
    }

    fn send_line(&mut self, line: &str) -> Result<(), SmtpError> {
        let w = self.conn.get_mut();
        w.write_all(line.as_bytes()).map_err(io_error)?;
        w.write_all(b"\r\n").map_err(io_error)?;
        w.flush().map_err(io_error)
    }

    fn cmd(&mut self, expect: u16, line: &str) -> Result<(u16, String), SmtpError> {
        self.send_line(line)?;
        self.read_response(expect)
    }

    fn hello(&mut self) -> Result<(), SmtpError> {
        if self.did_hello {
            return Ok(());
        }
        self.did_hello = true;
        if self.ehlo().is_err() {
            self.helo()?;
        }
        Ok(())
    }

    fn ehlo(&mut self) -> Result<(), SmtpError> {
        let (_, message) = self.cmd(250, &format!("EHLO {}", self.local_name))?;
        let mut ext = HashMap::new();
        for line in message.split('\n').skip(1) {
            let (k, v) = line.split_once(' ').unwrap_or((line, ""));
            ext.insert(k.to_owned(), v.to_owned());
        }
        if let Some(mechs) = ext.get("AUTH") {
            self.auth_mechs = mechs.split(' ').map(str::to_owned).collect();
        }
        self.ext = Some(ext);
        Ok(())
    }

    fn helo(&mut self) -> Result<(), SmtpError> {
        self.ext = None;
        self.cmd(250, &format!("HELO {}", self.local_name))?;
        Ok(())
    }

    /// Greets the server as `local_name` (Go's `Client.Hello`).
    pub fn hello_as(&mut self, local_name: &str) -> Result<(), SmtpError> {
        validate_line(local_name)?;
        if self.did_hello {
            return Err(SmtpError::Client(
                "smtp: Hello called after other methods".into(),
            ));
        }
        self.local_name = local_name.to_owned();
        self.hello()
    }

    /// Whether the server offers an extension, and its parameters (Go's
    /// `Client.Extension`).
    pub fn extension(&mut self, name: &str) -> Result<Option<String>, SmtpError> {
        self.hello()?;
        Ok(self
            .ext
            .as_ref()
            .and_then(|ext| ext.get(&name.to_uppercase()).cloned()))
    }

    /// Authenticates (Go's `Client.Auth`); on failure the exchange is
    /// cancelled with `*`.
    pub fn auth(&mut self, auth: &Auth) -> Result<(), SmtpError> {
        self.hello()?;
        let (mech, mut resp) = auth.start(&self.server_name, self.tls)?;
        let first = B64.encode(resp.as_deref().unwrap_or_default());
        let mut reply = self.cmd(0, format!("AUTH {mech} {first}").trim());
        loop {
            let step = reply.and_then(|(code, text)| {
                let challenge = match code {
                    334 => B64
                        .decode(text.as_bytes())
                        .map_err(|e| SmtpError::Client(format!("illegal base64 data: {e}")))?,
                    235 => text.into_bytes(),
                    _ => {
                        return Err(SmtpError::Reply {
                            code,
                            message: text,
                        });
                    }
                };
                auth.next(&challenge, code == 334)
            });
            match step {
                Err(e) => {
                    let _ = self.cmd(501, "*");
                    return Err(e);
                }
                Ok(None) => return Ok(()),
                Ok(Some(next)) => {
                    resp = Some(next);
                    let line = B64.encode(resp.as_deref().unwrap_or_default());
                    reply = self.cmd(0, &line);
                }
            }
        }
    }

    /// `STARTTLS` (220), then the connection wrapped by `wrap` (the TLS
    /// handshake) and `EHLO` again over it (Go's `Client.StartTLS`). An
    /// answer followed by more bytes is refused: they would be read as if
    /// protected.
    pub fn starttls<T: Read + Write>(
        mut self,
        wrap: impl FnOnce(S) -> Result<T, String>,
    ) -> Result<Client<T>, SmtpError> {
        self.hello()?;
        self.cmd(220, "STARTTLS")?;
        if !self.conn.buffer().is_empty() {
            return Err(SmtpError::Protocol("data after the STARTTLS answer".into()));
        }
        let stream = wrap(self.conn.into_inner()).map_err(SmtpError::Client)?;
        let mut c = Client {
            conn: BufReader::with_capacity(8192, stream),
            server_name: self.server_name,
            tls: true,
            local_name: self.local_name,
            did_hello: true,
            ext: None,
            auth_mechs: Vec::new(),
        };
        c.ehlo()?;
        Ok(c)
    }

    /// The mechanisms the server offers for `AUTH`.
    pub fn auth_mechanisms(&self) -> &[String] {
        &self.auth_mechs
    }

    /// `MAIL FROM` (Go's `Client.Mail`).
    pub fn mail(&mut self, from: &str) -> Result<(), SmtpError> {
        validate_line(from)?;
        self.hello()?;
        let mut line = format!("MAIL FROM:<{from}>");
        if let Some(ext) = &self.ext {
            if ext.contains_key("8BITMIME") {
                line.push_str(" BODY=8BITMIME");
            }
            if ext.contains_key("SMTPUTF8") {
                line.push_str(" SMTPUTF8");
            }
        }
        self.cmd(250, &line)?;
        Ok(())
    }

    /// `RCPT TO` (Go's `Client.Rcpt`: 250 or 251).
    pub fn rcpt(&mut self, to: &str) -> Result<(), SmtpError> {
        validate_line(to)?;
        self.cmd(25, &format!("RCPT TO:<{to}>"))?;
        Ok(())
    }

    /// `DATA` (354).
    pub fn data(&mut self) -> Result<(), SmtpError> {
        self.cmd(354, "DATA")?;
        Ok(())
    }

    /// Writes a message already dot-stuffed and ended with `.` (see
    /// [`crate::mime::dot_stuff`]) and reads the answer (250).
    pub fn finish_data(&mut self, stuffed: &[u8]) -> Result<(), SmtpError> {
        let w = self.conn.get_mut();
        w.write_all(stuffed).map_err(io_error)?;
        w.flush().map_err(io_error)?;
        self.read_response(250)?;
        Ok(())
    }

    /// `QUIT` (221).
    pub fn quit(&mut self) -> Result<(), SmtpError> {
        self.hello()?;
        self.cmd(221, "QUIT")?;
        Ok(())
    }
}
