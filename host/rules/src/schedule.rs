//! When a group evaluates (Prometheus' `Group.EvalTimestamp`): every
//! interval at a stable offset within it, the XXH64 label hash of the
//! group's file and name, so groups spread over the interval and a group
//! keeps its slot across restarts.

use std::path::Path;
use std::time::Duration;

/// Prometheus' `labels.Labels{file, name}.Hash()`.
pub fn group_hash(file: &Path, name: &str) -> u64 {
    let file = file.to_string_lossy();
    let mut bytes = Vec::with_capacity(file.len() + name.len() + 12);
    for (k, v) in [("file", file.as_ref()), ("name", name)] {
        bytes.extend_from_slice(k.as_bytes());
        bytes.push(0xff);
        bytes.extend_from_slice(v.as_bytes());
        bytes.push(0xff);
    }
    xxhash_rust::xxh64::xxh64(&bytes, 0)
}

/// The group's latest evaluation slot at or before `now_ns` (ns since
/// the epoch).
pub fn eval_timestamp(hash: u64, interval: Duration, now_ns: i64) -> i64 {
    let interval_ns = i64::try_from(interval.as_nanos())
        .unwrap_or(i64::MAX)
        .max(1);
    let offset = i64::try_from(hash % interval_ns as u64).unwrap_or(0);
    let adjusted = now_ns - offset;
    let base = adjusted - adjusted.rem_euclid(interval_ns);
    base + offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_is_stable_within_the_interval() {
        let hash = group_hash(Path::new("rules.yml"), "g");
        let interval = Duration::from_secs(60);
        let a = eval_timestamp(hash, interval, 1_000_000_000_000);
        let b = eval_timestamp(hash, interval, 1_000_000_000_000 + 59_000_000_000);
        assert!(a <= 1_000_000_000_000);
        assert!(b - a == 0 || b - a == 60_000_000_000);
        // Same offset within every interval.
        assert_eq!(a.rem_euclid(60_000_000_000), b.rem_euclid(60_000_000_000));
        assert_ne!(
            group_hash(Path::new("rules.yml"), "g"),
            group_hash(Path::new("rules.yml"), "h")
        );
    }

    #[test]
    fn the_hash_is_prometheus_label_hash() {
        // XXH64 of "file\xffa\xffname\xffb\xff" with seed 0, as
        // cespare/xxhash computes it.
        let mut bytes = b"file\xffa\xffname\xffb\xff".to_vec();
        assert_eq!(
            group_hash(Path::new("a"), "b"),
            xxhash_rust::xxh64::xxh64(&bytes, 0)
        );
        bytes.clear();
        assert_eq!(xxhash_rust::xxh64::xxh64(&bytes, 0), 0xef46_db37_51d8_e999);
    }
}
