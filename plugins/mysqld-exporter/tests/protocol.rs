//! The plugin against fake MySQL servers on loopback: logins with each
//! authentication path, result sets with and without EOF packets, keeping
//! and re-opening the connection, and hostile servers (garbage greeting,
//! truncated packets, a claimed 16 MiB packet, endless rows, ERR on login,
//! silence). Each failure is a clear error, `mysql_up 0`, and no panic.

use expect_test::expect;
use mysql_common::io::ParseBuf;
use mysql_common::packets::HandshakeResponse;
use mysql_common::scramble::{scramble_native, scramble_sha256};
use mysqld_exporter::MysqldExporter;
use mysqld_exporter::dsn;
use mysqld_exporter::wire::{Conn, Options};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;
use wasmetheus_sdk::{Exporter, Registry, Value};

const NONCE: [u8; 20] = *b"abcdefghijklmnopqrst";
const PASSWORD: &str = "s3cret";
const PRIVATE_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIICdwIBADANBgkqhkiG9w0BAQEFAASCAmEwggJdAgEAAoGBAKmHyENoRwDSux3N
H4DTBzHLHX8zygJPAkxI04ayRh6ju7TYGh4/OWViAg9FsL7UunbC8B7KOiJZi58A
xjyOXioqJ9nFUfowrSQDR4rPIYSspUqk+Ot36+pP4b9o92U2fvkQOhnHQZ+QN9zd
V265OR0hwaqmGC8VEHAibRa48f7pAgMBAAECgYAvgE85q+8xKNqrF/16wCZk6k+i
g6VXjkHLlCBIvoztKt1+Z4qx7O8tHBANrW4/miWA/0/+oJU3aLW5YKMq9o0leGEP
0HM+SrQZLT5qlkrpeCukXTGW6unDo/i5Vqg0chZC9S+8WTOOMUDe3rmME5tps1Pe
00vPNyqh1CKrLMXgAQJBAN2NzjLYuXMN8chRRfVS/b2sTbggksKvEYwdS4uBxPLM
a/5C+eZsOXW+j424rVIfqMNsrEmf8+ihnDLrq+5o5AECQQDD41vPU11ZOgqa4dyP
yV9IrpAlLoA1wD9jf8nZLAeXdaRRUV8hOpBR1T3etJ4r5hdilwtWiS0mMH9Uldm2
0nrpAkAcEa4xFPIR2I9sUJeraBNLp3vFOyM81Q9FECUVDKDWHf4EnZmpjsaM21K2
otIamHY6JBeD0GcHbwoqDV+f+dwBAkEAvlBOCoe70cyKMR/u4eOLJ1oxwW4EMjSt
YUXuHYihd41cL4UXH3l+bYL3sT9ZzNynK6oD4fc0Xj4P92X/N5gWwQJBAIUriEoM
5sERTbxwsoJQpKveIDcHQYpvxbrY/f1M/hD6SF3EzkUG8iOyew6IV+ILYmgf8H9G
+lt5oGmGXWieFCw=
-----END PRIVATE KEY-----
";
const PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCph8hDaEcA0rsdzR+A0wcxyx1/
M8oCTwJMSNOGskYeo7u02BoePzllYgIPRbC+1Lp2wvAeyjoiWYufAMY8jl4qKifZ
xVH6MK0kA0eKzyGErKVKpPjrd+vqT+G/aPdlNn75EDoZx0GfkDfc3VduuTkdIcGq
phgvFRBwIm0WuPH+6QIDAQAB
-----END PUBLIC KEY-----
";

// ---- the fake server's side of the protocol ----

fn write_packet(s: &mut TcpStream, seq: u8, payload: &[u8]) {
    let mut out = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    out.push(seq);
    out.extend_from_slice(payload);
    let _ = s.write_all(&out);
}

fn read_packet(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut h = [0u8; 4];
    s.read_exact(&mut h).ok()?;
    let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
    let mut p = vec![0; len];
    s.read_exact(&mut p).ok()?;
    Some((h[3], p))
}

fn lenenc_str(out: &mut Vec<u8>, s: &[u8]) {
    assert!(s.len() < 251);
    out.push(s.len() as u8);
    out.extend_from_slice(s);
}

fn greeting(plugin: &str, deprecate_eof: bool) -> Vec<u8> {
    // PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH | LENENC_CLIENT_DATA
    // | LONG_PASSWORD | LONG_FLAG | TRANSACTIONS | MULTI_RESULTS
    let mut caps: u32 = 0x200 | 0x8000 | 0x8_0000 | 0x20_0000 | 0x1 | 0x4 | 0x2000 | 0x2_0000;
    if deprecate_eof {
        caps |= 0x100_0000;
    }
    let mut p = vec![10];
    p.extend_from_slice(b"8.0.36-fake\0");
    p.extend_from_slice(&7u32.to_le_bytes());
    p.extend_from_slice(&NONCE[..8]);
    p.push(0);
    p.extend_from_slice(&(caps as u16).to_le_bytes());
    p.push(45);
    p.extend_from_slice(&2u16.to_le_bytes());
    p.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
    p.push(21);
    p.extend_from_slice(&[0; 10]);
    p.extend_from_slice(&NONCE[8..]);
    p.push(0);
    p.extend_from_slice(plugin.as_bytes());
    p.push(0);
    p
}

const OK: &[u8] = &[0, 0, 0, 2, 0, 0, 0];

fn err_packet(code: u16, msg: &str) -> Vec<u8> {
    let mut p = vec![0xFF];
    p.extend_from_slice(&code.to_le_bytes());
    if code != 1040 {
        p.extend_from_slice(b"#28000");
    }
    p.extend_from_slice(msg.as_bytes());
    p
}

fn column(name: &str) -> Vec<u8> {
    let mut p = Vec::new();
    for part in ["def", "", "", "", name, name] {
        lenenc_str(&mut p, part.as_bytes());
    }
    p.push(0x0c);
    p.extend_from_slice(&33u16.to_le_bytes());
    p.extend_from_slice(&1024u32.to_le_bytes());
    p.push(0xFD); // VAR_STRING
    p.extend_from_slice(&0u16.to_le_bytes());
    p.push(0);
    p.extend_from_slice(&[0, 0]);
    p
}

/// Sends a text result set starting at sequence id 1.
fn send_result(s: &mut TcpStream, deprecate_eof: bool, cols: &[&str], rows: &[Vec<Option<&str>>]) {
    let mut seq = 1;
    let mut next = || {
        seq += 1;
        seq - 1
    };
    write_packet(s, next(), &[cols.len() as u8]);
    for c in cols {
        write_packet(s, next(), &column(c));
    }
    let eof = [0xFE, 0, 0, 2, 0];
    if !deprecate_eof {
        write_packet(s, next(), &eof);
    }
    for row in rows {
        let mut p = Vec::new();
        for v in row {
            match v {
                Some(v) => lenenc_str(&mut p, v.as_bytes()),
                None => p.push(0xFB),
            }
        }
        write_packet(s, next(), &p);
    }
    if deprecate_eof {
        write_packet(s, next(), &[0xFE, 0, 0, 2, 0, 0, 0]);
    } else {
        write_packet(s, next(), &eof);
    }
}

/// Answers queries like a small MySQL 8 until the client goes away.
fn serve_queries(s: &mut TcpStream, deprecate_eof: bool) {
    while let Some((_, cmd)) = read_packet(s) {
        match cmd.first() {
            Some(0x0E) => write_packet(s, 1, OK),
            Some(0x03) => {
                let sql = String::from_utf8_lossy(&cmd[1..]).into_owned();
                if sql.starts_with("SET ") {
                    write_packet(s, 1, OK);
                } else if sql == "SELECT @@version" {
                    send_result(s, deprecate_eof, &["@@version"], &[vec![Some("8.0.36")]]);
                } else if sql == "SHOW GLOBAL STATUS" {
                    send_result(
                        s,
                        deprecate_eof,
                        &["Variable_name", "Value"],
                        &[
                            vec![Some("Com_select"), Some("42")],
                            vec![Some("Uptime"), Some("3600")],
                            vec![Some("Ssl_cipher"), None],
                        ],
                    );
                } else if sql == "SHOW GLOBAL VARIABLES" {
                    send_result(
                        s,
                        deprecate_eof,
                        &["Variable_name", "Value"],
                        &[
                            vec![Some("version"), Some("8.0.36")],
                            vec![Some("max_connections"), Some("151")],
                            vec![Some("transaction_isolation"), Some("REPEATABLE-READ")],
                        ],
                    );
                } else if sql == "SHOW SLAVE STATUS" {
                    send_result(s, deprecate_eof, &["Master_Host", "Slave_IO_Running"], &[]);
                } else {
                    write_packet(
                        s,
                        1,
                        &err_packet(1064, "You have an error in your SQL syntax"),
                    );
                }
            }
            _ => return,
        }
    }
}

/// Reads the login and checks the native scramble of `PASSWORD`.
fn read_login(s: &mut TcpStream) -> (String, Vec<u8>, Vec<u8>) {
    let (seq, p) = read_packet(s).expect("login packet");
    assert_eq!(seq, 1);
    let r: HandshakeResponse<'_> = ParseBuf(&p).parse(()).expect("valid handshake response");
    let plugin = r
        .auth_plugin()
        .map(|p| p.as_bytes().to_vec())
        .unwrap_or_default();
    (
        String::from_utf8_lossy(r.user()).into_owned(),
        r.scramble_buf().to_vec(),
        plugin,
    )
}

/// A server whose connection handler is `f`; returns its port and the
/// number of connections accepted so far.
fn server<F>(f: F) -> (u16, Arc<AtomicUsize>)
where
    F: Fn(TcpStream, usize) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let f = Arc::new(f);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let n = c.fetch_add(1, Ordering::SeqCst);
            let f = f.clone();
            thread::spawn(move || f(stream, n));
        }
    });
    (port, count)
}

fn native_server(deprecate_eof: bool) -> (u16, Arc<AtomicUsize>) {
    server(move |mut s, _| {
        write_packet(&mut s, 0, &greeting("mysql_native_password", deprecate_eof));
        let (user, scramble, _) = read_login(&mut s);
        if user == "exporter" && scramble == scramble_native(&NONCE, PASSWORD.as_bytes()).unwrap() {
            write_packet(&mut s, 2, OK);
            serve_queries(&mut s, deprecate_eof);
        } else {
            let msg = format!("Access denied for user '{user}'@'localhost' (using password: YES)");
            write_packet(&mut s, 2, &err_packet(1045, &msg));
        }
    })
}

fn exporter(port: u16, password: &str, extra: &str) -> MysqldExporter {
    MysqldExporter::open(&format!(
        r#"{{"dsn": "exporter:{password}@tcp(127.0.0.1:{port})/", "timeout_seconds": 2 {extra}}}"#
    ))
    .unwrap()
}

fn value(out: &Registry, name: &str, label: Option<(&str, &str)>) -> Option<f64> {
    out.get(name)?
        .metrics
        .iter()
        .find(|m| label.is_none_or(|(k, v)| m.label(k) == Some(v)))?
        .number()
}

fn connect(port: u16, password: &str, max: u64) -> Result<Conn, String> {
    let d = dsn::parse(&format!("exporter@tcp(127.0.0.1:{port})/")).unwrap();
    let opts = Options {
        max_response_bytes: max,
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_millis(500),
        write_timeout: Duration::from_millis(500),
    };
    Conn::connect(&d, Some(password), &opts).map_err(|e| e.to_string())
}

// ---- the tests ----

#[test]
fn collects_over_a_kept_connection_with_and_without_eof_packets() {
    for deprecate_eof in [true, false] {
        let (port, accepted) = native_server(deprecate_eof);
        let mut e = exporter(port, PASSWORD, "");
        for round in 1..=3 {
            let mut out = Registry::new();
            e.collect(&mut out).unwrap();
            assert_eq!(value(&out, "mysql_up", None), Some(1.0));
            assert_eq!(
                value(&out, "mysql_exporter_scrapes_total", None),
                Some(round as f64)
            );
            assert_eq!(
                value(
                    &out,
                    "mysql_global_status_commands_total",
                    Some(("command", "select"))
                ),
                Some(42.0)
            );
            assert_eq!(
                value(&out, "mysql_global_status_uptime", None),
                Some(3600.0)
            );
            assert_eq!(
                value(&out, "mysql_global_variables_max_connections", None),
                Some(151.0)
            );
            assert_eq!(
                value(
                    &out,
                    "mysql_transaction_isolation",
                    Some(("level", "REPEATABLE-READ"))
                ),
                Some(1.0)
            );
            // innodb_cmp/cmpmem get ERR 1064 here: counted, others still run.
            assert_eq!(
                value(&out, "mysql_exporter_last_scrape_error", None),
                Some(1.0)
            );
            let errors = out.get("mysql_exporter_scrape_errors_total").unwrap();
            let failed: Vec<_> = errors
                .metrics
                .iter()
                .map(|m| m.label("collector").unwrap())
                .collect();
            assert_eq!(
                failed,
                [
                    "collect.info_schema.innodb_cmp",
                    "collect.info_schema.innodb_cmpmem"
                ]
            );
            assert!(
                errors
                    .metrics
                    .iter()
                    .all(|m| m.number() == Some(round as f64))
            );
            let durations = out
                .get("mysql_exporter_collector_duration_seconds")
                .unwrap();
            assert_eq!(durations.metrics.len(), 7);
            assert!(
                out.get("mysql_info_schema_query_response_time_seconds")
                    .is_none()
            );
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "one connection for all collects"
        );
    }
}

#[test]
fn wrong_password_is_up_0_with_the_servers_message_and_no_password() {
    let (port, _) = native_server(true);
    let mut e = exporter(port, "wrong-pw", "");
    for round in 1..=2 {
        let mut out = Registry::new();
        e.collect(&mut out).unwrap();
        assert_eq!(value(&out, "mysql_up", None), Some(0.0));
        assert_eq!(
            value(&out, "mysql_exporter_last_scrape_error", None),
            Some(1.0)
        );
        assert_eq!(
            value(&out, "mysql_exporter_scrapes_total", None),
            Some(round as f64)
        );
        assert!(
            out.get("mysql_exporter_collector_duration_seconds")
                .is_none()
        );
        assert!(out.get("mysql_global_status_uptime").is_none());
    }
    let err = connect(port, "wrong-pw", 1 << 20).err().unwrap();
    assert!(
        err.contains("Access denied for user 'exporter'@'localhost' (using password: YES)"),
        "{err}"
    );
    assert!(!err.contains("wrong-pw"), "{err}");
}

#[test]
fn reconnects_after_the_server_went_away() {
    // The first connection dies after the first collect; later ones work.
    let (port, accepted) = server(|mut s, n| {
        write_packet(&mut s, 0, &greeting("mysql_native_password", true));
        read_login(&mut s);
        write_packet(&mut s, 2, OK);
        if n == 0 {
            // Serve one collect: SET, version and the six scrapers' first queries.
            let mut served = 0;
            while served < 12 {
                let Some((_, cmd)) = read_packet(&mut s) else {
                    return;
                };
                served += 1;
                if cmd.first() == Some(&0x03) {
                    write_packet(&mut s, 1, &err_packet(1064, "no"));
                }
                if served == 11 {
                    break;
                }
            }
            return; // drops the connection: a server restart
        }
        serve_queries(&mut s, true);
    });
    let mut e = exporter(port, PASSWORD, "");
    let mut out = Registry::new();
    e.collect(&mut out).unwrap();
    let mut out = Registry::new();
    e.collect(&mut out).unwrap();
    let mut out = Registry::new();
    e.collect(&mut out).unwrap();
    assert_eq!(value(&out, "mysql_up", None), Some(1.0));
    assert_eq!(
        value(&out, "mysql_global_status_uptime", None),
        Some(3600.0)
    );
    assert!(accepted.load(Ordering::SeqCst) >= 2);
}

#[test]
fn caching_sha2_fast_and_full_authentication() {
    for full in [false, true] {
        let (port, _) = server(move |mut s, _| {
            write_packet(&mut s, 0, &greeting("caching_sha2_password", true));
            let (_, scramble, plugin) = read_login(&mut s);
            assert_eq!(plugin, b"caching_sha2_password");
            assert_eq!(
                scramble,
                scramble_sha256(&NONCE, PASSWORD.as_bytes()).unwrap()
            );
            if !full {
                write_packet(&mut s, 2, &[0x01, 0x03]);
                write_packet(&mut s, 3, OK);
            } else {
                write_packet(&mut s, 2, &[0x01, 0x04]);
                let (seq, req) = read_packet(&mut s).unwrap();
                assert_eq!((seq, req.as_slice()), (3, &[0x02][..]));
                let mut key = vec![0x01];
                key.extend_from_slice(PUBLIC_KEY.as_bytes());
                write_packet(&mut s, 4, &key);
                let (seq, enc) = read_packet(&mut s).unwrap();
                assert_eq!(seq, 5);
                use rsa::pkcs8::DecodePrivateKey;
                let private = rsa::RsaPrivateKey::from_pkcs8_pem(PRIVATE_KEY).unwrap();
                let plain = private
                    .decrypt(rsa::Oaep::new::<sha1::Sha1>(), &enc)
                    .unwrap();
                let clear: Vec<u8> = plain
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ NONCE[i % 20])
                    .collect();
                if clear == b"s3cret\0" {
                    write_packet(&mut s, 6, OK);
                } else {
                    write_packet(&mut s, 6, &err_packet(1045, "Access denied"));
                    return;
                }
            }
            serve_queries(&mut s, true);
        });
        let mut conn = connect(port, PASSWORD, 1 << 20).unwrap();
        conn.ping().unwrap();
        let rs = conn.query("SELECT @@version").unwrap();
        assert_eq!(rs.columns, ["@@version"]);
        assert_eq!(rs.rows, [vec![Some("8.0.36".to_owned())]]);
    }
}

#[test]
fn auth_switch_to_native_and_to_an_unsupported_plugin() {
    for target in ["mysql_native_password", "auth_gssapi_client"] {
        let (port, _) = server(move |mut s, _| {
            write_packet(&mut s, 0, &greeting("caching_sha2_password", true));
            read_login(&mut s);
            let new_nonce = b"ABCDEFGHIJKLMNOPQRST";
            let mut switch = vec![0xFE];
            switch.extend_from_slice(target.as_bytes());
            switch.push(0);
            switch.extend_from_slice(new_nonce);
            switch.push(0);
            write_packet(&mut s, 2, &switch);
            let Some((seq, data)) = read_packet(&mut s) else {
                return;
            };
            assert_eq!(seq, 3);
            if data == scramble_native(new_nonce, PASSWORD.as_bytes()).unwrap() {
                write_packet(&mut s, 4, OK);
                serve_queries(&mut s, true);
            } else {
                write_packet(&mut s, 4, &err_packet(1045, "Access denied"));
            }
        });
        let r = connect(port, PASSWORD, 1 << 20);
        if target == "mysql_native_password" {
            r.unwrap().ping().unwrap();
        } else {
            let err = r.err().unwrap();
            assert!(
                err.contains("auth_gssapi_client") && err.contains("not supported"),
                "{err}"
            );
        }
    }
}

/// Each hostile server makes the plugin report `mysql_up 0`, and the wire
/// layer a clear error.
#[test]
fn hostile_servers_give_clear_errors_and_up_0() {
    type Handler = fn(TcpStream);
    let cases: [(&str, Handler, &str); 6] = [
        (
            "garbage greeting",
            |mut s| {
                let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            },
            "is the dsn's address a MySQL server",
        ),
        (
            "truncated packet",
            |mut s| {
                let _ = s.write_all(&[100, 0, 0, 0, 10, b'8']);
            },
            "closed the connection in the middle of a packet",
        ),
        (
            "16 MiB claimed, then close",
            |mut s| {
                let _ = s.write_all(&[0xFF, 0xFF, 0xFF, 0]);
                let _ = s.write_all(&[0; 1000]);
            },
            "max_response_bytes",
        ),
        (
            "ERR instead of a greeting",
            |mut s| write_packet(&mut s, 0, &err_packet(1040, "Too many connections")),
            "refused the connection: Error 1040: Too many connections",
        ),
        (
            "packet out of order",
            |mut s| {
                write_packet(&mut s, 0, &greeting("mysql_native_password", true));
                read_login(&mut s);
                write_packet(&mut s, 9, OK);
            },
            "out of order",
        ),
        (
            "silence",
            |s| {
                thread::sleep(Duration::from_secs(3));
                drop(s);
            },
            "no answer from the server",
        ),
    ];
    for (name, handler, want) in cases {
        let (port, _) = server(move |s, _| handler(s));
        let err = connect(port, PASSWORD, 1 << 20).err().unwrap();
        assert!(err.contains(want), "{name}: {err}");
        let mut e = exporter(port, PASSWORD, "");
        let mut out = Registry::new();
        e.collect(&mut out).unwrap();
        assert_eq!(value(&out, "mysql_up", None), Some(0.0), "{name}");
        assert_eq!(
            value(&out, "mysql_exporter_last_scrape_error", None),
            Some(1.0),
            "{name}"
        );
    }
    // Nobody listening.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = connect(port, PASSWORD, 1 << 20).err().unwrap();
    assert!(
        err.contains(&format!("connect to 127.0.0.1:{port}")),
        "{err}"
    );
}

#[test]
fn endless_rows_hit_the_cap_and_drop_the_connection() {
    let (port, accepted) = server(|mut s, n| {
        write_packet(&mut s, 0, &greeting("mysql_native_password", true));
        read_login(&mut s);
        write_packet(&mut s, 2, OK);
        if n > 0 {
            serve_queries(&mut s, true);
            return;
        }
        while let Some((_, cmd)) = read_packet(&mut s) {
            let sql = String::from_utf8_lossy(&cmd[1..]).into_owned();
            if sql != "SHOW GLOBAL STATUS" {
                write_packet(&mut s, 1, OK);
                continue;
            }
            write_packet(&mut s, 1, &[2]);
            write_packet(&mut s, 2, &column("Variable_name"));
            write_packet(&mut s, 3, &column("Value"));
            let mut seq: u8 = 4;
            let row = [3, b'C', b'o', b'm', 1, b'1'];
            loop {
                let mut p = (row.len() as u32).to_le_bytes()[..3].to_vec();
                p.push(seq);
                p.extend_from_slice(&row);
                if s.write_all(&p).is_err() {
                    return;
                }
                seq = seq.wrapping_add(1);
            }
        }
    });
    let mut e = exporter(port, PASSWORD, r#", "max_response_bytes": 65536"#);
    let mut out = Registry::new();
    e.collect(&mut out).unwrap();
    assert_eq!(value(&out, "mysql_up", None), Some(1.0));
    assert_eq!(
        value(&out, "mysql_exporter_last_scrape_error", None),
        Some(1.0)
    );
    let errors = out.get("mysql_exporter_scrape_errors_total").unwrap();
    assert_eq!(
        errors.metrics.len(),
        6,
        "the cap fails global_status, the lost connection the rest"
    );
    // The next collect starts over on a new connection.
    let mut out = Registry::new();
    e.collect(&mut out).unwrap();
    assert_eq!(
        value(&out, "mysql_global_status_uptime", None),
        Some(3600.0)
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 2);

    // The same cap on the wire layer, with its message.
    let (port, _) = server(|mut s, _| {
        write_packet(&mut s, 0, &greeting("mysql_native_password", true));
        read_login(&mut s);
        write_packet(&mut s, 2, OK);
        read_packet(&mut s);
        write_packet(&mut s, 1, &[1]);
        write_packet(&mut s, 2, &column("x"));
        for i in 0..100_000u32 {
            write_packet(&mut s, (3 + i) as u8, &[1, b'x']);
        }
    });
    let mut conn = connect(port, PASSWORD, 65536).unwrap();
    let err = conn.query("SELECT x").unwrap_err().to_string();
    assert!(
        err.contains("exceed max_response_bytes (65536 bytes)"),
        "{err}"
    );
}

/// One whole collect from a fake MySQL 8, rendered with its families,
/// types, HELP and labels (durations vary, so they are masked).
#[test]
fn a_whole_collect_snapshot() {
    let (port, _) = native_server(true);
    let mut e = exporter(
        port,
        PASSWORD,
        r#", "collectors": {"info_schema.innodb_cmp": false}"#,
    );
    let mut out = Registry::new();
    e.collect(&mut out).unwrap();
    let mut text = String::new();
    for f in out.families() {
        text += &format!(
            "# HELP {} {}\n# TYPE {} {:?}\n",
            f.name, f.help, f.name, f.kind
        );
        for m in &f.metrics {
            let labels: Vec<String> = m.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            let value = match (&m.value, f.name.ends_with("_duration_seconds")) {
                (_, true) => "<seconds>".to_owned(),
                (Value::Number(v), _) => v.to_string(),
                _ => "?".to_owned(),
            };
            text += &format!("{}{{{}}} {value}\n", f.name, labels.join(","));
        }
    }
    expect![[r##"
        # HELP mysql_exporter_collector_duration_seconds Collector time duration.
        # TYPE mysql_exporter_collector_duration_seconds Gauge
        mysql_exporter_collector_duration_seconds{collector="connection"} <seconds>
        mysql_exporter_collector_duration_seconds{collector="collect.global_status"} <seconds>
        mysql_exporter_collector_duration_seconds{collector="collect.global_variables"} <seconds>
        mysql_exporter_collector_duration_seconds{collector="collect.slave_status"} <seconds>
        mysql_exporter_collector_duration_seconds{collector="collect.info_schema.innodb_cmpmem"} <seconds>
        mysql_exporter_collector_duration_seconds{collector="collect.info_schema.query_response_time"} <seconds>
        # HELP mysql_global_status_commands_total Total number of executed MySQL commands.
        # TYPE mysql_global_status_commands_total Counter
        mysql_global_status_commands_total{command="select"} 42
        # HELP mysql_global_status_uptime Generic metric from SHOW GLOBAL STATUS.
        # TYPE mysql_global_status_uptime Untyped
        mysql_global_status_uptime{} 3600
        # HELP mysql_global_variables_max_connections Generic gauge metric from SHOW GLOBAL VARIABLES.
        # TYPE mysql_global_variables_max_connections Gauge
        mysql_global_variables_max_connections{} 151
        # HELP mysql_version_info MySQL version and distribution.
        # TYPE mysql_version_info Gauge
        mysql_version_info{innodb_version="",version="8.0.36",version_comment=""} 1
        # HELP mysql_transaction_isolation MySQL transaction isolation.
        # TYPE mysql_transaction_isolation Gauge
        mysql_transaction_isolation{level="REPEATABLE-READ"} 1
        # HELP mysql_exporter_scrapes_total Total number of times MySQL was scraped for metrics.
        # TYPE mysql_exporter_scrapes_total Counter
        mysql_exporter_scrapes_total{} 1
        # HELP mysql_exporter_last_scrape_error Whether the last scrape of metrics from MySQL resulted in an error (1 for error, 0 for success).
        # TYPE mysql_exporter_last_scrape_error Gauge
        mysql_exporter_last_scrape_error{} 1
        # HELP mysql_exporter_scrape_errors_total Total number of times an error occurred scraping a MySQL.
        # TYPE mysql_exporter_scrape_errors_total Counter
        mysql_exporter_scrape_errors_total{collector="collect.info_schema.innodb_cmpmem"} 1
        # HELP mysql_up Whether the MySQL server is up.
        # TYPE mysql_up Gauge
        mysql_up{} 1
    "##]].assert_eq(&text);
}
