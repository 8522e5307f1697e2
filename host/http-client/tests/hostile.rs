//! Hostile and broken inputs: missing, unreadable, huge and malformed CA,
//! certificate, key, password and header files, and invalid header names
//! and values. Each is a clear error naming the setting or file, none a
//! panic, and no file is read past its limit.

use std::path::Path;

use wasmetheus_http_client::{
    Auth, Client, Error, HeaderSource, Pem, SecretSource, Settings, TlsSettings, TlsVersion,
};

fn path(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

fn tls_error(tls: TlsSettings) -> String {
    let settings = Settings {
        tls,
        ..Settings::default()
    };
    match Client::new(settings) {
        Err(e @ Error::Tls(_)) => e.to_string(),
        Err(other) => panic!("not a TLS error: {other:?}"),
        Ok(_) => panic!("the client was built"),
    }
}

#[test]
fn unusable_ca_files_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.pem");
    // One byte past the certificate file limit (16 MiB), sparse.
    std::fs::File::create(&huge)
        .unwrap()
        .set_len((16 << 20) + 1)
        .unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let broken = dir.path().join("broken.pem");
    std::fs::write(
        &broken,
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let cases = [
        (
            "/nonexistent/ca.pem".to_owned(),
            "unable to load specified CA cert /nonexistent/ca.pem: No such file or directory",
        ),
        (
            // A directory cannot be read as a file.
            path(dir.path()),
            "unable to load specified CA cert ",
        ),
        (
            path(&huge),
            "larger than 16777216 bytes; the file must hold the value alone",
        ),
        (path(&garbage), "no PEM certificate in it"),
        (path(&broken), "unable to use specified CA cert "),
    ];
    for (file, expected) in cases {
        let error = tls_error(TlsSettings {
            ca: Some(Pem::File(file.clone())),
            ..TlsSettings::default()
        });
        assert!(error.contains(expected), "{file}: {error}");
        assert!(error.contains(&file), "{file}: {error}");
    }
}

#[test]
fn client_certificates_need_both_files_and_readable_ones() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let only_cert = tls_error(TlsSettings {
        cert: Some(Pem::File(path(&empty))),
        ..TlsSettings::default()
    });
    assert!(only_cert.contains("must both be given"), "{only_cert}");
    let missing = tls_error(TlsSettings {
        cert: Some(Pem::File("/nonexistent/cert.pem".into())),
        key: Some(Pem::File("/nonexistent/key.pem".into())),
        ..TlsSettings::default()
    });
    assert!(
        missing.starts_with(
            "unable to read specified client cert (/nonexistent/cert.pem) & key (/nonexistent/key.pem): "
        ),
        "{missing}"
    );
    let no_cert = tls_error(TlsSettings {
        cert: Some(Pem::File(path(&empty))),
        key: Some(Pem::Inline("-----BEGIN PRIVATE KEY-----\n".into())),
        ..TlsSettings::default()
    });
    assert!(no_cert.contains("no PEM certificate in it"), "{no_cert}");
    // An inline key is never shown.
    assert!(no_cert.contains("key ((inline))"), "{no_cert}");
}

#[test]
fn versions_rustls_does_not_speak_are_refused() {
    let error = tls_error(TlsSettings {
        max_version: Some(TlsVersion::Tls11),
        ..TlsSettings::default()
    });
    assert!(
        error.contains("min_version TLS12 and max_version TLS11")
            && error.contains("raise max_version"),
        "{error}"
    );
    // TLS 1.3 only, and the default, build.
    for min in [Some(TlsVersion::Tls13), Some(TlsVersion::Tls10), None] {
        let settings = Settings {
            tls: TlsSettings {
                min_version: min,
                ..TlsSettings::default()
            },
            ..Settings::default()
        };
        assert!(Client::new(settings).is_ok(), "{min:?}");
    }
}

fn header_settings(headers: Vec<(&str, HeaderSource)>) -> Settings {
    Settings {
        headers: headers
            .into_iter()
            .map(|(n, s)| (n.to_owned(), s))
            .collect(),
        ..Settings::default()
    }
}

#[test]
fn invalid_header_names_and_values_are_refused_before_any_request() {
    for (name, value, expected) in [
        (
            "X Bad",
            HeaderSource::Value("v".into()),
            "header \"X Bad\": not a valid header name",
        ),
        (
            "",
            HeaderSource::Value("v".into()),
            "header \"\": not a valid header name",
        ),
        (
            "X-Line",
            HeaderSource::Value("a\r\nInjected: yes".into()),
            "header \"x-line\": the value holds a character a header cannot carry",
        ),
        (
            "X-Secret",
            HeaderSource::Secret(SecretSource::Text("hunter2\n".into())),
            "header \"x-secret\": the value holds",
        ),
    ] {
        let settings = header_settings(vec![(name, value)]);
        let error = Client::new(settings).unwrap_err().to_string();
        assert!(error.starts_with(expected), "{name:?}: {error}");
        assert!(!error.contains("hunter2"), "{error}");
    }
}

#[tokio::test]
async fn a_huge_header_file_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("header");
    std::fs::write(&huge, vec![b'h'; 10 << 20]).unwrap();
    let settings = header_settings(vec![(
        "X-Token",
        HeaderSource::Secret(SecretSource::File(path(&huge))),
    )]);
    // Files are read per request, not when the client is built.
    assert!(Client::new(settings.clone()).is_ok());
    let error = settings.request_headers().await.unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "unable to read http_headers files {}: larger than 1048576 bytes; the file must hold the value alone",
            huge.display()
        )
    );
}

#[tokio::test]
async fn a_header_file_with_a_line_break_inside_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("header");
    std::fs::write(&file, "a\nb\n").unwrap();
    let settings = header_settings(vec![(
        "X-Token",
        HeaderSource::Secret(SecretSource::File(path(&file))),
    )]);
    let error = settings.request_headers().await.unwrap_err().to_string();
    assert!(
        error.starts_with("header \"x-token\": the value holds"),
        "{error}"
    );
}

#[tokio::test]
async fn missing_and_huge_password_files_name_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("password");
    std::fs::write(&huge, vec![b'p'; (1 << 20) + 1]).unwrap();
    for (file, expected) in [
        (
            "/nonexistent/password".to_owned(),
            "unable to read basic_auth.password_file /nonexistent/password: No such file or directory"
                .to_owned(),
        ),
        (
            path(&huge),
            format!(
                "unable to read basic_auth.password_file {}: larger than 1048576 bytes",
                huge.display()
            ),
        ),
    ] {
        let settings = Settings {
            auth: Some(Auth::Basic {
                username: SecretSource::Text("u".into()),
                password: SecretSource::File(file.clone()),
            }),
            ..Settings::default()
        };
        let error = settings.request_headers().await.unwrap_err().to_string();
        assert!(error.starts_with(&expected), "{file}: {error}");
    }
    let settings = Settings {
        auth: Some(Auth::Token {
            kind: "Bearer".into(),
            credentials: SecretSource::File("/nonexistent/token".into()),
        }),
        ..Settings::default()
    };
    let error = settings.request_headers().await.unwrap_err().to_string();
    assert!(
        error.starts_with("unable to read authorization.credentials_file /nonexistent/token: "),
        "{error}"
    );
}

#[tokio::test]
async fn a_password_file_is_read_again_for_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("password");
    let settings = Settings {
        auth: Some(Auth::Basic {
            username: SecretSource::Text("alice".into()),
            password: SecretSource::File(path(&file)),
        }),
        ..Settings::default()
    };
    let mut seen = Vec::new();
    for password in ["first\n", "  second  "] {
        std::fs::write(&file, password).unwrap();
        let headers = settings.request_headers().await.unwrap();
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[0].0, hyper::header::AUTHORIZATION);
        assert!(headers[0].1.is_sensitive());
        seen.push(headers[0].1.to_str().unwrap().to_owned());
    }
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    assert_eq!(
        seen,
        [
            format!("Basic {}", b64("alice:first")),
            format!("Basic {}", b64("alice:second")),
        ]
    );
}
