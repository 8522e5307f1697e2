//! Label set fingerprints exactly as prometheus/common's
//! `model.LabelSet.Fingerprint()` (`model/signature.go`): FNV-1a 64 over
//! the label names in sorted order, each name and value followed by the
//! separator byte 255. The empty set hashes to FNV's offset basis.

use std::collections::BTreeMap;
use std::fmt;

const OFFSET64: u64 = 14_695_981_039_346_656_037;
const PRIME64: u64 = 1_099_511_628_211;
const SEPARATOR_BYTE: u8 = 255;

/// An alert's identity: the hash of its label set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(pub u64);

impl fmt::Display for Fingerprint {
    /// 16 lower-case hexadecimal digits, as `model.Fingerprint.String()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        u64::from_str_radix(s, 16).map(Fingerprint)
    }
}

fn add(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(PRIME64);
    }
    h
}

fn add_byte(h: u64, b: u8) -> u64 {
    (h ^ u64::from(b)).wrapping_mul(PRIME64)
}

/// The fingerprint of a label set (a `BTreeMap` is already sorted by
/// name, as Go sorts `LabelNames`).
pub fn fingerprint(labels: &BTreeMap<String, String>) -> Fingerprint {
    let mut h = OFFSET64;
    for (name, value) in labels {
        h = add(h, name.as_bytes());
        h = add_byte(h, SEPARATOR_BYTE);
        h = add(h, value.as_bytes());
        h = add_byte(h, SEPARATOR_BYTE);
    }
    Fingerprint(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// prometheus/common `model/signature_test.go`, `TestLabelSetToFingerprint`.
    #[test]
    fn upstream_vectors() {
        let cases: [(&[(&str, &str)], u64); 2] = [
            (&[], 14695981039346656037),
            (
                &[("name", "garland, briggs"), ("fear", "love is not enough")],
                5799056148416392346,
            ),
        ];
        for (labels, want) in cases {
            let set: BTreeMap<String, String> = labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(fingerprint(&set), Fingerprint(want), "{labels:?}");
        }
    }

    #[test]
    fn printed_as_sixteen_hex_digits() {
        assert_eq!(Fingerprint(0xab).to_string(), "00000000000000ab");
        assert_eq!(
            "00000000000000ab".parse::<Fingerprint>(),
            Ok(Fingerprint(0xab))
        );
    }
}
