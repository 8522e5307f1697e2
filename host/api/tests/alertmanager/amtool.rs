//! Debian's amtool 0.25 against `router_v2` on the fake backend, served
//! on a local port: its queries read our answers and its silence
//! commands are understood (what it prints is what an operator sees).

use super::fake::Fake;
use expect_test::expect;
use std::net::SocketAddr;
use std::sync::Arc;

const AMTOOL: &str = "/usr/bin/amtool";

/// Serves the fake; returns its address and the backend.
async fn serve() -> (SocketAddr, Arc<Fake>) {
    let backend = Arc::new(Fake::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("its address");
    let app = wasmetheus_api::router_v2(backend.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (address, backend)
}

/// Runs amtool on the fake; its exit status, stdout and stderr.
async fn amtool(address: SocketAddr, args: &[&str]) -> String {
    assert!(
        std::path::Path::new(AMTOOL).exists(),
        "{AMTOOL} is needed (apt-get install prometheus-alertmanager)"
    );
    let output = tokio::process::Command::new(AMTOOL)
        .arg(format!("--alertmanager.url=http://{address}"))
        .args(args)
        .env("TZ", "UTC")
        .env("HOME", std::env::temp_dir())
        .output()
        .await
        .expect("running amtool");
    format!(
        "{}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amtool_reads_alerts_and_silences() {
    let (address, _) = serve().await;
    let mut got = String::new();
    for args in [
        &["alert", "query"][..],
        &["alert", "query", "-o", "extended", "alertname=Up"],
        &["alert", "query", "--active", "--silenced"],
        &["alert", "query", "--receiver=pager"],
        &["silence", "query"],
        &["silence", "query", "--expired"],
        &["silence", "query", "-q", "job=node"],
        &["cluster", "show"],
        &["config", "show"],
    ] {
        got.push_str(&format!("$ amtool {}\n", args.join(" ")));
        got.push_str(&amtool(address, args).await);
    }
    expect![[r#"
        $ amtool alert query
        exit status: 0
        Alertname  Starts At                Summary   State        
        New        2025-12-31 23:00:00 UTC  <b>&</b>  unprocessed  
        Disk       2025-12-31 23:00:00 UTC  <b>&</b>  active       
        Warning: amtool version (0.25.0) and alertmanager version (0.1.0) are different.
        $ amtool alert query -o extended alertname=Up
        exit status: 0
        Labels  Annotations  Starts At  Ends At  Generator URL  State  
        Warning: amtool version (0.25.0) and alertmanager version (0.1.0) are different.
        $ amtool alert query --active --silenced
        exit status: 0
        Alertname  Starts At                Summary   State        
        Up         2025-12-31 23:00:00 UTC  <b>&</b>  suppressed   
        New        2025-12-31 23:00:00 UTC  <b>&</b>  unprocessed  
        Disk       2025-12-31 23:00:00 UTC  <b>&</b>  active       
        Warning: amtool version (0.25.0) and alertmanager version (0.1.0) are different.
        $ amtool alert query --receiver=pager
        exit status: 0
        Alertname  Starts At                Summary   State   
        Disk       2025-12-31 23:00:00 UTC  <b>&</b>  active  
        Warning: amtool version (0.25.0) and alertmanager version (0.1.0) are different.
        $ amtool silence query
        exit status: 0
        ID  Matchers  Ends At  Created By  Comment  
        Warning: amtool version (0.25.0) and alertmanager version (0.1.0) are different.
        $ amtool silence query --expired
        exit status: 0
        ID                                    Matchers              Ends At                  Created By  Comment      
        33333333-3333-4333-8333-333333333333  job="node"            2025-12-02 00:00:00 UTC  ops         maintenance  
        11111111-1111-4111-8111-111111111111  job="node"            2026-01-02 00:00:00 UTC  ops         maintenance  
        22222222-2222-4222-8222-222222222222  alertname!~"Disk|Up"  2026-03-01 00:00:00 UTC  ops         maintenance  
        Warning: amtool version (0.25.0) and alertmanager version (0.1.0) are different.
        $ amtool silence query -q job=node
        exit status: 0
        Warning: amtool version (0.25.0) and alertmanager version (0.1.0) are different.
        $ amtool cluster show
        exit status: 0
        Cluster Status:  disabled
        Node Name:       
        Warning: amtool version (0.25.0) and alertmanager version (0.1.0) are different.
        $ amtool config show
        exit status: 0
        global:
          smtp_auth_password: <secret>
        route:
          receiver: team

        Warning: amtool version (0.25.0) and alertmanager version (0.1.0) are different.
    "#]].assert_eq(&got);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amtool_adds_and_expires_silences() {
    let (address, backend) = serve().await;
    let added = amtool(
        address,
        &[
            "silence",
            "add",
            "alertname=Disk",
            "job=~\"no.*\"",
            "--comment=disk work",
            "--author=ops",
            "--duration=2h",
        ],
    )
    .await;
    let id = added.lines().nth(1).unwrap_or_default().to_owned();
    expect![[r#"
        exit status: 0
        44444444-4444-4444-8444-000000000003
        Warning: amtool version (0.25.0) and alertmanager version (0.1.0) are different.
    "#]]
    .assert_eq(&added);
    {
        let set = backend.set.lock().expect("lock");
        let silence = set.last().expect("a silence set");
        assert_eq!(
            silence.ends_at.duration_since(silence.starts_at),
            jiff::SignedDuration::from_hours(2)
        );
        expect![[r#"[Matcher { is_equal: true, is_regex: false, name: "alertname", value: "Disk" }, Matcher { is_equal: true, is_regex: true, name: "job", value: "no.*" }] "ops" "disk work""#]].assert_eq(&format!(
            "{:?} {:?} {:?}",
            silence.matchers, silence.created_by, silence.comment
        ));
    }
    let expired = amtool(address, &["silence", "expire", &id]).await;
    expect![[r#"
        exit status: 0
        Warning: amtool version (0.25.0) and alertmanager version (0.1.0) are different.
    "#]]
    .assert_eq(&expired);
    // 0.34 answers an unknown id with 404, which amtool 0.25's client
    // does not know (0.25 answered 500).
    let unknown = amtool(
        address,
        &["silence", "expire", "00000000-0000-0000-0000-000000000000"],
    )
    .await;
    expect![[r#"
        exit status: 1
        Warning: amtool version (0.25.0) and alertmanager version (0.1.0) are different.
        amtool: error: response status code does not match any response statuses defined for this endpoint in the swagger spec (status 404): {}

    "#]].assert_eq(&unknown);
}
