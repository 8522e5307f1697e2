//! Crafted on-disk content with valid checksums, and files changed under a
//! running database: WAL records whose fields promise huge sizes, sled
//! index entries of the wrong shape or pointing nowhere, part files that
//! lie about their block or shrink while mapped. Each must end in an error
//! for what it touches (or be skipped), never in a panic, an abort on a
//! huge allocation, or SIGBUS.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wasmetheus_model::Label;
use wasmetheus_model::storage::{Appender, MatchType, Matcher, Queryable};
use wasmetheus_tsdb::store::{Store, StoreError};
use wasmetheus_tsdb::{Db, DbOptions, Head, HeadLimits};

const RANGE: i64 = 10_000;

fn name(n: &str) -> Vec<Label> {
    vec![Label::new("__name__", n)]
}

fn eq(n: &str) -> Matcher {
    Matcher::new(MatchType::Equal, "__name__", n).unwrap()
}

/// `len | crc32 | payload`, the log's framing.
fn frame(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

fn series_record(r: u32, labels: &[(&str, &str)]) -> Vec<u8> {
    let mut p = vec![1u8];
    p.extend_from_slice(&r.to_le_bytes());
    p.extend_from_slice(&(labels.len() as u32).to_le_bytes());
    for (n, v) in labels {
        for s in [n, v] {
            p.extend_from_slice(&(s.len() as u32).to_le_bytes());
            p.extend_from_slice(s.as_bytes());
        }
    }
    p
}

fn samples_record(samples: &[(u32, i64, f64)]) -> Vec<u8> {
    let mut p = vec![2u8];
    p.extend_from_slice(&(samples.len() as u32).to_le_bytes());
    for (r, t, v) in samples {
        p.extend_from_slice(&r.to_le_bytes());
        p.extend_from_slice(&t.to_le_bytes());
        p.extend_from_slice(&v.to_bits().to_le_bytes());
    }
    p
}

#[test]
fn crafted_wal_records_cost_their_series_not_the_process() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = Vec::new();
    frame(&series_record(0, &[("__name__", "ok")]), &mut log);
    // A ref near 2^32: its slot table would take 32 GiB.
    frame(
        &series_record(u32::MAX - 1, &[("__name__", "huge")]),
        &mut log,
    );
    frame(
        &samples_record(&[(0, 1_000, 1.0), (u32::MAX - 1, 1_000, 2.0)]),
        &mut log,
    );
    // A billion labels announced, none there.
    let mut billion = vec![1u8];
    billion.extend_from_slice(&7u32.to_le_bytes());
    billion.extend_from_slice(&1_000_000_000u32.to_le_bytes());
    frame(&billion, &mut log);
    frame(&samples_record(&[(0, 2_000, 3.0)]), &mut log);
    std::fs::write(tmp.path().join("00000000"), &log).unwrap();
    {
        let head = Head::open(tmp.path(), HeadLimits::default(), false).unwrap();
        // Replay stopped at the undecodable record; what came before it
        // is there, the series of the far ref too (in a slot of its own).
        assert_eq!(head.num_series(), 2);
        assert_eq!(head.samples(0, i64::MIN, i64::MAX), vec![(1_000, 1.0)]);
        assert_eq!(head_values(&head, "huge"), vec![(1_000, 2.0)]);
        head.close();
    }
    // A sample count as a varint that never ends (11 continuation bytes).
    let mut log = Vec::new();
    frame(&series_record(0, &[("__name__", "ok")]), &mut log);
    let mut endless = vec![4u8];
    endless.extend_from_slice(&[0xff; 11]);
    frame(&endless, &mut log);
    let dir = tmp.path().join("second");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("00000000"), &log).unwrap();
    let head = Head::open(&dir, HeadLimits::default(), false).unwrap();
    assert_eq!(head.num_series(), 1);
    head.close();
    // A length of 60 MiB in a file of a few bytes: a torn tail, cut off.
    let mut log = Vec::new();
    frame(&series_record(0, &[("__name__", "ok")]), &mut log);
    let good = log.len() as u64;
    log.extend_from_slice(&(60u32 << 20).to_le_bytes());
    log.extend_from_slice(&[0; 14]);
    let dir = tmp.path().join("third");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("00000000"), &log).unwrap();
    let head = Head::open(&dir, HeadLimits::default(), false).unwrap();
    assert_eq!(head.num_series(), 1);
    head.close();
    assert_eq!(std::fs::metadata(dir.join("00000000")).unwrap().len(), good);
}

/// The samples of the head's series named `n`.
fn head_values(head: &Head, n: &str) -> Vec<(i64, f64)> {
    let found: Vec<_> = head
        .all_series()
        .into_iter()
        .filter(|(_, labels)| *labels == name(n))
        .collect();
    assert_eq!(found.len(), 1, "series {n}: {found:?}");
    head.samples(found[0].0, i64::MIN, i64::MAX)
}

/// `(VmRSS, VmHWM)` of this process in bytes.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |key: &str| -> u64 {
        let line = status
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("{key} in /proc/self/status"));
        let kib: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap();
        kib * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Refs a crafted log may name: near 2^32 (the format's refs are 32-bit,
/// so this is as far as "near u64::MAX" goes), 2^31, and 2^26 - 1, which a
/// slot table indexed by ref made cost 2 GiB (slots, labels and hashes).
const FAR_REFS: [u32; 3] = [u32::MAX - 1, 1 << 31, (1 << 26) - 1];

/// Replays `dir` into a head, asserting that the process grew by less
/// than 64 MiB meanwhile.
fn open_bounded(dir: &Path) -> Head {
    const BOUND: u64 = 64 << 20;
    let (rss, hwm) = memory();
    let head = Head::open(dir, HeadLimits::default(), false).unwrap();
    let (rss_after, hwm_after) = memory();
    assert!(
        rss_after.saturating_sub(rss) < BOUND && hwm_after.saturating_sub(hwm) < BOUND,
        "replay grew the process from {rss} to {rss_after} bytes (peak {hwm} to {hwm_after})"
    );
    head
}

/// Bytes of the log's files (segments and checkpoints).
fn log_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != "lock")
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

fn far_series(log: &mut Vec<u8>) {
    frame(&series_record(0, &[("__name__", "near")]), log);
    for (i, r) in FAR_REFS.iter().enumerate() {
        frame(&series_record(*r, &[("__name__", &format!("far{i}"))]), log);
    }
}

fn far_samples(t: i64, log: &mut Vec<u8>) {
    let mut samples = vec![(0, t, -1.0)];
    samples.extend(FAR_REFS.iter().enumerate().map(|(i, r)| (*r, t, i as f64)));
    frame(&samples_record(&samples), log);
}

fn assert_far_series(head: &Head, times: &[i64]) {
    assert_eq!(head.num_series(), 1 + FAR_REFS.len());
    let at = |v: f64| times.iter().map(|t| (*t, v)).collect::<Vec<_>>();
    assert_eq!(head_values(head, "near"), at(-1.0));
    for i in 0..FAR_REFS.len() {
        assert_eq!(
            head_values(head, &format!("far{i}")),
            at(i as f64),
            "far{i}"
        );
    }
}

#[test]
fn far_wal_refs_replay_in_memory_of_their_series() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = Vec::new();
    far_series(&mut log);
    far_samples(1_000, &mut log);
    // A tombstone under a far ref reaches its series too.
    let mut tombstone = vec![3u8];
    tombstone.extend_from_slice(&FAR_REFS[1].to_le_bytes());
    tombstone.extend_from_slice(&1_500i64.to_le_bytes());
    tombstone.extend_from_slice(&1_500i64.to_le_bytes());
    far_samples(1_500, &mut log);
    frame(&tombstone, &mut log);
    far_samples(2_000, &mut log);
    std::fs::write(tmp.path().join("00000000"), &log).unwrap();
    {
        let head = open_bounded(tmp.path());
        // The three far series were bound to head refs 1 to 3: logged
        // again under those.
        assert!(log_bytes(tmp.path()) > log.len() as u64);
        assert_eq!(head.num_series(), 1 + FAR_REFS.len());
        assert_eq!(head_values(&head, "far1"), vec![(1_000, 1.0), (2_000, 1.0)]);
        assert_eq!(
            head_values(&head, "far0"),
            vec![(1_000, 0.0), (1_500, 0.0), (2_000, 0.0)]
        );
        // Appends after the replay log under the head's own refs, and a
        // new series takes a ref the crafted log may also name.
        let mut app = head.appender();
        for n in ["near", "far0", "far1", "far2", "new"] {
            app.append(&name(n), 3_000, 9.0).unwrap();
        }
        app.commit().unwrap();
        drop(app);
        head.close();
    }
    // Replayed again, every sample lands in its own series; the bindings
    // logged by the first replay hold, so nothing is logged again.
    let before = log_bytes(tmp.path());
    let head = open_bounded(tmp.path());
    assert_eq!(log_bytes(tmp.path()), before);
    assert_eq!(head.num_series(), 2 + FAR_REFS.len());
    assert_eq!(
        head_values(&head, "far1"),
        vec![(1_000, 1.0), (2_000, 1.0), (3_000, 9.0)]
    );
    assert_eq!(head_values(&head, "new"), vec![(3_000, 9.0)]);
    assert_eq!(
        head_values(&head, "near"),
        vec![(1_000, -1.0), (1_500, -1.0), (2_000, -1.0), (3_000, 9.0)]
    );
    // A checkpoint folds it all (keeping samples from 1.5 s on) and the
    // replay of checkpoint and later segment still agrees.
    head.truncate(1_500).unwrap();
    let mut app = head.appender();
    app.append(&name("far2"), 4_000, 4.0).unwrap();
    app.commit().unwrap();
    drop(app);
    head.close();
    drop(head);
    assert!(std::fs::read_dir(tmp.path()).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("checkpoint.")
    }));
    let head = open_bounded(tmp.path());
    assert_eq!(head_values(&head, "far1"), vec![(2_000, 1.0), (3_000, 9.0)]);
    assert_eq!(
        head_values(&head, "far2"),
        vec![(1_500, 2.0), (2_000, 2.0), (3_000, 9.0), (4_000, 4.0)]
    );
    assert_eq!(head_values(&head, "new"), vec![(3_000, 9.0)]);
    head.close();
}

#[test]
fn a_checkpoint_naming_far_refs_replays_in_memory_of_its_series() {
    let tmp = tempfile::tempdir().unwrap();
    let mut checkpoint = Vec::new();
    far_series(&mut checkpoint);
    far_samples(1_000, &mut checkpoint);
    std::fs::write(tmp.path().join("checkpoint.00000003"), &checkpoint).unwrap();
    let mut segment = Vec::new();
    far_samples(2_000, &mut segment);
    std::fs::write(tmp.path().join("00000004"), &segment).unwrap();
    // A segment the checkpoint covers: not replayed.
    let mut old = Vec::new();
    far_samples(500, &mut old);
    std::fs::write(tmp.path().join("00000002"), &old).unwrap();
    let head = open_bounded(tmp.path());
    assert_far_series(&head, &[1_000, 2_000]);
    head.close();
    drop(head);
    let head = open_bounded(tmp.path());
    assert_far_series(&head, &[1_000, 2_000]);
    head.close();
}

#[test]
fn samples_logged_in_decreasing_time_replay_into_order() {
    // Each sample older than all before it: replay takes every one as out
    // of order (they were accepted once). 100,000 of them, which cost an
    // insertion into a tree each rather than a shift of those already in.
    const N: i64 = 100_000;
    let tmp = tempfile::tempdir().unwrap();
    let mut log = Vec::new();
    frame(&series_record(0, &[("__name__", "back")]), &mut log);
    let samples: Vec<(u32, i64, f64)> = (0..N).rev().map(|t| (0, t, t as f64)).collect();
    frame(&samples_record(&samples), &mut log);
    // A repeated timestamp with another value: the first one stays.
    frame(&samples_record(&[(0, 5, -1.0)]), &mut log);
    std::fs::write(tmp.path().join("00000000"), &log).unwrap();
    let head = open_bounded(tmp.path());
    let got = head_values(&head, "back");
    assert_eq!(got.len(), N as usize);
    assert!(
        got.iter()
            .enumerate()
            .all(|(i, s)| *s == (i as i64, i as f64))
    );
    // Truncation keeps the out-of-order samples from its time on.
    head.truncate(N - 10).unwrap();
    assert_eq!(
        head_values(&head, "back"),
        (N - 10..N).map(|t| (t, t as f64)).collect::<Vec<_>>()
    );
    head.close();
}

/// A store at `dir` with series `a`, `b` and `c` (one sample each, block 0),
/// closed; returns once sled has let go of the directory.
fn small_store(dir: &Path) {
    {
        let store = Store::open(dir, RANGE).unwrap();
        for (i, n) in ["a", "b", "c"].iter().enumerate() {
            store.write(&name(n), &[(i as i64, i as f64)]).unwrap();
        }
        store.flush().unwrap();
    }
}

/// How long a test waits for sled to let go of its directory lock, which
/// it does only when its flusher thread ends, a moment after the last
/// handle is dropped (longer on a loaded machine).
const LOCK_RELEASE: Duration = Duration::from_secs(30);

/// Opens sled at `dir` once the store's flusher released it.
fn sled_at(dir: &Path) -> sled::Db {
    let deadline = Instant::now() + LOCK_RELEASE;
    loop {
        match sled::Config::new().path(dir).use_compression(true).open() {
            Ok(db) => return db,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// Whether `err` is sled refusing the directory because a handle dropped
/// a moment ago still holds its lock.
fn is_lock_busy(err: &StoreError) -> bool {
    matches!(err, StoreError::Sled { source: sled::Error::Io(e), .. }
        if e.to_string().starts_with("could not acquire lock"))
}

/// `Store::open` once sled let go of the lock of an edit made just before
/// (which `Store::open`'s own short wait may not see on a loaded machine):
/// any other outcome, success or error, is returned as it is.
fn open_store(dir: &Path, range: i64) -> Result<Store, StoreError> {
    let deadline = Instant::now() + LOCK_RELEASE;
    loop {
        match Store::open(dir, range) {
            Err(e) if is_lock_busy(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            result => return result,
        }
    }
}

fn edit_sled(dir: &Path, edit: impl FnOnce(&sled::Db)) {
    let db = sled_at(dir);
    edit(&db);
    db.flush().unwrap();
    // Sled lets go of its lock a moment after the handle is dropped: the
    // store is opened through `open_store`, which waits for that.
    drop(db);
}

fn values(store: &Store, n: &str) -> Vec<(i64, f64)> {
    let sids = store.select(&[eq(n)]).unwrap();
    assert_eq!(sids.len(), 1, "{n}");
    let sid = sids.into_iter().next().unwrap();
    store.samples(sid, i64::MIN, i64::MAX).unwrap()
}

#[test]
fn a_symbol_id_beyond_the_table_is_corruption_not_an_allocation() {
    let tmp = tempfile::tempdir().unwrap();
    small_store(tmp.path());
    edit_sled(tmp.path(), |db| {
        let symbols = db.open_tree("symbols").unwrap();
        symbols
            .insert(0xffff_fff0u32.to_be_bytes(), b"far".as_slice())
            .unwrap();
    });
    let err = open_store(tmp.path(), RANGE).err().expect("refused");
    assert!(err.to_string().contains("symbol id"), "{err}");
}

#[test]
fn malformed_series_and_postings_entries_are_errors_for_what_uses_them() {
    let tmp = tempfile::tempdir().unwrap();
    small_store(tmp.path());
    edit_sled(tmp.path(), |db| {
        let series = db.open_tree("series").unwrap();
        // A key that is not a sid, and labels naming symbols that do not
        // exist (ids 1000 and 1001 as varints).
        series.insert([1u8, 2, 3], &[0u8, 0][..]).unwrap();
        series
            .insert(u64::MAX.to_be_bytes(), &[0xe8u8, 0x07, 0xe9, 0x07][..])
            .unwrap();
        // A postings key too short to hold a value id, under `__name__`'s
        // id (the first symbol written).
        let postings = db.open_tree("postings").unwrap();
        postings.insert([0u8, 0, 0, 0, 9], &[1u8][..]).unwrap();
    });
    let store = open_store(tmp.path(), RANGE).unwrap();
    // The good series are untouched.
    assert_eq!(values(&store, "b"), vec![(1, 1.0)]);
    // A lookup that scans the name's postings meets the short key.
    let scan = Matcher::new(MatchType::Regex, "__name__", "a.*").unwrap();
    let err = store.select(&[scan]).unwrap_err();
    assert!(err.to_string().contains("postings key"), "{err}");
}

fn parts(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("chunks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "part"))
        .collect();
    v.sort();
    v
}

fn part_name(block: i64, seq: u64) -> String {
    format!("{:016x}-{seq:08}.part", (block as u64) ^ (1 << 63))
}

#[test]
fn a_part_claiming_another_block_is_set_aside() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let store = Store::open(tmp.path(), RANGE).unwrap();
        store.write(&name("early"), &[(1_000, 1.0)]).unwrap();
        store.write(&name("late"), &[(5_000, 2.0)]).unwrap();
        store.flush().unwrap();
    }
    // The first part (samples at 1 s) renamed as if it began at 4 s: its
    // chunk lies before its block. Merging it with the real part of that
    // block would write a chunk outside the block.
    let found = parts(tmp.path());
    let renamed = tmp.path().join("chunks").join(part_name(4_000, 99));
    std::fs::rename(&found[0], &renamed).unwrap();
    std::fs::rename(
        &found[1],
        tmp.path().join("chunks").join(part_name(4_000, 100)),
    )
    .unwrap();
    let store = Store::open(tmp.path(), 9_000).unwrap();
    assert!(renamed.with_extension("corrupt").exists());
    store.merge_parts().unwrap();
    assert_eq!(values(&store, "late"), vec![(5_000, 2.0)]);
}

#[test]
fn a_part_truncated_under_an_open_database_is_a_query_error() {
    let tmp = tempfile::tempdir().unwrap();
    let options = DbOptions {
        block_range_ms: RANGE,
        retention_time_ms: None,
        ..DbOptions::default()
    };
    {
        let store = Store::open(&tmp.path().join("db"), RANGE).unwrap();
        // Pages of chunks: the index at the end of the part lies well past
        // the truncated length (reading a mapped page wholly past the end
        // of the file is what faults).
        let mut rng = 1u64;
        let mut series = vec![(
            name("m"),
            (0..2_000)
                .map(|i| (i * 5, i as f64 * 0.37))
                .collect::<Vec<_>>(),
        )];
        for k in 0..50 {
            let samples = (0..2_000)
                .map(|i| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    (i * 5, f64::from_bits(rng >> 2))
                })
                .collect();
            series.push((name(&format!("pad{k}")), samples));
        }
        store.write_series(series, |_| {}).unwrap();
        store.write(&name("n"), &[(15_000, 1.5)]).unwrap();
        store.flush().unwrap();
    }
    let db = Db::open(tmp.path(), options).unwrap();
    let all = db.select(&[eq("m")], i64::MIN, i64::MAX).unwrap();
    assert_eq!(all[0].samples.len(), 2_000);

    // Lazily read selections made before the truncation: one series, and
    // every series (whose chunks share the check of each part).
    let mut lazy = db.select_series(&[eq("m")], &hints()).unwrap();
    let any = Matcher::new(MatchType::Regex, "__name__", ".+").unwrap();
    let mut everything = db.select_series(&[any], &hints()).unwrap();
    assert_eq!(everything.len(), 52);
    let victim = parts(&tmp.path().join("db"))[0].clone();
    assert!(std::fs::metadata(&victim).unwrap().len() > 100 * 4096);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&victim)
        .unwrap();
    file.set_len(64).unwrap();
    drop(file);

    let err = db.select(&[eq("m")], i64::MIN, i64::MAX).unwrap_err();
    assert!(err.to_string().contains("shrank"), "{err}");
    // Iterating what was selected before: the chunk reads as corrupt (an
    // error in the log), the process lives on.
    let mut n = 0;
    while lazy[0].samples.next().is_some() {
        n += 1;
    }
    assert_eq!(n, 0);
    // Every chunk of the truncated part reads as corrupt; the chunk of the
    // other part is read whole.
    let mut read = Vec::new();
    for series in &mut everything {
        let mut n = 0;
        while series.samples.next().is_some() {
            n += 1;
        }
        read.push((series.labels[0].value.clone(), n));
    }
    read.retain(|(_, n)| *n > 0);
    assert_eq!(read, vec![("n".to_string(), 1)]);
    // The other block still answers.
    let other = db.select(&[eq("n")], 10_000, 20_000).unwrap();
    assert_eq!(other[0].samples, vec![(15_000, 1.5)]);
}

fn hints() -> wasmetheus_model::storage::SelectHints {
    wasmetheus_model::storage::SelectHints::range(i64::MIN, i64::MAX)
}
