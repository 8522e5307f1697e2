//! A process that dies right after a notification log entry and a
//! silence were written (no flush, no drop): both are there after the
//! restart, so the notification is not sent again.

mod common;

use common::{MockClock, labels, m, min};
use jiff::SignedDuration;
use wasmetheus_alertmanager::{NflogReceiver, Silence, State, StateOptions};

const CHILD_ENV: &str = "WASMETHEUS_ALERTMANAGER_CRASH_DIR";

fn recv() -> NflogReceiver {
    NflogReceiver {
        group_name: "team".into(),
        integration: "webhook".into(),
        idx: 0,
    }
}

/// The child's part: does nothing unless started by `survives_abort`.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let clock = MockClock::start();
    let st = State::open(
        std::path::Path::new(&dir),
        StateOptions {
            clock: clock.clock(),
            ..Default::default()
        },
    )
    .unwrap();
    st.nflog
        .log(&recv(), "{}:{}", vec![42], vec![], SignedDuration::ZERO)
        .unwrap();
    st.silences
        .set(Silence {
            id: String::new(),
            matchers: vec![m("job", "=", "api")],
            starts_at: None,
            ends_at: Some(clock.now() + min(60)),
            updated_at: None,
            created_by: "ops".into(),
            comment: String::new(),
            annotations: Default::default(),
        })
        .unwrap();
    std::process::abort();
}

#[test]
fn survives_abort() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--test-threads=1"])
        .env(CHILD_ENV, &path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child was to abort");
    let clock = MockClock::start();
    let st = State::open(
        &path,
        StateOptions {
            clock: clock.clock(),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        st.nflog.query(&recv(), "{}:{}").unwrap().firing_alerts,
        vec![42]
    );
    assert_eq!(st.silences.mutes(&labels(&[("job", "api")])).len(), 1);
}
