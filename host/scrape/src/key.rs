//! The scrape cache's keys: a series' text reduced to its 128-bit
//! SipHash-1-3 under a key drawn at random once per process.
//!
//! Two texts share a cache entry only if their hashes collide. An
//! attacker who writes the expositions cannot aim at that without the key
//! (SipHash is a keyed pseudo-random function), and by accident the chance
//! that any two of n series collide is at most n²/2¹²⁹ — below 10⁻²⁰ for a
//! billion series, far below the odds of a memory error corrupting a text.
//!
//! The hash is computed for every sample of every scrape, through the
//! `siphasher` crate's one-shot `hash` (302 instructions for a 66-byte
//! text). A faster hash that is not a keyed pseudo-random function
//! (XXH3-128 with a seed: 113) was not taken: a target that is itself an
//! aggregator (federation, a Pushgateway) carries series of many sources,
//! and one of them must not be able to make another's samples land in
//! its series.

use siphasher::sip128::SipHasher13;
use std::hash::{BuildHasher as _, RandomState};
use std::sync::LazyLock;

/// A series' text as the cache knows it (see the module's doc for why
/// that is as good as the text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key([u64; 2]);

/// The process' SipHash key, from the operating system's random source
/// (std's `RandomState` is seeded from it; its hashes of two constants
/// are 128 unpredictable bits).
static SECRET: LazyLock<(u64, u64)> = LazyLock::new(|| {
    let random = RandomState::new();
    (random.hash_one(0u8), random.hash_one(1u8))
});

impl Key {
    pub(crate) fn of(text: &str) -> Key {
        let (k0, k1) = *SECRET;
        let (h1, h2) = SipHasher13::new_with_keys(k0, k1)
            .hash(text.as_bytes())
            .as_u64();
        Key([h1, h2])
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
