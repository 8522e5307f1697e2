//! mysqld_exporter's data source name, `user[:password]@tcp(host:port)/[dbname][?params]`,
//! split the way go-sql-driver/mysql's `ParseDSN` splits it: the last `/`
//! ends the address, the last `@` before it ends the credentials and the
//! first `:` splits user from password, so a password may hold `@`, `:` and
//! `/`. Errors never repeat the password.

use std::time::Duration;

/// The longest DSN accepted; real ones are a few hundred bytes.
const MAX_DSN_LEN: usize = 16 * 1024;

/// A parsed DSN.
#[derive(Clone, PartialEq)]
pub struct Dsn {
    pub user: String,
    pub password: Option<String>,
    /// `host:port`, IPv6 hosts in brackets.
    pub addr: String,
    pub host: String,
    pub db_name: String,
    /// Dial timeout (`timeout=`), if given.
    pub timeout: Option<Duration>,
    /// I/O timeouts (`readTimeout=`, `writeTimeout=`), if given.
    pub read_timeout: Option<Duration>,
    pub write_timeout: Option<Duration>,
    /// `allowNativePasswords` (default true).
    pub allow_native_passwords: bool,
    /// `allowCleartextPasswords` (default false).
    pub allow_cleartext_passwords: bool,
    /// Unknown parameters: system variables set on each new connection,
    /// as go-sql-driver/mysql does.
    pub session_vars: Vec<(String, String)>,
}

impl std::fmt::Debug for Dsn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dsn")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<secret>"))
            .field("addr", &self.addr)
            .field("db_name", &self.db_name)
            .field("session_vars", &self.session_vars)
            .finish_non_exhaustive()
    }
}

const EXAMPLE: &str = "write it as user:password@tcp(127.0.0.1:3306)/";

/// Parses `dsn`. The error says what is wrong and how to write it instead.
pub fn parse(dsn: &str) -> Result<Dsn, String> {
    if dsn.is_empty() {
        return Err(format!("dsn is empty; {EXAMPLE}"));
    }
    if dsn.len() > MAX_DSN_LEN {
        return Err(format!(
            "dsn is {} bytes long, more than the {MAX_DSN_LEN} accepted",
            dsn.len()
        ));
    }
    let Some(slash) = dsn.rfind('/') else {
        return Err(format!(
            "dsn has no '/' before the database name; {EXAMPLE}"
        ));
    };
    let mut user = "";
    let mut password = None;
    let mut net = "";
    let mut addr = "";
    if slash > 0 {
        let left = &dsn[..slash];
        let after_at = match left.rfind('@') {
            Some(at) => {
                let creds = &left[..at];
                match creds.find(':') {
                    Some(colon) => {
                        user = &creds[..colon];
                        password = Some(&creds[colon + 1..]);
                    }
                    None => user = creds,
                }
                at + 1
            }
            None => 0,
        };
        let proto = &left[after_at..];
        match proto.find('(') {
            Some(open) => {
                if !proto.ends_with(')') {
                    return Err(format!(
                        "dsn's address is not closed by ')' right before the '/'; {EXAMPLE}"
                    ));
                }
                net = &proto[..open];
                addr = &proto[open + 1..proto.len() - 1];
            }
            None => net = proto,
        }
    }
    let rest = &dsn[slash + 1..];
    let (db_name, params) = match rest.find('?') {
        Some(q) => (&rest[..q], Some(&rest[q + 1..])),
        None => (rest, None),
    };
    check_text("user", user)?;
    check_text("database name", db_name)?;
    if password.is_some_and(|p| p.contains('\0')) {
        return Err("dsn's password contains a NUL byte".into());
    }
    let net = if net.is_empty() { "tcp" } else { net };
    match net {
        "tcp" | "tcp4" | "tcp6" => {}
        "unix" => {
            return Err(format!(
                "dsn uses a unix socket, which a plugin cannot reach; connect over TCP instead: {EXAMPLE}"
            ));
        }
        // Not repeated: with a password holding '/' and no '/' after the
        // address, the "network" is a piece of the credentials.
        _ => {
            return Err(format!(
                "dsn's network (the word before '(' ) is not supported, only tcp; {EXAMPLE} \
                 (a password holding '/' needs the dsn to end with '/' or '/dbname')"
            ));
        }
    }
    check_text("address", addr)?;
    let (host, addr) = normalize_addr(addr)?;
    let mut out = Dsn {
        user: user.to_owned(),
        password: password.map(str::to_owned),
        addr,
        host,
        db_name: db_name.to_owned(),
        timeout: None,
        read_timeout: None,
        write_timeout: None,
        allow_native_passwords: true,
        allow_cleartext_passwords: false,
        session_vars: Vec::new(),
    };
    if let Some(params) = params {
        parse_params(&mut out, params)?;
    }
    Ok(out)
}

fn check_text(what: &str, s: &str) -> Result<(), String> {
    if let Some(pos) = s.find(|c: char| c.is_control()) {
        return Err(format!(
            "dsn's {what} contains a control character at byte {pos}; remove it"
        ));
    }
    Ok(())
}

/// Adds the default port like go-sql-driver (`net.JoinHostPort(addr, "3306")`).
fn normalize_addr(addr: &str) -> Result<(String, String), String> {
    if addr.is_empty() {
        return Ok(("127.0.0.1".into(), "127.0.0.1:3306".into()));
    }
    // [v6]:port or [v6]
    if let Some(rest) = addr.strip_prefix('[') {
        let Some(close) = rest.find(']') else {
            return Err("dsn's IPv6 address lacks its ']'; write tcp([::1]:3306)".into());
        };
        let host = &rest[..close];
        let after = &rest[close + 1..];
        let port = match after {
            "" => "3306",
            p => p
                .strip_prefix(':')
                .ok_or_else(|| "dsn's address has text after ']' that is not :PORT".to_string())?,
        };
        check_port(port)?;
        return Ok((host.to_owned(), format!("[{host}]:{port}")));
    }
    match addr.matches(':').count() {
        0 => Ok((addr.to_owned(), format!("{addr}:3306"))),
        1 => {
            let (host, port) = addr.split_once(':').unwrap_or((addr, ""));
            check_port(port)?;
            let host = if host.is_empty() { "127.0.0.1" } else { host };
            Ok((host.to_owned(), format!("{host}:{port}")))
        }
        // A bare IPv6 address: go's JoinHostPort brackets it.
        _ => Ok((addr.to_owned(), format!("[{addr}]:3306"))),
    }
}

fn check_port(port: &str) -> Result<(), String> {
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(format!(
            "dsn's port {:?} is not a number from 1 to 65535",
            port.chars().take(20).collect::<String>()
        )),
    }
}

fn parse_params(out: &mut Dsn, params: &str) -> Result<(), String> {
    for pair in params.split('&') {
        let Some((key, value)) = pair.split_once('=') else {
            let shown: String = pair.chars().take(40).collect();
            return Err(format!("dsn parameter {shown:?} has no '=value'"));
        };
        let value = unescape(value).map_err(|e| format!("dsn parameter {key:?}: {e}"))?;
        match key {
            "timeout" => out.timeout = Some(duration(key, &value)?),
            "readTimeout" => out.read_timeout = Some(duration(key, &value)?),
            "writeTimeout" => out.write_timeout = Some(duration(key, &value)?),
            "allowNativePasswords" => out.allow_native_passwords = boolean(key, &value)?,
            "allowCleartextPasswords" => out.allow_cleartext_passwords = boolean(key, &value)?,
            "tls" => match value.as_str() {
                "false" | "0" | "False" | "FALSE" | "f" | "F" | "preferred" => {}
                _ => {
                    return Err(
                        "dsn asks for tls, which this plugin does not speak yet; drop the tls parameter (or tls=false)".into(),
                    );
                }
            },
            // Client-side settings of go-sql-driver that change nothing here.
            "charset"
            | "collation"
            | "parseTime"
            | "loc"
            | "maxAllowedPacket"
            | "clientFoundRows"
            | "columnsWithAlias"
            | "interpolateParams"
            | "multiStatements"
            | "rejectReadOnly"
            | "allowAllFiles"
            | "allowOldPasswords"
            | "checkConnLiveness"
            | "serverPubKey"
            | "connectionAttributes" => {}
            _ => {
                if key.is_empty()
                    || key.len() > 64
                    || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    let shown: String = key.chars().take(40).collect();
                    return Err(format!(
                        "dsn parameter {shown:?} is neither a known option nor a system variable name"
                    ));
                }
                check_text("parameter value", &value)?;
                out.session_vars.push((key.to_owned(), value));
            }
        }
    }
    Ok(())
}

fn unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3).ok_or("truncated %-escape")?;
                let hex = std::str::from_utf8(hex).map_err(|_| "bad %-escape")?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| "bad %-escape")?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "not UTF-8 after unescaping".into())
}

fn boolean(key: &str, v: &str) -> Result<bool, String> {
    match v {
        "1" | "true" | "TRUE" | "True" | "t" | "T" => Ok(true),
        "0" | "false" | "FALSE" | "False" | "f" | "F" => Ok(false),
        _ => Err(format!("dsn parameter {key} must be true or false")),
    }
}

/// A Go duration such as `5s`, `1m30s`, `500ms`.
fn duration(key: &str, v: &str) -> Result<Duration, String> {
    let err = || format!("dsn parameter {key} must be a duration such as 5s or 500ms");
    let mut rest = v;
    let mut total = 0f64;
    if rest.is_empty() || rest.len() > 64 {
        return Err(err());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        let n: f64 = rest[..num_end].parse().map_err(|_| err())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(err()),
        };
        total += n * scale;
        rest = &rest[unit_end..];
    }
    if !total.is_finite() || total > 1e9 {
        return Err(err());
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usual_form() {
        let d = parse("exporter:s3cret@tcp(127.0.0.1:33306)/").unwrap();
        assert_eq!(d.user, "exporter");
        assert_eq!(d.password.as_deref(), Some("s3cret"));
        assert_eq!(d.addr, "127.0.0.1:33306");
        assert_eq!(d.host, "127.0.0.1");
        assert_eq!(d.db_name, "");
        assert!(d.session_vars.is_empty());
    }

    #[test]
    fn password_with_at_colon_and_slash() {
        let d = parse("u:p@ss:w/rd@x@tcp(db.example:3307)/mysql").unwrap();
        assert_eq!(d.user, "u");
        assert_eq!(d.password.as_deref(), Some("p@ss:w/rd@x"));
        assert_eq!(d.addr, "db.example:3307");
        assert_eq!(d.db_name, "mysql");
    }

    #[test]
    fn defaults_port_and_address() {
        assert_eq!(parse("u@tcp(db)/").unwrap().addr, "db:3306");
        assert_eq!(parse("u@tcp()/").unwrap().addr, "127.0.0.1:3306");
        assert_eq!(parse("u@/").unwrap().addr, "127.0.0.1:3306");
        assert_eq!(parse("/").unwrap().user, "");
        assert_eq!(parse("u@tcp([::1]:3306)/").unwrap().addr, "[::1]:3306");
        assert_eq!(parse("u@tcp([::1])/").unwrap().addr, "[::1]:3306");
        assert_eq!(parse("u@tcp(::1)/").unwrap().addr, "[::1]:3306");
        assert_eq!(parse("u@tcp([::1]:3306)/").unwrap().host, "::1");
        assert_eq!(
            parse("u").unwrap_err(),
            format!("dsn has no '/' before the database name; {EXAMPLE}")
        );
    }

    #[test]
    fn params() {
        let d =
            parse("u:p@tcp(h:1)/db?timeout=1m30s&readTimeout=500ms&sql_mode=%27ANSI%27&tls=false")
                .unwrap();
        assert_eq!(d.timeout, Some(Duration::from_secs(90)));
        assert_eq!(d.read_timeout, Some(Duration::from_millis(500)));
        assert_eq!(
            d.session_vars,
            vec![("sql_mode".to_owned(), "'ANSI'".to_owned())]
        );
        assert!(parse("u@tcp(h)/?tls=true").unwrap_err().contains("tls"));
        assert!(
            parse("u@tcp(h)/?timeout=soon")
                .unwrap_err()
                .contains("duration")
        );
        assert!(
            parse("u@tcp(h)/?a;b=1")
                .unwrap_err()
                .contains("system variable")
        );
        assert!(parse("u@tcp(h)/?x").unwrap_err().contains("no '=value'"));
        assert!(parse("u@tcp(h)/?x=%zz").unwrap_err().contains("escape"));
    }

    #[test]
    fn hostile_and_wrong_forms_say_how_to_fix_without_the_password() {
        let unix = parse("u:hunter2@unix(/run/mysqld/mysqld.sock)/").unwrap_err();
        assert!(
            unix.contains("unix socket") && unix.contains("tcp("),
            "{unix}"
        );
        assert!(!unix.contains("hunter2"));
        let no_tcp = parse("u:hunter2@127.0.0.1:3306/").unwrap_err();
        assert!(
            no_tcp.contains("only tcp") && no_tcp.contains("tcp(127.0.0.1:3306)"),
            "{no_tcp}"
        );
        assert!(!no_tcp.contains("hunter2"));
        let huge = "a".repeat(10 << 20) + "@tcp(h)/";
        assert!(parse(&huge).unwrap_err().contains("bytes long"));
        let ctl = parse("u\n:hunter2@tcp(h)/").unwrap_err();
        assert!(
            ctl.contains("control character") && !ctl.contains("hunter2"),
            "{ctl}"
        );
        assert!(parse("u@tcp(h\r)/").unwrap_err().contains("control"));
        assert!(parse("u:a\0b@tcp(h)/").unwrap_err().contains("NUL"));
        assert!(parse("u@tcp(h:99999)/").unwrap_err().contains("65535"));
        assert!(parse("u@tcp(h:1/").unwrap_err().contains("')'"));
        assert!(parse("u@tcp([::1/").unwrap_err().contains("')'"));
        assert!(parse("u@tcp([::1)/").unwrap_err().contains("']'"));
        assert!(parse("").unwrap_err().contains("empty"));
        // A password holding '/' without a '/' after the address: the
        // text before the last '/' is taken as user:network.
        for dsn in [
            "u:hunter2/x@tcp(h:1)",
            "u:a@hunter2/x@tcp(h:1)",
            "u:hunter2/x?y@tcp(h:1)",
            "u:hunter2/x(y)",
        ] {
            let e = parse(dsn).unwrap_err();
            assert!(!e.contains("hunter2"), "{dsn}: {e}");
            assert!(e.contains("end with '/'"), "{dsn}: {e}");
        }
        let dbg = format!("{:?}", parse("u:hunter2@tcp(h)/").unwrap());
        assert!(!dbg.contains("hunter2"), "{dbg}");
    }
}
