//! The email receiver plugin in the real runtime against a real SMTP server
//! (Debian's `python3-aiosmtpd`, with AUTH; plain, STARTTLS and implicit
//! TLS), the message parsed back by Python's `email` package; and the same
//! alerts, firing then resolved, sent by Debian's Alertmanager 0.25 to the
//! same server, compared field by field.

use super::{DebianAlertmanager, Receivers, open, spec};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use wasmetheus_config::Grants;
use wasmetheus_plugin_runtime::{Alert, Notification};
use wasmetheus_tests::{KillOnDrop, eventually, free_port, guests};

/// Debian's Python, which `python3-aiosmtpd` installs for.
const PYTHON: &str = "/usr/bin/python3";

/// An SMTP server on 127.0.0.1 (`plain`; `starttls` requiring STARTTLS
/// first; `implicit` TLS from the start, with a certificate and key) that
/// requires `AUTH PLAIN` (user `am`,
/// password `s3cret-pw`, over plain text; its LOGIN prompts `User Name\0`,
/// which Alertmanager's LOGIN does not answer, so it is not offered) and
/// writes each message it accepts as a
/// JSON file: the envelope, the login, the headers decoded, each MIME
/// part's type, encoding and decoded text.
const SERVER: &str = r#"
import asyncio, email, email.policy, json, os, ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, out, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == b"am"
          and auth_data.password == b"s3cret-pw")
    # A refusal answered (handled=False) right away: 535.
    return AuthResult(success=ok, auth_data=auth_data if ok else None, handled=False)

class Handler:
    def __init__(self):
        self.n = 0
    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parts = []
        for p in (msg.iter_parts() if msg.is_multipart() else [msg]):
            parts.append({"type": p.get_content_type(),
                          "encoding": p["Content-Transfer-Encoding"],
                          "text": p.get_content()})
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": (bool(session.ssl)
                    or server.transport.get_extra_info("sslcontext") is not None),
            "login": (session.auth_data.login.decode()
                      if isinstance(session.auth_data, LoginPassword) else None),
            "headers": [[k, str(v)] for k, v in msg.items()],
            "content_type": msg.get_content_type(),
            "boundary": msg.get_boundary(),
            "parts": parts,
            "raw": raw.decode("utf-8", "replace"),
        }
        self.n += 1
        path = os.path.join(out, "%03d.json" % self.n)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 Message accepted for delivery"

tls = {}
if mode != "plain":
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(sys.argv[4], sys.argv[5])
    if mode == "starttls":
        tls = {"tls_context": ctx, "require_starttls": True}
    else:
        tls = {"ssl_context": ctx}
controller = Controller(Handler(), hostname="127.0.0.1", port=port,
                        authenticator=authenticator, auth_required=True,
                        auth_require_tls=mode == "starttls",
                        auth_exclude_mechanism=["LOGIN"], **tls)
controller.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"#;

/// One message the server took.
#[derive(Debug, Clone)]
struct Received {
    tls: bool,
    mail_from: String,
    rcpt_tos: Vec<String>,
    login: Option<String>,
    headers: Vec<(String, String)>,
    content_type: String,
    parts: Vec<serde_json::Value>,
    raw: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn part(&self, content_type: &str) -> Option<String> {
        self.parts
            .iter()
            .find(|p| p["type"] == content_type)
            .and_then(|p| p["text"].as_str())
            .map(str::to_owned)
    }
}

struct SmtpServer {
    port: u16,
    out: PathBuf,
    _dir: tempfile::TempDir,
    _process: KillOnDrop,
}

impl SmtpServer {
    async fn start() -> SmtpServer {
        Self::start_mode(&["plain"]).await
    }

    /// A server in `mode` (`plain`, or `starttls`/`implicit` with the
    /// certificate and key files).
    async fn start_mode(mode: &[&str]) -> SmtpServer {
        let available = std::process::Command::new(PYTHON)
            .args(["-c", "import aiosmtpd"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            available,
            "{PYTHON} with aiosmtpd is needed (apt-get install python3-aiosmtpd)"
        );
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("server.py");
        std::fs::write(&script, SERVER).unwrap();
        let out = dir.path().join("messages");
        std::fs::create_dir(&out).unwrap();
        let port = free_port();
        let process = KillOnDrop(
            std::process::Command::new(PYTHON)
                .arg(&script)
                .arg(port.to_string())
                .arg(&out)
                .args(mode)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
        let address: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        eventually(
            Duration::from_secs(20),
            "the SMTP server to listen",
            || async move { tokio::net::TcpStream::connect(address).await.ok().map(drop) },
        )
        .await;
        SmtpServer {
            port,
            out,
            _dir: dir,
            _process: process,
        }
    }

    fn smarthost(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The messages taken so far, in order.
    fn messages(&self) -> Vec<Received> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.out)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files.iter().map(|p| read_message(p)).collect()
    }

    /// Waits for message number `n` (from 0).
    async fn message(&self, n: usize) -> Received {
        eventually(
            Duration::from_secs(20),
            "a message at the SMTP server",
            || {
                let m = self.messages().into_iter().nth(n);
                async move { m }
            },
        )
        .await
    }
}

fn read_message(path: &Path) -> Received {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    Received {
        tls: v["tls"] == true,
        mail_from: s(&v["mail_from"]),
        rcpt_tos: v["rcpt_tos"].as_array().unwrap().iter().map(s).collect(),
        login: v["login"].as_str().map(str::to_owned),
        headers: v["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (s(&h[0]), s(&h[1])))
            .collect(),
        content_type: s(&v["content_type"]),
        parts: v["parts"].as_array().unwrap().clone(),
        raw: s(&v["raw"]),
    }
}

/// A user template file given to both Alertmanagers.
const USER_TEMPLATE: &str = r#"{{ define "email.custom.text" }}{{ .Status | toUpper }}: {{ range .Alerts }}{{ .Labels.instance }} ({{ .Annotations.summary }})
{{ end }}.leading dot and trailing space 
{{ end }}"#;

/// The `email_configs` entry both use (global settings filled in).
fn email_config(smarthost: &str) -> serde_json::Value {
    serde_json::json!({
        "to": "Ops Team <ops@example.com>, oncall@example.com",
        "from": "Alertmanager <am@example.com>",
        "smarthost": smarthost,
        "hello": "am.example",
        "auth_username": "am",
        "auth_password": "s3cret-pw",
        "require_tls": false,
        "send_resolved": true,
        "text": "{{ template \"email.custom.text\" . }}",
        "headers": {"X-Team": "{{ .CommonLabels.team }} – ünïcödé"},
    })
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const STARTS_AT: &str = "2026-12-07T01:02:03.456Z";

/// The two alerts both Alertmanagers get: firing, or resolved at `ends_at`.
fn alerts_json(ends_at: Option<&str>) -> String {
    let alert = |instance: &str| {
        let mut a = serde_json::json!({
            "labels": {"alertname": "Down", "instance": instance, "team": "db"},
            "annotations": {"summary": "host <a> & \"b\" é"},
            "startsAt": STARTS_AT,
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        });
        if let Some(t) = ends_at {
            a["endsAt"] = t.into();
        }
        a
    };
    serde_json::json!([alert("a:9100"), alert("b:9100")]).to_string()
}

/// The notification Alertmanager renders for [`alerts_json`].
fn notification_at(ends_at: Option<&str>) -> Notification {
    let status = if ends_at.is_some() {
        "resolved"
    } else {
        "firing"
    };
    let alert = |instance: &str| Alert {
        status: status.into(),
        labels: map(&[
            ("alertname", "Down"),
            ("instance", instance),
            ("team", "db"),
        ]),
        annotations: map(&[("summary", "host <a> & \"b\" é")]),
        starts_at: STARTS_AT.into(),
        ends_at: ends_at.unwrap_or_default().into(),
        generator_url: "http://prometheus:9090/graph?g0.expr=up".into(),
        fingerprint: String::new(),
    };
    Notification {
        // Quoted as a regular expression, as the host passes it.
        receiver: r"team\.mail".into(),
        status: status.into(),
        alerts: vec![alert("a:9100"), alert("b:9100")],
        group_labels: map(&[("alertname", "Down")]),
        common_labels: map(&[("alertname", "Down"), ("team", "db")]),
        common_annotations: map(&[("summary", "host <a> & \"b\" é")]),
        external_url: "http://am.example:9093".into(),
        group_key: "{}:{alertname=\"Down\"}".into(),
        truncated_alerts: 0,
    }
}

/// The firing notification.
fn notification() -> Notification {
    notification_at(None)
}

fn grants(smarthost: &str) -> Grants {
    Grants {
        tcp_connect: vec![smarthost.to_owned()],
        ..Grants::default()
    }
}

fn plugin_config(smarthost: &str, template_file: &str) -> serde_json::Value {
    serde_json::json!({
        "config": email_config(smarthost),
        "templates": [{"name": template_file, "text": USER_TEMPLATE}],
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn email_reaches_a_real_smtp_server() {
    let server = SmtpServer::start().await;
    let receivers = Receivers::new();
    let plugin = receivers
        .load(guests::PLUGIN_EMAIL_RECEIVER, "email-receiver")
        .await;
    assert_eq!(plugin.metadata().name, "email-receiver");
    // The schema declares the password and the CRAM-MD5 secret.
    let mut shown =
        serde_json::json!({"config": {"auth_password": "pw", "auth_secret": "s", "to": "a@b"}});
    plugin.metadata().declared_secrets.redact(&mut shown);
    assert_ne!(shown["config"]["auth_password"], "pw");
    assert_ne!(shown["config"]["auth_secret"], "s");
    assert_eq!(shown["config"]["to"], "a@b");

    let smarthost = server.smarthost();
    let sender = open(
        &plugin,
        spec(
            "team.mail",
            plugin_config(&smarthost, "/etc/am/custom.tmpl"),
            grants(&smarthost),
        ),
    )
    .await;
    sender.notify(notification()).await.unwrap();
    let m = server.message(0).await;
    assert_eq!(m.login.as_deref(), Some("am"));
    assert_eq!(m.mail_from, "am@example.com");
    assert_eq!(m.rcpt_tos, ["ops@example.com", "oncall@example.com"]);
    assert_eq!(m.header("From"), Some("Alertmanager <am@example.com>"));
    assert_eq!(
        m.header("To"),
        Some("Ops Team <ops@example.com>, oncall@example.com")
    );
    assert_eq!(m.header("Subject"), Some("[FIRING:2] Down (db)"));
    assert_eq!(m.header("X-Team"), Some("db – ünïcödé"));
    assert_eq!(m.header("MIME-Version"), Some("1.0"));
    let id = m.header("Message-Id").unwrap();
    assert!(
        id.starts_with('<') && id.ends_with("@localhost.localdomain>"),
        "{id}"
    );
    assert!(m.header("Date").unwrap().ends_with(" +0000"), "{m:?}");
    assert_eq!(m.content_type, "multipart/alternative");
    let types: Vec<_> = m.parts.iter().map(|p| p["type"].clone()).collect();
    assert_eq!(types, ["text/plain", "text/html"]);
    assert!(m.parts.iter().all(|p| p["encoding"] == "quoted-printable"));
    assert_eq!(
        m.part("text/plain").unwrap().replace("\r\n", "\n"),
        "FIRING: a:9100 (host <a> & \"b\" é)\nb:9100 (host <a> & \"b\" é)\n.leading dot and trailing space \n"
    );
    let html = m.part("text/html").unwrap();
    assert!(html.contains("http://am.example:9093"), "{html}");
    assert!(
        html.contains("host &lt;a&gt; &amp; &#34;b&#34; é"),
        "{html}"
    );
    // On the wire: quoted-printable lines of at most 76 characters.
    assert!(
        m.raw.lines().all(|l| l.len() <= 998),
        "a line longer than SMTP allows"
    );

    // Without the grant, the sandbox refuses the connection.
    let denied = open(
        &plugin,
        spec(
            "team.mail",
            plugin_config(&smarthost, "custom.tmpl"),
            Grants::default(),
        ),
    )
    .await;
    let e = denied.notify(notification()).await.unwrap_err();
    assert!(
        e.message.contains("establish connection to server"),
        "{e:?}"
    );
    assert!(!e.message.contains("s3cret-pw"), "{e:?}");

    // A smarthost by name: resolved in the sandbox, which needs the dns
    // grant beside the address.
    let by_name = format!("localhost:{}", server.port);
    let mut config = plugin_config(&by_name, "custom.tmpl");
    config["config"]["smarthost"] = by_name.clone().into();
    let no_dns = open(&plugin, spec("team.mail", config.clone(), grants(&by_name))).await;
    let e = no_dns.notify(notification()).await.unwrap_err();
    assert!(
        e.message
            .ends_with("(resolving the smarthost's name needs the dns grant)"),
        "{e:?}"
    );
    let with_dns = open(
        &plugin,
        spec(
            "team.mail",
            config,
            Grants {
                dns: true,
                ..grants(&by_name)
            },
        ),
    )
    .await;
    with_dns.notify(notification()).await.unwrap();
    assert_eq!(server.message(1).await.login.as_deref(), Some("am"));

    // A wrong password: refused by the server, retryable, not shown.
    let mut config = plugin_config(&smarthost, "custom.tmpl");
    config["config"]["auth_password"] = "wrong-password".into();
    let wrong = open(&plugin, spec("team.mail", config, grants(&smarthost))).await;
    let e = wrong.notify(notification()).await.unwrap_err();
    assert!(e.retryable, "{e:?}");
    assert!(e.message.starts_with("*smtp.plainAuth auth: 535"), "{e:?}");
    assert!(!e.message.contains("wrong-password"), "{e:?}");

    // require_tls (the default) against a server without STARTTLS.
    let mut config = plugin_config(&smarthost, "custom.tmpl");
    config["config"]["require_tls"] = true.into();
    let tls = open(&plugin, spec("team.mail", config, grants(&smarthost))).await;
    let e = tls.notify(notification()).await.unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "'require_tls' is true (default) but \"{smarthost}\" does not advertise the STARTTLS extension"
        )
    );
    assert_eq!(server.messages().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn email_matches_alertmanagers() {
    let server = SmtpServer::start().await;
    let smarthost = server.smarthost();
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    let template_file = templates.join("custom.tmpl");
    std::fs::write(&template_file, USER_TEMPLATE).unwrap();
    let config = serde_json::json!({
        // A group_wait long enough that both alerts of one POST are in the
        // first notification: with 0s, a loaded machine let Alertmanager
        // flush the group after the first alert alone.
        "route": {"receiver": "team.mail", "group_by": ["alertname"], "group_wait": "1s",
                  "group_interval": "1s"},
        "receivers": [{"name": "team.mail", "email_configs": [email_config(&smarthost)]}],
        "templates": [format!("{}/*.tmpl", templates.display())],
    });
    let config_file = dir.path().join("alertmanager.yml");
    std::fs::write(&config_file, config.to_string()).unwrap();
    let alertmanager = DebianAlertmanager::start(
        &config_file,
        &dir.path().join("data"),
        Some("http://am.example:9093"),
    )
    .await;
    let resolved_at = "2026-12-07T01:10:00Z";
    let mut theirs_all = Vec::new();
    for (step, ends_at) in [None, Some(resolved_at)].into_iter().enumerate() {
        let alerts = alerts_json(ends_at);
        alertmanager.post_alerts(&alerts).await;
        theirs_all.push(server.message(step).await);
    }

    let receivers = Receivers::new();
    let plugin = receivers
        .load(guests::PLUGIN_EMAIL_RECEIVER, "email-receiver")
        .await;
    let sender = open(
        &plugin,
        spec(
            "team.mail",
            plugin_config(&smarthost, &template_file.display().to_string()),
            grants(&smarthost),
        ),
    )
    .await;
    for (step, ends_at) in [None, Some(resolved_at)].into_iter().enumerate() {
        sender.notify(notification_at(ends_at)).await.unwrap();
        let ours = server.message(2 + step).await;
        compare(&ours, &theirs_all[step]);
    }
    assert_eq!(
        theirs_all
            .iter()
            .map(|m| m.header("Subject").unwrap_or_default())
            .collect::<Vec<_>>(),
        ["[FIRING:2] Down (db)", "[RESOLVED] Down (db)"]
    );
}

/// Our message against Alertmanager's, field by field.
fn compare(ours: &Received, theirs: &Received) {
    let (ours, theirs) = (ours.clone(), theirs.clone());

    // The envelope and the login.
    assert_eq!(ours.login, theirs.login);
    assert_eq!(ours.mail_from, theirs.mail_from);
    assert_eq!(ours.rcpt_tos, theirs.rcpt_tos);
    // The headers both send, decoded, equal.
    for name in ["From", "To", "Subject", "X-Team", "MIME-Version"] {
        assert_eq!(ours.header(name), theirs.header(name), "{name}");
        assert!(theirs.header(name).is_some(), "{name}: {theirs:?}");
    }
    // Both send a Message-Id `<nanoseconds.random@host>`: a documented
    // difference is the host, Alertmanager's host name against the
    // sandbox's `localhost.localdomain` (Go's fallback when there is none).
    let id = |m: &Received| {
        m.header("Message-Id")
            .map(str::to_owned)
            .unwrap_or_default()
    };
    assert!(id(&ours).ends_with("@localhost.localdomain>"), "{ours:?}");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    assert!(
        id(&theirs).ends_with(&format!("@{}>", host.trim())),
        "{theirs:?}"
    );
    for m in [&ours, &theirs] {
        let id = id(m);
        let (nanos, _) = id[1..].split_once('.').unwrap();
        assert!(nanos.parse::<u64>().is_ok(), "{m:?}");
    }
    let names = |m: &Received| {
        let mut n: Vec<String> = m
            .headers
            .iter()
            .map(|(k, _)| k.to_ascii_lowercase())
            .filter(|k| k != "message-id")
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(&ours), names(&theirs));
    assert_eq!(ours.content_type, theirs.content_type);
    assert_eq!(
        ours.parts
            .iter()
            .map(|p| (p["type"].clone(), p["encoding"].clone()))
            .collect::<Vec<_>>(),
        theirs
            .parts
            .iter()
            .map(|p| (p["type"].clone(), p["encoding"].clone()))
            .collect::<Vec<_>>()
    );
    assert_eq!(ours.part("text/plain"), theirs.part("text/plain"));
    let (ours_html, theirs_html) = (
        ours.part("text/html").unwrap(),
        theirs.part("text/html").unwrap(),
    );
    // The one difference: 0.34's email.tmpl names the schema over https.
    let ours_html = ours_html.replacen(
        "itemtype=\"https://schema.org/EmailMessage\"",
        "itemtype=\"http://schema.org/EmailMessage\"",
        1,
    );
    assert_ne!(ours_html, ours.part("text/html").unwrap());
    for (i, (o, t)) in ours_html.lines().zip(theirs_html.lines()).enumerate() {
        assert_eq!(o, t, "line {i}");
    }
    assert_eq!(ours_html, theirs_html);
    assert!(theirs_html.len() > 1000, "{theirs_html}");
}

/// A CA and a certificate it signed for 127.0.0.1, written to `dir`:
/// (certificate path, key path, the CA's PEM).
fn certificate(dir: &Path) -> (PathBuf, PathBuf, String) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let (ca, ca_key, csr) = (dir.join("ca.pem"), dir.join("ca.key"), dir.join("cert.csr"));
    let ext = dir.join("ext.cnf");
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let steps: [Vec<std::ffi::OsString>; 3] = [
        ["req", "-x509", "-days", "2", "-subj", "/CN=test CA"]
            .iter()
            .chain(&ec)
            .map(Into::into)
            .chain([
                "-keyout".into(),
                ca_key.clone().into(),
                "-out".into(),
                ca.clone().into(),
            ])
            .collect(),
        ["req", "-subj", "/CN=127.0.0.1"]
            .iter()
            .chain(&ec)
            .map(Into::into)
            .chain([
                "-keyout".into(),
                key.clone().into(),
                "-out".into(),
                csr.clone().into(),
            ])
            .collect(),
        ["x509", "-req", "-days", "2", "-CAcreateserial"]
            .iter()
            .map(Into::into)
            .chain([
                "-in".into(),
                csr.into(),
                "-CA".into(),
                ca.clone().into(),
                "-CAkey".into(),
                ca_key.into(),
                "-extfile".into(),
                ext.into(),
                "-out".into(),
                cert.clone().into(),
            ])
            .collect(),
    ];
    for args in steps {
        let made = std::process::Command::new("openssl")
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            made,
            "openssl is needed (apt-get install openssl): {args:?}"
        );
    }
    let pem = std::fs::read_to_string(&ca).unwrap();
    (cert, key, pem)
}

#[tokio::test(flavor = "multi_thread")]
async fn email_over_starttls_and_implicit_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, ca) = certificate(dir.path());
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let receivers = Receivers::new();
    let plugin = receivers
        .load(guests::PLUGIN_EMAIL_RECEIVER, "email-receiver")
        .await;
    let send = |server: &SmtpServer, tls: serde_json::Value| {
        let smarthost = server.smarthost();
        let mut config = plugin_config(&smarthost, "custom.tmpl");
        for (k, v) in tls.as_object().unwrap() {
            config["config"][k] = v.clone();
        }
        let plugin = &plugin;
        async move {
            let sender = open(plugin, spec("team.mail", config, grants(&smarthost))).await;
            sender.notify(notification()).await
        }
    };

    // STARTTLS (require_tls, the default) with the server's CA.
    let server = SmtpServer::start_mode(&["starttls", &cert, &key]).await;
    send(
        &server,
        serde_json::json!({"require_tls": true, "tls_config": {"ca": ca}}),
    )
    .await
    .unwrap();
    let m = server.message(0).await;
    assert!(m.tls, "{m:?}");
    assert_eq!(m.login.as_deref(), Some("am"));
    assert_eq!(m.header("Subject"), Some("[FIRING:2] Down (db)"));
    // Verification skipped on request.
    send(
        &server,
        serde_json::json!({"require_tls": true, "tls_config": {"insecure_skip_verify": true}}),
    )
    .await
    .unwrap();
    assert!(server.message(1).await.tls);
    // Failures: an unknown issuer (Mozilla's roots by default), another
    // name, and no TLS where the server demands it.
    let cases = [
        (
            serde_json::json!({"require_tls": true}),
            "send STARTTLS command: TLS handshake: invalid peer certificate: UnknownIssuer",
        ),
        (
            serde_json::json!({"require_tls": true,
                "tls_config": {"ca": ca, "server_name": "mail.example.com"}}),
            "send STARTTLS command: TLS handshake: invalid peer certificate: certificate not valid for name",
        ),
        (
            serde_json::json!({"require_tls": false}),
            "send MAIL command: 530",
        ),
    ];
    for (tls, want) in cases {
        let e = send(&server, tls.clone()).await.unwrap_err();
        assert!(e.message.starts_with(want), "{tls}: {e:?}");
        assert!(e.retryable, "{tls}: {e:?}");
        assert!(!e.message.contains("s3cret-pw"), "{e:?}");
    }
    assert_eq!(server.messages().len(), 2);

    // Implicit TLS, forced on a port other than 465.
    let server = SmtpServer::start_mode(&["implicit", &cert, &key]).await;
    send(
        &server,
        serde_json::json!({"force_implicit_tls": true, "tls_config": {"ca": ca}}),
    )
    .await
    .unwrap();
    let m = server.message(0).await;
    assert!(m.tls, "{m:?}");
    assert_eq!(m.rcpt_tos, ["ops@example.com", "oncall@example.com"]);
    // Plain SMTP to a TLS port: no greeting comes.
    let e = send(&server, serde_json::json!({"require_tls": false}))
        .await
        .unwrap_err();
    assert!(e.retryable, "{e:?}");
}
