//! The scrape cache's keys: a series' text reduced to its 128-bit
//! SipHash-1-3 under a key drawn at random once per process.
//!
//! Two texts share a cache entry only if their hashes collide. An
//! attacker who writes the expositions cannot aim at that without the key
//! (SipHash is a keyed pseudo-random function), and by accident the chance
//! that any two of n series collide is at most n²/2¹²⁹ — below 10⁻²⁰ for a
//! billion series, far below the odds of a memory error corrupting a text.
//!
//! The hash is computed for every sample of every scrape, so it is written
//! out here for one-shot byte strings (whole words loaded directly, the
//! tail in one piece): about half the instructions of the `siphasher`
//! crate's streaming hasher, whose output it equals (a test checks).

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
        Key(sip13_128(k0, k1, text.as_bytes()))
    }

    /// The hash table's hash: already uniform.
    pub(crate) fn hash(self) -> u64 {
        self.0[0]
    }

    /// A key no text has in practice, for "none yet".
    pub(crate) const NONE: Key = Key([0; 2]);
}

/// SipHash-1-3 with a 128-bit output (the reference implementation's
/// `cROUNDS = 1`, `dROUNDS = 3`, `outlen = 16`).
fn sip13_128(k0: u64, k1: u64, bytes: &[u8]) -> [u64; 2] {
    let mut v = [
        0x736f_6d65_7073_6575 ^ k0,
        0x646f_7261_6e64_6f6d ^ k1 ^ 0xee,
        0x6c79_6765_6e65_7261 ^ k0,
        0x7465_6462_7974_6573 ^ k1,
    ];
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let m = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        v[3] ^= m;
        round(&mut v);
        v[0] ^= m;
    }
    let tail = words.remainder();
    let mut last = [0u8; 8];
    last[..tail.len()].copy_from_slice(tail);
    let m = u64::from_le_bytes(last) | ((bytes.len() as u64) << 56);
    v[3] ^= m;
    round(&mut v);
    v[0] ^= m;
    v[2] ^= 0xee;
    for _ in 0..3 {
        round(&mut v);
    }
    let h1 = v[0] ^ v[1] ^ v[2] ^ v[3];
    v[1] ^= 0xdd;
    for _ in 0..3 {
        round(&mut v);
    }
    [h1, v[0] ^ v[1] ^ v[2] ^ v[3]]
}

#[inline(always)]
fn round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

#[cfg(test)]
mod tests {
    use super::*;
    use siphasher::sip128::SipHasher13;

    /// The hash is SipHash-1-3-128 exactly: as the `siphasher` crate
    /// computes it, for every tail length and some keys.
    #[test]
    fn equals_the_siphasher_crate() {
        let bytes: Vec<u8> = (0..=255u8).map(|b| b.wrapping_mul(167) ^ 0x5a).collect();
        for (k0, k1) in [
            (0, 0),
            (1, 2),
            (SECRET.0, SECRET.1),
            (u64::MAX, 0x0123_4567_89ab_cdef),
        ] {
            let reference = SipHasher13::new_with_keys(k0, k1);
            for len in 0..bytes.len() {
                let (h1, h2) = reference.hash(&bytes[..len]).as_u64();
                assert_eq!(sip13_128(k0, k1, &bytes[..len]), [h1, h2], "length {len}");
            }
        }
    }

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
