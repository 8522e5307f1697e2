//! SMTP dialogues of the receiver against a scripted server on a loopback
//! socket: what the client sends step by step (greeting, EHLO/HELO, AUTH
//! of each mechanism, MAIL/RCPT/DATA/QUIT), which failures are retryable,
//! credentials kept out of errors, and hostile servers (an endless line, a
//! huge reply, garbage, a closed connection) refused within bounds.

use email_receiver::Email;
use email_receiver::config::Config;
use email_receiver::message::Env;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use wasmetheus_sdk::receiver::{Alert, Notification, SendError};

/// One step of the server: read a command line (or, for `Data`, the
/// message up to its final dot), then answer.
enum Step {
    /// Answer without reading (the greeting).
    Say(&'static str),
    /// Read one line, then answer.
    Reply(&'static str),
    /// Read the message up to `.`, then answer.
    Data(&'static str),
    /// Read one line without answering.
    Read,
    /// Send raw bytes and end the data; the script ends.
    Raw(Vec<u8>),
}

struct Server {
    addr: String,
    handle: JoinHandle<String>,
}

/// A server playing `steps`; its transcript (`C: ` lines read, `S: `
/// answers) comes back from `transcript`.
fn serve(steps: Vec<Step>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut w = stream.try_clone().unwrap();
        let mut r = BufReader::new(stream);
        let mut out = String::new();
        let read_line = |r: &mut BufReader<TcpStream>, out: &mut String| {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                out.push_str("C: <closed>\n");
                return None;
            }
            out.push_str(&format!("C: {}\n", line.trim_end_matches("\r\n")));
            Some(line)
        };
        let say = |w: &mut TcpStream, text: &str, out: &mut String| {
            for line in text.lines() {
                out.push_str(&format!("S: {line}\n"));
            }
            let _ = w.write_all(text.replace('\n', "\r\n").as_bytes());
            let _ = w.write_all(b"\r\n");
        };
        for step in steps {
            match step {
                Step::Say(text) => say(&mut w, text, &mut out),
                Step::Reply(text) => {
                    if read_line(&mut r, &mut out).is_none() {
                        return out;
                    }
                    say(&mut w, text, &mut out);
                }
                Step::Data(text) => {
                    loop {
                        match read_line(&mut r, &mut out) {
                            None => return out,
                            Some(l) if l == ".\r\n" => break,
                            Some(_) => {}
                        }
                    }
                    say(&mut w, text, &mut out);
                }
                Step::Read => {
                    if read_line(&mut r, &mut out).is_none() {
                        return out;
                    }
                }
                Step::Raw(bytes) => {
                    let _ = w.write_all(&bytes);
                    // End of data; read on until the client hangs up
                    // (closing with unread input would reset it).
                    let _ = w.shutdown(std::net::Shutdown::Write);
                    break;
                }
            }
        }
        // Whatever the client sends after the script; QUIT is answered.
        while let Some(line) = read_line(&mut r, &mut out) {
            if line.starts_with("QUIT") {
                say(&mut w, "221 bye", &mut out);
            }
        }
        out
    });
    Server { addr, handle }
}

impl Server {
    fn transcript(self) -> String {
        self.handle.join().unwrap()
    }
}

fn email(config: serde_json::Value) -> Email {
    let config: Config = wasmetheus_sdk::config::parse(&config.to_string()).unwrap();
    Email::new(config.settings().unwrap())
}

fn notification() -> Notification {
    Notification {
        receiver: "ops".into(),
        status: "firing".into(),
        alerts: vec![Alert {
            status: "firing".into(),
            labels: vec![("alertname".into(), "Down".into())],
            annotations: vec![],
            starts_at: "2026-01-02T03:04:05Z".into(),
            ends_at: String::new(),
            generator_url: String::new(),
            fingerprint: "1".into(),
        }],
        group_labels: vec![("alertname".into(), "Down".into())],
        common_labels: vec![("alertname".into(), "Down".into())],
        ..Notification::default()
    }
}

/// Sends the notification over a connection to `server`, as `host`.
fn send(server: &Server, config: serde_json::Value) -> Result<(), SendError> {
    let mut config = config;
    config["config"]["smarthost"] = config["config"]["smarthost"]
        .as_str()
        .map(Into::into)
        .unwrap_or_else(|| server.addr.clone().into());
    let email = email(config);
    let stream = TcpStream::connect(&server.addr).unwrap();
    let mut random = || 42;
    let mut env = Env {
        now: "2026-01-02T03:05:00Z".parse().unwrap(),
        random: &mut random,
        hostname: "h",
    };
    email.deliver(stream, &notification(), &mut env)
}

fn base(extra: serde_json::Value) -> serde_json::Value {
    let mut c = serde_json::json!({
        "to": "a@example.com, B <b@example.com>",
        "from": "am@example.com",
        "require_tls": false,
        "text": "{{ .CommonLabels.alertname }}\n.dot",
        "html": "",
        "headers": {"Subject": "down"}
    });
    if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            c.insert(k.clone(), v.clone());
        }
    }
    serde_json::json!({ "config": c })
}

/// The transcript with the message's lines between DATA and `.` left out.
fn dialogue(transcript: &str) -> String {
    let mut out = String::new();
    let mut in_data = false;
    for line in transcript.lines() {
        if line == "C: ." {
            in_data = false;
            out.push_str("C: <message>\nC: .\n");
            continue;
        }
        if !in_data {
            out.push_str(line);
            out.push('\n');
        }
        if line.starts_with("S: 354") {
            in_data = true;
        }
    }
    out
}

#[test]
fn a_plain_delivery_step_by_step() {
    let server = serve(vec![
        Step::Say("220 mail.example ESMTP"),
        Step::Reply("250-mail.example\n250-8BITMIME\n250-SMTPUTF8\n250 SIZE 1000"),
        Step::Reply("250 ok"),
        Step::Reply("250 ok"),
        Step::Reply("251 will forward"),
        Step::Reply("354 go ahead"),
        Step::Data("250 queued"),
        Step::Reply("221 bye"),
    ]);
    send(&server, base(serde_json::json!({"hello": "am.example"}))).unwrap();
    let transcript = server.transcript();
    expect_test::expect![[r#"
        S: 220 mail.example ESMTP
        C: EHLO am.example
        S: 250-mail.example
        S: 250-8BITMIME
        S: 250-SMTPUTF8
        S: 250 SIZE 1000
        C: MAIL FROM:<am@example.com> BODY=8BITMIME SMTPUTF8
        S: 250 ok
        C: RCPT TO:<a@example.com>
        S: 250 ok
        C: RCPT TO:<b@example.com>
        S: 251 will forward
        C: DATA
        S: 354 go ahead
        C: <message>
        C: .
        S: 250 queued
        C: QUIT
        S: 221 bye
        C: <closed>
    "#]]
    .assert_eq(&dialogue(&transcript));
    // The message as sent: dot-stuffed, CRLF lines.
    expect_test::expect![[r#"
        C: From: am@example.com
        C: Subject: down
        C: To: a@example.com, B <b@example.com>
        C: Message-Id: <1767323100000000000.42@h>
        C: Date: Fri, 02 Jan 2026 03:05:00 +0000
        C: Content-Type: multipart/alternative;  boundary=2a000000000000002a000000000000002a000000000000002a0000000000
        C: MIME-Version: 1.0
        C: 
        C: --2a000000000000002a000000000000002a000000000000002a0000000000
        C: Content-Transfer-Encoding: quoted-printable
        C: Content-Type: text/plain; charset=UTF-8
        C: 
        C: Down
        C: ..dot
        C: --2a000000000000002a000000000000002a000000000000002a0000000000--
    "#]]
    .assert_eq(
        &transcript
            .lines()
            .skip_while(|l| *l != "S: 354 go ahead")
            .skip(1)
            .take_while(|l| *l != "C: .")
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    );
}

#[test]
fn ehlo_refused_falls_back_to_helo() {
    let server = serve(vec![
        Step::Say("220 old"),
        Step::Reply("502 what"),
        Step::Reply("250 hi"),
        Step::Reply("250 ok"),
        Step::Reply("250 ok"),
        Step::Reply("250 ok"),
        Step::Reply("354 go"),
        Step::Data("250 ok"),
        Step::Reply("221 bye"),
    ]);
    send(&server, base(serde_json::json!({}))).unwrap();
    let d = dialogue(&server.transcript());
    assert!(
        d.contains("C: EHLO localhost\nS: 502 what\nC: HELO localhost\nS: 250 hi\n"),
        "{d}"
    );
    // No extensions after HELO: MAIL FROM without parameters.
    assert!(d.contains("C: MAIL FROM:<am@example.com>\n"), "{d}");
}

/// A server asking for authentication with `mechs`, then `auth_steps`,
/// then accepting the mail.
fn auth_server(mechs: &'static str, auth_steps: Vec<Step>) -> Server {
    let mut steps = vec![Step::Say("220 hi"), Step::Reply(mechs)];
    steps.extend(auth_steps);
    steps.extend([
        Step::Reply("250 ok"),
        Step::Reply("250 ok"),
        Step::Reply("250 ok"),
        Step::Reply("354 go"),
        Step::Data("250 ok"),
        Step::Reply("221 bye"),
    ]);
    serve(steps)
}

fn auth_lines(transcript: &str) -> Vec<String> {
    let d = dialogue(transcript);
    let lines: Vec<&str> = d.lines().collect();
    let start = lines.iter().position(|l| l.starts_with("C: AUTH")).unwrap();
    let end = lines.iter().position(|l| l.starts_with("C: MAIL")).unwrap();
    lines[start..end].iter().map(|l| (*l).to_owned()).collect()
}

#[test]
fn auth_mechanisms_as_go_speaks_them() {
    let creds = serde_json::json!({
        "auth_username": "tim", "auth_password": "pw", "auth_secret": "tanstaaftanstaaf",
        "auth_identity": "id"
    });
    // PLAIN with an identity, to a local server.
    let server = auth_server("250-hi\n250 AUTH PLAIN", vec![Step::Reply("235 ok")]);
    send(&server, base(creds.clone())).unwrap();
    assert_eq!(
        auth_lines(&server.transcript()),
        ["C: AUTH PLAIN aWQAdGltAHB3", "S: 235 ok"]
    );
    // LOGIN answers the username and password prompts.
    let server = auth_server(
        "250-hi\n250 AUTH LOGIN",
        vec![
            Step::Reply("334 VXNlcm5hbWU6"),
            Step::Reply("334 UGFzc3dvcmQ6"),
            Step::Reply("235 ok"),
        ],
    );
    send(&server, base(creds.clone())).unwrap();
    assert_eq!(
        auth_lines(&server.transcript()),
        [
            "C: AUTH LOGIN",
            "S: 334 VXNlcm5hbWU6",
            "C: dGlt",
            "S: 334 UGFzc3dvcmQ6",
            "C: cHc=",
            "S: 235 ok"
        ]
    );
    // CRAM-MD5 first when offered first: RFC 2195's example.
    let server = auth_server(
        "250-hi\n250 AUTH CRAM-MD5 PLAIN",
        vec![
            Step::Reply("334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"),
            Step::Reply("235 ok"),
        ],
    );
    send(&server, base(creds.clone())).unwrap();
    assert_eq!(
        auth_lines(&server.transcript()),
        [
            "C: AUTH CRAM-MD5",
            "S: 334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
            "C: dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw",
            "S: 235 ok"
        ]
    );
    // Without a secret, CRAM-MD5 is skipped for the next mechanism.
    let server = auth_server(
        "250-hi\n250 AUTH CRAM-MD5 LOGIN",
        vec![
            Step::Reply("334 VXNlcm5hbWU6"),
            Step::Reply("334 UGFzc3dvcmQ6"),
            Step::Reply("235 ok"),
        ],
    );
    send(
        &server,
        base(serde_json::json!({"auth_username": "tim", "auth_password": "pw"})),
    )
    .unwrap();
    assert_eq!(auth_lines(&server.transcript())[0], "C: AUTH LOGIN");
    // No user name: no AUTH at all.
    let server = auth_server("250-hi\n250 AUTH PLAIN", vec![]);
    send(&server, base(serde_json::json!({}))).unwrap();
    assert!(!server.transcript().contains("AUTH PLAIN "));
}

#[test]
fn failures_retryable_as_upstream_and_without_credentials() {
    let secret = serde_json::json!({"auth_username": "tim", "auth_password": "hunter2"});
    // A refused login is cancelled with `*`, retryable, and the error does
    // not repeat the password even when the server echoes it.
    let server = serve(vec![
        Step::Say("220 hi"),
        Step::Reply("250-hi\n250 AUTH PLAIN"),
        Step::Reply("535 5.7.8 bad credentials hunter2 AHRpbQBodW50ZXIy"),
        Step::Reply("501 cancelled"),
        Step::Reply("221 bye"),
    ]);
    let e = send(&server, base(secret.clone())).unwrap_err();
    assert!(e.retryable);
    assert_eq!(
        e.message,
        "*smtp.plainAuth auth: 535 5.7.8 bad credentials <secret> <secret>"
    );
    let t = server.transcript();
    assert!(t.contains("C: *\n"), "{t}");
    assert!(t.contains("C: QUIT\n"), "{t}");
    let cases: Vec<(serde_json::Value, Vec<Step>, &str, bool)> = vec![
        (
            base(serde_json::json!({"require_tls": true})),
            vec![Step::Say("220 hi"), Step::Reply("250 hi")],
            "'require_tls' is true (default) but \"ADDR\" does not advertise the STARTTLS extension",
            true,
        ),
        (
            base(serde_json::json!({"require_tls": true})),
            vec![
                Step::Say("220 hi"),
                Step::Reply("250-hi\n250 STARTTLS"),
                Step::Reply("454 4.7.0 TLS not available"),
            ],
            "send STARTTLS command: 454 4.7.0 TLS not available",
            true,
        ),
        (
            base(serde_json::json!({})),
            vec![
                Step::Say("220 hi"),
                Step::Reply("250 hi"),
                Step::Reply("250 ok"),
                Step::Reply("550 5.1.1 no such user"),
            ],
            "send RCPT command: 550 5.1.1 no such user",
            true,
        ),
        (
            base(serde_json::json!({})),
            vec![Step::Say("554 go away")],
            "create SMTP client: 554 go away",
            true,
        ),
        (
            base(serde_json::json!({})),
            vec![
                Step::Say("220 hi"),
                Step::Reply("250 hi"),
                Step::Reply("250 ok"),
                Step::Reply("250 ok"),
                Step::Reply("250 ok"),
                Step::Reply("354 go"),
                Step::Data("552-too big\n552 really"),
            ],
            "delivery failure: 552 too big\nreally",
            true,
        ),
        (
            base(serde_json::json!({"from": "a@b, c@d"})),
            vec![Step::Say("220 hi"), Step::Reply("250 hi")],
            "must be exactly one 'from' address (got: 2)",
            false,
        ),
        (
            base(serde_json::json!({"to": "{{ .Nope.Nope }}"})),
            vec![Step::Say("220 hi"), Step::Reply("250 hi")],
            "execute 'to' template: ",
            false,
        ),
        (
            base(serde_json::json!({"to": "nobody"})),
            vec![Step::Say("220 hi"), Step::Reply("250 hi")],
            "parse 'to' addresses: mail: missing '@' or angle-addr",
            false,
        ),
        (
            base(serde_json::json!({"auth_username": "u"})),
            vec![
                Step::Say("220 hi"),
                Step::Reply("250-hi\n250 AUTH PLAIN XOAUTH2"),
            ],
            "find auth mechanism: missing password for PLAIN auth mechanism\nunknown auth mechanism: XOAUTH2",
            true,
        ),
        (
            base(
                serde_json::json!({"auth_username": "u", "auth_password": "pass-word-1", "smarthost": "mail.example:25"}),
            ),
            vec![Step::Say("220 hi"), Step::Reply("250-hi\n250 AUTH PLAIN")],
            "*smtp.plainAuth auth: unconnected",
            true,
        ),
    ];
    for (config, steps, want, retryable) in cases {
        let server = serve(steps);
        let want = want.replace("ADDR", &server.addr);
        let want = want.replace("unconnected", "unencrypted connection");
        let e = send(&server, config.clone()).unwrap_err();
        assert!(e.message.starts_with(&want), "{config}: {e:?}");
        assert_eq!(e.retryable, retryable, "{config}: {e:?}");
        // Every failed session still says QUIT (the server may be gone).
        let t = server.transcript();
        assert!(t.contains("C: QUIT") || t.ends_with("C: <closed>\n"), "{t}");
    }
}

#[test]
fn hostile_servers_are_refused_within_bounds() {
    let mut many_lines = String::new();
    for _ in 0..100_000 {
        many_lines.push_str("250-x\r\n");
    }
    let cases: Vec<(Vec<u8>, &str)> = vec![
        // An endless line.
        (
            vec![b'2'; 50 << 20],
            "create SMTP client: reply line longer than 4096 bytes",
        ),
        // A huge multi-line reply.
        (
            format!("220 hi\r\n{many_lines}").into_bytes(),
            "send EHLO command: reply of more than 256 lines",
        ),
        (
            b"hello\r\n".to_vec(),
            "create SMTP client: short response: hello",
        ),
        (
            b"abc def\r\n".to_vec(),
            "create SMTP client: invalid response code: abc def",
        ),
        (
            b"099 low\r\n".to_vec(),
            "create SMTP client: invalid response code: 099 low",
        ),
        (Vec::new(), "create SMTP client: unexpected EOF"),
        (
            b"\xff\xfe\x00\r\n".to_vec(),
            "create SMTP client: short response",
        ),
    ];
    for (bytes, want) in cases {
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(20)]).into_owned();
        let server = if want.starts_with("send EHLO") {
            // The greeting, then the endless EHLO answer.
            let (greeting, rest) = bytes.split_at(8);
            let greeting = String::from_utf8(greeting.to_vec()).unwrap();
            let greeting: &'static str = Box::leak(greeting.trim_end().to_owned().into_boxed_str());
            serve(vec![
                Step::Say(greeting),
                Step::Read,
                Step::Raw(rest.to_vec()),
            ])
        } else {
            serve(vec![Step::Raw(bytes)])
        };
        let started = std::time::Instant::now();
        let e = send(&server, base(serde_json::json!({}))).unwrap_err();
        assert!(e.message.starts_with(want), "{shown:?}: {e:?}");
        assert!(e.retryable, "{shown:?}: {e:?}");
        assert!(e.message.len() < 1024, "{shown:?}: {e:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        drop(server);
    }
}

#[test]
fn starttls_refuses_injected_answers_and_garbage_handshakes() {
    let tls =
        serde_json::json!({"require_tls": true, "tls_config": {"insecure_skip_verify": true}});
    // Bytes after the STARTTLS answer would be read as if protected.
    let server = serve(vec![
        Step::Say("220 hi"),
        Step::Reply("250-hi\n250 STARTTLS"),
        Step::Reply("220 go ahead\n250 injected"),
    ]);
    let e = send(&server, base(tls.clone())).unwrap_err();
    assert_eq!(
        e.message,
        "send STARTTLS command: data after the STARTTLS answer"
    );
    assert!(e.retryable);
    drop(server.transcript());
    // A server answering the handshake with garbage (after reading up to
    // a byte 0x0a of the ClientHello: its supported_groups extension type
    // holds one).
    let server = serve(vec![
        Step::Say("220 hi"),
        Step::Reply("250-hi\n250 STARTTLS"),
        Step::Reply("220 go ahead"),
        Step::Read,
        Step::Raw(b"this is not TLS\r\n".repeat(100)),
    ]);
    let e = send(&server, base(tls)).unwrap_err();
    assert!(
        e.message
            .starts_with("send STARTTLS command: TLS handshake: "),
        "{e:?}"
    );
    assert!(e.retryable);
}
