//! `--web.config.file` end to end: a CA, server and client certificates
//! made with `openssl` (Debian's package) in a temporary directory; curl
//! over HTTPS with and without basic auth and client certificates;
//! promtool 2.42 querying with `--http.config.file`; Debian's Prometheus
//! 2.42 scraping `/metrics` and `/federate` over TLS with basic auth;
//! certificates replaced under a running server; `check web-config`
//! against promtool's; hostile clients (garbage for a ClientHello, stalled
//! handshakes, huge headers); `--web.route-prefix`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use wasmetheus_tests::{
    KillOnDrop, PluginsDir, TestServer, eventually, fixture_target, free_port, http, test_args,
};

/// How long a test waits for what should happen within a second or two,
/// on a loaded machine.
const LIVENESS: Duration = Duration::from_secs(30);

/// The exporter toolkit's dummy hash: bcrypt of `fakepassword`, cost 10.
const HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";
const USER: &str = "admin";
const PASSWORD: &str = "fakepassword";

/// Runs a program that must exist (`package` is the Debian package that
/// has it) and succeed; its standard output.
fn run(program: &str, package: &str, args: &[&str], dir: &Path) -> String {
    let out = std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}; install the Debian package {package}"));
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A test CA and the certificates it issues, in a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// A CA, `server` (for 127.0.0.1 and localhost) and `client` (SAN
    /// `client.example`).
    fn new() -> Pki {
        let pki = Pki {
            dir: tempfile::tempdir().unwrap(),
        };
        pki.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=wasmetheus test CA",
        ]);
        pki.issue(
            "server",
            "localhost",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        );
        pki.issue(
            "client",
            "client",
            "subjectAltName=DNS:client.example\nextendedKeyUsage=clientAuth\n",
        );
        pki
    }

    fn openssl(&self, args: &[&str]) -> String {
        run("openssl", "openssl", args, self.dir.path())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `<name>.key` and `<name>.crt` for `cn`, signed by the CA, with the
    /// extensions `ext` (an openssl extension file's lines).
    fn issue(&self, name: &str, cn: &str, ext: &str) {
        std::fs::write(self.path(&format!("{name}.ext")), ext).unwrap();
        let (key, csr, crt, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        let subject = format!("/CN={cn}");
        self.openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &subject,
        ]);
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            &ext,
        ]);
    }

    /// Writes `web.yml` (files in it are relative to this directory).
    fn web_config(&self, text: &str) -> PathBuf {
        let path = self.path("web.yml");
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// TLS with the server certificate, by relative names.
const TLS: &str = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";

fn with_users(text: &str) -> String {
    format!("{text}basic_auth_users:\n  {USER}: {HASH}\n")
}

/// A server with `web` as its web config and `config` (if any) as its
/// prometheus.yml; `adjust` changes its flags.
async fn serve(
    pki: &Pki,
    web: &str,
    config: Option<&str>,
    adjust: impl FnOnce(&mut wasmetheus::serve::ServeArgs),
) -> (TestServer, PluginsDir) {
    let plugins = PluginsDir::new();
    let config_path = config.map(|text| {
        let path = plugins.path().join("prometheus.yml");
        std::fs::write(&path, text).unwrap();
        path
    });
    let data = tempfile::tempdir().unwrap();
    let mut args = test_args(plugins.path(), config_path.as_deref(), data.path());
    args.web.config_file = Some(pki.web_config(web));
    adjust(&mut args);
    (TestServer::start(args, data).await, plugins)
}

/// What curl got: its exit code, the HTTP status (0 for none), the head
/// and the body.
#[derive(Debug)]
struct Curl {
    code: i32,
    status: u16,
    head: String,
    body: String,
}

async fn curl(args: &[&str]) -> Curl {
    let out = tokio::process::Command::new("curl")
        .args(["-sS", "-i", "--max-time", "20"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("running curl: install the Debian package curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Curl {
        code: out.status.code().unwrap_or(-1),
        status: head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// curl of `path` on the server over HTTPS trusting the test CA, with
/// `extra` arguments.
async fn curl_tls(pki: &Pki, server: &TestServer, path: &str, extra: &[&str]) -> Curl {
    let url = format!("https://127.0.0.1:{}{path}", server.address.port());
    let ca = pki.path("ca.crt");
    let mut args = vec!["--cacert", ca.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push(&url);
    curl(&args).await
}

fn credentials() -> String {
    format!("{USER}:{PASSWORD}")
}

#[tokio::test(flavor = "multi_thread")]
async fn https_with_basic_auth_guards_every_endpoint() {
    let pki = Pki::new();
    let web = with_users(&format!(
        "{TLS}http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n"
    ));
    let (server, _plugins) = serve(&pki, &web, None, |_| {}).await;
    let user = credentials();

    let ok = curl_tls(&pki, &server, "/metrics", &["-u", &user]).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert!(ok.body.contains("# TYPE"), "{ok:?}");
    let head = ok.head.to_ascii_lowercase();
    assert!(head.contains("x-frame-options: deny"), "{head}");
    assert!(
        head.contains("strict-transport-security: max-age=31536000"),
        "{head}"
    );

    let wrong = curl_tls(&pki, &server, "/metrics", &["-u", "admin:wrong"]).await;
    assert_eq!(wrong.status, 401, "{wrong:?}");
    assert!(
        wrong
            .head
            .to_ascii_lowercase()
            .contains("www-authenticate: basic"),
        "{wrong:?}"
    );
    assert_eq!(wrong.body, "Unauthorized\n");
    // The configured headers are on refusals too.
    assert!(
        wrong
            .head
            .to_ascii_lowercase()
            .contains("x-frame-options: deny"),
        "{wrong:?}"
    );
    // An unknown user with the right password of another.
    let unknown = curl_tls(&pki, &server, "/metrics", &["-u", "mallory:fakepassword"]).await;
    assert_eq!(unknown.status, 401, "{unknown:?}");

    // Every endpoint, admin and lifecycle ones included, and paths that
    // do not exist.
    for (method, path) in [
        ("GET", "/metrics"),
        ("GET", "/federate?match[]=up"),
        ("GET", "/plugins/anything/metrics"),
        ("GET", "/api/v1/plugins"),
        ("GET", "/api/v1/query?query=1"),
        ("POST", "/api/v1/query?query=1"),
        ("GET", "/api/v1/status/config"),
        ("GET", "/api/v1/status/flags"),
        ("GET", "/api/v1/targets"),
        ("GET", "/-/healthy"),
        ("GET", "/-/ready"),
        ("POST", "/-/reload"),
        ("POST", "/api/v1/admin/tsdb/snapshot"),
        ("POST", "/api/v1/admin/tsdb/delete_series?match[]=up"),
        ("GET", "/no/such/path"),
    ] {
        let missing = curl_tls(&pki, &server, path, &["-X", method]).await;
        assert_eq!(
            missing.status, 401,
            "{method} {path} without credentials: {missing:?}"
        );
    }
    let healthy = curl_tls(&pki, &server, "/-/healthy", &["-u", &user]).await;
    assert_eq!(healthy.status, 200, "{healthy:?}");

    // Plain HTTP on the TLS port gets no answer.
    let (status, _) = http(server.address, "GET", "/metrics", &[]).await;
    assert_eq!(status, 0);
    // The flag is listed.
    let flags = curl_tls(&pki, &server, "/api/v1/status/flags", &["-u", &user]).await;
    assert!(flags.body.contains("\"web.config.file\""), "{flags:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_requires_a_client_certificate_from_the_ca() {
    let pki = Pki::new();
    let web =
        format!("{TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n");
    let (server, _plugins) = serve(&pki, &web, None, |_| {}).await;
    let (cert, key) = (pki.path("client.crt"), pki.path("client.key"));
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let with = curl_tls(&pki, &server, "/-/healthy", &["--cert", cert, "--key", key]).await;
    assert_eq!(with.status, 200, "{with:?}");
    let without = curl_tls(&pki, &server, "/-/healthy", &[]).await;
    assert_eq!(without.status, 0, "{without:?}");
    assert_ne!(without.code, 0, "{without:?}");
    // A certificate the CA did not issue: the server's own key pair made
    // by another CA.
    let other = Pki::new();
    let (cert, key) = (other.path("client.crt"), other.path("client.key"));
    let foreign = curl_tls(
        &pki,
        &server,
        "/-/healthy",
        &[
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(foreign.status, 0, "{foreign:?}");
    drop(server);

    // client_allowed_sans: the client's SAN must be listed.
    for (sans, allowed) in [("[client.example]", true), ("[someone.else]", false)] {
        let web = format!(
            "{TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  client_allowed_sans: {sans}\n"
        );
        let (server, _plugins) = serve(&pki, &web, None, |_| {}).await;
        let (cert, key) = (pki.path("client.crt"), pki.path("client.key"));
        let answer = curl_tls(
            &pki,
            &server,
            "/-/healthy",
            &[
                "--cert",
                cert.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
            ],
        )
        .await;
        assert_eq!(answer.status == 200, allowed, "SANs {sans}: {answer:?}");
    }
}

/// promtool 2.42 has no `--http.config.file` (3.x's promtool has): it
/// trusts the test CA through Go's `SSL_CERT_FILE` and sends the
/// credentials of the server URL's user info, as Go's HTTP client does.
#[tokio::test(flavor = "multi_thread")]
async fn promtool_queries_over_tls_with_basic_auth() {
    let pki = Pki::new();
    let (server, _plugins) = serve(&pki, &with_users(TLS), None, |_| {}).await;
    let promtool = |password: &str| {
        let url = format!(
            "https://{USER}:{password}@127.0.0.1:{}",
            server.address.port()
        );
        let ca = pki.path("ca.crt");
        async move {
            tokio::process::Command::new("promtool")
                .args(["query", "instant"])
                .arg(url)
                .arg("vector(7)")
                .env("SSL_CERT_FILE", ca)
                .output()
                .await
                .expect("running promtool: install the Debian package prometheus")
        }
    };
    let out = promtool(PASSWORD).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("=> 7 @"), "{stdout}");
    let out = promtool("wrong").await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("401"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scrapes_and_federates_over_tls_with_basic_auth() {
    const PROMETHEUS: &str = "/usr/bin/prometheus";
    assert!(
        Path::new(PROMETHEUS).exists(),
        "{PROMETHEUS} not found: install the Debian package prometheus"
    );
    let pki = Pki::new();
    let target = fixture_target().await;
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: fixture\n    static_configs:\n      - targets: ['{target}']\n"
    );
    let (server, _plugins) = serve(&pki, &with_users(TLS), Some(&config), |_| {}).await;
    let ca = pki.path("ca.crt");
    let auth = format!(
        "    scheme: https\n    tls_config:\n      ca_file: {}\n    basic_auth:\n      username: {USER}\n      password: {PASSWORD}\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
        ca.display(),
        server.address.port()
    );
    let peer_config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: wasmetheus\n{auth}  - job_name: federate\n    metrics_path: /federate\n    honor_labels: true\n    params:\n      'match[]': ['{{__name__=\"fixture_requests_total\"}}']\n{auth}"
    );
    let peer_dir = tempfile::tempdir().unwrap();
    let peer_config_path = peer_dir.path().join("prometheus.yml");
    std::fs::write(&peer_config_path, peer_config).unwrap();
    let port = free_port();
    let _prometheus = KillOnDrop(
        std::process::Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", peer_config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                peer_dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting prometheus"),
    );
    let peer: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let query = |q: &'static str| async move {
        let path = format!("/api/v1/query?query={}", wasmetheus_tests::url_encode(q));
        if std::net::TcpStream::connect(peer).is_err() {
            return None;
        }
        let (status, body) = http(peer, "GET", &path, &[]).await;
        (status == 200).then_some(body)
    };
    // Scraped: up is 1 (it would be 0 were TLS or the password refused).
    eventually(
        Duration::from_secs(90),
        "Prometheus scraping /metrics",
        || async {
            let body = query("up{job=\"wasmetheus\"} == 1").await?;
            body.contains("\"job\":\"wasmetheus\"").then_some(())
        },
    )
    .await;
    // Federated: the fixture's series, as wasmetheus scraped them.
    eventually(Duration::from_secs(90), "Prometheus federating", || async {
        let body = query("fixture_requests_total{code=\"200\",job=\"fixture\"}").await?;
        body.contains("\"42\"").then_some(())
    })
    .await;
}

/// The subject of the certificate the server presents to a new
/// connection.
fn presented_subject(pki: &Pki, server: &TestServer) -> String {
    let out = std::process::Command::new("openssl")
        .args(["s_client", "-connect"])
        .arg(server.address.to_string())
        .args(["-CAfile", pki.path("ca.crt").to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .expect("running openssl: install the Debian package openssl");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|line| line.starts_with("subject="))
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn replaced_certificates_are_served_to_new_connections() {
    let pki = Pki::new();
    let (server, _plugins) = serve(&pki, TLS, None, |_| {}).await;
    let before = tokio::task::block_in_place(|| presented_subject(&pki, &server));
    assert!(before.contains("localhost"), "{before}");
    pki.issue(
        "renewed",
        "renewed",
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    );
    // Key first, then certificate, each by rename: a connection between
    // the two finds a mismatched pair and is refused, the next one works.
    for (from, to) in [("renewed.key", "server.key"), ("renewed.crt", "server.crt")] {
        std::fs::copy(pki.path(from), pki.path(&format!("{to}.tmp"))).unwrap();
        std::fs::rename(pki.path(&format!("{to}.tmp")), pki.path(to)).unwrap();
    }
    eventually(LIVENESS, "the renewed certificate", || async {
        let subject = tokio::task::block_in_place(|| presented_subject(&pki, &server));
        subject.contains("renewed").then_some(())
    })
    .await;
    let ok = curl_tls(&pki, &server, "/-/healthy", &[]).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    // A broken certificate file: new connections are refused (and the
    // error logged), the server keeps running; fixed, it serves again.
    std::fs::write(pki.path("server.crt"), "not a certificate").unwrap();
    let refused = curl_tls(&pki, &server, "/-/healthy", &[]).await;
    assert_eq!(refused.status, 0, "{refused:?}");
    std::fs::copy(pki.path("renewed.crt"), pki.path("server.crt")).unwrap();
    let ok = curl_tls(&pki, &server, "/-/healthy", &[]).await;
    assert_eq!(ok.status, 200, "{ok:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_web_config_stops_the_start_with_a_clear_error() {
    let pki = Pki::new();
    for (web, expected) in [
        (
            "basic_auth_users:\n  admin: plaintext-password\n".to_owned(),
            "crypto/bcrypt: hashedSecret too short to be a bcrypted password",
        ),
        (
            "tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n".to_owned(),
            "failed to read cert_file",
        ),
        (
            format!("{TLS}  client_ca_file: ca.crt\n"),
            "client CA's have been configured without a Client Auth Policy",
        ),
        ("tls_server_config:\n  certfile: x\n".to_owned(), "certfile"),
    ] {
        let plugins = PluginsDir::new();
        let data = tempfile::tempdir().unwrap();
        let mut args = test_args(plugins.path(), None, data.path());
        args.web.config_file = Some(pki.web_config(&web));
        let error = match wasmetheus::serve::start(args).await {
            Ok(_) => panic!("started with {web:?}"),
            Err(e) => format!("{e:#}"),
        };
        assert!(error.contains("--web.config.file"), "{error}");
        assert!(error.contains(expected), "{error}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn check_web_config_prints_what_promtool_prints() {
    let pki = Pki::new();
    let files: Vec<(&str, String)> = vec![
        ("good.yml", with_users(TLS)),
        ("empty.yml", String::new()),
        ("hash.yml", "basic_auth_users:\n  a: nothash\n".to_owned()),
        (
            "frame.yml",
            "http_server_config:\n  headers:\n    X-Frame-Options: allow\n".to_owned(),
        ),
        (
            "server.yml",
            "http_server_config:\n  headers:\n    Server: x\n".to_owned(),
        ),
    ];
    for (name, text) in &files {
        std::fs::write(pki.path(name), text).unwrap();
    }
    // The toolkit of Prometheus 3 lowercased these messages (2.42's
    // start with a capital).
    for (name, text, message) in [
        (
            "policy.yml",
            format!("{TLS}  client_ca_file: ca.crt\n"),
            "client CA's have been configured without a Client Auth Policy",
        ),
        (
            "auth.yml",
            format!("{TLS}  client_auth_type: Sometimes\n"),
            "invalid ClientAuth: Sometimes",
        ),
    ] {
        let file = pki.path(name);
        std::fs::write(&file, text).unwrap();
        let mut ours = Vec::new();
        assert!(!wasmetheus_web::check_files(
            std::slice::from_ref(&file),
            &mut ours
        ));
        assert_eq!(
            String::from_utf8_lossy(&ours),
            format!("{} FAILED: {message}\n", file.display())
        );
    }
    for (name, _) in &files {
        let file = pki.path(name);
        let theirs = std::process::Command::new("promtool")
            .args(["check", "web-config"])
            .arg(&file)
            .output()
            .expect("running promtool: install the Debian package prometheus");
        let mut ours = Vec::new();
        let passed = wasmetheus_web::check_files(std::slice::from_ref(&file), &mut ours);
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs.stderr),
            "{name}"
        );
        assert_eq!(passed, theirs.status.success(), "{name}");
    }
}

/// Connects over plain TCP; whether the server closed the connection
/// (EOF or reset) within [`LIVENESS`] after `send` was written.
async fn closed_after(address: std::net::SocketAddr, send: &[u8]) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    // The server may close (or reset) before all of it is written.
    let _ = stream.write_all(send).await;
    let mut buffer = vec![0u8; 4096];
    tokio::time::timeout(LIVENESS, async {
        while let Ok(n) = stream.read(&mut buffer).await
            && n > 0
        {}
    })
    .await
    .is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_tls_clients_are_dropped_and_the_server_carries_on() {
    let pki = Pki::new();
    // One connection slot: a client that holds it keeps everyone out.
    let (server, _plugins) = serve(&pki, &with_users(TLS), None, |args| {
        args.web_read_timeout = Duration::from_secs(1);
        args.web_max_connections = 1;
    })
    .await;
    // Garbage instead of a ClientHello.
    assert!(closed_after(server.address, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await);
    assert!(closed_after(server.address, &[0xff; 64 << 10]).await);
    // A stalled handshake: nothing at all, or a record header announcing
    // a ClientHello that never comes; dropped at the read timeout.
    assert!(closed_after(server.address, b"").await);
    assert!(closed_after(server.address, &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).await);
    // Huge headers: refused, not buffered without end.
    let big = pki.path("big-header.txt");
    std::fs::write(&big, format!("X-Big: {}\r\n", "a".repeat(1 << 20))).unwrap();
    let header = format!("@{}", big.display());
    let user = credentials();
    let huge = curl_tls(&pki, &server, "/-/healthy", &["-u", &user, "-H", &header]).await;
    assert_ne!(huge.status, 200, "{huge:?}");
    // And the only slot is free again for a real client.
    let ok = curl_tls(&pki, &server, "/-/healthy", &["-u", &user]).await;
    assert_eq!(ok.status, 200, "{ok:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn route_prefix_moves_every_route_and_root_redirects_to_it() {
    let pki = Pki::new();
    let (server, _plugins) = serve(&pki, &with_users(""), None, |args| {
        args.web.external_url = Some("https://monitoring.example/prom/".into());
    })
    .await;
    let base = format!("http://{}", server.address);
    let user = credentials();
    let redirect = curl(&["-u", &user, &format!("{base}/")]).await;
    assert_eq!(redirect.status, 302, "{redirect:?}");
    assert!(redirect.head.contains("/prom"), "{redirect:?}");
    let healthy = curl(&["-u", &user, &format!("{base}/prom/-/healthy")]).await;
    assert_eq!(healthy.status, 200, "{healthy:?}");
    let metrics = curl(&["-u", &user, &format!("{base}/prom/metrics")]).await;
    assert_eq!(metrics.status, 200, "{metrics:?}");
    let outside = curl(&["-u", &user, &format!("{base}/-/healthy")]).await;
    assert_eq!(outside.status, 404, "{outside:?}");
    // Behind authentication too.
    let missing = curl(&[&format!("{base}/prom/-/healthy")]).await;
    assert_eq!(missing.status, 401, "{missing:?}");
    drop(server);
    // An explicit --web.route-prefix wins over the URL's path.
    let (server, _plugins) = serve(&pki, "", None, |args| {
        args.web.external_url = Some("https://monitoring.example/prom/".into());
        args.web.route_prefix = Some("inner/".into());
    })
    .await;
    let healthy = curl(&[&format!("http://{}/inner/-/healthy", server.address)]).await;
    assert_eq!(healthy.status, 200, "{healthy:?}");
}

/// A TLS client trusting the test CA and offering `alpn`.
async fn tls_connect(
    pki: &Pki,
    address: std::net::SocketAddr,
    alpn: &[&[u8]],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(pki.path("ca.crt")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn http2_over_tls_unless_turned_off_and_idle_connections_close() {
    let pki = Pki::new();
    let user = credentials();
    let (server, _plugins) = serve(&pki, &with_users(TLS), None, |args| {
        args.web_read_timeout = Duration::from_secs(1);
        args.web_max_connections = 1;
    })
    .await;
    let h2 = curl_tls(&pki, &server, "/-/healthy", &["--http2", "-u", &user]).await;
    assert!(h2.head.starts_with("HTTP/2 200"), "{h2:?}");
    let h2 = curl_tls(&pki, &server, "/-/healthy", &["--http2"]).await;
    assert!(h2.head.starts_with("HTTP/2 401"), "{h2:?}");
    let h1 = curl_tls(&pki, &server, "/-/healthy", &["--http1.1", "-u", &user]).await;
    assert!(h1.head.starts_with("HTTP/1.1 200"), "{h1:?}");
    // A client that chose HTTP/2 and then sends nothing holds the only
    // slot only until the read timeout.
    let mut idle = tls_connect(&pki, server.address, &[b"h2"]).await;
    assert_eq!(idle.get_ref().1.alpn_protocol(), Some(b"h2".as_slice()));
    let closed = tokio::time::timeout(LIVENESS, async {
        let mut buffer = vec![0u8; 4096];
        while let Ok(n) = tokio::io::AsyncReadExt::read(&mut idle, &mut buffer).await
            && n > 0
        {}
    })
    .await;
    assert!(closed.is_ok(), "the idle HTTP/2 connection stayed open");
    let h2 = curl_tls(&pki, &server, "/-/healthy", &["--http2", "-u", &user]).await;
    assert!(h2.head.starts_with("HTTP/2 200"), "{h2:?}");
    drop(server);

    // http2: false offers HTTP/1.1 only.
    let web = with_users(&format!("{TLS}http_server_config:\n  http2: false\n"));
    let (server, _plugins) = serve(&pki, &web, None, |_| {}).await;
    let h1 = curl_tls(&pki, &server, "/-/healthy", &["--http2", "-u", &user]).await;
    assert!(h1.head.starts_with("HTTP/1.1 200"), "{h1:?}");
}
