//! The hostile receiver guests, each contained: deadlines cut hung calls,
//! memory and copy limits end unbounded allocations and huge error texts,
//! ungranted origins and addresses stay out of reach; the failed instance
//! is replaced on the next call and other senders never notice.

use super::{Capture, Receivers, assert_failed, notification, open, spec};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use wasmetheus_config::Grants;
use wasmetheus_plugin_runtime::{SenderSpec, receiver_grants};
use wasmetheus_tests::guests;

fn short(name: &str, timeout: Duration) -> SenderSpec {
    SenderSpec {
        timeout,
        ..spec(name, serde_json::json!({}), Grants::default())
    }
}

#[tokio::test(flavor = "multi_thread")]
pub(crate) async fn receiver_hang() {
    let receivers = Receivers::new();
    let plugin = receivers.load(guests::RECEIVER_HANG, "receiver-hang").await;
    const DEADLINE: Duration = Duration::from_secs(2);
    let hung = open(&plugin, short("hung", DEADLINE)).await;
    let other = open(&plugin, short("other", Duration::from_secs(5))).await;
    for how in ["spin", "sleep"] {
        let started = Instant::now();
        let (cut, others) = tokio::join!(
            async {
                let answer = hung.notify(notification(how, 1)).await;
                (answer, Instant::now())
            },
            async {
                // Another sender of the same plugin is served meanwhile.
                for _ in 0..3 {
                    other.notify(notification("ok", 1)).await.unwrap();
                }
                Instant::now()
            }
        );
        let (answer, at) = cut;
        let e = assert_failed(answer, true, "exceeded its deadline");
        assert!(
            others < at,
            "{how}: the other sender waited for the hung one"
        );
        let took = at - started;
        assert!(
            took >= DEADLINE - Duration::from_millis(50) && took < DEADLINE * 3,
            "{how}: cut after {took:?}: {e:?}"
        );
        // The hung instance was discarded; the next call gets a fresh one.
        hung.notify(notification("ok", 1)).await.unwrap();
    }
    // A hang in open() is cut too, and reported to whoever opens it.
    let started = Instant::now();
    let e = plugin
        .open(SenderSpec {
            config_json: r#"{"hang_in_open": true}"#.into(),
            ..short("open", Duration::from_secs(1))
        })
        .await
        .err()
        .unwrap();
    assert!(e.message.contains("open() did not return"), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(4));
    other.notify(notification("ok", 1)).await.unwrap();
    hung.stop().await;
    other.stop().await;
    let e = other.notify(notification("ok", 1)).await.unwrap_err();
    assert!(e.message.contains("was stopped"), "{e:?}");
}

#[tokio::test(flavor = "multi_thread")]
pub(crate) async fn receiver_trap() {
    let receivers = Receivers::new();
    let plugin = receivers.load(guests::RECEIVER_TRAP, "receiver-trap").await;
    let a = open(&plugin, short("a", Duration::from_secs(5))).await;
    let b = open(&plugin, short("b", Duration::from_secs(5))).await;
    for sender in [&a, &b] {
        sender.notify(notification("ok", 1)).await.unwrap();
        sender.notify(notification("ok", 1)).await.unwrap();
    }
    // State is kept between notifications.
    assert_failed(
        a.notify(notification("count", 0)).await,
        false,
        "delivered 2",
    );
    // A trap is not retryable: the same notification would trap again.
    assert_failed(
        a.notify(notification("trap", 1)).await,
        false,
        "unreachable",
    );
    // A fresh instance serves the next notification.
    assert_failed(
        a.notify(notification("count", 0)).await,
        false,
        "delivered 0",
    );
    a.notify(notification("ok", 1)).await.unwrap();
    // The other sender kept its instance and its state.
    assert_failed(
        b.notify(notification("count", 0)).await,
        false,
        "delivered 2",
    );
}

#[tokio::test(flavor = "multi_thread")]
pub(crate) async fn receiver_garbage() {
    let receivers = Receivers::new();
    let plugin = receivers
        .load(guests::RECEIVER_GARBAGE, "receiver-garbage")
        .await;
    let small = open(
        &plugin,
        SenderSpec {
            memory_limit: Some(32 << 20),
            ..short("small", Duration::from_secs(10))
        },
    )
    .await;
    let big = open(
        &plugin,
        SenderSpec {
            memory_limit: Some(128 << 20),
            ..short("big", Duration::from_secs(10))
        },
    )
    .await;
    // Allocating without bound ends at the memory limit.
    assert_failed(
        small.notify(notification("allocate", 1)).await,
        false,
        "memory limit",
    );
    small.notify(notification("ok", 1)).await.unwrap();
    // A 48 MiB error text: past a 32 MiB memory, ...
    assert_failed(
        small.notify(notification("huge-error", 1)).await,
        false,
        "memory limit",
    );
    // ... and within 128 MiB (copy budget 256 MiB), cut to a few KiB.
    let e = assert_failed(
        big.notify(notification("huge-error", 1)).await,
        true,
        "xxxx",
    );
    assert!(e.message.len() < 4200, "{}", e.message.len());
    assert!(e.message.ends_with("more bytes)"), "{}", &e.message[4000..]);
    let e = assert_failed(big.notify(notification("long-error", 1)).await, true, "é");
    assert!(e.message.len() < 4200, "{}", e.message.len());
    // A notification over the receiver's input limit is refused up front.
    let mut huge = notification("ok", 1);
    huge.common_annotations
        .insert("description".into(), "d".repeat(80 << 20));
    assert_failed(
        small.notify(huge).await,
        false,
        "more than the receiver's limit",
    );
    small.notify(notification("ok", 1)).await.unwrap();
    big.notify(notification("ok", 1)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
pub(crate) async fn receiver_escape() {
    let granted = Capture::start("/in").await;
    let forbidden = Capture::start("/out").await;
    let receivers = Receivers::new();
    let plugin = receivers
        .load(guests::RECEIVER_ESCAPE, "receiver-escape")
        .await;
    let config = serde_json::json!({"url": granted.url});
    let grants = receiver_grants(&Grants::default(), [granted.url.as_str()]).unwrap();
    let sender = open(&plugin, spec("escape", config.clone(), grants)).await;
    // The configured URL is reached.
    sender.notify(notification("ok", 1)).await.unwrap();
    assert_eq!(granted.requests().len(), 1);
    // Another origin is refused, whatever the guest tries.
    let mut elsewhere = notification("ok", 1);
    elsewhere.external_url = forbidden.url.clone();
    assert_failed(sender.notify(elsewhere).await, false, "denied");
    assert_eq!(forbidden.connections.load(Ordering::SeqCst), 0);
    // An HTTP origin grant is no TCP grant.
    let e = assert_failed(
        sender.notify(notification("tcp", 1)).await,
        false,
        "refused",
    );
    assert!(!e.message.contains("succeeded"), "{e:?}");
    assert_eq!(
        granted.connections.load(Ordering::SeqCst),
        2,
        "the tcp attempt got through"
    );
    // Without grants, not even the configured URL.
    let bare = open(&plugin, spec("bare", config, Grants::default())).await;
    assert_failed(bare.notify(notification("ok", 1)).await, false, "denied");
    assert_eq!(granted.requests().len(), 2);
    // The host keeps serving the granted sender.
    sender.notify(notification("ok", 1)).await.unwrap();
    assert_eq!(granted.requests().len(), 3);
}

/// A receiver plugin in the exporters' directory is reported as what it
/// is, and the exporters beside it keep running.
#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_is_not_loaded_as_an_exporter() {
    use wasmetheus_plugin_runtime::{PluginRuntime, RuntimeOptions};
    let dir = wasmetheus_tests::PluginsDir::new();
    dir.install(guests::PLUGIN_WEBHOOK_RECEIVER, "webhook");
    dir.install(guests::TRIVIAL, "trivial");
    let runtime = PluginRuntime::new(RuntimeOptions::new(dir.path())).unwrap();
    {
        let runtime = runtime.clone();
        tokio::task::spawn_blocking(move || runtime.load_all())
            .await
            .unwrap();
    }
    let status = runtime.status();
    let webhook = status.iter().find(|p| p.plugin == "webhook").unwrap();
    let error = webhook.last_error.as_deref().unwrap_or_default();
    assert!(
        error.contains("webhook.wasm is a receiver plugin"),
        "{error}"
    );
    runtime.collect("trivial").await.unwrap();
    // `check plugins` checks a receiver's metadata.
    let files = vec![
        dir.path().join("webhook.wasm"),
        dir.path().join("trivial.wasm"),
    ];
    let args = wasmetheus::check_plugins::CheckPluginsArgs {
        files,
        collects: 3,
        cache_dir: None,
        config: None,
    };
    let failed = tokio::task::spawn_blocking(move || wasmetheus::check_plugins::run(&args))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed, 0);
    // And an exporter is no receiver.
    let receivers = Receivers::new();
    let path = dir.path().join("trivial.wasm");
    let runtime = receivers.runtime.clone();
    let e = tokio::task::spawn_blocking(move || runtime.load(&path))
        .await
        .unwrap()
        .err()
        .unwrap();
    assert!(
        e.to_string().contains("is not a valid receiver component"),
        "{e}"
    );
}

/// Senders take instance slots from the runtime's pool: one past the limit
/// fails to open (retryable, naming the limit) and opens once a slot is
/// free again.
#[tokio::test(flavor = "multi_thread")]
async fn senders_share_the_instance_limit() {
    let receivers = Receivers::with_options(|o| o.max_instances = 2);
    let plugin = receivers.load(guests::RECEIVER_TRAP, "receiver-trap").await;
    let a = open(&plugin, short("a", Duration::from_secs(5))).await;
    let b = open(&plugin, short("b", Duration::from_secs(5))).await;
    let e = plugin
        .open(short("c", Duration::from_secs(5)))
        .await
        .err()
        .unwrap();
    assert!(e.retryable, "{e:?}");
    assert!(e.message.contains("instance"), "{e:?}");
    a.notify(notification("ok", 1)).await.unwrap();
    b.stop().await;
    let c = open(&plugin, short("c", Duration::from_secs(5))).await;
    c.notify(notification("ok", 1)).await.unwrap();
    a.notify(notification("ok", 1)).await.unwrap();
}
