//! The Slack and email receiver plugins driven by the service: what the
//! host hands them (secrets read from `*_file` settings, `http_config`
//! credentials in the clear, the user's template files) and what they may
//! reach (the API URL's origin, the smarthost) is enough to deliver.

mod common;

use std::time::Duration;

use common::{Api, Capture, Setup, Smtp, plugins};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread")]
async fn slack_gets_its_url_file_credentials_and_templates() {
    let setup = Setup::new();
    setup.install(&plugins().slack, "slack");
    let mut capture = Capture::start().await;
    let url_file = setup.dir.path().join("slack_url");
    std::fs::write(
        &url_file,
        format!("{}\n", capture.url("/services/T0/B0/tok")),
    )
    .unwrap();
    std::fs::create_dir_all(setup.dir.path().join("tmpl")).unwrap();
    std::fs::write(
        setup.dir.path().join("tmpl/a.tmpl"),
        r#"{{ define "mytitle" }}Custom {{ .CommonLabels.alertname }}{{ end }}"#,
    )
    .unwrap();
    setup.write_config(&format!(
        r#"templates: ['tmpl/*.tmpl']
route:
  receiver: chat
  group_by: [alertname]
  group_wait: 1s
receivers:
- name: chat
  slack_configs:
  - api_url_file: '{}'
    channel: '#ops'
    title: '{{{{ template "mytitle" . }}}}'
    http_config:
      authorization:
        credentials: bt-secret
"#,
        url_file.display()
    ));
    let service = setup.start().await.unwrap();
    let api = Api::serve(&service).await;
    api.post_alerts(json!([{"labels": {"alertname": "Down", "instance": "a"}}]))
        .await;
    let got = capture.next(WAIT).await.expect("a Slack message");
    assert_eq!(got.path, "/services/T0/B0/tok");
    assert_eq!(got.authorization, "Bearer bt-secret");
    assert_eq!(got.body["channel"], "#ops", "{}", got.body);
    assert_eq!(
        got.body["attachments"][0]["title"], "Custom Down",
        "{}",
        got.body
    );
    let (_, status) = api.call("GET", "/api/v2/status", "").await;
    assert!(!status.contains("bt-secret"), "{status}");
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn email_reaches_its_smarthost() {
    let setup = Setup::new();
    setup.install(&plugins().email, "email");
    let mut smtp = Smtp::start().await;
    setup.write_config(&format!(
        r#"global:
  smtp_smarthost: '{}'
  smtp_from: 'am@example.org'
  smtp_require_tls: false
route:
  receiver: mail
  group_by: [alertname]
  group_wait: 1s
receivers:
- name: mail
  email_configs:
  - to: 'ops@example.org'
    headers:
      Subject: 'Alert {{{{ .CommonLabels.alertname }}}}'
"#,
        smtp.addr
    ));
    let service = setup.start().await.unwrap();
    let api = Api::serve(&service).await;
    api.post_alerts(json!([{"labels": {"alertname": "Down", "instance": "a"}}]))
        .await;
    let mail = smtp.next(WAIT).await.expect("a mail");
    assert!(mail.from.starts_with("<am@example.org>"), "{}", mail.from);
    assert_eq!(mail.to, ["<ops@example.org>"]);
    assert!(mail.data.contains("Subject: Alert Down"), "{}", mail.data);
    service.shutdown().await;
}
