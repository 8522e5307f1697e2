//! The MySQL client protocol over one `std::net::TcpStream` (wasi:sockets in
//! the sandbox): packet framing with sequence ids and a byte budget, the v10
//! handshake with `mysql_native_password` and `caching_sha2_password`
//! (including auth switch and the RSA full authentication), `COM_QUERY`
//! with text result sets and `COM_PING`. Packet layouts and scrambles come
//! from mysql_common; this module only moves bytes and checks them.
//!
//! Any I/O or protocol error yields [`Error::Broken`]: the caller must drop
//! the connection. An ERR answer to a statement yields [`Error::Server`] and
//! leaves the connection usable.

use crate::dsn::Dsn;
use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::io::ParseBuf;
use mysql_common::packets::{
    AuthPlugin, AuthSwitchRequest, Column, CommonOkPacket, ErrPacket, HandshakePacket,
    HandshakeResponse, OkPacketDeserializer, OldEofPacket, ResultSetTerminator,
};
use mysql_common::proto::MySerialize;
use std::io::{BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Largest payload of one physical packet.
const MAX_CHUNK: usize = 0xFF_FFFF;
/// Columns of a result set accepted at most.
const MAX_COLUMNS: u64 = 4096;
/// Bytes charged per row and per value on top of the data, so that a flood
/// of tiny rows cannot outgrow the budget in memory.
const ROW_OVERHEAD: u64 = 32;
const VALUE_OVERHEAD: u64 = 24;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The connection is unusable (I/O, protocol, login, budget); drop it.
    Broken(String),
    /// The server refused the statement; the connection is fine.
    Server { code: u16, message: String },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Broken(m) => f.write_str(m),
            Error::Server { code, message } => write!(f, "Error {code}: {message}"),
        }
    }
}

/// Limits of one connection.
#[derive(Debug, Clone)]
pub struct Options {
    /// Bytes the server may send per collect (and per login).
    pub max_response_bytes: u64,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
}

/// A text result set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultSet {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// One authenticated connection.
pub struct Conn {
    /// Reads are buffered: a packet is a 4-byte header and a payload, and
    /// each unbuffered read is a call into the host.
    stream: BufReader<TcpStream>,
    seq: u8,
    caps: CapabilityFlags,
    budget: u64,
    limit: u64,
    read_timeout: Duration,
}

fn broken(msg: impl Into<String>) -> Error {
    Error::Broken(msg.into())
}

/// What the client asks for; the server's flags are intersected with it.
fn wanted_capabilities() -> CapabilityFlags {
    CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_PLUGIN_AUTH
        | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
        | CapabilityFlags::CLIENT_LONG_PASSWORD
        | CapabilityFlags::CLIENT_LONG_FLAG
        | CapabilityFlags::CLIENT_TRANSACTIONS
        | CapabilityFlags::CLIENT_MULTI_RESULTS
        | CapabilityFlags::CLIENT_DEPRECATE_EOF
}

impl Conn {
    /// Connects to `dsn.addr` and logs in with `password`.
    pub fn connect(dsn: &Dsn, password: Option<&str>, opts: &Options) -> Result<Conn, Error> {
        let stream = dial(dsn, opts)?;
        // Best effort: wasi may not support timeouts; the host's deadline
        // bounds a collect anyway.
        let _ = stream.set_read_timeout(Some(opts.read_timeout));
        let _ = stream.set_write_timeout(Some(opts.write_timeout));
        let _ = stream.set_nodelay(true);
        let mut conn = Conn {
            stream: BufReader::with_capacity(64 << 10, stream),
            seq: 0,
            caps: CapabilityFlags::empty(),
            budget: opts.max_response_bytes,
            limit: opts.max_response_bytes,
            read_timeout: opts.read_timeout,
        };
        conn.login(dsn, password)?;
        Ok(conn)
    }

    /// Gives the connection a fresh byte budget (once per collect).
    pub fn reset_budget(&mut self) {
        self.budget = self.limit;
    }

    fn login(&mut self, dsn: &Dsn, password: Option<&str>) -> Result<(), Error> {
        let greeting = self.read_packet()?;
        if greeting.first() == Some(&0xFF) {
            return Err(broken(format!(
                "the server refused the connection: {}",
                self.err_text(&greeting)
            )));
        }
        let not_mysql = || {
            broken(format!(
                "{} did not greet like a MySQL server (protocol v10 handshake expected); is the dsn's address a MySQL server?",
                dsn.addr
            ))
        };
        if !sane_auth_data_len(&greeting) {
            return Err(not_mysql());
        }
        let hs: HandshakePacket<'_> = ParseBuf(&greeting).parse(()).map_err(|_| not_mysql())?;
        if hs.protocol_version() != 10 {
            return Err(not_mysql());
        }
        let server_caps = hs.capabilities();
        if !server_caps.contains(
            CapabilityFlags::CLIENT_PROTOCOL_41 | CapabilityFlags::CLIENT_SECURE_CONNECTION,
        ) {
            return Err(broken(
                "the server is too old: it lacks the 4.1 protocol with secure authentication",
            ));
        }
        self.caps = wanted_capabilities() & server_caps;
        let mut nonce = hs.nonce();
        let mut plugin = hs
            .auth_plugin()
            .map(AuthPlugin::into_owned)
            .unwrap_or(AuthPlugin::MysqlNativePassword);
        let data = auth_data(&plugin, password, &nonce, dsn)?;
        let version = hs.server_version_parsed().unwrap_or((5, 5, 3));
        let db = (!dsn.db_name.is_empty()).then_some(dsn.db_name.as_bytes());
        let response = HandshakeResponse::new(
            Some(data),
            version,
            Some(dsn.user.as_bytes()),
            db,
            Some(plugin.clone()),
            self.caps,
            None,
            MAX_CHUNK as u32,
        );
        let mut buf = Vec::new();
        response.serialize(&mut buf);
        self.caps = response.capabilities();
        drop(hs);
        self.write_packet(&buf)?;

        let mut awaiting_key = false;
        for _ in 0..8 {
            let pkt = self.read_packet()?;
            match pkt.first() {
                Some(0x00) => return Ok(()),
                Some(0xFF) => {
                    return Err(broken(format!(
                        "login refused by the server: {} (check the user and password of the dsn, password_env or password_file)",
                        self.err_text(&pkt)
                    )));
                }
                Some(0xFE) if pkt.len() == 1 => {
                    return Err(broken(
                        "the server asks for the pre-4.1 password hashing (mysql_old_password), which is not supported; give the exporter user a mysql_native_password or caching_sha2_password password",
                    ));
                }
                Some(0xFE) => {
                    let req: AuthSwitchRequest<'_> = ParseBuf(&pkt).parse(()).map_err(|_| {
                        broken("malformed authentication switch request from the server")
                    })?;
                    plugin = req.auth_plugin().into_owned();
                    nonce = req.plugin_data().to_vec();
                    let data = auth_data(&plugin, password, &nonce, dsn)?;
                    self.write_packet(&data)?;
                    awaiting_key = false;
                }
                Some(0x01) if plugin == AuthPlugin::CachingSha2Password => {
                    let data = &pkt[1..];
                    if awaiting_key {
                        let pw = password.unwrap_or("").as_bytes();
                        let enc =
                            crate::rsa_key::encrypt_password(pw, &nonce, data).map_err(|e| {
                                broken(format!("caching_sha2_password full authentication: {e}"))
                            })?;
                        self.write_packet(&enc)?;
                        awaiting_key = false;
                    } else {
                        match data {
                            [0x03] => {} // fast authentication succeeded; OK follows
                            [0x04] => {
                                // Full authentication without TLS: ask for the
                                // server's RSA public key.
                                self.write_packet(&[0x02])?;
                                awaiting_key = true;
                            }
                            _ => {
                                return Err(broken(
                                    "malformed caching_sha2_password message from the server",
                                ));
                            }
                        }
                    }
                }
                _ => {
                    return Err(broken(
                        "unexpected packet from the server during login (protocol error)",
                    ));
                }
            }
        }
        Err(broken(
            "the server did not finish the login after 8 exchanges",
        ))
    }

    /// `COM_PING`: whether a kept connection still works.
    pub fn ping(&mut self) -> Result<(), Error> {
        self.seq = 0;
        self.write_packet(&[0x0E])?;
        let pkt = self.read_packet()?;
        match pkt.first() {
            Some(0x00) => Ok(()),
            Some(0xFF) => Err(broken(format!("ping failed: {}", self.err_text(&pkt)))),
            _ => Err(broken("unexpected answer to ping (protocol error)")),
        }
    }

    /// Runs `sql` and returns its first result set (further ones are read
    /// and dropped). A statement without result set gives an empty one.
    pub fn query(&mut self, sql: &str) -> Result<ResultSet, Error> {
        self.seq = 0;
        let mut cmd = Vec::with_capacity(sql.len() + 1);
        cmd.push(0x03);
        cmd.extend_from_slice(sql.as_bytes());
        self.write_packet(&cmd)?;
        let mut first = None;
        loop {
            let (rs, more) = self.read_result()?;
            first.get_or_insert(rs);
            if !more {
                return Ok(first.unwrap_or_default());
            }
        }
    }

    fn read_result(&mut self) -> Result<(ResultSet, bool), Error> {
        let pkt = self.read_packet()?;
        match pkt.first() {
            Some(0xFF) => return Err(self.server_error(&pkt)),
            Some(0x00) => {
                let ok: OkPacketDeserializer<'_, CommonOkPacket> = ParseBuf(&pkt)
                    .parse(self.caps)
                    .map_err(|_| broken("malformed OK packet from the server"))?;
                let more = ok
                    .into_inner()
                    .status_flags()
                    .contains(StatusFlags::SERVER_MORE_RESULTS_EXISTS);
                return Ok((ResultSet::default(), more));
            }
            Some(0xFB) => {
                return Err(broken(
                    "the server asked to read a local file (LOAD DATA LOCAL); refused",
                ));
            }
            None => return Err(broken("empty packet from the server")),
            _ => {}
        }
        let mut buf = ParseBuf(&pkt);
        let count = buf
            .checked_eat_lenenc_int()
            .filter(|n| (1..=MAX_COLUMNS).contains(n) && buf.is_empty())
            .ok_or_else(|| broken("malformed result set header from the server"))?
            as usize;
        let mut rs = ResultSet::default();
        for _ in 0..count {
            let pkt = self.read_packet()?;
            let col: Column = ParseBuf(&pkt)
                .parse(())
                .map_err(|_| broken("malformed column definition from the server"))?;
            rs.columns.push(col.name_str().into_owned());
        }
        let deprecate_eof = self.caps.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF);
        if !deprecate_eof {
            let eof = self.read_packet()?;
            if eof.first() != Some(&0xFE) || eof.len() >= 9 {
                return Err(broken(
                    "missing EOF after the column definitions (protocol error)",
                ));
            }
        }
        loop {
            let pkt = self.read_packet()?;
            match pkt.first() {
                Some(0xFE) if pkt.len() < 9 || (deprecate_eof && pkt.len() < MAX_CHUNK) => {
                    let flags = if deprecate_eof {
                        ParseBuf(&pkt)
                            .parse::<OkPacketDeserializer<'_, ResultSetTerminator>>(self.caps)
                            .map(|ok| ok.into_inner().status_flags())
                    } else {
                        ParseBuf(&pkt)
                            .parse::<OkPacketDeserializer<'_, OldEofPacket>>(self.caps)
                            .map(|ok| ok.into_inner().status_flags())
                    }
                    .map_err(|_| broken("malformed end of result set from the server"))?;
                    return Ok((rs, flags.contains(StatusFlags::SERVER_MORE_RESULTS_EXISTS)));
                }
                Some(0xFF) => return Err(self.server_error(&pkt)),
                _ => {}
            }
            self.charge(ROW_OVERHEAD + VALUE_OVERHEAD * count as u64)?;
            let mut buf = ParseBuf(&pkt);
            let mut row = Vec::with_capacity(count);
            for _ in 0..count {
                if buf.0.first() == Some(&0xFB) {
                    buf.0 = &buf.0[1..];
                    row.push(None);
                    continue;
                }
                let value = buf
                    .checked_eat_lenenc_str()
                    .ok_or_else(|| broken("malformed row from the server (truncated value)"))?;
                let value = match std::str::from_utf8(value) {
                    Ok(text) => text.to_owned(),
                    Err(_) => {
                        // Each invalid byte may grow to a 3-byte U+FFFD.
                        self.charge(2 * value.len() as u64)?;
                        String::from_utf8_lossy(value).into_owned()
                    }
                };
                row.push(Some(value));
            }
            if !buf.is_empty() {
                return Err(broken("malformed row from the server (extra bytes)"));
            }
            rs.rows.push(row);
        }
    }

    fn server_error(&self, pkt: &[u8]) -> Error {
        // Errors sent before the handshake (too many connections, host
        // blocked) may lack the SQL state; parse by what the packet holds.
        let caps = if pkt.get(3) == Some(&b'#') {
            self.caps | CapabilityFlags::CLIENT_PROTOCOL_41
        } else {
            self.caps - CapabilityFlags::CLIENT_PROTOCOL_41
        };
        match ParseBuf(pkt).parse::<ErrPacket<'_>>(caps) {
            Ok(ErrPacket::Error(e)) => Error::Server {
                code: e.error_code(),
                message: shorten(&e.message_str()),
            },
            _ => broken("malformed error packet from the server"),
        }
    }

    fn err_text(&self, pkt: &[u8]) -> String {
        match self.server_error(pkt) {
            Error::Server { code, message } => format!("Error {code}: {message}"),
            Error::Broken(m) => m,
        }
    }

    fn charge(&mut self, n: u64) -> Result<(), Error> {
        if n > self.budget {
            return Err(broken(format!(
                "the server's answers exceed max_response_bytes ({} bytes) in one collect; raise max_response_bytes if that much is expected",
                self.limit
            )));
        }
        self.budget -= n;
        Ok(())
    }

    fn read_packet(&mut self) -> Result<Vec<u8>, Error> {
        let mut payload = Vec::new();
        loop {
            let mut header = [0u8; 4];
            self.stream
                .read_exact(&mut header)
                .map_err(|e| self.io_error("read from", e))?;
            let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
            if header[3] != self.seq && self.caps.is_empty() {
                return Err(broken(
                    "the server did not greet like a MySQL server (wrong sequence id); is the dsn's address a MySQL server?",
                ));
            }
            if header[3] != self.seq {
                return Err(broken(format!(
                    "packet out of order from the server (sequence {}, expected {}): protocol error",
                    header[3], self.seq
                )));
            }
            self.seq = self.seq.wrapping_add(1);
            self.charge(len as u64 + 4)?;
            let start = payload.len();
            (&mut self.stream)
                .take(len as u64)
                .read_to_end(&mut payload)
                .map_err(|e| self.io_error("read from", e))?;
            if payload.len() - start < len {
                return Err(broken(
                    "the server closed the connection in the middle of a packet",
                ));
            }
            if len < MAX_CHUNK {
                return Ok(payload);
            }
        }
    }

    fn write_packet(&mut self, payload: &[u8]) -> Result<(), Error> {
        let mut out = Vec::with_capacity(payload.len() + 8);
        let mut chunks = payload.chunks(MAX_CHUNK).peekable();
        let mut last_len = 0;
        while let Some(chunk) = chunks.next() {
            last_len = chunk.len();
            out.extend_from_slice(&(chunk.len() as u32).to_le_bytes()[..3]);
            out.push(self.seq);
            self.seq = self.seq.wrapping_add(1);
            out.extend_from_slice(chunk);
            if chunks.peek().is_none() {
                break;
            }
        }
        if payload.is_empty() || last_len == MAX_CHUNK {
            out.extend_from_slice(&[0, 0, 0, self.seq]);
            self.seq = self.seq.wrapping_add(1);
        }
        let stream = self.stream.get_mut();
        stream
            .write_all(&out)
            .and_then(|()| stream.flush())
            .map_err(|e| self.io_error("write to", e))
    }

    fn io_error(&self, what: &str, e: std::io::Error) -> Error {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::WouldBlock | K::TimedOut => broken(format!(
                "no answer from the server within {:?} (connection dropped)",
                self.read_timeout
            )),
            K::UnexpectedEof => broken("the server closed the connection"),
            _ => broken(format!("{what} the server: {e}")),
        }
    }
}

/// The longest server error message kept, in characters: a hostile server
/// could otherwise fill the log with megabytes.
const MAX_SERVER_MESSAGE: usize = 512;

/// `message` without control characters, cut at [`MAX_SERVER_MESSAGE`].
fn shorten(message: &str) -> String {
    let mut out: String = message
        .chars()
        .take(MAX_SERVER_MESSAGE)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if message.chars().nth(MAX_SERVER_MESSAGE).is_some() {
        out.push('…');
    }
    out
}

/// Whether the greeting's auth-plugin-data length byte is below 0x80:
/// mysql_common computes `len as i8 - 8`, which overflows for 0x80..=0x87
/// (a panic where overflow checks are on). Real servers send 21 or 0.
fn sane_auth_data_len(greeting: &[u8]) -> bool {
    let Some(nul) = greeting.iter().skip(1).position(|&b| b == 0) else {
        return true; // the parser rejects it
    };
    // version, NUL, connection id 4, scramble 8, filler 1, caps 2,
    // collation 1, status 2, caps 2, then the length byte.
    greeting.get(1 + nul + 1 + 20).is_none_or(|&b| b < 0x80)
}

/// The authentication response of `plugin` for `password` and `nonce`.
fn auth_data(
    plugin: &AuthPlugin<'_>,
    password: Option<&str>,
    nonce: &[u8],
    dsn: &Dsn,
) -> Result<Vec<u8>, Error> {
    match plugin {
        AuthPlugin::MysqlNativePassword if !dsn.allow_native_passwords => {
            return Err(broken(
                "the server asks for mysql_native_password but the dsn sets allowNativePasswords=false",
            ));
        }
        AuthPlugin::MysqlClearPassword if !dsn.allow_cleartext_passwords => {
            return Err(broken(
                "the server asks for the cleartext password plugin; add allowCleartextPasswords=true to the dsn if sending the password unencrypted is acceptable",
            ));
        }
        AuthPlugin::MysqlNativePassword
        | AuthPlugin::CachingSha2Password
        | AuthPlugin::MysqlClearPassword => {}
        other => {
            let name = String::from_utf8_lossy(other.as_bytes());
            let name: String = name.chars().filter(|c| !c.is_control()).take(64).collect();
            return Err(broken(format!(
                "the server asks for authentication plugin {name:?}, which is not supported; give the exporter user a mysql_native_password or caching_sha2_password password"
            )));
        }
    }
    let mut out = Vec::new();
    if let Some(data) = plugin.gen_data(password, nonce) {
        data.serialize(&mut out);
    }
    Ok(out)
}

fn dial(dsn: &Dsn, opts: &Options) -> Result<TcpStream, Error> {
    let addr = &dsn.addr;
    let is_ip = dsn.host.parse::<std::net::IpAddr>().is_ok();
    let addrs: Vec<_> = match addr.to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => {
            let hint = if is_ip {
                String::new()
            } else {
                " (resolving a host name needs the dns grant; or write an IP address in the dsn)"
                    .into()
            };
            return Err(broken(format!("cannot resolve {addr}: {e}{hint}")));
        }
    };
    let mut last = None;
    for a in addrs {
        #[cfg(target_arch = "wasm32")]
        let r = {
            let _ = opts;
            TcpStream::connect(a)
        };
        #[cfg(not(target_arch = "wasm32"))]
        let r = TcpStream::connect_timeout(&a, opts.connect_timeout);
        match r {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) if e.kind() == std::io::ErrorKind::PermissionDenied => broken(format!(
            "denied: tcp_connect to {addr} is not granted (add it under grants.tcp_connect)"
        )),
        Some(e) if e.kind() == std::io::ErrorKind::TimedOut => broken(format!(
            "connect to {addr}: no answer within {:?}",
            opts.connect_timeout
        )),
        Some(e) => broken(format!("connect to {addr}: {e}")),
        None => broken(format!("{addr} resolved to no address")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_are_cut_and_flattened() {
        let long = "é".repeat(10_000);
        let short = shorten(&long);
        assert_eq!(short.chars().count(), MAX_SERVER_MESSAGE + 1);
        assert!(short.ends_with('…'));
        assert_eq!(
            shorten("Access denied\nfor\x1b[2J"),
            "Access denied for [2J"
        );
    }

    /// Random and truncated inputs to every packet parser used on server
    /// data: errors, never panics (a panic would trap the plugin).
    #[test]
    fn parsers_survive_hostile_bytes() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let seeds: [&[u8]; 5] = [
            b"\x0a8.0.36\0\x07\0\0\0abcdefgh\0\xff\xf7\x2d\x02\0\xff\x81\x15\0\0\0\0\0\0\0\0\0\0ijklmnopqrst\0caching_sha2_password\0",
            b"\x03def\0\0\0\x05Value\x05Value\x0c\x21\0\0\x04\0\0\xfd\0\0\0\0\0",
            b"\xff\x15\x04#28000Access denied",
            b"\xfe\0\0\x02\0\0\0",
            b"\xfemysql_native_password\0abcdefghijklmnopqrst\0",
        ];
        let caps = wanted_capabilities() | CapabilityFlags::CLIENT_SESSION_TRACK;
        for round in 0..20_000 {
            let seed = seeds[round % seeds.len()];
            let mut data = seed.to_vec();
            match next() % 3 {
                0 => data.truncate((next() as usize) % (seed.len() + 1)),
                1 => {
                    for _ in 0..1 + next() % 4 {
                        let i = (next() as usize) % data.len();
                        data[i] = next() as u8;
                    }
                }
                _ => data = (0..next() % 64).map(|_| next() as u8).collect(),
            }
            if !sane_auth_data_len(&data) {
                continue;
            }
            let _ = ParseBuf(&data).parse::<HandshakePacket<'_>>(());
            let _ = ParseBuf(&data).parse::<Column>(());
            let _ = ParseBuf(&data)
                .parse::<AuthSwitchRequest<'_>>(())
                .map(|r| r.auth_plugin().into_owned());
            let _ = ParseBuf(&data).parse::<OkPacketDeserializer<'_, CommonOkPacket>>(caps);
            let _ = ParseBuf(&data).parse::<OkPacketDeserializer<'_, ResultSetTerminator>>(caps);
            let _ = ParseBuf(&data).parse::<OkPacketDeserializer<'_, OldEofPacket>>(caps);
            let _ = ParseBuf(&data).parse::<ErrPacket<'_>>(caps);
            let _ = ParseBuf(&data)
                .parse::<HandshakePacket<'_>>(())
                .map(|h| (h.nonce(), h.auth_plugin().map(AuthPlugin::into_owned)));
            let _ = crate::rsa_key::parse_pem(&data);
        }
    }
}
