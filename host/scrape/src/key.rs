//! The scrape cache's keys: a series' text reduced to its 128-bit XXH3
//! hash under a seed drawn at random once per process.
//!
//! Two texts share a cache entry only if their hashes collide. By
//! accident the chance that any two of n series collide is at most
//! n²/2¹²⁹ — below 10⁻²⁰ for a billion series, far below the odds of a
//! memory error corrupting a text. XXH3 is not a keyed pseudo-random
//! function, so a target could in principle search for two texts of its
//! own exposition that collide under some seed; it would gain nothing it
//! does not have: the cache is per target, and every entry it could
//! confuse holds a series that same target exposed, whose samples it
//! writes anyway. The random seed keeps a collision from being the same
//! on every server and at every restart.
//!
//! The hash is computed for every sample of every scrape: on a 66-byte
//! series text XXH3-128 takes 113 instructions, SipHash-1-3-128 (the
//! `siphasher` crate) 302.

use std::hash::{BuildHasher as _, RandomState};
use std::sync::LazyLock;

/// A series' text as the cache knows it (see the module's doc for why
/// that is as good as the text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key([u64; 2]);

/// The process' seed, from the operating system's random source (std's
/// `RandomState` is seeded from it).
static SEED: LazyLock<u64> = LazyLock::new(|| RandomState::new().hash_one(0u8));

impl Key {
    pub(crate) fn of(text: &str) -> Key {
        let h = xxhash_rust::xxh3::xxh3_128_with_seed(text.as_bytes(), *SEED);
        Key([h as u64, (h >> 64) as u64])
    }

    /// The hash table's hash: already uniform.
    pub(crate) fn hash(self) -> u64 {
        self.0[0]
    }

    /// A key no text has in practice, for "none yet".
    pub(crate) const NONE: Key = Key([0; 2]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys are the texts' hashes: many similar texts, no two alike, and
    /// the same text the same key.
    #[test]
    fn keys_of_distinct_texts_differ() {
        let mut keys = std::collections::HashSet::new();
        for i in 0..100_000 {
            let text = format!(
                r#"bench_requests_total{{handler="/h{}",code="{}"}}"#,
                i / 100,
                i % 100
            );
            assert!(keys.insert(Key::of(&text).0), "{text}");
            assert_eq!(Key::of(&text), Key::of(&text.clone()));
        }
        assert!(keys.insert(Key::of("").0));
        assert!(!keys.contains(&Key::NONE.0));
    }
}
