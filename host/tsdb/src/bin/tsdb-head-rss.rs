//! Measures the head's memory per series: appends N series, K samples
//! each, to an in-memory head and prints the process RSS and the live
//! heap bytes (counted by a wrapping allocator) before and after, and
//! what the labels and index alone take (the figures after the first
//! sample, before the rest). Usage: `tsdb-head-rss [N] [K] [PROFILE]`;
//! run by `cargo xtask bench storage`.
//!
//! Profiles: `node` (the default) gives 8 realistic Kubernetes labels and
//! 15 s scrapes on a perfect grid; `ingest` mirrors `cargo xtask bench
//! ingest`: targets of 5,000 series (`__name__`, `code`, `handler`, `pod`
//! and the target's `instance` and `job`), counters rising by 1–20 and
//! decimal gauges, scraped every second with a few ms of jitter, appended
//! as scrapes arrive (a commit per target). With `TSDB_HEAD_RSS_WAL=DIR`
//! the head logs to a write-ahead log in DIR, as the server's does; with
//! `TSDB_HEAD_RSS_CHUNKS=DIR` its full chunks go to segment files in DIR
//! (emptied first), as the server's do (`chunks_head/`), else they stay
//! in memory.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use wasmetheus_model::Label;
use wasmetheus_model::storage::Appender;
use wasmetheus_tsdb::{Head, HeadLimits};

/// The system allocator, counting the bytes live on the heap.
struct Counting;

static HEAP: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` with the same arguments.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HEAP.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HEAP.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller upholds `dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        HEAP.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        HEAP.fetch_add(new_size, Ordering::Relaxed);
        HEAP.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Series per commit, so a batch's pending samples stay small next to the
/// head and do not inflate the figure.
const BATCH: usize = 10_000;
/// Distinct metric names, as on a typical Kubernetes node.
const NAMES: usize = 200;

/// VmRSS of this process in bytes, from /proc/self/status.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kib * 1024
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A stateless 64-bit mixer (splitmix64's finaliser).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[derive(Clone, Copy, PartialEq)]
enum Profile {
    Node,
    Ingest,
}

/// The labels of series `i`, sorted by name.
fn labels(profile: Profile, names: &[String], i: usize) -> Vec<Label> {
    match profile {
        // Each pod exposes every metric name once, so (name, pod) is
        // unique; the other labels follow the pod, as target labels do,
        // which gives them moderate cardinality.
        Profile::Node => {
            let pod = i / NAMES;
            // Scatter pods over the other labels so their values are not runs.
            let h = (pod as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
            vec![
                Label::new("__name__", names[i % NAMES].as_str()),
                Label::new("container", format!("container-{}", h % 40)),
                Label::new(
                    "instance",
                    format!("10.0.{}.{}:9100", pod % 1000 / 250, pod % 250),
                ),
                Label::new("job", format!("job-{}", h % 20)),
                Label::new("namespace", format!("namespace-{}", h % 25)),
                Label::new("node", format!("node-{}", pod % 300)),
                Label::new("pod", format!("pod-{}", 10_000 + pod)),
                Label::new("region", format!("region-{}", h % 4)),
            ]
        }
        // As `cargo xtask bench ingest` serves them: families of 100.
        Profile::Ingest => {
            let (target, s) = (i / 5000, i % 5000);
            let (family, j) = (s / 100, s % 100);
            let name = if family % 5 != 4 {
                format!("bench_requests_{family}_total")
            } else {
                format!("bench_inflight_{family}")
            };
            vec![
                Label::new("__name__", name),
                Label::new("code", format!("{}", 200 + j / 10)),
                Label::new("handler", format!("/api/v1/h{}", j % 10)),
                Label::new("instance", format!("127.0.0.1:{}", 40_000 + target)),
                Label::new("job", "bench"),
                Label::new("pod", "web-0"),
            ]
        }
    }
}

/// Sample `j` of series `i`.
fn sample(profile: Profile, i: usize, j: usize) -> (i64, f64) {
    const T0: i64 = 1_700_000_000_000;
    match profile {
        Profile::Node => (T0 + j as i64 * 15_000, (i + j) as f64),
        Profile::Ingest => {
            let (target, s, n) = (i / 5000, i % 5000, j as u64);
            // A scrape's time, shared by the target's series: a few ms late.
            let jitter = (mix((target as u64) << 32 ^ n) % 8) as i64;
            let t = T0 + j as i64 * 1000 + jitter;
            let id = mix(((target as u64) << 32) ^ s as u64);
            let noise = mix(id ^ n);
            let v = if (s / 100) % 5 != 4 {
                let rate = 1 + id % 20;
                (id % 1_000_000 + n * rate + noise % rate) as f64
            } else {
                (id % 1000) as f64 + (noise % 10) as f64 / 10.0
            };
            (t, v)
        }
    }
}

fn arg(n: usize, default: usize) -> usize {
    std::env::args().nth(n).map_or(default, |a| {
        a.replace('_', "").parse().unwrap_or_else(|_| {
            panic!("usage: tsdb-head-rss [SERIES] [SAMPLES_PER_SERIES] [node|ingest]; got {a:?}")
        })
    })
}

/// Appends samples `from..to` of every series. `node`: series by series,
/// a batch of series per commit. `ingest`: as scrapes arrive, one commit
/// per target and sample, through the refs the first append returned
/// (as the scrape cache does).
fn append(
    head: &Head,
    profile: Profile,
    names: &[String],
    refs: &mut [u64],
    from: usize,
    to: usize,
) {
    let n = refs.len();
    if profile == Profile::Ingest {
        for j in from..to {
            for target in (0..n).step_by(5000) {
                let mut app = head.appender();
                let end = (target + 5000).min(n);
                for (i, r) in refs[target..end].iter_mut().enumerate() {
                    let i = target + i;
                    let (t, v) = sample(profile, i, j);
                    *r = if *r == 0 {
                        app.append_ref(0, &labels(profile, names, i), t, v)
                    } else {
                        app.append_ref(*r, &[], t, v)
                    }
                    .expect("append");
                }
                app.commit().expect("commit");
            }
        }
        return;
    }
    let mut done = 0;
    while done < n {
        let end = (done + BATCH).min(n);
        let mut app = head.appender();
        for i in done..end {
            let labels = labels(profile, names, i);
            for j in from..to {
                let (t, v) = sample(profile, i, j);
                app.append(&labels, t, v).expect("append");
            }
        }
        app.commit().expect("commit");
        done = end;
    }
}

fn main() {
    let n = arg(1, 1_000_000);
    let k = arg(2, 2);
    let profile = match std::env::args().nth(3).as_deref() {
        None | Some("node") => Profile::Node,
        Some("ingest") => Profile::Ingest,
        Some(other) => panic!("profile {other:?}: want node or ingest"),
    };
    let names: Vec<String> = (0..NAMES)
        .map(|i| format!("metric_family_{i}_total"))
        .collect();
    // With a log (as the server's head has) in the directory
    // `TSDB_HEAD_RSS_WAL` names, which must not exist yet.
    let chunks = std::env::var_os("TSDB_HEAD_RSS_CHUNKS").map(std::path::PathBuf::from);
    let head = match (std::env::var_os("TSDB_HEAD_RSS_WAL"), &chunks) {
        (Some(dir), chunks) => Head::open_with_chunks(
            std::path::Path::new(&dir),
            chunks.as_deref(),
            HeadLimits::default(),
            false,
            i64::MIN,
        )
        .expect("opening the head's log"),
        (None, Some(chunks)) => Head::with_chunk_dir(HeadLimits::default(), chunks),
        (None, None) => Head::new(HeadLimits::default()),
    };
    let mut refs = vec![0u64; n];
    let (rss0, heap0) = (rss(), HEAP.load(Ordering::Relaxed));
    let started = Instant::now();
    append(&head, profile, &names, &mut refs, 0, k.min(1));
    let (rss1, heap1) = (rss(), HEAP.load(Ordering::Relaxed));
    append(&head, profile, &names, &mut refs, k.min(1), k);
    let elapsed = started.elapsed();
    let (rss2, heap2) = (rss(), HEAP.load(Ordering::Relaxed));
    assert_eq!(head.num_series(), n, "every series was created");
    let samples = (n * k) as f64;
    let per = |a: u64, b: u64| b.saturating_sub(a) as f64 / n.max(1) as f64;
    println!(
        "series {n}, rss before {:.1} MiB, after {:.1} MiB, bytes per series {:.0}",
        mib(rss0),
        mib(rss2),
        per(rss0, rss2),
    );
    println!(
        "heap bytes per series {:.0}: {:.0} with one sample (series, labels, index), \
         {:.0} for samples 2..{k}; rss with one sample {:.0}",
        per(heap0 as u64, heap2 as u64),
        per(heap0 as u64, heap1 as u64),
        per(heap1 as u64, heap2 as u64),
        per(rss0, rss1),
    );
    println!(
        "samples {}, appended in {:.2} s: {:.0} samples/s, {:.0} series/s",
        n * k,
        elapsed.as_secs_f64(),
        samples / elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
    );
    let gauge = |name: &str| {
        head.metrics()
            .into_iter()
            .find(|f| f.name == name)
            .and_then(|f| match f.metrics.first()?.value {
                wasmetheus_model::MetricValue::Number(v) => Some(v),
                _ => None,
            })
            .unwrap_or(0.0)
    };
    println!(
        "full chunks: {:.0} bytes per series in files, {:.0} in memory (partial chunks, \
         the files' write buffer)",
        gauge("prometheus_tsdb_head_chunks_storage_size_bytes") / n.max(1) as f64,
        gauge("wasmetheus_tsdb_head_chunks_memory_bytes") / n.max(1) as f64,
    );
    // Keep the head alive until after the measurement.
    drop(head);
}
